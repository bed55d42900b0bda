//! Passive learning: which accounts log on from which hosts (Kerberos client address ↔
//! principal), which hosts are KDCs and for which realms, and the names hosts go by (Kerberos
//! host principals, DNS answers). Each worker learns from the records it produces; the
//! pipeline merges what the workers learnt. Every map is capped; entries past a cap are
//! counted in `dropped`, never stored.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::record::{Body, Record};

/// Caps on what is kept.
#[derive(Clone, Copy, Debug)]
pub struct LearnedCaps {
    /// Most hosts (keys) per map.
    pub max_hosts: usize,
    /// Most values per host.
    pub max_per_host: usize,
    /// Most values (accounts and names) kept in all, whatever their spread over hosts.
    pub max_values: usize,
}

impl Default for LearnedCaps {
    fn default() -> Self {
        LearnedCaps {
            max_hosts: 100_000,
            max_per_host: 64,
            max_values: 100_000,
        }
    }
}

/// A KDC seen answering Kerberos requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Kdc {
    pub realms: BTreeSet<String>,
    pub requests: u64,
}

/// What was learnt.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Learned {
    /// Client address → accounts ("name@REALM") that requested tickets from it.
    pub accounts_by_host: BTreeMap<IpAddr, BTreeSet<String>>,
    /// KDC address → realms served.
    pub kdcs: BTreeMap<IpAddr, Kdc>,
    /// Address → host names it goes by (computer accounts "NAME$" in Kerberos, DNS answers).
    pub names_by_ip: BTreeMap<IpAddr, BTreeSet<String>>,
    /// Observations not kept because a cap was reached.
    pub dropped: u64,
    #[serde(skip)]
    caps: LearnedCaps,
    /// Values kept (for `caps.max_values`).
    #[serde(skip)]
    values: usize,
}

fn insert<K: Ord + Clone>(
    map: &mut BTreeMap<K, BTreeSet<String>>,
    caps: LearnedCaps,
    values: &mut usize,
    key: &K,
    value: String,
) -> bool {
    if !map.contains_key(key) && map.len() >= caps.max_hosts {
        return false;
    }
    if map.get(key).is_some_and(|s| s.contains(&value)) {
        return true;
    }
    if *values >= caps.max_values {
        return false;
    }
    let set = map.entry(key.clone()).or_default();
    if set.len() >= caps.max_per_host {
        return false;
    }
    set.insert(value);
    *values += 1;
    true
}

impl Learned {
    pub fn new(caps: LearnedCaps) -> Learned {
        Learned {
            caps,
            ..Learned::default()
        }
    }

    /// Learns from one record.
    pub fn observe(&mut self, r: &Record) {
        let Some(f) = &r.flow else { return };
        match &r.body {
            Body::Kerberos(k) => {
                let realm = k.crealm.as_deref().or(k.realm.as_deref());
                if let (Some(name), Some(realm)) = (k.cname.as_deref(), realm) {
                    if k.success != Some(false) {
                        let account = format!("{name}@{}", realm.to_uppercase());
                        if !insert(
                            &mut self.accounts_by_host,
                            self.caps,
                            &mut self.values,
                            &f.src_ip,
                            account,
                        ) {
                            self.dropped += 1;
                        }
                        // A computer account names the host it logs on from.
                        if let Some(host) = name.strip_suffix('$') {
                            let host = format!("{}.{}", host.to_lowercase(), realm.to_lowercase());
                            if !insert(
                                &mut self.names_by_ip,
                                self.caps,
                                &mut self.values,
                                &f.src_ip,
                                host,
                            ) {
                                self.dropped += 1;
                            }
                        }
                    }
                }
                if k.reply_msg_type.is_some() || k.msg_type == "KRB_ERROR" {
                    if !self.kdcs.contains_key(&f.dest_ip) && self.kdcs.len() >= self.caps.max_hosts
                    {
                        self.dropped += 1;
                        return;
                    }
                    let kdc = self.kdcs.entry(f.dest_ip).or_default();
                    kdc.requests += 1;
                    if let Some(realm) = k.realm.as_deref() {
                        if kdc.realms.len() < self.caps.max_per_host {
                            kdc.realms.insert(realm.to_uppercase());
                        }
                    }
                }
            }
            _ => self.observe_dns(r),
        }
    }

    /// DNS answers: A/AAAA name → address, PTR address → name.
    fn observe_dns(&mut self, r: &Record) {
        let Body::Dns(d) = &r.body else { return };
        for a in &d.answers {
            let (ip, name) = match a.rtype.as_str() {
                "A" | "AAAA" => match (a.data.parse::<IpAddr>(), d.query.as_deref()) {
                    (Ok(ip), Some(q)) => (ip, q.trim_end_matches('.').to_lowercase()),
                    _ => continue,
                },
                "PTR" => match ptr_ip(&a.name) {
                    Some(ip) => (ip, a.data.trim_end_matches('.').to_lowercase()),
                    None => continue,
                },
                _ => continue,
            };
            if name.is_empty() {
                continue;
            }
            if !insert(
                &mut self.names_by_ip,
                self.caps,
                &mut self.values,
                &ip,
                name,
            ) {
                self.dropped += 1;
            }
        }
    }

    /// Adds what another worker learnt.
    /// Every field is named (no `..`): a new one that is not merged does not compile.
    pub fn merge(&mut self, o: Learned) {
        let Learned {
            accounts_by_host,
            kdcs,
            names_by_ip,
            dropped,
            // This side's caps apply (an empty side, the sum's start, takes the other's); its
            // own count of values kept is recounted by `insert`.
            caps,
            values: _,
        } = o;
        if self.values == 0 && self.is_empty() {
            self.caps = caps;
        }
        self.dropped += dropped;
        for (ip, set) in accounts_by_host {
            for v in set {
                if !insert(
                    &mut self.accounts_by_host,
                    self.caps,
                    &mut self.values,
                    &ip,
                    v,
                ) {
                    self.dropped += 1;
                }
            }
        }
        for (ip, set) in names_by_ip {
            for v in set {
                if !insert(&mut self.names_by_ip, self.caps, &mut self.values, &ip, v) {
                    self.dropped += 1;
                }
            }
        }
        for (ip, Kdc { requests, realms }) in kdcs {
            if !self.kdcs.contains_key(&ip) && self.kdcs.len() >= self.caps.max_hosts {
                self.dropped += 1;
                continue;
            }
            let e = self.kdcs.entry(ip).or_default();
            e.requests += requests;
            for r in realms {
                if e.realms.len() < self.caps.max_per_host || e.realms.contains(&r) {
                    e.realms.insert(r);
                } else {
                    self.dropped += 1;
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.accounts_by_host.is_empty() && self.kdcs.is_empty() && self.names_by_ip.is_empty()
    }
}

/// The address of a reverse-lookup name (`4.3.2.1.in-addr.arpa`, nibbles `.ip6.arpa`).
pub fn ptr_ip(name: &str) -> Option<IpAddr> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(v4) = n.strip_suffix(".in-addr.arpa") {
        let mut parts: Vec<&str> = v4.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        parts.reverse();
        return parts.join(".").parse().ok();
    }
    let v6 = n.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = v6.split('.').collect();
    if nibbles.len() != 32 || nibbles.iter().any(|x| x.len() != 1) {
        return None;
    }
    let hex: String = nibbles.iter().rev().copied().collect();
    let mut groups = Vec::with_capacity(8);
    for i in 0..8 {
        groups.push(hex.get(i * 4..i * 4 + 4)?.to_string());
    }
    groups.join(":").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(ptr_ip("4.3.2.1.in-addr.arpa."), "1.2.3.4".parse().ok());
        assert_eq!(
            ptr_ip("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa"),
            "4321:0:1:2:3:4:567:89ab".parse().ok()
        );
        assert_eq!(ptr_ip("example.com"), None);
        assert_eq!(ptr_ip("1.2.in-addr.arpa"), None);
    }

    #[test]
    fn caps_are_counted_not_exceeded() {
        let caps = LearnedCaps {
            max_hosts: 2,
            max_per_host: 2,
            max_values: 3,
        };
        let mut n = 0;
        let mut m: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        assert!(insert(&mut m, caps, &mut n, &1, "a".into()));
        assert!(insert(&mut m, caps, &mut n, &1, "b".into()));
        assert!(insert(&mut m, caps, &mut n, &1, "b".into()));
        assert!(!insert(&mut m, caps, &mut n, &1, "c".into()));
        assert!(insert(&mut m, caps, &mut n, &2, "a".into()));
        assert!(!insert(&mut m, caps, &mut n, &3, "a".into()));
        assert_eq!(m.len(), 2);
        assert_eq!(m[&1].len(), 2);
        // Three values in all: a second value for host 2 does not fit.
        assert_eq!(n, 3);
        assert!(!insert(&mut m, caps, &mut n, &2, "b".into()));
    }
}
