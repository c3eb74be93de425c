//! Test helpers: a webhook receiver on 127.0.0.1 that records what it gets
//! and can be told to fail or stall the first N deliveries.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

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
