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
//! kept as text (see `events::Json`) are compact too; a body that has no such
//! whitespace (as delivered) is read in place, without a copy.

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{DeserializeSeed, IgnoredAny};

use super::canonical::CanonicalList;
use super::events::Event;
use crate::{Error, Result};

#[macro_use]
mod leaf;
mod envelope;
mod limits;
mod value;

use envelope::{Mode, RootSeed};
use limits::prepare;

/// Default body limit: 1 MiB.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
/// Default nesting limit: 64 levels of objects / arrays.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// The largest `max_bytes` a caller may set (1 TiB), see [`ParseOptions::with_limits`].
pub const MAX_BYTES_CEILING: u64 = 1 << 40;
/// The largest `max_depth` a caller may set; checked like [`MAX_BYTES_CEILING`].
pub const MAX_DEPTH_CEILING: u64 = 1 << 20;

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

impl ParseOptions {
    /// The default limits with a caller's `max_bytes` / `max_depth` where given:
    /// each a whole number from 1 to its ceiling, else `invalid_argument` naming
    /// the option as the binding spells it (`names`: `max_bytes` / `maxBytes`, …).
    /// The one rule behind `parse_webhook` and the receivers in every language.
    pub fn with_limits(
        max_bytes: Option<f64>,
        max_depth: Option<f64>,
        names: [&str; 2],
    ) -> Result<ParseOptions> {
        let read = |v: Option<f64>, name: &str, ceiling| {
            v.map(|n| crate::input::int_option(name, n, 1, ceiling).map(|n| n as usize))
                .transpose()
        };
        let d = ParseOptions::default();
        Ok(ParseOptions {
            max_bytes: read(max_bytes, names[0], MAX_BYTES_CEILING)?.unwrap_or(d.max_bytes),
            max_depth: read(max_depth, names[1], MAX_DEPTH_CEILING)?.unwrap_or(d.max_depth),
        })
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
    SCRATCH.with(|scratch| {
        // Taken out for the call (so a parse that re-enters, e.g. from a tracing layer,
        // finds an empty buffer rather than a borrowed one), and put back unless large.
        let mut buf = scratch.take();
        let result = parse_prepared(body, opts, &mut buf);
        if buf.capacity() <= SCRATCH_KEEP {
            scratch.set(buf);
        }
        result
    })
}

thread_local! {
    /// Each thread's buffer for the compact copy of the body: a webhook receiver parses
    /// many bodies of similar size, and reusing it saves an allocation, a clear and a
    /// free of the body's size per parse (docs/performance.md §5).
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The largest scratch buffer a thread keeps between parses (a rare large body is
/// parsed in a buffer freed afterwards).
const SCRATCH_KEEP: usize = 256 << 10;

fn parse_prepared(body: &[u8], opts: &ParseOptions, buf: &mut Vec<u8>) -> Result<Vec<Event>> {
    let (kept, odd) = prepare(body, opts, buf)?;
    let normalized;
    let compact: &[u8] = if odd {
        normalized = super::normalize::normalize(kept);
        &normalized
    } else {
        kept
    };
    // One UTF-8 check of the whole body, after which serde_json reads it as
    // text and checks no string or kept piece again. Text that is not UTF-8:
    // each bad sequence becomes U+FFFD (inside a string it is then readable;
    // anywhere else it stays a syntax error), so one bad string never rejects
    // the valid events beside it.
    let text = match std::str::from_utf8(compact) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(String::from_utf8_lossy(compact).into_owned()),
    };
    let mut events = Vec::new();
    let mut mode = Mode {
        slow: false,
        retry: Cell::new(false),
    };
    let mut parsed = run(&text, &mut events, &mode);
    if parsed.is_err() && mode.retry.get() {
        mode.slow = true;
        events.clear();
        parsed = run(&text, &mut events, &mode);
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

fn run(text: &str, events: &mut Vec<Event>, mode: &Mode) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::webhook::events::digits_to_i64;

    fn code(body: &[u8]) -> ErrorCode {
        parse(body)
            .err()
            .map(|e| e.code())
            .unwrap_or(ErrorCode::Internal)
    }

    #[test]
    fn a_thread_parses_bodies_of_any_size_in_turn_alike() {
        // Each thread reuses one buffer for the compact copy: whatever came before (a
        // larger body, a body over the kept size, an error half-way), a body parses as it
        // does first thing on a fresh thread.
        let text = |name: &str, pad: usize| {
            format!(
                r#"{{"entry":[{{"id":"W","changes":[{{"field":"messages","value":{{
                  "metadata":{{"phone_number_id":"P","display_phone_number":"D"}},
                  "contacts":[{{"profile":{{"name":"{name}"}},"wa_id":"1"}}],
                  "messages":[{{"id":"m","from":"1","timestamp":"1","type":"text",
                    "text":{{"body":"{body}"}}}}]}}}}]}}]}}"#,
                body = "x".repeat(pad)
            )
        };
        let fresh = |b: String| {
            std::thread::spawn(move || parse_to_canonical_json(b.as_bytes()).unwrap())
                .join()
                .unwrap()
        };
        let bodies = [
            text("Ana", 10),
            text("Maya Lindqvist", 400_000),
            text("Bo", 3),
            "{\"entry\":[".to_string() + &"x".repeat(5000),
            text("Ana", 10),
            text("Cy", 70_000),
            text("Di", 1),
        ];
        for b in bodies {
            let here = parse_to_canonical_json(b.as_bytes());
            match here {
                Ok(json) => assert_eq!(json, fresh(b)),
                Err(e) => assert_eq!(e.code(), ErrorCode::WebhookPayload),
            }
        }
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
    fn bytes_that_are_not_utf8_read_as_u_fffd_in_strings_only() {
        // A bad byte in a key field and one in a kept piece: both events are
        // kept, each bad sequence read as U+FFFD.
        let body = b"{\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[\
            {\"id\":\"wamid.\xff1\",\"type\":\"text\",\"text\":{\"body\":\"ok\"}},\
            {\"id\":\"wamid.2\",\"type\":\"text\",\"text\":{\"body\":\"a\xc3b\"}}]}}]}]}";
        let events = parse(body).unwrap();
        assert_eq!(events.len(), 2);
        let first = events[0].as_message().unwrap();
        assert_eq!(first.id(), Some("wamid.\u{fffd}1"));
        let second = events[1].as_message().unwrap();
        assert_eq!(second.payload().unwrap()["body"], "a\u{fffd}b");
        // Outside a string the same byte is a syntax error.
        assert_eq!(code(b"{\"entry\":[\xff]}"), ErrorCode::WebhookPayload);
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

    #[test]
    fn sixteen_digit_integers_are_kept_up_to_2_pow_53_minus_1() {
        // A 16-digit run no longer forces the rewrite pass on its own; the
        // value decides (the same rule as the rewrite itself).
        let body = br#"{"entry":[{"changes":[{"field":"x","value":{"a":[1689556908129832, 9007199254740991,9007199254740992,-9007199254740993,12345678901234567]}}]}]}"#;
        let ev = parse(body).unwrap();
        let v = ev[0].to_canonical();
        assert_eq!(
            v["value"]["a"],
            serde_json::json!([
                1689556908129832u64,
                9007199254740991u64,
                "9007199254740992",
                "-9007199254740993",
                "12345678901234567"
            ])
        );
    }
}
