//! Promises of futures run on napi's tokio runtime, settled on the JavaScript
//! thread in batches.
//!
//! Written here instead of using `Env::spawn_future_with_callback`, because of
//! what that function does for each promise:
//! - it creates a thread-safe function and registers an env cleanup hook;
//! - on completion it calls that function;
//! - it then releases the function, which closes its libuv handle.
//!
//! At 64 sends in flight, that per-promise machinery and its thread hand-overs
//! were the largest lines of the client's profile (docs/performance.md §5).
//!
//! Here each JavaScript thread (the main one, each worker) has one thread-safe
//! function. A finished future pushes its output on a shared queue, and the
//! JavaScript thread, called through that function once per batch, settles
//! every queued promise in one call.
//!
//! A runtime thread does not wake the JavaScript thread for each output: the
//! first output of a batch spawns a flush task that yields (tokio runs a
//! yielded task again only after the tasks already ready, when the worker
//! would otherwise go idle, or at its periodic check), yields again while
//! more outputs arrived meanwhile, and then wakes the JavaScript thread, so
//! the outputs of every task run meanwhile are settled in one call. A queue
//! of 64 outputs wakes it at once.
//!
//! The function is referenced while promises are pending, so the process
//! stays alive for them. It is unreferenced when none is pending, so an idle
//! client never holds the process open, as before. An env cleanup hook closes
//! the queue before Node finalizes the function: a future that finishes after
//! its worker ended is dropped, never delivered to a freed function.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use futures_util::FutureExt;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{Env, JsError, sys};

use crate::errors::js_error;

/// A finished future's output (`wa360::Result<T>`), typed again by its `Settle`.
type Output = Box<dyn Any + Send>;
/// Resolves or rejects one promise from its output, on the JavaScript thread.
type Settle = Box<dyn FnOnce(&Env, Output) -> napi::Result<sys::napi_value>>;

/// A thread-safe function handle: N-API allows calling it from any thread.
struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: `napi_call_threadsafe_function` is made to be called from any thread;
// the handle is only called under the read lock that says it is open.
unsafe impl Send for Tsfn {}
// SAFETY: shared by reference only to be called (several runtime threads may
// call it at once, which N-API allows); it is replaced only under the write lock.
unsafe impl Sync for Tsfn {}

/// What the runtime's threads share with one JavaScript thread.
///
/// Two locks, so that a runtime thread never calls the function while holding
/// the lock the JavaScript thread takes to drain the queue. On one core, the
/// call wakes the JavaScript thread, which then preempted the runtime thread
/// inside that lock and blocked on it: two futex calls and two more context
/// switches per wake-up (docs/performance.md §5).
struct Shared {
    /// Finished futures by promise id.
    done: Mutex<Vec<(u64, Output)>>,
    /// The function that wakes the JavaScript thread (`None` once the env is
    /// torn down). Read-locked by the runtime thread while it calls it.
    tsfn: RwLock<Option<Tsfn>>,
    /// A wake-up is queued and has not yet drained the queue.
    signalled: AtomicBool,
    /// A flush task is spawned and has not yet signalled.
    flushing: AtomicBool,
}

impl Shared {
    /// Wakes the JavaScript thread unless a wake-up is already on its way.
    fn signal(&self) {
        if !self.signalled.swap(true, SeqCst)
            && let Some(tsfn) = &*self.tsfn.read().unwrap_or_else(PoisonError::into_inner)
            && !wake(tsfn.0)
        {
            // Not queued (the function is closing): the next output tries again.
            self.signalled.store(false, SeqCst);
        }
    }
}

/// Outputs queued before the JavaScript thread is woken at once, without
/// waiting for the flush task.
const MAX_QUEUED_OUTPUTS: usize = 64;

/// Most times a flush yields while outputs keep arriving.
const MAX_FLUSH_YIELDS: usize = 8;

/// Wakes the JavaScript thread once the runtime has run the tasks that were
/// ready (see the module comment). It yields again while the queue grew
/// meanwhile, up to [`MAX_FLUSH_YIELDS`] times: at 64 sends in flight on one
/// core, answers arrive over several polls of the I/O driver, and one wake-up
/// for all of them halves the context switches of one wake-up per poll
/// (docs/performance.md §5, fourth pass).
async fn flush(shared: Arc<Shared>) {
    let queued = || {
        shared
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    };
    let mut seen = queued();
    for _ in 0..MAX_FLUSH_YIELDS {
        tokio::task::yield_now().await;
        let now = queued();
        if now == seen {
            break;
        }
        seen = now;
    }
    // Before the signal: an output pushed after this spawns the next flush.
    shared.flushing.store(false, SeqCst);
    shared.signal();
}

/// The JavaScript thread's side: its pending promises.
struct JsSide {
    env: sys::napi_env,
    shared: Arc<Shared>,
    tsfn: sys::napi_threadsafe_function,
    next: u64,
    pending: HashMap<u64, (sys::napi_deferred, Settle)>,
    referenced: bool,
}

thread_local! {
    static JS: RefCell<Option<JsSide>> = const { RefCell::new(None) };
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "{what} failed (N-API status {status})"
        )))
    }
}

/// Creates this thread's side: one unreferenced thread-safe function and the
/// cleanup hook that closes the queue.
fn init(env: sys::napi_env) -> napi::Result<JsSide> {
    let shared = Arc::new(Shared {
        done: Mutex::new(Vec::new()),
        tsfn: RwLock::new(None),
        signalled: AtomicBool::new(false),
        flushing: AtomicBool::new(false),
    });
    let mut name = ptr::null_mut();
    let mut tsfn = ptr::null_mut();
    // SAFETY: called on the JavaScript thread with its live env; every out
    // pointer is valid for writing.
    unsafe {
        check(
            sys::napi_create_string_utf8(env, c"wa360".as_ptr(), 5, &mut name),
            "napi_create_string_utf8",
        )?;
        check(
            sys::napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(call_js),
                &mut tsfn,
            ),
            "napi_create_threadsafe_function",
        )?;
        check(
            sys::napi_unref_threadsafe_function(env, tsfn),
            "napi_unref_threadsafe_function",
        )?;
        check(
            sys::napi_add_env_cleanup_hook(
                env,
                Some(teardown),
                Arc::into_raw(shared.clone()) as *mut c_void,
            ),
            "napi_add_env_cleanup_hook",
        )?;
    }
    *shared.tsfn.write().unwrap_or_else(PoisonError::into_inner) = Some(Tsfn(tsfn));
    Ok(JsSide {
        env,
        shared,
        tsfn,
        next: 0,
        pending: HashMap::new(),
        referenced: false,
    })
}

/// The env is going away: close the queue (runs before Node finalizes the
/// thread-safe function, whose own hook was registered first).
unsafe extern "C" fn teardown(arg: *mut c_void) {
    // SAFETY: `arg` is the `Arc` leaked for this hook in `init`, taken back once.
    let shared = unsafe { Arc::from_raw(arg as *const Shared) };
    *shared.tsfn.write().unwrap_or_else(PoisonError::into_inner) = None;
    shared
        .done
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let _ = JS.try_with(|js| {
        if let Ok(mut js) = js.try_borrow_mut()
            && js.as_ref().is_some_and(|s| Arc::ptr_eq(&s.shared, &shared))
        {
            *js = None;
        }
    });
}

/// Runs on the JavaScript thread when the queue became non-empty: settles every
/// finished promise, then unreferences the function if none is left pending.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    _callback: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // the function is being finalized
    }
    let ready: Vec<(sys::napi_deferred, Settle, Output)> = JS.with(|js| {
        let mut js = js.borrow_mut();
        let Some(side) = js.as_mut() else {
            return Vec::new();
        };
        // Before the drain: an output pushed after it signals again.
        side.shared.signalled.store(false, SeqCst);
        let done = std::mem::take(
            &mut *side
                .shared
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        done.into_iter()
            .filter_map(|(id, out)| side.pending.remove(&id).map(|(d, s)| (d, s, out)))
            .collect()
    });
    // Settled outside the borrow: converting a value may start another call.
    let e = Env::from_raw(env);
    for (deferred, settle, out) in ready {
        let settled = std::panic::catch_unwind(AssertUnwindSafe(|| settle(&e, out)))
            .unwrap_or_else(|p| Err(js_error(&e, &wa360::Error::from_panic(&*p))));
        // SAFETY: on the JavaScript thread; each deferred is settled exactly once
        // (it was removed from `pending`).
        unsafe {
            match settled {
                Ok(v) => sys::napi_resolve_deferred(env, deferred, v),
                Err(err) => {
                    sys::napi_reject_deferred(env, deferred, JsError::from(err).into_value(env))
                }
            };
        }
    }
    JS.with(|js| {
        if let Some(side) = js.borrow_mut().as_mut()
            && side.pending.is_empty()
            && side.referenced
        {
            // SAFETY: on the JavaScript thread that owns the function.
            unsafe { sys::napi_unref_threadsafe_function(env, side.tsfn) };
            side.referenced = false;
        }
    });
}

/// Runs an async entry point's `fut` on napi's tokio runtime and returns a
/// promise of its result, settled on this thread with `convert`, which builds
/// the JS value. Errors become wa360 errors; a panic inside the future is
/// caught (`catch_unwind` on the future, as the Python binding does) and
/// rejected as an `internal` error.
pub(crate) fn spawn<'env, T, V, F, C>(
    env: &'env Env,
    fut: F,
    convert: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = wa360::Result<T>> + Send + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    let raw = env.raw();
    let (id, shared, promise) = JS.with(|js| -> napi::Result<_> {
        let mut js = js.borrow_mut();
        if js.as_ref().is_none_or(|s| s.env != raw) {
            *js = Some(init(raw)?);
        }
        let Some(side) = js.as_mut() else {
            return Err(napi::Error::from_reason("no completion queue"));
        };
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        // SAFETY: on the JavaScript thread with its live env.
        check(
            unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) },
            "napi_create_promise",
        )?;
        let settle: Settle = Box::new(move |env, out| {
            let r = out
                .downcast::<wa360::Result<T>>()
                .map_err(|_| napi::Error::from_reason("internal: mismatched completion"))?;
            match *r {
                // SAFETY: on the JavaScript thread, with its env.
                Ok(v) => unsafe { V::to_napi_value(env.raw(), convert(env, v)?) },
                Err(e) => Err(js_error(env, &e)),
            }
        });
        let id = side.next;
        side.next += 1;
        side.pending.insert(id, (deferred, settle));
        if !side.referenced {
            // SAFETY: on the JavaScript thread that owns the function.
            check(
                unsafe { sys::napi_ref_threadsafe_function(raw, side.tsfn) },
                "napi_ref_threadsafe_function",
            )?;
            side.referenced = true;
        }
        Ok((id, side.shared.clone(), promise))
    })?;
    napi::bindgen_prelude::spawn(async move {
        let out: wa360::Result<T> = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(r) => r,
            Err(payload) => Err(wa360::Error::from_panic(&*payload)),
        };
        let queued = {
            let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
            done.push((id, Box::new(out)));
            done.len()
        };
        // The first output of a batch spawns the flush that wakes the
        // JavaScript thread; the call it queues runs after this push and
        // drains every output queued by then. A long queue wakes it at once.
        // After teardown the function is gone, and the output waits in the
        // queue until the queue is dropped.
        if queued >= MAX_QUEUED_OUTPUTS {
            shared.signal();
        } else if !shared.flushing.swap(true, SeqCst) {
            tokio::spawn(flush(shared));
        }
    });
    Ok(PromiseRaw::new(raw, promise))
}

/// Queues a call of this thread's `call_js` from a runtime thread (the queue
/// has no bound, so a non-blocking call never waits); false if it was refused.
fn wake(tsfn: sys::napi_threadsafe_function) -> bool {
    // SAFETY: the function is open: the caller holds the read lock on it, and
    // teardown takes the write lock before Node finalizes the function.
    let status = unsafe {
        sys::napi_call_threadsafe_function(
            tsfn,
            ptr::null_mut(),
            sys::ThreadsafeFunctionCallMode::nonblocking,
        )
    };
    status == sys::Status::napi_ok
}
