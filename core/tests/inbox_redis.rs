//! The Redis inbox against a real `redis-server` (`make test` starts one and
//! sets WA360_TEST_REDIS_URL; see tests/redis/with-redis.sh). Each test uses
//! its own inbox name, so they run in parallel on one server. Several
//! `open` handles stand for several machines: nothing is shared between them
//! but the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wa360::inbox::testing::drain;
use wa360::webhook::testing;

#[macro_use]
mod inbox_contract;
mod common;

use common::redis_server::OwnRedis;

use wa360::inbox;

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
fn redis(q: &str) -> inbox_contract::Store {
    let name = format!("t{}-{:08x}", std::process::id(), fastrand::u32(..));
    let sep = if q.is_empty() { "" } else { "&" };
    inbox_contract::Store::shared(format!("{}?name={name}{sep}{q}", redis_url()))
}

/// The inbox contract (`inbox_contract/mod.rs`) on Redis.
mod contract {
    inbox_contract_tests!(super::redis);
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

/// An inbox on the server at `url` (busy timeout 500 ms) and a function posting an inbound text with
/// a given wamid to a core receiver in front of it.
fn inbox_behind_a_receiver(
    url: String,
) -> (
    Arc<dyn inbox::Inbox>,
    impl Fn(&str) -> wa360::webhook::Reply,
) {
    use wa360::webhook::{Receiver, ReceiverConfig};
    let inbox = inbox::open(&format!("{url}?busy_timeout_ms=500")).unwrap();
    let receiver = Receiver::new(ReceiverConfig {
        inbox: Some(Arc::clone(&inbox)),
        ..ReceiverConfig::default()
    });
    let post = move |wamid: &str| {
        let body = testing::inbound_text("111", "x", wamid).to_string();
        receiver.handle::<&str, &str>("POST", "", &[], body.as_bytes())
    };
    (inbox, post)
}

#[test]
fn a_restart_keeps_every_accepted_event_and_down_mid_run_refuses_with_store() {
    let mut server = OwnRedis::start();
    let (inbox, post) = inbox_behind_a_receiver(server.url());
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
    let got = drain(&*inbox, "c").unwrap();
    assert_eq!(got.len(), 51);
    assert!(got.contains(&"wamid.49".to_string()) && got.contains(&"wamid.during".to_string()));
}

/// The names in the inbox's consumer group, read with `XINFO CONSUMERS`.
fn group_consumers(name: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_connection().unwrap();
    let rows: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(format!("{{{name}}}:s"))
        .arg("g")
        .query(&mut c)
        .unwrap();
    rows.iter()
        .map(|r| redis::from_redis_value(r["name"].clone()).unwrap())
        .collect()
}

#[test]
fn prune_forgets_the_consumers_that_hold_nothing_and_keeps_the_others() {
    let name = format!("t{}-{:08x}", std::process::id(), fastrand::u32(..));
    let inbox = inbox::open(&format!("{}?name={name}&lease_ms=100", redis_url())).unwrap();
    for (from, wamid) in [("111", "wamid.F1"), ("222", "wamid.F2")] {
        let body = testing::inbound_text(from, "x", wamid);
        wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    }
    // One consumer handles an event and closes; another still holds one.
    let gone = inbox::Consumer::new(Arc::clone(&inbox));
    let [d] = gone.next(1, Duration::ZERO).unwrap().try_into().unwrap();
    assert!(gone.ack(&d.id).unwrap());
    gone.close().unwrap();
    let holder = inbox::Consumer::new(Arc::clone(&inbox));
    assert_eq!(holder.next(1, Duration::ZERO).unwrap().len(), 1);
    holder.stop();
    let names = group_consumers(&name);
    assert!(names.contains(&gone.name().to_string()) && names.contains(&holder.name().to_string()));
    // Past ten leases (the floor is 1 s) without a claim.
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(inbox.prune().unwrap(), 1);
    let names = group_consumers(&name);
    assert!(!names.contains(&gone.name().to_string()), "{names:?}");
    assert!(
        names.contains(&holder.name().to_string()),
        "it still holds an entry: {names:?}"
    );
}

/// Redis that loses its data (a restart without persistence, `FLUSHALL`, a replaced node)
/// loses the consumer group too, and the next accept recreates the stream without it.
/// New deliveries are stored (200) and handed out again: the claim makes the group anew
/// instead of failing with `NOGROUP` on every poll until each process restarts.
#[test]
fn after_redis_loses_its_data_new_deliveries_are_handed_out_again() {
    let server = OwnRedis::start();
    let (inbox, post) = inbox_behind_a_receiver(server.url());
    assert_eq!(post("wamid.L1").status, 200);
    assert_eq!(drain(&*inbox, "c").unwrap(), vec!["wamid.L1".to_string()]);
    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_connection().unwrap();
    redis::cmd("FLUSHALL").query::<()>(&mut c).unwrap();
    let r = post("wamid.L2");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(drain(&*inbox, "c").unwrap(), vec!["wamid.L2".to_string()]);
}

/// `DEBUG SLEEP 0.6` on `server` from another thread, started 100 ms before this returns: a
/// command sent meanwhile gets its answer after a 200 ms busy timeout gave up on it.
fn stall_for_600_ms(server: &OwnRedis) -> std::thread::JoinHandle<()> {
    let client = redis::Client::open(server.url()).unwrap();
    let stall = std::thread::spawn(move || {
        let mut c = client.get_connection().unwrap();
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg("0.6")
            .query::<()>(&mut c)
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(100));
    stall
}

/// A nack whose reply was lost: Redis ran it after the client had given up (writes paused
/// past the timeout), so the consumer kept the failure to tell again, and when the event's
/// retry came back to its own claim it took it for the call still running and told the
/// failure again, against an attempt that never ran (with 2 attempts: dead-lettered after
/// one run). The retry is handed out.
#[test]
fn a_nack_whose_reply_was_lost_is_counted_once() {
    let server = OwnRedis::start();
    let url = format!(
        "{}?name=lost-nack&busy_timeout_ms=200&max_attempts=2&retry_base_ms=100&retry_max_ms=100",
        server.url()
    );
    let inbox = inbox::open(&url).unwrap();
    accept_texts(&inbox, "7", "wamid.F", 1);
    accept_texts(&inbox, "8", "wamid.W", 1);
    let c = inbox::Consumer::new(Arc::clone(&inbox));
    let first = c.next(2, Duration::from_secs(3)).unwrap();
    assert_eq!(first.len(), 2);
    // A first nack loads the script on the server (not the one whose reply is lost).
    assert!(c.nack(&first[1].id, "warm-up").is_ok());
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_connection().unwrap();
    let paused = Instant::now();
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query::<()>(&mut raw)
        .unwrap();
    assert!(c.nack(&first[0].id, "failed").is_err(), "no answer in time");
    // Then Redis runs it (the retry comes 100 ms later).
    std::thread::sleep(Duration::from_millis(1700).saturating_sub(paused.elapsed()));
    let mut seen = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        for d in c.next(2, Duration::from_millis(200)).unwrap() {
            assert!(c.ack(&d.id).unwrap());
            seen.push((
                wa360::inbox::testing::event_ids(std::slice::from_ref(&d))[0].clone(),
                d.attempt,
            ));
        }
        if seen.iter().any(|(id, _)| id == "wamid.F0") {
            break;
        }
    }
    assert!(seen.contains(&("wamid.F0".to_string(), 2)), "{seen:?}");
    assert_eq!(inbox.stats().unwrap().dead, 0);
    c.close().unwrap();
}

/// Redis loses its data after a claim failed (down for a moment, then restarted without
/// persistence): the consumer first gives back what that claim may have handed it, and
/// asking the group that no longer exists failed with `NOGROUP` on every poll. Deliveries
/// got 200 and no handler ran until the process restarted. A consumer that held an event
/// when the data went finds it gone: its ack, renewal and close say "not held", no error.
#[test]
fn after_a_failed_claim_and_lost_data_the_consumer_claims_again() {
    let server = OwnRedis::start();
    let url = format!("{}?busy_timeout_ms=200", server.url());
    let warm = inbox::open(&format!("{url}&name=warm")).unwrap();
    assert!(warm.claim("w", 1).unwrap().is_empty());
    let inbox = inbox::open(&url).unwrap();
    let accept = |wamid: &str| {
        let body = testing::inbound_text("111", "x", wamid);
        wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    };
    accept("wamid.HELD");
    let holder = inbox::Consumer::new(Arc::clone(&inbox));
    let held = holder.next(1, Duration::from_secs(3)).unwrap();
    assert_eq!(held.len(), 1);
    let consumer = inbox::Consumer::new(Arc::clone(&inbox));
    let client = redis::Client::open(server.url()).unwrap();
    let stall = stall_for_600_ms(&server);
    assert!(consumer.next(1, Duration::ZERO).is_err(), "the claim fails");
    stall.join().unwrap();
    let mut c = client.get_connection().unwrap();
    redis::cmd("FLUSHALL").query::<()>(&mut c).unwrap();
    accept("wamid.AFTER");
    let got = consumer.next(1, Duration::from_secs(3)).unwrap();
    assert_eq!(wa360::inbox::testing::event_ids(&got), vec!["wamid.AFTER"]);
    assert!(consumer.ack(&got[0].id).unwrap());
    // The holder's event went with the data.
    assert!(!holder.ack(&held[0].id).unwrap());
    holder.close().unwrap();
}

/// A claim whose reply is lost (the server ran the script, the answer came after the
/// client's timeout) handed events to a consumer that never knew. Before, they waited out
/// a full lease, holding up their conversations, and on their last attempt went to the
/// dead letters without running. Now the consumer's next claim gives them back, without
/// counting the attempt, and hands them out.
#[test]
fn events_of_a_claim_whose_reply_was_lost_are_handed_out_at_the_next_claim() {
    let server = OwnRedis::start();
    let url = format!(
        "{}?busy_timeout_ms=200&lease_ms=30000&max_attempts=1",
        server.url()
    );
    // The claim script in the server's cache first (a script loaded on a lost call would
    // never have run).
    let warm = inbox::open(&format!("{url}&name=warm")).unwrap();
    assert!(warm.claim("w", 1).unwrap().is_empty());
    let inbox = inbox::open(&url).unwrap();
    let body = testing::inbound_text("111", "x", "wamid.LOST");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    let consumer = inbox::Consumer::new(Arc::clone(&inbox));
    // The server stalls for 600 ms: the claim sent meanwhile runs after the client has
    // given up on its answer.
    let stall = stall_for_600_ms(&server);
    assert!(
        consumer.next(1, Duration::ZERO).is_err(),
        "no answer in time"
    );
    stall.join().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let got = consumer.next(1, Duration::from_secs(3)).unwrap();
    assert_eq!(got.len(), 1, "handed out again well within the 30 s lease");
    assert_eq!(wa360::inbox::testing::event_ids(&got), vec!["wamid.LOST"]);
    assert_eq!(got[0].attempt, 1, "the lost claim did not count");
    assert!(consumer.ack(&got[0].id).unwrap());
    assert!(inbox.dead(10).unwrap().is_empty());
}

/// After Redis restarts (AOF on, as a deploy does), the first command on the old
/// connection is told the connection dropped. That command was an ack: it failed, and the
/// event ran a second time on another consumer once its lease ran out. Every call that
/// fails this way is now made once more on the new connection.
#[test]
fn the_first_ack_after_a_redis_restart_is_not_lost() {
    let mut server = OwnRedis::start();
    let url = format!("{}?lease_ms=1000", server.url());
    let inbox = inbox::open(&url).unwrap();
    let body = testing::inbound_text("111", "x", "wamid.RESTART");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    let got = inbox.claim("a", 1).unwrap();
    assert_eq!(got.len(), 1);
    // The handler runs; Redis restarts meanwhile (the AOF keeps the claim).
    std::thread::sleep(Duration::from_millis(1100)); // everysec: the claim is on disk
    server.stop();
    server.spawn();
    assert!(inbox.ack("a", &got[0].id).unwrap(), "acknowledged");
    std::thread::sleep(Duration::from_millis(1200)); // past the lease
    assert!(
        inbox.claim("b", 1).unwrap().is_empty(),
        "not handed out again"
    );
}

/// Redis paused longer than a lease (SIGSTOP here; a long fork or fsync stall, a VM
/// freeze) stopped every consumer's renewals while the leases aged on the server's clock.
/// The first claim after it took over the event a live consumer was still handling, which
/// then ran twice. Now, for a lease after such a gap, only entries idle for the lease plus
/// the gap are taken over, so the live consumer renews first; the event of a consumer that
/// died before the pause is still taken over, within about a lease.
#[test]
fn a_redis_pause_longer_than_a_lease_does_not_hand_a_live_consumers_event_to_another() {
    let server = OwnRedis::start();
    let url = format!("{}?lease_ms=2000", server.url());
    let (a, b) = (inbox::open(&url).unwrap(), inbox::open(&url).unwrap());
    for (from, wamid) in [("111", "wamid.LIVE"), ("222", "wamid.DEAD")] {
        let body = testing::inbound_text(from, "x", wamid);
        wa360::inbox::testing::accept_json(&*a, &body).unwrap();
    }
    let live = a.claim("live", 1).unwrap();
    let dead = a.claim("dead", 1).unwrap();
    let ids = |d: &[wa360::inbox::Delivery]| wa360::inbox::testing::event_ids(d);
    assert_eq!(
        (ids(&live), ids(&dead)),
        (
            vec!["wamid.LIVE".to_string()],
            vec!["wamid.DEAD".to_string()]
        )
    );
    server.signal("-STOP");
    std::thread::sleep(Duration::from_millis(4000));
    server.signal("-CONT");
    // Another machine claims before the live consumer's next renewal.
    let took = b.claim("other", 5).unwrap();
    assert!(
        took.is_empty(),
        "took over {:?} right after the pause",
        ids(&took)
    );
    assert_eq!(
        a.extend("live", &[live[0].id.clone()]).unwrap(),
        1,
        "still held"
    );
    // The dead consumer's event goes to another consumer once the grace is over.
    let until = Instant::now() + Duration::from_secs(8);
    let took = loop {
        let got = b.claim("other", 5).unwrap();
        if !got.is_empty() || Instant::now() > until {
            break got;
        }
        assert_eq!(a.extend("live", &[live[0].id.clone()]).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ids(&took), ["wamid.DEAD"]);
    assert!(
        a.ack("live", &live[0].id).unwrap(),
        "handled once, by the live consumer"
    );
}

/// A worker that claims only now and then (every 1.5 s here, against a 2 s lease: a
/// periodic job) still takes over the event of a worker that died. The first version of
/// the guard above took each of its claims for a stall of Redis and never took it over.
#[test]
fn a_worker_that_claims_now_and_then_takes_over_a_dead_workers_event() {
    let url = format!(
        "{}?name=sparse-{:08x}&lease_ms=2000",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    let body = testing::inbound_text("111", "x", "wamid.SPARSE");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    assert_eq!(inbox.claim("dead", 1).unwrap().len(), 1);
    let t = Instant::now();
    let took = loop {
        std::thread::sleep(Duration::from_millis(1500));
        let got = inbox.claim("periodic", 1).unwrap();
        if !got.is_empty() || t.elapsed() > Duration::from_secs(15) {
            break got;
        }
    };
    assert_eq!(
        wa360::inbox::testing::event_ids(&took),
        ["wamid.SPARSE"],
        "never taken over"
    );
}

/// Redis answers `LOADING` (and runs nothing) to a command that reaches it while it reads
/// its data back after a restart. The first ack in that window failed, the consumer forgot
/// the event, and it ran again after its lease. Now the call waits for the data, within the
/// busy timeout. The window is a race on a real restart, so a proxy gives the acks Redis's
/// own `LOADING` answer three times, as a server loading for a while would.
#[test]
fn an_ack_answered_loading_after_a_restart_waits_for_redis() {
    let server = OwnRedis::start();
    let loading = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let port = loading_proxy(server.port, Arc::clone(&loading));
    let url = format!("redis://127.0.0.1:{port}/0?lease_ms=1000");
    let inbox = inbox::open(&url).unwrap();
    let body = testing::inbound_text("111", "x", "wamid.LOADING");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    let got = inbox.claim("a", 1).unwrap();
    assert_eq!(got.len(), 1);
    loading.store(3, std::sync::atomic::Ordering::SeqCst);
    assert!(inbox.ack("a", &got[0].id).unwrap(), "acknowledged");
    assert_eq!(
        loading.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "answered LOADING"
    );
    std::thread::sleep(Duration::from_millis(1200)); // past the lease
    assert!(
        inbox.claim("b", 1).unwrap().is_empty(),
        "not handed out again"
    );
}

/// A TCP proxy to the Redis at `to` that answers the next `loading` acks (`EVALSHA` with 5
/// arguments: 8 elements) itself with Redis's `LOADING` error, without passing them on.
fn loading_proxy(to: u16, loading: Arc<std::sync::atomic::AtomicUsize>) -> u16 {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let (mut from_server, mut to_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
            let (mut to_server, mut answer) = (server, client.try_clone().unwrap());
            let loading = Arc::clone(&loading);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let ack = buf[..n].starts_with(b"*8\r\n$7\r\nEVALSHA");
                    if ack
                        && loading
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                    {
                        let reply = b"-LOADING Redis is loading the dataset in memory\r\n";
                        if answer.write_all(reply).is_err() {
                            break;
                        }
                        continue;
                    }
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

/// A TCP proxy on 127.0.0.1 that sends each new connection to the port in `target`, as a
/// managed Redis's one DNS name points at whichever node is the primary.
fn switching_proxy(target: Arc<std::sync::atomic::AtomicU16>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let to = target.load(std::sync::atomic::Ordering::SeqCst);
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            for (mut from, mut into) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    port
}

fn redis_cmd(port: u16, args: &[&str]) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let mut c = client.get_connection().unwrap();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<()>(&mut c).unwrap();
}

/// A failover behind one name: the old primary becomes a replica and keeps the inbox's
/// connection open, answering every write with READONLY. The inbox opens a new connection
/// (to the new primary) instead of answering 503 until the process restarts.
#[test]
fn after_a_failover_behind_one_name_the_inbox_writes_to_the_new_primary() {
    let (a, b) = (OwnRedis::start(), OwnRedis::start());
    redis_cmd(b.port, &["REPLICAOF", "127.0.0.1", &a.port.to_string()]);
    let target = Arc::new(std::sync::atomic::AtomicU16::new(a.port));
    let proxy = switching_proxy(Arc::clone(&target));
    let (_inbox, post) = inbox_behind_a_receiver(format!("redis://127.0.0.1:{proxy}/0"));
    assert_eq!(post("wamid.F1").status, 200);
    // The failover: B is promoted, A follows it, the name points at B.
    redis_cmd(b.port, &["REPLICAOF", "NO", "ONE"]);
    redis_cmd(a.port, &["REPLICAOF", "127.0.0.1", &b.port.to_string()]);
    target.store(b.port, std::sync::atomic::Ordering::SeqCst);
    let r = post("wamid.F2");
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert_eq!(post("wamid.F3").status, 200);
}

/// An event blocked behind its conversation is read into the pending list of whichever
/// consumer claimed next (here B, which then got busy with another conversation). When its
/// predecessor is acknowledged elsewhere, it is ready but only B would hand it out, and B
/// claims only when it has room: it waited for a whole lease while A was idle. Now the
/// acknowledgement makes it takeable at once.
#[test]
fn the_next_event_of_a_conversation_is_not_stuck_with_a_busy_consumer() {
    let url = format!(
        "{}?name=pel-{:08x}&lease_ms=30000",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    for (from, wamid) in [
        ("111", "wamid.X1"),
        ("111", "wamid.X2"),
        ("222", "wamid.Y1"),
    ] {
        let body = testing::inbound_text(from, "x", wamid);
        wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    }
    let ids = |d: &[wa360::inbox::Delivery]| wa360::inbox::testing::event_ids(d);
    let x1 = inbox.claim("a", 1).unwrap();
    assert_eq!(ids(&x1), ["wamid.X1"]);
    // B reads X2 (blocked behind X1) on its way to Y1, and is busy with Y1 from then on.
    let mut b = inbox.claim("b", 1).unwrap();
    if b.is_empty() {
        b = inbox.claim("b", 1).unwrap();
    }
    assert_eq!(ids(&b), ["wamid.Y1"]);
    assert!(inbox.ack("a", &x1[0].id).unwrap());
    let x2 = inbox.claim("a", 1).unwrap();
    assert_eq!(
        ids(&x2),
        ["wamid.X2"],
        "handed out at once, not after the 30 s lease"
    );
}

/// `n` events of one conversation (`111`), accepted one delivery each, then claims by `a`
/// until the first is handed out: it is nacked, with the inbox's retry delay.
fn a_conversation_behind_a_retried_head(inbox: &Arc<dyn inbox::Inbox>, n: usize) {
    for i in 0..n {
        let body = testing::inbound_text("111", "x", &format!("wamid.B{i}"));
        wa360::inbox::testing::accept_json(&**inbox, &body).unwrap();
    }
    let head = inbox.claim("a", 100).unwrap();
    assert_eq!(wa360::inbox::testing::event_ids(&head), ["wamid.B0"]);
    assert!(matches!(
        inbox.nack("a", &head[0].id, "downstream down").unwrap(),
        inbox::Nacked::Retry(_)
    ));
}

/// Claims of one event by `a` until one hands something out (at most `tries`, 50 ms apart).
fn next_for_a(inbox: &Arc<dyn inbox::Inbox>, tries: usize) -> Vec<String> {
    for _ in 0..tries {
        let d = inbox.claim("a", 1).unwrap();
        if !d.is_empty() {
            return wa360::inbox::testing::event_ids(&d);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Vec::new()
}

/// A consumer's pending list full of events it cannot hand out yet (one conversation's
/// 1 100 events behind a head whose retry is an hour away) stopped it from reading new
/// work: a new conversation's event waited for that hour. They are parked instead, and a
/// consumer asking for one event at a time reads past them (256 per claim).
#[test]
fn a_backlog_that_is_not_due_never_stops_new_conversations() {
    let url = format!(
        "{}?name=park-{:08x}&lease_ms=30000&retry_base_ms=3600000&retry_max_ms=3600000",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    a_conversation_behind_a_retried_head(&inbox, 1100);
    let body = testing::inbound_text("222", "x", "wamid.NEW");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    assert_eq!(next_for_a(&inbox, 10), ["wamid.NEW"]);
}

/// A retry that has come due, and the event its conversation's head held back once that
/// head is acknowledged, are handed out before a backlog of events not read yet (they
/// came back at the end of the stream, behind every one of them).
#[test]
fn a_due_retry_and_a_woken_event_go_before_the_unread_backlog() {
    let url = format!(
        "{}?name=park-order-{:08x}&lease_ms=30000&retry_base_ms=300&retry_max_ms=300",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    let ids = |d: &[inbox::Delivery]| wa360::inbox::testing::event_ids(d);
    let mut bodies = vec![
        testing::inbound_text("111", "x", "wamid.X1"),
        testing::inbound_text("111", "x", "wamid.X2"),
    ];
    bodies.extend(
        (0..300).map(|i| testing::inbound_text(&format!("9{i:04}"), "x", &format!("wamid.Y{i}"))),
    );
    for b in &bodies {
        wa360::inbox::testing::accept_json(&*inbox, b).unwrap();
    }
    let x1 = inbox.claim("a", 1).unwrap();
    assert_eq!(ids(&x1), ["wamid.X1"]);
    // B reads X2 (behind X1: parked) on its way to Y0.
    assert_eq!(ids(&inbox.claim("b", 1).unwrap()), ["wamid.Y0"]);
    assert!(matches!(
        inbox.nack("a", &x1[0].id, "later").unwrap(),
        inbox::Nacked::Retry(_)
    ));
    std::thread::sleep(Duration::from_millis(400));
    let again = inbox.claim("c", 1).unwrap();
    assert_eq!(
        (ids(&again), again[0].attempt),
        (vec!["wamid.X1".to_string()], 2)
    );
    assert!(inbox.ack("c", &again[0].id).unwrap());
    assert_eq!(ids(&inbox.claim("d", 1).unwrap()), ["wamid.X2"]);
}

/// `n` deliveries of one text each, from `{from}0000`… with ids `{id}0`….
fn accept_texts(inbox: &Arc<dyn inbox::Inbox>, from: &str, id: &str, n: usize) {
    for i in 0..n {
        let b = testing::inbound_text(&format!("{from}{i:04}"), "x", &format!("{id}{i}"));
        wa360::inbox::testing::accept_json(&**inbox, &b).unwrap();
    }
}

/// `n` claims of one event each, by consumers a, b and c in turn: the ids handed out.
fn claims_in_turn(inbox: &Arc<dyn inbox::Inbox>, n: usize) -> Vec<String> {
    let mut handed = Vec::new();
    for k in 0..n {
        let consumer = ["a", "b", "c"][k % 3];
        handed.extend(wa360::inbox::testing::event_ids(
            &inbox.claim(consumer, 1).unwrap(),
        ));
    }
    handed
}

/// A live worker ("keeper") holding one event of its own: renewing it, it keeps the server's
/// claims and renewals without a gap, so no grace holds a takeover back (watch_gap).
fn a_keeper(inbox: &Arc<dyn inbox::Inbox>) -> String {
    let k = testing::inbound_text("60000", "x", "wamid.KEPT");
    wa360::inbox::testing::accept_json(&**inbox, &k).unwrap();
    inbox.claim("keeper", 1).unwrap().remove(0).id
}

/// 1.2 s of the keeper renewing its lease every 200 ms: past a lease of 1 s for the rest.
fn outlive_the_lease(inbox: &Arc<dyn inbox::Inbox>, kept: &str) {
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(inbox.extend("keeper", &[kept.to_string()]).unwrap(), 1);
    }
}

/// An inbox named `name` (a lease of 1 s, and `params`) with a keeper, and worker "a"
/// holding the `n` events `{id}0`… it just claimed: (inbox, the keeper's event, a's events).
fn a_worker_holding(
    name: &str,
    params: &str,
    id: &str,
    n: usize,
) -> (Arc<dyn inbox::Inbox>, String, Vec<wa360::inbox::Delivery>) {
    let url = format!(
        "{}?name={name}-{:08x}&lease_ms=1000{params}",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    let kept = a_keeper(&inbox);
    accept_texts(&inbox, "7", id, n);
    let running = inbox.claim("a", n).unwrap();
    assert_eq!(running.len(), n);
    (inbox, kept, running)
}

/// Retries that come due together go to whichever consumers claim next, one claim's worth
/// each, before any new event: a claim took all that were due into its own pending list,
/// and the other consumers, finding them held there, read new events while they waited
/// for that one consumer.
#[test]
fn due_retries_are_shared_by_the_consumers_that_claim_next() {
    let url = format!(
        "{}?name=park-share-{:08x}&lease_ms=30000&retry_base_ms=300&retry_max_ms=300",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    accept_texts(&inbox, "8", "wamid.R", 10);
    let first = inbox.claim("x", 10).unwrap();
    assert_eq!(first.len(), 10);
    for d in &first {
        assert!(matches!(
            inbox.nack("x", &d.id, "later").unwrap(),
            inbox::Nacked::Retry(_)
        ));
    }
    accept_texts(&inbox, "9", "wamid.N", 50);
    std::thread::sleep(Duration::from_millis(400));
    let handed = claims_in_turn(&inbox, 10);
    assert!(
        handed.iter().all(|id| id.starts_with("wamid.R")),
        "{handed:?}"
    );
    assert_eq!(handed.len(), 10);
}

/// A dead worker's events go to whichever consumers claim next, one claim's worth each,
/// before any new event: the first claim took them all over (up to 100) and handed out its
/// own share, and the others, finding the rest held there, read new events meanwhile. With
/// exactly 100 and a live worker's event after them, the takeover's scan stopped past them:
/// the next claims read new events until it came round again.
#[test]
fn a_dead_workers_events_are_shared_by_the_consumers_that_claim_next() {
    let url = format!(
        "{}?name=park-dead-share-{:08x}&lease_ms=1000",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    accept_texts(&inbox, "7", "wamid.D", 100);
    assert_eq!(inbox.claim("dead", 100).unwrap().len(), 100);
    let kept = a_keeper(&inbox);
    accept_texts(&inbox, "9", "wamid.N", 50);
    outlive_the_lease(&inbox, &kept);
    let handed = claims_in_turn(&inbox, 12);
    assert!(
        handed.iter().all(|id| id.starts_with("wamid.D")),
        "{handed:?}"
    );
    assert_eq!(handed.len(), 12);
}

/// A dead worker's events are shared also when one consumer claims twice in a row: its
/// second claim took back, as its own, what its first had made idle for the others, and
/// they then waited for it alone while the others read new events.
#[test]
fn a_dead_workers_events_stay_shared_when_one_consumer_claims_twice() {
    let url = format!(
        "{}?name=park-dead-twice-{:08x}&lease_ms=1000",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    accept_texts(&inbox, "7", "wamid.D", 10);
    assert_eq!(inbox.claim("dead", 10).unwrap().len(), 10);
    let kept = a_keeper(&inbox);
    accept_texts(&inbox, "9", "wamid.N", 10);
    outlive_the_lease(&inbox, &kept);
    let mut handed = Vec::new();
    for consumer in ["a", "a", "b", "c"] {
        handed.extend(wa360::inbox::testing::event_ids(
            &inbox.claim(consumer, 1).unwrap(),
        ));
    }
    assert!(
        handed.iter().all(|id| id.starts_with("wamid.D")),
        "{handed:?}"
    );
    assert_eq!(handed.len(), 4);
}

/// A worker whose renewals failed for a lease while its handlers ran (cut off from Redis,
/// or frozen) claims first when it is back, one event at a time: it takes its own events
/// back, and the ones it does not hand out again stay its own, through its next claims too.
/// They were made idle for the next claim (at the first claim, then at the second), and
/// another worker ran them while this one still was.
#[test]
fn a_worker_back_after_its_leases_ran_out_keeps_the_events_it_is_running() {
    let (inbox, kept, running) = a_worker_holding("own-expired", "", "wamid.A", 3);
    accept_texts(&inbox, "9", "wamid.N", 3);
    outlive_the_lease(&inbox, &kept);
    let ids = |d: Vec<wa360::inbox::Delivery>| wa360::inbox::testing::event_ids(&d);
    assert_eq!(ids(inbox.claim("a", 1).unwrap()), ["wamid.A0"]);
    assert_eq!(ids(inbox.claim("a", 1).unwrap()), ["wamid.A1"]);
    let other = ids(inbox.claim("b", 1).unwrap());
    assert_eq!(other, ["wamid.N0"], "b took an event a is running");
    let all: Vec<String> = running.iter().map(|d| d.id.clone()).collect();
    assert_eq!(inbox.extend("a", &all).unwrap(), 3);
    // The call that ran the one not handed out again finishes: its ack is taken (refused,
    // the event ran again after it), and the counts stay right.
    assert!(inbox.ack("a", &running[2].id).unwrap());
    let stats = inbox.stats().unwrap();
    assert_eq!((stats.in_flight, stats.handled), (4, 1), "{stats:?}");
}

/// A worker back after its leases ran out, with calls still running events its claim took
/// back and did not hand out again: one call fails, another gives its event back. The
/// failure is kept (its retry waits its delay; refused as not held, the next claim handed
/// the event out again at once) and the event given back goes to the next claim of any
/// worker (refused, it waited for this one).
#[test]
fn a_worker_back_after_its_leases_ran_out_can_nack_or_release_the_events_it_is_running() {
    let (inbox, kept, running) = a_worker_holding(
        "own-expired-settle",
        "&retry_base_ms=3600000&retry_max_ms=3600000",
        "wamid.A",
        3,
    );
    outlive_the_lease(&inbox, &kept);
    let ids = |d: Vec<wa360::inbox::Delivery>| wa360::inbox::testing::event_ids(&d);
    assert_eq!(ids(inbox.claim("a", 1).unwrap()), ["wamid.A0"]);
    assert!(matches!(
        inbox.nack("a", &running[2].id, "failed").unwrap(),
        inbox::Nacked::Retry(_)
    ));
    assert!(inbox.release("a", &running[1].id).unwrap());
    assert_eq!(ids(inbox.claim("b", 5).unwrap()), ["wamid.A1"]);
    assert!(inbox.claim("a", 5).unwrap().is_empty(), "retried at once");
    let stats = inbox.stats().unwrap();
    // The keeper's, A0 (a) and A1 (b); A2 waits for its retry.
    assert_eq!(stats.in_flight, 3, "{stats:?}");
}

/// A worker back after its lease ran out on an event's last attempt, while its call still
/// ran: its claim took the event back and sent it to the dead letters ("the consumer
/// stopped while handling it"), and the call's ack was refused; with attempts left, the
/// attempt was counted again, and the call's nack found them spent a run early. Taken back,
/// the event is handed out again as the same attempt, and the running call settles it.
#[test]
fn a_worker_back_after_its_lease_ran_out_on_the_last_attempt_still_settles_the_event() {
    for max_attempts in [1, 2] {
        let params = format!("&max_attempts={max_attempts}");
        let (inbox, kept, running) = a_worker_holding("own-expired-last", &params, "wamid.L", 1);
        assert_eq!(running[0].attempt, 1);
        outlive_the_lease(&inbox, &kept);
        let again = inbox.claim("a", 1).unwrap();
        assert_eq!(
            (wa360::inbox::testing::event_ids(&again), again[0].attempt),
            (vec!["wamid.L0".to_string()], 1),
            "max_attempts {max_attempts}"
        );
        if max_attempts == 1 {
            assert!(inbox.ack("a", &running[0].id).unwrap());
            assert_eq!(inbox.stats().unwrap().dead, 0);
        } else {
            assert!(matches!(
                inbox.nack("a", &running[0].id, "failed").unwrap(),
                inbox::Nacked::Retry(_)
            ));
        }
    }
}

/// A consumer name used again after a restart (the `Inbox` API takes any name; the bindings'
/// consumers make a new one per process), with a handler that crashes the process: each
/// restart's claim took the event back as its own and handed it out as the same attempt, and
/// it never reached the dead letters. The same attempt is handed out again once; the next
/// take-back counts.
#[test]
fn an_event_taken_back_by_a_name_used_again_still_reaches_the_dead_letters() {
    let (inbox, kept, running) =
        a_worker_holding("own-expired-reused", "&max_attempts=1", "wamid.P", 1);
    assert_eq!(running[0].attempt, 1);
    outlive_the_lease(&inbox, &kept);
    let again = inbox.claim("a", 1).unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 1), "taken back");
    outlive_the_lease(&inbox, &kept);
    assert!(inbox.claim("a", 1).unwrap().is_empty(), "taken back again");
    assert_eq!(inbox.stats().unwrap().dead, 1);
}

/// The once-per-attempt mark of a take-back belongs to that attempt: a worker whose lease
/// lapsed once (its event taken back, the same attempt) then closed, giving the event back
/// (which lowers its attempts); the next worker's single lapse on that event found the mark
/// at its attempt's number, counted, and on the last attempt dead-lettered the event its
/// call was running.
#[test]
fn a_take_back_after_the_event_was_given_back_is_the_same_attempt_again() {
    let (inbox, kept, running) =
        a_worker_holding("own-expired-given-back", "&max_attempts=1", "wamid.G", 1);
    outlive_the_lease(&inbox, &kept);
    assert_eq!(inbox.claim("a", 1).unwrap()[0].attempt, 1, "taken back");
    assert!(inbox.release("a", &running[0].id).unwrap());
    let b = inbox.claim("b", 1).unwrap();
    assert_eq!(b[0].attempt, 1);
    outlive_the_lease(&inbox, &kept);
    assert_eq!(inbox.claim("b", 1).unwrap()[0].attempt, 1, "b's take-back");
    assert!(inbox.ack("b", &b[0].id).unwrap());
    assert_eq!(inbox.stats().unwrap().dead, 0);
}

/// A worker that died holding an event: its lease runs out and a live worker takes it at
/// once, however many events are parked (they are out of the pending list that
/// `XAUTOCLAIM` walks).
#[test]
fn a_dead_workers_event_is_taken_over_past_a_parked_backlog() {
    let url = format!(
        "{}?name=park-dead-{:08x}&lease_ms=1000&retry_base_ms=3600000&retry_max_ms=3600000",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    let body = testing::inbound_text("333", "x", "wamid.HELD");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    let held = inbox.claim("dead", 1).unwrap();
    assert_eq!(wa360::inbox::testing::event_ids(&held), ["wamid.HELD"]);
    a_conversation_behind_a_retried_head(&inbox, 3000);
    let started = Instant::now();
    let mut got = Vec::new();
    // Within ten leases: walking a pending list that held the parked events, 100 at a
    // time, took about a lease per 100 claims' worth of them.
    while got.is_empty() && started.elapsed() < Duration::from_secs(10) {
        got = inbox.claim("a", 1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(wa360::inbox::testing::event_ids(&got), ["wamid.HELD"]);
    assert_eq!(got[0].attempt, 2);
}

/// Parked events come back when due: the retried head once its retry time comes (not a
/// lease later), the next of its conversation as soon as the head is acknowledged.
#[test]
fn parked_events_are_handed_out_when_due() {
    let url = format!(
        "{}?name=park-due-{:08x}&lease_ms=30000&retry_base_ms=1500&retry_max_ms=1500",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    a_conversation_behind_a_retried_head(&inbox, 1100);
    let started = Instant::now();
    let mut again = Vec::new();
    while again.is_empty() && started.elapsed() < Duration::from_secs(10) {
        let d = inbox.claim("a", 100).unwrap();
        again = d;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(wa360::inbox::testing::event_ids(&again), ["wamid.B0"]);
    assert_eq!(again[0].attempt, 2);
    assert!(inbox.ack("a", &again[0].id).unwrap());
    assert_eq!(next_for_a(&inbox, 10), ["wamid.B1"]);
}

/// A consumer that closes while an event it nacked waits for its retry (it holds nothing,
/// so nothing is released) no longer keeps that event in its pending list for a whole
/// lease: closing gives back what it read and is not handling.
#[test]
fn closing_gives_back_what_the_consumer_read_and_is_not_handling() {
    let url = format!(
        "{}?name=close-{:08x}&lease_ms=30000&retry_base_ms=100",
        redis_url(),
        fastrand::u32(..)
    );
    let inbox = inbox::open(&url).unwrap();
    let body = testing::inbound_text("111", "x", "wamid.C1");
    wa360::inbox::testing::accept_json(&*inbox, &body).unwrap();
    let b = inbox::Consumer::new(Arc::clone(&inbox));
    let got = b.next(1, Duration::from_secs(2)).unwrap();
    assert_eq!(got.len(), 1);
    b.nack(&got[0].id, "try later").unwrap();
    assert_eq!(b.close().unwrap(), 0, "nothing held");
    let a = inbox::Consumer::new(Arc::clone(&inbox));
    let again = a.next(1, Duration::from_secs(5)).unwrap();
    assert_eq!(wa360::inbox::testing::event_ids(&again), ["wamid.C1"]);
    assert_eq!(again[0].attempt, 2);
}

/// `open_existing` (what `wa360 inbox` uses) refuses an inbox that does not exist (a
/// mistyped db or `name=`) without creating it, instead of showing an empty one.
#[test]
fn open_existing_refuses_a_missing_inbox_and_creates_nothing() {
    let name = format!("exists-{:08x}", fastrand::u32(..));
    let url = format!("{}?name={name}", redis_url());
    let Err(e) = inbox::open_existing(&url) else {
        panic!("opened a missing inbox")
    };
    assert_eq!(e.code(), wa360::ErrorCode::InvalidArgument, "{e}");
    assert!(e.to_string().contains(&format!("no inbox `{name}`")), "{e}");
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{name}}}*"))
        .query(&mut c)
        .unwrap();
    assert!(keys.is_empty(), "created {keys:?}");
    drop(inbox::open(&url).unwrap());
    assert!(inbox::open_existing(&url).is_ok());
}

/// An entry whose stored body is gone (or no longer parses, after a downgrade) failed every
/// claim that included it, with the attempt given back: never dead-lettered, its
/// conversation stuck for good. It goes to the dead letters alone, with the reason, and the
/// conversation's next event is handed out; the listing of dead letters leaves it out
/// instead of failing.
#[test]
fn an_unreadable_entry_is_dead_lettered_alone_and_its_conversation_goes_on() {
    let (_, inbox, _) = first_body_lost(&[("111", "wamid.GONE"), ("111", "wamid.NEXT")]);
    let consumer = inbox::Consumer::new(Arc::clone(&inbox));
    let got = first_handed_out(&consumer);
    assert_eq!(wa360::inbox::testing::event_ids(&got), ["wamid.NEXT"]);
    let stats = inbox.stats().unwrap();
    assert_eq!(stats.dead, 1, "{stats:?}");
    assert!(
        inbox.dead(10).unwrap().is_empty(),
        "left out of the listing"
    );
}

/// The claim script leases every row it returns; a dead-letter write that Redis refuses
/// afterwards fails the claim. The consumer gives back at its next claim whatever the
/// failed one may have leased (no attempt counted), so the readable event taken with the
/// unreadable one is handed out once Redis takes writes again, not a 30 s lease later.
#[test]
fn a_refused_dead_letter_write_strands_nothing_behind_a_consumer() {
    let (name, inbox, mut c) = first_body_lost(&[("111", "wamid.GONE"), ("222", "wamid.OK")]);
    // The dead-letter stream replaced by a string: Redis refuses the write (WRONGTYPE).
    let dead = format!("{{{name}}}:dead");
    let _: () = redis::cmd("SET").arg(&dead).arg("x").query(&mut c).unwrap();
    let consumer = inbox::Consumer::new(Arc::clone(&inbox));
    assert!(consumer.next(10, Duration::from_millis(200)).is_err());
    let _: () = redis::cmd("DEL").arg(&dead).query(&mut c).unwrap();
    let got = first_handed_out(&consumer);
    assert_eq!(wa360::inbox::testing::event_ids(&got), ["wamid.OK"]);
    assert_eq!(got[0].attempt, 1, "the given-back claim counted an attempt");
}

/// The first non-empty batch `consumer` hands out within 10 s (empty if none came).
fn first_handed_out(consumer: &inbox::Consumer) -> Vec<inbox::Delivery> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = consumer.next(10, Duration::from_millis(200)).unwrap();
        if !got.is_empty() || Instant::now() >= deadline {
            return got;
        }
    }
}

/// A new inbox with `events` (from, wamid) stored, one delivery each, and the first
/// delivery's body (the first body id) removed under it. Returns its name, the inbox and a
/// connection to the server.
fn first_body_lost(events: &[(&str, &str)]) -> (String, Arc<dyn inbox::Inbox>, redis::Connection) {
    let name = format!("t{}-{:08x}", std::process::id(), fastrand::u32(..));
    let inbox = inbox::open(&format!("{}?name={name}", redis_url())).unwrap();
    for (from, wamid) in events {
        let body = testing::inbound_text(from, "x", wamid).to_string();
        assert_eq!(accept_body(&inbox, body.as_bytes()), 1);
    }
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_connection().unwrap();
    let removed: i64 = redis::cmd("DEL")
        .arg(format!("{{{name}}}:b:1"))
        .query(&mut c)
        .unwrap();
    assert_eq!(removed, 1);
    (name, inbox, c)
}

/// Store one delivery body in `inbox` as the receiver does; returns how many events were new.
fn accept_body(inbox: &Arc<dyn inbox::Inbox>, body: &[u8]) -> usize {
    use wa360::webhook::{Receiver, ReceiverConfig};
    let receiver = Receiver::new(ReceiverConfig {
        inbox: Some(Arc::clone(inbox)),
        ..ReceiverConfig::default()
    });
    let reply = receiver.handle::<&str, &str>("POST", "", &[], body);
    assert_eq!(reply.status, 200, "{:?}", reply.error);
    reply.events.len()
}
