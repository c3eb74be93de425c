//! The value of a `messages` change: metadata, contacts, messages, statuses, errors.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::leaf::*;
use crate::Result;
use crate::webhook::events::{
    Contact, Event, EventKind, InboundMessage, Json, Origin, StatusUpdate,
};

keys!(ValueKey {
    "metadata" => Metadata,
    "contacts" => Contacts,
    "messages" => Messages,
    "statuses" => Statuses,
    "errors" => Errors,
});
keys!(MetaKey { "phone_number_id" => PhoneNumberId, "display_phone_number" => Display });
keys!(ContactKey { "wa_id" => WaId, "user_id" => UserId, "profile" => Profile });
keys!(ProfileKey { "name" => Name, "username" => Username });
keys!(MsgKey {
    "id" => Id,
    "from" => From,
    "from_user_id" => FromUserId,
    "timestamp" => Timestamp,
    "type" => Type,
    "context" => Context,
    "errors" => Errors,
} other Other);
keys!(StatusKey {
    "id" => Id,
    "status" => Status,
    "timestamp" => Timestamp,
    "recipient_id" => RecipientId,
    "recipient_user_id" => RecipientUserId,
    "conversation" => Conversation,
    "pricing" => Pricing,
    "errors" => Errors,
    "biz_opaque_callback_data" => Biz,
} other Other);

// ---------------------------------------------------------------------------
// The value of a `messages` change
// ---------------------------------------------------------------------------

#[derive(Default)]
pub(super) struct MessagesValue<'de> {
    pub(super) metadata: (Option<String>, Option<String>),
    pub(super) contacts: Vec<LContact<'de>>,
    pub(super) messages: Option<Vec<Item<InboundMessage>>>,
    pub(super) statuses: Option<Vec<Item<StatusUpdate>>>,
    pub(super) errors: Option<Vec<Value>>,
}

pub(super) fn push_messages_value(
    events: &mut Vec<Event>,
    waba_id: Option<&str>,
    v: MessagesValue<'_>,
) {
    let (phone_number_id, display_phone_number) = v.metadata;
    let origin = Arc::new(Origin {
        field: Some(Cow::Borrowed("messages")),
        waba_id: waba_id.map(str::to_owned),
        phone_number_id,
        display_phone_number,
    });
    let mut contacts = v.contacts;
    let n = v.messages.as_ref().map_or(0, Vec::len)
        + v.statuses.as_ref().map_or(0, Vec::len)
        + usize::from(v.errors.as_ref().is_some_and(|e| !e.is_empty()));
    events.reserve(n);
    for item in v.messages.into_iter().flatten() {
        let kind = match item {
            Item::Obj(mut m) => {
                m.contact =
                    match_contact(&mut contacts, m.from.as_deref(), m.from_user_id.as_deref());
                EventKind::Message(m)
            }
            Item::Raw(raw) => EventKind::Unknown(raw),
        };
        events.push(Event::new(origin.clone(), kind));
    }
    for item in v.statuses.into_iter().flatten() {
        let kind = match item {
            Item::Obj(s) => EventKind::Status(s),
            Item::Raw(raw) => EventKind::Unknown(raw),
        };
        events.push(Event::new(origin.clone(), kind));
    }
    if let Some(errors) = v.errors.filter(|e| !e.is_empty()) {
        events.push(Event::new(origin, EventKind::Error(errors)));
    }
}

/// The contacts entry whose `wa_id` equals `from` or whose `user_id` equals
/// `from_user_id` (first such entry); never matched by position. The entry is made an
/// owned [`Contact`] on its first match, and later matches share it.
pub(super) fn match_contact(
    contacts: &mut [LContact<'_>],
    from: Option<&str>,
    from_user_id: Option<&str>,
) -> Option<Arc<Contact>> {
    let c = contacts.iter_mut().find_map(|c| {
        c.0.as_mut().filter(|c| {
            (from.is_some() && c.wa_id.as_deref() == from)
                || (from_user_id.is_some() && c.user_id.as_deref() == from_user_id)
        })
    })?;
    let owned = |s: &Option<Cow<'_, str>>| s.as_deref().map(str::to_owned);
    let made = c.owned.get_or_insert_with(|| {
        Arc::new(Contact {
            wa_id: owned(&c.wa_id),
            user_id: owned(&c.user_id),
            name: owned(&c.name),
            username: owned(&c.username),
        })
    });
    Some(made.clone())
}

/// A status value, static when it is one of those the platform sends.
fn status_name(s: Cow<'_, str>) -> Cow<'static, str> {
    // The values of docs/360dialog-api.md §6.6; any other is kept too, owned.
    const KNOWN: [&str; 5] = ["sent", "delivered", "read", "played", "failed"];
    match KNOWN.iter().find(|k| **k == s) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(s.into_owned()),
    }
}

/// Reads a change value; `None` when it is not an object.
pub(super) struct MessagesValueSeed;

impl<'de> DeserializeSeed<'de> for MessagesValueSeed {
    type Value = Option<MessagesValue<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessagesValueSeed {
    type Value = Option<MessagesValue<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut v = MessagesValue::default();
        while let Some(k) = map.next_key::<ValueKey>()? {
            match k {
                ValueKey::Metadata => v.metadata = map.next_value::<LMeta>()?.0,
                ValueKey::Contacts => {
                    v.contacts = map.next_value::<LList<LContact>>()?.0.unwrap_or_default();
                }
                ValueKey::Messages => {
                    v.messages = map.next_value::<LList<Item<InboundMessage>>>()?.0
                }
                ValueKey::Statuses => v.statuses = map.next_value::<LList<Item<StatusUpdate>>>()?.0,
                ValueKey::Errors => {
                    v.errors = match map.next_value::<Value>()? {
                        Value::Array(a) => Some(a),
                        _ => None,
                    }
                }
                ValueKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(v))
    }
    ignore_scalars!(None);
    ignore_str!(None);
    ignore_seq!(None);
}

pub(super) struct LMeta((Option<String>, Option<String>));

visit_any! { LMeta;
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LMeta, A::Error> {
        let (mut id, mut display) = (None, None);
        while let Some(k) = map.next_key::<MetaKey>()? {
            match k {
                MetaKey::PhoneNumberId => id = map.next_value::<LStr>()?.0,
                MetaKey::Display => display = map.next_value::<LStr>()?.0,
                MetaKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(LMeta((id, display)))
    }
    ignore_scalars!(LMeta((None, None)));
    ignore_str!(LMeta((None, None)));
    ignore_seq!(LMeta((None, None)));
}

/// A `contacts[]` entry as read, its text borrowed from the body; `None` when it is not
/// an object.
pub(super) struct LContact<'de>(Option<ContactRef<'de>>);

/// A contact's fields as read. An owned [`Contact`] is made only when a message matches
/// it (see [`match_contact`]): a change of statuses, whose events keep no contact,
/// allocates nothing for its contacts.
#[derive(Default)]
pub(super) struct ContactRef<'de> {
    wa_id: Option<Cow<'de, str>>,
    user_id: Option<Cow<'de, str>>,
    name: Option<Cow<'de, str>>,
    username: Option<Cow<'de, str>>,
    owned: Option<Arc<Contact>>,
}

visit_any! { LContact<'de>;
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LContact<'de>, A::Error> {
        let mut c = ContactRef::default();
        while let Some(k) = map.next_key::<ContactKey>()? {
            match k {
                ContactKey::WaId => c.wa_id = map.next_value::<LCow>()?.0,
                ContactKey::UserId => c.user_id = map.next_value::<LCow>()?.0,
                ContactKey::Profile => {
                    let p = map.next_value::<LProfile>()?;
                    c.name = p.0;
                    c.username = p.1;
                }
                ContactKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(LContact(Some(c)))
    }
    ignore_scalars!(LContact(None));
    ignore_str!(LContact(None));
    ignore_seq!(LContact(None));
}

/// `profile.name` and `profile.username`.
pub(super) struct LProfile<'de>(Option<Cow<'de, str>>, Option<Cow<'de, str>>);

visit_any! { LProfile<'de>;
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LProfile<'de>, A::Error> {
        let mut p = LProfile(None, None);
        while let Some(k) = map.next_key::<ProfileKey>()? {
            match k {
                ProfileKey::Name => p.0 = map.next_value::<LCow>()?.0,
                ProfileKey::Username => p.1 = map.next_value::<LCow>()?.0,
                ProfileKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(p)
    }
    ignore_scalars!(LProfile(None, None));
    ignore_str!(LProfile(None, None));
    ignore_seq!(LProfile(None, None));
}

visit_any! { Item<InboundMessage>;
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = Box::<InboundMessage>::default();
        // Keys other than the known ones, in wire order. The first is
        // kept apart so the usual message (one such key: its payload)
        // allocates no list and no key.
        let mut first: Option<(Cow<'de, str>, Json)> = None;
        let mut rest: Vec<(Cow<'de, str>, Json)> = Vec::new();
        while let Some(k) = map.next_key::<MsgKey>()? {
            match k {
                MsgKey::Id => m.id = map.next_value::<LStr>()?.0,
                MsgKey::From => m.from = map.next_value::<LStr>()?.0,
                MsgKey::FromUserId => m.from_user_id = map.next_value::<LStr>()?.0,
                MsgKey::Timestamp => m.timestamp = map.next_value::<LTs>()?.0,
                MsgKey::Type => m.message_type = map.next_value::<LStr>()?.0,
                MsgKey::Context => m.context = Json::object(map.next_value()?),
                MsgKey::Errors => m.errors = Json::list(map.next_value()?),
                MsgKey::Other(k) => {
                    let v = Json::new(map.next_value::<&RawValue>()?);
                    if first.is_none() {
                        first = Some((k, v));
                    } else {
                        rest.push((k, v));
                    }
                }
            }
        }
        // The payload is the last wire key named like the type.
        let t = m.message_type.as_deref();
        let payload_at = rest
            .iter()
            .rposition(|(k, _)| Some(&**k) == t)
            .map(|i| i + 1)
            .or_else(|| first.as_ref().filter(|(k, _)| Some(&**k) == t).map(|_| 0));
        let mut extra = Vec::new();
        for (i, (k, v)) in first.into_iter().chain(rest).enumerate() {
            if Some(i) == payload_at {
                m.payload = Some(v);
            } else {
                extra.push((k.into_owned(), v));
            }
        }
        m.extra = extra;
        Ok(Item::Obj(m))
    }
    raw_non_object!(Item::Raw);
}

visit_any! { Item<StatusUpdate>;
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut s = Box::<StatusUpdate>::default();
        while let Some(k) = map.next_key::<StatusKey>()? {
            match k {
                StatusKey::Id => s.id = map.next_value::<LStr>()?.0,
                StatusKey::Status => s.status = map.next_value::<LCow>()?.0.map(status_name),
                StatusKey::Timestamp => s.timestamp = map.next_value::<LTs>()?.0,
                StatusKey::RecipientId => s.recipient_id = map.next_value::<LStr>()?.0,
                StatusKey::RecipientUserId => {
                    s.recipient_user_id = map.next_value::<LStr>()?.0
                }
                StatusKey::Conversation => s.conversation = Json::object(map.next_value()?),
                StatusKey::Pricing => s.pricing = Json::object(map.next_value()?),
                StatusKey::Errors => s.errors = Json::list(map.next_value()?),
                StatusKey::Biz => s.biz_opaque_callback_data = map.next_value::<LStr>()?.0,
                StatusKey::Other(k) => {
                    let v: &RawValue = map.next_value()?;
                    s.extra.push((k.into_owned(), Json::new(v)));
                }
            }
        }
        Ok(Item::Obj(s))
    }
    raw_non_object!(Item::Raw);
}
