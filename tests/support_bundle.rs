//! `tapir support-bundle`: the bundle holds what support needs (version, the effective
//! configuration, the recent status records, rule versions, log lines) and no secret of a
//! configuration full of them: not in the configuration, not echoed in a status record or a
//! log line, and no private key file is read.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

const SECRETS: &[&str] = &[
    "S3cretUrlPass",
    "KafkaSaslPw42",
    "kafkauser7",
    "SslKeyPw99",
    "/PRIVKEYNAME.key",
    "BearerTok3n",
];
/// In the key file, which must never be read.
const KEY_CONTENT: &str = "PRIVATE-KEY-MATERIAL-XYZ";

/// The files of a .tar.gz (ustar, regular files), by name.
fn untar(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut raw = Vec::new();
    gz.read_to_end(&mut raw).unwrap();
    let mut files = BTreeMap::new();
    let mut at = 0;
    while at + 512 <= raw.len() {
        let h = &raw[at..at + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        assert_eq!(&h[257..263], b"ustar\0", "ustar magic");
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8(h[..name_end].to_vec()).unwrap();
        let size_text = std::str::from_utf8(&h[124..135]).unwrap();
        let size = usize::from_str_radix(size_text, 8).unwrap();
        let mut sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        sum -= h[148..156].iter().map(|&b| u32::from(b)).sum::<u32>();
        sum += 8 * u32::from(b' ');
        let stored = u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        assert_eq!(sum, stored, "{name}: header checksum");
        files.insert(name, raw[at + 512..at + 512 + size].to_vec());
        at += 512 + size.div_ceil(512) * 512;
    }
    assert!(raw[at..].len() >= 1024 && raw[at..].iter().all(|&b| b == 0));
    files
}

#[test]
fn support_bundle_has_the_facts_and_no_secret() {
    let dir = std::env::temp_dir().join(format!("tapir-support-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let key = dir.join("PRIVKEYNAME.key");
    std::fs::write(&key, KEY_CONTENT).unwrap();
    let rules = dir.join("local.yml");
    let rule_text = "# local rules\n";
    std::fs::write(&rules, rule_text).unwrap();
    let records = dir.join("records.ndjson");
    // Three status records (one echoing a URL with its password, as an error might), a flow.
    let mut rec = String::new();
    for (i, msg) in [
        "start".to_string(),
        "sink mdr: cannot connect to https://svcuser:S3cretUrlPass@mdr.example:8443/ingest"
            .to_string(),
        "stop".to_string(),
    ]
    .iter()
    .enumerate()
    {
        rec.push_str(&format!(
            "{{\"event_type\":\"sensor_status\",\"sensor_status\":{{\"seq\":{i},\"messages\":[\"{msg}\"]}}}}\n"
        ));
        rec.push_str("{\"event_type\":\"flow\",\"src_port\":1}\n");
    }
    std::fs::write(&records, rec).unwrap();
    let log = dir.join("tapir.log");
    std::fs::write(
        &log,
        "line one\nkafka: auth failed for kafkauser7 with KafkaSaslPw42\nlast line\n",
    )
    .unwrap();
    let conf = dir.join("tapir.toml");
    std::fs::write(
        &conf,
        format!(
            r#"sensor_id = "bundle-test"
[capture]
interface = "lo"
[output]
path = "{d}/records.ndjson"
[detect]
rules = ["{d}/local.yml"]
[export]
allow_remote = true
[[export.sink]]
name = "mdr"
type = "https"
categories = ["network"]
url = "https://svcuser:S3cretUrlPass@mdr.example:8443/ingest"
ca = "{d}/ca.pem"
cert = "{d}/cert.pem"
key = "{d}/PRIVKEYNAME.key"
[[export.sink]]
name = "bus"
type = "kafka"
categories = ["network"]
brokers = "broker1:9092"
topic = "tapir"
properties = {{ "sasl.password" = "KafkaSaslPw42", "sasl.username" = "kafkauser7", "ssl.key.password" = "SslKeyPw99", "api.token" = "BearerTok3n" }}
"#
        ),
    )
    .unwrap();
    let out = dir.join("bundle.tar.gz");
    let res = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["support-bundle", "-c"])
        .arg(&conf)
        .arg("-o")
        .arg(&out)
        .arg("--log-file")
        .arg(&log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    for s in SECRETS {
        assert!(!stderr.contains(s), "{s} in stderr: {stderr}");
    }
    let files = untar(&out);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    for want in [
        "tapir-support/version.txt",
        "tapir-support/config.toml",
        "tapir-support/sensor_status.ndjson",
        "tapir-support/kernel.txt",
        "tapir-support/net_dev.txt",
        "tapir-support/nic.txt",
        "tapir-support/rules_and_feeds.txt",
        "tapir-support/logs.txt",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    // No secret anywhere, in any file of the bundle (nor the key file's contents).
    for (name, data) in &files {
        let text = String::from_utf8_lossy(data);
        for s in SECRETS.iter().chain(&[KEY_CONTENT]) {
            assert!(!text.contains(s), "{s} in {name}:\n{text}");
        }
    }
    let text = |n: &str| String::from_utf8(files[&format!("tapir-support/{n}")].clone()).unwrap();
    assert!(text("version.txt").starts_with(&format!("tapir {}\n", env!("CARGO_PKG_VERSION"))));
    let config: toml::Table = toml::from_str(&text("config.toml")).unwrap();
    assert_eq!(config["sensor_id"].as_str(), Some("bundle-test"));
    let sinks = config["export"]["sink"].as_array().unwrap();
    assert_eq!(sinks[0]["key"].as_str(), Some("<redacted>"));
    assert_eq!(
        sinks[0]["url"].as_str(),
        Some("https://<redacted>@mdr.example:8443/ingest")
    );
    assert_eq!(sinks[1]["brokers"].as_str(), Some("broker1:9092"));
    assert_eq!(
        sinks[1]["properties"]["sasl.password"].as_str(),
        Some("<redacted>")
    );
    // The status records, in order, the flow record left out; the echoed URL cut.
    let status: Vec<serde_json::Value> = text("sensor_status.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = status
        .iter()
        .map(|r| r["sensor_status"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    assert_eq!(
        status[1]["sensor_status"]["messages"][0],
        "sink mdr: cannot connect to https://<redacted>@mdr.example:8443/ingest"
    );
    // Rule versions: the file's hash, not its text.
    let sha: String = Sha256::digest(rule_text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let rv = text("rules_and_feeds.txt");
    assert!(
        rv.contains(&format!("{}\tbytes={}\t", rules.display(), rule_text.len()))
            && rv.contains(&format!("sha256={sha}")),
        "{rv}"
    );
    assert!(!rv.contains("# local rules"), "{rv}");
    let logs = text("logs.txt");
    assert!(
        logs.contains("line one\nkafka: auth failed for <redacted> with <redacted>\nlast line\n"),
        "{logs}"
    );
    assert!(text("net_dev.txt").contains("lo:"));
    std::fs::remove_dir_all(&dir).unwrap();
}
