//! One HTTP body on its way into a file: content decoding (gzip, deflate, br) done
//! incrementally, with a decompression-bomb cap, and the decoded bytes hashed as the file.

use std::io::Write;

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

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

enum Decoder {
    Gzip(GzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
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
    fn take(&mut self) -> Vec<u8> {
        match self {
            Decoder::Gzip(d) => std::mem::take(d.get_mut()),
            Decoder::Zlib(d) => std::mem::take(d.get_mut()),
            Decoder::Raw(d) => std::mem::take(d.get_mut()),
            Decoder::Brotli(d) => std::mem::take(d.get_mut()),
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
}

/// One body being received.
#[derive(Debug)]
pub struct BodySink {
    file: FileTracker,
    coding: Coding,
    decoder: Option<Decoder>,
    /// Deflate: first bytes held until zlib and raw can be told apart.
    held: Vec<u8>,
    /// Entity bytes on the wire (after de-chunking).
    pub wire_len: u64,
    decoded_len: u64,
    /// Decoding stopped (error, bomb or gap): the file is incomplete.
    broken: bool,
    issue: Option<BodyIssue>,
    /// Coded bodies: the entity's first bytes, kept until decoding yields output, so that a
    /// body mislabelled as coded (decoding fails at once) is kept as it came.
    raw_prefix: Option<Vec<u8>>,
}

/// Most entity bytes kept for the mislabelled-coding fallback.
const RAW_PREFIX: usize = 64 << 10;

impl BodySink {
    /// A body with the given file metadata and content coding.
    pub fn new(meta: FileMeta, coding: Coding) -> BodySink {
        let decoder = match coding {
            Coding::Gzip => Some(Decoder::Gzip(GzDecoder::new(Vec::new()))),
            Coding::Brotli => Some(Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
                Vec::new(),
                4096,
            )))),
            Coding::Identity | Coding::Deflate => None,
        };
        BodySink {
            file: FileTracker::new(meta),
            coding,
            decoder,
            held: Vec::new(),
            wire_len: 0,
            decoded_len: 0,
            broken: false,
            issue: None,
            raw_prefix: (coding != Coding::Identity).then(Vec::new),
        }
    }

    /// The next entity bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.wire_len += data.len() as u64;
        if self.broken {
            return;
        }
        if let Some(p) = self.raw_prefix.as_mut() {
            if self.decoded_len == 0 && p.len() + data.len() <= RAW_PREFIX {
                p.extend_from_slice(data);
            } else {
                self.raw_prefix = None;
            }
        }
        match self.coding {
            Coding::Identity => {
                self.decoded_len += data.len() as u64;
                self.file.update(data);
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
        self.decoder = Some(if zlib {
            Decoder::Zlib(ZlibDecoder::new(Vec::new()))
        } else {
            Decoder::Raw(DeflateDecoder::new(Vec::new()))
        });
        let held = std::mem::take(&mut self.held);
        self.decode(&held);
    }

    fn decode(&mut self, data: &[u8]) {
        // Feed in slices so that a bomb is caught before it fills memory.
        for piece in data.chunks(16 << 10) {
            let Some(dec) = self.decoder.as_mut() else {
                return;
            };
            let res = dec.write(piece);
            let out = dec.take();
            if !self.push_decoded(&out) {
                return;
            }
            if res.is_err() {
                self.fail(BodyIssue::DecodeError);
                return;
            }
        }
    }

    /// Hashes decoded bytes; false when the bomb cap stopped decoding.
    fn push_decoded(&mut self, out: &[u8]) -> bool {
        self.decoded_len += out.len() as u64;
        let ratio_bad = self.decoded_len > RATIO_FLOOR
            && self.decoded_len > self.wire_len.saturating_mul(MAX_RATIO);
        if self.decoded_len > MAX_DECODED || ratio_bad {
            self.fail(BodyIssue::Bomb);
            return false;
        }
        self.file.update(out);
        true
    }

    fn fail(&mut self, issue: BodyIssue) {
        if issue == BodyIssue::DecodeError && self.decoded_len == 0 {
            if let Some(raw) = self.raw_prefix.take() {
                // Not coded after all: the entity is the file.
                self.coding = Coding::Identity;
                self.decoder = None;
                self.held.clear();
                self.decoded_len = raw.len() as u64;
                self.file.update(&raw);
                self.issue.get_or_insert(issue);
                return;
            }
        }
        self.broken = true;
        self.decoder = None;
        if self.issue.is_none() {
            self.issue = Some(issue);
        }
    }

    /// `len` entity bytes were never captured.
    pub fn gap(&mut self, len: u64) {
        self.wire_len += len;
        self.file.gap(len);
        if self.coding != Coding::Identity {
            // The decoder cannot go on past a hole.
            self.broken = true;
            self.decoder = None;
        }
    }

    /// A problem to report, once.
    pub fn take_issue(&mut self) -> Option<BodyIssue> {
        self.issue.take()
    }

    /// The body is over: flush the decoder and close the file.
    pub fn finish(mut self, id: String, complete: bool) -> (FileBody, Option<BodyIssue>) {
        if self.coding == Coding::Deflate && self.decoder.is_none() && !self.broken {
            self.start_deflate();
        }
        if let Some(mut dec) = self.decoder.take() {
            let res = dec.flush();
            let out = dec.take();
            if self.push_decoded(&out) && res.is_err() && complete {
                self.fail(BodyIssue::DecodeError);
            }
        }
        let ok = complete && !self.broken;
        let issue = self.issue.take();
        (self.file.finish(id, ok), issue)
    }
}
