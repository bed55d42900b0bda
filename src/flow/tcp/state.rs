//! What an observer can tell of a TCP connection's state from the packets it sees, and the
//! Zeek-style one-word summary of how the connection went (`conn_state`).
//!
//! # RST and FIN as the hosts see them
//! A sensor must not end a connection on a segment the receiving host drops (see
//! `docs/evasion.md`, `## TCP`):
//! - An RST whose sequence number lies outside the receiver's window is dropped by every stack
//!   (RFC 793, RFC 5961): it is [`Verdict::RstIgnored`] and changes nothing.
//! - An RST in the window is taken, but only *pending*: the connection is shown as reset, yet
//!   when a later packet acknowledges data (or a SYN) that its peer sent after the RST, one of
//!   the hosts did not take it (a spoofed RST that never reached it, or that it refused), and
//!   the RST is withdrawn ([`Verdict::RstWithdrawn`]). A host that took an RST acknowledges
//!   nothing new on that connection again.
//! - A FIN (or an RST) seen after a SYN but before the handshake completed, when the handshake
//!   then completes, was dropped by its receiver (a host in LISTEN or SYN-SENT drops a FIN, and
//!   a completed handshake shows the RST was not taken): it leaves no trace in the state. The
//!   server's FIN after its own SYN-ACK is not one of those (the client takes it).

use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

/// Window assumed for the receiver when checking an RST, as a multiple of its advertised raw
/// window: TCP options are not decoded, so the window scale is unknown; 7 (x128) is Linux's
/// default scale. Never less than [`MIN_RST_WINDOW`].
const RST_WINDOW_SHIFT: u32 = 7;
/// The smallest window an RST is checked against (the largest unscaled window).
const MIN_RST_WINDOW: i64 = 65_535;

/// The observer's view of the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpState {
    /// No handshake packet seen yet (mid-stream pickup until both sides talk).
    #[default]
    None,
    SynSent,
    SynRecv,
    Established,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN.
    Closed,
    Reset,
}

impl TcpState {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
            TcpState::Reset => "reset",
        }
    }
}

/// The TCP header fields of one segment the state machine reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seg {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Payload bytes.
    pub len: u32,
}

/// What one segment's RST or FIN did to the connection, for the stream layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing special.
    #[default]
    None,
    /// An RST out of the receiver's window: dropped by the host, to be dropped by the streams.
    RstIgnored,
    /// An RST in the window: the connection is reset unless it is withdrawn later.
    RstPending,
    /// A pending RST sent by this side (0 client, 1 server) was not taken by the hosts: the
    /// connection went on.
    RstWithdrawn(u8),
    /// A FIN before the handshake completed (dropped by a host in LISTEN or SYN-SENT).
    FinIgnored,
}

/// An RST taken but not confirmed: who sent it, the state before it, and how far each side had
/// sent then.
#[derive(Clone, Copy, Debug)]
struct PendingRst {
    side: u8,
    before: TcpState,
    sent: [Option<u32>; 2],
}

/// Per-connection TCP bookkeeping. Index 0 = from the client, 1 = from the server.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpTrack {
    pub state: TcpState,
    /// OR of all flag bytes seen, per side.
    pub flags: [u8; 2],
    /// The client's SYN (without ACK) was seen.
    pub syn: bool,
    /// The server's SYN+ACK was seen.
    pub synack: bool,
    /// The handshake completed or both sides exchanged packets mid-stream.
    pub established: bool,
    pub fin: [bool; 2],
    pub rst: [bool; 2],
    /// Packets seen per side.
    pub seen: [bool; 2],
    /// RSTs dropped as out of the window, and pending RSTs withdrawn.
    pub rst_ignored: u16,
    /// FINs (and RSTs) before a handshake that then completed.
    pub early_close_ignored: u16,
    /// Highest sequence number sent (past the segment, SYN and FIN), per side.
    sent: [Option<u32>; 2],
    /// Highest acknowledgement number sent, per side.
    acked: [Option<u32>; 2],
    /// Last raw window advertised, per side.
    window: [u16; 2],
    pending: Option<PendingRst>,
    /// A FIN was seen before the handshake completed, per side.
    early_fin: [bool; 2],
    /// Sequence number of the client's last SYN.
    isn: Option<u32>,
}

/// `a` is after `b` in sequence space.
#[inline]
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn max_seq(cur: Option<u32>, v: u32) -> Option<u32> {
    match cur {
        Some(c) if !after(v, c) => Some(c),
        _ => Some(v),
    }
}

impl TcpTrack {
    /// Updates the state with one packet's flags only (no sequence numbers: every RST is
    /// taken, as pending); `side` 0 = client, 1 = server.
    pub fn update(&mut self, side: usize, flags: u8) -> Verdict {
        self.segment(
            side,
            &Seg {
                flags,
                ..Seg::default()
            },
            false,
        )
    }

    /// Updates the state with one segment; `side` 0 = client, 1 = server. `seqs`: the sequence
    /// fields of `seg` are real (RST window checks and withdrawal need them).
    pub fn segment(&mut self, side: usize, seg: &Seg, seqs: bool) -> Verdict {
        let side = side & 1;
        let other = side ^ 1;
        let flags = seg.flags;
        self.flags[side] |= flags;
        self.seen[side] = true;
        let mut verdict = Verdict::None;
        if flags & RST != 0 {
            if seqs && !self.rst_in_window(side, seg.seq) {
                self.rst_ignored = self.rst_ignored.saturating_add(1);
                return Verdict::RstIgnored;
            }
            if self.pending.is_none() {
                self.pending = Some(PendingRst {
                    side: side as u8,
                    before: self.state,
                    sent: self.sent,
                });
            }
            self.rst[side] = true;
            self.state = TcpState::Reset;
            return Verdict::RstPending;
        }
        if seqs {
            // Evidence that the connection went on after a pending RST: this packet
            // acknowledges something its peer sent after the RST.
            if let Some(p) = self.pending {
                if flags & ACK != 0 {
                    let beyond = match p.sent[other] {
                        Some(s) => after(seg.ack, s),
                        None => self.sent[other].is_some(),
                    };
                    if beyond {
                        self.pending = None;
                        self.rst[p.side as usize] = false;
                        self.state = p.before;
                        self.rst_ignored = self.rst_ignored.saturating_add(1);
                        verdict = Verdict::RstWithdrawn(p.side);
                    }
                }
            }
            let end = seg
                .seq
                .wrapping_add(seg.len)
                .wrapping_add(u32::from(flags & SYN != 0))
                .wrapping_add(u32::from(flags & FIN != 0));
            if flags & (SYN | FIN) != 0 || seg.len > 0 {
                self.sent[side] = max_seq(self.sent[side], end);
            }
            if flags & ACK != 0 {
                self.acked[side] = max_seq(self.acked[side], seg.ack);
            }
            if flags & (SYN | ACK) == SYN && side == 0 {
                self.isn = Some(seg.seq);
            }
            self.window[side] = seg.window;
        }
        let mut st = match self.pending {
            Some(p) => p.before,
            None => self.state,
        };
        let v = self.advance(&mut st, side, flags);
        match self.pending.as_mut() {
            // The connection shows as reset; the state it would have is kept under it.
            Some(p) => p.before = st,
            None => self.state = st,
        }
        if v == Verdict::None {
            verdict
        } else {
            v
        }
    }

    /// The state machine for a segment without RST, on `st`.
    fn advance(&mut self, st: &mut TcpState, side: usize, flags: u8) -> Verdict {
        let handshake = self.syn || self.synack;
        if flags & SYN != 0 {
            if flags & ACK != 0 {
                if side == 1 {
                    self.synack = true;
                }
                if *st == TcpState::None || *st == TcpState::SynSent {
                    *st = TcpState::SynRecv;
                }
            } else if side == 0 {
                self.syn = true;
                if *st == TcpState::None {
                    *st = TcpState::SynSent;
                }
            }
        } else if flags & ACK != 0 && side == 0 && *st == TcpState::SynRecv {
            self.established = true;
            *st = TcpState::Established;
            // A FIN before the handshake completed was dropped by its receiver.
            for s in 0..2 {
                if self.early_fin[s] {
                    self.early_fin[s] = false;
                    self.fin[s] = false;
                    self.early_close_ignored = self.early_close_ignored.saturating_add(1);
                }
            }
        } else if *st == TcpState::None && self.seen[0] && self.seen[1] {
            // Picked up mid-stream: both sides are talking.
            self.established = true;
            *st = TcpState::Established;
        }
        if flags & FIN != 0 {
            // The receiver drops a FIN while it is in LISTEN or SYN-SENT, or in SYN-RECEIVED
            // without an ACK (a client FIN|ACK there completed the handshake above); a server
            // that sent its SYN-ACK may close before the client's ACK is seen.
            if handshake && !self.established && !(side == 1 && self.synack) {
                // Seen (conn_state `SH`) until the handshake completes.
                self.fin[side] = true;
                self.early_fin[side] = true;
                return Verdict::FinIgnored;
            }
            self.fin[side] = true;
            *st = if self.fin[0] && self.fin[1] {
                TcpState::Closed
            } else {
                TcpState::Closing
            };
        }
        Verdict::None
    }

    /// Whether an RST from `side` with sequence number `seq` falls in its receiver's window:
    /// at or after what the receiver acknowledged last, within the window it advertised. With
    /// no acknowledgement from the receiver yet, near what the sender sent; with nothing to
    /// compare to (before a SYN-ACK), taken.
    fn rst_in_window(&self, side: usize, seq: u32) -> bool {
        let other = side ^ 1;
        let win = (i64::from(self.window[other]) << RST_WINDOW_SHIFT).max(MIN_RST_WINDOW);
        if let Some(a) = self.acked[other] {
            let d = i64::from(seq.wrapping_sub(a) as i32);
            return (0..=win).contains(&d);
        }
        match self.sent[side] {
            Some(s) => i64::from(seq.wrapping_sub(s) as i32).abs() <= win,
            None => true,
        }
    }

    /// A SYN from the client with this sequence number repeats the last one (a retransmission,
    /// not a new connection on the 5-tuple).
    pub fn is_syn_repeat(&self, seq: u32) -> bool {
        self.isn == Some(seq)
    }

    /// The connection is over (both FINs or a RST).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, TcpState::Closed | TcpState::Reset)
    }

    /// Zeek's `conn_state` vocabulary, derived from what was seen.
    pub fn conn_state(&self) -> &'static str {
        let [ofin, rfin] = self.fin;
        let [orst, rrst] = self.rst;
        if !self.syn && !self.synack {
            return "OTH";
        }
        if self.syn && !self.synack {
            return if rrst {
                "REJ"
            } else if orst {
                "RSTOS0"
            } else if ofin {
                "SH"
            } else {
                "S0"
            };
        }
        if !self.syn && self.synack {
            return if rrst {
                "RSTRH"
            } else if rfin {
                "SHR"
            } else {
                "OTH"
            };
        }
        // SYN and SYN-ACK both seen.
        if orst {
            return "RSTO";
        }
        if rrst {
            return "RSTR";
        }
        match (ofin, rfin) {
            (true, true) => "SF",
            (true, false) => "S2",
            (false, true) => "S3",
            (false, false) => "S1",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pkts: &[(usize, u8)]) -> TcpTrack {
        let mut t = TcpTrack::default();
        for &(s, f) in pkts {
            t.update(s, f);
        }
        t
    }

    #[test]
    fn full_connection_is_sf() {
        let t = run(&[
            (0, SYN),
            (1, SYN | ACK),
            (0, ACK),
            (0, ACK),
            (1, ACK),
            (0, FIN | ACK),
            (1, FIN | ACK),
            (0, ACK),
        ]);
        assert!(t.established);
        assert_eq!(t.state, TcpState::Closed);
        assert_eq!(t.conn_state(), "SF");
    }

    #[test]
    fn rejected_and_unanswered() {
        assert_eq!(run(&[(0, SYN), (1, RST | ACK)]).conn_state(), "REJ");
        assert_eq!(run(&[(0, SYN), (0, SYN)]).conn_state(), "S0");
        let t = run(&[(0, SYN), (1, SYN | ACK), (0, ACK), (0, RST)]);
        assert_eq!((t.state, t.conn_state()), (TcpState::Reset, "RSTO"));
    }

    #[test]
    fn midstream_is_established_oth() {
        let t = run(&[(0, ACK | 0x08), (1, ACK)]);
        assert!(t.established);
        assert_eq!(t.conn_state(), "OTH");
    }

    fn seg(flags: u8, seq: u32, ack: u32, len: u32) -> Seg {
        Seg {
            flags,
            seq,
            ack,
            window: 1000,
            len,
        }
    }

    #[test]
    fn rst_out_of_window_is_ignored() {
        let mut t = TcpTrack::default();
        t.segment(0, &seg(SYN, 100, 0, 0), true);
        t.segment(1, &seg(SYN | ACK, 500, 101, 0), true);
        t.segment(0, &seg(ACK, 101, 501, 0), true);
        // The server acknowledged 101; an RST from the client far past its window.
        let v = t.segment(0, &seg(RST, 101 + 10_000_000, 0, 0), true);
        assert_eq!(v, Verdict::RstIgnored);
        assert_eq!(t.state, TcpState::Established);
        // Before the acknowledgement point: out of the window too.
        let v = t.segment(1, &seg(RST | ACK, 400, 101, 0), true);
        assert_eq!(v, Verdict::RstIgnored);
        assert_eq!((t.rst_ignored, t.conn_state()), (2, "S1"));
        // At the acknowledgement point: taken.
        assert_eq!(
            t.segment(0, &seg(RST, 101, 0, 0), true),
            Verdict::RstPending
        );
        assert_eq!((t.state, t.conn_state()), (TcpState::Reset, "RSTO"));
    }

    #[test]
    fn rst_followed_by_acknowledged_data_is_withdrawn() {
        let mut t = TcpTrack::default();
        t.segment(0, &seg(SYN, 100, 0, 0), true);
        t.segment(1, &seg(SYN | ACK, 500, 101, 0), true);
        t.segment(0, &seg(ACK, 101, 501, 0), true);
        t.segment(1, &seg(RST, 501, 0, 0), true);
        assert!(t.is_closed());
        // The server goes on; the client acknowledges what it sent after the RST.
        t.segment(1, &seg(ACK, 501, 101, 10), true);
        assert!(t.is_closed());
        let v = t.segment(0, &seg(ACK, 101, 511, 0), true);
        assert_eq!(v, Verdict::RstWithdrawn(1));
        assert_eq!((t.state, t.conn_state()), (TcpState::Established, "S1"));
    }

    #[test]
    fn rst_and_fin_before_the_synack_leave_no_trace_when_the_handshake_completes() {
        let mut t = TcpTrack::default();
        t.segment(0, &seg(SYN, 100, 0, 0), true);
        assert_eq!(
            t.segment(1, &seg(RST | ACK, 0, 101, 0), true),
            Verdict::RstPending
        );
        assert_eq!(t.segment(1, &seg(FIN, 7, 0, 0), true), Verdict::FinIgnored);
        t.segment(1, &seg(SYN | ACK, 500, 101, 0), true);
        let v = t.segment(0, &seg(ACK, 101, 501, 0), true);
        assert_eq!(v, Verdict::RstWithdrawn(1));
        assert_eq!(t.state, TcpState::Established);
        assert_eq!(t.conn_state(), "S1");
        assert_eq!(t.early_close_ignored, 1);
        // An unanswered SYN then a FIN stays SH; a SYN answered by RST stays REJ.
        assert_eq!(run(&[(0, SYN), (0, FIN)]).conn_state(), "SH");
        assert_eq!(run(&[(0, SYN), (1, RST | ACK)]).conn_state(), "REJ");
        // A server may close right after its SYN-ACK: that FIN stands.
        let t = run(&[(0, SYN), (1, SYN | ACK), (1, FIN | ACK), (0, ACK)]);
        assert_eq!((t.state, t.conn_state()), (TcpState::Closing, "S3"));
    }
}
