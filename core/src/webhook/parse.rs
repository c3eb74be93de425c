//! Batch-aware webhook parsing.
//!
//! [`parse`] walks every `entry` × `change` × message / status / error of a
//! POST and returns one [`Event`] each, in wire order (within one change:
//! its messages, then its statuses, then one `error` event for a non-empty
//! value-level `errors` list). The canonical JSON form and every rule for
//! absent or odd data are described in
//! `tests/conformance/webhook_parse/README.md`.
//!
//! Design (performance, docs/performance.md §5): one streaming `serde_json` pass with
//! hand-written lenient visitors instead of building a `serde_json::Value`
//! tree first. Every scalar the SDK types (ids, timestamps, …) is read
//! straight into its field; a wrong JSON type becomes `None`, never an
//! error. Only the wire objects the canonical form repeats verbatim (the
//! type payload, `context`, `pricing`, `conversation`, `errors`, field-update
//! values, unknown pieces) are built as `Value`. A change's `value` is
//! captured as a borrowed `RawValue` (zero copy) because the change's
//! `field`, which decides how to read it, may come after it on the wire.
//!
//! Limits are checked before any parsing: the body size, then the nesting
//! depth with a byte scan that skips string contents (hand-written: it is a
//! few dozen lines and must run before serde_json, whose own recursion limit
//! is 128 and not configurable per call). The same pass drops the whitespace
//! between tokens, so serde_json reads a compact copy and the wire pieces
//! kept as text (see `events::Json`) are compact too.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::events::{
    CanonicalList, Contact, Event, EventKind, FieldUpdate, InboundMessage, Json, Origin,
    StatusUpdate,
};
use crate::{Error, Result};

/// Default body limit: 1 MiB.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
/// Default nesting limit: 64 levels of objects / arrays.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// serde_json's fixed nesting limit.
const SERDE_DEPTH_LIMIT: usize = 128;

/// Limits applied before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Largest accepted body in bytes (default 1 MiB).
    pub max_bytes: usize,
    /// Deepest accepted nesting of objects and arrays (default 64; the
    /// top-level object is level 1).
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Parse a webhook POST body into its events, with the default limits.
///
/// ```
/// let body = br#"{"entry":[{"id":"1","changes":[{"field":"messages","value":{
///   "metadata":{"phone_number_id":"2","display_phone_number":"3"},
///   "messages":[{"id":"wamid.1","from":"4","timestamp":"1767252600","type":"text","text":{"body":"hi"}}]}}]}]}"#;
/// let events = wa360::webhook::parse(body).unwrap();
/// assert_eq!(events[0].kind(), "message");
/// assert_eq!(events[0].as_message().unwrap().timestamp(), Some(1767252600));
/// ```
///
/// Errors: [`Error::WebhookPayload`] for a body that is too large, too deep,
/// not JSON, not an object, or an object without an `entry` list.
pub fn parse(body: &[u8]) -> Result<Vec<Event>> {
    parse_with(body, &ParseOptions::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with(body: &[u8], opts: &ParseOptions) -> Result<Vec<Event>> {
    let result = parse_inner(body, opts);
    match &result {
        Ok(events) => tracing::debug!(bytes = body.len(), events = events.len(), "webhook parsed"),
        Err(e) => {
            tracing::warn!(bytes = body.len(), code = %e.code(), error = %e, "webhook body rejected")
        }
    }
    result
}

fn parse_inner(body: &[u8], opts: &ParseOptions) -> Result<Vec<Event>> {
    // A UTF-8 byte order mark is ignored (RFC 8259 §8.1 allows it).
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let (mut compact, odd) = prepare(body, opts)?;
    if odd {
        compact = super::normalize::normalize(&compact);
    }
    let mut events = Vec::new();
    let mut mode = Mode {
        slow: false,
        retry: Cell::new(false),
    };
    let mut parsed = run(&compact, &mut events, &mode);
    if parsed.is_err() && mode.retry.get() {
        mode.slow = true;
        events.clear();
        parsed = run(&compact, &mut events, &mode);
    }
    if parsed.is_err() && std::str::from_utf8(&compact).is_err() {
        // Text that is not UTF-8: each bad sequence becomes U+FFFD (inside a
        // string it is then readable; anywhere else it stays a syntax error),
        // so one bad string never rejects the valid events beside it.
        compact = String::from_utf8_lossy(&compact).into_owned().into_bytes();
        mode.slow = false;
        mode.retry.set(false);
        events.clear();
        parsed = run(&compact, &mut events, &mode);
        if parsed.is_err() && mode.retry.get() {
            mode.slow = true;
            events.clear();
            parsed = run(&compact, &mut events, &mode);
        }
    }
    if let Err(e) = parsed {
        // Name the position in the body as sent, not in the compact copy.
        return Err(match serde_json::from_slice::<IgnoredAny>(body) {
            Err(syntax) => payload_error(syntax),
            Ok(_) => payload_error(e),
        });
    }
    if opts.max_depth >= SERDE_DEPTH_LIMIT {
        // Kept pieces are parsed lazily by serde_json, whose nesting limit
        // then applies: with a limit this high, parse them now so a piece
        // too deep for it is a parse error, as it always was, not a `null`.
        for ev in &events {
            ev.force_json().map_err(payload_error)?;
        }
    }
    Ok(events)
}

fn run(compact: &[u8], events: &mut Vec<Event>, mode: &Mode) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_slice(compact);
    RootSeed { events, mode }.deserialize(&mut de)?;
    de.end()
}

/// Parse and return the canonical events as one JSON array (the fast path
/// for bindings that materialise JSON themselves).
pub fn parse_to_canonical_json(body: &[u8]) -> Result<String> {
    parse_to_canonical_json_with(body, &ParseOptions::default())
}

/// [`parse_to_canonical_json`] with explicit limits.
pub fn parse_to_canonical_json_with(body: &[u8], opts: &ParseOptions) -> Result<String> {
    let events = parse_with(body, opts)?;
    // The canonical form repeats most of the body: size the buffer once.
    let mut out = Vec::with_capacity(body.len() + body.len() / 2);
    serde_json::to_writer(&mut out, &CanonicalList(&events))
        .map_err(|e| Error::Internal(e.to_string()))?;
    String::from_utf8(out).map_err(|e| Error::Internal(e.to_string()))
}

fn payload_error(e: serde_json::Error) -> Error {
    // serde_json's syntax errors name the position, never the input text; the
    // data errors come from the messages written in this file.
    Error::WebhookPayload(e.to_string())
}

/// High bit set in each byte of `w` that is `"` or `\\` (SWAR; exact for
/// the lowest such byte, which is all the caller reads).
fn quote_or_backslash(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let q = w ^ (LO * u64::from(b'"'));
    let s = w ^ (LO * u64::from(b'\\'));
    ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s)) & HI
}

/// Checks the limits and returns the body without the whitespace between
/// tokens, in one pass: serde_json then has less to skip, and the wire pieces
/// kept as text (and copied verbatim into the canonical JSON) come out
/// compact. Hand-written: it is the depth scan that must run before
/// serde_json anyway (see the module comment), plus a copy.
///
/// The second value is `true` when the body may hold text or numbers that
/// [`super::normalize`] rewrites (an escape of a UTF-16 surrogate, a number of
/// more than 15 digits or with an exponent), so that pass runs only then.
fn prepare(body: &[u8], opts: &ParseOptions) -> Result<(Vec<u8>, bool)> {
    if body.len() > opts.max_bytes {
        return Err(Error::WebhookPayload(format!(
            "body is {} bytes, over the limit of {} bytes",
            body.len(),
            opts.max_bytes
        )));
    }
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    // Bytes next to which a space can be dropped without joining two tokens.
    let sep = |b: u8| matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"');
    let len = body.len();
    // Written by index (never longer than the body), then truncated.
    let mut out = vec![0u8; len];
    let mut w = 0usize;
    let mut depth = 0usize;
    let mut odd = false;
    // Length of the current run of digits outside strings.
    let mut digits = 0usize;
    let mut i = 0;
    while i < len {
        let b = body[i];
        if b == b'"' {
            // Copy the string; a backslash escapes the next byte.
            let start = i;
            i += 1;
            while i < len {
                // Eight bytes at a time up to the next `"` or `\\`.
                while i + 8 <= len {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(&body[i..i + 8]);
                    let m = quote_or_backslash(u64::from_le_bytes(word));
                    if m != 0 {
                        i += (m.trailing_zeros() / 8) as usize;
                        break;
                    }
                    i += 8;
                }
                if i >= len {
                    break;
                }
                match body[i] {
                    b'"' => break,
                    b'\\' => {
                        // `\uD800`–`\uDFFF`: a surrogate escape (paired or not).
                        if body.get(i + 1) == Some(&b'u')
                            && matches!(body.get(i + 2), Some(b'd' | b'D'))
                            && matches!(
                                body.get(i + 3),
                                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                            )
                        {
                            odd = true;
                        }
                        i += 2
                    }
                    _ => i += 1,
                }
            }
            i = (i + 1).min(len);
            let n = i - start;
            out[w..w + n].copy_from_slice(&body[start..i]);
            w += n;
            continue;
        }
        if is_ws(b) {
            let mut j = i + 1;
            while j + 8 <= len && body[j..j + 8] == [b' '; 8] {
                j += 8;
            }
            while j < len && is_ws(body[j]) {
                j += 1;
            }
            // Keep one space where dropping it would join two tokens
            // (`1 2`, `true false`): invalid JSON must stay invalid.
            if w > 0 && j < len && !sep(out[w - 1]) && !sep(body[j]) {
                out[w] = b' ';
                w += 1;
            }
            i = j;
            continue;
        }
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > opts.max_depth {
                    return Err(Error::WebhookPayload(format!(
                        "nested deeper than {} levels",
                        opts.max_depth
                    )));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if b.is_ascii_digit() {
            digits += 1;
            odd |= digits > 15;
        } else {
            odd |= digits > 0 && (b == b'e' || b == b'E');
            digits = 0;
        }
        out[w] = b;
        w += 1;
        i += 1;
    }
    out.truncate(w);
    match out.first() {
        Some(b'{') => Ok((out, odd)),
        Some(_) => Err(Error::WebhookPayload(
            "top level is not a JSON object".into(),
        )),
        None => Err(Error::WebhookPayload("empty body".into())),
    }
}

// `digits_to_i64` lives in events.rs (events must not import parse: no module cycle).
use super::events::digits_to_i64;

// ---------------------------------------------------------------------------
// Lenient leaf readers
// ---------------------------------------------------------------------------

/// Visitor methods that accept every scalar and return `$val`.
macro_rules! ignore_scalars {
    ($val:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($val)
        }
    };
}

macro_rules! ignore_str {
    ($val:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($val)
        }
    };
}

macro_rules! ignore_seq {
    ($val:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($val)
        }
    };
}

macro_rules! ignore_map {
    ($val:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($val)
        }
    };
}

/// Visitor methods that turn any non-object JSON value into `$ctor(value)`.
macro_rules! raw_non_object {
    ($ctor:path) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($ctor(Value::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($ctor(Value::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($ctor(Value::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($ctor(Value::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($ctor(Value::Null))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($ctor(Value::Null))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($ctor(Value::String(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok($ctor(Value::String(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Value::deserialize(SeqAccessDeserializer::new(seq)).map($ctor)
        }
    };
}

/// A string; any other JSON value reads as `None`.
struct LStr(Option<String>);

impl<'de> Deserialize<'de> for LStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LStr, E> {
                Ok(LStr(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<LStr, E> {
                Ok(LStr(Some(v)))
            }
            ignore_scalars!(LStr(None));
            ignore_seq!(LStr(None));
            ignore_map!(LStr(None));
        }
        d.deserialize_any(V)
    }
}

/// A timestamp within ±(2^53 − 1), the range every language holds exactly
/// (a JavaScript number rounds beyond it).
fn safe_ts(v: Option<i64>) -> Option<i64> {
    v.filter(|t| t.unsigned_abs() <= super::normalize::MAX_SAFE_INTEGER)
}

/// A timestamp: an integer, or a string of digits; anything else is `None`.
struct LTs(Option<i64>);

impl<'de> Deserialize<'de> for LTs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LTs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LTs, E> {
                Ok(LTs(safe_ts(Some(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LTs, E> {
                Ok(LTs(safe_ts(i64::try_from(v).ok())))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LTs, E> {
                Ok(LTs(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LTs, E> {
                Ok(LTs(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LTs, E> {
                Ok(LTs(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<LTs, E> {
                Ok(LTs(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LTs, E> {
                Ok(LTs(safe_ts(digits_to_i64(v))))
            }
            ignore_seq!(LTs(None));
            ignore_map!(LTs(None));
        }
        d.deserialize_any(V)
    }
}

/// A list of lenient elements; `None` when the value is not a list.
struct LList<T>(Option<Vec<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LList<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LList<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
                while let Some(x) = seq.next_element::<T>()? {
                    out.push(x);
                }
                Ok(LList(Some(out)))
            }
            ignore_scalars!(LList(None));
            ignore_str!(LList(None));
            ignore_map!(LList(None));
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An element of `messages[]` / `statuses[]`: an object read as `T`, or
/// anything else kept raw (becomes an `unknown` event).
enum Item<T> {
    Obj(T),
    Raw(Value),
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// Declares a key enum with known names and an `Other` catch-all.
macro_rules! keys {
    ($name:ident { $($s:literal => $v:ident),* $(,)? } other $other:ident) => {
        enum $name { $($v,)* $other(String) }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok(match v { $($s => $name::$v,)* _ => $name::$other(v.to_owned()) })
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
    ($name:ident { $($s:literal => $v:ident),* $(,)? }) => {
        enum $name { $($v,)* Ignored }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok(match v { $($s => $name::$v,)* _ => $name::Ignored })
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

keys!(RootKey { "entry" => Entry });
keys!(EntryKey { "id" => Id, "changes" => Changes });
keys!(ChangeKey { "field" => Field, "value" => Value } other Other);
keys!(ValueKey {
    "metadata" => Metadata,
    "contacts" => Contacts,
    "messages" => Messages,
    "statuses" => Statuses,
    "errors" => Errors,
});
keys!(MetaKey { "phone_number_id" => PhoneNumberId, "display_phone_number" => Display });
keys!(ContactKey { "wa_id" => WaId, "user_id" => UserId, "profile" => Profile });
keys!(ProfileKey { "name" => Name, "username" => Username });
keys!(MsgKey {
    "id" => Id,
    "from" => From,
    "from_user_id" => FromUserId,
    "timestamp" => Timestamp,
    "type" => Type,
    "context" => Context,
    "errors" => Errors,
} other Other);
keys!(StatusKey {
    "id" => Id,
    "status" => Status,
    "timestamp" => Timestamp,
    "recipient_id" => RecipientId,
    "recipient_user_id" => RecipientUserId,
    "conversation" => Conversation,
    "pricing" => Pricing,
    "errors" => Errors,
    "biz_opaque_callback_data" => Biz,
} other Other);

// ---------------------------------------------------------------------------
// Envelope: root → entry[] → changes[]
// ---------------------------------------------------------------------------

/// How a parse run treats a change's `value` (see [`ChangeSeed`]).
struct Mode {
    /// Capture every `value` as text first (no guessing).
    slow: bool,
    /// Set when a guess failed: the caller reruns in the slow mode.
    retry: Cell<bool>,
}

struct RootSeed<'a> {
    events: &'a mut Vec<Event>,
    mode: &'a Mode,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with an `entry` list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(k) = map.next_key::<RootKey>()? {
            match k {
                RootKey::Entry => {
                    // A repeated key: the last one wins, as in JSON.parse.
                    self.events.clear();
                    map.next_value_seed(EntriesSeed {
                        events: self.events,
                        mode: self.mode,
                    })?;
                    seen = true;
                }
                RootKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::custom("the object has no `entry` list"))
        }
    }
}

struct EntriesSeed<'a> {
    events: &'a mut Vec<Event>,
    mode: &'a Mode,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! reject {
    ($msg:literal) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($msg))
        }
    };
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an `entry` list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element_seed(EntrySeed {
            events: self.events,
            mode: self.mode,
        })? {
            if let Some(raw) = raw {
                let origin = Arc::new(Origin::default());
                self.events
                    .push(Event::new(origin, EventKind::Unknown(raw)));
            }
        }
        Ok(())
    }
    reject!("`entry` is not a list");
}

/// One entry; returns `Some(raw)` when the entry is not an object.
struct EntrySeed<'a> {
    events: &'a mut Vec<Event>,
    mode: &'a Mode,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let start = self.events.len();
        let mut id: Option<String> = None;
        while let Some(k) = map.next_key::<EntryKey>()? {
            match k {
                EntryKey::Id => id = map.next_value::<LStr>()?.0,
                EntryKey::Changes => {
                    self.events.truncate(start);
                    map.next_value_seed(ChangesSeed {
                        events: self.events,
                        waba_id: &id,
                        mode: self.mode,
                    })?;
                }
                EntryKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // `id` after `changes` (or repeated): set it on this entry's events.
        for ev in &mut self.events[start..] {
            if ev.origin.waba_id != id {
                Arc::make_mut(&mut ev.origin).waba_id.clone_from(&id);
            }
        }
        Ok(None)
    }
    raw_non_object!(Some);
}

struct ChangesSeed<'a, 'b> {
    events: &'a mut Vec<Event>,
    waba_id: &'b Option<String>,
    mode: &'b Mode,
}

impl<'de> DeserializeSeed<'de> for ChangesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ChangesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element_seed(ChangeSeed {
            events: self.events,
            waba_id: self.waba_id,
            mode: self.mode,
        })? {
            if let Some(raw) = raw {
                let origin = Arc::new(Origin {
                    waba_id: self.waba_id.clone(),
                    ..Origin::default()
                });
                self.events
                    .push(Event::new(origin, EventKind::Unknown(raw)));
            }
        }
        Ok(())
    }
    // `changes` that is not a list carries no change: zero events.
    ignore_scalars!(());
    ignore_str!(());
    ignore_map!(());
}

/// One part of a change object, in wire order (kept to rebuild the raw
/// change when it has to become an `unknown` event).
enum ChangePart<'de> {
    Field(Value),
    Value(&'de RawValue),
    /// A `value` read directly as a `messages` value (fast mode).
    Guessed(Option<MessagesValue>),
    Other(String, Value),
}

/// One change. Its `field` decides how to read its `value`, but Meta sends
/// `value` first. The slow mode captures `value` as text (one scan) and
/// reads it once `field` is known (a second scan). The fast mode, tried
/// first, reads a `value` that is not preceded by another `field` straight
/// as a `messages` value (by far the most common change); when that guess
/// turns out wrong (another field, no message lists, a repeated key), it
/// asks for a rerun in the slow mode.
struct ChangeSeed<'a, 'b> {
    events: &'a mut Vec<Event>,
    waba_id: &'b Option<String>,
    mode: &'b Mode,
}

impl<'de> DeserializeSeed<'de> for ChangeSeed<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

fn metadata_of(value: Option<&Value>) -> (Option<String>, Option<String>) {
    let meta = value.and_then(|v| v.get("metadata"));
    let s = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (s("phone_number_id"), s("display_phone_number"))
}

fn raw_to_value<E: de::Error>(raw: &RawValue) -> Result<Value, E> {
    serde_json::from_str(raw.get()).map_err(E::custom)
}

/// Rebuild the change object from its parts, in wire order (a repeated key
/// keeps its first position and its last value).
fn rebuild_change<E: de::Error>(parts: Vec<ChangePart<'_>>) -> Result<Value, E> {
    let mut m = Map::new();
    for p in parts {
        match p {
            ChangePart::Field(v) => {
                m.insert("field".into(), v);
            }
            ChangePart::Value(r) => {
                m.insert("value".into(), raw_to_value(r)?);
            }
            // Only made in the fast mode, which never rebuilds a change.
            ChangePart::Guessed(_) => {}
            ChangePart::Other(k, v) => {
                m.insert(k, v);
            }
        }
    }
    Ok(Value::Object(m))
}

impl<'de> Visitor<'de> for ChangeSeed<'_, '_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut parts: Vec<ChangePart<'de>> = Vec::with_capacity(2);
        let mut guessed = false;
        while let Some(k) = map.next_key::<ChangeKey>()? {
            parts.push(match k {
                ChangeKey::Field => ChangePart::Field(map.next_value()?),
                ChangeKey::Value if !self.mode.slow => {
                    let field = parts.iter().rev().find_map(|p| match p {
                        ChangePart::Field(v) => Some(v.as_str() == Some("messages")),
                        _ => None,
                    });
                    if field.unwrap_or(true) {
                        guessed = true;
                        ChangePart::Guessed(map.next_value_seed(MessagesValueSeed)?)
                    } else {
                        ChangePart::Value(map.next_value()?)
                    }
                }
                ChangeKey::Value => ChangePart::Value(map.next_value()?),
                ChangeKey::Other(k) => ChangePart::Other(k, map.next_value()?),
            });
        }
        if guessed {
            let mut fields = parts.iter().filter_map(|p| match p {
                ChangePart::Field(v) => Some(v),
                _ => None,
            });
            let values = parts
                .iter()
                .filter(|p| matches!(p, ChangePart::Value(_) | ChangePart::Guessed(_)))
                .count();
            let one_messages_field = fields.next().and_then(Value::as_str) == Some("messages")
                && fields.next().is_none();
            let guess = parts.into_iter().find_map(|p| match p {
                ChangePart::Guessed(v) => v,
                _ => None,
            });
            return match guess {
                Some(v)
                    if one_messages_field
                        && values == 1
                        && (v.messages.is_some() || v.statuses.is_some() || v.errors.is_some()) =>
                {
                    push_messages_value(self.events, self.waba_id, v);
                    Ok(None)
                }
                _ => {
                    self.mode.retry.set(true);
                    Err(de::Error::custom("rerun in the slow mode"))
                }
            };
        }
        let field = parts.iter().rev().find_map(|p| match p {
            ChangePart::Field(v) => Some(v),
            _ => None,
        });
        let value = parts.iter().rev().find_map(|p| match p {
            ChangePart::Value(r) => Some(*r),
            _ => None,
        });
        let field = field.and_then(Value::as_str).map(str::to_owned);
        match field.as_deref() {
            Some("messages") => {
                let parsed = match value {
                    Some(raw) => {
                        let mut de = serde_json::Deserializer::from_str(raw.get());
                        MessagesValueSeed
                            .deserialize(&mut de)
                            .map_err(de::Error::custom)?
                    }
                    None => None,
                };
                match parsed {
                    Some(v)
                        if v.messages.is_some() || v.statuses.is_some() || v.errors.is_some() =>
                    {
                        push_messages_value(self.events, self.waba_id, v);
                    }
                    other => {
                        let (phone_number_id, display_phone_number) =
                            other.map(|v| v.metadata).unwrap_or_default();
                        let origin = Arc::new(Origin {
                            field,
                            waba_id: self.waba_id.clone(),
                            phone_number_id,
                            display_phone_number,
                        });
                        let raw = rebuild_change(parts)?;
                        self.events
                            .push(Event::new(origin, EventKind::Unknown(raw)));
                    }
                }
            }
            Some(_) => {
                let value = value.map(raw_to_value).transpose()?;
                let (phone_number_id, display_phone_number) = metadata_of(value.as_ref());
                let origin = Arc::new(Origin {
                    field,
                    waba_id: self.waba_id.clone(),
                    phone_number_id,
                    display_phone_number,
                });
                self.events.push(Event::new(
                    origin,
                    EventKind::FieldUpdate(FieldUpdate { value }),
                ));
            }
            None => {
                let raw = rebuild_change(parts)?;
                let (phone_number_id, display_phone_number) = metadata_of(raw.get("value"));
                let origin = Arc::new(Origin {
                    field: None,
                    waba_id: self.waba_id.clone(),
                    phone_number_id,
                    display_phone_number,
                });
                self.events
                    .push(Event::new(origin, EventKind::Unknown(raw)));
            }
        }
        Ok(None)
    }
    raw_non_object!(Some);
}

// ---------------------------------------------------------------------------
// The value of a `messages` change
// ---------------------------------------------------------------------------

#[derive(Default)]
struct MessagesValue {
    metadata: (Option<String>, Option<String>),
    contacts: Vec<Arc<Contact>>,
    messages: Option<Vec<Item<InboundMessage>>>,
    statuses: Option<Vec<Item<StatusUpdate>>>,
    errors: Option<Vec<Value>>,
}

fn push_messages_value(events: &mut Vec<Event>, waba_id: &Option<String>, v: MessagesValue) {
    let (phone_number_id, display_phone_number) = v.metadata;
    let origin = Arc::new(Origin {
        field: Some("messages".to_owned()),
        waba_id: waba_id.clone(),
        phone_number_id,
        display_phone_number,
    });
    let contacts = v.contacts;
    let n = v.messages.as_ref().map_or(0, Vec::len)
        + v.statuses.as_ref().map_or(0, Vec::len)
        + usize::from(v.errors.as_ref().is_some_and(|e| !e.is_empty()));
    events.reserve(n);
    for item in v.messages.into_iter().flatten() {
        let kind = match item {
            Item::Obj(mut m) => {
                m.contact = match_contact(&contacts, m.from.as_deref(), m.from_user_id.as_deref());
                EventKind::Message(Box::new(m))
            }
            Item::Raw(raw) => EventKind::Unknown(raw),
        };
        events.push(Event::new(origin.clone(), kind));
    }
    for item in v.statuses.into_iter().flatten() {
        let kind = match item {
            Item::Obj(s) => EventKind::Status(Box::new(s)),
            Item::Raw(raw) => EventKind::Unknown(raw),
        };
        events.push(Event::new(origin.clone(), kind));
    }
    if let Some(errors) = v.errors.filter(|e| !e.is_empty()) {
        events.push(Event::new(origin, EventKind::Error(errors)));
    }
}

/// The contacts entry whose `wa_id` equals `from` or whose `user_id` equals
/// `from_user_id` (first such entry); never matched by position.
fn match_contact(
    contacts: &[Arc<Contact>],
    from: Option<&str>,
    from_user_id: Option<&str>,
) -> Option<Arc<Contact>> {
    contacts
        .iter()
        .find(|c| {
            (from.is_some() && c.wa_id.as_deref() == from)
                || (from_user_id.is_some() && c.user_id.as_deref() == from_user_id)
        })
        .cloned()
}

/// Reads a change value; `None` when it is not an object.
struct MessagesValueSeed;

impl<'de> DeserializeSeed<'de> for MessagesValueSeed {
    type Value = Option<MessagesValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessagesValueSeed {
    type Value = Option<MessagesValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut v = MessagesValue::default();
        while let Some(k) = map.next_key::<ValueKey>()? {
            match k {
                ValueKey::Metadata => v.metadata = map.next_value::<LMeta>()?.0,
                ValueKey::Contacts => {
                    v.contacts = map
                        .next_value::<LList<LContact>>()?
                        .0
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|c| c.0.map(Arc::new))
                        .collect();
                }
                ValueKey::Messages => {
                    v.messages = map.next_value::<LList<Item<InboundMessage>>>()?.0
                }
                ValueKey::Statuses => v.statuses = map.next_value::<LList<Item<StatusUpdate>>>()?.0,
                ValueKey::Errors => {
                    v.errors = match map.next_value::<Value>()? {
                        Value::Array(a) => Some(a),
                        _ => None,
                    }
                }
                ValueKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(v))
    }
    ignore_scalars!(None);
    ignore_str!(None);
    ignore_seq!(None);
}

struct LMeta((Option<String>, Option<String>));

impl<'de> Deserialize<'de> for LMeta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LMeta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LMeta, A::Error> {
                let (mut id, mut display) = (None, None);
                while let Some(k) = map.next_key::<MetaKey>()? {
                    match k {
                        MetaKey::PhoneNumberId => id = map.next_value::<LStr>()?.0,
                        MetaKey::Display => display = map.next_value::<LStr>()?.0,
                        MetaKey::Ignored => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(LMeta((id, display)))
            }
            ignore_scalars!(LMeta((None, None)));
            ignore_str!(LMeta((None, None)));
            ignore_seq!(LMeta((None, None)));
        }
        d.deserialize_any(V)
    }
}

/// A `contacts[]` entry; `None` when it is not an object.
struct LContact(Option<Contact>);

impl<'de> Deserialize<'de> for LContact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LContact;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LContact, A::Error> {
                let mut c = Contact::default();
                while let Some(k) = map.next_key::<ContactKey>()? {
                    match k {
                        ContactKey::WaId => c.wa_id = map.next_value::<LStr>()?.0,
                        ContactKey::UserId => c.user_id = map.next_value::<LStr>()?.0,
                        ContactKey::Profile => {
                            let p = map.next_value::<LProfile>()?;
                            c.name = p.0;
                            c.username = p.1;
                        }
                        ContactKey::Ignored => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(LContact(Some(c)))
            }
            ignore_scalars!(LContact(None));
            ignore_str!(LContact(None));
            ignore_seq!(LContact(None));
        }
        d.deserialize_any(V)
    }
}

/// `profile.name` and `profile.username`.
struct LProfile(Option<String>, Option<String>);

impl<'de> Deserialize<'de> for LProfile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LProfile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LProfile, A::Error> {
                let mut p = LProfile(None, None);
                while let Some(k) = map.next_key::<ProfileKey>()? {
                    match k {
                        ProfileKey::Name => p.0 = map.next_value::<LStr>()?.0,
                        ProfileKey::Username => p.1 = map.next_value::<LStr>()?.0,
                        ProfileKey::Ignored => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(p)
            }
            ignore_scalars!(LProfile(None, None));
            ignore_str!(LProfile(None, None));
            ignore_seq!(LProfile(None, None));
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Item<InboundMessage> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item<InboundMessage>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut m = InboundMessage::default();
                while let Some(k) = map.next_key::<MsgKey>()? {
                    match k {
                        MsgKey::Id => m.id = map.next_value::<LStr>()?.0,
                        MsgKey::From => m.from = map.next_value::<LStr>()?.0,
                        MsgKey::FromUserId => m.from_user_id = map.next_value::<LStr>()?.0,
                        MsgKey::Timestamp => m.timestamp = map.next_value::<LTs>()?.0,
                        MsgKey::Type => m.message_type = map.next_value::<LStr>()?.0,
                        MsgKey::Context => m.context = Json::object(map.next_value()?),
                        MsgKey::Errors => m.errors = Json::list(map.next_value()?),
                        MsgKey::Other(k) => {
                            let v: &RawValue = map.next_value()?;
                            m.extra.push((k, Json::new(v)));
                        }
                    }
                }
                // The payload is the last wire key named like the type.
                if let Some(t) = m.message_type.as_deref()
                    && let Some(pos) = m.extra.iter().rposition(|(k, _)| k == t)
                {
                    m.payload = Some(m.extra.remove(pos).1);
                }
                Ok(Item::Obj(m))
            }
            raw_non_object!(Item::Raw);
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Item<StatusUpdate> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item<StatusUpdate>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut s = StatusUpdate::default();
                while let Some(k) = map.next_key::<StatusKey>()? {
                    match k {
                        StatusKey::Id => s.id = map.next_value::<LStr>()?.0,
                        StatusKey::Status => s.status = map.next_value::<LStr>()?.0,
                        StatusKey::Timestamp => s.timestamp = map.next_value::<LTs>()?.0,
                        StatusKey::RecipientId => s.recipient_id = map.next_value::<LStr>()?.0,
                        StatusKey::RecipientUserId => {
                            s.recipient_user_id = map.next_value::<LStr>()?.0
                        }
                        StatusKey::Conversation => s.conversation = Json::object(map.next_value()?),
                        StatusKey::Pricing => s.pricing = Json::object(map.next_value()?),
                        StatusKey::Errors => s.errors = Json::list(map.next_value()?),
                        StatusKey::Biz => s.biz_opaque_callback_data = map.next_value::<LStr>()?.0,
                        StatusKey::Other(k) => {
                            let v: &RawValue = map.next_value()?;
                            s.extra.push((k, Json::new(v)));
                        }
                    }
                }
                Ok(Item::Obj(s))
            }
            raw_non_object!(Item::Raw);
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn code(body: &[u8]) -> ErrorCode {
        parse(body)
            .err()
            .map(|e| e.code())
            .unwrap_or(ErrorCode::Internal)
    }

    #[test]
    fn depth_scan_ignores_brackets_inside_strings() {
        let deep_in_string = format!(r#"{{"entry":[],"x":"{}"}}"#, "[".repeat(500));
        assert!(parse(deep_in_string.as_bytes()).unwrap().is_empty());
        let escaped = r#"{"entry":[],"x":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#;
        assert!(parse(escaped.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn strings_are_skipped_whole_at_every_alignment() {
        for k in 0..20 {
            let pad = "a".repeat(k);
            let body = format!(
                r#"{{"entry":[{{"changes":[{{"field":"f","value":"{pad}\"{b}\\\"{b} x"}}]}}]}}"#,
                b = "[".repeat(100)
            );
            let json = parse_to_canonical_json(body.as_bytes()).unwrap();
            let want = format!(r#""value":"{pad}\"{b}\\\"{b} x""#, b = "[".repeat(100));
            assert!(json.contains(&want), "{k}: {json}");
        }
    }

    #[test]
    fn depth_limit_is_exact() {
        let opts = ParseOptions {
            max_depth: 4,
            ..ParseOptions::default()
        };
        // 4 levels: root, entry list, entry, changes list.
        assert!(parse_with(br#"{"entry":[{"changes":[]}]}"#, &opts).is_ok());
        let e = parse_with(br#"{"entry":[{"changes":[{}]}]}"#, &opts).unwrap_err();
        assert_eq!(e.code(), ErrorCode::WebhookPayload);
    }

    #[test]
    fn no_stack_overflow_even_without_a_depth_limit() {
        let opts = ParseOptions {
            max_depth: usize::MAX,
            ..ParseOptions::default()
        };
        let inner = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let body =
            format!(r#"{{"entry":[{{"changes":[{{"value":{inner},"field":"messages"}}]}}]}}"#);
        let e = parse_with(body.as_bytes(), &opts).unwrap_err();
        assert_eq!(e.code(), ErrorCode::WebhookPayload);
    }

    #[test]
    fn size_limit_applies_before_parsing() {
        let opts = ParseOptions {
            max_bytes: 10,
            ..ParseOptions::default()
        };
        let e = parse_with(br#"{"entry":[]}"#, &opts).unwrap_err();
        assert_eq!(e.code(), ErrorCode::WebhookPayload);
        assert!(parse_with(br#"{"entry":[]}"#, &ParseOptions::default()).is_ok());
    }

    #[test]
    fn bad_top_levels_are_webhook_payload_errors() {
        for body in [
            &b""[..],
            b"   ",
            b"[]",
            b"\"entry\"",
            b"{}",
            b"{\"entry\":{}}",
            b"{\"entry\":\"x\"}",
            b"{\"entry\":null}",
            b"{\"entry\":[]} x",
            b"{\"entry\":[",
        ] {
            assert_eq!(code(body), ErrorCode::WebhookPayload, "{body:?}");
        }
    }

    #[test]
    fn error_text_does_not_echo_the_body() {
        let e = parse(br#"{"entry":"secret-value"}"#).unwrap_err();
        assert!(!e.to_string().contains("secret-value"), "{e}");
    }

    #[test]
    fn dropping_whitespace_never_joins_tokens() {
        for body in [
            &br#"{"entry":[1 2]}"#[..],
            br#"{"entry":[true false]}"#,
            br#"{"entry":[], "x": nu ll}"#,
            br#"{"entry":[], "x": 1 .5}"#,
            br#"{"entry":[], "x": - 1}"#,
        ] {
            assert_eq!(code(body), ErrorCode::WebhookPayload, "{body:?}");
        }
        // Whitespace inside strings is kept.
        let body = br#"{ "entry" : [ { "changes" : [ { "field" : "x y" , "value" : { "a b" : [ 1 , " c " ] } } ] } ] }"#;
        let json = parse_to_canonical_json(body).unwrap();
        assert!(json.contains(r#""field":"x y""#), "{json}");
        assert!(json.contains(r#""value":{"a b":[1," c "]}"#), "{json}");
    }

    #[test]
    fn syntax_errors_name_the_position_in_the_body_as_sent() {
        let e = parse(b"{\n  \"entry\": [\n    x\n  ]\n}").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn digits_rule() {
        assert_eq!(digits_to_i64("1767252600"), Some(1767252600));
        assert_eq!(digits_to_i64("007"), Some(7));
        for bad in ["", "-1", "+1", " 1", "1.0", "1e3", "99999999999999999999"] {
            assert_eq!(digits_to_i64(bad), None, "{bad}");
        }
    }

    #[test]
    fn waba_id_after_changes_is_applied() {
        let body = br#"{"entry":[{"changes":[{"field":"x","value":{}},{"field":"y"}],"id":"W"}]}"#;
        let ev = parse(body).unwrap();
        assert_eq!(ev.len(), 2);
        assert!(ev.iter().all(|e| e.waba_id() == Some("W")));
    }
}
