//! Files carried by protocols (HTTP bodies, email attachments): streamed through MD5, SHA-1 and
//! SHA-256 as they arrive, their format told from the first bytes, a PE header summary for
//! Windows executables, optional extraction to disk. One code path for every source protocol.

pub mod budget;
pub mod extract;
pub mod magic;
pub mod pe;

pub use extract::{ExtractConfig, ExtractError, ExtractSink, ExtractStats, Extractor};
pub use pe::{pe_summary, PeSection, PeSummary, PE_MAX_BYTES};

use crate::util::hex;
use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// What is known of a file before its bytes arrive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// File name (Content-Disposition, URL path, attachment name), when known.
    pub name: Option<String>,
    /// "http", "smtp", "pop3", "imap".
    pub source: &'static str,
    /// HTTP: the full URL and the referrer; email: None.
    pub url: Option<String>,
    /// HTTP: the Referer header.
    pub referrer: Option<String>,
    /// Email: the sender address.
    pub sender: Option<String>,
    /// Declared media type (Content-Type), when known.
    pub mime_type: Option<String>,
}

/// `file` record body (contract: `file.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileBody {
    /// Unique within the sensor run: "<flow_id hex>-<n>" style, set by the caller.
    pub id: String,
    pub name: Option<String>,
    /// Bytes seen (after transfer decoding such as de-chunking; before content decoding).
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    /// Detected format (magic), e.g. "pe", "zip", "pdf", "gzip", "png"; "unknown" otherwise.
    pub format: String,
    /// Media type belonging to the detected format, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_mime: Option<String>,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// All bytes seen: no gap, not cut by a limit or the end of the capture.
    pub complete: bool,
    /// Bytes missing in gaps (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub gap_bytes: u64,
    /// PE header summary (Windows executables only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pe: Option<serde_json::Value>,
    /// Why inspection stopped early when it did: "inspect_memcap" (the file inspection memory
    /// cap released this file's decoder and kept bytes; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<&'static str>,
    /// Path of the extracted copy on disk (set by the caller from [`Extractor::finish`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted: Option<String>,
    /// How often the file was seen in the local network (set by the statistics, `stats`;
    /// absent when statistics are off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<FileFrequency>,
    /// A PE larger than [`PE_MAX_BYTES`]: its summary was made from its first bytes only
    /// (not in the record; counted as the anomaly `file.pe_too_large`).
    #[serde(skip)]
    pub pe_too_large: bool,
}

/// `file.frequency`: the local network's view of a file at the moment of its record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileFrequency {
    /// Distinct internal hosts that received it.
    pub hosts: u64,
    /// RFC 3339: first seen in the local network, and on the receiving host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_host: Option<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Bytes of a file's start kept for format detection and the PE summary.
pub const HEAD_BYTES: usize = 64 << 10;
/// Bytes of the start still kept once the inspection memory cap released a file.
pub const HEAD_BYTES_RELEASED: usize = 4 << 10;

/// Streams one file's bytes through the hashes.
#[derive(Debug)]
pub struct FileTracker {
    meta: FileMeta,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
    gap_bytes: u64,
    /// The first bytes, for magic and PE headers.
    head: Vec<u8>,
    /// Bytes of `head` before the first gap (what follows is misaligned).
    head_clean: usize,
    /// Most bytes `head` keeps ([`HEAD_BYTES`], less once released).
    head_cap: usize,
    /// Set when the inspection memory cap released this file (see [`budget`]).
    truncated: Option<&'static str>,
    /// Whole-file buffer for the PE summary, see [`PeBuf`].
    pe: PeBuf,
    /// The PE buffer passed [`PE_MAX_BYTES`] and was dropped.
    pe_too_large: bool,
    /// The file's copy on its way to disk, when extraction is on in this thread.
    extract: Option<(extract::Shared, extract::ExtractSink)>,
}

/// Whether the file's bytes are kept for the PE summary: decided from the first two bytes
/// ("MZ"), kept only up to [`PE_MAX_BYTES`] and only while no byte is missing.
#[derive(Clone, Debug)]
enum PeBuf {
    /// Fewer than two bytes seen.
    Undecided,
    /// Looks like a PE: every byte so far.
    Buffering(Vec<u8>),
    /// Not a PE, over the cap, or a gap: the summary (if any) comes from `head`.
    No,
}

impl FileTracker {
    /// A tracker for one file described by `meta`.
    pub fn new(meta: FileMeta) -> FileTracker {
        FileTracker {
            meta,
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            size: 0,
            gap_bytes: 0,
            head: Vec::new(),
            head_clean: 0,
            head_cap: HEAD_BYTES,
            truncated: None,
            pe: PeBuf::Undecided,
            pe_too_large: false,
            extract: extract::begin(),
        }
    }

    /// The next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        if let Some((x, sink)) = self.extract.as_mut() {
            if let Ok(x) = x.lock() {
                x.write(sink, bytes);
            }
        }
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.size += bytes.len() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        if room > 0 {
            self.head
                .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
            if self.gap_bytes == 0 {
                self.head_clean = self.head.len();
            }
        }
        match &mut self.pe {
            PeBuf::Undecided if self.head.len() >= 2 => {
                // Decided while every byte so far is in `head`.
                self.pe = if self.head.starts_with(b"MZ") && self.size <= self.head.len() as u64 {
                    PeBuf::Buffering(self.head.clone())
                } else {
                    PeBuf::No
                };
            }
            PeBuf::Buffering(buf) => {
                if buf.len().saturating_add(bytes.len()) > PE_MAX_BYTES {
                    self.pe = PeBuf::No;
                    self.pe_too_large = true;
                } else {
                    buf.extend_from_slice(bytes);
                }
            }
            _ => {}
        }
    }

    /// `len` bytes of the file were never captured (hashes then no longer match the file).
    pub fn gap(&mut self, len: u64) {
        if let Some((_, sink)) = self.extract.as_mut() {
            sink.gap();
        }
        self.gap_bytes += len;
        if len > 0 {
            self.pe = PeBuf::No;
        }
    }

    /// Heap bytes held for inspection (the kept start and the PE buffer).
    pub fn held_bytes(&self) -> usize {
        self.head.capacity()
            + match &self.pe {
                PeBuf::Buffering(b) => b.capacity(),
                _ => 0,
            }
    }

    /// The inspection memory cap released this file: frees the PE buffer and all but the
    /// first [`HEAD_BYTES_RELEASED`] kept bytes; the record says `truncated`.
    pub fn release(&mut self) {
        self.pe = PeBuf::No;
        self.head_cap = HEAD_BYTES_RELEASED;
        // A new small buffer, the old one freed whole (shrinking in place would leave holes
        // too small for the next file's start).
        self.head = self
            .head
            .get(..HEAD_BYTES_RELEASED.min(self.head.len()))
            .unwrap_or_default()
            .to_vec();
        self.head_clean = self.head_clean.min(self.head.len());
        self.truncated = Some("inspect_memcap");
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file is over; `complete` says whether its end was seen as declared.
    pub fn finish(mut self, id: String, complete: bool) -> FileBody {
        let extract = self.extract.take();
        let mut body = self.summarise(id, complete);
        if let Some((x, sink)) = extract {
            if let Ok(mut x) = x.lock() {
                body.extracted = x.finish(sink, &body).map(|p| p.display().to_string());
            }
        }
        body
    }

    fn summarise(self, id: String, complete: bool) -> FileBody {
        let (format, format_mime) = detect_format(&self.head);
        let complete = complete && self.gap_bytes == 0;
        let pe = if magic::is_pe(&format) {
            let summary = match &self.pe {
                PeBuf::Buffering(buf) => pe::summarize(buf, complete),
                _ => pe::summarize(self.head.get(..self.head_clean).unwrap_or_default(), false),
            };
            summary.and_then(|s| serde_json::to_value(s).ok())
        } else {
            None
        };
        FileBody {
            id,
            name: self.meta.name,
            size: self.size,
            md5: hex::encode(&self.md5.finalize()),
            sha1: hex::encode(&self.sha1.finalize()),
            sha256: hex::encode(&self.sha256.finalize()),
            format,
            format_mime,
            source: self.meta.source,
            url: self.meta.url,
            referrer: self.meta.referrer,
            sender: self.meta.sender,
            mime_type: self.meta.mime_type,
            complete,
            gap_bytes: self.gap_bytes,
            pe,
            truncated: self.truncated,
            extracted: None,
            frequency: None,
            pe_too_large: self.pe_too_large,
        }
    }
}

/// A file's kept start and PE buffer under the inspection memory cap (email attachments; an
/// HTTP body's file is charged with its body).
impl budget::Releasable for FileTracker {
    fn held_bytes(&self) -> usize {
        FileTracker::held_bytes(self)
    }
    fn release(&mut self) {
        FileTracker::release(self);
    }
}

/// Format (short name, see [`magic`]) and media type of a file from its first bytes.
pub fn detect_format(head: &[u8]) -> (String, Option<String>) {
    magic::detect(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_streamed() {
        let mut t = FileTracker::new(FileMeta {
            source: "http",
            ..Default::default()
        });
        t.update(b"hello ");
        t.update(b"world");
        let b = t.finish("f1".into(), true);
        assert_eq!(b.size, 11);
        assert_eq!(b.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(b.sha1, "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
        assert_eq!(
            b.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert!(b.complete);
    }
}

#[cfg(test)]
mod fixture_tests;
