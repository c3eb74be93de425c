//! `wa360 bench-receiver` (hidden, for `make bench`): an open-loop load
//! generator for webhook receivers. It sends `--rate` deliveries per second
//! for `--seconds`, each a distinct inbound message (so an inbox really stores
//! every one), and reports the achieved rate and the acknowledgement latency
//! percentiles as one JSON line.
//!
//! Hand-written instead of `oha` / `wrk` because those repeat one body: every
//! delivery after the first would be a duplicate, which an inbox answers
//! without storing anything, and the figures would flatter it. Latency is
//! measured from each delivery's scheduled send time, so a stalled receiver
//! cannot hide its backlog (no coordinated omission).

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::{CliResult, Failure};

#[derive(Args, Debug)]
pub(crate) struct LoadArgs {
    /// The receiver's URL.
    #[arg(long)]
    url: String,
    /// Deliveries per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// How long to send.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Basic auth credentials (user:pass) sent with every delivery.
    #[arg(long)]
    basic_auth: Option<String>,
    /// An extra header (`name: value`) sent with every delivery, e.g. the
    /// signature header another library's receiver insists on.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// A label copied into the JSON line.
    #[arg(long, default_value = "")]
    label: String,
}

pub(crate) async fn run(a: LoadArgs) -> CliResult {
    if a.rate == 0 || !(a.seconds.is_finite() && a.seconds > 0.0) {
        return Err(Failure::input("--rate and --seconds must be positive"));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::runtime(e.to_string()))?;
    let auth = a.basic_auth.as_deref().map(|ba| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(ba)
        )
    });
    let mut extra = Vec::with_capacity(a.headers.len());
    for h in &a.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Failure::input("--header must look like `name: value`"));
        };
        extra.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let total = (f64::from(a.rate) * a.seconds).round() as u64;
    let every = Duration::from_secs_f64(1.0 / f64::from(a.rate));
    let run_id = std::process::id();
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + every.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let from = format!("1555{:07}", i % 1000);
        let mut body = wa360::webhook::testing::inbound_text(
            &from,
            "load",
            &format!("wamid.LOAD{run_id}.{i}"),
        );
        // The contact's BSUID as deliveries carry it since BSUIDs rolled out
        // (docs/360dialog-api.md). pywa 4.5 needs it: without it every delivery of its
        // row failed while building its update, and the row measured that failure.
        body["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] =
            json!(format!("US.{from}"));
        let body = body.to_string();
        let mut req = http
            .post(&a.url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(h) = &auth {
            req = req.header("authorization", h);
        }
        for (name, value) in &extra {
            req = req.header(name.as_str(), value.as_str());
        }
        tasks.push(tokio::spawn(async move {
            let ok = matches!(req.send().await, Ok(r) if r.status().as_u16() == 200);
            (ok, due.elapsed())
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut errors = 0u64;
    for t in tasks {
        match t.await {
            Ok((true, d)) => lat.push(d),
            _ => errors += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat[i].as_secs_f64() * 1000.0
    };
    outln!(
        "{}",
        json!({
            "label": a.label, "sent": total, "ok": lat.len(), "errors": errors,
            "rate": f64::from(a.rate), "achieved_per_s": lat.len() as f64 / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
        })
    );
    Ok(())
}
