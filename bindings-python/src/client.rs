//! `Client` (sync) and `AsyncClient` (asyncio) over one core
//! [`wa360::client::Client`] and one tokio runtime (`runtime.rs`).
//!
//! Both classes get the same methods from one macro; each method validates its
//! input with the GIL held (bad input raises at the call, before any request),
//! then either blocks on the runtime with the GIL released (`Client`) or
//! returns an awaitable (`AsyncClient`).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wa360::client::{SendResponse, SentMessage};
use wa360::webhook::registration::WebhookSettings;

use crate::convert::{py_to_value, value_to_py};
use crate::errors::{IntoPyResult, guard, to_py_err};
use crate::media::{BytesOut, PyMediaInfo};
use crate::messages::message_from_py;
use crate::runtime;

/// The answer to a send: "accepted", not "delivered" (statuses arrive as webhooks).
#[pyclass(name = "SendResponse", module = "wa360._native", frozen)]
pub struct PySendResponse {
    pub(crate) inner: SendResponse,
}

#[pymethods]
impl PySendResponse {
    /// The id (`wamid.…`) of the accepted message: the key of its status webhooks.
    #[getter]
    fn message_id(&self) -> Option<&str> {
        self.inner.message_id()
    }
    /// `accepted`, `held_for_quality_assessment`, `paused`, … when the server said.
    #[getter]
    fn message_status(&self) -> Option<&str> {
        self.inner
            .messages
            .first()
            .and_then(|m: &SentMessage| m.message_status.as_deref())
    }
    /// Recipients as WhatsApp understood them: `[{"input", "wa_id"?, "user_id"?}]`.
    #[getter]
    fn contacts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "contacts")
    }
    /// The accepted messages: `[{"id", "message_status"?}]`.
    #[getter]
    fn messages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "messages")
    }
    /// The whole answer as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = serde_json::to_value(&self.inner)
            .map_err(|e| to_py_err(wa360::Error::Internal(e.to_string())))?;
        value_to_py(py, &v)
    }
    fn __repr__(&self) -> String {
        format!(
            "SendResponse(message_id={:?})",
            self.inner.message_id().unwrap_or("")
        )
    }
}

impl PySendResponse {
    fn field<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = serde_json::to_value(&self.inner)
            .map_err(|e| to_py_err(wa360::Error::Internal(e.to_string())))?;
        value_to_py(py, v.get(key).unwrap_or(&serde_json::Value::Null))
    }
}

/// A registered webhook: URL and custom headers (values are secrets: `repr` shows names only).
#[pyclass(name = "WebhookSettings", module = "wa360._native", frozen)]
pub struct PyWebhookSettings {
    inner: WebhookSettings,
}

#[pymethods]
impl PyWebhookSettings {
    /// The callback URL.
    #[getter]
    fn url(&self) -> &str {
        &self.inner.url
    }
    /// Names of the custom headers sent with each delivery (Node: `headerNames`).
    #[getter]
    fn header_names(&self) -> Vec<String> {
        self.inner.headers.keys().cloned().collect()
    }
    /// Custom headers (name → value), when 360dialog returned them. The values are secrets
    /// (Basic credentials, tokens): compare them, never log them; `header_names` has the names.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.inner.headers {
            d.set_item(k, v.expose())?;
        }
        Ok(d)
    }
    fn __repr__(&self) -> String {
        let names: Vec<&str> = self.inner.headers.keys().map(String::as_str).collect();
        format!(
            "WebhookSettings(url={:?}, headers={names:?} (values hidden))",
            self.inner.url
        )
    }
}

/// `IntoPyObject` for a result wrapper that crosses back from a future:
/// `into_py!(Wrapper => PyType, |w, py| <the Python object>)`.
macro_rules! into_py {
    ($ty:ty => $target:ty, |$w:ident, $py:ident| $body:expr) => {
        impl<'py> IntoPyObject<'py> for $ty {
            type Target = $target;
            type Output = Bound<'py, $target>;
            type Error = PyErr;

            fn into_pyobject(self, $py: Python<'py>) -> PyResult<Bound<'py, $target>> {
                let $w = self;
                $body
            }
        }
    };
}
pub(crate) use into_py;

/// A JSON answer crossing into Python as plain objects.
pub struct JsonOut(pub serde_json::Value);

impl JsonOut {
    /// Any serializable core answer (a value serde cannot write is `internal`).
    pub fn of(v: &impl serde::Serialize) -> wa360::Result<JsonOut> {
        serde_json::to_value(v)
            .map(JsonOut)
            .map_err(|e| wa360::Error::Internal(e.to_string()))
    }
}

into_py!(JsonOut => PyAny, |j, py| value_to_py(py, &j.0));

/// `None` in Python (a Rust `()` would become an empty tuple).
pub struct NoneOut;

into_py!(NoneOut => PyAny, |_n, py| Ok(py.None().into_bound(py)));

/// What both client classes hold.
pub struct Core {
    client: wa360::client::Client,
    pid: u32,
    is_async: bool,
}

impl Core {
    /// The core client of a configured builder (`Client(...)` / `AsyncClient(...)`).
    fn build(b: wa360::client::ClientBuilder, is_async: bool) -> PyResult<Core> {
        // reqwest needs a runtime context to build its connector.
        let rt = runtime::runtime().py_err()?;
        let _enter = rt.enter();
        Ok(Core {
            client: b.build().py_err()?,
            pid: std::process::id(),
            is_async,
        })
    }

    /// The core client, or a clear error in a forked child (its connection
    /// pool belongs to the parent's runtime, which does not exist there).
    pub(crate) fn client(&self) -> PyResult<wa360::client::Client> {
        if std::process::id() != self.pid {
            return Err(to_py_err(wa360::Error::Configuration(
                "this client was created in another process (before fork()); create a new \
                 client in this process"
                    .into(),
            )));
        }
        Ok(self.client.clone())
    }

    /// Block (GIL released) or return an awaitable, depending on the class.
    pub(crate) fn run<'py, T>(
        &self,
        py: Python<'py>,
        fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        if self.is_async {
            runtime::future_into_py(py, fut)
        } else {
            runtime::block_on(py, fut)?.into_bound_py_any(py)
        }
    }

    /// [`Core::run`] for a broadcast: Ctrl-C (sync) or cancelling the awaitable (async)
    /// stops it after its sends in flight instead of aborting them, and the process's
    /// exit waits for them (`wa360._native._finish_broadcasts`).
    pub(crate) fn run_broadcast<'py, T>(
        &self,
        py: Python<'py>,
        fut: impl Future<Output = wa360::Result<T>> + Send + 'static,
        control: wa360::broadcast::BroadcastControl,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        crate::broadcast::arm_sigterm(py);
        let registered = crate::broadcast::register(&control);
        let fut = async move {
            let _registered = registered;
            fut.await
        };
        if self.is_async {
            runtime::future_into_py_stopping(py, fut, control)
        } else {
            runtime::block_on_stopping(py, fut, || {
                tracing::warn!(target: "wa360::broadcast", "interrupted: stopping the broadcast after the sends in flight (interrupt again to abort them)");
                control.stop();
            })?
            .into_bound_py_any(py)
        }
    }

    fn repr(&self, name: &str) -> String {
        format!(
            "{name}(base_url={:?}, api_key='***')",
            self.client.config().base_url()
        )
    }
}

/// The file of `upload_media`: `bytes`, `bytearray` or `memoryview`; any
/// other type (a `str` path included) is `invalid_argument` naming `data`.
pub(crate) fn upload_bytes(data: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = data.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if data.is_instance_of::<PyMemoryView>() {
        let b = data.call_method0("tobytes")?;
        if let Ok(b) = b.cast::<PyBytes>() {
            return Ok(b.as_bytes().to_vec());
        }
    }
    Err(to_py_err(wa360::Error::invalid(
        "data",
        "must be bytes, bytearray or memoryview (the file's content, not its path)",
    )))
}

fn settings_from(url: String, headers: Option<BTreeMap<String, String>>) -> WebhookSettings {
    let mut s = WebhookSettings::new(url);
    for (k, v) in headers.unwrap_or_default() {
        s = s.header(k, v);
    }
    s
}

macro_rules! client_class {
    ($cls:ident, $name:literal, $is_async:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(name = $name, module = "wa360._native", subclass, frozen)]
        pub struct $cls {
            pub(crate) core: Core,
        }

        #[pymethods]
        impl $cls {
            #[new]
            #[pyo3(signature = (api_key = None, *, base_url = None, timeout = None, connect_timeout = None, max_retries = None, governor = None))]
            fn new(
                // Read by wa360's own extractors: a key with a lone surrogate (an environment
                // value with stray bytes) is `invalid_argument`, never a `UnicodeEncodeError`
                // that quotes the key.
                #[pyo3(from_py_with = crate::convert::args::api_key)] api_key: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::base_url)] base_url: Option<String>,
                timeout: Option<&Bound<'_, PyAny>>,
                connect_timeout: Option<&Bound<'_, PyAny>>,
                max_retries: Option<&Bound<'_, PyAny>>,
                governor: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Self> {
                use crate::convert::{int_option, num_option};
                guard(|| {
                    // Only what is given is set: the defaults are the core's (30 s, 10 s, 2 retries).
                    let seconds = |name: &str, s: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Duration>> {
                        s.map(|v| wa360::input::duration_s_option(name, num_option(v, name)?).py_err()).transpose()
                    };
                    let suffix = if $is_async { "python-async" } else { "python" };
                    let mut b = wa360::client::Client::builder().user_agent_suffix(suffix);
                    if let Some(t) = seconds("timeout", timeout)? {
                        b = b.timeout(t);
                    }
                    if let Some(t) = seconds("connect_timeout", connect_timeout)? {
                        b = b.connect_timeout(t);
                    }
                    if let Some(v) = max_retries {
                        b = b.max_retries(int_option(v, "max_retries", 0, wa360::input::MAX_RETRIES)? as u32);
                    }
                    if let Some(k) = api_key {
                        b = b.api_key(k);
                    }
                    if let Some(u) = base_url {
                        b = b.base_url(&u);
                    }
                    if let Some(g) = crate::governor::governor_from_py(governor)? {
                        b = b.governor(g.config);
                        if let Some(url) = g.store {
                            b = b.governor_store(wa360::governor::open_store(&url).py_err()?);
                        }
                    }
                    Ok($cls { core: Core::build(b, $is_async)? })
                })
            }

            /// Send `campaign` (see `wa360.Campaign`) through this client's governor,
            /// recording each step in `ledger`; rerunning on the same ledger resumes.
            /// Returns the summary dict (`counts`, `complete`, `stopped`, …).
            #[pyo3(signature = (campaign, ledger, *, concurrency = 16, unknown_window = 900.0, max_wait = 60.0, max_attempts = 5, start_in = None, progress = None, max_outage = 600.0))]
            #[allow(clippy::too_many_arguments)]
            fn broadcast<'py>(
                &self,
                py: Python<'py>,
                campaign: &Bound<'py, PyAny>,
                ledger: &Bound<'py, PyAny>,
                #[pyo3(from_py_with = crate::convert::args::concurrency)] concurrency: u64,
                unknown_window: f64,
                max_wait: f64,
                #[pyo3(from_py_with = crate::convert::args::max_attempts)] max_attempts: u64,
                start_in: Option<f64>,
                progress: Option<Py<PyAny>>,
                max_outage: f64,
            ) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    if progress.as_ref().is_some_and(|p| !p.bind(py).is_callable()) {
                        return Err(to_py_err(wa360::Error::invalid("progress", "must be callable (or None)")));
                    }
                    let c = self.core.client()?;
                    // In range already (`args::concurrency`, `args::max_attempts`).
                    let (concurrency, max_attempts) = (concurrency as usize, max_attempts as u32);
                    let mut opts = wa360::broadcast::BroadcastOptions {
                        concurrency,
                        unknown_window: wa360::input::duration_s_option("unknown_window", unknown_window).py_err()?,
                        max_wait: wa360::input::wait_s_option("max_wait", max_wait).py_err()?,
                        max_attempts,
                        max_outage: wa360::input::duration_s_option("max_outage", max_outage).py_err()?,
                        progress: progress.map(crate::broadcast::progress_callback),
                        ..Default::default()
                    };
                    if let Some(s) = start_in {
                        opts = opts.starting_in(wa360::input::wait_s_option("start_in", s).py_err()?);
                    }
                    use crate::broadcast::{PyCampaign, PyLedger, class_arg};
                    let campaign = class_arg(campaign, "campaign", |c: &PyCampaign| c.inner.clone())?;
                    let ledger = class_arg(ledger, "ledger", |l: &PyLedger| l.get())?.py_err()?;
                    let control = opts.control.clone();
                    self.core.run_broadcast(py, async move {
                        c.broadcast(&campaign, &ledger, opts).await.and_then(|s| JsonOut::of(&s))
                    }, control)
                })
            }

            /// Validate and send one message, waiting at most `max_wait` seconds for the
            /// governor's slot (past it: `RateLimitedError` with `retry_after`, nothing sent)
            /// and for the pauses between attempts (a retry past it is not made).
            fn send_within<'py>(&self, py: Python<'py>, message: &Bound<'py, PyAny>, max_wait: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let msg = message_from_py(message).py_err()?;
                    let max_wait = crate::convert::num_option(max_wait, "max_wait")?;
                    let d = wa360::input::wait_s_option("max_wait", max_wait).py_err()?;
                    self.core.run(py, async move {
                        c.send_within(&msg, d).await.map(|r| PySendResponse { inner: r })
                    })
                })
            }

            /// The API base URL.
            #[getter]
            fn base_url(&self) -> &str {
                self.core.client.config().base_url()
            }

            fn __repr__(&self) -> String {
                self.core.repr($name)
            }

            /// A snapshot of this client's metrics as a dict: `requests` (by outcome),
            /// `retries` (by reason), `send_latency` (histogram); see docs/observability.md.
            fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let v = serde_json::to_value(self.core.client.metrics())
                        .map_err(|e| to_py_err(wa360::Error::Internal(e.to_string())))?;
                    value_to_py(py, &v)
                })
            }

            /// Validate and send one message given as a dict in the neutral format.
            fn send<'py>(&self, py: Python<'py>, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let msg = message_from_py(message).py_err()?;
                    self.core.run(py, async move {
                        c.send(&msg).await.map(|r| PySendResponse { inner: r })
                    })
                })
            }

            /// Send an already-built wire body to `POST /messages` (no validation
            /// beyond "is an object"; same retry rules as `send`).
            fn send_body<'py>(&self, py: Python<'py>, body: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let body = py_to_value(body, "body").py_err()?;
                    self.core.run(py, async move {
                        c.send_body(body).await.map(|r| PySendResponse { inner: r })
                    })
                })
            }

            /// Mark an inbound message (and the ones before it) as read.
            fn mark_read<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::message_id)] message_id: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.mark_read(&message_id).await.map(|()| NoneOut) })
                })
            }

            /// Show a typing indicator (up to 25 s; also marks the message read).
            fn typing<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::message_id)] message_id: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.typing(&message_id).await.map(|()| NoneOut) })
                })
            }

            /// Upload a file; returns its media id.
            #[pyo3(signature = (data, mime_type, filename = String::from("file")), text_signature = "($self, data, mime_type, filename='file')")]
            fn upload_media<'py>(
                &self,
                py: Python<'py>,
                data: &Bound<'py, PyAny>,
                #[pyo3(from_py_with = crate::convert::args::mime_type)] mime_type: String,
                #[pyo3(from_py_with = crate::convert::args::filename)] filename: String,
            ) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let data = upload_bytes(data)?;
                    let c = self.core.client()?;
                    self.core.run(py, async move {
                        c.media().upload(data, &mime_type, &filename).await
                    })
                })
            }

            /// Look up a media id: URL, MIME type, SHA-256, size.
            fn media_info<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::media_id)] media_id: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move {
                        c.media().info(&media_id).await.map(PyMediaInfo::from)
                    })
                })
            }

            /// Download a media file by id (look-up, then download through 360dialog).
            fn download_media<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::media_id)] media_id: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.media().download(&media_id).await.map(BytesOut) })
                })
            }

            /// Download a media URL from `media_info` (the 360dialog host rule applied).
            fn download_media_url<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::url)] url: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.media().download_url(&url).await.map(BytesOut) })
                })
            }

            /// Delete an uploaded media file.
            fn delete_media<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::media_id)] media_id: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.media().delete(&media_id).await.map(|()| NoneOut) })
                })
            }

            /// Register the webhook URL (phone-number level, or WABA level with
            /// `waba=True`) with optional custom headers sent on every delivery.
            #[pyo3(signature = (url, *, headers = None, waba = false))]
            fn set_webhook<'py>(
                &self,
                py: Python<'py>,
                #[pyo3(from_py_with = crate::convert::args::url)] url: String,
                #[pyo3(from_py_with = crate::convert::args::headers)] headers: Option<BTreeMap<String, String>>,
                waba: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let settings = settings_from(url, headers);
                    settings.validate().py_err()?;
                    self.core.run(py, async move {
                        let w = c.webhooks();
                        let r = if waba { w.set_waba(&settings).await } else { w.set_phone(&settings).await };
                        r.map(JsonOut)
                    })
                })
            }

            /// The registered webhook (`None` when none is set).
            #[pyo3(signature = (*, waba = false))]
            fn get_webhook<'py>(&self, py: Python<'py>, waba: bool) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move {
                        let w = c.webhooks();
                        let r = if waba { w.get_waba().await } else { w.get_phone().await };
                        r.map(|o| o.map(|s| PyWebhookSettings { inner: s }))
                    })
                })
            }
        }
    };
}

client_class!(
    PyClient,
    "Client",
    false,
    "Synchronous client: each call blocks (with the GIL released) until the answer."
);
client_class!(
    PyAsyncClient,
    "AsyncClient",
    true,
    "asyncio client: each call returns an awaitable; all clients share one runtime."
);
