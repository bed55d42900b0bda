//! Issue 19, class 3: TCP as the hosts see it. Each technique is a generated capture replayed
//! through the `tapir` binary; the HTTP file it carries must come out whole (its SHA-256), the
//! flow record must say how the connection really went, and the deviation is counted.
//! Decisions: `docs/evasion.md`, `## TCP`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{run_sensor, SensorRun};
use sha2::{Digest, Sha256};
use testkit::packets::Cap;

const CISN: u32 = 0x1000_0000;
const SISN: u32 = 0x7000_0000;

const REQUEST: &[u8] = b"GET /evasion.bin HTTP/1.1\r\nHost: evasion.test\r\n\r\n";

fn body() -> Vec<u8> {
    (0..3000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn response(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn sha256(b: &[u8]) -> String {
    testkit::hex::encode(&Sha256::digest(b))
}

/// Client and server positions (next sequence numbers).
struct Conn {
    c: u32,
    s: u32,
}

/// The handshake of the test connection (client ISN `CISN`).
fn handshake(cap: &mut Cap) -> Conn {
    cap.seg(true, CISN, 0, "S", &[]);
    cap.seg(false, SISN, CISN + 1, "SA", &[]);
    cap.seg(true, CISN + 1, SISN + 1, "A", &[]);
    Conn {
        c: CISN + 1,
        s: SISN + 1,
    }
}

/// The request, acknowledged.
fn request(cap: &mut Cap, k: &mut Conn) {
    cap.seg(true, k.c, k.s, "AP", REQUEST);
    k.c += REQUEST.len() as u32;
    cap.seg(false, k.s, k.c, "A", &[]);
}

/// `data` from the server in 1000-byte segments, each acknowledged by the client.
fn serve(cap: &mut Cap, k: &mut Conn, data: &[u8]) {
    for chunk in data.chunks(1000) {
        cap.seg(false, k.s, k.c, "AP", chunk);
        k.s += chunk.len() as u32;
        cap.seg(true, k.c, k.s, "A", &[]);
    }
}

/// FIN both ways and the last ACK.
fn close(cap: &mut Cap, k: &Conn) {
    cap.seg(true, k.c, k.s, "AF", &[]);
    cap.seg(false, k.s, k.c + 1, "AF", &[]);
    cap.seg(true, k.c + 1, k.s + 1, "A", &[]);
}

fn run(cap: &Cap) -> SensorRun {
    let run = run_sensor(&cap.bytes, &["--workers", "1"]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

/// The one flow record of the test connection.
fn flow(run: &SensorRun) -> serde_json::Value {
    let flows: Vec<_> = run
        .of("flow")
        .into_iter()
        .filter(|f| f["dest_port"] == 80)
        .collect();
    assert_eq!(flows.len(), 1, "{:#?}", run.records);
    flows[0]["flow"].clone()
}

/// The file of the response: whole, with the body's hash.
fn assert_file(run: &SensorRun, body: &[u8]) {
    let files = run.of("file");
    assert_eq!(files.len(), 1, "{:#?}", run.records);
    let f = &files[0]["file"];
    assert_eq!(f["sha256"], sha256(body).as_str(), "{f}");
    assert_eq!(f["size"], body.len());
    assert_eq!(f["complete"], true);
    let http = run.of("http");
    assert_eq!(http.len(), 1);
    assert_eq!(http[0]["http"]["uri"], "/evasion.bin");
    assert_eq!(http[0]["http"]["status"], 200);
}

#[test]
fn an_rst_out_of_the_window_does_not_end_the_stream() {
    let body = body();
    let resp = response(&body);
    let mut cap = Cap::new();
    let mut k = handshake(&mut cap);
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &resp[..1200]);
    // Spoofed RSTs both ways, far outside the receivers' windows: every stack drops them.
    cap.seg(false, k.s.wrapping_add(50_000_000), 0, "R", &[]);
    cap.seg(true, k.c.wrapping_sub(100_000), 0, "R", &[]);
    serve(&mut cap, &mut k, &resp[1200..]);
    close(&mut cap, &k);
    let run = run(&cap);
    assert_file(&run, &body);
    let f = flow(&run);
    assert_eq!(f["conn_state"], "SF");
    assert_eq!(f["tcp_state"], "closed");
    assert_eq!(f["reason"], "shutdown");
    // Both RSTs still count as packets of the flow.
    assert_eq!(f["pkts_toserver"], 10);
    assert_eq!(f["pkts_toclient"], 8);
    assert_eq!(run.anomaly("tcp.rst_out_of_window"), 2);
    assert_eq!(run.anomaly("tcp.rst_not_taken"), 0);
}

#[test]
fn an_rst_the_peer_ignores_is_withdrawn_when_data_after_it_is_acknowledged() {
    let body = body();
    let resp = response(&body);
    let mut cap = Cap::new();
    let mut k = handshake(&mut cap);
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &resp[..1200]);
    // In the window, exactly at the client's next expected byte (a TTL-limited spoofed RST
    // that never reached the client): the server goes on and the client acknowledges it.
    cap.seg(false, k.s, 0, "R", &[]);
    serve(&mut cap, &mut k, &resp[1200..]);
    close(&mut cap, &k);
    let run = run(&cap);
    assert_file(&run, &body);
    let f = flow(&run);
    assert_eq!(f["conn_state"], "SF");
    assert_eq!(f["tcp_state"], "closed");
    assert_eq!(run.anomaly("tcp.rst_not_taken"), 1);
    assert_eq!(run.anomaly("tcp.rst_out_of_window"), 0);
}

#[test]
fn an_rst_taken_ends_the_stream_and_data_after_it_is_not_delivered() {
    let body = body();
    let resp = response(&body);
    let mut cap = Cap::new();
    let mut k = handshake(&mut cap);
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &resp[..1200]);
    cap.seg(false, k.s, k.c, "RA", &[]);
    // Bytes sent after the RST that no host acknowledges: the client has no connection left.
    cap.seg(false, k.s, k.c, "AP", &resp[1200..]);
    let run = run(&cap);
    let f = flow(&run);
    assert_eq!(f["conn_state"], "RSTR");
    assert_eq!(f["tcp_state"], "reset");
    // The file is what the client got: the first 1200 bytes of the response, cut.
    let files = run.of("file");
    assert_eq!(files.len(), 1, "{:#?}", run.records);
    let head = resp.len() - body.len();
    assert_eq!(files[0]["file"]["size"], 1200 - head);
    assert_eq!(files[0]["file"]["complete"], false);
    assert_eq!(
        files[0]["file"]["sha256"],
        sha256(&body[..1200 - head]).as_str()
    );
    assert_eq!(run.anomaly("tcp.rst_not_taken"), 0);
}

#[test]
fn a_spoofed_rst_before_the_synack_does_not_blind_the_session() {
    let body = body();
    let mut cap = Cap::new();
    cap.seg(true, CISN, 0, "S", &[]);
    // The RST a closed port would send, spoofed before the real SYN-ACK.
    cap.seg(false, 0, CISN + 1, "RA", &[]);
    cap.seg(false, SISN, CISN + 1, "SA", &[]);
    cap.seg(true, CISN + 1, SISN + 1, "A", &[]);
    let mut k = Conn {
        c: CISN + 1,
        s: SISN + 1,
    };
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &response(&body));
    close(&mut cap, &k);
    let run = run(&cap);
    assert_file(&run, &body);
    let f = flow(&run);
    assert_eq!(f["conn_state"], "SF");
    assert_eq!(f["tcp_state"], "closed");
    assert_eq!(f["tcp_flags_tc"], "0x1f");
    assert_eq!(run.anomaly("tcp.rst_not_taken"), 1);
}

#[test]
fn a_spoofed_fin_before_the_synack_does_not_blind_the_session() {
    let body = body();
    let mut cap = Cap::new();
    cap.seg(true, CISN, 0, "S", &[]);
    // FINs both ways before the handshake: a host in LISTEN or SYN-SENT drops them.
    cap.seg(false, SISN + 1, 0, "F", &[]);
    cap.seg(true, CISN + 1, 0, "F", &[]);
    cap.seg(false, SISN, CISN + 1, "SA", &[]);
    cap.seg(true, CISN + 1, SISN + 1, "A", &[]);
    let mut k = Conn {
        c: CISN + 1,
        s: SISN + 1,
    };
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &response(&body));
    // The server ends the connection by timeout (no FIN): the early FINs leave no trace.
    let run = run(&cap);
    assert_file(&run, &body);
    let f = flow(&run);
    assert_eq!(f["conn_state"], "S1");
    assert_eq!(f["tcp_state"], "established");
    assert_eq!(run.anomaly("tcp.fin_before_handshake"), 2);
}

#[test]
fn of_many_syns_the_handshake_that_completes_is_followed() {
    let body = body();
    let real = 0x2222_0000u32;
    let mut cap = Cap::new();
    // Decoy SYNs with other ISNs around the real one, the last one after it.
    for isn in [0x0100_0000u32, 0x0200_0000, real, 0x0300_0000] {
        cap.seg(true, isn, 0, "S", &[]);
    }
    cap.seg(false, SISN, real + 1, "SA", &[]);
    cap.seg(true, real + 1, SISN + 1, "A", &[]);
    let mut k = Conn {
        c: real + 1,
        s: SISN + 1,
    };
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &response(&body));
    close(&mut cap, &k);
    let run = run(&cap);
    assert_file(&run, &body);
    let f = flow(&run);
    assert_eq!(f["conn_state"], "SF");
    // Four SYNs, the ACK, the request, four ACKs of the response, FIN and ACK.
    assert_eq!(f["pkts_toserver"], 4 + 1 + 1 + 4 + 2);
    assert!(f.get("gap_bytes").is_none(), "{f}");
}

#[test]
fn late_packets_after_the_close_count_in_the_same_flow_until_the_closed_timeout() {
    let body = body();
    let mut cap = Cap::new();
    let mut k = handshake(&mut cap);
    request(&mut cap, &mut k);
    serve(&mut cap, &mut k, &response(&body));
    close(&mut cap, &k);
    // Two seconds later: a retransmitted FIN and its ACK (within the 10 s closed timeout).
    cap.ts_us += 2_000_000;
    cap.seg(false, k.s, k.c + 1, "AF", &[]);
    cap.seg(true, k.c + 1, k.s + 1, "A", &[]);
    // Fifteen seconds after that, past the closed timeout: a stray ACK is a flow of its own.
    cap.ts_us += 15_000_000;
    cap.seg(true, k.c + 1, k.s + 1, "A", &[]);
    let run = run(&cap);
    assert_file(&run, &body);
    let flows: Vec<_> = run
        .of("flow")
        .into_iter()
        .filter(|f| f["dest_port"] == 80)
        .collect();
    assert_eq!(flows.len(), 2, "{:#?}", run.records);
    let first = &flows[0]["flow"];
    assert_eq!(first["reason"], "closed");
    assert_eq!(first["conn_state"], "SF");
    // Handshake 2, request 1, four ACKs of the response, FIN and ACK, the late ACK.
    assert_eq!(first["pkts_toserver"], 2 + 1 + 4 + 2 + 1);
    // SYN-ACK, ACK of the request, four data segments, FIN, the late FIN.
    assert_eq!(first["pkts_toclient"], 1 + 1 + 4 + 1 + 1);
    let late = &flows[1]["flow"];
    assert_eq!(late["pkts_toserver"], 1);
    assert_eq!(late["conn_state"], "OTH");
}
