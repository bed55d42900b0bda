//! Gzip'd captures: detection by magic, and inflation (whole for bytes in memory, on the fly
//! for files and streams, so that memory stays bounded whatever the capture's size).

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

use super::super::CaptureError;
use super::backing::StreamBuf;

pub(super) fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
}

/// Inflates a gzip stream fully into memory, failing past `cap` bytes.
pub(super) fn gunzip(data: &[u8], name: &str, cap: u64) -> Result<Vec<u8>, CaptureError> {
    let mut out = Vec::new();
    let mut dec = MultiGzDecoder::new(data).take(cap.saturating_add(1));
    dec.read_to_end(&mut out)
        .map_err(|source| CaptureError::Io {
            path: name.to_string(),
            source,
        })?;
    if out.len() as u64 > cap {
        return Err(CaptureError::TooLarge {
            path: name.to_string(),
            cap,
        });
    }
    Ok(out)
}

/// Turns a stream whose unread bytes start with the gzip magic into a stream of the inflated
/// bytes, reusing its buffer. With a `cap`, inflating past that many bytes is an error that
/// [`cap_reached`] recognises.
pub(super) fn inflate_stream(sb: StreamBuf, cap: Option<u64>) -> StreamBuf {
    let head = io::Cursor::new(sb.avail().to_vec());
    let rest = sb.reader;
    let dec = MultiGzDecoder::new(head.chain(rest));
    let reader: Box<dyn Read + Send> = match cap {
        Some(cap) => Box::new(Capped {
            inner: dec,
            left: cap,
            cap,
        }),
        None => Box::new(dec),
    };
    StreamBuf::with_buffer(reader, sb.buf)
}

/// The error a capped inflating stream gives once it has produced `cap` bytes and has more.
#[derive(Debug, thiserror::Error)]
#[error("decompressed size exceeds the cap of {0} bytes")]
struct CapReached(u64);

/// The cap, when `e` says the decompression cap was reached.
pub(super) fn cap_reached(e: &io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<CapReached>())
        .map(|c| c.0)
}

/// A reader that fails once more than `cap` bytes would come out of `inner`.
struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the cap: fine if the stream ends here, an error if it has more.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(CapReached(self.cap))),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..max).unwrap_or_default())?;
        self.left -= n as u64;
        Ok(n)
    }
}
