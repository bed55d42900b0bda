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
    let mut src = PcapLiveSource::open(
        &veth.a,
        65535,
        true,
        Some("udp dst port 5555"),
        Arc::clone(&stop),
    )
    .unwrap();
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
    assert!(PcapLiveSource::open("lo", 65535, true, Some("this is not bpf"), stop).is_err());
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
            // The test runs as root and writes where only root may: no user switch.
            "--allow-root",
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

// `tapir run` through the binary: the interface going down and coming back, and SIGTERM.

/// Starts `tapir run` on `iface` (two fanout workers, a status record every second) writing
/// records to `out`; its log (stderr) goes to `log`. `tag` keeps the fanout group apart from
/// the other tests' (a group spans one interface).
fn start_run(
    iface: &str,
    tag: u16,
    out: &std::path::Path,
    log: &std::path::Path,
) -> std::process::Child {
    start_run_with(iface, tag, out, log, &[])
}

/// [`start_run`] with more arguments (`--method libpcap`).
fn start_run_with(
    iface: &str,
    tag: u16,
    out: &std::path::Path,
    log: &std::path::Path,
    more: &[&str],
) -> std::process::Child {
    let group = ((std::process::id() & 0xfff) as u16) * 16 + tag;
    Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "run",
            "--interface",
            iface,
            "--workers",
            "2",
            "--allow-root",
        ])
        .args(more)
        .args(["--set", &format!("capture.fanout_group={group}")])
        // Flows stay open until the stop (a busy machine may take a while).
        .args(["--set", "flow.udp_new_timeout=3600"])
        .args(["--set", "output.status_interval=1", "-o"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn read_records(out: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn statuses(recs: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    recs.iter()
        .filter(|r| r["event_type"] == "sensor_status")
        .map(|r| &r["sensor_status"])
        .collect()
}

/// Waits (up to a minute: the machine may be busy) until a status record written after the
/// first `skip` ones satisfies `pred`; returns how many status records there were then.
fn wait_status(
    out: &std::path::Path,
    child: &mut std::process::Child,
    skip: usize,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recs = read_records(out);
        let st = statuses(&recs);
        if let Some(i) = st.iter().skip(skip).position(|s| pred(s)) {
            return skip + i + 1;
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("tapir ended ({s}) before {what}: {st:#?}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no status record with {what}: {st:#?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Flow records of our test frames (UDP to port 5555), by source port.
fn test_flow_ports(recs: &[serde_json::Value]) -> Vec<u64> {
    let mut p: Vec<u64> = recs
        .iter()
        .filter(|r| r["event_type"] == "flow" && r["dest_port"] == 5555)
        .filter_map(|r| r["src_port"].as_u64())
        .collect();
    p.sort();
    p
}

fn sigterm(child: &std::process::Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tapir did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Frames `from..to` (one UDP flow each), sent until the sensor has counted them all: a frame
/// sent just as a socket is re-bound may be lost, which is not what these tests are about.
fn send_until_counted(
    tx: &str,
    range: std::ops::Range<u16>,
    out: &std::path::Path,
    child: &mut std::process::Child,
    skip: usize,
) -> usize {
    let frames: Vec<Vec<u8>> = range.clone().map(frame).collect();
    send_frames(tx, &frames);
    // Every frame is counted once it reaches a worker: wait for the count to pass them all
    // (nothing else is sent on the pair; IPv6 is off on it).
    let want = u64::from(range.end);
    wait_status(out, child, skip, "all frames counted", |s| {
        s["capture"]["packets"].as_u64().unwrap_or(0) >= want
    })
}

/// The capture interface is set down, then up; then removed and created again (a new
/// index: the sockets are opened again); then its peer goes down (no carrier). Each time the
/// status records say so (state, counts, errors[] and messages[]), the log says so once, and
/// frames sent after the recovery are captured.
#[test]
fn tapir_run_waits_for_the_interface_and_resumes() {
    waits_for_the_interface_and_resumes('d', &[], Some("ENETDOWN"));
}

/// The same through libpcap (one handle, opened again each time the interface comes back).
#[cfg(feature = "libpcap")]
#[test]
fn libpcap_waits_for_the_interface_and_resumes() {
    waits_for_the_interface_and_resumes('w', &["--method", "libpcap"], None);
}

/// `down_reason`: a text one of the "went down" errors must contain.
fn waits_for_the_interface_and_resumes(tag: char, method: &[&str], down_reason: Option<&str>) {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create(tag) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.ndjson");
    let log = dir.path().join("stderr.log");
    let mut child = start_run_with(&veth.b, 1, &out, &log, method);
    let mut seen = wait_status(&out, &mut child, 0, "the start record", |s| {
        s["kind"] == "start"
    });
    let up = |s: &serde_json::Value| s["interface"]["state"] == "up";
    let down = |s: &serde_json::Value| s["interface"]["state"] == "down";
    seen = wait_status(
        &out,
        &mut child,
        seen.saturating_sub(1),
        "an up interface",
        up,
    );
    seen = send_until_counted(&veth.a, 0..10, &out, &mut child, seen);

    // 1. Set down (ENETDOWN on the sockets), then up again (same index).
    assert!(ip(&["link", "set", &veth.b, "down"]));
    seen = wait_status(&out, &mut child, seen, "interface down", down);
    assert!(ip(&["link", "set", &veth.b, "up"]));
    seen = wait_status(&out, &mut child, seen, "interface up again", |s| {
        up(s) && s["interface"]["recoveries"].as_u64() >= Some(1)
    });

    // 2. Removed and created again: a new interface index.
    assert!(ip(&["link", "del", &veth.a]));
    seen = wait_status(&out, &mut child, seen, "interface gone", down);
    assert!(ip(&[
        "link", "add", &veth.a, "type", "veth", "peer", "name", &veth.b
    ]));
    for d in [&veth.a, &veth.b] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{d}/disable_ipv6"), "1");
        assert!(ip(&["link", "set", d, "up"]));
    }
    seen = wait_status(&out, &mut child, seen, "the new interface up", |s| {
        up(s)
            && s["interface"]["recoveries"].as_u64() >= Some(2)
            && s["interface"]["reopened"].as_u64() >= Some(2)
    });

    // 3. The peer goes down: no carrier on the capture interface (no socket error).
    assert!(ip(&["link", "set", &veth.a, "down"]));
    seen = wait_status(&out, &mut child, seen, "no carrier", down);
    assert!(ip(&["link", "set", &veth.a, "up"]));
    seen = wait_status(&out, &mut child, seen, "carrier back", |s| {
        up(s) && s["interface"]["recoveries"].as_u64() >= Some(3)
    });

    // Frames after the last recovery are captured.
    let _ = send_until_counted(&veth.a, 10..30, &out, &mut child, seen);
    sigterm(&child);
    let status = wait_exit(&mut child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{stderr}");

    let recs = read_records(&out);
    assert_eq!(
        test_flow_ports(&recs),
        (40000..40030).collect::<Vec<u64>>(),
        "flows before and after the interface went away"
    );
    let st = statuses(&recs);
    let last = st.last().unwrap();
    assert_eq!(last["kind"], "stop");
    assert_eq!(last["interface"]["state"], "up", "{last}");
    assert_eq!(last["interface"]["down_events"], 3, "{last}");
    assert_eq!(last["interface"]["recoveries"], 3, "{last}");
    let texts = |key: &str| -> Vec<String> {
        st.iter()
            .flat_map(|s| s[key].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let errors = texts("errors");
    let went_down: Vec<&String> = errors.iter().filter(|e| e.contains("went down")).collect();
    assert_eq!(went_down.len(), 3, "{errors:#?}");
    if let Some(reason) = down_reason {
        assert!(went_down.iter().any(|e| e.contains(reason)), "{errors:#?}");
    }
    let messages = texts("messages");
    let resumed = messages.iter().filter(|m| m.contains("up again")).count();
    assert_eq!(resumed, 3, "{messages:#?}");
    // Logged once per event, not once per worker or per poll.
    assert_eq!(
        stderr.matches("capture interface down").count(),
        3,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("capture interface up again").count(),
        3,
        "{stderr}"
    );
}

/// SIGTERM (what `systemctl stop` sends) ends a live capture without loss: every open flow's
/// record, the stop status record, exit status 0.
#[test]
fn tapir_run_stops_on_sigterm_without_loss() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('t') else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.ndjson");
    let log = dir.path().join("stderr.log");
    let mut child = start_run(&veth.b, 2, &out, &log);
    let seen = wait_status(&out, &mut child, 0, "the start record", |s| {
        s["kind"] == "start"
    });
    let _ = send_until_counted(&veth.a, 0..40, &out, &mut child, seen - 1);
    // The flows are open (their timeouts are far): only the stop can write them.
    assert!(test_flow_ports(&read_records(&out)).is_empty());
    sigterm(&child);
    let status = wait_exit(&mut child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let recs = read_records(&out);
    assert_eq!(test_flow_ports(&recs), (40000..40040).collect::<Vec<u64>>());
    assert!(recs
        .iter()
        .filter(|r| r["event_type"] == "flow" && r["dest_port"] == 5555)
        .all(|r| r["flow"]["reason"] == "shutdown" && r["flow"]["pkts_toserver"] == 1));
    let last = recs.last().unwrap();
    assert_eq!(last["sensor_status"]["kind"], "stop", "{last}");
    assert!(last.to_string().contains("stop requested"), "{last}");
    assert!(last["sensor_status"]["capture"]["packets"].as_u64() >= Some(40));
    assert!(stderr.contains("tapir summary"), "{stderr}");
}

/// `capture.promiscuous` on the libpcap path too.
#[cfg(feature = "libpcap")]
#[test]
fn libpcap_promiscuous_only_when_asked() {
    use tapir::capture::PcapLiveSource;
    if !can_run() {
        return;
    }
    let Some(v) = Veth::create('m') else {
        return;
    };
    assert_eq!(iface_flags(&v.a) & IFF_PROMISC, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let off = PcapLiveSource::open(&v.a, 65535, false, None, Arc::clone(&stop)).unwrap();
    assert_eq!(iface_flags(&v.a) & IFF_PROMISC, 0, "promiscuous = false");
    let on = PcapLiveSource::open(&v.a, 65535, true, None, Arc::clone(&stop)).unwrap();
    assert_ne!(iface_flags(&v.a) & IFF_PROMISC, 0, "promiscuous = true");
    drop(on);
    // The kernel drops the membership when the socket's last reference goes, which under load
    // can be a moment after the close.
    let t = std::time::Instant::now();
    while iface_flags(&v.a) & IFF_PROMISC != 0 && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        iface_flags(&v.a) & IFF_PROMISC,
        0,
        "left when the handle closed"
    );
    drop(off);
}

/// `GET path` on `addr`: the whole response.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    s
}

#[test]
fn tapir_run_serves_metrics_on_localhost() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('h') else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let log = dir.path().join("log");
    let port = 20000 + (std::process::id() % 20000) as u16;
    let addr = format!("127.0.0.1:{port}");
    let mut child = start_run_with(&veth.b, 9, &out, &log, &["--metrics-listen", &addr]);
    // The sockets are open once the start record is out.
    wait_status(&out, &mut child, 0, "the start record", |s| {
        s["kind"] == "start"
    });
    send_frames(&veth.a, &(0..5).map(frame).collect::<Vec<_>>());
    // A periodic record that counted the frames: the endpoint serves that record's counters.
    wait_status(&out, &mut child, 0, "the frames counted", |s| {
        s["kind"] == "periodic" && s["capture"]["packets"].as_u64().unwrap_or(0) >= 5
    });
    let ok = http_get(&addr, "/metrics");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    let packets = ok
        .lines()
        .find(|l| l.starts_with("tapir_packets_total{sensor=\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no tapir_packets_total: {ok}"));
    assert!(packets >= 5.0, "{ok}");
    assert!(ok.contains("# TYPE tapir_limit_hits_total counter"));
    assert!(http_get(&addr, "/").starts_with("HTTP/1.1 404"));
    sigterm(&child);
    assert!(wait_exit(&mut child).success());
}

// Least privilege: `tapir run` started as root drops to an unprivileged user once its capture
// sockets are open.

/// The `Key:` line of a /proc status file, its fields split.
fn proc_field(status: &str, key: &str) -> Vec<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|r| r.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Starts `tapir run` as root with `args`, waits for its first status record (written after
/// the drop) and returns the /proc status text of each of its threads, then stops it.
fn run_and_read_proc(veth: &Veth, tag: u16, args: &[&str]) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("tapir-priv-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Writable by the user it switches to.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = dir.join("records.ndjson");
    let log = dir.join("log");
    let group = ((std::process::id() & 0xfff) as u16) * 16 + tag;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["run", "--interface", &veth.b, "--workers", "2"])
        .args(args)
        .args(["--set", &format!("capture.fanout_group={group}")])
        .args(["--set", "output.status_interval=1", "--log", "info", "-o"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_status(&out, &mut child, 0, "the start record", |s| {
        s["kind"] == "start"
    });
    let mut seen = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap();
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("status")) {
            seen.push(s);
        }
    }
    sigterm(&child);
    let st = wait_exit(&mut child);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(st.success(), "{log_text}");
    assert!(log_text.contains("privileges dropped"), "{log_text}");
    let meta = std::fs::metadata(&out).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    seen.push(format!(
        "OutputUid:\t{}",
        std::os::unix::fs::MetadataExt::uid(&meta)
    ));
    seen
}

#[test]
fn tapir_run_drops_to_an_unprivileged_user_after_opening_the_sockets() {
    if !can_run() {
        return;
    }
    let Ok(nobody) = tapir::capture::privilege::lookup_user("nobody") else {
        eprintln!("skipped: no user nobody");
        return;
    };
    let Some(veth) = Veth::create('u') else {
        return;
    };
    let uid = nobody.0.to_string();
    let gid = nobody.1.to_string();
    let mut seen = run_and_read_proc(&veth, 10, &["--user", "nobody"]);
    // The records file was created after the switch: by nobody.
    assert_eq!(seen.pop().unwrap(), format!("OutputUid:\t{uid}"));
    assert!(seen.len() >= 3, "main thread and workers: {}", seen.len());
    for s in &seen {
        assert_eq!(proc_field(s, "Uid:"), vec![uid.clone(); 4], "{s}");
        assert_eq!(proc_field(s, "Gid:"), vec![gid.clone(); 4], "{s}");
        assert_eq!(proc_field(s, "Groups:"), vec![gid.clone()], "{s}");
        // CAP_NET_RAW (bit 13) only: to reopen a socket when the interface comes back.
        for key in ["CapEff:", "CapPrm:", "CapBnd:"] {
            assert_eq!(proc_field(s, key), vec!["0000000000002000"], "{key} {s}");
        }
        for key in ["CapInh:", "CapAmb:"] {
            assert_eq!(proc_field(s, key), vec!["0000000000000000"], "{key} {s}");
        }
        assert_eq!(proc_field(s, "NoNewPrivs:"), vec!["1"], "{s}");
    }
    // run.drop_all_caps: nothing kept.
    let mut seen = run_and_read_proc(
        &veth,
        11,
        &["--user", "nobody", "--set", "run.drop_all_caps=true"],
    );
    seen.pop();
    for s in &seen {
        assert_eq!(proc_field(s, "Uid:"), vec![uid.clone(); 4], "{s}");
        for key in ["CapEff:", "CapPrm:", "CapBnd:"] {
            assert_eq!(proc_field(s, key), vec!["0000000000000000"], "{key} {s}");
        }
    }
}

#[test]
fn tapir_run_as_root_refuses_an_unknown_user_and_says_how_to_fix_it() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('n') else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["run", "--interface", &veth.b, "--workers", "1"])
        .args(["--user", "no-such-user-tapir", "-o", "none"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing to run as root")
            && stderr.contains("\"no-such-user-tapir\" does not exist")
            && stderr.contains("--allow-root"),
        "{stderr}"
    );
}

// SIGHUP: the rules are reloaded while the capture runs; what a reload cannot change is listed.

/// A native rule that fires on every flow to `port`.
fn port_rule(id: &str, port: u16) -> String {
    format!(
        "id: {id}\nname: \"A flow to port {port}\"\nversion: 1\npriority: 3\n\
         technology: signature\nthreat_name: LiveTest\nthreat_level: low\ncategory: test\n\
         reason: \"A flow to the test port\"\nevent_type: flow\ndetection:\n  sel:\n    \
         dest_port: {port}\n  condition: sel\n"
    )
}

/// A configuration with one file sink writing to `path`.
fn sink_conf(max_flows: u32, path: &std::path::Path) -> String {
    format!(
        "[flow]\nmax_flows = {max_flows}\n[[export.sink]]\nname = \"file\"\ntype = \"file\"\n\
         path = \"{}\"\n",
        path.display()
    )
}

#[test]
fn tapir_run_reloads_rules_and_sinks_on_sighup() {
    if !can_run() {
        return;
    }
    let Some(veth) = Veth::create('g') else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (out, log) = (dir.path().join("out.ndjson"), dir.path().join("log"));
    let rules = dir.path().join("rules.yml");
    let conf = dir.path().join("tapir.toml");
    std::fs::write(&rules, port_rule("test-live-before", 1)).unwrap();
    let (sink_a, sink_b) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    std::fs::write(&conf, sink_conf(50000, &sink_a)).unwrap();
    let (r, c) = (rules.display().to_string(), conf.display().to_string());
    let more = ["--no-default-rules", "--rules", &r, "-c", &c];
    // Every hit its own detection (no suppression of repeats from one host).
    let more = [&more[..], &["--set", "detect.suppress_window=0"]].concat();
    let mut child = start_run_with(&veth.b, 11, &out, &log, &more);
    let seen = wait_status(&out, &mut child, 0, "the start record", |s| {
        s["kind"] == "start"
    });
    // A rule for our test flows instead, another file for the sink, and a setting that needs
    // a restart.
    std::fs::write(&rules, port_rule("test-live-after", 5555)).unwrap();
    std::fs::write(&conf, sink_conf(60000, &sink_b)).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let seen = wait_status(&out, &mut child, seen, "the reload", |s| {
        s["health"]["reloads"] == 1
    });
    let st = statuses(&read_records(&out))[seen - 1].clone();
    assert_eq!(
        st["health"]["needs_restart"],
        serde_json::json!(["flow.max_flows"])
    );
    let versions = st["health"]["versions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        versions
            .iter()
            .any(|v| v["kind"] == "rules" && v["path"] == r.as_str()),
        "{st:#}"
    );
    send_frames(&veth.a, &(0..3).map(frame).collect::<Vec<_>>());
    let seen = wait_status(&out, &mut child, seen, "the frames counted", |s| {
        s["capture"]["packets"].as_u64().unwrap_or(0) >= 3
    });
    // The ring of a socket that took a block was at least one block (of 64) full.
    let st = statuses(&read_records(&out))[seen - 1].clone();
    let fills: Vec<u64> = st["health"]["capture_sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["packets"].as_u64() > Some(0))
        .filter_map(|s| s["ring_fill_peak_pct"].as_u64())
        .collect();
    assert!(
        !fills.is_empty() && fills.iter().all(|&f| (1..=100).contains(&f)),
        "{st:#}"
    );
    sigterm(&child);
    let st = wait_exit(&mut child);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(st.success(), "{log_text}");
    assert!(log_text.contains("flow.max_flows changed"), "{log_text}");
    let recs = read_records(&out);
    let fired: Vec<&str> = recs
        .iter()
        .filter(|r| r["event_type"] == "detection")
        .filter_map(|r| r["detection"]["rule"]["id"].as_str())
        .collect();
    // The flows end at the stop, after the reload: the new rule fires on each, the old never.
    assert_eq!(test_flow_ports(&recs), [40000, 40001, 40002]);
    assert_eq!(fired, ["test-live-after"; 3], "{log_text}");
    // The sink: the start record went to the first file, the flows and the detections to the
    // second.
    let (a, b) = (read_records(&sink_a), read_records(&sink_b));
    assert!(statuses(&a).iter().any(|s| s["kind"] == "start"), "{a:#?}");
    assert!(test_flow_ports(&a).is_empty());
    assert_eq!(test_flow_ports(&b), [40000, 40001, 40002]);
    let in_b = b.iter().filter(|r| r["event_type"] == "detection").count();
    assert_eq!(in_b, 3);
}

// The appliance end to end: the packaged configuration, run as the service runs it.

/// `deploy/tapir.toml` with its directories moved under `root` and the capture on `iface`.
fn packaged_config(root: &std::path::Path, iface: &str, group: u16, rules: &str) -> String {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/tapir.toml"),
    )
    .unwrap();
    let r = root.display();
    text.replace("/var/lib/node_exporter/textfile", &format!("{r}/prom"))
        .replace("/var/log/tapir", &format!("{r}/log"))
        .replace("/var/lib/tapir", &format!("{r}/lib"))
        .replace("interface = \"eth1\"", &format!("interface = \"{iface}\""))
        .replace("fanout_group = 4242", &format!("fanout_group = {group}"))
        .replace("status_interval = 60", "status_interval = 1")
        .replace("rules = []", &format!("rules = [\"{rules}\"]"))
}

/// The packaged configuration (deploy/tapir.toml) started by root as the unit starts it, with
/// the user switched to nobody: the privileges are dropped, the metrics endpoint answers, a
/// SIGHUP with a changed rule file makes the new rule fire, and a support bundle is written.
#[test]
fn tapir_run_as_the_packaged_service() {
    use std::os::unix::fs::PermissionsExt;
    if !can_run() {
        return;
    }
    let Ok(nobody) = tapir::capture::privilege::lookup_user("nobody") else {
        eprintln!("skipped: no user nobody");
        return;
    };
    let Some(veth) = Veth::create('k') else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The unit's LogsDirectory/StateDirectory, writable by the user it switches to.
    for d in ["", "log", "log/archive", "lib", "prom"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let rules = root.join("rules.yml");
    std::fs::write(&rules, port_rule("test-pkg-before", 1)).unwrap();
    let group = ((std::process::id() & 0xfff) as u16) * 16 + 12;
    let conf = root.join("tapir.toml");
    let text = packaged_config(root, &veth.b, group, &rules.display().to_string());
    std::fs::write(&conf, &text).unwrap();
    let out = root.join("log/records.ndjson");
    let log = root.join("stderr");
    let port = 20000 + ((std::process::id() + 7) % 20000) as u16;
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["run", "--config"])
        .arg(&conf)
        .args(["--log-rate", "20", "--user", "nobody", "--workers", "2"])
        .args([
            "--metrics-listen",
            &addr,
            "--set",
            "detect.suppress_window=0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let seen = wait_status(&out, &mut child, 0, "the start record", |s| {
        s["kind"] == "start"
    });
    // Least privilege: every thread runs as nobody with CAP_NET_RAW only.
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap();
    for t in tasks.flatten() {
        let s = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        assert_eq!(proc_field(&s, "Uid:"), vec![nobody.0.to_string(); 4], "{s}");
        assert_eq!(proc_field(&s, "CapEff:"), vec!["0000000000002000"], "{s}");
        assert_eq!(proc_field(&s, "NoNewPrivs:"), vec!["1"], "{s}");
    }
    // Metrics, once a periodic record has been rendered.
    let seen = wait_status(&out, &mut child, seen, "a periodic record", |s| {
        s["kind"] == "periodic"
    });
    let metrics = http_get(&addr, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(
        metrics.contains("tapir_packets_total{sensor=\"sensor-01\""),
        "{metrics}"
    );
    // A changed rule file, SIGHUP, then traffic.
    std::fs::write(&rules, port_rule("test-pkg-after", 5555)).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let seen = wait_status(&out, &mut child, seen, "the reload", |s| {
        s["health"]["reloads"] == 1
    });
    send_frames(&veth.a, &(0..3).map(frame).collect::<Vec<_>>());
    wait_status(&out, &mut child, seen, "the frames counted", |s| {
        s["capture"]["packets"].as_u64().unwrap_or(0) >= 3
    });
    // The support bundle, from the running sensor's configuration and records.
    let bundle = root.join("bundle.tar.gz");
    let b = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["support-bundle", "--config"])
        .arg(&conf)
        .arg("-o")
        .arg(&bundle)
        .arg("--records")
        .arg(&out)
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&bundle)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for f in ["config.toml", "sensor_status.ndjson", "version.txt"] {
        assert!(listing.contains(&format!("tapir-support/{f}")), "{listing}");
    }
    sigterm(&child);
    let st = wait_exit(&mut child);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(st.success(), "{log_text}");
    let recs = read_records(&out);
    let fired: Vec<&str> = recs
        .iter()
        .filter(|r| r["event_type"] == "detection")
        .filter_map(|r| r["detection"]["rule"]["id"].as_str())
        .filter(|id| id.starts_with("test-pkg"))
        .collect();
    assert_eq!(fired, ["test-pkg-after"; 3], "{log_text}");
    // The archive sink of the packaged configuration has them too.
    let archived = read_records(&root.join("log/archive/records.ndjson"));
    assert_eq!(test_flow_ports(&archived), [40000, 40001, 40002]);
    // The stats store and the metrics file were written by the unprivileged user.
    for f in ["lib/stats.redb", "prom/tapir.prom"] {
        let meta = std::fs::metadata(root.join(f)).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), nobody.0, "{f}");
    }
}
