//! TLS handshake builders for tests: DER certificates with chosen subject and issuer
//! attributes, a ClientHello with SNI/ALPN/versions, a TLS 1.2 ServerHello, the Certificate and
//! ServerHelloDone messages, and the same hellos as DTLS records.

use crate::packets::tlv;

/// Attribute OIDs (DER contents) of X.520 and friends, for [`Cert`] names.
pub mod oid {
    /// id-at-commonName
    pub const CN: &[u8] = &[0x55, 0x04, 3];
    /// id-at-surname
    pub const SN: &[u8] = &[0x55, 0x04, 4];
    /// id-at-serialNumber
    pub const SERIAL_NUMBER: &[u8] = &[0x55, 0x04, 5];
    /// id-at-countryName
    pub const C: &[u8] = &[0x55, 0x04, 6];
    /// id-at-localityName
    pub const L: &[u8] = &[0x55, 0x04, 7];
    /// id-at-stateOrProvinceName
    pub const ST: &[u8] = &[0x55, 0x04, 8];
    /// id-at-streetAddress
    pub const STREET: &[u8] = &[0x55, 0x04, 9];
    /// id-at-organizationName
    pub const O: &[u8] = &[0x55, 0x04, 10];
    /// id-at-organizationalUnitName
    pub const OU: &[u8] = &[0x55, 0x04, 11];
    /// id-at-title
    pub const TITLE: &[u8] = &[0x55, 0x04, 12];
    /// id-at-businessCategory
    pub const BUSINESS_CATEGORY: &[u8] = &[0x55, 0x04, 15];
    /// id-at-postalCode
    pub const POSTAL_CODE: &[u8] = &[0x55, 0x04, 17];
    /// id-at-givenName
    pub const GIVEN_NAME: &[u8] = &[0x55, 0x04, 42];
    /// id-at-organizationIdentifier
    pub const ORGANIZATION_IDENTIFIER: &[u8] = &[0x55, 0x04, 97];
    /// jurisdictionOfIncorporationCountryName (1.3.6.1.4.1.311.60.2.1.3)
    pub const JURISDICTION_C: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 2, 1, 3];
    /// domainComponent (0.9.2342.19200300.100.1.25)
    pub const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    /// pkcs-9 emailAddress
    pub const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    /// 1.2.3.4.5 (no name: printed dotted)
    pub const PRIVATE: &[u8] = &[0x2a, 0x03, 0x04, 0x05];
}

/// A certificate's fields for [`Cert::der`].
pub struct Cert<'a> {
    /// Serial number bytes (big-endian, as written).
    pub serial: &'a [u8],
    /// Issuer attributes in order, each its own RDN.
    pub issuer: &'a [(&'a [u8], &'a str)],
    /// Subject attributes in order.
    pub subject: &'a [(&'a [u8], &'a str)],
    /// UTCTime strings (YYMMDDHHMMSSZ).
    pub not_before: &'a str,
    pub not_after: &'a str,
}

fn name(attrs: &[(&[u8], &str)]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for (o, v) in attrs {
        // countryName and friends are PrintableString; the rest UTF8String.
        let tag = if *o == oid::C { 0x13 } else { 0x0c };
        let mut atv = tlv(0x06, o);
        atv.extend(tlv(tag, v.as_bytes()));
        rdns.extend(tlv(0x31, &tlv(0x30, &atv)));
    }
    tlv(0x30, &rdns)
}

impl Cert<'_> {
    /// The certificate's DER (a fake key and signature: the sensor reads, never verifies).
    pub fn der(&self) -> Vec<u8> {
        // sha256WithRSAEncryption
        let alg = {
            let mut a = tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
            );
            a.extend(tlv(0x05, &[]));
            tlv(0x30, &a)
        };
        let mut tbs = tlv(0xa0, &tlv(0x02, &[2]));
        tbs.extend(tlv(0x02, self.serial));
        tbs.extend(&alg);
        tbs.extend(name(self.issuer));
        let mut validity = tlv(0x17, self.not_before.as_bytes());
        validity.extend(tlv(0x17, self.not_after.as_bytes()));
        tbs.extend(tlv(0x30, &validity));
        tbs.extend(name(self.subject));
        let mut spki = {
            let mut a = tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            );
            a.extend(tlv(0x05, &[]));
            tlv(0x30, &a)
        };
        spki.extend(tlv(0x03, &[0, 0x30, 0x03, 0x02, 0x01, 0x03]));
        tbs.extend(tlv(0x30, &spki));
        let mut c = tlv(0x30, &tbs);
        c.extend(&alg);
        c.extend(tlv(0x03, &[0, 0xde, 0xad, 0xbe, 0xef]));
        tlv(0x30, &c)
    }
}

fn len16(v: &mut Vec<u8>, body: &[u8]) {
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
}

fn len24(v: &mut Vec<u8>, body: &[u8]) {
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
}

fn extension(v: &mut Vec<u8>, typ: u16, body: &[u8]) {
    v.extend_from_slice(&typ.to_be_bytes());
    len16(v, body);
}

/// What a [`client_hello_body`] offers.
pub struct Hello<'a> {
    /// legacy_version (0x0303; 0xfefd for DTLS 1.2).
    pub version: u16,
    pub sni: &'a str,
    pub alpn: &'a [&'a str],
    /// supported_versions (empty: no extension).
    pub versions: &'a [u16],
    pub ciphers: &'a [u16],
    /// DTLS cookie (`None`: TLS, no cookie field).
    pub cookie: Option<&'a [u8]>,
}

impl Default for Hello<'_> {
    fn default() -> Self {
        Hello {
            version: 0x0303,
            sni: "mail.example.test",
            alpn: &[],
            versions: &[],
            ciphers: &[0xc02f, 0xc030, 0x009c],
            cookie: None,
        }
    }
}

/// The ClientHello handshake body (without the 4-byte handshake header).
pub fn client_hello_body(h: &Hello<'_>) -> Vec<u8> {
    let mut b = h.version.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x11; 32]);
    b.push(0);
    if let Some(c) = h.cookie {
        b.push(c.len() as u8);
        b.extend_from_slice(c);
    }
    let cs: Vec<u8> = h.ciphers.iter().flat_map(|c| c.to_be_bytes()).collect();
    len16(&mut b, &cs);
    b.extend_from_slice(&[1, 0]);
    let mut ext = Vec::new();
    let mut sn = vec![0];
    len16(&mut sn, h.sni.as_bytes());
    let mut snl = Vec::new();
    len16(&mut snl, &sn);
    extension(&mut ext, 0, &snl);
    extension(&mut ext, 0x000a, &[0, 4, 0, 0x1d, 0, 0x17]);
    extension(&mut ext, 0x000b, &[1, 0]);
    extension(&mut ext, 0x000d, &[0, 4, 4, 3, 8, 4]);
    if !h.alpn.is_empty() {
        let mut l = Vec::new();
        for a in h.alpn {
            l.push(a.len() as u8);
            l.extend_from_slice(a.as_bytes());
        }
        let mut al = Vec::new();
        len16(&mut al, &l);
        extension(&mut ext, 0x0010, &al);
    }
    if !h.versions.is_empty() {
        let v: Vec<u8> = h.versions.iter().flat_map(|v| v.to_be_bytes()).collect();
        let mut vl = vec![v.len() as u8];
        vl.extend_from_slice(&v);
        extension(&mut ext, 0x002b, &vl);
    }
    len16(&mut b, &ext);
    b
}

/// A ServerHello body choosing `version` (legacy field) and `cipher`, no extensions.
pub fn server_hello_body(version: u16, cipher: u16) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x22; 32]);
    b.push(0);
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    b
}

/// A Certificate handshake body holding `certs` (DER each).
pub fn certificate_body(certs: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in certs {
        len24(&mut list, c);
    }
    let mut b = Vec::new();
    len24(&mut b, &list);
    b
}

/// A handshake message: type, 24-bit length, body.
pub fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    len24(&mut m, body);
    m
}

/// One TLS record of content type 22 around `msgs` (handshake messages).
pub fn record(msgs: &[u8]) -> Vec<u8> {
    let mut r = vec![22, 3, 3];
    len16(&mut r, msgs);
    r
}

/// A TLS 1.2 client's first flight: one record holding its ClientHello.
pub fn client_flight(h: &Hello<'_>) -> Vec<u8> {
    let mut r = vec![22, 3, 1];
    len16(&mut r, &handshake(1, &client_hello_body(h)));
    r
}

/// A TLS 1.2 server's first flight: ServerHello, Certificate with `cert`, ServerHelloDone.
pub fn server_flight(cipher: u16, cert: &[u8]) -> Vec<u8> {
    let mut m = handshake(2, &server_hello_body(0x0303, cipher));
    m.extend(handshake(11, &certificate_body(&[cert.to_vec()])));
    m.extend(handshake(14, &[]));
    record(&m)
}

/// A DTLS handshake fragment record: 13-byte record header (type 22, `version`, `epoch`,
/// 48-bit `seq`) and 12-byte handshake header (`typ`, total length, `msg_seq`, fragment
/// offset and length) around `body[off..off+len]`.
pub fn dtls_fragment(
    version: u16,
    seq: u64,
    typ: u8,
    msg_seq: u16,
    body: &[u8],
    off: usize,
    len: usize,
) -> Vec<u8> {
    let frag = body.get(off..off + len).unwrap_or(&[]);
    let mut hs = vec![typ];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&msg_seq.to_be_bytes());
    hs.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&(frag.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(frag);
    let mut r = vec![22];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&0u16.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    len16(&mut r, &hs);
    r
}

/// A DTLS record: 13-byte header (`content` type, `version`, `epoch`, 48-bit `seq`, length)
/// and `body`.
pub fn dtls_record(content: u8, version: u16, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    len16(&mut r, body);
    r
}

/// A whole DTLS handshake message in one record of epoch 0 (fragment offset 0, fragment
/// length = message length).
pub fn dtls_message(version: u16, seq: u64, typ: u8, msg_seq: u16, body: &[u8]) -> Vec<u8> {
    dtls_fragment(version, seq, typ, msg_seq, body, 0, body.len())
}

/// A HelloVerifyRequest body (RFC 6347 4.2.1): server_version and the cookie.
pub fn hello_verify_request_body(version: u16, cookie: &[u8]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.push(cookie.len() as u8);
    b.extend_from_slice(cookie);
    b
}

/// A (D)TLS 1.3 ServerHello body: legacy `version`, `cipher`, the supported_versions
/// extension selecting `selected`.
pub fn server_hello_13_body(version: u16, cipher: u16, selected: u16) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x33; 32]);
    b.push(0);
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    let mut ext = Vec::new();
    extension(&mut ext, 0x002b, &selected.to_be_bytes());
    len16(&mut b, &ext);
    b
}

/// A DTLS 1.3 ciphertext record with the unified header (RFC 9147 4): 16-bit sequence number
/// and length present, `epoch` low bits, opaque `body`.
pub fn dtls13_ciphertext(epoch: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![0x20 | 0x08 | 0x04 | (epoch & 3)];
    r.extend_from_slice(&seq.to_be_bytes());
    len16(&mut r, body);
    r
}
