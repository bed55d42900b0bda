//! Gzip'd captures: detection by magic, and inflation (whole, or on the fly for streams).

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
/// bytes, reusing its buffer.
pub(super) fn inflate_stream(sb: StreamBuf) -> StreamBuf {
    let head = io::Cursor::new(sb.avail().to_vec());
    let rest = sb.reader;
    StreamBuf::with_buffer(Box::new(MultiGzDecoder::new(head.chain(rest))), sb.buf)
}
