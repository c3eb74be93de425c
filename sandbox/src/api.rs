//! The HTTP routes: the emulated 360dialog API and the `/_sandbox/` control routes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::meta_error_body;
use crate::errors::{D360Error, MetaError};
use crate::faults::FaultRule;
use crate::limits::{Limits, SendVerdict};
use crate::manage;
use crate::state::{Inner, State, WebhookConfig, new_wamid};
use crate::validate::{Accepted, validate};
use crate::webhooks;

type S = AxState<Arc<State>>;

/// Build the router over shared state.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/messages", post(send_message))
        .route("/v1/messages", post(send_message))
        .route("/media", post(upload_media))
        .route(
            "/v1/configs/webhook",
            post(set_phone_webhook).get(get_phone_webhook),
        )
        .route(
            "/waba_webhook",
            post(set_waba_webhook).get(get_waba_webhook),
        )
        .route("/whatsapp_business/attachments/", get(download_media))
        .route("/whatsapp_business/attachments", get(download_media))
        .route(
            "/v1/configs/templates",
            post(manage::create_template).get(manage::list_templates),
        )
        .route(
            "/v1/configs/templates/{id}",
            get(manage::get_template).delete(manage::delete_template),
        )
        .route("/message_templates", get(manage::graph_templates))
        .route(
            "/whatsapp_business_profile",
            get(manage::get_profile).post(manage::set_profile),
        )
        .route("/health_status", get(manage::health))
        .route(
            "/block_users",
            get(manage::list_blocked)
                .post(manage::block)
                .delete(manage::unblock),
        )
        .route("/uploads", post(manage::create_upload))
        .route(
            "/{id}",
            get(media_info).delete(delete_media).post(upload_bytes),
        )
        .route("/_sandbox/seen", post(manage::mark_seen))
        .route("/_sandbox/health", post(manage::set_health))
        .route("/_sandbox/inbound", post(inbound))
        .route(
            "/_sandbox/faults",
            post(add_faults).get(list_faults).delete(clear_faults),
        )
        .route("/_sandbox/requests", get(list_requests))
        .route("/_sandbox/deliveries", get(list_deliveries))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/limits", post(set_limits).get(get_limits))
        .route("/_sandbox/recipients", get(list_recipients))
        .fallback(not_found)
        // axum's default of 2 MB would refuse most media: take the largest file WhatsApp
        // allows (a 100 MB document) plus room for the multipart envelope.
        .layer(axum::extract::DefaultBodyLimit::max(
            wa360::media::MAX_UPLOAD_BYTES + 1024 * 1024,
        ))
        .with_state(state)
}

fn parse_json(body: &Bytes) -> Result<Value, MetaError> {
    if body.is_empty() {
        return Err(MetaError::invalid_parameter("request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| MetaError::invalid_parameter(format!("request body is not valid JSON: {e}")))
}

async fn send_message(AxState(state): S, body: Bytes) -> Response {
    let value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match validate(&value) {
        Err(e) => e.into_response(),
        Ok(Accepted::StatusUpdate) => Json(json!({"success": true})).into_response(),
        Ok(Accepted::Message(info)) => {
            let key = info
                .wa_id
                .clone()
                .or_else(|| info.user_id.clone())
                .unwrap_or_else(|| info.input.clone());
            let verdict = state.lock().limits.send(&key, std::time::Instant::now());
            match verdict {
                SendVerdict::Accepted => {}
                SendVerdict::Throughput => return throughput_refused(),
                SendVerdict::Pair => return pair_refused(),
            }
            let wamid = new_wamid();
            let mut contact = serde_json::Map::new();
            contact.insert("input".into(), json!(info.input));
            info.insert_ids(&mut contact);
            let mut resp = json!({
                "messaging_product": "whatsapp",
                "contacts": [Value::Object(contact)],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            });
            if info.wa_id.is_none() && info.user_id.is_none() {
                // Group sends: no contacts entry.
                resp["contacts"] = json!([]);
            }
            webhooks::schedule_statuses(&state, info, wamid);
            Json(resp).into_response()
        }
    }
}

async fn upload_media(AxState(state): S, mut multipart: Multipart) -> Response {
    let mut product = None;
    let mut file: Option<(Bytes, Option<String>)> = None;
    let mut type_field = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return MetaError::invalid_parameter(format!("invalid multipart body: {e}"))
                    .into_response();
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let ct = field.content_type().map(str::to_string);
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                return MetaError::invalid_parameter(format!("invalid multipart body: {e}"))
                    .into_response();
            }
        };
        match name.as_str() {
            "messaging_product" => product = Some(String::from_utf8_lossy(&data).to_string()),
            "file" => file = Some((data, ct)),
            "type" => type_field = Some(String::from_utf8_lossy(&data).to_string()),
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return MetaError::invalid_parameter(
            "The parameter messaging_product is required and must be \"whatsapp\".",
        )
        .into_response();
    }
    let Some((data, ct)) = file else {
        return MetaError::missing("The parameter file is required.").into_response();
    };
    let Some(mime) = ct.or(type_field).filter(|m| !m.is_empty()) else {
        return MetaError::missing("The file part needs a Content-Type (the MIME type).")
            .into_response();
    };
    if data.is_empty() {
        return MetaError::invalid_value("The uploaded file is empty.").into_response();
    }
    let obj = webhooks::store_media(&state, data, &mime);
    Json(json!({"id": obj.id})).into_response()
}

fn media_url(id: &str, hash: &str) -> String {
    let ext = crate::state::now_ms() / 1000 + 300;
    format!(
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid={id}&ext={ext}&hash={hash}"
    )
}

async fn media_info(AxState(state): S, Path(id): Path<String>) -> Response {
    if id.starts_with("upload:") {
        return manage::upload_status(&state, &id);
    }
    if !id.chars().all(|c| c.is_ascii_digit()) {
        return MetaError::unknown_object(&id).into_response();
    }
    let found = state.lock().media.get(&id).cloned();
    match found {
        None => MetaError::unknown_object(&id).into_response(),
        Some(m) => Json(json!({
            "messaging_product": "whatsapp",
            "url": media_url(&m.id, &m.hash),
            "mime_type": m.mime_type,
            "sha256": m.sha256,
            "file_size": m.bytes.len(),
            "id": m.id,
        }))
        .into_response(),
    }
}

async fn upload_bytes(
    AxState(state): S,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if !id.starts_with("upload:") {
        return not_found().await;
    }
    manage::upload_bytes(state, id, headers, body).await
}

async fn delete_media(AxState(state): S, Path(id): Path<String>) -> Response {
    match state.lock().media.remove(&id) {
        None => MetaError::unknown_object(&id).into_response(),
        Some(_) => Json(json!({"success": true})).into_response(),
    }
}

#[derive(Deserialize)]
struct DownloadQuery {
    mid: Option<String>,
    hash: Option<String>,
}

async fn download_media(AxState(state): S, Query(q): Query<DownloadQuery>) -> Response {
    let mid = q.mid.unwrap_or_default();
    let found = state.lock().media.get(&mid).cloned();
    match found {
        Some(m) if q.hash.as_deref() == Some(m.hash.as_str()) => {
            let mut resp = Response::new(Body::from(m.bytes.clone()));
            if let Ok(v) = header::HeaderValue::from_str(&m.mime_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        _ => MetaError::unknown_object(&mid).into_response(),
    }
}

fn parse_webhook_config(state: &State, body: &Bytes) -> Result<WebhookConfig, D360Error> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| D360Error::bad_request(format!("request body is not valid JSON: {e}")))?;
    let url = v
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| D360Error::bad_request("url (string) is required"))?;
    webhooks::check_webhook_url(url, state.settings.allow_http_callbacks)
        .map_err(D360Error::bad_request)?;
    let headers = match v.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => webhooks::check_headers(m).map_err(D360Error::bad_request)?,
        Some(_) => {
            return Err(D360Error::bad_request(
                "headers must be an object of strings",
            ));
        }
    };
    Ok(WebhookConfig {
        url: url.to_string(),
        headers: headers.into_iter().collect::<BTreeMap<_, _>>(),
    })
}

/// Which stored webhook a route sets or reads (the phone number's or the WABA's).
type Slot = fn(&mut Inner) -> &mut Option<WebhookConfig>;

/// `POST` of a webhook route: check the config, store it in `slot`, answer `{"url"}`.
fn set_webhook(state: &State, body: &Bytes, slot: Slot) -> Response {
    match parse_webhook_config(state, body) {
        Err(e) => e.into_response(),
        Ok(cfg) => {
            let url = cfg.url.clone();
            *slot(&mut state.lock()) = Some(cfg);
            Json(json!({ "url": url })).into_response()
        }
    }
}

/// `GET` of a webhook route: `{"url"}`, or 404 with `missing` when none is set.
fn get_webhook(state: &State, slot: Slot, missing: &str) -> Response {
    match slot(&mut state.lock()).clone() {
        Some(c) => Json(json!({ "url": c.url })).into_response(),
        None => D360Error {
            status: 404,
            message: missing.into(),
        }
        .into_response(),
    }
}

async fn set_phone_webhook(AxState(state): S, body: Bytes) -> Response {
    set_webhook(&state, &body, |g| &mut g.phone_webhook)
}

async fn get_phone_webhook(AxState(state): S) -> Response {
    let missing = "No webhook URL is set for this phone number";
    get_webhook(&state, |g| &mut g.phone_webhook, missing)
}

async fn set_waba_webhook(AxState(state): S, body: Bytes) -> Response {
    set_webhook(&state, &body, |g| &mut g.waba_webhook)
}

async fn get_waba_webhook(AxState(state): S) -> Response {
    get_webhook(
        &state,
        |g| &mut g.waba_webhook,
        "No webhook URL is set for this WABA",
    )
}

async fn not_found() -> Response {
    MetaError {
        status: 404,
        code: 100,
        message: "Unknown path components".into(),
        details: "This path is not served by the 360dialog API (nor by the wa360 sandbox)".into(),
        subcode: None,
    }
    .into_response()
}

fn control_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

async fn inbound(AxState(state): S, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return control_error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}"));
        }
    };
    let (webhook, ids) = match webhooks::inbound_body(&state, &v) {
        Ok(x) => x,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, e),
    };
    match webhooks::deliver(&state, webhook.clone(), "inbound".into()) {
        None => control_error(
            StatusCode::CONFLICT,
            "no webhook URL is registered: POST /v1/configs/webhook (or /waba_webhook) first",
        ),
        Some(url) => {
            Json(json!({"message_ids": ids, "webhook_url": url, "body": webhook})).into_response()
        }
    }
}

async fn add_faults(AxState(state): S, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return control_error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}"));
        }
    };
    let rules: Result<Vec<FaultRule>, _> = if v.is_array() {
        serde_json::from_value(v)
    } else {
        serde_json::from_value(v).map(|r| vec![r])
    };
    match rules {
        Err(e) => control_error(StatusCode::BAD_REQUEST, format!("invalid fault rule: {e}")),
        Ok(rules) => {
            let n = rules.len();
            let mut g = state.lock();
            g.faults.extend(rules);
            Json(json!({"added": n, "pending": g.faults.len()})).into_response()
        }
    }
}

async fn list_faults(AxState(state): S) -> Response {
    let faults: Vec<FaultRule> = state.lock().faults.iter().cloned().collect();
    Json(json!({ "faults": faults })).into_response()
}

async fn clear_faults(AxState(state): S) -> Response {
    state.lock().faults.clear();
    Json(json!({"success": true})).into_response()
}

#[derive(Deserialize)]
struct RequestFilter {
    path: Option<String>,
    method: Option<String>,
}

async fn list_requests(AxState(state): S, Query(f): Query<RequestFilter>) -> Response {
    let reqs: Vec<_> = state
        .lock()
        .requests
        .iter()
        .filter(|r| f.path.as_deref().is_none_or(|p| r.path == p))
        .filter(|r| {
            f.method
                .as_deref()
                .is_none_or(|m| r.method.eq_ignore_ascii_case(m))
        })
        .cloned()
        .collect();
    Json(json!({ "requests": reqs })).into_response()
}

async fn list_deliveries(AxState(state): S) -> Response {
    let d = state.lock().deliveries.clone();
    Json(json!({ "deliveries": d })).into_response()
}

async fn reset(AxState(state): S) -> Response {
    state.reset();
    Json(json!({"success": true})).into_response()
}

fn limit_error(code: i64, message: &str, details: &str) -> Response {
    let body = meta_error_body(code, message, Some(details), None);
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

fn throughput_refused() -> Response {
    limit_error(
        130429,
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
    )
}

fn pair_refused() -> Response {
    limit_error(
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
    )
}

async fn set_limits(AxState(state): S, body: Bytes) -> Response {
    let limits: Limits = match serde_json::from_slice(&body) {
        Ok(l) => l,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("invalid limits: {e}")),
    };
    if let Err(e) = limits.check() {
        return control_error(StatusCode::BAD_REQUEST, e);
    }
    state.lock().limits.set(limits.clone());
    Json(json!({ "limits": limits })).into_response()
}

async fn get_limits(AxState(state): S) -> Response {
    let g = state.lock();
    Json(json!({ "limits": g.limits.limits(), "counters": g.limits.totals() })).into_response()
}

async fn list_recipients(AxState(state): S) -> Response {
    let g = state.lock();
    Json(json!({ "recipients": g.limits.counts(), "counters": g.limits.totals() })).into_response()
}
