//! Outbound messages for Python: a message is a dict in the neutral format
//! of `tests/conformance/message_build/README.md` (the same format in every
//! wa360 language), handed to `wa360::messages` for validation and the exact
//! wire body. The keyword helpers (`send_text`, `send_image`, …) are methods
//! of both clients defined here: each hands its arguments to the one core
//! function of its type (`wa360::messages::helpers`), which writes the neutral
//! description; Python assembles nothing.

use pyo3::prelude::*;
use serde_json::Value;
use wa360::messages::helpers::{self, Envelope};
use wa360::messages::{Message, build_body};

use crate::client::{PyAsyncClient, PyClient, PySendResponse};
use crate::convert::{py_to_value, value_to_py};
use crate::errors::{IntoPyResult, guard};

/// A message dict in the neutral format → a validated core [`Message`].
pub fn message_from_py(spec: &Bound<'_, PyAny>) -> wa360::Result<Message> {
    Message::from_json(&py_to_value(spec, "")?)
}

/// The exact `POST /messages` body for a neutral message dict (also
/// `{"type": "mark_read" | "typing", "message_id": …}`), validated.
#[pyfunction]
pub(crate) fn build_message<'py>(
    py: Python<'py>,
    message: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let body = py_to_value(message, "")
            .and_then(|v| build_body(&v))
            .py_err()?;
        value_to_py(py, &body)
    })
}

/// Add `KNOWN_MESSAGE_TYPES` (the core's list) to the native module.
pub fn add_tables(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let known = wa360::webhook::KNOWN_MESSAGE_TYPES.to_vec();
    m.add("KNOWN_MESSAGE_TYPES", known)?;
    Ok(())
}

/// An argument as JSON, named by its neutral path when it cannot be converted.
fn arg(o: &Bound<'_, PyAny>, path: &str) -> wa360::Result<Value> {
    py_to_value(o, path)
}

/// An optional keyword argument as JSON (`None` stays absent).
fn kw(o: Option<&Bound<'_, PyAny>>, path: &str) -> wa360::Result<Option<Value>> {
    o.map(|o| py_to_value(o, path)).transpose()
}

fn envelope(
    reply_to: Option<&Bound<'_, PyAny>>,
    callback_data: Option<&Bound<'_, PyAny>>,
) -> wa360::Result<Envelope> {
    Ok(Envelope {
        reply_to: kw(reply_to, "reply_to")?,
        callback_data: kw(callback_data, "callback_data")?,
    })
}

/// The send helpers of `Client` and `AsyncClient`, one entry each (written
/// once, applied to both classes): the positional arguments and the keyword
/// options, each with the neutral path its errors name, then the core builder
/// (`wa360::messages::helpers`), which is called with them in that order and
/// the envelope (`reply_to`, `callback_data`; `send_reaction` takes only
/// `callback_data`). Each method builds its message and sends it like `send`
/// (validated before any request). Names and keyword options are checked
/// against `tests/conformance/api_surface`.
macro_rules! with_send_helpers {
    ($then:ident!($cls:ident)) => {
        $then!(@class $cls;
            /// Send a text message (1..4096 characters).
            fn send_text(to: "to", body: "text.body"; preview_url: "text.preview_url") = text;
            /// Send an image: `media` is an uploaded media id or an https link.
            fn send_image(to: "to", media: "image"; caption: "image.caption") = image;
            /// Send a video: `media` is an uploaded media id or an https link.
            fn send_video(to: "to", media: "video"; caption: "video.caption") = video;
            /// Send an audio file: `media` is an uploaded media id or an https link.
            fn send_audio(to: "to", media: "audio";) = audio;
            /// Send a document: `media` is an uploaded media id or an https link.
            fn send_document(to: "to", media: "document"; caption: "document.caption", filename: "document.filename") = document;
            /// Send a sticker (webp): `media` is an uploaded media id or an https link.
            fn send_sticker(to: "to", media: "sticker";) = sticker;
            /// Send a location pin.
            fn send_location(to: "to", latitude: "location.latitude", longitude: "location.longitude"; name: "location.name", address: "location.address") = location;
            /// Send 1..5 contact cards (wire format: `name`, `phones`, `emails`, ...).
            fn send_contacts(to: "to", contacts: "contacts";) = contacts;
            /// React to a message with an emoji; an empty `emoji` removes the reaction.
            fn send_reaction(to: "to", message_id: "reaction.message_id", emoji: "reaction.emoji";) callback_data_only = reaction;
            /// Send up to 3 reply buttons, each `(id, title)` or `{"id", "title"}`.
            fn send_buttons(to: "to", body: "interactive.body", buttons: "interactive.buttons"; header: "interactive.header", footer: "interactive.footer") = buttons;
            /// Send a list message: `sections` of `{"title"?, "rows": [{"id", "title", ...}]}`.
            fn send_list(to: "to", body: "interactive.body", button: "interactive.button", sections: "interactive.sections"; header: "interactive.header", footer: "interactive.footer") = list;
            /// Send any interactive message given in the neutral format (`{"type": ...}`).
            fn send_interactive(to: "to", interactive: "interactive";) = interactive;
            /// Send an approved template. `body` is a list of positional parameters or a dict of
            /// named ones; `header` one parameter; `buttons` `{"sub_type", "index", ...}`.
            fn send_template(to: "to", name: "template.name", language: "template.language"; header: "template.header", body: "template.body", buttons: "template.buttons") = template;
        );
    };
}

/// The methods of [`with_send_helpers`] on one class: a `send_spec` that sends
/// a built description, and one `#[pymethods]` block per helper (PyO3 expands
/// no macro inside such a block).
macro_rules! send_helper_methods {
    (@class $cls:ident; $($(#[doc = $doc:literal])* fn $name:ident($($arg:ident: $path:literal),*; $($kw:ident: $kw_path:literal),*) $($only:ident)? = $build:ident;)*) => {
        impl $cls {
            fn send_spec<'py>(&self, py: Python<'py>, spec: wa360::Result<Value>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let msg = spec.and_then(|s| Message::from_json(&s)).py_err()?;
                    self.core.run(py, async move { c.send(&msg).await.map(|r| PySendResponse { inner: r }) })
                })
            }
        }
        $(send_helper_methods!(@one $cls, [$($doc)*] $name($($arg: $path),*; $($kw: $kw_path),*) $($only)? = $build);)*
    };
    (@one $cls:ident, [$($doc:literal)*] $name:ident($($arg:ident: $path:literal),*; $($kw:ident: $kw_path:literal),*) = $build:ident) => {
        #[pymethods]
        impl $cls {
            $(#[doc = $doc])*
            #[pyo3(signature = ($($arg,)* *, $($kw = None,)* reply_to = None, callback_data = None))]
            #[allow(clippy::too_many_arguments)]
            fn $name<'py>(&self, py: Python<'py>, $($arg: &Bound<'py, PyAny>,)* $($kw: Option<&Bound<'py, PyAny>>,)* reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::$build($(arg($arg, $path)?,)* $(kw($kw, $kw_path)?,)* envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }
        }
    };
    (@one $cls:ident, [$($doc:literal)*] $name:ident($($arg:ident: $path:literal),*; $($kw:ident: $kw_path:literal),*) callback_data_only = $build:ident) => {
        #[pymethods]
        impl $cls {
            $(#[doc = $doc])*
            #[pyo3(signature = ($($arg,)* *, $($kw = None,)* callback_data = None))]
            fn $name<'py>(&self, py: Python<'py>, $($arg: &Bound<'py, PyAny>,)* $($kw: Option<&Bound<'py, PyAny>>,)* callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::$build($(arg($arg, $path)?,)* $(kw($kw, $kw_path)?,)* envelope(None, callback_data)?)))();
                self.send_spec(py, spec)
            }
        }
    };
}

with_send_helpers!(send_helper_methods!(PyClient));
with_send_helpers!(send_helper_methods!(PyAsyncClient));
