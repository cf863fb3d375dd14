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

/// CPU time (user + system) a process has used, in microseconds.
pub fn cpu_micros(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_cpu_ticks(&stat).map(|ticks| ticks * 1_000_000 / clock_ticks_per_sec())
}

/// utime + stime of a /proc/<pid>/stat line (fields 14 and 15; the name in
/// parentheses may hold spaces, so fields are counted after its `)`).
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Linux reports CPU times in USER_HZ, 100 on every mainstream architecture.
fn clock_ticks_per_sec() -> u64 {
    100
}

/// The pids of PostgreSQL backends serving `database` (their title names it).
pub fn postgres_backends(database: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = format!(" {database} ");
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let title = String::from_utf8_lossy(&c).replace('\0', " ");
                title.starts_with("postgres: ") && title.contains(&needle)
            })
        })
        .collect()
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
    fn cpu_ticks_are_counted_after_the_process_name() {
        let stat = "4242 (tokio rt) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100";
        assert_eq!(stat_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn the_open_files_limit_parses() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                20000                files     \n";
        assert_eq!(limits_open_files(limits), Some(20_000));
    }
}
