//! The one error model, seen from JavaScript.
//!
//! Every `wa360::Error` becomes a plain JS `Error` whose `.code` is the core's
//! stable string code (`invalid_argument`, `rate_limited`, …) and which carries
//! every other attribute of the core's `Error::fields()` in camelCase (`.status`,
//! `.apiCode`, `.subcode`, `.errorType`, `.details`, `.field`, `.rule`,
//! `.retryAfterMs`, `.fbtraceId`, `.traceId`, `.isTransient`, `.serverMessage`),
//! `null` when the error does not carry it: the same set as the Python
//! exceptions. The object is built here, in Rust, through the `Env`, and handed
//! to napi as a JS-backed `napi::Error`, so throws and promise rejections
//! deliver exactly this object.
//!
//! Panics never cross the boundary: [`guard`] (sync entry points) and
//! [`spawn`] (async ones) turn a panic into an Error with code `internal`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use napi::Env;
use napi::bindgen_prelude::{JsValue, Null, Object, PromiseRaw};
use napi_derive::napi;
use wa360::{ErrorField, FieldValue};

/// Every stable error code of wa360, in declaration order (the same list the
/// Python package and the Rust core expose).
#[napi(js_name = "_errorCodes")]
pub fn error_codes() -> Vec<&'static str> {
    wa360::ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// Build the JS error object for `err` (falls back to a plain napi error if
/// the object cannot be created, e.g. while the environment shuts down).
pub(crate) fn js_error(env: &Env, err: &wa360::Error) -> napi::Error {
    match build_js_error(env, err) {
        Ok(e) => e,
        Err(_) => napi::Error::from_reason(format!("{}: {err}", err.code())),
    }
}

fn build_js_error(env: &Env, err: &wa360::Error) -> napi::Result<napi::Error> {
    let mut obj: Object<'_> = env.create_error(napi::Error::from_reason(err.to_string()))?;
    // Every attribute comes from the core's one list (`Error::fields`), under its JS name;
    // absent ones are `null`, like Python's `None`. `message` is the Error's own.
    for (field, value) in err.fields() {
        if field == ErrorField::Message {
            continue;
        }
        let name = js_field_name(field);
        match value {
            None => obj.set(&name, Null)?,
            Some(FieldValue::Str(s)) => obj.set(&name, s)?,
            // Meta codes and statuses fit in an f64 exactly; JS numbers are f64.
            Some(FieldValue::Int(i)) => obj.set(&name, i as f64)?,
            Some(FieldValue::Bool(b)) => obj.set(&name, b)?,
            Some(FieldValue::Duration(d)) => obj.set(&name, d.as_millis() as f64)?,
        }
    }
    Ok(napi::Error::from(obj.to_unknown()))
}

/// The JS property name of a core error field: camelCase, and durations in milliseconds
/// carry `Ms` (`retry_after` → `retryAfterMs`, `api_code` → `apiCode`).
fn js_field_name(field: ErrorField) -> String {
    let mut out = crate::own::camel_case(field.as_str());
    if field.is_duration() {
        out.push_str("Ms");
    }
    out
}

/// The JS property names of every error attribute, in the core's order (what
/// `Error::fields` lists; the tests compare real errors against it).
#[napi(js_name = "_errorFields")]
pub fn error_fields() -> Vec<String> {
    ErrorField::ALL.iter().map(|f| js_field_name(*f)).collect()
}

/// Run a synchronous entry point: `wa360::Error` → JS error, panic → `internal`.
pub(crate) fn guard<T>(env: &Env, f: impl FnOnce() -> wa360::Result<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(js_error(env, &e)),
        Err(payload) => Err(js_error(env, &wa360::Error::from_panic(&*payload))),
    }
}

/// Async entry points return the Promise of `completions::spawn` (panics
/// rejected as `internal`, promises settled in batches).
pub(crate) use crate::completions::spawn;

/// Test hook: panics inside Rust so tests can check that a panic becomes a
/// thrown `Error` with code `internal` instead of aborting the process.
#[napi(js_name = "_panicForTests")]
pub fn panic_for_tests(env: Env) -> napi::Result<()> {
    guard(&env, || -> wa360::Result<()> {
        panic!("deliberate panic for tests")
    })
}

/// Test hook: the async twin of `_panicForTests` (a panic inside a future).
#[napi(js_name = "_panicForTestsAsync", ts_return_type = "Promise<void>")]
pub fn panic_for_tests_async(env: &Env) -> napi::Result<PromiseRaw<'_, ()>> {
    spawn(
        env,
        async {
            let r: wa360::Result<()> = if std::hint::black_box(true) {
                panic!("deliberate panic for tests (async)")
            } else {
                Ok(())
            };
            r
        },
        |_, v| Ok(v),
    )
}
