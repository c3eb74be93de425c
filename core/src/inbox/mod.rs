//! The durable webhook inbox: events are stored before the receiver answers
//! `200`, then handed to the application's handler at least once.
//!
//! What an inbox does (every backend, same rules):
//!
//! - **Accept** ([`Inbox::accept`]) stores the new events of one delivery in
//!   one atomic step, deduplicated by [`DedupeKey::of_event`] (a message by
//!   its id, a status by id + status, anything else by a digest of its
//!   canonical JSON). Duplicates are counted, not stored. Status updates go
//!   through the status fold ([`fold_status`]): one that would move a message
//!   backwards (`sent` after `read`) or repeat one is counted as stale and not
//!   stored; `failed` is kept with its errors. The write is durable when
//!   `accept` returns.
//! - **Claim** ([`Inbox::claim`]) hands events to a consumer under a lease.
//!   Events of one conversation (business number + contact) are handed out
//!   one at a time, in the order they were accepted; different
//!   conversations run in parallel. While a consumer holds a lease it renews
//!   it ([`Inbox::extend`]); a consumer that dies stops renewing, its leases
//!   expire and the events go to another consumer.
//! - **Ack / nack** ([`Inbox::ack`], [`Inbox::nack`]): an acknowledged event
//!   is removed; a failed one is retried with exponential backoff, and after
//!   `max_attempts` claims it becomes a dead letter ([`Inbox::dead`],
//!   [`Inbox::replay`], [`Inbox::drop_dead`]). [`Inbox::release`] gives an
//!   event back without counting an attempt (graceful shutdown).
//! - **Retention**: dedupe keys and folded statuses are kept for 7 days by
//!   default (360dialog redelivers for days); handled events are deleted at
//!   ack; [`Inbox::prune`] drops expired keys.
//!
//! Backends are chosen by URL with [`open`]: `memory://` (one process, not
//! durable: an in-memory SQLite database) and `sqlite:///abs/path.db` (the
//! embedded default: WAL, safe for several processes on one machine). The
//! trait is shaped so that a Redis Streams backend maps onto it: accept =
//! `SET NX` on the keys + `XADD`; claim = `XREADGROUP` + `XAUTOCLAIM` of
//! entries idle past the lease; extend = `XCLAIM … JUSTID`; ack = `XACK`;
//! entry ids are opaque strings.
//!
//! Options ride on the URL's query (`sqlite:///var/lib/app/inbox.db?max_attempts=5`):
//! `lease_ms`, `max_attempts`, `retry_base_ms`, `retry_max_ms`,
//! `retention_s`, `busy_timeout_ms`. Unknown options are `invalid_argument`.

mod consumer;
mod observed;
mod redis_inbox;
mod shared;
mod sqlite;
pub mod testing;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use consumer::Consumer;
pub use observed::Observed;
pub use redis_inbox::RedisInbox;
pub use sqlite::SqliteInbox;

pub use crate::webhook::dedupe::{DedupeKey, fold_status};
use crate::webhook::{Event, EventKind};
use crate::{Error, Result};

/// Inbox settings; every field has a default and can be set on the URL.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxOptions {
    /// How long a claim is held without renewal before the event goes to
    /// another consumer (default 30 s; renewed every third of it).
    pub lease: Duration,
    /// Claims before an event that keeps failing becomes a dead letter
    /// (default 8).
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt (default 1 s).
    pub retry_base: Duration,
    /// Longest retry delay (default 5 min).
    pub retry_max: Duration,
    /// How long dedupe keys and folded statuses are kept (default 7 days).
    pub retention: Duration,
    /// How long to wait for a lock held by another process (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            lease: Duration::from_secs(30),
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            retention: crate::webhook::dedupe::DEFAULT_TTL,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl InboxOptions {
    /// The delay before retry number `attempt` (1-based): `retry_base *
    /// 2^(attempt-1)`, capped at `retry_max`, minus up to 20 % jitter so that
    /// failures of many events do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let d = self
            .retry_base
            .saturating_mul(1u32 << exp)
            .min(self.retry_max);
        d.mul_f64(1.0 - fastrand::f64() * 0.2)
    }
}

/// The outcome of accepting one delivery.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    /// The events stored (new, in delivery order): the ones the handler will see.
    pub events: Vec<Event>,
    /// Events already seen within the retention window, not stored again.
    pub duplicates: usize,
    /// Status updates dropped by the fold (behind or equal to what is known).
    pub stale: usize,
}

/// One claimed event.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The entry's id in the inbox (opaque; pass it to ack / nack / release).
    pub id: String,
    /// The event.
    pub event: Event,
    /// How many times it was claimed, this claim included (1 = first try). With Redis, an
    /// event a consumer's claim takes back from that same consumer (its lease lapsed while
    /// its call may still run) is handed out again as the same attempt, once per attempt.
    pub attempt: u32,
    /// The conversation it belongs to (`phone_number_id:contact`), if any.
    pub conversation: Option<String>,
}

/// What a nack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nacked {
    /// It will be handed out again after the delay.
    Retry(Duration),
    /// It used its last attempt and is now a dead letter.
    Dead,
    /// The consumer no longer held it (lease expired, already handled).
    NotHeld,
}

/// A dead letter: an event whose handler kept failing.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The entry's id.
    pub id: String,
    /// The event.
    pub event: Event,
    /// Attempts made.
    pub attempts: u32,
    /// The error the handler last reported.
    pub last_error: Option<String>,
    /// When it was accepted (Unix milliseconds).
    pub accepted_at_ms: i64,
}

/// Counts of what the inbox holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxStats {
    /// Waiting to be claimed (including waiting for a retry).
    pub ready: u64,
    /// Claimed by a consumer right now.
    pub in_flight: u64,
    /// Dead letters.
    pub dead: u64,
    /// Acknowledged since the store was created.
    pub handled: u64,
    /// Deliveries recognised as duplicates since the store was created.
    pub duplicates: u64,
    /// Status updates dropped by the fold since the store was created.
    pub stale: u64,
    /// Dedupe keys remembered.
    pub keys: u64,
}

/// A durable store of webhook events. All methods are synchronous and
/// thread-safe; they block on the store (bindings call them off their event
/// loops). See the module documentation for the rules every backend keeps.
pub trait Inbox: Send + Sync + fmt::Debug {
    /// Store the new events of one delivery (`events` = `parse(body)`)
    /// atomically; durable when it returns `Ok`. An `Err` means nothing was
    /// stored: answer 503 so that 360dialog delivers again.
    fn accept(&self, body: &[u8], events: &[Event]) -> Result<Accepted>;
    /// Claim up to `max` events for `consumer`, at most one per
    /// conversation, oldest first. Returns at once (possibly empty).
    fn claim(&self, consumer: &str, max: usize) -> Result<Vec<Delivery>>;
    /// Block until events may be ready (an accept, ack or release in this
    /// process, or a poll interval for other processes) or `timeout` passes.
    fn wait(&self, timeout: Duration);
    /// Renew the leases `consumer` holds on `ids` (the events it is handling, and those
    /// whose ack or nack the store refused, until it takes it: [`Consumer`]); returns how
    /// many.
    fn extend(&self, consumer: &str, ids: &[String]) -> Result<usize>;
    /// The handler succeeded: remove the event. `false` when the event was
    /// already handled (e.g. its lease expired and another consumer acked it).
    fn ack(&self, consumer: &str, id: &str) -> Result<bool>;
    /// The handler failed with `error`: retry later or dead-letter it.
    fn nack(&self, consumer: &str, id: &str, error: &str) -> Result<Nacked>;
    /// Give an event back unhandled without counting the attempt.
    fn release(&self, consumer: &str, id: &str) -> Result<bool>;
    /// Give back what `consumer` read ahead and never handed out, so that other consumers
    /// take it at once (a closing consumer; [`Consumer::close`]). Returns how many. A store
    /// that does not read ahead has nothing to give back (the default).
    fn release_unhanded(&self, consumer: &str) -> Result<usize> {
        let _ = consumer;
        Ok(0)
    }
    /// The events the store has handed to `consumer` and not yet seen acked, nacked or
    /// released. A store whose claim is one local transaction knows no more than the
    /// consumer does (the default: none to report); a remote one can hand events out and
    /// lose the reply (see [`Consumer::next`]).
    fn handed_out(&self, consumer: &str) -> Result<Vec<String>> {
        let _ = consumer;
        Ok(Vec::new())
    }
    /// Counts.
    fn stats(&self) -> Result<InboxStats>;
    /// `(ready, in_flight)` of [`Inbox::stats`] alone, for a caller that polls until the
    /// inbox is drained (Python `WebhookReceiver.join`): counting the dedupe keys, which
    /// the Redis inbox does by walking the keyspace, is left out.
    fn backlog(&self) -> Result<(u64, u64)> {
        let s = self.stats()?;
        Ok((s.ready, s.in_flight))
    }
    /// Up to `limit` dead letters, oldest first.
    fn dead(&self, limit: usize) -> Result<Vec<DeadLetter>>;
    /// Put dead letters back in line with fresh attempts: one by id, or all
    /// with `None`. Returns how many.
    fn replay(&self, id: Option<&str>) -> Result<usize>;
    /// Delete dead letters: one by id, or all with `None`. Returns how many.
    fn drop_dead(&self, id: Option<&str>) -> Result<usize>;
    /// Drop dedupe keys and folded statuses older than the retention.
    /// Returns how many rows went.
    fn prune(&self) -> Result<usize>;
    /// The options in force.
    fn options(&self) -> &InboxOptions;
    /// What the consumers of this handle did (handled, retried, dead-lettered), when it
    /// keeps count: the handles [`open`] returns ([`Observed`]) do; a bare backend does not.
    fn metrics(&self) -> Option<&crate::metrics::InboxMetrics> {
        None
    }
}

/// The conversation an event belongs to, for ordering: the business number
/// (`phone_number_id`) and the contact (sender of a message, recipient of a
/// status). `None` for events without a contact (errors, field updates).
pub fn conversation_of(event: &Event) -> Option<String> {
    let contact = match event.event_kind() {
        EventKind::Message(m) => m.from().or(m.from_user_id()),
        EventKind::Status(s) => s.recipient_id().or(s.recipient_user_id()),
        _ => None,
    }?;
    Some(format!(
        "{}:{contact}",
        event.phone_number_id().unwrap_or_default()
    ))
}

/// Open an inbox by URL (the handle is an [`Observed`]: it logs under
/// `wa360::inbox` and counts what its consumers did, see [`Inbox::metrics`]):
/// `memory://`, `sqlite:///absolute/path.db` or
/// `redis://[user:password@]host:port/db` (`rediss://` for TLS; `name=` on
/// the query picks the inbox on that server, default `wa360`), with
/// options on the query. Errors: `invalid_argument` (field `inbox`) for an
/// unknown scheme, a relative path or a bad option; `store` when the file
/// cannot be opened (corrupt, locked, unwritable), leaving it untouched.
pub fn open(url: &str) -> Result<Arc<dyn Inbox>> {
    open_with(url, false)
}

/// [`open`] of an inbox that must exist already: a SQLite file, or a Redis inbox's stream
/// (`memory://` opens a new one). For tools that look after an inbox (`wa360 inbox`),
/// where a mistyped path, db or `name=` would otherwise show an empty inbox, and create
/// it. `invalid_argument` naming `inbox` when there is none.
pub fn open_existing(url: &str) -> Result<Arc<dyn Inbox>> {
    open_with(url, true)
}

fn open_with(url: &str, existing: bool) -> Result<Arc<dyn Inbox>> {
    // The query starts after the user info (a password may hold an unencoded `?`).
    let after_user = url.rfind('@').map_or(0, |at| at + 1);
    let (base, query) = match url[after_user..].find('?') {
        Some(q) => (&url[..after_user + q], &url[after_user + q + 1..]),
        None => (url, ""),
    };
    if base == "memory://" || base == "memory:" {
        return Ok(observed(SqliteInbox::memory(parse_options(query)?)?));
    }
    if let Some(path) = base.strip_prefix("sqlite://") {
        if !path.starts_with('/') || path.len() < 2 {
            return Err(Error::invalid(
                "inbox",
                "a sqlite URL needs an absolute path: sqlite:///abs/path.db",
            ));
        }
        if existing && !std::path::Path::new(path).exists() {
            return Err(Error::invalid(
                "inbox",
                format!("no inbox file at {path} (the receivers create it; check the URL)"),
            ));
        }
        return Ok(observed(SqliteInbox::open(path, parse_options(query)?)?));
    }
    if base.starts_with("redis://") || base.starts_with("rediss://") {
        // `name` picks one of several inboxes on one server; the rest of the
        // query is the common options.
        let mut name = "wa360".to_string();
        let rest: Vec<&str> = query
            .split('&')
            .filter(|p| match p.strip_prefix("name=") {
                Some(n) => {
                    name = n.to_string();
                    false
                }
                None => true,
            })
            .collect();
        let opts = parse_options(&rest.join("&"))?;
        return Ok(observed(if existing {
            RedisInbox::open_existing(base, &name, opts)?
        } else {
            RedisInbox::open(base, &name, opts)?
        }));
    }
    // Only a well-formed scheme is echoed: anything else may be a mistyped URL
    // with a password in it (`redis:/user:pw@host`).
    let scheme = base.split_once("://").map(|(s, _)| s).filter(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let expected = "expected memory://, sqlite:///path or redis://host:port/db";
    Err(Error::invalid(
        "inbox",
        match scheme {
            Some(scheme) => format!("unknown inbox URL scheme `{scheme}` ({expected})"),
            None => format!("not an inbox URL ({expected})"),
        },
    ))
}

fn observed(inbox: impl Inbox + 'static) -> Arc<dyn Inbox> {
    Arc::new(Observed::new(Arc::new(inbox)))
}

fn parse_options(query: &str) -> Result<InboxOptions> {
    let mut o = InboxOptions::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // A key is echoed in the error only when it looks like an option name.
        let k = if !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            k
        } else {
            "?"
        };
        let n: u64 = v.parse().map_err(|_| {
            Error::invalid(format!("inbox.{k}"), "must be a non-negative whole number")
        })?;
        // Each time is bounded: a lease or wait of years is a typo, and the bounds keep
        // every `now + option` sum far from overflow.
        let range = |min: u64, max: u64, unit: &str| {
            if (min..=max).contains(&n) {
                Ok(n)
            } else {
                Err(Error::invalid(
                    format!("inbox.{k}"),
                    format!("must be from {min} to {max} {unit}"),
                ))
            }
        };
        const DAY_MS: u64 = 86_400_000;
        match k {
            "lease_ms" => o.lease = Duration::from_millis(range(100, DAY_MS, "ms")?),
            "max_attempts" => o.max_attempts = range(1, 1_000_000, "attempts")? as u32,
            "retry_base_ms" => o.retry_base = Duration::from_millis(range(0, DAY_MS, "ms")?),
            "retry_max_ms" => o.retry_max = Duration::from_millis(range(0, 7 * DAY_MS, "ms")?),
            "retention_s" => o.retention = Duration::from_secs(range(0, 3650 * 86_400, "s")?),
            "busy_timeout_ms" => {
                o.busy_timeout = Duration::from_millis(range(0, 3_600_000, "ms")?);
            }
            other => {
                return Err(Error::invalid(
                    format!("inbox.{other}"),
                    "unknown option (expected lease_ms, max_attempts, retry_base_ms, retry_max_ms, retention_s, busy_timeout_ms)",
                ));
            }
        }
    }
    Ok(o)
}

// `redact_url` is secret handling: it lives in secret.rs (redis_conn uses it too).
pub use crate::secret::redact_url;

/// A consumer name unique to this process and call: `host-pid-random`.
pub fn consumer_name() -> String {
    format!("pid{}-{:08x}", std::process::id(), fastrand::u32(..))
}

#[cfg(test)]
mod tests;
