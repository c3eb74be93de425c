//! Text messages (docs/360dialog-api.md §4.1).

use serde::{Deserialize, Serialize};

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

    /// Check the limits of docs/360dialog-api.md §4.10.
    pub(crate) fn validate(&self) -> Result<()> {
        check_len("text.body", &self.body, 1, MAX_TEXT_BODY)
    }

    /// The wire object (after [`Text::validate`]).
    pub(crate) fn wire(&self) -> TextWire<'_> {
        TextWire {
            body: &self.body,
            preview_url: self.preview_url,
        }
    }

    #[cfg(test)]
    fn body_value(&self) -> Result<serde_json::Value> {
        self.validate()?;
        Ok(serde_json::to_value(self.wire()).unwrap_or_default())
    }
}

/// The wire `text` object.
#[derive(Serialize)]
pub(crate) struct TextWire<'a> {
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview_url: Option<bool>,
}

/// The object form of a text.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
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

use super::read::map_only;
map_only!(TextObj);

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
