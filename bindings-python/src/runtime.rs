//! The one tokio runtime behind `Client` and `AsyncClient`, and its glue to
//! asyncio (`pyo3_async_runtimes::generic`).
//!
//! Written here instead of using `pyo3_async_runtimes::tokio` because that
//! runtime lives in a process-wide `OnceLock`: after `fork()` (gunicorn,
//! Celery prefork) the child inherits a runtime whose worker threads do not
//! exist, and every await would hang. This runtime is keyed by process id: a
//! child builds a fresh one on first use, so clients created in the child
//! work. (Clients created before the fork refuse to run in the child with a
//! clear error; see `client.rs`.)

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use tokio::runtime::{Builder, Runtime};

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime of this process, built on first use (and again in a forked child).
pub fn runtime() -> Result<&'static Runtime, wa360::Error> {
    let pid = std::process::id();
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wa360-io")
        .enable_all()
        .build()
        .map_err(|e| wa360::Error::Internal(format!("cannot start the I/O runtime: {e}")))?;
    // Leaked on purpose: the runtime lives as long as the process (its worker
    // threads may still finish in-flight requests while Python exits). A
    // forked child leaks the parent's copy, whose threads do not exist there.
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// Run `fut` to completion on the runtime with the GIL released, checking
/// for signals every 50 ms: Ctrl-C (or any Python signal handler that
/// raises) interrupts the wait at once, cancels the request (its task is
/// aborted, closing the connection) and raises in the caller.
pub fn block_on<T: Send + 'static>(
    py: Python<'_>,
    fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
) -> PyResult<T> {
    block_on_or_stop(py, fut, None::<fn()>)
}

/// [`block_on`] for work that must not be cut off mid-way (a broadcast: aborting it would
/// drop sends that may already have gone out, and a resume would send them again). The
/// first signal calls `stop`, and the wait goes on until `fut` ends (a stopped broadcast
/// ends once its sends in flight are answered); the signal's exception is then raised. A
/// second signal aborts at once.
pub fn block_on_stopping<T: Send + 'static>(
    py: Python<'_>,
    fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
    stop: impl Fn(),
) -> PyResult<T> {
    block_on_or_stop(py, fut, Some(stop))
}

fn block_on_or_stop<T: Send + 'static>(
    py: Python<'_>,
    fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
    stop: Option<impl Fn()>,
) -> PyResult<T> {
    // A sync call from Python code that runs on a runtime thread (see `off_worker`).
    off_worker(|| wait_for(py, fut, stop))
}

/// Run `f`, which calls Python code that may block (a logging handler, a broadcast's
/// progress callback, a sync wa360 call made from one of them), without holding a runtime
/// worker: on a worker thread of a multi-thread runtime, through `block_in_place`, which
/// first hands the worker's queue to another thread.
///
/// Without it, that Python code parks the worker. A sync call made there waits for a task
/// queued on that same worker (tokio runs a task spawned from a worker on that worker
/// first), and a handler that waits for a lock another worker holds while it logs parks
/// both: every request of the process then hangs.
pub fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    if tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

fn wait_for<T: Send + 'static>(
    py: Python<'_>,
    fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
    stop: Option<impl Fn()>,
) -> PyResult<T> {
    use std::sync::mpsc::{RecvTimeoutError, sync_channel};
    let rt = runtime().map_err(crate::errors::to_py_err)?;
    let (tx, rx) = sync_channel(1);
    let quiet = crate::logging::in_handler();
    let task = rt.spawn(async move {
        let fut = crate::errors::guard_future(fut);
        let out = if quiet {
            crate::logging::quiet(fut).await
        } else {
            fut.await
        };
        let _ = tx.send(out);
    });
    let mut rx = rx;
    let mut interrupted: Option<PyErr> = None;
    loop {
        // The receiver moves into the GIL-free closure and back (it is not Sync).
        let (got, back) = py.detach(move || {
            let got = rx.recv_timeout(std::time::Duration::from_millis(50));
            (got, rx)
        });
        rx = back;
        match got {
            Ok(r) => {
                return match interrupted {
                    Some(e) => Err(e),
                    None => r.map_err(crate::errors::to_py_err),
                };
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    match &stop {
                        Some(stop) if interrupted.is_none() => {
                            stop();
                            interrupted = Some(e);
                        }
                        _ => {
                            task.abort();
                            return Err(e);
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(crate::errors::to_py_err(wa360::Error::Internal(
                    "the request task ended without an answer".into(),
                )));
            }
        }
    }
}

/// Marker type implementing pyo3-async-runtimes' runtime traits on [`runtime`].
pub struct Wa360Runtime;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl GenericRuntime for Wa360Runtime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = Pin<Box<dyn Future<Output = Result<(), tokio::task::JoinError>> + Send>>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match runtime() {
            Ok(rt) => Box::pin(rt.spawn(fut)),
            // No runtime could be built (out of threads): run the task inline on
            // the thread that awaits the handle, so its error still reaches Python.
            Err(_) => Box::pin(async move {
                fut.await;
                Ok(())
            }),
        }
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        match runtime() {
            Ok(rt) => Box::pin(rt.spawn_blocking(f)),
            Err(_) => Box::pin(async move {
                f();
                Ok(())
            }),
        }
    }
}

impl ContextExt for Wa360Runtime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// [`future_into_py`] for a broadcast: it runs as its own task, so cancelling the asyncio
/// future does not cut off its sends in flight (a resume would send them again). The
/// cancelled future stops the broadcast (`control`), which ends after their answers.
pub fn future_into_py_stopping<'py, T>(
    py: Python<'py>,
    fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
    control: wa360::broadcast::BroadcastControl,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    // No running loop: `future_into_py` would raise, after the broadcast had started (and
    // its guard, dropped, would record it as stopped). Raise before anything runs.
    py.import("asyncio")?.call_method0("get_running_loop")?;
    let rt = runtime().map_err(crate::errors::to_py_err)?;
    let task = rt.spawn(crate::errors::guard_future(fut));
    let armed = crate::broadcast::StopOnDrop(Some(control));
    future_into_py(py, async move {
        let mut armed = armed;
        let done = task.await;
        armed.disarm();
        done.map_err(|e| wa360::Error::Internal(format!("broadcast task: {e}")))?
    })
}

/// An asyncio awaitable resolving to the result of `fut` (run on [`runtime`]);
/// core errors become wa360 exceptions, panics `InternalError`. Results reach the
/// running loop through `completions` (no GIL taken on the runtime's threads);
/// `future_into_py` remains for a loop that cannot watch a socket.
pub fn future_into_py<'py, T>(
    py: Python<'py>,
    fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    if let Ok(rt) = runtime()
        && let Some(running) = crate::completions::RunningLoop::get(py)?
    {
        return running.spawn(rt, fut);
    }
    pyo3_async_runtimes::generic::future_into_py::<Wa360Runtime, _, T>(py, async move {
        crate::errors::guard_future(fut)
            .await
            .map_err(crate::errors::to_py_err)
    })
}
