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
pub use state::{new_parser, KerberosState};

crate::proto::anomaly::anomalies! {
    /// The anomalies the kerberos parser reports.
    KerberosAnomaly {
        EmptyMessage = "kerberos.empty_message",
        Gap = "kerberos.gap",
        Malformed = "kerberos.malformed",
        RecordMarkReservedBit = "kerberos.record_mark_reserved_bit",
        RecordTooLarge = "kerberos.record_too_large",
        TooManyPending = "kerberos.too_many_pending",
        UnknownMessage = "kerberos.unknown_message",
    }
}
