//! CPU time of the processes a scenario watches (the services, Redis, the
//! database's PostgreSQL backends, the load tool itself), read from /proc
//! around each step: what a throughput target is made of, and steady on a
//! shared machine where throughput is not.

use crate::procfs;

/// A step count named `cpu_ms:<name>` holds the CPU milliseconds the watched
/// process `<name>` used during the step.
pub const STEP_PREFIX: &str = "cpu_ms:";

#[derive(Debug, Clone, Default)]
pub struct CpuWatch {
    /// (name, pid); several pids under one name are summed (a cluster's nodes).
    pub pids: Vec<(String, u32)>,
    /// Also the PostgreSQL backends serving this database.
    pub postgres_db: Option<String>,
}

impl CpuWatch {
    /// (name, CPU µs so far) per watched name, in the order first named;
    /// PostgreSQL backends summed (the ones that exist now: the pools keep
    /// their connections open).
    pub fn sample(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for (name, pid) in &self.pids {
            let us = procfs::cpu_micros(*pid).unwrap_or(0);
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, total)) => *total += us,
                None => out.push((name.clone(), us)),
            }
        }
        if let Some(db) = &self.postgres_db {
            let total = procfs::postgres_backends(db)
                .into_iter()
                .filter_map(procfs::cpu_micros)
                .sum();
            out.push(("postgres".to_owned(), total));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.postgres_db.is_none()
    }
}

/// CPU µs used per name between two samples of the same watch.
pub fn used(before: &[(String, u64)], after: &[(String, u64)]) -> Vec<(String, u64)> {
    before
        .iter()
        .zip(after)
        .map(|((name, b), (_, a))| (name.clone(), a.saturating_sub(*b)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_under_one_name_are_summed_and_differences_taken() {
        let me = std::process::id();
        let watch = CpuWatch {
            pids: vec![("a".into(), me), ("b".into(), me), ("a".into(), me)],
            postgres_db: None,
        };
        let names: Vec<String> = watch.sample().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["a", "b"]);
        let before = vec![("a".to_owned(), 100), ("b".to_owned(), 50)];
        let after = vec![("a".to_owned(), 350), ("b".to_owned(), 40)];
        assert_eq!(
            used(&before, &after),
            vec![("a".to_owned(), 250), ("b".to_owned(), 0)]
        );
    }
}
