//! The core's send governor against the sandbox's limits, over real HTTP.

use std::time::Duration;

use wa360::ErrorCode;
use wa360::client::Client;
use wa360::governor::GovernorConfig;
use wa360::messages::Message;
use wa360_sandbox::{Limits, Sandbox};

mod common;
use common::{accepted_sends, client_builder, send_pool, sustained_rate, with_limits};

/// Send one text to each of `n` recipients `<prefix>0000`, `<prefix>0001`, … at once;
/// every send must succeed.
async fn send_to_distinct_recipients(c: &Client, prefix: &str, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let c = c.clone();
            let to = format!("{prefix}{i:04}");
            tokio::spawn(async move { c.send(&Message::text(to, "hi")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

fn client(sb: &Sandbox, g: GovernorConfig) -> Client {
    client_builder(sb).governor(g).build().unwrap()
}

/// 2,000 sends to 200 recipients (round robin, 32 concurrent tasks) against a sandbox
/// allowing 80 messages/s per number and one message per 2 s per recipient: the governed
/// client is never refused and keeps at least 90% of the allowed rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governed_client_sustains_the_allowed_rate_without_refusals() {
    const SENDS: usize = 2000;
    const RECIPIENTS: usize = 200;
    let sb = with_limits(Limits::none().messages_per_second(80.0).pair_rate(2000, 1)).await;
    let c = client(
        &sb,
        GovernorConfig::default()
            .messages_per_second(80.0)
            .pair_rate(Some(Duration::from_millis(2000)), 1)
            .max_wait(Duration::from_secs(120)),
    );
    let errors = send_pool(&c, 32, 0..SENDS, RECIPIENTS).await;
    assert!(errors.is_empty(), "{errors:?}");
    let counters = sb.control().limit_counters();
    assert_eq!(counters.throughput_refused, 0, "no 130429");
    assert_eq!(counters.pair_refused, 0, "no 131056");
    assert_eq!(counters.accepted, SENDS as u64);
    let counts = sb.control().recipient_counts();
    assert_eq!(counts.len(), RECIPIENTS);
    assert!(counts.values().all(|c| c.accepted == 10));

    // Sustained rate, from the sandbox's own log: sends after the initial burst over the
    // time they took.
    assert_eq!(accepted_sends(&sb).len(), SENDS);
    let (rate, secs) = sustained_rate(&sb);
    eprintln!("sustained {rate:.1} msg/s over {secs:.1} s (allowed 80)");
    assert!(rate >= 72.0, "sustained {rate:.1} msg/s < 90% of 80");
    assert!(rate <= 82.0, "faster than allowed: {rate:.1} msg/s");
}

/// `131056` for one recipient holds back that recipient (4^n s) and nobody else: the
/// others go out at once and the number's rate is not reduced.
#[tokio::test]
async fn pair_limit_for_one_recipient_does_not_slow_the_others() {
    let sb = with_limits(Limits::none().pair_rate(60_000, 1)).await;
    let c = client(
        &sb,
        GovernorConfig::default()
            .messages_per_second(80.0)
            .pair_rate(None, 1),
    );
    let slow = "15555550001";
    c.send(&Message::text(slow, "1")).await.unwrap();
    let e = c.send(&Message::text(slow, "2")).await.unwrap_err();
    assert_eq!(e.api_code(), Some(131056));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
    let blocked_at = std::time::Instant::now();

    // That recipient is now held back locally: nothing reaches the sandbox.
    let e = c
        .send_within(&Message::text(slow, "3"), Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited);
    assert_eq!(e.status(), None, "refused locally: nothing answered");
    assert!(e.retry_after().unwrap() > Duration::from_secs(2));
    assert_eq!(sb.control().recipient_counts()[slow].pair_refused, 1);

    // Everyone else goes on at the full rate.
    send_to_distinct_recipients(&c, "1555560", 40).await;
    assert!(
        blocked_at.elapsed() < Duration::from_secs(4),
        "the others waited for the held-back recipient"
    );
    assert_eq!(c.governor().current_rate().await, Some(80.0));
    assert_eq!(sb.control().recipient_counts()[slow].accepted, 1);
}

/// Past the caller's deadline a send fails `rate_limited` with `retry_after` and nothing
/// is sent.
#[tokio::test]
async fn past_the_deadline_nothing_is_sent() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(
        &sb,
        GovernorConfig::default()
            .messages_per_second(1.0)
            .burst(1)
            .pair_rate(None, 1),
    );
    c.send(&Message::text("15555550123", "1")).await.unwrap();
    let e = c
        .send_within(
            &Message::text("15555550124", "2"),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited);
    assert_eq!(e.status(), None);
    let ra = e.retry_after().unwrap();
    assert!(
        ra > Duration::from_millis(500) && ra <= Duration::from_secs(1),
        "{ra:?}"
    );
    assert_eq!(accepted_sends(&sb).len(), 1);
    assert_eq!(sb.requests().len(), 1);
    // The refusal made no request: it is counted apart (an alert on rate-limited requests
    // is about the API), and the send that waited for its slot counts its latency from its
    // first attempt, not from the wait.
    let m = c.metrics();
    assert_eq!(m.requests.get("rate_limited"), None, "{m:?}");
    assert_eq!(m.requests["held_back"], 1, "{m:?}");
    assert_eq!(m.requests["ok"], 1);
    assert_eq!(m.send_latency.count, 1);
    let waited = std::time::Instant::now();
    c.send(&Message::text("15555550125", "3")).await.unwrap();
    let waited = waited.elapsed();
    assert!(
        waited > Duration::from_millis(500),
        "it waited for its slot: {waited:?}"
    );
    let m = c.metrics();
    let total = m.send_latency.sum_seconds;
    assert_eq!(m.send_latency.count, 2);
    assert!(
        total < waited.as_secs_f64() - 0.4,
        "latency {total} s counts the slot wait of {waited:?}"
    );
}

/// A governor set faster than the sandbox allows is refused (130429, or 360dialog's
/// endpoint limit), slows down, and the refused sends are retried (they were rejected
/// before processing) until accepted.
#[tokio::test]
async fn refusals_slow_the_governor_down() {
    for limits in [
        Limits::none().messages_per_second(20.0),
        Limits::none().endpoint_rps(20.0),
    ] {
        refused_then_slower(limits).await;
    }
}

async fn refused_then_slower(limits: Limits) {
    let sb = with_limits(limits).await;
    let c = client_builder(&sb)
        .max_retries(10)
        .governor(
            GovernorConfig::default()
                .messages_per_second(200.0)
                .burst(50)
                .pair_rate(None, 1),
        )
        .build()
        .unwrap();
    send_to_distinct_recipients(&c, "1555570", 60).await;
    let counters = sb.control().limit_counters();
    assert!(counters.throughput_refused + counters.endpoint_refused > 0);
    let rate = c.governor().current_rate().await.unwrap();
    assert!(rate < 200.0, "rate after refusals {rate}");
    assert_eq!(sb.control().limit_counters().accepted, 60);
}
