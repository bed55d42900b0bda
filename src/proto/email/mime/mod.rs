//! Message assembly and MIME parsing: the carrier (SMTP, POP3, IMAP) pushes a message's bytes
//! into a [`MessageBuilder`]; at [`MessageBuilder::finish`] the message is parsed with
//! `mail-parser` and the `email` record and one `file` record per attachment are emitted.

use crate::proto::email::EmailAnomaly;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use crate::files::budget::{Held, Releasable};
use crate::files::{FileMeta, FileTracker};
use crate::proto::AppBody;
use crate::proto::ParseCtx;
use crate::util::hex::md5_hex;

use super::record::{Attachment, Hashed, HashedAddr};
use super::EmailBody;

mod lenient;

/// Nesting depth of attached messages followed.
const MAX_DEPTH: usize = 8;
/// Most structure lines (see [`structure_cut`]) of a message handed to mail-parser, whose
/// memory grows by a few hundred bytes for each header and part it finds (a message made of
/// nothing else costs about 30 times its size): past it only the start of the message is parsed,
/// the message is reported truncated and `email.mime_too_complex` is counted. About 25 MB at
/// most; ordinary messages have a few hundred.
pub const MAX_STRUCTURE_LINES: usize = 32 << 10;
/// Multipart nesting beyond which a message counts `email.mime_nesting_too_deep` (its parts
/// are still walked: mail-parser keeps them in one flat list).
pub const MAX_MULTIPART_DEPTH: usize = 64;

/// What the carrying protocol knows of a message besides its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// "smtp", "pop3", "imap".
    pub protocol: &'static str,
    /// SMTP HELO/EHLO argument.
    pub helo: Option<String>,
    /// SMTP MAIL FROM address (without <>), with parameters dropped.
    pub mail_from: Option<String>,
    /// SMTP RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// STARTTLS was seen on the session before this message (later messages are encrypted).
    pub starttls: bool,
    /// AUTH mechanism and user name (never a password).
    pub auth_mechanism: Option<String>,
    /// AUTH user name (never a password).
    pub auth_user: Option<String>,
    /// SMTP MAIL FROM parameters as sent ("SIZE=123 BODY=8BITMIME").
    pub mail_params: Option<String>,
}

/// Limits on what one message may cost.
#[derive(Clone, Copy, Debug)]
pub struct MessageLimits {
    /// Bytes of a message kept for parsing; the rest is counted, not kept.
    pub max_message: usize,
    /// Attachments reported per message.
    pub max_attachments: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_message: 16 << 20,
            max_attachments: 64,
        }
    }
}

/// Bytes of a message's start still kept once the inspection memory cap released it (most
/// messages' headers fit: the record keeps its addresses and subject).
pub const MESSAGE_BYTES_RELEASED: usize = 16 << 10;

/// Collects one message's bytes as they arrive (after SMTP dot-unstuffing, BDAT chunking, or
/// an IMAP literal / POP3 multi-line response has been undone by the carrier).
///
/// The bytes kept are held under the worker's file inspection memory cap
/// (`files.inspect_memcap`, [`crate::files::budget`]) with the HTTP bodies: when the cap
/// releases the message, all but its first [`MESSAGE_BYTES_RELEASED`] bytes are freed, the
/// rest is counted and not kept, the record says `truncated` and `email.inspect_memcap` is
/// counted.
#[derive(Debug)]
pub struct MessageBuilder {
    limits: MessageLimits,
    buf: Held<MessageBuf>,
    size: u64,
    cut: bool,
}

/// The kept bytes of a message.
#[derive(Debug, Default)]
struct MessageBuf {
    bytes: Vec<u8>,
    /// Most bytes kept: `max_message`, less once released.
    cap: usize,
    released: bool,
}

impl Releasable for MessageBuf {
    fn held_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    fn release(&mut self) {
        self.released = true;
        self.cap = self.cap.min(MESSAGE_BYTES_RELEASED);
        // A new small buffer, the old one freed whole.
        self.bytes = self
            .bytes
            .get(..self.cap.min(self.bytes.len()))
            .unwrap_or_default()
            .to_vec();
    }
}

impl MessageBuilder {
    /// An empty message under `limits`.
    pub fn new(limits: MessageLimits) -> MessageBuilder {
        MessageBuilder {
            limits,
            buf: Held::new(MessageBuf {
                bytes: Vec::new(),
                cap: limits.max_message,
                released: false,
            }),
            size: 0,
            cut: false,
        }
    }

    /// The next bytes of the message.
    pub fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.buf.with(|b| {
            let room = b.cap.saturating_sub(b.bytes.len());
            b.bytes
                .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        });
    }

    /// Takes `len` bytes at `start` back out of the message (a BDAT chunk the server refused).
    pub fn take_back(&mut self, start: u64, len: u64) {
        let len = len.min(self.size.saturating_sub(start));
        self.size -= len;
        self.buf.with(|b| {
            let from = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(b.bytes.len());
            let to = usize::try_from(start.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(b.bytes.len());
            b.bytes.drain(from..to);
        });
    }

    /// Bytes seen so far (also those past the cap).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The carrier lost part of the message (a gap, the end of the flow): the record is marked
    /// truncated and attachments are reported incomplete.
    pub fn mark_truncated(&mut self) {
        self.cut = true;
    }

    /// Whether the message went past the size cap, was released by the inspection memory cap
    /// or was marked truncated.
    pub fn is_truncated(&mut self) -> bool {
        let kept = self.buf.with(|b| b.bytes.len());
        self.cut || self.size > kept as u64
    }

    /// The message is complete: emits the `email` record and the attachments' `file` records.
    pub fn finish(mut self, env: &Envelope, ctx: &mut ParseCtx<'_>) {
        // The bytes leave the budget here: parsing is done before the next message's bytes.
        let MessageBuf {
            bytes: buf,
            released,
            ..
        } = self.buf.with(std::mem::take);
        drop(self.buf);
        let over_cap = self.size > buf.len() as u64;
        if released {
            ctx.anomaly(EmailAnomaly::InspectMemcap.as_str());
        } else if over_cap {
            ctx.anomaly(EmailAnomaly::MessageTooLarge.as_str());
        }
        let cut = structure_cut(&buf, MAX_STRUCTURE_LINES);
        if cut.is_some() {
            ctx.anomaly(EmailAnomaly::MimeTooComplex.as_str());
        }
        let parsed = buf.get(..cut.unwrap_or(buf.len())).unwrap_or_default();
        let truncated = over_cap || self.cut || cut.is_some();
        let mut rec = EmailBody {
            protocol: env.protocol,
            helo: env.helo.clone(),
            mail_from: env.mail_from.clone(),
            mail_params: env.mail_params.clone(),
            rcpt_to: env.rcpt_to.clone(),
            starttls: env.starttls,
            auth_mechanism: env.auth_mechanism.clone(),
            auth_user: env.auth_user.clone(),
            size: self.size,
            truncated,
            ..EmailBody::default()
        };
        let tag = fnv(buf.get(..4096.min(buf.len())).unwrap_or_default());
        let parsed = parse_message(parsed);
        if let Ok(Some(msg)) = parsed {
            headers(&msg, &mut rec);
            let mut walk = Walk {
                env,
                limits: self.limits,
                truncated,
                tag,
                n: 0,
                too_deep: false,
                rec: &mut rec,
                ctx,
            };
            walk.message(&msg, 0);
            dismantle(msg);
        } else if parsed.is_err() {
            ctx.anomaly(EmailAnomaly::ParserPanicked.as_str());
        } else if !buf.is_empty() {
            ctx.anomaly(EmailAnomaly::Unparsable.as_str());
        }
        rec.hashed = hashed(&rec);
        ctx.emit(AppBody::Email(rec));
    }
}

/// Where to cut `msg` so that mail-parser meets at most `max` structure lines; `None` when the
/// whole message fits. A line counts when it
/// - holds "--" anywhere (a boundary may create a part; mail-parser finds boundaries mid-line),
/// - is in a header block and holds a ':' (may become a header), or ends one (blank line),
/// - belongs to the transfer-encoded body of an attached message (which mail-parser decodes and
///   parses in turn): a count for every 4 bytes, as the decoded message may be all headers.
///
/// Header blocks are where mail-parser looks for headers: the message's start, after a
/// boundary-like line, and after the header block of an attached message (`message/rfc822`,
/// `message/global`, or a part of a `multipart/digest`). The scan overcounts rather than
/// undercounts (any "--" line opens a header block); body lines cost nothing otherwise, so that
/// large attachments and texts are never cut.
fn structure_cut(msg: &[u8], max: usize) -> Option<usize> {
    let has = |line: &[u8], pat: &[u8]| line.windows(pat.len()).any(|w| w == pat);
    let has_ci =
        |line: &[u8], pat: &[u8]| line.windows(pat.len()).any(|w| w.eq_ignore_ascii_case(pat));
    let mut count = 0usize;
    let mut in_headers = true;
    // The header block follows a boundary-like line.
    let mut from_boundary = false;
    // It declares an attached message, with a transfer encoding.
    let mut message = false;
    let mut encoded = false;
    // A multipart/digest was declared: its parts default to attached messages.
    let mut digest = false;
    let mut encoded_body = false;
    let mut start = 0;
    while start < msg.len() {
        let rest = msg.get(start..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = rest.get(..len).unwrap_or_default();
        let dashes = has(line, b"--");
        if dashes {
            count += 1;
            if !in_headers {
                in_headers = true;
                message = false;
                encoded = false;
                encoded_body = false;
            }
            from_boundary = true;
        }
        if in_headers {
            if !dashes && line.iter().all(u8::is_ascii_whitespace) {
                count += 1;
                let nested = message || (from_boundary && digest);
                in_headers = nested && !encoded;
                encoded_body = nested && encoded;
                from_boundary = false;
                message = false;
                encoded = false;
            } else {
                if line.contains(&b':') {
                    count += 1;
                }
                message |= has_ci(line, b"message/");
                digest |= has_ci(line, b"digest");
                encoded |= has_ci(line, b"base64") || has_ci(line, b"quoted-printable");
            }
        } else if encoded_body {
            count += line.len() / 4 + 1;
        }
        if count > max {
            return Some(start);
        }
        start += len + 1;
    }
    None
}

/// Drops a parsed message without recursion. Attached messages (`message/rfc822`) nest as a
/// tree that mail-parser builds without recursing, but whose drop glue recurses once per
/// level: a few megabytes of nested attached messages would overflow a worker's stack.
fn dismantle(msg: Message<'_>) {
    let mut stack = vec![msg];
    while let Some(mut m) = stack.pop() {
        for part in m.parts.drain(..) {
            if let PartType::Message(inner) = part.body {
                stack.push(inner);
            }
        }
    }
}

/// The deepest multipart nesting of a message (0: not multipart), without recursion: parents
/// come before their children in mail-parser's flat list of parts.
fn multipart_depth(msg: &Message<'_>) -> usize {
    let mut depth = vec![0usize; msg.parts.len()];
    let mut max = 0;
    for (i, part) in msg.parts.iter().enumerate() {
        if let PartType::Multipart(children) = &part.body {
            let d = depth.get(i).copied().unwrap_or(0) + 1;
            max = max.max(d);
            for &c in children {
                let c = c as usize;
                if c > i {
                    if let Some(x) = depth.get_mut(c) {
                        *x = d;
                    }
                }
            }
        }
    }
    max
}

/// FNV-1a over a few bytes: distinguishes file ids of messages finished at the same instant.
fn fnv(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn header_text(msg: &Message<'_>, name: &str) -> Option<String> {
    match msg.header(name)? {
        HeaderValue::Text(t) => Some(t.trim().to_string()),
        HeaderValue::TextList(l) => Some(l.join(", ")),
        _ => msg.header_raw(name).map(|s| s.trim().to_string()),
    }
}

/// The subject: RFC 2047 words (and 8-bit text) decoded by mail-parser; a plain ASCII value
/// unfolded as RFC 5322 says (only the line breaks go: the folding whitespace stays, which
/// mail-parser would collapse).
fn subject(msg: &Message<'_>) -> Option<String> {
    match msg.header_raw("Subject") {
        Some(raw) if raw.is_ascii() && !raw.contains("=?") => {
            Some(raw.replace("\r\n", "").replace('\n', "").trim().to_string())
        }
        _ => msg.subject().map(|s| s.trim().to_string()),
    }
}

fn headers(msg: &Message<'_>, rec: &mut EmailBody) {
    rec.from = addresses(msg.from()).into_iter().next();
    rec.to = addresses(msg.to());
    rec.cc = addresses(msg.cc());
    rec.subject = subject(msg);
    rec.message_id = msg.message_id().map(str::to_string);
    rec.date = msg.date().map(|d| d.to_rfc3339());
    rec.x_mailer = header_text(msg, "X-Mailer");
    rec.received = msg
        .headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Received"))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
}

/// Splits an address at its last '@' and hashes both parts, lower-cased.
fn hash_addr(a: &str) -> HashedAddr {
    let a = a.trim().to_lowercase();
    let (local, domain) = a.rsplit_once('@').unwrap_or((a.as_str(), ""));
    HashedAddr {
        local_md5: md5_hex(local.as_bytes()),
        domain_md5: md5_hex(domain.as_bytes()),
    }
}

fn hashed(rec: &EmailBody) -> Hashed {
    let sender = rec.from.as_ref().or(rec.mail_from.as_ref());
    let from = sender.filter(|s| !s.is_empty()).map(|s| hash_addr(s));
    let header_rcpt: Vec<&String> = rec.to.iter().chain(rec.cc.iter()).collect();
    let rcpt = if header_rcpt.is_empty() {
        rec.rcpt_to.iter().collect()
    } else {
        header_rcpt
    };
    Hashed {
        from_local_md5: from.as_ref().map(|h| h.local_md5.clone()),
        from_domain_md5: from.map(|h| h.domain_md5),
        to: rcpt.into_iter().map(|a| hash_addr(a)).collect(),
        subject_md5: rec.subject.as_ref().map(|s| md5_hex(s.as_bytes())),
    }
}

/// The declared transfer encoding of a part, lower-cased.
/// mail-parser's parse with a panic inside it contained (`Err`): its debug assertions fire on
/// some malformed multipart structures (found by fuzzing), and a bug of a dependency must not
/// take a worker down with it.
fn parse_message(bytes: &[u8]) -> Result<Option<Message<'_>>, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::default().parse(bytes)
    }))
    .map_err(|_| ())
}

fn transfer_encoding(part: &mail_parser::MessagePart<'_>) -> Option<String> {
    part.content_transfer_encoding()
        .map(|c| c.trim().to_ascii_lowercase())
}

/// Whether a part declares an attached message (`message/rfc822`, `message/global`).
fn is_message_type(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
            })
    })
}

/// A base64 part decoded from its raw text as mail clients decode it ([`lenient`]), with
/// whether the text was irregular; `None` for a part not declared base64.
///
/// mail-parser drops an incomplete last quantum, and hands back the raw text of a part holding
/// a character outside the alphabet (or of a part whose multipart is cut short): the client
/// saves the bytes decoded here.
fn lenient_base64(
    msg: &Message<'_>,
    part: &mail_parser::MessagePart<'_>,
) -> Option<(Vec<u8>, bool)> {
    if transfer_encoding(part).as_deref() != Some("base64") {
        return None;
    }
    let raw = msg
        .raw_message()
        .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)?;
    Some(lenient::decode(raw))
}

/// Walks a parsed message for attachments.
struct Walk<'a, 'b> {
    env: &'a Envelope,
    limits: MessageLimits,
    truncated: bool,
    tag: u32,
    n: usize,
    /// `email.mime_nesting_too_deep` was counted for this message.
    too_deep: bool,
    rec: &'a mut EmailBody,
    ctx: &'a mut ParseCtx<'b>,
}

impl Walk<'_, '_> {
    fn message(&mut self, msg: &Message<'_>, depth: usize) {
        if !self.too_deep && multipart_depth(msg) > MAX_MULTIPART_DEPTH {
            self.too_deep = true;
            self.ctx.anomaly(EmailAnomaly::MimeNestingTooDeep.as_str());
        }
        for part in &msg.parts {
            if matches!(part.body, PartType::Multipart(_)) {
                continue;
            }
            let disposition_attachment = part
                .content_disposition()
                .is_some_and(|d| d.is_attachment());
            let name = part.attachment_name().map(str::to_string);
            // RFC 2046 allows an attached message no transfer encoding but 7bit, 8bit and
            // binary; mail clients decode one anyway and show what is inside.
            let encoded_message = is_message_type(part)
                && matches!(
                    transfer_encoding(part).as_deref(),
                    Some("base64" | "quoted-printable")
                );
            if encoded_message {
                self.ctx.anomaly(EmailAnomaly::MessageEncoded.as_str());
            }
            if disposition_attachment || name.is_some() {
                self.attachment(msg, part, name);
            }
            match &part.body {
                PartType::Message(inner) => self.nested(inner, depth),
                _ if encoded_message => {
                    // mail-parser could not decode it (irregular base64): decoded leniently.
                    if let Some((bytes, irregular)) = lenient_base64(msg, part) {
                        if irregular {
                            self.ctx.anomaly(EmailAnomaly::Base64Irregular.as_str());
                        }
                        match parse_message(&bytes) {
                            Ok(Some(inner)) => {
                                self.nested(&inner, depth);
                                dismantle(inner);
                            }
                            Ok(None) => {}
                            Err(()) => self.ctx.anomaly(EmailAnomaly::ParserPanicked.as_str()),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// An attached message, `depth` the level of the message that holds it.
    fn nested(&mut self, inner: &Message<'_>, depth: usize) {
        if depth < MAX_DEPTH {
            self.message(inner, depth + 1);
        } else {
            self.ctx.anomaly(EmailAnomaly::NestingTooDeep.as_str());
        }
    }

    fn attachment(
        &mut self,
        msg: &Message<'_>,
        part: &mail_parser::MessagePart<'_>,
        name: Option<String>,
    ) {
        if self.rec.attachments.len() >= self.limits.max_attachments {
            self.rec.attachments_dropped += 1;
            return;
        }
        let content_type = part.content_type().map(|ct| match ct.subtype() {
            Some(s) => format!("{}/{}", ct.ctype(), s).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        });
        // Its kept start and PE buffer are charged to the inspection memory cap while it is
        // hashed: past the cap, older holders (open messages, HTTP bodies) are released first.
        let mut held = Held::new(Some(FileTracker::new(FileMeta {
            name: name.clone(),
            source: self.env.protocol,
            sender: self.env.mail_from.clone().or_else(|| self.rec.from.clone()),
            mime_type: content_type.clone(),
            ..FileMeta::default()
        })));
        // A base64 attachment as the client saves it (see [`lenient_base64`]); an attached
        // message keeps mail-parser's decoding (its text is what the client shows).
        let decoded = if matches!(part.body, PartType::Message(_)) {
            None
        } else {
            lenient_base64(msg, part)
        };
        let undecoded = || {
            msg.raw_message()
                .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
                .is_some_and(|raw| !raw.is_empty() && raw == part.contents())
        };
        let decoded = match decoded {
            // Irregular text, or a part mail-parser handed back undecoded (its multipart cut
            // short); otherwise mail-parser's decoding stands (its text parts are converted
            // from their charset).
            Some((bytes, irregular)) if irregular || undecoded() => {
                if irregular {
                    self.ctx.anomaly(EmailAnomaly::Base64Irregular.as_str());
                }
                Some(bytes)
            }
            _ => None,
        };
        held.with(|f| {
            if let Some(f) = f.as_mut() {
                f.update(decoded.as_deref().unwrap_or_else(|| part.contents()));
            }
        });
        drop(decoded);
        let Some(file) = held.with(Option::take) else {
            return;
        };
        drop(held);
        let id = format!("F{:x}-{:08x}-{}-email", self.ctx.ts_ns, self.tag, self.n);
        self.n += 1;
        let body = file.finish(id.clone(), !self.truncated);
        self.rec.attachments.push(Attachment {
            name,
            content_type,
            size: body.size,
            md5: body.md5.clone(),
            sha256: body.sha256.clone(),
            format: body.format.clone(),
            file_id: id.clone(),
        });
        self.rec.file_ids.push(id);
        self.ctx.emit(AppBody::File(body));
    }
}

#[cfg(test)]
mod tests;
