//! The envelope: root → `entry[]` → `changes[]`.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::leaf::*;
use super::value::*;
use crate::Result;
use crate::webhook::events::{Event, EventKind, FieldUpdate, Origin};

keys!(RootKey { "entry" => Entry });
keys!(EntryKey { "id" => Id, "changes" => Changes });
keys!(ChangeKey { "field" => Field, "value" => Value } other Other);

// ---------------------------------------------------------------------------
// Envelope: root → entry[] → changes[]
// ---------------------------------------------------------------------------

/// How a parse run treats a change's `value` (see [`ChangeSeed`]).
pub(super) struct Mode {
    /// Capture every `value` as text first (no guessing).
    pub(super) slow: bool,
    /// Set when a guess failed: the caller reruns in the slow mode.
    pub(super) retry: Cell<bool>,
}

pub(super) struct RootSeed<'a> {
    pub(super) events: &'a mut Vec<Event>,
    pub(super) mode: &'a Mode,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with an `entry` list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(k) = map.next_key::<RootKey>()? {
            match k {
                RootKey::Entry => {
                    // A repeated key: the last one wins, as in JSON.parse.
                    self.events.clear();
                    map.next_value_seed(EntriesSeed {
                        events: self.events,
                        mode: self.mode,
                    })?;
                    seen = true;
                }
                RootKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::custom("the object has no `entry` list"))
        }
    }
}

pub(super) struct EntriesSeed<'a> {
    events: &'a mut Vec<Event>,
    mode: &'a Mode,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! reject {
    ($msg:literal) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($msg))
        }
    };
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an `entry` list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element_seed(EntrySeed {
            events: self.events,
            mode: self.mode,
        })? {
            if let Some(raw) = raw {
                let origin = Arc::new(Origin::default());
                self.events
                    .push(Event::new(origin, EventKind::Unknown(raw)));
            }
        }
        Ok(())
    }
    reject!("`entry` is not a list");
}

/// One entry; returns `Some(raw)` when the entry is not an object.
pub(super) struct EntrySeed<'a> {
    events: &'a mut Vec<Event>,
    mode: &'a Mode,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let start = self.events.len();
        let mut id: Option<Cow<'de, str>> = None;
        while let Some(k) = map.next_key::<EntryKey>()? {
            match k {
                EntryKey::Id => id = map.next_value::<LCow>()?.0,
                EntryKey::Changes => {
                    self.events.truncate(start);
                    map.next_value_seed(ChangesSeed {
                        events: self.events,
                        waba_id: id.as_deref(),
                        mode: self.mode,
                    })?;
                }
                EntryKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // `id` after `changes` (or repeated): set it on this entry's events.
        for ev in &mut self.events[start..] {
            if ev.origin.waba_id.as_deref() != id.as_deref() {
                Arc::make_mut(&mut ev.origin).waba_id = id.as_deref().map(str::to_owned);
            }
        }
        Ok(None)
    }
    raw_non_object!(Some);
}

pub(super) struct ChangesSeed<'a, 'b> {
    events: &'a mut Vec<Event>,
    waba_id: Option<&'b str>,
    mode: &'b Mode,
}

impl<'de> DeserializeSeed<'de> for ChangesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ChangesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element_seed(ChangeSeed {
            events: self.events,
            waba_id: self.waba_id,
            mode: self.mode,
        })? {
            if let Some(raw) = raw {
                let origin = Arc::new(Origin {
                    waba_id: self.waba_id.map(str::to_owned),
                    ..Origin::default()
                });
                self.events
                    .push(Event::new(origin, EventKind::Unknown(raw)));
            }
        }
        Ok(())
    }
    // `changes` that is not a list carries no change: zero events.
    ignore_scalars!(());
    ignore_str!(());
    ignore_map!(());
}

/// A change's `field`: a string borrowed from the body (the usual `"messages"`, read with
/// no allocation), or any other JSON value (an escaped string among them), kept for
/// rebuilding the change.
pub(super) enum LField<'de> {
    Str(&'de str),
    Other(Value),
}

impl LField<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            LField::Str(s) => Some(s),
            LField::Other(v) => v.as_str(),
        }
    }
    fn into_value(self) -> Value {
        match self {
            LField::Str(s) => Value::String(s.to_owned()),
            LField::Other(v) => v,
        }
    }
}

visit_any! { LField<'de>;
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<LField<'de>, E> {
        Ok(LField::Str(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LField<'de>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(LField::Other)
    }
    raw_non_object!(LField::Other);
}

/// A change's parts: inline for the usual two (`field`, `value`), so reading a change
/// allocates no list.
pub(super) type ChangeParts<'de> = SmallVec<[ChangePart<'de>; 2]>;

/// One part of a change object, in wire order (kept to rebuild the raw
/// change when it has to become an `unknown` event).
pub(super) enum ChangePart<'de> {
    Field(LField<'de>),
    Value(&'de RawValue),
    /// A `value` read directly as a `messages` value (fast mode; the value itself is
    /// kept apart, see `ChangeSeed::visit_map`, as it is large).
    Guessed,
    Other(String, Value),
}

/// One change. Its `field` decides how to read its `value`, but Meta sends
/// `value` first. The slow mode captures `value` as text (one scan) and
/// reads it once `field` is known (a second scan). The fast mode, tried
/// first, reads a `value` that is not preceded by another `field` straight
/// as a `messages` value (by far the most common change); when that guess
/// turns out wrong (another field, no message lists, a repeated key), it
/// asks for a rerun in the slow mode.
pub(super) struct ChangeSeed<'a, 'b> {
    events: &'a mut Vec<Event>,
    waba_id: Option<&'b str>,
    mode: &'b Mode,
}

impl<'de> DeserializeSeed<'de> for ChangeSeed<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

pub(super) fn metadata_of(value: Option<&Value>) -> (Option<String>, Option<String>) {
    let meta = value.and_then(|v| v.get("metadata"));
    let s = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (s("phone_number_id"), s("display_phone_number"))
}

pub(super) fn raw_to_value<E: de::Error>(raw: &RawValue) -> Result<Value, E> {
    serde_json::from_str(raw.get()).map_err(E::custom)
}

/// Rebuild the change object from its parts, in wire order (a repeated key
/// keeps its first position and its last value).
pub(super) fn rebuild_change<E: de::Error>(parts: ChangeParts<'_>) -> Result<Value, E> {
    let mut m = Map::new();
    for p in parts {
        match p {
            ChangePart::Field(v) => {
                m.insert("field".into(), v.into_value());
            }
            ChangePart::Value(r) => {
                m.insert("value".into(), raw_to_value(r)?);
            }
            // Only made in the fast mode, which never rebuilds a change.
            ChangePart::Guessed => {}
            ChangePart::Other(k, v) => {
                m.insert(k, v);
            }
        }
    }
    Ok(Value::Object(m))
}

impl<'de> Visitor<'de> for ChangeSeed<'_, '_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut parts = ChangeParts::new();
        let mut guessed = false;
        let mut guess: Option<MessagesValue<'de>> = None;
        while let Some(k) = map.next_key::<ChangeKey>()? {
            parts.push(match k {
                ChangeKey::Field => ChangePart::Field(map.next_value()?),
                ChangeKey::Value if !self.mode.slow => {
                    let field = parts.iter().rev().find_map(|p| match p {
                        ChangePart::Field(v) => Some(v.as_str() == Some("messages")),
                        _ => None,
                    });
                    if field.unwrap_or(true) {
                        guessed = true;
                        guess = map.next_value_seed(MessagesValueSeed)?;
                        ChangePart::Guessed
                    } else {
                        ChangePart::Value(map.next_value()?)
                    }
                }
                ChangeKey::Value => ChangePart::Value(map.next_value()?),
                ChangeKey::Other(k) => ChangePart::Other(k.into_owned(), map.next_value()?),
            });
        }
        if guessed {
            let mut fields = parts.iter().filter_map(|p| match p {
                ChangePart::Field(v) => Some(v),
                _ => None,
            });
            let values = parts
                .iter()
                .filter(|p| matches!(p, ChangePart::Value(_) | ChangePart::Guessed))
                .count();
            let one_messages_field = fields.next().and_then(LField::as_str) == Some("messages")
                && fields.next().is_none();
            return match guess {
                Some(v)
                    if one_messages_field
                        && values == 1
                        && (v.messages.is_some() || v.statuses.is_some() || v.errors.is_some()) =>
                {
                    push_messages_value(self.events, self.waba_id, v);
                    Ok(None)
                }
                _ => {
                    self.mode.retry.set(true);
                    Err(de::Error::custom("rerun in the slow mode"))
                }
            };
        }
        let field = parts.iter().rev().find_map(|p| match p {
            ChangePart::Field(v) => Some(v),
            _ => None,
        });
        let value = parts.iter().rev().find_map(|p| match p {
            ChangePart::Value(r) => Some(*r),
            _ => None,
        });
        let field = field.and_then(LField::as_str).map(str::to_owned);
        match field.as_deref() {
            Some("messages") => {
                let parsed = match value {
                    Some(raw) => {
                        let mut de = serde_json::Deserializer::from_str(raw.get());
                        MessagesValueSeed
                            .deserialize(&mut de)
                            .map_err(de::Error::custom)?
                    }
                    None => None,
                };
                match parsed {
                    Some(v)
                        if v.messages.is_some() || v.statuses.is_some() || v.errors.is_some() =>
                    {
                        push_messages_value(self.events, self.waba_id, v);
                    }
                    other => {
                        let (phone_number_id, display_phone_number) =
                            other.map(|v| v.metadata).unwrap_or_default();
                        let origin = Arc::new(Origin {
                            field: field.map(Cow::Owned),
                            waba_id: self.waba_id.map(str::to_owned),
                            phone_number_id,
                            display_phone_number,
                        });
                        let raw = rebuild_change(parts)?;
                        self.events
                            .push(Event::new(origin, EventKind::Unknown(raw)));
                    }
                }
            }
            Some(_) => {
                let value = value.map(raw_to_value).transpose()?;
                let (phone_number_id, display_phone_number) = metadata_of(value.as_ref());
                let origin = Arc::new(Origin {
                    field: field.map(Cow::Owned),
                    waba_id: self.waba_id.map(str::to_owned),
                    phone_number_id,
                    display_phone_number,
                });
                self.events.push(Event::new(
                    origin,
                    EventKind::FieldUpdate(FieldUpdate { value }),
                ));
            }
            None => {
                let raw = rebuild_change(parts)?;
                let (phone_number_id, display_phone_number) = metadata_of(raw.get("value"));
                let origin = Arc::new(Origin {
                    field: None,
                    waba_id: self.waba_id.map(str::to_owned),
                    phone_number_id,
                    display_phone_number,
                });
                self.events
                    .push(Event::new(origin, EventKind::Unknown(raw)));
            }
        }
        Ok(None)
    }
    raw_non_object!(Some);
}
