//! JA3, JA3S (Salesforce) and JA4 (FoxIO) fingerprints.

use crate::util::hex;
use std::fmt::Write;

use sha2::Digest;
use sha2::Sha256;

use super::parser::{ext, is_grease, ClientHello, ServerHello};

fn join<T: std::fmt::Display>(it: impl Iterator<Item = T>, sep: char) -> String {
    let mut s = String::new();
    for (i, x) in it.enumerate() {
        if i > 0 {
            s.push(sep);
        }
        let _ = write!(s, "{x}");
    }
    s
}

/// The JA3 string: "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats",
/// decimal, '-' joined, GREASE removed.
pub fn ja3_string(ch: &ClientHello) -> String {
    let ng = |v: &[u16]| join(v.iter().filter(|x| !is_grease(**x)), '-');
    format!(
        "{},{},{},{},{}",
        ch.version,
        ng(&ch.ciphers),
        ng(&ch.extensions),
        ng(&ch.groups),
        join(ch.point_formats.iter(), '-')
    )
}

/// JA3: (string, MD5).
pub fn ja3(ch: &ClientHello) -> (String, String) {
    let s = ja3_string(ch);
    let h = hex::md5_hex(s.as_bytes());
    (s, h)
}

/// JA3S: ("SSLVersion,Cipher,Extensions", MD5).
pub fn ja3s(sh: &ServerHello) -> (String, String) {
    let s = format!(
        "{},{},{}",
        sh.version,
        sh.cipher,
        join(sh.extensions.iter().filter(|x| !is_grease(**x)), '-')
    );
    let h = hex::md5_hex(s.as_bytes());
    (s, h)
}

/// Orders versions by age: DTLS numbers count down, drafts of 1.3 rank between 1.2 and 1.3.
fn version_rank(v: u16) -> u8 {
    match v {
        0x0002 => 1,
        0x0300 => 2,
        0x0301 | 0xfeff => 3,
        0x0302 => 4,
        0x0303 | 0xfefd => 5,
        v if v >> 8 == 0x7f || v >> 8 == 0xfb => 6,
        0x0304 | 0xfefc => 7,
        _ => 0,
    }
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        // TLS 1.3 drafts (IETF 0x7fXX, Facebook 0xfbXX) count as 1.3.
        v if v >> 8 == 0x7f || v >> 8 == 0xfb => "13",
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First 12 hex chars of SHA-256, or "000000000000" for an empty input list.
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    let mut h = hex::encode(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn alpn_chars(alpn: Option<&Vec<u8>>) -> String {
    let Some(a) = alpn else {
        return "00".into();
    };
    let (Some(&f), Some(&l)) = (a.first(), a.last()) else {
        return "00".into();
    };
    if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
        format!("{}{}", char::from(f), char::from(l))
    } else {
        let h = hex::encode(a);
        let mut c = h.chars();
        match (c.next(), h.chars().last()) {
            (Some(x), Some(y)) => format!("{x}{y}"),
            _ => "00".into(),
        }
    }
}

/// JA4 fingerprint of a ClientHello; `quic` selects the "q" transport prefix instead of "t".
pub fn ja4(ch: &ClientHello, quic: bool) -> String {
    ja4_with(ch, if quic { 'q' } else { 't' })
}

/// JA4 with the transport letter given: 't' TCP, 'q' QUIC, 'd' DTLS.
pub fn ja4_with(ch: &ClientHello, transport: char) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max_by_key(|v| version_rank(*v))
        .unwrap_or(ch.version);
    let ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let mut a = String::with_capacity(40);
    a.push(transport);
    a.push_str(ja4_version(version));
    a.push(if ch.has_sni { 'd' } else { 'i' });
    let _ = write!(a, "{:02}{:02}", ciphers.len().min(99), exts.len().min(99));
    a.push_str(&alpn_chars(ch.alpn.first()));

    let mut sc = ciphers;
    sc.sort_unstable();
    let b = hash12(&join(sc.iter().map(|c| format!("{c:04x}")), ','));

    let mut se: Vec<u16> = exts
        .into_iter()
        .filter(|e| *e != ext::SNI && *e != ext::ALPN)
        .collect();
    se.sort_unstable();
    let c = if se.is_empty() {
        "000000000000".to_string()
    } else {
        let mut input = join(se.iter().map(|e| format!("{e:04x}")), ',');
        if !ch.sig_algs.is_empty() {
            input.push('_');
            input.push_str(&join(ch.sig_algs.iter().map(|s| format!("{s:04x}")), ','));
        }
        hash12(&input)
    };
    format!("{a}_{b}_{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foxio_readme_hashes() {
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(hash12(""), "000000000000");
    }

    #[test]
    fn alpn() {
        assert_eq!(alpn_chars(None), "00");
        assert_eq!(alpn_chars(Some(&b"h2".to_vec())), "h2");
        assert_eq!(alpn_chars(Some(&b"http/1.1".to_vec())), "h1");
        assert_eq!(alpn_chars(Some(&vec![0xab, 0xcd])), "ad");
        assert_eq!(alpn_chars(Some(&b"h".to_vec())), "hh");
    }
}
