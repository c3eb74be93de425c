//! Send pacing: send at the allowed rate, to the edge and not past it
//! (`docs/sending-at-scale.md`).
//!
//! A [`Governor`] sits in front of every send attempt of a [`crate::client::Client`]
//! configured with [`crate::config::ClientBuilder::governor`]:
//!
//! - **Per number**: a token bucket (GCRA) at `messages_per_second` (80 by default) with a
//!   burst of `burst` sends. On Meta `130429`, `4`, `80007` or 360dialog's HTTP 400
//!   "endpoint rate limit" the rate is halved (at most once per second, never below
//!   `min_rate_fraction`), then it climbs back by `increase_per_sec` of the configured rate
//!   every second without refusals (AIMD).
//! - **Per recipient**: at most one send per `pair_interval` (bursts of `pair_burst`); after
//!   the n-th consecutive `131056` for a recipient, nothing goes to that recipient for
//!   `4^n` s (at most 4^6 s) while other recipients go on. A success resets n.
//! - **Where it waits**: a send waits for its slot up to a deadline (`max_wait`, or the
//!   caller's own via [`crate::client::Client::send_within`]). When the slot is further
//!   away, the send fails with `rate_limited`, HTTP status 0 (nothing was sent) and
//!   `retry_after` = when a slot frees up.
//!
//! State lives behind [`GovernorStore`]: [`MemoryStore`] in process by default; a shared
//! store (e.g. Redis running each operation as one Lua script) lets several processes
//! share one number's bucket.
//!
//! A client without a governor still remembers consecutive `131056` answers per recipient
//! (in a passive governor) to suggest the `4^n` s delay in `retry_after`, without pacing.
//!
//! ```
//! use std::time::Duration;
//! use wa360::governor::GovernorConfig;
//! let client = wa360::client::Client::builder()
//!     .api_key("k")
//!     .governor(GovernorConfig::default().messages_per_second(80.0).max_wait(Duration::from_secs(5)))
//!     .build()
//!     .unwrap();
//! assert!(client.governor().is_pacing());
//! ```

mod options;
mod redis_store;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use options::{GovernorSpec, OptionStyle};
pub use redis_store::{RedisStore, open_store};
pub use store::{ANY_SLOT, Decrease, GovernorStore, MemoryStore, Reservation, StoreFuture};

use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::meta_codes::{self, MetaRetry};

/// Settings of a [`Governor`]. `Default` is the pacing governor (80/s, pair rate one per
/// 6 s); [`GovernorConfig::passive`] paces nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernorConfig {
    /// Sends per second per business number (`None` = no per-number pacing).
    pub messages_per_second: Option<f64>,
    /// Sends allowed at once before the rate applies (default: a tenth of a second of
    /// sends, at least 1).
    pub burst: Option<u32>,
    /// At most one send per this interval to one recipient (`None` = no pair pacing).
    pub pair_interval: Option<Duration>,
    /// Sends to one recipient allowed at once before `pair_interval` applies.
    pub pair_burst: u32,
    /// Hold back a recipient for 4^n s after its n-th consecutive `131056`.
    pub pair_backoff: bool,
    /// The default deadline for waiting for a slot.
    pub max_wait: Duration,
    /// Lowest rate after slow-downs, as a fraction of `messages_per_second`.
    pub min_rate_fraction: f64,
    /// Rate regained per second without refusals, as a fraction of `messages_per_second`.
    pub increase_per_sec: f64,
    /// The name of the number's bucket in a shared store (several clients of one number
    /// must use the same name).
    pub number: String,
}

impl Default for GovernorConfig {
    fn default() -> Self {
        GovernorConfig {
            messages_per_second: Some(80.0),
            burst: None,
            pair_interval: Some(Duration::from_secs(6)),
            pair_burst: 1,
            pair_backoff: true,
            max_wait: Duration::from_secs(30),
            min_rate_fraction: 0.05,
            increase_per_sec: 0.05,
            number: "default".into(),
        }
    }
}

/// The slowest per-number pace a governor takes: one message per 1 000 s.
pub const MIN_RATE: f64 = 0.001;

/// The longest wait between two sends of one number, however far the rate is cut.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// `messages_per_second` within its bounds ([`MIN_RATE`] to 1 000 000).
pub(crate) fn rate_in_range(r: f64) -> bool {
    r.is_finite() && (MIN_RATE..=1_000_000.0).contains(&r)
}

impl GovernorConfig {
    /// A governor that paces nothing and only remembers `131056` counts to suggest a
    /// delay (what a client without a configured governor uses).
    pub fn passive() -> Self {
        GovernorConfig {
            messages_per_second: None,
            pair_interval: None,
            pair_backoff: false,
            ..Self::default()
        }
    }
    /// Sends per second per number.
    pub fn messages_per_second(mut self, n: f64) -> Self {
        self.messages_per_second = Some(n);
        self
    }
    /// Burst size of the number's bucket.
    pub fn burst(mut self, n: u32) -> Self {
        self.burst = Some(n);
        self
    }
    /// Pair pacing: one send per `interval` to a recipient, bursts of `burst`
    /// (`None` turns pair pacing off; the `131056` back-off stays).
    pub fn pair_rate(mut self, interval: Option<Duration>, burst: u32) -> Self {
        self.pair_interval = interval;
        self.pair_burst = burst;
        self
    }
    /// The default deadline for a slot.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }
    /// The bucket name in a shared store.
    pub fn number(mut self, name: impl Into<String>) -> Self {
        self.number = name.into();
        self
    }

    /// Check the values (`invalid_argument` naming the field).
    ///
    /// `messages_per_second` is from [`MIN_RATE`] to 1 000 000.
    pub fn validate(&self) -> Result<()> {
        if let Some(r) = self.messages_per_second
            && !rate_in_range(r)
        {
            return Err(Error::invalid(
                "governor.messages_per_second",
                "must be a number from 0.001 to 1000000",
            ));
        }
        if self.burst == Some(0) {
            return Err(Error::invalid("governor.burst", "must be at least 1"));
        }
        if self.pair_interval.is_some_and(|d| d.is_zero()) {
            return Err(Error::invalid(
                "governor.pair_interval",
                "must be greater than 0 (or absent to turn pair pacing off)",
            ));
        }
        if self.pair_burst == 0 {
            return Err(Error::invalid("governor.pair_burst", "must be at least 1"));
        }
        if !(self.min_rate_fraction.is_finite()
            && self.min_rate_fraction > 0.0
            && self.min_rate_fraction <= 1.0)
        {
            return Err(Error::invalid(
                "governor.min_rate_fraction",
                "must be in (0, 1]",
            ));
        }
        if !(self.increase_per_sec.is_finite() && self.increase_per_sec >= 0.0) {
            return Err(Error::invalid(
                "governor.increase_per_sec",
                "must be a number of at least 0",
            ));
        }
        if self.number.is_empty() || self.number.len() > 200 {
            return Err(Error::invalid(
                "governor.number",
                "must be 1..200 characters",
            ));
        }
        Ok(())
    }

    fn burst_or_default(&self, rate: f64) -> u32 {
        self.burst
            .unwrap_or_else(|| ((rate / 10.0).floor() as u32).max(1))
    }
}

/// What a send attempt's answer means for pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Accepted: the recipient's `131056` count resets.
    Accepted,
    /// The number is over its throughput (a `RateLimit` code of [`crate::meta_codes`]:
    /// `130429`, `4`, `80007`, `131057`; or the endpoint limit).
    Overloaded,
    /// `131056` for this recipient.
    PairLimited,
    /// Anything else (no effect on pacing).
    Other,
}

impl Signal {
    /// Classify an error answer.
    pub fn of_error(e: &Error) -> Signal {
        match e.api_code() {
            Some(c) => match meta_codes::retry(c) {
                Some(MetaRetry::PairRateLimit) => Signal::PairLimited,
                Some(MetaRetry::RateLimit) => Signal::Overloaded,
                _ => Signal::Other,
            },
            // HTTP 429 or 360dialog's "endpoint rate limit" without a Meta code; a local
            // refusal (no status) was not an answer.
            None if e.code() == ErrorCode::RateLimited && e.status().is_some() => {
                Signal::Overloaded
            }
            None => Signal::Other,
        }
    }
}

/// Slow-down factor on an overload signal.
const DECREASE_FACTOR: f64 = 0.5;
/// At most one slow-down per this interval (refusals of sends already in flight count once).
const DECREASE_COOLDOWN: Duration = Duration::from_secs(1);
/// Longest 131056 back-off exponent (4^6 s ≈ 68 min).
const MAX_BACKOFF_EXP: u32 = 6;

/// What [`Governor::acquire`] reserved for one attempt, to give back if it is not used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    /// The recipient's pair reservation, while it can still be given back.
    pair: Option<u64>,
    /// The number bucket's interval when a slot of it was taken (given back as any slot).
    number: Option<Duration>,
}

/// Paces sends per number and per recipient. Cheap to clone.
#[derive(Clone)]
pub struct Governor {
    config: Arc<GovernorConfig>,
    store: Arc<dyn GovernorStore>,
    /// The number's last slow-down factor seen (f64 bits), for a store that does not
    /// answer in time.
    last_scale: Arc<AtomicU64>,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Governor {
    /// A governor with its own in-process store.
    pub fn new(config: GovernorConfig) -> Result<Governor> {
        Self::with_store(config, Arc::new(MemoryStore::new()))
    }

    /// A governor over a given (possibly shared) store.
    pub fn with_store(config: GovernorConfig, store: Arc<dyn GovernorStore>) -> Result<Governor> {
        config.validate()?;
        Ok(Governor {
            config: Arc::new(config),
            store,
            last_scale: Arc::new(AtomicU64::new(1.0f64.to_bits())),
        })
    }

    /// The settings.
    pub fn config(&self) -> &GovernorConfig {
        &self.config
    }

    /// The store (in this process, or shared).
    pub(crate) fn store(&self) -> Arc<dyn GovernorStore> {
        Arc::clone(&self.store)
    }

    /// True when sends are paced (per number or per recipient).
    pub fn is_pacing(&self) -> bool {
        self.config.messages_per_second.is_some()
            || self.config.pair_interval.is_some()
            || self.config.pair_backoff
    }

    fn number_key(&self) -> String {
        format!("n:{}", self.config.number)
    }

    fn pair_key(&self, recipient: &str) -> String {
        format!("p:{}:{}", self.config.number, recipient)
    }

    /// The spacing kept between two sends to one recipient: `pair_interval` and 4% more.
    /// The API counts the interval between the requests' arrivals, and the way there varies
    /// from request to request (a cold connection's first request is the slowest): spaced
    /// exactly, follow-ups reached a local sandbox up to 17 ms early, and a share of them
    /// were refused with 131056.
    fn pair_spacing(&self) -> Option<Duration> {
        self.config.pair_interval.map(|i| i + i / 25)
    }

    /// The number's current rate (after slow-downs), or `None` without per-number pacing.
    /// A store that cannot answer: the rate at the last scale this process saw.
    pub async fn current_rate(&self) -> Option<f64> {
        let rate = self.config.messages_per_second?;
        let scale = self
            .store
            .scale(&self.number_key(), self.config.increase_per_sec)
            .await;
        let scale = if scale.is_finite() {
            scale
        } else {
            f64::from_bits(self.last_scale.load(Ordering::Relaxed))
        };
        Some(rate * scale)
    }

    /// Wait for a send slot for `recipient` (if known), at most `max_wait`. The returned
    /// [`Slot`] goes back to [`Governor::not_sent`] / [`Governor::observe`] for the attempt.
    ///
    /// Past the deadline: `rate_limited`, HTTP status 0, `retry_after` = how long until
    /// a slot; nothing is reserved. A store that cannot be asked (Redis down) refuses the
    /// same way, saying so: a send never goes out unpaced.
    ///
    /// `go` is asked while the attempt waits for its slots (a broadcast paused or stopped
    /// meanwhile): `false` gives the slots back and ends the wait at once with the local
    /// "withdrawn" refusal, instead of sleeping out a wait of up to `max_wait` first.
    pub async fn acquire(
        &self,
        recipient: Option<&str>,
        max_wait: Duration,
        go: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<Slot> {
        let start = Instant::now();
        let c = &self.config;
        let left = || max_wait.saturating_sub(start.elapsed());
        let mut pair_reserved: Option<(String, Duration, Option<u64>)> = None;
        let mut number: Option<Duration> = None;
        let mut give_back = GiveBack {
            store: Arc::clone(&self.store),
            held: Vec::new(),
        };
        if let Some(to) = recipient
            && (c.pair_interval.is_some() || c.pair_backoff)
        {
            let key = self.pair_key(to);
            let interval = self.pair_spacing().unwrap_or(Duration::ZERO);
            let tolerance = interval * c.pair_burst.saturating_sub(1);
            let asked = Asked {
                key: &key,
                interval,
                tolerance,
                max_wait,
            };
            match self.reserve_within(asked, left()).await {
                Reservation::Refused { retry_after } => {
                    return Err(refused("recipient", to, retry_after, max_wait));
                }
                Reservation::Unavailable { retry_after } => {
                    return Err(unavailable(retry_after));
                }
                Reservation::Granted { wait, slot } => {
                    give_back.held.push((key.clone(), interval, slot));
                    if !wait_unless_withdrawn(wait, go).await {
                        give_back.now().await;
                        return Err(withdrawn());
                    }
                    pair_reserved = Some((key, interval, Some(slot)));
                }
            }
        }
        if let Some(rate) = c.messages_per_second {
            let key = self.number_key();
            // A store that does not answer in time, or at all: the scale this process saw
            // last (the full rate only if it never saw one), not the full rate after a
            // slow-down.
            let scale = match tokio::time::timeout(
                left().max(STORE_FLOOR),
                self.store.scale(&key, c.increase_per_sec),
            )
            .await
            {
                Ok(s) if s.is_finite() => {
                    self.last_scale.store(s.to_bits(), Ordering::Relaxed);
                    s
                }
                _ => f64::from_bits(self.last_scale.load(Ordering::Relaxed)),
            };
            let effective = (rate * scale).max(rate * c.min_rate_fraction);
            // Never more than a day between two sends, whatever the configured fractions
            // multiply to (a longer interval cannot be a `Duration` for every product).
            let interval = Duration::try_from_secs_f64(1.0 / effective)
                .unwrap_or(MAX_INTERVAL)
                .min(MAX_INTERVAL);
            let tolerance = interval.saturating_mul(c.burst_or_default(rate).saturating_sub(1));
            let wait_left = left();
            let asked = Asked {
                key: &key,
                interval,
                tolerance,
                max_wait: wait_left,
            };
            let reserved = self.reserve_within(asked, wait_left).await;
            if let Reservation::Refused { .. } | Reservation::Unavailable { .. } = &reserved {
                // The recipient's slot, the only one held yet.
                give_back.now().await;
            }
            match reserved {
                Reservation::Refused { retry_after } => {
                    return Err(refused("number", &c.number, retry_after, max_wait));
                }
                Reservation::Unavailable { retry_after } => {
                    return Err(unavailable(retry_after));
                }
                Reservation::Granted { wait, .. } => {
                    number = Some(interval);
                    if !wait.is_zero() {
                        // Any slot: the sends queued behind this one withdraw in their
                        // own order, and each gives one interval back. Held before the
                        // move below, so that a send dropped during it gives both back.
                        give_back.held.push((key.clone(), interval, ANY_SLOT));
                        // The send goes out `wait` from now, later than its pair slot: the
                        // recipient's bucket counts it from then (at least an interval from
                        // then to its free time, as a send made then would move it), moved
                        // now, before the wait, so that a send to the same recipient
                        // reserved meanwhile is counted from it too (moved after the wait,
                        // such a send had its slot from the earlier time already, and the
                        // two could go out closer than allowed). No burst added on top:
                        // that blocked the recipient for its whole burst. While it is still
                        // the latest, the moved slot can be given back: the interval and
                        // the move (the token is the bucket's time in µs).
                        if let Some((k, i, slot)) = &mut pair_reserved {
                            let before = *slot;
                            // Out of the drop guard while the move is asked for: a send
                            // dropped meanwhile has it given back by move_pair, after the
                            // move (the guard's give-back of the slot before it matched
                            // nothing once the bucket had moved).
                            give_back.held.retain(|(held, _, _)| held != k);
                            *slot = self.move_pair(k, *i, before, wait + *i).await;
                            if let (Some(old), Some(new)) = (before, *slot) {
                                let back = moved_back(*i, old, new);
                                give_back.held.push((k.clone(), back, new));
                            }
                        }
                        if !wait_unless_withdrawn(wait, go).await {
                            give_back.now().await;
                            return Err(withdrawn());
                        }
                    }
                }
            }
        }
        give_back.held.clear();
        Ok(Slot {
            pair: pair_reserved.and_then(|(_, _, slot)| slot),
            number,
        })
    }

    /// A reservation bounded by `left` (what is left of the caller's wait, at least
    /// [`STORE_FLOOR`]): a store that hangs (Redis stopped, the connection open) held a
    /// send for its 2 s response timeout per call, several in a row, far past `max_wait`.
    /// Past it, the store counts as out of reach (nothing sent). On a store over the
    /// network the call runs in its own task, so a reservation granted after the caller
    /// stopped waiting (its wait ran out, or the send was cancelled meanwhile) is given back
    /// there, while it is the key's latest. Left taken, it blocked the recipient for a
    /// pair interval though nothing was sent. (A store stalled for 2 s or more answers the
    /// call itself, as unavailable, and makes the reservation when it resumes: the Redis
    /// store cancels that one itself.)
    async fn reserve_within(&self, asked: Asked<'_>, left: Duration) -> Reservation {
        let unavailable = Reservation::Unavailable {
            retry_after: Duration::from_secs(1),
        };
        let bound = left.max(STORE_FLOOR);
        if self.store.is_local() {
            let call =
                self.store
                    .reserve(asked.key, asked.interval, asked.tolerance, asked.max_wait);
            return tokio::time::timeout(bound, call)
                .await
                .unwrap_or(unavailable);
        }
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let store = Arc::clone(&self.store);
        let (key, interval, tolerance, max_wait) = (
            asked.key.to_string(),
            asked.interval,
            asked.tolerance,
            asked.max_wait,
        );
        tokio::spawn(async move {
            let r = store.reserve(&key, interval, tolerance, max_wait).await;
            // Only while it is the latest, for the number too: given back as any slot, a
            // send reserved meanwhile shared its slot with the next one.
            if let Err(Reservation::Granted { slot, .. }) = tx.send(r) {
                store.release(&key, interval, slot).await;
            }
        });
        match tokio::time::timeout(bound, &mut rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => unavailable,
            Err(_) => {
                // Answered just as the wait ran out: it is taken, and used.
                rx.close();
                rx.try_recv().unwrap_or(unavailable)
            }
        }
    }

    /// Move the recipient's bucket `by` from now (a send that waits for the number's slot
    /// counts toward its recipient from when it goes out), keeping `slot` the latest while
    /// it is: its new token, or `None`. On a store over the network the move runs in its
    /// own task: dropped while it waits for the store (its caller cancelled), the send gives
    /// back the slot and the move there, once the move is made; too slow (past
    /// [`STORE_FLOOR`]), the send goes on without a token and the move, made late, stays.
    async fn move_pair(
        &self,
        key: &str,
        interval: Duration,
        slot: Option<u64>,
        by: Duration,
    ) -> Option<u64> {
        if self.store.is_local() {
            return self.store.block_for(key, by, Duration::ZERO, slot).await;
        }
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let store = Arc::clone(&self.store);
        let key = key.to_string();
        tokio::spawn(async move {
            let moved = store.block_for(&key, by, Duration::ZERO, slot).await;
            if let (Err(Some(new)), Some(old)) = (tx.send(moved), slot) {
                let back = moved_back(interval, old, new);
                store.release(&key, back, new).await;
            }
        });
        match tokio::time::timeout(STORE_FLOOR, &mut rx).await {
            Ok(moved) => moved.unwrap_or(None),
            Err(_) => {
                // Kept open until the answer comes, so that the task keeps the move.
                tokio::spawn(async move {
                    let _ = rx.await;
                });
                None
            }
        }
    }

    /// Give back the recipient's pair slot taken by [`Governor::acquire`] for an attempt
    /// that was never written (no connection, or the caller withdrew it): the recipient got
    /// nothing, so its next send must not wait a whole pair interval. Only while that slot
    /// is still the recipient's latest: a slot given back after others were reserved
    /// behind it would be handed out twice, and two sends would go out together.
    ///
    /// The number's slot is given back too: nothing left, so the next send need not wait
    /// for it.
    pub async fn not_sent(&self, recipient: Option<&str>, slot: &Slot) {
        self.give_back_pair(recipient, slot).await;
        if let Some(interval) = slot.number {
            quick(
                self.store.release(&self.number_key(), interval, ANY_SLOT),
                (),
            )
            .await;
        }
    }

    /// The pair half of [`Governor::not_sent`].
    async fn give_back_pair(&self, recipient: Option<&str>, slot: &Slot) {
        if let (Some(to), Some(interval), Some(token)) = (recipient, self.pair_spacing(), slot.pair)
        {
            quick(self.store.release(&self.pair_key(to), interval, token), ()).await;
        }
    }

    /// Learn from the answer to one send attempt. For `131056` the back-off (4^n s) is
    /// written into the error's `retry_after`.
    pub async fn observe(
        &self,
        recipient: Option<&str>,
        slot: &Slot,
        outcome: std::result::Result<(), &mut Error>,
    ) {
        let signal = match &outcome {
            Ok(()) => Signal::Accepted,
            Err(e) => Signal::of_error(e),
        };
        match signal {
            Signal::Accepted => {
                if let Some(to) = recipient {
                    quick(self.store.clear(&self.pair_key(to)), ()).await;
                }
            }
            Signal::Overloaded => {
                // Refused before processing: the recipient got nothing, so its pair slot
                // is given back (a retry must not wait a whole pair interval for it). The
                // number's slot is not: the number is over its rate.
                self.give_back_pair(recipient, slot).await;
                if self.config.messages_per_second.is_some() {
                    let decreased = self.store.decrease(
                        &self.number_key(),
                        Decrease {
                            factor: DECREASE_FACTOR,
                            floor: self.config.min_rate_fraction,
                            increase_per_sec: self.config.increase_per_sec,
                            cooldown: DECREASE_COOLDOWN,
                        },
                    );
                    // A store that cannot answer gives NaN (or nothing in time): the last
                    // scale seen stays. Saving a made-up value (the floor, as before) would
                    // hold this process at the floor rate until the store answered again.
                    if let Some(s) = quick(async { Some(decreased.await) }, None).await
                        && s.is_finite()
                    {
                        self.last_scale.store(s.to_bits(), Ordering::Relaxed);
                    }
                }
            }
            Signal::PairLimited => {
                let n = match recipient {
                    Some(to) => quick(self.store.bump(&self.pair_key(to)), 1).await,
                    None => 1,
                };
                let backoff = pair_backoff(n);
                if self.config.pair_backoff
                    && let Some(to) = recipient
                {
                    let interval = self.pair_spacing().unwrap_or(Duration::ZERO);
                    let tolerance = interval * self.config.pair_burst.saturating_sub(1);
                    quick(
                        self.store
                            .block_for(&self.pair_key(to), backoff, tolerance, None),
                        None,
                    )
                    .await;
                }
                if let Err(Error::Api { error, .. }) = outcome {
                    error.retry_after = Some(backoff);
                }
            }
            Signal::Other => {}
        }
    }
}

/// 4^n seconds for the n-th consecutive `131056` (n ≥ 1), at most 4^6 s.
pub fn pair_backoff(n: u32) -> Duration {
    Duration::from_secs(4u64.pow(n.clamp(1, MAX_BACKOFF_EXP)))
}

/// A local `rate_limited` refusal: no status (no request was written), nothing sent.
fn local_refusal(message: String, retry_after: Duration) -> Error {
    Error::Api {
        code: ErrorCode::RateLimited,
        error: Box::new(ApiError {
            status: 0,
            message,
            retry_after: Some(retry_after),
            ..Default::default()
        }),
    }
}

/// The local refusal of a send withdrawn after its slot was granted (a broadcast paused,
/// stopped or ended while the send waited, or its row's lease nearly out).
pub(crate) fn withdrawn() -> Error {
    local_refusal(
        "not sent: withdrawn after its send slot was granted (the run was paused, stopped or \
         ended, or its row's lease ran short)"
            .into(),
        Duration::ZERO,
    )
}

/// Sleep `wait`, asking `go` at least every 200 ms; `false` as soon as it says no.
/// The least a store call is given, whatever is left of the caller's wait: a send made
/// with no wait at all still reaches a store over the network (a round trip across
/// regions, a script loaded again after a restart).
const STORE_FLOOR: Duration = Duration::from_millis(500);

/// A store call that only records (a give-back, a back-off, a clear) bounded by
/// [`STORE_FLOOR`]: a store that hangs must not hold the send, before or after its
/// request, for the store's own 2 s response timeout. `otherwise` when it did not answer.
async fn quick<T>(call: impl std::future::Future<Output = T>, otherwise: T) -> T {
    tokio::time::timeout(STORE_FLOOR, call)
        .await
        .unwrap_or(otherwise)
}

/// What gives back a pair slot moved from token `old` to token `new` (tokens are the
/// bucket's time in µs): its interval and the move.
fn moved_back(interval: Duration, old: u64, new: u64) -> Duration {
    interval + Duration::from_micros(new.saturating_sub(old))
}

/// One reservation asked of the store (see [`Governor::reserve_within`]).
struct Asked<'a> {
    key: &'a str,
    interval: Duration,
    tolerance: Duration,
    max_wait: Duration,
}

/// The reservations an `acquire` holds while it waits for their time, given back if it is
/// dropped meanwhile (its caller cancelled: an asyncio task cancelled, Ctrl-C in a sync
/// send, a timeout around it). They stayed taken: the recipient was refused for a pair
/// interval, and the number lost a slot, in every process sharing the store. (Written by
/// hand: a drop guard is a few lines, and the give-back must run on the runtime, spawned.)
struct GiveBack {
    store: Arc<dyn GovernorStore>,
    held: Vec<(String, Duration, u64)>,
}

impl GiveBack {
    /// Give back what is held, now: the send stops here. On a store over the network in a
    /// task of its own, so that a caller dropped while it waits for the store does not cut
    /// the give-backs short (one given back, the next never asked for).
    async fn now(&mut self) {
        let held = std::mem::take(&mut self.held);
        if held.is_empty() {
            return;
        }
        let store = Arc::clone(&self.store);
        let give = async move {
            for (key, interval, slot) in held {
                quick(store.release(&key, interval, slot), ()).await;
            }
        };
        if self.store.is_local() {
            give.await;
        } else {
            let _ = tokio::spawn(give).await;
        }
    }
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, held) = (Arc::clone(&self.store), std::mem::take(&mut self.held));
        rt.spawn(async move {
            for (key, interval, slot) in held {
                store.release(&key, interval, slot).await;
            }
        });
    }
}

async fn wait_unless_withdrawn(
    wait: Duration,
    go: Option<&(dyn Fn() -> bool + Send + Sync)>,
) -> bool {
    const STEP: Duration = Duration::from_millis(200);
    let Some(go) = go else {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        return true;
    };
    let until = Instant::now() + wait;
    loop {
        if !go() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        tokio::time::sleep(left.min(STEP)).await;
    }
}

/// The local refusal when the governor's store cannot be asked.
fn unavailable(retry_after: Duration) -> Error {
    local_refusal(
        format!(
            "not sent: the governor store cannot be reached, and a send never goes out unpaced (try again in {:.3} s)",
            retry_after.as_secs_f64()
        ),
        retry_after,
    )
}

fn refused(what: &str, name: &str, retry_after: Duration, max_wait: Duration) -> Error {
    local_refusal(
        format!(
            "not sent: no send slot for {what} {name} within {:.3} s (next slot in {:.3} s)",
            max_wait.as_secs_f64(),
            retry_after.as_secs_f64()
        ),
        retry_after,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gov(cfg: GovernorConfig) -> Governor {
        Governor::new(cfg).unwrap()
    }

    /// A 429 answer carrying Meta's `code`.
    fn rate_limited(code: i64) -> Error {
        Error::Api {
            code: ErrorCode::RateLimited,
            error: Box::new(ApiError {
                status: 429,
                api_code: Some(code),
                ..Default::default()
            }),
        }
    }

    #[tokio::test]
    async fn burst_then_paced_then_refused_past_deadline() {
        let g = gov(GovernorConfig::passive().messages_per_second(10.0).burst(3));
        let t0 = Instant::now();
        for _ in 0..3 {
            g.acquire(None, Duration::ZERO, None).await.unwrap();
        }
        assert!(t0.elapsed() < Duration::from_millis(50));
        let e = g.acquire(None, Duration::ZERO, None).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::RateLimited);
        assert_eq!(e.status(), None, "refused locally: nothing answered");
        let ra = e.retry_after().unwrap();
        assert!(
            ra > Duration::ZERO && ra <= Duration::from_millis(100),
            "{ra:?}"
        );
        g.acquire(None, Duration::from_secs(1), None).await.unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(80));
    }

    #[tokio::test]
    async fn overload_halves_rate_once_per_second_and_recovers() {
        let mut cfg = GovernorConfig::passive().messages_per_second(100.0);
        cfg.increase_per_sec = 10.0; // back to full within 0.1 s
        let g = gov(cfg);
        let mut e = rate_limited(130429);
        g.observe(None, &Slot::default(), Err(&mut e)).await;
        let r1 = g.current_rate().await.unwrap();
        assert!((50.0..60.0).contains(&r1), "{r1}");
        g.observe(None, &Slot::default(), Err(&mut e)).await; // within the cool-down: no second cut
        assert!(g.current_rate().await.unwrap() >= r1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(g.current_rate().await, Some(100.0));
    }

    #[tokio::test]
    async fn pair_limit_backs_off_that_recipient_only() {
        let g = gov(GovernorConfig::passive().pair_rate(None, 1));
        let mut cfg = (*g.config).clone();
        cfg.pair_backoff = true;
        let g = gov(cfg);
        let mut e = rate_limited(131056);
        g.observe(Some("a"), &Slot::default(), Err(&mut e)).await;
        assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
        let refused = g
            .acquire(Some("a"), Duration::from_millis(10), None)
            .await
            .unwrap_err();
        assert!(refused.retry_after().unwrap() > Duration::from_secs(3));
        g.acquire(Some("b"), Duration::ZERO, None).await.unwrap();
        g.observe(Some("a"), &Slot::default(), Err(&mut e)).await;
        assert_eq!(e.retry_after(), Some(Duration::from_secs(16)));
        g.observe(Some("a"), &Slot::default(), Ok(())).await;
        g.observe(Some("a"), &Slot::default(), Err(&mut e)).await;
        assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
    }

    /// A send that waited for the number's slot keeps the recipient's burst: three parts
    /// to one recipient (burst 3 per 6 s) at 10 a second go out 0.1 s apart, not the third
    /// 6 s later (refused here past its max_wait).
    #[tokio::test]
    async fn waiting_for_the_number_keeps_the_recipients_burst() {
        let g = gov(GovernorConfig::passive()
            .messages_per_second(10.0)
            .burst(1)
            .pair_rate(Some(Duration::from_secs(6)), 3));
        for part in 0..3 {
            g.acquire(Some("a"), Duration::from_secs(1), None)
                .await
                .unwrap_or_else(|e| panic!("part {part}: {e}"));
        }
        // The burst used, the fourth waits for the recipient's interval.
        assert!(
            g.acquire(Some("a"), Duration::from_secs(1), None)
                .await
                .is_err()
        );
    }

    /// A send dropped while it waits for its slot (its caller cancelled) gives the slot
    /// back: the next send to that recipient waits one interval, not two.
    #[tokio::test]
    async fn a_cancelled_wait_gives_its_slots_back() {
        let i = Duration::from_secs(1);
        let g = gov(GovernorConfig::passive()
            .messages_per_second(1.0)
            .burst(1)
            .pair_rate(Some(i), 1));
        g.acquire(Some("a"), Duration::ZERO, None).await.unwrap();
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            g.acquire(Some("a"), Duration::from_secs(5), None),
        )
        .await;
        assert!(waited.is_err(), "it was waiting for its slot");
        tokio::time::sleep(Duration::from_millis(50)).await; // the give-back runs
        let e = g
            .acquire(Some("a"), Duration::ZERO, None)
            .await
            .unwrap_err();
        let ra = e.retry_after().unwrap();
        assert!(ra < Duration::from_millis(1000), "next slot in {ra:?}");
    }

    /// A send that waits for the number's slot counts toward its recipient from when it
    /// goes out, also for a send to that recipient reserved while it waits: moved after the
    /// wait, that one had its slot from the earlier time, and the two went out closer than
    /// the pair interval (4 s and 6 s with 6 s between them).
    #[tokio::test]
    async fn a_send_reserved_while_another_waits_for_the_number_keeps_the_pair_interval() {
        let g = Arc::new(gov(GovernorConfig::passive()
            .messages_per_second(0.25)
            .burst(1)
            .pair_rate(Some(Duration::from_secs(6)), 1)));
        g.acquire(Some("other"), Duration::ZERO, None)
            .await
            .unwrap();
        let waiting = {
            let g = Arc::clone(&g);
            tokio::spawn(async move { g.acquire(Some("a"), Duration::from_secs(10), None).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let e = g
            .acquire(Some("a"), Duration::ZERO, None)
            .await
            .unwrap_err();
        let next = e.retry_after().unwrap();
        assert!(next >= Duration::from_millis(9500), "next slot in {next:?}");
        waiting.abort();
    }

    /// Two sends to one recipient are reserved more than `pair_interval` apart (4% more), so
    /// that a follow-up whose request travels faster than the first does not reach the API
    /// within the interval (refused with 131056).
    #[tokio::test]
    async fn sends_to_one_recipient_are_spaced_a_little_more_than_the_pair_interval() {
        let g = gov(GovernorConfig::passive().pair_rate(Some(Duration::from_secs(6)), 1));
        g.acquire(Some("a"), Duration::ZERO, None).await.unwrap();
        let e = g
            .acquire(Some("a"), Duration::ZERO, None)
            .await
            .unwrap_err();
        let next = e.retry_after().unwrap();
        assert!(
            next > Duration::from_millis(6200) && next <= Duration::from_millis(6240),
            "next slot in {next:?}"
        );
    }

    /// A send cancelled while it waits for the number's slot (its recipient's bucket
    /// already moved to when it would have gone out) leaves that recipient free: the
    /// give-back takes the move back too, not one interval only.
    #[tokio::test]
    async fn a_send_cancelled_while_it_waits_for_the_number_leaves_its_recipient_free() {
        let g = gov(GovernorConfig::passive()
            .messages_per_second(0.2)
            .burst(1)
            .pair_rate(Some(Duration::from_secs(6)), 1));
        g.acquire(Some("other"), Duration::ZERO, None)
            .await
            .unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(300),
            g.acquire(Some("a"), Duration::from_secs(10), None),
        )
        .await;
        assert!(cancelled.is_err(), "it was waiting for the number");
        tokio::time::sleep(Duration::from_millis(50)).await; // the give-back runs
        // Refused for the number (its next slot 5 s after the first send), not for the
        // recipient, who got nothing.
        let e = g
            .acquire(Some("a"), Duration::from_secs(1), None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("for number"), "{e}");
    }

    /// The same with a recipient burst (2 per 6 s) and a send to that recipient before: the
    /// give-back puts the recipient's bucket back where that send left it. The memory
    /// store's tokens were in ns and the move was read from them as µs, so the bucket went
    /// back to now and the earlier send was forgotten: two more went out at once.
    #[tokio::test]
    async fn a_cancelled_send_gives_back_its_recipients_move_exactly() {
        let g = gov(GovernorConfig::passive()
            .messages_per_second(0.1)
            .burst(1)
            .pair_rate(Some(Duration::from_secs(6)), 2));
        g.acquire(Some("a"), Duration::ZERO, None).await.unwrap();
        // Waits 10 s for the number: the recipient's bucket moves 4 s past its slot.
        let cancelled = tokio::time::timeout(
            Duration::from_millis(300),
            g.acquire(Some("a"), Duration::from_secs(20), None),
        )
        .await;
        assert!(cancelled.is_err(), "it was waiting for the number");
        tokio::time::sleep(Duration::from_millis(50)).await; // the give-back runs
        // The recipient alone (a governor pacing only recipients, on the same store): one
        // more send within the burst, not two.
        let mut cfg = (*g.config).clone();
        cfg.messages_per_second = None;
        let pairs = Governor::with_store(cfg, g.store()).unwrap();
        pairs
            .acquire(Some("a"), Duration::ZERO, None)
            .await
            .unwrap();
        let e = pairs
            .acquire(Some("a"), Duration::ZERO, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("for recipient"), "{e}");
    }

    #[tokio::test]
    async fn a_refused_send_gives_its_pair_slot_back() {
        let g = gov(GovernorConfig::passive().pair_rate(Some(Duration::from_secs(10)), 1));
        let slot = g.acquire(Some("a"), Duration::ZERO, None).await.unwrap();
        assert!(g.acquire(Some("a"), Duration::ZERO, None).await.is_err());
        let mut e = rate_limited(130429);
        g.observe(Some("a"), &slot, Err(&mut e)).await;
        g.acquire(Some("a"), Duration::ZERO, None).await.unwrap();
    }

    /// A refused send's slot is given back only while it is the recipient's latest. Given
    /// back after another send had reserved the next slot, it moved that slot back onto
    /// the time the other send would use, and the retry went out with it (a 131056 from
    /// the API).
    #[tokio::test]
    async fn a_slot_is_given_back_only_while_it_is_the_latest() {
        let i = Duration::from_secs(10);
        let g = gov(GovernorConfig::passive().pair_rate(Some(i), 1));
        let first = g.acquire(Some("a"), Duration::ZERO, None).await.unwrap();
        // A second send to the recipient reserves the next slot (10 s on) and waits.
        let g2 = g.clone();
        let second = tokio::spawn(async move { g2.acquire(Some("a"), i * 2, None).await });
        tokio::task::yield_now().await;
        let mut e = rate_limited(130429);
        g.observe(Some("a"), &first, Err(&mut e)).await;
        // The refused first send's retry is not given the second's slot: its next one is
        // a whole interval after it.
        let e = g.acquire(Some("a"), i, None).await.unwrap_err();
        assert!(e.retry_after().is_some_and(|r| r > i), "{e}");
        second.abort();
    }

    /// A send that waited for its number slot, then was refused with 130429, gives its
    /// recipient's pair slot back: its retry does not wait a whole pair interval. (With
    /// the token of the reservation, the wait had made the pair slot "not the latest".)
    #[tokio::test]
    async fn a_refused_send_that_waited_for_the_number_still_gives_its_pair_slot_back() {
        let g = gov(GovernorConfig::default()
            .messages_per_second(4.0)
            .burst(1)
            .pair_rate(Some(Duration::from_secs(30)), 1));
        g.acquire(Some("other"), Duration::ZERO, None)
            .await
            .unwrap();
        // Waits about 250 ms for the number, with its pair slot taken.
        let slot = g
            .acquire(Some("a"), Duration::from_secs(2), None)
            .await
            .unwrap();
        let mut e = rate_limited(130429);
        g.observe(Some("a"), &slot, Err(&mut e)).await;
        // The retry is held by the number (halved to 2/s), not by the recipient.
        let e = g
            .acquire(Some("a"), Duration::ZERO, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("for number"), "{e}");
    }

    /// Sends waiting for number slots and withdrawn (a broadcast stopped) give every slot
    /// back, not only the latest: the bucket is free for the next send at once.
    #[tokio::test]
    async fn withdrawn_sends_give_every_number_slot_back() {
        let g = gov(GovernorConfig::passive().messages_per_second(2.0).burst(1));
        g.acquire(None, Duration::ZERO, None).await.unwrap();
        let go = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let waiting: Vec<_> = (0..4)
            .map(|_| {
                let (g, go) = (g.clone(), Arc::clone(&go));
                tokio::spawn(async move {
                    let go = move || go.load(std::sync::atomic::Ordering::SeqCst);
                    g.acquire(None, Duration::from_secs(10), Some(&go)).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        go.store(false, std::sync::atomic::Ordering::SeqCst);
        for w in waiting {
            assert!(w.await.unwrap().is_err(), "withdrawn");
        }
        // Only the first send's slot is still taken: the next is within half a second,
        // not behind the four withdrawn ones (2.5 s).
        g.acquire(None, Duration::from_millis(600), None)
            .await
            .unwrap();
    }

    #[test]
    fn bad_config_names_the_field() {
        let e = Governor::new(GovernorConfig::default().messages_per_second(0.0)).unwrap_err();
        assert_eq!(e.field(), Some("governor.messages_per_second"));
        let e = Governor::new(GovernorConfig::default().burst(0)).unwrap_err();
        assert_eq!(e.field(), Some("governor.burst"));
        let e = Governor::new(GovernorConfig::default().pair_rate(Some(Duration::ZERO), 1))
            .unwrap_err();
        assert_eq!(e.field(), Some("governor.pair_interval"));
    }
}
