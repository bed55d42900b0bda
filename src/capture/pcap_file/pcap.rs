//! Classic pcap: a 24-byte file header (four magics: either byte order, micro- or nanosecond
//! timestamps), then 16-byte record headers each followed by the captured bytes.

use super::super::{CaptureStats, LinkType};
use super::{rd32, Found, Step, MAX_PACKET_LEN, NS_PER_SEC};

pub(super) const HEADER_LEN: usize = 24;
const RECORD_LEN: usize = 16;

/// What the file header says.
#[derive(Clone, Copy, Debug)]
pub(super) struct PcapHeader {
    pub(super) be: bool,
    pub(super) nanos: bool,
    pub(super) linktype: LinkType,
    pub(super) snaplen: u32,
}

impl Default for PcapHeader {
    fn default() -> PcapHeader {
        PcapHeader {
            be: false,
            nanos: false,
            linktype: LinkType::ETHERNET,
            snaplen: 0,
        }
    }
}

impl PcapHeader {
    /// `None` when `head` does not start with a pcap magic; `Some(None)` when it does but the
    /// header is cut off.
    pub(super) fn parse(head: &[u8]) -> Option<Option<PcapHeader>> {
        let (be, nanos) = match rd32(head, 0, false)? {
            0xA1B2_C3D4 => (false, false),
            0xA1B2_3C4D => (false, true),
            0xD4C3_B2A1 => (true, false),
            0x4D3C_B2A1 => (true, true),
            _ => return None,
        };
        if head.len() < HEADER_LEN {
            return Some(None);
        }
        let snaplen = rd32(head, 16, be).unwrap_or(0);
        let network = rd32(head, 20, be).unwrap_or(0);
        Some(Some(PcapHeader {
            be,
            nanos,
            linktype: LinkType((network & 0xffff) as u16),
            snaplen,
        }))
    }

    /// Parses the record at the start of `h`; counts into `stats` only when it gives a packet.
    pub(super) fn step(&self, h: &[u8], stats: &mut CaptureStats) -> Step {
        let be = self.be;
        let (Some(sec), Some(frac), Some(caplen), Some(wire)) = (
            rd32(h, 0, be),
            rd32(h, 4, be),
            rd32(h, 8, be),
            rd32(h, 12, be),
        ) else {
            return Step::Need(RECORD_LEN);
        };
        if caplen > MAX_PACKET_LEN {
            return Step::damaged(8, format!("record length {caplen} is absurd"));
        }
        let total = RECORD_LEN + caplen as usize;
        if h.len() < total {
            return Step::Need(total);
        }
        // More than the snap length (old Solaris writers, edited files): libpcap reads such a
        // record and cuts it to the snap length; so do we, and count it.
        let len = if self.snaplen != 0 && caplen > self.snaplen {
            stats.caplen_over_snaplen += 1;
            self.snaplen
        } else {
            caplen
        };
        let frac_ns = if self.nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        Step::Packet(Found {
            rel: RECORD_LEN,
            len: len as usize,
            ts_ns: u64::from(sec) * NS_PER_SEC + frac_ns,
            linktype: self.linktype,
            wire_len: wire.max(caplen),
            consumed: total,
        })
    }
}
