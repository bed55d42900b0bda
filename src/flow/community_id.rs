//! Community ID v1 (<https://github.com/corelight/community-id-spec>): a flow hash that other
//! tools (Zeek, Suricata, Arkime) compute the same way, so records can be joined across them.

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

/// ICMP types that have a counterpart (request ↔ reply); used as the "port" pair.
fn icmp4_counterpart(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

fn icmp6_counterpart(t: u8) -> Option<u8> {
    Some(match t {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        144 => 145,
        145 => 144,
        146 => 147,
        147 => 146,
        _ => return None,
    })
}

/// Community ID v1 with seed 0 of a flow given in its client → server orientation.
/// For ICMP/ICMPv6 pass the type as `sport` and the code as `dport`.
pub fn community_id(
    seed: u16,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: u8,
) -> String {
    let (mut sport, mut dport) = (sport, dport);
    let mut one_way = false;
    match proto {
        1 | 58 => {
            let t = sport as u8;
            let other = if proto == 1 {
                icmp4_counterpart(t)
            } else {
                icmp6_counterpart(t)
            };
            match other {
                Some(o) => dport = o as u16,
                None => one_way = true,
            }
            sport = t as u16;
        }
        _ => {}
    }
    let src_b = ip_bytes(src);
    let dst_b = ip_bytes(dst);
    let (s, d) = (src_b.as_slice(), dst_b.as_slice());
    let flip = !one_way && (s > d || (s == d && sport > dport));
    let (a, ap, b, bp) = if flip {
        (d, dport, s, sport)
    } else {
        (s, sport, d, dport)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(a);
    h.update(b);
    h.update([proto, 0]);
    if matches!(proto, 1 | 6 | 17 | 58 | 132) {
        h.update(ap.to_be_bytes());
        h.update(bp.to_be_bytes());
    }
    let digest = h.finalize();
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

enum IpBytes {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl IpBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            IpBytes::V4(b) => b,
            IpBytes::V6(b) => b,
        }
    }
}

fn ip_bytes(ip: IpAddr) -> IpBytes {
    match ip {
        IpAddr::V4(v) => IpBytes::V4(v.octets()),
        IpAddr::V6(v) => IpBytes::V6(v.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from the Community ID specification's baseline (seed 0).
    #[test]
    fn spec_baseline_tcp() {
        let id = community_id(
            0,
            "128.232.110.120".parse().unwrap(),
            34855,
            "66.35.250.204".parse().unwrap(),
            80,
            6,
        );
        assert_eq!(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        // Same flow seen from the other side.
        let rev = community_id(
            0,
            "66.35.250.204".parse().unwrap(),
            80,
            "128.232.110.120".parse().unwrap(),
            34855,
            6,
        );
        assert_eq!(rev, id);
    }

    #[test]
    fn spec_baseline_udp_and_icmp() {
        let udp = community_id(
            0,
            "192.168.1.52".parse().unwrap(),
            54585,
            "8.8.8.8".parse().unwrap(),
            53,
            17,
        );
        assert_eq!(udp, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
        let icmp = community_id(
            0,
            "192.168.0.89".parse().unwrap(),
            8,
            "192.168.0.1".parse().unwrap(),
            0,
            1,
        );
        assert_eq!(icmp, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    }
}
