//! One HTTP body on its way into a file: content decoding (gzip, deflate, br) done
//! incrementally, with a decompression-bomb cap, and the decoded bytes hashed as the file.

use std::io::Write;

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

use crate::files::budget::{Held, Releasable};
use crate::files::{FileBody, FileMeta, FileTracker};

/// Most decoded bytes kept for one body.
pub const MAX_DECODED: u64 = 50 << 20;
/// Largest decoded/wire ratio tolerated once past [`RATIO_FLOOR`] decoded bytes.
pub const MAX_RATIO: u64 = 1000;
/// Decoded size under which the ratio is not checked.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// Content coding of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// No (or an unknown) coding: the entity is the file.
    Identity,
    Gzip,
    /// "deflate": zlib in theory, raw deflate in practice; told apart by the first bytes.
    Deflate,
    Brotli,
}

impl Coding {
    /// The coding named by a Content-Encoding value (the last coding applied wins; stacked
    /// codings are not undone).
    pub fn from_header(v: &str) -> Coding {
        let last = v.rsplit(',').next().unwrap_or("").trim();
        if last.eq_ignore_ascii_case("gzip") || last.eq_ignore_ascii_case("x-gzip") {
            Coding::Gzip
        } else if last.eq_ignore_ascii_case("deflate") {
            Coding::Deflate
        } else if last.eq_ignore_ascii_case("br") {
            Coding::Brotli
        } else {
            Coding::Identity
        }
    }
}

/// Where decoded bytes go: straight into the file's hashes, never into a buffer, up to a limit
/// raised as coded bytes are fed. A write past the limit takes what fits and then fails, which
/// stops the decoder: however much a bomb would inflate to, memory stays that of the decoder
/// (its window and a few kilobytes of output).
#[derive(Debug, Default)]
struct Out {
    /// `None` only while moved out (see [`BodySink::take_out`]).
    file: Option<FileTracker>,
    /// Bytes written.
    len: u64,
    limit: u64,
    /// A write went past the limit.
    over: bool,
}

impl Write for Out {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let room = usize::try_from(self.limit.saturating_sub(self.len)).unwrap_or(usize::MAX);
        if room == 0 && !b.is_empty() {
            self.over = true;
            return Err(std::io::Error::other("decoded size cap"));
        }
        let take = b.get(..room.min(b.len())).unwrap_or_default();
        if let Some(f) = self.file.as_mut() {
            f.update(take);
        }
        self.len += take.len() as u64;
        Ok(take.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Gzip(GzDecoder<Out>),
    Zlib(ZlibDecoder<Out>),
    Raw(DeflateDecoder<Out>),
    Brotli(Box<brotli::DecompressorWriter<Out>>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "Gzip",
            Decoder::Zlib(_) => "Zlib",
            Decoder::Raw(_) => "Raw",
            Decoder::Brotli(_) => "Brotli",
        })
    }
}

impl Decoder {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
            Decoder::Raw(d) => d.write_all(data),
            Decoder::Brotli(d) => d.write_all(data),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Zlib(d) => d.try_finish(),
            Decoder::Raw(d) => d.try_finish(),
            Decoder::Brotli(d) => d.flush(),
        }
    }
    fn out(&mut self) -> &mut Out {
        match self {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zlib(d) => d.get_mut(),
            Decoder::Raw(d) => d.get_mut(),
            Decoder::Brotli(d) => d.get_mut(),
        }
    }
}

/// What went wrong while decoding, reported once as an anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyIssue {
    /// The coded data is invalid.
    DecodeError,
    /// The decoded size passed [`MAX_DECODED`] or the ratio [`MAX_RATIO`].
    Bomb,
    /// The file inspection memory cap (`files.inspect_memcap`) released this body.
    Memcap,
}

/// One body being received, its state held under the worker's file inspection memory cap
/// (see [`crate::files::budget`]): when the cap releases it, decoding stops and the file is
/// recorded incomplete and `truncated`.
#[derive(Debug)]
pub struct BodySink {
    body: Held<Body>,
}

impl BodySink {
    /// A body with the given file metadata and content coding.
    pub fn new(meta: FileMeta, coding: Coding) -> BodySink {
        BodySink {
            body: Held::new(Body::new(meta, coding)),
        }
    }

    /// The next entity bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.body.with(|b| b.update(data));
    }

    /// `len` entity bytes were never captured.
    pub fn gap(&mut self, len: u64) {
        self.body.with(|b| b.gap(len));
    }

    /// A problem to report, once.
    pub fn take_issue(&mut self) -> Option<BodyIssue> {
        self.body.with(Body::take_issue)
    }

    /// The body is over: flush the decoder and close the file.
    pub fn finish(mut self, id: String, complete: bool) -> (FileBody, Option<BodyIssue>) {
        self.body.with(|b| b.finish(id, complete))
    }
}

/// Heap bytes charged for a gzip/deflate decoder (its 32 KiB window, its tables and the
/// writer's 32 KiB buffer).
const FLATE_HELD: usize = 80 << 10;
/// Heap bytes charged for a brotli decoder besides its ring buffer.
const BROTLI_BASE_HELD: usize = 64 << 10;
/// Largest brotli ring buffer (a 24-bit window).
const BROTLI_MAX_WINDOW: u64 = 16 << 20;

impl Releasable for Body {
    fn held_bytes(&self) -> usize {
        let decoder = match &self.decoder {
            None => 0,
            Some(Decoder::Gzip(_) | Decoder::Zlib(_) | Decoder::Raw(_)) => FLATE_HELD,
            // The ring buffer grows to the window as output is produced.
            Some(Decoder::Brotli(d)) => BROTLI_BASE_HELD.saturating_add(
                usize::try_from(d.get_ref().len.min(BROTLI_MAX_WINDOW)).unwrap_or(usize::MAX),
            ),
        };
        let file = match &self.decoder {
            Some(Decoder::Gzip(d)) => d.get_ref().file.as_ref(),
            Some(Decoder::Zlib(d)) => d.get_ref().file.as_ref(),
            Some(Decoder::Raw(d)) => d.get_ref().file.as_ref(),
            Some(Decoder::Brotli(d)) => d.get_ref().file.as_ref(),
            None => self.out.file.as_ref(),
        }
        .map_or(0, FileTracker::held_bytes);
        decoder + file + self.held.capacity() + self.raw_prefix.as_ref().map_or(0, Vec::capacity)
    }

    fn release(&mut self) {
        self.broken = true;
        if self.issue.is_none() {
            self.issue = Some(BodyIssue::Memcap);
        } else {
            self.memcap_pending = true;
        }
        self.drop_decoder();
        self.held = Vec::new();
        self.raw_prefix = None;
        if let Some(f) = self.out.file.as_mut() {
            f.release();
        }
    }
}

/// A body's state (see [`BodySink`]).
#[derive(Debug)]
struct Body {
    /// The file and the decoded bytes' count, while no decoder holds them.
    out: Out,
    coding: Coding,
    decoder: Option<Decoder>,
    /// Deflate: first bytes held until zlib and raw can be told apart.
    held: Vec<u8>,
    /// Entity bytes on the wire (after de-chunking).
    wire_len: u64,
    /// Coded bytes handed to the decoder.
    fed: u64,
    /// Decoding stopped (error, bomb or gap): the file is incomplete.
    broken: bool,
    issue: Option<BodyIssue>,
    /// Coded bodies: the entity's first bytes, kept until decoding yields output, so that a
    /// body mislabelled as coded (decoding fails at once) is kept as it came.
    raw_prefix: Option<Vec<u8>>,
    /// Released by the memory cap while another issue was still to be reported.
    memcap_pending: bool,
}

/// Most entity bytes kept for the mislabelled-coding fallback.
const RAW_PREFIX: usize = 64 << 10;
/// Coded bytes fed to the decoder at a time, the decoded-size limit raised before each.
const DECODE_PIECE: usize = 16 << 10;

impl Body {
    /// A body with the given file metadata and content coding.
    fn new(meta: FileMeta, coding: Coding) -> Body {
        let mut sink = Body {
            out: Out {
                file: Some(FileTracker::new(meta)),
                len: 0,
                limit: u64::MAX,
                over: false,
            },
            coding,
            decoder: None,
            held: Vec::new(),
            wire_len: 0,
            fed: 0,
            broken: false,
            issue: None,
            raw_prefix: (coding != Coding::Identity).then(Vec::new),
            memcap_pending: false,
        };
        match coding {
            Coding::Gzip => sink.decoder = Some(Decoder::Gzip(GzDecoder::new(sink.take_out()))),
            Coding::Brotli => {
                sink.decoder = Some(Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
                    sink.take_out(),
                    4096,
                ))));
            }
            Coding::Identity | Coding::Deflate => {}
        }
        sink
    }

    /// The file and its count, out of the body (for a decoder to own).
    fn take_out(&mut self) -> Out {
        std::mem::take(&mut self.out)
    }

    /// Ends the decoder, if any, taking the file back (what it still holds is dropped).
    fn drop_decoder(&mut self) {
        if let Some(mut d) = self.decoder.take() {
            self.out = std::mem::take(d.out());
        }
    }

    /// Decoded bytes so far.
    fn decoded_len(&mut self) -> u64 {
        match self.decoder.as_mut() {
            Some(d) => d.out().len,
            None => self.out.len,
        }
    }

    /// Most decoded bytes allowed for the coded bytes fed so far.
    fn limit(&self) -> u64 {
        MAX_DECODED.min(RATIO_FLOOR.max(self.fed.saturating_mul(MAX_RATIO)))
    }

    /// The next entity bytes.
    fn update(&mut self, data: &[u8]) {
        self.wire_len += data.len() as u64;
        if self.broken {
            return;
        }
        let nothing_decoded = self.raw_prefix.is_some() && self.decoded_len() == 0;
        if let Some(p) = self.raw_prefix.as_mut() {
            if nothing_decoded && p.len() + data.len() <= RAW_PREFIX {
                p.extend_from_slice(data);
            } else {
                self.raw_prefix = None;
            }
        }
        match self.coding {
            Coding::Identity => {
                let _ = self.out.write_all(data);
            }
            Coding::Deflate if self.decoder.is_none() => {
                self.held.extend_from_slice(data);
                if self.held.len() >= 2 {
                    self.start_deflate();
                }
            }
            _ => self.decode(data),
        }
    }

    fn start_deflate(&mut self) {
        let b0 = self.held.first().copied().unwrap_or(0);
        let b1 = self.held.get(1).copied().unwrap_or(0);
        let zlib = b0 & 0x0f == 8 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
        let out = self.take_out();
        self.decoder = Some(if zlib {
            Decoder::Zlib(ZlibDecoder::new(out))
        } else {
            Decoder::Raw(DeflateDecoder::new(out))
        });
        let held = std::mem::take(&mut self.held);
        self.decode(&held);
    }

    fn decode(&mut self, data: &[u8]) {
        for piece in data.chunks(DECODE_PIECE) {
            self.fed += piece.len() as u64;
            let limit = self.limit();
            let Some(dec) = self.decoder.as_mut() else {
                return;
            };
            dec.out().limit = limit;
            if dec.write(piece).is_err() {
                let issue = if dec.out().over {
                    BodyIssue::Bomb
                } else {
                    BodyIssue::DecodeError
                };
                self.fail(issue);
                return;
            }
        }
    }

    fn fail(&mut self, issue: BodyIssue) {
        if issue == BodyIssue::DecodeError && self.decoded_len() == 0 {
            if let Some(raw) = self.raw_prefix.take() {
                // Not coded after all: the entity is the file.
                self.drop_decoder();
                self.coding = Coding::Identity;
                self.held.clear();
                self.out.limit = u64::MAX;
                let _ = self.out.write_all(&raw);
                self.issue.get_or_insert(issue);
                return;
            }
        }
        self.broken = true;
        self.drop_decoder();
        if self.issue.is_none() {
            self.issue = Some(issue);
        }
    }

    /// `len` entity bytes were never captured.
    fn gap(&mut self, len: u64) {
        self.wire_len += len;
        if self.coding != Coding::Identity {
            // The decoder cannot go on past a hole.
            self.broken = true;
            self.drop_decoder();
        }
        if let Some(f) = self.out.file.as_mut() {
            f.gap(len);
        }
    }

    /// A problem to report, once.
    fn take_issue(&mut self) -> Option<BodyIssue> {
        self.issue
            .take()
            .or_else(|| std::mem::take(&mut self.memcap_pending).then_some(BodyIssue::Memcap))
    }

    /// The body is over: flush the decoder and close the file.
    fn finish(&mut self, id: String, complete: bool) -> (FileBody, Option<BodyIssue>) {
        if self.coding == Coding::Deflate && self.decoder.is_none() && !self.broken {
            self.start_deflate();
        }
        let limit = self.limit();
        if let Some(dec) = self.decoder.as_mut() {
            dec.out().limit = limit;
            if dec.flush().is_err() {
                if dec.out().over {
                    self.fail(BodyIssue::Bomb);
                } else if complete {
                    self.fail(BodyIssue::DecodeError);
                }
            }
        }
        self.drop_decoder();
        let ok = complete && !self.broken;
        let issue = self.take_issue();
        let file = self
            .out
            .file
            .take()
            .unwrap_or_else(|| FileTracker::new(FileMeta::default()));
        (file.finish(id, ok), issue)
    }
}
