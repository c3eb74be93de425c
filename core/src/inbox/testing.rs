//! Helpers for tests of code that uses an inbox (this crate's own tests and
//! the Redis integration tests use them): accept a webhook payload built with
//! [`crate::webhook::testing`], and read back which events were claimed.

use serde_json::Value;

use super::{Accepted, Delivery, Inbox};
use crate::Result;
use crate::webhook::parse;

/// Accept the delivery `payload` (a webhook body as JSON), as the receiver
/// would: parse it, then [`Inbox::accept`] its raw bytes and events.
pub fn accept_json(inbox: &dyn Inbox, payload: &Value) -> Result<Accepted> {
    let body = payload.to_string().into_bytes();
    inbox.accept(&body, &parse(&body)?)
}

/// The id of each claimed event (the message's or the status's id; `?` for
/// events without one), in claim order.
pub fn event_ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| {
            d.event
                .as_message()
                .and_then(|m| m.id())
                .or(d.event.as_status().and_then(|s| s.id()))
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}
