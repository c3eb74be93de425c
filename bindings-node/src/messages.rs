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

use crate::own::Json;

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

/// Options shared by every send helper.
#[napi(object)]
#[derive(Default)]
pub struct SendOptions {
    /// Reply to this message (`context.message_id`).
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data`: comes back in the status webhooks.
    pub callback_data: Option<String>,
    /// Text only: render a link preview.
    pub preview_url: Option<bool>,
}

fn spec(to: String, kind: &str, payload: Value, opts: Option<SendOptions>) -> Value {
    let mut m = Map::new();
    m.insert("to".into(), Value::String(to));
    m.insert("type".into(), Value::String(kind.into()));
    m.insert(kind.into(), payload);
    if let Some(o) = opts {
        if let Some(r) = o.reply_to {
            m.insert("reply_to".into(), Value::String(r));
        }
        if let Some(c) = o.callback_data {
            m.insert("callback_data".into(), Value::String(c));
        }
        if let (Some(p), Some(Value::Object(t))) = (o.preview_url, m.get_mut("text")) {
            t.insert("preview_url".into(), Value::Bool(p));
        }
    }
    Value::Object(m)
}

impl JsClient {
    fn send_spec<'env>(
        &self,
        env: &'env Env,
        spec: Value,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move {
                let msg = wa360::messages::Message::from_json(&spec)?;
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
        self.send_spec(env, message.0)
    }

    /// Send a text message.
    #[napi]
    pub fn send_text<'env>(
        &self,
        env: &'env Env,
        to: String,
        body: String,
        options: Option<SendOptions>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let mut t = Map::new();
        t.insert("body".into(), Value::String(body));
        self.send_spec(env, spec(to, "text", Value::Object(t), options))
    }

    /// Send an image, video, audio, document or sticker:
    /// `media` is `{ id }` (uploaded) or `{ link }`, with `caption` / `filename` where allowed.
    #[napi(
        ts_args_type = "to: string, kind: 'image' | 'video' | 'audio' | 'document' | 'sticker', media: { id?: string; link?: string; caption?: string; filename?: string }, options?: SendOptions | undefined | null"
    )]
    pub fn send_media<'env>(
        &self,
        env: &'env Env,
        to: String,
        kind: String,
        media: Json,
        options: Option<SendOptions>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, spec(to, &kind, media.0, options))
    }

    /// Send a location pin: `{ latitude, longitude, name?, address? }`.
    #[napi(
        ts_args_type = "to: string, location: { latitude: number; longitude: number; name?: string; address?: string }, options?: SendOptions | undefined | null"
    )]
    pub fn send_location<'env>(
        &self,
        env: &'env Env,
        to: String,
        location: Json,
        options: Option<SendOptions>,
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
        to: String,
        contacts: Json,
        options: Option<SendOptions>,
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
        to: String,
        interactive: Json,
        options: Option<SendOptions>,
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
        to: String,
        template: Json,
        options: Option<SendOptions>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        self.send_spec(env, spec(to, "template", template.0, options))
    }

    /// React to a message with an emoji (an empty emoji removes the reaction).
    #[napi]
    pub fn send_reaction<'env>(
        &self,
        env: &'env Env,
        to: String,
        message_id: String,
        emoji: String,
        options: Option<SendOptions>,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let mut r = Map::new();
        r.insert("message_id".into(), Value::String(message_id));
        r.insert("emoji".into(), Value::String(emoji));
        self.send_spec(env, spec(to, "reaction", Value::Object(r), options))
    }
}
