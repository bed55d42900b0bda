//! What the workers count: one [`WorkerStats`] per worker, summed across workers for the
//! end-of-run summary and the `sensor_status` records.
//!
//! It lives here, below the pipeline that fills it, so that status records can be built
//! without knowing how the pipeline runs.

use std::collections::BTreeMap;

use crate::capture::CaptureStats;
use crate::decode::defrag::DefragStats;
use crate::decode::Anomaly;
use crate::flow::table::FlowStats;
use crate::flow::tcp::ReassemblyStats;
use crate::vocab::AppProto;

/// Everything a worker counted.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    pub packets: u64,
    pub bytes: u64,
    pub non_ip: u64,
    pub malformed: u64,
    /// Per [`Anomaly::ALL`] index.
    pub anomalies: [u64; Anomaly::ALL.len()],
    pub flow: FlowStats,
    pub defrag: DefragStats,
    pub reasm: ReassemblyStats,
    pub reasm_memcap_hits: u64,
    /// Bodies released by the file inspection memory cap (`files.inspect_memcap`).
    pub inspect_released: u64,
    pub records: u64,
    /// Accounts, hosts, KDCs and names learnt from the records.
    pub learned: crate::enrich::Learned,
    /// Anomalies reported by application parsers, by name.
    pub app_anomalies: BTreeMap<&'static str, u64>,
    /// Time spent in the application layer (detection, parsers) and packets handed to it, per
    /// [`AppProto`] of the flow (`Unknown`: detection still running).
    pub app_time_ns: [u64; AppProto::COUNT],
    pub app_calls: [u64; AppProto::COUNT],
    /// Time spent evaluating detection rules on the records (`detect`), and batches evaluated.
    pub rules_time_ns: u64,
    pub rules_calls: u64,
}

impl WorkerStats {
    /// Adds another worker's final counters, taking over what it learnt (no copy).
    pub fn absorb(&mut self, mut o: WorkerStats) {
        let learned = std::mem::take(&mut o.learned);
        self.add(&o);
        self.learned.merge(learned);
    }

    /// The counters without what was learnt (that goes to `--learned-out`, not to status
    /// records), keeping only its drop count.
    pub fn counters(&self) -> WorkerStats {
        let mut c = WorkerStats {
            learned: Default::default(),
            ..Default::default()
        };
        c.add_counters(self);
        c.learned.dropped = self.learned.dropped;
        c
    }

    pub fn add(&mut self, o: &WorkerStats) {
        self.add_counters(o);
        self.learned.merge(o.learned.clone());
    }

    /// Every counter but `learned` (merged by the callers, by value or by copy). Every field
    /// is named (no `..`): a new counter that is not summed does not compile.
    fn add_counters(&mut self, o: &WorkerStats) {
        let WorkerStats {
            packets,
            bytes,
            non_ip,
            malformed,
            anomalies,
            flow,
            defrag,
            reasm,
            reasm_memcap_hits,
            inspect_released,
            records,
            learned: _,
            app_anomalies,
            app_time_ns,
            app_calls,
            rules_time_ns,
            rules_calls,
        } = o;
        self.packets += packets;
        self.bytes += bytes;
        self.non_ip += non_ip;
        self.malformed += malformed;
        add_each(&mut self.anomalies, anomalies);
        self.flow.add(flow);
        self.defrag.add(defrag);
        self.reasm.add(reasm);
        self.reasm_memcap_hits += reasm_memcap_hits;
        self.inspect_released += inspect_released;
        self.records += records;
        for (k, v) in app_anomalies {
            *self.app_anomalies.entry(k).or_insert(0) += v;
        }
        add_each(&mut self.app_time_ns, app_time_ns);
        add_each(&mut self.app_calls, app_calls);
        self.rules_time_ns += rules_time_ns;
        self.rules_calls += rules_calls;
    }

    /// (name, count) of every non-zero anomaly counter, for summaries and status records.
    pub fn anomaly_counts(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = Anomaly::ALL
            .iter()
            .zip(self.anomalies.iter())
            .filter(|(_, &n)| n > 0)
            .map(|(a, &n)| (a.as_str(), n))
            .collect();
        let extra = [
            ("decode.malformed", self.malformed),
            ("flow.cap_drops", self.flow.cap_drops),
            ("flow.emergency_evictions", self.flow.emergency_evictions),
            ("flow.evicted_idle_no_data", self.flow.evicted_idle_no_data),
            ("stream.gaps", self.reasm.gaps),
            ("stream.overlap_conflicts", self.reasm.overlap_conflicts),
            ("stream.depth_reached", self.reasm.depth_reached),
            ("stream.memcap_drops", self.reasm.memcap_drops),
            ("stream.buffer_cap_drops", self.reasm.buffer_cap_drops),
        ];
        v.extend(
            defrag_anomalies(&self.defrag)
                .into_iter()
                .filter(|(_, n)| *n > 0),
        );
        v.extend(extra.into_iter().filter(|(_, n)| *n > 0));
        v.extend(self.app_anomalies.iter().map(|(k, n)| (*k, *n)));
        v
    }
}

impl WorkerStats {
    /// Every non-zero anomaly counter by name, with those of the replay dispatcher (its
    /// defragmenter) and of the capture source added in: what summaries and status records show.
    pub fn all_anomalies(
        &self,
        dispatcher_defrag: &DefragStats,
        capture: &CaptureStats,
    ) -> BTreeMap<&'static str, u64> {
        let mut m: BTreeMap<&'static str, u64> = BTreeMap::new();
        let more = defrag_anomalies(dispatcher_defrag)
            .into_iter()
            .chain(capture.anomalies());
        for (k, v) in self.anomaly_counts().into_iter().chain(more) {
            if v > 0 {
                *m.entry(k).or_insert(0) += v;
            }
        }
        m
    }
}

/// Adds counter arrays element by element.
fn add_each<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b.iter()) {
        *x += y;
    }
}

fn defrag_anomalies(d: &DefragStats) -> [(&'static str, u64); 6] {
    [
        ("defrag.memcap_drops", d.memcap_drops),
        ("defrag.timeouts", d.timeouts),
        ("defrag.overlaps", d.overlaps),
        ("defrag.invalid", d.invalid),
        ("defrag.too_many_fragments", d.too_many_fragments),
        ("defrag.conflicting_overlaps", d.conflicting_overlaps),
    ]
}
