#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: the email parsers. Group `smtp`: pipelined SMTP sessions (EHLO, MAIL, RCPT, DATA
//! with a multipart message carrying a base64 attachment), throughput in bytes and messages.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::proto::{
    email::{imap, pop3, smtp},
    AppParser, Transport,
};
use testkit::session::Session;

/// A message with a text part and a 24 KiB base64 attachment.
fn message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: =?UTF-8?B?SMOpbGxv?=\r\nMessage-ID: <1@example.com>\r\nDate: Fri, 25 Feb 2022 23:01:14 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello Bob,\r\n.see attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    for _ in 0..430 {
        m.extend_from_slice(line);
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

/// (client stream, server stream, messages)
fn session(n: usize) -> (Vec<u8>, Vec<u8>, u64) {
    let msg = message();
    let mut c = b"EHLO client.example.com\r\n".to_vec();
    let mut s = b"220 mx.example.org ESMTP\r\n250-mx.example.org\r\n250 PIPELINING\r\n".to_vec();
    for _ in 0..n {
        c.extend_from_slice(
            b"MAIL FROM:<alice@example.com> SIZE=40000\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
        );
        for l in msg.split_inclusive(|&b| b == b'\n') {
            if l.first() == Some(&b'.') {
                c.push(b'.');
            }
            c.extend_from_slice(l);
        }
        c.extend_from_slice(b".\r\n");
        s.extend_from_slice(b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n");
    }
    c.extend_from_slice(b"QUIT\r\n");
    s.extend_from_slice(b"221 bye\r\n");
    (c, s, n as u64)
}

fn bench_smtp(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp");
    let (cl, sv, n) = session(50);
    let run = || {
        let mut s = Session::new(Transport::Tcp);
        s.ts_ns = 1;
        s.exchange(&mut *smtp::new_parser(Transport::Tcp), &cl, &sv, 1460)
    };
    assert!(run() as u64 >= 2 * n);
    g.throughput(Throughput::Bytes((cl.len() + sv.len()) as u64));
    g.bench_function("session_bytes", |b| b.iter(run));
    g.throughput(Throughput::Elements(n));
    g.bench_function("session_messages", |b| b.iter(run));
    g.finish();
}

/// POP3: USER/PASS then RETR of `n` messages; IMAP: LOGIN then FETCH BODY[] of `n` messages.
fn bench_pop3_imap(c: &mut Criterion) {
    let msg = message();
    let n = 50u64;
    let mut pc = b"USER bob\r\nPASS secret\r\n".to_vec();
    let mut ps = b"+OK POP3 ready\r\n+OK\r\n+OK\r\n".to_vec();
    let mut ic = b"a1 LOGIN bob secret\r\na2 SELECT INBOX\r\n".to_vec();
    let mut is = b"* OK IMAP4rev1 ready\r\na1 OK done\r\n* 50 EXISTS\r\na2 OK done\r\n".to_vec();
    for i in 1..=n {
        pc.extend_from_slice(format!("RETR {i}\r\n").as_bytes());
        ps.extend_from_slice(format!("+OK {} octets\r\n", msg.len()).as_bytes());
        for l in msg.split_inclusive(|&b| b == b'\n') {
            if l.first() == Some(&b'.') {
                ps.push(b'.');
            }
            ps.extend_from_slice(l);
        }
        ps.extend_from_slice(b".\r\n");
        ic.extend_from_slice(format!("f{i} FETCH {i} BODY[]\r\n").as_bytes());
        is.extend_from_slice(format!("* {i} FETCH (BODY[] {{{}}}\r\n", msg.len()).as_bytes());
        is.extend_from_slice(&msg);
        is.extend_from_slice(format!(")\r\nf{i} OK done\r\n").as_bytes());
    }
    for (name, cl, sv, new) in [
        (
            "pop3",
            &pc,
            &ps,
            pop3::new_parser as fn(Transport) -> Box<dyn AppParser>,
        ),
        ("imap", &ic, &is, imap::new_parser),
    ] {
        let mut g = c.benchmark_group(name);
        let run = || {
            let mut s = Session::new(Transport::Tcp);
            s.ts_ns = 1;
            s.exchange(&mut *new(Transport::Tcp), cl, sv, 1460)
        };
        assert!(run() as u64 >= 2 * n, "{name}");
        g.throughput(Throughput::Bytes((cl.len() + sv.len()) as u64));
        g.bench_function("session_bytes", |b| b.iter(run));
        g.throughput(Throughput::Elements(n));
        g.bench_function("session_messages", |b| b.iter(run));
        g.finish();
    }
}

criterion_group!(benches, bench_smtp, bench_pop3_imap);
criterion_main!(benches);
