//! Hostile payloads through the whole sensor (the `tapir` binary, capture on stdin): oversized
//! HTTP heads, endless chunked bodies, gzip bombs, deeply nested MIME, conflicting TCP overlaps,
//! Kerberos and LDAP with absurd DER lengths. Each run must end normally, keep its memory
//! bounded, count what it dropped or cut in the stop `sensor_status` record, and still report
//! the valid transactions around the garbage.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::{run_sensor, SensorRun};
use serde_json::Value;
use sha2::{Digest, Sha256};
use testkit::hex;
use testkit::packets::{krb_as_req, Cap, SERVER};

const MIB: u64 = 1 << 20;

/// One TCP connection written segment by segment, so that several can be interleaved.
struct Conn {
    client: [u8; 4],
    cport: u16,
    server: [u8; 4],
    sport: u16,
    /// Next sequence numbers of each side.
    c: u32,
    s: u32,
    /// First data sequence number of the client (ISN + 1).
    c0: u32,
}

impl Conn {
    /// The three-way handshake.
    fn open(cap: &mut Cap, client: [u8; 4], cport: u16, server: [u8; 4], sport: u16) -> Conn {
        let (c, s) = (7_000u32, 3_000_000u32);
        cap.tcp(client, server, cport, sport, c, 0, "S", &[]);
        cap.tcp(server, client, sport, cport, s, c + 1, "SA", &[]);
        cap.tcp(client, server, cport, sport, c + 1, s + 1, "A", &[]);
        Conn {
            client,
            cport,
            server,
            sport,
            c: c + 1,
            s: s + 1,
            c0: c + 1,
        }
    }

    /// Client bytes in segments of at most 1400 bytes.
    fn client(&mut self, cap: &mut Cap, data: &[u8]) {
        for chunk in data.chunks(1400) {
            cap.tcp(
                self.client,
                self.server,
                self.cport,
                self.sport,
                self.c,
                self.s,
                "AP",
                chunk,
            );
            self.c = self.c.wrapping_add(chunk.len() as u32);
        }
    }

    /// One client segment at stream offset `off` (sequence number not advanced).
    fn client_at(&mut self, cap: &mut Cap, off: u32, data: &[u8]) {
        cap.tcp(
            self.client,
            self.server,
            self.cport,
            self.sport,
            self.c0.wrapping_add(off),
            self.s,
            "AP",
            data,
        );
    }

    /// Server bytes in segments of at most 1400 bytes.
    fn server(&mut self, cap: &mut Cap, data: &[u8]) {
        for chunk in data.chunks(1400) {
            cap.tcp(
                self.server,
                self.client,
                self.sport,
                self.cport,
                self.s,
                self.c,
                "AP",
                chunk,
            );
            self.s = self.s.wrapping_add(chunk.len() as u32);
        }
    }

    /// FIN both ways and the last ACK.
    fn close(&mut self, cap: &mut Cap) {
        let (cl, sv, cp, sp) = (self.client, self.server, self.cport, self.sport);
        cap.tcp(cl, sv, cp, sp, self.c, self.s, "AF", &[]);
        cap.tcp(sv, cl, sp, cp, self.s, self.c + 1, "AF", &[]);
        cap.tcp(cl, sv, cp, sp, self.c + 1, self.s + 1, "A", &[]);
    }
}

/// A valid HTTP GET / 200 on a connection of its own.
fn valid_get(c: &mut Cap, client: [u8; 4], cport: u16, uri: &str) {
    c.conversation(
        client,
        cport,
        SERVER,
        80,
        format!("GET {uri} HTTP/1.1\r\nHost: example.org\r\nUser-Agent: good/1.0\r\n\r\n")
            .as_bytes(),
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
    );
}

/// The http record of `uri`, which must be there once.
fn http_of<'a>(r: &'a SensorRun, uri: &str) -> &'a Value {
    let found: Vec<_> = r
        .of("http")
        .into_iter()
        .filter(|h| h["http"]["uri"] == uri)
        .collect();
    assert_eq!(found.len(), 1, "http record of {uri}; stderr: {}", r.stderr);
    &found[0]["http"]
}

/// Asserts the valid GET of `uri` was reported whole.
fn assert_valid_get(r: &SensorRun, uri: &str) {
    let h = http_of(r, uri);
    assert_eq!(h["method"], "GET", "{h}");
    assert_eq!(h["host"], "example.org", "{h}");
    assert_eq!(h["user_agent"], "good/1.0", "{h}");
    assert_eq!(h["status"], 200, "{h}");
    assert_eq!(h["response_body_len"], 2, "{h}");
    assert_eq!(h["response_complete"], true, "{h}");
}

/// The file record with this id.
fn file_of<'a>(r: &'a SensorRun, id: &Value) -> &'a Value {
    let f = r
        .of("file")
        .into_iter()
        .find(|f| f["file"]["id"] == *id)
        .unwrap_or_else(|| panic!("no file record {id}"));
    &f["file"]
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(&Sha256::digest(data))
}

/// Runs the sensor, checks it ended normally and prints what the stop record counted.
fn run(name: &str, capture: &[u8], args: &[&str]) -> SensorRun {
    let t = std::time::Instant::now();
    let r = run_sensor(capture, args);
    assert!(r.status.success(), "{name}: {}", r.stderr);
    let stop = r.stop();
    eprintln!(
        "{name}: {} MiB of capture in {:?}, peak RSS {:.1} MiB",
        capture.len() as u64 / MIB,
        t.elapsed(),
        r.peak_rss() as f64 / MIB as f64
    );
    eprintln!(
        "  limits: {}",
        serde_json::to_string(&stop["limits"]).unwrap()
    );
    eprintln!(
        "  anomalies: {}",
        serde_json::to_string(&stop["anomalies"]).unwrap()
    );
    r
}

fn assert_rss_below(r: &SensorRun, mib: u64) {
    let peak = r.peak_rss();
    assert!(
        peak < mib * MIB,
        "peak RSS {:.1} MiB, bound {mib} MiB",
        peak as f64 / MIB as f64
    );
}

/// a. Request heads of a megabyte: 64 connections open at once, each sending one header line of
/// ~1 MB (an unbounded parser would hold all 64 MB), and a head of 3 000 header lines followed by
/// a valid request on the same connection; a valid GET on a connection of its own.
#[test]
fn http_heads_of_a_megabyte() {
    let mut c = Cap::new();
    let conns = 64u16;
    let line_len = 1_000_000usize;
    let mut open: Vec<Conn> = (0..conns)
        .map(|i| Conn::open(&mut c, [10, 2, 0, i as u8 + 1], 42000 + i, SERVER, 80))
        .collect();
    let heads: Vec<Vec<u8>> = (0..conns)
        .map(|i| {
            let mut h =
                format!("GET /big-{i} HTTP/1.1\r\nHost: example.org\r\nX-Big: ").into_bytes();
            h.resize(h.len() + line_len, b'a' + (i % 26) as u8);
            h.extend_from_slice(b"\r\n\r\n");
            h
        })
        .collect();
    // Interleaved: every connection holds a partial head at the same time.
    let mut pos = 0;
    while pos < heads[0].len() {
        for (conn, head) in open.iter_mut().zip(&heads) {
            let end = (pos + 1400).min(head.len());
            conn.client(&mut c, &head[pos..end]);
        }
        pos += 1400;
    }
    for conn in &mut open {
        conn.close(&mut c);
    }
    // Thousands of header lines (each short), then a valid request on the same connection.
    let mut many = b"GET /many-headers HTTP/1.1\r\nHost: example.org\r\n".to_vec();
    for i in 0..3000 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    many.extend_from_slice(
        b"GET /after-many HTTP/1.1\r\nHost: example.org\r\nUser-Agent: good/1.0\r\n\r\n",
    );
    c.conversation(
        [10, 2, 1, 1],
        43000,
        SERVER,
        80,
        &many,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    valid_get(&mut c, [10, 2, 1, 2], 43001, "/valid");

    let r = run("1 MB heads", &c.bytes, &["-w", "2"]);
    assert_valid_get(&r, "/valid");
    assert_valid_get(&r, "/after-many");
    assert_eq!(r.anomaly("http.head_too_large"), u64::from(conns));
    assert_eq!(r.anomaly("http.too_many_headers"), 1);
    // The oversized heads never became records.
    assert!(r.of("http").iter().all(|h| {
        let uri = h["http"]["uri"].as_str().unwrap_or("");
        !uri.starts_with("/big-") && uri != "/many-headers"
    }));
    // The heads stayed within the reassembly depth: the parser's own cap cut them.
    assert_eq!(r.limit_hits("reassembly.depth"), 0);
    assert_rss_below(&r, 32);
}

/// The chunked response that never ends: `total` bytes of 16 KiB chunks (the data a repeating
/// pattern), no terminating 0-chunk; returns the de-chunked body's SHA-256.
fn endless_chunked(conn: &mut Conn, c: &mut Cap, total: usize) -> String {
    conn.server(
        c,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let data: Vec<u8> = (0..16384u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut chunk = b"4000\r\n".to_vec();
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(b"\r\n");
    let mut sha = Sha256::new();
    let mut sent = 0;
    while sent < total {
        conn.server(c, &chunk);
        sha.update(&data);
        sent += data.len();
    }
    hex::encode(&sha.finalize())
}

/// b. A response of 64 MiB of chunks that never ends (the connection closes instead), after a
/// valid request on the same connection: once with the default depth (the depth cuts it), once
/// with an unlimited depth (the parser streams it: hashed, never held).
#[test]
fn endless_chunked_body() {
    let total = 64 << 20;
    let mut c = Cap::new();
    valid_get(&mut c, [10, 3, 0, 1], 44000, "/before");
    let mut conn = Conn::open(&mut c, [10, 3, 0, 2], 44001, SERVER, 80);
    conn.client(
        &mut c,
        b"GET /first HTTP/1.1\r\nHost: example.org\r\nUser-Agent: good/1.0\r\n\r\nGET /endless HTTP/1.1\r\nHost: example.org\r\n\r\n",
    );
    conn.server(
        &mut c,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
    );
    let sha = endless_chunked(&mut conn, &mut c, total);
    conn.close(&mut c);
    valid_get(&mut c, [10, 3, 0, 3], 44002, "/after");

    let check = |r: &SensorRun| -> Value {
        assert_valid_get(r, "/before");
        assert_valid_get(r, "/first");
        assert_valid_get(r, "/after");
        let h = http_of(r, "/endless");
        assert_eq!(h["status"], 200, "{h}");
        assert_eq!(h["response_complete"], false, "{h}");
        let ids = h["file_ids"].as_array().unwrap();
        assert_eq!(ids.len(), 1, "{h}");
        let f = file_of(r, &ids[0]).clone();
        assert_eq!(f["complete"], false, "{f}");
        f
    };

    // Default depth (1 MiB per direction): the stream is cut, and that is counted.
    let r = run("endless chunked, default depth", &c.bytes, &["-w", "2"]);
    let f = check(&r);
    assert_eq!(r.limit_hits("reassembly.depth"), 1);
    assert_eq!(r.anomaly("stream.depth_reached"), 1);
    let size = f["size"].as_u64().unwrap();
    assert!(size < MIB && size > MIB - 32 * 1024, "{f}");
    assert_rss_below(&r, 32);

    // No depth: all 64 MiB go through the parser into the file's hashes, none of it held.
    let r = run(
        "endless chunked, no depth",
        &c.bytes,
        &["-w", "2", "--set", "reassembly.depth=0"],
    );
    let f = check(&r);
    assert_eq!(r.limit_hits("reassembly.depth"), 0);
    assert_eq!(f["size"], total as u64, "{f}");
    assert_eq!(f["sha256"], sha, "{f}");
    assert_rss_below(&r, 32);
}

/// `n` zero bytes compressed by `enc` as they go (never held whole).
fn compress_zeros<W: Write>(mut enc: W, n: u64) -> W {
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        enc.write_all(&zeros[..k]).unwrap();
        left -= k as u64;
    }
    enc
}

/// SHA-256 of `n` zero bytes.
fn zeros_sha256(n: u64) -> String {
    let mut sha = Sha256::new();
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        sha.update(&zeros[..k]);
        left -= k as u64;
    }
    hex::encode(&sha.finalize())
}

/// A 200 response with a coded body of `body`.
fn coded_response(coding: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(body);
    resp
}

/// c. Decompression bombs: gzip that inflates to 1 GiB of zeros (max-ratio deflate, about
/// 1 MB on the wire), sent in ordinary segments and in 60 000-byte ones, and brotli that
/// inflates to 1 GiB from 809 bytes; next to a small valid gzip response.
#[test]
fn decompression_bombs() {
    let t = std::time::Instant::now();
    let (gz, br) = std::thread::scope(|s| {
        let gz = s.spawn(|| {
            compress_zeros(
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best()),
                1 << 30,
            )
            .finish()
            .unwrap()
        });
        let br = s.spawn(|| {
            compress_zeros(
                brotli::CompressorWriter::new(Vec::new(), 1 << 16, 5, 24),
                1 << 30,
            )
            .into_inner()
        });
        (gz.join().unwrap(), br.join().unwrap())
    });
    eprintln!(
        "bombs: gzip {} bytes, brotli {} bytes on the wire, built in {:?}",
        gz.len(),
        br.len(),
        t.elapsed()
    );
    let small_plain = b"hello, hello, hello, a small valid gzip body".repeat(20);
    let small = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&small_plain).unwrap();
        e.finish().unwrap()
    };
    let get = |uri: &str| {
        format!("GET {uri} HTTP/1.1\r\nHost: example.org\r\nAccept-Encoding: gzip, br\r\n\r\n")
    };
    let octets = "application/octet-stream";
    let mut c = Cap::new();
    valid_get(&mut c, [10, 4, 0, 1], 45000, "/before");
    c.conversation(
        [10, 4, 0, 2],
        45001,
        SERVER,
        80,
        get("/bomb.gz").as_bytes(),
        &coded_response("gzip", octets, &gz),
    );
    // The same bomb in segments of 60 000 bytes (offloaded captures have such).
    let mut conn = Conn::open(&mut c, [10, 4, 0, 3], 45002, SERVER, 80);
    conn.client(&mut c, get("/bomb-big-segments.gz").as_bytes());
    for piece in coded_response("gzip", octets, &gz).chunks(60_000) {
        let (sv, cl, sp, cp) = (conn.server, conn.client, conn.sport, conn.cport);
        c.tcp(sv, cl, sp, cp, conn.s, conn.c, "AP", piece);
        conn.s = conn.s.wrapping_add(piece.len() as u32);
    }
    conn.close(&mut c);
    c.conversation(
        [10, 4, 0, 4],
        45003,
        SERVER,
        80,
        get("/bomb.br").as_bytes(),
        &coded_response("br", octets, &br),
    );
    c.conversation(
        [10, 4, 0, 5],
        45004,
        SERVER,
        80,
        get("/small.txt").as_bytes(),
        &coded_response("gzip", "text/plain", &small),
    );
    valid_get(&mut c, [10, 4, 0, 6], 45005, "/after");

    // No depth: the whole compressed bodies reach the parser, whose own cap must hold.
    let r = run(
        "decompression bombs",
        &c.bytes,
        &["-w", "2", "--set", "reassembly.depth=0"],
    );
    assert_valid_get(&r, "/before");
    assert_valid_get(&r, "/after");
    assert_eq!(r.anomaly("http.decompression_bomb"), 3);
    assert_eq!(r.anomaly("http.decode_error"), 0);
    assert_eq!(r.limit_hits("reassembly.depth"), 0);

    for (uri, coding, wire) in [
        ("/bomb.gz", "gzip", gz.len()),
        ("/bomb-big-segments.gz", "gzip", gz.len()),
        ("/bomb.br", "br", br.len()),
    ] {
        let h = http_of(&r, uri);
        assert_eq!(h["status"], 200, "{h}");
        assert_eq!(h["content_encoding"], coding, "{h}");
        assert_eq!(h["response_body_len"], wire as u64, "{h}");
        assert_eq!(h["response_complete"], true, "{h}");
        let f = file_of(&r, &h["file_ids"][0]);
        assert_eq!(f["complete"], false, "{f}");
        // What was decoded before the cap, hashed as it came: zeros, at most the cap.
        let size = f["size"].as_u64().unwrap();
        eprintln!("  {uri}: {size} bytes decoded and hashed");
        assert!(
            (MIB..=tapir::proto::http::MAX_DECODED).contains(&size),
            "{f}"
        );
        if coding == "br" {
            // Under 1 000 coded bytes: the 1 MiB floor of the ratio check is the limit.
            assert_eq!(size, MIB, "{f}");
        }
        assert_eq!(f["sha256"], zeros_sha256(size), "{f}");
    }

    let h = http_of(&r, "/small.txt");
    let f = file_of(&r, &h["file_ids"][0]);
    assert_eq!(f["complete"], true, "{f}");
    assert_eq!(f["size"], small_plain.len() as u64, "{f}");
    assert_eq!(f["sha256"], sha256_hex(&small_plain), "{f}");
    // Brotli's decoder holds a window of up to 16 MiB; 1 GiB of output is never held.
    assert_rss_below(&r, 40);
}

/// An SMTP session on its own connection delivering `messages` in turn, each command answered
/// before the next.
fn smtp_session(c: &mut Cap, client: [u8; 4], cport: u16, messages: &[&[u8]]) {
    let mut conn = Conn::open(c, client, cport, [192, 0, 2, 25], 25);
    conn.server(c, b"220 mx.example.org ESMTP\r\n");
    conn.client(c, b"EHLO client.example.org\r\n");
    conn.server(c, b"250 mx.example.org\r\n");
    for m in messages {
        conn.client(c, b"MAIL FROM:<alice@example.org>\r\n");
        conn.server(c, b"250 OK\r\n");
        conn.client(c, b"RCPT TO:<bob@example.net>\r\n");
        conn.server(c, b"250 OK\r\n");
        conn.client(c, b"DATA\r\n");
        conn.server(c, b"354 go ahead\r\n");
        conn.client(c, m);
        conn.client(c, b".\r\n");
        conn.server(c, b"250 queued\r\n");
    }
    conn.client(c, b"QUIT\r\n");
    conn.server(c, b"221 bye\r\n");
    conn.close(c);
}

/// A message with a base64 PDF attachment.
fn message_with_attachment(subject: &str, attachment: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let mut m = format!(
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b0\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    let b64 = base64::engine::general_purpose::STANDARD.encode(attachment);
    for line in b64.as_bytes().chunks(76) {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--b0--\r\n");
    m
}

/// d. In one SMTP session: a normal message with an attachment, a message of 10 000 nested
/// multipart levels, one of 100 000 nested attached messages (4.4 MB: their drop glue used to
/// overflow a worker's stack, and their parse to cost some 30 times their size), and a normal
/// message again.
#[test]
fn deeply_nested_mime() {
    let attachment = b"%PDF-1.4 a small attachment\r\n".repeat(100);
    let before = message_with_attachment("the report", &attachment);
    let after = message_with_attachment("the report again", &attachment);

    let levels = 10_000;
    let mut multiparts =
        b"From: Mallory <mallory@example.org>\r\nTo: bob@example.net\r\nSubject: deep multiparts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=n0\r\n\r\n".to_vec();
    for i in 1..levels {
        multiparts.extend_from_slice(
            format!(
                "--n{}\r\nContent-Type: multipart/mixed; boundary=n{i}\r\n\r\n",
                i - 1
            )
            .as_bytes(),
        );
    }
    multiparts.extend_from_slice(
        format!(
            "--n{}\r\nContent-Type: text/plain\r\n\r\nbottom\r\n",
            levels - 1
        )
        .as_bytes(),
    );
    for i in (0..levels).rev() {
        multiparts.extend_from_slice(format!("--n{i}--\r\n").as_bytes());
    }
    let mut messages =
        b"From: Mallory <mallory@example.org>\r\nSubject: deep messages\r\nMIME-Version: 1.0\r\n"
            .to_vec();
    for _ in 0..100_000 {
        messages.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\nSubject: x\r\n");
    }
    messages.extend_from_slice(b"\r\nbottom\r\n");

    let mut c = Cap::new();
    smtp_session(
        &mut c,
        [10, 5, 0, 1],
        46000,
        &[&before, &multiparts, &messages, &after],
    );
    valid_get(&mut c, [10, 5, 0, 2], 46001, "/valid");

    // No depth: every message reaches the parser whole.
    let r = run(
        "nested MIME",
        &c.bytes,
        &["-w", "2", "--set", "reassembly.depth=0"],
    );
    assert_valid_get(&r, "/valid");
    let emails = r.of("email");
    let subjects: Vec<_> = emails.iter().map(|e| &e["email"]["subject"]).collect();
    assert_eq!(
        subjects,
        [
            "the report",
            "deep multiparts",
            "deep messages",
            "the report again"
        ],
        "{emails:?}"
    );
    for e in [&emails[0]["email"], &emails[3]["email"]] {
        assert_eq!(e["mail_from"], "alice@example.org", "{e}");
        assert_eq!(e["truncated"], false, "{e}");
        let att = &e["attachments"][0];
        assert_eq!(att["name"], "report.pdf", "{e}");
        let f = file_of(&r, &att["file_id"]);
        assert_eq!(f["complete"], true, "{f}");
        assert_eq!(f["size"], attachment.len() as u64, "{f}");
        assert_eq!(f["sha256"], sha256_hex(&attachment), "{f}");
    }
    // The hostile ones: reported, cut where their structure outgrew the cap, and counted.
    for (e, size) in [
        (&emails[1]["email"], multiparts.len()),
        (&emails[2]["email"], messages.len()),
    ] {
        assert_eq!(e["truncated"], true, "{e}");
        assert_eq!(e["size"], size as u64, "{e}");
    }
    assert_eq!(r.anomaly("email.mime_too_complex"), 2);
    assert_eq!(r.anomaly("email.mime_nesting_too_deep"), 1);
    assert_eq!(r.anomaly("email.nesting_too_deep"), 1);
    assert_eq!(r.anomaly("email.message_too_large"), 0);
    assert!(
        !r.stop()["anomalies"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("smtp.")),
        "{}",
        r.stop()["anomalies"]
    );
    assert_rss_below(&r, 48);
}

/// Garbage byte `off` of variant `v` of an overlapping flood: letters, never a line break.
fn flood_byte(off: u64, v: u64) -> u8 {
    b'a' + ((off.wrapping_mul(31) ^ v.wrapping_mul(7)) % 26) as u8
}

/// e. Overlapping, conflicting TCP segments. A request whose bytes arrive out of order and twice
/// with different content, whole and in part: the first bytes seen win and the conflicts are
/// counted. Then an upload of 40 MB sent in windows that each start with a hole never filled, every byte
/// sent twice in differing overlapping segments: what waits behind a hole stays within
/// reassembly.max_buffered_per_dir.
#[test]
fn overlapping_conflicting_segments() {
    let mut c = Cap::new();
    valid_get(&mut c, [10, 6, 0, 1], 47000, "/before");

    let good = b"GET /first-wins HTTP/1.1\r\nHost: example.org\r\nUser-Agent: good/1.0\r\n\r\n";
    let evil = good.to_ascii_uppercase();
    let mut conn = Conn::open(&mut c, [10, 6, 0, 2], 47001, SERVER, 80);
    // The tail first (buffered), then a full conflict over part of it.
    conn.client_at(&mut c, 20, &good[20..]);
    conn.client_at(&mut c, 20, &evil[20..40]);
    // A partial overlap: new bytes 10..20 (as the good ones), conflicting bytes 20..30.
    let mut mixed = good[10..20].to_vec();
    mixed.extend_from_slice(&evil[20..30]);
    conn.client_at(&mut c, 10, &mixed);
    // The head: in order, overlapping buffered bytes 10..20 with the same content.
    conn.client_at(&mut c, 0, &good[..20]);
    // The whole request again, different, after delivery: a retransmission, dropped (delivered
    // bytes are not kept, so it is not compared).
    conn.client_at(&mut c, 0, &evil);
    conn.c = conn.c0.wrapping_add(good.len() as u32);
    conn.server(
        &mut c,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
    );
    conn.close(&mut c);

    // The flood: the body of an upload sent in windows of 200 000 bytes, each starting with a
    // 100-byte hole; 1 400-byte segments every 700 bytes, alternating two contents (40 MB).
    let windows = 200u32;
    let window = 200_000u32;
    let body_len = windows * window;
    let head =
        format!("POST /upload HTTP/1.1\r\nHost: example.org\r\nContent-Length: {body_len}\r\n\r\n");
    let p = head.len() as u32;
    let mut flood = Conn::open(&mut c, [10, 6, 0, 3], 47002, SERVER, 80);
    flood.client(&mut c, head.as_bytes());
    let mut seg = Vec::with_capacity(1400);
    for w in 0..windows {
        let base = p + w * window;
        let mut off = base + 100;
        let mut v = 0u64;
        while off < base + window {
            let end = (off + 1400).min(base + window);
            seg.clear();
            seg.extend((off..end).map(|o| flood_byte(u64::from(o), v)));
            flood.client_at(&mut c, off, &seg);
            off += 700;
            v ^= 1;
        }
    }
    flood.c = flood.c0.wrapping_add(p + body_len);
    flood.server(
        &mut c,
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n",
    );
    flood.close(&mut c);
    valid_get(&mut c, [10, 6, 0, 4], 47003, "/after");

    // No depth: the flood keeps being buffered and delivered to its end.
    let r = run(
        "overlaps",
        &c.bytes,
        &["-w", "2", "--set", "reassembly.depth=0"],
    );
    assert_valid_get(&r, "/before");
    assert_valid_get(&r, "/after");
    let h = http_of(&r, "/first-wins");
    assert_eq!(h["host"], "example.org", "{h}");
    assert_eq!(h["user_agent"], "good/1.0", "{h}");
    assert_eq!(h["status"], 200, "{h}");
    assert!(r
        .of("http")
        .iter()
        .all(|h| h["http"]["uri"] != "/FIRST-WINS"));
    // The upload: its body went through with its holes, first bytes winning.
    let h = http_of(&r, "/upload");
    assert_eq!(h["status"], 413, "{h}");
    assert_eq!(h["request_body_len"], u64::from(body_len), "{h}");
    let f = file_of(&r, &h["file_ids"][0]);
    assert_eq!(f["complete"], false, "{f}");
    assert_eq!(f["gap_bytes"], u64::from(windows * 100), "{f}");
    assert_eq!(f["size"], u64::from(windows * (window - 100)), "{f}");
    // Two conflicts in the request, and the flood's: a segment overlapping a buffered one
    // with other bytes.
    let conflicts = r.anomaly("stream.overlap_conflicts");
    assert!(conflicts > 2 + 200 * u64::from(windows), "{conflicts}");
    // Each window's hole is given up on once the buffer is full.
    let hits = r.limit_hits("reassembly.max_buffered_per_dir");
    assert!(hits >= u64::from(windows) - 2, "{hits}");
    assert!(r.anomaly("stream.gaps") >= u64::from(windows) - 2);
    assert_eq!(r.limit_hits("reassembly.memcap"), 0);
    assert_rss_below(&r, 32);
}

/// ndpi_kerberos.pcap frame 32 (src/proto/kerberos/parser.rs): a KRB-ERROR 13 (BADOPTION) with
/// its TCP record mark.
const KRB_ERROR_TCP: &str = "000000847e8181307fa003020105a10302011ea411180f32303139303230353033333834395aa50502030c9c32a60302010da9101b0e484150505943524146542e4f5247aa273025a00302010aa11e301c1b1a6a6f686e736f6e2d70632440484150505943524146542e4f5247ac1904173015a103020103a20e040cbb0000c00000000003000000";
/// LDAP messages of src/proto/ldap/state.rs's tests (zeek_ldap-escaping_test.pcapng): a simple
/// bind, its success, a search (id 2), an entry.
const LDAP_BIND: &str =
    "302a02010160250201030414636e3d61646d696e2c64633d6e6f646f6d61696e800a6d796c64617070617373";
const LDAP_BIND_OK: &str = "300c02010161070a010004000400";
const LDAP_SEARCH: &str = "306a020102636504000a01020a0100020100020100010100a050a30c04046e616d65040454657374a41604046d61696c300e820c406578616d706c652e636f6da128a312040464657074040a6163636f756e74696e67a312040464657074040a6f7065726174696f6e733000";
const LDAP_ENTRY: &str = "3011020102640c0408636e3d782c64633d3000";
/// SearchResultDone (id 2), success.
const LDAP_DONE_OK: &str = "300c02010265070a010004000400";

/// 32 MiB of junk after an absurd length on a connection of its own.
fn absurd_then_junk(c: &mut Cap, client: [u8; 4], server: [u8; 4], sport: u16, prefix: &[u8]) {
    let mut conn = Conn::open(c, client, 48000, server, sport);
    conn.client(c, prefix);
    let junk = vec![0x5au8; 1400];
    for _ in 0..(32 << 20) / 1400 {
        conn.client(c, &junk);
    }
    conn.close(c);
}

/// f. Kerberos and LDAP with absurd DER lengths: a 0x7fffffff record mark and an AS-REQ whose
/// length says 0xffffffff bytes; an LDAPMessage of 0x7fffffff bytes and one whose operation
/// claims as much inside a message of 11 bytes. The absurd lengths are followed by 32 MiB of
/// junk each, which an implementation waiting for the announced bytes would buffer. Valid
/// Kerberos (UDP and TCP) and LDAP exchanges go on around them.
#[test]
fn kerberos_and_ldap_with_absurd_lengths() {
    let kdc = [10, 7, 0, 88];
    let dc = [10, 7, 0, 89];
    let as_req = krb_as_req("alice", "EXAMPLE.COM", &[18, 17, 23]);
    let err_tcp = hex::decode(KRB_ERROR_TCP);
    let mut c = Cap::new();

    // Kerberos over UDP: a valid exchange, then an AS-REQ whose length is 0xffffffff.
    c.udp([10, 7, 1, 1], kdc, 50001, 88, &as_req);
    c.udp(kdc, [10, 7, 1, 1], 88, 50001, &err_tcp[4..]);
    let mut absurd = vec![0x6a, 0x84, 0xff, 0xff, 0xff, 0xff];
    absurd.extend_from_slice(&as_req[3..]);
    c.udp([10, 7, 1, 2], kdc, 50002, 88, &absurd);
    // Kerberos over TCP: a record mark of 0x7fffffff, then the junk.
    absurd_then_junk(&mut c, [10, 7, 1, 3], kdc, 88, &[0x7f, 0xff, 0xff, 0xff]);
    // ... and a valid exchange on another connection.
    let mut marked = (as_req.len() as u32).to_be_bytes().to_vec();
    marked.extend_from_slice(&as_req);
    c.conversation([10, 7, 1, 4], 50004, kdc, 88, &marked, &err_tcp);

    // LDAP: a message of 0x7fffffff bytes, then the junk.
    absurd_then_junk(
        &mut c,
        [10, 7, 2, 1],
        dc,
        389,
        &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
    );
    // A bind, a message whose search request claims 0x7fffffff bytes, then a valid search.
    let mut conn = Conn::open(&mut c, [10, 7, 2, 2], 50006, dc, 389);
    conn.client(&mut c, &hex::decode(LDAP_BIND));
    conn.server(&mut c, &hex::decode(LDAP_BIND_OK));
    conn.client(
        &mut c,
        &[
            0x30, 0x0b, 0x02, 0x01, 0x03, 0x63, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x04, 0x00,
        ],
    );
    conn.client(&mut c, &hex::decode(LDAP_SEARCH));
    conn.server(&mut c, &hex::decode(LDAP_ENTRY));
    conn.server(&mut c, &hex::decode(LDAP_DONE_OK));
    conn.close(&mut c);

    // No depth: the junk reaches the parsers.
    let r = run(
        "Kerberos and LDAP",
        &c.bytes,
        &["-w", "2", "--set", "reassembly.depth=0"],
    );
    // Each absurd length counted by its parser (the TCP ones reach it although their first
    // bytes match no protocol: the port names it).
    assert_eq!(r.anomaly("kerberos.malformed"), 1);
    assert_eq!(r.anomaly("kerberos.record_too_large"), 1);
    assert_eq!(r.anomaly("ldap.too_large"), 1);
    assert_eq!(r.anomaly("ldap.malformed"), 1);
    // The valid Kerberos exchanges, over UDP and TCP.
    let krb = r.of("kerberos");
    // Two workers: the records of the two flows come in either order.
    let mut transports: Vec<_> = krb
        .iter()
        .filter_map(|k| k["kerberos"]["transport"].as_str())
        .collect();
    transports.sort_unstable();
    assert_eq!(transports, ["tcp", "udp"], "{krb:?}");
    for k in &krb {
        let k = &k["kerberos"];
        assert_eq!(k["msg_type"], "AS_REQ", "{k}");
        assert_eq!(k["cname"], "alice", "{k}");
        assert_eq!(k["realm"], "EXAMPLE.COM", "{k}");
        assert_eq!(k["sname"], "krbtgt/EXAMPLE.COM", "{k}");
        assert_eq!(k["nonce"], 0x1d3c_5a01, "{k}");
        assert_eq!(k["etypes"], serde_json::json!([18, 17, 23]), "{k}");
        assert_eq!(k["reply_msg_type"], "KRB_ERROR", "{k}");
        assert_eq!(k["error_code"], 13, "{k}");
    }
    // The valid LDAP bind and search around the absurd message.
    let ldap = r.of("ldap");
    assert_eq!(ldap.len(), 2, "{ldap:?}");
    let bind = &ldap[0]["ldap"];
    assert_eq!(bind["operation"], "bind", "{bind}");
    assert_eq!(bind["bind_name"], "cn=admin,dc=nodomain", "{bind}");
    assert_eq!(bind["result_code"], 0, "{bind}");
    let search = &ldap[1]["ldap"];
    assert_eq!(search["operation"], "search", "{search}");
    assert_eq!(search["message_id"], 2, "{search}");
    assert_eq!(
        search["filter"], "(&(name=Test)(mail=*@example.com)(|(dept=accounting)(dept=operations)))",
        "{search}"
    );
    assert_eq!(search["entries"], 1, "{search}");
    assert_eq!(search["result_code"], 0, "{search}");
    assert_rss_below(&r, 32);
}
