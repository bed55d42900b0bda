//! `capture.snaplen` and `capture.promiscuous` reach the AF_PACKET socket: frames arrive cut
//! to the snap length (with their wire length kept), and the interface is promiscuous only
//! when asked. Runs on a veth pair made for the test (root and the `ip` tool needed; where
//! they are missing the tests say so and do nothing).
#![cfg(target_os = "linux")]
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tapir::capture::{AfPacketSource, Next, PacketSource, RingConfig};

const MARKER: &[u8] = b"tapir-live-opts";
const IFF_PROMISC: u32 = 0x100;

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A veth pair made for one test, deleted on drop; `None` (and why) where we cannot.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn create(tag: char) -> Option<Veth> {
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                == Some("0")
        });
        if !root {
            eprintln!("skipped: not root");
            return None;
        }
        let pid = std::process::id();
        let v = Veth {
            a: format!("tpo{pid}{tag}a"),
            b: format!("tpo{pid}{tag}b"),
        };
        if !ip(&["link", "add", &v.a, "type", "veth", "peer", "name", &v.b]) {
            eprintln!("skipped: cannot create a veth pair here (no ip tool or CAP_NET_ADMIN)");
            return None;
        }
        for dev in [&v.a, &v.b] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
            assert!(ip(&["link", "set", dev, "up"]), "ip link set {dev} up");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && ![&v.a, &v.b].iter().all(|d| {
                std::fs::read_to_string(format!("/sys/class/net/{d}/operstate"))
                    .is_ok_and(|s| s.trim() == "up")
            })
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(v)
    }

    fn flags(dev: &str) -> u32 {
        let s = std::fs::read_to_string(format!("/sys/class/net/{dev}/flags")).unwrap();
        u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.a]);
    }
}

/// Sends `frame` out of `iface` with a raw AF_PACKET socket.
fn send(iface: &str, frame: &[u8]) {
    let name = std::ffi::CString::new(iface).unwrap();
    // SAFETY: valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(ifindex != 0, "no interface {iface}");
    // SAFETY: plain system call.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: an all-zero sockaddr_ll is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    // SAFETY: `frame` and `sll` are valid for the call and the lengths are theirs.
    let rc = unsafe {
        libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(
        rc,
        frame.len() as isize,
        "{}",
        std::io::Error::last_os_error()
    );
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
}

/// A 600-byte frame of a local experimental EtherType, with our marker and `i`.
fn frame(i: u8) -> Vec<u8> {
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
    let Some(v) = Veth::create('s') else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut src = AfPacketSource::open(&v.a, None, ring(100, false), stop).unwrap();
    let mut seen = Vec::new();
    for round in 0..4u8 {
        send(&v.b, &frame(round));
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
        assert_eq!(&data[..], &frame(i as u8)[..100]);
    }
    assert!(src.stats().truncated >= 4, "{:?}", src.stats());
}

#[test]
fn afpacket_promiscuous_only_when_asked() {
    let Some(v) = Veth::create('p') else {
        return;
    };
    assert_eq!(Veth::flags(&v.a) & IFF_PROMISC, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let off = AfPacketSource::open(&v.a, None, ring(0, false), Arc::clone(&stop)).unwrap();
    assert_eq!(Veth::flags(&v.a) & IFF_PROMISC, 0, "promiscuous = false");
    let on = AfPacketSource::open(&v.a, None, ring(0, true), Arc::clone(&stop)).unwrap();
    assert_ne!(Veth::flags(&v.a) & IFF_PROMISC, 0, "promiscuous = true");
    drop(on);
    assert_eq!(
        Veth::flags(&v.a) & IFF_PROMISC,
        0,
        "left when the socket closed"
    );
    drop(off);
}
