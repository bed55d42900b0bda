//! Per-worker aggregation: each worker feeds the records it makes into its own [`Collector`]
//! (plain maps, no lock, no I/O) and hands the accumulated [`Delta`] to the store writer at
//! the end of every status period on its clock, when a map grows past its share of the caps,
//! and at shutdown.
//!
//! What counts, and for whom (only clients in `home_net` are "the local network"):
//! - a domain request: a DNS query (reverse lookups, `.arpa`, excepted), an HTTP request's `Host`, a TLS client hello's SNI, from an
//!   internal client; HTTP adds body bytes up and down and the response content type; the user
//!   is the HTTP `Authorization` user, else the last Kerberos account this worker saw logging
//!   on from that client;
//! - a file: received by an internal host (the HTTP/POP3/IMAP client, the SMTP server);
//! - a host's names: DNS PTR answers (`dns_ptr`), Kerberos computer accounts `NAME$`
//!   (`kerberos`), SMTP HELO/EHLO (`smtp_helo`); its accounts: Kerberos `cname` of successful
//!   exchanges, as MD5 of the lower-cased name with the realm.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use crate::files::{FileBody, FileFrequency};
use crate::record::{rfc3339_micros, Body, Record};

use super::domain::{normalise, registered};
use super::entry::{DomainStats, FileStats, HostStats};
use super::{StatsShared, View, WriterMsg};

/// What one worker saw since its last hand-over.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    pub domains: HashMap<String, DomainStats>,
    pub fqdns: HashMap<String, DomainStats>,
    /// Key: the SHA-256 (32 bytes).
    pub files: HashMap<[u8; 32], FileStats>,
    /// Key: the address as text.
    pub hosts: HashMap<String, HostStats>,
    /// Newest packet time seen (ageing runs against it).
    pub now_ns: u64,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
            && self.fqdns.is_empty()
            && self.files.is_empty()
            && self.hosts.is_empty()
    }

    pub fn entries(&self) -> usize {
        self.domains.len() + self.fqdns.len() + self.files.len() + self.hosts.len()
    }

    /// Adds another delta (the writer batches what is waiting into one transaction).
    pub fn absorb(&mut self, o: Delta, caps: super::entry::ListCaps) {
        fn merge_map<K: std::hash::Hash + Eq, V>(
            a: &mut HashMap<K, V>,
            b: HashMap<K, V>,
            f: impl Fn(&mut V, &V),
        ) {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(x) => f(x, &v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        merge_map(&mut self.domains, o.domains, |a, b| a.merge(b, caps));
        merge_map(&mut self.fqdns, o.fqdns, |a, b| a.merge(b, caps));
        merge_map(&mut self.files, o.files, |a, b| a.merge(b, caps));
        merge_map(&mut self.hosts, o.hosts, |a, b| a.merge(b, caps));
        self.now_ns = self.now_ns.max(o.now_ns);
    }
}

/// One worker's statistics collector.
pub struct Collector {
    shared: Arc<StatsShared>,
    delta: Delta,
    /// Everything this worker saw of files in this run (for `file.frequency`), capped.
    files_seen: HashMap<[u8; 32], FileStats>,
    /// Client address → MD5 of the last account seen logging on from it (capped).
    accounts: HashMap<IpAddr, String>,
    /// The store as of the last snapshot the writer published.
    view: View,
    /// Entries a delta may hold before it is handed over early; files remembered.
    max_entries: usize,
    /// Scratch for an address as text (no allocation per request).
    ip_buf: String,
}

/// A domain request seen from an internal client.
struct Request<'a> {
    name: &'a str,
    client: IpAddr,
    ts: u64,
    user: Option<String>,
    up: u64,
    down: u64,
    content_type: Option<&'a str>,
}

impl Collector {
    pub fn new(shared: Arc<StatsShared>) -> Collector {
        let max_entries = shared.worker_entries;
        let view = shared.view();
        Collector {
            shared,
            delta: Delta::default(),
            files_seen: HashMap::new(),
            accounts: HashMap::new(),
            view,
            max_entries,
            ip_buf: String::with_capacity(40),
        }
    }

    fn is_home(&self, ip: IpAddr) -> bool {
        self.shared.home_net.iter().any(|n| n.contains(&ip))
    }

    /// Learns from one record; a `file` record gets its `file.frequency`.
    pub fn observe(&mut self, r: &mut Record) {
        let Some(f) = &r.flow else { return };
        let (client, server, ts) = (f.src_ip, f.dest_ip, r.ts_ns);
        self.delta.now_ns = self.delta.now_ns.max(ts);
        let local = self.is_home(client);
        match &mut r.body {
            Body::Dns(d) => {
                if local {
                    if let Some(q) = d.query.as_deref() {
                        self.request(Request {
                            name: q,
                            client,
                            ts,
                            user: None,
                            up: 0,
                            down: 0,
                            content_type: None,
                        });
                    }
                }
                for a in &d.answers {
                    if a.rtype == "PTR" {
                        if let Some(ip) = crate::enrich::passive::ptr_ip(&a.name) {
                            if self.is_home(ip) {
                                let name = a.data.trim_end_matches('.').to_ascii_lowercase();
                                self.host_name(ip, ts, "dns_ptr", &name);
                            }
                        }
                    }
                }
            }
            Body::Http(h) if local => {
                if let Some(host) = h.host.as_deref() {
                    let user = h.auth_user.as_deref().map(user_md5);
                    self.request(Request {
                        name: host,
                        client,
                        ts,
                        user,
                        up: h.request_body_len,
                        down: h.response_body_len,
                        content_type: h.response_content_type.as_deref(),
                    });
                }
            }
            Body::Tls(t) => {
                if let (true, Some(sni)) = (local, t.sni.as_deref()) {
                    self.request(Request {
                        name: sni,
                        client,
                        ts,
                        user: None,
                        up: 0,
                        down: 0,
                        content_type: None,
                    });
                }
            }
            Body::Kerberos(k) => {
                let realm = k.crealm.as_deref().or(k.realm.as_deref());
                if let (true, Some(name), Some(realm), false) =
                    (local, k.cname.as_deref(), realm, k.success == Some(false))
                {
                    if let Some(host) = name.strip_suffix('$') {
                        let host = format!("{}.{}", host.to_lowercase(), realm.to_lowercase());
                        self.host_name(client, ts, "kerberos", &host);
                    } else {
                        let md5 = user_md5(name);
                        let acct = format!("{md5}@{}", realm.to_uppercase());
                        let caps = self.shared.caps.lists;
                        let h = self.host(client, ts);
                        h.accounts.add(&acct, caps.names);
                        if self.accounts.len() < self.max_entries
                            || self.accounts.contains_key(&client)
                        {
                            self.accounts.insert(client, md5);
                        }
                    }
                }
            }
            Body::Email(e) => {
                if let (true, Some(helo)) = (local, e.helo.as_deref()) {
                    if let Some(n) = normalise(helo) {
                        self.host_name(client, ts, "smtp_helo", &n);
                    }
                }
            }
            Body::File(fb) => {
                let receiver = if fb.source == "smtp" { server } else { client };
                let local_rx = self.is_home(receiver);
                self.file(fb, receiver, local_rx, ts);
            }
            _ => {}
        }
    }

    fn host(&mut self, ip: IpAddr, ts: u64) -> &mut HostStats {
        let h = self.delta.hosts.entry(ip.to_string()).or_default();
        if h.first_seen == 0 || ts < h.first_seen {
            h.first_seen = ts;
        }
        h.last_seen = h.last_seen.max(ts);
        h
    }

    fn host_name(&mut self, ip: IpAddr, ts: u64, source: &str, name: &str) {
        if name.is_empty() {
            return;
        }
        let cap = self.shared.caps.lists.names;
        let entry = format!("{source}:{name}");
        self.host(ip, ts).names.add(&entry, cap);
    }

    fn request(&mut self, q: Request<'_>) {
        let Some(fqdn) = normalise(q.name) else {
            return;
        };
        // Reverse lookups name addresses, not domains.
        if fqdn.ends_with(".arpa") {
            return;
        }
        let reg = registered(&fqdn);
        let user = q.user.or_else(|| self.accounts.get(&q.client).cloned());
        let caps = self.shared.caps.lists;
        self.ip_buf.clear();
        let _ = write!(self.ip_buf, "{}", q.client);
        let client = self.ip_buf.as_str();
        for (map, key) in [
            (&mut self.delta.domains, reg),
            (&mut self.delta.fqdns, &*fqdn),
        ] {
            // Look up by reference: a key is only allocated for a new entry.
            let d = match map.get_mut(key) {
                Some(d) => d,
                None => map.entry(key.to_string()).or_default(),
            };
            d.requests += 1;
            if d.first_seen == 0 || q.ts < d.first_seen {
                d.first_seen = q.ts;
            }
            d.last_seen = d.last_seen.max(q.ts);
            d.hosts.add(client, caps.hosts);
            if let Some(u) = &user {
                d.users_md5.add(u, caps.names);
            }
            d.bytes_up += q.up;
            d.bytes_down += q.down;
            if let Some(ct) = q.content_type {
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or(ct)
                    .trim()
                    .to_ascii_lowercase();
                if !ct.is_empty() {
                    d.content_types.add(&ct, caps.names);
                }
            }
        }
    }

    fn file(&mut self, fb: &mut FileBody, receiver: IpAddr, local: bool, ts: u64) {
        let Some(key) = sha256_key(&fb.sha256) else {
            return;
        };
        let caps = self.shared.caps.lists;
        let host = receiver.to_string();
        let mut one = FileStats::default();
        if local {
            one.count = 1;
            one.first_seen = ts;
            one.last_seen = ts;
            one.add_host(&host, ts, caps.hosts);
            if let Some(n) = fb.name.as_deref().filter(|n| !n.is_empty()) {
                one.names.add(n, caps.names);
            }
            one.sources.add(fb.source, caps.names);
            if let Some(o) = fb.url.as_deref().or(fb.sender.as_deref()) {
                one.origins.add(o, caps.names);
            }
            // What file.frequency needs of this run: times and hosts, not names.
            let seen = FileStats {
                count: 1,
                first_seen: ts,
                last_seen: ts,
                first_by_host: one.first_by_host.clone(),
                ..Default::default()
            };
            self.delta
                .files
                .entry(key)
                .and_modify(|f| f.merge(&one, caps))
                .or_insert(one);
            if self.files_seen.len() >= self.max_entries && !self.files_seen.contains_key(&key) {
                // Bounded: start this run's own view afresh (the store still has it all).
                self.files_seen.clear();
                self.shared
                    .gauges
                    .view_resets
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.files_seen
                .entry(key)
                .and_modify(|f| f.merge(&seen, caps))
                .or_insert(seen);
        }
        // The frequency as of now: the store's snapshot merged with this worker's own view.
        let mut view = self
            .view
            .as_ref()
            .and_then(|v| v.file(&key))
            .unwrap_or_default();
        if let Some(mine) = self.files_seen.get(&key) {
            view.merge(mine, caps);
        }
        fb.frequency = Some(FileFrequency {
            hosts: view.distinct_hosts(),
            first_seen_network: (view.first_seen > 0).then(|| rfc3339_micros(view.first_seen)),
            first_seen_host: view.first_seen_on(&host).map(rfc3339_micros),
        });
    }

    /// Whether the delta should be handed over before the period ends (then [`Collector::send`]
    /// counts it as early).
    pub fn full(&self) -> bool {
        self.delta.entries() >= self.max_entries
    }

    /// Hands the delta to the store writer and picks up the writer's latest snapshot.
    pub fn send(&mut self) {
        if !self.delta.is_empty() {
            if self.full() {
                self.shared
                    .gauges
                    .early_handovers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let d = std::mem::take(&mut self.delta);
            // The writer only goes away at shutdown, after the workers.
            let _ = self.shared.tx.send(WriterMsg::Delta(Box::new(d)));
        }
        self.view = self.shared.view();
    }
}

/// MD5 of the lower-cased user name (the document's "checksum of the user name").
pub fn user_md5(name: &str) -> String {
    crate::util::hex::md5_hex(name.to_lowercase().as_bytes())
}

fn sha256_key(hex: &str) -> Option<[u8; 32]> {
    let v = crate::util::hex::decode(hex)?;
    v.try_into().ok()
}
