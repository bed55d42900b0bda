//! TLS handshake parser: ClientHello/ServerHello/Certificate in clear, one `tls` record per
//! handshake with JA3, JA3S and JA4. Over TCP the TLS record layer ([`framing`]), over UDP the
//! DTLS one ([`dtls`]), feeding the same handshake parsing.
//!
//! The parser is sans-IO like every [`AppParser`](crate::proto::AppParser); a parser that sees STARTTLS can hand the
//! rest of its flow to [`new_parser`].

pub mod dtls;
pub mod fingerprint;
pub mod framing;
pub mod parser;
pub mod probe;
pub mod record;
pub mod state;

pub use record::{TlsBody, TlsCert};

pub use state::{new_parser, TlsState};

#[cfg(test)]
mod tests;

crate::proto::anomaly::anomalies! {
    /// The anomalies the tls parser reports.
    TlsAnomaly {
        BadRecord = "tls.bad_record",
        /// A DTLS handshake message that would take the flow's reassembly buffers past
        /// [`dtls::REASSEMBLY_CAP`] (or too many pieces): not reassembled.
        DtlsReassemblyLimit = "tls.dtls_reassembly_limit",
        HandshakeTooLong = "tls.handshake_too_long",
        MalformedCertificate = "tls.malformed_certificate",
        MalformedClientHello = "tls.malformed_client_hello",
        MalformedServerHello = "tls.malformed_server_hello",
        RecordTooLong = "tls.record_too_long",
    }
}
