//! The single request path: every HTTP call of wa360 goes through one private `execute` function.
//!
//! It adds `D360-API-KEY` (marked sensitive, so reqwest never prints it), the user agent
//! and the JSON / multipart body; sends; reads the body; turns non-2xx answers into
//! [`Error`]s; and repeats failed attempts only as [`crate::retry`] allows.
//!
//! # Error bodies (docs/360dialog-api.md §5.3)
//!
//! [`parse_error_body`] reads the three documented shapes:
//! 1. a Meta Graph error `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id","is_transient"}}`;
//! 2. a 360dialog gateway error `{"meta":{"developer_message","360dialog_trace_id",…}}`, whose
//!    `developer_message` may embed a Meta error as JSON text (pulled out and read as shape 1);
//! 3. a simple error `{"error":"<string>"}`.
//!
//! Anything else (HTML from a proxy, an empty body) is unparseable: the status and at most
//! the first 1 KB of the body are kept (never headers). The class ([`ErrorCode`]) comes from
//! Meta's numeric `code` ([`crate::retry::classify_api_code`]), else from 360dialog's text
//! ("endpoint rate limit", "has been disabled", "lack of payment"), else from the status.
//!
//! # Redirects
//!
//! Redirects are followed only within the origin (scheme, host, port) of the configured
//! base URL, at most 5 times; a redirect anywhere else fails, so the API key never leaves
//! the configured host.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tracing::Instrument;

use crate::config::Config;
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::metrics::{ClientMetrics, RetryReason};
use crate::retry::{self, Failure, RetryClass, Verdict};

/// Name of the authentication header (docs/360dialog-api.md §1.2).
pub const API_KEY_HEADER: &str = "D360-API-KEY";

/// At most this many bytes of an unparseable body are kept in an error.
pub const MAX_BODY_SNIPPET: usize = 1024;

/// At most this many bytes of an error answer are read.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// Largest successful API answer (JSON) read: a template list page of 1000
/// templates is a few MB. A larger answer is `invalid_response`, never buffered.
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// Largest media download read: WhatsApp's largest media (a document) is
/// 100 MB (docs/360dialog-api.md), as is `media::MAX_UPLOAD_BYTES` (not named
/// here: `media` uses this module). A larger answer is `invalid_response`
/// before more than this is held in memory.
pub const MAX_DOWNLOAD_BODY: usize = 100 * 1024 * 1024;

/// The slowest transfer rate a media transfer is given time for, in bytes per second: an
/// upload of `n` bytes may take the client's timeout plus `n / TRANSFER_FLOOR_BYTES_PER_S`
/// seconds, a download the timeout plus that for [`MAX_DOWNLOAD_BODY`] (its size is not
/// known when it starts). Without this the timeout, meant for API calls, bounded a whole
/// 100 MB transfer (3.3 MB/s at the default 30 s). A download is also given up when no
/// byte of it arrives for the timeout (docs/reliability.md, "Timeouts").
pub const TRANSFER_FLOOR_BYTES_PER_S: u64 = 64 * 1024;

/// The extra time a media transfer of `bytes` bytes is given (see [`TRANSFER_FLOOR_BYTES_PER_S`]).
fn transfer_allowance(bytes: u64) -> Duration {
    Duration::from_secs(bytes.div_ceil(TRANSFER_FLOOR_BYTES_PER_S))
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// No body.
    Empty,
    /// A JSON document (already serialised).
    Json(Bytes),
    /// A JSON document that carries secrets of its own (webhook header values). Like the
    /// API key, each of `secrets` is removed from every error and log line of the request:
    /// a server may echo the body it refused.
    SecretJson { bytes: Bytes, secrets: Vec<String> },
    /// No body, and an answer that carries secrets of its own (the webhook settings read
    /// back, with their header values: Basic credentials, shared tokens). Their values are
    /// not known before the answer, so the answer is never quoted in an error or a log
    /// line: a cut-short 200 or an error page echoing the settings showed them.
    EmptySecretAnswer,
    /// Raw bytes of a resumable upload (`application/octet-stream`, header `file_offset`).
    Binary { bytes: Bytes, offset: u64 },
    /// A media upload: `messaging_product=whatsapp`, `type=<mime>`, `file` part.
    Upload {
        bytes: Bytes,
        mime: String,
        filename: String,
    },
}

impl Body {
    /// Whether an error may quote the answer to a request with this body (with the
    /// secrets removed): all but [`Body::EmptySecretAnswer`].
    fn answer_quoted(&self) -> bool {
        !matches!(self, Body::EmptySecretAnswer)
    }
}

/// The media types a request accepts in its answer: the `Accept` header, chosen by the
/// caller (the transport does not guess it from the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// `application/json`: every API call.
    Json,
    /// `*/*`: a media download (any file type).
    Any,
}

impl Accept {
    fn header(self) -> &'static str {
        match self {
            Accept::Json => "application/json",
            Accept::Any => "*/*",
        }
    }

    /// The largest successful answer read for this kind of request.
    fn max_body(self) -> usize {
        match self {
            Accept::Json => MAX_JSON_BODY,
            Accept::Any => MAX_DOWNLOAD_BODY,
        }
    }
}

/// The governor pacing one request's attempts.
pub(crate) struct Gate<'a> {
    pub governor: &'a crate::governor::Governor,
    pub recipient: Option<&'a str>,
    /// The longest wait for the governor's slots.
    pub max_wait: Duration,
    /// `max_wait` is the caller's deadline for the whole send (`send_within`, a
    /// broadcast): a pause between attempts that would end past it is not taken. A plain
    /// send waits for its retries as an ungoverned one does.
    pub deadline: bool,
    /// Asked once each slot is granted, just before the request: `false` withdraws the
    /// send (a broadcast paused or stopped while the send waited for its slot).
    pub go: Option<&'a (dyn Fn() -> bool + Send + Sync)>,
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// The HTTP machinery of one client: one reqwest connection pool, the checked config.
pub(crate) struct Transport {
    http: reqwest::Client,
    config: Config,
    key: HeaderValue,
    origin: url::Origin,
    /// `url_for("/messages")` and its parse, made once: every send used to parse the same
    /// text twice (for the log path and in reqwest), a few per cent of a Node client's CPU
    /// per message (docs/performance.md, client section). Used only when a request's URL
    /// is exactly this text, so the result is the parse of the same input as before.
    messages_url: Option<(String, url::Url)>,
    /// Process-unique number of the client, the `client` field of every log event.
    id: u64,
    metrics: Arc<ClientMetrics>,
}

static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: Config) -> Result<Self> {
        let mut key = HeaderValue::from_str(config.api_key().expose()).map_err(|_| {
            Error::Configuration(
                "the API key contains characters not allowed in an HTTP header".into(),
            )
        })?;
        key.set_sensitive(true);
        let base = url::Url::parse(config.base_url())
            .map_err(|e| Error::Configuration(format!("base URL is not a valid URL: {e}")))?;
        let origin = base.origin();
        let messages_text = format!("{}/messages", config.base_url());
        let messages_url = url::Url::parse(&messages_text)
            .ok()
            .map(|u| (messages_text, u));
        let redirect_origin = origin.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if attempt.url().origin() == redirect_origin {
                attempt.follow()
            } else {
                attempt.error("redirect to a host other than the configured base URL refused")
            }
        });
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout())
            .timeout(config.timeout())
            .user_agent(config.user_agent())
            .redirect(policy)
            // Drop idle connections before common server keep-alive limits (60 s) do:
            // a send on a connection the server is closing would be `outcome_unknown`.
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| Error::Configuration(format!("HTTP client: {}", describe(&e))))?;
        Ok(Transport {
            http,
            config,
            key,
            origin,
            messages_url,
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            metrics: Arc::default(),
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn metrics(&self) -> &ClientMetrics {
        &self.metrics
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The path of `url` for logs and metrics, from the cached parse when it is the
    /// `/messages` URL.
    fn log_path_of(&self, url: &str) -> String {
        match self.known_url(url) {
            Some(u) => u.path().to_string(),
            None => log_path(url),
        }
    }

    /// The parse of `url` when it is the cached `/messages` URL.
    fn known_url(&self, url: &str) -> Option<&url::Url> {
        match &self.messages_url {
            Some((text, parsed)) if text == url => Some(parsed),
            _ => None,
        }
    }

    /// Absolute URL for a path under the base URL (`path` starts with `/`).
    pub(crate) fn url_for(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.config.base_url(), path)
        } else {
            format!("{}/{}", self.config.base_url(), path)
        }
    }

    /// True when `url` has the scheme, host and port of the base URL.
    pub(crate) fn is_base_origin(&self, url: &url::Url) -> bool {
        url.origin() == self.origin
    }

    /// The generic JSON request path: `path` is relative to the base URL (e.g.
    /// `/v1/configs/webhook`), `body` is sent as JSON, `retry` picks the rules of
    /// docs/reliability.md. A 2xx with an empty body gives `Value::Null`.
    pub(crate) async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: RetryClass,
    ) -> Result<Value> {
        self.request_json_with_secrets(method, path, body, Vec::new(), retry)
            .await
    }

    /// [`Self::request_json`] for a body that carries `secrets` (webhook header values):
    /// they are removed from the request's errors and logs like the API key.
    pub(crate) async fn request_json_with_secrets(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        secrets: Vec<String>,
        retry: RetryClass,
    ) -> Result<Value> {
        let body = match body {
            Some(v) => {
                let bytes = serde_json::to_vec(v).map_err(json_err)?.into();
                if secrets.is_empty() {
                    Body::Json(bytes)
                } else {
                    Body::SecretJson { bytes, secrets }
                }
            }
            None => Body::Empty,
        };
        self.request_body_json(method, path, body, retry).await
    }

    /// [`Self::request_json`] without a body, for an answer that carries secrets (see
    /// [`Body::EmptySecretAnswer`]): never quoted in its errors and logs.
    pub(crate) async fn request_json_secret_answer(
        &self,
        method: Method,
        path: &str,
        retry: RetryClass,
    ) -> Result<Value> {
        self.request_body_json(method, path, Body::EmptySecretAnswer, retry)
            .await
    }

    async fn request_body_json(
        &self,
        method: Method,
        path: &str,
        body: Body,
        retry: RetryClass,
    ) -> Result<Value> {
        if !path.starts_with('/') || path.contains("://") {
            return Err(Error::invalid(
                "path",
                "must be a path under the base URL starting with `/`",
            ));
        }
        let url = self.url_for(path);
        let resp = self
            .execute(method, &url, &body, retry, Accept::Json)
            .await?;
        self.decode_json_redacting(&resp, retry, &body)
    }

    /// Send a request, repeating failed attempts as `class` allows.
    ///
    /// Logs (target `wa360::transport`): one INFO line per request (WARN when the outcome
    /// needs the user's attention, see [`needs_attention`]), a DEBUG line per failed attempt
    /// and per retry decision; counts the outcome and retries in the client's metrics.
    pub(crate) async fn execute(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        class: RetryClass,
        accept: Accept,
    ) -> Result<Response> {
        self.execute_gated(method, url, body, class, accept, None)
            .await
    }

    /// [`Self::execute`] with every attempt paced by a governor: the attempt waits for a
    /// slot (up to the gate's deadline, counted from the first attempt) and the governor
    /// learns from each answer.
    pub(crate) async fn execute_gated(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        class: RetryClass,
        accept: Accept,
        gate: Option<Gate<'_>>,
    ) -> Result<Response> {
        // One span per request (DEBUG, so INFO logs stay one flat line): its events nest
        // under it, which is what span-based exporters such as tracing-opentelemetry need.
        let path = self.log_path_of(url);
        let span =
            tracing::debug_span!("wa360.request", client = self.id, method = %method, path = %path);
        self.execute_in_span(method, url, body, class, accept, path, gate)
            .instrument(span)
            .await
    }

    // The path is worked out once by the caller, for its span and for this
    // function's logs and metrics; grouping the arguments into a struct only
    // for the lint would add a type used in one call.
    #[allow(clippy::too_many_arguments)]
    async fn execute_in_span(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        class: RetryClass,
        accept: Accept,
        path: String,
        gate: Option<Gate<'_>>,
    ) -> Result<Response> {
        let policy = *self.config.retry_policy();
        // From the first attempt: the wait for a governor slot is pacing, not the API's
        // latency (a paced broadcast would otherwise fill the latency histogram with seconds).
        let mut started: Option<Instant> = None;
        let mut retries = 0u32;
        let deadline = gate.as_ref().map(|g| Instant::now() + g.max_wait);
        let pause_deadline = deadline.filter(|_| gate.as_ref().is_some_and(|g| g.deadline));
        // A resource's DELETE whose earlier attempt may have been carried out (no answer, or
        // a 5xx): a 404 on the retry means the first one deleted it (`DeleteResource`).
        let mut maybe_deleted = false;
        let result = loop {
            let mut slot = crate::governor::Slot::default();
            if let (Some(g), Some(d)) = (&gate, deadline) {
                let left = d.saturating_duration_since(Instant::now());
                match g.governor.acquire(g.recipient, left, g.go).await {
                    Ok(s) => slot = s,
                    Err(e) => break Err(e),
                }
                if let Some(go) = g.go
                    && !go()
                {
                    g.governor.not_sent(g.recipient, &slot).await;
                    break Err(crate::governor::withdrawn());
                }
            }
            let attempt_started = Instant::now();
            started.get_or_insert(attempt_started);
            let (failure, error) =
                match self.attempt(method.clone(), url, body, class, accept).await {
                    Ok(resp) => {
                        if let Some(g) = &gate {
                            g.governor.observe(g.recipient, &slot, Ok(())).await;
                        }
                        break self.readable(resp, class, accept, body, &method, &path);
                    }
                    Err((failure, mut error)) => {
                        if let Some(g) = &gate {
                            if matches!(failure, Failure::NotSent) {
                                g.governor.not_sent(g.recipient, &slot).await;
                            } else {
                                g.governor
                                    .observe(g.recipient, &slot, Err(&mut error))
                                    .await;
                            }
                        }
                        (failure, error)
                    }
                };
            if class == RetryClass::DeleteResource
                && maybe_deleted
                && matches!(failure, Failure::Answered { status: 404, .. })
            {
                tracing::info!(
                    client = self.id,
                    method = %method,
                    path = %path,
                    attempt = retries + 1,
                    "already deleted: an earlier attempt without an answer deleted it"
                );
                // No server answer says "deleted" here: this is the answer a DELETE gives
                // (`{"success": true}`), written for the caller's usual reading.
                break Ok(Response {
                    status: 200,
                    body: Bytes::from_static(br#"{"success":true}"#),
                });
            }
            maybe_deleted |= matches!(
                failure,
                Failure::TimedOut | Failure::Interrupted | Failure::UnreadableSuccess
            ) || matches!(failure, Failure::Answered { status, .. } if status >= 500);
            tracing::debug!(
                client = self.id,
                method = %method,
                path = %path,
                attempt = retries + 1,
                status = error.status(),
                code = %error.code(),
                api_code = error.api_code(),
                latency_ms = millis(attempt_started.elapsed()),
                "attempt failed"
            );
            let verdict = retry::classify(class, &failure);
            if !retry::should_retry(&policy, verdict, retries) {
                tracing::debug!(
                    client = self.id,
                    attempt = retries + 1,
                    reason = stop_reason(class, &failure, verdict),
                    "not retried"
                );
                break Err(error);
            }
            // Honour the server's Retry-After on every kind of retry it came with.
            let retry_after = match (&verdict, &failure) {
                (retry::Verdict::Retry { retry_after }, _) => *retry_after,
                (_, Failure::Answered { retry_after, .. }) => *retry_after,
                _ => None,
            };
            let pause = retry::delay(&policy, retries, retry_after, fastrand::f64());
            // A gated send keeps to its caller's deadline: a pause that would end past it
            // is not taken; the error goes back with the pause as its `retry_after`.
            if let Some(d) = pause_deadline
                && Instant::now() + pause > d
            {
                tracing::debug!(
                    client = self.id,
                    attempt = retries + 1,
                    delay_ms = millis(pause),
                    "not retried: the pause would pass the caller's deadline"
                );
                let mut error = error;
                if let Error::Api { error: api, .. } = &mut error
                    && api.retry_after.is_none_or(|r| r < pause)
                {
                    api.retry_after = Some(pause);
                }
                break Err(error);
            }
            let reason = retry_reason(&failure, verdict);
            self.metrics.retry(reason);
            tracing::debug!(
                client = self.id,
                attempt = retries + 1,
                reason = reason.as_str(),
                delay_ms = millis(pause),
                retry_after_ms = retry_after.map(millis),
                "retrying"
            );
            tokio::time::sleep(pause).await;
            retries += 1;
        };
        match (started, &result) {
            (Some(t), _) => self.observe(&method, &path, t.elapsed(), retries + 1, &result),
            // Never attempted: the governor held it back (no slot in time, its store out of
            // reach, or a paused or stopped run withdrew it). No HTTP request was made: it is
            // counted apart (`held_back`, never the API's `rate_limited`), without a latency,
            // and logged at INFO, not WARN per send (the governor warns about its store once
            // a minute, a broadcast about a hold once per spell).
            (None, Err(e)) => {
                self.metrics.request_done("held_back");
                tracing::info!(
                    client = self.id,
                    method = %method,
                    path = %path,
                    code = %e.code(),
                    error = %e,
                    "not sent: held back by the governor"
                )
            }
            (None, Ok(_)) => {}
        }
        result
    }

    /// A 2xx JSON answer that is not JSON is the request's failure (`outcome_unknown` for a
    /// send, else `invalid_response`), counted and logged as such; before, it was counted
    /// `ok` and the caller's decoding failed afterwards. Its text is quoted with the key and
    /// the body's secrets removed. So is a `POST /messages` answer that is neither a send's
    /// (`messages[0].id`) nor `{"success": true}` (mark read, typing): an empty body from a
    /// proxy, `null`, `{}`.
    fn readable(
        &self,
        resp: Response,
        class: RetryClass,
        accept: Accept,
        body: &Body,
        method: &Method,
        path: &str,
    ) -> Result<Response> {
        if accept != Accept::Json {
            return Ok(resp);
        }
        let blank = resp.body.iter().all(u8::is_ascii_whitespace);
        let json = || serde_json::from_slice::<serde::de::IgnoredAny>(&resp.body).is_ok();
        if *method == Method::POST && path.ends_with("/messages") {
            if is_messages_answer(&resp.body) {
                return Ok(resp);
            }
            if blank || json() {
                return Err(unreadable_success(
                    resp.status,
                    "2xx answer is neither a send's answer (messages[0].id) nor \
                     {\"success\": true}"
                        .into(),
                    class,
                ));
            }
        } else if blank || json() {
            return Ok(resp);
        }
        Err(self
            .decode_json_redacting(&resp, class, body)
            .err()
            .unwrap_or_else(|| {
                unreadable_success(resp.status, "2xx answer is not JSON".into(), class)
            }))
    }

    /// The one INFO/WARN line and the metrics of a finished request.
    fn observe(
        &self,
        method: &Method,
        path: &str,
        elapsed: Duration,
        attempts: u32,
        result: &Result<Response>,
    ) {
        let is_send = *method == Method::POST && path.ends_with("/messages");
        if is_send {
            self.metrics.send_latency(elapsed);
        }
        let latency_ms = millis(elapsed);
        match result {
            Ok(resp) => {
                self.metrics.request_done("ok");
                if tracing::enabled!(tracing::Level::INFO) {
                    let wamid = if is_send {
                        first_message_id(&resp.body)
                    } else {
                        None
                    };
                    tracing::info!(
                        client = self.id,
                        method = %method,
                        path = %path,
                        status = resp.status,
                        attempts,
                        latency_ms,
                        wamid = wamid.as_deref(),
                        "request ok"
                    );
                }
            }
            Err(e) => {
                let code = e.code();
                self.metrics.request_done(code.as_str());
                macro_rules! failed {
                    ($lvl:ident) => {
                        tracing::$lvl!(
                            client = self.id,
                            method = %method,
                            path = %path,
                            status = e.status(),
                            attempts,
                            latency_ms,
                            code = %code,
                            api_code = e.api_code(),
                            error = %e,
                            "request failed"
                        )
                    };
                }
                if needs_attention(code) {
                    failed!(warn);
                } else {
                    failed!(info);
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        class: RetryClass,
        accept: Accept,
    ) -> std::result::Result<Response, (Failure, Error)> {
        let req = match self.known_url(url) {
            Some(u) => self.http.request(method, u.clone()),
            None => self.http.request(method, url),
        };
        let mut req = req
            .header(API_KEY_HEADER, self.key.clone())
            .header(header::ACCEPT, accept.header());
        req = match body {
            Body::Empty | Body::EmptySecretAnswer => req,
            Body::Json(bytes) | Body::SecretJson { bytes, .. } => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::Binary { bytes, offset } => req
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header("file_offset", offset.to_string())
                .body(bytes.clone()),
            Body::Upload {
                bytes,
                mime,
                filename,
            } => {
                let part =
                    reqwest::multipart::Part::stream_with_length(bytes.clone(), bytes.len() as u64)
                        .file_name(filename.clone())
                        .mime_str(mime)
                        .map_err(|_| {
                            let e = Error::invalid(
                                "mime_type",
                                "must be a valid MIME type, e.g. image/jpeg",
                            );
                            (
                                Failure::Answered {
                                    status: 0,
                                    code: ErrorCode::InvalidArgument,
                                    api_code: None,
                                    meta_body: false,
                                    retry_after: None,
                                },
                                e,
                            )
                        })?;
                let form = reqwest::multipart::Form::new()
                    .text("messaging_product", "whatsapp")
                    .text("type", mime.clone())
                    .part("file", part);
                req.multipart(form)
            }
        };
        let timeout = self.config.timeout();
        let upload = match body {
            Body::Binary { bytes, .. } | Body::Upload { bytes, .. } => Some(bytes.len() as u64),
            Body::Empty | Body::EmptySecretAnswer | Body::Json(_) | Body::SecretJson { .. } => None,
        };
        let download = accept == Accept::Any;
        if let Some(n) = upload {
            req = req.timeout(timeout + transfer_allowance(n));
        } else if download {
            req = req.timeout(timeout + transfer_allowance(MAX_DOWNLOAD_BODY as u64));
        }
        let secrets = self.secrets(body);
        let quote = body.answer_quoted();
        // A download's answer must still begin within the timeout (its body is then read
        // with a deadline per chunk, below); reqwest's own deadline now covers the whole.
        let sent = if download {
            match tokio::time::timeout(timeout, req.send()).await {
                Ok(sent) => sent,
                Err(_) => {
                    return Err((
                        Failure::TimedOut,
                        Error::Timeout(format!(
                            "no answer within the timeout of {} ms",
                            millis(timeout)
                        )),
                    ));
                }
            }
        } else {
            req.send().await
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.network_error(&e, class, &secrets)),
        };
        let status = resp.status();
        let retry_after = retry_after_header(resp.headers());
        let fb_trace = resp
            .headers()
            .get("x-fb-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // A download's body, error or not, is read with a deadline per chunk.
        let idle = download.then_some(timeout);
        let answered = |body: &[u8]| {
            let seen = Seen {
                secrets: &secrets,
                quote,
            };
            self.answered_error(status, body, retry_after, fb_trace.clone(), class, seen)
        };
        if !status.is_success() {
            // Error bodies are small; read at most MAX_ERROR_BODY so a hostile or broken
            // upstream cannot make us buffer without limit. A broken read keeps what came.
            let mut resp = resp;
            let mut body = Vec::new();
            while let Ok(Some(chunk)) = next_chunk(&mut resp, idle).await {
                let room = MAX_ERROR_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_ERROR_BODY {
                    break;
                }
            }
            return Err(answered(&body));
        }
        let limit = accept.max_body();
        let too_large = |what: String| {
            let reason = format!("2xx answer of {what}, over the limit of {limit} bytes");
            Err((
                Failure::UnreadableSuccess,
                unreadable_success(status.as_u16(), reason, class),
            ))
        };
        if let Some(n) = resp.content_length()
            && n > limit as u64
        {
            return too_large(format!("{n} bytes"));
        }
        match read_limited(resp, limit, idle).await {
            Ok(Some(body)) => Ok(Response {
                status: status.as_u16(),
                body,
            }),
            Ok(None) => too_large("more bytes than that".into()),
            // Only a download reads with `idle`, and a download may be repeated.
            Err(ReadError::Stalled) => Err((
                Failure::TimedOut,
                Error::Timeout(format!(
                    "no bytes of the answer arrived for {} ms",
                    millis(timeout)
                )),
            )),
            // A request that may be repeated (a download, a look-up) whose answer broke off
            // or timed out while its body was read: a timeout or a broken connection, and
            // retried as one. A send was answered 2xx, so its outcome stays unknown below.
            Err(ReadError::Http(e)) if class != RetryClass::Send => {
                let detail = redact(&describe(&e), &secrets);
                Err(if e.is_timeout() {
                    (
                        Failure::TimedOut,
                        Error::Timeout(format!("timed out reading the answer: {detail}")),
                    )
                } else {
                    (
                        Failure::Interrupted,
                        Error::Connection(format!("the answer broke off: {detail}")),
                    )
                })
            }
            Err(ReadError::Http(e)) => {
                let reason = format!("2xx answer whose body could not be read: {}", describe(&e));
                Err((
                    Failure::UnreadableSuccess,
                    unreadable_success(status.as_u16(), reason, class),
                ))
            }
        }
    }

    fn network_error(
        &self,
        e: &reqwest::Error,
        class: RetryClass,
        secrets: &[&str],
    ) -> (Failure, Error) {
        let detail = redact(&describe(e), secrets);
        if e.is_connect() {
            return (Failure::NotSent, Error::Connection(detail));
        }
        if e.is_redirect() || e.is_builder() {
            // Refused before anything (more) was sent.
            return (
                Failure::Answered {
                    status: 0,
                    code: ErrorCode::Connection,
                    api_code: None,
                    meta_body: false,
                    retry_after: None,
                },
                Error::Connection(detail),
            );
        }
        if e.is_timeout() {
            let error = match class {
                RetryClass::Send => Error::OutcomeUnknown {
                    reason: format!("timed out after the request was sent: {detail}"),
                    status: None,
                },
                _ => Error::Timeout(detail),
            };
            return (Failure::TimedOut, error);
        }
        let error = match class {
            RetryClass::Send => Error::OutcomeUnknown {
                reason: format!("connection broke after the request was sent: {detail}"),
                status: None,
            },
            _ => Error::Connection(detail),
        };
        (Failure::Interrupted, error)
    }

    fn answered_error(
        &self,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
        fb_trace: Option<String>,
        class: RetryClass,
        seen: Seen<'_>,
    ) -> (Failure, Error) {
        let secrets = seen.secrets;
        // The body is read as the server sent it, and the secrets removed from each text
        // it gave: removing them from the raw bytes first could break the JSON itself (a
        // short secret inside a key or a number) and lose the error's code. A body that is
        // not one of the known shapes is quoted, and then the secrets are removed before
        // the quote is cut: a key across the cut would otherwise leave its first part.
        let mut parsed = parse_error_body(status.as_u16(), body);
        if !seen.quote {
            // No text of the answer at all, even in a known shape (its message or details
            // could echo the settings); its code, classification and ids stay.
            let what = if parsed.parsed {
                format!("HTTP {} with an error body", status.as_u16())
            } else {
                format!("HTTP {} with an unparseable body", status.as_u16())
            };
            parsed.error.message = not_quoted(&what, body);
            parsed.error.details = None;
        } else if !parsed.parsed {
            parsed = parse_error_body(status.as_u16(), &redact_bytes(body, secrets));
        }
        let mut api = parsed.error;
        if api.fbtrace_id.is_none() {
            api.fbtrace_id = fb_trace;
        }
        // Every text the server chose, the trace header included, after it is merged.
        redact_api_error(&mut api, secrets);
        if !seen.quote {
            // The answer's secrets are not known: of its other texts, only the ones shaped
            // like an identifier stay (an error type, a trace id).
            for field in [&mut api.error_type, &mut api.fbtrace_id, &mut api.trace_id] {
                if field.as_deref().is_some_and(|t| !token_like(t)) {
                    *field = None;
                }
            }
        }
        if retry_after.is_some() {
            api.retry_after = retry_after;
        }
        let failure = Failure::Answered {
            status: api.status,
            code: parsed.code,
            api_code: api.api_code,
            meta_body: parsed.meta_body,
            retry_after: api.retry_after,
        };
        let error = if status.is_server_error() && !parsed.meta_body {
            match class {
                RetryClass::Send => Error::OutcomeUnknown {
                    reason: format!(
                        "{} (no Meta error body: the message may or may not have been processed)",
                        api.message
                    ),
                    status: Some(api.status),
                },
                _ => Error::Api {
                    code: if parsed.code == ErrorCode::ApiError {
                        ErrorCode::Transient
                    } else {
                        parsed.code
                    },
                    error: Box::new(api),
                },
            }
        } else {
            Error::Api {
                code: parsed.code,
                error: Box::new(api),
            }
        };
        (failure, error)
    }

    /// What must never appear in an error or a log line of a request with `body`: the API
    /// key and the body's own secrets, longest first (so a value is removed whole before a
    /// part of it is looked for).
    fn secrets<'a>(&'a self, body: &'a Body) -> Vec<&'a str> {
        let mut all = vec![self.config.api_key().expose()];
        if let Body::SecretJson { secrets, .. } = body {
            all.extend(secrets.iter().map(String::as_str));
        }
        all.retain(|s| !s.is_empty());
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all
    }

    /// Decode a 2xx JSON body; an empty body is `null`. Failure is `outcome_unknown` for
    /// sends and `invalid_response` otherwise, quoting the start of the body with the key
    /// removed (before the cut).
    pub(crate) fn decode_json(&self, resp: &Response, class: RetryClass) -> Result<Value> {
        self.decode_json_redacting(resp, class, &Body::Empty)
    }

    /// [`Self::decode_json`] for the answer to a request with `body`: its secrets removed
    /// from the quote, or no quote at all ([`Body::EmptySecretAnswer`]).
    fn decode_json_redacting(
        &self,
        resp: &Response,
        class: RetryClass,
        body: &Body,
    ) -> Result<Value> {
        if resp.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&resp.body).map_err(|e| {
            let what = if !body.answer_quoted() {
                not_quoted(&format!("2xx answer is not JSON ({e})"), &resp.body)
            } else {
                let quoted = redact_bytes(&resp.body, &self.secrets(body));
                format!("2xx answer is not JSON ({e}): {}", body_snippet(&quoted))
            };
            let e = unreadable_success(resp.status, what, class);
            tracing::debug!(status = resp.status, code = %e.code(), error = %e, "answer unreadable");
            e
        })
    }
}

/// Whether a `POST /messages` answer is a send's (`messages[0].id`, a string) or
/// `{"success": true}` (mark read, typing).
fn is_messages_answer(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Id {
        #[allow(dead_code)]
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        messages: Option<Vec<Id>>,
        #[serde(default)]
        success: Option<bool>,
    }
    serde_json::from_slice::<Answer>(body)
        .is_ok_and(|a| a.success == Some(true) || a.messages.is_some_and(|m| !m.is_empty()))
}

/// What an error of one request may show of its answer: nothing of `secrets`, and the
/// answer itself only if `quote` (see [`Body::EmptySecretAnswer`]).
#[derive(Clone, Copy)]
struct Seen<'a> {
    secrets: &'a [&'a str],
    quote: bool,
}

/// A short identifier (letters, digits, `_`, `-`, `.`), as error types and trace ids are.
fn token_like(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `what`, saying that the answer of `len` bytes is left out because it carries secrets.
fn not_quoted(what: &str, answer: &[u8]) -> String {
    format!(
        "{what} ({} bytes, not quoted: it carries the webhook's header secrets)",
        answer.len()
    )
}

/// `text` with every occurrence of each secret replaced by `***` (a server that echoes
/// the key or a body it refused).
fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s) {
            out = out.replace(s, "***");
        }
    }
    out
}

/// `body` with every occurrence of each secret replaced by `***` (borrowed when there is
/// none).
fn redact_bytes<'b>(body: &'b [u8], secrets: &[&str]) -> std::borrow::Cow<'b, [u8]> {
    let mut out = std::borrow::Cow::Borrowed(body);
    for secret in secrets {
        let key = secret.as_bytes();
        if !out.windows(key.len()).any(|w| w == key) {
            continue;
        }
        let mut next = Vec::with_capacity(out.len());
        let mut rest: &[u8] = &out;
        while let Some(at) = rest.windows(key.len()).position(|w| w == key) {
            next.extend_from_slice(&rest[..at]);
            next.extend_from_slice(b"***");
            rest = &rest[at + key.len()..];
        }
        next.extend_from_slice(rest);
        out = std::borrow::Cow::Owned(next);
    }
    out
}

/// Every text field of a server's error with the secrets removed.
fn redact_api_error(api: &mut ApiError, secrets: &[&str]) {
    api.message = redact(&api.message, secrets);
    for field in [
        &mut api.details,
        &mut api.error_type,
        &mut api.fbtrace_id,
        &mut api.trace_id,
    ] {
        if let Some(text) = field.take() {
            *field = Some(redact(&text, secrets));
        }
    }
}

/// Outcomes logged at WARN: the user has to do something (fix the key or account, slow
/// down, reconcile a send whose outcome is unknown). Everything else is INFO.
pub fn needs_attention(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Configuration
            | ErrorCode::Authentication
            | ErrorCode::Permission
            | ErrorCode::RateLimited
            | ErrorCode::Template
            | ErrorCode::Flow
            | ErrorCode::Policy
            | ErrorCode::Payment
            | ErrorCode::Account
            | ErrorCode::OutcomeUnknown
            | ErrorCode::InvalidResponse
            | ErrorCode::Internal
    )
}

/// Why a repeated attempt is repeated (the `reason` of logs and the `retries` counter).
fn retry_reason(failure: &Failure, verdict: Verdict) -> RetryReason {
    match failure {
        Failure::NotSent => RetryReason::NotSent,
        Failure::TimedOut => RetryReason::Timeout,
        Failure::Interrupted | Failure::UnreadableSuccess => RetryReason::Interrupted,
        Failure::Answered { code, .. } => match verdict {
            Verdict::RetryBounded => RetryReason::Transient,
            _ if *code == ErrorCode::RateLimited => RetryReason::RateLimited,
            _ => RetryReason::ServerError,
        },
    }
}

/// Why a failed attempt is not repeated (the `reason` of the "not retried" log line).
fn stop_reason(class: RetryClass, failure: &Failure, verdict: Verdict) -> &'static str {
    match (verdict, failure) {
        (Verdict::Retry { .. } | Verdict::RetryBounded, _) => "retries_exhausted",
        (Verdict::Stop, Failure::TimedOut | Failure::Interrupted) if class == RetryClass::Send => {
            "may_have_been_sent"
        }
        (
            Verdict::Stop,
            Failure::Answered {
                status, meta_body, ..
            },
        ) if class == RetryClass::Send && *status >= 500 && !meta_body => "may_have_been_sent",
        (Verdict::Stop, _) if class == RetryClass::NoRetry => "no_retry_class",
        (Verdict::Stop, Failure::UnreadableSuccess) => "answered",
        (Verdict::Stop, _) => "not_retryable",
    }
}

/// Why an answer's body could not be read.
enum ReadError {
    Http(reqwest::Error),
    /// No byte arrived for the idle deadline.
    Stalled,
}

impl From<reqwest::Error> for ReadError {
    fn from(e: reqwest::Error) -> Self {
        ReadError::Http(e)
    }
}

/// The next chunk of `resp`'s body, waiting at most `idle` for it when given.
async fn next_chunk(
    resp: &mut reqwest::Response,
    idle: Option<Duration>,
) -> std::result::Result<Option<Bytes>, ReadError> {
    match idle {
        None => Ok(resp.chunk().await?),
        Some(d) => match tokio::time::timeout(d, resp.chunk()).await {
            Ok(chunk) => Ok(chunk?),
            Err(_) => Err(ReadError::Stalled),
        },
    }
}

/// The whole body of `resp` when it has at most `limit` bytes, `None` as soon as
/// it has more (what was read is dropped). A body of one chunk, which most
/// answers are, is returned as it came, without a copy. With `idle`, each wait for
/// more bytes is bounded by it.
async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
    idle: Option<Duration>,
) -> std::result::Result<Option<Bytes>, ReadError> {
    let Some(first) = next_chunk(&mut resp, idle).await? else {
        return Ok(Some(Bytes::new()));
    };
    if first.len() > limit {
        return Ok(None);
    }
    // The declared length (within the limit) sizes the buffer once: growing it by doubling
    // held up to twice a large download, plus the copies made while growing.
    let declared = resp
        .content_length()
        .map_or(0, |n| n.min(limit as u64) as usize);
    let Some(second) = next_chunk(&mut resp, idle).await? else {
        return Ok(Some(first));
    };
    let mut body = bytes::BytesMut::with_capacity(declared.max(first.len() + second.len()));
    body.extend_from_slice(&first);
    let mut next = Some(second);
    while let Some(chunk) = next {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
        next = next_chunk(&mut resp, idle).await?;
    }
    Ok(Some(body.freeze()))
}

/// Milliseconds, for log fields.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The path of a request URL, without query or fragment (which may carry signed media
/// tokens) and without scheme or host.
fn log_path(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.path().to_string(),
        Err(_) => "?".into(),
    }
}

/// `messages[0].id` of a send answer, for the log line (reads only what it needs).
fn first_message_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        messages: Vec<Msg>,
    }
    #[derive(serde::Deserialize)]
    struct Msg {
        id: String,
    }
    let a: Answer = serde_json::from_slice(body).ok()?;
    a.messages.into_iter().next().map(|m| m.id)
}

fn unreadable_success(status: u16, reason: String, class: RetryClass) -> Error {
    match class {
        RetryClass::Send => Error::OutcomeUnknown {
            reason,
            status: Some(status),
        },
        _ => Error::InvalidResponse { status, reason },
    }
}

/// `{"success": true}` or an error (outcome unknown for sends).
pub(crate) fn expect_success_true(value: &Value, status: u16, class: RetryClass) -> Result<()> {
    if value.get("success").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let reason = "2xx answer without \"success\": true".to_string();
    Err(match class {
        RetryClass::Send => Error::OutcomeUnknown {
            reason,
            status: Some(status),
        },
        _ => Error::InvalidResponse { status, reason },
    })
}

/// A body that cannot be serialised: `invalid_argument` on `body`.
pub(crate) fn json_err(e: serde_json::Error) -> Error {
    Error::invalid("body", format!("cannot be serialised as JSON: {e}"))
}

fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    retry::parse_retry_after(v, SystemTime::now())
}

/// The message of a reqwest error and its sources, without the URL's query.
fn describe(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut cur: Option<&dyn StdError> = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !out.contains(&s) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&s);
        }
        cur = err.source();
    }
    if out.is_empty() {
        out = if e.is_timeout() {
            "operation timed out".into()
        } else {
            "request failed".into()
        };
    }
    out
}

/// The first [`MAX_BODY_SNIPPET`] bytes of a body as text (cut on a character boundary).
pub fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_BODY_SNIPPET)]);
    let mut s = text.trim().to_string();
    if s.len() > MAX_BODY_SNIPPET {
        let mut cut = MAX_BODY_SNIPPET;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// What [`parse_error_body`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedError {
    /// The error, with `status` set and everything the body said.
    pub error: ApiError,
    /// Its class.
    pub code: ErrorCode,
    /// The body carried a Meta Graph error (directly or embedded in a 360dialog error).
    pub meta_body: bool,
    /// The body was one of the three documented shapes.
    pub parsed: bool,
}

/// Read an error body of any of the three shapes of docs/360dialog-api.md §5.3 and classify it.
///
/// ```
/// let p = wa360::transport::parse_error_body(400, br#"{"error":"Invalid request"}"#);
/// assert_eq!(p.code, wa360::ErrorCode::InvalidRequest);
/// assert_eq!(p.error.message, "Invalid request");
/// ```
pub fn parse_error_body(status: u16, body: &[u8]) -> ParsedError {
    let mut api = ApiError {
        status,
        ..ApiError::default()
    };
    let mut meta_body = false;
    let mut parsed = false;
    if let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) {
        match (root.get("error"), root.get("meta")) {
            (Some(Value::Object(err)), _) => {
                fill_from_meta(&mut api, err);
                meta_body = true;
                parsed = true;
            }
            (Some(Value::String(msg)), _) => {
                api.message = msg.clone();
                parsed = true;
            }
            (_, Some(Value::Object(meta))) => {
                parsed = true;
                let dev = meta
                    .get("developer_message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                api.trace_id = meta
                    .get("360dialog_trace_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match embedded_meta_error(dev) {
                    Some((prefix, err)) => {
                        fill_from_meta(&mut api, &err);
                        meta_body = true;
                        if !prefix.is_empty() {
                            api.message = if api.message.is_empty() {
                                prefix
                            } else {
                                format!("{prefix}: {}", api.message)
                            };
                        }
                    }
                    None => api.message = dev.to_string(),
                }
                if api.message.is_empty() {
                    api.message = format!("HTTP {status} from 360dialog");
                }
            }
            _ => {}
        }
    }
    if !parsed {
        let snippet = body_snippet(body);
        api.message = if snippet.is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            format!("HTTP {status} with an unparseable body: {snippet}")
        };
    }
    let code = classify(status, &api, parsed);
    if api.api_code == Some(retry::PAIR_RATE_LIMIT_CODE) {
        api.retry_after = Some(crate::governor::pair_backoff(1));
    }
    ParsedError {
        error: api,
        code,
        meta_body,
        parsed,
    }
}

fn classify(status: u16, api: &ApiError, parsed: bool) -> ErrorCode {
    if let Some(c) = api.api_code {
        return retry::classify_api_code(c);
    }
    if parsed {
        let m = api.message.to_ascii_lowercase();
        if m.contains("endpoint rate limit") {
            return ErrorCode::RateLimited;
        }
        if m.contains("has been disabled") {
            return ErrorCode::Account;
        }
        if m.contains("lack of payment") {
            return ErrorCode::Payment;
        }
    }
    match status {
        401 => ErrorCode::Authentication,
        403 => ErrorCode::Permission,
        429 => ErrorCode::RateLimited,
        400..=499 if parsed => ErrorCode::InvalidRequest,
        _ => ErrorCode::ApiError,
    }
}

fn fill_from_meta(api: &mut ApiError, err: &serde_json::Map<String, Value>) {
    let s = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| {
        err.get(k).and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    };
    api.message = s("message").unwrap_or_default();
    api.error_type = s("type");
    api.api_code = n("code");
    api.subcode = n("error_subcode");
    api.fbtrace_id = s("fbtrace_id");
    api.is_transient = err.get("is_transient").and_then(Value::as_bool);
    api.details = err
        .get("error_data")
        .and_then(|d| d.get("details"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| s("error_user_msg"));
}

/// Find an embedded `{"error":{…}}` JSON in a 360dialog `developer_message`; returns the
/// text before it (trimmed of ` (`) and the error object.
fn embedded_meta_error(dev: &str) -> Option<(String, serde_json::Map<String, Value>)> {
    // Try at most a few opening braces: bounded work on hostile input.
    for (i, _) in dev.match_indices('{').take(8) {
        let mut stream = serde_json::Deserializer::from_str(&dev[i..]).into_iter::<Value>();
        if let Some(Ok(Value::Object(mut obj))) = stream.next()
            && let Some(Value::Object(err)) = obj.remove("error")
        {
            let prefix = dev[..i]
                .trim_end()
                .trim_end_matches('(')
                .trim_end()
                .trim_end_matches(':')
                .trim()
                .to_string();
            return Some((prefix, err));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented example error bodies (`response_error_*.json`; sources in docs/360dialog-api.md Appendix A).
    fn payload(name: &str) -> Vec<u8> {
        let text = match name {
            "response_error_meta_130429.json" => {
                r#"{"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429, "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."}, "error_subcode": 2494055, "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW"}}"#
            }
            "response_error_360_meta.json" => {
                r#"{"meta": {"success": false, "http_code": 400, "developer_message": "Invalid payload ({\"error\":{\"message\":\"Invalid parameter\",\"type\":\"OAuthException\",\"code\":100,\"error_data\":{\"blame_field_specs\":[[\"name\"]]},\"error_subcode\":2388046,\"is_transient\":false,\"error_user_title\":\"Name Format is Incorrect\",\"error_user_msg\":\"The message template name can only have lowercase letters and underscores.\",\"fbtrace_id\":\"AqRsTuVwXyZ012345678901\"}})", "360dialog_trace_id": "TOZfYLoh3xrUq2FsREQ"}}"#
            }
            "response_error_360_invalid_key.json" => {
                r#"{"meta": {"success": false, "http_code": 401, "developer_message": "Invalid api_key", "360dialog_trace_id": "Xk29PqLm0ZtR7sVbN1c"}}"#
            }
            "response_error_360_simple.json" => r#"{"error": "Invalid request"}"#,
            other => panic!("unknown payload {other}"),
        };
        text.as_bytes().to_vec()
    }

    #[test]
    fn meta_graph_error_fields() {
        let p = parse_error_body(429, &payload("response_error_meta_130429.json"));
        assert!(p.meta_body && p.parsed);
        assert_eq!(p.code, ErrorCode::RateLimited);
        assert_eq!(p.error.api_code, Some(130429));
        assert_eq!(p.error.subcode, Some(2494055));
        assert_eq!(p.error.error_type.as_deref(), Some("OAuthException"));
        assert_eq!(
            p.error.details.as_deref(),
            Some("Cloud API message throughput has been reached.")
        );
        assert_eq!(
            p.error.fbtrace_id.as_deref(),
            Some("AbCdEfGhIjKlMnOpQrStUvW")
        );
        assert_eq!(p.error.message, "(#130429) Rate limit hit");
    }

    #[test]
    fn gateway_error_with_embedded_meta_error() {
        let p = parse_error_body(400, &payload("response_error_360_meta.json"));
        assert!(p.meta_body && p.parsed);
        assert_eq!(p.code, ErrorCode::InvalidRequest);
        assert_eq!(p.error.api_code, Some(100));
        assert_eq!(p.error.subcode, Some(2388046));
        assert_eq!(p.error.trace_id.as_deref(), Some("TOZfYLoh3xrUq2FsREQ"));
        assert_eq!(
            p.error.fbtrace_id.as_deref(),
            Some("AqRsTuVwXyZ012345678901")
        );
        assert_eq!(p.error.is_transient, Some(false));
        assert_eq!(p.error.message, "Invalid payload: Invalid parameter");
    }

    #[test]
    fn gateway_error_plain_and_simple_error() {
        let p = parse_error_body(401, &payload("response_error_360_invalid_key.json"));
        assert!(!p.meta_body && p.parsed);
        assert_eq!(p.code, ErrorCode::Authentication);
        assert_eq!(p.error.message, "Invalid api_key");
        assert_eq!(p.error.trace_id.as_deref(), Some("Xk29PqLm0ZtR7sVbN1c"));
        let p = parse_error_body(400, &payload("response_error_360_simple.json"));
        assert_eq!(p.code, ErrorCode::InvalidRequest);
        assert_eq!(p.error.message, "Invalid request");
    }

    #[test]
    fn dialog_texts_classify() {
        let body = |m: &str| {
            serde_json::to_vec(&serde_json::json!({"meta":{"success":false,"developer_message":m}}))
                .unwrap()
        };
        let c = |m: &str| parse_error_body(400, &body(m)).code;
        assert_eq!(
            c("You have exceeded the endpoint rate limit."),
            ErrorCode::RateLimited
        );
        assert_eq!(
            c("Your WhatsApp for Business API has been disabled"),
            ErrorCode::Account
        );
        assert_eq!(
            c("Could not send message due to lack of payment"),
            ErrorCode::Payment
        );
        assert_eq!(
            parse_error_body(403, &body("The endpoint is blocked")).code,
            ErrorCode::Permission
        );
    }

    #[test]
    fn unparseable_bodies_keep_status_and_a_short_snippet() {
        let html = format!("<html><body>{}</body></html>", "x".repeat(5000));
        let p = parse_error_body(502, html.as_bytes());
        assert!(!p.parsed && !p.meta_body);
        assert_eq!(p.code, ErrorCode::ApiError);
        assert_eq!(p.error.status, 502);
        assert!(
            p.error
                .message
                .starts_with("HTTP 502 with an unparseable body: <html>")
        );
        assert!(p.error.message.len() < MAX_BODY_SNIPPET + 64);
        let p = parse_error_body(500, b"");
        assert_eq!(p.error.message, "HTTP 500 with an empty body");
        // Multi-byte text cut on a character boundary.
        let s = "é".repeat(2000);
        assert!(body_snippet(s.as_bytes()).len() <= MAX_BODY_SNIPPET);
    }

    #[test]
    fn pair_rate_limit_gets_a_suggested_delay() {
        let p = parse_error_body(
            400,
            br#"{"error":{"message":"(#131056) pair rate limit","code":131056}}"#,
        );
        assert_eq!(p.code, ErrorCode::RateLimited);
        assert_eq!(p.error.retry_after, Some(Duration::from_secs(4)));
    }

    #[test]
    fn hostile_developer_message_is_bounded() {
        let dev = "{".repeat(100_000);
        let body =
            serde_json::to_vec(&serde_json::json!({"meta":{"developer_message":dev}})).unwrap();
        let p = parse_error_body(400, &body);
        assert!(p.parsed && !p.meta_body);
    }
}
