//! LDAP (TCP) and CLDAP (UDP) parser: one `ldap` record per search, with its result, and one
//! per other request with its response. LDAPS is TLS and is not parsed here.
//!
//! - [`parser`]: BER decoding of LDAPMessages and RFC 4515 printing of filters.
//! - [`state`]: per-flow buffering, request/response matching, SASL security layer.
//! - [`record`]: the record body.

pub mod parser;
pub mod probe;
pub mod record;
pub mod state;

pub use record::LdapBody;
pub use state::{new_parser, LdapState};

crate::proto::anomaly::anomalies! {
    /// The anomalies the ldap parser reports.
    LdapAnomaly {
        BufferOverflow = "ldap.buffer_overflow",
        Gap = "ldap.gap",
        /// No LDAPMessage start within 64 KiB of bad framing: the direction waits for a gap.
        Lost = "ldap.lost",
        Malformed = "ldap.malformed",
        /// Bad framing skipped up to the next plausible LDAPMessage start.
        Resync = "ldap.resync",
        SaslWrapped = "ldap.sasl_wrapped",
        TooLarge = "ldap.too_large",
        TooManyPending = "ldap.too_many_pending",
        Truncated = "ldap.truncated",
    }
}
