//! The `tls` record body.

use serde::Serialize;

use super::fingerprint;
use super::parser::{self, ClientHello, ServerHello};

/// First certificate of the server's chain (TLS 1.2 and older, where it is sent in clear).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsCert {
    /// Subject distinguished name ("CN=example.com, O=Example").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Issuer distinguished name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Start of validity, as written in the certificate (UTCTime/GeneralizedTime, ISO-8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// End of validity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Serial number, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// SHA-1 of the certificate's DER encoding, lowercase hex (the certificate fingerprint
    /// threat-intel feeds list: Zeek `Intel::CERT_HASH`, MISP `x509-fingerprint-sha1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
}

/// `tls` record body: one per handshake (ClientHello and, when seen, the server's answer).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TlsBody {
    /// Server name indication sent by the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// Negotiated version ("TLS 1.3", "TLS 1.2", ...), from the ServerHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The client's legacy hello version ("TLS 1.2", ..., "SSLv2" for an SSLv2 hello).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// Versions offered in the supported_versions extension, in order (GREASE included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_versions: Vec<u16>,
    /// Protocols offered by the client (ALPN), in order.
    pub alpn: Vec<String>,
    /// Protocol selected by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_selected: Option<String>,
    /// Cipher suites offered by the client, in order (GREASE included).
    pub cipher_suites: Vec<u16>,
    /// Cipher suite chosen by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<u16>,
    /// The client's extension types in wire order (GREASE included).
    pub extensions: Vec<u16>,
    /// The server's extension types in wire order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_extensions: Vec<u16>,
    /// Supported groups (elliptic curves) offered by the client.
    pub supported_groups: Vec<u16>,
    /// EC point formats offered by the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ec_point_formats: Vec<u8>,
    /// Signature algorithms offered by the client, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signature_algorithms: Vec<u16>,
    /// Length of the client's session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id_len: Option<u8>,
    /// JA3 (MD5 of `ja3_string`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<String>,
    /// JA3 input string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3_string: Option<String>,
    /// JA3S (MD5 of `ja3s_string`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<String>,
    /// JA3S input string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s_string: Option<String>,
    /// JA4 fingerprint (FoxIO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// The client offered encrypted_client_hello (0xfe0d).
    pub ech: bool,
    /// The hello was an SSLv2-compatible ClientHello.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sslv2: bool,
    /// The server's first certificate (TLS 1.2 and older, DTLS 1.0 and 1.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<TlsCert>,
    /// DTLS: length of the cookie in the ClientHello (0 in a first ClientHello; the one
    /// repeated after a HelloVerifyRequest carries the server's cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_len: Option<u8>,
    /// DTLS: the server answered a first ClientHello with a HelloVerifyRequest (a cookie
    /// exchange) before this handshake; the fields are those of the repeated ClientHello.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hello_verify: bool,
}

/// The record of one handshake: hello fields, fingerprints and the first certificate.
pub(super) fn build(
    ch: Option<ClientHello>,
    sh: Option<ServerHello>,
    cert: Option<TlsCert>,
    dtls: bool,
) -> TlsBody {
    let mut b = TlsBody {
        certificate: cert,
        ..TlsBody::default()
    };
    if let Some(ch) = ch {
        let (s, h) = fingerprint::ja3(&ch);
        b.ja3_string = Some(s);
        b.ja3 = Some(h);
        // JA4's transport letter: 'd' for DTLS ('q', QUIC, has no parser here).
        b.ja4 = Some(fingerprint::ja4_with(&ch, if dtls { 'd' } else { 't' }));
        b.cookie_len = ch.cookie_len;
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
