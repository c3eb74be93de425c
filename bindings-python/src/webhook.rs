//! Webhooks for Python: `parse_webhook` into typed event objects, the
//! verification helpers, `Deduper` and `StatusFold`, URL validation and the
//! `hub.challenge` handshake. Mirrors `core/src/webhook/`.
//!
//! Events hold the parsed Rust [`Event`]; every attribute is converted to a
//! Python object only when it is read, so `parse_webhook` costs one Rust
//! parse plus one small object per event.

use std::collections::BTreeMap;
use std::time::Duration;

use pyo3::PyClass;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};
use wa360::webhook::dedupe::{
    DEFAULT_CAPACITY, DEFAULT_TTL, Deduper, MemoryDedupe, MemoryStatusStore, StatusFold,
};
use wa360::webhook::registration::{WebhookSettings, validate_webhook_url};
use wa360::webhook::verify::{Verifier, hub_challenge, hub_challenge_from_query};
use wa360::webhook::{Event, EventKind, InboundMessage, ParseOptions, StatusUpdate};

use crate::convert::{opt_value_to_py, value_to_py, values_to_py};
use crate::errors::{IntoPyResult, guard};

/// Borrow the bytes of a `bytes`, `bytearray` or `str` body and run `f` on them.
pub fn with_body_bytes<T>(
    body: &Bound<'_, PyAny>,
    name: &str,
    f: impl FnOnce(&[u8]) -> PyResult<T>,
) -> PyResult<T> {
    if let Ok(b) = body.cast::<PyBytes>() {
        f(b.as_bytes())
    } else if let Ok(s) = body.cast::<PyString>() {
        // A `str` holding lone surrogates cannot be UTF-8: each becomes U+FFFD
        // (as in Node's string conversion), never a UnicodeEncodeError.
        match s.to_str() {
            Ok(t) => f(t.as_bytes()),
            Err(_) => f(crate::convert::lossy_str(s).as_bytes()),
        }
    } else if let Ok(b) = body.cast::<PyByteArray>() {
        let copy = b.to_vec();
        f(&copy)
    } else {
        Err(crate::errors::to_py_err(wa360::Error::invalid(
            name,
            "must be bytes or str",
        )))
    }
}

// ---------------------------------------------------------------- events

/// One webhook event. Subclasses: `MessageEvent`, `StatusEvent`,
/// `ErrorEvent`, `FieldUpdateEvent`, `UnknownEvent`.
#[pyclass(name = "Event", module = "wa360._native", subclass, frozen)]
pub struct PyEvent {
    pub(crate) event: Event,
}

#[pymethods]
impl PyEvent {
    /// `"message"`, `"status"`, `"error"`, `"field_update"` or `"unknown"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.event.kind()
    }
    /// The change's `field` (e.g. `"messages"`).
    #[getter]
    fn field(&self) -> Option<&str> {
        self.event.field()
    }
    /// The entry id (the WABA id).
    #[getter]
    fn waba_id(&self) -> Option<&str> {
        self.event.waba_id()
    }
    /// `metadata.phone_number_id` of the change.
    #[getter]
    fn phone_number_id(&self) -> Option<&str> {
        self.event.phone_number_id()
    }
    /// `metadata.display_phone_number` of the change.
    #[getter]
    fn display_phone_number(&self) -> Option<&str> {
        self.event.display_phone_number()
    }
    /// The canonical form as plain Python objects (identical in every wa360 language).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| value_to_py(py, &self.event.to_canonical()))
    }
    /// The canonical form as JSON text.
    fn to_json(&self) -> PyResult<String> {
        guard(|| {
            serde_json::to_string(&self.event.canonical())
                .map_err(|e| wa360::Error::Internal(e.to_string()))
                .py_err()
        })
    }
    fn __repr__(&self) -> String {
        event_repr(&self.event)
    }
}

fn event_repr(e: &Event) -> String {
    match e.event_kind() {
        EventKind::Message(m) => format!(
            "MessageEvent(type={:?}, id={:?}, from_={:?})",
            m.message_type().unwrap_or(""),
            m.id().unwrap_or(""),
            m.from().unwrap_or("")
        ),
        EventKind::Status(s) => format!(
            "StatusEvent(status={:?}, id={:?})",
            s.status().unwrap_or(""),
            s.id().unwrap_or("")
        ),
        EventKind::Error(errs) => format!("ErrorEvent(errors=<{} error(s)>)", errs.len()),
        EventKind::FieldUpdate(_) => {
            format!("FieldUpdateEvent(field={:?})", e.field().unwrap_or(""))
        }
        EventKind::Unknown(_) => "UnknownEvent(raw=...)".to_string(),
    }
}

fn base<'a, T>(slf: &'a Bound<'_, T>) -> &'a Event
where
    T: PyClass<BaseType = PyEvent>,
{
    &slf.as_super().get().event
}

/// The `#[getter]`s of an event subclass that hand back one accessor of the
/// core's typed view (`$view(slf)`, `None` for another kind of event), one line
/// each: `name: T = accessor` gives the accessor's `Option<T>`, `name: json =
/// accessor` its JSON as Python objects (`None` when absent). (One `#[pymethods]`
/// block per getter: PyO3 expands no macro inside such a block.)
macro_rules! view_getters {
    ($cls:ident, $view:ident { $($(#[doc = $doc:literal])* $name:ident: $kind:tt = $acc:ident;)* }) => {
        $(view_getters!(@one $cls, $view, [$($doc)*] $name $kind $acc);)*
    };
    (@one $cls:ident, $view:ident, [$($doc:literal)*] $name:ident json $acc:ident) => {
        #[pymethods]
        impl $cls {
            $(#[doc = $doc])*
            #[getter]
            fn $name<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
                opt_value_to_py(slf.py(), $view(slf).and_then(|v| v.$acc()))
            }
        }
    };
    (@one $cls:ident, $view:ident, [$($doc:literal)*] $name:ident str $acc:ident) => {
        #[pymethods]
        impl $cls {
            $(#[doc = $doc])*
            #[getter]
            fn $name<'a>(slf: &'a Bound<'_, Self>) -> Option<&'a str> {
                $view(slf)?.$acc()
            }
        }
    };
    (@one $cls:ident, $view:ident, [$($doc:literal)*] $name:ident $ty:ident $acc:ident) => {
        #[pymethods]
        impl $cls {
            $(#[doc = $doc])*
            #[getter]
            fn $name(slf: &Bound<'_, Self>) -> Option<$ty> {
                $view(slf)?.$acc()
            }
        }
    };
}

/// An inbound message from a user (any wire `type`, known or not).
#[pyclass(name = "MessageEvent", module = "wa360._native", extends = PyEvent, frozen)]
pub struct PyMessageEvent;

fn msg<'a>(slf: &'a Bound<'_, PyMessageEvent>) -> Option<&'a InboundMessage> {
    base(slf).as_message()
}

view_getters!(PyMessageEvent, msg {
    /// The message id (`wamid.…`): the key for replies, reactions and dedupe.
    id: str = id;
    /// Sender phone number (`from` on the wire); `None` for username-only users.
    from_: str = from;
    /// Sender business-scoped user id (BSUID).
    from_user_id: str = from_user_id;
    /// Unix seconds.
    timestamp: i64 = timestamp;
    /// The wire `type` (`text`, `image`, `interactive`, … unknown values kept).
    r#type: str = message_type;
    /// The wire `context` (replies, forwards, product enquiries) or `None`.
    context: json = context_raw;
    /// The wire object under the type key (e.g. `{"body": "hi"}` for text).
    payload: json = payload;
});

#[pymethods]
impl PyMessageEvent {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("type", "from_", "text")
    }
    /// The body of a `text` message; `None` for other types.
    #[getter]
    fn text<'a>(slf: &'a Bound<'_, Self>) -> Option<&'a str> {
        let m = msg(slf)?;
        if m.message_type() != Some("text") {
            return None;
        }
        m.payload()?.get("body")?.as_str()
    }
    /// The media id of an image / video / audio / document / sticker message.
    #[getter]
    fn media_id<'a>(slf: &'a Bound<'_, Self>) -> Option<&'a str> {
        let m = msg(slf)?;
        match m.message_type()? {
            "image" | "video" | "audio" | "document" | "sticker" => {
                m.payload()?.get("id")?.as_str()
            }
            _ => None,
        }
    }
    /// The sender's profile name, when the webhook carried it.
    #[getter]
    fn name<'a>(slf: &'a Bound<'_, Self>) -> Option<&'a str> {
        msg(slf)?.contact()?.name.as_deref()
    }
    /// The sender's contact entry: `{"wa_id", "user_id", "name"}` or `None`.
    #[getter]
    fn contact<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let Some(c) = msg(slf).and_then(InboundMessage::contact) else {
            return Ok(py.None().into_bound(py));
        };
        let d = PyDict::new(py);
        d.set_item("wa_id", c.wa_id.as_deref())?;
        d.set_item("user_id", c.user_id.as_deref())?;
        d.set_item("name", c.name.as_deref())?;
        Ok(d.into_any())
    }
    /// The id of the message this one replies to (`context.id`).
    #[getter]
    fn reply_to<'a>(slf: &'a Bound<'_, Self>) -> Option<&'a str> {
        msg(slf)?.context_raw()?.get("id")?.as_str()
    }
    /// Message-level errors (e.g. on `unsupported`); empty when none.
    #[getter]
    fn errors<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        values_to_py(
            slf.py(),
            msg(slf).map(InboundMessage::errors).unwrap_or(&[]),
        )
    }
}

/// A status update of a message you sent (`sent`, `delivered`, `read`, `failed`, …).
#[pyclass(name = "StatusEvent", module = "wa360._native", extends = PyEvent, frozen)]
pub struct PyStatusEvent;

fn st<'a>(slf: &'a Bound<'_, PyStatusEvent>) -> Option<&'a StatusUpdate> {
    base(slf).as_status()
}

view_getters!(PyStatusEvent, st {
    /// The id of the outbound message (`wamid.…`).
    id: str = id;
    /// The wire status value (unknown values kept).
    status: str = status;
    /// Unix seconds.
    timestamp: i64 = timestamp;
    /// Recipient phone number or group id.
    recipient_id: str = recipient_id;
    /// Recipient business-scoped user id.
    recipient_user_id: str = recipient_user_id;
    /// The wire `conversation` object or `None`.
    conversation: json = conversation;
    /// The wire `pricing` object or `None`.
    pricing: json = pricing_raw;
    /// The `callback_data` (`biz_opaque_callback_data`) sent with the message.
    callback_data: str = biz_opaque_callback_data;
});

#[pymethods]
impl PyStatusEvent {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("status", "id")
    }
    /// Errors of a `failed` status; empty otherwise.
    #[getter]
    fn errors<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        values_to_py(slf.py(), st(slf).map(StatusUpdate::errors).unwrap_or(&[]))
    }
}

/// The value-level `errors` list of a `messages` change.
#[pyclass(name = "ErrorEvent", module = "wa360._native", extends = PyEvent, frozen)]
pub struct PyErrorEvent;

#[pymethods]
impl PyErrorEvent {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("errors",)
    }
    /// The wire error objects (`code`, `title`, `message`, `error_data`, `href`).
    #[getter]
    fn errors<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        values_to_py(slf.py(), base(slf).as_errors().unwrap_or(&[]))
    }
}

/// A change whose `field` is not `messages` (template status, quality, account updates, …).
#[pyclass(name = "FieldUpdateEvent", module = "wa360._native", extends = PyEvent, frozen)]
pub struct PyFieldUpdateEvent;

#[pymethods]
impl PyFieldUpdateEvent {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("field", "value")
    }
    /// The wire `value`, unchanged.
    #[getter]
    fn value<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        opt_value_to_py(
            slf.py(),
            base(slf).as_field_update().and_then(|f| f.value()),
        )
    }
}

/// A piece of the webhook that could not be read as any other event, kept raw.
#[pyclass(name = "UnknownEvent", module = "wa360._native", extends = PyEvent, frozen)]
pub struct PyUnknownEvent;

#[pymethods]
impl PyUnknownEvent {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("raw",)
    }
    /// The raw JSON of the piece.
    #[getter]
    fn raw<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        opt_value_to_py(slf.py(), base(slf).as_unknown())
    }
}

/// Wrap one core event in its Python class.
pub fn event_to_py(py: Python<'_>, event: Event) -> PyResult<Bound<'_, PyAny>> {
    let kind = event.kind();
    let init = PyClassInitializer::from(PyEvent { event });
    Ok(match kind {
        "message" => Bound::new(py, init.add_subclass(PyMessageEvent))?.into_any(),
        "status" => Bound::new(py, init.add_subclass(PyStatusEvent))?.into_any(),
        "error" => Bound::new(py, init.add_subclass(PyErrorEvent))?.into_any(),
        "field_update" => Bound::new(py, init.add_subclass(PyFieldUpdateEvent))?.into_any(),
        _ => Bound::new(py, init.add_subclass(PyUnknownEvent))?.into_any(),
    })
}

/// An event on its way to Python, as [`event_to_py`] makes it.
struct EventObj(Event);

impl<'py> IntoPyObject<'py> for EventObj {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        event_to_py(py, self.0)
    }
}

/// The `max_bytes` / `max_depth` options of `parse_webhook` and the receivers
/// (`None` = the default), read by the core's rule.
pub(crate) fn parse_limits(
    max_bytes: Option<&Bound<'_, PyAny>>,
    max_depth: Option<&Bound<'_, PyAny>>,
) -> PyResult<ParseOptions> {
    let given =
        |v: Option<&Bound<'_, PyAny>>| v.filter(|v| !v.is_none()).map(crate::convert::int_as_f64);
    ParseOptions::with_limits(
        given(max_bytes),
        given(max_depth),
        ["max_bytes", "max_depth"],
    )
    .py_err()
}

/// Parse one webhook POST body (`bytes` or `str`) into typed events.
#[pyfunction]
#[pyo3(signature = (body, *, max_bytes = None, max_depth = None))]
pub(crate) fn parse_webhook<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyAny>,
    max_bytes: Option<&Bound<'py, PyAny>>,
    max_depth: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    guard(|| {
        let opts = parse_limits(max_bytes, max_depth)?;
        let events = with_body_bytes(body, "body", |bytes| {
            let result = wa360::webhook::parse_with(bytes, &opts);
            result.py_err()
        })?;
        // Each event made straight into its list slot (no list of objects in between).
        PyList::new(py, events.into_iter().map(EventObj))
    })
}

/// Hidden, for the benchmark: the core parse alone (no Python objects made);
/// returns the number of events.
#[pyfunction]
#[pyo3(name = "_parse_only")]
pub(crate) fn parse_only(body: &Bound<'_, PyAny>) -> PyResult<usize> {
    guard(|| {
        with_body_bytes(body, "body", |b| {
            wa360::webhook::parse(b).map(|e| e.len()).py_err()
        })
    })
}

/// Parse and return the canonical events as one JSON array (text).
#[pyfunction]
pub(crate) fn parse_webhook_json(body: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(|| {
        with_body_bytes(body, "body", |bytes| {
            wa360::webhook::parse_to_canonical_json(bytes).py_err()
        })
    })
}

// ---------------------------------------------------------------- verification

/// Header pairs from a mapping (`.items()`) or an iterable of `(name, value)`
/// pairs; names and values may be `str` or `bytes`.
pub fn header_pairs(headers: &Bound<'_, PyAny>) -> PyResult<Vec<(String, Vec<u8>)>> {
    let not_headers = || {
        crate::errors::to_py_err(wa360::Error::invalid(
            "headers",
            "must be a mapping or (name, value) pairs",
        ))
    };
    let items = if headers.hasattr("items")? {
        headers.call_method0("items")?
    } else {
        headers.clone()
    };
    let mut out = Vec::new();
    for item in items.try_iter().map_err(|_| not_headers())? {
        let item = item?;
        if item.len().map_err(|_| not_headers())? != 2 {
            return Err(crate::errors::to_py_err(wa360::Error::invalid(
                "headers",
                "must be a mapping or (name, value) pairs",
            )));
        }
        let name = item.get_item(0)?;
        let value = item.get_item(1)?;
        let name = if let Ok(b) = name.cast::<PyBytes>() {
            String::from_utf8_lossy(b.as_bytes()).into_owned()
        } else {
            header_text(&name)?
        };
        let value = if let Ok(b) = value.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            header_text(&value)?.into_bytes()
        };
        out.push((name, value));
    }
    Ok(out)
}

/// A header name or value given as `str` (lone surrogates become U+FFFD, as
/// in Node); any other type is `invalid_argument`.
fn header_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) => Ok(crate::convert::lossy_str(s)),
        Err(_) => Err(crate::errors::to_py_err(wa360::Error::invalid(
            "headers",
            "names and values must be str or bytes",
        ))),
    }
}

/// Checks that a webhook delivery is authentic (fails closed).
#[pyclass(name = "Verifier", module = "wa360._native", frozen)]
pub struct PyVerifier {
    pub(crate) inner: Verifier,
}

#[pymethods]
impl PyVerifier {
    /// `Verifier(*, basic_auth=(user, password), headers={name: value}, app_secret=...)`:
    /// every check given must pass.
    #[new]
    #[pyo3(signature = (*, basic_auth = None, headers = None, app_secret = None))]
    fn new(
        py: Python<'_>,
        basic_auth: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        app_secret: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| {
            let spec = PyDict::new(py);
            if let Some(b) = basic_auth {
                if b.is_instance_of::<PyDict>() {
                    spec.set_item("basic_auth", b)?;
                } else {
                    let (user, password): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                        b.extract().map_err(|_| {
                            crate::errors::to_py_err(wa360::Error::invalid(
                                "basic_auth",
                                "must be a (user, password) pair",
                            ))
                        })?;
                    let d = PyDict::new(py);
                    d.set_item("user", user)?;
                    d.set_item("password", password)?;
                    spec.set_item("basic_auth", d)?;
                }
            }
            if let Some(h) = headers {
                spec.set_item("headers", h)?;
            }
            if let Some(a) = app_secret {
                spec.set_item("app_secret", a)?;
            }
            Self::build(spec.as_any())
        })
    }

    /// Build from the neutral description
    /// `{"basic_auth": {"user", "password"}, "headers": {...}, "app_secret": ...}`.
    #[staticmethod]
    fn from_dict(spec: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(|| Self::build(spec))
    }

    /// Raise `InvalidSignatureError` unless the delivery passes every check.
    /// `headers`: a mapping or `(name, value)` pairs; `body`: the raw bytes.
    fn verify(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guard(|| self.check(py, headers, body)?.py_err())
    }

    /// `True` when the delivery passes every check.
    fn is_valid(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        guard(|| Ok(self.check(py, headers, body)?.is_ok()))
    }

    fn __repr__(&self) -> String {
        "Verifier(***)".to_string()
    }
}

impl PyVerifier {
    /// The core's verdict on one delivery (GIL released), once the headers and
    /// body are read; the outer error is unreadable input.
    fn check(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<wa360::Result<()>> {
        let pairs = header_pairs(headers)?;
        with_body_bytes(body, "body", |bytes| {
            Ok(py.detach(|| self.inner.verify(&pairs, bytes)))
        })
    }

    fn build(spec: &Bound<'_, PyAny>) -> PyResult<Self> {
        let v = crate::convert::py_to_value(spec, "verifier").py_err()?;
        Ok(PyVerifier {
            inner: Verifier::from_json(&v).py_err()?,
        })
    }
}

/// Answer Meta's `GET` verification handshake: the challenge to echo back,
/// or `InvalidSignatureError` (answer 403).
#[pyfunction]
#[pyo3(name = "hub_challenge")]
pub(crate) fn py_hub_challenge(
    #[pyo3(from_py_with = crate::convert::args::mode)] mode: String,
    #[pyo3(from_py_with = crate::convert::args::verify_token)] verify_token: String,
    #[pyo3(from_py_with = crate::convert::args::challenge)] challenge: String,
    #[pyo3(from_py_with = crate::convert::args::expected_token)] expected_token: String,
) -> PyResult<String> {
    guard(|| hub_challenge(&mode, &verify_token, &challenge, &expected_token).py_err())
}

/// [`py_hub_challenge`] from a raw query string.
#[pyfunction]
#[pyo3(name = "hub_challenge_from_query")]
pub(crate) fn py_hub_challenge_from_query(
    #[pyo3(from_py_with = crate::convert::args::query)] query: String,
    #[pyo3(from_py_with = crate::convert::args::expected_token)] expected_token: String,
) -> PyResult<String> {
    guard(|| hub_challenge_from_query(&query, &expected_token).py_err())
}

/// Check a webhook URL (and optional custom headers) against 360dialog's
/// rules: HTTPS, no `_` in the host, no port, no user info or fragment; header
/// names and values usable. `InvalidArgumentError` names the field and rule.
#[pyfunction]
#[pyo3(name = "validate_webhook_url", signature = (url, *, headers = None))]
pub(crate) fn py_validate_webhook_url(
    #[pyo3(from_py_with = crate::convert::args::url)] url: String,
    #[pyo3(from_py_with = crate::convert::args::headers)] headers: Option<BTreeMap<String, String>>,
) -> PyResult<()> {
    guard(|| match headers {
        None => validate_webhook_url(&url).py_err(),
        Some(h) => {
            let mut s = WebhookSettings::new(url);
            for (k, v) in h {
                s = s.header(k, v);
            }
            s.validate().py_err()
        }
    })
}

// ---------------------------------------------------------------- hygiene

fn ttl_from(seconds: Option<f64>, default: Duration) -> PyResult<Duration> {
    match seconds {
        None => Ok(default),
        Some(s) => wa360::input::duration_s_option("ttl", s).py_err(),
    }
}

/// A store made by `make` from `capacity` and `ttl` of the in-memory stores,
/// range-checked by the core's rules (the constructors of `Deduper` and `StatusFold`).
fn with_store_sizes<T>(
    capacity: Option<&Bound<'_, PyAny>>,
    ttl: Option<&Bound<'_, PyAny>>,
    make: impl FnOnce(usize, Duration) -> T,
) -> PyResult<T> {
    guard(|| {
        let (capacity, ttl) = store_sizes(capacity, ttl)?;
        Ok(make(capacity, ttl))
    })
}

fn store_sizes(
    capacity: Option<&Bound<'_, PyAny>>,
    ttl: Option<&Bound<'_, PyAny>>,
) -> PyResult<(usize, Duration)> {
    let capacity = match capacity {
        None => DEFAULT_CAPACITY,
        Some(c) => {
            crate::convert::int_option(c, "capacity", 1, wa360::input::MAX_CAPACITY)? as usize
        }
    };
    let ttl = match ttl {
        None => DEFAULT_TTL,
        Some(t) => ttl_from(Some(crate::convert::num_option(t, "ttl")?), DEFAULT_TTL)?,
    };
    Ok((capacity, ttl))
}

fn not_events() -> PyErr {
    crate::errors::to_py_err(wa360::Error::invalid(
        "events",
        "must be an iterable of events returned by parse_webhook",
    ))
}

/// The events of `events` (an iterable of parsed events) that `keep` keeps, in order.
fn filter_events<'py>(
    py: Python<'py>,
    events: &Bound<'py, PyAny>,
    mut keep: impl FnMut(&Event) -> bool,
) -> PyResult<Bound<'py, PyList>> {
    guard(|| {
        let out = PyList::empty(py);
        for e in events.try_iter().map_err(|_| not_events())? {
            let e = e?;
            if keep(event_ref(&e)?) {
                out.append(e)?;
            }
        }
        Ok(out)
    })
}

fn event_ref<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a Event> {
    let ev = obj.cast::<PyEvent>().map_err(|_| {
        crate::errors::to_py_err(wa360::Error::invalid(
            "event",
            "must be an event returned by parse_webhook",
        ))
    })?;
    Ok(&ev.get().event)
}

/// Drops repeated webhook events (360dialog delivers at least once).
#[pyclass(name = "Deduper", module = "wa360._native", frozen)]
pub struct PyDeduper {
    pub(crate) inner: Deduper,
}

#[pymethods]
impl PyDeduper {
    #[new]
    #[pyo3(signature = (*, capacity = None, ttl = None))]
    fn new(capacity: Option<&Bound<'_, PyAny>>, ttl: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        with_store_sizes(capacity, ttl, |c, t| PyDeduper {
            inner: Deduper::new(MemoryDedupe::new(c, t)),
        })
    }
    /// Record `event`; `True` the first time it is seen.
    fn is_new(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        guard(|| Ok(self.inner.is_new(event_ref(event)?)))
    }
    /// The events not seen before, in order.
    fn filter<'py>(
        &self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        filter_events(py, events, |e| self.inner.is_new(e))
    }
    /// Forget `event` so its redelivery is processed again (call it when handling failed).
    fn forget(&self, event: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            self.inner.forget(event_ref(event)?);
            Ok(())
        })
    }
}

/// Keeps the furthest status of each sent message; statuses never move backwards.
#[pyclass(name = "StatusFold", module = "wa360._native", frozen)]
pub struct PyStatusFold {
    pub(crate) inner: StatusFold,
}

#[pymethods]
impl PyStatusFold {
    #[new]
    #[pyo3(signature = (*, capacity = None, ttl = None))]
    fn new(capacity: Option<&Bound<'_, PyAny>>, ttl: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        with_store_sizes(capacity, ttl, |c, t| PyStatusFold {
            inner: StatusFold::new(MemoryStatusStore::new(c, t)),
        })
    }
    /// Apply a status event: `"advanced"`, `"failed"`, `"unrecognised"`
    /// (reportable) or `"duplicate"`, `"stale"` (drop it). Other events: `"unrecognised"`.
    fn apply(&self, event: &Bound<'_, PyAny>) -> PyResult<&'static str> {
        guard(|| {
            let ev = event_ref(event)?;
            Ok(match ev.as_status() {
                Some(s) => self.inner.apply_update(s).as_str(),
                None => "unrecognised",
            })
        })
    }
    /// Every non-status event and the status events worth reporting, in order.
    fn filter<'py>(
        &self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        filter_events(py, events, |e| match e.as_status() {
            Some(s) => self.inner.apply_update(s).is_reportable(),
            None => true,
        })
    }
    /// The folded state of a message: `{"status", "timestamp", "failed", "errors"}` or `None`.
    fn state<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = crate::convert::args::message_id)] message_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let Some(s) = self.inner.state(&message_id) else {
                return Ok(py.None().into_bound(py));
            };
            let d = PyDict::new(py);
            d.set_item("status", s.status)?;
            d.set_item("timestamp", s.timestamp)?;
            d.set_item("failed", s.failed)?;
            d.set_item("errors", values_to_py(py, &s.errors)?)?;
            Ok(d.into_any())
        })
    }
}
