//! Application protocols: detection of the protocol a flow speaks, and one folder per parser.
//!
//! Every parser implements [`AppParser`]: it is fed the ordered bytes of one direction (TCP,
//! after reassembly) or one datagram (UDP), never reads a clock and does no I/O, and emits
//! record bodies into [`ParseCtx`]. The worker adds the flow and the time and hands them on.

pub mod anomaly;
pub mod ber;
pub mod conversation;
pub mod detect;
pub mod dns;
pub mod email;
pub mod handover;
pub mod http;
pub mod kerberos;
pub mod ldap;
pub mod tls;

pub use detect::{
    by_port, detect, probe, tcp_rules_out, AppProto, Confidence, Direction, Transport,
};
pub use handover::{Handover, Link};

/// The record bodies the parsers produce. `record::Body` converts from it (`From`), so the
/// record layer imports the parsers and never the reverse.
// Bodies are built once and moved in batches; boxing each would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum AppBody {
    Dns(dns::DnsBody),
    Http(http::HttpBody),
    File(crate::files::FileBody),
    Email(email::EmailBody),
    Kerberos(kerberos::KerberosBody),
    Ldap(ldap::LdapBody),
    Tls(tls::TlsBody),
}

/// A record body emitted by a parser, at the time of the packet that completed it.
#[derive(Debug)]
pub struct Emitted {
    pub ts_ns: u64,
    pub body: AppBody,
    /// The session this record's stream was handed over from (set by the worker).
    pub parent: Option<Link>,
}

/// What a parser sees of the world while it handles data.
pub struct ParseCtx<'a> {
    /// Capture time of the packet that delivered the bytes.
    pub ts_ns: u64,
    /// The transport the bytes came over.
    pub transport: Transport,
    /// Records produced.
    pub out: &'a mut Vec<Emitted>,
    /// Named anomaly events ("kerberos.malformed", ...), counted by the worker.
    pub anomalies: &'a mut Vec<&'static str>,
}

impl ParseCtx<'_> {
    pub fn emit(&mut self, body: AppBody) {
        // The one cap a file meets whatever protocol carries it, counted here for all.
        if let AppBody::File(f) = &body {
            if f.pe_too_large {
                self.anomaly("file.pe_too_large");
            }
        }
        self.out.push(Emitted {
            ts_ns: self.ts_ns,
            body,
            parent: None,
        });
    }
    pub fn anomaly(&mut self, name: &'static str) {
        self.anomalies.push(name);
    }
}

/// A sans-IO application-layer parser for one flow.
pub trait AppParser: Send + std::fmt::Debug {
    /// Bytes from one direction: the next part of the ordered stream (TCP) or one whole
    /// datagram (UDP).
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut ParseCtx<'_>);
    /// `len` bytes of the stream were never captured: resynchronise.
    fn on_gap(&mut self, dir: Direction, len: u32, ctx: &mut ParseCtx<'_>) {
        let _ = (dir, len, ctx);
    }
    /// The flow ended: emit what is pending (e.g. unanswered requests).
    fn on_close(&mut self, ctx: &mut ParseCtx<'_>) {
        let _ = ctx;
    }
    /// The rest of the stream is another protocol (StartTLS answered, CONNECT answered 2xx):
    /// the parser stopped and hands on what it holds. Asked after every call; `None` by
    /// default.
    fn take_handover(&mut self) -> Option<Handover> {
        None
    }
}

/// The parser for a detected protocol, when there is one.
pub fn parser_for(proto: AppProto, transport: Transport) -> Option<Box<dyn AppParser>> {
    match proto {
        AppProto::Dns | AppProto::Mdns => Some(dns::new_parser(transport)),
        AppProto::Http => Some(http::new_parser(transport)),
        AppProto::Smtp => Some(email::smtp::new_parser(transport)),
        AppProto::Pop3 => Some(email::pop3::new_parser(transport)),
        AppProto::Imap => Some(email::imap::new_parser(transport)),
        AppProto::Kerberos => Some(kerberos::new_parser(transport)),
        AppProto::Ldap => Some(ldap::new_parser(transport)),
        AppProto::Tls => Some(tls::new_parser(transport)),
        _ => None,
    }
}
