//! Helpers both inbox backends (SQLite, Redis) and the consumer use: the wake-up signal of
//! waiting consumers, clock and duration conversions in milliseconds, and a lock that
//! survives a poisoned mutex.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::Result;
use crate::webhook::parse::MAX_DEPTH_CEILING;
use crate::webhook::{Event, ParseOptions, parse_with};

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

/// When a store last pruned on its own (`None`: not yet in this process).
pub(super) struct PruneClock(Mutex<Option<Instant>>);

impl PruneClock {
    /// Due at once: a worker recycled in less than the interval (gunicorn
    /// `--max-requests`, an autoscaled pod) still prunes the shared store once.
    pub(super) fn new() -> Self {
        PruneClock(Mutex::new(None))
    }

    /// True at the first call and then once every [`AUTO_PRUNE_EVERY`] (the caller then
    /// prunes, best effort: a failed prune is retried at the next interval).
    pub(super) fn due(&self) -> bool {
        let mut last = lock(&self.0);
        let due = last.is_none_or(|t| t.elapsed() >= AUTO_PRUNE_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

/// The events of a stored body, parsed again (the parser is lossless and deterministic).
/// The body passed the receiver's own limits when it was stored, and a receiver may allow
/// deeper nesting than the default, so only the parser's ceilings apply here: a stricter
/// limit would refuse, at every claim, an event the receiver already answered 200 for.
pub(super) fn reparse(body: &[u8]) -> Result<Vec<Event>> {
    let opts = ParseOptions {
        max_bytes: body.len().max(1),
        max_depth: MAX_DEPTH_CEILING as usize,
    };
    parse_with(body, &opts)
}

/// The last few stored bodies of several events each, parsed. A delivery of many events is
/// claimed an event or a few at a time; parsing the whole body again at every claim made
/// draining it quadratic (a 10 000-event body took about a second per claim). A body is
/// used only when its bytes are the ones stored now: a backend may reuse the id of a body
/// it deleted.
pub(super) struct ParsedBodies<K> {
    recent: Mutex<VecDeque<ParsedBody<K>>>,
}

/// A stored body's key, its bytes, and its events.
type ParsedBody<K> = (K, Vec<u8>, Arc<Vec<Event>>);

/// At most this many parsed bodies are kept, and at most [`PARSED_BODIES_BYTES`] of them.
const PARSED_BODIES: usize = 8;
const PARSED_BODIES_BYTES: usize = 16 << 20;

impl<K: PartialEq> ParsedBodies<K> {
    pub(super) fn new() -> Self {
        ParsedBodies {
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// The events of the body stored as `key` with these bytes: kept from an earlier
    /// claim, or parsed now (see [`reparse`]).
    pub(super) fn events(&self, key: K, body: &[u8]) -> Result<Arc<Vec<Event>>> {
        if let Some((_, _, events)) = lock(&self.recent)
            .iter()
            .find(|(k, b, _)| *k == key && b.as_slice() == body)
        {
            return Ok(Arc::clone(events));
        }
        let events = Arc::new(reparse(body)?);
        if events.len() > 1 && body.len() <= PARSED_BODIES_BYTES {
            let mut recent = lock(&self.recent);
            recent.retain(|(k, _, _)| *k != key);
            recent.push_front((key, body.to_vec(), Arc::clone(&events)));
            let mut bytes = 0;
            let keep = recent
                .iter()
                .take(PARSED_BODIES)
                .take_while(|(_, b, _)| {
                    bytes += b.len();
                    bytes <= PARSED_BODIES_BYTES
                })
                .count();
            recent.truncate(keep);
        }
        Ok(events)
    }
}
