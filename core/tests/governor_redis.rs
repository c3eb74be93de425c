//! The Redis governor store against a real redis-server (WA360_TEST_REDIS_URL,
//! started by `make test`): two handles stand for two machines and see one
//! bucket per key, with the same arithmetic as the in-process store.

use std::sync::Arc;
use std::time::Duration;

use wa360::governor::{Decrease, GovernorStore, MemoryStore, Reservation, open_store};

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
        s.block_for("p:1:y", Duration::from_secs(3), Duration::ZERO)
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
