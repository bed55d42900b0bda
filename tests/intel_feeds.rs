//! Feed parsing, one test per format (malformed lines counted, the rest kept), lookups on
//! records built here, and the reloader (a changed feed is swapped in; a broken one keeps the
//! previous set and says why).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::Path;

use tapir::enrich::intel::{hits, IntelConfig, IntelHandle};
use tapir::proto::dns::{DnsAnswer, DnsBody};
use tapir::proto::tls::{TlsBody, TlsCert};
use tapir::record::{Body, FlowRef, Record};

fn cfg(paths: &[&Path]) -> IntelConfig {
    IntelConfig {
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        check_interval: 0,
        ..IntelConfig::default()
    }
}

fn load(name: &str, text: &str) -> (tempfile::TempDir, IntelHandle) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    let h = IntelHandle::load(&cfg(&[&p])).unwrap();
    (dir, h)
}

fn rec(body: Body, dest: &str) -> Record {
    Record {
        ts_ns: 1,
        flow: Some(FlowRef {
            flow_id: 1,
            community_id: String::new(),
            src_ip: "10.0.0.1".parse().unwrap(),
            src_port: 1000,
            dest_ip: dest.parse::<IpAddr>().unwrap(),
            dest_port: 53,
            proto: 17,
            vlan: Vec::new(),
        }),
        body,
        intel: Vec::new(),
        parent: None,
    }
}

fn dns(q: &str) -> Body {
    Body::Dns(DnsBody {
        query: Some(q.into()),
        ..DnsBody::default()
    })
}

/// (where, type, indicator, line) of the hits on `r` after a lookup.
fn lookup(h: &IntelHandle, mut r: Record) -> Vec<(String, String, String, u32)> {
    h.current().annotate(&mut r);
    hits(&r)
        .map(|x| {
            (
                x.field.to_string(),
                x.kind.to_string(),
                x.indicator.clone(),
                x.line,
            )
        })
        .collect()
}

fn feed0(h: &IntelHandle) -> (String, u64, u64) {
    let s = h.status();
    let f = &s.feeds[0];
    (f.format.to_string(), f.indicators, f.bad_lines)
}

#[test]
fn zeek_tsv() {
    let (_d, h) = load(
        "f.intel",
        "#separator \\x09\n#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n\
         evil.example\tIntel::DOMAIN\tsrc\tdesc\n\
         2001:db8:bad::/48\tIntel::SUBNET\tsrc\t-\n\
         x\tIntel::NOPE\tsrc\t-\n\
         onlyone\n",
    );
    assert_eq!(feed0(&h), ("zeek".into(), 2, 2));
    assert_eq!(
        lookup(&h, rec(dns("www.Evil.Example."), "2001:db8:bad:1::53")),
        vec![
            (
                "dest_ip".into(),
                "subnet".into(),
                "2001:db8:bad::/48".into(),
                4
            ),
            (
                "dns.query".into(),
                "domain".into(),
                "evil.example".into(),
                3
            ),
        ]
    );
}

#[test]
fn zeek_tsv_bytes_not_utf8_are_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.intel");
    let mut b = b"#fields\tindicator\tindicator_type\n".to_vec();
    b.extend_from_slice(b"\xff\xfe.example\tIntel::DOMAIN\n");
    b.extend_from_slice(b"ok.example\tIntel::DOMAIN\n");
    std::fs::write(&p, b).unwrap();
    let h = IntelHandle::load(&cfg(&[&p])).unwrap();
    assert_eq!(feed0(&h), ("zeek".into(), 1, 1));
    let s = h.status();
    assert_eq!(s.feeds[0].bad_samples[0].line, 2);
    assert_eq!(s.feeds[0].bad_samples[0].why, "not UTF-8");
}

#[test]
fn plain_list_guessed_and_hinted() {
    let (_d, h) = load(
        "list.txt",
        "# comment\n192.0.2.1\n192.0.2.128/25 # a network\nevil.example\nhttp://evil.example/x\n\
         a@evil.example\n0123456789abcdef0123456789abcdef\nnot_a_thing\nco.uk\ntwo fields\n",
    );
    assert_eq!(feed0(&h), ("list".into(), 6, 3));
    let hits = lookup(&h, rec(dns("sub.evil.example"), "192.0.2.200"));
    assert_eq!(hits[0].2, "192.0.2.128/25");
    assert_eq!(hits[1].2, "evil.example");
    // A type hint makes every line that type.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("users.txt");
    std::fs::write(&p, "alice\nbob\n").unwrap();
    let mut c = cfg(&[&p]);
    c.types.insert("users.txt".into(), "user_name".into());
    let h = IntelHandle::load(&c).unwrap();
    assert_eq!(feed0(&h), ("list".into(), 2, 0));
}

#[test]
fn csv_with_header() {
    let (_d, h) = load(
        "f.csv",
        "indicator,type,source,description\n\
         evil.example,domain,csv-src,\"a, quoted \"\"desc\"\"\"\n\
         198.51.100.0/24,,csv-src,guessed type\n\
         \"unterminated,domain,x,y\n\
         x,weird-type,s,d\n\
         ,domain,s,d\n",
    );
    assert_eq!(feed0(&h), ("csv".into(), 2, 3));
    let mut r = rec(dns("evil.example"), "198.51.100.1");
    h.current().annotate(&mut r);
    let d: Vec<_> = hits(&r).map(|x| x.desc.clone()).collect();
    assert_eq!(
        d,
        vec![
            Some("guessed type".to_string()),
            Some("a, quoted \"desc\"".to_string())
        ]
    );
    // A header without an indicator column makes the feed unreadable.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    std::fs::write(&p, "a,b\n1,2\n").unwrap();
    let e = IntelHandle::load(&cfg(&[&p])).unwrap_err().to_string();
    assert!(e.contains("bad.csv"), "{e}");
}

#[test]
fn misp_attribute_export() {
    let (_d, h) = load(
        "misp.json",
        r#"{"response": {"Attribute": [
            {"type": "ip-dst", "value": "203.0.113.5", "category": "Network activity", "comment": "c2"},
            {"type": "domain|ip", "value": "evil.example|203.0.113.6"},
            {"type": "filename|sha256", "value": "x.exe|9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
            {"type": "url", "value": "https://evil.example:443/a"},
            {"type": "comment", "value": "not an indicator"},
            {"type": "md5", "value": "nothex"},
            {"type": "ip-src"}
        ]}}"#,
    );
    assert_eq!(feed0(&h), ("misp".into(), 5, 3));
    let mut r = rec(dns("evil.example"), "203.0.113.5");
    h.current().annotate(&mut r);
    let v: Vec<_> = hits(&r)
        .map(|x| (x.indicator.clone(), x.line, x.source.clone()))
        .collect();
    assert_eq!(
        v,
        vec![
            (
                "203.0.113.5".to_string(),
                1,
                Some("Network activity".to_string())
            ),
            ("evil.example".to_string(), 2, None)
        ]
    );
}

#[test]
fn stix_bundle() {
    let (_d, h) = load(
        "bundle.json",
        r#"{"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "identity", "id": "identity--1", "name": "x"},
            {"type": "indicator", "pattern_type": "stix", "name": "bad ip",
             "pattern": "[ipv4-addr:value = '203.0.113.0/24' OR ipv6-addr:value = '2001:db8::66']"},
            {"type": "indicator", "pattern_type": "stix", "description": "bad name",
             "pattern": "[domain-name:value = 'evil.example']"},
            {"type": "indicator", "pattern_type": "stix",
             "pattern": "[file:hashes.'SHA-256' = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'] OR [file:hashes.MD5 = '098f6bcd4621d373cade4e832627b4f6']"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[url:value = 'http://Evil.example/x'] OR [email-addr:value = 'bad@evil.example']"},
            {"type": "indicator", "pattern_type": "sigma", "pattern": "title: x"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'x.example']"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[process:name = 'evil.exe']"}
        ]}"#,
    );
    assert_eq!(feed0(&h), ("stix".into(), 7, 3));
    let hits = lookup(&h, rec(dns("a.evil.example"), "203.0.113.9"));
    assert_eq!(
        hits,
        vec![
            (
                "dest_ip".into(),
                "subnet".into(),
                "203.0.113.0/24".into(),
                2
            ),
            (
                "dns.query".into(),
                "domain".into(),
                "evil.example".into(),
                3
            ),
        ]
    );
}

#[test]
fn certificate_sha1_against_cert_hash() {
    let sha1 = "c178241d271047a8c3d24a3cfcb497ffd461261a";
    let feed = format!(
        "#fields\tindicator\tindicator_type\tmeta.source\n{}\tIntel::CERT_HASH\tcerts\n",
        sha1.to_ascii_uppercase()
    );
    let (_d, h) = load("certs.intel", &feed);
    let tls = |hash: &str| {
        Body::Tls(TlsBody {
            certificate: Some(TlsCert {
                sha1: Some(hash.into()),
                ..TlsCert::default()
            }),
            ..TlsBody::default()
        })
    };
    let v = lookup(&h, rec(tls(sha1), "10.9.9.9"));
    let fields: Vec<_> = v.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(fields, vec!["tls.certificate.sha1"]);
    let other = "0000000000000000000000000000000000000000";
    assert!(lookup(&h, rec(tls(other), "10.9.9.9")).is_empty());
}

#[test]
fn tls_names_and_dns_answers() {
    let (_d, h) = load("f.txt", "evil.example\ncdn.example.net\n192.0.2.66\n");
    let tls = Body::Tls(TlsBody {
        sni: Some("login.evil.example".into()),
        certificate: Some(TlsCert {
            subject: Some("CN=*.cdn.example.net, O=X".into()),
            ..TlsCert::default()
        }),
        ..TlsBody::default()
    });
    let v = lookup(&h, rec(tls, "10.9.9.9"));
    let fields: Vec<_> = v.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(fields, vec!["tls.sni", "tls.certificate.subject"]);
    let answers = Body::Dns(DnsBody {
        query: Some("ok.test".into()),
        answers: vec![
            DnsAnswer {
                name: "ok.test".into(),
                rtype: "A".into(),
                ttl: 1,
                data: "192.0.2.66".into(),
            },
            DnsAnswer {
                name: "ok.test".into(),
                rtype: "MX".into(),
                ttl: 1,
                data: "10 mx.evil.example".into(),
            },
        ],
        ..DnsBody::default()
    });
    let v = lookup(&h, rec(answers, "10.9.9.9"));
    let fields: Vec<_> = v.iter().map(|x| (x.0.as_str(), x.2.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            ("dns.answers.data", "192.0.2.66"),
            ("dns.answers.data", "evil.example")
        ]
    );
}

#[test]
fn reload_swaps_a_changed_feed_and_keeps_the_old_one_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("feed.txt");
    std::fs::write(&p, "one.example\n").unwrap();
    let h = IntelHandle::load(&cfg(&[&p])).unwrap();
    let one = || lookup(&h, rec(dns("one.example"), "10.9.9.9")).len();
    let two = || lookup(&h, rec(dns("two.example"), "10.9.9.9")).len();
    assert_eq!((one(), two()), (1, 0));
    assert!(!h.changed());
    std::fs::write(&p, "two.example\nthree.example\n").unwrap();
    assert!(h.changed());
    let before = h.current();
    h.reload().unwrap();
    assert_eq!((one(), two()), (0, 1));
    // A set taken before the reload (a worker mid-batch) still works.
    assert_eq!(before.len(), 1);
    let s = h.status();
    assert_eq!((s.indicators, s.reloads, s.failed_reloads), (2, 1, 0));
    // The feed disappears: the reload fails, the set stays, the status says why.
    std::fs::remove_file(&p).unwrap();
    assert!(h.changed());
    assert!(h.reload().is_err());
    assert_eq!(two(), 1);
    let s = h.status();
    assert_eq!(s.failed_reloads, 1);
    assert!(s.last_error.unwrap().contains("feed.txt"));
}

#[test]
fn reload_thread_picks_up_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("feed.txt");
    std::fs::write(&p, "one.example\n").unwrap();
    let mut c = cfg(&[&p]);
    c.check_interval = 1;
    let h = tapir::enrich::intel::start(&c).unwrap().unwrap();
    std::fs::write(&p, "two.example\nthree.example\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.current().len() != 2 {
        assert!(std::time::Instant::now() < deadline, "not reloaded");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(h.status().reloads, 1);
}
