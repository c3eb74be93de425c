//! The core's `tracing` events as JSON records, for Node: written as lines to stderr
//! (`WA360_LOG=debug`) and/or handed to a JS callback that routes them to the `logger` of
//! each `Client` or to the process-wide `setLogger` (see `wa360.js`).
//!
//! A small `Subscriber` of our own instead of `tracing-subscriber`: it needs no spans, one
//! JSON shape and two sinks, and its max-level hint follows the levels JS sets, so an event
//! below every configured level costs one atomic compare (nothing crosses into JS).

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use napi::Env;
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

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

struct NodeLogging;

impl Subscriber for NodeLogging {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.target().starts_with("wa360") {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.target().starts_with("wa360") && rank(meta.level()) <= max_rank()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match max_rank() {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        // A logging failure (or panic) must never reach the code that logged.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| emit(event)));
    }
}

struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(key(field), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(key(field), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(key(field), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(key(field), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(key(field), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(key(field), value.into());
    }
}

fn key(field: &Field) -> String {
    match field.name() {
        "message" => "msg".to_string(),
        other => other.to_string(),
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
    map.insert("target".into(), meta.target().replace("::", ".").into());
    let mut fields = JsonFields(map);
    event.record(&mut fields);
    let line = Value::Object(fields.0).to_string();
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
    let _ = tracing::subscriber::set_global_default(NodeLogging);
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
