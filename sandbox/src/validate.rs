//! Server-side validation of `POST /messages` bodies, answering like the real
//! API: Meta code 100 (invalid parameter / unknown type), 131008 (required
//! parameter missing) or 131009 (parameter value not valid), HTTP 400.
//!
//! It checks the envelope and the documented limits of docs/360dialog-api.md §4 that the
//! real API enforces synchronously; it is deliberately not a second copy of
//! the client's full validation table.

use serde_json::{Map, Value};
use wa360::messages::MESSAGE_TYPES;

use crate::errors::MetaError;

/// What an accepted body asks for.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// Mark-as-read or typing indicator: answer `{"success":true}`.
    StatusUpdate,
    /// A message to deliver.
    Message(OutboundInfo),
}

/// The facts of an accepted message the status webhooks need.
#[derive(Debug, Clone)]
pub struct OutboundInfo {
    /// What the caller sent as the recipient.
    pub input: String,
    /// Normalised phone (digits) when sent with `to`.
    pub wa_id: Option<String>,
    /// BSUID when sent with `recipient`.
    pub user_id: Option<String>,
    /// Message type.
    pub msg_type: String,
    /// `biz_opaque_callback_data`, echoed on statuses.
    pub callback_data: Option<String>,
}

impl OutboundInfo {
    /// Add the recipient's `wa_id` and `user_id` (those known) to a `contacts[]` entry,
    /// as the send answer and the status webhooks carry them.
    pub(crate) fn insert_ids(&self, contact: &mut Map<String, Value>) {
        if let Some(w) = &self.wa_id {
            contact.insert("wa_id".into(), Value::String(w.clone()));
        }
        if let Some(u) = &self.user_id {
            contact.insert("user_id".into(), Value::String(u.clone()));
        }
    }
}

type R<T> = Result<T, MetaError>;

fn obj<'a>(v: &'a Value, name: &str) -> R<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| MetaError::invalid_parameter(format!("{name} must be an object")))
}

fn req_str<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> R<&'a str> {
    match o.get(key) {
        None | Some(Value::Null) => Err(MetaError::missing(format!(
            "The parameter {path} is required."
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(MetaError::invalid_parameter(format!(
            "{path} must be a string"
        ))),
    }
}

/// The string at `key`; absent, null or empty: `The parameter {path} is required.`
fn req_non_empty<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> R<&'a str> {
    let s = req_str(o, key, path)?;
    if s.is_empty() {
        return Err(MetaError::missing(format!(
            "The parameter {path} is required."
        )));
    }
    Ok(s)
}

/// The array at `key`; absent (or not an array): `The parameter {path} is required.`
fn req_array<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> R<&'a Vec<Value>> {
    o.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| MetaError::missing(format!("The parameter {path} is required.")))
}

/// `{what} count invalid. Min: 1, Max: {max}` unless `1 <= n <= max`.
fn count_between(n: usize, max: usize, what: &str) -> R<()> {
    if n == 0 || n > max {
        return Err(MetaError::invalid_value(format!(
            "{what} count invalid. Min: 1, Max: {max}"
        )));
    }
    Ok(())
}

fn len_between(s: &str, min: usize, max: usize, path: &str) -> R<()> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(MetaError::invalid_value(format!(
            "{path} length invalid. Min length: {min}, Max length: {max}"
        )));
    }
    Ok(())
}

fn opt_len(o: &Map<String, Value>, key: &str, max: usize, path: &str) -> R<()> {
    if let Some(v) = o.get(key) {
        let s = v
            .as_str()
            .ok_or_else(|| MetaError::invalid_parameter(format!("{path} must be a string")))?;
        len_between(s, 0, max, path)?;
    }
    Ok(())
}

/// Validate a `POST /messages` body.
pub fn validate(body: &Value) -> R<Accepted> {
    let o = obj(body, "body")?;
    match o.get("messaging_product") {
        Some(Value::String(s)) if s == "whatsapp" => {}
        None => {
            return Err(MetaError::invalid_parameter(
                "The parameter messaging_product is required.",
            ));
        }
        Some(_) => {
            return Err(MetaError::invalid_parameter(
                "messaging_product must be \"whatsapp\"",
            ));
        }
    }
    if o.get("status").is_some() {
        let st = req_str(o, "status", "status")?;
        if st != "read" {
            return Err(MetaError::invalid_value("status must be \"read\""));
        }
        req_non_empty(o, "message_id", "message_id")?;
        if let Some(t) = o.get("typing_indicator") {
            let t = obj(t, "typing_indicator")?;
            if req_str(t, "type", "typing_indicator.type")? != "text" {
                return Err(MetaError::invalid_value(
                    "typing_indicator.type must be \"text\"",
                ));
            }
        }
        return Ok(Accepted::StatusUpdate);
    }

    let (input, wa_id, user_id) = recipient(o)?;
    let msg_type = req_str(o, "type", "type")?;
    if !MESSAGE_TYPES.contains(&msg_type) {
        return Err(MetaError::invalid_parameter(format!(
            "Unsupported message type: {msg_type}"
        )));
    }
    let payload = match o.get(msg_type) {
        None | Some(Value::Null) => {
            return Err(MetaError::missing(format!(
                "The parameter {msg_type} is required."
            )));
        }
        Some(p) => p,
    };
    match msg_type {
        "text" => text(payload)?,
        "image" | "audio" | "video" | "document" | "sticker" => media(msg_type, payload)?,
        "location" => location(payload)?,
        "contacts" => contacts(payload)?,
        "interactive" => interactive(payload)?,
        "template" => template(payload)?,
        "reaction" => reaction(payload)?,
        _ => {}
    }
    if let Some(ctx) = o.get("context") {
        let ctx = obj(ctx, "context")?;
        req_str(ctx, "message_id", "context.message_id")?;
    }
    let callback_data = match o.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            len_between(s, 0, 512, "biz_opaque_callback_data")?;
            Some(s.clone())
        }
        Some(_) => {
            return Err(MetaError::invalid_parameter(
                "biz_opaque_callback_data must be a string",
            ));
        }
    };
    Ok(Accepted::Message(OutboundInfo {
        input,
        wa_id,
        user_id,
        msg_type: msg_type.to_string(),
        callback_data,
    }))
}

type Recipient = (String, Option<String>, Option<String>);

fn recipient(o: &Map<String, Value>) -> R<Recipient> {
    let rtype = match o.get("recipient_type") {
        None => "individual",
        Some(Value::String(s)) if s == "individual" || s == "group" => s.as_str(),
        Some(_) => {
            return Err(MetaError::invalid_value(
                "recipient_type must be \"individual\" or \"group\"",
            ));
        }
    };
    if let Some(to) = o.get("to") {
        let to = to
            .as_str()
            .ok_or_else(|| MetaError::invalid_parameter("to must be a string"))?;
        if rtype == "group" {
            if to.is_empty() {
                return Err(MetaError::missing("The parameter to is required."));
            }
            return Ok((to.to_string(), None, None));
        }
        let digits: String = to.chars().filter(|c| c.is_ascii_digit()).collect();
        let allowed = to
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        if !allowed || digits.len() < 8 || digits.len() > 15 {
            return Err(MetaError::invalid_value(format!(
                "to is not a valid WhatsApp phone number: {to}"
            )));
        }
        return Ok((to.to_string(), Some(digits), None));
    }
    if let Some(r) = o.get("recipient") {
        let r = r
            .as_str()
            .ok_or_else(|| MetaError::invalid_parameter("recipient must be a string"))?;
        // BSUID shape: `CC.<digits>` or `CC.ENT.<digits>`.
        let ok = r.split_once('.').is_some_and(|(cc, rest)| {
            cc.len() == 2
                && cc.chars().all(|c| c.is_ascii_uppercase())
                && !rest.is_empty()
                && rest
                    .trim_start_matches("ENT.")
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric())
        });
        if !ok {
            return Err(MetaError::invalid_value(format!(
                "recipient is not a valid business-scoped user id: {r}"
            )));
        }
        return Ok((r.to_string(), None, Some(r.to_string())));
    }
    Err(MetaError::missing("The parameter to is required."))
}

fn text(p: &Value) -> R<()> {
    let o = obj(p, "text")?;
    let body = req_str(o, "body", "text.body")?;
    len_between(body, 1, 4096, "text.body")?;
    if let Some(v) = o.get("preview_url")
        && !v.is_boolean()
    {
        return Err(MetaError::invalid_parameter(
            "text.preview_url must be a boolean",
        ));
    }
    Ok(())
}

fn media_source(o: &Map<String, Value>, path: &str) -> R<()> {
    let id = o.get("id");
    let link = o.get("link");
    match (id, link) {
        (Some(_), Some(_)) => Err(MetaError::invalid_parameter(format!(
            "{path}: exactly one of id and link must be given, not both"
        ))),
        (None, None) => Err(MetaError::missing(format!(
            "The parameter {path}.id or {path}.link is required."
        ))),
        (Some(id), None) => {
            let id = id.as_str().ok_or_else(|| {
                MetaError::invalid_parameter(format!("{path}.id must be a string"))
            })?;
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(MetaError::invalid_value(format!(
                    "{path}.id is not a valid media id"
                )));
            }
            Ok(())
        }
        (None, Some(link)) => {
            let link = link.as_str().ok_or_else(|| {
                MetaError::invalid_parameter(format!("{path}.link must be a string"))
            })?;
            match url::Url::parse(link) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
                _ => Err(MetaError::invalid_value(format!(
                    "{path}.link must be an http(s) URL"
                ))),
            }
        }
    }
}

fn media(kind: &str, p: &Value) -> R<()> {
    let o = obj(p, kind)?;
    media_source(o, kind)?;
    if o.contains_key("caption") {
        if kind == "audio" || kind == "sticker" {
            return Err(MetaError::invalid_parameter(format!(
                "{kind}.caption is not supported for {kind} messages"
            )));
        }
        opt_len(o, "caption", 1024, &format!("{kind}.caption"))?;
    }
    Ok(())
}

fn number_in(o: &Map<String, Value>, key: &str, lo: f64, hi: f64) -> R<()> {
    let v = o
        .get(key)
        .ok_or_else(|| MetaError::missing(format!("The parameter location.{key} is required.")))?;
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| MetaError::invalid_parameter(format!("location.{key} must be a number")))?;
    if !(lo..=hi).contains(&n) {
        return Err(MetaError::invalid_value(format!(
            "location.{key} must be between {lo} and {hi}"
        )));
    }
    Ok(())
}

fn location(p: &Value) -> R<()> {
    let o = obj(p, "location")?;
    number_in(o, "latitude", -90.0, 90.0)?;
    number_in(o, "longitude", -180.0, 180.0)
}

fn contacts(p: &Value) -> R<()> {
    let arr = p
        .as_array()
        .ok_or_else(|| MetaError::invalid_parameter("contacts must be an array"))?;
    if arr.is_empty() || arr.len() > 5 {
        return Err(MetaError::invalid_value(
            "contacts must hold between 1 and 5 contacts",
        ));
    }
    for (i, c) in arr.iter().enumerate() {
        let c = obj(c, "contacts[]")?;
        let name = c.get("name").ok_or_else(|| {
            MetaError::missing(format!("The parameter contacts[{i}].name is required."))
        })?;
        let name = obj(name, "name")?;
        req_str(
            name,
            "formatted_name",
            &format!("contacts[{i}].name.formatted_name"),
        )?;
    }
    Ok(())
}

fn interactive(p: &Value) -> R<()> {
    let o = obj(p, "interactive")?;
    let itype = req_str(o, "type", "interactive.type")?;
    const ITYPES: &[&str] = &[
        "button",
        "list",
        "cta_url",
        "flow",
        "product",
        "product_list",
        "catalog_message",
        "location_request_message",
        "address_message",
        "call_permission_request",
    ];
    if !ITYPES.contains(&itype) {
        return Err(MetaError::invalid_parameter(format!(
            "Unsupported interactive type: {itype}"
        )));
    }
    if let Some(h) = o.get("header") {
        let h = obj(h, "interactive.header")?;
        if itype == "product" {
            return Err(MetaError::invalid_parameter(
                "interactive.header is not allowed for product messages",
            ));
        }
        if h.get("type").and_then(Value::as_str) == Some("text") {
            let t = req_str(h, "text", "interactive.header.text")?;
            len_between(t, 1, 60, "interactive.header.text")?;
        }
    } else if itype == "product_list" {
        return Err(MetaError::missing(
            "The parameter interactive.header is required.",
        ));
    }
    match o.get("body") {
        Some(b) => {
            let b = obj(b, "interactive.body")?;
            let t = req_str(b, "text", "interactive.body.text")?;
            len_between(t, 1, 1024, "interactive.body.text")?;
        }
        None if itype != "product" && itype != "product_list" && itype != "catalog_message" => {
            return Err(MetaError::missing(
                "The parameter interactive.body is required.",
            ));
        }
        None => {}
    }
    if let Some(f) = o.get("footer") {
        let f = obj(f, "interactive.footer")?;
        let t = req_str(f, "text", "interactive.footer.text")?;
        len_between(t, 1, 60, "interactive.footer.text")?;
    }
    let action = o
        .get("action")
        .ok_or_else(|| MetaError::missing("The parameter interactive.action is required."))?;
    let action = obj(action, "interactive.action")?;
    match itype {
        "button" => {
            let buttons = req_array(action, "buttons", "interactive.action.buttons")?;
            count_between(buttons.len(), 3, "Buttons")?;
            let mut ids = Vec::new();
            let mut titles = Vec::new();
            for b in buttons {
                let b = obj(b, "button")?;
                let reply = b
                    .get("reply")
                    .ok_or_else(|| MetaError::missing("The parameter button.reply is required."))?;
                let reply = obj(reply, "button.reply")?;
                let id = req_str(reply, "id", "button.reply.id")?;
                let title = req_str(reply, "title", "button.reply.title")?;
                len_between(id, 1, 256, "Button id")?;
                len_between(title, 1, 20, "Button title")?;
                if ids.contains(&id) || titles.contains(&title) {
                    return Err(MetaError::invalid_value(
                        "Button ids and titles must be unique",
                    ));
                }
                ids.push(id);
                titles.push(title);
            }
        }
        "list" => {
            let button = req_str(action, "button", "interactive.action.button")?;
            len_between(button, 1, 20, "interactive.action.button")?;
            let sections = req_array(action, "sections", "interactive.action.sections")?;
            count_between(sections.len(), 10, "Sections")?;
            let mut rows = 0usize;
            for s in sections {
                let s = obj(s, "section")?;
                opt_len(s, "title", 24, "section.title")?;
                let r = req_array(s, "rows", "section.rows")?;
                for row in r {
                    let row = obj(row, "row")?;
                    len_between(req_str(row, "id", "row.id")?, 1, 200, "row.id")?;
                    len_between(req_str(row, "title", "row.title")?, 1, 24, "row.title")?;
                    opt_len(row, "description", 72, "row.description")?;
                }
                rows += r.len();
            }
            count_between(rows, 10, "Total row")?;
        }
        _ => {}
    }
    Ok(())
}

fn template(p: &Value) -> R<()> {
    let o = obj(p, "template")?;
    req_non_empty(o, "name", "template.name")?;
    let lang = o
        .get("language")
        .ok_or_else(|| MetaError::missing("The parameter template.language is required."))?;
    let lang = obj(lang, "template.language")?;
    req_non_empty(lang, "code", "template.language.code")?;
    if let Some(c) = o.get("components")
        && !c.is_array()
    {
        return Err(MetaError::invalid_parameter(
            "template.components must be an array",
        ));
    }
    Ok(())
}

fn reaction(p: &Value) -> R<()> {
    let o = obj(p, "reaction")?;
    req_non_empty(o, "message_id", "reaction.message_id")?;
    match o.get("emoji") {
        None => Err(MetaError::missing(
            "The parameter reaction.emoji is required.",
        )),
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(MetaError::invalid_parameter(
            "reaction.emoji must be a string",
        )),
    }
}
