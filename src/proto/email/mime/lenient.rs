//! Base64 decoded as mail clients decode it (Thunderbird, Outlook): characters outside the
//! alphabet are skipped, padding ends a quantum wherever it stands, an incomplete last quantum
//! of 2 or 3 characters still gives its 1 or 2 bytes. A line that starts with "--" ends the
//! text (a MIME boundary: '-' is never base64).

/// The value of a base64 alphabet character.
fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// The decoded bytes, and whether the text was irregular: characters outside the alphabet
/// (other than whitespace), a missing or misplaced padding, an incomplete last quantum, or
/// one lone character (dropped: it carries less than a byte).
pub(super) fn decode(text: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut irregular = false;
    let mut acc = 0u32;
    let mut n = 0u8;
    // Padding was seen: any alphabet character after it is irregular.
    let mut padded = false;
    let flush = |acc: u32, n: u8, out: &mut Vec<u8>| {
        let b = (acc << (6 * (4 - u32::from(n)))).to_be_bytes();
        match n {
            2 => out.extend_from_slice(b.get(1..2).unwrap_or_default()),
            3 => out.extend_from_slice(b.get(1..3).unwrap_or_default()),
            _ => {}
        }
    };
    for line in text.split(|&c| c == b'\n') {
        if line.starts_with(b"--") {
            break;
        }
        for &c in line {
            if let Some(v) = value(c) {
                if padded {
                    irregular = true;
                    padded = false;
                }
                acc = (acc << 6) | v;
                n += 1;
                if n == 4 {
                    out.extend_from_slice(acc.to_be_bytes().get(1..4).unwrap_or_default());
                    acc = 0;
                    n = 0;
                }
            } else if c == b'=' {
                // "x=" or "=" with no quantum open: misplaced padding.
                if n == 1 || (n == 0 && !padded) {
                    irregular = true;
                }
                flush(acc, n, &mut out);
                acc = 0;
                n = 0;
                padded = true;
            } else if !c.is_ascii_whitespace() {
                irregular = true;
            }
        }
    }
    if n > 0 {
        irregular = true;
        flush(acc, n, &mut out);
    }
    (out, irregular)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn regular_text_is_regular() {
        assert_eq!(decode(b"QUJD\r\nRA==\r\n"), (b"ABCD".to_vec(), false));
        assert_eq!(
            decode(b"QUJDRA==\r\n--b\r\nQUJD"),
            (b"ABCD".to_vec(), false)
        );
        assert_eq!(decode(b"QUJDREU=\r\n"), (b"ABCDE".to_vec(), false));
        assert_eq!(decode(b""), (Vec::new(), false));
    }

    #[test]
    fn missing_padding_gives_the_last_bytes() {
        assert_eq!(decode(b"QUJDRA\r\n"), (b"ABCD".to_vec(), true));
        assert_eq!(decode(b"QUJDREU"), (b"ABCDE".to_vec(), true));
        // A lone character carries less than a byte.
        assert_eq!(decode(b"QUJDR"), (b"ABC".to_vec(), true));
    }

    #[test]
    fn junk_is_skipped() {
        assert_eq!(decode(b"QU*JD\r\n!RA=="), (b"ABCD".to_vec(), true));
        assert_eq!(decode(b"QU JD\tRA==\r\n"), (b"ABCD".to_vec(), false));
        assert_eq!(decode(b"-QUJD"), (b"ABC".to_vec(), true));
    }

    #[test]
    fn padding_mid_text_ends_a_quantum() {
        assert_eq!(decode(b"QQ==QkM="), (b"ABC".to_vec(), true));
        assert_eq!(decode(b"QUJDRA=\r\nQU\r\n"), (b"ABCDA".to_vec(), true));
        assert_eq!(decode(b"=QUJD"), (b"ABC".to_vec(), true));
    }
}
