//! `wa360 broadcast` as a real process: kill -9 halfway, rerun, and every recipient has
//! exactly one accepted message; two processes on one ledger, likewise; bad CSVs are
//! refused before anything is sent.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wa360::broadcast::{Ledger, RecipientState};
use wa360_sandbox::{BlockingSandbox, Limits, Sandbox};

mod common;
use common::{against as bin, spawn_with_stdin, words};

/// Status webhooks of `sb` go to `http://127.0.0.1:<port><path>`.
fn hooks_to(sb: &BlockingSandbox, port: u16, path: &str) {
    let url = format!("http://127.0.0.1:{port}{path}");
    sb.control()
        .register_webhook(false, &url, &BTreeMap::new())
        .unwrap();
}

/// A sandbox at time scale 0.01 with `limits`.
fn scaled_sandbox(limits: Limits) -> BlockingSandbox {
    Sandbox::builder()
        .time_scale(0.01)
        .limits(limits)
        .start_blocking()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wa360-cli-bc-{name}-{}-{}",
        std::process::id(),
        fastrand_u32()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fastrand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

fn write_csv(dir: &std::path::Path, n: usize) -> PathBuf {
    let mut s = String::from("to,name\n");
    for i in 0..n {
        s.push_str(&format!("+1 555 900 {i:04},Name {i}\n"));
    }
    let p = dir.join("recipients.csv");
    std::fs::write(&p, s).unwrap();
    p
}

/// A sandbox without limits (time scale 0.01), and in a new directory a recipients file of
/// `n` rows and the path of a ledger file not made yet.
fn unlimited_campaign(name: &str, n: usize) -> (BlockingSandbox, PathBuf, PathBuf) {
    let sb = scaled_sandbox(Limits::none());
    let dir = temp_dir(name);
    let csv = write_csv(&dir, n);
    (sb, csv, dir.join("ledger.db"))
}

/// `wa360 broadcast` of the template `order_update` to `csv` on the ledger file `ledger`,
/// against `sb`, with the options `extra` (shell-quoted), output unseen.
fn broadcast_cmd(
    sb: &BlockingSandbox,
    csv: &std::path::Path,
    ledger: &std::path::Path,
    extra: &str,
) -> Command {
    let mut c = bin(sb);
    c.args(words(
        "broadcast --template order_update --lang en_US --no-progress",
    ))
    .arg("--recipients")
    .arg(csv)
    .arg("--ledger")
    .arg(format!("sqlite://{}", ledger.display()))
    .args(words(extra));
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the sandbox has accepted at least `n` messages.
fn wait_accepted(sb: &BlockingSandbox, n: u64) {
    let start = Instant::now();
    while sb.control().limit_counters().accepted < n {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `wa360 broadcast` (see [`broadcast_cmd`]) started in the background, output kept.
fn spawn_broadcast(
    sb: &BlockingSandbox,
    csv: &std::path::Path,
    ledger: &std::path::Path,
    extra: &str,
) -> std::process::Child {
    broadcast_cmd(sb, csv, ledger, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The sandbox's log: each of the `n` recipients got exactly one accepted message.
fn each_accepted_once(sb: &BlockingSandbox, n: usize) {
    let counts = sb.control().recipient_counts();
    assert_eq!(counts.len(), n);
    let twice: Vec<_> = counts.iter().filter(|(_, c)| c.accepted != 1).collect();
    assert!(twice.is_empty(), "not exactly once: {twice:?}");
}

#[test]
fn kill_9_halfway_then_rerun_sends_everyone_exactly_once() {
    const N: usize = 200;
    let sb = scaled_sandbox(Limits::none().messages_per_second(40.0));
    let port = free_port();
    hooks_to(&sb, port, "/webhook");
    let dir = temp_dir("kill");
    let csv = write_csv(&dir, N);
    let ledger = dir.join("ledger.db");
    let args = format!("--mps 40 --pair-interval 0 --unknown-window 8 --listen 127.0.0.1:{port}");

    let mut child = broadcast_cmd(&sb, &csv, &ledger, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while sb.control().limit_counters().accepted < (N as u64) * 2 / 5 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the broadcast did not progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the broadcast ended early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = sb.control().limit_counters().accepted;
    assert!(
        after_kill < N as u64,
        "killed before the end ({after_kill})"
    );

    let out = broadcast_cmd(&sb, &csv, &ledger, &args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rerun failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("accepted {N}, failed 0")),
        "{stdout}"
    );

    // The sandbox's log: every recipient exactly one accepted message.
    each_accepted_once(&sb, N);

    // The ledger agrees: every recipient accepted, with the wamid its status webhooks carry.
    let mut wamid_by_key: HashMap<String, String> = HashMap::new();
    for d in sb.control().deliveries() {
        if d.kind != "status:sent" {
            continue;
        }
        let s = &d.body["entry"][0]["changes"][0]["value"]["statuses"][0];
        if let (Some(k), Some(id)) = (s["biz_opaque_callback_data"].as_str(), s["id"].as_str()) {
            wamid_by_key.insert(k.to_string(), id.to_string());
        }
    }
    let l = Ledger::open_existing(&ledger).unwrap();
    let entries = l.entries().unwrap();
    assert_eq!(entries.len(), N);
    for e in &entries {
        assert_eq!(e.state, RecipientState::Accepted, "{e:?}");
        let key = l.key_for(&e.to);
        assert_eq!(e.wamid.as_ref(), wamid_by_key.get(&key), "{e:?}");
    }
}

/// A run stalled past its rows' leases (SIGSTOP: Ctrl-Z, a frozen container or VM) while
/// they waited for their send slots: another run takes those rows once their quiet window
/// has passed and sends them; the stalled run, continued, withdraws its sends of them
/// instead of sending them a second time.
#[test]
fn a_run_stalled_past_its_leases_does_not_send_what_another_run_sent() {
    const N: usize = 40;
    let (sb, csv, ledger) = unlimited_campaign("stall", N);
    // One send a second: most of its 16 claimed rows wait for their slots.
    let stalled = spawn_broadcast(
        &sb,
        &csv,
        &ledger,
        "--mps 1 --pair-interval 0 --unknown-window 3",
    );
    wait_accepted(&sb, 2);
    // Stopped outside a write of the ledger: one stopped inside it would hold every other
    // process off (as SQLite does), and the other run would fail on its busy timeout.
    loop {
        signal(&stalled, "-STOP");
        let c = rusqlite::Connection::open(&ledger).unwrap();
        c.busy_timeout(Duration::from_millis(300)).unwrap();
        if c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok() {
            break;
        }
        signal(&stalled, "-CONT");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Past the 10 s lease of the rows it claimed.
    std::thread::sleep(Duration::from_secs(12));
    let other = broadcast_cmd(&sb, &csv, &ledger, "--pair-interval 0 --unknown-window 3")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&other.stdout);
    signal(&stalled, "-CONT");
    assert!(
        other.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&other.stderr)
    );
    assert!(text.contains(&format!("accepted {N}, failed 0")), "{text}");
    let out = stalled.wait_with_output().unwrap();
    each_accepted_once(&sb, N);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two `wa360 broadcast` processes on one ledger (a second run started while the first
/// sends): the second leaves the rows the first is sending alone, the two share the
/// recipients, and every recipient gets exactly one message.
#[test]
fn two_processes_on_one_ledger_send_everyone_exactly_once() {
    const N: usize = 80;
    let sb = scaled_sandbox(Limits::none().messages_per_second(40.0));
    let dir = temp_dir("two");
    let csv = write_csv(&dir, N);
    let ledger = dir.join("ledger.db");
    // No status webhooks, and a short quiet window: a row wrongly taken for a crashed
    // send would be sent again after 3 s.
    let run = || {
        spawn_broadcast(
            &sb,
            &csv,
            &ledger,
            "--mps 10 --pair-interval 0 --unknown-window 3",
        )
    };
    let first = run();
    wait_accepted(&sb, 5);
    let second = run();
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    each_accepted_once(&sb, N);
    let l = Ledger::open_existing(&ledger).unwrap();
    assert_eq!(l.counts().unwrap().accepted, N as u64);
}

#[test]
fn bad_csv_is_refused_before_anything_is_sent() {
    let sb = Sandbox::start_blocking().unwrap();
    let dir = temp_dir("bad");
    let cases = [
        (
            "to,name\n+15555550123,Maya\n+1555,Bo\n",
            "row 3 column 1 (to)",
            "8 to 15 digits",
        ),
        (
            "to,name,order\n+15555550123,Maya\n",
            "row 2 column 3 (order)",
            "missing parameter",
        ),
        (
            "to,name\n+15555550123,Maya\n15555550123,Maya\n",
            "row 3 column 1 (to)",
            "duplicate recipient",
        ),
    ];
    // Refused with exit 2 and no ledger made: the error text.
    let refused = |template: &str, lang: &str, csv: &std::path::Path| {
        let out = bin(&sb)
            .args(["broadcast", "--template", template, "--lang", lang])
            .arg("--recipients")
            .arg(csv)
            .arg("--ledger")
            .arg(format!("sqlite://{}", dir.join("l.db").display()))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(!dir.join("l.db").exists(), "a ledger was made: {err}");
        err
    };
    for (csv, place, rule) in cases {
        let p = dir.join("bad.csv");
        std::fs::write(&p, csv).unwrap();
        let err = refused("t", "en", &p);
        assert!(err.contains(place) && err.contains(rule), "{err}");
    }
    // A bad template name or language is named as such, not as a cell of the CSV.
    let good = write_csv(&dir, 3);
    for (template, lang, field) in [
        ("Order-Update", "en_US", "`template`"),
        ("order_update", "en US!", "`language`"),
    ] {
        let err = refused(template, lang, &good);
        assert!(err.contains(field) && !err.contains("row"), "{err}");
    }
    assert!(sb.control().requests().is_empty(), "nothing was sent");

    // A ledger of another campaign is refused.
    let ledger = format!("sqlite://{}", dir.join("l.db").display());
    let run = |template: &str| {
        bin(&sb)
            .args(["broadcast", "--template", template])
            .args(words("--lang en --no-progress"))
            .arg("--recipients")
            .arg(&good)
            .args(["--ledger", &ledger])
            .output()
            .unwrap()
    };
    assert!(run("first").status.success());
    let out = run("second");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another campaign"));
    assert_eq!(sb.control().limit_counters().accepted, 3);
}

/// An error that concerns the whole campaign (the key refused, the template missing) ends
/// the run at once, every recipient not sent still pending and no attempt counted, and
/// exits 1; once it is fixed, the same command sends everyone. (Marked `failed` instead,
/// every recipient took one refused request and was failed for good, and the run exited 0.)
#[test]
fn a_refused_key_or_a_missing_template_ends_the_run_with_everyone_pending() {
    let (sb, csv, ledger) = unlimited_campaign("halt", 40);
    let all_pending = || {
        let entries = Ledger::open_existing(&ledger).unwrap().entries().unwrap();
        assert_eq!(entries.len(), 40);
        let not: Vec<_> = entries
            .iter()
            .filter(|e| e.state != RecipientState::Pending || e.attempts != 0)
            .collect();
        assert!(not.is_empty(), "not pending: {not:?}");
    };
    let sends = || {
        sb.control()
            .requests_matching(Some("/messages"), Some("POST"))
            .len()
    };
    let extra = "--concurrency 16 --pair-interval 0";
    // A slow API: every slot would be filled before the first refusal came back.
    sb.control()
        .add_fault_json(
            serde_json::json!({"method": "POST", "path": "/messages", "count": 0,
            "fault": {"kind": "delay", "ms": 300}}),
        )
        .unwrap();

    let out = broadcast_cmd(&sb, &csv, &ledger, extra)
        .env("D360_API_KEY", "wrong-key-4821")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("authentication") && err.contains("the recipients not sent stay pending"),
        "{err}"
    );
    assert!(!err.contains("wrong-key-4821"), "{err}");
    all_pending();
    // No longer listed as a live run of the ledger: listed, it kept a Ctrl-C of another run
    // from marking the campaign stopped until its heartbeat aged out.
    let live: i64 = rusqlite::Connection::open(&ledger)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(live, 0, "the ended run is still listed");
    // `status` says the campaign is halted and why (it said `running`, with nothing
    // running), without the key.
    let status = || {
        let url = format!("sqlite://{}", ledger.display());
        let out = bin(&sb)
            .args(["broadcast", "status", "--ledger", &url])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = status();
    assert!(text.contains("run state: halted"), "{text}");
    assert!(
        text.contains("last run ended with:") && text.contains("authentication"),
        "{text}"
    );
    assert!(!text.contains("wrong-key-4821"), "{text}");
    // One send at a time until the first is accepted: one refused request, not one per
    // slot.
    let refused = sends();
    assert_eq!(refused, 1, "refused requests for one campaign error");

    sb.control().clear_faults();
    sb.control()
        .add_fault_json(
            serde_json::json!({"method": "POST", "path": "/messages", "count": 0,
            "fault": {"kind": "meta_error", "code": 132001}}),
        )
        .unwrap();
    let out = broadcast_cmd(&sb, &csv, &ledger, extra).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("template") && err.contains("broadcast ended"),
        "{err}"
    );
    all_pending();
    assert_eq!(
        sends() - refused,
        1,
        "refused requests for one campaign error"
    );

    assert!(status().contains("run state: halted"));

    sb.control().clear_faults();
    let out = broadcast_cmd(&sb, &csv, &ledger, extra).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    each_accepted_once(&sb, 40);
    let text = status();
    assert!(text.contains("run state: done"), "{text}");
    assert!(!text.contains("last run ended with"), "{text}");
}

/// A refusal for one recipient (not on WhatsApp) fails that row and the run completes;
/// `wa360 broadcast retry-failed` puts the failed rows back, and the next run sends them.
#[test]
fn retry_failed_puts_the_failed_recipients_back_for_the_next_run() {
    let (sb, csv, ledger) = unlimited_campaign("retry-failed", 5);
    sb.control()
        .add_fault_json(
            serde_json::json!({"method": "POST", "path": "/messages", "count": 0,
            "fault": {"kind": "meta_error", "code": 131026}}),
        )
        .unwrap();
    let out = broadcast_cmd(&sb, &csv, &ledger, "--pair-interval 0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("accepted 0, failed 5"), "{text}");
    let url = format!("sqlite://{}", ledger.display());
    let out = bin(&sb)
        .args(["broadcast", "retry-failed", "--ledger", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("5 failed recipient(s) back to pending"),
        "{text}"
    );
    sb.control().clear_faults();
    let out = broadcast_cmd(&sb, &csv, &ledger, "--pair-interval 0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("accepted 5, failed 0"), "{text}");
    each_accepted_once(&sb, 5);
}

/// `--start-in` holds every send back until that many seconds after the start (the
/// core's `BroadcastOptions::starting_in`).
#[test]
fn start_in_holds_every_send_back() {
    let sb = Sandbox::start_blocking().unwrap();
    let dir = temp_dir("start-in");
    let csv = write_csv(&dir, 2);
    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let out = bin(&sb)
        .args(words(
            "broadcast --template t --lang en --no-progress --start-in 1.5",
        ))
        .arg("--recipients")
        .arg(&csv)
        .arg("--ledger")
        .arg(format!("sqlite://{}", dir.join("l.db").display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sends = sb.control().requests_matching(Some("/messages"), None);
    assert_eq!(sends.len(), 2);
    for r in sends {
        assert!(
            r.at_ms >= before_ms + 1500,
            "sent {} ms after the start",
            r.at_ms - before_ms
        );
    }
}

/// Waiting times are input errors (exit 2) naming the flag, never a panic: a
/// huge `--start-in` used to overflow `Duration`.
/// Nothing listens at the base URL: every send fails before a request is written, and
/// `--max-outage` ends the run (exit 3, as a stopped run: run it again once the API is
/// reachable) with every recipient pending and no attempt counted.
#[test]
fn max_outage_ends_a_run_that_cannot_reach_the_api_with_everyone_pending() {
    let (sb, csv, ledger) = unlimited_campaign("outage", 3);
    // Port 1: outside the range the system hands out, so no other test's server takes it
    // (a port bound and let go could be, and the sends would reach that server).
    let out = broadcast_cmd(&sb, &csv, &ledger, "--max-outage 1.5 --pair-interval 0")
        .env("WA360_BASE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("no connection to the API for 1.5 s"), "{err}");
    let entries = Ledger::open_existing(&ledger).unwrap().entries().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e.state == RecipientState::Pending && e.attempts == 0),
        "{entries:?}"
    );
}

#[test]
fn bad_run_options_are_refused_naming_the_flag_before_the_ledger_is_made() {
    let sb = Sandbox::start_blocking().unwrap();
    let dir = temp_dir("waits");
    let csv = write_csv(&dir, 1);
    for flags in [
        "--start-in 1e300",
        "--start-in=-1",
        "--pair-interval nan",
        "--unknown-window 0",
        // Before 1970, and far past a year from now: refused, never stored in the
        // ledger (a panic in debug builds, a campaign held for good in release).
        "--start-at=-9223372036854775",
        "--start-at 99999999999",
        // Checked before the ledger is made, named by their flags.
        "--concurrency 0",
        "--max-attempts 0",
        "--max-outage 0",
        "--max-outage=-5",
        "--listen nonsense",
        "--governor-store redis://127.0.0.1:1/notanumber",
        "--governor-number ''",
    ] {
        let out = bin(&sb)
            .args(words("broadcast --template t --lang en --no-progress"))
            .arg("--recipients")
            .arg(&csv)
            .arg("--ledger")
            .arg(format!("sqlite://{}", dir.join("l.db").display()))
            .args(words(flags))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let flag = flags.split([' ', '=']).next().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags}: {err}");
        assert!(
            err.contains(flag) && !err.contains("panicked"),
            "{flags}: {err}"
        );
    }
    assert!(sb.control().requests().is_empty(), "nothing was sent");
    assert!(
        !dir.join("l.db").exists(),
        "checked before the ledger is made"
    );
}

/// Sends whose answers are lost stay `unknown`; `wa360 broadcast stop` ends the run (exit 3),
/// `apply-status` settles them from the sandbox's status webhook bodies, and `status` shows it.
#[test]
fn stop_then_settle_unknowns_with_apply_status() {
    let sb = scaled_sandbox(Limits::none());
    // Status webhooks go to a closed port: attempts (with their bodies) are still recorded.
    hooks_to(&sb, free_port(), "/hook");
    sb.control().add_fault(
        wa360_sandbox::FaultRule::new("POST", "/messages", wa360_sandbox::Fault::ResetAfterBody)
            .times(0),
    );
    let dir = temp_dir("settle");
    let csv = write_csv(&dir, 3);
    let ledger_url = format!("sqlite://{}", dir.join("ledger.db").display());
    let child = bin(&sb)
        .args(words("broadcast --template t --lang en --no-progress"))
        .arg("--recipients")
        .arg(&csv)
        .args(["--ledger", &ledger_url, "--unknown-window", "600"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let unknown = Ledger::open_existing(dir.join("ledger.db"))
            .and_then(|l| l.counts())
            .map(|c| c.unknown)
            .unwrap_or(0);
        if unknown == 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sends did not become unknown"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = bin(&sb)
        .args(["broadcast", "stop", "--ledger", &ledger_url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "stopped before the end");
    // Without --listen, nothing in this process can settle them: it says so, once.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("unknown outcome").count(), 1, "{err}");
    assert!(
        err.contains("sent again after --unknown-window (600 s)"),
        "{err}"
    );
    assert_eq!(sb.control().limit_counters().accepted, 3, "each sent once");

    // Feed the recorded status webhook bodies, one per line.
    let bodies: String = sb
        .control()
        .deliveries()
        .iter()
        .map(|d| format!("{}\n", d.body))
        .collect();
    assert!(!bodies.is_empty());
    let apply = spawn_with_stdin(
        bin(&sb).args(["broadcast", "apply-status", "--ledger", &ledger_url, "-"]),
        bodies.as_bytes(),
    );
    let out = apply.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("settled 3 recipient(s)"), "{text}");
    let out = bin(&sb)
        .args(["broadcast", "status", "--ledger", &ledger_url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("accepted 3, failed 0, unknown 0"), "{text}");
    assert_eq!(sb.control().requests().len(), 3, "nothing was sent again");
}

/// `kill -INT` to `child` (Ctrl-C).
fn interrupt(child: &std::process::Child) {
    signal(child, "-INT");
}

/// `kill <sig>` to `child`.
fn signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `--governor-store` (or WA360_GOVERNOR_STORE) makes the run pace with every other
/// process on that store: with the number's bucket there held for 30 s by another process,
/// nothing goes out; without it each CLI process paced alone, and shards of one campaign
/// sent at N × --mps. A Ctrl-C then ends the held run at once.
#[test]
fn a_shared_governor_store_paces_the_run_with_the_other_processes() {
    let redis = std::env::var("WA360_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "WA360_TEST_REDIS_URL is not set: run through `make test` (tests/redis/with-redis.sh)"
        )
    });
    let store_url = format!("{redis}?name=cli-gov-{}", fastrand_u32());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let other = wa360::governor::open_store(&store_url).unwrap();
    rt.block_on(other.block_for("n:default", Duration::from_secs(30), Duration::ZERO, None));
    let (sb, csv, ledger) = unlimited_campaign("gov-store", 5);
    let mut cmd = broadcast_cmd(&sb, &csv, &ledger, "--mps 5 --pair-interval 0");
    let child = cmd
        .env("WA360_GOVERNOR_STORE", &store_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        sb.control().recipient_counts().len(),
        0,
        "sent past the shared bucket"
    );
    interrupt(&child);
    let t = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the stop waited for the held slots"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&redis),
        "the store URL is not printed"
    );
    // Another number on the same store paces apart, and sends at once.
    let out = broadcast_cmd(
        &sb,
        &csv,
        &ledger,
        "--mps 5 --pair-interval 0 --governor-number other",
    )
    .env("WA360_GOVERNOR_STORE", &store_url)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    each_accepted_once(&sb, 5);
}

/// Ctrl-C on one of two processes running one campaign ends that process only: the other
/// goes on and finishes the campaign, and every recipient gets exactly one message. (Two
/// sends at a time, so that neither run has claimed the rest of the campaign by then.)
#[test]
fn ctrl_c_on_one_of_two_processes_leaves_the_other_running() {
    const N: usize = 60;
    let sb = scaled_sandbox(Limits::none().messages_per_second(40.0));
    let dir = temp_dir("ctrlc");
    let csv = write_csv(&dir, N);
    let ledger = dir.join("ledger.db");
    let run = || {
        spawn_broadcast(
            &sb,
            &csv,
            &ledger,
            "--mps 8 --pair-interval 0 --concurrency 2",
        )
    };
    let first = run();
    wait_accepted(&sb, 3);
    let second = run();
    wait_accepted(&sb, 12);
    interrupt(&first);
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "the interrupted run stops");
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the other run finishes the campaign: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    each_accepted_once(&sb, N);
    let l = Ledger::open_existing(&ledger).unwrap();
    assert_eq!(l.counts().unwrap().accepted, N as u64);
    assert_eq!(l.run_state().unwrap(), "done");
}

/// An operator's pause (`wa360 broadcast pause`) holds a run started after it, as a
/// restarted process is: nothing is sent until `wa360 broadcast resume`.
#[test]
fn an_operators_pause_holds_a_run_started_later() {
    const N: usize = 30;
    let (sb, csv, ledger) = unlimited_campaign("pause", N);
    let ledger_url = format!("sqlite://{}", ledger.display());
    let control = |what: &str| {
        let out = bin(&sb)
            .args(["broadcast", what, "--ledger", &ledger_url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{what}");
    };
    let run = || spawn_broadcast(&sb, &csv, &ledger, "--mps 10 --pair-interval 0");
    let first = run();
    wait_accepted(&sb, 3);
    control("pause");
    // The run sees the pause within half a second; then it is stopped (Ctrl-C).
    std::thread::sleep(Duration::from_millis(800));
    interrupt(&first);
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let Ok(l) = Ledger::open_existing(&ledger) else {
        panic!("no ledger")
    };
    assert_eq!(l.run_state().unwrap(), "paused", "Ctrl-C keeps the pause");

    let sent = sb.control().limit_counters().accepted;
    let second = run();
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(
        sb.control().limit_counters().accepted,
        sent,
        "a run started while paused sends nothing"
    );
    control("resume");
    let out = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the campaign is paused"), "{stderr}");
    each_accepted_once(&sb, N);
}

/// A send that takes longer than the in-flight lease (10 s) keeps its row: the run renews
/// the lease while the send is under way, so a second process on the ledger, whose quiet
/// window for unknown sends is 1 s, never takes the row for a crashed send and resends it.
#[test]
fn a_send_longer_than_the_lease_is_not_taken_by_another_process() {
    const N: usize = 4;
    let sb = scaled_sandbox(Limits::none());
    // The first send is answered after 14 s (real time).
    sb.control().add_fault(
        wa360_sandbox::FaultRule::new(
            "POST",
            "/messages",
            wa360_sandbox::Fault::Delay { ms: 14_000 },
        )
        .times(1),
    );
    let dir = temp_dir("lease");
    let csv = write_csv(&dir, N);
    let ledger = dir.join("ledger.db");
    let run = || {
        spawn_broadcast(
            &sb,
            &csv,
            &ledger,
            "--pair-interval 0 --unknown-window 1 --timeout 60",
        )
    };
    let first = run();
    // The second process starts once the first has claimed the slow row; it sends the
    // rest and then watches the slow row until its own run ends.
    let start = Instant::now();
    while sb.control().requests().is_empty() && sb.control().limit_counters().accepted == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "nothing sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = run();
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        start.elapsed() >= Duration::from_secs(13),
        "the slow send took 14 s"
    );
    each_accepted_once(&sb, N);
    assert_eq!(sb.control().requests().len(), N, "nothing was sent twice");
}

/// A relative ledger path is refused (it names another file in each directory the command
/// runs from: a rerun from elsewhere would make a new ledger and send to everyone again),
/// and the run says whether its ledger is new or resumed.
#[test]
fn a_relative_ledger_is_refused_and_a_resumed_one_says_so() {
    let sb = Sandbox::start_blocking().unwrap();
    let dir = temp_dir("relative");
    let csv = write_csv(&dir, 1);
    let out = bin(&sb)
        .current_dir(&dir)
        .args(words(
            "broadcast --template order_update --lang en_US --no-progress --ledger sqlite://camp.db",
        ))
        .arg("--recipients")
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be an absolute path"));
    assert!(!dir.join("camp.db").exists());
    assert!(sb.control().requests().is_empty(), "nothing was sent");
    let ledger = dir.join("camp.db");
    for want in ["(new)", "(resumed: 1 accepted so far)"] {
        let out = broadcast_cmd(&sb, &csv, &ledger, "").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains(want), "{shown}");
    }
}

/// A second Ctrl-C exits at once (exit 3) instead of waiting for a send in flight that the
/// API holds (here 30 s): the first only stops the run after its sends in flight.
#[test]
fn a_second_ctrl_c_exits_at_once() {
    let sb = Sandbox::start_blocking().unwrap();
    sb.control()
        .add_fault_json(serde_json::json!({"method": "POST", "path": "/messages",
            "fault": {"kind": "delay", "ms": 30000}}))
        .unwrap();
    let dir = temp_dir("twice");
    let csv = write_csv(&dir, 1);
    let mut child = spawn_broadcast(&sb, &csv, &dir.join("l.db"), "");
    let t = std::time::Instant::now();
    while sb.control().requests().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the send never went out"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first waits for the send"
    );
    interrupt(&child);
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "still running after the second"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3));
}

/// The --listen receiver's credentials can come from WA360_BROADCAST_BASIC_AUTH instead of
/// the command line (which `ps` shows): a delivery without them is refused.
#[test]
fn the_listen_credentials_come_from_the_environment() {
    use std::io::{Read, Write};
    let sb = Sandbox::start_blocking().unwrap();
    sb.control()
        .add_fault_json(serde_json::json!({"method": "POST", "path": "/messages",
            "fault": {"kind": "delay", "ms": 3000}}))
        .unwrap();
    let dir = temp_dir("listenenv");
    let csv = write_csv(&dir, 1);
    let port = free_port();
    let mut child = broadcast_cmd(
        &sb,
        &csv,
        &dir.join("l.db"),
        &format!("--listen 127.0.0.1:{port}"),
    )
    .env("WA360_BROADCAST_BASIC_AUTH", "hooks:pw-from-env")
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let post = |auth: Option<&str>| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let auth = auth
            .map(|a| format!("Authorization: Basic {a}\r\n"))
            .unwrap_or_default();
        write!(s, "POST /webhook HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out.lines().next().unwrap_or_default().to_string())
    };
    let t = Instant::now();
    let without = loop {
        if let Some(line) = post(None) {
            break line;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no listener");
        std::thread::sleep(Duration::from_millis(50));
    };
    use base64::Engine as _;
    let good = base64::engine::general_purpose::STANDARD.encode("hooks:pw-from-env");
    let with = post(Some(&good)).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(without.contains(" 401"), "{without}");
    assert!(!with.contains(" 401"), "{with}");
}
