//! Synthetic capture generator for the demo capture and for benchmarks.
//!
//! [`generate`] writes a classic pcap stream (little-endian, microsecond timestamps, linktype
//! Ethernet) of enterprise-like traffic between private hosts (10.0.0.0/8, 192.168.0.0/16) and
//! public servers: TCP connections with a full handshake, data both ways and a FIN or RST close
//! (HTTP/1.1 on 80 and 8080, TLS-looking traffic on 443), DNS over UDP 53, NTP and syslog over
//! UDP, a few ICMP echo exchanges, some 802.1Q-tagged and some IPv6 traffic. Flows overlap in
//! time and timestamps never decrease. The output depends only on the [`GenConfig`], so the same
//! seed always gives the same bytes.
//!
//! Memory stays small whatever the size of the output: a flow is built when it starts and dropped
//! once its last packet is written, and only a handful of flows are open at a time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use crate::pcap::{write_header, write_record, PCAP_GLOBAL_HEADER_LEN, PCAP_RECORD_HEADER_LEN};
use crate::rng::Rng;
use etherparse::{
    IpHeaders, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder, TcpOptionElement, VlanId,
};

/// Traffic profile: sets the flow mix parameters and the sizes of transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Small capture for the demo (`pcaps/demo.pcap`): short bodies, about 40 flows.
    Demo,
    /// Benchmark traffic: larger transfers (up to a few MB), many concurrent flows.
    Bench,
    /// An enterprise's mix for the statistics benchmark: the demo's small transfers, more DNS,
    /// about 20 000 internal clients, and names from a long tail of about 300 000 registered
    /// domains (a few popular, most seen once or twice) under several public suffixes.
    Enterprise,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// PRNG seed; the output is a pure function of the whole config.
    pub seed: u64,
    /// Number of flows to start. With `target_bytes` set, 0 means "no limit".
    pub flows: u64,
    /// Stop starting new flows once this many bytes (file size) have been written; the flows
    /// already open are still completed, so the output ends up slightly larger.
    pub target_bytes: Option<u64>,
    /// Traffic profile.
    pub profile: Profile,
    /// Timestamp of the first flow, microseconds since the Unix epoch.
    pub start_time_us: u64,
}

impl GenConfig {
    /// Config for `profile` with the given seed and flow count, starting 2024-03-04 09:00 UTC.
    pub fn new(profile: Profile, seed: u64, flows: u64) -> Self {
        GenConfig {
            seed,
            flows,
            target_bytes: None,
            profile,
            start_time_us: 1_709_542_800_000_000,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Packets (pcap records) written.
    pub packets: u64,
    /// Sum of the frame lengths (captured bytes, without pcap headers).
    pub bytes: u64,
    /// Bytes written to the output, pcap headers included.
    pub file_bytes: u64,
    /// TCP connections generated.
    pub tcp_flows: u64,
    /// UDP flows (DNS, NTP, syslog) generated.
    pub udp_flows: u64,
    /// ICMP echo exchanges generated.
    pub icmp_flows: u64,
}

/// Writes a pcap capture described by `cfg` to `w` and returns what was written.
///
/// The writer is written in small pieces; wrap files in a `BufWriter`.
pub fn generate(cfg: &GenConfig, w: &mut impl Write) -> io::Result<GenSummary> {
    let mut sum = GenSummary::default();
    write_header(w)?;
    sum.file_bytes = PCAP_GLOBAL_HEADER_LEN as u64;

    let mut rng = Rng::new(cfg.seed);
    let mut world = World::new(cfg.profile);
    let flow_limit = match (cfg.flows, cfg.target_bytes) {
        (0, Some(_)) => u64::MAX,
        (n, _) => n,
    };
    // Open flows: heap of (next packet time, flow slot, packet index).
    let mut open: Vec<Option<Vec<Pkt>>> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    let mut started = 0u64;
    let mut next_start = cfg.start_time_us;
    let mut last_ts = 0u64;
    let mean_gap = match cfg.profile {
        Profile::Demo | Profile::Enterprise => 120_000.0,
        Profile::Bench => 20_000.0,
    };

    loop {
        let budget_left = cfg.target_bytes.is_none_or(|t| sum.file_bytes < t);
        let can_start = started < flow_limit && budget_left;
        let next_pkt = heap.peek().map(|Reverse((t, _, _))| *t);
        if can_start && next_pkt.is_none_or(|t| next_start <= t) {
            let mut pkts = Vec::new();
            match world.flow(&mut rng, next_start, &mut pkts)? {
                Kind::Tcp => sum.tcp_flows += 1,
                Kind::Udp => sum.udp_flows += 1,
                Kind::Icmp => sum.icmp_flows += 1,
            }
            pkts.sort_by_key(|p| p.ts);
            started += 1;
            next_start += rng.exp(mean_gap).max(1);
            if let Some(first) = pkts.first() {
                let slot = match open.iter().position(Option::is_none) {
                    Some(i) => i,
                    None => {
                        open.push(None);
                        open.len() - 1
                    }
                };
                heap.push(Reverse((first.ts, slot, 0)));
                open[slot] = Some(pkts);
            }
            continue;
        }
        let Some(Reverse((_, slot, idx))) = heap.pop() else {
            break;
        };
        let Some(pkts) = open.get_mut(slot).and_then(Option::as_mut) else {
            break;
        };
        if let Some(p) = pkts.get(idx) {
            let ts = p.ts.max(last_ts);
            last_ts = ts;
            write_record(w, ts, &p.data)?;
            sum.packets += 1;
            sum.bytes += p.data.len() as u64;
            sum.file_bytes += (PCAP_RECORD_HEADER_LEN + p.data.len()) as u64;
        }
        match pkts.get(idx + 1) {
            Some(next) => heap.push(Reverse((next.ts, slot, idx + 1))),
            None => open[slot] = None,
        }
    }
    Ok(sum)
}

struct Pkt {
    ts: u64,
    data: Vec<u8>,
}

enum Kind {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Clone, Copy)]
enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

#[derive(Clone, Copy)]
struct Host {
    mac: [u8; 6],
    addr: Addr,
    ttl: u8,
}

/// Both ends of a flow plus its link-layer details. Index 0 is the client, 1 the server.
struct Path {
    hosts: [Host; 2],
    ports: [u16; 2],
    vlan: Option<u16>,
    ip_id: [u16; 2],
}

impl Path {
    fn build(&mut self, dir: usize, l4: L4, payload: &[u8]) -> io::Result<Vec<u8>> {
        let (s, d) = (self.hosts[dir], self.hosts[1 - dir]);
        let ip = match (s.addr, d.addr) {
            (Addr::V4(src), Addr::V4(dst)) => {
                self.ip_id[dir] = self.ip_id[dir].wrapping_add(1);
                let h = Ipv4Header {
                    source: src,
                    destination: dst,
                    time_to_live: s.ttl,
                    identification: self.ip_id[dir],
                    dont_fragment: true,
                    ..Default::default()
                };
                IpHeaders::Ipv4(h, Default::default())
            }
            (Addr::V6(src), Addr::V6(dst)) => {
                let h = Ipv6Header {
                    source: src,
                    destination: dst,
                    hop_limit: s.ttl,
                    flow_label: Ipv6FlowLabel::try_new(u32::from(self.ports[0]) << 4)
                        .unwrap_or(Ipv6FlowLabel::ZERO),
                    ..Default::default()
                };
                IpHeaders::Ipv6(h, Default::default())
            }
            _ => return Err(io::Error::other("mixed address families")),
        };
        let eth = PacketBuilder::ethernet2(s.mac, d.mac);
        let step = match self.vlan {
            Some(v) => eth
                .single_vlan(VlanId::try_new(v).map_err(io::Error::other)?)
                .ip(ip),
            None => eth.ip(ip),
        };
        let (sp, dp) = (self.ports[dir], self.ports[1 - dir]);
        let mut out = Vec::with_capacity(payload.len() + 80);
        match l4 {
            L4::Tcp(f) => {
                let mut t = step.tcp(sp, dp, f.seq, f.win);
                if f.syn {
                    t = t.syn();
                    let opts = [
                        TcpOptionElement::MaximumSegmentSize(f.mss),
                        TcpOptionElement::Noop,
                        TcpOptionElement::Noop,
                        TcpOptionElement::SelectiveAcknowledgementPermitted,
                    ];
                    t = t.options(&opts).map_err(io::Error::other)?;
                }
                if let Some(a) = f.ack {
                    t = t.ack(a);
                }
                if f.psh {
                    t = t.psh();
                }
                if f.fin {
                    t = t.fin();
                }
                if f.rst {
                    t = t.rst();
                }
                t.write_to_vec(&mut out, payload)
                    .map_err(io::Error::other)?;
            }
            L4::Udp => step
                .udp(sp, dp)
                .write_to_vec(&mut out, payload)
                .map_err(io::Error::other)?,
            L4::EchoRequest(id, seq) => step
                .icmpv4_echo_request(id, seq)
                .write_to_vec(&mut out, payload)
                .map_err(io::Error::other)?,
            L4::EchoReply(id, seq) => step
                .icmpv4_echo_reply(id, seq)
                .write_to_vec(&mut out, payload)
                .map_err(io::Error::other)?,
        }
        Ok(out)
    }
}

#[derive(Clone, Copy, Default)]
struct TcpFlags {
    seq: u32,
    ack: Option<u32>,
    win: u16,
    mss: u16,
    syn: bool,
    psh: bool,
    fin: bool,
    rst: bool,
}

enum L4 {
    Tcp(TcpFlags),
    Udp,
    EchoRequest(u16, u16),
    EchoReply(u16, u16),
}

/// One TCP connection being laid out in time (capture point next to the client).
struct TcpConn<'a> {
    path: Path,
    nxt: [u32; 2],
    win: [u16; 2],
    mss: usize,
    /// The receiver ACKs every this many full segments (2, or more with GRO-style stretch ACKs).
    ack_every: usize,
    rtt: u64,
    t: u64,
    /// Delayed ACK not yet sent: (acking side, due time, ack number).
    pending: Option<(usize, u64, u32)>,
    out: &'a mut Vec<Pkt>,
}

impl TcpConn<'_> {
    fn seg(&mut self, dir: usize, ts: u64, f: TcpFlags, payload: &[u8]) -> io::Result<()> {
        if let Some((by, due, ack)) = self.pending.take() {
            // piggybacked on this segment when it comes from the acking side in time
            if by != dir || ts > due {
                let flags = TcpFlags {
                    seq: self.nxt[by],
                    win: self.win[by],
                    ack: Some(ack),
                    ..Default::default()
                };
                let data = self.path.build(by, L4::Tcp(flags), &[])?;
                self.out.push(Pkt {
                    ts: due.min(ts),
                    data,
                });
            }
        }
        let flags = TcpFlags {
            seq: self.nxt[dir],
            win: self.win[dir],
            ..f
        };
        let data = self.path.build(dir, L4::Tcp(flags), payload)?;
        self.out.push(Pkt { ts, data });
        Ok(())
    }

    fn handshake(&mut self, rng: &mut Rng) -> io::Result<()> {
        let t = self.t;
        let mss = self.mss as u16;
        self.seg(
            0,
            t,
            TcpFlags {
                syn: true,
                mss,
                ..Default::default()
            },
            &[],
        )?;
        self.nxt[0] = self.nxt[0].wrapping_add(1);
        let t1 = t + self.rtt;
        let ack = Some(self.nxt[0]);
        self.seg(
            1,
            t1,
            TcpFlags {
                syn: true,
                mss,
                ack,
                ..Default::default()
            },
            &[],
        )?;
        self.nxt[1] = self.nxt[1].wrapping_add(1);
        let t2 = t1 + rng.range(30, 200);
        self.seg(
            0,
            t2,
            TcpFlags {
                ack: Some(self.nxt[1]),
                ..Default::default()
            },
            &[],
        )?;
        self.t = t2 + rng.range(50, 400);
        Ok(())
    }

    /// Sends `data` from `dir` in slow-start rounds; the peer ACKs every second segment.
    fn send(&mut self, rng: &mut Rng, dir: usize, data: &[u8]) -> io::Result<()> {
        let mut off = 0;
        let mut round = 10usize;
        while off < data.len() {
            let mut t = self.t;
            let mut last_ack = t;
            let mut n = 0;
            while n < round && off < data.len() {
                let len = self.mss.min(data.len() - off);
                n += 1;
                let last = off + len == data.len() || n == round;
                let f = TcpFlags {
                    ack: Some(self.nxt[1 - dir]),
                    psh: last,
                    ..Default::default()
                };
                self.seg(dir, t, f, &data[off..off + len])?;
                self.nxt[dir] = self.nxt[dir].wrapping_add(len as u32);
                off += len;
                if off == data.len() && n % self.ack_every != 0 {
                    // delayed ACK: sent later unless the peer's next segment carries it
                    self.pending = Some((1 - dir, t + self.rtt + 40_000, self.nxt[dir]));
                } else if n % self.ack_every == 0 || last {
                    let at = t + self.rtt + rng.range(0, 80);
                    let f = TcpFlags {
                        ack: Some(self.nxt[dir]),
                        ..Default::default()
                    };
                    self.seg(1 - dir, at, f, &[])?;
                    last_ack = last_ack.max(at);
                }
                // serialisation at ~100 Mbit/s plus jitter
                t += (len as u64 * 8) / 100 + rng.range(5, 60);
            }
            self.t = last_ack.max(t) + rng.range(20, 150);
            round = (round * 2).min(40);
        }
        Ok(())
    }

    fn think(&mut self, rng: &mut Rng, lo: u64, hi: u64) {
        self.t += rng.range(lo, hi);
    }

    fn close(&mut self, rng: &mut Rng) -> io::Result<()> {
        if rng.pct(3) {
            let f = TcpFlags {
                ack: Some(self.nxt[1]),
                rst: true,
                ..Default::default()
            };
            return self.seg(0, self.t, f, &[]);
        }
        let first = if rng.pct(65) { 0 } else { 1 };
        let t = self.t;
        let f = TcpFlags {
            ack: Some(self.nxt[1 - first]),
            fin: true,
            ..Default::default()
        };
        self.seg(first, t, f, &[])?;
        self.nxt[first] = self.nxt[first].wrapping_add(1);
        let t1 = t + self.rtt;
        let f = TcpFlags {
            ack: Some(self.nxt[first]),
            fin: true,
            ..Default::default()
        };
        self.seg(1 - first, t1, f, &[])?;
        self.nxt[1 - first] = self.nxt[1 - first].wrapping_add(1);
        let f = TcpFlags {
            ack: Some(self.nxt[1 - first]),
            ..Default::default()
        };
        self.seg(first, t1 + rng.range(30, 200), f, &[])
    }
}

const DOMAINS: &[&str] = &[
    "www.example.com",
    "outlook.office365.com",
    "login.microsoftonline.com",
    "www.google.com",
    "api.github.com",
    "cdn.jsdelivr.net",
    "update.example.org",
    "intranet.corp.example",
    "wiki.corp.example",
    "files.corp.example",
    "time.example.net",
    "static.example-cdn.net",
    "telemetry.example.io",
    "news.example.co.uk",
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "curl/8.5.0",
    "Microsoft-CryptoAPI/10.0",
    "python-requests/2.31.0",
];

const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/status",
    "/api/v2/items",
    "/static/js/app.js",
    "/static/css/site.css",
    "/downloads/update.bin",
    "/images/logo.bin",
    "/login",
    "/search?q=quarterly+report",
];

const WORDS: &[&str] = &[
    "network",
    "sensor",
    "traffic",
    "report",
    "quarterly",
    "the",
    "and",
    "of",
    "data",
    "service",
    "customer",
    "account",
    "update",
    "policy",
    "security",
    "meeting",
    "project",
    "invoice",
];

/// Address pools and per-run counters.
struct World {
    profile: Profile,
    next_port: u16,
    gw_mac: [u8; 6],
}

impl World {
    fn new(profile: Profile) -> Self {
        World {
            profile,
            next_port: 49_152,
            gw_mac: [0x00, 0x1c, 0x7f, 0x3a, 0x10, 0x01],
        }
    }

    fn eph_port(&mut self, rng: &mut Rng) -> u16 {
        self.next_port = self.next_port.wrapping_add(rng.range(1, 7) as u16);
        if self.next_port < 49_152 {
            self.next_port = 49_152 + rng.range(0, 100) as u16;
        }
        self.next_port
    }

    /// A name to look up or visit: the demo's few, or (enterprise) a long tail.
    fn name(&self, rng: &mut Rng) -> String {
        if self.profile != Profile::Enterprise || rng.pct(30) {
            return (*rng.pick(DOMAINS)).to_string();
        }
        // Skewed towards low indexes: u^3 of a uniform u in [0, 1).
        let u = rng.below(1 << 20) as f64 / f64::from(1u32 << 20);
        let idx = (u * u * u * 300_000.0) as u64;
        let suffix = [
            "com",
            "net",
            "org",
            "co.uk",
            "io",
            "de",
            "com.au",
            "github.io",
        ][(idx % 8) as usize];
        let label =
            ["www", "api", "cdn", "mail", "img", "login", "static", "s1"][rng.below(8) as usize];
        format!("{label}.site{idx}.{suffix}")
    }

    fn client(&self, rng: &mut Rng, v6: bool) -> Host {
        let n = rng.range(10, 250) as u8;
        let mut mac = [0x3c, 0x52, 0x82, 0, 0, n];
        mac[3] = rng.byte();
        mac[4] = rng.byte() & 0x0f;
        let addr = if v6 {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&[
                0x20,
                0x01,
                0x0d,
                0xb8,
                0x00,
                0x10,
                0x00,
                rng.range(1, 4) as u8,
            ]);
            a[8..14].copy_from_slice(&[0x3e, 0x52, 0x82, 0xff, 0xfe, mac[4]]);
            a[15] = n;
            Addr::V6(a)
        } else if self.profile == Profile::Enterprise {
            Addr::V4([10, rng.range(1, 5) as u8, rng.range(0, 20) as u8, n])
        } else if rng.pct(70) {
            Addr::V4([10, rng.range(1, 3) as u8, rng.range(0, 20) as u8, n])
        } else {
            Addr::V4([192, 168, rng.range(1, 4) as u8, n])
        };
        Host {
            mac,
            addr,
            ttl: if rng.pct(60) { 128 } else { 64 },
        }
    }

    /// A server: mostly public, sometimes an internal one.
    fn server(&self, rng: &mut Rng, v6: bool, internal_pct: u64) -> Host {
        let addr = if v6 {
            let mut a = [0u8; 16];
            let prefix: &[u8; 6] = rng.pick(&[
                [0x26, 0x06, 0x47, 0x00, 0x00, 0x03],
                [0x2a, 0x00, 0x14, 0x50, 0x40, 0x01],
                [0x26, 0x20, 0x01, 0xec, 0x00, 0x0c],
            ]);
            a[..6].copy_from_slice(prefix);
            a[14] = rng.byte();
            a[15] = rng.byte();
            Addr::V6(a)
        } else if rng.pct(internal_pct) {
            Addr::V4([10, 0, rng.range(0, 3) as u8, rng.range(2, 40) as u8])
        } else {
            let p: &[u8; 2] = rng.pick(&[
                [93, 184],
                [151, 101],
                [104, 16],
                [142, 250],
                [52, 84],
                [20, 190],
                [185, 199],
            ]);
            Addr::V4([p[0], p[1], rng.byte(), rng.range(1, 254) as u8])
        };
        Host {
            mac: self.gw_mac,
            addr,
            ttl: rng.range(48, 60) as u8,
        }
    }

    fn path(&mut self, rng: &mut Rng, v6: bool, vlan_pct: u64, srv: Host, sport: u16) -> Path {
        let cli = self.client(rng, v6);
        let mut srv = srv;
        if matches!(srv.addr, Addr::V4([10, 0, ..])) {
            srv.mac = [0x00, 0x50, 0x56, 0x8a, rng.byte(), rng.byte()];
        }
        let vlan = if rng.pct(vlan_pct) {
            Some(*rng.pick(&[10u16, 20, 100, 210]))
        } else {
            None
        };
        let cport = self.eph_port(rng);
        Path {
            hosts: [cli, srv],
            ports: [cport, sport],
            vlan,
            ip_id: [rng.next() as u16, rng.next() as u16],
        }
    }

    /// Request/response exchanges on one connection.
    fn exchanges(&self, rng: &mut Rng) -> u64 {
        match self.profile {
            Profile::Demo | Profile::Enterprise => rng.range(1, 2),
            Profile::Bench => rng.range(1, 4),
        }
    }

    /// Body size for a response.
    fn body_len(&self, rng: &mut Rng) -> usize {
        let r = rng.below(100);
        let n = match (self.profile, r) {
            (Profile::Demo | Profile::Enterprise, 0..=29) => rng.range(200, 1_500),
            (Profile::Demo | Profile::Enterprise, 30..=74) => rng.range(1_500, 6_000),
            (Profile::Demo | Profile::Enterprise, _) => rng.range(6_000, 12_000),
            (_, 0..=34) => rng.range(200, 2_000),
            (_, 35..=74) => rng.range(2_000, 12_000),
            (Profile::Bench, 75..=94) => rng.range(12_000, 100_000),
            (Profile::Bench, _) => rng.range(100_000, 1_500_000),
        };
        n as usize
    }

    /// Builds one whole flow starting at `t` into `out`.
    fn flow(&mut self, rng: &mut Rng, t: u64, out: &mut Vec<Pkt>) -> io::Result<Kind> {
        let mut r = rng.below(100);
        let v6 = rng.pct(15);
        // Enterprise: half of the flows are DNS lookups.
        if self.profile == Profile::Enterprise && r >= 50 {
            r = 58;
        }
        match r {
            0..=21 => self.http(rng, t, out, 80, v6).map(|_| Kind::Tcp),
            22..=27 => self.http(rng, t, out, 8080, v6).map(|_| Kind::Tcp),
            28..=57 => self.tls(rng, t, out, v6).map(|_| Kind::Tcp),
            58..=85 => self.dns(rng, t, out, v6).map(|_| Kind::Udp),
            86..=91 => self.ntp(rng, t, out).map(|_| Kind::Udp),
            92..=95 => self.syslog(rng, t, out).map(|_| Kind::Udp),
            _ => self.icmp(rng, t, out).map(|_| Kind::Icmp),
        }
    }

    fn tcp_conn<'a>(
        &mut self,
        rng: &mut Rng,
        t: u64,
        out: &'a mut Vec<Pkt>,
        port: u16,
        v6: bool,
        internal: u64,
    ) -> TcpConn<'a> {
        let srv = self.server(rng, v6, internal);
        let path = self.path(rng, v6, 12, srv, port);
        let internal_srv = matches!(path.hosts[1].addr, Addr::V4([10, 0, ..]));
        let rtt = if internal_srv {
            rng.range(300, 1_500)
        } else {
            rng.range(8_000, 60_000)
        };
        TcpConn {
            path,
            nxt: [rng.next() as u32, rng.next() as u32],
            win: [64_240, 65_160],
            mss: if v6 { 1440 } else { 1460 },
            ack_every: if rng.pct(65) { 2 } else { 4 },
            rtt,
            t,
            pending: None,
            out,
        }
    }

    fn http(
        &mut self,
        rng: &mut Rng,
        t: u64,
        out: &mut Vec<Pkt>,
        port: u16,
        v6: bool,
    ) -> io::Result<()> {
        let mut c = self.tcp_conn(rng, t, out, port, v6, if port == 8080 { 70 } else { 25 });
        c.handshake(rng)?;
        let host = self.name(rng);
        let ua = *rng.pick(USER_AGENTS);
        for _ in 0..self.exchanges(rng) {
            let path = *rng.pick(PATHS);
            let mut req = String::new();
            if rng.pct(75) {
                req.push_str(&format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n"
                ));
            } else {
                let items = rng.range(1, 12) as usize;
                let body = json_body(rng, items);
                req.push_str(&format!(
                    "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
                    body.len()
                ));
            }
            c.send(rng, 0, req.as_bytes())?;
            c.think(rng, 500, 30_000);
            let blen = self.body_len(rng);
            let (status, ctype, body) = if rng.pct(8) {
                (
                    "404 Not Found",
                    "text/html; charset=utf-8",
                    html_body(rng, 300).into_bytes(),
                )
            } else if path.ends_with(".bin") {
                let mut b = vec![0u8; blen];
                rng.fill(&mut b);
                ("200 OK", "application/octet-stream", b)
            } else if path.starts_with("/api") {
                (
                    "200 OK",
                    "application/json",
                    json_body(rng, blen / 40 + 1).into_bytes(),
                )
            } else if path.ends_with(".js") {
                (
                    "200 OK",
                    "application/javascript",
                    text_body(rng, blen).into_bytes(),
                )
            } else {
                (
                    "200 OK",
                    "text/html; charset=utf-8",
                    html_body(rng, blen).into_bytes(),
                )
            };
            let server = *rng.pick(&[
                "nginx/1.24.0",
                "Apache/2.4.58 (Ubuntu)",
                "Microsoft-IIS/10.0",
            ]);
            let mut resp = format!(
                "HTTP/1.1 {status}\r\nDate: Mon, 04 Mar 2024 09:{:02}:{:02} GMT\r\nServer: {server}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: max-age=600\r\nConnection: keep-alive\r\n\r\n",
                rng.below(60),
                rng.below(60),
                body.len()
            )
            .into_bytes();
            resp.extend_from_slice(&body);
            c.send(rng, 1, &resp)?;
            c.think(rng, 1_000, 200_000);
        }
        c.close(rng)
    }

    fn tls(&mut self, rng: &mut Rng, t: u64, out: &mut Vec<Pkt>, v6: bool) -> io::Result<()> {
        let mut c = self.tcp_conn(rng, t, out, 443, v6, 10);
        c.handshake(rng)?;
        let sni = self.name(rng);
        let ch = client_hello(rng, &sni);
        c.send(rng, 0, &ch)?;
        c.think(rng, 200, 5_000);
        let mut flight = server_hello(rng);
        flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        let cert_len = match self.profile {
            Profile::Demo | Profile::Enterprise => rng.range(2_000, 3_000),
            Profile::Bench => rng.range(2_500, 5_000),
        } as usize;
        app_records(rng, cert_len, &mut flight);
        c.send(rng, 1, &flight)?;
        c.think(rng, 100, 2_000);
        let mut fin = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
        app_records(rng, 53, &mut fin);
        c.send(rng, 0, &fin)?;
        for _ in 0..self.exchanges(rng) {
            c.think(rng, 100, 50_000);
            let mut req = Vec::new();
            let n = rng.range(80, 900) as usize;
            app_records(rng, n, &mut req);
            c.send(rng, 0, &req)?;
            c.think(rng, 1_000, 40_000);
            let mut resp = Vec::new();
            let n = self.body_len(rng);
            app_records(rng, n, &mut resp);
            c.send(rng, 1, &resp)?;
        }
        c.think(rng, 1_000, 300_000);
        c.close(rng)
    }

    fn dns(&mut self, rng: &mut Rng, t: u64, out: &mut Vec<Pkt>, v6: bool) -> io::Result<()> {
        let srv = if v6 {
            let mut a = [0u8; 16];
            a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x53]);
            a[15] = 0x53;
            Host {
                mac: self.gw_mac,
                addr: Addr::V6(a),
                ttl: 64,
            }
        } else {
            let a = *rng.pick(&[
                [10, 0, 0, 53],
                [10, 0, 0, 54],
                [192, 168, 1, 1],
                [8, 8, 8, 8],
            ]);
            Host {
                mac: self.gw_mac,
                addr: Addr::V4(a),
                ttl: 64,
            }
        };
        let mut p = self.path(rng, v6, 15, srv, 53);
        let name = if rng.pct(30) {
            format!("host-{}.corp.example", rng.range(1, 999))
        } else {
            self.name(rng)
        };
        let id = rng.next() as u16;
        let q = dns_message(id, &name, None);
        out.push(Pkt {
            ts: t,
            data: p.build(0, L4::Udp, &q)?,
        });
        let answer = [
            rng.range(1, 223) as u8,
            rng.byte(),
            rng.byte(),
            rng.range(1, 254) as u8,
        ];
        let r = dns_message(id, &name, Some((answer, rng.range(30, 86_400) as u32)));
        let rt = t + rng.range(300, 40_000);
        out.push(Pkt {
            ts: rt,
            data: p.build(1, L4::Udp, &r)?,
        });
        Ok(())
    }

    fn ntp(&mut self, rng: &mut Rng, t: u64, out: &mut Vec<Pkt>) -> io::Result<()> {
        let srv = self.server(rng, false, 30);
        let mut p = self.path(rng, false, 10, srv, 123);
        if rng.pct(50) {
            p.ports[0] = 123;
        }
        let secs = (t / 1_000_000 + 2_208_988_800) as u32;
        let mut q = [0u8; 48];
        q[0] = 0x23; // LI 0, version 4, mode 3 (client)
        q[40..44].copy_from_slice(&secs.to_be_bytes());
        rng.fill(&mut q[44..48]);
        out.push(Pkt {
            ts: t,
            data: p.build(0, L4::Udp, &q)?,
        });
        let mut r = [0u8; 48];
        r[0] = 0x24; // mode 4 (server)
        r[1] = 2; // stratum
        r[2] = 6;
        r[3] = 0xe9; // precision
        r[12..16].copy_from_slice(&[10, 0, 0, 1]);
        for off in [16, 32, 40] {
            r[off..off + 4].copy_from_slice(&secs.to_be_bytes());
        }
        r[24..32].copy_from_slice(&q[40..48]);
        out.push(Pkt {
            ts: t + rng.range(500, 30_000),
            data: p.build(1, L4::Udp, &r)?,
        });
        Ok(())
    }

    fn syslog(&mut self, rng: &mut Rng, t: u64, out: &mut Vec<Pkt>) -> io::Result<()> {
        let srv = Host {
            mac: self.gw_mac,
            addr: Addr::V4([10, 0, 1, 10]),
            ttl: 64,
        };
        let mut p = self.path(rng, false, 30, srv, 514);
        let mut ts = t;
        for i in 0..rng.range(2, 6) {
            let msg = format!(
                "<134>Mar  4 09:{:02}:{:02} fw{} kernel: DROP IN=eth0 OUT= SRC=203.0.113.{} DST=10.0.{}.{} PROTO=TCP SPT={} DPT=22 seq={i}",
                rng.below(60),
                rng.below(60),
                rng.range(1, 3),
                rng.range(1, 254),
                rng.range(0, 9),
                rng.range(1, 254),
                rng.range(1024, 65_000)
            );
            out.push(Pkt {
                ts,
                data: p.build(0, L4::Udp, msg.as_bytes())?,
            });
            ts += rng.range(1_000, 400_000);
        }
        Ok(())
    }

    fn icmp(&mut self, rng: &mut Rng, t: u64, out: &mut Vec<Pkt>) -> io::Result<()> {
        let srv = self.server(rng, false, 40);
        let mut p = self.path(rng, false, 0, srv, 0);
        let id = rng.next() as u16;
        let mut ts = t;
        for seq in 1..=rng.range(2, 4) as u16 {
            let mut payload = [0u8; 56];
            for (i, b) in payload.iter_mut().enumerate().skip(8) {
                *b = i as u8;
            }
            payload[..8].copy_from_slice(&ts.to_le_bytes());
            out.push(Pkt {
                ts,
                data: p.build(0, L4::EchoRequest(id, seq), &payload)?,
            });
            let rt = ts + rng.range(400, 30_000);
            out.push(Pkt {
                ts: rt,
                data: p.build(1, L4::EchoReply(id, seq), &payload)?,
            });
            ts += 1_000_000 + rng.range(0, 2_000);
        }
        Ok(())
    }
}

fn text_body(rng: &mut Rng, len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        let w: &str = rng.pick::<&str>(WORDS);
        s.push_str(w);
        s.push(if rng.pct(8) { '\n' } else { ' ' });
    }
    s.truncate(len);
    s
}

fn html_body(rng: &mut Rng, len: usize) -> String {
    let head = "<!DOCTYPE html>\n<html><head><title>Intranet</title></head>\n<body>\n";
    let tail = "\n</body></html>\n";
    let text = len.saturating_sub(head.len() + tail.len()).max(1);
    format!("{head}{}{tail}", text_body(rng, text))
}

fn json_body(rng: &mut Rng, items: usize) -> String {
    let mut s = String::from("{\"status\":\"ok\",\"items\":[");
    for i in 0..items {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "{{\"id\":{},\"name\":\"{}\"}}",
            rng.range(1, 99_999),
            rng.pick(WORDS)
        ));
    }
    s.push_str("]}");
    s
}

fn put_u16(v: &mut Vec<u8>, n: usize) {
    v.extend_from_slice(&(n as u16).to_be_bytes());
}

/// Appends `body` prefixed by its length as 2 bytes.
fn with_len16(v: &mut Vec<u8>, body: &[u8]) {
    put_u16(v, body.len());
    v.extend_from_slice(body);
}

fn extension(v: &mut Vec<u8>, typ: u16, body: &[u8]) {
    v.extend_from_slice(&typ.to_be_bytes());
    with_len16(v, body);
}

fn handshake_record(msg_type: u8, body: &[u8], legacy_version: u8) -> Vec<u8> {
    let mut hs = vec![msg_type];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(body);
    let mut rec = vec![0x16, 0x03, legacy_version];
    with_len16(&mut rec, &hs);
    rec
}

/// A TLS 1.3-style ClientHello record with SNI, groups, signature algorithms, versions, key share
/// and ALPN.
pub fn client_hello(rng: &mut Rng, sni: &str) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    b.extend_from_slice(&random);
    b.push(32);
    let mut sid = [0u8; 32];
    rng.fill(&mut sid);
    b.extend_from_slice(&sid);
    let suites: [u16; 9] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
    ];
    let sb: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    with_len16(&mut b, &sb);
    b.extend_from_slice(&[0x01, 0x00]);
    let mut ext = Vec::new();
    // server_name
    let mut sn = vec![0x00];
    with_len16(&mut sn, sni.as_bytes());
    let mut snl = Vec::new();
    with_len16(&mut snl, &sn);
    extension(&mut ext, 0x0000, &snl);
    // extended_master_secret, renegotiation_info
    extension(&mut ext, 0x0017, &[]);
    extension(&mut ext, 0xff01, &[0x00]);
    // supported_groups: x25519, secp256r1, secp384r1
    extension(
        &mut ext,
        0x000a,
        &[0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    );
    // ec_point_formats
    extension(&mut ext, 0x000b, &[0x01, 0x00]);
    // session_ticket
    extension(&mut ext, 0x0023, &[]);
    // ALPN: h2, http/1.1
    extension(
        &mut ext,
        0x0010,
        &[
            0x00, 0x0c, 0x02, b'h', b'2', 0x08, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ],
    );
    // signature_algorithms
    let sigs: [u16; 8] = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let sg: Vec<u8> = sigs.iter().flat_map(|s| s.to_be_bytes()).collect();
    let mut sgl = Vec::new();
    with_len16(&mut sgl, &sg);
    extension(&mut ext, 0x000d, &sgl);
    // key_share: x25519
    let mut ks = vec![0x00, 0x1d, 0x00, 0x20];
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    ks.extend_from_slice(&key);
    let mut ksl = Vec::new();
    with_len16(&mut ksl, &ks);
    extension(&mut ext, 0x0033, &ksl);
    // psk_key_exchange_modes, supported_versions (1.3, 1.2)
    extension(&mut ext, 0x002d, &[0x01, 0x01]);
    extension(&mut ext, 0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]);
    with_len16(&mut b, &ext);
    handshake_record(0x01, &b, 0x01)
}

/// A TLS 1.3 ServerHello record (TLS_AES_128_GCM_SHA256, x25519).
pub fn server_hello(rng: &mut Rng) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    b.extend_from_slice(&random);
    b.push(32);
    let mut sid = [0u8; 32];
    rng.fill(&mut sid);
    b.extend_from_slice(&sid);
    b.extend_from_slice(&[0x13, 0x01, 0x00]);
    let mut ext = Vec::new();
    extension(&mut ext, 0x002b, &[0x03, 0x04]);
    let mut ks = vec![0x00, 0x1d, 0x00, 0x20];
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    ks.extend_from_slice(&key);
    extension(&mut ext, 0x0033, &ks);
    with_len16(&mut b, &ext);
    handshake_record(0x02, &b, 0x03)
}

/// Appends `len` bytes of opaque TLS application data, split into records of at most 16 KiB
/// (each with 5 header + 17 bytes of AEAD overhead).
fn app_records(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    let mut left = len.max(1);
    while left > 0 {
        let n = left.min(16_384);
        left -= n;
        let mut rec = vec![0u8; n + 17];
        rng.fill(&mut rec);
        out.extend_from_slice(&[0x17, 0x03, 0x03]);
        with_len16(out, &rec);
    }
}

/// A DNS query for `name` (type A), or its response with one A answer when `answer` is set.
fn dns_message(id: u16, name: &str, answer: Option<([u8; 4], u32)>) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    let (flags, an): (u16, u16) = if answer.is_some() {
        (0x8180, 1)
    } else {
        (0x0100, 0)
    };
    m.extend_from_slice(&flags.to_be_bytes());
    for n in [1u16, an, 0, 0] {
        m.extend_from_slice(&n.to_be_bytes());
    }
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&[0x00, 0x01, 0x00, 0x01]);
    if let Some((addr, ttl)) = answer {
        // name: compression pointer to the question name at offset 12
        m.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&[0x00, 0x04]);
        m.extend_from_slice(&addr);
    }
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pcap::{LINKTYPE_ETHERNET, SNAPLEN};

    fn gen(seed: u64, flows: u64) -> (Vec<u8>, GenSummary) {
        let mut buf = Vec::new();
        let sum = generate(&GenConfig::new(Profile::Demo, seed, flows), &mut buf).unwrap();
        (buf, sum)
    }

    #[test]
    fn header_records_and_determinism() {
        let (a, sum) = gen(7, 25);
        assert_eq!(&a[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u16::from_le_bytes([a[4], a[5]]), 2);
        assert_eq!(u16::from_le_bytes([a[6], a[7]]), 4);
        assert_eq!(u32::from_le_bytes(a[16..20].try_into().unwrap()), SNAPLEN);
        assert_eq!(
            u32::from_le_bytes(a[20..24].try_into().unwrap()),
            LINKTYPE_ETHERNET
        );
        assert_eq!(sum.file_bytes, a.len() as u64);
        assert_eq!(sum.tcp_flows + sum.udp_flows + sum.icmp_flows, 25);

        // walk the records: count, lengths and non-decreasing timestamps
        let (mut off, mut n, mut last, mut bytes) = (24usize, 0u64, 0u64, 0u64);
        while off < a.len() {
            let f = |i: usize| u32::from_le_bytes(a[off + i..off + i + 4].try_into().unwrap());
            let ts = u64::from(f(0)) * 1_000_000 + u64::from(f(4));
            assert!(f(4) < 1_000_000);
            assert!(ts >= last);
            last = ts;
            assert_eq!(f(8), f(12));
            bytes += u64::from(f(8));
            off += 16 + f(8) as usize;
            n += 1;
        }
        assert_eq!(off, a.len());
        assert_eq!(n, sum.packets);
        assert_eq!(bytes, sum.bytes);

        let (b, _) = gen(7, 25);
        assert_eq!(a, b, "same seed, same bytes");
        let (c, _) = gen(8, 25);
        assert_ne!(a, c);
    }

    #[test]
    fn byte_target_stops_starting_flows() {
        let mut cfg = GenConfig::new(Profile::Bench, 1, 0);
        cfg.target_bytes = Some(2_000_000);
        let sum = generate(&cfg, &mut io::sink()).unwrap();
        assert!(sum.file_bytes >= 2_000_000);
        assert!(sum.file_bytes < 20_000_000);
    }

    #[test]
    fn dns_wire_format() {
        let m = dns_message(0x1234, "www.example.com", Some(([1, 2, 3, 4], 60)));
        assert_eq!(&m[..4], &[0x12, 0x34, 0x81, 0x80]);
        assert_eq!(&m[12..16], &[3, b'w', b'w', b'w']);
        assert_eq!(&m[m.len() - 16..m.len() - 14], &[0xc0, 0x0c]);
        assert_eq!(&m[m.len() - 4..], &[1, 2, 3, 4]);
    }
}
