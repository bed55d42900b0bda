//! HTTP/1.x message heads (request line / status line and headers) with lenient settings, and
//! the header values a record needs.

use base64::Engine;
use md5::{Digest, Md5};

use super::HttpAnomaly;

/// Most header lines accepted in one head.
pub const MAX_HEADERS: usize = 128;
/// Largest head (start line and headers) accepted; longer heads stop the direction.
pub const MAX_HEAD: usize = 64 << 10;

/// Why a head could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not an HTTP/1.x head.
    #[error("malformed head")]
    Malformed,
    /// More than [`MAX_HEADERS`] header lines.
    #[error("too many headers")]
    TooManyHeaders,
}

/// Result of trying to parse a head at the start of a buffer.
#[derive(Debug)]
pub enum Head<T> {
    /// Parsed; the head took this many bytes.
    Complete(T, usize),
    /// More bytes are needed.
    Partial,
}

/// A request head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub uri: String,
    pub version: String,
    /// Header names and values (values trimmed, lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// Deviations from the standard framing ([`Q_BARE_LF`], ...).
    pub quirks: u16,
}

/// A response head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// Deviations from the standard framing ([`Q_BARE_LF`], ...).
    pub quirks: u16,
}

/// A line of the head ends in a bare LF.
pub const Q_BARE_LF: u16 = 1;
/// A line of the head ends in a bare CR.
pub const Q_BARE_CR: u16 = 2;
/// A header line folded onto the next (obsolete line folding).
pub const Q_FOLDED: u16 = 4;
/// A header line without a colon (skipped, as browsers skip it).
pub const Q_BAD_LINE: u16 = 8;
/// The version of the start line is not in upper case ("http/1.1").
pub const Q_LOWER_VERSION: u16 = 16;
/// The request line has extra spaces or a stray token before the version.
pub const Q_ODD_REQUEST_LINE: u16 = 32;
/// An HTTP/0.9 request (a request line without a version, no headers).
pub const Q_HTTP09: u16 = 64;

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Content-Length bytes.
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_space_before_first_header_name(true)
        .ignore_invalid_headers_in_responses(true);
    // Requests: a header line httparse refuses ("Host : x", folded lines) sends the head to
    // the lenient reader, which keeps it, rather than being dropped.
    c
}

fn version(v: Option<u8>) -> String {
    match v {
        Some(0) => "HTTP/1.0".to_string(),
        _ => "HTTP/1.1".to_string(),
    }
}

fn headers(h: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    h.iter()
        .map(|h| (h.name.to_string(), header_value(h.value)))
        .collect()
}

/// A header value as browsers read it: trimmed, folded lines joined by one space.
fn header_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    if !s.contains(['\r', '\n']) {
        return s.trim().to_string();
    }
    let mut out = String::with_capacity(s.len());
    for part in s.split(['\r', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

/// The lines of a head up to its blank line: a line ends at CRLF, LF, or (when `bare_cr`) a CR
/// not followed by LF. Returns the lines, the offset after the blank line (None when the head
/// is not complete) and the line-end quirks seen.
fn head_lines(buf: &[u8], bare_cr: bool) -> (Vec<&[u8]>, Option<usize>, u16) {
    let mut lines = Vec::new();
    let mut quirks = 0;
    let mut start = 0;
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        let end = match b {
            b'\n' => {
                if i == 0 || buf[i - 1] != b'\r' {
                    quirks |= Q_BARE_LF;
                }
                Some((i, i + 1))
            }
            b'\r' if bare_cr => match buf.get(i + 1) {
                Some(b'\n') => None,
                Some(_) => {
                    quirks |= Q_BARE_CR;
                    Some((i, i + 1))
                }
                // Not known yet whether an LF follows.
                None => return (lines, None, quirks),
            },
            _ => None,
        };
        i += 1;
        if let Some((e, next)) = end {
            let line = &buf[start..e];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            start = next;
            if line.is_empty() {
                if lines.is_empty() {
                    continue;
                }
                return (lines, Some(next), quirks);
            }
            lines.push(line);
            if lines.len() > MAX_HEADERS + 2 {
                return (lines, None, quirks);
            }
        }
    }
    if start < buf.len() {
        lines.push(&buf[start..]);
    }
    (lines, None, quirks)
}

/// Header lines (after the start line): `Name: value`, folded lines joined to the previous
/// value, lines without a colon skipped. Returns the headers and the quirks seen.
fn header_lines(lines: &[&[u8]]) -> (Vec<(String, String)>, u16) {
    let mut quirks = 0;
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in lines {
        if l.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            quirks |= Q_FOLDED;
            if let Some(last) = headers.last_mut() {
                let more = String::from_utf8_lossy(l);
                let more = more.trim();
                if !more.is_empty() {
                    if !last.1.is_empty() {
                        last.1.push(' ');
                    }
                    last.1.push_str(more);
                }
            }
            continue;
        }
        match l.iter().position(|b| *b == b':') {
            Some(i) if i > 0 => {
                let name = String::from_utf8_lossy(&l[..i]).trim().to_string();
                let value = String::from_utf8_lossy(&l[i + 1..]).trim().to_string();
                headers.push((name, value));
            }
            _ => quirks |= Q_BAD_LINE,
        }
    }
    (headers, quirks)
}

/// The quirks of a head that httparse accepted (bare LF line ends, folded or skipped lines):
/// one pass over its bytes.
fn accepted_head_quirks(head: &[u8], n_headers: usize) -> u16 {
    let mut q = 0;
    let mut lines = 0usize;
    let mut prev = 0u8;
    for (i, b) in head.iter().enumerate() {
        if *b == b'\n' {
            lines += 1;
            if prev != b'\r' {
                q |= Q_BARE_LF;
            }
            if matches!(head.get(i + 1), Some(b' ' | b'\t')) && lines > 1 {
                q |= Q_FOLDED;
            }
        }
        prev = *b;
    }
    // Start line and blank line aside, every line should be one header.
    if q & Q_FOLDED == 0 && lines.saturating_sub(2) > n_headers {
        q |= Q_BAD_LINE;
    }
    q
}

/// Parses a request head at the start of `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Head<RequestHead>, HeadError> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    let status = match config().parse_request(&mut req, buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return parse_request_lenient(buf),
    };
    match status {
        httparse::Status::Partial => Ok(Head::Partial),
        httparse::Status::Complete(n) => {
            let line_end = buf.iter().position(|b| *b == b'\n').unwrap_or(0);
            let line = buf.get(..line_end).unwrap_or_default();
            let mut quirks =
                accepted_head_quirks(buf.get(..n).unwrap_or_default(), req.headers.len());
            if line.windows(2).any(|w| w == b"  ") || line.contains(&b'\t') {
                quirks |= Q_ODD_REQUEST_LINE;
            }
            Ok(Head::Complete(
                RequestHead {
                    method: req.method.unwrap_or_default().to_string(),
                    uri: req.path.unwrap_or_default().to_string(),
                    version: version(req.version),
                    headers: headers(req.headers),
                    quirks,
                },
                n,
            ))
        }
    }
}

/// Parses a request head that httparse refuses, the way servers read it: "METHOD", "METHOD
/// URI" or "METHOD URI VERSION" (any version text), then `Name: value` lines up to a blank
/// line. The method must be an upper-case token ("GET", "CCM_POST"). "GET URI" alone is an
/// HTTP/0.9 request (nginx and Apache read it so): its head is that one line. A stray token
/// between the URI and the version is read as Apache reads it: the URI is the first token.
pub fn parse_request_lenient(buf: &[u8]) -> Result<Head<RequestHead>, HeadError> {
    let (lines, end, line_quirks) = head_lines(buf, false);
    if lines.len() > MAX_HEADERS + 1 {
        return Err(HeadError::TooManyHeaders);
    }
    let first = match lines.first() {
        Some(l) => *l,
        None if end.is_some() => return Err(HeadError::Malformed),
        // The start line itself is not complete: judge what there is.
        None => buf,
    };
    let first_end = buf.iter().position(|b| *b == b'\n').map(|i| i + 1);
    let text = std::str::from_utf8(first).map_err(|_| HeadError::Malformed)?;
    let toks: Vec<&str> = text.split_ascii_whitespace().collect();
    let method = *toks.first().ok_or(HeadError::Malformed)?;
    let method_ok = (3..=20).contains(&method.len())
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-');
    if !method_ok || !text.starts_with(method) {
        return Err(HeadError::Malformed);
    }
    let mut quirks = line_quirks;
    let after_method = text
        .get(method.len()..)
        .unwrap_or_default()
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let (uri, version) = match toks.len() {
        1 => ("", ""),
        2 => (after_method, ""),
        _ => {
            // Whatever follows the URI is the version ("Arkime HTTP/1.0"): the URI is the
            // first token, as Apache and tshark read it (nginx would keep the stray token in
            // the URI).
            let uri = toks.get(1).copied().unwrap_or_default();
            let v = after_method
                .get(uri.len()..)
                .unwrap_or_default()
                .trim_matches(|c: char| c.is_ascii_whitespace());
            if !v.contains("HTTP/") {
                return Err(HeadError::Malformed);
            }
            if toks.len() > 3 {
                quirks |= Q_ODD_REQUEST_LINE;
            }
            (uri, v)
        }
    };
    if text.contains("  ") || text.contains('\t') {
        quirks |= Q_ODD_REQUEST_LINE;
    }
    // HTTP/0.9: "GET URI" and the line's end; what follows is the next request.
    if method == "GET" && toks.len() == 2 && !uri.contains("HTTP/") {
        let Some(n) = first_end else {
            return Ok(Head::Partial);
        };
        return Ok(Head::Complete(
            RequestHead {
                method: method.to_string(),
                uri: uri.to_string(),
                version: "HTTP/0.9".to_string(),
                headers: Vec::new(),
                quirks: quirks | Q_HTTP09,
            },
            n,
        ));
    }
    let Some(n) = end else {
        return Ok(Head::Partial);
    };
    let (headers, hq) = header_lines(lines.get(1..).unwrap_or_default());
    Ok(Head::Complete(
        RequestHead {
            method: method.to_string(),
            uri: uri.to_string(),
            version: version.to_string(),
            headers,
            quirks: quirks | hq,
        },
        n,
    ))
}

/// Parses a response head at the start of `buf`.
pub fn parse_response(buf: &[u8]) -> Result<Head<ResponseHead>, HeadError> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hs);
    match config().parse_response(&mut resp, buf) {
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        Err(_) => parse_response_lenient(buf),
        // A head whose lines end in bare CRs never completes for httparse.
        Ok(httparse::Status::Partial) => match parse_response_lenient(buf) {
            Ok(Head::Complete(h, n)) if h.quirks & Q_BARE_CR != 0 => Ok(Head::Complete(h, n)),
            _ => Ok(Head::Partial),
        },
        Ok(httparse::Status::Complete(n)) => Ok(Head::Complete(
            ResponseHead {
                version: version(resp.version),
                status: resp.code.unwrap_or_default(),
                reason: resp.reason.unwrap_or_default().to_string(),
                quirks: accepted_head_quirks(buf.get(..n).unwrap_or_default(), resp.headers.len()),
                headers: headers(resp.headers),
            },
            n,
        )),
    }
}

/// Parses a response head that httparse refuses, as browsers read it: the version in any
/// case ("http/1.1"), lines ending in CRLF, LF or a bare CR, folded lines joined, lines
/// without a colon skipped.
pub fn parse_response_lenient(buf: &[u8]) -> Result<Head<ResponseHead>, HeadError> {
    let (lines, end, mut quirks) = head_lines(buf, true);
    if lines.len() > MAX_HEADERS + 1 {
        return Err(HeadError::TooManyHeaders);
    }
    let first = lines.first().copied().unwrap_or(buf);
    let Some(prefix) = first.get(..5) else {
        return if end.is_none()
            && b"HTTP/"
                .get(..first.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(first))
        {
            Ok(Head::Partial)
        } else {
            Err(HeadError::Malformed)
        };
    };
    if !prefix.eq_ignore_ascii_case(b"HTTP/") {
        return Err(HeadError::Malformed);
    }
    if prefix != b"HTTP/" {
        quirks |= Q_LOWER_VERSION;
    }
    let text = String::from_utf8_lossy(first);
    let mut toks = text.splitn(2, [' ', '\t']);
    let ver = toks.next().unwrap_or_default();
    let rest = toks.next().unwrap_or_default().trim_start();
    let (code, reason) = rest.split_at(rest.find([' ', '\t']).unwrap_or(rest.len()));
    let status = match code.parse::<u16>() {
        Ok(s) if code.len() == 3 => s,
        _ if end.is_none() && lines.len() <= 1 => return Ok(Head::Partial),
        _ => return Err(HeadError::Malformed),
    };
    let Some(n) = end else {
        return Ok(Head::Partial);
    };
    let (headers, hq) = header_lines(lines.get(1..).unwrap_or_default());
    Ok(Head::Complete(
        ResponseHead {
            version: if ver.ends_with("1.0") {
                "HTTP/1.0".to_string()
            } else {
                "HTTP/1.1".to_string()
            },
            status,
            reason: reason.trim().to_string(),
            headers,
            quirks: quirks | hq,
        },
        n,
    ))
}

/// The first value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// All values of header `name` (case-insensitive), in order.
pub fn header_all<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How the body of a message with these headers is delimited, ignoring method and status;
/// `Err` when Content-Length is unusable. Deviations go to `note`. As browsers read it:
/// "chunked" anywhere in Transfer-Encoding makes the body chunked (Chromium and Firefox test
/// for the token, not its place) and wins over Content-Length; other transfer codings are not
/// undone; Content-Length values that differ are reported and the first is used.
pub fn framing(
    headers: &[(String, String)],
    is_response: bool,
    mut note: impl FnMut(HttpAnomaly),
) -> Result<Framing, ()> {
    let (mut chunked, mut last_chunked, mut other) = (0, false, false);
    for v in header_all(headers, "transfer-encoding") {
        for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if t.eq_ignore_ascii_case("chunked") {
                chunked += 1;
                last_chunked = true;
            } else {
                other = true;
                last_chunked = false;
            }
        }
    }
    if other {
        note(HttpAnomaly::TransferCodingIgnored);
    }
    let has_cl = header(headers, "content-length").is_some();
    if chunked > 0 {
        if chunked > 1 || !last_chunked {
            note(HttpAnomaly::ChunkedNotLast);
        }
        if has_cl {
            note(HttpAnomaly::ChunkedWithContentLength);
        }
        return Ok(Framing::Chunked);
    }
    let fallback = if is_response {
        Framing::UntilClose
    } else {
        Framing::None
    };
    let (mut first, mut values, mut conflict, mut bad) = (None, 0, false, false);
    for v in header_all(headers, "content-length") {
        // "5, 5" (duplicated by a proxy) counts as 5.
        for t in v.split(',').map(str::trim) {
            values += 1;
            let n = (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u64>().ok())
                .flatten();
            match (n, first) {
                (None, _) => bad = true,
                (Some(n), None) => first = Some(n),
                (Some(n), Some(f)) => conflict |= n != f,
            }
        }
    }
    if !has_cl {
        return Ok(fallback);
    }
    let Some(n) = first else {
        return Err(());
    };
    if conflict || bad {
        note(HttpAnomaly::ConflictingContentLength);
    } else if values > 1 {
        note(HttpAnomaly::DuplicateContentLength);
    }
    Ok(if n == 0 {
        Framing::None
    } else {
        Framing::Length(n)
    })
}

/// What the Authorization header tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// Canonical scheme name: one of [`SCHEMES`] ("Basic", "NTLM", "Bearer", ...), or "other"
    /// (a scheme not in that list, or no recognisable scheme).
    pub scheme: String,
    /// Basic / Digest user name (never the password).
    pub user: Option<String>,
    /// Negotiate / Kerberos: MD5 of the decoded token.
    pub blob_md5: Option<String>,
}

/// The scheme names an `Authorization` value is recorded under: the IANA HTTP Authentication
/// Scheme Registry and a few widespread vendor schemes. Any other first word is recorded as
/// "other": a value's first word may be the secret itself ("Authorization: sk_live_... v=1"),
/// and a name-like shape does not tell a scheme from a key.
pub const SCHEMES: &[&str] = &[
    "Basic",
    "NTLM",
    "Negotiate",
    "Kerberos",
    "Bearer",
    "Digest",
    "AWS4-HMAC-SHA256",
    "AWS",
    "Concealed",
    "DPoP",
    "GNAP",
    "Hawk",
    "HOBA",
    "MAC",
    "Mutual",
    "OAuth",
    "PrivateToken",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "SharedKey",
    "SharedKeyLite",
    "Signature",
    "SSWS",
    "token",
    "vapid",
];

/// Reads an Authorization (or Proxy-Authorization) value.
pub fn parse_auth(v: &str) -> Option<Auth> {
    let v = v.trim();
    let (token, rest) = match v.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((t, r)) => (t, r.trim()),
        None => (v, ""),
    };
    if token.is_empty() {
        return None;
    }
    let scheme = match SCHEMES.iter().find(|s| s.eq_ignore_ascii_case(token)) {
        Some(s) => (*s).to_string(),
        None => "other".to_string(),
    };
    let mut auth = Auth {
        scheme,
        ..Auth::default()
    };
    let b64 = || {
        base64::engine::general_purpose::STANDARD
            .decode(rest.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(rest.trim_end_matches('='))
            })
            .ok()
    };
    match auth.scheme.as_str() {
        "Basic" => {
            // "user:password"; without the colon the whole value may be the secret.
            if let Some((user, _password)) = b64().as_deref().and_then(|raw| {
                let i = raw.iter().position(|b| *b == b':')?;
                Some(raw.split_at(i))
            }) {
                auth.user = Some(String::from_utf8_lossy(user).into_owned());
            }
        }
        "Digest" => auth.user = digest_param(rest, "username"),
        "Negotiate" | "Kerberos" => {
            if let Some(raw) = b64() {
                if !raw.starts_with(b"NTLMSSP\0") {
                    let d = Md5::digest(&raw);
                    auth.blob_md5 = Some(d.iter().map(|b| format!("{b:02x}")).collect());
                }
            }
        }
        _ => {}
    }
    Some(auth)
}

/// A URI or URL without the password of its userinfo: "http://user:secret@host/" →
/// "http://user@host/", "//user:secret@host/" → "//user@host/". Only the URL the string starts
/// with is looked at (a scheme and "://", or "//"; then the authority); anything else comes
/// back as it is. A password holding `/`, `?` or `#` sent unencoded is stripped too: when no
/// `@` comes before the first of them and what follows the authority's first `:` is not a port
/// number, the userinfo runs to the next `@` (the last `@` before the host's end).
pub fn strip_url_password(s: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let start = if s.starts_with("//") {
        2
    } else {
        let Some(i) = s.find("://") else {
            return Cow::Borrowed(s);
        };
        let scheme = s.get(..i).unwrap_or_default();
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Cow::Borrowed(s);
        }
        i + 3
    };
    let rest = s.get(start..).unwrap_or_default();
    let delims = ['/', '?', '#'];
    let end = rest.find(delims).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or_default();
    let (colon, at) = match authority.rfind('@') {
        Some(at) => {
            let Some(colon) = authority.get(..at).and_then(|u| u.find(':')) else {
                return Cow::Borrowed(s);
            };
            (colon, at)
        }
        None => {
            let Some(colon) = authority.find(':') else {
                return Cow::Borrowed(s);
            };
            let port = authority.get(colon + 1..).unwrap_or_default();
            if port.bytes().all(|b| b.is_ascii_digit()) {
                return Cow::Borrowed(s);
            }
            let Some(first) = rest.get(end..).and_then(|r| r.find('@')).map(|j| end + j) else {
                return Cow::Borrowed(s);
            };
            let host = rest.get(first + 1..).unwrap_or_default();
            let host = host.get(..host.find(delims).unwrap_or(host.len()));
            let at = match host.and_then(|h| h.rfind('@')) {
                Some(j) => first + 1 + j,
                None => first,
            };
            (colon, at)
        }
    };
    match (s.get(..start + colon), s.get(start + at..)) {
        (Some(head), Some(tail)) => Cow::Owned(format!("{head}{tail}")),
        _ => Cow::Borrowed(s),
    }
}

/// A `name=value` / `name="value"` parameter of a Digest credential.
fn digest_param(s: &str, name: &str) -> Option<String> {
    s.split(',').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// File name from a Content-Disposition value (`filename*=` preferred over `filename=`).
pub fn disposition_filename(v: &str) -> Option<String> {
    let mut plain = None;
    for p in v.split(';') {
        let Some((k, val)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let val = val.trim();
        if k.eq_ignore_ascii_case("filename*") {
            // charset'lang'percent-encoded
            let enc = val.rsplit('\'').next().unwrap_or(val);
            let name = percent_decode(enc.trim_matches('"'));
            if !name.is_empty() {
                return Some(name);
            }
        } else if k.eq_ignore_ascii_case("filename") && plain.is_none() {
            let name = val.trim_matches('"').to_string();
            if !name.is_empty() {
                plain = Some(name);
            }
        }
    }
    plain
}

/// The last segment of a URI's path, when not empty.
pub fn uri_filename(uri: &str) -> Option<String> {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let path = match path.find("://") {
        Some(i) => path[i + 3..].find('/').map_or("", |j| &path[i + 3 + j..]),
        None => path,
    };
    let last = path.rsplit('/').next().unwrap_or("");
    (!last.is_empty()).then(|| percent_decode(last))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a line (at the start of `line`) looks like a request line: an upper-case token,
/// a space, and " HTTP/" later on the line.
pub fn looks_like_request_line(line: &[u8]) -> bool {
    let end = line.iter().position(|b| *b == b'\n').unwrap_or(line.len());
    let line = &line[..end];
    let tok = line
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || **b == b'-')
        .count();
    (3..=20).contains(&tok)
        && line.get(tok) == Some(&b' ')
        && line.windows(6).any(|w| w == b" HTTP/")
}

/// Whether a line looks like a status line ("HTTP/1." in any case).
pub fn looks_like_status_line(line: &[u8]) -> bool {
    line.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/1."))
}

/// Offset of the first "HTTP/1." (any case) in `buf`, where a status line after junk starts.
pub(super) fn find_status_anywhere(buf: &[u8]) -> Option<usize> {
    buf.windows(7)
        .position(|w| w.eq_ignore_ascii_case(b"HTTP/1."))
}

/// A chunk-size line as read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ChunkLine {
    pub size: u64,
    /// A chunk extension (";name=value") follows.
    pub ext: bool,
    /// Whitespace, "0x" or other bytes around the hex digits (ignored, as Firefox reads it).
    pub junk: bool,
    /// The size has leading zeros.
    pub zeros: bool,
}

/// Parses a chunk-size line as Firefox reads it (`strtoul(line, 16)`): leading whitespace and
/// "0x" allowed, the hex digits in any case and with any number of leading zeros, whatever
/// follows them ignored. `None` without a hex digit or above 2^60.
pub(super) fn chunk_size(line: &[u8]) -> Option<ChunkLine> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut c = ChunkLine::default();
    let s = match line.iter().position(|b| *b == b';') {
        Some(i) => {
            c.ext = true;
            line.get(..i).unwrap_or_default()
        }
        None => line,
    };
    let lead = s.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let mut s = s.get(lead..).unwrap_or_default();
    c.junk = lead > 0;
    if s.len() > 2 && (s.starts_with(b"0x") || s.starts_with(b"0X")) && s[2].is_ascii_hexdigit() {
        s = &s[2..];
        c.junk = true;
    }
    let digits = s.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let (num, tail) = s.split_at(digits);
    let zeros = num
        .iter()
        .take_while(|b| **b == b'0')
        .count()
        .min(digits - 1);
    c.zeros = zeros > 0;
    let sig = num.get(zeros..).unwrap_or_default();
    if sig.len() > 15 {
        return None;
    }
    for b in sig {
        let d = (*b as char).to_digit(16)?;
        c.size = c.size << 4 | u64::from(d);
    }
    // Whitespace before an extension is allowed (BWS); anything else is junk.
    if !tail.iter().all(|b| matches!(b, b' ' | b'\t')) || (!c.ext && !tail.is_empty()) {
        c.junk = true;
    }
    Some(c)
}

/// Whether `buf` holds the blank line that ends a head, looking from `from` on; with
/// `bare_cr`, a lone CR ends a line too (response heads, see [`parse_response_lenient`]).
pub(super) fn has_head_end(buf: &[u8], from: usize, bare_cr: bool) -> bool {
    if bare_cr
        && buf
            .get(from..)
            .is_some_and(|r| r.windows(2).any(|w| w == b"\r\r"))
        && head_lines(buf, true).1.is_some()
    {
        return true;
    }
    let mut i = from;
    while let Some(nl) = buf
        .get(i..)
        .and_then(|r| r.iter().position(|b| *b == b'\n'))
    {
        let after = &buf[i + nl + 1..];
        if after.starts_with(b"\n") || after.starts_with(b"\r\n") {
            return true;
        }
        i += nl + 1;
    }
    false
}

/// Offset of the next line start in `buf` that looks like a start line.
pub(super) fn find_start(buf: &[u8], is_resp: bool) -> Option<usize> {
    let looks = |l: &[u8]| {
        if is_resp {
            looks_like_status_line(l)
        } else {
            looks_like_request_line(l)
        }
    };
    if looks(buf) {
        return Some(0);
    }
    let mut i = 0;
    while let Some(nl) = buf[i..].iter().position(|b| *b == b'\n') {
        i += nl + 1;
        let line = &buf[i..];
        // A line still incomplete may yet become a start line: wait for it.
        if !line.contains(&b'\n') {
            return None;
        }
        if looks(line) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_schemes() {
        let a = parse_auth("Basic dXNlcjpzZWNyZXQ=").unwrap();
        assert_eq!(a.scheme, "Basic");
        assert_eq!(a.user.as_deref(), Some("user"));
        let a = parse_auth("negotiate YIIBhgYGKwYBBQUC").unwrap();
        assert_eq!(a.scheme, "Negotiate");
        assert!(a.blob_md5.is_some());
        let a = parse_auth("Digest username=\"bob\", realm=\"x\"").unwrap();
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(parse_auth("Bearer abc").unwrap().scheme, "Bearer");
        assert_eq!(parse_auth("NTLM TlRMTVNTUAABAAAA").unwrap().scheme, "NTLM");
    }

    #[test]
    fn auth_never_keeps_a_secret() {
        // Basic without the colon: the value may be a bare secret; no user is made of it.
        let a = parse_auth("Basic c2VjcmV0b25seQ==").unwrap(); // "secretonly"
        assert_eq!((a.scheme.as_str(), a.user), ("Basic", None));
        // Basic with an empty password or a password holding colons.
        let a = parse_auth("Basic YWxpY2U6").unwrap(); // "alice:"
        assert_eq!(a.user.as_deref(), Some("alice"));
        let a = parse_auth("Basic YWxpY2U6czpl").unwrap(); // "alice:s:e"
        assert_eq!(a.user.as_deref(), Some("alice"));
        // No scheme at all: the value is the credential, not a scheme name.
        assert_eq!(parse_auth("dXNlcjpzZWNyZXQ=").unwrap().scheme, "other");
        assert_eq!(parse_auth("sk_live_0123456789").unwrap().scheme, "other");
        assert_eq!(parse_auth("a=b c").unwrap().scheme, "other");
        let long = format!("{} x", "k".repeat(33));
        assert_eq!(parse_auth(&long).unwrap().scheme, "other");
        // Known schemes followed by credentials keep their name, canonically spelt.
        let a = parse_auth("AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ab").unwrap();
        assert_eq!(a.scheme, "AWS4-HMAC-SHA256");
        assert_eq!(parse_auth("token ghp_abc").unwrap().scheme, "token");
        assert_eq!(
            parse_auth("sharedkey acct:sig").unwrap().scheme,
            "SharedKey"
        );
        // A first word that is not a known scheme may be the secret: never kept.
        assert_eq!(parse_auth("sk_live_Pw5Sc7Ks9 v=1").unwrap().scheme, "other");
        assert_eq!(
            parse_auth("ghp_0123456789abcdef x").unwrap().scheme,
            "other"
        );
    }

    #[test]
    fn url_passwords_are_stripped() {
        let s = |u: &str| strip_url_password(u).into_owned();
        assert_eq!(
            s("http://bob:hunter2@example.org/a?b"),
            "http://bob@example.org/a?b"
        );
        assert_eq!(s("ftp://bob:@h"), "ftp://bob@h");
        assert_eq!(s("http://a:b:c@d@h:8080/"), "http://a@h:8080/");
        assert_eq!(s("http://bob@h/"), "http://bob@h/");
        assert_eq!(s("http://h:8080/p@x:y"), "http://h:8080/p@x:y");
        assert_eq!(s("/path?u=http://a:b@c"), "/path?u=http://a:b@c");
        assert_eq!(s("http://h/?q=a:b@c"), "http://h/?q=a:b@c");
        assert_eq!(s("h:1://x:y@z"), "h:1://x:y@z");
        assert_eq!(s("é://x:y@z"), "é://x:y@z");
        // Scheme-relative URLs.
        assert_eq!(s("//bob:hunter2@example.org/a"), "//bob@example.org/a");
        assert_eq!(s("//h:8080/a@b:c"), "//h:8080/a@b:c");
        assert_eq!(s("//a/b:c@d"), "//a/b:c@d");
        // Passwords holding '/', '?', '#' or '@' as well, sent unencoded.
        assert_eq!(s("http://bob:pa/ss@h/x"), "http://bob@h/x");
        assert_eq!(s("http://bob:pa?ss@h/x?q"), "http://bob@h/x?q");
        assert_eq!(s("http://bob:p#1@h"), "http://bob@h");
        assert_eq!(s("http://bob:p/a@b@h:81/x@y"), "http://bob@h:81/x@y");
        assert_eq!(s("//bob:p/w@h"), "//bob@h");
        // A port, or no '@' at all: nothing to strip.
        assert_eq!(s("http://h:/p@x"), "http://h:/p@x");
        assert_eq!(s("http://h:abc/p"), "http://h:abc/p");
    }

    #[test]
    fn lenient_request_lines() {
        let p = |b: &[u8]| match parse_request(b) {
            Ok(Head::Complete(h, _)) => Some((h.method, h.uri, h.version)),
            _ => None,
        };
        let s = |a: &str, b: &str, c: &str| Some((a.to_string(), b.to_string(), c.to_string()));
        assert_eq!(
            p(b"OPTIONS HTTP/1.1\nHost: h\n\n"),
            s("OPTIONS", "HTTP/1.1", "")
        );
        assert_eq!(p(b"OPTIONS\nHost: h\n\n"), s("OPTIONS", "", ""));
        assert_eq!(p(b"GET / HTTP/1.\nHost: h\n\n"), s("GET", "/", "HTTP/1."));
        assert_eq!(
            p(b"GET /a junk HTTP/1.1\nHost: h\n\n"),
            s("GET", "/a", "junk HTTP/1.1")
        );
        assert_eq!(p(b"GET /x\r\n"), s("GET", "/x", "HTTP/0.9"));
        assert!(matches!(parse_request(b"GET /x"), Ok(Head::Partial)));
        assert_eq!(p(b"GET /HTTP/1.1\n\n"), s("GET", "/HTTP/1.1", ""));
        assert_eq!(p(b"GET/ HTTP/1.1\nHost: h\n\n"), None);
        assert_eq!(p(b"junk here\n\n"), None);
        assert!(matches!(parse_request(b"GET / HTTP/1."), Ok(Head::Partial)));
    }

    #[test]
    fn names() {
        assert_eq!(
            disposition_filename("attachment; filename=\"a b.exe\"").as_deref(),
            Some("a b.exe")
        );
        assert_eq!(
            disposition_filename("attachment; filename=x; filename*=UTF-8''%C3%A4.txt").as_deref(),
            Some("ä.txt")
        );
        assert_eq!(
            uri_filename("/dl/setup.exe?x=1").as_deref(),
            Some("setup.exe")
        );
        assert_eq!(uri_filename("http://h/a/b.zip").as_deref(), Some("b.zip"));
        assert_eq!(uri_filename("/"), None);
    }

    #[test]
    fn framing_rules() {
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        let f = |hs: &[(String, String)], resp: bool| framing(hs, resp, |_| {});
        assert_eq!(f(&h("Content-Length", "5"), false), Ok(Framing::Length(5)));
        assert_eq!(
            f(&h("Transfer-Encoding", "gzip, chunked"), true),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            f(&h("Transfer-Encoding", "chunked, identity"), true),
            Ok(Framing::Chunked)
        );
        assert_eq!(f(&[], true), Ok(Framing::UntilClose));
        assert_eq!(f(&[], false), Ok(Framing::None));
        assert_eq!(f(&h("Content-Length", "x"), true), Err(()));
        assert_eq!(f(&h("Content-Length", "+5"), true), Err(()));
        let mut seen = Vec::new();
        let two = [h("Content-Length", "5"), h("Content-Length", "7")].concat();
        assert_eq!(
            framing(&two, true, |a| seen.push(a)),
            Ok(Framing::Length(5))
        );
        assert_eq!(seen, vec![HttpAnomaly::ConflictingContentLength]);
    }

    #[test]
    fn chunk_sizes() {
        let c = |s: &[u8]| chunk_size(s).map(|c| (c.size, c.ext, c.junk, c.zeros));
        assert_eq!(c(b"1a\r"), Some((26, false, false, false)));
        assert_eq!(c(b"1A"), Some((26, false, false, false)));
        assert_eq!(
            c(b"0000000000000000000001a"),
            Some((26, false, false, true))
        );
        assert_eq!(c(b"1a;name=v"), Some((26, true, false, false)));
        assert_eq!(c(b"1a ;x"), Some((26, true, false, false)));
        assert_eq!(c(b"1axyz"), Some((26, false, true, false)));
        assert_eq!(c(b" 0x1a"), Some((26, false, true, false)));
        assert_eq!(c(b"0"), Some((0, false, false, false)));
        assert_eq!(c(b"xyz"), None);
        assert_eq!(c(b""), None);
        assert_eq!(c(b"1000000000000000"), None);
    }
}
