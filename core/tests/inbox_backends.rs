//! The inbox contract (`inbox_contract/mod.rs`) run against the in-process backends:
//! memory and SQLite (a real file). Redis runs it in `inbox_redis.rs`. Below it, what
//! memory and SQLite do beyond the contract.

use wa360::inbox::Nacked;
use wa360::inbox::testing::{accept_json, event_ids as ids};
use wa360::webhook::testing;

#[macro_use]
mod inbox_contract;

use inbox_contract::Backend;

mod memory {
    inbox_contract_tests!(crate::inbox_contract::memory);

    #[test]
    fn a_retry_goes_to_any_consumer_and_a_dead_letter_keeps_its_id() {
        super::retry_by_any_consumer_and_dead_letter_id(crate::inbox_contract::memory);
    }
}

mod sqlite {
    inbox_contract_tests!(crate::inbox_contract::sqlite);

    #[test]
    fn a_retry_goes_to_any_consumer_and_a_dead_letter_keeps_its_id() {
        super::retry_by_any_consumer_and_dead_letter_id(crate::inbox_contract::sqlite);
    }

    /// An ack that fails (the file stays locked past `busy_timeout_ms`: another process's
    /// long write) was dropped with the error: the event was no longer renewed, its lease ran
    /// out, and another consumer ran the handled event again. The consumer keeps it and tells
    /// the store again at its next renewal: nobody runs it again, and the conversation
    /// behind it goes on.
    #[test]
    fn an_ack_that_failed_is_told_again_and_the_event_never_runs_twice() {
        use super::{accept_json, ids, testing};
        use std::sync::Arc;
        use std::time::Duration;
        let (dir, path) = crate::inbox_contract::temp_inbox("ackfail");
        let url = format!(
            "sqlite://{}?lease_ms=1500&busy_timeout_ms=100",
            path.display()
        );
        let inbox = wa360::inbox::open(&url).unwrap();
        for (from, wamid) in [("111", "wamid.X"), ("222", "wamid.Y"), ("111", "wamid.X2")] {
            accept_json(&*inbox, &testing::inbound_text(from, "x", wamid)).unwrap();
        }
        let c = wa360::inbox::Consumer::new(Arc::clone(&inbox));
        let got = c.next(2, Duration::from_secs(2)).unwrap();
        assert_eq!(ids(&got), ["wamid.X", "wamid.Y"]);

        // Another process holds the write lock while X is acknowledged.
        let blocker = rusqlite::Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = c.ack(&got[0].id).unwrap_err();
        assert_eq!(err.code().as_str(), "store", "{err}");
        blocker.execute_batch("ROLLBACK").unwrap();
        assert_eq!(c.held(), 2, "X held until the store takes its ack");

        // Well past X's lease: X was acked at a renewal, X2 is next in its conversation.
        std::thread::sleep(Duration::from_millis(4000));
        assert_eq!(c.held(), 1);
        let other = wa360::inbox::open(&url).unwrap();
        let x2 = other.claim("other", 5).unwrap();
        assert_eq!(ids(&x2), ["wamid.X2"], "X ran again, or X2 waits behind it");
        assert_eq!(other.stats().unwrap().handled, 1);
        assert!(c.ack(&got[1].id).unwrap(), "Y kept its lease");
        c.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A consumer that closes while the store still refuses an ack: the event was released
    /// with the others, and another consumer ran the handled event again at once. It is told
    /// once more at close and, refused again, left to its lease.
    #[test]
    fn closing_does_not_release_an_event_whose_ack_the_store_refused() {
        use super::{accept_json, testing};
        use std::sync::Arc;
        use std::time::Duration;
        let (dir, path) = crate::inbox_contract::temp_inbox("ackfail-close");
        let url = format!(
            "sqlite://{}?lease_ms=30000&busy_timeout_ms=300",
            path.display()
        );
        let inbox = wa360::inbox::open(&url).unwrap();
        accept_json(&*inbox, &testing::inbound_text("111", "x", "wamid.X")).unwrap();
        let c = wa360::inbox::Consumer::new(Arc::clone(&inbox));
        let got = c.next(1, Duration::from_secs(2)).unwrap();
        let blocker = rusqlite::Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert!(c.ack(&got[0].id).is_err());
        // The lock ends while close runs: after its ack was refused again (300 ms), within
        // the wait of a release that would follow (SQLite tries again at 178, 228, 328 ms).
        let unlock = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            blocker.execute_batch("ROLLBACK").unwrap();
        });
        // Refused again (an error saying so), or, on a slow machine, close's try came after
        // the lock ended: told, nothing to release.
        match c.close() {
            Ok(released) => assert_eq!(released, 0, "released"),
            Err(e) => assert!(
                e.to_string()
                    .contains("1 handled event(s) not acknowledged and 0 running"),
                "{e}"
            ),
        }
        unlock.join().unwrap();
        let other = wa360::inbox::open(&url).unwrap();
        assert!(other.claim("other", 5).unwrap().is_empty(), "ran again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Entries with as many attempts as now allowed (`max_attempts` lowered across a
    /// restart, or a process of a rolling deploy with a lower one) go to the dead letters
    /// at the next claim, and the events behind them are handed out, instead of being
    /// found at every poll and taken never.
    #[test]
    fn entries_past_a_lowered_max_attempts_are_dead_lettered_not_stuck() {
        use super::ids;
        let (dir, path) = crate::inbox_contract::temp_inbox("lowered");
        let events = [("111", "wamid.A"), ("222", "wamid.B"), ("333", "wamid.C")];
        let spent = fail_three_times(&path, &events, 2);
        assert_eq!(spent, ["wamid.A", "wamid.B"]);
        let after = wa360::inbox::open(&with_max_attempts(&path, 2)).unwrap();
        let got = after.claim("c", 1).unwrap();
        assert_eq!(ids(&got), ["wamid.C"]);
        let stats = after.stats().unwrap();
        assert_eq!((stats.dead, stats.in_flight), (2, 1), "{stats:?}");
        assert!(
            after
                .dead(10)
                .unwrap()
                .iter()
                .all(|d| d.last_error.as_deref() == Some("down"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A claim that dead-letters spent entries searches again for the events behind them.
    /// When that later round failed (the store refused its take), the claim failed with
    /// the error, and the event the first round had already taken stayed leased to this
    /// consumer in the file without being handed to it: nobody ran it until its lease ran
    /// out. It is handed out; the next claim meets the error.
    #[test]
    fn a_later_round_that_fails_hands_out_what_the_first_round_took() {
        use super::ids;
        let (dir, path) = crate::inbox_contract::temp_inbox("round2");
        let events = [
            ("111", "wamid.A1"),
            ("222", "wamid.A2"),
            ("333", "wamid.A3"),
            ("444", "wamid.C"),
            ("555", "wamid.D"),
        ];
        let spent = fail_three_times(&path, &events, 3);
        assert_eq!(spent, ["wamid.A1", "wamid.A2", "wamid.A3"]);
        // The store refuses every take after the first (a real SQLite error, raised by the
        // file itself).
        let file = rusqlite::Connection::open(&path).unwrap();
        file.execute_batch(
            "CREATE TABLE takes(n INTEGER); INSERT INTO takes VALUES (0);
             CREATE TRIGGER refuse BEFORE UPDATE ON entries
               WHEN NEW.state = 1 AND OLD.state <> 1 AND (SELECT n FROM takes) >= 1
               BEGIN SELECT RAISE(ABORT, 'refused'); END;
             CREATE TRIGGER count AFTER UPDATE ON entries
               WHEN NEW.state = 1 AND OLD.state <> 1
               BEGIN UPDATE takes SET n = n + 1; END;",
        )
        .unwrap();
        let after = wa360::inbox::open(&with_max_attempts(&path, 2)).unwrap();
        // Round one: A1..A3 dead-lettered, C taken; round two's take of D is refused.
        let got = after.claim("c", 2).unwrap();
        assert_eq!(ids(&got), ["wamid.C"]);
        assert!(after.claim("c", 2).is_err(), "the store still refuses");
        file.execute_batch("DROP TRIGGER refuse").unwrap();
        assert_eq!(ids(&after.claim("c", 2).unwrap()), ["wamid.D"]);
        let stats = after.stats().unwrap();
        assert_eq!((stats.dead, stats.in_flight), (3, 2), "{stats:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An unreadable entry taken with others goes to the dead letters alone. When that
    /// write was refused, the claim failed and the readable events it had taken stayed
    /// leased to this consumer without being handed out. They are handed out.
    #[test]
    fn a_refused_dead_letter_write_still_hands_out_the_readable_events() {
        use super::{accept_json, ids, testing};
        let (dir, path) = crate::inbox_contract::temp_inbox("deadfail");
        let url = format!("sqlite://{}", path.display());
        let before = wa360::inbox::open(&url).unwrap();
        for (from, w) in [("111", "wamid.BAD"), ("222", "wamid.OK")] {
            accept_json(&*before, &testing::inbound_text(from, "x", w)).unwrap();
        }
        drop(before);
        let file = rusqlite::Connection::open(&path).unwrap();
        file.execute_batch(
            "UPDATE bodies SET body = x'7b' WHERE id = (SELECT min(id) FROM bodies);
             CREATE TRIGGER refuse BEFORE UPDATE ON entries WHEN NEW.state = 3
               BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        let after = wa360::inbox::open(&url).unwrap();
        assert_eq!(ids(&after.claim("c", 2).unwrap()), ["wamid.OK"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `sqlite://path` with `max_attempts` as given and retries due at once.
    fn with_max_attempts(path: &std::path::Path, max: u32) -> String {
        format!(
            "sqlite://{}?max_attempts={max}&retry_base_ms=0&retry_max_ms=0",
            path.display()
        )
    }

    /// Stores `events` (from, wamid) in the file at `path`, then three times claims
    /// `per_claim` of them and fails what it took: those have three attempts spent. Returns
    /// the wamids failed.
    fn fail_three_times(
        path: &std::path::Path,
        events: &[(&str, &str)],
        per_claim: usize,
    ) -> Vec<String> {
        use super::{accept_json, ids, testing};
        let inbox = wa360::inbox::open(&with_max_attempts(path, 5)).unwrap();
        for (from, w) in events {
            accept_json(&*inbox, &testing::inbound_text(from, "x", w)).unwrap();
        }
        let mut failed = Vec::new();
        for _ in 0..3 {
            let got = inbox.claim("c", per_claim).unwrap();
            failed = ids(&got);
            for d in got {
                inbox.nack("c", &d.id, "down").unwrap();
            }
        }
        failed
    }

    /// A claim searches without the write lock, and takes it only for what it found: a
    /// consumer with nothing claimable (a backlog behind a conversation waiting for its
    /// retry) keeps polling while another process holds the write lock, instead of
    /// queueing for it (and then failing with `store`) at every poll, ahead of the
    /// receiver's accepts.
    #[test]
    fn a_claim_with_nothing_claimable_never_waits_for_the_write_lock() {
        use super::{accept_json, ids, testing};
        use wa360::inbox::Nacked;
        let (dir, path) = crate::inbox_contract::temp_inbox("search");
        let url = format!(
            "sqlite://{}?busy_timeout_ms=300&retry_base_ms=60000&retry_max_ms=60000",
            path.display()
        );
        let inbox = wa360::inbox::open(&url).unwrap();
        for w in ["wamid.H", "wamid.B1", "wamid.B2"] {
            accept_json(&*inbox, &testing::inbound_text("111", "x", w)).unwrap();
        }
        let head = inbox.claim("c", 5).unwrap();
        assert_eq!(ids(&head), ["wamid.H"]);
        assert!(matches!(
            inbox.nack("c", &head[0].id, "downstream down").unwrap(),
            Nacked::Retry(_)
        ));
        let blocker = rusqlite::Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        for _ in 0..3 {
            assert!(inbox.claim("c", 5).unwrap().is_empty());
        }
        // A handle opened meanwhile (another worker) polls the same way.
        blocker.execute_batch("ROLLBACK").unwrap();
        let other = wa360::inbox::open(&url).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert!(other.claim("o", 5).unwrap().is_empty());
        blocker.execute_batch("ROLLBACK").unwrap();
        // Something claimable appears (another conversation): it is found at once.
        accept_json(&*other, &testing::inbound_text("222", "x", "wamid.C")).unwrap();
        assert_eq!(ids(&inbox.claim("c", 5).unwrap()), ["wamid.C"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A failed event is retried by whichever consumer claims next (Redis keeps it with the
/// consumer that failed it until its lease ends), and its dead letter has the delivery's id.
fn retry_by_any_consumer_and_dead_letter_id(backend: Backend) {
    let inbox = backend("max_attempts=2&retry_base_ms=0").inbox();
    accept_json(&*inbox, &testing::inbound_text("111", "x", "wamid.0")).unwrap();
    let d = inbox.claim("c1", 1).unwrap().remove(0);
    assert!(matches!(
        inbox.nack("c1", &d.id, "boom").unwrap(),
        Nacked::Retry(_)
    ));
    let retry = inbox.claim("c2", 1).unwrap();
    assert_eq!((ids(&retry), retry[0].attempt), (vec!["wamid.0".into()], 2));
    assert_eq!(
        inbox.nack("c2", &retry[0].id, "again").unwrap(),
        Nacked::Dead
    );
    assert_eq!(inbox.drop_dead(Some(&d.id)).unwrap(), 1);
    assert_eq!(inbox.stats().unwrap().dead, 0);
}
