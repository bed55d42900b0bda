//! Per-direction TLS record layer: records spanning segments, handshake messages spanning
//! records, several messages per record. Stops at ChangeCipherSpec or encrypted data.

use crate::proto::tls::TlsAnomaly;

/// Largest record body accepted (2^14 plus expansion room).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// Largest handshake message buffered.
pub const MAX_HANDSHAKE: usize = 64 * 1024;

/// Something the record layer found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete handshake message: type and body.
    Handshake(u8, Vec<u8>),
    /// An SSLv2-compatible ClientHello (from the message type byte on).
    Sslv2Hello(Vec<u8>),
    /// ChangeCipherSpec: the reader goes on (TLS 1.3 sends a dummy one after a
    /// HelloRetryRequest); the parser decides whether to [`DirState::stop`].
    Ccs,
    /// Alert, application data or anything else that ends the clear handshake in this
    /// direction; the reader has stopped.
    End,
}

/// Reader state for one direction.
#[derive(Debug, Default)]
pub struct DirState {
    buf: Vec<u8>,
    hs: Vec<u8>,
    /// Nothing more is inspected in this direction.
    pub done: bool,
    started: bool,
    /// Bytes of an oversized handshake message still to discard.
    skip: usize,
}

impl DirState {
    /// Stops inspecting this direction and frees the buffers.
    pub fn stop(&mut self) {
        self.done = true;
        self.buf = Vec::new();
        self.hs = Vec::new();
    }

    /// Feeds stream bytes; pushes events and anomaly names.
    pub fn feed(&mut self, data: &[u8], ev: &mut Vec<Event>, anomalies: &mut Vec<&'static str>) {
        if self.done {
            return;
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0usize;
        while !self.done {
            let rest = self.buf.get(pos..).unwrap_or(&[]);
            let (Some(&t), Some(&b1)) = (rest.first(), rest.get(1)) else {
                break;
            };
            if !self.started && t & 0x80 != 0 && rest.get(2) == Some(&1) {
                // SSLv2 record header: 15-bit length.
                let len = (usize::from(t & 0x7f) << 8) | usize::from(b1);
                let Some(msg) = rest.get(2..2 + len) else {
                    break;
                };
                ev.push(Event::Sslv2Hello(msg.to_vec()));
                ev.push(Event::End);
                self.stop();
                return;
            }
            let Some(&[_, major, _, l0, l1]) = rest.get(..5) else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if !(20..=24).contains(&t) || major != 3 {
                anomalies.push(TlsAnomaly::BadRecord.as_str());
                ev.push(Event::End);
                self.stop();
                return;
            }
            if len > MAX_RECORD {
                anomalies.push(TlsAnomaly::RecordTooLong.as_str());
                ev.push(Event::End);
                self.stop();
                return;
            }
            let Some(body) = rest.get(5..5 + len) else {
                break;
            };
            self.started = true;
            pos += 5 + len;
            if t == super::parser::CONTENT_CCS {
                ev.push(Event::Ccs);
                continue;
            }
            if t != super::parser::CONTENT_HANDSHAKE {
                ev.push(Event::End);
                self.stop();
                return;
            }
            self.hs.extend_from_slice(body);
            self.handshakes(ev, anomalies);
        }
        if !self.done {
            self.buf.drain(..pos.min(self.buf.len()));
            if self.buf.len() > MAX_RECORD + 5 {
                anomalies.push(TlsAnomaly::RecordTooLong.as_str());
                self.stop();
            }
        }
    }

    fn handshakes(&mut self, ev: &mut Vec<Event>, anomalies: &mut Vec<&'static str>) {
        let mut pos = 0usize;
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.hs.len().saturating_sub(pos));
                self.skip -= n;
                pos += n;
                if self.skip > 0 {
                    break;
                }
            }
            let rest = self.hs.get(pos..).unwrap_or(&[]);
            let Some(&[typ, a, b, c]) = rest.get(..4) else {
                break;
            };
            let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
            if len > MAX_HANDSHAKE {
                // Hand on the first MAX_HANDSHAKE bytes (enough for the fields of a huge
                // Certificate) and skip the rest of the message.
                let Some(head) = rest.get(4..4 + MAX_HANDSHAKE) else {
                    break;
                };
                anomalies.push(TlsAnomaly::HandshakeTooLong.as_str());
                ev.push(Event::Handshake(typ, head.to_vec()));
                pos += 4 + MAX_HANDSHAKE;
                self.skip = len - MAX_HANDSHAKE;
                continue;
            }
            let Some(body) = rest.get(4..4 + len) else {
                break;
            };
            ev.push(Event::Handshake(typ, body.to_vec()));
            pos += 4 + len;
        }
        self.hs.drain(..pos.min(self.hs.len()));
    }
}
