//! The neutral form of a template message, read with serde:
//! `{"name", "language", "header"?, "body"?, "buttons"?}`. `body` is an array
//! (positional) or an object of name → value (named parameters).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};

use super::{ButtonParam, ParamValue, Parameter, Template, TemplateButton};
use crate::messages::interactive::SectionSpec;
use crate::messages::location::Location;
use crate::messages::media::Media;
use crate::messages::read::{Expecting, SeqOrMap, StrOr, integer, one_kind, present};
use crate::{Error, Result};

/// Where a template sits in the neutral description.
const P: &str = "template";

#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct TemplateSpec {
    name: String,
    language: StrOr<LanguageObj>,
    header: Option<StrOr<ParamObj>>,
    body: Option<SeqOrMap<StrOr<ParamObj>>>,
    buttons: Option<Vec<ButtonSpec>>,
}

/// `{"code": "en_US", "policy": "deterministic"}` (or just `"en_US"`).
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct LanguageObj {
    code: String,
    policy: Option<String>,
}

impl Expecting for LanguageObj {
    const EXPECTING: &'static str = "a language code like \"en_US\" or {\"code\": …}";
}

/// A parameter object: one of the value keys, an optional `type` that must
/// match, and an optional `parameter_name`.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct ParamObj {
    #[serde(rename = "type")]
    kind: Option<String>,
    parameter_name: Option<String>,
    text: Option<String>,
    currency: Option<CurrencySpec>,
    date_time: Option<StrOr<DateTimeObj>>,
    image: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
    location: Option<Location>,
}

impl Expecting for ParamObj {}

#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct CurrencySpec {
    fallback_value: String,
    code: String,
    #[serde(deserialize_with = "integer")]
    amount_1000: i64,
}

#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct DateTimeObj {
    fallback_value: String,
}

impl Expecting for DateTimeObj {}

/// A button component: `sub_type`, `index` and the key of its parameter.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct ButtonSpec {
    sub_type: String,
    #[serde(deserialize_with = "button_index")]
    index: u32,
    payload: Option<String>,
    text: Option<String>,
    coupon_code: Option<String>,
    flow_token: Option<String>,
    flow_action_data: Option<Map<String, Value>>,
    thumbnail_product_retailer_id: Option<String>,
    sections: Option<Vec<SectionSpec>>,
}

/// A button index: a number or a digit string (sent as a string).
fn button_index<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u32, D::Error> {
    const RULE: &str = "must be a non-negative integer (0 to 9)";
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(RULE)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(RULE))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(RULE))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<u32, E> {
            if v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&v) {
                Ok(v as u32)
            } else {
                Err(E::custom(RULE))
            }
        }
        fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<u32, E> {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().map_err(|_| E::custom(RULE))
            } else {
                Err(E::custom(RULE))
            }
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<u32, E> {
            Err(E::custom(RULE))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> std::result::Result<u32, A::Error> {
            Err(de::Error::custom(RULE))
        }
        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> std::result::Result<u32, A::Error> {
            Err(de::Error::custom(RULE))
        }
    }
    d.deserialize_any(V)
}

fn required<T>(v: Option<T>, path: &str) -> Result<T> {
    v.ok_or_else(|| Error::invalid(path, "is required"))
}

impl ParamObj {
    fn into_parameter(self, path: &str, name: Option<String>) -> Result<Parameter> {
        let keys = present!(self; text, currency, date_time, image, video, document, location);
        let Some(kind) = one_kind(self.kind.as_deref(), &keys) else {
            return Err(Error::invalid(
                path,
                "must hold exactly one of text, currency, date_time, image, video, document, location (matching `type` if given)",
            ));
        };
        let name = match (name, self.parameter_name) {
            (Some(n), None) | (None, Some(n)) => Some(n),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    format!("{path}.parameter_name"),
                    "is already given by the key of the named body",
                ));
            }
        };
        let value = match kind {
            "text" => ParamValue::Text(self.text.unwrap_or_default()),
            "currency" => {
                let c = self.currency.expect("present");
                ParamValue::Currency {
                    fallback_value: c.fallback_value,
                    code: c.code,
                    amount_1000: c.amount_1000,
                }
            }
            "date_time" => ParamValue::DateTime(match self.date_time.expect("present") {
                StrOr::Str(s) => s,
                StrOr::Obj(d) => d.fallback_value,
            }),
            "location" => ParamValue::Location(self.location.expect("present")),
            "image" => ParamValue::Image(self.image.unwrap_or_default()),
            "video" => ParamValue::Video(self.video.unwrap_or_default()),
            _ => ParamValue::Document(self.document.unwrap_or_default()),
        };
        Ok(Parameter { name, value })
    }
}

fn parameter(p: StrOr<ParamObj>, path: &str, name: Option<String>) -> Result<Parameter> {
    match p {
        StrOr::Str(s) => Ok(Parameter {
            name,
            value: ParamValue::Text(s),
        }),
        StrOr::Obj(o) => o.into_parameter(path, name),
    }
}

impl ButtonSpec {
    fn into_button(self, path: &str) -> Result<TemplateButton> {
        let at = |k: &str| format!("{path}.{k}");
        let present = present!(self;
            payload, text, coupon_code, flow_token, flow_action_data,
            thumbnail_product_retailer_id, sections,
        );
        let (own, param): (&[&str], ButtonParam) = match self.sub_type.as_str() {
            "quick_reply" => (
                &["payload"],
                ButtonParam::QuickReply(required(self.payload, &at("payload"))?),
            ),
            "url" => (
                &["text"],
                ButtonParam::Url(required(self.text, &at("text"))?),
            ),
            "copy_code" => (
                &["coupon_code"],
                ButtonParam::CopyCode(required(self.coupon_code, &at("coupon_code"))?),
            ),
            "flow" => (
                &["flow_token", "flow_action_data"],
                ButtonParam::Flow {
                    flow_token: self.flow_token,
                    flow_action_data: self.flow_action_data,
                },
            ),
            "catalog" => (
                &["thumbnail_product_retailer_id"],
                ButtonParam::Catalog {
                    thumbnail_product_retailer_id: required(
                        self.thumbnail_product_retailer_id,
                        &at("thumbnail_product_retailer_id"),
                    )?,
                },
            ),
            "mpm" => {
                let sections = required(self.sections, &at("sections"))?;
                let mut read = Vec::with_capacity(sections.len());
                for (i, s) in sections.into_iter().enumerate() {
                    read.push(s.product_section(&format!("{path}.sections[{i}]"))?);
                }
                (
                    &["thumbnail_product_retailer_id", "sections"],
                    ButtonParam::Mpm {
                        thumbnail_product_retailer_id: required(
                            self.thumbnail_product_retailer_id,
                            &at("thumbnail_product_retailer_id"),
                        )?,
                        sections: read,
                    },
                )
            }
            other => {
                return Err(Error::invalid(
                    at("sub_type"),
                    format!(
                        "must be one of quick_reply, url, copy_code, flow, catalog, mpm (got {other:?})"
                    ),
                ));
            }
        };
        // A key of another sub_type is unknown here.
        if let Some((k, _)) = present.iter().find(|(k, p)| *p && !own.contains(k)) {
            return Err(Error::invalid(at(k), "unknown field"));
        }
        Ok(TemplateButton {
            index: self.index,
            param,
        })
    }
}

impl TemplateSpec {
    /// Check the shapes that depend on another key and build the template.
    pub(crate) fn into_model(self) -> Result<Template> {
        let language = match self.language {
            StrOr::Str(code) => code,
            StrOr::Obj(l) => {
                if let Some(p) = &l.policy
                    && p != "deterministic"
                {
                    return Err(Error::invalid(
                        format!("{P}.language.policy"),
                        "must be deterministic",
                    ));
                }
                l.code
            }
        };
        let header = match self.header {
            Some(h) => Some(parameter(h, &format!("{P}.header"), None)?),
            None => None,
        };
        let body = match self.body {
            None => Vec::new(),
            Some(SeqOrMap::Map(named)) => named
                .into_iter()
                .map(|(k, v)| {
                    let path = format!("{P}.body.{k}");
                    parameter(v, &path, Some(k))
                })
                .collect::<Result<Vec<_>>>()?,
            Some(SeqOrMap::Seq(list)) => list
                .into_iter()
                .enumerate()
                .map(|(i, v)| parameter(v, &format!("{P}.body[{i}]"), None))
                .collect::<Result<Vec<_>>>()?,
        };
        let buttons = self
            .buttons
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, b)| b.into_button(&format!("{P}.buttons[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Template {
            name: self.name,
            language,
            header,
            body,
            buttons,
        })
    }
}

use crate::messages::read::map_only;
map_only!(
    TemplateSpec,
    LanguageObj,
    ParamObj,
    CurrencySpec,
    DateTimeObj,
    ButtonSpec
);
