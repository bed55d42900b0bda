//! The attack captures of `testkit::attacks` through the binary: the records the default rules
//! read (`rules/`, `docs/rules.md`) are there and right, in every capture that must fire a
//! rule, and the near misses differ from them exactly where the rules look. The mixed capture
//! carries every attack on its own host, unchanged by the background around it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{run_sensor, SensorRun};
use serde_json::Value;
use testkit::attacks::{self, Attack, ATTACKS};

const SEED: u64 = 1;

fn attack(name: &str) -> &'static Attack {
    attacks::find(name).unwrap()
}

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// Replays a capture with statistics on, one worker and the attacks' intel feed.
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

/// The records of `event_type` made for traffic of `host`.
fn of<'a>(run: &'a SensorRun, event_type: &str, host: [u8; 4]) -> Vec<&'a Value> {
    run.of(event_type)
        .into_iter()
        .filter(|r| r["src_ip"] == ip(host).as_str())
        .collect()
}

fn fire(name: &str) -> (SensorRun, [u8; 4]) {
    let a = attack(name);
    (
        replay(&attacks::capture(name, false, SEED).unwrap()),
        a.host,
    )
}

fn quiet(name: &str) -> (SensorRun, [u8; 4]) {
    let a = attack(name);
    (replay(&attacks::capture(name, true, SEED).unwrap()), a.host)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Packet time of a record, seconds.
fn secs(r: &Value) -> f64 {
    let t = s(&r["timestamp"]);
    let hms = &t[11..t.len() - 1];
    let mut p = hms.split(':');
    let h: f64 = p.next().unwrap().parse().unwrap();
    let m: f64 = p.next().unwrap().parse().unwrap();
    let sec: f64 = p.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + sec
}

#[test]
fn kerberoast_asks_for_rc4_tickets_of_many_spns_in_a_minute() {
    let (run, host) = fire("kerberoast");
    let k = of(&run, "kerberos", host);
    let tgs: Vec<_> = k
        .iter()
        .filter(|r| r["kerberos"]["msg_type"] == "TGS_REQ")
        .collect();
    assert_eq!(tgs.len(), 6, "{k:#?}");
    let mut snames = BTreeSet::new();
    for r in &tgs {
        let kb = &r["kerberos"];
        assert_eq!(kb["reply_msg_type"], "TGS_REP");
        assert_eq!(ints(&kb["etypes"]), vec![23]);
        assert_eq!(kb["etype_names"][0], "rc4-hmac");
        assert_eq!(kb["ticket_etype"], 23);
        assert_eq!(kb["cname"], "jsmith");
        assert_eq!(kb["padata_types"][0], 1);
        assert_eq!(kb["tgt_etype"], 18);
        assert!(!s(&kb["sname"]).starts_with("krbtgt"));
        snames.insert(s(&kb["sname"]).to_string());
    }
    assert_eq!(snames.len(), 6);
    assert!(snames.contains("MSSQLSvc/sql01.corp.example:1433"));
    let span = secs(tgs[tgs.len() - 1]) - secs(tgs[0]);
    assert!(span < 60.0, "{span}");

    let (run, host) = quiet("kerberoast");
    let k = of(&run, "kerberos", host);
    let tgs: Vec<_> = k
        .iter()
        .filter(|r| r["kerberos"]["msg_type"] == "TGS_REQ")
        .collect();
    assert_eq!(tgs.len(), 8);
    let rc4: BTreeSet<&str> = tgs
        .iter()
        .filter(|r| {
            r["kerberos"]["ticket_etype"] == 23 || ints(&r["kerberos"]["etypes"]) == vec![23]
        })
        .map(|r| s(&r["kerberos"]["sname"]))
        .collect();
    assert_eq!(rc4.len(), 2, "{rc4:?}");
    // The RC4 tickets were asked for with AES first, as Windows does.
    for r in &tgs {
        assert_eq!(ints(&r["kerberos"]["etypes"])[0], 18);
    }
}

#[test]
fn asrep_roast_is_as_rep_without_pre_authentication_in_rc4() {
    let (run, host) = fire("asrep-roast");
    let k = of(&run, "kerberos", host);
    assert_eq!(k.len(), 3);
    let mut names = BTreeSet::new();
    for r in &k {
        let kb = &r["kerberos"];
        assert_eq!(kb["msg_type"], "AS_REQ");
        assert_eq!(kb["reply_msg_type"], "AS_REP");
        assert_eq!(kb["success"], true);
        assert_eq!(ints(&kb["padata_types"]), vec![128], "PA-PAC-REQUEST only");
        assert_eq!(kb["enc_part_etype"], 23);
        assert_eq!(kb["sname"], "krbtgt/CORP.EXAMPLE");
        names.insert(s(&kb["cname"]).to_string());
    }
    assert_eq!(names.len(), 3);

    let (run, host) = quiet("asrep-roast");
    let k = of(&run, "kerberos", host);
    let reps: Vec<_> = k
        .iter()
        .filter(|r| r["kerberos"]["reply_msg_type"] == "AS_REP")
        .collect();
    assert_eq!(reps.len(), 6);
    for r in &reps {
        assert!(ints(&r["kerberos"]["padata_types"]).contains(&2), "{r}");
    }
    // the unauthenticated first tries are answered PREAUTH_REQUIRED
    let errs: Vec<_> = k
        .iter()
        .filter(|r| r["kerberos"]["error_code"] == 25)
        .collect();
    assert_eq!(errs.len(), 3);
    assert_eq!(
        errs[0]["kerberos"]["error_name"],
        "KDC_ERR_PREAUTH_REQUIRED"
    );
}

#[test]
fn password_spray_is_preauth_failed_for_many_accounts_from_one_host() {
    for (quiet, failed) in [(false, 8), (true, 2)] {
        let a = attack("password-spray");
        let run = replay(&attacks::capture(a.name, quiet, SEED).unwrap());
        let k = of(&run, "kerberos", a.host);
        let fails: Vec<_> = k
            .iter()
            .filter(|r| r["kerberos"]["error_code"] == 24)
            .collect();
        let names: BTreeSet<&str> = fails.iter().map(|r| s(&r["kerberos"]["cname"])).collect();
        assert_eq!(names.len(), failed, "{names:?}");
        for r in &fails {
            let kb = &r["kerberos"];
            assert_eq!(kb["msg_type"], "AS_REQ");
            assert_eq!(kb["reply_msg_type"], "KRB_ERROR");
            assert_eq!(kb["error_name"], "KDC_ERR_PREAUTH_FAILED");
            assert_eq!(kb["success"], false);
        }
        if !quiet {
            let span = secs(fails[fails.len() - 1]) - secs(fails[0]);
            assert!(span < 600.0, "{span}");
        }
    }
}

#[test]
fn ldap_recon_filters_scopes_and_bases() {
    let (run, host) = fire("ldap-recon");
    let l = of(&run, "ldap", host);
    let got: Vec<(&str, &str, &str)> = l
        .iter()
        .map(|r| {
            (
                s(&r["ldap"]["base_object"]),
                s(&r["ldap"]["scope"]),
                s(&r["ldap"]["filter"]),
            )
        })
        .collect();
    let root = attacks::BASE_DN;
    assert_eq!(
        got,
        vec![
            ("", "base", "(objectClass=*)"),
            (root, "sub", "(&(samAccountType=805306368)(servicePrincipalName=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"),
            (root, "sub", "(&(samAccountType=805306368)(userAccountControl:1.2.840.113556.1.4.803:=4194304))"),
            (root, "sub", "(&(objectCategory=person)(objectClass=user)(adminCount=1))"),
            (root, "sub", "(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=corp,DC=example)"),
            (root, "sub", "(objectClass=*)"),
        ]
    );
    for r in &l {
        assert_eq!(r["ldap"]["operation"], "search");
        assert_eq!(r["ldap"]["result"], "success");
    }
    assert_eq!(l[5]["ldap"]["entries"], 40);

    let (run, host) = quiet("ldap-recon");
    let l = of(&run, "ldap", host);
    assert_eq!(l.len(), 5);
    for r in &l {
        let f = s(&r["ldap"]["filter"]).to_lowercase();
        assert!(!f.contains("serviceprincipalname=*)"), "{f}");
        assert!(!f.contains("admincount") && !f.contains("memberof"), "{f}");
        assert!(!f.contains("1.2.840.113556.1.4.803:=4194304"), "{f}");
        if f == "(objectclass=*)" {
            assert_eq!(r["ldap"]["scope"], "base", "{r}");
        }
    }
}

/// Shannon entropy (bits per character) of `s`.
fn entropy(s: &str) -> f64 {
    let mut counts = BTreeMap::new();
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = s.chars().count() as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn max_label(q: &str) -> usize {
    q.split('.').map(str::len).max().unwrap_or(0)
}

#[test]
fn dns_tunnel_long_random_labels_under_one_domain_with_txt_answers() {
    let (run, host) = fire("dns-tunnel");
    let d = of(&run, "dns", host);
    assert_eq!(d.len(), 120);
    let mut names = BTreeSet::new();
    let mut types = BTreeMap::new();
    for r in &d {
        let q = s(&r["dns"]["query"]);
        assert!(q.ends_with(".t.data-sync-cloud.net"), "{q}");
        assert_eq!(max_label(q), 52);
        let first = q.split('.').next().unwrap();
        assert!(entropy(first) > 4.0, "{q}: {}", entropy(first));
        let left = q.trim_end_matches(".data-sync-cloud.net").replace('.', "");
        assert!(entropy(&left) > 4.2, "{q}: {}", entropy(&left));
        assert_eq!(r["dns"]["rcode"], "NOERROR");
        *types.entry(s(&r["dns"]["qtype"]).to_string()).or_insert(0) += 1;
        let ans = &r["dns"]["answers"][0];
        assert_eq!(ans["type"], r["dns"]["qtype"]);
        names.insert(q.to_string());
    }
    assert_eq!(names.len(), 120);
    assert_eq!(types["TXT"], 100);
    assert_eq!(types["NULL"], 20);
    let span = secs(d[d.len() - 1]) - secs(d[0]);
    assert!(span < 120.0, "{span}");

    let (run, host) = quiet("dns-tunnel");
    let d = of(&run, "dns", host);
    assert_eq!(d.len(), 51);
    for r in &d {
        let q = s(&r["dns"]["query"]);
        // long labels are hex hashes (at most 4 bits a character) or short
        let long = q.split('.').filter(|l| l.len() > 20);
        for l in long {
            assert!(l.bytes().all(|b| b.is_ascii_hexdigit()), "{q}");
            assert!(entropy(l) <= 4.0, "{q}");
        }
    }
    let txt = d.iter().filter(|r| r["dns"]["qtype"] == "TXT").count();
    assert_eq!(txt, 3);
    let cdn = d
        .iter()
        .filter(|r| s(&r["dns"]["query"]).ends_with(".static.example-cdn.net"))
        .count();
    assert_eq!(cdn, 40);
}

#[test]
fn dga_nxdomain_burst_of_random_registered_names() {
    let (run, host) = fire("dga");
    let d = of(&run, "dns", host);
    assert_eq!(d.len(), 30);
    let nx: Vec<&str> = d
        .iter()
        .filter(|r| r["dns"]["rcode"] == "NXDOMAIN")
        .map(|r| s(&r["dns"]["query"]))
        .collect();
    assert_eq!(nx.len(), 28);
    assert_eq!(nx.iter().collect::<BTreeSet<_>>().len(), 28);
    for q in &nx {
        let (label, tld) = q.split_once('.').unwrap();
        assert!(
            !tld.contains('.'),
            "{q}: the random label is the registered name"
        );
        assert!(label.len() >= 12, "{q}");
        assert_eq!(d[0]["dns"]["rcode_code"], 3);
    }
    let span = secs(d[d.len() - 1]) - secs(d[0]);
    assert!(span < 60.0, "{span}");

    let (run, host) = quiet("dga");
    let d = of(&run, "dns", host);
    let nx: Vec<&str> = d
        .iter()
        .filter(|r| r["dns"]["rcode"] == "NXDOMAIN")
        .map(|r| s(&r["dns"]["query"]))
        .collect();
    assert_eq!(nx.len(), 7);
    // three of them are one-label probes (no registered domain at all)
    assert_eq!(nx.iter().filter(|q| !q.contains('.')).count(), 3);
}

#[test]
fn exe_download_is_a_pe_by_content_named_png_from_a_new_domain() {
    let (run, host) = fire("exe-download");
    let f: Vec<_> = of(&run, "file", host)
        .into_iter()
        .filter(|r| r["file"]["name"] == "update.png")
        .collect();
    assert_eq!(f.len(), 1);
    let fb = &f[0]["file"];
    assert_eq!(fb["format"], "exe");
    assert_eq!(fb["source"], "http");
    assert_eq!(
        fb["url"],
        "http://cdn.update-checker.example/assets/update.png"
    );
    assert_eq!(fb["pe"]["machine"], "x86");
    assert_eq!(fb["pe"]["signed"], false);
    assert_eq!(fb["frequency"]["hosts"], 1);
    let h: Vec<_> = of(&run, "http", host)
        .into_iter()
        .filter(|r| r["http"]["host"] == "cdn.update-checker.example")
        .collect();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["http"]["method"], "GET");
    assert_eq!(h[0]["http"]["status"], 200);
    assert_eq!(h[0]["http"]["uri"], "/assets/update.png");
    assert_eq!(h[0]["http"]["response_content_type"], "image/png");
    assert_eq!(h[0]["http"]["file_ids"][0], fb["id"]);

    let (run, host) = quiet("exe-download");
    let f: Vec<_> = of(&run, "file", host)
        .into_iter()
        .filter(|r| r["file"]["name"] == "update.png")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["file"]["format"], "png");
    assert!(f[0]["file"].get("pe").is_none());
}

#[test]
fn email_attachments_names_and_formats() {
    let get = |quiet: bool| {
        let a = attack("email-attachment");
        let run = replay(&attacks::capture(a.name, quiet, SEED).unwrap());
        let mail: Vec<(String, String)> = of(&run, "email", a.host)
            .iter()
            .flat_map(|r| {
                r["email"]["attachments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| (s(&a["name"]).to_string(), s(&a["format"]).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let files: Vec<(String, String, String)> = of(&run, "file", a.host)
            .iter()
            .map(|r| {
                (
                    s(&r["file"]["name"]).to_string(),
                    s(&r["file"]["format"]).to_string(),
                    s(&r["file"]["source"]).to_string(),
                )
            })
            .collect();
        (mail, files)
    };
    let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let (mail, files) = get(false);
    let want = [
        ("invoice.pdf.exe", "exe"),
        ("scan_0311.pdf.js", "unknown"),
        ("salary-review.docm", "ooxml"),
    ];
    assert_eq!(mail, p(&want));
    assert_eq!(
        files,
        want.iter()
            .map(|(n, f)| (n.to_string(), f.to_string(), "smtp".to_string()))
            .collect::<Vec<_>>()
    );
    let (mail, files) = get(true);
    let want = [
        ("invoice.pdf", "pdf"),
        ("Q3-report.docx", "ooxml"),
        ("photo.2024.jpg", "jpg"),
    ];
    assert_eq!(mail, p(&want));
    assert_eq!(files.len(), 3);
}

#[test]
fn user_agents_and_post_to_a_bare_ip() {
    let (run, host) = fire("user-agent");
    let uas: Vec<&str> = of(&run, "http", host)
        .iter()
        .map(|r| {
            // an empty User-Agent header is "", not absent
            r["http"]["user_agent"]
                .as_str()
                .expect("user_agent present")
        })
        .collect();
    assert_eq!(uas, attacks::BAD_AGENTS);
    let (run, host) = quiet("user-agent");
    for r in of(&run, "http", host) {
        assert!(
            s(&r["http"]["user_agent"]).starts_with("Mozilla/5.0 ("),
            "{r}"
        );
        assert!(!s(&r["http"]["host"]).is_empty());
    }

    let (run, host) = fire("post-to-ip");
    let h = of(&run, "http", host);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["http"]["method"], "POST");
    assert_eq!(h[0]["http"]["host"], "185.244.25.99");
    assert_eq!(h[0]["dest_ip"], "185.244.25.99");
    assert_eq!(h[0]["http"]["uri"], "/gate.php");
    assert!(h[0]["http"]["request_body_len"].as_u64().unwrap() > 0);
    let (run, host) = quiet("post-to-ip");
    let h = of(&run, "http", host);
    let got: Vec<(&str, &str)> = h
        .iter()
        .map(|r| (s(&r["http"]["host"]), s(&r["dest_ip"])))
        .collect();
    assert_eq!(
        got,
        vec![
            ("api.corp-crm.example", "198.51.100.20"),
            ("10.1.5.50", "10.1.5.50")
        ]
    );
}

/// (event_type, intel type, where) of every intel hit of the run.
fn intel_hits(run: &SensorRun) -> BTreeSet<(String, String, String)> {
    run.records
        .iter()
        .flat_map(|r| {
            r["intel"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |h| {
                    (
                        s(&r["event_type"]).to_string(),
                        s(&h["type"]).to_string(),
                        s(&h["where"]).to_string(),
                    )
                })
        })
        .collect()
}

#[test]
fn intel_hits_of_every_indicator_type_and_none_for_decoys() {
    let (run, _) = fire("intel");
    let got = intel_hits(&run);
    let t = |e: &str, k: &str, w: &str| (e.to_string(), k.to_string(), w.to_string());
    let want: BTreeSet<_> = [
        t("flow", "addr", "dest_ip"),
        t("dns", "domain", "dns.query"),
        t("dns", "domain", "dns.answers.name"),
        t("http", "url", "http.url"),
        t("file", "file_hash", "file.md5"),
        t("email", "email", "email.mail_from"),
        t("email", "email", "email.from"),
        t("kerberos", "user_name", "kerberos.cname"),
        t("http", "software", "http.user_agent"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let (run, _) = quiet("intel");
    assert!(intel_hits(&run).is_empty());
}

/// What a rule could read of a record, without times, ports or ids: the attack's records in
/// the mixed capture must be the same as in its own.
fn signature(r: &Value) -> Option<String> {
    let b = |k: &str| &r[k];
    let sig = match s(&r["event_type"]) {
        "dns" => format!(
            "dns {} {} {}",
            b("dns")["query"],
            b("dns")["qtype"],
            b("dns")["rcode"]
        ),
        "kerberos" => {
            let k = b("kerberos");
            format!(
                "krb {} {} {} {} {} {} {} {}",
                k["msg_type"],
                k["reply_msg_type"],
                k["cname"],
                k["sname"],
                k["etypes"],
                k["ticket_etype"],
                k["enc_part_etype"],
                k["error_code"]
            )
        }
        "ldap" => format!(
            "ldap {} {} {}",
            b("ldap")["base_object"],
            b("ldap")["scope"],
            b("ldap")["filter"]
        ),
        "http" => {
            let h = b("http");
            format!(
                "http {} {} {} {} {}",
                h["method"], h["host"], h["uri"], h["user_agent"], h["status"]
            )
        }
        "file" => format!(
            "file {} {} {}",
            b("file")["name"],
            b("file")["format"],
            b("file")["sha256"]
        ),
        "email" => {
            let e = b("email");
            let atts: Vec<String> = e["attachments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| format!("{} {} {}", a["name"], a["format"], a["sha256"]))
                .collect();
            format!("email {} {atts:?}", e["mail_from"])
        }
        "flow" => format!("flow {} {}", r["dest_ip"], r["dest_port"]),
        _ => return None,
    };
    Some(sig)
}

fn signatures(run: &SensorRun, host: [u8; 4]) -> Vec<String> {
    let mut v: Vec<String> = run
        .records
        .iter()
        .filter(|r| r["src_ip"] == ip(host).as_str())
        .filter_map(signature)
        .collect();
    v.sort();
    v
}

#[test]
fn mixed_capture_carries_every_attack_unchanged_on_its_own_host() {
    let mixed = replay(&attacks::mixed(SEED));
    let stop = mixed.stop();
    assert_eq!(stop["anomalies"], serde_json::json!({}), "{stop}");
    for a in ATTACKS {
        let alone = replay(&attacks::capture(a.name, false, SEED).unwrap());
        let want = signatures(&alone, a.host);
        assert!(!want.is_empty(), "{}", a.name);
        assert_eq!(signatures(&mixed, a.host), want, "{}", a.name);
        let alone = replay(&attacks::capture(a.name, true, SEED).unwrap());
        let want = signatures(&alone, a.host);
        assert_eq!(
            signatures(&mixed, attacks::quiet_host(a)),
            want,
            "{} quiet",
            a.name
        );
    }
    // The background: many hosts, every kind of traffic, none of the attacks' marks.
    let bg: BTreeSet<String> = attacks::background_hosts().iter().map(|h| ip(*h)).collect();
    let mut kinds = BTreeMap::new();
    let mut talkers = BTreeSet::new();
    for r in &mixed.records {
        let src = s(&r["src_ip"]);
        if !bg.contains(src) {
            continue;
        }
        talkers.insert(src.to_string());
        *kinds
            .entry(s(&r["event_type"]).to_string())
            .or_insert(0usize) += 1;
        assert!(r.get("intel").is_none(), "{r}");
        if r["event_type"] == "kerberos" {
            let k = &r["kerberos"];
            assert_ne!(k["ticket_etype"], 23, "{r}");
            assert_ne!(k["error_code"], 24, "{r}");
        }
        if r["event_type"] == "file" {
            assert_eq!(r["file"]["format"], "html", "{r}");
        }
    }
    assert_eq!(talkers.len(), 30);
    for k in ["dns", "http", "tls", "kerberos", "ldap", "flow", "file"] {
        assert!(kinds.get(k).copied().unwrap_or(0) >= 20, "{k}: {kinds:?}");
    }
}
