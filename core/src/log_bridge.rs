//! Hand the core's `tracing` events (targets `wa360::*`) to a host language's logging: the
//! part the Python bridge (`logging` records) and the Node bridge (JSON lines, a JS logger)
//! share. A binding implements [`Sink`] (which levels it wants right now, and what to do with
//! one event) and calls [`install`] once.
//!
//! A small `Subscriber` of our own instead of `tracing-subscriber`: the bindings need no
//! spans, and the max-level hint must follow the host's levels as they change (Python's
//! `setLevel`, Node's `setLogger`), so an event below every wanted level costs one atomic
//! compare in Rust and never crosses into the host. After a sink's levels change, call
//! `tracing::callsite::rebuild_interest_cache()`.

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// Where a binding sends the core's events.
pub trait Sink: Send + Sync + 'static {
    /// The most verbose level any destination wants now (`LevelFilter::OFF`: none).
    fn max_level(&self) -> LevelFilter;
    /// One `wa360::*` event at a level [`Sink::max_level`] lets through.
    fn event(&self, event: &Event<'_>);
}

/// The subscriber around a [`Sink`]: only `wa360*` targets, at the sink's current level.
struct Bridge<S>(S);

fn ours(meta: &Metadata<'_>) -> bool {
    meta.target().starts_with("wa360")
}

impl<S: Sink> Subscriber for Bridge<S> {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if ours(meta) {
            // The host's level can change at any time: ask again on every event (after the
            // global max-level check, which already skips everything below it).
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        ours(meta) && *meta.level() <= self.0.max_level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.0.max_level())
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
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.event(event)));
    }
}

/// Make `sink` the process-wide subscriber. Returns `false` when another library installed
/// its own global subscriber first: then wa360's events go there, which is what that process
/// asked for.
pub fn install<S: Sink>(sink: S) -> bool {
    tracing::subscriber::set_global_default(Bridge(sink)).is_ok()
}

/// The logger name of an event: its target with `.` for `::` (`wa360.transport`).
pub fn dotted_target(meta: &Metadata<'_>) -> String {
    meta.target().replace("::", ".")
}

/// One field value of an event, typed as the host will show it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text (also whatever was recorded with `Debug` or `Display`).
    Str(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl std::fmt::Display for FieldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Int(n) => n.fmt(f),
            FieldValue::UInt(n) => n.fmt(f),
            FieldValue::Float(n) => n.fmt(f),
            FieldValue::Bool(b) => b.fmt(f),
        }
    }
}

impl From<FieldValue> for serde_json::Value {
    fn from(v: FieldValue) -> Self {
        match v {
            FieldValue::Str(s) => s.into(),
            FieldValue::Int(n) => n.into(),
            FieldValue::UInt(n) => n.into(),
            FieldValue::Float(n) => n.into(),
            FieldValue::Bool(b) => b.into(),
        }
    }
}

/// The fields of `event` in the order it recorded them, the message as `"message"`.
pub fn fields(event: &Event<'_>) -> Vec<(&'static str, FieldValue)> {
    let mut v = Fields(Vec::new());
    event.record(&mut v);
    v.0
}

struct Fields(Vec<(&'static str, FieldValue)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name(), FieldValue::Str(format!("{value:?}"))));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .push((field.name(), FieldValue::Str(value.to_string())));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), FieldValue::Int(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), FieldValue::UInt(value)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.name(), FieldValue::Float(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), FieldValue::Bool(value)));
    }
}
