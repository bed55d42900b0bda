//! Is this TLS? A handshake record (22) of version 3.0..3.4 with a sane length carrying a
//! ClientHello or ServerHello; an SSLv2-compatible ClientHello gives `Low`.

#![deny(clippy::indexing_slicing)]

use super::framing::MAX_RECORD;
use super::parser::{CLIENT_HELLO, CONTENT_HANDSHAKE, SERVER_HELLO};
use crate::proto::detect::peek::{at, be16, need, P};
use crate::proto::Confidence;

/// The first bytes of a TLS stream.
pub fn stream(d: &[u8]) -> P<Confidence> {
    let t = need!(at(d, 0));
    if t & 0x80 != 0 {
        // SSLv2 record header: 2-byte length, msg type 1 (ClientHello), version 3.x.
        if need!(at(d, 2)) != CLIENT_HELLO || need!(at(d, 3)) != 3 || need!(at(d, 4)) > 4 {
            return P::No;
        }
        return P::Yes(Confidence::Low);
    }
    if t != CONTENT_HANDSHAKE || need!(at(d, 1)) != 3 || need!(at(d, 2)) > 4 {
        return P::No;
    }
    let len = need!(be16(d, 3));
    if !(4..=MAX_RECORD).contains(&usize::from(len)) {
        return P::No;
    }
    if !matches!(need!(at(d, 5)), CLIENT_HELLO | SERVER_HELLO) {
        return P::No;
    }
    // Hello version (after the 3-byte handshake length).
    if need!(at(d, 9)) != 3 || need!(at(d, 10)) > 4 {
        return P::No;
    }
    P::Yes(Confidence::High)
}
