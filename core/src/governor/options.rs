//! The `governor` client option as the bindings take it, read once: Python
//! `Client(governor={...})` (snake_case keys, seconds) and Node `new Client({ governor: {...} })`
//! (camelCase keys, milliseconds). Each binding turns its object into a JSON map and calls
//! [`GovernorConfig::from_options`]; errors name the binding's own option
//! (`governor.pair_interval` / `governor.pairIntervalMs`).
//!
//! The rule, the same in both languages (a key left out takes the default):
//! - `messages_per_second`: from 0.001 to 1 000 000; `null` / `None` = no per-number pacing.
//! - `burst`, `pair_burst`: whole numbers from 1; `null` = the default.
//! - `pair_interval` (s) / `pairIntervalMs`: above 0, at most one year; `0` or `null` = no pair
//!   pacing (the `131056` back-off stays).
//! - `max_wait` (s) / `maxWaitMs`: from 0 to one year; `null` = the default.
//! - `number`: 1 to 200 characters; `store`: a store URL (`memory://`, `redis://…`) or `null`.

use serde_json::{Map, Value};

use super::GovernorConfig;
use crate::error::{Error, Result};
use crate::input;

/// The names and units a binding gives the governor options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionStyle {
    /// Python: snake_case keys, durations in seconds (`pair_interval`, `max_wait`).
    Python,
    /// Node: camelCase keys, durations in milliseconds (`pairIntervalMs`, `maxWaitMs`).
    Node,
}

/// One option: its Python and Node key.
#[derive(Clone, Copy)]
enum Key {
    Rate,
    Burst,
    PairInterval,
    PairBurst,
    MaxWait,
    Number,
    Store,
}

const KEYS: [Key; 7] = [
    Key::Rate,
    Key::Burst,
    Key::PairInterval,
    Key::PairBurst,
    Key::MaxWait,
    Key::Number,
    Key::Store,
];

impl OptionStyle {
    fn name(self, key: Key) -> &'static str {
        let (python, node) = match key {
            Key::Rate => ("messages_per_second", "messagesPerSecond"),
            Key::Burst => ("burst", "burst"),
            Key::PairInterval => ("pair_interval", "pairIntervalMs"),
            Key::PairBurst => ("pair_burst", "pairBurst"),
            Key::MaxWait => ("max_wait", "maxWaitMs"),
            Key::Number => ("number", "number"),
            Key::Store => ("store", "store"),
        };
        match self {
            OptionStyle::Python => python,
            OptionStyle::Node => node,
        }
    }

    /// The unit of this style's durations.
    fn unit(self) -> input::TimeUnit {
        match self {
            OptionStyle::Python => input::TimeUnit::Seconds,
            OptionStyle::Node => input::TimeUnit::Millis,
        }
    }
}

/// The governor settings read from a binding's options, and the store it names.
#[derive(Debug, Clone)]
pub struct GovernorSpec {
    /// The pacing settings (checked).
    pub config: GovernorConfig,
    /// `store`: where the state lives (`memory://`, the default, or `redis://…`); open it
    /// with [`super::open_store`].
    pub store: Option<String>,
}

impl GovernorConfig {
    /// Read the `governor` option of a binding (see the module text for the rule).
    pub fn from_options(options: &Map<String, Value>, style: OptionStyle) -> Result<GovernorSpec> {
        let field = |key: Key| format!("governor.{}", style.name(key));
        for k in options.keys() {
            if !KEYS.iter().any(|&key| style.name(key) == k) {
                let known: Vec<&str> = KEYS.iter().map(|&key| style.name(key)).collect();
                return Err(input::unknown_option(&format!("governor.{k}"), &known));
            }
        }
        // The value of `key`: `None` when absent, `Some(Value::Null)` for null.
        let get = |key: Key| options.get(style.name(key));
        let number = |key: Key, rule: &str| -> Result<Option<f64>> {
            match get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| Error::invalid(field(key), rule)),
            }
        };
        let whole = |key: Key| -> Result<Option<u32>> {
            let rule = format!("must be a whole number from 1 to {}", u32::MAX);
            number(key, &rule)?
                .map(|n| {
                    input::int_option(&field(key), n, 1, u64::from(u32::MAX)).map(|n| n as u32)
                })
                .transpose()
        };
        let text = |key: Key| -> Result<Option<String>> {
            match get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::invalid(field(key), "must be a string")),
            }
        };

        let mut c = GovernorConfig::default();
        const RATE_RULE: &str =
            "must be a number from 0.001 to 1000000, or null for no per-number pacing";
        match get(Key::Rate) {
            None => {}
            Some(Value::Null) => c.messages_per_second = None,
            Some(_) => {
                let r = number(Key::Rate, RATE_RULE)?.unwrap_or(f64::NAN);
                if !super::rate_in_range(r) {
                    return Err(Error::invalid(field(Key::Rate), RATE_RULE));
                }
                c.messages_per_second = Some(r);
            }
        }
        if let Some(b) = whole(Key::Burst)? {
            c.burst = Some(b);
        }
        match get(Key::PairInterval) {
            None => {}
            Some(Value::Null) => c.pair_interval = None,
            Some(_) => {
                let rule = "must be a number (0 or null: no pair pacing)";
                let v = number(Key::PairInterval, rule)?.unwrap_or(f64::NAN);
                c.pair_interval = if v == 0.0 {
                    None
                } else {
                    // The duration rule says "above 0"; here 0 is allowed too (it turns
                    // pair pacing off), so the message says so.
                    let f = field(Key::PairInterval);
                    Some(style.unit().duration(&f, v).map_err(|e| match e {
                        Error::InvalidArgument { rule, .. } => Error::invalid(
                            f.clone(),
                            format!("{rule}, or 0 / null for no pair pacing"),
                        ),
                        e => e,
                    })?)
                };
            }
        }
        if let Some(b) = whole(Key::PairBurst)? {
            c.pair_burst = b;
        }
        if let Some(v) = number(Key::MaxWait, "must be a number")? {
            c.max_wait = style.unit().wait(&field(Key::MaxWait), v)?;
        }
        if let Some(n) = text(Key::Number)? {
            if n.is_empty() || n.chars().count() > 200 {
                return Err(Error::invalid(
                    field(Key::Number),
                    "must be 1..200 characters",
                ));
            }
            c.number = n;
        }
        let store = text(Key::Store)?;
        c.validate()?;
        Ok(GovernorSpec { config: c, store })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn read(v: Value, style: OptionStyle) -> Result<GovernorSpec> {
        GovernorConfig::from_options(v.as_object().unwrap(), style)
    }

    fn field_of(r: Result<GovernorSpec>) -> String {
        match r.unwrap_err() {
            Error::InvalidArgument { field, .. } => field,
            other => panic!("not invalid_argument: {other}"),
        }
    }

    #[test]
    fn the_same_settings_in_either_style() {
        let py = read(
            json!({"messages_per_second": 20, "burst": 3, "pair_interval": 1.5, "pair_burst": 2,
                   "max_wait": 0, "number": "n1", "store": "memory://"}),
            OptionStyle::Python,
        )
        .unwrap();
        let node = read(
            json!({"messagesPerSecond": 20, "burst": 3, "pairIntervalMs": 1500, "pairBurst": 2,
                   "maxWaitMs": 0, "number": "n1", "store": "memory://"}),
            OptionStyle::Node,
        )
        .unwrap();
        assert_eq!(py.config, node.config);
        assert_eq!(py.config.pair_interval, Some(Duration::from_millis(1500)));
        assert_eq!(py.config.max_wait, Duration::ZERO);
        assert_eq!(py.store.as_deref(), Some("memory://"));
        assert_eq!(node.store, py.store);
        // Nothing given: the defaults.
        assert_eq!(
            read(json!({}), OptionStyle::Node).unwrap().config,
            GovernorConfig::default()
        );
    }

    #[test]
    fn null_or_zero_turns_pacing_off_and_null_elsewhere_is_the_default() {
        for style in [OptionStyle::Python, OptionStyle::Node] {
            let off = |v: Value| {
                let key = style.name(Key::PairInterval);
                read(json!({ key: v, style.name(Key::Rate): null }), style)
                    .unwrap()
                    .config
            };
            for v in [json!(null), json!(0)] {
                let c = off(v);
                assert_eq!((c.messages_per_second, c.pair_interval), (None, None));
            }
            let c = read(
                json!({ style.name(Key::Burst): null, style.name(Key::MaxWait): null }),
                style,
            )
            .unwrap()
            .config;
            assert_eq!(c, GovernorConfig::default());
        }
    }

    #[test]
    fn bad_values_name_the_bindings_option() {
        use OptionStyle::{Node, Python};
        for (v, style, field) in [
            (json!({"messagesPerSecond": 0}), Node, "messagesPerSecond"),
            // Slower than one message per 1 000 s: refused, not a panic on the first send.
            (
                json!({"messagesPerSecond": 1e-20}),
                Node,
                "messagesPerSecond",
            ),
            (
                json!({"messages_per_second": 0.0009}),
                Python,
                "messages_per_second",
            ),
            (
                json!({"messages_per_second": "fast"}),
                Python,
                "messages_per_second",
            ),
            (json!({"burst": 0}), Python, "burst"),
            (json!({"pairBurst": 1.5}), Node, "pairBurst"),
            (json!({"pairIntervalMs": -1}), Node, "pairIntervalMs"),
            (json!({"pair_interval": 1e12}), Python, "pair_interval"),
            (json!({"maxWaitMs": -5}), Node, "maxWaitMs"),
            (json!({"max_wait": true}), Python, "max_wait"),
            (json!({"number": ""}), Node, "number"),
            (json!({"store": 1}), Python, "store"),
            (json!({"speed": 1}), Python, "speed"),
            // The other language's key is unknown.
            (json!({"pair_interval": 1}), Node, "pair_interval"),
            (json!({"maxWaitMs": 1}), Python, "maxWaitMs"),
        ] {
            assert_eq!(
                field_of(read(v.clone(), style)),
                format!("governor.{field}"),
                "{v}"
            );
        }
        // A wrong pair interval says that 0 is allowed (it turns pair pacing off).
        for (v, style) in [
            (json!({"pairIntervalMs": -1}), Node),
            (json!({"pair_interval": 1e12}), Python),
        ] {
            let e = read(v.clone(), style).unwrap_err();
            assert!(e.to_string().contains("or 0 / null"), "{v}: {e}");
        }
    }
}
