//! The core's `tracing` events as JSON records, for Node: written as lines to stderr
//! (`WA360_LOG=debug`) and/or handed to a JS callback that routes them to the `logger` of
//! each `Client` or to the process-wide `setLogger` (see `wa360.js`).
//!
//! The subscriber is the core's `wa360::log_bridge` (why not `tracing-subscriber`: see
//! there): its max-level hint follows the levels JS sets, so an event below every
//! configured level costs one atomic compare (nothing crosses into JS).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::ThreadId;
use std::time::{SystemTime, UNIX_EPOCH};

use napi::Env;
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Map, Value};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level};
use wa360::log_bridge;

use crate::errors::guard;

/// Verbosity ranks: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static STDERR_RANK: AtomicU8 = AtomicU8::new(0);
static SINK_RANK: AtomicU8 = AtomicU8::new(0);

type Sink = ThreadsafeFunction<String, (), String, napi::Status, false, true>;

/// The JS callback of one JavaScript thread (the main thread, each worker thread): each
/// has its own module state in `logging.js`, so each registers its own sink.
struct ThreadSink {
    thread: ThreadId,
    sink: Sink,
    rank: u8,
}

/// The sinks of the threads that set one. (A record goes to each, or to its client's
/// thread only; a sink whose thread is gone is dropped when a call is refused.)
static SINKS: Mutex<Vec<ThreadSink>> = Mutex::new(Vec::new());

/// The JavaScript thread of each live client (by client id), so that a client's records
/// go to the thread whose loggers know it.
static CLIENT_THREADS: Mutex<BTreeMap<u64, ThreadId>> = Mutex::new(BTreeMap::new());

/// A client made on this thread: its records go to this thread's sink only.
pub(crate) fn client_created(id: u64) {
    lock(&CLIENT_THREADS).insert(id, std::thread::current().id());
}

/// A client was collected.
pub(crate) fn client_dropped(id: u64) {
    lock(&CLIENT_THREADS).remove(&id);
}

/// A poisoned lock only means a panic elsewhere; the data is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The highest rank any thread's sink asked for.
fn refresh_sink_rank(sinks: &[ThreadSink]) {
    let max = sinks.iter().map(|s| s.rank).max().unwrap_or(0);
    SINK_RANK.store(max, Ordering::Relaxed);
}

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

fn parse_rank(level: Option<&str>) -> wa360::Result<u8> {
    Ok(
        match level.map(|l| l.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "off" | "silent" | "none" | "0") => 0,
            Some("error") => 1,
            Some("warn" | "warning") => 2,
            Some("info") => 3,
            Some("debug") => 4,
            Some("trace" | "all") => 5,
            Some(other) => {
                return Err(wa360::Error::invalid(
                    "level",
                    format!("must be one of off, error, warn, info, debug, trace (got {other:?})"),
                ));
            }
        },
    )
}

fn max_rank() -> u8 {
    STDERR_RANK
        .load(Ordering::Relaxed)
        .max(SINK_RANK.load(Ordering::Relaxed))
}

/// The two destinations (stderr, the JS callback) behind the core's log bridge.
struct NodeLogging;

impl log_bridge::Sink for NodeLogging {
    fn max_level(&self) -> LevelFilter {
        match max_rank() {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        }
    }

    fn event(&self, event: &Event<'_>) {
        emit(event)
    }
}

fn emit(event: &Event<'_>) {
    let meta = event.metadata();
    let r = rank(meta.level());
    let to_stderr = r <= STDERR_RANK.load(Ordering::Relaxed);
    let to_sink = r <= SINK_RANK.load(Ordering::Relaxed);
    if !to_stderr && !to_sink {
        return;
    }
    let mut map = Map::new();
    let mut client = None;
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    map.insert("time".into(), time.into());
    map.insert("level".into(), level_name(meta.level()).into());
    map.insert("target".into(), log_bridge::dotted_target(meta).into());
    for (k, v) in log_bridge::fields(event) {
        let k = if k == "message" { "msg" } else { k };
        let v: Value = v.into();
        if k == "client" {
            client = v.as_u64();
        }
        map.insert(k.to_string(), v);
    }
    let line = Value::Object(map).to_string();
    if to_stderr {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
    if to_sink {
        let owner = client.and_then(|id| lock(&CLIENT_THREADS).get(&id).copied());
        let mut sinks = lock(&SINKS);
        let before = sinks.len();
        // Queued to each JS thread; never blocks the request path. A client's record goes
        // to its own thread only; any other record to every thread (each routes it to its
        // `setLogger`). A thread that is gone refuses the call: its sink is dropped.
        sinks.retain(|s| {
            if r > s.rank || owner.is_some_and(|t| t != s.thread) {
                return true;
            }
            s.sink
                .call(line.clone(), ThreadsafeFunctionCallMode::NonBlocking)
                != napi::Status::Closing
        });
        if sinks.len() != before {
            refresh_sink_rank(&sinks);
        }
    }
}

fn install() {
    // Another addon may have installed a global subscriber first: then wa360's events go
    // there, which is what that process asked for.
    log_bridge::install(NodeLogging);
}

/// Write wa360's log events at `level` and above as JSON lines to stderr
/// (`off` | `error` | `warn` | `info` | `debug` | `trace`). Called with `WA360_LOG` at load.
#[napi(js_name = "_setStderrLog")]
pub fn set_stderr_log(env: Env, level: Option<String>) -> napi::Result<()> {
    install();
    let r = guard(&env, || parse_rank(level.as_deref()))?;
    STDERR_RANK.store(r, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Hand every event at `level` and above to `callback` as a JSON string (`null` stops),
/// on the calling JavaScript thread; the sinks of other threads (workers) are kept.
#[napi(js_name = "_setLogSink")]
pub fn set_log_sink(
    env: Env,
    callback: Option<Function<String, ()>>,
    level: Option<String>,
) -> napi::Result<()> {
    install();
    let r = guard(&env, || parse_rank(level.as_deref()))?;
    let sink = match callback {
        // Weak: a registered logger never keeps the process alive.
        Some(cb) => Some(cb.build_threadsafe_function().weak::<true>().build()?),
        None => None,
    };
    // This thread's sink replaces its last one; other threads' stay.
    let thread = std::thread::current().id();
    {
        let mut sinks = lock(&SINKS);
        sinks.retain(|s| s.thread != thread);
        if let Some(sink) = sink {
            sinks.push(ThreadSink {
                thread,
                sink,
                rank: r,
            });
        }
        refresh_sink_rank(&sinks);
    }
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}
