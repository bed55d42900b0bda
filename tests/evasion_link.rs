//! Issue 19, class 7: link layers, tunnels and formats. Each technique carries one HTTP download
//! (or an SCTP association) in a generated capture replayed through the `tapir` binary; the file
//! the client got must come out with its exact hashes, and the flow record says what carried it.
//! Decisions: `docs/evasion.md`, `## Link layers and tunnels`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{run_sensor, SensorRun};
use md5::Md5;
use sha2::{Digest, Sha256};
use testkit::packets::Cap;

const CLIENT4: [u8; 4] = [10, 20, 0, 5];
const SERVER4: [u8; 4] = [198, 51, 100, 7];
const CLIENT6: [u8; 16] = [
    0x20, 0x01, 0, 0, 0x4c, 0x3f, 0xa8, 0x0f, 0, 0, 0xf2, 0x27, 0xb5, 0x4d, 0x0a, 0x61,
];
const SERVER6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
];
const ETH_HDR: [u8; 12] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

fn body() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 13 % 253) as u8).collect()
}

/// An HTTP download as bare IP packets (no link layer), IPv4 or IPv6, handshake to FINs.
fn download(v6: bool, body: &[u8]) -> Vec<Vec<u8>> {
    let req = b"GET /tunnelled.bin HTTP/1.1\r\nHost: tunnel.test\r\n\r\n".to_vec();
    let mut resp =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    resp.extend_from_slice(body);
    let mut out = Vec::new();
    let mut seg = |to_server: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let b = match (v6, to_server) {
            (false, true) => etherparse::PacketBuilder::ipv4(CLIENT4, SERVER4, 64),
            (false, false) => etherparse::PacketBuilder::ipv4(SERVER4, CLIENT4, 64),
            (true, true) => etherparse::PacketBuilder::ipv6(CLIENT6, SERVER6, 64),
            (true, false) => etherparse::PacketBuilder::ipv6(SERVER6, CLIENT6, 64),
        };
        let (sp, dp) = if to_server { (41000, 80) } else { (80, 41000) };
        let mut b = b.tcp(sp, dp, seq, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        let mut p = Vec::new();
        b.write(&mut p, payload).unwrap();
        out.push((to_server, p));
    };
    let (mut c, mut s) = (5000u32, 800_000u32);
    seg(true, c, 0, "S", &[]);
    seg(false, s, c + 1, "SA", &[]);
    c += 1;
    s += 1;
    seg(true, c, s, "A", &[]);
    seg(true, c, s, "A", &req);
    c += req.len() as u32;
    for chunk in resp.chunks(1200) {
        seg(false, s, c, "A", chunk);
        s += chunk.len() as u32;
        seg(true, c, s, "A", &[]);
    }
    seg(true, c, s, "AF", &[]);
    seg(false, s, c + 1, "AF", &[]);
    seg(true, c + 1, s + 1, "A", &[]);
    out.into_iter().map(|(_, p)| p).collect()
}

/// The same download with each packet's direction (true: to the server).
fn download_dirs(v6: bool, body: &[u8]) -> Vec<(bool, Vec<u8>)> {
    download(v6, body)
        .into_iter()
        .map(|p| {
            let src_is_client = if v6 {
                p[8..24] == CLIENT6
            } else {
                p[12..16] == CLIENT4
            };
            (src_is_client, p)
        })
        .collect()
}

fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = ETH_HDR.to_vec();
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn with_linktype(mut cap: Cap, linktype: u32) -> Cap {
    cap.bytes[20..24].copy_from_slice(&linktype.to_le_bytes());
    cap
}

fn run(cap: &Cap) -> SensorRun {
    let run = run_sensor(&cap.bytes, &["--workers", "1"]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

/// The inner download came out whole: its HTTP record, its file (exact hashes) and its flow.
fn assert_download(run: &SensorRun, body: &[u8], client: &str) -> serde_json::Value {
    let files = run.of("file");
    assert_eq!(files.len(), 1, "{:#?}", run.records);
    let f = &files[0]["file"];
    assert_eq!(
        f["sha256"],
        testkit::hex::encode(&Sha256::digest(body)).as_str()
    );
    assert_eq!(f["md5"], testkit::hex::encode(&Md5::digest(body)).as_str());
    assert_eq!(f["size"], body.len());
    assert_eq!(f["complete"], true);
    let http = run.of("http");
    assert_eq!(http.len(), 1);
    assert_eq!(http[0]["http"]["uri"], "/tunnelled.bin");
    assert_eq!(http[0]["src_ip"], client);
    let flows: Vec<_> = run
        .of("flow")
        .into_iter()
        .filter(|r| r["dest_port"] == 80)
        .collect();
    assert_eq!(flows.len(), 1, "{:#?}", run.records);
    assert_eq!(flows[0]["src_ip"], client);
    assert_eq!(flows[0]["flow"]["app_proto"], "http");
    assert_eq!(flows[0]["flow"]["conn_state"], "SF");
    assert_eq!(flows[0]["flow"]["pkts_toserver"], 10);
    assert_eq!(flows[0]["flow"]["pkts_toclient"], 7);
    flows[0].clone()
}

#[test]
fn cisco_hdlc() {
    let body = body();
    let mut cap = Cap::new();
    for p in download(false, &body) {
        let mut f = vec![0x0f, 0x00, 0x08, 0x00];
        f.extend_from_slice(&p);
        cap.frame(&f);
    }
    let cap = with_linktype(cap, 104);
    let run = run(&cap);
    let flow = assert_download(&run, &body, "10.20.0.5");
    assert!(flow["flow"].get("tunnel").is_none(), "{flow}");
    assert_eq!(run.stop()["decode"]["non_ip"], 0);
    assert_eq!(run.stop()["decode"]["malformed"], 0);
}

#[test]
fn pppoe_with_a_compressed_ppp_protocol_field() {
    let body = body();
    let mut cap = Cap::new();
    for (i, p) in download(false, &body).into_iter().enumerate() {
        // Every other frame with the one-byte protocol (PFC), the others with two.
        let proto: &[u8] = if i % 2 == 0 { &[0x21] } else { &[0x00, 0x21] };
        let mut s = vec![0x11, 0x00, 0x12, 0x34];
        s.extend_from_slice(&((p.len() + proto.len()) as u16).to_be_bytes());
        s.extend_from_slice(proto);
        s.extend_from_slice(&p);
        cap.frame(&ether(0x8864, &s));
    }
    let run = run(&cap);
    assert_download(&run, &body, "10.20.0.5");
}

#[test]
fn nsh_service_function_chaining() {
    let body = body();
    let mut cap = Cap::new();
    for (i, p) in download(false, &body).into_iter().enumerate() {
        // NSH: version 0, TTL 63, length 2 words (MD type 2 without context), service path
        // 1/255; the next protocol alternates IPv4 (1) and Ethernet (3).
        let next = if i % 2 == 0 { 1 } else { 3 };
        let mut n = vec![0x0f, 0xc2, 0x02, next, 0, 0, 1, 255];
        if next == 3 {
            n.extend(ether(0x0800, &p));
        } else {
            n.extend_from_slice(&p);
        }
        cap.frame(&ether(0x894f, &n));
    }
    let run = run(&cap);
    assert_download(&run, &body, "10.20.0.5");
}

#[test]
fn geneve_with_options() {
    let body = body();
    let mut cap = Cap::new();
    for p in download(false, &body) {
        // Version 0, 2 words of options, protocol 0x6558 (Ethernet), VNI 0x123456; one option
        // (class 0x0103, type 0x80, 4 bytes of data).
        let mut g = vec![0x02, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00];
        g.extend_from_slice(&[0x01, 0x03, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        g.extend(ether(0x0800, &p));
        cap.udp([172, 16, 0, 1], [172, 16, 0, 2], 49152, 6081, &g);
    }
    let run = run(&cap);
    let flow = assert_download(&run, &body, "10.20.0.5");
    assert_eq!(flow["flow"]["tunnel"]["depth"], 1, "{flow}");
    assert!(flow["flow"]["tunnel"].get("vxlan_vni").is_none(), "{flow}");
    // The carrier is a flow of its own.
    let carrier: Vec<_> = run
        .of("flow")
        .into_iter()
        .filter(|r| r["dest_port"] == 6081)
        .collect();
    assert_eq!(carrier.len(), 1, "{:#?}", run.records);
    assert_eq!(carrier[0]["flow"]["app_proto"], "geneve");
    assert_eq!(carrier[0]["flow"]["pkts_toserver"], 17);
}

#[test]
fn teredo_ipv6_over_udp() {
    let body = body();
    let mut cap = Cap::new();
    let (client_nat, relay) = ([192, 0, 2, 45], [203, 0, 113, 9]);
    for (to_server, p) in download_dirs(true, &body) {
        if to_server {
            cap.udp(client_nat, relay, 40001, 3544, &p);
        } else {
            // From the relay: an origin indication (type 0, obfuscated port and address) first.
            let mut d = vec![0x00, 0x00, 0x63, 0xbe, 0x3f, 0xff, 0xfd, 0xd2];
            d.extend_from_slice(&p);
            cap.udp(relay, client_nat, 3544, 40001, &d);
        }
    }
    let run = run(&cap);
    let flow = assert_download(&run, &body, "2001:0:4c3f:a80f:0:f227:b54d:a61");
    assert_eq!(flow["dest_ip"], "2001:db8::80");
    assert_eq!(flow["flow"]["tunnel"]["depth"], 1, "{flow}");
    let carrier: Vec<_> = run
        .of("flow")
        .into_iter()
        .filter(|r| r["flow"]["app_proto"] == "teredo")
        .collect();
    assert_eq!(carrier.len(), 1, "{:#?}", run.records);
    assert_eq!(carrier[0]["flow"]["pkts_toserver"], 10);
    assert_eq!(carrier[0]["flow"]["pkts_toclient"], 7);
}

#[test]
fn sctp_flows_carry_their_ports() {
    let mut cap = Cap::new();
    let sctp = |sp: u16, dp: u16, chunk: &[u8]| {
        let mut s = Vec::new();
        s.extend_from_slice(&sp.to_be_bytes());
        s.extend_from_slice(&dp.to_be_bytes());
        s.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]); // verification tag, checksum
        s.extend_from_slice(chunk);
        s
    };
    let ipv4 = |src: [u8; 4], dst: [u8; 4], payload: &[u8]| {
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 132, 0, 0];
        ip[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(payload);
        ip
    };
    // INIT, INIT ACK (chunk type, flags, length, then their fields, zeros here).
    let init = [
        1u8, 0, 0, 20, 0, 0, 0, 9, 0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1,
    ];
    let init_ack = [
        2u8, 0, 0, 20, 0, 0, 0, 8, 0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1,
    ];
    let (enb, mme) = ([10, 30, 0, 1], [10, 30, 0, 2]);
    cap.ipv4_raw(&ipv4(enb, mme, &sctp(36412, 36412, &init)));
    cap.ipv4_raw(&ipv4(mme, enb, &sctp(36412, 36412, &init_ack)));
    cap.ipv4_raw(&ipv4(enb, mme, &sctp(36412, 36412, &init)));
    cap.ipv4_raw(&ipv4([10, 30, 0, 3], mme, &sctp(2905, 2906, &init)));
    let run = run(&cap);
    let flows = run.of("flow");
    assert_eq!(flows.len(), 2, "{:#?}", run.records);
    let s1 = flows
        .iter()
        .find(|f| f["src_port"] == 36412)
        .expect("the S1AP association");
    assert_eq!(s1["src_ip"], "10.30.0.1");
    assert_eq!(s1["dest_port"], 36412);
    assert_eq!(s1["proto"], "SCTP");
    assert_eq!(s1["flow"]["pkts_toserver"], 2);
    assert_eq!(s1["flow"]["pkts_toclient"], 1);
    let m3ua = flows
        .iter()
        .find(|f| f["src_ip"] == "10.30.0.3")
        .expect("the M3UA association");
    assert_eq!(m3ua["src_port"], 2905);
    assert_eq!(m3ua["dest_port"], 2906);
    assert!(m3ua["community_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("1:")));
}

#[test]
fn an_iso9660_image_is_recognised_by_its_magic() {
    // A minimal image: 32 KiB of system area, a primary volume descriptor, the terminator.
    let mut iso = vec![0u8; 0x9000];
    iso[0x8000] = 1;
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    iso[0x8006] = 1;
    iso[0x8028..0x8030].copy_from_slice(b"EVIL_ISO");
    iso[0x8800] = 255;
    iso[0x8801..0x8806].copy_from_slice(b"CD001");
    let mut cap = Cap::new();
    for p in download(false, &iso) {
        cap.frame(&ether(0x0800, &p));
    }
    let run = run(&cap);
    let files = run.of("file");
    assert_eq!(files.len(), 1, "{:#?}", run.records);
    let f = &files[0]["file"];
    assert_eq!(f["format"], "iso");
    assert_eq!(f["format_mime"], "application/x-iso9660-image");
    assert_eq!(
        f["sha256"],
        testkit::hex::encode(&Sha256::digest(&iso)).as_str()
    );
    assert_eq!(f["size"], iso.len());
}
