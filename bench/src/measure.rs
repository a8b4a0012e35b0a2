//! Timing, memory and machine facts.

use std::time::{Duration, Instant};

/// The median of some samples (the lower middle one for an even count).
pub fn median(mut samples: Vec<f64>) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    samples[(samples.len() - 1) / 2]
}

/// Runs `sample` `runs` times and gives the median of what it returns.
pub fn median_of(
    runs: usize,
    mut sample: impl FnMut() -> anyhow::Result<f64>,
) -> anyhow::Result<f64> {
    let samples = (0..runs.max(1))
        .map(|_| sample())
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(samples))
}

/// Seconds as a float, for arithmetic on durations.
pub fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Time since `start`, in seconds.
pub fn since(start: Instant) -> f64 {
    secs(start.elapsed())
}

/// This process's resident memory, in bytes, from `/proc/self/status`.
pub fn rss_bytes() -> anyhow::Result<u64> {
    proc_kib("/proc/self/status", "VmRSS:").map(|kib| kib * 1024)
}

/// This process's proportional set size, in bytes, from
/// `/proc/self/smaps_rollup`: a page shared by several mappings counts once.
pub fn pss_bytes() -> anyhow::Result<u64> {
    proc_kib("/proc/self/smaps_rollup", "Pss:").map(|kib| kib * 1024)
}

/// The `KEY: N kB` line of a `/proc` file, in KiB.
fn proc_kib(file: &str, key: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(file)?;
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or_else(|| anyhow::anyhow!("no {key} line in {file}"))
}

/// The machine: logical cores and CPU model.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.1} GiB RAM", kib as f64 / 1048576.0)
        });
    format!("{cores} logical cores, {model}{memory}")
}

/// Resident bytes of this process by kind of mapping, from `/proc/self/smaps`:
/// (anonymous, file-backed), to tell heap and linear memory from mapped code.
pub fn rss_by_kind() -> anyhow::Result<(u64, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let (mut anonymous, mut file) = (0, 0);
    let mut file_backed = false;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: address range, perms, offset, device, inode, path.
            let inode = fields.nth(3).unwrap_or("0");
            file_backed = inode != "0";
        } else if first == "Rss:" {
            let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            if file_backed {
                file += kib * 1024;
            } else {
                anonymous += kib * 1024;
            }
        }
    }
    Ok((anonymous, file))
}
