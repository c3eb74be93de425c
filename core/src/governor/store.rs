//! Where the governor keeps its state: the [`GovernorStore`] trait and the in-process
//! [`MemoryStore`].
//!
//! Every operation is one atomic step on one key, so a shared backend can implement each
//! with a single server-side script: the per-number bucket is a GCRA ("generic cell rate
//! algorithm", the token bucket expressed as one timestamp, the *theoretical arrival time*
//! `tat`), which a Redis backend runs as a Lua script over one hash (`tat`, `scale`,
//! `scale_at`, `count`) using the server's clock. Times cross the trait as durations
//! relative to "now" of the store, never as absolute instants.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A boxed future returned by [`GovernorStore`] methods (object-safe async).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The answer to [`GovernorStore::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A slot is reserved `wait` from now (zero = at once).
    Granted {
        /// How long the caller must wait before using the slot.
        wait: Duration,
        /// Which reservation this is, for [`GovernorStore::release`]: the key's `tat` right
        /// after it, in µs since the store's own epoch (the difference of two tokens is how
        /// far the key moved between them).
        slot: u64,
    },
    /// The first free slot is further away than `max_wait`; nothing was reserved.
    Refused {
        /// How long until the first free slot.
        retry_after: Duration,
    },
    /// The store could not be asked (a shared store that is down): nothing was reserved,
    /// and the caller must not send unpaced.
    Unavailable {
        /// When to ask again.
        retry_after: Duration,
    },
}

/// The `slot` of [`GovernorStore::release`] that gives back one interval whatever was
/// reserved since.
pub const ANY_SLOT: u64 = u64::MAX;

/// One multiplicative decrease of a number's rate scale (AIMD), as
/// [`GovernorStore::decrease`] applies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decrease {
    /// The scale is multiplied by this (e.g. 0.5).
    pub factor: f64,
    /// The scale never goes below this.
    pub floor: f64,
    /// The additive increase per second since the last stored value.
    pub increase_per_sec: f64,
    /// No second decrease within this long of the last one.
    pub cooldown: Duration,
}

/// Atomic per-key operations the [`crate::governor::Governor`] is built on.
///
/// `key` names one bucket (`n:<number>` for a business number, `p:<number>:<recipient>` for
/// a pair). Implementations must make each call atomic with respect to every other caller
/// sharing the store (other tasks, processes or machines).
pub trait GovernorStore: Send + Sync + 'static {
    /// True when every call answers at once, in this process (no network): the governor
    /// then calls it directly instead of in a task of its own.
    fn is_local(&self) -> bool {
        false
    }

    /// GCRA reservation: `tat = max(tat, now)`; the slot is free at `tat - tolerance`.
    /// If that is more than `max_wait` away, refuse and change nothing; else store
    /// `tat + interval` and grant the wait.
    fn reserve(
        &self,
        key: &str,
        interval: Duration,
        tolerance: Duration,
        max_wait: Duration,
    ) -> StoreFuture<'_, Reservation>;

    /// Give back the granted reservation `slot` that will not be used (`tat -= interval`,
    /// never before now), if it is still the key's latest: once others have reserved
    /// after it, moving `tat` back would hand one of their slots out a second time, and
    /// two sends would go out together. Then nothing changes. With [`ANY_SLOT`], one
    /// interval is given back whatever was reserved since (a number's bucket: the sends
    /// queued behind keep their times, and the rate over time is kept).
    fn release(&self, key: &str, interval: Duration, slot: u64) -> StoreFuture<'_, ()>;

    /// Allow nothing on `key` for `duration` from now (`tat = max(tat, now + duration +
    /// tolerance)`). When `slot` is the key's latest reservation it still is afterwards:
    /// its new token is returned, to give it back later; otherwise `None`. Without a slot
    /// (a back-off after 131056) no give-back moves `tat` before that time: where the
    /// block left `tat` as it was (a later reservation already had it further), that
    /// reservation's give-back would undo the back-off.
    fn block_for(
        &self,
        key: &str,
        duration: Duration,
        tolerance: Duration,
        slot: Option<u64>,
    ) -> StoreFuture<'_, Option<u64>>;

    /// Add one to the key's counter of consecutive refusals and return the new value.
    fn bump(&self, key: &str) -> StoreFuture<'_, u32>;

    /// Reset the key's counter of consecutive refusals.
    fn clear(&self, key: &str) -> StoreFuture<'_, ()>;

    /// The key's rate scale in `(0, 1]` now: the last value stored by [`Self::decrease`],
    /// plus `increase_per_sec` for every second since (additive increase), at most 1. NaN
    /// when the store cannot answer (the caller then uses the last scale it saw).
    fn scale(&self, key: &str, increase_per_sec: f64) -> StoreFuture<'_, f64>;

    /// Multiplicative decrease: unless the last decrease was less than `d.cooldown` ago,
    /// store `max(d.floor, scale_now * d.factor)`. Returns the scale in force, or NaN when the
    /// store cannot answer (the caller then keeps the last scale it saw).
    fn decrease(&self, key: &str, d: Decrease) -> StoreFuture<'_, f64>;
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Theoretical arrival time, as an offset from the store's epoch.
    tat: Duration,
    count: u32,
    scale: f64,
    scale_at: Duration,
    last_decrease: Option<Duration>,
    /// The end of the last back-off ([`GovernorStore::block_for`] without a slot): no
    /// give-back moves `tat` before it.
    blocked_until: Duration,
    /// Last use of the key.
    touched: Duration,
}

impl Entry {
    fn new(now: Duration) -> Self {
        Entry {
            tat: now,
            count: 0,
            scale: 1.0,
            scale_at: now,
            last_decrease: None,
            blocked_until: Duration::ZERO,
            touched: now,
        }
    }

    fn scale_now(&self, now: Duration, inc: f64) -> f64 {
        let dt = now.saturating_sub(self.scale_at).as_secs_f64();
        (self.scale + inc.max(0.0) * dt).min(1.0)
    }

    /// Nothing here that a fresh entry would not also say, or unused for [`FORGET_AFTER`]
    /// (as the Redis store's keys expire): a `131056` count of a user not written to since
    /// is forgotten, instead of escalating the next back-off days later.
    fn is_idle(&self, now: Duration) -> bool {
        (self.tat <= now && self.count == 0 && self.scale >= 1.0) || self.is_forgotten(now)
    }

    /// Unused for an hour after its last use or the end of its back-off, whichever is later
    /// (the Redis key's expiry is set the same way).
    fn is_forgotten(&self, now: Duration) -> bool {
        now.saturating_sub(self.touched.max(self.tat)) >= FORGET_AFTER
    }
}

/// At this many keys the store drops the idle ones (bounded memory); then again once the
/// map has doubled since, so a map of live keys is not scanned at every new key.
const PRUNE_AT: usize = 100_000;

/// A key unused this long is forgotten, as the Redis store's keys expire (`redis_store.rs`).
const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// The in-process store (the default): one mutex over a map, shared by every clone of a
/// client that holds it.
#[derive(Debug)]
pub struct MemoryStore {
    epoch: Instant,
    /// The keys, and the size at which they are pruned next.
    map: Mutex<(HashMap<String, Entry>, usize)>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            epoch: Instant::now(),
            map: Mutex::new((HashMap::new(), PRUNE_AT)),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Entry, Duration) -> T) -> T {
        let mut guard = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let (map, prune_at) = &mut *guard;
        // Read under the lock: a `now` read before it could be older than the `tat` another
        // thread wrote meanwhile, and a slot free now looked taken ("next slot in 0.000 s").
        let now = self.epoch.elapsed();
        if map.len() >= *prune_at && !map.contains_key(key) {
            map.retain(|_, e| !e.is_idle(now));
            *prune_at = PRUNE_AT.max(map.len() * 2);
        }
        let e = map
            .entry(key.to_string())
            .or_insert_with(|| Entry::new(now));
        if e.is_forgotten(now) {
            *e = Entry::new(now);
        }
        e.touched = now;
        f(e, now)
    }
}

/// The memory store's reservation token: the `tat` a reservation left, in µs, as in Redis
/// (the give-back of a moved slot reads the move from two tokens; in ns, it was read 1000
/// times too long). Never [`ANY_SLOT`].
fn slot_of(tat: Duration) -> u64 {
    u64::try_from(tat.as_micros()).unwrap_or(ANY_SLOT - 1)
}

fn ready<'a, T: Send + 'a>(v: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(v))
}

impl GovernorStore for MemoryStore {
    fn is_local(&self) -> bool {
        true
    }

    fn reserve(
        &self,
        key: &str,
        interval: Duration,
        tolerance: Duration,
        max_wait: Duration,
    ) -> StoreFuture<'_, Reservation> {
        ready(self.with(key, |e, now| {
            let tat = e.tat.max(now);
            let wait = tat.saturating_sub(tolerance).saturating_sub(now);
            if wait > max_wait {
                Reservation::Refused { retry_after: wait }
            } else {
                e.tat = tat + interval;
                Reservation::Granted {
                    wait,
                    slot: slot_of(e.tat),
                }
            }
        }))
    }

    fn release(&self, key: &str, interval: Duration, slot: u64) -> StoreFuture<'_, ()> {
        self.with(key, |e, now| {
            if slot == ANY_SLOT || slot_of(e.tat) == slot {
                e.tat = e.tat.saturating_sub(interval).max(now).max(e.blocked_until);
            }
        });
        ready(())
    }

    fn block_for(
        &self,
        key: &str,
        duration: Duration,
        tolerance: Duration,
        slot: Option<u64>,
    ) -> StoreFuture<'_, Option<u64>> {
        ready(self.with(key, |e, now| {
            let latest = slot.is_some_and(|s| slot_of(e.tat) == s);
            let till = now + duration + tolerance;
            if slot.is_none() {
                e.blocked_until = e.blocked_until.max(till);
            }
            e.tat = e.tat.max(till);
            latest.then(|| slot_of(e.tat))
        }))
    }

    fn bump(&self, key: &str) -> StoreFuture<'_, u32> {
        ready(self.with(key, |e, _| {
            e.count = e.count.saturating_add(1);
            e.count
        }))
    }

    fn clear(&self, key: &str) -> StoreFuture<'_, ()> {
        // Called after every accepted send: a key that is not in the map already has a
        // count of 0, so look it up by `&str` instead of going through `with`, which would
        // allocate the key and insert an entry per recipient (docs/performance.md, client).
        let mut guard = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = guard.0.get_mut(key) {
            e.count = 0;
        }
        ready(())
    }

    fn scale(&self, key: &str, increase_per_sec: f64) -> StoreFuture<'_, f64> {
        ready(self.with(key, |e, now| e.scale_now(now, increase_per_sec)))
    }

    fn decrease(&self, key: &str, d: Decrease) -> StoreFuture<'_, f64> {
        ready(self.with(key, |e, now| {
            let current = e.scale_now(now, d.increase_per_sec);
            if e.last_decrease
                .is_some_and(|t| now.saturating_sub(t) < d.cooldown)
            {
                return current;
            }
            e.scale = (current * d.factor).max(d.floor).min(1.0);
            e.scale_at = now;
            e.last_decrease = Some(now);
            e.scale
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A `131056` count of a user not written to for an hour is forgotten (the Redis store's
    /// key expires): the next refusal starts the back-off again instead of escalating it, and
    /// the entry no longer holds memory at the next prune.
    #[test]
    fn a_count_unused_for_an_hour_is_forgotten_as_in_redis() {
        let store = MemoryStore::new();
        let bump = |s: &MemoryStore| futures_executor_block_on(s.bump("u"));
        assert_eq!(bump(&store), 1);
        assert_eq!(bump(&store), 2);
        // An hour later (the store's clock moved back instead of waiting for it).
        let later = MemoryStore {
            epoch: store.epoch - FORGET_AFTER - Duration::from_secs(1),
            map: Mutex::new(std::mem::take(&mut *store.map.lock().unwrap())),
        };
        assert!(later.map.lock().unwrap().0["u"].is_idle(later.epoch.elapsed()));
        assert_eq!(bump(&later), 1, "counted again from 1");
        // A back-off longer than an hour (the 6th 131056 in a row: 4096 s) is kept until an
        // hour after it ends, not forgotten when it ends.
        let now = later.epoch.elapsed();
        let mut blocked = Entry::new(now);
        blocked.count = 6;
        blocked.tat = now + Duration::from_secs(4096);
        assert!(!blocked.is_idle(now + Duration::from_secs(4096)));
        assert!(!blocked.is_idle(now + Duration::from_secs(4096) + FORGET_AFTER / 2));
        assert!(blocked.is_idle(now + Duration::from_secs(4096) + FORGET_AFTER));
    }

    /// Several threads reserving on one key with no interval and no wait are all granted.
    /// `now` was read before the lock: a thread that read it earlier but locked later saw
    /// the other's reservation in its future and was refused ("next slot in 0.000 s").
    #[test]
    fn concurrent_reservations_without_an_interval_are_never_refused() {
        let store = Arc::new(MemoryStore::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut refused = 0;
                    for _ in 0..20_000 {
                        let r = futures_executor_block_on(store.reserve(
                            "p:n:15555550123",
                            Duration::ZERO,
                            Duration::ZERO,
                            Duration::ZERO,
                        ));
                        if matches!(r, Reservation::Refused { .. }) {
                            refused += 1;
                        }
                    }
                    refused
                })
            })
            .collect();
        let refused: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(refused, 0);
    }

    /// The store's futures are ready at once (`ready`): poll one without a runtime.
    fn futures_executor_block_on<T>(f: StoreFuture<'_, T>) -> T {
        let mut f = f;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("a memory store future is ready at once"),
        }
    }
}
