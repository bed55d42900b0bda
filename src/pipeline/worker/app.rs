//! The application layer of one flow: what a worker keeps per flow while it inspects the
//! payload, and the detection policy that picks the protocol's parser and then feeds it.
//!
//! TCP: detection runs on the first [`PROBE_BYTES`] of each direction of the reassembled
//! stream; a high-confidence match starts the parser with every byte kept so far. Bytes of a
//! direction past its first [`PROBE_BYTES`], while the other one has not decided yet, are not
//! kept: the parser is told of them as a gap, counted as `detect.skipped`. UDP: each
//! datagram is probed until a parser is found or four packets went by. On the port of a binary
//! protocol, payload its probe rules out still goes to its parser, which reports what is wrong
//! with it (hostile or broken traffic is counted, not silently left alone).
//!
//! Hand-over: after every call the parser is asked whether the rest of its stream is another
//! protocol ([`AppParser::take_handover`]: StartTLS answered, CONNECT answered 2xx). If so it
//! is closed, the protocol it names starts (or detection runs again on what follows, with
//! fresh probe buffers), it gets the bytes the parent had already received past the switch,
//! and every record from then on carries the [`Link`] to the parent (`parent` in the record).
//! At most [`MAX_HANDOVERS`] per flow (`detect.handover_limit`).

use crate::flow::tcp::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
use crate::proto::detect::DetectAnomaly;
use crate::proto::handover::MAX_HANDOVERS;
use crate::proto::{self, AppParser, Confidence, Emitted, Handover, Link, ParseCtx};
use crate::vocab::{AppProto, Direction, Transport};

/// Most bytes of a direction's first payload kept for protocol detection.
const PROBE_BYTES: usize = 512;

/// Application-layer state of one flow.
#[derive(Debug, Default)]
pub struct FlowApp {
    /// Reassembly and detection state while the TCP stream is being inspected.
    pub(super) tcp: Option<Box<TcpApp>>,
    pub(super) insp: Inspection,
}

/// How far the inspection of a flow's payload got.
#[derive(Debug, Default)]
pub(super) struct Inspection {
    /// The protocol's parser, once detection found one.
    pub(super) parser: Option<Box<dyn AppParser>>,
    /// Inspection of this flow's payload is over (protocol found, or given up).
    pub(super) done: bool,
    /// Low-confidence guess from content.
    pub(super) guess: Option<AppProto>,
    /// Payload bytes seen (any direction).
    pub(super) payload_seen: bool,
    pub(super) gap_bytes: u64,
    /// The session the current parser's stream was handed over from (none: the flow's own).
    pub(super) link: Option<Link>,
    /// Hand-overs followed so far.
    pub(super) handovers: u8,
}

impl Inspection {
    /// Marks the records emitted by the current parser with the session they descend from.
    fn tag(&self, out: &mut [Emitted]) {
        if let Some(l) = self.link {
            for e in out {
                e.parent.get_or_insert(l);
            }
        }
    }
}

/// Both directions of a TCP flow: their reassembly and their detection buffers.
#[derive(Debug, Default)]
pub(super) struct TcpApp {
    pub(super) streams: [DirStream; 2],
    pub(super) probe: [ProbeBuf; 2],
}

/// One direction's bytes kept for detection.
#[derive(Debug, Default)]
pub(super) struct ProbeBuf {
    /// Its first bytes, at most [`PROBE_BYTES`].
    bytes: Vec<u8>,
    /// Bytes that came after them and were not kept.
    skipped: u64,
}

impl ProbeBuf {
    /// Detection will see no more of this direction.
    fn said_enough(&self) -> bool {
        self.bytes.len() >= PROBE_BYTES || self.skipped > 0
    }

    /// Hands what was kept to `parser`, and the bytes not kept as a gap (counted).
    fn hand_on(&self, dir: Direction, parser: &mut dyn AppParser, ctx: &mut ParseCtx<'_>) {
        if !self.bytes.is_empty() {
            parser.on_data(dir, &self.bytes, ctx);
        }
        if self.skipped > 0 {
            ctx.anomaly(DetectAnomaly::Skipped.as_str());
        }
        let mut left = self.skipped;
        while left > 0 {
            let n = u32::try_from(left).unwrap_or(u32::MAX);
            parser.on_gap(dir, n, ctx);
            left -= u64::from(n);
        }
    }
}

impl FlowApp {
    /// Ends the inspection: the streams hand on what they still hold, then the parser says what
    /// it still had (both into `ctx`).
    pub(super) fn close(
        &mut self,
        reasm: &ReassemblyConfig,
        mem: &mut MemBudget,
        rstats: &mut ReassemblyStats,
        ctx: &mut ParseCtx<'_>,
    ) {
        let first = ctx.out.len();
        if let Some(mut tcp) = self.tcp.take() {
            let gap = &mut self.insp.gap_bytes;
            let parser = &mut self.insp.parser;
            for (i, s) in tcp.streams.iter_mut().enumerate() {
                let d = if i == 0 {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                s.close(reasm, mem, rstats, &mut |ev| match ev {
                    StreamEvent::Gap(n) => {
                        *gap += u64::from(n);
                        if let Some(p) = parser.as_mut() {
                            p.on_gap(d, n, ctx);
                        }
                    }
                    StreamEvent::Data(b) => {
                        if let Some(p) = parser.as_mut() {
                            p.on_data(d, b, ctx);
                        }
                    }
                    _ => {}
                });
            }
        }
        if let Some(mut p) = self.insp.parser.take() {
            p.on_close(ctx);
        }
        self.insp.tag(ctx.out.get_mut(first..).unwrap_or_default());
    }

    /// Frees the stream buffers once there is nothing more to inspect.
    pub(super) fn release_if_done(
        &mut self,
        reasm: &ReassemblyConfig,
        mem: &mut MemBudget,
        rstats: &mut ReassemblyStats,
    ) {
        if !self.insp.done {
            return;
        }
        if let Some(mut tcp) = self.tcp.take() {
            for s in tcp.streams.iter_mut() {
                s.close(reasm, mem, rstats, &mut |_| {});
            }
        }
    }
}

/// The application-layer fields of a flow, borrowed while its bytes are handled.
pub(super) struct AppState<'a> {
    proto: &'a mut AppProto,
    insp: &'a mut Inspection,
    /// Application parsers are on (else detection only).
    parsers: bool,
}

impl<'a> AppState<'a> {
    pub(super) fn new(proto: &'a mut AppProto, insp: &'a mut Inspection, parsers: bool) -> Self {
        AppState {
            proto,
            insp,
            parsers,
        }
    }

    /// The protocol is known: start its parser, or stop inspecting when there is none.
    fn found(&mut self, p: AppProto, transport: Transport) {
        // After a hand-over the flow keeps the protocol of its own session.
        if self.insp.link.is_none() {
            *self.proto = p;
        }
        let parser = if self.parsers {
            proto::parser_for(p, transport)
        } else {
            None
        };
        match parser {
            Some(parser) => self.insp.parser = Some(parser),
            None => self.insp.done = true,
        }
    }

    /// One UDP datagram's payload: to the parser, or through detection. `port_proto`: the
    /// protocol the flow's ports name; `pkts`: packets of the flow so far.
    pub(super) fn udp_datagram(
        &mut self,
        dir: Direction,
        payload: &[u8],
        port_proto: AppProto,
        pkts: u64,
        ctx: &mut ParseCtx<'_>,
    ) {
        self.insp.payload_seen = true;
        if let Some(p) = self.insp.parser.as_mut() {
            p.on_data(dir, payload, ctx);
            return;
        }
        match proto::probe(Transport::Udp, dir, payload) {
            Some((p, Confidence::High)) => {
                self.found(p, Transport::Udp);
                if let Some(parser) = self.insp.parser.as_mut() {
                    parser.on_data(dir, payload, ctx);
                }
            }
            found => {
                if let Some((p, _)) = found {
                    self.insp.guess.get_or_insert(p);
                }
                // On the protocol's own port, a message the probe finds odd still goes to the
                // parser, which reports what is wrong with it.
                if matches!(
                    port_proto,
                    AppProto::Dns | AppProto::Kerberos | AppProto::Ldap
                ) {
                    self.found(port_proto, Transport::Udp);
                    if let Some(parser) = self.insp.parser.as_mut() {
                        parser.on_data(dir, payload, ctx);
                    }
                }
            }
        }
        if self.insp.parser.is_none() && pkts >= 4 {
            self.insp.done = true;
        }
    }
}

/// Receives a flow's ordered stream events: protocol detection on the first bytes, then the
/// protocol's parser.
pub(super) struct AppSink<'a, 'c> {
    pub(super) state: AppState<'a>,
    pub(super) probe: &'a mut [ProbeBuf; 2],
    pub(super) ctx: ParseCtx<'c>,
    /// The protocol the flow's ports name.
    pub(super) port_proto: AppProto,
}

impl AppSink<'_, '_> {
    /// The protocol is known: its parser gets every byte seen so far (the other side first: this
    /// side's bytes completed the detection), then `rest`, this side's bytes past the probe.
    fn start(&mut self, p: AppProto, dir: Direction, rest: &[u8]) {
        self.state.found(p, Transport::Tcp);
        if let Some(parser) = self.state.insp.parser.as_mut() {
            let o = dir.other();
            self.probe[o.idx()].hand_on(o, parser.as_mut(), &mut self.ctx);
            self.probe[dir.idx()].hand_on(dir, parser.as_mut(), &mut self.ctx);
            if !rest.is_empty() {
                parser.on_data(dir, rest, &mut self.ctx);
            }
        }
        self.probe[0] = ProbeBuf::default();
        self.probe[1] = ProbeBuf::default();
    }

    /// After a call to the parser (whose records start at `first`): marks them with the
    /// parent session, and follows a hand-over.
    fn after_parser(&mut self, first: usize) {
        self.state
            .insp
            .tag(self.ctx.out.get_mut(first..).unwrap_or_default());
        let h = self
            .state
            .insp
            .parser
            .as_mut()
            .and_then(|p| p.take_handover());
        if let Some(h) = h {
            self.hand_over(h);
        }
    }

    /// The parser handed the rest of the stream on: it is closed, the next protocol starts
    /// (named, or detected afresh) and gets what the parent had received past the switch.
    fn hand_over(&mut self, h: Handover) {
        let insp = &mut self.state.insp;
        if let Some(mut old) = insp.parser.take() {
            let first = self.ctx.out.len();
            old.on_close(&mut self.ctx);
            insp.tag(self.ctx.out.get_mut(first..).unwrap_or_default());
        }
        if insp.handovers >= MAX_HANDOVERS {
            self.ctx.anomaly(DetectAnomaly::HandoverLimit.as_str());
            insp.done = true;
            return;
        }
        insp.handovers += 1;
        insp.link = Some(Link {
            app_proto: h.parent,
            tx: h.tx,
            depth: insp.handovers,
        });
        insp.guess = None;
        self.probe[0] = ProbeBuf::default();
        self.probe[1] = ProbeBuf::default();
        if let Some(p) = h.next {
            self.state.found(p, Transport::Tcp);
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            let i = dir.idx();
            if let Some(early) = h.early.get(i).filter(|b| !b.is_empty()) {
                self.event(dir, StreamEvent::Data(early));
            }
            let mut left = h.dropped.get(i).copied().unwrap_or(0);
            while left > 0 {
                let n = u32::try_from(left).unwrap_or(u32::MAX);
                self.event(dir, StreamEvent::Gap(n));
                left -= u64::from(n);
            }
        }
    }

    pub(super) fn event(&mut self, dir: Direction, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data(bytes) if !bytes.is_empty() => {
                self.state.insp.payload_seen = true;
                if let Some(p) = self.state.insp.parser.as_mut() {
                    let first = self.ctx.out.len();
                    p.on_data(dir, bytes, &mut self.ctx);
                    self.after_parser(first);
                    return;
                }
                if self.state.insp.done {
                    return;
                }
                let i = dir.idx();
                // Nothing is kept after bytes that were not: the kept bytes stay one piece.
                let room = match self.probe[i].skipped {
                    0 => PROBE_BYTES.saturating_sub(self.probe[i].bytes.len()),
                    _ => 0,
                };
                let (kept, rest) = bytes.split_at(bytes.len().min(room));
                self.probe[i].bytes.extend_from_slice(kept);
                let first = self.ctx.out.len();
                match proto::probe(Transport::Tcp, dir, &self.probe[i].bytes) {
                    Some((p, Confidence::High)) => self.start(p, dir, rest),
                    found => {
                        if let Some((p, _)) = found {
                            self.state.insp.guess.get_or_insert(p);
                        }
                        // On the port of a binary protocol, bytes its probe rules out still go
                        // to its parser, which reports what is wrong with them (as for UDP):
                        // hostile or broken streams are counted, not silently left alone.
                        // (Not after a hand-over: the port names the outer protocol.)
                        if self.state.insp.link.is_none()
                            && proto::tcp_rules_out(self.port_proto, &self.probe[i].bytes)
                        {
                            self.start(self.port_proto, dir, rest);
                        }
                    }
                }
                if self.state.insp.parser.is_some() {
                    self.after_parser(first);
                    return;
                }
                if self.state.insp.parser.is_none() {
                    self.probe[i].skipped += rest.len() as u64;
                }
                // Give up when both sides said enough without a match (a capture that starts
                // mid-stream may only make sense from the other side).
                if self.state.insp.parser.is_none() && self.probe.iter().all(ProbeBuf::said_enough)
                {
                    self.state.insp.done = true;
                }
            }
            StreamEvent::Gap(n) => {
                self.state.insp.gap_bytes += u64::from(n);
                if let Some(p) = self.state.insp.parser.as_mut() {
                    let first = self.ctx.out.len();
                    p.on_gap(dir, n, &mut self.ctx);
                    self.after_parser(first);
                } else if self.probe[dir.idx()].bytes.is_empty() {
                    // Detection needs the start of the stream; after a gap it cannot be trusted.
                    self.state.insp.done = true;
                } else {
                    // Past the first bytes: the gap is handed on with the bytes not kept.
                    self.probe[dir.idx()].skipped += u64::from(n);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parser that writes down what it is given.
    #[derive(Debug, Default)]
    struct Seen(Vec<(Direction, Result<usize, u32>)>);

    impl AppParser for Seen {
        fn on_data(&mut self, dir: Direction, data: &[u8], _: &mut ParseCtx<'_>) {
            self.0.push((dir, Ok(data.len())));
        }
        fn on_gap(&mut self, dir: Direction, len: u32, _: &mut ParseCtx<'_>) {
            self.0.push((dir, Err(len)));
        }
        fn on_close(&mut self, _: &mut ParseCtx<'_>) {}
    }

    #[test]
    fn bytes_past_the_probe_reach_the_parser_as_a_gap() {
        let mut proto = AppProto::Unknown;
        let mut insp = Inspection::default();
        let mut probe: [ProbeBuf; 2] = Default::default();
        let (mut out, mut anomalies) = (Vec::new(), Vec::new());
        let mut sink = AppSink {
            state: AppState::new(&mut proto, &mut insp, true),
            probe: &mut probe,
            ctx: ParseCtx {
                ts_ns: 1,
                transport: Transport::Tcp,
                out: &mut out,
                anomalies: &mut anomalies,
            },
            port_proto: AppProto::Unknown,
        };
        // The server says 600 + 100 bytes of nothing known, then the client's request decides.
        sink.event(Direction::ToClient, StreamEvent::Data(&[0xaa; 600]));
        sink.event(Direction::ToClient, StreamEvent::Data(&[0xaa; 100]));
        assert!(!sink.state.insp.done);
        sink.event(
            Direction::ToServer,
            StreamEvent::Data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
        assert!(sink.state.insp.parser.is_some());
        assert_eq!(proto, AppProto::Http);
        assert_eq!(anomalies, vec![DetectAnomaly::Skipped.as_str()]);

        // What the parser is handed: the kept bytes, then the rest as a gap, in order.
        let mut seen = Seen::default();
        let (mut out, mut anomalies) = (Vec::new(), Vec::new());
        let mut ctx = ParseCtx {
            ts_ns: 1,
            transport: Transport::Tcp,
            out: &mut out,
            anomalies: &mut anomalies,
        };
        let buf = ProbeBuf {
            bytes: vec![1; PROBE_BYTES],
            skipped: u64::from(u32::MAX) + 5,
        };
        buf.hand_on(Direction::ToClient, &mut seen, &mut ctx);
        let d = Direction::ToClient;
        assert_eq!(
            seen.0,
            vec![(d, Ok(PROBE_BYTES)), (d, Err(u32::MAX)), (d, Err(5))]
        );
        assert_eq!(anomalies, vec!["detect.skipped"]);
    }

    #[test]
    fn a_gap_before_detection_ends_what_is_kept() {
        let mut proto = AppProto::Unknown;
        let mut insp = Inspection::default();
        let mut probe: [ProbeBuf; 2] = Default::default();
        let (mut out, mut anomalies) = (Vec::new(), Vec::new());
        let mut sink = AppSink {
            state: AppState::new(&mut proto, &mut insp, true),
            probe: &mut probe,
            ctx: ParseCtx {
                ts_ns: 1,
                transport: Transport::Tcp,
                out: &mut out,
                anomalies: &mut anomalies,
            },
            port_proto: AppProto::Unknown,
        };
        sink.event(Direction::ToClient, StreamEvent::Data(&[0xaa; 10]));
        sink.event(Direction::ToClient, StreamEvent::Gap(7));
        sink.event(Direction::ToClient, StreamEvent::Data(&[0xbb; 3]));
        assert_eq!(sink.probe[1].bytes, vec![0xaa; 10]);
        assert_eq!(sink.probe[1].skipped, 10);
    }
}
