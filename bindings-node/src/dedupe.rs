//! Delivery hygiene for parsed events: `Deduper` (see each message and
//! status once) and `StatusFold` (never move a message's state backwards).
//! Both wrap the core's in-memory stores; they read the few fields they need
//! (`kind`, `id`, `status`, `timestamp`, `errors`) from the event objects.

use std::time::Duration;

use napi::Env;
use napi::bindgen_prelude::Object;
use napi_derive::napi;
use serde_json::Value;
use sha2::{Digest, Sha256};
use wa360::webhook::dedupe::{
    DEFAULT_CAPACITY, DEFAULT_TTL, DedupeKey, DedupeStore, FoldOutcome, MemoryDedupe,
    MemoryStatusStore,
};

use crate::errors::guard;

/// Options of `new Deduper()` / `new StatusFold()`.
#[napi(object)]
#[derive(Default)]
pub struct MemoryStoreOptions {
    /// How many keys / messages are kept (oldest evicted first; default 100 000).
    pub capacity: Option<u32>,
    /// How long a key is remembered, in ms (default 7 days, 360dialog's redelivery window).
    pub ttl_ms: Option<f64>,
}

fn sizes(o: Option<MemoryStoreOptions>) -> (usize, Duration) {
    let o = o.unwrap_or_default();
    let cap = o.capacity.map(|c| c as usize).unwrap_or(DEFAULT_CAPACITY);
    let ttl = o
        .ttl_ms
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| Duration::from_millis(t as u64))
        .unwrap_or(DEFAULT_TTL);
    (cap, ttl)
}

fn str_prop(obj: &Object<'_>, name: &str) -> Option<String> {
    obj.get::<String>(name).ok().flatten()
}

/// The dedupe key of a canonical event object: message id; (status id,
/// status); otherwise a SHA-256 of its JSON (computed by the core).
fn key_of(env: &Env, event: &Object<'_>) -> wa360::Result<DedupeKey> {
    let kind = str_prop(event, "kind");
    let id = str_prop(event, "id");
    match (kind.as_deref(), id) {
        (Some("message"), Some(id)) => return Ok(DedupeKey::message(id)),
        (Some("status"), Some(id)) => {
            if let Some(st) = str_prop(event, "status") {
                return Ok(DedupeKey::status(id, st));
            }
        }
        _ => {}
    }
    let value: Value = env
        .from_js_value(*event)
        .map_err(|e| wa360::Error::invalid("event", e.to_string()))?;
    let bytes = value.to_string();
    Ok(DedupeKey::Digest(Sha256::digest(bytes.as_bytes()).into()))
}

/// Drops repeated deliveries (360dialog delivers at least once and retries
/// for days). In memory, bounded; one per process.
#[napi(js_name = "Deduper")]
pub struct JsDeduper {
    // The store itself (not `wa360::webhook::dedupe::Deduper`): the key is
    // computed here from the JS object, so the store's trait methods are used.
    store: MemoryDedupe,
}

#[napi]
impl JsDeduper {
    /// `new Deduper({ capacity?, ttlMs? })`.
    #[napi(constructor)]
    pub fn new(options: Option<MemoryStoreOptions>) -> Self {
        let (cap, ttl) = sizes(options);
        JsDeduper {
            store: MemoryDedupe::new(cap, ttl),
        }
    }

    /// Record `event`; `true` the first time it is seen.
    #[napi(ts_args_type = "event: object")]
    pub fn is_new(&self, env: Env, event: Object<'_>) -> napi::Result<bool> {
        guard(&env, || {
            Ok(!self.store.check_and_record(&key_of(&env, &event)?))
        })
    }

    /// Forget `event` so its redelivery is processed again (call it when handling failed).
    #[napi(ts_args_type = "event: object")]
    pub fn forget(&self, env: Env, event: Object<'_>) -> napi::Result<()> {
        guard(&env, || {
            self.store.forget(&key_of(&env, &event)?);
            Ok(())
        })
    }
}

/// What is known about one outbound message.
#[napi(object)]
pub struct MessageState {
    /// The furthest progress status seen (`sent` … `played`).
    pub status: Option<String>,
    /// Timestamp of that status (Unix seconds).
    pub timestamp: Option<f64>,
    /// A `failed` status was seen.
    pub failed: bool,
    /// The errors of the first `failed` status.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub errors: Vec<Value>,
}

/// Keeps the furthest status of each outbound message (`sent` < `delivered`
/// < `read` < `played`; `failed` is a flag kept with its errors).
#[napi(js_name = "StatusFold")]
pub struct JsStatusFold {
    inner: wa360::webhook::dedupe::StatusFold,
}

#[napi]
impl JsStatusFold {
    /// `new StatusFold({ capacity?, ttlMs? })`.
    #[napi(constructor)]
    pub fn new(options: Option<MemoryStoreOptions>) -> Self {
        let (cap, ttl) = sizes(options);
        JsStatusFold {
            inner: wa360::webhook::dedupe::StatusFold::new(MemoryStatusStore::new(cap, ttl)),
        }
    }

    /// Apply one status event. Returns `advanced` or `failed` (report it),
    /// `unrecognised` (an unranked status: reported, state unchanged),
    /// `duplicate` or `stale` (drop it).
    #[napi(
        ts_args_type = "event: object",
        ts_return_type = "'advanced' | 'failed' | 'unrecognised' | 'duplicate' | 'stale'"
    )]
    pub fn apply(&self, env: Env, event: Object<'_>) -> napi::Result<&'static str> {
        guard(&env, || {
            let (Some(id), Some(status)) = (str_prop(&event, "id"), str_prop(&event, "status"))
            else {
                return Ok(outcome_name(FoldOutcome::Unrecognised));
            };
            let timestamp = event
                .get::<f64>("timestamp")
                .ok()
                .flatten()
                .map(|t| t as i64);
            let errors: Vec<Value> = match event.get::<Object<'_>>("errors").ok().flatten() {
                Some(list) => env
                    .from_js_value(list)
                    .map_err(|e| wa360::Error::invalid("event.errors", e.to_string()))?,
                None => Vec::new(),
            };
            Ok(outcome_name(
                self.inner.apply(&id, &status, timestamp, &errors),
            ))
        })
    }

    /// The folded state of a message (`null` when nothing is known).
    #[napi]
    pub fn state(&self, message_id: String) -> Option<MessageState> {
        self.inner.state(&message_id).map(|s| MessageState {
            status: s.status,
            timestamp: s.timestamp.map(|t| t as f64),
            failed: s.failed,
            errors: s.errors,
        })
    }
}

fn outcome_name(o: FoldOutcome) -> &'static str {
    match o {
        FoldOutcome::Advanced => "advanced",
        FoldOutcome::Failed => "failed",
        FoldOutcome::Unrecognised => "unrecognised",
        FoldOutcome::Duplicate => "duplicate",
        FoldOutcome::Stale => "stale",
    }
}
