//! `wa360 demo-receiver`: a small echo bot used by `make demo`.
//!
//! It listens on 127.0.0.1 and hands every request to the core's one
//! webhook receiver (`wa360::webhook::Receiver`: Basic auth, caps, parse,
//! in-memory dedupe), answers with its reply at once, and handles the new
//! events off the request path: each inbound
//! message is marked read and answered with an echo through the client;
//! statuses are printed. With `--exit-after-read` it ends (exit 0) once the
//! echo of every received message was reported `read`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use clap::Args;
use tokio::sync::{Notify, mpsc};
use wa360::client::Client;
use wa360::messages::Message;
use wa360::webhook::dedupe::Deduper;
use wa360::webhook::verify::Verifier;
use wa360::webhook::{Event, Receiver, ReceiverConfig};

use crate::{ApiOpts, CliResult, Failure, make_client};

#[derive(Args, Debug)]
pub(crate) struct ReceiverArgs {
    #[command(flatten)]
    api: ApiOpts,
    /// Require `Authorization: Basic …` with these credentials (user:pass).
    #[arg(long, value_name = "USER:PASS")]
    basic_auth: Option<String>,
    /// Write the receiver's URL to this file once it listens.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Exit 0 once the echo reply was reported `read`.
    #[arg(long)]
    exit_after_read: bool,
    /// Give up (exit 1) after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
}

struct Shared {
    receiver: Receiver,
    events: mpsc::UnboundedSender<Event>,
}

async fn hook(
    State(s): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let reply = s.receiver.handle(
        method.as_str(),
        query.as_deref().unwrap_or(""),
        &pairs,
        &body,
    );
    if let Some(e) = &reply.error {
        outln!(
            "   receiver: refused a delivery with {} ({})",
            reply.status,
            e.code()
        );
    }
    for e in reply.events {
        let _ = s.events.send(e);
    }
    (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.body,
    )
}

fn describe_message(m: &wa360::webhook::InboundMessage) -> String {
    let kind = m.message_type().unwrap_or("?");
    match m.payload() {
        Some(p) if kind == "text" => format!(
            "text {:?}",
            p.get("body").and_then(|b| b.as_str()).unwrap_or("")
        ),
        _ => kind.to_string(),
    }
}

/// The verifier of a `--basic-auth user:password` option (none without it).
pub(crate) fn basic_auth_verifier(arg: Option<&str>) -> Result<Option<Verifier>, Failure> {
    let Some(ba) = arg else { return Ok(None) };
    let (u, p) = ba
        .split_once(':')
        .ok_or_else(|| Failure::input("--basic-auth must look like user:password"))?;
    Ok(Some(Verifier::basic_auth(u, p.to_string())?))
}

pub(crate) async fn run(a: ReceiverArgs) -> CliResult {
    let client: Client = make_client(&a.api)?;
    let verifier = basic_auth_verifier(a.basic_auth.as_deref())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let receiver = Receiver::new(ReceiverConfig {
        verifier,
        dedupe: Some(Deduper::memory()),
        ..ReceiverConfig::default()
    });
    let figures = receiver.clone();
    let shared = Arc::new(Shared {
        receiver,
        events: tx,
    });
    let app = Router::new()
        .route("/webhook", any(hook))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::runtime(format!("cannot listen: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::runtime(format!("cannot listen: {e}")))?;
    let url = format!("http://{addr}/webhook");
    let done = Arc::new(Notify::new());
    let server_done = Arc::clone(&done);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { server_done.notified().await })
            .await;
    });
    if let Some(path) = &a.ready_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &url)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    outln!("   receiver: listening on {url}");

    let replies: Arc<Mutex<HashSet<String>>> = Arc::default();
    let pending = Arc::new(Mutex::new(0usize));
    let deadline = tokio::time::sleep(
        crate::seconds_arg("max-seconds", a.max_seconds, true)?.max(Duration::from_secs(1)),
    );
    tokio::pin!(deadline);
    let mut answered_any = false;
    let outcome = loop {
        let ev = tokio::select! {
            _ = &mut deadline => break Err(Failure::runtime("demo receiver: timed out waiting for the read status")),
            ev = rx.recv() => match ev { Some(e) => e, None => break Ok(()) },
        };
        if let Some(m) = ev.as_message() {
            let from = m.from().unwrap_or("?").to_string();
            let id = m.id().unwrap_or_default().to_string();
            outln!("<- inbound  {} from {from} ({id})", describe_message(m));
            let text = m
                .payload()
                .and_then(|p| p.get("body"))
                .and_then(|b| b.as_str())
                .map(|t| format!("echo: {t}"))
                .unwrap_or_else(|| "echo: thanks for your message".to_string());
            // Handle off the request path: mark read, then reply.
            let client = client.clone();
            let replies = Arc::clone(&replies);
            *pending.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            answered_any = true;
            tokio::spawn(async move {
                if let Err(e) = client.mark_read(&id).await {
                    outln!("   receiver: mark_read failed: {e}");
                }
                match client
                    .send(&Message::text(&from, &text).reply_to(&id))
                    .await
                {
                    Ok(r) => {
                        let wamid = r.message_id().unwrap_or_default().to_string();
                        outln!("-> reply    text {text:?} to {from} ({wamid})");
                        replies
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(wamid);
                    }
                    Err(e) => outln!("   receiver: reply failed: {e} ({})", e.code()),
                }
            });
        } else if let Some(s) = ev.as_status() {
            let id = s.id().unwrap_or_default().to_string();
            let status = s.status().unwrap_or("?").to_string();
            outln!("<- status   {status:<9} for {id}");
            let ours = replies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&id);
            if ours && status == "read" {
                let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
                *p = p.saturating_sub(1);
                if a.exit_after_read && answered_any && *p == 0 {
                    break Ok(());
                }
            }
        } else {
            outln!("<- event    {}", ev.kind());
        }
    };
    done.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let m = figures.metrics();
    outln!(
        "   receiver: {} deliveries by status {:?}, events {:?}",
        m.ack_latency.count,
        m.deliveries,
        m.events
    );
    outcome
}
