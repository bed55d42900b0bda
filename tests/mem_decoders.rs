//! Thousands of concurrent slow decompression bombs through the binary: each connection sends
//! a response head and a few KB of gzip or brotli that inflate to megabytes, then waits while
//! the others do the same. Unbounded, every body would hold its decoder (window, tables, a
//! brotli ring buffer growing to 16 MiB) and its kept bytes until its flow ends; under
//! `files.inspect_memcap` the oldest are released, counted, and their files recorded truncated.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::run_sensor;
use testkit::packets::{Cap, SERVER};

const MIB: u64 = 1 << 20;

/// `n` zero bytes compressed by `enc` as they go.
fn compress_zeros<W: Write>(mut enc: W, n: u64) -> W {
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        enc.write_all(&zeros[..k]).unwrap();
        left -= k as u64;
    }
    enc
}

/// One connection: its address and next sequence numbers.
struct Conn {
    client: [u8; 4],
    cport: u16,
    c: u32,
    s: u32,
}

impl Conn {
    fn open(cap: &mut Cap, i: usize) -> Conn {
        let client = [10, 20, (i >> 8) as u8, i as u8];
        let cport = 20000 + (i % 40000) as u16;
        let (c, s) = (1_000u32, 5_000_000u32);
        cap.tcp(client, SERVER, cport, 80, c, 0, "S", &[]);
        cap.tcp(SERVER, client, 80, cport, s, c + 1, "SA", &[]);
        cap.tcp(client, SERVER, cport, 80, c + 1, s + 1, "A", &[]);
        Conn {
            client,
            cport,
            c: c + 1,
            s: s + 1,
        }
    }

    fn client(&mut self, cap: &mut Cap, data: &[u8]) {
        cap.tcp(
            self.client,
            SERVER,
            self.cport,
            80,
            self.c,
            self.s,
            "AP",
            data,
        );
        self.c += data.len() as u32;
    }

    fn server(&mut self, cap: &mut Cap, data: &[u8]) {
        for chunk in data.chunks(1400) {
            cap.tcp(
                SERVER,
                self.client,
                80,
                self.cport,
                self.s,
                self.c,
                "AP",
                chunk,
            );
            self.s += chunk.len() as u32;
        }
    }
}

#[test]
fn thousands_of_concurrent_slow_bombs_stay_under_the_inspection_memcap() {
    // 64 MiB of zeros: about 64 KB of gzip; only its first 8 KB are ever sent.
    let gz = compress_zeros(
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best()),
        64 * MIB,
    )
    .finish()
    .unwrap();
    // 1 GiB of zeros with a 16 MiB window: a few hundred bytes.
    let br = compress_zeros(
        brotli::CompressorWriter::new(Vec::new(), 1 << 16, 5, 24),
        1 << 30,
    )
    .into_inner();
    let (n_gz, n_br) = (2_000usize, 200usize);
    let mut cap = Cap::new();
    let mut conns = Vec::new();
    for i in 0..n_gz + n_br {
        let mut k = Conn::open(&mut cap, i);
        k.client(
            &mut cap,
            format!("GET /bomb/{i} HTTP/1.1\r\nHost: example.org\r\n\r\n").as_bytes(),
        );
        let (coding, body) = if i < n_gz {
            ("gzip", &gz[..4096])
        } else {
            ("br", &br[..br.len() / 2])
        };
        let total = if i < n_gz { gz.len() } else { br.len() };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: {coding}\r\nContent-Length: {total}\r\n\r\n"
        );
        k.server(&mut cap, head.as_bytes());
        k.server(&mut cap, body);
        conns.push(k);
    }
    // Every body is open at once; now each sends a little more, slowly.
    for (i, k) in conns.iter_mut().enumerate() {
        let more = if i < n_gz {
            &gz[4096..8192]
        } else {
            &br[br.len() / 2..]
        };
        k.server(&mut cap, more);
    }
    let cap_set = format!(
        "files.inspect_memcap={}",
        std::env::var("TAPIR_INSPECT_MEMCAP").unwrap_or_else(|_| "16777216".into())
    );
    let r = run_sensor(&cap.bytes, &["-w", "1", "--set", &cap_set]);
    assert!(r.status.success(), "{}", r.stderr);
    let stop = r.stop();
    eprintln!(
        "slow bombs: peak RSS {:.1} MiB; limits {}; anomalies {}",
        r.peak_rss() as f64 / MIB as f64,
        stop["limits"],
        stop["anomalies"]
    );
    let released = r.limit_hits("files.inspect_memcap");
    assert!(released > 0, "no body released");
    assert_eq!(r.anomaly("http.inspect_memcap"), released);
    let files = r.of("file");
    assert_eq!(files.len(), n_gz + n_br);
    let truncated = files
        .iter()
        .filter(|f| f["file"]["truncated"] == "inspect_memcap")
        .inspect(|f| assert_eq!(f["file"]["complete"], false, "{f}"))
        .count();
    assert_eq!(truncated as u64, released);
    // Unbounded (or before the cap), close to 200 MiB: 64 KiB kept per body, decoders, brotli
    // ring buffers; under a 16 MiB cap, under 90 MiB.
    let peak = r.peak_rss();
    assert!(
        peak < 128 * MIB,
        "peak RSS {:.1} MiB",
        peak as f64 / MIB as f64
    );
}
