//! A tiny ustar writer (POSIX.1-1988 "ustar" headers, regular files only), enough for the
//! support bundle (`tapir support-bundle`): names up to 100 bytes, files of any size (the size
//! field is octal, 11 digits: up to 8 GiB).

use std::io::{self, Write};

const BLOCK: usize = 512;

/// Writes regular files into a tar stream; [`TarWriter::finish`] writes the two zero blocks
/// that end the archive.
pub struct TarWriter<W: Write> {
    out: W,
    mtime: u64,
}

impl<W: Write> TarWriter<W> {
    /// Every entry gets modification time `mtime` (seconds since the epoch).
    pub fn new(out: W, mtime: u64) -> Self {
        TarWriter { out, mtime }
    }

    /// Appends `name` (mode 0644) holding `data`.
    pub fn append(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let name_bytes = name.as_bytes();
        if name_bytes.is_empty() || name_bytes.len() > 100 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tar entry name of {} bytes (1 to 100)", name_bytes.len()),
            ));
        }
        let mut h = [0u8; BLOCK];
        put(&mut h, 0, name_bytes);
        put(&mut h, 100, b"0000644\0");
        put(&mut h, 108, b"0000000\0");
        put(&mut h, 116, b"0000000\0");
        put(&mut h, 124, format!("{:011o}\0", data.len()).as_bytes());
        put(&mut h, 136, format!("{:011o}\0", self.mtime).as_bytes());
        put(&mut h, 148, b"        ");
        put(&mut h, 156, b"0");
        put(&mut h, 257, b"ustar\0");
        put(&mut h, 263, b"00");
        put(&mut h, 265, b"root");
        put(&mut h, 297, b"root");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
        self.out.write_all(&[0u8; BLOCK][..pad])
    }

    /// Ends the archive and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out)
    }
}

/// Copies `src` into the header at `at` (fields are fixed; callers keep within them).
fn put(h: &mut [u8; BLOCK], at: usize, src: &[u8]) {
    if let Some(dst) = h.get_mut(at..at + src.len()) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_archive_has_a_valid_header_and_padding() {
        let mut t = TarWriter::new(Vec::new(), 0o1234);
        t.append("a/b.txt", b"hello").unwrap();
        let out = t.finish().unwrap();
        assert_eq!(out.len(), 512 + 512 + 1024);
        assert_eq!(&out[..7], b"a/b.txt");
        assert_eq!(&out[124..136], b"00000000005\0");
        assert_eq!(&out[136..148], b"00000001234\0");
        assert_eq!(&out[257..263], b"ustar\0");
        // Checksum: the header's bytes summed with the checksum field as spaces.
        let mut h = out[..512].to_vec();
        let stored = u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        h[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, h.iter().map(|&b| u32::from(b)).sum::<u32>());
        assert_eq!(&out[512..517], b"hello");
        assert!(out[517..].iter().all(|&b| b == 0));
        let long = "x".repeat(101);
        assert!(TarWriter::new(Vec::new(), 0).append(&long, b"").is_err());
    }
}
