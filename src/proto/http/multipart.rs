//! `multipart/form-data` request bodies (uploads) split into their parts as a server splits
//! them: each part that carries a file name becomes a file of its own (its field name, file
//! name, size and hashes listed in the `http` record's `form_parts`). Streaming, with a small
//! carry buffer: memory is bounded by the longest part head ([`MAX_PART_HEAD`]) and the
//! boundary, whatever the size of the upload.

use super::body::{BodyIssue, BodySink, Codings};
use super::parser::{disposition_filename, header};
use crate::files::{FileBody, FileMeta};

/// Longest part head (its header lines) accepted.
pub const MAX_PART_HEAD: usize = 8 << 10;
/// Most file parts split out of one body; later ones stay in the whole body's file only.
pub const MAX_FILE_PARTS: usize = 64;
/// Longest boundary accepted (RFC 2046 allows 70 characters).
const MAX_BOUNDARY: usize = 200;

/// What the splitter tells its caller.
#[derive(Debug)]
pub enum PartEvent {
    /// A file part begins; its file will have this id.
    Started(String),
    /// A file part is over.
    Done {
        /// The part's form field name.
        field: Option<String>,
        file: Box<FileBody>,
        issues: Vec<BodyIssue>,
    },
    /// The body does not follow the multipart syntax (splitting stopped).
    Malformed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Preamble,
    Head,
    Body,
    Done,
}

#[derive(Debug)]
struct Part {
    field: Option<String>,
    sink: BodySink,
    id: String,
}

/// Splits one multipart body.
#[derive(Debug)]
pub struct Multipart {
    /// "\n--" and the boundary.
    delim: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    part: Option<Part>,
    meta: FileMeta,
    id_base: String,
    files: usize,
}

/// The boundary of a `multipart/form-data` Content-Type value.
pub fn form_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mt = params.next()?.trim();
    if !mt.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= MAX_BOUNDARY)
            .then(|| v.to_string())
    })
}

/// The `name` parameter of a Content-Disposition value.
fn disposition_name(v: &str) -> Option<String> {
    v.split(';').skip(1).find_map(|p| {
        let (k, val) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("name")
            .then(|| val.trim().trim_matches('"').to_string())
    })
}

impl Multipart {
    /// A splitter for a body with this boundary; `meta` is the request's (URL, referrer),
    /// `id_base` the whole body's file id (parts are "<id_base>-p<n>").
    pub fn new(boundary: &str, meta: FileMeta, id_base: String) -> Multipart {
        let mut delim = b"\n--".to_vec();
        delim.extend_from_slice(boundary.as_bytes());
        Multipart {
            delim,
            // The body's first line may be the first delimiter itself.
            buf: b"\n".to_vec(),
            state: State::Preamble,
            part: None,
            meta,
            id_base,
            files: 0,
        }
    }

    /// The next body bytes.
    pub fn update(&mut self, data: &[u8], on: &mut impl FnMut(PartEvent)) {
        if self.state == State::Done {
            return;
        }
        self.buf.extend_from_slice(data);
        self.run(on);
    }

    /// Body bytes were never captured: the part under way is cut, splitting stops.
    pub fn gap(&mut self, len: u64, on: &mut impl FnMut(PartEvent)) {
        if let Some(p) = self.part.as_mut() {
            p.sink.gap(len);
        }
        self.end_part(false, on);
        self.stop();
    }

    /// The body is over (`complete`: as declared, not cut).
    pub fn finish(mut self, complete: bool, on: &mut impl FnMut(PartEvent)) {
        if self.state == State::Done {
            return;
        }
        if self.state == State::Body {
            let rest = std::mem::take(&mut self.buf);
            if let Some(p) = self.part.as_mut() {
                p.sink.update(&rest);
            }
        }
        // No closing delimiter: the last part may be cut.
        self.end_part(false, on);
        if complete {
            on(PartEvent::Malformed);
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.state = State::Done;
        self.buf = Vec::new();
    }

    fn end_part(&mut self, complete: bool, on: &mut impl FnMut(PartEvent)) {
        if let Some(p) = self.part.take() {
            let (file, issues) = p.sink.finish(p.id, complete);
            on(PartEvent::Done {
                field: p.field,
                file: Box::new(file),
                issues,
            });
        }
    }

    fn find_delim(&self, from: usize) -> Option<usize> {
        let d = &self.delim;
        let first = *d.first()?;
        let mut from = from;
        while let Some(i) = self
            .buf
            .get(from..)
            .and_then(|r| r.iter().position(|b| *b == first))
        {
            let at = from + i;
            if self.buf.get(at..at + d.len()) == Some(d.as_slice()) {
                return Some(at);
            }
            from = at + 1;
        }
        None
    }

    fn run(&mut self, on: &mut impl FnMut(PartEvent)) {
        loop {
            match self.state {
                State::Done => return,
                State::Preamble | State::Body => {
                    let mut from = 0;
                    let (i, kind) = loop {
                        let Some(i) = self.find_delim(from) else {
                            // Keep what may be the start of a delimiter (and its CR).
                            let keep = self.delim.len() + 1;
                            if self.buf.len() > keep {
                                let n = self.buf.len() - keep;
                                if let Some(p) = self.part.as_mut() {
                                    p.sink.update(self.buf.get(..n).unwrap_or_default());
                                }
                                self.buf.drain(..n);
                            }
                            return;
                        };
                        let tail = self.buf.get(i + self.delim.len()..).unwrap_or_default();
                        match delim_kind(tail) {
                            Delim::Not => from = i + 1,
                            Delim::NeedMore => {
                                self.flush_before(i);
                                return;
                            }
                            k => break (i, k),
                        }
                    };
                    let data_end = if i > 0 && self.buf.get(i - 1) == Some(&b'\r') {
                        i - 1
                    } else {
                        i
                    };
                    if let Some(p) = self.part.as_mut() {
                        p.sink.update(self.buf.get(..data_end).unwrap_or_default());
                    }
                    self.end_part(true, on);
                    match kind {
                        Delim::Line(n) => {
                            self.buf.drain(..i + self.delim.len() + n);
                            self.state = State::Head;
                        }
                        _ => {
                            self.stop();
                            return;
                        }
                    }
                }
                State::Head => {
                    let (lines, end) = part_head(&self.buf);
                    let Some(end) = end else {
                        if self.buf.len() > MAX_PART_HEAD {
                            on(PartEvent::Malformed);
                            self.stop();
                        }
                        return;
                    };
                    let headers = lines;
                    self.buf.drain(..end);
                    self.state = State::Body;
                    let disp = header(&headers, "content-disposition");
                    let name = disp.and_then(disposition_filename);
                    if let Some(name) = name.filter(|_| self.files < MAX_FILE_PARTS) {
                        let id = format!("{}-p{}", self.id_base, self.files);
                        self.files += 1;
                        let meta = FileMeta {
                            name: Some(name),
                            mime_type: header(&headers, "content-type").map(str::to_string),
                            ..self.meta.clone()
                        };
                        on(PartEvent::Started(id.clone()));
                        self.part = Some(Part {
                            field: disp.and_then(disposition_name),
                            sink: BodySink::new(meta, &Codings::default()),
                            id,
                        });
                    }
                }
            }
        }
    }

    /// Hands the bytes before offset `i` (a delimiter whose line is not complete yet) to the
    /// part, keeping the delimiter and a CR before it.
    fn flush_before(&mut self, i: usize) {
        let n = i.saturating_sub(1);
        if n > 0 {
            if let Some(p) = self.part.as_mut() {
                p.sink.update(self.buf.get(..n).unwrap_or_default());
            }
            self.buf.drain(..n);
        }
    }
}

/// What follows "\n--boundary".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delim {
    /// "--": the closing delimiter.
    Final,
    /// Whitespace and the line's end, this many bytes: a delimiter.
    Line(usize),
    /// Not known yet.
    NeedMore,
    /// Something else: the boundary text inside the content, not a delimiter.
    Not,
}

fn delim_kind(tail: &[u8]) -> Delim {
    if tail.starts_with(b"--") {
        return Delim::Final;
    }
    if tail == b"-" {
        return Delim::NeedMore;
    }
    let ws = tail
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    match tail.get(ws..).unwrap_or_default() {
        [] | [b'\r'] if tail.len() <= MAX_BOUNDARY => Delim::NeedMore,
        [b'\r', b'\n', ..] => Delim::Line(ws + 2),
        [b'\n', ..] => Delim::Line(ws + 1),
        _ => Delim::Not,
    }
}

/// A part's header lines up to its blank line: the headers and the offset after the blank
/// line (None when not complete).
fn part_head(buf: &[u8]) -> (Vec<(String, String)>, Option<usize>) {
    let mut headers = Vec::new();
    let mut start = 0;
    while let Some(nl) = buf
        .get(start..)
        .and_then(|r| r.iter().position(|b| *b == b'\n'))
    {
        let line = buf.get(start..start + nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        start += nl + 1;
        if line.is_empty() {
            return (headers, Some(start));
        }
        if let Some(i) = line.iter().position(|b| *b == b':') {
            headers.push((
                String::from_utf8_lossy(line.get(..i).unwrap_or_default())
                    .trim()
                    .to_string(),
                String::from_utf8_lossy(line.get(i + 1..).unwrap_or_default())
                    .trim()
                    .to_string(),
            ));
        }
    }
    (headers, None)
}
