//! Plays bytes to a parser as a two-sided conversation, outside the pipeline: [`play`] reads
//! arbitrary bytes as pieces and gaps (the harness of the stream parsers' fuzz targets);
//! [`play_steps`] replays a scripted exchange in pieces of a chosen size (unit tests, benches).

use super::{AppParser, Direction, Emitted, ParseCtx, Transport};

/// Each piece of `data` starts with a control byte: bit 0 the direction, bits 1..7 the piece
/// length; 0xfe/0xff announce a gap whose size is the next byte + 1. Ends with `on_close`.
/// Returns what the parser emitted.
pub fn play(p: &mut dyn AppParser, transport: Transport, data: &[u8]) -> Vec<Emitted> {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 0,
        transport,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if ctl >= 0xfe {
            let len = tail.first().map_or(1, |b| u32::from(*b) + 1);
            p.on_gap(dir, len, &mut ctx);
            rest = tail.get(1..).unwrap_or_default();
            continue;
        }
        let n = usize::from(ctl >> 1).max(1).min(tail.len());
        let (piece, tail) = tail.split_at(n);
        p.on_data(dir, piece, &mut ctx);
        rest = tail;
    }
    p.on_close(&mut ctx);
    out
}

/// What a parser produced over a conversation.
#[derive(Debug, Default)]
pub struct Played {
    pub out: Vec<Emitted>,
    pub anomalies: Vec<&'static str>,
}

/// Feeds each step's bytes in pieces of at most `chunk` bytes (step `i` at time `1000 + i`),
/// then closes the flow (at time 9999).
pub fn play_steps(
    p: &mut dyn AppParser,
    transport: Transport,
    steps: &[(Direction, &[u8])],
    chunk: usize,
) -> Played {
    let mut r = Played::default();
    let mut ctx = ParseCtx {
        ts_ns: 0,
        transport,
        out: &mut r.out,
        anomalies: &mut r.anomalies,
    };
    for (i, (dir, data)) in steps.iter().enumerate() {
        ctx.ts_ns = 1000 + i as u64;
        for piece in data.chunks(chunk.max(1)) {
            p.on_data(*dir, piece, &mut ctx);
        }
    }
    ctx.ts_ns = 9999;
    p.on_close(&mut ctx);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_gaps_reach_the_parser() {
        let mut p = crate::proto::http::new_parser(Transport::Tcp);
        let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let mut data = vec![(req.len() as u8) << 1];
        data.extend_from_slice(req);
        data.push(((resp.len() as u8) << 1) | 1);
        data.extend_from_slice(resp);
        let out = play(&mut *p, Transport::Tcp, &data);
        assert_eq!(out.len(), 1);
    }
}
