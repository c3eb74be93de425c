//! Helpers both inbox backends (SQLite, Redis) and the consumer use: the wake-up signal of
//! waiting consumers, clock and duration conversions in milliseconds, and a lock that
//! survives a poisoned mutex.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a waiting consumer looks for events stored by other processes.
pub(super) const POLL: Duration = Duration::from_millis(200);

// The lock and the millisecond clock are the crate's (`crate::util`).
pub(super) use crate::util::{lock, ms, now_ms};

/// Wakes the consumers of this process waiting in `Inbox::wait` when it stores events
/// (other processes' events are found by polling every [`POLL`]).
pub(super) struct Signal {
    stored: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    pub(super) fn new() -> Signal {
        Signal {
            stored: Mutex::new(0),
            cv: Condvar::new(),
        }
    }

    /// Something was stored: wake every waiting consumer.
    pub(super) fn notify(&self) {
        *lock(&self.stored) += 1;
        self.cv.notify_all();
    }

    /// Wait until [`Signal::notify`], `timeout` or [`POLL`], whichever comes first.
    pub(super) fn wait(&self, timeout: Duration) {
        let guard = lock(&self.stored);
        let seen = *guard;
        let _ = self
            .cv
            .wait_timeout_while(guard, timeout.min(POLL), |n| *n == seen)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

/// How often a store prunes on its own (SQLite in `accept`, Redis in `claim`).
const AUTO_PRUNE_EVERY: Duration = Duration::from_secs(600);

/// When a store last pruned on its own.
pub(super) struct PruneClock(Mutex<Instant>);

impl PruneClock {
    pub(super) fn new() -> Self {
        PruneClock(Mutex::new(Instant::now()))
    }

    /// True once every [`AUTO_PRUNE_EVERY`] (the caller then prunes, best effort:
    /// a failed prune is retried at the next interval).
    pub(super) fn due(&self) -> bool {
        let mut last = lock(&self.0);
        let due = last.elapsed() >= AUTO_PRUNE_EVERY;
        if due {
            *last = Instant::now();
        }
        due
    }
}
