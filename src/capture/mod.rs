//! Capture: where packets come from. Capture files (pcap, pcapng, gzip, stdin) for replay,
//! AF_PACKET TPACKET_V3 rings for live capture, and libpcap behind the `libpcap` feature.
//!
//! Everything here hands out [`Packet`]s that borrow the capture buffer: no allocation per
//! packet. This is the only module allowed to use `unsafe` (for the mmap'd AF_PACKET ring, and the
//! libc calls that drop privileges once the capture sockets are open: [`privilege`]).

use std::sync::Arc;

#[cfg(target_os = "linux")]
pub mod afpacket;
#[cfg(feature = "libpcap")]
pub mod libpcap;
pub mod link;
pub mod pcap_file;
#[cfg(target_os = "linux")]
pub mod privilege;

#[cfg(target_os = "linux")]
pub use afpacket::{AfPacketSource, RingConfig};
#[cfg(feature = "libpcap")]
pub use libpcap::PcapLiveSource;
pub use link::{LinkHealth, LinkStatus};
pub use pcap_file::{open, CaptureFile};

/// Link-layer header type, numbered as pcap's LINKTYPE_* values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (v4 or v6, told by the version nibble).
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC: address, control, then an ethertype.
    pub const C_HDLC: LinkType = LinkType(104);
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const NFLOG: LinkType = LinkType(239);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, borrowed from the capture buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub linktype: LinkType,
    /// The captured bytes (may be shorter than `wire_len` when the snap length cut it).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub wire_len: u32,
}

/// An immutable buffer that holds a whole capture (bytes given in memory).
/// Packets of a [`PacketSource`] that exposes one are sub-slices of it, so a dispatcher can pass
/// `(offset, len)` references to other threads instead of copying bytes.
pub enum SharedBuf {
    Owned(Vec<u8>),
}

impl std::ops::Deref for SharedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SharedBuf::Owned(v) => v,
        }
    }
}

/// Counters every source keeps; shown in the summary and status records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets the kernel or the file said were dropped / not delivered.
    pub dropped: u64,
    /// Malformed or truncated blocks/records in a capture file that were skipped.
    pub malformed: u64,
    /// Packets whose captured length is shorter than their wire length.
    pub truncated: u64,
    /// Records whose captured length exceeds the file's snap length (read, cut to the snap
    /// length, as libpcap does).
    pub caplen_over_snaplen: u64,
    /// AF_PACKET: blocks in the socket's ring, and the most of them found full at once
    /// (filled by the kernel, waiting for the worker) since start: how close the ring came to
    /// dropping. Shown per socket (`health.capture_sockets[].ring_fill_peak_pct`).
    #[serde(skip)]
    pub ring_blocks: u64,
    #[serde(skip)]
    pub ring_full_peak: u64,
}

impl CaptureStats {
    /// Adds another source's counters.
    pub fn add(&mut self, o: &CaptureStats) {
        // Exhaustive: a new counter that is not summed does not compile.
        let CaptureStats {
            packets,
            bytes,
            dropped,
            malformed,
            truncated,
            caplen_over_snaplen,
            ring_blocks,
            ring_full_peak,
        } = *o;
        self.packets += packets;
        self.bytes += bytes;
        self.dropped += dropped;
        self.malformed += malformed;
        self.truncated += truncated;
        self.caplen_over_snaplen += caplen_over_snaplen;
        self.ring_blocks += ring_blocks;
        self.ring_full_peak = self.ring_full_peak.max(ring_full_peak);
    }

    /// The counters that are anomalies, by name, for the summary's and the status records'
    /// anomaly lists (zeros included: callers drop them).
    pub fn anomalies(&self) -> [(&'static str, u64); 2] {
        [
            ("capture.malformed", self.malformed),
            ("capture.caplen_over_snaplen", self.caplen_over_snaplen),
        ]
    }
}

/// What [`PacketSource::next`] found.
#[derive(Clone, Copy, Debug)]
pub enum Next<'a> {
    Packet(Packet<'a>),
    /// Nothing arrived within the source's poll interval (live sources only): the caller runs
    /// its timers and checks for shutdown, then calls again.
    Idle,
    /// The capture is over (end of file; live sources after [`PacketSource::stop`]).
    End,
}

/// A source of packets: a lending iterator over borrowed packets.
pub trait PacketSource: Send {
    /// The next packet, borrowed until the next call.
    /// A damaged capture file gives `Err` once, with a message that says where and why;
    /// recoverable damage (a cut-off last record, say) is counted in
    /// [`CaptureStats::malformed`] and ends the capture instead.
    fn next(&mut self) -> Result<Next<'_>, CaptureError>;

    /// The buffer all packets are slices of, when there is one (see [`SharedBuf`]).
    fn shared_buffer(&self) -> Option<Arc<SharedBuf>> {
        None
    }

    fn stats(&self) -> CaptureStats;
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file (first bytes {magic})")]
    UnknownFormat { path: String, magic: String },
    #[error("{path}: damaged capture at byte {offset}: {reason}")]
    Damaged {
        path: String,
        offset: u64,
        reason: String,
    },
    #[error("{path}: decompressed size exceeds the cap of {cap} bytes")]
    TooLarge { path: String, cap: u64 },
    #[error("live capture on {iface}: {reason}")]
    Live { iface: String, reason: String },
}
