#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Unit tests with byte fixtures from zeek_tls13-ech.pcap (Chrome 118 to cloudflare-ech.com).

use super::parser::{is_grease, parse_client_hello};
use super::*;
use crate::proto::Emitted;
use crate::proto::{AppBody, AppParser, Direction, ParseCtx, Transport};
use crate::util::hex::decode;

/// TLS record carrying Chrome's ClientHello (frame 7 of zeek_tls13-ech.pcap).
const CH_HEX: &str = "1603010200010001fc0303d820986a1fb4dc3a70fac91f1359ff5e320c6a5e07397ab36f8c513be4585f5d207c77f968ecbeda040598f47af5265fb5f0f5ef3279f08b43d03c31a57ce0c63000202a2a130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f003501000193dada0000ff010001000010000e000c02683208687474702f312e31000d00120010040308040401050308050501080606010033002b00291a1a000100001d0020231cb3a7bde0d15d97dfdfc4d315b112899e9480d1dc7a0e739c4058bbe7276d002d0002010144690005000302683200230000002b0007068a8a03040303000a000a00081a1a001d00170018fe0d00ba0000010001d10020cce5c83299bb8dffdb74bafd0a1d524b82973e224c12999beed169ee7a9ad67d00900b7b2dc3b17adb2eabc1f7fabb61bdd5db777336a9da3679c5373ff69f0087b9453bd3ec42b6d17b1b7d024cd7c4b627d1b0cd3ae9fbe5422f132187789d6c7f89f29201ff0e64853d3988adb723fff552447ebd087a55422abe568a8dfe4596a5820f134ec9f192620e4b36776431e14e35a6c9ddbe912359b1bde0d74a062e634eb5ced3063bed83f0b562f26278030017000000050005010000000000120000000b00020100000000170015000012636c6f7564666c6172652d6563682e636f6d001b00030200029a9a0001000015000700000000000000";
/// TLS record carrying the ServerHello (TLS 1.3) of the same flow.
const SH_HEX: &str = "160303007a020000760303cd86afb4bb270220f3b7c330c6fc84b3ada6a00d98b285a5022de6f5ced70efc207c77f968ecbeda040598f47af5265fb5f0f5ef3279f08b43d03c31a57ce0c630130100002e002b0002030400330024001d00200ff6e1452d32666a0036d0071dbfceaddc648e2d5aa6fd1c530c3f15f823271f";

const JA3: &str = "2fcbf8655473005933c5869b2b5d8044";
const JA3_STRING: &str = "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,65281-16-13-51-45-17513-35-43-10-65037-23-5-18-11-0-27-21,29-23-24,0";
const JA4: &str = "t13d1517h2_8daaf6152771_b1ff8ab2d16f";

struct Run {
    out: Vec<Emitted>,
    anomalies: Vec<&'static str>,
}

impl Run {
    fn new() -> Self {
        Run {
            out: Vec::new(),
            anomalies: Vec::new(),
        }
    }
    fn feed(&mut self, p: &mut dyn AppParser, dir: Direction, data: &[u8]) {
        let mut ctx = ParseCtx {
            ts_ns: 1,
            transport: Transport::Tcp,
            out: &mut self.out,
            anomalies: &mut self.anomalies,
        };
        p.on_data(dir, data, &mut ctx);
    }
    fn close(&mut self, p: &mut dyn AppParser) {
        let mut ctx = ParseCtx {
            ts_ns: 2,
            transport: Transport::Tcp,
            out: &mut self.out,
            anomalies: &mut self.anomalies,
        };
        p.on_close(&mut ctx);
    }
    fn bodies(&self) -> Vec<TlsBody> {
        self.out
            .iter()
            .map(|e| match &e.body {
                AppBody::Tls(b) => b.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }
}

fn whole() -> TlsBody {
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &decode(CH_HEX).unwrap());
    r.feed(p.as_mut(), Direction::ToClient, &decode(SH_HEX).unwrap());
    r.close(p.as_mut());
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    b.into_iter().next().unwrap()
}

#[test]
fn client_hello_fields_and_fingerprints() {
    let rec = decode(CH_HEX).unwrap();
    let ch = parse_client_hello(&rec[9..]).unwrap();
    assert_eq!(ch.sni.as_deref(), Some("cloudflare-ech.com"));
    assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(ch.supported_versions, vec![0x8a8a, 0x0304, 0x0303]);
    assert_eq!(ch.session_id_len, 32);
    assert!(ch.ech());
    assert_eq!(
        fingerprint::ja3(&ch),
        (JA3_STRING.to_string(), JA3.to_string())
    );
    assert_eq!(fingerprint::ja4(&ch, false), JA4);
}

#[test]
fn record_with_server_hello() {
    let b = whole();
    assert_eq!(b.sni.as_deref(), Some("cloudflare-ech.com"));
    assert_eq!(b.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(b.client_version.as_deref(), Some("TLS 1.2"));
    assert_eq!(b.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(b.cipher_suite, Some(0x1301));
    assert_eq!(b.ja3.as_deref(), Some(JA3));
    assert_eq!(b.ja3s.as_deref(), Some("f4febc55ea12b31ae17cfb7e614afda8"));
    assert_eq!(b.ja3s_string.as_deref(), Some("771,4865,43-51"));
    assert_eq!(b.ja4.as_deref(), Some(JA4));
    assert!(b.ech);
    let j = serde_json::to_value(&b).unwrap();
    assert_eq!(j["sni"], "cloudflare-ech.com");
    assert_eq!(j["ja4"], JA4);
}

#[test]
fn one_byte_at_a_time() {
    let (ch, sh) = (decode(CH_HEX).unwrap(), decode(SH_HEX).unwrap());
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    for b in &ch {
        r.feed(p.as_mut(), Direction::ToServer, std::slice::from_ref(b));
    }
    for b in &sh {
        r.feed(p.as_mut(), Direction::ToClient, std::slice::from_ref(b));
    }
    r.close(p.as_mut());
    assert_eq!(r.bodies(), vec![whole()]);
}

#[test]
fn every_split_point() {
    let ch = decode(CH_HEX).unwrap();
    let expected = whole().ja3;
    for cut in 0..=ch.len() {
        let mut p = new_parser(Transport::Tcp);
        let mut r = Run::new();
        r.feed(p.as_mut(), Direction::ToServer, &ch[..cut]);
        r.feed(p.as_mut(), Direction::ToServer, &ch[cut..]);
        r.close(p.as_mut());
        let b = r.bodies();
        assert_eq!(b.len(), 1, "cut {cut}");
        assert_eq!(b[0].ja3, expected, "cut {cut}");
        assert!(r.anomalies.is_empty());
    }
}

/// The handshake message re-cut into TLS records of `size` bytes each.
fn refragment(rec: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in rec[5..].chunks(size) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[test]
fn hello_over_many_records() {
    let ch = decode(CH_HEX).unwrap();
    for size in [1, 2, 3, 4, 5, 7, 100, 511] {
        let mut p = new_parser(Transport::Tcp);
        let mut r = Run::new();
        r.feed(p.as_mut(), Direction::ToServer, &refragment(&ch, size));
        r.close(p.as_mut());
        let b = r.bodies();
        assert_eq!(b.len(), 1, "size {size}");
        assert_eq!(b[0].ja4.as_deref(), Some(JA4));
    }
}

#[test]
fn two_messages_in_one_record() {
    // ServerHello followed by a (fake, empty) ServerHelloDone in the same TLS 1.2 record.
    let mut body = Vec::new();
    let mut hello = vec![3, 3];
    hello.extend_from_slice(&[0u8; 32]);
    hello.extend_from_slice(&[0, 0xc0, 0x2f, 0, 0, 0]);
    body.extend_from_slice(&[2, 0, 0, hello.len() as u8]);
    body.extend_from_slice(&hello);
    body.extend_from_slice(&[14, 0, 0, 0]);
    let mut rec = vec![22, 3, 3];
    rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
    rec.extend_from_slice(&body);
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &decode(CH_HEX).unwrap());
    r.feed(p.as_mut(), Direction::ToClient, &rec);
    let b = r.bodies();
    assert_eq!(b.len(), 1, "emitted at ServerHelloDone");
    assert_eq!(b[0].version.as_deref(), Some("TLS 1.2"));
    assert_eq!(b[0].cipher_suite, Some(0xc02f));
    assert_eq!(b[0].ja3s_string.as_deref(), Some("771,49199,"));
    r.close(p.as_mut());
    assert_eq!(r.bodies().len(), 1);
}

#[test]
fn client_only_emitted_at_close() {
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &decode(CH_HEX).unwrap());
    assert!(r.out.is_empty());
    r.close(p.as_mut());
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert!(b[0].ja3s.is_none() && b[0].version.is_none());
}

#[test]
fn grease_values() {
    let all: Vec<u16> = (0..=0xffffu16).filter(|v| is_grease(*v)).collect();
    let want: Vec<u16> = (0..16u16)
        .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
        .collect();
    assert_eq!(all, want);
    assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a1a));
}

#[test]
fn grease_excluded_from_fingerprints() {
    let rec = decode(CH_HEX).unwrap();
    let mut ch = parse_client_hello(&rec[9..]).unwrap();
    let base = (fingerprint::ja3(&ch), fingerprint::ja4(&ch, false));
    ch.ciphers.insert(3, 0x5a5a);
    ch.extensions.push(0xeaea);
    ch.groups.insert(0, 0x3a3a);
    ch.supported_versions.push(0xfafa);
    assert_eq!((fingerprint::ja3(&ch), fingerprint::ja4(&ch, false)), base);
}

#[test]
fn sslv2_hello() {
    // SSLv2 header (len 0x1c... computed), ClientHello, version 3.1, 2 cipher specs, challenge 16.
    let mut msg = vec![1, 3, 1, 0, 6, 0, 0, 0, 16];
    msg.extend_from_slice(&[0, 0, 0x2f, 0x01, 0x00, 0x80]);
    msg.extend_from_slice(&[0xaa; 16]);
    let mut data = vec![0x80, msg.len() as u8];
    data.extend_from_slice(&msg);
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &data);
    r.close(p.as_mut());
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert!(b[0].sslv2);
    assert_eq!(b[0].client_version.as_deref(), Some("SSLv2"));
    assert_eq!(b[0].cipher_suites, vec![0x002f]);
}

#[test]
fn garbage_and_gap_stop_parsing() {
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(r.anomalies, vec!["tls.bad_record"]);
    r.feed(p.as_mut(), Direction::ToServer, &decode(CH_HEX).unwrap());
    r.close(p.as_mut());
    assert!(r.out.is_empty());

    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    let ch = decode(CH_HEX).unwrap();
    r.feed(p.as_mut(), Direction::ToServer, &ch[..100]);
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut r.out,
        anomalies: &mut r.anomalies,
    };
    p.on_gap(Direction::ToServer, 10, &mut ctx);
    r.feed(p.as_mut(), Direction::ToServer, &ch[110..]);
    r.close(p.as_mut());
    assert!(r.out.is_empty());
}

#[test]
fn oversized_handshake_is_cut() {
    let mut data = Vec::new();
    let len = framing::MAX_HANDSHAKE + 10;
    let mut hs = vec![11u8, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    hs.extend(std::iter::repeat_n(0u8, len));
    hs.extend_from_slice(&[14, 0, 0, 0]);
    for c in hs.chunks(16384) {
        data.extend_from_slice(&[22, 3, 3]);
        data.extend_from_slice(&(c.len() as u16).to_be_bytes());
        data.extend_from_slice(c);
    }
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToClient, &data);
    assert!(r.anomalies.contains(&"tls.handshake_too_long"));
}

#[test]
fn mutated_fixtures_do_not_panic() {
    let ch = decode(CH_HEX).unwrap();
    let sh = decode(SH_HEX).unwrap();
    for i in 0..ch.len() {
        for v in [0x00u8, 0xff, 0x80] {
            let mut m = ch.clone();
            m[i] = v;
            let mut p = new_parser(Transport::Tcp);
            let mut r = Run::new();
            for c in m.chunks(1 + i % 13) {
                r.feed(p.as_mut(), Direction::ToServer, c);
            }
            r.feed(p.as_mut(), Direction::ToClient, &sh);
            r.close(p.as_mut());
            assert!(r.out.len() <= 2);
        }
    }
}

/// A handshake record holding a TLS 1.3 ServerHello (or HelloRetryRequest) choosing 0x1301.
fn server_hello_13(retry: bool) -> Vec<u8> {
    let mut hello = vec![3, 3];
    if retry {
        hello.extend_from_slice(
            &decode("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c").unwrap(),
        );
    } else {
        hello.extend_from_slice(&[7u8; 32]);
    }
    hello.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut rec = vec![
        22,
        3,
        3,
        0,
        hello.len() as u8 + 4,
        2,
        0,
        0,
        hello.len() as u8,
    ];
    rec.extend_from_slice(&hello);
    rec
}

#[test]
fn hello_retry_request_with_dummy_ccs() {
    let ch = decode(CH_HEX).unwrap();
    let ccs = [20u8, 3, 3, 0, 1, 1];
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &ch);
    let mut s = server_hello_13(true);
    s.extend_from_slice(&ccs);
    r.feed(p.as_mut(), Direction::ToClient, &s);
    assert!(r.out.is_empty(), "no record at a HelloRetryRequest");
    let mut c = ccs.to_vec();
    c.extend_from_slice(&ch);
    r.feed(p.as_mut(), Direction::ToServer, &c);
    r.feed(p.as_mut(), Direction::ToClient, &server_hello_13(false));
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].version.as_deref(), Some("TLS 1.3"));
    assert_eq!(b[0].ja3.as_deref(), Some(JA3));
    r.close(p.as_mut());
    assert_eq!(r.bodies().len(), 1);
}

#[test]
fn version_names() {
    use super::parser::version_name;
    assert_eq!(version_name(0x0304), "TLS 1.3");
    assert_eq!(version_name(0x0300), "SSL 3.0");
    assert_eq!(version_name(0x7f17), "TLS 1.3 draft 23");
    assert_eq!(version_name(0xfb1a), "TLS 1.3 (Facebook draft 26)");
    assert_eq!(version_name(0x1234), "0x1234");
}

#[test]
fn attribute_names_and_dotted_oids() {
    use super::parser::{attribute_name, dotted_oid};
    assert_eq!(attribute_name(&[0x55, 0x04, 9]), "street");
    assert_eq!(attribute_name(&[0x55, 0x04, 17]), "postalCode");
    assert_eq!(attribute_name(&[0x55, 0x04, 5]), "serialNumber");
    assert_eq!(attribute_name(&[0x55, 0x04, 12]), "title");
    assert_eq!(attribute_name(&[0x55, 0x04, 42]), "givenName");
    assert_eq!(attribute_name(&[0x55, 0x04, 4]), "SN");
    assert_eq!(attribute_name(&[0x55, 0x04, 43]), "initials");
    assert_eq!(attribute_name(&[0x55, 0x04, 44]), "generationQualifier");
    assert_eq!(attribute_name(&[0x55, 0x04, 46]), "dnQualifier");
    assert_eq!(attribute_name(&[0x55, 0x04, 65]), "pseudonym");
    assert_eq!(attribute_name(&[0x55, 0x04, 15]), "businessCategory");
    assert_eq!(attribute_name(&[0x55, 0x04, 97]), "organizationIdentifier");
    let jur = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 2, 1];
    for (last, want) in [
        (1, "jurisdictionL"),
        (2, "jurisdictionST"),
        (3, "jurisdictionC"),
    ] {
        let mut o = jur.to_vec();
        o.push(last);
        assert_eq!(attribute_name(&o), want);
    }
    let dc = [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01];
    assert_eq!(attribute_name(&[&dc[..], &[0x19]].concat()), "DC");
    assert_eq!(attribute_name(&[&dc[..], &[0x01]].concat()), "UID");
    assert_eq!(
        dotted_oid(&[&dc[..], &[0x19]].concat()).as_deref(),
        Some("0.9.2342.19200300.100.1.25")
    );
    // Unknown: dotted; 2.999 (first arc over 79) and a multi-byte arc.
    assert_eq!(attribute_name(&[0x2a, 0x03, 0x04, 0x05]), "1.2.3.4.5");
    assert_eq!(attribute_name(&[0x88, 0x37, 0x01]), "2.999.1");
    assert_eq!(attribute_name(&[0x55, 0x04, 0x81, 0x00]), "2.5.4.128");
    // Not an OID encoding (ends inside an arc, or empty): hex, marked.
    assert_eq!(attribute_name(&[0x55, 0x84]), "OID.5584");
    assert_eq!(attribute_name(&[]), "OID.");
    assert_eq!(dotted_oid(&[0xff; 12]), None);
}

/// A draft-18 (0x7f12) ServerHello: no session id echo, no compression method, key_share.
fn server_hello_draft(version: u16) -> Vec<u8> {
    let mut hello = version.to_be_bytes().to_vec();
    hello.extend_from_slice(&[9u8; 32]);
    hello.extend_from_slice(&[0x13, 0x01]);
    let ks = [0u8, 0x1d, 0, 4, 1, 2, 3, 4];
    hello.extend_from_slice(&[0, (ks.len() + 4) as u8, 0, 51, 0, ks.len() as u8]);
    hello.extend_from_slice(&ks);
    let mut rec = vec![
        22,
        3,
        1,
        0,
        hello.len() as u8 + 4,
        2,
        0,
        0,
        hello.len() as u8,
    ];
    rec.extend_from_slice(&hello);
    rec
}

#[test]
fn tls13_draft_server_hello_before_draft_22() {
    use super::parser::{is_early_draft, parse_server_hello};
    let rec = server_hello_draft(0x7f12);
    let sh = parse_server_hello(&rec[9..]).unwrap();
    assert_eq!(sh.version, 0x7f12);
    assert_eq!(sh.cipher, 0x1301);
    assert_eq!(sh.extensions, vec![51]);
    assert!(is_early_draft(0x7f12) && is_early_draft(0x7f15));
    assert!(!is_early_draft(0x7f16) && !is_early_draft(0x0304) && !is_early_draft(0xfb1a));

    // A draft-18 client: supported_versions [draft 18, 1.2]; the record is emitted at the
    // ServerHello (the rest is encrypted), named as a draft, nothing malformed.
    let mut ch = parse_client_hello(&decode(CH_HEX).unwrap()[9..]).unwrap();
    ch.supported_versions = vec![0x7f12, 0x0303];
    assert!(fingerprint::ja4(&ch, false).starts_with("t13d"));
    ch.supported_versions = vec![0x0303, 0xfb1a];
    assert!(fingerprint::ja4(&ch, false).starts_with("t13d"));

    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &decode(CH_HEX).unwrap());
    r.feed(p.as_mut(), Direction::ToClient, &rec);
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].version.as_deref(), Some("TLS 1.3 draft 18"));
    assert_eq!(b[0].cipher_suite, Some(0x1301));
    assert_eq!(b[0].ja3s_string.as_deref(), Some("32530,4865,51"));
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn tls13_draft_23_server_hello_has_the_final_layout() {
    // Draft 22 on: legacy_version 0x0303, session id echo, compression, supported_versions
    // naming the draft.
    let mut hello = vec![3, 3];
    hello.extend_from_slice(&[7u8; 32]);
    hello.extend_from_slice(&[0, 0x13, 0x02, 0, 0, 6, 0, 43, 0, 2, 0x7f, 0x17]);
    let mut rec = vec![
        22,
        3,
        3,
        0,
        hello.len() as u8 + 4,
        2,
        0,
        0,
        hello.len() as u8,
    ];
    rec.extend_from_slice(&hello);
    let mut p = new_parser(Transport::Tcp);
    let mut r = Run::new();
    r.feed(p.as_mut(), Direction::ToServer, &decode(CH_HEX).unwrap());
    r.feed(p.as_mut(), Direction::ToClient, &rec);
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].version.as_deref(), Some("TLS 1.3 draft 23"));
    assert!(r.anomalies.is_empty());
}

#[test]
fn ja4_version_ranks_dtls_and_drafts() {
    let mut ch = parse_client_hello(&decode(CH_HEX).unwrap()[9..]).unwrap();
    for (versions, want) in [
        (vec![0xfefc, 0xfefd], "td3"),
        (vec![0xfefd, 0xfeff], "td2"),
        (vec![0x0304, 0x7f1c, 0x0303], "t13"),
        (vec![0x0302, 0x0301], "t11"),
    ] {
        ch.supported_versions = versions.clone();
        let j = fingerprint::ja4(&ch, false);
        assert!(j.starts_with(want), "{versions:x?}: {j}");
    }
}

// ---- DTLS ----

/// A DTLS record: type, version, epoch, 48-bit sequence number, length, body.
fn dtls_rec(typ: u8, version: u16, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A DTLS handshake fragment: 12-byte header and `msg[off..off + len]`.
fn dtls_hs(typ: u8, msg_seq: u16, msg: &[u8], off: usize, len: usize) -> Vec<u8> {
    let mut h = vec![typ];
    h.extend_from_slice(&(msg.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&msg_seq.to_be_bytes());
    h.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&msg[off..off + len]);
    h
}

/// One handshake record of DTLS 1.2, epoch 0, holding one fragment.
fn dtls_frag(seq: u64, typ: u8, msg_seq: u16, msg: &[u8], off: usize, len: usize) -> Vec<u8> {
    dtls_rec(22, 0xfefd, 0, seq, &dtls_hs(typ, msg_seq, msg, off, len))
}

/// Chrome's ClientHello as DTLS 1.2 sends it: version 0xfefd and a cookie after the session id.
fn dtls_ch_body(cookie: &[u8]) -> Vec<u8> {
    let tls = decode(CH_HEX).unwrap()[9..].to_vec();
    let mut b = vec![0xfe, 0xfd];
    b.extend_from_slice(&tls[2..67]);
    b.push(cookie.len() as u8);
    b.extend_from_slice(cookie);
    b.extend_from_slice(&tls[67..]);
    b
}

/// A DTLS ServerHello body: `version`, cipher 0xc02f, optional supported_versions.
fn dtls_sh_body(version: u16, selected: Option<u16>) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend_from_slice(&[5u8; 32]);
    b.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    if let Some(v) = selected {
        b.extend_from_slice(&[0, 6, 0, 43, 0, 2]);
        b.extend_from_slice(&v.to_be_bytes());
    }
    b
}

const DTLS_JA3_STRING: &str = "65277,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,65281-16-13-51-45-17513-35-43-10-65037-23-5-18-11-0-27-21,29-23-24,0";

fn run_udp(datagrams: &[(Direction, Vec<u8>)]) -> Run {
    let mut p = new_parser(Transport::Udp);
    let mut r = Run::new();
    for (d, g) in datagrams {
        r.feed(p.as_mut(), *d, g);
    }
    r.close(p.as_mut());
    r
}

#[test]
fn dtls_client_hello_parses_the_cookie() {
    let ch = parser::parse_dtls_client_hello(&dtls_ch_body(&[9; 20])).unwrap();
    assert_eq!(ch.cookie_len, Some(20));
    assert_eq!(ch.version, 0xfefd);
    assert_eq!(ch.sni.as_deref(), Some("cloudflare-ech.com"));
    assert_eq!(fingerprint::ja3_string(&ch), DTLS_JA3_STRING);
    assert_eq!(fingerprint::ja4_with(&ch, 'd'), format!("d{}", &JA4[1..]));
    // As TLS the cookie is read as the cipher suites' length: not the same hello.
    assert_ne!(parse_client_hello(&dtls_ch_body(&[9; 20])).ok(), Some(ch));
}

#[test]
fn dtls_fragmented_client_hello_out_of_order_and_duplicated() {
    let body = dtls_ch_body(&[]);
    let n = body.len();
    let (a, b) = (150, 300);
    let up = Direction::ToServer;
    let r = run_udp(&[
        (up, dtls_frag(1, 1, 0, &body, a, b - a)),
        (up, dtls_frag(0, 1, 0, &body, 0, a)),
        // Retransmitted middle fragment, overlapping the next one.
        (up, dtls_frag(3, 1, 0, &body, a - 10, b - a + 20)),
        (up, dtls_frag(2, 1, 0, &body, b, n - b)),
        // The whole hello retransmitted after it completed: ignored.
        (up, dtls_frag(4, 1, 0, &body, 0, n)),
    ]);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].sni.as_deref(), Some("cloudflare-ech.com"));
    assert_eq!(b[0].client_version.as_deref(), Some("DTLS 1.2"));
    assert_eq!(b[0].ja3_string.as_deref(), Some(DTLS_JA3_STRING));
    assert_eq!(
        b[0].ja4.as_deref(),
        Some("d13d1517h2_8daaf6152771_b1ff8ab2d16f")
    );
    assert_eq!(b[0].cookie_len, Some(0));
    assert!(!b[0].hello_verify);
}

#[test]
fn dtls_overlapping_fragment_first_copy_wins() {
    let body = dtls_ch_body(&[]);
    let n = body.len();
    // A second copy of the SNI bytes, changed, overlapping the first fragment: not used.
    let mut evil = body.clone();
    let pos = body.windows(10).position(|w| w == b"cloudflare").unwrap();
    evil[pos..pos + 10].copy_from_slice(b"evil-host!");
    let up = Direction::ToServer;
    let r = run_udp(&[
        (up, dtls_frag(0, 1, 0, &body, 0, pos + 20)),
        (up, dtls_frag(1, 1, 0, &evil, pos - 5, n - pos + 5)),
    ]);
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].sni.as_deref(), Some("cloudflare-ech.com"));
}

#[test]
fn dtls_hello_verify_request_then_second_client_hello() {
    let (up, down) = (Direction::ToServer, Direction::ToClient);
    let mut hvr = vec![0xfe, 0xff, 16];
    hvr.extend_from_slice(&[0xc0; 16]);
    let ch2 = dtls_ch_body(&[0xc0; 16]);
    let sh = dtls_sh_body(0xfefd, None);
    // ServerHello and ServerHelloDone in one record, two records in the datagram.
    let mut flight = dtls_rec(22, 0xfefd, 0, 1, &dtls_hs(2, 1, &sh, 0, sh.len()));
    flight.extend(dtls_rec(22, 0xfefd, 0, 2, &dtls_hs(14, 2, &[], 0, 0)));
    let mut p = new_parser(Transport::Udp);
    let mut r = Run::new();
    let ch1 = dtls_ch_body(&[]);
    r.feed(p.as_mut(), up, &dtls_frag(0, 1, 0, &ch1, 0, ch1.len()));
    r.feed(p.as_mut(), down, &dtls_frag(0, 3, 0, &hvr, 0, hvr.len()));
    // The first hello retransmitted before the answer arrived: the same message_seq.
    r.feed(p.as_mut(), up, &dtls_frag(1, 1, 0, &ch1, 0, ch1.len()));
    assert!(r.out.is_empty());
    r.feed(p.as_mut(), up, &dtls_frag(2, 1, 1, &ch2, 0, ch2.len()));
    assert!(r.out.is_empty(), "no record at the repeated ClientHello");
    r.feed(p.as_mut(), down, &flight);
    let b = r.bodies();
    assert_eq!(b.len(), 1);
    assert!(b[0].hello_verify);
    assert_eq!(b[0].cookie_len, Some(16));
    assert_eq!(b[0].version.as_deref(), Some("DTLS 1.2"));
    assert_eq!(b[0].cipher_suite, Some(0xc02f));
    assert_eq!(b[0].ja3s_string.as_deref(), Some("65277,49199,"));
    // ChangeCipherSpec, then epoch 1: nothing more is read.
    let mut fin = dtls_rec(20, 0xfefd, 0, 3, &[1]);
    fin.extend(dtls_rec(22, 0xfefd, 1, 0, &[0xaa; 40]));
    r.feed(p.as_mut(), up, &fin);
    r.feed(p.as_mut(), down, &fin);
    r.feed(p.as_mut(), up, &dtls_frag(4, 1, 2, &ch1, 0, ch1.len()));
    r.close(p.as_mut());
    assert_eq!(r.bodies().len(), 1);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn dtls13_server_hello_emits_and_ciphertext_is_skipped() {
    let (up, down) = (Direction::ToServer, Direction::ToClient);
    let ch = dtls_ch_body(&[]);
    let sh = dtls_sh_body(0xfefd, Some(0xfefc));
    let mut flight = dtls_rec(22, 0xfefd, 0, 0, &dtls_hs(2, 0, &sh, 0, sh.len()));
    // Unified header: S (16-bit seq) and L (length) set, epoch 2; then one without a length.
    flight.extend_from_slice(&[0x2e, 0x00, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    flight.extend_from_slice(&[0x22, 0x07, 0xee, 0xee, 0xee]);
    let mut p = new_parser(Transport::Udp);
    let mut r = Run::new();
    r.feed(p.as_mut(), up, &dtls_frag(0, 1, 0, &ch, 0, ch.len()));
    r.feed(p.as_mut(), down, &flight);
    let b = r.bodies();
    assert_eq!(b.len(), 1, "emitted at the ServerHello");
    assert_eq!(b[0].version.as_deref(), Some("DTLS 1.3"));
    r.feed(p.as_mut(), up, &[0x2c, 0x01, 0x00, 0x03, 9, 9, 9]);
    r.close(p.as_mut());
    assert_eq!(r.bodies().len(), 1);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn dtls_reassembly_cap_is_per_flow_and_counted_once() {
    let (up, down) = (Direction::ToServer, Direction::ToClient);
    let big = vec![0u8; dtls::REASSEMBLY_CAP + 1];
    let r = run_udp(&[
        (up, dtls_frag(0, 1, 0, &big, 0, 100)),
        (up, dtls_frag(1, 1, 0, &big, 100, 100)),
    ]);
    assert_eq!(r.anomalies, vec!["tls.dtls_reassembly_limit"]);
    assert!(r.out.is_empty());

    // A completed message frees its bytes; a repeated fragment takes none.
    let cert = vec![0u8; 40 * 1024];
    let ch = dtls_ch_body(&[]);
    let r = run_udp(&[
        (up, dtls_frag(0, 1, 0, &ch, 0, 10)),
        (down, dtls_frag(0, 11, 1, &cert, 0, 1000)),
        (up, dtls_frag(1, 1, 0, &ch, 10, ch.len() - 10)),
        (down, dtls_frag(1, 11, 1, &cert, 0, 1000)),
    ]);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    // 40 KiB pending from the server, then 30 KiB from the client: past the flow's cap.
    let cert2 = vec![0u8; 30 * 1024];
    let r = run_udp(&[
        (down, dtls_frag(0, 11, 1, &cert, 0, 1000)),
        (up, dtls_frag(0, 1, 0, &cert2, 0, 10)),
    ]);
    assert_eq!(r.anomalies, vec!["tls.dtls_reassembly_limit"]);
}

#[test]
fn dtls_bogus_headers_are_counted() {
    let ch = dtls_ch_body(&[]);
    let good = dtls_frag(0, 1, 0, &ch, 0, ch.len());
    // Record length past the datagram; fragment past its message; not DTLS at all.
    let mut long = good.clone();
    long[12] = long[12].wrapping_add(1);
    let mut past = good.clone();
    past[13 + 11] = past[13 + 11].wrapping_add(1);
    for bad in [
        long,
        past,
        b"\x16\x03\x03\x00\x05hello".to_vec(),
        good[..20].to_vec(),
    ] {
        let r = run_udp(&[(Direction::ToServer, bad.clone())]);
        assert_eq!(r.anomalies, vec!["tls.bad_record"], "{bad:02x?}");
        assert!(r.out.is_empty());
    }
}

#[test]
fn dtls_flow_shares_stun_and_rtp_without_anomalies() {
    // RFC 7983: STUN (first byte 0..3) and RTP (128..191) beside DTLS on one flow are skipped.
    let ch = dtls_ch_body(&[]);
    let stun = [
        0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    let rtp = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
    let r = run_udp(&[
        (Direction::ToServer, stun.to_vec()),
        (Direction::ToServer, dtls_frag(0, 1, 0, &ch, 0, ch.len())),
        (Direction::ToClient, stun.to_vec()),
        (Direction::ToServer, rtp.to_vec()),
    ]);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    assert_eq!(r.bodies().len(), 1);
}

#[test]
fn dtls_truncated_and_mutated_never_panic() {
    let ch = dtls_ch_body(&[7; 8]);
    let sh = dtls_sh_body(0xfefd, Some(0xfefc));
    let mut g = dtls_frag(0, 1, 0, &ch, 0, 90);
    g.extend(dtls_frag(1, 1, 0, &ch, 90, ch.len() - 90));
    let s = dtls_frag(0, 2, 0, &sh, 0, sh.len());
    for i in 0..g.len() {
        for v in [0x00u8, 0xff, 0x20, 0x80] {
            let mut m = g.clone();
            m[i] = v;
            let r = run_udp(&[
                (Direction::ToServer, m[..i].to_vec()),
                (Direction::ToServer, m.clone()),
                (Direction::ToClient, s.clone()),
                (Direction::ToServer, m),
            ]);
            assert!(r.out.len() <= 2);
        }
    }
}

#[test]
fn dtls_probe() {
    use crate::proto::detect::peek::P;
    use crate::proto::{probe, AppProto, Confidence};
    let ch = dtls_ch_body(&[]);
    let whole = dtls_frag(0, 1, 0, &ch, 0, ch.len());
    let later = dtls_frag(1, 1, 0, &ch, 100, 100);
    for d in [&whole, &later] {
        assert_eq!(
            probe(Transport::Udp, Direction::ToServer, d),
            Some((AppProto::Tls, Confidence::High))
        );
    }
    for n in 0..whole.len() {
        assert_ne!(
            probe::datagram(&whole[..n]),
            P::Yes(Confidence::High),
            "{n}"
        );
    }
    // A TLS hello, a later epoch, a hello version that is not DTLS: no.
    let mut v = whole.clone();
    v[3] = 1;
    assert_eq!(probe::datagram(&v), P::No);
    let mut v = whole.clone();
    v[25] = 3;
    assert_eq!(probe::datagram(&v), P::No);
    assert_eq!(probe::datagram(&decode(CH_HEX).unwrap()), P::No);
}
