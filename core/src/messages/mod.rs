//! Outbound messages: one module per family, each a typed value with a
//! builder that validates (docs/360dialog-api.md §4.10) and serialises to the exact wire
//! body for `POST /messages`.
//!
//! ```
//! use wa360::messages::{Media, Message, Outbound};
//!
//! let body = Message::text("+1 555 555 0123", "Your order 4471 ships today.")
//!     .preview_url(false)
//!     .to_body()
//!     .unwrap();
//! assert_eq!(body["to"], "15555550123");
//!
//! let img = Message::image("15555550123", Media::id("1029384756109999"))
//!     .caption("Your receipt")
//!     .reply_to("wamid.HBgL…")
//!     .callback_data("order-4471");
//! assert_eq!(img.to_body().unwrap()["image"]["caption"], "Your receipt");
//!
//! // Bad input never reaches the network: the error names the field and the rule.
//! let err = Message::text("15555550123", "").to_body().unwrap_err();
//! assert_eq!(err.field(), Some("text.body"));
//! ```
//!
//! The same messages can be described in a neutral JSON form
//! ([`Message::from_json`], [`build_body`]); that form is what the Python and
//! Node packages pass to Rust, and what `tests/conformance/message_build` uses.
//!
//! **Field names in errors.** Validation errors name the dotted path of the
//! field in the *wire body* (`interactive.action.buttons[3].reply.title`,
//! `template.components[1].parameters[0].text`). Structural errors while
//! reading the neutral description (unknown key, wrong JSON type, missing
//! key) name the path in the *neutral description* (`interactive.buttons[0].label`).
//! Character counts are Unicode scalar values ([`char_count`]).

pub(crate) mod common;
pub mod contacts;
pub mod helpers;
pub mod interactive;
pub mod location;
pub mod media;
pub mod reaction;
pub mod status;
pub mod template;
pub mod text;

use serde_json::{Map, Value};

use crate::{Error, Result};
use common::{Obj, check_len, check_non_empty, looks_like_bsuid};

pub use common::{char_count, is_bsuid, is_single_emoji, normalize_phone};
pub use contacts::{
    Contact, ContactAddress, ContactEmail, ContactOrg, ContactPhone, ContactUrl, NameParts,
};
pub use interactive::{
    Flow, Header, Interactive, InteractiveAction, ListRow, ListSection, ProductSection, ReplyButton,
};
pub use location::Location;
pub use media::{Media, MediaKind};
pub use reaction::Reaction;
pub use status::{MarkRead, TypingIndicator};
pub use template::{ButtonParam, ParamValue, Parameter, Template, TemplateButton};
pub use text::Text;

/// Maximum `biz_opaque_callback_data`, in characters.
pub const MAX_CALLBACK_DATA: usize = 512;

/// Anything that can be sent to `POST /messages`.
///
/// `to_body` validates every rule of docs/360dialog-api.md §4.10 (failures are
/// [`crate::Error::InvalidArgument`] naming the field and the rule) and returns
/// the exact JSON body.
pub trait Outbound {
    /// Validate and produce the exact wire body.
    fn to_body(&self) -> crate::Result<serde_json::Value>;
}

/// `recipient_type` of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecipientType {
    /// A single user (default).
    #[default]
    Individual,
    /// A group; `to` is the group id.
    Group,
}

impl RecipientType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientType::Individual => "individual",
            RecipientType::Group => "group",
        }
    }
}

/// The content of a message: one variant per message family.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent {
    /// `text`.
    Text(Text),
    /// `image`, `audio`, `video`, `document` or `sticker`.
    Media(MediaKind, Media),
    /// `location`.
    Location(Location),
    /// `contacts` (1..5 cards).
    Contacts(Vec<Contact>),
    /// `interactive`.
    Interactive(Box<Interactive>),
    /// `template`.
    Template(Box<Template>),
    /// `reaction` (an empty emoji removes it).
    Reaction(Reaction),
}

impl MessageContent {
    /// The wire `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            MessageContent::Text(_) => "text",
            MessageContent::Media(k, _) => k.as_str(),
            MessageContent::Location(_) => "location",
            MessageContent::Contacts(_) => "contacts",
            MessageContent::Interactive(_) => "interactive",
            MessageContent::Template(_) => "template",
            MessageContent::Reaction(_) => "reaction",
        }
    }

    fn body_value(&self) -> Result<Value> {
        match self {
            MessageContent::Text(t) => t.body_value(),
            MessageContent::Media(k, m) => k.body(m),
            MessageContent::Location(l) => l.to_value("location", false),
            MessageContent::Contacts(c) => contacts::contacts_value(c),
            MessageContent::Interactive(i) => i.body_value(),
            MessageContent::Template(t) => t.body_value(),
            MessageContent::Reaction(r) => r.body_value(),
        }
    }
}

/// One outbound message: recipient, content, optional reply context and
/// optional `biz_opaque_callback_data`.
///
/// The recipient given as `to` is normalised: a phone number in
/// international format (`+1 555 555 0123` → `15555550123`, 8–15 digits), or,
/// when it has the shape of a business-scoped user id (`US.1349…`,
/// `US.ENT.1349…`), it is sent as the `recipient` field instead. With
/// [`RecipientType::Group`], `to` is a group id sent unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Phone number, BSUID or group id.
    pub to: Option<String>,
    /// Explicit BSUID (`recipient` field); exactly one of `to` and `recipient`.
    pub recipient: Option<String>,
    /// `individual` (default) or `group`.
    pub recipient_type: RecipientType,
    /// wamid this message replies to (`context.message_id`).
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data` (≤ 512 characters), echoed on status webhooks.
    pub callback_data: Option<String>,
    /// The content.
    pub content: MessageContent,
    /// A setter used on content that does not take it (reported by `to_body`).
    misuse: Option<(String, String)>,
}

impl Message {
    /// A message to `to` (phone number or BSUID) with `content`.
    pub fn new(to: impl Into<String>, content: MessageContent) -> Self {
        Message {
            to: Some(to.into()),
            recipient: None,
            recipient_type: RecipientType::Individual,
            reply_to: None,
            callback_data: None,
            content,
            misuse: None,
        }
    }

    /// A text message.
    pub fn text(to: impl Into<String>, body: impl Into<String>) -> Self {
        Message::new(to, MessageContent::Text(Text::new(body)))
    }

    /// A media message of `kind`.
    pub fn media(to: impl Into<String>, kind: MediaKind, media: Media) -> Self {
        Message::new(to, MessageContent::Media(kind, media))
    }

    /// An image (caption allowed).
    pub fn image(to: impl Into<String>, media: Media) -> Self {
        Message::media(to, MediaKind::Image, media)
    }

    /// An audio message (no caption).
    pub fn audio(to: impl Into<String>, media: Media) -> Self {
        Message::media(to, MediaKind::Audio, media)
    }

    /// A video (caption allowed).
    pub fn video(to: impl Into<String>, media: Media) -> Self {
        Message::media(to, MediaKind::Video, media)
    }

    /// A document (caption and file name allowed).
    pub fn document(to: impl Into<String>, media: Media) -> Self {
        Message::media(to, MediaKind::Document, media)
    }

    /// A sticker (no caption).
    pub fn sticker(to: impl Into<String>, media: Media) -> Self {
        Message::media(to, MediaKind::Sticker, media)
    }

    /// A location pin.
    pub fn location(to: impl Into<String>, location: Location) -> Self {
        Message::new(to, MessageContent::Location(location))
    }

    /// Contact cards (1..5).
    pub fn contacts(to: impl Into<String>, contacts: Vec<Contact>) -> Self {
        Message::new(to, MessageContent::Contacts(contacts))
    }

    /// An interactive message.
    pub fn interactive(to: impl Into<String>, interactive: Interactive) -> Self {
        Message::new(to, MessageContent::Interactive(Box::new(interactive)))
    }

    /// A template message.
    pub fn template(to: impl Into<String>, template: Template) -> Self {
        Message::new(to, MessageContent::Template(Box::new(template)))
    }

    /// React to `message_id` with `emoji`.
    pub fn reaction(
        to: impl Into<String>,
        message_id: impl Into<String>,
        emoji: impl Into<String>,
    ) -> Self {
        Message::new(
            to,
            MessageContent::Reaction(Reaction::new(message_id, emoji)),
        )
    }

    /// Remove a reaction from `message_id`.
    pub fn remove_reaction(to: impl Into<String>, message_id: impl Into<String>) -> Self {
        Message::new(to, MessageContent::Reaction(Reaction::remove(message_id)))
    }

    fn misuse(&mut self, field: &str, rule: &str) {
        if self.misuse.is_none() {
            self.misuse = Some((field.into(), rule.into()));
        }
    }

    /// Text only: render a preview of the first URL.
    pub fn preview_url(mut self, on: bool) -> Self {
        match &mut self.content {
            MessageContent::Text(t) => t.preview_url = Some(on),
            _ => self.misuse("preview_url", "only text messages take preview_url"),
        }
        self
    }

    /// Media only: set the caption (rejected by `to_body` for audio and sticker).
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        match &mut self.content {
            MessageContent::Media(_, m) => m.caption = Some(caption.into()),
            _ => self.misuse(
                "caption",
                "only image, video and document messages take a caption",
            ),
        }
        self
    }

    /// Documents only: set the file name.
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        match &mut self.content {
            MessageContent::Media(_, m) => m.filename = Some(filename.into()),
            _ => self.misuse("filename", "only document messages take a filename"),
        }
        self
    }

    /// Reply to (quote) the message `wamid`.
    pub fn reply_to(mut self, wamid: impl Into<String>) -> Self {
        self.reply_to = Some(wamid.into());
        self
    }

    /// Set `biz_opaque_callback_data` (≤ 512 characters).
    pub fn callback_data(mut self, data: impl Into<String>) -> Self {
        self.callback_data = Some(data.into());
        self
    }

    /// Set the recipient type.
    pub fn recipient_type(mut self, t: RecipientType) -> Self {
        self.recipient_type = t;
        self
    }

    /// Send to a group: `to` is the group id.
    pub fn to_group(self) -> Self {
        self.recipient_type(RecipientType::Group)
    }

    /// The recipient key (`to` or `recipient`) and its normalised value.
    fn recipient_field(&self) -> Result<(&'static str, String)> {
        match (&self.to, &self.recipient) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "recipient",
                "give exactly one of `to` and `recipient` (got both)",
            )),
            (None, None) => Err(Error::invalid(
                "to",
                "is required (a phone number, or a BSUID as `recipient`)",
            )),
            (None, Some(r)) => {
                if is_bsuid(r) {
                    Ok(("recipient", r.clone()))
                } else {
                    Err(Error::invalid(
                        "recipient",
                        "must be a business-scoped user id like US.13491208655302741918 or US.ENT.13491208655302741918",
                    ))
                }
            }
            (Some(to), None) => match self.recipient_type {
                RecipientType::Group => {
                    check_non_empty("to", to)?;
                    if to.chars().any(char::is_whitespace) {
                        return Err(Error::invalid(
                            "to",
                            "a group id must not contain whitespace",
                        ));
                    }
                    Ok(("to", to.clone()))
                }
                RecipientType::Individual if looks_like_bsuid(to) => {
                    if is_bsuid(to) {
                        Ok(("recipient", to.clone()))
                    } else {
                        Err(Error::invalid(
                            "to",
                            "looks like a business-scoped user id but is not one (expected CC.digits or CC.ENT.digits)",
                        ))
                    }
                }
                RecipientType::Individual => Ok(("to", normalize_phone(to)?)),
            },
        }
    }

    /// Build a message from the neutral description (see
    /// `tests/conformance/message_build/README.md`). Unknown keys and wrong
    /// JSON types are rejected with `invalid_argument` naming the field.
    /// The limits of §4.10 are checked by [`Outbound::to_body`].
    ///
    /// ```
    /// use wa360::messages::{Message, Outbound};
    /// let spec = serde_json::json!({
    ///     "to": "+1 555 555 0123",
    ///     "type": "image",
    ///     "image": {"link": "https://cdn.example.com/a.jpg", "caption": "Fresh"},
    ///     "reply_to": "wamid.X",
    /// });
    /// let body = Message::from_json(&spec).unwrap().to_body().unwrap();
    /// assert_eq!(body["context"]["message_id"], "wamid.X");
    /// ```
    pub fn from_json(spec: &Value) -> Result<Message> {
        crate::input::check_depth(spec)?;
        if !spec.is_object() {
            return Err(Error::invalid(
                "message",
                format!("must be an object (got {})", common::type_name(spec)),
            ));
        }
        let mut o = Obj::new("", spec)?;
        let t = o.req_str("type")?;
        let to = o.opt_str("to")?;
        let recipient = o.opt_str("recipient")?;
        let recipient_type = match o.opt_str("recipient_type")?.as_deref() {
            None | Some("individual") => RecipientType::Individual,
            Some("group") => RecipientType::Group,
            Some(other) => {
                return Err(Error::invalid(
                    "recipient_type",
                    format!("must be individual or group (got {other:?})"),
                ));
            }
        };
        let reply_to = o.opt_str("reply_to")?;
        let callback_data = o.opt_str("callback_data")?;
        let content = if let Some(kind) = MediaKind::from_name(&t) {
            MessageContent::Media(kind, Media::from_neutral(&t, &o.req_value(&t)?)?)
        } else {
            match t.as_str() {
                "text" => MessageContent::Text(Text::from_neutral("text", &o.req_value("text")?)?),
                "location" => MessageContent::Location(Location::from_neutral(
                    "location",
                    &o.req_value("location")?,
                )?),
                "contacts" => MessageContent::Contacts(contacts::contacts_from_neutral(
                    "contacts",
                    &o.req_value("contacts")?,
                )?),
                "interactive" => MessageContent::Interactive(Box::new(Interactive::from_neutral(
                    "interactive",
                    &o.req_value("interactive")?,
                )?)),
                "template" => MessageContent::Template(Box::new(Template::from_neutral(
                    "template",
                    &o.req_value("template")?,
                )?)),
                "reaction" => MessageContent::Reaction(Reaction::from_neutral(
                    "reaction",
                    &o.req_value("reaction")?,
                )?),
                other => {
                    let hint = if other == "mark_read" || other == "typing" {
                        " (mark_read and typing are built with build_body)"
                    } else {
                        ""
                    };
                    return Err(Error::invalid(
                        "type",
                        format!(
                            "must be one of text, image, audio, video, document, sticker, location, \
                         contacts, interactive, template, reaction (got {other:?}){hint}"
                        ),
                    ));
                }
            }
        };
        o.finish()?;
        Ok(Message {
            to,
            recipient,
            recipient_type,
            reply_to,
            callback_data,
            content,
            misuse: None,
        })
    }
}

impl Outbound for Message {
    fn to_body(&self) -> Result<Value> {
        if let Some((field, rule)) = &self.misuse {
            return Err(Error::invalid(field.clone(), rule.clone()));
        }
        let (key, who) = self.recipient_field()?;
        let mut m = Map::new();
        m.insert("messaging_product".into(), Value::String("whatsapp".into()));
        m.insert(
            "recipient_type".into(),
            Value::String(self.recipient_type.as_str().into()),
        );
        m.insert(key.into(), Value::String(who));
        let t = self.content.type_name();
        m.insert("type".into(), Value::String(t.into()));
        if let Some(r) = &self.reply_to {
            check_non_empty("context.message_id", r)?;
            let mut c = Map::new();
            c.insert("message_id".into(), Value::String(r.clone()));
            m.insert("context".into(), Value::Object(c));
        }
        if let Some(d) = &self.callback_data {
            check_len("biz_opaque_callback_data", d, 1, MAX_CALLBACK_DATA)?;
            m.insert("biz_opaque_callback_data".into(), Value::String(d.clone()));
        }
        m.insert(t.into(), self.content.body_value()?);
        Ok(Value::Object(m))
    }
}

/// Build the exact `POST /messages` body from a neutral description:
/// `Message::from_json(spec)?.to_body()`, plus
/// `{"type": "mark_read", "message_id": "wamid…"}` and
/// `{"type": "typing", "message_id": "wamid…"}`.
///
/// ```
/// let body = wa360::messages::build_body(&serde_json::json!({
///     "type": "typing", "message_id": "wamid.X"
/// })).unwrap();
/// assert_eq!(body["typing_indicator"]["type"], "text");
/// ```
pub fn build_body(spec: &Value) -> Result<Value> {
    crate::input::check_depth(spec)?;
    let kind = spec.get("type").and_then(Value::as_str);
    if let Some(k @ ("mark_read" | "typing")) = kind {
        let mut o = Obj::new("", spec)?;
        o.req_str("type")?;
        let message_id = o.req_str("message_id")?;
        o.finish()?;
        return if k == "mark_read" {
            MarkRead::new(message_id).to_body()
        } else {
            TypingIndicator::new(message_id).to_body()
        };
    }
    Message::from_json(spec)?.to_body()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recipient_routing() {
        let b = Message::text("+1 (555) 555-0123", "hi").to_body().unwrap();
        assert_eq!(b["to"], "15555550123");
        assert!(b.get("recipient").is_none());
        let b = Message::text("US.5093817264530918273", "hi")
            .to_body()
            .unwrap();
        assert_eq!(b["recipient"], "US.5093817264530918273");
        assert!(b.get("to").is_none());
        let e = Message::text("US.50938x", "hi").to_body().unwrap_err();
        assert_eq!(e.field(), Some("to"));
        let e = Message::text("hello", "hi").to_body().unwrap_err();
        assert_eq!(e.field(), Some("to"));
        let b = Message::text("120363040000000000@g.us", "hi")
            .to_group()
            .to_body()
            .unwrap();
        assert_eq!(b["recipient_type"], "group");
        assert_eq!(b["to"], "120363040000000000@g.us");
    }

    #[test]
    fn envelope_order_and_context() {
        let b = Message::text("15555550123", "ok")
            .reply_to("wamid.A")
            .callback_data("order-1")
            .to_body()
            .unwrap();
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "messaging_product",
                "recipient_type",
                "to",
                "type",
                "context",
                "biz_opaque_callback_data",
                "text"
            ]
        );
        assert!(
            Message::text("15555550123", "ok")
                .callback_data("x".repeat(512))
                .to_body()
                .is_ok()
        );
        let e = Message::text("15555550123", "ok")
            .callback_data("x".repeat(513))
            .to_body()
            .unwrap_err();
        assert_eq!(e.field(), Some("biz_opaque_callback_data"));
    }

    #[test]
    fn setters_on_the_wrong_type_are_reported() {
        let e = Message::text("15555550123", "ok")
            .caption("c")
            .to_body()
            .unwrap_err();
        assert_eq!(e.field(), Some("caption"));
        let e = Message::image("15555550123", Media::id("1"))
            .preview_url(true)
            .to_body()
            .unwrap_err();
        assert_eq!(e.field(), Some("preview_url"));
        let e = Message::sticker("15555550123", Media::id("1"))
            .caption("c")
            .to_body()
            .unwrap_err();
        assert_eq!(e.field(), Some("sticker.caption"));
    }

    #[test]
    fn from_json_rejects_unknown_and_wrong_types() {
        let e = Message::from_json(
            &json!({"to": "15555550123", "type": "text", "text": "x", "colour": 1}),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("colour"));
        let e = Message::from_json(&json!({"to": 15555550123u64, "type": "text", "text": "x"}))
            .unwrap_err();
        assert_eq!(e.field(), Some("to"));
        let e = Message::from_json(&json!([1])).unwrap_err();
        assert_eq!(e.field(), Some("message"));
        let e = Message::from_json(&json!({"to": "15555550123", "type": "text"})).unwrap_err();
        assert_eq!(e.field(), Some("text"));
    }

    #[test]
    fn build_body_status_specs() {
        let b = build_body(&json!({"type": "mark_read", "message_id": "wamid.A"})).unwrap();
        assert_eq!(
            b,
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A"})
        );
        let e = build_body(&json!({"type": "typing"})).unwrap_err();
        assert_eq!(e.field(), Some("message_id"));
        let e = build_body(&json!({"type": "typing", "message_id": "w", "to": "1"})).unwrap_err();
        assert_eq!(e.field(), Some("to"));
    }
}
