//! The inbound message types wa360 types: [`KNOWN_MESSAGE_TYPES`] is the
//! list the bindings export (Python `wa360.KNOWN_MESSAGE_TYPES`, Node
//! `knownMessageTypes()` behind `isKnownMessage`), so no language keeps its
//! own copy. Every other wire `type` arrives as [`Content::Other`](super::Content::Other).

/// Every wire message `type` that [`InboundMessage::content`](super::events::InboundMessage::content)
/// reads into a typed variant (anything else is `Content::Other`). The test
/// below checks that each listed type is typed by `content()` and that
/// sample unlisted types are not; add a type here when `content()` learns it.
pub const KNOWN_MESSAGE_TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "request_welcome",
    "edit",
    "revoke",
    "unsupported",
    "unknown",
];

#[cfg(test)]
mod tests {
    use super::KNOWN_MESSAGE_TYPES;
    use crate::webhook::{Content, parse};

    fn content_is_typed(ty: &str) -> bool {
        let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "2"},
                      "messages": [{"id": "wamid.1", "from": "15555550123", "timestamp": "1", "type": ty}]}}]}]});
        let events = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        let m = events[0].as_message().expect("a message event");
        !matches!(m.content(), Content::Other { .. })
    }

    #[test]
    fn listed_types_are_typed_and_others_are_not() {
        for ty in KNOWN_MESSAGE_TYPES {
            assert!(
                content_is_typed(ty),
                "{ty} is listed but content() reads it as Other"
            );
        }
        for ty in ["gif", "poll", "call", "", "Text", "__proto__"] {
            assert!(
                !content_is_typed(ty),
                "{ty} is typed by content() but not listed"
            );
        }
    }
}
