//! Driving one application parser by hand (benchmarks, fuzz targets): [`Session`] owns what the
//! parser emits and builds the [`ParseCtx`] for every call, so callers only say which bytes go
//! which way.

use tapir::proto::{AppParser, Emitted, ParseCtx};
use tapir::vocab::{Direction, Transport};

/// What a parser emitted over one flow, and the context of its next call.
#[derive(Debug)]
pub struct Session {
    /// The flow's transport, handed to the parser in every [`ParseCtx`].
    pub transport: Transport,
    /// Capture time given to the next call.
    pub ts_ns: u64,
    /// Records emitted so far.
    pub out: Vec<Emitted>,
    /// Anomaly names raised so far.
    pub anomalies: Vec<&'static str>,
}

impl Session {
    /// An empty session over `transport`, at time 0.
    pub fn new(transport: Transport) -> Self {
        Session {
            transport,
            ts_ns: 0,
            out: Vec::new(),
            anomalies: Vec::new(),
        }
    }

    /// The context for one parser call.
    pub fn ctx(&mut self) -> ParseCtx<'_> {
        ParseCtx {
            ts_ns: self.ts_ns,
            transport: self.transport,
            out: &mut self.out,
            anomalies: &mut self.anomalies,
        }
    }

    /// `bytes` to the parser in direction `dir`.
    pub fn data(&mut self, p: &mut dyn AppParser, dir: Direction, bytes: &[u8]) {
        p.on_data(dir, bytes, &mut self.ctx());
    }

    /// A gap of `len` bytes in direction `dir`.
    pub fn gap(&mut self, p: &mut dyn AppParser, dir: Direction, len: u32) {
        p.on_gap(dir, len, &mut self.ctx());
    }

    /// The end of the flow.
    pub fn close(&mut self, p: &mut dyn AppParser) {
        p.on_close(&mut self.ctx());
    }

    /// Both directions in pieces of at most `chunk` bytes, alternating (client first) until
    /// both are sent, then the close; returns the number of records emitted in all.
    pub fn exchange(
        &mut self,
        p: &mut dyn AppParser,
        client: &[u8],
        server: &[u8],
        chunk: usize,
    ) -> usize {
        let mut cs = client.chunks(chunk.max(1));
        let mut ss = server.chunks(chunk.max(1));
        loop {
            let (a, b) = (cs.next(), ss.next());
            if a.is_none() && b.is_none() {
                break;
            }
            if let Some(a) = a {
                self.data(p, Direction::ToServer, a);
            }
            if let Some(b) = b {
                self.data(p, Direction::ToClient, b);
            }
        }
        self.close(p);
        self.out.len()
    }
}
