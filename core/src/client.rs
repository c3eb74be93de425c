//! [`Client`]: the entry point. Cheap to clone (one `Arc` inside), `Send + Sync`, one
//! connection pool shared by every clone.
//!
//! ```no_run
//! # async fn demo() -> wa360::Result<()> {
//! use wa360::client::Client;
//! let client = Client::builder().api_key("my-360dialog-key").build()?;
//! let sent = client
//!     .send_body(serde_json::json!({
//!         "messaging_product": "whatsapp",
//!         "recipient_type": "individual",
//!         "to": "15555550123",
//!         "type": "text",
//!         "text": {"body": "Hello"}
//!     }))
//!     .await?;
//! println!("sent {:?}", sent.message_id());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::config::{ClientBuilder, Config, MediaLookupGuard};
use crate::error::{Error, Result};
use crate::governor::{Governor, GovernorConfig};
use crate::media::{LookupGuard, Media};
use crate::messages::{MarkRead, Outbound, TypingIndicator};
use crate::retry::RetryClass;
pub(crate) use crate::transport::expect_success_true;
use crate::transport::{self, Accept, Body, Transport, json_err};
use crate::webhook::registration::Webhooks;

pub use crate::retry::RetryPolicy;

/// A 360dialog Cloud API client for one channel (API key).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// Shared with [`Client::paced_for_broadcast`]'s client (same connections and metrics).
    transport: Arc<Transport>,
    /// Paces sends (a passive one when none is configured: it only remembers
    /// consecutive 131056 answers per recipient for the 4^n s suggestion).
    governor: Governor,
    /// Recent failed media look-ups (the guard of `crate::media`).
    media_guard: Arc<LookupGuard>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", self.config())
            .finish()
    }
}

/// One contact of a [`SendResponse`]: what you sent and WhatsApp's normalised id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendContact {
    /// The recipient as sent (`to` or `recipient`).
    #[serde(default)]
    pub input: String,
    /// The normalised WhatsApp id; missing when sending to a business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The business-scoped user id (BSUID), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// One accepted message of a [`SendResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The message id (`wamid.…`): the key of later status webhooks.
    pub id: String,
    /// `accepted`, `held_for_quality_assessment`, `paused`, … when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
}

/// The answer to `POST /messages` (docs/360dialog-api.md §5.1). "Accepted", not "delivered": the
/// outcome arrives as status webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// Recipients as WhatsApp understood them.
    #[serde(default)]
    pub contacts: Vec<SendContact>,
    /// The accepted messages (usually one).
    pub messages: Vec<SentMessage>,
}

impl SendResponse {
    /// The id of the first accepted message.
    pub fn message_id(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }
}

impl ClientBuilder {
    /// Check the settings (the key is read from `D360_API_KEY` if not given)
    /// and build the client.
    pub fn build(self) -> Result<Client> {
        let env_key = std::env::var(crate::config::API_KEY_ENV).ok();
        let config = self.into_config(env_key)?;
        Client::from_config(config)
    }
}

impl Client {
    /// Start configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Build a client from checked settings.
    pub fn from_config(config: Config) -> Result<Client> {
        let gcfg = config
            .governor()
            .cloned()
            .unwrap_or_else(GovernorConfig::passive);
        let governor = match config.governor_store() {
            Some(s) => Governor::with_store(gcfg, Arc::clone(&s.0))?,
            None => Governor::new(gcfg)?,
        };
        let media_guard = LookupGuard::for_channel(config.base_url(), config.api_key().expose());
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Arc::new(Transport::new(config)?),
                governor,
                media_guard,
            }),
        })
    }

    /// This client when its governor paces sends per number; otherwise a client on the
    /// same connections whose governor has the default pacing (80 messages/s per number,
    /// `docs/sending-at-scale.md`), over the same governor store. A broadcast sends through
    /// it: a whole campaign unpaced would run into the platform's limits.
    pub(crate) fn paced_for_broadcast(&self) -> Result<Client> {
        if self.inner.governor.config().messages_per_second.is_some() {
            return Ok(self.clone());
        }
        let governor =
            Governor::with_store(GovernorConfig::default(), self.inner.governor.store())?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Arc::clone(&self.inner.transport),
                governor,
                media_guard: Arc::clone(&self.inner.media_guard),
            }),
        })
    }

    /// The settings of this client (the key is redacted when printed).
    pub fn config(&self) -> &Config {
        self.inner.transport.config()
    }

    /// A snapshot of this client's metrics (shared by its clones): requests by outcome,
    /// retries by reason, the send latency histogram. Names: `docs/observability.md`.
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.inner.transport.metrics().snapshot()
    }

    /// A process-unique number for this client (shared by its clones): the `client` field
    /// of its log events, so that logs of several clients can be told apart.
    pub fn id(&self) -> u64 {
        self.inner.transport.id()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// Media operations: upload, look-up, download, delete.
    pub fn media(&self) -> Media<'_> {
        Media::new(self.transport(), &self.inner.media_guard)
    }

    /// Webhook configuration (phone-number level and WABA level).
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks::new(self.transport())
    }

    /// Validate and send one message (`POST /messages`).
    ///
    /// Invalid input fails with `invalid_argument` before any request. Retries follow
    /// [`RetryClass::Send`]: only what cannot double-send.
    pub async fn send(&self, msg: &(impl Outbound + ?Sized)) -> Result<SendResponse> {
        let body = msg.to_body()?;
        self.send_body(body).await
    }

    /// Send an already-built body to `POST /messages` (same retry rules as [`Client::send`]).
    pub async fn send_body(&self, body: Value) -> Result<SendResponse> {
        // The governor's own wait for a slot; not a deadline for the pauses between
        // attempts (`Retry-After` up to its cap, backoff), as a caller's `max_wait` is.
        let wait = self.default_max_wait();
        self.send_body_gated(body, wait, false, None).await
    }

    /// [`Client::send`] waiting at most `max_wait` for the governor's slot (instead of the
    /// governor's `max_wait`). Past it: `rate_limited` with `retry_after`, nothing sent.
    /// `max_wait` is also the deadline of the pauses between attempts: a retry that would
    /// start past it is not made, and the refusal comes back with the pause as `retry_after`.
    pub async fn send_within(
        &self,
        msg: &(impl Outbound + ?Sized),
        max_wait: std::time::Duration,
    ) -> Result<SendResponse> {
        let body = msg.to_body()?;
        self.send_body_within(body, max_wait).await
    }

    /// [`Client::send_body`] with its own deadline for the governor's slot.
    pub async fn send_body_within(
        &self,
        body: Value,
        max_wait: std::time::Duration,
    ) -> Result<SendResponse> {
        self.send_body_gated(body, max_wait, true, None).await
    }

    /// [`Client::send_within`] that asks `go` once its slot is granted, just before the
    /// request: `false` withdraws it (a local `rate_limited` refusal, nothing sent, the
    /// recipient's pair slot given back). A broadcast uses it so that a pause or stop holds
    /// the sends already waiting for a slot.
    pub(crate) async fn send_within_while(
        &self,
        msg: &(impl Outbound + ?Sized),
        max_wait: std::time::Duration,
        go: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<SendResponse> {
        let body = msg.to_body()?;
        self.send_body_gated(body, max_wait, true, Some(go)).await
    }

    async fn send_body_gated(
        &self,
        body: Value,
        max_wait: std::time::Duration,
        deadline: bool,
        go: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<SendResponse> {
        if !body.is_object() {
            return Err(Error::invalid("body", "must be a JSON object"));
        }
        let recipient = recipient_of(&body);
        let bytes = serde_json::to_vec(&body).map_err(json_err)?;
        let url = self.transport().url_for("/messages");
        let gate = transport::Gate {
            governor: &self.inner.governor,
            recipient: recipient.as_deref(),
            max_wait,
            deadline,
            go,
        };
        let resp = self
            .transport()
            .execute_gated(
                Method::POST,
                &url,
                &Body::Json(bytes.into()),
                RetryClass::Send,
                Accept::Json,
                Some(gate),
            )
            .await?;
        // The common case straight from the bytes (no `Value` tree per send); anything it
        // does not take goes the general way below, which gives the same errors as before.
        if let Ok(r) = serde_json::from_slice::<SendResponse>(&resp.body) {
            return Ok(r);
        }
        let value = self.inner.transport.decode_json(&resp, RetryClass::Send)?;
        serde_json::from_value::<SendResponse>(value).map_err(|e| {
            let e = Error::OutcomeUnknown {
                reason: format!("2xx answer is not a send response: {e}"),
                status: Some(resp.status),
            };
            tracing::warn!(client = self.id(), error = %e, "answer unreadable");
            e
        })
    }

    /// The governor pacing this client's sends (passive when none was configured).
    pub fn governor(&self) -> &Governor {
        &self.inner.governor
    }

    fn default_max_wait(&self) -> std::time::Duration {
        self.inner.governor.config().max_wait
    }

    /// Mark an inbound message (and the ones before it) as read
    /// ([`MarkRead`]; `{"success": true}` expected).
    pub async fn mark_read(&self, message_id: &str) -> Result<()> {
        let body = MarkRead::new(message_id).to_body()?;
        self.expect_success(&body).await
    }

    /// Show a typing indicator for up to 25 s, which also marks the message read
    /// ([`TypingIndicator`]; `{"success": true}` expected).
    pub async fn typing(&self, message_id: &str) -> Result<()> {
        let body = TypingIndicator::new(message_id).to_body()?;
        self.expect_success(&body).await
    }

    /// The generic request path for other modules: `path` is relative to the base URL
    /// (e.g. `/v1/configs/webhook`), `body` is sent as JSON, `retry` picks the rules of
    /// docs/reliability.md. A 2xx with an empty body gives `Value::Null`.
    pub async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: RetryClass,
    ) -> Result<Value> {
        self.transport()
            .request_json(method, path, body, retry)
            .await
    }

    async fn post_messages(&self, body: &Value) -> Result<transport::Response> {
        let bytes = serde_json::to_vec(body).map_err(json_err)?;
        let url = self.transport().url_for("/messages");
        self.transport()
            .execute(
                Method::POST,
                &url,
                &Body::Json(bytes.into()),
                RetryClass::Send,
                Accept::Json,
            )
            .await
    }

    async fn expect_success(&self, body: &Value) -> Result<()> {
        let resp = self.post_messages(body).await?;
        let value = self.inner.transport.decode_json(&resp, RetryClass::Send)?;
        expect_success_true(&value, resp.status, RetryClass::Send)
    }
}

/// The recipient of a send body; a phone number is reduced to its digits so that
/// `+1 555 555 0123` and `15555550123` share one pair-rate bucket.
pub(crate) fn recipient_of(body: &Value) -> Option<String> {
    let raw = body
        .get("to")
        .or_else(|| body.get("recipient"))
        .and_then(Value::as_str)?;
    let phone_like = raw
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    Some(if phone_like {
        raw.chars().filter(char::is_ascii_digit).collect()
    } else {
        raw.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_cheap_clone_send_sync() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        assert_traits::<Client>();
    }

    #[test]
    fn send_response_parses_documented_bodies() {
        let ok: SendResponse = serde_json::from_str(
            r#"{"messaging_product":"whatsapp","contacts":[{"input":"+15555550123","wa_id":"15555550123"}],
               "messages":[{"id":"wamid.X","message_status":"accepted"}]}"#,
        )
        .unwrap();
        assert_eq!(ok.message_id(), Some("wamid.X"));
        assert_eq!(ok.contacts[0].wa_id.as_deref(), Some("15555550123"));
        let bsuid: SendResponse = serde_json::from_str(
            r#"{"contacts":[{"input":"US.1","user_id":"US.1"}],"messages":[{"id":"wamid.Y"}]}"#,
        )
        .unwrap();
        assert_eq!(bsuid.contacts[0].wa_id, None);
        assert_eq!(bsuid.contacts[0].user_id.as_deref(), Some("US.1"));
        assert_eq!(bsuid.messages[0].message_status, None);
        assert!(serde_json::from_str::<SendResponse>(r#"{"success":true}"#).is_err());
    }
}

/// The crate README's code blocks, compiled as doc tests so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
