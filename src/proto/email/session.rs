//! Pieces shared by the POP3 and IMAP parsers: a CRLF line reader with a length cap, a
//! message in progress, and the SASL exchanges that reveal a user name.

use base64::Engine;

use crate::proto::email::mime::{Envelope, MessageBuilder, MessageLimits};
use crate::proto::ParseCtx;

/// Longest command/response line kept; longer lines are reported and skipped (or, inside a
/// message, passed through in pieces).
pub(crate) const MAX_LINE: usize = 16 << 10;

/// Longest user name kept.
const MAX_USER: usize = 256;

/// Where a line piece returned by [`LineReader::next`] lies in its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The piece starts the line.
    pub start: bool,
    /// The piece ends the line (it ends with LF).
    pub end: bool,
}

impl Piece {
    /// A whole line, not cut by the cap.
    pub fn whole(self) -> bool {
        self.start && self.end
    }
}

/// Splits one direction's stream into lines (LF-terminated, LF kept), at most `MAX_LINE`
/// bytes a piece; a longer line comes as several pieces. Its `Debug` shows lengths, never
/// the bytes (the last line may be a password).
#[derive(Default)]
pub(crate) struct LineReader {
    /// The piece being assembled, or the one last returned.
    pub buf: Vec<u8>,
    /// `buf` was returned: clear it before the next piece.
    ready: bool,
    /// The next piece continues a line already partly returned.
    cont: bool,
    /// Discard bytes up to the next LF (after a gap).
    skip: bool,
}

impl std::fmt::Debug for LineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineReader")
            .field("buf_len", &self.buf.len())
            .field("ready", &self.ready)
            .field("cont", &self.cont)
            .field("skip", &self.skip)
            .finish()
    }
}

impl LineReader {
    /// The next piece from `rest` (consumed as far as used), or None when `rest` is used up
    /// without completing one. The piece is in `self.buf`.
    pub fn next(&mut self, rest: &mut &[u8]) -> Option<Piece> {
        if self.ready {
            self.buf.clear();
            self.ready = false;
        }
        while !rest.is_empty() {
            let lf = rest.iter().position(|&b| b == b'\n');
            let take = lf.map_or(rest.len(), |i| i + 1);
            if self.skip {
                *rest = rest.get(take..).unwrap_or_default();
                if lf.is_some() {
                    self.skip = false;
                }
                continue;
            }
            let room = MAX_LINE.saturating_sub(self.buf.len());
            let n = take.min(room);
            let (head, tail) = rest.split_at(n.min(rest.len()));
            self.buf.extend_from_slice(head);
            *rest = tail;
            if lf.is_some() && n == take {
                let piece = Piece {
                    start: !self.cont,
                    end: true,
                };
                self.cont = false;
                self.ready = true;
                return Some(piece);
            }
            if self.buf.len() >= MAX_LINE {
                let piece = Piece {
                    start: !self.cont,
                    end: false,
                };
                self.cont = true;
                self.ready = true;
                return Some(piece);
            }
        }
        None
    }

    /// Forget the partial line and skip to the next LF (after a gap).
    pub fn resync(&mut self) {
        self.buf.clear();
        self.ready = false;
        self.cont = false;
        self.skip = true;
    }

    /// Bytes received but not yet returned as a piece.
    pub fn take_pending(&mut self) -> Vec<u8> {
        if self.ready {
            self.buf.clear();
            self.ready = false;
        }
        std::mem::take(&mut self.buf)
    }
}

/// A line without its CRLF / LF.
pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `s` starts with `prefix`, ASCII case-insensitively.
pub(crate) fn starts_nocase(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// A user name as kept: lossy UTF-8, capped.
pub(crate) fn user_name(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let cut = raw.get(..MAX_USER).unwrap_or(raw);
    Some(String::from_utf8_lossy(cut).into_owned())
}

fn b64(line: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(trim_eol(line).trim_ascii())
        .ok()
}

/// The authentication identity of a SASL PLAIN response (`authzid NUL authcid NUL passwd`),
/// never the password. A response without both NULs is malformed and gives nothing: its
/// second field may be the password.
pub(crate) fn sasl_plain_user(b64_line: &[u8]) -> Option<String> {
    let raw = b64(b64_line)?;
    let mut parts = raw.splitn(3, |&b| b == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    parts.next()?;
    user_name(authcid).or_else(|| user_name(authzid))
}

/// The user name of a SASL LOGIN first response.
pub(crate) fn sasl_login_user(b64_line: &[u8]) -> Option<String> {
    user_name(&b64(b64_line)?)
}

/// Where a client is in a SASL exchange: which of its next lines carry what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sasl {
    /// The next line is a PLAIN response.
    Plain,
    /// The next line is the LOGIN user name, then the password.
    LoginUser,
    /// The next line is the LOGIN password (skipped).
    LoginPass,
    /// Lines of another mechanism (skipped until the server's final answer).
    Other,
}

impl Sasl {
    /// The state after the AUTH/AUTHENTICATE command for `mech`, with its initial response
    /// if any; the user found in the initial response goes to `user`.
    pub fn start(mech: &str, initial: Option<&[u8]>, user: &mut Option<String>) -> Sasl {
        let initial = initial.filter(|i| !i.is_empty() && *i != b"=");
        match (mech, initial) {
            ("PLAIN", Some(i)) => {
                if let Some(u) = sasl_plain_user(i) {
                    *user = Some(u);
                }
                Sasl::Other
            }
            ("PLAIN", None) => Sasl::Plain,
            ("LOGIN", Some(i)) => {
                if let Some(u) = sasl_login_user(i) {
                    *user = Some(u);
                }
                Sasl::LoginPass
            }
            ("LOGIN", None) => Sasl::LoginUser,
            _ => Sasl::Other,
        }
    }

    /// Handles one client line of the exchange: returns the next state.
    pub fn client_line(self, line: &[u8], user: &mut Option<String>) -> Sasl {
        if trim_eol(line) == b"*" {
            return Sasl::Other;
        }
        match self {
            Sasl::Plain => {
                if let Some(u) = sasl_plain_user(line) {
                    *user = Some(u);
                }
                Sasl::Other
            }
            Sasl::LoginUser => {
                if let Some(u) = sasl_login_user(line) {
                    *user = Some(u);
                }
                Sasl::LoginPass
            }
            Sasl::LoginPass | Sasl::Other => Sasl::Other,
        }
    }
}

/// A message being received: its bytes go to the MIME stage.
#[derive(Debug)]
pub(crate) struct Msg {
    builder: MessageBuilder,
    /// Copy of the bytes, for the unit tests.
    #[cfg(test)]
    pub bytes: Vec<u8>,
}

impl Msg {
    pub fn new() -> Msg {
        Msg {
            builder: MessageBuilder::new(MessageLimits::default()),
            #[cfg(test)]
            bytes: Vec::new(),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        #[cfg(test)]
        self.bytes.extend_from_slice(bytes);
        self.builder.push(bytes);
    }

    /// Hands the message to the MIME stage; in tests, also returns its bytes.
    pub fn finish(self, env: &Envelope, ctx: &mut ParseCtx<'_>) -> Vec<u8> {
        self.builder.finish(env, ctx);
        #[cfg(test)]
        return self.bytes;
        #[cfg(not(test))]
        Vec::new()
    }
}

/// The logon and transport state POP3 and IMAP share: the SASL step, the user and mechanism
/// seen (never a password), STARTTLS and the hand-over to TLS; and how a message
/// either protocol carried becomes records.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) sasl: Option<Sasl>,
    pub(crate) user: Option<String>,
    pub(crate) mechanism: Option<String>,
    pub(crate) starttls: bool,
    /// After STARTTLS/STLS answered: the rest of the flow is TLS, handed on to the worker
    /// (every further byte is kept for it).
    pub(crate) handover: Option<crate::proto::Handover>,
    /// Client commands seen (the transaction number of the last one).
    pub(crate) commands: u64,
    /// The number of the STARTTLS/STLS command awaiting its answer (`parent.tx` of the TLS
    /// that follows).
    pub(crate) starttls_tx: Option<u64>,
    /// The raw messages finished (tests only).
    #[cfg(test)]
    pub(crate) messages: Vec<Vec<u8>>,
}

impl Session {
    /// What the MIME stage is told about the session a message came in.
    pub(crate) fn envelope(&self, protocol: &'static str) -> crate::proto::email::mime::Envelope {
        crate::proto::email::mime::Envelope {
            protocol,
            starttls: self.starttls,
            auth_mechanism: self.mechanism.clone(),
            auth_user: self.user.clone(),
            ..Default::default()
        }
    }

    /// Finishes a carried message into its `email` (and attachment `file`) records.
    pub(crate) fn finish(&mut self, protocol: &'static str, msg: Msg, ctx: &mut ParseCtx<'_>) {
        let env = self.envelope(protocol);
        let _bytes = msg.finish(&env, ctx);
        #[cfg(test)]
        self.messages.push(_bytes);
    }
}
