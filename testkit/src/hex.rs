//! Hex text for test vectors: the constants of the tests and benches are written as hex strings.

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string (either case, no separators).
///
/// # Panics
/// On an odd length or a character that is not a hex digit: the strings are test constants.
pub fn decode(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length {}", s.len());
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let text = std::str::from_utf8(p).unwrap_or("");
            u8::from_str_radix(text, 16).unwrap_or_else(|_| panic!("not hex: {text:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(decode("00ff7A"), vec![0, 255, 0x7a]);
        assert_eq!(encode(&[0, 255, 0x7a]), "00ff7a");
        assert_eq!(decode(&encode(b"tapir")), b"tapir");
    }

    #[test]
    #[should_panic(expected = "not hex")]
    fn rejects_non_hex() {
        decode("0g");
    }
}
