//! Webhooks: parsing (fast path: canonical JSON materialised by `JSON.parse`
//! on the JS side), verification, the hub challenge, and registration.
//!
//! Why JSON text instead of JS objects: building the events property by
//! property through N-API measured about 2.5× `JSON.parse` alone, and lazy
//! getter classes were slower still (docs/performance.md §5). One N-API call that
//! returns the canonical JSON string, which V8's `JSON.parse` turns into
//! objects, keeps the whole parse close to `JSON.parse` of the body itself.

use napi::Env;
use napi::bindgen_prelude::{Array, Either, FromNapiValue, PromiseRaw, ToNapiValue};
use napi::sys;
use napi_derive::napi;
use wa360::webhook::registration::WebhookSettings;

use crate::client::JsClient;
use crate::errors::{guard, spawn};
use crate::own::{Body, Json, Text, js_type, own_get, own_keys};
use crate::types::WebhookInfo;

/// Parse a webhook POST body and return its events as one JSON array of
/// canonical events (the same text in Rust, Python and Node). `parseWebhook`
/// is this plus `JSON.parse`. Throws `webhook_payload` for a body that is too
/// large (1 MiB), too deep (64), not JSON or not a webhook.
#[napi(ts_args_type = "body: Buffer | Uint8Array | string")]
pub fn parse_webhook_to_json(env: Env, body: Body<'_, String>) -> napi::Result<String> {
    guard(&env, || {
        wa360::webhook::parse_to_canonical_json(body.named("body")?)
    })
}

/// The events of a webhook POST body in the core's packed positional JSON
/// form (`wa360::webhook::packed`): what `parseWebhook` builds its canonical
/// objects from (internal; use `parseWebhook` or `parseWebhookToJson`).
#[napi(
    js_name = "_parseWebhookPacked",
    ts_args_type = "body: Buffer | Uint8Array | string",
    ts_return_type = "string"
)]
pub fn parse_webhook_packed(env: Env, body: Body<'_, Utf8>) -> napi::Result<AsciiFast> {
    guard(&env, || {
        wa360::webhook::packed::parse_to_packed_json(body.named("body")?).map(AsciiFast)
    })
}

/// [`parse_webhook_packed`] with the `maxBytes` / `maxDepth` options of
/// `parseWebhook(body, options)` (a separate entry so that the common call
/// without options reads no options object).
#[napi(
    js_name = "_parseWebhookPackedWith",
    ts_args_type = "body: Buffer | Uint8Array | string, options: Record<string, unknown>",
    ts_return_type = "string"
)]
pub fn parse_webhook_packed_with(
    env: Env,
    body: Body<'_, Utf8>,
    options: Option<crate::own::Json>,
) -> napi::Result<AsciiFast> {
    guard(&env, || {
        let o = crate::own::options(options, &["maxBytes", "maxDepth"])?;
        let opts = parse_limits(&o)?;
        wa360::webhook::packed::parse_to_packed_json_with(body.named("body")?, &opts).map(AsciiFast)
    })
}

/// The `maxBytes` / `maxDepth` options of `parseWebhook`, read by the core's rule.
fn parse_limits(
    o: &serde_json::Map<String, serde_json::Value>,
) -> wa360::Result<wa360::webhook::ParseOptions> {
    wa360::webhook::ParseOptions::with_limits(
        crate::own::opt_num(o, "maxBytes")?,
        crate::own::opt_num(o, "maxDepth")?,
        ["maxBytes", "maxDepth"],
    )
}

/// A string returned to JS without V8's UTF-8 decoder: created as Latin-1 when
/// it is ASCII (the usual case for webhook JSON; V8 copies it as is), else as
/// UTF-16 converted here. Measured on the 20-event batch, whose 6 kB packed form
/// holds one emoji: the native call took 18.8 µs against 19.6 µs through
/// `napi_create_string_utf8` (docs/performance.md §5, fifth pass).
pub struct AsciiFast(String);

js_type!(AsciiFast, "string", String, return_only);

impl ToNapiValue for AsciiFast {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut out = std::ptr::null_mut();
        if val.0.is_ascii() {
            napi::check_status!(unsafe {
                sys::napi_create_string_latin1(
                    env,
                    val.0.as_ptr().cast(),
                    val.0.len() as isize,
                    &mut out,
                )
            })?;
        } else {
            let wide = utf8_to_utf16(&val.0);
            napi::check_status!(unsafe {
                sys::napi_create_string_utf16(env, wide.as_ptr(), wide.len() as isize, &mut out)
            })?;
        }
        Ok(out)
    }
}

/// UTF-8 to UTF-16. Runs of ASCII are widened sixteen bytes at a time, in two
/// loops plain enough for the compiler to vectorise (an OR-reduction, then a
/// widening copy); other characters one by one.
fn utf8_to_utf16(s: &str) -> Vec<u16> {
    let b = s.as_bytes();
    let mut out: Vec<u16> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        while let Some(chunk) = b.get(i..i + 16) {
            if chunk.iter().fold(0u8, |a, &u| a | u) >= 0x80 {
                break;
            }
            out.extend(chunk.iter().map(|&u| u16::from(u)));
            i += 16;
        }
        // `i` is always on a character boundary (after whole ASCII runs or characters).
        let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        out.extend_from_slice(c.encode_utf16(&mut [0u16; 2]));
        i += c.len_utf8();
    }
    out
}

/// A JS string read as UTF-8, fast for the ASCII text webhook bodies are.
///
/// Hand-written because napi's conversion is slow on large strings: napi-rs'
/// `String` asks V8 for the UTF-8 length and then for the UTF-8 text, and
/// V8's UTF-8 writer goes character by character (about 17 µs for a 13 kB
/// body here, as long as `JSON.parse` of it). The UTF-16 copy is a widening
/// copy, and the narrowing below moves four ASCII units at a time. Lone
/// surrogates become U+FFFD, as with napi's conversion.
pub struct Utf8(String);

impl AsRef<[u8]> for Utf8 {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

js_type!(Utf8, "string", String);

impl FromNapiValue for Utf8 {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        let mut units = 0usize;
        napi::check_status!(unsafe {
            sys::napi_get_value_string_utf16(env, v, std::ptr::null_mut(), 0, &mut units)
        })?;
        // Uninitialised: V8 writes every unit up to `written` (no zeroing pass).
        let mut wide: Vec<u16> = Vec::with_capacity(units + 1);
        let mut written = 0usize;
        napi::check_status!(unsafe {
            sys::napi_get_value_string_utf16(env, v, wide.as_mut_ptr(), units + 1, &mut written)
        })?;
        // SAFETY: V8 initialised `written` (≤ units) units of the buffer.
        unsafe { wide.set_len(written.min(units)) };
        Ok(Utf8(utf16_to_utf8(&wide)))
    }
}

/// UTF-16 to UTF-8, lone surrogates replaced by U+FFFD.
fn utf16_to_utf8(w: &[u16]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(w.len() + w.len() / 8);
    let mut i = 0;
    while i < w.len() {
        // Runs of ASCII, sixteen units at a time: both loops are plain enough
        // for the compiler to vectorise (an OR-reduction, then a narrowing).
        while let Some(chunk) = w.get(i..i + 16) {
            if chunk.iter().fold(0u16, |a, &u| a | u) >= 0x80 {
                break;
            }
            out.extend(chunk.iter().map(|&u| u as u8));
            i += 16;
        }
        let Some(&u) = w.get(i) else { break };
        if u < 0x80 {
            out.push(u as u8);
            i += 1;
            continue;
        }
        let c = match char::decode_utf16(w[i..].iter().copied()).next() {
            Some(Ok(c)) => c,
            _ => char::REPLACEMENT_CHARACTER,
        };
        i += if c == char::REPLACEMENT_CHARACTER {
            1
        } else {
            c.len_utf16()
        };
        out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
    }
    // SAFETY: only ASCII bytes and whole UTF-8 encodings of chars were written.
    unsafe { String::from_utf8_unchecked(out) }
}

/// Request headers read from JavaScript: `req.headers` (an object whose
/// values are a string or a list of strings) or Node's flat `req.rawHeaders`
/// list (`[name, value, name, value, …]`).
///
/// Only the object's OWN string-keyed properties are read. napi's generic
/// `HashMap` conversion walks the prototype chain (`for…in` semantics), so a
/// polluted `Object.prototype.authorization` would have authenticated a
/// request that carried no `Authorization` header. This is written by hand
/// because napi offers no own-properties-only map conversion.
pub struct NodeHeaders(Vec<(String, Vec<u8>)>);

impl NodeHeaders {
    pub(crate) fn pairs(&self) -> Vec<(&str, &[u8])> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect()
    }
}

js_type!(NodeHeaders, "Headers", Object);

fn header_value_err(env: sys::napi_env, name: &str) -> napi::Error {
    crate::own::to_js(
        env,
        &wa360::Error::invalid(
            format!("headers.{name}"),
            "must be a string or a list of strings",
        ),
    )
}

impl FromNapiValue for NodeHeaders {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut out = Vec::new();
        let mut t = 0;
        napi::check_status!(unsafe { sys::napi_typeof(env, value, &mut t) })?;
        if t != sys::ValueType::napi_object {
            return Err(crate::own::to_js(
                env,
                &wa360::Error::invalid(
                    "headers",
                    "must be an object of headers or a raw header list",
                ),
            ));
        }
        let mut is_array = false;
        napi::check_status!(unsafe { sys::napi_is_array(env, value, &mut is_array) })?;
        if is_array {
            // Node's rawHeaders: own indexed elements, name then value.
            let arr = unsafe { Array::from_napi_value(env, value)? };
            let mut i = 0;
            while i + 1 < arr.len() {
                let name: Option<String> = arr.get(i)?;
                let val: Option<String> = arr.get(i + 1)?;
                match (name, val) {
                    (Some(n), Some(v)) => out.push((n, v.into_bytes())),
                    _ => return Err(header_value_err(env, "rawHeaders")),
                }
                i += 2;
            }
            return Ok(NodeHeaders(out));
        }
        for name in unsafe { own_keys(env, value)? } {
            let raw = unsafe { own_get(env, value, &name)? };
            let v = unsafe { Option::<Either<String, Vec<String>>>::from_napi_value(env, raw) }
                .map_err(|_| header_value_err(env, &name))?;
            match v {
                Some(Either::A(v)) => out.push((name, v.into_bytes())),
                Some(Either::B(list)) => {
                    out.extend(list.into_iter().map(|v| (name.clone(), v.into_bytes())));
                }
                None => {}
            }
        }
        Ok(NodeHeaders(out))
    }
}

/// Checks that a webhook delivery is authentic (fails closed). Holds the
/// secrets in Rust: printing it never shows them.
#[napi(js_name = "Verifier")]
pub struct JsVerifier {
    pub(crate) inner: wa360::webhook::verify::Verifier,
}

#[napi]
impl JsVerifier {
    /// `new Verifier({ basicAuth: { user, password }, headers: { name: value }, appSecret })`
    /// (the snake_case keys of the shared neutral form, `basic_auth` /
    /// `app_secret`, are accepted too). Throws `invalid_argument` naming the
    /// setting when no check is given, a key is unknown or a value is unusable.
    #[napi(constructor, ts_args_type = "options: VerifierOptions")]
    pub fn new(env: Env, options: crate::own::Settings) -> napi::Result<Self> {
        guard(&env, move || {
            let spec = match options.0 {
                serde_json::Value::Object(m) => serde_json::Value::Object(
                    m.into_iter()
                        .map(|(k, v)| {
                            let k = match k.as_str() {
                                "basicAuth" => "basic_auth".to_owned(),
                                "appSecret" => "app_secret".to_owned(),
                                _ => k,
                            };
                            (k, v)
                        })
                        // `undefined` options arrive as null: treat them as absent.
                        .filter(|(_, v)| !v.is_null())
                        .collect(),
                ),
                other => other,
            };
            let inner = wa360::webhook::verify::Verifier::from_json(&spec)?;
            Ok(JsVerifier { inner })
        })
    }

    /// Check one delivery: the request headers (`req.headers`) and the raw
    /// body bytes as received. Throws `invalid_signature` when a check fails.
    #[napi(
        ts_args_type = "headers: Record<string, string | string[] | undefined> | string[], body: Buffer | Uint8Array | string"
    )]
    pub fn verify(
        &self,
        env: Env,
        headers: NodeHeaders,
        body: Body<'_, String>,
    ) -> napi::Result<()> {
        guard(&env, || {
            self.inner.verify(&headers.pairs(), body.named("body")?)
        })
    }

    /// `true` when the delivery passes every check (never throws for a bad signature).
    #[napi(
        ts_args_type = "headers: Record<string, string | string[] | undefined> | string[], body: Buffer | Uint8Array | string"
    )]
    pub fn is_valid(
        &self,
        env: Env,
        headers: NodeHeaders,
        body: Body<'_, String>,
    ) -> napi::Result<bool> {
        // A body of the wrong type is the caller's mistake, not a bad signature: it throws.
        let body = guard(&env, || body.named("body"))?;
        Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.inner.verify(&headers.pairs(), body).is_ok()
        }))
        .unwrap_or(false))
    }

    /// What printing shows: never the secrets.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> String {
        "Verifier(***)".to_owned()
    }
}

/// Answer Meta's subscription check (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`):
/// returns the challenge to send back as `200 text/plain`; throws
/// `invalid_signature` (answer 403) when the token does not match.
#[napi(
    ts_args_type = "mode: string, verifyToken: string, challenge: string, expectedToken: string"
)]
pub fn hub_challenge(
    env: Env,
    mode: Text,
    verify_token: Text,
    challenge: Text,
    expected_token: Text,
) -> napi::Result<String> {
    guard(&env, || {
        wa360::webhook::verify::hub_challenge(
            &mode.named("mode")?,
            &verify_token.named("verifyToken")?,
            &challenge.named("challenge")?,
            &expected_token.named("expectedToken")?,
        )
    })
}

/// `hubChallenge` reading the parameters from a raw query string (without `?`).
#[napi(ts_args_type = "query: string, expectedToken: string")]
pub fn hub_challenge_from_query(
    env: Env,
    query: Text,
    expected_token: Text,
) -> napi::Result<String> {
    guard(&env, || {
        wa360::webhook::verify::hub_challenge_from_query(
            &query.named("query")?,
            &expected_token.named("expectedToken")?,
        )
    })
}

/// Check a webhook URL against the registration rules (https, a DNS name without `_`
/// as host, no port, credentials or fragment, …). Throws `invalid_argument` naming the rule.
#[napi(ts_args_type = "url: string")]
pub fn validate_webhook_url(env: Env, url: Text) -> napi::Result<()> {
    guard(&env, || {
        wa360::webhook::registration::validate_webhook_url(&url.named("url")?)
    })
}

/// Check webhook registration settings `{ url, headers? }` against the rules
/// (the same check `setWebhook` makes before any request). Throws
/// `invalid_argument` naming `url` or `headers.<name>`.
#[napi(ts_args_type = "settings: { url: string; headers?: Record<string, string> }")]
pub fn validate_webhook_settings(env: Env, settings: crate::own::Settings) -> napi::Result<()> {
    guard(&env, || WebhookSettings::from_json(&settings.0)?.validate())
}

/// The value of an `X-Hub-Signature-256` header for `body` (for tests that
/// deliver signed webhooks).
#[napi(ts_args_type = "appSecret: string, body: Buffer | Uint8Array | string")]
pub fn sign_webhook(env: Env, app_secret: String, body: Body<'_, String>) -> napi::Result<String> {
    guard(&env, || {
        Ok(wa360::webhook::testing::hub_signature(
            &app_secret,
            body.named("body")?,
        ))
    })
}

#[napi]
impl JsClient {
    /// Register the webhook URL (phone-number level, or WABA level with
    /// `{ waba: true }`). The URL and headers are checked before any request.
    #[napi(
        ts_args_type = "url: string, options?: SetWebhookOptions | undefined | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_webhook<'env>(
        &self,
        env: &'env Env,
        url: Text,
        options: Option<crate::own::Settings>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let read = || -> wa360::Result<(WebhookSettings, bool)> {
            let o = crate::own::options(options.map(Json::from), &["headers", "waba"])?;
            let mut settings = WebhookSettings::new(url.named("url")?);
            for (k, v) in crate::own::opt_str_map(&o, "headers")?.unwrap_or_default() {
                settings = settings.header(k, v);
            }
            Ok((settings, crate::own::opt_bool(&o, "waba")?.unwrap_or(false)))
        };
        let (settings, waba) = match read() {
            Ok(v) => v,
            Err(e) => return Err(crate::errors::js_error(env, &e)),
        };
        let c = self.inner.clone();
        spawn(
            env,
            async move {
                let w = c.webhooks();
                if waba {
                    w.set_waba(&settings).await?;
                } else {
                    w.set_phone(&settings).await?;
                }
                Ok(())
            },
            |_, v| Ok(v),
        )
    }

    /// Read the registered webhook (`null` when none is set).
    #[napi(
        ts_args_type = "options?: GetWebhookOptions | undefined | null",
        ts_return_type = "Promise<WebhookInfo | undefined | null>"
    )]
    pub fn get_webhook<'env>(
        &self,
        env: &'env Env,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, Option<WebhookInfo>>> {
        let waba = crate::own::options(options, &["waba"])
            .and_then(|o| crate::own::opt_bool(&o, "waba"))
            .map_err(|e| crate::errors::js_error(env, &e))?
            .unwrap_or(false);
        let c = self.inner.clone();
        spawn(
            env,
            async move {
                let w = c.webhooks();
                if waba {
                    w.get_waba().await
                } else {
                    w.get_phone().await
                }
            },
            |_, s| {
                Ok(s.map(|s| WebhookInfo {
                    url: s.url,
                    header_names: s.headers.into_keys().collect(),
                }))
            },
        )
    }
}
