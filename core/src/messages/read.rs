//! Reading the neutral description with serde.
//!
//! Every message type declares its neutral shape with `#[derive(Deserialize)]`
//! (`deny_unknown_fields`, `Option` for optional keys, so `null` counts as
//! absent). [`from_neutral`] runs the derive through `serde_path_to_error`,
//! which reports where in the input an error happened, and turns serde's error
//! into wa360's typed `invalid_argument` with the field path and a rule in plain
//! words (`is required`, `unknown field`, `must be a string (got a number)`).
//!
//! The few places where the neutral form accepts two shapes (a string or an
//! object, an array or an object) have small visitors here; choices that
//! depend on another key (the keys allowed for an interactive `type`, a
//! template button's `sub_type`) are checked right after deserialisation by
//! the type's `TryFrom`/shape step, and the limits of docs/360dialog-api.md §4.10
//! are checked later still, by validation, before the wire body is written.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::{Error, Result};

/// Deserialize `T` from the neutral value `v`, naming the field of any error.
pub(crate) fn from_neutral<T: DeserializeOwned>(v: &Value) -> Result<T> {
    read(v, Ok)
}

/// The kind a one-of object holds (a template parameter, an interactive header): the one key
/// of `keys` (name, present) that is present, and it must agree with the declared `type` when
/// there is one. `None` when no key or several are present, or `type` names another key.
pub(crate) fn one_kind<'a>(declared: Option<&str>, keys: &[(&'a str, bool)]) -> Option<&'a str> {
    let mut present = keys.iter().filter(|(_, p)| *p).map(|(k, _)| *k);
    match (declared, present.next(), present.next()) {
        (Some(d), Some(p), None) if d == p => Some(p),
        (None, Some(p), None) => Some(p),
        _ => None,
    }
}

/// Deserialize `T` from `v` and turn it into the typed message with `build`
/// (the checks that depend on another key, e.g. the keys an interactive
/// `type` takes).
///
/// serde stops at the first unknown key it meets; wa360 reports the errors of
/// an object's known keys before its unknown ones (a misspelt key is usually
/// also a missing one: `{"titel": …}` says `title` is required). So when the
/// first error is an unknown key, the input is read once more without that
/// object's unknown keys, and an error found inside the same object is
/// preferred. Only the error path pays for this (one more read at most).
pub(crate) fn read<T: DeserializeOwned, M>(
    v: &Value,
    build: impl Fn(T) -> Result<M> + Copy,
) -> Result<M> {
    let (e, known) = match read_once(v, build) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    if let Error::InvalidArgument { field, rule } = &e
        && rule == "unknown field"
        && let Some(better) = known_key_error_first(v, field, known.as_deref(), build)
    {
        return Err(better);
    }
    Err(e)
}

/// One read; on an unknown key serde names the object's known keys, which
/// are returned beside the error.
fn read_once<T: DeserializeOwned, M>(
    v: &Value,
    build: impl Fn(T) -> Result<M>,
) -> std::result::Result<M, (Error, Option<Vec<String>>)> {
    // The plain derive first: path tracking costs time on the send hot path,
    // and is only needed to name the field of an error, so a failed read is
    // repeated through serde_path_to_error.
    match T::deserialize(v).map_err(|_| serde_path_to_error::deserialize::<_, T>(v)) {
        Ok(t) | Err(Ok(t)) => build(t).map_err(|e| (e, None)),
        Err(Err(e)) => {
            let element = matches!(
                e.path().iter().next_back(),
                Some(serde_path_to_error::Segment::Seq { .. })
            );
            let msg = e.inner().to_string();
            let known = msg.strip_prefix("unknown field `").map(|rest| {
                // "unknown field `k`, expected one of `a`, `b`": the names
                // after the first are the known keys.
                rest.split('`')
                    .skip(2)
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            });
            Err((to_error(path_string(e.path()), &msg, element), known))
        }
    }
}

/// The error of `v` without the unknown keys of the object holding `field`,
/// when it lies inside that object.
fn known_key_error_first<T: DeserializeOwned, M>(
    v: &Value,
    field: &str,
    known: Option<&[String]>,
    build: impl Fn(T) -> Result<M>,
) -> Option<Error> {
    let (object, key) = match field.rsplit_once('.') {
        Some((o, k)) => (o.to_string(), k),
        None => (String::new(), field),
    };
    let mut copy = v.clone();
    let target = if object.is_empty() {
        Some(&mut copy)
    } else {
        copy.pointer_mut(&pointer(&object))
    };
    let map = target?.as_object_mut()?;
    match known {
        Some(known) => map.retain(|k, _| known.iter().any(|n| n == k)),
        None => {
            map.shift_remove(key)?;
        }
    }
    let (e, _) = read_once(&copy, build).err()?;
    let f = e.field().unwrap_or_default();
    let inside = object.is_empty()
        || f == object
        || f.strip_prefix(object.as_str())
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['));
    inside.then_some(e)
}

/// A JSON pointer for a dotted path with `[i]` indices (`a.b[0]` → `/a/b/0`).
fn pointer(path: &str) -> String {
    let mut p = String::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        p.push('/');
        p.push_str(&name.replace('~', "~0").replace('/', "~1"));
        for i in rest.split('[') {
            let i = i.trim_end_matches(']');
            if !i.is_empty() {
                p.push('/');
                p.push_str(i);
            }
        }
    }
    p
}

/// `a.b[0].c` from serde_path_to_error's segments.
fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                s.push('[');
                s.push_str(&index.to_string());
                s.push(']');
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    s
}

fn join(path: &str, key: &str) -> String {
    super::common::join(path, key)
}

/// Map serde's message into the project's error. `serde_json::Error` exposes
/// only its text, so the few shapes serde produces are recognised by their
/// (stable) wording; anything else is a rule written by one of our visitors
/// and is kept as it is.
fn to_error(path: String, msg: &str, element: bool) -> Error {
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or_default();
        return Error::invalid(join(&path, key), "is required");
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        // serde_path_to_error already ends the path with the unknown key when
        // it could read it; add it otherwise.
        let key = rest.split('`').next().unwrap_or_default();
        let field = if path == key || path.ends_with(&format!(".{key}")) {
            path
        } else {
            join(&path, key)
        };
        return Error::invalid(field, "unknown field");
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if rest.starts_with("null,") && !element {
            // Optional keys are `Option`s, so a null only fails a required
            // key (a null array element is a wrong type, below).
            return Error::invalid(path, "is required");
        }
        if let Some((got, want)) = rest.rsplit_once(", expected ") {
            return Error::invalid(
                path,
                format!("must be {} (got {})", expected_name(want), got_name(got)),
            );
        }
    }
    Error::invalid(path, msg.to_string())
}

/// serde's description of the value found, as a JSON type.
fn got_name(unexpected: &str) -> &'static str {
    if unexpected.starts_with("boolean") {
        "a boolean"
    } else if unexpected.starts_with("integer") || unexpected.starts_with("floating point") {
        "a number"
    } else if unexpected.starts_with("string") || unexpected.starts_with("character") {
        "a string"
    } else if unexpected.starts_with("sequence") {
        "an array"
    } else if unexpected.starts_with("map") {
        "an object"
    } else {
        "null"
    }
}

/// serde's description of what was expected, as a JSON type.
fn expected_name(expected: &str) -> &str {
    match expected {
        "a sequence" => "an array",
        "a map" => "an object",
        "f64" | "f32" => "a number",
        e if e.starts_with("struct ") => "an object",
        e => e,
    }
}

/// Read a struct only from a JSON object.
///
/// `#[derive(Deserialize)]` also accepts an array for a struct (its fields by
/// position), which the neutral form must reject (`must be an object (got an
/// array)`). Each neutral type derives with `#[serde(remote = "Self")]`, which
/// makes the derived reader an inherent function, and this macro implements
/// `Deserialize` by handing it only objects. `ser` types also derive
/// `Serialize` (their wire form is the same object), which `remote` turns into
/// an inherent function too, so the trait is implemented here as well.
macro_rules! map_only {
    ($($t:ty),* $(,)?) => {$(
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter) -> ::std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, m: A) -> ::std::result::Result<$t, A::Error> {
                        <$t>::deserialize(::serde::de::value::MapAccessDeserializer::new(m))
                    }
                }
                d.deserialize_any(V)
            }
        }
    )*};
    (ser $($t:ty),* $(,)?) => {
        $crate::messages::read::map_only!($($t),*);
        $(
            impl ::serde::Serialize for $t {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                    <$t>::serialize(self, s)
                }
            }
        )*
    };
}
pub(crate) use map_only;

/// What a [`StrOr`] expects, for the wrong-type message (`must be … (got …)`).
pub(crate) trait Expecting {
    /// Defaults to `an object` (the string form is a shorthand).
    const EXPECTING: &'static str = "an object";
}

/// A neutral value that is either a string (a shorthand) or an object `T`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StrOr<T> {
    /// The shorthand.
    Str(String),
    /// The full object.
    Obj(T),
}

impl<'de, T: Deserialize<'de> + Expecting> Deserialize<'de> for StrOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Expecting> Visitor<'de> for V<T> {
            type Value = StrOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(StrOr::Str(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Self::Value, E> {
                Ok(StrOr::Str(s))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(m)).map(StrOr::Obj)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Positional (array) or named (object, in the given order) items.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SeqOrMap<T> {
    /// An array.
    Seq(Vec<T>),
    /// An object of name → item, in input order.
    Map(Vec<(String, T)>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SeqOrMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        const RULE: &str = "must be an array (positional) or an object (named parameters)";
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = SeqOrMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array (positional) or an object (named parameters)")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                s: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(SeqAccessDeserializer::new(s)).map(SeqOrMap::Seq)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some((k, NotNull(v))) = m.next_entry::<String, NotNull<T>>()? {
                    items.push((k, v));
                }
                Ok(SeqOrMap::Map(items))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Err(E::custom(RULE))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Err(E::custom(RULE))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Err(E::custom(RULE))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Err(E::custom(RULE))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Err(E::custom(RULE))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A value where `null` is a wrong type (`must be an object (got null)`),
/// not an absent key: the values of a named-parameter object.
struct NotNull<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NotNull<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Option::<T>::deserialize(d)? {
            Some(v) => Ok(NotNull(v)),
            None => Err(de::Error::custom("must be an object (got null)")),
        }
    }
}

/// A JSON integer: an integer, or a number with no fractional part within
/// ±2^53 (`2.0` from Python is the same input as `2` from JavaScript, whose
/// numbers have no separate integer type).
pub(crate) fn integer<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("must be an integer"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<i64, E> {
            if v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0 {
                Ok(v as i64)
            } else {
                Err(E::custom("must be an integer"))
            }
        }
    }
    d.deserialize_any(V)
}

/// Which optional keys of a neutral struct are present, in order:
/// `present!(self; text, image)` is `[("text", self.text.is_some()), ("image",
/// self.image.is_some())]`. The readers check "exactly one content key" and "no
/// key of another type" against such lists; with the macro each key's name and
/// field are one word, so the two cannot drift apart.
macro_rules! present {
    ($s:expr; $($k:ident),+ $(,)?) => {
        [$((stringify!($k), $s.$k.is_some())),+]
    };
}
pub(crate) use present;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(remote = "Self", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        s: String,
        b: Option<bool>,
        #[serde(default, deserialize_with = "opt_int")]
        n: Option<i64>,
    }

    fn opt_int<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
        integer(d).map(Some)
    }

    #[derive(Debug, Deserialize)]
    #[serde(remote = "Self", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        list: Vec<Inner>,
    }

    map_only!(Inner, Outer);

    fn err(v: Value) -> (String, String) {
        let e = from_neutral::<Outer>(&v).unwrap_err();
        (e.field().unwrap_or_default().to_string(), e.to_string())
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        let (f, m) = err(json!({"list": [{"s": "x"}, {"s": 1}]}));
        assert_eq!(f, "list[1].s");
        assert!(m.ends_with("must be a string (got a number)"), "{m}");
        let (f, m) = err(json!({"list": [{}]}));
        assert_eq!(f, "list[0].s");
        assert!(m.ends_with("is required"), "{m}");
        let (f, m) = err(json!({"list": [{"s": null}]}));
        assert_eq!(f, "list[0].s");
        assert!(m.ends_with("is required"), "{m}");
        let (f, m) = err(json!({"list": [{"s": "x", "colour": 1}]}));
        assert_eq!(f, "list[0].colour");
        assert!(m.ends_with("unknown field"), "{m}");
        let (f, m) = err(json!({"list": {"s": "x"}}));
        assert_eq!(f, "list");
        assert!(m.ends_with("must be an array (got an object)"), "{m}");
        let (f, m) = err(json!({"list": [["x", true]]}));
        assert_eq!(f, "list[0]");
        assert!(m.ends_with("must be an object (got an array)"), "{m}");
        let (f, m) = err(json!({"list": [null]}));
        assert_eq!(f, "list[0]");
        assert!(m.ends_with("must be an object (got null)"), "{m}");
        let (f, m) = err(json!({"list": ["x"]}));
        assert_eq!(f, "list[0]");
        assert!(m.ends_with("must be an object (got a string)"), "{m}");
        let (f, m) = err(json!({"list": [{"s": "x", "b": "yes"}]}));
        assert_eq!(f, "list[0].b");
        assert!(m.ends_with("must be a boolean (got a string)"), "{m}");
        let (f, m) = err(json!({"list": [{"s": "x", "n": 1.5}]}));
        assert_eq!(f, "list[0].n");
        assert!(m.ends_with("must be an integer"), "{m}");
        assert!(from_neutral::<Outer>(&json!({"list": [{"s": "x", "n": 2.0, "b": null}]})).is_ok());
    }
}
