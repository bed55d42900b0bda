//! Memory held across thousands of concurrent flows, through the binary, for what the HTTP
//! body test (`mem_decoders.rs`) does not cover:
//! - email messages (SMTP DATA) kept for MIME parsing, with their attachments' kept bytes and
//!   PE buffers, under the same `files.inspect_memcap` as HTTP bodies: the oldest messages are
//!   released first, counted (`limits[]`, `email.inspect_memcap`), and their records say
//!   `truncated` while keeping the headers;
//! - what passive learning keeps (`--learned-out`) under `enrich.max_learned_values`, with
//!   the observations past it counted in the status records.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::run_sensor;
use testkit::packets::{Cap, SERVER};

const MIB: u64 = 1 << 20;

/// One SMTP connection and its next sequence numbers.
struct Conn {
    client: [u8; 4],
    cport: u16,
    c: u32,
    s: u32,
}

impl Conn {
    fn open(cap: &mut Cap, i: usize) -> Conn {
        let client = [10, 30, (i >> 8) as u8, i as u8];
        let cport = 30000 + (i % 30000) as u16;
        let (c, s) = (1_000u32, 7_000_000u32);
        cap.tcp(client, SERVER, cport, 25, c, 0, "S", &[]);
        cap.tcp(SERVER, client, 25, cport, s, c + 1, "SA", &[]);
        cap.tcp(client, SERVER, cport, 25, c + 1, s + 1, "A", &[]);
        Conn {
            client,
            cport,
            c: c + 1,
            s: s + 1,
        }
    }

    fn client(&mut self, cap: &mut Cap, data: &[u8]) {
        for chunk in data.chunks(1400) {
            cap.tcp(
                self.client,
                SERVER,
                self.cport,
                25,
                self.c,
                self.s,
                "AP",
                chunk,
            );
            self.c += chunk.len() as u32;
        }
    }

    fn server(&mut self, cap: &mut Cap, data: &[u8]) {
        cap.tcp(
            SERVER,
            self.client,
            25,
            self.cport,
            self.s,
            self.c,
            "AP",
            data,
        );
        self.s += data.len() as u32;
    }
}

/// A message with a text part and a base64 attachment: a 96 KiB "executable".
fn message(i: usize) -> Vec<u8> {
    let mut exe = b"MZ".to_vec();
    exe.resize(96 << 10, (i % 251) as u8);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&exe);
    let mut m = format!(
        "From: sender{i}@example.org\r\nTo: rcpt@example.net\r\nSubject: report {i}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --b1\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"tool{i}.exe\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    for line in b64.as_bytes().chunks(76) {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--b1--\r\n");
    m
}

#[test]
fn thousands_of_open_messages_stay_under_the_inspection_memcap() {
    let n = 1500usize;
    let mut cap = Cap::new();
    let mut conns = Vec::new();
    let mut msgs = Vec::new();
    // Every session reaches DATA and sends the first half of its message...
    for i in 0..n {
        let mut k = Conn::open(&mut cap, i);
        k.server(&mut cap, b"220 mx.example.net ESMTP\r\n");
        for (cmd, reply) in [
            ("EHLO client.example.org\r\n", "250 mx.example.net\r\n"),
            (
                &format!("MAIL FROM:<sender{i}@example.org>\r\n")[..],
                "250 OK\r\n",
            ),
            ("RCPT TO:<rcpt@example.net>\r\n", "250 OK\r\n"),
            ("DATA\r\n", "354 go ahead\r\n"),
        ] {
            k.client(&mut cap, cmd.as_bytes());
            k.server(&mut cap, reply.as_bytes());
        }
        let m = message(i);
        k.client(&mut cap, &m[..m.len() / 2]);
        conns.push(k);
        msgs.push(m);
    }
    // ... then, every message open at once, each sends the rest.
    for (k, m) in conns.iter_mut().zip(&msgs) {
        k.client(&mut cap, &m[m.len() / 2..]);
        k.client(&mut cap, b"\r\n.\r\n");
        k.server(&mut cap, b"250 queued\r\n");
    }
    let memcap = std::env::var("TAPIR_INSPECT_MEMCAP").unwrap_or_else(|_| "16777216".into());
    let r = run_sensor(
        &cap.bytes,
        &[
            "-w",
            "1",
            "--set",
            &format!("files.inspect_memcap={memcap}"),
        ],
    );
    assert!(r.status.success(), "{}", r.stderr);
    let stop = r.stop();
    eprintln!(
        "open messages: peak RSS {:.1} MiB; limits {}; anomalies {}",
        r.peak_rss() as f64 / MIB as f64,
        stop["limits"],
        stop["anomalies"]
    );
    let released = r.limit_hits("files.inspect_memcap");
    assert!(released > 0, "no message released");
    assert_eq!(r.anomaly("email.inspect_memcap"), released);
    let emails = r.of("email");
    assert_eq!(emails.len(), n);
    let truncated = emails
        .iter()
        .filter(|e| e["email"]["truncated"] == true)
        .count();
    assert_eq!(truncated as u64, released);
    // A released message keeps its start: every record has its subject and sender.
    for (i, e) in emails.iter().enumerate() {
        assert!(
            e["email"]["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("report ")),
            "email {i}: {e}"
        );
    }
    // Every attachment is reported; those of released messages (cut at their start) are
    // incomplete, the others complete.
    let files = r.of("file");
    assert_eq!(files.len(), n);
    assert!(files.iter().all(|f| f["file"]["format"] == "pe"));
    let complete = files
        .iter()
        .filter(|f| f["file"]["complete"] == true)
        .count();
    assert_eq!(complete as u64, n as u64 - released);
    // Unbounded (`TAPIR_INSPECT_MEMCAP=4294967296`), 1500 messages of 130 KB held at once:
    // a peak of 196 MiB in the debug build; under a 16 MiB cap, 62 MiB.
    let peak = r.peak_rss();
    assert!(
        peak < 120 * MIB,
        "peak RSS {:.1} MiB",
        peak as f64 / MIB as f64
    );
}

/// A DNS response for `name` with one A record `ip`.
fn dns_answer(id: u16, name: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut d = id.to_be_bytes().to_vec();
    d.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    for label in name.split('.') {
        d.push(label.len() as u8);
        d.extend_from_slice(label.as_bytes());
    }
    d.extend_from_slice(&[0, 0, 1, 0, 1]);
    d.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
    d.extend_from_slice(&ip);
    d
}

/// Thousands of hosts named by DNS answers, more than `enrich.max_learned_values`: what is
/// kept stays under the cap, the rest is counted, and the count is in the stop record's
/// `limits[]` and the summary.
#[test]
fn learned_values_are_capped_and_counted() {
    let n = 3000u16;
    let mut cap = Cap::new();
    for i in 0..n {
        let ip = [10, 40, (i >> 8) as u8, i as u8];
        cap.udp(
            [192, 0, 2, 53],
            [10, 1, 1, 1],
            53,
            20000 + i,
            &dns_answer(i, &format!("host{i}.example.org"), ip),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let learned = dir.path().join("learned.json");
    let summary = dir.path().join("summary.json");
    let r = run_sensor(
        &cap.bytes,
        &[
            "-w",
            "2",
            "--set",
            "enrich.max_learned_values=500",
            "--learned-out",
            learned.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    assert!(r.status.success(), "{}", r.stderr);
    let l: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&learned).unwrap()).unwrap();
    let kept: usize = l["names_by_ip"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(kept, 500, "kept under the cap, all of it used");
    let dropped = r.limit_hits("enrich.max_learned_values");
    // Each worker keeps 500 and counts the rest; merging the workers' sets counts what no
    // longer fits: every name is either kept or counted.
    assert_eq!(dropped + kept as u64, u64::from(n));
    assert_eq!(l["dropped"].as_u64(), Some(dropped));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["learned"]["dropped"].as_u64(), Some(dropped));
}
