//! One HTTP body on its way into a file: content decoding (gzip / x-gzip, deflate as zlib or
//! raw, br, several stacked) done incrementally, with a decompression-bomb cap, and the decoded
//! bytes hashed as the file. Decoding follows what browsers save: a gzip member's CRC and size
//! are checked but a mismatch keeps the data (reported), bytes after the end of a compressed
//! stream are ignored (reported), a stream cut short keeps what it decoded.

use std::io::Write;

use flate2::{Decompress, FlushDecompress, Status};

use crate::files::budget::{Held, Releasable};
use crate::files::{FileBody, FileMeta, FileTracker};

/// Most decoded bytes kept for one body.
pub const MAX_DECODED: u64 = 50 << 20;
/// Largest decoded/wire ratio tolerated once past [`RATIO_FLOOR`] decoded bytes.
pub const MAX_RATIO: u64 = 1000;
/// Decoded size under which the ratio is not checked.
pub const RATIO_FLOOR: u64 = 1 << 20;
/// Most content codings undone on one body (the last ones applied); more are reported.
pub const MAX_CODINGS: usize = 4;

/// One content coding.
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
    /// The coding named by one token of a Content-Encoding value ("x-gzip" is gzip);
    /// `None` for a coding this decoder does not know.
    fn from_token(t: &str) -> Option<Coding> {
        let t = t.trim();
        if t.eq_ignore_ascii_case("gzip") || t.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else if t.eq_ignore_ascii_case("deflate") {
            Some(Coding::Deflate)
        } else if t.eq_ignore_ascii_case("br") {
            Some(Coding::Brotli)
        } else if t.is_empty() || t.eq_ignore_ascii_case("identity") {
            Some(Coding::Identity)
        } else {
            None
        }
    }

    /// The coding named by a Content-Encoding value: the last coding applied (see
    /// [`Codings`] for stacked ones).
    pub fn from_header(v: &str) -> Coding {
        let c = Codings::parse([v]);
        c.list.last().copied().unwrap_or(Coding::Identity)
    }
}

/// The content codings of a body in the order they were applied (Content-Encoding values,
/// several headers joined), as far as they are undone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Codings {
    /// Codings to undo, in the order applied (the last one is undone first).
    pub list: Vec<Coding>,
    /// A coding this decoder does not know: the ones applied after it are undone, the body
    /// stays coded by it (as Chromium does: it passes such a body on raw).
    pub unknown: bool,
    /// More than [`MAX_CODINGS`] codings: only the last ones are undone.
    pub too_many: bool,
}

impl Codings {
    /// Reads Content-Encoding values (one per header line).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Codings {
        let mut c = Codings::default();
        for v in values {
            for t in v.split(',') {
                match Coding::from_token(t) {
                    Some(Coding::Identity) => {}
                    Some(k) => c.list.push(k),
                    None => {
                        // Everything applied before an unknown coding stays.
                        c.list.clear();
                        c.unknown = true;
                    }
                }
            }
        }
        if c.list.len() > MAX_CODINGS {
            let cut = c.list.len() - MAX_CODINGS;
            c.list.drain(..cut);
            c.too_many = true;
        }
        c
    }

    /// No decoding to do.
    pub fn is_identity(&self) -> bool {
        self.list.is_empty()
    }
}

/// Where decoded bytes go: straight into the file's hashes, never into a buffer, up to a limit
/// raised as coded bytes are fed. A write past the limit takes what fits and then fails, which
/// stops the decoder: however much a bomb would inflate to, memory stays that of the decoders
/// (their windows and a few kilobytes of output).
#[derive(Debug, Default)]
struct Out {
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

/// Notes a decoding stage makes about its stream (bits).
const NOTE_BAD_TRAILER: u8 = 1;
const NOTE_TRAILING_DATA: u8 = 2;
const NOTE_CUT: u8 = 4;

/// Output buffer of one inflate stage.
const INFLATE_BUF: usize = 8 << 10;
/// Longest gzip header accepted (its optional name and comment included).
const MAX_GZIP_HEADER: usize = 16 << 10;

/// Where an inflate stage is in its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// gzip: reading the member header (held in `pending`).
    GzipHeader,
    /// deflate: the first two bytes tell zlib from raw (held in `pending`).
    Sniff,
    /// Inside the deflate data.
    Data,
    /// After the deflate data: the trailer (gzip CRC32 and size, zlib Adler-32), held in
    /// `pending`.
    Trailer,
    /// Over; what comes now is ignored.
    Done,
}

/// A gzip or deflate decoding stage, its output written to the next stage.
struct Inflate {
    gzip: bool,
    phase: Phase,
    z: Decompress,
    /// Header or trailer bytes not complete yet.
    pending: Vec<u8>,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    size: u32,
    /// Trailer length for this stream (8 gzip, 4 zlib, 0 raw).
    trailer: usize,
    notes: u8,
    next: Dec,
}

/// The decoding chain: stages, each writing into the next, ending at the file.
enum Dec {
    Out(Box<Out>),
    Inflate(Box<Inflate>),
    Brotli(Box<brotli::DecompressorWriter<Dec>>),
}

impl std::fmt::Debug for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dec::Out(o) => o.fmt(f),
            Dec::Inflate(i) => write!(f, "Inflate(gzip: {}) -> {:?}", i.gzip, i.next),
            Dec::Brotli(b) => write!(f, "Brotli -> {:?}", b.get_ref()),
        }
    }
}

fn bad(what: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

/// Length of the gzip member header at the start of `h`: `Ok(None)` when more bytes are
/// needed, `Err` when it is not a gzip header.
fn gzip_header_len(h: &[u8]) -> std::io::Result<Option<usize>> {
    let at = |i: usize| h.get(i).copied();
    for (i, want) in [(0, 0x1f), (1, 0x8b), (2, 8)] {
        match at(i) {
            None => return Ok(None),
            Some(b) if b != want => return Err(bad("not gzip")),
            Some(_) => {}
        }
    }
    let Some(flags) = at(3) else { return Ok(None) };
    let mut n = 10;
    if h.len() < n {
        return Ok(None);
    }
    if flags & 4 != 0 {
        let (Some(lo), Some(hi)) = (at(n), at(n + 1)) else {
            return Ok(None);
        };
        n += 2 + usize::from(u16::from_le_bytes([lo, hi]));
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            match h.get(n..).and_then(|r| r.iter().position(|b| *b == 0)) {
                Some(z) => n += z + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 2 != 0 {
        n += 2;
    }
    Ok((h.len() >= n).then_some(n))
}

impl Inflate {
    fn new(coding: Coding, next: Dec) -> Inflate {
        let gzip = coding == Coding::Gzip;
        Inflate {
            gzip,
            phase: if gzip {
                Phase::GzipHeader
            } else {
                Phase::Sniff
            },
            z: Decompress::new(false),
            pending: Vec::new(),
            buf: Vec::new(),
            crc: crc32fast::Hasher::new(),
            size: 0,
            trailer: if gzip { 8 } else { 0 },
            notes: 0,
            next,
        }
    }

    fn feed(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            match self.phase {
                Phase::GzipHeader => {
                    let before = self.pending.len();
                    let take = data.len().min(MAX_GZIP_HEADER + 1 - before);
                    self.pending
                        .extend_from_slice(data.get(..take).unwrap_or_default());
                    match gzip_header_len(&self.pending)? {
                        Some(n) => {
                            let used = n.saturating_sub(before);
                            data = data.get(used..).unwrap_or_default();
                            self.pending.clear();
                            self.phase = Phase::Data;
                        }
                        None if self.pending.len() > MAX_GZIP_HEADER => {
                            return Err(bad("gzip header too long"))
                        }
                        None => return Ok(()),
                    }
                }
                Phase::Sniff => {
                    let before = self.pending.len();
                    let take = data.len().min(2 - before);
                    self.pending
                        .extend_from_slice(data.get(..take).unwrap_or_default());
                    data = data.get(take..).unwrap_or_default();
                    if self.pending.len() < 2 {
                        return Ok(());
                    }
                    let (b0, b1) = (self.pending[0], self.pending[1]);
                    let zlib = b0 & 0x0f == 8 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
                    let held = std::mem::take(&mut self.pending);
                    self.phase = Phase::Data;
                    if zlib {
                        if b1 & 0x20 != 0 {
                            return Err(bad("zlib preset dictionary"));
                        }
                        self.trailer = 4;
                    } else {
                        self.inflate(&held)?;
                    }
                }
                Phase::Data => {
                    let used = self.inflate(data)?;
                    data = data.get(used..).unwrap_or_default();
                }
                Phase::Trailer => {
                    let take = data.len().min(self.trailer - self.pending.len());
                    self.pending
                        .extend_from_slice(data.get(..take).unwrap_or_default());
                    data = data.get(take..).unwrap_or_default();
                    if self.pending.len() == self.trailer {
                        self.check_trailer();
                        self.phase = Phase::Done;
                    }
                }
                Phase::Done => {
                    // Browsers stop at the end of the (first) compressed stream.
                    self.notes |= NOTE_TRAILING_DATA;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn check_trailer(&mut self) {
        if !self.gzip {
            // The zlib Adler-32 is not checked (browsers do not fail on it either).
            return;
        }
        let t = &self.pending;
        let word = |i: usize| {
            t.get(i..i + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
        };
        let crc = std::mem::take(&mut self.crc).finalize();
        if word(0) != Some(crc) || word(4) != Some(self.size) {
            self.notes |= NOTE_BAD_TRAILER;
        }
    }

    /// Inflates from `data`; returns the bytes consumed (all of them unless the stream ended).
    fn inflate(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0; INFLATE_BUF];
        }
        let mut used = 0;
        loop {
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let input = data.get(used..).unwrap_or_default();
            let status = self
                .z
                .decompress(input, &mut self.buf, FlushDecompress::None)
                .map_err(|_| bad("invalid deflate data"))?;
            let consumed = usize::try_from(self.z.total_in() - in0).unwrap_or(usize::MAX);
            let produced = usize::try_from(self.z.total_out() - out0).unwrap_or(usize::MAX);
            used += consumed;
            let out = self.buf.get(..produced).unwrap_or_default();
            if self.gzip {
                self.crc.update(out);
                self.size = self.size.wrapping_add(produced as u32);
            }
            self.next.write_all(out)?;
            if status == Status::StreamEnd {
                self.phase = if self.trailer > 0 {
                    Phase::Trailer
                } else {
                    Phase::Done
                };
                return Ok(used);
            }
            if consumed == 0 && produced == 0 {
                if used < data.len() {
                    return Err(bad("inflate made no progress"));
                }
                return Ok(used);
            }
            if used >= data.len() && produced < self.buf.len() {
                return Ok(used);
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.phase {
            Phase::Done => {}
            // A gzip member without its trailer: browsers keep the data.
            Phase::Trailer => self.notes |= NOTE_BAD_TRAILER,
            Phase::Data | Phase::GzipHeader | Phase::Sniff => {
                if self.phase == Phase::Sniff && !self.pending.is_empty() {
                    let held = std::mem::take(&mut self.pending);
                    self.phase = Phase::Data;
                    self.inflate(&held)?;
                }
                if self.phase != Phase::Done {
                    self.notes |= NOTE_CUT;
                }
            }
        }
        self.next.finish()
    }
}

impl Write for Dec {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Dec::Out(o) => o.write(b),
            Dec::Inflate(i) => i.feed(b).map(|()| b.len()),
            Dec::Brotli(d) => d.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Dec {
    /// The chain undoing `codings` (applied in that order) into `out`.
    fn chain(codings: &[Coding], out: Out) -> Dec {
        let mut d = Dec::Out(Box::new(out));
        for c in codings {
            d = match c {
                Coding::Identity => d,
                Coding::Gzip | Coding::Deflate => Dec::Inflate(Box::new(Inflate::new(*c, d))),
                Coding::Brotli => Dec::Brotli(Box::new(brotli::DecompressorWriter::new(d, 4096))),
            };
        }
        d
    }

    fn out(&mut self) -> &mut Out {
        match self {
            Dec::Out(o) => o.as_mut(),
            Dec::Inflate(i) => i.next.out(),
            Dec::Brotli(d) => d.get_mut().out(),
        }
    }

    fn out_ref(&self) -> &Out {
        match self {
            Dec::Out(o) => o.as_ref(),
            Dec::Inflate(i) => i.next.out_ref(),
            Dec::Brotli(d) => d.get_ref().out_ref(),
        }
    }

    /// The end of the coded data: each stage flushes into the next.
    fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Dec::Out(_) => Ok(()),
            Dec::Inflate(i) => i.finish(),
            Dec::Brotli(d) => {
                d.flush()?;
                d.get_mut().finish()
            }
        }
    }

    fn notes(&self) -> u8 {
        match self {
            Dec::Out(_) => 0,
            Dec::Inflate(i) => i.notes | i.next.notes(),
            Dec::Brotli(d) => d.get_ref().notes(),
        }
    }

    /// Heap bytes charged for the stages (not the file).
    fn held(&self) -> usize {
        match self {
            Dec::Out(_) => 0,
            Dec::Inflate(i) => FLATE_HELD + i.pending.capacity() + i.next.held(),
            // The ring buffer grows to the window as output is produced.
            Dec::Brotli(d) => BROTLI_BASE_HELD
                .saturating_add(
                    usize::try_from(d.get_ref().out_ref().len.min(BROTLI_MAX_WINDOW))
                        .unwrap_or(usize::MAX),
                )
                .saturating_add(d.get_ref().held()),
        }
    }

    /// The file's end of the chain, the stages dropped.
    fn into_out(mut self) -> Out {
        std::mem::take(self.out())
    }
}

/// What went wrong while decoding, reported once each as an anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyIssue {
    /// The coded data is invalid (or cut before its end).
    DecodeError,
    /// The decoded size passed [`MAX_DECODED`] or the ratio [`MAX_RATIO`].
    Bomb,
    /// The file inspection memory cap (`files.inspect_memcap`) released this body.
    Memcap,
    /// A gzip member's CRC32 or size did not match, or its trailer was missing: the data is
    /// kept, as browsers keep it.
    BadTrailer,
    /// Bytes after the end of a compressed stream (ignored, as browsers ignore them).
    TrailingData,
    /// A content coding not known here: the body stays coded by it.
    UnknownCoding,
    /// More than [`MAX_CODINGS`] stacked codings.
    TooManyCodings,
}

const ISSUES: [BodyIssue; 7] = [
    BodyIssue::DecodeError,
    BodyIssue::Bomb,
    BodyIssue::Memcap,
    BodyIssue::BadTrailer,
    BodyIssue::TrailingData,
    BodyIssue::UnknownCoding,
    BodyIssue::TooManyCodings,
];

fn bit(i: BodyIssue) -> u8 {
    1 << ISSUES.iter().position(|x| *x == i).unwrap_or(0)
}

/// One body being received, its state held under the worker's file inspection memory cap
/// (see [`crate::files::budget`]): when the cap releases it, decoding stops and the file is
/// recorded incomplete and `truncated`.
#[derive(Debug)]
pub struct BodySink {
    body: Held<Body>,
}

impl BodySink {
    /// A body with the given file metadata and content codings.
    pub fn new(meta: FileMeta, codings: &Codings) -> BodySink {
        BodySink {
            body: Held::new(Body::new(meta, codings)),
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

    /// The body is over: flush the decoders and close the file; the problems not reported yet.
    pub fn finish(mut self, id: String, complete: bool) -> (FileBody, Vec<BodyIssue>) {
        self.body.with(|b| b.finish(id, complete))
    }
}

/// Heap bytes charged for a gzip/deflate stage (its 32 KiB window, its tables and the
/// stage's 8 KiB output buffer).
const FLATE_HELD: usize = 80 << 10;
/// Heap bytes charged for a brotli decoder besides its ring buffer.
const BROTLI_BASE_HELD: usize = 64 << 10;
/// Largest brotli ring buffer (a 24-bit window).
const BROTLI_MAX_WINDOW: u64 = 16 << 20;

impl Releasable for Body {
    fn held_bytes(&self) -> usize {
        let file = self.chain.as_ref().map_or(0, |c| {
            c.out_ref().file.as_ref().map_or(0, FileTracker::held_bytes)
        });
        self.chain.as_ref().map_or(0, Dec::held)
            + file
            + self.raw_prefix.as_ref().map_or(0, Vec::capacity)
    }

    fn release(&mut self) {
        self.broken = true;
        self.issues |= bit(BodyIssue::Memcap);
        self.drop_decoder();
        self.raw_prefix = None;
        if let Some(f) = self.chain.as_mut().and_then(|c| c.out().file.as_mut()) {
            f.release();
        }
    }
}

/// A body's state (see [`BodySink`]).
#[derive(Debug)]
struct Body {
    /// The decoders and the file (`None` only while being rebuilt).
    chain: Option<Dec>,
    coded: bool,
    /// Entity bytes on the wire (after de-chunking).
    wire_len: u64,
    /// Coded bytes handed to the decoder.
    fed: u64,
    /// Decoding stopped (error, bomb or gap): the file is incomplete.
    broken: bool,
    /// Problems to report (bits of [`ISSUES`]).
    issues: u8,
    /// Coded bodies: the entity's first bytes, kept until decoding yields output, so that a
    /// body mislabelled as coded (decoding fails at once) is kept as it came.
    raw_prefix: Option<Vec<u8>>,
}

/// Most entity bytes kept for the mislabelled-coding fallback.
const RAW_PREFIX: usize = 64 << 10;
/// Coded bytes fed to the decoder at a time, the decoded-size limit raised before each.
const DECODE_PIECE: usize = 16 << 10;

impl Body {
    fn new(meta: FileMeta, codings: &Codings) -> Body {
        let out = Out {
            file: Some(FileTracker::new(meta)),
            len: 0,
            limit: u64::MAX,
            over: false,
        };
        let coded = !codings.is_identity();
        let mut issues = 0;
        if codings.unknown {
            issues |= bit(BodyIssue::UnknownCoding);
        }
        if codings.too_many {
            issues |= bit(BodyIssue::TooManyCodings);
        }
        Body {
            chain: Some(Dec::chain(&codings.list, out)),
            coded,
            wire_len: 0,
            fed: 0,
            broken: false,
            issues,
            raw_prefix: coded.then(Vec::new),
        }
    }

    /// Ends the decoders, if any, keeping the file (what they still hold is dropped).
    fn drop_decoder(&mut self) {
        if let Some(c) = self.chain.take() {
            self.chain = Some(Dec::Out(Box::new(c.into_out())));
        }
    }

    fn out(&mut self) -> Option<&mut Out> {
        self.chain.as_mut().map(Dec::out)
    }

    /// Decoded bytes so far.
    fn decoded_len(&self) -> u64 {
        self.chain.as_ref().map_or(0, |c| c.out_ref().len)
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
        if !self.coded {
            if let Some(o) = self.out() {
                let _ = o.write_all(data);
            }
            return;
        }
        let nothing_decoded = self.decoded_len() == 0;
        if let Some(p) = self.raw_prefix.as_mut() {
            if nothing_decoded && p.len() + data.len() <= RAW_PREFIX {
                p.extend_from_slice(data);
            } else {
                self.raw_prefix = None;
            }
        }
        for piece in data.chunks(DECODE_PIECE) {
            self.fed += piece.len() as u64;
            let limit = self.limit();
            let Some(chain) = self.chain.as_mut() else {
                return;
            };
            chain.out().limit = limit;
            if chain.write_all(piece).is_err() {
                let issue = if chain.out().over {
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
                self.coded = false;
                if let Some(o) = self.out() {
                    o.limit = u64::MAX;
                    let _ = o.write_all(&raw);
                }
                self.issues |= bit(issue);
                return;
            }
        }
        self.broken = true;
        self.collect_notes();
        self.drop_decoder();
        self.issues |= bit(issue);
    }

    /// The stages' notes as issues.
    fn collect_notes(&mut self) {
        let notes = self.chain.as_ref().map_or(0, Dec::notes);
        if notes & NOTE_BAD_TRAILER != 0 {
            self.issues |= bit(BodyIssue::BadTrailer);
        }
        if notes & NOTE_TRAILING_DATA != 0 {
            self.issues |= bit(BodyIssue::TrailingData);
        }
    }

    /// `len` entity bytes were never captured.
    fn gap(&mut self, len: u64) {
        self.wire_len += len;
        if self.coded {
            // The decoder cannot go on past a hole.
            self.broken = true;
            self.drop_decoder();
        }
        if let Some(f) = self.out().and_then(|o| o.file.as_mut()) {
            f.gap(len);
        }
    }

    /// A problem to report, once.
    fn take_issue(&mut self) -> Option<BodyIssue> {
        let i = ISSUES
            .iter()
            .copied()
            .find(|i| self.issues & bit(*i) != 0)?;
        self.issues &= !bit(i);
        Some(i)
    }

    /// The body is over: flush the decoders and close the file.
    fn finish(&mut self, id: String, complete: bool) -> (FileBody, Vec<BodyIssue>) {
        let mut cut = false;
        if self.coded && !self.broken {
            let limit = self.limit();
            if let Some(chain) = self.chain.as_mut() {
                chain.out().limit = limit;
                let r = chain.finish();
                cut = chain.notes() & NOTE_CUT != 0;
                if r.is_err() {
                    if chain.out().over {
                        self.fail(BodyIssue::Bomb);
                    } else if complete {
                        self.fail(BodyIssue::DecodeError);
                    }
                } else if cut && complete {
                    // The compressed stream ends before the body: what was decoded is kept.
                    self.issues |= bit(BodyIssue::DecodeError);
                }
            }
            self.collect_notes();
        }
        self.drop_decoder();
        let ok = complete && !self.broken && !cut;
        let issues = std::iter::from_fn(|| self.take_issue()).collect();
        let file = self
            .out()
            .and_then(|o| o.file.take())
            .unwrap_or_else(|| FileTracker::new(FileMeta::default()));
        (file.finish(id, ok), issues)
    }
}
