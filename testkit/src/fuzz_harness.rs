//! The bodies of the fuzz targets in `fuzz/`, kept in the test kit so that `tests/fuzz_regress.rs`
//! replays the committed corpora and crash inputs through exactly the same code.
//!
//! One function per target, named like the target; each takes the fuzzer's bytes and panics
//! (through an assertion or in the code under test) on a finding. [`TARGETS`] lists them all.

use crate::session::Session;
use tapir::capture::{CaptureFile, LinkType, Next, PacketSource};
use tapir::decode::defrag::{DefragConfig, Defragmenter};
use tapir::decode::{decode as decode_packet, DecodeConfig, LINKTYPES};
use tapir::files::{detect_format, pe, FileMeta, FileTracker};
use tapir::flow::tcp::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
use tapir::proto::dns::{parser as dns_parser, record as dns_record};
use tapir::proto::email::mime::{Envelope, MessageBuilder, MessageLimits};
use tapir::proto::email::{imap as imap_proto, pop3 as pop3_proto, smtp as smtp_proto};
use tapir::proto::ldap::{new_parser as ldap_new_parser, parser as ldap_parser};
use tapir::proto::tls as tls_proto;
use tapir::proto::{conversation, Direction, Transport};
use tapir::proto::{dns as dns_proto, http as http_proto, kerberos as kerberos_proto};

/// The body of one fuzz target: it panics on a finding.
pub type Target = fn(&[u8]);

/// Every fuzz target by its name in `fuzz/Cargo.toml`, with its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("capture_file", capture_file),
    ("decode", decode),
    ("defrag", defrag),
    ("tcp_reassembly", tcp_reassembly),
    ("kerberos", kerberos),
    ("ldap", ldap),
    ("tls", tls),
    ("dns", dns),
    ("http", http),
    ("files_pe", files_pe),
    ("smtp", smtp),
    ("pop3", pop3),
    ("imap", imap),
    ("mime", mime),
    ("pipeline", pipeline),
];

/// The capture file reader: arbitrary bytes (pcap, pcapng, gzip or garbage) must never panic,
/// and every packet handed out must lie inside the shared buffer.
pub fn capture_file(data: &[u8]) {
    let Ok(mut src) = CaptureFile::from_bytes(data.to_vec(), "fuzz") else {
        return;
    };
    let shared = src.shared_buffer();
    let range = shared.as_deref().map(|b| b.as_ptr_range());
    let mut n = 0u64;
    loop {
        match src.next() {
            Ok(Next::Packet(p)) => {
                n += 1;
                assert!(p.data.len() as u64 <= u64::from(p.wire_len));
                if let (Some(r), false) = (&range, p.data.is_empty()) {
                    assert!(r.contains(&p.data.as_ptr()));
                    assert!(p.data.as_ptr_range().end <= r.end);
                }
            }
            Ok(Next::Idle) => unreachable!("a capture file never idles"),
            Ok(Next::End) | Err(_) => break,
        }
    }
    assert_eq!(src.stats().packets, n);
    // After the end (or an error) the source stays ended.
    assert!(matches!(src.next(), Ok(Next::End)));
}

/// Decodes arbitrary bytes; the first byte picks the link type (and the tunnel depth).
pub fn decode(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[first as usize % LINKTYPES.len()];
    let cfg = DecodeConfig {
        max_tunnel_depth: 1 + first / 16,
        ..DecodeConfig::default()
    };
    if let Ok(d) = decode_packet(lt, rest, &cfg) {
        assert!(d.ip_offset < rest.len());
        assert!(d.vlans.as_slice().len() <= tapir::decode::MAX_VLANS);
    }
}

/// Splits the input into packets (2-byte big-endian length prefixes), decodes each as Ethernet
/// or raw IP, pushes the fragments into a small Defragmenter and decodes what it rebuilds.
pub fn defrag(data: &[u8]) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let lt = if mode & 1 == 0 {
        LinkType::ETHERNET
    } else {
        LinkType::RAW
    };
    let cfg = DecodeConfig::default();
    let mut df = Defragmenter::new(DefragConfig {
        memcap: 4096,
        timeout_ns: 1000,
        max_fragments: 16,
        max_trackers: 8,
    });
    let mut ts = 0u64;
    while let [a, b, tail @ ..] = rest {
        let len = (usize::from(*a) << 8 | usize::from(*b)).min(tail.len());
        let (pkt, next) = tail.split_at(len);
        rest = next;
        ts += 100;
        df.expire(ts);
        let Ok(d) = decode_packet(lt, pkt, &cfg) else {
            continue;
        };
        if d.frag.is_none() {
            continue;
        }
        if let Some(whole) = df.push(ts, pkt, &d) {
            let _ = decode_packet(lt, &whole, &cfg);
        }
        assert!(df.memory() <= 4096);
    }
}

const MEMCAP: usize = 4096;

/// One direction of TCP reassembly with small caps.
///
/// Input: 4 bytes of ISN, 1 byte of configuration, then records of
/// `[op, off_lo, off_hi, flags, len]` followed by `len` payload bytes (cut to what is left).
/// `op & 1`: an ACK from the peer instead of a segment; `op & 2`: the offset is shifted 16 bits
/// (far jumps, wrap-around). Checks: the buffer and the budget stay within their caps, the
/// delivered bytes never exceed the bytes fed, and closing releases all the memory.
pub fn tcp_reassembly(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let isn = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let conf = data[4];
    let cfg = ReassemblyConfig {
        depth: if conf & 0x80 != 0 {
            u64::from(conf & 0x7f) * 16
        } else {
            0
        },
        max_buffered_per_dir: usize::from(conf & 0x0f) * 64,
    };
    let mut mem = MemBudget::new(MEMCAP);
    let mut stats = ReassemblyStats::default();
    let mut stream = DirStream::new();
    let mut fed: u64 = 0;
    let mut delivered: u64 = 0;
    let mut ended = false;
    let sink = |e: StreamEvent<'_>, delivered: &mut u64, ended: &mut bool| match e {
        StreamEvent::Data(d) => {
            assert!(!d.is_empty());
            assert!(!*ended, "data after the end");
            *delivered += d.len() as u64;
        }
        StreamEvent::Fin | StreamEvent::Rst => *ended = true,
        StreamEvent::Gap(_) | StreamEvent::DepthReached => {}
    };

    let mut rest = &data[5..];
    while rest.len() >= 5 {
        let (op, flags, len) = (rest[0], rest[3], usize::from(rest[4]));
        let raw = u16::from_le_bytes([rest[1], rest[2]]);
        let off = if op & 2 != 0 {
            u32::from(raw) << 16
        } else {
            raw as i16 as i32 as u32
        };
        let seq = isn.wrapping_add(off);
        rest = &rest[5..];
        let payload = &rest[..len.min(rest.len())];
        rest = &rest[payload.len()..];
        if op & 1 != 0 {
            stream.acked(seq, &cfg, &mut mem, &mut stats, &mut |e| {
                sink(e, &mut delivered, &mut ended)
            });
        } else {
            fed += payload.len() as u64;
            stream.segment(seq, flags, payload, &cfg, &mut mem, &mut stats, &mut |e| {
                sink(e, &mut delivered, &mut ended)
            });
        }
        assert!(delivered <= fed);
        assert!(mem.used() <= MEMCAP);
        assert!(stream.buffered() <= cfg.max_buffered_per_dir);
        if cfg.depth > 0 {
            assert!(delivered <= cfg.depth);
        }
    }
    stream.close(&cfg, &mut mem, &mut stats, &mut |e| {
        sink(e, &mut delivered, &mut ended)
    });
    assert!(delivered <= fed);
    assert_eq!(delivered, stats.delivered_bytes);
    assert_eq!(stream.buffered(), 0);
    assert_eq!(mem.used(), 0);
}

/// The Kerberos parser over UDP (one datagram) and TCP (the bytes split at the first byte's
/// value, both directions): it must never panic.
pub fn kerberos(data: &[u8]) {
    for t in [Transport::Udp, Transport::Tcp] {
        let mut p = kerberos_proto::new_parser(t);
        feed_split(&mut *p, t, data, false);
    }
}

/// Feeds `data` to a parser cut at its first byte's value: the first part to the server, the
/// rest to the client, then again to the server (the rest, or with `whole_again` all of
/// `data`), then closes.
fn feed_split(p: &mut dyn tapir::proto::AppParser, t: Transport, data: &[u8], whole_again: bool) {
    let mut s = Session::new(t);
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(cut);
    s.data(p, Direction::ToServer, a);
    s.data(p, Direction::ToClient, b);
    s.data(p, Direction::ToServer, if whole_again { data } else { b });
    s.close(p);
}

/// The LDAP parser (TCP stream split in two, and one CLDAP datagram) via the AppParser seam,
/// and the filter printer.
pub fn ldap(data: &[u8]) {
    for transport in [Transport::Tcp, Transport::Udp] {
        let mut p = ldap_new_parser(transport);
        let p = &mut *p;
        let mut s = Session::new(transport);
        let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
        let (a, b) = data.split_at(cut);
        s.data(p, Direction::ToServer, a);
        s.data(p, Direction::ToServer, b);
        s.data(p, Direction::ToClient, data);
        s.gap(p, Direction::ToClient, 1);
        s.data(p, Direction::ToClient, data);
        s.close(p);
    }
    let _ = ldap_parser::filter_to_string(data);
    let _ = ldap_parser::parse_message(data);
}

/// The TLS parser: arbitrary bytes, cut into chunks by the first byte, fed to both directions;
/// the parser must never panic and emit at most one record per hello. The bytes after the
/// first also go through the DTLS parser as datagrams (see `dtls`).
pub fn tls(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let mut p = tls_proto::new_parser(Transport::Tcp);
    let p = &mut *p;
    let mut s = Session::new(Transport::Tcp);
    // Chunk sizes 1..=64 chosen by the control byte; every third chunk goes to the client.
    let size = usize::from(ctl % 64) + 1;
    for (i, chunk) in rest.chunks(size).enumerate() {
        let dir = if (i + usize::from(ctl >> 6)) % 3 == 0 {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        s.ts_ns = i as u64;
        s.data(p, dir, chunk);
        if i % 17 == 16 {
            s.gap(p, dir, 5);
        }
    }
    s.ts_ns = u64::MAX;
    s.close(p);
    assert!(s.out.len() <= rest.len() / 11 + 1);
    dtls(rest);
}

/// The DTLS side of the `tls` target: the same bytes as UDP datagrams, each behind a 2-byte
/// big-endian prefix whose top bit picks the direction (set: to the client) and whose other 15
/// bits are its length (cut to what is left). Also the DTLS probe on each datagram. At most
/// one record per ClientHello, so never more records than datagrams plus one.
fn dtls(mut data: &[u8]) {
    let mut p = tls_proto::new_parser(Transport::Udp);
    let p = &mut *p;
    let mut s = Session::new(Transport::Udp);
    let mut n = 0usize;
    while let [a, b, tail @ ..] = data {
        let len = (usize::from(*a & 0x7f) << 8 | usize::from(*b)).min(tail.len());
        let (dgram, next) = tail.split_at(len);
        data = next;
        let dir = if a & 0x80 != 0 {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        let _ = tls_proto::probe::datagram(dgram);
        s.ts_ns = n as u64;
        s.data(p, dir, dgram);
        n += 1;
    }
    s.ts_ns = u64::MAX;
    s.close(p);
    assert!(s.out.len() <= n + 1);
}

/// The DNS message parser (and the text forms of every record), and the DNS AppParser over UDP
/// (one datagram) and TCP (the bytes split at the first byte's value, both directions): it must
/// never panic nor hang.
pub fn dns(data: &[u8]) {
    if let Ok(msg) = dns_parser::parse_message(data) {
        for q in &msg.questions {
            let _ = q.name.to_string();
        }
        for rr in msg
            .answers
            .iter()
            .chain(&msg.authority)
            .chain(&msg.additional)
        {
            let _ = rr.name.to_string();
            let _ = dns_record::rdata_text(data, rr);
        }
        let _ = dns_parser::opt(&msg);
    }
    for t in [Transport::Udp, Transport::Tcp] {
        let mut p = dns_proto::new_parser(t);
        feed_split(&mut *p, t, data, true);
    }
}

/// The HTTP parser as a conversation (pieces in both directions, gaps, then close; see
/// [`conversation`]). It must never panic.
pub fn http(data: &[u8]) {
    let mut p = http_proto::new_parser(Transport::Tcp);
    let _ = conversation::play(&mut *p, Transport::Tcp, data);
}

/// Arbitrary bytes through the file tracker (in chunks, with an occasional gap) and the PE
/// summary: no panic, no hang.
pub fn files_pe(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(ctl % 64) + 1;
    let mut t = FileTracker::new(FileMeta {
        source: "http",
        ..Default::default()
    });
    for (i, c) in rest.chunks(chunk).enumerate() {
        if ctl & 0x80 != 0 && i == 3 {
            t.gap(c.len() as u64);
        } else {
            t.update(c);
        }
    }
    let _ = t.finish("fuzz".into(), ctl & 0x40 != 0);
    let _ = detect_format(rest);
    let _ = pe::pe_summary(rest);
    let _ = pe::summarize(rest, false);
}

/// A panic raised inside mail-parser (its `debug_assert!`s, on in fuzz builds, fire on some
/// malformed multipart structures) is contained by the MIME stage (`email.parser_panicked`), so
/// it must not abort the fuzzer as libFuzzer's panic hook would: that hook is skipped for panics
/// located in mail-parser's source. Panics anywhere else still abort.
fn contain_mail_parser_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_dependency = info
                .location()
                .is_some_and(|l| l.file().contains("/mail-parser-"));
            if !in_dependency {
                prev(info);
            }
        }));
    });
}

/// The SMTP parser as a conversation (see [`conversation`]). It must never panic.
pub fn smtp(data: &[u8]) {
    contain_mail_parser_panics();
    let mut p = smtp_proto::new_parser(Transport::Tcp);
    let _ = conversation::play(&mut *p, Transport::Tcp, data);
}

/// The POP3 parser as a conversation (see [`conversation`]). It must never panic.
pub fn pop3(data: &[u8]) {
    contain_mail_parser_panics();
    let mut p = pop3_proto::new_parser(Transport::Tcp);
    let _ = conversation::play(&mut *p, Transport::Tcp, data);
}

/// The IMAP parser as a conversation (see [`conversation`]). It must never panic.
pub fn imap(data: &[u8]) {
    contain_mail_parser_panics();
    let mut p = imap_proto::new_parser(Transport::Tcp);
    let _ = conversation::play(&mut *p, Transport::Tcp, data);
}

/// Arbitrary bytes as one message through the MIME stage (MessageBuilder, small limits so the
/// caps are exercised too). It must never panic.
pub fn mime(data: &[u8]) {
    contain_mail_parser_panics();
    let mut s = Session::new(Transport::Tcp);
    let mut b = MessageBuilder::new(MessageLimits {
        max_message: 64 << 10,
        max_attachments: 8,
    });
    for piece in data.chunks(97) {
        b.push(piece);
    }
    let env = Envelope {
        protocol: "smtp",
        mail_from: Some("a@b.c".into()),
        ..Envelope::default()
    };
    b.finish(&env, &mut s.ctx());
}

/// The whole sensor on arbitrary capture bytes: reader, dispatcher, defragmentation, flows,
/// reassembly, detection, every parser, enrichment, status records, serialisation. Small caps,
/// so that reaching them is exercised too. The replay must succeed and count every packet.
pub fn pipeline(data: &[u8]) {
    contain_mail_parser_panics();
    let Ok(src) = CaptureFile::from_bytes(data.to_vec(), "fuzz") else {
        return;
    };
    let mut cfg = tapir::config::Config::default();
    cfg.flow.max_flows = 16;
    cfg.defrag.memcap = 16 << 10;
    cfg.reassembly.memcap = 256 << 10;
    cfg.reassembly.depth = 64 << 10;
    cfg.enrich.max_dns_names = 16;
    cfg.output.status_interval = 1;
    let sink = tapir::export::NdjsonSink::with_writer("fuzz", Some(Box::new(std::io::sink())), "f");
    let opts = tapir::pipeline::ReplayOptions {
        workers: 2,
        ..Default::default()
    };
    let summary = tapir::pipeline::replay(vec![Box::new(src)], &cfg, sink, opts);
    assert!(summary.is_ok(), "{:?}", summary.err());
    if let Ok(s) = summary {
        assert!(s.workers.packets <= s.capture.packets);
        // Start and stop status records at least.
        assert!(s.output.by_type.get("sensor_status").copied().unwrap_or(0) >= 2);
    }
}
