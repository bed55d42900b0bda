//! Is this LDAP? An LDAPMessage: SEQUENCE, message id INTEGER, then a protocolOp application
//! tag and a length that fits in the message. Read with the parser's BER reader and op tags.

#![deny(clippy::indexing_slicing)]

use super::parser::{header, op};
use crate::proto::ber;
use crate::proto::detect::peek::{at, from, from_ber, need, P};
use crate::proto::Confidence;

/// One LDAPMessage at the start of `d` (TCP stream or UDP datagram).
pub fn message(d: &[u8]) -> P<Confidence> {
    if need!(at(d, 0)) != 0x30 {
        return P::No;
    }
    let (_, hl, len) = need!(from_ber(header(d)));
    if len < 5 {
        return P::No;
    }
    let m = need!(from(d, hl));
    if need!(at(m, 0)) != 0x02 {
        return P::No;
    }
    let id_len = usize::from(need!(at(m, 1)));
    if !(1..=4).contains(&id_len) {
        return P::No;
    }
    let op_at = 2 + id_len;
    let tag = need!(at(m, op_at));
    // Constructed [APPLICATION 0..24]; the primitive unbind, del and abandon.
    if !matches!(
        tag,
        op::BIND_REQUEST
            ..=op::EXTENDED_RESPONSE | op::UNBIND_REQUEST | op::DEL_REQUEST | op::ABANDON_REQUEST
    ) {
        return P::No;
    }
    let (op_len, on) = need!(from_ber(ber::length(need!(from(m, op_at + 1)))));
    if (op_at + 1 + on).checked_add(op_len).is_none_or(|e| e > len) {
        return P::No;
    }
    P::Yes(Confidence::High)
}
