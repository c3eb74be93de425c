//! Webhook side of the sandbox: URL rules, status and inbound payloads, and
//! the delivery engine with retries and growing delays.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::state::{
    ALNUM, DISPLAY_PHONE_NUMBER, DeliveryAttempt, MediaObject, PHONE_NUMBER_ID, State, WABA_ID,
    WebhookConfig, new_wamid, now_ms, now_ts, numeric_id, random_string,
};
use crate::validate::OutboundInfo;

/// Nominal delay before the first retry of a failed delivery (scaled by
/// `time_scale`); each further retry doubles it, up to [`RETRY_CAP`].
pub const RETRY_BASE: Duration = Duration::from_secs(10);
/// Upper bound of one retry delay (scaled).
pub const RETRY_CAP: Duration = Duration::from_secs(3600);
/// A receiver slower than this (scaled, at least [`MIN_TIMEOUT`]) counts as failed.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Floor of the scaled delivery timeout, so a tiny time scale does not make
/// every local receiver on a busy machine "slow".
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Check a webhook URL against the rules of docs/360dialog-api.md §2.4.4. With
/// `allow_http_local`, `http://127.0.0.1[:port]` and `http://localhost[:port]`
/// are accepted too (the only relaxation). Returns the rule broken.
pub fn check_webhook_url(raw: &str, allow_http_local: bool) -> Result<(), String> {
    let parsed = url::Url::parse(raw).map_err(|e| format!("url is not a valid URL: {e}"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "url must contain a host".to_string())?
        .to_string();
    let after_scheme = raw.split_once("://").map(|(_, r)| r).unwrap_or("");
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let has_port = if host_port.starts_with('[') {
        host_port.contains("]:")
    } else {
        host_port.contains(':')
    };
    if allow_http_local
        && parsed.scheme() == "http"
        && (host == "127.0.0.1" || host == "localhost")
        && parsed.username().is_empty()
        && parsed.password().is_none()
    {
        return Ok(());
    }
    if parsed.scheme() != "https" {
        return Err(if allow_http_local {
            "url must use https (plain http is allowed only for 127.0.0.1 / localhost in this sandbox)".into()
        } else {
            "url must use https".into()
        });
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("url must not contain user credentials".into());
    }
    if host.contains('_') {
        return Err("url host must not contain '_'".into());
    }
    if has_port {
        return Err("url must not contain an explicit port".into());
    }
    Ok(())
}

/// Check registered header names (no `_`, valid header syntax) and values.
pub fn check_headers(headers: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in headers {
        if k.contains('_') {
            return Err(format!("header name '{k}' must not contain '_'"));
        }
        if axum::http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(format!("header name '{k}' is not a valid HTTP header name"));
        }
        let v = v
            .as_str()
            .ok_or_else(|| format!("header '{k}' must have a string value"))?;
        if axum::http::HeaderValue::from_str(v).is_err() {
            return Err(format!(
                "header '{k}' has a value that is not valid in HTTP"
            ));
        }
        out.push((k.clone(), v.to_string()));
    }
    Ok(out)
}

fn metadata() -> Value {
    json!({"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID})
}

/// Wrap one `value` of field `messages` in the webhook envelope.
pub fn envelope(value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": WABA_ID,
            "changes": [{"value": value, "field": "messages"}]
        }]
    })
}

/// The status webhook body for one status of an accepted message.
pub fn status_body(info: &OutboundInfo, wamid: &str, status: &str, conv_id: &str) -> Value {
    let mut st = Map::new();
    st.insert("id".into(), json!(wamid));
    st.insert("status".into(), json!(status));
    st.insert("timestamp".into(), json!(now_ts()));
    if let Some(w) = &info.wa_id {
        st.insert("recipient_id".into(), json!(w));
    }
    if let Some(u) = &info.user_id {
        st.insert("recipient_user_id".into(), json!(u));
    }
    if let Some(cb) = &info.callback_data {
        st.insert("biz_opaque_callback_data".into(), json!(cb));
    }
    let (category, ptype) = if info.msg_type == "template" {
        ("utility", "regular")
    } else {
        ("service", "free_customer_service")
    };
    if status != "read" {
        st.insert(
            "conversation".into(),
            json!({"id": conv_id, "origin": {"type": category}}),
        );
    }
    st.insert(
        "pricing".into(),
        json!({"billable": ptype == "regular", "pricing_model": "PMP", "type": ptype, "category": category}),
    );
    let mut contact = Map::new();
    contact.insert("profile".into(), json!({"name": "Sandbox User"}));
    info.insert_ids(&mut contact);
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "statuses": [Value::Object(st)],
    });
    if info.wa_id.is_some() || info.user_id.is_some() {
        value["contacts"] = json!([Value::Object(contact)]);
    }
    envelope(value)
}

/// After an accepted send: deliver sent → delivered → read (a reaction gets
/// only `sent`), spaced by scaled delays.
pub fn schedule_statuses(state: &Arc<State>, info: OutboundInfo, wamid: String) {
    let st = Arc::clone(state);
    state.spawn(async move {
        let steps: &[(&str, u64)] = if info.msg_type == "reaction" {
            &[("sent", 200)]
        } else {
            &[("sent", 200), ("delivered", 1000), ("read", 2000)]
        };
        let conv_id = random_string(32, b"0123456789abcdef");
        for (status, wait_ms) in steps {
            tokio::time::sleep(st.settings.scaled(Duration::from_millis(*wait_ms))).await;
            let body = status_body(&info, &wamid, status, &conv_id);
            // The next status waits for this one's first attempt, so a healthy
            // receiver sees sent → delivered → read in order; retries of a
            // failed attempt may still arrive later, as in production.
            if let Some((_, first_attempt)) = deliver_tracked(&st, body, format!("status:{status}"))
            {
                let _ = first_attempt.await;
            }
        }
    });
}

/// Queue one webhook body for delivery (with retries) to the current target.
/// Returns the target URL, or `None` when no webhook is registered.
pub fn deliver(state: &Arc<State>, body: Value, kind: String) -> Option<String> {
    deliver_tracked(state, body, kind).map(|(url, _)| url)
}

/// Like [`deliver`], also returning a receiver that fires once the first
/// attempt has finished (whatever its outcome).
fn deliver_tracked(
    state: &Arc<State>,
    body: Value,
    kind: String,
) -> Option<(String, oneshot::Receiver<()>)> {
    let target = state.webhook_target()?;
    let url = target.url.clone();
    let delivery_id = {
        let mut g = state.lock();
        g.next_delivery_id += 1;
        g.next_delivery_id
    };
    let (tx, rx) = oneshot::channel();
    let st = Arc::clone(state);
    state.spawn(async move {
        run_delivery(st, target, body, kind, delivery_id, tx).await;
    });
    Some((url, rx))
}

/// The nominal delay before retry number `attempt` (1-based attempt that failed).
pub fn retry_delay(attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    RETRY_BASE.saturating_mul(factor).min(RETRY_CAP)
}

async fn run_delivery(
    state: Arc<State>,
    target: WebhookConfig,
    body: Value,
    kind: String,
    delivery_id: u64,
    first_done: oneshot::Sender<()>,
) {
    let mut first_done = Some(first_done);
    let timeout = state.settings.scaled(DELIVERY_TIMEOUT).max(MIN_TIMEOUT);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    for attempt in 1..=state.settings.max_delivery_attempts.max(1) {
        let at_ms = now_ms();
        let mut req = state
            .http
            .post(&target.url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(bytes.clone());
        for (k, v) in &target.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let (status, error) = match req.send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                // Read the answer so a slow body also counts against the timeout.
                match resp.bytes().await {
                    Ok(_) => (Some(code), None),
                    Err(e) => (Some(code), Some(describe(&e))),
                }
            }
            Err(e) => (None, Some(describe(&e))),
        };
        let ok = status == Some(200) && error.is_none();
        let record = DeliveryAttempt {
            delivery_id,
            attempt,
            kind: kind.clone(),
            url: target.url.clone(),
            body: body.clone(),
            header_names: target.headers.keys().cloned().collect(),
            status,
            error,
            ok,
            at_ms,
        };
        {
            let mut g = state.lock();
            g.deliveries.push(record);
            crate::state::trim(&mut g.deliveries);
        }
        if let Some(tx) = first_done.take() {
            let _ = tx.send(());
        }
        if ok {
            return;
        }
        if attempt < state.settings.max_delivery_attempts {
            tokio::time::sleep(state.settings.scaled(retry_delay(attempt))).await;
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        let mut s = e.to_string();
        s.truncate(200);
        s
    }
}

fn default_mime(kind: &str) -> &'static str {
    match kind {
        "image" => "image/jpeg",
        "video" => "video/mp4",
        "audio" => "audio/ogg; codecs=opus",
        "document" => "application/pdf",
        "sticker" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// Store bytes as a media object and return its id.
pub fn store_media(state: &State, bytes: bytes::Bytes, mime: &str) -> MediaObject {
    let id = numeric_id(16);
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let obj = MediaObject {
        id: id.clone(),
        bytes,
        mime_type: mime.to_string(),
        sha256,
        hash: random_string(16, ALNUM),
    };
    state.lock().media.insert(id, obj.clone());
    obj
}

/// Turn one simple inbound description into a `messages[]` entry plus its contact.
fn simple_message(state: &State, desc: &Value) -> Result<(Value, Option<Value>), String> {
    let o = desc
        .as_object()
        .ok_or_else(|| "each inbound event must be a JSON object".to_string())?;
    let mtype = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "inbound event: `type` (string) is required".to_string())?
        .to_string();
    let mut msg = Map::new();
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("Sandbox User")
        .to_string();
    let user_id = o.get("user_id").and_then(Value::as_str).map(str::to_string);
    for (k, v) in o {
        if k == "name" || k == "user_id" {
            continue;
        }
        msg.insert(k.clone(), v.clone());
    }
    let from = o.get("from").and_then(Value::as_str).map(str::to_string);
    if from.is_none() && user_id.is_none() {
        return Err("inbound event: `from` (phone digits) or `user_id` is required".into());
    }
    if let Some(u) = &user_id {
        msg.insert("from_user_id".into(), json!(u));
    }
    msg.entry("id").or_insert_with(|| json!(new_wamid()));
    msg.entry("timestamp").or_insert_with(|| json!(now_ts()));
    // `"text": "hi"` shorthand.
    if mtype == "text"
        && let Some(Value::String(s)) = msg.get("text")
    {
        let s = s.clone();
        msg.insert("text".into(), json!({ "body": s }));
    }
    if mtype == "text" && msg.get("text").is_none_or(|t| t.get("body").is_none()) {
        return Err("inbound text event: `text.body` is required".into());
    }
    if matches!(
        mtype.as_str(),
        "image" | "video" | "audio" | "document" | "sticker"
    ) {
        let mut m = msg
            .get(&mtype)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !m.contains_key("id") {
            let mime = m
                .get("mime_type")
                .and_then(Value::as_str)
                .unwrap_or(default_mime(&mtype))
                .to_string();
            let content = format!("wa360 sandbox {mtype} placeholder");
            let stored = store_media(state, bytes::Bytes::from(content), &mime);
            m.insert("id".into(), json!(stored.id));
            m.insert("mime_type".into(), json!(mime));
            m.insert("sha256".into(), json!(stored.sha256));
        }
        if mtype == "audio" {
            m.entry("voice").or_insert(json!(false));
        }
        if mtype == "sticker" {
            m.entry("animated").or_insert(json!(false));
        }
        if mtype == "document" {
            m.entry("filename").or_insert(json!("document.pdf"));
        }
        msg.insert(mtype.clone(), Value::Object(m));
    }
    let mut contact = Map::new();
    contact.insert("profile".into(), json!({ "name": name }));
    if let Some(f) = &from {
        contact.insert("wa_id".into(), json!(f));
    }
    if let Some(u) = &user_id {
        contact.insert("user_id".into(), json!(u));
    }
    Ok((Value::Object(msg), Some(Value::Object(contact))))
}

/// Build the webhook body for `POST /_sandbox/inbound` and list the message ids.
///
/// Accepted forms: a full webhook body (has `object`); `{"messages":[…],
/// "contacts"?:[…]}` (raw Cloud API messages); `{"events":[…]}` or a JSON
/// array (several simple events in one POST); one simple event
/// `{"from","type","<type>":{…},"name"?}`.
pub fn inbound_body(state: &State, input: &Value) -> Result<(Value, Vec<String>), String> {
    if input.get("object").is_some() {
        let ids = collect_ids(input);
        return Ok((input.clone(), ids));
    }
    if let Some(msgs) = input.get("messages") {
        let msgs = msgs
            .as_array()
            .ok_or_else(|| "`messages` must be an array".to_string())?;
        let mut msgs = msgs.clone();
        for m in msgs.iter_mut() {
            if let Some(o) = m.as_object_mut() {
                o.entry("id").or_insert_with(|| json!(new_wamid()));
                o.entry("timestamp").or_insert_with(|| json!(now_ts()));
            }
        }
        let contacts = match input.get("contacts") {
            Some(c) => c.clone(),
            None => {
                let mut seen = Vec::new();
                for m in &msgs {
                    if let Some(f) = m.get("from").and_then(Value::as_str)
                        && !seen.contains(&f.to_string())
                    {
                        seen.push(f.to_string());
                    }
                }
                Value::Array(
                    seen.into_iter()
                        .map(|f| json!({"profile": {"name": "Sandbox User"}, "wa_id": f}))
                        .collect(),
                )
            }
        };
        return Ok(messages_body(contacts, Value::Array(msgs)));
    }
    let events: Vec<Value> = if let Some(arr) = input.as_array() {
        arr.clone()
    } else if let Some(arr) = input.get("events").and_then(Value::as_array) {
        arr.clone()
    } else {
        vec![input.clone()]
    };
    if events.is_empty() {
        return Err("no inbound events given".into());
    }
    let mut messages = Vec::new();
    let mut contacts: Vec<Value> = Vec::new();
    for e in &events {
        let (m, c) = simple_message(state, e)?;
        messages.push(m);
        if let Some(c) = c
            && !contacts.contains(&c)
        {
            contacts.push(c);
        }
    }
    Ok(messages_body(
        Value::Array(contacts),
        Value::Array(messages),
    ))
}

/// The webhook body of inbound `messages` from `contacts`, and the message ids.
fn messages_body(contacts: Value, messages: Value) -> (Value, Vec<String>) {
    let body = envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": contacts,
        "messages": messages,
    }));
    let ids = collect_ids(&body);
    (body, ids)
}

fn collect_ids(body: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let entries = body.get("entry").and_then(Value::as_array);
    for e in entries.into_iter().flatten() {
        let changes = e.get("changes").and_then(Value::as_array);
        for c in changes.into_iter().flatten() {
            let msgs = c
                .get("value")
                .and_then(|v| v.get("messages"))
                .and_then(Value::as_array);
            for m in msgs.into_iter().flatten() {
                if let Some(id) = m.get("id").and_then(Value::as_str) {
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        assert!(check_webhook_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_webhook_url("http://hooks.example.com/x", false).is_err());
        assert!(check_webhook_url("https://my_hook.example.com/x", false).is_err());
        assert!(check_webhook_url("https://hooks.example.com:8443/x", false).is_err());
        assert!(check_webhook_url("https://hooks.example.com:443/x", false).is_err());
        assert!(check_webhook_url("https://u:p@hooks.example.com/x", false).is_err());
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", false).is_err());
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_webhook_url("http://localhost:9000/hook", true).is_ok());
        assert!(check_webhook_url("http://10.0.0.1:9000/hook", true).is_err());
        assert!(check_webhook_url("https://127.0.0.1:9000/hook", true).is_err());
        // The path may contain '_' and ':'; only the host is checked.
        assert!(check_webhook_url("https://hooks.example.com/a_b:c", false).is_ok());
    }

    #[test]
    fn retry_delays_grow_and_cap() {
        assert_eq!(retry_delay(1), Duration::from_secs(10));
        assert_eq!(retry_delay(2), Duration::from_secs(20));
        assert_eq!(retry_delay(3), Duration::from_secs(40));
        assert_eq!(retry_delay(30), RETRY_CAP);
    }
}
