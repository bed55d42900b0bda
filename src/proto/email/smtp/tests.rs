//! Unit tests of the SMTP parser with byte fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};

use crate::files::FileBody;
use crate::proto::email::EmailBody;
use crate::proto::AppBody;
use crate::proto::{Direction, ParseCtx, Transport};

use Direction::{ToClient as S, ToServer as C};

#[derive(Default, Debug)]
struct Out {
    emails: Vec<EmailBody>,
    files: Vec<FileBody>,
    other: usize,
    anomalies: Vec<&'static str>,
    json: String,
}

fn run(steps: &[(Direction, &[u8])], chunk: usize) -> Out {
    let played = crate::proto::conversation::play_steps(
        &mut *super::new_parser(Transport::Tcp),
        Transport::Tcp,
        steps,
        chunk,
    );
    let (out, anomalies) = (played.out, played.anomalies);
    let mut o = Out {
        anomalies,
        ..Out::default()
    };
    for e in out {
        o.json
            .push_str(&serde_json::to_string(&record_json(&e.body)).unwrap());
        match e.body {
            AppBody::Email(m) => o.emails.push(m),
            AppBody::File(f) => o.files.push(f),
            _ => o.other += 1,
        }
    }
    o
}

fn record_json(b: &AppBody) -> serde_json::Value {
    match b {
        AppBody::Email(m) => serde_json::to_value(m).unwrap(),
        AppBody::File(f) => serde_json::to_value(f).unwrap(),
        _ => serde_json::Value::Null,
    }
}

fn sha256_hex(b: &[u8]) -> String {
    crate::util::hex::encode(&Sha256::digest(b))
}

const MSG: &[u8] = b"From: Alice <alice@Example.COM>\r\n\
To: bob@example.org, \"Carol\" <carol@example.net>\r\n\
Cc: dave@example.org\r\n\
Subject: =?UTF-8?B?SMOpbGxv?= world\r\n\
Message-ID: <abc@example.com>\r\n\
Date: Fri, 25 Feb 2022 23:01:14 +0000\r\n\
X-Mailer: TestMailer 1.0\r\n\
Received: from a by b; Fri, 25 Feb 2022 23:01:14 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hello\r\n\
..leading dot\r\n\
--XX\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
TVqQAAMAAAAEAAAA\r\n\
--XX--\r\n";

fn session() -> Vec<(Direction, Vec<u8>)> {
    let mut data = b"DATA\r\n".to_vec();
    data.extend_from_slice(MSG);
    data.extend_from_slice(b".\r\nQUIT\r\n");
    vec![
        (S, b"220 mx.example.org ESMTP\r\n".to_vec()),
        (C, b"EHLO client.example.com\r\n".to_vec()),
        (S, b"250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_vec()),
        (C, b"AUTH PLAIN AGFsaWNlAHMzY3JldFBhc3M=\r\n".to_vec()),
        (S, b"235 ok\r\n".to_vec()),
        (
            C,
            b"MAIL FROM:<alice@example.com> SIZE=1000 BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.net>\r\n".to_vec(),
        ),
        (S, b"250 ok\r\n250 ok\r\n250 ok\r\n".to_vec()),
        (C, data),
        (S, b"354 go\r\n250 queued\r\n221 bye\r\n".to_vec()),
    ]
}

fn steps(v: &[(Direction, Vec<u8>)]) -> Vec<(Direction, &[u8])> {
    v.iter().map(|(d, b)| (*d, b.as_slice())).collect()
}

fn check_session(o: &Out) {
    assert_eq!(o.emails.len(), 1, "{o:?}");
    let m = &o.emails[0];
    assert_eq!(m.protocol, "smtp");
    assert_eq!(m.helo.as_deref(), Some("client.example.com"));
    assert_eq!(m.mail_from.as_deref(), Some("alice@example.com"));
    assert_eq!(m.mail_params.as_deref(), Some("SIZE=1000 BODY=8BITMIME"));
    assert_eq!(m.rcpt_to, vec!["bob@example.org", "carol@example.net"]);
    assert_eq!(m.from.as_deref(), Some("alice@Example.COM"));
    assert_eq!(m.to, vec!["bob@example.org", "carol@example.net"]);
    assert_eq!(m.cc, vec!["dave@example.org"]);
    assert_eq!(m.subject.as_deref(), Some("Héllo world"));
    assert_eq!(m.message_id.as_deref(), Some("abc@example.com"));
    assert_eq!(m.x_mailer.as_deref(), Some("TestMailer 1.0"));
    assert_eq!(m.received.len(), 1);
    assert!(m
        .date
        .as_deref()
        .unwrap()
        .starts_with("2022-02-25T23:01:14"));
    assert_eq!(m.auth_mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(m.auth_user.as_deref(), Some("alice"));
    assert!(!m.truncated);
    // Dot-unstuffed: the message as sent is MSG with "..leading" → ".leading".
    assert_eq!(m.size, MSG.len() as u64 - 1);
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.name.as_deref(), Some("a.bin"));
    let content = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00";
    assert_eq!(a.size, content.len() as u64);
    assert_eq!(a.sha256, sha256_hex(content));
    assert_eq!(m.file_ids, vec![a.file_id.clone()]);
    assert_eq!(o.files.len(), 1);
    assert_eq!(o.files[0].id, a.file_id);
    assert_eq!(o.files[0].source, "smtp");
    assert_eq!(o.files[0].sender.as_deref(), Some("alice@example.com"));
    assert!(o.files[0].complete);
    // Hashes: header From, lower-cased; header To + Cc.
    let md5 = |s: &str| -> String {
        use md5::Md5;
        Md5::digest(s.as_bytes())
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    assert_eq!(m.hashed.from_local_md5, Some(md5("alice")));
    assert_eq!(m.hashed.from_domain_md5, Some(md5("example.com")));
    assert_eq!(m.hashed.to.len(), 3);
    assert_eq!(m.hashed.to[2].local_md5, md5("dave"));
    assert_eq!(m.hashed.subject_md5, Some(md5("Héllo world")));
    assert!(!o.json.contains("s3cretPass"));
    assert!(!o.json.contains("czNjcmV0UGFzcw"));
}

#[test]
fn whole_session() {
    let v = session();
    let o = run(&steps(&v), 1 << 20);
    check_session(&o);
    assert!(o.anomalies.is_empty(), "{:?}", o.anomalies);
}

#[test]
fn whole_session_one_byte_at_a_time() {
    let v = session();
    check_session(&run(&steps(&v), 1));
}

#[test]
fn auth_login_keeps_only_the_user() {
    let o = run(
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO x\r\n"),
            (S, b"250 mx\r\n"),
            (C, b"AUTH LOGIN\r\n"),
            (S, b"334 VXNlcm5hbWU6\r\n"),
            (C, b"dXNlckBleGFtcGxlLmNvbQ==\r\n"),
            (S, b"334 UGFzc3dvcmQ6\r\n"),
            (C, b"aHVudGVyMg==\r\n"),
            (S, b"235 ok\r\n"),
            (
                C,
                b"MAIL FROM:<user@example.com>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n",
            ),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (C, b"Subject: hi\r\n\r\nbody\r\n.\r\n"),
            (S, b"250 ok\r\n"),
        ],
        3,
    );
    assert_eq!(o.emails.len(), 1);
    let m = &o.emails[0];
    assert_eq!(m.auth_mechanism.as_deref(), Some("LOGIN"));
    assert_eq!(m.auth_user.as_deref(), Some("user@example.com"));
    assert_eq!(m.subject.as_deref(), Some("hi"));
    assert!(!o.json.contains("hunter2"));
    assert!(!o.json.contains("aHVudGVyMg"));
}

#[test]
fn malformed_plain_response_gives_no_user() {
    // "alice\0hunter2": one NUL only; the second field is the password, not a user name.
    for auth in [
        &b"AUTH PLAIN YWxpY2UAaHVudGVyMg==\r\n"[..],
        b"AUTH PLAIN\r\n",
    ] {
        let mut steps: Vec<(Direction, &[u8])> = vec![
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO x\r\n"),
            (S, b"250 mx\r\n"),
            (C, auth),
        ];
        if auth == b"AUTH PLAIN\r\n" {
            steps.push((S, b"334 \r\n"));
            steps.push((C, b"YWxpY2UAaHVudGVyMg==\r\n"));
        }
        steps.extend_from_slice(&[
            (S, &b"235 ok\r\n"[..]),
            (C, b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n"),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (C, b"Subject: hi\r\n\r\nbody\r\n.\r\n"),
            (S, b"250 ok\r\n"),
        ]);
        let o = run(&steps, 4);
        assert_eq!(o.emails.len(), 1);
        assert_eq!(o.emails[0].auth_user, None);
        assert!(!o.json.contains("hunter2"));
    }
}

#[test]
fn pipelined_bdat() {
    let part1 = b"Subject: bdat\r\n\r\n.line with dot\r\n";
    let part2 = b"end\r\n";
    let mut c = b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\n".to_vec();
    c.extend_from_slice(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.extend_from_slice(part1);
    c.extend_from_slice(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.extend_from_slice(part2);
    c.extend_from_slice(b"MAIL FROM:<g@h.i>\r\nRCPT TO:<j@k.l>\r\nBDAT 0 LAST\r\nQUIT\r\n");
    let o = run(
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO x\r\n"),
            (S, b"250-mx\r\n250 CHUNKING\r\n"),
            (C, &c),
            (S, b"250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n221 bye\r\n"),
        ],
        7,
    );
    assert_eq!(o.emails.len(), 2, "{o:?}");
    let m = &o.emails[0];
    assert_eq!(m.subject.as_deref(), Some("bdat"));
    assert_eq!(m.size, (part1.len() + part2.len()) as u64);
    assert_eq!(m.rcpt_to, vec!["d@e.f"]);
    assert_eq!(o.emails[1].mail_from.as_deref(), Some("g@h.i"));
    assert_eq!(o.emails[1].size, 0);
}

#[test]
fn pipelined_bdat_refused_chunk_is_taken_back() {
    let (p1, decoy, p2) = (
        &b"Subject: kept\r\n"[..],
        &b"X-Decoy: 1\r\n"[..],
        &b"\r\nbody\r\n"[..],
    );
    let mut c = b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nRCPT TO:<bad@e.f>\r\n".to_vec();
    for (chunk, last) in [(p1, ""), (decoy, ""), (p2, " LAST")] {
        c.extend_from_slice(format!("BDAT {}{last}\r\n", chunk.len()).as_bytes());
        c.extend_from_slice(chunk);
    }
    let o = run(
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, &c),
            (
                S,
                b"250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n552 no\r\n250 ok\r\n",
            ),
        ],
        5,
    );
    assert_eq!(o.emails.len(), 1, "{o:?}");
    let m = &o.emails[0];
    assert_eq!(m.size, (p1.len() + p2.len()) as u64);
    assert_eq!(m.subject.as_deref(), Some("kept"));
    assert_eq!(m.rcpt_to, vec!["d@e.f"]);
    assert!(!m.truncated);
    assert_eq!(
        o.anomalies,
        vec!["smtp.refused_command", "smtp.refused_command"]
    );
    // A refused LAST leaves the message open: the flow's end reports it cut.
    let o = run(
        &[
            (C, b"MAIL FROM:<a@b.c>\r\nBDAT 4 LAST\r\nabcd"),
            (S, b"250 ok\r\n554 no\r\n"),
        ],
        3,
    );
    assert_eq!(o.emails.len(), 1, "{o:?}");
    assert_eq!(o.emails[0].size, 0);
    assert!(o.emails[0].truncated);
}

#[test]
fn dot_stuffing_and_lenient_end() {
    let o = run(
        &[
            (C, b"MAIL FROM:<a@b.c>\nRCPT TO:<d@e.f>\nDATA\n"),
            (S, b"250 ok\n250 ok\n354 go\n"),
            (C, b"Subject: x\n\n..\n...two\n.\n"),
        ],
        2,
    );
    assert_eq!(o.emails.len(), 1);
    assert_eq!(o.emails[0].size, b"Subject: x\n\n.\n..two\n".len() as u64);
    assert!(!o.emails[0].truncated);
}

#[test]
fn starttls_hands_over_to_tls() {
    let hex = include_str!("../../../../benches/tls_chrome_ch.hex").trim();
    let hello: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut p = super::SmtpState::new();
    let steps: Vec<(Direction, &[u8])> = vec![
        (S, b"220 mx ESMTP\r\n"),
        (C, b"EHLO x\r\n"),
        (S, b"250-mx\r\n250 STARTTLS\r\n"),
        (C, b"STARTTLS\r\n"),
        (S, b"220 go ahead\r\n"),
        (C, &hello),
    ];
    let played = crate::proto::conversation::play_steps(&mut p, Transport::Tcp, &steps, 5);
    assert!(played.out.is_empty());
    // The rest of the flow is handed on to TLS, the ClientHello with it.
    let h = crate::proto::AppParser::take_handover(&mut p).expect("hand-over");
    assert_eq!(h.next, Some(crate::proto::AppProto::Tls));
    assert_eq!(h.early[0], hello);
}

#[test]
fn refused_starttls_goes_on() {
    let o = run(
        &[
            (C, b"STARTTLS\r\n"),
            (S, b"454 no\r\n"),
            (C, b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (C, b"Subject: x\r\n\r\nhi\r\n.\r\n"),
        ],
        4,
    );
    assert_eq!(o.emails.len(), 1);
    assert!(!o.emails[0].starttls);
}

#[test]
fn close_mid_message_is_truncated() {
    let o = run(
        &[
            (C, b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (C, b"Subject: cut\r\n\r\npartial"),
        ],
        100,
    );
    assert_eq!(o.emails.len(), 1);
    assert!(o.emails[0].truncated);
    assert_eq!(o.emails[0].subject.as_deref(), Some("cut"));
}

#[test]
fn gap_abandons_message_and_resyncs() {
    let mut p = super::new_parser(Transport::Tcp);
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    p.on_data(
        C,
        b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nSubject: g\r\n\r\nab",
        &mut ctx,
    );
    p.on_gap(C, 100, &mut ctx);
    p.on_data(
        C,
        b"junk\r\nMAIL FROM:<x@y.z>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nSubject: h\r\n\r\nb\r\n.\r\n",
        &mut ctx,
    );
    let emails: Vec<EmailBody> = out
        .into_iter()
        .filter_map(|e| match e.body {
            AppBody::Email(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(emails[0].truncated);
    assert_eq!(emails[1].mail_from.as_deref(), Some("x@y.z"));
    assert!(!emails[1].truncated);
    assert!(anomalies.contains(&"smtp.gap"));
}

#[test]
fn long_line_is_skipped() {
    let mut long = vec![b'A'; super::MAX_LINE + 100];
    long.extend_from_slice(
        b"\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nSubject: s\r\n\r\n.\r\n",
    );
    let o = run(&[(C, &long)], 1000);
    assert!(o.anomalies.contains(&"smtp.line_too_long"));
    assert_eq!(o.emails.len(), 1);
    assert_eq!(o.emails[0].mail_from.as_deref(), Some("a@b.c"));
}

#[test]
fn garbage_does_not_panic() {
    let mut x: u32 = 7;
    let mut bytes = Vec::new();
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.push(
            b"DATA\r\n.BDAT 5 LAST\r\nAUTH LOGIN\r\nSTARTTLS\r\n220 \x00"[(x >> 16) as usize % 44],
        );
    }
    for chunk in [1, 3, 64] {
        let _ = run(&[(C, &bytes), (S, &bytes), (C, &bytes)], chunk);
    }
}
