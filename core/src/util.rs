//! Small helpers several modules share: a lock that survives a poisoned mutex, the
//! clock and durations in Unix milliseconds (the unit the inbox and the ledger store),
//! and opening a SQLite file that several processes may be creating at once.

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
