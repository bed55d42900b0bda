//! Probes of the protocols that have no parser folder (yet): SSH, SMB, DHCP, QUIC, NTP.

#![deny(clippy::indexing_slicing)]

use super::peek::{at, be16, from, need, starts, P};
use crate::proto::Confidence;

/// An SSH version banner.
pub fn ssh(d: &[u8]) -> P<Confidence> {
    match (starts(d, b"SSH-2.0-", false), starts(d, b"SSH-1.", false)) {
        (P::Yes(()), _) | (_, P::Yes(())) => P::Yes(Confidence::High),
        (P::More, _) | (_, P::More) => P::More,
        _ => P::No,
    }
}

/// NetBIOS session message carrying SMB1 (0xFF), SMB2/3 (0xFE) or an SMB3 transform (0xFD).
pub fn smb(d: &[u8]) -> P<Confidence> {
    if need!(at(d, 0)) != 0 {
        return P::No;
    }
    let len = (usize::from(need!(at(d, 1))) << 16) | usize::from(need!(be16(d, 2)));
    if len < 32 {
        return P::No;
    }
    if !matches!(need!(at(d, 4)), 0xfd..=0xff) {
        return P::No;
    }
    need!(starts(need!(from(d, 5)), b"SMB", false));
    P::Yes(Confidence::High)
}

/// DHCP/BOOTP: op 1/2, Ethernet hardware type and length, magic cookie.
pub fn dhcp(d: &[u8]) -> P<Confidence> {
    if !matches!(need!(at(d, 0)), 1 | 2) || need!(at(d, 1)) != 1 || need!(at(d, 2)) != 6 {
        return P::No;
    }
    match d.get(236..240) {
        Some([0x63, 0x82, 0x53, 0x63]) => P::Yes(Confidence::High),
        Some(_) => P::No,
        None => P::More,
    }
}

/// QUIC long header with a known version (v1, v2, drafts, version negotiation).
pub fn quic(d: &[u8]) -> P<Confidence> {
    if need!(at(d, 0)) & 0xc0 != 0xc0 {
        return P::No;
    }
    let v = (u32::from(need!(be16(d, 1))) << 16) | u32::from(need!(be16(d, 3)));
    if !(v == 0 || v == 1 || v == 0x6b33_43cf || v & 0xffff_ff00 == 0xff00_0000) {
        return P::No;
    }
    if need!(at(d, 5)) > 20 {
        return P::No;
    }
    P::Yes(Confidence::Low)
}

/// NTP: version 1..4, mode 1..5, at least the 48-byte header.
pub fn ntp(d: &[u8]) -> P<Confidence> {
    let b = need!(at(d, 0));
    let (vn, mode) = ((b >> 3) & 7, b & 7);
    if !(1..=4).contains(&vn) || !(1..=5).contains(&mode) {
        return P::No;
    }
    if d.len() < 48 {
        return P::More;
    }
    P::Yes(Confidence::Low)
}
