//! Unit tests of the MIME stage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Envelope, MessageBuilder, MessageLimits};
use crate::files::FileBody;
use crate::proto::email::EmailBody;
use crate::proto::{ParseCtx, Transport};
use crate::record::Body;

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
            Body::Email(m) => email = Some(m),
            Body::File(f) => files.push(f),
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
