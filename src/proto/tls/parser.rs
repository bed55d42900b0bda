//! Handshake message parsing: ClientHello, ServerHello, Certificate (hand-parsed, so the
//! extension order and GREASE values survive exactly as sent).

use thiserror::Error;

use super::record::TlsCert;

/// Why a handshake message could not be parsed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HelloError {
    /// The message ends before a field it announces.
    #[error("truncated handshake message")]
    Truncated,
}

/// Record content types.
pub const CONTENT_CCS: u8 = 20;
pub const CONTENT_HANDSHAKE: u8 = 22;

/// Handshake message types used here.
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
/// DTLS HelloVerifyRequest (RFC 6347 4.2.1): the server asks the client to repeat its
/// ClientHello with a cookie.
pub const HELLO_VERIFY_REQUEST: u8 = 3;
pub const CERTIFICATE: u8 = 11;
pub const SERVER_HELLO_DONE: u8 = 14;

type R<T> = Result<T, HelloError>;

/// A cursor over a byte slice; every read is bounds-checked.
#[derive(Clone, Copy)]
pub(crate) struct Rd<'a> {
    b: &'a [u8],
}

impl<'a> Rd<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
    pub(crate) fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.b.len() {
            return Err(HelloError::Truncated);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    pub(crate) fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    pub(crate) fn u16(&mut self) -> R<u16> {
        let s = self.take(2)?;
        Ok(s.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
    }
    pub(crate) fn u24(&mut self) -> R<usize> {
        let s = self.take(3)?;
        Ok(s.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)))
    }
    pub(crate) fn vec8(&mut self) -> R<Rd<'a>> {
        let n = usize::from(self.u8()?);
        Ok(Rd::new(self.take(n)?))
    }
    pub(crate) fn vec16(&mut self) -> R<Rd<'a>> {
        let n = usize::from(self.u16()?);
        Ok(Rd::new(self.take(n)?))
    }
    fn u16s(mut self) -> Vec<u16> {
        let mut v = Vec::with_capacity(self.b.len() / 2);
        while let Ok(x) = self.u16() {
            v.push(x);
        }
        v
    }
}

/// True for the reserved GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ..., 0xfafa.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Extension type numbers used here.
pub mod ext {
    /// server_name
    pub const SNI: u16 = 0;
    /// supported_groups
    pub const GROUPS: u16 = 10;
    /// ec_point_formats
    pub const POINT_FORMATS: u16 = 11;
    /// signature_algorithms
    pub const SIG_ALGS: u16 = 13;
    /// application_layer_protocol_negotiation
    pub const ALPN: u16 = 16;
    /// supported_versions
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// encrypted_client_hello
    pub const ECH: u16 = 0xfe0d;
}

/// The fields of a ClientHello that the record and the fingerprints need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version.
    pub version: u16,
    /// Session id length.
    pub session_id_len: u8,
    /// Cipher suites in order.
    pub ciphers: Vec<u16>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// First host_name of the server_name extension.
    pub sni: Option<String>,
    /// The server_name extension was present (even when empty or not a host name).
    pub has_sni: bool,
    /// ALPN protocol names, raw.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions list.
    pub supported_versions: Vec<u16>,
    /// supported_groups list.
    pub groups: Vec<u16>,
    /// ec_point_formats list.
    pub point_formats: Vec<u8>,
    /// signature_algorithms list.
    pub sig_algs: Vec<u16>,
    /// SSLv2-compatible hello.
    pub sslv2: bool,
    /// DTLS: length of the cookie (`None` for TLS, which has no cookie field).
    pub cookie_len: Option<u8>,
}

impl ClientHello {
    /// The encrypted_client_hello extension is present.
    pub fn ech(&self) -> bool {
        self.extensions.contains(&ext::ECH)
    }
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> R<ClientHello> {
    client_hello(body, false)
}

/// Parses a DTLS ClientHello body (after the 12-byte DTLS handshake header, reassembled): a
/// cookie (u8 length) follows the session id.
pub fn parse_dtls_client_hello(body: &[u8]) -> R<ClientHello> {
    client_hello(body, true)
}

fn client_hello(body: &[u8], dtls: bool) -> R<ClientHello> {
    let mut r = Rd::new(body);
    let mut ch = ClientHello {
        version: r.u16()?,
        ..ClientHello::default()
    };
    r.take(32)?;
    let sid = r.vec8()?;
    ch.session_id_len = u8::try_from(sid.b.len()).unwrap_or(u8::MAX);
    if dtls {
        let cookie = r.vec8()?;
        ch.cookie_len = Some(u8::try_from(cookie.b.len()).unwrap_or(u8::MAX));
    }
    ch.ciphers = r.vec16()?.u16s();
    r.vec8()?; // compression methods
    if r.is_empty() {
        return Ok(ch);
    }
    let mut exts = r.vec16()?;
    while !exts.is_empty() {
        let typ = exts.u16()?;
        let data = exts.vec16()?;
        ch.extensions.push(typ);
        // A malformed extension body does not spoil the rest of the hello.
        let _ = client_ext(&mut ch, typ, data);
    }
    Ok(ch)
}

fn client_ext(ch: &mut ClientHello, typ: u16, mut d: Rd<'_>) -> R<()> {
    match typ {
        ext::SNI => {
            ch.has_sni = true;
            let mut list = d.vec16()?;
            while !list.is_empty() {
                let kind = list.u8()?;
                let name = list.vec16()?;
                if kind == 0 && ch.sni.is_none() {
                    ch.sni = Some(String::from_utf8_lossy(name.b).into_owned());
                }
            }
        }
        ext::ALPN => {
            let mut list = d.vec16()?;
            while !list.is_empty() {
                ch.alpn.push(list.vec8()?.b.to_vec());
            }
        }
        ext::GROUPS => ch.groups = d.vec16()?.u16s(),
        ext::POINT_FORMATS => ch.point_formats = d.vec8()?.b.to_vec(),
        ext::SIG_ALGS => ch.sig_algs = d.vec16()?.u16s(),
        ext::SUPPORTED_VERSIONS => ch.supported_versions = d.vec8()?.u16s(),
        _ => {}
    }
    Ok(())
}

/// Parses an SSLv2-compatible ClientHello (the message after the 2-byte SSLv2 header,
/// starting at the message type byte).
pub fn parse_sslv2_client_hello(msg: &[u8]) -> R<ClientHello> {
    let mut r = Rd::new(msg);
    if r.u8()? != 1 {
        return Err(HelloError::Truncated);
    }
    let version = r.u16()?;
    let cs_len = usize::from(r.u16()?);
    let sid_len = r.u16()?;
    let _challenge_len = r.u16()?;
    let mut specs = Rd::new(r.take(cs_len)?);
    let mut ciphers = Vec::new();
    while let Ok(s) = specs.take(3) {
        if let [0, a, b] = *s {
            ciphers.push(u16::from_be_bytes([a, b]));
        }
    }
    Ok(ClientHello {
        version,
        session_id_len: u8::try_from(sid_len).unwrap_or(u8::MAX),
        ciphers,
        sslv2: true,
        ..ClientHello::default()
    })
}

/// The fields of a ServerHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version.
    pub version: u16,
    /// The supported_versions extension's selected version.
    pub selected_version: Option<u16>,
    /// Chosen cipher suite.
    pub cipher: u16,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// ALPN protocol selected.
    pub alpn: Option<String>,
    /// The message is a HelloRetryRequest.
    pub hello_retry: bool,
}

impl ServerHello {
    /// The negotiated version: supported_versions when present, else legacy_version.
    pub fn negotiated(&self) -> u16 {
        self.selected_version.unwrap_or(self.version)
    }
}

/// SHA-256 of "HelloRetryRequest": the random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A TLS 1.3 draft version from before draft 22 (0x7f00..0x7f15): its ServerHello has no
/// session id echo and no compression method (draft-ietf-tls-tls13-21, 4.1.3).
pub fn is_early_draft(v: u16) -> bool {
    v >> 8 == 0x7f && v & 0xff < 22
}

/// A TLS 1.3 version: final, an IETF or Facebook draft, or DTLS 1.3 (everything after the
/// ServerHello is encrypted).
pub fn is_tls13(v: u16) -> bool {
    v == 0x0304 || v == 0xfefc || v >> 8 == 0x7f || v >> 8 == 0xfb
}

/// Parses a ServerHello body.
pub fn parse_server_hello(body: &[u8]) -> R<ServerHello> {
    let mut r = Rd::new(body);
    let version = r.u16()?;
    let random = r.take(32)?;
    let early = is_early_draft(version);
    if !early {
        r.vec8()?;
    }
    let mut sh = ServerHello {
        version,
        cipher: r.u16()?,
        hello_retry: random == HRR_RANDOM,
        ..ServerHello::default()
    };
    if !early {
        r.u8()?;
    }
    if r.is_empty() {
        return Ok(sh);
    }
    let mut exts = r.vec16()?;
    while !exts.is_empty() {
        let typ = exts.u16()?;
        let mut data = exts.vec16()?;
        sh.extensions.push(typ);
        match typ {
            ext::SUPPORTED_VERSIONS => sh.selected_version = data.u16().ok(),
            ext::ALPN => {
                if let Ok(mut list) = data.vec16() {
                    if let Ok(p) = list.vec8() {
                        sh.alpn = Some(String::from_utf8_lossy(p.b).into_owned());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(sh)
}

/// Version number to a name: "TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0", "SSL 3.0", ...
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0002 => "SSLv2".into(),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        v if v >> 8 == 0x7f => format!("TLS 1.3 draft {}", v & 0xff),
        // Facebook's Fizz drafts of TLS 1.3.
        v if v >> 8 == 0xfb => format!("TLS 1.3 (Facebook draft {})", v & 0xff),
        v => format!("0x{v:04x}"),
    }
}

// ---- Certificate (DER, hand-walked) ----

/// One DER TLV: tag byte and contents.
fn der<'a>(r: &mut Rd<'a>) -> R<(u8, Rd<'a>)> {
    let tag = r.u8()?;
    let (len, used) = crate::proto::ber::length(r.b).map_err(|_| HelloError::Truncated)?;
    r.take(used)?;
    // Lenient: a value cut short (truncated oversized message) yields what is there.
    let n = len.min(r.b.len());
    Ok((tag, Rd::new(r.take(n)?)))
}

/// Parses a Certificate handshake body (TLS ≤ 1.2) and describes its first certificate.
pub fn parse_certificate(body: &[u8]) -> R<TlsCert> {
    let mut r = Rd::new(body);
    let _list_len = r.u24()?;
    let m = r.u24()?;
    let der = r.take(m.min(r.b.len()))?;
    let mut cert = describe_cert(Rd::new(der))?;
    cert.sha1 = Some(crate::util::hex::encode(
        &<sha1::Sha1 as sha1::Digest>::digest(der),
    ));
    Ok(cert)
}

fn describe_cert(mut r: Rd<'_>) -> R<TlsCert> {
    let (_, mut cert) = der(&mut r)?;
    let (_, mut tbs) = der(&mut cert)?;
    let (mut tag, mut serial) = der(&mut tbs)?;
    if tag == 0xa0 {
        // explicit version
        (tag, serial) = der(&mut tbs)?;
    }
    let mut out = TlsCert::default();
    if tag == 0x02 {
        let digits = match serial.b {
            [0, rest @ ..] if !rest.is_empty() => rest,
            all => all,
        };
        out.serial = Some(digits.iter().map(|b| format!("{b:02x}")).collect());
    }
    let _sig = der(&mut tbs)?;
    let (_, issuer) = der(&mut tbs)?;
    out.issuer = Some(dn(issuer));
    let (_, mut validity) = der(&mut tbs)?;
    out.not_before = der(&mut validity).ok().and_then(|(t, v)| time(t, v.b));
    out.not_after = der(&mut validity).ok().and_then(|(t, v)| time(t, v.b));
    if let Ok((_, subject)) = der(&mut tbs) {
        out.subject = Some(dn(subject));
    }
    Ok(out)
}

/// A Name as "CN=..., O=...", in certificate order.
fn dn(mut r: Rd<'_>) -> String {
    let mut parts = Vec::new();
    while let Ok((_, mut set)) = der(&mut r) {
        while let Ok((_, mut atv)) = der(&mut set) {
            let Ok((_, oid)) = der(&mut atv) else { break };
            let Ok((tag, val)) = der(&mut atv) else { break };
            let key = attribute_name(oid.b);
            let value = if tag == 0x1e {
                // BMPString: UTF-16BE.
                let units: Vec<u16> = val
                    .b
                    .chunks_exact(2)
                    .map(|c| c.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(val.b).into_owned()
            };
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(", ")
}

/// X.520 (and PKCS #9, RFC 4519, EV) attribute short names by OID (DER contents).
const ATTRIBUTES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 3], "CN"),
    (&[0x55, 0x04, 4], "SN"),
    (&[0x55, 0x04, 5], "serialNumber"),
    (&[0x55, 0x04, 6], "C"),
    (&[0x55, 0x04, 7], "L"),
    (&[0x55, 0x04, 8], "ST"),
    (&[0x55, 0x04, 9], "street"),
    (&[0x55, 0x04, 10], "O"),
    (&[0x55, 0x04, 11], "OU"),
    (&[0x55, 0x04, 12], "title"),
    (&[0x55, 0x04, 13], "description"),
    (&[0x55, 0x04, 15], "businessCategory"),
    (&[0x55, 0x04, 16], "postalAddress"),
    (&[0x55, 0x04, 17], "postalCode"),
    (&[0x55, 0x04, 18], "postOfficeBox"),
    (&[0x55, 0x04, 20], "telephoneNumber"),
    (&[0x55, 0x04, 41], "name"),
    (&[0x55, 0x04, 42], "givenName"),
    (&[0x55, 0x04, 43], "initials"),
    (&[0x55, 0x04, 44], "generationQualifier"),
    (&[0x55, 0x04, 45], "x500UniqueIdentifier"),
    (&[0x55, 0x04, 46], "dnQualifier"),
    (&[0x55, 0x04, 65], "pseudonym"),
    (&[0x55, 0x04, 72], "role"),
    (&[0x55, 0x04, 97], "organizationIdentifier"),
    // 1.3.6.1.4.1.311.60.2.1.{1,2,3}: EV jurisdiction of incorporation.
    (
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 2, 1, 1],
        "jurisdictionL",
    ),
    (
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 2, 1, 2],
        "jurisdictionST",
    ),
    (
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 2, 1, 3],
        "jurisdictionC",
    ),
    // 0.9.2342.19200300.100.1.{1,25}
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "UID",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    // PKCS #9
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "emailAddress",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x02],
        "unstructuredName",
    ),
];

/// An attribute type's short name, else its dotted OID ("1.2.3.4"), else "OID.<hex>" for
/// contents that are no valid OID encoding.
pub fn attribute_name(oid: &[u8]) -> String {
    if let Some((_, n)) = ATTRIBUTES.iter().find(|(o, _)| *o == oid) {
        return (*n).to_string();
    }
    dotted_oid(oid).unwrap_or_else(|| {
        format!(
            "OID.{}",
            oid.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    })
}

/// The dotted form of an OID's DER contents; None when it is empty, ends inside an arc or
/// has an arc over 64 bits.
pub fn dotted_oid(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut cur: u64 = 0;
    let mut open = false;
    for &b in oid {
        if cur > (u64::MAX >> 7) {
            return None;
        }
        cur = (cur << 7) | u64::from(b & 0x7f);
        open = b & 0x80 != 0;
        if !open {
            arcs.push(cur);
            cur = 0;
        }
    }
    if open || arcs.is_empty() {
        return None;
    }
    let first = *arcs.first()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for x in arcs.iter().skip(1) {
        s.push('.');
        s.push_str(&x.to_string());
    }
    Some(s)
}

/// UTCTime (tag 0x17) or GeneralizedTime (0x18) to "YYYY-MM-DDTHH:MM:SSZ".
fn time(tag: u8, b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    let full = match tag {
        0x17 => {
            let yy: u32 = s.get(0..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{s}")
        }
        0x18 => s.to_string(),
        _ => return None,
    };
    let g = |a: usize, b: usize| full.get(a..b);
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        g(0, 4)?,
        g(4, 6)?,
        g(6, 8)?,
        g(8, 10)?,
        g(10, 12)?,
        g(12, 14).unwrap_or("00")
    ))
}
