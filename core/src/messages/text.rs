//! Text messages (docs/360dialog-api.md §4.1).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::check_len;
use super::read::{Expecting, StrOr};
use crate::Result;

/// Maximum text body length, in characters.
pub const MAX_TEXT_BODY: usize = 4096;

/// A text message: a body of 1..4096 characters and an optional link preview.
///
/// Neutral form: `"text": "hello"` or `"text": {"body": "hello", "preview_url": true}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "StrOr<TextObj>")]
pub struct Text {
    /// The message text.
    pub body: String,
    /// Render a preview of the first URL in the body. `None` leaves the field
    /// out of the wire body (Meta's default is `false`).
    pub preview_url: Option<bool>,
}

impl Text {
    /// A text body without an explicit `preview_url`.
    pub fn new(body: impl Into<String>) -> Self {
        Text {
            body: body.into(),
            preview_url: None,
        }
    }

    pub(crate) fn body_value(&self) -> Result<Value> {
        check_len("text.body", &self.body, 1, MAX_TEXT_BODY)?;
        let mut m = Map::new();
        m.insert("body".into(), Value::String(self.body.clone()));
        if let Some(p) = self.preview_url {
            m.insert("preview_url".into(), Value::Bool(p));
        }
        Ok(Value::Object(m))
    }
}

/// The object form of a text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextObj {
    body: String,
    preview_url: Option<bool>,
}

impl Expecting for TextObj {}

impl From<StrOr<TextObj>> for Text {
    fn from(v: StrOr<TextObj>) -> Text {
        match v {
            StrOr::Str(body) => Text::new(body),
            StrOr::Obj(o) => Text {
                body: o.body,
                preview_url: o.preview_url,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_limits() {
        assert!(Text::new("a".repeat(MAX_TEXT_BODY)).body_value().is_ok());
        let e = Text::new("a".repeat(MAX_TEXT_BODY + 1))
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("text.body"));
        assert!(e.to_string().contains("at most 4096 characters (got 4097)"));
        // 4096 emoji pass: counted as scalar values, not UTF-16 units.
        assert!(Text::new("😀".repeat(MAX_TEXT_BODY)).body_value().is_ok());
        let e = Text::new("").body_value().unwrap_err();
        assert!(e.to_string().contains("must not be empty"));
    }
}
