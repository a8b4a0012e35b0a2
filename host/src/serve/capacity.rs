//! How much memory the server may use: the machine's, or its cgroup's
//! limit when it runs in a container.

/// The memory this process may use, in bytes, if it can be told: the
/// smaller of the machine's memory and the cgroup's limit.
pub(super) fn memory_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    match (total, limit) {
        (Some(total), Some(limit)) => Some(total.min(limit)),
        (total, limit) => total.or(limit),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::mem_total;

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       24567844 kB\nMemFree:        1000 kB\n";
        assert_eq!(mem_total(text), Some(24_567_844 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_machine_s_memory_is_known() {
        let bytes = super::memory_bytes().expect("Linux tells its memory");
        assert!(bytes > 64 << 20, "{bytes}");
    }
}
