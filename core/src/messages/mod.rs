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
//! **Three steps.** Reading: each family declares its neutral shape with
//! `#[derive(Deserialize)]`, read through `serde_path_to_error` (`read.rs`),
//! plus the checks that depend on another key (`interactive/read.rs`,
//! `template/read.rs`). Validation: `validate` on the typed message
//! (`interactive/validate.rs`, `template/validate.rs`, …). Writing:
//! `#[derive(Serialize)]` views of the wire body (`wire.rs`,
//! `interactive/wire.rs`, `template/wire.rs`), only after validation passed.
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
pub(crate) mod read;
pub mod status;
pub mod template;
pub mod text;
pub(crate) mod wire;

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};
use common::{check_len, check_message_id, check_non_empty, optional_setters};
use read::present;

pub use common::{
    RecipientId, char_count, is_bsuid, is_single_emoji, normalize_phone, recipient_id,
};
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

    /// Check the rules of the content (docs/360dialog-api.md §4.10).
    fn validate(&self) -> Result<()> {
        match self {
            MessageContent::Text(t) => t.validate(),
            MessageContent::Media(k, m) => k.validate(m),
            MessageContent::Location(l) => l.validate("location", false),
            MessageContent::Contacts(c) => contacts::validate(c),
            MessageContent::Interactive(i) => i.validate(),
            MessageContent::Template(t) => t.validate(),
            MessageContent::Reaction(r) => r.validate(),
        }
    }

    /// The wire content (after [`MessageContent::validate`]).
    fn wire(&self) -> wire::Content<'_> {
        match self {
            MessageContent::Text(t) => wire::Content::Text(t.wire()),
            MessageContent::Media(k, m) => match k {
                MediaKind::Image => wire::Content::Image(m),
                MediaKind::Audio => wire::Content::Audio(m),
                MediaKind::Video => wire::Content::Video(m),
                MediaKind::Document => wire::Content::Document(m),
                MediaKind::Sticker => wire::Content::Sticker(m),
            },
            MessageContent::Location(l) => wire::Content::Location(l.wire()),
            MessageContent::Contacts(c) => wire::Content::Contacts(contacts::wire(c)),
            MessageContent::Interactive(i) => wire::Content::Interactive(i.wire()),
            MessageContent::Template(t) => wire::Content::Template(t.wire()),
            MessageContent::Reaction(r) => wire::Content::Reaction(r.wire()),
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

    optional_setters! {
        /// Reply to (quote) the message with this wamid.
        reply_to => reply_to;

        /// Set `biz_opaque_callback_data` (≤ 512 characters).
        callback_data => callback_data;
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
                RecipientType::Individual => {
                    let id = recipient_id(to)?;
                    Ok((id.wire_key(), id.as_str().to_string()))
                }
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
        // `type` names the key that holds the content, so it is read first:
        // an unknown type is reported as such, not as an unknown content key.
        match spec.get("type") {
            None | Some(Value::Null) => return Err(Error::invalid("type", "is required")),
            Some(Value::String(t)) => check_type(t)?,
            Some(_) => {} // the wrong JSON type is reported by the reader
        }
        read::read(spec, MessageSpec::into_message)
    }
}

/// The neutral envelope: every key a message may hold. The content sits under
/// the key named by `type`; the other content keys must be absent.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct MessageSpec {
    #[serde(rename = "type")]
    kind: String,
    to: Option<String>,
    recipient: Option<String>,
    recipient_type: Option<String>,
    reply_to: Option<String>,
    callback_data: Option<String>,
    text: Option<Text>,
    image: Option<Media>,
    audio: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
    sticker: Option<Media>,
    location: Option<Location>,
    contacts: Option<Vec<Contact>>,
    interactive: Option<interactive::InteractiveSpec>,
    template: Option<template::TemplateSpec>,
    reaction: Option<Reaction>,
}

impl MessageSpec {
    fn into_message(self) -> Result<Message> {
        let recipient_type = match self.recipient_type.as_deref() {
            None | Some("individual") => RecipientType::Individual,
            Some("group") => RecipientType::Group,
            Some(other) => {
                return Err(Error::invalid(
                    "recipient_type",
                    format!("must be individual or group (got {other:?})"),
                ));
            }
        };
        let present = present!(self;
            text, image, audio, video, document, sticker, location, contacts, interactive,
            template, reaction,
        );
        let t = self.kind.as_str();
        let media = |m: Option<Media>, kind| m.map(|m| MessageContent::Media(kind, m));
        let content = match t {
            "text" => self.text.map(MessageContent::Text),
            "image" => media(self.image, MediaKind::Image),
            "audio" => media(self.audio, MediaKind::Audio),
            "video" => media(self.video, MediaKind::Video),
            "document" => media(self.document, MediaKind::Document),
            "sticker" => media(self.sticker, MediaKind::Sticker),
            "location" => self.location.map(MessageContent::Location),
            "contacts" => self.contacts.map(MessageContent::Contacts),
            "interactive" => match self.interactive {
                Some(i) => Some(MessageContent::Interactive(Box::new(i.into_model()?))),
                None => None,
            },
            "template" => match self.template {
                Some(i) => Some(MessageContent::Template(Box::new(i.into_model()?))),
                None => None,
            },
            "reaction" => self.reaction.map(MessageContent::Reaction),
            other => {
                check_type(other)?;
                None
            }
        };
        let content = content.ok_or_else(|| Error::invalid(t, "is required"))?;
        if let Some((k, _)) = present.iter().find(|(k, p)| *p && *k != t) {
            return Err(Error::invalid(*k, "unknown field"));
        }
        Ok(Message {
            to: self.to,
            recipient: self.recipient,
            recipient_type,
            reply_to: self.reply_to,
            callback_data: self.callback_data,
            content,
            misuse: None,
        })
    }
}

read::map_only!(MessageSpec, StatusSpec);

/// The content types of [`Message::from_json`] (the `type` of a `POST /messages`
/// body other than a status update); the sandbox accepts the same list.
pub const MESSAGE_TYPES: [&str; 11] = [
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
];

fn check_type(t: &str) -> Result<()> {
    if MESSAGE_TYPES.contains(&t) {
        return Ok(());
    }
    let hint = if t == "mark_read" || t == "typing" {
        " (mark_read and typing are built with build_body)"
    } else {
        ""
    };
    Err(Error::invalid(
        "type",
        format!(
            "must be one of {} (got {t:?}){hint}",
            MESSAGE_TYPES.join(", ")
        ),
    ))
}

/// `{"type": "mark_read" | "typing", "message_id": "wamid…"}`.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct StatusSpec {
    #[serde(rename = "type")]
    _kind: String,
    message_id: String,
}

impl Outbound for Message {
    fn to_body(&self) -> Result<Value> {
        if let Some((field, rule)) = &self.misuse {
            return Err(Error::invalid(field.clone(), rule.clone()));
        }
        // Validation first (recipient, envelope, content), then writing.
        let (key, who) = self.recipient_field()?;
        if let Some(r) = &self.reply_to {
            check_message_id("context.message_id", r)?;
        }
        if let Some(d) = &self.callback_data {
            check_len("biz_opaque_callback_data", d, 1, MAX_CALLBACK_DATA)?;
        }
        self.content.validate()?;
        let (to, recipient) = if key == "recipient" {
            (None, Some(who.as_str()))
        } else {
            (Some(who.as_str()), None)
        };
        wire::to_value(&wire::Envelope {
            messaging_product: "whatsapp",
            recipient_type: self.recipient_type.as_str(),
            to,
            recipient,
            kind: self.content.type_name(),
            context: self
                .reply_to
                .as_deref()
                .map(|message_id| wire::Context { message_id }),
            biz_opaque_callback_data: self.callback_data.as_deref(),
            content: self.content.wire(),
        })
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
        let message_id = read::from_neutral::<StatusSpec>(spec)?.message_id;
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

    fn err_of(spec: Value) -> (String, String) {
        let e = build_body(&spec).unwrap_err();
        (e.field().unwrap_or_default().to_string(), e.to_string())
    }

    #[test]
    fn structural_errors_name_the_neutral_path_and_rule() {
        // A misspelt key is reported as the missing one, as before serde.
        let (f, m) = err_of(
            json!({"to": "15555550123", "type": "interactive", "interactive":
            {"type": "button", "body": "b", "buttons": [{"id": "a", "titel": "A"}]}}),
        );
        assert_eq!(f, "interactive.buttons[0].title");
        assert!(m.ends_with("is required"), "{m}");
        // An array is never read as an object (serde's derive would take it
        // as the fields by position).
        let (f, m) = err_of(
            json!({"to": "15555550123", "type": "interactive", "interactive":
            {"type": "button", "body": "b", "buttons": [["a", "A"]]}}),
        );
        assert_eq!(f, "interactive.buttons[0]");
        assert!(m.ends_with("must be an object (got an array)"), "{m}");
        // A null named parameter is a wrong type at its own path.
        let (f, m) = err_of(json!({"to": "15555550123", "type": "template", "template":
            {"name": "t", "language": "en", "body": {"first_name": null}}}));
        assert_eq!(f, "template.body.first_name");
        assert!(m.ends_with("must be an object (got null)"), "{m}");
        // A key of another interactive type is unknown for this one.
        let (f, m) = err_of(
            json!({"to": "15555550123", "type": "interactive", "interactive":
            {"type": "button", "body": "b", "buttons": [{"id": "a", "title": "A"}], "url": "https://x.example"}}),
        );
        assert_eq!(f, "interactive.url");
        assert!(m.ends_with("unknown field"), "{m}");
        let (f, _) = err_of(json!({"to": "15555550123", "type": "template", "template":
            {"name": "t", "language": "en", "buttons": [{"sub_type": "url", "index": "x", "text": "a"}]}}));
        assert_eq!(f, "template.buttons[0].index");
    }

    #[test]
    fn many_unknown_keys_are_reported_once_and_cheaply() {
        let mut spec = json!({"to": "15555550123", "type": "interactive", "interactive":
            {"type": "location_request_message", "body": "Where are you?"}});
        for i in 0..1000 {
            spec["interactive"][format!("k{i}")] = json!(i);
        }
        let (f, m) = err_of(spec);
        assert_eq!(f, "interactive.k0");
        assert!(m.ends_with("unknown field"), "{m}");
    }

    #[test]
    fn wire_shapes_outside_the_conformance_cases() {
        let b = build_body(&json!({"to": "15555550123", "type": "template", "template": {
            "name": "t", "language": "en",
            "buttons": [{"sub_type": "catalog", "index": 0, "thumbnail_product_retailer_id": "sku-1"},
                        {"sub_type": "flow", "index": 1}]}}))
        .unwrap();
        assert_eq!(
            b["template"]["components"],
            json!([
                {"type": "button", "sub_type": "catalog", "index": "0",
                 "parameters": [{"type": "action", "action": {"thumbnail_product_retailer_id": "sku-1"}}]},
                {"type": "button", "sub_type": "flow", "index": "1",
                 "parameters": [{"type": "action", "action": {}}]}
            ])
        );
        let b = build_body(
            &json!({"to": "15555550123", "type": "interactive", "interactive":
            {"type": "catalog_message", "body": "Browse"}}),
        )
        .unwrap();
        assert_eq!(
            b["interactive"],
            json!({"type": "catalog_message", "body": {"text": "Browse"}, "action": {"name": "catalog_message"}})
        );
        let card = json!({"name": {"formatted_name": "A B", "first_name": "A", "last_name": "B"},
            "phones": [{"phone": "+1 555", "type": "WORK", "wa_id": "1555"}],
            "emails": [{"email": "a@example.com", "type": "HOME"}],
            "urls": [{"url": "https://example.com", "type": "WORK"}],
            "addresses": [{"street": "1 Main St", "city": "X", "country_code": "US", "type": "HOME"}],
            "org": {"company": "Example", "title": "CEO"}, "birthday": "1990-02-28"});
        let b = build_body(&json!({"to": "15555550123", "type": "contacts", "contacts": [card]}))
            .unwrap();
        // The neutral card is the wire card, key order included.
        assert_eq!(
            serde_json::to_string(&b["contacts"][0]).unwrap(),
            serde_json::to_string(&card).unwrap()
        );
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
