//! Delivery hygiene for parsed events: `Deduper` (see each message and
//! status once) and `StatusFold` (never move a message's state backwards).
//! Both wrap the core's in-memory stores; they read the few fields they need
//! (`kind`, `id`, `status`, `timestamp`, `errors`) from the event objects.

use std::time::Duration;

use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use wa360::webhook::dedupe::{
    DEFAULT_CAPACITY, DEFAULT_TTL, DedupeKey, DedupeStore, FoldOutcome, MemoryDedupe,
    MemoryStatusStore,
};

use crate::errors::guard;
use crate::own::{Json, RawObject};
use crate::types::MessageState;

/// A store made by `make` from the checked `capacity` and `ttlMs` options
/// (the constructors of `Deduper` and `StatusFold`).
fn with_sizes<T>(
    env: &Env,
    o: Option<Json>,
    make: impl FnOnce(usize, Duration) -> T,
) -> napi::Result<T> {
    guard(env, || {
        let (cap, ttl) = sizes(o)?;
        Ok(make(cap, ttl))
    })
}

fn sizes(o: Option<Json>) -> wa360::Result<(usize, Duration)> {
    let o = crate::own::options(o, &["capacity", "ttlMs"])?;
    let cap = match crate::own::opt_num(&o, "capacity")? {
        Some(c) => wa360::input::int_option("capacity", c, 1, wa360::input::MAX_CAPACITY)? as usize,
        None => DEFAULT_CAPACITY,
    };
    let ttl = match crate::own::opt_num(&o, "ttlMs")? {
        Some(t) => wa360::input::duration_ms_option("ttlMs", t)?,
        None => DEFAULT_TTL,
    };
    Ok((cap, ttl))
}

/// The dedupe key of a canonical event object: message id; (status id,
/// status) (long ones hashed, as in the core's `dedupe_key`); otherwise the
/// core's digest of the event's JSON value (own properties, keys sorted).
fn key_of(event: &RawObject) -> wa360::Result<DedupeKey> {
    let max = wa360::webhook::dedupe::MAX_KEY_TEXT;
    match (event.own_str("kind").as_deref(), event.own_str("id")) {
        (Some("message"), Some(id)) if id.len() <= max => return Ok(DedupeKey::message(id)),
        (Some("status"), Some(id)) => {
            if let Some(st) = event
                .own_str("status")
                .filter(|st| id.len() + st.len() <= max)
            {
                return Ok(DedupeKey::status(id, st));
            }
        }
        _ => {}
    }
    Ok(DedupeKey::of_value(&event.json()?))
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
    #[napi(
        constructor,
        ts_args_type = "options?: MemoryStoreOptions | undefined | null"
    )]
    pub fn new(env: Env, options: Option<Json>) -> napi::Result<Self> {
        with_sizes(&env, options, |cap, ttl| JsDeduper {
            store: MemoryDedupe::new(cap, ttl),
        })
    }

    /// Record `event`; `true` the first time it is seen.
    #[napi(ts_args_type = "event: object")]
    pub fn is_new(&self, env: Env, event: RawObject) -> napi::Result<bool> {
        guard(&env, || Ok(!self.store.check_and_record(&key_of(&event)?)))
    }

    /// Forget `event` so its redelivery is processed again (call it when handling failed).
    #[napi(ts_args_type = "event: object")]
    pub fn forget(&self, env: Env, event: RawObject) -> napi::Result<()> {
        guard(&env, || {
            self.store.forget(&key_of(&event)?);
            Ok(())
        })
    }
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
    #[napi(
        constructor,
        ts_args_type = "options?: MemoryStoreOptions | undefined | null"
    )]
    pub fn new(env: Env, options: Option<Json>) -> napi::Result<Self> {
        with_sizes(&env, options, |cap, ttl| JsStatusFold {
            inner: wa360::webhook::dedupe::StatusFold::new(MemoryStatusStore::new(cap, ttl)),
        })
    }

    /// Apply one status event. Returns `advanced` or `failed` (report it),
    /// `unrecognised` (an unranked status: reported, state unchanged),
    /// `duplicate` or `stale` (drop it).
    #[napi(
        ts_args_type = "event: object",
        ts_return_type = "'advanced' | 'failed' | 'unrecognised' | 'duplicate' | 'stale'"
    )]
    pub fn apply(&self, env: Env, event: Json) -> napi::Result<&'static str> {
        guard(&env, || {
            let v = event.0;
            let s = |k: &str| v.get(k).and_then(Value::as_str);
            let (Some(id), Some(status)) = (s("id"), s("status")) else {
                return Ok(FoldOutcome::Unrecognised.as_str());
            };
            let timestamp = v.get("timestamp").and_then(Value::as_i64);
            let errors = v
                .get("errors")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            Ok(self.inner.apply(id, status, timestamp, errors).as_str())
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
