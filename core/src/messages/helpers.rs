//! The send helpers' messages: one function per helper (`send_text`,
//! `send_image`, … in Python; `sendText`, `sendImage`, … in Node), each
//! placing its arguments into the neutral message description that
//! [`Message::from_json`](super::Message::from_json) reads.
//!
//! The bindings call these and nothing else, so the neutral form of a helper
//! is written once, here. The arguments are JSON values exactly as the caller
//! gave them: these functions never validate; the neutral reader does, naming
//! the field and the rule (`image.caption`, `reply_to`, …), so a wrong type
//! from Python or JavaScript is `invalid_argument`, never a binding's own
//! type error. `tests/conformance/api_surface/manifest.json` lists the helpers
//! and their options in every language.
//!
//! ```
//! use serde_json::json;
//! use wa360::messages::{Message, helpers};
//!
//! let spec = helpers::image(
//!     json!("15555550123"),
//!     json!("https://cdn.example.com/a.jpg"),
//!     Some(json!("Fresh")),
//!     helpers::Envelope::default(),
//! );
//! assert_eq!(spec["image"]["link"], "https://cdn.example.com/a.jpg");
//! let body = wa360::messages::build_body(&spec).unwrap();
//! assert_eq!(body["image"]["caption"], "Fresh");
//! ```

use serde_json::{Map, Value};

/// The options every helper takes: `reply_to` (the quoted message's id) and
/// `callback_data` (echoed on the status webhooks). `None` leaves them out.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// `reply_to`: reply to this message id.
    pub reply_to: Option<Value>,
    /// `callback_data`: `biz_opaque_callback_data`.
    pub callback_data: Option<Value>,
}

/// An object of the present (non-`None`, non-null) entries, in order.
fn object<const N: usize>(entries: [(&str, Option<Value>); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            m.insert(k.to_owned(), v);
        }
    }
    Value::Object(m)
}

/// `{to, type: kind, <kind>: content, reply_to?, callback_data?}`.
fn message(to: Value, kind: &str, content: Value, env: Envelope) -> Value {
    let mut m = Map::new();
    m.insert("to".into(), to);
    m.insert("type".into(), Value::String(kind.into()));
    m.insert(kind.into(), content);
    for (k, v) in [
        ("reply_to", env.reply_to),
        ("callback_data", env.callback_data),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            m.insert(k.into(), v);
        }
    }
    Value::Object(m)
}

/// A media reference: a string starting with `https://` or `http://` is a
/// `link`, anything else an uploaded media `id` (the reader checks its type).
fn media_ref(media: Value) -> (&'static str, Value) {
    let is_url = media
        .as_str()
        .is_some_and(|s| s.starts_with("https://") || s.starts_with("http://"));
    (if is_url { "link" } else { "id" }, media)
}

fn media_message(
    to: Value,
    kind: &str,
    media: Value,
    caption: Option<Value>,
    filename: Option<Value>,
    env: Envelope,
) -> Value {
    let (key, media) = media_ref(media);
    let content = object([
        (key, Some(media)),
        ("caption", caption),
        ("filename", filename),
    ]);
    message(to, kind, content, env)
}

/// `send_text(to, body, *, preview_url)`: a text message.
pub fn text(to: Value, body: Value, preview_url: Option<Value>, env: Envelope) -> Value {
    let content = object([("body", Some(body)), ("preview_url", preview_url)]);
    message(to, "text", content, env)
}

/// `send_image(to, media, *, caption)`: `media` is a media id or an https link.
pub fn image(to: Value, media: Value, caption: Option<Value>, env: Envelope) -> Value {
    media_message(to, "image", media, caption, None, env)
}

/// `send_video(to, media, *, caption)`.
pub fn video(to: Value, media: Value, caption: Option<Value>, env: Envelope) -> Value {
    media_message(to, "video", media, caption, None, env)
}

/// `send_audio(to, media)`.
pub fn audio(to: Value, media: Value, env: Envelope) -> Value {
    media_message(to, "audio", media, None, None, env)
}

/// `send_document(to, media, *, caption, filename)`.
pub fn document(
    to: Value,
    media: Value,
    caption: Option<Value>,
    filename: Option<Value>,
    env: Envelope,
) -> Value {
    media_message(to, "document", media, caption, filename, env)
}

/// `send_sticker(to, media)`.
pub fn sticker(to: Value, media: Value, env: Envelope) -> Value {
    media_message(to, "sticker", media, None, None, env)
}

/// `send_location(to, latitude, longitude, *, name, address)`.
pub fn location(
    to: Value,
    latitude: Value,
    longitude: Value,
    name: Option<Value>,
    address: Option<Value>,
    env: Envelope,
) -> Value {
    let content = object([
        ("latitude", Some(latitude)),
        ("longitude", Some(longitude)),
        ("name", name),
        ("address", address),
    ]);
    message(to, "location", content, env)
}

/// `send_contacts(to, contacts)`: 1..5 contact cards.
pub fn contacts(to: Value, contacts: Value, env: Envelope) -> Value {
    message(to, "contacts", contacts, env)
}

/// `send_reaction(to, message_id, emoji)`: an empty emoji removes the
/// reaction. A reaction quotes its message already: `env.reply_to` is unused
/// by the helpers (the reader would reject it).
pub fn reaction(to: Value, message_id: Value, emoji: Value, env: Envelope) -> Value {
    let content = object([("message_id", Some(message_id)), ("emoji", Some(emoji))]);
    message(to, "reaction", content, env)
}

/// `send_buttons(to, body, buttons, *, header, footer)`: up to 3 reply
/// buttons, each `{id, title}` or an `[id, title]` pair.
pub fn buttons(
    to: Value,
    body: Value,
    buttons: Value,
    header: Option<Value>,
    footer: Option<Value>,
    env: Envelope,
) -> Value {
    let buttons = match buttons {
        Value::Array(bs) => Value::Array(
            bs.into_iter()
                .map(|b| match b {
                    Value::Array(mut pair) if pair.len() == 2 => {
                        let title = pair.pop().unwrap_or_default();
                        let id = pair.pop().unwrap_or_default();
                        object([("id", Some(id)), ("title", Some(title))])
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    };
    let content = object([
        ("type", Some(Value::String("button".into()))),
        ("body", Some(body)),
        ("header", header),
        ("footer", footer),
        ("buttons", Some(buttons)),
    ]);
    message(to, "interactive", content, env)
}

/// `send_list(to, body, button, sections, *, header, footer)`: a list
/// message, `sections` of `{title?, rows: [{id, title, description?}]}`.
pub fn list(
    to: Value,
    body: Value,
    button: Value,
    sections: Value,
    header: Option<Value>,
    footer: Option<Value>,
    env: Envelope,
) -> Value {
    let content = object([
        ("type", Some(Value::String("list".into()))),
        ("body", Some(body)),
        ("header", header),
        ("footer", footer),
        ("button", Some(button)),
        ("sections", Some(sections)),
    ]);
    message(to, "interactive", content, env)
}

/// `send_interactive(to, interactive)`: any interactive message in the
/// neutral form (`{type: "button" | "list" | "cta_url" | "flow" | …}`).
pub fn interactive(to: Value, interactive: Value, env: Envelope) -> Value {
    message(to, "interactive", interactive, env)
}

/// `send_template(to, name, language, *, header, body, buttons)`: an
/// approved template; `body` is a list of positional parameters or an object
/// of named ones, `header` one parameter, `buttons` `{sub_type, index, …}`.
#[allow(clippy::too_many_arguments)]
pub fn template(
    to: Value,
    name: Value,
    language: Value,
    header: Option<Value>,
    body: Option<Value>,
    buttons: Option<Value>,
    env: Envelope,
) -> Value {
    let content = object([
        ("name", Some(name)),
        ("language", Some(language)),
        ("header", header),
        ("body", body),
        ("buttons", buttons),
    ]);
    message(to, "template", content, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::build_body;
    use serde_json::json;

    fn env(reply: &str, data: &str) -> Envelope {
        Envelope {
            reply_to: Some(json!(reply)),
            callback_data: Some(json!(data)),
        }
    }

    #[test]
    fn media_is_a_link_for_urls_and_an_id_otherwise() {
        let by_id = build_body(&image(
            json!("15555550123"),
            json!("1234"),
            None,
            env("wamid.X", "c"),
        ))
        .unwrap();
        assert_eq!(by_id["image"], json!({"id": "1234"}));
        assert_eq!(by_id["context"]["message_id"], "wamid.X");
        assert_eq!(by_id["biz_opaque_callback_data"], "c");
        let doc = document(
            json!("15555550123"),
            json!("https://cdn.example.com/r.pdf"),
            Some(json!("Receipt")),
            Some(json!("r.pdf")),
            Envelope::default(),
        );
        let body = build_body(&doc).unwrap();
        assert_eq!(
            body["document"],
            json!({"link": "https://cdn.example.com/r.pdf", "caption": "Receipt", "filename": "r.pdf"})
        );
    }

    #[test]
    fn button_pairs_become_id_and_title() {
        let spec = buttons(
            json!("15555550123"),
            json!("Confirm?"),
            json!([["yes", "Yes"], {"id": "no", "title": "No"}]),
            None,
            Some(json!("f")),
            Envelope::default(),
        );
        let body = build_body(&spec).unwrap();
        let bs = &body["interactive"]["action"]["buttons"];
        assert_eq!(bs[0]["reply"], json!({"id": "yes", "title": "Yes"}));
        assert_eq!(bs[1]["reply"], json!({"id": "no", "title": "No"}));
        assert_eq!(body["interactive"]["footer"]["text"], "f");
    }

    #[test]
    fn wrong_types_are_named_by_the_reader() {
        let e = build_body(&text(
            json!("15555550123"),
            json!(5),
            None,
            Envelope::default(),
        ))
        .unwrap_err();
        assert_eq!(e.field(), Some("text.body"));
        let e = build_body(&location(
            json!("15555550123"),
            json!("north"),
            json!(2.5),
            None,
            None,
            Envelope::default(),
        ))
        .unwrap_err();
        assert_eq!(e.field(), Some("location.latitude"));
    }

    #[test]
    fn null_options_are_left_out() {
        let spec = text(
            json!("1"),
            json!("hi"),
            Some(Value::Null),
            Envelope {
                reply_to: Some(Value::Null),
                callback_data: None,
            },
        );
        assert_eq!(
            spec,
            json!({"to": "1", "type": "text", "text": {"body": "hi"}})
        );
    }
}
