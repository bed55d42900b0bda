//! Hex text for test vectors: the constants of the tests and benches are written as hex strings.
//! The product's `tapir::util::hex` does the work; this only turns a bad constant into a panic.

pub use tapir::util::hex::encode;

/// The bytes of a hex string (either case; whitespace between digits ignored).
///
/// # Panics
/// On an odd number of digits or a character that is not a hex digit: the strings are test
/// constants, and a bad one is a bug in the test.
pub fn decode(s: &str) -> Vec<u8> {
    tapir::util::hex::decode(s).unwrap_or_else(|| panic!("not hex: {s:?}"))
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
