use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::testing::event_ids as ids;
use super::*;
use crate::webhook::testing;

fn accept(inbox: &dyn Inbox, v: &Value) -> Accepted {
    super::testing::accept_json(inbox, v).unwrap()
}

fn mem(q: &str) -> Arc<dyn Inbox> {
    open(&format!("memory://?{q}")).unwrap()
}

fn temp_path(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "wa360-inbox-{}-{}-{name}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("inbox.db").to_string_lossy().into_owned()
}

#[test]
fn accept_dedupes_by_message_id_status_pair_and_digest() {
    let inbox = mem("");
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
    let again = accept(&*inbox, &testing::batch(&[msg, st, err]));
    assert!(again.events.is_empty());
    assert_eq!(again.duplicates, 3);
    let s = inbox.stats().unwrap();
    assert_eq!((s.ready, s.duplicates, s.keys), (3, 4, 3));
}

#[test]
fn status_fold_never_moves_backwards_and_keeps_failed() {
    let inbox = mem("");
    let to = "15555550123";
    assert_eq!(
        accept(&*inbox, &testing::status("w1", "read", to))
            .events
            .len(),
        1
    );
    let late = accept(&*inbox, &testing::status("w1", "delivered", to));
    assert_eq!((late.events.len(), late.stale), (0, 1));
    assert_eq!(
        accept(&*inbox, &testing::status("w2", "sent", to))
            .events
            .len(),
        1
    );
    assert_eq!(
        accept(&*inbox, &testing::status("w2", "failed", to))
            .events
            .len(),
        1
    );
    assert_eq!(
        accept(&*inbox, &testing::status("w2", "delivered", to))
            .events
            .len(),
        1
    );
    assert_eq!(inbox.stats().unwrap().stale, 1);
}

#[test]
fn claim_ack_removes_and_a_claimed_event_is_not_handed_out_twice() {
    let inbox = mem("");
    accept(&*inbox, &testing::inbound_text("111", "a", "wamid.A"));
    accept(&*inbox, &testing::inbound_text("222", "b", "wamid.B"));
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

#[test]
fn one_conversation_is_handed_out_one_at_a_time_in_order() {
    let inbox = mem("retry_base_ms=0");
    for i in 0..3 {
        accept(
            &*inbox,
            &testing::inbound_text("111", "x", &format!("wamid.{i}")),
        );
    }
    accept(&*inbox, &testing::inbound_text("222", "y", "wamid.other"));
    let first = inbox.claim("c1", 10).unwrap();
    assert_eq!(ids(&first), ["wamid.0", "wamid.other"]);
    assert!(
        inbox.claim("c2", 10).unwrap().is_empty(),
        "wamid.1 waits for wamid.0"
    );
    // A failure keeps the order: the retry of wamid.0 comes before wamid.1.
    assert!(matches!(
        inbox.nack("c1", &first[0].id, "boom").unwrap(),
        Nacked::Retry(_)
    ));
    let retry = inbox.claim("c2", 10).unwrap();
    assert_eq!(ids(&retry), ["wamid.0"]);
    assert_eq!(retry[0].attempt, 2);
    inbox.ack("c2", &retry[0].id).unwrap();
    assert_eq!(ids(&inbox.claim("c1", 10).unwrap()), ["wamid.1"]);
}

#[test]
fn failures_retry_with_backoff_then_dead_letter_replay_and_drop() {
    let inbox = mem("max_attempts=2&retry_base_ms=0");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    let d = inbox.claim("c", 1).unwrap().remove(0);
    assert!(matches!(
        inbox.nack("c", &d.id, "first").unwrap(),
        Nacked::Retry(_)
    ));
    let d = inbox.claim("c", 1).unwrap().remove(0);
    assert_eq!(inbox.nack("c", &d.id, "second").unwrap(), Nacked::Dead);
    assert!(inbox.claim("c", 1).unwrap().is_empty());
    let dead = inbox.dead(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].attempts, dead[0].last_error.as_deref()),
        (2, Some("second"))
    );
    assert_eq!(dead[0].event.as_message().unwrap().id(), Some("wamid.X"));
    assert_eq!(inbox.replay(None).unwrap(), 1);
    let again = inbox.claim("c", 1).unwrap();
    assert_eq!(
        (ids(&again), again[0].attempt),
        (vec!["wamid.X".to_string()], 1)
    );
    inbox.nack("c", &again[0].id, "x").unwrap();
    let d = inbox.claim("c", 1).unwrap().remove(0);
    inbox.nack("c", &d.id, "x").unwrap();
    assert_eq!(inbox.stats().unwrap().dead, 1);
    assert_eq!(inbox.drop_dead(Some(&d.id)).unwrap(), 1);
    assert_eq!(inbox.stats().unwrap().dead, 0);
}

#[test]
fn backoff_delays_a_retry() {
    let inbox = mem("retry_base_ms=60000");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    let d = inbox.claim("c", 1).unwrap().remove(0);
    match inbox.nack("c", &d.id, "e").unwrap() {
        Nacked::Retry(delay) => assert!(delay >= Duration::from_secs(48), "{delay:?}"),
        other => panic!("{other:?}"),
    }
    assert!(inbox.claim("c", 1).unwrap().is_empty());
    assert_eq!(inbox.stats().unwrap().ready, 1);
}

#[test]
fn an_expired_lease_goes_to_another_consumer_and_release_does_not_count() {
    let inbox = mem("lease_ms=100");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    let d = inbox.claim("dead-worker", 1).unwrap().remove(0);
    assert!(inbox.claim("c2", 1).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(150));
    let d2 = inbox.claim("c2", 1).unwrap().remove(0);
    assert_eq!((d2.id.as_str(), d2.attempt), (d.id.as_str(), 2));
    assert!(!inbox.ack("dead-worker", &d.id).unwrap(), "lease lost");
    assert!(inbox.release("c2", &d2.id).unwrap());
    assert_eq!(inbox.claim("c3", 1).unwrap()[0].attempt, 2);
}

#[test]
fn extend_keeps_a_lease() {
    let inbox = mem("lease_ms=200");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    inbox.claim("c1", 1).unwrap();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(inbox.extend("c1").unwrap(), 1);
    }
    assert!(inbox.claim("c2", 1).unwrap().is_empty());
}

#[test]
fn consumer_renews_its_leases_and_releases_on_close() {
    let inbox = mem("lease_ms=150");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    let c = Consumer::new(Arc::clone(&inbox));
    let got = c.next(1, Duration::from_secs(1)).unwrap();
    assert_eq!(got.len(), 1);
    std::thread::sleep(Duration::from_millis(500));
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
    assert_eq!(d[0].attempt, 1, "released without counting the attempt");
}

#[test]
fn consumer_wakes_on_accept_in_the_same_process() {
    let inbox = mem("");
    let c = Consumer::new(Arc::clone(&inbox));
    let t = {
        let inbox = Arc::clone(&inbox);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
        })
    };
    let got = c.next(1, Duration::from_secs(10)).unwrap();
    t.join().unwrap();
    assert_eq!(ids(&got), ["wamid.X"]);
}

#[test]
fn claimed_events_equal_the_parsed_ones() {
    let inbox = mem("");
    let b = testing::batch(&[
        testing::inbound_text("111", "hi", "wamid.1"),
        testing::status("wamid.2", "read", "111"),
    ]);
    let a = accept(&*inbox, &b);
    let mut got = inbox.claim("c", 10).unwrap();
    got.sort_by_key(|d| d.id.parse::<i64>().unwrap());
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

#[test]
fn urls_select_backends_and_reject_the_unknown() {
    assert!(open("memory://").is_ok());
    let e = open("postgres://localhost").unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("postgres"), "{e}");
    let e = open("sqlite://relative.db").unwrap_err();
    assert_eq!(e.field(), Some("inbox"));
    let e = open("memory://?lease=3").unwrap_err();
    assert_eq!(e.field(), Some("inbox.lease"));
    let e = open("memory://?max_attempts=0").unwrap_err();
    assert_eq!(e.field(), Some("inbox.max_attempts"));
}

#[test]
fn sqlite_file_is_shared_by_handles_and_survives_reopen() {
    let path = temp_path("share");
    let url = format!("sqlite://{path}");
    let a = open(&url).unwrap();
    let b = open(&url).unwrap();
    let msg = testing::inbound_text("111", "x", "wamid.X");
    assert_eq!(accept(&*a, &msg).events.len(), 1);
    assert_eq!(accept(&*b, &msg).duplicates, 1, "dedupe across handles");
    let d = b.claim("cb", 5).unwrap();
    assert_eq!(d.len(), 1);
    assert!(a.claim("ca", 5).unwrap().is_empty());
    drop((a, b));
    let c = open(&url).unwrap();
    assert_eq!(c.stats().unwrap().in_flight, 1, "the claim survived");
    assert!(c.ack("cb", &d[0].id).unwrap());
}

#[test]
fn sqlite_corrupt_file_is_a_clear_error_and_left_untouched() {
    let path = temp_path("corrupt");
    let junk = b"this is not a database, but it is somebody's data".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let e = open(&format!("sqlite://{path}")).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::Store);
    assert!(e.to_string().contains("not a database"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[test]
fn sqlite_foreign_database_is_refused() {
    let path = temp_path("foreign");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE users(id INTEGER); INSERT INTO users VALUES (1);")
        .unwrap();
    drop(c);
    let e = open(&format!("sqlite://{path}")).unwrap_err();
    assert!(e.to_string().contains("another application"), "{e}");
}

#[test]
fn sqlite_locked_file_is_a_clear_error() {
    let path = temp_path("locked");
    drop(open(&format!("sqlite://{path}")).unwrap());
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let e = open(&format!("sqlite://{path}?busy_timeout_ms=200")).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::Store);
    assert!(e.to_string().contains("locked"), "{e}");
}

#[test]
fn concurrent_handles_hand_each_event_out_once() {
    let path = temp_path("race");
    let url = format!("sqlite://{path}");
    let writer = open(&url).unwrap();
    for i in 0..60 {
        accept(
            &*writer,
            &testing::inbound_text(&format!("{}", i % 7), "x", &format!("wamid.{i}")),
        );
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let url = url.clone();
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let inbox = open(&url).unwrap();
                let name = format!("c{t}");
                loop {
                    let got = inbox.claim(&name, 3).unwrap();
                    if got.is_empty() {
                        if inbox.stats().unwrap().ready == 0
                            && inbox.stats().unwrap().in_flight == 0
                        {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    for d in got {
                        seen.lock()
                            .unwrap()
                            .push(ids(std::slice::from_ref(&d))[0].clone());
                        assert!(inbox.ack(&name, &d.id).unwrap());
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 60);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 60);
    // Within each conversation, handled in accept order.
    for conv in 0..7 {
        let order: Vec<usize> = seen
            .iter()
            .map(|s| s.trim_start_matches("wamid.").parse::<usize>().unwrap())
            .filter(|i| i % 7 == conv)
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "conversation {conv}");
    }
}

#[test]
fn prune_drops_expired_keys() {
    let inbox = mem("retention_s=0");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    std::thread::sleep(Duration::from_millis(5));
    assert!(inbox.prune().unwrap() >= 1);
    assert_eq!(inbox.stats().unwrap().keys, 0);
}

#[test]
fn redact_url_hides_user_info_only() {
    assert_eq!(
        redact_url("redis://:s3cret@host:6379/0"),
        "redis://***@host:6379/0"
    );
    assert_eq!(
        redact_url("sqlite:///var/lib/a@b.db"),
        "sqlite:///var/lib/a@b.db"
    );
    assert_eq!(redact_url("memory://"), "memory://");
}

#[test]
fn many_handles_opening_one_new_file_at_once_all_succeed() {
    // A cluster's workers start together and open the same new inbox file:
    // none of them may fail with "database is locked".
    for round in 0..5 {
        let path = temp_path(&format!("race{round}"));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    open(&format!("sqlite://{path}")).map(|_| ())
                })
            })
            .collect();
        for h in handles {
            if let Err(e) = h.join().unwrap() {
                panic!("round {round}: an open failed: {e}");
            }
        }
    }
}
