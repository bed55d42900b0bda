//! Where the bytes of a capture come from: a [`SharedBuf`] (bytes in memory) read in place, or
//! a stream (a file, stdin, an inflating decoder) read through a reusable, bounded buffer.
//!
//! Files are read, not memory-mapped: a mapped file that another process truncates while we
//! read it (log rotation, a capture tool restarting) kills the process with SIGBUS on the
//! next access past the new end, and nothing short of a signal handler can catch that. With
//! `read(2)` the same event is a short read, which [`FileReader`] reports as an error.
//! The cost is one copy of the bytes (the page cache into the buffer, then the dispatcher's
//! batches), which measured within noise of mapping on a 60 MB capture.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

use super::super::SharedBuf;
use super::MAX_BLOCK_LEN;

/// Initial size of the stream buffer; it grows up to [`STREAM_BUF_MAX`] for big blocks.
pub(super) const STREAM_BUF_INITIAL: usize = 1024 * 1024;
pub(super) const STREAM_BUF_MAX: usize = MAX_BLOCK_LEN as usize + 64;

pub(super) enum Backing {
    Shared { buf: Arc<SharedBuf>, pos: usize },
    Stream(StreamBuf),
}

impl Backing {
    /// The unread bytes currently available.
    pub(super) fn avail(&self) -> &[u8] {
        match self {
            Backing::Shared { buf, pos } => buf.get(*pos..).unwrap_or(&[]),
            Backing::Stream(s) => s.avail(),
        }
    }

    /// Makes at least `n` bytes available if the input has them; false at the end of input.
    pub(super) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        match self {
            Backing::Shared { buf, pos } => Ok(buf.len().saturating_sub(*pos) >= n),
            Backing::Stream(s) => s.fill(n),
        }
    }

    pub(super) fn consume(&mut self, n: usize) {
        match self {
            Backing::Shared { buf, pos } => *pos = (*pos + n).min(buf.len()),
            Backing::Stream(s) => s.start = (s.start + n).min(s.end),
        }
    }

    /// Position of the first unread byte in [`Backing::whole`].
    pub(super) fn pos(&self) -> usize {
        match self {
            Backing::Shared { pos, .. } => *pos,
            Backing::Stream(s) => s.start,
        }
    }

    /// The whole buffer, read and unread bytes alike.
    pub(super) fn whole(&self) -> &[u8] {
        match self {
            Backing::Shared { buf, .. } => buf,
            Backing::Stream(s) => &s.buf,
        }
    }

    /// Bytes held in memory for the input.
    pub(super) fn held_bytes(&self) -> usize {
        match self {
            Backing::Shared { buf, .. } => buf.len(),
            Backing::Stream(s) => s.buf.len(),
        }
    }

    pub(super) fn shared(&self) -> Option<Arc<SharedBuf>> {
        match self {
            Backing::Shared { buf, .. } => Some(Arc::clone(buf)),
            Backing::Stream(_) => None,
        }
    }
}

/// Reusable read buffer for non-seekable input: `buf[start..end]` holds unread bytes.
pub(super) struct StreamBuf {
    pub(super) reader: Box<dyn Read + Send>,
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    eof: bool,
}

impl StreamBuf {
    pub(super) fn new(reader: Box<dyn Read + Send>) -> StreamBuf {
        StreamBuf::with_buffer(reader, vec![0; STREAM_BUF_INITIAL])
    }

    /// A stream that reuses `buf` (its contents are discarded).
    pub(super) fn with_buffer(reader: Box<dyn Read + Send>, buf: Vec<u8>) -> StreamBuf {
        StreamBuf {
            reader,
            buf,
            start: 0,
            end: 0,
            eof: false,
        }
    }

    pub(super) fn avail(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Reads until at least `n` unread bytes are buffered or the input ends.
    /// `n` must not exceed [`STREAM_BUF_MAX`].
    pub(super) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        let n = n.min(STREAM_BUF_MAX);
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if n > self.buf.len() {
            let new_len = (self.buf.len() * 2).max(n).min(STREAM_BUF_MAX);
            self.buf.resize(new_len, 0);
        }
        while self.end - self.start < n {
            let Some(dst) = self.buf.get_mut(self.end..) else {
                return Ok(false);
            };
            match self.reader.read(dst) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// A file read from start to end that reports a file that shrank under us (truncated by
/// another process while we read it) instead of taking the short read for its end.
pub(super) struct FileReader {
    file: File,
    /// Size of the file when it was opened.
    len_at_open: u64,
    read: u64,
}

impl FileReader {
    pub(super) fn new(file: File) -> io::Result<FileReader> {
        let len_at_open = file.metadata()?.len();
        Ok(FileReader {
            file,
            len_at_open,
            read: 0,
        })
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if n == 0 && !buf.is_empty() && self.read < self.len_at_open {
            let now = self.file.metadata().map(|m| m.len()).unwrap_or(0);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file shrank while being read (truncated by another process?): \
                     {} bytes at the start, {now} now, ended after {}",
                    self.len_at_open, self.read
                ),
            ));
        }
        Ok(n)
    }
}
