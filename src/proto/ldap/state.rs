//! Per-flow LDAP state: stream buffers per direction, requests awaiting their response.

use crate::proto::ldap::LdapAnomaly;
use std::collections::BTreeMap;

use super::parser::{self, Auth, BerError, LdapResult, Message, Op};
use super::record::{deref_name, result_name, scope_name, LdapBody};
use crate::proto::AppBody;
use crate::proto::{AppParser, AppProto, Direction, Handover, ParseCtx, Transport};

/// The StartTLS extended operation (RFC 4511 4.14): a success answer hands the flow to TLS.
pub const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";
/// Most bytes buffered per direction (and largest message accepted).
pub const MAX_BUFFER: usize = 1 << 20;
/// Most bytes skipped looking for the next LDAPMessage after bad framing; past it the direction
/// is ignored until a gap (`ldap.lost`).
pub const MAX_RESYNC_SCAN: usize = 64 << 10;
/// Most requests kept waiting for their response.
pub const MAX_PENDING: usize = 1024;

/// SASL mechanisms that may negotiate a security layer.
fn may_wrap(mech: &str) -> bool {
    matches!(
        mech.to_ascii_uppercase().as_str(),
        "GSSAPI" | "GSS-SPNEGO" | "DIGEST-MD5"
    )
}

/// The clear LDAP bytes inside a SASL security-layer token that is signed but not sealed:
/// a Kerberos CFX wrap token (RFC 4121: 16-byte header, data rotated right by RRC, then EC
/// bytes of checksum) or an NTLM-signed buffer (16-byte signature, then the data). `None`
/// for sealed or unknown tokens.
pub fn unwrap_signed(token: &[u8]) -> Option<Vec<u8>> {
    match token.get(..16)? {
        [0x05, 0x04, flags, 0xff, e0, e1, r0, r1, ..] => {
            if flags & 0x02 != 0 {
                return None;
            }
            let ec = usize::from(u16::from_be_bytes([*e0, *e1]));
            let rrc = usize::from(u16::from_be_bytes([*r0, *r1]));
            let body = token.get(16..)?;
            if body.is_empty() {
                return None;
            }
            let rrc = rrc % body.len();
            let mut plain = Vec::with_capacity(body.len());
            plain.extend_from_slice(body.get(rrc..)?);
            plain.extend_from_slice(body.get(..rrc)?);
            plain.truncate(plain.len().checked_sub(ec)?);
            (plain.first() == Some(&0x30)).then_some(plain)
        }
        [0x01, 0x00, 0x00, 0x00, ..] => {
            let plain = token.get(16..)?;
            (plain.first() == Some(&0x30)).then(|| plain.to_vec())
        }
        _ => None,
    }
}

#[derive(Debug, Default)]
struct DirState {
    buf: Vec<u8>,
    /// Lost sync (no message start found, overflow): ignore until a gap resets.
    dead: bool,
    /// Bad framing seen: looking for the next plausible LDAPMessage; bytes skipped so far.
    scanning: Option<usize>,
}

/// Where the next plausible LDAPMessage starts in `d`: a SEQUENCE whose message id and
/// protocolOp fit ([`super::probe::message`]; `true`), or one cut short by the end of `d`
/// (`false`: more bytes tell). `None`: none in `d`.
fn next_start(d: &[u8]) -> Option<(usize, bool)> {
    use crate::proto::detect::peek::P;
    d.iter().enumerate().filter(|&(_, &b)| b == 0x30).find_map(
        |(k, _)| match super::probe::message(d.get(k..)?) {
            P::Yes(_) => Some((k, true)),
            P::More => Some((k, false)),
            P::No => None,
        },
    )
}

#[derive(Debug)]
struct Pending {
    body: LdapBody,
    /// SASL mechanism of a pending bind.
    sasl: Option<String>,
}

/// The LDAP / CLDAP parser of one flow.
#[derive(Debug)]
pub struct LdapState {
    transport: Transport,
    dirs: [DirState; 2],
    pending: BTreeMap<u32, Pending>,
    /// A SASL bind that may have negotiated a security layer succeeded.
    sasl_layer: bool,
    /// Message id of a StartTLS request awaiting its answer.
    starttls_id: Option<u32>,
    /// StartTLS answered with success: the rest of the flow is TLS, handed on to the worker.
    handover: Option<Handover>,
}

fn idx(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// What the framing of the start of a buffer says.
enum Frame {
    /// A whole LDAPMessage of this many bytes.
    Message(usize),
    /// A SASL-wrapped token of this many bytes (4-byte length included).
    Wrapped(usize),
    /// Wait for more bytes.
    More,
    /// Cannot be LDAP.
    Bad(&'static str),
}

impl LdapState {
    /// A parser for a flow over `transport`.
    pub fn new(transport: Transport) -> Self {
        LdapState {
            transport,
            dirs: Default::default(),
            pending: BTreeMap::new(),
            sasl_layer: false,
            starttls_id: None,
            handover: None,
        }
    }

    fn protocol(&self) -> &'static str {
        match self.transport {
            Transport::Udp => "cldap",
            Transport::Tcp => "ldap",
        }
    }

    fn frame(&self, d: &[u8]) -> Frame {
        let Some(&first) = d.first() else {
            return Frame::More;
        };
        if first != 0x30 {
            // SASL security layer: 4-byte big-endian length, then the wrapped token.
            if self.transport == Transport::Tcp {
                let Some(l) = d.get(..6) else {
                    return Frame::More;
                };
                let len = l
                    .iter()
                    .take(4)
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                // Without a SASL bind seen, only known GSS / NTLM token starts.
                let known = matches!(l.get(4..6), Some([0x05, 0x04] | [0x01, 0x00] | [0x60, _]));
                if (1..=MAX_BUFFER).contains(&len) && (self.sasl_layer || known) {
                    return Frame::Wrapped(len + 4);
                }
            }
            return Frame::Bad(LdapAnomaly::Malformed.as_str());
        }
        match parser::header(d) {
            Ok((_, hl, len)) => {
                if len > MAX_BUFFER {
                    Frame::Bad(LdapAnomaly::TooLarge.as_str())
                } else {
                    Frame::Message(hl + len)
                }
            }
            Err(BerError::Incomplete) => Frame::More,
            Err(BerError::Malformed(_)) => Frame::Bad(LdapAnomaly::Malformed.as_str()),
        }
    }

    /// Handles whole messages at the start of `d`; returns the bytes consumed, or None when
    /// the direction lost sync. `scan`: the TCP direction's resync state (bad framing skips
    /// to the next plausible message, at most [`MAX_RESYNC_SCAN`] bytes); `None` for a
    /// datagram, which ends at bad framing.
    fn consume(
        &mut self,
        d: &[u8],
        mut scan: Option<&mut Option<usize>>,
        ctx: &mut ParseCtx<'_>,
    ) -> Option<usize> {
        let mut off = 0;
        loop {
            let rest = d.get(off..).unwrap_or_default();
            if rest.is_empty() {
                return Some(off);
            }
            if let Some(skipped) = scan.as_deref_mut().and_then(Option::as_mut) {
                // Resynchronising: skip to the next plausible message start.
                match next_start(rest) {
                    Some((k, false)) => {
                        // Wait for the bytes that tell whether this is a message start.
                        *skipped = skipped.saturating_add(k);
                        return Some(off + k);
                    }
                    Some((k, true)) => {
                        if let Some(s) = scan.as_deref_mut() {
                            *s = None;
                        }
                        ctx.anomaly(LdapAnomaly::Resync.as_str());
                        off += k;
                    }
                    None => {
                        *skipped = skipped.saturating_add(rest.len());
                        if *skipped > MAX_RESYNC_SCAN {
                            ctx.anomaly(LdapAnomaly::Lost.as_str());
                            return None;
                        }
                        return Some(d.len());
                    }
                }
                continue;
            }
            match self.frame(rest) {
                Frame::More => return Some(off),
                Frame::Bad(a) => {
                    ctx.anomaly(a);
                    let s = scan.as_deref_mut()?;
                    // The bad byte is skipped; the scan starts after it.
                    *s = Some(0);
                    off += 1;
                }
                Frame::Wrapped(n) => {
                    if rest.len() < n {
                        return Some(off);
                    }
                    ctx.anomaly(LdapAnomaly::SaslWrapped.as_str());
                    if let Some(plain) = rest.get(4..n).and_then(unwrap_signed) {
                        self.consume_plain(&plain, ctx);
                    }
                    off += n;
                }
                Frame::Message(n) => {
                    let Some(m) = rest.get(..n) else {
                        return Some(off);
                    };
                    match parser::parse_message(m) {
                        Ok(msg) => self.on_message(msg, n, ctx),
                        Err(_) => ctx.anomaly(LdapAnomaly::Malformed.as_str()),
                    }
                    off += n;
                    if self.handover.is_some() {
                        // What follows the StartTLS answer is TLS.
                        return Some(off);
                    }
                }
            }
        }
    }

    /// Handles the LDAPMessages carried in clear inside a signed (not sealed) SASL token.
    fn consume_plain(&mut self, d: &[u8], ctx: &mut ParseCtx<'_>) {
        let mut rest = d;
        while !rest.is_empty() {
            let Ok((_, hl, len)) = parser::header(rest) else {
                ctx.anomaly(LdapAnomaly::Malformed.as_str());
                return;
            };
            let n = hl.saturating_add(len);
            let Some(m) = rest.get(..n) else {
                ctx.anomaly(LdapAnomaly::Truncated.as_str());
                return;
            };
            match parser::parse_message(m) {
                Ok(msg) => self.on_message(msg, n, ctx),
                Err(_) => ctx.anomaly(LdapAnomaly::Malformed.as_str()),
            }
            rest = rest.get(n..).unwrap_or_default();
        }
    }

    fn add_pending(&mut self, id: u32, p: Pending, ctx: &mut ParseCtx<'_>) {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&id) {
            ctx.anomaly(LdapAnomaly::TooManyPending.as_str());
            return;
        }
        if let Some(old) = self.pending.insert(id, p) {
            ctx.emit(AppBody::Ldap(old.body));
        }
    }

    fn new_body(&self, id: u32, operation: &'static str, size: usize) -> LdapBody {
        LdapBody {
            message_id: id,
            operation,
            protocol: self.protocol(),
            request_size: Some(size as u64),
            ..LdapBody::default()
        }
    }

    fn on_message(&mut self, msg: Message, size: usize, ctx: &mut ParseCtx<'_>) {
        let id = msg.id;
        match msg.op {
            Op::BindRequest {
                version,
                name,
                auth,
            } => {
                let mut b = self.new_body(id, "bind", size);
                b.bind_version = Some(version);
                b.bind_name = Some(name);
                let mut sasl = None;
                b.auth = Some(match auth {
                    Auth::Simple => "simple",
                    Auth::Sasl(m) => {
                        b.sasl_mechanism = Some(m.clone());
                        sasl = Some(m);
                        "sasl"
                    }
                    Auth::Sicily => "sicily",
                    Auth::Other(_) => "other",
                });
                self.add_pending(id, Pending { body: b, sasl }, ctx);
            }
            Op::SearchRequest(s) => {
                let mut b = self.new_body(id, "search", size);
                b.base_object = Some(s.base);
                b.scope = Some(scope_name(s.scope));
                b.deref_aliases = Some(deref_name(s.deref));
                b.size_limit = Some(s.size_limit);
                b.time_limit = Some(s.time_limit);
                b.types_only = Some(s.types_only);
                b.filter = Some(s.filter);
                b.attributes = Some(s.attributes);
                b.entries = Some(0);
                b.references = Some(0);
                self.add_pending(
                    id,
                    Pending {
                        body: b,
                        sasl: None,
                    },
                    ctx,
                );
            }
            Op::Request(op, dn) => {
                let mut b = self.new_body(id, op, size);
                b.dn = Some(dn);
                self.add_pending(
                    id,
                    Pending {
                        body: b,
                        sasl: None,
                    },
                    ctx,
                );
            }
            Op::Extended(oid) => {
                if oid == STARTTLS_OID && self.transport == Transport::Tcp {
                    self.starttls_id = Some(id);
                }
                let mut b = self.new_body(id, "extended", size);
                b.request_name = Some(oid);
                self.add_pending(
                    id,
                    Pending {
                        body: b,
                        sasl: None,
                    },
                    ctx,
                );
            }
            Op::Unbind => ctx.emit(AppBody::Ldap(self.new_body(id, "unbind", size))),
            Op::Abandon(a) => {
                let mut b = self.new_body(id, "abandon", size);
                b.abandon_id = Some(a);
                ctx.emit(AppBody::Ldap(b));
            }
            Op::SearchResultEntry(_) => {
                if let Some(p) = self.pending.get_mut(&id) {
                    p.body.entries = Some(p.body.entries.unwrap_or(0) + 1);
                }
            }
            Op::SearchResultReference(_) => {
                if let Some(p) = self.pending.get_mut(&id) {
                    p.body.references = Some(p.body.references.unwrap_or(0) + 1);
                }
            }
            Op::BindResponse(r) => {
                if r.code == 0 {
                    let wraps = self
                        .pending
                        .get(&id)
                        .and_then(|p| p.sasl.as_deref())
                        .is_some_and(may_wrap);
                    self.sasl_layer |= wraps;
                }
                self.answer(id, "bind", r, ctx);
            }
            Op::SearchResultDone(r) => self.answer(id, "search", r, ctx),
            Op::Response(op, r) => {
                if op == "extended" && self.starttls_id == Some(id) {
                    self.starttls_id = None;
                    if r.code == 0 {
                        self.handover = Some(Handover::new(
                            AppProto::Ldap,
                            Some(u64::from(id)),
                            Some(AppProto::Tls),
                        ));
                    }
                }
                // The final response of a multi-step SASL bind is a BindResponse; an extended
                // response may answer any extended request.
                self.answer(id, op, r, ctx);
            }
            Op::Intermediate => {}
        }
    }

    fn answer(&mut self, id: u32, op: &'static str, r: LdapResult, ctx: &mut ParseCtx<'_>) {
        let mut body = match self.pending.remove(&id) {
            Some(p) => p.body,
            None => LdapBody {
                message_id: id,
                operation: op,
                protocol: self.protocol(),
                ..LdapBody::default()
            },
        };
        body.result_code = Some(r.code);
        body.result = Some(result_name(r.code));
        body.matched_dn = Some(r.matched_dn).filter(|s| !s.is_empty());
        body.error_message = Some(r.message).filter(|s| !s.is_empty());
        ctx.emit(AppBody::Ldap(body));
    }
}

impl AppParser for LdapState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        if self.transport == Transport::Udp {
            match self.consume(data, None, ctx) {
                Some(n) if n < data.len() => ctx.anomaly(LdapAnomaly::Truncated.as_str()),
                _ => {}
            }
            return;
        }
        if let Some(h) = self.handover.as_mut() {
            h.push(dir, data);
            return;
        }
        let i = idx(dir);
        let Some(ds) = self.dirs.get_mut(i) else {
            return;
        };
        if ds.dead {
            return;
        }
        let mut buf = std::mem::take(&mut ds.buf);
        let mut scan = ds.scanning.take();
        let result = if buf.is_empty() {
            self.consume(data, Some(&mut scan), ctx).map(|n| {
                buf.extend_from_slice(data.get(n..).unwrap_or_default());
            })
        } else {
            buf.extend_from_slice(data);
            self.consume(&buf, Some(&mut scan), ctx).map(|n| {
                buf.drain(..n.min(buf.len()));
            })
        };
        let Some(ds) = self.dirs.get_mut(i) else {
            return;
        };
        ds.scanning = scan;
        if let Some(h) = self.handover.as_mut() {
            // Both directions' unparsed bytes belong to TLS.
            let other = 1 - i;
            h.push(dir, &buf);
            if let Some(o) = self.dirs.get_mut(other) {
                let held = std::mem::take(&mut o.buf);
                h.push(dir.other(), &held);
            }
            return;
        }
        match result {
            None => {
                ds.dead = true;
            }
            Some(()) if buf.len() > MAX_BUFFER => {
                ctx.anomaly(LdapAnomaly::BufferOverflow.as_str());
                ds.dead = true;
            }
            Some(()) => ds.buf = buf,
        }
    }

    fn on_gap(&mut self, dir: Direction, len: u32, ctx: &mut ParseCtx<'_>) {
        if let Some(h) = self.handover.as_mut() {
            if let Some(d) = h.dropped.get_mut(dir.idx()) {
                *d += u64::from(len);
            }
            return;
        }
        if let Some(ds) = self.dirs.get_mut(idx(dir)) {
            if !ds.buf.is_empty() {
                ctx.anomaly(LdapAnomaly::Gap.as_str());
            }
            ds.buf = Vec::new();
            ds.dead = false;
            ds.scanning = None;
        }
    }

    fn take_handover(&mut self) -> Option<Handover> {
        self.handover.take()
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        for (_, p) in std::mem::take(&mut self.pending) {
            ctx.emit(AppBody::Ldap(p.body));
        }
    }
}

/// The Ldap parser of a new flow over `transport`.
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(LdapState::new(transport))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Emitted;
    use crate::util::hex::decode;

    // zeek_ldap-escaping_test.pcapng: bind (simple, password), search, searchResDone.
    const BIND: &str =
        "302a02010160250201030414636e3d61646d696e2c64633d6e6f646f6d61696e800a6d796c64617070617373";
    const SEARCH: &str = "306a020102636504000a01020a0100020100020100010100a050a30c04046e616d65040454657374a41604046d61696c300e820c406578616d706c652e636f6da128a312040464657074040a6163636f756e74696e67a312040464657074040a6f7065726174696f6e733000";
    const BIND_OK: &str = "300c02010161070a010004000400";
    const DONE_32: &str = "300c02010265070a012004000400";
    const ENTRY: &str = "3011020102640c0408636e3d782c64633d3000";

    struct Run {
        p: LdapState,
        out: Vec<Emitted>,
        anomalies: Vec<&'static str>,
    }

    impl Run {
        fn new(t: Transport) -> Self {
            Run {
                p: LdapState::new(t),
                out: Vec::new(),
                anomalies: Vec::new(),
            }
        }
        fn feed(&mut self, dir: Direction, d: &[u8]) {
            let mut ctx = ParseCtx {
                ts_ns: 0,
                transport: self.p.transport,
                out: &mut self.out,
                anomalies: &mut self.anomalies,
            };
            self.p.on_data(dir, d, &mut ctx);
        }
        fn close(&mut self) {
            let mut ctx = ParseCtx {
                ts_ns: 0,
                transport: self.p.transport,
                out: &mut self.out,
                anomalies: &mut self.anomalies,
            };
            self.p.on_close(&mut ctx);
        }
        fn bodies(&self) -> Vec<&LdapBody> {
            self.out
                .iter()
                .map(|e| match &e.body {
                    AppBody::Ldap(b) => b,
                    _ => panic!("not ldap"),
                })
                .collect()
        }
    }

    #[test]
    fn bind_search_split_and_coalesced() {
        let mut r = Run::new(Transport::Tcp);
        let req = [decode(BIND).unwrap(), decode(SEARCH).unwrap()].concat();
        // Byte by byte.
        for b in &req {
            r.feed(Direction::ToServer, std::slice::from_ref(b));
        }
        // Responses in one segment.
        let resp = [
            decode(BIND_OK).unwrap(),
            decode(ENTRY).unwrap(),
            decode(ENTRY).unwrap(),
            decode(DONE_32).unwrap(),
        ]
        .concat();
        r.feed(Direction::ToClient, &resp);
        let b = r.bodies();
        assert_eq!(b.len(), 2, "{b:?} {:?}", r.anomalies);
        assert_eq!(b[0].operation, "bind");
        assert_eq!(b[0].auth, Some("simple"));
        assert_eq!(b[0].bind_name.as_deref(), Some("cn=admin,dc=nodomain"));
        assert_eq!(b[0].result.as_deref(), Some("success"));
        assert_eq!(b[1].operation, "search");
        assert_eq!(b[1].scope.as_deref(), Some("sub"));
        assert_eq!(b[1].entries, Some(2));
        assert_eq!(b[1].result_code, Some(32));
        assert_eq!(b[1].result.as_deref(), Some("noSuchObject"));
        assert_eq!(
            b[1].request_size,
            Some(decode(SEARCH).unwrap().len() as u64)
        );
        assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
        let json = serde_json::to_string(b[0]).unwrap();
        assert!(!json.contains("myldappass"), "{json}");
    }

    #[test]
    fn unanswered_reported_at_close_and_cldap() {
        let mut r = Run::new(Transport::Udp);
        r.feed(Direction::ToServer, &decode(SEARCH).unwrap());
        r.close();
        let b = r.bodies();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].protocol, "cldap");
        assert_eq!(b[0].result_code, None);
        let json = serde_json::to_string(b[0]).unwrap();
        assert!(json.contains("\"result_code\":null"), "{json}");
    }

    #[test]
    fn absurd_length_and_garbage() {
        let mut r = Run::new(Transport::Tcp);
        r.feed(
            Direction::ToServer,
            &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 2, 1],
        );
        assert_eq!(r.anomalies, vec!["ldap.too_large"]);
        // The parser resynchronises at the next plausible LDAPMessage.
        r.feed(Direction::ToServer, &decode(BIND).unwrap());
        r.close();
        assert_eq!(r.bodies().len(), 1);
        assert_eq!(r.anomalies, vec!["ldap.too_large", "ldap.resync"]);
        let mut r = Run::new(Transport::Tcp);
        r.feed(Direction::ToClient, b"GET / HTTP/1.1\r\n");
        assert_eq!(r.anomalies, vec!["ldap.malformed"]);
    }

    #[test]
    fn bad_frame_resyncs_at_the_next_message() {
        // Garbage (with SEQUENCE-looking bytes), then a bind and its answer, fed whole and
        // byte by byte.
        let mut req = b"\x30\x03\x02\x01\xffjunk\x30\x05\x04\x00".to_vec();
        req.extend(decode(BIND).unwrap());
        req.extend(decode(SEARCH).unwrap());
        for step in [1, 3, req.len()] {
            let mut r = Run::new(Transport::Tcp);
            for c in req.chunks(step) {
                r.feed(Direction::ToServer, c);
            }
            r.feed(Direction::ToClient, b"\x01\x02");
            r.feed(Direction::ToClient, &decode(BIND_OK).unwrap());
            r.close();
            let b = r.bodies();
            assert_eq!(b.len(), 2, "step {step}: {:?}", r.anomalies);
            assert_eq!(b[0].operation, "bind");
            assert_eq!(b[0].result.as_deref(), Some("success"), "step {step}");
            assert_eq!(b[1].operation, "search");
            let resyncs = r.anomalies.iter().filter(|a| **a == "ldap.resync").count();
            assert_eq!(resyncs, 2, "step {step}: {:?}", r.anomalies);
        }
        // No message start within the scan bound: the direction is given up, counted.
        let mut r = Run::new(Transport::Tcp);
        r.feed(Direction::ToServer, &[0x01]);
        for _ in 0..=MAX_RESYNC_SCAN / 4096 {
            r.feed(Direction::ToServer, &[0x55; 4096]);
        }
        r.feed(Direction::ToServer, &decode(BIND).unwrap());
        r.close();
        assert!(r.out.is_empty());
        assert_eq!(r.anomalies, vec!["ldap.malformed", "ldap.lost"]);
    }

    #[test]
    fn sasl_wrapped_after_gssapi_bind() {
        let mut r = Run::new(Transport::Tcp);
        // bindRequest id 3, sasl GSS-SPNEGO.
        let bind = decode("301802010360130201030400a30c040a4753532d53504e45474f").unwrap();
        r.feed(Direction::ToServer, &bind);
        r.feed(
            Direction::ToClient,
            &decode("300c02010361070a010004000400").unwrap(),
        );
        // Sealed CFX token: flags 0x06 (sealed), 40 bytes of ciphertext.
        let mut tok = vec![
            0x05, 0x04, 0x06, 0xff, 0, 0x10, 0, 0x1c, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        tok.extend([0xaa; 40]);
        let mut wrapped = (tok.len() as u32).to_be_bytes().to_vec();
        wrapped.extend(&tok);
        r.feed(Direction::ToServer, &wrapped);
        // Signed-only CFX token carrying the search in clear, rotated by RRC = EC = 12.
        let mut signed = vec![0x05, 0x04, 0x04, 0xff, 0, 12, 0, 12, 0, 0, 0, 0, 0, 0, 0, 2];
        signed.extend([0x55; 12]);
        signed.extend(decode(SEARCH).unwrap());
        let mut w2 = (signed.len() as u32).to_be_bytes().to_vec();
        w2.extend(&signed);
        r.feed(Direction::ToServer, &w2);
        r.close();
        assert_eq!(r.anomalies, vec!["ldap.sasl_wrapped", "ldap.sasl_wrapped"]);
        let b = r.bodies();
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].sasl_mechanism.as_deref(), Some("GSS-SPNEGO"));
        assert_eq!(b[1].operation, "search");
        assert_eq!(b[1].message_id, 2);
    }
}
