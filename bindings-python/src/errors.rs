//! Error translation: every [`wa360::Error`] becomes an instance of the
//! matching subclass of `wa360.Wa360Error` (defined in `wa360/errors.py`,
//! one class per [`ErrorCode`]), and no Rust panic ever crosses into Python
//! as anything but a `wa360.InternalError`.
//!
//! The classes live in Python because a class with two bases
//! (`InvalidArgumentError(Wa360Error, ValueError)`) cannot be declared with
//! PyO3's `create_exception!`; Rust looks them up by code when raising.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures_util::FutureExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use wa360::{Error, ErrorCode, ErrorField, FieldValue};

/// Python class name of an error code: `rate_limited` → `RateLimitedError`,
/// `api_error` → `ApiError`.
pub fn class_name(code: ErrorCode) -> String {
    let mut out = String::new();
    for part in code.as_str().split('_') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    // `api_error` is already an error: `ApiError`, not `ApiErrorError`.
    if !out.ends_with("Error") {
        out.push_str("Error");
    }
    out
}

/// Convert a core error into the Python exception of its code.
pub fn to_py_err(err: Error) -> PyErr {
    Python::attach(|py| match build_exception(py, &err) {
        Ok(e) => e,
        // The errors module could not be imported (a broken install): still
        // raise something carrying the message rather than losing it.
        Err(import_err) => {
            let e = pyo3::exceptions::PyRuntimeError::new_err(format!(
                "{} ({})",
                err,
                err.code().as_str()
            ));
            e.set_cause(py, Some(import_err));
            e
        }
    })
}

fn build_exception(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let module = py.import("wa360.errors")?;
    let cls = module.getattr(class_name(err.code()).as_str())?;
    // Every attribute comes from the core's one list (`Error::fields`): the class is chosen
    // by `code`, `message` is the positional argument, the rest are keyword arguments
    // (`None` when absent; durations in seconds).
    let kwargs = PyDict::new(py);
    let mut message = String::new();
    for (field, value) in err.fields() {
        match (field, value) {
            (ErrorField::Code, _) => {}
            (ErrorField::Message, Some(FieldValue::Str(m))) => message = m,
            (f, None) => kwargs.set_item(f.as_str(), py.None())?,
            (f, Some(FieldValue::Str(s))) => kwargs.set_item(f.as_str(), s)?,
            (f, Some(FieldValue::Int(i))) => kwargs.set_item(f.as_str(), i)?,
            (f, Some(FieldValue::Bool(b))) => kwargs.set_item(f.as_str(), b)?,
            (f, Some(FieldValue::Duration(d))) => kwargs.set_item(f.as_str(), d.as_secs_f64())?,
        }
    }
    let args = PyTuple::new(py, [message])?;
    let instance = cls.call(args, Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// Extension: `wa360::Result<T>` → `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Map the error into its Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for wa360::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}

/// Run `f`, turning a Rust panic into `wa360.InternalError`.
///
/// Every entry point of the extension goes through this (or [`guard_future`])
/// so a bug in the core surfaces as a catchable exception, not as PyO3's
/// `PanicException` (a `BaseException`) or an abort.
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(to_py_err(Error::from_panic(payload.as_ref()))),
    }
}

/// [`guard`] for futures run on the shared runtime.
pub async fn guard_future<T>(fut: impl Future<Output = wa360::Result<T>>) -> wa360::Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(payload) => Err(Error::from_panic(payload.as_ref())),
    }
}

/// Hidden hook for the test-suite: panics inside Rust so the tests can check
/// that the panic arrives as `wa360.InternalError`.
#[pyfunction]
#[pyo3(name = "_panic_for_tests")]
pub fn panic_for_tests() -> PyResult<()> {
    guard(|| -> PyResult<()> { panic!("deliberate panic for the test-suite") })
}

/// Add the error tables to the native module: `ERROR_CODES` (code, class
/// name) and `ERROR_FIELDS`.
pub fn add_tables(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let codes: Vec<(&str, String)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), class_name(*c)))
        .collect();
    m.add("ERROR_CODES", codes)?;
    let fields: Vec<&str> = ErrorField::ALL.iter().map(|f| f.as_str()).collect();
    m.add("ERROR_FIELDS", fields)?;
    Ok(())
}
