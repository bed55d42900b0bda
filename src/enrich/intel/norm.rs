//! Normal forms shared by feeds and records, so that both sides compare equal.

use std::borrow::Cow;

/// A host name in lower case without the trailing dot; `None` when it is not a plausible name
/// (empty, spaces, control characters).
pub fn domain(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 || s.starts_with('.') {
        return None;
    }
    if s.bytes()
        .any(|b| b <= b' ' || b == b'/' || b == b'@' || b == 0x7f)
    {
        return None;
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(Cow::Owned(s.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(s))
    }
}

/// Strict syntax check for guessing a plain list line's type: letters, digits, `-` and `_`
/// in labels of at most 63, at least two labels, the last one not all digits.
pub fn looks_like_domain(s: &str) -> bool {
    if s.len() > 253 || !s.contains('.') {
        return false;
    }
    let mut last = "";
    for label in s.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|b| b.is_ascii_digit())
}

/// The host of an HTTP `Host` header value: port and IPv6 brackets dropped.
pub fn host_of_header(h: &str) -> &str {
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => h,
    }
}

/// A URL in Zeek's form: no scheme, host lower-cased without the default port (80 for http
/// and scheme-less, 443 for https), user info and fragment dropped, `%XX` of unreserved
/// characters decoded and other escapes in upper-case hex, an empty path written `/`.
pub fn url(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let (scheme, rest) = match s.find("://") {
        Some(i) => (s[..i].to_ascii_lowercase(), &s[i + 3..]),
        None => (String::new(), s),
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = split_port(authority);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    let default = match scheme.as_str() {
        "https" => "443",
        "" => "80",
        _ => "80",
    };
    let mut out = String::with_capacity(rest.len() + 1);
    out.push_str(&host.to_ascii_lowercase());
    if let Some(p) = port {
        if p != default && !(scheme.is_empty() && p == "443") {
            out.push(':');
            out.push_str(p);
        }
    }
    if !path.starts_with('/') {
        out.push('/');
    }
    decode_unreserved(path, &mut out);
    Some(out)
}

fn split_port(a: &str) -> (&str, Option<&str>) {
    if a.starts_with('[') {
        if let Some(end) = a.find(']') {
            let host = &a[..=end];
            let port = a[end + 1..].strip_prefix(':');
            return (host, port.filter(|p| !p.is_empty()));
        }
        return (a, None);
    }
    match a.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, (!p.is_empty()).then_some(p)),
        _ => (a, None),
    }
}

fn decode_unreserved(path: &str, out: &mut String) {
    let b = path.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let pair = (b.get(i + 1).copied(), b.get(i + 2).copied());
            if let (Some(hc), Some(lc)) = pair {
                let (Some(h), Some(l)) = (hex_val(hc), hex_val(lc)) else {
                    i += 1;
                    continue;
                };
                out.push_str(&path[start..i]);
                let c = h << 4 | l;
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.push(c as char);
                } else {
                    out.push('%');
                    out.push(hc.to_ascii_uppercase() as char);
                    out.push(lc.to_ascii_uppercase() as char);
                }
                i += 3;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&path[start..]);
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Hex text (any case) into bytes; `None` unless every character is a hex digit.
pub fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.trim().as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = hex_val(pair[0])? << 4 | hex_val(pair[1])?;
    }
    Some(out)
}

/// Lower-case hex of bytes.
pub fn to_hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// The address inside `Name <a@b>` (or the whole text), lower-cased; `None` unless it has
/// a non-empty local part and domain.
pub fn email(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    let inner = inner.trim();
    let (local, dom) = inner.rsplit_once('@')?;
    if local.is_empty() || dom.is_empty() || inner.bytes().any(|b| b <= b' ') {
        return None;
    }
    Some(inner.to_ascii_lowercase())
}

/// A user name as compared: trimmed, lower-cased.
pub fn user(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalise_alike() {
        let a = url("HTTP://Evil.Example:80/a%7eb/%2fc?x=%41#frag").unwrap();
        assert_eq!(a, "evil.example/a~b/%2Fc?x=A");
        assert_eq!(url("evil.example/a~b/%2fc?x=A").unwrap(), a);
        assert_eq!(url("https://evil.example:443").unwrap(), "evil.example/");
        assert_eq!(
            url("http://evil.example:8080/x").unwrap(),
            "evil.example:8080/x"
        );
        assert_eq!(url("https://u:p@evil.example./").unwrap(), "evil.example/");
        assert!(url("http:///x").is_none());
        assert_eq!(url("http://x/%4").unwrap(), "x/%4");
    }

    #[test]
    fn names_and_hosts() {
        assert_eq!(domain("Evil.Example.").unwrap(), "evil.example");
        assert!(domain("a b").is_none());
        assert_eq!(host_of_header("Evil.example:8080"), "Evil.example");
        assert_eq!(host_of_header("[2001:db8::1]:80"), "2001:db8::1");
        assert_eq!(host_of_header("2001:db8::1"), "2001:db8::1");
        assert!(looks_like_domain("a-b.evil.example"));
        assert!(!looks_like_domain("1.2.3.4"));
        assert!(!looks_like_domain("-a.example"));
        assert_eq!(email("Bob <Bob@Evil.Example>").unwrap(), "bob@evil.example");
        assert!(email("nobody").is_none());
        assert_eq!(hex::<2>("aBcd"), Some([0xab, 0xcd]));
        assert_eq!(hex::<2>("abcg"), None);
        assert_eq!(to_hex(&[0xab, 0x01]), "ab01");
    }
}
