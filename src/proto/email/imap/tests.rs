#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::parser::{is_message_item, split_literal};
use super::*;
use crate::proto::email::pop3::tests::{client_hello, run};
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

#[test]
fn split_literal_markers() {
    assert_eq!(split_literal(b"a {12}"), (&b"a "[..], Some((12, true))));
    assert_eq!(split_literal(b"a {3+}"), (&b"a "[..], Some((3, false))));
    assert_eq!(split_literal(b"a {x}").1, None);
    assert_eq!(split_literal(b"a {}").1, None);
    assert!(is_message_item(b"* 1 FETCH (UID 4 BODY[] "));
    assert!(is_message_item(b"* 12 FETCH (RFC822 "));
    assert!(!is_message_item(b"* 12 FETCH (RFC822.HEADER "));
    assert!(!is_message_item(
        b"* 1 FETCH (BODY[HEADER.FIELDS (DATE FROM)] "
    ));
}

#[test]
fn fetch_session_with_literals_everywhere() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
        (C, b"a1 CAPABILITY\r\n"),
        (S, b"* CAPABILITY IMAP4rev1 LITERAL+\r\na1 OK done\r\n"),
        (C, b"a2 LOGIN \"al\\\"ice\" \"se cret-pw\"\r\n"),
        (S, b"a2 OK logged in\r\n"),
        (C, b"a3 SELECT INBOX\r\n"),
        (S, b"* 2 EXISTS\r\n* OK [UIDVALIDITY 1]\r\na3 OK [READ-WRITE] done\r\n"),
        (C, b"a4 FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])\r\n"),
        (
            S,
            b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {11}\r\nSubject: x\n BODY[] {16}\r\nSubject: x\r\n\r\nhi)\r\n\
* 2 FETCH (UID 9 BODY[] {5}\r\nA: b\n FLAGS (\\Seen))\r\n\
a4 OK done\r\n",
        ),
        (C, b"a5 FETCH 2 RFC822.HEADER\r\n"),
        (S, b"* 2 FETCH (RFC822.HEADER {5}\r\nA: b\n)\r\na5 OK\r\n"),
        (C, b"a6 UID FETCH 9 RFC822\r\n"),
        (S, b"* 2 FETCH (UID 9 RFC822 {6}\r\nA: b\r\n)\r\na6 OK\r\n"),
        (C, b"a7 LOGOUT\r\n"),
        (S, b"* BYE\r\na7 OK\r\n"),
    ];
    for step in [1, 2, 5, 4096] {
        let mut p = ImapState::new(Transport::Tcp);
        let (out, anomalies) = run(&mut p, &conv, step);
        assert!(anomalies.is_empty(), "{anomalies:?}");
        assert_eq!(out.len(), 3, "step {step}");
        assert_eq!(
            p.session.messages,
            vec![
                b"Subject: x\r\n\r\nhi".to_vec(),
                b"A: b\n".to_vec(),
                b"A: b\r\n".to_vec()
            ]
        );
        assert_eq!(p.session.user.as_deref(), Some("al\"ice"));
        assert!(!format!("{:?}", p.session.envelope("imap")).contains("se cret"));
    }
}

#[test]
fn login_with_literals_and_refused_literal() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK ready\r\n"),
        (C, b"x LOGIN {5}\r\n"),
        (S, b"+ go ahead\r\n"),
        (C, b"alice {9}\r\n"),
        (S, b"+ go ahead\r\n"),
        (C, b"pa\r\nssw0d\r\n"),
        (S, b"x OK\r\n"),
        (C, b"y APPEND INBOX {999999}\r\n"),
        (S, b"y NO [OVERQUOTA] no\r\n"),
        (C, b"z FETCH 1 BODY[]\r\n"),
        (S, b"* 1 FETCH (BODY[] {3}\r\nA:b)\r\nz OK\r\n"),
    ];
    for step in [1, 4096] {
        let mut p = ImapState::new(Transport::Tcp);
        let (out, _) = run(&mut p, &conv, step);
        assert_eq!(p.session.user.as_deref(), Some("alice"));
        assert!(!format!("{:?}", p.session.envelope("imap")).contains("ssw0d"));
        assert_eq!(out.len(), 1);
        assert_eq!(p.session.messages, vec![b"A:b".to_vec()]);
        assert!(p.pending.is_empty());
    }
}

#[test]
fn append_with_sync_and_nonsync_literals() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK ready\r\n"),
        (C, b"A1 APPEND saved-messages (\\Seen) {10}\r\n"),
        (S, b"+ Ready\r\n"),
        (C, b"Subject: a\r\n"),
        (S, b"A1 OK APPEND completed\r\n"),
        (
            C,
            b"A2 APPEND {5+}\r\nDraft \"1-Jan-2024 00:00:00 +0000\" {8+}\r\nX: y\r\n\r\n\r\n",
        ),
        (S, b"A2 OK\r\n"),
    ];
    for step in [1, 3, 4096] {
        let mut p = ImapState::new(Transport::Tcp);
        let (out, _) = run(&mut p, &conv, step);
        assert_eq!(out.len(), 2);
        assert_eq!(
            p.session.messages,
            vec![b"Subject: a".to_vec(), b"X: y\r\n\r\n".to_vec()]
        );
    }
}

#[test]
fn authenticate_plain_and_login() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK ready\r\n"),
        (C, b"a AUTHENTICATE PLAIN\r\n"),
        (S, b"+ \r\n"),
        (C, b"AGJvYgBwdw==\r\n"),
        (S, b"a OK\r\n"),
        (C, b"b NOOP\r\n"),
        (S, b"b OK\r\n"),
    ];
    let mut p = ImapState::new(Transport::Tcp);
    run(&mut p, &conv, 1);
    assert_eq!(p.session.user.as_deref(), Some("bob"));
    assert_eq!(p.session.mechanism.as_deref(), Some("PLAIN"));
    assert!(p.session.sasl.is_none() && p.pending.is_empty());

    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK ready\r\n"),
        (C, b"a AUTHENTICATE PLAIN AGRhdmUAcHc=\r\n"),
        (S, b"a OK\r\n"),
    ];
    let mut p = ImapState::new(Transport::Tcp);
    run(&mut p, &conv, 1);
    assert_eq!(p.session.user.as_deref(), Some("dave"));
}

#[test]
fn starttls_hands_over_to_tls() {
    let hello = client_hello();
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK ready\r\n"),
        (C, b". STARTTLS\r\n"),
        (S, b". OK Begin TLS\r\n"),
        (C, &hello),
    ];
    let mut p = ImapState::new(Transport::Tcp);
    let (out, _) = run(&mut p, &conv, 1);
    assert!(p.session.starttls);
    assert!(out.is_empty());
    // The rest of the flow is handed on to TLS, the ClientHello with it.
    let h = crate::proto::AppParser::take_handover(&mut p).expect("hand-over");
    assert_eq!(h.next, Some(crate::proto::AppProto::Tls));
    assert_eq!(h.early[0], hello);
}

#[test]
fn gap_in_literal_and_close() {
    let mut p = ImapState::new(Transport::Tcp);
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    p.on_data(S, b"* OK\r\n* 1 FETCH (BODY[] {10}\r\nabc", &mut ctx);
    p.on_gap(S, 3, &mut ctx);
    p.on_data(S, b"defg)\r\n* 2 FETCH (BODY[] {4}\r\nab", &mut ctx);
    assert_eq!(ctx.out.len(), 0);
    p.on_close(&mut ctx);
    assert_eq!(out.len(), 1);
    assert_eq!(p.session.messages, vec![b"ab".to_vec()]);
    assert!(anomalies.contains(&"imap.gap"));
}

#[test]
fn oversized_literal_is_skipped() {
    let mut p = ImapState::new(Transport::Tcp);
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    p.on_data(S, b"* OK\r\n* 1 FETCH (BODY[] {40000000}\r\n", &mut ctx);
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..38 {
        p.on_data(S, &chunk, &mut ctx);
    }
    p.on_data(S, &chunk[..40_000_000 - 38 * (1 << 20)], &mut ctx);
    p.on_data(S, b")\r\n* 2 FETCH (BODY[] {1}\r\nz)\r\n", &mut ctx);
    assert_eq!(out.len(), 1);
    assert_eq!(p.session.messages, vec![b"z".to_vec()]);
    assert!(anomalies.contains(&"imap.literal_too_large"));
}

#[test]
fn absurd_literal_does_not_swallow_the_direction() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"* OK ready\r\n"),
        (C, b"a1 APPEND INBOX {99999999999999999+}\r\n"),
        (C, b"a2 LOGIN bob pw\r\n"),
        (S, b"a2 OK\r\n* 1 FETCH (BODY[] {9999999999999}\r\n"),
        (S, b"* 2 FETCH (BODY[] {3}\r\nA:b)\r\n"),
    ];
    for step in [1, 4096] {
        let mut p = ImapState::new(Transport::Tcp);
        let (out, anomalies) = run(&mut p, &conv, step);
        assert_eq!(anomalies, vec!["imap.literal_absurd"; 2], "step {step}");
        assert_eq!(p.session.user.as_deref(), Some("bob"), "step {step}");
        assert_eq!(out.len(), 1, "step {step}");
        assert_eq!(p.session.messages, vec![b"A:b".to_vec()]);
    }
}

#[test]
fn commands_past_the_pending_limit_are_counted() {
    let cmds: Vec<u8> = (0..520)
        .flat_map(|i| format!("t{i} NOOP\r\n").into_bytes())
        .collect();
    let conv: Vec<(Direction, &[u8])> = vec![(S, b"* OK ready\r\n"), (C, &cmds)];
    let mut p = ImapState::new(Transport::Tcp);
    let (_, anomalies) = run(&mut p, &conv, 4096);
    assert_eq!(anomalies, vec!["imap.too_many_pending"; 8]);
    assert_eq!(p.pending.len(), 512);
}
