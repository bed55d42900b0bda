//! The per-flow IMAP [`AppParser`]: lines and literals of both sides, messages to the MIME stage.

use crate::proto::email::imap::ImapAnomaly;
use std::collections::VecDeque;

use super::parser::{args, is_message_item, split_literal, word};
use crate::proto::email::session::{
    starts_nocase, trim_eol, user_name, LineReader, Msg, Piece, Sasl, Session,
};
use crate::proto::{AppParser, AppProto, Direction, Handover, ParseCtx, Transport};

/// Largest literal followed as a message; larger ones are skipped.
const MAX_LITERAL: u64 = 32 << 20;
/// Largest literal followed at all. A larger announced size is taken as broken or hostile (it
/// would swallow the rest of the direction): the marker is ignored, the line ends there and the
/// next line is read as a line (`imap.literal_absurd`).
const MAX_FOLLOWED: u64 = 1 << 30;
/// Bytes of a LOGIN user literal kept.
const MAX_CAPTURE: u64 = 256;
/// Commands awaiting their tagged response, at most.
const MAX_PENDING: usize = 512;

/// A literal being read on one side.
#[derive(Debug)]
struct Literal {
    remaining: u64,
    /// The message it carries.
    msg: Option<Msg>,
    /// Its bytes, kept (a LOGIN user name).
    capture: Option<Vec<u8>>,
    /// Synchronising (client: `{N}` waits for the server's `+`).
    sync: bool,
    /// Some of its bytes were seen.
    started: bool,
}

/// A client command being read (its logical line may span literals).
#[derive(Debug, Default)]
struct ClientCmd {
    tag: Vec<u8>,
    name: Vec<u8>,
    /// Arguments seen so far.
    argc: usize,
    /// The first two arguments of LOGIN (first only) and AUTHENTICATE.
    args: Vec<Vec<u8>>,
}

/// What a tagged response ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    StartTls,
    Authenticate,
    Other,
}

/// The IMAP parser of one flow.
#[derive(Debug)]
pub struct ImapState {
    client: LineReader,
    server: LineReader,
    client_lit: Option<Literal>,
    server_lit: Option<Literal>,
    cur: Option<ClientCmd>,
    /// The server's next line starts a response (not the rest of one after a literal).
    server_first: bool,
    pub(super) pending: VecDeque<(Vec<u8>, Kind)>,
    pub(super) session: Session,
}

impl ImapState {
    /// A parser for a new flow.
    pub fn new(_transport: Transport) -> ImapState {
        ImapState {
            client: LineReader::default(),
            server: LineReader::default(),
            client_lit: None,
            server_lit: None,
            cur: None,
            server_first: true,
            pending: VecDeque::new(),
            session: Session::default(),
        }
    }

    /// Consumes literal bytes from `rest`; returns the literal when it is complete.
    fn feed_literal(lit: &mut Literal, rest: &mut &[u8]) -> bool {
        let n = usize::try_from(lit.remaining)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        let (head, tail) = rest.split_at(n);
        if n > 0 {
            lit.started = true;
        }
        if let Some(m) = lit.msg.as_mut() {
            m.push(head);
        }
        if let Some(c) = lit.capture.as_mut() {
            let room = usize::try_from(MAX_CAPTURE)
                .unwrap_or(0)
                .saturating_sub(c.len());
            c.extend_from_slice(head.get(..room.min(head.len())).unwrap_or_default());
        }
        lit.remaining -= n as u64;
        *rest = tail;
        lit.remaining == 0
    }

    fn on_client(&mut self, mut rest: &[u8], ctx: &mut ParseCtx<'_>) {
        loop {
            if let Some(lit) = self.client_lit.as_mut() {
                if !Self::feed_literal(lit, &mut rest) {
                    return;
                }
                if let Some(lit) = self.client_lit.take() {
                    if let Some(m) = lit.msg {
                        self.session.finish("imap", m, ctx);
                    }
                    if let Some(cmd) = self.cur.as_mut() {
                        cmd.argc += 1;
                        if let Some(c) = lit.capture {
                            cmd.args.push(c);
                        }
                    }
                }
                continue;
            }
            let Some(piece) = self.client.next(&mut rest) else {
                return;
            };
            let line = std::mem::take(&mut self.client.buf);
            self.client_piece(piece, &line, ctx);
            self.client.buf = line;
        }
    }

    fn client_piece(&mut self, piece: Piece, line: &[u8], ctx: &mut ParseCtx<'_>) {
        if !piece.whole() {
            if piece.start {
                ctx.anomaly(ImapAnomaly::LineTooLong.as_str());
                self.cur = None;
            }
            if !piece.end {
                return;
            }
            // The end of a long line: only a literal marker matters.
            let (_, lit) = split_literal(trim_eol(line));
            if let Some((n, sync)) = lit {
                self.start_client_literal(n, sync, false, ctx);
            }
            return;
        }
        let body = trim_eol(line);
        let (text, lit) = split_literal(body);
        let text = match self.cur.as_mut() {
            Some(_) => text,
            None => {
                if let Some(sasl) = self.session.sasl {
                    self.session.sasl = Some(sasl.client_line(line, &mut self.session.user));
                    return;
                }
                let (tag, rest) = word(text);
                let (name, rest) = word(rest);
                if tag.is_empty() {
                    return;
                }
                self.cur = Some(ClientCmd {
                    tag: tag.iter().take(64).copied().collect(),
                    name: name.iter().take(32).map(u8::to_ascii_uppercase).collect(),
                    ..ClientCmd::default()
                });
                rest
            }
        };
        let Some(cmd) = self.cur.as_mut() else {
            return;
        };
        let keep = match cmd.name.as_slice() {
            b"LOGIN" => 1,
            b"AUTHENTICATE" => 2,
            _ => 0,
        };
        for a in args(text) {
            if cmd.args.len() < keep && cmd.argc == cmd.args.len() {
                cmd.args.push(a);
            }
            cmd.argc += 1;
        }
        match lit {
            Some((n, sync)) => {
                let capture = keep == 1 && cmd.argc == 0;
                self.start_client_literal(n, sync, capture, ctx);
            }
            None => {
                if let Some(cmd) = self.cur.take() {
                    self.client_command(cmd, ctx);
                }
            }
        }
    }

    fn start_client_literal(&mut self, n: u64, sync: bool, capture: bool, ctx: &mut ParseCtx<'_>) {
        if n > MAX_FOLLOWED {
            ctx.anomaly(ImapAnomaly::LiteralAbsurd.as_str());
            self.cur = None;
            return;
        }
        let message = self
            .cur
            .as_ref()
            .is_some_and(|c| c.name == b"APPEND" && c.argc >= 1);
        let msg = if message && n > MAX_LITERAL {
            ctx.anomaly(ImapAnomaly::LiteralTooLarge.as_str());
            None
        } else if message {
            Some(Msg::new())
        } else {
            None
        };
        self.client_lit = Some(Literal {
            remaining: n,
            msg,
            capture: capture.then(Vec::new),
            sync,
            started: false,
        });
    }

    fn client_command(&mut self, cmd: ClientCmd, ctx: &mut ParseCtx<'_>) {
        let kind = match cmd.name.as_slice() {
            b"LOGIN" => {
                if let Some(u) = cmd.args.first().and_then(|a| user_name(a)) {
                    self.session.user = Some(u);
                }
                Kind::Other
            }
            b"AUTHENTICATE" => {
                let mech = cmd
                    .args
                    .first()
                    .map(|m| String::from_utf8_lossy(m).to_ascii_uppercase())
                    .unwrap_or_default();
                let mech: String = mech.chars().take(64).collect();
                self.session.sasl = Some(Sasl::start(
                    &mech,
                    cmd.args.get(1).map(Vec::as_slice),
                    &mut self.session.user,
                ));
                self.session.mechanism = Some(mech);
                Kind::Authenticate
            }
            b"STARTTLS" => Kind::StartTls,
            _ => Kind::Other,
        };
        self.session.commands += 1;
        if kind == Kind::StartTls {
            self.session.starttls_tx = Some(self.session.commands);
        }
        if self.pending.len() >= MAX_PENDING {
            // The oldest command is forgotten: its answer will not be paired (counted).
            ctx.anomaly(ImapAnomaly::TooManyPending.as_str());
            self.pending.pop_front();
        }
        self.pending.push_back((cmd.tag, kind));
    }

    fn on_server(&mut self, mut rest: &[u8], ctx: &mut ParseCtx<'_>) {
        loop {
            if let Some(lit) = self.server_lit.as_mut() {
                if !Self::feed_literal(lit, &mut rest) {
                    return;
                }
                if let Some(m) = self.server_lit.take().and_then(|l| l.msg) {
                    self.session.finish("imap", m, ctx);
                }
                continue;
            }
            let Some(piece) = self.server.next(&mut rest) else {
                return;
            };
            let line = std::mem::take(&mut self.server.buf);
            self.server_piece(piece, &line, ctx);
            self.server.buf = line;
            if self.session.handover.is_some() {
                let pending = self.client.take_pending();
                if let Some(h) = self.session.handover.as_mut() {
                    h.push(Direction::ToServer, &pending);
                    h.push(Direction::ToClient, rest);
                }
                return;
            }
        }
    }

    fn server_piece(&mut self, piece: Piece, line: &[u8], ctx: &mut ParseCtx<'_>) {
        let first = self.server_first;
        if !piece.whole() {
            if piece.start {
                ctx.anomaly(ImapAnomaly::LineTooLong.as_str());
            }
            if !piece.end {
                return;
            }
        }
        let (text, lit) = split_literal(trim_eol(line));
        if let Some((n, _)) = lit.filter(|&(n, _)| {
            let followed = n <= MAX_FOLLOWED;
            if !followed {
                ctx.anomaly(ImapAnomaly::LiteralAbsurd.as_str());
            }
            followed
        }) {
            self.server_first = false;
            let message = is_message_item(text);
            let msg = if message && n > MAX_LITERAL {
                ctx.anomaly(ImapAnomaly::LiteralTooLarge.as_str());
                None
            } else if message {
                Some(Msg::new())
            } else {
                None
            };
            self.server_lit = Some(Literal {
                remaining: n,
                msg,
                capture: None,
                sync: false,
                started: false,
            });
            return;
        }
        self.server_first = true;
        if !first || !piece.whole() || text.starts_with(b"*") || text.starts_with(b"+") {
            return;
        }
        let (tag, rest) = word(text);
        let (status, _) = word(rest);
        let ok = status.eq_ignore_ascii_case(b"OK");
        if !ok && !starts_nocase(status, b"NO") && !starts_nocase(status, b"BAD") {
            return;
        }
        // A synchronising literal the server refused is never sent.
        let waiting = self
            .client_lit
            .as_ref()
            .is_some_and(|l| l.sync && !l.started);
        if waiting && self.cur.as_ref().is_some_and(|c| c.tag == tag) {
            self.client_lit = None;
            self.cur = None;
        }
        let Some(i) = self.pending.iter().position(|(t, _)| t == tag) else {
            return;
        };
        let kind = self.pending.remove(i).map_or(Kind::Other, |(_, k)| k);
        match kind {
            Kind::Authenticate => self.session.sasl = None,
            Kind::StartTls if ok => {
                self.session.starttls = true;
                self.session.handover = Some(Handover::new(
                    AppProto::Imap,
                    self.session.starttls_tx.take(),
                    Some(AppProto::Tls),
                ));
            }
            Kind::StartTls | Kind::Other => {}
        }
    }
}

/// Handles a gap in a side: skips within a literal when it is long enough, else resyncs at
/// the next line. Returns whether a message was dropped.
fn gap_side(lit: &mut Option<Literal>, reader: &mut LineReader, len: u32) -> bool {
    let mut dropped = false;
    if let Some(l) = lit.as_mut() {
        dropped = l.msg.take().is_some();
        l.capture = None;
        if u64::from(len) < l.remaining {
            l.remaining -= u64::from(len);
            l.started = true;
            return dropped;
        }
    }
    *lit = None;
    reader.resync();
    dropped
}

impl AppParser for ImapState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        if let Some(h) = self.session.handover.as_mut() {
            h.push(dir, data);
            return;
        }
        match dir {
            Direction::ToServer => self.on_client(data, ctx),
            Direction::ToClient => self.on_server(data, ctx),
        }
    }

    fn on_gap(&mut self, dir: Direction, len: u32, ctx: &mut ParseCtx<'_>) {
        if let Some(h) = self.session.handover.as_mut() {
            if let Some(d) = h.dropped.get_mut(dir.idx()) {
                *d += u64::from(len);
            }
            return;
        }
        ctx.anomaly(ImapAnomaly::Gap.as_str());
        match dir {
            Direction::ToServer => {
                gap_side(&mut self.client_lit, &mut self.client, len);
                if self.client_lit.is_none() {
                    self.cur = None;
                    self.session.sasl = None;
                }
            }
            Direction::ToClient => {
                gap_side(&mut self.server_lit, &mut self.server, len);
                if self.server_lit.is_none() {
                    self.server_first = true;
                }
            }
        }
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        if self.session.handover.is_some() {
            return;
        }
        if let Some(m) = self.client_lit.take().and_then(|l| l.msg) {
            self.session.finish("imap", m, ctx);
        }
        if let Some(m) = self.server_lit.take().and_then(|l| l.msg) {
            self.session.finish("imap", m, ctx);
        }
    }

    fn take_handover(&mut self) -> Option<Handover> {
        self.session.handover.take()
    }
}

/// An IMAP parser for a flow.
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(ImapState::new(transport))
}
