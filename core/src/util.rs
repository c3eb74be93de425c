//! Small helpers several modules share: a lock that survives a poisoned mutex, the
//! clock and durations in Unix milliseconds (the unit the inbox and the ledger store),
//! opening a SQLite file that several processes may be creating at once, and noticing
//! that such a file was deleted or replaced underneath.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lock `m`, also after a thread panicked while holding it (every user keeps its data
/// consistent between statements: counters, queues, maps).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Now, in Unix milliseconds (0 before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `d` in milliseconds, capped at `i64::MAX`.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// True for SQLite's "busy" and "locked" answers.
pub(crate) fn sqlite_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Run `once` (an open of a SQLite file shared by several processes) again, with a
/// growing pause, while it fails busy (`busy` says which failures are), until `limit`
/// has passed. Several processes opening one new file at once (a cluster's workers at
/// start-up) get SQLITE_BUSY where SQLite does not call the busy handler: the switch to
/// WAL and the first schema write fail at once rather than risk a deadlock. This waits
/// as the busy handler would have.
pub(crate) fn retry_while_busy<T, E>(
    limit: Duration,
    busy: impl Fn(&E) -> bool,
    mut once: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match once() {
            Err(e) if busy(&e) && started.elapsed() < limit => {
                tracing::debug!(target: "wa360::store", "SQLite file busy at open; trying again");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Which file a path named when a store opened it (device and inode on Unix). A SQLite
/// file deleted or replaced underneath an open connection is not an error to SQLite: it
/// goes on committing to the old inode, which no process that opens the path sees again.
/// A store checks this before a write whose loss would break a promise (an accepted
/// webhook answered 200, a broadcast row claimed before its send). The path is kept
/// absolute, as SQLite resolved it at open: a relative path read again after the process
/// changed its directory would name another file.
///
/// The same holds for the write-ahead log (`-wal`) and its index (`-shm`) of a file in WAL
/// mode: removed under an open connection, it goes on writing to the old log (which no
/// other process reads, and which is never checkpointed into the file) and locking through
/// the old index, while a process opening the path now starts fresh ones. So their
/// identities are kept too, when they exist at open. SQLite deletes them when the last
/// connection to the file closes, but wa360's connections keep them ([`persist_wal`]): they
/// are closed at every fork ([`crate::fork_gate::close_at_every_fork`]), and in a process
/// alone on the file that close is the last one. Another program can still be the last to
/// close (the `sqlite3` shell, an older wa360) while this process has none open, after a
/// fork: the store that opens its connection again takes their identities anew
/// ([`FileId::taken_again`]), since it writes to the ones there now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileId {
    path: std::path::PathBuf,
    id: Option<(u64, u64)>,
    /// `-wal` and `-shm` beside the file, as they were at open (when they existed).
    sidecars: Vec<(std::path::PathBuf, Option<(u64, u64)>)>,
}

/// Keep the file's write-ahead log and its index (`-wal`, `-shm`) on disk when `conn` is the
/// last connection to close (SQLite's `SQLITE_FCNTL_PERSIST_WAL`), emptied: the last close
/// still checkpoints the log into the file, then truncates it to nothing (a journal size
/// limit, which only then applies: 64 MiB, far above the log's size between checkpoints).
/// A store closes its connections before every fork and opens them again after it; in a
/// process alone on the file, SQLite deleted both at that close, the new connection made
/// new ones, and the store's check of them ([`FileId`]) refused every write from then on, as
/// if another process had deleted them. Emptied, a log left beside the file holds nothing to
/// replay onto a backup copied over the file.
pub(crate) fn persist_wal(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let mut on: std::ffi::c_int = 1;
    conn.file_control(
        Some(rusqlite::MAIN_DB),
        rusqlite::FileControl::PersistWal(&mut on),
    )?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
}

/// A store's file opened again after a fork closed its connection: read-write, never
/// created (a deleted file is not made again, empty), with `busy` as its busy timeout and
/// the log kept ([`persist_wal`]), and one read done, which opens the log and its index as
/// they are now (another program may have been the file's last to close meanwhile, and
/// deleted them): the store then takes their identities again ([`FileId::taken_again`]).
/// Called inside the store's section: nothing here logs or retries.
pub(crate) fn open_again(
    path: &std::path::Path,
    busy: std::time::Duration,
) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy)?;
    persist_wal(&conn)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}

impl FileId {
    /// The identity of the file `path` names now, and of its `-wal` and `-shm` if any.
    pub(crate) fn of(path: &std::path::Path) -> std::io::Result<FileId> {
        let path = std::path::absolute(path)?;
        let id = Self::id_of(&path)?;
        let mut sidecars = Vec::new();
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            if let Ok(side_id) = Self::id_of(&side) {
                sidecars.push((side, side_id));
            }
        }
        Ok(FileId { path, id, sidecars })
    }

    fn id_of(path: &std::path::Path) -> std::io::Result<Option<(u64, u64)>> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(Some((meta.dev(), meta.ino())))
        }
        #[cfg(not(unix))]
        {
            // Elsewhere an open file cannot be deleted; only its existence is checked.
            let _ = meta;
            Ok(None)
        }
    }

    /// After the store opened its connection again (closed at a fork): the same file, with
    /// the identities of its `-wal` and `-shm` as they are now, which that connection uses.
    /// `Err` with the reason when the path no longer names the file (deleted, or another
    /// file moved there): the store then refuses to use the connection it opened there.
    pub(crate) fn taken_again(&self) -> Result<FileId, String> {
        self.same_file()?;
        let now =
            FileId::of(&self.path).map_err(|e| format!("the file cannot be checked ({e})"))?;
        if now.id == self.id {
            Ok(now)
        } else {
            Err("the file was replaced since this process opened it".into())
        }
    }

    /// `Err` with the reason when the path no longer names the file itself (its `-wal` and
    /// `-shm` not looked at).
    pub(crate) fn same_file(&self) -> Result<(), String> {
        Self::same(
            &self.path,
            self.id,
            "the file",
            "since this process opened it",
        )
    }

    /// `Err` with the reason when the path no longer names the file it named at open.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.same_file()?;
        for (side, id) in &self.sidecars {
            let name = side.file_name().unwrap_or_default().to_string_lossy();
            Self::same(
                side,
                *id,
                &name,
                "since this process opened the file (what it writes now no other process would see)",
            )?;
        }
        Ok(())
    }

    /// `Err` naming `what` when `path` no longer has the identity `id`.
    fn same(
        path: &std::path::Path,
        id: Option<(u64, u64)>,
        what: &str,
        since: &str,
    ) -> Result<(), String> {
        match Self::id_of(path) {
            Ok(now) if now == id => Ok(()),
            Ok(_) => Err(format!("{what} was replaced {since}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("{what} was deleted {since}"))
            }
            Err(e) => Err(format!("{what} cannot be checked ({e})")),
        }
    }
}

/// Lowercase hex of `bytes` (digests shown or compared as text).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Notices a machine that was suspended, or a wall clock set forward, between two looks: the
/// wall clock moved on by more than the monotonic one (which stops while the machine sleeps
/// on Linux and macOS; on Windows Rust's monotonic clock counts the sleep, so there only a
/// clock set forward shows). Leases and quiet windows are wall-clock times in files shared
/// by processes; after such a jump they all look run out at once. (Written by hand: two
/// clock readings and a subtraction.)
///
/// [`Self::look`] takes a reading and makes it the baseline of the next at once (the
/// broadcast, whose one polling task acts on the jump itself). A user that must record a
/// jump somewhere before acting on it (the SQLite inbox, in its file) uses
/// [`Self::pending`] and [`Self::commit`] instead: the baseline moves only once the jump is
/// recorded, so a failed write leaves it to be seen again by the next look, not lost. That
/// user also gets the jumps of the last `window` added up ([`Look::recent`]): two jumps
/// within one renewal period (two suspends a few seconds apart) both eat into a lease.
pub(crate) struct ClockWatch {
    pub(crate) wall_ms: i64,
    pub(crate) mono: std::time::Instant,
    /// How far the two clocks may drift apart between looks before it counts.
    slack_ms: i64,
    /// How long (monotonic time) a jump is kept for [`Look::recent`].
    window: Duration,
    /// The jumps committed within `window`, oldest first: (monotonic time of the look that
    /// saw it, ms).
    jumps: std::collections::VecDeque<(std::time::Instant, i64)>,
}

/// One reading of a [`ClockWatch`], and what it saw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Look {
    /// The wall time (Unix ms) of the reading.
    pub(crate) wall_ms: i64,
    mono: std::time::Instant,
    /// How far (ms) the wall clock jumped ahead since the baseline (0 within the slack).
    pub(crate) jump: i64,
    /// `jump` plus the jumps committed within the window before this reading.
    pub(crate) recent: i64,
}

impl ClockWatch {
    /// The broadcast's slack: its quiet windows are minutes long, and a few seconds of
    /// scheduling or a slewed clock must not restart them.
    const SLACK_MS: i64 = 5_000;

    /// A watch whose jumps count past 5 s, and which keeps none (see [`Self::look`]).
    pub(crate) fn new() -> Self {
        Self::with(Self::SLACK_MS, Duration::ZERO)
    }

    /// A watch for leases of `lease` renewed every third of it (the inbox). A live holder's
    /// lease has about two thirds of a lease left when a jump comes, so a jump counts from a
    /// third of a lease (at most 5 s): past two thirds it would expire such a lease unseen,
    /// and a lease may be as short as 100 ms. So small a slack is safe because the wall and
    /// monotonic clocks are slewed together; only a step or a suspend moves them apart (a
    /// thread paused between the two readings shows as a small jump, which costs only a
    /// short grace). Jumps are kept for one lease: every jump since a holder last renewed
    /// counts against its lease, and it renews within one.
    pub(crate) fn for_leases(lease: Duration) -> Self {
        Self::with((ms(lease) / 3).min(Self::SLACK_MS), lease)
    }

    /// Count jumps from a third of `lease_ms` too (the shortest lease of the processes sharing
    /// the file), if that is less than the slack so far.
    pub(crate) fn shortest_lease(&mut self, lease_ms: i64) {
        self.slack_ms = self.slack_ms.min(lease_ms / 3);
    }

    fn with(slack_ms: i64, window: Duration) -> Self {
        ClockWatch {
            wall_ms: now_ms(),
            mono: std::time::Instant::now(),
            slack_ms,
            window,
            jumps: std::collections::VecDeque::new(),
        }
    }

    /// How far (ms) the wall clock jumped ahead since the last look (0 when it did not,
    /// within the slack), and the wall time (Unix ms) of this look.
    pub(crate) fn look(&mut self) -> (i64, i64) {
        let wall = now_ms();
        (self.observe(wall, std::time::Instant::now()), wall)
    }

    /// [`Self::look`] with the readings given.
    pub(crate) fn observe(&mut self, wall_ms: i64, mono: std::time::Instant) -> i64 {
        let look = self.reading(wall_ms, mono);
        self.commit(look);
        look.jump
    }

    /// A reading now, when it shows a jump not committed yet; `None` (and the reading made
    /// the baseline) when it shows none.
    pub(crate) fn pending(&mut self) -> Option<Look> {
        let look = self.reading(now_ms(), std::time::Instant::now());
        if look.jump > 0 {
            return Some(look);
        }
        self.commit(look);
        None
    }

    /// What the clocks show at `wall_ms` and `mono`, against the baseline.
    fn reading(&self, wall_ms: i64, mono: std::time::Instant) -> Look {
        let since = ms(mono.saturating_duration_since(self.mono));
        let jump = wall_ms - self.wall_ms - since;
        let jump = if jump > self.slack_ms { jump } else { 0 };
        let kept: i64 = self
            .jumps
            .iter()
            .filter(|(at, _)| mono.saturating_duration_since(*at) < self.window)
            .map(|(_, j)| j)
            .sum();
        Look {
            wall_ms,
            mono,
            jump,
            recent: kept.saturating_add(jump),
        }
    }

    /// Make `look` the baseline (once its jump is recorded). A reading older than the
    /// baseline (another thread committed a later one) is ignored; the jump kept is measured
    /// from the baseline now, so one jump committed by two threads counts once.
    pub(crate) fn commit(&mut self, look: Look) {
        if look.mono < self.mono {
            return;
        }
        let jump = self.reading(look.wall_ms, look.mono).jump;
        (self.wall_ms, self.mono) = (look.wall_ms, look.mono);
        if jump > 0 && !self.window.is_zero() {
            self.jumps.push_back((look.mono, jump));
        }
        while let Some(&(at, _)) = self.jumps.front()
            && look.mono.saturating_duration_since(at) >= self.window
        {
            self.jumps.pop_front();
        }
    }

    /// Moves the baseline's wall reading back by `ms`, so that the next look sees the wall
    /// clock jump ahead by that much more (tests of the users, which cannot move the clock).
    #[cfg(test)]
    pub(crate) fn shift(&mut self, ms: i64) {
        self.wall_ms -= ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inbox's watch: a jump stays pending until committed; jumps within the window add
    /// up and older ones drop out; a reading committed by two threads counts once, and an
    /// older one committed after a newer one is ignored.
    #[test]
    fn a_lease_watch_adds_up_the_jumps_of_the_last_lease() {
        let mut w = ClockWatch::for_leases(Duration::from_secs(30));
        let (wall, mono) = (w.wall_ms, w.mono);
        let at = |s: u64| mono + Duration::from_secs(s);
        // Under 5 s (less than a third of the lease): not a jump.
        assert_eq!(w.reading(wall + 4_900, at(0)).jump, 0);
        let first = w.reading(wall + 60_000, at(0));
        assert_eq!((first.jump, first.recent), (60_000, 60_000));
        // Not committed (the record failed): seen again by the next look.
        let again = w.reading(wall + 61_000, at(1));
        assert_eq!(again.jump, 60_000);
        w.commit(again);
        w.commit(again);
        w.commit(first);
        let second = w.reading(wall + 61_000 + 40_000 + 1_000, at(2));
        assert_eq!((second.jump, second.recent), (40_000, 100_000));
        w.commit(second);
        // 30 s after the first: only the second is left.
        let later = w.reading(wall + 102_000 + 29_000, at(31));
        assert_eq!((later.jump, later.recent), (0, 40_000));
        w.commit(later);
        assert_eq!(w.reading(wall + 102_000 + 31_000, at(33)).recent, 0);
    }

    /// A short lease counts a jump from a third of it; the broadcast's from 5 s.
    #[test]
    fn the_slack_is_a_third_of_a_short_lease_and_at_most_5_s() {
        let short = ClockWatch::for_leases(Duration::from_millis(3_000));
        assert_eq!(short.reading(short.wall_ms + 1_100, short.mono).jump, 1_100);
        assert_eq!(short.reading(short.wall_ms + 900, short.mono).jump, 0);
        let long = ClockWatch::for_leases(Duration::from_secs(60));
        assert_eq!(long.reading(long.wall_ms + 5_500, long.mono).jump, 5_500);
        let broadcast = ClockWatch::new();
        assert_eq!(
            broadcast
                .reading(broadcast.wall_ms + 4_000, broadcast.mono)
                .jump,
            0
        );
    }
}
