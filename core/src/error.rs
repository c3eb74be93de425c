//! The one error model of wa360.
//!
//! Every failure is an [`Error`]; every error has a stable string [`ErrorCode`]
//! (`invalid_argument`, `rate_limited`, `outcome_unknown`, …) that the Python
//! and Node packages expose unchanged, so code written against one language's
//! errors reads the same in the others. Meta's numeric `code`, `error_subcode`,
//! `error_data.details` and `fbtrace_id` are kept whenever the server sent them.
//!
//! Error text never contains the API key, request headers or webhook
//! credentials (docs/reliability.md §7, "Secrets").

use std::fmt;
use std::time::Duration;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable, language-neutral error codes. The string form (see
/// [`ErrorCode::as_str`]) is part of the public contract of all three
/// languages and never changes once released.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Local validation failed before any request was made.
    InvalidArgument,
    /// Missing or invalid configuration (for example no API key).
    Configuration,
    /// 401 / Meta codes 0 and 190: the API key was rejected.
    Authentication,
    /// 403 "endpoint blocked", Meta codes 3, 10, 200–299, 131005.
    Permission,
    /// 429, Meta 4, 80007, 130429, 131048, 131056, 131057, 360dialog "endpoint rate limit".
    RateLimited,
    /// Meta 100, 131008, 131009, 131021, 135000 and simple 4xx bodies.
    InvalidRequest,
    /// The recipient cannot receive this message (131026, 131049, 131050, 130472, 137000, 1310xx BSUID codes).
    Recipient,
    /// 131047: the 24-hour customer service window is closed; send a template.
    WindowClosed,
    /// 132xxx: template missing, paused, disabled or with wrong parameters.
    Template,
    /// 132068 / 132069: the flow is blocked or throttled.
    Flow,
    /// 368, 130497, 131031, 131037: policy or business restrictions.
    Policy,
    /// 131042 and 360dialog's "lack of payment" answer.
    Payment,
    /// 131045, 133010 and 360dialog's "API has been disabled" answer.
    Account,
    /// 131052 / 131053 and media look-ups that failed.
    Media,
    /// Meta says "try again" (1, 2, 131000, 131016) and retries ran out.
    Transient,
    /// The request may or may not have been processed: never retried.
    OutcomeUnknown,
    /// A request that is safe to repeat ran out of time.
    Timeout,
    /// The server could not be reached (nothing was sent).
    Connection,
    /// A 2xx answer whose body could not be read, on a request that is not a send.
    InvalidResponse,
    /// Any other API error; Meta's code and details are kept.
    ApiError,
    /// A webhook body that is too large, too deep or not a webhook.
    WebhookPayload,
    /// Webhook authentication failed (fails closed).
    InvalidSignature,
    /// An internal failure, e.g. a panic caught at a language boundary.
    Internal,
    /// A durable store failed (the webhook inbox, the broadcast ledger, the media-id cache).
    Store,
}

impl ErrorCode {
    /// Every code, in declaration order (used by the cross-language name check).
    /// Derived by `strum`: the enum above is the only list.
    pub const ALL: &'static [ErrorCode] = <ErrorCode as strum::VariantArray>::VARIANTS;

    /// The stable string form, e.g. `"rate_limited"` (the variant name in snake_case).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parse a string code back (used by fixtures).
    pub fn from_str_code(s: &str) -> Option<ErrorCode> {
        s.parse().ok()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered by 360dialog or Meta, with everything the server said
/// that helps a user act on it (never request headers).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: u16,
    /// Meta's numeric `code`, when present (also pulled out of a 360dialog
    /// `developer_message` that embeds a Meta error).
    pub api_code: Option<i64>,
    /// Meta's `error_subcode`.
    pub subcode: Option<i64>,
    /// Meta's `type` (e.g. `OAuthException`).
    pub error_type: Option<String>,
    /// Human-readable message from the server (Meta `message`, 360dialog
    /// `developer_message` or the simple `error` string).
    pub message: String,
    /// Meta's `error_data.details`.
    pub details: Option<String>,
    /// Meta's `fbtrace_id`.
    pub fbtrace_id: Option<String>,
    /// 360dialog's `360dialog_trace_id`.
    pub trace_id: Option<String>,
    /// Meta's `is_transient`.
    pub is_transient: Option<bool>,
    /// Delay the server asked for (`Retry-After`), or the suggested delay for
    /// a pair rate limit (131056).
    pub retry_after: Option<Duration>,
}

/// Every failure wa360 reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, rejected before any request: names the field and the rule.
    #[error("invalid argument `{field}`: {rule}")]
    InvalidArgument {
        /// Dotted path of the offending field, e.g. `interactive.action.buttons`.
        field: String,
        /// The rule that was broken, in plain words.
        rule: String,
    },
    /// Missing or inconsistent configuration.
    #[error("configuration error: {0}")]
    Configuration(String),
    /// The server answered with an error. `code` is its class.
    #[error("{code} ({status}{api}): {message}", status = fmt_status(.error.status), api = fmt_api_code(.error.api_code), message = .error.message)]
    Api {
        /// The class of the error (authentication, rate_limited, …).
        code: ErrorCode,
        /// What the server said.
        error: Box<ApiError>,
    },
    /// The request may have been processed; it was not retried. Reconcile
    /// through status webhooks (use `biz_opaque_callback_data` as a key).
    #[error("outcome unknown: {reason}")]
    OutcomeUnknown {
        /// What happened (timeout after sending, reset, 502 without a Meta body, …).
        reason: String,
        /// HTTP status, when an answer arrived.
        status: Option<u16>,
    },
    /// A request that was safe to repeat timed out (after its retries).
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server could not be reached; nothing was sent.
    #[error("connection failed: {0}")]
    Connection(String),
    /// A 2xx answer that could not be read.
    #[error("invalid response (HTTP {status}): {reason}")]
    InvalidResponse {
        /// HTTP status.
        status: u16,
        /// Why it could not be read.
        reason: String,
    },
    /// A webhook body that is not a readable webhook (too large, too deep,
    /// malformed JSON, wrong top-level shape).
    #[error("webhook payload rejected: {0}")]
    WebhookPayload(String),
    /// Webhook authentication failed.
    #[error("webhook authentication failed: {0}")]
    InvalidSignature(String),
    /// Internal failure (a caught panic, a broken invariant).
    #[error("internal error: {0}")]
    Internal(String),
    /// A durable store failed (the webhook inbox, the broadcast ledger, the media-id
    /// cache; the message names which): nothing was stored or changed.
    #[error("store error: {0}")]
    Store(String),
}

/// `HTTP 429`; status 0 marks an error decided before any request (a governor refusal,
/// the media look-up guard), shown as `local`.
fn fmt_status(status: u16) -> String {
    if status == 0 {
        "local".into()
    } else {
        format!("HTTP {status}")
    }
}

fn fmt_api_code(code: Option<i64>) -> String {
    match code {
        Some(c) => format!(", code {c}"),
        None => String::new(),
    }
}

impl Error {
    /// Build an [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::Configuration(_) => ErrorCode::Configuration,
            Error::Api { code, .. } => *code,
            Error::OutcomeUnknown { .. } => ErrorCode::OutcomeUnknown,
            Error::Timeout(_) => ErrorCode::Timeout,
            Error::Connection(_) => ErrorCode::Connection,
            Error::InvalidResponse { .. } => ErrorCode::InvalidResponse,
            Error::WebhookPayload(_) => ErrorCode::WebhookPayload,
            Error::InvalidSignature(_) => ErrorCode::InvalidSignature,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Store(_) => ErrorCode::Store,
        }
    }

    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            // Status 0: decided before any request (nothing answered).
            Error::Api { error, .. } => Some(error.status).filter(|s| *s != 0),
            Error::OutcomeUnknown { status, .. } => *status,
            Error::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Meta's numeric error code, when present.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            Error::Api { error, .. } => error.api_code,
            _ => None,
        }
    }

    /// Meta's `error_data.details`, when present.
    pub fn details(&self) -> Option<&str> {
        match self {
            Error::Api { error, .. } => error.details.as_deref(),
            _ => None,
        }
    }

    /// The field named by an [`Error::InvalidArgument`].
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidArgument { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The full API error, when the server answered with one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Delay the server asked for before trying again, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error().and_then(|e| e.retry_after)
    }

    /// The value of one attribute (`None` when this error does not carry it).
    pub fn field_value(&self, field: ErrorField) -> Option<FieldValue> {
        let api = self.api_error();
        let text = |s: Option<&str>| s.map(|s| FieldValue::Str(s.to_owned()));
        match field {
            ErrorField::Code => Some(FieldValue::Str(self.code().as_str().to_owned())),
            ErrorField::Message => Some(FieldValue::Str(self.to_string())),
            ErrorField::Status => self.status().map(|s| FieldValue::Int(i64::from(s))),
            ErrorField::ApiCode => self.api_code().map(FieldValue::Int),
            ErrorField::Subcode => api.and_then(|a| a.subcode).map(FieldValue::Int),
            ErrorField::ErrorType => text(api.and_then(|a| a.error_type.as_deref())),
            ErrorField::Details => text(self.details()),
            ErrorField::Field => text(self.field()),
            ErrorField::Rule => match self {
                Error::InvalidArgument { rule, .. } => Some(FieldValue::Str(rule.clone())),
                _ => None,
            },
            ErrorField::RetryAfter => self.retry_after().map(FieldValue::Duration),
            ErrorField::FbtraceId => text(api.and_then(|a| a.fbtrace_id.as_deref())),
            ErrorField::TraceId => text(api.and_then(|a| a.trace_id.as_deref())),
            ErrorField::IsTransient => api.and_then(|a| a.is_transient).map(FieldValue::Bool),
            ErrorField::ServerMessage => text(api.map(|a| a.message.as_str())),
        }
    }

    /// Every attribute the bindings expose, in [`ErrorField::ALL`] order, with `None`
    /// for the ones this error does not carry. Python exceptions and Node errors are
    /// built from this list alone, so both carry exactly these attributes. No secret
    /// is ever among them (error text never contains credentials).
    pub fn fields(&self) -> Vec<(ErrorField, Option<FieldValue>)> {
        ErrorField::ALL
            .iter()
            .map(|f| (*f, self.field_value(*f)))
            .collect()
    }
}

/// One attribute that the Python exceptions and Node errors carry, in the order
/// [`Error::fields`] lists them. The snake_case name (`strum`) is the Python attribute;
/// Node uses its camelCase form, and a [`FieldValue::Duration`] field becomes
/// `<name>Ms` in milliseconds there (`retry_after` → `retryAfterMs`) while Python
/// gives seconds as a float. Adding a variant here adds the attribute in both
/// languages (their tests compare against [`ErrorField::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorField {
    /// The stable [`ErrorCode`] string.
    Code,
    /// The full error text (never a secret).
    Message,
    /// HTTP status, when the server answered.
    Status,
    /// Meta's numeric `code`.
    ApiCode,
    /// Meta's `error_subcode`.
    Subcode,
    /// Meta's `type` (e.g. `OAuthException`).
    ErrorType,
    /// Meta's `error_data.details`.
    Details,
    /// The offending field of an `invalid_argument` error (dotted path).
    Field,
    /// The broken rule of an `invalid_argument` error.
    Rule,
    /// Delay the server asked for (or the suggested pause of a pair rate limit).
    RetryAfter,
    /// Meta's `fbtrace_id`.
    FbtraceId,
    /// 360dialog's trace id.
    TraceId,
    /// Meta's `is_transient`.
    IsTransient,
    /// What the server itself said (Meta `message`, 360dialog `developer_message`).
    ServerMessage,
}

impl ErrorField {
    /// Every field, in the order [`Error::fields`] lists them.
    pub const ALL: &'static [ErrorField] = <ErrorField as strum::VariantArray>::VARIANTS;

    /// The snake_case name (the Python attribute).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// True for fields whose value is a [`FieldValue::Duration`] (Node adds `Ms`).
    pub fn is_duration(self) -> bool {
        matches!(self, ErrorField::RetryAfter)
    }
}

/// The value of one [`ErrorField`].
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text.
    Str(String),
    /// An integer (HTTP status, Meta codes).
    Int(i64),
    /// A flag.
    Bool(bool),
    /// A delay.
    Duration(Duration),
}

impl Error {
    /// The `internal` error a caught panic becomes, with the panic's text. The Python
    /// and Node bindings catch every panic at their boundary (sync calls and futures)
    /// and raise or reject with this, so a bug in the core is a catchable error in both.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Error {
        let text = match (
            payload.downcast_ref::<&str>(),
            payload.downcast_ref::<String>(),
        ) {
            (Some(s), _) => s,
            (None, Some(s)) => s.as_str(),
            (None, None) => "unknown panic payload",
        };
        Error::Internal(format!("panic in the wa360 core: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(ErrorCode::from_str_code(c.as_str()), Some(*c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(ErrorCode::from_str_code("nope"), None);
        assert_eq!(ErrorCode::from_str_code("RateLimited"), None);
    }

    /// The strings are a public contract of all three languages: renaming a variant
    /// must not silently change them.
    #[test]
    fn code_strings_are_the_published_ones() {
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "invalid_argument",
                "configuration",
                "authentication",
                "permission",
                "rate_limited",
                "invalid_request",
                "recipient",
                "window_closed",
                "template",
                "flow",
                "policy",
                "payment",
                "account",
                "media",
                "transient",
                "outcome_unknown",
                "timeout",
                "connection",
                "invalid_response",
                "api_error",
                "webhook_payload",
                "invalid_signature",
                "internal",
                "store",
            ]
        );
    }

    /// A 429 rate-limit answer (Meta code 130429) with `more` filled in.
    fn rate_limited(more: ApiError) -> Error {
        Error::Api {
            code: ErrorCode::RateLimited,
            error: Box::new(ApiError {
                status: 429,
                api_code: Some(130429),
                message: "Rate limit hit".into(),
                ..more
            }),
        }
    }

    #[test]
    fn fields_list_every_attribute_once_with_values() {
        let e = rate_limited(ApiError {
            subcode: Some(2494055),
            error_type: Some("OAuthException".into()),
            details: Some("throughput".into()),
            fbtrace_id: Some("fb1".into()),
            trace_id: Some("t1".into()),
            is_transient: Some(true),
            retry_after: Some(Duration::from_secs(3)),
            ..Default::default()
        });
        let f = e.fields();
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        let all: Vec<&str> = ErrorField::ALL.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, all);
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        let get = |n: ErrorField| f.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(
            get(ErrorField::Code),
            Some(FieldValue::Str("rate_limited".into()))
        );
        assert_eq!(get(ErrorField::Status), Some(FieldValue::Int(429)));
        assert_eq!(get(ErrorField::ApiCode), Some(FieldValue::Int(130429)));
        assert_eq!(get(ErrorField::Subcode), Some(FieldValue::Int(2494055)));
        assert_eq!(
            get(ErrorField::RetryAfter),
            Some(FieldValue::Duration(Duration::from_secs(3)))
        );
        assert_eq!(get(ErrorField::IsTransient), Some(FieldValue::Bool(true)));
        assert_eq!(
            get(ErrorField::ServerMessage),
            Some(FieldValue::Str("Rate limit hit".into()))
        );
        assert_eq!(get(ErrorField::Field), None);
        assert_eq!(get(ErrorField::Rule), None);
        // Only the retry-after field is a duration, and it says so.
        for (n, v) in &f {
            assert_eq!(
                n.is_duration(),
                matches!(v, Some(FieldValue::Duration(_))),
                "{n:?}"
            );
        }

        let inv = Error::invalid("text.body", "must be 1..4096 characters");
        assert_eq!(
            inv.field_value(ErrorField::Rule),
            Some(FieldValue::Str("must be 1..4096 characters".into()))
        );
        assert_eq!(
            inv.field_value(ErrorField::Field),
            Some(FieldValue::Str("text.body".into()))
        );
        assert_eq!(inv.field_value(ErrorField::Status), None);
    }

    #[test]
    fn invalid_argument_names_field_and_rule() {
        let e = Error::invalid("text.body", "must be 1..4096 characters");
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(e.field(), Some("text.body"));
        assert_eq!(
            e.to_string(),
            "invalid argument `text.body`: must be 1..4096 characters"
        );
    }

    #[test]
    fn api_error_display_carries_status_and_code() {
        let e = rate_limited(ApiError::default());
        assert_eq!(
            e.to_string(),
            "rate_limited (HTTP 429, code 130429): Rate limit hit"
        );
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.api_code(), Some(130429));
    }
}
