//! Pure Kerberos message parsing: DER bytes of one KDC message → owned message structs.
//!
//! Decoding of the ASN.1 is done by the `kerberos-parser` crate; this module keeps only what a
//! sensor logs (names, realms, etypes, options, times, error codes and MD5 digests of the
//! cipher blobs). Nothing here allocates according to a length read from the wire.

use crate::util::hex::md5_hex;
use der_parser::asn1_rs::{BitString, FromDer, GeneralizedTime};
use kerberos_parser::krb5::{ApReq, EncryptedData, KdcRep, KdcReq, KrbError, PrincipalName};
use kerberos_parser::krb5_parser::{parse_as_rep, parse_as_req, parse_tgs_rep, parse_tgs_req};

/// AS-REQ message type.
pub const AS_REQ: u32 = 10;
/// AS-REP message type.
pub const AS_REP: u32 = 11;
/// TGS-REQ message type.
pub const TGS_REQ: u32 = 12;
/// TGS-REP message type.
pub const TGS_REP: u32 = 13;
/// KRB-ERROR message type.
pub const KRB_ERROR: u32 = 30;

/// The first byte of a KDC message of type `msg_type`: its [APPLICATION n] constructed tag.
const fn app_tag(msg_type: u32) -> u8 {
    0x60 | (msg_type & 0x1f) as u8
}
/// First byte of an AS-REQ.
pub const TAG_AS_REQ: u8 = app_tag(AS_REQ);
/// First byte of an AS-REP.
pub const TAG_AS_REP: u8 = app_tag(AS_REP);
/// First byte of a TGS-REQ.
pub const TAG_TGS_REQ: u8 = app_tag(TGS_REQ);
/// First byte of a TGS-REP.
pub const TAG_TGS_REP: u8 = app_tag(TGS_REP);
/// First byte of a KRB-ERROR.
pub const TAG_KRB_ERROR: u8 = app_tag(KRB_ERROR);

/// PA-TGS-REQ: the padata carrying the AP-REQ of a TGS-REQ.
const PA_TGS_REQ: i32 = 1;
/// PA-ENC-TIMESTAMP: the pre-authentication cipher of an AS-REQ.
const PA_ENC_TIMESTAMP: i32 = 2;

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// The first byte is not the application tag of a KDC message.
    #[error("not a KDC message (first byte {0:#04x})")]
    UnknownTag(u8),
    /// The message is empty.
    #[error("empty message")]
    Empty,
    /// The DER structure is invalid or truncated.
    #[error("malformed DER")]
    Malformed,
}

/// A principal name: its name-type and its components.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// The name-type (1 principal, 2 srv-inst, 3 srv-hst, ...).
    pub name_type: i32,
    /// The name components, in order.
    pub names: Vec<String>,
}

impl Principal {
    fn from_krb(p: &PrincipalName) -> Self {
        Principal {
            name_type: p.name_type.0,
            names: p.name_string.clone(),
        }
    }
    /// The components joined with "/".
    pub fn joined(&self) -> String {
        self.names.join("/")
    }
}

/// What is visible of a ticket: realm, service name, cipher etype and kvno.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketInfo {
    /// Realm of the service.
    pub realm: String,
    /// Service principal.
    pub sname: Principal,
    /// Encryption type of the ticket's enc-part.
    pub etype: i32,
    /// Key version number.
    pub kvno: Option<u32>,
    /// MD5 (hex) of the ticket's cipher blob.
    pub cipher_md5: String,
}

/// An AS-REQ or TGS-REQ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KdcRequest {
    /// 10 (AS-REQ) or 12 (TGS-REQ).
    pub msg_type: u32,
    /// padata types, in order.
    pub padata_types: Vec<i32>,
    /// The first 32 bits of the KDC options (bit 0 is the MSB).
    pub kdc_options: u32,
    /// Client name (AS-REQ).
    pub cname: Option<Principal>,
    /// Realm (client realm for AS-REQ, server realm for TGS-REQ).
    pub realm: String,
    /// Service name.
    pub sname: Option<Principal>,
    /// `from`, RFC 3339 UTC.
    pub from: Option<String>,
    /// `till`, RFC 3339 UTC.
    pub till: String,
    /// `rtime`, RFC 3339 UTC.
    pub rtime: Option<String>,
    /// Nonce.
    pub nonce: u32,
    /// Requested etypes, in order.
    pub etypes: Vec<i32>,
    /// TGS-REQ: the ticket (TGT) carried in the PA-TGS-REQ AP-REQ.
    pub ap_req_ticket: Option<TicketInfo>,
    /// AS-REQ: MD5 (hex) of the PA-ENC-TIMESTAMP cipher.
    pub enc_timestamp_md5: Option<String>,
}

/// An AS-REP or TGS-REP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KdcReply {
    /// 11 (AS-REP) or 13 (TGS-REP).
    pub msg_type: u32,
    /// padata types, in order.
    pub padata_types: Vec<i32>,
    /// Client realm.
    pub crealm: String,
    /// Client name.
    pub cname: Principal,
    /// The issued ticket.
    pub ticket: TicketInfo,
    /// etype of the reply's enc-part.
    pub enc_part_etype: i32,
}

/// A KRB-ERROR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KrbErrorMsg {
    /// Error code.
    pub error_code: i32,
    /// Server time, RFC 3339 UTC.
    pub stime: String,
    /// Client time, RFC 3339 UTC.
    pub ctime: Option<String>,
    /// Client realm.
    pub crealm: Option<String>,
    /// Client name.
    pub cname: Option<Principal>,
    /// Server realm.
    pub realm: String,
    /// Server name.
    pub sname: Principal,
    /// Error text.
    pub e_text: Option<String>,
}

/// One parsed KDC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KrbMessage {
    /// AS-REQ / TGS-REQ.
    Request(KdcRequest),
    /// AS-REP / TGS-REP.
    Reply(KdcReply),
    /// KRB-ERROR.
    Error(KrbErrorMsg),
}

/// Formats a Kerberos time as RFC 3339 UTC ("2037-09-13T02:48:05Z").
pub fn format_time(t: &GeneralizedTime) -> String {
    let d = &t.0;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    )
}

fn flags32(b: &BitString<'_>) -> u32 {
    let mut v = 0u32;
    for i in 0..4 {
        v = (v << 8) | u32::from(b.data.get(i).copied().unwrap_or(0));
    }
    v
}

fn ticket_info(t: &kerberos_parser::krb5::Ticket<'_>) -> TicketInfo {
    TicketInfo {
        realm: t.realm.0.clone(),
        sname: Principal::from_krb(&t.sname),
        etype: t.enc_part.etype.0,
        kvno: t.enc_part.kvno,
        cipher_md5: md5_hex(t.enc_part.cipher),
    }
}

fn request(r: &KdcReq<'_>) -> KdcRequest {
    let b = &r.req_body;
    let mut ap_req_ticket = None;
    let mut enc_timestamp_md5 = None;
    for pa in &r.padata {
        match pa.padata_type.0 {
            PA_TGS_REQ if ap_req_ticket.is_none() => {
                if let Ok((_, ap)) = ApReq::from_der(pa.padata_value) {
                    ap_req_ticket = Some(ticket_info(&ap.ticket));
                }
            }
            PA_ENC_TIMESTAMP if enc_timestamp_md5.is_none() => {
                if let Ok((_, ed)) = EncryptedData::from_der(pa.padata_value) {
                    enc_timestamp_md5 = Some(md5_hex(ed.cipher));
                }
            }
            _ => {}
        }
    }
    KdcRequest {
        msg_type: r.msg_type.0,
        padata_types: r.padata.iter().map(|p| p.padata_type.0).collect(),
        kdc_options: flags32(&b.kdc_options),
        cname: b.cname.as_ref().map(Principal::from_krb),
        realm: b.realm.0.clone(),
        sname: b.sname.as_ref().map(Principal::from_krb),
        from: b.from.as_ref().map(format_time),
        till: format_time(&b.till),
        rtime: b.rtime.as_ref().map(format_time),
        nonce: b.nonce,
        etypes: b.etype.iter().map(|e| e.0).collect(),
        ap_req_ticket,
        enc_timestamp_md5,
    }
}

fn reply(r: &KdcRep<'_>) -> KdcReply {
    KdcReply {
        msg_type: r.msg_type.0,
        padata_types: r.padata.iter().map(|p| p.padata_type.0).collect(),
        crealm: r.crealm.0.clone(),
        cname: Principal::from_krb(&r.cname),
        ticket: ticket_info(&r.ticket),
        enc_part_etype: r.enc_part.etype.0,
    }
}

fn error(e: &KrbError<'_>) -> KrbErrorMsg {
    KrbErrorMsg {
        error_code: e.error_code.0,
        stime: format_time(&e.stime),
        ctime: e.ctime.as_ref().map(format_time),
        crealm: e.crealm.as_ref().map(|r| r.0.clone()),
        cname: e.cname.as_ref().map(Principal::from_krb),
        realm: e.realm.0.clone(),
        sname: Principal::from_krb(&e.sname),
        e_text: e.etext.clone(),
    }
}

/// Parses one whole KDC message (without the TCP record mark).
pub fn parse_message(data: &[u8]) -> Result<KrbMessage, ParseError> {
    let first = *data.first().ok_or(ParseError::Empty)?;
    let m = |_| ParseError::Malformed;
    match first {
        TAG_AS_REQ => parse_as_req(data)
            .map(|(_, r)| KrbMessage::Request(request(&r)))
            .map_err(m),
        TAG_TGS_REQ => parse_tgs_req(data)
            .map(|(_, r)| KrbMessage::Request(request(&r)))
            .map_err(m),
        TAG_AS_REP => parse_as_rep(data)
            .map(|(_, r)| KrbMessage::Reply(reply(&r)))
            .map_err(m),
        TAG_TGS_REP => parse_tgs_rep(data)
            .map(|(_, r)| KrbMessage::Reply(reply(&r)))
            .map_err(m),
        TAG_KRB_ERROR => KrbError::from_der(data)
            .map(|(_, e)| KrbMessage::Error(error(&e)))
            .map_err(m),
        t => Err(ParseError::UnknownTag(t)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::util::hex::decode;

    /// ndpi_kerberos.pcap frame 32 (TCP payload, with its record mark): KRB-ERROR 13.
    pub const ERR_BADOPTION: &str = "000000847e8181307fa003020105a10302011ea411180f32303139303230353033333834395aa50502030c9c32a60302010da9101b0e484150505943524146542e4f5247aa273025a00302010aa11e301c1b1a6a6f686e736f6e2d70632440484150505943524146542e4f5247ac1904173015a103020103a20e040cbb0000c00000000003000000";

    #[test]
    fn krb_error_badoption() {
        let b = decode(ERR_BADOPTION).unwrap();
        let m = parse_message(&b[4..]).unwrap();
        let KrbMessage::Error(e) = m else { panic!() };
        assert_eq!(e.error_code, 13);
        assert_eq!(e.realm, "HAPPYCRAFT.ORG");
        assert_eq!(e.sname.joined(), "johnson-pc$@HAPPYCRAFT.ORG");
        assert_eq!(e.stime, "2019-02-05T03:38:49Z");
    }
}
