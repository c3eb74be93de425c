//! `make bench-scale`: achieved vs allowed send rate against the sandbox's per-number limit,
//! for a client with the governor and for an ungoverned loop (same sandbox, same run).
//!
//! Both send `SENDS` text messages from 32 concurrent tasks to a sandbox that allows 80
//! messages/s per number. The ungoverned loop is what a user writes without pacing: send,
//! and on a refusal (after the client's own retries) put the message back in the queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wa360::client::Client;
use wa360::governor::GovernorConfig;
use wa360::messages::Message;
use wa360_sandbox::{Limits, Sandbox};

const ALLOWED: f64 = 80.0;
const SENDS: usize = 800;
const TASKS: usize = 32;

struct Run {
    /// Accepted sends per second after the first second (the sandbox's bucket starts full,
    /// so the first second allows a burst on top of the rate).
    sustained: f64,
    refused: u64,
    attempts: u64,
}

async fn run(governor: Option<GovernorConfig>) -> Run {
    let sb = Sandbox::builder()
        .limits(Limits::none().messages_per_second(ALLOWED))
        .start()
        .await
        .expect("sandbox");
    let mut b = Client::builder().base_url(&sb.url()).api_key(sb.api_key());
    if let Some(g) = governor {
        b = b.governor(g);
    }
    let client = b.build().expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let c = client.clone();
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= SENDS {
                    break;
                }
                let msg = Message::text(format!("1555000{:04}", i % 200), format!("n{i}"));
                // Until accepted: the user's own loop re-sends what was refused.
                while c.send(&msg).await.is_err() {}
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let c = sb.control().limit_counters();
    let mut at: Vec<u64> = sb
        .requests()
        .iter()
        .filter(|r| r.status == Some(200))
        .map(|r| r.at_ms)
        .collect();
    at.sort_unstable();
    let t0 = at.first().copied().unwrap_or(0) + 1000;
    let last = at.last().copied().unwrap_or(0);
    let n = at.iter().filter(|&&t| t >= t0).count();
    let sustained = if last > t0 {
        n as f64 / ((last - t0) as f64 / 1000.0)
    } else {
        0.0
    };
    Run {
        sustained,
        refused: c.throughput_refused,
        attempts: sb.requests().len() as u64,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let governed = GovernorConfig::default()
        .messages_per_second(ALLOWED)
        .pair_rate(None, 1)
        .max_wait(Duration::from_secs(120));
    println!(
        "send rate against a sandbox allowing {ALLOWED} msg/s per number ({SENDS} sends, {TASKS} concurrent tasks)"
    );
    println!(
        "| client | sustained msg/s (after the first second) | achieved / allowed | HTTP requests | 130429 refusals |"
    );
    println!("|---|---|---|---|---|");
    for (name, g) in [
        ("governed (wa360::governor, 80/s)", Some(governed)),
        ("ungoverned loop (re-send on refusal)", None),
    ] {
        let r = run(g).await;
        let rate = r.sustained;
        println!(
            "| {name} | {rate:.1} | {:.0}% | {} | {} |",
            100.0 * rate / ALLOWED,
            r.attempts,
            r.refused
        );
    }
}
