//! The store's value encoding: LEB128 unsigned varints and length-prefixed UTF-8 strings, one
//! after another in a fixed order per table, led by a format version byte. Every read is
//! bounds-checked; a value that does not decode is treated as absent (and counted), never
//! trusted.

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_uvar(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Appends a length-prefixed string.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvar(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends a list of strings.
pub fn put_strs(out: &mut Vec<u8>, v: &[String]) {
    put_uvar(out, v.len() as u64);
    for s in v {
        put_str(out, s);
    }
}

/// A bounds-checked reader over an encoded value.
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b }
    }

    pub fn is_done(&self) -> bool {
        self.b.is_empty()
    }

    pub fn byte(&mut self) -> Option<u8> {
        let (&c, rest) = self.b.split_first()?;
        self.b = rest;
        Some(c)
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Some(a)
    }

    pub fn uvar(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let c = self.byte()?;
            v |= u64::from(c & 0x7f) << shift;
            if c & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    pub fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.uvar()?).ok()?;
        let b = self.bytes(n)?;
        String::from_utf8(b.to_vec()).ok()
    }

    /// A list of strings of at most `max` items.
    pub fn strings(&mut self, max: usize) -> Option<Vec<String>> {
        let n = usize::try_from(self.uvar()?).ok()?;
        if n > max {
            return None;
        }
        (0..n).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut b = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_uvar(&mut b, v);
        }
        put_strs(&mut b, &["a".into(), "héllo".into()]);
        let mut r = Reader::new(&b);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.uvar(), Some(v));
        }
        assert_eq!(
            r.strings(8),
            Some(vec!["a".to_string(), "héllo".to_string()])
        );
        assert!(r.is_done());
        for cut in 0..b.len() - 1 {
            let mut r = Reader::new(&b[b.len() - 1 - cut..b.len() - 1]);
            let _ = r.uvar();
            let _ = r.strings(8);
        }
        assert_eq!(Reader::new(&[0x80; 11]).uvar(), None);
        assert_eq!(Reader::new(&[3, b'a']).string(), None);
    }
}
