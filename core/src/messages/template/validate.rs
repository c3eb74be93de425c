//! The rules of a template message (docs/360dialog-api.md §4.8, §4.10), checked on the
//! typed template before its wire body is written. Components are numbered
//! as sent: header first, then body, then the buttons in order.

use super::*;
use crate::messages::common::{check_len, check_non_empty, idx, join};
use crate::messages::interactive::check_product_sections;
use crate::{Error, Result};

impl Parameter {
    fn validate(&self, path: &str, max_text: usize, allowed: &[&str], place: &str) -> Result<()> {
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
        }
        let no_caption = Some("in a template parameter");
        match &self.value {
            ParamValue::Text(t) => check_len(&join(path, "text"), t, 1, max_text),
            ParamValue::Currency {
                fallback_value,
                code,
                ..
            } => {
                let cp = join(path, "currency");
                check_non_empty(&join(&cp, "fallback_value"), fallback_value)?;
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(Error::invalid(
                        join(&cp, "code"),
                        format!("must be an ISO 4217 code of 3 upper-case letters (got {code:?})"),
                    ));
                }
                Ok(())
            }
            ParamValue::DateTime(f) => check_non_empty(&join(path, "date_time.fallback_value"), f),
            ParamValue::Image(media) => {
                media.validate(&join(path, "image"), no_caption, Some("on an image"))
            }
            ParamValue::Video(media) => {
                media.validate(&join(path, "video"), no_caption, Some("on a video"))
            }
            ParamValue::Document(media) => {
                media.validate(&join(path, "document"), no_caption, None)
            }
            ParamValue::Location(l) => l.validate(&join(path, "location"), true),
        }
    }
}

impl TemplateButton {
    fn validate(&self, path: &str) -> Result<()> {
        if self.index > MAX_BUTTON_INDEX {
            return Err(Error::invalid(
                join(path, "index"),
                format!("must be 0 to 9 (got {})", self.index),
            ));
        }
        let pp = idx(&join(path, "parameters"), 0);
        match &self.param {
            ButtonParam::QuickReply(s) => check_non_empty(&join(&pp, "payload"), s),
            ButtonParam::Url(s) => check_non_empty(&join(&pp, "text"), s),
            ButtonParam::CopyCode(s) => check_non_empty(&join(&pp, "coupon_code"), s),
            ButtonParam::Flow { flow_token, .. } => match flow_token {
                Some(tok) => check_non_empty(&join(&pp, "action.flow_token"), tok),
                None => Ok(()),
            },
            ButtonParam::Catalog {
                thumbnail_product_retailer_id,
            } => check_non_empty(
                &join(&pp, "action.thumbnail_product_retailer_id"),
                thumbnail_product_retailer_id,
            ),
            ButtonParam::Mpm {
                thumbnail_product_retailer_id,
                sections,
            } => {
                check_non_empty(
                    &join(&pp, "action.thumbnail_product_retailer_id"),
                    thumbnail_product_retailer_id,
                )?;
                check_product_sections(&join(&pp, "action.sections"), sections)
            }
        }
    }
}

impl Template {
    /// Check every rule; the first broken one is returned.
    pub(crate) fn validate(&self) -> Result<()> {
        // Checked here, before any request: the API refuses anything else anyway.
        crate::messages::common::validate_template_name("template.name", &self.name)?;
        crate::messages::common::validate_language("template.language.code", &self.language)?;
        let cp = "template.components";
        let mut components = 0;
        // Named xor positional, across header and body.
        let mut first_named: Option<(bool, String)> = None;
        // Only parameters that fill a `{{…}}` placeholder (text, currency, date_time) are
        // named or positional: a media or location header has no placeholder, so it never
        // counts as positional (docs/360dialog-api.md §4.8).
        let mut check_mix = |p: &Parameter, path: &str| -> Result<()> {
            if !matches!(
                p.value,
                ParamValue::Text(_) | ParamValue::Currency { .. } | ParamValue::DateTime(_)
            ) {
                return Ok(());
            }
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
            let path = idx(&join(&idx(cp, components), "parameters"), 0);
            check_mix(h, &path)?;
            h.validate(
                &path,
                MAX_HEADER_PARAM,
                &["text", "image", "video", "document", "location"],
                "header",
            )?;
            components += 1;
        }
        if !self.body.is_empty() {
            let only_body = self.header.is_none() && self.buttons.is_empty();
            let max = if only_body {
                MAX_BODY_ONLY_PARAM
            } else {
                MAX_BODY_PARAM
            };
            let base = join(&idx(cp, components), "parameters");
            for (j, p) in self.body.iter().enumerate() {
                let path = idx(&base, j);
                check_mix(p, &path)?;
                p.validate(&path, max, &["text", "currency", "date_time"], "body")?;
            }
            components += 1;
        }
        let mut seen: Vec<u32> = Vec::new();
        for b in &self.buttons {
            let path = idx(cp, components);
            if seen.contains(&b.index) {
                return Err(Error::invalid(
                    join(&path, "index"),
                    format!("must be unique (button index {} is used twice)", b.index),
                ));
            }
            seen.push(b.index);
            b.validate(&path)?;
            components += 1;
        }
        Ok(())
    }
}
