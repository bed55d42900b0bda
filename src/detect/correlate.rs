//! The correlation stage (`docs/detection.md`): runs in the output stage, on the hits the
//! workers found, and turns them into `detection` records, one per incident.
//!
//! - A rule that makes detections by itself (`Rule::emit`) makes one per hit, with
//!   suppression: a hit of the same rule with the same source address and indicator within
//!   `detect.suppress_window` of packet time of the detection is counted, not written again.
//! - An aggregating rule (`Rule::aggregate`: native `threshold`, Sigma correlations) counts
//!   the hits of the rules it is `over`, grouped by the values of its `group_by` fields, over a
//!   sliding window of packet time; when the count (or the number of distinct values of a
//!   field, or every rule of a temporal correlation) is reached it fires once, and the group is
//!   then quiet for one window, its further hits counted as suppressed.
//!
//! Why here and not in the workers: a key like a source host spans workers (flows are pinned
//! to workers by a symmetric 5-tuple hash, so one host's flows land on all of them); the
//! workers evaluate the stateless conditions where the records are, and only hits (rare)
//! cross to this one stage. Hits of several workers arrive slightly out of order: windows are
//! measured against the newest packet time a group has seen, an older hit still counts while
//! it is inside the window, and groups are swept only well after their window.
//!
//! State is bounded: suppression entries and aggregation groups together are capped by
//! `detect.max_groups`; a group that cannot be opened is counted (`group_cap_hits`), and a
//! hit of an emitting rule is then written unsuppressed rather than lost.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use crate::enrich::intel::IntelHandle;
use crate::enrich::DnsCache;
use crate::record::detection::{
    DetectStatus, DetectedObject, DetectionBody, FeedVersion, Indicator, ObjectSource, Reputation,
    RuleCounts, RuleInfo, RulesetInfo, SensorInfo, StatsSnapshot,
};
use crate::record::{rfc3339_micros, Body, Record};
use crate::stats::StatsShared;

use super::{AggKind, Hit, RuleFormat, RuleSet};

/// Record ids named in one detection's `related[]` at most (the latest kept).
pub const MAX_RELATED: usize = 32;

/// Hits older than a group's window by this much are still taken as late arrivals before the
/// group is swept (workers hand over batches within seconds of packet time of each other).
const LATE_SLACK_NS: u64 = 10_000_000_000;

/// Sweep expired groups at most this often (packet time).
const SWEEP_EVERY_NS: u64 = 10_000_000_000;

/// Settings of the stage (`[detect]`).
#[derive(Clone, Debug, Default)]
pub struct CorrelateConfig {
    /// 0: no suppression (every hit of an emitting rule is a detection).
    pub suppress_window_ns: u64,
    pub max_groups: usize,
    pub task_id: Option<String>,
}

impl CorrelateConfig {
    pub fn from_config(c: &crate::config::DetectSection) -> CorrelateConfig {
        CorrelateConfig {
            suppress_window_ns: c.suppress_window.saturating_mul(1_000_000_000),
            max_groups: c.max_groups.max(1),
            task_id: c.task_id.clone().filter(|t| !t.is_empty()),
        }
    }
}

/// What detection records read besides the hits' records: names learnt passively, the
/// statistics store, the reputation feeds' versions, the home networks.
#[derive(Clone, Default)]
pub struct Sources {
    pub dns_cache: Option<Arc<DnsCache>>,
    pub stats: Option<Arc<StatsShared>>,
    pub intel: Option<IntelHandle>,
    pub home_net: Vec<ipnet::IpNet>,
}

/// One suppression entry: a detection written at `start_ns`, repeats counted.
#[derive(Debug)]
struct Suppress {
    start_ns: u64,
    repeats: u64,
}

/// One counted hit in an aggregation window.
#[derive(Debug)]
struct Event {
    ts_ns: u64,
    /// Sequence number (record id) of the hit's record.
    seq: u64,
    /// Index of the rule that hit (temporal correlations).
    rule: u32,
    /// Values of the distinct-count field (Distinct).
    values: Vec<String>,
}

#[derive(Debug, Default)]
struct Group {
    events: VecDeque<Event>,
    /// Newest packet time seen by the group.
    newest_ns: u64,
    /// After a detection: hits before this time are counted as suppressed.
    quiet_until_ns: u64,
    /// Hits seen since the group opened (for the detection's `count`).
    hits: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    hits: u64,
    detections: u64,
    suppressed: u64,
}

/// The correlation stage's state.
pub struct Correlator {
    rules: Arc<RuleSet>,
    cfg: CorrelateConfig,
    src: Sources,
    run_id: String,
    /// Rule index → the aggregating rules its hits feed.
    feeds: Vec<Vec<u32>>,
    suppress: HashMap<(u32, String), Suppress>,
    groups: HashMap<(u32, String), Group>,
    counts: Vec<Counts>,
    hits: u64,
    detections: u64,
    suppressed: u64,
    cap_hits: u64,
    now_ns: u64,
    last_sweep_ns: u64,
    time_ns: u64,
    calls: u64,
    /// Generation of `rules` (`detect::live::LiveRules`).
    generation: u64,
    /// The generation before the last reload, with its rule indices mapped onto `rules`
    /// (by rule id): hits of batches evaluated just before a reload.
    previous: Option<(u64, Vec<Option<u32>>)>,
    /// Hits of an older rule set whose rule is gone, or of a generation too old to map.
    stale_hits: u64,
}

/// Rule index → the aggregating rules its hits feed.
fn feeds_of(rules: &RuleSet) -> Vec<Vec<u32>> {
    let mut feeds = vec![Vec::new(); rules.rules.len()];
    for (i, r) in rules.rules.iter().enumerate() {
        if let Some(a) = &r.aggregate {
            for &o in &a.over {
                if let Some(f) = feeds.get_mut(o as usize) {
                    if !f.contains(&(i as u32)) {
                        f.push(i as u32);
                    }
                }
            }
        }
    }
    feeds
}

impl Correlator {
    /// `run_id`: the output's run id, the first part of the record ids (`<run>-<seq>`).
    pub fn new(rules: Arc<RuleSet>, cfg: CorrelateConfig, src: Sources, run_id: &str) -> Self {
        let n = rules.rules.len();
        let feeds = feeds_of(&rules);
        Correlator {
            rules,
            cfg,
            src,
            run_id: run_id.to_string(),
            feeds,
            suppress: HashMap::new(),
            groups: HashMap::new(),
            counts: vec![Counts::default(); n],
            hits: 0,
            detections: 0,
            suppressed: 0,
            cap_hits: 0,
            now_ns: 0,
            last_sweep_ns: 0,
            time_ns: 0,
            calls: 0,
            generation: 1,
            previous: None,
            stale_hits: 0,
        }
    }

    /// Switches to the rules of `generation` (a SIGHUP reload). Open windows, suppressions and
    /// counters of rules that keep their id carry over; those of rules that are gone are
    /// dropped. Hits of batches evaluated with the rules before are read against them by id
    /// ([`Correlator::batch_of`]).
    pub fn reload(&mut self, rules: Arc<RuleSet>, generation: u64) {
        let index: HashMap<&str, u32> = rules
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.meta.id.as_str(), i as u32))
            .collect();
        let map: Vec<Option<u32>> = self
            .rules
            .rules
            .iter()
            .map(|r| index.get(r.meta.id.as_str()).copied())
            .collect();
        let to_new = |i: u32| map.get(i as usize).copied().flatten();
        self.groups = std::mem::take(&mut self.groups)
            .into_iter()
            .filter_map(|((r, k), mut g)| {
                let r = to_new(r)?;
                g.events.retain_mut(|e| match to_new(e.rule) {
                    Some(n) => {
                        e.rule = n;
                        true
                    }
                    None => false,
                });
                Some(((r, k), g))
            })
            .collect();
        self.suppress = std::mem::take(&mut self.suppress)
            .into_iter()
            .filter_map(|((r, k), v)| Some(((to_new(r)?, k), v)))
            .collect();
        let mut counts = vec![Counts::default(); rules.rules.len()];
        for (old, c) in self.counts.iter().enumerate() {
            if let Some(n) = to_new(old as u32).and_then(|n| counts.get_mut(n as usize)) {
                *n = *c;
            }
        }
        self.counts = counts;
        self.feeds = feeds_of(&rules);
        self.rules = rules;
        self.previous = Some((self.generation, map));
        self.generation = generation;
    }

    /// [`Correlator::batch`] for hits evaluated with the rules of `generation`: those of the
    /// generation before the last reload are mapped onto the current rules by rule id.
    pub fn batch_of(
        &mut self,
        generation: u64,
        batch: &[Record],
        hits: &[Hit],
        first_seq: u64,
        out: &mut Vec<Record>,
    ) {
        if generation == self.generation {
            return self.batch(batch, hits, first_seq, out);
        }
        let mut mapped = Vec::with_capacity(hits.len());
        for h in hits {
            let rule = self
                .previous
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .and_then(|(_, m)| m.get(h.rule as usize).copied().flatten());
            match rule {
                Some(rule) => {
                    let mut h = h.clone();
                    h.rule = rule;
                    mapped.push(h);
                }
                None => self.stale_hits += 1,
            }
        }
        self.batch(batch, &mapped, first_seq, out);
    }

    /// The hits of one batch (`hits[i].record` indexes `batch`); `first_seq`: the sequence
    /// number the output gives `batch[0]` (the record ids). Detections go to `out`.
    pub fn batch(&mut self, batch: &[Record], hits: &[Hit], first_seq: u64, out: &mut Vec<Record>) {
        let started = std::time::Instant::now();
        for h in hits {
            self.hit(batch, h, first_seq, out);
        }
        if self.now_ns >= self.last_sweep_ns.saturating_add(SWEEP_EVERY_NS) {
            self.sweep();
        }
        self.time_ns += started.elapsed().as_nanos() as u64;
        self.calls += 1;
    }

    fn hit(&mut self, batch: &[Record], h: &Hit, first_seq: u64, out: &mut Vec<Record>) {
        let Some(emit) = self.rules.rules.get(h.rule as usize).map(|r| r.emit) else {
            return;
        };
        self.hits += 1;
        self.now_ns = self.now_ns.max(h.ts_ns);
        if let Some(c) = self.counts.get_mut(h.rule as usize) {
            c.hits += 1;
        }
        let rec = batch.get(h.record as usize);
        let seq = first_seq + u64::from(h.record);
        if emit {
            self.single(h, rec, seq, out);
        }
        let feeds = self.feeds.get(h.rule as usize).cloned().unwrap_or_default();
        for a in feeds {
            self.aggregate(a, h, rec, seq, out);
        }
    }

    fn open_slots(&mut self) -> bool {
        if self.suppress.len() + self.groups.len() < self.cfg.max_groups {
            return true;
        }
        self.sweep();
        if self.suppress.len() + self.groups.len() < self.cfg.max_groups {
            return true;
        }
        self.cap_hits += 1;
        false
    }

    /// A hit of a rule that makes detections by itself.
    fn single(&mut self, h: &Hit, rec: Option<&Record>, seq: u64, out: &mut Vec<Record>) {
        let window = self.cfg.suppress_window_ns;
        if window > 0 {
            let src = rec
                .and_then(|r| r.flow.as_ref())
                .map(|f| f.src_ip.to_string())
                .unwrap_or_default();
            let ind = h.indicator.as_ref().map_or("", |i| i.value.as_str());
            let key = (h.rule, format!("{src}\u{1f}{ind}"));
            if let Some(s) = self.suppress.get_mut(&key) {
                if h.ts_ns.abs_diff(s.start_ns) < window {
                    s.repeats += 1;
                    self.suppressed += 1;
                    if let Some(c) = self.counts.get_mut(h.rule as usize) {
                        c.suppressed += 1;
                    }
                    return;
                }
                s.start_ns = h.ts_ns;
                s.repeats = 0;
            } else if self.open_slots() {
                self.suppress.insert(
                    key,
                    Suppress {
                        start_ns: h.ts_ns,
                        repeats: 0,
                    },
                );
            }
        }
        let d = Incident {
            rule: h.rule,
            trigger: h,
            rec,
            related: vec![seq],
            related_total: 1,
            first_ns: h.ts_ns,
            last_ns: h.ts_ns,
            count: 1,
            reason: None,
            indicator: h.indicator.clone(),
        };
        out.extend(self.detection(&d));
    }

    /// A hit counted by the aggregating rule `a`.
    fn aggregate(
        &mut self,
        a: u32,
        h: &Hit,
        rec: Option<&Record>,
        seq: u64,
        out: &mut Vec<Record>,
    ) {
        let rules = self.rules.clone();
        let Some(rule) = rules.rules.get(a as usize) else {
            return;
        };
        let Some(agg) = &rule.aggregate else { return };
        let key_vals: Vec<String> = agg
            .group_by
            .iter()
            .map(|f| value_of(h, rec, f).unwrap_or_default())
            .collect();
        let key = (a, key_vals.join("\u{1f}"));
        if !self.groups.contains_key(&key) && !self.open_slots() {
            return;
        }
        let g = self.groups.entry(key.clone()).or_default();
        g.hits += 1;
        g.newest_ns = g.newest_ns.max(h.ts_ns);
        if h.ts_ns < g.quiet_until_ns {
            self.suppressed += 1;
            if let Some(c) = self.counts.get_mut(a as usize) {
                c.suppressed += 1;
            }
            return;
        }
        let window = agg.window_ns;
        let values: Vec<String> = match &agg.kind {
            AggKind::Distinct { field, .. } => values_of(h, rec, field),
            _ => Vec::new(),
        };
        if matches!(agg.kind, AggKind::Distinct { .. }) && values.is_empty() {
            // Nothing to count distinctly.
            return;
        }
        // One event per distinct value (Distinct) or per rule (Temporal): the latest stays.
        match &agg.kind {
            AggKind::Distinct { .. } => g.events.retain(|e| e.values != values),
            AggKind::Temporal { .. } => g.events.retain(|e| e.rule != h.rule),
            AggKind::Count { .. } => {}
        }
        g.events.push_back(Event {
            ts_ns: h.ts_ns,
            seq,
            rule: h.rule,
            values,
        });
        let newest = g.newest_ns;
        g.events.retain(|e| e.ts_ns.saturating_add(window) > newest);
        let reached = match &agg.kind {
            AggKind::Count { min } => g.events.len() as u64 >= (*min).max(1),
            AggKind::Distinct { min, .. } => g.events.len() as u64 >= (*min).max(1),
            AggKind::Temporal { ordered } => {
                let mut at = Vec::with_capacity(agg.over.len());
                for o in &agg.over {
                    match g.events.iter().find(|e| e.rule == *o) {
                        Some(e) => at.push(e.ts_ns),
                        None => break,
                    }
                }
                at.len() == agg.over.len() && (!ordered || at.windows(2).all(|w| w[0] <= w[1]))
            }
        };
        // Keep what is needed to reach the threshold and no more.
        let cap = match &agg.kind {
            AggKind::Count { min } | AggKind::Distinct { min, .. } => (*min).max(1) as usize,
            AggKind::Temporal { .. } => agg.over.len().max(1),
        };
        while g.events.len() > cap {
            g.events.pop_front();
        }
        if !reached {
            return;
        }
        let events: Vec<Event> = g.events.drain(..).collect();
        g.quiet_until_ns = h.ts_ns.saturating_add(window);
        let count = g.hits;
        g.hits = 0;
        let first_ns = events.iter().map(|e| e.ts_ns).min().unwrap_or(h.ts_ns);
        let last_ns = events.iter().map(|e| e.ts_ns).max().unwrap_or(h.ts_ns);
        let related_total = events.len() as u64;
        let related: Vec<u64> = events
            .iter()
            .rev()
            .take(MAX_RELATED)
            .rev()
            .map(|e| e.seq)
            .collect();
        let by: Vec<String> = agg
            .group_by
            .iter()
            .zip(key_vals.iter())
            .map(|(f, v)| format!("{f} {v}"))
            .collect();
        let by = if by.is_empty() {
            String::new()
        } else {
            format!(" from {}", by.join(", "))
        };
        let secs = window as f64 / 1e9;
        let reason = match &agg.kind {
            AggKind::Count { min } => format!(
                "{} matching events{by} within {secs} s (threshold {min})",
                events.len()
            ),
            AggKind::Distinct { field, min } => format!(
                "{} distinct {field}{by} within {secs} s (threshold {min})",
                events.len()
            ),
            AggKind::Temporal { ordered } => {
                let names: Vec<&str> = agg
                    .over
                    .iter()
                    .filter_map(|o| rules.rules.get(*o as usize))
                    .map(|r| r.meta.name.as_str())
                    .collect();
                format!(
                    "{}{by} within {secs} s{}: {}",
                    if names.len() > 1 {
                        "all of the rules matched"
                    } else {
                        "the rule matched"
                    },
                    if *ordered { ", in order" } else { "" },
                    names.join(", ")
                )
            }
        };
        let indicator = h.indicator.clone().or_else(|| {
            agg.group_by
                .iter()
                .zip(key_vals.iter())
                .find(|(_, v)| !v.is_empty())
                .map(|(f, v)| Indicator {
                    kind: kind_of_field(f),
                    value: v.clone(),
                })
        });
        let d = Incident {
            rule: a,
            trigger: h,
            rec,
            related,
            related_total,
            first_ns,
            last_ns,
            count,
            reason: Some(reason),
            indicator,
        };
        out.extend(self.detection(&d));
    }

    /// Drops suppression entries and groups whose window has passed.
    fn sweep(&mut self) {
        self.last_sweep_ns = self.now_ns;
        let now = self.now_ns;
        let sw = self.cfg.suppress_window_ns;
        self.suppress
            .retain(|_, s| s.start_ns.saturating_add(sw).saturating_add(LATE_SLACK_NS) > now);
        let rules = &self.rules.rules;
        self.groups.retain(|(a, _), g| {
            let window = rules
                .get(*a as usize)
                .and_then(|r| r.aggregate.as_ref())
                .map_or(0, |x| x.window_ns);
            g.newest_ns
                .max(g.quiet_until_ns)
                .saturating_add(window)
                .saturating_add(LATE_SLACK_NS)
                > now
        });
    }

    /// The `detect` block of `sensor_status`.
    pub fn status(&self) -> DetectStatus {
        let r = &self.rules.report;
        let mut by_rule: Vec<RuleCounts> = self
            .rules
            .rules
            .iter()
            .zip(self.counts.iter())
            .filter(|(_, c)| c.hits > 0 || c.detections > 0 || c.suppressed > 0)
            .map(|(r, c)| RuleCounts {
                id: r.meta.id.clone(),
                name: r.meta.name.clone(),
                hits: c.hits,
                detections: c.detections,
                suppressed: c.suppressed,
            })
            .collect();
        by_rule.sort_by(|a, b| a.id.cmp(&b.id));
        DetectStatus {
            rules_native: u64::from(r.native),
            rules_sigma: u64::from(r.sigma),
            rejected: r.rejected.len() as u64,
            ruleset_version: self.rules.version.clone(),
            hits: self.hits,
            detections: self.detections,
            suppressed: self.suppressed,
            groups_open: (self.suppress.len() + self.groups.len()) as u64,
            group_cap_hits: self.cap_hits,
            stale_hits: self.stale_hits,
            by_rule,
            correlate_ns: self.time_ns,
            correlate_calls: self.calls,
        }
    }

    fn detection(&mut self, d: &Incident<'_>) -> Option<Record> {
        let rules = self.rules.clone();
        let m = &rules.rules.get(d.rule as usize)?.meta;
        self.detections += 1;
        if let Some(c) = self.counts.get_mut(d.rule as usize) {
            c.detections += 1;
        }
        let mut reasons = Vec::new();
        if !m.reason.is_empty() {
            reasons.push(m.reason.clone());
        }
        if let Some(r) = &d.reason {
            reasons.push(r.clone());
        }
        reasons.extend(d.trigger.reasons.iter().cloned());
        let related = d
            .related
            .iter()
            .map(|s| format!("{}-{s}", self.run_id))
            .collect();
        let rec = d.rec;
        let object = rec.and_then(|r| object_of(r, d.indicator.as_ref()));
        let source = rec.and_then(|r| self.source_of(r));
        let reputation = rec.map(reputation_of).unwrap_or_default();
        let statistics = self.stats_of(rec, object.as_ref(), d.indicator.as_ref());
        let feeds = self
            .src
            .intel
            .as_ref()
            .map(|h| {
                h.status()
                    .feeds
                    .into_iter()
                    .map(|f| FeedVersion {
                        name: f.name,
                        version: f.version,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = DetectionBody {
            rule: RuleInfo {
                id: m.id.clone(),
                name: m.name.clone(),
                version: m.version,
                priority: m.priority,
                technology: m.technology.as_str(),
                format: m.format.as_str(),
                updated: m.updated.clone(),
            },
            category: m.category.clone(),
            threat_name: m.threat_name.clone(),
            threat_level: m.threat_level.as_str(),
            indicator: d.indicator.clone(),
            reasons,
            related,
            related_total: d.related_total,
            mitre: m.mitre.clone(),
            object,
            source,
            reputation,
            reputation_checked: self.src.intel.is_some(),
            signature_checked: matches!(m.format, RuleFormat::Native | RuleFormat::Sigma),
            statistics,
            first_event: rfc3339_micros(d.first_ns),
            last_event: rfc3339_micros(d.last_ns),
            count: d.count,
            ruleset: RulesetInfo {
                version: self.rules.version.clone(),
                loaded_at: self.rules.loaded_at.clone(),
                feeds,
            },
            sensor: self
                .cfg
                .task_id
                .as_ref()
                .map(|t| SensorInfo { task_id: t.clone() }),
        };
        Some(Record {
            ts_ns: d.last_ns,
            flow: rec.and_then(|r| r.flow.clone()),
            body: Body::Detection(Box::new(body)),
            intel: Vec::new(),
            parent: None,
        })
    }

    fn is_home(&self, ip: IpAddr) -> bool {
        self.src.home_net.iter().any(|n| n.contains(&ip))
    }

    /// Item 5: where the object came from and which host asked for it.
    fn source_of(&self, r: &Record) -> Option<ObjectSource> {
        let f = r.flow.as_ref()?;
        let client = f.src_ip;
        let mut s = ObjectSource {
            kind: r.body.event_type().to_string(),
            server_ip: Some(f.dest_ip.to_string()),
            client_ip: Some(client.to_string()),
            ..Default::default()
        };
        if self.is_home(client) {
            s.client_ip_md5 = Some(crate::util::hex::md5_hex(client.to_string().as_bytes()));
        }
        s.client_host = self.src.dns_cache.as_ref().and_then(|c| c.name_of(client));
        s.client_host_md5 = s
            .client_host
            .as_ref()
            .map(|h| crate::util::hex::md5_hex(h.to_ascii_lowercase().as_bytes()));
        match &r.body {
            Body::Http(h) => {
                s.url = h.url.clone();
                s.referrer = h.referrer.clone();
                s.user_agent = h.user_agent.clone();
            }
            Body::File(fb) => {
                s.kind = fb.source.to_string();
                s.url = fb.url.clone();
                s.referrer = fb.referrer.clone();
                s.sender = fb.sender.clone();
            }
            Body::Email(e) => {
                s.kind = e.protocol.to_string();
                s.sender = e.mail_from.clone().or_else(|| e.from.clone());
            }
            _ => {}
        }
        Some(s)
    }

    /// Item 12: the statistics of the detection's domain or file, as committed.
    fn stats_of(
        &self,
        rec: Option<&Record>,
        object: Option<&DetectedObject>,
        ind: Option<&Indicator>,
    ) -> Option<StatsSnapshot> {
        let st = self.src.stats.as_ref()?;
        if let Some(o) = object.filter(|o| o.kind == "file") {
            let sha = o.sha256.as_deref()?;
            let key: [u8; 32] = crate::util::hex::decode(sha)?.try_into().ok()?;
            let fs = st.file(&key)?;
            let addrs: Vec<String> = fs.first_by_host.iter().map(|(h, _)| h.clone()).collect();
            return Some(StatsSnapshot {
                kind: "file",
                key: sha.to_string(),
                requests: fs.count,
                hosts: fs.distinct_hosts(),
                users: None,
                users_md5: Vec::new(),
                first_seen: (fs.first_seen > 0).then(|| rfc3339_micros(fs.first_seen)),
                last_seen: (fs.last_seen > 0).then(|| rfc3339_micros(fs.last_seen)),
                duration_s: fs.last_seen.saturating_sub(fs.first_seen) / 1_000_000_000,
                host_names: self.host_names(st, &addrs),
                host_addrs: addrs,
            });
        }
        let name = domain_of(rec, object, ind)?;
        let norm = crate::stats::domain::normalise(&name)?;
        let reg = crate::stats::domain::registered(&norm).to_string();
        let ds = st.domain(&reg)?;
        let addrs = ds.hosts.items.clone();
        Some(StatsSnapshot {
            kind: "domain",
            key: reg,
            requests: ds.requests,
            hosts: ds.distinct_hosts(),
            users: Some(ds.distinct_users()),
            users_md5: ds.users_md5.items.clone(),
            first_seen: (ds.first_seen > 0).then(|| rfc3339_micros(ds.first_seen)),
            last_seen: (ds.last_seen > 0).then(|| rfc3339_micros(ds.last_seen)),
            duration_s: ds.last_seen.saturating_sub(ds.first_seen) / 1_000_000_000,
            host_names: self.host_names(st, &addrs),
            host_addrs: addrs,
        })
    }

    /// Names of the hosts (statistics store's hosts table, else the DNS cache's PTR names).
    fn host_names(&self, stats: &crate::stats::StatsShared, addrs: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in addrs.iter().take(MAX_RELATED) {
            let mut names: Vec<String> = stats
                .host(a)
                .map(|h| {
                    h.names
                        .items
                        .iter()
                        .map(|n| n.split_once(':').map_or(n.as_str(), |x| x.1).to_string())
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                if let (Some(c), Ok(ip)) = (&self.src.dns_cache, a.parse::<IpAddr>()) {
                    names.extend(c.name_of(ip));
                }
            }
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// What one detection is made of.
struct Incident<'a> {
    rule: u32,
    trigger: &'a Hit,
    rec: Option<&'a Record>,
    related: Vec<u64>,
    related_total: u64,
    first_ns: u64,
    last_ns: u64,
    count: u64,
    reason: Option<String>,
    indicator: Option<Indicator>,
}

/// The value of a group-by field: from the hit's values, else the record's connection block.
fn value_of(h: &Hit, rec: Option<&Record>, field: &str) -> Option<String> {
    if let Some((_, v)) = h.values.iter().find(|(p, _)| p == field) {
        return Some(v.clone());
    }
    rec.and_then(|r| flow_field(r, field))
}

/// Every value of `field` the hit carries (a list field gives several).
fn values_of(h: &Hit, rec: Option<&Record>, field: &str) -> Vec<String> {
    let mut v: Vec<String> = h
        .values
        .iter()
        .filter(|(p, _)| p == field)
        .map(|(_, v)| v.clone())
        .collect();
    if v.is_empty() {
        if let Some(x) = rec.and_then(|r| flow_field(r, field)) {
            v.push(x);
        }
    }
    v.sort();
    v.dedup();
    v
}

/// The connection block's fields by contract name.
fn flow_field(r: &Record, field: &str) -> Option<String> {
    let f = r.flow.as_ref()?;
    Some(match field {
        "src_ip" => f.src_ip.to_string(),
        "dest_ip" => f.dest_ip.to_string(),
        "src_port" => f.src_port.to_string(),
        "dest_port" => f.dest_port.to_string(),
        _ => return None,
    })
}

/// The indicator type a field's values are.
fn kind_of_field(f: &str) -> &'static str {
    match f {
        "src_ip" | "dest_ip" => "ip",
        "dns.query" | "http.host" | "tls.sni" | "dns.registered_domain" => "domain",
        "http.url" => "url",
        "http.user_agent" => "user_agent",
        "kerberos.cname" | "kerberos.upn" | "http.auth_user" => "account",
        "file.sha256" | "file.md5" => "file",
        _ => "value",
    }
}

/// Item 4: the detected object of a record.
fn object_of(r: &Record, ind: Option<&Indicator>) -> Option<DetectedObject> {
    match &r.body {
        Body::File(f) => {
            let pe = f.pe.as_ref();
            let signed = pe
                .and_then(|p| p.get("signature_declared"))
                .and_then(|v| v.as_bool());
            let signer = pe
                .and_then(|p| p.get("signer_org"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            Some(DetectedObject {
                kind: "file",
                name: f.name.clone(),
                size: Some(f.size),
                md5: Some(f.md5.clone()),
                sha256: Some(f.sha256.clone()),
                format: Some(f.format.clone()),
                file_id: Some(f.id.clone()),
                signature_present: pe.map(|_| signed.unwrap_or(false)),
                signer,
                trust_status: pe.map(|_| {
                    if signed.unwrap_or(false) {
                        "unverified"
                    } else {
                        "unsigned"
                    }
                }),
            })
        }
        Body::Email(e) => {
            // The attachment the indicator names, else the first one.
            let a = e
                .attachments
                .iter()
                .find(|a| {
                    ind.is_some_and(|i| {
                        a.name.as_deref() == Some(i.value.as_str())
                            || a.sha256 == i.value
                            || a.md5 == i.value
                    })
                })
                .or_else(|| e.attachments.first())?;
            Some(DetectedObject {
                kind: "file",
                name: a.name.clone(),
                size: Some(a.size),
                md5: Some(a.md5.clone()),
                sha256: Some(a.sha256.clone()),
                format: Some(a.format.clone()),
                file_id: Some(a.file_id.clone()),
                ..Default::default()
            })
        }
        Body::Http(h) => Some(DetectedObject {
            kind: "url",
            name: h.url.clone().or_else(|| h.host.clone()),
            ..Default::default()
        }),
        Body::Dns(d) => d.query.as_ref().map(|q| DetectedObject {
            kind: "domain",
            name: Some(q.clone()),
            ..Default::default()
        }),
        Body::Tls(t) => t.sni.as_ref().map(|q| DetectedObject {
            kind: "domain",
            name: Some(q.clone()),
            ..Default::default()
        }),
        Body::Kerberos(k) => k
            .upn
            .clone()
            .or_else(|| k.cname.clone())
            .map(|n| DetectedObject {
                kind: "account",
                name: Some(n),
                ..Default::default()
            }),
        _ => match ind {
            Some(i) if matches!(i.kind, "ip" | "domain" | "url" | "account") => {
                Some(DetectedObject {
                    kind: i.kind,
                    name: Some(i.value.clone()),
                    ..Default::default()
                })
            }
            _ => r.flow.as_ref().map(|f| DetectedObject {
                kind: "ip",
                name: Some(f.dest_ip.to_string()),
                ..Default::default()
            }),
        },
    }
}

/// The domain a detection is about, for its statistics.
fn domain_of(
    rec: Option<&Record>,
    object: Option<&DetectedObject>,
    ind: Option<&Indicator>,
) -> Option<String> {
    if let Some(i) = ind.filter(|i| i.kind == "domain") {
        return Some(i.value.clone());
    }
    if let Some(o) = object.filter(|o| o.kind == "domain") {
        return o.name.clone();
    }
    match &rec?.body {
        Body::Http(h) => h
            .host
            .as_deref()
            .map(crate::enrich::dns_cache::normalise_host),
        Body::File(f) => f
            .url
            .as_deref()
            .and_then(|u| u.split("://").nth(1))
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .map(crate::enrich::dns_cache::normalise_host),
        _ => None,
    }
}

/// Item 2: the record's reputation hits.
fn reputation_of(r: &Record) -> Vec<Reputation> {
    let mut out: Vec<Reputation> = Vec::new();
    for h in &r.intel {
        let x = Reputation {
            indicator: h.indicator.clone(),
            kind: h.kind,
            field: h.field,
            value: h.value.clone(),
            feed: h.feed.clone(),
            feed_version: h.feed_version.clone(),
            verdict: "listed",
        };
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests;
