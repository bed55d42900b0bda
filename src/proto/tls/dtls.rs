//! Per-direction DTLS record layer (RFC 4347, 6347, 9147): one datagram at a time, several
//! records per datagram, handshake messages reassembled from fragments (in any order, a
//! retransmitted fragment or message ignored) within a byte cap per flow. Produces the same
//! [`Event`]s as the TLS record layer, so the handshake is parsed by the same code.
//!
//! Only epoch 0 is read: a record of a later epoch is encrypted and ends the reader; DTLS 1.3
//! ciphertext (the unified header, first byte `0b001xxxxx`) is skipped.

#![deny(clippy::indexing_slicing)]

use super::framing::Event;
use super::parser::{CONTENT_CCS, CONTENT_HANDSHAKE};
use super::TlsAnomaly;

/// Bytes of partly received handshake messages buffered per flow (both directions together).
/// A message that would go past it is not reassembled (`tls.dtls_reassembly_limit`).
pub const REASSEMBLY_CAP: usize = 64 * 1024;
/// Handshake messages delivered per direction before the reader stops (a handshake has a dozen).
pub const MAX_MESSAGES: usize = 32;
/// Messages being reassembled at once per direction.
pub const MAX_PARTIAL: usize = 8;
/// Disjoint received ranges of one message being reassembled.
pub const MAX_RANGES: usize = 64;

/// The DTLS record header: type, version, epoch, 48-bit sequence number, length.
pub const RECORD_HEADER: usize = 13;
/// The DTLS handshake header: type, length, message_seq, fragment_offset, fragment_length.
pub const HANDSHAKE_HEADER: usize = 12;

/// The first bytes of a DTLS datagram (RFC 7983 5): content types 20..=63, the DTLS 1.3
/// unified header included.
const DTLS_FIRST_BYTE: std::ops::RangeInclusive<u8> = 20..=63;

/// Alert and application data end the clear handshake; the others are read or skipped.
const CONTENT_ALERT: u8 = 21;
const CONTENT_APPLICATION_DATA: u8 = 23;

/// A handshake message being reassembled.
#[derive(Debug)]
struct Partial {
    seq: u16,
    typ: u8,
    total: usize,
    data: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(usize, usize)>,
}

impl Partial {
    /// Copies `frag` (at `off`, inside the message) into the bytes not received yet: the first
    /// copy of a byte wins. True when the message is complete.
    fn add(&mut self, off: usize, frag: &[u8]) -> bool {
        let end = off.saturating_add(frag.len());
        let mut cur = off;
        let mut gaps = Vec::new();
        for &(s, e) in &self.have {
            if e <= cur {
                continue;
            }
            if s >= end {
                break;
            }
            if s > cur {
                gaps.push((cur, s));
            }
            cur = e;
            if cur >= end {
                break;
            }
        }
        if cur < end {
            gaps.push((cur, end));
        }
        for (s, e) in gaps {
            let src = frag.get(s.saturating_sub(off)..e.saturating_sub(off));
            if let (Some(dst), Some(src)) = (self.data.get_mut(s..e), src) {
                dst.copy_from_slice(src);
            }
        }
        self.have.push((off, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
        self.have.as_slice() == [(0, self.total)]
    }
}

/// Reader state for one direction of a DTLS flow.
#[derive(Debug, Default)]
pub struct DtlsDir {
    /// Nothing more is inspected in this direction.
    pub done: bool,
    partial: Vec<Partial>,
    /// Bytes held by `partial`.
    buffered: usize,
    /// message_seq of the messages delivered (retransmissions of them are ignored).
    delivered: Vec<u16>,
    /// message_seq of the messages refused at the cap (counted once).
    refused: Vec<u16>,
}

impl DtlsDir {
    /// Stops inspecting this direction and frees the buffers.
    pub fn stop(&mut self) {
        self.done = true;
        self.partial = Vec::new();
        self.buffered = 0;
    }

    /// Bytes buffered for reassembly in this direction.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Feeds one datagram; `other`: the bytes the other direction buffers (the cap is per
    /// flow). Pushes events and anomaly names.
    pub fn feed(
        &mut self,
        datagram: &[u8],
        other: usize,
        ev: &mut Vec<Event>,
        anomalies: &mut Vec<&'static str>,
    ) {
        if datagram
            .first()
            .is_some_and(|b| !DTLS_FIRST_BYTE.contains(b))
        {
            // Another protocol sharing the flow (RFC 7983 demultiplexing: STUN, ZRTP, TURN
            // channels, RTP/RTCP beside DTLS-SRTP): not a DTLS datagram, no anomaly.
            return;
        }
        let mut rest = datagram;
        while !self.done {
            let Some(&first) = rest.first() else {
                break;
            };
            if first & 0xe0 == 0x20 {
                // DTLS 1.3 ciphertext (RFC 9147 4): skipped by its length, or to the end of
                // the datagram when it has none (or a connection id of unknown length).
                match unified_len(rest) {
                    Some(n) => {
                        rest = rest.get(n..).unwrap_or(&[]);
                        continue;
                    }
                    None => break,
                }
            }
            let Some(&[typ, major, _, e0, e1, _, _, _, _, _, _, l0, l1]) =
                rest.get(..RECORD_HEADER)
            else {
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                break;
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if major != 0xfe || !(20..=26).contains(&typ) {
                // Not a DTLS record: the rest of the datagram cannot be framed.
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                break;
            }
            let Some(body) = rest.get(RECORD_HEADER..RECORD_HEADER + len) else {
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                break;
            };
            rest = rest.get(RECORD_HEADER + len..).unwrap_or(&[]);
            if e0 != 0 || e1 != 0 {
                // A later epoch: encrypted from here on.
                ev.push(Event::End);
                self.stop();
                return;
            }
            match typ {
                CONTENT_CCS => ev.push(Event::Ccs),
                CONTENT_HANDSHAKE => self.handshake_record(body, other, ev, anomalies),
                CONTENT_ALERT | CONTENT_APPLICATION_DATA => {
                    ev.push(Event::End);
                    self.stop();
                    return;
                }
                // Heartbeat, tls12_cid (encrypted), ACK: skipped.
                _ => {}
            }
        }
    }

    fn handshake_record(
        &mut self,
        body: &[u8],
        other: usize,
        ev: &mut Vec<Event>,
        anomalies: &mut Vec<&'static str>,
    ) {
        let mut r = body;
        while !r.is_empty() && !self.done {
            let Some(&[typ, t0, t1, t2, s0, s1, o0, o1, o2, f0, f1, f2]) =
                r.get(..HANDSHAKE_HEADER)
            else {
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                return;
            };
            let total = u24(t0, t1, t2);
            let seq = u16::from_be_bytes([s0, s1]);
            let off = u24(o0, o1, o2);
            let flen = u24(f0, f1, f2);
            let Some(frag) = r.get(HANDSHAKE_HEADER..HANDSHAKE_HEADER + flen) else {
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                return;
            };
            r = r.get(HANDSHAKE_HEADER + flen..).unwrap_or(&[]);
            if off.checked_add(flen).is_none_or(|end| end > total) {
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                return;
            }
            self.fragment(typ, seq, total, off, frag, other, ev, anomalies);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fragment(
        &mut self,
        typ: u8,
        seq: u16,
        total: usize,
        off: usize,
        frag: &[u8],
        other: usize,
        ev: &mut Vec<Event>,
        anomalies: &mut Vec<&'static str>,
    ) {
        if self.delivered.contains(&seq) || self.refused.contains(&seq) {
            // A retransmission of a message already handed on (or refused).
            return;
        }
        let idx = self.partial.iter().position(|p| p.seq == seq);
        if idx.is_none() && off == 0 && frag.len() == total {
            self.deliver(seq, typ, frag.to_vec(), ev);
            return;
        }
        if frag.is_empty() {
            return;
        }
        let idx = match idx {
            Some(i) => i,
            None => {
                let room = REASSEMBLY_CAP
                    .saturating_sub(self.buffered)
                    .saturating_sub(other);
                if total > room || self.partial.len() >= MAX_PARTIAL {
                    self.refuse(seq, anomalies);
                    return;
                }
                self.buffered = self.buffered.saturating_add(total);
                self.partial.push(Partial {
                    seq,
                    typ,
                    total,
                    data: vec![0; total],
                    have: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let Some(p) = self.partial.get_mut(idx) else {
            return;
        };
        if p.typ != typ || p.total != total {
            // Fragments of one message disagree: the first one seen stands.
            anomalies.push(TlsAnomaly::BadRecord.as_str());
            return;
        }
        if p.have.len() >= MAX_RANGES {
            let p = self.partial.swap_remove(idx);
            self.buffered = self.buffered.saturating_sub(p.total);
            self.refuse(seq, anomalies);
            return;
        }
        if p.add(off, frag) {
            let p = self.partial.swap_remove(idx);
            self.buffered = self.buffered.saturating_sub(p.total);
            self.deliver(p.seq, p.typ, p.data, ev);
        }
    }

    fn refuse(&mut self, seq: u16, anomalies: &mut Vec<&'static str>) {
        anomalies.push(TlsAnomaly::DtlsReassemblyLimit.as_str());
        if self.refused.len() < MAX_MESSAGES {
            self.refused.push(seq);
        }
    }

    fn deliver(&mut self, seq: u16, typ: u8, body: Vec<u8>, ev: &mut Vec<Event>) {
        self.delivered.push(seq);
        ev.push(Event::Handshake(typ, body));
        if self.delivered.len() >= MAX_MESSAGES {
            ev.push(Event::End);
            self.stop();
        }
    }
}

fn u24(a: u8, b: u8, c: u8) -> usize {
    (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c)
}

/// The length of a DTLS 1.3 unified-header record (`0b001CSLEE`): header plus the length
/// field's bytes. `None` when it has no length (it fills the datagram) or a connection id,
/// whose length only the endpoints know.
fn unified_len(d: &[u8]) -> Option<usize> {
    let f = *d.first()?;
    if f & 0x10 != 0 || f & 0x04 == 0 {
        return None;
    }
    let at = if f & 0x08 != 0 { 3 } else { 2 };
    let len = u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]);
    Some(at + 2 + usize::from(len))
}
