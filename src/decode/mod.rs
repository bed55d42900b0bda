//! Decode: captured bytes → a borrowed [`Decoded`] view of the innermost IP packet and its
//! transport header, with the VLAN ids and tunnels it was found inside. No allocation.
//!
//! Layers: Ethernet, 802.1Q/802.1ad (QinQ), MPLS, PPPoE (PPP protocol field full or
//! compressed), NSH (0x894F), Cisco HDLC, Linux SLL/SLL2, BSD/OpenBSD loopback, NFLOG,
//! raw IP, IPv4, IPv6 (extension headers), TCP, UDP, SCTP (ports), ICMP/ICMPv6; tunnels GRE
//! (incl. ERSPAN types I/II/III and transparent Ethernet bridging), VXLAN (UDP/4789),
//! VXLAN-GPE (UDP/4790), Geneve (UDP/6081), Teredo (UDP/3544), IP-in-IP, 6in4, 4in6.
//! IP fragments are reported as such ([`Decoded::frag`]); [`defrag`] puts them back together.

use std::net::IpAddr;

use crate::capture::LinkType;

pub mod defrag;
mod ip;
mod layers;

pub use layers::decode;

/// Every link type [`decode`] reads (others are counted as not decoded): the fuzz target picks
/// among them and the corpus test checks each capture uses one.
pub const LINKTYPES: [LinkType; 12] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::IEEE802_11,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IEEE802_11_RADIOTAP,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType::LINUX_SLL2,
    LinkType::C_HDLC,
];

/// Most VLAN tags kept per packet (outer first); deeper stacks are counted as an anomaly.
pub const MAX_VLANS: usize = 4;

/// VLAN ids, outer first, without allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    ids: [u16; MAX_VLANS],
    len: u8,
}

impl Vlans {
    /// Adds an id; returns false (and keeps the first `MAX_VLANS`) when full.
    pub fn push(&mut self, id: u16) -> bool {
        match self.ids.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = id;
                self.len += 1;
                true
            }
            None => false,
        }
    }
    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The tunnels the innermost packet was carried in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// Number of IP headers outside the innermost one (0 = not tunnelled).
    pub depth: u8,
    /// VXLAN network identifier of the innermost VXLAN encapsulation.
    pub vxlan_vni: Option<u32>,
    /// GRE key of the innermost GRE header that has one.
    pub gre_key: Option<u32>,
    /// ERSPAN session id, when mirrored through ERSPAN.
    pub erspan_id: Option<u16>,
    /// The innermost UDP header that carried the tunnel (VXLAN, Geneve, Teredo): the carrier is
    /// a flow of its own, as Zeek and Suricata (and tshark's conversations) count it.
    pub udp_carrier: Option<Carrier>,
}

/// Which UDP tunnel a [`Carrier`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UdpTunnel {
    /// VXLAN and VXLAN-GPE.
    Vxlan,
    Geneve,
    Teredo,
}

/// The outer UDP endpoints of a UDP-borne tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Carrier {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub kind: UdpTunnel,
}

/// Fragment information of the innermost IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frag {
    /// IPv4 identification (16 bits) or IPv6 fragment header identification (32 bits).
    pub id: u32,
    /// Offset of this fragment's data in the original payload, in bytes.
    pub offset: u32,
    pub more: bool,
}

/// The transport layer of the innermost IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        /// TCP flag byte: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80.
        flags: u8,
        window: u16,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// SCTP: its common header's ports; `payload` is the chunks.
    Sctp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    Icmp {
        /// true for ICMPv6.
        v6: bool,
        icmp_type: u8,
        code: u8,
        payload: &'a [u8],
    },
    /// Another IP protocol, or a non-first fragment (no transport header), or a transport header
    /// that did not decode (then an anomaly is set too). `payload` is the IP payload.
    Other { payload: &'a [u8] },
}

pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// The view of one packet that the flow layer needs.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    pub vlans: Vlans,
    pub tunnel: Tunnel,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the innermost packet's payload (after IPv6 extension headers).
    pub proto: u8,
    /// Byte offset of the innermost IP header in the packet data.
    pub ip_offset: usize,
    /// Length of the innermost IP packet as its header says (header + payload).
    pub ip_len: usize,
    pub frag: Option<Frag>,
    pub l4: L4<'a>,
    /// The first irregularity met while decoding (the packet may still be usable).
    pub anomaly: Option<Anomaly>,
}

/// Irregularities counted per kind; `as_str` names are stable (they appear in status records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anomaly {
    /// Captured bytes end inside a header.
    Truncated,
    /// A length field says more than the captured bytes hold (payload cut to what is there).
    LengthMismatch,
    BadIpVersion,
    BadIpHeader,
    BadTcpHeader,
    BadUdpHeader,
    TooManyVlans,
    /// Tunnels nested deeper than the configured maximum.
    TunnelTooDeep,
    UnsupportedLinkType,
    BadTunnel,
}

impl Anomaly {
    pub const ALL: [Anomaly; 10] = [
        Anomaly::Truncated,
        Anomaly::LengthMismatch,
        Anomaly::BadIpVersion,
        Anomaly::BadIpHeader,
        Anomaly::BadTcpHeader,
        Anomaly::BadUdpHeader,
        Anomaly::TooManyVlans,
        Anomaly::TunnelTooDeep,
        Anomaly::UnsupportedLinkType,
        Anomaly::BadTunnel,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::Truncated => "decode.truncated",
            Anomaly::LengthMismatch => "decode.length_mismatch",
            Anomaly::BadIpVersion => "decode.bad_ip_version",
            Anomaly::BadIpHeader => "decode.bad_ip_header",
            Anomaly::BadTcpHeader => "decode.bad_tcp_header",
            Anomaly::BadUdpHeader => "decode.bad_udp_header",
            Anomaly::TooManyVlans => "decode.too_many_vlans",
            Anomaly::TunnelTooDeep => "decode.tunnel_too_deep",
            Anomaly::UnsupportedLinkType => "decode.unsupported_linktype",
            Anomaly::BadTunnel => "decode.bad_tunnel",
        }
    }
}

/// Why a packet gave no [`Decoded`] view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotIp {
    /// A valid frame that carries no IP (ARP, LLDP, STP, 802.11 management, ...).
    #[error("not an IP packet")]
    NonIp,
    /// Damaged beyond use.
    #[error("malformed packet: {}", .0.as_str())]
    Malformed(Anomaly),
}

#[derive(Clone, Copy, Debug)]
pub struct DecodeConfig {
    /// Decapsulate GRE, VXLAN, IP-in-IP (else the outer packet is the flow).
    pub decap_tunnels: bool,
    /// Most nested tunnels followed.
    pub max_tunnel_depth: u8,
    /// UDP port treated as VXLAN.
    pub vxlan_port: u16,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            decap_tunnels: true,
            max_tunnel_depth: 4,
            vxlan_port: 4789,
        }
    }
}

#[allow(dead_code)]
fn _signature_check(data: &[u8]) -> Result<Decoded<'_>, NotIp> {
    decode(LinkType::ETHERNET, data, &DecodeConfig::default())
}

#[cfg(test)]
mod tests;
