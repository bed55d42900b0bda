//! Kafka test helpers (testkit feature `kafka`, on with tapir's `kafka` feature in tests): find
//! the test broker, skip cleanly when there is none, and read a topic back.
//!
//! ```no_run
//! use std::time::Duration;
//! use testkit::kafka;
//!
//! let Some(brokers) = kafka::broker_or_skip("my_test") else { return };
//! // ... send records to topic "tapir-e2e" ...
//! let got = kafka::read_topic(&brokers, "tapir-e2e", 10, Duration::from_secs(30)).unwrap();
//! ```
//!
//! The broker for tests is started by `.ci/kafka-broker` (Tansu, in memory, 127.0.0.1:9092);
//! `TAPIR_KAFKA_BROKERS` points the tests at another one. Its topics keep what earlier runs
//! wrote, so tests tag their records (ids with a per-run prefix) and use [`read_topic_matching`].

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

/// Where tests look for a broker unless `TAPIR_KAFKA_BROKERS` says otherwise.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

/// How long [`broker_answers`] waits for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The test brokers: `TAPIR_KAFKA_BROKERS` ("host:port[,host:port]") or [`DEFAULT_BROKERS`].
pub fn brokers() -> String {
    std::env::var("TAPIR_KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BROKERS.to_string())
}

/// Whether one of `brokers` accepts a TCP connection within `timeout`.
pub fn broker_answers(brokers: &str, timeout: Duration) -> bool {
    brokers
        .split(',')
        .map(str::trim)
        .filter_map(|b| b.to_socket_addrs().ok())
        .flatten()
        .any(|addr| TcpStream::connect_timeout(&addr, timeout).is_ok())
}

/// The test brokers when one answers; otherwise prints "skipped: no Kafka broker at ..." for
/// `test` and returns None (the test then returns without checking anything).
pub fn broker_or_skip(test: &str) -> Option<String> {
    let brokers = brokers();
    if broker_answers(&brokers, CONNECT_TIMEOUT) {
        Some(brokers)
    } else {
        println!(
            "{test}: skipped: no Kafka broker at {brokers} \
             (start one with .ci/kafka-broker, or set TAPIR_KAFKA_BROKERS)"
        );
        None
    }
}

/// One message read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

impl Message {
    /// The key as text ("" when there is none or it is not UTF-8).
    pub fn key_str(&self) -> &str {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or("")
    }

    /// The payload as text ("" when it is not UTF-8).
    pub fn payload_str(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap_or("")
    }

    /// The payload parsed as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.payload).with_context(|| {
            format!(
                "{}/{}@{}: not JSON",
                self.topic, self.partition, self.offset
            )
        })
    }
}

/// Every message of `topic` from the beginning of all its partitions, until `want` messages
/// were read or `timeout` passed; returns what was read (fewer than `want` on a timeout: the
/// caller's assertion says what is missing).
pub fn read_topic(
    brokers: &str,
    topic: &str,
    want: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Message>> {
    read_topic_matching(brokers, topic, want, timeout, |_| true)
}

/// Like [`read_topic`], keeping (and counting towards `want`) only the messages `keep` accepts,
/// e.g. those whose id carries this run's prefix.
pub fn read_topic_matching(
    brokers: &str,
    topic: &str,
    want: usize,
    timeout: Duration,
    mut keep: impl FnMut(&Message) -> bool,
) -> anyhow::Result<Vec<Message>> {
    let deadline = Instant::now() + timeout;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // Partitions are assigned, not subscribed: no group join (slow on Tansu), no commits.
        .set("group.id", "tapir-testkit")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .context("kafka consumer")?;

    // The topic's partitions; a topic being created may briefly have none.
    let partitions = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let metadata = consumer
            .fetch_metadata(Some(topic), remaining.max(Duration::from_millis(100)))
            .with_context(|| format!("metadata of topic {topic} from {brokers}"))?;
        let ids: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if !ids.is_empty() {
            break ids;
        }
        if Instant::now() >= deadline {
            bail!("topic {topic} has no partitions on {brokers}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;

    let mut got = Vec::new();
    while got.len() < want {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        match consumer.poll(remaining.min(Duration::from_millis(200))) {
            None => {}
            Some(Err(e)) => eprintln!("kafka consumer {topic}: {e}"),
            Some(Ok(m)) => {
                let message = Message {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                };
                if keep(&message) {
                    got.push(message);
                }
            }
        }
    }
    Ok(got)
}
