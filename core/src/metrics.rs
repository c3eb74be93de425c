//! In-process metrics: lock-free counters and fixed-bucket latency histograms, read as a
//! [`MetricsSnapshot`] with [`crate::client::Client::metrics`].
//!
//! Names and meanings are listed in `docs/observability.md`. Recording costs a few relaxed
//! atomic adds; nothing is exported by itself: read a snapshot and hand it to your metrics
//! system (Prometheus, StatsD, OpenTelemetry, …). [`Counters`] and [`Histogram`] are public so
//! that other parts of the SDK (webhook receiver, inbox) keep their own figures the same way.
//!
//! ```
//! let client = wa360::client::Client::builder()
//!     .api_key("k")
//!     .base_url("http://127.0.0.1:9")
//!     .build()?;
//! let m = client.metrics();
//! assert_eq!(m.requests.get("ok"), None); // nothing sent yet
//! assert_eq!(m.send_latency.count, 0);
//! # Ok::<(), wa360::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorCode;

/// Upper bounds (seconds) of the latency histogram buckets; a last, unbounded bucket
/// follows. Chosen for HTTP calls to a remote API: 5 ms … 60 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A set of named counters whose names are fixed when it is created (no allocation and no
/// lock when counting).
#[derive(Debug)]
pub struct Counters {
    names: &'static [&'static str],
    values: Box<[AtomicU64]>,
}

impl Counters {
    /// Counters for `names` (all zero).
    pub fn new(names: &'static [&'static str]) -> Self {
        Counters {
            names,
            values: names.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Add one to counter `name`; unknown names are ignored.
    pub fn inc(&self, name: &str) {
        if let Some(i) = self.names.iter().position(|n| *n == name) {
            self.values[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Add `n` to counter `name`; unknown names are ignored.
    pub fn add(&self, name: &str, n: u64) {
        if n == 0 {
            return;
        }
        if let Some(i) = self.names.iter().position(|x| *x == name) {
            self.values[i].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The non-zero counters, by name.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.names
            .iter()
            .zip(self.values.iter())
            .filter_map(|(n, v)| {
                let v = v.load(Ordering::Relaxed);
                (v > 0).then(|| ((*n).to_string(), v))
            })
            .collect()
    }
}

/// A latency histogram with the fixed buckets of [`LATENCY_BUCKETS`].
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_LEN + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

const LATENCY_BUCKETS_LEN: usize = 13;
const _: () = assert!(LATENCY_BUCKETS.len() == LATENCY_BUCKETS_LEN);

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Record one observation.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS_LEN);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The current figures.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let mut cumulative = 0;
        let buckets = counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cumulative += c;
                Bucket {
                    le: LATENCY_BUCKETS.get(i).copied(),
                    count: cumulative,
                }
            })
            .collect();
        HistogramSnapshot {
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            buckets,
        }
    }
}

/// One cumulative bucket: how many observations took at most `le` seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Upper bound in seconds; `None` (JSON `null`) for the last, unbounded bucket.
    pub le: Option<f64>,
    /// Observations at or below `le` (cumulative, as in Prometheus).
    pub count: u64,
}

/// A histogram read at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// Number of observations.
    pub count: u64,
    /// Sum of all observations, in seconds.
    pub sum_seconds: f64,
    /// Cumulative buckets, ending with the unbounded one (whose count equals `count`).
    pub buckets: Vec<Bucket>,
}

/// Why a failed attempt was repeated (the `reason` of the `retries` counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// Nothing was sent (connection refused, DNS, TLS, connect timeout).
    NotSent,
    /// HTTP 429, a Meta rate-limit code or 360dialog's endpoint rate limit.
    RateLimited,
    /// Meta said "try again" (1, 2, 131000, 131016, or 503 with a Meta body).
    Transient,
    /// An idempotent request timed out.
    Timeout,
    /// The connection of an idempotent request broke.
    Interrupted,
    /// An idempotent request got a 5xx without a Meta body.
    ServerError,
}

impl RetryReason {
    /// Every reason, in declaration order.
    pub const ALL_NAMES: &'static [&'static str] = &[
        "not_sent",
        "rate_limited",
        "transient",
        "timeout",
        "interrupted",
        "server_error",
    ];

    /// The stable name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::NotSent => "not_sent",
            RetryReason::RateLimited => "rate_limited",
            RetryReason::Transient => "transient",
            RetryReason::Timeout => "timeout",
            RetryReason::Interrupted => "interrupted",
            RetryReason::ServerError => "server_error",
        }
    }
}

/// Every outcome name of the `requests` counter: `ok` and each [`ErrorCode`] string.
fn outcome_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        // `held_back`: a send the governor held back before any attempt (no HTTP request).
        ["ok", "held_back"]
            .into_iter()
            .chain(ErrorCode::ALL.iter().map(|c| c.as_str()))
            .collect()
    })
}

/// The live figures of one client (shared by its clones).
#[derive(Debug)]
pub struct ClientMetrics {
    requests: Counters,
    retries: Counters,
    send_latency: Histogram,
}

impl Default for ClientMetrics {
    fn default() -> Self {
        ClientMetrics {
            requests: Counters::new(outcome_names()),
            retries: Counters::new(RetryReason::ALL_NAMES),
            send_latency: Histogram::default(),
        }
    }
}

impl ClientMetrics {
    /// Count one finished request (after its retries) by outcome: `ok` or an error code.
    pub fn request_done(&self, outcome: &str) {
        self.requests.inc(outcome);
    }

    /// Count one retry.
    pub fn retry(&self, reason: RetryReason) {
        self.retries.inc(reason.as_str());
    }

    /// Record the total time of one `POST /messages` call, retries included.
    pub fn send_latency(&self, d: Duration) {
        self.send_latency.record(d);
    }

    /// The current figures.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            requests: self.requests.snapshot(),
            retries: self.retries.snapshot(),
            send_latency: self.send_latency.snapshot(),
        }
    }
}

/// A client's figures at one moment (see `docs/observability.md`). Serialises to the same
/// JSON object that Python's `Client.metrics()` and Node's `client.metrics()` return.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// `wa360_requests_total{outcome}`: finished requests (after retries) by outcome, `ok`
    /// or an error code such as `rate_limited`; only non-zero outcomes appear.
    pub requests: BTreeMap<String, u64>,
    /// `wa360_retries_total{reason}`: repeated attempts by reason (see [`RetryReason`]).
    pub retries: BTreeMap<String, u64>,
    /// `wa360_send_latency_seconds`: time of each `POST /messages` call (sends, mark read,
    /// typing), retries and their pauses included.
    pub send_latency: HistogramSnapshot,
}

/// Every reply status of the webhook receiver (the `status` of the `deliveries` counter).
pub const DELIVERY_STATUSES: &[&str] = &["200", "400", "401", "403", "405", "413", "503"];

/// Names of the `events` counter of a receiver: what happened to webhook events.
pub const EVENT_RESULTS: &[&str] = &[
    "accepted",
    "deduplicated",
    "stale",
    "handled",
    "retried",
    "dead_lettered",
];

/// What the consumers of one inbox did (kept by the inbox handle that [`crate::inbox::open`]
/// returns, shared by every receiver and consumer using it in this process).
#[derive(Debug)]
pub struct InboxMetrics {
    events: Counters,
}

impl Default for InboxMetrics {
    fn default() -> Self {
        InboxMetrics {
            events: Counters::new(&["handled", "retried", "dead_lettered"]),
        }
    }
}

impl InboxMetrics {
    /// An event was acknowledged (its handler succeeded).
    pub fn handled(&self) {
        self.events.inc("handled");
    }

    /// A failed event was scheduled for another attempt.
    pub fn retried(&self) {
        self.events.inc("retried");
    }

    /// A failed event used its last attempt and became a dead letter.
    pub fn dead_lettered(&self) {
        self.events.inc("dead_lettered");
    }

    /// The non-zero counts: `handled`, `retried`, `dead_lettered`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.events.snapshot()
    }
}

/// What the consumers of one inbox handle did, at one moment (see `docs/observability.md`):
/// the inbox part of a [`ReceiverMetricsSnapshot`], for worker processes that consume
/// without a receiver. Serialises to the same JSON object that Python's `Inbox.metrics()`
/// and Node's `inbox.metrics()` return.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InboxMetricsSnapshot {
    /// `wa360_webhook_events_total{result}` for `handled`, `retried`, `dead_lettered` (by the
    /// consumers of this handle in this process); only non-zero results appear.
    pub events: BTreeMap<String, u64>,
}

impl InboxMetricsSnapshot {
    /// The figures of `metrics` (empty for an inbox that keeps no count, see
    /// [`crate::inbox::Inbox::metrics`]).
    pub fn of(metrics: Option<&InboxMetrics>) -> InboxMetricsSnapshot {
        InboxMetricsSnapshot {
            events: metrics.map(InboxMetrics::snapshot).unwrap_or_default(),
        }
    }
}

/// The live figures of one webhook receiver (shared by its clones).
#[derive(Debug)]
pub struct ReceiverMetrics {
    events: Counters,
    deliveries: Counters,
    ack_latency: Histogram,
}

impl Default for ReceiverMetrics {
    fn default() -> Self {
        ReceiverMetrics {
            events: Counters::new(EVENT_RESULTS),
            deliveries: Counters::new(DELIVERY_STATUSES),
            ack_latency: Histogram::default(),
        }
    }
}

impl ReceiverMetrics {
    /// Count one answered request: its status, how long deciding the answer took, and
    /// (for a `200` to a `POST`) the events accepted, recognised as duplicates, or dropped
    /// as stale by the status fold.
    pub fn delivery(
        &self,
        status: u16,
        took: Duration,
        accepted: usize,
        dups: usize,
        stale: usize,
    ) {
        // Every status the receiver answers is in DELIVERY_STATUSES; formatting a u16 is
        // cheap next to parsing a body, so no lookup table is kept for it.
        let s = status.to_string();
        self.deliveries.inc(&s);
        self.ack_latency.record(took);
        self.events.add("accepted", accepted as u64);
        self.events.add("deduplicated", dups as u64);
        self.events.add("stale", stale as u64);
    }

    /// The current figures; `inbox` adds the counts of the inbox's consumers.
    pub fn snapshot(&self, inbox: Option<&InboxMetrics>) -> ReceiverMetricsSnapshot {
        let mut events = self.events.snapshot();
        if let Some(i) = inbox {
            for (k, v) in i.snapshot() {
                *events.entry(k).or_default() += v;
            }
        }
        ReceiverMetricsSnapshot {
            events,
            deliveries: self.deliveries.snapshot(),
            ack_latency: self.ack_latency.snapshot(),
        }
    }
}

/// A receiver's figures at one moment (see `docs/observability.md`). Serialises to the same
/// JSON object that Python's and Node's receiver `metrics()` return.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceiverMetricsSnapshot {
    /// `wa360_webhook_events_total{result}`: webhook events by what happened to them —
    /// `accepted` (new, stored or handed to the handler), `deduplicated`, `stale` (dropped by
    /// the status fold), and with an inbox `handled`, `retried`, `dead_lettered` (by this
    /// process's consumers); only non-zero results appear.
    pub events: BTreeMap<String, u64>,
    /// `wa360_webhook_deliveries_total{status}`: answered requests by HTTP status
    /// (`"200"`, `"401"`, `"503"`, …); only non-zero statuses appear.
    pub deliveries: BTreeMap<String, u64>,
    /// `wa360_webhook_ack_seconds`: time from a request reaching the receiver to its answer
    /// being decided (verification, parsing and the inbox write included).
    pub ack_latency: HistogramSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_unbounded() {
        let h = Histogram::default();
        h.record(Duration::from_millis(3));
        h.record(Duration::from_millis(70));
        h.record(Duration::from_secs(120));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(
            s.buckets[0],
            Bucket {
                le: Some(0.005),
                count: 1
            }
        );
        let at_100ms = s.buckets.iter().find(|b| b.le == Some(0.1)).unwrap();
        assert_eq!(at_100ms.count, 2);
        assert_eq!(s.buckets.last().unwrap(), &Bucket { le: None, count: 3 });
        assert!((s.sum_seconds - 120.073).abs() < 1e-6);
    }

    #[test]
    fn counters_skip_zero_and_unknown_names() {
        let m = ClientMetrics::default();
        m.request_done("ok");
        m.request_done("ok");
        m.request_done("rate_limited");
        m.request_done("no_such_code");
        m.retry(RetryReason::RateLimited);
        let s = m.snapshot();
        assert_eq!(s.requests.len(), 2);
        assert_eq!(s.requests["ok"], 2);
        assert_eq!(s.requests["rate_limited"], 1);
        assert_eq!(s.retries["rate_limited"], 1);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["send_latency"]["buckets"][13]["le"],
            serde_json::Value::Null
        );
    }
}
