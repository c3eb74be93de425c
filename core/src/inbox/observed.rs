//! [`Observed`]: the inbox handle [`super::open`] returns — any backend, plus
//! its log events (target `wa360::inbox`) and the counts of what its
//! consumers did ([`InboxMetrics`]: handled, retried, dead-lettered), which a
//! [`crate::webhook::Receiver`] using the same handle adds to its
//! `metrics()`. Written as a wrapper so that both backends (SQLite, Redis)
//! log and count in one place.
//!
//! The claim / ack / retry / dead-letter lines with the attempt number come
//! from [`super::Consumer`], which knows the attempt of what it holds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Accepted, DeadLetter, Delivery, Inbox, InboxOptions, InboxStats, Nacked};
use crate::Result;
use crate::metrics::InboxMetrics;
use crate::webhook::Event;

/// An inbox that logs its operations and counts what its consumers did.
pub struct Observed {
    inner: Arc<dyn Inbox>,
    metrics: InboxMetrics,
}

impl Observed {
    /// Wrap `inner` (an inbox built by hand, e.g. [`super::SqliteInbox::open`]; [`super::open`]
    /// already returns an `Observed`).
    pub fn new(inner: Arc<dyn Inbox>) -> Observed {
        Observed {
            inner,
            metrics: InboxMetrics::default(),
        }
    }
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Transparent: the backend's own Debug (already free of credentials).
        self.inner.fmt(f)
    }
}

impl Inbox for Observed {
    fn accept(&self, body: &[u8], events: &[Event]) -> Result<Accepted> {
        let r = self.inner.accept(body, events);
        match &r {
            Ok(a) => tracing::debug!(
                target: "wa360::inbox",
                new = a.events.len(),
                duplicates = a.duplicates,
                stale = a.stale,
                "inbox accepted"
            ),
            // The receiver answers 503 and warns; this is the detail.
            Err(e) => tracing::debug!(
                target: "wa360::inbox",
                events = events.len(),
                code = e.code().as_str(),
                error = %e,
                "inbox accept failed"
            ),
        }
        r
    }

    fn claim(&self, consumer: &str, max: usize) -> Result<Vec<Delivery>> {
        self.inner.claim(consumer, max)
    }

    fn wait(&self, timeout: Duration) {
        self.inner.wait(timeout)
    }

    fn extend(&self, consumer: &str, ids: &[String]) -> Result<usize> {
        let r = self.inner.extend(consumer, ids);
        if let Ok(n) = &r {
            tracing::trace!(target: "wa360::inbox", consumer, leases = *n, "inbox leases renewed");
        }
        r
    }

    fn ack(&self, consumer: &str, id: &str) -> Result<bool> {
        let r = self.inner.ack(consumer, id);
        if let Ok(true) = r {
            self.metrics.handled();
        }
        r
    }

    fn nack(&self, consumer: &str, id: &str, error: &str) -> Result<Nacked> {
        let r = self.inner.nack(consumer, id, error);
        match r {
            Ok(Nacked::Retry(_)) => self.metrics.retried(),
            Ok(Nacked::Dead) => self.metrics.dead_lettered(),
            _ => {}
        }
        r
    }

    fn handed_out(&self, consumer: &str) -> Result<Vec<String>> {
        self.inner.handed_out(consumer)
    }

    fn release(&self, consumer: &str, id: &str) -> Result<bool> {
        let r = self.inner.release(consumer, id);
        if let Ok(released) = r {
            tracing::debug!(target: "wa360::inbox", consumer, id, released, "inbox event released");
        }
        r
    }

    fn release_unhanded(&self, consumer: &str) -> Result<usize> {
        self.inner.release_unhanded(consumer)
    }

    fn stats(&self) -> Result<InboxStats> {
        self.inner.stats()
    }

    fn backlog(&self) -> Result<(u64, u64)> {
        self.inner.backlog()
    }

    fn dead(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        self.inner.dead(limit)
    }

    fn replay(&self, id: Option<&str>) -> Result<usize> {
        let r = self.inner.replay(id);
        if let Ok(n) = r {
            tracing::info!(target: "wa360::inbox", id, count = n, "inbox dead letters replayed");
        }
        r
    }

    fn drop_dead(&self, id: Option<&str>) -> Result<usize> {
        let r = self.inner.drop_dead(id);
        if let Ok(n) = r {
            tracing::info!(target: "wa360::inbox", id, count = n, "inbox dead letters dropped");
        }
        r
    }

    fn prune(&self) -> Result<usize> {
        let r = self.inner.prune();
        if let Ok(n) = r {
            tracing::debug!(target: "wa360::inbox", rows = n, "inbox pruned");
        }
        r
    }

    fn options(&self) -> &InboxOptions {
        self.inner.options()
    }

    fn metrics(&self) -> Option<&InboxMetrics> {
        Some(&self.metrics)
    }
}
