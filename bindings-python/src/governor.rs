//! The `governor=` client option: `None`/`False` (no governor), `True` (the defaults) or a
//! dict, read by the core (`GovernorConfig::from_options` with Python's names and seconds).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use wa360::governor::{GovernorConfig, GovernorSpec, OptionStyle};

use crate::errors::{IntoPyResult, to_py_err};

/// `None`/`False` → no governor; `True` → defaults; a dict with `messages_per_second`
/// (`None`: no per-number pacing), `burst`, `pair_interval` (seconds; 0 or `None`: off),
/// `pair_burst`, `max_wait` (seconds), `number`, `store` (a URL).
pub fn governor_from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<GovernorSpec>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    let options = if let Ok(b) = obj.cast::<PyBool>() {
        if !b.is_true() {
            return Ok(None);
        }
        serde_json::Map::new()
    } else {
        match obj.is_instance_of::<PyDict>() {
            true => crate::convert::py_to_value(obj, "governor").py_err()?,
            false => serde_json::Value::Null,
        }
        .as_object()
        .cloned()
        .ok_or_else(|| {
            to_py_err(wa360::Error::invalid(
                "governor",
                "must be a dict, True or None",
            ))
        })?
    };
    GovernorConfig::from_options(&options, OptionStyle::Python)
        .map(Some)
        .py_err()
}
