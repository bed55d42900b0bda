//! Unit tests of the MIME stage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Envelope, MessageBuilder, MessageLimits};
use crate::files::FileBody;
use crate::proto::email::EmailBody;
use crate::proto::AppBody;
use crate::proto::{ParseCtx, Transport};

fn finish(msg: &[u8], limits: MessageLimits) -> (EmailBody, Vec<FileBody>, Vec<&'static str>) {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 5,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    let mut b = MessageBuilder::new(limits);
    for piece in msg.chunks(7) {
        b.push(piece);
    }
    let env = Envelope {
        protocol: "pop3",
        mail_from: Some("env@example.com".into()),
        rcpt_to: vec!["rcpt@example.org".into()],
        ..Envelope::default()
    };
    b.finish(&env, &mut ctx);
    let mut email = None;
    let mut files = Vec::new();
    for e in out {
        match e.body {
            AppBody::Email(m) => email = Some(m),
            AppBody::File(f) => files.push(f),
            _ => {}
        }
    }
    (email.expect("email record"), files, anomalies)
}

const NESTED: &[u8] = b"From: a@b.c\r\n\
Subject: =?ISO-8859-1?Q?caf=E9?=\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=inner\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain\r\n\
--inner\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>html</p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment;\r\n filename*0*=utf-8''r%C3%A9sum;\r\n filename*1*=%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
Content-Disposition: attachment; filename=\"fwd.eml\"\r\n\
\r\n\
From: x@y.z\r\n\
Subject: inner\r\n\
Content-Type: multipart/mixed; boundary=deep\r\n\
\r\n\
--deep\r\n\
Content-Type: text/plain; name=\"=?UTF-8?Q?n=C3=A9?=.txt\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
a=3Db\r\n\
--deep--\r\n\
--outer--\r\n";

#[test]
fn nested_multipart_rfc2231_rfc2047_and_attached_message() {
    let (m, files, anomalies) = finish(NESTED, MessageLimits::default());
    assert!(anomalies.is_empty(), "{anomalies:?}");
    assert_eq!(m.protocol, "pop3");
    assert_eq!(m.subject.as_deref(), Some("café"));
    let names: Vec<_> = m
        .attachments
        .iter()
        .map(|a| a.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, vec!["résumé.pdf", "fwd.eml", "né.txt"]);
    assert_eq!(m.attachments[0].format, "pdf");
    assert_eq!(m.attachments[0].size, 9);
    assert_eq!(m.attachments[2].size, 3); // "a=b"
    assert_eq!(files.len(), 3);
    assert_eq!(m.file_ids.len(), 3);
    assert_eq!(files[0].source, "pop3");
    // No header To: the hashed recipients fall back to the envelope.
    assert_eq!(m.hashed.to.len(), 1);
}

#[test]
fn size_cap_marks_truncated() {
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 1000));
    let limits = MessageLimits {
        max_message: 100,
        max_attachments: 64,
    };
    let (m, _, anomalies) = finish(&msg, limits);
    assert!(m.truncated);
    assert_eq!(m.size, msg.len() as u64);
    assert_eq!(m.subject.as_deref(), Some("big"));
    assert_eq!(anomalies, vec!["email.message_too_large"]);
}

#[test]
fn attachment_cap_counts_the_rest() {
    let limits = MessageLimits {
        max_message: 1 << 20,
        max_attachments: 1,
    };
    let (m, files, _) = finish(NESTED, limits);
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments_dropped, 2);
    assert_eq!(files.len(), 1);
}

#[test]
fn sender_falls_back_to_mail_from() {
    let (m, _, _) = finish(b"Subject: s\r\n\r\nbody\r\n", MessageLimits::default());
    assert!(m.from.is_none());
    assert!(m.hashed.from_local_md5.is_some());
    assert!(m.attachments.is_empty());
}

#[test]
fn garbage_does_not_panic() {
    let mut x: u32 = 3;
    for len in [0usize, 1, 50, 5000] {
        let mut bytes = Vec::new();
        for _ in 0..len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            bytes.push(NESTED[(x >> 16) as usize % NESTED.len()]);
        }
        let _ = finish(&bytes, MessageLimits::default());
    }
}

/// Runs `f` on a thread with the 2 MiB stack that worker threads get.
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// `levels` attached messages (message/rfc822) nested in each other.
fn nested_messages(levels: usize) -> Vec<u8> {
    let mut msg = Vec::new();
    for _ in 0..levels {
        msg.extend_from_slice(b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    msg.extend_from_slice(b"Subject: bottom\r\n\r\nbody\r\n");
    msg
}

#[test]
fn deeply_nested_attached_messages_are_dropped_without_recursion() {
    // mail-parser builds the tree of 100 000 nested messages without recursing, but the drop
    // glue recursed once per level and overflowed a worker's stack.
    let msg = nested_messages(100_000);
    on_worker_stack(move || {
        let m = mail_parser::MessageParser::default().parse(&msg).unwrap();
        super::dismantle(m);
    });
}

#[test]
fn deeply_nested_attached_messages_are_cut_and_counted() {
    let msg = nested_messages(100_000);
    let (m, files, anomalies) = on_worker_stack(move || finish(&msg, MessageLimits::default()));
    assert_eq!(m.subject.as_deref(), Some("x"));
    assert!(m.truncated);
    // Parsed up to the structure cap, followed 8 levels down, the rest counted once.
    assert_eq!(
        anomalies,
        vec!["email.mime_too_complex", "email.nesting_too_deep"]
    );
    assert_eq!(files.len(), m.attachments.len());
}

#[test]
fn structure_cut_counts_headers_parts_and_attached_messages() {
    use super::structure_cut;
    // Ordinary messages are far below any cap.
    assert_eq!(structure_cut(NESTED, 40), None);
    assert!(structure_cut(NESTED, 10).is_some_and(|c| c > 0 && c < NESTED.len()));
    // A flood of header lines: the cut falls at the start of the line over the cap.
    let flood = b"a:\r\n".repeat(1000);
    assert_eq!(structure_cut(&flood, 100), Some(400));
    // Empty parts (boundary, blank line): two lines each.
    let mut parts = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n".to_vec();
    parts.extend(b"--a\r\n\r\n".repeat(1000));
    assert_eq!(structure_cut(&parts, 100), Some(45 + 49 * 7));
    // Headers of attached messages are headers too.
    let nested = nested_messages(1000);
    assert_eq!(structure_cut(&nested, 99), Some(33 * 44));
    // ... and so is an encoded attached message, by its size.
    let mut enc =
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    enc.extend(b"YTpcclxuYTpcclxu\r\n".repeat(100));
    assert!(structure_cut(&enc, 100).is_some());
    // Body lines cost nothing: a big text with colons and blank lines, a big base64 part.
    let mut text = b"Subject: t\r\n\r\n".to_vec();
    text.extend(b"time: 10:30\r\n\r\nnote: a\r\n".repeat(10_000));
    assert_eq!(structure_cut(&text, 100), None);
    let mut b64 = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    b64.extend(
        b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
            .repeat(20_000),
    );
    b64.extend(b"--a--\r\n");
    assert_eq!(structure_cut(&b64, 100), None);
}

/// A message whose text part sits under `levels` nested multiparts, with an attachment at the
/// bottom.
fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut m = b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=n0\r\n\r\n".to_vec();
    for i in 1..levels {
        m.extend_from_slice(
            format!(
                "--n{}\r\nContent-Type: multipart/mixed; boundary=n{i}\r\n\r\n",
                i - 1
            )
            .as_bytes(),
        );
    }
    m.extend_from_slice(
        format!(
            "--n{}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=deep.bin\r\n\r\nbottom\r\n",
            levels - 1
        )
        .as_bytes(),
    );
    for i in (0..levels).rev() {
        m.extend_from_slice(format!("--n{i}--\r\n").as_bytes());
    }
    m
}

#[test]
fn multipart_nesting_is_counted() {
    use super::MAX_MULTIPART_DEPTH;
    let msg = nested_multiparts(MAX_MULTIPART_DEPTH);
    let (m, files, anomalies) = finish(&msg, MessageLimits::default());
    assert!(anomalies.is_empty(), "{anomalies:?}");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(files.len(), 1);

    // 5 000 levels: three structure lines each (boundary, Content-Type, blank line), then the
    // closing boundaries: under the structure cap.
    let msg = nested_multiparts(5_000);
    let (m, files, anomalies) = on_worker_stack(move || finish(&msg, MessageLimits::default()));
    assert_eq!(anomalies, vec!["email.mime_nesting_too_deep"]);
    // The parts are still walked: the attachment at the bottom is reported.
    assert_eq!(m.subject.as_deref(), Some("deep"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].name.as_deref(), Some("deep.bin"));
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size, 6);
}

/// A forwarded message holding an attachment, as the inner message of the tests below.
const INNER: &[u8] = b"From: x@y.z\r\n\
Subject: inner\r\n\
Content-Type: multipart/mixed; boundary=deep\r\n\
\r\n\
--deep\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"evil.exe\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
TVqQAAMAAAAEAAAA\r\n\
--deep--\r\n";

fn with_attached(cte: &str, body: &str) -> Vec<u8> {
    format!(
        "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n\
         Content-Type: text/plain\r\n\r\nhi\r\n--outer\r\nContent-Type: message/rfc822\r\n\
         Content-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n--outer--\r\n"
    )
    .into_bytes()
}

fn assert_evil_exe(e: &EmailBody, files: &[FileBody]) {
    let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00";
    assert_eq!(e.attachments.len(), 1, "{e:?}");
    let a = &e.attachments[0];
    assert_eq!(a.name.as_deref(), Some("evil.exe"));
    assert_eq!(a.size, 12);
    assert_eq!(a.md5, crate::util::hex::md5_hex(exe));
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].md5, a.md5);
}

#[test]
fn base64_attached_message_is_walked() {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(INNER);
    let (e, files, anomalies) = finish(&with_attached("base64", &body), MessageLimits::default());
    assert_evil_exe(&e, &files);
    assert_eq!(anomalies, vec!["email.message_encoded"]);
}

#[test]
fn quoted_printable_attached_message_is_walked() {
    let body = String::from_utf8_lossy(INNER).replace('=', "=3D");
    let (e, files, anomalies) = finish(
        &with_attached("quoted-printable", &body),
        MessageLimits::default(),
    );
    assert_evil_exe(&e, &files);
    assert_eq!(anomalies, vec!["email.message_encoded"]);
}

#[test]
fn irregular_base64_attached_message_is_decoded_leniently() {
    use base64::Engine;
    // Junk characters in the text: mail-parser gives up on it, a mail client does not.
    let body = base64::engine::general_purpose::STANDARD.encode(INNER);
    let (head, tail) = body.split_at(40);
    let body = format!("{head}*\r\n!{tail}");
    let (e, files, anomalies) = finish(&with_attached("base64", &body), MessageLimits::default());
    assert_evil_exe(&e, &files);
    assert_eq!(
        anomalies,
        vec!["email.message_encoded", "email.base64_irregular"]
    );
}

fn with_binary(body: &str) -> Vec<u8> {
    format!(
        "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n\
         Content-Type: application/octet-stream; name=x.bin\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--outer--\r\n"
    )
    .into_bytes()
}

#[test]
fn irregular_base64_attachment_decodes_as_clients_do() {
    for (text, bytes) in [
        // An incomplete last quantum without padding.
        ("QUJDRA", &b"ABCD"[..]),
        ("QUJDREU", b"ABCDE"),
        // Junk characters skipped.
        ("QU*JD\r\nR!EU=", b"ABCDE"),
        // Padding mid-text ends a quantum.
        ("QUJDRA=\r\nQU", b"ABCDA"),
    ] {
        let (e, files, anomalies) = finish(&with_binary(text), MessageLimits::default());
        assert_eq!(e.attachments.len(), 1, "{text}");
        assert_eq!(e.attachments[0].size, bytes.len() as u64, "{text}");
        assert_eq!(
            e.attachments[0].md5,
            crate::util::hex::md5_hex(bytes),
            "{text}"
        );
        assert_eq!(files.len(), 1);
        assert_eq!(anomalies, vec!["email.base64_irregular"], "{text}");
    }
    // Regular text: no anomaly.
    let (e, _, anomalies) = finish(&with_binary("QUJD\r\nREU="), MessageLimits::default());
    assert_eq!(e.attachments[0].md5, crate::util::hex::md5_hex(b"ABCDE"));
    assert!(anomalies.is_empty(), "{anomalies:?}");
}

/// A message on which mail-parser's own debug assertion fires (found by the `mime` fuzz
/// target): the panic is contained and counted; the record still comes out.
#[test]
fn a_panic_inside_mail_parser_is_contained_and_counted() {
    let msg = include_bytes!(
        "../../../../fuzz/regress/mime/crash-cb340b7195c483e17e292ad0cc17d8b861200ad3"
    );
    let limits = MessageLimits {
        max_message: 64 << 10,
        max_attachments: 8,
    };
    let (m, _, anomalies) = finish(msg, limits);
    assert_eq!(m.mail_from.as_deref(), Some("env@example.com"));
    // The assertion is a `debug_assert!`: release builds parse on without it.
    if cfg!(debug_assertions) {
        assert!(
            anomalies.contains(&"email.parser_panicked"),
            "{anomalies:?}"
        );
    }
}
