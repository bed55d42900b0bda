//! Zero-copy parsing of one DNS message (RFC 1035, with EDNS per RFC 6891).
//!
//! [`parse_message`] borrows the message bytes: names are [`Name`] handles (message + offset,
//! validated once) and record data are slices of the message, so nothing is copied until a
//! record is built. Decompression only follows pointers that go strictly backwards, before the
//! start of the name part being read, at most [`MAX_HOPS`] times: loops and forward pointers
//! are errors, never hangs. Labels (≤ 63 bytes) and names (≤ 255 bytes on the wire) are checked.

use std::fmt::{self, Write as _};

use thiserror::Error;

/// Longest name on the wire (length bytes and the final zero included).
pub const MAX_NAME: usize = 255;
/// Most compression pointers followed while reading one name.
pub const MAX_HOPS: usize = 32;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;

/// Why a message (or part of it) could not be parsed.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum DnsError {
    /// Fewer than 12 bytes.
    #[error("message shorter than the DNS header")]
    ShortHeader,
    /// The message ends inside an item that starts at this offset.
    #[error("message truncated at offset {0}")]
    Truncated(usize),
    /// A compression pointer does not point before the name part that holds it.
    #[error("compression pointer at offset {at} points to {to}, not backwards")]
    BadPointer {
        /// Offset of the pointer.
        at: usize,
        /// Its target.
        to: usize,
    },
    /// More than [`MAX_HOPS`] pointers in one name.
    #[error("too many compression pointers")]
    TooManyHops,
    /// A label type other than a plain label or a pointer (0x40, 0x80).
    #[error("unsupported label type 0x{0:02x}")]
    BadLabelType(u8),
    /// The name exceeds [`MAX_NAME`] bytes.
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// Record data shorter or longer than its type requires.
    #[error("bad record data length")]
    BadRdata,
}

/// The fixed 12-byte header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// Question count.
    pub qdcount: u16,
    /// Answer count.
    pub ancount: u16,
    /// Authority count.
    pub nscount: u16,
    /// Additional count.
    pub arcount: u16,
}

impl Header {
    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// The opcode (0 = QUERY).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
    /// The header's 4-bit response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x0f) as u8
    }
    /// Whether the message was truncated (TC).
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }
}

/// A validated domain name inside a message.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a> {
    msg: &'a [u8],
    start: usize,
}

impl<'a> Name<'a> {
    /// Reads the name at `off`; returns it and the offset just after it (where the name
    /// ends in place, not where pointers led).
    pub fn read(msg: &'a [u8], off: usize) -> Result<(Name<'a>, usize), DnsError> {
        let mut pos = off;
        let mut limit = off;
        let mut end = None;
        let mut hops = 0usize;
        let mut wire = 1usize;
        loop {
            let b = *msg.get(pos).ok_or(DnsError::Truncated(pos))?;
            match b & 0xc0 {
                0x00 => {
                    if b == 0 {
                        let next = end.unwrap_or(pos + 1);
                        return Ok((Name { msg, start: off }, next));
                    }
                    let l = usize::from(b);
                    if msg.len() < pos + 1 + l {
                        return Err(DnsError::Truncated(pos));
                    }
                    wire += l + 1;
                    if wire > MAX_NAME {
                        return Err(DnsError::NameTooLong);
                    }
                    pos += 1 + l;
                }
                0xc0 => {
                    let lo = *msg.get(pos + 1).ok_or(DnsError::Truncated(pos))?;
                    let to = (usize::from(b & 0x3f) << 8) | usize::from(lo);
                    if to >= limit {
                        return Err(DnsError::BadPointer { at: pos, to });
                    }
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(DnsError::TooManyHops);
                    }
                    if end.is_none() {
                        end = Some(pos + 2);
                    }
                    limit = to;
                    pos = to;
                }
                _ => return Err(DnsError::BadLabelType(b)),
            }
        }
    }

    /// The labels, in order (the name was validated by [`Name::read`]).
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            msg: self.msg,
            pos: self.start,
            hops: 0,
        }
    }

    /// Whether two names are equal, ignoring ASCII case.
    pub fn eq_ignore_case(&self, other: &Name<'_>) -> bool {
        let mut a = self.labels();
        let mut b = other.labels();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
                _ => return false,
            }
        }
    }
}

/// Iterator over the labels of a [`Name`].
#[derive(Debug)]
pub struct Labels<'a> {
    msg: &'a [u8],
    pos: usize,
    hops: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let b = *self.msg.get(self.pos)?;
            match b & 0xc0 {
                0x00 if b != 0 => {
                    let l = usize::from(b);
                    let label = self.msg.get(self.pos + 1..self.pos + 1 + l)?;
                    self.pos += 1 + l;
                    return Some(label);
                }
                0xc0 if self.hops < MAX_HOPS => {
                    let lo = *self.msg.get(self.pos + 1)?;
                    self.hops += 1;
                    self.pos = (usize::from(b & 0x3f) << 8) | usize::from(lo);
                }
                _ => return None,
            }
        }
    }
}

impl fmt::Display for Name<'_> {
    /// Presentation format: labels joined by dots, `.` for the root; dots and backslashes in
    /// labels escaped with a backslash, other non-printable bytes as `\DDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for label in self.labels() {
            if !first {
                f.write_char('.')?;
            }
            first = false;
            for &c in label {
                match c {
                    b'.' | b'\\' => {
                        f.write_char('\\')?;
                        f.write_char(char::from(c))?;
                    }
                    0x21..=0x7e => f.write_char(char::from(c))?,
                    _ => write!(f, "\\{c:03}")?,
                }
            }
        }
        if first {
            f.write_char('.')?;
        }
        Ok(())
    }
}

/// One question.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// Name asked.
    pub name: Name<'a>,
    /// Type asked (raw number).
    pub qtype: u16,
    /// Class asked (raw number, mDNS unicast bit included).
    pub qclass: u16,
}

/// One resource record.
#[derive(Clone, Copy, Debug)]
pub struct Rr<'a> {
    /// Owner name.
    pub name: Name<'a>,
    /// Type (raw number).
    pub rtype: u16,
    /// Class (raw number; the UDP payload size for OPT).
    pub class: u16,
    /// TTL (the extended rcode, version and flags for OPT).
    pub ttl: u32,
    /// Record data.
    pub rdata: &'a [u8],
    /// Offset of the record data in the message (names in it may be compressed).
    pub rdata_off: usize,
}

/// A parsed message, borrowing its bytes.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    /// The whole message.
    pub bytes: &'a [u8],
    /// Header.
    pub header: Header,
    /// Questions.
    pub questions: Vec<Question<'a>>,
    /// Answer section.
    pub answers: Vec<Rr<'a>>,
    /// Authority section.
    pub authority: Vec<Rr<'a>>,
    /// Additional section.
    pub additional: Vec<Rr<'a>>,
    /// The error that stopped parsing of the record sections early, if any: the sections
    /// hold what came before it.
    pub rr_error: Option<DnsError>,
}

fn be16(b: &[u8], off: usize) -> Result<u16, DnsError> {
    b.get(off..off + 2)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map(u16::from_be_bytes)
        .ok_or(DnsError::Truncated(off))
}

fn be32(b: &[u8], off: usize) -> Result<u32, DnsError> {
    b.get(off..off + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
        .ok_or(DnsError::Truncated(off))
}

/// Parses the header alone.
pub fn parse_header(b: &[u8]) -> Result<Header, DnsError> {
    if b.len() < HEADER_LEN {
        return Err(DnsError::ShortHeader);
    }
    Ok(Header {
        id: be16(b, 0)?,
        flags: be16(b, 2)?,
        qdcount: be16(b, 4)?,
        ancount: be16(b, 6)?,
        nscount: be16(b, 8)?,
        arcount: be16(b, 10)?,
    })
}

fn parse_rr(b: &[u8], off: usize) -> Result<(Rr<'_>, usize), DnsError> {
    let (name, p) = Name::read(b, off)?;
    let rtype = be16(b, p)?;
    let class = be16(b, p + 2)?;
    let ttl = be32(b, p + 4)?;
    let len = usize::from(be16(b, p + 8)?);
    let rdata_off = p + 10;
    let rdata = b
        .get(rdata_off..rdata_off + len)
        .ok_or(DnsError::Truncated(rdata_off))?;
    Ok((
        Rr {
            name,
            rtype,
            class,
            ttl,
            rdata,
            rdata_off,
        },
        rdata_off + len,
    ))
}

/// Parses a message: the header and the questions must be well formed; the record sections
/// are read until the first error, which is kept in [`Message::rr_error`].
pub fn parse_message(b: &[u8]) -> Result<Message<'_>, DnsError> {
    let header = parse_header(b)?;
    let mut off = HEADER_LEN;
    let mut questions = Vec::new();
    for _ in 0..header.qdcount {
        let (name, p) = Name::read(b, off)?;
        let qtype = be16(b, p)?;
        let qclass = be16(b, p + 2)?;
        questions.push(Question {
            name,
            qtype,
            qclass,
        });
        off = p + 4;
    }
    let mut msg = Message {
        bytes: b,
        header,
        questions,
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        rr_error: None,
    };
    let counts = [header.ancount, header.nscount, header.arcount];
    'sections: for (i, n) in counts.into_iter().enumerate() {
        for _ in 0..n {
            match parse_rr(b, off) {
                Ok((rr, next)) => {
                    off = next;
                    match i {
                        0 => msg.answers.push(rr),
                        1 => msg.authority.push(rr),
                        _ => msg.additional.push(rr),
                    }
                }
                Err(e) => {
                    msg.rr_error = Some(e);
                    break 'sections;
                }
            }
        }
    }
    Ok(msg)
}

/// EDNS data of the OPT pseudo-record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opt {
    /// Requestor's UDP payload size.
    pub udp_payload_size: u16,
    /// Upper 8 bits of the 12-bit rcode.
    pub ext_rcode: u8,
    /// EDNS version.
    pub version: u8,
    /// DNSSEC OK bit.
    pub dnssec_ok: bool,
    /// Option codes, in order.
    pub options: Vec<u16>,
    /// Client subnet option (code 8) as "addr/source-prefix".
    pub client_subnet: Option<String>,
}

/// The OPT record of the additional section, decoded.
pub fn opt(msg: &Message<'_>) -> Option<Opt> {
    let rr = msg.additional.iter().find(|r| r.rtype == 41)?;
    let mut o = Opt {
        udp_payload_size: rr.class,
        ext_rcode: (rr.ttl >> 24) as u8,
        version: ((rr.ttl >> 16) & 0xff) as u8,
        dnssec_ok: rr.ttl & 0x8000 != 0,
        ..Opt::default()
    };
    let d = rr.rdata;
    let mut p = 0usize;
    while let (Ok(code), Ok(len)) = (be16(d, p), be16(d, p + 2)) {
        let Some(val) = d.get(p + 4..p + 4 + usize::from(len)) else {
            break;
        };
        o.options.push(code);
        if code == 8 {
            o.client_subnet = client_subnet(val);
        }
        p += 4 + usize::from(len);
    }
    Some(o)
}

/// RFC 7871 client subnet: family, source prefix, scope prefix, address bytes (cut).
fn client_subnet(v: &[u8]) -> Option<String> {
    let family = be16(v, 0).ok()?;
    let prefix = *v.get(2)?;
    let addr = v.get(4..)?;
    match family {
        1 => {
            let mut a = [0u8; 4];
            for (d, s) in a.iter_mut().zip(addr) {
                *d = *s;
            }
            Some(format!("{}/{prefix}", std::net::Ipv4Addr::from(a)))
        }
        2 => {
            let mut a = [0u8; 16];
            for (d, s) in a.iter_mut().zip(addr) {
                *d = *s;
            }
            Some(format!("{}/{prefix}", std::net::Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0];
        v[4..6].copy_from_slice(&qd.to_be_bytes());
        v[6..8].copy_from_slice(&an.to_be_bytes());
        v
    }

    #[test]
    fn name_with_backward_pointer() {
        let mut m = header(1, 1);
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        // answer: pointer to "example.com" (offset 16)
        m.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.questions[0].name.to_string(), "www.example.com");
        assert_eq!(msg.answers[0].name.to_string(), "example.com");
        assert_eq!(msg.answers[0].rdata, &[1, 2, 3, 4]);
        assert!(msg.rr_error.is_none());
        assert!(!msg.questions[0].name.eq_ignore_case(&msg.answers[0].name));
    }

    #[test]
    fn pointer_loop_is_an_error() {
        let mut m = header(1, 0);
        // label "a" then a pointer back to the label itself: a loop.
        m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert!(matches!(
            parse_message(&m),
            Err(DnsError::BadPointer { .. })
        ));
        // a pointer to itself
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(matches!(
            parse_message(&m),
            Err(DnsError::BadPointer { .. })
        ));
    }

    #[test]
    fn forward_pointer_is_an_error() {
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xc0, 14, 0, 0, 1, b'a', 0, 0, 1, 0, 1]);
        assert_eq!(
            parse_message(&m).unwrap_err(),
            DnsError::BadPointer { at: 12, to: 14 }
        );
    }

    #[test]
    fn too_long_names_and_bad_labels() {
        let mut m = header(1, 0);
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&m).unwrap_err(), DnsError::NameTooLong);
        let mut m = header(1, 0);
        m.extend_from_slice(&[0x41, b'x', 0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&m).unwrap_err(), DnsError::BadLabelType(0x41));
        // a label running past the end
        let mut m = header(1, 0);
        m.extend_from_slice(&[10, b'x']);
        assert_eq!(parse_message(&m).unwrap_err(), DnsError::Truncated(12));
        assert_eq!(parse_message(&[0; 11]).unwrap_err(), DnsError::ShortHeader);
    }

    #[test]
    fn truncated_rr_keeps_what_came_before() {
        let mut m = header(1, 2);
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.answers.len(), 1);
        assert!(matches!(msg.rr_error, Some(DnsError::Truncated(_))));
    }

    #[test]
    fn many_hops_terminate() {
        // a chain of 40 names each pointing at the previous one
        let mut m = header(41, 0);
        m.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        let mut prev = 12u16;
        for _ in 0..40 {
            let here = m.len() as u16;
            m.extend_from_slice(&[1, b'b', 0xc0 | (prev >> 8) as u8, prev as u8, 0, 1, 0, 1]);
            prev = here;
        }
        assert_eq!(parse_message(&m).unwrap_err(), DnsError::TooManyHops);
    }

    #[test]
    fn escapes_and_root() {
        let mut m = header(2, 0);
        m.extend_from_slice(&[3, b'a', b'.', 0x01, 0, 0, 1, 0, 1, 0, 0, 2, 0, 1]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.questions[0].name.to_string(), "a\\.\\001");
        assert_eq!(msg.questions[1].name.to_string(), ".");
    }

    #[test]
    fn client_subnet_option() {
        assert_eq!(
            client_subnet(&[0, 1, 24, 0, 192, 0, 2]).as_deref(),
            Some("192.0.2.0/24")
        );
        assert_eq!(
            client_subnet(&[0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0]).as_deref(),
            Some("2001:db8::/56")
        );
    }
}
