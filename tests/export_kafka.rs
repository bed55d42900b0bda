//! The Kafka transport against a real broker (`.ci/kafka-broker`: Tansu on 127.0.0.1:9092, or
//! `TAPIR_KAFKA_BROKERS`). Tests that need the broker print "skipped: no Kafka broker at ..."
//! and return when none answers; the others need none.
//!
//! `cargo test --features kafka --test export_kafka`
#![cfg(feature = "kafka")]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tapir::export::kafka::KafkaTransport;
use tapir::export::{Line, SinkConfig, SinkError, Transport};
use testkit::kafka::{self as tk, Message};

/// The topics `.ci/kafka-broker` creates.
const TOPIC: &str = "tapir-test";
const TYPES: [&str; 3] = ["flow", "dns", "alert"];
/// How long reading a topic back may take at most (it returns as soon as all arrived).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A prefix for this run's record ids: the broker keeps the records of earlier runs.
fn run_tag(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// One record as the spool driver hands it over.
struct Record {
    event_type: &'static str,
    flow_id: Option<u64>,
    id: String,
    json: String,
}

impl Record {
    fn line(&self) -> Line<'_> {
        Line {
            event_type: self.event_type,
            flow_id: self.flow_id,
            id: &self.id,
            json: self.json.as_bytes(),
        }
    }

    /// The Kafka key the transport must use.
    fn key(&self) -> String {
        self.flow_id
            .map(|f| f.to_string())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// `n` records of the types in turn; every fifth has no flow id. Flow ids repeat (records of
/// one flow), so one key carries several records.
fn records(tag: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let event_type = TYPES[i % TYPES.len()];
            let flow_id = (i % 5 != 4).then_some(9_000_000_000_000 + (i / 3) as u64);
            let id = format!("{tag}-{i}");
            let flow = flow_id
                .map(|f| format!(",\"flow_id\":{f}"))
                .unwrap_or_default();
            let json = format!(
                "{{\"timestamp\":\"2026-12-05T10:15:00.{i:06}Z\",\"event_type\":\"{event_type}\",\
                 \"id\":\"{id}\"{flow},\"n\":{i}}}"
            );
            Record {
                event_type,
                flow_id,
                id,
                json,
            }
        })
        .collect()
}

fn sink(brokers: &str) -> SinkConfig {
    SinkConfig {
        name: "kafka-test".into(),
        kind: "kafka".into(),
        brokers: Some(brokers.into()),
        topic: Some(TOPIC.into()),
        timeout_s: 30,
        ..SinkConfig::default()
    }
}

/// The id in a message's JSON payload.
fn id_of(m: &Message) -> String {
    let json = m.json().unwrap();
    json["id"].as_str().unwrap_or_default().to_string()
}

fn is_ours(tag: &str) -> impl Fn(&Message) -> bool + '_ {
    move |m| {
        m.json()
            .ok()
            .and_then(|j| {
                j["id"]
                    .as_str()
                    .map(|id| id.starts_with(&format!("{tag}-")))
            })
            .unwrap_or(false)
    }
}

/// Every record arrived once, with its key and its line unchanged; within a partition in the
/// order sent.
fn check_received(sent: &[&Record], got: &[Message]) {
    check_arrived(sent, got, true);
}

/// Every record arrived, with its key and its line unchanged; with `exactly_once`, once and
/// within a partition in the order sent.
fn check_arrived(sent: &[&Record], got: &[Message], exactly_once: bool) {
    let by_id: BTreeMap<&str, &Record> = sent.iter().map(|r| (r.id.as_str(), *r)).collect();
    let mut seen = BTreeSet::new();
    let mut last_index: BTreeMap<i32, usize> = BTreeMap::new();
    let order: BTreeMap<&str, usize> = sent
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    for m in got {
        let id = id_of(m);
        let record = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("unexpected record {id} in {}", m.topic));
        assert_eq!(m.key_str(), record.key(), "key of {id}");
        assert_eq!(m.payload_str(), record.json, "payload of {id}");
        let first = seen.insert(id.clone());
        if !exactly_once {
            continue;
        }
        assert!(first, "{id} arrived twice");
        let index = order[id.as_str()];
        if let Some(previous) = last_index.insert(m.partition, index) {
            assert!(
                previous < index,
                "{id} before an earlier record in partition {}",
                m.partition
            );
        }
    }
    let missing: Vec<&str> = by_id
        .keys()
        .filter(|id| !seen.contains(**id))
        .copied()
        .collect();
    assert!(missing.is_empty(), "never arrived: {missing:?}");
}

#[test]
fn batches_arrive_complete_with_flow_id_keys() {
    let Some(brokers) = tk::broker_or_skip("batches_arrive_complete_with_flow_id_keys") else {
        return;
    };
    let tag = run_tag("one-topic");
    let all = records(&tag, 120);
    let mut transport = KafkaTransport::new(&sink(&brokers)).unwrap();
    assert_eq!(transport.describe(), format!("kafka {brokers}/{TOPIC}"));

    // Three batches through one producer: each is acknowledged before the next.
    for chunk in all.chunks(50) {
        let lines: Vec<Line<'_>> = chunk.iter().map(Record::line).collect();
        transport.send(&lines).unwrap();
    }
    let counts = transport.counts();
    assert_eq!((counts.delivered, counts.failed), (all.len() as u64, 0));

    let got =
        tk::read_topic_matching(&brokers, TOPIC, all.len(), READ_TIMEOUT, is_ours(&tag)).unwrap();
    let sent: Vec<&Record> = all.iter().collect();
    check_received(&sent, &got);
}

#[test]
fn topic_per_type_sends_each_type_to_its_topic() {
    let Some(brokers) = tk::broker_or_skip("topic_per_type_sends_each_type_to_its_topic") else {
        return;
    };
    let tag = run_tag("per-type");
    let all = records(&tag, 60);
    let mut cfg = sink(&brokers);
    cfg.topic_per_type = true;
    cfg.compression = "gzip".into();
    let mut transport = KafkaTransport::new(&cfg).unwrap();
    let lines: Vec<Line<'_>> = all.iter().map(Record::line).collect();
    transport.send(&lines).unwrap();

    for event_type in TYPES {
        let topic = format!("{TOPIC}.{event_type}");
        let sent: Vec<&Record> = all.iter().filter(|r| r.event_type == event_type).collect();
        assert!(!sent.is_empty());
        // The types were sent interleaved: a record sent to the wrong topic is among the first
        // ones read there.
        let got =
            tk::read_topic_matching(&brokers, &topic, sent.len(), READ_TIMEOUT, is_ours(&tag))
                .unwrap();
        check_received(&sent, &got);
    }
    // And nothing of this run went to the plain topic.
    let plain =
        tk::read_topic_matching(&brokers, TOPIC, 1, Duration::from_secs(3), is_ours(&tag)).unwrap();
    assert!(plain.is_empty(), "{} records in {TOPIC}", plain.len());
}

/// A port nothing listens on: bound, then released.
fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn absent_broker_is_a_transient_error() {
    let brokers = format!("127.0.0.1:{}", unused_port());
    let mut cfg = sink(&brokers);
    cfg.timeout_s = 2;
    let tag = run_tag("absent");
    let all = records(&tag, 10);
    let lines: Vec<Line<'_>> = all.iter().map(Record::line).collect();
    let mut transport = KafkaTransport::new(&cfg).unwrap();

    let started = Instant::now();
    let result = transport.send(&lines);
    let took = started.elapsed();
    match result {
        Err(SinkError::Transient(text)) => assert!(text.contains(&brokers), "{text}"),
        other => panic!("expected a transient error, got {other:?}"),
    }
    // Not a speed check: without the sink's timeout librdkafka would wait its default 300 s
    // (`message.timeout.ms`); this only tells the configured 2 s apart from that.
    assert!(took < Duration::from_secs(120), "send took {took:?}");
    assert_eq!(transport.counts().delivered, 0);

    // The transport stays usable: the next attempt fails the same way.
    assert!(matches!(
        transport.send(&lines),
        Err(SinkError::Transient(_))
    ));
}

#[test]
fn oversized_record_is_rejected() {
    // librdkafka refuses it before any broker is involved: no broker needed.
    let brokers = format!("127.0.0.1:{}", unused_port());
    let mut cfg = sink(&brokers);
    cfg.timeout_s = 2;
    cfg.properties
        .insert("message.max.bytes".into(), "1000".into());
    let big = format!(
        "{{\"event_type\":\"flow\",\"id\":\"big-1\",\"pad\":\"{}\"}}",
        "x".repeat(5000)
    );
    let line = Line {
        event_type: "flow",
        flow_id: Some(7),
        id: "big-1",
        json: big.as_bytes(),
    };
    let mut transport = KafkaTransport::new(&cfg).unwrap();
    match transport.send(&[line]) {
        Err(SinkError::Rejected(text)) => assert!(text.to_lowercase().contains("size"), "{text}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

/// A Tansu broker of the test's own (in memory, on its own port), stopped when dropped.
struct OwnBroker {
    tansu: String,
    addr: String,
    child: Option<Child>,
}

impl OwnBroker {
    /// The tansu binary `.ci/kafka-broker` installed, if it did.
    fn tansu() -> Option<String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/kafka-broker");
        let out = Command::new(script).arg("--tansu-path").output().ok()?;
        let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && Path::new(&path).exists()).then_some(path)
    }

    fn start(&mut self, topic: &str) {
        let listener = format!("tcp://{}", self.addr);
        let child = Command::new(&self.tansu)
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let up = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            tk::broker_answers(&self.addr, tk::CONNECT_TIMEOUT)
        });
        assert!(up, "tansu does not answer on {}", self.addr);
        let created = Command::new(&self.tansu)
            .args([
                "topic",
                "create",
                "--broker",
                &listener,
                "--partitions",
                "1",
                topic,
            ])
            .status()
            .unwrap();
        assert!(created.success(), "tansu topic create {topic}");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn broker_restart_is_survived() {
    // A broker that loses everything (in-memory storage) while the producer is connected: the
    // idempotent producer's id is unknown to the new broker, a fatal error in librdkafka. The
    // transport must report the failures as transient and send again once the broker is back.
    let Some(tansu) = OwnBroker::tansu() else {
        println!("broker_restart_is_survived: skipped: no tansu binary (run .ci/kafka-broker)");
        return;
    };
    let topic = "restart";
    let mut broker = OwnBroker {
        tansu,
        addr: format!("127.0.0.1:{}", unused_port()),
        child: None,
    };
    broker.start(topic);
    let mut cfg = sink(&broker.addr);
    cfg.topic = Some(topic.into());
    cfg.timeout_s = 3;
    let mut transport = KafkaTransport::new(&cfg).unwrap();
    let tag = run_tag("restart");
    let all = records(&tag, 30);
    let batches: Vec<Vec<Line<'_>>> = all
        .chunks(10)
        .map(|c| c.iter().map(Record::line).collect())
        .collect();

    transport.send(&batches[0]).unwrap();

    broker.stop();
    match transport.send(&batches[1]) {
        Err(SinkError::Transient(text)) => println!("broker down: {text}"),
        other => panic!("broker down: expected a transient error, got {other:?}"),
    }

    broker.start(topic);
    // As the spool driver would: the same batch again until it is acknowledged.
    // librdkafka's reconnect backoff grows to 10 s: on a loaded machine several attempts fail
    // before the new broker is found again. Bounded by a minute, not by a count.
    let mut errors = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(60);
    for batch in &batches[1..] {
        loop {
            match transport.send(batch) {
                Ok(()) => break,
                Err(SinkError::Transient(text)) if Instant::now() < give_up => errors.push(text),
                Err(e) => panic!("after the restart: {e:?} (earlier: {errors:?})"),
            }
        }
    }
    println!("after the restart, before success: {errors:?}");
    assert_eq!(transport.counts().delivered, all.len() as u64);

    // The new broker has the batches sent after it started; a failed attempt may have left
    // copies (at least once).
    let got =
        tk::read_topic_matching(&broker.addr, topic, 20, READ_TIMEOUT, is_ours(&tag)).unwrap();
    let sent: Vec<&Record> = all[10..].iter().collect();
    check_arrived(&sent, &got, false);
}

/// Through the binary: a capture replayed with a Kafka sink (one topic, keyed by flow id)
/// goes through the spool to the broker, and every record of the run is consumed back.
#[test]
fn replay_through_the_spool_to_kafka_every_record_consumed_back() {
    let Some(brokers) = tk::broker_or_skip("replay_through_the_spool_to_kafka") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cap = d.join("mixed.pcap");
    std::fs::write(&cap, testkit::attacks::mixed(11)).unwrap();
    let cfg = d.join("t.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[export]
allow_remote = true
drain_timeout_s = 120
[export.spool]
dir = "{d}/spool"
[[export.sink]]
name = "fleet"
type = "kafka"
brokers = "{brokers}"
topic = "tapir-e2e"
categories = ["network", "files", "detections", "statistics", "service"]
batch_records = 200
"#,
            d = d.display()
        ),
    )
    .unwrap();
    let out = d.join("main.ndjson");
    let st = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "--no-progress", "-o"])
        .arg(&out)
        .arg("-c")
        .arg(&cfg)
        .arg(&cap)
        .status()
        .unwrap();
    assert!(st.success());
    let main: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: BTreeSet<String> = main
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(want.len() > 200);
    let got = tk::read_topic_matching(&brokers, "tapir-e2e", want.len(), READ_TIMEOUT, |m| {
        want.contains(&id_of(m))
    })
    .unwrap();
    let got_ids: BTreeSet<String> = got.iter().map(id_of).collect();
    assert_eq!(got_ids, want, "every record of the run consumed back");
    // Keyed by flow id where the record has one.
    let by_id: BTreeMap<String, &serde_json::Value> = main
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    for m in &got {
        let r = by_id[&id_of(m)];
        match r["flow_id"].as_u64() {
            Some(f) => assert_eq!(m.key_str(), f.to_string()),
            None => assert_eq!(m.key_str(), r["id"].as_str().unwrap()),
        }
    }
}
