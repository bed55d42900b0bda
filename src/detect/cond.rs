//! Conditions: the compiled form both native and Sigma rules take. A condition is a tree of
//! and/or/not over tests; a test reads one field slot ([`super::fields`]) and holds when any of
//! the record's values for that field matches (with `|all`: when each pattern matches one).
//! Evaluation allocates nothing; the words for an analyst ([`Cond::explain`]) are only built
//! for a record that matched.

use std::net::IpAddr;

use regex::Regex;

use super::fields::{Val, Values};

/// A compiled condition over one record.
#[derive(Clone, Debug)]
pub enum Cond {
    Const(bool),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Test(Test),
}

/// One field test.
#[derive(Clone, Debug)]
pub struct Test {
    /// The field as the rule names it (for reasons and `rules check`).
    pub field: String,
    pub slot: usize,
    pub m: Match,
}

#[derive(Clone, Debug)]
pub enum Match {
    /// Some value matches one of the patterns.
    Any(Vec<Pat>),
    /// Each pattern matches some value (`|all`).
    All(Vec<Pat>),
    /// The field has a value (`|exists: true`) or has none (`|exists: false`, `null`).
    Exists(bool),
    /// No value, or only empty ones (Sigma `field: ''`).
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrKind {
    Exact,
    Contains,
    Prefix,
    Suffix,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug)]
pub enum Pat {
    /// A plain string; `text` is lower-case unless `cased`.
    Str {
        kind: StrKind,
        text: String,
        cased: bool,
    },
    /// A string with wildcards inside, or a `|re`.
    Regex(Regex),
    Cidr(ipnet::IpNet),
    Cmp(CmpOp, f64),
    /// A number: equal as a number, or as text.
    Num(f64, String),
    Bool(bool),
}

impl Cond {
    pub fn eval(&self, v: &Values) -> bool {
        match self {
            Cond::Const(b) => *b,
            Cond::And(cs) => cs.iter().all(|c| c.eval(v)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(v)),
            Cond::Not(c) => !c.eval(v),
            Cond::Test(t) => t.eval(v.get(t.slot)),
        }
    }

    /// For a condition that holds: the tests that made it hold, in words.
    pub fn explain(&self, v: &Values, out: &mut Vec<String>) {
        match self {
            Cond::Const(_) | Cond::Not(_) => {}
            Cond::And(cs) => {
                for c in cs {
                    c.explain(v, out);
                }
            }
            Cond::Or(cs) => {
                if let Some(c) = cs.iter().find(|c| c.eval(v)) {
                    c.explain(v, out);
                }
            }
            Cond::Test(t) => {
                if let Some(s) = t.describe(v.get(t.slot)) {
                    out.push(s);
                }
            }
        }
    }

    /// Every field the condition reads, once each, in order of appearance.
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            Cond::Const(_) => {}
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| c.fields(out)),
            Cond::Not(c) => c.fields(out),
            Cond::Test(t) => {
                if !out.contains(&t.field) {
                    out.push(t.field.clone());
                }
            }
        }
    }
}

impl Test {
    pub fn eval(&self, vals: &[Val]) -> bool {
        match &self.m {
            Match::Any(ps) => vals.iter().any(|v| ps.iter().any(|p| p.matches(v))),
            Match::All(ps) => ps.iter().all(|p| vals.iter().any(|v| p.matches(v))),
            Match::Exists(want) => vals.iter().any(|v| !is_empty(v)) == *want,
            Match::Empty => vals.iter().all(is_empty),
        }
    }

    fn describe(&self, vals: &[Val]) -> Option<String> {
        let f = &self.field;
        match &self.m {
            Match::Any(ps) => {
                let (v, p) = vals
                    .iter()
                    .find_map(|v| ps.iter().find(|p| p.matches(v)).map(|p| (v, p)))?;
                Some(format!("{f} `{}` {}", clip(&v.text()), p.describe()))
            }
            Match::All(ps) => {
                let parts: Vec<String> = ps.iter().map(Pat::describe).collect();
                Some(format!("{f} {}", parts.join(" and ")))
            }
            Match::Exists(true) => Some(format!("{f} is present")),
            Match::Exists(false) | Match::Empty => Some(format!("{f} is absent or empty")),
        }
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn is_empty(v: &Val) -> bool {
    matches!(v, Val::Str(s) if s.is_empty())
}

impl Pat {
    pub fn matches(&self, v: &Val) -> bool {
        match self {
            Pat::Str { kind, text, cased } => {
                let s = v.text();
                str_match(*kind, &s, text, *cased)
            }
            Pat::Regex(re) => re.is_match(&v.text()),
            Pat::Cidr(net) => match v {
                Val::Str(s) => s.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
                _ => false,
            },
            Pat::Cmp(op, n) => v.as_f64().is_some_and(|x| match op {
                CmpOp::Lt => x < *n,
                CmpOp::Le => x <= *n,
                CmpOp::Gt => x > *n,
                CmpOp::Ge => x >= *n,
            }),
            Pat::Num(n, text) => match v {
                Val::Str(s) => s.eq_ignore_ascii_case(text),
                other => other.as_f64() == Some(*n),
            },
            Pat::Bool(b) => match v {
                Val::Bool(x) => x == b,
                Val::Str(s) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                _ => false,
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            Pat::Str { kind, text, .. } => match kind {
                StrKind::Exact => format!("is `{text}`"),
                StrKind::Contains => format!("contains `{text}`"),
                StrKind::Prefix => format!("starts with `{text}`"),
                StrKind::Suffix => format!("ends with `{text}`"),
            },
            Pat::Regex(re) => format!("matches /{}/", re.as_str()),
            Pat::Cidr(n) => format!("is in {n}"),
            Pat::Cmp(op, n) => {
                let o = match op {
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                format!("{o} {n}")
            }
            Pat::Num(_, t) => format!("is {t}"),
            Pat::Bool(b) => format!("is {b}"),
        }
    }
}

/// String comparison; `pat` is already lower-case when not `cased` (ASCII case folding, as
/// Sigma backends do).
pub fn str_match(kind: StrKind, s: &str, pat: &str, cased: bool) -> bool {
    let (s, p) = (s.as_bytes(), pat.as_bytes());
    let eq = |a: &[u8], b: &[u8]| {
        if cased {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    match kind {
        StrKind::Exact => s.len() == p.len() && eq(s, p),
        StrKind::Prefix => s.len() >= p.len() && eq(&s[..p.len()], p),
        StrKind::Suffix => s.len() >= p.len() && eq(&s[s.len() - p.len()..], p),
        StrKind::Contains => {
            if p.is_empty() {
                return true;
            }
            if s.len() < p.len() {
                return false;
            }
            let first = p[0];
            (0..=s.len() - p.len()).any(|i| {
                let c = s[i];
                (c == first || (!cased && c.eq_ignore_ascii_case(&first)))
                    && eq(&s[i..i + p.len()], p)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: StrKind, t: &str) -> Pat {
        Pat::Str {
            kind,
            text: t.to_ascii_lowercase(),
            cased: false,
        }
    }

    #[test]
    fn string_kinds_fold_ascii_case() {
        let v = Val::Str("Mozilla/5.0 PowerShell/7".into());
        assert!(s(StrKind::Contains, "powershell").matches(&v));
        assert!(s(StrKind::Prefix, "MOZILLA/").matches(&v));
        assert!(s(StrKind::Suffix, "shell/7").matches(&v));
        assert!(!s(StrKind::Exact, "mozilla").matches(&v));
        let cased = Pat::Str {
            kind: StrKind::Contains,
            text: "powershell".into(),
            cased: true,
        };
        assert!(!cased.matches(&v));
        assert!(s(StrKind::Contains, "").matches(&Val::Str(String::new())));
        assert!(!s(StrKind::Suffix, "longer than the value").matches(&Val::Str("x".into())));
    }

    #[test]
    fn numbers_cidr_bools() {
        assert!(Pat::Num(23.0, "23".into()).matches(&Val::Int(23)));
        assert!(Pat::Num(23.0, "23".into()).matches(&Val::Str("23".into())));
        assert!(Pat::Cmp(CmpOp::Ge, 3.5).matches(&Val::Float(3.9)));
        assert!(!Pat::Cmp(CmpOp::Lt, 3.5).matches(&Val::Str("x".into())));
        let net: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(Pat::Cidr(net).matches(&Val::Str("10.9.8.7".into())));
        assert!(!Pat::Cidr(net).matches(&Val::Str("192.0.2.1".into())));
        assert!(Pat::Bool(true).matches(&Val::Bool(true)));
    }

    #[test]
    fn any_all_exists_and_reasons() {
        let mut vals = Values::default();
        vals.set(
            0,
            vec![Val::Str("a.evil.example".into()), Val::Str("b".into())],
        );
        let t = |m| {
            Cond::Test(Test {
                field: "dns.query".into(),
                slot: 0,
                m,
            })
        };
        let any = t(Match::Any(vec![s(StrKind::Suffix, ".example")]));
        let all = t(Match::All(vec![
            s(StrKind::Contains, "evil"),
            s(StrKind::Exact, "b"),
        ]));
        let all_no = t(Match::All(vec![
            s(StrKind::Contains, "evil"),
            s(StrKind::Exact, "c"),
        ]));
        assert!(any.eval(&vals) && all.eval(&vals) && !all_no.eval(&vals));
        assert!(t(Match::Exists(true)).eval(&vals));
        let missing = Cond::Test(Test {
            field: "x".into(),
            slot: 5,
            m: Match::Exists(false),
        });
        assert!(missing.eval(&vals));
        let c = Cond::And(vec![any, Cond::Not(Box::new(all_no))]);
        assert!(c.eval(&vals));
        let mut why = Vec::new();
        c.explain(&vals, &mut why);
        assert_eq!(why, vec!["dns.query `a.evil.example` ends with `.example`"]);
    }
}
