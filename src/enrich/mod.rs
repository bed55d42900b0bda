//! Enrichment: what the sensor learns from traffic and looks up. Today: passive learning of
//! accounts, hosts and names (`passive`). Intel feeds and the statistics store come here.

pub mod dns_cache;
pub mod intel;
pub mod passive;

pub use dns_cache::DnsCache;
pub use passive::{Learned, LearnedCaps};
