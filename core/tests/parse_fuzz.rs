//! Property tests: no input makes `parse` panic. Bodies are the conformance
//! fixtures mutated by byte flips, truncations, inserted brackets, deep
//! nesting, huge strings and JSON type swaps. Every outcome is `Ok` or a
//! `webhook_payload` error; readable bodies always parse; the two canonical
//! paths agree; values no language can hold (lone surrogates, numbers beyond
//! 2^53 or an f64) never drop an event (the cross-language side of this is
//! `tests/fuzz/`).

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value};
use wa360::ErrorCode;
use wa360::webhook::{parse, parse_to_canonical_json};

fn fixtures() -> &'static [Vec<u8>] {
    static F: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    F.get_or_init(|| {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/webhook_parse");
        let mut out: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path().join("input.json"))
            .filter(|p| p.exists())
            .map(|p| (p.clone(), fs::read(p).unwrap()))
            .collect();
        out.sort();
        assert!(out.len() >= 50);
        out.into_iter().map(|(_, b)| b).collect()
    })
}

fn json_fixtures() -> &'static [Value] {
    static F: OnceLock<Vec<Value>> = OnceLock::new();
    F.get_or_init(|| {
        fixtures()
            .iter()
            .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
            .filter(|v| v.get("entry").is_some_and(Value::is_array))
            .collect()
    })
}

/// Parse must never panic; an error must be `webhook_payload`; on success the
/// two canonical paths must agree.
fn check(body: &[u8]) -> Result<usize, TestCaseError> {
    match parse(body) {
        Ok(events) => {
            let canon = Value::Array(events.iter().map(|e| e.to_canonical()).collect());
            let fast: Value = serde_json::from_str(
                &parse_to_canonical_json(body).map_err(|e| TestCaseError::fail(e.to_string()))?,
            )
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(canon, fast);
            Ok(events.len())
        }
        Err(e) => {
            prop_assert_eq!(e.code(), ErrorCode::WebhookPayload);
            Ok(0)
        }
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replace the `k`-th node (pre-order, root excluded) with `f(old)`.
fn replace_nth(v: &mut Value, k: &mut usize, f: &dyn Fn(&Value) -> Value) -> bool {
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(m) => m.values_mut().collect(),
        _ => return false,
    };
    for c in children {
        if *k == 0 {
            *c = f(c);
            return true;
        }
        *k -= 1;
        if replace_nth(c, k, f) {
            return true;
        }
    }
    false
}

fn swap_type(old: &Value, pick: u8) -> Value {
    match (old, pick % 7) {
        (Value::String(s), 0) => s
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::from(12345)),
        (Value::Number(n), 0) => Value::String(n.to_string()),
        (_, 0) | (_, 1) => Value::Null,
        (_, 2) => Value::Bool(true),
        (_, 3) => Value::from(-1.5),
        (_, 4) => Value::Array(vec![old.clone()]),
        (_, 5) => {
            let mut m = Map::new();
            m.insert("x".into(), old.clone());
            Value::Object(m)
        }
        _ => Value::String("swapped".into()),
    }
}

fn nested(n: usize) -> Value {
    let mut v = Value::String("bottom".into());
    for i in 0..n {
        v = if i % 2 == 0 {
            Value::Array(vec![v])
        } else {
            let mut m = Map::new();
            m.insert("n".into(), v);
            Value::Object(m)
        };
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn byte_flips_never_panic(i in any::<prop::sample::Index>(),
                              flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut body = i.get(fixtures()).clone();
        if !body.is_empty() {
            for (pos, byte) in flips {
                let p = pos.index(body.len());
                body[p] = byte;
            }
        }
        check(&body)?;
    }

    #[test]
    fn truncations_never_panic(i in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let body = i.get(fixtures());
        let n = cut.index(body.len() + 1);
        check(&body[..n])?;
    }

    #[test]
    fn inserted_brackets_and_quotes_never_panic(i in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(),
                                                 what in prop::sample::select(vec!["[", "{", "]", "}", "\"", "\\", ",", ":", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]),
                                                 times in 1usize..200) {
        let mut body = i.get(fixtures()).clone();
        let p = at.index(body.len() + 1);
        let ins = what.repeat(times);
        body.splice(p..p, ins.bytes());
        check(&body)?;
    }

    /// Any readable webhook (object with an `entry` list, within the limits)
    /// parses, whatever types its inner values have.
    #[test]
    fn type_swaps_still_parse(i in any::<prop::sample::Index>(), node in any::<prop::sample::Index>(),
                              picks in prop::collection::vec(any::<u8>(), 1..6)) {
        let mut v = i.get(json_fixtures()).clone();
        for pick in picks {
            let total = count_nodes(&v) - 1;
            if total == 0 { break; }
            let mut k = node.index(total);
            replace_nth(&mut v, &mut k, &|old| swap_type(old, pick));
        }
        let body = serde_json::to_vec(&v).unwrap();
        let readable = v.get("entry").is_some_and(Value::is_array) && depth(&v) <= 64;
        let result = parse(&body);
        prop_assert_eq!(result.is_ok(), readable, "readable={} result={:?}", readable, result.as_ref().err());
        check(&body)?;
    }

    /// Deep nesting anywhere: accepted exactly when the whole body is at most
    /// 64 levels deep.
    #[test]
    fn deep_nesting_is_bounded(i in any::<prop::sample::Index>(), node in any::<prop::sample::Index>(), n in 1usize..300) {
        let mut v = i.get(json_fixtures()).clone();
        let total = count_nodes(&v) - 1;
        if total > 0 {
            let mut k = node.index(total);
            replace_nth(&mut v, &mut k, &|_| nested(n));
        }
        let body = serde_json::to_vec(&v).unwrap();
        let ok = v.get("entry").is_some_and(Value::is_array) && depth(&v) <= 64;
        prop_assert_eq!(parse(&body).is_ok(), ok);
        check(&body)?;
    }

}

proptest! {
    // Each case builds and parses up to a megabyte: fewer cases keep `make test` quick.
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Huge strings (up to the 1 MiB limit and just over it).
    #[test]
    fn huge_strings(i in any::<prop::sample::Index>(), node in any::<prop::sample::Index>(), len in 0usize..(1 << 20)) {
        let mut v = i.get(json_fixtures()).clone();
        let total = count_nodes(&v) - 1;
        if total > 0 {
            let mut k = node.index(total);
            replace_nth(&mut v, &mut k, &|_| Value::String("é\"\\".repeat(len / 4)));
        }
        let body = serde_json::to_vec(&v).unwrap();
        let ok = v.get("entry").is_some_and(Value::is_array) && depth(&v) <= 64 && body.len() <= 1 << 20;
        prop_assert_eq!(parse(&body).is_ok(), ok);
        check(&body)?;
    }
}

/// Wire values no language can hold (issue 16 item 2), as raw JSON text.
const ODD: &[&str] = &[
    "1e400",
    "-1E999",
    "99999999999999999999999999999999999999999999999999999999999999999999999999999",
    "9007199254740993",
    "-9223372036854775809",
    "18446744073709551616",
    r#""\ud800""#,
    r#""a\udc00b""#,
    r#""\udbff\u0041""#,
    r#""\ud83d""#,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// A value no language can hold, anywhere in a readable webhook, never
    /// rejects the delivery, never drops or changes the kind of an event, and
    /// never leaves the two canonical paths disagreeing. Its dedupe keys stay
    /// as distinct as those of the same body with a plain value there.
    #[test]
    fn values_no_language_holds_never_drop_events(i in any::<prop::sample::Index>(),
                                                   node in any::<prop::sample::Index>(),
                                                   odd in prop::sample::select(ODD)) {
        let mut v = i.get(json_fixtures()).clone();
        let total = count_nodes(&v) - 1;
        if total > 0 {
            let mut k = node.index(total);
            replace_nth(&mut v, &mut k, &|_| Value::String("@@ODD@@".into()));
        }
        let text = serde_json::to_string(&v).unwrap();
        let plain = text.replace("\"@@ODD@@\"", "\"plain\"");
        let hostile = text.replace("\"@@ODD@@\"", odd);
        let Ok(want) = parse(plain.as_bytes()) else { return Ok(()) };
        let got = parse(hostile.as_bytes());
        prop_assert!(got.is_ok(), "{:?} for {}", got.err(), odd);
        let got = got.unwrap();
        prop_assert_eq!(
            got.iter().map(|e| e.kind()).collect::<Vec<_>>(),
            want.iter().map(|e| e.kind()).collect::<Vec<_>>()
        );
        let keys = |evs: &[wa360::webhook::Event]| evs.iter()
            .map(wa360::webhook::dedupe::dedupe_key)
            .collect::<std::collections::HashSet<_>>()
            .len();
        prop_assert_eq!(keys(&got), keys(&want));
        check(hostile.as_bytes())?;
    }
}
