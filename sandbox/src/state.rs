//! Shared sandbox state: configuration, webhook settings, media store, fault
//! script and the inspection records.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::faults::FaultRule;

/// The invented business identity the sandbox answers as (the same values as
/// the example payloads in the spec).
pub const WABA_ID: &str = "104785930284756";
/// Phone-number ID reported in webhook `metadata`.
pub const PHONE_NUMBER_ID: &str = "112233445566778";
/// Display phone number reported in webhook `metadata`.
pub const DISPLAY_PHONE_NUMBER: &str = "15550104321";

/// One API request the sandbox received (the API key header is removed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRequest {
    /// Sequence number: 0 for the first request, and it keeps counting (also across a reset).
    pub seq: u64,
    /// HTTP method, upper case.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Request headers (lower-case names) except `d360-api-key`.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON; for multipart uploads a summary of the parts;
    /// `null` when there was no body or it was not read (reset before body).
    pub body: Value,
    /// The body as text when it was not JSON (cut to 4 KiB), else `null`.
    pub body_text: Option<String>,
    /// Whether the request carried the right API key.
    pub authorized: bool,
    /// The fault that was applied to this request, if any.
    pub fault: Option<Value>,
    /// HTTP status answered, `None` when the connection was reset.
    pub status: Option<u16>,
    /// Milliseconds since the Unix epoch when the request arrived.
    pub at_ms: u64,
}

/// One webhook delivery attempt made by the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryAttempt {
    /// Identifies the event being delivered; all attempts of one event share it.
    pub delivery_id: u64,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// What is delivered: `status:sent`, `status:delivered`, `status:read`,
    /// `inbound` or `raw`.
    pub kind: String,
    /// The URL posted to.
    pub url: String,
    /// The webhook body that was posted.
    pub body: Value,
    /// Header names sent (values are not recorded: they are credentials).
    pub header_names: Vec<String>,
    /// HTTP status the receiver answered, if it answered in time.
    pub status: Option<u16>,
    /// Connection error or timeout text, if any.
    pub error: Option<String>,
    /// Whether this attempt counts as delivered (HTTP 200).
    pub ok: bool,
    /// Milliseconds since the Unix epoch when the attempt started.
    pub at_ms: u64,
}

/// A registered webhook (URL and the headers sent with every delivery).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct WebhookConfig {
    /// Callback URL.
    pub url: String,
    /// Headers sent with every delivery.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// An uploaded (or simulated inbound) media object.
#[derive(Debug, Clone)]
pub struct MediaObject {
    pub id: String,
    pub bytes: bytes::Bytes,
    pub mime_type: String,
    pub sha256: String,
    pub hash: String,
}

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_key: String,
    pub allow_http_callbacks: bool,
    pub time_scale: f64,
    pub max_delivery_attempts: u32,
    pub base_url: String,
}

impl Settings {
    /// Scale a nominal (real-world) duration by `time_scale`, at most a year: any finite
    /// positive scale is accepted, and `Duration::mul_f64` panics past `Duration::MAX`.
    pub fn scaled(&self, d: Duration) -> Duration {
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        Duration::try_from_secs_f64(d.as_secs_f64() * self.time_scale)
            .unwrap_or(YEAR)
            .min(YEAR)
    }
}

#[derive(Default)]
pub struct Inner {
    pub requests: Vec<RecordedRequest>,
    pub deliveries: Vec<DeliveryAttempt>,
    pub faults: VecDeque<FaultRule>,
    pub phone_webhook: Option<WebhookConfig>,
    pub waba_webhook: Option<WebhookConfig>,
    pub media: HashMap<String, MediaObject>,
    pub next_delivery_id: u64,
    pub next_seq: u64,
    pub limits: crate::limits::LimitState,
    /// Templates, profile, health, block list, resumable uploads.
    pub manage: crate::manage::ManageState,
}

/// At most this many requests and delivery attempts are kept (oldest dropped
/// first), so a long-running sandbox does not grow without bound.
pub const RECORD_CAP: usize = 10_000;

/// Drop the oldest entries beyond [`RECORD_CAP`] (in batches, to stay cheap).
pub fn trim<T>(v: &mut Vec<T>) {
    if v.len() > RECORD_CAP + RECORD_CAP / 10 {
        let excess = v.len() - RECORD_CAP;
        v.drain(..excess);
    }
}

/// Everything the handlers share.
pub struct State {
    pub settings: Settings,
    pub inner: Mutex<Inner>,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// The runtime the server runs on: background work is spawned there, so
    /// `Control` calls work from any thread (e.g. a `BlockingSandbox` caller).
    pub runtime: tokio::runtime::Handle,
}

impl State {
    /// Lock the mutable state; a poisoned lock is recovered (a panic in one
    /// handler must not take the whole sandbox down).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spawn a background task that ends when the sandbox stops.
    pub fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = self.shutdown.clone();
        self.tasks.spawn_on(
            async move {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = fut => {}
                }
            },
            &self.runtime,
        );
    }

    /// Forget requests, deliveries, faults, webhooks and media.
    pub fn reset(&self) {
        let mut g = self.lock();
        g.requests.clear();
        g.deliveries.clear();
        g.faults.clear();
        g.phone_webhook = None;
        g.waba_webhook = None;
        g.media.clear();
        g.limits.reset_counts();
        g.manage = crate::manage::ManageState::default();
    }

    /// The webhook deliveries go to: phone level wins over WABA level.
    pub fn webhook_target(&self) -> Option<WebhookConfig> {
        let g = self.lock();
        g.phone_webhook.clone().or_else(|| g.waba_webhook.clone())
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, as the decimal string webhooks carry.
pub fn now_ts() -> String {
    (now_ms() / 1000).to_string()
}

/// A random string of `n` characters from `alphabet`.
pub fn random_string(n: usize, alphabet: &[u8]) -> String {
    (0..n)
        .map(|_| alphabet[fastrand::usize(..alphabet.len())] as char)
        .collect()
}

/// Alphanumeric alphabet.
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh wamid shaped like the real ones (`wamid.HBgL…` base64).
pub fn new_wamid() -> String {
    use base64::Engine;
    let mut raw = Vec::with_capacity(32);
    raw.extend_from_slice(b"\x1c\x18\x0b");
    for _ in 0..29 {
        raw.push(fastrand::u8(..));
    }
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A fresh numeric id (media ids, trace ids).
pub fn numeric_id(len: usize) -> String {
    let mut s = String::with_capacity(len);
    s.push(char::from(b'1' + fastrand::u8(..9)));
    s.push_str(&random_string(len - 1, b"0123456789"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_accepted_time_scale_scales_without_panicking() {
        let at = |time_scale| Settings {
            api_key: String::new(),
            allow_http_callbacks: false,
            time_scale,
            max_delivery_attempts: 1,
            base_url: String::new(),
        };
        let d = Duration::from_secs(10);
        assert_eq!(at(0.5).scaled(d), Duration::from_secs(5));
        assert_eq!(at(1e-300).scaled(d), Duration::ZERO);
        let year = Duration::from_secs(365 * 24 * 3600);
        assert_eq!(at(1e300).scaled(d), year);
        assert_eq!(at(f64::MAX).scaled(Duration::MAX), year);
    }
}
