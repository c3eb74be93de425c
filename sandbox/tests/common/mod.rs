//! Test helpers: a webhook receiver on 127.0.0.1 that records what it gets
//! and can be told to fail or stall the first N deliveries; raw HTTP calls to a
//! sandbox; sandboxes and core clients set up the way the tests need them.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use wa360::client::{Client, ClientBuilder};
use wa360::retry::RetryPolicy;
use wa360_sandbox::{Fault, FaultRule, Limits, RetryAfter, Sandbox};

/// One webhook POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    got: Vec<Received>,
    fail_first: usize,
    stall_first: usize,
    stall: Duration,
}

/// A local webhook receiver.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

async fn hook(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (n, fail, stall, stall_d) = {
        let mut g = inner.lock().unwrap();
        g.got.push(Received {
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        (g.got.len(), g.fail_first, g.stall_first, g.stall)
    };
    if n <= stall {
        tokio::time::sleep(stall_d).await;
        return StatusCode::OK;
    }
    if n <= fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            inner,
            url: format!("http://{addr}/hook"),
        }
    }

    /// Answer 500 to the first `n` deliveries.
    pub fn fail_first(&self, n: usize) {
        self.inner.lock().unwrap().fail_first = n;
    }

    /// Sleep `d` before answering the first `n` deliveries.
    pub fn stall_first(&self, n: usize, d: Duration) {
        let mut g = self.inner.lock().unwrap();
        g.stall_first = n;
        g.stall = d;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    /// Wait until at least `n` deliveries arrived (or panic after 10 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} webhooks arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The `statuses[0].status` of a status webhook, if it is one.
pub fn status_of(body: &Value) -> Option<String> {
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
        .as_str()
        .map(str::to_string)
}

thread_local! {
    // One HTTP client per test thread (each test has its own thread and runtime):
    // building a TLS-capable client is slow in debug builds.
    static HTTP: reqwest::Client = reqwest::Client::new();
}

/// The test thread's raw HTTP client.
pub fn http() -> reqwest::Client {
    HTTP.with(|c| c.clone())
}

/// One raw request to `path` of the sandbox, with `key` as `D360-API-KEY` when given
/// and `body` as JSON when given: the status and the JSON answer (`Null` when the
/// answer is not JSON).
pub async fn call(
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = http().request(method, format!("{}{path}", sb.url()));
    if let Some(k) = key {
        req = req.header("D360-API-KEY", k);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `POST path` with the sandbox's key and a JSON body.
pub async fn post_json(sb: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    call(
        sb,
        reqwest::Method::POST,
        path,
        Some(sb.api_key()),
        Some(&body),
    )
    .await
}

/// `POST path` to a `/_sandbox/...` control route (no key) with a JSON body.
pub async fn control_post(sb: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    call(sb, reqwest::Method::POST, path, None, Some(&body)).await
}

/// `GET path` of a `/_sandbox/...` control route (no key): its JSON answer, which must be 200.
pub async fn control_get(sb: &Sandbox, path: &str) -> Value {
    let (status, v) = call(sb, reqwest::Method::GET, path, None, None).await;
    assert_eq!(status, 200, "GET {path}: {v}");
    v
}

/// A text message to `to` in the wire form.
pub fn text_body(to: &str) -> Value {
    json!({"messaging_product":"whatsapp","to":to,"type":"text","text":{"body":"hi"}})
}

/// A sandbox with `limits`.
pub async fn with_limits(limits: Limits) -> Sandbox {
    Sandbox::builder().limits(limits).start().await.unwrap()
}

/// A sandbox with a time scale (webhooks and windows run `scale` times their real time).
pub async fn scaled(scale: f64) -> Sandbox {
    Sandbox::builder().time_scale(scale).start().await.unwrap()
}

/// A core client builder for the sandbox: its URL and key.
pub fn client_builder(sb: &Sandbox) -> ClientBuilder {
    Client::builder().base_url(&sb.url()).api_key(sb.api_key())
}

/// A retry policy with short waits: `max_retries` retries, backoff `base_ms`..`cap_ms`,
/// a `Retry-After` honoured up to `max_after_ms`.
pub fn quick_retries(
    max_retries: u32,
    base_ms: u64,
    cap_ms: u64,
    max_after_ms: u64,
) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base: Duration::from_millis(base_ms),
        cap: Duration::from_millis(cap_ms),
        max_retry_after: Duration::from_millis(max_after_ms),
    }
}

/// `POST /messages` answers 429 with `Retry-After: secs` (until the rule is used up).
pub fn rate_limit_rule(secs: u64) -> FaultRule {
    on_send(Fault::RateLimit {
        retry_after: Some(RetryAfter::Seconds(secs)),
    })
}

/// The `POST /messages` requests the sandbox has seen.
pub fn message_requests(sb: &Sandbox) -> Vec<wa360_sandbox::RecordedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| r.path == "/messages")
        .collect()
}

/// The `POST /messages` requests the sandbox accepted (answered 200).
pub fn accepted_sends(sb: &Sandbox) -> Vec<wa360_sandbox::RecordedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| r.path == "/messages" && r.status == Some(200))
        .collect()
}

/// The rate the sandbox accepted sends at, from its own log: the sends after the
/// initial burst (8) over the time they took. Returns (messages per second, seconds).
pub fn sustained_rate(sb: &Sandbox) -> (f64, f64) {
    let sends = accepted_sends(sb);
    let first = sends.iter().map(|r| r.at_ms).min().unwrap();
    let last = sends.iter().map(|r| r.at_ms).max().unwrap();
    let secs = (last - first) as f64 / 1000.0;
    ((sends.len() as f64 - 8.0) / secs, secs)
}

/// Sends `n` texts `"n<i>"` for `i` in `sends` from `tasks` concurrent tasks sharing one
/// counter, send `i` going to recipient `1555000<i % recipients>`: the errors met.
pub async fn send_pool(
    c: &Client,
    tasks: usize,
    sends: std::ops::Range<usize>,
    recipients: usize,
) -> Vec<String> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(sends.start));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let c = c.clone();
        let next = Arc::clone(&next);
        let end = sends.end;
        handles.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= end {
                    break;
                }
                let to = format!("1555000{:04}", i % recipients);
                let msg = wa360::messages::Message::text(&to, format!("n{i}"));
                if let Err(e) = c.send(&msg).await {
                    errors.push(e.to_string());
                }
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for h in handles {
        errors.extend(h.await.unwrap());
    }
    errors
}

/// A rule that makes the next `POST /messages` meet `fault`.
pub fn on_send(fault: Fault) -> FaultRule {
    FaultRule::new("POST", "/messages", fault)
}

/// Meta's error `code` with every other field at its default.
pub fn meta_error(code: i64) -> Fault {
    Fault::MetaError {
        code,
        status: None,
        message: None,
        details: None,
        subcode: None,
        retry_after: None,
    }
}

/// A request to `path` of the sandbox carrying its key.
pub fn keyed(sb: &Sandbox, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, format!("{}{path}", sb.url()))
        .header("D360-API-KEY", sb.api_key())
}
