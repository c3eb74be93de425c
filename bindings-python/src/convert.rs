//! JSON ⇄ Python conversion, done directly between `serde_json::Value` and
//! Python objects (no JSON text in between).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
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

/// Deepest nesting accepted from Python (a cycle would otherwise recurse forever).
const MAX_DEPTH: usize = 64;

/// Python objects (dict/list/tuple/str/int/float/bool/None) as a JSON value.
/// Anything else is `invalid_argument` naming the dotted path (`path` is the
/// path of `obj`, e.g. `interactive.action`).
pub fn py_to_value(obj: &Bound<'_, PyAny>, path: &str) -> Result<Value, wa360::Error> {
    py_to_value_at(obj, path, 0)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn field_name(path: &str) -> &str {
    if path.is_empty() { "message" } else { path }
}

fn py_to_value_at(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> Result<Value, wa360::Error> {
    if depth > MAX_DEPTH {
        return Err(wa360::Error::invalid(
            field_name(path),
            format!("is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: `True` is an `int` in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s
            .to_str()
            .map_err(|_| wa360::Error::invalid(field_name(path), "is not valid UTF-8 text"))?;
        return Ok(Value::String(s.to_string()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(wa360::Error::invalid(
            field_name(path),
            "integer is out of the 64-bit range",
        ));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let f = f.value();
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| wa360::Error::invalid(field_name(path), "must be a finite number"));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                wa360::Error::invalid(field_name(path), "dictionary keys must be strings")
            })?;
            let key = key.to_str().map_err(|_| {
                wa360::Error::invalid(field_name(path), "key is not valid UTF-8 text")
            })?;
            let child = join(path, key);
            m.insert(key.to_string(), py_to_value_at(&v, &child, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter().map_err(|_| bad_type(obj, path))?.enumerate() {
            let item = item.map_err(|_| bad_type(obj, path))?;
            out.push(py_to_value_at(
                &item,
                &format!("{}[{i}]", field_name(path)),
                depth + 1,
            )?);
        }
        return Ok(Value::Array(out));
    }
    Err(bad_type(obj, path))
}

fn bad_type(obj: &Bound<'_, PyAny>, path: &str) -> wa360::Error {
    let ty = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string());
    wa360::Error::invalid(
        field_name(path),
        format!("must be a JSON value (dict, list, str, int, float, bool or None), got {ty}"),
    )
}
