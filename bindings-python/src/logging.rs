//! The core's `tracing` events, forwarded to Python's `logging` under `wa360.*` logger
//! names (`wa360::transport` → `wa360.transport`).
//!
//! Written here rather than taken from `pyo3-log` because (a) the core logs with `tracing`,
//! whose structured fields we pass on as `record.wa360` (a dict) instead of flattening them
//! away, and (b) pyo3-log caches levels until told to reset, while this bridge follows every
//! `setLevel` / `logging.disable` as it happens.
//!
//! Cost when disabled: the Python side (`wa360/_logging.py`) tells [`set_floor`] the lowest
//! level any `wa360*` logger would accept, again each time Python's logging clears its level
//! cache (every `setLevel`, `disable`, `dictConfig`). That floor becomes tracing's global
//! max level, so a disabled event is one atomic compare in Rust: no GIL, no Python call.
//! Only an event at or above the floor takes the GIL and asks the logger `isEnabledFor`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level};
use wa360::log_bridge::{self, FieldValue};

/// Python's numeric level for TRACE (below DEBUG = 10); named "TRACE" by `wa360._logging`.
pub const PY_TRACE: u8 = 5;

/// Lowest Python level any `wa360*` logger accepts; `u8::MAX` = none (all off).
static FLOOR: AtomicU8 = AtomicU8::new(u8::MAX);

thread_local! {
    /// Set while this thread runs Python's handlers for one forwarded record.
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

tokio::task_local! {
    /// Set on the task of a wa360 call made from inside a logging handler (see [`quiet`]).
    static QUIET: ();
}

/// Whether this thread is inside Python's handlers for a wa360 record: a wa360 call made
/// there (an alert handler that sends) runs its task under [`quiet`].
pub fn in_handler() -> bool {
    FORWARDING.with(Cell::get)
}

/// The records of `fut` (a wa360 call made from inside a logging handler) are not forwarded
/// to Python. Forwarded, they would go back to that handler, whose lock the thread waiting
/// for this call holds: the call, and every later record for that handler, would wait for
/// good (and a handler that sends on failure would recurse). The call's own outcome still
/// reaches the handler as its return value or exception.
pub fn quiet<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    QUIET.scope((), fut)
}

fn py_level(level: &Level) -> u8 {
    match *level {
        Level::TRACE => PY_TRACE,
        Level::DEBUG => 10,
        Level::INFO => 20,
        Level::WARN => 30,
        Level::ERROR => 40,
    }
}

fn filter_for(floor: u8) -> LevelFilter {
    match floor {
        0..=PY_TRACE => LevelFilter::TRACE,
        6..=10 => LevelFilter::DEBUG,
        11..=20 => LevelFilter::INFO,
        21..=30 => LevelFilter::WARN,
        31..=40 => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    }
}

/// Python's `logging` behind the core's log bridge (installed when `wa360` is imported).
struct PyLogging;

impl log_bridge::Sink for PyLogging {
    fn max_level(&self) -> LevelFilter {
        filter_for(FLOOR.load(Ordering::Relaxed))
    }

    fn event(&self, event: &Event<'_>) {
        // The handlers are Python code (locks, I/O, even a sync wa360 call): never on a
        // runtime worker (`off_worker`).
        crate::runtime::off_worker(|| forward(event))
    }
}

fn forward(event: &Event<'_>) {
    // From a call made inside a handler (`quiet`), or from this thread's own handlers.
    if QUIET.try_with(|_| ()).is_ok() || in_handler() {
        return;
    }
    let meta = event.metadata();
    let level = py_level(meta.level());
    let name = log_bridge::dotted_target(meta);
    // `try_attach`: an event from a runtime thread while the interpreter shuts down is dropped.
    let _ = Python::try_attach(|py| -> PyResult<()> {
        let logging = py.import("logging")?;
        let logger = logging.call_method1("getLogger", (name,))?;
        if !logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
            return Ok(());
        }
        let mut fields = log_bridge::fields(event);
        // The message (text) leads; the other fields follow as ` key=value` and go on
        // `record.wa360`.
        let message = fields
            .iter()
            .position(|(k, v)| *k == "message" && matches!(v, FieldValue::Str(_)))
            .map(|i| fields.remove(i).1.to_string())
            .unwrap_or_default();
        let data = PyDict::new(py);
        let mut text = message;
        for (k, v) in &fields {
            text.push_str(&format!(" {k}={v}"));
            match v {
                FieldValue::Str(s) => data.set_item(k, PyString::new(py, s))?,
                FieldValue::Int(n) => data.set_item(k, n)?,
                FieldValue::UInt(n) => data.set_item(k, n)?,
                FieldValue::Float(n) => data.set_item(k, n)?,
                FieldValue::Bool(b) => data.set_item(k, b)?,
            }
        }
        let kwargs = PyDict::new(py);
        let extra = PyDict::new(py);
        extra.set_item("wa360", data)?;
        kwargs.set_item("extra", extra)?;
        FORWARDING.with(|f| f.set(true));
        let logged = logger.call_method("log", (level, text), Some(&kwargs));
        FORWARDING.with(|f| f.set(false));
        logged?;
        Ok(())
    });
    // An error from a broken handler is dropped here (dropping a PyErr clears it), so it
    // never surfaces as an exception somewhere else.
}

/// Set the lowest Python level any `wa360*` logger accepts (called by `wa360._logging`).
#[pyfunction]
pub(crate) fn _set_log_floor(level: i64) {
    let floor = u8::try_from(level.clamp(0, 255)).unwrap_or(u8::MAX);
    let floor = if level <= 0 { 1 } else { floor };
    if FLOOR.swap(floor, Ordering::Relaxed) != floor {
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Install the bridge (once per process).
pub fn install() {
    // Another library may have installed its own global subscriber first: then wa360's
    // events go there, which is what that process asked for.
    log_bridge::install(PyLogging);
}
