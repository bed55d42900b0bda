//! The state of a live capture's interface: whether it is up, read from sysfs, and what every
//! capture source on it saw (one [`LinkHealth`] shared by all the workers' sources on one
//! interface, read by the status records).
//!
//! A source that meets an error on its socket (`ENETDOWN` when the interface is set down or
//! removed), or that has been idle for a second while the interface has no carrier, marks
//! itself down. The first source to go down logs it; the last one to come back logs the
//! recovery. Status records show the state and the counts (`sensor_status.interface`) and
//! name each change in `errors[]` / `messages[]`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// `IFF_UP` from `<net/if.h>`.
const IFF_UP: u32 = 0x1;

/// What sysfs says of an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfState {
    /// Administratively up with a carrier (or a device without carrier reporting); its index.
    Up { ifindex: u32 },
    /// Present but down: the reason ("administratively down", "no carrier", ...).
    Down(&'static str),
    /// No interface of that name.
    Gone,
}

/// How long a live source goes without packets before it checks that its interface is still
/// up (a lost carrier raises no socket error).
pub const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a source bound to interface index `ifindex` has lost `iface` (down, gone, or replaced
/// by one with another index); None while it is up under that index.
pub fn lost(iface: &str, ifindex: Option<u32>) -> Option<&'static str> {
    match probe(iface) {
        IfState::Up { ifindex: now } if Some(now) == ifindex => None,
        IfState::Up { .. } => Some("interface replaced"),
        IfState::Down(why) => Some(why),
        IfState::Gone => Some("interface gone"),
    }
}

/// Reads the state of `iface` from `/sys/class/net/<iface>/{ifindex,flags,operstate}`.
pub fn probe(iface: &str) -> IfState {
    let dir = format!("/sys/class/net/{iface}");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
    let Some(ifindex) = read("ifindex").and_then(|s| s.trim().parse::<u32>().ok()) else {
        return IfState::Gone;
    };
    let flags = read("flags")
        .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or(IFF_UP);
    let oper = read("operstate").unwrap_or_default();
    classify(ifindex, flags, oper.trim())
}

/// The state from the raw sysfs values (`flags` as `IFF_*` bits, `operstate` as RFC 2863 text).
fn classify(ifindex: u32, flags: u32, operstate: &str) -> IfState {
    if flags & IFF_UP == 0 {
        return IfState::Down("administratively down");
    }
    match operstate {
        "down" => IfState::Down("no carrier"),
        "lowerlayerdown" => IfState::Down("lower layer down"),
        "notpresent" => IfState::Down("not present"),
        // "up", "unknown" (loopback, tun and drivers without carrier reporting), "dormant",
        // "testing": packets may flow.
        _ => IfState::Up { ifindex },
    }
}

/// What the status records show of the interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStatus {
    pub interface: String,
    /// Some capture source is waiting for the interface to come back.
    pub down: bool,
    /// Times the interface went down (as seen by the first source to notice).
    pub down_events: u64,
    /// Times every source was capturing again after it was down.
    pub recoveries: u64,
    /// Sockets opened again because the interface came back under a new index.
    pub reopened: u64,
    /// Why it went down the last time.
    pub last_reason: Option<String>,
}

/// The interface's state shared by every capture source on it.
#[derive(Debug)]
pub struct LinkHealth {
    iface: String,
    /// Sources that are down now.
    down_sources: AtomicUsize,
    down_events: AtomicU64,
    recoveries: AtomicU64,
    reopened: AtomicU64,
    /// Why it went down the last time (one value, replaced).
    last_reason: Mutex<Option<String>>,
}

impl LinkHealth {
    pub fn new(iface: &str) -> LinkHealth {
        LinkHealth {
            iface: iface.to_string(),
            down_sources: AtomicUsize::new(0),
            down_events: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
            reopened: AtomicU64::new(0),
            last_reason: Mutex::new(None),
        }
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// A source lost the interface. The first one to do so logs it.
    pub fn source_down(&self, reason: &str) {
        if self.down_sources.fetch_add(1, Ordering::AcqRel) == 0 {
            self.down_events.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut r) = self.last_reason.lock() {
                *r = Some(reason.to_string());
            }
            tracing::warn!(
                iface = %self.iface,
                reason,
                "capture interface down: waiting for it to come back"
            );
        }
    }

    /// A source captures again. The last one to do so logs the recovery.
    pub fn source_up(&self) {
        let before = self
            .down_sources
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if before == Ok(1) {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
            // At the level of the warning it ends, so that a log showing one shows the other.
            tracing::warn!(iface = %self.iface, "capture interface up again: capture resumed");
        }
    }

    /// A source opened its socket again (the interface came back with a new index).
    pub fn source_reopened(&self) {
        self.reopened.fetch_add(1, Ordering::Relaxed);
    }

    pub fn is_down(&self) -> bool {
        self.down_sources.load(Ordering::Acquire) > 0
    }

    pub fn status(&self) -> LinkStatus {
        LinkStatus {
            interface: self.iface.clone(),
            down: self.is_down(),
            down_events: self.down_events.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
            reopened: self.reopened.load(Ordering::Relaxed),
            last_reason: self.last_reason.lock().ok().and_then(|r| r.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_values_give_the_state() {
        assert_eq!(classify(3, 0x1003, "up"), IfState::Up { ifindex: 3 });
        assert_eq!(classify(1, 0x9, "unknown"), IfState::Up { ifindex: 1 });
        assert_eq!(
            classify(3, 0x1002, "down"),
            IfState::Down("administratively down")
        );
        assert_eq!(classify(3, 0x1003, "down"), IfState::Down("no carrier"));
        assert_eq!(
            classify(3, 0x1003, "lowerlayerdown"),
            IfState::Down("lower layer down")
        );
        assert_eq!(probe("tapir-no-such-if"), IfState::Gone);
    }

    #[test]
    fn down_and_up_are_counted_once_for_all_sources() {
        let h = LinkHealth::new("eth9");
        assert!(!h.is_down());
        h.source_down("ENETDOWN");
        h.source_down("ENETDOWN");
        assert!(h.is_down());
        h.source_up();
        assert!(h.is_down(), "one source still down");
        h.source_up();
        assert!(!h.is_down());
        // An extra `up` (a source that was not down) does not underflow.
        h.source_up();
        let s = h.status();
        assert_eq!((s.down_events, s.recoveries), (1, 1));
        assert_eq!(s.last_reason.as_deref(), Some("ENETDOWN"));
        assert!(!s.down);
    }
}
