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
fn build_message<'py>(py: Python<'py>, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let body = py_to_value(message, "")
            .and_then(|v| build_body(&v))
            .py_err()?;
        value_to_py(py, &body)
    })
}

/// Register the message helpers on the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_message, m)?)?;
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

/// The send helpers of `Client` and `AsyncClient` (a second `#[pymethods]`
/// block per class): each builds its message with `wa360::messages::helpers`
/// and sends it like `send` (validated before any request). Their names and
/// keyword options are checked against `tests/conformance/api_surface`.
macro_rules! send_helpers {
    ($cls:ident) => {
        impl $cls {
            fn send_spec<'py>(&self, py: Python<'py>, spec: wa360::Result<Value>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let msg = spec.and_then(|s| Message::from_json(&s)).py_err()?;
                    self.core.run(py, async move { c.send(&msg).await.map(|r| PySendResponse { inner: r }) })
                })
            }
        }

        #[pymethods]
        impl $cls {
            /// Send a text message (1..4096 characters).
            #[pyo3(signature = (to, body, *, preview_url = None, reply_to = None, callback_data = None))]
            fn send_text<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, body: &Bound<'py, PyAny>, preview_url: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::text(arg(to, "to")?, arg(body, "text.body")?, kw(preview_url, "text.preview_url")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send an image: `media` is an uploaded media id or an https link.
            #[pyo3(signature = (to, media, *, caption = None, reply_to = None, callback_data = None))]
            fn send_image<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, media: &Bound<'py, PyAny>, caption: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::image(arg(to, "to")?, arg(media, "image")?, kw(caption, "image.caption")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send a video: `media` is an uploaded media id or an https link.
            #[pyo3(signature = (to, media, *, caption = None, reply_to = None, callback_data = None))]
            fn send_video<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, media: &Bound<'py, PyAny>, caption: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::video(arg(to, "to")?, arg(media, "video")?, kw(caption, "video.caption")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send an audio file: `media` is an uploaded media id or an https link.
            #[pyo3(signature = (to, media, *, reply_to = None, callback_data = None))]
            fn send_audio<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, media: &Bound<'py, PyAny>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::audio(arg(to, "to")?, arg(media, "audio")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send a document: `media` is an uploaded media id or an https link.
            #[pyo3(signature = (to, media, *, caption = None, filename = None, reply_to = None, callback_data = None))]
            #[allow(clippy::too_many_arguments)]
            fn send_document<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, media: &Bound<'py, PyAny>, caption: Option<&Bound<'py, PyAny>>, filename: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::document(arg(to, "to")?, arg(media, "document")?, kw(caption, "document.caption")?, kw(filename, "document.filename")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send a sticker (webp): `media` is an uploaded media id or an https link.
            #[pyo3(signature = (to, media, *, reply_to = None, callback_data = None))]
            fn send_sticker<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, media: &Bound<'py, PyAny>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::sticker(arg(to, "to")?, arg(media, "sticker")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send a location pin.
            #[pyo3(signature = (to, latitude, longitude, *, name = None, address = None, reply_to = None, callback_data = None))]
            #[allow(clippy::too_many_arguments)]
            fn send_location<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, latitude: &Bound<'py, PyAny>, longitude: &Bound<'py, PyAny>, name: Option<&Bound<'py, PyAny>>, address: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::location(arg(to, "to")?, arg(latitude, "location.latitude")?, arg(longitude, "location.longitude")?, kw(name, "location.name")?, kw(address, "location.address")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send 1..5 contact cards (wire format: `name`, `phones`, `emails`, ...).
            #[pyo3(signature = (to, contacts, *, reply_to = None, callback_data = None))]
            fn send_contacts<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, contacts: &Bound<'py, PyAny>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::contacts(arg(to, "to")?, arg(contacts, "contacts")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// React to a message with an emoji; an empty `emoji` removes the reaction.
            #[pyo3(signature = (to, message_id, emoji, *, callback_data = None))]
            fn send_reaction<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, message_id: &Bound<'py, PyAny>, emoji: &Bound<'py, PyAny>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::reaction(arg(to, "to")?, arg(message_id, "reaction.message_id")?, arg(emoji, "reaction.emoji")?, envelope(None, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send up to 3 reply buttons, each `(id, title)` or `{"id", "title"}`.
            #[pyo3(signature = (to, body, buttons, *, header = None, footer = None, reply_to = None, callback_data = None))]
            #[allow(clippy::too_many_arguments)]
            fn send_buttons<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, body: &Bound<'py, PyAny>, buttons: &Bound<'py, PyAny>, header: Option<&Bound<'py, PyAny>>, footer: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::buttons(arg(to, "to")?, arg(body, "interactive.body")?, arg(buttons, "interactive.buttons")?, kw(header, "interactive.header")?, kw(footer, "interactive.footer")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send a list message: `sections` of `{"title"?, "rows": [{"id", "title", ...}]}`.
            #[pyo3(signature = (to, body, button, sections, *, header = None, footer = None, reply_to = None, callback_data = None))]
            #[allow(clippy::too_many_arguments)]
            fn send_list<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, body: &Bound<'py, PyAny>, button: &Bound<'py, PyAny>, sections: &Bound<'py, PyAny>, header: Option<&Bound<'py, PyAny>>, footer: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::list(arg(to, "to")?, arg(body, "interactive.body")?, arg(button, "interactive.button")?, arg(sections, "interactive.sections")?, kw(header, "interactive.header")?, kw(footer, "interactive.footer")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send any interactive message given in the neutral format (`{"type": ...}`).
            #[pyo3(signature = (to, interactive, *, reply_to = None, callback_data = None))]
            fn send_interactive<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, interactive: &Bound<'py, PyAny>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::interactive(arg(to, "to")?, arg(interactive, "interactive")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }

            /// Send an approved template. `body` is a list of positional parameters or a dict of
            /// named ones; `header` one parameter; `buttons` `{"sub_type", "index", ...}`.
            #[pyo3(signature = (to, name, language, *, header = None, body = None, buttons = None, reply_to = None, callback_data = None))]
            #[allow(clippy::too_many_arguments)]
            fn send_template<'py>(&self, py: Python<'py>, to: &Bound<'py, PyAny>, name: &Bound<'py, PyAny>, language: &Bound<'py, PyAny>, header: Option<&Bound<'py, PyAny>>, body: Option<&Bound<'py, PyAny>>, buttons: Option<&Bound<'py, PyAny>>, reply_to: Option<&Bound<'py, PyAny>>, callback_data: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
                let spec = (|| Ok(helpers::template(arg(to, "to")?, arg(name, "template.name")?, arg(language, "template.language")?, kw(header, "template.header")?, kw(body, "template.body")?, kw(buttons, "template.buttons")?, envelope(reply_to, callback_data)?)))();
                self.send_spec(py, spec)
            }
        }
    };
}

send_helpers!(PyClient);
send_helpers!(PyAsyncClient);
