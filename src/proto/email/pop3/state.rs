//! The per-flow POP3 [`AppParser`]: commands paired with responses, messages to the MIME stage.

use crate::proto::email::pop3::Pop3Anomaly;
use std::collections::VecDeque;

use crate::proto::{AppParser, AppProto, Direction, Handover, ParseCtx, Transport};

use crate::proto::email::session::{
    starts_nocase, trim_eol, user_name, LineReader, Msg, Sasl, Session,
};

/// Commands waiting for an answer, at most. Past it, the newest commands are kept only as a
/// count ([`Cmd::Unknown`]): their responses are still paired in order, as single lines.
const MAX_PENDING: usize = 512;

/// A command whose response is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmd {
    /// `+OK` starts a multi-line response that is a message (RETR, TOP).
    Message,
    /// `+OK` starts a multi-line response of something else (CAPA, LIST, UIDL, AUTH).
    MultiLine,
    /// AUTH with a mechanism: `+ ` lines are continuations.
    Auth,
    /// STLS: `+OK` hands the flow to TLS.
    Stls,
    /// Anything else: one line.
    Single,
    /// This many commands not kept (the queue was full): each answer is taken as one line.
    Unknown(u32),
}

/// What the server's next lines are.
#[derive(Debug)]
enum ServerMode {
    /// Status lines.
    Lines,
    /// A multi-line response; the message when it is one.
    MultiLine(Option<Msg>),
}

/// The POP3 parser of one flow.
#[derive(Debug)]
pub struct Pop3State {
    client: LineReader,
    server: LineReader,
    greeted: bool,
    pub(super) pending: VecDeque<Cmd>,
    mode: ServerMode,
    pub(super) session: Session,
}

impl Pop3State {
    /// A parser for a new flow.
    pub fn new(_transport: Transport) -> Pop3State {
        Pop3State {
            client: LineReader::default(),
            server: LineReader::default(),
            greeted: false,
            pending: VecDeque::new(),
            mode: ServerMode::Lines,
            session: Session::default(),
        }
    }

    fn on_client(&mut self, mut rest: &[u8], ctx: &mut ParseCtx<'_>) {
        while let Some(piece) = self.client.next(&mut rest) {
            if !piece.whole() {
                if piece.start {
                    ctx.anomaly(Pop3Anomaly::LineTooLong.as_str());
                }
                continue;
            }
            let line = std::mem::take(&mut self.client.buf);
            self.client_line(&line, ctx);
            self.client.buf = line;
        }
    }

    fn client_line(&mut self, line: &[u8], ctx: &mut ParseCtx<'_>) {
        if let Some(sasl) = self.session.sasl {
            self.session.sasl = Some(sasl.client_line(line, &mut self.session.user));
            return;
        }
        let line = trim_eol(line);
        if line.is_empty() {
            return;
        }
        let (verb, arg) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (
                line.get(..i).unwrap_or_default(),
                line.get(i + 1..).unwrap_or_default(),
            ),
            None => (line, &b""[..]),
        };
        let verb = verb.to_ascii_uppercase();
        let arg = arg.trim_ascii();
        let cmd = match verb.as_slice() {
            b"RETR" | b"TOP" => Cmd::Message,
            b"CAPA" => Cmd::MultiLine,
            b"LIST" | b"UIDL" if arg.is_empty() => Cmd::MultiLine,
            b"USER" => {
                if let Some(u) = user_name(arg) {
                    self.session.user = Some(u);
                }
                Cmd::Single
            }
            b"APOP" => {
                let name = arg.split(|&b| b == b' ').next().unwrap_or_default();
                if let Some(u) = user_name(name) {
                    self.session.user = Some(u);
                }
                Cmd::Single
            }
            b"AUTH" if arg.is_empty() => Cmd::MultiLine,
            b"AUTH" => {
                let mut parts = arg.split(|&b| b == b' ').filter(|p| !p.is_empty());
                let mech =
                    String::from_utf8_lossy(parts.next().unwrap_or_default()).to_ascii_uppercase();
                let mech: String = mech.chars().take(64).collect();
                self.session.sasl = Some(Sasl::start(&mech, parts.next(), &mut self.session.user));
                self.session.mechanism = Some(mech);
                Cmd::Auth
            }
            b"STLS" => Cmd::Stls,
            _ => Cmd::Single,
        };
        self.push_pending(cmd, ctx);
    }

    /// Queues a command. With the queue full, the newest ones become a count of unknown
    /// commands (counted as `pop3.too_many_pending`): answers stay paired with their commands.
    fn push_pending(&mut self, cmd: Cmd, ctx: &mut ParseCtx<'_>) {
        self.session.commands += 1;
        if cmd == Cmd::Stls {
            self.session.starttls_tx = Some(self.session.commands);
        }
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(cmd);
            return;
        }
        ctx.anomaly(Pop3Anomaly::TooManyPending.as_str());
        match self.pending.pop_back() {
            Some(Cmd::Unknown(n)) => self.pending.push_back(Cmd::Unknown(n.saturating_add(1))),
            Some(_) => self.pending.push_back(Cmd::Unknown(2)),
            None => self.pending.push_back(Cmd::Unknown(1)),
        }
    }

    /// The command the next response answers.
    fn pop_pending(&mut self) -> Option<Cmd> {
        match self.pending.pop_front()? {
            Cmd::Unknown(n) if n > 1 => {
                self.pending.push_front(Cmd::Unknown(n - 1));
                Some(Cmd::Unknown(1))
            }
            cmd => Some(cmd),
        }
    }

    fn on_server(&mut self, mut rest: &[u8], ctx: &mut ParseCtx<'_>) {
        while let Some(piece) = self.server.next(&mut rest) {
            let line = std::mem::take(&mut self.server.buf);
            match &mut self.mode {
                ServerMode::MultiLine(msg) => {
                    if piece.whole() && trim_eol(&line) == b"." {
                        if let Some(m) = msg.take() {
                            self.session.finish("pop3", m, ctx);
                        }
                        self.mode = ServerMode::Lines;
                    } else if let Some(m) = msg {
                        let unstuffed = match line.first() {
                            Some(b'.') if piece.start => line.get(1..).unwrap_or_default(),
                            _ => &line[..],
                        };
                        m.push(unstuffed);
                    }
                }
                ServerMode::Lines => {
                    if piece.whole() {
                        self.server_line(&line);
                    } else if piece.start {
                        ctx.anomaly(Pop3Anomaly::LineTooLong.as_str());
                    }
                }
            }
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

    fn server_line(&mut self, line: &[u8]) {
        let ok = starts_nocase(line, b"+OK");
        let err = starts_nocase(line, b"-ERR");
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
            return;
        }
        self.greeted = true;
        if !ok && !err {
            // "+ challenge" continues an AUTH exchange; other lines are not responses.
            return;
        }
        let Some(cmd) = self.pop_pending() else {
            return;
        };
        if cmd == Cmd::Auth {
            self.session.sasl = None;
        }
        if !ok {
            return;
        }
        match cmd {
            Cmd::Message => self.mode = ServerMode::MultiLine(Some(Msg::new())),
            Cmd::MultiLine => self.mode = ServerMode::MultiLine(None),
            Cmd::Stls => {
                self.session.starttls = true;
                self.session.handover = Some(Handover::new(
                    AppProto::Pop3,
                    self.session.starttls_tx.take(),
                    Some(AppProto::Tls),
                ));
            }
            Cmd::Auth | Cmd::Single | Cmd::Unknown(_) => {}
        }
    }
}

impl AppParser for Pop3State {
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
        ctx.anomaly(Pop3Anomaly::Gap.as_str());
        match dir {
            Direction::ToServer => {
                self.client.resync();
                self.session.sasl = None;
            }
            Direction::ToClient => {
                self.server.resync();
                self.mode = ServerMode::Lines;
                self.pending.clear();
                self.greeted = true;
            }
        }
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        if self.session.handover.is_some() {
            return;
        }
        if let ServerMode::MultiLine(Some(_)) = self.mode {
            if let ServerMode::MultiLine(Some(m)) =
                std::mem::replace(&mut self.mode, ServerMode::Lines)
            {
                let partial = self.server.take_pending();
                let mut m = m;
                m.push(&partial);
                self.session.finish("pop3", m, ctx);
            }
        }
    }

    fn take_handover(&mut self) -> Option<Handover> {
        self.session.handover.take()
    }
}

/// A POP3 parser for a flow.
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(Pop3State::new(transport))
}
