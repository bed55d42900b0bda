//! Passive learning from Kerberos: accounts per client host, KDCs and their realms, host names
//! from computer accounts.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::replay_files;
use tapir::config::Config;

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn kerberos_teaches_accounts_kdcs_and_host_names() {
    let root = common::corpus();
    let files = [
        root.join("krb/ndpi_kerberos.pcap"),
        root.join("krb/zeek_krb-kinit.pcap"),
    ];
    let (summary, _) = replay_files(&files, &Config::default(), 2);
    let l = &summary.workers.learned;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let accounts = l
        .accounts_by_host
        .get(&ip("172.16.8.201"))
        .expect("client learnt");
    assert!(
        accounts.contains("theresa.johnson@HAPPYCRAFT"),
        "{accounts:?}"
    );
    let kdc = l.kdcs.get(&ip("172.16.8.8")).expect("KDC learnt");
    assert!(kdc.realms.contains("HAPPYCRAFT.ORG"));
    assert!(l.names_by_ip[&ip("172.16.8.201")].contains("johnson-pc.happycraft.org"));
    // An MIT kinit test host with many principals.
    let vlad = &l.accounts_by_host[&ip("192.168.1.31")];
    assert!(
        vlad.contains("valid_client_principal@VLADG.NET"),
        "{vlad:?}"
    );
    assert!(l.kdcs[&ip("192.168.1.32")].requests > 10);
    assert_eq!(l.dropped, 0);
}

/// `http.target_ips`: the addresses DNS answers gave for the request's host.
#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn http_records_carry_the_ips_dns_resolved_for_their_host() {
    let root = common::corpus();
    let (_, lines) = replay_files(
        &[root.join("http/zeek_wikipedia.pcap")],
        &Config::default(),
        1,
    );
    let http: Vec<serde_json::Value> = common::parse(&lines)
        .into_iter()
        .filter(|r| r["event_type"] == "http")
        .collect();
    let upload: Vec<&serde_json::Value> = http
        .iter()
        .filter(|r| r["http"]["host"] == "upload.wikimedia.org")
        .collect();
    assert!(!upload.is_empty());
    for r in upload {
        assert_eq!(
            r["http"]["target_ips"],
            serde_json::json!(["208.80.152.3"]),
            "{r}"
        );
        assert_eq!(r["dest_ip"], "208.80.152.3");
    }
}
