//! A loaded rule: what it is (metadata carried into `detection` records), which records it reads,
//! its condition, and whether its hits are aggregated (thresholds, Sigma correlations).

use super::cond::Cond;

/// How a rule detects (records.md item 4, `detection.rule.technology`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Technology {
    Signature,
    Reputation,
    Statistics,
    Heuristic,
}

impl Technology {
    pub fn as_str(self) -> &'static str {
        match self {
            Technology::Signature => "signature",
            Technology::Reputation => "reputation",
            Technology::Statistics => "statistics",
            Technology::Heuristic => "heuristic",
        }
    }

    pub fn parse(s: &str) -> Option<Technology> {
        Some(match s {
            "signature" => Technology::Signature,
            "reputation" => Technology::Reputation,
            "statistics" => Technology::Statistics,
            "heuristic" => Technology::Heuristic,
            _ => return None,
        })
    }
}

/// Threat level (`detection.threat_level`); Sigma's `level` maps onto it one to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ThreatLevel {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl ThreatLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatLevel::Informational => "informational",
            ThreatLevel::Low => "low",
            ThreatLevel::Medium => "medium",
            ThreatLevel::High => "high",
            ThreatLevel::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<ThreatLevel> {
        Some(match s {
            "informational" | "info" => ThreatLevel::Informational,
            "low" => ThreatLevel::Low,
            "medium" => ThreatLevel::Medium,
            "high" => ThreatLevel::High,
            "critical" => ThreatLevel::Critical,
            _ => return None,
        })
    }
}

/// Where a rule came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleFormat {
    Native,
    Sigma,
}

impl RuleFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleFormat::Native => "native",
            RuleFormat::Sigma => "sigma",
        }
    }
}

/// What a `detection` record says about the rule that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleMeta {
    /// Native: the rule's `id`; Sigma: its UUID.
    pub id: String,
    /// Native: `name`; Sigma: `title`.
    pub name: String,
    pub version: u32,
    /// 1 (most urgent) to 4.
    pub priority: u8,
    pub technology: Technology,
    pub threat_name: String,
    pub threat_level: ThreatLevel,
    /// `detection.category` (records.md vocabulary).
    pub category: String,
    /// MITRE ATT&CK technique ids ("T1558.003"), from the rule or Sigma's `attack.tNNNN` tags.
    pub mitre: Vec<String>,
    pub description: String,
    /// Analyst-facing explanation of why this fires (`detection.reasons[0]`).
    pub reason: String,
    pub format: RuleFormat,
    /// File the rule was read from.
    pub file: String,
    /// The rule's own modification date (Sigma `modified`/`date`, native `updated`).
    pub updated: Option<String>,
}

/// How the hits of one or more rules are counted over a window before a detection is made
/// (native `threshold:`; Sigma `correlation:`).
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// Indices (into [`super::RuleSet::rules`]) of the rules whose hits count: the rule itself
    /// for a native threshold, the referenced rules for a Sigma correlation.
    pub over: Vec<u32>,
    /// Record fields the hits are grouped by (`src_ip`, ...): one window per distinct key.
    pub group_by: Vec<String>,
    pub window_ns: u64,
    pub kind: AggKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AggKind {
    /// At least `min` hits in the window (`event_count`).
    Count { min: u64 },
    /// At least `min` distinct values of `field` in the window (`value_count`).
    Distinct { field: String, min: u64 },
    /// Every rule of `over` hit within the window (`temporal`; `ordered`: in that order).
    Temporal { ordered: bool },
}

/// One loaded rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    /// Record `event_type`s the condition applies to (empty for a correlation: it has none).
    pub event_types: Vec<&'static str>,
    pub cond: Option<Cond>,
    pub aggregate: Option<Aggregate>,
    /// Whether a hit of this rule makes a detection by itself (false for a rule that only feeds
    /// an aggregate, including its own threshold).
    pub emit: bool,
    /// Record field whose value is the detection's indicator (`dns.query`, `http.url`, ...).
    pub indicator: Option<String>,
}
