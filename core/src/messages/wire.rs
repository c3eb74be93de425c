//! Writing the wire body of `POST /messages` with `#[derive(Serialize)]`.
//!
//! Each message family has a borrowed `…Wire` view (or serializes itself when
//! its neutral and wire forms are the same object), built only after the
//! family's `validate` step has passed. Field order follows docs/360dialog-api.md §4
//! (serde_json's `preserve_order` keeps it).

use serde::Serialize;
use serde_json::Value;

use super::contacts::ContactWire;
use super::interactive::InteractiveWire;
use super::location::LocationWire;
use super::media::Media;
use super::reaction::ReactionWire;
use super::template::TemplateWire;
use super::text::TextWire;
use crate::{Error, Result};

/// Serialize a wire view to a JSON value. Our views hold only strings,
/// numbers, booleans and string-keyed maps, so this does not fail in practice.
pub(crate) fn to_value<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("cannot write the body: {e}")))
}

/// The envelope of a message.
#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    pub(crate) messaging_product: &'static str,
    pub(crate) recipient_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) recipient: Option<&'a str>,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) context: Option<Context<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) biz_opaque_callback_data: Option<&'a str>,
    /// The content, under the key named by `type`.
    #[serde(flatten)]
    pub(crate) content: Content<'a>,
}

/// `context` of a reply.
#[derive(Serialize)]
pub(crate) struct Context<'a> {
    pub(crate) message_id: &'a str,
}

/// The content object, keyed by the message type.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Content<'a> {
    Text(TextWire<'a>),
    Image(&'a Media),
    Audio(&'a Media),
    Video(&'a Media),
    Document(&'a Media),
    Sticker(&'a Media),
    Location(LocationWire<'a>),
    Contacts(Vec<ContactWire<'a>>),
    Interactive(InteractiveWire<'a>),
    Template(TemplateWire<'a>),
    Reaction(ReactionWire<'a>),
}
