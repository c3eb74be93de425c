//! The canonical form of an event (`tests/conformance/webhook_parse/README.md`):
//! a borrowing serialiser ([`Canonical`]) that writes each kept wire piece as
//! its text, and [`Event::to_canonical`] / [`Event::canonical`].

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::events::{Contact, Event, EventKind, Json, payload_key};

impl Event {
    /// The canonical JSON form (see `tests/conformance/webhook_parse/README.md`).
    pub fn to_canonical(&self) -> Value {
        // Serialising into a `Value` cannot fail here: every map key is a string.
        serde_json::to_value(Canonical(self)).unwrap_or(Value::Null)
    }

    /// A serialisable view of the canonical form that borrows the event
    /// (no copy): `serde_json::to_string(&event.canonical())`.
    pub fn canonical(&self) -> Canonical<'_> {
        Canonical(self)
    }
}

/// Borrowing serialiser of the canonical form of one event.
#[derive(Debug, Clone, Copy)]
pub struct Canonical<'a>(pub &'a Event);

struct Errors<'a>(&'a [Value]);

impl Serialize for Errors<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(e)?;
        }
        seq.end()
    }
}

/// A kept `errors` list, or `[]` when absent.
struct LazyErrors<'a>(&'a Option<Json>);

impl Serialize for LazyErrors<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(j) => j.serialize(s),
            None => s.serialize_seq(Some(0))?.end(),
        }
    }
}

struct ContactOut<'a>(&'a Contact);

impl Serialize for ContactOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("wa_id", &self.0.wa_id)?;
        m.serialize_entry("user_id", &self.0.user_id)?;
        m.serialize_entry("name", &self.0.name)?;
        m.end()
    }
}

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ev = self.0;
        let o = &*ev.origin;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", ev.kind())?;
        m.serialize_entry("field", &o.field)?;
        m.serialize_entry("waba_id", &o.waba_id)?;
        m.serialize_entry("phone_number_id", &o.phone_number_id)?;
        m.serialize_entry("display_phone_number", &o.display_phone_number)?;
        match &ev.kind {
            EventKind::Message(msg) => {
                m.serialize_entry("id", &msg.id)?;
                m.serialize_entry("from", &msg.from)?;
                m.serialize_entry("from_user_id", &msg.from_user_id)?;
                m.serialize_entry("timestamp", &msg.timestamp)?;
                m.serialize_entry("type", &msg.message_type)?;
                m.serialize_entry("contact", &msg.contact.as_deref().map(ContactOut))?;
                m.serialize_entry("context", &msg.context)?;
                m.serialize_entry("errors", &LazyErrors(&msg.errors))?;
                if let Some(t) = msg.message_type.as_deref() {
                    m.serialize_entry(payload_key(t), &msg.payload)?;
                }
            }
            EventKind::Status(st) => {
                m.serialize_entry("id", &st.id)?;
                m.serialize_entry("status", &st.status)?;
                m.serialize_entry("timestamp", &st.timestamp)?;
                m.serialize_entry("recipient_id", &st.recipient_id)?;
                m.serialize_entry("recipient_user_id", &st.recipient_user_id)?;
                m.serialize_entry("conversation", &st.conversation)?;
                m.serialize_entry("pricing", &st.pricing)?;
                m.serialize_entry("errors", &LazyErrors(&st.errors))?;
                m.serialize_entry("biz_opaque_callback_data", &st.biz_opaque_callback_data)?;
            }
            EventKind::Error(errors) => m.serialize_entry("errors", &Errors(errors))?,
            EventKind::FieldUpdate(fu) => m.serialize_entry("value", &fu.value)?,
            EventKind::Unknown(raw) => m.serialize_entry("raw", raw)?,
        }
        m.end()
    }
}

/// Serialises a list of events as a JSON array of canonical events.
pub(crate) struct CanonicalList<'a>(pub &'a [Event]);

impl Serialize for CanonicalList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Canonical))
    }
}
