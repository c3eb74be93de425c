//! The SQLite inbox (`sqlite:///path.db`), also used on an in-memory
//! database for `memory://`.
//!
//! One file is shared by every process on the machine: WAL journal (readers
//! never block the writer), `synchronous=FULL` for accepting events (the
//! commit is on disk when it returns, so `200` means stored even across a
//! power cut; claims and acks skip the fsync, see `write_lazy`), a busy timeout
//! for the moments another process holds the write lock, and `BEGIN
//! IMMEDIATE` for every read-then-write step (accept, claim, ack, nack), so
//! two processes can never both see an event as new or both claim it.
//!
//! Each delivery body is stored once (`bodies`); an entry (`entries`) points
//! at its body and the event's index in it, and a claim parses the body again
//! to rebuild the exact [`Event`] (the parser is lossless and deterministic,
//! so no second serialisation format exists to drift from it).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::shared::{ParsedBodies, PruneClock, Signal, lock, ms, now_ms, reparse};
use super::{
    Accepted, DeadLetter, Delivery, Inbox, InboxOptions, InboxStats, Nacked, conversation_of,
};
use crate::fork_gate::{Gated, Inside, lock_inside, section, try_lock_now};
use crate::webhook::Event;
use crate::webhook::dedupe::{DedupeKey, FoldOutcome, MessageState, fold_status};
use crate::{Error, Result};

/// Rows one prune transaction deletes at most (a few milliseconds of the write lock).
const PRUNE_BATCH: usize = 2_000;

/// `PRAGMA application_id` of an inbox file ("wa36"), so that another
/// application's database is refused instead of being written into.
const APPLICATION_ID: i64 = 0x7761_3336;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bodies(
  id INTEGER PRIMARY KEY,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS entries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dkey TEXT NOT NULL,
  conv TEXT,
  body_id INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  state INTEGER NOT NULL,           -- 0 ready, 1 claimed, 3 dead
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_state ON entries(state, id);
CREATE INDEX IF NOT EXISTS entries_conv ON entries(conv, id) WHERE conv IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_body ON entries(body_id);
CREATE INDEX IF NOT EXISTS entries_owner ON entries(lease_owner) WHERE state = 1;
CREATE INDEX IF NOT EXISTS entries_due ON entries(state, not_before);
CREATE TABLE IF NOT EXISTS dedupe(
  dkey TEXT PRIMARY KEY,
  seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedupe_seen ON dedupe(seen_at);
CREATE TABLE IF NOT EXISTS statuses(
  msg_id TEXT PRIMARY KEY,
  status TEXT,
  ts INTEGER,
  failed INTEGER NOT NULL,
  errors TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS statuses_updated ON statuses(updated_at);
CREATE TABLE IF NOT EXISTS counters(
  name TEXT PRIMARY KEY,
  n INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The SQLite backend of [`Inbox`]. Cheap to clone (one connection per
/// handle, shared by its clones; open one handle per process).
#[derive(Clone)]
pub struct SqliteInbox {
    shared: Arc<Shared>,
}

struct Shared {
    /// The connection, and whether it is in `synchronous=FULL` mode now. Every use of it
    /// (and its close) is a section of the fork gate ([`crate::fork_gate`]), entered before
    /// the lock is taken. On a file, closed before every fork (with `scan`), and opened
    /// again at the next use ([`SqliteInbox::reopened`]).
    conn: Mutex<(Gated<Connection>, bool)>,
    /// Deliveries waiting to be stored (group commit, see [`Inbox::accept`]).
    waiting: Mutex<Vec<Arc<AcceptJob>>>,
    /// The last write on `conn` waited out the busy timeout (another process holds the
    /// file's write lock); cleared by the next write that goes through. See
    /// [`SqliteInbox::write_with`].
    stalled: AtomicBool,
    opts: InboxOptions,
    /// Bumped and notified whenever this process stores or frees an event.
    signal: Signal,
    /// When accept last pruned expired keys on its own.
    pruned: PruneClock,
    /// The last few bodies of many events that claims parsed.
    parsed: ParsedBodies<i64>,
    /// A second connection to the file, for the claims' search (`None` for `memory://`,
    /// whose database lives in its one connection). See [`SqliteInbox::candidates`].
    scan: Option<Mutex<Scan>>,
    /// The file and which file it was at open (`None` for `memory://`): an accept into a
    /// file deleted or replaced since is refused, not answered 200 (see `FileId`). Taken
    /// again when the main connection is opened again after a fork.
    file: Option<Mutex<crate::util::FileId>>,
    /// The file's path made absolute at open, to open it again after a fork (`None` for
    /// `memory://`, never closed: its database lives in its one connection).
    reopen_at: Option<std::path::PathBuf>,
    label: String,
    /// This process's look at its clocks, for a suspend or a clock set forward (see
    /// [`grace`]); its baseline moves only once a jump it saw is recorded in the file.
    clock: Mutex<crate::util::ClockWatch>,
}

/// The claims' read connection, and what its last search that found nothing saw.
struct Scan {
    conn: Gated<Connection>,
    /// `(data_version, next_due_ms, the same on the monotonic clock)` after a search found
    /// nothing: until another commit to the file (any connection, this handle's own writes
    /// included) or that time, a search would find nothing again. Both clocks: the wall
    /// clock set back, the wall time alone came that much later (a dead consumer's events
    /// waited as long, on a file nobody wrote); the machine suspended, the monotonic one.
    idle: Option<(i64, i64, Option<std::time::Instant>)>,
}

impl crate::fork_gate::CloseNow for Shared {
    fn close_now(&self) {
        if let Some(mut held) = try_lock_now(&self.conn) {
            held.0.close_for_fork();
        }
        if let Some(scan) = &self.scan
            && let Some(mut held) = try_lock_now(scan)
        {
            held.conn.close_for_fork();
        }
    }
}

impl fmt::Debug for SqliteInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteInbox")
            .field("at", &self.shared.label)
            .finish()
    }
}

impl SqliteInbox {
    /// Open (or create) the inbox file at `path`. A file that is not a
    /// SQLite database, another application's database, or one locked by
    /// another process past the busy timeout is a `store` error; the file is
    /// left as it was.
    pub fn open(path: &str, opts: InboxOptions) -> Result<Self> {
        crate::input::file_path_option("inbox", std::path::Path::new(path))?;
        crate::util::retry_while_busy(
            opts.busy_timeout,
            |f| matches!(f, OpenFailure::Busy(_)),
            || Self::open_once(path, opts.clone()),
        )
        .map_err(|f| f.into_error(path))
    }

    fn open_once(path: &str, opts: InboxOptions) -> std::result::Result<Self, OpenFailure> {
        let _inside = section();
        let label = path.to_string();
        let fail = |e: rusqlite::Error| OpenFailure::from_sqlite(&label, e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(opts.busy_timeout).map_err(fail)?;
        crate::util::persist_wal(&conn).map_err(fail)?;
        // Reading the header first: a corrupt file fails here, before any write.
        // Tables first, then the id: another process may create the schema
        // (and set the id in the same transaction) between the two reads, and
        // in this order that can only make the id newer than the count.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(fail)?;
        let app_id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(fail)?;
        if tables > 0 && app_id != APPLICATION_ID {
            return Err(OpenFailure::Other(Error::Store(format!(
                "cannot open inbox {label}: the file is another application's SQLite database (left untouched)"
            ))));
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenFailure::Other(Error::Store(format!(
                "cannot open inbox {label}: could not switch to WAL mode (got {mode})"
            ))));
        }
        conn.execute_batch("PRAGMA synchronous=FULL;")
            .map_err(fail)?;
        let mut inbox = SqliteInbox::init(conn, opts.clone(), label.clone())?;
        let scan = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        scan.busy_timeout(opts.busy_timeout).map_err(fail)?;
        crate::util::persist_wal(&scan).map_err(fail)?;
        scan.execute_batch("PRAGMA query_only=1;").map_err(fail)?;
        let id = crate::util::FileId::of(std::path::Path::new(path)).map_err(|e| {
            OpenFailure::Other(Error::Store(format!("cannot open inbox {label}: {e}")))
        })?;
        let reopen_at = std::path::absolute(path).map_err(|e| {
            OpenFailure::Other(Error::Store(format!("cannot open inbox {label}: {e}")))
        })?;
        if let Some(shared) = Arc::get_mut(&mut inbox.shared) {
            shared.scan = Some(Mutex::new(Scan {
                conn: Gated::new(scan),
                idle: None,
            }));
            shared.file = Some(Mutex::new(id));
            shared.reopen_at = Some(reopen_at);
        }
        crate::fork_gate::close_at_every_fork(Arc::downgrade(&inbox.shared) as _);
        Ok(inbox)
    }

    /// A private in-memory inbox (`memory://`): one process, not durable.
    pub fn memory(opts: InboxOptions) -> Result<Self> {
        let _inside = section();
        let conn =
            Connection::open_in_memory().map_err(|e| store_error("memory://", "cannot open", e))?;
        SqliteInbox::init(conn, opts, "memory://".to_string())
            .map_err(|f| f.into_error("memory://"))
    }

    fn init(
        mut conn: Connection,
        opts: InboxOptions,
        label: String,
    ) -> std::result::Result<Self, OpenFailure> {
        let fail = |e: rusqlite::Error| OpenFailure::from_sqlite(&label, e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute_batch(SCHEMA).map_err(fail)?;
        tx.execute_batch(&format!("PRAGMA application_id={APPLICATION_ID};"))
            .map_err(fail)?;
        let shortest = tx
            .query_row(
                "INSERT INTO counters(name, n) VALUES ('lease_min', ?1)
                 ON CONFLICT(name) DO UPDATE SET n = min(n, excluded.n) RETURNING n",
                [ms(opts.lease)],
                |r| r.get(0),
            )
            .map_err(fail)?;
        // The longest lease and retry delay of the processes on the file: nothing written
        // under a right clock is further ahead than these (see [`ahead_of_the_clock`]).
        let mut longest = tx
            .prepare(
                "INSERT INTO counters(name, n) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET n = max(n, excluded.n)",
            )
            .map_err(fail)?;
        longest
            .execute(params!["lease_max", ms(opts.lease)])
            .map_err(fail)?;
        longest
            .execute(params!["retry_max", ms(opts.retry_max)])
            .map_err(fail)?;
        drop(longest);
        tx.commit().map_err(fail)?;
        let mut clock = crate::util::ClockWatch::for_leases(opts.lease);
        clock.shortest_lease(shortest);
        Ok(SqliteInbox {
            shared: Arc::new(Shared {
                conn: Mutex::new((Gated::new(conn), true)),
                waiting: Mutex::new(Vec::new()),
                stalled: AtomicBool::new(false),
                signal: Signal::new(),
                pruned: PruneClock::new(),
                parsed: ParsedBodies::new(),
                scan: None,
                file: None,
                reopen_at: None,
                label,
                clock: Mutex::new(clock),
                opts,
            }),
        })
    }

    fn notify(&self) {
        self.shared.signal.notify();
    }

    /// Makes this process's next look at its clocks see the wall clock jump ahead by `ms`
    /// (tests: the wall clock itself cannot be moved; they move the leases back instead).
    #[cfg(test)]
    pub(crate) fn clock_jumped(&self, ms: i64) {
        lock(&self.shared.clock).shift(ms);
    }

    /// Run `f` in a `BEGIN IMMEDIATE` transaction that is on disk when it
    /// returns (accepting events, replaying or dropping dead letters).
    fn write<T>(
        &self,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.write_with(true, false, what, f)
    }

    /// Run `f` in a `BEGIN IMMEDIATE` transaction; with `durable` false the
    /// commit is not fsync'd (`synchronous=NORMAL`: still atomic and safe
    /// against a process crash, and made durable by the next durable commit
    /// or checkpoint). Used for claims, lease renewals, acks and nacks: losing
    /// one to a power cut only hands an event out again, which at-least-once
    /// allows; it saves two fsyncs per event.
    fn write_lazy<T>(
        &self,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.write_with(false, true, what, f)
    }

    /// [`Self::write_lazy`] that first records in the transaction a jump of the wall clock
    /// this process sees and has not recorded yet (see [`grace`]). The jump is looked for
    /// under the write lock, so no claim of another process commits between the look and
    /// the record; the watch's baseline moves only once the transaction is committed, so a
    /// failed write (the file locked past the busy timeout) leaves the jump to the next look,
    /// and another thread of this process sees it too until then (and records it again,
    /// which changes nothing).
    /// `yields`: refused at once, as [`Self::write_lazy`] is, while deliveries wait for a
    /// file another process holds (see [`Self::write_with`]); lease renewals pass false.
    fn write_noting_jumps<T>(
        &self,
        yields: bool,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut look = None;
        let out = self.write_with(false, yields, what, |tx| {
            let lease_ms = ms(self.shared.opts.lease);
            settle_set_back(tx, now_ms(), lease_ms)?;
            look = self.pending_jump(shortest_lease(tx, lease_ms)?);
            if let Some(l) = &look {
                start_grace(tx, now_ms(), lease_ms, l.recent)?;
            }
            f(tx)
        })?;
        if let Some(l) = look {
            lock(&self.shared.clock).commit(l);
        }
        Ok(out)
    }

    /// A jump of the wall clock this process sees and has not recorded yet, looked for
    /// with `shortest` (the shortest lease on the file, see [`shortest_lease`]).
    fn pending_jump(&self, shortest: i64) -> Option<crate::util::Look> {
        let mut clock = lock(&self.shared.clock);
        clock.shortest_lease(shortest);
        clock.pending()
    }

    /// `durable`: see [`Self::write_lazy`]. `yields`: a consumer's write, refused at once
    /// while deliveries wait (below).
    fn write_with<T>(
        &self,
        durable: bool,
        yields: bool,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut guard = lock_inside(&self.shared.conn);
        // Deliveries first while another process holds the file: each write on this
        // connection may wait out the busy timeout, and a delivery queued behind the
        // consumers' acks, renewals and claims waited for all of them (20 s before its 503
        // with the defaults), so 360dialog timed out instead of hearing 503. A consumer's
        // write fails at once then; its ack is told again at the next renewal, a claim is
        // tried again. (Deliveries, dead-letter replays and drops still wait: `write`.)
        // Lease renewals wait too: one refused is tried again only a third of a lease later,
        // and a lock just over two thirds of a lease long could then let the lease run out
        // under a handler that still runs. They are one write per tick per consumer.
        if yields
            && self.shared.stalled.load(Ordering::SeqCst)
            && !lock(&self.shared.waiting).is_empty()
        {
            return Err(Error::Store(format!(
                "{what} inbox {}: the file is locked by another process past the busy \
                 timeout; deliveries waiting to be stored go first",
                self.shared.label
            )));
        }
        self.write_on(&mut guard, durable, what, f)
    }

    /// The connection in `held` opened again when it was closed before a fork (see
    /// [`crate::fork_gate::close_at_every_fork`]). Inside the caller's section: nothing here
    /// logs or retries (the busy timeout waits).
    fn reopened(&self, held: &mut (Gated<Connection>, bool)) -> Result<()> {
        if !held.0.is_open() {
            let conn = self.open_again("PRAGMA synchronous=FULL;")?;
            if let Some(file) = &self.shared.file {
                // Never a file that replaced the inbox's since: the connection opened there
                // is closed again, and every use fails as the check does.
                let mut file = lock(file);
                *file = file
                    .taken_again()
                    .map_err(|why| self.replaced("cannot open again", &why))?;
            }
            held.0.reopen(conn);
            held.1 = true;
        }
        Ok(())
    }

    /// The claims' search connection, locked inside a section, opened again when it was
    /// closed before a fork.
    fn scan_conn<'a>(&self, scan: &'a Mutex<Scan>) -> Result<Inside<'a, Scan>> {
        let mut held = lock_inside(scan);
        if !held.conn.is_open() {
            if let Some(file) = &self.shared.file {
                lock(file)
                    .same_file()
                    .map_err(|why| self.replaced("cannot open again", &why))?;
            }
            held.conn.reopen(self.open_again("PRAGMA query_only=1;")?);
            held.idle = None;
        }
        Ok(held)
    }

    /// The store error for a file deleted or replaced since this process opened it.
    fn replaced(&self, what: &str, why: &str) -> Error {
        Error::Store(format!(
            "{what} inbox {}: {why}; restart the process to open the file there now",
            self.shared.label
        ))
    }

    /// The file opened at [`SqliteInbox::open`] opened again ([`crate::util::open_again`]),
    /// with `setup` run on the connection.
    fn open_again(&self, setup: &str) -> Result<Connection> {
        let fail = |e| store_error(&self.shared.label, "cannot open again", e);
        let Some(path) = &self.shared.reopen_at else {
            return Err(Error::Internal("memory inbox closed".into()));
        };
        let conn = crate::util::open_again(path, self.shared.opts.busy_timeout).map_err(fail)?;
        conn.execute_batch(setup).map_err(fail)?;
        Ok(conn)
    }

    /// [`Self::write_with`] on a connection the caller has locked already.
    fn write_on<T>(
        &self,
        held: &mut (Gated<Connection>, bool),
        durable: bool,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let fail = |e: rusqlite::Error| {
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) {
                self.shared.stalled.store(true, Ordering::SeqCst);
            }
            store_error(&self.shared.label, what, e)
        };
        self.reopened(held)?;
        let (conn, full) = held;
        if *full != durable {
            conn.execute_batch(if durable {
                "PRAGMA synchronous=FULL;"
            } else {
                "PRAGMA synchronous=NORMAL;"
            })
            .map_err(fail)?;
            *full = durable;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let out = f(&tx).map_err(fail)?;
        tx.commit().map_err(fail)?;
        self.shared.stalled.store(false, Ordering::SeqCst);
        Ok(out)
    }

    /// Store every waiting delivery in one durable transaction (one fsync for
    /// all of them) and give each its outcome. Called with the connection held,
    /// so no other batch runs at the same time.
    fn store_waiting(&self, held: &mut (Gated<Connection>, bool)) {
        let batch = std::mem::take(&mut *lock(&self.shared.waiting));
        if batch.is_empty() {
            return;
        }
        // Opened again first when a fork closed it: that takes the log's identities anew.
        let ready = self.reopened(held).and_then(|()| match &self.shared.file {
            Some(file) => lock(file)
                .check()
                .map_err(|why| self.replaced("cannot store events in", &why)),
            None => Ok(()),
        });
        if let Err(e) = ready {
            fail_all(&batch, e);
            return;
        }
        let now = now_ms();
        let cutoff = now - ms(self.shared.opts.retention);
        let inputs: Vec<(Vec<u8>, Vec<Event>)> = batch.iter().map(|j| j.take_input()).collect();
        let stored = self.write_on(held, true, "cannot store events in", |tx| {
            let mut outcomes = Vec::with_capacity(inputs.len());
            let (mut duplicates, mut stale) = (0, 0);
            for (body, events) in &inputs {
                let o = store_delivery(tx, body, events, now, cutoff)?;
                duplicates += o.duplicates;
                stale += o.stale;
                outcomes.push(o);
            }
            bump(tx, "duplicates", duplicates as i64)?;
            bump(tx, "stale", stale as i64)?;
            Ok(outcomes)
        });
        match stored {
            Ok(outcomes) => {
                for ((job, (_, events)), o) in batch.iter().zip(inputs).zip(outcomes) {
                    let kept = events
                        .into_iter()
                        .zip(o.kept)
                        .filter_map(|(ev, keep)| keep.then_some(ev))
                        .collect();
                    job.finish(Ok(Accepted {
                        events: kept,
                        duplicates: o.duplicates,
                        stale: o.stale,
                    }));
                }
            }
            // Nothing of the batch was stored (the transaction rolled back):
            // every delivery in it gets the error, so each answers 503.
            Err(e) => fail_all(&batch, e),
        }
    }

    /// The periodic prune, on a thread of its own: the delivery that found it due must not
    /// wait for it (its answer is due in 80 ms). Best effort, as before: a prune that fails
    /// or cannot start is tried again at the next interval.
    fn prune_in_background(&self) {
        let me = SqliteInbox {
            shared: Arc::clone(&self.shared),
        };
        let started = std::thread::Builder::new()
            .name("wa360-inbox-prune".into())
            .spawn(move || {
                if let Err(e) = me.prune() {
                    tracing::warn!(target: "wa360::inbox", inbox = %me.shared.label, error = %e, "inbox prune failed; tried again later");
                }
            });
        if let Err(e) = started {
            tracing::warn!(target: "wa360::inbox", inbox = %self.shared.label, error = %e, "inbox prune not started; tried again later");
        }
    }

    /// The ids of up to `want` entries claimable at `now`, oldest first, found without
    /// the write lock: on a file, in a read transaction of the second connection (WAL
    /// readers block no writer), so a long search never holds up an `accept` in this
    /// process or another. The claim then takes each one only if it is still claimable.
    /// A search that found nothing is not repeated until the file changes or the next
    /// retry time or lease end comes: an idle consumer's poll costs one read of
    /// `data_version`.
    ///
    /// Also says whether the clock was set back: within a grace ([`settle_set_back`] is then
    /// due), or after leases or retry times were written ahead of it
    /// ([`pull_back_to_the_clock`] is then due); both are a write the caller makes.
    fn candidates(&self, now: i64, want: i64) -> Result<(Vec<i64>, bool)> {
        let fail = |e| store_error(&self.shared.label, "cannot search", e);
        let lease_ms = ms(self.shared.opts.lease);
        // The candidates, and while none: when the next could be (a retry time, a lease's
        // end, or the end of a grace).
        let search = |c: &Connection, idle: bool| -> rusqlite::Result<(Vec<i64>, i64, bool)> {
            if overshoot(c, now, lease_ms)? > 0 || ahead_of_the_clock(c, now, lease_ms)? {
                return Ok((Vec::new(), now, true));
            }
            let grace = grace_in_force(c, now, lease_ms)?;
            let gap = grace.map_or(0, |(gap, _)| gap);
            let judged = now - gap;
            let mut found = Vec::new();
            let mut ready = c.prepare_cached(CLAIM_READY)?;
            for id in ready.query_map(params![judged, want, now], |r| r.get::<_, i64>(0))? {
                found.push(id?);
            }
            let mut expired = c.prepare_cached(CLAIM_EXPIRED)?;
            for id in expired.query_map(params![judged, want], |r| r.get::<_, i64>(0))? {
                found.push(id?);
            }
            found.sort_unstable();
            let mut due = i64::MAX;
            if idle && found.is_empty() {
                let next: Option<i64> =
                    c.query_row(NEXT_DUE, params![now, judged, gap], |r| r.get(0))?;
                due = next.unwrap_or(i64::MAX);
                if let Some((_, until)) = grace {
                    due = due.min(until);
                }
            }
            Ok((found, due, false))
        };
        let Some(scan) = &self.shared.scan else {
            return self
                .read("cannot search", |c| search(c, false))
                .map(|(found, _, settle)| (found, settle));
        };
        let mut scan = self.scan_conn(scan)?;
        let Scan { conn, idle } = &mut *scan;
        let tx = conn.unchecked_transaction().map_err(fail)?;
        let version: i64 = tx
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(fail)?;
        if let Some((seen, due, due_mono)) = *idle
            && seen == version
            && now < due
            && due_mono.is_none_or(|d| std::time::Instant::now() < d)
        {
            return Ok((Vec::new(), false));
        }
        let (found, due, settle) = search(&tx, true).map_err(fail)?;
        let due_mono = u64::try_from(due.saturating_sub(now))
            .ok()
            .and_then(|d| std::time::Instant::now().checked_add(Duration::from_millis(d)));
        *idle = (found.is_empty() && !settle).then_some((version, due, due_mono));
        tx.commit().map_err(fail)?;
        Ok((found, settle))
    }

    fn read<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut guard = lock_inside(&self.shared.conn);
        self.reopened(&mut guard)?;
        f(&guard.0).map_err(|e| store_error(&self.shared.label, what, e))
    }
}

/// Every delivery of a batch that was not stored gets `e` as a store error (each answers
/// 503).
fn fail_all(batch: &[Arc<AcceptJob>], e: Error) {
    // Its own text: `to_string` of a store error already starts "store error:".
    let text = match e {
        Error::Store(m) => m,
        other => other.to_string(),
    };
    for job in batch {
        job.finish(Err(Error::Store(text.clone())));
    }
}

/// Why one try at opening the file failed: busy (worth another try) or not.
enum OpenFailure {
    Busy(rusqlite::Error),
    Other(Error),
}

impl OpenFailure {
    fn from_sqlite(label: &str, e: rusqlite::Error) -> Self {
        if crate::util::sqlite_busy(&e) {
            OpenFailure::Busy(e)
        } else {
            OpenFailure::Other(store_error(label, "cannot open", e))
        }
    }

    /// The error to give up with: a busy file past the busy timeout, or the other failure.
    fn into_error(self, label: &str) -> Error {
        match self {
            OpenFailure::Busy(e) => store_error(label, "cannot open", e),
            OpenFailure::Other(e) => e,
        }
    }
}

/// One delivery waiting for the next group commit.
struct AcceptJob {
    input: Mutex<Option<(Vec<u8>, Vec<Event>)>>,
    result: Mutex<Option<Result<Accepted>>>,
}

impl AcceptJob {
    fn new(body: Vec<u8>, events: Vec<Event>) -> Self {
        AcceptJob {
            input: Mutex::new(Some((body, events))),
            result: Mutex::new(None),
        }
    }

    fn take_input(&self) -> (Vec<u8>, Vec<Event>) {
        lock(&self.input).take().unwrap_or_default()
    }

    fn finish(&self, r: Result<Accepted>) {
        *lock(&self.result) = Some(r);
    }

    fn is_finished(&self) -> bool {
        lock(&self.result).is_some()
    }

    fn take_result(&self) -> Result<Accepted> {
        lock(&self.result).take().unwrap_or_else(|| {
            Err(Error::Internal(
                "an inbox batch ended without an outcome for a delivery".into(),
            ))
        })
    }
}

/// What storing one delivery did: which of its events were kept, and the
/// counts of the others.
struct Stored {
    kept: Vec<bool>,
    duplicates: usize,
    stale: usize,
}

/// Store one delivery's new events inside `tx`: each event's dedupe key is
/// recorded; a new event that the status fold does not drop gets an entry
/// pointing at the body (stored once per delivery).
fn store_delivery(
    tx: &rusqlite::Transaction<'_>,
    body: &[u8],
    events: &[Event],
    now: i64,
    cutoff: i64,
) -> rusqlite::Result<Stored> {
    let mut out = Stored {
        kept: vec![false; events.len()],
        duplicates: 0,
        stale: 0,
    };
    let mut body_id: Option<i64> = None;
    for (idx, ev) in events.iter().enumerate() {
        let key = DedupeKey::of_event(ev).to_string();
        // New, or seen so long ago that the key expired.
        let fresh = tx.execute(
            "INSERT INTO dedupe(dkey, seen_at) VALUES (?1, ?2)
             ON CONFLICT(dkey) DO UPDATE SET seen_at = excluded.seen_at
             WHERE dedupe.seen_at < ?3",
            params![key, now, cutoff],
        )? == 1;
        if !fresh {
            out.duplicates += 1;
            continue;
        }
        if !fold_in_tx(tx, ev, now)?.is_reportable() {
            out.stale += 1;
            continue;
        }
        let bid = match body_id {
            Some(b) => b,
            None => {
                tx.execute("INSERT INTO bodies(body) VALUES (?1)", [body])?;
                let b = tx.last_insert_rowid();
                body_id = Some(b);
                b
            }
        };
        tx.execute(
            "INSERT INTO entries(dkey, conv, body_id, idx, state, accepted_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            params![key, conversation_of(ev), bid, idx as i64, now],
        )?;
        out.kept[idx] = true;
    }
    Ok(out)
}

fn store_error(label: &str, what: &str, e: rusqlite::Error) -> Error {
    let hint = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            " (locked by another process past the busy timeout)"
        }
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            " (the file is corrupt or not a SQLite database; it was left untouched)"
        }
        Some(rusqlite::ErrorCode::DiskFull) => " (disk full)",
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::PermissionDenied) => {
            " (check the directory exists and is writable)"
        }
        _ => "",
    };
    Error::Store(format!("{what} inbox {label}: {e}{hint}"))
}

/// Which dead letters a replay / drop means: `Some(None)` = all,
/// `Some(Some(id))` = one, `None` = an id that cannot exist (matches none).
fn dead_target(id: Option<&str>) -> Option<Option<i64>> {
    match id.map(str::parse::<i64>) {
        Some(Err(_)) => None,
        Some(Ok(i)) => Some(Some(i)),
        None => Some(None),
    }
}

fn bump(tx: &rusqlite::Transaction<'_>, name: &str, by: i64) -> rusqlite::Result<()> {
    if by != 0 {
        tx.execute(
            "INSERT INTO counters(name, n) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET n = n + excluded.n",
            params![name, by],
        )?;
    }
    Ok(())
}

/// An entry of a conversation waits while an earlier entry of it is live (ready or
/// claimed), or while a later one is claimed under a live lease (a dead letter replayed
/// after it). `?1` is the time leases are judged at (now, or earlier in a grace after a
/// clock jump).
macro_rules! not_blocked {
    ($e:literal) => {
        concat!(
            "(",
            $e,
            ".conv IS NULL OR NOT EXISTS (
                SELECT 1 FROM entries p WHERE p.conv = ",
            $e,
            ".conv AND p.id <> ",
            $e,
            ".id
                  AND ((p.id < ",
            $e,
            ".id AND p.state IN (0, 1))
                       OR (p.state = 1 AND p.lease_until >= ?1))))"
        )
    };
}
/// Ready entries whose retry time has come, each kind in id order through the
/// `(state, id)` index: one query with `OR` sorted every candidate in a temporary tree
/// (and, while it joined the bodies, every body with it).
// `+e.not_before`: not an index term, so the planner walks `entries_state` in id order and
// stops at the limit; through `entries_due` it would sort every ready entry first.
// `?1` the time leases are judged at (see [`grace`]), `?3` now.
const CLAIM_READY: &str = concat!(
    "SELECT e.id FROM entries e WHERE e.state = 0 AND +e.not_before <= ?3 AND ",
    not_blocked!("e"),
    " ORDER BY e.id LIMIT ?2"
);
/// Claimed entries whose lease ran out (their consumer stopped), by the time leases are
/// judged at (`?1`; see [`grace`]). Judged at now within a grace, the search found the
/// leases the grace protects, oldest first, and the take left them: `2 × max` of those hid
/// a dead consumer's events behind them until the grace ended.
const CLAIM_EXPIRED: &str = concat!(
    "SELECT e.id FROM entries e WHERE e.state = 1 AND e.lease_until < ?1 AND ",
    not_blocked!("e"),
    " ORDER BY e.id LIMIT ?2"
);
/// Take an entry (`?1` the time leases are judged at: now, or earlier within a grace after
/// a clock jump, see [`grace`]; `?2` id, `?3` consumer, `?4` lease end, `?5` max attempts,
/// `?6` now) only while it is still claimable by the rule of the search.
const CLAIM_TAKE: &str = concat!(
    "UPDATE entries SET state = 1, lease_owner = ?3, lease_until = ?4, attempts = attempts + 1
     WHERE id = ?2 AND attempts < ?5
       AND ((state = 0 AND not_before <= ?6) OR (state = 1 AND lease_until < ?1)) AND ",
    not_blocked!("entries"),
    " RETURNING body_id, idx, attempts, conv"
);
/// An entry whose attempts are spent goes to the dead letters (`?1` the time leases are
/// judged at, as for [`CLAIM_TAKE`], `?2` id, `?3` max attempts): a lease that ran out on
/// its last attempt, or a ready entry with as many attempts as allowed (`max_attempts`
/// lowered since, or another process's higher one).
const CLAIM_EXPIRE_LAST: &str = "UPDATE entries SET state = 3, lease_owner = NULL,
       last_error = coalesce(last_error, CASE state WHEN 1
         THEN 'lease expired on the last attempt (the consumer stopped while handling it)'
         ELSE 'attempts used up' END)
     WHERE id = ?2 AND attempts >= ?3 AND (state = 0 OR (state = 1 AND lease_until < ?1))";
/// The next time a search could find something without a commit in between: the
/// earliest retry time or lease end still to come (`?1` now, `?2` the time leases are
/// judged at, `?3` the gap between the two: a lease ending at `t` runs out at `t + gap`).
const NEXT_DUE: &str = "SELECT min(t) FROM (
       SELECT min(not_before) AS t FROM entries WHERE state = 0 AND not_before > ?1
       UNION ALL SELECT min(lease_until) + ?3 FROM entries WHERE state = 1 AND lease_until >= ?2)";

/// The machine suspended, or its clock set forward, stops every consumer's renewals while
/// the wall clock, which leases are measured on, goes on: the first claim after it would
/// take over events that live consumers are still handling, and they would run twice. Each
/// process watches its own clocks ([`crate::util::ClockWatch`], looked at by every claim and
/// renewal, under the write lock); the first write after a jump records a grace in the file
/// (`grace_gap`, `grace_until`, `grace_len` in `counters`), and until `grace_until` every
/// process's claims judge leases at `now - gap`: only leases that ran out before the jump
/// are taken over, while the live consumers renew theirs. (Gaps between claims are not the
/// sign: an idle worker claims nothing, and a dead worker's events then waited an extra
/// lease.) Returns the gap in force (0 outside a grace).
fn grace(c: &Connection, now: i64, lease_ms: i64) -> rusqlite::Result<i64> {
    Ok(grace_in_force(c, now, lease_ms)?.map_or(0, |(gap, _)| gap))
}

/// The shortest `lease_ms` of the processes that opened the file (each records its own at
/// open, in `lease_min`), at most this one's (`lease_ms`): a jump counts from a third of it
/// in every process. Each counted from its own, so one with a 30 s lease did not record a
/// 4 s jump that ran out a live 3 s lease, and took it over. (A process with a short lease
/// that has gone keeps it low: more jumps of a second or so count, each a grace that holds
/// a dead worker's events at most one lease longer.)
fn shortest_lease(c: &Connection, lease_ms: i64) -> rusqlite::Result<i64> {
    Ok(counter_value(c, "lease_min")?.map_or(lease_ms, |n| n.min(lease_ms)))
}

/// The counter `name` of the file, if it was ever written.
fn counter_value(c: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT n FROM counters WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()
}

/// How far the grace's end is further off than its length: the clock set back since it
/// was recorded (0 outside a grace).
fn overshoot(c: &Connection, now: i64, lease_ms: i64) -> rusqlite::Result<i64> {
    let until = counter_value(c, "grace_until")?.unwrap_or(0);
    if now >= until {
        return Ok(0);
    }
    let len = counter_value(c, "grace_len")?.unwrap_or(lease_ms);
    Ok((until - now).saturating_sub(len).max(0))
}

/// The clock set back within a grace: its end and its gap move back by the overshoot, once,
/// in the file. Read without this, the gap shrank by the overshoot only while the clock was
/// still behind; as it went on, the time leases were judged at stayed where the jump began,
/// and a consumer that died meanwhile had its events taken over only once the wall clock
/// caught up with the grace's end, as long after as the clock had been set back (a clock
/// set a day ahead and put right: a day).
fn settle_set_back(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    lease_ms: i64,
) -> rusqlite::Result<()> {
    let over = overshoot(tx, now, lease_ms)?;
    if over > 0 {
        tx.execute(
            "UPDATE counters SET n = n - ?1 WHERE name IN ('grace_until', 'grace_gap')",
            [over],
        )?;
    }
    Ok(())
}

/// The longest lease and retry delay of the processes on the file (each records its own at
/// open, in `lease_max` and `retry_max`), the lease at least this one's (`lease_ms`).
fn longest_waits(c: &Connection, lease_ms: i64) -> rusqlite::Result<(i64, i64)> {
    let lease = counter_value(c, "lease_max")?.map_or(lease_ms, |n| n.max(lease_ms));
    Ok((lease, counter_value(c, "retry_max")?.unwrap_or(i64::MAX)))
}

/// Whether a lease ends or a retry is due further ahead than any process writes them: the
/// wall clock was ahead when they were written (a lease renewed, a retry scheduled) and has
/// been set back since. Left so, a consumer that died holding such a lease had its events
/// taken over only as long after as the clock had been ahead (a day ahead: a day), and such
/// a retry waited as long; [`pull_back_to_the_clock`] brings them back.
///
/// A second of margin: `now` was read before the search, and a claim or nack made since by
/// another process wrote from a later one.
fn ahead_of_the_clock(c: &Connection, now: i64, lease_ms: i64) -> rusqlite::Result<bool> {
    let (lease, retry) = longest_waits(c, lease_ms)?;
    let past = |wait: i64| now.saturating_add(wait).saturating_add(1_000);
    let mut leases =
        c.prepare_cached("SELECT 1 FROM entries WHERE state = 1 AND lease_until > ?1 LIMIT 1")?;
    if leases.exists([past(lease)])? {
        return Ok(true);
    }
    c.prepare_cached("SELECT 1 FROM entries WHERE state = 0 AND not_before > ?1 LIMIT 1")?
        .exists([past(retry)])
}

/// Leases and retry times found [`ahead_of_the_clock`] come back to the longest a process
/// on the file writes from now: a live holder renews its lease within a third of its own,
/// so it keeps it; a dead one's events are taken over a lease from now.
fn pull_back_to_the_clock(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    lease_ms: i64,
) -> rusqlite::Result<()> {
    let (lease, retry) = longest_waits(tx, lease_ms)?;
    tx.execute(
        "UPDATE entries SET lease_until = ?1 WHERE state = 1 AND lease_until > ?1",
        [now.saturating_add(lease)],
    )?;
    tx.execute(
        "UPDATE entries SET not_before = ?1 WHERE state = 0 AND not_before > ?1",
        [now.saturating_add(retry)],
    )?;
    Ok(())
}

/// The grace in force, as (gap, end), if any: see [`grace`]. `grace_len` is how far off its
/// end was when it was recorded; an end further off than that now means the clock was set
/// back since, by at least the overshoot. What is left of the jump (the gap less the
/// overshoot) still makes live leases look run out, so the gap shrinks by the overshoot
/// rather than going: leases are then judged at the time the grace began less its gap, and
/// a set-back larger than the jump leaves nothing. (The set-back may be larger than the
/// overshoot: the gap then errs on the long side, which only holds a dead consumer's events
/// a little longer.) `lease_ms` stands in for `grace_len` in a file whose grace was recorded
/// without it.
fn grace_in_force(c: &Connection, now: i64, lease_ms: i64) -> rusqlite::Result<Option<(i64, i64)>> {
    let until = counter_value(c, "grace_until")?.unwrap_or(0);
    if now >= until {
        return Ok(None);
    }
    let over = overshoot(c, now, lease_ms)?;
    let gap = counter_value(c, "grace_gap")?
        .unwrap_or(0)
        .saturating_sub(over);
    Ok((gap > 0).then_some((gap, until)))
}

/// Record jumps of the wall clock seen by this process (`recent` ms: all it saw within the
/// last lease, see [`crate::util::Look::recent`]). The gap becomes the larger of the one in
/// force and `recent`, not their sum: every process sees the same jumps and records them,
/// and a process that saw only the last of them records less than one that saw them all.
/// The grace lasts at least one lease (this process's) from now, and never ends sooner than
/// it would have: a process with a shorter lease must not cut short the grace of one with
/// a longer one, nor a later jump, which moves the wall clock towards the end, the grace of
/// an earlier one.
fn start_grace(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    lease_ms: i64,
    recent: i64,
) -> rusqlite::Result<()> {
    let (gap, until) = grace_in_force(tx, now, lease_ms)?.unwrap_or((0, now));
    let gap = gap.max(recent);
    let until = until.max(now.saturating_add(lease_ms));
    let mut set = tx.prepare_cached(
        "INSERT INTO counters(name, n) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET n = excluded.n",
    )?;
    set.execute(params!["grace_gap", gap])?;
    set.execute(params!["grace_until", until])?;
    set.execute(params!["grace_len", until - now])?;
    Ok(())
}

fn fold_in_tx(
    tx: &rusqlite::Transaction<'_>,
    event: &Event,
    now: i64,
) -> rusqlite::Result<FoldOutcome> {
    let Some(s) = event.as_status() else {
        return Ok(FoldOutcome::Advanced);
    };
    let (Some(id), Some(status)) = (s.id(), s.status()) else {
        return Ok(FoldOutcome::Unrecognised);
    };
    let prev: Option<MessageState> = tx
        .query_row(
            "SELECT status, ts, failed, errors FROM statuses WHERE msg_id = ?1",
            [id],
            |r| {
                let errors: String = r.get(3)?;
                Ok(MessageState {
                    status: r.get(0)?,
                    timestamp: r.get(1)?,
                    failed: r.get::<_, i64>(2)? != 0,
                    errors: serde_json::from_str(&errors).unwrap_or_default(),
                })
            },
        )
        .optional()?;
    let (outcome, next) = fold_status(prev.as_ref(), status, s.timestamp(), s.errors());
    if let Some(n) = next {
        let errors = serde_json::to_string(&n.errors).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT INTO statuses(msg_id, status, ts, failed, errors, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(msg_id) DO UPDATE SET status = excluded.status, ts = excluded.ts,
               failed = excluded.failed, errors = excluded.errors, updated_at = excluded.updated_at",
            params![id, n.status, n.timestamp, i64::from(n.failed), errors, now],
        )?;
    }
    Ok(outcome)
}

/// Events ready to claim (waiting, or held past their lease) and in flight at `now`.
fn backlog(c: &Connection, now: i64) -> rusqlite::Result<(u64, u64)> {
    let count = |sql: &str| c.query_row(sql, [now], |r| r.get::<_, i64>(0));
    let u = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok((
        u(count(
            "SELECT count(*) FROM entries WHERE state = 0 OR (state = 1 AND lease_until < ?1)",
        )?),
        u(count(
            "SELECT count(*) FROM entries WHERE state = 1 AND lease_until >= ?1",
        )?),
    ))
}

impl Inbox for SqliteInbox {
    /// Group commit: a delivery is queued, then whoever holds the connection
    /// next stores every queued delivery in one transaction with one fsync.
    /// While one batch is being written, the deliveries that arrive queue up
    /// and go together in the next, so under concurrent load the time to
    /// answer stays near one fsync instead of one fsync per waiting request.
    /// Each call still returns only once its own delivery is on disk.
    fn accept(&self, body: &[u8], events: &[Event]) -> Result<Accepted> {
        if events.is_empty() {
            return Ok(Accepted::default());
        }
        let job = Arc::new(AcceptJob::new(body.to_vec(), events.to_vec()));
        lock(&self.shared.waiting).push(Arc::clone(&job));
        let out = {
            let mut held = lock_inside(&self.shared.conn);
            // A batch drains the queue only with the connection held and
            // finishes its jobs before letting go: if this job is not finished
            // now, it is still queued and this call writes the batch.
            if !job.is_finished() {
                self.store_waiting(&mut held);
            }
            job.take_result()
        }?;
        if !out.events.is_empty() {
            self.notify();
        }
        if self.shared.pruned.due() {
            self.prune_in_background();
        }
        Ok(out)
    }

    fn claim(&self, consumer: &str, max: usize) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max_attempts = i64::from(self.shared.opts.max_attempts);
        // A jump is recorded before the search, so that it judges leases as the take will.
        // (The take records it too: one may come meanwhile.) Looked for with the shortest
        // lease on the file as it is now: a process with a shorter one may have opened it
        // since this one last wrote, and a look with the larger slack would use up a jump
        // that one's lease cannot take. Read on the search's connection: the main one waits
        // behind this process's writes (up to the busy timeout), and an idle poll must not.
        let lease_ms = ms(self.shared.opts.lease);
        let shortest = match &self.shared.scan {
            Some(scan) => shortest_lease(&self.scan_conn(scan)?.conn, lease_ms)
                .map_err(|e| store_error(&self.shared.label, "cannot claim from", e))?,
            None => self.read("cannot claim from", |c| shortest_lease(c, lease_ms))?,
        };
        if self.pending_jump(shortest).is_some() {
            self.write_noting_jumps(true, "cannot claim from", |_| Ok(()))?;
        }
        let mut rows = Vec::new();
        // Entries dead-lettered on the way (their attempts spent) make room: search again,
        // a few times at most, so the events behind them are handed out in this claim.
        for _ in 0..4 {
            // A round after the first that fails (the store refused the search or the take)
            // must not lose what an earlier round took: those rows are leased to this
            // consumer in the file, and an error would leave them unhandled until their
            // lease ran out. They are handed out; the next claim meets the error.
            let round = (|| -> Result<Option<(Vec<_>, usize)>> {
                // A few more than asked: some may turn out to be dead or taken meanwhile.
                let want = ((max - rows.len()) as i64).saturating_mul(2);
                let (mut found, settle) = self.candidates(now_ms(), want)?;
                if settle {
                    // The clock was set back: settled in the file (the grace, and what was
                    // written ahead of the clock), then searched.
                    self.write_noting_jumps(true, "cannot claim from", |tx| {
                        pull_back_to_the_clock(tx, now_ms(), ms(self.shared.opts.lease))
                    })?;
                    found = self.candidates(now_ms(), want)?.0;
                }
                if found.is_empty() {
                    return Ok(None);
                }
                let (taken, expired) =
                    self.write_noting_jumps(true, "cannot claim from", |tx| {
                        // The clock is read under the write lock: waiting for it (up to the busy
                        // timeout) must not eat into the lease, or a claim could hand out an
                        // event whose lease has already run out, for another consumer to take.
                        // (A jump of the clock is recorded before this, in the same transaction.)
                        let now = now_ms();
                        let lease_ms = ms(self.shared.opts.lease);
                        let lease_until = now.saturating_add(lease_ms);
                        let judged = now - grace(tx, now, lease_ms)?;
                        // Each candidate is taken only if it is still claimable now, under the
                        // write lock: the same rule the search used, checked again row by row.
                        let mut take = tx.prepare_cached(CLAIM_TAKE)?;
                        let mut expire = tx.prepare_cached(CLAIM_EXPIRE_LAST)?;
                        let mut body_of =
                            tx.prepare_cached("SELECT body FROM bodies WHERE id = ?1")?;
                        let (mut taken, mut expired) = (Vec::new(), 0);
                        for id in found {
                            if rows.len() + taken.len() >= max {
                                break;
                            }
                            // Its attempts are spent (the consumer died while handling it, every
                            // time; or max_attempts was lowered since).
                            if expire.execute(params![judged, id, max_attempts])? > 0 {
                                expired += 1;
                                continue;
                            }
                            let row = take
                                .query_row(
                                    params![judged, id, consumer, lease_until, max_attempts, now],
                                    |r| {
                                        Ok((
                                            r.get::<_, i64>(0)?,
                                            r.get::<_, i64>(1)?,
                                            r.get::<_, i64>(2)?,
                                            r.get::<_, Option<String>>(3)?,
                                        ))
                                    },
                                )
                                .optional()?;
                            if let Some((body_id, idx, attempt, conv)) = row {
                                // Bodies are read for the taken entries only.
                                let body: Vec<u8> = body_of.query_row([body_id], |r| r.get(0))?;
                                taken.push((id, body_id, idx, attempt, conv, body));
                            }
                        }
                        Ok((taken, expired))
                    })?;
                Ok(Some((taken, expired)))
            })();
            let (taken, expired) = match round {
                Ok(Some(round)) => round,
                Ok(None) => break,
                Err(e) if rows.is_empty() => return Err(e),
                Err(e) => {
                    tracing::warn!(target: "wa360::inbox", inbox = %self.shared.label, taken = rows.len(), error = %e, "a later round of a claim failed; handing out what was taken");
                    break;
                }
            };
            rows.extend(taken);
            if expired == 0 || rows.len() >= max {
                break;
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for (id, body_id, idx, attempt, conv, body) in rows {
            let events = match self.shared.parsed.events(body_id, &body) {
                Ok(events) => events,
                Err(e) => {
                    unreadable.push((id, format!("stored body cannot be read again: {e}")));
                    continue;
                }
            };
            let Some(event) = usize::try_from(idx).ok().and_then(|i| events.get(i)) else {
                unreadable.push((id, "entry points past its stored body".to_string()));
                continue;
            };
            out.push(Delivery {
                id: id.to_string(),
                event: event.clone(),
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                conversation: conv,
            });
        }
        if !unreadable.is_empty() {
            // Such an entry can never be handed out: it goes to the dead letters with the
            // reason, alone, and the other events of the claim go on.
            for (id, why) in &unreadable {
                tracing::warn!(target: "wa360::inbox", inbox = %self.shared.label, id, reason = %why, "dead-lettered an unreadable entry");
            }
            let dead = self.write_lazy("cannot dead-letter in", |tx| {
                for (id, why) in &unreadable {
                    tx.execute(
                        "UPDATE entries SET state = 3, lease_owner = NULL, last_error = ?3
                         WHERE id = ?1 AND state = 1 AND lease_owner = ?2",
                        params![id, consumer, why],
                    )?;
                }
                Ok(())
            });
            match dead {
                Ok(_) => self.notify(),
                // The readable events taken with them are handed out all the same (they are
                // leased to this consumer); the unreadable ones come back when their lease
                // runs out and are dead-lettered then.
                Err(e) if !out.is_empty() => {
                    tracing::warn!(target: "wa360::inbox", inbox = %self.shared.label, error = %e, "could not dead-letter unreadable entries; handing out the rest of the claim");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn wait(&self, timeout: Duration) {
        self.shared.signal.wait(timeout);
    }

    fn extend(&self, consumer: &str, ids: &[String]) -> Result<usize> {
        // Renewals look at the clock too: a process whose consumers are all busy claims
        // nothing, and its first claim, long after a jump, would start the grace again.
        self.write_noting_jumps(false, "cannot renew leases in", |tx| {
            // Under the write lock, as for a claim: the wait for it is not lease time.
            let until = now_ms().saturating_add(ms(self.shared.opts.lease));
            let mut renew = tx.prepare_cached(
                "UPDATE entries SET lease_until = ?3
                 WHERE id = ?2 AND state = 1 AND lease_owner = ?1",
            )?;
            let mut n = 0;
            for id in ids.iter().filter_map(|id| id.parse::<i64>().ok()) {
                n += renew.execute(params![consumer, id, until])?;
            }
            Ok(n)
        })
    }

    fn ack(&self, consumer: &str, id: &str) -> Result<bool> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let done = self.write_lazy("cannot acknowledge in", |tx| {
            let body: Option<i64> = tx
                .query_row(
                    "DELETE FROM entries WHERE id = ?1 AND state = 1 AND lease_owner = ?2
                     RETURNING body_id",
                    params![id, consumer],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(b) = body {
                tx.execute(
                    "DELETE FROM bodies WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM entries WHERE body_id = ?1)",
                    [b],
                )?;
                bump(tx, "handled", 1)?;
            }
            Ok(body.is_some())
        })?;
        if done {
            self.notify();
        }
        Ok(done)
    }

    fn nack(&self, consumer: &str, id: &str, error: &str) -> Result<Nacked> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(Nacked::NotHeld);
        };
        let opts = &self.shared.opts;
        let error: String = error.chars().take(2000).collect();
        let out = self.write_lazy("cannot record a failure in", |tx| {
            let attempts: Option<i64> = tx
                .query_row(
                    "SELECT attempts FROM entries WHERE id = ?1 AND state = 1 AND lease_owner = ?2",
                    params![id, consumer],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(attempts) = attempts else {
                return Ok(Nacked::NotHeld);
            };
            if attempts >= i64::from(opts.max_attempts) {
                tx.execute(
                    "UPDATE entries SET state = 3, lease_owner = NULL, last_error = ?2 WHERE id = ?1",
                    params![id, error],
                )?;
                return Ok(Nacked::Dead);
            }
            let delay = opts.backoff(u32::try_from(attempts).unwrap_or(u32::MAX));
            tx.execute(
                "UPDATE entries SET state = 0, lease_owner = NULL, not_before = ?2, last_error = ?3
                 WHERE id = ?1",
                params![id, now_ms().saturating_add(ms(delay)), error],
            )?;
            Ok(Nacked::Retry(delay))
        })?;
        self.notify();
        Ok(out)
    }

    fn release(&self, consumer: &str, id: &str) -> Result<bool> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let n = self.write_lazy("cannot release in", |tx| {
            // Ready at once: a retry time it had (an earlier nack) is not kept, which a
            // clock ahead then (or still, put right only later) would have left ahead.
            tx.execute(
                "UPDATE entries SET state = 0, lease_owner = NULL, attempts = max(attempts - 1, 0),
                   not_before = 0
                 WHERE id = ?1 AND state = 1 AND lease_owner = ?2",
                params![id, consumer],
            )
        })?;
        self.notify();
        Ok(n == 1)
    }

    fn stats(&self) -> Result<InboxStats> {
        let now = now_ms();
        self.read("cannot read", |c| {
            let count = |sql: &str| c.query_row(sql, [now], |r| r.get::<_, i64>(0));
            let counter = |name: &str| {
                c.query_row("SELECT n FROM counters WHERE name = ?1", [name], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|n| n.unwrap_or(0))
            };
            let u = |n: i64| u64::try_from(n).unwrap_or(0);
            let (ready, in_flight) = backlog(c, now)?;
            Ok(InboxStats {
                ready,
                in_flight,
                dead: u(count(
                    "SELECT count(*) + 0 * ?1 FROM entries WHERE state = 3",
                )?),
                handled: u(counter("handled")?),
                duplicates: u(counter("duplicates")?),
                stale: u(counter("stale")?),
                keys: u(count("SELECT count(*) + 0 * ?1 FROM dedupe")?),
            })
        })
    }

    fn backlog(&self) -> Result<(u64, u64)> {
        let now = now_ms();
        self.read("cannot read", |c| backlog(c, now))
    }

    fn dead(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let rows = self.read("cannot read", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.id, e.idx, e.attempts, e.last_error, e.accepted_at, b.body
                 FROM entries e JOIN bodies b ON b.id = e.body_id
                 WHERE e.state = 3 ORDER BY e.id LIMIT ?1",
            )?;
            stmt.query_map([limit.min(i64::MAX as usize) as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, idx, attempts, last_error, accepted_at_ms, body) in rows {
            // A body that cannot be read again is left out of the listing (logged), not a
            // failure of it: every other dead letter stays inspectable.
            let events = match reparse(&body) {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(target: "wa360::inbox", inbox = %self.shared.label, id, error = %e, "dead letter whose stored body cannot be read");
                    continue;
                }
            };
            let Some(event) = usize::try_from(idx).ok().and_then(|i| events.get(i)) else {
                continue;
            };
            out.push(DeadLetter {
                id: id.to_string(),
                event: event.clone(),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                last_error,
                accepted_at_ms,
            });
        }
        Ok(out)
    }

    fn replay(&self, id: Option<&str>) -> Result<usize> {
        let Some(id) = dead_target(id) else {
            return Ok(0);
        };
        let n = self.write("cannot replay in", |tx| {
            tx.execute(
                "UPDATE entries SET state = 0, attempts = 0, not_before = 0, lease_owner = NULL
                 WHERE state = 3 AND (?1 IS NULL OR id = ?1)",
                [id],
            )
        })?;
        self.notify();
        Ok(n)
    }

    fn drop_dead(&self, id: Option<&str>) -> Result<usize> {
        let Some(id) = dead_target(id) else {
            return Ok(0);
        };
        self.write("cannot drop dead letters in", |tx| {
            let bodies: Vec<i64> = tx
                .prepare(
                    "DELETE FROM entries WHERE state = 3 AND (?1 IS NULL OR id = ?1)
                     RETURNING body_id",
                )?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            // Only the bodies of the dropped entries, if nothing else points at them (as
            // an ack does): a scan of every body held the write lock of every process.
            let mut free = tx.prepare_cached(
                "DELETE FROM bodies WHERE id = ?1
                   AND NOT EXISTS (SELECT 1 FROM entries WHERE body_id = ?1)",
            )?;
            let mut seen = std::collections::HashSet::new();
            for b in &bodies {
                if seen.insert(*b) {
                    free.execute([b])?;
                }
            }
            Ok(bodies.len())
        })
    }

    /// In batches of 2,000 rows, each its own short transaction: one transaction
    /// for every expired key held the write lock of every process for as long as it took
    /// (seconds for a million keys, after an outage), and their accepts answered 503 or
    /// their lease renewals failed meanwhile.
    fn prune(&self) -> Result<usize> {
        let cutoff = now_ms() - ms(self.shared.opts.retention);
        let mut total = 0;
        for sql in [
            "DELETE FROM dedupe WHERE dkey IN
               (SELECT dkey FROM dedupe WHERE seen_at < ?1 LIMIT ?2)",
            "DELETE FROM statuses WHERE msg_id IN
               (SELECT msg_id FROM statuses WHERE updated_at < ?1 LIMIT ?2)",
        ] {
            loop {
                let n = self.write_lazy("cannot prune", |tx| {
                    tx.execute(sql, params![cutoff, PRUNE_BATCH as i64])
                })?;
                total += n;
                if n < PRUNE_BATCH {
                    break;
                }
            }
        }
        // Bodies no entry points at any more, walked by id range: a backlog of a million
        // bodies is as many short transactions as it takes, not one long scan.
        let mut after = 0i64;
        loop {
            let (n, last) = self.write_lazy("cannot prune", |tx| {
                let last: Option<i64> = tx.query_row(
                    "SELECT max(id) FROM (SELECT id FROM bodies WHERE id > ?1 ORDER BY id LIMIT ?2)",
                    params![after, PRUNE_BATCH as i64],
                    |r| r.get(0),
                )?;
                let Some(last) = last else {
                    return Ok((0, None));
                };
                let n = tx.execute(
                    "DELETE FROM bodies WHERE id > ?1 AND id <= ?2
                       AND NOT EXISTS (SELECT 1 FROM entries WHERE body_id = bodies.id)",
                    params![after, last],
                )?;
                Ok((n, Some(last)))
            })?;
            total += n;
            match last {
                Some(last) => after = last,
                None => break,
            }
        }
        Ok(total)
    }

    fn options(&self) -> &InboxOptions {
        &self.shared.opts
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    /// The claim's searches walk the `(state, id)` index in id order and stop at their
    /// limit: no plan that sorts every ready entry first (what `entries_due` gave the
    /// planner for `not_before`, making each claim cost the whole backlog).
    #[test]
    fn claim_searches_walk_the_state_index_without_sorting() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for sql in [CLAIM_READY, CLAIM_EXPIRED] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            // `?1` a time, `?2` the limit, `?3` (the ready search) now.
            let args: Vec<i64> = [0, 2, 0][..stmt.parameter_count()].to_vec();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join(" / ");
            assert!(plan.contains("entries_state"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
