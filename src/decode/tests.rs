//! Byte-fixture tests for every layer and tunnel of the decoder, and for the defragmenter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use etherparse::PacketBuilder;

use super::defrag::{DefragConfig, Defragmenter};
use super::*;

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];
const C4: [u8; 4] = [192, 168, 1, 1];
const D4: [u8; 4] = [192, 168, 1, 2];
const A6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn cfg() -> DecodeConfig {
    DecodeConfig::default()
}

fn udp4(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp4(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(A4, B4, 64)
        .tcp(1234, 80, 1000, 4096)
        .syn()
        .ack(77)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn udp6(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(A6, B6, 64)
        .udp(5353, 53)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn eth(et: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![0xaa; 6];
    v.extend_from_slice(&[0xbb; 6]);
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(inner);
    v
}

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

fn ports(d: &Decoded<'_>) -> (u16, u16, usize) {
    match d.l4 {
        L4::Tcp {
            src_port,
            dst_port,
            payload,
            ..
        }
        | L4::Udp {
            src_port,
            dst_port,
            payload,
        } => (src_port, dst_port, payload.len()),
        other => panic!("no ports: {other:?}"),
    }
}

fn assert_udp4(d: &Decoded<'_>, payload_len: usize) {
    assert_eq!(d.src, ip(A4));
    assert_eq!(d.dst, ip(B4));
    assert_eq!(d.proto, 17);
    assert_eq!(ports(d), (1000, 2000, payload_len));
}

#[test]
fn ethernet_tcp_with_padding() {
    let pkt = tcp4(b"hi");
    let mut frame = eth(0x0800, &pkt);
    frame.resize(60, 0xee); // Ethernet minimum frame padding
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.ip_offset, 14);
    assert_eq!(d.ip_len, pkt.len());
    assert_eq!(d.anomaly, None);
    match d.l4 {
        L4::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            payload,
        } => {
            assert_eq!(
                (src_port, dst_port, seq, ack, window),
                (1234, 80, 1000, 77, 4096)
            );
            assert_eq!(flags, tcp_flags::SYN | tcp_flags::ACK);
            assert_eq!(payload, b"hi");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn llc_snap_and_non_ip() {
    let pkt = udp4(A4, B4, 1000, 2000, b"abc");
    let mut inner = vec![0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
    inner.extend_from_slice(&pkt);
    let frame = eth(inner.len() as u16, &inner);
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_udp4(&d, 3);
    assert_eq!(d.ip_offset, 22);
    // STP (LLC 0x42) and ARP are not IP.
    let stp = eth(10, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        decode(LinkType::ETHERNET, &stp, &cfg()).unwrap_err(),
        NotIp::NonIp
    );
    let arp = eth(0x0806, &[0; 28]);
    assert_eq!(
        decode(LinkType::ETHERNET, &arp, &cfg()).unwrap_err(),
        NotIp::NonIp
    );
}

fn tags(tpids: &[(u16, u16)], et: u16, inner: &[u8]) -> Vec<u8> {
    // Ethernet with a tag stack: (tpid, id) outer first, then `et`.
    let mut body = Vec::new();
    for (i, (_, id)) in tpids.iter().enumerate() {
        body.extend_from_slice(&id.to_be_bytes());
        let next = tpids.get(i + 1).map_or(et, |t| t.0);
        body.extend_from_slice(&next.to_be_bytes());
    }
    body.extend_from_slice(inner);
    eth(tpids[0].0, &body)
}

#[test]
fn qinq_and_too_many_vlans() {
    let pkt = udp4(A4, B4, 1000, 2000, b"x");
    let frame = tags(&[(0x88A8, 100), (0x8100, 200)], 0x0800, &pkt);
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.vlans.as_slice(), &[100, 200]);
    assert_udp4(&d, 1);
    let frame = tags(
        &[
            (0x9100, 1),
            (0x8100, 2),
            (0x8100, 3),
            (0x8100, 4),
            (0x8100, 5),
        ],
        0x0800,
        &pkt,
    );
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.vlans.as_slice(), &[1, 2, 3, 4]);
    assert_eq!(d.anomaly, Some(Anomaly::TooManyVlans));
    assert_udp4(&d, 1);
}

fn mpls_label(label: u32, bos: bool) -> [u8; 4] {
    ((label << 12) | if bos { 0x100 } else { 0 } | 64).to_be_bytes()
}

#[test]
fn mpls_stack_and_pseudowire() {
    let pkt = udp4(A4, B4, 1000, 2000, b"mpls");
    let mut body = Vec::new();
    body.extend_from_slice(&mpls_label(16, false));
    body.extend_from_slice(&mpls_label(17, true));
    body.extend_from_slice(&pkt);
    let frame = tags(&[(0x8100, 7)], 0x8847, &body);
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.vlans.as_slice(), &[7]);
    assert_udp4(&d, 4);
    // Pseudowire: control word then Ethernet carrying IPv6.
    let mut body = Vec::new();
    body.extend_from_slice(&mpls_label(18, true));
    body.extend_from_slice(&[0, 0, 0, 0]);
    body.extend_from_slice(&eth(0x86DD, &udp6(b"pw")));
    let frame = eth(0x8848, &body);
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.src, IpAddr::from(A6));
    assert_eq!(ports(&d), (5353, 53, 2));
}

#[test]
fn pppoe_session() {
    let pkt = udp6(b"ppp");
    let mut body = vec![0x11, 0x00, 0x00, 0x01];
    body.extend_from_slice(&((pkt.len() + 2) as u16).to_be_bytes());
    body.extend_from_slice(&[0x00, 0x57]);
    body.extend_from_slice(&pkt);
    let frame = eth(0x8864, &body);
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.dst, IpAddr::from(B6));
    assert_eq!(d.ip_offset, 22);
    // LCP is not IP.
    body[6..8].copy_from_slice(&[0xc0, 0x21]);
    assert_eq!(
        decode(LinkType::ETHERNET, &eth(0x8864, &body), &cfg()).unwrap_err(),
        NotIp::NonIp
    );
}

#[test]
fn cooked_loopback_raw_link_types() {
    let pkt = udp4(A4, B4, 1000, 2000, b"12345");
    let v6 = udp6(b"6");
    // SLL: 16 bytes, protocol at 14.
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    sll.extend_from_slice(&pkt);
    assert_udp4(&decode(LinkType::LINUX_SLL, &sll, &cfg()).unwrap(), 5);
    // SLL2: 20 bytes, protocol first.
    let mut sll2 = vec![0x86, 0xDD];
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend_from_slice(&v6);
    let d = decode(LinkType::LINUX_SLL2, &sll2, &cfg()).unwrap();
    assert_eq!((d.ip_offset, d.src), (20, IpAddr::from(A6)));
    // NULL: host order, either byte order accepted; 30 = macOS AF_INET6.
    for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let mut n = af.to_vec();
        n.extend_from_slice(&pkt);
        assert_udp4(&decode(LinkType::NULL, &n, &cfg()).unwrap(), 5);
    }
    let mut n = 30u32.to_le_bytes().to_vec();
    n.extend_from_slice(&v6);
    assert_eq!(decode(LinkType::NULL, &n, &cfg()).unwrap().proto, 17);
    let mut n = 7u32.to_le_bytes().to_vec();
    n.extend_from_slice(&v6);
    assert_eq!(
        decode(LinkType::NULL, &n, &cfg()).unwrap_err(),
        NotIp::NonIp
    );
    // LOOP: network order.
    let mut l = 24u32.to_be_bytes().to_vec();
    l.extend_from_slice(&v6);
    assert_eq!(decode(LinkType::LOOP, &l, &cfg()).unwrap().ip_offset, 4);
    // Raw.
    assert_udp4(&decode(LinkType::RAW, &pkt, &cfg()).unwrap(), 5);
    assert_udp4(&decode(LinkType::IPV4, &pkt, &cfg()).unwrap(), 5);
    assert_eq!(
        decode(LinkType::IPV6, &v6, &cfg()).unwrap().dst,
        IpAddr::from(B6)
    );
    assert_eq!(
        decode(LinkType(9999), &pkt, &cfg()).unwrap_err(),
        NotIp::Malformed(Anomaly::UnsupportedLinkType)
    );
}

#[test]
fn nflog_tlvs() {
    let pkt = udp4(A4, B4, 1000, 2000, b"nflog");
    let mut n = vec![2, 0, 0, 1];
    // NFULA_PREFIX (10) of 5 bytes data: length 9, padded to 12.
    n.extend_from_slice(&9u16.to_le_bytes());
    n.extend_from_slice(&10u16.to_le_bytes());
    n.extend_from_slice(b"abcde\0\0\0");
    n.extend_from_slice(&((pkt.len() + 4) as u16).to_le_bytes());
    n.extend_from_slice(&9u16.to_le_bytes());
    n.extend_from_slice(&pkt);
    n.extend_from_slice(&[0; 3]); // padding
    let d = decode(LinkType::NFLOG, &n, &cfg()).unwrap();
    assert_udp4(&d, 5);
    assert_eq!(d.ip_offset, 20);
    assert_eq!(d.anomaly, None);
    // No payload TLV: not IP.
    assert_eq!(
        decode(LinkType::NFLOG, &n[..16], &cfg()).unwrap_err(),
        NotIp::NonIp
    );
}

fn wifi_data(fc0: u8, fc1: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![fc0, fc1, 0, 0];
    f.extend_from_slice(&[0x11; 18]); // 3 addresses
    f.extend_from_slice(&[0, 0]); // sequence control
    if fc0 & 0x80 != 0 {
        f.extend_from_slice(&[0, 0]); // QoS control
    }
    f.extend_from_slice(body);
    f
}

#[test]
fn radiotap_80211() {
    let pkt = udp4(A4, B4, 1000, 2000, b"wifi");
    let mut llc = vec![0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
    llc.extend_from_slice(&pkt);
    let mut rt = vec![0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    rt.extend_from_slice(&wifi_data(0x88, 0x01, &llc)); // QoS data, to DS
    let d = decode(LinkType::IEEE802_11_RADIOTAP, &rt, &cfg()).unwrap();
    assert_udp4(&d, 4);
    assert_eq!(d.ip_offset, 12 + 26 + 8);
    let plain = wifi_data(0x08, 0x02, &llc);
    assert_udp4(&decode(LinkType::IEEE802_11, &plain, &cfg()).unwrap(), 4);
    // Beacon (management) and protected data are not IP.
    let beacon = wifi_data(0x80 & 0x0f, 0, &[0; 20]);
    assert_eq!(
        decode(LinkType::IEEE802_11, &beacon, &cfg()).unwrap_err(),
        NotIp::NonIp
    );
    let prot = wifi_data(0x08, 0x41, &llc);
    assert_eq!(
        decode(LinkType::IEEE802_11, &prot, &cfg()).unwrap_err(),
        NotIp::NonIp
    );
}

/// An outer IPv4 header (protocol `proto`) around `inner`.
fn outer4(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    h.extend_from_slice(&C4);
    h.extend_from_slice(&D4);
    h[2..4].copy_from_slice(&((20 + inner.len()) as u16).to_be_bytes());
    h.extend_from_slice(inner);
    h
}

fn gre(flags: u16, ptype: u16, opts: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&ptype.to_be_bytes());
    g.extend_from_slice(opts);
    g.extend_from_slice(inner);
    g
}

#[test]
fn gre_variants() {
    let pkt = udp4(A4, B4, 1000, 2000, b"gre");
    // Checksum + key + sequence, IPv4 payload.
    let g = gre(0xB000, 0x0800, &[0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1], &pkt);
    let mut frame = eth(0x0800, &outer4(47, &g));
    frame.extend_from_slice(&[0; 6]); // trailer
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_udp4(&d, 3);
    assert_eq!(d.tunnel.depth, 1);
    assert_eq!(d.tunnel.gre_key, Some(42));
    assert_eq!(d.ip_offset, 14 + 20 + 16);
    // Transparent Ethernet bridging with a key.
    let g = gre(
        0x2000,
        0x6558,
        &[0, 0, 0, 9],
        &tags(&[(0x8100, 5)], 0x0800, &pkt),
    );
    let frame = eth(0x0800, &outer4(47, &g));
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_udp4(&d, 3);
    assert_eq!(
        (d.tunnel.gre_key, d.vlans.as_slice()),
        (Some(9), &[5u16][..])
    );
    // ERSPAN type II: sequence bit, 8-byte header, session id 0x155.
    let mut e2 = vec![0x10, 0x07, 0x01, 0x55, 0, 0, 0, 0];
    e2.extend_from_slice(&eth(0x0800, &pkt));
    let g = gre(0x1000, 0x88BE, &[0, 0, 0, 5], &e2);
    let frame = eth(0x0800, &outer4(47, &g));
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_udp4(&d, 3);
    assert_eq!(d.tunnel.erspan_id, Some(0x155));
    // ERSPAN type III with the platform subheader (O bit).
    let mut e3 = vec![0x20, 0x00, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0x01];
    e3.extend_from_slice(&[0; 8]);
    e3.extend_from_slice(&eth(0x86DD, &udp6(b"e3")));
    let g = gre(0x1000, 0x22EB, &[0, 0, 0, 5], &e3);
    let frame = eth(0x0800, &outer4(47, &g));
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_eq!(d.src, IpAddr::from(A6));
    assert_eq!(d.tunnel.erspan_id, Some(7));
    // ERSPAN III without the subheader.
    let mut e3 = vec![0x20, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
    e3.extend_from_slice(&eth(0x0800, &pkt));
    let g = gre(0x1000, 0x22EB, &[0, 0, 0, 5], &e3);
    let frame = eth(0x0800, &outer4(47, &g));
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_udp4(&d, 3);
}

#[test]
fn vxlan_6in4_4in6_and_depth() {
    let pkt = udp4(A4, B4, 1000, 2000, b"vx");
    let mut vx = vec![0x08, 0, 0, 0, 0, 0x12, 0x34, 0];
    vx.extend_from_slice(&eth(0x0800, &pkt));
    let outer = udp4(C4, D4, 5555, 4789, &vx);
    let frame = eth(0x0800, &outer);
    let d = decode(LinkType::ETHERNET, &frame, &cfg()).unwrap();
    assert_udp4(&d, 2);
    assert_eq!(d.tunnel.vxlan_vni, Some(0x1234));
    assert_eq!(d.tunnel.depth, 1);
    // Not decapsulated when disabled.
    let off = DecodeConfig {
        decap_tunnels: false,
        ..cfg()
    };
    let frame = eth(0x0800, &outer);
    let d = decode(LinkType::ETHERNET, &frame, &off).unwrap();
    assert_eq!((d.src, ports(&d).1), (ip(C4), 4789));
    // 6in4.
    let frame = outer4(41, &udp6(b"x"));
    let d = decode(LinkType::RAW, &frame, &cfg()).unwrap();
    assert_eq!(
        (d.src, d.ip_offset, d.tunnel.depth),
        (IpAddr::from(A6), 20, 1)
    );
    // 4in6.
    let mut v6 = Vec::new();
    PacketBuilder::ipv6(B6, A6, 64)
        .write(&mut v6, etherparse::IpNumber(4), &pkt)
        .unwrap();
    let d = decode(LinkType::RAW, &v6, &cfg()).unwrap();
    assert_udp4(&d, 2);
    assert_eq!(d.ip_offset, 40);
    // Depth limit: stop at the outer header with an anomaly.
    let three = outer4(4, &outer4(4, &pkt));
    let lim = DecodeConfig {
        max_tunnel_depth: 1,
        ..cfg()
    };
    let d = decode(LinkType::RAW, &three, &lim).unwrap();
    assert_eq!((d.ip_offset, d.tunnel.depth), (20, 1));
    assert_eq!(d.anomaly, Some(Anomaly::TunnelTooDeep));
    let d = decode(LinkType::RAW, &three, &cfg()).unwrap();
    assert_eq!((d.ip_offset, d.tunnel.depth), (40, 2));
    // A broken inner packet: report the outer one.
    let bad = outer4(4, &[0x75; 30]);
    let d = decode(LinkType::RAW, &bad, &cfg()).unwrap();
    assert_eq!((d.src, d.anomaly), (ip(C4), Some(Anomaly::BadTunnel)));
}

#[test]
fn truncation_and_errors() {
    let pkt = udp4(A4, B4, 1000, 2000, &[7; 100]);
    // Cut by snaplen: decoded with what is there.
    let frame = eth(0x0800, &pkt);
    let d = decode(LinkType::ETHERNET, &frame[..14 + 28 + 10], &cfg()).unwrap();
    assert_eq!(d.anomaly, Some(Anomaly::LengthMismatch));
    assert_eq!(d.ip_len, pkt.len());
    assert_eq!(ports(&d), (1000, 2000, 10));
    assert_eq!(
        decode(LinkType::ETHERNET, &frame[..14 + 10], &cfg()).unwrap_err(),
        NotIp::Malformed(Anomaly::Truncated)
    );
    let mut bad = pkt.clone();
    bad[0] = 0x55;
    assert_eq!(
        decode(LinkType::RAW, &bad, &cfg()).unwrap_err(),
        NotIp::Malformed(Anomaly::BadIpVersion)
    );
    bad[0] = 0x43;
    assert_eq!(
        decode(LinkType::RAW, &bad, &cfg()).unwrap_err(),
        NotIp::Malformed(Anomaly::BadIpHeader)
    );
    // TCP header cut: no ports, anomaly.
    let t = tcp4(b"");
    let d = decode(LinkType::RAW, &t[..30], &cfg()).unwrap();
    assert!(matches!(d.l4, L4::Other { .. }));
    assert_eq!(d.anomaly, Some(Anomaly::LengthMismatch));
    // Every prefix of every fixture decodes without panicking.
    for f in [&frame, &eth(0x86DD, &udp6(b"x"))] {
        for n in 0..f.len() {
            let _ = decode(LinkType::ETHERNET, &f[..n], &cfg());
        }
    }
}

/// IPv4 fragments of `full` (an IPv4 packet with a 20-byte header), each in `prefix`.
fn frag4(prefix: &[u8], full: &[u8], cuts: &[(usize, usize)]) -> Vec<Vec<u8>> {
    let payload = &full[20..];
    cuts.iter()
        .map(|&(s, e)| {
            let mut h = full[..20].to_vec();
            h[2..4].copy_from_slice(&((20 + e - s) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
            let more = if e < payload.len() { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&(more | (s / 8) as u16).to_be_bytes());
            let mut p = prefix.to_vec();
            p.extend_from_slice(&h);
            p.extend_from_slice(&payload[s..e]);
            p
        })
        .collect()
}

/// IPv6 fragments of `full` (an IPv6 packet without extension headers), with a
/// Destination Options header before the Fragment header.
fn frag6(full: &[u8], cuts: &[(usize, usize)]) -> Vec<Vec<u8>> {
    let payload = &full[40..];
    let nh = full[6];
    cuts.iter()
        .map(|&(s, e)| {
            let mut h = full[..40].to_vec();
            h[6] = 60;
            h[4..6].copy_from_slice(&((8 + 8 + e - s) as u16).to_be_bytes());
            h.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // dest opts, PadN
            let more = u16::from(e < payload.len());
            h.push(nh);
            h.push(0);
            h.extend_from_slice(&((s as u16) | more).to_be_bytes());
            h.extend_from_slice(&0xdead_beefu32.to_be_bytes());
            h.extend_from_slice(&payload[s..e]);
            eth(0x86DD, &h)
        })
        .collect()
}

fn push_all(df: &mut Defragmenter, frames: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut out = None;
    for (i, f) in frames.iter().enumerate() {
        let d = decode(LinkType::ETHERNET, f, &cfg()).unwrap();
        assert!(d.frag.is_some());
        if let Some(r) = df.push(i as u64, f, &d) {
            assert!(out.is_none());
            out = Some(r);
        }
    }
    out
}

fn check_rebuilt(r: &[u8], payload: &[u8]) {
    let d = decode(LinkType::ETHERNET, r, &cfg()).unwrap();
    assert_eq!(d.frag, None);
    assert_eq!(d.anomaly, None);
    assert_eq!(d.ip_offset + d.ip_len, r.len());
    match d.l4 {
        L4::Udp { payload: p, .. } => assert_eq!(p, payload),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fragment_decode_v4_v6() {
    let data: Vec<u8> = (0..100u8).collect();
    let full = udp4(A4, B4, 1000, 2000, &data);
    let fr = frag4(&eth(0x0800, &[])[..14], &full, &[(0, 48), (48, 108)]);
    let d = decode(LinkType::ETHERNET, &fr[0], &cfg()).unwrap();
    assert_eq!(
        d.frag,
        Some(Frag {
            id: 0x4242,
            offset: 0,
            more: true
        })
    );
    assert_eq!(ports(&d).0, 1000);
    let d = decode(LinkType::ETHERNET, &fr[1], &cfg()).unwrap();
    assert_eq!(
        d.frag,
        Some(Frag {
            id: 0x4242,
            offset: 48,
            more: false
        })
    );
    assert_eq!(
        d.l4,
        L4::Other {
            payload: &full[20 + 48..]
        }
    );
    let full6 = udp6(&data);
    let fr = frag6(&full6, &[(0, 56), (56, 108)]);
    let d = decode(LinkType::ETHERNET, &fr[1], &cfg()).unwrap();
    assert_eq!(
        d.frag,
        Some(Frag {
            id: 0xdead_beef,
            offset: 56,
            more: false
        })
    );
    assert_eq!(d.proto, 17);
    // Outer fragment of a tunnel: not decapsulated.
    let tun = outer4(4, &udp4(A4, B4, 1, 2, &data));
    let fr = frag4(&[], &tun, &[(0, 64), (64, tun.len() - 20)]);
    let d = decode(LinkType::RAW, &fr[0], &cfg()).unwrap();
    assert_eq!((d.src, d.proto, d.tunnel.depth), (ip(C4), 4, 0));
    let mut df = Defragmenter::new(DefragConfig::default());
    let _ = df.push(0, &fr[0], &d);
    let d1 = decode(LinkType::RAW, &fr[1], &cfg()).unwrap();
    let whole = df.push(1, &fr[1], &d1).unwrap();
    let w = decode(LinkType::RAW, &whole, &cfg()).unwrap();
    assert_eq!((w.src, w.tunnel.depth, ports(&w)), (ip(A4), 1, (1, 2, 100)));
}

#[test]
fn defrag_orders_overlaps_duplicates() {
    let data: Vec<u8> = (0..200u8).collect();
    let full = udp4(A4, B4, 1000, 2000, &data);
    let prefix = tags(&[(0x8100, 33)], 0x0800, &[]);
    let cuts = [(0, 64), (64, 128), (128, 208)];
    // In order and reversed.
    for rev in [false, true] {
        let mut fr = frag4(&prefix, &full, &cuts);
        if rev {
            fr.reverse();
        }
        let mut df = Defragmenter::new(DefragConfig::default());
        let r = push_all(&mut df, &fr).unwrap();
        check_rebuilt(&r, &data);
        assert_eq!(
            decode(LinkType::ETHERNET, &r, &cfg())
                .unwrap()
                .vlans
                .as_slice(),
            &[33]
        );
        // The rebuilt IPv4 header checksum is valid.
        let h = &r[18..38];
        let sum: u32 = h
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        assert_eq!((sum & 0xffff) + (sum >> 16), 0xffff);
        assert_eq!(df.stats().reassembled, 1);
        assert_eq!(df.memory(), 0);
    }
    // Overlap (first wins) with conflicting bytes, and a duplicate.
    let mut fr = frag4(&prefix, &full, &[(0, 64), (32, 128), (32, 128), (128, 208)]);
    let n = fr[1].len();
    fr[1][n - 70] ^= 0xff; // inside the overlapped range 32..64 of the second fragment
    let mut df = Defragmenter::new(DefragConfig::default());
    let r = push_all(&mut df, &fr).unwrap();
    check_rebuilt(&r, &data);
    let st = df.stats();
    assert_eq!(
        (st.overlaps, st.conflicting_overlaps, st.fragments),
        (2, 1, 4)
    );
    // Same fragments in other VLANs are separate datagrams.
    let other = tags(&[(0x8100, 34)], 0x0800, &[]);
    let a = frag4(&prefix, &full, &cuts);
    let b = frag4(&other, &full, &cuts);
    let mut df = Defragmenter::new(DefragConfig::default());
    assert!(push_all(&mut df, &[a[0].clone(), b[1].clone(), a[1].clone()]).is_none());
    assert_eq!(df.trackers(), 2);
}

#[test]
fn defrag_invalid_timeout_memcap() {
    let data = [5u8; 300];
    let full = udp4(A4, B4, 1000, 2000, &data);
    let pre = eth(0x0800, &[]);
    let mut df = Defragmenter::new(DefragConfig::default());
    // Misaligned non-last fragment.
    let fr = frag4(&pre[..14], &full, &[(0, 30)]);
    let d = decode(LinkType::ETHERNET, &fr[0], &cfg()).unwrap();
    assert!(df.push(0, &fr[0], &d).is_none());
    assert_eq!(df.stats().invalid, 1);
    // Too large: offset near 65535.
    let mut big = frag4(&pre[..14], &full, &[(0, 64)]).remove(0);
    big[14 + 6..14 + 8].copy_from_slice(&(0x2000u16 | 8190).to_be_bytes());
    let d = decode(LinkType::ETHERNET, &big, &cfg()).unwrap();
    assert!(df.push(0, &big, &d).is_none());
    assert_eq!(df.stats().invalid, 2);
    // Timeout.
    let fr = frag4(&pre[..14], &full, &[(0, 64), (64, 308)]);
    let d = decode(LinkType::ETHERNET, &fr[0], &cfg()).unwrap();
    assert!(df.push(1_000, &fr[0], &d).is_none());
    assert!(df.memory() > 0);
    df.expire(2_000);
    assert_eq!(df.trackers(), 1);
    df.expire(1_000 + DefragConfig::default().timeout_ns);
    assert_eq!((df.trackers(), df.memory(), df.stats().timeouts), (0, 0, 1));
    // Memcap: a second datagram evicts the first.
    let small = DefragConfig {
        memcap: 600,
        ..DefragConfig::default()
    };
    let mut df = Defragmenter::new(small);
    let other = udp4(C4, D4, 1, 2, &data);
    let a = frag4(&pre[..14], &full, &[(0, 200), (200, 308)]);
    let b = frag4(&pre[..14], &other, &[(0, 200), (200, 308)]);
    let da = decode(LinkType::ETHERNET, &a[0], &cfg()).unwrap();
    let db = decode(LinkType::ETHERNET, &b[0], &cfg()).unwrap();
    assert!(df.push(0, &a[0], &da).is_none());
    assert!(df.push(1, &b[0], &db).is_none());
    assert_eq!((df.trackers(), df.stats().memcap_drops), (1, 1));
    assert!(df.memory() <= 600);
    let db1 = decode(LinkType::ETHERNET, &b[1], &cfg()).unwrap();
    check_rebuilt(&df.push(2, &b[1], &db1).unwrap(), &data);
    // Too many fragments.
    let mut df = Defragmenter::new(DefragConfig {
        max_fragments: 2,
        ..DefragConfig::default()
    });
    let fr = frag4(&pre[..14], &full, &[(0, 64), (64, 128), (128, 308)]);
    assert!(push_all(&mut df, &fr).is_none());
    assert_eq!(df.stats().too_many_fragments, 1);
}

#[test]
fn defrag_v6_with_extension_headers() {
    let data: Vec<u8> = (0..150u8).collect();
    let full = udp6(&data);
    let mut fr = frag6(&full, &[(0, 80), (80, 158)]);
    fr.reverse();
    let mut df = Defragmenter::new(DefragConfig::default());
    let r = push_all(&mut df, &fr).unwrap();
    check_rebuilt(&r, &data);
    // Destination options kept, fragment header gone.
    assert_eq!((r[14 + 6], r[14 + 40]), (60, 17));
    assert_eq!(r.len(), 14 + 40 + 8 + 158);
}

#[test]
fn defrag_inside_gre_tunnel() {
    let data: Vec<u8> = (0..120u8).collect();
    let full = udp4(A4, B4, 1000, 2000, &data);
    let cuts = [(0, 64), (64, 128)];
    // Each inner fragment in its own (unfragmented) GRE packet.
    let frames: Vec<Vec<u8>> = frag4(&[], &full, &cuts)
        .iter()
        .map(|f| eth(0x0800, &outer4(47, &gre(0, 0x0800, &[], f))))
        .collect();
    let mut df = Defragmenter::new(DefragConfig::default());
    let r = push_all(&mut df, &frames).unwrap();
    let d = decode(LinkType::ETHERNET, &r, &cfg()).unwrap();
    assert_eq!((d.tunnel.depth, d.frag, d.anomaly), (1, None, None));
    assert_eq!(ports(&d), (1000, 2000, 120));
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = [0u8; 200];
    let seed = eth(
        0x0800,
        &outer4(47, &gre(0x3000, 0x6558, &[0; 8], &eth(0x86DD, &udp6(b"q")))),
    );
    for i in 0..20_000 {
        // Mutate a valid tunnelled frame, or use pure noise.
        let n = if i % 2 == 0 { seed.len() } else { buf.len() };
        for (j, b) in buf.iter_mut().enumerate().take(n) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = if i % 2 == 0 && !x.is_multiple_of(8) {
                seed[j]
            } else {
                x as u8
            };
        }
        let lt = [0u16, 1, 101, 105, 108, 113, 127, 228, 229, 239, 276][i % 11];
        let _ = decode(LinkType(lt), &buf[..n - (x as usize % 16)], &cfg());
    }
}

/// Keeps a test frame alive for the rest of the test (the decoded view borrows it).
fn keep(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

#[test]
fn cisco_hdlc_pppoe_pfc_and_nsh() {
    let inner = tcp4(b"x");
    let mut hdlc = vec![0x0f, 0x00, 0x08, 0x00];
    hdlc.extend_from_slice(&inner);
    let d = decode(LinkType::C_HDLC, &hdlc, &cfg()).unwrap();
    assert_eq!((d.src, d.dst, d.ip_offset), (ip(A4), ip(B4), 4));
    assert!(matches!(d.l4, L4::Tcp { dst_port: 80, .. }));
    assert_eq!(
        decode(LinkType::C_HDLC, &[0x8f, 0, 0x80], &cfg()).unwrap_err(),
        NotIp::Malformed(Anomaly::Truncated)
    );
    // PPPoE: one-byte (compressed) and two-byte protocol fields.
    for proto in [&[0x21u8][..], &[0x00, 0x21][..]] {
        let mut s = vec![0x11, 0x00, 0x12, 0x34];
        s.extend_from_slice(&((inner.len() + proto.len()) as u16).to_be_bytes());
        s.extend_from_slice(proto);
        s.extend_from_slice(&inner);
        let d = decode(LinkType::ETHERNET, keep(eth(0x8864, &s)), &cfg()).unwrap();
        assert_eq!(d.ip_offset, 14 + 6 + proto.len());
        assert_eq!(d.src, ip(A4));
    }
    // PPP LCP (0xc021) is no IP.
    let lcp = eth(0x8864, &[0x11, 0, 0, 1, 0, 4, 0xc0, 0x21, 1, 1]);
    assert_eq!(
        decode(LinkType::ETHERNET, &lcp, &cfg()).unwrap_err(),
        NotIp::NonIp
    );
    // NSH: next protocol IPv4, Ethernet, and NSH in NSH.
    let nsh = |next: u8, rest: &[u8]| {
        let mut n = vec![0x0f, 0xc2, 0x02, next, 0, 0, 1, 255];
        n.extend_from_slice(rest);
        n
    };
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x894f, &nsh(1, &inner))),
        &cfg(),
    )
    .unwrap();
    assert_eq!((d.ip_offset, d.tunnel.depth), (22, 0));
    let e = eth(0x0800, &inner);
    let d = decode(LinkType::ETHERNET, keep(eth(0x894f, &nsh(3, &e))), &cfg()).unwrap();
    assert_eq!(d.ip_offset, 14 + 8 + 14);
    let twice = nsh(4, &nsh(1, &inner));
    let d = decode(LinkType::ETHERNET, keep(eth(0x894f, &twice)), &cfg()).unwrap();
    assert_eq!(d.ip_offset, 30);
    // A length shorter than the fixed headers, or version 1: broken.
    let mut bad = nsh(1, &inner);
    bad[1] = 0xc1;
    assert_eq!(
        decode(LinkType::ETHERNET, keep(eth(0x894f, &bad)), &cfg()).unwrap_err(),
        NotIp::Malformed(Anomaly::BadTunnel)
    );
    // NSH nested past the hop limit stops.
    let mut deep = inner.clone();
    for _ in 0..20 {
        deep = nsh(4, &deep);
    }
    assert!(decode(LinkType::ETHERNET, keep(eth(0x894f, &deep)), &cfg()).is_err());
}

#[test]
fn geneve_and_teredo() {
    let inner = tcp4(b"hello");
    let mut g = vec![0x02, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00];
    g.extend_from_slice(&[0x01, 0x03, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef]);
    g.extend(eth(0x0800, &inner));
    let outer = eth(0x0800, &udp4(C4, D4, 49152, 6081, &g));
    let d = decode(LinkType::ETHERNET, &outer, &cfg()).unwrap();
    assert_eq!((d.src, d.dst, d.tunnel.depth), (ip(A4), ip(B4), 1));
    assert_eq!(d.tunnel.vxlan_vni, None);
    let c = d.tunnel.udp_carrier.unwrap();
    assert_eq!((c.dst_port, c.kind), (6081, UdpTunnel::Geneve));
    // Geneve straight to IPv4 (protocol type 0x0800).
    let mut g4 = vec![0x00, 0x00, 0x08, 0x00, 0, 0, 1, 0];
    g4.extend_from_slice(&inner);
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x0800, &udp4(C4, D4, 1, 6081, &g4))),
        &cfg(),
    );
    assert_eq!(d.unwrap().src, ip(A4));
    // Version 1: not followed, the outer UDP is the flow.
    g4[0] = 0x40;
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x0800, &udp4(C4, D4, 1, 6081, &g4))),
        &cfg(),
    );
    assert_eq!(d.unwrap().src, ip(C4));

    // Teredo: bare IPv6, and after an origin indication.
    let v6 = udp6(b"abc");
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x0800, &udp4(C4, D4, 40001, 3544, &v6))),
        &cfg(),
    );
    let d = d.unwrap();
    assert_eq!((d.src, d.tunnel.depth), (IpAddr::from(A6), 1));
    assert_eq!(d.tunnel.udp_carrier.unwrap().kind, UdpTunnel::Teredo);
    let mut oi = vec![0, 0, 0x63, 0xbe, 0x3f, 0xff, 0xfd, 0xd2];
    oi.extend_from_slice(&v6);
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x0800, &udp4(D4, C4, 3544, 40001, &oi))),
        &cfg(),
    );
    assert_eq!(d.unwrap().dst, IpAddr::from(B6));
    // Something else on port 3544 (the IPv6 length does not fill the datagram): not Teredo.
    let mut junk = v6.clone();
    junk.push(0);
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x0800, &udp4(C4, D4, 40001, 3544, &junk))),
        &cfg(),
    );
    assert_eq!(d.unwrap().src, ip(C4));
    // Tunnels off: the carrier is the flow.
    let off = DecodeConfig {
        decap_tunnels: false,
        ..cfg()
    };
    let d = decode(
        LinkType::ETHERNET,
        keep(eth(0x0800, &udp4(C4, D4, 40001, 3544, &v6))),
        &off,
    );
    assert_eq!(d.unwrap().src, ip(C4));
}

#[test]
fn sctp_ports() {
    let mut s = vec![0x8e, 0x3c, 0x0b, 0x5a, 0, 0, 0, 1, 0, 0, 0, 0];
    s.extend_from_slice(&[1, 0, 0, 4]);
    let mut v = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 132, 0, 0];
    v[2..4].copy_from_slice(&((20 + s.len()) as u16).to_be_bytes());
    v.extend_from_slice(&A4);
    v.extend_from_slice(&B4);
    v.extend_from_slice(&s);
    let d = decode(LinkType::RAW, &v, &cfg()).unwrap();
    assert_eq!(d.proto, 132);
    assert_eq!(
        d.l4,
        L4::Sctp {
            src_port: 36412,
            dst_port: 2906,
            payload: &[1, 0, 0, 4]
        }
    );
    // Cut inside the common header.
    v.truncate(28);
    v[2..4].copy_from_slice(&28u16.to_be_bytes());
    let d = decode(LinkType::RAW, &v, &cfg()).unwrap();
    assert!(matches!(d.l4, L4::Other { .. }));
    assert_eq!(d.anomaly, Some(Anomaly::Truncated));
}
