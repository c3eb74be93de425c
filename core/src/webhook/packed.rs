//! The canonical events in a packed, positional JSON form, for bindings that
//! build their objects from JSON text themselves (the Node package).
//!
//! Why (docs/performance.md §5, "Node binding"): the canonical JSON repeats
//! every key name and the change's four origin strings in every event, and
//! the contact in every message of the sender. `JSON.parse` of that text was
//! most of the JavaScript side of `parseWebhook`, and on a 20-event batch it
//! cost more than `JSON.parse` of the body itself. This form writes each
//! origin and each contact once, and each event as a list in a fixed order,
//! so the binding turns it into the canonical objects with object literals.
//! The values are the canonical values exactly: the wire pieces (payload,
//! `context`, `errors`, `pricing`, …) are the same text the canonical JSON
//! copies.
//!
//! Layout (a JSON array):
//!
//! ```text
//! [ origins, contacts, event, event, … ]
//! origins  = [field, waba_id, phone_number_id, display_phone_number, …]   (4 per origin)
//! contacts = [wa_id, user_id, name, …]                                     (3 per contact)
//! message  = [0, o, id, from, from_user_id, timestamp, type, c, context, errors, pk, payload]
//! status   = [1, o, id, status, timestamp, recipient_id, recipient_user_id,
//!             conversation, pricing, errors, biz_opaque_callback_data]
//! error    = [2, o, errors]
//! field_update = [3, o, value]
//! unknown  = [4, o, raw]
//! ```
//!
//! `o` is the index of the event's origin in `origins` (a multiple of 4);
//! `c` the index of its contact in `contacts` (a multiple of 3), or -1 for a
//! `null` contact. `pk` says under which key the payload goes: `0` no payload
//! key (the type is null), `1` the type itself, or the key as a string (for a
//! reserved type name, `"payload"`; see [`super::events::payload_key`]).

use std::sync::Arc;

use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::events::{Contact, Event, EventKind, Json, Origin, payload_key};
use super::parse::{ParseOptions, parse_with};
use crate::Result;

/// Parse a body (default limits) and return the events in the packed form.
pub fn parse_to_packed_json(body: &[u8]) -> Result<String> {
    parse_to_packed_json_with(body, &ParseOptions::default())
}

/// [`parse_to_packed_json`] with explicit limits.
pub fn parse_to_packed_json_with(body: &[u8], opts: &ParseOptions) -> Result<String> {
    let events = parse_with(body, opts)?;
    Ok(to_packed_json(&events, body.len()))
}

/// The packed form of parsed events. `size_hint` sizes the buffer.
pub fn to_packed_json(events: &[Event], size_hint: usize) -> String {
    let mut out = Vec::with_capacity(size_hint);
    // Cannot fail: every piece is a string, a number, null or kept JSON text.
    if serde_json::to_writer(&mut out, &Packed::new(events)).is_err() {
        out.clear();
    }
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

struct Packed<'a> {
    events: &'a [Event],
    origins: Vec<&'a Origin>,
    /// Index into `origins` of each event.
    origin_of: Vec<usize>,
    contacts: Vec<&'a Contact>,
    /// Index into `contacts` of each event (`usize::MAX`: none).
    contact_of: Vec<usize>,
}

impl<'a> Packed<'a> {
    fn new(events: &'a [Event]) -> Self {
        let mut origins: Vec<&'a Arc<Origin>> = Vec::new();
        let mut contacts: Vec<&'a Arc<Contact>> = Vec::new();
        let mut origin_of = Vec::with_capacity(events.len());
        let mut contact_of = Vec::with_capacity(events.len());
        for ev in events {
            // Events of one change share one origin, and follow each other.
            let oi = match origins.iter().rposition(|o| Arc::ptr_eq(o, &ev.origin)) {
                Some(i) => i,
                None => {
                    origins.push(&ev.origin);
                    origins.len() - 1
                }
            };
            origin_of.push(oi);
            let ci = match &ev.kind {
                EventKind::Message(m) => match &m.contact {
                    Some(c) => match contacts.iter().rposition(|x| Arc::ptr_eq(x, c)) {
                        Some(i) => i,
                        None => {
                            contacts.push(c);
                            contacts.len() - 1
                        }
                    },
                    None => usize::MAX,
                },
                _ => usize::MAX,
            };
            contact_of.push(ci);
        }
        Packed {
            events,
            origins: origins.into_iter().map(|o| &**o).collect(),
            origin_of,
            contacts: contacts.into_iter().map(|c| &**c).collect(),
            contact_of,
        }
    }
}

struct Origins<'a>(&'a [&'a Origin]);

impl Serialize for Origins<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 4))?;
        for o in self.0 {
            seq.serialize_element(&o.field)?;
            seq.serialize_element(&o.waba_id)?;
            seq.serialize_element(&o.phone_number_id)?;
            seq.serialize_element(&o.display_phone_number)?;
        }
        seq.end()
    }
}

struct Contacts<'a>(&'a [&'a Contact]);

impl Serialize for Contacts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 3))?;
        for c in self.0 {
            seq.serialize_element(&c.wa_id)?;
            seq.serialize_element(&c.user_id)?;
            seq.serialize_element(&c.name)?;
        }
        seq.end()
    }
}

/// A kept `errors` list, or `[]` when absent.
struct ErrorsOr<'a>(&'a Option<Json>);

impl Serialize for ErrorsOr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(j) => j.serialize(s),
            None => s.serialize_seq(Some(0))?.end(),
        }
    }
}

struct One<'a> {
    ev: &'a Event,
    o: usize,
    c: usize,
}

impl Serialize for One<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let o = self.o * 4;
        let mut seq = s.serialize_seq(None)?;
        match &self.ev.kind {
            EventKind::Message(m) => {
                seq.serialize_element(&0u8)?;
                seq.serialize_element(&o)?;
                seq.serialize_element(&m.id)?;
                seq.serialize_element(&m.from)?;
                seq.serialize_element(&m.from_user_id)?;
                seq.serialize_element(&m.timestamp)?;
                seq.serialize_element(&m.message_type)?;
                if self.c == usize::MAX {
                    seq.serialize_element(&-1i8)?;
                } else {
                    seq.serialize_element(&(self.c * 3))?;
                }
                seq.serialize_element(&m.context)?;
                seq.serialize_element(&ErrorsOr(&m.errors))?;
                match m.message_type.as_deref() {
                    None => seq.serialize_element(&0u8)?,
                    Some(t) => {
                        let k = payload_key(t);
                        if k == t {
                            seq.serialize_element(&1u8)?;
                        } else {
                            seq.serialize_element(k)?;
                        }
                        seq.serialize_element(&m.payload)?;
                    }
                }
            }
            EventKind::Status(st) => {
                seq.serialize_element(&1u8)?;
                seq.serialize_element(&o)?;
                seq.serialize_element(&st.id)?;
                seq.serialize_element(&st.status)?;
                seq.serialize_element(&st.timestamp)?;
                seq.serialize_element(&st.recipient_id)?;
                seq.serialize_element(&st.recipient_user_id)?;
                seq.serialize_element(&st.conversation)?;
                seq.serialize_element(&st.pricing)?;
                seq.serialize_element(&ErrorsOr(&st.errors))?;
                seq.serialize_element(&st.biz_opaque_callback_data)?;
            }
            EventKind::Error(errors) => {
                seq.serialize_element(&2u8)?;
                seq.serialize_element(&o)?;
                seq.serialize_element(errors)?;
            }
            EventKind::FieldUpdate(fu) => {
                seq.serialize_element(&3u8)?;
                seq.serialize_element(&o)?;
                seq.serialize_element(&fu.value)?;
            }
            EventKind::Unknown(raw) => {
                seq.serialize_element(&4u8)?;
                seq.serialize_element(&o)?;
                seq.serialize_element(raw)?;
            }
        }
        seq.end()
    }
}

impl Serialize for Packed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.events.len() + 2))?;
        seq.serialize_element(&Origins(&self.origins))?;
        seq.serialize_element(&Contacts(&self.contacts))?;
        for (i, ev) in self.events.iter().enumerate() {
            seq.serialize_element(&One {
                ev,
                o: self.origin_of[i],
                c: self.contact_of[i],
            })?;
        }
        seq.end()
    }
}
