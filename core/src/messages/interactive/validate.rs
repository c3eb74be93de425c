//! The rules of an interactive message (docs/360dialog-api.md §4.6–§4.7, §4.10), checked
//! on the typed message before its wire body is written. Errors name the
//! field's path in the wire body (`interactive.action.buttons[1].reply.title`).

use serde_json::Value;

use super::*;
use crate::messages::common::{
    as_string, check_count, check_either, check_http_url, check_len, check_non_empty,
    contains_emoji, idx, join,
};
use crate::{Error, Result};

const A: &str = "interactive.action";

impl Header {
    fn validate(&self, path: &str) -> Result<()> {
        let no_caption = Some("in an interactive header");
        match self {
            Header::Text(t) => check_len(&join(path, "text"), t, 1, MAX_HEADER_TEXT),
            Header::Image(media) => {
                media.validate(&join(path, "image"), no_caption, Some("on an image"))
            }
            Header::Video(media) => {
                media.validate(&join(path, "video"), no_caption, Some("on a video"))
            }
            Header::Document(media) => media.validate(&join(path, "document"), no_caption, None),
        }
    }
}

impl Flow {
    fn validate(&self, path: &str) -> Result<()> {
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
        if let Some(a) = &self.flow_action {
            check_either(&join(path, "flow_action"), a, FLOW_ACTIONS)?;
        }
        if let Some(mode) = &self.mode {
            check_either(&join(path, "mode"), mode, ["draft", "published"])?;
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
        Ok(())
    }
}

impl Interactive {
    /// Check every rule; the first broken one is returned.
    pub(crate) fn validate(&self) -> Result<()> {
        let t = self.action.type_name();
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
                h.validate("interactive.header")?;
            }
        }
        match &self.body {
            Some(b) => check_len("interactive.body.text", b, 1, MAX_BODY_TEXT)?,
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
        }
        self.action.validate()
    }
}

impl InteractiveAction {
    fn validate(&self) -> Result<()> {
        match self {
            InteractiveAction::Buttons(buttons) => {
                let p = join(A, "buttons");
                check_count(&p, "buttons", buttons.len(), 1, MAX_BUTTONS)?;
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
                }
            }
            InteractiveAction::List { button, sections } => {
                check_len(&join(A, "button"), button, 1, MAX_LIST_BUTTON)?;
                let sp = join(A, "sections");
                check_count(&sp, "sections", sections.len(), 1, MAX_SECTIONS)?;
                let total: usize = sections.iter().map(|s| s.rows.len()).sum();
                check_count(&sp, "rows in total", total, 1, MAX_LIST_ROWS)?;
                let mut seen: Vec<&str> = Vec::new();
                for (i, s) in sections.iter().enumerate() {
                    let p = idx(&sp, i);
                    section_title(&p, &s.title, sections.len())?;
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
                        if let Some(d) = &r.description {
                            check_len(&join(&rp, "description"), d, 1, MAX_ROW_DESCRIPTION)?;
                        }
                    }
                }
            }
            InteractiveAction::CtaUrl { display_text, url } => {
                let p = join(A, "parameters");
                check_len(&join(&p, "display_text"), display_text, 1, MAX_CTA)?;
                check_http_url(&join(&p, "url"), url)?;
            }
            InteractiveAction::Flow(flow) => flow.validate(&join(A, "parameters"))?,
            InteractiveAction::Product {
                catalog_id,
                product_retailer_id,
            } => {
                check_non_empty(&join(A, "catalog_id"), catalog_id)?;
                check_non_empty(&join(A, "product_retailer_id"), product_retailer_id)?;
            }
            InteractiveAction::ProductList {
                catalog_id,
                sections,
            } => {
                check_non_empty(&join(A, "catalog_id"), catalog_id)?;
                check_product_sections(&join(A, "sections"), sections)?;
            }
            InteractiveAction::LocationRequest => {}
            InteractiveAction::Address { country, .. } => {
                if country != "IN" && country != "SG" {
                    return Err(Error::invalid(
                        join(&join(A, "parameters"), "country"),
                        format!("must be IN or SG (got {country:?})"),
                    ));
                }
            }
            InteractiveAction::Catalog {
                thumbnail_product_retailer_id,
            } => {
                if let Some(t) = thumbnail_product_retailer_id {
                    check_non_empty(&join(A, "parameters.thumbnail_product_retailer_id"), t)?;
                }
            }
        }
        Ok(())
    }
}

/// The sections of a product list, at `sp`: 1..10 sections, 1..30 products in total, each
/// retailer id non-empty, titles as [`section_title`]. Shared by the interactive
/// `product_list` and the template `mpm` button (docs/360dialog-api.md §4.8, §4.10).
pub(crate) fn check_product_sections(sp: &str, sections: &[ProductSection]) -> Result<()> {
    check_count(sp, "sections", sections.len(), 1, MAX_SECTIONS)?;
    let total: usize = sections.iter().map(|s| s.product_retailer_ids.len()).sum();
    check_count(sp, "products in total", total, 1, MAX_PRODUCTS)?;
    for (i, s) in sections.iter().enumerate() {
        let p = idx(sp, i);
        section_title(&p, &s.title, sections.len())?;
        for (j, sku) in s.product_retailer_ids.iter().enumerate() {
            check_non_empty(
                &join(&idx(&join(&p, "product_items"), j), "product_retailer_id"),
                sku,
            )?;
        }
    }
    Ok(())
}

/// Section title rule shared by list and product_list: ≤ 24 characters,
/// required when there is more than one section.
fn section_title(path: &str, title: &Option<String>, sections: usize) -> Result<()> {
    match title {
        Some(t) => check_len(&join(path, "title"), t, 1, MAX_SECTION_TITLE),
        None if sections > 1 => Err(Error::invalid(
            join(path, "title"),
            "is required when there is more than one section",
        )),
        None => Ok(()),
    }
}
