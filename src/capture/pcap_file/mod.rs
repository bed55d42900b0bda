//! Capture files: classic pcap (all four magics) and pcapng (several sections and interfaces,
//! both byte orders), plain or gzip-compressed, from a path or from stdin.
//!
//! Files and stdin are read through a reusable, bounded buffer (gzip is inflated on the fly
//! into it), and packets borrow that buffer until the next call: memory stays bounded whatever
//! the size of the capture, and a file truncated under us is an error, not a SIGBUS (see
//! `backing`). Bytes already in memory ([`CaptureFile::from_bytes`]) are read in place, and
//! packets are sub-slices of that [`SharedBuf`].
//!
//! The parsers are our own and work on the raw bytes: every read from file data is
//! bounds-checked, and no length field is trusted for an allocation. One job per file:
//! - this file: opening, the [`CaptureFile`] driver and its [`PacketSource`] implementation;
//! - `backing`: where the bytes come from (a shared buffer, or a file or stream through a bounded
//!   buffer);
//! - `gzip`: gzip detection and inflation;
//! - `pcap`: the classic pcap file header and records;
//! - `pcapng`: pcapng blocks, one function per block type.
//!
//! The format parsers are sans-IO: they look at the unread bytes and say what they found, or
//! how many bytes they need; the driver here fetches more bytes and calls them again.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::sync::Arc;

mod backing;
mod gzip;
mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;

use backing::{Backing, FileReader, StreamBuf};
use pcap::PcapHeader;
use pcapng::NgState;

use super::{CaptureError, CaptureStats, LinkType, Next, Packet, PacketSource, SharedBuf};

/// Largest captured length of one packet we accept (libpcap's maximum snap length).
pub const MAX_PACKET_LEN: u32 = 256 * 1024;

/// Largest pcapng block we accept; anything bigger is treated as a corrupt length.
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

/// Decompression cap used by [`CaptureFile::from_bytes`] for gzipped input.
pub const FROM_BYTES_GZIP_CAP: u64 = 16 * 1024 * 1024;

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

enum Format {
    Pcap(PcapHeader),
    PcapNg(NgState),
}

/// Where the next packet lies in the unread bytes, and its metadata.
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

/// What a format parser found at the read position.
enum Step {
    Packet(Found),
    /// A block or record without a packet: consume this many bytes and go on.
    Skip(usize),
    /// A well-formed block that cannot be used (unknown interface, say): count and skip it.
    SkipMalformed(usize),
    /// At least this many unread bytes are needed to go on (more than are available now).
    Need(usize),
    /// The capture is damaged `rel` bytes after the read position.
    Damaged {
        rel: usize,
        reason: String,
    },
}

impl Step {
    fn damaged(rel: usize, reason: impl Into<String>) -> Step {
        Step::Damaged {
            rel,
            reason: reason.into(),
        }
    }
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

impl CaptureFile {
    /// Opens the capture at `path` and reads its header, so a file of an unknown format fails
    /// now. The file is read through a bounded buffer; gzip is inflated on the fly, and
    /// inflating past `max_decompressed` bytes fails with [`CaptureError::TooLarge`].
    pub fn open_path(path: &str, max_decompressed: u64) -> Result<CaptureFile, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        let reader = FileReader::new(file).map_err(io_err)?;
        CaptureFile::from_stream(Box::new(reader), path, Some(max_decompressed))
    }

    /// A capture over bytes in memory (tests, fuzzing). Gzip is inflated, up to
    /// [`FROM_BYTES_GZIP_CAP`] bytes. `name` is used in error messages.
    pub fn from_bytes(data: Vec<u8>, name: &str) -> Result<CaptureFile, CaptureError> {
        let data = if gzip::is_gzip(&data) {
            gzip::gunzip(&data, name, FROM_BYTES_GZIP_CAP)?
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
        CaptureFile::from_stream(reader, name, None)
    }

    /// A streaming capture; gzip'd input may inflate to at most `gzip_cap` bytes.
    fn from_stream(
        reader: Box<dyn Read + Send>,
        name: &str,
        gzip_cap: Option<u64>,
    ) -> Result<CaptureFile, CaptureError> {
        let mut sb = StreamBuf::new(reader);
        sb.fill(2).map_err(|source| CaptureError::Io {
            path: name.to_string(),
            source,
        })?;
        if gzip::is_gzip(sb.avail()) {
            tracing::debug!(name, "inflating gzip capture on the fly");
            sb = gzip::inflate_stream(sb, gzip_cap);
        }
        CaptureFile::start(Backing::Stream(sb), name)
    }

    /// Bytes this source holds in memory for its input: the whole capture when it was given
    /// as bytes, else the read buffer (bounded by the largest block it had to hold).
    pub fn held_bytes(&self) -> usize {
        self.backing.held_bytes()
    }

    /// Reads the file header and builds the source.
    fn start(backing: Backing, name: &str) -> Result<CaptureFile, CaptureError> {
        let mut cf = CaptureFile {
            name: name.to_string(),
            backing,
            // Replaced below once the header is read.
            format: Format::Pcap(PcapHeader::default()),
            stats: CaptureStats::default(),
            offset: 0,
            done: false,
        };
        cf.ensure(pcap::HEADER_LEN)?;
        let head = cf.backing.avail();
        let unknown = || CaptureError::UnknownFormat {
            path: name.to_string(),
            magic: hex_prefix(head),
        };
        if let Some(parsed) = PcapHeader::parse(head) {
            let Some(h) = parsed else {
                return Err(cf.damaged(0, "file header cut off"));
            };
            tracing::debug!(name, be = h.be, nanos = h.nanos, linktype = ?h.linktype,
                snaplen = h.snaplen, "classic pcap");
            cf.format = Format::Pcap(h);
            cf.consume(pcap::HEADER_LEN);
            return Ok(cf);
        }
        match NgState::from_first_block(head) {
            Some(ng) => {
                tracing::debug!(name, be = ng.be, "pcapng");
                cf.format = Format::PcapNg(ng);
                Ok(cf)
            }
            None => Err(unknown()),
        }
    }

    /// Makes at least `n` bytes available if the input has them; false at the end of input.
    fn ensure(&mut self, n: usize) -> Result<bool, CaptureError> {
        self.backing
            .ensure(n)
            .map_err(|source| match gzip::cap_reached(&source) {
                Some(cap) => CaptureError::TooLarge {
                    path: self.name.clone(),
                    cap,
                },
                None => CaptureError::Io {
                    path: self.name.clone(),
                    source,
                },
            })
    }

    fn consume(&mut self, n: usize) {
        self.backing.consume(n);
        self.offset += n as u64;
    }

    fn damaged(&self, rel: usize, reason: impl Into<String>) -> CaptureError {
        CaptureError::Damaged {
            path: self.name.clone(),
            offset: self.offset + rel as u64,
            reason: reason.into(),
        }
    }

    /// Runs the format parser until it finds a packet; `None` at the end of the capture.
    fn find(&mut self) -> Result<Option<Found>, CaptureError> {
        loop {
            let avail = self.backing.avail();
            let step = match &mut self.format {
                Format::Pcap(h) => h.step(avail, &mut self.stats),
                Format::PcapNg(ng) => ng.step(avail, self.offset, &mut self.stats),
            };
            match step {
                Step::Packet(f) => return Ok(Some(f)),
                Step::Skip(n) => self.consume(n),
                Step::SkipMalformed(n) => {
                    self.stats.malformed += 1;
                    self.consume(n);
                }
                Step::Need(n) => {
                    if self.ensure(n)? {
                        if self.backing.avail().len() < n {
                            // The parsers bound what they ask for; this would loop forever.
                            return Err(self.damaged(0, format!("needs {n} bytes at once")));
                        }
                        continue;
                    }
                    if self.backing.avail().is_empty() {
                        return Ok(None);
                    }
                    tracing::warn!(
                        path = %self.name,
                        offset = self.offset,
                        "capture ends inside a record; ignoring the cut-off record"
                    );
                    self.stats.malformed += 1;
                    return Ok(None);
                }
                Step::Damaged { rel, reason } => return Err(self.damaged(rel, reason)),
            }
        }
    }
}

impl PacketSource for CaptureFile {
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.done {
            return Ok(Next::End);
        }
        let found = match self.find() {
            Ok(Some(f)) => f,
            Ok(None) => {
                self.done = true;
                return Ok(Next::End);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
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
        let start = self.backing.pos() + found.rel;
        self.consume(found.consumed);
        let pkt = Packet {
            ts_ns: found.ts_ns,
            linktype: found.linktype,
            data: self
                .backing
                .whole()
                .get(start..start + found.len)
                .unwrap_or(&[]),
            wire_len: found.wire_len,
        };
        Ok(Next::Packet(pkt))
    }

    fn shared_buffer(&self) -> Option<Arc<SharedBuf>> {
        self.backing.shared()
    }

    fn stats(&self) -> CaptureStats {
        self.stats
    }
}
