//! The per-connection HTTP/1.x state machine: one [`Side`] per direction, requests queued in
//! order until their responses arrive (pipelining, keep-alive), bodies streamed into files.
//!
//! Longer than the other state files (about 790 lines) on purpose: it is one state machine
//! (head, body by length / chunked / until close, interim responses, resynchronisation after a
//! gap) whose transitions read and change the same `Side` and `Txs`; split across files they
//! would have to expose those to each other. Wire parsing is in `parser.rs`, content decoding
//! in `body.rs`.

use crate::proto::http::HttpAnomaly;
use std::collections::VecDeque;

use crate::files::FileMeta;
use crate::proto::AppBody;
use crate::proto::{AppParser, AppProto, Direction, Handover, ParseCtx, Transport};

use super::body::{BodyIssue, BodySink, Codings};
use super::multipart::{form_boundary, Multipart, PartEvent};
use super::parser::{chunk_size, find_start, find_status_anywhere, has_head_end, header_all};
use super::parser::{
    disposition_filename, framing, header, parse_auth, parse_request, parse_response,
    strip_url_password, uri_filename, Framing, Head, HeadError, MAX_HEAD,
};
use super::parser::{
    Q_BAD_LINE, Q_BARE_CR, Q_BARE_LF, Q_FOLDED, Q_HTTP09, Q_LOWER_VERSION, Q_ODD_REQUEST_LINE,
};
use super::record::{FormPart, HttpBody};

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 8 << 10;
/// Most requests waiting for their responses; older ones are reported unanswered.
const MAX_PENDING: usize = 256;
/// Most bytes searched for the status line of a connection's first response ("junk before the
/// status line"); a response without one within them is read as HTTP/0.9.
const MAX_JUNK: usize = 4096;

/// Where a chunked body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// How the current body is delimited, and how much is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyMode {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// What one direction is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Expecting a head.
    Head,
    /// Inside a body.
    Body(BodyMode),
    /// Lost sync: skipping to the next line that looks like a start line.
    Resync,
    /// Request side after CONNECT: waiting for the response before reading on.
    ConnectWait,
    /// Not parsing any more (tunnel, head too large, broken chunking).
    Stopped,
}

/// The body being received on one side.
#[derive(Debug)]
struct ActiveBody {
    /// Transaction the body belongs to.
    seq: u64,
    /// Metadata for the file, taken when its first byte arrives.
    meta: Option<FileMeta>,
    codings: Codings,
    sink: Option<BodySink>,
    file_id: String,
    len: u64,
    /// A `multipart/form-data` request body being split into its parts.
    multipart: Option<Box<Multipart>>,
    /// Parts cut by a gap, emitted when the body ends.
    pending_parts: Vec<PartEvent>,
    /// Chunk-line anomalies already reported for this body (bits).
    noted: u8,
}

/// One direction.
#[derive(Debug)]
struct Side {
    /// Bytes kept for the next call (partial head or line).
    buf: Vec<u8>,
    mode: Mode,
    body: Option<ActiveBody>,
    is_response: bool,
    /// Head mode: bytes of the partial head already searched for its end (so that a head fed
    /// in small pieces is not re-parsed from its start on every piece).
    head_scan: usize,
    /// Head mode: the start line of the partial head was checked.
    line_checked: bool,
    /// A head was parsed on this side (responses: junk and HTTP/0.9 are looked for only
    /// before the first).
    seen_head: bool,
}

impl Side {
    fn new(is_response: bool) -> Side {
        Side {
            buf: Vec::new(),
            mode: Mode::Head,
            body: None,
            is_response,
            head_scan: 0,
            line_checked: false,
            seen_head: false,
        }
    }
}

/// One request/response pair under way.
#[derive(Debug, Default)]
struct Tx {
    seq: u64,
    rec: HttpBody,
    head_request: bool,
    connect: bool,
    /// An HTTP/0.9 request: its response has no head.
    http09: bool,
}

/// The transactions of a connection.
#[derive(Debug, Default)]
struct Txs {
    /// Requests whose response has not started, oldest first.
    pending: VecDeque<Tx>,
    /// The transaction whose response body is being received.
    current: Option<Tx>,
    next_seq: u64,
    files: u64,
    /// Tells this connection's file ids from another's created at the same instant: FNV-1a of
    /// the first bytes the parser saw.
    tag: Option<u32>,
}

impl Txs {
    fn get_mut(&mut self, seq: u64) -> Option<&mut Tx> {
        if let Some(t) = self.current.as_mut().filter(|t| t.seq == seq) {
            return Some(t);
        }
        self.pending.iter_mut().find(|t| t.seq == seq)
    }
}

/// HTTP/1.x parser for one TCP connection.
#[derive(Debug)]
pub struct HttpState {
    req: Side,
    resp: Side,
    txs: Txs,
    /// CONNECT answered 2xx: the tunnel's bytes, handed on to the worker (`proto::handover`).
    handover: Option<Handover>,
}

impl Default for HttpState {
    fn default() -> Self {
        HttpState::new()
    }
}

impl HttpState {
    /// A parser at the start of a connection.
    pub fn new() -> HttpState {
        HttpState {
            req: Side::new(false),
            resp: Side::new(true),
            txs: Txs::default(),
            handover: None,
        }
    }

    fn feed(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        if self.txs.tag.is_none() && !data.is_empty() {
            let mut h: u32 = 0x811c_9dc5;
            for b in data.iter().take(256) {
                h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
            }
            self.txs.tag = Some(h);
        }
        let is_resp = matches!(dir, Direction::ToClient);
        let side = if is_resp {
            &mut self.resp
        } else {
            &mut self.req
        };
        if side.mode == Mode::Stopped {
            if let Some(h) = self.handover.as_mut() {
                h.push(dir, data);
            }
            return;
        }
        if side.buf.is_empty() {
            let n = self.process(is_resp, data, ctx);
            let side = if is_resp {
                &mut self.resp
            } else {
                &mut self.req
            };
            if side.mode != Mode::Stopped {
                side.buf
                    .extend_from_slice(data.get(n..).unwrap_or_default());
            }
        } else {
            side.buf.extend_from_slice(data);
            let buf = std::mem::take(&mut side.buf);
            let n = self.process(is_resp, &buf, ctx);
            let side = if is_resp {
                &mut self.resp
            } else {
                &mut self.req
            };
            if side.mode != Mode::Stopped {
                let mut buf = buf;
                buf.drain(..n.min(buf.len()));
                side.buf = buf;
            }
        }
    }

    /// Parses the request bytes held while waiting for a CONNECT answer.
    fn resume_requests(&mut self, ctx: &mut ParseCtx<'_>) {
        let buf = std::mem::take(&mut self.req.buf);
        let n = self.process(false, &buf, ctx);
        if self.req.mode != Mode::Stopped {
            let mut buf = buf;
            buf.drain(..n.min(buf.len()));
            self.req.buf = buf;
        }
    }

    /// Parses as much of `input` as possible; returns the bytes consumed.
    fn process(&mut self, is_resp: bool, input: &[u8], ctx: &mut ParseCtx<'_>) -> usize {
        let mut pos = 0;
        loop {
            let side = if is_resp {
                &mut self.resp
            } else {
                &mut self.req
            };
            let rest = &input[pos.min(input.len())..];
            match side.mode {
                Mode::Stopped => {
                    if let Some(h) = self.handover.as_mut() {
                        let dir = if is_resp {
                            Direction::ToClient
                        } else {
                            Direction::ToServer
                        };
                        h.push(dir, rest);
                    }
                    return input.len();
                }
                Mode::ConnectWait => {
                    if rest.len() > MAX_HEAD {
                        side.mode = Mode::Stopped;
                        return input.len();
                    }
                    return pos;
                }
                Mode::Resync => match find_start(rest, is_resp) {
                    Some(i) => {
                        pos += i;
                        side.mode = Mode::Head;
                    }
                    None => {
                        // Keep the last partial line: it may become a start line.
                        let keep = rest.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                        let keep = if rest.len() - keep > MAX_LINE {
                            rest.len()
                        } else {
                            keep
                        };
                        return pos + keep;
                    }
                },
                Mode::Head => {
                    let blank = rest
                        .iter()
                        .take_while(|b| **b == b'\r' || **b == b'\n')
                        .count();
                    pos += blank;
                    let rest = &rest[blank..];
                    if rest.is_empty() {
                        return pos;
                    }
                    if is_resp {
                        match self.response_prelude(rest) {
                            Prelude::Go => {}
                            Prelude::Wait => return pos,
                            Prelude::Skip(n) => {
                                ctx.anomaly(HttpAnomaly::JunkBeforeStatusAmbiguous.as_str());
                                pos += n;
                                continue;
                            }
                            Prelude::Http09 => {
                                self.http09_response(ctx);
                                continue;
                            }
                        }
                    }
                    let side = if is_resp {
                        &mut self.resp
                    } else {
                        &mut self.req
                    };
                    let from = side.head_scan.min(rest.len()).saturating_sub(2);
                    let complete = has_head_end(rest, from, is_resp);
                    let check_line =
                        !complete && !side.line_checked && rest[from..].contains(&b'\n');
                    if !complete && !check_line {
                        side.head_scan = rest.len();
                        if rest.len() > MAX_HEAD {
                            ctx.anomaly(HttpAnomaly::HeadTooLarge.as_str());
                            side.mode = Mode::Stopped;
                            return input.len();
                        }
                        return pos;
                    }
                    let parsed = if is_resp {
                        self.response_head(rest, ctx)
                    } else {
                        self.request_head(rest, ctx)
                    };
                    let side = if is_resp {
                        &mut self.resp
                    } else {
                        &mut self.req
                    };
                    if let Ok(None) = parsed {
                        // Start line fine so far; wait for the end of the head.
                        side.line_checked = true;
                        side.head_scan = rest.len();
                        if rest.len() > MAX_HEAD {
                            ctx.anomaly(HttpAnomaly::HeadTooLarge.as_str());
                            side.mode = Mode::Stopped;
                            return input.len();
                        }
                        return pos;
                    }
                    side.head_scan = 0;
                    side.line_checked = false;
                    match parsed {
                        Ok(Some(n)) => pos += n,
                        Ok(None) => return pos,
                        Err(e) => {
                            // Bytes that are no head where one was due (a capture picked up
                            // mid-response): no HTTP/0.9 reading from now on.
                            side.seen_head = true;
                            ctx.anomaly(match (e, is_resp) {
                                (HeadError::TooManyHeaders, _) => {
                                    HttpAnomaly::TooManyHeaders.as_str()
                                }
                                (HeadError::Malformed, false) => {
                                    HttpAnomaly::MalformedRequest.as_str()
                                }
                                (HeadError::Malformed, true) => {
                                    HttpAnomaly::MalformedResponse.as_str()
                                }
                            });
                            side.mode = Mode::Resync;
                            // Skip the offending line.
                            pos += rest
                                .iter()
                                .position(|b| *b == b'\n')
                                .map_or(rest.len(), |i| i + 1);
                        }
                    }
                }
                Mode::Body(bm) => {
                    if rest.is_empty() && !matches!(bm, BodyMode::Chunked(_)) {
                        return pos;
                    }
                    match self.body_step(is_resp, bm, rest, ctx) {
                        Some(n) => pos += n,
                        None => return pos,
                    }
                }
            }
            if pos >= input.len() {
                return input.len();
            }
        }
    }

    /// Parses a request head; Ok(Some(n)) consumed n bytes, Ok(None) needs more.
    fn request_head(
        &mut self,
        buf: &[u8],
        ctx: &mut ParseCtx<'_>,
    ) -> Result<Option<usize>, HeadError> {
        let (h, n) = match parse_request(buf)? {
            Head::Partial => return Ok(None),
            Head::Complete(h, n) => (h, n),
        };
        report_quirks(h.quirks, ctx);
        let seq = self.txs.next_seq;
        self.txs.next_seq += 1;
        let host = header(&h.headers, "host").map(str::to_string);
        let connect = h.method.eq_ignore_ascii_case("CONNECT");
        // An absolute-form URI ("http://user:password@host/", proxies) loses its password.
        let uri = strip_url_password(&h.uri).into_owned();
        let url = if uri.contains("://") {
            Some(uri.clone())
        } else if connect {
            Some(format!("http://{}", host.as_deref().unwrap_or(&uri)))
        } else {
            host.as_ref().map(|host| format!("http://{host}{uri}"))
        };
        let auth = header(&h.headers, "authorization")
            .or_else(|| header(&h.headers, "proxy-authorization"))
            .and_then(parse_auth);
        let mut rec = HttpBody {
            method: Some(h.method.clone()),
            host,
            uri: Some(uri.clone()),
            url,
            version: (!h.version.is_empty()).then(|| h.version.clone()),
            user_agent: header(&h.headers, "user-agent").map(str::to_string),
            referrer: header(&h.headers, "referer").map(|r| strip_url_password(r).into_owned()),
            request_content_type: header(&h.headers, "content-type").map(str::to_string),
            ..HttpBody::default()
        };
        if let Some(a) = auth {
            rec.auth_scheme = Some(a.scheme);
            rec.auth_user = a.user;
            rec.auth_blob_md5 = a.blob_md5;
        }
        let fr = framing(&h.headers, false, |a| ctx.anomaly(a.as_str())).unwrap_or_else(|()| {
            ctx.anomaly(HttpAnomaly::BadContentLength.as_str());
            Framing::None
        });
        let meta = FileMeta {
            name: header(&h.headers, "content-disposition")
                .and_then(disposition_filename)
                .or_else(|| uri_filename(&uri)),
            source: "http",
            url: rec.url.clone(),
            referrer: rec.referrer.clone(),
            sender: None,
            mime_type: rec.request_content_type.clone(),
        };
        let codings = Codings::parse(header_all(&h.headers, "content-encoding"));
        let boundary = rec
            .request_content_type
            .as_deref()
            .filter(|_| codings.is_identity())
            .and_then(form_boundary);
        let part_meta = boundary.as_ref().map(|_| FileMeta {
            name: None,
            mime_type: None,
            ..meta.clone()
        });
        self.req.mode = start_body(&mut self.req, fr, seq, meta, codings, &mut self.txs, ctx);
        if let (Some(b), Some(m), Some(body)) = (boundary, part_meta, self.req.body.as_mut()) {
            body.multipart = Some(Box::new(Multipart::new(&b, m, body.file_id.clone())));
        }
        if connect && self.req.mode == Mode::Head {
            self.req.mode = Mode::ConnectWait;
        }
        if self.txs.pending.len() >= MAX_PENDING {
            ctx.anomaly(HttpAnomaly::TooManyPending.as_str());
            if let Some(old) = self.txs.pending.pop_front() {
                ctx.emit(AppBody::Http(old.rec));
            }
        }
        self.txs.pending.push_back(Tx {
            seq,
            rec,
            head_request: h.method.eq_ignore_ascii_case("HEAD"),
            connect,
            http09: h.quirks & Q_HTTP09 != 0,
        });
        Ok(Some(n))
    }

    /// Parses a response head.
    fn response_head(
        &mut self,
        buf: &[u8],
        ctx: &mut ParseCtx<'_>,
    ) -> Result<Option<usize>, HeadError> {
        let (h, n) = match parse_response(buf)? {
            Head::Partial => return Ok(None),
            Head::Complete(h, n) => (h, n),
        };
        self.resp.seen_head = true;
        report_quirks(h.quirks, ctx);
        if (100..200).contains(&h.status) && h.status != 101 {
            // Interim response (100 Continue, 102, 103): not paired.
            return Ok(Some(n));
        }
        let mut tx = match self.txs.pending.pop_front() {
            Some(t) => t,
            None => {
                ctx.anomaly(HttpAnomaly::ResponseWithoutRequest.as_str());
                let seq = self.txs.next_seq;
                self.txs.next_seq += 1;
                Tx {
                    seq,
                    ..Tx::default()
                }
            }
        };
        let rec = &mut tx.rec;
        if rec.version.is_none() {
            rec.version = Some(h.version.clone());
        }
        rec.status = Some(h.status);
        rec.status_msg = Some(h.reason.clone());
        rec.response_content_type = header(&h.headers, "content-type").map(str::to_string);
        rec.server = header(&h.headers, "server").map(str::to_string);
        rec.location = header(&h.headers, "location").map(|l| strip_url_password(l).into_owned());
        let codings = Codings::parse(header_all(&h.headers, "content-encoding"));
        rec.content_encoding = match header_all(&h.headers, "content-encoding").count() {
            0 => None,
            1 => header(&h.headers, "content-encoding").map(str::to_string),
            _ => Some(
                header_all(&h.headers, "content-encoding")
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        rec.content_disposition = header(&h.headers, "content-disposition").map(str::to_string);
        let tunnel = h.status == 101 || (tx.connect && (200..300).contains(&h.status));
        if tunnel && tx.connect && h.status != 101 {
            // The tunnel's bytes go to protocol detection, linked to this transaction.
            let mut ho = Handover::new(AppProto::Http, Some(tx.seq + 1), None);
            ho.push(Direction::ToServer, &self.req.buf);
            self.handover = Some(ho);
        }
        if tunnel {
            self.resp.mode = Mode::Stopped;
            self.resp.buf.clear();
            stop_side(&mut self.req, &mut self.txs, ctx, false);
            self.req.mode = Mode::Stopped;
            self.req.buf.clear();
            ctx.emit(AppBody::Http(tx.rec));
            return Ok(Some(n));
        }
        if tx.connect && self.req.mode == Mode::ConnectWait {
            // Refused: the requests held back since CONNECT come next, before this response
            // pairs with anything after it.
            self.req.mode = Mode::Head;
            self.resume_requests(ctx);
        }
        let fr = if tx.head_request || h.status == 204 || h.status == 304 {
            Framing::None
        } else {
            framing(&h.headers, true, |a| ctx.anomaly(a.as_str())).unwrap_or_else(|()| {
                ctx.anomaly(HttpAnomaly::BadContentLength.as_str());
                Framing::UntilClose
            })
        };
        let meta = FileMeta {
            name: rec
                .content_disposition
                .as_deref()
                .and_then(disposition_filename)
                .or_else(|| rec.uri.as_deref().and_then(uri_filename)),
            source: "http",
            url: rec.url.clone(),
            referrer: rec.referrer.clone(),
            sender: None,
            mime_type: rec.response_content_type.clone(),
        };
        if codings.list.len() > 1 {
            ctx.anomaly(HttpAnomaly::StackedCodings.as_str());
        }
        let seq = tx.seq;
        if fr == Framing::None {
            tx.rec.response_complete = Some(true);
            ctx.emit(AppBody::Http(tx.rec));
            self.resp.mode = Mode::Head;
        } else {
            self.txs.current = Some(tx);
            self.resp.mode = start_body(&mut self.resp, fr, seq, meta, codings, &mut self.txs, ctx);
        }
        Ok(Some(n))
    }

    /// One step inside a body: Some(consumed) to go on, None to wait for more bytes.
    fn body_step(
        &mut self,
        is_resp: bool,
        bm: BodyMode,
        rest: &[u8],
        ctx: &mut ParseCtx<'_>,
    ) -> Option<usize> {
        let side = if is_resp {
            &mut self.resp
        } else {
            &mut self.req
        };
        let txs = &mut self.txs;
        match bm {
            BodyMode::Length(left) => {
                let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                body_data(side, txs, &rest[..take], ctx);
                let left = left - take as u64;
                if left == 0 {
                    end_body(side, txs, ctx, true);
                    side.mode = Mode::Head;
                } else {
                    side.mode = Mode::Body(BodyMode::Length(left));
                }
                Some(take)
            }
            BodyMode::UntilClose => {
                body_data(side, txs, rest, ctx);
                Some(rest.len())
            }
            BodyMode::Chunked(Chunk::Data(left)) => {
                if rest.is_empty() {
                    return None;
                }
                let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                body_data(side, txs, &rest[..take], ctx);
                let left = left - take as u64;
                side.mode = Mode::Body(BodyMode::Chunked(if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                }));
                Some(take)
            }
            BodyMode::Chunked(Chunk::DataEnd) => match rest {
                [] | [b'\r'] => None,
                [b'\r', b'\n', ..] => {
                    side.mode = Mode::Body(BodyMode::Chunked(Chunk::Size));
                    Some(2)
                }
                [b'\n', ..] => {
                    side.mode = Mode::Body(BodyMode::Chunked(Chunk::Size));
                    Some(1)
                }
                _ => {
                    ctx.anomaly(HttpAnomaly::ChunkMissingCrlf.as_str());
                    side.mode = Mode::Body(BodyMode::Chunked(Chunk::Size));
                    Some(0)
                }
            },
            BodyMode::Chunked(Chunk::Size) => {
                let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                    if rest.len() > MAX_LINE {
                        ctx.anomaly(HttpAnomaly::BadChunkSize.as_str());
                        stop_side(side, txs, ctx, false);
                    }
                    return None;
                };
                let line = &rest[..nl];
                if line.is_empty() || line == b"\r" {
                    // Firefox skips a blank line where a chunk size is due (Chromium fails).
                    note_once(side, NOTE_JUNK, HttpAnomaly::ChunkSizeJunkAmbiguous, ctx);
                    return Some(nl + 1);
                }
                match chunk_size(line) {
                    Some(c) => {
                        if c.ext {
                            note_once(side, NOTE_EXT, HttpAnomaly::ChunkExtension, ctx);
                        }
                        if c.junk {
                            note_once(side, NOTE_JUNK, HttpAnomaly::ChunkSizeJunkAmbiguous, ctx);
                        }
                        if c.zeros {
                            note_once(side, NOTE_ZEROS, HttpAnomaly::ChunkSizeLeadingZeros, ctx);
                        }
                        side.mode = Mode::Body(BodyMode::Chunked(if c.size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(c.size)
                        }));
                    }
                    None => {
                        ctx.anomaly(HttpAnomaly::BadChunkSize.as_str());
                        stop_side(side, txs, ctx, false);
                        return Some(rest.len());
                    }
                }
                Some(nl + 1)
            }
            BodyMode::Chunked(Chunk::Trailers) => {
                let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                    if rest.len() > MAX_LINE {
                        ctx.anomaly(HttpAnomaly::HeadTooLarge.as_str());
                        stop_side(side, txs, ctx, true);
                    }
                    return None;
                };
                let line = &rest[..nl];
                if line.is_empty() || line == b"\r" {
                    end_body(side, txs, ctx, true);
                    side.mode = Mode::Head;
                }
                Some(nl + 1)
            }
        }
    }

    fn gap(&mut self, is_resp: bool, len: u64, ctx: &mut ParseCtx<'_>) {
        let side = if is_resp {
            &mut self.resp
        } else {
            &mut self.req
        };
        let txs = &mut self.txs;
        match side.mode {
            Mode::Stopped => {}
            Mode::Head | Mode::Resync | Mode::ConnectWait => {
                side.buf.clear();
                side.head_scan = 0;
                side.line_checked = false;
                if side.mode != Mode::ConnectWait {
                    side.mode = Mode::Resync;
                }
            }
            Mode::Body(BodyMode::UntilClose) => body_gap(side, txs, len),
            Mode::Body(BodyMode::Length(left)) => {
                body_gap(side, txs, len.min(left));
                if len >= left {
                    end_body(side, txs, ctx, false);
                    side.mode = if len > left { Mode::Resync } else { Mode::Head };
                } else {
                    side.mode = Mode::Body(BodyMode::Length(left - len));
                }
            }
            Mode::Body(BodyMode::Chunked(Chunk::Data(left))) if len < left => {
                body_gap(side, txs, len);
                side.mode = Mode::Body(BodyMode::Chunked(Chunk::Data(left - len)));
            }
            Mode::Body(BodyMode::Chunked(_)) => {
                body_gap(side, txs, len);
                end_body(side, txs, ctx, false);
                side.buf.clear();
                side.mode = Mode::Resync;
            }
        }
    }

    fn close(&mut self, ctx: &mut ParseCtx<'_>) {
        self.close_partial_heads(ctx);
        for is_resp in [false, true] {
            let side = if is_resp {
                &mut self.resp
            } else {
                &mut self.req
            };
            let mut done = side.mode == Mode::Body(BodyMode::UntilClose);
            if let Mode::Body(BodyMode::Chunked(c)) = side.mode {
                if c == Chunk::Trailers {
                    // The last chunk came; only its blank line is missing.
                    done = true;
                } else {
                    // No last chunk: Firefox keeps the bytes, Chromium fails the download. The
                    // file holds what came (what Firefox saves) but is not complete: nothing
                    // tells whether more was to come.
                    ctx.anomaly(HttpAnomaly::ChunkedUnterminatedAmbiguous.as_str());
                }
            }
            if side.body.is_some() || matches!(side.mode, Mode::Body(_)) {
                end_body(side, &mut self.txs, ctx, done);
            }
            side.mode = Mode::Stopped;
        }
        if let Some(t) = self.txs.current.take() {
            ctx.emit(AppBody::Http(t.rec));
        }
        while let Some(t) = self.txs.pending.pop_front() {
            ctx.emit(AppBody::Http(t.rec));
        }
    }
}

/// What the response side does with bytes where a head is due.
enum Prelude {
    /// Parse a head.
    Go,
    /// Wait for more bytes.
    Wait,
    /// Junk of this many bytes before the status line.
    Skip(usize),
    /// No head: an HTTP/0.9 response.
    Http09,
}

impl HttpState {
    /// Junk before the status line and HTTP/0.9 responses: looked for before a connection's
    /// first response head, when a request is waiting for it.
    fn response_prelude(&self, rest: &[u8]) -> Prelude {
        let Some(front) = self.txs.pending.front() else {
            return Prelude::Go;
        };
        if front.http09 {
            return Prelude::Http09;
        }
        let n = rest.len().min(5);
        let prefix_ok = rest
            .get(..n)
            .zip(b"HTTP/".get(..n))
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        if prefix_ok || self.resp.seen_head {
            return Prelude::Go;
        }
        match find_status_anywhere(rest.get(..rest.len().min(MAX_JUNK)).unwrap_or_default()) {
            Some(i) => Prelude::Skip(i),
            None if rest.len() >= MAX_JUNK => Prelude::Http09,
            None => Prelude::Wait,
        }
    }

    /// The response to the oldest request has no head (HTTP/0.9): its bytes up to the
    /// connection's end are the body.
    fn http09_response(&mut self, ctx: &mut ParseCtx<'_>) {
        ctx.anomaly(HttpAnomaly::Http09Response.as_str());
        let tx = match self.txs.pending.pop_front() {
            Some(t) => t,
            None => {
                let seq = self.txs.next_seq;
                self.txs.next_seq += 1;
                Tx {
                    seq,
                    ..Tx::default()
                }
            }
        };
        let meta = FileMeta {
            name: tx.rec.uri.as_deref().and_then(uri_filename),
            source: "http",
            url: tx.rec.url.clone(),
            referrer: tx.rec.referrer.clone(),
            sender: None,
            mime_type: None,
        };
        let seq = tx.seq;
        self.txs.current = Some(tx);
        self.resp.seen_head = true;
        self.resp.mode = start_body(
            &mut self.resp,
            Framing::UntilClose,
            seq,
            meta,
            Codings::default(),
            &mut self.txs,
            ctx,
        );
    }

    /// At the connection's end: a request head cut short is still reported with what was
    /// seen; so is a response head cut short, and a first response without a head is an
    /// HTTP/0.9 body.
    fn close_partial_heads(&mut self, ctx: &mut ParseCtx<'_>) {
        if self.req.mode == Mode::Head && self.req.buf.iter().any(|b| !b.is_ascii_whitespace()) {
            let mut b = std::mem::take(&mut self.req.buf);
            let blank = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
            b.drain(..blank);
            b.extend_from_slice(b"\r\n\r\n");
            if let Ok(Some(_)) = self.request_head(&b, ctx) {
                ctx.anomaly(HttpAnomaly::RequestTruncated.as_str());
            }
        }
        if self.resp.mode == Mode::Head && self.resp.buf.iter().any(|b| !b.is_ascii_whitespace()) {
            let mut b = std::mem::take(&mut self.resp.buf);
            let blank = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
            b.drain(..blank);
            let mut rest: &[u8] = &b;
            if !self.resp.seen_head && !self.txs.pending.is_empty() {
                match find_status_anywhere(rest) {
                    Some(0) => {}
                    Some(i) => {
                        ctx.anomaly(HttpAnomaly::JunkBeforeStatusAmbiguous.as_str());
                        rest = rest.get(i..).unwrap_or_default();
                    }
                    None => {
                        self.http09_response(ctx);
                        body_data(&mut self.resp, &mut self.txs, rest, ctx);
                        return;
                    }
                }
            }
            let mut head = rest.to_vec();
            head.extend_from_slice(b"\r\n\r\n");
            if let Ok(Some(_)) = self.response_head(&head, ctx) {
                ctx.anomaly(HttpAnomaly::ResponseHeadTruncated.as_str());
            }
        }
    }
}

const NOTE_EXT: u8 = 1;
const NOTE_JUNK: u8 = 2;
const NOTE_ZEROS: u8 = 4;

/// Reports a chunk-line anomaly once per body.
fn note_once(side: &mut Side, bit: u8, a: HttpAnomaly, ctx: &mut ParseCtx<'_>) {
    if let Some(b) = side.body.as_mut() {
        if b.noted & bit != 0 {
            return;
        }
        b.noted |= bit;
    }
    ctx.anomaly(a.as_str());
}

/// The anomalies of a head's deviations.
fn report_quirks(q: u16, ctx: &mut ParseCtx<'_>) {
    if q == 0 {
        return;
    }
    for (bit, a) in [
        (Q_BARE_LF, HttpAnomaly::BareLf),
        (Q_BARE_CR, HttpAnomaly::BareCrAmbiguous),
        (Q_FOLDED, HttpAnomaly::FoldedHeader),
        (Q_BAD_LINE, HttpAnomaly::InvalidHeaderLine),
        (Q_LOWER_VERSION, HttpAnomaly::LowercaseVersion),
        (Q_ODD_REQUEST_LINE, HttpAnomaly::OddRequestLine),
        (Q_HTTP09, HttpAnomaly::Http09Request),
    ] {
        if q & bit != 0 {
            ctx.anomaly(a.as_str());
        }
    }
}

/// A multipart splitter's event: part files listed in the transaction and emitted.
fn part_event(ev: PartEvent, seq: u64, txs: &mut Txs, ctx: &mut ParseCtx<'_>) {
    match ev {
        PartEvent::Started(id) => {
            if let Some(t) = txs.get_mut(seq) {
                t.rec.file_ids.push(id);
            }
        }
        PartEvent::Done {
            field,
            file,
            issues,
        } => {
            for i in issues {
                report(i, ctx);
            }
            if let Some(t) = txs.get_mut(seq) {
                t.rec.form_parts.push(FormPart {
                    field,
                    name: file.name.clone(),
                    size: file.size,
                    md5: file.md5.clone(),
                    sha256: file.sha256.clone(),
                    file_id: file.id.clone(),
                    complete: file.complete,
                });
            }
            ctx.emit(AppBody::File(*file));
        }
        PartEvent::Malformed => ctx.anomaly(HttpAnomaly::MultipartMalformed.as_str()),
    }
}

/// The mode a side enters after a head with this framing.
fn start_body(
    side: &mut Side,
    fr: Framing,
    seq: u64,
    meta: FileMeta,
    codings: Codings,
    txs: &mut Txs,
    ctx: &mut ParseCtx<'_>,
) -> Mode {
    let mode = match fr {
        Framing::None => return Mode::Head,
        Framing::Length(n) => BodyMode::Length(n),
        Framing::Chunked => BodyMode::Chunked(Chunk::Size),
        Framing::UntilClose => BodyMode::UntilClose,
    };
    let kind = if side.is_response { "resp" } else { "req" };
    let file_id = format!(
        "F{:x}-{:08x}-{}-{}",
        ctx.ts_ns,
        txs.tag.unwrap_or_default(),
        txs.files,
        kind
    );
    txs.files += 1;
    side.body = Some(ActiveBody {
        seq,
        meta: Some(meta),
        codings,
        sink: None,
        file_id,
        len: 0,
        multipart: None,
        pending_parts: Vec::new(),
        noted: 0,
    });
    Mode::Body(mode)
}

/// The body's sink, opened (and its file id listed) on first use.
fn sink<'a>(body: &'a mut ActiveBody, txs: &mut Txs) -> &'a mut BodySink {
    let codings = &body.codings;
    let meta = &mut body.meta;
    let id = &body.file_id;
    let seq = body.seq;
    body.sink.get_or_insert_with(|| {
        if let Some(t) = txs.get_mut(seq) {
            t.rec.file_ids.push(id.clone());
        }
        BodySink::new(meta.take().unwrap_or_default(), codings)
    })
}

fn body_data(side: &mut Side, txs: &mut Txs, data: &[u8], ctx: &mut ParseCtx<'_>) {
    if data.is_empty() {
        return;
    }
    let Some(body) = side.body.as_mut() else {
        return;
    };
    body.len += data.len() as u64;
    let s = sink(body, txs);
    s.update(data);
    while let Some(issue) = s.take_issue() {
        report(issue, ctx);
    }
    let seq = body.seq;
    if let Some(mp) = body.multipart.as_mut() {
        mp.update(data, &mut |ev| part_event(ev, seq, txs, ctx));
    }
}

fn body_gap(side: &mut Side, txs: &mut Txs, len: u64) {
    if len == 0 {
        return;
    }
    let Some(body) = side.body.as_mut() else {
        return;
    };
    body.len += len;
    sink(body, txs).gap(len);
    if let Some(mut mp) = body.multipart.take() {
        // No context here: the cut part is emitted when the body ends.
        let mut done = Vec::new();
        mp.gap(len, &mut |ev| done.push(ev));
        body.pending_parts = done;
    }
}

fn report(issue: BodyIssue, ctx: &mut ParseCtx<'_>) {
    ctx.anomaly(match issue {
        BodyIssue::Bomb => HttpAnomaly::DecompressionBomb.as_str(),
        BodyIssue::DecodeError => HttpAnomaly::DecodeError.as_str(),
        BodyIssue::Memcap => HttpAnomaly::InspectMemcap.as_str(),
        BodyIssue::BadTrailer => HttpAnomaly::GzipBadTrailer.as_str(),
        BodyIssue::TrailingData => HttpAnomaly::CodingTrailingData.as_str(),
        BodyIssue::UnknownCoding => HttpAnomaly::UnknownCoding.as_str(),
        BodyIssue::TooManyCodings => HttpAnomaly::TooManyCodings.as_str(),
    });
}

/// Ends the side's body: emits the file, records the length, and for a response emits the
/// transaction.
fn end_body(side: &mut Side, txs: &mut Txs, ctx: &mut ParseCtx<'_>, complete: bool) {
    if let Some(body) = side.body.take() {
        if let Some(t) = txs.get_mut(body.seq) {
            if side.is_response {
                t.rec.response_body_len = body.len;
            } else {
                t.rec.request_body_len = body.len;
            }
        }
        for ev in body.pending_parts {
            part_event(ev, body.seq, txs, ctx);
        }
        if let Some(mp) = body.multipart {
            mp.finish(complete, &mut |ev| part_event(ev, body.seq, txs, ctx));
        }
        if let Some(s) = body.sink {
            let (file, issues) = s.finish(body.file_id, complete);
            for issue in issues {
                report(issue, ctx);
            }
            ctx.emit(AppBody::File(file));
        }
    }
    if side.is_response {
        if let Some(mut t) = txs.current.take() {
            t.rec.response_complete = Some(complete);
            ctx.emit(AppBody::Http(t.rec));
        }
    }
}

/// Stops parsing a side, closing its body as incomplete (or complete when `complete`).
fn stop_side(side: &mut Side, txs: &mut Txs, ctx: &mut ParseCtx<'_>, complete: bool) {
    if side.body.is_some() || matches!(side.mode, Mode::Body(_)) {
        end_body(side, txs, ctx, complete);
    }
    side.mode = Mode::Stopped;
}

impl AppParser for HttpState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        self.feed(dir, data, ctx);
    }

    fn on_gap(&mut self, dir: Direction, len: u32, ctx: &mut ParseCtx<'_>) {
        self.gap(matches!(dir, Direction::ToClient), u64::from(len), ctx);
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        self.close(ctx);
    }

    fn take_handover(&mut self) -> Option<Handover> {
        self.handover.take()
    }
}

/// A parser for a flow on `transport` (HTTP/1.x runs over TCP only).
pub fn new_parser(_transport: Transport) -> Box<dyn AppParser> {
    Box::new(HttpState::new())
}
