//! Interactive messages (docs/360dialog-api.md §4.6–§4.7): reply buttons, list, cta_url,
//! flow, product, product_list, location_request_message, address_message
//! and catalog_message.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::optional_setters;
use super::media::Media;
#[cfg(test)]
use crate::Result;

mod read;
mod validate;
mod wire;
pub(crate) use read::{InteractiveSpec, SectionSpec};
pub(crate) use validate::check_product_sections;
pub(crate) use wire::{InteractiveWire, ProductSectionWire};

/// The `flow_action` values of a flow (of a flow message and of a template's flow button).
pub(crate) const FLOW_ACTIONS: [&str; 2] = ["navigate", "data_exchange"];
/// Maximum interactive header text, in characters.
pub const MAX_HEADER_TEXT: usize = 60;
/// Maximum interactive body text, in characters.
pub const MAX_BODY_TEXT: usize = 1024;
/// Maximum footer text, in characters.
pub const MAX_FOOTER_TEXT: usize = 60;
/// Most reply buttons.
pub const MAX_BUTTONS: usize = 3;
/// Maximum reply button title, in characters.
pub const MAX_BUTTON_TITLE: usize = 20;
/// Maximum reply button id, in characters.
pub const MAX_BUTTON_ID: usize = 256;
/// Maximum list button label, in characters.
pub const MAX_LIST_BUTTON: usize = 20;
/// Most sections in a list or product list.
pub const MAX_SECTIONS: usize = 10;
/// Most rows across all sections of a list.
pub const MAX_LIST_ROWS: usize = 10;
/// Maximum section title, in characters.
pub const MAX_SECTION_TITLE: usize = 24;
/// Maximum list row id, in characters.
pub const MAX_ROW_ID: usize = 200;
/// Maximum list row title, in characters.
pub const MAX_ROW_TITLE: usize = 24;
/// Maximum list row description, in characters.
pub const MAX_ROW_DESCRIPTION: usize = 72;
/// Most products across all sections of a product list.
pub const MAX_PRODUCTS: usize = 30;
/// Maximum cta_url `display_text` and flow `flow_cta`, in characters.
pub const MAX_CTA: usize = 20;

/// The header of an interactive message.
#[derive(Debug, Clone, PartialEq)]
pub enum Header {
    /// Text header, at most 60 characters.
    Text(String),
    /// Image header.
    Image(Media),
    /// Video header.
    Video(Media),
    /// Document header.
    Document(Media),
}

impl Header {
    fn kind(&self) -> &'static str {
        match self {
            Header::Text(_) => "text",
            Header::Image(_) => "image",
            Header::Video(_) => "video",
            Header::Document(_) => "document",
        }
    }
}

/// A reply button: id (1..256 characters, no leading or trailing space) and
/// title (1..20 characters).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ReplyButton {
    /// Id sent back in the `button_reply` webhook.
    pub id: String,
    /// Label shown on the button.
    pub title: String,
}

impl ReplyButton {
    /// A button with `id` and `title`.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        ReplyButton {
            id: id.into(),
            title: title.into(),
        }
    }
}

/// One row of a list message.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ListRow {
    /// Id (1..200 characters), unique across the list.
    pub id: String,
    /// Title, 1..24 characters.
    pub title: String,
    /// Optional description, at most 72 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ListRow {
    /// A row with `id` and `title`.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        ListRow {
            id: id.into(),
            title: title.into(),
            description: None,
        }
    }

    optional_setters! {
        /// Set the description.
        description => description;
    }
}

/// A section of a list message (its wire form is the same object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListSection {
    /// Title (≤ 24 characters), required when there is more than one section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The rows.
    pub rows: Vec<ListRow>,
}

impl ListSection {
    /// A section with a title.
    pub fn new(title: impl Into<String>, rows: Vec<ListRow>) -> Self {
        ListSection {
            title: Some(title.into()),
            rows,
        }
    }
}

/// A section of a product list.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductSection {
    /// Title (≤ 24 characters), required when there is more than one section.
    pub title: Option<String>,
    /// Retailer ids (SKUs) of the products in this section.
    pub product_retailer_ids: Vec<String>,
}

impl ProductSection {
    /// A titled section of products.
    pub fn new(title: impl Into<String>, skus: Vec<String>) -> Self {
        ProductSection {
            title: Some(title.into()),
            product_retailer_ids: skus,
        }
    }
}

/// The parameters of a flow message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flow {
    /// Always `"3"` (the only version accepted).
    pub flow_message_version: String,
    /// Flow id (exactly one of `flow_id` and `flow_name`).
    pub flow_id: Option<String>,
    /// Flow name (exactly one of `flow_id` and `flow_name`).
    pub flow_name: Option<String>,
    /// Button text, 1..20 characters, no emoji.
    pub flow_cta: String,
    /// Token echoed back in the flow's reply.
    pub flow_token: Option<String>,
    /// `navigate` or `data_exchange`.
    pub flow_action: Option<String>,
    /// `flow_action_payload` (`screen`, `data`), kept as JSON.
    pub flow_action_payload: Option<Map<String, Value>>,
    /// `draft` or `published`.
    pub mode: Option<String>,
}

impl Flow {
    /// A published flow by id, with its button text.
    pub fn by_id(flow_id: impl Into<String>, flow_cta: impl Into<String>) -> Self {
        Flow {
            flow_message_version: "3".into(),
            flow_id: Some(flow_id.into()),
            flow_cta: flow_cta.into(),
            ..Default::default()
        }
    }

    /// A flow by name, with its button text.
    pub fn by_name(flow_name: impl Into<String>, flow_cta: impl Into<String>) -> Self {
        Flow {
            flow_message_version: "3".into(),
            flow_name: Some(flow_name.into()),
            flow_cta: flow_cta.into(),
            ..Default::default()
        }
    }
}

/// What the interactive message does (its `type` and `action`).
#[derive(Debug, Clone, PartialEq)]
pub enum InteractiveAction {
    /// `button`: 1..3 reply buttons.
    Buttons(Vec<ReplyButton>),
    /// `list`: a button that opens sections of rows.
    List {
        /// Label of the button that opens the list (1..20 characters).
        button: String,
        /// 1..10 sections, 1..10 rows in total.
        sections: Vec<ListSection>,
    },
    /// `cta_url`: a button that opens a URL.
    CtaUrl {
        /// Button text, 1..20 characters.
        display_text: String,
        /// Absolute http(s) URL.
        url: String,
    },
    /// `flow`: a button that opens a WhatsApp Flow.
    Flow(Box<Flow>),
    /// `product`: one product of a catalog.
    Product {
        /// Catalog id.
        catalog_id: String,
        /// The product's retailer id (SKU).
        product_retailer_id: String,
    },
    /// `product_list`: up to 30 products in up to 10 sections.
    ProductList {
        /// Catalog id.
        catalog_id: String,
        /// The sections.
        sections: Vec<ProductSection>,
    },
    /// `location_request_message`: asks the user to share their location.
    LocationRequest,
    /// `address_message`: asks for a delivery address (India; Singapore per older docs).
    Address {
        /// `IN` or `SG`.
        country: String,
        /// Prefilled `values`.
        values: Option<Map<String, Value>>,
        /// `saved_addresses`, kept as JSON.
        saved_addresses: Option<Value>,
        /// `validation_errors`, kept as JSON.
        validation_errors: Option<Map<String, Value>>,
    },
    /// `catalog_message`: opens the business catalog.
    Catalog {
        /// Product whose image is the thumbnail.
        thumbnail_product_retailer_id: Option<String>,
    },
}

impl InteractiveAction {
    /// The wire `interactive.type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            InteractiveAction::Buttons(_) => "button",
            InteractiveAction::List { .. } => "list",
            InteractiveAction::CtaUrl { .. } => "cta_url",
            InteractiveAction::Flow(_) => "flow",
            InteractiveAction::Product { .. } => "product",
            InteractiveAction::ProductList { .. } => "product_list",
            InteractiveAction::LocationRequest => "location_request_message",
            InteractiveAction::Address { .. } => "address_message",
            InteractiveAction::Catalog { .. } => "catalog_message",
        }
    }
}

/// An interactive message: optional header, body, optional footer, action.
///
/// ```
/// use wa360::messages::{Interactive, ReplyButton};
/// let i = Interactive::buttons(
///     "Does Thursday work?",
///     vec![ReplyButton::new("yes", "Yes"), ReplyButton::new("no", "No")],
/// )
/// .footer("Example Store");
/// assert_eq!(i.action.type_name(), "button");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Interactive {
    /// Optional header (which kinds are allowed depends on the type).
    pub header: Option<Header>,
    /// Body text (1..1024), required except for `product`.
    pub body: Option<String>,
    /// Footer text (1..60).
    pub footer: Option<String>,
    /// Type and action.
    pub action: InteractiveAction,
}

impl Interactive {
    /// A message with `body` and `action`.
    pub fn new(body: impl Into<String>, action: InteractiveAction) -> Self {
        Interactive {
            header: None,
            body: Some(body.into()),
            footer: None,
            action,
        }
    }

    /// Reply buttons.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Self {
        Interactive::new(body, InteractiveAction::Buttons(buttons))
    }

    /// A list with the opening `button` label and its sections.
    pub fn list(
        body: impl Into<String>,
        button: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Self {
        Interactive::new(
            body,
            InteractiveAction::List {
                button: button.into(),
                sections,
            },
        )
    }

    /// A call-to-action URL button.
    pub fn cta_url(
        body: impl Into<String>,
        display_text: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        Interactive::new(
            body,
            InteractiveAction::CtaUrl {
                display_text: display_text.into(),
                url: url.into(),
            },
        )
    }

    /// A flow.
    pub fn flow(body: impl Into<String>, flow: Flow) -> Self {
        Interactive::new(body, InteractiveAction::Flow(Box::new(flow)))
    }

    /// A single product (body optional: add one with [`Interactive::body`]).
    pub fn product(catalog_id: impl Into<String>, product_retailer_id: impl Into<String>) -> Self {
        Interactive {
            header: None,
            body: None,
            footer: None,
            action: InteractiveAction::Product {
                catalog_id: catalog_id.into(),
                product_retailer_id: product_retailer_id.into(),
            },
        }
    }

    /// A multi-product list (needs a text header).
    pub fn product_list(
        header: impl Into<String>,
        body: impl Into<String>,
        catalog_id: impl Into<String>,
        sections: Vec<ProductSection>,
    ) -> Self {
        Interactive::new(
            body,
            InteractiveAction::ProductList {
                catalog_id: catalog_id.into(),
                sections,
            },
        )
        .header(Header::Text(header.into()))
    }

    /// A location request.
    pub fn location_request(body: impl Into<String>) -> Self {
        Interactive::new(body, InteractiveAction::LocationRequest)
    }

    /// An address request for `country` (`IN` or `SG`).
    pub fn address(body: impl Into<String>, country: impl Into<String>) -> Self {
        Interactive::new(
            body,
            InteractiveAction::Address {
                country: country.into(),
                values: None,
                saved_addresses: None,
                validation_errors: None,
            },
        )
    }

    /// Set the header.
    pub fn header(mut self, header: Header) -> Self {
        self.header = Some(header);
        self
    }

    optional_setters! {
        /// Set the body text.
        body => body;

        /// Set the footer text.
        footer => footer;
    }

    #[cfg(test)]
    fn body_value(&self) -> Result<Value> {
        self.validate()?;
        crate::messages::wire::to_value(&self.wire())
    }
}

use crate::messages::read::map_only;
map_only!(ser ReplyButton, ListRow);

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: &str, title: &str) -> ReplyButton {
        ReplyButton::new(id, title)
    }

    #[test]
    fn button_limits() {
        let ok = Interactive::buttons("Pick", vec![b("a", &"x".repeat(20))]);
        assert!(ok.body_value().is_ok());
        let e = Interactive::buttons("Pick", vec![b("a", &"x".repeat(21))])
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.buttons[0].reply.title"));
        assert!(e.to_string().contains("at most 20 characters (got 21)"));
        let four = (0..4).map(|i| b(&i.to_string(), &i.to_string())).collect();
        let e = Interactive::buttons("Pick", four).body_value().unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.buttons"));
        let e = Interactive::buttons("Pick", vec![])
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.buttons"));
        let e = Interactive::buttons("Pick", vec![b("a", "A"), b("a", "B")])
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.buttons[1].reply.id"));
        let e = Interactive::buttons("Pick", vec![b("a", "A"), b("b", "A")])
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.buttons[1].reply.title"));
        let e = Interactive::buttons("Pick", vec![b(" a", "A")])
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.buttons[0].reply.id"));
        assert!(
            Interactive::buttons("Pick", vec![b(&"i".repeat(256), "A")])
                .body_value()
                .is_ok()
        );
        assert!(
            Interactive::buttons("Pick", vec![b(&"i".repeat(257), "A")])
                .body_value()
                .is_err()
        );
    }

    #[test]
    fn list_rows_counted_across_sections() {
        let rows = |n: usize, base: usize| {
            (0..n)
                .map(|i| ListRow::new(format!("r{}", base + i), "Row"))
                .collect::<Vec<_>>()
        };
        let ten = Interactive::list(
            "Pick",
            "Open",
            vec![
                ListSection::new("A", rows(5, 0)),
                ListSection::new("B", rows(5, 5)),
            ],
        );
        assert!(ten.body_value().is_ok());
        let eleven = Interactive::list(
            "Pick",
            "Open",
            vec![
                ListSection::new("A", rows(5, 0)),
                ListSection::new("B", rows(6, 5)),
            ],
        );
        let e = eleven.body_value().unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.sections"));
        assert!(e.to_string().contains("rows in total (got 11)"));
    }

    #[test]
    fn header_rules() {
        let e = Interactive::product("1", "sku")
            .header(Header::Text("h".into()))
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.header"));
        let e = Interactive::list(
            "b",
            "Open",
            vec![ListSection::new("A", vec![ListRow::new("1", "x")])],
        )
        .header(Header::Image(Media::id("1")))
        .body_value()
        .unwrap_err();
        assert_eq!(e.field(), Some("interactive.header"));
        let e = Interactive::buttons("b", vec![b("a", "A")])
            .header(Header::Text("h".repeat(61)))
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.header.text"));
        assert!(
            Interactive::buttons("b", vec![b("a", "A")])
                .header(Header::Text("h".repeat(60)))
                .body_value()
                .is_ok()
        );
    }

    #[test]
    fn flow_cta_rules() {
        let e = Interactive::flow("b", Flow::by_id("1", "Go 🚀"))
            .body_value()
            .unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.parameters.flow_cta"));
        let mut both = Flow::by_id("1", "Go");
        both.flow_name = Some("n".into());
        let e = Interactive::flow("b", both).body_value().unwrap_err();
        assert_eq!(e.field(), Some("interactive.action.parameters.flow_id"));
    }
}
