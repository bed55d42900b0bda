//! What names resolved to, learnt from DNS answers and shared by all workers, so that an
//! `http` record can carry the IPs its host name resolved to (a DNS flow and the HTTP flow it
//! led to usually live on different workers). Sharded locks, touched once per DNS or HTTP
//! record, never per packet; capped: when full, the oldest entry of the shard makes room (a
//! flood of random names cannot stop the cache from learning the names that follow), and
//! every eviction is counted.
//!
//! Across workers the order in which records are produced is not fixed, so with several
//! workers an HTTP record may be written before the DNS answer it followed was learnt.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

const SHARDS: usize = 16;
/// Most addresses kept per name.
const MAX_IPS: usize = 16;

/// One shard: a map with its keys in insertion order, oldest evicted first when full.
struct Fifo<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> Default for Fifo<K, V> {
    fn default() -> Self {
        Fifo {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Fifo<K, V> {
    /// Inserts a key not present yet; true when an old entry was evicted for it.
    fn insert_new(&mut self, k: K, v: V, cap: usize) -> bool {
        let mut evicted = false;
        while self.map.len() >= cap.max(1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.map.remove(&old).is_some() {
                evicted = true;
            }
        }
        self.order.push_back(k.clone());
        self.map.insert(k, v);
        evicted
    }
}

pub struct DnsCache {
    shards: Vec<RwLock<Fifo<String, Vec<IpAddr>>>>,
    /// Address → the first name seen resolving to it (A/AAAA) or named by a PTR answer.
    names: Vec<RwLock<Fifo<IpAddr, String>>>,
    per_shard: usize,
    hasher: foldhash::fast::FixedState,
    dropped: AtomicU64,
}

impl std::fmt::Debug for DnsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsCache")
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// A host name as the cache keys it: lower case, no trailing dot, no port.
pub fn normalise_host(host: &str) -> String {
    let h = host.trim();
    // "[v6]:port", "name:port"
    let h = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if h.matches(':').count() == 1 {
        h.split(':').next().unwrap_or(h)
    } else {
        h
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsCache {
    /// A cache holding at most `max_names` names.
    pub fn new(max_names: usize) -> DnsCache {
        DnsCache {
            shards: (0..SHARDS).map(|_| RwLock::new(Fifo::default())).collect(),
            names: (0..SHARDS).map(|_| RwLock::new(Fifo::default())).collect(),
            per_shard: max_names.div_ceil(SHARDS).max(1),
            hasher: foldhash::fast::FixedState::with_seed(0x0064_6e73),
            dropped: AtomicU64::new(0),
        }
    }

    fn shard(&self, name: &str) -> Option<&RwLock<Fifo<String, Vec<IpAddr>>>> {
        let i = (self.hasher.hash_one(name) % SHARDS as u64) as usize;
        self.shards.get(i)
    }

    /// `ip` goes by `name` (a PTR answer; A/AAAA answers call this through [`Self::insert`]).
    pub fn name_ip(&self, ip: IpAddr, name: &str) {
        let i = (self.hasher.hash_one(ip) % SHARDS as u64) as usize;
        let Some(shard) = self.names.get(i) else {
            return;
        };
        let Ok(mut m) = shard.write() else { return };
        if m.map.contains_key(&ip) {
            return;
        }
        if m.insert_new(ip, normalise_host(name), self.per_shard) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The name `ip` goes by, when one was learnt.
    pub fn name_of(&self, ip: IpAddr) -> Option<String> {
        let i = (self.hasher.hash_one(ip) % SHARDS as u64) as usize;
        self.names.get(i)?.read().ok()?.map.get(&ip).cloned()
    }

    /// `name` resolved to `ip`.
    pub fn insert(&self, name: &str, ip: IpAddr) {
        self.name_ip(ip, name);
        let name = normalise_host(name);
        let Some(shard) = self.shard(&name) else {
            return;
        };
        let Ok(mut m) = shard.write() else { return };
        if !m.map.contains_key(&name) && m.insert_new(name.clone(), Vec::new(), self.per_shard) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        let Some(ips) = m.map.get_mut(&name) else {
            return;
        };
        if !ips.contains(&ip) {
            if ips.len() >= MAX_IPS {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            ips.push(ip);
        }
    }

    /// The addresses `host` resolved to (an IP literal resolves to itself).
    pub fn lookup(&self, host: &str) -> Vec<IpAddr> {
        let name = normalise_host(host);
        if let Ok(ip) = name.parse::<IpAddr>() {
            return vec![ip];
        }
        self.shard(&name)
            .and_then(|s| s.read().ok().and_then(|m| m.map.get(&name).cloned()))
            .unwrap_or_default()
    }

    /// Names held now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.read().ok().map(|m| m.map.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries evicted (or addresses refused) because a cap was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_capped() {
        let c = DnsCache::new(16);
        c.insert("WWW.Example.com.", "192.0.2.1".parse().unwrap());
        c.insert("www.example.com", "192.0.2.1".parse().unwrap());
        c.insert("www.example.com", "2001:db8::1".parse().unwrap());
        assert_eq!(c.lookup("www.example.com:8080").len(), 2);
        assert_eq!(
            c.lookup("192.0.2.9"),
            vec!["192.0.2.9".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            c.lookup("[2001:db8::2]:443"),
            vec!["2001:db8::2".parse::<IpAddr>().unwrap()]
        );
        assert!(c.lookup("other.example").is_empty());
        assert_eq!(
            c.name_of("192.0.2.1".parse().unwrap()).as_deref(),
            Some("www.example.com")
        );
        for i in 0..100u8 {
            c.insert(&format!("n{i}.example"), "192.0.2.2".parse().unwrap());
        }
        assert!(c.dropped() > 0);
        // The newest names are always there: the oldest made room.
        assert_eq!(c.lookup("n99.example").len(), 1);
        assert!(c.len() <= 16 + SHARDS);
    }
}
