//! Network statistics through the binary: a capture where one domain is visited by several
//! hosts over time and another by one host once; the store (read back with `tapir stats`)
//! holds exact counts, first-seen times and host names; a second replay with the same
//! `--state` adds to them; `file.frequency` counts receiving hosts; `kill -9` during a replay
//! leaves a store that opens and is consistent.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use testkit::packets::Cap;

const DNS_SERVER: [u8; 4] = [10, 1, 0, 53];
const WEB: [u8; 4] = [93, 184, 216, 34];
/// 2023-11-14T22:13:20Z, the testkit capture's start.
const T0: u64 = 1_700_000_000_000_000;

fn qname(name: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for l in name.split('.') {
        b.push(l.len() as u8);
        b.extend_from_slice(l.as_bytes());
    }
    b.push(0);
    b
}

fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    b.extend(qname(name));
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&[0, 1]);
    b
}

fn ptr_answer(id: u16, ip: [u8; 4], host: &str) -> Vec<u8> {
    let rev = format!("{}.{}.{}.{}.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]);
    let mut b = id.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    b.extend(qname(&rev));
    b.extend_from_slice(&[0, 12, 0, 1]);
    b.extend_from_slice(&[0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0x0e, 0x10]);
    let data = qname(host);
    b.extend_from_slice(&(data.len() as u16).to_be_bytes());
    b.extend(data);
    b
}

/// One DNS query (no answer needed) from `client`.
fn query(cap: &mut Cap, client: [u8; 4], sport: u16, name: &str) {
    cap.udp(client, DNS_SERVER, sport, 53, &dns_query(sport, name, 1));
}

/// An HTTP download of `body` from `host` by `client`.
fn download(cap: &mut Cap, client: [u8; 4], cport: u16, host: &str, body: &[u8]) {
    let req = format!("GET /tool.bin HTTP/1.1\r\nHost: {host}\r\nUser-Agent: t\r\n\r\n");
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(body);
    cap.conversation(client, cport, WEB, 80, req.as_bytes(), &resp);
}

/// Three hosts visit shop.example.co.uk (via www. and cdn.) at T0, T0+100 s and T0+200 s and
/// two of them download the same file; one host visits once.example.net once at T0+300 s.
/// A PTR answer names 10.1.1.10.
fn capture(dir: &Path) -> std::path::PathBuf {
    let mut cap = Cap::new();
    cap.ts_us = T0;
    cap.udp(
        DNS_SERVER,
        [10, 1, 1, 99],
        53,
        40000,
        &ptr_answer(7, [10, 1, 1, 10], "ws10.corp.example"),
    );
    let body = b"MZ statistics test payload, the same bytes twice".repeat(20);
    for (i, host) in [[10, 1, 1, 10], [10, 1, 1, 11], [10, 1, 1, 12]]
        .iter()
        .enumerate()
    {
        cap.ts_us = T0 + i as u64 * 100_000_000;
        query(&mut cap, *host, 30000 + i as u16, "www.shop.example.co.uk");
        query(
            &mut cap,
            *host,
            31000 + i as u16,
            "a.b.cdn.shop.example.co.uk",
        );
        if i < 2 {
            download(
                &mut cap,
                *host,
                52000 + i as u16,
                "www.shop.example.co.uk",
                &body,
            );
        }
    }
    cap.ts_us = T0 + 300_000_000;
    query(&mut cap, [10, 1, 1, 13], 33000, "once.example.net");
    // An external client does not count.
    query(&mut cap, [198, 51, 100, 7], 34000, "once.example.net");
    let p = dir.join("stats.pcap");
    std::fs::write(&p, &cap.bytes).unwrap();
    p
}

fn tapir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(args)
        .output()
        .expect("run tapir")
}

fn replay(pcap: &Path, state: &Path, out: &Path) {
    let o = tapir(&[
        "replay",
        "-q",
        "-w",
        "1",
        "--state",
        state.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn stats(state: &Path, args: &[&str]) -> Value {
    let mut a = vec!["stats", "--state", state.to_str().unwrap(), "--json"];
    a.extend_from_slice(args);
    let o = tapir(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn files(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event_type"] == "file")
        .collect()
}

#[test]
fn counts_first_seen_and_names_add_up_across_replays() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let state = dir.path().join("state");
    let out = dir.path().join("out.ndjson");
    replay(&pcap, &state, &out);

    let d = stats(&state, &["domain", "www.shop.example.co.uk"]);
    // Subdomains roll up to the registered domain (public suffix co.uk).
    assert_eq!(d["domain"], "example.co.uk");
    // 6 DNS queries + 2 HTTP requests.
    assert_eq!(d["requests"], 8);
    assert_eq!(d["hosts"], 3);
    assert_eq!(d["first_seen"], "2023-11-14T22:13:20.000010Z");
    let last = d["last_seen"].as_str().unwrap();
    assert!(last.starts_with("2023-11-14T22:16:40."), "{last}");
    let hosts: Vec<&str> = d["host_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["ip"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["10.1.1.10", "10.1.1.11", "10.1.1.12"]);
    assert_eq!(d["host_list"][0]["names"][0], "ws10.corp.example");
    assert!(d["bytes_down"].as_u64().unwrap() > 1000);
    assert_eq!(d["content_types"][0], "application/octet-stream");
    let names: Vec<&str> = d["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a.b.cdn.shop.example.co.uk", "www.shop.example.co.uk"]
    );

    let once = stats(&state, &["domain", "once.example.net"]);
    assert_eq!(once["requests"], 1);
    assert_eq!(once["hosts"], 1);
    assert_eq!(once["first_seen"], once["last_seen"]);

    let rarest = stats(&state, &["domains", "--rarest"]);
    assert_eq!(rarest[0]["domain"], "example.net");
    let newest = stats(&state, &["domains", "--newest"]);
    assert_eq!(newest[0]["domain"], "example.net");
    let top = stats(&state, &["domains", "--top", "1"]);
    assert_eq!(top.as_array().unwrap().len(), 1);
    assert_eq!(top[0]["domain"], "example.co.uk");

    // file.frequency: the first download is the file's first time in the network, the
    // second makes it two hosts.
    let f = files(&out);
    assert_eq!(f.len(), 2, "{f:?}");
    let fr: Vec<&Value> = f.iter().map(|r| &r["file"]["frequency"]).collect();
    assert_eq!(fr[0]["hosts"], 1);
    assert_eq!(fr[1]["hosts"], 2);
    assert_eq!(fr[0]["first_seen_network"], fr[1]["first_seen_network"]);
    assert_eq!(fr[0]["first_seen_host"], fr[0]["first_seen_network"]);
    assert_ne!(fr[1]["first_seen_host"], fr[1]["first_seen_network"]);
    let sha = f[0]["file"]["sha256"].as_str().unwrap();
    let fs = stats(&state, &["file", sha]);
    assert_eq!(fs["hosts"], 2);
    assert_eq!(fs["host_list"][0]["names"][0], "ws10.corp.example");

    let h = stats(&state, &["host", "10.1.1.10"]);
    assert_eq!(h["names"][0], "dns_ptr:ws10.corp.example");

    // The table form prints too.
    let o = tapir(&[
        "stats",
        "--state",
        state.to_str().unwrap(),
        "domains",
        "--top",
        "5",
    ]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("example.co.uk") && text.contains("requests"),
        "{text}"
    );

    // Same capture again into the same state: counts add, first seen stays, and the files
    // are now known from the store.
    let out2 = dir.path().join("out2.ndjson");
    replay(&pcap, &state, &out2);
    let d2 = stats(&state, &["domain", "example.co.uk"]);
    assert_eq!(d2["requests"], 16);
    assert_eq!(d2["hosts"], 3);
    assert_eq!(d2["first_seen"], d["first_seen"]);
    assert_eq!(
        stats(&state, &["domain", "once.example.net"])["requests"],
        2
    );
    let f2 = files(&out2);
    assert_eq!(f2[0]["file"]["frequency"]["hosts"], 2);
    assert_eq!(
        f2[0]["file"]["frequency"]["first_seen_network"],
        fr[0]["first_seen_network"]
    );
    assert_eq!(stats(&state, &["file", sha])["seen"], 4);
}

#[test]
fn kill_9_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    // Many names over many seconds of packet time: a commit every second.
    let mut cap = Cap::new();
    for i in 0..200_000u32 {
        cap.ts_us = T0 + u64::from(i) * 2_000;
        let client = [10, 2, (i % 7) as u8, 1 + (i % 200) as u8];
        let name = format!("h{}.d{}.example.com", i % 5000, i % 3000);
        query(&mut cap, client, 20000 + (i % 30000) as u16, &name);
    }
    let pcap = dir.path().join("many.pcap");
    std::fs::write(&pcap, &cap.bytes).unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("killed.ndjson");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "replay",
            "-q",
            "-w",
            "2",
            "--set",
            "output.status_interval=1",
            // A commit per delta, so that many land before the kill.
            "--set",
            "stats.commit_interval_ms=0",
            "--state",
            state.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            pcap.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    // Wait for a few status periods (the workers hand their deltas over at each), then kill.
    let file = state.join("stats.redb");
    for _ in 0..500 {
        let periodic = std::fs::read_to_string(&out)
            .map(|t| t.matches("\"periodic\"").count())
            .unwrap_or(0);
        if periodic >= 20 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(file.exists());
    // It opens, and every registered domain's requests are the sum of its names' (both are
    // written in the same transaction).
    let all = stats(&state, &["domains", "--top", "100000"]);
    for d in all.as_array().unwrap() {
        let name = d["domain"].as_str().unwrap();
        let one = stats(&state, &["domain", name]);
        let sum: u64 = one["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, one["requests"].as_u64().unwrap(), "{name}");
        let listed = one["host_list"].as_array().unwrap().len() as u64;
        assert!(listed >= 1 && listed <= one["requests"].as_u64().unwrap());
    }
    // A replay into it afterwards works and adds.
    let small = capture(dir.path());
    replay(&small, &state, &dir.path().join("o.ndjson"));
    assert_eq!(
        stats(&state, &["domain", "once.example.net"])["requests"],
        1
    );
}

#[test]
fn on_by_default_in_memory_and_off_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let run = |extra: &[&str], out: &Path| {
        let mut a = vec!["replay", "-q", "-w", "1", "-o", out.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.push(pcap.to_str().unwrap());
        let o = tapir(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // No --state: statistics are on, kept in memory; nothing is written beside the output.
    let on = dir.path().join("on.ndjson");
    run(&[], &on);
    let f = files(&on);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["file"]["frequency"]["hosts"], 1);
    assert_eq!(f[1]["file"]["frequency"]["hosts"], 2);
    let status = std::fs::read_to_string(&on).unwrap();
    let last: Value = status
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|r| r["event_type"] == "sensor_status")
        .unwrap();
    // The status block is there (its table counts may predate the last commit).
    let st = &last["sensor_status"]["stats"];
    assert_eq!(st["early_handovers"], 0, "{last}");
    assert_eq!(st["view_resets"], 0, "{last}");
    assert!(!dir.path().join("stats.redb").exists());
    // Off: no frequency, no stats block.
    let off = dir.path().join("off.ndjson");
    run(&["--set", "stats.enabled=false"], &off);
    let f = files(&off);
    assert_eq!(f.len(), 2);
    assert!(f[0]["file"].get("frequency").is_none(), "{}", f[0]);
    assert!(!std::fs::read_to_string(&off)
        .unwrap()
        .contains("\"early_handovers\""));
}
