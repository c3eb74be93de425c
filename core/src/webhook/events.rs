//! Typed webhook events.
//!
//! [`parse`](super::parse::parse) turns one webhook POST into a flat list of
//! [`Event`]s: one per message, status, value-level error list, field update
//! or unreadable piece. Every event carries where it came from (`field`,
//! WABA id, phone-number id, display number) and one [`EventKind`].
//!
//! Wire objects are kept verbatim as [`serde_json::Value`] (the canonical
//! form repeats them unchanged); the typed views ([`InboundMessage::content`],
//! [`StatusUpdate::pricing`], [`FieldUpdate::typed`], …) read from them on
//! demand without copying, so creating an event is cheap and reading one
//! allocates nothing beyond the occasional small `Vec`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A wire JSON piece kept as its text (one allocation) and turned into a
/// [`Value`] only on first access (then cached). Building `Value` maps for
/// every payload, context and pricing object was most of the parse time
/// (docs/performance.md §5); most consumers read a field or two, or re-emit the
/// piece verbatim in the canonical JSON.
#[derive(Clone)]
pub(crate) struct Json {
    raw: Box<RawValue>,
    value: OnceLock<Value>,
}

impl Json {
    pub(crate) fn new(raw: &RawValue) -> Self {
        Json {
            raw: raw.to_owned(),
            value: OnceLock::new(),
        }
    }
    /// The piece when it is a JSON object.
    pub(crate) fn object(raw: &RawValue) -> Option<Self> {
        raw.get().starts_with('{').then(|| Json::new(raw))
    }
    /// The piece when it is a JSON list.
    pub(crate) fn list(raw: &RawValue) -> Option<Self> {
        raw.get().starts_with('[').then(|| Json::new(raw))
    }
    /// The parsed value (parsed once; the text was validated by the parse).
    pub(crate) fn value(&self) -> &Value {
        self.value
            .get_or_init(|| serde_json::from_str(self.raw.get()).unwrap_or(Value::Null))
    }
    /// Parse now, reporting a failure (only possible past serde_json's
    /// nesting limit of 128, i.e. with a raised `max_depth`).
    pub(crate) fn force(&self) -> Result<(), serde_json::Error> {
        if self.value.get().is_none() {
            let v: Value = serde_json::from_str(self.raw.get())?;
            let _ = self.value.set(v);
        }
        Ok(())
    }
    /// The piece as a list of values (empty when not a list).
    fn as_slice(&self) -> &[Value] {
        self.value().as_array().map_or(&[], Vec::as_slice)
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw.get())
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get() || self.value() == other.value()
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Always the wire text (serde_json writers copy it verbatim; `to_value`
        // parses it), never the cached value: the output must not depend on
        // which accessor ran first (a repeated key, `1.0`, `1E2` are written
        // as received and read alike by every language).
        self.raw.serialize(s)
    }
}

fn json_slice(j: &Option<Json>) -> &[Value] {
    j.as_ref().map_or(&[], Json::as_slice)
}

/// Where an event came from: shared by every event of one change.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Origin {
    /// Static for the usual `messages` (no allocation per change).
    pub(crate) field: Option<Cow<'static, str>>,
    pub(crate) waba_id: Option<String>,
    pub(crate) phone_number_id: Option<String>,
    pub(crate) display_phone_number: Option<String>,
}

/// One event of a webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub(crate) origin: Arc<Origin>,
    pub(crate) kind: EventKind,
}

/// What an [`Event`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// An inbound message (any wire `type`, known or not).
    Message(Box<InboundMessage>),
    /// A status update of an outbound message (any `status` value).
    Status(Box<StatusUpdate>),
    /// The value-level `errors` list of a `messages` change (docs/360dialog-api.md §6.7).
    Error(Vec<Value>),
    /// A change whose `field` is not `messages`.
    FieldUpdate(FieldUpdate),
    /// A piece that could not be read as any of the above, kept raw.
    Unknown(Value),
}

impl Event {
    pub(crate) fn new(origin: Arc<Origin>, kind: EventKind) -> Self {
        Event { origin, kind }
    }

    /// `message`, `status`, `error`, `field_update` or `unknown`.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            EventKind::Message(_) => "message",
            EventKind::Status(_) => "status",
            EventKind::Error(_) => "error",
            EventKind::FieldUpdate(_) => "field_update",
            EventKind::Unknown(_) => "unknown",
        }
    }

    /// The typed kind.
    pub fn event_kind(&self) -> &EventKind {
        &self.kind
    }

    /// The change's `field` (e.g. `messages`), when it was a string.
    pub fn field(&self) -> Option<&str> {
        self.origin.field.as_deref()
    }

    /// The entry `id` (the WABA id).
    pub fn waba_id(&self) -> Option<&str> {
        self.origin.waba_id.as_deref()
    }

    /// `metadata.phone_number_id` of the change's value.
    pub fn phone_number_id(&self) -> Option<&str> {
        self.origin.phone_number_id.as_deref()
    }

    /// `metadata.display_phone_number` of the change's value.
    pub fn display_phone_number(&self) -> Option<&str> {
        self.origin.display_phone_number.as_deref()
    }

    /// The inbound message, for `message` events.
    pub fn as_message(&self) -> Option<&InboundMessage> {
        match &self.kind {
            EventKind::Message(m) => Some(m),
            _ => None,
        }
    }

    /// The status update, for `status` events.
    pub fn as_status(&self) -> Option<&StatusUpdate> {
        match &self.kind {
            EventKind::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The value-level error list, for `error` events.
    pub fn as_errors(&self) -> Option<&[Value]> {
        match &self.kind {
            EventKind::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The field update, for `field_update` events.
    pub fn as_field_update(&self) -> Option<&FieldUpdate> {
        match &self.kind {
            EventKind::FieldUpdate(f) => Some(f),
            _ => None,
        }
    }

    /// The raw JSON, for `unknown` events.
    pub fn as_unknown(&self) -> Option<&Value> {
        match &self.kind {
            EventKind::Unknown(v) => Some(v),
            _ => None,
        }
    }

    /// Parse every kept wire piece now (see [`Json::force`]).
    pub(crate) fn force_json(&self) -> Result<(), serde_json::Error> {
        let (one, list): (&[&Option<Json>], _) = match &self.kind {
            EventKind::Message(m) => (&[&m.context, &m.payload, &m.errors], &m.extra),
            EventKind::Status(s) => (&[&s.conversation, &s.pricing, &s.errors], &s.extra),
            _ => return Ok(()),
        };
        for j in one.iter().copied().flatten() {
            j.force()?;
        }
        for (_, j) in list {
            j.force()?;
        }
        Ok(())
    }
}

/// The sender's `contacts[]` entry matched by `wa_id` or `user_id`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contact {
    /// `wa_id` (phone number as WhatsApp id); missing for username users.
    pub wa_id: Option<String>,
    /// `user_id` (business-scoped user id, BSUID).
    pub user_id: Option<String>,
    /// `profile.name`.
    pub name: Option<String>,
    /// `profile.username`.
    pub username: Option<String>,
}

/// An inbound message (`value.messages[]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InboundMessage {
    pub(crate) id: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) from_user_id: Option<String>,
    pub(crate) timestamp: Option<i64>,
    pub(crate) message_type: Option<String>,
    pub(crate) context: Option<Json>,
    pub(crate) errors: Option<Json>,
    pub(crate) contact: Option<Arc<Contact>>,
    pub(crate) payload: Option<Json>,
    pub(crate) extra: Vec<(String, Json)>,
}

/// Message types whose payload is written under the key `payload` instead
/// of the type name: every key of the canonical form of any event kind (so a
/// key means the same thing on every event), and the names JavaScript
/// objects inherit from `Object.prototype` (a `toJSON` or `__proto__` own
/// key changes how JS serialises or reads the object). One rule for the
/// three languages: `tests/conformance/webhook_parse/README.md`.
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    // canonical keys
    "kind",
    "field",
    "waba_id",
    "phone_number_id",
    "display_phone_number",
    "id",
    "from",
    "from_user_id",
    "timestamp",
    "type",
    "contact",
    "context",
    "errors",
    "status",
    "recipient_id",
    "recipient_user_id",
    "conversation",
    "pricing",
    "biz_opaque_callback_data",
    "value",
    "raw",
    // Object.prototype
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toJSON",
    "toLocaleString",
    "toString",
    "valueOf",
];

/// The canonical key of a message's payload: its type, or `payload` for a
/// reserved name (see [`RESERVED_TYPE_NAMES`]).
pub fn payload_key(message_type: &str) -> &str {
    if RESERVED_TYPE_NAMES.contains(&message_type) {
        "payload"
    } else {
        message_type
    }
}

fn get_str<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v?.get(key)?.as_str()
}

fn get_bool(v: Option<&Value>, key: &str) -> Option<bool> {
    v?.get(key)?.as_bool()
}

/// A JSON number, or a string holding one (docs/360dialog-api.md §6.9).
fn num_or_str_f64(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// An integer, or a string of digits (docs/360dialog-api.md §6.9).
/// A string of ASCII digits (no sign, no spaces) that fits in an `i64`.
pub(crate) fn digits_to_i64(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn int_or_digits(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => digits_to_i64(s),
        _ => None,
    }
}

impl InboundMessage {
    /// The wamid (dedupe key).
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    /// Sender phone (`from`); missing for username users.
    pub fn from(&self) -> Option<&str> {
        self.from.as_deref()
    }
    /// Sender BSUID (`from_user_id`).
    pub fn from_user_id(&self) -> Option<&str> {
        self.from_user_id.as_deref()
    }
    /// Unix seconds (wire digit strings converted); `None` when unreadable.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    /// The wire `type`, unchanged (unknown values kept).
    pub fn message_type(&self) -> Option<&str> {
        self.message_type.as_deref()
    }
    /// The sender's contact entry (matched by `wa_id` / `user_id`, never by position).
    pub fn contact(&self) -> Option<&Contact> {
        self.contact.as_deref()
    }
    /// The wire `context` object.
    pub fn context_raw(&self) -> Option<&Value> {
        self.context.as_ref().map(Json::value)
    }
    /// The typed `context` (reply, forwarded, referred product).
    pub fn context(&self) -> Option<MessageContext<'_>> {
        self.context_raw().map(MessageContext)
    }
    /// Message-level `errors` (e.g. on `unsupported`); empty when absent.
    pub fn errors(&self) -> &[Value] {
        json_slice(&self.errors)
    }
    /// The wire object under the type key (e.g. `{"body": "hi"}` for text).
    pub fn payload(&self) -> Option<&Value> {
        self.payload.as_ref().map(Json::value)
    }
    /// Any other top-level wire key of the message (e.g. `referral`, `identity`, `group_id`).
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.extra
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.value())
    }
    /// Click-to-WhatsApp ad referral, when present.
    pub fn referral(&self) -> Option<Referral<'_>> {
        self.extra("referral")
            .filter(|v| v.is_object())
            .map(Referral)
    }
    /// `from_parent_user_id`, when present.
    pub fn from_parent_user_id(&self) -> Option<&str> {
        self.extra("from_parent_user_id").and_then(Value::as_str)
    }

    /// The typed content, read from the payload on demand.
    pub fn content(&self) -> Content<'_> {
        let p = self.payload();
        let ty = self.message_type.as_deref().unwrap_or("");
        let media = || MediaRef {
            id: get_str(p, "id"),
            mime_type: get_str(p, "mime_type"),
            sha256: get_str(p, "sha256"),
            caption: get_str(p, "caption"),
            url: get_str(p, "url"),
        };
        match ty {
            "text" => Content::Text {
                body: get_str(p, "body"),
            },
            "image" => Content::Image(media()),
            "video" => Content::Video(media()),
            "audio" => Content::Audio {
                media: media(),
                voice: get_bool(p, "voice").unwrap_or(false),
            },
            "document" => Content::Document {
                media: media(),
                filename: get_str(p, "filename"),
            },
            "sticker" => Content::Sticker {
                media: media(),
                animated: get_bool(p, "animated").unwrap_or(false),
            },
            "location" => Content::Location(Location {
                latitude: num_or_str_f64(p.and_then(|p| p.get("latitude"))),
                longitude: num_or_str_f64(p.and_then(|p| p.get("longitude"))),
                name: get_str(p, "name"),
                address: get_str(p, "address"),
                url: get_str(p, "url"),
            }),
            "contacts" => Content::Contacts(p.and_then(Value::as_array).map_or(&[], Vec::as_slice)),
            "button" => Content::Button {
                payload: get_str(p, "payload"),
                text: get_str(p, "text"),
            },
            "interactive" => Content::Interactive(Interactive::from_payload(p)),
            "reaction" => {
                let emoji = get_str(p, "emoji").filter(|e| !e.is_empty());
                Content::Reaction {
                    message_id: get_str(p, "message_id"),
                    emoji,
                    removed: emoji.is_none(),
                }
            }
            "order" => Content::Order(Order(p)),
            "system" => Content::System {
                body: get_str(p, "body"),
                system_type: get_str(p, "type"),
                wa_id: get_str(p, "wa_id"),
                user_id: get_str(p, "user_id"),
            },
            "unsupported" | "unknown" => Content::Unsupported {
                unsupported_type: get_str(p, "type"),
                errors: self.errors(),
            },
            "request_welcome" => Content::RequestWelcome,
            "edit" => Content::Edit {
                original_message_id: get_str(p, "original_message_id"),
                message: p.and_then(|p| p.get("message")),
            },
            "revoke" => Content::Revoke {
                original_message_id: get_str(p, "original_message_id"),
            },
            _ => Content::Other {
                message_type: self.message_type.as_deref(),
                payload: p,
            },
        }
    }
}

/// A media object of an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MediaRef<'a> {
    /// Media id (fetch with `client.media().info(id)`).
    pub id: Option<&'a str>,
    /// MIME type.
    pub mime_type: Option<&'a str>,
    /// SHA-256 of the file.
    pub sha256: Option<&'a str>,
    /// Caption (image, video, document).
    pub caption: Option<&'a str>,
    /// Download URL (newer payloads; apply the host rule).
    pub url: Option<&'a str>,
}

/// A shared location (latitude/longitude accept numbers or strings, §6.9).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Location<'a> {
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Place name (chosen places only).
    pub name: Option<&'a str>,
    /// Place address.
    pub address: Option<&'a str>,
    /// Place URL.
    pub url: Option<&'a str>,
}

/// The typed content of an inbound message.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Content<'a> {
    /// `text`.
    Text {
        /// The text.
        body: Option<&'a str>,
    },
    /// `image`.
    Image(MediaRef<'a>),
    /// `video`.
    Video(MediaRef<'a>),
    /// `audio`; `voice` is true for a recorded voice note.
    Audio {
        /// The media.
        media: MediaRef<'a>,
        /// Recorded voice note.
        voice: bool,
    },
    /// `document`.
    Document {
        /// The media.
        media: MediaRef<'a>,
        /// File name.
        filename: Option<&'a str>,
    },
    /// `sticker`.
    Sticker {
        /// The media.
        media: MediaRef<'a>,
        /// Animated sticker.
        animated: bool,
    },
    /// `location`.
    Location(Location<'a>),
    /// `contacts`: the wire contact cards.
    Contacts(&'a [Value]),
    /// `button`: a quick-reply tap on a template button.
    Button {
        /// The button payload.
        payload: Option<&'a str>,
        /// The button text.
        text: Option<&'a str>,
    },
    /// `interactive`.
    Interactive(Interactive<'a>),
    /// `reaction`; an empty or missing emoji means the reaction was removed.
    Reaction {
        /// The message reacted to.
        message_id: Option<&'a str>,
        /// The emoji, `None` when removed.
        emoji: Option<&'a str>,
        /// The reaction was removed.
        removed: bool,
    },
    /// `order`.
    Order(Order<'a>),
    /// `system` (number / identity changes).
    System {
        /// Human-readable text.
        body: Option<&'a str>,
        /// `system.type`, e.g. `user_changed_number`.
        system_type: Option<&'a str>,
        /// New `wa_id`.
        wa_id: Option<&'a str>,
        /// New `user_id`.
        user_id: Option<&'a str>,
    },
    /// `unsupported` (or the legacy `unknown` type).
    Unsupported {
        /// `unsupported.type`, e.g. `poll`.
        unsupported_type: Option<&'a str>,
        /// The message-level errors.
        errors: &'a [Value],
    },
    /// `request_welcome`.
    RequestWelcome,
    /// `edit`: the user edited a message.
    Edit {
        /// The edited message.
        original_message_id: Option<&'a str>,
        /// The new message content (`{type, <type>: {…}}`).
        message: Option<&'a Value>,
    },
    /// `revoke`: the user deleted a message.
    Revoke {
        /// The deleted message.
        original_message_id: Option<&'a str>,
    },
    /// Any other type, kept with its wire payload.
    Other {
        /// The wire type.
        message_type: Option<&'a str>,
        /// The wire object under the type key.
        payload: Option<&'a Value>,
    },
}

/// The interactive reply kinds.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Interactive<'a> {
    /// A reply-button tap.
    ButtonReply {
        /// Button id.
        id: Option<&'a str>,
        /// Button title.
        title: Option<&'a str>,
    },
    /// A list row chosen.
    ListReply {
        /// Row id.
        id: Option<&'a str>,
        /// Row title.
        title: Option<&'a str>,
        /// Row description.
        description: Option<&'a str>,
    },
    /// A flow completion or address submission.
    NfmReply {
        /// `flow`, `address_message`, …
        name: Option<&'a str>,
        /// Body text (`Sent` for flows).
        body: Option<&'a str>,
        /// The response as a JSON string; parse with [`Interactive::response`].
        response_json: Option<&'a str>,
    },
    /// Any other sub-type.
    Other {
        /// `interactive.type`.
        interactive_type: Option<&'a str>,
        /// The wire `interactive` object.
        raw: Option<&'a Value>,
    },
}

impl<'a> Interactive<'a> {
    fn from_payload(p: Option<&'a Value>) -> Self {
        let ty = get_str(p, "type");
        let sub = ty.and_then(|t| p.and_then(|p| p.get(t)));
        match ty {
            Some("button_reply") => Interactive::ButtonReply {
                id: get_str(sub, "id"),
                title: get_str(sub, "title"),
            },
            Some("list_reply") => Interactive::ListReply {
                id: get_str(sub, "id"),
                title: get_str(sub, "title"),
                description: get_str(sub, "description"),
            },
            Some("nfm_reply") => Interactive::NfmReply {
                name: get_str(sub, "name"),
                body: get_str(sub, "body"),
                response_json: get_str(sub, "response_json"),
            },
            _ => Interactive::Other {
                interactive_type: ty,
                raw: p,
            },
        }
    }

    /// For an `nfm_reply`, `response_json` parsed (second step, §6.4).
    pub fn response(&self) -> Option<Value> {
        match self {
            Interactive::NfmReply {
                response_json: Some(s),
                ..
            } => serde_json::from_str(s).ok(),
            _ => None,
        }
    }
}

/// An `order` payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order<'a>(Option<&'a Value>);

/// One ordered product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderItem<'a> {
    /// Product retailer id.
    pub product_retailer_id: Option<&'a str>,
    /// Quantity.
    pub quantity: Option<i64>,
    /// Unit price (not rounded).
    pub item_price: Option<f64>,
    /// Currency code.
    pub currency: Option<&'a str>,
}

impl<'a> Order<'a> {
    /// Catalog id.
    pub fn catalog_id(&self) -> Option<&'a str> {
        get_str(self.0, "catalog_id")
    }
    /// Text sent with the order.
    pub fn text(&self) -> Option<&'a str> {
        get_str(self.0, "text")
    }
    /// The ordered items (non-object entries skipped).
    pub fn items(&self) -> Vec<OrderItem<'a>> {
        self.0
            .and_then(|p| p.get("product_items"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter(|i| i.is_object())
                    .map(|i| OrderItem {
                        product_retailer_id: get_str(Some(i), "product_retailer_id"),
                        quantity: int_or_digits(i.get("quantity")),
                        item_price: num_or_str_f64(i.get("item_price")),
                        currency: get_str(Some(i), "currency"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A message's `context`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MessageContext<'a>(&'a Value);

impl<'a> MessageContext<'a> {
    /// Sender of the quoted message (the business number for button replies).
    pub fn from(&self) -> Option<&'a str> {
        get_str(Some(self.0), "from")
    }
    /// Id of the quoted / replied-to message.
    pub fn id(&self) -> Option<&'a str> {
        get_str(Some(self.0), "id")
    }
    /// The message was forwarded.
    pub fn forwarded(&self) -> bool {
        get_bool(Some(self.0), "forwarded").unwrap_or(false)
    }
    /// The message was forwarded more than 5 times.
    pub fn frequently_forwarded(&self) -> bool {
        get_bool(Some(self.0), "frequently_forwarded").unwrap_or(false)
    }
    /// `(catalog_id, product_retailer_id)` of a product enquiry.
    pub fn referred_product(&self) -> Option<(Option<&'a str>, Option<&'a str>)> {
        let p = self.0.get("referred_product").filter(|p| p.is_object())?;
        Some((
            get_str(Some(p), "catalog_id"),
            get_str(Some(p), "product_retailer_id"),
        ))
    }
}

/// A Click-to-WhatsApp `referral`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Referral<'a>(&'a Value);

impl<'a> Referral<'a> {
    /// Read any string key (`source_url`, `source_id`, `source_type`,
    /// `headline`, `body`, `media_type`, `image_url`, `video_url`,
    /// `thumbnail_url`, `ctwa_clid`).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        get_str(Some(self.0), key)
    }
    /// The ad's click id.
    pub fn ctwa_clid(&self) -> Option<&'a str> {
        self.get("ctwa_clid")
    }
    /// The wire object.
    pub fn raw(&self) -> &'a Value {
        self.0
    }
}

/// The status of an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind<'a> {
    /// `sent`.
    Sent,
    /// `delivered`.
    Delivered,
    /// `read`.
    Read,
    /// `played` (voice message).
    Played,
    /// `failed` (see the errors).
    Failed,
    /// Any other value, kept.
    Other(&'a str),
}

/// A status update (`value.statuses[]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusUpdate {
    pub(crate) id: Option<String>,
    /// Static for the statuses 360dialog sends (no allocation per status).
    pub(crate) status: Option<Cow<'static, str>>,
    pub(crate) timestamp: Option<i64>,
    pub(crate) recipient_id: Option<String>,
    pub(crate) recipient_user_id: Option<String>,
    pub(crate) conversation: Option<Json>,
    pub(crate) pricing: Option<Json>,
    pub(crate) errors: Option<Json>,
    pub(crate) biz_opaque_callback_data: Option<String>,
    pub(crate) extra: Vec<(String, Json)>,
}

/// The `pricing` object of a status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pricing<'a>(&'a Value);

impl<'a> Pricing<'a> {
    /// `billable` (deprecated under PMP but still sent).
    pub fn billable(&self) -> Option<bool> {
        get_bool(Some(self.0), "billable")
    }
    /// `CBP` or `PMP`.
    pub fn pricing_model(&self) -> Option<&'a str> {
        get_str(Some(self.0), "pricing_model")
    }
    /// `regular`, `free_customer_service`, `free_entry_point`, …
    pub fn pricing_type(&self) -> Option<&'a str> {
        get_str(Some(self.0), "type")
    }
    /// `utility`, `marketing`, `service`, …
    pub fn category(&self) -> Option<&'a str> {
        get_str(Some(self.0), "category")
    }
}

impl StatusUpdate {
    /// The wamid of the outbound message.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    /// The wire status value.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    /// The status as an enum (unknown values kept in `Other`).
    pub fn status_kind(&self) -> Option<StatusKind<'_>> {
        Some(match self.status.as_deref()? {
            "sent" => StatusKind::Sent,
            "delivered" => StatusKind::Delivered,
            "read" => StatusKind::Read,
            "played" => StatusKind::Played,
            "failed" => StatusKind::Failed,
            other => StatusKind::Other(other),
        })
    }
    /// Unix seconds; `None` when unreadable.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    /// Recipient phone or group id.
    pub fn recipient_id(&self) -> Option<&str> {
        self.recipient_id.as_deref()
    }
    /// Recipient BSUID.
    pub fn recipient_user_id(&self) -> Option<&str> {
        self.recipient_user_id.as_deref()
    }
    /// The wire `conversation` object.
    pub fn conversation(&self) -> Option<&Value> {
        self.conversation.as_ref().map(Json::value)
    }
    /// `conversation.id`.
    pub fn conversation_id(&self) -> Option<&str> {
        get_str(self.conversation(), "id")
    }
    /// `conversation.expiration_timestamp` (string or number, §6.9).
    pub fn conversation_expiration(&self) -> Option<i64> {
        int_or_digits(
            self.conversation()
                .and_then(|c| c.get("expiration_timestamp")),
        )
    }
    /// `conversation.origin.type`.
    pub fn conversation_origin(&self) -> Option<&str> {
        get_str(self.conversation().and_then(|c| c.get("origin")), "type")
    }
    /// The wire `pricing` object.
    pub fn pricing_raw(&self) -> Option<&Value> {
        self.pricing.as_ref().map(Json::value)
    }
    /// The typed pricing.
    pub fn pricing(&self) -> Option<Pricing<'_>> {
        self.pricing_raw().map(Pricing)
    }
    /// Errors (on `failed`); empty when absent.
    pub fn errors(&self) -> &[Value] {
        json_slice(&self.errors)
    }
    /// Typed errors.
    pub fn error_details(&self) -> Vec<WebhookError<'_>> {
        self.errors().iter().map(WebhookError).collect()
    }
    /// The `biz_opaque_callback_data` sent with the message.
    pub fn biz_opaque_callback_data(&self) -> Option<&str> {
        self.biz_opaque_callback_data.as_deref()
    }
    /// Any other top-level wire key (e.g. `recipient_type`, `recipient_participant_id`).
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.extra
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.value())
    }
}

/// A typed view of one wire error object (`code`, `title`, `message`,
/// `error_data.details`, `href`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebhookError<'a>(pub &'a Value);

impl<'a> WebhookError<'a> {
    /// Meta's numeric code.
    pub fn code(&self) -> Option<i64> {
        int_or_digits(self.0.get("code"))
    }
    /// Title.
    pub fn title(&self) -> Option<&'a str> {
        get_str(Some(self.0), "title")
    }
    /// Message.
    pub fn message(&self) -> Option<&'a str> {
        get_str(Some(self.0), "message")
    }
    /// `error_data.details`.
    pub fn details(&self) -> Option<&'a str> {
        get_str(self.0.get("error_data"), "details")
    }
    /// Documentation link.
    pub fn href(&self) -> Option<&'a str> {
        get_str(Some(self.0), "href")
    }
}

/// A change whose `field` is not `messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldUpdate {
    pub(crate) value: Option<Value>,
}

/// The typed field updates documented in docs/360dialog-api.md §6.8.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum FieldUpdateKind<'a> {
    /// `message_template_status_update`.
    TemplateStatus(TemplateUpdate<'a>),
    /// `template_category_update`.
    TemplateCategory(TemplateUpdate<'a>),
    /// `message_template_quality_update`.
    TemplateQuality(TemplateUpdate<'a>),
    /// `phone_number_quality_update`.
    PhoneNumberQuality(Fields<'a>),
    /// `phone_number_name_update`.
    PhoneNumberName(Fields<'a>),
    /// `account_update`.
    AccountUpdate(Fields<'a>),
    /// `user_preferences`.
    UserPreferences(UserPreferences<'a>),
    /// Any other field: read [`FieldUpdate::value`].
    Other,
}

/// String fields of a field-update value, read on demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fields<'a>(Option<&'a Value>);

impl<'a> Fields<'a> {
    /// Any string key, e.g. `event`, `current_limit`, `old_limit`,
    /// `max_daily_conversations_per_business`, `display_phone_number`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        get_str(self.0, key)
    }
    /// `event` (e.g. `UPGRADE`, `ACCOUNT_VIOLATION`).
    pub fn event(&self) -> Option<&'a str> {
        self.get("event")
    }
    /// Any key as raw JSON (e.g. `restriction_info`, `violation_info`).
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.0?.get(key)
    }
}

/// A template update (status, category or quality).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateUpdate<'a>(Fields<'a>);

impl<'a> TemplateUpdate<'a> {
    /// `message_template_id` (a wire number) as a string.
    pub fn template_id(&self) -> Option<String> {
        match self.0.raw("message_template_id")? {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
    /// `message_template_name`.
    pub fn template_name(&self) -> Option<&'a str> {
        self.0.get("message_template_name")
    }
    /// `message_template_language`.
    pub fn template_language(&self) -> Option<&'a str> {
        self.0.get("message_template_language")
    }
    /// Any other string key (`event`, `reason`, `new_category`,
    /// `previous_category`, `new_quality_score`, `previous_quality_score`, …).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0.get(key)
    }
}

/// `user_preferences` entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserPreferences<'a>(Option<&'a Value>);

/// One marketing-preference change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserPreference<'a> {
    /// The user's `wa_id`.
    pub wa_id: Option<&'a str>,
    /// `category` (e.g. `marketing_messages`).
    pub category: Option<&'a str>,
    /// `stop`, `resume`, `signup`, …
    pub value: Option<&'a str>,
    /// Human-readable detail.
    pub detail: Option<&'a str>,
    /// Unix seconds (a wire number).
    pub timestamp: Option<i64>,
}

impl<'a> UserPreferences<'a> {
    /// The entries (non-objects skipped).
    pub fn entries(&self) -> Vec<UserPreference<'a>> {
        self.0
            .and_then(|v| v.get("user_preferences"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|e| e.is_object())
                    .map(|e| UserPreference {
                        wa_id: get_str(Some(e), "wa_id"),
                        category: get_str(Some(e), "category"),
                        value: get_str(Some(e), "value"),
                        detail: get_str(Some(e), "detail"),
                        timestamp: int_or_digits(e.get("timestamp")),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl FieldUpdate {
    /// The wire `value`, unchanged.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    /// A typed view for the fields the spec documents; `field` is the
    /// event's [`Event::field`].
    pub fn typed<'a>(&'a self, field: Option<&str>) -> FieldUpdateKind<'a> {
        let v = self.value.as_ref().filter(|v| v.is_object());
        let f = Fields(v);
        match field.unwrap_or("") {
            "message_template_status_update" => FieldUpdateKind::TemplateStatus(TemplateUpdate(f)),
            "template_category_update" => FieldUpdateKind::TemplateCategory(TemplateUpdate(f)),
            "message_template_quality_update" => {
                FieldUpdateKind::TemplateQuality(TemplateUpdate(f))
            }
            "phone_number_quality_update" => FieldUpdateKind::PhoneNumberQuality(f),
            "phone_number_name_update" => FieldUpdateKind::PhoneNumberName(f),
            "account_update" => FieldUpdateKind::AccountUpdate(f),
            "user_preferences" => FieldUpdateKind::UserPreferences(UserPreferences(v)),
            _ => FieldUpdateKind::Other,
        }
    }
}

// Events cross threads and language boundaries: keep them Send + Sync + Clone.
const _: fn() = || {
    fn is<T: Send + Sync + Clone>() {}
    is::<Event>();
};
