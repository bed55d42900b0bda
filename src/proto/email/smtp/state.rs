//! The per-flow SMTP [`AppParser`]: commands paired with replies, DATA and BDAT to the MIME
//! stage, STARTTLS hand-over.

use crate::proto::email::smtp::SmtpAnomaly;
use std::collections::VecDeque;

use crate::proto::{AppParser, AppProto, Direction, Handover, ParseCtx, Transport};

use super::parser::{decode_b64, lossy, path_arg, plain_user, Lines};
use crate::proto::email::mime::{Envelope, MessageBuilder, MessageLimits};

/// Commands awaiting a reply kept at most (pipelining).
const MAX_PENDING: usize = 512;
/// Client bytes kept while STARTTLS awaits its reply.
const MAX_TLS_WAIT: usize = 64 << 10;
/// A DATA line longer than this is passed on in pieces.
const DATA_LINE_FLUSH: usize = 4096;

/// What the client side is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// Reading command lines.
    Command,
    /// AUTH LOGIN: the next line is the base64 user name.
    AuthLoginUser,
    /// AUTH LOGIN / PLAIN: the next line holds the password (PLAIN: with the user name).
    AuthSecret { plain: bool },
    /// Another SASL mechanism: lines are exchanged until the server's final reply.
    AuthOther,
    /// DATA content until "<CRLF>.<CRLF>".
    Data,
    /// BDAT: `remaining` raw bytes of the chunk follow (`discard`: of a BDAT outside a mail
    /// transaction, which the server refuses: not part of any message).
    Bdat {
        remaining: u64,
        last: bool,
        discard: bool,
    },
    /// STARTTLS sent, its reply not yet seen.
    TlsWait,
}

/// A command awaiting its reply, with what undoes its effect when the server refuses it (the
/// state changes when the command is read, so that pipelined commands see it).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmd {
    Auth,
    StartTls,
    Data,
    /// HELO/EHLO: the name before it.
    Helo {
        prev: Option<String>,
    },
    /// MAIL: the sender and parameters before it.
    Mail {
        prev_from: Option<String>,
        prev_params: Option<String>,
    },
    /// RCPT: the address it added (`None`: past the cap, not added).
    Rcpt {
        addr: Option<String>,
    },
    /// BDAT: its chunk's place in message `gen`.
    Bdat {
        gen: u64,
        start: u64,
        len: u64,
        last: bool,
    },
    Other,
}

/// The SMTP state of one flow.
#[derive(Debug)]
pub struct SmtpState {
    limits: MessageLimits,
    client: Client,
    client_lines: Lines,
    server_lines: Lines,
    /// DATA: the current line so far (from its start), and whether its start was handled.
    data_line: Vec<u8>,
    data_mid_line: bool,
    pending: VecDeque<Cmd>,
    greeted: bool,
    env: Envelope,
    msg: Option<MessageBuilder>,
    tls_wait: Vec<u8>,
    /// STARTTLS answered 220: the rest of the flow is TLS, handed on to the worker.
    handover: Option<Handover>,
    /// Number of the message being built (BDAT replies refer to it).
    gen: u64,
    /// The last BDAT chunk is in, its reply not yet seen: the message ends when it is accepted.
    bdat_last: bool,
    /// Client commands seen (the transaction number of the last one).
    commands: u64,
    /// The number of the STARTTLS awaiting its answer (`parent.tx` of the TLS that follows).
    starttls_tx: Option<u64>,
}

impl SmtpState {
    /// A parser for a new flow with the default message limits.
    pub fn new() -> SmtpState {
        SmtpState::with_limits(MessageLimits::default())
    }

    /// A parser for a new flow.
    pub fn with_limits(limits: MessageLimits) -> SmtpState {
        SmtpState {
            limits,
            client: Client::Command,
            client_lines: Lines::default(),
            server_lines: Lines::default(),
            data_line: Vec::new(),
            data_mid_line: false,
            pending: VecDeque::new(),
            greeted: false,
            env: Envelope {
                protocol: "smtp",
                ..Envelope::default()
            },
            msg: None,
            tls_wait: Vec::new(),
            handover: None,
            gen: 0,
            bdat_last: false,
            commands: 0,
            starttls_tx: None,
        }
    }

    fn push_pending(&mut self, cmd: Cmd, ctx: &mut ParseCtx<'_>) {
        if self.pending.len() >= MAX_PENDING {
            ctx.anomaly(SmtpAnomaly::TooManyPending.as_str());
            self.pending.pop_front();
        }
        self.pending.push_back(cmd);
    }

    fn builder(&mut self) -> &mut MessageBuilder {
        let limits = self.limits;
        if self.msg.is_none() {
            self.gen += 1;
        }
        self.msg.get_or_insert_with(|| MessageBuilder::new(limits))
    }

    /// Ends the message in progress (if any) and the transaction.
    fn end_message(&mut self, complete: bool, ctx: &mut ParseCtx<'_>) {
        if !self.data_line.is_empty() {
            // The partial last line of a message cut short.
            let line = std::mem::take(&mut self.data_line);
            let body = line.strip_prefix(b".").unwrap_or(&line);
            if let Some(m) = self.msg.as_mut() {
                m.push(body);
            }
        }
        if let Some(mut m) = self.msg.take() {
            if !complete {
                m.mark_truncated();
            }
            m.finish(&self.env, ctx);
        }
        self.env.mail_from = None;
        self.env.mail_params = None;
        self.env.rcpt_to.clear();
        self.data_line.clear();
        self.data_mid_line = false;
        self.bdat_last = false;
    }

    fn client_data(&mut self, mut data: &[u8], ctx: &mut ParseCtx<'_>) {
        while !data.is_empty() {
            if let Some(h) = self.handover.as_mut() {
                h.push(Direction::ToServer, data);
                return;
            }
            let used = match self.client {
                Client::Data => self.data_bytes(data, ctx),
                Client::Bdat {
                    remaining,
                    last,
                    discard,
                } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    if !discard {
                        self.builder().push(data.get(..n).unwrap_or_default());
                    }
                    let remaining = remaining - n as u64;
                    if remaining == 0 {
                        self.client = Client::Command;
                        // The message ends when the server accepts the last chunk.
                        self.bdat_last |= last && !discard;
                    } else {
                        self.client = Client::Bdat {
                            remaining,
                            last,
                            discard,
                        };
                    }
                    n
                }
                Client::TlsWait => {
                    let room = MAX_TLS_WAIT.saturating_sub(self.tls_wait.len());
                    self.tls_wait
                        .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                    data.len()
                }
                _ => {
                    let (used, line) = self.client_lines.next(data, ctx);
                    if let Some(line) = line {
                        self.client_line(&line, ctx);
                    }
                    used
                }
            };
            data = data.get(used.max(1)..).unwrap_or_default();
        }
    }

    /// DATA content: dot-unstuffing and the end marker. Returns the bytes consumed.
    fn data_bytes(&mut self, data: &[u8], ctx: &mut ParseCtx<'_>) -> usize {
        let (used, complete) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        let piece = data.get(..used).unwrap_or_default();
        if self.data_mid_line {
            self.builder().push(piece);
            if complete {
                self.data_mid_line = false;
            }
            return used;
        }
        self.data_line.extend_from_slice(piece);
        if complete {
            let line = std::mem::take(&mut self.data_line);
            if line == b".\r\n" || line == b".\n" {
                self.client = Client::Command;
                self.end_message(true, ctx);
                // The end of the content gets a reply of its own.
                self.push_pending(Cmd::Other, ctx);
            } else {
                let body = line.strip_prefix(b".").unwrap_or(&line);
                self.builder().push(body);
            }
        } else if self.data_line.len() > DATA_LINE_FLUSH {
            let line = std::mem::take(&mut self.data_line);
            let body = line.strip_prefix(b".").unwrap_or(&line);
            self.builder().push(body);
            self.data_mid_line = true;
        }
        used
    }

    fn client_line(&mut self, line: &[u8], ctx: &mut ParseCtx<'_>) {
        match self.client {
            Client::AuthLoginUser => {
                if line == b"*" {
                    self.client = Client::Command;
                    return;
                }
                self.env.auth_user = decode_b64(line).map(|u| lossy(&u));
                self.client = Client::AuthSecret { plain: false };
                return;
            }
            Client::AuthSecret { plain } => {
                if plain && line != b"*" {
                    self.env.auth_user = decode_b64(line).and_then(|b| plain_user(&b));
                }
                // The password is dropped here, never stored.
                self.client = Client::Command;
                return;
            }
            Client::AuthOther => return,
            _ => {}
        }
        let text = lossy(line);
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (text.trim().to_ascii_uppercase(), ""),
        };
        let cmd = match verb.as_str() {
            "HELO" | "EHLO" => {
                let prev = self.env.helo.take();
                self.env.helo = Some(arg.to_string()).filter(|s| !s.is_empty());
                Cmd::Helo { prev }
            }
            "AUTH" => {
                self.auth(arg);
                Cmd::Auth
            }
            "STARTTLS" => {
                self.client = Client::TlsWait;
                Cmd::StartTls
            }
            "MAIL" => {
                if self.msg.is_some() {
                    // A new transaction while a message is unfinished (complete when its
                    // last BDAT chunk is in).
                    self.end_message(self.bdat_last, ctx);
                }
                let (addr, params) = path_arg(arg, "FROM:");
                let prev_from = self.env.mail_from.replace(addr);
                let prev_params = std::mem::replace(&mut self.env.mail_params, params);
                self.env.rcpt_to.clear();
                Cmd::Mail {
                    prev_from,
                    prev_params,
                }
            }
            "RCPT" => {
                let (addr, _) = path_arg(arg, "TO:");
                if self.env.rcpt_to.len() < 1024 {
                    self.env.rcpt_to.push(addr.clone());
                    Cmd::Rcpt { addr: Some(addr) }
                } else {
                    Cmd::Rcpt { addr: None }
                }
            }
            "DATA" => {
                self.client = Client::Data;
                self.data_line.clear();
                self.data_mid_line = false;
                self.builder();
                Cmd::Data
            }
            "BDAT" => {
                let mut it = arg.split_ascii_whitespace();
                match it.next().and_then(|n| n.parse::<u64>().ok()) {
                    Some(n) => {
                        let last = it.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                        // Outside a mail transaction the server refuses the chunk (503):
                        // its bytes are skipped.
                        let discard = self.env.mail_from.is_none();
                        if n > 0 {
                            self.client = Client::Bdat {
                                remaining: n,
                                last,
                                discard,
                            };
                        } else {
                            self.bdat_last |= last && !discard;
                        }
                        if discard {
                            ctx.anomaly(SmtpAnomaly::BdatWithoutMail.as_str());
                            Cmd::Other
                        } else {
                            let start = self.builder().size();
                            Cmd::Bdat {
                                gen: self.gen,
                                start,
                                len: n,
                                last,
                            }
                        }
                    }
                    None => {
                        ctx.anomaly(SmtpAnomaly::BadBdat.as_str());
                        Cmd::Other
                    }
                }
            }
            "RSET" => {
                if self.msg.is_some() {
                    self.end_message(false, ctx);
                } else {
                    self.end_message(true, ctx);
                }
                Cmd::Other
            }
            _ => Cmd::Other,
        };
        self.commands += 1;
        if cmd == Cmd::StartTls {
            self.starttls_tx = Some(self.commands);
        }
        self.push_pending(cmd, ctx);
    }

    fn auth(&mut self, arg: &str) {
        let mut it = arg.split_ascii_whitespace();
        let mech = it.next().unwrap_or_default().to_ascii_uppercase();
        let initial = it.next();
        self.env.auth_user = None;
        self.client = match (mech.as_str(), initial) {
            ("LOGIN", None) => Client::AuthLoginUser,
            ("LOGIN", Some(u)) => {
                self.env.auth_user = decode_b64(u.as_bytes()).map(|u| lossy(&u));
                Client::AuthSecret { plain: false }
            }
            ("PLAIN", None) => Client::AuthSecret { plain: true },
            ("PLAIN", Some(c)) => {
                self.env.auth_user = decode_b64(c.as_bytes()).and_then(|b| plain_user(&b));
                Client::Command
            }
            (_, _) => Client::AuthOther,
        };
        self.env.auth_mechanism = Some(mech).filter(|m| !m.is_empty());
    }

    fn server_data(&mut self, mut data: &[u8], ctx: &mut ParseCtx<'_>) {
        while !data.is_empty() {
            if let Some(h) = self.handover.as_mut() {
                h.push(Direction::ToClient, data);
                return;
            }
            let (used, line) = self.server_lines.next(data, ctx);
            data = data.get(used.max(1)..).unwrap_or_default();
            if let Some(line) = line {
                self.server_line(&line, ctx);
            }
        }
    }

    fn server_line(&mut self, line: &[u8], ctx: &mut ParseCtx<'_>) {
        let code = match line.get(..3).and_then(|c| std::str::from_utf8(c).ok()) {
            Some(c) => match c.parse::<u16>() {
                Ok(n) => n,
                Err(_) => {
                    ctx.anomaly(SmtpAnomaly::BadReply.as_str());
                    return;
                }
            },
            None => {
                ctx.anomaly(SmtpAnomaly::BadReply.as_str());
                return;
            }
        };
        if line.get(3) == Some(&b'-') {
            return; // more lines of the same reply follow
        }
        let Some(cmd) = self.pending.front().cloned() else {
            if !self.greeted && code == 220 {
                self.greeted = true;
            } else if code != 421 {
                ctx.anomaly(SmtpAnomaly::UnexpectedReply.as_str());
            }
            return;
        };
        if cmd == Cmd::Auth && code == 334 {
            return; // a SASL challenge: the AUTH goes on
        }
        self.pending.pop_front();
        let refused = code >= 400;
        if refused
            && matches!(
                cmd,
                Cmd::Helo { .. } | Cmd::Mail { .. } | Cmd::Rcpt { .. } | Cmd::Bdat { .. }
            )
        {
            ctx.anomaly(SmtpAnomaly::RefusedCommand.as_str());
        }
        match cmd {
            Cmd::Auth => {
                if self.client == Client::AuthOther
                    || matches!(
                        self.client,
                        Client::AuthLoginUser | Client::AuthSecret { .. }
                    )
                {
                    self.client = Client::Command;
                }
            }
            Cmd::StartTls => {
                if code == 220 {
                    self.env.starttls = true;
                    let mut h =
                        Handover::new(AppProto::Smtp, self.starttls_tx.take(), Some(AppProto::Tls));
                    h.push(Direction::ToServer, &std::mem::take(&mut self.tls_wait));
                    self.handover = Some(h);
                    self.pending.clear();
                } else if self.client == Client::TlsWait {
                    self.client = Client::Command;
                    let early = std::mem::take(&mut self.tls_wait);
                    self.client_data(&early, ctx);
                }
            }
            Cmd::Helo { prev } => {
                if refused {
                    self.env.helo = prev;
                }
            }
            Cmd::Mail {
                prev_from,
                prev_params,
            } => {
                if refused {
                    self.env.mail_from = prev_from;
                    self.env.mail_params = prev_params;
                }
            }
            Cmd::Rcpt { addr: Some(addr) } => {
                if refused {
                    if let Some(i) = self.env.rcpt_to.iter().position(|a| *a == addr) {
                        self.env.rcpt_to.remove(i);
                    }
                }
            }
            Cmd::Rcpt { addr: None } => {}
            Cmd::Bdat {
                gen,
                start,
                len,
                last,
            } => self.bdat_reply(refused, gen, start, len, last, ctx),
            Cmd::Data => {
                if code != 354
                    && self.client == Client::Data
                    && self.data_line.is_empty()
                    && self.msg.as_ref().is_some_and(|m| m.size() == 0)
                {
                    // DATA refused: no content follows.
                    ctx.anomaly(SmtpAnomaly::RefusedCommand.as_str());
                    self.client = Client::Command;
                    self.msg = None;
                }
            }
            Cmd::Other => {}
        }
    }
}

impl SmtpState {
    /// The reply to a BDAT of message `gen` whose chunk was `len` bytes at `start`: a refused
    /// chunk is taken back out of the message (the chunks after it move up); the accepted last
    /// chunk ends the message.
    fn bdat_reply(
        &mut self,
        refused: bool,
        gen: u64,
        start: u64,
        len: u64,
        last: bool,
        ctx: &mut ParseCtx<'_>,
    ) {
        if gen != self.gen || self.msg.is_none() {
            return; // the message already ended
        }
        if refused {
            if let Some(m) = self.msg.as_mut() {
                m.take_back(start, len);
            }
            for p in self.pending.iter_mut() {
                if let Cmd::Bdat {
                    gen: g, start: s, ..
                } = p
                {
                    if *g == gen && *s > start {
                        *s = s.saturating_sub(len);
                    }
                }
            }
            if last {
                self.bdat_last = false;
            }
        } else if last && self.bdat_last {
            self.end_message(true, ctx);
        }
    }
}

impl Default for SmtpState {
    fn default() -> Self {
        SmtpState::new()
    }
}

impl AppParser for SmtpState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        match dir {
            Direction::ToServer => self.client_data(data, ctx),
            Direction::ToClient => self.server_data(data, ctx),
        }
    }

    fn take_handover(&mut self) -> Option<Handover> {
        self.handover.take()
    }

    fn on_gap(&mut self, dir: Direction, len: u32, ctx: &mut ParseCtx<'_>) {
        if let Some(h) = self.handover.as_mut() {
            if let Some(d) = h.dropped.get_mut(dir.idx()) {
                *d += u64::from(len);
            }
            return;
        }
        ctx.anomaly(SmtpAnomaly::Gap.as_str());
        match dir {
            Direction::ToServer => {
                if self.msg.is_some() {
                    self.end_message(false, ctx);
                }
                self.client = Client::Command;
                self.client_lines.reset(true);
                self.tls_wait.clear();
            }
            Direction::ToClient => {
                self.pending.clear();
                self.server_lines.reset(true);
            }
        }
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        if self.handover.is_some() {
            return;
        }
        if self.msg.is_some() {
            // A last BDAT chunk whose reply did not come: the message is all there.
            self.end_message(self.bdat_last, ctx);
        }
    }
}

/// The SMTP parser, boxed for the dispatcher.
pub fn new_parser(_transport: Transport) -> Box<dyn AppParser> {
    Box::new(SmtpState::new())
}
