//! SMTP wire pieces: command and reply lines (length-capped), path arguments, SASL PLAIN and
//! LOGIN user names.

use crate::proto::email::smtp::SmtpAnomaly;
use base64::Engine;

use crate::proto::ParseCtx;

/// Longest command or reply line kept; longer lines raise `smtp.line_too_long` and are skipped.
pub const MAX_LINE: usize = 16 << 10;

/// Reads lines out of a byte stream, with a length cap. Its `Debug` shows the length of a
/// partial line, never its bytes (it may be a password).
#[derive(Default)]
pub(super) struct Lines {
    buf: Vec<u8>,
    skipping: bool,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines")
            .field("buf_len", &self.buf.len())
            .field("skipping", &self.skipping)
            .finish()
    }
}

impl Lines {
    /// Takes bytes up to and including the next '\n'. Returns the bytes consumed and the line
    /// when complete (without its line ending).
    pub(super) fn next(&mut self, data: &[u8], ctx: &mut ParseCtx<'_>) -> (usize, Option<Vec<u8>>) {
        let (used, complete) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        let piece = data.get(..used).unwrap_or_default();
        if !self.skipping {
            if self.buf.len() + piece.len() > MAX_LINE + 2 {
                ctx.anomaly(SmtpAnomaly::LineTooLong.as_str());
                self.buf.clear();
                self.skipping = true;
            } else {
                self.buf.extend_from_slice(piece);
            }
        }
        if !complete {
            return (used, None);
        }
        if self.skipping {
            self.skipping = false;
            return (used, None);
        }
        let mut line = std::mem::take(&mut self.buf);
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        (used, Some(line))
    }

    pub(super) fn reset(&mut self, skip_to_eol: bool) {
        self.buf.clear();
        self.skipping = skip_to_eol;
    }
}

/// "FROM:<a@b> SIZE=1" → ("a@b", Some("SIZE=1")).
pub(super) fn path_arg(arg: &str, prefix: &str) -> (String, Option<String>) {
    let rest = match arg.get(..prefix.len()) {
        Some(p) if p.eq_ignore_ascii_case(prefix) => arg.get(prefix.len()..).unwrap_or_default(),
        _ => arg,
    };
    let rest = rest.trim_start();
    let (path, params) = if let Some(r) = rest.strip_prefix('<') {
        match r.split_once('>') {
            Some((p, tail)) => (p, tail),
            None => (r, ""),
        }
    } else {
        rest.split_once(' ').unwrap_or((rest, ""))
    };
    let params = params.trim();
    (
        path.trim().to_string(),
        Some(params.to_string()).filter(|p| !p.is_empty()),
    )
}

pub(super) fn decode_b64(b: &[u8]) -> Option<Vec<u8>> {
    let t: Vec<u8> = b
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(t).ok()
}

/// SASL PLAIN "authzid\0authcid\0password": the authentication identity only. A response
/// without both NULs is malformed and gives nothing: its second field may be the password.
pub(super) fn plain_user(b: &[u8]) -> Option<String> {
    let mut parts = b.splitn(3, |&c| c == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    parts.next()?;
    let user = if authcid.is_empty() { authzid } else { authcid };
    Some(lossy(user)).filter(|u| !u.is_empty())
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
