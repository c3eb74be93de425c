//! The wire form of an interactive message (docs/360dialog-api.md §4.6–§4.7), written with
//! `#[derive(Serialize)]` after [`Interactive::validate`] has passed.

use serde::Serialize;
use serde_json::{Map, Value};

use super::*;
use crate::messages::media::Media;

/// `interactive` of the wire body.
#[derive(Serialize)]
pub(crate) struct InteractiveWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<HeaderWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<TextObj<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<TextObj<'a>>,
    action: ActionWire<'a>,
}

#[derive(Serialize)]
struct TextObj<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct HeaderWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a Media>,
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<&'a Media>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<&'a Media>,
}

/// `action`: its shape depends on the type.
#[derive(Serialize)]
#[serde(untagged)]
enum ActionWire<'a> {
    Buttons {
        buttons: Vec<ButtonWire<'a>>,
    },
    List {
        button: &'a str,
        sections: &'a [ListSection],
    },
    ProductList {
        catalog_id: &'a str,
        sections: Vec<ProductSectionWire<'a>>,
    },
    Product {
        catalog_id: &'a str,
        product_retailer_id: &'a str,
    },
    Named {
        name: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<ParametersWire<'a>>,
    },
}

#[derive(Serialize)]
struct ButtonWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: &'a ReplyButton,
}

#[derive(Serialize)]
pub(crate) struct ProductSectionWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    product_items: Vec<ProductItemWire<'a>>,
}

#[derive(Serialize)]
struct ProductItemWire<'a> {
    product_retailer_id: &'a str,
}

impl<'a> ProductSectionWire<'a> {
    /// The wire form of a product section (interactive `product_list`, template `mpm`).
    pub(crate) fn of(s: &'a ProductSection) -> Self {
        ProductSectionWire {
            title: s.title.as_deref(),
            product_items: s
                .product_retailer_ids
                .iter()
                .map(|id| ProductItemWire {
                    product_retailer_id: id,
                })
                .collect(),
        }
    }
}

/// `action.parameters` of the named actions.
#[derive(Serialize)]
#[serde(untagged)]
enum ParametersWire<'a> {
    CtaUrl {
        display_text: &'a str,
        url: &'a str,
    },
    Flow(FlowWire<'a>),
    Address {
        country: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        values: Option<&'a Map<String, Value>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        saved_addresses: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        validation_errors: Option<&'a Map<String, Value>>,
    },
    Catalog {
        thumbnail_product_retailer_id: &'a str,
    },
}

#[derive(Serialize)]
struct FlowWire<'a> {
    flow_message_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_token: Option<&'a str>,
    flow_cta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_action: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_action_payload: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a str>,
}

impl Header {
    fn wire(&self) -> HeaderWire<'_> {
        let mut h = HeaderWire {
            kind: self.kind(),
            text: None,
            image: None,
            video: None,
            document: None,
        };
        match self {
            Header::Text(t) => h.text = Some(t),
            Header::Image(m) => h.image = Some(m),
            Header::Video(m) => h.video = Some(m),
            Header::Document(m) => h.document = Some(m),
        }
        h
    }
}

impl Interactive {
    /// The wire object (after [`Interactive::validate`]).
    pub(crate) fn wire(&self) -> InteractiveWire<'_> {
        InteractiveWire {
            kind: self.action.type_name(),
            header: self.header.as_ref().map(Header::wire),
            body: self.body.as_deref().map(|text| TextObj { text }),
            footer: self.footer.as_deref().map(|text| TextObj { text }),
            action: self.action.wire(),
        }
    }
}

impl InteractiveAction {
    fn wire(&self) -> ActionWire<'_> {
        match self {
            InteractiveAction::Buttons(buttons) => ActionWire::Buttons {
                buttons: buttons
                    .iter()
                    .map(|reply| ButtonWire {
                        kind: "reply",
                        reply,
                    })
                    .collect(),
            },
            InteractiveAction::List { button, sections } => ActionWire::List { button, sections },
            InteractiveAction::CtaUrl { display_text, url } => ActionWire::Named {
                name: "cta_url",
                parameters: Some(ParametersWire::CtaUrl { display_text, url }),
            },
            InteractiveAction::Flow(f) => ActionWire::Named {
                name: "flow",
                parameters: Some(ParametersWire::Flow(FlowWire {
                    flow_message_version: &f.flow_message_version,
                    flow_id: f.flow_id.as_deref(),
                    flow_name: f.flow_name.as_deref(),
                    flow_token: f.flow_token.as_deref(),
                    flow_cta: &f.flow_cta,
                    flow_action: f.flow_action.as_deref(),
                    flow_action_payload: f.flow_action_payload.as_ref(),
                    mode: f.mode.as_deref(),
                })),
            },
            InteractiveAction::Product {
                catalog_id,
                product_retailer_id,
            } => ActionWire::Product {
                catalog_id,
                product_retailer_id,
            },
            InteractiveAction::ProductList {
                catalog_id,
                sections,
            } => ActionWire::ProductList {
                catalog_id,
                sections: sections.iter().map(ProductSectionWire::of).collect(),
            },
            InteractiveAction::LocationRequest => ActionWire::Named {
                name: "send_location",
                parameters: None,
            },
            InteractiveAction::Address {
                country,
                values,
                saved_addresses,
                validation_errors,
            } => ActionWire::Named {
                name: "address_message",
                parameters: Some(ParametersWire::Address {
                    country,
                    values: values.as_ref(),
                    saved_addresses: saved_addresses.as_ref(),
                    validation_errors: validation_errors.as_ref(),
                }),
            },
            InteractiveAction::Catalog {
                thumbnail_product_retailer_id,
            } => ActionWire::Named {
                name: "catalog_message",
                parameters: thumbnail_product_retailer_id.as_deref().map(|t| {
                    ParametersWire::Catalog {
                        thumbnail_product_retailer_id: t,
                    }
                }),
            },
        }
    }
}
