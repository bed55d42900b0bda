//! Live capture through libpcap (cargo feature `libpcap`): portable, and the way to apply a
//! BPF capture filter (`--bpf`). Packets borrow libpcap's buffer until the next call.
//!
//! The handle is non-blocking and we wait on its descriptor with `poll` ourselves: libpcap's
//! own read timeout does not make a blocking read return on Linux TPACKET_V3 with immediate
//! mode, and we need [`Next::Idle`] regularly.
//!
//! When the interface goes down (a read error such as libpcap's "The interface went down",
//! or, after a second without packets, the interface found down, without carrier or gone in
//! sysfs), the source says so to its [`LinkHealth`], returns [`Next::Idle`] at its read
//! interval without spinning, and checks the interface again; once it is up, the handle is
//! opened again with the same settings (snap length, promiscuous mode, BPF filter) and
//! capture resumes, as the AF_PACKET source does.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcap::{Active, Capture};

use super::link::{lost, probe, IfState, LinkHealth, IDLE_CHECK};
use super::{CaptureError, CaptureStats, LinkType, Next, Packet, PacketSource};

/// How long one read waits before [`PacketSource::next`] returns [`Next::Idle`].
const READ_TIMEOUT_MS: i32 = 100;

/// Kernel buffer (ring) size. libpcap's default of 2 MiB holds only ~32 frames at a 64 KiB
/// snap length in immediate mode (one ring frame per packet), which drops short bursts.
const BUFFER_SIZE: i32 = 32 << 20;

/// Kernel drop counters are refreshed after this many packets (and whenever idle).
const STATS_EVERY: u32 = 8192;

/// A live capture on one interface through libpcap.
pub struct PcapLiveSource {
    iface: String,
    cap: Capture<Active>,
    /// The descriptor to poll for readability.
    fd: RawFd,
    /// Whether the last read returned a packet (so the next read need not wait first).
    ready: bool,
    linktype: LinkType,
    stop: Arc<AtomicBool>,
    ended: bool,
    stats: CaptureStats,
    /// Packets since the drop counters were last read; `u32::MAX` asks for a refresh.
    since_stats: u32,
    /// What the handle was opened with, to open it again after the interface came back.
    settings: Settings,
    watch: Watch,
    /// Drops counted by handles closed since (the kernel counters start again with a handle).
    dropped_before: u64,
}

/// The interface's state as this source sees it (apart from the handle, so that it can be
/// updated while a packet borrows the handle's buffer).
struct Watch {
    iface: String,
    health: Option<Arc<LinkHealth>>,
    /// The interface index the handle is bound to.
    ifindex: Option<u32>,
    /// The interface is down (or the handle failed): waiting for it.
    down: bool,
    /// When a packet last came, or the interface was last checked.
    last_check: Instant,
}

impl Watch {
    /// The source lost the interface (or its handle failed).
    fn mark_down(&mut self, reason: &str) {
        if !self.down {
            self.down = true;
            match &self.health {
                Some(h) => h.source_down(reason),
                None => tracing::warn!(
                    iface = %self.iface,
                    reason,
                    "capture interface down: waiting for it to come back"
                ),
            }
        }
        self.last_check = Instant::now();
    }

    /// Idle for a while: is the interface still there, under the same index?
    fn check_idle(&mut self) {
        if self.last_check.elapsed() < IDLE_CHECK {
            return;
        }
        self.last_check = Instant::now();
        if let Some(why) = lost(&self.iface, self.ifindex) {
            self.mark_down(why);
        }
    }
}

#[derive(Clone, Debug)]
struct Settings {
    snaplen: i32,
    promiscuous: bool,
    bpf: Option<String>,
}

fn live_err(iface: &str, what: &str, e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Live {
        iface: iface.to_string(),
        reason: format!("{what}: {e}"),
    }
}

impl PcapLiveSource {
    /// Opens `iface` in immediate mode with the given snap length, promiscuous when
    /// `promiscuous` (`capture.promiscuous`), and applies the BPF filter `bpf` when given.
    /// Setting `stop` makes [`PacketSource::next`] return [`Next::End`].
    pub fn open(
        iface: &str,
        snaplen: u32,
        promiscuous: bool,
        bpf: Option<&str>,
        stop: Arc<AtomicBool>,
    ) -> Result<PcapLiveSource, CaptureError> {
        let settings = Settings {
            snaplen: i32::try_from(snaplen.clamp(64, 262_144)).unwrap_or(65_535),
            promiscuous,
            bpf: bpf.map(str::to_string),
        };
        let (cap, fd, linktype) = activate(iface, &settings)?;
        tracing::info!(
            iface,
            snaplen = settings.snaplen,
            promiscuous,
            ?bpf,
            ?linktype,
            "libpcap capture opened"
        );
        Ok(PcapLiveSource {
            iface: iface.to_string(),
            cap,
            fd,
            ready: false,
            linktype,
            stop,
            ended: false,
            stats: CaptureStats::default(),
            since_stats: 0,
            settings,
            watch: Watch {
                iface: iface.to_string(),
                health: None,
                ifindex: match probe(iface) {
                    IfState::Up { ifindex } => Some(ifindex),
                    _ => None,
                },
                down: false,
                last_check: Instant::now(),
            },
            dropped_before: 0,
        })
    }

    /// Reports the interface's state (down, up again, handle opened again) to `health`.
    pub fn with_health(mut self, health: Arc<LinkHealth>) -> PcapLiveSource {
        self.watch.health = Some(health);
        self
    }

    /// Down: waits one read interval, then, when the interface is up, opens the handle again
    /// (a handle that reported an error, or is bound to an index that is gone, reads nothing
    /// more).
    fn wait_for_link(&mut self) {
        std::thread::sleep(Duration::from_millis(READ_TIMEOUT_MS.unsigned_abs().into()));
        self.watch.last_check = Instant::now();
        let IfState::Up { ifindex } = probe(&self.iface) else {
            return;
        };
        match activate(&self.iface, &self.settings) {
            Ok((cap, fd, linktype)) => {
                self.refresh_drops();
                self.dropped_before = self.stats.dropped;
                self.cap = cap;
                self.fd = fd;
                if linktype != self.linktype {
                    tracing::warn!(iface = %self.iface, old = ?self.linktype, new = ?linktype, "the interface came back with another link type");
                    self.linktype = linktype;
                }
                self.watch.ifindex = Some(ifindex);
                self.watch.down = false;
                self.ready = false;
                if let Some(h) = &self.watch.health {
                    h.source_reopened();
                    h.source_up();
                } else {
                    tracing::warn!(iface = %self.iface, "capture interface up again: capture resumed");
                }
                tracing::info!(iface = %self.iface, ifindex, "libpcap handle opened again");
            }
            // Not ready yet (e.g. up but not running): try again at the next interval.
            Err(e) => tracing::debug!(iface = %self.iface, %e, "libpcap handle not opened yet"),
        }
    }
}

/// Creates and activates a non-blocking handle on `iface` with `s`; its descriptor and link
/// type.
fn activate(iface: &str, s: &Settings) -> Result<(Capture<Active>, RawFd, LinkType), CaptureError> {
    let mut cap = Capture::from_device(iface)
        .map_err(|e| live_err(iface, "pcap_create", e))?
        .snaplen(s.snaplen)
        .promisc(s.promiscuous)
        .immediate_mode(true)
        .buffer_size(BUFFER_SIZE)
        .timeout(READ_TIMEOUT_MS)
        .open()
        .map_err(|e| live_err(iface, "pcap_activate", e))?
        .setnonblock()
        .map_err(|e| live_err(iface, "pcap_setnonblock", e))?;
    let fd = cap.as_raw_fd();
    if let Some(filter) = &s.bpf {
        cap.filter(filter, true)
            .map_err(|e| live_err(iface, &format!("BPF filter {filter:?}"), e))?;
    }
    let dlt = cap.get_datalink().0;
    let linktype = u16::try_from(dlt)
        .map(LinkType)
        .map_err(|_| live_err(iface, "datalink", format!("unsupported DLT {dlt}")))?;
    Ok((cap, fd, linktype))
}

impl PacketSource for PcapLiveSource {
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.ended {
            return Ok(Next::End);
        }
        let stopping = self.stop.load(Ordering::Relaxed);
        if stopping || self.since_stats >= STATS_EVERY {
            self.refresh_drops();
        }
        if stopping {
            self.ended = true;
            return Ok(Next::End);
        }
        if self.watch.down {
            self.wait_for_link();
            return Ok(Next::Idle);
        }
        if !self.ready
            && !wait_readable(self.fd, READ_TIMEOUT_MS)
                .map_err(|e| live_err(&self.iface, "poll", e))?
        {
            self.since_stats = u32::MAX;
            self.watch.check_idle();
            return Ok(Next::Idle);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                self.ready = true;
                self.watch.last_check = Instant::now();
                self.since_stats = self.since_stats.saturating_add(1);
                let h = p.header;
                let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
                let usec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
                self.stats.packets += 1;
                self.stats.bytes += u64::from(h.len);
                if p.data.len() < h.len as usize {
                    self.stats.truncated += 1;
                }
                Ok(Next::Packet(Packet {
                    ts_ns: sec * 1_000_000_000 + usec * 1_000,
                    linktype: self.linktype,
                    data: p.data,
                    wire_len: h.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing buffered: wait on the descriptor next time.
                self.ready = false;
                self.since_stats = u32::MAX;
                self.watch.check_idle();
                Ok(Next::Idle)
            }
            Err(pcap::Error::NoMorePackets) => {
                self.ended = true;
                Ok(Next::End)
            }
            // The interface went down or away ("The interface went down", ENETDOWN, ENXIO):
            // wait for it rather than end the capture.
            Err(e) => {
                self.ready = false;
                self.watch.mark_down(&format!("read: {e}"));
                Ok(Next::Idle)
            }
        }
    }

    /// Packet and byte counts are ours; `dropped` (kernel plus interface drops from
    /// `pcap_stats`) is refreshed every few thousand packets, when idle and at the end.
    fn stats(&self) -> CaptureStats {
        self.stats
    }
}

impl PcapLiveSource {
    fn refresh_drops(&mut self) {
        self.since_stats = 0;
        match self.cap.stats() {
            Ok(st) => {
                self.stats.dropped =
                    self.dropped_before + u64::from(st.dropped) + u64::from(st.if_dropped);
            }
            Err(e) => tracing::debug!(iface = %self.iface, %e, "pcap_stats"),
        }
    }
}

/// Waits up to `timeout_ms` for `fd` to become readable.
#[allow(unsafe_code)]
fn wait_readable(fd: RawFd, timeout_ms: i32) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd and the count passed is 1; `fd` is the live pcap
    // handle's descriptor, owned by the handle for as long as the source exists.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(rc > 0)
}
