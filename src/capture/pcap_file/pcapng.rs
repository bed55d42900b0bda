//! pcapng: a sequence of blocks (type, total length, body, total length again). Sections (each
//! opened by a section header that sets the byte order) describe interfaces; packets refer to
//! an interface of their section. One function per block type we use; others are skipped.

use super::super::{CaptureStats, LinkType};
use super::{rd16, rd32, rd64, Found, Step, MAX_BLOCK_LEN, MAX_PACKET_LEN, NS_PER_SEC};

pub(super) const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
pub(super) const PCAPNG_IDB: u32 = 1;
pub(super) const PCAPNG_PB: u32 = 2;
pub(super) const PCAPNG_SPB: u32 = 3;
pub(super) const PCAPNG_EPB: u32 = 6;

const OPT_ENDOFOPT: u16 = 0;
pub(super) const OPT_IF_TSRESOL: u16 = 9;
pub(super) const OPT_IF_TSOFFSET: u16 = 14;

/// Most interfaces one pcapng section may describe.
const MAX_INTERFACES: usize = 1 << 16;

/// Block header (type, length) plus the trailing length.
const BLOCK_OVERHEAD: usize = 12;
/// Offset of the body in a block.
const BODY: usize = 8;

/// Per-interface state of a pcapng section.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: LinkType,
    snaplen: u32,
    resol: TsResol,
    /// `if_tsoffset`, in seconds.
    offset_s: i64,
}

/// Timestamp resolution of a pcapng interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TsResol {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

impl TsResol {
    pub(super) fn from_option(v: u8) -> TsResol {
        if v & 0x80 == 0 {
            TsResol::Pow10(v)
        } else {
            TsResol::Pow2(v & 0x7f)
        }
    }

    /// Converts a count of units to nanoseconds, saturating.
    pub(super) fn to_ns(self, units: u64) -> u128 {
        let units = u128::from(units);
        match self {
            TsResol::Pow10(e) if e <= 9 => units * 10u128.pow(u32::from(9 - e)),
            TsResol::Pow10(e) => {
                let d = u32::from(e - 9);
                if d >= 39 {
                    0
                } else {
                    units / 10u128.pow(d)
                }
            }
            // units < 2^64, so units * 1e9 < 2^94: no overflow; the shift is below 128.
            TsResol::Pow2(p) => (units * u128::from(NS_PER_SEC)) >> p,
        }
    }
}

/// The state a pcapng reader carries from block to block.
pub(super) struct NgState {
    /// Byte order of the current section.
    pub(super) be: bool,
    interfaces: Vec<Interface>,
    /// Timestamp of the last packet, used for Simple Packet Blocks (which have none).
    last_ts: u64,
}

/// A block whose framing has been checked: its type, total length and body.
struct Block<'a> {
    btype: u32,
    total: usize,
    be: bool,
    body: &'a [u8],
}

/// Byte order told by a section header's byte-order magic (at offset 8).
fn byte_order(h: &[u8]) -> Option<bool> {
    match h.get(8..12) {
        Some([0x1A, 0x2B, 0x3C, 0x4D]) => Some(true),
        Some([0x4D, 0x3C, 0x2B, 0x1A]) => Some(false),
        _ => None,
    }
}

impl NgState {
    /// The state for a capture that starts with `head`, when it is a pcapng section header.
    /// The section header itself is parsed as the first block by [`NgState::step`]; checking
    /// its byte-order magic here makes a stray match of the block type an unknown format.
    pub(super) fn from_first_block(head: &[u8]) -> Option<NgState> {
        if rd32(head, 0, false)? != PCAPNG_SHB {
            return None;
        }
        Some(NgState {
            be: byte_order(head)?,
            interfaces: Vec::new(),
            last_ts: 0,
        })
    }

    /// Parses the block at the start of `h`; `offset` (of `h` in the capture) is for logs.
    pub(super) fn step(&mut self, h: &[u8], offset: u64, stats: &mut CaptureStats) -> Step {
        let block = match self.frame(h) {
            Ok(b) => b,
            Err(step) => return step,
        };
        match block.btype {
            PCAPNG_SHB => self.section_header(&block),
            PCAPNG_IDB => self.interface_description(&block),
            PCAPNG_EPB | PCAPNG_PB => self.packet(&block, offset, stats),
            PCAPNG_SPB => self.simple_packet(&block, offset),
            _ => Step::Skip(block.total),
        }
    }

    /// Checks the framing of the block at the start of `h`: both lengths, and that all of it
    /// is there.
    fn frame<'a>(&self, h: &'a [u8]) -> Result<Block<'a>, Step> {
        let (Some(btype), Some(_)) = (rd32(h, 0, self.be), h.get(..BLOCK_OVERHEAD)) else {
            return Err(Step::Need(BLOCK_OVERHEAD));
        };
        // A section header sets the byte order for itself and what follows.
        let be = if btype == PCAPNG_SHB {
            byte_order(h)
                .ok_or_else(|| Step::damaged(8, "bad byte-order magic in section header"))?
        } else {
            self.be
        };
        let total = rd32(h, 4, be).ok_or(Step::Need(BLOCK_OVERHEAD))?;
        if total < BLOCK_OVERHEAD as u32 || total % 4 != 0 || total > MAX_BLOCK_LEN {
            return Err(Step::damaged(
                4,
                format!("block type {btype:#x} has a bad length {total}"),
            ));
        }
        let total = total as usize;
        let block = h.get(..total).ok_or(Step::Need(total))?;
        if rd32(block, total - 4, be) != Some(total as u32) {
            return Err(Step::damaged(
                total - 4,
                format!("block type {btype:#x}: trailing length does not match {total}"),
            ));
        }
        Ok(Block {
            btype,
            total,
            be,
            body: block.get(BODY..total - 4).unwrap_or(&[]),
        })
    }

    /// Section header: a new byte order, and no interfaces yet.
    fn section_header(&mut self, b: &Block) -> Step {
        let major = rd16(b.body, 4, b.be);
        if major != Some(1) {
            return Step::damaged(12, format!("unsupported pcapng version {major:?}"));
        }
        tracing::trace!(be = b.be, "pcapng section");
        self.be = b.be;
        self.interfaces.clear();
        Step::Skip(b.total)
    }

    /// Interface description: link type, snap length, and the timestamp options.
    fn interface_description(&mut self, b: &Block) -> Step {
        let be = b.be;
        let (Some(lt), Some(snaplen)) = (rd16(b.body, 0, be), rd32(b.body, 4, be)) else {
            return Step::damaged(8, "interface description block too short");
        };
        let mut iface = Interface {
            linktype: LinkType(lt),
            snaplen,
            resol: TsResol::Pow10(6),
            offset_s: 0,
        };
        let mut opts = b.body.get(8..).unwrap_or(&[]);
        while let (Some(code), Some(olen)) = (rd16(opts, 0, be), rd16(opts, 2, be)) {
            if code == OPT_ENDOFOPT {
                break;
            }
            let olen = usize::from(olen);
            let Some(val) = opts.get(4..4 + olen) else {
                break;
            };
            match code {
                OPT_IF_TSRESOL => {
                    if let Some(&v) = val.first() {
                        iface.resol = TsResol::from_option(v);
                    }
                }
                OPT_IF_TSOFFSET => {
                    if let Some(v) = rd64(val, 0, be) {
                        iface.offset_s = v as i64;
                    }
                }
                _ => {}
            }
            let next = 4 + olen.next_multiple_of(4);
            opts = opts.get(next..).unwrap_or(&[]);
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Step::damaged(0, "too many interfaces in one section");
        }
        tracing::trace!(?iface, "pcapng interface");
        self.interfaces.push(iface);
        Step::Skip(b.total)
    }

    /// Enhanced packet block, or the obsolete packet block (which carries a drop count).
    fn packet(&mut self, b: &Block, offset: u64, stats: &mut CaptureStats) -> Step {
        let (be, body) = (b.be, b.body);
        let (iface_id, drops) = if b.btype == PCAPNG_EPB {
            (rd32(body, 0, be), None)
        } else {
            (
                rd16(body, 0, be).map(u32::from),
                rd16(body, 2, be).filter(|&d| d != 0xffff),
            )
        };
        let (Some(iface_id), Some(hi), Some(lo), Some(caplen), Some(wire)) = (
            iface_id,
            rd32(body, 4, be),
            rd32(body, 8, be),
            rd32(body, 12, be),
            rd32(body, 16, be),
        ) else {
            return Step::damaged(8, "packet block too short");
        };
        if caplen > MAX_PACKET_LEN || 20 + caplen as usize > body.len() {
            return Step::damaged(
                20,
                format!(
                    "packet length {caplen} overruns its block of {} bytes",
                    b.total
                ),
            );
        }
        let Some(iface) = self.interfaces.get(iface_id as usize).copied() else {
            tracing::debug!(offset, iface_id, "packet for unknown interface");
            return Step::SkipMalformed(b.total);
        };
        // More than the interface's snap length: read and cut, as for classic pcap.
        let len = if iface.snaplen != 0 && caplen > iface.snaplen {
            stats.caplen_over_snaplen += 1;
            iface.snaplen
        } else {
            caplen
        };
        let units = (u64::from(hi) << 32) | u64::from(lo);
        let ns =
            iface.resol.to_ns(units) as i128 + i128::from(iface.offset_s) * i128::from(NS_PER_SEC);
        let ts_ns = u64::try_from(ns.max(0)).unwrap_or(u64::MAX);
        self.last_ts = ts_ns;
        if let Some(d) = drops {
            stats.dropped += u64::from(d);
        }
        Step::Packet(Found {
            rel: BODY + 20,
            len: len as usize,
            ts_ns,
            linktype: iface.linktype,
            wire_len: wire.max(caplen),
            consumed: b.total,
        })
    }

    /// Simple packet block: no timestamp (the last one is used), always interface 0.
    fn simple_packet(&mut self, b: &Block, offset: u64) -> Step {
        let Some(wire) = rd32(b.body, 0, b.be) else {
            return Step::damaged(8, "simple packet block too short");
        };
        let Some(iface) = self.interfaces.first().copied() else {
            tracing::debug!(offset, "simple packet block without interface");
            return Step::SkipMalformed(b.total);
        };
        let mut caplen = wire.min((b.body.len() - 4) as u32);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        if caplen > MAX_PACKET_LEN {
            return Step::damaged(8, format!("packet length {caplen} is absurd"));
        }
        Step::Packet(Found {
            rel: BODY + 4,
            len: caplen as usize,
            ts_ns: self.last_ts,
            linktype: iface.linktype,
            wire_len: wire,
            consumed: b.total,
        })
    }
}
