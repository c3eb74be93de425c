//! JSON ⇄ Python conversion, done directly between `serde_json::Value` and
//! Python objects (no JSON text in between).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use wa360::input;

use crate::errors::IntoPyResult;
use serde_json::{Map, Number, Value};

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => number_to_py(py, n)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for item in a {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(o) => {
            let dict = PyDict::new(py);
            for (k, item) in o {
                dict.set_item(k, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

fn number_to_py<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        Ok(i.into_pyobject(py)?.into_any())
    } else if let Some(u) = n.as_u64() {
        Ok(u.into_pyobject(py)?.into_any())
    } else {
        Ok(PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any())
    }
}

/// Any serializable core value as plain Python objects (a value serde cannot
/// write is an `internal` error).
pub fn serialized_to_py<'py>(
    py: Python<'py>,
    v: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(v)
        .map_err(|e| crate::errors::to_py_err(wa360::Error::Internal(e.to_string())))?;
    value_to_py(py, &v)
}

/// An optional JSON value as Python (`None` when absent).
pub fn opt_value_to_py<'py>(py: Python<'py>, v: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Some(v) => value_to_py(py, v),
        None => Ok(py.None().into_bound(py)),
    }
}

/// A list of JSON values as a Python list.
pub fn values_to_py<'py>(py: Python<'py>, vs: &[Value]) -> PyResult<Bound<'py, PyAny>> {
    let list = PyList::empty(py);
    for v in vs {
        list.append(value_to_py(py, v)?)?;
    }
    Ok(list.into_any())
}

/// Python objects (dict or other Mapping / list / tuple / str / int / float /
/// bool / None) as a JSON value, by the shared input rules of `wa360::input`
/// (the same answers as Node): a lone surrogate in a `str` is rejected, ints
/// must fit in 64 bits, floats must be finite, at most
/// `wa360::input::MAX_DEPTH` levels. Anything else is `invalid_argument`
/// naming the dotted path (`path` is the path of `obj`, e.g. `interactive.action`).
pub fn py_to_value(obj: &Bound<'_, PyAny>, path: &str) -> Result<Value, wa360::Error> {
    py_to_value_at(obj, path, 0)
}

/// A `str` as Rust text, each lone surrogate replaced by one U+FFFD (what
/// Node's string conversion does; PyO3's own lossy conversion gives three).
pub fn lossy_str(s: &Bound<'_, PyString>) -> String {
    if let Ok(t) = s.to_str() {
        return t.to_owned();
    }
    let units: Option<Vec<u16>> = s
        .call_method1("encode", ("utf-16-le", "surrogatepass"))
        .ok()
        .and_then(|b| b.extract::<Vec<u8>>().ok())
        .map(|b| {
            b.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        });
    match units {
        Some(u) => String::from_utf16_lossy(&u),
        None => s.to_string_lossy().into_owned(),
    }
}

fn py_str(s: &Bound<'_, PyString>, path: &str) -> Result<String, wa360::Error> {
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| input::lone_surrogate(path))
}

fn py_to_value_at(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> Result<Value, wa360::Error> {
    if depth > input::MAX_DEPTH {
        return Err(input::too_deep(path));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: `True` is an `int` in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(py_str(s, path)?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(input::integer_out_of_range(path));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| input::not_finite(path));
    }
    let items = if let Ok(d) = obj.cast::<PyDict>() {
        Some(d.items().into_any())
    } else if let Ok(m) = obj.cast::<PyMapping>() {
        // Any collections.abc.Mapping, read through its items().
        Some(m.items().map_err(|_| bad_type(obj, path))?.into_any())
    } else {
        None
    };
    if let Some(items) = items {
        let mut m = Map::new();
        for item in items.try_iter().map_err(|_| bad_type(obj, path))? {
            let item = item.map_err(|_| bad_type(obj, path))?;
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                item.extract().map_err(|_| bad_type(obj, path))?;
            let key = k.cast::<PyString>().map_err(|_| {
                wa360::Error::invalid(input::field_name(path), "dictionary keys must be strings")
            })?;
            let key = key
                .to_str()
                .map_err(|_| input::lone_surrogate_key(path))?
                .to_owned();
            let child = input::join_key(path, &key);
            let value = py_to_value_at(&v, &child, depth + 1)?;
            m.insert(key, value);
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        // The core's list limit, as in Node (where a sparse array would be walked).
        let len = obj.len().map_err(|_| bad_type(obj, path))?;
        if len > input::MAX_LIST {
            return Err(input::too_long(path, len));
        }
        let mut out = Vec::with_capacity(len);
        for (i, item) in obj.try_iter().map_err(|_| bad_type(obj, path))?.enumerate() {
            let item = item.map_err(|_| bad_type(obj, path))?;
            out.push(py_to_value_at(
                &item,
                &input::join_index(path, i),
                depth + 1,
            )?);
        }
        return Ok(Value::Array(out));
    }
    Err(bad_type(obj, path))
}

/// An integer option (`capacity`, `max_retries`, …): a Python `int` (not a
/// `bool`) in `min..=max`, by the core's rule; `invalid_argument` naming the
/// option otherwise (never `OverflowError`).
pub fn int_option(v: &Bound<'_, PyAny>, name: &str, min: u64, max: u64) -> PyResult<u64> {
    input::int_option(name, int_as_f64(v), min, max).py_err()
}

/// A Python `int` (not a `bool`) as the `f64` the core's integer rules read:
/// NaN for anything else, infinity beyond 128 bits (both out of every range).
pub fn int_as_f64(v: &Bound<'_, PyAny>) -> f64 {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        f64::NAN
    } else {
        match v.extract::<i128>() {
            Ok(i) => i as f64,
            Err(_) => f64::INFINITY,
        }
    }
}

/// A number option (`ttl`, `timeout`, …) as an `f64`: an `int` or `float`, or another real
/// number by its `__float__` (Decimal, Fraction, numpy scalars), never a `bool` or a `str`;
/// `invalid_argument` naming the option otherwise. A value past a float's range is infinite,
/// with its sign, for the option's own range check to refuse (never Python's
/// `OverflowError`).
pub fn num_option(v: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    let not_a_number = || crate::errors::to_py_err(wa360::Error::invalid(name, "must be a number"));
    let infinite = || {
        if v.lt(0i32).unwrap_or(false) {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    };
    if v.is_instance_of::<PyBool>() || v.is_instance_of::<PyString>() {
        return Err(not_a_number());
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(f.value());
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v
            .extract::<i128>()
            .map_or_else(|_| infinite(), |i| i as f64));
    }
    if v.hasattr("__float__").unwrap_or(false) {
        return v.extract::<f64>().or_else(|e| {
            if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(v.py()) {
                Ok(infinite())
            } else {
                Err(not_a_number())
            }
        });
    }
    Err(not_a_number())
}

fn bad_type(obj: &Bound<'_, PyAny>, path: &str) -> wa360::Error {
    let ty = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string());
    wa360::Error::invalid(
        input::field_name(path),
        format!("must be a JSON value (dict, list, str, int, float, bool or None), got {ty}"),
    )
}

/// A `str` argument named `name`: a lone surrogate (or a non-`str`) is
/// `invalid_argument` naming it, never a `UnicodeEncodeError`.
pub fn text_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| crate::errors::to_py_err(wa360::Error::invalid(name, "must be a str")))?;
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| crate::errors::to_py_err(input::lone_surrogate(name)))
}

/// A `{name: value}` mapping of `str` argument named `name` (e.g. webhook headers).
pub fn text_map_arg(
    obj: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<std::collections::BTreeMap<String, String>> {
    match py_to_value(obj, name).py_err()? {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(crate::errors::to_py_err(wa360::Error::invalid(
                    format!("{name}.{k}"),
                    "must be a str",
                ))),
            })
            .collect(),
        _ => Err(crate::errors::to_py_err(wa360::Error::invalid(
            name,
            "must be a mapping of str to str",
        ))),
    }
}

/// `from_py_with` readers for the `str` arguments of the API (each names its argument).
pub mod args {
    use pyo3::prelude::*;
    macro_rules! text_args {
        ($($f:ident => $name:literal),* $(,)?) => {
            $(pub fn $f(obj: &Bound<'_, PyAny>) -> PyResult<String> {
                super::text_arg(obj, $name)
            })*
        };
    }
    text_args!(
        message_id => "message_id",
        media_id => "media_id",
        url => "url",
        mime_type => "mime_type",
        filename => "filename",
        mode => "mode",
        verify_token => "verify_token",
        challenge => "challenge",
        expected_token => "expected_token",
        query => "query",
        template_id => "template_id",
        name => "name",
        file_name => "file_name",
    );
    // Optional text arguments of the management helpers: `None` is absent, anything but a
    // `str` (or a `str` with a lone surrogate) is `invalid_argument` naming the argument,
    // never PyO3's own `TypeError` / `UnicodeEncodeError`.
    macro_rules! opt_text_args {
        ($($f:ident => $name:literal),* $(,)?) => {
            $(pub fn $f(obj: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
                if obj.is_none() { Ok(None) } else { super::text_arg(obj, $name).map(Some) }
            })*
        };
    }
    opt_text_args!(
        about => "about",
        address => "address",
        description => "description",
        email => "email",
        vertical => "vertical",
        profile_picture_handle => "profile_picture_handle",
        opt_name => "name",
        status => "status",
        language => "language",
        api_key => "api_key",
        base_url => "base_url",
    );
    /// `websites`: a list (or tuple) of `str`; a lone `str` is refused (it is not a list).
    pub fn websites(obj: &Bound<'_, PyAny>) -> PyResult<Option<Vec<String>>> {
        use pyo3::types::{PyList, PyTuple};
        if obj.is_none() {
            return Ok(None);
        }
        if !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
            return Err(crate::errors::to_py_err(wa360::Error::invalid(
                "websites",
                "must be a list of URLs (str)",
            )));
        }
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            out.push(super::text_arg(&item?, &format!("websites[{i}]"))?);
        }
        Ok(Some(out))
    }
    /// An optional count (`page_size`, `limit`): an `int` (not a `bool`) of at least 1;
    /// the helper's own upper bound is checked by the core. Too large saturates to that.
    fn count(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<u64>> {
        if obj.is_none() {
            return Ok(None);
        }
        super::int_option(obj, name, 1, u64::MAX).map(Some)
    }
    pub fn page_size(obj: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        count(obj, "page_size")?
            .map(|n| {
                // Past u32 the core's range rule, with the number given (not a saturated one).
                u32::try_from(n).map_err(|_| {
                    crate::errors::to_py_err(wa360::Error::invalid(
                        "page_size",
                        format!(
                            "must be 1 to {} (got {n})",
                            wa360::manage::templates::MAX_PAGE_SIZE
                        ),
                    ))
                })
            })
            .transpose()
    }
    pub fn limit(obj: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
        count(obj, "limit")
    }
    // Whole-number arguments with a range (`max`, `limit`, `concurrency`, `max_attempts`),
    // checked once by the core's rule: an `int` (not a `bool`) in range, else
    // `invalid_argument` naming it, never PyO3's `TypeError` / `OverflowError`.
    macro_rules! ranged_args {
        ($($f:ident => $name:literal, $min:expr, $max:expr;)*) => {
            $(pub fn $f(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
                super::int_option(obj, $name, $min, $max)
            })*
        };
    }
    ranged_args!(
        claim_max => "max", 1, wa360::input::MAX_CLAIM;
        dead_limit => "limit", 1, wa360::input::MAX_LISTING;
        concurrency => "concurrency", 1, wa360::input::MAX_CONCURRENCY;
        max_attempts => "max_attempts", 1, u64::from(u32::MAX);
    );
    /// Webhook headers (`None` = none).
    pub fn headers(
        obj: &Bound<'_, PyAny>,
    ) -> PyResult<Option<std::collections::BTreeMap<String, String>>> {
        if obj.is_none() {
            return Ok(None);
        }
        super::text_map_arg(obj, "headers").map(Some)
    }
}
