//! The one webhook receiver: every framework glue (Python FastAPI / Flask,
//! Node Express / Fastify, the CLI) hands it the request and sends back the
//! [`Reply`] it returns.
//!
//! For each request, in this order:
//!
//! | request | answer |
//! |---|---|
//! | `GET` with a `verify_token` configured | Meta's `hub.challenge` handshake: `200` + the challenge, or `403` |
//! | `GET` without one, or any method but `GET` / `POST` | `405` |
//! | `POST` body over `max_bytes` | `413` (before any other work) |
//! | `POST` failing verification (fails closed) | `401` |
//! | `POST` body that is not a webhook (bad JSON, too deep, wrong shape) | `400` |
//! | `POST` whose events the inbox could not store | `503` (360dialog retries) |
//! | `POST` otherwise | `200`; the new events are in [`Reply::events`] |
//!
//! With an [`Inbox`] the new events are stored durably (deduplicated and
//! status-folded atomically, across processes) before the `200`; consumers
//! hand them to the handler afterwards. Without one, the receiver
//! deduplicates in memory ([`Deduper`], on by default) and optionally folds
//! statuses ([`StatusFold`]); the glue hands [`Reply::events`] to the handler
//! itself: one process, not durable.
//!
//! The conformance suite `tests/conformance/receiver/` fixes these answers
//! for every language.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::dedupe::{Deduper, StatusFold};
use super::events::Event;
use super::parse::{ParseOptions, parse_with};
use super::verify::{Verifier, hub_challenge_from_query};
use crate::Error;
use crate::config::Secret;
use crate::inbox::Inbox;
use crate::metrics::{ReceiverMetrics, ReceiverMetricsSnapshot};

/// The most events one delivery may carry. 360dialog batches far fewer; a body within the
/// byte limit can still hold 150 000 tiny entries, which would flush a whole in-memory
/// dedupe window at once (so redeliveries of earlier events look new) and store as many
/// inbox entries. Such a body is refused with `413` before dedupe or store.
pub const MAX_EVENTS_PER_DELIVERY: usize = 10_000;

/// How a [`Receiver`] checks and keeps deliveries.
#[derive(Clone, Default)]
pub struct ReceiverConfig {
    /// Checks every `POST`; `None` accepts unauthenticated deliveries (only
    /// behind your own authentication: the glue asks for an explicit opt-out).
    pub verifier: Option<Verifier>,
    /// Answer Meta's `GET` handshake with this token.
    pub verify_token: Option<Secret>,
    /// Body and nesting limits.
    pub parse: ParseOptions,
    /// Where accepted events are stored; `None` = hand them back (not durable).
    pub inbox: Option<Arc<dyn Inbox>>,
    /// In-memory dedupe, used only without an inbox.
    pub dedupe: Option<Deduper>,
    /// In-memory status fold, used only without an inbox.
    pub status_fold: Option<StatusFold>,
}

impl fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverConfig")
            .field("verifier", &self.verifier)
            .field("verify_token", &self.verify_token.as_ref().map(|_| "***"))
            .field("parse", &self.parse)
            .field("inbox", &self.inbox)
            .field("dedupe", &self.dedupe.is_some())
            .field("status_fold", &self.status_fold.is_some())
            .finish()
    }
}

/// What to answer, and what was accepted.
#[derive(Debug, Default)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `text/plain` body: `OK`, the hub challenge, or a short reason.
    pub body: String,
    /// The new events of this delivery (stored in the inbox when there is one).
    pub events: Vec<Event>,
    /// Events of this delivery already seen.
    pub duplicates: usize,
    /// Status updates dropped by the fold.
    pub stale: usize,
    /// Why the delivery was refused (never carries a secret), for logs.
    pub error: Option<Error>,
}

impl Reply {
    fn refuse(status: u16, body: &str, error: Option<Error>) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            error,
            ..Reply::default()
        }
    }

    /// `413`: the delivery (its body, declared or read, or its events) is over a limit.
    fn too_large(reason: String) -> Reply {
        Reply::refuse(
            413,
            "payload too large",
            Some(Error::WebhookPayload(reason)),
        )
    }
}

/// The webhook receiver. Cheap to clone; clones share their metrics.
#[derive(Debug, Clone)]
pub struct Receiver {
    cfg: Arc<ReceiverConfig>,
    metrics: Arc<ReceiverMetrics>,
}

impl Receiver {
    /// A receiver with `config`.
    pub fn new(config: ReceiverConfig) -> Receiver {
        Receiver::with_metrics(config, Arc::default())
    }

    /// A receiver with `config` that counts into `metrics`, which the caller may count
    /// into as well: a binding that rebuilds its receiver after a fork keeps one set per
    /// process, so the `503`s it answered while the store could not be opened (with no
    /// receiver yet) appear in [`Receiver::metrics`] beside the others.
    pub fn with_metrics(config: ReceiverConfig, metrics: Arc<ReceiverMetrics>) -> Receiver {
        Receiver {
            cfg: Arc::new(config),
            metrics,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReceiverConfig {
        &self.cfg
    }

    /// The inbox, when there is one.
    pub fn inbox(&self) -> Option<&Arc<dyn Inbox>> {
        self.cfg.inbox.as_ref()
    }

    /// A snapshot of this receiver's figures (see `docs/observability.md`):
    /// events by result (accepted, deduplicated, stale, and — with an inbox
    /// opened by [`crate::inbox::open`] — handled, retried and dead-lettered by
    /// the consumers of that inbox handle), answered requests by status, and
    /// the acknowledgement latency histogram.
    ///
    /// ```
    /// use wa360::webhook::{Receiver, ReceiverConfig};
    /// let r = Receiver::new(ReceiverConfig::default());
    /// let reply = r.handle::<&str, &str>("POST", "", &[], b"{}");
    /// let m = r.metrics();
    /// assert_eq!(m.deliveries[&reply.status.to_string()], 1);
    /// assert_eq!(m.ack_latency.count, 1);
    /// ```
    pub fn metrics(&self) -> ReceiverMetricsSnapshot {
        let inbox = self.cfg.inbox.as_ref().and_then(|i| i.metrics());
        self.metrics.snapshot(inbox)
    }

    /// Handle one request: `method` (any case), the raw query string
    /// (without `?`), the headers as received (`(name, value)` pairs, so
    /// duplicates stay visible) and the raw body. Counts it in
    /// [`Receiver::metrics`] and logs one line (`webhook delivery answered`,
    /// INFO; WARN for a `503`).
    pub fn handle<N, V>(&self, method: &str, query: &str, headers: &[(N, V)], body: &[u8]) -> Reply
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let start = Instant::now();
        let reply = self.decide(method, query, headers, body);
        self.record(method, start, reply)
    }

    /// What can be answered from the method and headers alone, before the body is read:
    /// `413` when the declared `Content-Length` is over the limit, `401` when a Basic auth
    /// or custom-header check fails (an app-secret signature needs the body, so it waits
    /// for [`Receiver::handle`]). `None`: read the body and call `handle`. A glue that
    /// asks first never waits for the body of a request it would refuse anyway (a slow
    /// or endless upload from someone without the credentials). Counted and logged like
    /// `handle` when it answers.
    pub fn precheck<N, V>(
        &self,
        method: &str,
        headers: &[(N, V)],
        content_length: Option<u64>,
    ) -> Option<Reply>
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        if !method.eq_ignore_ascii_case("POST") {
            return None;
        }
        let start = Instant::now();
        let max = self.cfg.parse.max_bytes;
        let reply = match content_length {
            Some(n) if n > max as u64 => Reply::too_large(format!(
                "declared body of {n} bytes is over the limit of {max} bytes"
            )),
            _ => match &self.cfg.verifier {
                Some(v) => {
                    Reply::refuse(401, "unauthorized", Some(v.verify_headers(headers).err()?))
                }
                None => return None,
            },
        };
        Some(self.record(method, start, reply))
    }

    /// Count `reply` in the metrics and log it.
    fn record(&self, method: &str, start: Instant, reply: Reply) -> Reply {
        let took = start.elapsed();
        self.metrics.delivery(
            reply.status,
            took,
            reply.events.len(),
            reply.duplicates,
            reply.stale,
        );
        let latency_ms = took.as_secs_f64() * 1e3;
        match (&reply.error, reply.status) {
            (Some(e), 503) => tracing::warn!(
                status = reply.status,
                latency_ms,
                code = e.code().as_str(),
                error = %e,
                "webhook delivery not stored: answered 503 (360dialog will deliver again; check the inbox store)"
            ),
            // Over a limit: 360dialog delivers it again and again, and no other module says
            // why (a 401 or 400 has its verify / parse WARN).
            (Some(e), 413) => tracing::warn!(
                method,
                status = reply.status,
                latency_ms,
                code = e.code().as_str(),
                error = %e,
                "webhook delivery refused"
            ),
            (Some(e), _) => tracing::info!(
                method,
                status = reply.status,
                latency_ms,
                code = e.code().as_str(),
                "webhook delivery refused"
            ),
            (None, _) if method.eq_ignore_ascii_case("POST") => tracing::info!(
                status = reply.status,
                latency_ms,
                new = reply.events.len(),
                duplicates = reply.duplicates,
                stale = reply.stale,
                "webhook delivery answered"
            ),
            (None, _) => tracing::debug!(method, status = reply.status, "webhook request answered"),
        }
        reply
    }

    fn decide<N, V>(&self, method: &str, query: &str, headers: &[(N, V)], body: &[u8]) -> Reply
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        if method.eq_ignore_ascii_case("GET") {
            return self.handshake(query);
        }
        if !method.eq_ignore_ascii_case("POST") {
            return Reply::refuse(405, "method not allowed", None);
        }
        let cfg = &*self.cfg;
        if body.len() > cfg.parse.max_bytes {
            return Reply::too_large(format!(
                "body of {} bytes is over the limit of {} bytes",
                body.len(),
                cfg.parse.max_bytes
            ));
        }
        if let Some(v) = &cfg.verifier
            && let Err(e) = v.verify(headers, body)
        {
            return Reply::refuse(401, "unauthorized", Some(e));
        }
        let events = match parse_with(body, &cfg.parse) {
            Ok(e) => e,
            Err(e) => return Reply::refuse(400, "bad webhook body", Some(e)),
        };
        if events.len() > MAX_EVENTS_PER_DELIVERY {
            return Reply::too_large(format!(
                "{} events in one delivery, over the limit of {MAX_EVENTS_PER_DELIVERY}",
                events.len()
            ));
        }
        match &cfg.inbox {
            Some(inbox) => match inbox.accept(body, &events) {
                Ok(a) => Reply {
                    status: 200,
                    body: "OK".into(),
                    events: a.events,
                    duplicates: a.duplicates,
                    stale: a.stale,
                    error: None,
                },
                Err(e) => Reply::refuse(503, "inbox unavailable", Some(e)),
            },
            None => {
                let total = events.len();
                let events = match &cfg.dedupe {
                    Some(d) => d.filter(events),
                    None => events,
                };
                let duplicates = total - events.len();
                let before = events.len();
                let events = match &cfg.status_fold {
                    Some(f) => f.filter(events),
                    None => events,
                };
                Reply {
                    status: 200,
                    body: "OK".into(),
                    stale: before - events.len(),
                    events,
                    duplicates,
                    error: None,
                }
            }
        }
    }

    fn handshake(&self, query: &str) -> Reply {
        let Some(token) = &self.cfg.verify_token else {
            return Reply::refuse(405, "method not allowed", None);
        };
        match hub_challenge_from_query(query, token.expose()) {
            Ok(challenge) => Reply {
                status: 200,
                body: challenge,
                ..Reply::default()
            },
            Err(e) => Reply::refuse(403, "forbidden", Some(e)),
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    fn entries(n: usize) -> Vec<u8> {
        format!("{{\"entry\":[{}]}}", vec!["0"; n].join(",")).into_bytes()
    }

    /// Up to the limit a delivery is taken whole; one event more is `413` before the
    /// dedupe sees any of it (a flood would push every remembered key out).
    #[test]
    fn a_delivery_of_more_events_than_the_limit_is_413() {
        let r = Receiver::new(ReceiverConfig::default());
        let ok = r.handle::<&str, &str>("POST", "", &[], &entries(MAX_EVENTS_PER_DELIVERY));
        assert_eq!((ok.status, ok.events.len()), (200, MAX_EVENTS_PER_DELIVERY));
        let over = r.handle::<&str, &str>("POST", "", &[], &entries(MAX_EVENTS_PER_DELIVERY + 1));
        assert_eq!(over.status, 413);
        assert!(over.events.is_empty());
        assert!(over.error.unwrap().to_string().contains("10001 events"));
    }

    /// Decided from the headers: a declared body over the limit (413, before
    /// credentials, as `handle` orders them) and wrong Basic auth (401); a signature check
    /// needs the body, so an app-secret receiver decides nothing early.
    #[test]
    fn precheck_answers_what_the_headers_decide_and_counts_it() {
        use crate::webhook::verify::{Verifier, basic_auth_header};
        let r = Receiver::new(ReceiverConfig {
            verifier: Some(Verifier::basic_auth("u", "p".to_string()).unwrap()),
            ..ReceiverConfig::default()
        });
        let good = [basic_auth_header("u", "p")];
        let bad = [basic_auth_header("u", "x")];
        let none: [(&str, &str); 0] = [];
        assert_eq!(r.precheck("POST", &none, Some(10)).unwrap().status, 401);
        assert_eq!(r.precheck("POST", &bad, None).unwrap().status, 401);
        assert_eq!(r.precheck("POST", &bad, Some(1 << 30)).unwrap().status, 413);
        assert!(r.precheck("POST", &good, Some(10)).is_none());
        assert!(r.precheck("GET", &none, None).is_none());
        assert_eq!(r.metrics().deliveries["401"], 2);
        let signed = Receiver::new(ReceiverConfig {
            verifier: Some(Verifier::hub_signature("s3cret".to_string()).unwrap()),
            ..ReceiverConfig::default()
        });
        assert!(signed.precheck("POST", &none, Some(10)).is_none());
    }
}
