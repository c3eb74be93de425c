//! Delivery hygiene: see each message and status once, and never move a
//! message's state backwards.
//!
//! 360dialog delivers at least once, retries for up to 7 days and does not
//! keep order (docs/360dialog-api.md §7.1). Two small tools handle that:
//!
//! - [`Deduper`] drops repeated events. Keys: a message's id; a status's
//!   `(id, status)`; anything else a SHA-256 of its canonical JSON. It sits on
//!   a [`DedupeStore`]; [`MemoryDedupe`] is bounded (oldest evicted first) and
//!   forgets keys after a TTL (default 7 days, 100 000 keys).
//! - [`StatusFold`] keeps the furthest status of each outbound message
//!   (`sent` < `delivered` < `read` < `played`) and reports only updates that
//!   move it forward; `failed` is a separate flag kept with its errors and
//!   reported even after `sent` or `delivered`; unknown status values are
//!   passed through without changing the state. It sits on a [`StatusStore`].
//!
//! Memory is bounded in bytes, not only in keys: a key holds at most
//! [`MAX_KEY_TEXT`] (128) bytes of text (a longer id is replaced by its
//! SHA-256), and a folded state at most [`MAX_FOLD_ERRORS_BYTES`] of errors.
//! Counting the key's two copies (map and write-order queue, which may hold
//! up to twice the capacity in stale entries) and the containers' overhead,
//! one remembered key costs at most about 700 bytes: about 70 MB for the
//! default 100 000 keys whatever the senders put in their ids (computed from
//! the layout, not measured). A folded state adds at most about 4 KiB of
//! error text (more as parsed values), so size the fold's capacity with that.
//!
//! Both stores are traits so a shared store (Redis, a database) can replace
//! the in-memory one when several processes receive webhooks. Time comes from
//! a [`Clock`], so tests can move it without sleeping.
//!
//! ```
//! use wa360::webhook::{dedupe::{Deduper, StatusFold}, parse, testing};
//! let dedupe = Deduper::memory();
//! let fold = StatusFold::memory();
//! let body = testing::status("wamid.A", "delivered", "15555550123").to_string();
//! let first = fold.filter(dedupe.filter(parse(body.as_bytes())?));
//! assert_eq!(first.len(), 1);
//! // The same delivery again: nothing new.
//! assert!(dedupe.filter(parse(body.as_bytes())?).is_empty());
//! // A late `sent` after `delivered`: dropped by the fold.
//! let late = testing::status("wamid.A", "sent", "15555550123").to_string();
//! assert!(fold.filter(dedupe.filter(parse(late.as_bytes())?)).is_empty());
//! # Ok::<(), wa360::Error>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::events::{Event, EventKind, StatusUpdate};
use crate::util::lock;

/// Default time a key is remembered: 7 days, 360dialog's redelivery window.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Default number of keys kept in memory.
pub const DEFAULT_CAPACITY: usize = 100_000;

// ---------------------------------------------------------------- clock

/// A source of time for the in-memory stores.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to: for tests.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock stopped at the current instant.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Move the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut off = lock(&self.offset);
        *off = off.saturating_add(d);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let off = *lock(&self.offset);
        self.start.checked_add(off).unwrap_or(self.start)
    }
}

// ---------------------------------------------------------------- bounded TTL map

/// A map with a TTL per entry (from its last write) and a capacity that
/// evicts the oldest write first. Hand-written (a `HashMap` plus a write-order
/// queue) because it is small and the lru/TTL crates do not combine both
/// rules with an injectable clock.
struct TtlMap<K, V> {
    map: HashMap<K, (Instant, V)>,
    /// Write order; entries whose instant no longer matches the map are stale.
    order: VecDeque<(K, Instant)>,
    capacity: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone, V> TtlMap<K, V> {
    fn new(capacity: usize, ttl: Duration) -> Self {
        TtlMap {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            ttl,
        }
    }

    fn pop_oldest(&mut self) -> bool {
        while let Some((k, t)) = self.order.pop_front() {
            if self.map.get(&k).is_some_and(|(at, _)| *at == t) {
                self.map.remove(&k);
                return true;
            }
        }
        false
    }

    fn purge(&mut self, now: Instant) {
        while let Some((k, t)) = self.order.front() {
            if now.saturating_duration_since(*t) < self.ttl {
                break;
            }
            if self.map.get(k).is_some_and(|(at, _)| at == t) {
                self.map.remove(k);
            }
            self.order.pop_front();
        }
    }

    fn get(&mut self, key: &K, now: Instant) -> Option<&V> {
        self.purge(now);
        self.map.get(key).map(|(_, v)| v)
    }

    fn insert(&mut self, key: K, value: V, now: Instant) {
        self.purge(now);
        self.order.push_back((key.clone(), now));
        self.map.insert(key, (now, value));
        while self.map.len() > self.capacity {
            if !self.pop_oldest() {
                break;
            }
        }
        // Rewrites of one key leave stale queue entries; drop them when they
        // outnumber live ones so memory stays bounded by the capacity.
        if self.order.len() > 2 * self.capacity + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, t)| map.get(k).is_some_and(|(at, _)| at == t));
        }
    }

    fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    fn len(&mut self, now: Instant) -> usize {
        self.purge(now);
        self.map.len()
    }
}

// ---------------------------------------------------------------- dedupe

/// What identifies one delivery of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DedupeKey {
    /// An inbound message, by its id (wamid).
    Message(String),
    /// A status update, by message id and status value.
    Status {
        /// The message id.
        id: String,
        /// The status value (`delivered`, …).
        status: String,
    },
    /// Any other event: SHA-256 of its canonical JSON.
    Digest([u8; 32]),
}

impl DedupeKey {
    /// The key of an inbound message.
    pub fn message(id: impl Into<String>) -> Self {
        DedupeKey::Message(id.into())
    }

    /// The key of a status update.
    pub fn status(id: impl Into<String>, status: impl Into<String>) -> Self {
        DedupeKey::Status {
            id: id.into(),
            status: status.into(),
        }
    }

    /// The key of a parsed event: see [`dedupe_key`].
    pub fn of_event(event: &Event) -> Self {
        dedupe_key(event)
    }

    /// The digest key of any JSON value: SHA-256 of its compact text with
    /// object keys sorted (so the same value gives the same key whatever its
    /// key order, e.g. an event object read back from JavaScript).
    pub fn of_value(value: &Value) -> Self {
        let mut h = Sha256::new();
        h.update(b"v:");
        hash_sorted(&mut h, value);
        DedupeKey::Digest(h.finalize().into())
    }
}

/// Longest id (message key) or id + status (status key) kept as text in a
/// [`DedupeKey`]; longer ones are replaced by their SHA-256, so one key never
/// holds more than this many bytes of text however long the wire id is.
pub const MAX_KEY_TEXT: usize = 128;

fn digest(parts: &[&[u8]]) -> DedupeKey {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    DedupeKey::Digest(h.finalize().into())
}

/// The dedupe key of a parsed event. The one key function of wa360: the
/// [`Deduper`] and any durable store of seen events use it.
///
/// - a message with a string `id`: [`DedupeKey::Message`] of the id;
/// - a status with string `id` and `status`: [`DedupeKey::Status`];
/// - (either of those when the text is over [`MAX_KEY_TEXT`] bytes: the
///   SHA-256 of it, tagged so a message and a status never share a key);
/// - anything else (id-less messages and statuses, errors, field updates,
///   unknown pieces): SHA-256 of the event's canonical JSON text, which is
///   written from the wire bytes of its pieces (never from a re-parsed value),
///   so two events that differ on the wire never share a key.
pub fn dedupe_key(event: &Event) -> DedupeKey {
    match event.event_kind() {
        EventKind::Message(m) => {
            if let Some(id) = m.id() {
                return if id.len() <= MAX_KEY_TEXT {
                    DedupeKey::message(id)
                } else {
                    digest(&[b"m", id.as_bytes()])
                };
            }
        }
        EventKind::Status(s) => {
            if let (Some(id), Some(st)) = (s.id(), s.status()) {
                return if id.len() + st.len() <= MAX_KEY_TEXT {
                    DedupeKey::status(id, st)
                } else {
                    digest(&[b"s", st.as_bytes(), id.as_bytes()])
                };
            }
        }
        _ => {}
    }
    // Writing the canonical form cannot fail (string keys, wire text copied);
    // should it ever, the debug form (which also carries the wire text) is used.
    let text = serde_json::to_vec(&event.canonical())
        .unwrap_or_else(|_| format!("{event:?}").into_bytes());
    digest(&[b"c", &text])
}

/// Feed `v` to `h` as compact JSON with object keys sorted.
fn hash_sorted(h: &mut Sha256, v: &Value) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            h.update(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                h.update(Value::String(k.clone()).to_string().as_bytes());
                h.update(b":");
                hash_sorted(h, &m[k]);
            }
            h.update(b"}");
        }
        Value::Array(a) => {
            h.update(b"[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                hash_sorted(h, x);
            }
            h.update(b"]");
        }
        other => h.update(other.to_string().as_bytes()),
    }
}

impl fmt::Display for DedupeKey {
    /// An unambiguous string form for external stores: `m:<id>`,
    /// `s:<status length>:<status>:<id>`, `h:<hex digest>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DedupeKey::Message(id) => write!(f, "m:{id}"),
            DedupeKey::Status { id, status } => write!(f, "s:{}:{status}:{id}", status.len()),
            DedupeKey::Digest(d) => {
                f.write_str("h:")?;
                d.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// Where a [`Deduper`] remembers keys. Implement it over a shared store to
/// dedupe across processes; `check_and_record` must be atomic.
pub trait DedupeStore: Send + Sync {
    /// Record `key`; `true` when it was already recorded and has not expired
    /// (a duplicate).
    fn check_and_record(&self, key: &DedupeKey) -> bool;
    /// Forget `key`, e.g. when handling the event failed and its redelivery
    /// should be processed.
    fn forget(&self, key: &DedupeKey);
}

/// The in-memory [`DedupeStore`]: bounded, oldest evicted first, TTL from the
/// first sighting.
pub struct MemoryDedupe {
    inner: Mutex<TtlMap<DedupeKey, ()>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryDedupe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = lock(&self.inner);
        f.debug_struct("MemoryDedupe")
            .field("capacity", &m.capacity)
            .field("ttl", &m.ttl)
            .field("entries", &m.map.len())
            .finish()
    }
}

impl MemoryDedupe {
    /// At most `capacity` keys (at least 1), each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        MemoryDedupe::with_clock(capacity, ttl, Arc::new(SystemClock))
    }

    /// [`MemoryDedupe::new`] reading time from `clock`.
    pub fn with_clock(capacity: usize, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        MemoryDedupe {
            inner: Mutex::new(TtlMap::new(capacity, ttl)),
            clock,
        }
    }

    /// Keys currently remembered (expired ones are dropped first).
    pub fn len(&self) -> usize {
        lock(&self.inner).len(self.clock.now())
    }

    /// `true` when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryDedupe {
    fn default() -> Self {
        MemoryDedupe::new(DEFAULT_CAPACITY, DEFAULT_TTL)
    }
}

impl DedupeStore for MemoryDedupe {
    fn check_and_record(&self, key: &DedupeKey) -> bool {
        let now = self.clock.now();
        let mut m = lock(&self.inner);
        if m.get(key, now).is_some() {
            return true;
        }
        m.insert(key.clone(), (), now);
        false
    }

    fn forget(&self, key: &DedupeKey) {
        lock(&self.inner).remove(key);
    }
}

/// Drops events already seen. Cheap to clone (shares its store).
#[derive(Clone)]
pub struct Deduper {
    store: Arc<dyn DedupeStore>,
}

impl fmt::Debug for Deduper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deduper")
    }
}

impl Default for Deduper {
    fn default() -> Self {
        Deduper::memory()
    }
}

impl Deduper {
    /// A deduper over `store`.
    pub fn new(store: impl DedupeStore + 'static) -> Self {
        Deduper {
            store: Arc::new(store),
        }
    }

    /// A deduper over a default [`MemoryDedupe`] (100 000 keys, 7 days).
    pub fn memory() -> Self {
        Deduper::new(MemoryDedupe::default())
    }

    /// Record `key`; `true` when it was seen before (a duplicate).
    pub fn seen(&self, key: &DedupeKey) -> bool {
        let seen = self.store.check_and_record(key);
        if seen {
            tracing::debug!(key = ?key, "duplicate webhook event dropped");
        }
        seen
    }

    /// Record `event`; `true` the first time it is seen.
    pub fn is_new(&self, event: &Event) -> bool {
        !self.seen(&DedupeKey::of_event(event))
    }

    /// Keep only the events not seen before, in order (duplicates within the
    /// batch are dropped too).
    pub fn filter(&self, events: Vec<Event>) -> Vec<Event> {
        events.into_iter().filter(|e| self.is_new(e)).collect()
    }

    /// Forget `event` so that its redelivery is processed again (call it when
    /// handling failed).
    pub fn forget(&self, event: &Event) {
        self.store.forget(&DedupeKey::of_event(event));
    }
}

// ---------------------------------------------------------------- status fold

/// The rank of a progress status: `sent` 1, `delivered` 2, `read` 3,
/// `played` 4; `None` for `failed` and unknown values.
pub fn status_rank(status: &str) -> Option<u8> {
    match status {
        "sent" => Some(1),
        "delivered" => Some(2),
        "read" => Some(3),
        "played" => Some(4),
        _ => None,
    }
}

/// What is known about one outbound message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageState {
    /// The furthest progress status seen (`sent` … `played`).
    pub status: Option<String>,
    /// Timestamp of that status, when it had one.
    pub timestamp: Option<i64>,
    /// A `failed` status was seen.
    pub failed: bool,
    /// The errors of the first `failed` status.
    pub errors: Vec<Value>,
}

/// What a status update did to the state of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldOutcome {
    /// The first status of the message, or further than before: report it.
    Advanced,
    /// The first `failed` status: report it (also after `sent` / `delivered`).
    Failed,
    /// A status value the SDK does not rank: reported, state unchanged.
    Unrecognised,
    /// The same status (rank) again, or a repeated failure: drop it.
    Duplicate,
    /// Behind what is already known (e.g. `sent` after `read`): drop it.
    Stale,
}

impl FoldOutcome {
    /// The name the bindings return: `advanced`, `failed`, `unrecognised`, `duplicate`,
    /// `stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            FoldOutcome::Advanced => "advanced",
            FoldOutcome::Failed => "failed",
            FoldOutcome::Unrecognised => "unrecognised",
            FoldOutcome::Duplicate => "duplicate",
            FoldOutcome::Stale => "stale",
        }
    }

    /// `true` for updates worth handing to the application.
    pub fn is_reportable(self) -> bool {
        matches!(
            self,
            FoldOutcome::Advanced | FoldOutcome::Failed | FoldOutcome::Unrecognised
        )
    }
}

/// The fold itself, pure: the outcome of `status` (with its `timestamp` and
/// `errors`) on `prev`, and the new state to store (`None` = unchanged).
/// Shared stores call this inside their atomic update.
pub fn fold_status(
    prev: Option<&MessageState>,
    status: &str,
    timestamp: Option<i64>,
    errors: &[Value],
) -> (FoldOutcome, Option<MessageState>) {
    if status == "failed" {
        if prev.is_some_and(|p| p.failed) {
            return (FoldOutcome::Duplicate, None);
        }
        let mut next = prev.cloned().unwrap_or_default();
        next.failed = true;
        next.errors = bounded_errors(errors);
        return (FoldOutcome::Failed, Some(next));
    }
    let Some(rank) = status_rank(status) else {
        return (FoldOutcome::Unrecognised, None);
    };
    let prev_rank = prev
        .and_then(|p| p.status.as_deref())
        .and_then(status_rank)
        .unwrap_or(0);
    if rank == prev_rank {
        return (FoldOutcome::Duplicate, None);
    }
    if rank < prev_rank {
        return (FoldOutcome::Stale, None);
    }
    let mut next = prev.cloned().unwrap_or_default();
    next.status = Some(status.to_string());
    next.timestamp = timestamp;
    (FoldOutcome::Advanced, Some(next))
}

/// Most bytes of `errors` (as compact JSON) a folded state keeps: the
/// leading error objects that fit; the rest are dropped (the status event
/// itself still carries them all).
pub const MAX_FOLD_ERRORS_BYTES: usize = 4096;

fn bounded_errors(errors: &[Value]) -> Vec<Value> {
    let mut total = 0;
    errors
        .iter()
        .take_while(|e| {
            total += e.to_string().len();
            total <= MAX_FOLD_ERRORS_BYTES
        })
        .cloned()
        .collect()
}

/// The in-memory fold's key of a message id: the id, or its SHA-256 when it
/// is over [`MAX_KEY_TEXT`] bytes (so a key's size is bounded).
#[derive(Clone, PartialEq, Eq, Hash)]
enum FoldKey {
    Id(String),
    Digest([u8; 32]),
}

impl FoldKey {
    fn of(message_id: &str) -> Self {
        if message_id.len() <= MAX_KEY_TEXT {
            FoldKey::Id(message_id.to_owned())
        } else {
            FoldKey::Digest(Sha256::digest(message_id.as_bytes()).into())
        }
    }
}

/// Where a [`StatusFold`] keeps message states. Implement it over a shared
/// store to fold across processes.
pub trait StatusStore: Send + Sync {
    /// The state of `message_id`, if known.
    fn get(&self, message_id: &str) -> Option<MessageState>;
    /// Atomically: read the state of `message_id` (`None` = unknown), call
    /// `f`, and store the state it returns (`None` = leave unchanged).
    fn update(
        &self,
        message_id: &str,
        f: &mut dyn FnMut(Option<&MessageState>) -> Option<MessageState>,
    );
}

/// The in-memory [`StatusStore`]: bounded (oldest write evicted first), each
/// message forgotten `ttl` after its last change.
pub struct MemoryStatusStore {
    inner: Mutex<TtlMap<FoldKey, MessageState>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryStatusStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = lock(&self.inner);
        f.debug_struct("MemoryStatusStore")
            .field("capacity", &m.capacity)
            .field("ttl", &m.ttl)
            .field("entries", &m.map.len())
            .finish()
    }
}

impl MemoryStatusStore {
    /// At most `capacity` messages (at least 1), each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        MemoryStatusStore::with_clock(capacity, ttl, Arc::new(SystemClock))
    }

    /// [`MemoryStatusStore::new`] reading time from `clock`.
    pub fn with_clock(capacity: usize, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        MemoryStatusStore {
            inner: Mutex::new(TtlMap::new(capacity, ttl)),
            clock,
        }
    }
}

impl Default for MemoryStatusStore {
    fn default() -> Self {
        MemoryStatusStore::new(DEFAULT_CAPACITY, DEFAULT_TTL)
    }
}

impl StatusStore for MemoryStatusStore {
    fn get(&self, message_id: &str) -> Option<MessageState> {
        let now = self.clock.now();
        lock(&self.inner)
            .get(&FoldKey::of(message_id), now)
            .cloned()
    }

    fn update(
        &self,
        message_id: &str,
        f: &mut dyn FnMut(Option<&MessageState>) -> Option<MessageState>,
    ) {
        let now = self.clock.now();
        let key = FoldKey::of(message_id);
        let mut m = lock(&self.inner);
        if let Some(next) = f(m.get(&key, now)) {
            m.insert(key, next, now);
        }
    }
}

/// Folds status updates so a message never moves backwards. Cheap to clone
/// (shares its store).
#[derive(Clone)]
pub struct StatusFold {
    store: Arc<dyn StatusStore>,
}

impl fmt::Debug for StatusFold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatusFold")
    }
}

impl Default for StatusFold {
    fn default() -> Self {
        StatusFold::memory()
    }
}

impl StatusFold {
    /// A fold over `store`.
    pub fn new(store: impl StatusStore + 'static) -> Self {
        StatusFold {
            store: Arc::new(store),
        }
    }

    /// A fold over a default [`MemoryStatusStore`] (100 000 messages, 7 days).
    pub fn memory() -> Self {
        StatusFold::new(MemoryStatusStore::default())
    }

    /// Apply one status of `message_id`.
    pub fn apply(
        &self,
        message_id: &str,
        status: &str,
        timestamp: Option<i64>,
        errors: &[Value],
    ) -> FoldOutcome {
        let mut outcome = FoldOutcome::Unrecognised;
        self.store.update(message_id, &mut |prev| {
            let (o, next) = fold_status(prev, status, timestamp, errors);
            outcome = o;
            next
        });
        outcome
    }

    /// Apply a parsed status update; one without an id or a status value is
    /// passed through as [`FoldOutcome::Unrecognised`].
    pub fn apply_update(&self, update: &StatusUpdate) -> FoldOutcome {
        match (update.id(), update.status()) {
            (Some(id), Some(status)) => self.apply(id, status, update.timestamp(), update.errors()),
            _ => FoldOutcome::Unrecognised,
        }
    }

    /// The folded state of `message_id`.
    pub fn state(&self, message_id: &str) -> Option<MessageState> {
        self.store.get(message_id)
    }

    /// Keep every non-status event and the status events that are
    /// reportable ([`FoldOutcome::is_reportable`]), in order.
    pub fn filter(&self, events: Vec<Event>) -> Vec<Event> {
        events
            .into_iter()
            .filter(|e| {
                e.as_status()
                    .is_none_or(|s| self.apply_update(s).is_reportable())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::{parse, testing};
    use serde_json::json;

    fn events(body: &Value) -> Vec<Event> {
        parse(body.to_string().as_bytes()).unwrap()
    }

    /// One `messages` change holding `items` (raw JSON text) under `key`.
    fn raw_change(key: &str, items: &str) -> Vec<Event> {
        let body = format!(
            r#"{{"entry":[{{"id":"W","changes":[{{"field":"messages","value":{{"{key}":[{items}]}}}}]}}]}}"#
        );
        parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn digest_keys_come_from_the_wire_text_and_never_collide() {
        // Issue 16 item 3: id-less messages, errors, field updates and unknown
        // pieces whose values no language can hold all used to get the digest
        // of `null`, so the Deduper dropped distinct events as duplicates.
        let bodies = [
            raw_change("messages", r#"{"type":"text","text":{"body":"\ud800a"}}"#),
            raw_change("messages", r#"{"type":"text","text":{"body":"\ud800b"}}"#),
            raw_change("messages", r#"{"type":"text","text":{"n":1e400}}"#),
            raw_change("messages", r#"{"type":"text","text":{"n":1e401}}"#),
            raw_change(
                "messages",
                &format!(r#"{{"type":"text","text":{{"n":{}}}}}"#, "9".repeat(400)),
            ),
            raw_change(
                "messages",
                &format!(r#"{{"type":"text","text":{{"n":{}}}}}"#, "8".repeat(400)),
            ),
            raw_change("errors", r#"{"code":1e400}"#),
            raw_change("errors", r#"{"code":2e400}"#),
            raw_change("messages", "1e400"),
            raw_change("messages", "2e400"),
        ];
        let d = Deduper::memory();
        let mut keys = std::collections::HashSet::new();
        for evs in &bodies {
            assert_eq!(evs.len(), 1);
            assert!(keys.insert(dedupe_key(&evs[0])), "{:?}", evs[0]);
            assert!(d.is_new(&evs[0]));
        }
        // The same event again is still a duplicate.
        assert!(!d.is_new(&bodies[0][0]));
    }

    #[test]
    fn long_ids_are_hashed_so_a_key_has_bounded_size() {
        let long = "w".repeat(10_000);
        let ev = raw_change("messages", &format!(r#"{{"id":"{long}","type":"text"}}"#));
        let key = dedupe_key(&ev[0]);
        assert!(matches!(key, DedupeKey::Digest(_)), "{key}");
        let other = raw_change("messages", &format!(r#"{{"id":"{long}x","type":"text"}}"#));
        assert_ne!(key, dedupe_key(&other[0]));
        // A message and a status with the same long id never share a key.
        let st = raw_change("statuses", &format!(r#"{{"id":"{long}","status":"m"}}"#));
        assert_ne!(key, dedupe_key(&st[0]));
        assert!(matches!(dedupe_key(&st[0]), DedupeKey::Digest(_)));
        // Ids up to the limit stay readable.
        let short = "w".repeat(MAX_KEY_TEXT);
        let ev = raw_change("messages", &format!(r#"{{"id":"{short}","type":"text"}}"#));
        assert_eq!(dedupe_key(&ev[0]), DedupeKey::message(short));
        // The fold hashes long ids too and still finds them.
        let fold = StatusFold::memory();
        let st = raw_change("statuses", &format!(r#"{{"id":"{long}","status":"read"}}"#));
        assert_eq!(
            fold.apply_update(st[0].as_status().unwrap()),
            FoldOutcome::Advanced
        );
        assert_eq!(fold.state(&long).unwrap().status.as_deref(), Some("read"));
        assert!(fold.state(&format!("{long}x")).is_none());
    }

    #[test]
    fn fold_keeps_a_bounded_amount_of_errors() {
        let big: Vec<Value> = (0..100)
            .map(|i| json!({"code": i, "title": "x".repeat(200)}))
            .collect();
        let fold = StatusFold::memory();
        assert_eq!(
            fold.apply("wamid.E", "failed", None, &big),
            FoldOutcome::Failed
        );
        let kept = fold.state("wamid.E").unwrap().errors;
        assert!(!kept.is_empty() && kept.len() < big.len(), "{}", kept.len());
        let bytes: usize = kept.iter().map(|e| e.to_string().len()).sum();
        assert!(bytes <= MAX_FOLD_ERRORS_BYTES, "{bytes}");
        assert_eq!(kept[..], big[..kept.len()]);
    }

    #[test]
    fn value_digest_ignores_key_order() {
        assert_eq!(
            DedupeKey::of_value(&json!({"a": 1, "b": [{"c": 2, "d": 3}]})),
            DedupeKey::of_value(&json!({"b": [{"d": 3, "c": 2}], "a": 1}))
        );
        assert_ne!(
            DedupeKey::of_value(&json!({"a": 1})),
            DedupeKey::of_value(&json!({"a": 2}))
        );
    }

    #[test]
    fn dedupe_by_message_id_and_status_pair() {
        let d = Deduper::memory();
        assert!(!d.seen(&DedupeKey::message("wamid.1")));
        assert!(d.seen(&DedupeKey::message("wamid.1")));
        assert!(!d.seen(&DedupeKey::status("wamid.1", "sent")));
        assert!(!d.seen(&DedupeKey::status("wamid.1", "delivered")));
        assert!(d.seen(&DedupeKey::status("wamid.1", "sent")));
    }

    #[test]
    fn filter_drops_redeliveries_and_in_batch_duplicates() {
        let d = Deduper::memory();
        let msg = testing::inbound_text("15555550123", "hi", "wamid.M");
        let st = testing::status("wamid.S", "read", "15555550123");
        let err = testing::value_error(131000, "Something went wrong", "x");
        let batch = testing::batch(&[msg.clone(), st.clone(), msg.clone(), err.clone()]);
        let kept = d.filter(events(&batch));
        assert_eq!(
            kept.iter().map(Event::kind).collect::<Vec<_>>(),
            ["message", "status", "error"]
        );
        assert!(d.filter(events(&st)).is_empty());
        assert!(d.filter(events(&err)).is_empty());
        // A different status of the same message is new.
        let st2 = testing::status("wamid.S", "played", "15555550123");
        assert_eq!(d.filter(events(&st2)).len(), 1);
        // Forgetting lets a redelivery through.
        let e = events(&msg).remove(0);
        d.forget(&e);
        assert!(d.is_new(&e));
    }

    #[test]
    fn ttl_expiry_without_sleeping() {
        let clock = Arc::new(ManualClock::new());
        let store = MemoryDedupe::with_clock(10, Duration::from_secs(60), clock.clone());
        let k = DedupeKey::message("a");
        assert!(!store.check_and_record(&k));
        clock.advance(Duration::from_secs(59));
        assert!(store.check_and_record(&k));
        clock.advance(Duration::from_secs(1));
        assert!(!store.check_and_record(&k), "expired after the TTL");
        assert_eq!(store.len(), 1);
        clock.advance(Duration::from_secs(60));
        assert!(store.is_empty());
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let clock = Arc::new(ManualClock::new());
        let store = MemoryDedupe::with_clock(3, DEFAULT_TTL, clock.clone());
        for id in ["a", "b", "c", "d"] {
            clock.advance(Duration::from_secs(1));
            assert!(!store.check_and_record(&DedupeKey::message(id)));
        }
        assert_eq!(store.len(), 3);
        // "a" was evicted, so it looks new again (and evicts "b").
        assert!(!store.check_and_record(&DedupeKey::message("a")));
        assert!(store.check_and_record(&DedupeKey::message("d")));
        assert!(!store.check_and_record(&DedupeKey::message("b")));
    }

    #[test]
    fn keys_have_unambiguous_strings() {
        assert_eq!(DedupeKey::message("w").to_string(), "m:w");
        assert_ne!(
            DedupeKey::status("b:c", "a").to_string(),
            DedupeKey::status("c", "a:b").to_string()
        );
        let e = events(&testing::value_error(1, "t", "d")).remove(0);
        let s = DedupeKey::of_event(&e).to_string();
        assert!(s.starts_with("h:") && s.len() == 2 + 64, "{s}");
    }

    #[test]
    fn fold_never_moves_backwards() {
        let f = StatusFold::memory();
        assert_eq!(
            f.apply("w", "delivered", Some(2), &[]),
            FoldOutcome::Advanced
        );
        assert_eq!(f.apply("w", "sent", Some(1), &[]), FoldOutcome::Stale);
        assert_eq!(
            f.apply("w", "delivered", Some(2), &[]),
            FoldOutcome::Duplicate
        );
        // `read` may come without `delivered`; `played` after `read`.
        assert_eq!(f.apply("x", "read", Some(3), &[]), FoldOutcome::Advanced);
        assert_eq!(f.apply("x", "delivered", Some(2), &[]), FoldOutcome::Stale);
        assert_eq!(f.apply("x", "played", Some(4), &[]), FoldOutcome::Advanced);
        assert_eq!(f.apply("x", "read", Some(3), &[]), FoldOutcome::Stale);
        let s = f.state("x").unwrap();
        assert_eq!(
            (s.status.as_deref(), s.timestamp),
            (Some("played"), Some(4))
        );
    }

    #[test]
    fn failed_is_kept_with_errors_and_reported_after_sent() {
        let f = StatusFold::memory();
        assert_eq!(f.apply("w", "sent", Some(1), &[]), FoldOutcome::Advanced);
        let errs = [json!({"code": 131026, "title": "Message undeliverable"})];
        assert_eq!(f.apply("w", "failed", Some(2), &errs), FoldOutcome::Failed);
        assert_eq!(
            f.apply("w", "failed", Some(2), &errs),
            FoldOutcome::Duplicate
        );
        let s = f.state("w").unwrap();
        assert!(s.failed);
        assert_eq!(s.errors, errs.to_vec());
        assert_eq!(s.status.as_deref(), Some("sent"));
        assert_eq!(f.apply("w", "sent", Some(1), &[]), FoldOutcome::Duplicate);
    }

    #[test]
    fn unknown_statuses_pass_through_without_moving_state() {
        let f = StatusFold::memory();
        assert_eq!(
            f.apply("w", "deleted", None, &[]),
            FoldOutcome::Unrecognised
        );
        assert!(f.state("w").is_none());
        f.apply("w", "read", None, &[]);
        assert_eq!(
            f.apply("w", "deleted", None, &[]),
            FoldOutcome::Unrecognised
        );
        assert_eq!(f.state("w").unwrap().status.as_deref(), Some("read"));
    }

    #[test]
    fn fold_filter_on_parsed_events_keeps_non_status_events() {
        let f = StatusFold::memory();
        let batch = testing::batch(&[
            testing::status("wamid.A", "read", "15555550123"),
            testing::inbound_text("15555550123", "hi", "wamid.M"),
            testing::status("wamid.A", "delivered", "15555550123"),
            testing::status("wamid.A", "failed", "15555550123"),
            testing::status("wamid.A", "deleted", "15555550123"),
        ]);
        let kept = f.filter(events(&batch));
        let shape: Vec<(String, Option<String>)> = kept
            .iter()
            .map(|e| {
                (
                    e.kind().to_string(),
                    e.as_status().and_then(|s| s.status()).map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("status".to_string(), Some("read".to_string())),
                ("message".to_string(), None),
                ("status".to_string(), Some("failed".to_string())),
                ("status".to_string(), Some("deleted".to_string())),
            ]
        );
        assert_eq!(f.state("wamid.A").unwrap().errors[0]["code"], 131026);
    }

    #[test]
    fn status_store_ttl_and_capacity() {
        let clock = Arc::new(ManualClock::new());
        let store = MemoryStatusStore::with_clock(2, Duration::from_secs(10), clock.clone());
        let f = StatusFold::new(store);
        f.apply("a", "read", None, &[]);
        clock.advance(Duration::from_secs(11));
        assert!(f.state("a").is_none(), "forgotten after the TTL");
        assert_eq!(f.apply("a", "sent", None, &[]), FoldOutcome::Advanced);
        f.apply("b", "sent", None, &[]);
        f.apply("c", "sent", None, &[]);
        assert!(f.state("a").is_none(), "oldest evicted");
        assert!(f.state("b").is_some() && f.state("c").is_some());
    }

    #[test]
    fn rewrites_of_one_key_keep_memory_bounded() {
        let mut m: TtlMap<String, u32> = TtlMap::new(4, DEFAULT_TTL);
        let t = Instant::now();
        for i in 0..1000 {
            m.insert("k".to_string(), i, t + Duration::from_millis(i.into()));
        }
        assert!(m.order.len() <= 2 * 4 + 17, "{}", m.order.len());
        assert_eq!(
            m.get(&"k".to_string(), t + Duration::from_secs(1)),
            Some(&999)
        );
    }

    proptest::proptest! {
        /// Whatever order and repetition statuses arrive in, the reported
        /// progress statuses strictly rise, at most one failure is reported,
        /// and the final state is the furthest status seen.
        #[test]
        fn fold_is_monotone_for_any_arrival_order(
            seq in proptest::collection::vec(0usize..6, 0..40)
        ) {
            const ALL: [&str; 6] = ["sent", "delivered", "read", "played", "failed", "deleted"];
            let f = StatusFold::memory();
            let mut last_rank = 0u8;
            let mut failures = 0;
            let mut max_rank = 0u8;
            for i in seq {
                let st = ALL[i];
                let outcome = f.apply("w", st, None, &[]);
                if let Some(r) = status_rank(st) {
                    max_rank = max_rank.max(r);
                    if outcome == FoldOutcome::Advanced {
                        proptest::prop_assert!(r > last_rank);
                        last_rank = r;
                    } else {
                        proptest::prop_assert!(r <= last_rank);
                    }
                } else if st == "failed" {
                    if outcome == FoldOutcome::Failed {
                        failures += 1;
                    }
                } else {
                    proptest::prop_assert_eq!(outcome, FoldOutcome::Unrecognised);
                }
            }
            proptest::prop_assert!(failures <= 1);
            let state = f.state("w");
            let got = state.as_ref().and_then(|s| s.status.as_deref()).and_then(status_rank).unwrap_or(0);
            proptest::prop_assert_eq!(got, max_rank);
        }
    }
}
