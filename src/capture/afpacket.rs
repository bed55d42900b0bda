//! Live capture on Linux through an AF_PACKET socket with a TPACKET_V3 receive ring.
//!
//! Each worker opens its own [`AfPacketSource`] (socket + ring) on the same interface with the
//! same fanout group id; the kernel spreads flows over the group by hash
//! (`PACKET_FANOUT_HASH`, with `PACKET_FANOUT_FLAG_DEFRAG` so that IP fragments stay together).
//! Packets borrow the mapped ring: a block is handed back to the kernel when the reader moves
//! past it, so nothing is copied.
//!
//! `snaplen` is applied by the kernel (a one-instruction socket filter, `ret #snaplen`, which
//! is how the kernel's packet socket learns a snap length), so cut frames also take less room
//! in the ring; `promiscuous` adds or leaves out the `PACKET_MR_PROMISC` membership.
//!
//! When the interface goes down (`ENETDOWN` on the socket: set down, or removed) or loses its
//! carrier (checked in sysfs after a second without packets), the source says so to its
//! [`LinkHealth`], returns [`Next::Idle`] at its poll interval without spinning, and checks
//! the interface again: when it is back under the same index the kernel has already resumed
//! delivery to the socket; under a new index (removed and created again) the socket, ring and
//! fanout membership are opened again.
//!
//! Note: the kernel delivers frames whose VLAN tag was stripped by the NIC (hardware offload)
//! without that tag; the tag is not re-inserted here, as that would mean copying the frame.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libc::{c_int, c_uint, c_void, socklen_t};

use super::link::{lost, probe, IfState, LinkHealth, IDLE_CHECK};
use super::{CaptureError, CaptureStats, LinkType, Next, Packet, PacketSource};

/// `TPACKET_ALIGNMENT` from `<linux/if_packet.h>`.
const TPACKET_ALIGNMENT: u32 = 16;
/// `ARPHRD_NONE` (tun devices and the like: raw IP, no link header).
const ARPHRD_NONE: u16 = 0xFFFE;
/// Largest snap length (libpcap's); a snap length of 0 means this.
pub const MAX_SNAPLEN: u32 = 256 * 1024;
/// Classic BPF `ret #k` (`BPF_RET | BPF_K`).
const BPF_RET_K: u16 = 0x06;

/// Geometry of the TPACKET_V3 receive ring and the wait times of one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per ring block; a multiple of the page size.
    pub block_size: u32,
    /// Number of blocks in the ring.
    pub block_count: u32,
    /// Nominal frame size (a multiple of 16 that divides `block_size`). With TPACKET_V3 frames
    /// are packed with variable sizes; this is only used to size the request.
    pub frame_size: u32,
    /// The kernel hands a block over after this many milliseconds even when not full.
    pub block_timeout_ms: u32,
    /// How long [`PacketSource::next`] waits for a block before returning [`Next::Idle`].
    pub poll_timeout_ms: u32,
    /// Bytes kept of each frame (`capture.snaplen`); 0 means [`MAX_SNAPLEN`].
    pub snaplen: u32,
    /// Put the interface in promiscuous mode for as long as the socket is open
    /// (`capture.promiscuous`).
    pub promiscuous: bool,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            block_size: 1 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 10,
            poll_timeout_ms: 100,
            snaplen: 65_535,
            promiscuous: true,
        }
    }
}

/// A live AF_PACKET/TPACKET_V3 capture on one interface (one socket and ring per worker).
pub struct AfPacketSource {
    iface: String,
    fd: OwnedFd,
    ring: NonNull<u8>,
    ring_len: usize,
    block_size: usize,
    block_count: usize,
    poll_timeout_ms: c_int,
    linktype: LinkType,
    stop: Arc<AtomicBool>,
    /// Index of the block being read (or waited for).
    block: usize,
    /// Whether the current block is ours (status `TP_STATUS_USER`) and being read.
    in_block: bool,
    /// Packets left in the current block, and the offset of the next one in it.
    left: u32,
    next_off: usize,
    ended: bool,
    stats: CaptureStats,
    /// Kernel drops read so far (`PACKET_STATISTICS` resets the kernel counters on each read).
    kernel_drops: Cell<u64>,
    /// The interface index the socket is bound to.
    ifindex: u32,
    /// What `open` was given, to open the socket again on a new index.
    fanout_group: Option<u16>,
    ring_cfg: RingConfig,
    /// The interface's state shared with the other sources on it and the status records.
    health: Arc<LinkHealth>,
    /// This source lost the interface and waits for it.
    down: bool,
    /// The ring was unmapped and the socket closed (the interface went away): `fd` is a
    /// placeholder, `ring` dangles and is never read, until `reopen` replaces the source.
    closed: bool,
    /// When the interface was last checked (or a packet last came).
    last_check: Instant,
}

// SAFETY: the ring mapping is owned by this value alone (nothing else holds the pointer), and
// the socket is an owned file descriptor; moving the whole source to another thread is sound.
// `Cell` makes it `!Sync`, which is what we want: one reader at a time.
unsafe impl Send for AfPacketSource {}

fn last_err(iface: &str, what: &str) -> CaptureError {
    CaptureError::Live {
        iface: iface.to_string(),
        reason: format!("{what}: {}", io::Error::last_os_error()),
    }
}

/// The snap length in force for a configured one (0: the largest).
pub fn effective_snaplen(configured: u32) -> u32 {
    match configured {
        0 => MAX_SNAPLEN,
        n => n.min(MAX_SNAPLEN),
    }
}

/// The socket filter that keeps the first `snaplen` bytes of every frame: a classic BPF
/// program returns how many bytes of the packet to keep.
fn snaplen_filter(snaplen: u32) -> [libc::sock_filter; 1] {
    [libc::sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: snaplen,
    }]
}

/// The membership request that puts interface `ifindex` in promiscuous mode.
fn promisc_request(ifindex: c_uint) -> libc::packet_mreq {
    libc::packet_mreq {
        mr_ifindex: ifindex as c_int,
        mr_type: libc::PACKET_MR_PROMISC as u16,
        mr_alen: 0,
        mr_address: [0; 8],
    }
}

fn live_err(iface: &str, reason: impl Into<String>) -> CaptureError {
    CaptureError::Live {
        iface: iface.to_string(),
        reason: reason.into(),
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: c_int, name: c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` is a valid, initialised `T` for the duration of the call, and the length
    // passed is its exact size; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast::<c_void>(),
            size_of::<T>() as socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The ARPHRD_* hardware type of an interface, from sysfs.
fn hardware_type(iface: &str) -> io::Result<u16> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{iface}/type"))?;
    s.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad interface type"))
}

impl AfPacketSource {
    /// Opens a capture on `iface`: an AF_PACKET socket bound to it, a TPACKET_V3 ring shaped by
    /// `ring`, its snap length and promiscuous mode as `ring` says, and, when `fanout_group` is given, membership of that fanout
    /// group (hash mode, defragmenting) so that several workers share the traffic. Setting
    /// `stop` makes [`PacketSource::next`] return [`Next::End`].
    pub fn open(
        iface: &str,
        fanout_group: Option<u16>,
        ring: RingConfig,
        stop: Arc<AtomicBool>,
    ) -> Result<AfPacketSource, CaptureError> {
        let page = 4096u32;
        if ring.block_size == 0
            || !ring.block_size.is_multiple_of(page)
            || ring.frame_size < TPACKET_ALIGNMENT
            || !ring.frame_size.is_multiple_of(TPACKET_ALIGNMENT)
            || !ring.block_size.is_multiple_of(ring.frame_size)
            || ring.block_count == 0
        {
            return Err(live_err(
                iface,
                format!("invalid ring configuration {ring:?}"),
            ));
        }
        let ring_len = ring.block_size as usize * ring.block_count as usize;
        let frame_nr = (ring.block_size / ring.frame_size)
            .checked_mul(ring.block_count)
            .ok_or_else(|| live_err(iface, "ring too large"))?;

        let linktype = match hardware_type(iface)
            .map_err(|e| live_err(iface, format!("no such interface: {e}")))?
        {
            libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => LinkType::ETHERNET,
            ARPHRD_NONE => LinkType::RAW,
            other => {
                return Err(live_err(
                    iface,
                    format!("unsupported hardware type {other}"),
                ))
            }
        };
        let cname = CString::new(iface).map_err(|_| live_err(iface, "bad interface name"))?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(last_err(iface, "if_nametoindex"));
        }

        // Protocol 0: the socket receives nothing until it is bound with ETH_P_ALL to the
        // interface, so no packet of another interface slips into the ring.
        // SAFETY: plain system call with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(last_err(iface, "socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let version = libc::tpacket_versions::TPACKET_V3 as c_int;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version)
            .map_err(|e| live_err(iface, format!("PACKET_VERSION v3: {e}")))?;
        let req = libc::tpacket_req3 {
            tp_block_size: ring.block_size as c_uint,
            tp_block_nr: ring.block_count as c_uint,
            tp_frame_size: ring.frame_size as c_uint,
            tp_frame_nr: frame_nr as c_uint,
            tp_retire_blk_tov: ring.block_timeout_ms as c_uint,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
            .map_err(|e| live_err(iface, format!("PACKET_RX_RING {ring:?}: {e}")))?;

        // SAFETY: maps the ring the kernel just allocated for this socket, with its exact
        // length; the result is checked before use.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_err(iface, "mmap of the ring"));
        }
        let Some(ring_ptr) = NonNull::new(map.cast::<u8>()) else {
            return Err(live_err(iface, "mmap returned null"));
        };
        // From here on, Drop unmaps the ring and closes the socket.
        let src = AfPacketSource {
            iface: iface.to_string(),
            fd,
            ring: ring_ptr,
            ring_len,
            block_size: ring.block_size as usize,
            block_count: ring.block_count as usize,
            poll_timeout_ms: c_int::try_from(ring.poll_timeout_ms).unwrap_or(c_int::MAX),
            linktype,
            stop,
            block: 0,
            in_block: false,
            left: 0,
            next_off: 0,
            ended: false,
            stats: CaptureStats {
                ring_blocks: u64::from(ring.block_count),
                ..CaptureStats::default()
            },
            kernel_drops: Cell::new(0),
            ifindex,
            fanout_group,
            ring_cfg: ring,
            health: Arc::new(LinkHealth::new(iface)),
            down: false,
            closed: false,
            last_check: Instant::now(),
        };

        // Before the bind, so that no frame reaches the ring uncut.
        let snaplen = effective_snaplen(ring.snaplen);
        let mut prog = snaplen_filter(snaplen);
        // `fprog` points into `prog`, which outlives the call; the kernel copies the program.
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_mut_ptr(),
        };
        setsockopt(&src.fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
            .map_err(|e| live_err(iface, format!("snap length filter ({snaplen}): {e}")))?;

        // SAFETY: an all-zero sockaddr_ll is a valid value; the fields that matter are set.
        let mut sll: libc::sockaddr_ll = unsafe { MaybeUninit::zeroed().assume_init() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as c_int;
        // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                src.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_err(iface, "bind"));
        }

        if ring.promiscuous {
            // The kernel drops the membership (and the promiscuity) when the socket closes.
            let mreq = promisc_request(ifindex);
            setsockopt(
                &src.fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
            )
            .map_err(|e| live_err(iface, format!("promiscuous mode: {e}")))?;
        }

        if let Some(group) = fanout_group {
            let mode = libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG;
            let arg = (u32::from(group) | (mode << 16)) as c_int;
            setsockopt(&src.fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)
                .map_err(|e| live_err(iface, format!("PACKET_FANOUT group {group}: {e}")))?;
        }
        tracing::info!(
            iface,
            ifindex,
            ?fanout_group,
            block_size = ring.block_size,
            block_count = ring.block_count,
            snaplen,
            promiscuous = ring.promiscuous,
            "AF_PACKET capture opened"
        );
        Ok(src)
    }

    /// The name of the interface captured on.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Shares `health` (one per interface, for all the workers' sources and the status
    /// records) instead of this source's own.
    pub fn with_health(mut self, health: Arc<LinkHealth>) -> AfPacketSource {
        self.health = health;
        self
    }

    /// The interface's state as this source reports it.
    pub fn health(&self) -> &Arc<LinkHealth> {
        &self.health
    }

    /// Takes (and so clears) the socket's pending error, `SO_ERROR`.
    fn take_socket_error(&self) -> Option<io::Error> {
        let mut err: c_int = 0;
        let mut len = size_of::<c_int>() as socklen_t;
        // SAFETY: `err` is a valid, writable c_int and `len` holds its size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut c_int).cast::<c_void>(),
                &mut len,
            )
        };
        if rc != 0 {
            return Some(io::Error::last_os_error());
        }
        (err != 0).then(|| io::Error::from_raw_os_error(err))
    }

    /// This source lost the interface.
    fn mark_down(&mut self, reason: &str) {
        self.release_block();
        if !self.down {
            self.down = true;
            self.health.source_down(reason);
        }
        self.last_check = Instant::now();
    }

    /// Idle for a while: is the interface still there, under the same index?
    fn check_idle(&mut self) {
        if self.last_check.elapsed() < IDLE_CHECK {
            return;
        }
        self.last_check = Instant::now();
        if let Some(why) = lost(&self.iface, Some(self.ifindex)) {
            self.mark_down(why);
        }
    }

    /// Down: waits one poll interval, then checks whether the interface is back (opening the
    /// socket again if it came back under a new index).
    fn wait_for_link(&mut self) -> Next<'static> {
        std::thread::sleep(Duration::from_millis(
            u64::try_from(self.poll_timeout_ms).unwrap_or(100),
        ));
        self.last_check = Instant::now();
        match probe(&self.iface) {
            IfState::Up { ifindex } if ifindex == self.ifindex && !self.closed => {
                // The kernel hooks the socket in again when the device comes up; an error
                // raised meanwhile is stale.
                let _ = self.take_socket_error();
                self.down = false;
                self.health.source_up();
            }
            IfState::Up { ifindex } => {
                self.close_socket();
                self.reopen(ifindex);
            }
            IfState::Gone => self.close_socket(),
            IfState::Down(_) => {}
        }
        Next::Idle
    }

    /// The interface went away: unmaps the ring and closes the socket, which leaves the
    /// fanout group (a group belongs to one device, so the new device's group can only form
    /// once every member of the old one has left; the mapping holds the socket open too).
    /// Once closed, the ring is never read again: `open` makes a new source.
    fn close_socket(&mut self) {
        if self.closed {
            return;
        }
        self.release_block();
        let dev_null = match std::fs::File::open("/dev/null") {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(iface = %self.iface, %e, "cannot close the capture socket");
                return;
            }
        };
        // SAFETY: `ring`/`ring_len` are exactly the mapping made in `open`; no packet borrows
        // it (`next` takes `&mut self`), and `closed` keeps every later access (`block_ptr`
        // through `try_take_block`/`release_block`, and `Drop`) away from it.
        let rc = unsafe { libc::munmap(self.ring.as_ptr().cast::<c_void>(), self.ring_len) };
        if rc != 0 {
            tracing::warn!(iface = %self.iface, err = %io::Error::last_os_error(), "munmap of the ring");
        }
        self.closed = true;
        self.in_block = false;
        self.left = 0;
        self.fd = OwnedFd::from(dev_null);
    }

    /// The interface came back as `ifindex`: a new socket and ring bound to it (the old
    /// socket stays bound to the index that is gone, and a fanout member cannot re-bind).
    /// Until it can be opened (the old fanout group still has members) the source stays down
    /// and tries again at the next poll interval.
    fn reopen(&mut self, ifindex: u32) {
        let new = match AfPacketSource::open(
            &self.iface,
            self.fanout_group,
            self.ring_cfg,
            self.stop.clone(),
        ) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(iface = %self.iface, %e, "capture interface back but cannot open it yet");
                return;
            }
        };
        let mut new = new.with_health(self.health.clone());
        new.stats = self.stats;
        new.kernel_drops = Cell::new(self.kernel_drops.get());
        tracing::info!(iface = %self.iface, old = self.ifindex, new = ifindex, "capture socket opened again on the new interface index");
        *self = new;
        self.health.source_reopened();
        self.health.source_up();
    }

    /// Start of block `i` of the ring.
    fn block_ptr(&self, i: usize) -> *mut u8 {
        // SAFETY: callers pass `i < block_count`, so the offset stays inside the mapping.
        unsafe { self.ring.as_ptr().add(i * self.block_size) }
    }

    /// The status word of block `i`, shared with the kernel.
    fn block_status(&self, i: usize) -> &AtomicU32 {
        let bd = self.block_ptr(i).cast::<libc::tpacket_block_desc>();
        // SAFETY: the block starts with a tpacket_block_desc (blocks are page aligned, so the
        // u32 status word is aligned); the kernel and we access the word only atomically (the
        // kernel with its own barriers), and the mapping outlives `&self`.
        unsafe {
            let status = std::ptr::addr_of_mut!((*bd).hdr.bh1.block_status);
            AtomicU32::from_ptr(status)
        }
    }

    /// Hands the current block back to the kernel and moves to the next one.
    fn release_block(&mut self) {
        if self.in_block && !self.closed {
            self.block_status(self.block)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.in_block = false;
            self.left = 0;
            self.block = (self.block + 1) % self.block_count;
        }
    }

    /// Takes the current block if the kernel has handed it to us.
    fn try_take_block(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let status = self.block_status(self.block).load(Ordering::Acquire);
        if status & libc::TP_STATUS_USER == 0 {
            return false;
        }
        let bd = self
            .block_ptr(self.block)
            .cast::<libc::tpacket_block_desc>();
        // SAFETY: the block is ours (TP_STATUS_USER, observed with Acquire ordering), so its
        // descriptor is initialised and the kernel does not write it until we release it.
        let (num, first) = unsafe {
            let h = std::ptr::addr_of!((*bd).hdr.bh1).read();
            (h.num_pkts, h.offset_to_first_pkt)
        };
        self.in_block = true;
        // The backlog: this block and the full ones after it (what the worker is behind by).
        let mut full = 1;
        while full < self.block_count
            && self
                .block_status((self.block + full) % self.block_count)
                .load(Ordering::Acquire)
                & libc::TP_STATUS_USER
                != 0
        {
            full += 1;
        }
        self.stats.ring_full_peak = self.stats.ring_full_peak.max(full as u64);
        // Packets came: the interface is up (checked again after a second without any).
        self.last_check = Instant::now();
        self.left = num;
        self.next_off = first as usize;
        true
    }

    /// Waits for the socket to become readable, up to the poll timeout. An error pending on
    /// the socket (`ENETDOWN`: the interface went down or away) is taken and returned; poll
    /// would report it again at once until it is.
    fn wait(&self) -> Result<Option<io::Error>, CaptureError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd and the count passed is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, self.poll_timeout_ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(live_err(&self.iface, format!("poll: {e}")));
            }
        }
        if rc > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return Ok(Some(self.take_socket_error().unwrap_or_else(|| {
                io::Error::other(format!("poll events {:#x}", pfd.revents))
            })));
        }
        Ok(None)
    }

    /// Reads the kernel counters (which the read resets) into `kernel_drops`.
    fn poll_kernel_stats(&self) {
        if self.closed {
            return;
        }
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = size_of::<libc::tpacket_stats_v3>() as socklen_t;
        // SAFETY: `st` is a valid, writable tpacket_stats_v3 and `len` holds its size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast::<c_void>(),
                &mut len,
            )
        };
        if rc == 0 {
            self.kernel_drops
                .set(self.kernel_drops.get() + u64::from(st.tp_drops));
        } else {
            tracing::debug!(iface = %self.iface, err = %io::Error::last_os_error(), "PACKET_STATISTICS");
        }
    }
}

impl PacketSource for AfPacketSource {
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.ended {
            return Ok(Next::End);
        }
        let mut waited = false;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                self.release_block();
                self.ended = true;
                return Ok(Next::End);
            }
            if self.down {
                return Ok(self.wait_for_link());
            }
            if self.in_block && self.left == 0 {
                self.release_block();
            }
            if !self.in_block && !self.try_take_block() {
                if waited {
                    self.check_idle();
                    return Ok(Next::Idle);
                }
                if let Some(e) = self.wait()? {
                    let reason = if e.raw_os_error() == Some(libc::ENETDOWN) {
                        "ENETDOWN".to_string()
                    } else {
                        format!("socket error: {e}")
                    };
                    self.mark_down(&reason);
                    return Ok(Next::Idle);
                }
                waited = true;
                continue;
            }
            if self.in_block && self.left > 0 {
                break;
            }
        }
        let hdr_len = size_of::<libc::tpacket3_hdr>();
        let off = self.next_off;
        if off.checked_add(hdr_len).is_none_or(|e| e > self.block_size) {
            tracing::warn!(iface = %self.iface, off, "bad packet offset in ring block; skipping block");
            self.stats.malformed += 1;
            self.release_block();
            return Ok(Next::Idle);
        }
        let block = self.block_ptr(self.block);
        // SAFETY: the block is ours until released, `off + hdr_len <= block_size` was checked,
        // and the read is unaligned-safe.
        let h = unsafe { block.add(off).cast::<libc::tpacket3_hdr>().read_unaligned() };
        let mac = off + usize::from(h.tp_mac);
        let caplen = h.tp_snaplen as usize;
        if mac.checked_add(caplen).is_none_or(|e| e > self.block_size) {
            tracing::warn!(iface = %self.iface, off, "bad packet length in ring block; skipping block");
            self.stats.malformed += 1;
            self.release_block();
            return Ok(Next::Idle);
        }
        self.left -= 1;
        self.next_off = if h.tp_next_offset == 0 {
            // Last packet of the block.
            self.left = 0;
            self.block_size
        } else {
            off + h.tp_next_offset as usize
        };
        self.stats.packets += 1;
        self.stats.bytes += u64::from(h.tp_len);
        if u64::from(h.tp_snaplen) < u64::from(h.tp_len) {
            self.stats.truncated += 1;
        }
        // SAFETY: `mac + caplen <= block_size` was checked; the block stays ours (not released)
        // until the next call to `next`, which needs `&mut self`, so the borrow is sound.
        let data = unsafe { std::slice::from_raw_parts(block.add(mac), caplen) };
        Ok(Next::Packet(Packet {
            ts_ns: u64::from(h.tp_sec) * 1_000_000_000 + u64::from(h.tp_nsec),
            linktype: self.linktype,
            data,
            wire_len: h.tp_len,
        }))
    }

    fn stats(&self) -> CaptureStats {
        self.poll_kernel_stats();
        CaptureStats {
            dropped: self.kernel_drops.get(),
            ..self.stats
        }
    }
}

impl Drop for AfPacketSource {
    fn drop(&mut self) {
        if self.closed {
            // Unmapped by `close_socket`.
            return;
        }
        // SAFETY: `ring`/`ring_len` are exactly the mapping made in `open`, and no borrow of it
        // can outlive `self`. The socket is closed afterwards when `fd` is dropped.
        let rc = unsafe { libc::munmap(self.ring.as_ptr().cast::<c_void>(), self.ring_len) };
        if rc != 0 {
            tracing::warn!(iface = %self.iface, err = %io::Error::last_os_error(), "munmap of the ring");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snaplen_zero_means_the_largest_and_is_capped() {
        assert_eq!(effective_snaplen(0), MAX_SNAPLEN);
        assert_eq!(effective_snaplen(96), 96);
        assert_eq!(effective_snaplen(u32::MAX), MAX_SNAPLEN);
    }

    #[test]
    fn snaplen_filter_returns_the_snap_length() {
        // One instruction, `ret #snaplen`: the kernel keeps that many bytes of each frame.
        let [insn] = snaplen_filter(128);
        assert_eq!((insn.code, insn.jt, insn.jf, insn.k), (0x06, 0, 0, 128));
    }

    #[test]
    fn promisc_request_names_the_interface() {
        let m = promisc_request(7);
        assert_eq!(m.mr_ifindex, 7);
        assert_eq!(c_int::from(m.mr_type), libc::PACKET_MR_PROMISC);
        assert_eq!(m.mr_alen, 0);
    }

    #[test]
    fn default_ring_keeps_the_configuration_defaults() {
        let d = RingConfig::default();
        let c = crate::config::Config::default();
        assert_eq!(d.snaplen, c.capture.snaplen);
        assert_eq!(d.promiscuous, c.capture.promiscuous);
    }
}
