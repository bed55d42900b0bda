//! Kerberos 5 KDC traffic (AS-REQ/REP, TGS-REQ/REP, KRB-ERROR) over UDP and TCP port 88.
//!
//! - [`parser`]: pure parsing of one message into owned structs.
//! - [`state`]: per-flow TCP framing (4-byte record mark) and request/reply pairing.
//! - [`record`]: the `kerberos` record body.

pub mod parser;
pub mod probe;
pub mod record;
pub mod state;

pub use record::KerberosBody;

use crate::proto::{AppParser, Transport};

/// A Kerberos parser for one flow over `transport`.
pub fn new_parser(transport: Transport) -> Box<dyn AppParser> {
    Box::new(state::KerberosState::new(transport))
}
