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
/// identities are kept too, when they exist at open; SQLite itself deletes them only when
/// the last connection closes, which cannot happen while this one is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileId {
    path: std::path::PathBuf,
    id: Option<(u64, u64)>,
    /// `-wal` and `-shm` beside the file, as they were at open (when they existed).
    sidecars: Vec<(std::path::PathBuf, Option<(u64, u64)>)>,
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

    /// `Err` with the reason when the path no longer names the file it named at open.
    pub(crate) fn check(&self) -> Result<(), String> {
        Self::same(
            &self.path,
            self.id,
            "the file",
            "since this process opened it",
        )?;
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
pub(crate) struct ClockWatch {
    pub(crate) wall_ms: i64,
    pub(crate) mono: std::time::Instant,
}

impl ClockWatch {
    /// How far the two clocks may drift apart between looks before it counts.
    const SLACK_MS: i64 = 5_000;

    pub(crate) fn new() -> Self {
        ClockWatch {
            wall_ms: now_ms(),
            mono: std::time::Instant::now(),
        }
    }

    /// How far (ms) the wall clock jumped ahead since the last look (0 when it did not,
    /// within [`Self::SLACK_MS`]), and the wall time (Unix ms) of this look.
    pub(crate) fn look(&mut self) -> (i64, i64) {
        let wall = now_ms();
        (self.observe(wall, std::time::Instant::now()), wall)
    }

    pub(crate) fn observe(&mut self, wall_ms: i64, mono: std::time::Instant) -> i64 {
        let mono_ms = ms(mono.saturating_duration_since(self.mono));
        let jump = wall_ms - self.wall_ms - mono_ms;
        (self.wall_ms, self.mono) = (wall_ms, mono);
        if jump > Self::SLACK_MS { jump } else { 0 }
    }
}
