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

use super::body::{BodyIssue, BodySink, Coding};
use super::parser::{chunk_size, find_start, has_head_end};
use super::parser::{
    disposition_filename, framing, header, parse_auth, parse_request, parse_response,
    strip_url_password, uri_filename, Framing, Head, HeadError, MAX_HEAD,
};
use super::record::HttpBody;

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 8 << 10;
/// Most requests waiting for their responses; older ones are reported unanswered.
const MAX_PENDING: usize = 256;

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
    coding: Coding,
    sink: Option<BodySink>,
    file_id: String,
    len: u64,
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
                    let from = side.head_scan.min(rest.len()).saturating_sub(2);
                    let complete = has_head_end(rest, from);
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
        let fr = framing(&h.headers, false).unwrap_or_else(|()| {
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
        let coding =
            header(&h.headers, "content-encoding").map_or(Coding::Identity, Coding::from_header);
        self.req.mode = start_body(&mut self.req, fr, seq, meta, coding, &mut self.txs, ctx);
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
        rec.content_encoding = header(&h.headers, "content-encoding").map(str::to_string);
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
            framing(&h.headers, true).unwrap_or_else(|()| {
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
        let coding = rec
            .content_encoding
            .as_deref()
            .map_or(Coding::Identity, Coding::from_header);
        let seq = tx.seq;
        if fr == Framing::None {
            tx.rec.response_complete = Some(true);
            ctx.emit(AppBody::Http(tx.rec));
            self.resp.mode = Mode::Head;
        } else {
            self.txs.current = Some(tx);
            self.resp.mode = start_body(&mut self.resp, fr, seq, meta, coding, &mut self.txs, ctx);
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
                match chunk_size(&rest[..nl]) {
                    Some(0) => side.mode = Mode::Body(BodyMode::Chunked(Chunk::Trailers)),
                    Some(n) => side.mode = Mode::Body(BodyMode::Chunked(Chunk::Data(n))),
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
        for is_resp in [false, true] {
            let side = if is_resp {
                &mut self.resp
            } else {
                &mut self.req
            };
            let done = side.mode == Mode::Body(BodyMode::UntilClose);
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

/// The mode a side enters after a head with this framing.
fn start_body(
    side: &mut Side,
    fr: Framing,
    seq: u64,
    meta: FileMeta,
    coding: Coding,
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
        coding,
        sink: None,
        file_id,
        len: 0,
    });
    Mode::Body(mode)
}

/// The body's sink, opened (and its file id listed) on first use.
fn sink<'a>(body: &'a mut ActiveBody, txs: &mut Txs) -> &'a mut BodySink {
    let coding = body.coding;
    let meta = &mut body.meta;
    let id = &body.file_id;
    let seq = body.seq;
    body.sink.get_or_insert_with(|| {
        if let Some(t) = txs.get_mut(seq) {
            t.rec.file_ids.push(id.clone());
        }
        BodySink::new(meta.take().unwrap_or_default(), coding)
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
    if let Some(issue) = s.take_issue() {
        report(issue, ctx);
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
}

fn report(issue: BodyIssue, ctx: &mut ParseCtx<'_>) {
    ctx.anomaly(match issue {
        BodyIssue::Bomb => HttpAnomaly::DecompressionBomb.as_str(),
        BodyIssue::DecodeError => HttpAnomaly::DecodeError.as_str(),
        BodyIssue::Memcap => HttpAnomaly::InspectMemcap.as_str(),
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
        if let Some(s) = body.sink {
            let (file, issue) = s.finish(body.file_id, complete);
            if let Some(issue) = issue {
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
