//! Template messages (docs/360dialog-api.md §4.8): name, language (always sent with
//! `policy: deterministic`) and the parameters of the header, body and buttons.

use serde_json::{Map, Value};

use super::common::optional_setters;
use super::interactive::ProductSection;
use super::location::Location;
use super::media::Media;
#[cfg(test)]
use crate::Result;

mod read;
mod validate;
mod wire;
pub(crate) use read::TemplateSpec;
pub(crate) use wire::TemplateWire;

/// Maximum header text parameter, in characters.
pub const MAX_HEADER_PARAM: usize = 60;
/// Maximum body text parameter when other components are supplied.
pub const MAX_BODY_PARAM: usize = 1024;
/// Maximum body text parameter when the body is the only component.
pub const MAX_BODY_ONLY_PARAM: usize = 32768;
/// Highest button index.
pub const MAX_BUTTON_INDEX: u32 = 9;

/// The value of one template parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `text` (header ≤ 60, body ≤ 1024 or ≤ 32768 when body-only).
    Text(String),
    /// `currency`: amount × 1000 as an integer, ISO 4217 code, fallback text.
    Currency {
        /// Text shown by the Cloud API.
        fallback_value: String,
        /// ISO 4217 code, e.g. `EUR`.
        code: String,
        /// Amount × 1000.
        amount_1000: i64,
    },
    /// `date_time` (the Cloud API always shows the fallback value).
    DateTime(String),
    /// `image` (header only).
    Image(Media),
    /// `video` (header only).
    Video(Media),
    /// `document` (header only; may carry a file name).
    Document(Media),
    /// `location` (header only; name and address required).
    Location(Location),
}

impl ParamValue {
    fn kind(&self) -> &'static str {
        match self {
            ParamValue::Text(_) => "text",
            ParamValue::Currency { .. } => "currency",
            ParamValue::DateTime(_) => "date_time",
            ParamValue::Image(_) => "image",
            ParamValue::Video(_) => "video",
            ParamValue::Document(_) => "document",
            ParamValue::Location(_) => "location",
        }
    }
}

/// One header or body parameter, positional or named.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// `parameter_name` for named templates (lowercase letters, digits, `_`).
    pub name: Option<String>,
    /// The value.
    pub value: ParamValue,
}

impl Parameter {
    fn of(value: ParamValue) -> Self {
        Parameter { name: None, value }
    }

    /// A text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Parameter::of(ParamValue::Text(text.into()))
    }

    /// A currency parameter (`amount_1000` = amount × 1000).
    pub fn currency(
        fallback_value: impl Into<String>,
        code: impl Into<String>,
        amount_1000: i64,
    ) -> Self {
        Parameter::of(ParamValue::Currency {
            fallback_value: fallback_value.into(),
            code: code.into(),
            amount_1000,
        })
    }

    /// A date/time parameter (shown as `fallback_value`).
    pub fn date_time(fallback_value: impl Into<String>) -> Self {
        Parameter::of(ParamValue::DateTime(fallback_value.into()))
    }

    /// An image header parameter.
    pub fn image(media: Media) -> Self {
        Parameter::of(ParamValue::Image(media))
    }

    /// A video header parameter.
    pub fn video(media: Media) -> Self {
        Parameter::of(ParamValue::Video(media))
    }

    /// A document header parameter.
    pub fn document(media: Media) -> Self {
        Parameter::of(ParamValue::Document(media))
    }

    /// A location header parameter (name and address required).
    pub fn location(location: Location) -> Self {
        Parameter::of(ParamValue::Location(location))
    }

    optional_setters! {
        /// Make this a named parameter.
        named => name;
    }
}

/// The parameter of a template button.
#[derive(Debug, Clone, PartialEq)]
pub enum ButtonParam {
    /// `quick_reply`: the payload echoed back in the webhook.
    QuickReply(String),
    /// `url`: the suffix appended to the template's base URL (URL-encode it).
    Url(String),
    /// `copy_code`: the coupon code.
    CopyCode(String),
    /// `flow`: token and initial data of the flow.
    Flow {
        /// `flow_token`.
        flow_token: Option<String>,
        /// `flow_action_data`.
        flow_action_data: Option<Map<String, Value>>,
    },
    /// `catalog`: the thumbnail product.
    Catalog {
        /// `thumbnail_product_retailer_id`.
        thumbnail_product_retailer_id: String,
    },
    /// `mpm` (multi-product message): the thumbnail product and the sections of products
    /// shown, with the rules of an interactive product list (1–10 sections, 1–30 products).
    Mpm {
        /// `thumbnail_product_retailer_id`.
        thumbnail_product_retailer_id: String,
        /// `sections`.
        sections: Vec<ProductSection>,
    },
}

impl ButtonParam {
    fn sub_type(&self) -> &'static str {
        match self {
            ButtonParam::QuickReply(_) => "quick_reply",
            ButtonParam::Url(_) => "url",
            ButtonParam::CopyCode(_) => "copy_code",
            ButtonParam::Flow { .. } => "flow",
            ButtonParam::Catalog { .. } => "catalog",
            ButtonParam::Mpm { .. } => "mpm",
        }
    }
}

/// One button component: the button's 0-based position and its parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateButton {
    /// Position of the button in the template, 0..9.
    pub index: u32,
    /// The parameter.
    pub param: ButtonParam,
}

impl TemplateButton {
    /// A quick-reply button payload.
    pub fn quick_reply(index: u32, payload: impl Into<String>) -> Self {
        TemplateButton {
            index,
            param: ButtonParam::QuickReply(payload.into()),
        }
    }

    /// A URL button suffix.
    pub fn url(index: u32, suffix: impl Into<String>) -> Self {
        TemplateButton {
            index,
            param: ButtonParam::Url(suffix.into()),
        }
    }

    /// A copy-code button's coupon code.
    pub fn copy_code(index: u32, code: impl Into<String>) -> Self {
        TemplateButton {
            index,
            param: ButtonParam::CopyCode(code.into()),
        }
    }

    /// A multi-product (`mpm`) button: the thumbnail product and the sections shown.
    pub fn mpm(
        index: u32,
        thumbnail_product_retailer_id: impl Into<String>,
        sections: Vec<ProductSection>,
    ) -> Self {
        TemplateButton {
            index,
            param: ButtonParam::Mpm {
                thumbnail_product_retailer_id: thumbnail_product_retailer_id.into(),
                sections,
            },
        }
    }

    /// A flow button.
    pub fn flow(
        index: u32,
        flow_token: Option<String>,
        flow_action_data: Option<Map<String, Value>>,
    ) -> Self {
        TemplateButton {
            index,
            param: ButtonParam::Flow {
                flow_token,
                flow_action_data,
            },
        }
    }
}

/// A template message.
///
/// ```
/// use wa360::messages::{Parameter, Template, TemplateButton};
/// let t = Template::new("order_update", "en_US")
///     .body(vec![Parameter::text("Maya"), Parameter::text("4471")])
///     .button(TemplateButton::url(0, "4471"));
/// assert_eq!(t.body.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Template name.
    pub name: String,
    /// Language code, e.g. `en_US` (sent with `policy: deterministic`).
    pub language: String,
    /// Header parameter, if the header takes one.
    pub header: Option<Parameter>,
    /// Body parameters, in order.
    pub body: Vec<Parameter>,
    /// Button parameters.
    pub buttons: Vec<TemplateButton>,
}

impl Template {
    /// A template without parameters.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Template {
            name: name.into(),
            language: language.into(),
            header: None,
            body: Vec::new(),
            buttons: Vec::new(),
        }
    }

    /// Set the header parameter.
    pub fn header(mut self, p: Parameter) -> Self {
        self.header = Some(p);
        self
    }

    /// Set the body parameters.
    pub fn body(mut self, params: Vec<Parameter>) -> Self {
        self.body = params;
        self
    }

    /// Add a body parameter.
    pub fn body_param(mut self, p: Parameter) -> Self {
        self.body.push(p);
        self
    }

    /// Add a button parameter.
    pub fn button(mut self, b: TemplateButton) -> Self {
        self.buttons.push(b);
        self
    }

    #[cfg(test)]
    fn body_value(&self) -> Result<Value> {
        self.validate()?;
        crate::messages::wire::to_value(&self.wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_limit_depends_on_other_components() {
        let long = "a".repeat(MAX_BODY_PARAM + 1);
        let body_only = Template::new("t", "en").body(vec![Parameter::text(long.clone())]);
        assert!(body_only.body_value().is_ok());
        let with_button = body_only.clone().button(TemplateButton::url(0, "x"));
        let e = with_button.body_value().unwrap_err();
        assert_eq!(e.field(), Some("template.components[0].parameters[0].text"));
        let at_max =
            Template::new("t", "en").body(vec![Parameter::text("a".repeat(MAX_BODY_ONLY_PARAM))]);
        assert!(at_max.body_value().is_ok());
        let over = Template::new("t", "en")
            .body(vec![Parameter::text("a".repeat(MAX_BODY_ONLY_PARAM + 1))]);
        assert!(over.body_value().is_err());
    }

    #[test]
    fn header_text_and_mixing() {
        let t = Template::new("t", "en").header(Parameter::text("h".repeat(61)));
        let e = t.body_value().unwrap_err();
        assert_eq!(e.field(), Some("template.components[0].parameters[0].text"));
        let t = Template::new("t", "en")
            .header(Parameter::text("h").named("title"))
            .body(vec![Parameter::text("x")]);
        let e = t.body_value().unwrap_err();
        assert_eq!(
            e.field(),
            Some("template.components[1].parameters[0].parameter_name")
        );
    }

    #[test]
    fn button_index_rules() {
        let t = Template::new("t", "en").button(TemplateButton::url(10, "x"));
        assert_eq!(
            t.body_value().unwrap_err().field(),
            Some("template.components[0].index")
        );
        let t = Template::new("t", "en")
            .button(TemplateButton::url(1, "x"))
            .button(TemplateButton::quick_reply(1, "y"));
        assert_eq!(
            t.body_value().unwrap_err().field(),
            Some("template.components[1].index")
        );
        let t = Template::new("t", "en").button(TemplateButton::url(9, "x"));
        assert_eq!(t.body_value().unwrap()["components"][0]["index"], "9");
    }

    #[test]
    fn language_policy_always_sent() {
        let v = Template::new("hello_world", "en_US").body_value().unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "hello_world", "language": {"code": "en_US", "policy": "deterministic"}})
        );
    }
}
