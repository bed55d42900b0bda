//! Per-flow state: TCP record-mark framing per direction and FIFO pairing of requests with
//! their replies.

use crate::proto::kerberos::KerberosAnomaly;
use std::collections::VecDeque;

use super::parser::{parse_message, KdcRequest, KrbMessage, ParseError};
use super::record::KerberosBody;
use crate::proto::AppBody;
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

/// Largest Kerberos message buffered over TCP; a longer record is skipped.
pub const MAX_RECORD: usize = 64 * 1024;
/// Most requests kept waiting for a reply; the oldest is reported unanswered beyond that.
pub const MAX_PENDING: usize = 64;

/// TCP framing state of one direction.
#[derive(Debug, Default)]
struct Framer {
    buf: Vec<u8>,
    /// Bytes of an oversized record still to discard.
    skip: u64,
}

/// The Kerberos parser of one flow.
#[derive(Debug)]
pub struct KerberosState {
    transport: Transport,
    to_server: Framer,
    to_client: Framer,
    pending: VecDeque<KdcRequest>,
}

impl KerberosState {
    /// A parser for a flow over `transport`.
    pub fn new(transport: Transport) -> Self {
        KerberosState {
            transport,
            to_server: Framer::default(),
            to_client: Framer::default(),
            pending: VecDeque::new(),
        }
    }

    fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    fn emit(&self, ctx: &mut ParseCtx<'_>, body: KerberosBody) {
        let _ = self;
        ctx.emit(AppBody::Kerberos(body));
    }

    /// Handles one whole message.
    fn on_message(&mut self, msg: &[u8], ctx: &mut ParseCtx<'_>) {
        let t = self.transport_name();
        match parse_message(msg) {
            Ok(KrbMessage::Request(r)) => {
                if self.pending.len() >= MAX_PENDING {
                    ctx.anomaly(KerberosAnomaly::TooManyPending.as_str());
                    if let Some(old) = self.pending.pop_front() {
                        self.emit(ctx, KerberosBody::build(Some(&old), None, None, t));
                    }
                }
                self.pending.push_back(r);
            }
            Ok(KrbMessage::Reply(p)) => {
                let req = self.pending.pop_front();
                self.emit(ctx, KerberosBody::build(req.as_ref(), Some(&p), None, t));
            }
            Ok(KrbMessage::Error(e)) => {
                let req = self.pending.pop_front();
                self.emit(ctx, KerberosBody::build(req.as_ref(), None, Some(&e), t));
            }
            Err(ParseError::UnknownTag(_)) => ctx.anomaly(KerberosAnomaly::UnknownMessage.as_str()),
            Err(ParseError::Empty) => ctx.anomaly(KerberosAnomaly::EmptyMessage.as_str()),
            Err(ParseError::Malformed) => ctx.anomaly(KerberosAnomaly::Malformed.as_str()),
        }
    }

    fn framer(&mut self, dir: Direction) -> &mut Framer {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// TCP: appends to the direction's buffer and handles every complete record.
    fn on_stream(&mut self, dir: Direction, mut data: &[u8], ctx: &mut ParseCtx<'_>) {
        let f = self.framer(dir);
        if f.skip > 0 {
            let n = usize::try_from(f.skip)
                .unwrap_or(usize::MAX)
                .min(data.len());
            f.skip -= n as u64;
            data = data.get(n..).unwrap_or_default();
        }
        let mut buf = std::mem::take(&mut f.buf);
        buf.extend_from_slice(data);
        let mut off = 0usize;
        let mut skip = 0u64;
        while let Some(mark) = buf.get(off..off + 4) {
            let raw = u32::from_be_bytes([mark[0], mark[1], mark[2], mark[3]]);
            if raw & 0x8000_0000 != 0 {
                ctx.anomaly(KerberosAnomaly::RecordMarkReservedBit.as_str());
            }
            let len = (raw & 0x7fff_ffff) as usize;
            if len > MAX_RECORD {
                ctx.anomaly(KerberosAnomaly::RecordTooLarge.as_str());
                let avail = buf.len() - off - 4;
                skip = (len - avail.min(len)) as u64;
                off = buf.len();
                break;
            }
            let Some(msg) = buf.get(off + 4..off + 4 + len) else {
                break;
            };
            self.on_message(msg, ctx);
            off += 4 + len;
        }
        buf.drain(..off.min(buf.len()));
        let f = self.framer(dir);
        f.skip += skip;
        f.buf = buf;
    }
}

impl AppParser for KerberosState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        match self.transport {
            Transport::Udp => self.on_message(data, ctx),
            Transport::Tcp => self.on_stream(dir, data, ctx),
        }
    }

    fn on_gap(&mut self, dir: Direction, _len: u32, ctx: &mut ParseCtx<'_>) {
        ctx.anomaly(KerberosAnomaly::Gap.as_str());
        let f = self.framer(dir);
        f.buf.clear();
        f.skip = 0;
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        let t = self.transport_name();
        while let Some(r) = self.pending.pop_front() {
            self.emit(ctx, KerberosBody::build(Some(&r), None, None, t));
        }
    }
}

/// The Kerberos parser of a new flow over `transport`.
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(KerberosState::new(transport))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::kerberos::parser::tests::ERR_BADOPTION;
    use crate::proto::Emitted;
    use crate::util::hex::decode;

    fn run(t: Transport, chunks: &[(Direction, Vec<u8>)]) -> (Vec<Emitted>, Vec<&'static str>) {
        let mut out = Vec::new();
        let mut an = Vec::new();
        let mut p = KerberosState::new(t);
        {
            let mut ctx = ParseCtx {
                ts_ns: 1,
                transport: t,
                out: &mut out,
                anomalies: &mut an,
            };
            for (d, c) in chunks {
                p.on_data(*d, c, &mut ctx);
            }
            p.on_close(&mut ctx);
        }
        (out, an)
    }

    fn code(e: &Emitted) -> Option<i32> {
        match &e.body {
            AppBody::Kerberos(k) => k.error_code,
            _ => None,
        }
    }

    #[test]
    fn tcp_split_and_several_per_segment() {
        let m = decode(ERR_BADOPTION).unwrap();
        let mut two = m.clone();
        two.extend_from_slice(&m);
        let mut chunks: Vec<_> = two
            .chunks(7)
            .map(|c| (Direction::ToClient, c.to_vec()))
            .collect();
        chunks.push((Direction::ToClient, two.clone()));
        let (out, an) = run(Transport::Tcp, &chunks);
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|e| code(e) == Some(13)));
        assert!(an.is_empty());
    }

    #[test]
    fn udp_one_message_per_datagram() {
        let m = decode(ERR_BADOPTION).unwrap();
        let (out, an) = run(Transport::Udp, &[(Direction::ToClient, m[4..].to_vec())]);
        assert_eq!(out.len(), 1);
        assert!(an.is_empty());
        let (out, an) = run(Transport::Udp, &[(Direction::ToClient, m[4..40].to_vec())]);
        assert!(out.is_empty());
        assert_eq!(an, vec!["kerberos.malformed"]);
    }

    #[test]
    fn absurd_record_mark_is_skipped() {
        let m = decode(ERR_BADOPTION).unwrap();
        let mut data = vec![0x00, 0x10, 0x00, 0x00];
        data.extend_from_slice(&[0u8; 100]);
        let (out, an) = run(
            Transport::Tcp,
            &[
                (Direction::ToClient, data),
                (Direction::ToClient, m.clone()),
            ],
        );
        // The oversized record swallows what follows, without buffering it.
        assert!(out.is_empty());
        assert_eq!(an, vec!["kerberos.record_too_large"]);
        let garbage = vec![0xffu8; 9];
        let (_, an) = run(Transport::Tcp, &[(Direction::ToServer, garbage)]);
        assert!(an.contains(&"kerberos.record_too_large"));
    }

    #[test]
    fn kdc_options_names() {
        use crate::proto::kerberos::record::kdc_option_names;
        assert_eq!(
            kdc_option_names(0x4081_0010),
            vec!["forwardable", "renewable", "canonicalize", "renewable_ok"]
        );
    }
}
