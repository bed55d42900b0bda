//! TLS handshake parser: ClientHello/ServerHello/Certificate in clear, one `tls` record per
//! handshake with JA3, JA3S and JA4.
//!
//! The parser is sans-IO like every [`AppParser`]; a parser that sees STARTTLS can hand the
//! rest of its flow to [`new_parser`].

pub mod fingerprint;
pub mod parser;
pub mod probe;
pub mod record;
pub mod state;

pub use record::{TlsBody, TlsCert};

use crate::proto::AppBody;
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

use parser::{ClientHello, ServerHello};
use state::{DirState, Event};

use parser::{CERTIFICATE, CLIENT_HELLO, SERVER_HELLO, SERVER_HELLO_DONE};

/// The TLS parser of one flow.
#[derive(Debug)]
pub struct TlsParser {
    transport: Transport,
    client: DirState,
    server: DirState,
    ch: Option<ClientHello>,
    sh: Option<ServerHello>,
    cert: Option<TlsCert>,
    events: Vec<Event>,
}

impl TlsParser {
    /// A parser for a flow over `transport`.
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            client: DirState::default(),
            server: DirState::default(),
            ch: None,
            sh: None,
            cert: None,
            events: Vec::new(),
        }
    }

    fn pending(&self) -> bool {
        self.ch.is_some() || self.sh.is_some()
    }

    /// Emits the record for the current handshake, when there is one.
    fn flush(&mut self, ctx: &mut ParseCtx<'_>) {
        if !self.pending() {
            return;
        }
        let body = build(
            self.ch.take(),
            self.sh.take(),
            self.cert.take(),
            self.transport == Transport::Udp,
        );
        ctx.emit(AppBody::Tls(body));
    }

    /// A HelloRetryRequest was answered and the second ClientHello is still to come.
    fn retry_pending(&self) -> bool {
        self.sh.as_ref().is_some_and(|s| s.hello_retry)
    }

    fn client_event(&mut self, ev: Event, ctx: &mut ParseCtx<'_>) {
        let hello = match ev {
            Event::Ccs => {
                // The client may send its dummy CCS before the second ClientHello.
                if !self.retry_pending() {
                    self.client.stop();
                }
                return;
            }
            Event::Handshake(CLIENT_HELLO, body) => parser::parse_client_hello(&body),
            Event::Sslv2Hello(msg) => parser::parse_sslv2_client_hello(&msg),
            _ => return,
        };
        match hello {
            Ok(ch) => {
                // A second hello (after a HelloRetryRequest, or renegotiation) starts a new record.
                if self.ch.is_some() && self.sh.as_ref().is_none_or(|s| !s.hello_retry) {
                    self.flush(ctx);
                }
                self.ch = Some(ch);
            }
            Err(_) => ctx.anomaly("tls.malformed_client_hello"),
        }
    }

    fn server_event(&mut self, ev: Event, ctx: &mut ParseCtx<'_>) {
        match ev {
            Event::Ccs if self.retry_pending() => {}
            Event::Ccs => {
                self.server.stop();
                if self.sh.is_some() {
                    self.flush(ctx);
                }
            }
            Event::Handshake(SERVER_HELLO, body) => match parser::parse_server_hello(&body) {
                Ok(sh) => {
                    let tls13 = sh.negotiated() >= 0x0304;
                    let retry = sh.hello_retry;
                    self.sh = Some(sh);
                    // TLS 1.3: everything after the ServerHello is encrypted.
                    if tls13 && !retry {
                        self.flush(ctx);
                    }
                }
                Err(_) => ctx.anomaly("tls.malformed_server_hello"),
            },
            Event::Handshake(CERTIFICATE, body) if self.cert.is_none() => {
                match parser::parse_certificate(&body) {
                    Ok(c) => self.cert = Some(c),
                    Err(_) => ctx.anomaly("tls.malformed_certificate"),
                }
            }
            Event::Handshake(SERVER_HELLO_DONE, _) | Event::End if self.sh.is_some() => {
                self.flush(ctx);
            }
            _ => {}
        }
    }
}

fn build(
    ch: Option<ClientHello>,
    sh: Option<ServerHello>,
    cert: Option<TlsCert>,
    quic: bool,
) -> TlsBody {
    let mut b = TlsBody {
        certificate: cert,
        ..TlsBody::default()
    };
    if let Some(ch) = ch {
        let (s, h) = fingerprint::ja3(&ch);
        b.ja3_string = Some(s);
        b.ja3 = Some(h);
        b.ja4 = Some(fingerprint::ja4(&ch, quic));
        b.client_version = Some(if ch.sslv2 {
            "SSLv2".to_string()
        } else {
            parser::version_name(ch.version)
        });
        b.ech = ch.ech();
        b.sslv2 = ch.sslv2;
        b.session_id_len = Some(ch.session_id_len);
        b.sni = ch.sni;
        b.alpn = ch
            .alpn
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        b.cipher_suites = ch.ciphers;
        b.extensions = ch.extensions;
        b.supported_versions = ch.supported_versions;
        b.supported_groups = ch.groups;
        b.ec_point_formats = ch.point_formats;
        b.signature_algorithms = ch.sig_algs;
    }
    if let Some(sh) = sh {
        let (s, h) = fingerprint::ja3s(&sh);
        b.ja3s_string = Some(s);
        b.ja3s = Some(h);
        b.version = Some(parser::version_name(sh.negotiated()));
        b.cipher_suite = Some(sh.cipher);
        b.alpn_selected = sh.alpn;
        b.server_extensions = sh.extensions;
    }
    b
}

impl AppParser for TlsParser {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        let mut events = std::mem::take(&mut self.events);
        match dir {
            Direction::ToServer => {
                self.client.feed(data, &mut events, ctx.anomalies);
                for ev in events.drain(..) {
                    let ccs = ev == Event::Ccs;
                    self.client_event(ev, ctx);
                    if ccs && self.client.done {
                        // What followed the ChangeCipherSpec is encrypted.
                        break;
                    }
                }
            }
            Direction::ToClient => {
                self.server.feed(data, &mut events, ctx.anomalies);
                for ev in events.drain(..) {
                    let ccs = ev == Event::Ccs;
                    self.server_event(ev, ctx);
                    if ccs && self.server.done {
                        break;
                    }
                }
            }
        }
        self.events = events;
    }

    fn on_gap(&mut self, dir: Direction, _len: u32, ctx: &mut ParseCtx<'_>) {
        match dir {
            Direction::ToServer => self.client.stop(),
            Direction::ToClient => {
                self.server.stop();
                if self.sh.is_some() {
                    self.flush(ctx);
                }
            }
        }
    }

    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        self.flush(ctx);
    }
}

/// A TLS parser for a flow; also the hand-over point for STARTTLS (feed it the bytes that
/// follow the upgrade).
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(TlsParser::new(transport))
}

#[cfg(test)]
mod tests;
