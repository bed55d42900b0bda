//! The data-provision policy, applied in one place: on the way out to each remote sink.
//!
//! Two questions per record: may it leave at all (its category and type must be granted to
//! the sink), and in what form (the sink's region profile says, per class of personal data or
//! per field path, clear, MD5, or not at all).
//!
//! Categories (the document's grouping): `network` (flow, dns, http, tls, kerberos, ldap,
//! email), `files` (file), `detections` (detection), `statistics` (the network statistics
//! embedded in records: `file.frequency`, `detection.statistics`), `service` (sensor_status).
//!
//! Classes of personal data, found wherever they are, whatever the record type:
//! - `local_ip`: any address in `home_net`, as a whole value or inside a text (URL, header,
//!   `Received:` line); hashed as the MD5 of its text form.
//! - `email`: addresses (fields that hold them, and any `local@domain` inside a text); hashed
//!   as `md5(local)@md5(domain)` over the lower-cased parts, display names dropped.
//! - `subject`: the mail subject; MD5 of the decoded text.
//! - `user`: account names (Kerberos client and UPN, LDAP bind, HTTP and mail login, user
//!   indicators); MD5 of the lower-cased name, as the statistics store keeps them.
//! - `host`: computer names learnt about local hosts (client host, KDC name, HELO, the
//!   statistics' host names); MD5 of the lower-cased name.
//!
//! Profiles: `clear` (everything as captured), `hashed` (every class as MD5: the document's
//! requirement, the default), `withheld` (every class left out), and named ones from
//! `[export.profile.NAME]` built on any of them with per-class or per-path overrides.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::config::{ProfileConfig, SinkConfig};
use crate::util::hex::md5_hex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Clear,
    Md5,
    Drop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    LocalIp = 0,
    Email = 1,
    Subject = 2,
    User = 3,
    Host = 4,
}

pub const CLASSES: [(&str, Class); 5] = [
    ("local_ip", Class::LocalIp),
    ("email", Class::Email),
    ("subject", Class::Subject),
    ("user", Class::User),
    ("host", Class::Host),
];

pub const CATEGORIES: [&str; 5] = ["network", "files", "detections", "statistics", "service"];

/// The category of a record type; None for a type this build does not know (never sent).
pub fn category(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "flow" | "dns" | "http" | "tls" | "kerberos" | "ldap" | "email" => "network",
        "file" => "files",
        "detection" => "detections",
        "sensor_status" => "service",
        _ => return None,
    })
}

/// Fields that carry the network statistics (category `statistics`).
const STATS_PATHS: [&str; 2] = ["file.frequency", "detection.statistics"];

/// Fields whose whole value belongs to a class (arrays are transparent: `email.to` is every
/// element of it).
const FIELD_CLASSES: [(&str, Class); 16] = [
    ("email.mail_from", Class::Email),
    ("email.rcpt_to", Class::Email),
    ("email.from", Class::Email),
    ("email.to", Class::Email),
    ("email.cc", Class::Email),
    ("file.sender", Class::Email),
    ("detection.source.sender", Class::Email),
    ("email.subject", Class::Subject),
    ("kerberos.cname", Class::User),
    ("kerberos.upn", Class::User),
    ("email.auth_user", Class::User),
    ("ldap.bind_name", Class::User),
    ("http.auth_user", Class::User),
    ("detection.source.client_host", Class::Host),
    ("detection.statistics.host_names", Class::Host),
    ("kerberos.kdc_name", Class::Host),
];

/// Also host names: the HELO name of a mail client.
const HOST_EXTRA: [&str; 1] = ["email.helo"];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("export profile {0:?} is not defined (built in: clear, hashed, withheld)")]
    UnknownProfile(String),
    #[error("export profile {0:?}: {1:?} is neither a class (local_ip, email, subject, user, host) nor a field path")]
    BadEntry(String, String),
    #[error("export profile {0:?} is built on itself")]
    Cycle(String),
    #[error("export sink {0:?}: unknown category {1:?} (network, files, detections, statistics, service)")]
    BadCategory(String, String),
    #[error("export sink {0:?}: unknown record type {1:?}")]
    BadType(String, String),
}

/// A resolved profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    classes: [Action; 5],
    paths: HashMap<String, Action>,
}

impl Profile {
    fn builtin(name: &str) -> Option<Profile> {
        let a = match name {
            "clear" => Action::Clear,
            "hashed" => Action::Md5,
            "withheld" => Action::Drop,
            _ => return None,
        };
        Some(Profile {
            name: name.into(),
            classes: [a; 5],
            paths: HashMap::new(),
        })
    }

    /// Resolves `name` among the built-in and configured profiles.
    pub fn resolve(
        name: &str,
        defined: &BTreeMap<String, ProfileConfig>,
    ) -> Result<Profile, PolicyError> {
        Self::resolve_depth(name, defined, 0)
    }

    fn resolve_depth(
        name: &str,
        defined: &BTreeMap<String, ProfileConfig>,
        depth: usize,
    ) -> Result<Profile, PolicyError> {
        if depth > 8 {
            return Err(PolicyError::Cycle(name.into()));
        }
        let Some(pc) = defined.get(name) else {
            return Profile::builtin(name).ok_or_else(|| PolicyError::UnknownProfile(name.into()));
        };
        let base = pc.base.as_deref().unwrap_or("hashed");
        if base == name && Profile::builtin(name).is_none() {
            return Err(PolicyError::Cycle(name.into()));
        }
        let mut p = if base == name {
            Profile::builtin(name).ok_or_else(|| PolicyError::Cycle(name.into()))?
        } else {
            Self::resolve_depth(base, defined, depth + 1)?
        };
        p.name = name.into();
        for (list, action) in [
            (&pc.clear, Action::Clear),
            (&pc.hash, Action::Md5),
            (&pc.drop, Action::Drop),
        ] {
            for e in list {
                if let Some((_, c)) = CLASSES.iter().find(|(n, _)| n == e) {
                    p.classes[*c as usize] = action;
                } else if is_path(e) {
                    p.paths.insert(e.clone(), action);
                } else {
                    return Err(PolicyError::BadEntry(name.into(), e.clone()));
                }
            }
        }
        Ok(p)
    }

    pub fn action(&self, c: Class) -> Action {
        self.classes[c as usize]
    }

    /// Whether the profile changes nothing.
    pub fn is_clear(&self) -> bool {
        self.classes.iter().all(|&a| a == Action::Clear)
            && self.paths.values().all(|&a| a == Action::Clear)
    }
}

fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// What one sink may receive, and in what form.
#[derive(Clone, Debug)]
pub struct Policy {
    profile: Profile,
    /// Granted categories.
    categories: [bool; 5],
    /// Granted record types (None = every type of a granted category).
    types: Option<Vec<String>>,
    home_net: Vec<IpNet>,
}

/// The head of a record: what the sinks need besides its line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Head {
    pub event_type: String,
    pub flow_id: Option<u64>,
    pub id: String,
}

#[derive(serde::Deserialize)]
struct RawHead<'a> {
    #[serde(borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(default)]
    flow_id: Option<u64>,
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
}

impl Policy {
    /// The policy of one sink. `remote`: a sink that sends off the box (its categories must
    /// be listed; local files get every category unless listed).
    pub fn for_sink(
        sink: &SinkConfig,
        profiles: &BTreeMap<String, ProfileConfig>,
        home_net: &[IpNet],
        remote: bool,
    ) -> Result<Policy, PolicyError> {
        let default_profile = if remote { "hashed" } else { "clear" };
        let profile =
            Profile::resolve(sink.profile.as_deref().unwrap_or(default_profile), profiles)?;
        let mut categories = [sink.categories.is_empty(); 5];
        for c in &sink.categories {
            let i = CATEGORIES
                .iter()
                .position(|k| k == c)
                .ok_or_else(|| PolicyError::BadCategory(sink.name.clone(), c.clone()))?;
            categories[i] = true;
        }
        for t in &sink.types {
            if category(t).is_none() {
                return Err(PolicyError::BadType(sink.name.clone(), t.clone()));
            }
        }
        Ok(Policy {
            profile,
            categories,
            types: (!sink.types.is_empty()).then(|| sink.types.clone()),
            home_net: home_net.to_vec(),
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    fn granted(&self, cat: &str) -> bool {
        CATEGORIES
            .iter()
            .position(|k| *k == cat)
            .and_then(|i| self.categories.get(i).copied())
            .unwrap_or(false)
    }

    /// Whether a record of this type may go to the sink.
    pub fn admits(&self, event_type: &str) -> bool {
        let Some(cat) = category(event_type) else {
            return false;
        };
        self.granted(cat)
            && self
                .types
                .as_ref()
                .is_none_or(|t| t.iter().any(|x| x == event_type))
    }

    /// Applies the policy to one record line: None when the record may not go to this sink,
    /// else its head, with the line as it may leave appended to `out` (no newline).
    pub fn apply(&self, line: &[u8], out: &mut Vec<u8>) -> Result<Option<Head>, serde_json::Error> {
        let raw: RawHead<'_> = serde_json::from_slice(line)?;
        if !self.admits(&raw.event_type) {
            return Ok(None);
        }
        let head = Head {
            event_type: raw.event_type.into_owned(),
            flow_id: raw.flow_id,
            id: raw.id.map(|c| c.into_owned()).unwrap_or_default(),
        };
        if self.profile.is_clear() && self.granted("statistics") {
            out.extend_from_slice(line);
            return Ok(Some(head));
        }
        let mut v: Value = serde_json::from_slice(line)?;
        if !self.granted("statistics") {
            for p in STATS_PATHS {
                remove_path(&mut v, p);
            }
        }
        let mut path = String::new();
        self.walk(&mut v, &mut path);
        serde_json::to_writer(&mut *out, &v)?;
        Ok(Some(head))
    }

    /// The action for a field by its path: an explicit path rule, else its class.
    fn field_rule(&self, path: &str) -> Option<(Action, Option<Class>)> {
        if let Some(&a) = self.profile.paths.get(path) {
            return Some((a, None));
        }
        let class = FIELD_CLASSES
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, c)| *c)
            .or_else(|| HOST_EXTRA.contains(&path).then_some(Class::Host))?;
        Some((self.profile.action(class), Some(class)))
    }

    fn walk(&self, v: &mut Value, path: &mut String) {
        match v {
            Value::Object(map) => {
                // `{type: user|email, value: ...}` (indicators): the value is of that class.
                let indicator_class = match map.get("type").and_then(Value::as_str) {
                    Some("user") | Some("account") => Some(Class::User),
                    Some("email") => Some(Class::Email),
                    _ => None,
                };
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&k);
                    let rule = match (self.field_rule(path), indicator_class, k.as_str()) {
                        (None, Some(c), "value") => Some((self.profile.action(c), Some(c))),
                        (r, _, _) => r,
                    };
                    match rule {
                        Some((Action::Drop, _)) => {
                            map.remove(&k);
                        }
                        Some((a, class)) => {
                            if let Some(val) = map.get_mut(&k) {
                                if a == Action::Md5 {
                                    hash_value(val, class);
                                }
                                // Clear (or just hashed): still scan what is left for
                                // addresses of other classes.
                                if a == Action::Clear {
                                    self.walk(val, path);
                                }
                            }
                        }
                        None => {
                            if let Some(val) = map.get_mut(&k) {
                                let was_null = val.is_null();
                                self.walk(val, path);
                                if val.is_null() && !was_null {
                                    // A text with a withheld address in it.
                                    map.remove(&k);
                                }
                            }
                        }
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                let mut withheld = false;
                for it in items.iter_mut() {
                    let was_null = it.is_null();
                    self.walk(it, path);
                    withheld |= it.is_null() && !was_null;
                }
                if withheld {
                    items.retain(|x| !x.is_null());
                }
            }
            Value::String(s) => {
                if let Some(new) = self.scan_text(s) {
                    *v = new;
                }
            }
            _ => {}
        }
    }

    /// Local addresses and mail addresses inside any text. Returns the replacement (Null =
    /// leave the field out).
    fn scan_text(&self, s: &str) -> Option<Value> {
        let ip = self.profile.action(Class::LocalIp);
        let em = self.profile.action(Class::Email);
        let mut out: Option<String> = None;
        if ip != Action::Clear {
            let spans = local_ip_spans(s, &self.home_net);
            if !spans.is_empty() {
                if ip == Action::Drop {
                    return Some(Value::Null);
                }
                out = Some(replace_spans(s, &spans, |t| md5_hex(t.as_bytes())));
            }
        }
        if em != Action::Clear {
            let cur = out.as_deref().unwrap_or(s);
            let spans = email_spans(cur);
            if !spans.is_empty() {
                if em == Action::Drop {
                    return Some(Value::Null);
                }
                out = Some(replace_spans(cur, &spans, hash_address));
            }
        }
        out.map(Value::String)
    }
}

/// Hashes a value of a class in place (strings, and every string of an array).
fn hash_value(v: &mut Value, class: Option<Class>) {
    match v {
        Value::String(s) => {
            let h = match class {
                Some(Class::Email) => {
                    let spans = email_spans(s);
                    if spans.is_empty() {
                        md5_hex(s.to_lowercase().as_bytes())
                    } else {
                        // Only the addresses, hashed: display names go.
                        spans
                            .iter()
                            .filter_map(|&(a, b)| s.get(a..b))
                            .map(hash_address)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                }
                Some(Class::Subject) | Some(Class::LocalIp) | None => md5_hex(s.as_bytes()),
                Some(Class::User) | Some(Class::Host) => md5_hex(s.to_lowercase().as_bytes()),
            };
            *s = h;
        }
        Value::Array(items) => items.iter_mut().for_each(|i| hash_value(i, class)),
        Value::Object(map) => map.values_mut().for_each(|i| hash_value(i, class)),
        _ => {}
    }
}

/// `md5(local)@md5(domain)` of a `local@domain` address, parts lower-cased.
fn hash_address(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((l, d)) => format!(
            "{}@{}",
            md5_hex(l.to_lowercase().as_bytes()),
            md5_hex(d.to_lowercase().as_bytes())
        ),
        None => md5_hex(addr.to_lowercase().as_bytes()),
    }
}

fn replace_spans(s: &str, spans: &[(usize, usize)], f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len() + 32 * spans.len());
    let mut at = 0;
    for &(a, b) in spans {
        out.push_str(s.get(at..a).unwrap_or_default());
        out.push_str(&f(s.get(a..b).unwrap_or_default()));
        at = b;
    }
    out.push_str(s.get(at..).unwrap_or_default());
    out
}

/// Byte spans of home-network addresses in a text (IPv4 dotted quads, IPv6 with colons).
fn local_ip_spans(s: &str, home: &[IpNet]) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_hexdigit() || c == b':' || c == b'.') {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b':' || b[i] == b'.') {
            i += 1;
        }
        let tok = s.get(start..i).unwrap_or_default();
        let local = |t: &str| {
            t.parse::<IpAddr>()
                .map(|ip| home.iter().any(|n| n.contains(&ip)))
                .unwrap_or(false)
        };
        if tok.contains(':') {
            // IPv6, or IPv4:port.
            let t = tok.trim_end_matches('.');
            if t.matches(':').count() >= 2 && local(t) {
                spans.push((start, start + t.len()));
                continue;
            }
        }
        // IPv4 runs of digits and dots inside the token.
        let mut j = start;
        while j < i {
            if !b[j].is_ascii_digit() {
                j += 1;
                continue;
            }
            let a = j;
            while j < i && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            let mut e = j;
            while e > a && b[e - 1] == b'.' {
                e -= 1;
            }
            // Not glued to a hex word on the left (a hash is not an address).
            let glued = a > start && b[a - 1].is_ascii_alphanumeric();
            if !glued && local(s.get(a..e).unwrap_or_default()) {
                spans.push((a, e));
            }
        }
    }
    spans
}

/// Byte spans of `local@domain` addresses in a text.
fn email_spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let local_ch = |c: u8| c.is_ascii_alphanumeric() || b"._%+-=!#$&'*/?^`{|}~".contains(&c);
    let domain_ch = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c >= 0x80;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        if c != b'@' {
            continue;
        }
        let mut a = i;
        while a > 0 && (local_ch(b[a - 1]) || b[a - 1] >= 0x80) {
            a -= 1;
        }
        let mut e = i + 1;
        while e < b.len() && domain_ch(b[e]) {
            e += 1;
        }
        while e > i + 1 && b[e - 1] == b'.' {
            e -= 1;
        }
        if a < i && e > i + 1 && spans.last().is_none_or(|l| l.1 <= a) {
            // Keep to char boundaries.
            if s.is_char_boundary(a) && s.is_char_boundary(e) {
                spans.push((a, e));
            }
        }
    }
    spans
}

/// Removes a dotted path (objects only) from a record.
fn remove_path(v: &mut Value, path: &str) {
    let mut cur = v;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        let Value::Object(map) = cur else {
            return;
        };
        if parts.peek().is_none() {
            map.remove(p);
            return;
        }
        let Some(next) = map.get_mut(p) else {
            return;
        };
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]
    }

    fn sink(profile: &str, cats: &[&str]) -> SinkConfig {
        SinkConfig {
            name: "t".into(),
            kind: "https".into(),
            profile: Some(profile.into()),
            categories: cats.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn apply(p: &Policy, rec: &Value) -> Option<Value> {
        let line = serde_json::to_vec(rec).unwrap();
        let mut out = Vec::new();
        p.apply(&line, &mut out)
            .unwrap()
            .map(|_| serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn spans_find_addresses_in_text() {
        let h = home();
        let s = "from x (y [10.1.2.3]) http://10.0.0.5:8080/a 11.0.0.1 a10.0.0.1 fd00::1.";
        let got: Vec<&str> = local_ip_spans(s, &h)
            .iter()
            .map(|&(a, b)| &s[a..b])
            .collect();
        assert_eq!(got, ["10.1.2.3", "10.0.0.5", "fd00::1"]);
        let t = "Bob <Bob.Smith@Example.COM>, x@y and a@ and @b";
        let got: Vec<&str> = email_spans(t).iter().map(|&(a, b)| &t[a..b]).collect();
        assert_eq!(got, ["Bob.Smith@Example.COM", "x@y"]);
    }

    #[test]
    fn hashed_profile_hashes_every_class_wherever_it_is() {
        let p = Policy::for_sink(&sink("hashed", &[]), &BTreeMap::new(), &home(), true).unwrap();
        let rec = serde_json::json!({
            "event_type": "email", "id": "r-1", "flow_id": 7,
            "src_ip": "10.0.0.9", "dest_ip": "8.8.8.8",
            "email": {"from": "Bob <Bob@Example.com>", "rcpt_to": ["a@b.c"], "subject": "Hi",
                      "helo": "PC-01", "received": ["from pc [10.0.0.9] by mx"]}
        });
        let out = apply(&p, &rec).unwrap();
        assert_eq!(out["src_ip"], md5_hex(b"10.0.0.9"));
        assert_eq!(out["dest_ip"], "8.8.8.8");
        let bob = format!("{}@{}", md5_hex(b"bob"), md5_hex(b"example.com"));
        assert_eq!(out["email"]["from"], bob);
        assert_eq!(out["email"]["subject"], md5_hex(b"Hi"));
        assert_eq!(out["email"]["helo"], md5_hex(b"pc-01"));
        assert_eq!(
            out["email"]["received"][0],
            format!("from pc [{}] by mx", md5_hex(b"10.0.0.9"))
        );
        assert_eq!(out["id"], "r-1");
        let text = out.to_string();
        for clear in ["10.0.0.9", "Bob", "Hi\"", "PC-01", "a@b.c"] {
            assert!(!text.contains(clear), "{clear} in {text}");
        }
    }

    #[test]
    fn withheld_profile_leaves_fields_out_and_categories_filter() {
        let p = Policy::for_sink(
            &sink("withheld", &["network"]),
            &BTreeMap::new(),
            &home(),
            true,
        )
        .unwrap();
        let rec = serde_json::json!({
            "event_type": "kerberos", "src_ip": "10.0.0.9", "dest_ip": "1.1.1.1",
            "kerberos": {"cname": "alice", "realm": "EX.COM", "kdc_name": "dc1"}
        });
        let out = apply(&p, &rec).unwrap();
        assert!(out.get("src_ip").is_none());
        assert_eq!(out["dest_ip"], "1.1.1.1");
        assert!(out["kerberos"].get("cname").is_none());
        assert!(out["kerberos"].get("kdc_name").is_none());
        assert_eq!(out["kerberos"]["realm"], "EX.COM");
        let det = serde_json::json!({"event_type": "detection"});
        assert!(apply(&p, &det).is_none(), "detections not granted");
        let st = serde_json::json!({"event_type": "sensor_status"});
        assert!(apply(&p, &st).is_none());
    }

    #[test]
    fn statistics_category_strips_embedded_statistics() {
        let p =
            Policy::for_sink(&sink("clear", &["files"]), &BTreeMap::new(), &home(), true).unwrap();
        let rec = serde_json::json!({"event_type": "file", "file": {"md5": "x", "frequency": {"hosts": 3}}});
        let out = apply(&p, &rec).unwrap();
        assert!(out["file"].get("frequency").is_none());
        assert_eq!(out["file"]["md5"], "x");
    }

    #[test]
    fn named_profiles_override_classes_and_paths() {
        let mut defined = BTreeMap::new();
        defined.insert(
            "eu".to_string(),
            ProfileConfig {
                base: Some("hashed".into()),
                clear: vec!["subject".into()],
                drop: vec!["http.user_agent".into()],
                ..Default::default()
            },
        );
        let p = Policy::for_sink(&sink("eu", &[]), &defined, &home(), true).unwrap();
        let rec = serde_json::json!({"event_type": "http", "http": {"user_agent": "UA", "method": "GET"},
                                    "email": {"subject": "S"}});
        let out = apply(&p, &rec).unwrap();
        assert!(out["http"].get("user_agent").is_none());
        assert_eq!(out["email"]["subject"], "S");
        defined.insert(
            "bad".to_string(),
            ProfileConfig {
                hash: vec!["no such thing!".into()],
                ..Default::default()
            },
        );
        assert!(Policy::for_sink(&sink("bad", &[]), &defined, &home(), true).is_err());
        assert!(Policy::for_sink(&sink("nope", &[]), &defined, &home(), true).is_err());
        assert!(Policy::for_sink(&sink("clear", &["bogus"]), &defined, &home(), true).is_err());
    }

    #[test]
    fn user_indicators_are_users() {
        let p = Policy::for_sink(&sink("hashed", &[]), &BTreeMap::new(), &home(), true).unwrap();
        let rec = serde_json::json!({"event_type": "detection",
            "detection": {"indicator": {"type": "user", "value": "Alice"}}});
        let out = apply(&p, &rec).unwrap();
        assert_eq!(out["detection"]["indicator"]["value"], md5_hex(b"alice"));
    }
}
