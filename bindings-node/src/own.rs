//! Reading JavaScript values into JSON through their OWN properties only.
//!
//! napi's generic conversions (`HashMap`, `serde_json::Value`) list keys with
//! `napi_get_property_names`, which has `for…in` semantics: enumerable
//! properties inherited from the prototype chain are included. An app whose
//! `Object.prototype` was polluted (a common gadget) would then inject fields
//! into message bodies, verifier options and request headers. Every JSON-like
//! input of the Node package goes through [`Json`] instead. Written by hand
//! because napi has no own-properties-only conversion.

use std::ptr;

use napi::bindgen_prelude::{Array, BufferSlice, Either, FromNapiValue};
use napi::sys;
use serde_json::{Map, Number, Value};

/// `TypeName` (the type napi names in its errors and typings) and, unless `return_only`,
/// `ValidateNapiValue` for a type converted by hand: `js_type!(Json, "JSON", Unknown)`.
macro_rules! js_type {
    ($t:ty, $name:literal, $kind:ident, return_only) => {
        impl napi::bindgen_prelude::TypeName for $t {
            fn type_name() -> &'static str {
                $name
            }
            fn value_type() -> napi::bindgen_prelude::ValueType {
                napi::bindgen_prelude::ValueType::$kind
            }
        }
    };
    ($t:ty, $name:literal, $kind:ident) => {
        $crate::own::js_type!($t, $name, $kind, return_only);
        impl napi::bindgen_prelude::ValidateNapiValue for $t {}
    };
}
pub(crate) use js_type;

/// The Node name of a core (snake_case) name: `retry_after` → `retryAfter`. With
/// [`snake_case`], the one mapping between the two namings in this package.
pub(crate) fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// An `invalid_argument` error of an options object read in snake_case, naming the option
/// as JavaScript spells it (`page_size` → `pageSize`).
pub(crate) fn camel_field(e: wa360::Error) -> wa360::Error {
    match e {
        wa360::Error::InvalidArgument { field, rule } => wa360::Error::InvalidArgument {
            field: camel_case(&field),
            rule,
        },
        other => other,
    }
}

/// The core name of a Node (camelCase) name: `pageSize` → `page_size`
/// (snake_case names stay as they are).
pub(crate) fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON value read from JavaScript through own enumerable string keys, by
/// the shared input rules of `wa360::input` (the same answers as Python):
/// lone surrogates rejected, integers (BigInt included) within 64 bits,
/// finite numbers, at most `wa360::input::MAX_DEPTH` levels, `__proto__` an
/// ordinary key. Errors are `invalid_argument` naming the path.
pub struct Json(pub Value);

js_type!(Json, "JSON", Unknown);

impl FromNapiValue for Json {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        match unsafe { read(env, v, "", 0, false) } {
            Ok(v) => Ok(Json(v)),
            Err(e) => Err(to_js(env, &e)),
        }
    }
}

/// An options object whose members hold settings, such as headers to register or check:
/// read as [`Json`] is, but below the top level a member that is `undefined` is an error,
/// not absent, and every object must be a plain one. `{ headers: { Authorization:
/// process.env.UNSET } }`, or headers given as a `Map` or a `Headers` (which
/// `JSON.stringify` writes as `{}`), would otherwise register or check no header at all,
/// silently. At the top level `undefined` still means "not given" (`{ waba: undefined }`).
/// Other objects (class instances, objects from another realm) are read as JSON reads them.
pub struct Settings(pub Value);

js_type!(Settings, "JSON", Unknown);

impl FromNapiValue for Settings {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        match unsafe { read(env, v, "", 0, true) } {
            Ok(v) => Ok(Settings(v)),
            // The argument itself is the options object, not a message.
            Err(wa360::Error::InvalidArgument { field, rule })
                if field == wa360::input::field_name("") =>
            {
                Err(to_js(
                    env,
                    &wa360::Error::InvalidArgument {
                        field: "options".into(),
                        rule,
                    },
                ))
            }
            Err(e) => Err(to_js(env, &e)),
        }
    }
}

impl From<Settings> for Json {
    fn from(s: Settings) -> Json {
        Json(s.0)
    }
}

/// A JSON argument of a send helper: read as [`Json`] is, but an error inside it names
/// the argument's place in the message when the helper reads it ([`JsonArg::named`]):
/// `contacts[0].name`, `location.latitude`, `image`, as Python's errors do, not `message`.
pub struct JsonArg(Result<Value, wa360::Error>);

js_type!(JsonArg, "JSON", Unknown);

impl FromNapiValue for JsonArg {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        Ok(JsonArg(unsafe { read(env, v, "", 0, false) }))
    }
}

impl JsonArg {
    /// The value, or its error with the path rooted at `name`.
    pub fn named(self, name: &str) -> wa360::Result<Value> {
        self.0.map_err(|e| match e {
            wa360::Error::InvalidArgument { field, rule } => {
                // The paths `read` gives from the top: `message` (the value itself),
                // `message[i]…` (a list), `key…` (an object).
                let field = if field == wa360::input::field_name("") {
                    name.to_string()
                } else if let Some(rest) =
                    field.strip_prefix(&format!("{}[", wa360::input::field_name("")))
                {
                    format!("{name}[{rest}")
                } else {
                    format!("{name}.{field}")
                };
                wa360::Error::InvalidArgument { field, rule }
            }
            other => other,
        })
    }
}

/// A string argument read strictly: a lone surrogate (napi's own conversion
/// would silently send U+FFFD) or a value that is not a string becomes
/// `invalid_argument` naming the argument, when the function reads it with
/// [`Text::named`].
pub struct Text(Result<String, &'static str>);

impl Text {
    /// The text, or the `invalid_argument` error naming `name`.
    pub fn named(self, name: &str) -> wa360::Result<String> {
        self.0.map_err(|rule| wa360::Error::invalid(name, rule))
    }

    /// An optional argument: [`Text::named`] when given, else `default`.
    pub fn named_or(text: Option<Text>, name: &str, default: &str) -> wa360::Result<String> {
        text.map_or_else(|| Ok(default.to_owned()), |t| t.named(name))
    }
}

js_type!(Text, "string", String);

impl FromNapiValue for Text {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        Ok(Text(match type_of(env, v) {
            Ok(sys::ValueType::napi_string) => unsafe { read_string(env, v, "") }
                .map_err(|_| "is not valid Unicode text (it holds a lone surrogate)"),
            _ => Err("must be a string"),
        }))
    }
}

/// What a bytes argument must be.
const BYTES_RULE: &str = "must be a Buffer or Uint8Array";

/// A bytes argument (`data` of an upload): a Buffer or Uint8Array, copied. Anything else
/// becomes `invalid_argument` naming the argument when read with [`Bytes::named`]; napi's
/// own `Buffer` conversion fails before the function runs, naming no argument.
pub struct Bytes(Result<Vec<u8>, &'static str>);

impl Bytes {
    /// The bytes, or the `invalid_argument` error naming `name`.
    pub fn named(self, name: &str) -> wa360::Result<Vec<u8>> {
        self.0.map_err(|rule| wa360::Error::invalid(name, rule))
    }
}

js_type!(Bytes, "Buffer", Object);

impl FromNapiValue for Bytes {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        Ok(Bytes(match type_of(env, v) {
            Ok(sys::ValueType::napi_object) => unsafe { BufferSlice::from_napi_value(env, v) }
                .map(|b| b.to_vec())
                .map_err(|_| BYTES_RULE),
            _ => Err(BYTES_RULE),
        }))
    }
}

/// A body argument: a Buffer or Uint8Array (borrowed for the call), or a string read
/// by `S` (napi's `String`, or the webhook parser's faster `Utf8`). Anything else becomes
/// `invalid_argument` naming the argument when read with [`Body::named`]; napi's own
/// `Either` fails before the function runs, naming no argument.
pub struct Body<'a, S>(Result<Either<BufferSlice<'a>, S>, &'static str>);

impl<S: AsRef<[u8]>> Body<'_, S> {
    /// The body's bytes (a string as UTF-8), or the `invalid_argument` error naming `name`.
    pub fn named(&self, name: &str) -> wa360::Result<&[u8]> {
        match &self.0 {
            Ok(Either::A(b)) => Ok(b),
            Ok(Either::B(s)) => Ok(s.as_ref()),
            Err(rule) => Err(wa360::Error::invalid(name, *rule)),
        }
    }
}

impl<S: FromNapiValue> FromNapiValue for Body<'_, S> {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        const RULE: &str = "must be a Buffer, Uint8Array or string";
        Ok(Body(match type_of(env, v) {
            Ok(sys::ValueType::napi_string) => unsafe { S::from_napi_value(env, v) }
                .map(Either::B)
                .map_err(|_| RULE),
            Ok(sys::ValueType::napi_object) => unsafe { BufferSlice::from_napi_value(env, v) }
                .map(Either::A)
                .map_err(|_| RULE),
            _ => Err(RULE),
        }))
    }
}

/// An object argument kept as its raw handle (valid during the call), for
/// functions that read a few own properties first and the whole value only
/// when needed.
pub struct RawObject {
    env: sys::napi_env,
    value: sys::napi_value,
}

js_type!(RawObject, "object", Object);

impl FromNapiValue for RawObject {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        if type_of(env, value)? != sys::ValueType::napi_object {
            return Err(to_js(
                env,
                &wa360::Error::invalid("event", "must be an event object from parseWebhook"),
            ));
        }
        Ok(RawObject { env, value })
    }
}

impl RawObject {
    /// The OWN string property `key` (never inherited); `None` when absent
    /// or not a string.
    pub fn own_str(&self, key: &str) -> Option<String> {
        let mut has = false;
        let mut k = ptr::null_mut();
        unsafe {
            sys::napi_create_string_utf8(self.env, key.as_ptr().cast(), key.len() as isize, &mut k);
            if sys::napi_has_own_property(self.env, self.value, k, &mut has) != sys::Status::napi_ok
                || !has
            {
                return None;
            }
            let mut v = ptr::null_mut();
            if sys::napi_get_property(self.env, self.value, k, &mut v) != sys::Status::napi_ok {
                return None;
            }
            match type_of(self.env, v) {
                Ok(sys::ValueType::napi_string) => read_string(self.env, v, key).ok(),
                _ => None,
            }
        }
    }

    /// The whole value, read like [`Json`].
    pub fn json(&self) -> wa360::Result<Value> {
        unsafe { read(self.env, self.value, "", 0, false) }
    }
}

/// The JS error object (code, field, rule) of a core error.
pub(crate) fn to_js(env: sys::napi_env, e: &wa360::Error) -> napi::Error {
    crate::errors::js_error(&napi::Env::from_raw(env), e)
}

fn internal(e: napi::Error) -> wa360::Error {
    wa360::Error::invalid("value", format!("cannot be read: {}", e.reason))
}

/// A JS string as Rust text; a lone surrogate is an error naming `path`.
unsafe fn read_string(
    env: sys::napi_env,
    v: sys::napi_value,
    path: &str,
) -> Result<String, wa360::Error> {
    let mut len = 0usize;
    napi::check_status!(unsafe {
        sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len)
    })
    .map_err(internal)?;
    let mut buf = vec![0u16; len + 1];
    let mut written = 0usize;
    napi::check_status!(unsafe {
        sys::napi_get_value_string_utf16(env, v, buf.as_mut_ptr(), len + 1, &mut written)
    })
    .map_err(internal)?;
    buf.truncate(written);
    String::from_utf16(&buf).map_err(|_| wa360::input::lone_surrogate(path))
}

/// The JS array of the own enumerable string keys of `obj`, in property order.
unsafe fn own_names(env: sys::napi_env, obj: sys::napi_value) -> napi::Result<sys::napi_value> {
    let mut names = ptr::null_mut();
    napi::check_status!(unsafe {
        sys::napi_get_all_property_names(
            env,
            obj,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        )
    })?;
    Ok(names)
}

/// The own enumerable string keys of `obj`, in property order.
pub(crate) unsafe fn own_keys(
    env: sys::napi_env,
    obj: sys::napi_value,
) -> napi::Result<Vec<String>> {
    let names = unsafe { Array::from_napi_value(env, own_names(env, obj)?)? };
    let mut out = Vec::with_capacity(names.len() as usize);
    for i in 0..names.len() {
        if let Some(k) = names.get::<String>(i)? {
            out.push(k);
        }
    }
    Ok(out)
}

/// The own property `key` of `obj` (a raw value; never read through the prototype).
pub(crate) unsafe fn own_get(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: &str,
) -> napi::Result<sys::napi_value> {
    let mut k = ptr::null_mut();
    napi::check_status!(unsafe {
        sys::napi_create_string_utf8(env, key.as_ptr().cast(), key.len() as isize, &mut k)
    })?;
    let mut out = ptr::null_mut();
    napi::check_status!(unsafe { sys::napi_get_property(env, obj, k, &mut out) })?;
    Ok(out)
}

fn type_of(env: sys::napi_env, v: sys::napi_value) -> napi::Result<sys::napi_valuetype> {
    let mut t = 0;
    napi::check_status!(unsafe { sys::napi_typeof(env, v, &mut t) })?;
    Ok(t)
}

/// The own enumerable string keys of `obj` as JS values, in property order
/// (each is read as text by the caller, in order, so the first fault found is
/// the same one Python finds).
unsafe fn own_key_values(
    env: sys::napi_env,
    obj: sys::napi_value,
) -> Result<Vec<sys::napi_value>, wa360::Error> {
    let names = unsafe { own_names(env, obj) }.map_err(internal)?;
    let mut n = 0u32;
    napi::check_status!(unsafe { sys::napi_get_array_length(env, names, &mut n) })
        .map_err(internal)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut k = ptr::null_mut();
        napi::check_status!(unsafe { sys::napi_get_element(env, names, i, &mut k) })
            .map_err(internal)?;
        out.push(k);
    }
    Ok(out)
}

/// Whether the object `v` is iterable (`Symbol.iterator` in it or its prototypes): a
/// `Map`, `Set`, `Headers` or `URLSearchParams`, whose entries are not own properties, so
/// reading it as JSON would see none. Well-known symbols are the same in every realm, so
/// objects made in a `vm` context (Jest) are judged as any other.
unsafe fn is_iterable(env: sys::napi_env, v: sys::napi_value) -> Result<bool, wa360::Error> {
    let (mut global, mut symbol, mut iterator) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    napi::check_status!(unsafe { sys::napi_get_global(env, &mut global) }).map_err(internal)?;
    napi::check_status!(unsafe {
        sys::napi_get_named_property(env, global, c"Symbol".as_ptr(), &mut symbol)
    })
    .map_err(internal)?;
    napi::check_status!(unsafe {
        sys::napi_get_named_property(env, symbol, c"iterator".as_ptr(), &mut iterator)
    })
    .map_err(internal)?;
    let mut has = false;
    napi::check_status!(unsafe { sys::napi_has_property(env, v, iterator, &mut has) })
        .map_err(internal)?;
    Ok(has)
}

/// 2^53: JS numbers at or above it in magnitude are not exact integers.
const TWO_53: f64 = 9_007_199_254_740_992.0;

/// `strict`: see [`Settings`].
unsafe fn read(
    env: sys::napi_env,
    v: sys::napi_value,
    path: &str,
    depth: usize,
    strict: bool,
) -> Result<Value, wa360::Error> {
    use wa360::input;
    if depth > input::MAX_DEPTH {
        return Err(input::too_deep(path));
    }
    let name = input::field_name(path);
    Ok(match type_of(env, v).map_err(internal)? {
        sys::ValueType::napi_null => Value::Null,
        sys::ValueType::napi_boolean => {
            Value::Bool(unsafe { bool::from_napi_value(env, v) }.map_err(internal)?)
        }
        sys::ValueType::napi_string => Value::String(unsafe { read_string(env, v, path)? }),
        sys::ValueType::napi_number => {
            let n = unsafe { f64::from_napi_value(env, v) }.map_err(internal)?;
            if !n.is_finite() {
                return Err(input::not_finite(path));
            }
            // Integral values stay integers (as JSON.stringify writes them).
            if n.fract() == 0.0 && n.abs() < TWO_53 {
                Value::Number(Number::from(n as i64))
            } else {
                Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| input::not_finite(path))?
            }
        }
        sys::ValueType::napi_bigint => {
            let mut i = 0i64;
            let mut lossless = false;
            napi::check_status!(unsafe {
                sys::napi_get_value_bigint_int64(env, v, &mut i, &mut lossless)
            })
            .map_err(internal)?;
            if lossless {
                Value::Number(Number::from(i))
            } else {
                let mut u = 0u64;
                napi::check_status!(unsafe {
                    sys::napi_get_value_bigint_uint64(env, v, &mut u, &mut lossless)
                })
                .map_err(internal)?;
                if !lossless {
                    return Err(input::integer_out_of_range(path));
                }
                Value::Number(Number::from(u))
            }
        }
        sys::ValueType::napi_object => {
            let mut is_arr = false;
            napi::check_status!(unsafe { sys::napi_is_array(env, v, &mut is_arr) })
                .map_err(internal)?;
            if is_arr {
                let mut n = 0u32;
                napi::check_status!(unsafe { sys::napi_get_array_length(env, v, &mut n) })
                    .map_err(internal)?;
                if n as usize > input::MAX_LIST {
                    return Err(input::too_long(path, n as usize));
                }
                let mut out = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let mut el = ptr::null_mut();
                    napi::check_status!(unsafe { sys::napi_get_element(env, v, i, &mut el) })
                        .map_err(internal)?;
                    let child = input::join_index(path, i as usize);
                    // A hole or `undefined` in a list is `null`, as in JSON.stringify.
                    if type_of(env, el).map_err(internal)? == sys::ValueType::napi_undefined {
                        if depth + 1 > input::MAX_DEPTH {
                            return Err(input::too_deep(&child));
                        }
                        out.push(Value::Null);
                        continue;
                    }
                    out.push(unsafe { read(env, el, &child, depth + 1, strict)? });
                }
                Value::Array(out)
            } else {
                let mut is_buf = false;
                napi::check_status!(unsafe { sys::napi_is_buffer(env, v, &mut is_buf) })
                    .map_err(internal)?;
                let mut is_typed = false;
                napi::check_status!(unsafe { sys::napi_is_typedarray(env, v, &mut is_typed) })
                    .map_err(internal)?;
                if is_buf || is_typed {
                    return Err(wa360::Error::invalid(
                        name,
                        "must be a JSON value (object, array, string, number, boolean or null), got a Buffer",
                    ));
                }
                if strict && unsafe { is_iterable(env, v)? } {
                    return Err(wa360::Error::invalid(
                        name,
                        "must be an object of { key: value }, not a Map, Headers or other iterable",
                    ));
                }
                let mut map = Map::new();
                for k in unsafe { own_key_values(env, v)? } {
                    let key = unsafe { read_string(env, k, path) }
                        .map_err(|_| input::lone_surrogate_key(path))?;
                    let mut el = ptr::null_mut();
                    napi::check_status!(unsafe { sys::napi_get_property(env, v, k, &mut el) })
                        .map_err(internal)?;
                    let child = input::join_key(path, &key);
                    // `undefined` members are absent, as in JSON.stringify; in settings
                    // only at the top level.
                    if type_of(env, el).map_err(internal)? == sys::ValueType::napi_undefined {
                        if strict && depth > 0 {
                            return Err(wa360::Error::invalid(
                                input::field_name(&child),
                                "is undefined: give a value, or leave the key out",
                            ));
                        }
                        continue;
                    }
                    map.insert(key, unsafe { read(env, el, &child, depth + 1, strict)? });
                }
                Value::Object(map)
            }
        }
        sys::ValueType::napi_undefined => {
            return Err(wa360::Error::invalid(
                name,
                "is undefined (not a JSON value)",
            ));
        }
        sys::ValueType::napi_function => {
            return Err(wa360::Error::invalid(
                name,
                "must be a JSON value, got a function",
            ));
        }
        _ => {
            return Err(wa360::Error::invalid(
                name,
                "must be a JSON value (object, array, string, number, boolean or null)",
            ));
        }
    })
}

/// Read an options object (`undefined` / `null` = no options): own keys only,
/// every key must be in `known` (else `invalid_argument` naming it), and
/// `undefined` / `null` members count as absent.
pub(crate) fn options(o: Option<Json>, known: &[&str]) -> wa360::Result<Map<String, Value>> {
    let m = match o.map(|j| j.0) {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(wa360::Error::invalid("options", "must be an object")),
    };
    let mut out = Map::new();
    for (k, v) in m {
        if !known.contains(&k.as_str()) {
            return Err(wa360::input::unknown_option(&k, known));
        }
        if !v.is_null() {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// A string option.
pub(crate) fn opt_str(m: &Map<String, Value>, k: &str) -> wa360::Result<Option<String>> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wa360::Error::invalid(k, "must be a string")),
    }
}

/// A boolean option.
pub(crate) fn opt_bool(m: &Map<String, Value>, k: &str) -> wa360::Result<Option<bool>> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wa360::Error::invalid(k, "must be a boolean")),
    }
}

/// A numeric option (range-checked by the caller through `wa360::input`).
pub(crate) fn opt_num(m: &Map<String, Value>, k: &str) -> wa360::Result<Option<f64>> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(wa360::Error::invalid(k, "must be a number")),
    }
}

/// An object-of-strings option (e.g. headers).
pub(crate) fn opt_str_map(
    m: &Map<String, Value>,
    k: &str,
) -> wa360::Result<Option<Vec<(String, String)>>> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::Object(h)) => h
            .iter()
            .map(|(name, v)| match v {
                Value::String(s) => Ok((name.clone(), s.clone())),
                _ => Err(wa360::Error::invalid(
                    format!("{k}.{name}"),
                    "must be a string",
                )),
            })
            .collect::<wa360::Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(wa360::Error::invalid(k, "must be an object of strings")),
    }
}
