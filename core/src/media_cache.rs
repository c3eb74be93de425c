//! An opt-in media-id cache: content hash → media id, per number, so a file that was
//! already uploaded is sent by its id instead of being uploaded again.
//!
//! * **Key.** SHA-256 of the bytes plus the MIME type, within a *scope* that stands
//!   for the number: a SHA-256 of the base URL and API key (one key is one number;
//!   the key itself is never stored).
//! * **Expiry.** Meta keeps an uploaded media for 30 days (360dialog: 30 days after
//!   last use; `docs/management.md`, "Media-id cache"). Entries are trusted for
//!   [`DEFAULT_TTL`] (28 days) after the upload that stored them, never more than
//!   [`MAX_TTL`] (29 days), so a cached id is always used before it can expire.
//! * **Stores.** [`MediaCacheStore`] is pluggable, like the inbox; [`MemoryStore`]
//!   (one process) and [`SqliteStore`] (a file shared by processes and restarts) come
//!   with wa360.
//! * **Misses.** A deleted media is forgotten by [`MediaCache::forget`]; a store that
//!   fails is an error, never a silent re-upload.
//!
//! ```no_run
//! # async fn demo(client: wa360::client::Client) -> wa360::Result<()> {
//! use wa360::media_cache::MediaCache;
//! let cache = MediaCache::sqlite("media-cache.sqlite3")?;
//! let logo = std::fs::read("logo.png").unwrap();
//! let first = cache.upload(&client, logo.clone(), "image/png", "logo.png").await?;
//! let again = cache.upload(&client, logo, "image/png", "logo.png").await?;
//! assert!(again.reused && again.media_id == first.media_id);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::util::hex;

/// Default trust period of a cached id: 28 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(28 * 24 * 3600);
/// Longest trust period allowed: 29 days (the media itself lives 30).
pub const MAX_TTL: Duration = Duration::from_secs(29 * 24 * 3600);

/// How far ahead of this process's clock an entry's upload time may be and still be
/// trusted: the clocks of processes sharing a cache file disagree by this much at most.
const FUTURE_SKEW_SECS: u64 = 300;

/// The trust period's rule (`ttl`, and the bindings' `ttl_days` / `ttlDays`).
const TTL_RULE: &str = "must be 1 second to 29 days (an uploaded media lives 30 days)";

/// A cached media id and when (Unix seconds) the upload stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedMedia {
    /// The media id.
    pub media_id: String,
    /// Unix seconds of the upload.
    pub stored_at: u64,
}

/// Where the cache keeps its entries. Implementations must be safe to share between
/// threads; calls run on a blocking thread.
pub trait MediaCacheStore: Send + Sync + std::fmt::Debug {
    /// The entry of `key` in `scope`, if any.
    fn get(&self, scope: &str, key: &str) -> Result<Option<CachedMedia>>;
    /// Store (or replace) an entry.
    fn put(&self, scope: &str, key: &str, entry: &CachedMedia) -> Result<()>;
    /// Remove an entry (no error when absent).
    fn remove(&self, scope: &str, key: &str) -> Result<()>;
    /// Remove every entry stored before `before` (Unix seconds); returns how many.
    fn purge(&self, before: u64) -> Result<u64>;
}

fn store_err(e: impl std::fmt::Display) -> Error {
    Error::Store(format!("media cache: {e}"))
}

/// An in-memory store (lost when the process ends).
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<(String, String), CachedMedia>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl MediaCacheStore for MemoryStore {
    fn get(&self, scope: &str, key: &str) -> Result<Option<CachedMedia>> {
        let m = self.map.lock().map_err(store_err)?;
        Ok(m.get(&(scope.to_string(), key.to_string())).cloned())
    }
    fn put(&self, scope: &str, key: &str, entry: &CachedMedia) -> Result<()> {
        let mut m = self.map.lock().map_err(store_err)?;
        m.insert((scope.to_string(), key.to_string()), entry.clone());
        Ok(())
    }
    fn remove(&self, scope: &str, key: &str) -> Result<()> {
        let mut m = self.map.lock().map_err(store_err)?;
        m.remove(&(scope.to_string(), key.to_string()));
        Ok(())
    }
    fn purge(&self, before: u64) -> Result<u64> {
        let mut m = self.map.lock().map_err(store_err)?;
        let n = m.len();
        m.retain(|_, e| e.stored_at >= before);
        Ok((n - m.len()) as u64)
    }
}

/// A SQLite store (one file; WAL mode, so several processes can share it).
/// Table `wa360_media_cache(scope, key, media_id, stored_at)`.
///
/// Each call opens its own connection and closes it, inside a section of the fork gate
/// ([`crate::fork_gate`]): no connection is ever open across a `fork()`. A child that
/// inherited an open connection (a cache made before gunicorn `--preload` or Celery
/// forks), or opened the file again while the parent's stayed open, shared SQLite's
/// in-process record of the file with the parent: it took no lock of its own, and the
/// parent letting go of its cache removed the write-ahead log under it, so the child's
/// entries were lost and later overwrote other processes'. The cache is used once or twice
/// per upload, so a connection per call costs nothing that matters beside the upload.
#[derive(Debug)]
pub struct SqliteStore {
    path: std::path::PathBuf,
}

/// How long a call waits for another process's write (SQLite's busy timeout).
const BUSY: Duration = Duration::from_secs(5);

/// The store's table, made by every connection that does not find it (the file is new, or
/// was deleted since: an empty cache, which uploads again), in WAL mode (kept in the file).
const SCHEMA: &str = "PRAGMA journal_mode=WAL;
     CREATE TABLE IF NOT EXISTS wa360_media_cache (
         scope TEXT NOT NULL,
         key TEXT NOT NULL,
         media_id TEXT NOT NULL,
         stored_at INTEGER NOT NULL,
         PRIMARY KEY (scope, key)
     );";

impl SqliteStore {
    /// Open (or create) the store at `path`. A relative path is made absolute now (each
    /// call opens the file again, and the process may change its directory meanwhile); an
    /// in-memory database (`:memory:`, a `file:` URI) is refused: it would be a new, empty
    /// one at each call (use [`MediaCache::memory`]).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        crate::input::file_path_option("path", path.as_ref())?;
        let text = path.as_ref().to_string_lossy();
        if text == ":memory:" || text.starts_with("file:") {
            return Err(Error::invalid(
                "path",
                "must be a file path, not an in-memory database or a URI (use the memory cache)",
            ));
        }
        let path = std::path::absolute(path.as_ref())
            .map_err(|e| Error::invalid("path", format!("cannot be made absolute: {e}")))?;
        let store = SqliteStore { path };
        // Several processes may create the file at once (see `retry_while_busy`).
        crate::util::retry_while_busy(BUSY, crate::util::sqlite_busy, || {
            store.with_conn_raw(|conn| conn.execute_batch(SCHEMA))
        })
        .map_err(|e| store.err(e))?;
        Ok(store)
    }

    /// Run `f` on a connection of its own, opened and closed inside one section of the
    /// fork gate (not around `retry_while_busy`, which logs). A file without the table (it
    /// was deleted, and this open made it again) gets it first.
    fn with_conn_raw<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let _inside = crate::fork_gate::section();
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY)?;
        let has_table: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'wa360_media_cache')",
            [],
            |r| r.get(0),
        )?;
        if !has_table {
            conn.execute_batch(SCHEMA)?;
        }
        let out = f(&conn);
        drop(conn);
        out
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.with_conn_raw(f).map_err(|e| self.err(e))
    }

    /// A store error naming the file.
    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Store(format!("media cache {}: {e}", self.path.display()))
    }
}

impl MediaCacheStore for SqliteStore {
    fn get(&self, scope: &str, key: &str) -> Result<Option<CachedMedia>> {
        let row: Option<(String, i64)> = self.with_conn(|c| {
            c.query_row(
                "SELECT media_id, stored_at FROM wa360_media_cache WHERE scope = ?1 AND key = ?2",
                (scope, key),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        Ok(row.map(|(media_id, stored_at)| CachedMedia {
            media_id,
            stored_at: u64::try_from(stored_at).unwrap_or(0),
        }))
    }
    fn put(&self, scope: &str, key: &str, entry: &CachedMedia) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO wa360_media_cache (scope, key, media_id, stored_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, key) DO UPDATE SET media_id = excluded.media_id, stored_at = excluded.stored_at",
                (
                    scope,
                    key,
                    entry.media_id.as_str(),
                    i64::try_from(entry.stored_at).unwrap_or(i64::MAX),
                ),
            )
        })?;
        Ok(())
    }
    fn remove(&self, scope: &str, key: &str) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "DELETE FROM wa360_media_cache WHERE scope = ?1 AND key = ?2",
                (scope, key),
            )
        })?;
        Ok(())
    }
    fn purge(&self, before: u64) -> Result<u64> {
        let n = self.with_conn(|c| {
            c.execute(
                "DELETE FROM wa360_media_cache WHERE stored_at < ?1",
                (i64::try_from(before).unwrap_or(i64::MAX),),
            )
        })?;
        Ok(n as u64)
    }
}

/// The result of [`MediaCache::upload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedUpload {
    /// The media id to send.
    pub media_id: String,
    /// True when the id came from the cache (no upload was made).
    pub reused: bool,
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The media-id cache. Cheap to clone.
#[derive(Clone)]
pub struct MediaCache {
    store: Arc<dyn MediaCacheStore>,
    ttl: Duration,
    clock: Clock,
}

impl std::fmt::Debug for MediaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaCache")
            .field("store", &self.store)
            .field("ttl", &self.ttl)
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl MediaCache {
    /// A cache over any store.
    pub fn with_store(store: Arc<dyn MediaCacheStore>) -> MediaCache {
        MediaCache {
            store,
            ttl: DEFAULT_TTL,
            clock: Arc::new(unix_now),
        }
    }

    /// A cache in memory.
    pub fn memory() -> MediaCache {
        MediaCache::with_store(Arc::new(MemoryStore::new()))
    }

    /// A cache in a SQLite file.
    pub fn sqlite(path: impl AsRef<Path>) -> Result<MediaCache> {
        Ok(MediaCache::with_store(Arc::new(SqliteStore::open(path)?)))
    }

    /// Trust cached ids for `ttl` after their upload (1 s to 29 days).
    pub fn ttl(mut self, ttl: Duration) -> Result<MediaCache> {
        if ttl < Duration::from_secs(1) || ttl > MAX_TTL {
            return Err(Error::invalid("ttl", TTL_RULE));
        }
        self.ttl = ttl;
        Ok(self)
    }

    /// Replace the clock (Unix seconds); for tests of expiry.
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> MediaCache {
        self.clock = Arc::new(clock);
        self
    }

    /// The trust period.
    pub fn ttl_value(&self) -> Duration {
        self.ttl
    }

    /// [`MediaCache::ttl`] in days: the bindings' `ttl_days` / `ttlDays` option. A
    /// number that is not a positive count of days is refused naming `ttl_days`.
    pub fn ttl_days(self, days: f64) -> Result<MediaCache> {
        // The same rule as `ttl`, named as the bindings spell the option.
        let bad = || Error::invalid("ttl_days", TTL_RULE);
        if !(days.is_finite() && days > 0.0) {
            return Err(bad());
        }
        let ttl = Duration::try_from_secs_f64(days * 86_400.0).map_err(|_| bad())?;
        self.ttl(ttl).map_err(|_| bad())
    }

    /// The trust period in days.
    pub fn ttl_days_value(&self) -> f64 {
        self.ttl.as_secs_f64() / 86_400.0
    }

    /// The cache key of a file: hex SHA-256 of the bytes, `:`, the MIME type.
    pub fn key(bytes: &[u8], mime: &str) -> String {
        format!("{}:{mime}", hex(&Sha256::digest(bytes)))
    }

    /// The scope of a client: hex SHA-256 of its base URL and API key, first 32
    /// characters (the key is never stored).
    pub fn scope(client: &Client) -> String {
        let c = client.config();
        let mut h = Sha256::new();
        h.update(c.base_url().as_bytes());
        h.update(b"\n");
        h.update(c.api_key().expose().as_bytes());
        hex(&h.finalize())[..32].to_string()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn MediaCacheStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| Error::Internal(format!("media cache task failed: {e}")))?
    }

    /// The cached id for this file and client, when one is stored and still trusted.
    pub async fn lookup(
        &self,
        client: &Client,
        bytes: &[u8],
        mime: &str,
    ) -> Result<Option<String>> {
        let (scope, key) = (MediaCache::scope(client), MediaCache::key(bytes, mime));
        let hit = self.blocking(move |s| s.get(&scope, &key)).await?;
        let now = (self.clock)();
        // An entry stored "later than now" (by a process whose clock ran ahead, or before
        // this clock was set back) says nothing of the upload's age: not trusted beyond
        // the clocks' usual disagreement, rather than for its trust period plus the skew.
        Ok(hit
            .filter(|e| {
                e.stored_at <= now.saturating_add(FUTURE_SKEW_SECS)
                    && now.saturating_sub(e.stored_at) < self.ttl.as_secs()
            })
            .map(|e| e.media_id))
    }

    /// The media id of this file: the cached one when it is still trusted, else a
    /// fresh upload (`POST /media`) whose id is then stored.
    pub async fn upload(
        &self,
        client: &Client,
        bytes: Vec<u8>,
        mime: &str,
        filename: &str,
    ) -> Result<CachedUpload> {
        if let Some(id) = self.lookup(client, &bytes, mime).await? {
            return Ok(CachedUpload {
                media_id: id,
                reused: true,
            });
        }
        let (scope, key) = (MediaCache::scope(client), MediaCache::key(&bytes, mime));
        let media_id = client.media().upload(bytes, mime, filename).await?;
        let entry = CachedMedia {
            media_id: media_id.clone(),
            stored_at: (self.clock)(),
        };
        self.blocking(move |s| s.put(&scope, &key, &entry)).await?;
        Ok(CachedUpload {
            media_id,
            reused: false,
        })
    }

    /// Forget the cached id of this file (e.g. after deleting the media).
    pub async fn forget(&self, client: &Client, bytes: &[u8], mime: &str) -> Result<()> {
        let (scope, key) = (MediaCache::scope(client), MediaCache::key(bytes, mime));
        self.blocking(move |s| s.remove(&scope, &key)).await
    }

    /// Remove every entry older than the trust period; returns how many.
    pub async fn purge_expired(&self) -> Result<u64> {
        let before = (self.clock)().saturating_sub(self.ttl.as_secs());
        self.blocking(move |s| s.purge(before)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_bounds() {
        assert!(
            MediaCache::memory()
                .ttl(Duration::from_secs(30 * 24 * 3600))
                .is_err()
        );
        assert!(MediaCache::memory().ttl(Duration::ZERO).is_err());
        assert!(MediaCache::memory().ttl(MAX_TTL).is_ok());
    }

    #[test]
    fn ttl_in_days_is_checked_once_for_both_bindings() {
        let c = MediaCache::memory().ttl_days(1.5).unwrap();
        assert_eq!(c.ttl_value(), Duration::from_secs(36 * 3600));
        assert_eq!(c.ttl_days_value(), 1.5);
        // Not a positive number of days (a huge one would overflow a Duration).
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            let e = MediaCache::memory().ttl_days(bad).unwrap_err();
            assert_eq!(e.field(), Some("ttl_days"), "{bad}");
        }
        // A positive number beyond 29 days (or under a second) breaks the same rule as
        // `ttl`, named as the option the user gave.
        for bad in [30.0, 1e-6] {
            let e = MediaCache::memory().ttl_days(bad).unwrap_err();
            assert_eq!(e.field(), Some("ttl_days"), "{bad}");
            assert!(e.to_string().contains("29 days"), "{e}");
        }
    }

    #[test]
    fn stores_agree() {
        let dir = std::env::temp_dir().join(format!("wa360-mc-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let stores: Vec<Box<dyn MediaCacheStore>> = vec![
            Box::new(MemoryStore::new()),
            Box::new(SqliteStore::open(&dir).unwrap()),
        ];
        for s in stores {
            let e = CachedMedia {
                media_id: "1".into(),
                stored_at: 10,
            };
            s.put("a", "k", &e).unwrap();
            assert_eq!(s.get("a", "k").unwrap(), Some(e));
            assert_eq!(s.get("b", "k").unwrap(), None);
            s.put(
                "a",
                "k2",
                &CachedMedia {
                    media_id: "2".into(),
                    stored_at: 20,
                },
            )
            .unwrap();
            assert_eq!(s.purge(15).unwrap(), 1);
            assert_eq!(s.get("a", "k").unwrap(), None);
            s.remove("a", "k2").unwrap();
            assert_eq!(s.get("a", "k2").unwrap(), None);
        }
        let _ = std::fs::remove_file(&dir);
    }
}
