//! The shipped deployment files agree: every path the example configuration (`deploy/tapir.toml`)
//! makes the sensor write (records, the Prometheus metrics file, and the extraction directory
//! of its commented example) lies in a directory the systemd unit (`deploy/tapir.service`,
//! `ProtectSystem=strict`) leaves writable.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn read(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The directories the unit lets the service write to.
fn writable(unit: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for line in unit.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let base = match key.trim() {
            "ReadWritePaths" => "",
            "LogsDirectory" => "/var/log",
            "StateDirectory" => "/var/lib",
            "CacheDirectory" => "/var/cache",
            "RuntimeDirectory" => "/run",
            _ => continue,
        };
        for v in value.split_whitespace() {
            // "-" marks a path that may be missing; "+" and ":" options do not apply here.
            let v = v.trim_start_matches(['-', '+']);
            let v = v.split(':').next().unwrap_or(v);
            dirs.push(if base.is_empty() {
                PathBuf::from(v)
            } else {
                Path::new(base).join(v)
            });
        }
    }
    dirs
}

#[test]
fn configured_output_paths_are_writable_under_the_unit() {
    let unit = read("tapir.service");
    assert!(
        unit.contains("ProtectSystem=strict"),
        "the unit changed its sandbox"
    );
    let dirs = writable(&unit);
    let conf_text = read("tapir.toml");
    let conf: toml::Table = toml::from_str(&conf_text).expect("deploy/tapir.toml parses");
    let mut paths: Vec<(String, String)> = Vec::new();
    for (table, key) in [("output", "path"), ("output", "metrics_path")] {
        let v = conf[table][key].as_str().expect("a path string");
        paths.push((format!("{table}.{key}"), v.to_string()));
    }
    let export = &conf["export"];
    paths.push((
        "export.spool.dir/".into(),
        format!("{}/x", export["spool"]["dir"].as_str().expect("spool dir")),
    ));
    for sink in export["sink"].as_array().expect("[[export.sink]]") {
        if let Some(p) = sink.get("path").and_then(|p| p.as_str()) {
            paths.push(("export.sink.path".into(), p.to_string()));
        }
    }
    // The commented example of `files.extract_dir` must work once uncommented.
    let extract = conf_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# extract_dir = "))
        .and_then(|r| r.split('"').nth(1))
        .expect("extract_dir example");
    paths.push(("files.extract_dir/".into(), format!("{extract}/x")));
    for (what, p) in &paths {
        // Files are written next to themselves (temporary file, then rename): the directory
        // holding them must be writable.
        let dir = Path::new(p).parent().expect("an absolute file path");
        assert!(
            dirs.iter().any(|d| dir.starts_with(d)),
            "{what} = {p:?} is not writable under deploy/tapir.service (writable: {dirs:?})"
        );
    }
}

/// `Key=value` settings of the unit (last one wins).
fn unit_value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines()
        .rev()
        .filter_map(|l| l.trim().split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .next()
}

/// The unit, the Debian package (Cargo.toml `[package.metadata.deb]`, deploy/debian/) and the
/// example configuration agree: the binary and configuration paths the unit starts are the
/// ones the package installs, the user it runs as is the one the package creates, and it
/// runs hardened with the capture capabilities only.
#[test]
fn unit_and_debian_package_agree() {
    let unit = read("tapir.service");
    let exec = unit_value(&unit, "ExecStart").expect("ExecStart");
    assert_eq!(
        exec,
        "/usr/bin/tapir run --config /etc/tapir/tapir.toml --log-rate 20"
    );
    // `systemctl reload` is the SIGHUP reload (docs/operations.md).
    assert_eq!(
        unit_value(&unit, "ExecReload"),
        Some("/bin/kill -HUP $MAINPID")
    );
    let cargo: toml::Table = toml::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap(),
    )
    .unwrap();
    let deb = &cargo["package"]["metadata"]["deb"];
    let assets: Vec<(String, String)> = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(assets.contains(&("target/release/tapir".into(), "usr/bin/".into())));
    assert!(assets.contains(&("deploy/tapir.toml".into(), "etc/tapir/tapir.toml".into())));
    assert_eq!(deb["conf-files"][0].as_str(), Some("/etc/tapir/tapir.toml"));
    assert_eq!(
        deb["systemd-units"]["unit-scripts"].as_str(),
        Some("deploy/")
    );
    assert_eq!(deb["maintainer-scripts"].as_str(), Some("deploy/debian/"));
    // The service user is the one postinst creates.
    let user = unit_value(&unit, "User").expect("User=");
    assert_ne!(user, "root");
    let postinst = read("debian/postinst");
    assert!(
        postinst.contains(&format!("useradd --system --gid {user} ")),
        "{postinst}"
    );
    for script in ["debian/postinst", "debian/prerm", "debian/postrm"] {
        let text = read(script);
        assert!(
            text.starts_with("#!/bin/sh\n") && text.contains("#DEBHELPER#"),
            "{script}"
        );
        let mode = std::fs::metadata(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy")
                .join(script),
        )
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .unwrap();
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
    }
    // Hardened, with the capture capabilities only.
    for (k, v) in [
        ("AmbientCapabilities", "CAP_NET_RAW CAP_NET_ADMIN"),
        ("CapabilityBoundingSet", "CAP_NET_RAW CAP_NET_ADMIN"),
        ("NoNewPrivileges", "true"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "true"),
        ("Restart", "on-failure"),
    ] {
        assert_eq!(unit_value(&unit, k), Some(v), "{k}");
    }
    assert!(unit_value(&unit, "MemoryMax").is_some());
    // sd_notify: READY=1 once capturing, WATCHDOG=1 from the output stage (status::notify).
    assert_eq!(unit_value(&unit, "Type"), Some("notify"));
    assert_eq!(unit_value(&unit, "NotifyAccess"), Some("main"));
    assert_eq!(unit_value(&unit, "WatchdogSec"), Some("30s"));
}

/// systemd's own check of the unit (skipped where systemd-analyze is not installed), with
/// ExecStart pointed at the binary just built.
#[test]
fn systemd_analyze_verifies_the_unit() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no systemd-analyze");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tapir-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unit = dir.join("tapir.service");
    std::fs::write(
        &unit,
        read("tapir.service").replace("/usr/bin/tapir", env!("CARGO_BIN_EXE_tapir")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    // It exits 0 on unknown keys too, only warning about them.
    assert!(out.status.success(), "{stderr}");
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("tapir.service"))
        .collect();
    assert!(ours.is_empty(), "{stderr}");
}

/// The container image runs as a non-root user, the uid the DaemonSet expects; the DaemonSet
/// takes the interface from its ConfigMap, runs on the host network with the capture
/// capabilities only and keeps its state on the node.
#[test]
fn dockerfile_and_daemonset_agree() {
    let docker = read("Dockerfile");
    assert_eq!(docker.lines().filter(|l| l.starts_with("FROM ")).count(), 2);
    let user = docker
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("USER "))
        .next()
        .expect("USER");
    let uid = user.split(':').next().unwrap();
    assert_ne!(uid, "0");
    assert!(docker.contains(&format!("--uid {uid} ")));
    let ds = read("k8s/daemonset.yaml");
    assert!(ds.contains(&format!("runAsUser: {uid}\n")));
    assert!(ds.contains(&format!("chown {uid}:{uid} /var/lib/tapir /var/log/tapir")));
    for want in [
        "hostNetwork: true",
        "runAsNonRoot: true",
        "add: [\"NET_RAW\", \"NET_ADMIN\"]",
        "drop: [\"ALL\"]",
        "key: interface",
        "- $(TAPIR_INTERFACE)",
        "type: DirectoryOrCreate",
    ] {
        assert!(ds.contains(want), "{want}");
    }
    // The embedded configuration parses and writes under the hostPath mounts.
    let conf: String = ds
        .split("tapir.toml: |\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", &l[4..]))
        .collect();
    let conf: toml::Table = toml::from_str(&conf).unwrap();
    assert!(conf["output"]["path"]
        .as_str()
        .unwrap()
        .starts_with("/var/log/tapir/"));
    assert!(conf["export"]["spool"]["dir"]
        .as_str()
        .unwrap()
        .starts_with("/var/lib/tapir/"));
}
