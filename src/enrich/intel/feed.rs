//! Feed files: format detection and the five readers. A line that cannot be used is counted
//! (with its number and why) and skipped; a file that cannot be read at all is an error.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::store::{AddError, FeedInfo, IntelSetBuilder, BAD_SAMPLES};
use super::{BadLine, IntelError, Kind};

/// The feed formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedFormat {
    /// Zeek Intelligence Framework TSV (`#fields indicator indicator_type meta.source ...`).
    Zeek,
    /// One indicator per line.
    List,
    /// CSV with a header naming the indicator column.
    Csv,
    /// MISP JSON attribute export.
    Misp,
    /// STIX 2.1 bundle.
    Stix,
}

impl FeedFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::Zeek => "zeek",
            FeedFormat::List => "list",
            FeedFormat::Csv => "csv",
            FeedFormat::Misp => "misp",
            FeedFormat::Stix => "stix",
        }
    }
}

/// Counts and adds one feed's indicators.
struct Sink<'a> {
    b: &'a mut IntelSetBuilder,
    feed: u16,
    file: String,
    indicators: u64,
    duplicates: u64,
    bad: u64,
    samples: Vec<BadLine>,
}

impl Sink<'_> {
    fn add(
        &mut self,
        kind: Kind,
        value: &str,
        line: u32,
        source: Option<&str>,
        desc: Option<&str>,
    ) {
        match self.b.add(self.feed, kind, value, line, source, desc) {
            Ok(()) => self.indicators += 1,
            Err(AddError::Duplicate) => self.duplicates += 1,
            Err(AddError::Invalid(why)) => self.bad(line, why),
        }
    }

    fn bad(&mut self, line: u32, why: String) {
        self.bad += 1;
        if self.samples.len() < BAD_SAMPLES {
            tracing::warn!("intel feed {} line {line}: {why}", self.file);
            self.samples.push(BadLine {
                file: self.file.clone(),
                line,
                why,
            });
        }
    }
}

/// Reads one feed file into `b`. `hint` types the lines of a plain list.
pub fn load_feed(
    b: &mut IntelSetBuilder,
    path: &Path,
    hint: Option<Kind>,
) -> Result<u16, IntelError> {
    let p = path.display().to_string();
    let read_err = |source| IntelError::Read {
        path: p.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let md = file.metadata().map_err(read_err)?;
    if md.is_dir() {
        return Err(IntelError::Format {
            path: p,
            message: "is a directory".into(),
        });
    }
    let mtime_ns = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    let mut r = BufReader::with_capacity(1 << 20, file);
    let head = r.fill_buf().map_err(read_err)?.to_vec();
    let format = detect(path, &head);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.clone());
    let feed = b
        .begin_feed(FeedInfo {
            name,
            path: p.clone(),
            format: format.as_str(),
            version: String::new(),
            mtime: (mtime_ns > 0).then(|| crate::record::rfc3339_micros(mtime_ns)),
            mtime_ns,
            size: md.len(),
            loaded_at: String::new(),
            indicators: 0,
            duplicates: 0,
            bad_lines: 0,
            bad_samples: Vec::new(),
        })
        .map_err(|message| IntelError::Format {
            path: p.clone(),
            message,
        })?;
    let mut sink = Sink {
        b,
        feed,
        file: p.clone(),
        indicators: 0,
        duplicates: 0,
        bad: 0,
        samples: Vec::new(),
    };
    let mut sha = Sha256::new();
    match format {
        FeedFormat::Zeek | FeedFormat::Csv | FeedFormat::List => {
            let mut reader: Box<dyn LineReader> = match format {
                FeedFormat::Zeek => Box::new(ZeekReader::default()),
                FeedFormat::Csv => Box::new(CsvReader::default()),
                _ => Box::new(ListReader { hint }),
            };
            let mut line = Vec::with_capacity(256);
            let mut n = 0u32;
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
                    break;
                }
                sha.update(&line);
                n = n.saturating_add(1);
                let mut l: &[u8] = &line;
                while let [rest @ .., b'\n' | b'\r'] = l {
                    l = rest;
                }
                match std::str::from_utf8(l) {
                    Ok(text) => reader.line(&mut sink, n, text),
                    Err(_) => sink.bad(n, "not UTF-8".into()),
                }
            }
            if let Some(message) = reader.finish() {
                return Err(IntelError::Format { path: p, message });
            }
        }
        FeedFormat::Misp | FeedFormat::Stix => {
            let mut all = Vec::with_capacity(md.len() as usize);
            r.read_to_end(&mut all).map_err(read_err)?;
            sha.update(&all);
            let v: serde_json::Value =
                serde_json::from_slice(&all).map_err(|e| IntelError::Format {
                    path: p.clone(),
                    message: format!("not JSON: {e}"),
                })?;
            drop(all);
            let res = if format == FeedFormat::Stix {
                stix(&mut sink, &v)
            } else {
                misp(&mut sink, &v)
            };
            res.map_err(|message| IntelError::Format {
                path: p.clone(),
                message,
            })?;
        }
    }
    let (indicators, duplicates, bad, samples) =
        (sink.indicators, sink.duplicates, sink.bad, sink.samples);
    if let Some(f) = b.feed_mut(feed) {
        f.version = super::norm::to_hex(&sha.finalize()[..8]);
        f.indicators = indicators;
        f.duplicates = duplicates;
        f.bad_lines = bad;
        f.bad_samples = samples;
        f.loaded_at = crate::record::rfc3339_micros(wall_ns());
    }
    if bad > 0 {
        tracing::warn!("intel feed {p}: {bad} lines skipped");
    }
    Ok(feed)
}

pub(crate) fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The format of a file from its name and first bytes.
fn detect(path: &Path, head: &[u8]) -> FeedFormat {
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        let compact: String = t
            .chars()
            .take(4096)
            .filter(|c| !c.is_whitespace())
            .collect();
        if compact.contains("\"type\":\"bundle\"") || compact.contains("\"spec_version\":\"2.") {
            return FeedFormat::Stix;
        }
        // A JSON feed that is not a bundle: MISP, unless it says it is STIX further down.
        if !t.starts_with("[ipv") {
            return FeedFormat::Misp;
        }
    }
    if t.lines().any(|l| l.starts_with("#fields")) {
        return FeedFormat::Zeek;
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => FeedFormat::Csv,
        Some("json") => FeedFormat::Misp,
        _ => FeedFormat::List,
    }
}

trait LineReader {
    fn line(&mut self, sink: &mut Sink<'_>, n: u32, text: &str);
    /// A whole-file problem found at the end (e.g. no header).
    fn finish(&mut self) -> Option<String> {
        None
    }
}

/// Zeek TSV: `#separator`, `#fields`, then rows; `-` and `(empty)` are unset.
#[derive(Default)]
struct ZeekReader {
    sep: Option<char>,
    cols: Option<[Option<usize>; 4]>,
}

fn unset(s: Option<&str>) -> Option<&str> {
    s.map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-" && *s != "(empty)")
}

impl LineReader for ZeekReader {
    fn line(&mut self, sink: &mut Sink<'_>, n: u32, text: &str) {
        let sep = self.sep.unwrap_or('\t');
        if let Some(rest) = text.strip_prefix("#separator") {
            let v = rest.trim();
            self.sep = match v
                .strip_prefix("\\x")
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => Some(b as char),
                None => v.chars().next(),
            };
            return;
        }
        if let Some(rest) = text.strip_prefix("#fields") {
            let names: Vec<&str> = rest
                .split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let pos = |n: &str| names.iter().position(|x| *x == n);
            self.cols = Some([
                pos("indicator"),
                pos("indicator_type"),
                pos("meta.source"),
                pos("meta.desc"),
            ]);
            if pos("indicator").is_none() || pos("indicator_type").is_none() {
                sink.bad(n, "#fields lacks indicator or indicator_type".into());
            }
            return;
        }
        if text.starts_with('#') || text.trim().is_empty() {
            return;
        }
        let Some([Some(ci), Some(ct), cs, cd]) = self.cols else {
            sink.bad(n, "row before a usable #fields line".into());
            return;
        };
        let mut cols: [&str; 16] = [""; 16];
        for (slot, part) in cols.iter_mut().zip(text.split(sep)) {
            *slot = part;
        }
        let f = &cols[..];
        let (Some(value), Some(ty)) = (unset(f.get(ci).copied()), unset(f.get(ct).copied())) else {
            sink.bad(n, "indicator or indicator_type missing".into());
            return;
        };
        let Some(kind) = Kind::from_name(ty) else {
            sink.bad(n, format!("unknown indicator_type {ty}"));
            return;
        };
        let src = cs.and_then(|i| unset(f.get(i).copied()));
        let desc = cd.and_then(|i| unset(f.get(i).copied()));
        sink.add(kind, value, n, src, desc);
    }
}

/// Plain list: one indicator per line, `#` comments, an optional `# comment` after it (kept as
/// the description); the type from the config or guessed strictly.
struct ListReader {
    hint: Option<Kind>,
}

/// The type of a bare indicator, when it is unambiguous.
pub(crate) fn guess(v: &str) -> Option<Kind> {
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Some(Kind::Addr);
    }
    if v.parse::<ipnet::IpNet>().is_ok() {
        return Some(Kind::Subnet);
    }
    if matches!(v.len(), 32 | 40 | 64) && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(Kind::FileHash);
    }
    if v.contains("://") {
        return Some(Kind::Url);
    }
    if let Some((local, dom)) = v.split_once('@') {
        return (!local.is_empty() && super::norm::looks_like_domain(dom)).then_some(Kind::Email);
    }
    if let Some((host, _)) = v.split_once('/') {
        return super::norm::looks_like_domain(host).then_some(Kind::Url);
    }
    super::norm::looks_like_domain(v).then_some(Kind::Domain)
}

impl LineReader for ListReader {
    fn line(&mut self, sink: &mut Sink<'_>, n: u32, text: &str) {
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            return;
        }
        let (value, desc) = match t.split_once(char::is_whitespace) {
            Some((v, rest)) => {
                let rest = rest.trim();
                match rest.strip_prefix('#') {
                    Some(c) => (v, Some(c.trim())),
                    None if self.hint == Some(Kind::Software) => (t, None),
                    None => {
                        sink.bad(n, "more than one field (use CSV or Zeek TSV)".into());
                        return;
                    }
                }
            }
            None => (t, None),
        };
        let kind = match self.hint.or_else(|| guess(value)) {
            Some(k) => k,
            None => {
                sink.bad(
                    n,
                    format!("cannot tell the type of {value:?} (give it in intel.types)"),
                );
                return;
            }
        };
        sink.add(kind, value, n, None, desc);
    }
}

/// CSV: a header (`indicator`/`value`/`ioc`, `type`, `source`, `description`/`desc`/`comment`),
/// then rows; quoted fields with doubled quotes.
#[derive(Default)]
struct CsvReader {
    cols: Option<[Option<usize>; 4]>,
    no_value_col: bool,
}

fn csv_split(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

impl LineReader for CsvReader {
    fn line(&mut self, sink: &mut Sink<'_>, n: u32, text: &str) {
        if text.trim().is_empty() || text.starts_with('#') {
            return;
        }
        let Some(fields) = csv_split(text) else {
            sink.bad(n, "unterminated quote".into());
            return;
        };
        let Some(cols) = self.cols else {
            let names: Vec<String> = fields
                .iter()
                .map(|f| f.trim().to_ascii_lowercase())
                .collect();
            let pos = |alts: &[&str]| names.iter().position(|x| alts.contains(&x.as_str()));
            let cols = [
                pos(&["indicator", "value", "ioc", "indicator_value", "observable"]),
                pos(&["type", "indicator_type", "kind", "ioc_type"]),
                pos(&["source", "meta.source", "feed"]),
                pos(&["desc", "description", "comment", "meta.desc", "threat"]),
            ];
            self.no_value_col = cols[0].is_none();
            self.cols = Some(cols);
            return;
        };
        let Some(ci) = cols[0] else { return };
        let get = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(value) = get(Some(ci)) else {
            sink.bad(n, "no indicator in this row".into());
            return;
        };
        let kind = match get(cols[1]) {
            Some(t) => match Kind::from_name(t) {
                Some(k) => k,
                None => {
                    sink.bad(n, format!("unknown type {t}"));
                    return;
                }
            },
            None => match guess(value) {
                Some(k) => k,
                None => {
                    sink.bad(n, format!("cannot tell the type of {value:?}"));
                    return;
                }
            },
        };
        sink.add(kind, value, n, get(cols[2]), get(cols[3]));
    }

    fn finish(&mut self) -> Option<String> {
        self.no_value_col
            .then(|| "CSV header names no indicator/value/ioc column".to_string())
    }
}

/// MISP: `{"response": {"Attribute": [...]}}`, `{"Attribute": [...]}`, `{"Event": {...}}`,
/// `{"response": [{"Event": ...}]}` or a bare array of attributes.
fn misp(sink: &mut Sink<'_>, v: &serde_json::Value) -> Result<(), String> {
    let mut attrs: Vec<&serde_json::Value> = Vec::new();
    fn collect<'v>(v: &'v serde_json::Value, out: &mut Vec<&'v serde_json::Value>) {
        match v {
            serde_json::Value::Array(a) => {
                for x in a {
                    if x.get("type").is_some() {
                        out.push(x);
                    } else {
                        collect(x, out);
                    }
                }
            }
            serde_json::Value::Object(o) => {
                for key in ["response", "Attribute", "Event", "Object"] {
                    if let Some(x) = o.get(key) {
                        collect(x, out);
                    }
                }
            }
            _ => {}
        }
    }
    collect(v, &mut attrs);
    if attrs.is_empty() && !matches!(v, serde_json::Value::Array(a) if a.is_empty()) {
        return Err("no MISP attributes (type, value) found".into());
    }
    for (i, a) in attrs.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let s = |k: &str| a.get(k).and_then(|x| x.as_str());
        let (Some(ty), Some(value)) = (s("type"), s("value")) else {
            sink.bad(n, "attribute without string type/value".into());
            continue;
        };
        let source = s("category");
        let desc = s("comment").filter(|c| !c.is_empty());
        let parts: Vec<&str> = value.split('|').collect();
        let targets: Vec<(Kind, Option<&str>)> = match ty {
            "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => {
                vec![(Kind::Addr, parts.first().copied())]
            }
            "domain" | "hostname" | "hostname|port" => vec![(Kind::Domain, parts.first().copied())],
            "domain|ip" => vec![
                (Kind::Domain, parts.first().copied()),
                (Kind::Addr, parts.get(1).copied()),
            ],
            "url" | "uri" | "link" => vec![(Kind::Url, Some(value))],
            "md5" | "sha1" | "sha256" => vec![(Kind::FileHash, Some(value))],
            "filename|md5" | "filename|sha1" | "filename|sha256" => {
                vec![(Kind::FileHash, parts.get(1).copied())]
            }
            "email" | "email-src" | "email-dst" => vec![(Kind::Email, Some(value))],
            "user-agent" => vec![(Kind::Software, Some(value))],
            "x509-fingerprint-sha1" => vec![(Kind::CertHash, Some(value))],
            "target-user" | "username" => vec![(Kind::UserName, Some(value))],
            other => {
                sink.bad(n, format!("unsupported MISP type {other}"));
                continue;
            }
        };
        for (k, v) in targets {
            match v {
                Some(v) => sink.add(k, v, n, source, desc),
                None => sink.bad(n, format!("{ty}: value {value:?} lacks a part")),
            }
        }
    }
    Ok(())
}

/// STIX 2.1: `indicator` objects with STIX patterns of comparisons joined by OR.
fn stix(sink: &mut Sink<'_>, v: &serde_json::Value) -> Result<(), String> {
    let objects = v
        .get("objects")
        .and_then(|o| o.as_array())
        .ok_or("STIX bundle without objects")?;
    for (i, o) in objects.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if o.get("type").and_then(|t| t.as_str()) != Some("indicator") {
            continue;
        }
        let s = |k: &str| o.get(k).and_then(|x| x.as_str());
        if let Some(pt) = s("pattern_type").filter(|p| *p != "stix") {
            sink.bad(n, format!("pattern_type {pt} is not stix"));
            continue;
        }
        let Some(pattern) = s("pattern") else {
            sink.bad(n, "indicator without pattern".into());
            continue;
        };
        let desc = s("description").or(s("name"));
        let source = s("created_by_ref");
        match stix_pattern(pattern) {
            Ok(terms) => {
                for (k, val) in terms {
                    sink.add(k, &val, n, source, desc);
                }
            }
            Err(why) => sink.bad(n, why),
        }
    }
    Ok(())
}

/// The (type, value) comparisons of a pattern: `[a:b = 'v' OR c:d = 'w'] OR [...]`.
pub(crate) fn stix_pattern(p: &str) -> Result<Vec<(Kind, String)>, String> {
    let mut out = Vec::new();
    let mut rest = p.trim();
    loop {
        rest = rest.trim_start();
        rest = rest.strip_prefix('[').unwrap_or(rest).trim_start();
        // object path up to '='
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("no comparison in {p:?}"))?;
        let path = rest[..eq].trim();
        if path.ends_with(['!', '<', '>']) {
            return Err(format!("only = comparisons are supported: {p:?}"));
        }
        let after = rest[eq + 1..].trim_start();
        let after = after
            .strip_prefix('\'')
            .ok_or_else(|| format!("value not quoted in {p:?}"))?;
        let mut val = String::new();
        let mut it = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = it.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = it.next() {
                        val.push(e);
                    }
                }
                '\'' => {
                    end = Some(i + 1);
                    break;
                }
                c => val.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("unterminated value in {p:?}"))?;
        let kind = stix_kind(path).ok_or_else(|| format!("unsupported object path {path}"))?;
        out.push((kind, val));
        rest = after[end..].trim_start();
        rest = rest.trim_start_matches([']', ' ']);
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix("OR") {
            rest = r;
        } else if rest.starts_with("AND") {
            return Err("AND patterns are not supported".into());
        } else {
            return Err(format!("unexpected {rest:?} in pattern"));
        }
    }
    Ok(out)
}

fn stix_kind(path: &str) -> Option<Kind> {
    let p: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let p = p.replace('\'', "");
    Some(match p.as_str() {
        "ipv4-addr:value" | "ipv6-addr:value" => Kind::Addr,
        "domain-name:value" => Kind::Domain,
        "url:value" => Kind::Url,
        "email-addr:value" | "email-message:from_ref.value" | "email-message:sender_ref.value" => {
            Kind::Email
        }
        "user-account:user_id" | "user-account:account_login" => Kind::UserName,
        "x509-certificate:hashes.SHA-1" | "x509-certificate:hashes.SHA1" => Kind::CertHash,
        "software:name" => Kind::Software,
        _ if p.starts_with("file:hashes.") => {
            let h = p.trim_start_matches("file:hashes.").to_ascii_uppercase();
            match h.as_str() {
                "MD5" | "SHA-1" | "SHA1" | "SHA-256" | "SHA256" => Kind::FileHash,
                _ => return None,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stix_patterns() {
        let t = stix_pattern(
            "[ipv4-addr:value = '198.51.100.0/24' OR domain-name:value = 'e\\'x.example']",
        )
        .unwrap();
        assert_eq!(
            t,
            vec![
                (Kind::Addr, "198.51.100.0/24".into()),
                (Kind::Domain, "e'x.example".into())
            ]
        );
        let t =
            stix_pattern("[file:hashes.'SHA-256' = 'ab'] OR [url:value = 'http://x/']").unwrap();
        assert_eq!(t.len(), 2);
        assert!(stix_pattern("[a:b = 'x' AND c:d = 'y']").is_err());
        assert!(stix_pattern("[file:hashes.CRC = 'x']").is_err());
        assert!(stix_pattern("[ipv4-addr:value != '1.2.3.4']").is_err());
    }

    #[test]
    fn guesses_strictly() {
        assert_eq!(guess("192.0.2.1"), Some(Kind::Addr));
        assert_eq!(guess("192.0.2.0/24"), Some(Kind::Subnet));
        assert_eq!(guess("evil.example"), Some(Kind::Domain));
        assert_eq!(guess("evil.example/x"), Some(Kind::Url));
        assert_eq!(guess("a@evil.example"), Some(Kind::Email));
        assert_eq!(guess(&"0".repeat(40)), Some(Kind::FileHash));
        assert_eq!(guess("hello"), None);
        assert_eq!(guess("1.2.3"), None);
    }

    #[test]
    fn csv_fields() {
        assert_eq!(
            csv_split("a,\"b,\"\"c\"\"\",d").unwrap(),
            vec!["a", "b,\"c\"", "d"]
        );
        assert!(csv_split("\"open").is_none());
    }
}
