//! Issue 19, class 4: TLS wherever it starts, over UDP. Each case is a generated DTLS capture
//! replayed through the `tapir` binary: DTLS 1.0, 1.2 (cookie exchange, a ClientHello in
//! fragments out of order with a retransmitted one, a Certificate in two fragments) and 1.3
//! handshakes give one `tls` record each, with the fields asserted exactly. Decisions:
//! `docs/evasion.md`, `## TLS wherever it starts`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{run_sensor, SensorRun};
use testkit::packets::{Cap, CLIENT, SERVER};
use testkit::tlsgen::{
    certificate_body, client_hello_body, dtls13_ciphertext, dtls_fragment, dtls_message,
    dtls_record, hello_verify_request_body, oid, server_hello_13_body, server_hello_body, Cert,
    Hello,
};

const SNI: &str = "dtls.example.test";
const CPORT: u16 = 51000;

fn cert() -> Vec<u8> {
    Cert {
        serial: &[0x0d, 0x71, 0x50],
        issuer: &[(oid::C, "DE"), (oid::CN, "Tapir DTLS CA")],
        subject: &[
            (oid::CN, SNI),
            (oid::O, "Example VPN"),
            (oid::OU, "Gateways"),
        ],
        not_before: "250101000000Z",
        not_after: "270101000000Z",
    }
    .der()
}

/// Datagrams (`true`: client to server) between CLIENT:51000 and SERVER:`port`.
fn run(port: u16, datagrams: &[(bool, Vec<u8>)]) -> SensorRun {
    let mut cap = Cap::new();
    for (up, d) in datagrams {
        if *up {
            cap.udp(CLIENT, SERVER, CPORT, port, d);
        } else {
            cap.udp(SERVER, CLIENT, port, CPORT, d);
        }
    }
    let run = run_sensor(&cap.bytes, &["--workers", "1"]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

fn one_tls(run: &SensorRun) -> serde_json::Value {
    let tls = run.of("tls");
    assert_eq!(tls.len(), 1, "{:#?}", run.records);
    let flows = run.of("flow");
    assert_eq!(flows.len(), 1, "{flows:#?}");
    assert_eq!(flows[0]["flow"]["app_proto"], "tls", "{}", flows[0]);
    assert_eq!(run.anomaly("tls.bad_record"), 0);
    assert_eq!(run.anomaly("tls.dtls_reassembly_limit"), 0);
    assert_eq!(run.anomaly("tls.malformed_client_hello"), 0);
    tls[0]["tls"].clone()
}

fn assert_cert(t: &serde_json::Value) {
    assert_eq!(
        t["certificate"]["subject"],
        "CN=dtls.example.test, O=Example VPN, OU=Gateways"
    );
    assert_eq!(t["certificate"]["issuer"], "C=DE, CN=Tapir DTLS CA");
    assert_eq!(t["certificate"]["serial"], "0d7150");
    assert_eq!(t["certificate"]["not_after"], "2027-01-01T00:00:00Z");
}

/// The second half of a DTLS 1.2 handshake: ChangeCipherSpec then Finished in epoch 1.
fn ccs_finished(seq: u64) -> Vec<u8> {
    let mut d = dtls_record(20, 0xfefd, 0, seq, &[1]);
    d.extend(dtls_record(22, 0xfefd, 1, 0, &[0x5a; 48]));
    d
}

#[test]
fn dtls12_cookie_exchange_fragmented_hello_and_certificate() {
    const V: u16 = 0xfefd;
    let hello = |cookie| Hello {
        version: V,
        sni: SNI,
        cookie: Some(cookie),
        ..Hello::default()
    };
    let cookie = [0xc5u8; 20];
    let ch1 = client_hello_body(&hello(&[]));
    let ch2 = client_hello_body(&hello(&cookie));
    let n = ch2.len();
    let (a, b) = (40, 90);
    let sh = server_hello_body(V, 0xc02f);
    let certs = certificate_body(&[cert()]);
    let half = certs.len() / 2;
    // ServerHello and the Certificate's first fragment; then its second and ServerHelloDone.
    let mut flight1 = dtls_message(V, 1, 2, 1, &sh);
    flight1.extend(dtls_fragment(V, 2, 11, 2, &certs, 0, half));
    let mut flight2 = dtls_fragment(V, 3, 11, 2, &certs, half, certs.len() - half);
    flight2.extend(dtls_message(V, 4, 14, 3, &[]));
    let run = run(
        4433,
        &[
            (true, dtls_message(V, 0, 1, 0, &ch1)),
            (
                false,
                dtls_message(V, 0, 3, 0, &hello_verify_request_body(0xfeff, &cookie)),
            ),
            // The repeated hello in three fragments: the middle one first, then the first,
            // the middle one again (a retransmission), the last.
            (true, dtls_fragment(V, 1, 1, 1, &ch2, a, b - a)),
            (true, dtls_fragment(V, 2, 1, 1, &ch2, 0, a)),
            (true, dtls_fragment(V, 3, 1, 1, &ch2, a, b - a)),
            (true, dtls_fragment(V, 4, 1, 1, &ch2, b, n - b)),
            (false, flight1),
            (false, flight2.clone()),
            // The server's last flight retransmitted: nothing new.
            (false, flight2),
            (true, ccs_finished(5)),
            (false, ccs_finished(5)),
            (true, dtls_record(23, V, 1, 1, &[0x77; 64])),
        ],
    );
    let t = one_tls(&run);
    assert_eq!(t["sni"], SNI, "{t}");
    assert_eq!(t["version"], "DTLS 1.2");
    assert_eq!(t["client_version"], "DTLS 1.2");
    assert_eq!(t["cipher_suite"], 0xc02f);
    assert_eq!(t["cookie_len"], 20);
    assert_eq!(t["hello_verify"], true);
    assert_eq!(t["ja3_string"], "65277,49199-49200-156,0-10-11-13,29-23,0");
    assert_eq!(t["ja3"], "26571fdc59b783aad75f2bb0d50931ee");
    assert_eq!(t["ja3s_string"], "65277,49199,");
    assert_eq!(t["ja4"], "dd2d030400_13bac7b83268_876bcc86782c");
    assert_cert(&t);
}

#[test]
fn dtls10_handshake() {
    const V: u16 = 0xfeff;
    let ch = client_hello_body(&Hello {
        version: V,
        sni: SNI,
        cookie: Some(&[]),
        ..Hello::default()
    });
    let mut flight = dtls_message(V, 0, 2, 0, &server_hello_body(V, 0xc02f));
    flight.extend(dtls_message(V, 1, 11, 1, &certificate_body(&[cert()])));
    flight.extend(dtls_message(V, 2, 14, 2, &[]));
    let run = run(
        4433,
        &[(true, dtls_message(V, 0, 1, 0, &ch)), (false, flight)],
    );
    let t = one_tls(&run);
    assert_eq!(t["sni"], SNI, "{t}");
    assert_eq!(t["version"], "DTLS 1.0");
    assert_eq!(t["client_version"], "DTLS 1.0");
    assert_eq!(t["cookie_len"], 0);
    assert!(t.get("hello_verify").is_none(), "{t}");
    assert_eq!(t["ja3_string"], "65279,49199-49200-156,0-10-11-13,29-23,0");
    assert_eq!(t["ja3"], "f560dca4f16e172a04047414882a375d");
    assert_eq!(t["ja4"], "dd1d030400_13bac7b83268_876bcc86782c");
    assert_cert(&t);
}

/// On UDP 443 (the port says QUIC): the DTLS content wins.
#[test]
fn dtls13_client_hello_and_server_hello() {
    const V: u16 = 0xfefd;
    let ch = client_hello_body(&Hello {
        version: V,
        sni: SNI,
        alpn: &["coap"],
        versions: &[0xfefc, 0xfefd],
        ciphers: &[0x1301, 0x1302],
        cookie: Some(&[]),
    });
    let mut flight = dtls_message(V, 0, 2, 0, &server_hello_13_body(V, 0x1301, 0xfefc));
    // EncryptedExtensions, Certificate, ...: ciphertext under the unified header.
    flight.extend(dtls13_ciphertext(2, 0, &[0xe1; 300]));
    let run = run(
        443,
        &[
            (true, dtls_message(V, 0, 1, 0, &ch)),
            (false, flight),
            (true, dtls13_ciphertext(2, 0, &[0xe2; 60])),
            (true, dtls13_ciphertext(3, 0, &[0xe3; 60])),
            (false, dtls13_ciphertext(3, 0, &[0xe4; 60])),
        ],
    );
    let t = one_tls(&run);
    assert_eq!(t["sni"], SNI, "{t}");
    assert_eq!(t["version"], "DTLS 1.3");
    assert_eq!(t["client_version"], "DTLS 1.2");
    assert_eq!(t["supported_versions"], serde_json::json!([0xfefc, 0xfefd]));
    assert_eq!(t["alpn"], serde_json::json!(["coap"]));
    assert_eq!(t["cipher_suite"], 0x1301);
    assert_eq!(t["ja3_string"], "65277,4865-4866,0-10-11-13-16-43,29-23,0");
    assert_eq!(t["ja3"], "e017429c4ad21189835a2159bf0948d7");
    assert_eq!(t["ja4"], "dd3d0206cp_62ed6f6ca7ad_fb71836bce29");
    assert!(t.get("certificate").is_none(), "{t}");
}

/// A ClientHello and a Certificate announced that together pass the flow's reassembly cap
/// (64 KiB): the second is counted, not buffered, and the flow is still DTLS.
#[test]
fn dtls_reassembly_cap_counted() {
    const V: u16 = 0xfefd;
    let mut huge = client_hello_body(&Hello {
        version: V,
        cookie: Some(&[]),
        ..Hello::default()
    });
    huge.resize(40_000, 0);
    let certs = vec![0u8; 40_000];
    let run = run(
        4433,
        &[
            (true, dtls_fragment(V, 0, 1, 0, &huge, 0, 1000)),
            (false, dtls_fragment(V, 0, 11, 1, &certs, 0, 1000)),
            (false, dtls_fragment(V, 1, 11, 1, &certs, 1000, 1000)),
        ],
    );
    assert_eq!(run.anomaly("tls.dtls_reassembly_limit"), 1);
    assert!(run.of("tls").is_empty(), "{:#?}", run.records);
    assert_eq!(run.of("flow")[0]["flow"]["app_proto"], "tls");
}
