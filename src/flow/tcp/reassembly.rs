//! TCP stream reassembly, sans-IO: one [`DirStream`] per direction of a connection turns the
//! segments seen on the wire into the ordered byte stream that application parsers consume, as a
//! sequence of [`StreamEvent`]s handed to a callback.
//!
//! No I/O, no clock, no locks: the caller (the flow layer) owns the streams, the per-worker
//! [`MemBudget`] and [`ReassemblyStats`], and passes them in.
//!
//! # Sequence space
//! The stream starts at ISN+1 when the SYN was seen. Without a SYN (capture started mid-stream)
//! it starts at the first segment that carries payload; anything that ends before that point is
//! a retransmission of data that was never seen and is dropped (counted in `retransmissions`).
//! Sequence numbers are 32-bit and wrap; every comparison is a serial-number comparison (RFC 1982
//! style: a sequence number is interpreted as the nearest offset, at most 2^31 before or after
//! the delivery point), and positions are kept as 64-bit stream offsets, so a stream may run
//! past 2^32 bytes.
//!
//! # Delivery and buffering
//! A segment that starts exactly at the delivery point is handed to the callback straight from
//! the packet (zero-copy). A segment ahead of it is copied into a per-direction sorted map (the
//! only copy) and delivered once the hole before it is filled. Every buffered byte, plus a fixed
//! per-segment overhead, is charged to the [`MemBudget`] and released when delivered or dropped.
//!
//! # Overlap policy: first wins
//! Bytes already delivered, or already buffered, are never replaced: only the part of a new
//! segment that covers bytes not seen before is used. Segments that overlap earlier data count in
//! `overlaps` (once per segment); when the overlapping bytes differ from buffered bytes,
//! `overlap_conflicts` counts it too (delivered bytes are not kept, so those are not compared).
//! A segment that lies entirely before the delivery point is a retransmission: dropped, counted.
//!
//! # Gaps
//! A hole is skipped with [`StreamEvent::Gap`] (then the data that follows is delivered, and the
//! parser resynchronises) when:
//! - buffering a segment would exceed [`ReassemblyConfig::max_buffered_per_dir`]
//!   (`buffer_cap_drops`) or the worker's [`MemBudget`] (`memcap_drops`): the first hole is skipped
//!   until the segment fits or can be delivered directly, so no data is lost to a cap, only holes
//!   are given up on early;
//! - the peer acknowledged data beyond the hole ([`DirStream::acked`]): the hole was sent but not
//!   captured and will never be filled;
//! - the flow ends ([`DirStream::close`]).
//!
//! # Depth, FIN, RST
//! After [`ReassemblyConfig::depth`] data bytes have been delivered (gaps do not count),
//! [`StreamEvent::DepthReached`] is emitted once, the buffer is released and further data is
//! dropped (`depth_dropped_bytes`); FIN and RST are still reported. `Fin` is emitted once all data
//! before the FIN's sequence number has been delivered (the FIN consumes one sequence number;
//! bytes after it are discarded). An RST puts the stream *on hold* (the flow layer has judged it
//! in the window; see `flow::tcp::state`): data after it is buffered (bounded as any other), not
//! delivered, until the flow layer says the RST was withdrawn ([`DirStream::rst_withdrawn`]: the
//! hosts went on, the held data is delivered) or the stream closes (`Rst` is emitted, what is
//! buffered is discarded). A hold that would exceed a buffer cap confirms the RST at once.
//! After `Fin`, `Rst` or [`DirStream::close`] the stream ignores further segments.
//!
//! # Several SYNs
//! A stream synchronised on a SYN that has delivered nothing yet follows the SYN that the peer
//! acknowledges ([`DirStream::resync`], from the SYN-ACK): decoy SYNs with other ISNs on the same
//! 5-tuple do not shift the stream.
//!
//! A `DirStream` does not release its memory when dropped (it does not own the budget): call
//! [`DirStream::close`] first.

use std::collections::BTreeMap;

use crate::decode::tcp_flags;

pub use super::budget::{MemBudget, ReassemblyConfig, ReassemblyStats};

/// Memory charged per buffered segment on top of its bytes (map node and vector header), so that
/// floods of tiny segments are bounded too.
const SEG_OVERHEAD: usize = 64;

/// What a [`DirStream`] tells its consumer, in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// This many bytes of the stream are missing (long holes come as several events).
    Gap(u32),
    /// The sender closed its direction; all data before it was delivered (or reported as gaps).
    Fin,
    /// The connection was reset.
    Rst,
    /// The depth was reached; no more data follows.
    DepthReached,
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct DirStream {
    /// Sequence number of stream offset 0; `None` until synchronised.
    base: Option<u32>,
    /// Stream offset of the next byte to deliver.
    next: u64,
    /// Data bytes delivered (for the depth).
    delivered: u64,
    /// Out-of-order segments by stream offset: non-overlapping, all starting after `next`.
    buf: BTreeMap<u64, Vec<u8>>,
    /// Payload bytes in `buf`.
    buffered: usize,
    /// Stream offset of the FIN, once seen.
    fin_off: Option<u64>,
    depth_done: bool,
    ended: bool,
    /// An RST is pending: nothing is delivered until it is withdrawn or the stream closes.
    held: bool,
    /// `base` came from a SYN.
    from_syn: bool,
}

impl DirStream {
    /// A stream that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Out-of-order payload bytes held now.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Feeds one segment: `seq` from the TCP header, the flag byte, the payload.
    ///
    /// Delivers in-order data to `out` without copying, buffers data that is ahead (bounded), and
    /// delivers buffered data once the hole before it is filled.
    // The state is split on purpose (stream, shared budget, per-worker counters, sink).
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        flags: u8,
        payload: &[u8],
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        stats.segments += 1;
        if self.ended {
            return;
        }
        if flags & tcp_flags::RST != 0 {
            self.held = true;
            return;
        }
        let syn = flags & tcp_flags::SYN != 0;
        let fin = flags & tcp_flags::FIN != 0;
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if self.base.is_none() {
            if syn || !payload.is_empty() {
                self.base = Some(data_seq);
                self.from_syn = syn;
            } else {
                // Nothing to synchronise on: a bare FIN still ends the direction.
                if fin {
                    out(StreamEvent::Fin);
                    self.ended = true;
                }
                return;
            }
        }
        let off = self.rel(data_seq);
        let end = off.saturating_add(payload.len() as i64);
        if fin && self.fin_off.is_none() {
            self.set_fin(end.max(self.next as i64) as u64, mem, stats);
        }
        if !payload.is_empty() {
            if self.depth_done {
                stats.depth_dropped_bytes += payload.len() as u64;
            } else {
                self.data(off, payload, cfg, mem, stats, out);
            }
        }
        self.check_fin(mem, stats, out);
    }

    /// The peer acknowledged `ack` (taken from the other direction's packets): every byte before it
    /// was sent. Holes that lie entirely below `ack` will never be filled (capture loss): they are
    /// skipped with a `Gap` and the buffered data after them is delivered; an acknowledged FIN is
    /// reported the same way. Holes not yet acknowledged are left alone.
    pub fn acked(
        &mut self,
        ack: u32,
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if self.ended || self.depth_done || self.held || self.base.is_none() {
            return;
        }
        let a = self.rel(ack);
        if a <= self.next as i64 {
            return;
        }
        let a = a as u64;
        while !self.ended && !self.depth_done {
            let target = match self.first_key() {
                Some(k) if k <= a => k,
                Some(_) => break,
                None => match self.fin_off {
                    // The FIN is acknowledged when `ack` is past it.
                    Some(f) if f < a => f,
                    _ => break,
                },
            };
            let before = (self.next, self.buffered);
            self.skip_to(target, stats, out);
            self.drain(cfg, mem, stats, out);
            self.check_fin(mem, stats, out);
            if (self.next, self.buffered) == before {
                break; // no progress (cannot happen while the invariants hold)
            }
        }
    }

    /// The peer acknowledged the SYN that ends at `ack` (its SYN-ACK): a stream synchronised on
    /// another SYN (several SYNs with other ISNs on the 5-tuple) that has delivered and buffered
    /// nothing yet starts at `ack` instead. True when it moved.
    pub fn resync(&mut self, ack: u32) -> bool {
        let idle = self.next == 0 && self.buf.is_empty() && self.fin_off.is_none();
        match self.base {
            Some(b) if self.from_syn && idle && !self.ended && b != ack => {
                self.base = Some(ack);
                true
            }
            _ => false,
        }
    }

    /// The flow layer withdrew the RST that put this stream on hold (the hosts went on): the
    /// held data is delivered.
    pub fn rst_withdrawn(
        &mut self,
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if !self.held || self.ended {
            return;
        }
        self.held = false;
        self.drain(cfg, mem, stats, out);
        self.check_fin(mem, stats, out);
    }

    /// The RST that put this stream on hold stands: `Rst`, and what is buffered is discarded.
    fn confirm_rst(
        &mut self,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        out(StreamEvent::Rst);
        stats.discarded_bytes += self.release_all(mem) as u64;
        self.held = false;
        self.ended = true;
    }

    /// Flow end or timeout: delivers everything buffered, reporting the holes as gaps (and a FIN
    /// seen ahead), releases the memory and ends the stream. A stream on hold for an RST
    /// ends with `Rst` instead, and what it held is discarded.
    pub fn close(
        &mut self,
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if self.held && !self.ended {
            self.confirm_rst(mem, stats, out);
            return;
        }
        if !self.ended && !self.depth_done && self.base.is_some() {
            while let Some(k) = self.first_key() {
                self.skip_to(k, stats, out);
                self.drain(cfg, mem, stats, out);
                if self.depth_done {
                    break;
                }
            }
            if let Some(f) = self.fin_off {
                if !self.depth_done {
                    self.skip_to(f, stats, out);
                }
            }
            self.check_fin(mem, stats, out);
        }
        stats.discarded_bytes += self.release_all(mem) as u64;
        self.ended = true;
    }

    /// The stream offset of `seq`: the nearest one to the delivery point (serial arithmetic).
    fn rel(&self, seq: u32) -> i64 {
        let base = self.base.unwrap_or(seq);
        let at_next = base.wrapping_add(self.next as u32);
        self.next as i64 + i64::from(seq.wrapping_sub(at_next) as i32)
    }

    fn first_key(&self) -> Option<u64> {
        self.buf.keys().next().copied()
    }

    /// Handles the payload of a segment at stream offset `off` (may be negative: before the start).
    fn data(
        &mut self,
        off: i64,
        payload: &[u8],
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        let next = self.next as i64;
        let mut payload = payload;
        let end = off.saturating_add(payload.len() as i64);
        if end <= next {
            stats.retransmissions += 1;
            return;
        }
        if let Some(f) = self.fin_off {
            let f = f as i64;
            if off >= f {
                stats.discarded_bytes += payload.len() as u64;
                return;
            }
            if end > f {
                let keep = (f - off) as usize;
                stats.discarded_bytes += (payload.len() - keep) as u64;
                payload = &payload[..keep];
            }
        }
        let mut overlapped = false;
        let (mut off, mut data) = if off < next {
            overlapped = true;
            (self.next, &payload[(next - off) as usize..])
        } else {
            (off as u64, payload)
        };
        let (o, conflict) = self.compare_buffered(off, data);
        if o || overlapped {
            stats.overlaps += 1;
        }
        if conflict {
            stats.overlap_conflicts += 1;
        }
        if off == self.next {
            stats.in_order += 1;
        } else {
            stats.out_of_order += 1;
        }
        loop {
            if self.depth_done || self.ended {
                return;
            }
            let end = off + data.len() as u64;
            if end <= self.next {
                return;
            }
            if off < self.next {
                data = &data[(self.next - off) as usize..];
                off = self.next;
            }
            if off == self.next && !self.held {
                // In order: hand over the part before the first buffered segment straight from
                // the packet; buffered bytes win over the rest (first wins).
                let lim = match self.first_key() {
                    Some(k) => (k - off).min(data.len() as u64) as usize,
                    None => data.len(),
                };
                let (now, rest) = data.split_at(lim);
                self.deliver(now, cfg, mem, stats, out);
                off += lim as u64;
                data = rest;
                self.drain(cfg, mem, stats, out);
                continue;
            }
            let (need, pieces) = self.uncovered(off, end);
            if need == 0 {
                return;
            }
            let dir_ok = self
                .buffered
                .checked_add(need)
                .is_some_and(|b| b <= cfg.max_buffered_per_dir);
            if dir_ok && mem.try_reserve(need.saturating_add(pieces.saturating_mul(SEG_OVERHEAD))) {
                self.insert_uncovered(off, data);
                return;
            }
            if dir_ok {
                stats.memcap_drops += 1;
            } else {
                stats.buffer_cap_drops += 1;
            }
            if self.held {
                // No room to hold more behind an RST: it stands.
                self.confirm_rst(mem, stats, out);
                return;
            }
            // No room: give up on the first hole, then retry.
            let hole_end = self.first_key().map_or(off, |k| k.min(off));
            self.skip_to(hole_end, stats, out);
            self.drain(cfg, mem, stats, out);
        }
    }

    /// Whether `data` at `off` overlaps buffered bytes, and whether any of those differ.
    fn compare_buffered(&self, off: u64, data: &[u8]) -> (bool, bool) {
        if data.is_empty() {
            return (false, false);
        }
        let end = off + data.len() as u64;
        let start = self.buf.range(..=off).next_back().map_or(off, |(&k, _)| k);
        let (mut overlap, mut conflict) = (false, false);
        for (&k, v) in self.buf.range(start..end) {
            let lo = k.max(off);
            let hi = (k + v.len() as u64).min(end);
            if lo >= hi {
                continue;
            }
            overlap = true;
            let old = &v[(lo - k) as usize..(hi - k) as usize];
            let new = &data[(lo - off) as usize..(hi - off) as usize];
            if old != new {
                conflict = true;
            }
        }
        (overlap, conflict)
    }

    /// The end of the buffered segment that covers `pos`, if one does.
    fn covering_end(&self, pos: u64) -> Option<u64> {
        self.buf
            .range(..=pos)
            .next_back()
            .map(|(&k, v)| k + v.len() as u64)
            .filter(|&e| e > pos)
    }

    /// Calls `f(start, end)` for each range of `[off, end)` that no buffered segment covers.
    fn for_each_uncovered(&self, off: u64, end: u64, mut f: impl FnMut(u64, u64)) {
        let mut pos = off;
        while pos < end {
            if let Some(e) = self.covering_end(pos) {
                pos = e;
                continue;
            }
            let piece_end = self
                .buf
                .range(pos..)
                .next()
                .map_or(end, |(&k, _)| k)
                .min(end);
            f(pos, piece_end);
            pos = piece_end;
        }
    }

    /// Bytes and pieces of `[off, end)` not covered by buffered segments.
    fn uncovered(&self, off: u64, end: u64) -> (usize, usize) {
        let (mut bytes, mut pieces) = (0usize, 0usize);
        self.for_each_uncovered(off, end, |s, e| {
            bytes += (e - s) as usize;
            pieces += 1;
        });
        (bytes, pieces)
    }

    /// Copies the parts of `data` (at `off`) that are not buffered yet into the buffer; the memory
    /// was reserved by the caller.
    fn insert_uncovered(&mut self, off: u64, data: &[u8]) {
        let end = off + data.len() as u64;
        let mut ranges = Vec::new();
        self.for_each_uncovered(off, end, |s, e| ranges.push((s, e)));
        for (s, e) in ranges {
            let piece = data[(s - off) as usize..(e - off) as usize].to_vec();
            self.buffered += piece.len();
            self.buf.insert(s, piece);
        }
    }

    /// Hands `data` (at the delivery point) to the consumer, up to the depth.
    fn deliver(
        &mut self,
        data: &[u8],
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if data.is_empty() || self.depth_done {
            return;
        }
        let len = data.len() as u64;
        self.next += len;
        if cfg.depth > 0 {
            let room = cfg.depth.saturating_sub(self.delivered);
            if len >= room {
                let (now, over) = data.split_at(room as usize);
                if !now.is_empty() {
                    out(StreamEvent::Data(now));
                }
                self.delivered += room;
                stats.delivered_bytes += room;
                stats.depth_dropped_bytes += over.len() as u64;
                self.depth_done = true;
                stats.depth_reached += 1;
                out(StreamEvent::DepthReached);
                stats.depth_dropped_bytes += self.release_all(mem) as u64;
                return;
            }
        }
        out(StreamEvent::Data(data));
        self.delivered += len;
        stats.delivered_bytes += len;
    }

    /// Delivers the buffered segments that start at the delivery point.
    fn drain(
        &mut self,
        cfg: &ReassemblyConfig,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        while !self.depth_done && !self.held {
            let Some(entry) = self.buf.first_entry() else {
                break;
            };
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let v = entry.remove();
            self.buffered -= v.len();
            mem.release(v.len() + SEG_OVERHEAD);
            // Defensive: the map only holds segments after `next`.
            let skip = ((self.next - k) as usize).min(v.len());
            self.deliver(&v[skip..], cfg, mem, stats, out);
        }
    }

    /// Skips the hole up to stream offset `target` with gap events.
    fn skip_to(
        &mut self,
        target: u64,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if target <= self.next {
            return;
        }
        let mut left = target - self.next;
        stats.gaps += 1;
        stats.gap_bytes += left;
        while left > 0 {
            let n = left.min(u64::from(u32::MAX));
            out(StreamEvent::Gap(n as u32));
            left -= n;
        }
        self.next = target;
    }

    /// Records the FIN at stream offset `f` and discards buffered bytes after it.
    fn set_fin(&mut self, f: u64, mem: &mut MemBudget, stats: &mut ReassemblyStats) {
        self.fin_off = Some(f);
        let after = self.buf.split_off(&f);
        for v in after.values() {
            self.buffered -= v.len();
            mem.release(v.len() + SEG_OVERHEAD);
            stats.discarded_bytes += v.len() as u64;
        }
        if let Some(mut last) = self.buf.last_entry() {
            let k = *last.key();
            let v = last.get_mut();
            let end = k + v.len() as u64;
            if end > f {
                let cut = (end - f) as usize;
                v.truncate(v.len() - cut);
                v.shrink_to_fit();
                self.buffered -= cut;
                mem.release(cut);
                stats.discarded_bytes += cut as u64;
            }
        }
    }

    /// Emits `Fin` once everything before the FIN is delivered (at once past the depth).
    fn check_fin(
        &mut self,
        mem: &mut MemBudget,
        stats: &mut ReassemblyStats,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if self.ended || self.held {
            return;
        }
        if let Some(f) = self.fin_off {
            if self.depth_done || self.next >= f {
                out(StreamEvent::Fin);
                stats.discarded_bytes += self.release_all(mem) as u64;
                self.ended = true;
            }
        }
    }

    /// Drops everything buffered and releases its memory; returns the payload bytes dropped.
    fn release_all(&mut self, mem: &mut MemBudget) -> usize {
        let bytes = self.buffered;
        mem.release(bytes + self.buf.len() * SEG_OVERHEAD);
        self.buf.clear();
        self.buffered = 0;
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Ev {
        Data(Vec<u8>),
        Gap(u32),
        Fin,
        Rst,
        Depth,
    }

    struct H {
        s: DirStream,
        cfg: ReassemblyConfig,
        mem: MemBudget,
        stats: ReassemblyStats,
        ev: Vec<Ev>,
    }

    fn push(ev: &mut Vec<Ev>, e: StreamEvent<'_>) {
        match e {
            StreamEvent::Data(d) => {
                assert!(!d.is_empty(), "empty Data event");
                if let Some(Ev::Data(last)) = ev.last_mut() {
                    last.extend_from_slice(d);
                } else {
                    ev.push(Ev::Data(d.to_vec()));
                }
            }
            StreamEvent::Gap(n) => ev.push(Ev::Gap(n)),
            StreamEvent::Fin => ev.push(Ev::Fin),
            StreamEvent::Rst => ev.push(Ev::Rst),
            StreamEvent::DepthReached => ev.push(Ev::Depth),
        }
    }

    impl H {
        fn new() -> Self {
            Self::with(
                ReassemblyConfig {
                    depth: 0,
                    max_buffered_per_dir: 1 << 20,
                },
                1 << 24,
            )
        }
        fn with(cfg: ReassemblyConfig, memcap: usize) -> Self {
            H {
                s: DirStream::new(),
                cfg,
                mem: MemBudget::new(memcap),
                stats: ReassemblyStats::default(),
                ev: Vec::new(),
            }
        }
        fn seg(&mut self, seq: u32, flags: u8, payload: &[u8]) {
            let ev = &mut self.ev;
            self.s.segment(
                seq,
                flags,
                payload,
                &self.cfg,
                &mut self.mem,
                &mut self.stats,
                &mut |e| push(ev, e),
            );
            assert!(self.mem.used() <= self.mem.cap());
        }
        fn ack(&mut self, ack: u32) {
            let ev = &mut self.ev;
            self.s
                .acked(ack, &self.cfg, &mut self.mem, &mut self.stats, &mut |e| {
                    push(ev, e)
                });
        }
        fn close(&mut self) {
            let ev = &mut self.ev;
            self.s
                .close(&self.cfg, &mut self.mem, &mut self.stats, &mut |e| {
                    push(ev, e)
                });
            assert_eq!(self.s.buffered(), 0);
            assert_eq!(self.mem.used(), 0);
        }
        fn data(&self) -> Vec<u8> {
            let mut v = Vec::new();
            for e in &self.ev {
                if let Ev::Data(d) = e {
                    v.extend_from_slice(d);
                }
            }
            v
        }
    }

    fn d(s: &str) -> Ev {
        Ev::Data(s.as_bytes().to_vec())
    }

    #[test]
    fn in_order() {
        let mut h = H::new();
        h.seg(1000, SYN, b"");
        h.seg(1001, ACK | PSH, b"hello ");
        assert_eq!(h.ev, vec![d("hello ")]);
        h.seg(1007, ACK, b"world");
        h.seg(1012, ACK | FIN, b"");
        assert_eq!(h.ev, vec![d("hello world"), Ev::Fin]);
        assert_eq!(h.stats.in_order, 2);
        assert_eq!(h.stats.out_of_order, 0);
        assert_eq!(h.stats.segments, 4);
        assert_eq!(h.mem.peak(), 0, "in-order data must not be buffered");
        h.seg(1007, ACK, b"world");
        assert_eq!(h.ev.len(), 2, "ignored after FIN");
        h.close();
    }

    #[test]
    fn reverse_order_of_ten() {
        let msg: Vec<u8> = (0..100u8).collect();
        let mut h = H::new();
        h.seg(5000, SYN, b"");
        for i in (0..10u32).rev() {
            let s = (i * 10) as usize;
            h.seg(5001 + i * 10, ACK, &msg[s..s + 10]);
            if i > 0 {
                assert!(h.ev.is_empty());
                assert_eq!(h.s.buffered(), (10 - i as usize) * 10);
            }
        }
        assert_eq!(h.ev, vec![Ev::Data(msg.clone())]);
        assert_eq!(h.stats.out_of_order, 9);
        assert_eq!(h.stats.in_order, 1);
        assert_eq!(h.s.buffered(), 0);
        assert_eq!(h.mem.used(), 0);
        assert!(h.mem.peak() >= 90);
        h.close();
    }

    #[test]
    fn retransmission_dropped() {
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"abc");
        h.seg(1, ACK, b"abc");
        h.seg(2, ACK, b"b");
        assert_eq!(h.ev, vec![d("abc")]);
        assert_eq!(h.stats.retransmissions, 2);
        // Partly new: only the new tail is used.
        h.seg(2, ACK, b"XYde");
        assert_eq!(h.data(), b"abcde");
        assert_eq!(h.stats.overlaps, 1);
        h.close();
    }

    #[test]
    fn overlap_first_wins() {
        let mut h = H::new();
        h.seg(100, SYN, b"");
        h.seg(111, ACK, b"BBBBB"); // offset 10..15, buffered
        h.seg(106, ACK, b"bbbbb"); // offset 5..10, buffered
        h.seg(108, ACK, b"bbb"); // same bytes as buffered: overlap, no conflict
        assert_eq!(h.stats.overlaps, 1);
        assert_eq!(h.stats.overlap_conflicts, 0);
        // Fills the hole and rewrites 10..15 and adds 15..18: buffered bytes win.
        h.seg(101, ACK, b"aaaaaXXXXXCCCCCddd");
        assert_eq!(h.data(), b"aaaaabbbbbBBBBBddd");
        assert_eq!(h.stats.overlaps, 2);
        assert_eq!(h.stats.overlap_conflicts, 1);
        // A segment bridging a buffered segment: only the uncovered parts are copied.
        h.seg(131, ACK, b"zz"); // offset 30..32
        h.seg(126, ACK, b"1234567890"); // offset 25..35
        h.seg(119, ACK, b"0123456"); // offset 18..25
        assert_eq!(h.data(), b"aaaaabbbbbBBBBBddd012345612345zz890");
        assert_eq!(h.stats.overlap_conflicts, 2);
        assert_eq!(h.mem.used(), 0);
        h.close();
    }

    #[test]
    fn wrap_around() {
        let isn = u32::MAX - 5;
        let mut h = H::new();
        h.seg(isn, SYN, b"");
        // Data starts at u32::MAX - 4; the second segment starts at seq 0 (after the wrap).
        h.seg(0, ACK, b"fghij");
        h.seg(isn.wrapping_add(1), ACK, b"abcd");
        assert_eq!(h.data(), b"abcd");
        h.seg(u32::MAX, ACK, b"e");
        h.seg(5, ACK | FIN, b"k");
        h.seg(u32::MAX - 10, ACK, b"old"); // before the start: retransmission of nothing
        assert_eq!(h.ev, vec![d("abcdefghijk"), Ev::Fin]);
        assert_eq!(h.stats.retransmissions, 0, "ignored after the FIN");
        h.close();

        // A stream longer than 2^32 keeps its offsets right (offsets are 64-bit).
        let mut h = H::with(
            ReassemblyConfig {
                depth: 0,
                max_buffered_per_dir: 1 << 20,
            },
            1 << 24,
        );
        h.seg(7, SYN, b"");
        let chunk = vec![0u8; 1 << 16];
        let mut seq = 8u32;
        for _ in 0..(1u32 << 16) + 2 {
            h.s.segment(
                seq,
                ACK,
                &chunk,
                &h.cfg,
                &mut h.mem,
                &mut h.stats,
                &mut |_| {},
            );
            seq = seq.wrapping_add(chunk.len() as u32);
        }
        h.seg(seq.wrapping_add(1), ACK, b"y");
        h.seg(seq, ACK, b"x");
        assert_eq!(h.ev, vec![d("xy")]);
        assert_eq!(h.stats.delivered_bytes, (1u64 << 32) + 2 * (1 << 16) + 2);
        h.close();
    }

    #[test]
    fn gap_skipped_on_close() {
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"aa");
        h.seg(6, ACK, b"bb"); // hole 2..5
        h.seg(10, ACK, b"cc"); // hole 7..9
        assert_eq!(h.s.buffered(), 4);
        h.close();
        assert_eq!(
            h.ev,
            vec![d("aa"), Ev::Gap(3), d("bb"), Ev::Gap(2), d("cc")]
        );
        assert_eq!(h.stats.gaps, 2);
        assert_eq!(h.stats.gap_bytes, 5);
    }

    #[test]
    fn gap_skipped_on_ack() {
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"aa"); // 0..2
        h.seg(6, ACK, b"bb"); // 5..7
        h.seg(11, ACK, b"cc"); // 10..12
        h.ack(3); // covers part of the hole only
        h.ack(5);
        assert_eq!(h.ev, vec![d("aa")]);
        h.ack(6); // hole 2..5 entirely acknowledged
        assert_eq!(h.ev, vec![d("aa"), Ev::Gap(3), d("bb")]);
        assert_eq!(h.s.buffered(), 2);
        h.ack(20);
        assert_eq!(
            h.ev,
            vec![d("aa"), Ev::Gap(3), d("bb"), Ev::Gap(3), d("cc")]
        );
        // A trailing hole with nothing after it is left alone (data may still come) ...
        h.ack(30);
        assert_eq!(h.ev.len(), 5);
        // ... but an acknowledged FIN closes it.
        h.seg(25, ACK | FIN, b"");
        h.ack(25);
        assert_eq!(h.ev.len(), 5);
        h.ack(26);
        assert_eq!(h.ev[5..], [Ev::Gap(12), Ev::Fin]);
        assert_eq!(h.mem.used(), 0);
        h.close();
    }

    #[test]
    fn per_direction_buffer_cap() {
        let cfg = ReassemblyConfig {
            depth: 0,
            max_buffered_per_dir: 10,
        };
        let mut h = H::with(cfg, 1 << 20);
        h.seg(0, SYN, b"");
        h.seg(11, ACK, b"12345678"); // 10..18 buffered
        h.seg(31, ACK, b"abcde"); // would make 13 bytes: skip hole 0..10
        assert_eq!(h.ev, vec![Ev::Gap(10), d("12345678")]);
        assert_eq!(h.s.buffered(), 5);
        assert_eq!(h.stats.buffer_cap_drops, 1);
        // Bigger than the cap on its own: delivered directly after a gap.
        h.seg(61, ACK, b"0123456789ABCDEF");
        assert_eq!(
            h.ev[2..],
            [Ev::Gap(12), d("abcde"), Ev::Gap(25), d("0123456789ABCDEF")]
        );
        assert_eq!(h.s.buffered(), 0);
        assert_eq!(h.mem.used(), 0);
        h.close();
    }

    #[test]
    fn global_memcap() {
        let cfg = ReassemblyConfig {
            depth: 0,
            max_buffered_per_dir: 1 << 20,
        };
        let cap = 2 * (100 + SEG_OVERHEAD);
        let mut mem = MemBudget::new(cap);
        let mut stats = ReassemblyStats::default();
        let (mut a, mut b) = (DirStream::new(), DirStream::new());
        let mut ev_a = Vec::new();
        let mut ev_b = Vec::new();
        let big = [7u8; 100];
        a.segment(0, SYN, b"", &cfg, &mut mem, &mut stats, &mut |e| {
            push(&mut ev_a, e)
        });
        b.segment(0, SYN, b"", &cfg, &mut mem, &mut stats, &mut |e| {
            push(&mut ev_b, e)
        });
        a.segment(201, ACK, &big, &cfg, &mut mem, &mut stats, &mut |e| {
            push(&mut ev_a, e)
        });
        a.segment(401, ACK, &big, &cfg, &mut mem, &mut stats, &mut |e| {
            push(&mut ev_a, e)
        });
        assert_eq!(mem.used(), cap);
        assert_eq!(a.buffered(), 200);
        // The budget is spent: b gives up on its hole at once instead of buffering.
        b.segment(11, ACK, b"xyz", &cfg, &mut mem, &mut stats, &mut |e| {
            push(&mut ev_b, e)
        });
        assert_eq!(ev_b, vec![Ev::Gap(10), d("xyz")]);
        assert_eq!(stats.memcap_drops, 1);
        assert_eq!(mem.cap_hits(), 1);
        assert!(mem.used() <= mem.cap());
        // Another segment for a: skips a's own first hole to make room.
        a.segment(601, ACK, &big, &cfg, &mut mem, &mut stats, &mut |e| {
            push(&mut ev_a, e)
        });
        assert_eq!(ev_a, vec![Ev::Gap(200), Ev::Data(big.to_vec())]);
        assert_eq!(a.buffered(), 200);
        assert_eq!(stats.memcap_drops, 2);
        assert!(mem.used() <= mem.cap());
        a.close(&cfg, &mut mem, &mut stats, &mut |e| push(&mut ev_a, e));
        b.close(&cfg, &mut mem, &mut stats, &mut |e| push(&mut ev_b, e));
        assert_eq!(mem.used(), 0);
    }

    #[test]
    fn depth() {
        let cfg = ReassemblyConfig {
            depth: 10,
            max_buffered_per_dir: 1 << 20,
        };
        let mut h = H::with(cfg, 1 << 20);
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"012345");
        h.seg(13, ACK, b"cdef"); // buffered, later dropped by the depth
        h.seg(7, ACK, b"6789ab");
        assert_eq!(h.ev, vec![d("0123456789"), Ev::Depth]);
        assert_eq!(h.stats.depth_reached, 1);
        assert_eq!(h.mem.used(), 0);
        h.seg(17, ACK, b"more");
        assert_eq!(h.stats.depth_dropped_bytes, 2 + 4 + 4);
        h.seg(21, ACK | FIN, b"");
        assert_eq!(h.ev, vec![d("0123456789"), Ev::Depth, Ev::Fin]);
        h.close();

        // Exactly at the depth.
        let mut h = H::with(cfg, 1 << 20);
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"0123456789");
        assert_eq!(h.ev, vec![d("0123456789"), Ev::Depth]);
        h.close();
    }

    #[test]
    fn fin_after_out_of_order_data() {
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(6, ACK | FIN, b"world");
        h.seg(11, ACK | FIN, b""); // retransmitted FIN
        assert!(h.ev.is_empty());
        h.seg(1, ACK, b"hello");
        assert_eq!(h.ev, vec![d("helloworld"), Ev::Fin]);
        h.close();

        // Data past the FIN is discarded.
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(8, ACK, b"xyz"); // 7..10
        h.seg(4, ACK | FIN, b"de"); // FIN at 5: "xyz" is dropped
        assert_eq!(h.s.buffered(), 2);
        h.seg(1, ACK, b"abcxyz");
        assert_eq!(h.ev, vec![d("abcde"), Ev::Fin]);
        assert!(h.stats.discarded_bytes >= 3);
        h.close();
    }

    #[test]
    fn zero_length_segments() {
        let mut h = H::new();
        h.seg(500, ACK, b""); // does not synchronise
        h.seg(1000, ACK, b"abc"); // mid-stream pickup
        h.seg(2000, ACK, b""); // far away, no payload: no hole
        h.seg(1003, ACK, b"");
        h.seg(1003, ACK, b"def");
        assert_eq!(h.ev, vec![d("abcdef")]);
        assert_eq!(h.stats.segments, 5);
        assert_eq!(h.stats.in_order, 2);
        assert_eq!(h.stats.gaps, 0);
        h.close();
        assert_eq!(h.ev, vec![d("abcdef")]);
    }

    #[test]
    fn syn_with_data() {
        let mut h = H::new();
        h.seg(100, SYN, b"abc");
        h.seg(100, SYN, b"abc"); // retransmitted SYN
        h.seg(104, ACK, b"def");
        assert_eq!(h.ev, vec![d("abcdef")]);
        assert_eq!(h.stats.retransmissions, 1);
        h.close();
    }

    #[test]
    fn midstream_pickup_drops_earlier_data() {
        let mut h = H::new();
        h.seg(5000, ACK, b"xyz");
        h.seg(4990, ACK, b"0123456789"); // entirely before the pickup point
        h.seg(4998, ACK, b"__xyzAB"); // overlaps the start, new tail
        assert_eq!(h.ev, vec![d("xyzAB")]);
        assert_eq!(h.stats.retransmissions, 1);
        h.close();
    }

    #[test]
    fn rst_holds_then_discards_at_close() {
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"ab");
        h.seg(10, ACK, b"later");
        h.seg(3, RST, b"");
        // On hold: data after the RST is kept back, acknowledgements deliver nothing.
        h.seg(3, ACK, b"cd");
        h.ack(100);
        assert_eq!(h.ev, vec![d("ab")]);
        h.close();
        assert_eq!(h.ev, vec![d("ab"), Ev::Rst]);
        assert_eq!(h.stats.discarded_bytes, 7);
    }

    #[test]
    fn withdrawn_rst_delivers_what_was_held() {
        let mut h = H::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"ab");
        h.seg(3, RST, b"");
        h.seg(3, ACK, b"cd");
        h.seg(5, ACK | FIN, b"ef");
        assert_eq!(h.ev, vec![d("ab")]);
        let ev = &mut h.ev;
        h.s.rst_withdrawn(&h.cfg, &mut h.mem, &mut h.stats, &mut |e| push(ev, e));
        assert_eq!(h.ev, vec![d("abcdef"), Ev::Fin]);
        h.close();
    }

    #[test]
    fn a_hold_past_the_buffer_cap_confirms_the_rst() {
        let mut h = H::with(
            ReassemblyConfig {
                depth: 0,
                max_buffered_per_dir: 4,
            },
            1 << 20,
        );
        h.seg(0, SYN, b"");
        h.seg(1, RST, b"");
        h.seg(1, ACK, b"abcdefgh");
        assert_eq!(h.ev, vec![Ev::Rst]);
        h.seg(9, ACK, b"more");
        h.close();
        assert_eq!(h.ev, vec![Ev::Rst]);
    }

    #[test]
    fn the_acknowledged_syn_wins() {
        let mut h = H::new();
        h.seg(1000, SYN, b"");
        h.seg(5000, SYN, b"");
        h.seg(9000, SYN, b"");
        // The peer's SYN-ACK acknowledges the second one.
        assert!(h.s.resync(5001));
        h.seg(5001, ACK, b"hello");
        assert_eq!(h.ev, vec![d("hello")]);
        // Once data flowed, a SYN-ACK no longer moves the stream.
        assert!(!h.s.resync(9001));
        h.close();
    }

    #[test]
    fn bare_fin_without_sync() {
        let mut h = H::new();
        h.seg(77, FIN | ACK, b"");
        assert_eq!(h.ev, vec![Ev::Fin]);
        h.close();
    }

    /// xorshift64*: a tiny deterministic generator for the property tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// Random segments of `orig` (ISN `isn`): a cover of it, duplicates, random overlapping
    /// slices, shuffled; the last one carries the FIN.
    fn random_segments(rng: &mut Rng, orig: &[u8], isn: u32) -> Vec<(u32, u8, Vec<u8>)> {
        let mut segs = Vec::new();
        let mut pos = 0usize;
        while pos < orig.len() {
            let len = (1 + rng.below(120) as usize).min(orig.len() - pos);
            let fin = if pos + len == orig.len() { FIN } else { 0 };
            segs.push((pos, len, fin));
            pos += len;
        }
        let n = segs.len();
        for _ in 0..rng.below(n as u64 + 1) {
            let i = rng.below(n as u64) as usize;
            segs.push(segs[i]);
        }
        for _ in 0..rng.below(8) {
            if orig.is_empty() {
                break;
            }
            let s = rng.below(orig.len() as u64) as usize;
            let len = 1 + rng.below((orig.len() - s) as u64) as usize;
            segs.push((s, len, 0));
        }
        for i in (1..segs.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            segs.swap(i, j);
        }
        segs.into_iter()
            .map(|(s, len, fin)| {
                let seq = isn.wrapping_add(1).wrapping_add(s as u32);
                (seq, ACK | fin, orig[s..s + len].to_vec())
            })
            .collect()
    }

    #[test]
    fn property_random_segmentation_reassembles() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let len = rng.below(3000) as usize;
            let orig: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let isn = if round % 3 == 0 {
                u32::MAX - rng.below(len as u64 + 2) as u32
            } else {
                rng.next() as u32
            };
            let segs = random_segments(&mut rng, &orig, isn);
            let mut h = H::new();
            h.seg(isn, SYN, b"");
            for (seq, flags, p) in &segs {
                h.seg(*seq, *flags, p);
                if round % 2 == 0 {
                    // Acks never go past what the stream has seen contiguously here, so no gap.
                    h.ack(isn.wrapping_add(1));
                }
            }
            if len == 0 {
                h.seg(isn.wrapping_add(1), ACK | FIN, b"");
            }
            assert_eq!(h.data(), orig, "round {round}");
            assert_eq!(h.ev.last(), Some(&Ev::Fin), "round {round}");
            assert_eq!(h.stats.gaps, 0);
            assert_eq!(h.mem.used(), 0);
            h.close();
        }
    }

    #[test]
    fn property_small_caps_stay_consistent() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..300 {
            let len = 1 + rng.below(2000) as usize;
            let orig: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let isn = rng.next() as u32;
            let cfg = ReassemblyConfig {
                depth: if round % 4 == 0 { rng.below(3000) } else { 0 },
                max_buffered_per_dir: rng.below(600) as usize,
            };
            let mut h = H::with(cfg, rng.below(2000) as usize);
            h.seg(isn, SYN, b"");
            let segs = random_segments(&mut rng, &orig, isn);
            let mut fed = 0usize;
            for (seq, flags, p) in &segs {
                fed += p.len();
                h.seg(*seq, *flags, p);
                if rng.below(4) == 0 {
                    h.ack(isn.wrapping_add(1 + rng.below(len as u64 + 1) as u32));
                }
            }
            h.close();
            // Every delivered byte is the original byte at its offset.
            let mut pos = 0usize;
            for e in &h.ev {
                match e {
                    Ev::Data(d) => {
                        assert_eq!(&orig[pos..pos + d.len()], &d[..], "round {round}");
                        pos += d.len();
                    }
                    Ev::Gap(n) => pos += *n as usize,
                    Ev::Fin | Ev::Depth => {}
                    Ev::Rst => panic!("no RST fed"),
                }
            }
            assert!(h.stats.delivered_bytes as usize <= fed);
            if cfg.depth == 0 {
                assert_eq!(pos, len, "round {round}");
                assert_eq!(h.ev.last(), Some(&Ev::Fin));
            } else {
                assert!(h.stats.delivered_bytes <= cfg.depth);
            }
        }
    }
}
