//! The Redis governor store against a real redis-server (WA360_TEST_REDIS_URL,
//! started by `make test`): two handles stand for two machines and see one
//! bucket per key, with the same arithmetic as the in-process store.

use std::sync::Arc;
use std::time::Duration;

use wa360::governor::{Decrease, GovernorStore, MemoryStore, Reservation, open_store};

mod common;

use common::redis_server::OwnRedis;

fn url() -> String {
    let base = std::env::var("WA360_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "WA360_TEST_REDIS_URL is not set: run through `make test`, or \
             `tests/redis/with-redis.sh cargo test -p wa360 --test governor_redis`."
        )
    });
    format!("{base}?name=gov-t{:08x}", fastrand::u32(..))
}

fn wait_of(r: Reservation) -> Duration {
    match r {
        Reservation::Granted { wait, .. } => wait,
        other => panic!("not granted: {other:?}"),
    }
}

fn close(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) < Duration::from_millis(150)
}

#[tokio::test]
async fn two_handles_share_one_bucket_per_key() {
    let url = url();
    let a = open_store(&url).unwrap();
    let b = open_store(&url).unwrap();
    let i = Duration::from_secs(2);
    assert_eq!(
        wait_of(a.reserve("p:1:r", i, Duration::ZERO, i * 5).await),
        Duration::ZERO
    );
    let slot_of = |r: Reservation| match r {
        Reservation::Granted { slot, .. } => slot,
        other => panic!("not granted: {other:?}"),
    };
    // The other "machine" waits a full interval for the same recipient…
    assert!(close(
        wait_of(b.reserve("p:1:r", i, Duration::ZERO, i * 5).await),
        i
    ));
    // …and twice that next, but another recipient goes at once.
    let third = a.reserve("p:1:r", i, Duration::ZERO, i * 5).await;
    assert!(close(wait_of(third), i * 2));
    assert_eq!(
        wait_of(b.reserve("p:1:other", i, Duration::ZERO, i).await),
        Duration::ZERO
    );
    // Past the caller's deadline: refused, and nothing reserved.
    match b
        .reserve("p:1:r", i, Duration::ZERO, Duration::from_secs(1))
        .await
    {
        Reservation::Refused { retry_after } => assert!(close(retry_after, i * 3)),
        other => panic!("{other:?}"),
    }
    // Giving the latest back frees its slot for the other handle.
    a.release("p:1:r", i, slot_of(third)).await;
    let fourth = b.reserve("p:1:r", i, Duration::ZERO, i * 5).await;
    assert!(close(wait_of(fourth), i * 2));
    // A slot that is no longer the latest is not given back: it would hand the one
    // reserved after it out twice.
    assert!(close(
        wait_of(a.reserve("p:1:r", i, Duration::ZERO, i * 5).await),
        i * 3
    ));
    b.release("p:1:r", i, slot_of(fourth)).await;
    assert!(close(
        wait_of(a.reserve("p:1:r", i, Duration::ZERO, i * 5).await),
        i * 4
    ));
}

#[tokio::test]
async fn back_off_counts_and_slow_down_are_shared_like_the_memory_store() {
    let url = url();
    let mem: Arc<dyn GovernorStore> = Arc::new(MemoryStore::new());
    let pairs: [(Arc<dyn GovernorStore>, Arc<dyn GovernorStore>); 2] = [
        (open_store(&url).unwrap(), open_store(&url).unwrap()),
        (Arc::clone(&mem), mem),
    ];
    for (s, other) in pairs {
        assert_eq!(s.bump("p:1:x").await, 1);
        assert_eq!(other.bump("p:1:x").await, 2);
        s.clear("p:1:x").await;
        assert_eq!(other.bump("p:1:x").await, 1);
        // block_for: nothing for 3 s.
        s.block_for("p:1:y", Duration::from_secs(3), Duration::ZERO, None)
            .await;
        match other
            .reserve(
                "p:1:y",
                Duration::from_secs(1),
                Duration::ZERO,
                Duration::from_secs(1),
            )
            .await
        {
            Reservation::Refused { retry_after } => {
                assert!(close(retry_after, Duration::from_secs(3)))
            }
            r => panic!("{r:?}"),
        }
        // AIMD: halve, cooldown keeps a second decrease from stacking.
        let d = Decrease {
            factor: 0.5,
            floor: 0.1,
            increase_per_sec: 0.0,
            cooldown: Duration::from_secs(60),
        };
        assert!((s.decrease("n:1", d).await - 0.5).abs() < 1e-9);
        assert!((other.decrease("n:1", d).await - 0.5).abs() < 1e-9);
        assert!((other.scale("n:1", 0.0).await - 0.5).abs() < 1e-9);
    }
}

#[test]
fn redis_down_is_a_store_error_and_no_password_is_shown() {
    let Err(err) = open_store("redis://u:s3cr3t-sentinel@127.0.0.1:1/0") else {
        panic!("nothing listens on port 1")
    };
    assert_eq!(err.code().as_str(), "store");
    assert!(!format!("{err} {err:?}").contains("s3cr3t-sentinel"));
    let Err(err) = open_store("redis://127.0.0.1:1/0?bogus=1") else {
        panic!("unknown option accepted")
    };
    assert_eq!(err.code().as_str(), "invalid_argument");
}

/// A reservation moved later by `block_for` (a send that waited for its number slot) stays
/// the latest, with a new token that gives it back; a reservation behind others is not
/// moved into one; `ANY_SLOT` gives back one interval whatever came after (the number's
/// bucket). The same in Redis and in memory.
#[tokio::test]
async fn a_moved_slot_keeps_a_token_and_any_slot_gives_one_interval_back() {
    let url = url();
    let stores: [Arc<dyn GovernorStore>; 2] =
        [open_store(&url).unwrap(), Arc::new(MemoryStore::new())];
    let i = Duration::from_secs(2);
    for s in stores {
        let first = match s.reserve("p:2:r", i, Duration::ZERO, i).await {
            Reservation::Granted { slot, .. } => slot,
            other => panic!("{other:?}"),
        };
        let moved = s
            .block_for("p:2:r", i, Duration::ZERO, Some(first))
            .await
            .expect("still the latest");
        s.release("p:2:r", i, moved).await;
        assert_eq!(
            wait_of(s.reserve("p:2:r", i, Duration::ZERO, i * 5).await),
            Duration::ZERO
        );
        assert_eq!(
            s.block_for("p:2:r", i, Duration::ZERO, Some(first)).await,
            None
        );
        // The number's bucket: two queued, both given back in any order.
        for _ in 0..3 {
            s.reserve("n:2", i, Duration::ZERO, i * 5).await;
        }
        s.release("n:2", i, wa360::governor::ANY_SLOT).await;
        s.release("n:2", i, wa360::governor::ANY_SLOT).await;
        assert!(close(
            wait_of(s.reserve("n:2", i, Duration::ZERO, i * 5).await),
            i
        ));
    }
}

/// A back-off (a block without a slot) that left the bucket where a reservation already had
/// it is not undone when that reservation is given back: the give-back stops at the
/// back-off's end. It went back to now, and the next send met 131056 again. The same in
/// Redis and in memory.
#[tokio::test]
async fn a_give_back_does_not_undo_a_back_off() {
    let url = url();
    let stores: [Arc<dyn GovernorStore>; 2] =
        [open_store(&url).unwrap(), Arc::new(MemoryStore::new())];
    let i = Duration::from_secs(4);
    for s in stores {
        let slot = match s.reserve("p:3:r", i, Duration::ZERO, i).await {
            Reservation::Granted { slot, .. } => slot,
            other => panic!("{other:?}"),
        };
        s.block_for("p:3:r", i / 2, Duration::ZERO, None).await;
        s.release("p:3:r", i, slot).await;
        match s.reserve("p:3:r", i, Duration::ZERO, Duration::ZERO).await {
            Reservation::Refused { retry_after } => assert!(close(retry_after, i / 2)),
            other => panic!("{other:?}"),
        }
    }
}

/// A backlog of reservations at 970 a second moves the bucket by exactly 1/970 s each, as
/// the in-process store does: stored with 14 significant digits (a time in ms since 1970
/// to 0.1 ms), each moved it by the interval rounded to 0.1 ms, and processes sharing the
/// store sent at 1,000 a second.
#[tokio::test]
async fn a_backlog_at_a_high_rate_keeps_the_rate_exactly() {
    let store = open_store(&url()).unwrap();
    let interval = Duration::from_secs_f64(1.0 / 970.0);
    // Nothing allowed for 5 s: every reservation below queues behind the one before.
    store
        .block_for("n:fast", Duration::from_secs(5), Duration::ZERO, None)
        .await;
    let mut slots = Vec::new();
    for _ in 0..2000 {
        match store
            .reserve("n:fast", interval, Duration::ZERO, Duration::from_secs(60))
            .await
        {
            Reservation::Granted { slot, .. } => slots.push(slot),
            other => panic!("{other:?}"),
        }
    }
    // Each slot is the bucket's time after the reservation, in µs.
    let moved = (slots[1999] - slots[0]) as f64;
    let expected = 1999.0 * interval.as_secs_f64() * 1e6;
    // Within 0.05%: a double holding a time in ms since 1970 resolves about 0.24 µs, so
    // each step may round by a tenth of a µs; the 0.1 ms rounding was off by 3%.
    assert!(
        (moved - expected).abs() < 1000.0,
        "moved {moved} µs for 1999 reservations, expected {expected}"
    );
}

/// Redis stopped (SIGSTOP: the connection stays open and nothing answers) holds a send no
/// longer than its wait (at least 0.5 s): each store call waited for the 2 s response
/// timeout, several in a row. Refused as the store being out of reach, nothing sent.
#[test]
fn a_stopped_store_refuses_a_send_within_its_wait() {
    let mut server = OwnRedis::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = open_store(&server.url()).unwrap();
    let g = wa360::governor::Governor::with_store(
        wa360::governor::GovernorConfig::default()
            .messages_per_second(80.0)
            .pair_rate(Some(Duration::from_secs(6)), 1),
        Arc::clone(&store),
    )
    .unwrap();
    rt.block_on(g.acquire(Some("15550001"), Duration::ZERO, None))
        .unwrap();
    server.signal("-STOP");
    let t = std::time::Instant::now();
    let e = rt
        .block_on(g.acquire(Some("15550002"), Duration::from_millis(100), None))
        .unwrap_err();
    let took = t.elapsed();
    server.signal("-CONT");
    // The reservation the stopped server makes once it runs again is given back: nothing
    // was sent to that recipient, who must not wait a pair interval for it.
    std::thread::sleep(Duration::from_millis(300));
    let after = rt.block_on(g.acquire(Some("15550002"), Duration::ZERO, None));
    server.kill();
    // With the server gone, a slow-down cannot be stored: NaN, so the governor keeps the last
    // scale it saw. The floor it used to return was saved as this process's scale.
    let d = Decrease {
        factor: 0.5,
        floor: 0.1,
        increase_per_sec: 0.0,
        cooldown: Duration::from_secs(60),
    };
    let decreased = rt.block_on(store.decrease("n:gone", d));
    assert_eq!(e.code().as_str(), "rate_limited", "{e}");
    assert!(e.to_string().contains("cannot be reached"), "{e}");
    assert!(took < Duration::from_millis(1500), "held {took:?}");
    after.unwrap();
    assert!(decreased.is_nan(), "{decreased}");
}

/// Redis stalled past the client's 2 s response timeout: the send is refused as the store
/// being out of reach, and the reservation Redis makes for it once it resumes is cancelled,
/// so that its recipient, who got nothing, is not held for a pair interval.
#[test]
fn a_reservation_made_after_a_long_stall_is_given_back() {
    let server = OwnRedis::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let g = wa360::governor::Governor::with_store(
        wa360::governor::GovernorConfig::default()
            .messages_per_second(80.0)
            .pair_rate(Some(Duration::from_secs(6)), 1),
        open_store(&server.url()).unwrap(),
    )
    .unwrap();
    rt.block_on(g.acquire(Some("15550001"), Duration::ZERO, None))
        .unwrap();
    server.signal("-STOP");
    let e = rt
        .block_on(g.acquire(Some("15550002"), Duration::from_millis(100), None))
        .unwrap_err();
    std::thread::sleep(Duration::from_millis(2600));
    server.signal("-CONT");
    std::thread::sleep(Duration::from_millis(500));
    let after = rt.block_on(g.acquire(Some("15550002"), Duration::ZERO, None));
    assert!(e.to_string().contains("cannot be reached"), "{e}");
    after.unwrap();
}
