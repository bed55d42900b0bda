//! The default rules (`rules/`, `docs/rules.md`) on the attack captures of `testkit::attacks`:
//! each firing capture makes exactly the expected detections (rule, category, indicator, host),
//! each near miss none, and the mixed capture (background of 30 hosts, every attack from its own
//! host, every near miss from another) finds every attack on the right host and nothing else.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{run_sensor, SensorRun};
use serde_json::Value;
use testkit::attacks::{self, ATTACKS};

const SEED: u64 = 1;

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// Replays a capture with the default rules (compiled into the binary from `rules/`),
/// statistics on, one worker and the attacks' feed.
fn replay(capture: &[u8]) -> SensorRun {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("attacks.intel");
    std::fs::write(&feed, attacks::intel_feed()).unwrap();
    let run = run_sensor(
        capture,
        &[
            "-w",
            "1",
            "--set",
            "stats.enabled=true",
            "--intel",
            feed.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    run
}

/// One detection as the tests compare it: (rule id, category, host, indicator value).
type Det = (String, String, String, String);

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn detections(run: &SensorRun) -> Vec<Det> {
    let mut v: Vec<Det> = run
        .of("detection")
        .iter()
        .map(|r| {
            let d = &r["detection"];
            (
                s(&d["rule"]["id"]),
                s(&d["category"]),
                s(&r["src_ip"]),
                s(&d["indicator"]["value"]),
            )
        })
        .collect();
    v.sort();
    v
}

/// The detections each attack must make, on its host: (rule id, category, indicator value).
fn expected(name: &str) -> Vec<(&'static str, &'static str, String)> {
    let e = |r: &'static str, c: &'static str, i: &str| (r, c, i.to_string());
    let mut v = match name {
        "kerberoast" => vec![e("tapir-kerberoast", "kerberoasting", "jsmith")],
        "asrep-roast" => vec![e("tapir-asrep-roast", "asrep_roasting", "svc-legacy")],
        "password-spray" => vec![e("tapir-password-spray", "password_spraying", "10.1.20.13")],
        "ldap-recon" => vec![
            e(
                "tapir-ldap-kerberos-targets",
                "ldap_recon",
                "(&(samAccountType=805306368)(servicePrincipalName=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
            ),
            e(
                "tapir-ldap-admin-enum",
                "ldap_recon",
                "(&(objectCategory=person)(objectClass=user)(adminCount=1))",
            ),
            e("tapir-ldap-directory-dump", "ldap_recon", attacks::BASE_DN),
        ],
        "dns-tunnel" => vec![
            e("tapir-dns-tunnel-long-labels", "dns_tunnel", "data-sync-cloud.net"),
            e("tapir-dns-tunnel-many-subdomains", "dns_tunnel", "data-sync-cloud.net"),
            e("tapir-dns-tunnel-txt-volume", "dns_tunnel", "data-sync-cloud.net"),
        ],
        "dga" => vec![e("tapir-dga-nxdomain-burst", "dga", "10.1.20.16")],
        "exe-download" => vec![e(
            "tapir-exe-download-new-domain",
            "executable_download",
            "http://cdn.update-checker.example/assets/update.png",
        )],
        "email-attachment" => vec![
            e("tapir-email-executable-attachment", "executable_attachment", "invoice.pdf.exe"),
            e("tapir-email-double-extension", "executable_attachment", "scan_0311.pdf.js"),
            e("tapir-email-macro-document", "executable_attachment", "salary-review.docm"),
        ],
        "user-agent" => attacks::BAD_AGENTS
            .iter()
            .map(|ua| {
                let rule = if ua.starts_with("curl/") {
                    "tapir-download-tool-user-agent"
                } else {
                    "tapir-suspicious-user-agent"
                };
                e(rule, "suspicious_user_agent", ua)
            })
            .collect(),
        "post-to-ip" => vec![e("tapir-http-post-bare-ip", "suspicious_http", "185.244.25.99")],
        "intel" => vec![
            e("tapir-intel-addr", "intel", "185.244.25.17"),
            e("tapir-intel-domain", "intel", "evil-c2.example"),
            e(
                "tapir-intel-url",
                "intel",
                "http://downloads.badsite.example/payload/stage2.bin",
            ),
            e(
                "tapir-intel-file-hash",
                "intel",
                &tapir::util::hex::md5_hex(&attacks::intel_payload()),
            ),
            e("tapir-intel-email", "intel", "billing@phish-mail.example"),
            e("tapir-intel-user-name", "intel", "svc-backdoor"),
            e("tapir-intel-software", "intel", "EvilAgent/1.0"),
        ],
        other => panic!("no expectation for {other}"),
    };
    v.sort();
    v
}

fn want(name: &str, host: [u8; 4]) -> Vec<Det> {
    let mut v: Vec<Det> = expected(name)
        .into_iter()
        .map(|(r, c, i)| (r.to_string(), c.to_string(), ip(host), i))
        .collect();
    v.sort();
    v
}

/// Replays the attack's capture and its near miss: exactly the expected detections, then none.
fn check(name: &str) {
    let a = attacks::find(name).unwrap();
    let run = replay(&attacks::capture(a.name, false, SEED).unwrap());
    assert_eq!(detections(&run), want(a.name, a.host), "{name} fires");
    let run = replay(&attacks::capture(a.name, true, SEED).unwrap());
    assert_eq!(detections(&run), Vec::<Det>::new(), "{name} quiet");
}

#[test]
fn every_default_rule_loads_and_has_a_capture() {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"));
    let set = tapir::detect::load(&[dir]).unwrap();
    assert!(set.report.rejected.is_empty(), "{:?}", set.report.rejected);
    let ids: BTreeSet<String> = set.rules.iter().map(|r| r.meta.id.clone()).collect();
    assert_eq!(ids.len(), set.rules.len(), "ids are unique");
    let covered: BTreeSet<String> = ATTACKS
        .iter()
        .flat_map(|a| expected(a.name))
        .map(|(r, _, _)| r.to_string())
        .collect();
    assert_eq!(
        ids, covered,
        "every shipped rule has an attack capture, and only those"
    );
    // The binary runs the same rules, compiled in.
    let run = replay(&attacks::capture("dga", true, SEED).unwrap());
    let d = &run.stop()["detect"];
    assert_eq!(d["rejected"], 0, "{d}");
    assert_eq!(d["rules_native"], ids.len(), "{d}");
}

#[test]
fn kerberoast() {
    check("kerberoast");
}

#[test]
fn asrep_roast() {
    check("asrep-roast");
}

#[test]
fn password_spray() {
    check("password-spray");
}

#[test]
fn ldap_recon() {
    check("ldap-recon");
}

#[test]
fn dns_tunnel() {
    check("dns-tunnel");
}

#[test]
fn dga() {
    check("dga");
}

/// The rule reads `stats.domain.*` of `file` records.
#[test]
fn exe_download() {
    check("exe-download");
}

#[test]
fn email_attachment() {
    check("email-attachment");
}

#[test]
fn user_agent() {
    check("user-agent");
}

#[test]
fn post_to_ip() {
    check("post-to-ip");
}

#[test]
fn intel() {
    check("intel");
}

#[test]
fn mixed_capture_finds_every_attack_on_its_host_and_nothing_else() {
    let run = replay(&attacks::mixed(SEED));
    let got = detections(&run);
    let mut w: Vec<Det> = ATTACKS.iter().flat_map(|a| want(a.name, a.host)).collect();
    w.sort();
    let extra: BTreeSet<_> = got.iter().filter(|d| !w.contains(d)).collect();
    let missing: BTreeSet<_> = w.iter().filter(|d| !got.contains(d)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "extra {extra:#?}\nmissing {missing:#?}"
    );
    assert_eq!(got, w);
    // Thresholds counted what they should, and the detection names the records it rests on.
    let kerb = run
        .of("detection")
        .into_iter()
        .find(|r| r["detection"]["rule"]["id"] == "tapir-kerberoast")
        .unwrap();
    assert_eq!(kerb["detection"]["count"], 4, "{kerb}");
    assert_eq!(kerb["detection"]["related"].as_array().unwrap().len(), 4);
    assert_eq!(kerb["detection"]["threat_level"], "high");
    assert_eq!(kerb["detection"]["mitre"][0], "T1558.003");
}
