//! The Kafka transport (`[[export.sink]] type = "kafka"`, cargo feature `kafka`): an idempotent
//! librdkafka producer. A batch is acknowledged only when librdkafka has reported every message
//! of it as written by the broker with `acks = all` (see `docs/export.md`, "Kafka sink").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::PurgeConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::transport::{Line, SinkError, Transport};
use crate::config::SinkConfig;

/// The topic when the sink names none.
pub const DEFAULT_TOPIC: &str = "tapir";

/// How long one `poll` waits for events while `send` waits for delivery reports or queue room.
const POLL_STEP: Duration = Duration::from_millis(50);

/// Past `message.timeout.ms`, librdkafka itself fails the messages still queued; `send` waits
/// this much longer for those reports before it gives up on the batch on its own.
const REPORT_GRACE: Duration = Duration::from_secs(1);

/// Messages delivered and failed since the transport was made (delivery reports; the failed
/// ones are sent again with their batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KafkaCounts {
    pub delivered: u64,
    pub failed: u64,
}

/// The reports of the batch in flight. Reports of an earlier batch that `send` gave up on
/// (`batch` differs) are counted in the totals only.
#[derive(Debug, Default)]
struct BatchReports {
    batch: usize,
    delivered: usize,
    failed: usize,
    /// The first failure of the batch: permanent (`Rejected`) or not, and librdkafka's text.
    first_error: Option<(bool, String)>,
    /// The last client-wide error while the batch was out ("Connect to ... failed").
    last_global_error: Option<String>,
}

/// Messages delivered and failed (delivery reports), over every producer of the transport.
#[derive(Debug, Default)]
struct Totals {
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// Receives librdkafka's delivery reports, errors and logs (on the sending thread, from `poll`).
#[derive(Debug, Default)]
struct SinkContext {
    /// The sink's name, for log lines.
    name: String,
    /// The transport's totals (kept across producers).
    totals: Arc<Totals>,
    reports: Mutex<BatchReports>,
}

impl BatchReports {
    /// " (last error: ...)" when librdkafka reported a client-wide error during the batch.
    fn cause(&self) -> String {
        self.last_global_error
            .as_deref()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default()
    }
}

impl SinkContext {
    fn reports(&self) -> MutexGuard<'_, BatchReports> {
        // Nothing can leave the reports half-updated: a poisoned lock's data is still good.
        self.reports.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientContext for SinkContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let sink = self.name.as_str();
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(sink, fac, "librdkafka: {message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(sink, fac, "librdkafka: {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(sink, fac, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(sink, fac, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Client-wide errors (broker down, all brokers down) are retried by librdkafka itself;
        // they matter when a batch then times out, as its cause.
        tracing::debug!(sink = self.name.as_str(), "librdkafka: {error}: {reason}");
        self.reports().last_global_error = Some(reason.to_string());
    }
}

impl ProducerContext for SinkContext {
    /// The number of the batch the message belongs to.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, batch: usize) {
        let mut reports = self.reports();
        match result {
            Ok(_) => {
                self.totals.delivered.fetch_add(1, Ordering::Relaxed);
                if reports.batch == batch {
                    reports.delivered += 1;
                }
            }
            Err((error, _message)) => {
                self.totals.failed.fetch_add(1, Ordering::Relaxed);
                if reports.batch == batch {
                    reports.failed += 1;
                    if reports.first_error.is_none() {
                        reports.first_error = Some((is_permanent(error), error.to_string()));
                    }
                }
            }
        }
    }
}

/// Errors that sending the same messages to the same cluster again will not cure: the
/// configuration or the cluster has to change.
fn is_permanent(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(
            C::UnknownTopic
                | C::UnknownTopicOrPartition
                | C::InvalidTopic
                | C::TopicAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::TransactionalIdAuthorizationFailed
                | C::Authentication
                | C::SaslAuthenticationFailed
                | C::UnsupportedSASLMechanism
                | C::MessageSizeTooLarge
                | C::InvalidMessageSize
                | C::MessageBatchTooLarge
                | C::InvalidRecord
                | C::InvalidRequiredAcks
                | C::PolicyViolation
                | C::UnsupportedCompressionType
                | C::UnsupportedForMessageFormat
                | C::InvalidArgument
        )
    )
}

fn classify(permanent: bool, message: String) -> SinkError {
    if permanent {
        SinkError::Rejected(message)
    } else {
        SinkError::Transient(message)
    }
}

/// Sends batches of records to a Kafka cluster (`Transport`).
pub struct KafkaTransport {
    producer: BaseProducer<SinkContext>,
    totals: Arc<Totals>,
    /// The librdkafka properties the producer was made with (to make it again after a fatal
    /// error of the idempotent producer).
    config: ClientConfig,
    name: String,
    brokers: String,
    topic: String,
    topic_per_type: bool,
    timeout: Duration,
    /// The number of the batch in flight (delivery opaque of its messages).
    batch: usize,
    /// Batches failed in a row. A producer whose broker came back empty can stay stuck in
    /// its idempotence handshake without reporting a fatal error: after a few failures in a
    /// row it is made anew.
    failed_in_row: u32,
}

impl KafkaTransport {
    /// A producer for `cfg` (`brokers`, `topic`, `topic_per_type`, `compression`, `timeout_s`,
    /// `properties`). Connecting happens in the background: a cluster that is down is not an
    /// error here but a `Transient` one of `send`.
    pub fn new(cfg: &SinkConfig) -> Result<KafkaTransport, SinkError> {
        let brokers = cfg
            .brokers
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                SinkError::Config(format!("kafka sink {:?}: `brokers` is not set", cfg.name))
            })?
            .to_string();
        if cfg.timeout_s == 0 {
            return Err(SinkError::Config(format!(
                "kafka sink {:?}: `timeout_s` must be at least 1",
                cfg.name
            )));
        }
        let topic = match cfg.topic.as_deref().map(str::trim) {
            None => DEFAULT_TOPIC.to_string(),
            Some("") => {
                return Err(SinkError::Config(format!(
                    "kafka sink {:?}: `topic` is empty",
                    cfg.name
                )))
            }
            Some(t) => t.to_string(),
        };
        let timeout = Duration::from_secs(cfg.timeout_s);
        let config = client_config(&brokers, &cfg.compression, timeout, &cfg.properties);
        let totals = Arc::new(Totals::default());
        let producer = make_producer(&config, &cfg.name, &totals)?;
        Ok(KafkaTransport {
            producer,
            totals,
            config,
            name: cfg.name.clone(),
            brokers,
            topic,
            topic_per_type: cfg.topic_per_type,
            timeout,
            batch: 0,
            failed_in_row: 0,
        })
    }

    /// Messages delivered and failed so far.
    pub fn counts(&self) -> KafkaCounts {
        KafkaCounts {
            delivered: self.totals.delivered.load(Ordering::Relaxed),
            failed: self.totals.failed.load(Ordering::Relaxed),
        }
    }

    /// The topic of a record of type `event_type`.
    pub fn topic_for(&self, event_type: &str) -> String {
        if self.topic_per_type {
            format!("{}.{}", self.topic, event_type)
        } else {
            self.topic.clone()
        }
    }

    /// After a fatal error (idempotent producer state lost), only a new producer can send.
    fn renew_if_fatal(&mut self) -> Option<String> {
        let (code, reason) = self.producer.client().fatal_error()?;
        let text = format!("kafka producer fatal error ({code}): {reason}");
        tracing::warn!(sink = self.name.as_str(), "{text}; making a new producer");
        match make_producer(&self.config, &self.name, &self.totals) {
            Ok(producer) => self.producer = producer,
            Err(e) => tracing::error!(sink = self.name.as_str(), "{e}"),
        }
        Some(text)
    }

    /// Gives up on the batch: what librdkafka still queues of it is dropped (the driver sends
    /// the whole batch again), then the error.
    fn abandon(&mut self, error: SinkError) -> SinkError {
        self.producer.purge(PurgeConfig::default().queue());
        self.producer.poll(Duration::ZERO);
        error
    }

    fn send_batch(&mut self, batch: &[Line<'_>]) -> Result<(), SinkError> {
        let deadline = Instant::now() + self.timeout + REPORT_GRACE;
        self.batch = self.batch.wrapping_add(1);
        *self.producer.context().reports() = BatchReports {
            batch: self.batch,
            ..BatchReports::default()
        };
        let mut topics: BTreeMap<&str, String> = BTreeMap::new();
        let mut key = String::new();
        for line in batch {
            let topic = topics
                .entry(line.event_type)
                .or_insert_with(|| self.topic_for(line.event_type))
                .as_str();
            key.clear();
            match line.flow_id {
                // Writing to a String cannot fail.
                Some(flow) => {
                    let _ = write!(key, "{flow}");
                }
                None => key.push_str(line.id),
            }
            let mut record = BaseRecord::with_opaque_to(topic, self.batch)
                .key(key.as_str())
                .payload(line.json);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        if Instant::now() >= deadline {
                            return Err(self.abandon(SinkError::Transient(format!(
                                "kafka {}: producer queue still full after {} s",
                                self.brokers,
                                self.timeout.as_secs()
                            ))));
                        }
                        record = back;
                        self.producer.poll(POLL_STEP);
                    }
                    Err((error, _)) => {
                        let text = format!("kafka {} topic {topic}: {error}", self.brokers);
                        return Err(self.abandon(classify(is_permanent(&error), text)));
                    }
                }
            }
        }

        let expected = batch.len();
        loop {
            self.producer.poll(POLL_STEP);
            let reports = self.producer.context().reports();
            if reports.delivered + reports.failed >= expected {
                break;
            }
            // Stop at the first failure: the whole batch is sent again anyway.
            if let Some((permanent, text)) = reports.first_error.clone() {
                let text = format!("kafka {}: {text}{}", self.brokers, reports.cause());
                drop(reports);
                return Err(self.abandon(classify(permanent, text)));
            }
            if Instant::now() >= deadline {
                let text = format!(
                    "kafka {}: {} of {expected} messages unacknowledged after {} s{}",
                    self.brokers,
                    expected - reports.delivered - reports.failed,
                    self.timeout.as_secs(),
                    reports.cause(),
                );
                drop(reports);
                return Err(self.abandon(SinkError::Transient(text)));
            }
        }
        let reports = self.producer.context().reports();
        match reports.first_error.clone() {
            None => Ok(()),
            Some((permanent, text)) => Err(classify(
                permanent,
                format!(
                    "kafka {}: {} of {expected} messages failed: {text}{}",
                    self.brokers,
                    reports.failed,
                    reports.cause()
                ),
            )),
        }
    }
}

/// Failed batches in a row after which the producer is made anew.
const RENEW_AFTER_FAILURES: u32 = 3;

impl Transport for KafkaTransport {
    fn send(&mut self, batch: &[Line<'_>]) -> Result<(), SinkError> {
        if let Some(text) = self.renew_if_fatal() {
            return Err(SinkError::Transient(text));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.send_batch(batch);
        if result.is_err() {
            if let Some(text) = self.renew_if_fatal() {
                self.failed_in_row = 0;
                return Err(SinkError::Transient(text));
            }
            self.failed_in_row += 1;
            if self.failed_in_row >= RENEW_AFTER_FAILURES {
                self.failed_in_row = 0;
                tracing::warn!(
                    sink = self.name.as_str(),
                    "{RENEW_AFTER_FAILURES} batches failed in a row: making a new producer"
                );
                match make_producer(&self.config, &self.name, &self.totals) {
                    Ok(producer) => self.producer = producer,
                    Err(e) => tracing::error!(sink = self.name.as_str(), "{e}"),
                }
            }
        } else {
            self.failed_in_row = 0;
        }
        result
    }

    fn describe(&self) -> String {
        if self.topic_per_type {
            format!("kafka {}/{}.<type>", self.brokers, self.topic)
        } else {
            format!("kafka {}/{}", self.brokers, self.topic)
        }
    }
}

/// The producer's librdkafka properties: ours, then the sink's `properties` (which win).
fn client_config(
    brokers: &str,
    compression: &str,
    timeout: Duration,
    properties: &BTreeMap<String, String>,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", compression)
        .set("message.timeout.ms", timeout.as_millis().to_string())
        .set_log_level(RDKafkaLogLevel::Warning);
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

fn make_producer(
    config: &ClientConfig,
    name: &str,
    totals: &Arc<Totals>,
) -> Result<BaseProducer<SinkContext>, SinkError> {
    let context = SinkContext {
        name: name.to_string(),
        totals: Arc::clone(totals),
        reports: Mutex::default(),
    };
    config
        .create_with_context(context)
        .map_err(|e| SinkError::Config(format!("kafka sink {name:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SinkConfig {
        SinkConfig {
            name: "k".into(),
            kind: "kafka".into(),
            brokers: Some("127.0.0.1:9".into()),
            ..SinkConfig::default()
        }
    }

    #[test]
    fn needs_brokers() {
        let mut c = cfg();
        c.brokers = None;
        assert!(matches!(KafkaTransport::new(&c), Err(SinkError::Config(_))));
        c.brokers = Some(" ".into());
        assert!(matches!(KafkaTransport::new(&c), Err(SinkError::Config(_))));
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let mut c = cfg();
        c.compression = "brotli".into();
        match KafkaTransport::new(&c) {
            Err(SinkError::Config(text)) => assert!(text.contains("compression"), "{text}"),
            other => panic!("{:?}", other.map(|t| t.describe())),
        }
        let mut c = cfg();
        c.properties.insert("no.such.property".into(), "1".into());
        assert!(matches!(KafkaTransport::new(&c), Err(SinkError::Config(_))));
        let mut c = cfg();
        c.timeout_s = 0;
        assert!(matches!(KafkaTransport::new(&c), Err(SinkError::Config(_))));
        let mut c = cfg();
        c.topic = Some(String::new());
        assert!(matches!(KafkaTransport::new(&c), Err(SinkError::Config(_))));
    }

    #[test]
    fn tls_is_not_built_in() {
        // The `kafka` feature builds librdkafka without OpenSSL: refused at start, not later.
        for protocol in ["ssl", "sasl_ssl"] {
            let mut c = cfg();
            c.properties
                .insert("security.protocol".into(), protocol.into());
            match KafkaTransport::new(&c) {
                Err(SinkError::Config(text)) => assert!(text.contains("OpenSSL"), "{text}"),
                other => panic!("{protocol}: {:?}", other.map(|t| t.describe())),
            }
        }
    }

    #[test]
    fn every_compression_builds() {
        for compression in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let mut c = cfg();
            c.compression = compression.into();
            if let Err(e) = KafkaTransport::new(&c) {
                panic!("{compression}: {e}");
            }
        }
    }

    #[test]
    fn topics() {
        let mut c = cfg();
        let t = KafkaTransport::new(&c).unwrap();
        assert_eq!(t.topic_for("dns"), DEFAULT_TOPIC);
        assert_eq!(t.describe(), "kafka 127.0.0.1:9/tapir");
        c.topic = Some("ndr".into());
        c.topic_per_type = true;
        let t = KafkaTransport::new(&c).unwrap();
        assert_eq!(t.topic_for("dns"), "ndr.dns");
        assert_eq!(t.topic_for("flow"), "ndr.flow");
        assert_eq!(t.describe(), "kafka 127.0.0.1:9/ndr.<type>");
    }

    #[test]
    fn empty_batch_is_ok_without_a_broker() {
        let mut t = KafkaTransport::new(&cfg()).unwrap();
        t.send(&[]).unwrap();
        assert_eq!(t.counts(), KafkaCounts::default());
    }

    #[test]
    fn permanent_errors() {
        use RDKafkaErrorCode as C;
        for code in [
            C::UnknownTopicOrPartition,
            C::TopicAuthorizationFailed,
            C::MessageSizeTooLarge,
        ] {
            assert!(
                is_permanent(&KafkaError::MessageProduction(code)),
                "{code:?}"
            );
        }
        for code in [
            C::MessageTimedOut,
            C::AllBrokersDown,
            C::NotEnoughReplicas,
            C::QueueFull,
        ] {
            assert!(
                !is_permanent(&KafkaError::MessageProduction(code)),
                "{code:?}"
            );
        }
    }
}
