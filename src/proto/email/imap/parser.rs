//! IMAP wire pieces: literal markers, command arguments (atoms, quoted strings), message data
//! items.

/// A line's trailing literal marker: the text before it, its size and whether it is
/// synchronising.
pub(super) fn split_literal(line: &[u8]) -> (&[u8], Option<(u64, bool)>) {
    let Some(inner) = line.strip_suffix(b"}") else {
        return (line, None);
    };
    let Some(open) = inner.iter().rposition(|&b| b == b'{') else {
        return (line, None);
    };
    let text = inner.get(..open).unwrap_or_default();
    let spec = inner.get(open + 1..).unwrap_or_default();
    let (digits, sync) = match spec.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (spec, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return (line, None);
    }
    let n = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    match n {
        Some(n) => (text, Some((n, sync))),
        None => (line, None),
    }
}

/// The arguments of a command line: atoms, quoted strings (unescaped), parenthesised lists
/// (as one argument).
pub(super) fn args(mut s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_ascii_start();
        let Some(&first) = s.first() else {
            return out;
        };
        match first {
            b'"' => {
                let mut val = Vec::new();
                let mut i = 1;
                while let Some(&b) = s.get(i) {
                    i += 1;
                    match b {
                        b'\\' => {
                            if let Some(&n) = s.get(i) {
                                val.push(n);
                                i += 1;
                            }
                        }
                        b'"' => break,
                        _ => val.push(b),
                    }
                }
                out.push(val);
                s = s.get(i..).unwrap_or_default();
            }
            b'(' | b'[' => {
                let (open, close) = if first == b'(' {
                    (b'(', b')')
                } else {
                    (b'[', b']')
                };
                let mut depth = 0usize;
                let mut end = s.len();
                for (i, &b) in s.iter().enumerate() {
                    if b == open {
                        depth += 1;
                    } else if b == close {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                }
                out.push(s.get(..end).unwrap_or_default().to_vec());
                s = s.get(end..).unwrap_or_default();
            }
            _ => {
                let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
                out.push(s.get(..end).unwrap_or_default().to_vec());
                s = s.get(end..).unwrap_or_default();
            }
        }
    }
}

/// Whether the server literal that follows `text` is a whole message.
pub(super) fn is_message_item(text: &[u8]) -> bool {
    let text = text.trim_ascii_end();
    let start = text
        .iter()
        .rposition(|&b| b == b' ' || b == b'(')
        .map_or(0, |i| i + 1);
    let item = text.get(start..).unwrap_or_default();
    [&b"BODY[]"[..], b"RFC822", b"BINARY[]"]
        .iter()
        .any(|m| item.eq_ignore_ascii_case(m))
}

/// Splits off the first space-separated word.
pub(super) fn word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i + 1..).unwrap_or_default(),
        ),
        None => (s, b""),
    }
}
