//! Outbound messages: `send(message)` with the neutral description (the
//! format of `tests/conformance/message_build/*/input.json`), one helper per
//! message type (`sendText`, `sendImage`, … as Python's `send_text`,
//! `send_image`, …), and `buildMessage` (the exact wire body, no request).
//!
//! Each helper hands its arguments to the core's one builder of its type
//! (`wa360::messages::helpers`), which writes the neutral description;
//! validation (docs/360dialog-api.md §4.10) happens in the core, before any
//! request. The options objects are Python's keyword options in camelCase
//! (`tests/conformance/api_surface/README.md`); unknown keys are rejected.

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use serde_json::{Map, Value};
use wa360::messages::helpers::{self, Envelope};

use crate::own::{Json, JsonArg, Text};

use crate::client::JsClient;
use crate::errors::{guard, spawn};
use crate::types::SendResponse;

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

/// The options object of a helper: its own keys (`known`, camelCase) plus
/// `replyTo` / `callbackData` where `envelope` lists them.
struct Opts(Map<String, Value>);

impl Opts {
    fn read(o: Option<Json>, own: &[&str], envelope: &[&str]) -> wa360::Result<Opts> {
        let known: Vec<&str> = own.iter().chain(envelope).copied().collect();
        crate::own::options(o, &known).map(Opts)
    }
    /// A structured option, as given (the core reader checks it).
    fn take(&mut self, k: &str) -> Option<Value> {
        self.0.remove(k)
    }
    /// A string option, checked here so the error names the key as written.
    fn text(&mut self, k: &str) -> wa360::Result<Option<Value>> {
        Ok(crate::own::opt_str(&self.0, k)?.map(Value::String))
    }
    /// A boolean option, checked here so the error names the key as written.
    fn flag(&mut self, k: &str) -> wa360::Result<Option<Value>> {
        Ok(crate::own::opt_bool(&self.0, k)?.map(Value::Bool))
    }
    fn envelope(&mut self) -> wa360::Result<Envelope> {
        Ok(Envelope {
            reply_to: self.text("replyTo")?,
            callback_data: self.text("callbackData")?,
        })
    }
}

/// A string argument, named by its neutral path when it is not a string.
fn text(t: Text, path: &str) -> wa360::Result<Value> {
    t.named(path).map(Value::String)
}

const BOTH: &[&str] = &["replyTo", "callbackData"];

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
}

/// The send helpers, one entry each: the doc and TypeScript arguments of the
/// generated `#[napi]` method, its positional arguments, the option keys it
/// takes of its own and of the envelope, and the call of its core builder
/// (`|o|` names the options object). The docs are `#[doc = "…"]` because a
/// `///` passed through `macro_rules!` reaches napi as a raw string, which its
/// `index.d.ts` writer would print with its `r"` prefix. Every method reads its options with
/// [`Opts::read`] and sends with [`JsClient::send_spec`]; written once here.
macro_rules! send_helpers {
    ($(
        $(#[doc = $doc:literal])*
        #[ts($ts:literal)]
        fn $name:ident($($arg:ident: $ty:ident),*) own $own:expr, envelope $env:expr,
            |$o:ident| $build:expr;
    )*) => {
        #[napi]
        impl JsClient {
            $(
                $(#[doc = $doc])*
                #[napi(ts_args_type = $ts)]
                pub fn $name<'env>(
                    &self,
                    env: &'env Env,
                    $($arg: $ty,)*
                    options: Option<Json>,
                ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
                    let s = Opts::read(options, $own, $env).and_then(|mut $o| Ok($build));
                    self.send_spec(env, s)
                }
            )*
        }
    };
}

send_helpers! {
    #[doc = " Send a text message (1..4096 characters)."]
    #[ts("to: string, body: string, options?: { previewUrl?: boolean; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_text(to: Text, body: Text) own &["previewUrl"], envelope BOTH,
        |o| helpers::text(text(to, "to")?, text(body, "text.body")?, o.flag("previewUrl")?, o.envelope()?);

    #[doc = " Send an image: `media` is an uploaded media id or an https link."]
    #[ts("to: string, media: string, options?: { caption?: string; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_image(to: Text, media: JsonArg) own &["caption"], envelope BOTH,
        |o| helpers::image(text(to, "to")?, media.named("image")?, o.text("caption")?, o.envelope()?);

    #[doc = " Send a video: `media` is an uploaded media id or an https link."]
    #[ts("to: string, media: string, options?: { caption?: string; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_video(to: Text, media: JsonArg) own &["caption"], envelope BOTH,
        |o| helpers::video(text(to, "to")?, media.named("video")?, o.text("caption")?, o.envelope()?);

    #[doc = " Send an audio file: `media` is an uploaded media id or an https link."]
    #[ts("to: string, media: string, options?: SendOptions | undefined | null")]
    fn send_audio(to: Text, media: JsonArg) own &[], envelope BOTH,
        |o| helpers::audio(text(to, "to")?, media.named("audio")?, o.envelope()?);

    #[doc = " Send a document: `media` is an uploaded media id or an https link."]
    #[ts("to: string, media: string, options?: { caption?: string; filename?: string; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_document(to: Text, media: JsonArg) own &["caption", "filename"], envelope BOTH,
        |o| helpers::document(text(to, "to")?, media.named("document")?, o.text("caption")?, o.text("filename")?, o.envelope()?);

    #[doc = " Send a sticker (webp): `media` is an uploaded media id or an https link."]
    #[ts("to: string, media: string, options?: SendOptions | undefined | null")]
    fn send_sticker(to: Text, media: JsonArg) own &[], envelope BOTH,
        |o| helpers::sticker(text(to, "to")?, media.named("sticker")?, o.envelope()?);

    #[doc = " Send a location pin."]
    #[ts("to: string, latitude: number, longitude: number, options?: { name?: string; address?: string; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_location(to: Text, latitude: JsonArg, longitude: JsonArg) own &["name", "address"], envelope BOTH,
        |o| helpers::location(text(to, "to")?, latitude.named("location.latitude")?, longitude.named("location.longitude")?, o.text("name")?, o.text("address")?, o.envelope()?);

    #[doc = " Send 1..5 contact cards (wire format: `name`, `phones`, `emails`, …)."]
    #[ts("to: string, contacts: Array<Record<string, unknown>>, options?: SendOptions | undefined | null")]
    fn send_contacts(to: Text, contacts: JsonArg) own &[], envelope BOTH,
        |o| helpers::contacts(text(to, "to")?, contacts.named("contacts")?, o.envelope()?);

    #[doc = " React to a message with an emoji; an empty emoji removes the reaction."]
    #[ts("to: string, messageId: string, emoji: string, options?: { callbackData?: string } | undefined | null")]
    fn send_reaction(to: Text, message_id: Text, emoji: Text) own &[], envelope &["callbackData"],
        |o| helpers::reaction(text(to, "to")?, text(message_id, "reaction.message_id")?, text(emoji, "reaction.emoji")?, o.envelope()?);

    #[doc = " Send up to 3 reply buttons, each `[id, title]` or `{ id, title }`."]
    #[ts("to: string, body: string, buttons: Array<[string, string] | { id: string; title: string }>, options?: { header?: string | Record<string, unknown>; footer?: string; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_buttons(to: Text, body: Text, buttons: JsonArg) own &["header", "footer"], envelope BOTH,
        |o| helpers::buttons(text(to, "to")?, text(body, "interactive.body")?, buttons.named("interactive.buttons")?, o.take("header"), o.text("footer")?, o.envelope()?);

    #[doc = " Send a list message: `sections` of `{ title?, rows: [{ id, title, description? }] }`."]
    #[ts("to: string, body: string, button: string, sections: Array<Record<string, unknown>>, options?: { header?: string | Record<string, unknown>; footer?: string; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_list(to: Text, body: Text, button: Text, sections: JsonArg) own &["header", "footer"], envelope BOTH,
        |o| helpers::list(text(to, "to")?, text(body, "interactive.body")?, text(button, "interactive.button")?, sections.named("interactive.sections")?, o.take("header"), o.text("footer")?, o.envelope()?);

    #[doc = " Send any interactive message in the neutral format (`{ type: 'button' | 'list' | 'cta_url' | 'flow' | … }`)."]
    #[ts("to: string, interactive: Record<string, unknown>, options?: SendOptions | undefined | null")]
    fn send_interactive(to: Text, interactive: JsonArg) own &[], envelope BOTH,
        |o| helpers::interactive(text(to, "to")?, interactive.named("interactive")?, o.envelope()?);

    #[doc = " Send an approved template. `body` is a list of positional parameters or an"]
    #[doc = " object of named ones; `header` one parameter; `buttons` `{ sub_type, index, … }`."]
    #[ts("to: string, name: string, language: string | Record<string, unknown>, options?: { header?: unknown; body?: unknown[] | Record<string, unknown>; buttons?: Array<Record<string, unknown>>; replyTo?: string; callbackData?: string } | undefined | null")]
    fn send_template(to: Text, name: Text, language: JsonArg) own &["header", "body", "buttons"], envelope BOTH,
        |o| helpers::template(text(to, "to")?, text(name, "template.name")?, language.named("template.language")?, o.take("header"), o.take("body"), o.take("buttons"), o.envelope()?);
}

/// The inbound message types wa360 types (the core's list, behind `isKnownMessage`).
#[napi]
pub fn known_message_types() -> Vec<&'static str> {
    wa360::webhook::KNOWN_MESSAGE_TYPES.to_vec()
}
