//! The Redis inbox against a real `redis-server` (`make test` starts one and
//! sets WA360_TEST_REDIS_URL; see tests/redis/with-redis.sh). Each test uses
//! its own inbox name, so they run in parallel on one server. Several
//! `open` handles stand for several machines: nothing is shared between them
//! but the server.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wa360::inbox::testing::event_ids as ids;
use wa360::inbox::{self, Accepted, Consumer, Inbox, Nacked};
use wa360::webhook::{parse, testing};

fn redis_url() -> String {
    std::env::var("WA360_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "WA360_TEST_REDIS_URL is not set: these tests need a real redis-server. Run them \
             through `make test` (it installs one with `make redis-install` and starts it), or \
             `tests/redis/with-redis.sh cargo test -p wa360 --test inbox_redis`."
        )
    })
}

/// A fresh inbox on the test server (a new name each call), with options.
fn open_named(name: &str, q: &str) -> Arc<dyn Inbox> {
    let sep = if q.is_empty() { "" } else { "&" };
    inbox::open(&format!("{}?name={name}{sep}{q}", redis_url())).unwrap()
}

fn fresh(q: &str) -> (String, Arc<dyn Inbox>) {
    let name = format!("t{}-{:08x}", std::process::id(), fastrand::u32(..));
    let i = open_named(&name, q);
    (name, i)
}

fn accept(inbox: &dyn Inbox, v: &Value) -> Accepted {
    inbox::testing::accept_json(inbox, v).unwrap()
}

#[test]
fn accept_dedupes_across_handles_and_folds_statuses() {
    let (name, a) = fresh("");
    let b = open_named(&name, "");
    let msg = testing::inbound_text("15555550123", "hi", "wamid.M");
    let err = testing::value_error(131000, "Something went wrong", "x");
    let first = accept(
        &*a,
        &testing::batch(&[msg.clone(), msg.clone(), err.clone()]),
    );
    assert_eq!(
        first.events.iter().map(|e| e.kind()).collect::<Vec<_>>(),
        ["message", "error"]
    );
    assert_eq!(first.duplicates, 1);
    // The same delivery through another "machine": all duplicates.
    let again = accept(&*b, &testing::batch(&[msg, err]));
    assert!(again.events.is_empty());
    assert_eq!(again.duplicates, 2);
    // Statuses: read, then the late delivered and sent are stale; failed is kept.
    let r = accept(&*a, &testing::status("wamid.S", "read", "1555"));
    assert_eq!(r.events.len(), 1);
    let late = accept(
        &*b,
        &testing::batch(&[
            testing::status("wamid.S", "delivered", "1555"),
            testing::status("wamid.S", "sent", "1555"),
        ]),
    );
    assert_eq!((late.events.len(), late.stale), (0, 2));
    let failed = accept(
        &*b,
        &testing::status_failed("wamid.S", "1555", 131026, "Undeliverable", "d"),
    );
    assert_eq!(failed.events.len(), 1);
    let s = a.stats().unwrap();
    assert_eq!(
        (s.ready, s.duplicates, s.stale),
        (4, 3, 2),
        "message, error, read, failed"
    );
}

#[test]
fn claim_ack_and_order_within_a_conversation() {
    let (_, inbox) = fresh("retry_base_ms=0");
    for i in 0..3 {
        accept(
            &*inbox,
            &testing::inbound_text("111", "x", &format!("wamid.{i}")),
        );
    }
    accept(&*inbox, &testing::inbound_text("222", "y", "wamid.other"));
    let first = inbox.claim("c1", 10).unwrap();
    assert_eq!(ids(&first), ["wamid.0", "wamid.other"]);
    assert_eq!(first[0].attempt, 1);
    assert!(inbox.claim("c2", 10).unwrap().is_empty());
    assert!(
        !inbox.ack("c2", &first[0].id).unwrap(),
        "only the holder acks"
    );
    // A failure keeps the order: the retry of wamid.0 comes before wamid.1.
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

#[test]
fn failures_dead_letter_then_replay_and_drop() {
    let (_, inbox) = fresh("max_attempts=2&retry_base_ms=0");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.Y"));
    let d = inbox.claim("c", 1).unwrap().remove(0);
    assert!(matches!(
        inbox.nack("c", &d.id, "first").unwrap(),
        Nacked::Retry(_)
    ));
    let d = inbox.claim("c", 1).unwrap().remove(0);
    assert_eq!(inbox.nack("c", &d.id, "second").unwrap(), Nacked::Dead);
    // The dead letter no longer blocks its conversation.
    assert_eq!(ids(&inbox.claim("c", 1).unwrap()), ["wamid.Y"]);
    let dead = inbox.dead(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].attempts, dead[0].last_error.as_deref()),
        (2, Some("second"))
    );
    assert_eq!(dead[0].event.as_message().unwrap().id(), Some("wamid.X"));
    assert_eq!(inbox.replay(None).unwrap(), 1);
    assert_eq!(inbox.stats().unwrap().dead, 0);
    assert_eq!(inbox.drop_dead(None).unwrap(), 0);
}

#[test]
fn a_dead_consumers_events_go_to_another_and_release_is_immediate() {
    let (name, a) = fresh("lease_ms=200");
    let b = open_named(&name, "lease_ms=200");
    accept(&*a, &testing::inbound_text("111", "x", "wamid.X"));
    accept(&*a, &testing::inbound_text("222", "x", "wamid.Y"));
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
    // Release gives it back at once, without counting the attempt.
    assert!(b.release("live", &took[0].id).unwrap());
    let again = a.claim("third", 5).unwrap();
    assert_eq!((ids(&again), again[0].attempt), (vec!["wamid.X".into()], 2));
}

#[test]
fn extend_and_the_consumer_keep_leases_alive() {
    let (_, inbox) = fresh("lease_ms=300");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    let c = Consumer::new(Arc::clone(&inbox));
    assert_eq!(c.next(1, Duration::from_secs(2)).unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(900));
    assert!(inbox.claim("other", 1).unwrap().is_empty(), "renewed");
    assert_eq!(c.close().unwrap(), 1);
    let d = inbox.claim("other", 1).unwrap();
    assert_eq!((ids(&d), d[0].attempt), (vec!["wamid.X".into()], 1));
}

#[test]
fn claimed_events_equal_the_parsed_ones() {
    let (_, inbox) = fresh("");
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
}

/// Four "machines" (own handles) with two threads each claim concurrently
/// while the same events are accepted twice through different handles:
/// every event is handled exactly once, and each conversation in order.
#[test]
fn machines_share_the_work_exactly_once_and_in_conversation_order() {
    let (name, first) = fresh("");
    let handles: Vec<Arc<dyn Inbox>> = (0..4)
        .map(|i| {
            if i == 0 {
                Arc::clone(&first)
            } else {
                open_named(&name, "")
            }
        })
        .collect();
    let convs = 10;
    let per = 20;
    for n in 0..per {
        for c in 0..convs {
            let v =
                testing::inbound_text(&format!("1555000{c:04}"), "x", &format!("wamid.{c}.{n}"));
            // Delivered twice, to two different machines.
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

#[test]
fn redis_down_is_a_clear_error_quickly_and_never_shows_the_password() {
    // Nothing listens on port 1.
    let url = "redis://user:s3cr3t-sentinel@127.0.0.1:1/0?busy_timeout_ms=300";
    let t = Instant::now();
    let err = inbox::open(url).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(err.code().as_str(), "store");
    let text = format!("{err} {err:?}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(!text.contains("s3cr3t-sentinel"), "{text}");
    // A working handle never prints its password either (the test server's
    // default user takes any password).
    let with_pw = redis_url().replacen("redis://", "redis://default:s3cr3t-sentinel@", 1);
    let i = inbox::open(&with_pw).unwrap();
    let shown = format!("{i:?}");
    assert!(
        !shown.contains("s3cr3t-sentinel") && shown.contains("***@"),
        "{shown}"
    );
}

#[test]
fn unknown_options_and_bad_names_are_invalid_arguments() {
    let e = inbox::open(&format!("{}?lease=5", redis_url())).unwrap_err();
    assert_eq!(e.code().as_str(), "invalid_argument");
    let e = inbox::open(&format!("{}?name=a{{b", redis_url())).unwrap_err();
    assert_eq!(e.code().as_str(), "invalid_argument");
}

/// A redis-server of this test's own (AOF on, `appendfsync everysec`), so it
/// can be stopped and restarted without disturbing the shared one.
struct OwnServer {
    bin: String,
    dir: std::path::PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnServer {
    fn start() -> OwnServer {
        let bin = std::env::var("WA360_TEST_REDIS_SERVER").unwrap_or_else(|_| {
            panic!("WA360_TEST_REDIS_SERVER is not set: run through `make test` (tests/redis/with-redis.sh)")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("wa360-redis-own-{port}-{:08x}", fastrand::u32(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = OwnServer {
            bin,
            dir,
            port,
            child: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new(&self.bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM: Redis flushes the AOF and exits, as on a restart or deploy.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_restart_keeps_every_accepted_event_and_down_mid_run_refuses_with_store() {
    use wa360::webhook::{Receiver, ReceiverConfig};
    let mut server = OwnServer::start();
    let inbox = inbox::open(&format!("{}?busy_timeout_ms=500", server.url())).unwrap();
    let receiver = Receiver::new(ReceiverConfig {
        inbox: Some(Arc::clone(&inbox)),
        ..ReceiverConfig::default()
    });
    let post = |wamid: &str| {
        let body = testing::inbound_text("111", "x", wamid).to_string();
        receiver.handle::<&str, &str>("POST", "", &[], body.as_bytes())
    };
    for i in 0..50 {
        assert_eq!(post(&format!("wamid.{i}")).status, 200);
    }
    server.stop();
    // Down: the receiver answers 503 (360dialog will deliver again), quickly.
    let t = Instant::now();
    let r = post("wamid.during");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.error.as_ref().map(|e| e.code().as_str()), Some("store"));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    server.spawn();
    // Back up: the same handle reconnects; every acknowledged event is there.
    let t = Instant::now();
    let r = loop {
        let r = post("wamid.during");
        if r.status == 200 || t.elapsed() > Duration::from_secs(10) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(r.status, 200, "{}", r.body);
    let s = inbox.stats().unwrap();
    assert_eq!(s.ready, 51);
    let mut got = Vec::new();
    loop {
        let d = inbox.claim("c", 100).unwrap();
        if d.is_empty() {
            break;
        }
        for x in &d {
            inbox.ack("c", &x.id).unwrap();
        }
        got.extend(ids(&d));
    }
    assert_eq!(got.len(), 51);
    assert!(got.contains(&"wamid.49".to_string()) && got.contains(&"wamid.during".to_string()));
}
