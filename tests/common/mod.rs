//! Helpers shared by the integration tests.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tapir::capture::{pcap_file, PacketSource};
use tapir::config::Config;
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions, Summary};

/// The public capture corpus, when this checkout has `../shared` beside it.
pub fn public_pcaps() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/pcaps/public"
        )),
        PathBuf::from("/work/shared/pcaps/public"),
    ];
    let found = candidates
        .into_iter()
        .find(|p| p.join("MANIFEST.tsv").is_file());
    if found.is_none() {
        eprintln!("skipped: ../shared/pcaps/public is not present");
    }
    found
}

#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replays files through `workers` workers and returns the summary and the NDJSON lines of
/// the protocol records (`sensor_status` records left out: [`replay_files_all`] has them).
pub fn replay_files(paths: &[PathBuf], cfg: &Config, workers: usize) -> (Summary, Vec<String>) {
    let (s, lines) = replay_files_all(paths, cfg, workers);
    let lines = lines
        .into_iter()
        .filter(|l| !l.contains("\"event_type\":\"sensor_status\""))
        .collect();
    (s, lines)
}

/// [`replay_files`] with every record, status records included.
pub fn replay_files_all(paths: &[PathBuf], cfg: &Config, workers: usize) -> (Summary, Vec<String>) {
    let sources: Vec<Box<dyn PacketSource>> = paths
        .iter()
        .map(|p| pcap_file::open(&p.to_string_lossy(), 1 << 30).expect("open capture"))
        .collect();
    let buf = SharedBuf::default();
    let sink = NdjsonSink::with_writer("test", Some(Box::new(buf.clone())), &cfg.sensor_id);
    let summary = replay(
        sources,
        cfg,
        sink,
        ReplayOptions {
            workers,
            progress: None,
            ..Default::default()
        },
    )
    .expect("replay");
    let bytes = buf.0.lock().expect("lock").clone();
    let text = String::from_utf8(bytes).expect("records are UTF-8");
    (summary, text.lines().map(str::to_string).collect())
}

pub fn parse(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

use std::io::Read;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{PcapBlockOwned, PcapError};

/// The public corpus, when present.
pub fn corpus() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/pcaps/public"
        )),
        PathBuf::from("/work/shared/pcaps/public"),
    ];
    candidates.into_iter().find(|p| p.is_dir())
}

/// One packet of a capture: (timestamp ns, link type, bytes).
pub type Pkt = (u64, u16, Vec<u8>);

/// Reads every packet of a pcap / pcapng (optionally gzip'd) file.
pub fn read_packets(path: &std::path::Path) -> Vec<Pkt> {
    let raw = std::fs::read(path).expect("read capture");
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    };
    let mut reader =
        pcap_parser::create_reader(bytes.len().max(65536) + 16, &bytes[..]).expect("reader");
    let mut out = Vec::new();
    let mut legacy_lt = 1u16;
    let mut if_lt: Vec<(u16, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy_lt = h.network.0 as u16,
                    PcapBlockOwned::Legacy(b) => {
                        let ts = u64::from(b.ts_sec) * 1_000_000_000 + u64::from(b.ts_usec) * 1000;
                        let n = (b.caplen as usize).min(b.data.len());
                        out.push((ts, legacy_lt, b.data[..n].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => if_lt.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if_lt.push((idb.linktype.0 as u16, 1))
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = if_lt.get(epb.if_id as usize).map_or(1, |x| x.0);
                        let ts = ((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low))
                            .wrapping_mul(1000);
                        out.push((ts, lt, epb.packet_data().to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let lt = if_lt.first().map_or(1, |x| x.0);
                        out.push((0, lt, spb.packet_data().to_vec()));
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    out
}

/// Every capture file of the corpus, as (relative "dir/file", path).
pub fn captures(root: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    for d in std::fs::read_dir(root).expect("corpus dir").flatten() {
        let dn = d.file_name().to_string_lossy().into_owned();
        if dn == "expected" || dn == "peer_expected" || !d.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(d.path()).expect("dir").flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.contains(".pcap") {
                v.push((format!("{dn}/{fname}"), f.path()));
            }
        }
    }
    v.sort();
    v
}

pub const CLIENT: [u8; 4] = [10, 1, 1, 10];
pub const SERVER: [u8; 4] = [93, 184, 216, 34];
pub const CPORT: u16 = 51000;

/// Builds a classic pcap of Ethernet/IPv4/TCP segments in memory.
pub struct Cap {
    pub bytes: Vec<u8>,
    pub ts_us: u64,
}

impl Cap {
    pub fn new() -> Cap {
        let mut bytes = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            if v == 0x0004_0002 {
                bytes.extend_from_slice(&2u16.to_le_bytes());
                bytes.extend_from_slice(&4u16.to_le_bytes());
            } else {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
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

    /// Any TCP segment; `flags` letters: S(YN) A(CK) F(IN) P(SH).
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
        let mut pkt = Vec::new();
        b.write(&mut pkt, payload).unwrap();
        self.ts_us += 10;
        let (s, us) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        for v in [s as u32, us as u32, pkt.len() as u32, pkt.len() as u32] {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.bytes.extend_from_slice(&pkt);
    }

    /// A UDP datagram.
    pub fn udp(&mut self, src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .udp(sp, dp);
        let mut pkt = Vec::new();
        b.write(&mut pkt, payload).unwrap();
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
        let (s, us) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        for v in [s as u32, us as u32, pkt.len() as u32, pkt.len() as u32] {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.bytes.extend_from_slice(pkt);
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

/// What one run of the `tapir` binary produced.
pub struct SensorRun {
    pub status: std::process::ExitStatus,
    pub stderr: String,
    /// Every record, status records included, in output order.
    pub records: Vec<serde_json::Value>,
}

impl SensorRun {
    /// The records of one type.
    pub fn of(&self, event_type: &str) -> Vec<&serde_json::Value> {
        self.records
            .iter()
            .filter(|r| r["event_type"] == event_type)
            .collect()
    }

    /// The body of the final `sensor_status` record.
    pub fn stop(&self) -> &serde_json::Value {
        let last = self.records.last().expect("at least the stop record");
        assert_eq!(last["sensor_status"]["kind"], "stop", "{last}");
        &last["sensor_status"]
    }

    /// Hits of the named limit in the stop record.
    pub fn limit_hits(&self, name: &str) -> u64 {
        self.stop()["limits"]
            .as_array()
            .expect("limits")
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("no limit {name}"))["hits"]
            .as_u64()
            .expect("hits")
    }

    /// An anomaly counter of the stop record (0 when absent).
    pub fn anomaly(&self, name: &str) -> u64 {
        self.stop()["anomalies"][name].as_u64().unwrap_or(0)
    }

    /// The process's peak resident memory, from the stop record.
    pub fn peak_rss(&self) -> u64 {
        self.stop()["memory"]["peak_rss_bytes"]
            .as_u64()
            .expect("peak_rss_bytes (Linux)")
    }
}

/// Runs `tapir replay -` with the capture on standard input (streamed, so the capture itself
/// never sits in the sensor's memory and the peak RSS is the sensor's own) and `args`.
pub fn run_sensor(capture: &[u8], args: &[&str]) -> SensorRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("records.ndjson");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "--no-progress", "-o"])
        .arg(&out)
        .args(args)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tapir");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = capture.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().expect("tapir runs");
    let _ = feeder.join();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    SensorRun {
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        records: text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect(),
    }
}

/// A small xorshift generator: the same "random" traffic on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
