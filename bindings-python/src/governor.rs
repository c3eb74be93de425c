//! The `governor=` client option: a dict (or `True` for the defaults) read into a
//! [`wa360::governor::GovernorConfig`]; validation stays in the core.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use wa360::governor::GovernorConfig;

use crate::errors::to_py_err;

fn bad(field: &str, rule: &str) -> PyErr {
    to_py_err(wa360::Error::invalid(format!("governor.{field}"), rule))
}

fn seconds(v: &Bound<'_, PyAny>, field: &str) -> PyResult<Duration> {
    let s: f64 = v
        .extract()
        .map_err(|_| bad(field, "must be a number of seconds"))?;
    if s.is_finite() && (0.0..1e9).contains(&s) {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(bad(field, "must be a non-negative number of seconds"))
    }
}

/// A governor's settings and, optionally, the URL of the store it shares
/// (`redis://…`: every process using it draws from the same buckets).
pub struct GovernorSpec {
    /// The pacing settings.
    pub config: GovernorConfig,
    /// `store`: `memory://` (default) or `redis://…` / `rediss://…`.
    pub store: Option<String>,
}

/// `None`/`False` → no governor; `True` → defaults; a dict with `messages_per_second`,
/// `burst`, `pair_interval` (seconds, `None` = off), `pair_burst`, `max_wait` (seconds),
/// `number`, `store` (a URL).
pub fn governor_from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<GovernorSpec>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(b.is_true().then(|| GovernorSpec {
            config: GovernorConfig::default(),
            store: None,
        }));
    }
    let dict = obj.cast::<PyDict>().map_err(|_| {
        to_py_err(wa360::Error::invalid(
            "governor",
            "must be a dict, True or None",
        ))
    })?;
    let mut cfg = GovernorConfig::default();
    let mut store = None;
    for (k, v) in dict.iter() {
        let key: String = k
            .extract()
            .map_err(|_| to_py_err(wa360::Error::invalid("governor", "keys must be strings")))?;
        match key.as_str() {
            "messages_per_second" => {
                cfg.messages_per_second = if v.is_none() {
                    None
                } else {
                    Some(v.extract().map_err(|_| bad(&key, "must be a number"))?)
                }
            }
            "burst" => {
                cfg.burst = Some(
                    v.extract()
                        .map_err(|_| bad(&key, "must be an integer of at least 1"))?,
                )
            }
            "pair_interval" => {
                cfg.pair_interval = if v.is_none() {
                    None
                } else {
                    Some(seconds(&v, &key)?)
                }
            }
            "pair_burst" => {
                cfg.pair_burst = v
                    .extract()
                    .map_err(|_| bad(&key, "must be an integer of at least 1"))?
            }
            "max_wait" => cfg.max_wait = seconds(&v, &key)?,
            "number" => cfg.number = v.extract().map_err(|_| bad(&key, "must be a string"))?,
            "store" => {
                store = if v.is_none() {
                    None
                } else {
                    Some(crate::convert::text_arg(&v, "governor.store")?)
                }
            }
            _ => {
                return Err(bad(
                    &key,
                    "unknown option (known: messages_per_second, burst, pair_interval, pair_burst, max_wait, number, store)",
                ));
            }
        }
    }
    cfg.validate().map_err(to_py_err)?;
    Ok(Some(GovernorSpec { config: cfg, store }))
}
