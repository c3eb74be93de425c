//! One Redis connection for the Redis inbox ([`crate::inbox::RedisInbox`]) and the
//! Redis governor store ([`crate::governor::RedisStore`]): a `redis` connection
//! manager driven by a private one-thread tokio runtime.
//!
//! Why a private runtime: the inbox API is synchronous and is called from
//! Python threads, Node's worker threads and plain Rust threads, inside or
//! outside another runtime; the manager's driver task needs a runtime that
//! outlives every caller. Connecting and waiting go through a channel, never
//! `block_on`, which would panic when called from async code.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Error, Result};

/// A connected manager and the runtime that drives it.
pub(crate) struct RedisConn {
    rt: Option<tokio::runtime::Runtime>,
    /// Cheap to clone; every clone shares the one multiplexed connection.
    pub(crate) conn: ConnectionManager,
    /// `what url` with the credentials masked (`inbox redis://***@host:6379/0`), for errors.
    pub(crate) label: String,
}

impl Drop for RedisConn {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime's
        // async context (a Node or Python event loop thread): shut down in
        // the background instead.
        if let Some(rt) = self.rt.take() {
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
        let client = redis::Client::open(url)
            .map_err(|e| Error::Store(format!("{label}: {}", error_text(&e))))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wa360-redis")
            .enable_all()
            .build()
            .map_err(|e| Error::Store(format!("{label}: cannot start a runtime: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let r = tokio::time::timeout(
                timeout * 2,
                client.get_connection_manager_with_config(config),
            )
            .await;
            let _ = tx.send(r);
        });
        let conn = rx
            .recv()
            .map_err(|_| Error::Store(format!("{label}: cannot connect")))?
            .map_err(|_| Error::Store(format!("{label}: cannot connect: timed out")))?
            .map_err(|e| Error::Store(format!("{label}: cannot connect: {}", error_text(&e))))?;
        Ok(RedisConn {
            rt: Some(rt),
            conn,
            label,
        })
    }

    /// The runtime driving the connection (to spawn a step on and wait for it).
    pub(crate) fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.rt.as_ref()
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
