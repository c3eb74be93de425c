//! The durable webhook inbox for Python (`wa360.Inbox`, its `Consumer`) and
//! the one webhook receiver (`wa360._native.Receiver`), driven by the
//! FastAPI / Flask glue in `wa360/receivers.py`. Mirrors `core/src/inbox/`
//! and `core/src/webhook/receiver.rs`; every rule lives in the core.
//!
//! Fork safety: an `Inbox` remembers the process that opened its store; used
//! in a forked child (gunicorn `--preload`, multiprocessing) it opens the
//! store again instead of sharing the parent's SQLite connection.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use wa360::config::Secret;
use wa360::inbox::{self, Consumer, Delivery, Inbox, Nacked, redact_url};
use wa360::metrics::ReceiverMetrics;
use wa360::webhook::{Receiver, ReceiverConfig};

use crate::errors::{IntoPyResult, guard};
use crate::webhook::{
    PyDeduper, PyStatusFold, PyVerifier, event_to_py, header_pairs, with_body_bytes,
};

/// A poison-tolerant lock (a panic while it was held must not make it unusable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A durable store of webhook events, opened by URL: `memory://` (one
/// process, not durable) or `sqlite:///abs/path.db` (several processes on
/// one machine). Opening fails at once, with `StoreError`, on a corrupt or
/// locked file, and with `InvalidArgumentError` on an unknown URL.
#[pyclass(name = "Inbox", module = "wa360._native", frozen)]
pub struct PyInbox {
    url: String,
    slot: Mutex<(u32, Arc<dyn Inbox>)>,
}

impl PyInbox {
    /// The store for this process (opened again after a fork). Call it with the GIL
    /// released (`py.detach`): reopening connects (Redis) or opens a file, which can take
    /// up to the busy timeout, and every other Python thread would stall meanwhile.
    pub(crate) fn get(&self) -> wa360::Result<Arc<dyn Inbox>> {
        let pid = std::process::id();
        let mut slot = lock(&self.slot);
        if slot.0 != pid {
            *slot = (pid, inbox::open(&self.url)?);
        }
        Ok(Arc::clone(&slot.1))
    }

    /// The store when it is already open in this process, without waiting: `None` after a
    /// fork until [`PyInbox::get`] has opened it again, or while another thread is at it.
    fn opened(&self) -> Option<Arc<dyn Inbox>> {
        let slot = match self.slot.try_lock() {
            Ok(slot) => slot,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        (slot.0 == std::process::id()).then(|| Arc::clone(&slot.1))
    }
}

/// At most this many inbox writes (accepts, acks) of the asyncio paths at once, per process.
/// They run on the runtime's blocking pool, which the client shares (reqwest resolves names
/// there) and which grows to 512 threads: with a store that answers slowly (Redis cut off,
/// SQLite locked) a burst of deliveries would otherwise fill it. The thread pool that
/// `asyncio.to_thread` used before had `min(32, cpus + 4)` threads.
const STORE_WRITES: usize = 32;

/// This process's permits for [`STORE_WRITES`] (a fresh set after a fork: the parent's
/// writes in flight do not exist in the child and would never give theirs back).
fn store_writes() -> Arc<tokio::sync::Semaphore> {
    static SLOT: Mutex<Option<(u32, Arc<tokio::sync::Semaphore>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = lock(&SLOT);
    match &*slot {
        Some((p, s)) if *p == pid => Arc::clone(s),
        _ => {
            let s = Arc::new(tokio::sync::Semaphore::new(STORE_WRITES));
            *slot = Some((pid, Arc::clone(&s)));
            s
        }
    }
}

/// Run an inbox write on the runtime's blocking pool, within [`STORE_WRITES`].
async fn store_write<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> wa360::Result<T> + Send + 'static,
) -> wa360::Result<T> {
    let permit = store_writes()
        .acquire_owned()
        .await
        .map_err(|e| wa360::Error::Internal(format!("{what}: {e}")))?;
    // The permit goes with the write: a cancelled await does not stop the write, so it must
    // not give the permit back before the write ends.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|e| wa360::Error::Internal(format!("{what} task: {e}")))?
}

fn stats_dict<'py>(py: Python<'py>, s: inbox::InboxStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ready", s.ready)?;
    d.set_item("in_flight", s.in_flight)?;
    d.set_item("dead", s.dead)?;
    d.set_item("handled", s.handled)?;
    d.set_item("duplicates", s.duplicates)?;
    d.set_item("stale", s.stale)?;
    d.set_item("keys", s.keys)?;
    Ok(d)
}

#[pymethods]
impl PyInbox {
    #[new]
    fn new(py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<Self> {
        let url = crate::convert::text_arg(url, "inbox")?;
        let url = url.as_str();
        guard(|| {
            let store = py.detach(|| inbox::open(url)).py_err()?;
            Ok(PyInbox {
                url: url.to_string(),
                slot: Mutex::new((std::process::id(), store)),
            })
        })
    }

    /// The URL it was opened with.
    #[getter]
    fn url(&self) -> String {
        redact_url(&self.url)
    }

    /// Counts: `ready`, `in_flight`, `dead`, `handled`, `duplicates`, `stale`, `keys`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(|| {
            let s = py.detach(|| self.get()?.stats()).py_err()?;
            stats_dict(py, s)
        })
    }

    /// `(ready, in_flight)` alone, without counting the dedupe keys (which Redis does by
    /// walking the keyspace): what `WebhookReceiver.join` polls.
    fn _backlog(&self, py: Python<'_>) -> PyResult<(u64, u64)> {
        guard(|| py.detach(|| self.get()?.backlog()).py_err())
    }

    /// Up to `limit` dead letters, oldest first: dicts with `id`, `event`,
    /// `attempts`, `last_error`, `accepted_at_ms`.
    #[pyo3(signature = (limit = 100))]
    fn dead<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = crate::convert::args::dead_limit)] limit: u64,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            // In range already (`args::dead_limit`).
            let limit = limit as usize;
            let rows = py.detach(|| self.get()?.dead(limit)).py_err()?;
            let out = PyList::empty(py);
            for r in rows {
                let d = PyDict::new(py);
                d.set_item("id", r.id)?;
                d.set_item("event", event_to_py(py, r.event)?)?;
                d.set_item("attempts", r.attempts)?;
                d.set_item("last_error", r.last_error)?;
                d.set_item("accepted_at_ms", r.accepted_at_ms)?;
                out.append(d)?;
            }
            Ok(out)
        })
    }

    /// Put dead letters back in line (one by `id`, or all); returns how many.
    #[pyo3(signature = (id = None))]
    fn replay(&self, py: Python<'_>, id: Option<&str>) -> PyResult<usize> {
        guard(|| py.detach(|| self.get()?.replay(id)).py_err())
    }

    /// Delete dead letters (one by `id`, or all); returns how many.
    #[pyo3(signature = (id = None))]
    fn drop(&self, py: Python<'_>, id: Option<&str>) -> PyResult<usize> {
        guard(|| py.detach(|| self.get()?.drop_dead(id)).py_err())
    }

    /// Drop dedupe keys and folded statuses past the retention; returns how many.
    fn prune(&self, py: Python<'_>) -> PyResult<usize> {
        guard(|| py.detach(|| self.get()?.prune()).py_err())
    }

    /// What the consumers of this inbox did in this process as a dict (see
    /// docs/observability.md): `events` by result, `handled`, `retried`, `dead_lettered`;
    /// non-zero only. The same counts a `Receiver` using this inbox adds to its `metrics()`.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let store = py.detach(|| self.get()).py_err()?;
            let m = wa360::metrics::InboxMetricsSnapshot::of(store.metrics());
            let v = serde_json::to_value(m)
                .map_err(|e| crate::errors::to_py_err(wa360::Error::Internal(e.to_string())))?;
            crate::convert::value_to_py(py, &v)
        })
    }

    /// A new consumer (its own name and lease renewal) for a worker loop.
    fn consumer(&self, py: Python<'_>) -> PyResult<PyConsumer> {
        guard(|| {
            Ok(PyConsumer {
                inner: Consumer::new(py.detach(|| self.get()).py_err()?),
            })
        })
    }

    fn __repr__(&self) -> String {
        format!("Inbox({:?})", redact_url(&self.url))
    }
}

/// One claimed event: `id`, `event`, `attempt` (1 = first try), `conversation`.
#[pyclass(name = "Delivery", module = "wa360._native", frozen)]
pub struct PyDelivery {
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    event: Py<PyAny>,
    #[pyo3(get)]
    attempt: u32,
    #[pyo3(get)]
    conversation: Option<String>,
}

#[pymethods]
impl PyDelivery {
    fn __repr__(&self) -> String {
        format!("Delivery(id={:?}, attempt={})", self.id, self.attempt)
    }
}

fn delivery_to_py(py: Python<'_>, d: Delivery) -> PyResult<PyDelivery> {
    Ok(PyDelivery {
        id: d.id,
        event: event_to_py(py, d.event)?.unbind(),
        attempt: d.attempt,
        conversation: d.conversation,
    })
}

/// Claims events from an inbox under renewed leases (see `Inbox.consumer()`).
#[pyclass(name = "Consumer", module = "wa360._native", frozen)]
pub struct PyConsumer {
    inner: Consumer,
}

#[pymethods]
impl PyConsumer {
    /// This consumer's unique name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Claim up to `max` events, waiting up to `timeout` seconds (GIL released).
    #[pyo3(signature = (max = 1, timeout = None), text_signature = "($self, max=1, timeout=1.0)")]
    fn next(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::convert::args::claim_max)] max: u64,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyDelivery>> {
        let timeout = match timeout {
            Some(t) => crate::convert::num_option(t, "timeout")?,
            None => 1.0,
        };
        guard(|| {
            // In range already (`args::claim_max`).
            let max = max as usize;
            let timeout = wa360::input::wait_s_option("timeout", timeout).py_err()?;
            let got = py.detach(|| self.inner.next(max, timeout)).py_err()?;
            got.into_iter().map(|d| delivery_to_py(py, d)).collect()
        })
    }

    /// The handler succeeded; `False` when the lease was lost meanwhile.
    fn ack(&self, py: Python<'_>, id: &str) -> PyResult<bool> {
        guard(|| py.detach(|| self.inner.ack(id)).py_err())
    }

    /// `ack` as an awaitable, for the consumers of asyncio handlers: the write runs on the
    /// native runtime's blocking pool and the answer reaches the loop through the batched
    /// completions, where `asyncio.to_thread(ack)` had a Python thread take the GIL from the
    /// loop's thread twice per event.
    fn _ack_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let consumer = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            store_write("inbox ack", move || consumer.ack(&id)).await
        })
    }

    /// The handler failed: `"retry"`, `"dead"` (dead-lettered) or `"not_held"`. The error
    /// text is read lossily (a lone surrogate becomes U+FFFD): a report refused for its text
    /// would leave the event held, its lease renewed, for good.
    fn nack(
        &self,
        py: Python<'_>,
        id: &str,
        error: &Bound<'_, PyString>,
    ) -> PyResult<&'static str> {
        let error = crate::convert::lossy_str(error);
        guard(|| {
            Ok(match py.detach(|| self.inner.nack(id, &error)).py_err()? {
                Nacked::Retry(_) => "retry",
                Nacked::Dead => "dead",
                Nacked::NotHeld => "not_held",
            })
        })
    }

    /// Stop claiming (`next` returns `[]` from now on).
    fn stop(&self) {
        self.inner.stop();
    }

    /// `True` after `stop()` or `close()`.
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// Events claimed and not yet acked or nacked. Read with the GIL released: the lock it
    /// takes is held by threads that may wait for the GIL (to log).
    #[getter]
    fn held(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.held())
    }

    /// Give back every held event without counting the attempt; returns how many. Outcomes
    /// the store refused are told once more; refused again, nothing is given back (the
    /// events wait out their leases) and it raises `StoreError` saying how many.
    fn release_held(&self, py: Python<'_>) -> PyResult<usize> {
        guard(|| py.detach(|| self.inner.release_held()).py_err())
    }

    /// Stop, release what is held, end lease renewal; returns how many were released.
    fn close(&self, py: Python<'_>) -> PyResult<usize> {
        guard(|| py.detach(|| self.inner.close()).py_err())
    }
}

/// What a `PyReceiver` holds for the process it was built or forked into: the receiver's
/// figures (kept from the first answer on, also while the receiver cannot be built) and,
/// once its store is open in this process, the receiver.
struct ProcessSlot {
    pid: u32,
    metrics: Arc<ReceiverMetrics>,
    receiver: Option<Receiver>,
}

/// This process's slot; a slot left by the parent of a fork is replaced by an empty one
/// (the figures of a receiver are those of its process).
fn slot_here(slot: &mut Option<ProcessSlot>) -> &mut ProcessSlot {
    let pid = std::process::id();
    if slot.as_ref().is_none_or(|s| s.pid != pid) {
        *slot = Some(ProcessSlot {
            pid,
            metrics: Arc::default(),
            receiver: None,
        });
    }
    slot.as_mut().expect("set just above")
}

/// `(status, body, new_events, duplicates, stale, error)`.
type ReplyTuple<'py> = (
    u16,
    Bound<'py, PyBytes>,
    Bound<'py, PyList>,
    usize,
    usize,
    Option<String>,
);

/// The one webhook receiver (the core's): verify, handshake, caps, parse,
/// then the inbox's atomic accept or the in-memory dedupe.
#[pyclass(name = "Receiver", module = "wa360._native", frozen)]
pub struct PyReceiver {
    base: ReceiverConfig,
    inbox: Option<Py<PyInbox>>,
    slot: Mutex<Option<ProcessSlot>>,
}

impl PyReceiver {
    /// The receiver of this process when it can be had without waiting: built already, or
    /// its inbox open in this process. `None` after a fork until [`PyReceiver::open`] ran.
    fn ready(&self) -> Option<Receiver> {
        if let Some(r) = self.current() {
            return Some(r);
        }
        let inbox = match &self.inbox {
            Some(i) => Some(i.get().opened()?),
            None => None,
        };
        Some(self.install(inbox))
    }

    /// The receiver of this process; after a fork its inbox is opened again. Call it with
    /// the GIL released and never on an event loop: reopening connects (Redis) or opens a
    /// file, which can take up to the busy timeout. No lock of ours is held meanwhile.
    fn open(&self) -> wa360::Result<Receiver> {
        if let Some(r) = self.ready() {
            return Ok(r);
        }
        let inbox = self.inbox.as_ref().map(|i| i.get().get()).transpose()?;
        Ok(self.install(inbox))
    }

    /// The receiver built in this process, if any.
    fn current(&self) -> Option<Receiver> {
        match &*lock(&self.slot) {
            Some(s) if s.pid == std::process::id() => s.receiver.clone(),
            _ => None,
        }
    }

    /// This process's receiver figures (also before its receiver could be built).
    fn process_metrics(&self) -> Arc<ReceiverMetrics> {
        slot_here(&mut lock(&self.slot)).metrics.clone()
    }

    /// The answer when this process's inbox cannot be opened (again, after a fork): a 503,
    /// counted in this process's figures and logged as the core's receiver counts and logs
    /// one (the core's `Receiver` cannot be built without its store).
    fn unavailable(&self, start: Instant, e: wa360::Error) -> wa360::webhook::Reply {
        let took = start.elapsed();
        self.process_metrics().delivery(503, took, 0, 0, 0);
        tracing::warn!(
            target: "wa360::webhook::receiver",
            status = 503,
            latency_ms = took.as_secs_f64() * 1e3,
            code = e.code().as_str(),
            error = %e,
            "webhook delivery not stored: answered 503 (the inbox cannot be opened in this process; 360dialog will deliver again)"
        );
        wa360::webhook::Reply {
            status: 503,
            body: "inbox unavailable".into(),
            error: Some(e),
            ..Default::default()
        }
    }

    /// This process's receiver on `inbox`, built unless another thread built one meanwhile
    /// (one receiver per process: its in-memory state is shared by every request).
    fn install(&self, inbox: Option<Arc<dyn Inbox>>) -> Receiver {
        let mut slot = lock(&self.slot);
        let here = slot_here(&mut slot);
        if let Some(r) = &here.receiver {
            return r.clone();
        }
        let mut cfg = self.base.clone();
        cfg.inbox = inbox;
        let r = Receiver::with_metrics(cfg, here.metrics.clone());
        here.receiver = Some(r.clone());
        r
    }

    /// The receiver of this process, for the synchronous methods: opened with the GIL
    /// released when it has to be (a thread holding the GIL may be waiting for it).
    fn receiver(&self, py: Python<'_>) -> wa360::Result<Receiver> {
        match self.ready() {
            Some(r) => Ok(r),
            None => py.detach(|| self.open()),
        }
    }
}

#[pymethods]
impl PyReceiver {
    #[new]
    #[pyo3(signature = (*, verifier = None, verify_token = None, inbox = None, dedupe = None, status_fold = None, max_bytes = None, max_depth = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        verifier: Option<PyRef<'_, PyVerifier>>,
        verify_token: Option<&Bound<'_, PyAny>>,
        inbox: Option<Py<PyInbox>>,
        dedupe: Option<PyRef<'_, PyDeduper>>,
        status_fold: Option<PyRef<'_, PyStatusFold>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        max_depth: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let verify_token = verify_token
            .map(|t| crate::convert::text_arg(t, "verify_token"))
            .transpose()?;
        guard(|| {
            if verify_token.as_deref() == Some("") {
                return Err(crate::errors::to_py_err(wa360::Error::invalid(
                    "verify_token",
                    "must not be empty",
                )));
            }
            let parse = crate::webhook::parse_limits(max_bytes, max_depth)?;
            Ok(PyReceiver {
                base: ReceiverConfig {
                    verifier: verifier.map(|v| v.inner.clone()),
                    verify_token: verify_token.map(Secret::new),
                    parse,
                    inbox: None,
                    dedupe: dedupe.map(|x| x.inner.clone()),
                    status_fold: status_fold.map(|x| x.inner.clone()),
                },
                inbox,
                slot: Mutex::new(None),
            })
        })
    }

    /// The largest body accepted (bytes): the framework glue reads at most one byte more,
    /// so a larger body is answered 413 without being held in memory.
    #[getter]
    fn max_bytes(&self) -> usize {
        self.base.parse.max_bytes
    }

    /// The inbox, when there is one.
    #[getter]
    fn inbox(&self, py: Python<'_>) -> Option<Py<PyInbox>> {
        self.inbox.as_ref().map(|i| i.clone_ref(py))
    }

    /// A snapshot of this receiver's figures in this process as a dict: `events` (by
    /// result: `accepted`, `deduplicated`, `stale`, and with an inbox `handled`, `retried`,
    /// `dead_lettered`), `deliveries` (answered requests by status, `"200"`, `"503"`, …) and
    /// `ack_latency` (histogram); see docs/observability.md.
    /// In a forked worker whose store cannot be opened yet, the figures are those of the
    /// 503s it answered (nothing else happened in this process): never an exception.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let snapshot = match self.ready() {
                Some(r) => r.metrics(),
                None => self.process_metrics().snapshot(None),
            };
            let v = serde_json::to_value(snapshot)
                .map_err(|e| crate::errors::to_py_err(wa360::Error::Internal(e.to_string())))?;
            crate::convert::value_to_py(py, &v)
        })
    }

    /// What can be answered before the body is read (see the core's
    /// `Receiver::precheck`): `(status, body)` for a declared `content_length` over the
    /// limit (413) or failed Basic / header credentials (401), else `None`.
    #[pyo3(signature = (method, headers, content_length = None))]
    fn precheck<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        headers: &Bound<'py, PyAny>,
        content_length: Option<u64>,
    ) -> PyResult<Option<(u16, Bound<'py, PyBytes>)>> {
        guard(|| {
            let pairs = header_pairs(headers)?;
            // Never waits for the store: the asyncio glue asks on its event loop. Until the
            // store is open again after a fork (`handle` opens it, or answers 503 when it
            // cannot), nothing is decided here and `handle` checks everything.
            let Some(r) = self.ready() else {
                return Ok(None);
            };
            Ok(r.precheck(method, &pairs, content_length)
                .map(|reply| (reply.status, PyBytes::new(py, reply.body.as_bytes()))))
        })
    }

    /// An awaitable of `(status, body)` for one POST with an inbox, for asyncio servers: the
    /// store write runs on the native runtime's blocking pool, and the answer reaches the
    /// loop through the batched completions (`completions.rs`). Before, a Python thread
    /// (`asyncio.to_thread`) ran `handle`: it had to take the GIL from the busy loop thread
    /// twice per delivery (up to the 5 ms switch interval each), which made the receiver's
    /// answers wait under load (docs/performance.md). The new events are not returned: with
    /// an inbox the consumers hand them out.
    fn _post_async<'py>(
        slf: &Bound<'py, Self>,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let pairs = guard(|| header_pairs(headers))?;
        let body = with_body_bytes(body, "body", |bytes| Ok(bytes.to_vec()))?;
        // After a fork the store is opened again in the blocking task, never on the loop.
        let ready = slf.get().ready().ok_or_else(|| slf.clone().unbind());
        crate::runtime::future_into_py(py, async move {
            let start = Instant::now();
            let reply = store_write("webhook accept", move || {
                let me = match ready {
                    Ok(r) => return Ok(r.handle("POST", "", &pairs, &body)),
                    Err(me) => me,
                };
                match me.get().open() {
                    Ok(r) => Ok(r.handle("POST", "", &pairs, &body)),
                    // As `handle`: an inbox that cannot be opened again after a fork is a 503.
                    Err(e) if e.code() == wa360::ErrorCode::Store => {
                        Ok(me.get().unavailable(start, e))
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
            Ok((
                reply.status,
                std::borrow::Cow::<[u8]>::Owned(reply.body.into_bytes()),
            ))
        })
    }

    /// Handle one request: `(status, body, new_events, duplicates, stale, error)`;
    /// `error` is a log-safe reason when the delivery was refused.
    fn handle<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        query: &str,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<ReplyTuple<'py>> {
        guard(|| {
            let start = Instant::now();
            let pairs = header_pairs(headers)?;
            let reply = match self.receiver(py) {
                Ok(r) => with_body_bytes(body, "body", |bytes| {
                    Ok(py.detach(|| r.handle(method, query, &pairs, bytes)))
                })?,
                // The inbox could not be opened again after a fork (its store is down):
                // nothing was stored, so 503 and 360dialog delivers again, as the
                // receiver answers for a store that fails.
                Err(e) if e.code() == wa360::ErrorCode::Store => self.unavailable(start, e),
                Err(e) => return Err(crate::errors::to_py_err(e)),
            };
            let events = PyList::empty(py);
            for e in reply.events {
                events.append(event_to_py(py, e)?)?;
            }
            Ok((
                reply.status,
                PyBytes::new(py, reply.body.as_bytes()),
                events,
                reply.duplicates,
                reply.stale,
                reply.error.map(|e| format!("{} ({})", e, e.code())),
            ))
        })
    }
}

/// Closes the core's fork gate around every `fork()` of this process (`wa360::fork_gate`):
/// before it, wait for the SQLite calls under way on other threads and hold new ones back, so
/// that none holds one of SQLite's process-wide locks at the fork (the child would wait on it
/// for good: a gunicorn `--preload` worker whose parent ran inbox consumers); after it, in
/// the parent and in the child, let them go on. Registered with `pthread_atfork`, not
/// `os.register_at_fork`: Python's own steps between its hooks and the fork (its import
/// lock, other hooks' code) can let another thread take the GIL, and one that then closed a
/// SQLite connection waited for the gate with the GIL held while the fork waited for the GIL.
/// Inside `fork()` itself no Python code runs. Once per process.
pub fn install_fork_gate() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        extern "C" fn prepare() {
            wa360::fork_gate::close_for_fork();
        }
        extern "C" fn after() {
            wa360::fork_gate::open_after_fork();
        }
        ONCE.call_once(|| {
            // SAFETY: registers plain functions without arguments that only touch the gate's
            // own statics and cannot unwind (nothing in them panics: a poisoned lock is taken
            // as it is). A failure (ENOMEM) leaves forks as they were.
            let _ = unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(after)) };
        });
    }
}
