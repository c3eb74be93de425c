//! Broadcasts over real HTTP against the sandbox, with a real SQLite ledger and status
//! webhooks delivered to a real receiver that feeds the ledger.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use wa360::broadcast::{BroadcastOptions, Campaign, Ledger, RecipientState, Summary};
use wa360::client::Client;
use wa360::governor::GovernorConfig;
use wa360_sandbox::{Fault, FaultRule, Limits, Sandbox};

mod common;
use common::{client_builder, scaled};
// A redis-server of the test's own, shared with the core's tests.
#[path = "../../core/tests/common/redis_server.rs"]
mod redis_server;
use redis_server::OwnRedis;

fn csv(n: usize) -> String {
    let mut s = String::from("to,name,order\n");
    for i in 0..n {
        s.push_str(&format!("+1 555 800 {i:04},Name{i},A-{i}\n"));
    }
    s
}

/// A client whose governor sends `rate` messages/s and paces no recipient pair.
fn client_at(sb: &Sandbox, rate: f64) -> Client {
    let governor = GovernorConfig::default()
        .messages_per_second(rate)
        .pair_rate(None, 1);
    client_builder(sb).governor(governor).build().unwrap()
}

fn client(sb: &Sandbox) -> Client {
    client_at(sb, 200.0)
}

/// The campaign `order_update`/`en_US` to `n` recipients.
fn campaign(n: usize) -> Campaign {
    Campaign::from_csv("order_update", "en_US", &csv(n)).unwrap()
}

/// A sandbox at time scale 0.01 whose status webhooks feed the ledger `name` of a
/// campaign to `n` recipients.
async fn hooked_to_ledger(name: &str, n: usize) -> (Sandbox, Campaign, Ledger) {
    let sb = scaled(0.01).await;
    let campaign = campaign(n);
    let ledger = Ledger::open(temp_ledger(name), &campaign).unwrap();
    let url = receiver(ledger.clone()).await;
    sb.control()
        .register_webhook(false, &url, &BTreeMap::new())
        .unwrap();
    (sb, campaign, ledger)
}

/// The campaign run with one send at a time and the quiet window `unknown_window` for
/// sends whose outcome is unknown (well within 120 s).
async fn one_at_a_time(
    sb: &Sandbox,
    campaign: &Campaign,
    ledger: &Ledger,
    unknown_window: Duration,
) -> Summary {
    let opts = BroadcastOptions {
        concurrency: 1,
        unknown_window,
        ..BroadcastOptions::default()
    };
    tokio::time::timeout(
        Duration::from_secs(120),
        client(sb).broadcast(campaign, ledger, opts),
    )
    .await
    .expect("the run ends well within its time")
    .unwrap()
}

/// A campaign to `n` recipients run one send at a time (see [`one_at_a_time`]) while its
/// first `times` sends meet `fault`: it completes with every recipient accepted once.
async fn run_with_faults(
    name: &str,
    n: usize,
    fault: Fault,
    times: u32,
    unknown_window: Duration,
) -> (Sandbox, Ledger, Summary) {
    let (sb, campaign, ledger) = hooked_to_ledger(name, n).await;
    sb.add_fault(FaultRule::new("POST", "/messages", fault).times(times));
    let s = one_at_a_time(&sb, &campaign, &ledger, unknown_window).await;
    assert!(s.complete, "{s:?}");
    each_accepted_once(&sb, n);
    (sb, ledger, s)
}

/// Every one of the `n` recipients was accepted exactly once by the sandbox.
fn each_accepted_once(sb: &Sandbox, n: usize) {
    let per = accepted_per_recipient(sb);
    assert_eq!(per.len(), n);
    assert!(per.values().all(|&n| n == 1), "resent: {per:?}");
}

fn temp_ledger(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wa360-bc-{}-{}-{}",
        name,
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("ledger.db")
}

/// A webhook receiver that feeds every status into the ledger (503 when it cannot).
async fn receiver(ledger: Ledger) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let ledger = ledger.clone();
            async move {
                match ledger.apply_webhook(&body) {
                    Ok(_) => StatusCode::OK,
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

fn accepted_per_recipient(sb: &Sandbox) -> BTreeMap<String, u64> {
    sb.control()
        .recipient_counts()
        .into_iter()
        .map(|(k, v)| (k, v.accepted))
        .collect()
}

#[tokio::test]
async fn broadcast_sends_each_recipient_once_and_a_rerun_sends_nothing() {
    let sb = scaled(0.01).await;
    let campaign = campaign(30);
    let path = temp_ledger("basic");
    let ledger = Ledger::open(&path, &campaign).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let opts = BroadcastOptions {
        progress: Some(Arc::new(move |p: &wa360::broadcast::Progress| {
            seen2.lock().unwrap().push((p.phase, p.counts));
        })),
        ..BroadcastOptions::default()
    };
    let c = client(&sb);
    let s = c.broadcast(&campaign, &ledger, opts).await.unwrap();
    assert!(s.complete);
    assert_eq!(s.counts.accepted, 30);
    assert_eq!(s.accepted_this_run, 30);
    each_accepted_once(&sb, 30);
    // The wire body: template, parameters in CSV order, the recipient's key.
    let req = sb
        .requests()
        .into_iter()
        .find(|r| r.body["to"] == "15558000007")
        .unwrap();
    assert_eq!(req.body["template"]["name"], "order_update");
    assert_eq!(
        req.body["template"]["components"][0]["parameters"][1]["text"],
        "A-7"
    );
    assert_eq!(
        req.body["biz_opaque_callback_data"],
        ledger.key_for("15558000007")
    );
    // Progress ended with a "done" call, and the summary is in the ledger.
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!(last.0, "done");
    assert_eq!(last.1.accepted, 30);
    assert_eq!(ledger.summary().unwrap().unwrap()["counts"]["accepted"], 30);

    // Rerun: nothing left to send.
    let ledger = Ledger::open(&path, &campaign).unwrap();
    let s = c
        .broadcast(&campaign, &ledger, BroadcastOptions::default())
        .await
        .unwrap();
    assert_eq!(s.accepted_this_run, 0);
    assert!(accepted_per_recipient(&sb).values().all(|&n| n == 1));

    // A ledger of another campaign is refused.
    let other = Campaign::from_csv("order_update", "de", &csv(30)).unwrap();
    let e = Ledger::open(&path, &other).unwrap_err();
    assert_eq!(e.code(), wa360::ErrorCode::InvalidArgument);
    assert_eq!(e.field(), Some("ledger"));
    assert!(e.to_string().contains("another campaign"), "{e}");
    // The refusal says what a new ledger would mean: the 30 sent here would be sent again.
    assert!(
        e.to_string()
            .contains("it records 30 recipients already sent"),
        "{e}"
    );
}

/// Sends whose answer is lost (the sandbox processes them, then resets the connection)
/// end `outcome_unknown`: they are settled by the status webhooks carrying their key, not
/// sent again. The quiet window is long, so only the webhooks can settle them.
#[tokio::test]
async fn outcome_unknown_is_settled_by_status_webhooks_not_resent() {
    // The first 5 sends: processed, answer lost.
    let window = Duration::from_secs(600);
    let (sb, ledger, s) = run_with_faults("unknown", 40, Fault::ResetAfterBody, 5, window).await;
    assert_eq!(s.counts.accepted, 40);
    let reqs = sb.requests();
    assert_eq!(reqs.len(), 40, "one request per recipient, none repeated");
    let lost = reqs
        .iter()
        .filter(|r| {
            r.fault
                .as_ref()
                .is_some_and(|f| f["kind"] == "reset_after_body")
        })
        .count();
    assert_eq!(lost, 5, "five answers were lost");
    // The five settled by webhooks carry the wamid from their status.
    let entries = ledger.entries().unwrap();
    assert!(entries.iter().all(|e| e.state == RecipientState::Accepted));
    assert!(entries.iter().all(|e| e.wamid.is_some() && e.attempts == 1));
}

/// Sends reset before the sandbox read them never happened: no status arrives, so after
/// the quiet window they are sent again, and each recipient still gets exactly one.
#[tokio::test]
async fn unknown_without_any_status_is_sent_again_after_the_window() {
    let window = Duration::from_secs(2);
    let (_sb, ledger, _) = run_with_faults("quiet", 10, Fault::ResetBeforeBody, 3, window).await;
    let entries = ledger.entries().unwrap();
    assert_eq!(entries.iter().filter(|e| e.attempts == 2).count(), 3);
}

/// Stop ends the run after the sends in flight; running again finishes the campaign
/// without sending anyone twice. Pause holds sends until resumed.
#[tokio::test]
async fn stop_then_resume_and_pause() {
    let sb = Sandbox::builder()
        .time_scale(0.01)
        .limits(Limits::none().messages_per_second(50.0))
        .start()
        .await
        .unwrap();
    let campaign = campaign(60);
    let path = temp_ledger("stop");
    let ledger = Ledger::open(&path, &campaign).unwrap();
    let c = client_at(&sb, 50.0);
    let opts = BroadcastOptions::default();
    let ctl = opts.control.clone();
    let stop_at = Arc::new(Mutex::new(false));
    let opts = BroadcastOptions {
        progress: Some(Arc::new(move |p: &wa360::broadcast::Progress| {
            if p.counts.accepted >= 20 && !*stop_at.lock().unwrap() {
                *stop_at.lock().unwrap() = true;
                ctl.stop();
            }
        })),
        progress_interval: Duration::ZERO,
        ..opts
    };
    let s = c.broadcast(&campaign, &ledger, opts).await.unwrap();
    assert!(s.stopped && !s.complete, "{s:?}");
    assert!(s.counts.pending > 0);
    assert_eq!(ledger.run_state().unwrap(), "stopped");

    // Pause from "another process" (the ledger), resume after a moment.
    let ledger2 = Ledger::open_existing(&path).unwrap();
    let opts = BroadcastOptions::default();
    let ctl = opts.control.clone();
    ctl.pause();
    let before = sb.requests().len();
    let c2 = c.clone();
    let camp = campaign.clone();
    let l = ledger.clone();
    let run = tokio::spawn(async move { c2.broadcast(&camp, &l, opts).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sb.requests().len(), before, "paused: nothing sent");
    ctl.resume();
    let s = run.await.unwrap().unwrap();
    assert!(s.complete);
    assert_eq!(ledger2.run_state().unwrap(), "done");
    each_accepted_once(&sb, 60);
}

/// A scheduled broadcast sends nothing before its start time (kept in the ledger).
#[tokio::test]
async fn scheduled_broadcast_waits_for_its_start_time() {
    let sb = scaled(0.01).await;
    let campaign = campaign(3);
    let ledger = Ledger::open(temp_ledger("schedule"), &campaign).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = now_ms + 800;
    let phases = Arc::new(Mutex::new(Vec::new()));
    let p2 = Arc::clone(&phases);
    let opts = BroadcastOptions {
        not_before_ms: Some(at),
        progress: Some(Arc::new(move |p: &wa360::broadcast::Progress| {
            p2.lock().unwrap().push(p.phase)
        })),
        progress_interval: Duration::ZERO,
        ..BroadcastOptions::default()
    };
    let s = client(&sb)
        .broadcast(&campaign, &ledger, opts)
        .await
        .unwrap();
    assert!(s.complete);
    assert_eq!(ledger.not_before().unwrap(), Some(at));
    let first = sb.requests().iter().map(|r| r.at_ms).min().unwrap();
    assert!(first as i64 >= at, "sent {} ms early", at - first as i64);
    assert!(phases.lock().unwrap().contains(&"scheduled"));
}

/// A send while the governor's Redis store is down is refused before any request, and the
/// error says the store cannot be reached (it read "no send slot for recipient … within
/// 5 s (next slot in 1 s)", a pacing refusal that was not one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_while_the_governor_store_is_down_says_so() {
    let sb = scaled(0.01).await;
    let mut redis = OwnRedis::start();
    let store = wa360::governor::open_store(&redis.url()).unwrap();
    let client = client_builder(&sb)
        .governor(GovernorConfig::default().messages_per_second(40.0))
        .governor_store(store)
        .build()
        .unwrap();
    let msg = wa360::messages::Message::text("15558000001", "hi");
    client.send(&msg).await.unwrap();
    redis.kill();
    let e = client.send(&msg).await.unwrap_err();
    assert_eq!(e.code(), wa360::ErrorCode::RateLimited, "{e}");
    assert_eq!(e.status(), None, "{e}");
    assert!(
        e.to_string().contains("governor store cannot be reached"),
        "{e}"
    );
    assert_eq!(
        accepted_per_recipient(&sb).values().sum::<u64>(),
        1,
        "nothing more sent"
    );
}

/// The governor's Redis store goes down for 8 s in the middle of a broadcast, then comes
/// back: the run holds while no send can get a slot, then finishes. No recipient is
/// failed for sends that never went out, and none is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governor_store_outage_holds_the_broadcast_and_fails_no_one() {
    const N: usize = 120;
    let sb = scaled(0.01).await;
    let mut redis = OwnRedis::start();
    let store = wa360::governor::open_store(&redis.url()).unwrap();
    let client = client_builder(&sb)
        .governor(
            GovernorConfig::default()
                .messages_per_second(40.0)
                .pair_rate(None, 1),
        )
        .governor_store(store)
        .build()
        .unwrap();
    let campaign = campaign(N);
    let ledger = Ledger::open(temp_ledger("store-outage"), &campaign).unwrap();
    let run = tokio::spawn({
        let (campaign, ledger) = (campaign.clone(), ledger.clone());
        async move {
            client
                .broadcast(&campaign, &ledger, BroadcastOptions::default())
                .await
        }
    });
    while accepted_per_recipient(&sb).len() < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.kill();
    tokio::time::sleep(Duration::from_secs(8)).await;
    redis.spawn();
    let summary = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run finishes once the store is back")
        .unwrap()
        .unwrap();
    redis.kill();
    assert_eq!(
        (summary.counts.accepted, summary.counts.failed),
        (N as u64, 0),
        "{summary:?}"
    );
    each_accepted_once(&sb, N);
}

/// A client made without a governor still broadcasts at the default pace (80 messages/s
/// per number): against a number limited to 80/s, nothing is refused for throughput.
#[tokio::test]
async fn a_client_without_a_governor_broadcasts_at_the_default_pace() {
    const N: usize = 240;
    let sb = Sandbox::builder()
        .limits(Limits::none().messages_per_second(80.0))
        .start()
        .await
        .unwrap();
    let campaign = campaign(N);
    let ledger = Ledger::open(temp_ledger("default-pace"), &campaign).unwrap();
    let unpaced = client_builder(&sb).build().unwrap();
    let summary = tokio::time::timeout(
        Duration::from_secs(120),
        unpaced.broadcast(&campaign, &ledger, BroadcastOptions::default()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(summary.counts.accepted, N as u64, "{summary:?}");
    assert_eq!(sb.control().limit_counters().throughput_refused, 0);
    each_accepted_once(&sb, N);
}

/// Another handle on the ledger at `path`, once `n` of its rows are in flight.
async fn all_in_flight(path: &std::path::Path, n: u64) -> Ledger {
    let watch = Ledger::open_existing(path).unwrap();
    let t = std::time::Instant::now();
    while watch.counts().unwrap().in_flight < n {
        assert!(t.elapsed() < Duration::from_secs(30), "not all in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    watch
}

/// The write lock of the SQLite file at `path`, taken now and held for `how_long` by a
/// separate connection (standing for another process); join the thread to wait for its end.
fn hold_write_lock(path: &std::path::Path, how_long: Duration) -> std::thread::JoinHandle<()> {
    let locked = path.to_path_buf();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&locked).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        held_tx.send(()).unwrap();
        std::thread::sleep(how_long);
        conn.execute_batch("COMMIT").unwrap();
    });
    held_rx.recv().unwrap();
    locker
}

/// A ledger that cannot be written (another process holds its lock past the 10 s busy
/// timeout) ends the run with an error, but only after the sends in flight: their answers
/// are recorded, instead of the requests being dropped mid-way and their rows left to the
/// quiet window (and a second send).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_error_ends_the_run_after_the_sends_in_flight() {
    let sb = scaled(0.01).await;
    // A run sends one message at a time until one is accepted: the first is answered at
    // once. Every other send is answered after 12 s (real time): still in flight when the
    // run fails.
    sb.add_fault(FaultRule::new("POST", "/messages", Fault::Delay { ms: 0 }).times(1));
    sb.add_fault(FaultRule::new("POST", "/messages", Fault::Delay { ms: 12_000 }).times(4));
    let campaign = campaign(5);
    let path = temp_ledger("locked");
    let ledger = Ledger::open(&path, &campaign).unwrap();
    // More slots than recipients: with every send claimed, the run goes on polling the
    // ledger (and meets the lock) while the sends are in flight.
    let opts = BroadcastOptions {
        concurrency: 8,
        ..BroadcastOptions::default()
    };
    let c = client(&sb);
    let run = tokio::spawn(async move { c.broadcast(&campaign, &ledger, opts).await });
    let watch = all_in_flight(&path, 4).await;
    // Another process's write lock for 11 s.
    let locker = hold_write_lock(&path, Duration::from_secs(11));
    let result = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run ends")
        .unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.code().as_str(), "store", "{err}");
    locker.join().unwrap();
    let counts = watch.counts().unwrap();
    assert_eq!(counts.accepted, 5, "the answers were recorded: {counts:?}");
    each_accepted_once(&sb, 5);
}

/// An answer that arrives while the ledger refuses writes (here another process's write
/// lock held past the 10 s busy timeout) was dropped: the run ended with the store error,
/// the accepted sends stayed in flight, and a resume sent them again after the quiet
/// window. Their records are now tried again until the ledger takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_ledger_refuses_to_record_for_a_while_is_recorded_once_it_can() {
    let sb = scaled(0.01).await;
    // The first send answered at once (a run sends one at a time until one is accepted),
    // the three after it after 2 s (real time): inside the 25 s lock below, which outlasts
    // the busy timeout of the records waiting behind the run's own poll of the ledger.
    sb.add_fault(FaultRule::new("POST", "/messages", Fault::Delay { ms: 0 }).times(1));
    sb.add_fault(FaultRule::new("POST", "/messages", Fault::Delay { ms: 2_000 }).times(3));
    let campaign = campaign(4);
    let path = temp_ledger("refused-mark");
    let ledger = Ledger::open(&path, &campaign).unwrap();
    let opts = BroadcastOptions {
        concurrency: 3,
        ..BroadcastOptions::default()
    };
    let c = client(&sb);
    let run = tokio::spawn(async move { c.broadcast(&campaign, &ledger, opts).await });
    let watch = all_in_flight(&path, 3).await;
    let locker = hold_write_lock(&path, Duration::from_secs(25));
    let _ = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run ends")
        .unwrap();
    locker.join().unwrap();
    let counts = watch.counts().unwrap();
    assert_eq!(counts.accepted, 4, "every answer recorded: {counts:?}");
    each_accepted_once(&sb, 4);
}

/// A stop ends a run at once even when its sends wait long for their governor slots (here
/// up to 28 s at one send every 4 s): the waits are withdrawn, not slept out, so a process
/// told to stop (Ctrl-C, SIGTERM under a 10 s container grace) exits in time, and its
/// rows go back to pending instead of waiting out the quiet window after a SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_does_not_wait_for_the_queued_governor_slots() {
    let sb = scaled(0.01).await;
    let campaign = campaign(8);
    let ledger = Ledger::open(temp_ledger("slow-stop"), &campaign).unwrap();
    let governor = GovernorConfig::default()
        .messages_per_second(0.25)
        .burst(1)
        .pair_rate(None, 1);
    let c = client_builder(&sb).governor(governor).build().unwrap();
    let opts = BroadcastOptions {
        concurrency: 8,
        ..BroadcastOptions::default()
    };
    let ctl = opts.control.clone();
    let l = ledger.clone();
    let run = tokio::spawn(async move { c.broadcast(&campaign, &l, opts).await });
    tokio::time::sleep(Duration::from_millis(800)).await;
    ctl.stop();
    let s = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ends within seconds of the stop, not after its queued slots")
        .unwrap()
        .unwrap();
    assert!(s.stopped, "{s:?}");
    let counts = ledger.counts().unwrap();
    assert_eq!(counts.accepted + counts.pending, 8, "{counts:?}");
    assert_eq!(counts.in_flight + counts.unknown, 0, "{counts:?}");
}

/// A pause or a stop holds the sends already claimed and waiting for a governor slot: at
/// 2 msg/s with 8 sends claimed at once (of 16, so that neither phase can finish the
/// campaign before its brake now that withdrawn sends give their slots back), none of
/// them goes out after the pause (from the
/// ledger, as another process would) or the run's own stop, beyond the one already under
/// way. The withdrawn rows go back to pending without an attempt and are each sent once
/// after the resume.
#[tokio::test]
async fn a_pause_or_stop_holds_the_sends_waiting_for_a_slot() {
    let sb = scaled(0.01).await;
    let campaign = campaign(16);
    let path = temp_ledger("brake");
    let ledger = Ledger::open(&path, &campaign).unwrap();
    let governor = GovernorConfig::default()
        .messages_per_second(2.0)
        .burst(1)
        .pair_rate(None, 1);
    let c = client_builder(&sb).governor(governor).build().unwrap();
    let sent = |sb: &Sandbox| {
        sb.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/messages")
            .count()
    };
    let opts = || BroadcastOptions {
        concurrency: 8,
        ..BroadcastOptions::default()
    };
    for how in ["pause", "stop"] {
        let before = sent(&sb);
        let o = opts();
        let ctl = o.control.clone();
        let (c2, camp, l) = (c.clone(), campaign.clone(), ledger.clone());
        let run = tokio::spawn(async move { c2.broadcast(&camp, &l, o).await });
        tokio::time::sleep(Duration::from_millis(1200)).await;
        if how == "pause" {
            Ledger::open_existing(&path).unwrap().pause().unwrap();
            // The run sees the ledger's pause within its poll.
            tokio::time::sleep(Duration::from_millis(400)).await;
        } else {
            ctl.stop();
        }
        let at_brake = sent(&sb);
        assert!(at_brake > before, "{how}: something was sent first");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            sent(&sb) <= at_brake + 1,
            "{how}: {} sends after the brake",
            sent(&sb) - at_brake
        );
        if how == "pause" {
            Ledger::open_existing(&path).unwrap().resume().unwrap();
            // Held by the pause, not ended: resumed, it sends some more.
            tokio::time::sleep(Duration::from_millis(600)).await;
            ledger.pause().unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
            ledger.stop().unwrap();
        }
        let s = run.await.unwrap().unwrap();
        assert!(s.stopped, "{how}: {s:?}");
        let attempts: Vec<u32> = ledger
            .entries()
            .unwrap()
            .iter()
            .filter(|e| e.state == RecipientState::Pending)
            .map(|e| e.attempts)
            .collect();
        assert!(attempts.iter().all(|&a| a == 0), "{how}: {attempts:?}");
    }
    ledger.resume().unwrap();
    let s = c.broadcast(&campaign, &ledger, opts()).await.unwrap();
    assert!(s.complete, "{s:?}");
    each_accepted_once(&sb, 16);
}

/// An outage longer than `max_outage` (here the API unreachable: nothing listens at the
/// base URL) ends the run with a `connection` error and leaves every recipient pending:
/// the sends never went out, so no attempt was counted. Those attempts used to count once
/// the outage passed 10 minutes, and every recipient left was failed, for good, within
/// seconds: a run after the outage sent nothing. Here the next run sends each one once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_max_outage_ends_the_run_and_fails_no_one() {
    const N: usize = 6;
    // Port 1: outside the range the system hands out, so no other test's server takes it
    // (a port bound and let go could be, and the sends would reach that server).
    let nowhere = "http://127.0.0.1:1";
    let campaign = campaign(N);
    let ledger = Ledger::open(temp_ledger("outage"), &campaign).unwrap();
    let unreachable = Client::builder()
        .base_url(nowhere)
        .api_key("test-key")
        .governor(GovernorConfig::default().pair_rate(None, 1))
        .build()
        .unwrap();
    let opts = BroadcastOptions {
        concurrency: 2,
        max_attempts: 1,
        max_outage: Duration::from_secs(2),
        ..BroadcastOptions::default()
    };
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        unreachable.broadcast(&campaign, &ledger, opts),
    )
    .await
    .expect("the run ends")
    .unwrap_err();
    assert_eq!(err.code().as_str(), "connection", "{err}");
    let counts = ledger.counts().unwrap();
    assert_eq!((counts.pending, counts.failed), (N as u64, 0), "{counts:?}");
    // The API is back: the next run sends every recipient, once.
    let sb = scaled(0.01).await;
    let opts = BroadcastOptions {
        max_attempts: 1,
        ..BroadcastOptions::default()
    };
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        client(&sb).broadcast(&campaign, &ledger, opts),
    )
    .await
    .expect("the run ends")
    .unwrap();
    assert!(summary.complete, "{summary:?}");
    each_accepted_once(&sb, N);
}
