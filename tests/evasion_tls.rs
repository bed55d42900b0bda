//! Issue 19, class 4: TLS wherever it starts. Each case is a generated capture replayed through
//! the `tapir` binary: a StartTLS accepted in SMTP, IMAP, POP3 or LDAP yields a `tls` record
//! (SNI, certificate, JA3/JA4) linked to its session by `parent`; a refused one hands nothing
//! over and the session goes on in clear. Decisions: `docs/evasion.md`, `## TLS wherever it
//! starts`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{run_sensor, SensorRun};
use testkit::attacks::{ldap_done, ldap_search};
use testkit::packets::{tlv, Cap, CLIENT, SERVER};
use testkit::tlsgen::{client_flight, oid, server_flight, Cert, Hello};

const SNI: &str = "mail.example.test";

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    testkit::hex::encode(&sha2::Sha256::digest(b))
}

fn cert() -> Vec<u8> {
    Cert {
        serial: &[0x01, 0x02, 0x03],
        issuer: &[
            (oid::C, "DE"),
            (oid::O, "Tapir Test CA"),
            (oid::CN, "Tapir Test Root"),
        ],
        subject: &[
            (oid::CN, SNI),
            (oid::O, "Example Mail"),
            (oid::STREET, "1 Main St"),
            (oid::POSTAL_CODE, "10115"),
            (oid::SERIAL_NUMBER, "HRB 1234"),
            (oid::JURISDICTION_C, "DE"),
            (oid::BUSINESS_CATEGORY, "Private Organization"),
            (oid::DC, "example"),
            (oid::PRIVATE, "x"),
        ],
        not_before: "250101000000Z",
        not_after: "260101000000Z",
    }
    .der()
}

const SUBJECT: &str = "CN=mail.example.test, O=Example Mail, street=1 Main St, postalCode=10115, \
     serialNumber=HRB 1234, jurisdictionC=DE, businessCategory=Private Organization, \
     DC=example, 1.2.3.4.5=x";

fn hello() -> Vec<u8> {
    client_flight(&Hello {
        alpn: &["imap"],
        ..Hello::default()
    })
}

/// The client's and the server's TLS 1.2 first flights.
fn tls_steps() -> Vec<(bool, Vec<u8>)> {
    vec![(true, hello()), (false, server_flight(0xc02f, &cert()))]
}

fn run(port: u16, steps: &[(bool, Vec<u8>)]) -> SensorRun {
    let mut cap = Cap::new();
    cap.session(CLIENT, SERVER, (51000, port), steps);
    let run = run_sensor(&cap.bytes, &["--workers", "1"]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

fn lines(v: &[&str]) -> Vec<(bool, Vec<u8>)> {
    v.iter()
        .map(|l| {
            let (to_server, text) = match l.strip_prefix("C: ") {
                Some(t) => (true, t),
                None => (false, l.strip_prefix("S: ").expect("C: or S:")),
            };
            (to_server, format!("{text}\r\n").into_bytes())
        })
        .collect()
}

/// The one tls record: SNI, certificate, fingerprints, and its parent.
fn assert_tls(run: &SensorRun, parent: &str, tx: Option<u64>) {
    let tls = run.of("tls");
    assert_eq!(tls.len(), 1, "{:#?}", run.records);
    let r = tls[0];
    let t = &r["tls"];
    assert_eq!(t["sni"], SNI, "{t}");
    assert_eq!(t["version"], "TLS 1.2");
    assert_eq!(t["cipher_suite"], 0xc02f);
    assert_eq!(t["alpn"], serde_json::json!(["imap"]));
    assert_eq!(t["certificate"]["subject"], SUBJECT);
    assert_eq!(
        t["certificate"]["issuer"],
        "C=DE, O=Tapir Test CA, CN=Tapir Test Root"
    );
    assert_eq!(t["certificate"]["serial"], "010203");
    assert_eq!(t["certificate"]["not_after"], "2026-01-01T00:00:00Z");
    assert_eq!(t["ja3_string"], "771,49199-49200-156,0-10-11-13-16,29-23,0");
    // JA4: TLS 1.2, SNI, 3 ciphers, 5 extensions, ALPN "imap"; the sorted ciphers hashed.
    let ciphers = sha256(b"009c,c02f,c030");
    let ja4 = t["ja4"].as_str().unwrap();
    assert_eq!(ja4[..23], format!("t12d0305ip_{}", &ciphers[..12]), "{ja4}");
    assert_eq!(r["parent"]["app_proto"], parent, "{r}");
    assert_eq!(r["parent"]["depth"], 1);
    match tx {
        Some(n) => assert_eq!(r["parent"]["tx"], n, "{r}"),
        None => assert!(r["parent"].get("tx").is_none(), "{r}"),
    }
    assert_eq!(run.anomaly("tls.bad_record"), 0);
}

#[test]
fn smtp_starttls_accepted_hands_over_to_tls() {
    let mut steps = lines(&[
        "S: 220 mx.example.test ESMTP",
        "C: EHLO client.example.test",
        "S: 250-mx.example.test\r\n250 STARTTLS",
        "C: STARTTLS",
        "S: 220 2.0.0 Ready to start TLS",
    ]);
    steps.extend(tls_steps());
    let run = run(25, &steps);
    assert_tls(&run, "smtp", Some(2));
    let smtp = run.of("email");
    assert!(smtp.iter().all(|r| r["parent"].is_null()), "{smtp:#?}");
}

#[test]
fn smtp_starttls_refused_stays_in_clear() {
    let steps = lines(&[
        "S: 220 mx.example.test ESMTP",
        "C: EHLO client.example.test",
        "S: 250-mx.example.test\r\n250 STARTTLS",
        "C: STARTTLS",
        "S: 454 4.7.0 TLS not available",
        "C: MAIL FROM:<alice@example.test>",
        "S: 250 OK",
        "C: RCPT TO:<bob@example.test>",
        "S: 250 OK",
        "C: DATA",
        "S: 354 go",
        "C: Subject: in clear\r\n\r\nhello\r\n.",
        "S: 250 queued",
        "C: QUIT",
        "S: 221 bye",
    ]);
    let run = run(25, &steps);
    assert!(run.of("tls").is_empty(), "{:#?}", run.records);
    let smtp = run.of("email");
    assert_eq!(smtp.len(), 1, "{:#?}", run.records);
    assert_eq!(smtp[0]["email"]["mail_from"], "alice@example.test");
    assert_eq!(smtp[0]["email"]["subject"], "in clear");
    assert_eq!(smtp[0]["email"]["starttls"], false);
}

#[test]
fn imap_starttls_accepted_hands_over_to_tls() {
    let mut steps = lines(&[
        "S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready",
        "C: a1 CAPABILITY",
        "S: * CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done",
        "C: a2 STARTTLS",
        "S: a2 OK Begin TLS negotiation now",
    ]);
    steps.extend(tls_steps());
    let run = run(143, &steps);
    assert_tls(&run, "imap", Some(2));
}

fn imap_refused(answer: &str) {
    let msg = "Subject: imap in clear\r\n\r\nbody\r\n";
    let fetch = format!(
        "* 1 FETCH (BODY[] {{{}}}\r\n{msg})\r\na4 OK done",
        msg.len()
    );
    let steps = lines(&[
        "S: * OK ready",
        "C: a2 STARTTLS",
        &format!("S: a2 {answer}"),
        "C: a3 LOGIN carol secret",
        "S: a3 OK logged in",
        "C: a4 FETCH 1 BODY[]",
        &format!("S: {fetch}"),
    ]);
    let run = run(143, &steps);
    assert!(run.of("tls").is_empty(), "{:#?}", run.records);
    let imap = run.of("email");
    assert_eq!(imap.len(), 1, "{:#?}", run.records);
    assert_eq!(imap[0]["email"]["subject"], "imap in clear");
    assert_eq!(imap[0]["email"]["starttls"], false);
}

#[test]
fn imap_starttls_refused_no_stays_in_clear() {
    imap_refused("NO TLS unavailable");
}

#[test]
fn imap_starttls_refused_bad_stays_in_clear() {
    imap_refused("BAD unknown command");
}

#[test]
fn pop3_stls_accepted_hands_over_to_tls() {
    let mut steps = lines(&[
        "S: +OK POP3 ready",
        "C: CAPA",
        "S: +OK\r\nSTLS\r\nUSER\r\n.",
        "C: STLS",
        "S: +OK Begin TLS negotiation",
    ]);
    steps.extend(tls_steps());
    let run = run(110, &steps);
    assert_tls(&run, "pop3", Some(2));
}

#[test]
fn pop3_stls_refused_stays_in_clear() {
    let steps = lines(&[
        "S: +OK POP3 ready",
        "C: STLS",
        "S: -ERR TLS not available",
        "C: USER dave",
        "S: +OK",
        "C: PASS secret",
        "S: +OK",
        "C: RETR 1",
        "S: +OK message follows\r\nSubject: pop in clear\r\n\r\nbody\r\n.",
        "C: QUIT",
        "S: +OK bye",
    ]);
    let run = run(110, &steps);
    assert!(run.of("tls").is_empty(), "{:#?}", run.records);
    let pop = run.of("email");
    assert_eq!(pop.len(), 1, "{:#?}", run.records);
    assert_eq!(pop[0]["email"]["subject"], "pop in clear");
    assert_eq!(pop[0]["email"]["starttls"], false);
}

/// An LDAP extended request for StartTLS (message `id`).
fn ldap_starttls(id: u8) -> Vec<u8> {
    let op = tlv(0x77, &tlv(0x80, b"1.3.6.1.4.1.1466.20037"));
    tlv(0x30, &[tlv(0x02, &[id]), op].concat())
}

/// An LDAP extended response (message `id`, `code`).
fn ldap_extended_response(id: u8, code: u8) -> Vec<u8> {
    let op = tlv(
        0x78,
        &[tlv(0x0a, &[code]), tlv(0x04, b""), tlv(0x04, b"")].concat(),
    );
    tlv(0x30, &[tlv(0x02, &[id]), op].concat())
}

#[test]
fn ldap_starttls_accepted_hands_over_to_tls() {
    let mut steps = vec![
        (true, ldap_starttls(1)),
        (false, ldap_extended_response(1, 0)),
    ];
    steps.extend(tls_steps());
    let run = run(389, &steps);
    assert_tls(&run, "ldap", Some(1));
    let ldap = run.of("ldap");
    assert_eq!(ldap.len(), 1, "{:#?}", run.records);
    assert_eq!(ldap[0]["ldap"]["result_code"], 0);
}

#[test]
fn ldap_starttls_refused_stays_in_clear() {
    let steps = vec![
        (true, ldap_starttls(1)),
        (false, ldap_extended_response(1, 52)),
        (
            true,
            ldap_search(2, "dc=example,dc=test", 2, "(uid=erin)", &["cn"]),
        ),
        (false, ldap_done(2, 0)),
    ];
    let run = run(389, &steps);
    assert!(run.of("tls").is_empty(), "{:#?}", run.records);
    let ldap = run.of("ldap");
    assert_eq!(ldap.len(), 2, "{:#?}", run.records);
    assert_eq!(ldap[0]["ldap"]["result_code"], 52);
    assert_eq!(ldap[1]["ldap"]["operation"], "search");
    assert_eq!(ldap[1]["ldap"]["base_object"], "dc=example,dc=test");
}
