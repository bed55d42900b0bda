//! What an observer can tell of a TCP connection's state from the packets it sees, and the
//! Zeek-style one-word summary of how the connection went (`conn_state`).

use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

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
}

impl TcpTrack {
    /// Updates the state with one packet's flags; `side` 0 = client, 1 = server.
    pub fn update(&mut self, side: usize, flags: u8) {
        let side = side & 1;
        self.flags[side] |= flags;
        self.seen[side] = true;
        if flags & RST != 0 {
            self.rst[side] = true;
            self.state = TcpState::Reset;
            return;
        }
        if flags & SYN != 0 {
            if flags & ACK != 0 {
                if side == 1 {
                    self.synack = true;
                }
                if self.state == TcpState::None || self.state == TcpState::SynSent {
                    self.state = TcpState::SynRecv;
                }
            } else if side == 0 {
                self.syn = true;
                if self.state == TcpState::None {
                    self.state = TcpState::SynSent;
                }
            }
        } else if flags & ACK != 0 && side == 0 && self.state == TcpState::SynRecv {
            self.established = true;
            self.state = TcpState::Established;
        } else if self.state == TcpState::None && self.seen[0] && self.seen[1] {
            // Picked up mid-stream: both sides are talking.
            self.established = true;
            self.state = TcpState::Established;
        }
        if flags & FIN != 0 {
            self.fin[side] = true;
            self.state = if self.fin[0] && self.fin[1] {
                TcpState::Closed
            } else {
                TcpState::Closing
            };
        }
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
}
