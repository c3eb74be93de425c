//! `Client`: the 360dialog Cloud API client, Promise-returning methods.
//!
//! One core `wa360::Client` (Arc inside, one connection pool) lives in each JS
//! `Client`; every call clones it into a future on napi's tokio runtime.
//! Structured arguments cross the boundary as JSON values and are validated by
//! the core before any request.

use std::collections::{BTreeMap, HashMap};

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::errors::{guard, spawn};
use crate::types::{
    ClientDescription, ClientMetrics, LatencyBucket, LatencyHistogram, SendContact, SendResponse,
    SentMessage,
};

/// The keys of `ClientOptions`.
const CLIENT_OPTIONS: &[&str] = &[
    "apiKey",
    "baseUrl",
    "timeoutMs",
    "connectTimeoutMs",
    "maxRetries",
    "governor",
];

impl From<wa360::client::SendResponse> for SendResponse {
    fn from(r: wa360::client::SendResponse) -> Self {
        SendResponse {
            message_id: r.message_id().map(str::to_owned),
            contacts: r
                .contacts
                .into_iter()
                .map(|c| SendContact {
                    input: c.input,
                    wa_id: c.wa_id,
                    user_id: c.user_id,
                })
                .collect(),
            messages: r
                .messages
                .into_iter()
                .map(|m| SentMessage {
                    id: m.id,
                    message_status: m.message_status,
                })
                .collect(),
        }
    }
}

/// A 360dialog Cloud API client for one channel. Immutable; share one per
/// API key: all its calls share one connection pool. Printing it
/// (`util.inspect`, `JSON.stringify`) never shows the key.
#[napi(js_name = "Client")]
pub struct JsClient {
    pub(crate) inner: wa360::client::Client,
}

impl Drop for JsClient {
    fn drop(&mut self) {
        crate::logging::client_dropped(self.inner.id());
    }
}

#[napi]
impl JsClient {
    /// `new Client({ apiKey, baseUrl, timeoutMs, connectTimeoutMs, maxRetries })`.
    /// Throws `configuration` when no key is given and `D360_API_KEY` is unset.
    #[napi(
        constructor,
        ts_args_type = "options?: ClientOptions | undefined | null"
    )]
    pub fn new(env: Env, options: Option<crate::own::Json>) -> napi::Result<Self> {
        use crate::own::{opt_num, opt_str, options as read_options};
        use wa360::input::{duration_ms_option, int_option};
        guard(&env, move || {
            let o = read_options(options, CLIENT_OPTIONS)?;
            let mut b = wa360::client::Client::builder()
                .user_agent_suffix(&format!("node/{}", node_version()));
            if let Some(k) = opt_str(&o, "apiKey")? {
                b = b.api_key(k);
            }
            if let Some(u) = opt_str(&o, "baseUrl")? {
                b = b.base_url(&u);
            }
            if let Some(t) = opt_num(&o, "timeoutMs")? {
                b = b.timeout(duration_ms_option("timeoutMs", t)?);
            }
            if let Some(t) = opt_num(&o, "connectTimeoutMs")? {
                b = b.connect_timeout(duration_ms_option("connectTimeoutMs", t)?);
            }
            if let Some(n) = opt_num(&o, "maxRetries")? {
                b = b
                    .max_retries(int_option("maxRetries", n, 0, wa360::input::MAX_RETRIES)? as u32);
            }
            if let Some(g) = o.get("governor") {
                let spec = crate::governor::from_json(g.clone())?;
                b = b.governor(spec.config);
                if let Some(url) = spec.store {
                    b = b.governor_store(wa360::governor::open_store(&url)?);
                }
            }
            let inner = b.build()?;
            crate::logging::client_created(inner.id());
            Ok(JsClient { inner })
        })
    }

    /// The base URL requests go to.
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.config().base_url().to_owned()
    }

    /// A snapshot of this client's metrics: `requests` (finished requests by outcome,
    /// `ok` or an error code), `retries` (by reason) and `send_latency` (histogram of
    /// `POST /messages` times in seconds, cumulative buckets). Names: docs/observability.md.
    #[napi]
    pub fn metrics(&self) -> ClientMetrics {
        let m = self.inner.metrics();
        ClientMetrics {
            requests: metric_counts(m.requests),
            retries: metric_counts(m.retries),
            send_latency: m.send_latency.into(),
        }
    }

    /// The number naming this client in log records (`client` field); used by `wa360.js`
    /// to route records to the client's `logger`.
    #[napi(getter, js_name = "_logId")]
    pub fn log_id(&self) -> f64 {
        // Client ids count up from 1 per process; far below 2^53.
        self.inner.id() as f64
    }

    /// What `JSON.stringify(client)` shows: the base URL only, never the key.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> ClientDescription {
        ClientDescription {
            base_url: self.base_url(),
        }
    }

    /// Send an already-built wire body to `POST /messages` (same retry rules
    /// as `send`: never double-sends).
    #[napi(ts_args_type = "body: Record<string, unknown>")]
    pub fn send_body<'env>(
        &self,
        env: &'env Env,
        body: crate::own::Json,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let c = self.inner.clone();
        spawn(env, async move { c.send_body(body.0).await }, |_, r| {
            Ok(SendResponse::from(r))
        })
    }

    /// Mark an inbound message (and the ones before it) as read.
    #[napi(ts_args_type = "messageId: string", ts_return_type = "Promise<void>")]
    pub fn mark_read<'env>(
        &self,
        env: &'env Env,
        message_id: crate::own::Text,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.receipt(env, message_id, false)
    }

    /// Show a typing indicator (up to 25 s; also marks the message read).
    #[napi(ts_args_type = "messageId: string", ts_return_type = "Promise<void>")]
    pub fn typing<'env>(
        &self,
        env: &'env Env,
        message_id: crate::own::Text,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.receipt(env, message_id, true)
    }
}

impl JsClient {
    /// `markRead` or (`typing`) `typing`: a `POST /messages` about an inbound message.
    fn receipt<'env>(
        &self,
        env: &'env Env,
        message_id: crate::own::Text,
        typing: bool,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.inner.clone();
        let run = async move {
            let id = message_id.named("messageId")?;
            if typing {
                c.typing(&id).await
            } else {
                c.mark_read(&id).await
            }
        };
        spawn(env, run, |_, v| Ok(v))
    }
}

/// A metrics snapshot's counts by label as JS numbers (the client's, the
/// receiver's and the inbox's `metrics()`); counts stay exact below 2^53.
pub(crate) fn metric_counts(c: BTreeMap<String, u64>) -> HashMap<String, f64> {
    c.into_iter().map(|(k, v)| (k, v as f64)).collect()
}

impl From<wa360::metrics::HistogramSnapshot> for LatencyHistogram {
    fn from(h: wa360::metrics::HistogramSnapshot) -> Self {
        LatencyHistogram {
            count: h.count as f64,
            sum_seconds: h.sum_seconds,
            buckets: h
                .buckets
                .into_iter()
                .map(|b| LatencyBucket {
                    le: b.le,
                    count: b.count as f64,
                })
                .collect(),
        }
    }
}

fn node_version() -> &'static str {
    // The user agent names the binding; the Node version is not needed by the
    // server and reading it would need the Env, so the package version is used.
    env!("CARGO_PKG_VERSION")
}
