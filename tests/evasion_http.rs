//! Issue 19, classes 1 and 2: HTTP framing as browsers and servers accept it, and odd HTTP
//! requests. One generated capture per technique, replayed through the `tapir` binary; each
//! asserts what the endpoint gets (the MD5/SHA-256 of the body as a browser saves it, the
//! record's fields) and the anomaly the deviation is reported under. The decisions are in
//! docs/evasion.md, "HTTP framing" and "HTTP requests".
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::{run_sensor, SensorRun};
use md5::Md5;
use serde_json::Value;
use sha2::{Digest, Sha256};
use testkit::hex;
use testkit::packets::{Cap, CLIENT, CPORT, SERVER};

/// The file the tests download: text that compresses, with a binary tail.
fn payload() -> Vec<u8> {
    let mut p = b"MZ evasion test payload, the same bytes whatever the framing. ".repeat(40);
    p.extend((0..=255u8).cycle().take(700));
    p
}

fn md5_hex(d: &[u8]) -> String {
    hex::encode(&Md5::digest(d))
}

fn sha256_hex(d: &[u8]) -> String {
    hex::encode(&Sha256::digest(d))
}

fn gzip(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

fn zlib(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

/// `body` in chunks of `size` bytes, each size line written by `line`, with the last chunk.
fn chunked(body: &[u8], size: usize, mut line: impl FnMut(usize) -> String) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(line(c.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn get(uri: &str) -> Vec<u8> {
    format!("GET {uri} HTTP/1.1\r\nHost: evader.example\r\nUser-Agent: test/1\r\n\r\n").into_bytes()
}

/// One connection (handshake, request, response, FIN both ways) through the binary.
fn replay(request: &[u8], response: &[u8]) -> SensorRun {
    let mut c = Cap::new();
    c.conversation(CLIENT, CPORT, SERVER, 80, request, response);
    let r = run_sensor(&c.bytes, &[]);
    assert!(r.status.success(), "{}", r.stderr);
    r
}

/// A response: `head` (its lines joined by `eol`, then a blank line) and the body.
fn response(head: &[&str], eol: &str, body: &[u8]) -> Vec<u8> {
    let mut out = head.join(eol).into_bytes();
    out.extend_from_slice(eol.as_bytes());
    out.extend_from_slice(eol.as_bytes());
    out.extend_from_slice(body);
    out
}

fn the_http(r: &SensorRun) -> &Value {
    let h = r.of("http");
    assert_eq!(h.len(), 1, "one http record: {h:?}");
    &h[0]["http"]
}

fn file_of<'a>(r: &'a SensorRun, id: &Value) -> &'a Value {
    &r.of("file")
        .into_iter()
        .find(|f| f["file"]["id"] == *id)
        .unwrap_or_else(|| panic!("no file record {id}"))["file"]
}

/// The response body's file of the only transaction.
fn resp_file(r: &SensorRun) -> &Value {
    let h = the_http(r);
    let id = h["file_ids"]
        .as_array()
        .expect("file_ids")
        .iter()
        .find(|i| i.as_str().is_some_and(|s| s.ends_with("-resp")))
        .unwrap_or_else(|| panic!("no response file in {h}"));
    file_of(r, id)
}

/// Asserts the response file is exactly `want` (both hashes, size, complete) and that the
/// named anomalies were counted (and, with `only`, no other http anomaly).
fn assert_file(r: &SensorRun, want: &[u8], anomalies: &[&str]) {
    assert_file_is(r, want, true, anomalies);
}

/// [`assert_file`] with the file's `complete` flag given.
fn assert_file_is(r: &SensorRun, want: &[u8], complete: bool, anomalies: &[&str]) {
    let f = resp_file(r);
    assert_eq!(f["md5"], md5_hex(want), "{f}");
    assert_eq!(f["sha256"], sha256_hex(want), "{f}");
    assert_eq!(f["size"], want.len() as u64, "{f}");
    assert_eq!(f["complete"], complete, "{f}");
    assert_anomalies(r, anomalies);
}

/// Exactly these http anomalies, once each.
fn assert_anomalies(r: &SensorRun, anomalies: &[&str]) {
    let all = &r.stop()["anomalies"];
    let mut got: Vec<(String, u64)> = all
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with("http."))
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    let mut want: Vec<(String, u64)> = anomalies.iter().map(|a| (a.to_string(), 1)).collect();
    want.sort();
    assert_eq!(got, want, "anomalies");
}

// ---- Class 1: responses ----

#[test]
fn lf_only_line_ends() {
    let p = payload();
    let cl = format!("Content-Length: {}", p.len());
    let r = replay(
        &get("/lf.bin"),
        &response(&["HTTP/1.1 200 OK", &cl], "\n", &p),
    );
    assert_file(&r, &p, &["http.bare_lf"]);
    assert_eq!(the_http(&r)["status"], 200);
}

#[test]
fn cr_only_line_ends() {
    let p = payload();
    let cl = format!("Content-Length: {}", p.len());
    let r = replay(
        &get("/cr.bin"),
        &response(
            &[
                "HTTP/1.1 200 OK",
                "Content-Type: application/x-msdownload",
                &cl,
            ],
            "\r",
            &p,
        ),
    );
    assert_file(&r, &p, &["http.bare_cr_ambiguous"]);
    let h = the_http(&r);
    assert_eq!(h["status"], 200);
    assert_eq!(h["response_content_type"], "application/x-msdownload");
}

#[test]
fn mixed_line_ends() {
    let p = payload();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nServer: mixed\nContent-Length: {}\r\n\n",
        p.len()
    )
    .into_bytes();
    resp.extend_from_slice(&p);
    let r = replay(&get("/mixed.bin"), &resp);
    assert_file(&r, &p, &["http.bare_lf"]);
    assert_eq!(the_http(&r)["server"], "mixed");
}

#[test]
fn folded_header_lines() {
    let p = payload();
    let cl = format!("Content-Length:\r\n {}", p.len());
    let r = replay(
        &get("/folded.bin"),
        &response(
            &[
                "HTTP/1.1 200 OK",
                "Content-Type: application/\r\n\toctet-stream",
                &cl,
            ],
            "\r\n",
            &p,
        ),
    );
    assert_file(&r, &p, &["http.folded_header"]);
    let h = the_http(&r);
    // Folded lines joined by one space, as browsers join them.
    assert_eq!(h["response_content_type"], "application/ octet-stream");
    assert_eq!(h["response_body_len"], p.len() as u64);
}

#[test]
fn broken_header_lines_are_skipped() {
    let p = payload();
    let cl = format!("Content-Length: {}", p.len());
    let r = replay(
        &get("/broken.bin"),
        &response(
            &["HTTP/1.1 200 OK", "this line has no colon", &cl],
            "\r\n",
            &p,
        ),
    );
    assert_file(&r, &p, &["http.invalid_header_line"]);
}

#[test]
fn junk_before_the_status_line() {
    let p = payload();
    let mut resp = b"\x00\x01junk before\r\nmore junk ".to_vec();
    resp.extend(response(
        &["HTTP/1.1 200 OK", &format!("Content-Length: {}", p.len())],
        "\r\n",
        &p,
    ));
    let r = replay(&get("/junk.bin"), &resp);
    assert_file(&r, &p, &["http.junk_before_status_ambiguous"]);
    assert_eq!(the_http(&r)["status"], 200);
}

#[test]
fn duplicate_content_length() {
    let p = payload();
    let cl = format!("Content-Length: {}", p.len());
    let r = replay(
        &get("/dup.bin"),
        &response(&["HTTP/1.1 200 OK", &cl, &cl], "\r\n", &p),
    );
    assert_file(&r, &p, &["http.duplicate_content_length"]);
}

#[test]
fn conflicting_content_length_uses_the_first() {
    let p = payload();
    let r = replay(
        &get("/conflict.bin"),
        &response(
            &[
                "HTTP/1.1 200 OK",
                &format!("Content-Length: {}", p.len()),
                &format!("Content-Length: {}", p.len() / 2),
            ],
            "\r\n",
            &p,
        ),
    );
    assert_file(&r, &p, &["http.conflicting_content_length"]);
}

#[test]
fn chunked_wins_over_content_length() {
    let p = payload();
    let body = chunked(&p, 500, |n| format!("{n:x}"));
    let r = replay(
        &get("/te-cl.bin"),
        &response(
            &[
                "HTTP/1.1 200 OK",
                "Content-Length: 10",
                "Transfer-Encoding: chunked",
            ],
            "\r\n",
            &body,
        ),
    );
    assert_file(&r, &p, &["http.chunked_with_content_length"]);
    assert_eq!(the_http(&r)["response_body_len"], p.len() as u64);
}

#[test]
fn chunked_anywhere_in_transfer_encoding() {
    let p = payload();
    let body = chunked(&p, 700, |n| format!("{n:x}"));
    let r = replay(
        &get("/te-order.bin"),
        &response(
            &[
                "HTTP/1.1 200 OK",
                "Transfer-Encoding: chunked",
                "Transfer-Encoding: identity",
            ],
            "\r\n",
            &body,
        ),
    );
    assert_file(
        &r,
        &p,
        &["http.chunked_not_last", "http.transfer_coding_ignored"],
    );
}

#[test]
fn transfer_encoding_gzip_is_not_undone() {
    // Browsers undo no transfer coding but chunked: the file is the gzip stream itself.
    let p = payload();
    let gz = gzip(&p);
    let body = chunked(&gz, 300, |n| format!("{n:x}"));
    let r = replay(
        &get("/te-gzip.bin"),
        &response(
            &["HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"],
            "\r\n",
            &body,
        ),
    );
    assert_file(&r, &gz, &["http.transfer_coding_ignored"]);
}

#[test]
fn chunk_size_with_junk() {
    let p = payload();
    let body = chunked(&p, 400, |n| format!("{n:x}zz"));
    let r = replay(
        &get("/chunk-junk.bin"),
        &response(
            &["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"],
            "\r\n",
            &body,
        ),
    );
    assert_file(&r, &p, &["http.chunk_size_junk_ambiguous"]);
}

#[test]
fn chunk_extensions() {
    let p = payload();
    let body = chunked(&p, 400, |n| format!("{n:x};name=\"v;x\";flag"));
    let r = replay(
        &get("/chunk-ext.bin"),
        &response(
            &["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"],
            "\r\n",
            &body,
        ),
    );
    assert_file(&r, &p, &["http.chunk_extension"]);
}

#[test]
fn chunk_size_leading_zeros() {
    let p = payload();
    let body = chunked(&p, 400, |n| format!("{:0>24x}", n));
    let r = replay(
        &get("/chunk-zeros.bin"),
        &response(
            &["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"],
            "\r\n",
            &body,
        ),
    );
    assert_file(&r, &p, &["http.chunk_size_leading_zeros"]);
}

#[test]
fn chunk_size_upper_and_lower_hex() {
    let p = payload();
    let mut i = 0;
    let body = chunked(&p, 0xab, |n| {
        i += 1;
        if i % 2 == 0 {
            format!("{n:X}")
        } else {
            format!("{n:x}")
        }
    });
    let r = replay(
        &get("/chunk-hex.bin"),
        &response(
            &["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"],
            "\r\n",
            &body,
        ),
    );
    // Both cases are standard: no anomaly.
    assert_file(&r, &p, &[]);
}

#[test]
fn missing_last_chunk() {
    let p = payload();
    let mut body = chunked(&p, 500, |n| format!("{n:x}"));
    body.truncate(body.len() - b"0\r\n\r\n".len());
    let r = replay(
        &get("/no-last-chunk.bin"),
        &response(
            &["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"],
            "\r\n",
            &body,
        ),
    );
    // Cut at a chunk's end by the connection's end: the bytes Firefox saves (Chromium fails
    // the download), not complete (nothing says the body was over), reported.
    assert_file_is(&r, &p, false, &["http.chunked_unterminated_ambiguous"]);
    assert_eq!(the_http(&r)["response_complete"], false);
}

#[test]
fn body_closed_by_the_connection_end() {
    let p = payload();
    let r = replay(
        &get("/close.bin"),
        &response(&["HTTP/1.1 200 OK", "Connection: close"], "\r\n", &p),
    );
    assert_file(&r, &p, &[]);
    assert_eq!(the_http(&r)["response_complete"], true);
}

fn coded(coding_headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut head = vec!["HTTP/1.1 200 OK".to_string()];
    head.extend(
        coding_headers
            .iter()
            .map(|c| format!("Content-Encoding: {c}")),
    );
    head.push(format!("Content-Length: {}", body.len()));
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    response(&head, "\r\n", body)
}

#[test]
fn content_encoding_gzip_and_x_gzip() {
    let p = payload();
    for name in ["gzip", "x-gzip", "GZip"] {
        let r = replay(&get("/gz.bin"), &coded(&[name], &gzip(&p)));
        assert_file(&r, &p, &[]);
        assert_eq!(the_http(&r)["content_encoding"], name);
        assert_eq!(the_http(&r)["response_body_len"], gzip(&p).len() as u64);
    }
}

#[test]
fn content_encoding_deflate_raw_and_zlib() {
    let p = payload();
    for body in [zlib(&p), raw_deflate(&p)] {
        let r = replay(&get("/deflate.bin"), &coded(&["deflate"], &body));
        assert_file(&r, &p, &[]);
    }
}

#[test]
fn stacked_content_encodings() {
    // deflate applied first, then gzip: undone in the reverse order.
    let p = payload();
    let body = gzip(&zlib(&p));
    let r = replay(&get("/stacked.bin"), &coded(&["deflate, gzip"], &body));
    assert_file(&r, &p, &["http.stacked_codings"]);
    // The same as two header lines.
    let r = replay(&get("/stacked2.bin"), &coded(&["deflate", "gzip"], &body));
    assert_file(&r, &p, &["http.stacked_codings"]);
    assert_eq!(the_http(&r)["content_encoding"], "deflate, gzip");
}

#[test]
fn gzip_on_a_chunked_body() {
    let p = payload();
    let body = chunked(&gzip(&p), 37, |n| format!("{n:x}"));
    let r = replay(
        &get("/gz-chunked.bin"),
        &response(
            &[
                "HTTP/1.1 200 OK",
                "Transfer-Encoding: chunked",
                "Content-Encoding: gzip",
            ],
            "\r\n",
            &body,
        ),
    );
    assert_file(&r, &p, &[]);
}

#[test]
fn gzip_with_a_bad_crc() {
    let p = payload();
    let mut gz = gzip(&p);
    let n = gz.len();
    gz[n - 8] ^= 0xff;
    let r = replay(&get("/bad-crc.bin"), &coded(&["gzip"], &gz));
    // Browsers do not fail on the trailer: the data is kept, the mismatch reported.
    assert_file(&r, &p, &["http.gzip_bad_trailer"]);
}

#[test]
fn gzip_with_trailing_junk() {
    let p = payload();
    let mut gz = gzip(&p);
    gz.extend_from_slice(b"trailing junk after the gzip member");
    let r = replay(&get("/gz-junk.bin"), &coded(&["gzip"], &gz));
    assert_file(&r, &p, &["http.coding_trailing_data"]);
}

#[test]
fn http09_response() {
    // A server answering without a status line: the whole stream is the body.
    let p = payload();
    let r = replay(&get("/old.bin"), &p);
    assert_file(&r, &p, &["http.http09_response"]);
    let h = the_http(&r);
    assert_eq!(h["uri"], "/old.bin");
    assert!(h["status"].is_null(), "{h}");
}

#[test]
fn lower_case_status_line() {
    let p = payload();
    let cl = format!("Content-Length: {}", p.len());
    let r = replay(
        &get("/lower.bin"),
        &response(&["http/1.1 200 ok", &cl], "\r\n", &p),
    );
    assert_file(&r, &p, &["http.lowercase_version"]);
    let h = the_http(&r);
    assert_eq!(h["status"], 200);
    assert_eq!(h["status_msg"], "ok");
}

#[test]
fn interim_1xx_responses() {
    let p = payload();
    let mut resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n".to_vec();
    resp.extend(response(
        &["HTTP/1.1 200 OK", &format!("Content-Length: {}", p.len())],
        "\r\n",
        &p,
    ));
    let r = replay(&get("/interim.bin"), &resp);
    assert_file(&r, &p, &[]);
    assert_eq!(the_http(&r)["status"], 200);
}

// ---- Class 2: requests ----

#[test]
fn http09_request() {
    let p = payload();
    let r = replay(b"GET /old/file.bin\r\n", &p);
    assert_file(&r, &p, &["http.http09_request", "http.http09_response"]);
    let h = the_http(&r);
    assert_eq!(h["method"], "GET");
    assert_eq!(h["uri"], "/old/file.bin");
    assert_eq!(h["version"], "HTTP/0.9");
    assert_eq!(resp_file(&r)["name"], "file.bin");
}

#[test]
fn request_line_with_extra_spaces() {
    let p = payload();
    let r = replay(
        b"GET   /spaces.bin   HTTP/1.1\r\nHost: evader.example\r\n\r\n",
        &response(
            &["HTTP/1.1 200 OK", &format!("Content-Length: {}", p.len())],
            "\r\n",
            &p,
        ),
    );
    assert_file(&r, &p, &["http.odd_request_line"]);
    let h = the_http(&r);
    assert_eq!(h["uri"], "/spaces.bin");
    assert_eq!(h["url"], "http://evader.example/spaces.bin");
}

#[test]
fn request_line_with_a_stray_token() {
    // Servers differ: Apache (and tshark) take the first token as the URI, nginx keeps the
    // stray token in it. The URI is Apache's, the rest is the version text.
    let p = payload();
    let r = replay(
        b"GET /stray.bin junk HTTP/1.1\r\nHost: evader.example\r\n\r\n",
        &response(
            &["HTTP/1.1 200 OK", &format!("Content-Length: {}", p.len())],
            "\r\n",
            &p,
        ),
    );
    assert_file(&r, &p, &["http.odd_request_line"]);
    let h = the_http(&r);
    assert_eq!(h["uri"], "/stray.bin");
    assert_eq!(h["version"], "junk HTTP/1.1");
    assert_eq!(resp_file(&r)["name"], "stray.bin");
}

#[test]
fn request_cut_by_the_connection_end() {
    let r = replay(
        b"GET /cut.bin HTTP/1.1\r\nHost: evader.example\r\nUser-Agent: cut/1\r\nAccept: te",
        b"",
    );
    let h = the_http(&r);
    assert_eq!(h["method"], "GET");
    assert_eq!(h["uri"], "/cut.bin");
    assert_eq!(h["host"], "evader.example");
    assert_eq!(h["user_agent"], "cut/1");
    assert!(h["status"].is_null(), "{h}");
    assert_anomalies(&r, &["http.request_truncated"]);
}

#[test]
fn multipart_upload_parts_are_files() {
    let exe = payload();
    let doc = b"%PDF-1.4 a small document\r\n--not-the-boundary\r\n".repeat(30);
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (field, file, data) in [
        ("comment", None, &b"just a text field"[..]),
        ("upload", Some("tool.exe"), &exe[..]),
        ("attachment", Some("report.pdf"), &doc[..]),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut req = format!(
        "POST /upload HTTP/1.1\r\nHost: evader.example\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = replay(&req, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_anomalies(&r, &[]);
    let h = the_http(&r);
    assert_eq!(h["request_body_len"], body.len() as u64);
    let parts = h["form_parts"].as_array().expect("form_parts");
    assert_eq!(parts.len(), 2, "{h}");
    for (part, (field, name, data)) in parts.iter().zip([
        ("upload", "tool.exe", &exe[..]),
        ("attachment", "report.pdf", &doc[..]),
    ]) {
        assert_eq!(part["field"], field);
        assert_eq!(part["name"], name);
        assert_eq!(part["size"], data.len() as u64);
        assert_eq!(part["md5"], md5_hex(data));
        assert_eq!(part["sha256"], sha256_hex(data));
        assert_eq!(part["complete"], true);
        // Each part is a file record of its own, listed in the transaction.
        assert!(h["file_ids"].as_array().unwrap().contains(&part["file_id"]));
        let f = file_of(&r, &part["file_id"]);
        assert_eq!(f["name"], name);
        assert_eq!(f["md5"], md5_hex(data));
        assert_eq!(f["complete"], true);
    }
    // The whole body is still a file too.
    assert_eq!(h["file_ids"].as_array().unwrap().len(), 3);
}
