//! Is this Kerberos? A KDC message (AS-REQ/REP, TGS-REQ/REP, KRB-ERROR): its application tag,
//! a DER length, a SEQUENCE, then `pvno` = 5; over TCP behind a 4-byte record mark.

#![deny(clippy::indexing_slicing)]

use super::parser::{TAG_AS_REP, TAG_AS_REQ, TAG_KRB_ERROR, TAG_TGS_REP, TAG_TGS_REQ};
use crate::proto::ber;
use crate::proto::detect::peek::{at, be16, from, from_ber, need, starts, P};
use crate::proto::Confidence;

/// One KDC message. `total`: the size the whole message must have, when known.
fn message(d: &[u8], total: Option<usize>) -> P<Confidence> {
    let tag = need!(at(d, 0));
    let pvno_tag = match tag {
        TAG_AS_REQ | TAG_TGS_REQ => 0xa1, // KDC-REQ: pvno [1]
        TAG_AS_REP | TAG_TGS_REP | TAG_KRB_ERROR => 0xa0, // KDC-REP, KRB-ERROR: pvno [0]
        _ => return P::No,
    };
    let (len, n) = need!(peek_len(need!(from(d, 1))));
    if len < 12 || total.is_some_and(|t| Some(t) != (1 + n).checked_add(len)) {
        return P::No;
    }
    let seq = need!(from(d, 1 + n));
    if need!(at(seq, 0)) != 0x30 {
        return P::No;
    }
    let (slen, sn) = need!(peek_len(need!(from(seq, 1))));
    if (1 + sn).checked_add(slen) != Some(len) {
        return P::No;
    }
    need!(starts(
        need!(from(seq, 1 + sn)),
        &[pvno_tag, 0x03, 0x02, 0x01, 0x05],
        false
    ));
    P::Yes(Confidence::High)
}

fn peek_len(d: &[u8]) -> P<(usize, usize)> {
    from_ber(ber::length(d))
}

/// Kerberos over UDP: one whole message per datagram.
pub fn udp(d: &[u8]) -> P<Confidence> {
    message(d, Some(d.len()))
}

/// Kerberos over TCP: a 4-byte record mark (length, top bit reserved) then the message.
pub fn tcp(d: &[u8]) -> P<Confidence> {
    let hi = need!(be16(d, 0));
    let lo = need!(be16(d, 2));
    let len = (u32::from(hi) << 16) | u32::from(lo);
    if !(14..=1 << 20).contains(&len) {
        return P::No;
    }
    message(need!(from(d, 4)), usize::try_from(len).ok())
}
