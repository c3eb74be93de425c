//! Fault injection: scripted misbehaviour for the next N matching requests.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::meta_error_body;

fn one() -> u32 {
    1
}

/// One scripted fault: which requests it hits and what happens to them.
///
/// JSON form (the body of `POST /_sandbox/faults`):
/// `{"method":"POST","path":"/messages","count":2,"fault":{"kind":"rate_limit","retry_after":1}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    /// HTTP method to match (any when absent), case-insensitive.
    #[serde(default)]
    pub method: Option<String>,
    /// Path to match (any when absent). Exact match, or a prefix when it ends in `*`.
    #[serde(default)]
    pub path: Option<String>,
    /// How many matching requests the fault applies to (default 1; 0 = every
    /// matching request until `DELETE /_sandbox/faults`).
    #[serde(default = "one")]
    pub count: u32,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule matching `method` and `path` for the next request.
    pub fn new(method: &str, path: &str, fault: Fault) -> Self {
        FaultRule {
            method: Some(method.to_string()),
            path: Some(path.to_string()),
            count: 1,
            fault,
        }
    }

    /// Apply to the next `n` matching requests (0 = until cleared).
    pub fn times(mut self, n: u32) -> Self {
        self.count = n;
        self
    }

    /// Whether this rule hits a request.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        match &self.path {
            None => true,
            Some(p) => match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => p == path,
            },
        }
    }
}

/// Method a `fault(kind, …)` rule of the bindings matches unless told otherwise.
pub const FAULT_DEFAULT_METHOD: &str = "POST";
/// Path a `fault(kind, …)` rule of the bindings matches unless told otherwise.
pub const FAULT_DEFAULT_PATH: &str = "/messages";
/// Requests a `fault(kind, …)` rule of the bindings hits unless told otherwise.
pub const FAULT_DEFAULT_COUNT: u32 = 1;

impl FaultRule {
    /// The rule of the bindings' keyword helper, Python `fault(kind, *, method, path, count,
    /// **params)` and Node `fault(kind, { method, path, count, ...params })`, assembled here
    /// once. `options` holds `method` and `path` (absent: [`FAULT_DEFAULT_METHOD`] and
    /// [`FAULT_DEFAULT_PATH`]; `null`: any), `count` (absent: [`FAULT_DEFAULT_COUNT`]; 0 =
    /// until cleared) and the kind's own parameters (`retry_after`, `code`, `status`, `ms`, …).
    /// Bad input is `invalid_argument` naming the option.
    pub fn from_kind(
        kind: &str,
        mut options: serde_json::Map<String, Value>,
    ) -> wa360::Result<FaultRule> {
        let matcher = |name: &str, default: &str, v: Option<Value>| match v {
            None => Ok(Some(default.to_string())),
            Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wa360::Error::invalid(
                name,
                format!("must be a string, or null to match any {name}"),
            )),
        };
        let method = matcher("method", FAULT_DEFAULT_METHOD, options.remove("method"))?;
        let path = matcher("path", FAULT_DEFAULT_PATH, options.remove("path"))?;
        let count = match options.remove("count") {
            None => FAULT_DEFAULT_COUNT,
            Some(v) => {
                let n = v.as_f64().unwrap_or(f64::NAN);
                wa360::input::int_option("count", n, 0, u64::from(u32::MAX))? as u32
            }
        };
        if options.contains_key("kind") {
            return Err(wa360::Error::invalid(
                "kind",
                "is the first argument, not an option",
            ));
        }
        options.insert("kind".into(), Value::String(kind.to_string()));
        let fault: Fault = serde_json::from_value(Value::Object(options))
            .map_err(|e| wa360::Error::invalid("kind", format!("{kind:?} fault: {e}")))?;
        Ok(FaultRule {
            method,
            path,
            count,
            fault,
        })
    }
}

/// `Retry-After` as seconds or as any text (e.g. an HTTP date).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RetryAfter {
    /// Delay in seconds.
    Seconds(u64),
    /// Raw header value (e.g. an HTTP date).
    Text(String),
}

impl RetryAfter {
    fn header_value(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::Text(t) => t.clone(),
        }
    }
}

/// What a fault does. Tagged by `kind` in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 429 with Meta code 130429, with a `Retry-After` header when given.
    RateLimit {
        /// `Retry-After` header value.
        #[serde(default)]
        retry_after: Option<RetryAfter>,
    },
    /// Any Meta error code in Graph format (`{"error":{…,"code":…}}`), with
    /// its usual HTTP status unless `status` is given.
    MetaError {
        /// Meta's numeric code.
        code: i64,
        /// HTTP status (default: Meta's usual status for the code).
        #[serde(default)]
        status: Option<u16>,
        /// `error.message` (default: a generic text for the code).
        #[serde(default)]
        message: Option<String>,
        /// `error.error_data.details`.
        #[serde(default)]
        details: Option<String>,
        /// `error.error_subcode`.
        #[serde(default)]
        subcode: Option<i64>,
        /// Optional `Retry-After` header.
        #[serde(default)]
        retry_after: Option<RetryAfter>,
    },
    /// 360dialog gateway error `{"meta":{"success":false,"http_code":…,"developer_message":…}}`.
    Dialog360Error {
        /// HTTP status (default 400).
        #[serde(default)]
        status: Option<u16>,
        /// `developer_message` (default "You have exceeded the endpoint rate limit.").
        #[serde(default)]
        message: Option<String>,
    },
    /// A bare HTTP status (500/502/503/…) with a short plain-text body.
    Status {
        /// HTTP status.
        status: u16,
        /// Body text (default: the status reason).
        #[serde(default)]
        body: Option<String>,
    },
    /// An HTML error page, as a proxy or load balancer would send.
    Html {
        /// HTTP status (default 502).
        #[serde(default)]
        status: Option<u16>,
    },
    /// Wait this long (real milliseconds, not scaled), then answer normally.
    Delay {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Close the TCP connection (RST) after the headers, without reading the
    /// body and without processing the request.
    ResetBeforeBody,
    /// Read the body and process the request (a send is accepted and its
    /// status webhooks follow), then close the connection (RST) without answering.
    ResetAfterBody,
    /// Answer with a syntactically broken JSON body (`content-type: application/json`).
    MalformedJson {
        /// HTTP status (default 200).
        #[serde(default)]
        status: Option<u16>,
    },
    /// Answer with the first half of a valid JSON body.
    TruncatedJson {
        /// HTTP status (default 200).
        #[serde(default)]
        status: Option<u16>,
    },
}

/// Meta's usual HTTP status for an error code, from the core's one table
/// (`wa360::meta_codes`, docs/360dialog-api.md §5.5); 400 for unknown codes.
pub fn default_status_for_code(code: i64) -> u16 {
    wa360::meta_codes::http_status(code)
}

fn with_retry_after(mut resp: Response<Body>, ra: &Option<RetryAfter>) -> Response<Body> {
    if let Some(ra) = ra
        && let Ok(v) = HeaderValue::from_str(&ra.header_value())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn status_code(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn raw(status: u16, content_type: &str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status_code(status);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// The response a fault answers with, for the faults that answer at all.
pub fn fault_response(fault: &Fault) -> Option<Response<Body>> {
    let json_ct = "application/json";
    Some(match fault {
        Fault::RateLimit { retry_after } => {
            let body = meta_error_body(
                130429,
                "(#130429) Rate limit hit",
                Some("Cloud API message throughput has been reached."),
                Some(2494055),
            );
            with_retry_after(raw(429, json_ct, body.to_string()), retry_after)
        }
        Fault::MetaError {
            code,
            status,
            message,
            details,
            subcode,
            retry_after,
        } => {
            let msg = message
                .clone()
                .unwrap_or_else(|| format!("(#{code}) Sandbox injected error"));
            let body = meta_error_body(*code, &msg, details.as_deref(), *subcode);
            let st = status.unwrap_or_else(|| default_status_for_code(*code));
            with_retry_after(raw(st, json_ct, body.to_string()), retry_after)
        }
        Fault::Dialog360Error { status, message } => {
            let st = status.unwrap_or(400);
            let body = crate::errors::d360_error_body(
                st,
                message
                    .as_deref()
                    .unwrap_or("You have exceeded the endpoint rate limit."),
            );
            raw(st, json_ct, body.to_string())
        }
        Fault::Status { status, body } => {
            let text = body.clone().unwrap_or_else(|| {
                status_code(*status)
                    .canonical_reason()
                    .unwrap_or("Error")
                    .to_string()
            });
            raw(*status, "text/plain; charset=utf-8", text)
        }
        Fault::Html { status } => {
            let st = status.unwrap_or(502);
            let reason = status_code(st).canonical_reason().unwrap_or("Error");
            let page = format!(
                "<!DOCTYPE html>\n<html><head><title>{st} {reason}</title></head>\
                 <body><center><h1>{st} {reason}</h1></center><hr><center>nginx</center></body></html>\n"
            );
            raw(st, "text/html", page)
        }
        Fault::MalformedJson { status } => raw(
            status.unwrap_or(200),
            json_ct,
            r#"{"messaging_product":"whatsapp","contacts":[{"input":"15555550123",,"wa_id":}]"#
                .to_string(),
        ),
        Fault::TruncatedJson { status } => {
            let full = json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": "15555550123", "wa_id": "15555550123"}],
                "messages": [{"id": crate::state::new_wamid(), "message_status": "accepted"}]
            })
            .to_string();
            let half = full[..full.len() / 2].to_string();
            raw(status.unwrap_or(200), json_ct, half)
        }
        Fault::Delay { .. } | Fault::ResetBeforeBody | Fault::ResetAfterBody => return None,
    })
}

/// The fault as recorded in the request log.
pub fn fault_json(fault: &Fault) -> Value {
    serde_json::to_value(fault).unwrap_or(Value::Null)
}
