//! The per-worker flow table: no locks, a hard cap, per-state timeouts, and counted pressure.
//!
//! A worker owns one table. Lookups are one hash probe on the canonical [`FlowKey`]. Timeouts are
//! driven by packet time (`ts_ns`), never by the wall clock, so replays are reproducible.
//! When the table is full a new flow triggers an emergency sweep (timeouts divided by
//! `emergency_divisor`, at most once per second of packet time); if that frees nothing the packet
//! is not tracked and `cap_drops` counts it.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::hash_map::{Entry, HashMap};

use crate::config::FlowSection;
use crate::decode::{tcp_flags, Decoded, Tunnel, Vlans, L4};
use crate::flow::key::FlowKey;
use crate::flow::tcp::state::{Seg, TcpTrack, Verdict};
use crate::vocab::{AppProto, Direction};

const NS: u64 = 1_000_000_000;

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Timeout,
    /// TCP closed (FIN/RST) and its closed timeout passed.
    Closed,
    /// Evicted under table pressure.
    Emergency,
    /// The 5-tuple was reused by a new TCP connection.
    Reuse,
    Shutdown,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Closed => "closed",
            EndReason::Emergency => "emergency",
            EndReason::Reuse => "reuse",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// One tracked flow. `S` is the application-layer state the worker attaches.
#[derive(Debug)]
pub struct Flow<S> {
    pub id: u64,
    /// The client (initiator) is the key's `lo` endpoint.
    pub client_is_lo: bool,
    pub start_ns: u64,
    pub last_ns: u64,
    /// Indexed by [`Direction::idx`].
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub tcp: TcpTrack,
    pub app_proto: AppProto,
    pub tunnel: Tunnel,
    /// VLAN ids of the first packet, outer first.
    pub vlans: Vlans,
    /// ICMP type and code of the first packet.
    pub icmp: Option<(u8, u8)>,
    /// A packet carried application payload (TCP: a segment without SYN; SYN payload and
    /// handshakes are what floods are made of). Flows without it may be evicted when the
    /// table is full (see [`FlowTable::track`]).
    pub app_data: bool,
    pub app: S,
}

/// Counters of one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub created: u64,
    pub ended: u64,
    pub timeouts: u64,
    pub emergency_sweeps: u64,
    pub emergency_evictions: u64,
    /// Packets not tracked because the table was full.
    pub cap_drops: u64,
    pub reused: u64,
    /// Two-sided flows that carried no application data, evicted (least recently active
    /// first) to make room when the table was full and no one-sided flow could go.
    pub evicted_idle_no_data: u64,
    /// Most flows held at once.
    pub peak: u64,
}

impl FlowStats {
    /// Every field is named (no `..`): a new counter that is not summed does not compile.
    pub fn add(&mut self, o: &FlowStats) {
        let FlowStats {
            created,
            ended,
            timeouts,
            emergency_sweeps,
            emergency_evictions,
            cap_drops,
            reused,
            evicted_idle_no_data,
            peak,
        } = o;
        self.created += created;
        self.ended += ended;
        self.timeouts += timeouts;
        self.emergency_sweeps += emergency_sweeps;
        self.emergency_evictions += emergency_evictions;
        self.cap_drops += cap_drops;
        self.reused += reused;
        self.evicted_idle_no_data += evicted_idle_no_data;
        // The sum of the workers' peaks (each worker has its own table).
        self.peak += peak;
    }
}

#[derive(Clone, Copy, Debug)]
struct Timeouts {
    tcp_new: u64,
    tcp_est: u64,
    tcp_closed: u64,
    udp_new: u64,
    udp_est: u64,
    icmp: u64,
    other: u64,
}

pub struct FlowTable<S> {
    map: HashMap<FlowKey, Flow<S>, foldhash::fast::RandomState>,
    max: usize,
    vlan_in_key: bool,
    t: Timeouts,
    divisor: u64,
    /// Deterministic hasher for flow ids (same ids whatever the worker count).
    id_state: foldhash::fast::FixedState,
    last_emergency_ns: Option<u64>,
    /// New flows refused since the last emergency pass.
    refused_since_emergency: u64,
    /// Flows in creation order (key, id): where a full table looks for a one-sided flow to
    /// evict, oldest first. Entries of flows already gone are skipped and, when the queue
    /// grows past 1.5 times the table, compacted away: at most `1.5 * max + 1024` entries.
    order: VecDeque<(FlowKey, u64)>,
    /// Two-sided flows without application data met in `order` (key, id, last activity when
    /// queued), least recently active first: where a full table looks next, when no one-sided
    /// flow is left (a flood of SYNs with spoofed replies). Compacted like `order`.
    idle: VecDeque<(FlowKey, u64, u64)>,
    stats: FlowStats,
}

/// Queue entries a full table examines for one new flow before refusing it.
const EVICT_PROBES: usize = 32;
/// Most flows one emergency pass ends.
const EMERGENCY_BATCH: usize = 4096;

/// A packet's place in its flow, as returned by [`FlowTable::track`].
pub struct Tracked<'t, S> {
    pub key: &'t FlowKey,
    pub flow: &'t mut Flow<S>,
    pub dir: Direction,
    /// This packet created the flow.
    pub new: bool,
    /// What this packet's RST or FIN did to the connection (TCP), for the streams.
    pub verdict: Verdict,
}

impl<S: Default> FlowTable<S> {
    /// A table for one worker holding at most `max_flows` flows.
    pub fn new(cfg: &FlowSection, max_flows: usize) -> Self {
        let s = |v: u64| v.saturating_mul(NS);
        FlowTable {
            map: HashMap::with_capacity_and_hasher(
                max_flows.min(1 << 16),
                foldhash::fast::RandomState::default(),
            ),
            max: max_flows.max(1),
            vlan_in_key: cfg.vlan_in_key,
            t: Timeouts {
                tcp_new: s(cfg.tcp_new_timeout),
                tcp_est: s(cfg.tcp_established_timeout),
                tcp_closed: s(cfg.tcp_closed_timeout),
                udp_new: s(cfg.udp_new_timeout),
                udp_est: s(cfg.udp_established_timeout),
                icmp: s(cfg.icmp_timeout),
                other: s(cfg.other_timeout),
            },
            divisor: cfg.emergency_divisor.max(1),
            id_state: foldhash::fast::FixedState::with_seed(0x0074_6170_6972),
            last_emergency_ns: None,
            refused_since_emergency: 0,
            order: VecDeque::new(),
            idle: VecDeque::new(),
            stats: FlowStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Finds or creates the flow of a decoded packet and updates its counters and TCP state.
    /// Flows this displaces (reuse, emergency eviction) are handed to `ended`.
    /// `None` when the table is full and nothing could be evicted (counted in `cap_drops`).
    pub fn track<'t>(
        &'t mut self,
        d: &Decoded<'_>,
        ts_ns: u64,
        wire_len: u32,
        ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason),
    ) -> Option<Tracked<'t, S>> {
        let (key, from_lo) = FlowKey::of(d, self.vlan_in_key);
        let (flags, seq, is_tcp) = match d.l4 {
            L4::Tcp { flags, seq, .. } => (flags, seq, true),
            _ => (0, 0, false),
        };
        let app_data = match d.l4 {
            L4::Tcp { flags, payload, .. } => !payload.is_empty() && flags & tcp_flags::SYN == 0,
            L4::Udp { payload, .. }
            | L4::Sctp { payload, .. }
            | L4::Icmp { payload, .. }
            | L4::Other { payload } => !payload.is_empty(),
        };
        // Is the existing flow finished (timed out, or a new connection on a closed 5-tuple)?
        let mut replace = None;
        if let Some(f) = self.map.get(&key) {
            if ts_ns.saturating_sub(f.last_ns) > self.timeout_of(f, 1) {
                replace = Some(if f.tcp.is_closed() {
                    EndReason::Closed
                } else {
                    EndReason::Timeout
                });
            } else if is_tcp
                && flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN
                && f.tcp.is_closed()
                && !(from_lo == f.client_is_lo && f.tcp.is_syn_repeat(seq))
            {
                replace = Some(EndReason::Reuse);
            }
        } else if self.map.len() >= self.max {
            self.emergency(ts_ns, ended);
            if self.map.len() >= self.max
                && !self.evict_one_sided(ended)
                && !self.evict_idle_no_data(ended)
            {
                self.stats.cap_drops += 1;
                self.refused_since_emergency += 1;
                return None;
            }
        }
        if let Some(reason) = replace {
            if let Some((k, f)) = self.map.remove_entry(&key) {
                self.end(k, f, reason, ended);
            }
        }
        let id_state = self.id_state.clone();
        let created = match self.map.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                let client_is_src = client_is_src(d, flags, is_tcp);
                let start = ts_ns;
                let mut h = id_state.build_hasher();
                key.hash(&mut h);
                start.hash(&mut h);
                let id = h.finish() & ((1 << 53) - 1);
                self.order.push_back((key, id));
                v.insert(Flow {
                    id,
                    client_is_lo: client_is_src == from_lo,
                    start_ns: start,
                    last_ns: start,
                    pkts: [0; 2],
                    bytes: [0; 2],
                    tcp: TcpTrack::default(),
                    app_proto: AppProto::Unknown,
                    tunnel: d.tunnel,
                    vlans: d.vlans,
                    icmp: match d.l4 {
                        L4::Icmp {
                            icmp_type, code, ..
                        } => Some((icmp_type, code)),
                        _ => None,
                    },
                    app_data: false,
                    app: S::default(),
                });
                true
            }
        };
        if created {
            if self.order.len() > self.max.saturating_add(self.max / 2).saturating_add(1024) {
                let map = &self.map;
                self.order
                    .retain(|(k, id)| map.get(k).is_some_and(|f| f.id == *id));
            }
            self.stats.created += 1;
            self.stats.peak = self.stats.peak.max(self.map.len() as u64);
            if replace == Some(EndReason::Reuse) {
                self.stats.reused += 1;
            }
        }
        let (key, flow) = self.map.get_key_value_mut(&key)?;
        let dir = if from_lo == flow.client_is_lo {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let i = dir.idx();
        flow.pkts[i] += 1;
        flow.bytes[i] += u64::from(wire_len);
        flow.last_ns = flow.last_ns.max(ts_ns);
        flow.app_data |= app_data;
        let verdict = match d.l4 {
            L4::Tcp {
                flags,
                seq,
                ack,
                window,
                payload,
                ..
            } => {
                let seg = Seg {
                    flags,
                    seq,
                    ack,
                    window,
                    len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
                };
                flow.tcp.segment(i, &seg, true)
            }
            _ => Verdict::None,
        };
        Some(Tracked {
            key,
            flow,
            dir,
            new: created,
            verdict,
        })
    }

    /// Ends every flow idle past its timeout at packet time `now_ns`.
    pub fn expire(&mut self, now_ns: u64, ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason)) {
        let keys = self.expired_keys(now_ns);
        self.end_keys(&keys, now_ns, None, ended);
    }

    /// Keys of the flows idle past their timeout at packet time `now_ns`, for
    /// [`FlowTable::end_keys`] (the caller can then end them a few at a time).
    pub fn expired_keys(&self, now_ns: u64) -> Vec<FlowKey> {
        let t = self.t;
        self.map
            .iter()
            .filter(|(_, f)| now_ns.saturating_sub(f.last_ns) > timeout(&t, f))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Keys of every flow (for a shutdown a few flows at a time).
    pub fn keys(&self) -> Vec<FlowKey> {
        self.map.keys().copied().collect()
    }

    /// Ends the flows of `keys` still in the table. `reason`: None = timed out or closed,
    /// from each flow's state; `now_ns` is only used then, to skip a flow active since.
    pub fn end_keys(
        &mut self,
        keys: &[FlowKey],
        now_ns: u64,
        reason: Option<EndReason>,
        ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason),
    ) {
        for key in keys {
            let Some(f) = self.map.get(key) else { continue };
            let r = match reason {
                Some(r) => r,
                None if now_ns.saturating_sub(f.last_ns) > timeout(&self.t, f) => {
                    if f.tcp.is_closed() {
                        EndReason::Closed
                    } else {
                        EndReason::Timeout
                    }
                }
                None => continue,
            };
            if let Some((k, f)) = self.map.remove_entry(key) {
                self.end(k, f, r, ended);
            }
        }
        if self.map.is_empty() {
            self.order.clear();
            self.idle.clear();
        }
    }

    /// Ends every flow (shutdown).
    pub fn drain(&mut self, ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason)) {
        let keys = self.keys();
        self.end_keys(&keys, 0, Some(EndReason::Shutdown), ended);
    }

    /// Table full, for one new flow: evicts the oldest one-sided flow (a SYN or a datagram
    /// never answered: what a flood is made of), so that new connections keep being tracked
    /// during a flood and a real one, answered quickly, becomes two-sided and stays.
    /// Established and two-sided flows are never taken here. Looks at [`EVICT_PROBES`] queue
    /// entries at most; false when none could be evicted.
    fn evict_one_sided(&mut self, ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason)) -> bool {
        for _ in 0..EVICT_PROBES {
            let Some((key, id)) = self.order.pop_front() else {
                return false;
            };
            let (victim, last_ns) = match self.map.get(&key) {
                Some(f) if f.id == id => (
                    (f.pkts[0] == 0 || f.pkts[1] == 0) && !f.tcp.established,
                    // Queued with its start: at its turn, a flow active since goes to the back.
                    (!f.app_data).then_some(f.start_ns),
                ),
                // Gone already, or the key now belongs to a newer flow (queued itself).
                _ => continue,
            };
            if !victim {
                // Two-sided: it ends by timeout, not by eviction; it leaves the queue, for the
                // idle queue when it carried no data yet.
                if let Some(start) = last_ns {
                    self.idle.push_back((key, id, start));
                }
                continue;
            }
            if let Some((k, f)) = self.map.remove_entry(&key) {
                self.end(k, f, EndReason::Emergency, ended);
                self.stats.emergency_evictions += 1;
                return true;
            }
        }
        false
    }

    /// Table full, no one-sided flow to evict: evicts the least recently active two-sided flow
    /// that carried no application data (a SYN answered by a spoofed SYN-ACK, a handshake and
    /// nothing more), so that such a flood cannot keep new connections out. Flows active since
    /// they were queued go to the back with their new time (the front is then the least recent);
    /// flows that carried data leave the queue. No probe limit: each entry looked at is either
    /// dropped for good, evicted, or requeued for activity since it was queued (at most once per
    /// packet of its flow), so the work is O(1) amortised per packet.
    fn evict_idle_no_data(&mut self, ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason)) -> bool {
        if self.idle.len() > self.max.saturating_add(self.max / 2).saturating_add(1024) {
            let map = &self.map;
            self.idle
                .retain(|(k, id, _)| map.get(k).is_some_and(|f| f.id == *id && !f.app_data));
        }
        while let Some((key, id, queued_ns)) = self.idle.pop_front() {
            match self.map.get(&key) {
                Some(f) if f.id == id && !f.app_data => {
                    if f.last_ns > queued_ns {
                        self.idle.push_back((key, id, f.last_ns));
                        continue;
                    }
                }
                _ => continue,
            }
            if let Some((k, f)) = self.map.remove_entry(&key) {
                self.end(k, f, EndReason::Emergency, ended);
                self.stats.evicted_idle_no_data += 1;
                return true;
            }
        }
        false
    }

    /// Table full: first end flows idle past the emergency timeouts; if that frees nothing,
    /// evict one-sided flows (a SYN or a datagram never answered: what a flood is made of) so
    /// that new connections keep being tracked. Established, two-sided flows are kept.
    /// Runs at most once per second of packet time or per `max/16` refused flows, so its
    /// linear scan costs O(1) amortised per new flow.
    fn emergency(&mut self, now_ns: u64, ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason)) {
        let recent = self
            .last_emergency_ns
            .is_some_and(|last| now_ns.saturating_sub(last) < NS);
        if recent && self.refused_since_emergency < (self.max as u64 / 16).max(1) {
            return;
        }
        self.last_emergency_ns = Some(now_ns);
        self.refused_since_emergency = 0;
        self.stats.emergency_sweeps += 1;
        let before = self.stats.ended;
        self.sweep(now_ns, self.divisor, ended);
        if self.map.len() >= self.max {
            let mut budget = (self.max / 8).clamp(1, EMERGENCY_BATCH);
            let victims: Vec<(FlowKey, Flow<S>)> = self
                .map
                .extract_if(|_, f| {
                    let one_sided = f.pkts[0] == 0 || f.pkts[1] == 0;
                    let take = budget > 0 && one_sided && !f.tcp.established;
                    if take {
                        budget -= 1;
                    }
                    take
                })
                .collect();
            for (k, f) in victims {
                self.end(k, f, EndReason::Emergency, ended);
            }
        }
        self.stats.emergency_evictions += self.stats.ended - before;
    }

    /// Emergency pass: ends flows idle past their timeout divided by `divisor`, at most
    /// [`EMERGENCY_BATCH`] of them, so that the records it produces at once stay small
    /// whatever the table size; the next pass takes more.
    fn sweep(
        &mut self,
        now_ns: u64,
        divisor: u64,
        ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason),
    ) {
        let t = self.t;
        let mut budget = EMERGENCY_BATCH;
        let gone: Vec<(FlowKey, Flow<S>)> = self
            .map
            .extract_if(|_, f| {
                let take =
                    budget > 0 && now_ns.saturating_sub(f.last_ns) > timeout(&t, f) / divisor;
                if take {
                    budget -= 1;
                }
                take
            })
            .collect();
        for (k, f) in gone {
            self.end(k, f, EndReason::Emergency, ended);
        }
    }

    fn end(
        &mut self,
        k: FlowKey,
        f: Flow<S>,
        reason: EndReason,
        ended: &mut impl FnMut(FlowKey, Flow<S>, EndReason),
    ) {
        self.stats.ended += 1;
        if matches!(reason, EndReason::Timeout | EndReason::Closed) {
            self.stats.timeouts += 1;
        }
        ended(k, f, reason);
    }

    fn timeout_of(&self, f: &Flow<S>, divisor: u64) -> u64 {
        timeout(&self.t, f) / divisor
    }
}

fn timeout<S>(t: &Timeouts, f: &Flow<S>) -> u64 {
    match f.icmp {
        Some(_) => t.icmp,
        None if f.tcp.seen[0] || f.tcp.seen[1] => {
            if f.tcp.is_closed() {
                t.tcp_closed
            } else if f.tcp.established {
                t.tcp_est
            } else {
                t.tcp_new
            }
        }
        None if f.app_proto != AppProto::Unknown || f.pkts[0] > 0 || f.pkts[1] > 0 => {
            // UDP and other protocols: established once both sides spoke.
            if f.pkts[0] > 0 && f.pkts[1] > 0 {
                t.udp_est.max(t.other)
            } else {
                t.udp_new.max(t.other)
            }
        }
        None => t.other,
    }
}

/// Decides who opened a flow from its first packet.
fn client_is_src(d: &Decoded<'_>, flags: u8, is_tcp: bool) -> bool {
    if is_tcp {
        let syn = flags & tcp_flags::SYN != 0;
        let ack = flags & tcp_flags::ACK != 0;
        if syn && !ack {
            return true;
        }
        if syn && ack {
            return false;
        }
    }
    let (sp, dp) = crate::flow::key::ports(&d.l4);
    if sp == 0 && dp == 0 {
        return true;
    }
    // DNS between two hosts on the same DNS port (53, mDNS 5353, LLMNR 5355): the client is
    // who sent the query, told by the QR bit of the header, not by the ports. A datagram to a
    // multicast group (an mDNS announcement) is sent by the flow's only speaker: its client.
    if let L4::Udp { payload, .. } = d.l4 {
        if sp == dp && matches!(sp, 53 | 5353 | 5355) && !d.dst.is_multicast() {
            if let Some(&b) = payload.get(2) {
                if payload.len() >= 12 {
                    return b & 0x80 == 0;
                }
            }
        }
    }
    // Without a handshake: the side on the well-known (lower, < 1024) port is the server.
    !(sp < 1024 && dp >= 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn tcp(src: u8, sp: u16, dst: u8, dp: u16, flags: u8) -> Decoded<'static> {
        Decoded {
            vlans: Vlans::default(),
            tunnel: Tunnel::default(),
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, src)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, dst)),
            proto: 6,
            ip_offset: 14,
            ip_len: 40,
            frag: None,
            l4: L4::Tcp {
                src_port: sp,
                dst_port: dp,
                seq: 0,
                ack: 0,
                flags,
                window: 0,
                payload: &[],
            },
            anomaly: None,
        }
    }

    fn udp(src: u8, sp: u16, dst: u8, dp: u16) -> Decoded<'static> {
        let mut d = tcp(src, sp, dst, dp, 0);
        d.proto = 17;
        d.l4 = L4::Udp {
            src_port: sp,
            dst_port: dp,
            payload: b"x",
        };
        d
    }

    type Ended = Vec<(FlowKey, Flow<()>, EndReason)>;

    fn table(max: usize) -> FlowTable<()> {
        FlowTable::new(&FlowSection::default(), max)
    }

    #[test]
    fn handshake_orients_and_counts_both_ways() {
        use tcp_flags::*;
        let mut t = table(10);
        let mut ended: Ended = vec![];
        let mut e = |k, f, r| ended.push((k, f, r));
        // First packet seen is the SYN-ACK: the client is its destination.
        let tr = t
            .track(&tcp(2, 80, 1, 5000, SYN | ACK), 1, 60, &mut e)
            .unwrap();
        assert_eq!(tr.dir, Direction::ToClient);
        assert!(tr.new);
        let tr = t.track(&tcp(1, 5000, 2, 80, ACK), 2, 60, &mut e).unwrap();
        assert_eq!(tr.dir, Direction::ToServer);
        assert!(!tr.new);
        assert_eq!(tr.flow.pkts, [1, 1]);
        assert_eq!(tr.flow.bytes, [60, 60]);
        assert_eq!(t.len(), 1);
        t.drain(&mut e);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].2, EndReason::Shutdown);
    }

    #[test]
    fn timeouts_by_state_and_reuse() {
        use tcp_flags::*;
        let mut t = table(10);
        let mut ended: Ended = vec![];
        let mut e = |k, f, r| ended.push((k, f, r));
        t.track(&udp(1, 5353, 2, 53), 0, 80, &mut e).unwrap();
        t.track(&tcp(1, 4000, 2, 80, SYN), 0, 60, &mut e).unwrap();
        t.expire(29 * NS, &mut e);
        assert_eq!(t.len(), 2);
        t.expire(31 * NS, &mut e);
        assert_eq!(t.len(), 0);
        // A SYN on a closed 5-tuple starts a new flow; the same SYN again is a retransmission.
        t.track(&tcp(1, 4001, 2, 80, SYN), 40 * NS, 60, &mut e)
            .unwrap();
        t.track(&tcp(2, 80, 1, 4001, RST | ACK), 40 * NS, 60, &mut e)
            .unwrap();
        let tr = t
            .track(&tcp(1, 4001, 2, 80, SYN), 40 * NS, 60, &mut e)
            .unwrap();
        assert!(!tr.new);
        let mut syn2 = tcp(1, 4001, 2, 80, SYN);
        if let L4::Tcp { seq, .. } = &mut syn2.l4 {
            *seq = 7777;
        }
        let tr = t.track(&syn2, 41 * NS, 60, &mut e).unwrap();
        assert!(tr.new);
        let _ = e;
        assert_eq!(ended.len(), 3);
        assert_eq!(ended[2].2, EndReason::Reuse);
        assert_eq!(t.stats().reused, 1);
    }

    #[test]
    fn cap_is_enforced_with_emergency_eviction() {
        let mut t = table(4);
        let mut n = 0;
        let mut e = |_, _, _| n += 1;
        // Four answered (two-sided) flows fill the table.
        for i in 0..4u16 {
            t.track(&udp(1, 1000 + i, 2, 53), 0, 80, &mut e).unwrap();
            t.track(&udp(2, 53, 1, 1000 + i), 0, 80, &mut e).unwrap();
        }
        // Full, nothing idle long enough and nothing one-sided: dropped and counted.
        assert!(t.track(&udp(1, 2000, 2, 53), NS, 80, &mut e).is_none());
        assert_eq!(t.stats().cap_drops, 1);
        // Past the emergency timeout of answered UDP flows (120 s / 10) the four are evicted.
        assert!(t.track(&udp(1, 2001, 2, 53), 13 * NS, 80, &mut e).is_some());
        assert_eq!(t.stats().emergency_evictions, 4);
        assert!(t.len() <= 4);
        let _ = e;
        assert_eq!(n, 4);
    }

    #[test]
    fn syn_flood_evicts_half_open_flows_and_keeps_established_ones() {
        use tcp_flags::*;
        let mut t = table(64);
        let mut e = |_, _, _| {};
        // One real connection.
        t.track(&tcp(1, 40000, 2, 80, SYN), 0, 60, &mut e).unwrap();
        t.track(&tcp(2, 80, 1, 40000, SYN | ACK), 0, 60, &mut e)
            .unwrap();
        t.track(&tcp(1, 40000, 2, 80, ACK), 0, 60, &mut e).unwrap();
        // A flood of SYNs from ever new ports within one millisecond.
        let mut tracked = 0;
        for i in 0..10_000u32 {
            let src = (i % 200) as u8 + 3;
            if t.track(
                &tcp(src, (i % 60000) as u16 + 1024, 2, 80, SYN),
                1000,
                60,
                &mut e,
            )
            .is_some()
            {
                tracked += 1;
            }
        }
        assert!(t.len() <= 64);
        // Every new flow is tracked (the oldest half-open one makes room), and the real one
        // survives.
        assert_eq!(tracked, 10_000);
        assert!(t.stats().emergency_evictions > 0);
        let tr = t
            .track(&tcp(1, 40000, 2, 80, ACK), 2000, 60, &mut e)
            .unwrap();
        assert!(!tr.new);
        assert!(tr.flow.tcp.established);
    }

    #[test]
    fn a_connection_opened_during_a_syn_flood_is_tracked_when_answered() {
        use tcp_flags::*;
        let mut t = table(32);
        let mut e = |_, _, _| {};
        let mut syn = |t: &mut FlowTable<()>, i: u32| {
            let src = (i % 200) as u8 + 3;
            t.track(
                &tcp(src, (i % 60000) as u16 + 1024, 2, 80, SYN),
                10,
                60,
                &mut e,
            )
            .is_some()
        };
        for i in 0..1000 {
            assert!(syn(&mut t, i));
        }
        let mut e2 = |_, _, _| {};
        assert!(t
            .track(&tcp(1, 40000, 2, 80, SYN), 10, 60, &mut e2)
            .is_some());
        for i in 1000..1010 {
            assert!(syn(&mut t, i));
        }
        assert!(t
            .track(&tcp(2, 80, 1, 40000, SYN | ACK), 10, 60, &mut e2)
            .is_some());
        // Now two-sided: the flood goes on around it and never evicts it.
        for i in 1010..5000 {
            assert!(syn(&mut t, i));
        }
        let tr = t
            .track(&tcp(1, 40000, 2, 80, ACK), 20, 60, &mut e2)
            .unwrap();
        assert!(!tr.new);
        assert!(tr.flow.tcp.established);
        assert!(t.len() <= 32);
        assert!(t.order.len() <= 32 + 16 + 1024);
    }

    #[test]
    fn spoofed_reply_flood_evicts_the_least_recent_flow_without_data() {
        use tcp_flags::*;
        let mut t = table(32);
        let mut e = |_, _, _| {};
        let data = |mut d: Decoded<'static>| {
            if let L4::Tcp { payload, .. } = &mut d.l4 {
                *payload = b"GET / HTTP/1.1\r\n\r\n";
            }
            d
        };
        // One connection with data, opened first: it is never evicted here.
        t.track(&tcp(1, 40000, 2, 80, SYN), 0, 60, &mut e).unwrap();
        t.track(&tcp(2, 80, 1, 40000, SYN | ACK), 0, 60, &mut e)
            .unwrap();
        t.track(&data(tcp(1, 40000, 2, 80, ACK | PSH)), 0, 60, &mut e)
            .unwrap();
        // SYNs (with payload: floods carry some) answered by spoofed SYN-ACKs.
        let mut pair = |t: &mut FlowTable<()>, i: u32, ts: u64| {
            let src = (i % 200) as u8 + 3;
            let sp = (i % 60000) as u16 + 1024;
            let a = t
                .track(&data(tcp(src, sp, 2, 80, SYN)), ts, 60, &mut e)
                .is_some();
            a && t
                .track(&tcp(2, 80, src, sp, SYN | ACK), ts, 60, &mut e)
                .is_some()
        };
        for i in 0..31 {
            assert!(pair(&mut t, i, 10));
        }
        assert_eq!(t.len(), 32);
        // A no-data flow active again later is not the least recent one: the next flow
        // evicts the second-oldest.
        let mut gone = Vec::new();
        let mut e2 = |k: FlowKey, _, _| gone.push(k);
        assert!(t
            .track(&tcp(2, 80, 3, 1024, SYN | ACK), 20, 60, &mut e2)
            .is_some());
        assert!(t
            .track(&data(tcp(250, 9999, 2, 80, SYN)), 30, 60, &mut e2)
            .is_some());
        let _ = e2;
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].lo_port.min(gone[0].hi_port), 80);
        assert_eq!(gone[0].lo_port.max(gone[0].hi_port), 1025);
        for i in 31..2000 {
            assert!(pair(&mut t, i, 30), "pair {i} refused");
        }
        assert!(t.len() <= 32);
        assert!(t.stats().evicted_idle_no_data >= 1969);
        assert_eq!(t.stats().cap_drops, 0);
        assert!(t.idle.len() <= 32 + 16 + 1024);
        // The one with data is still there.
        let tr = t.track(&tcp(1, 40000, 2, 80, ACK), 40, 60, &mut e).unwrap();
        assert!(!tr.new && tr.flow.app_data);
    }

    #[test]
    fn udp_response_first_is_oriented_by_port() {
        let mut t = table(4);
        let mut e = |_, _, _| {};
        let tr = t.track(&udp(2, 53, 1, 40000), 0, 80, &mut e).unwrap();
        assert_eq!(tr.dir, Direction::ToClient);
    }
}
