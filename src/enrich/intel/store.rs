//! The indicator set: compact, read-only once built.
//!
//! * names (domains, URLs, emails, user names, user agents): one byte arena, and per kind a
//!   `hashbrown::HashTable` of (offset, length, meta) into it;
//! * hashes: tables of fixed-size keys (`[u8; 16]`, `[u8; 20]`, `[u8; 32]`);
//! * addresses and networks: one table per prefix length present (v4 and v6 apart), looked up
//!   from the longest length down (longest-prefix match);
//! * feed metadata once per feed; sources and descriptions interned in the arena.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashTable;

use super::Kind;
pub use crate::record::intel::FeedInfo;

const NONE: u32 = u32::MAX;

fn hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x7461_7069_7269_6e74)
}

/// A 32-bit hash of a name, kept in its table entry so that growing a table never hashes the
/// names again, and spread over 64 bits for the table.
fn hash32(b: &[u8]) -> u32 {
    hasher().hash_one(b) as u32
}

fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Where an indicator came from: feed, line, interned source and description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub feed: u16,
    pub kind: Kind,
    pub line: u32,
    pub source: u32,
    pub desc: u32,
}

#[derive(Clone, Copy, Debug)]
struct StrRef {
    off: u32,
    len: u32,
}

/// Most bad lines kept per feed for the status record (all are counted).
pub const BAD_SAMPLES: usize = 10;

#[derive(Default)]
struct StrTable {
    t: HashTable<(StrRef, u32, Meta)>,
}

struct KeyTable<K> {
    t: HashTable<(K, Meta)>,
}

impl<K> Default for KeyTable<K> {
    fn default() -> Self {
        KeyTable {
            t: HashTable::new(),
        }
    }
}

trait Key: Copy + Eq {
    fn hash(&self) -> u64;
}

impl<const N: usize> Key for [u8; N] {
    fn hash(&self) -> u64 {
        // Hashes are uniformly distributed already.
        let mut b = [0u8; 8];
        b.copy_from_slice(&self[..8.min(N)]);
        u64::from_le_bytes(b)
    }
}

impl Key for u32 {
    fn hash(&self) -> u64 {
        hasher().hash_one(self)
    }
}

impl Key for u128 {
    fn hash(&self) -> u64 {
        hasher().hash_one(self)
    }
}

impl<K: Key> KeyTable<K> {
    fn get(&self, k: &K) -> Option<&Meta> {
        self.t.find(k.hash(), |(x, _)| x == k).map(|(_, m)| m)
    }

    /// False when `k` is there already (the first one stays).
    fn insert(&mut self, k: K, m: Meta) -> bool {
        let h = k.hash();
        if self.t.find(h, |(x, _)| *x == k).is_some() {
            return false;
        }
        self.t.insert_unique(h, (k, m), |(x, _)| x.hash());
        true
    }
}

/// Networks of one family: a table per prefix length, lengths present longest first.
struct PrefixTables<K> {
    by_len: Vec<KeyTable<K>>,
    lens: Vec<u8>,
}

impl<K: Key> PrefixTables<K> {
    fn new(max: usize) -> Self {
        PrefixTables {
            by_len: (0..=max).map(|_| KeyTable::default()).collect(),
            lens: Vec::new(),
        }
    }

    fn finish(&mut self) {
        self.lens = (0..self.by_len.len())
            .rev()
            .filter(|&l| !self.by_len[l].t.is_empty())
            .map(|l| l as u8)
            .collect();
    }

    fn bytes(&self) -> usize {
        self.by_len.iter().map(|t| t.t.allocation_size()).sum()
    }
}

/// Every indicator of every feed, ready for lookups.
pub struct IntelSet {
    arena: Vec<u8>,
    interned: Vec<StrRef>,
    names: [StrTable; 5],
    md5: KeyTable<[u8; 16]>,
    sha1: KeyTable<[u8; 20]>,
    sha256: KeyTable<[u8; 32]>,
    v4: PrefixTables<u32>,
    v6: PrefixTables<u128>,
    feeds: Vec<FeedInfo>,
    hits: AtomicU64,
    /// One bit per hashed (table, key), about 8 bits per indicator: most misses are answered
    /// by one probe into this (small enough to stay in cache) instead of the tables.
    filter: Vec<u64>,
}

fn name_fkey(slot: usize, h: u32) -> u64 {
    spread(h) ^ (slot as u64 + 1).wrapping_mul(0xff51_afd7_ed55_8ccd)
}

fn v4_fkey(len: u8, k: u32) -> u64 {
    hasher().hash_one((4u8, len, k))
}

fn v6_fkey(len: u8, k: u128) -> u64 {
    hasher().hash_one((6u8, len, k))
}

fn filter_bit(filter: &[u64], key: u64) -> Option<(usize, u64)> {
    let bits = (filter.len() as u64) * 64;
    if bits == 0 {
        return None;
    }
    let i = (key ^ (key >> 29)) & (bits - 1);
    Some(((i / 64) as usize, 1u64 << (i % 64)))
}

/// Index into `names` for the string kinds.
fn name_slot(k: Kind) -> Option<usize> {
    Some(match k {
        Kind::Domain => 0,
        Kind::Url => 1,
        Kind::Email => 2,
        Kind::UserName => 3,
        Kind::Software => 4,
        _ => return None,
    })
}

/// A match: the indicator's text and where it came from.
pub(crate) struct Found<'a> {
    pub indicator: String,
    pub meta: Meta,
    pub feed: &'a FeedInfo,
}

impl IntelSet {
    /// No indicators at all.
    pub fn empty() -> IntelSet {
        IntelSetBuilder::new().finish()
    }

    fn text(&self, r: StrRef) -> &str {
        let b = self
            .arena
            .get(r.off as usize..(r.off as usize + r.len as usize))
            .unwrap_or_default();
        std::str::from_utf8(b).unwrap_or_default()
    }

    pub(crate) fn interned(&self, id: u32) -> Option<String> {
        if id == NONE {
            return None;
        }
        self.interned
            .get(id as usize)
            .map(|r| self.text(*r).to_string())
    }

    pub fn feeds(&self) -> &[FeedInfo] {
        &self.feeds
    }

    /// Indicators of all feeds together.
    pub fn len(&self) -> u64 {
        self.feeds.iter().map(|f| f.indicators).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records' hits counted so far.
    pub fn hit_count(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn count_hits(&self, n: u64) {
        self.hits.fetch_add(n, Ordering::Relaxed);
    }

    /// Heap bytes held by the set (arena and tables).
    pub fn memory_bytes(&self) -> usize {
        self.arena.capacity()
            + self.interned.capacity() * std::mem::size_of::<StrRef>()
            + self
                .names
                .iter()
                .map(|t| t.t.allocation_size())
                .sum::<usize>()
            + self.md5.t.allocation_size()
            + self.sha1.t.allocation_size()
            + self.sha256.t.allocation_size()
            + self.v4.bytes()
            + self.v6.bytes()
            + self.filter.capacity() * 8
    }

    pub(crate) fn has(&self, k: Kind) -> bool {
        match k {
            Kind::Addr | Kind::Subnet => !self.v4.lens.is_empty() || !self.v6.lens.is_empty(),
            Kind::FileHash | Kind::CertHash => {
                !self.md5.t.is_empty() || !self.sha1.t.is_empty() || !self.sha256.t.is_empty()
            }
            _ => name_slot(k).is_some_and(|i| !self.names[i].t.is_empty()),
        }
    }

    fn found(&self, indicator: String, meta: Meta) -> Option<Found<'_>> {
        let feed = self.feeds.get(meta.feed as usize)?;
        Some(Found {
            indicator,
            meta,
            feed,
        })
    }

    /// Exact lookup of a normalised name of a string kind.
    pub(crate) fn name(&self, k: Kind, s: &str) -> Option<Found<'_>> {
        let t = &self.names[name_slot(k)?];
        if t.t.is_empty() {
            return None;
        }
        let h = hash32(s.as_bytes());
        if !self.maybe(name_fkey(name_slot(k)?, h)) {
            return None;
        }
        let (r, _, m) =
            t.t.find(spread(h), |(r, x, _)| *x == h && self.text(*r) == s)?;
        self.found(self.text(*r).to_string(), *m)
    }

    /// False when the key is certainly not in its table.
    fn maybe(&self, key: u64) -> bool {
        match filter_bit(&self.filter, key) {
            Some((w, b)) => self.filter.get(w).is_some_and(|x| x & b != 0),
            None => true,
        }
    }

    /// Longest-prefix match of an address over the listed addresses and networks.
    pub(crate) fn addr(&self, ip: IpAddr) -> Option<Found<'_>> {
        let (key, len, m) = match ip {
            IpAddr::V4(a) => {
                let x = u32::from(a);
                self.v4.lens.iter().find_map(|&l| {
                    let k = if l == 0 {
                        0
                    } else {
                        x & (u32::MAX << (32 - l))
                    };
                    if !self.maybe(v4_fkey(l, k)) {
                        return None;
                    }
                    self.v4.by_len[l as usize]
                        .get(&k)
                        .map(|m| (IpAddr::from(std::net::Ipv4Addr::from(k)), l, *m))
                })?
            }
            IpAddr::V6(a) => {
                let x = u128::from(a);
                self.v6.lens.iter().find_map(|&l| {
                    let k = if l == 0 {
                        0
                    } else {
                        x & (u128::MAX << (128 - l))
                    };
                    if !self.maybe(v6_fkey(l, k)) {
                        return None;
                    }
                    self.v6.by_len[l as usize]
                        .get(&k)
                        .map(|m| (IpAddr::from(std::net::Ipv6Addr::from(k)), l, *m))
                })?
            }
        };
        let text = if m.kind == Kind::Addr {
            key.to_string()
        } else {
            format!("{key}/{len}")
        };
        self.found(text, m)
    }

    /// A file or certificate hash in hex (MD5, SHA-1 or SHA-256 by length).
    pub(crate) fn hash_hex(&self, hex: &str) -> Option<Found<'_>> {
        let m = match hex.len() {
            32 => self.md5.get(&super::norm::hex::<16>(hex)?)?,
            40 => self.sha1.get(&super::norm::hex::<20>(hex)?)?,
            64 => self.sha256.get(&super::norm::hex::<32>(hex)?)?,
            _ => return None,
        };
        self.found(hex.to_ascii_lowercase(), *m)
    }
}

/// Builds an [`IntelSet`] feed by feed.
pub struct IntelSetBuilder {
    set: IntelSet,
    /// (interned id, hash32 of its text).
    intern: HashTable<(u32, u32)>,
}

impl Default for IntelSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Why an indicator was not added.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    Duplicate,
    Invalid(String),
}

impl IntelSetBuilder {
    pub fn new() -> IntelSetBuilder {
        IntelSetBuilder {
            set: IntelSet {
                arena: Vec::new(),
                interned: Vec::new(),
                names: Default::default(),
                md5: KeyTable::default(),
                sha1: KeyTable::default(),
                sha256: KeyTable::default(),
                v4: PrefixTables::new(32),
                v6: PrefixTables::new(128),
                feeds: Vec::new(),
                hits: AtomicU64::new(0),
                filter: Vec::new(),
            },
            intern: HashTable::new(),
        }
    }

    /// Starts a feed; its indicators follow with [`IntelSetBuilder::add`].
    pub fn begin_feed(&mut self, info: FeedInfo) -> Result<u16, String> {
        let id = u16::try_from(self.set.feeds.len()).map_err(|_| "too many feeds".to_string())?;
        self.set.feeds.push(info);
        Ok(id)
    }

    pub fn feed_mut(&mut self, id: u16) -> Option<&mut FeedInfo> {
        self.set.feeds.get_mut(id as usize)
    }

    fn push_arena(&mut self, s: &[u8]) -> Result<StrRef, AddError> {
        let off = u32::try_from(self.set.arena.len())
            .ok()
            .filter(|o| o.checked_add(s.len() as u32).is_some())
            .ok_or_else(|| AddError::Invalid("indicator arena full (4 GiB)".into()))?;
        self.set.arena.extend_from_slice(s);
        Ok(StrRef {
            off,
            len: s.len() as u32,
        })
    }

    fn intern(&mut self, s: Option<&str>) -> Result<u32, AddError> {
        let Some(s) = s.map(str::trim).filter(|s| !s.is_empty() && *s != "-") else {
            return Ok(NONE);
        };
        let h = hash32(s.as_bytes());
        let set = &self.set;
        if let Some((id, _)) = self.intern.find(spread(h), |&(id, x)| {
            x == h && set.text(set.interned[id as usize]) == s
        }) {
            return Ok(*id);
        }
        let r = self.push_arena(s.as_bytes())?;
        let id = self.set.interned.len() as u32;
        self.set.interned.push(r);
        self.intern
            .insert_unique(spread(h), (id, h), |&(_, x)| spread(x));
        Ok(id)
    }

    /// Adds one indicator of `kind`, normalising it. A bare public suffix (`co.uk`) is refused:
    /// it would never match.
    pub fn add(
        &mut self,
        feed: u16,
        kind: Kind,
        value: &str,
        line: u32,
        source: Option<&str>,
        desc: Option<&str>,
    ) -> Result<(), AddError> {
        let bad = |m: &str| AddError::Invalid(format!("{m}: {value:?}"));
        let value = value.trim();
        // Normalise and validate before interning anything.
        enum Norm {
            Name(usize, String),
            Hash(String),
            Net(ipnet::IpNet),
        }
        let norm = match kind {
            Kind::Addr | Kind::Subnet => {
                let net = if let Ok(ip) = value.parse::<IpAddr>() {
                    ipnet::IpNet::from(ip)
                } else {
                    value
                        .parse::<ipnet::IpNet>()
                        .map_err(|_| bad("not an address or network"))?
                        .trunc()
                };
                Norm::Net(net)
            }
            Kind::FileHash | Kind::CertHash => {
                let ok = matches!(value.len(), 32 | 40 | 64)
                    && value.bytes().all(|b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(bad("not an MD5, SHA-1 or SHA-256 in hex"));
                }
                Norm::Hash(value.to_ascii_lowercase())
            }
            Kind::Domain => {
                let d = super::norm::domain(value).ok_or_else(|| bad("not a domain name"))?;
                let suffix_len = psl::suffix(d.as_bytes()).map_or(0, |s| s.as_bytes().len());
                if suffix_len >= d.len() {
                    return Err(bad("a public suffix alone never matches"));
                }
                Norm::Name(0, d.into_owned())
            }
            Kind::Url => Norm::Name(1, super::norm::url(value).ok_or_else(|| bad("not a URL"))?),
            Kind::Email => Norm::Name(
                2,
                super::norm::email(value).ok_or_else(|| bad("not an email address"))?,
            ),
            Kind::UserName => Norm::Name(
                3,
                super::norm::user(value).ok_or_else(|| bad("empty user name"))?,
            ),
            Kind::Software => {
                if value.is_empty() {
                    return Err(bad("empty software name"));
                }
                Norm::Name(4, value.to_string())
            }
        };
        let mut meta = Meta {
            feed,
            kind,
            line,
            source: NONE,
            desc: NONE,
        };
        let fresh = match norm {
            Norm::Net(net) => {
                if matches!(kind, Kind::Addr) && net.prefix_len() != net.max_prefix_len() {
                    meta.kind = Kind::Subnet;
                }
                if matches!(kind, Kind::Subnet) && net.prefix_len() == net.max_prefix_len() {
                    meta.kind = Kind::Addr;
                }
                meta.source = self.intern(source)?;
                meta.desc = self.intern(desc)?;
                match net {
                    ipnet::IpNet::V4(n) => self.set.v4.by_len[n.prefix_len() as usize]
                        .insert(u32::from(n.network()), meta),
                    ipnet::IpNet::V6(n) => self.set.v6.by_len[n.prefix_len() as usize]
                        .insert(u128::from(n.network()), meta),
                }
            }
            Norm::Hash(h) => {
                meta.source = self.intern(source)?;
                meta.desc = self.intern(desc)?;
                match h.len() {
                    32 => super::norm::hex::<16>(&h).is_some_and(|k| self.set.md5.insert(k, meta)),
                    40 => super::norm::hex::<20>(&h).is_some_and(|k| self.set.sha1.insert(k, meta)),
                    _ => {
                        super::norm::hex::<32>(&h).is_some_and(|k| self.set.sha256.insert(k, meta))
                    }
                }
            }
            Norm::Name(slot, s) => {
                let h = hash32(s.as_bytes());
                let set = &self.set;
                if set.names[slot]
                    .t
                    .find(spread(h), |(r, x, _)| *x == h && set.text(*r) == s)
                    .is_some()
                {
                    false
                } else {
                    meta.source = self.intern(source)?;
                    meta.desc = self.intern(desc)?;
                    let r = self.push_arena(s.as_bytes())?;
                    self.set.names[slot]
                        .t
                        .insert_unique(spread(h), (r, h, meta), |(_, x, _)| spread(*x));
                    true
                }
            }
        };
        if fresh {
            Ok(())
        } else {
            Err(AddError::Duplicate)
        }
    }

    fn build_filter(&mut self) {
        let set = &mut self.set;
        let n: usize = set.names.iter().map(|t| t.t.len()).sum::<usize>()
            + set.v4.by_len.iter().map(|t| t.t.len()).sum::<usize>()
            + set.v6.by_len.iter().map(|t| t.t.len()).sum::<usize>();
        if n == 0 {
            return;
        }
        let bits = (n * 8).next_power_of_two().max(64);
        let mut filter = vec![0u64; bits / 64];
        let mut set_bit = |key: u64| {
            if let Some((w, b)) = filter_bit(&filter, key) {
                if let Some(x) = filter.get_mut(w) {
                    *x |= b;
                }
            }
        };
        for (slot, t) in set.names.iter().enumerate() {
            for (_, h, _) in t.t.iter() {
                set_bit(name_fkey(slot, *h));
            }
        }
        for (l, t) in set.v4.by_len.iter().enumerate() {
            for (k, _) in t.t.iter() {
                set_bit(v4_fkey(l as u8, *k));
            }
        }
        for (l, t) in set.v6.by_len.iter().enumerate() {
            for (k, _) in t.t.iter() {
                set_bit(v6_fkey(l as u8, *k));
            }
        }
        set.filter = filter;
    }

    /// The finished set (tables shrunk to fit).
    pub fn finish(mut self) -> IntelSet {
        self.set.arena.shrink_to_fit();
        self.set.interned.shrink_to_fit();
        for t in self.set.names.iter_mut() {
            t.t.shrink_to_fit(|(_, x, _)| spread(*x));
        }
        self.set.md5.t.shrink_to_fit(|(k, _)| k.hash());
        self.set.sha1.t.shrink_to_fit(|(k, _)| k.hash());
        self.set.sha256.t.shrink_to_fit(|(k, _)| k.hash());
        for t in self.set.v4.by_len.iter_mut() {
            t.t.shrink_to_fit(|(k, _)| k.hash());
        }
        for t in self.set.v6.by_len.iter_mut() {
            t.t.shrink_to_fit(|(k, _)| k.hash());
        }
        self.set.v4.finish();
        self.set.v6.finish();
        self.build_filter();
        self.set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> FeedInfo {
        FeedInfo {
            name: name.into(),
            path: name.into(),
            format: "test",
            version: "0".into(),
            mtime: None,
            mtime_ns: 0,
            size: 0,
            loaded_at: String::new(),
            indicators: 0,
            duplicates: 0,
            bad_lines: 0,
            bad_samples: Vec::new(),
        }
    }

    #[test]
    fn longest_prefix_and_names() {
        let mut b = IntelSetBuilder::new();
        let f = b.begin_feed(info("t")).unwrap();
        b.add(f, Kind::Subnet, "10.0.0.0/8", 1, Some("s"), Some("wide"))
            .unwrap();
        b.add(f, Kind::Subnet, "10.1.2.3/16", 2, Some("s"), Some("narrow"))
            .unwrap();
        b.add(f, Kind::Addr, "2001:db8::1", 3, None, None).unwrap();
        b.add(f, Kind::Domain, "Evil.Example", 4, None, None)
            .unwrap();
        assert_eq!(
            b.add(f, Kind::Domain, "evil.example.", 5, None, None),
            Err(AddError::Duplicate)
        );
        assert!(matches!(
            b.add(f, Kind::Domain, "co.uk", 6, None, None),
            Err(AddError::Invalid(_))
        ));
        b.add(f, Kind::FileHash, &"AB".repeat(16), 7, None, None)
            .unwrap();
        let s = b.finish();
        let hit = s.addr("10.1.9.9".parse().unwrap()).unwrap();
        assert_eq!(hit.indicator, "10.1.0.0/16");
        assert_eq!(s.interned(hit.meta.desc).as_deref(), Some("narrow"));
        assert_eq!(
            s.addr("10.2.0.1".parse().unwrap()).unwrap().indicator,
            "10.0.0.0/8"
        );
        assert!(s.addr("11.0.0.1".parse().unwrap()).is_none());
        assert_eq!(
            s.addr("2001:db8::1".parse().unwrap()).unwrap().meta.kind,
            Kind::Addr
        );
        assert!(s.name(Kind::Domain, "evil.example").is_some());
        assert!(s.name(Kind::Url, "evil.example").is_none());
        assert!(s.hash_hex(&"ab".repeat(16)).is_some());
        assert!(s.hash_hex(&"ab".repeat(20)).is_none());
        assert!(s.memory_bytes() > 0);
    }
}
