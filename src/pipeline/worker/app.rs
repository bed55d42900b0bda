//! The application layer of one flow: what a worker keeps per flow while it inspects the
//! payload, and the detection policy that picks the protocol's parser and then feeds it.
//!
//! TCP: detection runs on the first [`PROBE_BYTES`] of each direction of the reassembled
//! stream; a high-confidence match starts the parser with every byte seen so far. UDP: each
//! datagram is probed until a parser is found or four packets went by. On the port of a binary
//! protocol, payload its probe rules out still goes to its parser, which reports what is wrong
//! with it (hostile or broken traffic is counted, not silently left alone).

use crate::flow::tcp::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
use crate::proto::{self, AppParser, Confidence, ParseCtx};
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
}

/// Both directions of a TCP flow: their reassembly and their detection buffers.
#[derive(Debug, Default)]
pub(super) struct TcpApp {
    pub(super) streams: [DirStream; 2],
    pub(super) probe: [Vec<u8>; 2],
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
        *self.proto = p;
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
    pub(super) probe: &'a mut [Vec<u8>; 2],
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
            if !self.probe[o.idx()].is_empty() {
                parser.on_data(o, &self.probe[o.idx()], &mut self.ctx);
            }
            parser.on_data(dir, &self.probe[dir.idx()], &mut self.ctx);
            if !rest.is_empty() {
                parser.on_data(dir, rest, &mut self.ctx);
            }
        }
        self.probe[0] = Vec::new();
        self.probe[1] = Vec::new();
    }

    pub(super) fn event(&mut self, dir: Direction, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data(bytes) if !bytes.is_empty() => {
                self.state.insp.payload_seen = true;
                if let Some(p) = self.state.insp.parser.as_mut() {
                    p.on_data(dir, bytes, &mut self.ctx);
                    return;
                }
                if self.state.insp.done {
                    return;
                }
                let i = dir.idx();
                let room = PROBE_BYTES.saturating_sub(self.probe[i].len());
                let taken = bytes.len().min(room);
                self.probe[i].extend_from_slice(&bytes[..taken]);
                match proto::probe(Transport::Tcp, dir, &self.probe[i]) {
                    Some((p, Confidence::High)) => self.start(p, dir, &bytes[taken..]),
                    found => {
                        if let Some((p, _)) = found {
                            self.state.insp.guess.get_or_insert(p);
                        }
                        // On the port of a binary protocol, bytes its probe rules out still go
                        // to its parser, which reports what is wrong with them (as for UDP):
                        // hostile or broken streams are counted, not silently left alone.
                        if proto::tcp_rules_out(self.port_proto, &self.probe[i]) {
                            self.start(self.port_proto, dir, &bytes[taken..]);
                        }
                    }
                }
                // Give up when both sides said enough without a match (a capture that starts
                // mid-stream may only make sense from the other side).
                if self.state.insp.parser.is_none()
                    && self.probe[0].len() >= PROBE_BYTES
                    && self.probe[1].len() >= PROBE_BYTES
                {
                    self.state.insp.done = true;
                }
            }
            StreamEvent::Gap(n) => {
                self.state.insp.gap_bytes += u64::from(n);
                if let Some(p) = self.state.insp.parser.as_mut() {
                    p.on_gap(dir, n, &mut self.ctx);
                } else if self.probe[dir.idx()].is_empty() {
                    // Detection needs the start of the stream; after a gap it cannot be trusted.
                    self.state.insp.done = true;
                }
            }
            _ => {}
        }
    }
}
