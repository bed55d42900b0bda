//! IPv4 / IPv6 fragment reassembly.
//!
//! Fragments are grouped by (source, destination, protocol (IPv4 only), identification, VLAN
//! ids). When the last missing byte of a datagram arrives, [`Defragmenter::push`] returns a
//! rebuilt packet that [`super::decode`] reads as the whole datagram: the link/VLAN/tunnel bytes
//! in front of the first fragment's IP header, that IP header with the fragment fields cleared
//! and lengths (and the IPv4 checksum) fixed, then the payload.
//!
//! **Overlap policy: first wins.** Bytes already received for a range of the datagram are kept;
//! later fragments only fill the gaps. Every fragment that overlaps earlier data counts in
//! [`DefragStats::overlaps`]; one whose overlapping bytes differ from the kept ones also counts in
//! [`DefragStats::conflicting_overlaps`] (a sign of evasion attempts).
//!
//! Memory is bounded: buffered bytes (plus a fixed per-tracker and per-fragment overhead) stay
//! under [`DefragConfig::memcap`], and at most [`DefragConfig::max_trackers`] datagrams are
//! tracked. When a new fragment would exceed either, the oldest datagrams are dropped (counted
//! in [`DefragStats::memcap_drops`]).

use std::collections::VecDeque;
use std::net::IpAddr;

use hashbrown::HashMap;

use super::layers::{be16, byte};
use super::{Decoded, Vlans};

/// Limits of the [`Defragmenter`].
#[derive(Clone, Copy, Debug)]
pub struct DefragConfig {
    /// Most bytes buffered over all datagrams (payload plus bookkeeping overhead).
    pub memcap: usize,
    /// A datagram not completed this long after its first fragment is dropped.
    pub timeout_ns: u64,
    /// Most fragments accepted for one datagram.
    pub max_fragments: usize,
    /// Most datagrams tracked at once.
    pub max_trackers: usize,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            memcap: 32 << 20,
            timeout_ns: 60_000_000_000,
            max_fragments: 256,
            max_trackers: 65536,
        }
    }
}

/// Counters of the [`Defragmenter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments pushed.
    pub fragments: u64,
    /// Datagrams rebuilt.
    pub reassembled: u64,
    /// Datagrams dropped incomplete by [`Defragmenter::expire`].
    pub timeouts: u64,
    /// Datagrams (or single fragments) dropped to stay under the memcap / tracker limit.
    pub memcap_drops: u64,
    /// Fragments that overlapped data already received (first wins).
    pub overlaps: u64,
    /// Overlapping fragments whose bytes differed from those kept.
    pub conflicting_overlaps: u64,
    /// Datagrams dropped for having more than `max_fragments` fragments.
    pub too_many_fragments: u64,
    /// Fragments rejected: truncated, zero-length, misaligned, too large, inconsistent end.
    pub invalid: u64,
}

impl DefragStats {
    /// Adds another defragmenter's counters (another worker's, or the replay dispatcher's).
    /// Every field is named (no `..`): a new counter that is not summed does not compile.
    pub fn add(&mut self, o: &DefragStats) {
        let DefragStats {
            fragments,
            reassembled,
            timeouts,
            memcap_drops,
            overlaps,
            conflicting_overlaps,
            too_many_fragments,
            invalid,
        } = o;
        self.fragments += fragments;
        self.reassembled += reassembled;
        self.timeouts += timeouts;
        self.memcap_drops += memcap_drops;
        self.overlaps += overlaps;
        self.conflicting_overlaps += conflicting_overlaps;
        self.too_many_fragments += too_many_fragments;
        self.invalid += invalid;
    }
}

/// Bookkeeping bytes counted per tracker and per buffered fragment.
const TRACKER_OVERHEAD: usize = 128;
const PIECE_OVERHEAD: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
    vlans: Vlans,
}

/// One datagram being put back together.
struct Tracker {
    seq: u64,
    first_ns: u64,
    /// The first fragment's bytes up to the fragmentable part: link prefix, IP header (IPv6:
    /// with the extension headers before the Fragment header). Empty until offset 0 arrives.
    head: Vec<u8>,
    ip_offset: usize,
    /// IPv6: position in `head` of the next-header byte that named the Fragment header.
    nh_pos: usize,
    /// IPv6: next header from the first fragment's Fragment header.
    frag_nh: u8,
    /// Payload length of the datagram, once the last fragment has been seen.
    end: Option<u32>,
    /// Received ranges: sorted by start, not overlapping.
    pieces: Vec<(u32, Vec<u8>)>,
    count: usize,
    mem: usize,
    v6: bool,
}

/// A fragment's parts, read from the captured packet.
struct FragView<'a> {
    /// Bytes in front of the fragmentable part (prefix + IP header (+ IPv6 unfragmentable ext)).
    head: &'a [u8],
    nh_pos: usize,
    frag_nh: u8,
    payload: &'a [u8],
    v6: bool,
}

/// Puts IP fragments back together; see the module documentation.
pub struct Defragmenter {
    cfg: DefragConfig,
    trackers: HashMap<Key, Tracker, foldhash::fast::RandomState>,
    /// Trackers in creation order (entries whose seq no longer matches are stale).
    order: VecDeque<(u64, Key)>,
    next_seq: u64,
    mem: usize,
    stats: DefragStats,
}

impl Defragmenter {
    /// A defragmenter with the given limits.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            trackers: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            order: VecDeque::new(),
            next_seq: 0,
            mem: 0,
            stats: DefragStats::default(),
        }
    }

    /// Adds one fragment. `data` is the whole captured packet that decode() saw with
    /// `d.frag == Some(..)`.
    ///
    /// Returns the rebuilt packet when this fragment completes its datagram: bytes that
    /// decode() with the same link type reads as the whole datagram — the first fragment's
    /// link/VLAN/tunnel prefix (`data[..ip_offset]`) followed by the IP header with fragment
    /// fields cleared, total/payload length and IPv4 header checksum fixed, the IPv6 Fragment
    /// extension header removed (next-header chain fixed), then the reassembled payload.
    pub fn push(&mut self, ts_ns: u64, data: &[u8], d: &Decoded<'_>) -> Option<Vec<u8>> {
        let frag = d.frag?;
        self.stats.fragments += 1;
        let Some(view) = frag_view(data, d.ip_offset) else {
            self.stats.invalid += 1;
            return None;
        };
        let len = view.payload.len() as u32;
        let fend = frag.offset + len;
        let max_end = if view.v6 {
            65535
        } else {
            65535 - (view.head.len() - d.ip_offset) as u32
        };
        if len == 0 || (frag.more && !len.is_multiple_of(8)) || fend > max_end {
            self.stats.invalid += 1;
            return None;
        }
        let key = Key {
            src: d.src,
            dst: d.dst,
            proto: if view.v6 { 0 } else { d.proto },
            id: frag.id,
            vlans: d.vlans,
        };

        // Make room before buffering.
        let need = view.payload.len()
            + PIECE_OVERHEAD
            + if frag.offset == 0 { view.head.len() } else { 0 };
        let is_new = !self.trackers.contains_key(&key);
        let need = need + if is_new { TRACKER_OVERHEAD } else { 0 };
        while self.mem + need > self.cfg.memcap
            || (is_new && self.trackers.len() >= self.cfg.max_trackers)
        {
            if !self.evict_oldest(&key) {
                self.stats.memcap_drops += 1;
                return None;
            }
        }

        if is_new {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.trackers.insert(
                key,
                Tracker {
                    seq,
                    first_ns: ts_ns,
                    head: Vec::new(),
                    ip_offset: d.ip_offset,
                    nh_pos: 0,
                    frag_nh: 0,
                    end: None,
                    pieces: Vec::new(),
                    count: 0,
                    mem: TRACKER_OVERHEAD,
                    v6: view.v6,
                },
            );
            self.mem += TRACKER_OVERHEAD;
            self.order.push_back((seq, key));
            self.compact_order();
        }
        let t = self.trackers.get_mut(&key)?;
        t.count += 1;
        if t.count > self.cfg.max_fragments {
            self.stats.too_many_fragments += 1;
            self.remove(&key);
            return None;
        }
        if t.v6 != view.v6 {
            self.stats.invalid += 1;
            return None;
        }
        // The end of the datagram must agree with every fragment.
        if !frag.more {
            match t.end {
                Some(e) if e != fend => {
                    self.stats.invalid += 1;
                    return None;
                }
                _ => {}
            }
            if t.pieces
                .last()
                .is_some_and(|(s, p)| s + p.len() as u32 > fend)
            {
                self.stats.invalid += 1;
                return None;
            }
            t.end = Some(fend);
        } else if t.end.is_some_and(|e| fend > e) {
            self.stats.invalid += 1;
            return None;
        }
        if frag.offset == 0 && t.head.is_empty() {
            t.head.extend_from_slice(view.head);
            t.ip_offset = d.ip_offset;
            t.nh_pos = view.nh_pos;
            t.frag_nh = view.frag_nh;
            t.mem += view.head.len();
            self.mem += view.head.len();
        }
        let (added, overlap, conflict) =
            insert_first_wins(&mut t.pieces, frag.offset, view.payload);
        t.mem += added;
        self.mem += added;
        if overlap {
            self.stats.overlaps += 1;
        }
        if conflict {
            self.stats.conflicting_overlaps += 1;
        }
        if !complete(t) {
            return None;
        }
        let out = rebuild(t);
        self.remove(&key);
        match out {
            Some(v) => {
                self.stats.reassembled += 1;
                Some(v)
            }
            None => {
                self.stats.invalid += 1;
                None
            }
        }
    }

    /// Drops datagrams whose first fragment is older than the timeout (counted in
    /// [`DefragStats::timeouts`]).
    pub fn expire(&mut self, now_ns: u64) {
        while let Some(&(seq, key)) = self.order.front() {
            match self.trackers.get(&key) {
                Some(t) if t.seq == seq => {
                    if t.first_ns.saturating_add(self.cfg.timeout_ns) > now_ns {
                        break;
                    }
                    self.remove(&key);
                    self.stats.timeouts += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Bytes buffered now (payload plus bookkeeping overhead), as checked against the memcap.
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// Number of datagrams being tracked.
    pub fn trackers(&self) -> usize {
        self.trackers.len()
    }

    fn remove(&mut self, key: &Key) {
        if let Some(t) = self.trackers.remove(key) {
            self.mem -= t.mem;
        }
    }

    /// Drops the oldest tracker other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: &Key) -> bool {
        let mut held = None;
        let mut evicted = false;
        while let Some((seq, key)) = self.order.pop_front() {
            let live = self.trackers.get(&key).is_some_and(|t| t.seq == seq);
            if !live {
                continue;
            }
            if key == *keep {
                held = Some((seq, key));
                continue;
            }
            self.remove(&key);
            self.stats.memcap_drops += 1;
            evicted = true;
            break;
        }
        if let Some(h) = held {
            self.order.push_front(h);
        }
        evicted
    }

    /// Keeps the order queue from growing with stale entries when expire() is rarely called.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.trackers.len() + 1024 {
            let trackers = &self.trackers;
            self.order
                .retain(|(seq, key)| trackers.get(key).is_some_and(|t| t.seq == *seq));
        }
    }
}

/// Reads the fragment's header parts and payload; None when truncated or unparseable.
fn frag_view(data: &[u8], ip_offset: usize) -> Option<FragView<'_>> {
    let v = byte(data, ip_offset)? >> 4;
    if v == 4 {
        let ihl = ((byte(data, ip_offset)? & 0x0f) as usize) * 4;
        let total = be16(data, ip_offset + 2)? as usize;
        if ihl < 20 || total < ihl || ip_offset + total > data.len() {
            return None;
        }
        Some(FragView {
            head: data.get(..ip_offset + ihl)?,
            nh_pos: 0,
            frag_nh: 0,
            payload: data.get(ip_offset + ihl..ip_offset + total)?,
            v6: false,
        })
    } else if v == 6 {
        let end = ip_offset + 40 + be16(data, ip_offset + 4)? as usize;
        if end > data.len() {
            return None;
        }
        let mut nh_pos = ip_offset + 6;
        let mut pos = ip_offset + 40;
        for _ in 0..16 {
            let nh = byte(data, nh_pos)?;
            let len = match nh {
                44 => {
                    if pos + 8 > end {
                        return None;
                    }
                    return Some(FragView {
                        head: data.get(..pos)?,
                        nh_pos,
                        frag_nh: byte(data, pos)?,
                        payload: data.get(pos + 8..end)?,
                        v6: true,
                    });
                }
                0 | 43 | 60 | 135 | 139 | 140 => (byte(data, pos + 1)? as usize + 1) * 8,
                51 => (byte(data, pos + 1)? as usize + 2) * 4,
                _ => return None,
            };
            nh_pos = pos;
            pos += len;
        }
        None
    } else {
        None
    }
}

/// Adds the parts of `[off, off + p.len())` not yet covered. Returns (bytes added incl.
/// overhead, overlapped, overlapped with different bytes).
fn insert_first_wins(pieces: &mut Vec<(u32, Vec<u8>)>, off: u32, p: &[u8]) -> (usize, bool, bool) {
    let end = off + p.len() as u32;
    let mut cursor = off;
    let mut overlap = false;
    let mut conflict = false;
    let mut gaps: [(u32, u32); 8] = [(0, 0); 8];
    let mut ngaps = 0usize;
    let mut spill: Vec<(u32, u32)> = Vec::new();
    let mut add_gap = |s: u32, e: u32| {
        if ngaps < gaps.len() {
            gaps[ngaps] = (s, e);
            ngaps += 1;
        } else {
            spill.push((s, e));
        }
    };
    for (ps, pb) in pieces.iter() {
        let pe = ps + pb.len() as u32;
        if pe <= cursor {
            continue;
        }
        if *ps >= end {
            break;
        }
        if *ps > cursor {
            add_gap(cursor, *ps);
        }
        let os = (*ps).max(cursor);
        let oe = pe.min(end);
        overlap = true;
        let kept = pb.get((os - ps) as usize..(oe - ps) as usize);
        let new = p.get((os - off) as usize..(oe - off) as usize);
        if kept != new {
            conflict = true;
        }
        cursor = oe;
    }
    if cursor < end {
        add_gap(cursor, end);
    }
    let mut added = 0;
    for &(s, e) in gaps[..ngaps].iter().chain(spill.iter()) {
        if let Some(bytes) = p.get((s - off) as usize..(e - off) as usize) {
            added += bytes.len() + PIECE_OVERHEAD;
            let at = pieces.partition_point(|(ps, _)| *ps < s);
            pieces.insert(at, (s, bytes.to_vec()));
        }
    }
    (added, overlap, conflict)
}

/// True when the head, the end and every byte in between are there.
fn complete(t: &Tracker) -> bool {
    let Some(end) = t.end else {
        return false;
    };
    if t.head.is_empty() {
        return false;
    }
    let mut cursor = 0u32;
    for (s, p) in &t.pieces {
        if *s > cursor {
            return false;
        }
        cursor = cursor.max(s + p.len() as u32);
    }
    cursor >= end
}

/// Builds the whole datagram; None when it would be too large.
fn rebuild(t: &Tracker) -> Option<Vec<u8>> {
    let end = t.end? as usize;
    let mut out = Vec::with_capacity(t.head.len() + end);
    out.extend_from_slice(&t.head);
    for (_, p) in &t.pieces {
        out.extend_from_slice(p);
    }
    let ip = t.ip_offset;
    if t.v6 {
        let plen = t.head.len() - ip - 40 + end;
        let plen = u16::try_from(plen).ok()?;
        *out.get_mut(t.nh_pos)? = t.frag_nh;
        out.get_mut(ip + 4..ip + 6)?
            .copy_from_slice(&plen.to_be_bytes());
    } else {
        let ihl = t.head.len() - ip;
        let total = u16::try_from(ihl + end).ok()?;
        let h = out.get_mut(ip..ip + ihl)?;
        h.get_mut(2..4)?.copy_from_slice(&total.to_be_bytes());
        // Keep DF, clear MF and the offset.
        *h.get_mut(6)? &= 0x40;
        *h.get_mut(7)? = 0;
        h.get_mut(10..12)?.copy_from_slice(&[0, 0]);
        let sum = checksum(h);
        h.get_mut(10..12)?.copy_from_slice(&sum.to_be_bytes());
    }
    Some(out)
}

/// Internet checksum of an IPv4 header.
fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in h.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
