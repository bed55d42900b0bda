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
    let one = |v: u64| vec![(String::new(), v as f64)];
    family(
        "uptime_seconds",
        "gauge",
        "Seconds since start.",
        &[(String::new(), s.uptime_s)],
    );
    family(
        "packets_total",
        "counter",
        "Packets captured.",
        &one(s.capture.packets),
    );
    family(
        "bytes_total",
        "counter",
        "Bytes captured (wire length).",
        &one(s.capture.bytes),
    );
    family(
        "capture_dropped_total",
        "counter",
        "Packets the kernel or the capture file reported as dropped.",
        &one(s.capture.dropped),
    );
    family(
        "decode_malformed_total",
        "counter",
        "Undecodable packets.",
        &one(s.decode.malformed),
    );
    family(
        "flows_active",
        "gauge",
        "Flows tracked now.",
        &one(s.flows.active),
    );
    family(
        "flows_created_total",
        "counter",
        "Flows created.",
        &one(s.flows.created),
    );
    family(
        "tcp_gaps_total",
        "counter",
        "TCP stream gaps.",
        &one(s.tcp.gaps),
    );
    let by_type: Vec<(String, f64)> = s
        .records
        .by_type
        .iter()
        .map(|(k, v)| (format!("event_type=\"{}\"", escape(k)), *v as f64))
        .collect();
    family(
        "records_total",
        "counter",
        "Records written, by type.",
        &by_type,
    );
    let limits: Vec<(String, f64)> = s
        .limits
        .iter()
        .map(|l| (format!("limit=\"{}\"", escape(l.name)), l.hits as f64))
        .collect();
    family(
        "limit_hits_total",
        "counter",
        "Times a configured limit was reached (something was dropped or cut).",
        &limits,
    );
    let limit_values: Vec<(String, f64)> = s
        .limits
        .iter()
        .map(|l| (format!("limit=\"{}\"", escape(l.name)), l.limit as f64))
        .collect();
    family(
        "limit",
        "gauge",
        "Configured value of each limit.",
        &limit_values,
    );
    let anomalies: Vec<(String, f64)> = s
        .anomalies
        .iter()
        .map(|(k, v)| (format!("anomaly=\"{}\"", escape(k)), *v as f64))
        .collect();
    family(
        "anomalies_total",
        "counter",
        "Anomalies seen, by name.",
        &anomalies,
    );
    let parsers: Vec<(String, f64)> = s
        .algorithms
        .iter()
        .map(|a| {
            (
                format!("parser=\"{}\"", escape(a.name)),
                a.run_time_ms / 1e3,
            )
        })
        .collect();
    family(
        "parser_seconds_total",
        "counter",
        "Time spent in each parser.",
        &parsers,
    );
    let mut mem = Vec::new();
    if let Some(r) = s.memory.rss_bytes {
        mem.push(("kind=\"rss\"".to_string(), r as f64));
    }
    if let Some(r) = s.memory.peak_rss_bytes {
        mem.push(("kind=\"peak_rss\"".to_string(), r as f64));
    }
    mem.push((
        "kind=\"reassembly\"".to_string(),
        s.memory.reassembly_bytes as f64,
    ));
    mem.push(("kind=\"defrag\"".to_string(), s.memory.defrag_bytes as f64));
    family(
        "memory_bytes",
        "gauge",
        "Memory: process RSS and what the sensor accounts.",
        &mem,
    );
    if let Some(f) = s.disk_free_bytes {
        family(
            "disk_free_bytes",
            "gauge",
            "Free space where the output goes.",
            &one(f),
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
pub fn write(path: &Path, sensor: &str, s: &StatusBody) -> std::io::Result<()> {
    let text = render(sensor, s);
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
