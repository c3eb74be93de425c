//! Lenient leaf readers (a wrong JSON type reads as absent) and the key
//! enums' macro, shared by the envelope and value readers.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::Result;
use crate::webhook::events::digits_to_i64;

// ---------------------------------------------------------------------------
// Lenient leaf readers
// ---------------------------------------------------------------------------

/// Visitor methods that accept every scalar and return `$val`.
macro_rules! ignore_scalars {
    ($val:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($val)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($val)
        }
    };
}

macro_rules! ignore_str {
    ($val:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($val)
        }
    };
}

macro_rules! ignore_seq {
    ($val:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($val)
        }
    };
}

macro_rules! ignore_map {
    ($val:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($val)
        }
    };
}

/// Visitor methods that turn any non-object JSON value into `$ctor(value)`.
macro_rules! raw_non_object {
    ($ctor:path) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($ctor(Value::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($ctor(Value::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($ctor(Value::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($ctor(Value::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($ctor(Value::Null))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($ctor(Value::Null))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($ctor(Value::String(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok($ctor(Value::String(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Value::deserialize(SeqAccessDeserializer::new(seq)).map($ctor)
        }
    };
}

/// `impl Deserialize for $ty` through a visitor with the visit methods given, which says it
/// expects `$expecting` and is driven by `Deserializer::$drive`. (A macro: serde has no way to
/// declare a visitor without a named type per target, and the lenient readers and key enums
/// all share this shell.)
macro_rules! visitor {
    ($ty:ty, $expecting:literal, $drive:ident; $($methods:tt)*) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    $($methods)*
                }
                d.$drive(V)
            }
        }
    };
}

/// [`visitor!`] for a reader that takes any JSON value (a wrong kind reads as absent).
macro_rules! visit_any {
    ($ty:ty; $($methods:tt)*) => {
        visitor!($ty, "any JSON value", deserialize_any; $($methods)*);
    };
}

/// A string; any other JSON value reads as `None`. Read as [`LCow`], then owned.
pub(super) struct LStr(pub(super) Option<String>);

impl<'de> Deserialize<'de> for LStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LCow::deserialize(d).map(|s| LStr(s.0.map(Cow::into_owned)))
    }
}

/// A string borrowed from the body where it has no escapes; any other JSON value reads
/// as `None`. For text that is often read and then dropped (the contacts of a change of
/// statuses), so that reading it allocates nothing.
pub(super) struct LCow<'de>(pub(super) Option<Cow<'de, str>>);

visit_any! { LCow<'de>;
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<LCow<'de>, E> {
        Ok(LCow(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<LCow<'de>, E> {
        Ok(LCow(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<LCow<'de>, E> {
        Ok(LCow(Some(Cow::Owned(v))))
    }
    ignore_scalars!(LCow(None));
    ignore_seq!(LCow(None));
    ignore_map!(LCow(None));
}

/// A timestamp within ±(2^53 − 1), the range every language holds exactly
/// (a JavaScript number rounds beyond it).
pub(super) fn safe_ts(v: Option<i64>) -> Option<i64> {
    v.filter(|t| t.unsigned_abs() <= crate::webhook::normalize::MAX_SAFE_INTEGER)
}

/// A timestamp: an integer, or a string of digits; anything else is `None`.
pub(super) struct LTs(pub(super) Option<i64>);

visit_any! { LTs;
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LTs, E> {
        Ok(LTs(safe_ts(Some(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LTs, E> {
        Ok(LTs(safe_ts(i64::try_from(v).ok())))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<LTs, E> {
        Ok(LTs(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<LTs, E> {
        Ok(LTs(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<LTs, E> {
        Ok(LTs(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<LTs, E> {
        Ok(LTs(None))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<LTs, E> {
        Ok(LTs(safe_ts(digits_to_i64(v))))
    }
    ignore_seq!(LTs(None));
    ignore_map!(LTs(None));
}

/// A list of lenient elements; `None` when the value is not a list.
pub(super) struct LList<T>(pub(super) Option<Vec<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LList<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LList<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
                while let Some(x) = seq.next_element::<T>()? {
                    out.push(x);
                }
                Ok(LList(Some(out)))
            }
            ignore_scalars!(LList(None));
            ignore_str!(LList(None));
            ignore_map!(LList(None));
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An element of `messages[]` / `statuses[]`: an object read as `T`, or
/// anything else kept raw (becomes an `unknown` event).
pub(super) enum Item<T> {
    /// Boxed where it is read, as the event keeps it boxed: the large struct is then never
    /// moved.
    Obj(Box<T>),
    Raw(Value),
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// Declares a key enum with known names and an `Other` catch-all.
macro_rules! keys {
    ($name:ident { $($s:literal => $v:ident),* $(,)? } other $other:ident) => {
        // The other key borrows from the input when it has no escapes (no
        // allocation for the common case: a message's payload key).
        pub(super) enum $name<'de> { $($v,)* $other(std::borrow::Cow<'de, str>) }
        visitor!($name<'de>, "a key", deserialize_str;
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<$name<'de>, E> {
                Ok(match v {
                    $($s => $name::$v,)*
                    _ => $name::$other(std::borrow::Cow::Borrowed(v)),
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<$name<'de>, E> {
                Ok(match v {
                    $($s => $name::$v,)*
                    _ => $name::$other(std::borrow::Cow::Owned(v.to_owned())),
                })
            }
        );
    };
    ($name:ident { $($s:literal => $v:ident),* $(,)? }) => {
        pub(super) enum $name { $($v,)* Ignored }
        visitor!($name, "a key", deserialize_str;
            fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                Ok(match v { $($s => $name::$v,)* _ => $name::Ignored })
            }
        );
    };
}
