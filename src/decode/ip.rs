//! IPv4 / IPv6 (with extension headers), TCP / UDP / ICMP, and the tunnels found above IP:
//! IP-in-IP, 6in4, 4in6, GRE (incl. ERSPAN II/III, transparent Ethernet bridging), VXLAN,
//! VXLAN-GPE, Geneve and Teredo.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::layers::{be16, be32, byte, ether, ethertype};
use super::{Anomaly, Carrier, DecodeConfig, Decoded, Frag, NotIp, Tunnel, UdpTunnel, Vlans, L4};

const TRUNC: NotIp = NotIp::Malformed(Anomaly::Truncated);

/// IANA port of VXLAN-GPE (followed besides [`DecodeConfig::vxlan_port`]).
const VXLAN_GPE_PORT: u16 = 4790;
/// IANA port of Geneve (RFC 8926).
const GENEVE_PORT: u16 = 6081;
/// IANA port of Teredo (RFC 4380): a server's or relay's port, either side of the datagram.
const TEREDO_PORT: u16 = 3544;

/// Most IPv6 extension headers walked before giving up on finding the upper layer.
const MAX_EXT_HEADERS: usize = 16;

/// Decoding state threaded through the layers.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a, 'c> {
    pub data: &'a [u8],
    pub cfg: &'c DecodeConfig,
    pub vlans: Vlans,
    pub tunnel: Tunnel,
    pub anomaly: Option<Anomaly>,
    pub link_hops: u8,
}

impl Ctx<'_, '_> {
    /// Records the first anomaly only.
    #[inline]
    pub fn set_anomaly(&mut self, a: Anomaly) {
        self.anomaly.get_or_insert(a);
    }
}

/// What sits above an IP header (before the transport header is looked at).
struct IpLayer<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ip_len: usize,
    frag: Option<Frag>,
    /// From the upper-layer header to the end of the IP packet (or of the captured bytes).
    payload: &'a [u8],
    /// Byte offset of `payload` in the packet data.
    payload_off: usize,
    v6: bool,
}

/// An IP header at `off`, v4 or v6 by its version nibble.
pub(super) fn ip<'a>(ctx: &mut Ctx<'a, '_>, off: usize) -> Result<Decoded<'a>, NotIp> {
    let first = byte(ctx.data, off).ok_or(TRUNC)?;
    let layer = match first >> 4 {
        4 => ipv4(ctx, off)?,
        6 => ipv6(ctx, off)?,
        _ => return Err(NotIp::Malformed(Anomaly::BadIpVersion)),
    };
    if layer.frag.is_none() && ctx.cfg.decap_tunnels {
        if let Some(d) = tunnel(ctx, &layer)? {
            return Ok(d);
        }
    }
    let l4 = match layer.frag {
        Some(f) if f.offset != 0 => L4::Other {
            payload: layer.payload,
        },
        _ => transport(ctx, layer.proto, layer.v6, layer.payload),
    };
    Ok(Decoded {
        vlans: ctx.vlans,
        tunnel: ctx.tunnel,
        src: layer.src,
        dst: layer.dst,
        proto: layer.proto,
        ip_offset: off,
        ip_len: layer.ip_len,
        frag: layer.frag,
        l4,
        anomaly: ctx.anomaly,
    })
}

fn ipv4<'a>(ctx: &mut Ctx<'a, '_>, off: usize) -> Result<IpLayer<'a>, NotIp> {
    let data = ctx.data;
    let h = data.get(off..off + 20).ok_or(TRUNC)?;
    let ihl = ((h[0] & 0x0f) as usize) * 4;
    if ihl < 20 {
        return Err(NotIp::Malformed(Anomaly::BadIpHeader));
    }
    let avail = data.len() - off;
    if avail < ihl {
        return Err(TRUNC);
    }
    let total = u16::from_be_bytes([h[2], h[3]]) as usize;
    let ip_len = if total == 0 {
        // TSO / segmentation offload captures carry a zero length: use what was captured.
        ctx.set_anomaly(Anomaly::LengthMismatch);
        avail
    } else if total < ihl {
        return Err(NotIp::Malformed(Anomaly::BadIpHeader));
    } else {
        total
    };
    if ip_len > avail {
        ctx.set_anomaly(Anomaly::LengthMismatch);
    }
    let end = off + ip_len.min(avail);
    let ff = u16::from_be_bytes([h[6], h[7]]);
    let more = ff & 0x2000 != 0;
    let foff = u32::from(ff & 0x1fff) * 8;
    let frag = (more || foff != 0).then_some(Frag {
        id: u32::from(u16::from_be_bytes([h[4], h[5]])),
        offset: foff,
        more,
    });
    Ok(IpLayer {
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        proto: h[9],
        ip_len,
        frag,
        payload: data.get(off + ihl..end).unwrap_or_default(),
        payload_off: off + ihl,
        v6: false,
    })
}

fn ipv6<'a>(ctx: &mut Ctx<'a, '_>, off: usize) -> Result<IpLayer<'a>, NotIp> {
    let data = ctx.data;
    let h = data.get(off..off + 40).ok_or(TRUNC)?;
    let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
    let avail = data.len() - off;
    let ip_len = 40 + plen;
    if ip_len > avail {
        ctx.set_anomaly(Anomaly::LengthMismatch);
    }
    let end = off + ip_len.min(avail);
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let mut nh = h[6];
    let mut pos = off + 40;
    let mut frag = None;
    for _ in 0..MAX_EXT_HEADERS {
        let len = match nh {
            0 | 43 | 60 | 135 | 139 | 140 => match byte(data, pos + 1) {
                Some(l) => (l as usize + 1) * 8,
                None => break,
            },
            51 => match byte(data, pos + 1) {
                Some(l) => (l as usize + 2) * 4,
                None => break,
            },
            44 => {
                let (Some(next), Some(fo), Some(id)) =
                    (byte(data, pos), be16(data, pos + 2), be32(data, pos + 4))
                else {
                    break;
                };
                if pos + 8 > end {
                    break;
                }
                let f = Frag {
                    id,
                    offset: u32::from(fo & 0xfff8),
                    more: fo & 1 != 0,
                };
                frag = Some(f);
                nh = next;
                pos += 8;
                if f.offset != 0 {
                    break;
                }
                continue;
            }
            _ => break,
        };
        if pos + len > end {
            ctx.set_anomaly(Anomaly::Truncated);
            break;
        }
        nh = byte(data, pos).unwrap_or(59);
        pos += len;
    }
    Ok(IpLayer {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: nh,
        ip_len,
        frag,
        payload: data.get(pos..end).unwrap_or_default(),
        payload_off: pos,
        v6: true,
    })
}

/// TCP / UDP / ICMP header of `seg` (the IP payload); anything else is [`L4::Other`].
fn transport<'a>(ctx: &mut Ctx<'a, '_>, proto: u8, v6: bool, seg: &'a [u8]) -> L4<'a> {
    match proto {
        6 => {
            let Some(h) = seg.get(..20) else {
                ctx.set_anomaly(Anomaly::Truncated);
                return L4::Other { payload: seg };
            };
            let doff = ((h[12] >> 4) as usize) * 4;
            if doff < 20 {
                ctx.set_anomaly(Anomaly::BadTcpHeader);
                return L4::Other { payload: seg };
            }
            let Some(payload) = seg.get(doff..) else {
                ctx.set_anomaly(Anomaly::Truncated);
                return L4::Other { payload: seg };
            };
            L4::Tcp {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                flags: h[13],
                window: u16::from_be_bytes([h[14], h[15]]),
                payload,
            }
        }
        17 => {
            let Some(h) = seg.get(..8) else {
                ctx.set_anomaly(Anomaly::Truncated);
                return L4::Other { payload: seg };
            };
            let ulen = u16::from_be_bytes([h[4], h[5]]) as usize;
            let rest = seg.get(8..).unwrap_or_default();
            let payload = if ulen < 8 {
                // Zero is legal for IPv6 jumbograms; anything else is broken.
                if ulen != 0 || !v6 {
                    ctx.set_anomaly(Anomaly::BadUdpHeader);
                }
                rest
            } else if ulen - 8 > rest.len() {
                ctx.set_anomaly(Anomaly::LengthMismatch);
                rest
            } else {
                rest.get(..ulen - 8).unwrap_or(rest)
            };
            L4::Udp {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                payload,
            }
        }
        132 => match seg.get(..12) {
            // SCTP common header: ports, verification tag, checksum; then the chunks.
            Some(h) => L4::Sctp {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                payload: seg.get(12..).unwrap_or_default(),
            },
            None => {
                ctx.set_anomaly(Anomaly::Truncated);
                L4::Other { payload: seg }
            }
        },
        1 | 58 if (proto == 58) == v6 => match seg.get(..4) {
            Some(h) => L4::Icmp {
                v6,
                icmp_type: h[0],
                code: h[1],
                payload: seg.get(4..).unwrap_or_default(),
            },
            None => {
                ctx.set_anomaly(Anomaly::Truncated);
                L4::Other { payload: seg }
            }
        },
        _ => L4::Other { payload: seg },
    }
}

/// Follows a tunnel above this IP layer when there is one. `Ok(None)`: not a tunnel (or the
/// inner packet did not decode, or nesting is too deep): the caller reports this layer.
fn tunnel<'a>(ctx: &mut Ctx<'a, '_>, layer: &IpLayer<'a>) -> Result<Option<Decoded<'a>>, NotIp> {
    let data = ctx.data;
    let off = layer.payload_off;
    let kind = match layer.proto {
        4 | 41 => Inner::Ip(off, Meta::None),
        47 => match gre(layer.payload, off) {
            Some(k) => k,
            None => return Ok(None),
        },
        17 => match udp_tunnel(ctx, off) {
            Some(k) => k,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    if ctx.tunnel.depth >= ctx.cfg.max_tunnel_depth {
        ctx.set_anomaly(Anomaly::TunnelTooDeep);
        return Ok(None);
    }
    // The inner layers see the rest of the captured bytes, not just the outer payload: the
    // inner IP header's own length bounds the result (and trims Ethernet padding), and a
    // packet rebuilt by the defragmenter from tunnelled fragments keeps the outer headers'
    // (now too small) lengths.
    let mut inner = *ctx;
    inner.tunnel.depth += 1;
    if layer.proto == 17 {
        let kind = match kind {
            Inner::Ip(_, m) | Inner::Ether(_, m) | Inner::Ethertype(_, _, m) => m.udp_kind(),
        };
        if let (Some(sp), Some(dp)) = (be16(data, off), be16(data, off + 2)) {
            inner.tunnel.udp_carrier = Some(Carrier {
                src: layer.src,
                dst: layer.dst,
                src_port: sp,
                dst_port: dp,
                kind,
            });
        }
    }
    let r = match kind {
        Inner::Ip(o, meta) => {
            meta.apply(&mut inner.tunnel);
            ip(&mut inner, o)
        }
        Inner::Ether(o, meta) => {
            meta.apply(&mut inner.tunnel);
            ether(&mut inner, o)
        }
        Inner::Ethertype(et, o, meta) => {
            meta.apply(&mut inner.tunnel);
            ethertype(&mut inner, et, o)
        }
    };
    match r {
        Ok(d) => Ok(Some(d)),
        Err(NotIp::NonIp) => Ok(None),
        Err(NotIp::Malformed(_)) => {
            ctx.set_anomaly(Anomaly::BadTunnel);
            Ok(None)
        }
    }
}

/// Where a tunnel's inner packet starts.
enum Inner {
    Ip(usize, Meta),
    Ether(usize, Meta),
    Ethertype(u16, usize, Meta),
}

/// Tunnel identifiers learnt on the way in.
#[derive(Clone, Copy)]
enum Meta {
    None,
    Vni(u32),
    Key(u32),
    Erspan(Option<u32>, u16),
    /// Geneve (its VNI is not a VXLAN one: not reported as such).
    Geneve,
    Teredo,
}

impl Meta {
    /// The kind of UDP tunnel these identifiers come from.
    fn udp_kind(self) -> UdpTunnel {
        match self {
            Meta::Geneve => UdpTunnel::Geneve,
            Meta::Teredo => UdpTunnel::Teredo,
            _ => UdpTunnel::Vxlan,
        }
    }

    fn apply(self, t: &mut Tunnel) {
        match self {
            Meta::None | Meta::Geneve | Meta::Teredo => {}
            Meta::Vni(v) => t.vxlan_vni = Some(v),
            Meta::Key(k) => t.gre_key = Some(k),
            Meta::Erspan(k, id) => {
                if k.is_some() {
                    t.gre_key = k;
                }
                t.erspan_id = Some(id);
            }
        }
    }
}

/// GRE version 0 header in `g` (which starts at absolute offset `off`).
fn gre(g: &[u8], off: usize) -> Option<Inner> {
    let flags = be16(g, 0)?;
    if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
        // Version != 0 (PPTP) or source routing: not followed.
        return None;
    }
    let ptype = be16(g, 2)?;
    let mut hlen = 4;
    if flags & 0x8000 != 0 {
        hlen += 4;
    }
    let key = if flags & 0x2000 != 0 {
        let k = be32(g, hlen)?;
        hlen += 4;
        Some(k)
    } else {
        None
    };
    let seq = flags & 0x1000 != 0;
    if seq {
        hlen += 4;
    }
    let key_meta = key.map_or(Meta::None, Meta::Key);
    match ptype {
        0x88BE if !seq => Some(Inner::Ether(off + hlen, key_meta)),
        0x88BE => {
            // ERSPAN type II: version 1, 10-bit session id, 8-byte header.
            let id = be16(g, hlen + 2)? & 0x03ff;
            Some(Inner::Ether(off + hlen + 8, Meta::Erspan(key, id)))
        }
        0x22EB => {
            // ERSPAN type III: 12-byte header, optional 8-byte platform subheader (O bit).
            let id = be16(g, hlen + 2)? & 0x03ff;
            let o = byte(g, hlen + 11)? & 1 != 0;
            let len = if o { 20 } else { 12 };
            Some(Inner::Ether(off + hlen + len, Meta::Erspan(key, id)))
        }
        _ => Some(Inner::Ethertype(ptype, off + hlen, key_meta)),
    }
}

/// The UDP tunnels: VXLAN (configured port), VXLAN-GPE, Geneve, Teredo. `off`: the UDP header.
fn udp_tunnel(ctx: &Ctx<'_, '_>, off: usize) -> Option<Inner> {
    let data = ctx.data;
    let sport = be16(data, off)?;
    let dport = be16(data, off + 2)?;
    let ulen = usize::from(be16(data, off + 4)?);
    let p = off + 8;
    if dport == ctx.cfg.vxlan_port || dport == VXLAN_GPE_PORT {
        let flags = byte(data, p).unwrap_or(0);
        let gpe = dport == VXLAN_GPE_PORT && dport != ctx.cfg.vxlan_port;
        if flags & 0x08 == 0 || ulen < 16 {
            return None;
        }
        let meta = Meta::Vni(be32(data, p + 4).unwrap_or(0) >> 8);
        // VXLAN-GPE with the P bit names the next protocol: 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH.
        return match (gpe && flags & 0x04 != 0, byte(data, p + 3).unwrap_or(0)) {
            (false, _) | (true, 3) => Some(Inner::Ether(p + 8, meta)),
            (true, 1 | 2) => Some(Inner::Ip(p + 8, meta)),
            (true, 4) => Some(Inner::Ethertype(0x894F, p + 8, meta)),
            _ => None,
        };
    }
    if dport == GENEVE_PORT {
        // RFC 8926: version (2 bits, 0), options length in 4-byte words, flags, protocol
        // type (an ethertype: 0x6558 Ethernet), VNI, then the options.
        let b0 = byte(data, p)?;
        if b0 >> 6 != 0 {
            return None;
        }
        let hlen = 8 + usize::from(b0 & 0x3f) * 4;
        if ulen < 8 + hlen {
            return None;
        }
        let ptype = be16(data, p + 2)?;
        return Some(Inner::Ethertype(ptype, p + hlen, Meta::Geneve));
    }
    if sport == TEREDO_PORT || dport == TEREDO_PORT {
        // RFC 4380: an IPv6 packet, maybe after an authentication (type 1) and/or an origin
        // indication (type 0) header. Followed only when the IPv6 header fills the datagram
        // exactly (UDP 3544 may carry anything else).
        let end = off.checked_add(ulen)?;
        let mut q = p;
        if be16(data, q)? == 1 {
            let id_len = usize::from(byte(data, q + 2)?);
            let au_len = usize::from(byte(data, q + 3)?);
            q += 4 + id_len + au_len + 9;
        }
        if be16(data, q)? == 0 {
            q += 8;
        }
        if byte(data, q)? >> 4 != 6 {
            return None;
        }
        let plen = usize::from(be16(data, q + 4)?);
        if q + 40 + plen != end {
            return None;
        }
        return Some(Inner::Ip(q, Meta::Teredo));
    }
    None
}
