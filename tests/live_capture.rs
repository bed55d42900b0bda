//! Live capture tests on a veth pair created for the test (root and the `ip` tool needed;
//! skipped otherwise). Frames are sent with a raw AF_PACKET socket on one end and must arrive,
//! byte for byte, on a capture opened on the other end.
#![cfg(target_os = "linux")]
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tapir::capture::{AfPacketSource, LinkType, Next, PacketSource, RingConfig};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn have_ip() -> bool {
    Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the test can run; prints why not.
fn can_run() -> bool {
    if !is_root() {
        eprintln!("skipped: not root");
        return false;
    }
    if !have_ip() {
        eprintln!("skipped: no ip tool");
        return false;
    }
    true
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A veth pair made for one test, deleted on drop (deleting one end removes both).
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    /// `None` (and a message) where this machine does not let us make interfaces.
    fn create(tag: char) -> Option<Veth> {
        let pid = std::process::id();
        let veth = Veth {
            a: format!("tpv{pid}{tag}a"),
            b: format!("tpv{pid}{tag}b"),
        };
        if !ip(&[
            "link", "add", &veth.a, "type", "veth", "peer", "name", &veth.b,
        ]) {
            eprintln!("skipped: cannot create a veth pair here (no CAP_NET_ADMIN?)");
            return None;
        }
        // From here on, Drop cleans up even if an assertion fails.
        for dev in [&veth.a, &veth.b] {
            // Quiet IPv6 chatter (router solicitations and the like); best effort.
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
            assert!(ip(&["link", "set", dev, "up"]), "ip link set {dev} up");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let up = [&veth.a, &veth.b].iter().all(|d| {
                std::fs::read_to_string(format!("/sys/class/net/{d}/operstate"))
                    .is_ok_and(|s| s.trim() == "up")
            });
            if up {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(veth)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if !ip(&["link", "del", &self.a]) {
            eprintln!("warning: could not delete {}", self.a);
        }
    }
}

/// An Ethernet/IPv4/UDP frame; flow and payload vary with `i`.
fn frame(i: u16) -> Vec<u8> {
    let payload = format!("tapir-live-test-{i:05}-padding-padding-padding");
    let udp_len = 8 + payload.len() as u16;
    let ip_len = 20 + udp_len;
    let mut f = Vec::new();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
    let mut iph = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    iph[2..4].copy_from_slice(&ip_len.to_be_bytes());
    iph[4..6].copy_from_slice(&i.to_be_bytes());
    let mut sum: u32 = iph
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    iph[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&iph);
    f.extend_from_slice(&(40000 + i).to_be_bytes());
    f.extend_from_slice(&5555u16.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload.as_bytes());
    f
}

/// Index of a frame of ours, from its payload.
fn frame_index(data: &[u8]) -> Option<u16> {
    let marker = b"tapir-live-test-";
    let at = data.windows(marker.len()).position(|w| w == marker)?;
    let digits = data.get(at + marker.len()..at + marker.len() + 5)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Sends frames out of `iface` with a raw AF_PACKET socket.
fn send_frames(iface: &str, frames: &[Vec<u8>]) {
    let name = std::ffi::CString::new(iface).unwrap();
    // SAFETY: valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(ifindex != 0, "no interface {iface}");
    // SAFETY: plain system call.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: zeroed sockaddr_ll is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    for f in frames {
        // SAFETY: `f` and `sll` are valid for the call, lengths match.
        let rc = unsafe {
            libc::sendto(
                fd,
                f.as_ptr().cast(),
                f.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(
            rc,
            f.len() as isize,
            "sendto: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
}

/// Sends `n` frames on `tx` and collects them from the sources (round robin) until all came
/// (resending the missing ones a few times). Returns, per frame index, which source got it.
fn exchange(tx: &str, n: u16, sources: &mut [&mut dyn PacketSource]) -> BTreeMap<u16, usize> {
    let frames: Vec<Vec<u8>> = (0..n).map(frame).collect();
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut got: BTreeMap<u16, usize> = BTreeMap::new();
    for round in 0..4 {
        let missing: Vec<Vec<u8>> = (0..n)
            .filter(|i| !got.contains_key(i))
            .map(|i| frames[usize::from(i)].clone())
            .collect();
        if missing.is_empty() {
            break;
        }
        if round > 0 {
            eprintln!("round {round}: resending {} frames", missing.len());
        }
        send_frames(tx, &missing);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && got.len() < usize::from(n) {
            for (k, src) in sources.iter_mut().enumerate() {
                // Drain what is there; stop at the first Idle.
                loop {
                    match src.next().unwrap() {
                        Next::Packet(p) => {
                            let Some(i) = frame_index(p.data) else {
                                continue;
                            };
                            assert_eq!(p.linktype, LinkType::ETHERNET);
                            assert_eq!(p.data, &frames[usize::from(i)][..], "frame {i}");
                            assert_eq!(p.wire_len as usize, p.data.len());
                            assert!(
                                p.ts_ns + 60_000_000_000 > now_ns
                                    && p.ts_ns < now_ns + 60_000_000_000,
                                "timestamp {} far from now {now_ns}",
                                p.ts_ns
                            );
                            assert!(got.insert(i, k).is_none(), "frame {i} seen twice");
                        }
                        Next::Idle => break,
                        Next::End => panic!("unexpected end"),
                    }
                }
            }
        }
    }
    got
}

#[test]
fn afpacket_receives_frames_on_veth() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('p') else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ring = RingConfig {
        block_size: 1 << 16,
        block_count: 4,
        ..RingConfig::default()
    };
    let mut src = AfPacketSource::open(&veth.a, None, ring, Arc::clone(&stop)).unwrap();
    assert_eq!(src.iface(), veth.a);
    // More frames than fit in one block, so blocks are handed back and reused.
    let n = 1000;
    let got = exchange(&veth.b, n, &mut [&mut src]);
    assert_eq!(
        got.len(),
        usize::from(n),
        "received {} of {n} frames",
        got.len()
    );
    let st = src.stats();
    assert!(st.packets >= u64::from(n), "{st:?}");
    assert_eq!(st.truncated, 0);
    stop.store(true, Ordering::Relaxed);
    assert!(matches!(src.next().unwrap(), Next::End));
    assert!(matches!(src.next().unwrap(), Next::End));
}

#[test]
fn afpacket_fanout_group_shares_flows() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('f') else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let group = (std::process::id() & 0xffff) as u16;
    let ring = RingConfig {
        block_size: 1 << 16,
        block_count: 4,
        ..RingConfig::default()
    };
    let mut w0 = AfPacketSource::open(&veth.a, Some(group), ring, Arc::clone(&stop)).unwrap();
    let mut w1 = AfPacketSource::open(&veth.a, Some(group), ring, Arc::clone(&stop)).unwrap();
    let n = 64;
    let got = exchange(&veth.b, n, &mut [&mut w0, &mut w1]);
    assert_eq!(got.len(), usize::from(n));
    let on0 = got.values().filter(|&&k| k == 0).count();
    eprintln!(
        "fanout: {on0} flows on worker 0, {} on worker 1",
        got.len() - on0
    );
    stop.store(true, Ordering::Relaxed);
    assert!(matches!(w0.next().unwrap(), Next::End));
    assert!(matches!(w1.next().unwrap(), Next::End));
}

#[test]
fn afpacket_bad_interface_and_config() {
    let stop = Arc::new(AtomicBool::new(false));
    assert!(AfPacketSource::open(
        "tapir-no-such-if",
        None,
        RingConfig::default(),
        Arc::clone(&stop)
    )
    .is_err());
    let bad = RingConfig {
        block_size: 1000,
        ..RingConfig::default()
    };
    assert!(AfPacketSource::open("lo", None, bad, stop).is_err());
}

#[cfg(feature = "libpcap")]
#[test]
fn libpcap_receives_frames_on_veth() {
    use tapir::capture::PcapLiveSource;
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('l') else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut src =
        PcapLiveSource::open(&veth.a, 65535, Some("udp dst port 5555"), Arc::clone(&stop)).unwrap();
    let n = 50;
    let got = exchange(&veth.b, n, &mut [&mut src]);
    assert_eq!(got.len(), usize::from(n));
    stop.store(true, Ordering::Relaxed);
    assert!(matches!(src.next().unwrap(), Next::End));
    let st = src.stats();
    eprintln!("libpcap stats: {st:?}");
    assert!(st.packets >= u64::from(n));
}

#[cfg(feature = "libpcap")]
#[test]
fn libpcap_bad_filter_is_an_error() {
    use tapir::capture::PcapLiveSource;
    if !can_run() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    assert!(PcapLiveSource::open("lo", 65535, Some("this is not bpf"), stop).is_err());
}

/// `tapir run` end to end: live capture on a veth with two fanout workers, flow records out.
#[test]
fn tapir_run_writes_flow_records_for_live_traffic() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('r') else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tapir-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("records.ndjson");
    let child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "run",
            "--interface",
            &veth.b,
            "--workers",
            "2",
            "--duration",
            "3",
        ])
        .args(["--set", "capture.fanout_group=4711"])
        .args(["--set", "output.status_interval=1", "-o"])
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the sockets come up, then send one packet on each of 20 flows.
    std::thread::sleep(Duration::from_millis(800));
    let frames: Vec<Vec<u8>> = (0..20).map(frame).collect();
    send_frames(&veth.a, &frames);
    let res = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    assert!(stderr.contains("tapir summary"), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let flows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["dest_port"] == 5555)
        .collect();
    let mut ports: Vec<u64> = flows
        .iter()
        .filter_map(|r| r["src_port"].as_u64())
        .collect();
    ports.sort();
    assert_eq!(ports, (40000..40020).collect::<Vec<u64>>(), "{text}");
    assert!(flows.iter().all(|r| r["flow"]["pkts_toserver"] == 1));
    // Status records in wall-clock time: start, at least one periodic one, stop last.
    let all: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = all
        .iter()
        .filter_map(|r| r["sensor_status"]["kind"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"start"), "{kinds:?}");
    assert!(kinds.contains(&"periodic"), "{kinds:?}");
    let stop = &all.last().unwrap()["sensor_status"];
    assert_eq!(stop["kind"], "stop");
    assert!(stop["capture"]["packets"].as_u64().unwrap() >= 20, "{stop}");
    assert!(all[0]["sensor_status"]["messages"][0]
        .as_str()
        .unwrap()
        .contains("live, 2 workers"));
    let _ = std::fs::remove_dir_all(&dir);
}

// capture.snaplen and capture.promiscuous on AF_PACKET.

const MARKER: &[u8] = b"tapir-live-opts";
const IFF_PROMISC: u32 = 0x100;

/// The interface flags (`IFF_*`) of `dev`.
fn iface_flags(dev: &str) -> u32 {
    let s = std::fs::read_to_string(format!("/sys/class/net/{dev}/flags")).unwrap();
    u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap()
}

/// A 600-byte frame of a local experimental EtherType, with our marker and `i`.
fn marked_frame(i: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xB5];
    f.extend_from_slice(MARKER);
    f.push(i);
    f.resize(600, 0xAB);
    f
}

fn ring(snaplen: u32, promiscuous: bool) -> RingConfig {
    RingConfig {
        block_size: 1 << 16,
        block_count: 4,
        snaplen,
        promiscuous,
        ..RingConfig::default()
    }
}

#[test]
fn afpacket_cuts_frames_to_the_snap_length() {
    if !can_run() {
        return;
    }
    let Some(v) = Veth::create('s') else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut src = AfPacketSource::open(&v.a, None, ring(100, false), stop).unwrap();
    let mut seen = Vec::new();
    for round in 0..4u8 {
        send_frames(&v.b, &[marked_frame(round)]);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && seen.len() <= usize::from(round) {
            match src.next().unwrap() {
                Next::Packet(p) if p.data.get(14..14 + MARKER.len()) == Some(MARKER) => {
                    seen.push((p.data.to_vec(), p.wire_len));
                }
                Next::Packet(_) | Next::Idle => {}
                Next::End => panic!("end"),
            }
        }
    }
    assert_eq!(seen.len(), 4, "frames received");
    for (i, (data, wire)) in seen.iter().enumerate() {
        assert_eq!(data.len(), 100, "frame {i} cut to the snap length");
        assert_eq!(*wire, 600, "frame {i} keeps its wire length");
        assert_eq!(&data[..], &marked_frame(i as u8)[..100]);
    }
    assert!(src.stats().truncated >= 4, "{:?}", src.stats());
}

#[test]
fn afpacket_promiscuous_only_when_asked() {
    if !can_run() {
        return;
    }
    let Some(v) = Veth::create('q') else {
        return;
    };
    assert_eq!(iface_flags(&v.a) & IFF_PROMISC, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let off = AfPacketSource::open(&v.a, None, ring(0, false), Arc::clone(&stop)).unwrap();
    assert_eq!(iface_flags(&v.a) & IFF_PROMISC, 0, "promiscuous = false");
    let on = AfPacketSource::open(&v.a, None, ring(0, true), Arc::clone(&stop)).unwrap();
    assert_ne!(iface_flags(&v.a) & IFF_PROMISC, 0, "promiscuous = true");
    drop(on);
    assert_eq!(
        iface_flags(&v.a) & IFF_PROMISC,
        0,
        "left when the socket closed"
    );
    drop(off);
}
