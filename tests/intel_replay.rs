//! Threat-intel feeds through the binary: a generated capture with a hit of every indicator
//! type (addresses, networks, domains and their subdomains, URLs written differently, file
//! and attachment hashes, email addresses, user names, user agents) and decoys that must not
//! match (`notevil.example`, a listed bare public suffix).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use base64::{engine::general_purpose::STANDARD, Engine};
use common::run_sensor;
use md5::{Digest, Md5};
use sha2::Sha256;
use testkit::hex::encode as hex;
use testkit::packets::{krb_as_req, tlv, Cap, CLIENT, SERVER};

const DNS_SERVER: [u8; 4] = [10, 1, 1, 53];
const BAD_NET_HOST: [u8; 4] = [198, 51, 100, 77];
const KDC: [u8; 4] = [10, 1, 1, 88];
const DC: [u8; 4] = [10, 1, 1, 89];

const DOWNLOAD: &[u8] = b"MZ\x90\x00 this is the payload the feed knows by its SHA-256";
const ATTACHMENT: &[u8] = b"%PDF-1.4 attachment bytes the feed knows by MD5";

fn name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// A DNS response for `q` (type A) with the given answers (owner, type, rdata).
fn dns_response(id: u16, q: &str, answers: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, answers.len() as u8, 0, 0, 0, 0]);
    m.extend(name(q));
    m.extend_from_slice(&[0, 1, 0, 1]);
    for (owner, ty, rdata) in answers {
        m.extend(name(owner));
        m.extend_from_slice(&ty.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

fn dns_query(id: u16, q: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend(name(q));
    m.extend_from_slice(&[0, 1, 0, 1]);
    m
}

fn dns(c: &mut Cap, sport: u16, id: u16, q: &str, answers: &[(&str, u16, Vec<u8>)]) {
    c.udp(CLIENT, DNS_SERVER, sport, 53, &dns_query(id, q));
    c.udp(DNS_SERVER, CLIENT, 53, sport, &dns_response(id, q, answers));
}

fn cl(s: &str) -> (bool, Vec<u8>) {
    (true, s.as_bytes().to_vec())
}

fn sv(s: &str) -> (bool, Vec<u8>) {
    (false, s.as_bytes().to_vec())
}

fn ldap_bind(dn: &str) -> (Vec<u8>, Vec<u8>) {
    let msg = |id: u8, op: Vec<u8>| tlv(0x30, &[tlv(0x02, &[id]), op].concat());
    let bind = [
        tlv(0x02, &[3]),
        tlv(0x04, dn.as_bytes()),
        tlv(0x80, b"secret"),
    ]
    .concat();
    let ok = [tlv(0x0a, &[0]), tlv(0x04, b""), tlv(0x04, b"")].concat();
    (msg(1, tlv(0x60, &bind)), msg(1, tlv(0x61, &ok)))
}

fn capture() -> Vec<u8> {
    let mut c = Cap::new();
    let a = |ip: [u8; 4]| ip.to_vec();
    // A subdomain of a listed domain, resolving into a listed network.
    dns(
        &mut c,
        40001,
        1,
        "a.b.evil.example",
        &[("a.b.evil.example", 1, a([203, 0, 113, 7]))],
    );
    // A CNAME into a listed domain.
    dns(
        &mut c,
        40002,
        2,
        "www.shop.test",
        &[
            ("www.shop.test", 5, name("edge.evil-cdn.example")),
            ("edge.evil-cdn.example", 1, a([192, 0, 2, 200])),
        ],
    );
    // The host the download comes from resolves into the listed network.
    dns(
        &mut c,
        40003,
        3,
        "evil-web.example",
        &[("evil-web.example", 1, a([203, 0, 113, 9]))],
    );
    // Decoys: same last letters, a listed public suffix, the listed name as a prefix.
    dns(
        &mut c,
        40004,
        4,
        "notevil.example",
        &[("notevil.example", 1, a([192, 0, 2, 1]))],
    );
    dns(
        &mut c,
        40005,
        5,
        "x.co.uk",
        &[("x.co.uk", 1, a([192, 0, 2, 2]))],
    );
    dns(
        &mut c,
        40006,
        6,
        "evil.example.attacker.test",
        &[("evil.example.attacker.test", 1, a([192, 0, 2, 3]))],
    );
    // HTTP: the listed URL written with another case, the default port and an escaped
    // unreserved character; a listed user agent; a listed download.
    let req = "GET /Path/%66ile.exe HTTP/1.1\r\nHost: EVIL-WEB.Example:80\r\nUser-Agent: BadBot/6.6\r\n\r\n";
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        DOWNLOAD.len()
    )
    .into_bytes();
    resp.extend_from_slice(DOWNLOAD);
    c.conversation(CLIENT, 50001, SERVER, 80, req.as_bytes(), &resp);
    // A decoy request: other path, other agent, nothing listed.
    let req = "GET /Path/file.exe.txt HTTP/1.1\r\nHost: notevil.example\r\nUser-Agent: BadBot/6.7\r\n\r\n";
    c.conversation(
        CLIENT,
        50002,
        SERVER,
        80,
        req.as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    // A connection into a listed network.
    c.conversation(CLIENT, 50003, BAD_NET_HOST, 8443, b"hello", b"world");
    // Mail from a listed sender with a listed attachment.
    let msg = format!(
        "From: Spammer <Spammer@Bad-Mail.example>\r\nTo: victim@corp.test\r\nSubject: invoice\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
         --XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n.\r\n",
        STANDARD.encode(ATTACHMENT)
    );
    c.session(
        CLIENT,
        SERVER,
        (50004, 25),
        &[
            sv("220 mx ESMTP\r\n"),
            cl("EHLO client\r\n"),
            sv("250 mx\r\n"),
            cl("MAIL FROM:<spammer@bad-mail.example>\r\n"),
            sv("250 ok\r\n"),
            cl("RCPT TO:<victim@corp.test>\r\n"),
            sv("250 ok\r\n"),
            cl("DATA\r\n"),
            sv("354 go\r\n"),
            cl(&msg),
            sv("250 queued\r\n"),
            cl("QUIT\r\n"),
            sv("221 bye\r\n"),
        ],
    );
    // Kerberos and LDAP with listed account names.
    c.udp(
        CLIENT,
        KDC,
        40010,
        88,
        &krb_as_req("mallory-krb", "CORP.EXAMPLE", &[18, 23]),
    );
    let (bind, ok) = ldap_bind("cn=Mallory-LDAP,dc=corp,dc=test");
    c.session(CLIENT, DC, (50005, 389), &[(true, bind), (false, ok)]);
    c.bytes
}

fn feeds(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let sha = hex(&Sha256::digest(DOWNLOAD));
    let md5 = hex(&Md5::digest(ATTACHMENT));
    let zeek = dir.join("feed.intel");
    let rows = [
        (
            "evil.example",
            "Intel::DOMAIN",
            "zeek-src",
            "a listed domain",
        ),
        ("evil-cdn.example", "Intel::DOMAIN", "zeek-src", "cdn"),
        ("203.0.113.0/24", "Intel::SUBNET", "zeek-src", "bad net"),
        ("198.51.100.0/24", "Intel::SUBNET", "zeek-src", "-"),
        (
            "evil-web.example/Path/file.exe",
            "Intel::URL",
            "zeek-src",
            "payload url",
        ),
        (sha.as_str(), "Intel::FILE_HASH", "zeek-src", "payload"),
        (md5.as_str(), "Intel::FILE_HASH", "zeek-src", "attachment"),
        ("spammer@bad-mail.example", "Intel::EMAIL", "zeek-src", "-"),
        ("mallory-krb", "Intel::USER_NAME", "zeek-src", "-"),
        ("mallory-ldap", "Intel::USER_NAME", "zeek-src", "-"),
        ("BadBot/6.6", "Intel::SOFTWARE", "zeek-src", "-"),
        ("co.uk", "Intel::DOMAIN", "zeek-src", "a bare public suffix"),
        ("not an address", "Intel::ADDR", "zeek-src", "malformed"),
    ];
    let mut text = String::from("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n");
    for (i, t, s, d) in rows {
        text.push_str(&format!("{i}\t{t}\t{s}\t{d}\n"));
    }
    text.push_str("too\tfew\n");
    std::fs::write(&zeek, text).unwrap();
    // A second feed, a plain list whose types are guessed.
    let list = dir.join("extra.txt");
    std::fs::write(
        &list,
        "# plain list\n10.1.1.53 # the resolver, listed on purpose\n",
    )
    .unwrap();
    (zeek, list)
}

fn hits(r: &serde_json::Value) -> Vec<(String, String, String)> {
    r["intel"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    (
                        h["where"].as_str().unwrap_or_default().to_string(),
                        h["type"].as_str().unwrap_or_default().to_string(),
                        h["indicator"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_indicator_type_matches_and_decoys_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let (zeek, list) = feeds(dir.path());
    let cap = capture();
    let run = run_sensor(
        &cap,
        &[
            // One worker: `http.target_ips` needs the DNS answer handled first.
            "-w",
            "1",
            "--intel",
            zeek.to_str().unwrap(),
            "--intel",
            list.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let all: Vec<(String, (String, String, String), &serde_json::Value)> = run
        .records
        .iter()
        .flat_map(|r| {
            hits(r).into_iter().map(move |h| {
                (
                    r["event_type"].as_str().unwrap_or_default().to_string(),
                    h,
                    r,
                )
            })
        })
        .collect();
    let has = |et: &str, field: &str, ty: &str, ind: &str| {
        all.iter()
            .any(|(e, (w, t, i), _)| e == et && w == field && t == ty && i == ind)
    };
    let expect = [
        ("dns", "dns.query", "domain", "evil.example"),
        ("dns", "dns.answers.name", "domain", "evil.example"),
        ("dns", "dns.answers.data", "subnet", "203.0.113.0/24"),
        ("dns", "dns.answers.data", "domain", "evil-cdn.example"),
        ("http", "http.url", "url", "evil-web.example/Path/file.exe"),
        ("http", "http.user_agent", "software", "BadBot/6.6"),
        ("http", "http.target_ips", "subnet", "203.0.113.0/24"),
        (
            "file",
            "file.sha256",
            "file_hash",
            &hex(&Sha256::digest(DOWNLOAD)),
        ),
        (
            "email",
            "email.mail_from",
            "email",
            "spammer@bad-mail.example",
        ),
        ("email", "email.from", "email", "spammer@bad-mail.example"),
        (
            "email",
            "email.attachments.md5",
            "file_hash",
            &hex(&Md5::digest(ATTACHMENT)),
        ),
        (
            "file",
            "file.md5",
            "file_hash",
            &hex(&Md5::digest(ATTACHMENT)),
        ),
        ("flow", "dest_ip", "subnet", "198.51.100.0/24"),
        ("kerberos", "kerberos.cname", "user_name", "mallory-krb"),
        ("ldap", "ldap.bind_name", "user_name", "mallory-ldap"),
        ("dns", "dest_ip", "addr", "10.1.1.53"),
    ];
    let missing: Vec<_> = expect
        .iter()
        .filter(|(e, w, t, i)| !has(e, w, t, i))
        .collect();
    assert!(missing.is_empty(), "missing hits {missing:?}; got {all:#?}");
    // Each hit names its feed, line and description.
    let (_, _, r) = all
        .iter()
        .find(|(_, (w, _, _), _)| w == "dns.query")
        .unwrap();
    let h = r["intel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["where"] == "dns.query")
        .unwrap();
    assert_eq!(h["feed"], "feed.intel");
    assert_eq!(h["line"], 2);
    assert_eq!(h["desc"], "a listed domain");
    assert_eq!(h["source"], "zeek-src");
    assert_eq!(h["value"], "a.b.evil.example");
    assert_eq!(h["feed_version"].as_str().unwrap().len(), 16);
    // The decoys: no name hit for any of them (the resolver address hit is expected).
    for r in run.of("dns") {
        let q = r["dns"]["query"].as_str().unwrap_or_default();
        if ["notevil.example", "x.co.uk", "evil.example.attacker.test"].contains(&q) {
            let names: Vec<_> = hits(r)
                .into_iter()
                .filter(|(w, _, _)| w != "dest_ip")
                .collect();
            assert!(names.is_empty(), "{q} matched {names:?}");
        }
    }
    for r in run.of("http") {
        if r["http"]["host"] == "notevil.example" {
            assert!(hits(r).is_empty(), "{r}");
        }
    }
    // The status record describes the feeds and the skipped lines.
    let intel = &run.stop()["intel"];
    assert_eq!(intel["feeds"].as_array().unwrap().len(), 2, "{intel}");
    let f = &intel["feeds"][0];
    assert_eq!(f["format"], "zeek");
    assert_eq!(f["indicators"], 11);
    assert_eq!(f["bad_lines"], 3, "{f}");
    let whys: Vec<&str> = f["bad_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["why"].as_str().unwrap())
        .collect();
    assert!(whys.iter().any(|w| w.contains("public suffix")), "{whys:?}");
    assert_eq!(intel["feeds"][1]["format"], "list");
    assert!(intel["hits"].as_u64().unwrap() >= expect.len() as u64);
}

#[test]
fn without_feeds_records_carry_no_intel() {
    let run = run_sensor(&capture(), &[]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.records.len() > 10);
    for r in &run.records {
        assert!(r.get("intel").is_none(), "{r}");
        if r["event_type"] == "sensor_status" {
            assert!(r["sensor_status"].get("intel").is_none(), "{r}");
        }
    }
}

#[test]
fn an_unreadable_feed_stops_the_start_with_its_path() {
    let run = run_sensor(&capture(), &["--intel", "no/such/feed.intel"]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("no/such/feed.intel"), "{}", run.stderr);
}
