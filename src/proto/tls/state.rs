//! The per-flow TLS [`AppParser`]: both directions' record layers (TLS over TCP, DTLS over
//! UDP), the hellos and the first certificate, one `tls` record per handshake.

use super::dtls::DtlsDir;
use super::framing::{DirState, Event};
use super::parser::{self, ClientHello, ServerHello};
use super::parser::{
    CERTIFICATE, CLIENT_HELLO, HELLO_VERIFY_REQUEST, SERVER_HELLO, SERVER_HELLO_DONE,
};
use super::record::{build, TlsCert};
use crate::proto::tls::TlsAnomaly;
use crate::proto::AppBody;
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

/// The TLS state of one flow: both directions' record layers and the handshake so far.
#[derive(Debug)]
pub struct TlsState {
    transport: Transport,
    client: DirState,
    server: DirState,
    /// The DTLS record layers (UDP).
    dclient: DtlsDir,
    dserver: DtlsDir,
    /// DTLS: a HelloVerifyRequest was answered; the repeated ClientHello is still to come.
    verify_pending: bool,
    /// DTLS: this handshake had a HelloVerifyRequest.
    hello_verify: bool,
    ch: Option<ClientHello>,
    sh: Option<ServerHello>,
    cert: Option<TlsCert>,
    events: Vec<Event>,
}

impl TlsState {
    /// A parser for a flow over `transport`.
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            client: DirState::default(),
            server: DirState::default(),
            dclient: DtlsDir::default(),
            dserver: DtlsDir::default(),
            verify_pending: false,
            hello_verify: false,
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
        let mut body = build(
            self.ch.take(),
            self.sh.take(),
            self.cert.take(),
            self.dtls(),
        );
        body.hello_verify = std::mem::take(&mut self.hello_verify);
        self.verify_pending = false;
        ctx.emit(AppBody::Tls(body));
    }

    /// A HelloRetryRequest was answered and the second ClientHello is still to come.
    fn retry_pending(&self) -> bool {
        self.sh.as_ref().is_some_and(|s| s.hello_retry)
    }

    /// DTLS over UDP (else TLS over TCP).
    fn dtls(&self) -> bool {
        self.transport == Transport::Udp
    }

    fn stop_client(&mut self) {
        self.client.stop();
        self.dclient.stop();
    }

    fn stop_server(&mut self) {
        self.server.stop();
        self.dserver.stop();
    }

    fn client_event(&mut self, ev: Event, ctx: &mut ParseCtx<'_>) {
        let hello = match ev {
            Event::Ccs => {
                // The client may send its dummy CCS before the second ClientHello.
                if !self.retry_pending() {
                    self.stop_client();
                }
                return;
            }
            Event::Handshake(CLIENT_HELLO, body) if self.dtls() => {
                parser::parse_dtls_client_hello(&body)
            }
            Event::Handshake(CLIENT_HELLO, body) => parser::parse_client_hello(&body),
            Event::Sslv2Hello(msg) => parser::parse_sslv2_client_hello(&msg),
            _ => return,
        };
        match hello {
            Ok(ch) => {
                // A second hello starts a new record (renegotiation), except the one that
                // answers a HelloRetryRequest or a DTLS HelloVerifyRequest: it replaces the first.
                if self.ch.is_some() && !self.retry_pending() && !self.verify_pending {
                    self.flush(ctx);
                }
                self.verify_pending = false;
                self.ch = Some(ch);
            }
            Err(_) => ctx.anomaly(TlsAnomaly::MalformedClientHello.as_str()),
        }
    }

    fn server_event(&mut self, ev: Event, ctx: &mut ParseCtx<'_>) {
        match ev {
            Event::Ccs if self.retry_pending() => {}
            Event::Ccs => {
                self.stop_server();
                if self.sh.is_some() {
                    self.flush(ctx);
                }
            }
            Event::Handshake(SERVER_HELLO, body) => match parser::parse_server_hello(&body) {
                Ok(sh) => {
                    let tls13 = parser::is_tls13(sh.negotiated());
                    let retry = sh.hello_retry;
                    self.sh = Some(sh);
                    // TLS 1.3: everything after the ServerHello is encrypted.
                    if tls13 && !retry {
                        self.flush(ctx);
                    }
                }
                Err(_) => ctx.anomaly(TlsAnomaly::MalformedServerHello.as_str()),
            },
            Event::Handshake(HELLO_VERIFY_REQUEST, _) if self.dtls() && self.sh.is_none() => {
                // The client repeats its ClientHello with the cookie: that one counts.
                self.verify_pending = true;
                self.hello_verify = true;
            }
            Event::Handshake(CERTIFICATE, body) if self.cert.is_none() => {
                match parser::parse_certificate(&body) {
                    Ok(c) => self.cert = Some(c),
                    Err(_) => ctx.anomaly(TlsAnomaly::MalformedCertificate.as_str()),
                }
            }
            Event::Handshake(SERVER_HELLO_DONE, _) | Event::End if self.sh.is_some() => {
                self.flush(ctx);
            }
            _ => {}
        }
    }
}

impl AppParser for TlsState {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>) {
        let mut events = std::mem::take(&mut self.events);
        match dir {
            Direction::ToServer => {
                if self.dtls() {
                    let other = self.dserver.buffered();
                    self.dclient.feed(data, other, &mut events, ctx.anomalies);
                } else {
                    self.client.feed(data, &mut events, ctx.anomalies);
                }
                for ev in events.drain(..) {
                    let ccs = ev == Event::Ccs;
                    self.client_event(ev, ctx);
                    if ccs && (self.client.done || self.dclient.done) {
                        // What followed the ChangeCipherSpec is encrypted.
                        break;
                    }
                }
            }
            Direction::ToClient => {
                if self.dtls() {
                    let other = self.dclient.buffered();
                    self.dserver.feed(data, other, &mut events, ctx.anomalies);
                } else {
                    self.server.feed(data, &mut events, ctx.anomalies);
                }
                for ev in events.drain(..) {
                    let ccs = ev == Event::Ccs;
                    self.server_event(ev, ctx);
                    if ccs && (self.server.done || self.dserver.done) {
                        break;
                    }
                }
            }
        }
        self.events = events;
    }

    fn on_gap(&mut self, dir: Direction, _len: u32, ctx: &mut ParseCtx<'_>) {
        match dir {
            Direction::ToServer => self.stop_client(),
            Direction::ToClient => {
                self.stop_server();
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
    Box::new(TlsState::new(transport))
}
