//! Per-flow state: TCP framing (2-byte length prefix, per direction) and pairing of queries
//! with responses by id and question.

use crate::proto::dns::DnsAnomaly;
use std::collections::VecDeque;

use super::parser::{parse_message, DnsError};
use super::record::{build, QueryInfo, ResponseInfo};
use crate::proto::AppBody;
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

/// Most bytes buffered per direction over TCP: one whole message and its length prefix.
pub const MAX_BUFFER: usize = 64 * 1024 + 2;
/// Most queries waiting for a response; beyond it the oldest is reported unanswered.
pub const MAX_PENDING: usize = 512;
/// A query older than this (by the capture time of later data) is reported unanswered.
pub const QUERY_TIMEOUT_NS: u64 = 30_000_000_000;

/// The DNS parser of one flow.
#[derive(Debug)]
pub struct DnsState {
    transport: Transport,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    pending: VecDeque<QueryInfo>,
}

impl DnsState {
    /// A parser for a flow over `transport`.
    pub fn new(transport: Transport) -> Self {
        DnsState {
            transport,
            to_server: Vec::new(),
            to_client: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    fn report(&self, q: Option<&QueryInfo>, r: Option<&ResponseInfo>, ctx: &mut ParseCtx<'_>) {
        ctx.emit(AppBody::Dns(build(q, r, self.transport_name())));
    }

    /// Reports the queries that waited longer than [`QUERY_TIMEOUT_NS`].
    fn expire(&mut self, ctx: &mut ParseCtx<'_>) {
        while let Some(q) = self.pending.front() {
            if q.ts_ns.saturating_add(QUERY_TIMEOUT_NS) >= ctx.ts_ns {
                break;
            }
            if let Some(q) = self.pending.pop_front() {
                self.report(Some(&q), None, ctx);
            }
        }
    }

    /// Handles one whole message.
    fn on_message(&mut self, bytes: &[u8], ctx: &mut ParseCtx<'_>) {
        let msg = match parse_message(bytes) {
            Ok(m) => m,
            Err(e) => {
                ctx.anomaly(error_anomaly(e));
                return;
            }
        };
        if let Some(e) = msg.rr_error {
            ctx.anomaly(match e {
                DnsError::Truncated(_) => DnsAnomaly::TruncatedRr.as_str(),
                _ => DnsAnomaly::MalformedRr.as_str(),
            });
        }
        if !msg.header.is_response() {
            if self.pending.len() >= MAX_PENDING {
                ctx.anomaly(DnsAnomaly::TooManyPending.as_str());
                if let Some(old) = self.pending.pop_front() {
                    self.report(Some(&old), None, ctx);
                }
            }
            self.pending
                .push_back(QueryInfo::from_message(&msg, ctx.ts_ns));
            return;
        }
        let mut bad = 0usize;
        let r = ResponseInfo::from_message(&msg, ctx.ts_ns, &mut bad);
        if bad > 0 {
            ctx.anomaly(DnsAnomaly::BadRdata.as_str());
        }
        match self.pending.iter().position(|q| r.answers_query(q)) {
            Some(i) => {
                let q = self.pending.remove(i);
                self.report(q.as_ref(), Some(&r), ctx);
            }
            None => {
                ctx.anomaly(DnsAnomaly::ResponseWithoutQuery.as_str());
                self.report(None, Some(&r), ctx);
            }
        }
    }

    fn buffer(&mut self, dir: Direction) -> &mut Vec<u8> {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// TCP: handles every complete length-prefixed message; keeps at most one partial one.
    fn on_stream(&mut self, dir: Direction, mut data: &[u8], ctx: &mut ParseCtx<'_>) {
        let mut buf = std::mem::take(self.buffer(dir));
        // First complete the message left over from earlier segments.
        if !buf.is_empty() {
            if buf.len() < 2 {
                let n = (2 - buf.len()).min(data.len());
                buf.extend_from_slice(data.get(..n).unwrap_or_default());
                data = data.get(n..).unwrap_or_default();
            }
            let Some(total) = frame_len(&buf) else {
                *self.buffer(dir) = buf;
                return;
            };
            let n = total.saturating_sub(buf.len()).min(data.len());
            buf.extend_from_slice(data.get(..n).unwrap_or_default());
            data = data.get(n..).unwrap_or_default();
            if buf.len() < total {
                *self.buffer(dir) = buf;
                return;
            }
            self.on_message(buf.get(2..).unwrap_or_default(), ctx);
            buf.clear();
        }
        // Then the messages of this segment, straight from its bytes.
        while let Some(total) = frame_len(data) {
            let Some(msg) = data.get(2..total) else {
                break;
            };
            self.on_message(msg, ctx);
            data = data.get(total..).unwrap_or_default();
        }
        // At most one partial message (≤ MAX_BUFFER bytes) remains.
        buf.extend_from_slice(data.get(..MAX_BUFFER.min(data.len())).unwrap_or_default());
        *self.buffer(dir) = buf;
    }
}

/// Length of the frame (prefix included) that starts `b`, when the prefix is there.
fn frame_len(b: &[u8]) -> Option<usize> {
    match b {
        [hi, lo, ..] => Some(2 + usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

fn error_anomaly(e: DnsError) -> &'static str {
    match e {
        DnsError::ShortHeader => DnsAnomaly::ShortMessage.as_str(),
        DnsError::Truncated(_) => DnsAnomaly::Truncated.as_str(),
        DnsError::BadPointer { .. } => DnsAnomaly::BadPointer.as_str(),
        DnsError::TooManyHops => DnsAnomaly::PointerHops.as_str(),
        DnsError::BadLabelType(_) => DnsAnomaly::BadLabel.as_str(),
        DnsError::NameTooLong => DnsAnomaly::NameTooLong.as_str(),
        DnsError::BadRdata => DnsAnomaly::BadRdata.as_str(),
    }
}

impl AppParser for DnsState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        self.expire(ctx);
        match self.transport {
            Transport::Udp => self.on_message(data, ctx),
            Transport::Tcp => self.on_stream(dir, data, ctx),
        }
    }

    fn on_gap(&mut self, dir: Direction, _len: u32, ctx: &mut ParseCtx<'_>) {
        ctx.anomaly(DnsAnomaly::Gap.as_str());
        self.buffer(dir).clear();
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        while let Some(q) = self.pending.pop_front() {
            self.report(Some(&q), None, ctx);
        }
    }
}

/// The DNS parser of a new flow over `transport`.
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(DnsState::new(transport))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::DnsBody;
    use crate::proto::Emitted;
    use crate::util::hex::decode;

    /// sv_dns-udp-google-a-aaaa-mx.pcap frames 3 and 4: AAAA google.com.
    const Q_AAAA: &str =
        "8d700120000100000000000106676f6f676c6503636f6d00001c00010000291000000000000000";
    const R_AAAA: &str = "8d708180000100010000000106676f6f676c6503636f6d00001c0001c00c001c00010000012b00102607f8b0400f0801000000000000200e0000290200000000000000";
    /// arkime_dns-wiresharkrepo.pcap frame 4: MX google.com with additional A records.
    const R_MX: &str = "f76f8180000100060000000606676f6f676c6503636f6d00000f0001c00c000f000100000228000a002805736d747034c00cc00c000f000100000228000a000a05736d747035c00cc00c000f000100000228000a000a05736d747036c00cc00c000f000100000228000a000a05736d747031c00cc00c000f000100000228000a000a05736d747032c00cc00c000f000100000228000a002805736d747033c00cc02a00010001000002580004d8ef251ac0400001000100000258000440e9a719c0560001000100000258000442660919c06c00010001000002580004d8ef3919c08200010001000002580004d8ef2519c09800010001000002580004d8ef391a";
    /// zeek_dns-edns-ecs.pcap frame 1: SOA weberdns.de, authoritative.
    const R_SOA: &str = "bc8d84000001000100020004087765626572646e730264650000060001c00c0006000100000e100026036e7331c00c097765626d6173746572c00c782a8259000038400000070800093a80000000b4c00c0002000100000e100002c029c00c0002000100000e100006036e7332c00cc0290001000100000e100004509a6ce6c029001c000100000e1000102003005160120110000000000a070053c0690001000100000e100004d53d1db60000291000000000000000";
    /// zeek_dns-edns-ecs.pcap frame 2: query with a client subnet option.
    const Q_ECS: &str = "a64100000001000000000001036e7331087765626572646e730264650000010001000029100000008000000b0008000700011800d53d1d";
    /// sv_dns-tcp-multirequest-buffer.pcap frame 8: TCP response (with its length prefix).
    const TCP_R0: &str = "0050000081830001000000010000013006676f6f676c6503636f6d0000010001c00e000600010000003c0026036e7332c00e09646e732d61646d696ec00e082d36ed0000038400000384000007080000003c";

    fn run(
        t: Transport,
        chunks: &[(u64, Direction, Vec<u8>)],
        close: bool,
    ) -> (Vec<DnsBody>, Vec<&'static str>) {
        let mut out: Vec<Emitted> = Vec::new();
        let mut an = Vec::new();
        let mut p = DnsState::new(t);
        for (ts, d, c) in chunks {
            let mut ctx = ParseCtx {
                ts_ns: *ts,
                transport: t,
                out: &mut out,
                anomalies: &mut an,
            };
            p.on_data(*d, c, &mut ctx);
        }
        if close {
            let mut ctx = ParseCtx {
                ts_ns: 0,
                transport: t,
                out: &mut out,
                anomalies: &mut an,
            };
            p.on_close(&mut ctx);
        }
        let bodies = out
            .into_iter()
            .filter_map(|e| match e.body {
                AppBody::Dns(b) => Some(b),
                _ => None,
            })
            .collect();
        (bodies, an)
    }

    use Direction::{ToClient, ToServer};

    #[test]
    fn udp_query_and_response() {
        let (out, an) = run(
            Transport::Udp,
            &[
                (1_000_000, ToServer, decode(Q_AAAA).unwrap()),
                (3_500_000, ToClient, decode(R_AAAA).unwrap()),
            ],
            true,
        );
        assert!(an.is_empty(), "{an:?}");
        assert_eq!(out.len(), 1);
        let b = &out[0];
        assert_eq!(b.id, 0x8d70);
        assert_eq!(b.query.as_deref(), Some("google.com"));
        assert_eq!(b.qtype.as_deref(), Some("AAAA"));
        assert_eq!(b.qtype_code, Some(28));
        assert_eq!(b.rcode.as_deref(), Some("NOERROR"));
        assert_eq!(b.flags, "0x8180");
        assert_eq!(b.flag_names, vec!["qr", "rd", "ra"]);
        assert_eq!(b.answers.len(), 1);
        assert_eq!(b.answers[0].data, "2607:f8b0:400f:801::200e");
        assert_eq!(b.answers[0].ttl, 299);
        assert_eq!(b.rtt_ms, Some(2.5));
        assert_eq!(b.transport, "udp");
        assert_eq!(b.edns.as_ref().map(|e| e.udp_payload_size), Some(4096));
    }

    #[test]
    fn mx_soa_and_ecs() {
        let (out, _) = run(
            Transport::Udp,
            &[
                (1, ToClient, decode(R_MX).unwrap()),
                (2, ToClient, decode(R_SOA).unwrap()),
                (3, ToServer, decode(Q_ECS).unwrap()),
            ],
            true,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].answers[0].data, "40 smtp4.google.com");
        assert_eq!(out[0].additional_count, Some(6));
        assert_eq!(out[0].rtt_ms, None);
        assert_eq!(
            out[1].answers[0].data,
            "ns1.weberdns.de webmaster.weberdns.de 2016051801 14400 1800 604800 180"
        );
        assert_eq!(out[1].flag_names, vec!["qr", "aa"]);
        // the unanswered query, reported at close
        assert_eq!(out[2].rcode, None);
        let e = out[2].edns.as_ref().unwrap();
        assert_eq!(e.client_subnet.as_deref(), Some("213.61.29.0/24"));
        assert!(e.do_bit);
    }

    #[test]
    fn unanswered_query_times_out() {
        let q = decode(Q_AAAA).unwrap();
        let (out, _) = run(
            Transport::Udp,
            &[
                (0, ToServer, q.clone()),
                (QUERY_TIMEOUT_NS + 1, ToServer, q),
            ],
            false,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rcode, None);
    }

    #[test]
    fn tcp_split_and_pipelined() {
        let m = decode(TCP_R0).unwrap();
        let mut stream = Vec::new();
        for _ in 0..3 {
            stream.extend_from_slice(&m);
        }
        // one byte at a time, then all at once, then split inside the prefix
        let mut chunks: Vec<_> = stream.iter().map(|b| (1, ToClient, vec![*b])).collect();
        chunks.push((1, ToClient, stream.clone()));
        chunks.push((1, ToClient, stream[..1].to_vec()));
        chunks.push((1, ToClient, stream[1..100].to_vec()));
        chunks.push((1, ToClient, stream[100..].to_vec()));
        let (out, an) = run(Transport::Tcp, &chunks, true);
        assert_eq!(out.len(), 9);
        assert!(out.iter().all(|b| b.rcode.as_deref() == Some("NXDOMAIN")));
        assert!(out
            .iter()
            .all(|b| b.query.as_deref() == Some("0.google.com")));
        assert!(an.iter().all(|a| *a == "dns.response_without_query"));
    }

    #[test]
    fn hostile_messages_do_not_panic() {
        // pointer loop, forward pointer, bad label type, truncated RR, empty
        let chunks = vec![
            (
                1,
                ToClient,
                decode("000181800001000000000000c00c00010001").unwrap(),
            ),
            (
                1,
                ToClient,
                decode("000181800001000000000000c00e0000016100").unwrap(),
            ),
            (1, ToClient, decode("0001818000010000000000004061").unwrap()),
            (
                1,
                ToClient,
                decode("00018180000100010000000001610000010001c00c000100010000003c000401").unwrap(),
            ),
            (1, ToClient, Vec::new()),
        ];
        let (out, an) = run(Transport::Udp, &chunks, true);
        assert_eq!(out.len(), 1);
        assert!(out[0].answers.is_empty());
        assert!(an.contains(&"dns.bad_pointer"));
        assert!(an.contains(&"dns.bad_label"));
        assert!(an.contains(&"dns.truncated_rr"));
        assert!(an.contains(&"dns.short_message"));
    }

    #[test]
    fn tcp_buffer_is_capped() {
        // a 65535-byte frame announced, 100 KiB sent: at most one message buffered
        let mut s = vec![0xff, 0xff];
        s.extend(std::iter::repeat_n(0u8, 100 * 1024));
        let mut p = DnsState::new(Transport::Tcp);
        let (mut out, mut an) = (Vec::new(), Vec::new());
        let mut ctx = ParseCtx {
            ts_ns: 0,
            transport: Transport::Tcp,
            out: &mut out,
            anomalies: &mut an,
        };
        p.on_data(ToServer, &s, &mut ctx);
        assert!(p.to_server.len() <= MAX_BUFFER);
    }
}
