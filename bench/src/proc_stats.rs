//! CPU time and memory of a process, from `/proc` (Linux only), and the
//! machine's load average.
//!
//! CPU seconds are `utime + stime` of `/proc/PID/stat` (all threads),
//! in clock ticks (usually 10 ms). Memory is `VmRSS` (now) and `VmHWM`
//! (the peak since the process started) of `/proc/PID/status`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time so far, seconds.
    pub cpu_seconds: f64,
    /// Resident memory now, KiB.
    pub rss_kib: u64,
    /// Peak resident memory since the process started, KiB.
    pub hwm_kib: u64,
    /// Number of threads.
    pub threads: u64,
}

/// Which process: a pid, or this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// Another process.
    Other(u32),
    /// The load generator itself.
    Own,
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::Other(pid) => format!("/proc/{pid}"),
            Pid::Own => "/proc/self".to_owned(),
        }
    }
}

/// Reads CPU time and memory of `pid`.
pub fn sample(pid: Pid) -> Result<ProcSample, String> {
    let dir = pid.dir();
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .map_err(|e| format!("cannot read {dir}/stat: {e}"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .map_err(|e| format!("cannot read {dir}/status: {e}"))?;
    let ticks = cpu_ticks(&stat).ok_or_else(|| format!("cannot parse {dir}/stat"))?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(ProcSample {
        cpu_seconds: ticks as f64 / hz as f64,
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
        hwm_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
        threads: status_kib(&status, "Threads:").unwrap_or(0),
    })
}

/// `utime + stime` from the text of `/proc/PID/stat`. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted
/// from the last `)`: utime and stime are fields 14 and 15.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so field n is fields[n - 3].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The number after `key` in `/proc/PID/status` (`VmRSS:  1234 kB`).
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = [0.0; 3];
    for (slot, v) in out.iter_mut().zip(text.split_whitespace()) {
        *slot = v.parse().unwrap_or(0.0);
    }
    out
}

/// Samples a process's RSS every 100 ms in the background and keeps the
/// highest value seen (the peak *during* a run, which `VmHWM` cannot give
/// for a server that was running before).
pub struct RssWatcher {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RssWatcher {
    /// Starts watching `pid`.
    pub fn start(pid: u32) -> RssWatcher {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let task = tokio::spawn(async move {
            // Bounded: at most one hour of samples, and it stops when told.
            for _ in 0..36_000 {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(x) = sample(Pid::Other(pid)) {
                    p.fetch_max(x.rss_kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        RssWatcher { peak, stop, task }
    }

    /// Stops and returns the peak RSS seen, KiB.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.task).await;
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "1234 (tan dem) (x)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_status() {
        let status = "Name:\ttandem\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t3\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(status_kib(status, "Threads:"), Some(3));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_its_own_process() {
        let s = sample(Pid::Own).expect("own /proc");
        assert!(s.rss_kib > 0);
        assert!(s.hwm_kib >= s.rss_kib);
        assert!(s.threads >= 1);
    }
}
