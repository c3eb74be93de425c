//! # wa360-sandbox — a local 360dialog Cloud API emulator
//!
//! A real HTTP server on `127.0.0.1` that behaves like 360dialog's
//! `waba-v2.360dialog.io`: it checks the `D360-API-KEY`, validates and accepts
//! sends, delivers status and inbound webhooks (with retries), stores media,
//! and can be scripted to misbehave (429, Meta errors, 5xx, HTML pages, slow
//! answers, connection resets, broken JSON). Everything it received and
//! delivered can be inspected, so a test can assert "exactly one request
//! reached the server".
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = wa360_sandbox::Sandbox::builder().time_scale(0.01).start().await?;
//! println!("base URL {} key {}", sandbox.url(), sandbox.api_key());
//! // … point a client at sandbox.url() …
//! # Ok(()) }
//! ```
//!
//! The routes are documented in the crate's `README.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod errors;
mod faults;
mod limits;
mod manage;
mod server;
mod state;
mod validate;
mod wait;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use errors::{d360_error_body, meta_error_body};
pub use faults::{
    FAULT_DEFAULT_COUNT, FAULT_DEFAULT_METHOD, FAULT_DEFAULT_PATH, Fault, FaultRule, RetryAfter,
    default_status_for_code,
};
pub use limits::{LimitCounters, Limits, PairRate, RecipientCounts};
pub use state::{
    DISPLAY_PHONE_NUMBER, DeliveryAttempt, PHONE_NUMBER_ID, RecordedRequest, WABA_ID, WebhookConfig,
};
pub use wait::{
    DEFAULT_WAIT_INTERVAL, DEFAULT_WAIT_TIMEOUT, DeliveryWait, SandboxWait, WaitUnit, Waiter,
};
pub use webhooks::{RETRY_BASE, RETRY_CAP, check_webhook_url, retry_delay};

use state::{Inner, Settings, State};

/// Result type of the sandbox's start functions.
pub type Result<T> = std::result::Result<T, std::io::Error>;

/// Options for a [`Sandbox`]; start it with [`SandboxBuilder::start`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    api_key: Option<String>,
    port: u16,
    allow_http_callbacks: bool,
    time_scale: f64,
    max_delivery_attempts: u32,
    limits: Limits,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            api_key: None,
            port: 0,
            allow_http_callbacks: true,
            time_scale: 1.0,
            max_delivery_attempts: 10,
            limits: Limits::none(),
        }
    }
}

impl SandboxBuilder {
    /// The API key clients must send (default: a fresh random key).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The port to listen on (default 0: a free random port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Also accept `http://127.0.0.1[:port]` and `http://localhost[:port]`
    /// webhook URLs (default `true` in the library; the real API requires
    /// HTTPS without a port). This is the only relaxation of the URL rules.
    pub fn allow_http_callbacks(mut self, allow: bool) -> Self {
        self.allow_http_callbacks = allow;
        self
    }

    /// Compress time: every nominal delay (status webhook spacing, retry
    /// delays, the 5 s receiver timeout) is multiplied by this factor.
    /// `0.001` turns a 10 s retry delay into 10 ms. Default `1.0`.
    /// Values that are not finite or not positive are ignored.
    pub fn time_scale(mut self, scale: f64) -> Self {
        if scale.is_finite() && scale > 0.0 {
            self.time_scale = scale;
        }
        self
    }

    /// How many times one webhook event is attempted before it is dropped
    /// (default 10; at least 1).
    pub fn max_delivery_attempts(mut self, n: u32) -> Self {
        self.max_delivery_attempts = n.max(1);
        self
    }

    /// Enforce rate limits like the real API (all off by default; see [`Limits`]).
    /// Invalid values are reported by [`SandboxBuilder::start`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Bind `127.0.0.1` and start serving on the current tokio runtime.
    pub async fn start(self) -> Result<Sandbox> {
        self.limits
            .check()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        let addr = listener.local_addr()?;
        let api_key = self
            .api_key
            .unwrap_or_else(|| format!("sbx_{}", state::random_string(32, state::ALNUM)));
        // No idle connection is kept to the receiver: the client lives as long as the
        // sandbox's state (the bindings keep it after a stop, for inspection), and a kept
        // connection held the app's server open, so that its test process did not exit
        // after `server.close()` until the pool dropped it 90 s later.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .map_err(std::io::Error::other)?;
        let shutdown = CancellationToken::new();
        let url = format!("http://{addr}");
        let state = Arc::new(State {
            settings: Settings {
                api_key: api_key.clone(),
                allow_http_callbacks: self.allow_http_callbacks,
                time_scale: self.time_scale,
                max_delivery_attempts: self.max_delivery_attempts,
                base_url: url.clone(),
            },
            inner: Mutex::new(Inner::default()),
            http,
            shutdown: shutdown.clone(),
            tasks: TaskTracker::new(),
            runtime: tokio::runtime::Handle::current(),
        });
        state.lock().limits.set(self.limits.clone());
        let server = tokio::spawn(server::serve(listener, Arc::clone(&state)));
        Ok(Sandbox {
            url,
            addr,
            api_key,
            state,
            server: Some(server),
        })
    }

    /// Start the sandbox on its own thread with its own tokio runtime, for
    /// callers without an async runtime (the Python binding, plain tests).
    pub fn start_blocking(self) -> Result<BlockingSandbox> {
        let (info_tx, info_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wa360-sandbox".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = info_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match self.start().await {
                        Err(e) => {
                            let _ = info_tx.send(Err(e));
                        }
                        Ok(sb) => {
                            let _ = info_tx.send(Ok((
                                sb.url.clone(),
                                sb.api_key.clone(),
                                Arc::clone(&sb.state),
                            )));
                            let _ = stop_rx.await;
                            sb.shutdown().await;
                        }
                    }
                });
            })?;
        let (url, api_key, state) = info_rx
            .recv()
            .map_err(|_| std::io::Error::other("sandbox thread ended before it started"))??;
        Ok(BlockingSandbox {
            url,
            api_key,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
            pid: std::process::id(),
        })
    }
}

/// A running sandbox. Dropping it stops the server and its background
/// webhook deliveries; [`Sandbox::shutdown`] does the same and waits.
pub struct Sandbox {
    url: String,
    addr: SocketAddr,
    api_key: String,
    state: Arc<State>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// `Name { url: "…", .. }`: a sandbox's `Debug` shows its URL, never its API key.
fn debug_url(f: &mut std::fmt::Formatter<'_>, name: &str, url: &str) -> std::fmt::Result {
    f.debug_struct(name)
        .field("url", &url)
        .finish_non_exhaustive()
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_url(f, "Sandbox", &self.url)
    }
}

impl Sandbox {
    /// Options for a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Start a sandbox with default options on a random port.
    pub async fn start() -> Result<Sandbox> {
        SandboxBuilder::default().start().await
    }

    /// Start a default sandbox on its own runtime thread (no ambient runtime needed).
    pub fn start_blocking() -> Result<BlockingSandbox> {
        SandboxBuilder::default().start_blocking()
    }

    /// Base URL, e.g. `http://127.0.0.1:40123` (use it as the client's base URL).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The socket address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key clients must send as `D360-API-KEY`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Direct access to the inspection and control functions.
    pub fn control(&self) -> Control {
        Control {
            state: Arc::clone(&self.state),
        }
    }

    /// Every API request received so far (see [`Control::requests`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.control().requests()
    }

    /// Every webhook delivery attempt so far.
    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.control().deliveries()
    }

    /// Script a fault.
    pub fn add_fault(&self, rule: FaultRule) {
        self.control().add_fault(rule)
    }

    /// Stop serving, end background deliveries, and wait for the server task.
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        self.state.tasks.close();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.state.tasks.wait()).await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        self.state.tasks.close();
    }
}

/// A sandbox running on its own thread and runtime
/// (from [`Sandbox::start_blocking`]). Dropping it stops the server and joins
/// the thread.
pub struct BlockingSandbox {
    url: String,
    api_key: String,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The process that started the server thread. A forked child has a copy of this value
    /// but not the thread (a fork copies only the forking thread): joining it there panics.
    pid: u32,
}

impl std::fmt::Debug for BlockingSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_url(f, "BlockingSandbox", &self.url)
    }
}

impl BlockingSandbox {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The API key clients must send as `D360-API-KEY`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Direct access to the inspection and control functions.
    pub fn control(&self) -> Control {
        Control {
            state: Arc::clone(&self.state),
        }
    }

    /// Stop the server and wait for its thread to end.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if std::process::id() != self.pid {
            // A forked child: the server thread and its runtime stayed in the parent. Neither
            // join nor detach the handle (its thread is not this process's); the parent's
            // copy stops the server.
            std::mem::forget(self.thread.take());
            std::mem::forget(self.stop.take());
            return;
        }
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BlockingSandbox {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// In-process access to the sandbox's records and scripts (the same data as
/// the `/_sandbox/` routes).
#[derive(Clone)]
pub struct Control {
    state: Arc<State>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// Every API request received (control routes excluded), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    /// The requests to `path` (exactly) with `method` (any case), oldest
    /// first; `None` matches any. What the bindings' `requests` filters use.
    pub fn requests_matching(
        &self,
        path: Option<&str>,
        method: Option<&str>,
    ) -> Vec<RecordedRequest> {
        let g = self.state.lock();
        g.requests
            .iter()
            .filter(|r| path.is_none_or(|p| r.path == p))
            .filter(|r| method.is_none_or(|m| r.method.eq_ignore_ascii_case(m)))
            .cloned()
            .collect()
    }

    /// Every webhook delivery attempt, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.state.lock().deliveries.clone()
    }

    /// Append a fault rule (rules are tried in order; the first match applies).
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.lock().faults.push_back(rule);
    }

    /// Replace the rate limits (buckets start full; counts are kept). The error names the
    /// field and the rule.
    pub fn set_limits(&self, limits: Limits) -> std::result::Result<(), String> {
        limits.check()?;
        self.state.lock().limits.set(limits);
        Ok(())
    }

    /// [`Control::add_fault`] from the JSON form the bindings take
    /// (`{method?, path?, count?, fault: {kind, …}}`); a bad rule is `invalid_argument`
    /// naming `rule`.
    pub fn add_fault_json(&self, rule: serde_json::Value) -> wa360::Result<()> {
        let rule: FaultRule = serde_json::from_value(rule)
            .map_err(|e| wa360::Error::invalid("rule", format!("is not a fault rule: {e}")))?;
        self.add_fault(rule);
        Ok(())
    }

    /// The bindings' `fault(kind, …)`: [`FaultRule::from_kind`], then [`Control::add_fault`].
    pub fn fault(
        &self,
        kind: &str,
        options: serde_json::Map<String, serde_json::Value>,
    ) -> wa360::Result<()> {
        self.add_fault(FaultRule::from_kind(kind, options)?);
        Ok(())
    }

    /// [`Control::set_limits`] from the JSON form the bindings take; errors are
    /// `invalid_argument` naming `limits`.
    pub fn set_limits_json(&self, limits: serde_json::Value) -> wa360::Result<()> {
        let limits: Limits = serde_json::from_value(limits)
            .map_err(|e| wa360::Error::invalid("limits", format!("is not a limits object: {e}")))?;
        self.set_limits(limits)
            .map_err(|e| wa360::Error::invalid("limits", e))
    }

    /// The rate limits in force.
    pub fn limits(&self) -> Limits {
        self.state.lock().limits.limits().clone()
    }

    /// Sends per recipient (normalised `wa_id`, or the `recipient` user id): accepted,
    /// refused with `130429`, refused with `131056`.
    pub fn recipient_counts(&self) -> std::collections::BTreeMap<String, RecipientCounts> {
        self.state.lock().limits.counts().clone()
    }

    /// Totals of accepted and refused sends, and endpoint-limit refusals.
    pub fn limit_counters(&self) -> LimitCounters {
        self.state.lock().limits.totals()
    }

    /// Remove every pending fault rule.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// The currently registered phone-level webhook.
    pub fn phone_webhook(&self) -> Option<WebhookConfig> {
        self.state.lock().phone_webhook.clone()
    }

    /// The currently registered WABA-level webhook.
    pub fn waba_webhook(&self) -> Option<WebhookConfig> {
        self.state.lock().waba_webhook.clone()
    }

    /// Register a webhook in-process, with the same rules as
    /// `POST /v1/configs/webhook` (or `/waba_webhook` when `waba`): the URL
    /// rules, the sandbox's `allow_http_callbacks` relaxation, and header
    /// names without `_`. Returns the broken rule as text.
    pub fn register_webhook(
        &self,
        waba: bool,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
    ) -> wa360::Result<()> {
        webhooks::check_webhook_url(url, self.state.settings.allow_http_callbacks)
            .map_err(|e| wa360::Error::invalid("url", e))?;
        let map: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let checked =
            webhooks::check_headers(&map).map_err(|e| wa360::Error::invalid("headers", e))?;
        let cfg = WebhookConfig {
            url: url.to_string(),
            headers: checked.into_iter().collect(),
        };
        let mut g = self.state.lock();
        if waba {
            g.waba_webhook = Some(cfg);
        } else {
            g.phone_webhook = Some(cfg);
        }
        Ok(())
    }

    /// Simulate an inbound webhook (same input forms as `POST /_sandbox/inbound`).
    /// Returns the message ids, or an error text (bad input or no webhook registered).
    pub fn inbound(&self, input: &serde_json::Value) -> std::result::Result<Vec<String>, String> {
        let (body, ids) = webhooks::inbound_body(&self.state, input)?;
        webhooks::deliver(&self.state, body, "inbound".into())
            .ok_or_else(|| "no webhook URL is registered".to_string())?;
        Ok(ids)
    }

    /// Mark users as having written to the business in the last 24 hours
    /// (only those can be blocked), as `POST /_sandbox/seen` does. Returns the
    /// broken rule as text (an empty list).
    pub fn mark_seen(&self, users: &[String]) -> std::result::Result<(), String> {
        manage::apply_seen(&self.state, users)
    }

    /// Replace the `GET /health_status` answer (`None` restores the healthy
    /// one), as `POST /_sandbox/health` does. The answer must be an object.
    pub fn set_health(&self, answer: Option<serde_json::Value>) -> std::result::Result<(), String> {
        manage::apply_health(&self.state, answer.unwrap_or(serde_json::Value::Null))
    }

    /// Clear requests, deliveries, faults, webhooks and media.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// The base URL the sandbox serves on.
    pub fn url(&self) -> String {
        self.state.settings.base_url.clone()
    }
}
