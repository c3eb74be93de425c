//! Outbound messages: `send(message)` with the neutral description (the
//! format of `tests/conformance/message_build/*/input.json`), one helper per
//! message family, and `buildMessage` (the exact wire body, no request).
//!
//! The helpers only assemble the neutral description; building and
//! validation (docs/360dialog-api.md §4.10) happen in the core, before any request.

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::own::{Json, Text};

use crate::client::{JsClient, SendResponse};
use crate::errors::{guard, spawn};

/// Build the exact `POST /messages` body of a message description (or of
/// `{ type: 'mark_read' | 'typing', message_id }`) without sending it.
/// Throws `invalid_argument` naming the field and the rule.
#[napi(
    ts_args_type = "message: Record<string, unknown>",
    ts_return_type = "Record<string, unknown>"
)]
pub fn build_message(env: Env, message: Json) -> napi::Result<Value> {
    guard(&env, || wa360::messages::build_body(&message.0))
}

/// `buildMessage` as JSON text `{"body": <body>, "big": [<path>, …]}`: the
/// package's `buildMessage` is `JSON.parse` of this, so a `__proto__` key of
/// the body stays an own property (setting it through N-API would change the
/// object's prototype). Integers beyond ±(2^53 − 1), which a JS number would
/// round, are written as strings and listed in `big` (each a list of keys and
/// indexes) for the package to turn into BigInt: the body is exact.
#[napi(ts_args_type = "message: Record<string, unknown>")]
pub fn build_message_to_json(env: Env, message: Json) -> napi::Result<String> {
    guard(&env, || {
        let mut body = wa360::messages::build_body(&message.0)?;
        let mut big = Vec::new();
        mark_big_ints(&mut body, &mut Vec::new(), &mut big);
        let out = serde_json::json!({ "body": body, "big": big });
        serde_json::to_string(&out).map_err(|e| wa360::Error::Internal(e.to_string()))
    })
}

/// Replace integers beyond ±(2^53 − 1) by their decimal text, recording where.
fn mark_big_ints(v: &mut Value, at: &mut Vec<Value>, found: &mut Vec<Value>) {
    const SAFE: u64 = (1 << 53) - 1;
    match v {
        Value::Number(n) => {
            let big = n
                .as_i64()
                .map_or_else(|| n.as_u64().is_some(), |i| i.unsigned_abs() > SAFE);
            if big {
                *v = Value::String(n.to_string());
                found.push(Value::Array(at.clone()));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                at.push(Value::from(i));
                mark_big_ints(x, at, found);
                at.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                at.push(Value::String(k.clone()));
                mark_big_ints(x, at, found);
                at.pop();
            }
        }
        _ => {}
    }
}

/// Options shared by every send helper. (Declared for the TypeScript types;
/// read through own properties, unknown keys rejected.)
#[napi(object)]
#[allow(dead_code)]
#[derive(Default)]
pub struct SendOptions {
    /// Reply to this message (`context.message_id`).
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data`: comes back in the status webhooks.
    pub callback_data: Option<String>,
    /// Text only: render a link preview.
    pub preview_url: Option<bool>,
}

fn spec(to: Text, kind: &str, payload: Value, opts: Option<Json>) -> wa360::Result<Value> {
    let o = crate::own::options(opts, &["replyTo", "callbackData", "previewUrl"])?;
    let mut m = Map::new();
    m.insert("to".into(), Value::String(to.named("to")?));
    m.insert("type".into(), Value::String(kind.into()));
    m.insert(kind.into(), payload);
    if let Some(r) = crate::own::opt_str(&o, "replyTo")? {
        m.insert("reply_to".into(), Value::String(r));
    }
    if let Some(c) = crate::own::opt_str(&o, "callbackData")? {
        m.insert("callback_data".into(), Value::String(c));
    }
    if let Some(p) = crate::own::opt_bool(&o, "previewUrl")?
        && let Some(Value::Object(t)) = m.get_mut("text")
    {
        t.insert("preview_url".into(), Value::Bool(p));
    }
    Ok(Value::Object(m))
}

impl JsClient {
    fn send_spec<'env>(
        &self,
        env: &'env Env,
        spec: wa360::Result<Value>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move {
                let msg = wa360::messages::Message::from_json(&spec?)?;
                c.send(&msg).await
            },
            |_, r| Ok(SendResponse::from(r)),
        )
    }
}

#[napi]
impl JsClient {
    /// Send one message described in the neutral format, e.g.
    /// `{ to: '+15555550123', type: 'text', text: { body: 'hi' }, reply_to?, callback_data? }`.
    /// Invalid input rejects with `invalid_argument` before any request.
    #[napi(ts_args_type = "message: Record<string, unknown>")]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        message: Json,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, Ok(message.0))
    }

    /// Send a text message.
    #[napi(ts_args_type = "to: string, body: string, options?: SendOptions | undefined | null")]
    pub fn send_text<'env>(
        &self,
        env: &'env Env,
        to: Text,
        body: Text,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let s = body.named("text.body").and_then(|body| {
            let mut t = Map::new();
            t.insert("body".into(), Value::String(body));
            spec(to, "text", Value::Object(t), options)
        });
        self.send_spec(env, s)
    }

    /// Send an image, video, audio, document or sticker:
    /// `media` is `{ id }` (uploaded) or `{ link }`, with `caption` / `filename` where allowed.
    #[napi(
        ts_args_type = "to: string, kind: 'image' | 'video' | 'audio' | 'document' | 'sticker', media: { id?: string; link?: string; caption?: string; filename?: string }, options?: SendOptions | undefined | null"
    )]
    pub fn send_media<'env>(
        &self,
        env: &'env Env,
        to: Text,
        kind: Text,
        media: Json,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let s = kind
            .named("type")
            .and_then(|k| spec(to, &k, media.0, options));
        self.send_spec(env, s)
    }

    /// Send a location pin: `{ latitude, longitude, name?, address? }`.
    #[napi(
        ts_args_type = "to: string, location: { latitude: number; longitude: number; name?: string; address?: string }, options?: SendOptions | undefined | null"
    )]
    pub fn send_location<'env>(
        &self,
        env: &'env Env,
        to: Text,
        location: Json,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, spec(to, "location", location.0, options))
    }

    /// Send contact cards (the neutral `contacts` list).
    #[napi(
        ts_args_type = "to: string, contacts: Array<Record<string, unknown>>, options?: SendOptions | undefined | null"
    )]
    pub fn send_contacts<'env>(
        &self,
        env: &'env Env,
        to: Text,
        contacts: Json,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, spec(to, "contacts", contacts.0, options))
    }

    /// Send an interactive message (buttons, list, CTA URL, flow, …; the neutral `interactive` object).
    #[napi(
        ts_args_type = "to: string, interactive: Record<string, unknown>, options?: SendOptions | undefined | null"
    )]
    pub fn send_interactive<'env>(
        &self,
        env: &'env Env,
        to: Text,
        interactive: Json,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, spec(to, "interactive", interactive.0, options))
    }

    /// Send a template message (the neutral `template` object: name, language, components).
    #[napi(
        ts_args_type = "to: string, template: Record<string, unknown>, options?: SendOptions | undefined | null"
    )]
    pub fn send_template<'env>(
        &self,
        env: &'env Env,
        to: Text,
        template: Json,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, spec(to, "template", template.0, options))
    }

    /// React to a message with an emoji (an empty emoji removes the reaction).
    #[napi(
        ts_args_type = "to: string, messageId: string, emoji: string, options?: SendOptions | undefined | null"
    )]
    pub fn send_reaction<'env>(
        &self,
        env: &'env Env,
        to: Text,
        message_id: Text,
        emoji: Text,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let s = (|| {
            let mut r = Map::new();
            r.insert(
                "message_id".into(),
                Value::String(message_id.named("reaction.message_id")?),
            );
            r.insert(
                "emoji".into(),
                Value::String(emoji.named("reaction.emoji")?),
            );
            spec(to, "reaction", Value::Object(r), options)
        })();
        self.send_spec(env, s)
    }
}
