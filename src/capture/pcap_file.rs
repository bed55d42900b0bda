//! Capture files: classic pcap (all four magics) and pcapng (several sections and interfaces,
//! both byte orders), plain or gzip-compressed, from a path or from stdin.
//!
//! A file is memory-mapped (or inflated once into memory when gzipped) and packets are
//! sub-slices of that [`SharedBuf`]. Stdin cannot be mapped: it is read through a reusable,
//! bounded buffer, and packets borrow that buffer until the next call.
//!
//! The parser is our own and works on the raw bytes: every read from file data is
//! bounds-checked, and no length field is trusted for an allocation.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use super::{CaptureError, CaptureStats, LinkType, Next, Packet, PacketSource, SharedBuf};

/// Largest captured length of one packet we accept (libpcap's maximum snap length).
pub const MAX_PACKET_LEN: u32 = 256 * 1024;

/// Largest pcapng block we accept; anything bigger is treated as a corrupt length.
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

/// Decompression cap used by [`CaptureFile::from_bytes`] for gzipped input.
pub const FROM_BYTES_GZIP_CAP: u64 = 16 * 1024 * 1024;

/// Most interfaces one pcapng section may describe.
const MAX_INTERFACES: usize = 1 << 16;

/// Initial size of the stdin buffer; it grows up to [`STREAM_BUF_MAX`] for big blocks.
const STREAM_BUF_INITIAL: usize = 1024 * 1024;
const STREAM_BUF_MAX: usize = MAX_BLOCK_LEN as usize + 64;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

const NS_PER_SEC: u64 = 1_000_000_000;

/// Opens a capture file (`"-"` reads stdin). Gzip input (magic `1f 8b`) is detected and
/// inflated; for a file, inflating past `max_decompressed` bytes fails with
/// [`CaptureError::TooLarge`] (stdin is streamed, so it needs no cap).
pub fn open(path: &str, max_decompressed: u64) -> Result<Box<dyn PacketSource>, CaptureError> {
    if path == "-" {
        return Ok(Box::new(CaptureFile::from_reader(
            Box::new(io::stdin()),
            "<stdin>",
        )?));
    }
    Ok(Box::new(CaptureFile::open_path(path, max_decompressed)?))
}

/// A pcap or pcapng capture read from a file, a byte buffer or a stream.
pub struct CaptureFile {
    name: String,
    backing: Backing,
    format: Format,
    stats: CaptureStats,
    /// Offset in the (decompressed) capture of the first byte not yet consumed.
    offset: u64,
    /// Set once the capture is over (end, or an error was returned).
    done: bool,
}

enum Backing {
    Shared { buf: Arc<SharedBuf>, pos: usize },
    Stream(StreamBuf),
}

/// Reusable read buffer for non-seekable input: `buf[start..end]` holds unread bytes.
struct StreamBuf {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl StreamBuf {
    fn avail(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Reads until at least `n` unread bytes are buffered or the input ends.
    /// `n` must not exceed [`STREAM_BUF_MAX`].
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        let n = n.min(STREAM_BUF_MAX);
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if n > self.buf.len() {
            let new_len = (self.buf.len() * 2).max(n).min(STREAM_BUF_MAX);
            self.buf.resize(new_len, 0);
        }
        while self.end - self.start < n {
            let Some(dst) = self.buf.get_mut(self.end..) else {
                return Ok(false);
            };
            match self.reader.read(dst) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

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
enum TsResol {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

impl TsResol {
    fn from_option(v: u8) -> TsResol {
        if v & 0x80 == 0 {
            TsResol::Pow10(v)
        } else {
            TsResol::Pow2(v & 0x7f)
        }
    }

    /// Converts a count of units to nanoseconds, saturating.
    fn to_ns(self, units: u64) -> u128 {
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

enum Format {
    Pcap {
        be: bool,
        nanos: bool,
        linktype: LinkType,
        snaplen: u32,
    },
    PcapNg {
        be: bool,
        interfaces: Vec<Interface>,
        /// Timestamp of the last packet, used for Simple Packet Blocks (which have none).
        last_ts: u64,
    },
}

/// Where the next packet lies in the current buffer, and its metadata.
struct Found {
    /// Offset of the packet data from the current read position.
    rel: usize,
    len: usize,
    ts_ns: u64,
    linktype: LinkType,
    wire_len: u32,
    /// Bytes to consume for this record or block.
    consumed: usize,
}

enum Step {
    Packet(Found),
    /// A block or record without a packet: consume this many bytes and go on.
    Skip(usize),
    /// A well-formed block that cannot be used (unknown interface, say): count and skip it.
    SkipMalformed(usize),
    /// The input ends inside a record or block.
    CutOff,
    /// The input ends cleanly.
    End,
}

#[inline]
fn rd16(b: &[u8], off: usize, be: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}

#[inline]
fn rd32(b: &[u8], off: usize, be: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

#[inline]
fn rd64(b: &[u8], off: usize, be: bool) -> Option<u64> {
    let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
    Some(if be {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    })
}

fn hex_prefix(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, x) in b.iter().take(16).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    if s.is_empty() {
        s.push_str("(empty)");
    }
    s
}

fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
}

/// Maps a file read-only.
#[allow(unsafe_code)]
fn map_file(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the file was opened read-only and the mapping is private and read-only; we treat
    // the capture as immutable for the life of the map. memmap2 cannot rule out another process
    // truncating or rewriting the file meanwhile; capture files are not expected to change
    // while we read them, and every access to the bytes is bounds-checked against the length
    // taken at mapping time.
    unsafe { memmap2::Mmap::map(file) }
}

/// Inflates a gzip stream fully into memory, failing past `cap` bytes.
fn gunzip(data: &[u8], name: &str, cap: u64) -> Result<Vec<u8>, CaptureError> {
    let mut out = Vec::new();
    let mut dec = MultiGzDecoder::new(data).take(cap.saturating_add(1));
    dec.read_to_end(&mut out)
        .map_err(|source| CaptureError::Io {
            path: name.to_string(),
            source,
        })?;
    if out.len() as u64 > cap {
        return Err(CaptureError::TooLarge {
            path: name.to_string(),
            cap,
        });
    }
    Ok(out)
}

impl CaptureFile {
    /// Opens and memory-maps the capture at `path` (gzip is inflated, up to `max_decompressed`
    /// bytes). The file header is read here, so a file of an unknown format fails now.
    pub fn open_path(path: &str, max_decompressed: u64) -> Result<CaptureFile, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_string(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let buf = if len == 0 {
            // Mapping an empty file fails on some systems; an empty buffer says the same.
            SharedBuf::Owned(Vec::new())
        } else {
            SharedBuf::Mapped(map_file(&file).map_err(io_err)?)
        };
        let buf = if is_gzip(&buf) {
            tracing::debug!(path, "inflating gzip capture");
            SharedBuf::Owned(gunzip(&buf, path, max_decompressed)?)
        } else {
            buf
        };
        CaptureFile::from_shared(Arc::new(buf), path)
    }

    /// A capture over bytes in memory (tests, fuzzing). Gzip is inflated, up to
    /// [`FROM_BYTES_GZIP_CAP`] bytes. `name` is used in error messages.
    pub fn from_bytes(data: Vec<u8>, name: &str) -> Result<CaptureFile, CaptureError> {
        let data = if is_gzip(&data) {
            gunzip(&data, name, FROM_BYTES_GZIP_CAP)?
        } else {
            data
        };
        CaptureFile::from_shared(Arc::new(SharedBuf::Owned(data)), name)
    }

    fn from_shared(buf: Arc<SharedBuf>, name: &str) -> Result<CaptureFile, CaptureError> {
        let backing = Backing::Shared { buf, pos: 0 };
        CaptureFile::start(backing, name)
    }

    /// A streaming capture over a reader (stdin): packets borrow an internal buffer that is
    /// reused, so [`PacketSource::shared_buffer`] is `None`. Gzip is detected and inflated on
    /// the fly.
    pub fn from_reader(
        reader: Box<dyn Read + Send>,
        name: &str,
    ) -> Result<CaptureFile, CaptureError> {
        let mut sb = StreamBuf {
            reader,
            buf: vec![0; STREAM_BUF_INITIAL],
            start: 0,
            end: 0,
            eof: false,
        };
        sb.fill(2).map_err(|source| CaptureError::Io {
            path: name.to_string(),
            source,
        })?;
        if is_gzip(sb.avail()) {
            tracing::debug!(name, "inflating gzip stream");
            let head = io::Cursor::new(sb.avail().to_vec());
            let rest = sb.reader;
            sb = StreamBuf {
                reader: Box::new(MultiGzDecoder::new(head.chain(rest))),
                buf: sb.buf,
                start: 0,
                end: 0,
                eof: false,
            };
        }
        CaptureFile::start(Backing::Stream(sb), name)
    }

    /// Reads the file header and builds the source.
    fn start(backing: Backing, name: &str) -> Result<CaptureFile, CaptureError> {
        let mut cf = CaptureFile {
            name: name.to_string(),
            backing,
            // Replaced below once the header is read.
            format: Format::Pcap {
                be: false,
                nanos: false,
                linktype: LinkType::ETHERNET,
                snaplen: 0,
            },
            stats: CaptureStats::default(),
            offset: 0,
            done: false,
        };
        cf.ensure(PCAP_HEADER_LEN)?;
        let head = cf.avail();
        let unknown = || CaptureError::UnknownFormat {
            path: name.to_string(),
            magic: hex_prefix(head),
        };
        let magic_le = rd32(head, 0, false).ok_or_else(unknown)?;
        let pcap = match magic_le {
            0xA1B2_C3D4 => Some((false, false)),
            0xA1B2_3C4D => Some((false, true)),
            0xD4C3_B2A1 => Some((true, false)),
            0x4D3C_B2A1 => Some((true, true)),
            _ => None,
        };
        if let Some((be, nanos)) = pcap {
            if head.len() < PCAP_HEADER_LEN {
                return Err(cf.damaged(0, "file header cut off"));
            }
            let snaplen = rd32(head, 16, be).unwrap_or(0);
            let network = rd32(head, 20, be).unwrap_or(0);
            let linktype = LinkType((network & 0xffff) as u16);
            tracing::debug!(name, be, nanos, ?linktype, snaplen, "classic pcap");
            cf.format = Format::Pcap {
                be,
                nanos,
                linktype,
                snaplen,
            };
            cf.consume(PCAP_HEADER_LEN);
            return Ok(cf);
        }
        if magic_le == PCAPNG_SHB {
            // The section header is parsed as the first block by `next`; check its byte-order
            // magic now so that a stray match of the block type is reported as unknown.
            let bom = head.get(8..12).ok_or_else(unknown)?;
            let be = match bom {
                [0x1A, 0x2B, 0x3C, 0x4D] => true,
                [0x4D, 0x3C, 0x2B, 0x1A] => false,
                _ => return Err(unknown()),
            };
            tracing::debug!(name, be, "pcapng");
            cf.format = Format::PcapNg {
                be,
                interfaces: Vec::new(),
                last_ts: 0,
            };
            return Ok(cf);
        }
        Err(unknown())
    }

    /// The unread bytes currently available.
    fn avail(&self) -> &[u8] {
        match &self.backing {
            Backing::Shared { buf, pos } => buf.get(*pos..).unwrap_or(&[]),
            Backing::Stream(s) => s.avail(),
        }
    }

    /// Makes at least `n` bytes available if the input has them; false at the end of input.
    fn ensure(&mut self, n: usize) -> Result<bool, CaptureError> {
        match &mut self.backing {
            Backing::Shared { buf, pos } => Ok(buf.len().saturating_sub(*pos) >= n),
            Backing::Stream(s) => s.fill(n).map_err(|source| CaptureError::Io {
                path: self.name.clone(),
                source,
            }),
        }
    }

    fn consume(&mut self, n: usize) {
        match &mut self.backing {
            Backing::Shared { buf, pos } => *pos = (*pos + n).min(buf.len()),
            Backing::Stream(s) => s.start = (s.start + n).min(s.end),
        }
        self.offset += n as u64;
    }

    fn damaged(&self, rel: usize, reason: impl Into<String>) -> CaptureError {
        CaptureError::Damaged {
            path: self.name.clone(),
            offset: self.offset + rel as u64,
            reason: reason.into(),
        }
    }

    /// Parses the next classic pcap record.
    fn step_pcap(&mut self) -> Result<Step, CaptureError> {
        let Format::Pcap {
            be,
            nanos,
            linktype,
            snaplen,
        } = self.format
        else {
            return Ok(Step::End);
        };
        if !self.ensure(PCAP_RECORD_LEN)? {
            return Ok(if self.avail().is_empty() {
                Step::End
            } else {
                Step::CutOff
            });
        }
        let h = self.avail();
        let (Some(sec), Some(frac), Some(caplen), Some(wire)) = (
            rd32(h, 0, be),
            rd32(h, 4, be),
            rd32(h, 8, be),
            rd32(h, 12, be),
        ) else {
            return Ok(Step::CutOff);
        };
        if caplen > MAX_PACKET_LEN {
            return Err(self.damaged(8, format!("record length {caplen} is absurd")));
        }
        if snaplen != 0 && caplen > snaplen {
            return Err(self.damaged(
                8,
                format!("record length {caplen} exceeds snap length {snaplen}"),
            ));
        }
        let total = PCAP_RECORD_LEN + caplen as usize;
        if !self.ensure(total)? {
            return Ok(Step::CutOff);
        }
        let frac_ns = if nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        Ok(Step::Packet(Found {
            rel: PCAP_RECORD_LEN,
            len: caplen as usize,
            ts_ns: u64::from(sec) * NS_PER_SEC + frac_ns,
            linktype,
            wire_len: wire.max(caplen),
            consumed: total,
        }))
    }

    /// Parses the next pcapng block.
    fn step_pcapng(&mut self) -> Result<Step, CaptureError> {
        if !self.ensure(12)? {
            return Ok(if self.avail().is_empty() {
                Step::End
            } else {
                Step::CutOff
            });
        }
        let Format::PcapNg { be, .. } = self.format else {
            return Ok(Step::End);
        };
        let h = self.avail();
        let Some(btype) = rd32(h, 0, be) else {
            return Ok(Step::CutOff);
        };
        // A section header sets the byte order for itself and what follows.
        let be = if btype == PCAPNG_SHB {
            match h.get(8..12) {
                Some([0x1A, 0x2B, 0x3C, 0x4D]) => true,
                Some([0x4D, 0x3C, 0x2B, 0x1A]) => false,
                _ => return Err(self.damaged(8, "bad byte-order magic in section header")),
            }
        } else {
            be
        };
        let Some(total) = rd32(h, 4, be) else {
            return Ok(Step::CutOff);
        };
        if total < 12 || total % 4 != 0 || total > MAX_BLOCK_LEN {
            return Err(self.damaged(4, format!("block type {btype:#x} has a bad length {total}")));
        }
        let total = total as usize;
        if !self.ensure(total)? {
            return Ok(Step::CutOff);
        }
        let h = self.avail();
        let Some(block) = h.get(..total) else {
            return Ok(Step::CutOff);
        };
        if rd32(block, total - 4, be) != Some(total as u32) {
            return Err(self.damaged(
                total - 4,
                format!("block type {btype:#x}: trailing length does not match {total}"),
            ));
        }
        let body = block.get(8..total - 4).unwrap_or(&[]);
        match btype {
            PCAPNG_SHB => {
                let major = rd16(body, 4, be);
                if major != Some(1) {
                    return Err(self.damaged(12, format!("unsupported pcapng version {major:?}")));
                }
                tracing::trace!(offset = self.offset, be, "pcapng section");
                if let Format::PcapNg {
                    be: fbe,
                    interfaces,
                    ..
                } = &mut self.format
                {
                    *fbe = be;
                    interfaces.clear();
                }
                Ok(Step::Skip(total))
            }
            PCAPNG_IDB => {
                let (Some(lt), Some(snaplen)) = (rd16(body, 0, be), rd32(body, 4, be)) else {
                    return Err(self.damaged(8, "interface description block too short"));
                };
                let mut iface = Interface {
                    linktype: LinkType(lt),
                    snaplen,
                    resol: TsResol::Pow10(6),
                    offset_s: 0,
                };
                let mut opts = body.get(8..).unwrap_or(&[]);
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
                let Format::PcapNg { interfaces, .. } = &mut self.format else {
                    return Ok(Step::End);
                };
                if interfaces.len() >= MAX_INTERFACES {
                    return Err(self.damaged(0, "too many interfaces in one section"));
                }
                tracing::trace!(?iface, "pcapng interface");
                interfaces.push(iface);
                Ok(Step::Skip(total))
            }
            PCAPNG_EPB | PCAPNG_PB => {
                let (iface_id, drops) = if btype == PCAPNG_EPB {
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
                    return Err(self.damaged(8, "packet block too short"));
                };
                if caplen > MAX_PACKET_LEN || 20 + caplen as usize > body.len() {
                    return Err(self.damaged(
                        20,
                        format!("packet length {caplen} overruns its block of {total} bytes"),
                    ));
                }
                let Format::PcapNg {
                    interfaces,
                    last_ts,
                    ..
                } = &mut self.format
                else {
                    return Ok(Step::End);
                };
                let Some(iface) = interfaces.get(iface_id as usize).copied() else {
                    tracing::debug!(
                        offset = self.offset,
                        iface_id,
                        "packet for unknown interface"
                    );
                    return Ok(Step::SkipMalformed(total));
                };
                if iface.snaplen != 0 && caplen > iface.snaplen {
                    return Err(self.damaged(
                        20,
                        format!(
                            "packet length {caplen} exceeds snap length {}",
                            iface.snaplen
                        ),
                    ));
                }
                let units = (u64::from(hi) << 32) | u64::from(lo);
                let ns = iface.resol.to_ns(units) as i128
                    + i128::from(iface.offset_s) * i128::from(NS_PER_SEC);
                let ts_ns = u64::try_from(ns.max(0)).unwrap_or(u64::MAX);
                *last_ts = ts_ns;
                if let Some(d) = drops {
                    self.stats.dropped += u64::from(d);
                }
                Ok(Step::Packet(Found {
                    rel: 8 + 20,
                    len: caplen as usize,
                    ts_ns,
                    linktype: iface.linktype,
                    wire_len: wire.max(caplen),
                    consumed: total,
                }))
            }
            PCAPNG_SPB => {
                let Some(wire) = rd32(body, 0, be) else {
                    return Err(self.damaged(8, "simple packet block too short"));
                };
                let Format::PcapNg {
                    interfaces,
                    last_ts,
                    ..
                } = &self.format
                else {
                    return Ok(Step::End);
                };
                let Some(iface) = interfaces.first().copied() else {
                    tracing::debug!(
                        offset = self.offset,
                        "simple packet block without interface"
                    );
                    return Ok(Step::SkipMalformed(total));
                };
                let mut caplen = wire.min((body.len() - 4) as u32);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen);
                }
                if caplen > MAX_PACKET_LEN {
                    return Err(self.damaged(8, format!("packet length {caplen} is absurd")));
                }
                Ok(Step::Packet(Found {
                    rel: 8 + 4,
                    len: caplen as usize,
                    ts_ns: *last_ts,
                    linktype: iface.linktype,
                    wire_len: wire,
                    consumed: total,
                }))
            }
            _ => Ok(Step::Skip(total)),
        }
    }
}

impl PacketSource for CaptureFile {
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.done {
            return Ok(Next::End);
        }
        let found = loop {
            let step = match self.format {
                Format::Pcap { .. } => self.step_pcap(),
                Format::PcapNg { .. } => self.step_pcapng(),
            };
            match step {
                Ok(Step::Packet(f)) => break f,
                Ok(Step::Skip(n)) => self.consume(n),
                Ok(Step::SkipMalformed(n)) => {
                    self.stats.malformed += 1;
                    self.consume(n);
                }
                Ok(Step::CutOff) => {
                    tracing::warn!(
                        path = %self.name,
                        offset = self.offset,
                        "capture ends inside a record; ignoring the cut-off record"
                    );
                    self.stats.malformed += 1;
                    self.done = true;
                    return Ok(Next::End);
                }
                Ok(Step::End) => {
                    self.done = true;
                    return Ok(Next::End);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        };
        self.stats.packets += 1;
        self.stats.bytes += u64::from(found.wire_len);
        if (found.len as u64) < u64::from(found.wire_len) {
            self.stats.truncated += 1;
        }
        // Absolute position of the packet in the buffer. Consuming the record only moves the
        // read position: the bytes stay in place until the next call, and `data` borrows
        // `self` for as long as the caller holds it.
        let start = match &self.backing {
            Backing::Shared { pos, .. } => *pos + found.rel,
            Backing::Stream(s) => s.start + found.rel,
        };
        self.consume(found.consumed);
        let whole: &[u8] = match &self.backing {
            Backing::Shared { buf, .. } => buf,
            Backing::Stream(s) => &s.buf,
        };
        let pkt = Packet {
            ts_ns: found.ts_ns,
            linktype: found.linktype,
            data: whole.get(start..start + found.len).unwrap_or(&[]),
            wire_len: found.wire_len,
        };
        Ok(Next::Packet(pkt))
    }

    fn shared_buffer(&self) -> Option<Arc<SharedBuf>> {
        match &self.backing {
            Backing::Shared { buf, .. } => Some(Arc::clone(buf)),
            Backing::Stream(_) => None,
        }
    }

    fn stats(&self) -> CaptureStats {
        self.stats
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    /// One classic pcap record: seconds, fraction (µs or ns), captured bytes, wire length.
    type Rec<'a> = (u32, u32, &'a [u8], u32);

    fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }
    fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }
    fn put64(v: &mut Vec<u8>, x: u64, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }

    fn pcap(be: bool, nanos: bool, linktype: u32, snaplen: u32, recs: &[Rec]) -> Vec<u8> {
        let mut v = Vec::new();
        put32(&mut v, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 }, be);
        put16(&mut v, 2, be);
        put16(&mut v, 4, be);
        put32(&mut v, 0, be);
        put32(&mut v, 0, be);
        put32(&mut v, snaplen, be);
        put32(&mut v, linktype, be);
        for &(sec, frac, data, wire) in recs {
            put32(&mut v, sec, be);
            put32(&mut v, frac, be);
            put32(&mut v, data.len() as u32, be);
            put32(&mut v, wire, be);
            v.extend_from_slice(data);
        }
        v
    }

    /// A pcapng writer for fixtures.
    struct Ng {
        be: bool,
        out: Vec<u8>,
    }

    impl Ng {
        fn new(be: bool) -> Ng {
            let mut ng = Ng {
                be,
                out: Vec::new(),
            };
            ng.shb(be);
            ng
        }
        fn block(&mut self, btype: u32, body: &[u8]) {
            let be = self.be;
            let mut body = body.to_vec();
            while body.len() % 4 != 0 {
                body.push(0);
            }
            let total = 12 + body.len() as u32;
            put32(&mut self.out, btype, be);
            put32(&mut self.out, total, be);
            self.out.extend_from_slice(&body);
            put32(&mut self.out, total, be);
        }
        fn shb(&mut self, be: bool) {
            self.be = be;
            let mut b = Vec::new();
            put32(&mut b, 0x1A2B_3C4D, be);
            put16(&mut b, 1, be);
            put16(&mut b, 0, be);
            put64(&mut b, u64::MAX, be);
            self.block(PCAPNG_SHB, &b);
        }
        fn idb(&mut self, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) {
            let be = self.be;
            let mut b = Vec::new();
            put16(&mut b, linktype, be);
            put16(&mut b, 0, be);
            put32(&mut b, snaplen, be);
            for &(code, val) in opts {
                put16(&mut b, code, be);
                put16(&mut b, val.len() as u16, be);
                b.extend_from_slice(val);
                while b.len() % 4 != 0 {
                    b.push(0);
                }
            }
            if !opts.is_empty() {
                put32(&mut b, 0, be);
            }
            self.block(PCAPNG_IDB, &b);
        }
        fn epb(&mut self, iface: u32, units: u64, data: &[u8], wire: u32) {
            let be = self.be;
            let mut b = Vec::new();
            put32(&mut b, iface, be);
            put32(&mut b, (units >> 32) as u32, be);
            put32(&mut b, units as u32, be);
            put32(&mut b, data.len() as u32, be);
            put32(&mut b, wire, be);
            b.extend_from_slice(data);
            self.block(PCAPNG_EPB, &b);
        }
        fn pb(&mut self, iface: u16, drops: u16, units: u64, data: &[u8]) {
            let be = self.be;
            let mut b = Vec::new();
            put16(&mut b, iface, be);
            put16(&mut b, drops, be);
            put32(&mut b, (units >> 32) as u32, be);
            put32(&mut b, units as u32, be);
            put32(&mut b, data.len() as u32, be);
            put32(&mut b, data.len() as u32, be);
            b.extend_from_slice(data);
            self.block(PCAPNG_PB, &b);
        }
        fn spb(&mut self, wire: u32, data: &[u8]) {
            let mut b = Vec::new();
            put32(&mut b, wire, self.be);
            b.extend_from_slice(data);
            self.block(PCAPNG_SPB, &b);
        }
    }

    #[derive(Debug, PartialEq)]
    struct Got {
        ts_ns: u64,
        linktype: LinkType,
        data: Vec<u8>,
        wire_len: u32,
    }

    fn collect(src: &mut dyn PacketSource) -> Result<Vec<Got>, CaptureError> {
        let mut v = Vec::new();
        loop {
            match src.next()? {
                Next::Packet(p) => v.push(Got {
                    ts_ns: p.ts_ns,
                    linktype: p.linktype,
                    data: p.data.to_vec(),
                    wire_len: p.wire_len,
                }),
                Next::Idle => panic!("a file never idles"),
                Next::End => return Ok(v),
            }
        }
    }

    fn got(ts_ns: u64, linktype: LinkType, data: &[u8], wire_len: u32) -> Got {
        Got {
            ts_ns,
            linktype,
            data: data.to_vec(),
            wire_len,
        }
    }

    /// A reader that hands out at most `chunk` bytes per read, like a pipe.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn stream(data: Vec<u8>, chunk: usize) -> Result<CaptureFile, CaptureError> {
        CaptureFile::from_reader(
            Box::new(Trickle {
                data,
                pos: 0,
                chunk,
            }),
            "stream",
        )
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn classic_pcap_all_magics() {
        let p1: &[u8] = &[1, 2, 3, 4, 5, 6];
        let p2: &[u8] = &[0xaa; 40];
        for be in [false, true] {
            for nanos in [false, true] {
                let file = pcap(be, nanos, 1, 65535, &[(10, 500, p1, 6), (11, 7, p2, 60)]);
                let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
                let pk = collect(&mut cf).unwrap();
                let mul = if nanos { 1 } else { 1000 };
                assert_eq!(
                    pk,
                    vec![
                        got(10 * NS_PER_SEC + 500 * mul, LinkType::ETHERNET, p1, 6),
                        got(11 * NS_PER_SEC + 7 * mul, LinkType::ETHERNET, p2, 60),
                    ],
                    "be={be} nanos={nanos}"
                );
                let st = cf.stats();
                assert_eq!(st.packets, 2);
                assert_eq!(st.bytes, 66);
                assert_eq!(st.truncated, 1);
                assert_eq!(st.malformed, 0);
                // After the end, it stays at the end.
                assert!(matches!(cf.next(), Ok(Next::End)));
            }
        }
    }

    #[test]
    fn packets_are_slices_of_the_shared_buffer() {
        let file = pcap(false, false, 101, 0, &[(1, 0, &[0x45, 0, 0, 20], 4)]);
        let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
        let shared = cf.shared_buffer().unwrap();
        let range = shared.as_ptr_range();
        let Next::Packet(p) = cf.next().unwrap() else {
            panic!("expected a packet");
        };
        assert_eq!(p.linktype, LinkType::RAW);
        assert!(range.contains(&p.data.as_ptr()));
        let off = p.data.as_ptr() as usize - shared.as_ptr() as usize;
        assert_eq!(off, 24 + 16);
        assert_eq!(&shared[off..off + p.data.len()], p.data);
    }

    #[test]
    fn cut_off_last_record_is_counted_and_ends() {
        let mut file = pcap(
            false,
            false,
            1,
            65535,
            &[(1, 0, &[1; 10], 10), (2, 0, &[2; 10], 10)],
        );
        file.truncate(file.len() - 3);
        let mut cf = CaptureFile::from_bytes(file.clone(), "t").unwrap();
        assert_eq!(collect(&mut cf).unwrap().len(), 1);
        assert_eq!(cf.stats().malformed, 1);
        // Cut inside the record header as well.
        file.truncate(24 + 16 + 10 + 5);
        let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
        assert_eq!(collect(&mut cf).unwrap().len(), 1);
        assert_eq!(cf.stats().malformed, 1);
    }

    #[test]
    fn absurd_length_is_damage_with_offset() {
        let mut file = pcap(
            false,
            false,
            1,
            0,
            &[(1, 0, &[1; 10], 10), (2, 0, &[2; 10], 10)],
        );
        // caplen of the second record.
        let at = 24 + 16 + 10 + 8;
        file[at..at + 4].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
        assert!(matches!(cf.next(), Ok(Next::Packet(_))));
        match cf.next() {
            Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, at as u64),
            other => panic!("expected damage, got {other:?}"),
        }
        // The error is given once; then the capture is over.
        assert!(matches!(cf.next(), Ok(Next::End)));
    }

    #[test]
    fn caplen_over_snaplen_is_damage() {
        let file = pcap(true, false, 1, 8, &[(1, 0, &[1; 10], 10)]);
        let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
        assert!(matches!(
            cf.next(),
            Err(CaptureError::Damaged { offset: 32, .. })
        ));
    }

    #[test]
    fn garbage_is_unknown_format() {
        let err = CaptureFile::from_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "g")
            .err()
            .unwrap();
        match &err {
            CaptureError::UnknownFormat { magic, .. } => assert!(magic.starts_with("47 45 54 20")),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("not a pcap"));
        assert!(matches!(
            CaptureFile::from_bytes(Vec::new(), "e"),
            Err(CaptureError::UnknownFormat { .. })
        ));
        assert!(matches!(
            CaptureFile::from_bytes(vec![0x0a, 0x0d, 0x0d, 0x0a, 1, 2], "e"),
            Err(CaptureError::UnknownFormat { .. })
        ));
        assert!(matches!(
            stream(b"\x00\x01garbage garbage garbage".to_vec(), 1),
            Err(CaptureError::UnknownFormat { .. })
        ));
    }

    /// Two sections (the second in the other byte order), interfaces of different link types
    /// and resolutions, all three packet block kinds, and blocks we skip.
    fn pcapng_fixture(be: bool) -> (Vec<u8>, Vec<Got>) {
        let mut ng = Ng::new(be);
        ng.idb(1, 0, &[]); // Ethernet, µs by default
        ng.idb(101, 65535, &[(OPT_IF_TSRESOL, &[9]), (2, b"eth1\0\0")]); // raw IP, ns
        ng.block(4, &[0; 16]); // name resolution block: skipped
        ng.epb(0, 1_500_000_123_456, &[1, 2, 3], 3);
        ng.epb(1, 1_500_000_123_456_789_012, &[4, 5, 6, 7, 8], 1500);
        ng.pb(0, 3, 1_000_001, &[9; 7]);
        ng.spb(64, &[0xee; 64]);
        ng.block(0x0BAD_1DEA, &[1, 2, 3, 4, 5]); // custom: skipped
        ng.shb(!be);
        let tsoff = 100u64;
        let offb = if be {
            tsoff.to_le_bytes()
        } else {
            tsoff.to_be_bytes()
        };
        ng.idb(
            239,
            0,
            &[(OPT_IF_TSRESOL, &[0x80 | 10]), (OPT_IF_TSOFFSET, &offb)],
        ); // NFLOG
        ng.epb(0, 3 * 1024 + 512, &[0xab; 16], 16);
        let want = vec![
            got(1_500_000_123_456_000, LinkType::ETHERNET, &[1, 2, 3], 3),
            got(
                1_500_000_123_456_789_012,
                LinkType::RAW,
                &[4, 5, 6, 7, 8],
                1500,
            ),
            got(1_000_001_000, LinkType::ETHERNET, &[9; 7], 7),
            got(1_000_001_000, LinkType::ETHERNET, &[0xee; 64], 64),
            got(103_500_000_000, LinkType::NFLOG, &[0xab; 16], 16),
        ];
        (ng.out, want)
    }

    #[test]
    fn pcapng_sections_interfaces_and_blocks() {
        for be in [false, true] {
            let (file, want) = pcapng_fixture(be);
            let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
            assert_eq!(collect(&mut cf).unwrap(), want, "be={be}");
            let st = cf.stats();
            assert_eq!(st.packets, 5);
            assert_eq!(st.truncated, 1);
            assert_eq!(st.dropped, 3);
            assert_eq!(st.malformed, 0);
        }
    }

    #[test]
    fn pcapng_spb_is_cut_to_snaplen() {
        let mut ng = Ng::new(false);
        ng.idb(1, 20, &[]);
        ng.spb(100, &[7; 20]);
        let mut cf = CaptureFile::from_bytes(ng.out, "ng").unwrap();
        let pk = collect(&mut cf).unwrap();
        assert_eq!(pk, vec![got(0, LinkType::ETHERNET, &[7; 20], 100)]);
        assert_eq!(cf.stats().truncated, 1);
    }

    #[test]
    fn pcapng_damage() {
        // Unknown interface: counted and skipped.
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[]);
        ng.epb(5, 0, &[1], 1);
        ng.epb(0, 0, &[2], 1);
        let mut cf = CaptureFile::from_bytes(ng.out.clone(), "ng").unwrap();
        assert_eq!(collect(&mut cf).unwrap().len(), 1);
        assert_eq!(cf.stats().malformed, 1);

        // Cut-off last block: counted, and the end.
        let mut file = ng.out.clone();
        file.truncate(file.len() - 2);
        let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
        assert_eq!(collect(&mut cf).unwrap().len(), 0);
        assert_eq!(cf.stats().malformed, 2);

        // Trailing length that does not match: damage at the trailer.
        let mut file = ng.out.clone();
        let n = file.len();
        file[n - 4] ^= 0x40;
        let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
        match collect(&mut cf) {
            Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, n as u64 - 4),
            other => panic!("{other:?}"),
        }

        // Absurd block length in the middle.
        let mut file = ng.out.clone();
        let shb_len = 28;
        let idb_len = 20;
        let at = shb_len + idb_len + 4;
        file[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
        match collect(&mut cf) {
            Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, at as u64),
            other => panic!("{other:?}"),
        }

        // Packet length that overruns its block.
        let mut ng = Ng::new(true);
        ng.idb(1, 0, &[]);
        ng.epb(0, 0, &[1; 8], 8);
        let mut file = ng.out;
        let at = 28 + 20 + 8 + 12;
        file[at..at + 4].copy_from_slice(&9u32.to_be_bytes());
        let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
        assert!(matches!(
            collect(&mut cf),
            Err(CaptureError::Damaged { .. })
        ));
    }

    #[test]
    fn tsresol_conversions() {
        assert_eq!(TsResol::Pow10(6).to_ns(5), 5_000);
        assert_eq!(TsResol::Pow10(0).to_ns(5), 5_000_000_000);
        assert_eq!(TsResol::Pow10(12).to_ns(5_000), 5);
        assert_eq!(TsResol::Pow10(127).to_ns(u64::MAX), 0);
        assert_eq!(TsResol::Pow2(0).to_ns(1), 1_000_000_000);
        assert_eq!(TsResol::Pow2(1).to_ns(3), 1_500_000_000);
        assert_eq!(TsResol::Pow2(30).to_ns(1 << 30), 1_000_000_000);
        assert_eq!(TsResol::Pow2(127).to_ns(u64::MAX), 0);
        assert_eq!(TsResol::from_option(0x8a), TsResol::Pow2(10));
    }

    #[test]
    fn gzip_from_bytes_and_file_cap() {
        let (file, want) = pcapng_fixture(false);
        let gz = gzip(&file);
        let mut cf = CaptureFile::from_bytes(gz.clone(), "gz").unwrap();
        assert_eq!(collect(&mut cf).unwrap(), want);
        assert!(cf.shared_buffer().is_some());

        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&gz).unwrap();
        let path = tmp.path().to_str().unwrap();
        let mut src = open(path, 1 << 20).unwrap();
        assert_eq!(collect(src.as_mut()).unwrap(), want);
        assert!(matches!(
            open(path, 64),
            Err(CaptureError::TooLarge { cap: 64, .. })
        ));
    }

    #[test]
    fn mapped_file_and_missing_file() {
        let (file, want) = pcapng_fixture(true);
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&file).unwrap();
        let mut src = open(tmp.path().to_str().unwrap(), 0).unwrap();
        assert!(matches!(
            src.shared_buffer().as_deref(),
            Some(SharedBuf::Mapped(_))
        ));
        assert_eq!(collect(src.as_mut()).unwrap(), want);
        assert!(matches!(
            open("/nonexistent/x.pcap", 0),
            Err(CaptureError::Io { .. })
        ));
        let empty = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            open(empty.path().to_str().unwrap(), 0),
            Err(CaptureError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn streaming_matches_mapped() {
        let (ng, ng_want) = pcapng_fixture(false);
        let classic = pcap(
            true,
            true,
            1,
            0,
            &[(1, 2, &[3; 30], 30), (4, 5, &[6; 300], 300)],
        );
        let mut classic_cf = CaptureFile::from_bytes(classic.clone(), "c").unwrap();
        let classic_want = collect(&mut classic_cf).unwrap();
        for chunk in [1, 3, 7, 4096] {
            for (file, want) in [(&ng, &ng_want), (&classic, &classic_want)] {
                let mut cf = stream(file.clone(), chunk).unwrap();
                assert!(cf.shared_buffer().is_none());
                assert_eq!(&collect(&mut cf).unwrap(), want, "chunk={chunk}");
                let mut cf = stream(gzip(file), chunk).unwrap();
                assert_eq!(&collect(&mut cf).unwrap(), want, "gzip chunk={chunk}");
            }
        }
        // A cut-off stream.
        let mut cf = stream(classic[..classic.len() - 1].to_vec(), 5).unwrap();
        assert_eq!(collect(&mut cf).unwrap().len(), 1);
        assert_eq!(cf.stats().malformed, 1);
    }

    #[test]
    fn streaming_grows_for_big_blocks() {
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[]);
        ng.block(0x0BAD, &vec![0x55; 3 * STREAM_BUF_INITIAL]);
        ng.epb(0, 1, &[1; 200_000], 200_000);
        ng.epb(0, 2, &[2; 100], 100);
        let mut cf = stream(ng.out, 1 << 16).unwrap();
        let pk = collect(&mut cf).unwrap();
        assert_eq!(pk.len(), 2);
        assert_eq!(pk[0].data, vec![1; 200_000]);
        assert_eq!(pk[1].data, vec![2; 100]);
    }

    /// Drains a source whatever happens; checks the invariants a fuzzer would.
    fn drain(src: &mut CaptureFile) {
        let range = src.shared_buffer().map(|b| b.as_ptr_range());
        let mut n = 0;
        loop {
            match src.next() {
                Ok(Next::Packet(p)) => {
                    n += 1;
                    assert!(p.data.len() as u64 <= u64::from(p.wire_len));
                    assert!(p.data.len() <= MAX_PACKET_LEN as usize);
                    if let (Some(r), false) = (&range, p.data.is_empty()) {
                        assert!(r.contains(&p.data.as_ptr()));
                        assert!(p.data.as_ptr_range().end <= r.end);
                    }
                }
                Ok(Next::Idle) => panic!("idle"),
                Ok(Next::End) | Err(_) => break,
            }
        }
        assert_eq!(src.stats().packets, n);
        assert!(matches!(src.next(), Ok(Next::End)));
    }

    #[test]
    fn mutated_inputs_never_panic() {
        let (ng_le, _) = pcapng_fixture(false);
        let (ng_be, _) = pcapng_fixture(true);
        let classic = pcap(
            false,
            true,
            1,
            0,
            &[(1, 2, &[3; 30], 30), (4, 5, &[6; 90], 300)],
        );
        let seeds = [ng_le, ng_be, classic];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..6000 {
            let mut data = seeds[round % seeds.len()].clone();
            for _ in 0..1 + rnd() % 4 {
                let at = (rnd() % data.len() as u64) as usize;
                match rnd() % 4 {
                    0 => data[at] ^= 1 << (rnd() % 8),
                    1 => data[at] = rnd() as u8,
                    2 => data.truncate(at.max(1)),
                    _ => data[at] = [0, 0xff, 0x7f, 0x80][(rnd() % 4) as usize],
                }
            }
            if let Ok(mut src) = CaptureFile::from_bytes(data.clone(), "m") {
                drain(&mut src);
            }
            if round % 8 == 0 {
                if let Ok(mut src) = stream(data, 1 + (rnd() % 17) as usize) {
                    drain(&mut src);
                }
            }
        }
    }

    fn corpus_dir() -> Option<std::path::PathBuf> {
        [
            concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/pcaps/public"),
            "/work/shared/pcaps/public",
        ]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.join("MANIFEST.tsv").is_file())
    }

    #[test]
    fn public_corpus_counts_match_manifest() {
        let Some(dir) = corpus_dir() else {
            eprintln!("skipped: no public pcap corpus (../shared/pcaps/public)");
            return;
        };
        let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
        let mut lines = manifest.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (file_col, packets_col) = (col("file"), col("packets"));
        let known = [
            LinkType::NULL,
            LinkType::ETHERNET,
            LinkType::RAW,
            LinkType::IEEE802_11,
            LinkType::LOOP,
            LinkType::LINUX_SLL,
            LinkType::IEEE802_11_RADIOTAP,
            LinkType::IPV4,
            LinkType::IPV6,
            LinkType::NFLOG,
            LinkType::LINUX_SLL2,
        ];
        let mut checked = 0;
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let name = cols[file_col];
            let want: u64 = cols[packets_col].parse().unwrap();
            let path = dir.join(name);
            let mut src =
                open(path.to_str().unwrap(), 1 << 30).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut n = 0u64;
            let mut first = None;
            loop {
                match src.next().unwrap_or_else(|e| panic!("{name}: {e}")) {
                    Next::Packet(p) => {
                        n += 1;
                        first.get_or_insert(p.linktype);
                        assert!(p.data.len() as u64 <= u64::from(p.wire_len));
                    }
                    Next::Idle => panic!("{name}: idle"),
                    Next::End => break,
                }
            }
            assert_eq!(n, want, "{name}: packet count");
            assert_eq!(src.stats().packets, want, "{name}: stats");
            let lt = first.unwrap();
            assert!(known.contains(&lt), "{name}: unknown link type {lt:?}");
            checked += 1;
        }
        assert!(checked > 0);
        eprintln!("checked {checked} captures in {}", dir.display());
    }
}
