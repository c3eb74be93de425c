//! Rules for structured input handed to the SDK by a program (message
//! descriptions, option objects), shared by the Python and Node packages so
//! that one input gets one answer in every language.
//!
//! The bindings read their language's values into a [`serde_json::Value`]
//! with these rules (they see the language's values; the core sees only the
//! result), and the core applies [`check_depth`] again to what it is given.
//!
//! - Text must be valid Unicode: a string holding a lone UTF-16 surrogate
//!   (possible in Python `str` and JavaScript strings) is rejected, never
//!   replaced ([`lone_surrogate`]).
//! - Integers must fit in 64 bits (signed, or unsigned above `i64::MAX`);
//!   other numbers must be finite ([`integer_out_of_range`], [`not_finite`]).
//!   A JavaScript BigInt is an integer like any other.
//! - Nesting: a value deeper than [`MAX_DEPTH`] levels below the top-level
//!   value is rejected ([`check_depth`]).
//! - Keys are taken as given, `__proto__` included (it is an ordinary key in
//!   JSON and in Python).
//! - Option objects: unknown keys are rejected and numbers are range-checked
//!   ([`unknown_option`], [`int_option`], [`duration_ms_option`]).

use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// Deepest accepted nesting: the top-level value is depth 0 and every value
/// inside a list or object is one deeper; a value at depth 65 is rejected.
pub const MAX_DEPTH: usize = 64;

/// The field name used for the top-level value (empty path).
pub fn field_name(path: &str) -> &str {
    if path.is_empty() { "message" } else { path }
}

/// `path.key` (or `key` at the top level).
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]` (the top level is named `message`).
pub fn join_index(path: &str, i: usize) -> String {
    format!("{}[{i}]", field_name(path))
}

/// A point in time as Unix milliseconds (a broadcast's start): from 1970 to one year
/// ([`MAX_DURATION_MS`]) from now, as a wait is bounded. Outside: `invalid_argument`
/// naming `name` (a bad value would otherwise be stored and hold a campaign for good).
pub fn unix_ms_option(name: &str, ms: i64) -> Result<i64, Error> {
    let latest = crate::util::now_ms().saturating_add(MAX_DURATION_MS as i64);
    if (0..=latest).contains(&ms) {
        Ok(ms)
    } else {
        Err(Error::invalid(
            name,
            "must be a time from 1970 to one year from now",
        ))
    }
}

/// A file path for a SQLite store (an inbox, a ledger, the media cache): not empty and
/// without NUL, which no file system takes (SQLite would fail with an internal-looking
/// error). `invalid_argument` naming `name` otherwise.
pub fn file_path_option(name: &str, path: &std::path::Path) -> Result<(), Error> {
    let text = path.as_os_str().as_encoded_bytes();
    if text.is_empty() {
        Err(Error::invalid(name, "needs a file path"))
    } else if text.contains(&0) {
        Err(Error::invalid(name, "must not contain a NUL character"))
    } else {
        Ok(())
    }
}

/// Most elements a list in a message description may hold (every WhatsApp list is far
/// shorter: 3 buttons, 10 sections, …). Checked before the list is read, so a sparse
/// JavaScript array (`new Array(2 ** 32 - 1)`, no memory behind it) is refused at once
/// instead of being walked index by index.
pub const MAX_LIST: usize = 10_000;

/// A list longer than [`MAX_LIST`].
pub fn too_long(path: &str, len: usize) -> Error {
    Error::invalid(
        field_name(path),
        format!("has {len} elements, more than the {MAX_LIST} a message list may hold"),
    )
}

/// A value nested deeper than [`MAX_DEPTH`].
pub fn too_deep(path: &str) -> Error {
    Error::invalid(
        field_name(path),
        format!("is nested deeper than {MAX_DEPTH} levels"),
    )
}

/// A string holding a lone UTF-16 surrogate.
pub fn lone_surrogate(path: &str) -> Error {
    Error::invalid(
        field_name(path),
        "is not valid Unicode text (it holds a lone surrogate)",
    )
}

/// A key holding a lone UTF-16 surrogate.
pub fn lone_surrogate_key(path: &str) -> Error {
    Error::invalid(
        field_name(path),
        "has a key that is not valid Unicode text (it holds a lone surrogate)",
    )
}

/// An integer outside the 64-bit range.
pub fn integer_out_of_range(path: &str) -> Error {
    Error::invalid(field_name(path), "integer is out of the 64-bit range")
}

/// NaN or an infinity.
pub fn not_finite(path: &str) -> Error {
    Error::invalid(field_name(path), "must be a finite number")
}

/// Reject `v` when any value in it is deeper than [`MAX_DEPTH`] (the error
/// names the first such value, in key order).
pub fn check_depth(v: &Value) -> Result<(), Error> {
    fn walk(v: &Value, path: &str, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(too_deep(path));
        }
        match v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| walk(x, &join_index(path, i), depth + 1)),
            Value::Object(m) => m
                .iter()
                .try_for_each(|(k, x)| walk(x, &join_key(path, k), depth + 1)),
            _ => Ok(()),
        }
    }
    walk(v, "", 0)
}

/// An option key the function does not know.
pub fn unknown_option(name: &str, known: &[&str]) -> Error {
    Error::invalid(
        name,
        format!("is not an option (known: {})", known.join(", ")),
    )
}

/// An integer option: a whole number in `min..=max` (given as an `f64`, the
/// number type of JavaScript; Python passes its `int` converted exactly when
/// it fits, or `±inf` when it does not).
pub fn int_option(name: &str, v: f64, min: u64, max: u64) -> Result<u64, Error> {
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > max as f64 {
        return Err(Error::invalid(
            name,
            format!("must be a whole number from {min} to {max}"),
        ));
    }
    Ok(v as u64)
}

/// Most retries a client option accepts (`maxRetries` / `max_retries`).
pub const MAX_RETRIES: u64 = 100;

/// Largest `capacity` of an in-memory dedupe or fold store.
pub const MAX_CAPACITY: u64 = 10_000_000;

/// Most events one `Consumer::next` call claims (each is leased to the caller
/// until it acks: a larger batch would hold events no one is handling yet).
pub const MAX_CLAIM: u64 = 1000;

/// Most dead letters one `dead(limit)` listing returns.
pub const MAX_LISTING: u64 = 100_000;

/// Most sends a broadcast keeps in flight.
pub const MAX_CONCURRENCY: u64 = 1024;

/// Longest duration option accepted: one year (a larger value is a mistake,
/// and some timers overflow far below `u64::MAX` milliseconds).
pub const MAX_DURATION_MS: u64 = 365 * 24 * 60 * 60 * 1000;

/// A duration option in milliseconds: finite, above zero, at most
/// [`MAX_DURATION_MS`] (fractions of a millisecond allowed).
pub fn duration_ms_option(name: &str, ms: f64) -> Result<Duration, Error> {
    if !ms.is_finite() || ms <= 0.0 || ms > MAX_DURATION_MS as f64 {
        return Err(Error::invalid(
            name,
            format!(
                "must be a number of milliseconds above 0 and at most {MAX_DURATION_MS} (one year)"
            ),
        ));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// A duration option in seconds (Python's unit): the same rule as
/// [`duration_ms_option`], with the bounds in seconds.
pub fn duration_s_option(name: &str, s: f64) -> Result<Duration, Error> {
    if !s.is_finite() || s <= 0.0 || s > (MAX_DURATION_MS / 1000) as f64 {
        return Err(Error::invalid(
            name,
            format!(
                "must be a number of seconds above 0 and at most {} (one year)",
                MAX_DURATION_MS / 1000
            ),
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

/// The unit a binding takes its durations in: Python seconds, Node milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Python: seconds.
    Seconds,
    /// Node: milliseconds.
    Millis,
}

impl TimeUnit {
    /// A duration above zero in this unit ([`duration_s_option`] / [`duration_ms_option`]).
    pub fn duration(self, name: &str, v: f64) -> Result<Duration, Error> {
        match self {
            TimeUnit::Seconds => duration_s_option(name, v),
            TimeUnit::Millis => duration_ms_option(name, v),
        }
    }

    /// A waiting time that may be zero in this unit ([`wait_s_option`] / [`wait_ms_option`]).
    pub fn wait(self, name: &str, v: f64) -> Result<Duration, Error> {
        match self {
            TimeUnit::Seconds => wait_s_option(name, v),
            TimeUnit::Millis => wait_ms_option(name, v),
        }
    }
}

/// A waiting time in milliseconds that may be zero (`maxWaitMs`, `startInMs`):
/// finite, at least 0, at most [`MAX_DURATION_MS`].
pub fn wait_ms_option(name: &str, ms: f64) -> Result<Duration, Error> {
    wait_option(name, ms / 1000.0, "milliseconds", MAX_DURATION_MS as f64)
}

/// [`wait_ms_option`] in seconds (Python's unit: `max_wait`, `start_in`).
pub fn wait_s_option(name: &str, s: f64) -> Result<Duration, Error> {
    wait_option(name, s, "seconds", (MAX_DURATION_MS / 1000) as f64)
}

fn wait_option(name: &str, secs: f64, unit: &str, max_in_unit: f64) -> Result<Duration, Error> {
    if !(secs.is_finite() && secs >= 0.0 && secs <= (MAX_DURATION_MS / 1000) as f64) {
        return Err(Error::invalid(
            name,
            format!("must be a number of {unit} from 0 to {max_in_unit} (one year)"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nest(levels: usize) -> Value {
        let mut v = json!("leaf");
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn depth_rule_is_exact_and_names_the_path() {
        assert!(check_depth(&nest(64)).is_ok());
        let e = check_depth(&nest(65)).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        let want = vec!["a"; 65].join(".");
        assert!(e.to_string().contains(&want), "{e}");
        let e = check_depth(&json!([[1]])).map(|_| ());
        assert!(e.is_ok());
    }

    #[test]
    fn options_are_range_checked() {
        assert_eq!(int_option("maxRetries", 3.0, 0, 10).unwrap(), 3);
        for bad in [-1.0, 11.0, 1.5, f64::NAN, f64::INFINITY, 1e30] {
            let e = int_option("maxRetries", bad, 0, 10).unwrap_err();
            assert!(e.to_string().contains("maxRetries"), "{e}");
        }
        assert!(duration_ms_option("timeoutMs", 1.0).is_ok());
        for bad in [-1.0, 0.0, f64::NAN, 1e30, f64::INFINITY] {
            assert!(duration_ms_option("timeoutMs", bad).is_err());
            assert!(duration_s_option("ttl", bad).is_err());
        }
        assert_eq!(
            duration_s_option("ttl", 1.5).unwrap(),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn waits_may_be_zero_and_are_range_checked() {
        assert_eq!(wait_ms_option("maxWaitMs", 0.0).unwrap(), Duration::ZERO);
        assert_eq!(wait_s_option("max_wait", 0.0).unwrap(), Duration::ZERO);
        assert_eq!(
            wait_ms_option("maxWaitMs", 1500.0).unwrap(),
            wait_s_option("max_wait", 1.5).unwrap()
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e30] {
            let e = wait_ms_option("maxWaitMs", bad).unwrap_err();
            assert_eq!(e.field(), Some("maxWaitMs"));
            let e = wait_s_option("max_wait", bad).unwrap_err();
            assert_eq!(e.field(), Some("max_wait"));
        }
    }
}
