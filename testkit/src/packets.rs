//! Packet builders: [`Cap`] writes a classic pcap in memory, one frame at a time, 10 µs apart
//! (Ethernet/IPv4 TCP segments, UDP datagrams, raw IPv4 packets, whole TCP conversations).
#![allow(clippy::expect_used)]

use crate::pcap::{write_header, write_record};
use crate::rng::Rng;

/// The test connection's client address.
pub const CLIENT: [u8; 4] = [10, 1, 1, 10];
/// The test connection's server address.
pub const SERVER: [u8; 4] = [93, 184, 216, 34];
/// The test connection's client port (the server port is 80).
pub const CPORT: u16 = 51000;

/// Builds a classic pcap of Ethernet/IPv4/TCP segments in memory.
pub struct Cap {
    /// The capture so far, global header included.
    pub bytes: Vec<u8>,
    /// Timestamp of the last frame, microseconds since the epoch.
    pub ts_us: u64,
}

impl Default for Cap {
    fn default() -> Self {
        Cap::new()
    }
}

impl Cap {
    /// An empty capture (its header only), starting at 2023-11-14 22:13:20 UTC.
    pub fn new() -> Cap {
        let mut bytes = Vec::new();
        write_header(&mut bytes).expect("writing to a Vec");
        Cap {
            bytes,
            ts_us: 1_700_000_000_000_000,
        }
    }

    /// One TCP segment of the test connection; `to_server` picks the direction.
    pub fn seg(&mut self, to_server: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]) {
        if to_server {
            self.tcp(CLIENT, SERVER, CPORT, 80, seq, ack, flags, payload);
        } else {
            self.tcp(SERVER, CLIENT, 80, CPORT, seq, ack, flags, payload);
        }
    }

    /// Any TCP segment; `flags` letters: S(YN) A(CK) F(IN) P(SH) R(ST).
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        src: [u8; 4],
        dst: [u8; 4],
        sp: u16,
        dp: u16,
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &[u8],
    ) {
        let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('P') {
            b = b.psh();
        }
        if flags.contains('R') {
            b = b.rst();
        }
        let mut pkt = Vec::new();
        b.write(&mut pkt, payload).expect("a valid TCP segment");
        self.frame(&pkt);
    }

    /// A SYN to `dst`:`dport` from a random address of 11.0.0.0/8, random port (1024 and up)
    /// and random sequence number: one packet of a SYN flood.
    pub fn random_syn(&mut self, rng: &mut Rng, dst: [u8; 4], dport: u16) {
        let r = rng.next();
        let src = [11, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8];
        self.tcp(
            src,
            dst,
            (r >> 32) as u16 | 1024,
            dport,
            r as u32,
            0,
            "S",
            &[],
        );
    }

    /// A UDP datagram.
    pub fn udp(&mut self, src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .udp(sp, dp);
        let mut pkt = Vec::new();
        b.write(&mut pkt, payload).expect("a valid UDP datagram");
        self.frame(&pkt);
    }

    /// An IPv4 packet given whole (header included), in an Ethernet frame.
    pub fn ipv4_raw(&mut self, ip: &[u8]) {
        let mut pkt = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        pkt.extend_from_slice(ip);
        self.frame(&pkt);
    }

    /// Any link-layer (Ethernet) frame.
    pub fn frame(&mut self, pkt: &[u8]) {
        self.ts_us += 10;
        write_record(&mut self.bytes, self.ts_us, pkt).expect("writing to a Vec");
    }

    /// A whole TCP connection between `client`:`cport` and `server`:`sport`: handshake, the
    /// request and the response (each in segments of at most 1400 bytes), FIN both ways.
    #[allow(clippy::too_many_arguments)]
    pub fn conversation(
        &mut self,
        client: [u8; 4],
        cport: u16,
        server: [u8; 4],
        sport: u16,
        request: &[u8],
        response: &[u8],
    ) {
        let (mut c, mut s) = (1000u32, 900_000u32);
        self.tcp(client, server, cport, sport, c, 0, "S", &[]);
        self.tcp(server, client, sport, cport, s, c + 1, "SA", &[]);
        c += 1;
        s += 1;
        self.tcp(client, server, cport, sport, c, s, "A", &[]);
        for chunk in request.chunks(1400) {
            self.tcp(client, server, cport, sport, c, s, "AP", chunk);
            c = c.wrapping_add(chunk.len() as u32);
        }
        for chunk in response.chunks(1400) {
            self.tcp(server, client, sport, cport, s, c, "AP", chunk);
            s = s.wrapping_add(chunk.len() as u32);
        }
        self.tcp(client, server, cport, sport, c, s, "AF", &[]);
        self.tcp(server, client, sport, cport, s, c + 1, "AF", &[]);
        self.tcp(client, server, cport, sport, c + 1, s + 1, "A", &[]);
    }

    /// A whole TCP connection `client`:`cport` → `server`:`sport` of alternating steps: each
    /// `(to_server, bytes)` sent in one segment and acknowledged before the next; handshake
    /// first, FIN both ways last.
    pub fn session(
        &mut self,
        client: [u8; 4],
        server: [u8; 4],
        ports: (u16, u16),
        steps: &[(bool, Vec<u8>)],
    ) {
        let (cport, sport) = ports;
        let (mut cs, mut ss) = (1_000u32, 500_000u32);
        self.tcp(client, server, cport, sport, cs, 0, "S", &[]);
        self.tcp(server, client, sport, cport, ss, cs + 1, "SA", &[]);
        cs += 1;
        ss += 1;
        self.tcp(client, server, cport, sport, cs, ss, "A", &[]);
        for (to_server, data) in steps {
            let n = data.len() as u32;
            if *to_server {
                self.tcp(client, server, cport, sport, cs, ss, "AP", data);
                cs += n;
                self.tcp(server, client, sport, cport, ss, cs, "A", &[]);
            } else {
                self.tcp(server, client, sport, cport, ss, cs, "AP", data);
                ss += n;
                self.tcp(client, server, cport, sport, cs, ss, "A", &[]);
            }
        }
        self.tcp(client, server, cport, sport, cs, ss, "AF", &[]);
        self.tcp(server, client, sport, cport, ss, cs + 1, "AF", &[]);
        self.tcp(client, server, cport, sport, cs + 1, ss + 1, "A", &[]);
    }

    /// `data` sent from `isn`+1 in segments of `size`, in the given order of segment indexes
    /// (indexes may repeat: retransmissions).
    pub fn send(
        &mut self,
        to_server: bool,
        isn: u32,
        ack: u32,
        data: &[u8],
        size: usize,
        order: &[usize],
    ) {
        let chunks: Vec<&[u8]> = data.chunks(size).collect();
        for &i in order {
            let off = (i * size) as u32;
            self.seg(
                to_server,
                isn.wrapping_add(1).wrapping_add(off),
                ack,
                "AP",
                chunks[i],
            );
        }
    }
}

/// A BER/DER TLV (Kerberos, LDAP payloads): `tag`, the definite length in its shortest form,
/// then `content` (the product's `proto::ber::encode`, so reader and writer agree).
pub use tapir::proto::ber::encode as tlv;

/// A Kerberos AS-REQ (no pre-authentication) from `cname`@`realm` for krbtgt/`realm`: KDC
/// options forwardable, renewable, canonicalize, renewable-ok; till 2037-09-13T02:48:05Z;
/// nonce 0x1d3c5a01; the given encryption types.
pub fn krb_as_req(cname: &str, realm: &str, etypes: &[u8]) -> Vec<u8> {
    let ctx = |n: u8, c: Vec<u8>| tlv(0xa0 + n, &c);
    let int = |v: &[u8]| tlv(0x02, v);
    let gs = |s: &str| tlv(0x1b, s.as_bytes());
    let principal = |t: u8, names: &[&str]| {
        let names: Vec<u8> = names.iter().flat_map(|n| gs(n)).collect();
        tlv(
            0x30,
            &[ctx(0, int(&[t])), ctx(1, tlv(0x30, &names))].concat(),
        )
    };
    let etypes: Vec<u8> = etypes.iter().flat_map(|e| int(&[*e])).collect();
    let body = tlv(
        0x30,
        &[
            ctx(0, tlv(0x03, &[0x00, 0x40, 0x81, 0x00, 0x10])),
            ctx(1, principal(1, &[cname])),
            ctx(2, gs(realm)),
            ctx(3, principal(2, &["krbtgt", realm])),
            ctx(5, tlv(0x18, b"20370913024805Z")),
            ctx(7, int(&[0x1d, 0x3c, 0x5a, 0x01])),
            ctx(8, tlv(0x30, &etypes)),
        ]
        .concat(),
    );
    let req = tlv(
        0x30,
        &[ctx(1, int(&[5])), ctx(2, int(&[10])), ctx(4, body)].concat(),
    );
    tlv(0x6a, &req)
}
