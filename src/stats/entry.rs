//! The values kept per key, one type per table, and how two of them merge: counts add, first
//! seen takes the minimum, last seen the maximum, sketches take the union, capped lists take
//! the union up to their cap (and remember that they were cut, so that a count read from a
//! cut list falls back to the sketch). Merging is what both the per-worker aggregation and the
//! store writer do, so a delta merged into the store gives what one process would have seen.

use super::codec::{put_str, put_strs, put_uvar, Reader};
use super::hll::Hll;

/// Entries kept per list in one value.
#[derive(Clone, Copy, Debug)]
pub struct ListCaps {
    /// Host addresses per domain and receiving hosts (with their first-seen time) per file.
    pub hosts: usize,
    /// Names (files, hosts), user hashes, content types, sources per entry.
    pub names: usize,
}

impl Default for ListCaps {
    fn default() -> Self {
        ListCaps {
            hosts: 64,
            names: 16,
        }
    }
}

/// Format version of the encoded values.
const VERSION: u8 = 1;
/// Hard upper bound on decoded list lengths, whatever the caps (a corrupt length is rejected).
const MAX_LIST: usize = 4096;

/// A capped list of distinct strings, in first-seen order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CappedList {
    pub items: Vec<String>,
    /// An item was not kept because the list was full.
    pub cut: bool,
}

impl CappedList {
    pub fn add(&mut self, s: &str, cap: usize) {
        if self.items.iter().any(|x| x == s) {
            return;
        }
        if self.items.len() >= cap {
            self.cut = true;
            return;
        }
        self.items.push(s.to_string());
    }

    pub fn merge(&mut self, o: &CappedList, cap: usize) {
        for s in &o.items {
            self.add(s, cap);
        }
        self.cut |= o.cut;
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.cut));
        put_strs(out, &self.items);
    }

    fn decode(r: &mut Reader<'_>) -> Option<CappedList> {
        let cut = r.byte()? != 0;
        let items = r.strings(MAX_LIST)?;
        Some(CappedList { items, cut })
    }

    /// Exact count when nothing was cut, else the sketch's estimate (never below the list).
    fn count(&self, sketch: &Hll) -> u64 {
        if self.cut {
            sketch.estimate().max(self.items.len() as u64)
        } else {
            self.items.len() as u64
        }
    }
}

fn min_time(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (a, b) => a.min(b),
    }
}

/// Per registered domain and per FQDN.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DomainStats {
    /// Requests from the local network (DNS queries, HTTP requests, TLS client hellos).
    pub requests: u64,
    /// Packet time, nanoseconds since the epoch.
    pub first_seen: u64,
    pub last_seen: u64,
    /// Distinct internal hosts (addresses) and users (MD5 of the lower-cased name).
    pub hosts_hll: Hll,
    pub users_hll: Hll,
    /// The internal hosts' addresses (names are looked up in the hosts table when shown).
    pub hosts: CappedList,
    pub users_md5: CappedList,
    /// Bytes sent to (up) and received from (down) the domain in HTTP bodies.
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub content_types: CappedList,
}

impl DomainStats {
    pub fn merge(&mut self, o: &DomainStats, caps: ListCaps) {
        self.requests += o.requests;
        self.first_seen = min_time(self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.hosts_hll.merge(&o.hosts_hll);
        self.users_hll.merge(&o.users_hll);
        self.hosts.merge(&o.hosts, caps.hosts);
        self.users_md5.merge(&o.users_md5, caps.names);
        self.bytes_up += o.bytes_up;
        self.bytes_down += o.bytes_down;
        self.content_types.merge(&o.content_types, caps.names);
    }

    /// Distinct internal hosts: exact while the host list holds them all.
    pub fn distinct_hosts(&self) -> u64 {
        self.hosts.count(&self.hosts_hll)
    }

    /// Seconds from the first sighting to `now_ns` (packet time); 0 when not earlier.
    pub fn first_seen_age_s(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.first_seen) / 1_000_000_000
    }

    pub fn distinct_users(&self) -> u64 {
        self.users_md5.count(&self.users_hll)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut o = vec![VERSION];
        for v in [self.requests, self.first_seen, self.last_seen] {
            put_uvar(&mut o, v);
        }
        self.hosts_hll.encode(&mut o);
        self.users_hll.encode(&mut o);
        self.hosts.encode(&mut o);
        self.users_md5.encode(&mut o);
        put_uvar(&mut o, self.bytes_up);
        put_uvar(&mut o, self.bytes_down);
        self.content_types.encode(&mut o);
        o
    }

    pub fn decode(b: &[u8]) -> Option<DomainStats> {
        let mut r = Reader::new(b);
        if r.byte()? != VERSION {
            return None;
        }
        let d = DomainStats {
            requests: r.uvar()?,
            first_seen: r.uvar()?,
            last_seen: r.uvar()?,
            hosts_hll: Hll::decode(&mut r)?,
            users_hll: Hll::decode(&mut r)?,
            hosts: CappedList::decode(&mut r)?,
            users_md5: CappedList::decode(&mut r)?,
            bytes_up: r.uvar()?,
            bytes_down: r.uvar()?,
            content_types: CappedList::decode(&mut r)?,
        };
        r.is_done().then_some(d)
    }
}

/// Per file (SHA-256).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileStats {
    /// Times the file was seen going to an internal host.
    pub count: u64,
    /// First seen in the local network; last seen.
    pub first_seen: u64,
    pub last_seen: u64,
    /// Distinct receiving internal hosts.
    pub hosts_hll: Hll,
    /// Receiving host address → first time it received the file, in first-seen order.
    pub first_by_host: Vec<(String, u64)>,
    pub first_by_host_cut: bool,
    /// File names and sources ("http", "smtp", ...) and origins (URL, mail sender).
    pub names: CappedList,
    pub sources: CappedList,
    pub origins: CappedList,
}

impl FileStats {
    /// Notes that `host` received the file at `ts`.
    pub fn add_host(&mut self, host: &str, ts: u64, cap: usize) {
        self.hosts_hll.add(host.as_bytes());
        if let Some(e) = self.first_by_host.iter_mut().find(|e| e.0 == host) {
            e.1 = min_time(e.1, ts);
        } else if self.first_by_host.len() < cap {
            self.first_by_host.push((host.to_string(), ts));
        } else {
            self.first_by_host_cut = true;
        }
    }

    pub fn merge(&mut self, o: &FileStats, caps: ListCaps) {
        self.count += o.count;
        self.first_seen = min_time(self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.hosts_hll.merge(&o.hosts_hll);
        for (h, t) in &o.first_by_host {
            if let Some(e) = self.first_by_host.iter_mut().find(|e| &e.0 == h) {
                e.1 = min_time(e.1, *t);
            } else if self.first_by_host.len() < caps.hosts {
                self.first_by_host.push((h.clone(), *t));
            } else {
                self.first_by_host_cut = true;
            }
        }
        self.first_by_host_cut |= o.first_by_host_cut;
        self.names.merge(&o.names, caps.names);
        self.sources.merge(&o.sources, caps.names);
        self.origins.merge(&o.origins, caps.names);
    }

    /// Distinct receiving hosts: exact while the per-host list holds them all.
    pub fn distinct_hosts(&self) -> u64 {
        if self.first_by_host_cut {
            self.hosts_hll
                .estimate()
                .max(self.first_by_host.len() as u64)
        } else {
            self.first_by_host.len() as u64
        }
    }

    /// Seconds from the first sighting in the local network to `now_ns`; 0 when not earlier.
    pub fn first_seen_age_s(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.first_seen) / 1_000_000_000
    }

    /// When `host` first received the file, when known.
    pub fn first_seen_on(&self, host: &str) -> Option<u64> {
        self.first_by_host.iter().find(|e| e.0 == host).map(|e| e.1)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut o = vec![VERSION];
        for v in [self.count, self.first_seen, self.last_seen] {
            put_uvar(&mut o, v);
        }
        self.hosts_hll.encode(&mut o);
        o.push(u8::from(self.first_by_host_cut));
        put_uvar(&mut o, self.first_by_host.len() as u64);
        for (h, t) in &self.first_by_host {
            put_str(&mut o, h);
            put_uvar(&mut o, *t);
        }
        self.names.encode(&mut o);
        self.sources.encode(&mut o);
        self.origins.encode(&mut o);
        o
    }

    pub fn decode(b: &[u8]) -> Option<FileStats> {
        let mut r = Reader::new(b);
        if r.byte()? != VERSION {
            return None;
        }
        let count = r.uvar()?;
        let first_seen = r.uvar()?;
        let last_seen = r.uvar()?;
        let hosts_hll = Hll::decode(&mut r)?;
        let first_by_host_cut = r.byte()? != 0;
        let n = usize::try_from(r.uvar()?).ok()?;
        if n > MAX_LIST {
            return None;
        }
        let mut first_by_host = Vec::with_capacity(n);
        for _ in 0..n {
            first_by_host.push((r.string()?, r.uvar()?));
        }
        let f = FileStats {
            count,
            first_seen,
            last_seen,
            hosts_hll,
            first_by_host,
            first_by_host_cut,
            names: CappedList::decode(&mut r)?,
            sources: CappedList::decode(&mut r)?,
            origins: CappedList::decode(&mut r)?,
        };
        r.is_done().then_some(f)
    }
}

/// Per internal host (address).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostStats {
    pub first_seen: u64,
    pub last_seen: u64,
    /// Names it goes by, as "source:name" (`dns_ptr`, `kerberos`, `http_host`... see
    /// `collect`), in first-seen order.
    pub names: CappedList,
    /// Accounts seen logging on from it (Kerberos `cname`): "md5(lower-cased name)@REALM".
    pub accounts: CappedList,
}

impl HostStats {
    pub fn merge(&mut self, o: &HostStats, caps: ListCaps) {
        self.first_seen = min_time(self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.names.merge(&o.names, caps.names);
        self.accounts.merge(&o.accounts, caps.names);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut o = vec![VERSION];
        put_uvar(&mut o, self.first_seen);
        put_uvar(&mut o, self.last_seen);
        self.names.encode(&mut o);
        self.accounts.encode(&mut o);
        o
    }

    pub fn decode(b: &[u8]) -> Option<HostStats> {
        let mut r = Reader::new(b);
        if r.byte()? != VERSION {
            return None;
        }
        let h = HostStats {
            first_seen: r.uvar()?,
            last_seen: r.uvar()?,
            names: CappedList::decode(&mut r)?,
            accounts: CappedList::decode(&mut r)?,
        };
        r.is_done().then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_merge_and_round_trip() {
        let caps = ListCaps { hosts: 2, names: 4 };
        let mut a = DomainStats {
            requests: 2,
            first_seen: 10,
            last_seen: 20,
            ..Default::default()
        };
        a.hosts.add("10.0.0.1", caps.hosts);
        a.hosts_hll.add(b"10.0.0.1");
        let mut b = DomainStats {
            requests: 1,
            first_seen: 5,
            last_seen: 8,
            bytes_down: 100,
            ..Default::default()
        };
        for h in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            b.hosts.add(h, caps.hosts);
            b.hosts_hll.add(h.as_bytes());
        }
        a.merge(&b, caps);
        assert_eq!((a.requests, a.first_seen, a.last_seen), (3, 5, 20));
        assert_eq!(a.hosts.items, ["10.0.0.1", "10.0.0.2"]);
        assert!(a.hosts.cut);
        assert_eq!(a.distinct_hosts(), 3);
        assert_eq!(DomainStats::decode(&a.encode()), Some(a.clone()));
        assert_eq!(DomainStats::decode(&a.encode()[..10]), None);
    }

    #[test]
    fn file_and_host_round_trip() {
        let mut f = FileStats {
            count: 1,
            first_seen: 7,
            last_seen: 7,
            ..Default::default()
        };
        f.add_host("10.0.0.9", 7, 4);
        f.add_host("10.0.0.9", 3, 4);
        f.names.add("a.exe", 4);
        assert_eq!(f.first_seen_on("10.0.0.9"), Some(3));
        assert_eq!(f.distinct_hosts(), 1);
        assert_eq!(FileStats::decode(&f.encode()), Some(f));
        let mut h = HostStats::default();
        h.names.add("dns_ptr:ws1.corp", 4);
        assert_eq!(HostStats::decode(&h.encode()), Some(h));
    }
}
