//! The canonical flow key and the symmetric flow hash.
//!
//! Both directions of a connection map to the same [`FlowKey`]: the endpoint that sorts lower
//! (address, then port) is stored first. Hashing the canonical key is therefore symmetric, which
//! is what pins both directions of a flow to one worker.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};

use crate::decode::{Decoded, Vlans, L4};

/// An endpoint address in one fixed-size form (IPv4 as IPv4-mapped IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    pub fn from_ip(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => Addr(v6.octets()),
        }
    }
    pub fn to_ip(self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.0);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

/// Canonical (direction-free) identity of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Addr,
    pub hi: Addr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
    pub vlans: Vlans,
}

impl FlowKey {
    /// The key of a decoded packet, and whether the packet travels from `lo` to `hi`.
    /// ICMP and other protocols have ports 0. `vlan_in_key` false ignores VLAN ids.
    pub fn of(d: &Decoded<'_>, vlan_in_key: bool) -> (FlowKey, bool) {
        let (sp, dp) = ports(&d.l4);
        let s = Addr::from_ip(d.src);
        let t = Addr::from_ip(d.dst);
        let vlans = if vlan_in_key {
            d.vlans
        } else {
            Vlans::default()
        };
        if (s, sp) <= (t, dp) {
            (
                FlowKey {
                    lo: s,
                    hi: t,
                    lo_port: sp,
                    hi_port: dp,
                    proto: d.proto,
                    vlans,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    lo: t,
                    hi: s,
                    lo_port: dp,
                    hi_port: sp,
                    proto: d.proto,
                    vlans,
                },
                false,
            )
        }
    }

    /// Symmetric hash with the given hasher state.
    pub fn hash_with<S: BuildHasher>(&self, s: &S) -> u64 {
        s.hash_one(self)
    }
}

/// Transport ports of a packet (0 for protocols without ports).
pub fn ports(l4: &L4<'_>) -> (u16, u16) {
    match *l4 {
        L4::Tcp {
            src_port, dst_port, ..
        }
        | L4::Udp {
            src_port, dst_port, ..
        }
        | L4::Sctp {
            src_port, dst_port, ..
        } => (src_port, dst_port),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Tunnel, L4};
    use std::net::Ipv4Addr;

    fn pkt(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Decoded<'static> {
        Decoded {
            vlans: Vlans::default(),
            tunnel: Tunnel::default(),
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            proto: 6,
            ip_offset: 14,
            ip_len: 40,
            frag: None,
            l4: L4::Tcp {
                src_port: sp,
                dst_port: dp,
                seq: 0,
                ack: 0,
                flags: 0,
                window: 0,
                payload: &[],
            },
            anomaly: None,
        }
    }

    #[test]
    fn both_directions_give_one_key_and_hash() {
        let a = pkt([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80);
        let b = pkt([10, 0, 0, 2], 80, [10, 0, 0, 1], 40000);
        let (ka, fa) = FlowKey::of(&a, true);
        let (kb, fb) = FlowKey::of(&b, true);
        assert_eq!(ka, kb);
        assert_ne!(fa, fb);
        let s = foldhash::fast::FixedState::with_seed(7);
        assert_eq!(ka.hash_with(&s), kb.hash_with(&s));
    }

    #[test]
    fn same_host_pair_other_ports_differ() {
        let a = pkt([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80);
        let b = pkt([10, 0, 0, 1], 40001, [10, 0, 0, 2], 80);
        assert_ne!(FlowKey::of(&a, true).0, FlowKey::of(&b, true).0);
    }

    #[test]
    fn addr_roundtrip() {
        for ip in ["192.0.2.1", "2001:db8::1", "::1", "0.0.0.0"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(Addr::from_ip(ip).to_ip(), ip);
        }
    }
}
