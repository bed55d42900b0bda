//! Readings of the machine the sensor runs on: its own memory use and the free disk space.

use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUsage {
    pub rss_bytes: u64,
    /// The highest resident set size since the process started (VmHWM).
    pub peak_rss_bytes: u64,
}

/// This process's resident memory, from `/proc/self/status` (None where there is none).
pub fn memory_usage() -> Option<MemoryUsage> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_proc_status(&text)
}

fn parse_proc_status(text: &str) -> Option<MemoryUsage> {
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let n = line[key.len()..].trim().trim_end_matches("kB").trim();
        n.parse::<u64>().ok().map(|k| k.saturating_mul(1024))
    };
    Some(MemoryUsage {
        rss_bytes: kib("VmRSS:")?,
        peak_rss_bytes: kib("VmHWM:")?,
    })
}

/// (free, used) bytes of the file system holding `path`.
pub fn disk_usage(path: &Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    let unit = st.f_frsize.max(1);
    let free = st.f_bavail.saturating_mul(unit);
    let used = st.f_blocks.saturating_sub(st.f_bfree).saturating_mul(unit);
    Some((free, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_proc_status() {
        let t = "Name:\ttapir\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        let m = parse_proc_status(t).unwrap();
        assert_eq!(m.rss_bytes, 1024 * 1024);
        assert_eq!(m.peak_rss_bytes, 2048 * 1024);
        assert_eq!(parse_proc_status("VmRSS: x kB\nVmHWM: 1 kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_and_this_disk() {
        let m = memory_usage().unwrap();
        assert!(m.rss_bytes > 0 && m.peak_rss_bytes >= m.rss_bytes);
        let (free, used) = disk_usage(Path::new(".")).unwrap();
        assert!(free > 0 || used > 0);
    }
}
