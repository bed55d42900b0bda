//! The `dns` record body: one per transaction (query and its response, a query never
//! answered, or a response whose query was not seen), and the text forms of names, types and
//! record data.

use crate::util::hex;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::parser::{opt, DnsError, Message, Name, Opt, Rr};

/// `dns` record body (serialised under `"dns"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DnsBody {
    /// Transaction id.
    pub id: u16,
    /// First question's name (null when the message had no question).
    pub query: Option<String>,
    /// Question type mnemonic ("A", "HTTPS", "TYPE4711" when unknown).
    pub qtype: Option<String>,
    /// Question type number.
    pub qtype_code: Option<u16>,
    /// Question class mnemonic ("IN"; "CLASS32769" for unknown ones).
    pub qclass: Option<String>,
    /// Question class number.
    pub qclass_code: Option<u16>,
    /// Opcode mnemonic ("QUERY", "NOTIFY", "OPCODE7" when unknown).
    pub opcode: String,
    /// Flags word as hex ("0x8180"): of the response when one was seen, else of the query.
    pub flags: String,
    /// Set flag names among qr, aa, tc, rd, ra, ad, cd (same message as `flags`).
    pub flag_names: Vec<&'static str>,
    /// Response code mnemonic, EDNS extended rcode included; null when no response was seen.
    pub rcode: Option<String>,
    /// Response code number, EDNS extended rcode included.
    pub rcode_code: Option<u16>,
    /// Answer section of the response.
    pub answers: Vec<DnsAnswer>,
    /// Answer count of the response header.
    pub answer_count: Option<u16>,
    /// Authority count of the response header.
    pub authority_count: Option<u16>,
    /// Additional count of the response header.
    pub additional_count: Option<u16>,
    /// EDNS of the query (of the response when the query had none or was not seen).
    pub edns: Option<DnsEdns>,
    /// Whether the response had TC set (the client should retry over TCP).
    pub truncated: bool,
    /// "udp" or "tcp".
    pub transport: &'static str,
    /// Time from query to response, in milliseconds.
    pub rtt_ms: Option<f64>,
}

/// One answer record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// Owner name.
    pub name: String,
    /// Type mnemonic.
    #[serde(rename = "type")]
    pub rtype: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Record data in text form (addresses for A/AAAA, hex for unknown types).
    pub data: String,
}

/// EDNS (OPT) summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DnsEdns {
    /// Advertised UDP payload size.
    pub udp_payload_size: u16,
    /// EDNS version.
    pub version: u8,
    /// DNSSEC OK bit.
    pub do_bit: bool,
    /// Option codes present, in order.
    pub options: Vec<u16>,
    /// Client subnet option as "addr/prefix".
    pub client_subnet: Option<String>,
}

impl From<Opt> for DnsEdns {
    fn from(o: Opt) -> Self {
        DnsEdns {
            udp_payload_size: o.udp_payload_size,
            version: o.version,
            do_bit: o.dnssec_ok,
            options: o.options,
            client_subnet: o.client_subnet,
        }
    }
}

/// What is kept of a query while it waits for its response.
#[derive(Clone, Debug)]
pub struct QueryInfo {
    /// Capture time of the query.
    pub ts_ns: u64,
    /// Id.
    pub id: u16,
    /// Flags word.
    pub flags: u16,
    /// First question: name (presentation form), type, class.
    pub question: Option<(String, u16, u16)>,
    /// EDNS of the query.
    pub edns: Option<DnsEdns>,
}

/// What is kept of a response.
#[derive(Clone, Debug)]
pub struct ResponseInfo {
    /// Capture time.
    pub ts_ns: u64,
    /// Id.
    pub id: u16,
    /// Flags word.
    pub flags: u16,
    /// Response code with the EDNS extension.
    pub rcode: u16,
    /// First question.
    pub question: Option<(String, u16, u16)>,
    /// Answer section, in text form.
    pub answers: Vec<DnsAnswer>,
    /// Section counts from the header (answer, authority, additional).
    pub counts: (u16, u16, u16),
    /// EDNS of the response.
    pub edns: Option<DnsEdns>,
}

fn first_question(msg: &Message<'_>) -> Option<(String, u16, u16)> {
    msg.questions
        .first()
        .map(|q| (q.name.to_string(), q.qtype, q.qclass))
}

impl QueryInfo {
    /// Keeps what the record needs of a query message.
    pub fn from_message(msg: &Message<'_>, ts_ns: u64) -> Self {
        QueryInfo {
            ts_ns,
            id: msg.header.id,
            flags: msg.header.flags,
            question: first_question(msg),
            edns: opt(msg).map(DnsEdns::from),
        }
    }
}

impl ResponseInfo {
    /// Keeps what the record needs of a response message; counts undecodable record data.
    pub fn from_message(msg: &Message<'_>, ts_ns: u64, bad_rdata: &mut usize) -> Self {
        let o = opt(msg);
        let ext = o.as_ref().map_or(0, |o| u16::from(o.ext_rcode));
        let answers = msg
            .answers
            .iter()
            .map(|rr| {
                let data = rdata_text(msg.bytes, rr).unwrap_or_else(|_| {
                    *bad_rdata += 1;
                    hex::encode(rr.rdata)
                });
                DnsAnswer {
                    name: rr.name.to_string(),
                    rtype: type_name(rr.rtype),
                    ttl: rr.ttl,
                    data,
                }
            })
            .collect();
        ResponseInfo {
            ts_ns,
            id: msg.header.id,
            flags: msg.header.flags,
            rcode: (ext << 4) | u16::from(msg.header.rcode()),
            question: first_question(msg),
            answers,
            counts: (msg.header.ancount, msg.header.nscount, msg.header.arcount),
            edns: o.map(DnsEdns::from),
        }
    }

    /// Whether this answers `q`: same id and same question (name compared without regard to
    /// ASCII case). A response that does not repeat the question pairs on its id alone only
    /// when the id is not 0: id 0 is what every mDNS message carries (RFC 6762), so an id-0
    /// response without a question (an mDNS announcement) is its own transaction.
    pub fn answers_query(&self, q: &QueryInfo) -> bool {
        if self.id != q.id {
            return false;
        }
        match (&self.question, &q.question) {
            (Some((rn, rt, rc)), Some((qn, qt, qc))) => {
                rt == qt && (rc & 0x7fff) == (qc & 0x7fff) && rn.eq_ignore_ascii_case(qn)
            }
            _ => self.id != 0,
        }
    }
}

/// Builds the record of a transaction.
pub fn build(q: Option<&QueryInfo>, r: Option<&ResponseInfo>, transport: &'static str) -> DnsBody {
    let id = r.map(|r| r.id).or(q.map(|q| q.id)).unwrap_or_default();
    let question = q
        .and_then(|q| q.question.clone())
        .or_else(|| r.and_then(|r| r.question.clone()));
    let flags = r
        .map(|r| r.flags)
        .or(q.map(|q| q.flags))
        .unwrap_or_default();
    let mut body = DnsBody {
        id,
        query: question.as_ref().map(|(n, _, _)| n.clone()),
        qtype: question.as_ref().map(|(_, t, _)| type_name(*t)),
        qtype_code: question.as_ref().map(|(_, t, _)| *t),
        qclass: question.as_ref().map(|(_, _, c)| class_name(*c)),
        qclass_code: question.as_ref().map(|(_, _, c)| *c),
        opcode: opcode_name(((flags >> 11) & 0x0f) as u8),
        flags: format!("0x{flags:04x}"),
        flag_names: flag_names(flags),
        transport,
        edns: q
            .and_then(|q| q.edns.clone())
            .or_else(|| r.and_then(|r| r.edns.clone())),
        ..DnsBody::default()
    };
    if let Some(r) = r {
        body.rcode = Some(rcode_name(r.rcode));
        body.rcode_code = Some(r.rcode);
        body.answers = r.answers.clone();
        body.answer_count = Some(r.counts.0);
        body.authority_count = Some(r.counts.1);
        body.additional_count = Some(r.counts.2);
        body.truncated = r.flags & 0x0200 != 0;
        if let Some(q) = q {
            let ns = r.ts_ns.saturating_sub(q.ts_ns);
            body.rtt_ms = Some(ns as f64 / 1e6);
        }
    }
    body
}

fn flag_names(flags: u16) -> Vec<&'static str> {
    [
        (0x8000, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0020, "ad"),
        (0x0010, "cd"),
    ]
    .into_iter()
    .filter(|(m, _)| flags & m != 0)
    .map(|(_, n)| n)
    .collect()
}

/// Opcode mnemonic.
pub fn opcode_name(op: u8) -> String {
    match op {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        6 => "DSO".into(),
        n => format!("OPCODE{n}"),
    }
}

/// Response code mnemonic (12-bit, with the EDNS extension).
pub fn rcode_name(rc: u16) -> String {
    let s = match rc {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        n => return format!("RCODE{n}"),
    };
    s.into()
}

/// Class mnemonic (the mDNS top bit is ignored).
pub fn class_name(c: u16) -> String {
    match c & 0x7fff {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        254 => "NONE".into(),
        255 => "ANY".into(),
        _ => format!("CLASS{c}"),
    }
}

/// Type mnemonic; "TYPE<n>" for unknown types (RFC 3597).
pub fn type_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        32768 => "TA",
        32769 => "DLV",
        n => return format!("TYPE{n}"),
    };
    s.into()
}

/// A character-string as text: printable ASCII kept, `"` and `\` escaped, other bytes `\DDD`.
fn char_string(b: &[u8], out: &mut String) {
    for &c in b {
        match c {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(c)),
            _ => {
                let _ = write!(out, "\\{c:03}");
            }
        }
    }
}

/// Splits `d` into length-prefixed character-strings.
fn char_strings(d: &[u8]) -> Result<Vec<&[u8]>, DnsError> {
    let mut v = Vec::new();
    let mut p = 0usize;
    while let Some(&l) = d.get(p) {
        let s = d
            .get(p + 1..p + 1 + usize::from(l))
            .ok_or(DnsError::BadRdata)?;
        v.push(s);
        p += 1 + usize::from(l);
    }
    Ok(v)
}

fn u16_at(d: &[u8], p: usize) -> Result<u16, DnsError> {
    d.get(p..p + 2)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map(u16::from_be_bytes)
        .ok_or(DnsError::BadRdata)
}

fn u32_at(d: &[u8], p: usize) -> Result<u32, DnsError> {
    d.get(p..p + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
        .ok_or(DnsError::BadRdata)
}

/// Reads a (possibly compressed) name at `off` of the record data; it must end inside it.
fn rdata_name<'a>(msg: &'a [u8], rr: &Rr<'a>, off: usize) -> Result<(Name<'a>, usize), DnsError> {
    let end = rr.rdata_off + rr.rdata.len();
    let (n, next) = Name::read(msg, rr.rdata_off + off)?;
    if next > end {
        return Err(DnsError::BadRdata);
    }
    Ok((n, next - rr.rdata_off))
}

/// Text form of a record's data: addresses for A/AAAA, names for CNAME/NS/PTR/DNAME,
/// "pref host" for MX, strings for TXT, "prio weight port target" for SRV,
/// "mname rname serial refresh retry expire minimum" for SOA, "prio target key=value..." for
/// SVCB/HTTPS, "flags tag value" for CAA, hex for the others.
pub fn rdata_text(msg: &[u8], rr: &Rr<'_>) -> Result<String, DnsError> {
    let d = rr.rdata;
    Ok(match rr.rtype {
        1 => {
            let a: [u8; 4] = d.try_into().map_err(|_| DnsError::BadRdata)?;
            Ipv4Addr::from(a).to_string()
        }
        28 => {
            let a: [u8; 16] = d.try_into().map_err(|_| DnsError::BadRdata)?;
            Ipv6Addr::from(a).to_string()
        }
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => {
            let (n, end) = rdata_name(msg, rr, 0)?;
            if end != d.len() {
                return Err(DnsError::BadRdata);
            }
            n.to_string()
        }
        15 | 18 | 36 => {
            let pref = u16_at(d, 0)?;
            let (n, _) = rdata_name(msg, rr, 2)?;
            format!("{pref} {n}")
        }
        16 | 99 => {
            let mut s = String::new();
            for (i, part) in char_strings(d)?.into_iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                char_string(part, &mut s);
            }
            s
        }
        13 => {
            let mut s = String::new();
            for (i, part) in char_strings(d)?.into_iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                s.push('"');
                char_string(part, &mut s);
                s.push('"');
            }
            s
        }
        33 => {
            let (prio, weight, port) = (u16_at(d, 0)?, u16_at(d, 2)?, u16_at(d, 4)?);
            let (n, _) = rdata_name(msg, rr, 6)?;
            format!("{prio} {weight} {port} {n}")
        }
        6 => {
            let (m, p) = rdata_name(msg, rr, 0)?;
            let (r, p) = rdata_name(msg, rr, p)?;
            let f: Vec<String> = (0..5)
                .map(|i| u32_at(d, p + 4 * i).map(|v| v.to_string()))
                .collect::<Result<_, _>>()?;
            format!("{m} {r} {}", f.join(" "))
        }
        64 | 65 => svcb(msg, rr)?,
        257 => {
            let flags = *d.first().ok_or(DnsError::BadRdata)?;
            let tl = usize::from(*d.get(1).ok_or(DnsError::BadRdata)?);
            let tag = d.get(2..2 + tl).ok_or(DnsError::BadRdata)?;
            let val = d.get(2 + tl..).ok_or(DnsError::BadRdata)?;
            let mut s = format!("{flags} ");
            char_string(tag, &mut s);
            s.push_str(" \"");
            char_string(val, &mut s);
            s.push('"');
            s
        }
        _ => hex::encode(d),
    })
}

fn svc_key_name(k: u16) -> String {
    match k {
        0 => "mandatory".into(),
        1 => "alpn".into(),
        2 => "no-default-alpn".into(),
        3 => "port".into(),
        4 => "ipv4hint".into(),
        5 => "ech".into(),
        6 => "ipv6hint".into(),
        7 => "dohpath".into(),
        n => format!("key{n}"),
    }
}

/// SVCB/HTTPS (RFC 9460) presentation: "priority target key=value ...".
fn svcb(msg: &[u8], rr: &Rr<'_>) -> Result<String, DnsError> {
    let d = rr.rdata;
    let prio = u16_at(d, 0)?;
    let (target, mut p) = rdata_name(msg, rr, 2)?;
    let mut s = format!("{prio} {target}");
    while p < d.len() {
        let key = u16_at(d, p)?;
        let len = usize::from(u16_at(d, p + 2)?);
        let v = d.get(p + 4..p + 4 + len).ok_or(DnsError::BadRdata)?;
        p += 4 + len;
        s.push(' ');
        s.push_str(&svc_key_name(key));
        if v.is_empty() {
            continue;
        }
        s.push('=');
        let items: Vec<String> = match key {
            0 => v
                .chunks(2)
                .map(|c| match c {
                    [a, b] => Ok(svc_key_name(u16::from_be_bytes([*a, *b]))),
                    _ => Err(DnsError::BadRdata),
                })
                .collect::<Result<_, _>>()?,
            1 => char_strings(v)?
                .into_iter()
                .map(|a| {
                    let mut t = String::new();
                    char_string(a, &mut t);
                    t
                })
                .collect(),
            3 => vec![u16_at(v, 0)?.to_string()],
            4 => v
                .chunks(4)
                .map(|c| {
                    <[u8; 4]>::try_from(c)
                        .map(|a| Ipv4Addr::from(a).to_string())
                        .map_err(|_| DnsError::BadRdata)
                })
                .collect::<Result<_, _>>()?,
            6 => v
                .chunks(16)
                .map(|c| {
                    <[u8; 16]>::try_from(c)
                        .map(|a| Ipv6Addr::from(a).to_string())
                        .map_err(|_| DnsError::BadRdata)
                })
                .collect::<Result<_, _>>()?,
            7 => {
                let mut t = String::new();
                char_string(v, &mut t);
                vec![t]
            }
            _ => vec![hex::encode(v)],
        };
        s.push_str(&items.join(","));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::parser::parse_message;
    use crate::util::hex::decode;

    /// zeek_dns-https.pcap frame 2: HTTPS RR for cloudflare.com.
    pub const HTTPS_RESP: &str = "f29f818000010001000000010a636c6f7564666c61726503636f6d0000410001c00c0041000100000081004f000100000100180268330568332d32390568332d32380568332d323702683200040008681084e5681085e500060020260647000000000000000000681084e5260647000000000000000000681085e50000291000000000000000";

    #[test]
    fn https_rr() {
        let m = decode(HTTPS_RESP).unwrap();
        let msg = parse_message(&m).unwrap();
        let r = ResponseInfo::from_message(&msg, 0, &mut 0);
        assert_eq!(r.answers[0].rtype, "HTTPS");
        assert_eq!(
            r.answers[0].data,
            "1 . alpn=h3,h3-29,h3-28,h3-27,h2 ipv4hint=104.16.132.229,104.16.133.229 \
             ipv6hint=2606:4700::6810:84e5,2606:4700::6810:85e5"
        );
        assert_eq!(r.edns.as_ref().map(|e| e.udp_payload_size), Some(4096));
    }

    #[test]
    fn mnemonics() {
        assert_eq!(type_name(65), "HTTPS");
        assert_eq!(type_name(64), "SVCB");
        assert_eq!(type_name(4711), "TYPE4711");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(16), "BADVERS");
        assert_eq!(rcode_name(4000), "RCODE4000");
        assert_eq!(class_name(0x8001), "IN");
        assert_eq!(opcode_name(9), "OPCODE9");
        assert_eq!(flag_names(0x8180), vec!["qr", "rd", "ra"]);
    }
}
