//! The receiver's `metrics()`: every answered request is counted by status and
//! timed, events by what happened to them (accepted, deduplicated, and — through
//! the consumers of the same inbox handle — retried and dead-lettered), against a
//! real SQLite inbox file; a store that fails is counted as a 503 with nothing
//! accepted.

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::hold_write_lock;
use wa360::config::Secret;
use wa360::inbox::{self, Consumer, Nacked};
use wa360::webhook::verify::Verifier;
use wa360::webhook::{Receiver, ReceiverConfig, Reply, testing};

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wa360-rmetrics-{}-{name}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{ext}", path.display()));
    }
    path
}

fn post(r: &Receiver, auth: Option<(String, String)>, body: &[u8]) -> Reply {
    let headers: Vec<(String, String)> = auth.into_iter().collect();
    r.handle("POST", "", &headers, body)
}

#[test]
fn deliveries_are_counted_by_status_and_events_by_result() {
    let path = temp_db("counts");
    let store = inbox::open(&format!("sqlite://{}?busy_timeout_ms=100", path.display())).unwrap();
    let r = Receiver::new(ReceiverConfig {
        verifier: Some(Verifier::basic_auth("hook", "s3cret-pass").unwrap()),
        verify_token: Some(Secret::new("tok")),
        inbox: Some(Arc::clone(&store)),
        ..ReceiverConfig::default()
    });
    let m = r.metrics();
    assert!(m.events.is_empty() && m.deliveries.is_empty(), "{m:?}");
    assert_eq!(m.ack_latency.count, 0);

    let auth = || Some(testing::basic_auth_header("hook", "s3cret-pass"));
    let body = testing::inbound_text("15555550123", "hi", "wamid.M1").to_string();
    let second = testing::batch(&[
        testing::inbound_text("15555550123", "hi", "wamid.M1"),
        testing::inbound_text("15555550123", "again", "wamid.M2"),
    ])
    .to_string();

    let a = post(&r, auth(), body.as_bytes());
    assert_eq!((a.status, a.events.len()), (200, 1));
    let b = post(&r, auth(), second.as_bytes());
    assert_eq!((b.status, b.events.len(), b.duplicates), (200, 1, 1));
    let c = post(&r, None, body.as_bytes());
    assert_eq!(c.status, 401);
    let d = r.handle::<&str, &str>(
        "GET",
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        &[],
        b"",
    );
    assert_eq!(d.status, 403);

    let holder = hold_write_lock(&path);
    let body3 = testing::inbound_text("15555550123", "third", "wamid.M3").to_string();
    let e = post(&r, auth(), body3.as_bytes());
    assert_eq!(e.status, 503, "{e:?}");
    drop(holder);

    let m = r.metrics();
    assert_eq!(m.events.get("accepted"), Some(&2), "{m:?}");
    assert_eq!(m.events.get("deduplicated"), Some(&1), "{m:?}");
    assert_eq!(m.deliveries.get("200"), Some(&2), "{m:?}");
    assert_eq!(m.deliveries.get("401"), Some(&1), "{m:?}");
    assert_eq!(m.deliveries.get("403"), Some(&1), "{m:?}");
    assert_eq!(
        m.deliveries.get("503"),
        Some(&1),
        "the failed store is counted: {m:?}"
    );
    let deliveries: u64 = m.deliveries.values().sum();
    assert_eq!(deliveries, 5);
    assert_eq!(
        m.ack_latency.count, deliveries,
        "one latency per answered request"
    );
    assert_eq!(m.ack_latency.buckets.last().unwrap().count, deliveries);
    assert!(m.ack_latency.sum_seconds > 0.0);

    // Clones share the figures; JSON has the documented shape.
    let json = serde_json::to_value(r.clone().metrics()).unwrap();
    assert_eq!(json["deliveries"]["503"], 1);
    assert_eq!(json["ack_latency"]["count"], 5);
    assert!(json["ack_latency"]["buckets"][13]["le"].is_null());
}

#[test]
fn retries_and_dead_letters_of_the_consumers_are_counted() {
    let path = temp_db("dead");
    let store = inbox::open(&format!(
        "sqlite://{}?max_attempts=2&retry_base_ms=0&retry_max_ms=0",
        path.display()
    ))
    .unwrap();
    let r = Receiver::new(ReceiverConfig {
        inbox: Some(Arc::clone(&store)),
        ..ReceiverConfig::default()
    });
    let body = testing::inbound_text("15555550123", "boom", "wamid.D1").to_string();
    assert_eq!(post(&r, None, body.as_bytes()).status, 200);

    let c = Consumer::new(Arc::clone(&store));
    let first = c.next(1, Duration::from_secs(10)).unwrap();
    assert_eq!(first.len(), 1);
    assert!(matches!(
        c.nack(&first[0].id, "handler failed").unwrap(),
        Nacked::Retry(_)
    ));
    let second = c.next(1, Duration::from_secs(10)).unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2));
    assert_eq!(
        c.nack(&second[0].id, "handler failed").unwrap(),
        Nacked::Dead
    );
    c.close().unwrap();

    let m = r.metrics();
    assert_eq!(m.events.get("accepted"), Some(&1), "{m:?}");
    assert_eq!(m.events.get("retried"), Some(&1), "{m:?}");
    assert_eq!(m.events.get("dead_lettered"), Some(&1), "{m:?}");
    assert_eq!(store.stats().unwrap().dead, 1);

    // A handled event is counted too.
    let body2 = testing::inbound_text("15555550123", "fine", "wamid.D2").to_string();
    assert_eq!(post(&r, None, body2.as_bytes()).status, 200);
    let c = Consumer::new(Arc::clone(&store));
    let got = c.next(1, Duration::from_secs(10)).unwrap();
    assert!(c.ack(&got[0].id).unwrap());
    c.close().unwrap();
    assert_eq!(r.metrics().events.get("handled"), Some(&1));
}

#[test]
fn without_an_inbox_duplicates_are_counted_at_accept() {
    let r = Receiver::new(ReceiverConfig {
        dedupe: Some(wa360::webhook::dedupe::Deduper::memory()),
        ..ReceiverConfig::default()
    });
    let body = testing::inbound_text("15555550123", "hi", "wamid.N1").to_string();
    for _ in 0..3 {
        assert_eq!(post(&r, None, body.as_bytes()).status, 200);
    }
    let m = r.metrics();
    assert_eq!(m.events.get("accepted"), Some(&1));
    assert_eq!(m.events.get("deduplicated"), Some(&2));
    assert_eq!(m.deliveries.get("200"), Some(&3));
    assert_eq!(m.ack_latency.count, 3);
}
