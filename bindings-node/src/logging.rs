//! The core's `tracing` events as JSON records, for Node: written as lines to stderr
//! (`WA360_LOG=debug`) and/or handed to a JS callback that routes them to the `logger` of
//! each `Client` or to the process-wide `setLogger` (see `wa360.js`).
//!
//! The subscriber is the core's `wa360::log_bridge` (why not `tracing-subscriber`: see
//! there): its max-level hint follows the levels JS sets, so an event below every
//! configured level costs one atomic compare (nothing crosses into JS).

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
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
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

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
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    map.insert("time".into(), time.into());
    map.insert("level".into(), level_name(meta.level()).into());
    map.insert("target".into(), log_bridge::dotted_target(meta).into());
    for (k, v) in log_bridge::fields(event) {
        let k = if k == "message" { "msg" } else { k };
        map.insert(k.to_string(), v.into());
    }
    let line = Value::Object(map).to_string();
    if to_stderr {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
    if to_sink
        && let Ok(guard) = SINK.lock()
        && let Some(sink) = guard.as_ref()
    {
        // Queued to the JS thread; never blocks the request path.
        let _ = sink.call(line, ThreadsafeFunctionCallMode::NonBlocking);
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

/// Hand every event at `level` and above to `callback` as a JSON string (`null` stops).
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
    let rank = if sink.is_some() { r } else { 0 };
    if let Ok(mut g) = SINK.lock() {
        *g = sink;
    }
    SINK_RANK.store(rank, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}
