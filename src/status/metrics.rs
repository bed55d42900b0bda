//! The status counters in Prometheus text exposition format, written to a file (for
//! node_exporter's textfile collector, or anything that scrapes files).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::StatusBody;

/// Renders `s` as Prometheus text; every sample carries `sensor="<id>"`.
pub fn render(sensor: &str, s: &StatusBody) -> String {
    let mut o = String::new();
    let sensor = escape(sensor);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(o, "# HELP tapir_{name} {help}");
        let _ = writeln!(o, "# TYPE tapir_{name} {kind}");
        for (labels, v) in samples {
            let sep = if labels.is_empty() { "" } else { "," };
            let _ = writeln!(o, "tapir_{name}{{sensor=\"{sensor}\"{sep}{labels}}} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    for (name, kind, help, v) in [
        (
            "uptime_seconds",
            "gauge",
            "Seconds since start.",
            s.uptime_s,
        ),
        (
            "packets_total",
            "counter",
            "Packets captured.",
            s.capture.packets as f64,
        ),
        (
            "bytes_total",
            "counter",
            "Bytes captured (wire length).",
            s.capture.bytes as f64,
        ),
        (
            "capture_dropped_total",
            "counter",
            "Packets the kernel or the capture file reported as dropped.",
            s.capture.dropped as f64,
        ),
        (
            "decode_malformed_total",
            "counter",
            "Undecodable packets.",
            s.decode.malformed as f64,
        ),
        (
            "flows_active",
            "gauge",
            "Flows tracked now.",
            s.flows.active as f64,
        ),
        (
            "flows_created_total",
            "counter",
            "Flows created.",
            s.flows.created as f64,
        ),
        (
            "tcp_gaps_total",
            "counter",
            "TCP stream gaps.",
            s.tcp.gaps as f64,
        ),
    ] {
        family(name, kind, help, &one(v));
    }
    let by = |label: &str, it: &mut dyn Iterator<Item = (&str, f64)>| -> Vec<(String, f64)> {
        it.map(|(k, v)| (format!("{label}=\"{}\"", escape(k)), v))
            .collect()
    };
    family(
        "records_total",
        "counter",
        "Records written, by type.",
        &by(
            "event_type",
            &mut s.records.by_type.iter().map(|(k, v)| (*k, *v as f64)),
        ),
    );
    family(
        "limit_hits_total",
        "counter",
        "Times a configured limit was reached (something was dropped or cut).",
        &by(
            "limit",
            &mut s.limits.iter().map(|l| (l.name, l.hits as f64)),
        ),
    );
    family(
        "limit",
        "gauge",
        "Configured value of each limit.",
        &by(
            "limit",
            &mut s.limits.iter().map(|l| (l.name, l.limit as f64)),
        ),
    );
    family(
        "anomalies_total",
        "counter",
        "Anomalies seen, by name.",
        &by(
            "anomaly",
            &mut s.anomalies.iter().map(|(k, v)| (*k, *v as f64)),
        ),
    );
    family(
        "parser_seconds_total",
        "counter",
        "Time spent in each parser.",
        &by(
            "parser",
            &mut s.algorithms.iter().map(|a| (a.name, a.run_time_ms / 1e3)),
        ),
    );
    let m = &s.memory;
    let mem = [
        ("rss", m.rss_bytes),
        ("peak_rss", m.peak_rss_bytes),
        ("reassembly", Some(m.reassembly_bytes)),
        ("defrag", Some(m.defrag_bytes)),
    ];
    family(
        "memory_bytes",
        "gauge",
        "Memory: process RSS and what the sensor accounts.",
        &by(
            "kind",
            &mut mem.iter().filter_map(|(k, v)| Some((*k, (*v)? as f64))),
        ),
    );
    if let Some(e) = &s.export {
        let per_sink = |f: &dyn Fn(&crate::record::sensor_status::SinkBlock) -> Option<u64>| {
            e.sinks
                .iter()
                .filter_map(|k| Some((format!("sink=\"{}\"", escape(&k.name)), f(k)? as f64)))
                .collect::<Vec<_>>()
        };
        family(
            "export_records_total",
            "counter",
            "Records written (file sinks) or acknowledged by the far end (remote sinks).",
            &per_sink(&|k| Some(k.records)),
        );
        family(
            "export_pending_records",
            "gauge",
            "Records in the spool a remote sink has not had acknowledged.",
            &per_sink(&|k| k.pending),
        );
        family(
            "export_failures_total",
            "counter",
            "Failed send attempts of a remote sink.",
            &per_sink(&|k| k.failures),
        );
        if let Some(sp) = &e.spool {
            family(
                "spool_bytes",
                "gauge",
                "Bytes in the export spool.",
                &one(sp.bytes as f64),
            );
            family(
                "spool_dropped_records_total",
                "counter",
                "Records the spool quota deleted before every sink had them.",
                &one(sp.dropped_records as f64),
            );
        }
    }
    if let Some(i) = &s.interface {
        let label = format!("interface=\"{}\"", escape(&i.name));
        family(
            "interface_up",
            "gauge",
            "1 while the capture interface is up, 0 while capture waits for it.",
            &[(label.clone(), if i.state == "up" { 1.0 } else { 0.0 })],
        );
        family(
            "interface_down_total",
            "counter",
            "Times the capture interface went down.",
            &[(label, i.down_events as f64)],
        );
    }
    if let Some(f) = s.disk_free_bytes {
        family(
            "disk_free_bytes",
            "gauge",
            "Free space where the output goes.",
            &one(f as f64),
        );
    }
    o
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes the metrics to `path` atomically (a temporary file renamed over it).
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
