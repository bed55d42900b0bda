//! What TCP reassembly is given and what it counts: its per-direction limits, the per-worker
//! memory budget every stream of a worker charges, and its counters. Kept apart from the
//! reassembly algorithm (`reassembly.rs`) so that the status side reads counters without it.

/// Reassembly limits, per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Most data bytes delivered per direction; 0 = unlimited.
    pub depth: u64,
    /// Most out-of-order payload bytes held per direction.
    pub max_buffered_per_dir: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            depth: 1 << 20,
            max_buffered_per_dir: 256 << 10,
        }
    }
}

/// Per-worker memory budget shared by all the streams of that worker (passed in as `&mut`).
#[derive(Clone, Debug)]
pub struct MemBudget {
    cap: usize,
    used: usize,
    peak: usize,
    cap_hits: u64,
}

impl MemBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        MemBudget {
            cap,
            used: 0,
            peak: 0,
            cap_hits: 0,
        }
    }

    /// The cap, in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Most bytes ever charged at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Times a reservation was refused because the cap was reached.
    pub fn cap_hits(&self) -> u64 {
        self.cap_hits
    }

    pub(super) fn try_reserve(&mut self, n: usize) -> bool {
        match self.used.checked_add(n) {
            Some(u) if u <= self.cap => {
                self.used = u;
                self.peak = self.peak.max(u);
                true
            }
            _ => {
                self.cap_hits += 1;
                false
            }
        }
    }

    pub(super) fn release(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }
}

/// Reassembly counters (per worker, passed in as `&mut`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Segments fed to [`DirStream::segment`](super::DirStream::segment).
    pub segments: u64,
    /// Segments with payload that started at the delivery point.
    pub in_order: u64,
    /// Segments with payload that started ahead of the delivery point (buffered).
    pub out_of_order: u64,
    /// Segments with payload entirely before the delivery point (dropped).
    pub retransmissions: u64,
    /// Segments that overlapped delivered or buffered bytes.
    pub overlaps: u64,
    /// Overlapping segments whose bytes differed from the buffered ones (first kept).
    pub overlap_conflicts: u64,
    /// Holes skipped.
    pub gaps: u64,
    /// Bytes in the holes skipped.
    pub gap_bytes: u64,
    /// Data bytes delivered.
    pub delivered_bytes: u64,
    /// Streams that reached the depth.
    pub depth_reached: u64,
    /// Bytes dropped because the depth was reached.
    pub depth_dropped_bytes: u64,
    /// Holes skipped early because the [`MemBudget`] was exhausted.
    pub memcap_drops: u64,
    /// Holes skipped early because the per-direction buffer was full.
    pub buffer_cap_drops: u64,
    /// Bytes dropped otherwise: buffered at a RST, or after the FIN.
    pub discarded_bytes: u64,
}

impl ReassemblyStats {
    /// Adds another worker's counters.
    /// Every field is named (no `..`): a new counter that is not summed does not compile.
    pub fn add(&mut self, o: &ReassemblyStats) {
        let ReassemblyStats {
            segments,
            in_order,
            out_of_order,
            retransmissions,
            overlaps,
            overlap_conflicts,
            gaps,
            gap_bytes,
            delivered_bytes,
            depth_reached,
            depth_dropped_bytes,
            memcap_drops,
            buffer_cap_drops,
            discarded_bytes,
        } = o;
        self.segments += segments;
        self.in_order += in_order;
        self.out_of_order += out_of_order;
        self.retransmissions += retransmissions;
        self.overlaps += overlaps;
        self.overlap_conflicts += overlap_conflicts;
        self.gaps += gaps;
        self.gap_bytes += gap_bytes;
        self.delivered_bytes += delivered_bytes;
        self.depth_reached += depth_reached;
        self.depth_dropped_bytes += depth_dropped_bytes;
        self.memcap_drops += memcap_drops;
        self.buffer_cap_drops += buffer_cap_drops;
        self.discarded_bytes += discarded_bytes;
    }
}
