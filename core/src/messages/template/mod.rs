//! Template messages (docs/360dialog-api.md §4.8): name, language (always sent with
//! `policy: deterministic`) and the parameters of the header, body and buttons.

use serde_json::{Map, Value};

use super::common::{check_len, check_non_empty, idx, join};
use super::location::Location;
use super::media::Media;
use crate::{Error, Result};

mod read;
pub(crate) use read::TemplateSpec;

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

    /// Make this a named parameter.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn to_value(
        &self,
        path: &str,
        max_text: usize,
        allowed: &[&str],
        place: &str,
    ) -> Result<Value> {
        let kind = self.value.kind();
        if !allowed.contains(&kind) {
            return Err(Error::invalid(
                join(path, "type"),
                format!(
                    "a {place} parameter must be one of {} (got {kind})",
                    allowed.join(", ")
                ),
            ));
        }
        let mut m = Map::new();
        m.insert("type".into(), Value::String(kind.into()));
        if let Some(n) = &self.name {
            let f = join(path, "parameter_name");
            check_non_empty(&f, n)?;
            if !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(Error::invalid(
                    f,
                    "must hold only lowercase letters a-z, digits and '_'",
                ));
            }
            m.insert("parameter_name".into(), Value::String(n.clone()));
        }
        let no_caption = Some("in a template parameter");
        let v = match &self.value {
            ParamValue::Text(t) => {
                check_len(&join(path, "text"), t, 1, max_text)?;
                Value::String(t.clone())
            }
            ParamValue::Currency {
                fallback_value,
                code,
                amount_1000,
            } => {
                let cp = join(path, "currency");
                check_non_empty(&join(&cp, "fallback_value"), fallback_value)?;
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(Error::invalid(
                        join(&cp, "code"),
                        format!("must be an ISO 4217 code of 3 upper-case letters (got {code:?})"),
                    ));
                }
                let mut c = Map::new();
                c.insert(
                    "fallback_value".into(),
                    Value::String(fallback_value.clone()),
                );
                c.insert("code".into(), Value::String(code.clone()));
                c.insert("amount_1000".into(), Value::from(*amount_1000));
                Value::Object(c)
            }
            ParamValue::DateTime(f) => {
                check_non_empty(&join(path, "date_time.fallback_value"), f)?;
                let mut d = Map::new();
                d.insert("fallback_value".into(), Value::String(f.clone()));
                Value::Object(d)
            }
            ParamValue::Image(media) => {
                media.to_value(&join(path, "image"), no_caption, Some("on an image"))?
            }
            ParamValue::Video(media) => {
                media.to_value(&join(path, "video"), no_caption, Some("on a video"))?
            }
            ParamValue::Document(media) => {
                media.to_value(&join(path, "document"), no_caption, None)?
            }
            ParamValue::Location(l) => l.to_value(&join(path, "location"), true)?,
        };
        m.insert(kind.into(), v);
        Ok(Value::Object(m))
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
}

impl ButtonParam {
    fn sub_type(&self) -> &'static str {
        match self {
            ButtonParam::QuickReply(_) => "quick_reply",
            ButtonParam::Url(_) => "url",
            ButtonParam::CopyCode(_) => "copy_code",
            ButtonParam::Flow { .. } => "flow",
            ButtonParam::Catalog { .. } => "catalog",
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

    fn to_value(&self, path: &str) -> Result<Value> {
        if self.index > MAX_BUTTON_INDEX {
            return Err(Error::invalid(
                join(path, "index"),
                format!("must be 0 to 9 (got {})", self.index),
            ));
        }
        let pp = idx(&join(path, "parameters"), 0);
        let mut p = Map::new();
        let (t, key, v) = match &self.param {
            ButtonParam::QuickReply(s) => {
                check_non_empty(&join(&pp, "payload"), s)?;
                ("payload", "payload", Value::String(s.clone()))
            }
            ButtonParam::Url(s) => {
                check_non_empty(&join(&pp, "text"), s)?;
                ("text", "text", Value::String(s.clone()))
            }
            ButtonParam::CopyCode(s) => {
                check_non_empty(&join(&pp, "coupon_code"), s)?;
                ("coupon_code", "coupon_code", Value::String(s.clone()))
            }
            ButtonParam::Flow {
                flow_token,
                flow_action_data,
            } => {
                let mut a = Map::new();
                if let Some(tok) = flow_token {
                    check_non_empty(&join(&pp, "action.flow_token"), tok)?;
                    a.insert("flow_token".into(), Value::String(tok.clone()));
                }
                if let Some(d) = flow_action_data {
                    a.insert("flow_action_data".into(), Value::Object(d.clone()));
                }
                ("action", "action", Value::Object(a))
            }
            ButtonParam::Catalog {
                thumbnail_product_retailer_id,
            } => {
                check_non_empty(
                    &join(&pp, "action.thumbnail_product_retailer_id"),
                    thumbnail_product_retailer_id,
                )?;
                let mut a = Map::new();
                a.insert(
                    "thumbnail_product_retailer_id".into(),
                    Value::String(thumbnail_product_retailer_id.clone()),
                );
                ("action", "action", Value::Object(a))
            }
        };
        p.insert("type".into(), Value::String(t.into()));
        p.insert(key.into(), v);
        let mut m = Map::new();
        m.insert("type".into(), Value::String("button".into()));
        m.insert(
            "sub_type".into(),
            Value::String(self.param.sub_type().into()),
        );
        m.insert("index".into(), Value::String(self.index.to_string()));
        m.insert("parameters".into(), Value::Array(vec![Value::Object(p)]));
        Ok(Value::Object(m))
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

    pub(crate) fn body_value(&self) -> Result<Value> {
        check_non_empty("template.name", &self.name)?;
        check_non_empty("template.language.code", &self.language)?;
        let mut components = Vec::new();
        let cp = "template.components";
        // Named xor positional, across header and body.
        let mut first_named: Option<(bool, String)> = None;
        let mut check_mix = |p: &Parameter, path: &str| -> Result<()> {
            let named = p.name.is_some();
            match &first_named {
                None => first_named = Some((named, path.to_string())),
                Some((n, first)) if *n != named => {
                    return Err(Error::invalid(
                        join(path, "parameter_name"),
                        format!(
                            "must not mix named and positional parameters ({first} is {})",
                            if *n { "named" } else { "positional" }
                        ),
                    ));
                }
                Some(_) => {}
            }
            Ok(())
        };
        if let Some(h) = &self.header {
            let path = idx(&join(&idx(cp, components.len()), "parameters"), 0);
            check_mix(h, &path)?;
            let v = h.to_value(
                &path,
                MAX_HEADER_PARAM,
                &["text", "image", "video", "document", "location"],
                "header",
            )?;
            components.push(component("header", vec![v]));
        }
        if !self.body.is_empty() {
            let only_body = self.header.is_none() && self.buttons.is_empty();
            let max = if only_body {
                MAX_BODY_ONLY_PARAM
            } else {
                MAX_BODY_PARAM
            };
            let base = join(&idx(cp, components.len()), "parameters");
            let mut params = Vec::new();
            for (j, p) in self.body.iter().enumerate() {
                let path = idx(&base, j);
                check_mix(p, &path)?;
                params.push(p.to_value(&path, max, &["text", "currency", "date_time"], "body")?);
            }
            components.push(component("body", params));
        }
        let mut seen: Vec<u32> = Vec::new();
        for b in &self.buttons {
            let path = idx(cp, components.len());
            if seen.contains(&b.index) {
                return Err(Error::invalid(
                    join(&path, "index"),
                    format!("must be unique (button index {} is used twice)", b.index),
                ));
            }
            seen.push(b.index);
            components.push(b.to_value(&path)?);
        }
        let mut lang = Map::new();
        lang.insert("code".into(), Value::String(self.language.clone()));
        lang.insert("policy".into(), Value::String("deterministic".into()));
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("language".into(), Value::Object(lang));
        if !components.is_empty() {
            m.insert("components".into(), Value::Array(components));
        }
        Ok(Value::Object(m))
    }
}

fn component(kind: &str, params: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::String(kind.into()));
    m.insert("parameters".into(), Value::Array(params));
    Value::Object(m)
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
