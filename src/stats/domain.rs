//! Names as the statistics key them: lower-cased, without a trailing dot or a port, and rolled
//! up to the registered domain with the public suffix list (`a.b.example.co.uk` →
//! `example.co.uk`, `x.github.io` → `x.github.io`), not "the last two labels".

/// The name as kept: lower-case, no trailing dot, no `:port`, no brackets; None for an empty
/// name, an IP literal, or one with characters no host name has.
pub fn normalise(name: &str) -> Option<std::borrow::Cow<'_, str>> {
    let mut n = name.trim();
    if let Some(rest) = n.strip_prefix('[') {
        // "[2001:db8::1]:443": an address, not a name.
        let _ = rest;
        return None;
    }
    if let Some((host, port)) = n.rsplit_once(':') {
        if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') {
            n = host;
        }
    }
    let n = n.trim_end_matches('.');
    if n.is_empty() || n.len() > 253 || n.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if !n
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*'))
    {
        return None;
    }
    if n.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(std::borrow::Cow::Owned(n.to_ascii_lowercase()))
    } else {
        Some(std::borrow::Cow::Borrowed(n))
    }
}

/// The registered domain of a normalised name: the public suffix plus one label; the name
/// itself when it has no public suffix above it (a single-label intranet name, or a suffix).
pub fn registered(name: &str) -> &str {
    match psl::domain_str(name) {
        Some(d) if !d.is_empty() => d,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains_follow_the_public_suffix_list() {
        for (name, want) in [
            ("a.b.example.co.uk", "example.co.uk"),
            ("www.example.com", "example.com"),
            ("example.com", "example.com"),
            ("foo.bar.github.io", "bar.github.io"),
            ("x.y.example.com.au", "example.com.au"),
            ("wpad", "wpad"),
        ] {
            assert_eq!(registered(name), want, "{name}");
        }
    }

    #[test]
    fn normalising() {
        assert_eq!(
            normalise("WWW.Example.COM.").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            normalise("example.com:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalise("192.0.2.1"), None);
        assert_eq!(normalise("192.0.2.1:80"), None);
        assert_eq!(normalise("[2001:db8::1]:443"), None);
        assert_eq!(normalise("2001:db8::1"), None);
        assert_eq!(normalise(""), None);
        assert_eq!(normalise("bad name"), None);
    }
}
