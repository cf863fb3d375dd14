//! Counters and latency histograms shared by many tasks. Each shard is a plain
//! mutex held for a few nanoseconds; a hot path picks a shard by task number so
//! the cores do not queue on one lock.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use crate::hist::{Latency, LatencySummary};

/// What one step (or one run) measured: latencies by name, counts by name.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub latencies: BTreeMap<&'static str, Latency>,
    pub counts: BTreeMap<String, u64>,
}

impl Stats {
    pub fn record(&mut self, name: &'static str, latency: Duration) {
        self.latencies.entry(name).or_default().record(latency);
    }

    pub fn add(&mut self, name: &str, n: u64) {
        if let Some(c) = self.counts.get_mut(name) {
            *c += n;
        } else {
            self.counts.insert(name.to_owned(), n);
        }
    }

    pub fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    pub fn latency(&self, name: &str) -> Option<&Latency> {
        self.latencies.get(name)
    }

    pub fn merge(&mut self, other: &Self) {
        for (name, h) in &other.latencies {
            self.latencies.entry(name).or_default().merge(h);
        }
        for (name, n) in &other.counts {
            self.add(name, *n);
        }
    }

    pub fn summaries(&self) -> BTreeMap<String, LatencySummary> {
        self.latencies
            .iter()
            .map(|(name, h)| ((*name).to_owned(), h.summary()))
            .collect()
    }
}

/// [`Stats`] behind `SHARDS` mutexes.
#[derive(Debug)]
pub struct Shared {
    shards: Vec<Mutex<Stats>>,
}

const SHARDS: usize = 16;

impl Default for Shared {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Stats::default())).collect(),
        }
    }
}

impl Shared {
    /// Runs `f` on the shard for `key` (any number that differs between tasks).
    pub fn with<R>(&self, key: usize, f: impl FnOnce(&mut Stats) -> R) -> R {
        let shard = &self.shards[key % self.shards.len()];
        let mut stats = shard.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut stats)
    }

    /// Everything recorded so far, merged; the shards are left empty.
    pub fn take(&self) -> Stats {
        let mut all = Stats::default();
        for shard in &self.shards {
            let mut stats = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.merge(&std::mem::take(&mut *stats));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_merge_into_one_view() {
        let shared = Shared::default();
        for key in 0..100 {
            shared.with(key, |s| {
                s.record("rtt", Duration::from_millis(2));
                s.add("ok", 1);
            });
        }
        let all = shared.take();
        assert_eq!(all.count("ok"), 100);
        assert_eq!(all.latency("rtt").map(Latency::count), Some(100));
        assert_eq!(shared.take().count("ok"), 0, "take leaves the shards empty");
    }
}
