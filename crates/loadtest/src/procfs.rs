//! Reading /proc: a server's resident memory, the load average, the file limit.

use anyhow::Context;

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status_field_kib(&status, "VmRSS").with_context(|| format!("no VmRSS for pid {pid}"))
}

/// A `Name:   1234 kB` field of /proc/<pid>/status.
pub fn status_field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The one-minute load average.
pub fn loadavg() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// This process's soft limit on open files.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits_open_files(&text)
}

fn limits_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse() {
        let status = "Name:\tchat\nVmPeak:\t  900000 kB\nVmRSS:\t   21948 kB\nThreads:\t4\n";
        assert_eq!(status_field_kib(status, "VmRSS"), Some(21_948));
        assert_eq!(status_field_kib(status, "VmHWM"), None);
    }

    #[test]
    fn the_open_files_limit_parses() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                20000                files     \n";
        assert_eq!(limits_open_files(limits), Some(20_000));
    }
}
