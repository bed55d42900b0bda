//! Stream hand-over: a parser that learns that the rest of its stream is another protocol
//! (StartTLS answered positively, `CONNECT` answered 2xx) stops parsing and hands the rest of
//! both directions on. The worker takes the [`Handover`] after every call
//! ([`AppParser::take_handover`](super::AppParser::take_handover)), closes the parser, and
//! starts the next one: the protocol the parent named ([`Handover::next`], TLS after
//! StartTLS), or protocol detection on the bytes that follow (a CONNECT tunnel). Every record
//! of the streams that follow carries the [`Link`] to the session that started them
//! (`parent` in the record, `docs/evasion.md`).
//!
//! Bounded: a parser keeps at most [`MAX_EARLY`] bytes per direction for the next protocol
//! (bytes past it are dropped and the next parser is told of them as a gap); the worker
//! follows at most [`MAX_HANDOVERS`] hand-overs per flow.

use crate::vocab::{AppProto, Direction};

/// Bytes of one direction a parser keeps for the protocol that follows (the client's bytes
/// sent before the positive answer, the rest of the packet that carried it).
pub const MAX_EARLY: usize = 64 << 10;
/// Hand-overs followed in one flow (a tunnel in a tunnel in ...); more are counted as
/// `detect.handover_limit` and the flow is no longer inspected.
pub const MAX_HANDOVERS: u8 = 4;

/// The session a record's stream was handed over from: the parent parser's protocol and, where
/// it numbers its transactions, which one started the hand-over (the HTTP transaction of the
/// `CONNECT`, 1 for the first of the flow; the LDAP message id of the StartTLS request).
/// Serialised as `"parent": {"app_proto": "smtp", "tx": 3, "depth": 1}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub app_proto: AppProto,
    pub tx: Option<u64>,
    /// How many hand-overs deep the record is (1: handed over once).
    pub depth: u8,
}

impl serde::Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("app_proto", self.app_proto.as_str())?;
        if let Some(tx) = self.tx {
            m.serialize_entry("tx", &tx)?;
        }
        m.serialize_entry("depth", &self.depth)?;
        m.end()
    }
}

/// What a parser hands on when the rest of its stream is another protocol.
#[derive(Debug)]
pub struct Handover {
    /// The protocol that follows when the parent knows it (StartTLS: TLS); `None`: detection
    /// decides (a CONNECT tunnel).
    pub next: Option<AppProto>,
    /// The parent's protocol and transaction (the worker sets the depth).
    pub parent: AppProto,
    pub tx: Option<u64>,
    /// Bytes of each direction (`[to_server, to_client]`) already received past the switch.
    pub early: [Vec<u8>; 2],
    /// Bytes past [`MAX_EARLY`] not kept, per direction.
    pub dropped: [u64; 2],
}

impl Handover {
    /// A hand-over from `parent` (transaction `tx`) to `next` (None: detection).
    pub fn new(parent: AppProto, tx: Option<u64>, next: Option<AppProto>) -> Handover {
        Handover {
            next,
            parent,
            tx,
            early: [Vec::new(), Vec::new()],
            dropped: [0, 0],
        }
    }

    /// Keeps bytes of `dir` for the next protocol (at most [`MAX_EARLY`]; the rest counted).
    pub fn push(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.idx();
        let (Some(buf), Some(dropped)) = (self.early.get_mut(i), self.dropped.get_mut(i)) else {
            return;
        };
        if *dropped > 0 {
            *dropped += data.len() as u64;
            return;
        }
        let room = MAX_EARLY.saturating_sub(buf.len());
        let (kept, rest) = data.split_at(room.min(data.len()));
        buf.extend_from_slice(kept);
        *dropped += rest.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_bytes_are_capped_and_counted() {
        let mut h = Handover::new(AppProto::Smtp, None, Some(AppProto::Tls));
        h.push(Direction::ToServer, &vec![1; MAX_EARLY - 1]);
        h.push(Direction::ToServer, &[2, 3, 4]);
        h.push(Direction::ToServer, &[5]);
        h.push(Direction::ToClient, b"abc");
        assert_eq!(h.early[0].len(), MAX_EARLY);
        assert_eq!(h.early[0].last(), Some(&2));
        assert_eq!(h.dropped, [3, 0]);
        assert_eq!(h.early[1], b"abc");
        let link = Link {
            app_proto: AppProto::Http,
            tx: Some(2),
            depth: 1,
        };
        assert_eq!(
            serde_json::to_string(&link).unwrap_or_default(),
            r#"{"app_proto":"http","tx":2,"depth":1}"#
        );
    }
}
