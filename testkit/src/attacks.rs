//! Attack captures for the default detection rules (`rules/`, `docs/rules.md`).
//!
//! For every default rule, a seeded generator writes one capture where the rule must fire and
//! one near miss where it must stay quiet ([`ATTACKS`], [`capture`]); [`mixed`] writes
//! background traffic of many hosts (DNS, HTTP, TLS, Kerberos logons, LDAP lookups) with every
//! attack played from its own host. `tapir-pcapgen attack NAME [--quiet] -o FILE` writes them.
//!
//! The traffic is built message by message (DNS, HTTP/1.1, SMTP with MIME attachments, Kerberos
//! AS/TGS exchanges and errors in DER, LDAP searches in BER with filters written as RFC 4515
//! text) so the records the sensor makes of it are the ones a rule reads on a real network.
//! Same name, same seed: same bytes.
#![allow(clippy::expect_used)]

use crate::packets::{tlv, Cap};
use crate::pcap::{write_header, write_record, PCAP_GLOBAL_HEADER_LEN, PCAP_RECORD_HEADER_LEN};
use crate::pcapgen::{client_hello, server_hello};
use crate::rng::Rng;

/// The internal DNS resolver.
pub const RESOLVER: [u8; 4] = [10, 1, 1, 53];
/// The domain controller: KDC (88) and LDAP (389).
pub const DC: [u8; 4] = [10, 1, 1, 10];
/// The internal mail relay (SMTP 25).
pub const MX: [u8; 4] = [10, 1, 1, 25];
/// The Kerberos realm.
pub const REALM: &str = "CORP.EXAMPLE";
/// The directory's root (naming context).
pub const BASE_DN: &str = "DC=corp,DC=example";
/// 2024-03-04 09:00:00 UTC, the start of every attack capture.
pub const START_US: u64 = 1_709_542_800_000_000;

/// One attack: what it is, the host it comes from, and its generator.
pub struct Attack {
    /// Name on the command line (`tapir-pcapgen attack NAME`).
    pub name: &'static str,
    /// One line on what the capture holds (firing / quiet).
    pub about: &'static str,
    /// The attacking host (the quiet capture uses it too).
    pub host: [u8; 4],
    write: fn(&mut Gen, [u8; 4], bool),
}

/// Every attack, one per default rule family.
pub const ATTACKS: &[Attack] = &[
    Attack {
        name: "kerberoast",
        about: "TGS-REQs for 6 SPNs in 30 s asking for RC4 only / quiet: 2 SPNs with RC4, 6 SPNs with AES",
        host: [10, 1, 20, 11],
        write: kerberoast,
    },
    Attack {
        name: "asrep-roast",
        about: "AS-REQs without pre-authentication answered with RC4 AS-REPs / quiet: the usual PREAUTH_REQUIRED then AS-REQ with PA-ENC-TIMESTAMP",
        host: [10, 1, 20, 12],
        write: asrep_roast,
    },
    Attack {
        name: "password-spray",
        about: "KDC_ERR_PREAUTH_FAILED for 8 accounts from one host / quiet: 2 failures among good logons",
        host: [10, 1, 20, 13],
        write: password_spray,
    },
    Attack {
        name: "ldap-recon",
        about: "LDAP searches for SPNs, AS-REP roastable accounts, adminCount=1, Domain Admins members and an (objectClass=*) subtree dump / quiet: user, group, computer and rootDSE lookups",
        host: [10, 1, 20, 14],
        write: ldap_recon,
    },
    Attack {
        name: "dns-tunnel",
        about: "120 TXT queries with long base32 labels under one domain / quiet: normal and CDN-like names, a few TXT lookups, 40 names of one domain",
        host: [10, 1, 20, 15],
        write: dns_tunnel,
    },
    Attack {
        name: "dga",
        about: "NXDOMAIN burst of 28 random-looking names / quiet: a few NXDOMAIN typos, WPAD and Chrome's random one-label probes",
        host: [10, 1, 20, 16],
        write: dga,
    },
    Attack {
        name: "exe-download",
        about: "a PE served as update.png from a domain never seen before / quiet: a real PNG from a new domain",
        host: [10, 1, 20, 17],
        write: exe_download,
    },
    Attack {
        name: "email-attachment",
        about: "mails with invoice.pdf.exe (PE), scan.pdf.js (double extension) and a .docm / quiet: a PDF, a .docx and photo.2024.jpg",
        host: [10, 1, 20, 18],
        write: email_attachment,
    },
    Attack {
        name: "user-agent",
        about: "python-requests, curl, PowerShell, empty and sqlmap user agents / quiet: browsers",
        host: [10, 1, 20, 19],
        write: user_agent,
    },
    Attack {
        name: "post-to-ip",
        about: "HTTP POST to a bare public IP / quiet: POST to a named host and to an internal IP",
        host: [10, 1, 20, 20],
        write: post_to_ip,
    },
    Attack {
        name: "intel",
        about: "one hit of every indicator type of intel_feed() / quiet: look-alike decoys",
        host: [10, 1, 20, 21],
        write: intel,
    },
];

/// The attack named `name`.
pub fn find(name: &str) -> Option<&'static Attack> {
    ATTACKS.iter().find(|a| a.name == name)
}

/// The capture of attack `name` (its near miss when `quiet`), or None for an unknown name.
pub fn capture(name: &str, quiet: bool, seed: u64) -> Option<Vec<u8>> {
    let a = find(name)?;
    let mut g = Gen::new(seed, START_US);
    (a.write)(&mut g, a.host, quiet);
    Some(g.cap.bytes)
}

/// The hosts of the mixed capture's background traffic.
pub fn background_hosts() -> Vec<[u8; 4]> {
    (1..=30).map(|i| [10, 1, 100, i]).collect()
}

/// The host that plays an attack's near miss in the mixed capture (the attack's own host plus
/// 100 in the third byte, so 10.1.120.x).
pub fn quiet_host(a: &Attack) -> [u8; 4] {
    [a.host[0], a.host[1], a.host[2] + 100, a.host[3]]
}

/// The mixed capture: about 10 minutes of background traffic of [`background_hosts`], every
/// attack of [`ATTACKS`] from its own host (`Attack::host`) and every near miss from
/// [`quiet_host`], starting at staggered times and interleaved packet by packet. Each attack
/// and near miss is generated with `seed`, so it carries the same names, accounts and files as
/// its own capture ([`capture`] with the same seed).
pub fn mixed(seed: u64) -> Vec<u8> {
    let mut streams = Vec::new();
    let mut bg = Gen::new(seed, START_US);
    background(&mut bg, 600);
    streams.push(bg.cap.bytes);
    for (i, a) in ATTACKS.iter().enumerate() {
        // The same seed as the attack's own capture: the same names, accounts and files.
        let at = START_US + 20_000_000 + i as u64 * 45_000_000;
        let mut g = Gen::new(seed, at);
        (a.write)(&mut g, a.host, false);
        streams.push(g.cap.bytes);
        let mut g = Gen::new(seed, at + 7_000_000);
        (a.write)(&mut g, quiet_host(a), true);
        streams.push(g.cap.bytes);
    }
    merge(&streams)
}

/// Interleaves pcap byte streams (each with its global header, timestamps non-decreasing) into
/// one, by timestamp; ties keep the order of `streams`.
pub fn merge(streams: &[Vec<u8>]) -> Vec<u8> {
    let mut recs: Vec<(u64, usize, &[u8])> = Vec::new();
    for (si, s) in streams.iter().enumerate() {
        let mut off = PCAP_GLOBAL_HEADER_LEN;
        while off + PCAP_RECORD_HEADER_LEN <= s.len() {
            let u = |i: usize| {
                let b: [u8; 4] = s[off + i..off + i + 4].try_into().expect("4 bytes");
                u32::from_le_bytes(b)
            };
            let ts = u64::from(u(0)) * 1_000_000 + u64::from(u(4));
            let len = u(8) as usize;
            let data = &s[off + PCAP_RECORD_HEADER_LEN..off + PCAP_RECORD_HEADER_LEN + len];
            recs.push((ts, si, data));
            off += PCAP_RECORD_HEADER_LEN + len;
        }
    }
    recs.sort_by_key(|(ts, si, _)| (*ts, *si));
    let mut out = Vec::new();
    write_header(&mut out).expect("writing to a Vec");
    for (ts, _, data) in recs {
        write_record(&mut out, ts, data).expect("writing to a Vec");
    }
    out
}

/// The threat-intel feed (Zeek format) the `intel` attack hits: one indicator of each type.
pub fn intel_feed() -> String {
    let payload_md5 = tapir::util::hex::md5_hex(&intel_payload());
    let rows = [
        ("185.244.25.17", "Intel::ADDR", "known C2 server"),
        ("evil-c2.example", "Intel::DOMAIN", "C2 domain"),
        (
            "downloads.badsite.example/payload/stage2.bin",
            "Intel::URL",
            "stage-2 URL",
        ),
        (payload_md5.as_str(), "Intel::FILE_HASH", "loader"),
        (
            "billing@phish-mail.example",
            "Intel::EMAIL",
            "phishing sender",
        ),
        ("svc-backdoor", "Intel::USER_NAME", "planted account"),
        ("EvilAgent/1.0", "Intel::SOFTWARE", "implant user agent"),
    ];
    let mut s = String::from("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n");
    for (i, t, d) in rows {
        s.push_str(&format!("{i}\t{t}\ttapir-attacks\t{d}\n"));
    }
    s
}

/// The file the `intel` attack downloads, listed in [`intel_feed`] by its MD5.
pub fn intel_payload() -> Vec<u8> {
    b"stage-2 loader bytes known to the intel feed by SHA-256".to_vec()
}

// ---------------------------------------------------------------------------------------------
// The generator: a capture being written, its clock and its random source.

/// A capture being written by the generators: packets, clock, PRNG and ephemeral ports.
pub struct Gen {
    pub cap: Cap,
    pub rng: Rng,
    port: u16,
    dns_id: u16,
}

/// One DNS resource record of an answer.
pub struct Rr {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

/// DNS types used here.
pub const A: u16 = 1;
pub const CNAME: u16 = 5;
pub const NULL: u16 = 10;
pub const TXT: u16 = 16;
pub const SRV: u16 = 33;
/// DNS response codes used here.
pub const NOERROR: u8 = 0;
pub const NXDOMAIN: u8 = 3;

/// An A record.
pub fn a_rr(name: &str, ip: [u8; 4]) -> Rr {
    Rr {
        name: name.into(),
        rtype: A,
        ttl: 300,
        rdata: ip.to_vec(),
    }
}

/// A TXT record with one string (split into 255-byte strings when longer).
pub fn txt_rr(name: &str, text: &str) -> Rr {
    let mut rdata = Vec::new();
    for chunk in text.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    Rr {
        name: name.into(),
        rtype: TXT,
        ttl: 0,
        rdata,
    }
}

impl Gen {
    /// A generator for `seed` whose clock starts at `start_us`.
    pub fn new(seed: u64, start_us: u64) -> Gen {
        let mut rng = Rng::new(seed);
        let mut cap = Cap::new();
        cap.ts_us = start_us;
        let port = 49_152 + rng.below(4_000) as u16;
        let dns_id = rng.next() as u16;
        Gen {
            cap,
            rng,
            port,
            dns_id,
        }
    }

    /// Lets `ms` milliseconds pass.
    pub fn wait_ms(&mut self, ms: u64) {
        self.cap.ts_us += ms * 1_000;
    }

    /// Lets between `lo` and `hi` milliseconds pass.
    pub fn pause(&mut self, lo: u64, hi: u64) {
        let ms = self.rng.range(lo, hi);
        self.wait_ms(ms);
    }

    /// The next ephemeral port.
    pub fn port(&mut self) -> u16 {
        self.port = if self.port >= 65_000 {
            49_152
        } else {
            self.port + 1
        };
        self.port
    }

    /// A DNS query of `client` to the resolver and its answer (`rcode`, `answers`).
    pub fn dns(&mut self, client: [u8; 4], q: &str, qtype: u16, rcode: u8, answers: &[Rr]) {
        self.dns_id = self.dns_id.wrapping_add(0x3b1);
        let id = self.dns_id;
        let port = self.port();
        self.cap
            .udp(client, RESOLVER, port, 53, &dns_message(id, q, qtype, None));
        self.wait_ms(2);
        self.cap.udp(
            RESOLVER,
            client,
            53,
            port,
            &dns_message(id, q, qtype, Some((rcode, answers))),
        );
    }

    /// Resolves `name` to `ip` (type A).
    pub fn resolve(&mut self, client: [u8; 4], name: &str, ip: [u8; 4]) {
        self.dns(client, name, A, NOERROR, &[a_rr(name, ip)]);
    }

    /// One HTTP/1.1 exchange on a new connection to `server`:80.
    pub fn http(&mut self, client: [u8; 4], server: [u8; 4], request: &[u8], response: &[u8]) {
        let port = self.port();
        self.cap
            .conversation(client, port, server, 80, request, response);
    }

    /// A TLS connection to `server`:443 (ClientHello with `sni`, ServerHello, some data).
    pub fn tls(&mut self, client: [u8; 4], server: [u8; 4], sni: &str) {
        let ch = client_hello(&mut self.rng, sni);
        let mut sh = server_hello(&mut self.rng);
        sh.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        let mut app = vec![0u8; 600];
        self.rng.fill(&mut app);
        sh.extend_from_slice(&[0x17, 0x03, 0x03, 0x02, 0x58]);
        sh.extend_from_slice(&app);
        let port = self.port();
        self.cap.conversation(client, port, server, 443, &ch, &sh);
    }

    /// A Kerberos request to the KDC over UDP and its answer.
    pub fn kdc(&mut self, client: [u8; 4], request: &[u8], answer: &[u8]) {
        let port = self.port();
        self.cap.udp(client, DC, port, 88, request);
        self.wait_ms(1);
        self.cap.udp(DC, client, 88, port, answer);
    }

    /// An LDAP connection to the DC: each search (base, scope, filter, attributes) answered by
    /// `entries` entries and a success.
    pub fn ldap(&mut self, client: [u8; 4], searches: &[(&str, u8, &str, &[&str], u32)]) {
        let mut steps = Vec::new();
        for (i, (base, scope, filter, attrs, entries)) in searches.iter().enumerate() {
            let id = i as i64 + 1;
            steps.push((true, ldap_search(id, base, *scope, filter, attrs)));
            let mut answer = Vec::new();
            for n in 0..*entries {
                let dn = format!("CN=object{n},CN=Users,{BASE_DN}");
                answer.extend(ldap_entry(id, &dn, &[("cn", &[&format!("object{n}")])]));
            }
            answer.extend(ldap_done(id, 0));
            steps.push((false, answer));
        }
        let port = self.port();
        self.cap.session(client, DC, (port, 389), &steps);
    }

    /// One mail from `sender` to `rcpt`, relayed by `client` to the mail relay over SMTP, with
    /// the attachments (file name, content type, bytes).
    pub fn mail(
        &mut self,
        client: [u8; 4],
        sender: &str,
        rcpt: &str,
        subject: &str,
        attachments: &[(&str, &str, Vec<u8>)],
    ) {
        let boundary = format!("=_b{:016x}", self.rng.next());
        let mut msg = format!(
            "From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n\
             Message-ID: <{:x}@mail.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Please find the document attached.\r\n",
            self.rng.next()
        );
        for (name, ctype, bytes) in attachments {
            msg.push_str(&format!(
                "--{boundary}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n"
            ));
            let b64 = base64(bytes);
            for line in b64.as_bytes().chunks(76) {
                msg.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                msg.push_str("\r\n");
            }
        }
        msg.push_str(&format!("--{boundary}--\r\n.\r\n"));
        let s = |t: &str| (false, t.as_bytes().to_vec());
        let c = |t: &str| (true, t.as_bytes().to_vec());
        let steps = [
            s("220 mx.corp.example ESMTP\r\n"),
            c("EHLO mail.example\r\n"),
            s("250 mx.corp.example\r\n"),
            c(&format!("MAIL FROM:<{sender}>\r\n")),
            s("250 ok\r\n"),
            c(&format!("RCPT TO:<{rcpt}>\r\n")),
            s("250 ok\r\n"),
            c("DATA\r\n"),
            s("354 go ahead\r\n"),
            c(&msg),
            s("250 queued\r\n"),
            c("QUIT\r\n"),
            s("221 bye\r\n"),
        ];
        let port = self.port();
        self.cap.session(client, MX, (port, 25), &steps);
    }

    /// A GET of `uri` on `host` (resolved first) answered 200 with `ctype` and `body`.
    #[allow(clippy::too_many_arguments)]
    pub fn get(
        &mut self,
        client: [u8; 4],
        host: &str,
        ip: [u8; 4],
        uri: &str,
        ua: Option<&str>,
        ctype: &str,
        body: &[u8],
    ) {
        self.resolve(client, host, ip);
        self.wait_ms(5);
        let ua = ua
            .map(|u| format!("User-Agent: {u}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {uri} HTTP/1.1\r\nHost: {host}\r\n{ua}Accept: */*\r\nConnection: close\r\n\r\n"
        );
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        resp.extend_from_slice(body);
        self.http(client, ip, req.as_bytes(), &resp);
    }

    /// Random lower-case letters and digits.
    pub fn alnum(&mut self, n: usize) -> String {
        const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| *self.rng.pick(CH) as char).collect()
    }

    /// Random base32 text (RFC 4648 alphabet, lower case), as tunnels encode data.
    pub fn base32(&mut self, n: usize) -> String {
        const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        (0..n).map(|_| *self.rng.pick(CH) as char).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Wire formats.

/// A DNS query for `q`/`qtype`, or its response (`rcode`, answers) when `response` is set.
pub fn dns_message(id: u16, q: &str, qtype: u16, response: Option<(u8, &[Rr])>) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    let (flags, an) = match response {
        Some((rcode, answers)) => (0x8180 | u16::from(rcode), answers.len() as u16),
        None => (0x0100, 0),
    };
    m.extend_from_slice(&flags.to_be_bytes());
    for n in [1u16, an, 0, 0] {
        m.extend_from_slice(&n.to_be_bytes());
    }
    m.extend(dns_name(q));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    for rr in response.map(|(_, a)| a).unwrap_or_default() {
        m.extend(dns_name(&rr.name));
        m.extend_from_slice(&rr.rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&rr.ttl.to_be_bytes());
        m.extend_from_slice(&(rr.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rr.rdata);
    }
    m
}

/// A name in DNS wire form (uncompressed).
pub fn dns_name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// Base64 (RFC 4648, padded).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A DER INTEGER, minimal two's complement.
pub fn der_int(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    tlv(0x02, &b[i..])
}

fn ctx(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 + n, content)
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn kstr(s: &str) -> Vec<u8> {
    tlv(0x1b, s.as_bytes())
}

fn ktime(s: &str) -> Vec<u8> {
    tlv(0x18, s.as_bytes())
}

/// A Kerberos PrincipalName.
pub fn principal(name_type: i64, names: &[&str]) -> Vec<u8> {
    let names: Vec<Vec<u8>> = names.iter().map(|n| kstr(n)).collect();
    seq(&[ctx(0, &der_int(name_type)), ctx(1, &seq(&names))])
}

/// Kerberos EncryptedData with `etype` and a cipher of `len` random bytes.
pub fn enc_data(rng: &mut Rng, etype: i32, kvno: Option<u32>, len: usize) -> Vec<u8> {
    let mut cipher = vec![0u8; len];
    rng.fill(&mut cipher);
    let mut parts = vec![ctx(0, &der_int(i64::from(etype)))];
    if let Some(k) = kvno {
        parts.push(ctx(1, &der_int(i64::from(k))));
    }
    parts.push(ctx(2, &tlv(0x04, &cipher)));
    seq(&parts)
}

/// A Ticket for `sname` (parts) in the realm, its enc-part in `etype`.
pub fn ticket(rng: &mut Rng, sname: &[&str], etype: i32) -> Vec<u8> {
    let body = seq(&[
        ctx(0, &der_int(5)),
        ctx(1, &kstr(REALM)),
        ctx(2, &principal(2, sname)),
        ctx(3, &enc_data(rng, etype, Some(3), 900)),
    ]);
    tlv(0x61, &body)
}

/// Kerberos padata types used here.
pub const PA_TGS_REQ: i32 = 1;
pub const PA_ENC_TIMESTAMP: i32 = 2;
pub const PA_PAC_REQUEST: i32 = 128;

fn pa_data(t: i32, value: &[u8]) -> Vec<u8> {
    seq(&[ctx(1, &der_int(i64::from(t))), ctx(2, &tlv(0x04, value))])
}

/// PA-ENC-TIMESTAMP: an EncryptedData in `etype`.
pub fn pa_enc_timestamp(rng: &mut Rng, etype: i32) -> (i32, Vec<u8>) {
    (PA_ENC_TIMESTAMP, enc_data(rng, etype, None, 56))
}

/// PA-PAC-REQUEST (include the PAC).
pub fn pa_pac_request() -> (i32, Vec<u8>) {
    (PA_PAC_REQUEST, seq(&[ctx(0, &tlv(0x01, &[0xff]))]))
}

/// PA-TGS-REQ: an AP-REQ carrying the client's TGT (AES).
pub fn pa_tgs_req(rng: &mut Rng) -> (i32, Vec<u8>) {
    let tgt = ticket(rng, &["krbtgt", REALM], 18);
    let ap = seq(&[
        ctx(0, &der_int(5)),
        ctx(1, &der_int(14)),
        ctx(2, &tlv(0x03, &[0, 0, 0, 0, 0])),
        ctx(3, &tgt),
        ctx(4, &enc_data(rng, 18, None, 180)),
    ]);
    (PA_TGS_REQ, tlv(0x6e, &ap))
}

/// A KDC-REQ: AS-REQ (`cname` set) or TGS-REQ (`cname` None) for `sname`.
pub fn kdc_req(
    rng: &mut Rng,
    cname: Option<&str>,
    sname: &[&str],
    etypes: &[i32],
    padata: &[(i32, Vec<u8>)],
) -> Vec<u8> {
    let tgs = cname.is_none();
    let mut body = vec![ctx(0, &tlv(0x03, &[0x00, 0x40, 0x81, 0x00, 0x10]))];
    if let Some(c) = cname {
        body.push(ctx(1, &principal(1, &[c])));
    }
    body.push(ctx(2, &kstr(REALM)));
    body.push(ctx(3, &principal(2, sname)));
    body.push(ctx(5, &ktime("20370913024805Z")));
    body.push(ctx(7, &der_int(rng.below(0x7fff_ffff) as i64)));
    let et: Vec<Vec<u8>> = etypes.iter().map(|e| der_int(i64::from(*e))).collect();
    body.push(ctx(8, &seq(&et)));
    let pa: Vec<Vec<u8>> = padata.iter().map(|(t, v)| pa_data(*t, v)).collect();
    let mut req = vec![
        ctx(1, &der_int(5)),
        ctx(2, &der_int(if tgs { 12 } else { 10 })),
    ];
    if !pa.is_empty() {
        req.push(ctx(3, &seq(&pa)));
    }
    req.push(ctx(4, &seq(&body)));
    tlv(if tgs { 0x6c } else { 0x6a }, &seq(&req))
}

/// A KDC-REP: AS-REP (`tgs` false) or TGS-REP for `cname`, a ticket for `sname` in
/// `ticket_etype` and an enc-part in `enc_etype`.
pub fn kdc_rep(
    rng: &mut Rng,
    tgs: bool,
    cname: &str,
    sname: &[&str],
    ticket_etype: i32,
    enc_etype: i32,
) -> Vec<u8> {
    let rep = seq(&[
        ctx(0, &der_int(5)),
        ctx(1, &der_int(if tgs { 13 } else { 11 })),
        ctx(3, &kstr(REALM)),
        ctx(4, &principal(1, &[cname])),
        ctx(5, &ticket(rng, sname, ticket_etype)),
        ctx(6, &enc_data(rng, enc_etype, Some(2), 300)),
    ]);
    tlv(if tgs { 0x6d } else { 0x6b }, &rep)
}

/// A KRB-ERROR with `code` for `cname` about krbtgt.
pub fn krb_error(code: i32, cname: &str) -> Vec<u8> {
    let e = seq(&[
        ctx(0, &der_int(5)),
        ctx(1, &der_int(30)),
        ctx(4, &ktime("20240304090000Z")),
        ctx(5, &der_int(123_456)),
        ctx(6, &der_int(i64::from(code))),
        ctx(7, &kstr(REALM)),
        ctx(8, &principal(1, &[cname])),
        ctx(9, &kstr(REALM)),
        ctx(10, &principal(2, &["krbtgt", REALM])),
    ]);
    tlv(0x7e, &e)
}

/// Kerberos error codes used here.
pub const KDC_ERR_PREAUTH_FAILED: i32 = 24;
pub const KDC_ERR_PREAUTH_REQUIRED: i32 = 25;

/// The etypes a current Windows client asks for.
pub const WINDOWS_ETYPES: &[i32] = &[18, 17, 23, 24, -135];

/// An LDAP filter (RFC 4515 text) BER-encoded. Panics on text it cannot read (test data).
pub fn ldap_filter(text: &str) -> Vec<u8> {
    let (f, rest) = filter(text.as_bytes());
    assert!(rest.is_empty(), "trailing filter text in {text}");
    f
}

fn filter(s: &[u8]) -> (Vec<u8>, &[u8]) {
    assert_eq!(s.first(), Some(&b'('), "filter must start with (");
    match s.get(1) {
        Some(&op @ (b'&' | b'|')) => {
            let mut items = Vec::new();
            let mut r = &s[2..];
            while r.first() == Some(&b'(') {
                let (f, rest) = filter(r);
                items.extend(f);
                r = rest;
            }
            assert_eq!(r.first(), Some(&b')'));
            (tlv(if op == b'&' { 0xa0 } else { 0xa1 }, &items), &r[1..])
        }
        Some(b'!') => {
            let (f, r) = filter(&s[2..]);
            assert_eq!(r.first(), Some(&b')'));
            (tlv(0xa2, &f), &r[1..])
        }
        _ => {
            let end = s.iter().position(|&b| b == b')').expect("closing )");
            let item = std::str::from_utf8(&s[1..end]).expect("UTF-8 filter");
            (filter_item(item), &s[end + 1..])
        }
    }
}

fn filter_item(item: &str) -> Vec<u8> {
    let os = |v: &str| tlv(0x04, v.as_bytes());
    if let Some((lhs, value)) = item.split_once(":=") {
        let mut parts = lhs.split(':');
        let attr = parts.next().unwrap_or_default();
        let mut body = Vec::new();
        let mut dn = false;
        let mut rule = None;
        for p in parts {
            if p == "dn" {
                dn = true;
            } else {
                rule = Some(p);
            }
        }
        if let Some(r) = rule {
            body.extend(tlv(0x81, r.as_bytes()));
        }
        if !attr.is_empty() {
            body.extend(tlv(0x82, attr.as_bytes()));
        }
        body.extend(tlv(0x83, value.as_bytes()));
        if dn {
            body.extend(tlv(0x84, &[0xff]));
        }
        return tlv(0xa9, &body);
    }
    for (op, tag) in [(">=", 0xa5), ("<=", 0xa6), ("~=", 0xa8)] {
        if let Some((a, v)) = item.split_once(op) {
            return tlv(tag, &[os(a), os(v)].concat());
        }
    }
    let (attr, value) = item.split_once('=').expect("attr=value");
    if value == "*" {
        return tlv(0x87, attr.as_bytes());
    }
    if value.contains('*') {
        let pieces: Vec<&str> = value.split('*').collect();
        let last = pieces.len() - 1;
        let mut subs = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            let tag = match i {
                0 => 0x80,
                i if i == last => 0x82,
                _ => 0x81,
            };
            subs.extend(tlv(tag, p.as_bytes()));
        }
        return tlv(0xa4, &[os(attr), tlv(0x30, &subs)].concat());
    }
    tlv(0xa3, &[os(attr), os(value)].concat())
}

/// LDAP search scopes.
pub const SCOPE_BASE: u8 = 0;
pub const SCOPE_ONE: u8 = 1;
pub const SCOPE_SUB: u8 = 2;

/// An LDAP SearchRequest message.
pub fn ldap_search(id: i64, base: &str, scope: u8, filter: &str, attrs: &[&str]) -> Vec<u8> {
    let attrs: Vec<Vec<u8>> = attrs.iter().map(|a| tlv(0x04, a.as_bytes())).collect();
    let op = [
        tlv(0x04, base.as_bytes()),
        tlv(0x0a, &[scope]),
        tlv(0x0a, &[0]),
        der_int(0),
        der_int(0),
        tlv(0x01, &[0]),
        ldap_filter(filter),
        seq(&attrs),
    ]
    .concat();
    seq(&[der_int(id), tlv(0x63, &op)])
}

/// An LDAP SearchResultEntry message.
pub fn ldap_entry(id: i64, dn: &str, attrs: &[(&str, &[&str])]) -> Vec<u8> {
    let attrs: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(a, vs)| {
            let vals: Vec<u8> = vs.iter().flat_map(|v| tlv(0x04, v.as_bytes())).collect();
            seq(&[tlv(0x04, a.as_bytes()), tlv(0x31, &vals)])
        })
        .collect();
    seq(&[
        der_int(id),
        tlv(0x64, &[tlv(0x04, dn.as_bytes()), seq(&attrs)].concat()),
    ])
}

/// An LDAP SearchResultDone message.
pub fn ldap_done(id: i64, code: u8) -> Vec<u8> {
    seq(&[
        der_int(id),
        tlv(
            0x65,
            &[tlv(0x0a, &[code]), tlv(0x04, b""), tlv(0x04, b"")].concat(),
        ),
    ])
}

/// A small but well-formed PE32 GUI executable (one `.text` section) of 1 KiB; `seed` varies
/// the code bytes and the compile time.
pub fn pe_file(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut b = vec![0u8; 0x400];
    b[0..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    b[0x40..0x40 + 39].copy_from_slice(b"This program cannot be run in DOS mode.");
    let put16 =
        |b: &mut Vec<u8>, off: usize, v: u16| b[off..off + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    let coff = 0x84;
    put16(&mut b, coff, 0x014c); // i386
    put16(&mut b, coff + 2, 1); // sections
    put32(
        &mut b,
        coff + 4,
        1_700_000_000 + (rng.below(1_000_000) as u32),
    );
    put16(&mut b, coff + 16, 0xe0); // optional header size
    put16(&mut b, coff + 18, 0x0102); // executable, 32-bit
    let opt = coff + 20;
    put16(&mut b, opt, 0x010b); // PE32
    b[opt + 2] = 14;
    put32(&mut b, opt + 4, 0x200); // code size
    put32(&mut b, opt + 16, 0x1000); // entry point
    put32(&mut b, opt + 20, 0x1000); // base of code
    put32(&mut b, opt + 24, 0x2000); // base of data
    put32(&mut b, opt + 28, 0x0040_0000); // image base
    put32(&mut b, opt + 32, 0x1000); // section alignment
    put32(&mut b, opt + 36, 0x200); // file alignment
    put16(&mut b, opt + 40, 6); // OS version
    put16(&mut b, opt + 48, 6); // subsystem version
    put32(&mut b, opt + 56, 0x2000); // image size
    put32(&mut b, opt + 60, 0x200); // headers size
    put16(&mut b, opt + 68, 2); // GUI
    put16(&mut b, opt + 70, 0x8140);
    put32(&mut b, opt + 72, 0x10_0000);
    put32(&mut b, opt + 76, 0x1000);
    put32(&mut b, opt + 80, 0x10_0000);
    put32(&mut b, opt + 84, 0x1000);
    put32(&mut b, opt + 92, 16); // data directories
    let sec = opt + 0xe0;
    b[sec..sec + 5].copy_from_slice(b".text");
    put32(&mut b, sec + 8, 0x200);
    put32(&mut b, sec + 12, 0x1000);
    put32(&mut b, sec + 16, 0x200);
    put32(&mut b, sec + 20, 0x200);
    put32(&mut b, sec + 36, 0x6000_0020);
    rng.fill(&mut b[0x200..0x400]);
    b[0x200] = 0xc3;
    b
}

/// A ZIP local file entry (stored).
fn zip_entry(name: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"PK\x03\x04".to_vec();
    v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 0]); // CRC-32 (not checked by anything here)
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&(name.len() as u16).to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(data);
    v
}

/// An OOXML Word document; with `macros` its content types declare a macro-enabled document
/// and it carries `word/vbaProject.bin` (a .docm).
pub fn word_document(macros: bool) -> Vec<u8> {
    let main = if macros {
        "application/vnd.ms-word.document.macroEnabled.main+xml"
    } else {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    };
    let types = format!(
        "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Override PartName=\"/word/document.xml\" ContentType=\"{main}\"/></Types>"
    );
    let mut v = zip_entry("[Content_Types].xml", types.as_bytes());
    v.extend(zip_entry(
        "word/document.xml",
        b"<w:document><w:body><w:p><w:r><w:t>Quarterly report</w:t></w:r></w:p></w:body></w:document>",
    ));
    if macros {
        let mut ole = vec![0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
        ole.extend_from_slice(b"Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\nShell \"powershell -enc ...\"\r\nEnd Sub\r\n");
        v.extend(zip_entry("word/vbaProject.bin", &ole));
    }
    v.extend_from_slice(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    v
}

/// A PDF document.
pub fn pdf_file() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// A PNG image (header and IHDR, then filler IDAT bytes).
pub fn png_file(rng: &mut Rng) -> Vec<u8> {
    let mut v =
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x40\0\0\0\x40\x08\x06\0\0\0\xaa\x69\x71\xde"
            .to_vec();
    let mut data = vec![0u8; 600];
    rng.fill(&mut data);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(b"IDAT");
    v.extend_from_slice(&data);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(b"\0\0\0\0IEND\xae\x42\x60\x82");
    v
}

/// A JPEG image header and filler.
pub fn jpeg_file(rng: &mut Rng) -> Vec<u8> {
    let mut v = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00".to_vec();
    let mut data = vec![0u8; 400];
    rng.fill(&mut data);
    v.extend_from_slice(&data);
    v.extend_from_slice(b"\xff\xd9");
    v
}

// ---------------------------------------------------------------------------------------------
// Browsers, popular names.

/// Browser user agents (never suspicious).
pub const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.66",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
];

/// Popular names and their addresses (background traffic).
pub const POPULAR: &[(&str, [u8; 4])] = &[
    ("www.wikipedia.org", [185, 15, 59, 224]),
    ("www.bbc.co.uk", [151, 101, 0, 81]),
    ("news.ycombinator.com", [209, 216, 230, 207]),
    ("www.python.org", [151, 101, 128, 223]),
    ("docs.rs", [18, 65, 229, 73]),
    ("intranet.corp.example", [10, 1, 2, 80]),
    ("wiki.corp.example", [10, 1, 2, 81]),
    ("www.weather.com", [23, 45, 120, 8]),
    ("www.reuters.com", [104, 18, 20, 37]),
    ("mail.corp.example", [10, 1, 1, 25]),
    ("crl.microsoft.com", [23, 55, 160, 9]),
    ("www.stackoverflow.com", [151, 101, 65, 69]),
];

/// Internal accounts (background logons).
const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yvonne",
];

/// Service principals of the domain (SPNs of service accounts).
pub const SPNS: &[&[&str]] = &[
    &["MSSQLSvc", "sql01.corp.example:1433"],
    &["MSSQLSvc", "sql02.corp.example:1433"],
    &["HTTP", "sharepoint.corp.example"],
    &["HTTP", "reports.corp.example"],
    &["SAPService", "sap01.corp.example"],
    &["exchangeMDB", "exch01.corp.example"],
    &["FIMService", "fim01.corp.example"],
    &["kafka", "kafka01.corp.example"],
];

// ---------------------------------------------------------------------------------------------
// The attacks.

/// A Windows logon of `user` from `host`: AS-REQ without pre-authentication answered
/// PREAUTH_REQUIRED, the AS-REQ again with PA-ENC-TIMESTAMP, the AES AS-REP.
pub fn logon(g: &mut Gen, host: [u8; 4], user: &str) {
    let req = kdc_req(
        &mut g.rng,
        Some(user),
        &["krbtgt", REALM],
        WINDOWS_ETYPES,
        &[pa_pac_request()],
    );
    g.kdc(host, &req, &krb_error(KDC_ERR_PREAUTH_REQUIRED, user));
    g.wait_ms(3);
    let pa = [pa_enc_timestamp(&mut g.rng, 18), pa_pac_request()];
    let req = kdc_req(
        &mut g.rng,
        Some(user),
        &["krbtgt", REALM],
        WINDOWS_ETYPES,
        &pa,
    );
    let rep = kdc_rep(&mut g.rng, false, user, &["krbtgt", REALM], 18, 18);
    g.kdc(host, &req, &rep);
}

/// A service ticket request of `user` from `host` for `sname`, asking for `etypes`, issued
/// in `ticket_etype`.
pub fn service_ticket(
    g: &mut Gen,
    host: [u8; 4],
    user: &str,
    sname: &[&str],
    etypes: &[i32],
    ticket_etype: i32,
) {
    let pa = [pa_tgs_req(&mut g.rng)];
    let req = kdc_req(&mut g.rng, None, sname, etypes, &pa);
    let rep = kdc_rep(&mut g.rng, true, user, sname, ticket_etype, 18);
    g.kdc(host, &req, &rep);
}

fn kerberoast(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let user = "jsmith";
    logon(g, host, user);
    g.pause(500, 1_500);
    if quiet {
        // Two services with RC4 (a legacy service account), then six with AES.
        for sname in &SPNS[..2] {
            service_ticket(g, host, user, sname, WINDOWS_ETYPES, 23);
            g.pause(2_000, 5_000);
        }
        for sname in &SPNS[2..] {
            service_ticket(g, host, user, sname, &[18, 17], 18);
            g.pause(2_000, 5_000);
        }
    } else {
        // Rubeus/Impacket style: RC4 only, every SPN in a row.
        for sname in &SPNS[..6] {
            service_ticket(g, host, user, sname, &[23], 23);
            g.pause(3_000, 6_000);
        }
    }
}

fn asrep_roast(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let accounts = ["svc-legacy", "old-scanner", "test.user"];
    for user in accounts {
        if quiet {
            // A client with pre-authentication, the KDC answers in RC4 (a legacy account).
            let pa = [pa_enc_timestamp(&mut g.rng, 23), pa_pac_request()];
            let req = kdc_req(&mut g.rng, Some(user), &["krbtgt", REALM], &[23], &pa);
            let rep = kdc_rep(&mut g.rng, false, user, &["krbtgt", REALM], 18, 23);
            g.kdc(host, &req, &rep);
            g.pause(100, 400);
            logon(g, host, user);
        } else {
            // GetNPUsers: no pre-authentication data, RC4 asked; the account does not require
            // pre-authentication, so the KDC answers with an AS-REP whose enc-part is RC4.
            let req = kdc_req(
                &mut g.rng,
                Some(user),
                &["krbtgt", REALM],
                &[23],
                &[pa_pac_request()],
            );
            let rep = kdc_rep(&mut g.rng, false, user, &["krbtgt", REALM], 18, 23);
            g.kdc(host, &req, &rep);
        }
        g.pause(1_000, 3_000);
    }
}

fn password_spray(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let failing: &[&str] = if quiet {
        &["alice", "bob"]
    } else {
        &[
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        ]
    };
    for user in failing {
        let pa = [pa_enc_timestamp(&mut g.rng, 18), pa_pac_request()];
        let req = kdc_req(
            &mut g.rng,
            Some(user),
            &["krbtgt", REALM],
            WINDOWS_ETYPES,
            &pa,
        );
        g.kdc(host, &req, &krb_error(KDC_ERR_PREAUTH_FAILED, user));
        g.pause(2_000, 6_000);
        if quiet {
            // the user types the password again, right this time
            logon(g, host, user);
            g.pause(1_000, 3_000);
        }
    }
    if quiet {
        for user in ["carol", "dave", "erin"] {
            logon(g, host, user);
            g.pause(1_000, 3_000);
        }
    }
}

fn ldap_recon(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let policies =
        format!("CN={{31B2F340-016D-11D2-945F-00C04FB984F9}},CN=Policies,CN=System,{BASE_DN}");
    let users = format!("CN=Users,{BASE_DN}");
    if quiet {
        g.ldap(
            host,
            &[
                (
                    "",
                    SCOPE_BASE,
                    "(objectClass=*)",
                    &["defaultNamingContext", "dnsHostName"],
                    1,
                ),
                (
                    BASE_DN,
                    SCOPE_SUB,
                    "(&(objectClass=user)(sAMAccountName=jdoe))",
                    &["displayName", "mail", "memberOf"],
                    1,
                ),
                (
                    BASE_DN,
                    SCOPE_SUB,
                    "(&(objectCategory=computer)(servicePrincipalName=HOST/ws042.corp.example))",
                    &["dNSHostName"],
                    1,
                ),
                (
                    &users,
                    SCOPE_ONE,
                    "(&(objectClass=group)(cn=Marketing))",
                    &["member"],
                    1,
                ),
                (
                    &policies,
                    SCOPE_BASE,
                    "(objectClass=*)",
                    &["gPCFileSysPath", "versionNumber"],
                    1,
                ),
            ],
        );
        return;
    }
    g.ldap(
        host,
        &[
            ("", SCOPE_BASE, "(objectClass=*)", &["defaultNamingContext"], 1),
            (
                BASE_DN,
                SCOPE_SUB,
                "(&(samAccountType=805306368)(servicePrincipalName=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
                &["servicePrincipalName", "sAMAccountName", "pwdLastSet"],
                6,
            ),
            (
                BASE_DN,
                SCOPE_SUB,
                "(&(samAccountType=805306368)(userAccountControl:1.2.840.113556.1.4.803:=4194304))",
                &["sAMAccountName"],
                3,
            ),
            (
                BASE_DN,
                SCOPE_SUB,
                "(&(objectCategory=person)(objectClass=user)(adminCount=1))",
                &["sAMAccountName", "memberOf"],
                5,
            ),
            (
                BASE_DN,
                SCOPE_SUB,
                "(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=corp,DC=example)",
                &["sAMAccountName"],
                4,
            ),
            (BASE_DN, SCOPE_SUB, "(objectClass=*)", &[], 40),
        ],
    );
}

fn dns_tunnel(g: &mut Gen, host: [u8; 4], quiet: bool) {
    if quiet {
        // Normal names and CDN-like names with hashed labels.
        let names = [
            "www.wikipedia.org",
            "d3k9x2q7w1e5r8.cloudfront.net",
            "e11290.dscg.akamaiedge.net",
            "r4---sn-4g5ednsz.googlevideo.com",
            "3a7bd3e2360a3d29eea436fcfb7e44c7.sophosxl.example",
            "edge-0042.fra02.prod.cdn.example.net",
            "_ldap._tcp.dc._msdcs.corp.example",
            "wpad.corp.example",
        ];
        for n in names {
            g.dns(host, n, A, NOERROR, &[a_rr(n, [93, 184, 216, 34])]);
            g.pause(200, 1_500);
        }
        // A mail host checking SPF of a few senders.
        for d in ["example.org", "mail.example.net", "newsletter.example.com"] {
            g.dns(
                host,
                d,
                TXT,
                NOERROR,
                &[txt_rr(d, "v=spf1 include:_spf.example.net ~all")],
            );
            g.pause(200, 800);
        }
        // A page pulling 40 names of one CDN.
        for i in 0..40 {
            let n = format!("img{i}.static.example-cdn.net");
            g.dns(host, &n, A, NOERROR, &[a_rr(&n, [151, 101, 1, 10])]);
            g.pause(50, 400);
        }
        return;
    }
    // iodine/dnscat-like: data in base32 labels, TXT answers carrying the replies.
    for i in 0..120 {
        let q = format!(
            "{}.{}.{i:x}.t.data-sync-cloud.net",
            g.base32(52),
            g.base32(30)
        );
        let mut reply = vec![0u8; 120];
        g.rng.fill(&mut reply);
        let qtype = if i % 6 == 5 { NULL } else { TXT };
        let answers = if qtype == TXT {
            vec![txt_rr(&q, &base64(&reply))]
        } else {
            vec![Rr {
                name: q.clone(),
                rtype: NULL,
                ttl: 0,
                rdata: reply,
            }]
        };
        g.dns(host, &q, qtype, NOERROR, &answers);
        g.pause(300, 700);
    }
}

fn dga(g: &mut Gen, host: [u8; 4], quiet: bool) {
    if quiet {
        // Typos, WPAD, a search-suffix miss and Chrome's random one-label probes.
        for n in [
            "gooogle.com",
            "wikipeda.org",
            "wpad.corp.example",
            "printer-3rdfloor.corp.example",
        ] {
            g.dns(host, n, A, NXDOMAIN, &[]);
            g.pause(500, 3_000);
        }
        for _ in 0..3 {
            let len = g.rng.range(7, 15) as usize;
            let probe = g.alnum(len).replace(|c: char| c.is_ascii_digit(), "q");
            g.dns(host, &probe, A, NXDOMAIN, &[]);
            g.pause(10, 50);
        }
        g.resolve(host, "www.wikipedia.org", [185, 15, 59, 224]);
        return;
    }
    let tlds = ["com", "net", "org", "info", "biz", "ru"];
    for i in 0..30 {
        let len = g.rng.range(12, 18) as usize;
        const CONS: &[u8] = b"bcdfghjklmnpqrstvwxz";
        let mut label = String::new();
        for j in 0..len {
            // mostly consonants, as generated names look
            let c = if j % 5 == 2 {
                *g.rng.pick(b"aeiou0123456789")
            } else {
                *g.rng.pick(CONS)
            };
            label.push(c as char);
        }
        let name = format!("{label}.{}", g.rng.pick(&tlds));
        if i == 17 || i == 29 {
            // the two names the operator registered
            g.resolve(host, &name, [185, 244, 25, 40 + i as u8]);
        } else {
            g.dns(host, &name, A, NXDOMAIN, &[]);
        }
        g.pause(100, 1_500);
    }
}

fn exe_download(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let ua = BROWSERS[0];
    // some browsing first
    g.get(
        host,
        "www.wikipedia.org",
        [185, 15, 59, 224],
        "/",
        Some(ua),
        "text/html",
        b"<!DOCTYPE html><html><body>wiki</body></html>",
    );
    g.pause(2_000, 5_000);
    if quiet {
        let png = png_file(&mut g.rng);
        g.get(
            host,
            "img.fresh-gallery.example",
            [203, 0, 113, 45],
            "/assets/update.png",
            Some(ua),
            "image/png",
            &png,
        );
    } else {
        let pe = pe_file(g.rng.next());
        g.get(
            host,
            "cdn.update-checker.example",
            [203, 0, 113, 66],
            "/assets/update.png",
            Some(ua),
            "image/png",
            &pe,
        );
    }
}

fn email_attachment(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let rcpt = "jdoe@corp.example";
    if quiet {
        g.mail(
            host,
            "accounts@supplier.example",
            rcpt,
            "Invoice 2024-0311",
            &[("invoice.pdf", "application/pdf", pdf_file())],
        );
        g.pause(5_000, 20_000);
        g.mail(
            host,
            "team@partner.example",
            rcpt,
            "Report",
            &[(
                "Q3-report.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                word_document(false),
            )],
        );
        g.pause(5_000, 20_000);
        let jpg = jpeg_file(&mut g.rng);
        g.mail(
            host,
            "friend@mail.example",
            rcpt,
            "Photos",
            &[("photo.2024.jpg", "image/jpeg", jpg)],
        );
        return;
    }
    let pe = pe_file(g.rng.next());
    g.mail(
        host,
        "accounts@invoices-online.example",
        rcpt,
        "Invoice overdue",
        &[("invoice.pdf.exe", "application/octet-stream", pe)],
    );
    g.pause(5_000, 20_000);
    g.mail(host, "scanner@corp-scan.example", rcpt, "Scanned document", &[(
        "scan_0311.pdf.js",
        "application/octet-stream",
        b"var s = new ActiveXObject('WScript.Shell'); s.Run('powershell -w hidden -enc SQBFAFgA');\r\n".to_vec(),
    )]);
    g.pause(5_000, 20_000);
    g.mail(
        host,
        "hr@careers-portal.example",
        rcpt,
        "Salary review",
        &[(
            "salary-review.docm",
            "application/vnd.ms-word.document.macroEnabled.12",
            word_document(true),
        )],
    );
}

/// The suspicious user agents of the `user-agent` attack.
pub const BAD_AGENTS: &[&str] = &[
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803",
    "",
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
];

fn user_agent(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let sites = [
        ("www.python.org", [151u8, 101, 128, 223]),
        ("www.reuters.com", [104, 18, 20, 37]),
        ("docs.rs", [18, 65, 229, 73]),
        ("news.ycombinator.com", [209, 216, 230, 207]),
        ("www.weather.com", [23, 45, 120, 8]),
    ];
    for (i, (site, ip)) in sites.iter().enumerate() {
        let ua = if quiet {
            BROWSERS[i % BROWSERS.len()]
        } else {
            BAD_AGENTS[i]
        };
        g.get(
            host,
            site,
            *ip,
            "/index.html",
            Some(ua),
            "text/html",
            b"<html><body>ok</body></html>",
        );
        g.pause(1_000, 4_000);
    }
}

fn post_to_ip(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let ua = BROWSERS[1];
    let body = "id=4f1c9a&os=win10&av=none&data=QUJDREVGR0g=";
    let post = |hostname: &str| {
        format!(
            "POST /gate.php HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: {ua}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    if quiet {
        g.resolve(host, "api.corp-crm.example", [198, 51, 100, 20]);
        g.http(
            host,
            [198, 51, 100, 20],
            post("api.corp-crm.example").as_bytes(),
            ok,
        );
        g.pause(1_000, 3_000);
        // the printer's web page on its internal address
        g.http(host, [10, 1, 5, 50], post("10.1.5.50").as_bytes(), ok);
        return;
    }
    g.http(
        host,
        [185, 244, 25, 99],
        post("185.244.25.99").as_bytes(),
        ok,
    );
}

fn intel(g: &mut Gen, host: [u8; 4], quiet: bool) {
    let ua = BROWSERS[0];
    let html = b"<html><body>ok</body></html>";
    if quiet {
        // Look-alikes of every listed indicator.
        g.resolve(host, "notevil-c2.example", [198, 51, 100, 7]);
        g.resolve(host, "evil-c2.example.cdn.example", [198, 51, 100, 8]);
        g.conversation_to(
            host,
            [185, 244, 25, 18],
            443,
            b"\x16\x03\x01hello",
            b"\x16\x03\x03world",
        );
        g.get(
            host,
            "downloads.badsite.example",
            [198, 51, 100, 9],
            "/payload/stage3.bin",
            Some("EvilAgent/1.1"),
            "application/octet-stream",
            b"other bytes",
        );
        g.mail(
            host,
            "billing@phish-mail.example.org",
            "jdoe@corp.example",
            "hello",
            &[],
        );
        logon(g, host, "svc-backdoor2");
        return;
    }
    // addr: a connection to the listed C2 address
    g.conversation_to(
        host,
        [185, 244, 25, 17],
        443,
        b"\x16\x03\x01hello",
        b"\x16\x03\x03world",
    );
    g.pause(500, 2_000);
    // domain: a lookup of a subdomain of the listed domain
    g.dns(
        host,
        "beacon.evil-c2.example",
        A,
        NOERROR,
        &[a_rr("beacon.evil-c2.example", [198, 51, 100, 77])],
    );
    g.pause(500, 2_000);
    // url and file_hash: the listed stage-2 URL serving the listed file
    g.get(
        host,
        "downloads.badsite.example",
        [198, 51, 100, 9],
        "/payload/stage2.bin",
        Some(ua),
        "application/octet-stream",
        &intel_payload(),
    );
    g.pause(500, 2_000);
    // email: a mail from the listed sender
    g.mail(
        host,
        "billing@phish-mail.example",
        "jdoe@corp.example",
        "Your invoice",
        &[],
    );
    g.pause(500, 2_000);
    // user_name: a logon of the listed account
    logon(g, host, "svc-backdoor");
    g.pause(500, 2_000);
    // software: the listed user agent
    g.get(
        host,
        "www.reuters.com",
        [104, 18, 20, 37],
        "/",
        Some("EvilAgent/1.0"),
        "text/html",
        html,
    );
}

impl Gen {
    /// A TCP connection to `server`:`port` with one request and one response.
    pub fn conversation_to(
        &mut self,
        client: [u8; 4],
        server: [u8; 4],
        port: u16,
        req: &[u8],
        resp: &[u8],
    ) {
        let cport = self.port();
        self.cap
            .conversation(client, cport, server, port, req, resp);
    }
}

/// `seconds` of background traffic of [`background_hosts`]: web browsing (DNS, HTTP, TLS),
/// Windows logons and service tickets (AES), LDAP user lookups, a DNS typo now and then.
pub fn background(g: &mut Gen, seconds: u64) {
    let end = g.cap.ts_us + seconds * 1_000_000;
    let hosts = background_hosts();
    // every host logs on once, at the start
    for (i, h) in hosts.iter().enumerate() {
        logon(g, *h, USERS[i % USERS.len()]);
        g.pause(50, 400);
    }
    while g.cap.ts_us < end {
        let h = *g.rng.pick(&hosts);
        let user = USERS[(h[3] as usize) % USERS.len()];
        match g.rng.below(100) {
            0..=39 => {
                let (site, ip) = *g.rng.pick(POPULAR);
                let ua = *g.rng.pick(BROWSERS);
                let body = format!("<!DOCTYPE html><html><body>{site}</body></html>");
                g.get(h, site, ip, "/", Some(ua), "text/html", body.as_bytes());
            }
            40..=69 => {
                let (site, ip) = *g.rng.pick(POPULAR);
                g.resolve(h, site, ip);
                g.tls(h, ip, site);
            }
            70..=79 => {
                let sname = *g.rng.pick(&SPNS[2..5]);
                service_ticket(g, h, user, sname, WINDOWS_ETYPES, 18);
            }
            80..=89 => {
                let filter = format!("(&(objectClass=user)(sAMAccountName={user}))");
                g.ldap(
                    h,
                    &[(BASE_DN, SCOPE_SUB, &filter, &["displayName", "memberOf"], 1)],
                );
            }
            90..=94 => {
                let (site, ip) = *g.rng.pick(POPULAR);
                g.resolve(h, site, ip);
            }
            _ => {
                let typo = *g
                    .rng
                    .pick(&["wikipeda.org", "gooogle.com", "wpad.corp.example"]);
                g.dns(h, typo, A, NXDOMAIN, &[]);
            }
        }
        g.pause(200, 2_500);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn der_integers_are_minimal() {
        assert_eq!(der_int(0), vec![2, 1, 0]);
        assert_eq!(der_int(23), vec![2, 1, 23]);
        assert_eq!(der_int(128), vec![2, 2, 0, 128]);
        assert_eq!(der_int(-135), vec![2, 2, 0xff, 0x79]);
        assert_eq!(der_int(-1), vec![2, 1, 0xff]);
    }

    #[test]
    fn filters_round_trip_through_the_sensors_printer() {
        for f in [
            "(objectClass=*)",
            "(&(samAccountType=805306368)(servicePrincipalName=*))",
            "(|(cn=a*b*c)(!(sn=x)))",
            "(userAccountControl:1.2.840.113556.1.4.803:=4194304)",
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=corp,DC=example)",
        ] {
            let enc = ldap_filter(f);
            assert_eq!(
                tapir::proto::ldap::parser::filter_to_string(&enc).unwrap(),
                f
            );
        }
    }

    #[test]
    fn pe_is_an_exe_by_content() {
        let (fmt, _) = tapir::files::magic::detect(&pe_file(1));
        assert_eq!(fmt, "exe");
        assert_eq!(tapir::files::magic::detect(&word_document(true)).0, "ooxml");
        assert_eq!(tapir::files::magic::detect(&pdf_file()).0, "pdf");
        assert_eq!(
            tapir::files::magic::detect(&png_file(&mut Rng::new(1))).0,
            "png"
        );
    }

    #[test]
    fn every_attack_is_deterministic_and_not_empty() {
        for a in ATTACKS {
            for quiet in [false, true] {
                let x = capture(a.name, quiet, 7).unwrap();
                assert!(x.len() > 200, "{} {quiet}", a.name);
                assert_eq!(x, capture(a.name, quiet, 7).unwrap(), "{}", a.name);
            }
        }
        assert!(capture("nope", false, 1).is_none());
    }

    #[test]
    fn merge_keeps_every_frame_in_time_order() {
        let a = capture("dga", false, 1).unwrap();
        let b = capture("dga", true, 1).unwrap();
        let m = merge(&[a.clone(), b.clone()]);
        assert_eq!(m.len(), a.len() + b.len() - PCAP_GLOBAL_HEADER_LEN);
    }
}
