//! Link layers (Ethernet, VLAN, MPLS, PPPoE, NSH, Cisco HDLC, SLL/SLL2, loopback, NFLOG,
//! 802.11/radiotap) and the dispatch to the IP layer.
//!
//! All parsers here are small hand-written readers over `&[u8]` with bounds-checked accessors:
//! they are simpler and faster than a generic slicer for these fixed layouts. The IP and
//! transport layers live in [`super::ip`].

use super::ip::{ip, Ctx};
use super::{Anomaly, DecodeConfig, Decoded, NotIp, Tunnel, Vlans};
use crate::capture::LinkType;

/// Most link-layer headers (Ethernet / MPLS pseudowire) followed in one packet; stops loops of
/// nested encapsulations that carry no IP header in between.
const MAX_LINK_HOPS: u8 = 16;

/// Reads a big-endian u16 at `off`.
#[inline]
pub(super) fn be16(data: &[u8], off: usize) -> Option<u16> {
    match data.get(off..off.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// Reads a big-endian u32 at `off`.
#[inline]
pub(super) fn be32(data: &[u8], off: usize) -> Option<u32> {
    match data.get(off..off.checked_add(4)?) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// Reads a little-endian u16 at `off`.
#[inline]
pub(super) fn le16(data: &[u8], off: usize) -> Option<u16> {
    be16(data, off).map(u16::swap_bytes)
}

/// Reads the byte at `off`.
#[inline]
pub(super) fn byte(data: &[u8], off: usize) -> Option<u8> {
    data.get(off).copied()
}

const TRUNC: NotIp = NotIp::Malformed(Anomaly::Truncated);

/// Decodes one captured packet of the given link type down to its innermost IP packet.
///
/// Zero-copy and allocation-free: every slice in the result borrows `data`.
pub fn decode<'a>(
    linktype: LinkType,
    data: &'a [u8],
    cfg: &DecodeConfig,
) -> Result<Decoded<'a>, NotIp> {
    let mut ctx = Ctx {
        data,
        cfg,
        vlans: Vlans::default(),
        tunnel: Tunnel::default(),
        anomaly: None,
        link_hops: 0,
    };
    match linktype {
        LinkType::ETHERNET => ether(&mut ctx, 0),
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => ip(&mut ctx, 0),
        LinkType::NULL => {
            let b = data.get(0..4).ok_or(TRUNC)?;
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            if is_af(le) || is_af(be) {
                ip(&mut ctx, 4)
            } else {
                Err(NotIp::NonIp)
            }
        }
        LinkType::LOOP => {
            if is_af(be32(data, 0).ok_or(TRUNC)?) {
                ip(&mut ctx, 4)
            } else {
                Err(NotIp::NonIp)
            }
        }
        LinkType::LINUX_SLL => {
            let proto = be16(data, 14).ok_or(TRUNC)?;
            ethertype(&mut ctx, proto, 16)
        }
        LinkType::LINUX_SLL2 => {
            let proto = be16(data, 0).ok_or(TRUNC)?;
            if data.len() < 20 {
                return Err(TRUNC);
            }
            ethertype(&mut ctx, proto, 20)
        }
        LinkType::NFLOG => nflog(&mut ctx),
        LinkType::C_HDLC => {
            // Address (0x0F unicast, 0x8F broadcast), control (0), then an ethertype.
            let proto = be16(data, 2).ok_or(TRUNC)?;
            ethertype(&mut ctx, proto, 4)
        }
        LinkType::IEEE802_11 => wifi(&mut ctx, 0),
        LinkType::IEEE802_11_RADIOTAP => {
            let len = le16(data, 2).ok_or(TRUNC)? as usize;
            if byte(data, 0) != Some(0) || len < 8 {
                return Err(NotIp::Malformed(Anomaly::Truncated));
            }
            wifi(&mut ctx, len)
        }
        _ => Err(NotIp::Malformed(Anomaly::UnsupportedLinkType)),
    }
}

/// BSD address families for IPv4 (2) and IPv6 (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS).
#[inline]
fn is_af(af: u32) -> bool {
    matches!(af, 2 | 24 | 28 | 30)
}

/// Ethernet II or 802.3 (LLC/SNAP) frame at `off`.
pub(super) fn ether<'a>(ctx: &mut Ctx<'a, '_>, off: usize) -> Result<Decoded<'a>, NotIp> {
    ctx.link_hops += 1;
    if ctx.link_hops > MAX_LINK_HOPS {
        return Err(NotIp::Malformed(Anomaly::BadTunnel));
    }
    let et = be16(ctx.data, off + 12).ok_or(TRUNC)?;
    ethertype(ctx, et, off + 14)
}

/// Dispatches on an ethertype whose payload starts at `off` (VLAN tags, MPLS, PPPoE, IP).
pub(super) fn ethertype<'a>(
    ctx: &mut Ctx<'a, '_>,
    mut et: u16,
    mut off: usize,
) -> Result<Decoded<'a>, NotIp> {
    let data = ctx.data;
    loop {
        match et {
            0x0800 | 0x86DD => return ip(ctx, off),
            0x8100 | 0x88A8 | 0x9100 | 0x9200 => {
                let tci = be16(data, off).ok_or(TRUNC)?;
                if !ctx.vlans.push(tci & 0x0fff) {
                    ctx.set_anomaly(Anomaly::TooManyVlans);
                }
                et = be16(data, off + 2).ok_or(TRUNC)?;
                off += 4;
            }
            0x8847 | 0x8848 => return mpls(ctx, off),
            0x8864 => {
                // PPPoE session: ver/type, code, session id, length, then the PPP protocol:
                // two bytes, or one when compressed (RFC 1661 PFC: an odd first byte).
                let first = byte(data, off + 6).ok_or(TRUNC)?;
                let (proto, at) = if first & 1 == 1 {
                    (u16::from(first), off + 7)
                } else {
                    (be16(data, off + 6).ok_or(TRUNC)?, off + 8)
                };
                return match proto {
                    0x0021 | 0x0057 => ip(ctx, at),
                    _ => Err(NotIp::NonIp),
                };
            }
            0x894F => {
                // NSH (RFC 8300): version 0, length in 4-byte words (at least the 8-byte base
                // and service path headers), next protocol 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH,
                // 5 MPLS.
                ctx.link_hops += 1;
                if ctx.link_hops > MAX_LINK_HOPS {
                    return Err(NotIp::Malformed(Anomaly::BadTunnel));
                }
                let b0 = byte(data, off).ok_or(TRUNC)?;
                let len = usize::from(be16(data, off).ok_or(TRUNC)? & 0x3f) * 4;
                let next = byte(data, off + 3).ok_or(TRUNC)?;
                if b0 >> 6 != 0 || len < 8 {
                    return Err(NotIp::Malformed(Anomaly::BadTunnel));
                }
                if data.len() < off + len {
                    return Err(TRUNC);
                }
                let inner = off + len;
                match next {
                    1 | 2 => return ip(ctx, inner),
                    3 => return ether(ctx, inner),
                    4 => {
                        et = 0x894F;
                        off = inner;
                    }
                    5 => return mpls(ctx, inner),
                    _ => return Err(NotIp::NonIp),
                }
            }
            0x6558 => return ether(ctx, off),
            // 802.3 length field: LLC, maybe SNAP with an ethertype.
            0..=1500 => {
                let llc = data.get(off..off + 3).ok_or(TRUNC)?;
                if llc != [0xAA, 0xAA, 0x03] {
                    return Err(NotIp::NonIp);
                }
                et = be16(data, off + 6).ok_or(TRUNC)?;
                off += 8;
                if et <= 1500 {
                    return Err(NotIp::NonIp);
                }
            }
            _ => return Err(NotIp::NonIp),
        }
    }
}

/// MPLS label stack at `off`: skip to bottom of stack, then IP by version nibble, or a
/// pseudowire control word (first nibble 0) followed by Ethernet.
fn mpls<'a>(ctx: &mut Ctx<'a, '_>, mut off: usize) -> Result<Decoded<'a>, NotIp> {
    let data = ctx.data;
    loop {
        let entry = be32(data, off).ok_or(TRUNC)?;
        off += 4;
        if entry & 0x100 != 0 {
            break;
        }
    }
    match byte(data, off).ok_or(TRUNC)? >> 4 {
        4 | 6 => ip(ctx, off),
        0 => ether(ctx, off + 4),
        _ => Err(NotIp::NonIp),
    }
}

/// NFLOG: 4-byte header (family, version, resource id) then TLVs with little-endian lengths
/// padded to 4 bytes; the packet is in the NFULA_PAYLOAD (9) TLV.
fn nflog<'a>(ctx: &mut Ctx<'a, '_>) -> Result<Decoded<'a>, NotIp> {
    let data = ctx.data;
    let family = byte(data, 0).ok_or(TRUNC)?;
    if family != 2 && family != 10 {
        return Err(NotIp::NonIp);
    }
    let mut off = 4usize;
    while off < data.len() {
        let len = le16(data, off).ok_or(TRUNC)? as usize;
        let ty = le16(data, off + 2).ok_or(TRUNC)?;
        if len < 4 {
            return Err(TRUNC);
        }
        if ty & 0x7fff == 9 {
            // The payload TLV: the IP packet. Limit the view to the TLV.
            let end = (off + len).min(data.len());
            let sub = data.get(..end).ok_or(TRUNC)?;
            let mut inner = Ctx { data: sub, ..*ctx };
            let r = ip(&mut inner, off + 4);
            if end < off + len {
                return r.map(|mut d| {
                    d.anomaly.get_or_insert(Anomaly::LengthMismatch);
                    d
                });
            }
            return r;
        }
        off += (len + 3) & !3;
    }
    Err(NotIp::NonIp)
}

/// IEEE 802.11 frame at `off`: data frames (incl. QoS) with LLC/SNAP are followed, everything
/// else (management, control, null data, protected) is not IP to us.
fn wifi<'a>(ctx: &mut Ctx<'a, '_>, off: usize) -> Result<Decoded<'a>, NotIp> {
    let data = ctx.data;
    let fc0 = byte(data, off).ok_or(TRUNC)?;
    let fc1 = byte(data, off + 1).ok_or(TRUNC)?;
    let ftype = (fc0 >> 2) & 3;
    let subtype = fc0 >> 4;
    if ftype != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        return Err(NotIp::NonIp);
    }
    let mut hlen = 24;
    if fc1 & 0x03 == 0x03 {
        hlen += 6;
    }
    if subtype & 0x8 != 0 {
        hlen += 2;
        if fc1 & 0x80 != 0 {
            hlen += 4;
        }
    }
    let llc = off + hlen;
    let snap = data.get(llc..llc + 3).ok_or(TRUNC)?;
    if snap != [0xAA, 0xAA, 0x03] {
        return Err(NotIp::NonIp);
    }
    let et = be16(data, llc + 6).ok_or(TRUNC)?;
    match et {
        0x0800 | 0x86DD | 0x8100 => ethertype(ctx, et, llc + 8),
        _ => Err(NotIp::NonIp),
    }
}
