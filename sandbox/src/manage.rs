//! Emulation of the management API: templates (360dialog's `/v1/configs/templates`
//! and the Graph-style `/message_templates`), the business profile, `/health_status`,
//! `/block_users` and the resumable upload (`/uploads`, `/upload:{session}`).
//!
//! Its checks are written here on their own, from the documented rules (not shared
//! with the client), so the sandbox rejects what 360dialog would reject even when the
//! client's own checks have a bug. Created templates are approved at once.
//!
//! Control routes (no key): `POST /_sandbox/seen {"users": [...]}` marks users as
//! having written to the business in the last 24 hours (only those can be blocked);
//! `POST /_sandbox/health {...}` replaces the `/health_status` answer.

// Helpers return a ready error `Response` as their `Err`; its size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::errors::{MetaError, meta_error_body};
use crate::state::{
    ALNUM, DISPLAY_PHONE_NUMBER, PHONE_NUMBER_ID, State, WABA_ID, numeric_id, random_string,
};

type S = AxState<Arc<State>>;
type Q = Query<HashMap<String, String>>;

/// One upload session.
#[derive(Debug, Clone)]
pub struct UploadSession {
    length: u64,
    received: Vec<u8>,
}

/// The management state of the sandbox.
#[derive(Debug, Default)]
pub struct ManageState {
    /// Templates in creation order.
    pub templates: Vec<Value>,
    /// The business profile fields set so far.
    pub profile: Map<String, Value>,
    /// `/health_status` answer override.
    pub health: Option<Value>,
    /// Blocked users, in blocking order.
    pub blocked: Vec<String>,
    /// Users who wrote to the business (may be blocked).
    pub seen: BTreeSet<String>,
    /// Resumable upload sessions.
    pub uploads: HashMap<String, UploadSession>,
    /// Handles issued by finished uploads.
    pub handles: BTreeSet<String>,
}

fn bad(details: impl Into<String>) -> Response {
    MetaError::invalid_parameter(details).into_response()
}

fn not_found(details: impl Into<String>) -> Response {
    MetaError {
        status: 404,
        code: 100,
        message: "(#100) Invalid parameter".into(),
        details: details.into(),
        subcode: Some(33),
    }
    .into_response()
}

fn json_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| bad(format!("request body is not valid JSON: {e}")))
}

fn limit_of(q: &HashMap<String, String>, default: usize) -> Result<usize, Response> {
    match q.get("limit") {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(bad(format!("limit must be 1..1000 (got {s:?})"))),
        },
    }
}

/// A Graph-style listing at `/{path}` of the entries `entries` picks: one page of
/// `limit` (query, default `default`) from the `after` cursor, answered as
/// `{"data": […], "paging": {"cursors": …, "next"?}}` with `next` while entries remain.
fn listing(
    state: &State,
    q: &HashMap<String, String>,
    default: usize,
    path: &str,
    entries: impl FnOnce(&ManageState) -> Vec<Value>,
) -> Response {
    let limit = match limit_of(q, default) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let start = match q.get("after").map(|a| uncursor(a)) {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => return bad("after is not a valid cursor"),
    };
    let all = entries(&state.lock().manage);
    let end = (start + limit).min(all.len());
    let data = all.get(start..end).unwrap_or_default();
    let mut paging = json!({"cursors": {"before": cursor(start), "after": cursor(end)}});
    if end < all.len() {
        let base = &state.settings.base_url;
        paging["next"] = json!(format!("{base}/{path}?limit={limit}&after={}", cursor(end)));
    }
    Json(json!({"data": data, "paging": paging})).into_response()
}

fn cursor(n: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{n}"))
}

fn uncursor(s: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------
// Template rules (the sandbox's own reading of the documented limits)
// ---------------------------------------------------------------------------

fn count_placeholders(text: &str) -> Result<(usize, Vec<String>), String> {
    let mut nums = BTreeSet::new();
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let j = after.find("}}").ok_or("unclosed {{")?;
        let inner = &after[..j];
        if let Ok(n) = inner.parse::<usize>() {
            nums.insert(n);
        } else if !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            if !names.contains(&inner.to_string()) {
                names.push(inner.to_string());
            }
        } else {
            return Err(format!("invalid variable {{{{{inner}}}}}"));
        }
        rest = &after[j + 2..];
    }
    if !nums.is_empty() && !names.is_empty() {
        return Err("mixed named and positional variables".into());
    }
    if !nums.is_empty() && nums.iter().copied().ne(1..=nums.len()) {
        return Err("variables must be sequential from {{1}}".into());
    }
    Ok((nums.len(), names))
}

fn check_template(v: &Value) -> Result<(), String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let name = s("name").ok_or("name is required")?;
    if name.is_empty()
        || name.chars().count() > 512
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err("name must be 1-512 lowercase alphanumeric characters or underscores".into());
    }
    let cat = s("category").ok_or("category is required")?;
    if !["AUTHENTICATION", "MARKETING", "UTILITY"].contains(&cat) {
        return Err(format!("category {cat:?} is not valid"));
    }
    if s("language").is_none_or(str::is_empty) {
        return Err("language is required".into());
    }
    let comps = v
        .get("components")
        .and_then(Value::as_array)
        .ok_or("components are required")?;
    let mut body_seen = false;
    for c in comps {
        let t = c.get("type").and_then(Value::as_str).unwrap_or("");
        let text = c.get("text").and_then(Value::as_str);
        match t {
            "BODY" => {
                body_seen = true;
                if let Some(text) = text {
                    if text.chars().count() > 1024 {
                        return Err("body text is longer than 1024 characters".into());
                    }
                    let (n, names) = count_placeholders(text)?;
                    if n > 0 {
                        let ex = c
                            .pointer("/example/body_text/0")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len);
                        if ex != n {
                            return Err(format!("body has {n} variables but {ex} example values"));
                        }
                    }
                    if !names.is_empty() {
                        let ex = c
                            .pointer("/example/body_text_named_params")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len);
                        if ex != names.len() {
                            return Err("every named body variable needs an example".into());
                        }
                    }
                } else if cat != "AUTHENTICATION" {
                    return Err("body text is required".into());
                }
            }
            "HEADER" => {
                let f = c.get("format").and_then(Value::as_str).unwrap_or("");
                match f {
                    "TEXT" => {
                        let text = text.ok_or("header text is required")?;
                        if text.chars().count() > 60 {
                            return Err("header text is longer than 60 characters".into());
                        }
                        let (n, names) = count_placeholders(text)?;
                        if n + names.len() > 1 {
                            return Err("header text has more than one variable".into());
                        }
                    }
                    "IMAGE" | "VIDEO" | "DOCUMENT" => {
                        if c.pointer("/example/header_handle/0").is_none() {
                            return Err(format!("a {f} header needs example.header_handle"));
                        }
                    }
                    "LOCATION" => {}
                    other => return Err(format!("header format {other:?} is not valid")),
                }
            }
            "FOOTER" => {
                if text.is_some_and(|t| t.chars().count() > 60) {
                    return Err("footer text is longer than 60 characters".into());
                }
            }
            "BUTTONS" => {
                let b = c
                    .get("buttons")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if b == 0 || b > 10 {
                    return Err("a template has 1 to 10 buttons".into());
                }
            }
            other => return Err(format!("component type {other:?} is not valid")),
        }
    }
    if !body_seen {
        return Err("a BODY component is required".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Template routes
// ---------------------------------------------------------------------------

pub(crate) async fn create_template(AxState(state): S, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(e) = check_template(&v) {
        return bad(e);
    }
    let name = v["name"].as_str().unwrap_or_default().to_string();
    let language = v["language"].as_str().unwrap_or_default().to_string();
    let mut g = state.lock();
    if g.manage.templates.iter().any(|t| {
        t["name"].as_str() == Some(name.as_str()) && t["language"].as_str() == Some(&language)
    }) {
        let body = meta_error_body(
            100,
            "Invalid parameter",
            Some(&format!(
                "Message template \"{name}\" already exists in {language}"
            )),
            Some(2388024),
        );
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let id = numeric_id(16);
    let mut t = Map::new();
    t.insert("id".into(), json!(id));
    t.insert("name".into(), json!(name));
    t.insert("language".into(), json!(language));
    t.insert("category".into(), v["category"].clone());
    t.insert("status".into(), json!("APPROVED"));
    t.insert("rejected_reason".into(), json!("NONE"));
    t.insert(
        "namespace".into(),
        json!("c8ae5f90_307a_ca4c_b8f6_d1e2a2573574"),
    );
    t.insert("quality_score".into(), json!({"score": "UNKNOWN"}));
    if let Some(pf) = v.get("parameter_format") {
        t.insert("parameter_format".into(), pf.clone());
    }
    t.insert("components".into(), v["components"].clone());
    g.manage.templates.push(Value::Object(t));
    Json(json!({"id": id, "status": "APPROVED", "category": v["category"]})).into_response()
}

fn matches_filters(t: &Value, filters: &Map<String, Value>) -> bool {
    filters.iter().all(|(k, want)| {
        let key = k.strip_prefix("business_templates.").unwrap_or(k);
        t.get(key) == Some(want)
    })
}

pub(crate) async fn list_templates(AxState(state): S, Query(q): Q) -> Response {
    let limit = match limit_of(&q, 1000) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let offset: usize = match q.get("offset").map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad("offset must be a non-negative integer"),
    };
    let filters = match q.get("filters") {
        None => Map::new(),
        Some(f) => match serde_json::from_str::<Value>(f) {
            Ok(Value::Object(m)) => m,
            _ => return bad("filters must be a JSON object"),
        },
    };
    let mut all: Vec<Value> = state
        .lock()
        .manage
        .templates
        .iter()
        .filter(|t| matches_filters(t, &filters))
        .cloned()
        .collect();
    if let Some(sort) = q.get("sort") {
        let key = sort
            .trim_start_matches('-')
            .strip_prefix("business_templates.")
            .unwrap_or(sort.trim_start_matches('-'))
            .to_string();
        all.sort_by(|a, b| {
            a.get(&key)
                .map(Value::to_string)
                .cmp(&b.get(&key).map(Value::to_string))
        });
        if sort.starts_with('-') {
            all.reverse();
        }
    }
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    Json(json!({
        "count": page.len(),
        "filters": filters,
        "limit": limit,
        "offset": offset,
        "sort": q.get("sort").cloned().unwrap_or_else(|| "id".into()),
        "total": total,
        "waba_templates": page,
    }))
    .into_response()
}

pub(crate) async fn get_template(AxState(state): S, Path(id): Path<String>) -> Response {
    let found = state
        .lock()
        .manage
        .templates
        .iter()
        .find(|t| t["id"].as_str() == Some(id.as_str()))
        .cloned();
    match found {
        Some(t) => Json(t).into_response(),
        None => not_found(format!("template {id} does not exist")),
    }
}

pub(crate) async fn delete_template(AxState(state): S, Path(name): Path<String>) -> Response {
    let mut g = state.lock();
    let before = g.manage.templates.len();
    g.manage
        .templates
        .retain(|t| t["name"].as_str() != Some(name.as_str()));
    if g.manage.templates.len() == before {
        return not_found(format!("no template named {name}"));
    }
    Json(json!({"success": true})).into_response()
}

pub(crate) async fn graph_templates(AxState(state): S, Query(q): Q) -> Response {
    listing(&state, &q, 25, "message_templates", |m| {
        m.templates
            .iter()
            .filter(|t| q.get("name").is_none_or(|n| t["name"].as_str() == Some(n)))
            .filter(|t| {
                q.get("status")
                    .is_none_or(|s| t["status"].as_str() == Some(s))
            })
            .map(|t| {
                // Graph style: the language as a plain code, ids as strings.
                let mut t = t.clone();
                if let Some(o) = t.as_object_mut() {
                    o.remove("namespace");
                }
                t
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------
// Business profile
// ---------------------------------------------------------------------------

pub(crate) async fn get_profile(AxState(state): S, Query(q): Q) -> Response {
    let profile = state.lock().manage.profile.clone();
    let fields: Vec<String> = q
        .get("fields")
        .map(|f| f.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    for (k, v) in &profile {
        if fields.is_empty() || fields.contains(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out.insert("messaging_product".into(), json!("whatsapp"));
    Json(json!({"data": [out]})).into_response()
}

fn check_profile(v: &Map<String, Value>, current: &Map<String, Value>) -> Result<(), String> {
    let len = |k: &str| v.get(k).and_then(Value::as_str).map(|s| s.chars().count());
    if v.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err("messaging_product must be \"whatsapp\"".into());
    }
    for k in v.keys() {
        if ![
            "messaging_product",
            "about",
            "address",
            "description",
            "email",
            "websites",
            "vertical",
            "profile_picture_handle",
        ]
        .contains(&k.as_str())
        {
            return Err(format!("unknown field {k}"));
        }
    }
    if let Some(n) = len("about")
        && !(1..=139).contains(&n)
    {
        return Err("about must be 1-139 characters".into());
    }
    if len("address").is_some_and(|n| n > 256) {
        return Err("address must be at most 256 characters".into());
    }
    if len("description").is_some_and(|n| n > 512) {
        return Err("description must be at most 512 characters".into());
    }
    if let Some(e) = v.get("email").and_then(Value::as_str)
        && (e.chars().count() > 128 || !e.contains('@') || !e.contains('.'))
    {
        return Err("email is not a valid email address".into());
    }
    if let Some(w) = v.get("websites") {
        let list = w.as_array().ok_or("websites must be a list")?;
        if list.len() > 2 {
            return Err("at most 2 websites".into());
        }
        for site in list {
            let s = site.as_str().ok_or("websites must be strings")?;
            if s.chars().count() > 256 || !(s.starts_with("http://") || s.starts_with("https://")) {
                return Err("each website must start with http:// or https:// (max 256)".into());
            }
        }
    }
    if let Some(vert) = v.get("vertical").and_then(Value::as_str) {
        if vert.is_empty() && current.contains_key("vertical") {
            return Err("vertical cannot be emptied once set".into());
        }
        if !vert.is_empty() && !wa360::manage::profile::VERTICALS.contains(&vert) {
            return Err(format!("vertical {vert:?} is not valid"));
        }
    }
    Ok(())
}

pub(crate) async fn set_profile(AxState(state): S, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return bad("request body must be an object"),
        Err(r) => return r,
    };
    let mut g = state.lock();
    if let Err(e) = check_profile(&v, &g.manage.profile) {
        return MetaError::invalid_value(e).into_response();
    }
    for (k, val) in v {
        match k.as_str() {
            "messaging_product" => {}
            "profile_picture_handle" => {
                let h = val.as_str().unwrap_or_default().to_string();
                if !g.manage.handles.contains(&h) {
                    return MetaError::invalid_value(
                        "profile_picture_handle is not a handle of a finished upload",
                    )
                    .into_response();
                }
                let url = format!(
                    "https://pps.whatsapp.net/v/t61/{}.jpg",
                    random_string(16, ALNUM)
                );
                g.manage
                    .profile
                    .insert("profile_picture_url".into(), json!(url));
            }
            _ => {
                g.manage.profile.insert(k, val);
            }
        }
    }
    Json(json!({"success": true})).into_response()
}

// ---------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------

pub(crate) async fn health(AxState(state): S) -> Response {
    if let Some(h) = state.lock().manage.health.clone() {
        return Json(h).into_response();
    }
    let ok =
        |t: &str, id: &str| json!({"entity_type": t, "id": id, "can_send_message": "AVAILABLE"});
    Json(json!({
        "health_status": {
            "can_send_message": "AVAILABLE",
            "entities": [
                ok("PHONE_NUMBER", PHONE_NUMBER_ID),
                ok("WABA", WABA_ID),
                ok("BUSINESS", "203040506070809"),
                ok("APP", "304050607080910"),
            ]
        }
    }))
    .into_response()
}

pub(crate) async fn set_health(AxState(state): S, body: Bytes) -> Response {
    let answer = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Bool(false));
    match apply_health(&state, answer) {
        Ok(()) => Json(json!({"success": true})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

/// Replace the `/health_status` answer (`null` restores the healthy one): the
/// control route and [`crate::Control::set_health`].
pub(crate) fn apply_health(state: &State, answer: Value) -> Result<(), String> {
    match answer {
        Value::Object(_) => state.lock().manage.health = Some(answer),
        Value::Null => state.lock().manage.health = None,
        _ => return Err("body must be a JSON object (or null to restore)".into()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocked users
// ---------------------------------------------------------------------------

pub(crate) async fn mark_seen(AxState(state): S, body: Bytes) -> Response {
    let users: Vec<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("users").cloned())
        .and_then(|u| serde_json::from_value(u).ok())
        .unwrap_or_default();
    match apply_seen(&state, &users) {
        Ok(()) => Json(json!({"success": true})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

/// Mark users as having written to the business in the last 24 hours (only
/// those can be blocked): the control route and [`crate::Control::mark_seen`].
pub(crate) fn apply_seen(state: &State, users: &[String]) -> Result<(), String> {
    if users.is_empty() {
        return Err("body must be {\"users\": [\"<phone>\", …]}".into());
    }
    let mut g = state.lock();
    for u in users {
        g.manage.seen.insert(u.trim_start_matches('+').to_string());
    }
    Ok(())
}

fn block_users_of(body: &Bytes) -> Result<Vec<String>, Response> {
    let v = json_body(body)?;
    if v.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(bad("messaging_product must be \"whatsapp\""));
    }
    let list = v
        .get("block_users")
        .and_then(Value::as_array)
        .ok_or_else(|| MetaError::missing("block_users is required").into_response())?;
    if list.len() > 1000 {
        let body = meta_error_body(
            130429,
            "(#130429) Rate limit hit",
            Some("Too many users in one request (at most 1000)"),
            None,
        );
        return Err((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    list.iter()
        .map(|u| {
            u.get("user")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    MetaError::missing("each block_users entry needs user").into_response()
                })
        })
        .collect()
}

pub(crate) async fn block(AxState(state): S, body: Bytes) -> Response {
    let users = match block_users_of(&body) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut g = state.lock();
    let mut added = Vec::new();
    let mut failed = Vec::new();
    for input in users {
        let wa_id = input.trim_start_matches('+').to_string();
        let fail = |code: i64, msg: &str, details: &str| {
            json!({"input": input, "wa_id": wa_id, "errors": [
                {"message": msg, "code": code, "error_data": {"details": details}}]})
        };
        if wa_id == DISPLAY_PHONE_NUMBER {
            failed.push(fail(
                131021,
                "Self block",
                "Failed to block self phone number",
            ));
        } else if !g.manage.seen.contains(&wa_id) {
            failed.push(fail(
                131047,
                "Re-engagement required",
                "User has not messaged in the last 24 hours",
            ));
        } else if !g.manage.blocked.contains(&wa_id) && g.manage.blocked.len() >= 64_000 {
            failed.push(fail(139101, "Blocklist limit reached", "64,000 users"));
        } else {
            if !g.manage.blocked.contains(&wa_id) {
                g.manage.blocked.push(wa_id.clone());
            }
            added.push(json!({"input": input, "wa_id": wa_id}));
        }
    }
    if failed.is_empty() {
        return Json(
            json!({"messaging_product": "whatsapp", "block_users": {"added_users": added}}),
        )
        .into_response();
    }
    let mut body = meta_error_body(
        139100,
        "(#139100) Failed to block/unblock users",
        Some("Failed to block some users, see the block_users response list for details"),
        None,
    );
    body["messaging_product"] = json!("whatsapp");
    body["block_users"] = json!({"added_users": added, "failed_users": failed});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

pub(crate) async fn unblock(AxState(state): S, body: Bytes) -> Response {
    let users = match block_users_of(&body) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut g = state.lock();
    let removed: Vec<Value> = users
        .into_iter()
        .map(|input| {
            let wa_id = input.trim_start_matches('+').to_string();
            g.manage.blocked.retain(|b| *b != wa_id);
            json!({"input": input, "wa_id": wa_id})
        })
        .collect();
    Json(json!({"messaging_product": "whatsapp", "block_users": {"removed_users": removed}}))
        .into_response()
}

pub(crate) async fn list_blocked(AxState(state): S, Query(q): Q) -> Response {
    listing(&state, &q, 100, "block_users", |m| {
        m.blocked
            .iter()
            .map(|w| json!({"messaging_product": "whatsapp", "wa_id": w}))
            .collect()
    })
}

// ---------------------------------------------------------------------------
// Resumable upload
// ---------------------------------------------------------------------------

pub(crate) async fn create_upload(AxState(state): S, Query(q): Q) -> Response {
    let name = q.get("file_name").filter(|s| !s.is_empty());
    let length = q.get("file_length").and_then(|s| s.parse::<u64>().ok());
    let mime = q.get("file_type").filter(|s| s.contains('/'));
    let (Some(_), Some(length), Some(_)) = (name, length, mime) else {
        return MetaError::missing(
            "file_name, file_length (bytes) and file_type (MIME type) are required",
        )
        .into_response();
    };
    if length == 0 || length > 100 * 1024 * 1024 {
        return MetaError::invalid_value("file_length must be 1 byte to 100 MB").into_response();
    }
    let id = format!("upload:{}", random_string(24, ALNUM));
    state.lock().manage.uploads.insert(
        id.clone(),
        UploadSession {
            length,
            received: Vec::new(),
        },
    );
    Json(json!({"id": id})).into_response()
}

/// `POST /upload:{session}` (routed through `/{id}`).
pub(crate) async fn upload_bytes(
    state: Arc<State>,
    id: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let offset = headers
        .get("file_offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    let Some(offset) = offset else {
        return MetaError::missing("header file_offset is required").into_response();
    };
    let mut g = state.lock();
    let Some(session) = g.manage.uploads.get_mut(&id) else {
        return not_found(format!("upload session {id} does not exist"));
    };
    if offset != session.received.len() as u64 {
        return MetaError::invalid_value(format!(
            "file_offset {offset} does not match the {} bytes received",
            session.received.len()
        ))
        .into_response();
    }
    if session.received.len() as u64 + body.len() as u64 > session.length {
        return MetaError::invalid_value("more bytes than file_length").into_response();
    }
    session.received.extend_from_slice(&body);
    if (session.received.len() as u64) < session.length {
        return Json(json!({"id": id, "file_offset": session.received.len()})).into_response();
    }
    let h = format!(
        "4::{}",
        base64::engine::general_purpose::STANDARD.encode(random_string(24, ALNUM))
    );
    g.manage.handles.insert(h.clone());
    Json(json!({"h": h})).into_response()
}

/// `GET /upload:{session}` (routed through `/{id}`).
pub(crate) fn upload_status(state: &State, id: &str) -> Response {
    match state.lock().manage.uploads.get(id) {
        Some(s) => Json(json!({"id": id, "file_offset": s.received.len()})).into_response(),
        None => not_found(format!("upload session {id} does not exist")),
    }
}
