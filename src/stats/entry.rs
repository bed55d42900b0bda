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

/// Format version of the encoded values (1: every entry carried its sketches; still read).
const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
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
}

/// A distinct count that is exact while small: the members themselves (first-seen order) up
/// to the cap, and only past it a HyperLogLog sketch of every member (the first `cap` members
/// are still kept, for display). Most domains and files are seen by one to three hosts, so
/// most entries never carry a sketch. Merging stays exact: a union that fits the cap is the
/// exact union; one that does not gets the sketch of both sides (a side without a sketch
/// adds its members), which is the sketch of the union whatever the order of merges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distinct {
    /// The members (all of them while `sketch` is None), in first-seen order.
    pub items: Vec<String>,
    /// Past the cap: the sketch of every member ever added.
    pub sketch: Option<Hll>,
}

fn sketch_of<'a>(items: impl IntoIterator<Item = &'a String>) -> Hll {
    let mut h = Hll::new();
    for i in items {
        h.add(i.as_bytes());
    }
    h
}

impl Distinct {
    pub fn add(&mut self, s: &str, cap: usize) {
        if let Some(h) = &mut self.sketch {
            h.add(s.as_bytes());
            if self.items.len() < cap && !self.items.iter().any(|x| x == s) {
                self.items.push(s.to_string());
            }
            return;
        }
        if self.items.iter().any(|x| x == s) {
            return;
        }
        if self.items.len() < cap {
            self.items.push(s.to_string());
            return;
        }
        let mut h = sketch_of(&self.items);
        h.add(s.as_bytes());
        self.sketch = Some(h);
    }

    pub fn merge(&mut self, o: &Distinct, cap: usize) {
        let mut promote = self.sketch.is_some() || o.sketch.is_some();
        for s in &o.items {
            if !self.items.iter().any(|x| x == s) {
                if self.items.len() < cap {
                    self.items.push(s.clone());
                } else {
                    promote = true;
                }
            }
        }
        if promote {
            // Everything in `self.items` now is a member of one side or the other.
            let mut h = self.sketch.take().unwrap_or_else(|| sketch_of(&self.items));
            match &o.sketch {
                Some(x) => h.merge(x),
                None => h.merge(&sketch_of(&o.items)),
            }
            self.sketch = Some(h);
        }
    }

    /// Whether `items` is every member (the count is exact).
    pub fn is_exact(&self) -> bool {
        self.sketch.is_none()
    }

    /// Distinct members: exact while no sketch, else the estimate (never below the list).
    pub fn count(&self) -> u64 {
        match &self.sketch {
            None => self.items.len() as u64,
            Some(h) => h.estimate().max(self.items.len() as u64),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_strs(out, &self.items);
        match &self.sketch {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                h.encode(out);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Option<Distinct> {
        let items = r.strings(MAX_LIST)?;
        let sketch = match r.byte()? {
            0 => None,
            1 => Some(Hll::decode(r)?),
            _ => return None,
        };
        Some(Distinct { items, sketch })
    }

    /// From the version 1 form: a sketch of every member beside a capped list.
    fn from_v1(sketch: Hll, list: CappedList) -> Distinct {
        Distinct {
            items: list.items,
            sketch: list.cut.then_some(sketch),
        }
    }
}

/// `t` relative to `base`: the difference doubled, odd when `t` is the earlier.
fn zigzag(t: u64, base: u64) -> u64 {
    if t >= base {
        (t - base) << 1
    } else {
        ((base - t) << 1) | 1
    }
}

fn unzigzag(z: u64, base: u64) -> Option<u64> {
    if z & 1 == 0 {
        base.checked_add(z >> 1)
    } else {
        base.checked_sub(z >> 1)
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
    /// Distinct internal hosts (their addresses; names are looked up in the hosts table when
    /// shown) and users (MD5 of the lower-cased name).
    pub hosts: Distinct,
    pub users_md5: Distinct,
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
        self.hosts.merge(&o.hosts, caps.hosts);
        self.users_md5.merge(&o.users_md5, caps.names);
        self.bytes_up += o.bytes_up;
        self.bytes_down += o.bytes_down;
        self.content_types.merge(&o.content_types, caps.names);
    }

    /// Distinct internal hosts: exact while the host list holds them all.
    pub fn distinct_hosts(&self) -> u64 {
        self.hosts.count()
    }

    /// Seconds from the first sighting to `now_ns` (packet time); 0 when not earlier.
    pub fn first_seen_age_s(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.first_seen) / 1_000_000_000
    }

    pub fn distinct_users(&self) -> u64 {
        self.users_md5.count()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut o = vec![VERSION];
        // last_seen first: ageing and eviction read it without decoding the rest.
        for v in [self.last_seen, self.requests, self.first_seen] {
            put_uvar(&mut o, v);
        }
        self.hosts.encode(&mut o);
        self.users_md5.encode(&mut o);
        put_uvar(&mut o, self.bytes_up);
        put_uvar(&mut o, self.bytes_down);
        self.content_types.encode(&mut o);
        o
    }

    pub fn decode(b: &[u8]) -> Option<DomainStats> {
        let mut r = Reader::new(b);
        let d = match r.byte()? {
            VERSION => {
                let last_seen = r.uvar()?;
                DomainStats {
                    last_seen,
                    requests: r.uvar()?,
                    first_seen: r.uvar()?,
                    hosts: Distinct::decode(&mut r)?,
                    users_md5: Distinct::decode(&mut r)?,
                    bytes_up: r.uvar()?,
                    bytes_down: r.uvar()?,
                    content_types: CappedList::decode(&mut r)?,
                }
            }
            VERSION_1 => {
                let (requests, first_seen, last_seen) = (r.uvar()?, r.uvar()?, r.uvar()?);
                let hosts_hll = Hll::decode(&mut r)?;
                let users_hll = Hll::decode(&mut r)?;
                DomainStats {
                    requests,
                    first_seen,
                    last_seen,
                    hosts: Distinct::from_v1(hosts_hll, CappedList::decode(&mut r)?),
                    users_md5: Distinct::from_v1(users_hll, CappedList::decode(&mut r)?),
                    bytes_up: r.uvar()?,
                    bytes_down: r.uvar()?,
                    content_types: CappedList::decode(&mut r)?,
                }
            }
            _ => return None,
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
    /// Receiving host address → first time it received the file, in first-seen order; every
    /// receiving host while `hosts_sketch` is None.
    pub first_by_host: Vec<(String, u64)>,
    /// Past the cap on `first_by_host`: the sketch of every receiving host.
    pub hosts_sketch: Option<Hll>,
    /// File names and sources ("http", "smtp", ...) and origins (URL, mail sender).
    pub names: CappedList,
    pub sources: CappedList,
    pub origins: CappedList,
}

impl FileStats {
    /// Notes that `host` received the file at `ts`.
    pub fn add_host(&mut self, host: &str, ts: u64, cap: usize) {
        if let Some(e) = self.first_by_host.iter_mut().find(|e| e.0 == host) {
            e.1 = min_time(e.1, ts);
            return;
        }
        if let Some(h) = &mut self.hosts_sketch {
            h.add(host.as_bytes());
        }
        if self.first_by_host.len() < cap {
            self.first_by_host.push((host.to_string(), ts));
        } else if self.hosts_sketch.is_none() {
            let mut h = sketch_of(self.first_by_host.iter().map(|e| &e.0));
            h.add(host.as_bytes());
            self.hosts_sketch = Some(h);
        }
    }

    pub fn merge(&mut self, o: &FileStats, caps: ListCaps) {
        self.count += o.count;
        self.first_seen = min_time(self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        let mut promote = self.hosts_sketch.is_some() || o.hosts_sketch.is_some();
        for (h, t) in &o.first_by_host {
            if let Some(e) = self.first_by_host.iter_mut().find(|e| &e.0 == h) {
                e.1 = min_time(e.1, *t);
            } else if self.first_by_host.len() < caps.hosts {
                self.first_by_host.push((h.clone(), *t));
            } else {
                promote = true;
            }
        }
        if promote {
            let mut s = self
                .hosts_sketch
                .take()
                .unwrap_or_else(|| sketch_of(self.first_by_host.iter().map(|e| &e.0)));
            match &o.hosts_sketch {
                Some(x) => s.merge(x),
                None => s.merge(&sketch_of(o.first_by_host.iter().map(|e| &e.0))),
            }
            self.hosts_sketch = Some(s);
        }
        self.names.merge(&o.names, caps.names);
        self.sources.merge(&o.sources, caps.names);
        self.origins.merge(&o.origins, caps.names);
    }

    /// Distinct receiving hosts: exact while the per-host list holds them all.
    pub fn distinct_hosts(&self) -> u64 {
        match &self.hosts_sketch {
            None => self.first_by_host.len() as u64,
            Some(h) => h.estimate().max(self.first_by_host.len() as u64),
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
        for v in [self.last_seen, self.count, self.first_seen] {
            put_uvar(&mut o, v);
        }
        put_uvar(&mut o, self.first_by_host.len() as u64);
        for (h, t) in &self.first_by_host {
            put_str(&mut o, h);
            // Most hosts first got it when the network did: store the difference (zigzag, in
            // case a host's time is the earlier one).
            put_uvar(&mut o, zigzag(*t, self.first_seen));
        }
        match &self.hosts_sketch {
            None => o.push(0),
            Some(h) => {
                o.push(1);
                h.encode(&mut o);
            }
        }
        self.names.encode(&mut o);
        self.sources.encode(&mut o);
        self.origins.encode(&mut o);
        o
    }

    pub fn decode(b: &[u8]) -> Option<FileStats> {
        let mut r = Reader::new(b);
        let version = r.byte()?;
        if version == VERSION_1 {
            return Self::decode_v1(r);
        }
        if version != VERSION {
            return None;
        }
        let last_seen = r.uvar()?;
        let count = r.uvar()?;
        let first_seen = r.uvar()?;
        let n = usize::try_from(r.uvar()?).ok()?;
        if n > MAX_LIST {
            return None;
        }
        let mut first_by_host = Vec::with_capacity(n);
        for _ in 0..n {
            let h = r.string()?;
            let t = unzigzag(r.uvar()?, first_seen)?;
            first_by_host.push((h, t));
        }
        let hosts_sketch = match r.byte()? {
            0 => None,
            1 => Some(Hll::decode(&mut r)?),
            _ => return None,
        };
        let f = FileStats {
            count,
            first_seen,
            last_seen,
            first_by_host,
            hosts_sketch,
            names: CappedList::decode(&mut r)?,
            sources: CappedList::decode(&mut r)?,
            origins: CappedList::decode(&mut r)?,
        };
        r.is_done().then_some(f)
    }

    fn decode_v1(mut r: Reader<'_>) -> Option<FileStats> {
        let count = r.uvar()?;
        let first_seen = r.uvar()?;
        let last_seen = r.uvar()?;
        let hosts_hll = Hll::decode(&mut r)?;
        let cut = r.byte()? != 0;
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
            first_by_host,
            hosts_sketch: cut.then_some(hosts_hll),
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
        put_uvar(&mut o, self.last_seen);
        put_uvar(&mut o, self.first_seen);
        self.names.encode(&mut o);
        self.accounts.encode(&mut o);
        o
    }

    pub fn decode(b: &[u8]) -> Option<HostStats> {
        let mut r = Reader::new(b);
        let (first_seen, last_seen) = match r.byte()? {
            VERSION => {
                let last = r.uvar()?;
                (r.uvar()?, last)
            }
            VERSION_1 => (r.uvar()?, r.uvar()?),
            _ => return None,
        };
        let h = HostStats {
            first_seen,
            last_seen,
            names: CappedList::decode(&mut r)?,
            accounts: CappedList::decode(&mut r)?,
        };
        r.is_done().then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(range: std::ops::Range<u32>) -> Distinct {
        let mut d = Distinct::default();
        for i in range {
            d.add(&format!("10.0.{}.{}", i / 250, i % 250), 64);
        }
        d
    }

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
        let mut b = DomainStats {
            requests: 1,
            first_seen: 5,
            last_seen: 8,
            bytes_down: 100,
            ..Default::default()
        };
        for h in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            b.hosts.add(h, caps.hosts);
        }
        assert!(!b.hosts.is_exact());
        a.merge(&b, caps);
        assert_eq!((a.requests, a.first_seen, a.last_seen), (3, 5, 20));
        assert_eq!(a.hosts.items, ["10.0.0.1", "10.0.0.2"]);
        assert!(!a.hosts.is_exact());
        assert_eq!(a.distinct_hosts(), 3);
        assert_eq!(DomainStats::decode(&a.encode()), Some(a.clone()));
        assert_eq!(DomainStats::decode(&a.encode()[..10]), None);
    }

    #[test]
    fn small_sets_are_exact_without_a_sketch_and_merge_exactly() {
        // Below the cap: the members, no sketch, whatever the merge order.
        let mut a = hosts(0..3);
        a.merge(&hosts(2..5), 64);
        assert!(a.is_exact());
        assert_eq!(a.count(), 5);
        assert_eq!(a, hosts(0..5));
        // Past the cap by merging two exact halves: the same sketch as one process adding
        // every member, in either order; and as merging a sketch with a list.
        let (x, y) = (hosts(0..50), hosts(30..90));
        let mut xy = x.clone();
        xy.merge(&y, 64);
        let mut yx = y.clone();
        yx.merge(&x, 64);
        let all = hosts(0..90);
        assert!(!all.is_exact());
        assert_eq!(xy.sketch, all.sketch);
        assert_eq!(yx.sketch, all.sketch);
        // Past the cap the count is the sketch's estimate (1.6 % standard error).
        assert!((87..=93).contains(&xy.count()), "{}", xy.count());
        let mut big = hosts(0..80);
        big.merge(&hosts(70..90), 64);
        assert_eq!(big.sketch, all.sketch);
        let mut small = hosts(70..90);
        small.merge(&hosts(0..80), 64);
        assert_eq!(small.sketch, all.sketch);
        // Adding a member already counted changes nothing.
        let mut again = all.clone();
        again.add("10.0.0.5", 64);
        assert_eq!(again, all);
    }

    #[test]
    fn the_common_entry_is_small() {
        let caps = ListCaps::default();
        let mut d = DomainStats {
            requests: 3,
            first_seen: 1_709_542_800_000_000_000,
            last_seen: 1_709_542_900_000_000_000,
            ..Default::default()
        };
        d.hosts.add("10.1.17.201", caps.hosts);
        d.hosts.add("192.168.3.44", caps.hosts);
        let n = d.encode().len();
        assert!(n <= 64, "{n} bytes");
        let mut f = FileStats {
            count: 1,
            first_seen: d.first_seen,
            last_seen: d.first_seen,
            ..Default::default()
        };
        f.add_host("10.1.17.201", d.first_seen, caps.hosts);
        f.names.add("update.bin", caps.names);
        f.sources.add("http", caps.names);
        f.origins
            .add("http://www.example.com/downloads/update.bin", caps.names);
        let n = f.encode().len();
        assert!(n <= 128, "{n} bytes");
    }

    #[test]
    fn version_1_values_still_read() {
        // requests 3, first 5, last 9; hosts sketch sparse {(1, 1)}; users sketch empty;
        // hosts list ["a"], not cut; users empty; bytes 0, 0; content types empty.
        let mut v1 = vec![
            1, 3, 5, 9, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, b'a', 0, 0, 0, 0, 0, 0,
        ];
        let d = DomainStats::decode(&v1).unwrap();
        assert_eq!((d.requests, d.first_seen, d.last_seen), (3, 5, 9));
        assert_eq!(d.hosts.items, ["a"]);
        assert!(d.hosts.is_exact());
        v1.push(0);
        assert_eq!(DomainStats::decode(&v1), None);
        // A host in version 1: first 5, last 9, no names, no accounts.
        let h = HostStats::decode(&[1, 5, 9, 0, 0, 0, 0]).unwrap();
        assert_eq!((h.first_seen, h.last_seen), (5, 9));
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
        f.add_host("10.0.0.8", 9, 4);
        f.names.add("a.exe", 4);
        assert_eq!(f.first_seen_on("10.0.0.9"), Some(3));
        assert_eq!(f.distinct_hosts(), 2);
        assert_eq!(FileStats::decode(&f.encode()), Some(f.clone()));
        for h in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"] {
            f.add_host(h, 11, 4);
        }
        assert_eq!(f.first_by_host.len(), 4);
        assert_eq!(f.distinct_hosts(), 5);
        let mut g = FileStats::default();
        g.add_host("10.0.0.1", 12, 4);
        g.merge(&f, ListCaps { hosts: 4, names: 4 });
        assert_eq!(g.distinct_hosts(), 5);
        assert_eq!(FileStats::decode(&f.encode()), Some(f));
        let mut h = HostStats::default();
        h.names.add("dns_ptr:ws1.corp", 4);
        assert_eq!(HostStats::decode(&h.encode()), Some(h));
    }
}
