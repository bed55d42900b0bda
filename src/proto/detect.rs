//! Application-protocol detection: a guess from the ports ([`by_port`]), a look at the first
//! payload bytes ([`probe`]), and the two combined ([`detect`]).
//!
//! Probes are cheap, allocate nothing and are safe on any input: a probe that has not seen
//! enough bytes says "can't tell yet" (`None`) rather than guess. `High` confidence means the
//! bytes carry a structure specific to the protocol (a handshake header, a greeting with the
//! protocol's name, a well-formed first DNS question, ...); `Low` means the bytes fit but are
//! not specific enough to overrule a port.

pub mod other;
pub mod peek;

pub use crate::vocab::{AppProto, Direction, Transport};

use crate::proto::{dns, email, http, kerberos, ldap, tls};
use peek::{Probe, P};

crate::proto::anomaly::anomalies! {
    /// The anomalies of protocol detection.
    DetectAnomaly {
        /// Bytes of one direction past the first ones kept for detection, dropped while the
        /// protocol was not known yet: the parser picked later is told of them as a gap.
        Skipped = "detect.skipped",
        /// A flow handed its stream over more than `handover::MAX_HANDOVERS` times (a tunnel
        /// in a tunnel in ...): it is no longer inspected.
        HandoverLimit = "detect.handover_limit",
    }
}

/// How sure a [`probe`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// The bytes fit, but other protocols could look the same: ports decide.
    Low,
    /// The bytes carry a structure specific to the protocol: overrides ports.
    High,
}

/// Guesses from the ports only. The lower port is tried first (servers usually listen on the
/// lower, well-known port), then the other one.
pub fn by_port(transport: Transport, src_port: u16, dst_port: u16) -> AppProto {
    let (lo, hi) = if src_port <= dst_port {
        (src_port, dst_port)
    } else {
        (dst_port, src_port)
    };
    match port_proto(transport, lo) {
        AppProto::Unknown => port_proto(transport, hi),
        p => p,
    }
}

fn port_proto(transport: Transport, port: u16) -> AppProto {
    match (transport, port) {
        (_, 53) => AppProto::Dns,
        (_, 88) => AppProto::Kerberos,
        (_, 389) => AppProto::Ldap,
        (Transport::Udp, 5353) => AppProto::Mdns,
        // LLMNR (RFC 4795): DNS messages on UDP 5355.
        (Transport::Udp, 5355) => AppProto::Dns,
        (Transport::Udp, 67 | 68) => AppProto::Dhcp,
        (Transport::Udp, 123) => AppProto::Ntp,
        (Transport::Udp, 443) => AppProto::Quic,
        (Transport::Udp, _) => AppProto::Unknown,
        (Transport::Tcp, 80 | 8080 | 8000 | 3128) => AppProto::Http,
        // 993 imaps, 995 pop3s, 465 smtps, 636 ldaps: TLS first.
        (Transport::Tcp, 443 | 8443 | 993 | 995 | 465 | 636) => AppProto::Tls,
        (Transport::Tcp, 3268) => AppProto::Ldap,
        (Transport::Tcp, 25 | 587 | 2525) => AppProto::Smtp,
        (Transport::Tcp, 110) => AppProto::Pop3,
        (Transport::Tcp, 143) => AppProto::Imap,
        (Transport::Tcp, 22) => AppProto::Ssh,
        (Transport::Tcp, 445 | 139) => AppProto::Smb,
        (Transport::Tcp, 21) => AppProto::Ftp,
        (Transport::Tcp, _) => AppProto::Unknown,
    }
}

/// Looks at the first payload bytes of a direction (one datagram for UDP; the first bytes of
/// the reassembled stream for TCP) and says which protocol they are. `None`: can't tell (yet).
pub fn probe(transport: Transport, dir: Direction, data: &[u8]) -> Option<(AppProto, Confidence)> {
    let mut best: Option<(AppProto, Confidence)> = None;
    let probes: &[(AppProto, Probe)] = match transport {
        Transport::Tcp => &[
            (AppProto::Tls, tls::probe::stream),
            (AppProto::Http, http::probe::stream),
            (AppProto::Ssh, other::ssh),
            (AppProto::Smb, other::smb),
            (AppProto::Kerberos, kerberos::probe::tcp),
            (AppProto::Dns, dns::probe::tcp),
            (AppProto::Ldap, ldap::probe::message),
        ],
        Transport::Udp => &[
            (AppProto::Dns, dns::probe::udp),
            (AppProto::Kerberos, kerberos::probe::udp),
            (AppProto::Ldap, ldap::probe::message),
            (AppProto::Tls, tls::probe::datagram),
            (AppProto::Dhcp, other::dhcp),
            (AppProto::Quic, other::quic),
            (AppProto::Ntp, other::ntp),
        ],
    };
    for &(proto, f) in probes {
        match f(data) {
            P::Yes(Confidence::High) => return Some((proto, Confidence::High)),
            P::Yes(Confidence::Low) => {
                best = best.or(Some((proto, Confidence::Low)));
            }
            P::More | P::No => {}
        }
    }
    if transport == Transport::Tcp {
        if let Some(hit) = email::probe::text(dir, data) {
            if hit.1 == Confidence::High {
                return Some(hit);
            }
            best = best.or(Some(hit));
        }
    }
    best
}

/// Whether the first bytes of a TCP direction rule `proto` out: its probe says they cannot
/// start one of its messages (not merely that more bytes are needed). For the binary protocols
/// whose port decides when nothing else matches (DNS, Kerberos, LDAP); false for the others.
pub fn tcp_rules_out(proto: AppProto, data: &[u8]) -> bool {
    let f: Probe = match proto {
        AppProto::Dns => dns::probe::tcp,
        AppProto::Kerberos => kerberos::probe::tcp,
        AppProto::Ldap => ldap::probe::message,
        _ => return false,
    };
    f(data) == P::No
}

/// Combines ports and content: a `High` probe wins over the ports (correcting a port guess the
/// content contradicts, e.g. TLS on port 80); otherwise the ports decide, and a `Low` probe is
/// used only when the ports say nothing.
pub fn detect(
    transport: Transport,
    src_port: u16,
    dst_port: u16,
    dir: Direction,
    data: &[u8],
) -> AppProto {
    let port = by_port(transport, src_port, dst_port);
    match probe(transport, dir, data) {
        // DNS messages on the mDNS port are mDNS.
        Some((AppProto::Dns, _)) if port == AppProto::Mdns => AppProto::Mdns,
        Some((p, Confidence::High)) => p,
        Some((p, Confidence::Low)) if port == AppProto::Unknown => p,
        _ => port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_indexed_by_discriminant() {
        for (i, p) in AppProto::ALL.iter().enumerate() {
            assert_eq!(*p as usize, i);
        }
    }
    use AppProto::*;
    use Direction::{ToClient, ToServer};
    use Transport::{Tcp, Udp};

    /// DER: tag, length, content.
    use crate::proto::ber::encode as tlv;

    fn tls_hello(kind: u8) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend((0..32u8).map(|i| i.wrapping_mul(37)));
        body.push(0); // session id
        if kind == 1 {
            body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]);
        } else {
            body.extend_from_slice(&[0x13, 0x01, 0x00]);
        }
        body.extend_from_slice(&[0x00, 0x00]); // no extensions
        let mut hs = vec![kind, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        rec
    }

    /// A DTLS 1.2 ClientHello datagram (one record, one whole message, empty cookie).
    fn dtls_hello() -> Vec<u8> {
        let mut body = vec![0xfe, 0xfd];
        body.extend((0..32u8).map(|i| i.wrapping_mul(29)));
        body.extend_from_slice(&[0, 0, 0x00, 0x02, 0xc0, 0x2f, 0x01, 0x00]);
        let n = body.len() as u8;
        let mut hs = vec![1, 0, 0, n, 0, 0, 0, 0, 0, 0, 0, n];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        rec
    }

    fn dns_query() -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        v.extend_from_slice(b"\x03www\x07example\x03com\x00");
        v.extend_from_slice(&[0, 1, 0, 1]);
        // EDNS OPT record.
        v.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn dns_response() -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(b"\x07example\x03com\x00");
        v.extend_from_slice(&[0, 1, 0, 1]);
        v.extend_from_slice(&[
            0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 215, 14,
        ]);
        v
    }

    fn mdns_response() -> Vec<u8> {
        let mut v = vec![0, 0, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(b"\x05_http\x04_tcp\x05local\x00");
        v.extend_from_slice(&[0, 12, 0x80, 0x01, 0, 0, 0x11, 0x94, 0, 7]);
        v.extend_from_slice(b"\x04web1\xc0\x0c");
        v
    }

    fn krb_as_req() -> Vec<u8> {
        let mut inner = Vec::new();
        inner.extend_from_slice(&[0xa1, 0x03, 0x02, 0x01, 0x05]);
        inner.extend_from_slice(&[0xa2, 0x03, 0x02, 0x01, 0x0a]);
        let cname = tlv(0x30, &tlv(0x1b, b"alice"));
        let realm = tlv(0x1b, b"EXAMPLE.COM");
        let mut body = tlv(0xa0, &[0x03, 0x05, 0x00, 0x40, 0x81, 0x00, 0x10]);
        body.extend(tlv(0xa1, &cname));
        body.extend(tlv(0xa2, &realm));
        body.extend(tlv(0xa7, &[0x02, 0x04, 0x1d, 0x3c, 0x5a, 0x01]));
        inner.extend(tlv(0xa4, &tlv(0x30, &body)));
        tlv(0x6a, &tlv(0x30, &inner))
    }

    fn krb_error() -> Vec<u8> {
        let mut inner = Vec::new();
        inner.extend_from_slice(&[0xa0, 0x03, 0x02, 0x01, 0x05]);
        inner.extend_from_slice(&[0xa1, 0x03, 0x02, 0x01, 0x1e]);
        inner.extend(tlv(0xa4, &tlv(0x18, b"20240101000000Z")));
        inner.extend(tlv(0xa6, &[0x02, 0x01, 0x19]));
        tlv(0x7e, &tlv(0x30, &inner))
    }

    fn with_record_mark(m: &[u8]) -> Vec<u8> {
        let mut v = (m.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    }

    fn with_len16(m: &[u8]) -> Vec<u8> {
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    }

    const LDAP_BIND: &[u8] = &[
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    const LDAP_SEARCH_DONE: &[u8] = &[
        0x30, 0x0c, 0x02, 0x01, 0x02, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];

    fn smb2_negotiate() -> Vec<u8> {
        let mut v = vec![0x00, 0x00, 0x00, 0x66, 0xfe, b'S', b'M', b'B', 0x40, 0x00];
        v.resize(4 + 0x66, 0);
        v
    }

    fn smb1_negotiate() -> Vec<u8> {
        let mut v = vec![0x00, 0x00, 0x00, 0x2f, 0xff, b'S', b'M', b'B', 0x72];
        v.resize(4 + 0x2f, 0);
        v
    }

    fn quic_initial() -> Vec<u8> {
        let mut v = vec![0xc3, 0x00, 0x00, 0x00, 0x01, 0x08];
        v.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x00, 0x44, 0xd0]);
        v.resize(1200, 0);
        v
    }

    fn dhcp_discover() -> Vec<u8> {
        let mut v = vec![0u8; 236];
        v[..4].copy_from_slice(&[1, 1, 6, 0]);
        v[28..34].copy_from_slice(&[0x00, 0x0c, 0x29, 0x12, 0x34, 0x56]);
        v.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255]);
        v
    }

    fn ntp_client() -> Vec<u8> {
        let mut v = vec![0x23];
        v.resize(48, 0);
        v
    }

    /// (transport, direction, bytes, expected protocol, expected confidence)
    fn fixtures() -> Vec<(Transport, Direction, Vec<u8>, AppProto, Confidence)> {
        use Confidence::{High, Low};
        let t = |s: &str| s.as_bytes().to_vec();
        vec![
            (Tcp, ToServer, t("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"), Http, High),
            (Tcp, ToServer, t("POST /api/v1/login HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"), Http, High),
            (Tcp, ToServer, t("PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\n\r\n"), Http, High),
            (Tcp, ToServer, t("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), Http, High),
            (Tcp, ToServer, t("GET /\r\n\r\n"), Http, High),
            (Tcp, ToServer, t("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Http, High),
            (Tcp, ToClient, t("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), Http, High),
            (Tcp, ToClient, t("HTTP/1.0 404 Not Found\r\n\r\n"), Http, High),
            (Tcp, ToServer, tls_hello(1), Tls, High),
            (Tcp, ToClient, tls_hello(2), Tls, High),
            (Tcp, ToServer, with_len16(&dns_query()), Dns, High),
            (Tcp, ToClient, with_len16(&dns_response()), Dns, High),
            (Udp, ToServer, dns_query(), Dns, High),
            (Udp, ToClient, dns_response(), Dns, High),
            (Udp, ToClient, mdns_response(), Dns, High),
            (Udp, ToServer, krb_as_req(), Kerberos, High),
            (Udp, ToClient, krb_error(), Kerberos, High),
            (Tcp, ToServer, with_record_mark(&krb_as_req()), Kerberos, High),
            (Tcp, ToClient, with_record_mark(&krb_error()), Kerberos, High),
            (Tcp, ToServer, LDAP_BIND.to_vec(), Ldap, High),
            (Tcp, ToClient, LDAP_SEARCH_DONE.to_vec(), Ldap, High),
            (Udp, ToServer, LDAP_BIND.to_vec(), Ldap, High),
            (Tcp, ToClient, t("220 mx.example.com ESMTP Postfix (Ubuntu)\r\n"), Smtp, High),
            (Tcp, ToServer, t("EHLO client.example.org\r\n"), Smtp, High),
            (Tcp, ToClient, t("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"), Pop3, High),
            (Tcp, ToServer, t("CAPA\r\n"), Pop3, High),
            (Tcp, ToClient, t("* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE STARTTLS AUTH=PLAIN] Dovecot ready.\r\n"), Imap, High),
            (Tcp, ToServer, t("a001 CAPABILITY\r\n"), Imap, High),
            (Tcp, ToServer, t("A1 LOGIN alice secret\r\n"), Imap, High),
            (Tcp, ToClient, t("220 (vsFTPd 3.0.5)\r\n"), Ftp, High),
            (Tcp, ToServer, t("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"), Ssh, High),
            (Tcp, ToClient, t("SSH-1.99-Cisco-1.25\r\n"), Ssh, High),
            (Tcp, ToServer, smb2_negotiate(), Smb, High),
            (Tcp, ToServer, smb1_negotiate(), Smb, High),
            (Udp, ToServer, dhcp_discover(), Dhcp, High),
            (Udp, ToServer, dtls_hello(), Tls, High),
            (Udp, ToServer, quic_initial(), Quic, Low),
            (Udp, ToServer, ntp_client(), Ntp, Low),
        ]
    }

    #[test]
    fn each_fixture_is_recognised() {
        for (tr, dir, bytes, proto, conf) in fixtures() {
            assert_eq!(
                probe(tr, dir, &bytes),
                Some((proto, conf)),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn prefixes_never_give_a_wrong_high_answer() {
        for (tr, dir, bytes, proto, _) in fixtures() {
            for n in 0..=bytes.len() {
                for d in [dir, ToServer, ToClient] {
                    if let Some((p, Confidence::High)) = probe(tr, d, &bytes[..n]) {
                        assert_eq!(
                            p,
                            proto,
                            "prefix {n} of {:?}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                }
                let _ = detect(tr, 40000, 40001, dir, &bytes[..n]);
            }
        }
    }

    #[test]
    fn tcp_rules_out_only_what_cannot_be_the_protocol() {
        // A record mark of 0x7fffffff, an LDAPMessage of 0x7fffffff bytes, a DNS length of 3.
        assert!(tcp_rules_out(Kerberos, &[0x7f, 0xff, 0xff, 0xff, 0x6a]));
        assert!(tcp_rules_out(
            Ldap,
            &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 2, 1, 1, 0x5a]
        ));
        assert!(tcp_rules_out(Dns, &[0, 3, 1, 2, 3]));
        // Prefixes of real messages are never ruled out, whatever their length.
        for (tr, _, bytes, proto, _) in fixtures() {
            if tr == Tcp && matches!(proto, Dns | Kerberos | Ldap) {
                for n in 0..=bytes.len() {
                    assert!(!tcp_rules_out(proto, &bytes[..n]), "{proto:?} prefix {n}");
                }
            }
        }
        // Only the binary protocols whose port decides.
        assert!(!tcp_rules_out(Http, b"\x00\x01 junk"));
        assert!(!tcp_rules_out(Unknown, b"junk"));
    }

    #[test]
    fn ports() {
        assert_eq!(by_port(Tcp, 51234, 443), Tls);
        assert_eq!(by_port(Tcp, 443, 51234), Tls);
        assert_eq!(by_port(Tcp, 50000, 993), Tls);
        assert_eq!(by_port(Tcp, 50000, 80), Http);
        assert_eq!(by_port(Tcp, 50000, 3128), Http);
        assert_eq!(by_port(Tcp, 50000, 22), Ssh);
        assert_eq!(by_port(Tcp, 50000, 445), Smb);
        assert_eq!(by_port(Tcp, 50000, 3268), Ldap);
        assert_eq!(by_port(Tcp, 50000, 53), Dns);
        assert_eq!(by_port(Udp, 50000, 53), Dns);
        assert_eq!(by_port(Udp, 5353, 5353), Mdns);
        assert_eq!(by_port(Udp, 68, 67), Dhcp);
        assert_eq!(by_port(Udp, 50000, 123), Ntp);
        assert_eq!(by_port(Udp, 50000, 443), Quic);
        assert_eq!(by_port(Udp, 50000, 88), Kerberos);
        assert_eq!(by_port(Tcp, 50000, 21), Ftp);
        // The lower, well-known port wins over a well-known client port.
        assert_eq!(by_port(Tcp, 8080, 25), Smtp);
        assert_eq!(by_port(Tcp, 49152, 50000), Unknown);
        assert_eq!(by_port(Udp, 50000, 80), Unknown);
        assert_eq!(Unknown.as_str(), "unknown");
        assert_eq!(Kerberos.as_str(), "kerberos");
        assert_eq!(Pop3.as_str(), "pop3");
    }

    #[test]
    fn content_and_ports_combined() {
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(detect(Tcp, 51000, 8080, ToServer, get), Http);
        assert_eq!(detect(Tcp, 51000, 4444, ToServer, get), Http);
        assert_eq!(detect(Udp, 40000, 5300, ToServer, &dns_query()), Dns);
        assert_eq!(detect(Tcp, 51000, 80, ToServer, &tls_hello(1)), Tls);
        assert_eq!(detect(Tcp, 80, 51000, ToClient, &tls_hello(2)), Tls);
        assert_eq!(detect(Udp, 5353, 5353, ToClient, &mdns_response()), Mdns);
        // Nothing to go on but ports.
        assert_eq!(detect(Tcp, 51000, 443, ToServer, b""), Tls);
        assert_eq!(detect(Tcp, 51000, 80, ToServer, b"\x00\x01garbage"), Http);
        // Low content does not overrule a port, but is used when ports say nothing.
        assert_eq!(detect(Tcp, 51000, 21, ToServer, b"USER anonymous\r\n"), Ftp);
        assert_eq!(detect(Tcp, 51000, 7000, ToServer, b"USER bob\r\n"), Pop3);
        assert_eq!(detect(Udp, 51000, 443, ToServer, &quic_initial()), Quic);
        assert_eq!(detect(Udp, 51000, 123, ToServer, &quic_initial()), Ntp);
        // DTLS on the QUIC port, and a ClientHello as TLS over UDP is not DTLS.
        assert_eq!(detect(Udp, 51000, 443, ToServer, &dtls_hello()), Tls);
        assert_eq!(detect(Udp, 51000, 40000, ToServer, &tls_hello(1)), Unknown);
        // Garbage.
        assert_eq!(
            detect(Tcp, 51000, 40000, ToServer, b"\x8f\x13zz\x00\x00qwerty"),
            Unknown
        );
        assert_eq!(detect(Udp, 51000, 40000, ToServer, &[0xaa; 64]), Unknown);
        assert_eq!(detect(Tcp, 51000, 40000, ToClient, b""), Unknown);
        // Not quite: truncated DNS datagram, HTTP/1.x with a bad status code.
        let q = dns_query();
        assert_eq!(probe(Udp, ToServer, &q[..20]), None);
        assert_eq!(probe(Tcp, ToClient, b"HTTP/1.1 2x0 OK\r\n"), None);
        assert_eq!(probe(Tcp, ToServer, b"GETS / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn random_bytes_do_not_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut buf = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 300) as usize;
            buf.clear();
            for i in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly protocol-ish first bytes, to get past the first checks.
                buf.push(match (i, x % 4) {
                    (0, 0) => 0x16,
                    (0, 1) => 0x30,
                    (0, 2) => 0x6a,
                    _ => x as u8,
                });
            }
            for tr in [Tcp, Udp] {
                for dir in [ToServer, ToClient] {
                    let _ = probe(tr, dir, &buf);
                }
            }
        }
    }
}
