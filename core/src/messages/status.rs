//! Mark as read and typing indicator (docs/360dialog-api.md §2.2, §4.9). Both are sent to
//! `POST /messages` and have neither `to` nor `type`.

use serde::Serialize;
use serde_json::Value;

use super::Outbound;
use super::common::check_message_id;
use crate::Result;

/// Mark an inbound message (and the earlier ones in the chat) as read.
///
/// ```
/// use wa360::messages::{MarkRead, Outbound};
/// let body = MarkRead::new("wamid.X").to_body().unwrap();
/// assert_eq!(body["status"], "read");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkRead {
    /// The wamid of the inbound message.
    pub message_id: String,
}

impl MarkRead {
    /// Mark `message_id` as read.
    pub fn new(message_id: impl Into<String>) -> Self {
        MarkRead {
            message_id: message_id.into(),
        }
    }
}

impl Outbound for MarkRead {
    fn to_body(&self) -> Result<Value> {
        check_message_id("message_id", &self.message_id)?;
        StatusWire::new(&self.message_id, None).to_value()
    }
}

/// Show a typing indicator for up to 25 s (also marks the message as read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingIndicator {
    /// The wamid of the inbound message being answered.
    pub message_id: String,
}

impl TypingIndicator {
    /// Show "typing…" in reply to `message_id`.
    pub fn new(message_id: impl Into<String>) -> Self {
        TypingIndicator {
            message_id: message_id.into(),
        }
    }
}

impl Outbound for TypingIndicator {
    fn to_body(&self) -> Result<Value> {
        check_message_id("message_id", &self.message_id)?;
        StatusWire::new(&self.message_id, Some(TypingWire { kind: "text" })).to_value()
    }
}

/// The wire body of a read receipt (with a typing indicator or not).
#[derive(Serialize)]
struct StatusWire<'a> {
    messaging_product: &'static str,
    status: &'static str,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_indicator: Option<TypingWire>,
}

#[derive(Serialize)]
struct TypingWire {
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'a> StatusWire<'a> {
    fn new(message_id: &'a str, typing_indicator: Option<TypingWire>) -> Self {
        StatusWire {
            messaging_product: "whatsapp",
            status: "read",
            message_id,
            typing_indicator,
        }
    }

    fn to_value(&self) -> Result<Value> {
        super::wire::to_value(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_empty_id() {
        let b = TypingIndicator::new("wamid.A").to_body().unwrap();
        assert_eq!(b["typing_indicator"]["type"], "text");
        assert!(b.get("to").is_none() && b.get("type").is_none());
        let e = MarkRead::new("").to_body().unwrap_err();
        assert_eq!(e.field(), Some("message_id"));
    }
}
