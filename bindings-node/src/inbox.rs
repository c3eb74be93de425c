//! The durable webhook inbox (`Inbox`, its `Consumer`) and the one webhook
//! receiver (`Receiver`) for Node, driven by the Express / Fastify glue in
//! `webhook-receiver.js`. Mirrors `core/src/inbox/` and
//! `core/src/webhook/receiver.rs`; every rule lives in the core.
//!
//! Every call that touches the store runs on tokio's blocking pool and
//! returns a Promise, so a SQLite write (an fsync) never blocks the JS event
//! loop. Events cross as canonical JSON text, materialised by `JSON.parse` on
//! the JS side (as `parseWebhook` does).

use std::sync::Arc;
use std::time::Duration;

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use wa360::config::Secret;
use wa360::inbox::{self, Consumer, Inbox, Nacked, redact_url};
use wa360::webhook::dedupe::{Deduper, StatusFold};
use wa360::webhook::{Event, ParseOptions, Receiver, ReceiverConfig};

use crate::client::metric_counts;
use crate::errors::{guard, spawn};
use crate::own::Body;
use crate::types::{
    DeadLetterJson, DeliveryJson, InboxMetrics, InboxStats, ReceiverMetrics, ReceiverReply,
};
use crate::webhook::{JsVerifier, NodeHeaders};

/// Run a blocking store call on tokio's blocking pool; a Promise.
fn blocking<'env, T, V, F, C>(env: &'env Env, f: F, convert: C) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: napi::bindgen_prelude::ToNapiValue,
    F: FnOnce() -> wa360::Result<T> + Send + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    spawn(
        env,
        async move {
            tokio::task::spawn_blocking(f)
                .await
                .unwrap_or_else(|e| Err(wa360::Error::Internal(format!("inbox task failed: {e}"))))
        },
        convert,
    )
}

fn events_json(events: &[Event]) -> wa360::Result<String> {
    serde_json::to_string(&events.iter().map(Event::canonical).collect::<Vec<_>>())
        .map_err(|e| wa360::Error::Internal(e.to_string()))
}

fn event_json(event: &Event) -> wa360::Result<String> {
    serde_json::to_string(&event.canonical()).map_err(|e| wa360::Error::Internal(e.to_string()))
}

/// A durable store of webhook events, opened by URL: `memory://` (one
/// process, not durable) or `sqlite:///abs/path.db` (several processes on
/// one machine). Throws `store` on a corrupt or locked file and
/// `invalid_argument` on an unknown URL.
#[napi(js_name = "Inbox")]
pub struct JsInbox {
    url: String,
    pub(crate) inner: Arc<dyn Inbox>,
}

#[napi]
impl JsInbox {
    /// `new Inbox(url)`: opens (and creates) the store now.
    #[napi(constructor, ts_args_type = "url: string")]
    pub fn new(env: Env, url: crate::own::Text) -> napi::Result<Self> {
        guard(&env, || {
            let url = url.named("inbox")?;
            Ok(JsInbox {
                inner: inbox::open(&url)?,
                url,
            })
        })
    }

    /// The URL it was opened with (user info hidden).
    #[napi(getter)]
    pub fn url(&self) -> String {
        redact_url(&self.url)
    }

    /// Counts.
    #[napi]
    pub fn stats<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, InboxStats>> {
        let i = Arc::clone(&self.inner);
        blocking(
            env,
            move || i.stats(),
            |_, s| {
                Ok(InboxStats {
                    ready: s.ready as f64,
                    in_flight: s.in_flight as f64,
                    dead: s.dead as f64,
                    handled: s.handled as f64,
                    duplicates: s.duplicates as f64,
                    stale: s.stale as f64,
                    keys: s.keys as f64,
                })
            },
        )
    }

    /// Up to `limit` (default 100) dead letters, oldest first, events as JSON text.
    #[napi(js_name = "_deadJson")]
    pub fn dead_json<'env>(
        &self,
        env: &'env Env,
        limit: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, Vec<DeadLetterJson>>> {
        let i = Arc::clone(&self.inner);
        let limit = match limit {
            Some(n) => guard(env, || {
                wa360::input::int_option("limit", n, 1, wa360::input::MAX_LISTING)
            })? as usize,
            None => 100,
        };
        blocking(
            env,
            move || {
                i.dead(limit)?
                    .into_iter()
                    .map(|d| {
                        Ok(DeadLetterJson {
                            event_json: event_json(&d.event)?,
                            id: d.id,
                            attempts: d.attempts,
                            last_error: d.last_error,
                            accepted_at_ms: d.accepted_at_ms as f64,
                        })
                    })
                    .collect::<wa360::Result<Vec<_>>>()
            },
            |_, v| Ok(v),
        )
    }

    /// Put dead letters back in line (one by id, or all); resolves to how many.
    #[napi]
    pub fn replay<'env>(
        &self,
        env: &'env Env,
        id: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, u32>> {
        let i = Arc::clone(&self.inner);
        blocking(env, move || i.replay(id.as_deref()), |_, n| Ok(n as u32))
    }

    /// Delete dead letters (one by id, or all); resolves to how many.
    #[napi]
    pub fn drop<'env>(
        &self,
        env: &'env Env,
        id: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, u32>> {
        let i = Arc::clone(&self.inner);
        blocking(env, move || i.drop_dead(id.as_deref()), |_, n| Ok(n as u32))
    }

    /// Drop dedupe keys and folded statuses past the retention; resolves to how many.
    #[napi]
    pub fn prune<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, u32>> {
        let i = Arc::clone(&self.inner);
        blocking(env, move || i.prune(), |_, n| Ok(n as u32))
    }

    /// What the consumers of this handle did in this process (see docs/observability.md):
    /// `events` by result, `handled`, `retried`, `dead_lettered`; non-zero only. The same
    /// counts a `Receiver` using this inbox adds to its own `metrics().events`.
    #[napi]
    pub fn metrics(&self) -> InboxMetrics {
        let m = wa360::metrics::InboxMetricsSnapshot::of(self.inner.metrics());
        InboxMetrics {
            events: metric_counts(m.events),
        }
    }

    /// A new consumer (its own name and lease renewal) for a worker loop.
    #[napi]
    pub fn consumer(&self) -> JsConsumer {
        JsConsumer {
            inner: Consumer::new(Arc::clone(&self.inner)),
        }
    }

    /// What printing shows.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> String {
        format!("Inbox({})", redact_url(&self.url))
    }
}

/// Claims events from an inbox under leases it renews in the background.
#[napi(js_name = "Consumer")]
pub struct JsConsumer {
    inner: Consumer,
}

#[napi]
impl JsConsumer {
    /// This consumer's unique name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Claim up to `max` (default 1) events, waiting up to `timeoutMs`
    /// (default 1000) for some; events as JSON text.
    #[napi(js_name = "_nextJson")]
    pub fn next_json<'env>(
        &self,
        env: &'env Env,
        max: Option<f64>,
        timeout_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, Vec<DeliveryJson>>> {
        let c = self.inner.clone();
        let timeout = match timeout_ms {
            Some(t) => guard(env, || wa360::input::wait_ms_option("timeoutMs", t))?,
            None => Duration::from_secs(1),
        };
        let max = match max {
            Some(n) => guard(env, || {
                wa360::input::int_option("max", n, 1, wa360::input::MAX_CLAIM)
            })? as usize,
            None => 1,
        };
        blocking(
            env,
            move || {
                c.next(max, timeout)?
                    .into_iter()
                    .map(|d| {
                        Ok(DeliveryJson {
                            event_json: event_json(&d.event)?,
                            id: d.id,
                            attempt: d.attempt,
                            conversation: d.conversation,
                        })
                    })
                    .collect::<wa360::Result<Vec<_>>>()
            },
            |_, v| Ok(v),
        )
    }

    /// The handler succeeded; resolves `false` when the lease was lost meanwhile.
    #[napi]
    pub fn ack<'env>(&self, env: &'env Env, id: String) -> napi::Result<PromiseRaw<'env, bool>> {
        let c = self.inner.clone();
        blocking(env, move || c.ack(&id), |_, v| Ok(v))
    }

    /// The handler failed: resolves `"retry"`, `"dead"` (dead-lettered) or `"not_held"`.
    #[napi(ts_return_type = "Promise<'retry' | 'dead' | 'not_held'>")]
    pub fn nack<'env>(
        &self,
        env: &'env Env,
        id: String,
        error: String,
    ) -> napi::Result<PromiseRaw<'env, &'static str>> {
        let c = self.inner.clone();
        blocking(
            env,
            move || c.nack(&id, &error),
            |_, n| {
                Ok(match n {
                    Nacked::Retry(_) => "retry",
                    Nacked::Dead => "dead",
                    Nacked::NotHeld => "not_held",
                })
            },
        )
    }

    /// Stop claiming (`next` resolves `[]` from now on).
    #[napi]
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// `true` after `stop()` or `close()`.
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// Events claimed and not yet acked or nacked.
    #[napi(getter)]
    pub fn held(&self) -> u32 {
        self.inner.held() as u32
    }

    /// Give back every held event without counting the attempt; resolves to
    /// how many were released. Outcomes the store refused are told once more;
    /// refused again, nothing is given back (the events wait out their leases)
    /// and it rejects with a `store` error saying how many.
    #[napi]
    pub fn release_held<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, u32>> {
        let c = self.inner.clone();
        blocking(env, move || c.release_held(), |_, n| Ok(n as u32))
    }

    /// Stop, give back every held event without counting the attempt (as
    /// `releaseHeld`) and end lease renewal; resolves to how many were released.
    #[napi]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, u32>> {
        let c = self.inner.clone();
        blocking(env, move || c.close(), |_, n| Ok(n as u32))
    }
}

/// The keys of `ReceiverOptions`.
const RECEIVER_OPTIONS: &[&str] = &[
    "verifyToken",
    "maxBytes",
    "maxDepth",
    "dedupe",
    "statusFold",
];

/// The one webhook receiver of the core: verify (fails closed), the
/// `hub.challenge` GET, size and depth caps, parse, then the inbox's atomic
/// accept (or the in-memory dedupe without an inbox).
#[napi(js_name = "Receiver")]
pub struct JsReceiver {
    inner: Receiver,
}

#[napi]
impl JsReceiver {
    /// `new Receiver(options, verifier?, inbox?)`. The options are read from
    /// their own properties only (unknown keys refused), as the client's are: a
    /// polluted `Object.prototype` cannot turn dedupe off or change a limit.
    #[napi(
        constructor,
        ts_args_type = "options?: ReceiverOptions | undefined | null, verifier?: JsVerifier | undefined | null, inbox?: Inbox | undefined | null"
    )]
    pub fn new(
        env: Env,
        options: Option<crate::own::Json>,
        verifier: Option<&JsVerifier>,
        inbox: Option<&JsInbox>,
    ) -> napi::Result<Self> {
        use crate::own::{opt_bool, opt_num, opt_str, options as read_options};
        guard(&env, || {
            let o = read_options(options, RECEIVER_OPTIONS)?;
            let verify_token = opt_str(&o, "verifyToken")?;
            if verify_token.as_deref() == Some("") {
                return Err(wa360::Error::invalid("verifyToken", "must not be empty"));
            }
            Ok(JsReceiver {
                inner: Receiver::new(ReceiverConfig {
                    verifier: verifier.map(|v| v.inner.clone()),
                    verify_token: verify_token.map(Secret::new),
                    parse: ParseOptions::with_limits(
                        opt_num(&o, "maxBytes")?,
                        opt_num(&o, "maxDepth")?,
                        ["maxBytes", "maxDepth"],
                    )?,
                    inbox: inbox.map(|i| Arc::clone(&i.inner)),
                    dedupe: opt_bool(&o, "dedupe")?
                        .unwrap_or(true)
                        .then(Deduper::memory),
                    status_fold: opt_bool(&o, "statusFold")?
                        .unwrap_or(false)
                        .then(StatusFold::memory),
                }),
            })
        })
    }

    /// A snapshot of this receiver's figures (see docs/observability.md):
    /// `events` by result (`accepted`, `deduplicated`, `stale`, and with an
    /// inbox `handled`, `retried`, `dead_lettered`), `deliveries` (answered
    /// requests by status, `'200'`, `'503'`, …) and `ackLatency` (histogram of
    /// the time to decide each answer). Only non-zero counts appear.
    #[napi]
    pub fn metrics(&self) -> ReceiverMetrics {
        let m = self.inner.metrics();
        ReceiverMetrics {
            events: metric_counts(m.events),
            deliveries: metric_counts(m.deliveries),
            ack_latency: m.ack_latency.into(),
        }
    }

    /// What can be answered before the body is read (see the core's
    /// `Receiver::precheck`): 413 for a declared `contentLength` over the limit, 401 for
    /// failed Basic auth or header credentials; `null`: read the body, then `handle`.
    #[napi(
        ts_args_type = "method: string, headers: Record<string, string | string[] | undefined> | string[], contentLength?: number | undefined | null"
    )]
    pub fn precheck(
        &self,
        method: String,
        headers: NodeHeaders,
        content_length: Option<f64>,
    ) -> Option<crate::types::EarlyReply> {
        // A length that is not a whole number of bytes is not trusted (the server reads
        // the body as it comes).
        let declared = content_length
            .filter(|n| n.is_finite() && *n >= 0.0 && n.fract() == 0.0)
            .map(|n| n as u64);
        self.inner
            .precheck(&method, &headers.pairs(), declared)
            .map(|reply| crate::types::EarlyReply {
                status: reply.status,
                body: reply.body,
            })
    }

    /// Handle one request (method, raw query without `?`, headers as
    /// `req.rawHeaders` or `req.headers`, raw body); resolves to the reply.
    #[napi(
        ts_args_type = "method: string, query: string, headers: Record<string, string | string[] | undefined> | string[], body: Buffer | Uint8Array | string"
    )]
    pub fn handle<'env>(
        &self,
        env: &'env Env,
        method: String,
        query: String,
        headers: NodeHeaders,
        body: Body<'_, String>,
    ) -> napi::Result<PromiseRaw<'env, ReceiverReply>> {
        let r = self.inner.clone();
        let body = guard(env, || body.named("body"))?.to_vec();
        blocking(
            env,
            move || {
                let reply = r.handle(&method, &query, &headers.pairs(), &body);
                Ok(ReceiverReply {
                    status: reply.status,
                    events_json: events_json(&reply.events)?,
                    body: reply.body,
                    duplicates: reply.duplicates as u32,
                    stale: reply.stale as u32,
                    error: reply.error.map(|e| format!("{e} ({})", e.code())),
                })
            },
            |_, v| Ok(v),
        )
    }
}
