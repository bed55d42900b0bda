//! Least privilege for live capture: once the capture sockets are open, the process needs no
//! privilege but (perhaps) `CAP_NET_RAW`, to reopen a socket when its interface comes back.
//!
//! [`drop_privileges`] is called by `tapir run` after every capture socket is open and before
//! any other thread is started or any file is opened (so capabilities, which are per thread,
//! and `no_new_privs` hold for every thread, and the files are created by the unprivileged
//! user). It:
//! - started as root: switches to the configured user (default `tapir`): `setgroups` to its
//!   primary group only, `setgid`, `setuid`, keeping the capability sets across the switch with
//!   `PR_SET_KEEPCAPS`; refuses to go on as root unless `allow_root`;
//! - narrows the bounding set (when it may) and the permitted and effective sets to
//!   `CAP_NET_RAW` (or nothing), clears the inheritable and ambient sets;
//! - sets `no_new_privs`, so no exec'd program can gain privileges again.
//!
//! This module uses `unsafe` for the libc calls; each says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};

/// `CAP_NET_RAW` (linux/capability.h).
pub const CAP_NET_RAW: u32 = 13;
const CAP_SETPCAP: u32 = 8;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The user a root start switches to when none is configured.
pub const DEFAULT_USER: &str = "tapir";

/// What to drop to.
#[derive(Clone, Debug, Default)]
pub struct DropPlan {
    /// The user to switch to (root start); None: [`DEFAULT_USER`] when root, else stay.
    pub user: Option<String>,
    /// Started as root: stay root rather than switching user.
    pub allow_root: bool,
    /// Keep `CAP_NET_RAW` in the permitted and effective sets.
    pub keep_net_raw: bool,
}

/// What the process runs as after [`drop_privileges`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub uid: u32,
    pub gid: u32,
    /// The user name switched to, if the user changed.
    pub switched_to: Option<String>,
    /// The effective capability set (bit n = capability n).
    pub effective: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error(
        "refusing to run as root: user {0:?} does not exist (create it, set run.user / --user \
         to an existing unprivileged user, or pass --allow-root)"
    )]
    NoSuchUser(String),
    #[error("user {user:?}: {reason}")]
    BadUser { user: String, reason: String },
    #[error("cannot switch to user {0:?}: not started as root")]
    NotRoot(String),
    #[error("{call} failed: {source}")]
    Sys {
        call: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn sys(call: &'static str) -> PrivilegeError {
    PrivilegeError::Sys {
        call,
        source: std::io::Error::last_os_error(),
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The calling thread's (effective, permitted) capability sets.
fn capget() -> Result<(u64, u64), PrivilegeError> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget(2) with a version 3 header reads the header and writes two `CapData`
    // structs, which `data` holds; both pointers are valid for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(sys("capget"));
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
    ))
}

/// Sets the calling thread's effective and permitted sets to `caps`, inheritable to none.
fn capset(caps: u64) -> Result<(), PrivilegeError> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let lo = (caps & 0xffff_ffff) as u32;
    let hi = (caps >> 32) as u32;
    let data = [
        CapData {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        CapData {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: capset(2) with a version 3 header reads the header and two `CapData` structs,
    // which `data` holds; both pointers are valid for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(sys("capset"));
    }
    Ok(())
}

fn prctl(call: &'static str, op: libc::c_int, arg: libc::c_ulong) -> Result<(), PrivilegeError> {
    // SAFETY: the prctl options used here (KEEPCAPS, NO_NEW_PRIVS, CAPBSET_DROP, CAP_AMBIENT)
    // take integer arguments only; no memory is passed.
    let rc = unsafe { libc::prctl(op, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    if rc != 0 {
        return Err(sys(call));
    }
    Ok(())
}

/// Looks `name` up in the user database: (uid, primary gid).
pub fn lookup_user(name: &str) -> Result<(u32, u32), PrivilegeError> {
    let bad = |reason: &str| PrivilegeError::BadUser {
        user: name.to_string(),
        reason: reason.to_string(),
    };
    let cname = CString::new(name).map_err(|_| bad("contains a NUL byte"))?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    loop {
        // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids); getpwnam_r fills it.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `cname` is NUL-terminated; `pw`, `buf` (of `buf.len()` bytes) and `out` are
        // valid for writes during the call; the strings it stores point into `buf`.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut out,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(PrivilegeError::Sys {
                call: "getpwnam_r",
                source: std::io::Error::from_raw_os_error(rc),
            });
        }
        if out.is_null() {
            return Err(PrivilegeError::NoSuchUser(name.to_string()));
        }
        return Ok((pw.pw_uid, pw.pw_gid));
    }
}

/// The name of user `uid`, if it has one.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: all-zero is a valid `passwd`; getpwuid_r fills it.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `pw`, `buf` (of `buf.len()` bytes) and `out` are valid for writes during the
    // call; the strings it stores point into `buf`, read below while `buf` lives.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points to a NUL-terminated string inside `buf`, still alive.
    let name = unsafe { CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`).
fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
        .min(63)
}

/// Drops what the process no longer needs once its capture sockets are open (module docs).
/// Call it while the process has a single thread.
pub fn drop_privileges(plan: &DropPlan) -> Result<Dropped, PrivilegeError> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    let keep: u64 = if plan.keep_net_raw {
        1 << CAP_NET_RAW
    } else {
        0
    };
    let (_, permitted) = capget()?;
    let mut switched_to = None;
    if euid == 0 && !plan.allow_root {
        let name = plan.user.as_deref().unwrap_or(DEFAULT_USER);
        let (uid, gid) = lookup_user(name)?;
        if uid == 0 {
            return Err(PrivilegeError::BadUser {
                user: name.to_string(),
                reason: "is root (uid 0); pass --allow-root to run as root".into(),
            });
        }
        // The bounding set first, while CAP_SETPCAP is still held.
        if permitted & (1 << CAP_SETPCAP) != 0 {
            for cap in 0..=cap_last_cap() {
                if keep & (1 << cap) == 0 {
                    // EINVAL: a capability this kernel does not know; nothing to drop.
                    let _ = prctl("PR_CAPBSET_DROP", libc::PR_CAPBSET_DROP, cap.into());
                }
            }
        }
        prctl("PR_SET_KEEPCAPS", libc::PR_SET_KEEPCAPS, 1)?;
        let groups = [gid as libc::gid_t];
        // SAFETY: `groups` holds exactly one gid, the count passed.
        if unsafe { libc::setgroups(1, groups.as_ptr()) } != 0 {
            return Err(sys("setgroups"));
        }
        // SAFETY: plain syscalls on integers. glibc applies them to every thread.
        if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
            return Err(sys("setresgid"));
        }
        // SAFETY: as above.
        if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
            return Err(sys("setresuid"));
        }
        prctl("PR_SET_KEEPCAPS", libc::PR_SET_KEEPCAPS, 0)?;
        switched_to = Some(name.to_string());
    } else if euid != 0 {
        if let Some(name) = plan.user.as_deref() {
            let (uid, _) = lookup_user(name)?;
            if uid != euid {
                return Err(PrivilegeError::NotRoot(name.to_string()));
            }
        }
    } else {
        tracing::warn!("running as root (--allow-root): the user is not switched");
    }
    // Ambient capabilities (systemd's AmbientCapabilities) would pass to exec'd programs.
    // EINVAL: a kernel before 4.3, which has no ambient set.
    let _ = prctl(
        "PR_CAP_AMBIENT",
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    );
    capset(permitted & keep)?;
    prctl("PR_SET_NO_NEW_PRIVS", libc::PR_SET_NO_NEW_PRIVS, 1)?;
    let (effective, _) = capget()?;
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    tracing::info!(
        uid,
        gid,
        user = user_name(uid).as_deref().unwrap_or("?"),
        effective_caps = format_args!("{effective:#x}"),
        "privileges dropped"
    );
    Ok(Dropped {
        uid,
        gid,
        switched_to,
        effective,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_uid_zero_and_unknown_users_are_refused() {
        assert_eq!(lookup_user("root").ok().map(|(u, _)| u), Some(0));
        assert!(matches!(
            lookup_user("no-such-user-tapir-test"),
            Err(PrivilegeError::NoSuchUser(_))
        ));
        assert!(matches!(
            lookup_user("a\0b"),
            Err(PrivilegeError::BadUser { .. })
        ));
    }

    #[test]
    fn capget_reads_this_thread() {
        let (eff, perm) = capget().unwrap_or((u64::MAX, 0));
        // Effective is always a subset of permitted.
        assert_eq!(eff & !perm, 0);
    }
}
