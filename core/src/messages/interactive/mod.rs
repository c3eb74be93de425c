//! Interactive messages (docs/360dialog-api.md §4.6–§4.7): reply buttons, list, cta_url,
//! flow, product, product_list, location_request_message, address_message
//! and catalog_message.

use serde_json::{Map, Value};

use serde::Deserialize;

use super::common::{
    as_string, check_count, check_http_url, check_len, check_non_empty, contains_emoji, idx, join,
    put_opt,
};
use super::media::Media;

mod read;
use crate::{Error, Result};
pub(crate) use read::InteractiveSpec;

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

    fn to_value(&self, path: &str) -> Result<Value> {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(self.kind().into()));
        let no_caption = Some("in an interactive header");
        let (key, v) = match self {
            Header::Text(t) => {
                check_len(&join(path, "text"), t, 1, MAX_HEADER_TEXT)?;
                ("text", Value::String(t.clone()))
            }
            Header::Image(media) => (
                "image",
                media.to_value(&join(path, "image"), no_caption, Some("on an image"))?,
            ),
            Header::Video(media) => (
                "video",
                media.to_value(&join(path, "video"), no_caption, Some("on a video"))?,
            ),
            Header::Document(media) => (
                "document",
                media.to_value(&join(path, "document"), no_caption, None)?,
            ),
        };
        m.insert(key.into(), v);
        Ok(Value::Object(m))
    }
}

/// A reply button: id (1..256 characters, no leading or trailing space) and
/// title (1..20 characters).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRow {
    /// Id (1..200 characters), unique across the list.
    pub id: String,
    /// Title, 1..24 characters.
    pub title: String,
    /// Optional description, at most 72 characters.
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

    /// Set the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
}

/// A section of a list message.
#[derive(Debug, Clone, PartialEq)]
pub struct ListSection {
    /// Title (≤ 24 characters), required when there is more than one section.
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

    fn to_value(&self, path: &str) -> Result<Value> {
        if self.flow_message_version != "3" {
            return Err(Error::invalid(
                join(path, "flow_message_version"),
                format!("must be \"3\" (got {:?})", self.flow_message_version),
            ));
        }
        match (&self.flow_id, &self.flow_name) {
            (Some(id), None) => check_non_empty(&join(path, "flow_id"), id)?,
            (None, Some(name)) => check_non_empty(&join(path, "flow_name"), name)?,
            (a, _) => {
                return Err(Error::invalid(
                    join(path, "flow_id"),
                    format!(
                        "exactly one of `flow_id` and `flow_name` is required (got {})",
                        if a.is_some() { "both" } else { "neither" }
                    ),
                ));
            }
        }
        let cta = join(path, "flow_cta");
        check_len(&cta, &self.flow_cta, 1, MAX_CTA)?;
        if contains_emoji(&self.flow_cta) {
            return Err(Error::invalid(cta, "must not contain emoji"));
        }
        if let Some(a) = &self.flow_action
            && a != "navigate"
            && a != "data_exchange"
        {
            return Err(Error::invalid(
                join(path, "flow_action"),
                format!("must be navigate or data_exchange (got {a:?})"),
            ));
        }
        if let Some(mode) = &self.mode
            && mode != "draft"
            && mode != "published"
        {
            return Err(Error::invalid(
                join(path, "mode"),
                format!("must be draft or published (got {mode:?})"),
            ));
        }
        if let Some(p) = &self.flow_action_payload {
            let pp = join(path, "flow_action_payload");
            if let Some(screen) = p.get("screen") {
                let s = as_string(&join(&pp, "screen"), screen)?;
                check_non_empty(&join(&pp, "screen"), &s)?;
            }
            match p.get("data") {
                None => {}
                Some(Value::Object(d)) if !d.is_empty() => {}
                Some(_) => {
                    return Err(Error::invalid(
                        join(&pp, "data"),
                        "must be a non-empty object when present",
                    ));
                }
            }
        }
        let mut m = Map::new();
        m.insert(
            "flow_message_version".into(),
            Value::String(self.flow_message_version.clone()),
        );
        put_opt(&mut m, "flow_id", &self.flow_id);
        put_opt(&mut m, "flow_name", &self.flow_name);
        put_opt(&mut m, "flow_token", &self.flow_token);
        m.insert("flow_cta".into(), Value::String(self.flow_cta.clone()));
        put_opt(&mut m, "flow_action", &self.flow_action);
        if let Some(p) = &self.flow_action_payload {
            m.insert("flow_action_payload".into(), Value::Object(p.clone()));
        }
        put_opt(&mut m, "mode", &self.mode);
        Ok(Value::Object(m))
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

    /// Set the body text.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Set the footer text.
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    pub(crate) fn body_value(&self) -> Result<Value> {
        let t = self.action.type_name();
        let mut m = Map::new();
        m.insert("type".into(), Value::String(t.into()));

        // Header: which kinds each type accepts (docs/360dialog-api.md §4.7).
        let header_rule: (&[&str], bool) = match &self.action {
            InteractiveAction::Buttons(_) | InteractiveAction::CtaUrl { .. } => {
                (&["text", "image", "video", "document"], false)
            }
            InteractiveAction::Address { .. } => (&["text", "image", "video", "document"], false),
            InteractiveAction::List { .. } | InteractiveAction::Flow(_) => (&["text"], false),
            InteractiveAction::ProductList { .. } => (&["text"], true),
            InteractiveAction::Product { .. }
            | InteractiveAction::LocationRequest
            | InteractiveAction::Catalog { .. } => (&[], false),
        };
        match (&self.header, header_rule) {
            (None, (_, true)) => {
                return Err(Error::invalid(
                    "interactive.header",
                    format!("is required for {t} messages (a text header)"),
                ));
            }
            (None, _) => {}
            (Some(_), ([], _)) => {
                return Err(Error::invalid(
                    "interactive.header",
                    format!("is not allowed for {t} messages"),
                ));
            }
            (Some(h), (allowed, _)) => {
                if !allowed.contains(&h.kind()) {
                    return Err(Error::invalid(
                        "interactive.header",
                        format!(
                            "{t} messages take only a {} header (got {})",
                            allowed.join(", "),
                            h.kind()
                        ),
                    ));
                }
                m.insert("header".into(), h.to_value("interactive.header")?);
            }
        }

        match &self.body {
            Some(b) => {
                check_len("interactive.body.text", b, 1, MAX_BODY_TEXT)?;
                let mut bm = Map::new();
                bm.insert("text".into(), Value::String(b.clone()));
                m.insert("body".into(), Value::Object(bm));
            }
            None if matches!(self.action, InteractiveAction::Product { .. }) => {}
            None => {
                return Err(Error::invalid(
                    "interactive.body.text",
                    format!("is required for {t} messages"),
                ));
            }
        }
        if let Some(f) = &self.footer {
            check_len("interactive.footer.text", f, 1, MAX_FOOTER_TEXT)?;
            let mut fm = Map::new();
            fm.insert("text".into(), Value::String(f.clone()));
            m.insert("footer".into(), Value::Object(fm));
        }
        m.insert("action".into(), self.action_value()?);
        Ok(Value::Object(m))
    }

    fn action_value(&self) -> Result<Value> {
        const A: &str = "interactive.action";
        let mut m = Map::new();
        match &self.action {
            InteractiveAction::Buttons(buttons) => {
                let p = join(A, "buttons");
                check_count(&p, "buttons", buttons.len(), 1, MAX_BUTTONS)?;
                let mut arr = Vec::new();
                for (i, b) in buttons.iter().enumerate() {
                    let bp = join(&idx(&p, i), "reply");
                    let idp = join(&bp, "id");
                    check_len(&idp, &b.id, 1, MAX_BUTTON_ID)?;
                    if b.id.trim() != b.id {
                        return Err(Error::invalid(idp, "must not start or end with whitespace"));
                    }
                    check_len(&join(&bp, "title"), &b.title, 1, MAX_BUTTON_TITLE)?;
                    for (j, earlier) in buttons[..i].iter().enumerate() {
                        if earlier.id == b.id {
                            return Err(Error::invalid(
                                idp,
                                format!("must be unique (same as buttons[{j}])"),
                            ));
                        }
                        if earlier.title == b.title {
                            return Err(Error::invalid(
                                join(&bp, "title"),
                                format!("must be unique (same as buttons[{j}])"),
                            ));
                        }
                    }
                    let mut reply = Map::new();
                    reply.insert("id".into(), Value::String(b.id.clone()));
                    reply.insert("title".into(), Value::String(b.title.clone()));
                    let mut bm = Map::new();
                    bm.insert("type".into(), Value::String("reply".into()));
                    bm.insert("reply".into(), Value::Object(reply));
                    arr.push(Value::Object(bm));
                }
                m.insert("buttons".into(), Value::Array(arr));
            }
            InteractiveAction::List { button, sections } => {
                check_len(&join(A, "button"), button, 1, MAX_LIST_BUTTON)?;
                let sp = join(A, "sections");
                check_count(&sp, "sections", sections.len(), 1, MAX_SECTIONS)?;
                let total: usize = sections.iter().map(|s| s.rows.len()).sum();
                check_count(&sp, "rows in total", total, 1, MAX_LIST_ROWS)?;
                let mut seen: Vec<&str> = Vec::new();
                let mut arr = Vec::new();
                for (i, s) in sections.iter().enumerate() {
                    let p = idx(&sp, i);
                    let mut sm = section_title(&p, &s.title, sections.len())?;
                    let mut rows = Vec::new();
                    for (j, r) in s.rows.iter().enumerate() {
                        let rp = idx(&join(&p, "rows"), j);
                        check_len(&join(&rp, "id"), &r.id, 1, MAX_ROW_ID)?;
                        if seen.contains(&r.id.as_str()) {
                            return Err(Error::invalid(
                                join(&rp, "id"),
                                "must be unique across all rows of the list",
                            ));
                        }
                        seen.push(&r.id);
                        check_len(&join(&rp, "title"), &r.title, 1, MAX_ROW_TITLE)?;
                        let mut rm = Map::new();
                        rm.insert("id".into(), Value::String(r.id.clone()));
                        rm.insert("title".into(), Value::String(r.title.clone()));
                        if let Some(d) = &r.description {
                            check_len(&join(&rp, "description"), d, 1, MAX_ROW_DESCRIPTION)?;
                        }
                        put_opt(&mut rm, "description", &r.description);
                        rows.push(Value::Object(rm));
                    }
                    sm.insert("rows".into(), Value::Array(rows));
                    arr.push(Value::Object(sm));
                }
                m.insert("button".into(), Value::String(button.clone()));
                m.insert("sections".into(), Value::Array(arr));
            }
            InteractiveAction::CtaUrl { display_text, url } => {
                let p = join(A, "parameters");
                check_len(&join(&p, "display_text"), display_text, 1, MAX_CTA)?;
                check_http_url(&join(&p, "url"), url)?;
                let mut pm = Map::new();
                pm.insert("display_text".into(), Value::String(display_text.clone()));
                pm.insert("url".into(), Value::String(url.clone()));
                m.insert("name".into(), Value::String("cta_url".into()));
                m.insert("parameters".into(), Value::Object(pm));
            }
            InteractiveAction::Flow(flow) => {
                let params = flow.to_value(&join(A, "parameters"))?;
                m.insert("name".into(), Value::String("flow".into()));
                m.insert("parameters".into(), params);
            }
            InteractiveAction::Product {
                catalog_id,
                product_retailer_id,
            } => {
                check_non_empty(&join(A, "catalog_id"), catalog_id)?;
                check_non_empty(&join(A, "product_retailer_id"), product_retailer_id)?;
                m.insert("catalog_id".into(), Value::String(catalog_id.clone()));
                m.insert(
                    "product_retailer_id".into(),
                    Value::String(product_retailer_id.clone()),
                );
            }
            InteractiveAction::ProductList {
                catalog_id,
                sections,
            } => {
                check_non_empty(&join(A, "catalog_id"), catalog_id)?;
                let sp = join(A, "sections");
                check_count(&sp, "sections", sections.len(), 1, MAX_SECTIONS)?;
                let total: usize = sections.iter().map(|s| s.product_retailer_ids.len()).sum();
                check_count(&sp, "products in total", total, 1, MAX_PRODUCTS)?;
                let mut arr = Vec::new();
                for (i, s) in sections.iter().enumerate() {
                    let p = idx(&sp, i);
                    let mut sm = section_title(&p, &s.title, sections.len())?;
                    let mut items = Vec::new();
                    for (j, sku) in s.product_retailer_ids.iter().enumerate() {
                        check_non_empty(
                            &join(&idx(&join(&p, "product_items"), j), "product_retailer_id"),
                            sku,
                        )?;
                        let mut im = Map::new();
                        im.insert("product_retailer_id".into(), Value::String(sku.clone()));
                        items.push(Value::Object(im));
                    }
                    sm.insert("product_items".into(), Value::Array(items));
                    arr.push(Value::Object(sm));
                }
                m.insert("catalog_id".into(), Value::String(catalog_id.clone()));
                m.insert("sections".into(), Value::Array(arr));
            }
            InteractiveAction::LocationRequest => {
                m.insert("name".into(), Value::String("send_location".into()));
            }
            InteractiveAction::Address {
                country,
                values,
                saved_addresses,
                validation_errors,
            } => {
                let p = join(A, "parameters");
                if country != "IN" && country != "SG" {
                    return Err(Error::invalid(
                        join(&p, "country"),
                        format!("must be IN or SG (got {country:?})"),
                    ));
                }
                let mut pm = Map::new();
                pm.insert("country".into(), Value::String(country.clone()));
                if let Some(v) = values {
                    pm.insert("values".into(), Value::Object(v.clone()));
                }
                if let Some(v) = saved_addresses {
                    pm.insert("saved_addresses".into(), v.clone());
                }
                if let Some(v) = validation_errors {
                    pm.insert("validation_errors".into(), Value::Object(v.clone()));
                }
                m.insert("name".into(), Value::String("address_message".into()));
                m.insert("parameters".into(), Value::Object(pm));
            }
            InteractiveAction::Catalog {
                thumbnail_product_retailer_id,
            } => {
                m.insert("name".into(), Value::String("catalog_message".into()));
                if let Some(t) = thumbnail_product_retailer_id {
                    check_non_empty(&join(A, "parameters.thumbnail_product_retailer_id"), t)?;
                    let mut pm = Map::new();
                    pm.insert(
                        "thumbnail_product_retailer_id".into(),
                        Value::String(t.clone()),
                    );
                    m.insert("parameters".into(), Value::Object(pm));
                }
            }
        }
        Ok(Value::Object(m))
    }
}

/// Section title rule shared by list and product_list: ≤ 24 characters,
/// required when there is more than one section.
fn section_title(
    path: &str,
    title: &Option<String>,
    sections: usize,
) -> Result<Map<String, Value>> {
    let mut sm = Map::new();
    match title {
        Some(t) => {
            check_len(&join(path, "title"), t, 1, MAX_SECTION_TITLE)?;
            sm.insert("title".into(), Value::String(t.clone()));
        }
        None if sections > 1 => {
            return Err(Error::invalid(
                join(path, "title"),
                "is required when there is more than one section",
            ));
        }
        None => {}
    }
    Ok(sm)
}

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
