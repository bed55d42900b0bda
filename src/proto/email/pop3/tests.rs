#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::proto::Emitted;
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

/// Feeds a conversation (direction, bytes) to a parser, `step` bytes at a time, then closes.
pub(crate) fn run(
    p: &mut dyn AppParser,
    conv: &[(Direction, &[u8])],
    step: usize,
) -> (Vec<Emitted>, Vec<&'static str>) {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    for (dir, bytes) in conv {
        for chunk in bytes.chunks(step.max(1)) {
            p.on_data(*dir, chunk, &mut ctx);
        }
    }
    p.on_close(&mut ctx);
    (out, anomalies)
}

/// A minimal TLS 1.2 ClientHello record.
pub(crate) fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0, 0, 0]);
    let mut hs = vec![1, 0, 0, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01, 0, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn session() -> Vec<(Direction, &'static [u8])> {
    vec![
        (
            S,
            b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
        ),
        (C, b"USER alice\r\n"),
        (S, b"+OK\r\n"),
        (C, b"PASS hunter2secret\r\n"),
        (S, b"+OK maildrop has 2 messages\r\n"),
        (C, b"STAT\r\n"),
        (S, b"+OK 2 320\r\n"),
        (C, b"LIST\r\n"),
        (S, b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
        (C, b"LIST 1\r\n"),
        (S, b"+OK 1 120\r\n"),
        (C, b"UIDL 2\r\n"),
        (S, b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"),
        (C, b"RETR 1\r\n"),
        (
            S,
            b"+OK 120 octets\r\nSubject: one\r\n\r\nhello\r\n..dot line\r\n.\r\n",
        ),
        (C, b"TOP 2 0\r\n"),
        (S, b"+OK\r\nSubject: two\r\n\r\n.\r\n"),
        (C, b"DELE 1\r\n"),
        (S, b"+OK message 1 deleted\r\n"),
        (C, b"QUIT\r\n"),
        (S, b"+OK bye\r\n"),
    ]
}

#[test]
fn whole_session_messages_are_unstuffed() {
    for step in [1, 3, 7, 4096] {
        let mut p = Pop3State::new(Transport::Tcp);
        let (out, anomalies) = run(&mut p, &session(), step);
        assert_eq!(out.len(), 2, "step {step}");
        assert!(anomalies.is_empty());
        assert_eq!(
            p.session.messages,
            vec![
                b"Subject: one\r\n\r\nhello\r\n.dot line\r\n".to_vec(),
                b"Subject: two\r\n\r\n".to_vec()
            ]
        );
        assert_eq!(p.session.user.as_deref(), Some("alice"));
        assert!(!format!("{:?}", p.session.envelope("pop3")).contains("hunter2"));
        for e in &out {
            let crate::proto::AppBody::Email(b) = &e.body else {
                panic!("not email")
            };
            let json = serde_json::to_string(b).unwrap();
            assert!(!json.contains("hunter2"));
        }
    }
}

#[test]
fn single_line_list_with_argument_does_not_swallow_next_response() {
    // LIST 1 is single-line: the RETR that follows must still be seen.
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, b"LIST 1\r\nRETR 1\r\n"),
        (S, b"+OK 1 5\r\n+OK\r\nA: b\r\n\r\nx\r\n.\r\n"),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, _) = run(&mut p, &conv, 1);
    assert_eq!(out.len(), 1);
    assert_eq!(p.session.messages, vec![b"A: b\r\n\r\nx\r\n".to_vec()]);
}

#[test]
fn pipelined_commands_pair_in_order() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, b"CAPA\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n"),
        (
            S,
            b"+OK\r\nPIPELINING\r\nTOP\r\n.\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n+OK\r\nm: 1\r\n.\r\n-ERR no such\r\n+OK bye\r\n",
        ),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, _) = run(&mut p, &conv, 2);
    assert_eq!(out.len(), 1);
    assert_eq!(p.session.messages, vec![b"m: 1\r\n".to_vec()]);
}

#[test]
fn commands_past_a_full_queue_are_counted_and_answers_stay_paired() {
    // 600 pipelined NOOPs (88 past the queue), 300 answers, then RETR: the answers to the
    // NOOPs not kept must not be paired with RETR.
    let noops = b"NOOP\r\n".repeat(600);
    let oks = b"+OK\r\n".repeat(300);
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, &noops),
        (S, &oks),
        (C, b"RETR 1\r\n"),
        (S, &oks),
        (S, b"+OK 9 octets\r\nSubject: late\r\n\r\nx\r\n.\r\n"),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, anomalies) = run(&mut p, &conv, 4096);
    assert_eq!(
        anomalies,
        vec![Pop3Anomaly::TooManyPending.as_str(); 88],
        "one per command not kept"
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        p.session.messages,
        vec![b"Subject: late\r\n\r\nx\r\n".to_vec()]
    );
    assert!(p.pending.is_empty());
}

#[test]
fn auth_plain_and_login_users() {
    // "\0bob\0pw" and LOGIN "carol" / "pw".
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, b"AUTH PLAIN\r\n"),
        (S, b"+ \r\n"),
        (C, b"AGJvYgBwdw==\r\n"),
        (S, b"+OK\r\n"),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    run(&mut p, &conv, 1);
    assert_eq!(p.session.user.as_deref(), Some("bob"));
    assert_eq!(p.session.mechanism.as_deref(), Some("PLAIN"));

    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, b"AUTH LOGIN\r\n"),
        (S, b"+ VXNlcm5hbWU6\r\n"),
        (C, b"Y2Fyb2w=\r\n"),
        (S, b"+ UGFzc3dvcmQ6\r\n"),
        (C, b"cHc=\r\n"),
        (S, b"+OK\r\n"),
        (C, b"RETR 1\r\n"),
        (S, b"+OK\r\nX: y\r\n.\r\n"),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, _) = run(&mut p, &conv, 1);
    assert_eq!(p.session.user.as_deref(), Some("carol"));
    assert_eq!(out.len(), 1);

    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready <1.2@x>\r\n"),
        (C, b"AUTH PLAIN AGRhdmUAcHc=\r\n"),
        (S, b"-ERR\r\n"),
        (C, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
        (S, b"+OK\r\n"),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    run(&mut p, &conv, 5);
    assert_eq!(p.session.user.as_deref(), Some("mrose"));
}

#[test]
fn malformed_plain_response_gives_no_user() {
    // "bob\0hunter2" (one NUL): the second field is the password, never a user name.
    for conv in [
        vec![
            (S, &b"+OK ready\r\n"[..]),
            (C, b"AUTH PLAIN\r\n"),
            (S, b"+ \r\n"),
            (C, b"Ym9iAGh1bnRlcjI=\r\n"),
            (S, b"+OK\r\n"),
        ],
        vec![
            (S, b"+OK ready\r\n"),
            (C, b"AUTH PLAIN Ym9iAGh1bnRlcjI=\r\n"),
            (S, b"+OK\r\n"),
        ],
    ] {
        let mut p = Pop3State::new(Transport::Tcp);
        run(&mut p, &conv, 3);
        assert_eq!(p.session.user, None);
        assert_eq!(p.session.mechanism.as_deref(), Some("PLAIN"));
    }
    assert_eq!(
        crate::proto::email::session::sasl_plain_user(b"AGJvYgBwdw==\r\n").as_deref(),
        Some("bob")
    );
    // authzid only (empty authcid) names the user.
    assert_eq!(
        crate::proto::email::session::sasl_plain_user(b"Ym9iAABwdw==").as_deref(),
        Some("bob")
    );
}

#[test]
fn auth_without_argument_lists_mechanisms() {
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, b"AUTH\r\nRETR 1\r\n"),
        (S, b"+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n+OK\r\nA: 1\r\n.\r\n"),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, _) = run(&mut p, &conv, 1);
    assert_eq!(out.len(), 1);
}

#[test]
fn stls_hands_over_to_tls() {
    let hello = client_hello();
    let conv: Vec<(Direction, &[u8])> = vec![
        (S, b"+OK ready\r\n"),
        (C, b"STLS\r\n"),
        (S, b"+OK Begin TLS\r\n"),
        (C, &hello),
    ];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, _) = run(&mut p, &conv, 1);
    assert!(p.session.starttls);
    assert!(out.is_empty());
    // The rest of the flow is handed on to TLS, the ClientHello with it.
    let h = crate::proto::AppParser::take_handover(&mut p).expect("hand-over");
    assert_eq!(h.next, Some(crate::proto::AppProto::Tls));
    assert_eq!(h.early[0], hello);
}

#[test]
fn gap_drops_message_and_close_finishes_one() {
    let mut p = Pop3State::new(Transport::Tcp);
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    p.on_data(S, b"+OK ready\r\n", &mut ctx);
    p.on_data(C, b"RETR 1\r\n", &mut ctx);
    p.on_data(S, b"+OK\r\nA: 1\r\nbo", &mut ctx);
    p.on_gap(S, 10, &mut ctx);
    p.on_data(S, b"dy\r\n.\r\n", &mut ctx);
    assert_eq!(ctx.out.len(), 0);
    p.on_data(C, b"RETR 2\r\n", &mut ctx);
    p.on_data(S, b"+OK\r\nB: 2\r\npartial", &mut ctx);
    p.on_close(&mut ctx);
    assert_eq!(ctx.out.len(), 1);
    assert_eq!(p.session.messages, vec![b"B: 2\r\npartial".to_vec()]);
    assert!(anomalies.contains(&"pop3.gap"));
}

#[test]
fn long_lines() {
    let mut long = vec![b'x'; 40_000];
    long.extend_from_slice(b"\r\n");
    let mut body = b"+OK\r\n".to_vec();
    body.extend_from_slice(&long);
    body.extend_from_slice(b".\r\n");
    let mut cmd = b"NOOP ".to_vec();
    cmd.extend_from_slice(&long);
    cmd.extend_from_slice(b"RETR 1\r\n");
    let conv: Vec<(Direction, &[u8])> = vec![(S, b"+OK ready\r\n"), (C, &cmd), (S, &body)];
    let mut p = Pop3State::new(Transport::Tcp);
    let (out, anomalies) = run(&mut p, &conv, 1000);
    assert!(anomalies.contains(&"pop3.line_too_long"));
    assert_eq!(out.len(), 1);
    assert_eq!(p.session.messages, vec![long]);
}
