//! The wire form of a template message (docs/360dialog-api.md §4.8), written with
//! `#[derive(Serialize)]` after [`Template::validate`] has passed.

use serde::Serialize;
use serde_json::{Map, Value};

use super::*;
use crate::messages::interactive::ProductSectionWire;
use crate::messages::location::LocationWire;
use crate::messages::media::Media;

/// `template` of the wire body.
#[derive(Serialize)]
pub(crate) struct TemplateWire<'a> {
    name: &'a str,
    language: LanguageWire<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<ComponentWire<'a>>,
}

#[derive(Serialize)]
struct LanguageWire<'a> {
    code: &'a str,
    policy: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ComponentWire<'a> {
    Params {
        #[serde(rename = "type")]
        kind: &'static str,
        parameters: Vec<ParamWire<'a>>,
    },
    Button {
        #[serde(rename = "type")]
        kind: &'static str,
        sub_type: &'static str,
        index: String,
        parameters: [ButtonParamWire<'a>; 1],
    },
}

#[derive(Serialize)]
struct ParamWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_name: Option<&'a str>,
    #[serde(flatten)]
    value: ValueWire<'a>,
}

/// The value, under the key named by the parameter's type.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ValueWire<'a> {
    Text(&'a str),
    Currency {
        fallback_value: &'a str,
        code: &'a str,
        amount_1000: i64,
    },
    DateTime {
        fallback_value: &'a str,
    },
    Image(&'a Media),
    Video(&'a Media),
    Document(&'a Media),
    Location(LocationWire<'a>),
}

#[derive(Serialize)]
struct ButtonParamWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    value: ButtonValueWire<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ButtonValueWire<'a> {
    Payload(&'a str),
    Text(&'a str),
    CouponCode(&'a str),
    Action(ActionWire<'a>),
}

#[derive(Serialize)]
struct ActionWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_action_data: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail_product_retailer_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sections: Option<Vec<ProductSectionWire<'a>>>,
}

impl Parameter {
    fn wire(&self) -> ParamWire<'_> {
        let value = match &self.value {
            ParamValue::Text(t) => ValueWire::Text(t),
            ParamValue::Currency {
                fallback_value,
                code,
                amount_1000,
            } => ValueWire::Currency {
                fallback_value,
                code,
                amount_1000: *amount_1000,
            },
            ParamValue::DateTime(f) => ValueWire::DateTime { fallback_value: f },
            ParamValue::Image(m) => ValueWire::Image(m),
            ParamValue::Video(m) => ValueWire::Video(m),
            ParamValue::Document(m) => ValueWire::Document(m),
            ParamValue::Location(l) => ValueWire::Location(l.wire()),
        };
        ParamWire {
            kind: self.value.kind(),
            parameter_name: self.name.as_deref(),
            value,
        }
    }
}

/// The `action` parameter of a catalog or multi-product button.
fn products<'a>(
    thumbnail: &'a str,
    sections: Option<Vec<ProductSectionWire<'a>>>,
) -> (&'static str, ButtonValueWire<'a>) {
    (
        "action",
        ButtonValueWire::Action(ActionWire {
            flow_token: None,
            flow_action_data: None,
            thumbnail_product_retailer_id: Some(thumbnail),
            sections,
        }),
    )
}

impl TemplateButton {
    fn wire(&self) -> ComponentWire<'_> {
        let (kind, value) = match &self.param {
            ButtonParam::QuickReply(s) => ("payload", ButtonValueWire::Payload(s)),
            ButtonParam::Url(s) => ("text", ButtonValueWire::Text(s)),
            ButtonParam::CopyCode(s) => ("coupon_code", ButtonValueWire::CouponCode(s)),
            ButtonParam::Flow {
                flow_token,
                flow_action_data,
            } => (
                "action",
                ButtonValueWire::Action(ActionWire {
                    flow_token: flow_token.as_deref(),
                    flow_action_data: flow_action_data.as_ref(),
                    thumbnail_product_retailer_id: None,
                    sections: None,
                }),
            ),
            ButtonParam::Catalog {
                thumbnail_product_retailer_id,
            } => products(thumbnail_product_retailer_id, None),
            ButtonParam::Mpm {
                thumbnail_product_retailer_id,
                sections,
            } => products(
                thumbnail_product_retailer_id,
                Some(sections.iter().map(ProductSectionWire::of).collect()),
            ),
        };
        ComponentWire::Button {
            kind: "button",
            sub_type: self.param.sub_type(),
            index: self.index.to_string(),
            parameters: [ButtonParamWire { kind, value }],
        }
    }
}

impl Template {
    /// The wire object (after [`Template::validate`]).
    pub(crate) fn wire(&self) -> TemplateWire<'_> {
        let mut components = Vec::with_capacity(2 + self.buttons.len());
        if let Some(h) = &self.header {
            components.push(ComponentWire::Params {
                kind: "header",
                parameters: vec![h.wire()],
            });
        }
        if !self.body.is_empty() {
            components.push(ComponentWire::Params {
                kind: "body",
                parameters: self.body.iter().map(Parameter::wire).collect(),
            });
        }
        components.extend(self.buttons.iter().map(TemplateButton::wire));
        TemplateWire {
            name: &self.name,
            language: LanguageWire {
                code: &self.language,
                policy: "deterministic",
            },
            components,
        }
    }
}
