//! Issue 19, class 6: e-mail as the endpoints see it. Each technique is a generated SMTP capture
//! replayed through the `tapir` binary, with the email and file records asserted field by field.
//! Decisions: `docs/evasion.md`, `## E-mail`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{run_sensor, SensorRun};
use md5::{Digest, Md5};
use sha2::Sha256;
use testkit::packets::{Cap, CLIENT, SERVER};

fn cl(s: &str) -> (bool, Vec<u8>) {
    (true, s.as_bytes().to_vec())
}

fn sv(s: &str) -> (bool, Vec<u8>) {
    (false, s.as_bytes().to_vec())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run(steps: &[(bool, Vec<u8>)]) -> SensorRun {
    let mut cap = Cap::new();
    cap.session(CLIENT, SERVER, (40_025, 25), steps);
    let run = run_sensor(&cap.bytes, &["--workers", "1"]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

/// The one email record of a run.
fn email(run: &SensorRun) -> &serde_json::Value {
    let mail = run.of("email");
    assert_eq!(mail.len(), 1, "{:#?}", run.records);
    &mail[0]["email"]
}

/// An SMTP session carrying `message` with DATA.
fn data_session(message: &str) -> Vec<(bool, Vec<u8>)> {
    vec![
        sv("220 mx ESMTP\r\n"),
        cl("EHLO client.example\r\n"),
        sv("250 mx\r\n"),
        cl("MAIL FROM:<a@example.com>\r\n"),
        sv("250 ok\r\n"),
        cl("RCPT TO:<b@example.org>\r\n"),
        sv("250 ok\r\n"),
        cl("DATA\r\n"),
        sv("354 go\r\n"),
        cl(message),
        cl(".\r\n"),
        sv("250 queued\r\n"),
        cl("QUIT\r\n"),
        sv("221 bye\r\n"),
    ]
}

const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00PE\x00\x00tapir";

fn assert_attachment(run: &SensorRun, name: &str, want: &[u8]) {
    let e = email(run);
    let atts = e["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1, "{e:#}");
    let a = &atts[0];
    assert_eq!(a["name"], name);
    assert_eq!(a["size"], want.len() as u64);
    assert_eq!(a["md5"], hex(&Md5::digest(want)));
    assert_eq!(a["sha256"], hex(&Sha256::digest(want)));
    let files = run.of("file");
    assert_eq!(files.len(), 1, "{:#?}", run.records);
    assert_eq!(files[0]["file"]["md5"], hex(&Md5::digest(want)));
    assert_eq!(files[0]["file"]["name"], name);
}

#[test]
fn attachment_inside_a_base64_encoded_rfc822_part_is_reported() {
    let inner = format!(
        "From: x@y.example\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=deep\r\n\r\n\
         --deep\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"invoice.exe\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--deep--\r\n",
        STANDARD.encode(EXE)
    );
    let encoded = STANDARD.encode(inner.as_bytes());
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let message = format!(
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: outer\r\n\
         Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n\
         Content-Type: text/plain\r\n\r\nsee attached\r\n--outer\r\n\
         Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --outer--\r\n",
        lines.join("\r\n")
    );
    let run = run(&data_session(&message));
    assert_attachment(&run, "invoice.exe", EXE);
    assert_eq!(run.anomaly("email.message_encoded"), 1);
    assert_eq!(run.anomaly("email.base64_irregular"), 0);
}

#[test]
fn irregular_base64_decodes_as_mail_clients_do() {
    // "tapir-evasion!" (14 bytes): no padding, a junk character, a space and a split line.
    let want = b"tapir-evasion!";
    let text = STANDARD.encode(want); // "dGFwaXItZXZhc2lvbiE="
    let text = text.trim_end_matches('=');
    let (a, b) = text.split_at(8);
    let message = format!(
        "From: a@example.com\r\nSubject: b64\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n\
         --outer\r\nContent-Type: application/octet-stream; name=\"note.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{a}*\r\n {b}\r\n--outer--\r\n"
    );
    let run = run(&data_session(&message));
    assert_attachment(&run, "note.bin", want);
    assert_eq!(run.anomaly("email.base64_irregular"), 1);
}

#[test]
fn refused_commands_change_no_state() {
    let steps = vec![
        sv("220 mx ESMTP\r\n"),
        cl("HELO first.example\r\n"),
        sv("250 mx\r\n"),
        cl("EHLO second.example\r\n"),
        sv("502 5.5.1 EHLO not supported\r\n"),
        cl("MAIL FROM:<spoof@evil.example>\r\n"),
        sv("553 5.7.1 sender refused\r\n"),
        cl("MAIL FROM:<real@example.com>\r\n"),
        sv("250 ok\r\n"),
        // Pipelined: the replies come together after the three commands.
        cl("RCPT TO:<unknown@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        sv("550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n"),
        cl("Subject: hi\r\n\r\nbody\r\n.\r\n"),
        sv("250 queued\r\n"),
        cl("QUIT\r\n"),
        sv("221 bye\r\n"),
    ];
    let run = run(&steps);
    let e = email(&run);
    assert_eq!(e["helo"], "first.example");
    assert_eq!(e["mail_from"], "real@example.com");
    assert_eq!(e["rcpt_to"], serde_json::json!(["b@example.org"]));
    assert_eq!(e["subject"], "hi");
    assert_eq!(run.anomaly("smtp.refused_command"), 3);
}

#[test]
fn refused_data_starts_no_message() {
    let steps = vec![
        sv("220 mx ESMTP\r\n"),
        cl("EHLO c.example\r\n"),
        sv("250 mx\r\n"),
        cl("MAIL FROM:<a@example.com>\r\n"),
        sv("250 ok\r\n"),
        cl("RCPT TO:<b@example.org>\r\n"),
        sv("250 ok\r\n"),
        cl("DATA\r\n"),
        sv("554 5.5.1 no valid recipients\r\n"),
        cl("RSET\r\n"),
        sv("250 ok\r\n"),
        cl("QUIT\r\n"),
        sv("221 bye\r\n"),
    ];
    let run = run(&steps);
    assert!(run.of("email").is_empty(), "{:#?}", run.records);
    assert_eq!(run.anomaly("smtp.refused_command"), 1);
}

#[test]
fn refused_bdat_chunk_is_taken_back() {
    let part = |body: &str| {
        format!(
            "From: a@example.com\r\nSubject: bdat\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"{body}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        )
    };
    let head = part("payload.exe");
    let decoy = part("decoy.txt");
    let tail = format!("{}\r\n--b--\r\n", STANDARD.encode(EXE));
    let steps = vec![
        sv("220 mx ESMTP\r\n"),
        cl("EHLO c.example\r\n"),
        sv("250-mx\r\n250 CHUNKING\r\n"),
        // BDAT before MAIL: refused, its chunk belongs to no message.
        cl("BDAT 11\r\n"),
        cl("junk chunk!"),
        sv("503 5.5.1 MAIL first\r\n"),
        cl("MAIL FROM:<a@example.com>\r\n"),
        sv("250 ok\r\n"),
        cl("RCPT TO:<b@example.org>\r\n"),
        sv("250 ok\r\n"),
        cl(&format!("BDAT {}\r\n", decoy.len())),
        cl(&decoy),
        sv("552 5.3.4 chunk refused\r\n"),
        cl(&format!("BDAT {}\r\n", head.len())),
        cl(&head),
        sv("250 ok\r\n"),
        cl(&format!("BDAT {} LAST\r\n", tail.len())),
        cl(&tail),
        sv("250 queued\r\n"),
        cl("QUIT\r\n"),
        sv("221 bye\r\n"),
    ];
    let run = run(&steps);
    assert_attachment(&run, "payload.exe", EXE);
    let e = email(&run);
    assert_eq!(e["size"], (head.len() + tail.len()) as u64);
    assert_eq!(e["truncated"], false);
    assert_eq!(run.anomaly("smtp.refused_command"), 1);
    assert_eq!(run.anomaly("smtp.bdat_without_mail"), 1);
}
