//! Compiles a Sigma-syntax `detection:` block (Sigma rules and native rules share it) into a
//! [`Cond`]: named selections (maps of `field|modifier: value(s)`, lists of maps, keyword
//! lists) and a condition expression over them (`and`, `or`, `not`, parentheses,
//! `1 of sel_*`, `all of them`).

use base64::Engine as _;
use serde_json::Value;

use super::cond::{CmpOp, Cond, Match, Pat, StrKind, Test};
use super::fields::Plan;

/// Maps a rule's field name to the record field it reads, or says why it cannot.
pub type FieldMap<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Compiles `detection` (a map) against `plan`.
pub fn detection(det: &Value, map: FieldMap<'_>, plan: &mut Plan) -> Result<Cond, String> {
    let obj = det
        .as_object()
        .ok_or("`detection` must be a map of selections and a condition")?;
    let mut sels: Vec<(String, Cond)> = Vec::new();
    for (name, v) in obj {
        if name == "condition" || name == "timeframe" {
            continue;
        }
        let c = selection(v, map, plan).map_err(|e| format!("selection `{name}`: {e}"))?;
        sels.push((name.clone(), c));
    }
    let cond = obj
        .get("condition")
        .ok_or("`detection` has no `condition`")?;
    let exprs: Vec<&str> = match cond {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().ok_or("`condition` list entries must be strings"))
            .collect::<Result<_, _>>()?,
        _ => return Err("`condition` must be a string".into()),
    };
    let mut alts = Vec::new();
    for e in exprs {
        if e.contains('|') {
            return Err(format!(
                "condition `{e}`: aggregation after `|` is Sigma's deprecated syntax; use a correlation rule"
            ));
        }
        let toks = lex(e)?;
        let mut p = Parser {
            toks: &toks,
            pos: 0,
            sels: &sels,
        };
        let c = p.or()?;
        if p.pos != toks.len() {
            return Err(format!("condition `{e}`: unexpected `{}`", toks[p.pos]));
        }
        alts.push(c);
    }
    Ok(if alts.len() == 1 {
        alts.remove(0)
    } else {
        Cond::Or(alts)
    })
}

fn selection(v: &Value, map: FieldMap<'_>, plan: &mut Plan) -> Result<Cond, String> {
    match v {
        Value::Object(m) => {
            let mut all = Vec::new();
            for (key, vals) in m {
                all.push(field_test(key, vals, map, plan)?);
            }
            Ok(Cond::And(all))
        }
        Value::Array(items) if items.iter().all(Value::is_object) => {
            let mut any = Vec::new();
            for it in items {
                any.push(selection(it, map, plan)?);
            }
            Ok(Cond::Or(any))
        }
        Value::Array(_) | Value::String(_) | Value::Number(_) => {
            // Keywords: a list of values searched in every text field of the record.
            field_test("keywords", v, map, plan)
        }
        _ => Err("a selection is a map, a list of maps or a list of keywords".into()),
    }
}

#[derive(Default)]
struct Mods {
    kind: Option<StrKind>,
    all: bool,
    re: bool,
    re_flags: String,
    cidr: bool,
    cmp: Option<CmpOp>,
    exists: bool,
    cased: bool,
    base64: bool,
    base64offset: bool,
    windash: bool,
    wide: Option<&'static str>,
}

fn field_test(key: &str, vals: &Value, map: FieldMap<'_>, plan: &mut Plan) -> Result<Cond, String> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or_default();
    let mut m = Mods::default();
    for md in parts {
        match md {
            "contains" => m.kind = Some(StrKind::Contains),
            "startswith" => m.kind = Some(StrKind::Prefix),
            "endswith" => m.kind = Some(StrKind::Suffix),
            "all" => m.all = true,
            "re" => m.re = true,
            "i" | "m" | "s" if m.re => m.re_flags.push_str(md),
            "cidr" => m.cidr = true,
            "lt" => m.cmp = Some(CmpOp::Lt),
            "lte" => m.cmp = Some(CmpOp::Le),
            "gt" => m.cmp = Some(CmpOp::Gt),
            "gte" => m.cmp = Some(CmpOp::Ge),
            "exists" => m.exists = true,
            "cased" => m.cased = true,
            "base64" => m.base64 = true,
            "base64offset" => m.base64offset = true,
            "windash" => m.windash = true,
            "wide" | "utf16le" => m.wide = Some("utf16le"),
            "utf16be" => m.wide = Some("utf16be"),
            "utf16" => m.wide = Some("utf16"),
            other => {
                return Err(format!(
                    "field `{key}`: modifier `{other}` is not supported"
                ))
            }
        }
    }
    let field = if name == "keywords" && key == "keywords" {
        "keywords".to_string()
    } else {
        map(name).map_err(|e| format!("field `{name}`: {e}"))?
    };
    if field == "keywords" && m.kind.is_none() {
        // A keyword is looked for anywhere in the record's text.
        m.kind = Some(StrKind::Contains);
    }
    let slot = plan.field(&field);
    let list: Vec<&Value> = match vals {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let test = |m| {
        Cond::Test(Test {
            field: field.clone(),
            slot,
            m,
        })
    };
    if m.exists {
        let want = match list.as_slice() {
            [Value::Bool(b)] => *b,
            _ => return Err(format!("field `{key}`: `exists` takes true or false")),
        };
        return Ok(test(Match::Exists(want)));
    }
    if list.is_empty() {
        return Err(format!("field `{key}`: empty list of values"));
    }
    // `null` and '' alone: the field is absent (or empty).
    if list.len() == 1 {
        match list[0] {
            Value::Null => return Ok(test(Match::Exists(false))),
            Value::String(s) if s.is_empty() && m.kind.is_none() && !m.re => {
                return Ok(test(Match::Empty))
            }
            _ => {}
        }
    }
    let mut pats = Vec::new();
    for v in list {
        pats.extend(value_pats(v, &m).map_err(|e| format!("field `{key}`: {e}"))?);
    }
    Ok(test(if m.all {
        Match::All(pats)
    } else {
        Match::Any(pats)
    }))
}

fn value_pats(v: &Value, m: &Mods) -> Result<Vec<Pat>, String> {
    if let Some(op) = m.cmp {
        let n = v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| format!("`{v}` is not a number"))?;
        return Ok(vec![Pat::Cmp(op, n)]);
    }
    if m.cidr {
        let s = v.as_str().ok_or("`cidr` takes a network in CIDR form")?;
        let net = s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| format!("`{s}` is not a network"))?;
        return Ok(vec![Pat::Cidr(net)]);
    }
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if m.kind.is_none() && !m.re => {
            let t = n.to_string();
            return Ok(vec![Pat::Num(n.as_f64().unwrap_or(f64::NAN), t)]);
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) if m.kind.is_none() => return Ok(vec![Pat::Bool(*b)]),
        Value::Null => return Err("`null` inside a list of values".into()),
        other => return Err(format!("`{other}` is not a value")),
    };
    if m.re {
        let flags = if m.re_flags.is_empty() {
            String::new()
        } else {
            format!("(?{})", m.re_flags)
        };
        let re = regex::RegexBuilder::new(&format!("{flags}{text}"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("regex `{text}`: {e}"))?;
        return Ok(vec![Pat::Regex(re)]);
    }
    let kind = m.kind.unwrap_or(StrKind::Exact);
    // Encodings turn one value into the strings to look for.
    let mut texts = vec![text];
    if m.windash {
        texts = texts.iter().flat_map(|t| windash(t)).collect();
    }
    if let Some(w) = m.wide {
        if !(m.base64 || m.base64offset) {
            return Err(format!("`{w}` only with `base64` or `base64offset`"));
        }
    }
    if m.base64 || m.base64offset {
        let mut out = Vec::new();
        for t in &texts {
            let bytes = encode_wide(t, m.wide);
            if m.base64offset {
                out.extend(base64_offsets(&bytes));
            } else {
                out.push(base64::engine::general_purpose::STANDARD.encode(&bytes));
            }
        }
        // Encoded text is compared as written (base64 is case-sensitive).
        return Ok(out
            .into_iter()
            .map(|t| Pat::Str {
                kind,
                text: t,
                cased: true,
            })
            .collect());
    }
    texts
        .into_iter()
        .map(|t| str_pat(kind, &t, m.cased))
        .collect()
}

/// A string value with Sigma wildcards (`*`, `?`, `\` escapes) and the modifier's position.
fn str_pat(kind: StrKind, text: &str, cased: bool) -> Result<Pat, String> {
    // Pieces between unescaped wildcards.
    let mut pieces: Vec<(String, Option<char>)> = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('*' | '?' | '\\') => {
                    cur.push(chars.next().unwrap_or('\\'));
                }
                _ => cur.push('\\'),
            },
            '*' | '?' => {
                pieces.push((std::mem::take(&mut cur), Some(c)));
            }
            _ => cur.push(c),
        }
    }
    pieces.push((cur, None));
    let fold = |s: &str| {
        if cased {
            s.to_string()
        } else {
            s.to_ascii_lowercase()
        }
    };
    let wild: Vec<Option<char>> = pieces.iter().map(|p| p.1).collect();
    // Leading or trailing `*` only: still a plain comparison.
    let simple = match (pieces.len(), wild.as_slice()) {
        (1, _) => Some((kind, pieces[0].0.clone())),
        (2, [Some('*'), None]) if pieces[0].0.is_empty() => {
            Some((widen(kind, true, false), pieces[1].0.clone()))
        }
        (2, [Some('*'), None]) if pieces[1].0.is_empty() => {
            Some((widen(kind, false, true), pieces[0].0.clone()))
        }
        (3, [Some('*'), Some('*'), None]) if pieces[0].0.is_empty() && pieces[2].0.is_empty() => {
            Some((StrKind::Contains, pieces[1].0.clone()))
        }
        _ => None,
    };
    if let Some((k, t)) = simple {
        return Ok(Pat::Str {
            kind: k,
            text: fold(&t),
            cased,
        });
    }
    let mut re = String::from(if cased { "(?s)" } else { "(?is)" });
    if matches!(kind, StrKind::Exact | StrKind::Prefix) {
        re.push('^');
    }
    for (lit, w) in &pieces {
        re.push_str(&regex::escape(lit));
        match w {
            Some('*') => re.push_str(".*"),
            Some(_) => re.push('.'),
            None => {}
        }
    }
    if matches!(kind, StrKind::Exact | StrKind::Suffix) {
        re.push('$');
    }
    regex::RegexBuilder::new(&re)
        .size_limit(1 << 20)
        .build()
        .map(Pat::Regex)
        .map_err(|e| format!("pattern `{text}`: {e}"))
}

/// `*x` under `kind` (leading: the start is open; trailing: the end is open).
fn widen(kind: StrKind, open_start: bool, open_end: bool) -> StrKind {
    let (mut s, mut e) = match kind {
        StrKind::Exact => (false, false),
        StrKind::Prefix => (false, true),
        StrKind::Suffix => (true, false),
        StrKind::Contains => (true, true),
    };
    s |= open_start;
    e |= open_end;
    match (s, e) {
        (false, false) => StrKind::Exact,
        (false, true) => StrKind::Prefix,
        (true, false) => StrKind::Suffix,
        (true, true) => StrKind::Contains,
    }
}

/// `windash`: the value with `-` and `/` (and the en/em dashes) exchanged at option positions.
fn windash(t: &str) -> Vec<String> {
    let mut out = vec![t.to_string()];
    for alt in ['/', '–', '—', '―'] {
        let v: String = t
            .char_indices()
            .map(|(i, c)| {
                let at_option = i == 0 || t[..i].ends_with(' ');
                if c == '-' && at_option {
                    alt
                } else {
                    c
                }
            })
            .collect();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn encode_wide(t: &str, wide: Option<&str>) -> Vec<u8> {
    match wide {
        Some("utf16le") => t.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some("utf16be") => t.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Some(_) => [0xFF, 0xFE]
            .into_iter()
            .chain(t.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
        None => t.as_bytes().to_vec(),
    }
}

/// The three base64 forms of `b` at each offset modulo 3, with the edge characters that depend
/// on the unknown neighbours cut off (Sigma's `base64offset`).
fn base64_offsets(b: &[u8]) -> Vec<String> {
    let e = &base64::engine::general_purpose::STANDARD;
    let start = [0usize, 2, 3];
    let end_cut = [0usize, 3, 2];
    (0..3)
        .filter_map(|i| {
            let mut buf = vec![b' '; i];
            buf.extend_from_slice(b);
            let enc = e.encode(&buf);
            let cut = end_cut[(b.len() + i) % 3];
            let s = start[i];
            (enc.len() > s + cut).then(|| enc[s..enc.len() - cut].to_string())
        })
        .collect()
}

// ---- condition expressions ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    And,
    Or,
    Not,
    Open,
    Close,
    Of(Quant),
    Ident(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Quant {
    All,
    N(usize),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::And => f.write_str("and"),
            Tok::Or => f.write_str("or"),
            Tok::Not => f.write_str("not"),
            Tok::Open => f.write_str("("),
            Tok::Close => f.write_str(")"),
            Tok::Of(Quant::All) => f.write_str("all of"),
            Tok::Of(Quant::N(n)) => write!(f, "{n} of"),
            Tok::Ident(s) => f.write_str(s),
        }
    }
}

fn lex(e: &str) -> Result<Vec<Tok>, String> {
    let spaced = e.replace('(', " ( ").replace(')', " ) ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let lw = w.to_ascii_lowercase();
        let next_is_of = words
            .get(i + 1)
            .is_some_and(|n| n.eq_ignore_ascii_case("of"));
        let t = match lw.as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "(" => Tok::Open,
            ")" => Tok::Close,
            "all" | "any" if next_is_of => {
                i += 1;
                Tok::Of(if lw == "all" { Quant::All } else { Quant::N(1) })
            }
            n if next_is_of && n.parse::<usize>().is_ok() => {
                i += 1;
                Tok::Of(Quant::N(n.parse().unwrap_or(1)))
            }
            _ => Tok::Ident(w.to_string()),
        };
        out.push(t);
        i += 1;
    }
    if out.is_empty() {
        return Err("empty condition".into());
    }
    Ok(out)
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    sels: &'a [(String, Cond)],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut alts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            alts.push(self.and()?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Cond::Or(alts)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut all = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            all.push(self.not()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Cond::And(all)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        let t = self.peek().cloned().ok_or("condition ends too early")?;
        self.pos += 1;
        match t {
            Tok::Open => {
                let c = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err("missing `)` in condition".into());
                }
                self.pos += 1;
                Ok(c)
            }
            Tok::Of(q) => {
                let Some(Tok::Ident(pat)) = self.peek().cloned() else {
                    return Err("`of` needs a selection name, a pattern or `them`".into());
                };
                self.pos += 1;
                let picked: Vec<Cond> = self
                    .sels
                    .iter()
                    .filter(|(n, _)| {
                        if pat == "them" {
                            !n.starts_with('_')
                        } else {
                            glob_name(&pat, n)
                        }
                    })
                    .map(|(_, c)| c.clone())
                    .collect();
                if picked.is_empty() {
                    return Err(format!("`of {pat}` names no selection"));
                }
                Ok(match q {
                    Quant::All => Cond::And(picked),
                    Quant::N(1) => Cond::Or(picked),
                    Quant::N(n) => at_least(n, picked),
                })
            }
            Tok::Ident(name) => self
                .sels
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| c.clone())
                .ok_or_else(|| format!("condition names `{name}`, which is not a selection")),
            other => Err(format!("unexpected `{other}` in condition")),
        }
    }
}

/// At least `n` of `cs` (as an or of ands over the combinations; Sigma rules use small n).
fn at_least(n: usize, cs: Vec<Cond>) -> Cond {
    if n == 0 {
        return Cond::Const(true);
    }
    if n > cs.len() {
        return Cond::Const(false);
    }
    let mut alts = Vec::new();
    let mut idx: Vec<usize> = (0..n).collect();
    loop {
        alts.push(Cond::And(idx.iter().map(|i| cs[*i].clone()).collect()));
        // Next combination.
        let mut i = n;
        while i > 0 && idx[i - 1] == cs.len() - n + i - 1 {
            i -= 1;
        }
        if i == 0 || alts.len() > 1024 {
            break;
        }
        idx[i - 1] += 1;
        for j in i..n {
            idx[j] = idx[j - 1] + 1;
        }
    }
    Cond::Or(alts)
}

/// Selection-name pattern with `*` wildcards.
fn glob_name(pat: &str, name: &str) -> bool {
    match pat.split_once('*') {
        None => pat == name,
        Some((pre, rest)) => {
            if !name.starts_with(pre) {
                return false;
            }
            let tail = &name[pre.len()..];
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_name(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fields::{Val, Values};

    fn ident(f: &str) -> Result<String, String> {
        Ok(f.to_string())
    }

    fn compile(yaml: &str) -> (Cond, Plan) {
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        let mut plan = Plan::default();
        let c = detection(&v, &ident, &mut plan).unwrap();
        (c, plan)
    }

    fn vals(plan: &mut Plan, set: &[(&str, &[&str])]) -> Values {
        let mut v = Values::default();
        for (f, xs) in set {
            let s = plan.field(f);
            v.set(s, xs.iter().map(|x| Val::Str(x.to_string())).collect());
        }
        v
    }

    #[test]
    fn selections_modifiers_and_condition() {
        let (c, mut plan) = compile(
            "sel_ua:\n  http.user_agent|contains:\n    - python-requests\n    - curl/\nsel_post:\n  http.method: POST\n  http.uri|endswith: '.php'\nfilter:\n  http.host|endswith: '.corp.example'\ncondition: 1 of sel_* and not filter\n",
        );
        let hit = vals(
            &mut plan,
            &[
                ("http.user_agent", &["Python-Requests/2.31"]),
                ("http.host", &["x.example"]),
            ],
        );
        assert!(c.eval(&hit));
        let filtered = vals(
            &mut plan,
            &[
                ("http.user_agent", &["curl/8"]),
                ("http.host", &["a.corp.example"]),
            ],
        );
        assert!(!c.eval(&filtered));
        let post = vals(
            &mut plan,
            &[("http.method", &["post"]), ("http.uri", &["/a/gate.PHP"])],
        );
        assert!(c.eval(&post));
        let neither = vals(
            &mut plan,
            &[("http.method", &["GET"]), ("http.uri", &["/a.php"])],
        );
        assert!(!c.eval(&neither));
    }

    #[test]
    fn wildcards_all_of_them_and_lists_of_maps() {
        let (c, mut plan) = compile(
            "a:\n  - dns.query: '*.evil.*'\n  - dns.query: 'x?z.example'\nb:\n  dns.query|contains|all: [ab, cd]\ncondition: all of them\n",
        );
        assert!(c.eval(&vals(&mut plan, &[("dns.query", &["ab.evil.cd"])])));
        assert!(c.eval(&vals(&mut plan, &[("dns.query", &["xyz.example", "abcd"])])));
        assert!(!c.eval(&vals(&mut plan, &[("dns.query", &["ab.evil"])])));
    }

    #[test]
    fn keywords_null_empty_numbers_cidr() {
        let (c, mut plan) = compile(
            "keywords:\n  - '../../etc/passwd'\nua:\n  http.user_agent: ''\nnet:\n  dest_ip|cidr: 10.0.0.0/8\ncode:\n  http.status: 200\ncondition: keywords or (ua and net and code)\n",
        );
        let kw = plan.field("keywords");
        let mut v = Values::default();
        v.set(kw, vec![Val::Str("/x/../../etc/passwd".into())]);
        assert!(c.eval(&v));
        let mut v = vals(&mut plan, &[("dest_ip", &["10.1.1.1"])]);
        let st = plan.field("http.status");
        v.set(st, vec![Val::UInt(200)]);
        assert!(c.eval(&v), "absent user agent counts as ''");
        let ua = plan.field("http.user_agent");
        v.set(ua, vec![Val::Str("Mozilla".into())]);
        assert!(!c.eval(&v));
    }

    #[test]
    fn errors_name_the_problem() {
        let bad = |y: &str| {
            let v: Value = serde_saphyr::from_str(y).unwrap();
            detection(&v, &ident, &mut Plan::default()).unwrap_err()
        };
        assert!(bad("s:\n  a|nosuch: x\ncondition: s\n").contains("modifier `nosuch`"));
        assert!(bad("s:\n  a: x\ncondition: s | count() > 5\n").contains("deprecated"));
        assert!(bad("s:\n  a: x\ncondition: t\n").contains("`t`"));
        assert!(bad("s:\n  a: x\n").contains("no `condition`"));
        assert!(bad("s:\n  a|re: '('\ncondition: s\n").contains("regex"));
    }

    #[test]
    fn base64offset_and_windash() {
        // "http" at three offsets: what SigmaHQ documents for base64offset.
        assert_eq!(base64_offsets(b"http"), vec!["aHR0c", "h0dH", "odHRw"]);
        assert_eq!(
            windash("-enc x"),
            vec!["-enc x", "/enc x", "–enc x", "—enc x", "―enc x"]
        );
        let (c, mut plan) = compile("s:\n  http.uri|base64offset|contains: http\ncondition: s\n");
        assert!(c.eval(&vals(&mut plan, &[("http.uri", &["/?q=aHR0cDovL2V2aWw="])])));
    }

    #[test]
    fn at_least_n_of() {
        let (c, mut plan) = compile("s1:\n  f: a\ns2:\n  f: b\ns3:\n  f: c\ncondition: 2 of s*\n");
        assert!(c.eval(&vals(&mut plan, &[("f", &["a", "c"])])));
        assert!(!c.eval(&vals(&mut plan, &[("f", &["b"])])));
    }
}
