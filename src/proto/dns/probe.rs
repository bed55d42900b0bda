//! Is this DNS? The parser's 12-byte header with plausible counts and opcode, then a
//! well-formed first name with a known class; over TCP behind a 2-byte length.

#![deny(clippy::indexing_slicing)]

use super::parser::{parse_header, HEADER_LEN, MAX_NAME};
use crate::proto::detect::peek::{at, be16, from, need, P};
use crate::proto::Confidence;

/// Labels are at most 63 bytes (longer ones are pointers or reserved).
const MAX_LABEL: usize = 63;

/// One DNS message at the start of `d`.
fn message(d: &[u8]) -> P<Confidence> {
    let Ok(h) = parse_header(d) else {
        return P::More;
    };
    // Z bit set: not a message of today's DNS.
    if !matches!(h.opcode(), 0 | 2 | 4 | 5) || h.flags & 0x0040 != 0 {
        return P::No;
    }
    let (qd, an, ns, ar) = (h.qdcount, h.ancount, h.nscount, h.arcount);
    if qd > 4 || an > 256 || ns > 256 || ar > 256 {
        return P::No;
    }
    if h.is_response() {
        if qd == 0 && an == 0 {
            return P::No;
        }
    } else if qd == 0 || h.rcode() != 0 {
        return P::No;
    }
    // The first name (of the question, or of the first answer when there is no question);
    // nothing precedes it, so it cannot be compressed.
    let mut pos = HEADER_LEN;
    let mut name_len = 0usize;
    loop {
        let l = usize::from(need!(at(d, pos)));
        pos += 1;
        if l == 0 {
            break;
        }
        if l > MAX_LABEL {
            return P::No;
        }
        name_len += l + 1;
        if name_len > MAX_NAME {
            return P::No;
        }
        pos += l;
    }
    let qtype = need!(be16(d, pos));
    let class = need!(be16(d, pos + 2)) & 0x7fff; // mDNS: top bit = unicast-response/cache-flush
    if qtype == 0 || !matches!(class, 1 | 3 | 4 | 254 | 255) {
        return P::No;
    }
    P::Yes(Confidence::High)
}

/// DNS over UDP: the datagram is the message.
pub fn udp(d: &[u8]) -> P<Confidence> {
    match message(d) {
        // A datagram is complete: a message cut short is not DNS.
        P::More => P::No,
        r => r,
    }
}

/// DNS over TCP: 2-byte length prefix, then the message.
pub fn tcp(d: &[u8]) -> P<Confidence> {
    let len = usize::from(need!(be16(d, 0)));
    if len < HEADER_LEN {
        return P::No;
    }
    let m = need!(from(d, 2));
    message(m.get(..len).unwrap_or(m))
}
