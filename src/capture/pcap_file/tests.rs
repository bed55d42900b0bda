//! Unit tests of the capture file reader: fixtures are written byte by byte here.

use super::super::{LinkType, Next, PacketSource};
use super::backing::STREAM_BUF_INITIAL;
use super::pcapng::{
    TsResol, OPT_IF_TSOFFSET, OPT_IF_TSRESOL, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_PB, PCAPNG_SHB,
    PCAPNG_SPB,
};
use super::*;
use std::io::{self, Read, Write};
const NS_PER_SEC: u64 = 1_000_000_000;

/// One classic pcap record: seconds, fraction (µs or ns), captured bytes, wire length.
type Rec<'a> = (u32, u32, &'a [u8], u32);

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn put64(v: &mut Vec<u8>, x: u64, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn pcap(be: bool, nanos: bool, linktype: u32, snaplen: u32, recs: &[Rec]) -> Vec<u8> {
    let mut v = Vec::new();
    put32(&mut v, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 }, be);
    put16(&mut v, 2, be);
    put16(&mut v, 4, be);
    put32(&mut v, 0, be);
    put32(&mut v, 0, be);
    put32(&mut v, snaplen, be);
    put32(&mut v, linktype, be);
    for &(sec, frac, data, wire) in recs {
        put32(&mut v, sec, be);
        put32(&mut v, frac, be);
        put32(&mut v, data.len() as u32, be);
        put32(&mut v, wire, be);
        v.extend_from_slice(data);
    }
    v
}

/// A pcapng writer for fixtures.
struct Ng {
    be: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Ng {
        let mut ng = Ng {
            be,
            out: Vec::new(),
        };
        ng.shb(be);
        ng
    }
    fn block(&mut self, btype: u32, body: &[u8]) {
        let be = self.be;
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let total = 12 + body.len() as u32;
        put32(&mut self.out, btype, be);
        put32(&mut self.out, total, be);
        self.out.extend_from_slice(&body);
        put32(&mut self.out, total, be);
    }
    fn shb(&mut self, be: bool) {
        self.be = be;
        let mut b = Vec::new();
        put32(&mut b, 0x1A2B_3C4D, be);
        put16(&mut b, 1, be);
        put16(&mut b, 0, be);
        put64(&mut b, u64::MAX, be);
        self.block(PCAPNG_SHB, &b);
    }
    fn idb(&mut self, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, linktype, be);
        put16(&mut b, 0, be);
        put32(&mut b, snaplen, be);
        for &(code, val) in opts {
            put16(&mut b, code, be);
            put16(&mut b, val.len() as u16, be);
            b.extend_from_slice(val);
            while b.len() % 4 != 0 {
                b.push(0);
            }
        }
        if !opts.is_empty() {
            put32(&mut b, 0, be);
        }
        self.block(PCAPNG_IDB, &b);
    }
    fn epb(&mut self, iface: u32, units: u64, data: &[u8], wire: u32) {
        let be = self.be;
        let mut b = Vec::new();
        put32(&mut b, iface, be);
        put32(&mut b, (units >> 32) as u32, be);
        put32(&mut b, units as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, wire, be);
        b.extend_from_slice(data);
        self.block(PCAPNG_EPB, &b);
    }
    fn pb(&mut self, iface: u16, drops: u16, units: u64, data: &[u8]) {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, iface, be);
        put16(&mut b, drops, be);
        put32(&mut b, (units >> 32) as u32, be);
        put32(&mut b, units as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, data.len() as u32, be);
        b.extend_from_slice(data);
        self.block(PCAPNG_PB, &b);
    }
    fn spb(&mut self, wire: u32, data: &[u8]) {
        let mut b = Vec::new();
        put32(&mut b, wire, self.be);
        b.extend_from_slice(data);
        self.block(PCAPNG_SPB, &b);
    }
}

#[derive(Debug, PartialEq)]
struct Got {
    ts_ns: u64,
    linktype: LinkType,
    data: Vec<u8>,
    wire_len: u32,
}

fn collect(src: &mut dyn PacketSource) -> Result<Vec<Got>, CaptureError> {
    let mut v = Vec::new();
    loop {
        match src.next()? {
            Next::Packet(p) => v.push(Got {
                ts_ns: p.ts_ns,
                linktype: p.linktype,
                data: p.data.to_vec(),
                wire_len: p.wire_len,
            }),
            Next::Idle => panic!("a file never idles"),
            Next::End => return Ok(v),
        }
    }
}

fn got(ts_ns: u64, linktype: LinkType, data: &[u8], wire_len: u32) -> Got {
    Got {
        ts_ns,
        linktype,
        data: data.to_vec(),
        wire_len,
    }
}

/// A reader that hands out at most `chunk` bytes per read, like a pipe.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn stream(data: Vec<u8>, chunk: usize) -> Result<CaptureFile, CaptureError> {
    CaptureFile::from_reader(
        Box::new(Trickle {
            data,
            pos: 0,
            chunk,
        }),
        "stream",
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn classic_pcap_all_magics() {
    let p1: &[u8] = &[1, 2, 3, 4, 5, 6];
    let p2: &[u8] = &[0xaa; 40];
    for be in [false, true] {
        for nanos in [false, true] {
            let file = pcap(be, nanos, 1, 65535, &[(10, 500, p1, 6), (11, 7, p2, 60)]);
            let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
            let pk = collect(&mut cf).unwrap();
            let mul = if nanos { 1 } else { 1000 };
            assert_eq!(
                pk,
                vec![
                    got(10 * NS_PER_SEC + 500 * mul, LinkType::ETHERNET, p1, 6),
                    got(11 * NS_PER_SEC + 7 * mul, LinkType::ETHERNET, p2, 60),
                ],
                "be={be} nanos={nanos}"
            );
            let st = cf.stats();
            assert_eq!(st.packets, 2);
            assert_eq!(st.bytes, 66);
            assert_eq!(st.truncated, 1);
            assert_eq!(st.malformed, 0);
            // After the end, it stays at the end.
            assert!(matches!(cf.next(), Ok(Next::End)));
        }
    }
}

#[test]
fn packets_are_slices_of_the_shared_buffer() {
    let file = pcap(false, false, 101, 0, &[(1, 0, &[0x45, 0, 0, 20], 4)]);
    let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
    let shared = cf.shared_buffer().unwrap();
    let range = shared.as_ptr_range();
    let Next::Packet(p) = cf.next().unwrap() else {
        panic!("expected a packet");
    };
    assert_eq!(p.linktype, LinkType::RAW);
    assert!(range.contains(&p.data.as_ptr()));
    let off = p.data.as_ptr() as usize - shared.as_ptr() as usize;
    assert_eq!(off, 24 + 16);
    assert_eq!(&shared[off..off + p.data.len()], p.data);
}

#[test]
fn cut_off_last_record_is_counted_and_ends() {
    let mut file = pcap(
        false,
        false,
        1,
        65535,
        &[(1, 0, &[1; 10], 10), (2, 0, &[2; 10], 10)],
    );
    file.truncate(file.len() - 3);
    let mut cf = CaptureFile::from_bytes(file.clone(), "t").unwrap();
    assert_eq!(collect(&mut cf).unwrap().len(), 1);
    assert_eq!(cf.stats().malformed, 1);
    // Cut inside the record header as well.
    file.truncate(24 + 16 + 10 + 5);
    let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
    assert_eq!(collect(&mut cf).unwrap().len(), 1);
    assert_eq!(cf.stats().malformed, 1);
}

#[test]
fn absurd_length_is_damage_with_offset() {
    let mut file = pcap(
        false,
        false,
        1,
        0,
        &[(1, 0, &[1; 10], 10), (2, 0, &[2; 10], 10)],
    );
    // caplen of the second record.
    let at = 24 + 16 + 10 + 8;
    file[at..at + 4].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
    assert!(matches!(cf.next(), Ok(Next::Packet(_))));
    match cf.next() {
        Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, at as u64),
        other => panic!("expected damage, got {other:?}"),
    }
    // The error is given once; then the capture is over.
    assert!(matches!(cf.next(), Ok(Next::End)));
}

#[test]
fn caplen_over_snaplen_is_cut_counted_and_read_on() {
    // Snap length 8; the first record says 10 captured bytes (and has them), as old writers
    // did. libpcap reads it cut to 8 bytes and goes on; so must we.
    let p1: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    let p2: &[u8] = &[7; 6];
    for be in [false, true] {
        let file = pcap(be, false, 1, 8, &[(1, 0, p1, 10), (2, 0, p2, 6)]);
        let mut cf = CaptureFile::from_bytes(file.clone(), "t").unwrap();
        let pk = collect(&mut cf).unwrap();
        assert_eq!(
            pk,
            vec![
                got(NS_PER_SEC, LinkType::ETHERNET, &p1[..8], 10),
                got(2 * NS_PER_SEC, LinkType::ETHERNET, p2, 6),
            ]
        );
        let st = cf.stats();
        assert_eq!((st.packets, st.caplen_over_snaplen), (2, 1));
        assert_eq!((st.truncated, st.malformed), (1, 0));
        // The same through a stream.
        let mut cf = stream(file, 5).unwrap();
        assert_eq!(collect(&mut cf).unwrap().len(), 2);
        assert_eq!(cf.stats().caplen_over_snaplen, 1);
    }
    // Past libpcap's largest snap length it is still damage.
    let mut file = pcap(false, false, 1, 8, &[(1, 0, p1, 10)]);
    file[32..36].copy_from_slice(&(MAX_PACKET_LEN + 1).to_le_bytes());
    let mut cf = CaptureFile::from_bytes(file, "t").unwrap();
    assert!(matches!(
        cf.next(),
        Err(CaptureError::Damaged { offset: 32, .. })
    ));
}

#[test]
fn pcapng_caplen_over_snaplen_is_cut_and_counted() {
    let mut ng = Ng::new(false);
    ng.idb(1, 4, &[]);
    ng.epb(0, 1, &[1, 2, 3, 4, 5, 6], 6);
    ng.epb(0, 2, &[9; 3], 3);
    let mut cf = CaptureFile::from_bytes(ng.out, "ng").unwrap();
    let pk = collect(&mut cf).unwrap();
    assert_eq!(
        pk,
        vec![
            got(1_000, LinkType::ETHERNET, &[1, 2, 3, 4], 6),
            got(2_000, LinkType::ETHERNET, &[9; 3], 3),
        ]
    );
    assert_eq!(cf.stats().caplen_over_snaplen, 1);
}

#[test]
fn garbage_is_unknown_format() {
    let err = CaptureFile::from_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "g")
        .err()
        .unwrap();
    match &err {
        CaptureError::UnknownFormat { magic, .. } => assert!(magic.starts_with("47 45 54 20")),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("not a pcap"));
    assert!(matches!(
        CaptureFile::from_bytes(Vec::new(), "e"),
        Err(CaptureError::UnknownFormat { .. })
    ));
    assert!(matches!(
        CaptureFile::from_bytes(vec![0x0a, 0x0d, 0x0d, 0x0a, 1, 2], "e"),
        Err(CaptureError::UnknownFormat { .. })
    ));
    assert!(matches!(
        stream(b"\x00\x01garbage garbage garbage".to_vec(), 1),
        Err(CaptureError::UnknownFormat { .. })
    ));
}

/// Two sections (the second in the other byte order), interfaces of different link types
/// and resolutions, all three packet block kinds, and blocks we skip.
fn pcapng_fixture(be: bool) -> (Vec<u8>, Vec<Got>) {
    let mut ng = Ng::new(be);
    ng.idb(1, 0, &[]); // Ethernet, µs by default
    ng.idb(101, 65535, &[(OPT_IF_TSRESOL, &[9]), (2, b"eth1\0\0")]); // raw IP, ns
    ng.block(4, &[0; 16]); // name resolution block: skipped
    ng.epb(0, 1_500_000_123_456, &[1, 2, 3], 3);
    ng.epb(1, 1_500_000_123_456_789_012, &[4, 5, 6, 7, 8], 1500);
    ng.pb(0, 3, 1_000_001, &[9; 7]);
    ng.spb(64, &[0xee; 64]);
    ng.block(0x0BAD_1DEA, &[1, 2, 3, 4, 5]); // custom: skipped
    ng.shb(!be);
    let tsoff = 100u64;
    let offb = if be {
        tsoff.to_le_bytes()
    } else {
        tsoff.to_be_bytes()
    };
    ng.idb(
        239,
        0,
        &[(OPT_IF_TSRESOL, &[0x80 | 10]), (OPT_IF_TSOFFSET, &offb)],
    ); // NFLOG
    ng.epb(0, 3 * 1024 + 512, &[0xab; 16], 16);
    let want = vec![
        got(1_500_000_123_456_000, LinkType::ETHERNET, &[1, 2, 3], 3),
        got(
            1_500_000_123_456_789_012,
            LinkType::RAW,
            &[4, 5, 6, 7, 8],
            1500,
        ),
        got(1_000_001_000, LinkType::ETHERNET, &[9; 7], 7),
        got(1_000_001_000, LinkType::ETHERNET, &[0xee; 64], 64),
        got(103_500_000_000, LinkType::NFLOG, &[0xab; 16], 16),
    ];
    (ng.out, want)
}

#[test]
fn pcapng_sections_interfaces_and_blocks() {
    for be in [false, true] {
        let (file, want) = pcapng_fixture(be);
        let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
        assert_eq!(collect(&mut cf).unwrap(), want, "be={be}");
        let st = cf.stats();
        assert_eq!(st.packets, 5);
        assert_eq!(st.truncated, 1);
        assert_eq!(st.dropped, 3);
        assert_eq!(st.malformed, 0);
    }
}

#[test]
fn pcapng_spb_is_cut_to_snaplen() {
    let mut ng = Ng::new(false);
    ng.idb(1, 20, &[]);
    ng.spb(100, &[7; 20]);
    let mut cf = CaptureFile::from_bytes(ng.out, "ng").unwrap();
    let pk = collect(&mut cf).unwrap();
    assert_eq!(pk, vec![got(0, LinkType::ETHERNET, &[7; 20], 100)]);
    assert_eq!(cf.stats().truncated, 1);
}

#[test]
fn pcapng_damage() {
    // Unknown interface: counted and skipped.
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    ng.epb(5, 0, &[1], 1);
    ng.epb(0, 0, &[2], 1);
    let mut cf = CaptureFile::from_bytes(ng.out.clone(), "ng").unwrap();
    assert_eq!(collect(&mut cf).unwrap().len(), 1);
    assert_eq!(cf.stats().malformed, 1);

    // Cut-off last block: counted, and the end.
    let mut file = ng.out.clone();
    file.truncate(file.len() - 2);
    let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
    assert_eq!(collect(&mut cf).unwrap().len(), 0);
    assert_eq!(cf.stats().malformed, 2);

    // Trailing length that does not match: damage at the trailer.
    let mut file = ng.out.clone();
    let n = file.len();
    file[n - 4] ^= 0x40;
    let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
    match collect(&mut cf) {
        Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, n as u64 - 4),
        other => panic!("{other:?}"),
    }

    // Absurd block length in the middle.
    let mut file = ng.out.clone();
    let shb_len = 28;
    let idb_len = 20;
    let at = shb_len + idb_len + 4;
    file[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
    match collect(&mut cf) {
        Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, at as u64),
        other => panic!("{other:?}"),
    }

    // Packet length that overruns its block.
    let mut ng = Ng::new(true);
    ng.idb(1, 0, &[]);
    ng.epb(0, 0, &[1; 8], 8);
    let mut file = ng.out;
    let at = 28 + 20 + 8 + 12;
    file[at..at + 4].copy_from_slice(&9u32.to_be_bytes());
    let mut cf = CaptureFile::from_bytes(file, "ng").unwrap();
    assert!(matches!(
        collect(&mut cf),
        Err(CaptureError::Damaged { .. })
    ));
}

#[test]
fn tsresol_conversions() {
    assert_eq!(TsResol::Pow10(6).to_ns(5), 5_000);
    assert_eq!(TsResol::Pow10(0).to_ns(5), 5_000_000_000);
    assert_eq!(TsResol::Pow10(12).to_ns(5_000), 5);
    assert_eq!(TsResol::Pow10(127).to_ns(u64::MAX), 0);
    assert_eq!(TsResol::Pow2(0).to_ns(1), 1_000_000_000);
    assert_eq!(TsResol::Pow2(1).to_ns(3), 1_500_000_000);
    assert_eq!(TsResol::Pow2(30).to_ns(1 << 30), 1_000_000_000);
    assert_eq!(TsResol::Pow2(127).to_ns(u64::MAX), 0);
    assert_eq!(TsResol::from_option(0x8a), TsResol::Pow2(10));
}

#[test]
fn gzip_from_bytes_and_file_cap() {
    let (file, want) = pcapng_fixture(false);
    let gz = gzip(&file);
    let mut cf = CaptureFile::from_bytes(gz.clone(), "gz").unwrap();
    assert_eq!(collect(&mut cf).unwrap(), want);
    assert!(cf.shared_buffer().is_some());

    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(&gz).unwrap();
    let path = tmp.path().to_str().unwrap();
    let mut src = open(path, 1 << 20).unwrap();
    assert_eq!(collect(src.as_mut()).unwrap(), want);
    // Exactly at the cap is fine; one byte less is too large (found while reading).
    let mut src = open(path, file.len() as u64).unwrap();
    assert_eq!(collect(src.as_mut()).unwrap(), want);
    let mut src = open(path, file.len() as u64 - 1).unwrap();
    let cap = file.len() as u64 - 1;
    assert!(matches!(
        collect(src.as_mut()),
        Err(CaptureError::TooLarge { cap: c, .. }) if c == cap
    ));
}

/// A classic pcap of `n` Ethernet frames of `len` bytes (contents vary, compress well).
fn big_pcap(n: u32, len: usize) -> Vec<u8> {
    let mut v = pcap(false, false, 1, 65535, &[]);
    let mut frame = vec![0u8; len];
    for i in 0..n {
        frame[..4].copy_from_slice(&i.to_be_bytes());
        v.extend_from_slice(&i.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&frame);
    }
    v
}

#[test]
fn gzip_file_is_inflated_on_the_fly_with_bounded_memory() {
    // 48 MB of capture, inflated while it is read: the reader never holds more than its
    // buffer, not the whole capture.
    let n = 32_000;
    let plain = big_pcap(n, 1500);
    assert!(plain.len() > 48_000_000);
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(&gzip(&plain)).unwrap();
    drop(plain);
    let mut cf = CaptureFile::open_path(tmp.path().to_str().unwrap(), 8 << 30).unwrap();
    let mut packets = 0u32;
    let mut most_held = 0;
    loop {
        most_held = most_held.max(cf.held_bytes());
        match cf.next().unwrap() {
            Next::Packet(p) => {
                assert_eq!(p.data[..4], packets.to_be_bytes());
                packets += 1;
            }
            Next::Idle => panic!("idle"),
            Next::End => break,
        }
    }
    assert_eq!(packets, n);
    assert!(
        most_held <= 2 * STREAM_BUF_INITIAL,
        "held {most_held} bytes for a gzip'd capture"
    );
}

#[test]
fn file_truncated_while_read_is_an_error_not_a_crash() {
    let plain = big_pcap(4000, 1000);
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(&plain).unwrap();
    tmp.flush().unwrap();
    let mut cf = CaptureFile::open_path(tmp.path().to_str().unwrap(), 0).unwrap();
    for _ in 0..10 {
        assert!(matches!(cf.next(), Ok(Next::Packet(_))));
    }
    // Another process truncates the file (log rotation) while we are in its first MiB.
    tmp.as_file().set_len(2000).unwrap();
    let mut more = 0;
    let err = loop {
        match cf.next() {
            Ok(Next::Packet(_)) => more += 1,
            Ok(other) => panic!("expected an error, got {other:?} after {more} more"),
            Err(e) => break e,
        }
    };
    // What was already buffered is read; then the short read is reported.
    assert!(more < 4000, "{more}");
    match &err {
        CaptureError::Io { source, .. } => {
            assert_eq!(source.kind(), io::ErrorKind::UnexpectedEof, "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("shrank"), "{err}");
    assert!(matches!(cf.next(), Ok(Next::End)));
}

#[test]
fn file_and_missing_file() {
    let (file, want) = pcapng_fixture(true);
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(&file).unwrap();
    let mut src = open(tmp.path().to_str().unwrap(), 0).unwrap();
    // Read through the bounded buffer, not mapped (see `backing`).
    assert!(src.shared_buffer().is_none());
    assert_eq!(collect(src.as_mut()).unwrap(), want);
    assert!(matches!(
        open("/nonexistent/x.pcap", 0),
        Err(CaptureError::Io { .. })
    ));
    let empty = tempfile::NamedTempFile::new().unwrap();
    assert!(matches!(
        open(empty.path().to_str().unwrap(), 0),
        Err(CaptureError::UnknownFormat { .. })
    ));
}

#[test]
fn streaming_matches_mapped() {
    let (ng, ng_want) = pcapng_fixture(false);
    let classic = pcap(
        true,
        true,
        1,
        0,
        &[(1, 2, &[3; 30], 30), (4, 5, &[6; 300], 300)],
    );
    let mut classic_cf = CaptureFile::from_bytes(classic.clone(), "c").unwrap();
    let classic_want = collect(&mut classic_cf).unwrap();
    for chunk in [1, 3, 7, 4096] {
        for (file, want) in [(&ng, &ng_want), (&classic, &classic_want)] {
            let mut cf = stream(file.clone(), chunk).unwrap();
            assert!(cf.shared_buffer().is_none());
            assert_eq!(&collect(&mut cf).unwrap(), want, "chunk={chunk}");
            let mut cf = stream(gzip(file), chunk).unwrap();
            assert_eq!(&collect(&mut cf).unwrap(), want, "gzip chunk={chunk}");
        }
    }
    // A cut-off stream.
    let mut cf = stream(classic[..classic.len() - 1].to_vec(), 5).unwrap();
    assert_eq!(collect(&mut cf).unwrap().len(), 1);
    assert_eq!(cf.stats().malformed, 1);
}

#[test]
fn streaming_grows_for_big_blocks() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    ng.block(0x0BAD, &vec![0x55; 3 * STREAM_BUF_INITIAL]);
    ng.epb(0, 1, &[1; 200_000], 200_000);
    ng.epb(0, 2, &[2; 100], 100);
    let mut cf = stream(ng.out, 1 << 16).unwrap();
    let pk = collect(&mut cf).unwrap();
    assert_eq!(pk.len(), 2);
    assert_eq!(pk[0].data, vec![1; 200_000]);
    assert_eq!(pk[1].data, vec![2; 100]);
}

/// Drains a source whatever happens; checks the invariants a fuzzer would.
fn drain(src: &mut CaptureFile) {
    let range = src.shared_buffer().map(|b| b.as_ptr_range());
    let mut n = 0;
    loop {
        match src.next() {
            Ok(Next::Packet(p)) => {
                n += 1;
                assert!(p.data.len() as u64 <= u64::from(p.wire_len));
                assert!(p.data.len() <= MAX_PACKET_LEN as usize);
                if let (Some(r), false) = (&range, p.data.is_empty()) {
                    assert!(r.contains(&p.data.as_ptr()));
                    assert!(p.data.as_ptr_range().end <= r.end);
                }
            }
            Ok(Next::Idle) => panic!("idle"),
            Ok(Next::End) | Err(_) => break,
        }
    }
    assert_eq!(src.stats().packets, n);
    assert!(matches!(src.next(), Ok(Next::End)));
}

#[test]
fn mutated_inputs_never_panic() {
    let (ng_le, _) = pcapng_fixture(false);
    let (ng_be, _) = pcapng_fixture(true);
    let classic = pcap(
        false,
        true,
        1,
        0,
        &[(1, 2, &[3; 30], 30), (4, 5, &[6; 90], 300)],
    );
    let seeds = [ng_le, ng_be, classic];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..6000 {
        let mut data = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rnd() % 4 {
            let at = (rnd() % data.len() as u64) as usize;
            match rnd() % 4 {
                0 => data[at] ^= 1 << (rnd() % 8),
                1 => data[at] = rnd() as u8,
                2 => data.truncate(at.max(1)),
                _ => data[at] = [0, 0xff, 0x7f, 0x80][(rnd() % 4) as usize],
            }
        }
        if let Ok(mut src) = CaptureFile::from_bytes(data.clone(), "m") {
            drain(&mut src);
        }
        if round % 8 == 0 {
            if let Ok(mut src) = stream(data, 1 + (rnd() % 17) as usize) {
                drain(&mut src);
            }
        }
    }
}
