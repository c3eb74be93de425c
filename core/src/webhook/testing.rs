//! Helpers for tests: signed / authorised deliveries and valid Cloud API
//! webhook bodies, in the same shape as 360dialog forwards them
//! (`object` / `entry` / `changes` / `value` with `metadata`, `contacts`,
//! digit-string timestamps, pricing on statuses).
//!
//! ```
//! use wa360::webhook::testing;
//! use wa360::webhook::verify::Verifier;
//! let body = testing::inbound_text("15555550123", "hi", "wamid.TEST1").to_string();
//! let headers = testing::signed_headers("app-secret", body.as_bytes());
//! Verifier::hub_signature("app-secret")?.verify(&headers, body.as_bytes())?;
//! # Ok::<(), wa360::Error>(())
//! ```
//!
//! Senders and recipients written like a business-scoped user id (they
//! contain a `.`, e.g. `US.5093817264530918273`) are placed in `from_user_id`
//! / `user_id` / `recipient_user_id` with no phone number, as in
//! username-era payloads; anything else is a phone number (`from`, `wa_id`,
//! `recipient_id`).

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::verify::HUB_SIGNATURE_HEADER;

/// WABA id of the example business (entry `id`).
pub const WABA_ID: &str = "104785930284756";
/// Phone-number id of the example business (`metadata.phone_number_id`).
pub const PHONE_NUMBER_ID: &str = "112233445566778";
/// Display number of the example business (`metadata.display_phone_number`).
pub const DISPLAY_PHONE_NUMBER: &str = "15550104321";

const ERROR_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// `sha256=<lowercase hex HMAC-SHA256(app_secret, body)>`, the value of
/// `X-Hub-Signature-256` for `body`.
pub fn hub_signature(app_secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an
    // empty signature (which never verifies) rather than panicking.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
    }
    out
}

/// Headers of a delivery signed like Meta does: `Content-Type:
/// application/json` and `X-Hub-Signature-256` over `body`.
pub fn signed_headers(app_secret: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            HUB_SIGNATURE_HEADER.to_string(),
            hub_signature(app_secret, body),
        ),
    ]
}

/// A complete signed delivery of `payload`: the exact body bytes and the
/// headers of [`signed_headers`] over those bytes.
pub fn signed_delivery(app_secret: &str, payload: &Value) -> (Vec<u8>, Vec<(String, String)>) {
    let body = payload.to_string().into_bytes();
    let headers = signed_headers(app_secret, &body);
    (body, headers)
}

/// `("Authorization", "Basic base64(user:pass)")` (defined with the verifier that checks it;
/// kept here too for tests that build deliveries).
pub use super::verify::basic_auth_header;

/// The business a test payload is addressed to, and the time it carries.
/// [`Business::default`] is the example business of the shared payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    /// Entry `id` (the WABA id).
    pub waba_id: String,
    /// `metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `metadata.display_phone_number` (digits only).
    pub display_phone_number: String,
    /// Unix seconds put in timestamps; `None` = the current time.
    pub timestamp: Option<i64>,
    /// `contacts[].profile.name` of inbound senders.
    pub contact_name: String,
}

impl Default for Business {
    fn default() -> Self {
        Business {
            waba_id: WABA_ID.to_string(),
            phone_number_id: PHONE_NUMBER_ID.to_string(),
            display_phone_number: DISPLAY_PHONE_NUMBER.to_string(),
            timestamp: None,
            contact_name: "Test User".to_string(),
        }
    }
}

fn is_user_id(id: &str) -> bool {
    crate::messages::is_bsuid(id)
}

impl Business {
    /// A business with these ids (timestamps: now; contact name `Test User`).
    pub fn new(waba_id: &str, phone_number_id: &str, display_phone_number: &str) -> Self {
        Business {
            waba_id: waba_id.to_string(),
            phone_number_id: phone_number_id.to_string(),
            display_phone_number: display_phone_number.to_string(),
            ..Business::default()
        }
    }

    /// Fix the timestamp (unix seconds) of the payloads built from now on.
    #[must_use]
    pub fn at(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    fn ts(&self) -> String {
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        };
        self.timestamp.unwrap_or_else(now).to_string()
    }

    fn metadata(&self) -> Value {
        json!({
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_number_id,
        })
    }

    /// Wrap one change `value` of field `field` in a complete POST body.
    pub fn envelope(&self, field: &str, value: Value) -> Value {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": self.waba_id,
                "changes": [{"value": value, "field": field}],
            }],
        })
    }

    /// A `messages`-field webhook with the contact of `who` and one `item` in the list `list`
    /// (`messages` or `statuses`).
    fn one_item(&self, list: &str, who: &str, item: Map<String, Value>) -> Value {
        let mut value = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "contacts": [self.contact(who)],
        });
        value[list] = json!([item]);
        self.envelope("messages", value)
    }

    fn contact(&self, who: &str) -> Value {
        if is_user_id(who) {
            json!({"profile": {"name": self.contact_name}, "user_id": who})
        } else {
            json!({"profile": {"name": self.contact_name}, "wa_id": who})
        }
    }

    /// One inbound message of any `msg_type`, with its type object
    /// (`{"type": msg_type, msg_type: object}`), from `from`, with the
    /// matching `contacts` entry.
    pub fn inbound(&self, from: &str, wamid: &str, msg_type: &str, object: Value) -> Value {
        let mut msg = Map::new();
        if is_user_id(from) {
            msg.insert("from_user_id".into(), json!(from));
        } else {
            msg.insert("from".into(), json!(from));
        }
        msg.insert("id".into(), json!(wamid));
        msg.insert("timestamp".into(), json!(self.ts()));
        msg.insert("type".into(), json!(msg_type));
        msg.insert(msg_type.to_string(), object);
        self.one_item("messages", from, msg)
    }

    /// An inbound text message.
    pub fn inbound_text(&self, from: &str, body: &str, wamid: &str) -> Value {
        self.inbound(from, wamid, "text", json!({"body": body}))
    }

    /// An inbound reply-button tap (`interactive.button_reply`), replying to
    /// the business message `context_wamid`.
    pub fn inbound_button_reply(
        &self,
        from: &str,
        wamid: &str,
        context_wamid: &str,
        button_id: &str,
        title: &str,
    ) -> Value {
        let mut body = self.inbound(
            from,
            wamid,
            "interactive",
            json!({"type": "button_reply", "button_reply": {"id": button_id, "title": title}}),
        );
        body["entry"][0]["changes"][0]["value"]["messages"][0]["context"] =
            json!({"from": self.display_phone_number, "id": context_wamid});
        body
    }

    /// An inbound reaction (`emoji` empty = reaction removed).
    pub fn inbound_reaction(&self, from: &str, wamid: &str, to_wamid: &str, emoji: &str) -> Value {
        self.inbound(
            from,
            wamid,
            "reaction",
            json!({"message_id": to_wamid, "emoji": emoji}),
        )
    }

    /// A status update of a message the business sent. `sent`, `delivered`,
    /// `read` and `played` carry `conversation` and PMP `pricing`; `failed`
    /// carries the 131026 "Message undeliverable" error (use
    /// [`Business::status_failed`] for another code).
    pub fn status(&self, wamid: &str, status: &str, recipient: &str) -> Value {
        self.status_with(wamid, status, recipient, None)
    }

    /// [`Business::status`] echoing `biz_opaque_callback_data`.
    pub fn status_with(
        &self,
        wamid: &str,
        status: &str,
        recipient: &str,
        biz_opaque_callback_data: Option<&str>,
    ) -> Value {
        if status == "failed" {
            let mut body = self.status_failed(
                wamid,
                recipient,
                131026,
                "Message undeliverable",
                "Message Undeliverable.",
            );
            if let Some(data) = biz_opaque_callback_data {
                body["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] =
                    json!(data);
            }
            return body;
        }
        let mut st = self.status_object(wamid, status, recipient, biz_opaque_callback_data);
        let ts: i64 = self.ts().parse().unwrap_or(0);
        // The conversation id only has to be stable per message.
        let conv_id: String = format!("{:032x}", fxhash(wamid));
        st.insert(
            "conversation".into(),
            json!({
                "id": conv_id,
                "expiration_timestamp": (ts + 86_400).to_string(),
                "origin": {"type": "utility"},
            }),
        );
        st.insert(
            "pricing".into(),
            json!({"billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility"}),
        );
        self.one_item("statuses", recipient, st)
    }

    fn status_object(
        &self,
        wamid: &str,
        status: &str,
        recipient: &str,
        data: Option<&str>,
    ) -> serde_json::Map<String, Value> {
        let mut st = Map::new();
        st.insert("id".into(), json!(wamid));
        st.insert("status".into(), json!(status));
        st.insert("timestamp".into(), json!(self.ts()));
        if is_user_id(recipient) {
            st.insert("recipient_user_id".into(), json!(recipient));
        } else {
            st.insert("recipient_id".into(), json!(recipient));
        }
        if let Some(d) = data {
            st.insert("biz_opaque_callback_data".into(), json!(d));
        }
        st
    }

    /// A `failed` status with one error (no pricing, conversation or
    /// contacts, as on the wire).
    pub fn status_failed(
        &self,
        wamid: &str,
        recipient: &str,
        code: i64,
        title: &str,
        details: &str,
    ) -> Value {
        let mut st = self.status_object(wamid, "failed", recipient, None);
        st.insert("errors".into(), json!([error_object(code, title, details)]));
        self.envelope(
            "messages",
            json!({
                "messaging_product": "whatsapp",
                "metadata": self.metadata(),
                "statuses": [Value::Object(st)],
            }),
        )
    }

    /// A value-level (out-of-band) error notification.
    pub fn value_error(&self, code: i64, title: &str, details: &str) -> Value {
        self.envelope(
            "messages",
            json!({
                "messaging_product": "whatsapp",
                "metadata": self.metadata(),
                "errors": [error_object(code, title, details)],
            }),
        )
    }
}

fn error_object(code: i64, title: &str, details: &str) -> Value {
    json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERROR_HREF,
    })
}

/// A small stable hash (FNV-1a) for synthetic conversation ids; not security
/// relevant, and std's hasher is randomly seeded.
fn fxhash(s: &str) -> u128 {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in s.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    h
}

/// Merge several bodies into one POST carrying all their entries, in order
/// (one delivery with several entries, as Meta batches them).
pub fn batch(bodies: &[Value]) -> Value {
    let entries: Vec<Value> = bodies
        .iter()
        .filter_map(|b| b.get("entry").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect();
    json!({"object": "whatsapp_business_account", "entry": entries})
}

/// [`Business::inbound_text`] for the example business.
pub fn inbound_text(from: &str, body: &str, wamid: &str) -> Value {
    Business::default().inbound_text(from, body, wamid)
}

/// [`Business::inbound`] for the example business.
pub fn inbound(from: &str, wamid: &str, msg_type: &str, object: Value) -> Value {
    Business::default().inbound(from, wamid, msg_type, object)
}

/// [`Business::status`] for the example business.
pub fn status(wamid: &str, status: &str, recipient: &str) -> Value {
    Business::default().status(wamid, status, recipient)
}

/// [`Business::status_failed`] for the example business.
pub fn status_failed(wamid: &str, recipient: &str, code: i64, title: &str, details: &str) -> Value {
    Business::default().status_failed(wamid, recipient, code, title, details)
}

/// [`Business::value_error`] for the example business.
pub fn value_error(code: i64, title: &str, details: &str) -> Value {
    Business::default().value_error(code, title, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::verify::Verifier;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hub_signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn helpers_produce_deliveries_the_verifier_accepts() {
        let body = status("wamid.A", "read", "15555550123").to_string();
        let h = signed_headers("s", body.as_bytes());
        Verifier::hub_signature("s")
            .unwrap()
            .verify(&h, body.as_bytes())
            .unwrap();
        let (bytes, headers) = signed_delivery("s2", &inbound_text("1", "x", "wamid.B"));
        Verifier::hub_signature("s2")
            .unwrap()
            .verify(&headers, &bytes)
            .unwrap();
        assert!(
            Verifier::hub_signature("s3")
                .unwrap()
                .verify(&headers, &bytes)
                .is_err()
        );
        let (n, v) = basic_auth_header("u", "p");
        assert_eq!(v, "Basic dTpw");
        Verifier::basic_auth("u", "p")
            .unwrap()
            .verify(&[(n, v)], b"")
            .unwrap();
    }

    #[test]
    fn inbound_text_has_the_wire_shape() {
        let b = Business::default().at(1767252600);
        let body = b.inbound_text("15555550123", "hi", "wamid.X");
        assert_eq!(
            body,
            json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{
                "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": [{"profile": {"name": "Test User"}, "wa_id": "15555550123"}],
                  "messages": [{"from": "15555550123", "id": "wamid.X", "timestamp": "1767252600",
                                "type": "text", "text": {"body": "hi"}}]},
                "field": "messages"}]}]})
        );
        let bsuid = b.inbound_text("US.123", "hi", "wamid.Y");
        let v = &bsuid["entry"][0]["changes"][0]["value"];
        assert_eq!(v["messages"][0]["from_user_id"], "US.123");
        assert!(v["messages"][0].get("from").is_none());
        assert_eq!(v["contacts"][0]["user_id"], "US.123");
    }

    #[test]
    fn statuses_carry_pricing_except_failed() {
        let b = Business::default().at(100);
        let s = b.status_with("wamid.A", "delivered", "15555550123", Some("ref-1"));
        let st = &s["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(st["timestamp"], "100");
        assert_eq!(st["pricing"]["pricing_model"], "PMP");
        assert_eq!(st["conversation"]["expiration_timestamp"], "86500");
        assert_eq!(st["biz_opaque_callback_data"], "ref-1");
        let f = b.status("wamid.A", "failed", "15555550123");
        let v = &f["entry"][0]["changes"][0]["value"];
        assert_eq!(v["statuses"][0]["errors"][0]["code"], 131026);
        assert!(v["statuses"][0].get("pricing").is_none());
        assert!(v.get("contacts").is_none());
        let both = batch(&[s.clone(), f.clone()]);
        assert_eq!(both["entry"].as_array().map(Vec::len), Some(2));
    }
}
