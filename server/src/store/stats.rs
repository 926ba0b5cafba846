//! Write counters for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of the store's write counters, for `/metrics`.
///
/// Counters only grow (except `pending_writes`), so they map directly onto
/// Prometheus counters; `writes_committed / transactions` is the average
/// batch size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Write requests (`save`, `delete`, `delete_unused_since`,
    /// `append_journal`) whose transaction committed.
    pub writes_committed: u64,
    /// Of those, `append_journal` requests (the rest are document
    /// snapshots and deletions).
    pub journal_writes: u64,
    /// Write requests answered with an error: their own failure, or the
    /// failure of the transaction they were batched into.
    pub write_errors: u64,
    /// Write transactions committed; fewer than `writes_committed` when
    /// requests were batched.
    pub transactions: u64,
    /// Sum over committed writes of the time from the request being queued
    /// to its commit, in nanoseconds: what callers wait, queueing included.
    pub write_latency_total_ns: u64,
    /// The longest such time seen, in nanoseconds.
    pub write_latency_max_ns: u64,
    /// Write requests queued but not yet answered: how far persistence lags.
    pub pending_writes: u64,
}

impl StoreStats {
    /// [`write_latency_total_ns`](Self::write_latency_total_ns) in seconds,
    /// the unit Prometheus expects.
    pub fn write_latency_total_seconds(&self) -> f64 {
        nanos_to_seconds(self.write_latency_total_ns)
    }

    /// [`write_latency_max_ns`](Self::write_latency_max_ns) in seconds.
    pub fn write_latency_max_seconds(&self) -> f64 {
        nanos_to_seconds(self.write_latency_max_ns)
    }
}

/// Nanoseconds as (approximate) seconds; the precision lost above 2^53 ns
/// (104 days of summed latency) is irrelevant for a metric.
fn nanos_to_seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The live counters behind [`StoreStats`]; atomics so that the writer
/// thread updates them while any task reads them, without a lock.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Write requests handed to the writer thread.
    enqueued: AtomicU64,
    /// See [`StoreStats::writes_committed`].
    committed: AtomicU64,
    /// See [`StoreStats::journal_writes`].
    journal: AtomicU64,
    /// See [`StoreStats::write_errors`].
    errors: AtomicU64,
    /// See [`StoreStats::transactions`].
    transactions: AtomicU64,
    /// See [`StoreStats::write_latency_total_ns`].
    latency_total_ns: AtomicU64,
    /// See [`StoreStats::write_latency_max_ns`].
    latency_max_ns: AtomicU64,
}

impl Counters {
    /// A write request reached the writer's queue.
    pub fn record_enqueued(&self) {
        self.enqueued.fetch_add(1, Ordering::Relaxed);
    }

    /// A write request committed `latency` after it was queued.
    pub fn record_commit(&self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_total_ns.fetch_add(ns, Ordering::Relaxed);
        self.latency_max_ns.fetch_max(ns, Ordering::Relaxed);
        self.committed.fetch_add(1, Ordering::Relaxed);
    }

    /// The committed write was a journal append.
    pub fn record_journal(&self) {
        self.journal.fetch_add(1, Ordering::Relaxed);
    }

    /// A write request was answered with an error.
    pub fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A write transaction committed.
    pub fn record_transaction(&self) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values. Not one atomic snapshot: a concurrent commit may
    /// show in one counter and not yet in another, which metrics tolerate.
    pub fn snapshot(&self) -> StoreStats {
        let committed = self.committed.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        let enqueued = self.enqueued.load(Ordering::Relaxed);
        StoreStats {
            writes_committed: committed,
            journal_writes: self.journal.load(Ordering::Relaxed),
            write_errors: errors,
            transactions: self.transactions.load(Ordering::Relaxed),
            write_latency_total_ns: self.latency_total_ns.load(Ordering::Relaxed),
            write_latency_max_ns: self.latency_max_ns.load(Ordering::Relaxed),
            pending_writes: enqueued.saturating_sub(committed.saturating_add(errors)),
        }
    }
}
