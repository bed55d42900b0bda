#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays the POP3 and IMAP captures of ../shared/pcaps/public and checks that every message
//! the oracle lists (POP3 RETR/TOP responses, IMAP FETCH BODY[]/RFC822 literals; copied to
//! tests/expected/email/{pop3,imap}_<capture>.json) comes out as one `email` record, with the
//! oracle's subject once the MIME stage reports one, and that STARTTLS sessions yield `tls`.

mod common;

use common::{parse, replay_files};
use serde_json::Value;
use tapir::config::Config;

fn expected() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expected/email");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("tests/expected/email")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("pop3_") || n.starts_with("imap_")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).expect("json"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn every_pop3_and_imap_message_is_reported() {
    let root = common::corpus();
    let cases = expected();
    assert_eq!(cases.len(), 5, "expected files");
    for (name, exp) in cases {
        let capture = exp["capture"].as_str().unwrap();
        let proto = capture.split('/').next().unwrap();
        let path = root.join(capture);
        if !path.is_file() {
            eprintln!("skipped: {capture} is not present");
            continue;
        }
        let (_, lines) = replay_files(&[path], &Config::default(), 1);
        let records = parse(&lines);
        let emails: Vec<&Value> = records
            .iter()
            .filter(|r| r["event_type"] == "email" && r["email"]["protocol"] == proto)
            .collect();
        let sessions = exp["sessions"].as_array().unwrap();
        let mut subjects: Vec<Option<&str>> = sessions
            .iter()
            .flat_map(|s| s["messages"].as_array().unwrap())
            .map(|m| m["subject"].as_str())
            .collect();
        eprintln!(
            "{name}: {} email records, oracle {} messages",
            emails.len(),
            subjects.len()
        );
        assert_eq!(emails.len(), subjects.len(), "{name}: messages");
        for e in &emails {
            let Some(subject) = e["email"].get("subject") else {
                continue;
            };
            let subject = subject.as_str();
            let at = subjects.iter().position(|s| *s == subject);
            assert!(
                at.is_some(),
                "{name}: subject {subject:?} not in the oracle"
            );
            subjects.remove(at.unwrap_or_default());
        }
        if sessions.iter().any(|s| s["tls_started"] == true) {
            assert!(
                records.iter().any(|r| r["event_type"] == "tls"),
                "{name}: STARTTLS yields a tls record"
            );
        }
    }
}
