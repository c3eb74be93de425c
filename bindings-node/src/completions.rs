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
//! function. A finished future pushes its output on a shared queue and calls
//! that function only when the queue was empty. The JavaScript thread then
//! settles every queued promise in one call.
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
use std::sync::{Arc, Mutex, PoisonError};

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
// the handle is only called while the queue's lock says it is open.
unsafe impl Send for Tsfn {}

/// What the runtime's threads share with one JavaScript thread.
struct Shared {
    inner: Mutex<Queue>,
}

struct Queue {
    /// Finished futures by promise id.
    done: Vec<(u64, Output)>,
    /// The function that wakes the JavaScript thread (`None` once the env is torn down).
    tsfn: Option<Tsfn>,
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
        inner: Mutex::new(Queue {
            done: Vec::new(),
            tsfn: None,
        }),
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
    shared
        .inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .tsfn = Some(Tsfn(tsfn));
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
    let mut g = shared.inner.lock().unwrap_or_else(PoisonError::into_inner);
    g.tsfn = None;
    g.done.clear();
    drop(g);
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
        let done = std::mem::take(
            &mut side
                .shared
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .done,
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
        let mut g = shared.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let q = &mut *g;
        if let Some(tsfn) = &q.tsfn {
            q.done.push((id, Box::new(out)));
            if q.done.len() == 1 {
                // SAFETY: the function is open (the lock is held, and teardown
                // takes it before Node finalizes the function).
                unsafe {
                    sys::napi_call_threadsafe_function(
                        tsfn.0,
                        ptr::null_mut(),
                        sys::ThreadsafeFunctionCallMode::nonblocking,
                    )
                };
            }
        }
    });
    Ok(PromiseRaw::new(raw, promise))
}
