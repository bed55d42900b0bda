//! Plays arbitrary bytes to a parser as a two-sided conversation: the harness of the fuzz
//! targets of the stream protocols (and handy in tests). Each piece starts with a control byte:
//! bit 0 the direction, bits 1..7 the piece length; 0xfe/0xff announce a gap whose size is the
//! next byte + 1. The parser's `on_close` ends it.

use super::{AppParser, Direction, Emitted, ParseCtx, Transport};

/// Feeds `data` to `p` as described above; returns what the parser emitted.
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
