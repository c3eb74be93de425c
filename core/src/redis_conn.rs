//! One Redis connection for the Redis inbox ([`crate::inbox::RedisInbox`]) and the
//! Redis governor store ([`crate::governor::RedisStore`]): a `redis` connection
//! manager driven by a private one-thread tokio runtime.
//!
//! Why a private runtime: the inbox API is synchronous and is called from
//! Python threads, Node's worker threads and plain Rust threads, inside or
//! outside another runtime; the manager's driver task needs a runtime that
//! outlives every caller. Connecting and waiting go through a channel, never
//! `block_on`, which would panic when called from async code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Error, Result};

/// A connected manager and the runtime that drives it.
pub(crate) struct RedisConn {
    rt: Option<tokio::runtime::Runtime>,
    /// The manager (cheap to clone; every clone shares the one multiplexed connection), in a
    /// slot so that a node that stopped taking writes can be left (see [`RedisConn::replace`]).
    conn: Arc<Mutex<ConnectionManager>>,
    client: redis::Client,
    config: ConnectionManagerConfig,
    timeout: Duration,
    /// A replacement is under way (one at a time).
    replacing: Arc<AtomicBool>,
    /// `what url` with the credentials masked (`inbox redis://***@host:6379/0`), for errors.
    pub(crate) label: String,
}

impl Drop for RedisConn {
    fn drop(&mut self) {
        drop(Background(self.rt.take()));
    }
}

/// A runtime shut down in the background when dropped: dropping a runtime blocks, which
/// panics inside another runtime's async context (a Node or Python event loop thread, the
/// CLI's own runtime). Also held while connecting, so a failed connect drops it the same way.
struct Background(Option<tokio::runtime::Runtime>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl RedisConn {
    /// Connect to `url` (`redis://[user:password@]host:port/db` or `rediss://…`, no
    /// query), failing with `store` after about `2 × timeout` when the server is away.
    /// `what` names the user in errors (`inbox`, `governor store`).
    pub(crate) fn connect(url: &str, what: &str, timeout: Duration) -> Result<RedisConn> {
        let label = format!("{what} {}", crate::secret::redact_url(url));
        // A URL the client cannot read (a db that is not a number, a bad port) is bad
        // input, named by the option: `inbox` or `governor_store`.
        let client = redis::Client::open(url).map_err(|e| {
            Error::invalid(
                what.replace(' ', "_"),
                format!(
                    "{} is not a Redis URL this can read (redis[s]://[user:password@]host:port/db, \
                     db a number): {}",
                    crate::secret::redact_url(url),
                    error_text(&e)
                ),
            )
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wa360-redis")
            .enable_all()
            .build()
            .map_err(|e| Error::Store(format!("{label}: cannot start a runtime: {e}")))?;
        let mut rt = Background(Some(rt));
        let Some(runtime) = &rt.0 else {
            unreachable!("just built")
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let opening = new_manager(&client, &config, timeout);
        runtime.spawn(async move {
            let _ = tx.send(opening.await);
        });
        let conn = rx
            .recv()
            .map_err(|_| Error::Store(format!("{label}: cannot connect")))?
            .ok_or_else(|| Error::Store(format!("{label}: cannot connect: timed out")))?
            .map_err(|e| Error::Store(format!("{label}: cannot connect: {}", error_text(&e))))?;
        Ok(RedisConn {
            rt: rt.0.take(),
            conn: Arc::new(Mutex::new(conn)),
            client,
            config,
            timeout,
            replacing: Arc::new(AtomicBool::new(false)),
            label,
        })
    }

    /// The manager to send a command through.
    pub(crate) fn conn(&self) -> ConnectionManager {
        crate::util::lock(&self.conn).clone()
    }

    /// After `e`: when it says this node no longer takes writes (`READONLY`: a primary
    /// demoted by a failover behind one DNS name or proxy; `MASTERDOWN`), open a new
    /// connection, resolving the host again, and use it from then on. The manager itself
    /// reconnects only when the socket drops, and a demoted node keeps it open: without
    /// this every write would fail until the process restarted. Waits at most about
    /// `2 × timeout` when `wait`; otherwise the replacement goes on in the background.
    /// Returns whether a new connection is in place (only known when waiting).
    pub(crate) fn replace_after(&self, e: &redis::RedisError, wait: bool) -> bool {
        // Inside a script the refusal comes wrapped: "Error running script …: -READONLY …".
        let demoted = matches!(e.code(), Some("READONLY" | "MASTERDOWN"))
            || e.detail()
                .is_some_and(|d| d.contains("-READONLY ") || d.contains("-MASTERDOWN "));
        if !demoted {
            return false;
        }
        let Some(rt) = self.rt.as_ref() else {
            return false;
        };
        if self.replacing.swap(true, Ordering::SeqCst) {
            return false;
        }
        let opening = new_manager(&self.client, &self.config, self.timeout);
        let (slot, replacing) = (Arc::clone(&self.conn), Arc::clone(&self.replacing));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let done = match opening.await {
                Some(Ok(conn)) => {
                    *crate::util::lock(&slot) = conn;
                    true
                }
                _ => false,
            };
            replacing.store(false, Ordering::SeqCst);
            let _ = tx.send(done);
        });
        tracing::warn!(store = %self.label, "the Redis node refused a write (READONLY/MASTERDOWN): reconnecting");
        wait && rx.recv_timeout(self.timeout * 3).unwrap_or(false)
    }

    /// The runtime driving the connection (to spawn a step on and wait for it).
    pub(crate) fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.rt.as_ref()
    }
}

/// The server refused the command without running it because it is still reading its data
/// back after a restart (`LOADING`): the same command may be made again once it has loaded.
pub(crate) fn is_loading(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
    )
}

/// A new connection manager for `client`, given `2 × timeout` (`None` past it): the first
/// connection, and each replacement after a failover.
fn new_manager(
    client: &redis::Client,
    config: &ConnectionManagerConfig,
    timeout: Duration,
) -> impl std::future::Future<Output = Option<redis::RedisResult<ConnectionManager>>> + use<> {
    let (client, config) = (client.clone(), config.clone());
    async move {
        tokio::time::timeout(
            timeout * 2,
            client.get_connection_manager_with_config(config),
        )
        .await
        .ok()
    }
}

/// A Redis error without anything that could carry a credential: the category
/// and the server's message only (redis-rs errors never include the URL).
pub(crate) fn error_text(e: &redis::RedisError) -> String {
    let mut s = format!("{:?}", e.kind());
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    } else if e.is_timeout() {
        s.push_str(": timed out");
    } else if e.is_connection_refusal() {
        s.push_str(": connection refused");
    } else if e.is_io_error() {
        s.push_str(": connection lost");
    }
    s
}

#[cfg(test)]
mod tests {
    /// A Redis that cannot be reached, opened from async code (the CLI, a Rust service
    /// under `#[tokio::main]`): a `store` error, not a panic from dropping the connection's
    /// runtime there.
    #[tokio::test]
    async fn a_failed_connect_in_async_code_is_a_store_error() {
        let url = "redis://127.0.0.1:1/0?busy_timeout_ms=300";
        let e = crate::inbox::open(url).expect_err(url);
        assert_eq!(e.code(), crate::ErrorCode::Store, "{e}");
        // A URL the client cannot read is bad input naming the option, not a store error.
        let e = crate::inbox::open("redis://:pw-SENTINEL@127.0.0.1:1/abc").expect_err("db");
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{e}");
        assert_eq!(e.field(), Some("inbox"));
        assert!(!e.to_string().contains("SENTINEL"), "{e}");
        let Err(e) = crate::governor::open_store("redis://127.0.0.1:1/0") else {
            panic!("opened")
        };
        assert_eq!(e.code(), crate::ErrorCode::Store, "{e}");
    }
}
