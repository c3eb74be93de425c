//! Webhooks: parsing (fast path: canonical JSON materialised by `JSON.parse`
//! on the JS side), verification, the hub challenge, and registration.
//!
//! Why JSON text instead of JS objects: building the events property by
//! property through N-API measured about 2.5× `JSON.parse` alone, and lazy
//! getter classes were slower still (PERFORMANCE.md). One N-API call that
//! returns the canonical JSON string, which V8's `JSON.parse` turns into
//! objects, keeps the whole parse close to `JSON.parse` of the body itself.

use std::collections::HashMap;

use napi::Env;
use napi::bindgen_prelude::{
    Array, BufferSlice, Either, FromNapiValue, PromiseRaw, TypeName, ValidateNapiValue, ValueType,
};
use napi::sys;
use napi_derive::napi;
use wa360::webhook::registration::WebhookSettings;

use crate::client::JsClient;
use crate::errors::{guard, spawn};
use crate::own::{Json, own_get, own_keys};

pub(crate) fn body_bytes<'a>(body: &'a Either<BufferSlice<'_>, String>) -> &'a [u8] {
    match body {
        Either::A(b) => b,
        Either::B(s) => s.as_bytes(),
    }
}

/// Parse a webhook POST body and return its events as one JSON array of
/// canonical events (the same text in Rust, Python and Node). `parseWebhook`
/// is this plus `JSON.parse`. Throws `webhook_payload` for a body that is too
/// large (1 MiB), too deep (64), not JSON or not a webhook.
#[napi(ts_args_type = "body: Buffer | Uint8Array | string")]
pub fn parse_webhook_to_json(
    env: Env,
    body: Either<BufferSlice<'_>, String>,
) -> napi::Result<String> {
    guard(&env, || {
        wa360::webhook::parse_to_canonical_json(body_bytes(&body))
    })
}

/// Options of `new Verifier(options)`: at least one check. Every configured
/// check must pass. (Declared for the TypeScript types; the constructor reads
/// the object through the core's neutral form, which rejects unknown keys.)
#[napi(object)]
#[allow(dead_code)]
#[derive(Default)]
pub struct VerifierOptions {
    /// Expect `Authorization: Basic base64(user:password)`.
    pub basic_auth: Option<BasicAuth>,
    /// Expect each of these headers with exactly this value (constant-time compare).
    pub headers: Option<HashMap<String, String>>,
    /// Expect a valid `X-Hub-Signature-256` made with this app secret (direct Meta webhooks).
    pub app_secret: Option<String>,
}

/// User and password of a Basic auth check.
#[napi(object)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
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

impl TypeName for NodeHeaders {
    fn type_name() -> &'static str {
        "Headers"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for NodeHeaders {}

fn header_value_err(name: &str) -> napi::Error {
    napi::Error::from_reason(format!(
        "headers.{name}: must be a string or a list of strings"
    ))
}

impl FromNapiValue for NodeHeaders {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut out = Vec::new();
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
                    _ => return Err(header_value_err("rawHeaders")),
                }
                i += 2;
            }
            return Ok(NodeHeaders(out));
        }
        for name in unsafe { own_keys(env, value)? } {
            let raw = unsafe { own_get(env, value, &name)? };
            let v = unsafe { Option::<Either<String, Vec<String>>>::from_napi_value(env, raw) }
                .map_err(|_| header_value_err(&name))?;
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
    pub fn new(env: Env, options: Json) -> napi::Result<Self> {
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
        body: Either<BufferSlice<'_>, String>,
    ) -> napi::Result<()> {
        guard(&env, || {
            self.inner.verify(&headers.pairs(), body_bytes(&body))
        })
    }

    /// `true` when the delivery passes every check (never throws for a bad signature).
    #[napi(
        ts_args_type = "headers: Record<string, string | string[] | undefined> | string[], body: Buffer | Uint8Array | string"
    )]
    pub fn is_valid(&self, headers: NodeHeaders, body: Either<BufferSlice<'_>, String>) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.inner
                .verify(&headers.pairs(), body_bytes(&body))
                .is_ok()
        }))
        .unwrap_or(false)
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
#[napi]
pub fn hub_challenge(
    env: Env,
    mode: String,
    verify_token: String,
    challenge: String,
    expected_token: String,
) -> napi::Result<String> {
    guard(&env, || {
        wa360::webhook::verify::hub_challenge(&mode, &verify_token, &challenge, &expected_token)
    })
}

/// `hubChallenge` reading the parameters from a raw query string (without `?`).
#[napi]
pub fn hub_challenge_from_query(
    env: Env,
    query: String,
    expected_token: String,
) -> napi::Result<String> {
    guard(&env, || {
        wa360::webhook::verify::hub_challenge_from_query(&query, &expected_token)
    })
}

/// Check a webhook URL against the registration rules (https, no credentials,
/// length, …). Throws `invalid_argument` naming the rule.
#[napi]
pub fn validate_webhook_url(env: Env, url: String) -> napi::Result<()> {
    guard(&env, || {
        wa360::webhook::registration::validate_webhook_url(&url)
    })
}

/// Check webhook registration settings `{ url, headers? }` against the rules
/// (the same check `setWebhook` makes before any request). Throws
/// `invalid_argument` naming `url` or `headers.<name>`.
#[napi(ts_args_type = "settings: { url: string; headers?: Record<string, string> }")]
pub fn validate_webhook_settings(env: Env, settings: Json) -> napi::Result<()> {
    guard(&env, || WebhookSettings::from_json(&settings.0)?.validate())
}

/// The value of an `X-Hub-Signature-256` header for `body` (for tests that
/// deliver signed webhooks).
#[napi(ts_args_type = "appSecret: string, body: Buffer | Uint8Array | string")]
pub fn sign_webhook(app_secret: String, body: Either<BufferSlice<'_>, String>) -> String {
    wa360::webhook::testing::hub_signature(&app_secret, body_bytes(&body))
}

/// Options of `setWebhook`.
#[napi(object)]
#[derive(Default)]
pub struct SetWebhookOptions {
    /// Custom headers 360dialog sends with each delivery (e.g. `Authorization`).
    pub headers: Option<HashMap<String, String>>,
    /// Set the WABA-level webhook instead of the phone-number-level one.
    pub waba: Option<bool>,
}

/// Options of `getWebhook`.
#[napi(object)]
#[derive(Default)]
pub struct GetWebhookOptions {
    /// Read the WABA-level webhook instead of the phone-number-level one.
    pub waba: Option<bool>,
}

/// A registered webhook. Header values are secrets and are not returned.
#[napi(object)]
pub struct WebhookInfo {
    /// The callback URL.
    pub url: String,
    /// Names of the custom headers sent with each delivery.
    pub header_names: Vec<String>,
}

#[napi]
impl JsClient {
    /// Register the webhook URL (phone-number level, or WABA level with
    /// `{ waba: true }`). The URL and headers are checked before any request.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_webhook<'env>(
        &self,
        env: &'env Env,
        url: String,
        options: Option<SetWebhookOptions>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let o = options.unwrap_or_default();
        let mut settings = WebhookSettings::new(url);
        for (k, v) in o.headers.unwrap_or_default() {
            settings = settings.header(k, v);
        }
        let waba = o.waba.unwrap_or(false);
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
    #[napi]
    pub fn get_webhook<'env>(
        &self,
        env: &'env Env,
        options: Option<GetWebhookOptions>,
    ) -> napi::Result<PromiseRaw<'env, Option<WebhookInfo>>> {
        let waba = options.and_then(|o| o.waba).unwrap_or(false);
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
