//! The neutral form of an interactive message, read with serde.
//!
//! `{"type": "button", "header"?, "body"?, "footer"?, …}` with the keys of the
//! type at the same level (see `tests/conformance/message_build/README.md`).
//! [`InteractiveSpec`] declares every key once; [`InteractiveSpec::into_model`]
//! then checks which keys the `type` takes (a key of another type is an
//! `unknown field`, a missing one `is required`) and builds [`Interactive`].

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Flow, Header, Interactive, InteractiveAction, ListRow, ListSection, ProductSection, ReplyButton,
};
use crate::messages::media::Media;
use crate::messages::read::{Expecting, StrOr, one_kind, present};
use crate::{Error, Result};

/// Where an interactive message sits in the neutral description.
const P: &str = "interactive";

/// Every key an interactive message may hold; which ones apply depends on `type`.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct InteractiveSpec {
    #[serde(rename = "type")]
    kind: String,
    header: Option<StrOr<HeaderObj>>,
    body: Option<String>,
    footer: Option<String>,
    // button
    buttons: Option<Vec<ReplyButton>>,
    // list
    button: Option<String>,
    // list and product_list
    sections: Option<Vec<SectionSpec>>,
    // cta_url
    display_text: Option<String>,
    url: Option<String>,
    // flow
    flow_message_version: Option<String>,
    flow_id: Option<String>,
    flow_name: Option<String>,
    flow_cta: Option<String>,
    flow_token: Option<String>,
    flow_action: Option<String>,
    flow_action_payload: Option<Map<String, Value>>,
    mode: Option<String>,
    // product and product_list
    catalog_id: Option<String>,
    product_retailer_id: Option<String>,
    // address_message
    country: Option<String>,
    values: Option<Map<String, Value>>,
    saved_addresses: Option<Value>,
    validation_errors: Option<Map<String, Value>>,
    // catalog_message
    thumbnail_product_retailer_id: Option<String>,
}

/// The object form of a header: one of `text`, `image`, `video`, `document`,
/// and an optional `type` that must match.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct HeaderObj {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    image: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
}

impl Expecting for HeaderObj {}

/// A section of a list (`rows`) or of a product list (`product_items`).
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct SectionSpec {
    title: Option<String>,
    rows: Option<Vec<ListRow>>,
    product_items: Option<Vec<StrOr<ProductItem>>>,
}

/// `{"product_retailer_id": "sku-1"}` (or just `"sku-1"`).
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct ProductItem {
    product_retailer_id: String,
}

impl Expecting for ProductItem {}

fn required<T>(v: Option<T>, path: &str) -> Result<T> {
    v.ok_or_else(|| Error::invalid(path, "is required"))
}

/// The sections of a list or product list (required), each read by `read` at
/// `interactive.action.sections[i]`.
fn read_sections<T>(
    sections: Option<Vec<SectionSpec>>,
    read: fn(SectionSpec, &str) -> Result<T>,
) -> Result<Vec<T>> {
    let sections = required(sections, &at("sections"))?;
    let mut out = Vec::with_capacity(sections.len());
    for (i, sec) in sections.into_iter().enumerate() {
        out.push(read(sec, &format!("{P}.sections[{i}]"))?);
    }
    Ok(out)
}

impl SectionSpec {
    /// A list section at `p`: `rows` is required, `product_items` is not its key.
    fn list_section(self, p: &str) -> Result<ListSection> {
        let rows = required(self.rows, &format!("{p}.rows"))?;
        if self.product_items.is_some() {
            return Err(Error::invalid(
                format!("{p}.product_items"),
                "unknown field",
            ));
        }
        Ok(ListSection {
            title: self.title,
            rows,
        })
    }

    /// A product-list section at `p`: `product_items` is required, `rows` is not its key.
    pub(crate) fn product_section(self, p: &str) -> Result<ProductSection> {
        let items = required(self.product_items, &format!("{p}.product_items"))?;
        if self.rows.is_some() {
            return Err(Error::invalid(format!("{p}.rows"), "unknown field"));
        }
        let skus = items.into_iter().map(|it| match it {
            StrOr::Str(sku) => sku,
            StrOr::Obj(o) => o.product_retailer_id,
        });
        Ok(ProductSection {
            title: self.title,
            product_retailer_ids: skus.collect(),
        })
    }
}

fn at(key: &str) -> String {
    format!("{P}.{key}")
}

impl HeaderObj {
    fn into_header(self, path: &str) -> Result<Header> {
        let keys = present!(self; text, image, video, document);
        let Some(kind) = one_kind(self.kind.as_deref(), &keys) else {
            if let Some(d) = self.kind.as_deref()
                && !keys.iter().any(|(k, _)| *k == d)
            {
                return Err(Error::invalid(
                    format!("{path}.type"),
                    "must be one of text, image, video, document",
                ));
            }
            return Err(Error::invalid(
                path,
                "must hold exactly one of `text`, `image`, `video`, `document`, matching `type`",
            ));
        };
        Ok(match kind {
            "text" => Header::Text(self.text.unwrap_or_default()),
            "image" => Header::Image(self.image.unwrap_or_default()),
            "video" => Header::Video(self.video.unwrap_or_default()),
            _ => Header::Document(self.document.unwrap_or_default()),
        })
    }
}

impl InteractiveSpec {
    /// The keys present, in declaration order, with whether `type` allows them.
    fn present_keys(&self) -> [(&'static str, bool); 20] {
        present!(self;
            buttons, button, sections, display_text, url,
            flow_message_version, flow_id, flow_name, flow_cta, flow_token, flow_action,
            flow_action_payload, mode, catalog_id, product_retailer_id, country, values,
            saved_addresses, validation_errors, thumbnail_product_retailer_id,
        )
    }

    /// Check the keys against `type` and build the typed message.
    pub(crate) fn into_model(self) -> Result<Interactive> {
        let own: &[&str] = match self.kind.as_str() {
            "button" => &["buttons"],
            "list" => &["button", "sections"],
            "cta_url" => &["display_text", "url"],
            "flow" => &[
                "flow_message_version",
                "flow_id",
                "flow_name",
                "flow_cta",
                "flow_token",
                "flow_action",
                "flow_action_payload",
                "mode",
            ],
            "product" => &["catalog_id", "product_retailer_id"],
            "product_list" => &["catalog_id", "sections"],
            "location_request_message" => &[],
            "address_message" => &["country", "values", "saved_addresses", "validation_errors"],
            "catalog_message" => &["thumbnail_product_retailer_id"],
            other => {
                return Err(Error::invalid(
                    at("type"),
                    format!(
                        "must be one of button, list, cta_url, flow, product, product_list, \
                         location_request_message, address_message, catalog_message (got {other:?})"
                    ),
                ));
            }
        };
        let keys = self.present_keys();
        let s = self;
        let header = match s.header {
            None => None,
            Some(StrOr::Str(t)) => Some(Header::Text(t)),
            Some(StrOr::Obj(h)) => Some(h.into_header(&at("header"))?),
        };
        // The type's required keys are checked before keys of other types.
        let action = match s.kind.as_str() {
            "button" => InteractiveAction::Buttons(required(s.buttons, &at("buttons"))?),
            "list" => InteractiveAction::List {
                button: required(s.button, &at("button"))?,
                sections: read_sections(s.sections, SectionSpec::list_section)?,
            },
            "cta_url" => InteractiveAction::CtaUrl {
                display_text: required(s.display_text, &at("display_text"))?,
                url: required(s.url, &at("url"))?,
            },
            "flow" => InteractiveAction::Flow(Box::new(Flow {
                flow_message_version: s.flow_message_version.unwrap_or_else(|| "3".into()),
                flow_id: s.flow_id,
                flow_name: s.flow_name,
                flow_cta: required(s.flow_cta, &at("flow_cta"))?,
                flow_token: s.flow_token,
                flow_action: s.flow_action,
                flow_action_payload: s.flow_action_payload,
                mode: s.mode,
            })),
            "product" => InteractiveAction::Product {
                catalog_id: required(s.catalog_id, &at("catalog_id"))?,
                product_retailer_id: required(s.product_retailer_id, &at("product_retailer_id"))?,
            },
            "product_list" => InteractiveAction::ProductList {
                catalog_id: required(s.catalog_id, &at("catalog_id"))?,
                sections: read_sections(s.sections, SectionSpec::product_section)?,
            },
            "location_request_message" => InteractiveAction::LocationRequest,
            "address_message" => InteractiveAction::Address {
                country: required(s.country, &at("country"))?,
                values: s.values,
                saved_addresses: s.saved_addresses,
                validation_errors: s.validation_errors,
            },
            _ => InteractiveAction::Catalog {
                thumbnail_product_retailer_id: s.thumbnail_product_retailer_id,
            },
        };
        if let Some((k, _)) = keys.iter().find(|(k, p)| *p && !own.contains(k)) {
            return Err(Error::invalid(at(k), "unknown field"));
        }
        Ok(Interactive {
            header,
            body: s.body,
            footer: s.footer,
            action,
        })
    }
}

use crate::messages::read::map_only;
map_only!(InteractiveSpec, HeaderObj, SectionSpec, ProductItem);
