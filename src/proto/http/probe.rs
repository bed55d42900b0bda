//! Is this HTTP? An HTTP/1 request line (or the HTTP/2 preface) or a status line.

#![deny(clippy::indexing_slicing)]

use crate::proto::detect::peek::{at, first_line, need, starts, P};
use crate::proto::Confidence;

const HTTP_METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
    b"MKCALENDAR",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PRI",
];

/// The first bytes of an HTTP stream, either direction.
pub fn stream(d: &[u8]) -> P<Confidence> {
    match starts(d, b"HTTP/1.", false) {
        P::Yes(()) => {
            // "HTTP/1.x NNN"
            let minor = need!(at(d, 7));
            let sp = need!(at(d, 8));
            if !matches!(minor, b'0' | b'1') || sp != b' ' {
                return P::No;
            }
            for i in 9..12 {
                if !need!(at(d, i)).is_ascii_digit() {
                    return P::No;
                }
            }
            return P::Yes(Confidence::High);
        }
        P::More => return P::More,
        P::No => {}
    }
    let mut more = false;
    for m in HTTP_METHODS {
        let after = match starts(d, m, false) {
            P::Yes(()) => d.get(m.len()..).unwrap_or_default(),
            P::More => {
                more = true;
                continue;
            }
            P::No => continue,
        };
        match after.first() {
            None => {
                more = true;
                continue;
            }
            Some(b' ') => {}
            Some(_) => continue,
        }
        let (line, complete) = first_line(after.get(1..).unwrap_or_default());
        if line.windows(6).any(|w| w == b" HTTP/") {
            return P::Yes(Confidence::High);
        }
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return P::No;
        }
        if line.is_empty() && !complete {
            return P::More;
        }
        // HTTP/0.9 ("GET /path" and the end of the line): a lone origin-form or absolute
        // target is specific enough.
        let target = line.strip_suffix(b"\r").unwrap_or(line);
        if complete
            && (target.starts_with(b"/") || target.starts_with(b"http://"))
            && !target.contains(&b' ')
        {
            return P::Yes(Confidence::High);
        }
        // The version is still to come.
        return P::Yes(Confidence::Low);
    }
    if more {
        P::More
    } else {
        P::No
    }
}
