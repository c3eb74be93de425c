//! Outbound messages for Python: a message is a dict in the neutral format
//! of `tests/conformance/message_build/README.md` (the same format in every
//! wa360 language), handed to `wa360::messages` for validation and the exact
//! wire body. The keyword helpers (`send_text`, …) in `wa360/_client.py`
//! build these dicts.

use pyo3::prelude::*;
use wa360::messages::{Message, build_body};

use crate::convert::{py_to_value, value_to_py};
use crate::errors::{IntoPyResult, guard};

/// A message dict in the neutral format → a validated core [`Message`].
pub fn message_from_py(spec: &Bound<'_, PyAny>) -> wa360::Result<Message> {
    Message::from_json(&py_to_value(spec, "")?)
}

/// The exact `POST /messages` body for a neutral message dict (also
/// `{"type": "mark_read" | "typing", "message_id": …}`), validated.
#[pyfunction]
fn build_message<'py>(py: Python<'py>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let body = py_to_value(spec, "")
            .and_then(|v| build_body(&v))
            .py_err()?;
        value_to_py(py, &body)
    })
}

/// Register the message helpers on the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_message, m)?)?;
    Ok(())
}
