//! Results of futures run on the I/O runtime, handed back to the asyncio loop
//! that awaits them.
//!
//! Written here instead of using `pyo3_async_runtimes::generic::future_into_py`
//! for the hot path (every `AsyncClient` call), because of what that function
//! does for each future:
//! - it runs a second task;
//! - on completion it moves to the blocking pool;
//! - it takes the GIL there to call `loop.call_soon_threadsafe`.
//!
//! So each send costs two more thread hand-overs and a GIL that the loop's
//! thread holds. That was the largest line of the client's profile
//! (docs/performance.md §5).
//!
//! Here a runtime thread never takes the GIL. It pushes the result on the
//! loop's queue and, when the queue was empty, writes one byte to a socket
//! that the loop watches (`loop.add_reader`). The loop's thread then sets every
//! queued result in one callback.
//!
//! The semantics are those of `future_into_py`:
//! - the awaitable is an `asyncio.Future` of the running loop;
//! - cancelling it drops the Rust future (its task is aborted);
//! - errors and panics arrive as wa360 exceptions.
//!
//! Loops that cannot watch a socket (`add_reader` not implemented), and calls
//! with no running loop, take `future_into_py` unchanged.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use tokio::task::AbortHandle;

/// Turns a finished future's output into the Python result, on the loop's thread.
type Finish = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The completions of one event loop.
struct LoopQueue {
    queue: Mutex<Vec<(Py<PyAny>, Finish)>>,
    /// Written by the runtime threads (one byte when the queue was empty).
    tx: UnixStream,
    /// Read by the loop's thread before it takes the queue.
    rx: UnixStream,
}

impl LoopQueue {
    fn new() -> std::io::Result<LoopQueue> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(LoopQueue {
            queue: Mutex::new(Vec::new()),
            tx,
            rx,
        })
    }

    /// Called on a runtime thread: no GIL.
    fn push(&self, fut: Py<PyAny>, finish: Finish) {
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.push((fut, finish));
            q.len() == 1
        };
        if was_empty {
            // A full socket buffer means a wake-up is pending already.
            let _ = (&self.tx).write(&[1]);
        }
    }

    /// Called by the loop (its reader callback), GIL held.
    fn drain(&self, py: Python<'_>) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
        let items = std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
        for (fut, finish) in items {
            let fut = fut.bind(py);
            // A cancelled future (its task was aborted, but may have finished first).
            if fut
                .call_method0(pyo3::intern!(py, "done"))
                .and_then(|d| d.is_truthy())
                .unwrap_or(true)
            {
                continue;
            }
            let set = match finish(py) {
                Ok(v) => fut.call_method1(pyo3::intern!(py, "set_result"), (v,)),
                Err(e) => fut.call_method1(pyo3::intern!(py, "set_exception"), (e.into_value(py),)),
            };
            if let Err(e) = set {
                e.write_unraisable(py, Some(fut));
            }
        }
    }
}

/// The queues of the loops seen so far, each with the loop it serves (held,
/// so its address is never reused while it is listed). Closed loops are
/// removed when a new loop is added: usually this list has one entry.
///
/// No Python code runs while this lock is held: Python code can switch
/// threads, and a thread waiting for the lock with the GIL would then block
/// the holder from getting the GIL back.
static QUEUES: Mutex<Vec<(Py<PyAny>, Arc<LoopQueue>)>> = Mutex::new(Vec::new());

fn queues() -> std::sync::MutexGuard<'static, Vec<(Py<PyAny>, Arc<LoopQueue>)>> {
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The completion queue of `event_loop`, registered with it on first use;
/// `None` when the loop cannot watch a socket.
fn queue_of(event_loop: &Bound<'_, PyAny>) -> PyResult<Option<Arc<LoopQueue>>> {
    let py = event_loop.py();
    let listed: Vec<(Py<PyAny>, Arc<LoopQueue>)> = {
        let list = queues();
        if let Some((_, q)) = list.iter().find(|(l, _)| l.as_ptr() == event_loop.as_ptr()) {
            return Ok(Some(q.clone()));
        }
        list.iter()
            .map(|(l, q)| (l.clone_ref(py), q.clone()))
            .collect()
    };
    // A new loop: forget the closed ones (asked without the lock).
    let closed: Vec<*mut pyo3::ffi::PyObject> = listed
        .iter()
        .filter(|(l, _)| {
            l.bind(py)
                .call_method0(pyo3::intern!(py, "is_closed"))
                .and_then(|c| c.is_truthy())
                .unwrap_or(true)
        })
        .map(|(l, _)| l.as_ptr())
        .collect();
    drop(listed);
    let queue = Arc::new(LoopQueue::new().map_err(|e| {
        crate::errors::to_py_err(wa360::Error::Internal(format!(
            "cannot create the completion socket: {e}"
        )))
    })?);
    let q = queue.clone();
    let drain = PyCFunction::new_closure(py, None, None, move |args, _| {
        q.drain(args.py());
        Ok::<(), PyErr>(())
    })?;
    match event_loop.call_method1(
        pyo3::intern!(py, "add_reader"),
        (queue.rx.as_raw_fd(), drain),
    ) {
        Ok(_) => {}
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(py) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    let removed: Vec<(Py<PyAny>, Arc<LoopQueue>)> = {
        let mut list = queues();
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut *list)
            .into_iter()
            .partition(|(l, _)| closed.contains(&l.as_ptr()));
        *list = kept;
        list.push((event_loop.clone().unbind(), queue.clone()));
        gone
    };
    // Released after the lock: dropping a loop may run Python code.
    drop(removed);
    Ok(Some(queue))
}

/// Cancels the Rust task when its asyncio future is cancelled.
#[pyclass(frozen)]
struct AbortOnCancel(AbortHandle);

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()? {
            self.0.abort();
        }
        Ok(())
    }
}

/// The running loop and its queue; `None` when there is no running loop or it
/// cannot watch a socket (the caller then uses `future_into_py`).
pub struct RunningLoop<'py> {
    event_loop: Bound<'py, PyAny>,
    queue: Arc<LoopQueue>,
}

impl<'py> RunningLoop<'py> {
    pub fn get(py: Python<'py>) -> PyResult<Option<RunningLoop<'py>>> {
        static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let get = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?;
        let Ok(event_loop) = get.call0() else {
            return Ok(None);
        };
        Ok(queue_of(&event_loop)?.map(|queue| RunningLoop { event_loop, queue }))
    }

    /// An `asyncio.Future` of this loop resolving to the result of `fut`, run on `rt`.
    pub fn spawn<T>(
        self,
        rt: &tokio::runtime::Runtime,
        fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let py = self.event_loop.py();
        let py_fut = self
            .event_loop
            .call_method0(pyo3::intern!(py, "create_future"))?;
        let handle = py_fut.clone().unbind();
        let queue = self.queue;
        let task = rt.spawn(async move {
            let result = crate::errors::guard_future(fut).await;
            queue.push(
                handle,
                Box::new(move |py| {
                    result
                        .map_err(crate::errors::to_py_err)
                        .and_then(|v| v.into_py_any(py))
                }),
            );
        });
        py_fut.call_method1(
            pyo3::intern!(py, "add_done_callback"),
            (AbortOnCancel(task.abort_handle()),),
        )?;
        Ok(py_fut)
    }
}
