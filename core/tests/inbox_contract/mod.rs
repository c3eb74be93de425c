//! The inbox contract: what every backend (memory, SQLite, Redis) promises, written
//! once as functions over a [`Backend`] and run for each backend by
//! [`inbox_contract_tests!`] (`core/tests/inbox_backends.rs` for memory and SQLite,
//! `core/tests/inbox_redis.rs` for Redis). A backend-only behaviour (SQLite files,
//! Redis restarts) stays in that backend's own tests.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wa360::inbox::testing::event_ids as ids;
use wa360::inbox::{self, Accepted, Consumer, Inbox, Nacked};
use wa360::webhook::{parse, testing};

/// One fresh store of a backend: its first handle and how to open more.
pub struct Store {
    first: Arc<dyn Inbox>,
    /// The URL another handle opens; `None` where the store lives in the first handle
    /// only (memory), so "another handle" is that same one.
    url: Option<String>,
}

impl Store {
    /// A store reached through `url` (every handle opens it again).
    pub fn shared(url: String) -> Store {
        let first = inbox::open(&url).unwrap_or_else(|e| panic!("open {url}: {e}"));
        Store {
            first,
            url: Some(url),
        }
    }

    /// A store that exists only in its one handle.
    pub fn private(first: Arc<dyn Inbox>) -> Store {
        Store { first, url: None }
    }

    pub fn inbox(&self) -> Arc<dyn Inbox> {
        Arc::clone(&self.first)
    }

    /// Another handle on the same store, as another process or machine would open it.
    pub fn another_handle(&self) -> Arc<dyn Inbox> {
        match &self.url {
            Some(url) => inbox::open(url).unwrap(),
            None => self.inbox(),
        }
    }
}

/// A backend: a fresh, empty store with the inbox options `q` (`a=1&b=2`, or "").
pub type Backend = fn(&str) -> Store;

/// The memory backend.
pub fn memory(q: &str) -> Store {
    Store::private(inbox::open(&format!("memory://?{q}")).unwrap())
}

/// A new, empty directory for one test's inbox file, and the file's path in it.
pub fn temp_inbox(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "wa360-inbox-{name}-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    (dir, path)
}

/// The SQLite backend, a new file in a new temp directory.
pub fn sqlite(q: &str) -> Store {
    let (_, path) = temp_inbox("contract");
    let sep = if q.is_empty() { "" } else { "?" };
    Store::shared(format!("sqlite://{}{sep}{q}", path.display()))
}

/// Runs every contract case below as a `#[test]` against `$backend`; a failure names
/// the case (the test's name) and the backend (the module it is expanded in).
#[macro_export]
macro_rules! inbox_contract_tests {
    ($backend:expr) => {
        $crate::inbox_contract_tests!(@cases $backend;
            accept_dedupes_and_folds_statuses,
            claim_ack_removes_and_a_claimed_event_is_not_handed_out_twice,
            one_conversation_is_handed_out_one_at_a_time_in_order,
            failures_retry_then_dead_letter_replay_and_drop,
            backoff_delays_a_retry,
            an_expired_lease_goes_to_another_consumer_and_release_is_immediate,
            extend_keeps_a_lease,
            extend_renews_only_the_named_events,
            a_lease_starts_when_the_event_is_handed_out,
            consumer_renews_its_leases_and_releases_on_close,
            consumer_wakes_on_accept_in_the_same_process,
            claimed_events_equal_the_parsed_ones,
            handles_share_the_work_exactly_once_and_in_conversation_order,
            a_deep_event_the_receiver_allowed_is_handed_out_with_the_others,
            a_body_of_many_events_is_handed_out_whole_one_claim_at_a_time,
            backlog_is_what_stats_says_is_ready_and_in_flight,
            extend_keeps_every_lease_a_consumer_holds,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::inbox_contract::$case($backend);
            }
        )*
    };
}

fn accept(inbox: &dyn Inbox, v: &Value) -> Accepted {
    inbox::testing::accept_json(inbox, v).unwrap()
}

/// The number of events `v` accepted as new.
fn new_events(inbox: &dyn Inbox, v: &Value) -> usize {
    accept(inbox, v).events.len()
}

/// Accepts a text from `from` with id `wamid` into `inbox`.
fn text(inbox: &dyn Inbox, from: &str, wamid: &str) {
    accept(inbox, &testing::inbound_text(from, "x", wamid));
}

/// Duplicates (by message id, status pair and digest) are found within a batch and across
/// handles; statuses fold: a late one is stale, `failed` is always kept.
pub fn accept_dedupes_and_folds_statuses(backend: Backend) {
    let store = backend("");
    let (inbox, other) = (store.inbox(), store.another_handle());
    let msg = testing::inbound_text("15555550123", "hi", "wamid.M");
    let st = testing::status("wamid.S", "delivered", "15555550123");
    let err = testing::value_error(131000, "Something went wrong", "x");
    let a = accept(
        &*inbox,
        &testing::batch(&[msg.clone(), st.clone(), msg.clone(), err.clone()]),
    );
    assert_eq!(
        a.events.iter().map(|e| e.kind()).collect::<Vec<_>>(),
        ["message", "status", "error"]
    );
    assert_eq!(a.duplicates, 1, "the repeat inside the batch");
    // The same delivery through another handle: all duplicates.
    let again = accept(&*other, &testing::batch(&[msg, st, err]));
    assert!(again.events.is_empty());
    assert_eq!(again.duplicates, 3);
    let s = inbox.stats().unwrap();
    assert_eq!((s.ready, s.duplicates, s.keys), (3, 4, 3));

    // Read, then the late delivered and sent are stale; failed is kept.
    let to = "15555550123";
    assert_eq!(new_events(&*inbox, &testing::status("w1", "read", to)), 1);
    let late = accept(
        &*other,
        &testing::batch(&[
            testing::status("w1", "delivered", to),
            testing::status("w1", "sent", to),
        ]),
    );
    assert_eq!((late.events.len(), late.stale), (0, 2));
    let failed = testing::status_failed("w1", to, 131026, "Undeliverable", "d");
    assert_eq!(new_events(&*other, &failed), 1);
    for status in ["sent", "failed", "delivered"] {
        let v = testing::status("w2", status, to);
        assert_eq!(new_events(&*inbox, &v), 1, "w2 {status}");
    }
    let s = inbox.stats().unwrap();
    assert_eq!(
        (s.ready, s.stale),
        (8, 2),
        "message, status, error, w1 read and failed, w2 ×3"
    );
}

pub fn claim_ack_removes_and_a_claimed_event_is_not_handed_out_twice(backend: Backend) {
    let inbox = backend("").inbox();
    text(&*inbox, "111", "wamid.A");
    text(&*inbox, "222", "wamid.B");
    let a = inbox.claim("c1", 10).unwrap();
    assert_eq!(
        ids(&a),
        ["wamid.A", "wamid.B"],
        "different conversations in parallel"
    );
    assert!(inbox.claim("c2", 10).unwrap().is_empty());
    assert_eq!(a[0].attempt, 1);
    assert!(!inbox.ack("c2", &a[0].id).unwrap(), "only the holder acks");
    assert!(inbox.ack("c1", &a[0].id).unwrap());
    assert!(!inbox.ack("c1", &a[0].id).unwrap());
    let s = inbox.stats().unwrap();
    assert_eq!((s.ready, s.in_flight, s.handled), (0, 1, 1));
}

pub fn one_conversation_is_handed_out_one_at_a_time_in_order(backend: Backend) {
    let inbox = backend("retry_base_ms=0").inbox();
    for i in 0..3 {
        text(&*inbox, "111", &format!("wamid.{i}"));
    }
    text(&*inbox, "222", "wamid.other");
    let first = inbox.claim("c1", 10).unwrap();
    assert_eq!(ids(&first), ["wamid.0", "wamid.other"]);
    assert_eq!(first[0].attempt, 1);
    assert!(
        inbox.claim("c2", 10).unwrap().is_empty(),
        "wamid.1 waits for wamid.0"
    );
    assert!(
        !inbox.ack("c2", &first[0].id).unwrap(),
        "only the holder acks"
    );
    // A failure keeps the order: the retry of wamid.0 comes before wamid.1. (Which
    // consumer gets a retry differs: Redis keeps it with the one that failed it until
    // its lease ends, memory and SQLite hand it to any; see inbox_backends.rs.)
    assert!(matches!(
        inbox.nack("c1", &first[0].id, "boom").unwrap(),
        Nacked::Retry(_)
    ));
    let retry = inbox.claim("c1", 10).unwrap();
    assert_eq!(ids(&retry), ["wamid.0"]);
    assert_eq!(retry[0].attempt, 2);
    assert!(inbox.ack("c1", &retry[0].id).unwrap());
    assert!(!inbox.ack("c1", &retry[0].id).unwrap());
    assert_eq!(ids(&inbox.claim("c1", 10).unwrap()), ["wamid.1"]);
    let s = inbox.stats().unwrap();
    assert_eq!((s.in_flight, s.handled), (2, 1));
}

pub fn failures_retry_then_dead_letter_replay_and_drop(backend: Backend) {
    let inbox = backend("max_attempts=2&retry_base_ms=0").inbox();
    text(&*inbox, "111", "wamid.X");
    text(&*inbox, "111", "wamid.Y");
    let d = inbox.claim("c", 1).unwrap().remove(0);
    assert!(matches!(
        inbox.nack("c", &d.id, "first").unwrap(),
        Nacked::Retry(_)
    ));
    let d = inbox.claim("c", 1).unwrap().remove(0);
    assert_eq!(inbox.nack("c", &d.id, "second").unwrap(), Nacked::Dead);
    // The dead letter no longer blocks its conversation.
    let y = inbox.claim("c", 1).unwrap();
    assert_eq!(ids(&y), ["wamid.Y"]);
    assert!(inbox.ack("c", &y[0].id).unwrap());
    assert!(inbox.claim("c", 1).unwrap().is_empty());
    let dead = inbox.dead(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].attempts, dead[0].last_error.as_deref()),
        (2, Some("second"))
    );
    assert_eq!(dead[0].event.as_message().unwrap().id(), Some("wamid.X"));
    assert_eq!(inbox.replay(None).unwrap(), 1);
    assert_eq!(inbox.stats().unwrap().dead, 0);
    // Replayed with its attempts counted afresh; dead again, then dropped by id.
    let again = inbox.claim("c", 1).unwrap();
    assert_eq!(
        (ids(&again), again[0].attempt),
        (vec!["wamid.X".to_string()], 1)
    );
    inbox.nack("c", &again[0].id, "x").unwrap();
    let d = inbox.claim("c", 1).unwrap().remove(0);
    inbox.nack("c", &d.id, "x").unwrap();
    assert_eq!(inbox.stats().unwrap().dead, 1);
    // Dropped by the id the dead-letter list gives (on Redis not the delivery's id).
    let dead = inbox.dead(10).unwrap();
    assert_eq!(inbox.drop_dead(Some(&dead[0].id)).unwrap(), 1);
    assert_eq!(inbox.stats().unwrap().dead, 0);
    assert_eq!(inbox.drop_dead(None).unwrap(), 0);
}

pub fn backoff_delays_a_retry(backend: Backend) {
    let inbox = backend("retry_base_ms=60000").inbox();
    text(&*inbox, "111", "wamid.X");
    let d = inbox.claim("c", 1).unwrap().remove(0);
    match inbox.nack("c", &d.id, "e").unwrap() {
        Nacked::Retry(delay) => assert!(delay >= Duration::from_secs(48), "{delay:?}"),
        other => panic!("{other:?}"),
    }
    assert!(inbox.claim("c", 1).unwrap().is_empty());
    assert_eq!(inbox.stats().unwrap().ready, 1);
}

/// A consumer that stops (its lease runs out) loses its event to another consumer;
/// release gives an event back at once without counting the attempt.
pub fn an_expired_lease_goes_to_another_consumer_and_release_is_immediate(backend: Backend) {
    let store = backend("lease_ms=200");
    let (a, b) = (store.inbox(), store.another_handle());
    text(&*a, "111", "wamid.X");
    text(&*a, "222", "wamid.Y");
    let held = a.claim("dead-worker", 1).unwrap();
    assert_eq!(ids(&held), ["wamid.X"]);
    // The live consumer gets the other conversation now, X only after the lease.
    let y = b.claim("live", 5).unwrap();
    assert_eq!(ids(&y), ["wamid.Y"]);
    assert!(b.ack("live", &y[0].id).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let took = b.claim("live", 5).unwrap();
    assert_eq!((ids(&took), took[0].attempt), (vec!["wamid.X".into()], 2));
    assert!(!a.ack("dead-worker", &held[0].id).unwrap(), "lease lost");
    assert!(b.release("live", &took[0].id).unwrap());
    let again = a.claim("third", 5).unwrap();
    assert_eq!((ids(&again), again[0].attempt), (vec!["wamid.X".into()], 2));
}

/// A consumer handling several events at once renews every one of their leases. With Redis
/// only the first was renewed: the others ran out under the live consumer, another consumer
/// took them over and they ran twice (their attempts counted up to the dead letters).
pub fn extend_keeps_every_lease_a_consumer_holds(backend: Backend) {
    // Renewed every 100 ms: a stall of most of a second on a loaded machine is no failure.
    let inbox = backend("lease_ms=1000").inbox();
    for (from, wamid) in [("111", "wamid.A"), ("222", "wamid.B"), ("333", "wamid.C")] {
        text(&*inbox, from, wamid);
    }
    let got = inbox.claim("c1", 3).unwrap();
    assert_eq!(ids(&got), ["wamid.A", "wamid.B", "wamid.C"]);
    let held: Vec<String> = got.iter().map(|d| d.id.clone()).collect();
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(inbox.extend("c1", &held).unwrap(), 3);
        let took = inbox.claim("c2", 3).unwrap();
        assert!(took.is_empty(), "took over {:?}", ids(&took));
    }
    for d in &got {
        assert!(inbox.ack("c1", &d.id).unwrap(), "still held: {:?}", d.event);
    }
}

pub fn extend_keeps_a_lease(backend: Backend) {
    let inbox = backend("lease_ms=300").inbox();
    text(&*inbox, "111", "wamid.X");
    let x = inbox.claim("c1", 1).unwrap();
    let held = [x[0].id.clone()];
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(inbox.extend("c1", &held).unwrap(), 1);
    }
    assert!(inbox.claim("c2", 1).unwrap().is_empty());
    assert_eq!(inbox.extend("c2", &held).unwrap(), 0, "not c2's to renew");
}

/// A consumer renews only the events it names (those it is handling): one it has
/// stopped tracking (its ack or nack failed) runs out of lease and goes to another
/// consumer, even while the first still renews its other events.
pub fn extend_renews_only_the_named_events(backend: Backend) {
    let inbox = backend("lease_ms=1200").inbox();
    text(&*inbox, "111", "wamid.X");
    text(&*inbox, "222", "wamid.Y");
    let got = inbox.claim("c1", 2).unwrap();
    assert_eq!(ids(&got), ["wamid.X", "wamid.Y"]);
    let y = [got[1].id.clone()];
    let until = Instant::now() + Duration::from_millis(3000);
    while Instant::now() < until {
        assert_eq!(inbox.extend("c1", &y).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(200));
    }
    let x = inbox.claim("c2", 5).unwrap();
    assert_eq!((ids(&x), x[0].attempt), (vec!["wamid.X".into()], 2));
    assert!(inbox.ack("c1", &y[0]).unwrap(), "Y still c1's");
}

/// An event gets a full lease when it is handed out, however long it waited for its
/// conversation in a consumer's queue: a second consumer must not take it while the
/// first is still within that lease.
pub fn a_lease_starts_when_the_event_is_handed_out(backend: Backend) {
    let store = backend("lease_ms=3000");
    let (a, b, c) = (
        store.inbox(),
        store.another_handle(),
        store.another_handle(),
    );
    text(&*a, "111", "wamid.M1");
    text(&*a, "111", "wamid.M2");
    let m1 = a.claim("A", 1).unwrap();
    assert_eq!(ids(&m1), ["wamid.M1"]);
    // B looks while M1 is being handled: M2 waits behind it.
    assert!(b.claim("B", 1).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(2400));
    assert!(a.ack("A", &m1[0].id).unwrap());
    let m2 = b.claim("B", 1).unwrap();
    assert_eq!((ids(&m2), m2[0].attempt), (vec!["wamid.M2".into()], 1));
    std::thread::sleep(Duration::from_millis(1000));
    // 3.4 s after B first saw M2, 1 s into its lease: nobody else gets it.
    assert!(c.claim("C", 5).unwrap().is_empty());
    assert!(b.ack("B", &m2[0].id).unwrap());
}

pub fn consumer_renews_its_leases_and_releases_on_close(backend: Backend) {
    let inbox = backend("lease_ms=300").inbox();
    text(&*inbox, "111", "wamid.X");
    let c = Consumer::new(Arc::clone(&inbox));
    assert_eq!(c.next(1, Duration::from_secs(2)).unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(900));
    assert!(
        inbox.claim("other", 1).unwrap().is_empty(),
        "renewed in the background"
    );
    assert_eq!(c.close().unwrap(), 1);
    assert!(
        c.next(1, Duration::from_millis(50)).unwrap().is_empty(),
        "stopped"
    );
    let d = inbox.claim("other", 1).unwrap();
    assert_eq!(
        (ids(&d), d[0].attempt),
        (vec!["wamid.X".into()], 1),
        "released without counting the attempt"
    );
}

pub fn consumer_wakes_on_accept_in_the_same_process(backend: Backend) {
    let inbox = backend("").inbox();
    let c = Consumer::new(Arc::clone(&inbox));
    let t = {
        let inbox = Arc::clone(&inbox);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            text(&*inbox, "111", "wamid.X");
        })
    };
    let got = c.next(1, Duration::from_secs(10)).unwrap();
    t.join().unwrap();
    assert_eq!(ids(&got), ["wamid.X"]);
}

/// What a consumer claims is what the receiver parsed: events of several conversations at
/// once, and the events of one conversation one after the other, with its conversation key.
pub fn claimed_events_equal_the_parsed_ones(backend: Backend) {
    let inbox = backend("").inbox();
    let v = testing::batch(&[
        testing::inbound_text("111", "héllo \u{1F600}", "wamid.A"),
        testing::status_failed("wamid.B", "222", 131026, "Undeliverable", "d"),
        testing::value_error(131000, "Something", "x"),
    ]);
    let b = v.to_string().into_bytes();
    let parsed = parse(&b).unwrap();
    inbox.accept(&b, &parsed).unwrap();
    let got = inbox.claim("c", 10).unwrap();
    assert_eq!(got.len(), 3);
    for (d, p) in got.iter().zip(&parsed) {
        assert_eq!(d.event.to_canonical(), p.to_canonical());
    }

    let inbox = backend("").inbox();
    let b = testing::batch(&[
        testing::inbound_text("111", "hi", "wamid.1"),
        testing::status("wamid.2", "read", "111"),
    ]);
    let a = accept(&*inbox, &b);
    let got = inbox.claim("c", 10).unwrap();
    // One conversation: only the first now.
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, a.events[0]);
    assert_eq!(
        got[0].conversation.as_deref(),
        a.events[0]
            .phone_number_id()
            .map(|p| format!("{p}:111"))
            .as_deref()
    );
    inbox.ack("c", &got[0].id).unwrap();
    assert_eq!(inbox.claim("c", 10).unwrap()[0].event, a.events[1]);
}

/// Four handles (processes or machines) with two threads each claim concurrently while
/// the same events are accepted twice through different handles: every event is handled
/// exactly once, and each conversation in order.
pub fn handles_share_the_work_exactly_once_and_in_conversation_order(backend: Backend) {
    let store = backend("");
    let first = store.inbox();
    let handles: Vec<Arc<dyn Inbox>> = (0..4)
        .map(|i| {
            if i == 0 {
                Arc::clone(&first)
            } else {
                store.another_handle()
            }
        })
        .collect();
    let convs = 10;
    let per = 20;
    for n in 0..per {
        for c in 0..convs {
            let v =
                testing::inbound_text(&format!("1555000{c:04}"), "x", &format!("wamid.{c}.{n}"));
            // Delivered twice, to two different handles.
            accept(&*handles[(c + n) % 4], &v);
            accept(&*handles[(c + n + 1) % 4], &v);
        }
    }
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let total = convs * per;
    let deadline = Instant::now() + Duration::from_secs(60);
    std::thread::scope(|s| {
        for (m, h) in handles.iter().enumerate() {
            for t in 0..2 {
                let h = Arc::clone(h);
                let seen = Arc::clone(&seen);
                s.spawn(move || {
                    let me = format!("m{m}-t{t}");
                    while seen.lock().unwrap().len() < total && Instant::now() < deadline {
                        let got = h.claim(&me, 3).unwrap();
                        if got.is_empty() {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        for d in got {
                            let id = ids(std::slice::from_ref(&d)).remove(0);
                            seen.lock().unwrap().push(id);
                            assert!(h.ack(&me, &d.id).unwrap());
                        }
                    }
                });
            }
        }
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), total, "every event handled");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        total,
        "none twice"
    );
    for c in 0..convs {
        let order: Vec<usize> = seen
            .iter()
            .filter_map(|id| {
                let rest = id.strip_prefix(&format!("wamid.{c}."))?;
                rest.parse().ok()
            })
            .collect();
        assert_eq!(
            order,
            (0..per).collect::<Vec<_>>(),
            "conversation {c} in order"
        );
    }
    let s = first.stats().unwrap();
    assert_eq!(
        (s.ready, s.in_flight, s.handled, s.duplicates),
        (0, 0, total as u64, total as u64)
    );
}

/// A receiver may allow nesting deeper than the default (`max_depth` up to its ceiling).
/// An event it answered 200 for is handed out like any other, and the events stored
/// beside it are not held up by it.
pub fn a_deep_event_the_receiver_allowed_is_handed_out_with_the_others(backend: Backend) {
    let inbox = backend("").inbox();
    let mut deep = testing::inbound_text("111", "deep", "wamid.DEEP");
    let mut nested = serde_json::json!("bottom");
    for _ in 0..121 {
        nested = serde_json::json!([nested]);
    }
    deep["entry"][0]["changes"][0]["value"]["messages"][0]["x_nested"] = nested;
    let body = testing::batch(&[deep, testing::inbound_text("222", "plain", "wamid.PLAIN")])
        .to_string()
        .into_bytes();
    let opts = wa360::webhook::ParseOptions {
        max_bytes: 1 << 20,
        max_depth: 1000,
    };
    let parsed = wa360::webhook::parse_with(&body, &opts).unwrap();
    assert_eq!(parsed.len(), 2);
    inbox.accept(&body, &parsed).unwrap();
    let got = inbox.claim("c", 10).unwrap();
    assert_eq!(
        inbox::testing::event_ids(&got),
        ["wamid.DEEP", "wamid.PLAIN"]
    );
    assert_eq!(got[0].event.to_canonical(), parsed[0].to_canonical());
    for d in &got {
        assert!(inbox.ack("c", &d.id).unwrap());
    }
    assert!(inbox.dead(10).unwrap().is_empty());
}

/// A delivery of many events claimed one at a time hands out each event once, in order,
/// equal to the parsed one; a later body stored under a freed id is read as itself, not
/// as the earlier body the claims had parsed.
pub fn a_body_of_many_events_is_handed_out_whole_one_claim_at_a_time(backend: Backend) {
    let inbox = backend("").inbox();
    let many = |tag: &str, n: usize| {
        let events: Vec<Value> = (0..n)
            .map(|i| {
                testing::inbound_text(&format!("{}", 1000 + i), tag, &format!("wamid.{tag}{i}"))
            })
            .collect();
        testing::batch(&events).to_string().into_bytes()
    };
    for (tag, n) in [("A", 120), ("B", 3)] {
        let body = many(tag, n);
        let parsed = parse(&body).unwrap();
        inbox.accept(&body, &parsed).unwrap();
        for (i, p) in parsed.iter().enumerate() {
            let got = inbox.claim("c", 1).unwrap();
            assert_eq!(got.len(), 1, "{tag}{i}");
            assert_eq!(got[0].event.to_canonical(), p.to_canonical(), "{tag}{i}");
            assert!(inbox.ack("c", &got[0].id).unwrap());
        }
        assert!(inbox.claim("c", 1).unwrap().is_empty());
    }
}

/// `backlog` (what a caller polls until the inbox is drained) agrees with `stats` as
/// events arrive, are handed out and leave.
pub fn backlog_is_what_stats_says_is_ready_and_in_flight(backend: Backend) {
    let inbox = backend("").inbox();
    let both = |inbox: &dyn Inbox| {
        let s = inbox.stats().unwrap();
        let b = inbox.backlog().unwrap();
        assert_eq!(b, (s.ready, s.in_flight));
        b
    };
    assert_eq!(both(&*inbox), (0, 0));
    text(&*inbox, "111", "wamid.B1");
    text(&*inbox, "222", "wamid.B2");
    assert_eq!(both(&*inbox), (2, 0));
    let got = inbox.claim("c", 1).unwrap();
    assert_eq!(both(&*inbox), (1, 1));
    assert!(inbox.ack("c", &got[0].id).unwrap());
    assert_eq!(both(&*inbox), (1, 0));
    let got = inbox.claim("c", 1).unwrap();
    assert!(inbox.ack("c", &got[0].id).unwrap());
    assert_eq!(both(&*inbox), (0, 0));
}
