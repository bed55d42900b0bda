//! Floods through the whole sensor (the `tapir` binary, capture on stdin): memory stays under
//! the configured caps, what was dropped is counted in the stop `sensor_status` record, and the
//! valid transactions inside the flood are still reported.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::run_sensor;
use testkit::packets::{Cap, SERVER};
use testkit::rng::Rng;

const MIB: u64 = 1 << 20;

/// `default` packets, or `TAPIR_FLOOD_N` when set (to try bigger floods by hand).
fn flood_size(default: usize) -> usize {
    std::env::var("TAPIR_FLOOD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A DNS message: one question for `name` (type A), and one A answer when `answer` is set.
fn dns(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer.is_some() {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(ip) = answer {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&ip);
    }
    m
}

/// The valid HTTP exchange hidden in every flood.
fn real_http(c: &mut Cap) {
    c.conversation(
        [10, 9, 9, 9],
        40000,
        SERVER,
        80,
        b"GET /inside-the-flood HTTP/1.1\r\nHost: example.org\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
}

fn assert_real_http_reported(r: &common::SensorRun) {
    assert!(
        r.of("http")
            .iter()
            .any(|h| h["http"]["uri"] == "/inside-the-flood" && h["http"]["status"] == 200),
        "the real transaction is missing; stderr: {}",
        r.stderr
    );
}

/// One million SYNs from random sources with room for 20 000 flows.
#[test]
fn syn_flood_from_a_million_sources() {
    let mut c = Cap::new();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let n: usize = std::env::var("TAPIR_FLOOD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for i in 0..n {
        if i == n / 2 {
            real_http(&mut c);
        }
        c.random_syn(&mut rng, SERVER, 443);
    }
    let t = std::time::Instant::now();
    let r = run_sensor(&c.bytes, &["-w", "2", "--max-flows", "20000"]);
    eprintln!("syn flood: {:?}", t.elapsed());
    assert!(r.status.success(), "{}", r.stderr);
    let stop = r.stop();
    assert_eq!(stop["capture"]["packets"], n as u64 + 8);
    // Most SYNs found the table full: refused or evicted, and counted.
    let hits = r.limit_hits("flow.max_flows");
    assert!(hits >= n as u64 - 20_000, "flow.max_flows hits {hits}");
    assert!(stop["flows"]["peak"].as_u64().unwrap() <= 20_002);
    assert_real_http_reported(&r);
    let peak = r.peak_rss();
    eprintln!("syn flood: peak RSS {} MiB", peak / MIB);
    // Unbounded, a million flows would take several hundred MiB.
    assert!(peak < 64 * MIB, "peak RSS {} MiB", peak / MIB);
}

/// 300 000 queries for random subdomains of one domain (DNS water torture) from 40 source
/// ports: half of them answered with an address, half never. The name cache stays at its cap
/// (evicting the oldest names, counted), queries never answered are reported, pending queries
/// per flow stay capped, and a real lookup made after the flood still feeds `http.target_ips`.
#[test]
fn dns_flood_of_random_subdomains() {
    let mut c = Cap::new();
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let client = [10, 5, 5, 5];
    let resolver = [10, 0, 0, 53];
    let n = flood_size(300_000);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for i in 0..n {
        let r = rng.next();
        let label: String = (0..12)
            .map(|k| alphabet[((r >> (k * 5)) % 36) as usize] as char)
            .collect();
        let name = format!("{label}.victim.example");
        let port = 30000 + (i % 40) as u16;
        let id = r as u16;
        c.udp(client, resolver, port, 53, &dns(id, &name, None));
        if i % 2 == 0 {
            let ip = [198, 18, (r >> 40) as u8, (r >> 48) as u8];
            c.udp(resolver, client, 53, port, &dns(id, &name, Some(ip)));
        }
    }
    // After the flood: a real lookup and the HTTP request it led to.
    c.udp(client, resolver, 29999, 53, &dns(7, "example.org", None));
    c.udp(
        resolver,
        client,
        53,
        29999,
        &dns(7, "example.org", Some(SERVER)),
    );
    real_http(&mut c);
    // Statistics off first: this bounds the DNS answer cache alone (the second run below
    // bounds the statistics store).
    let r = run_sensor(
        &c.bytes,
        &[
            "-w",
            "1",
            "--set",
            "enrich.max_dns_names=5000",
            "--set",
            "stats.enabled=false",
        ],
    );
    assert!(r.status.success(), "{}", r.stderr);
    let dns_records = r.of("dns");
    // Every query is reported, answered or not (none lost to the pending cap).
    assert_eq!(dns_records.len(), n + 1, "dns records");
    let unanswered = dns_records
        .iter()
        .filter(|d| d["dns"]["answer_count"].is_null() || d["dns"]["rcode"].is_null())
        .count();
    assert!(unanswered >= n / 2, "unanswered {unanswered}");
    assert!(r.anomaly("dns.too_many_pending") > 0);
    let hits = r.limit_hits("enrich.max_dns_names");
    assert!(
        hits as usize >= n / 2 - 5_000,
        "enrich.max_dns_names hits {hits}"
    );
    let names = r.stop()["memory"]["dns_cache_names"].as_u64().unwrap();
    assert!(names <= 5_000 + 16, "{names} names cached");
    let http = r.of("http");
    let h = http
        .iter()
        .find(|h| h["http"]["uri"] == "/inside-the-flood")
        .expect("the real HTTP transaction");
    assert_eq!(h["http"]["target_ips"][0], "93.184.216.34", "{h}");
    let peak = r.peak_rss();
    eprintln!("dns flood: peak RSS {} MiB", peak / MIB);
    assert!(peak < 64 * MIB, "peak RSS {} MiB", peak / MIB);

    // Statistics on: every random name is a new FQDN entry. The FQDN table stays at its cap,
    // the entries past it are evicted and counted as hits of `stats.max_fqdns`, and memory
    // stays bounded.
    let cap = 20_000;
    let r = run_sensor(
        &c.bytes,
        &[
            "-w",
            "1",
            "--set",
            "enrich.max_dns_names=5000",
            "--set",
            &format!("stats.max_fqdns={cap}"),
            "--set",
            "stats.cache_size=2097152",
            "--set",
            "stats.worker_entries=1000",
        ],
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(r.of("dns").len(), n + 1, "dns records with statistics on");
    let stats = &r.stop()["stats"];
    let fqdns = stats["fqdns"].as_u64().expect("stats.fqdns");
    assert!(
        fqdns <= cap as u64,
        "{fqdns} FQDN entries past the cap {cap}: {stats}"
    );
    // n distinct random names (+ example.org), at most `cap` kept.
    let evictions = stats["evictions"].as_u64().expect("stats.evictions");
    assert!(
        evictions as usize >= n.saturating_sub(cap),
        "{evictions} evictions for {n} names: {stats}"
    );
    let hits = r.limit_hits("stats.max_fqdns");
    assert!(
        hits as usize >= n.saturating_sub(cap),
        "stats.max_fqdns hits {hits}"
    );
    // The registered-domain table holds the one victim.example (and example.org).
    assert!(
        stats["domains"].as_u64().expect("stats.domains") <= 4,
        "{stats}"
    );
    let peak = r.peak_rss();
    eprintln!("dns flood, statistics on: peak RSS {} MiB", peak / MIB);
    // Measured (debug build): 73 MiB for 300 000 names, 76 MiB for 600 000; 59 MiB with
    // statistics off. The store's cache (2 MiB), the FQDN cap and the worker's delta bound it.
    assert!(peak < 96 * MIB, "peak RSS {} MiB", peak / MIB);
}

/// An IPv4 fragment: `payload` at byte `offset` of datagram `id`, more fragments follow when
/// `more`.
fn fragment(
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    offset: usize,
    more: bool,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + payload.len();
    let flags_off = (u16::from(more) << 13) | (offset / 8) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&(total as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&flags_off.to_be_bytes());
    h.extend_from_slice(&[64, 17, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let mut sum = 0u32;
    for w in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    h[10..12].copy_from_slice(&ck.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// 200 000 first fragments that never complete, from random sources, around one real DNS
/// query sent in two fragments: the defragmenter stays within its memcap (drops counted) and
/// the real datagram is rebuilt and answered.
#[test]
fn fragment_flood_never_completing() {
    let mut c = Cap::new();
    let mut rng = Rng::new(0xdead_beef_cafe_f00d);
    let n = flood_size(200_000);
    let junk = [0x5au8; 512];
    let resolver = [10, 0, 0, 53];
    let client = [10, 6, 6, 6];
    for i in 0..n {
        if i == n / 2 {
            // The real query, as two fragments (UDP header + DNS message).
            let q = dns(0x4242, "fragmented.example.org", None);
            let mut udp = Vec::new();
            udp.extend_from_slice(&5353u16.to_be_bytes());
            udp.extend_from_slice(&53u16.to_be_bytes());
            udp.extend_from_slice(&((8 + q.len()) as u16).to_be_bytes());
            udp.extend_from_slice(&[0, 0]);
            udp.extend_from_slice(&q);
            c.ipv4_raw(&fragment(client, resolver, 77, 0, true, &udp[..24]));
            c.ipv4_raw(&fragment(client, resolver, 77, 24, false, &udp[24..]));
            c.udp(
                resolver,
                client,
                53,
                5353,
                &dns(0x4242, "fragmented.example.org", Some([192, 0, 2, 7])),
            );
        }
        let r = rng.next();
        let src = [172, 16 + (r % 16) as u8, (r >> 8) as u8, (r >> 16) as u8];
        c.ipv4_raw(&fragment(src, resolver, (r >> 24) as u16, 0, true, &junk));
    }
    let r = run_sensor(&c.bytes, &["-w", "2", "--set", "defrag.memcap=4194304"]);
    assert!(r.status.success(), "{}", r.stderr);
    let hits = r.limit_hits("defrag.memcap");
    assert!(hits > (n as u64) / 2, "defrag.memcap hits {hits}");
    let stop = r.stop();
    assert!(stop["decode"]["fragments"].as_u64().unwrap() >= n as u64);
    assert_eq!(stop["decode"]["datagrams_rebuilt"], 1);
    let d = r
        .of("dns")
        .into_iter()
        .find(|d| d["dns"]["query"] == "fragmented.example.org")
        .expect("the fragmented query is answered");
    assert_eq!(d["dns"]["answers"][0]["data"], "192.0.2.7");
    let peak = r.peak_rss();
    eprintln!("fragment flood: peak RSS {} MiB", peak / MIB);
    // 200 000 fragments of 512 bytes kept would be 100 MiB.
    assert!(peak < 48 * MIB, "peak RSS {} MiB", peak / MIB);
}
