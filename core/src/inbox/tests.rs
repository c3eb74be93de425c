use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

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

// What every backend promises (dedupe, status folding, claims, leases, retries, dead
// letters, consumers) is the inbox contract in `core/tests/inbox_contract/`, run against
// memory, SQLite and Redis. Below: URLs, the SQLite file itself, pruning, redaction.

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

/// After a jump of the wall clock (the machine suspended, or its clock set forward: every
/// lease looks run out at once), claims take over, for one lease, only leases that ran out
/// before the jump: a live consumer's, which ends after that, stays its own until it
/// renews; a consumer dead before the jump loses its events, also to a claim for fewer
/// events than the live consumer holds (the search judged leases at now, found the live
/// consumer's first, and the take left them). (The jump is written as the first claim after
/// it records it: ten minutes, seen now.)
#[test]
fn sqlite_after_a_clock_jump_claims_take_over_only_leases_that_ran_out_before_it() {
    let path = temp_path("gap");
    let inbox = open(&format!("sqlite://{path}?lease_ms=30000")).unwrap();
    for (from, id) in [
        ("111", "wamid.LIVE"),
        ("112", "wamid.LIVE2"),
        ("222", "wamid.DEAD"),
    ] {
        accept(&*inbox, &testing::inbound_text(from, "x", id));
    }
    let live = inbox.claim("live", 2).unwrap();
    let dead = inbox.claim("dead", 1).unwrap();
    assert_eq!(
        super::testing::event_ids(&live),
        ["wamid.LIVE", "wamid.LIVE2"]
    );
    assert_eq!(super::testing::event_ids(&dead), ["wamid.DEAD"]);
    let now = crate::util::now_ms();
    let jump_start = now - 600_000;
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(&format!(
        "INSERT INTO counters(name, n) VALUES ('grace_gap', 600000), ('grace_until', {});
         UPDATE entries SET lease_until = {} WHERE lease_owner = 'live';
         UPDATE entries SET lease_until = {} WHERE lease_owner = 'dead';",
        now + 30_000,
        jump_start + 20_000,
        jump_start - 5_000
    ))
    .unwrap();
    let mut taken = super::testing::event_ids(&inbox.claim("other", 1).unwrap());
    for _ in 0..3 {
        taken.extend(super::testing::event_ids(&inbox.claim("other", 5).unwrap()));
    }
    assert_eq!(taken, ["wamid.DEAD"]);
    let ids: Vec<String> = live.iter().map(|d| d.id.clone()).collect();
    assert_eq!(inbox.extend("live", &ids).unwrap(), 2, "still its own");
    for id in &ids {
        assert!(inbox.ack("live", id).unwrap());
    }
    // Once the grace is over, leases are judged at the time again.
    c.execute(
        "UPDATE counters SET n = ?1 WHERE name = 'grace_until'",
        [now - 1],
    )
    .unwrap();
    accept(&*inbox, &testing::inbound_text("333", "x", "wamid.LATER"));
    let later = inbox.claim("held", 1).unwrap();
    c.execute(
        "UPDATE entries SET lease_until = ?1 WHERE lease_owner = 'held'",
        [now - 1_000],
    )
    .unwrap();
    assert_eq!(
        super::testing::event_ids(&inbox.claim("other", 5).unwrap()),
        ["wamid.LATER"]
    );
    drop(later);
}

/// A SQLite inbox at `path` with a lease of `lease_ms` (and a busy timeout of 50 ms), one
/// event stored, and that event claimed by `holder`.
fn held_event(path: &str, lease_ms: u64) -> (SqliteInbox, Vec<Delivery>) {
    let inbox = sqlite_with_lease(path, lease_ms);
    accept(&inbox, &testing::inbound_text("111", "x", "wamid.HELD"));
    let held = inbox.claim("holder", 1).unwrap();
    assert_eq!(held.len(), 1);
    (inbox, held)
}

fn sqlite_with_lease(path: &str, lease_ms: u64) -> SqliteInbox {
    SqliteInbox::open(
        path,
        InboxOptions {
            lease: Duration::from_millis(lease_ms),
            busy_timeout: Duration::from_millis(50),
            ..InboxOptions::default()
        },
    )
    .unwrap()
}

/// The wall clock set forward by `ms` (back, when negative) as the file sees it: every lease
/// end, retry time and grace end stored in it moves back by as much (the clock itself cannot
/// be moved).
fn wall_forward(c: &rusqlite::Connection, ms: i64) {
    c.execute(
        "UPDATE entries SET lease_until = lease_until - ?1 WHERE state = 1",
        [ms],
    )
    .unwrap();
    c.execute(
        "UPDATE entries SET not_before = not_before - ?1 WHERE state = 0 AND not_before > 0",
        [ms],
    )
    .unwrap();
    c.execute(
        "UPDATE counters SET n = n - ?1 WHERE name = 'grace_until'",
        [ms],
    )
    .unwrap();
}

/// A jump of the wall clock by `ms`, seen by the processes `seen_by` (each handle is a
/// process: it has its own watch of the clocks).
fn clock_jump(c: &rusqlite::Connection, seen_by: &[&SqliteInbox], ms: i64) {
    wall_forward(c, ms);
    for inbox in seen_by {
        inbox.clock_jumped(ms);
    }
}

fn counter(c: &rusqlite::Connection, name: &str) -> i64 {
    c.query_row("SELECT n FROM counters WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .unwrap()
}

/// The holder's event is still its own: nobody else took it, it renews and acks it.
fn still_held(inbox: &SqliteInbox, held: &[Delivery]) {
    let ids: Vec<String> = held.iter().map(|d| d.id.clone()).collect();
    assert_eq!(inbox.extend("holder", &ids).unwrap(), ids.len(), "renewed");
    assert!(inbox.ack("holder", &ids[0]).unwrap(), "acked");
}

/// A consumer dies holding an event, whose lease ran out a second ago: the next claim takes
/// it over.
fn a_dead_consumers_event_is_taken_over(inbox: &SqliteInbox, c: &rusqlite::Connection) {
    accept(inbox, &testing::inbound_text("222", "x", "wamid.DEAD"));
    assert_eq!(inbox.claim("dead", 1).unwrap().len(), 1);
    c.execute(
        "UPDATE entries SET lease_until = ?1 WHERE lease_owner = 'dead'",
        [crate::util::now_ms() - 1_000],
    )
    .unwrap();
    assert_eq!(
        super::testing::event_ids(&inbox.claim("other", 5).unwrap()),
        ["wamid.DEAD"]
    );
}

/// Two suspends within one renewal period: the second came after the grace of the first
/// had ended on the wall clock (which the second moved on). Judged at the second jump alone,
/// the holder's lease, not renewed since before both, looked run out and was taken over.
#[test]
fn sqlite_two_jumps_within_a_lease_count_together_after_the_first_grace_ended() {
    let path = temp_path("jump-twice");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    clock_jump(&c, &[&inbox], 60_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "first jump");
    clock_jump(&c, &[&inbox], 60_000);
    assert!(counter(&c, "grace_until") < crate::util::now_ms(), "ended");
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "second jump");
    assert!(counter(&c, "grace_gap") >= 119_000);
    still_held(&inbox, &held);
}

/// Two jumps within one grace (+40 s, then +27 s, the holder renewed 6 s before): the gap
/// was the larger of the two, not their sum, and the event was taken over.
#[test]
fn sqlite_two_jumps_within_a_grace_add_up_and_keep_its_end() {
    let path = temp_path("jump-in-grace");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    wall_forward(&c, 6_000);
    clock_jump(&c, &[&inbox], 40_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "first jump");
    let first_end = counter(&c, "grace_until");
    clock_jump(&c, &[&inbox], 27_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "second jump");
    assert!(counter(&c, "grace_gap") >= 66_000);
    // A grace of a lease from the second jump's record, not what was left of the first.
    assert!(counter(&c, "grace_until") >= first_end - 27_000 + 25_000);
    still_held(&inbox, &held);
}

/// The claim that saw a jump could not write the grace (the file locked past the busy
/// timeout): the jump was used up all the same, and the next claim took the live event.
#[test]
fn sqlite_a_jump_whose_record_failed_is_recorded_by_the_next_claim() {
    let path = temp_path("jump-locked");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    clock_jump(&c, &[&inbox], 60_000);
    c.execute_batch("BEGIN IMMEDIATE;").unwrap();
    assert!(inbox.claim("other", 5).is_err(), "locked");
    c.execute_batch("COMMIT;").unwrap();
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "taken over");
    assert!(counter(&c, "grace_gap") >= 59_000);
    still_held(&inbox, &held);
}

/// Processes with different leases share a file: the grace one with a 60 s lease recorded
/// was not in force for one with a 10 s lease (further off than its lease), which took
/// over at once if it had not seen the jump itself (opened after it), or else cut the grace
/// down to its own 10 s, after which the 60 s holder's lease, due for renewal only at 20 s,
/// was taken over.
#[test]
fn sqlite_a_shorter_lease_neither_ignores_nor_cuts_short_a_longer_grace() {
    let path = temp_path("jump-mixed");
    let (long, held) = held_event(&path, 60_000);
    let short = sqlite_with_lease(&path, 10_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    clock_jump(&c, &[&long, &short], 120_000);
    assert!(long.claim("other", 5).unwrap().is_empty(), "long lease");
    let opened_after = sqlite_with_lease(&path, 10_000);
    assert!(
        opened_after.claim("other", 5).unwrap().is_empty(),
        "opened after"
    );
    assert!(short.claim("other", 5).unwrap().is_empty(), "short lease");
    assert!(
        counter(&c, "grace_until") >= crate::util::now_ms() + 55_000,
        "cut short"
    );
    wall_forward(&c, 11_000);
    assert!(short.claim("other", 5).unwrap().is_empty(), "11 s later");
    still_held(&long, &held);
}

/// A jump of 4 s with leases of 3 s: under the 5 s that counted as a jump, so no grace was
/// recorded and the live holder's lease (with about 2 s left) was taken over at once.
#[test]
fn sqlite_a_jump_counts_against_a_short_lease_from_a_third_of_it() {
    let path = temp_path("jump-short");
    let (inbox, held) = held_event(&path, 3_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    wall_forward(&c, 1_000);
    clock_jump(&c, &[&inbox], 4_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "taken over");
    still_held(&inbox, &held);
}

/// A 4 s jump seen by a process with a 30 s lease, on a file shared with a 3 s holder: it
/// counted jumps from 5 s (a third of its own lease, at most 5 s), recorded no grace, and
/// took over the live holder's lease. Jumps count from a third of the shortest lease of the
/// processes on the file.
#[test]
fn sqlite_a_jump_counts_against_the_shortest_lease_on_the_file() {
    // The long lease opened first and idle since (it never wrote after the short one came),
    // and the other way round.
    for long_first in [true, false] {
        let path = temp_path("jump-mixed-short");
        let early = long_first.then(|| sqlite_with_lease(&path, 30_000));
        let (short, held) = held_event(&path, 3_000);
        let long = early.unwrap_or_else(|| sqlite_with_lease(&path, 30_000));
        let c = rusqlite::Connection::open(&path).unwrap();
        wall_forward(&c, 1_000);
        clock_jump(&c, &[&long], 4_000);
        assert!(
            long.claim("other", 5).unwrap().is_empty(),
            "taken over (long lease first: {long_first})"
        );
        still_held(&short, &held);
    }
}

/// The clock set back 2 s just after a grace of a 60 s jump was recorded: the grace's end
/// was then further off than one lease, the grace counted as void, and the 58 s left of the
/// jump expired the live lease. The gap shrinks by the overshoot instead; a set-back past
/// the whole jump leaves no grace.
#[test]
fn sqlite_a_clock_set_back_in_a_grace_shrinks_its_gap() {
    let path = temp_path("jump-back");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    clock_jump(&c, &[&inbox], 60_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "jump");
    wall_forward(&c, -2_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "set back");
    let (now, until) = (crate::util::now_ms(), counter(&c, "grace_until"));
    let over = until - now - counter(&c, "grace_len");
    let gap = counter(&c, "grace_gap") - over;
    assert!((57_000..=58_500).contains(&gap), "gap {gap}");
    still_held(&inbox, &held);
    // Set back past the whole jump: no grace is left, and a lease that ran out a second ago
    // is taken over.
    wall_forward(&c, -70_000);
    a_dead_consumers_event_is_taken_over(&inbox, &c);
}

/// The clock set 20 s ahead, the jump recorded, then put right: the grace's end and gap
/// move back with it. Read as they were, the time leases were judged at stayed where the
/// jump began as the clock went on, and a consumer that died 10 s later had its events taken
/// over only once the clock caught up with the grace's end, 20 s on.
#[test]
fn sqlite_a_clock_put_right_after_a_jump_ends_the_grace_with_it() {
    let path = temp_path("jump-put-right");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    clock_jump(&c, &[&inbox], 20_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "jump");
    wall_forward(&c, -20_000);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "put right");
    still_held(&inbox, &held);
    // 10 s on, a consumer dies holding an event; its lease ran out a second ago.
    wall_forward(&c, 10_000);
    a_dead_consumers_event_is_taken_over(&inbox, &c);
}

const DAY_MS: i64 = 86_400_000;

/// A consumer renewed its lease while the wall clock was a day ahead, then died, and the
/// clock was put right: the lease ended a day on, and its event waited that day. A lease
/// ending further ahead than any process on the file writes one is pulled back to that (the
/// longest lease on the file, 60 s here, not the 10 s of the process that finds it): the
/// dead consumer's event is taken over a lease after the clock was put right, and a live
/// holder that renews keeps its own.
#[test]
fn sqlite_a_lease_written_while_the_clock_was_ahead_runs_out_a_lease_after_it_is_put_right() {
    let path = temp_path("ahead-lease");
    let (long, held) = held_event(&path, 60_000);
    let short = sqlite_with_lease(&path, 10_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    accept(&short, &testing::inbound_text("222", "x", "wamid.DEAD"));
    assert_eq!(short.claim("dead", 1).unwrap().len(), 1);
    wall_forward(&c, -DAY_MS);
    assert!(short.claim("other", 5).unwrap().is_empty(), "put right");
    wall_forward(&c, 15_000);
    assert!(short.claim("other", 5).unwrap().is_empty(), "15 s on");
    wall_forward(&c, 40_000);
    assert!(short.claim("other", 5).unwrap().is_empty(), "55 s on");
    let ids: Vec<String> = held.iter().map(|d| d.id.clone()).collect();
    assert_eq!(long.extend("holder", &ids).unwrap(), 1, "renewed");
    wall_forward(&c, 6_000);
    assert_eq!(
        super::testing::event_ids(&short.claim("other", 5).unwrap()),
        ["wamid.DEAD"]
    );
    still_held(&long, &held);
}

/// A failed event's retry was scheduled while the wall clock was a day ahead, and the clock
/// was put right: the retry waited a day. It is pulled back to the longest retry delay from
/// then (`retry_max`, 5 min here).
#[test]
fn sqlite_a_retry_scheduled_while_the_clock_was_ahead_waits_at_most_retry_max_after_it_is_put_right()
 {
    let path = temp_path("ahead-retry");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    assert!(matches!(
        inbox.nack("holder", &held[0].id, "failed").unwrap(),
        Nacked::Retry(_)
    ));
    wall_forward(&c, -DAY_MS);
    assert!(inbox.claim("other", 5).unwrap().is_empty(), "put right");
    wall_forward(&c, 300_000);
    assert_eq!(
        super::testing::event_ids(&inbox.claim("other", 5).unwrap()),
        ["wamid.HELD"]
    );
}

/// An event nacked while the wall clock was ahead, claimed again once its retry came, then
/// given back after the clock was put right: it kept the retry time written ahead, and
/// "ready" as it was, no claim took it until then.
#[test]
fn sqlite_an_event_given_back_is_ready_at_once_whatever_retry_time_it_had() {
    let path = temp_path("ahead-release");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    assert!(matches!(
        inbox.nack("holder", &held[0].id, "failed").unwrap(),
        Nacked::Retry(_)
    ));
    // The retry comes while the clock is still ahead; the clock is put right after the
    // claim, which kept the retry time.
    c.execute(
        "UPDATE entries SET not_before = not_before - 2000 WHERE state = 0",
        [],
    )
    .unwrap();
    let again = inbox.claim("holder", 1).unwrap();
    assert_eq!(again.len(), 1);
    c.execute("UPDATE entries SET not_before = not_before + ?1", [DAY_MS])
        .unwrap();
    assert!(inbox.release("holder", &again[0].id).unwrap());
    assert_eq!(
        super::testing::event_ids(&inbox.claim("other", 5).unwrap()),
        ["wamid.HELD"]
    );
}

/// A process whose consumers are all busy claims nothing; its renewals record a jump, so
/// the grace starts then and not at its first claim, long after.
#[test]
fn sqlite_a_renewal_records_a_jump() {
    let path = temp_path("jump-extend");
    let (inbox, held) = held_event(&path, 30_000);
    let c = rusqlite::Connection::open(&path).unwrap();
    clock_jump(&c, &[&inbox], 60_000);
    still_held(&inbox, &held);
    assert!(counter(&c, "grace_gap") >= 59_000);
    assert!(counter(&c, "grace_until") > crate::util::now_ms() + 25_000);
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

/// An accept refused by a lock another connection holds names the store once: the error
/// read "store error: store error: cannot store events in …".
#[test]
fn an_accept_refused_by_a_lock_says_store_error_once() {
    let path = temp_path("locked-accept");
    let inbox = open(&format!("sqlite://{path}?busy_timeout_ms=200")).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let body = testing::inbound_text("111", "x", "wamid.LOCKED");
    let e = crate::inbox::testing::accept_json(&*inbox, &body).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::Store);
    let text = e.to_string();
    assert!(text.contains("locked"), "{text}");
    assert_eq!(text.matches("store error").count(), 1, "{text}");
}

#[test]
fn prune_drops_expired_keys() {
    let inbox = mem("retention_s=0");
    // The first accept of a handle also starts a prune of its own, beside it (see below),
    // which may have deleted some of the keys already.
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.Y"));
    std::thread::sleep(Duration::from_millis(5));
    inbox.prune().unwrap();
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
    // An `@` inside the password: the user info ends at the authority's last `@`.
    assert_eq!(
        redact_url("redis://default:p@ss-SENTINEL@host:6379/0"),
        "redis://***@host:6379/0"
    );
    // Up to the last `@` of the whole text: an `@` before an unencoded `/`, `?` or `#` of
    // the password must not end the hiding early (`u:Xy@Pa/w-SENTINEL@host`), so an `@` in a
    // query hides more than needed (the safe side).
    assert_eq!(
        redact_url("redis://u:a@b@c-SENTINEL@host?x=@y"),
        "redis://***@y"
    );
    assert_eq!(
        redact_url("redis://u:Xy@Pa/w-SENTINEL@host:6379/0"),
        "redis://***@host:6379/0"
    );
    // An `@` after the authority may end a password with an unencoded `/`, `?` or `#`:
    // hidden up to it (safe side: the rest of such a URL is shown less).
    assert_eq!(
        redact_url("redis://u:p/w@host:6379/0"),
        "redis://***@host:6379/0"
    );
    assert_eq!(redact_url("redis://host:6379/0#a@b"), "redis://***@b");
    assert_eq!(redact_url("redis://host:6379/0"), "redis://host:6379/0");
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

#[test]
fn a_claim_of_0_or_more_than_1000_events_is_invalid_argument_at_once() {
    let c = Consumer::new(mem(""));
    for max in [0, 1001, usize::MAX] {
        let started = std::time::Instant::now();
        let e = c.next(max, Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{max}");
        assert!(
            e.to_string().contains("`max`") && e.to_string().contains("1 to 1000"),
            "{e}"
        );
        // refused before waiting out the timeout
        assert!(started.elapsed() < Duration::from_secs(4));
    }
    assert!(c.next(1000, Duration::ZERO).unwrap().is_empty());
}

#[test]
fn inbox_times_are_bounded_so_no_sum_with_now_can_overflow() {
    for (q, field) in [
        ("lease_ms=9223372036854775807", "inbox.lease_ms"),
        ("lease_ms=86400001", "inbox.lease_ms"),
        ("lease_ms=99", "inbox.lease_ms"),
        ("retry_base_ms=18446744073709551615", "inbox.retry_base_ms"),
        ("retry_max_ms=604800001", "inbox.retry_max_ms"),
        ("retention_s=315360001", "inbox.retention_s"),
        ("busy_timeout_ms=3600001", "inbox.busy_timeout_ms"),
        ("max_attempts=0", "inbox.max_attempts"),
        ("max_attempts=1000001", "inbox.max_attempts"),
    ] {
        let e = open(&format!("memory://?{q}")).unwrap_err();
        assert_eq!(e.field(), Some(field), "{q}: {e}");
        assert!(e.to_string().contains("must be from"), "{q}: {e}");
    }
    let inbox =
        mem("lease_ms=86400000&retry_max_ms=604800000&retention_s=315360000&max_attempts=1000000");
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.X"));
    assert_eq!(inbox.claim("c", 1).unwrap().len(), 1);
}

/// Pruning is due at a handle's first accept, not ten minutes after it opened: workers
/// recycled sooner than that (gunicorn `--max-requests`, autoscaled pods) still keep the
/// shared file's keys bounded.
#[test]
fn a_new_handle_prunes_at_its_first_accept() {
    let path = temp_path("prune-first");
    let url = format!("sqlite://{path}?retention_s=0");
    // The first handle keeps its keys (its own first prune, beside its first accept, must
    // not race this test's count).
    let first = open(&format!("sqlite://{path}?retention_s=3600")).unwrap();
    for w in ["wamid.P1", "wamid.P2"] {
        std::thread::sleep(Duration::from_millis(5));
        accept(&*first, &testing::inbound_text("111", "x", w));
    }
    assert_eq!(first.stats().unwrap().keys, 2);
    drop(first);
    let recycled = open(&url).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    accept(&*recycled, &testing::inbound_text("111", "x", "wamid.P3"));
    // The prune runs beside the accept (its delivery does not wait for it).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while recycled.stats().unwrap().keys > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        recycled.stats().unwrap().keys <= 1,
        "{:?}",
        recycled.stats().unwrap()
    );
}

/// More expired keys than one prune transaction deletes: every one goes, in batches, and
/// the keys still within retention stay.
#[test]
fn prune_deletes_every_expired_key_in_batches_and_keeps_the_fresh() {
    let path = temp_path("prune-batches");
    // No accept: it would start a prune of its own beside this one.
    let inbox = open(&format!("sqlite://{path}")).unwrap();
    let (old, fresh): (u64, u64) = (5_000, 3); // 2.5 batches
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.busy_timeout(Duration::from_secs(5)).unwrap();
        c.execute_batch("BEGIN").unwrap();
        for i in 0..old + fresh {
            let seen_at = if i < old { 0 } else { i64::MAX / 2 };
            c.execute(
                "INSERT INTO dedupe(dkey, seen_at) VALUES (?1, ?2)",
                rusqlite::params![format!("key-{i}"), seen_at],
            )
            .unwrap();
            // And as many bodies no entry points at (their events handled).
            if i < old {
                c.execute("INSERT INTO bodies(body) VALUES (x'7b7d')", [])
                    .unwrap();
            }
        }
        c.execute_batch("COMMIT").unwrap();
    }
    let bodies = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM bodies", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(inbox.stats().unwrap().keys, fresh + old);
    assert_eq!(bodies(), old as i64);
    assert!(inbox.prune().unwrap() >= 2 * old as usize);
    assert_eq!(inbox.stats().unwrap().keys, fresh);
    assert_eq!(bodies(), 0);
}

/// The file's write-ahead log and its index removed under a running receiver (a cleanup
/// script, `rm inbox.db-*`): SQLite went on writing to the removed log, which no other
/// process reads and which is never copied into the file, and every later 200 was for a
/// lost event (the events stored since the last checkpoint with them). The accept is
/// refused (`store`: 503, delivered again) as for a deleted file.
#[test]
fn an_inbox_whose_wal_or_shm_was_removed_underneath_refuses_accepts() {
    for removed in [&["-wal", "-shm"][..], &["-shm"], &["-wal"]] {
        let path = temp_path("wal-removed");
        let url = format!("sqlite://{path}");
        let inbox = open(&url).unwrap();
        accept(&*inbox, &testing::inbound_text("111", "x", "wamid.W1"));
        for suffix in removed {
            std::fs::remove_file(format!("{path}{suffix}")).unwrap();
        }
        let body = testing::inbound_text("111", "x", "wamid.W2");
        let e = super::testing::accept_json(&*inbox, &body).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Store, "{removed:?}: {e}");
        assert!(
            e.to_string()
                .contains("was deleted since this process opened the file"),
            "{e}"
        );
    }
}

/// An inbox file deleted (or replaced) under a running receiver: SQLite would go on
/// committing to the deleted inode, which no process opening the path sees again, so
/// every later 200 would be for a lost event. The accept is refused (`store`, so the
/// receiver answers 503 and 360dialog delivers again) until the process reopens the path.
#[test]
fn an_inbox_file_deleted_or_replaced_underneath_refuses_accepts() {
    for replace in [false, true] {
        let path = temp_path(if replace { "replaced" } else { "deleted" });
        let url = format!("sqlite://{path}");
        let inbox = open(&url).unwrap();
        accept(&*inbox, &testing::inbound_text("111", "x", "wamid.D1"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        if replace {
            drop(open(&url).unwrap());
        }
        let body = testing::inbound_text("111", "x", "wamid.D2").to_string();
        let e = super::testing::accept_json(&*inbox, &body.parse().unwrap()).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Store, "{e}");
        assert!(
            e.to_string().contains("since this process opened it"),
            "{e}"
        );
        // Reopened, the path works again.
        let reopened = open(&url).unwrap();
        assert_eq!(
            accept(&*reopened, &testing::inbound_text("111", "x", "wamid.D2"))
                .events
                .len(),
            1
        );
    }
}

/// The renewals of a running call failed for longer than its lease (another process held
/// the write lock), and the store offered the event back to the same consumer: handed out
/// again, it ran twice at once under one name, and the first call's nack settled the second
/// claim (which a third consumer then ran beside it). It stays with the running call.
#[test]
fn a_consumer_never_hands_out_again_an_event_its_running_call_holds() {
    let path = temp_path("reclaim-own");
    let inbox = open(&format!("sqlite://{path}?lease_ms=300&busy_timeout_ms=20")).unwrap();
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.OWN"));
    let c = Consumer::new(Arc::clone(&inbox));
    let first = c.next(1, Duration::from_secs(1)).unwrap();
    assert_eq!(first.len(), 1);
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    holder.execute_batch("COMMIT;").unwrap();
    let again = c.next(1, Duration::from_millis(50)).unwrap();
    assert!(again.is_empty(), "handed out twice: {again:?}");
    // The running call's outcome settles its own claim, and nothing is left to run.
    assert!(c.ack(&first[0].id).unwrap());
    let other = Consumer::new(Arc::clone(&inbox));
    assert!(other.next(1, Duration::from_millis(50)).unwrap().is_empty());
}

/// A claim that waited for the write lock longer than a lease handed out an event whose
/// lease had already run out (the clock was read before the wait), and another consumer
/// took it at once while the first call started.
#[test]
fn a_claim_that_waited_for_the_write_lock_hands_out_a_full_lease() {
    let path = temp_path("stale-lease");
    let inbox = open(&format!(
        "sqlite://{path}?lease_ms=300&busy_timeout_ms=5000"
    ))
    .unwrap();
    accept(&*inbox, &testing::inbound_text("111", "x", "wamid.WAITED"));
    let (a, b) = (
        Consumer::new(Arc::clone(&inbox)),
        Consumer::new(Arc::clone(&inbox)),
    );
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        holder.execute_batch("COMMIT;").unwrap();
    });
    let got = a.next(1, Duration::from_millis(10)).unwrap();
    release.join().unwrap();
    assert_eq!(got.len(), 1);
    let taken = b.next(1, Duration::from_millis(10)).unwrap();
    assert!(taken.is_empty(), "taken over at once: {taken:?}");
}

/// Handlers that return while a shutdown runs and the file is locked: each ack waited a
/// busy timeout, one after the other under the consumer's lock, and close waited behind
/// them all (six handlers: six busy timeouts, then one for close's own try and one for a
/// release). After the store refused one, the others are kept to tell again at once, close
/// tells them once more and gives nothing back (not even the event whose handler still
/// runs); their leases run out and another consumer takes the events, so nothing is lost.
#[test]
fn a_shutdown_while_the_file_is_locked_waits_one_busy_timeout_not_one_per_handler() {
    let path = temp_path("stalled-close");
    let inbox = open(&format!(
        "sqlite://{path}?lease_ms=3000&busy_timeout_ms=500"
    ))
    .unwrap();
    for i in 0..7 {
        accept(
            &*inbox,
            &testing::inbound_text(&format!("11{i}"), "x", &format!("wamid.STALL{i}")),
        );
    }
    let c = Consumer::new(Arc::clone(&inbox));
    let held = c.next(7, Duration::from_secs(1)).unwrap();
    assert_eq!(held.len(), 7);
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let started = std::time::Instant::now();
    // The lock ends while close would be giving back the seventh event: after the first
    // ack (500 ms) and close's try (500 ms) were refused, within a release's wait.
    let unlock = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1250).saturating_sub(started.elapsed()));
        holder.execute_batch("COMMIT;").unwrap();
    });
    c.stop();
    // Six handlers return; the seventh still runs at close.
    let acks: Vec<_> = held[..6]
        .iter()
        .map(|d| {
            let (c, id) = (c.clone(), d.id.clone());
            std::thread::spawn(move || c.ack(&id))
        })
        .collect();
    for a in acks {
        let e = a.join().unwrap().unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Store, "{e}");
    }
    let closed = c.close();
    let took = started.elapsed();
    assert!(
        closed.is_err(),
        "released while the file was locked: {closed:?}"
    );
    // One busy timeout for the first ack, one for close's try; one per handler would be
    // 3 s before close.
    assert!(took < Duration::from_millis(2400), "took {took:?}");
    unlock.join().unwrap();
    // Nothing given back (the leases run for 3 s from the claim) ...
    let other = Consumer::new(Arc::clone(&inbox));
    let early = other.next(7, Duration::ZERO).unwrap();
    assert!(early.is_empty(), "given back: {early:?}");
    // ... and nothing lost: once the leases run out, another consumer takes all seven.
    let mut again = early;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while again.len() < 7 && std::time::Instant::now() < until {
        again.extend(other.next(7, Duration::from_millis(200)).unwrap());
    }
    assert_eq!(again.len(), 7, "{again:?}");
}

/// A SQLite inbox (30 s lease, 200 ms busy timeout) with two events of two conversations,
/// a consumer holding both, and another connection holding the file's write lock.
fn two_held_then_locked(
    name: &str,
) -> (
    Arc<dyn Inbox>,
    Consumer,
    Vec<Delivery>,
    rusqlite::Connection,
) {
    let path = temp_path(name);
    let inbox = open(&format!(
        "sqlite://{path}?lease_ms=30000&busy_timeout_ms=200"
    ))
    .unwrap();
    for (from, id) in [("121", "wamid.TH0"), ("122", "wamid.TH1")] {
        accept(&*inbox, &testing::inbound_text(from, "x", id));
    }
    let c = Consumer::new(Arc::clone(&inbox));
    let held = c.next(2, Duration::from_secs(1)).unwrap();
    assert_eq!(held.len(), 2);
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    (inbox, c, held, holder)
}

/// A store that refused a call before the shutdown, and takes calls again: the outcomes of
/// the handlers that return during the grace go to it (a refusal before the stop left them
/// all kept in memory, told only by close's one try, and lost with it).
#[test]
fn after_a_refusal_before_the_shutdown_the_outcomes_during_the_grace_reach_the_store() {
    let (inbox, c, held, holder) = two_held_then_locked("stale-failing");
    assert!(
        c.ack(&held[0].id).is_err(),
        "acked while the file was locked"
    );
    holder.execute_batch("COMMIT;").unwrap();
    c.stop();
    assert!(c.ack(&held[1].id).unwrap(), "the store takes it again");
    assert_eq!(inbox.stats().unwrap().handled, 1);
    assert_eq!(c.close().unwrap(), 0);
    assert_eq!(
        inbox.stats().unwrap().handled,
        2,
        "the kept ack, told at close"
    );
}

/// A handler that returns after close gave up on its event (the store refused close's
/// try): its ack goes to the store, which takes it once it is free, instead of an error at
/// once with the outcome kept nowhere.
#[test]
fn an_ack_after_close_goes_to_the_store() {
    let (inbox, c, held, holder) = two_held_then_locked("after-close");
    c.stop();
    assert!(c.ack(&held[0].id).is_err());
    let closed = c.close();
    let e = closed.expect_err("closed while the file was locked");
    assert!(
        e.to_string()
            .contains("1 handled event(s) not acknowledged and 1 running event(s) not given back"),
        "{e}"
    );
    holder.execute_batch("COMMIT;").unwrap();
    assert!(c.ack(&held[1].id).unwrap(), "the late handler's ack");
    assert_eq!(inbox.stats().unwrap().handled, 1);
}

/// While another process holds the file, a delivery is answered (refused: 503) after about
/// two busy timeouts, not after every ack, renewal and claim of this process's consumers
/// queued ahead of it, each waiting one (six consumers' acks: 3.5 s here, 20 s with the
/// defaults and a backlog, when 360dialog has long given up and sees a timeout).
#[test]
fn a_delivery_while_the_file_is_locked_does_not_wait_behind_the_consumers_writes() {
    let path = temp_path("deliveries-first");
    let inbox = open(&format!("sqlite://{path}?busy_timeout_ms=500")).unwrap();
    let consumers: Vec<_> = (0..6)
        .map(|i| {
            accept(
                &*inbox,
                &testing::inbound_text(&format!("14{i}"), "x", &format!("wamid.DF{i}")),
            );
            let c = Consumer::new(Arc::clone(&inbox));
            let got = c.next(1, Duration::from_secs(1)).unwrap();
            assert_eq!(got.len(), 1);
            (c, got[0].id.clone())
        })
        .collect();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let acks: Vec<_> = consumers
        .into_iter()
        .map(|(c, id)| std::thread::spawn(move || c.ack(&id)))
        .collect();
    // The acks queue on this process's connection, the first waiting in SQLite.
    std::thread::sleep(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let e = super::testing::accept_json(
        &*inbox,
        &testing::inbound_text("150", "x", "wamid.DELIVERY"),
    )
    .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.code(), crate::ErrorCode::Store, "{e}");
    // The ack under way (up to 500 ms), then its own wait (500 ms).
    assert!(
        took < Duration::from_millis(1600),
        "answered after {took:?}"
    );
    holder.execute_batch("COMMIT;").unwrap();
    for a in acks {
        let _ = a.join().unwrap();
    }
    // Redelivered once the file is free: stored.
    let ok = super::testing::accept_json(
        &*inbox,
        &testing::inbound_text("150", "x", "wamid.DELIVERY"),
    )
    .unwrap();
    assert_eq!(ok.events.len(), 1);
}
