//! The `detection` record body (records.md items 1, 2, 4, 5 and 12) and the `detect` block of
//! `sensor_status`. `detect::correlate` builds them in the output stage; they live here, below
//! detection, so that records do not import the stage that makes them.
//!
//! Fixed paths (records.md): `detection.rule.{id,name,version,priority,technology}`,
//! `detection.category`, `detection.threat_name`, `detection.threat_level`,
//! `detection.indicator{type,value}`, `detection.reasons[]`, `detection.related[]`. The rest is
//! documented in `docs/detection.md`.

use serde::Serialize;

/// The object or value a detection is about (`detection.indicator`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Indicator {
    /// `domain`, `url`, `ip`, `file`, `account`, `user_agent`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

/// `detection` record body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectionBody {
    pub rule: RuleInfo,
    /// records.md vocabulary (`intel`, `dns_tunnel`, `kerberoasting`, ...).
    pub category: String,
    pub threat_name: String,
    /// `informational`, `low`, `medium`, `high`, `critical`.
    pub threat_level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator: Option<Indicator>,
    /// Why it fired, in words: the rule's reason first, then what held.
    pub reasons: Vec<String>,
    /// `id`s of the records the detection rests on (capped: `related_total` says how many).
    pub related: Vec<String>,
    /// Records the detection rests on in all (more than `related` holds when capped).
    pub related_total: u64,
    /// MITRE ATT&CK technique ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mitre: Vec<String>,
    /// The detected object (item 4): a file, or a URL, domain, address or account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<DetectedObject>,
    /// Where the object came from (item 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ObjectSource>,
    /// Reputation hits of the records (item 2): the looked-up indicators that matched a feed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reputation: Vec<Reputation>,
    /// Whether the records were looked up in reputation feeds (feeds loaded), and whether a
    /// signature (rule condition) was evaluated on them (item 1's flags).
    pub reputation_checked: bool,
    pub signature_checked: bool,
    /// Network statistics of the domain or file (item 12), when statistics are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<StatsSnapshot>,
    /// Packet times of the first and last event counted (RFC 3339).
    pub first_event: String,
    pub last_event: String,
    /// Events (rule hits) in the incident when the detection was made.
    pub count: u64,
    /// Versions of what decided: the rule set and the reputation feeds.
    pub ruleset: RulesetInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<SensorInfo>,
}

/// `detection.rule`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleInfo {
    /// Native: the rule's `id`; Sigma: its UUID.
    pub id: String,
    pub name: String,
    pub version: u32,
    /// 1 (most urgent) to 4.
    pub priority: u8,
    /// `signature`, `reputation`, `statistics`, `heuristic` (item 1's database record type).
    pub technology: &'static str,
    /// `native` or `sigma`.
    pub format: &'static str,
    /// The rule's own date (native `updated`, Sigma `modified`/`date`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
}

/// `detection.object` (item 4).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DetectedObject {
    /// `file`, `url`, `domain`, `ip`, `account`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// File name, URL, domain, address or account name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Detected format (magic): item 1's file format identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The `file` record's id (`file.id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// PE files: whether an Authenticode signature is present, its signer organisation, and
    /// the trust status ("unverified": the sensor does not check the chain; "unsigned").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_present: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_status: Option<&'static str>,
}

/// `detection.source` (item 5): where a downloaded object came from, and who asked.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ObjectSource {
    /// The carrying protocol (`http`, `smtp`, `pop3`, `imap`, `dns`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Mail sender, for objects that came by mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// MD5 of the client address's text form when it is in the home network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip_md5: Option<String>,
    /// The client host's name as learnt passively (DNS PTR answers, Kerberos host principals),
    /// and its MD5 (lower-cased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_host_md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// One entry of `detection.reputation` (item 2): an indicator of the records found in a feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reputation {
    pub indicator: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The record field looked up.
    #[serde(rename = "where")]
    pub field: &'static str,
    pub value: String,
    pub feed: String,
    pub feed_version: String,
    /// "listed": the feed lists the indicator (feeds are block lists).
    pub verdict: &'static str,
}

/// `detection.statistics` (item 12): the local network's view of the domain or file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// `domain` (registered domain) or `file` (SHA-256).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub key: String,
    /// Requests to the domain from the local network; times the file was received.
    pub requests: u64,
    pub hosts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// MD5 of the users' names (domains; capped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users_md5: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Seconds from the first to the last request.
    pub duration_s: u64,
    /// The internal hosts (addresses, capped) and the names they go by, where learnt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_addrs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_names: Vec<String>,
}

/// `detection.ruleset`: the rule set and feeds in use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RulesetInfo {
    pub version: String,
    pub loaded_at: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<FeedVersion>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedVersion {
    pub name: String,
    pub version: String,
}

/// `detection.sensor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SensorInfo {
    pub task_id: String,
}

/// The `detect` block of `sensor_status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DetectStatus {
    /// Rules loaded, by format, and rules rejected at load.
    pub rules_native: u64,
    pub rules_sigma: u64,
    pub rejected: u64,
    pub ruleset_version: String,
    /// Rule hits received from the workers, detections written, and hits not written because
    /// an incident of the same rule and key was already reported within the window.
    pub hits: u64,
    pub detections: u64,
    pub suppressed: u64,
    /// Suppression and aggregation groups held now, and groups not opened because
    /// `detect.max_groups` was reached.
    pub groups_open: u64,
    pub group_cap_hits: u64,
    /// Hits of batches evaluated with rules a SIGHUP reload has since replaced, whose rule is
    /// gone from the new set (or that came two reloads late): not counted anywhere else.
    pub stale_hits: u64,
    /// Rules that fired or were hit, with their counts (sorted by rule id).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_rule: Vec<RuleCounts>,
    /// Time the correlation stage spent, and batches of hits it took (shown in
    /// `sensor_status.algorithms[]` as `detection_correlate`).
    #[serde(skip)]
    pub correlate_ns: u64,
    #[serde(skip)]
    pub correlate_calls: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleCounts {
    pub id: String,
    pub name: String,
    pub hits: u64,
    pub detections: u64,
    pub suppressed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Body, FlowRef, Record};

    fn body() -> DetectionBody {
        DetectionBody {
            rule: RuleInfo {
                id: "tapir-kerberoast".into(),
                name: "Kerberoasting".into(),
                version: 2,
                priority: 1,
                technology: "heuristic",
                format: "native",
                updated: Some("2026-12-04".into()),
            },
            category: "kerberoasting".into(),
            threat_name: "Kerberoasting".into(),
            threat_level: "high",
            indicator: Some(Indicator {
                kind: "ip",
                value: "10.0.0.5".into(),
            }),
            reasons: vec!["4 distinct kerberos.sname".into()],
            related: vec!["r1-3".into(), "r1-9".into()],
            related_total: 2,
            mitre: vec!["T1558.003".into()],
            object: Some(DetectedObject {
                kind: "account",
                name: Some("alice".into()),
                ..Default::default()
            }),
            source: None,
            reputation: Vec::new(),
            reputation_checked: false,
            signature_checked: true,
            statistics: None,
            first_event: "2026-12-04T10:00:00.000000Z".into(),
            last_event: "2026-12-04T10:00:05.000000Z".into(),
            count: 4,
            ruleset: RulesetInfo {
                version: "0123456789abcdef".into(),
                loaded_at: "2026-12-04T09:00:00.000000Z".into(),
                feeds: Vec::new(),
            },
            sensor: None,
        }
    }

    /// The fixed paths of records.md are where the contract says.
    #[test]
    fn fixed_paths() {
        let r = Record {
            ts_ns: 1_796_000_000_000_000_000,
            flow: Some(FlowRef {
                flow_id: 7,
                community_id: "1:x".into(),
                src_ip: "10.0.0.5".parse().unwrap(),
                src_port: 50000,
                dest_ip: "10.0.0.1".parse().unwrap(),
                dest_port: 88,
                proto: 6,
                vlan: Vec::new(),
            }),
            body: Body::Detection(Box::new(body())),
            intel: Vec::new(),
            parent: None,
        };
        let mut line = Vec::new();
        crate::record::write_json_line(&mut line, &r, "s1").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["event_type"], "detection");
        assert_eq!(v["src_ip"], "10.0.0.5");
        let d = &v["detection"];
        assert_eq!(d["rule"]["id"], "tapir-kerberoast");
        assert_eq!(d["rule"]["name"], "Kerberoasting");
        assert_eq!(d["rule"]["version"], 2);
        assert_eq!(d["rule"]["priority"], 1);
        assert_eq!(d["rule"]["technology"], "heuristic");
        assert_eq!(d["rule"]["format"], "native");
        assert_eq!(d["category"], "kerberoasting");
        assert_eq!(d["threat_name"], "Kerberoasting");
        assert_eq!(d["threat_level"], "high");
        assert_eq!(d["indicator"]["type"], "ip");
        assert_eq!(d["indicator"]["value"], "10.0.0.5");
        assert_eq!(d["reasons"][0], "4 distinct kerberos.sname");
        assert_eq!(d["related"][1], "r1-9");
        assert_eq!(d["mitre"][0], "T1558.003");
        assert_eq!(d["object"]["type"], "account");
        assert_eq!(d["count"], 4);
        assert_eq!(d["ruleset"]["version"], "0123456789abcdef");
        assert!(d.get("source").is_none() && d.get("sensor").is_none());
    }
}
