//! The correlation stage with hand-built rules and hits: suppression, Count, Distinct,
//! Temporal, out-of-order arrival, the group cap.

use super::*;
use crate::detect::{Aggregate, Rule, RuleMeta, Technology, ThreatLevel};
use crate::record::{Body, FlowRef, Record};

const S: u64 = 1_000_000_000;
const T0: u64 = 1_796_000_000 * S;

fn meta(id: &str) -> RuleMeta {
    RuleMeta {
        id: id.into(),
        name: format!("rule {id}"),
        version: 1,
        priority: 2,
        technology: Technology::Heuristic,
        threat_name: "Test".into(),
        threat_level: ThreatLevel::High,
        category: "kerberoasting".into(),
        mitre: vec!["T1558.003".into()],
        description: String::new(),
        reason: format!("why {id}"),
        format: RuleFormat::Native,
        file: "test.yml".into(),
        updated: None,
    }
}

fn rule(id: &str, emit: bool, aggregate: Option<Aggregate>) -> Rule {
    Rule {
        meta: meta(id),
        event_types: vec!["kerberos"],
        cond: None,
        aggregate,
        emit,
        indicator: None,
    }
}

fn set(rules: Vec<Rule>) -> Arc<RuleSet> {
    Arc::new(RuleSet {
        rules,
        version: "v1".into(),
        loaded_at: "2026-12-04T00:00:00.000000Z".into(),
        ..Default::default()
    })
}

fn corr(rules: Arc<RuleSet>, suppress_s: u64, max_groups: usize) -> Correlator {
    Correlator::new(
        rules,
        CorrelateConfig {
            suppress_window_ns: suppress_s * S,
            max_groups,
            task_id: Some("task-7".into()),
        },
        Sources::default(),
        "run",
    )
}

fn rec(src: &str, ts: u64) -> Record {
    Record {
        ts_ns: ts,
        flow: Some(FlowRef {
            flow_id: 1,
            community_id: "1:x".into(),
            src_ip: src.parse().unwrap(),
            src_port: 50000,
            dest_ip: "10.0.0.1".parse().unwrap(),
            dest_port: 88,
            proto: 6,
            vlan: Vec::new(),
        }),
        body: Body::Flow(crate::record::FlowBody {
            start: String::new(),
            end: String::new(),
            pkts_toserver: 1,
            pkts_toclient: 1,
            bytes_toserver: 1,
            bytes_toclient: 1,
            state: "established",
            tcp_state: None,
            conn_state: None,
            tcp_flags_ts: None,
            tcp_flags_tc: None,
            reason: "closed",
            app_proto: "kerberos",
            direction: "internal",
            proto_name: "TCP",
            tunnel: None,
            icmp_type: None,
            icmp_code: None,
            gap_bytes: 0,
        }),
        intel: Vec::new(),
        parent: None,
    }
}

fn hit(rule: u32, record: u32, ts: u64, values: &[(&str, &str)]) -> Hit {
    Hit {
        rule,
        record,
        ts_ns: ts,
        indicator: None,
        reasons: vec!["kerberos.etypes holds 23".into()],
        values: values
            .iter()
            .map(|(p, v)| ((*p).to_string(), (*v).to_string()))
            .collect(),
    }
}

/// Feeds one hit on a one-record batch whose record id is `seq`.
fn feed(c: &mut Correlator, h: Hit, src: &str, seq: u64) -> Vec<Record> {
    let batch = vec![rec(src, h.ts_ns)];
    let mut out = Vec::new();
    let h = Hit { record: 0, ..h };
    c.batch(&batch, &[h], seq, &mut out);
    out
}

fn det(r: &Record) -> &DetectionBody {
    match &r.body {
        Body::Detection(d) => d,
        _ => panic!("not a detection"),
    }
}

#[test]
fn single_hits_are_suppressed_within_the_window_and_counted() {
    let mut c = corr(set(vec![rule("a", true, None)]), 60, 100);
    let mut ind = hit(0, 0, T0, &[]);
    ind.indicator = Some(Indicator {
        kind: "domain",
        value: "x.example".into(),
    });
    let out = feed(&mut c, ind.clone(), "10.0.0.5", 1);
    assert_eq!(out.len(), 1);
    let d = det(&out[0]);
    assert_eq!(d.rule.id, "a");
    assert_eq!(d.related, ["run-1"]);
    assert_eq!(d.reasons[0], "why a");
    assert_eq!(d.reasons[1], "kerberos.etypes holds 23");
    assert_eq!(d.sensor.as_ref().unwrap().task_id, "task-7");
    assert_eq!(d.indicator.as_ref().unwrap().value, "x.example");
    assert_eq!(out[0].flow.as_ref().unwrap().src_ip.to_string(), "10.0.0.5");
    // Repeats from the same source and indicator within 60 s: counted, not written.
    for i in 1..5 {
        let h = Hit {
            ts_ns: T0 + i * 10 * S,
            ..ind.clone()
        };
        assert!(feed(&mut c, h, "10.0.0.5", 1 + i).is_empty());
    }
    // Another source is another incident.
    assert_eq!(feed(&mut c, ind.clone(), "10.0.0.6", 10).len(), 1);
    // Past the window: a new detection.
    let late = Hit {
        ts_ns: T0 + 61 * S,
        ..ind.clone()
    };
    assert_eq!(feed(&mut c, late, "10.0.0.5", 11).len(), 1);
    let st = c.status();
    assert_eq!(st.hits, 7);
    assert_eq!(st.detections, 3);
    assert_eq!(st.suppressed, 4);
    assert_eq!(st.by_rule[0].suppressed, 4);
}

#[test]
fn no_suppression_when_the_window_is_zero() {
    let mut c = corr(set(vec![rule("a", true, None)]), 0, 100);
    for i in 0..3 {
        assert_eq!(feed(&mut c, hit(0, 0, T0 + i, &[]), "10.0.0.5", i).len(), 1);
    }
    assert_eq!(c.status().groups_open, 0);
}

fn count_rule(min: u64, window_s: u64) -> Rule {
    rule(
        "count",
        false,
        Some(Aggregate {
            over: vec![0],
            group_by: vec!["src_ip".into()],
            window_ns: window_s * S,
            kind: AggKind::Count { min },
        }),
    )
}

#[test]
fn count_fires_once_per_window_and_key() {
    // Rule 0 feeds only its own threshold (emit false).
    let mut r = count_rule(3, 60);
    if let Some(a) = &mut r.aggregate {
        a.over = vec![0];
    }
    let mut c = corr(set(vec![r]), 60, 100);
    let v = [("src_ip", "10.0.0.5")];
    assert!(feed(&mut c, hit(0, 0, T0, &v), "10.0.0.5", 1).is_empty());
    assert!(feed(&mut c, hit(0, 0, T0 + 5 * S, &v), "10.0.0.5", 2).is_empty());
    let out = feed(&mut c, hit(0, 0, T0 + 9 * S, &v), "10.0.0.5", 3);
    assert_eq!(out.len(), 1);
    let d = det(&out[0]);
    assert_eq!(d.related, ["run-1", "run-2", "run-3"]);
    assert_eq!(d.count, 3);
    assert_eq!(d.first_event, crate::record::rfc3339_micros(T0));
    assert_eq!(d.last_event, crate::record::rfc3339_micros(T0 + 9 * S));
    assert_eq!(d.indicator.as_ref().unwrap().kind, "ip");
    assert_eq!(d.indicator.as_ref().unwrap().value, "10.0.0.5");
    assert!(
        d.reasons
            .iter()
            .any(|r| r == "3 matching events from src_ip 10.0.0.5 within 60 s (threshold 3)"),
        "{:?}",
        d.reasons
    );
    // More hits within the window after the detection: suppressed.
    for i in 0..5 {
        assert!(feed(&mut c, hit(0, 0, T0 + (10 + i) * S, &v), "10.0.0.5", 4 + i).is_empty());
    }
    assert_eq!(c.status().suppressed, 5);
    // Another key counts on its own.
    let w = [("src_ip", "10.0.0.6")];
    assert!(feed(&mut c, hit(0, 0, T0 + 10 * S, &w), "10.0.0.6", 20).is_empty());
    // After the quiet window, three more hits fire again.
    for i in 0..2 {
        assert!(feed(&mut c, hit(0, 0, T0 + (80 + i) * S, &v), "10.0.0.5", 30 + i).is_empty());
    }
    assert_eq!(
        feed(&mut c, hit(0, 0, T0 + 82 * S, &v), "10.0.0.5", 32).len(),
        1
    );
}

#[test]
fn count_needs_the_hits_within_the_window() {
    let mut c = corr(set(vec![count_rule(3, 10)]), 60, 100);
    let v = [("src_ip", "10.0.0.5")];
    // Three hits 6 s apart: never three within 10 s.
    for i in 0..6 {
        assert!(feed(&mut c, hit(0, 0, T0 + i * 6 * S, &v), "10.0.0.5", i).is_empty());
    }
}

fn distinct_rules() -> Vec<Rule> {
    vec![
        rule("tgs", false, None),
        rule(
            "kerberoast",
            false,
            Some(Aggregate {
                over: vec![0],
                group_by: vec!["src_ip".into()],
                window_ns: 60 * S,
                kind: AggKind::Distinct {
                    field: "kerberos.sname".into(),
                    min: 4,
                },
            }),
        ),
    ]
}

#[test]
fn distinct_counts_values_not_hits() {
    let mut c = corr(set(distinct_rules()), 60, 100);
    let h = |sname: &str, t: u64| {
        hit(
            0,
            0,
            T0 + t * S,
            &[("src_ip", "10.0.0.5"), ("kerberos.sname", sname)],
        )
    };
    // The same SPN many times: one distinct value.
    for t in 0..10 {
        assert!(feed(&mut c, h("MSSQLSvc/db1", t), "10.0.0.5", t).is_empty());
    }
    assert!(feed(&mut c, h("HTTP/web1", 11), "10.0.0.5", 11).is_empty());
    assert!(feed(&mut c, h("CIFS/fs1", 12), "10.0.0.5", 12).is_empty());
    let out = feed(&mut c, h("LDAP/dc1", 13), "10.0.0.5", 13);
    assert_eq!(out.len(), 1);
    let d = det(&out[0]);
    assert_eq!(d.rule.id, "kerberoast");
    assert_eq!(d.related.len(), 4);
    assert_eq!(d.related_total, 4);
    assert_eq!(d.count, 13);
    assert!(
        d.reasons.iter().any(
            |r| r == "4 distinct kerberos.sname from src_ip 10.0.0.5 within 60 s (threshold 4)"
        ),
        "{:?}",
        d.reasons
    );
    let st = c.status();
    assert_eq!(st.detections, 1);
    assert_eq!(st.by_rule.iter().find(|r| r.id == "tgs").unwrap().hits, 13);
}

#[test]
fn hits_out_of_order_still_count() {
    let mut c = corr(set(distinct_rules()), 60, 100);
    let h = |sname: &str, t: u64| {
        hit(
            0,
            0,
            T0 + t * S,
            &[("src_ip", "10.0.0.5"), ("kerberos.sname", sname)],
        )
    };
    // Workers hand over batches out of packet-time order.
    assert!(feed(&mut c, h("a/1", 30), "10.0.0.5", 1).is_empty());
    assert!(feed(&mut c, h("b/1", 10), "10.0.0.5", 2).is_empty());
    assert!(feed(&mut c, h("c/1", 35), "10.0.0.5", 3).is_empty());
    let out = feed(&mut c, h("d/1", 5), "10.0.0.5", 4);
    assert_eq!(out.len(), 1);
    let d = det(&out[0]);
    assert_eq!(d.first_event, crate::record::rfc3339_micros(T0 + 5 * S));
    assert_eq!(d.last_event, crate::record::rfc3339_micros(T0 + 35 * S));
    // A hit too old for the window (newest 35 s, window 60 s) does not count.
    let mut c = corr(set(distinct_rules()), 60, 100);
    assert!(feed(&mut c, h("a/1", 100), "10.0.0.5", 1).is_empty());
    assert!(feed(&mut c, h("b/1", 101), "10.0.0.5", 2).is_empty());
    assert!(feed(&mut c, h("c/1", 102), "10.0.0.5", 3).is_empty());
    assert!(feed(&mut c, h("d/1", 20), "10.0.0.5", 4).is_empty());
}

#[test]
fn temporal_needs_every_rule_within_the_window() {
    let rules = vec![
        rule("recon", false, None),
        rule("roast", false, None),
        rule(
            "chain",
            false,
            Some(Aggregate {
                over: vec![0, 1],
                group_by: vec!["src_ip".into()],
                window_ns: 30 * S,
                kind: AggKind::Temporal { ordered: true },
            }),
        ),
    ];
    let v = [("src_ip", "10.0.0.5")];
    let mut c = corr(set(rules.clone()), 60, 100);
    // In the wrong order: nothing.
    assert!(feed(&mut c, hit(1, 0, T0, &v), "10.0.0.5", 1).is_empty());
    assert!(feed(&mut c, hit(0, 0, T0 + S, &v), "10.0.0.5", 2).is_empty());
    // Then the second again, after the first: fires.
    let out = feed(&mut c, hit(1, 0, T0 + 2 * S, &v), "10.0.0.5", 3);
    assert_eq!(out.len(), 1);
    let d = det(&out[0]);
    assert_eq!(d.rule.id, "chain");
    assert_eq!(d.related, ["run-2", "run-3"]);
    // Too far apart: nothing.
    let mut c = corr(set(rules), 60, 100);
    assert!(feed(&mut c, hit(0, 0, T0, &v), "10.0.0.5", 1).is_empty());
    assert!(feed(&mut c, hit(1, 0, T0 + 31 * S, &v), "10.0.0.5", 2).is_empty());
}

#[test]
fn the_group_cap_bounds_state_and_is_counted() {
    let mut c = corr(set(vec![count_rule(2, 60)]), 60, 3);
    for i in 0..10u64 {
        let ip = format!("10.0.1.{i}");
        assert!(feed(&mut c, hit(0, 0, T0 + i, &[("src_ip", &ip)]), &ip, i).is_empty());
    }
    let st = c.status();
    assert_eq!(st.groups_open, 3);
    assert_eq!(st.group_cap_hits, 7);
    // Once their window has passed, old groups make room.
    let out = feed(
        &mut c,
        hit(0, 0, T0 + 200 * S, &[("src_ip", "10.0.2.1")]),
        "10.0.2.1",
        50,
    );
    assert!(out.is_empty());
    assert_eq!(c.status().groups_open, 1);
}

#[test]
fn a_suppressed_rule_without_room_is_written_not_lost() {
    let mut c = corr(set(vec![rule("a", true, None)]), 60, 1);
    assert_eq!(feed(&mut c, hit(0, 0, T0, &[]), "10.0.0.5", 1).len(), 1);
    assert_eq!(feed(&mut c, hit(0, 0, T0 + S, &[]), "10.0.0.6", 2).len(), 1);
    assert_eq!(
        feed(&mut c, hit(0, 0, T0 + 2 * S, &[]), "10.0.0.6", 3).len(),
        1
    );
    assert_eq!(c.status().group_cap_hits, 2);
}

#[test]
fn a_reload_keeps_open_windows_of_rules_that_stay_and_maps_late_hits_by_id() {
    let mut counting = count_rule(3, 60);
    if let Some(a) = &mut counting.aggregate {
        a.over = vec![1];
    }
    let mut c = corr(
        set(vec![rule("gone", true, None), counting.clone()]),
        0,
        100,
    );
    let h = |rule, i| hit(rule, 0, T0 + i * S, &[]);
    assert!(feed(&mut c, h(1, 0), "10.0.0.5", 1).is_empty());
    assert!(feed(&mut c, h(1, 1), "10.0.0.5", 2).is_empty());
    // The new set: "gone" removed, a new rule first, the counting rule moved to index 2.
    if let Some(a) = &mut counting.aggregate {
        a.over = vec![2];
    }
    let new = set(vec![
        rule("new", true, None),
        rule("other", true, None),
        counting,
    ]);
    c.reload(new, 2);
    let batch = vec![rec("10.0.0.5", T0 + 2 * S)];
    let mut out = Vec::new();
    // A late batch evaluated with generation 1: its hit of "count" (index 1 then) is the third
    // in the window; its hit of "gone" has no rule any more.
    c.batch_of(1, &batch, &[h(1, 2), h(0, 2)], 3, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(det(&out[0]).rule.id, "count");
    out.clear();
    c.batch_of(2, &batch, &[h(0, 3)], 4, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(det(&out[0]).rule.id, "new");
    // Two reloads late: nothing to map it with.
    out.clear();
    c.batch_of(0, &batch, &[h(0, 4)], 5, &mut out);
    assert!(out.is_empty());
    let st = c.status();
    assert_eq!(st.stale_hits, 2);
    assert_eq!(st.ruleset_version, "v1");
    let count = st.by_rule.iter().find(|r| r.id == "count").unwrap();
    assert_eq!((count.hits, count.detections), (3, 1));
}
