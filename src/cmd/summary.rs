//! The one-screen summary printed at the end of a replay or capture.

use std::fmt::Write;

use crate::pipeline::Summary;

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let w = &s.workers;
    let secs = s.elapsed.as_secs_f64();
    let _ = writeln!(o, "── tapir summary ──────────────────────────────────────");
    let _ = writeln!(
        o,
        "packets      {:>12}   bytes {:>14}   workers {}",
        s.capture.packets, s.capture.bytes, s.worker_count
    );
    let _ = writeln!(
        o,
        "time         {:>11.3}s   {:.3} Gbit/s   {:.3} Mpkt/s",
        secs,
        s.gbit_per_s(),
        s.mpkt_per_s()
    );
    let _ = writeln!(
        o,
        "decoded      non-IP {}   malformed {}   truncated {}   dropped {}",
        w.non_ip, w.malformed, s.capture.truncated, s.capture.dropped
    );
    let _ = writeln!(
        o,
        "flows        {:>12}   peak {}   timeouts {}   cap drops {}   emergency evictions {}",
        w.flow.created, w.flow.peak, w.flow.timeouts, w.flow.cap_drops, w.flow.emergency_evictions
    );
    if let Some(peak) = s.peak_rss_bytes {
        let _ = writeln!(
            o,
            "memory       peak RSS {:.1} MiB",
            peak as f64 / 1048576.0
        );
    }
    let frags = s.defrag.fragments + w.defrag.fragments;
    if frags > 0 {
        let _ = writeln!(
            o,
            "fragments    {:>12}   datagrams rebuilt {}",
            frags,
            s.defrag.reassembled + w.defrag.reassembled
        );
    }
    let r = &w.reasm;
    if r.segments > 0 {
        let _ = writeln!(
            o,
            "tcp streams  segments {}   out-of-order {}   retransmissions {}   gaps {} ({} bytes)",
            r.segments, r.out_of_order, r.retransmissions, r.gaps, r.gap_bytes
        );
        let _ = writeln!(
            o,
            "tcp bytes    delivered {}   depth dropped {}   discarded {}",
            r.delivered_bytes, r.depth_dropped_bytes, r.discarded_bytes
        );
    }
    let types: Vec<String> = s
        .output
        .by_type
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        o,
        "records      {:>12}   {}",
        s.output.records,
        types.join("   ")
    );
    let l = &w.learned;
    if !l.is_empty() {
        let accounts: usize = l.accounts_by_host.values().map(|s| s.len()).sum();
        let _ = writeln!(
            o,
            "learned      {} accounts on {} hosts   {} KDCs   names for {} addresses",
            accounts,
            l.accounts_by_host.len(),
            l.kdcs.len(),
            l.names_by_ip.len()
        );
    }
    if let Some(x) = &s.extract {
        let _ = writeln!(
            o,
            "extracted    {} files ({} bytes)   duplicates {}   skipped: size {} format {} incomplete {}   disk cap {}   errors {}",
            x.written,
            x.bytes_written,
            x.duplicates,
            x.skipped_size,
            x.skipped_format,
            x.skipped_incomplete,
            x.disk_cap_hits,
            x.errors
        );
    }
    let hit: Vec<String> = s
        .limits
        .iter()
        .filter(|l| l.hits > 0)
        .map(|l| format!("{} {}", l.name, l.hits))
        .collect();
    if !hit.is_empty() {
        let _ = writeln!(o, "limits hit   {}", hit.join("   "));
    }
    if let Some(d) = &s.detect {
        let _ = writeln!(
            o,
            "detections   {:>12}   rules {} native {} sigma ({} rejected)   hits {}   suppressed {}",
            d.detections, d.rules_native, d.rules_sigma, d.rejected, d.hits, d.suppressed
        );
        for r in d.by_rule.iter().filter(|r| r.detections > 0) {
            let _ = writeln!(
                o,
                "  {:>6}  {}  {}{}",
                r.detections,
                r.id,
                r.name,
                if r.suppressed > 0 {
                    format!("   ({} repeats suppressed)", r.suppressed)
                } else {
                    String::new()
                }
            );
        }
        if d.group_cap_hits > 0 {
            let _ = writeln!(o, "  detect.max_groups reached {} times", d.group_cap_hits);
        }
    }
    let anomalies = w.all_anomalies(&s.defrag, &s.capture);
    if anomalies.is_empty() {
        let _ = writeln!(o, "anomalies    none");
    } else {
        let list: Vec<String> = anomalies.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(o, "anomalies    {}", list.join("   "));
    }
    for e in &s.capture_errors {
        let _ = writeln!(o, "error        {e}");
    }
    o
}

/// The summary as JSON (`--summary-json`): every counter it shows, under the names and in the
/// blocks the `sensor_status` records use (`capture`, `decode`, `flows`, `tcp`, `records`,
/// `limits`, `anomalies`, `extract`), so that the final status record can be checked against
/// it; what only the summary has is under `run` (time, throughput, workers, peak memory) and
/// `learned` (what passive learning kept, written whole by `--learned-out`).
pub fn json(s: &Summary) -> serde_json::Value {
    let w = &s.workers;
    let r = &w.reasm;
    let l = &w.learned;
    serde_json::json!({
        "run": {
            "workers": s.worker_count,
            "elapsed_s": s.elapsed.as_secs_f64(),
            "gbit_per_s": s.gbit_per_s(),
            "mpkt_per_s": s.mpkt_per_s(),
            "peak_rss_bytes": s.peak_rss_bytes,
        },
        "capture": s.capture,
        "decode": {
            "non_ip": w.non_ip,
            "malformed": w.malformed,
            "fragments": s.defrag.fragments + w.defrag.fragments,
            "datagrams_rebuilt": s.defrag.reassembled + w.defrag.reassembled,
        },
        "flows": {
            "created": w.flow.created,
            "ended": w.flow.ended,
            "peak": w.flow.peak,
            "timeouts": w.flow.timeouts,
        },
        "tcp": {
            "segments": r.segments,
            "out_of_order": r.out_of_order,
            "retransmissions": r.retransmissions,
            "gaps": r.gaps,
            "gap_bytes": r.gap_bytes,
            "delivered_bytes": r.delivered_bytes,
            "depth_dropped_bytes": r.depth_dropped_bytes,
            "discarded_bytes": r.discarded_bytes,
        },
        "records": {
            "written": s.output.records,
            "by_type": s.output.by_type,
        },
        "limits": s.limits,
        "anomalies": w.all_anomalies(&s.defrag, &s.capture),
        "extract": s.extract,
        "learned": {
            "accounts": l.accounts_by_host.values().map(|a| a.len()).sum::<usize>(),
            "hosts_with_accounts": l.accounts_by_host.len(),
            "kdcs": l.kdcs.len(),
            "addresses_named": l.names_by_ip.len(),
            "dropped": l.dropped,
        },
        "errors": s.capture_errors,
    })
}
