//! `wa360.testing` natives: the local sandbox (a 360dialog emulator) started
//! in-process on its own thread, and the webhook payload / signature builders
//! of `wa360::webhook::testing`. Mirrors `core/src/webhook/testing.rs` and the
//! `wa360-sandbox` crate.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;
use wa360::webhook::testing as wt;
use wa360_sandbox::{
    BlockingSandbox, Control, DeliveryWait, Sandbox, SandboxWait, WaitUnit, Waiter,
};

use crate::convert::{py_to_value, serialized_to_py};
use crate::errors::{IntoPyResult, guard, to_py_err};
use crate::media::BytesOut;
use crate::webhook::with_body_bytes;

fn internal(e: impl std::fmt::Display) -> PyErr {
    to_py_err(wa360::Error::Internal(e.to_string()))
}

/// A running sandbox; stops on `stop()` (or when garbage-collected).
#[pyclass(name = "Sandbox", module = "wa360._native", subclass, frozen)]
pub struct PySandbox {
    running: Mutex<Option<BlockingSandbox>>,
    control: Control,
    url: String,
    api_key: String,
}

#[pymethods]
impl PySandbox {
    #[new]
    #[pyo3(
        signature = (*, api_key = None, port = None, time_scale = None, allow_http_callbacks = true, max_delivery_attempts = None),
        text_signature = "(*, api_key=None, port=0, time_scale=None, allow_http_callbacks=True, max_delivery_attempts=None)"
    )]
    fn new(
        py: Python<'_>,
        api_key: Option<String>,
        port: Option<&Bound<'_, PyAny>>,
        time_scale: Option<f64>,
        allow_http_callbacks: bool,
        max_delivery_attempts: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| {
            use crate::convert::int_option;
            let port = match port {
                Some(p) => int_option(p, "port", 0, 65535)? as u16,
                None => 0,
            };
            let max_delivery_attempts = max_delivery_attempts
                .map(|n| int_option(n, "max_delivery_attempts", 1, 1000))
                .transpose()?
                .map(|n| n as u32);
            let mut b = Sandbox::builder()
                .port(port)
                .allow_http_callbacks(allow_http_callbacks);
            if let Some(k) = api_key {
                b = b.api_key(k);
            }
            if let Some(t) = time_scale {
                if !(t.is_finite() && t > 0.0) {
                    return Err(to_py_err(wa360::Error::invalid(
                        "time_scale",
                        "must be a positive number",
                    )));
                }
                b = b.time_scale(t);
            }
            if let Some(n) = max_delivery_attempts {
                b = b.max_delivery_attempts(n);
            }
            let sb = py.detach(|| b.start_blocking()).map_err(internal)?;
            Ok(PySandbox {
                control: sb.control(),
                url: sb.url(),
                api_key: sb.api_key().to_string(),
                running: Mutex::new(Some(sb)),
            })
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`: pass it as `base_url=` to a client.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The API key the sandbox expects (random per sandbox unless given).
    #[getter]
    fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Every API request received, oldest first (`method`, `path`, `headers`,
    /// `body`, `status`, `fault`, …; the API key header is never recorded).
    #[pyo3(signature = (*, path = None, method = None))]
    fn requests<'py>(
        &self,
        py: Python<'py>,
        path: Option<&str>,
        method: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| serialized_to_py(py, &self.control.requests_matching(path, method)))
    }

    /// Every webhook delivery attempt, oldest first.
    fn deliveries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| serialized_to_py(py, &self.control.deliveries()))
    }

    /// Add a fault rule `{"method"?, "path"?, "count"?, "fault": {"kind": …}}`
    /// (see the sandbox README for the kinds).
    fn add_fault(&self, rule: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let v = py_to_value(rule, "rule").py_err()?;
            self.control.add_fault_json(v).py_err()
        })
    }

    /// Make the next `count` matching requests fail (`count=0`: until cleared): the rule
    /// `{method, path, count, fault: {kind, **params}}` is assembled by the sandbox
    /// (`FaultRule::from_kind`, shared with Node's `fault(kind, options)`).
    ///
    /// `kind`: `rate_limit`, `meta_error` (`code=...`), `dialog360_error`, `status`
    /// (`status=503`), `html`, `delay` (`ms=...`), `reset_before_body`, `reset_after_body`,
    /// `malformed_json`, `truncated_json`. `path` may end in `*` for a prefix; `None`
    /// matches any (so does `method=None`).
    #[pyo3(
        signature = (
            kind,
            *,
            method = Value::from(wa360_sandbox::FAULT_DEFAULT_METHOD),
            path = Value::from(wa360_sandbox::FAULT_DEFAULT_PATH),
            count = Value::from(wa360_sandbox::FAULT_DEFAULT_COUNT),
            **params
        ),
        text_signature = "($self, kind, *, method='POST', path='/messages', count=1, **params)"
    )]
    fn fault(
        &self,
        kind: &str,
        #[pyo3(from_py_with = fault_method)] method: Value,
        #[pyo3(from_py_with = fault_path)] path: Value,
        #[pyo3(from_py_with = fault_count)] count: Value,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        guard(|| {
            let mut options = serde_json::Map::new();
            if let Some(p) = params {
                for (k, v) in p.iter() {
                    let k: String = k.extract()?;
                    let v = py_to_value(&v, &k).py_err()?;
                    options.insert(k, v);
                }
            }
            // As given (None = null = any); the sandbox checks them and names the option.
            options.insert("method".into(), method);
            options.insert("path".into(), path);
            options.insert("count".into(), count);
            self.control.fault(kind, options).py_err()
        })
    }

    /// The wait of `wait_for(predicate, *, timeout, interval)` (testing.py calls the
    /// predicate): the sandbox's `Waiter` reads the options and keeps the deadline.
    #[pyo3(signature = (timeout, interval))]
    fn _waiter(
        &self,
        timeout: Option<&Bound<'_, PyAny>>,
        interval: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyWaiter> {
        guard(|| {
            let timeout = seconds_option(timeout, "timeout")?;
            let interval = seconds_option(interval, "interval")?;
            let waiter =
                Waiter::start("condition", timeout, interval, WaitUnit::Seconds).py_err()?;
            Ok(PyWaiter(SandboxWait::new(
                self.control.clone(),
                waiter,
                None,
            )))
        })
    }

    /// The wait of `wait_deliveries(n, *, kind, ok, timeout)`: what to wait for and the
    /// deadline, read by the sandbox's `DeliveryWait` and `Waiter`.
    #[pyo3(signature = (n, kind, ok, timeout))]
    fn _delivery_waiter(
        &self,
        n: &Bound<'_, PyAny>,
        kind: Option<&Bound<'_, PyAny>>,
        ok: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyWaiter> {
        guard(|| {
            let timeout = seconds_option(timeout, "timeout")?;
            let wait = DeliveryWait {
                n: crate::convert::int_option(n, "n", 0, 1 << 32)? as usize,
                kind: kind
                    .filter(|k| !k.is_none())
                    .map(|k| crate::convert::text_arg(k, "kind"))
                    .transpose()?,
                ok: ok
                    .cast::<pyo3::types::PyBool>()
                    .map_err(|_| to_py_err(wa360::Error::invalid("ok", "must be True or False")))?
                    .is_true(),
            };
            let waiter =
                Waiter::start(wait.describe(), timeout, None, WaitUnit::Seconds).py_err()?;
            Ok(PyWaiter(SandboxWait::new(
                self.control.clone(),
                waiter,
                Some(wait),
            )))
        })
    }

    /// Enforce rate limits like the real API: `{"messages_per_second"?: N,
    /// "pair_rate"?: {"interval_ms": N, "burst"?: N}, "endpoint_rps"?: N}` (absent = off).
    fn set_limits(&self, limits: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let v = py_to_value(limits, "limits").py_err()?;
            self.control.set_limits_json(v).py_err()
        })
    }

    /// Sends per recipient: `{"15555550123": {"accepted", "throughput_refused", "pair_refused"}}`.
    fn recipient_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| serialized_to_py(py, &self.control.recipient_counts()))
    }

    /// Remove every pending fault rule.
    fn clear_faults(&self) {
        self.control.clear_faults();
    }

    /// The registered phone-level webhook as `{"url", "headers"}`, or `None`.
    fn phone_webhook<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| serialized_to_py(py, &self.control.phone_webhook()))
    }

    /// The registered WABA-level webhook as `{"url", "headers"}`, or `None`.
    fn waba_webhook<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| serialized_to_py(py, &self.control.waba_webhook()))
    }

    /// Simulate inbound messages, delivered to the registered webhook as one POST.
    ///
    /// `event`: one event such as `{"from": "15555550123", "type": "text", "text":
    /// {"body": "hi"}, "name": "Maya"}`, a list of them, or a full webhook body. Returns the
    /// new message ids. Raises `InvalidArgumentError` for bad input or when no webhook is
    /// registered.
    fn inbound(&self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        guard(|| {
            let v = py_to_value(event, "event").py_err()?;
            py.detach(|| self.control.inbound(&v))
                .map_err(|e| wa360::Error::invalid("event", e))
                .py_err()
        })
    }

    /// Mark users as having written to the business in the last 24 hours (only those
    /// can be blocked; management API emulation).
    fn mark_seen(&self, users: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let v = py_to_value(users, "users").py_err()?;
            let users: Vec<String> = serde_json::from_value(v)
                .map_err(|_| wa360::Error::invalid("users", "must be a list of strings"))
                .py_err()?;
            self.control
                .mark_seen(&users)
                .map_err(|e| wa360::Error::invalid("users", e))
                .py_err()
        })
    }

    /// Replace the `GET /health_status` answer (`None` restores the healthy one).
    fn set_health(&self, answer: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let v = py_to_value(answer, "answer").py_err()?;
            self.control
                .set_health(Some(v))
                .map_err(|e| wa360::Error::invalid("answer", e))
                .py_err()
        })
    }

    /// Register a webhook URL with the sandbox, including local `http://127.0.0.1:PORT`
    /// receivers (which `Client.set_webhook` rejects: it enforces 360dialog's HTTPS rule).
    #[pyo3(signature = (url, *, headers = None, waba = false))]
    fn register_webhook(
        &self,
        #[pyo3(from_py_with = crate::convert::args::url)] url: String,
        headers: Option<&Bound<'_, PyAny>>,
        waba: bool,
    ) -> PyResult<()> {
        guard(|| {
            let headers = match headers {
                Some(h) => crate::convert::args::headers(h)?.unwrap_or_default(),
                None => Default::default(),
            };
            self.control.register_webhook(waba, &url, &headers).py_err()
        })
    }

    /// Forget requests, deliveries, faults, webhooks and media.
    fn reset(&self) {
        self.control.reset();
    }

    /// Stop the server and wait for its thread (idempotent).
    fn stop(&self, py: Python<'_>) {
        let sb = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(sb) = sb {
            py.detach(|| sb.stop());
        }
    }

    fn __repr__(&self) -> String {
        format!("Sandbox(url={:?})", self.url)
    }
}

/// A seconds option of the waits (`None`: the sandbox's default).
fn seconds_option(v: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<f64>> {
    v.filter(|v| !v.is_none())
        .map(|v| crate::convert::num_option(v, name))
        .transpose()
}

/// A running wait of `Sandbox.wait_for` / `wait_deliveries` (internal to testing.py).
#[pyclass(name = "SandboxWaiter", module = "wa360._native", frozen)]
pub struct PyWaiter(SandboxWait);

#[pymethods]
impl PyWaiter {
    /// Seconds to sleep before trying again; raises `wa360.TimeoutError` once the
    /// deadline has passed.
    fn pause(&self) -> PyResult<f64> {
        guard(|| Ok(self.0.pause().py_err()?.as_secs_f64()))
    }

    /// For `wait_deliveries`: the matching deliveries once there are enough, else `None`.
    fn deliveries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| serialized_to_py(py, &self.0.deliveries()))
    }
}

/// The `method` / `path` / `count` of `Sandbox.fault` as JSON, checked by the sandbox.
fn fault_method(o: &Bound<'_, PyAny>) -> PyResult<Value> {
    py_to_value(o, "method").py_err()
}

fn fault_path(o: &Bound<'_, PyAny>) -> PyResult<Value> {
    py_to_value(o, "path").py_err()
}

fn fault_count(o: &Bound<'_, PyAny>) -> PyResult<Value> {
    py_to_value(o, "count").py_err()
}

/// A fixture body as Python `bytes` (the JSON text 360dialog would post).
fn json_bytes(v: &Value) -> BytesOut {
    BytesOut(v.to_string().into_bytes().into())
}

/// A webhook body with one inbound text message (bytes, as 360dialog posts it).
#[pyfunction]
#[pyo3(signature = (from_, body, wamid = "wamid.TEST1"))]
pub(crate) fn inbound_text(from_: &str, body: &str, wamid: &str) -> BytesOut {
    json_bytes(&wt::inbound_text(from_, body, wamid))
}

/// A webhook body with one inbound message of any type (`obj` is the object under the type key).
#[pyfunction]
#[pyo3(signature = (from_, msg_type, obj, wamid = "wamid.TEST1"))]
pub(crate) fn inbound(
    from_: &str,
    msg_type: &str,
    obj: &Bound<'_, PyAny>,
    wamid: &str,
) -> PyResult<BytesOut> {
    guard(|| {
        let o = py_to_value(obj, "obj").py_err()?;
        Ok(json_bytes(&wt::inbound(from_, wamid, msg_type, o)))
    })
}

/// A webhook body with one status update (`failed` carries error 131026).
#[pyfunction]
#[pyo3(signature = (wamid, status, recipient = "15555550123"))]
pub(crate) fn status(wamid: &str, status: &str, recipient: &str) -> BytesOut {
    json_bytes(&wt::status(wamid, status, recipient))
}

/// A webhook body with one `failed` status carrying this error.
#[pyfunction]
#[pyo3(signature = (wamid, code, title, details, recipient = "15555550123"))]
pub(crate) fn status_failed(
    wamid: &str,
    code: i64,
    title: &str,
    details: &str,
    recipient: &str,
) -> BytesOut {
    json_bytes(&wt::status_failed(wamid, recipient, code, title, details))
}

/// A webhook body with a value-level `errors` list.
#[pyfunction]
pub(crate) fn value_error(code: i64, title: &str, details: &str) -> BytesOut {
    json_bytes(&wt::value_error(code, title, details))
}

/// One body carrying every entry of `bodies`, in order (a batched delivery).
#[pyfunction]
#[pyo3(signature = (*bodies))]
pub(crate) fn batch(bodies: Vec<Bound<'_, PyAny>>) -> PyResult<BytesOut> {
    guard(|| {
        let mut vals = Vec::new();
        for b in &bodies {
            let v = with_body_bytes(b, "bodies", |bytes| {
                serde_json::from_slice::<Value>(bytes).map_err(|e| {
                    to_py_err(wa360::Error::invalid("bodies", format!("not JSON: {e}")))
                })
            })?;
            vals.push(v);
        }
        Ok(json_bytes(&wt::batch(&vals)))
    })
}

/// `sha256=<hex HMAC-SHA256(app_secret, body)>`: Meta's `X-Hub-Signature-256` value.
#[pyfunction]
pub(crate) fn hub_signature(app_secret: &str, body: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(|| with_body_bytes(body, "body", |b| Ok(wt::hub_signature(app_secret, b))))
}

/// Headers of a delivery signed like Meta does.
#[pyfunction]
pub(crate) fn signed_headers<'py>(
    py: Python<'py>,
    app_secret: &str,
    body: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let pairs = with_body_bytes(body, "body", |b| Ok(wt::signed_headers(app_secret, b)))?;
        let d = PyDict::new(py);
        for (k, v) in pairs {
            d.set_item(k, v)?;
        }
        Ok(d)
    })
}

/// `("Authorization", "Basic base64(user:password)")`.
#[pyfunction]
pub(crate) fn basic_auth_header(user: &str, password: &str) -> (String, String) {
    wt::basic_auth_header(user, password)
}
