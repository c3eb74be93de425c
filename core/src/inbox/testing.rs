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

/// Claim and acknowledge everything `inbox` holds as `consumer`, a batch at a
/// time (at most one event per conversation is out at once, so each batch is
/// acknowledged before the next claim); the ids in claim order.
pub fn drain(inbox: &dyn Inbox, consumer: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    loop {
        let batch = inbox.claim(consumer, 100)?;
        if batch.is_empty() {
            return Ok(ids);
        }
        for d in &batch {
            inbox.ack(consumer, &d.id)?;
        }
        ids.extend(event_ids(&batch));
    }
}
