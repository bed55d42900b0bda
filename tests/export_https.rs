//! The HTTPS sink's transport (`export::https`) against the test backend
//! (`testkit::https_receiver`): delivery, mutual TLS, reconnecting, the status mapping.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use tapir::export::{HttpsTransport, Line, SinkConfig, SinkError, Transport};
use testkit::https_receiver::{Receiver, TestPki};

/// Records `from..from + n` of run `run`: (id, JSON line).
fn records(run: &str, from: usize, n: usize) -> Vec<(String, String)> {
    (from..from + n)
        .map(|i| {
            let id = format!("{run}-{i}");
            // Varied sizes and content, some of it compressible, some not.
            let pad: String = (0..(i * 7919) % 300)
                .map(|k| char::from(b'a' + ((i + k * 31) % 26) as u8))
                .collect();
            let json = format!(
                "{{\"event_type\":\"flow\",\"id\":\"{id}\",\"flow_id\":{i},\"pad\":\"{pad}\"}}"
            );
            (id, json)
        })
        .collect()
}

fn send(t: &mut HttpsTransport, recs: &[(String, String)]) -> Result<(), SinkError> {
    let lines: Vec<Line<'_>> = recs
        .iter()
        .map(|(id, json)| Line {
            event_type: "flow",
            flow_id: None,
            id,
            json: json.as_bytes(),
        })
        .collect();
    t.send(&lines)
}

fn ids(recs: &[(String, String)]) -> Vec<String> {
    recs.iter().map(|(id, _)| id.clone()).collect()
}

fn setup() -> (tempfile::TempDir, TestPki, Receiver) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(&dir.path().join("pki")).unwrap();
    let rx = Receiver::start(&pki).unwrap();
    (dir, pki, rx)
}

fn transport(cfg: &SinkConfig) -> HttpsTransport {
    match HttpsTransport::new(cfg) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn delivers_batches_in_order_on_one_connection() {
    let (_dir, pki, rx) = setup();
    let mut t = transport(&pki.https_sink("mdr", &rx.url()));
    assert_eq!(t.describe(), rx.url());
    let batches = [
        records("r1", 0, 1),
        records("r1", 1, 50),
        records("r1", 51, 700),
    ];
    for b in &batches {
        send(&mut t, b).unwrap();
    }
    let all: Vec<(String, String)> = batches.concat();
    assert_eq!(rx.ids(), ids(&all));
    let lines: Vec<String> = all.iter().map(|(_, j)| j.clone()).collect();
    assert_eq!(rx.lines(), lines);

    let reqs = rx.requests();
    assert_eq!(reqs.len(), batches.len());
    for (req, b) in reqs.iter().zip(&batches) {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/ingest");
        assert_eq!(req.status, 200);
        assert_eq!(req.content_type.as_deref(), Some("application/x-ndjson"));
        assert_eq!(req.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(req.lines, b.len());
        assert_eq!(req.records_header, Some(b.len().to_string()));
        assert_eq!(req.first_id.as_ref(), Some(&b[0].0));
        assert_eq!(req.last_id.as_ref(), Some(&b[b.len() - 1].0));
        assert_eq!(req.body_first_id, req.first_id);
        assert_eq!(req.body_last_id, req.last_id);
    }
    // Kept alive: one TLS session for every batch.
    assert_eq!(rx.connections(), 1);
    assert!(rx.errors().is_empty(), "{:?}", rx.errors());
    // An empty batch sends nothing.
    t.send(&[]).unwrap();
    assert_eq!(rx.requests().len(), batches.len());
}

#[test]
fn connects_by_host_name_too() {
    let (_dir, pki, rx) = setup();
    let url = format!("https://localhost:{}/ingest?sensor=s1", rx.port());
    let mut t = transport(&pki.https_sink("mdr", &url));
    let b = records("r2", 0, 3);
    send(&mut t, &b).unwrap();
    assert_eq!(rx.ids(), ids(&b));
    assert_eq!(rx.requests()[0].path, "/ingest?sensor=s1");
}

#[test]
fn mutual_tls_is_required() {
    let (dir, pki, rx) = setup();
    let other = TestPki::generate(&dir.path().join("other")).unwrap();
    let b = records("r3", 0, 5);

    // No client certificate: the receiver refuses the session.
    let mut no_cert = pki.https_sink("mdr", &rx.url());
    no_cert.cert = None;
    no_cert.key = None;
    let e = send(&mut transport(&no_cert), &b).unwrap_err();
    assert!(matches!(e, SinkError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains("TLS"), "{e}");

    // A client certificate from another CA: refused too.
    let mut foreign_client = pki.https_sink("mdr", &rx.url());
    foreign_client.cert = Some(other.client_cert.display().to_string());
    foreign_client.key = Some(other.client_key.display().to_string());
    let e = send(&mut transport(&foreign_client), &b).unwrap_err();
    assert!(matches!(e, SinkError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains("TLS"), "{e}");

    assert!(rx.requests().is_empty());
    assert_eq!(rx.connections(), 0);
    assert_eq!(rx.errors().len(), 2, "{:?}", rx.errors());

    // A server certificate from another CA: we refuse the server.
    let mut foreign_server = other.https_sink("mdr", &rx.url());
    foreign_server.cert = Some(pki.client_cert.display().to_string());
    foreign_server.key = Some(pki.client_key.display().to_string());
    let e = send(&mut transport(&foreign_server), &b).unwrap_err();
    assert!(matches!(e, SinkError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");
    assert!(rx.requests().is_empty());

    // A key that is not the certificate's: the sink cannot be set up.
    let mut mismatched = pki.https_sink("mdr", &rx.url());
    mismatched.key = Some(other.client_key.display().to_string());
    assert!(matches!(
        HttpsTransport::new(&mismatched),
        Err(SinkError::Config(_))
    ));

    // The right ones get through.
    send(&mut transport(&pki.https_sink("mdr", &rx.url())), &b).unwrap();
    assert_eq!(rx.ids(), ids(&b));
}

#[test]
fn reconnects_after_the_receiver_restarts() {
    let (_dir, pki, mut rx) = setup();
    let port = rx.port();
    let mut t = transport(&pki.https_sink("mdr", &rx.url()));
    let b1 = records("r4", 0, 10);
    let b2 = records("r4", 10, 10);
    let b3 = records("r4", 20, 10);
    send(&mut t, &b1).unwrap();

    rx.stop();
    let e = send(&mut t, &b2).unwrap_err();
    assert!(matches!(e, SinkError::Transient(_)), "{e:?}");

    rx.restart().unwrap();
    assert_eq!(rx.port(), port);
    send(&mut t, &b2).unwrap();
    send(&mut t, &b3).unwrap();
    assert_eq!(rx.ids(), ids(&[b1, b2, b3].concat()));
    assert_eq!(rx.connections(), 2);
}

#[test]
fn a_closed_kept_alive_connection_is_replaced_transparently() {
    let (_dir, pki, mut rx) = setup();
    let mut t = transport(&pki.https_sink("mdr", &rx.url()));
    let b1 = records("r5", 0, 4);
    let b2 = records("r5", 4, 4);
    send(&mut t, &b1).unwrap();
    // The server drops the idle connection (as a backend does after its keep-alive timeout).
    rx.restart().unwrap();
    send(&mut t, &b2).unwrap();
    assert_eq!(rx.ids(), ids(&[b1, b2].concat()));
    assert_eq!(rx.connections(), 2);
}

#[test]
fn status_codes_map_to_transient_or_rejected() {
    let (_dir, pki, rx) = setup();
    let mut t = transport(&pki.https_sink("mdr", &rx.url()));
    let b = records("r6", 0, 20);

    rx.fail_next(1);
    match send(&mut t, &b) {
        Err(SinkError::Transient(m)) => assert!(m.contains("503"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(rx.ids().is_empty());
    // The same batch again: accepted.
    send(&mut t, &b).unwrap();
    assert_eq!(rx.ids(), ids(&b));

    for status in [408, 429, 500, 502] {
        rx.reply_next(1, status);
        match send(&mut t, &b) {
            Err(SinkError::Transient(m)) => assert!(m.contains(&status.to_string()), "{m}"),
            other => panic!("{status}: {other:?}"),
        }
    }
    for status in [400, 401, 403, 404, 413] {
        rx.reply_next(1, status);
        match send(&mut t, &b) {
            Err(SinkError::Rejected(m)) => {
                assert!(m.contains(&status.to_string()), "{m}");
                // A short excerpt of the body the server sent.
                assert!(m.contains("tapir test receiver answers"), "{m}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    // Error answers keep the connection: still the first one.
    send(&mut t, &b).unwrap();
    assert_eq!(rx.connections(), 1);
    assert_eq!(rx.ids(), ids(&[b.clone(), b].concat()));
}

#[test]
fn a_silent_server_times_out_and_the_next_send_reconnects() {
    let (_dir, pki, rx) = setup();
    let mut cfg = pki.https_sink("mdr", &rx.url());
    cfg.timeout_s = 1;
    let mut t = transport(&cfg);
    let b = records("r7", 0, 3);
    rx.stall_next(1);
    let e = send(&mut t, &b).unwrap_err();
    assert!(matches!(e, SinkError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains("within 1s"), "{e}");
    send(&mut t, &b).unwrap();
    assert_eq!(rx.ids(), ids(&b));
    assert_eq!(rx.connections(), 2);
}

#[test]
fn nothing_listening_is_transient() {
    let (_dir, pki, mut rx) = setup();
    let url = rx.url();
    rx.stop();
    let mut t = transport(&pki.https_sink("mdr", &url));
    let e = send(&mut t, &records("r8", 0, 1)).unwrap_err();
    assert!(matches!(e, SinkError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains("connect"), "{e}");
}
