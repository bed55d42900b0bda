//! systemd's service notification (`sd_notify`, without libsystemd): `READY=1` once the
//! capture runs, `RELOADING=1`/`READY=1` around a SIGHUP reload, `STOPPING=1` at the stop, and
//! `WATCHDOG=1` from the output stage at least every half of `WatchdogSec` (the unit's
//! `Type=notify`, `WatchdogSec=`). A datagram to `$NOTIFY_SOCKET` (a path, or `@name` in the
//! abstract namespace); nothing happens where it is not set.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// The notification socket of this process, if systemd gave one.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: String,
    /// Half the watchdog timeout (`$WATCHDOG_USEC`), when the watchdog is on.
    watchdog_every: Option<Duration>,
    last_ping: Option<Instant>,
}

impl Notifier {
    /// From the environment: None outside systemd (or where the socket cannot be made).
    pub fn from_env() -> Option<Notifier> {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty())?;
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&us| us > 0)
            .map(|us| Duration::from_micros(us / 2));
        let socket = UnixDatagram::unbound().ok()?;
        Some(Notifier {
            socket,
            target,
            watchdog_every,
            last_ping: None,
        })
    }

    /// Sends `state` (e.g. "READY=1"); errors are logged, never fatal.
    pub fn notify(&self, state: &str) {
        if let Err(e) = self.send(state.as_bytes()) {
            tracing::debug!("sd_notify {state}: {e}");
        }
    }

    fn send(&self, msg: &[u8]) -> std::io::Result<usize> {
        match self.target.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                self.socket.send_to_addr(msg, &addr)
            }
            None => self.socket.send_to(msg, &self.target),
        }
    }

    /// `WATCHDOG=1` when half the watchdog timeout has passed since the last one.
    pub fn watchdog(&mut self, now: Instant) {
        let Some(every) = self.watchdog_every else {
            return;
        };
        if self
            .last_ping
            .is_none_or(|t| now.saturating_duration_since(t) >= every)
        {
            self.notify("WATCHDOG=1");
            self.last_ping = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket_and_paces_the_watchdog() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("{e}"));
        rx.set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut n = Notifier {
            socket: UnixDatagram::unbound().unwrap_or_else(|e| panic!("{e}")),
            target: path.display().to_string(),
            watchdog_every: Some(Duration::from_secs(10)),
            last_ping: None,
        };
        n.notify("READY=1");
        let t0 = Instant::now();
        n.watchdog(t0);
        n.watchdog(t0 + Duration::from_secs(1));
        n.watchdog(t0 + Duration::from_secs(11));
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        for _ in 0..3 {
            let len = rx.recv(&mut buf).unwrap_or_else(|e| panic!("{e}"));
            got.push(String::from_utf8_lossy(buf.get(..len).unwrap_or_default()).into_owned());
        }
        assert_eq!(got, ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]);
    }

    #[test]
    fn abstract_socket_names_work() {
        let name = format!("tapir-notify-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let rx = UnixDatagram::bind_addr(&addr).unwrap_or_else(|e| panic!("{e}"));
        let n = Notifier {
            socket: UnixDatagram::unbound().unwrap_or_else(|e| panic!("{e}")),
            target: format!("@{name}"),
            watchdog_every: None,
            last_ping: None,
        };
        n.notify("STOPPING=1");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(buf.get(..len), Some(&b"STOPPING=1"[..]));
    }
}
