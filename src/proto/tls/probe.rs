//! Is this TLS? A handshake record (22) of version 3.0..3.4 with a sane length carrying a
//! ClientHello or ServerHello; an SSLv2-compatible ClientHello gives `Low`. Over UDP: a DTLS
//! handshake record of epoch 0 carrying a hello fragment whose headers agree ([`datagram`]).

#![deny(clippy::indexing_slicing)]

use super::dtls::{HANDSHAKE_HEADER, RECORD_HEADER};
use super::framing::{MAX_HANDSHAKE, MAX_RECORD};
use super::parser::{CLIENT_HELLO, CONTENT_HANDSHAKE, HELLO_VERIFY_REQUEST, SERVER_HELLO};
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

/// The big-endian 24-bit number at `i`, or "more needed".
fn be24(d: &[u8], i: usize) -> P<usize> {
    let hi = usize::from(need!(at(d, i)));
    let lo = usize::from(need!(be16(d, i + 1)));
    P::Yes((hi << 16) | lo)
}

/// A UDP datagram that starts a DTLS handshake: a handshake record (22) of DTLS 1.0 (0xfeff),
/// 1.2 (0xfefd) or 1.3 (0xfefc, though its records say 0xfefd), epoch 0, its length inside the
/// datagram, holding a ClientHello, HelloVerifyRequest or ServerHello fragment that fits both
/// the record and its message; a first fragment's hello version must be DTLS too. Each of these
/// rules out DNS (whose flags byte would have to be 0xff, 0xfd or 0xfc: opcode 15, unused)
/// and the other UDP protocols.
pub fn datagram(d: &[u8]) -> P<Confidence> {
    if need!(at(d, 0)) != CONTENT_HANDSHAKE
        || need!(at(d, 1)) != 0xfe
        || !matches!(need!(at(d, 2)), 0xff | 0xfd | 0xfc)
        || need!(be16(d, 3)) != 0
    {
        return P::No;
    }
    let len = usize::from(need!(be16(d, 11)));
    if len < HANDSHAKE_HEADER {
        return P::No;
    }
    if !matches!(
        need!(at(d, RECORD_HEADER)),
        CLIENT_HELLO | SERVER_HELLO | HELLO_VERIFY_REQUEST
    ) {
        return P::No;
    }
    let total = need!(be24(d, 14));
    let off = need!(be24(d, 19));
    let flen = need!(be24(d, 22));
    if flen == 0 || HANDSHAKE_HEADER + flen > len || off + flen > total || total > MAX_HANDSHAKE {
        return P::No;
    }
    if off == 0 && need!(at(d, RECORD_HEADER + HANDSHAKE_HEADER)) != 0xfe {
        return P::No;
    }
    // The whole record is in the datagram.
    if d.len() < RECORD_HEADER + len {
        return P::More;
    }
    P::Yes(Confidence::High)
}
