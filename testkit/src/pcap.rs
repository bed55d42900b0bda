//! The classic pcap writer (little-endian, microsecond timestamps, linktype Ethernet) used by the
//! generator and the packet builders: one global header, then one record per frame.

use std::io::{self, Write};

/// Size of the pcap global header in bytes.
pub const PCAP_GLOBAL_HEADER_LEN: usize = 24;
/// Size of a pcap record header in bytes.
pub const PCAP_RECORD_HEADER_LEN: usize = 16;
/// pcap magic number (microsecond timestamps), written little-endian.
pub const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
/// Link type of the written captures (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written into the global header.
pub const SNAPLEN: u32 = 65_535;

/// Writes the global header: version 2.4, no time zone, [`SNAPLEN`], Ethernet.
pub fn write_header(w: &mut impl Write) -> io::Result<()> {
    let mut h = [0u8; PCAP_GLOBAL_HEADER_LEN];
    h[0..4].copy_from_slice(&PCAP_MAGIC_US.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&h)
}

/// Writes one record: the frame captured whole at `ts_us` (microseconds since the epoch).
pub fn write_record(w: &mut impl Write, ts_us: u64, data: &[u8]) -> io::Result<()> {
    let len = u32::try_from(data.len()).map_err(io::Error::other)?;
    let sec = u32::try_from(ts_us / 1_000_000).map_err(io::Error::other)?;
    let mut h = [0u8; PCAP_RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&sec.to_le_bytes());
    h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    w.write_all(&h)?;
    w.write_all(data)
}
