//! Hex, written once: lower-case encoding (record fields, fingerprints), the MD5 digest as hex
//! (ticket and pre-auth ciphers, JA3, hashed e-mail fields), and decoding of hex text (test
//! fixtures, benches, fuzz seeds).

use std::fmt::Write;

use md5::{Digest, Md5};

/// Lower-case hex of `b`.
pub fn encode(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// MD5 of `b` as lower-case hex.
pub fn md5_hex(b: &[u8]) -> String {
    encode(&Md5::digest(b))
}

/// The value of one hex digit.
pub fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes of hex text; ASCII whitespace between digits is ignored. `None` for any other
/// character or an odd number of digits.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .map(nibble)
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(
        digits
            .chunks_exact(2)
            .map(|p| match p {
                [hi, lo] => (hi << 4) | lo,
                _ => 0,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_md5() {
        assert_eq!(encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(decode("00 AB\n7f"), Some(vec![0x00, 0xab, 0x7f]));
        assert_eq!(decode("0"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(md5_hex(b"hello world"), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    }
}
