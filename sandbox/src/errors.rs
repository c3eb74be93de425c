//! Error bodies in the shapes the real API answers with (docs/360dialog-api.md §5.3).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::{ALNUM, random_string};

/// Meta Graph error body: `{"error":{"message","type","code","error_data","fbtrace_id"}}`.
pub fn meta_error_body(
    code: i64,
    message: &str,
    details: Option<&str>,
    subcode: Option<i64>,
) -> Value {
    let mut err = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
    });
    if let Some(d) = details {
        err["error_data"] = json!({"messaging_product": "whatsapp", "details": d});
    }
    if let Some(s) = subcode {
        err["error_subcode"] = json!(s);
    }
    err["fbtrace_id"] = json!(random_string(23, ALNUM));
    json!({ "error": err })
}

/// 360dialog gateway error body: `{"meta":{"success":false,"http_code",…}}`.
pub fn d360_error_body(status: u16, message: &str) -> Value {
    json!({
        "meta": {
            "success": false,
            "http_code": status,
            "developer_message": message,
            "360dialog_trace_id": random_string(19, ALNUM),
        }
    })
}

/// A Meta error answer with an HTTP status.
#[derive(Debug)]
pub struct MetaError {
    /// HTTP status.
    pub status: u16,
    /// Meta code.
    pub code: i64,
    /// `error.message`.
    pub message: String,
    /// `error.error_data.details`.
    pub details: String,
    /// `error.error_subcode`.
    pub subcode: Option<i64>,
}

impl MetaError {
    /// 400 / code 100 "Invalid parameter".
    pub fn invalid_parameter(details: impl Into<String>) -> Self {
        MetaError {
            status: 400,
            code: 100,
            message: "(#100) Invalid parameter".into(),
            details: details.into(),
            subcode: None,
        }
    }
    /// 400 / code 131008 "Required parameter is missing".
    pub fn missing(details: impl Into<String>) -> Self {
        MetaError {
            status: 400,
            code: 131008,
            message: "(#131008) Required parameter is missing".into(),
            details: details.into(),
            subcode: None,
        }
    }
    /// 400 / code 131009 "Parameter value is not valid".
    pub fn invalid_value(details: impl Into<String>) -> Self {
        MetaError {
            status: 400,
            code: 131009,
            message: "(#131009) Parameter value is not valid".into(),
            details: details.into(),
            subcode: None,
        }
    }
    /// 404 / code 100, subcode 33: unknown object id.
    pub fn unknown_object(id: &str) -> Self {
        MetaError {
            status: 404,
            code: 100,
            message: format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            details: format!("media id {id} does not exist"),
            subcode: Some(33),
        }
    }
}

impl IntoResponse for MetaError {
    fn into_response(self) -> Response {
        let body = meta_error_body(self.code, &self.message, Some(&self.details), self.subcode);
        let st = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (st, Json(body)).into_response()
    }
}

/// A 360dialog gateway error answer.
#[derive(Debug)]
pub struct D360Error {
    /// HTTP status.
    pub status: u16,
    /// `developer_message`.
    pub message: String,
}

impl D360Error {
    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        D360Error {
            status: 400,
            message: message.into(),
        }
    }
}

impl IntoResponse for D360Error {
    fn into_response(self) -> Response {
        let st = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (st, Json(d360_error_body(self.status, &self.message))).into_response()
    }
}

/// The 401 answer for a wrong or missing `D360-API-KEY`.
pub fn invalid_key() -> Response {
    D360Error {
        status: 401,
        message: "Invalid api_key".into(),
    }
    .into_response()
}
