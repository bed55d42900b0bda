//! Looks one record's fields up in the set and attaches the hits.

use std::net::IpAddr;

use super::store::{Found, IntelSet};
use super::{norm, IntelHit, Kind};
use crate::record::{Body, Record};

struct Hits<'s> {
    set: &'s IntelSet,
    out: Vec<IntelHit>,
}

impl Hits<'_> {
    fn push(&mut self, f: Option<Found<'_>>, field: &'static str, value: &str) {
        let Some(f) = f else { return };
        let kind = f.meta.kind.as_str();
        if self
            .out
            .iter()
            .any(|h| h.field == field && h.kind == kind && h.indicator == f.indicator)
        {
            return;
        }
        self.out.push(IntelHit {
            indicator: f.indicator,
            kind,
            field,
            value: value.to_string(),
            feed: f.feed.name.clone(),
            feed_version: f.feed.version.clone(),
            line: f.meta.line,
            source: self.set.interned(f.meta.source),
            desc: self.set.interned(f.meta.desc),
        });
    }

    fn ip(&mut self, ip: IpAddr, field: &'static str) {
        if self.set.has(Kind::Addr) {
            let f = self.set.addr(ip);
            if f.is_some() {
                self.push(f, field, &ip.to_string());
            }
        }
    }

    fn ip_text(&mut self, s: &str, field: &'static str) {
        if self.set.has(Kind::Addr) {
            if let Ok(ip) = s.trim().parse::<IpAddr>() {
                self.ip(ip, field);
            }
        }
    }

    /// The name and each parent domain down to (not including) its public suffix; the most
    /// specific listed one matches. An address literal is looked up as an address.
    fn domain(&mut self, s: &str, field: &'static str) {
        if !self.set.has(Kind::Domain) {
            if self.set.has(Kind::Addr) {
                self.ip_text(s, field);
            }
            return;
        }
        let Some(d) = norm::domain(s) else { return };
        if let Ok(ip) = d.parse::<IpAddr>() {
            self.ip(ip, field);
            return;
        }
        let suffix = psl::suffix(d.as_bytes()).map_or(0, |x| x.as_bytes().len());
        let mut cand: &str = &d;
        while cand.len() > suffix {
            if let Some(f) = self.set.name(Kind::Domain, cand) {
                self.push(Some(f), field, &d);
                return;
            }
            match cand.split_once('.') {
                Some((_, parent)) => cand = parent,
                None => break,
            }
        }
    }

    fn url(&mut self, s: &str, field: &'static str) {
        if self.set.has(Kind::Url) {
            if let Some(u) = norm::url(s) {
                let f = self.set.name(Kind::Url, &u);
                self.push(f, field, s);
            }
        }
    }

    fn email(&mut self, s: &str, field: &'static str) {
        let (has_e, has_d) = (self.set.has(Kind::Email), self.set.has(Kind::Domain));
        if !has_e && !has_d {
            return;
        }
        let Some(addr) = norm::email(s) else { return };
        if has_e {
            let f = self.set.name(Kind::Email, &addr);
            self.push(f, field, &addr);
        }
        if has_d {
            if let Some((_, dom)) = addr.rsplit_once('@') {
                self.domain(dom, field);
            }
        }
    }

    fn user(&mut self, s: &str, field: &'static str) {
        if !self.set.has(Kind::UserName) {
            return;
        }
        let Some(u) = norm::user(s) else { return };
        let f = self.set.name(Kind::UserName, &u);
        if f.is_some() {
            self.push(f, field, s);
            return;
        }
        // The account inside a DN (`cn=name,...`), `DOMAIN\name` or `name@realm`.
        let inner = if let Some(rest) = u.strip_prefix("cn=") {
            rest.split(',').next()
        } else if let Some((_, n)) = u.split_once('\\') {
            Some(n)
        } else {
            u.split_once('@').map(|(n, _)| n)
        };
        if let Some(n) = inner.map(str::trim).filter(|n| !n.is_empty()) {
            let f = self.set.name(Kind::UserName, n);
            self.push(f, field, s);
        }
    }

    fn hash(&mut self, hex: &str, field: &'static str) {
        if self.set.has(Kind::FileHash) && !hex.is_empty() {
            let f = self.set.hash_hex(hex);
            self.push(f, field, hex);
        }
    }

    fn software(&mut self, s: &str, field: &'static str) {
        if self.set.has(Kind::Software) {
            let f = self.set.name(Kind::Software, s.trim());
            self.push(f, field, s);
        }
    }
}

/// `CN=name` of a distinguished name.
fn common_name(dn: &str) -> Option<&str> {
    dn.split([',', '/'])
        .map(str::trim)
        .find_map(|p| p.strip_prefix("CN=").or_else(|| p.strip_prefix("cn=")))
}

impl IntelSet {
    /// Looks the record's fields up and appends the hits to `r.intel`.
    pub fn annotate(&self, r: &mut Record) {
        if self.is_empty() {
            return;
        }
        let mut h = Hits {
            set: self,
            out: std::mem::take(&mut r.intel),
        };
        let before = h.out.len();
        if let Some(f) = &r.flow {
            h.ip(f.src_ip, "src_ip");
            h.ip(f.dest_ip, "dest_ip");
        }
        match &r.body {
            Body::Dns(d) => {
                if let Some(q) = &d.query {
                    h.domain(q, "dns.query");
                }
                for a in &d.answers {
                    h.domain(&a.name, "dns.answers.name");
                    match a.rtype.as_str() {
                        "A" | "AAAA" => h.ip_text(&a.data, "dns.answers.data"),
                        "CNAME" | "NS" | "PTR" | "DNAME" => h.domain(&a.data, "dns.answers.data"),
                        "MX" | "SRV" => {
                            if let Some(t) = a.data.split_whitespace().last() {
                                h.domain(t, "dns.answers.data");
                            }
                        }
                        _ => {}
                    }
                }
            }
            Body::Http(b) => {
                if let Some(host) = &b.host {
                    h.domain(norm::host_of_header(host), "http.host");
                }
                if let Some(u) = &b.url {
                    h.url(u, "http.url");
                    if let Some(host) = norm::url(u)
                        .as_deref()
                        .and_then(|n| n.split(['/', '?']).next())
                    {
                        h.domain(norm::host_of_header(host), "http.url");
                    }
                }
                if let Some(ua) = &b.user_agent {
                    h.software(ua, "http.user_agent");
                }
                for ip in &b.target_ips {
                    h.ip_text(ip, "http.target_ips");
                }
            }
            Body::Tls(t) => {
                if let Some(sni) = &t.sni {
                    h.domain(sni, "tls.sni");
                }
                if let Some(c) = &t.certificate {
                    if let Some(sha1) = &c.sha1 {
                        h.hash(sha1, "tls.certificate.sha1");
                    }
                    if let Some(cn) = c.subject.as_deref().and_then(common_name) {
                        let cn = cn.strip_prefix("*.").unwrap_or(cn);
                        h.domain(cn, "tls.certificate.subject");
                    }
                }
            }
            Body::File(f) => {
                h.hash(&f.md5, "file.md5");
                h.hash(&f.sha1, "file.sha1");
                h.hash(&f.sha256, "file.sha256");
            }
            Body::Email(e) => {
                if let Some(m) = &e.mail_from {
                    h.email(m, "email.mail_from");
                }
                for m in &e.rcpt_to {
                    h.email(m, "email.rcpt_to");
                }
                if let Some(m) = &e.from {
                    h.email(m, "email.from");
                }
                for m in &e.to {
                    h.email(m, "email.to");
                }
                for m in &e.cc {
                    h.email(m, "email.cc");
                }
                for a in &e.attachments {
                    h.hash(&a.md5, "email.attachments.md5");
                    h.hash(&a.sha256, "email.attachments.sha256");
                }
            }
            Body::Kerberos(k) => {
                if let Some(c) = &k.cname {
                    h.user(c, "kerberos.cname");
                }
            }
            Body::Ldap(l) => {
                if let Some(b) = &l.bind_name {
                    h.user(b, "ldap.bind_name");
                }
            }
            Body::Flow(_) | Body::SensorStatus(_) | Body::Detection(_) => {}
        }
        let n = (h.out.len() - before) as u64;
        if n > 0 {
            self.count_hits(n);
        }
        r.intel = h.out;
    }
}
