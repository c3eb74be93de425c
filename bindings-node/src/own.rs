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

use napi::bindgen_prelude::{Array, FromNapiValue, TypeName, ValidateNapiValue, ValueType};
use napi::sys;
use serde_json::{Map, Number, Value};

/// The same nesting budget napi's own conversion had (the core applies its stricter limits).
const MAX_DEPTH: u32 = 128;

/// A JSON value read from JavaScript through own enumerable string keys.
pub struct Json(pub Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "JSON"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Json {}

impl FromNapiValue for Json {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        unsafe { read(env, v, MAX_DEPTH) }.map(Json)
    }
}

fn invalid(msg: impl Into<String>) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, msg.into())
}

/// The own enumerable string keys of `obj`, in property order.
pub(crate) unsafe fn own_keys(
    env: sys::napi_env,
    obj: sys::napi_value,
) -> napi::Result<Vec<String>> {
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
    let names = unsafe { Array::from_napi_value(env, names)? };
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

unsafe fn read(env: sys::napi_env, v: sys::napi_value, depth: u32) -> napi::Result<Value> {
    Ok(match type_of(env, v)? {
        sys::ValueType::napi_null => Value::Null,
        sys::ValueType::napi_boolean => Value::Bool(unsafe { bool::from_napi_value(env, v)? }),
        sys::ValueType::napi_string => Value::String(unsafe { String::from_napi_value(env, v)? }),
        sys::ValueType::napi_number => {
            let n = unsafe { f64::from_napi_value(env, v)? };
            // Integral values stay integers (as JSON.stringify writes them).
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                Value::Number(Number::from(n as i64))
            } else {
                Number::from_f64(n).map(Value::Number).ok_or_else(|| {
                    invalid("a number must be finite (NaN and Infinity are not JSON)")
                })?
            }
        }
        sys::ValueType::napi_bigint => {
            let (n, lossless) = unsafe {
                let mut out = 0i64;
                let mut lossless = false;
                napi::check_status!(sys::napi_get_value_bigint_int64(
                    env,
                    v,
                    &mut out,
                    &mut lossless
                ))?;
                (out, lossless)
            };
            if !lossless {
                return Err(invalid("a BigInt must fit in 64 bits"));
            }
            Value::Number(Number::from(n))
        }
        sys::ValueType::napi_object => {
            if depth == 0 {
                return Err(invalid(format!("nesting deeper than {MAX_DEPTH} levels")));
            }
            let mut is_arr = false;
            napi::check_status!(unsafe { sys::napi_is_array(env, v, &mut is_arr) })?;
            if is_arr {
                let arr = unsafe { Array::from_napi_value(env, v)? };
                let mut out = Vec::with_capacity(arr.len() as usize);
                for i in 0..arr.len() {
                    let mut el = ptr::null_mut();
                    napi::check_status!(unsafe { sys::napi_get_element(env, v, i, &mut el) })?;
                    out.push(unsafe { read(env, el, depth - 1)? });
                }
                Value::Array(out)
            } else {
                let mut map = Map::new();
                for key in unsafe { own_keys(env, v)? } {
                    let el = unsafe { own_get(env, v, &key)? };
                    // `undefined` members are absent, as in JSON.stringify.
                    if type_of(env, el)? == sys::ValueType::napi_undefined {
                        continue;
                    }
                    map.insert(key, unsafe { read(env, el, depth - 1)? });
                }
                Value::Object(map)
            }
        }
        sys::ValueType::napi_undefined => return Err(invalid("undefined is not a JSON value")),
        sys::ValueType::napi_function => return Err(invalid("a function is not a JSON value")),
        _ => return Err(invalid("not a JSON value")),
    })
}
