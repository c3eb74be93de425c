//! The accept loop and the per-request wrapper (auth, recording, faults).
//!
//! axum's `serve` gives no handle on the TCP connection, but the reset faults
//! must really close the socket without an answer. So each connection is
//! served with hyper directly; a per-connection "kill switch" is put into the
//! request extensions, and a handler that pulls it makes the connection task
//! drop the connection with `SO_LINGER=0`, so the peer sees a TCP RST.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

use axum::response::IntoResponse;

use crate::errors::invalid_key;
use crate::faults::{Fault, fault_json, fault_response};
use crate::state::{RecordedRequest, State, now_ms};

/// Largest request body the sandbox reads (the real media limit is 100 MB).
const MAX_BODY: usize = 110 * 1024 * 1024;

#[derive(Clone)]
struct KillSwitch(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl KillSwitch {
    fn pull(&self) {
        let sender = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(tx) = sender {
            let _ = tx.send(());
        }
    }
}

/// Accept connections until the sandbox shuts down.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    let router = crate::api::router(Arc::clone(&state));
    let token = state.shutdown.clone();
    let conns = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = token.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(x) => x,
            Err(_) => {
                // Out of file descriptors and similar: back off briefly.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A duplicate handle on the socket, used only to set SO_LINGER=0 before
        // a deliberate reset (the option is shared by both handles).
        let dup = socket2::SockRef::from(&stream).try_clone().ok();
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let kill = KillSwitch(Arc::new(Mutex::new(Some(kill_tx))));
        let router = router.clone();
        let st = Arc::clone(&state);
        let token = token.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let router = router.clone();
                let st = Arc::clone(&st);
                let kill = kill.clone();
                async move { Ok::<_, Infallible>(handle(st, router, kill, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = kill_rx => {
                    if let Some(d) = &dup {
                        let _ = d.set_linger(Some(Duration::ZERO));
                    }
                    // Dropping the connection (and then `dup`) closes the socket: RST.
                }
                _ = token.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
                }
            }
        });
    }
    // Stop accepting at once: the port is closed before connections drain.
    drop(listener);
    conns.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), conns.wait()).await;
}

fn headers_map(req: &axum::http::request::Parts) -> BTreeMap<String, String> {
    req.headers
        .iter()
        .filter(|(k, _)| k.as_str() != "d360-api-key")
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).to_string(),
            )
        })
        .collect()
}

fn body_record(parts: &axum::http::request::Parts, bytes: &[u8]) -> (Value, Option<String>) {
    if bytes.is_empty() {
        return (Value::Null, None);
    }
    let ct = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("multipart/") {
        return (json!({"multipart": true, "size": bytes.len()}), None);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => (v, None),
        Err(_) => {
            let mut text = String::from_utf8_lossy(bytes).to_string();
            if text.len() > 4096 {
                let mut cut = 4096;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            (Value::Null, Some(text))
        }
    }
}

async fn handle(
    state: Arc<State>,
    router: axum::Router,
    kill: KillSwitch,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sandbox/") || path == "/_sandbox" {
        // Control routes: local only, no key, not recorded, no faults.
        return call(router, req.map(Body::new)).await;
    }
    let method = req.method().as_str().to_string();
    let query = req.uri().query().map(str::to_string);
    let authorized = req
        .headers()
        .get("d360-api-key")
        .is_some_and(|v| v.as_bytes() == state.settings.api_key.as_bytes());

    let fault = {
        let mut g = state.lock();
        let pos = g.faults.iter().position(|r| r.matches(&method, &path));
        match pos {
            None => None,
            Some(i) => {
                let rule = &mut g.faults[i];
                let fault = rule.fault.clone();
                if rule.count == 1 {
                    g.faults.remove(i);
                } else if rule.count > 1 {
                    rule.count -= 1;
                }
                Some(fault)
            }
        }
    };

    let (parts, body) = req.into_parts();
    let mut record = RecordedRequest {
        seq: 0,
        method,
        path,
        query,
        headers: headers_map(&parts),
        body: Value::Null,
        body_text: None,
        authorized,
        fault: fault.as_ref().map(fault_json),
        status: None,
        at_ms: now_ms(),
    };

    if matches!(fault, Some(Fault::ResetBeforeBody)) {
        push(&state, record);
        kill.pull();
        return std::future::pending().await;
    }

    let bytes = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            // The client went away or sent too much: nothing to answer.
            push(&state, record);
            kill.pull();
            return std::future::pending().await;
        }
    };
    let (b, t) = body_record(&parts, &bytes);
    record.body = b;
    record.body_text = t;

    if let Some(f) = &fault
        && let Some(resp) = fault_response(f)
    {
        record.status = Some(resp.status().as_u16());
        push(&state, record);
        return resp;
    }
    if authorized
        && fault.is_none()
        && !state
            .lock()
            .limits
            .endpoint_allows(std::time::Instant::now())
    {
        let resp = crate::errors::D360Error {
            status: 400,
            message: "You have exceeded the endpoint rate limit.".into(),
        }
        .into_response();
        record.status = Some(400);
        push(&state, record);
        return resp;
    }
    // Recorded before processing, so a request whose client gave up (delay
    // fault) or whose connection is reset still shows in the log.
    let seq = push(&state, record);

    let delay = match &fault {
        Some(Fault::Delay { ms }) => Some(Duration::from_millis(*ms)),
        _ => None,
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    // Processing runs in its own task: a client that times out or a reset
    // does not cancel it, as on a real server.
    let work = tokio::spawn(async move {
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if authorized {
            call(router, req).await
        } else {
            invalid_key()
        }
    });
    let resp = match work.await {
        Ok(r) => r,
        Err(_) => crate::errors::D360Error {
            status: 500,
            message: "Internal server error".into(),
        }
        .into_response(),
    };

    if matches!(fault, Some(Fault::ResetAfterBody)) {
        // The request was processed (a send is accepted), but the answer is lost.
        kill.pull();
        return std::future::pending().await;
    }
    set_status(&state, seq, resp.status().as_u16());
    resp
}

fn push(state: &State, mut record: RecordedRequest) -> u64 {
    let mut g = state.lock();
    let seq = g.next_seq;
    record.seq = seq;
    g.next_seq += 1;
    g.requests.push(record);
    crate::state::trim(&mut g.requests);
    seq
}

fn set_status(state: &State, seq: u64, status: u16) {
    let mut g = state.lock();
    if let Some(r) = g.requests.iter_mut().find(|r| r.seq == seq) {
        r.status = Some(status);
    }
}

async fn call(router: axum::Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    }
}
