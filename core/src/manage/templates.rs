//! Message templates: create, list (both 360dialog list shapes, one self-paging
//! iterator), get, delete, and a check of a send against a listed template.
//!
//! The facts relied on are summarised in `docs/management.md` ("Templates").
//!
//! # Create
//!
//! [`TemplateDraft`] is the typed form of `POST /v1/configs/templates`. Its neutral JSON
//! form ([`TemplateDraft::from_json`]) is Meta's template-creation format itself, so the
//! wire body ([`TemplateDraft::to_body`]) is the input, validated and in a fixed key order.
//! Every documented rule is checked before any request; the error is `invalid_argument`
//! naming the field (`components[1].example.body_text`) and the rule.
//!
//! # List
//!
//! [`TemplateLister`] pages by itself over either source:
//! [`TemplateSource::Config`] (`GET /v1/configs/templates`, `waba_templates`, offset
//! paging, filters) or [`TemplateSource::Graph`] (`GET /message_templates`, `data`,
//! cursor paging). [`TemplatePage::parse`] reads one answer of either shape.

use std::collections::{BTreeSet, VecDeque};

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{PagingGuard, query_escape};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::messages::common::{
    Obj, as_string, check_count, check_either, check_len, idx, join, type_name,
};
use crate::messages::interactive::FLOW_ACTIONS;
use crate::retry::RetryClass;

/// Path of 360dialog's template management API.
pub const CONFIG_TEMPLATES_PATH: &str = "/v1/configs/templates";
/// Path of the Graph-style template list.
pub const GRAPH_TEMPLATES_PATH: &str = "/message_templates";
/// Longest template name, in characters.
pub const MAX_NAME: usize = crate::messages::common::MAX_TEMPLATE_NAME;
/// Longest body text of a template, in characters.
pub const MAX_BODY_TEXT: usize = 1024;
/// Longest header text, in characters.
pub const MAX_HEADER_TEXT: usize = 60;
/// Longest footer text, in characters.
pub const MAX_FOOTER_TEXT: usize = 60;
/// Most buttons in one template.
pub const MAX_BUTTONS: usize = 10;
/// Longest button label, in characters.
pub const MAX_BUTTON_TEXT: usize = 25;
/// Most URL buttons in one template.
pub const MAX_URL_BUTTONS: usize = 2;
/// Most phone-number buttons in one template.
pub const MAX_PHONE_BUTTONS: usize = 1;
/// Longest URL of a URL button.
pub const MAX_BUTTON_URL: usize = 2000;
/// Longest phone number of a phone-number button.
pub const MAX_BUTTON_PHONE: usize = 20;
/// Longest copy-code example.
pub const MAX_COPY_CODE: usize = 15;
/// Default page size of the list calls.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page size the list calls send.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The three template categories.
pub const CATEGORIES: [&str; 3] = ["AUTHENTICATION", "MARKETING", "UTILITY"];

/// The placeholders of a text: none, positional `{{1}}..{{n}}`, or named `{{first_name}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholders {
    /// No placeholder.
    None,
    /// `{{1}}` to `{{n}}` (n distinct numbers, each used at least once).
    Positional(usize),
    /// Named placeholders, distinct names in order of first use.
    Named(Vec<String>),
}

impl Placeholders {
    /// How many distinct values the text needs.
    pub fn count(&self) -> usize {
        match self {
            Placeholders::None => 0,
            Placeholders::Positional(n) => *n,
            Placeholders::Named(v) => v.len(),
        }
    }
}

fn is_param_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

/// Read the placeholders of a template text. Positional ones must be `{{1}}` to `{{n}}`
/// without gaps; named ones lowercase letters, digits and `_`, starting with a letter;
/// the two kinds never mix.
pub fn placeholders(field: &str, text: &str) -> Result<Placeholders> {
    let mut numbers = BTreeSet::new();
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(Error::invalid(field, "has a `{{` without a closing `}}`"));
        };
        let inner = &after[..end];
        if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            let n: usize = inner.parse().unwrap_or(0);
            if n == 0 {
                return Err(Error::invalid(
                    field,
                    "placeholders are numbered from {{1}}",
                ));
            }
            numbers.insert(n);
        } else if is_param_name(inner) {
            if !names.iter().any(|x| x == inner) {
                names.push(inner.to_string());
            }
        } else {
            return Err(Error::invalid(
                field,
                format!(
                    "placeholder {{{{{inner}}}}} must be {{{{1}}}}, {{{{2}}}}, … or a name of \
                     lowercase letters, digits and _ such as {{{{first_name}}}}"
                ),
            ));
        }
        rest = &after[end + 2..];
    }
    match (numbers.is_empty(), names.is_empty()) {
        (true, true) => Ok(Placeholders::None),
        (false, false) => Err(Error::invalid(
            field,
            "must not mix positional ({{1}}) and named ({{name}}) placeholders",
        )),
        (false, true) => {
            let n = numbers.len();
            if numbers.iter().copied().ne(1..=n) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "positional placeholders must be {{{{1}}}} to {{{{{n}}}}} without gaps"
                    ),
                ));
            }
            Ok(Placeholders::Positional(n))
        }
        (true, false) => Ok(Placeholders::Named(names)),
    }
}

/// Example values for the placeholders of a header or body text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TextExamples {
    /// No example given.
    #[default]
    None,
    /// One value per positional placeholder, in order.
    Positional(Vec<String>),
    /// `(param_name, example)` per named placeholder.
    Named(Vec<(String, String)>),
}

/// The format of a template header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    /// Text (≤ 60 characters, at most one placeholder).
    Text,
    /// An image sample (`header_handle`).
    Image,
    /// A video sample (`header_handle`).
    Video,
    /// A document sample (`header_handle`).
    Document,
    /// A location (filled at send time).
    Location,
}

impl HeaderFormat {
    /// The wire name, e.g. `IMAGE`.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderFormat::Text => "TEXT",
            HeaderFormat::Image => "IMAGE",
            HeaderFormat::Video => "VIDEO",
            HeaderFormat::Document => "DOCUMENT",
            HeaderFormat::Location => "LOCATION",
        }
    }

    fn parse(field: &str, s: &str) -> Result<HeaderFormat> {
        Ok(match s {
            "TEXT" => HeaderFormat::Text,
            "IMAGE" => HeaderFormat::Image,
            "VIDEO" => HeaderFormat::Video,
            "DOCUMENT" => HeaderFormat::Document,
            "LOCATION" => HeaderFormat::Location,
            other => {
                return Err(Error::invalid(
                    field,
                    format!(
                        "must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION (got {other:?})"
                    ),
                ));
            }
        })
    }
}

/// A button of a template definition.
#[derive(Debug, Clone, PartialEq)]
pub enum ButtonDef {
    /// `QUICK_REPLY`: a label the user taps; its payload is set at send time.
    QuickReply {
        /// Label (≤ 25).
        text: String,
    },
    /// `URL`: a link, optionally with one `{{1}}` at the end filled at send time.
    Url {
        /// Label (≤ 25).
        text: String,
        /// http(s) URL (≤ 2000).
        url: String,
        /// A full example URL, required when `url` has a placeholder.
        example: Option<String>,
    },
    /// `PHONE_NUMBER`: calls a number.
    PhoneNumber {
        /// Label (≤ 25).
        text: String,
        /// Phone number (≤ 20).
        phone_number: String,
    },
    /// `COPY_CODE`: copies a coupon code given at send time.
    CopyCode {
        /// Example code (≤ 15).
        example: String,
    },
    /// `FLOW`: opens a WhatsApp Flow.
    Flow {
        /// Label (≤ 25).
        text: String,
        /// Exactly one of `flow_id`, `flow_name`, `flow_json`.
        flow_id: Option<String>,
        /// Flow name.
        flow_name: Option<String>,
        /// Flow JSON (as a string).
        flow_json: Option<String>,
        /// `navigate` or `data_exchange`.
        flow_action: Option<String>,
        /// First screen for `navigate`.
        navigate_screen: Option<String>,
    },
    /// `OTP` (authentication templates): `otp_type` and its options, kept as given.
    Otp {
        /// `COPY_CODE`, `ONE_TAP` or `ZERO_TAP`.
        otp_type: String,
        /// The other fields of the button (label, package name, …), in order.
        extra: Map<String, Value>,
    },
}

impl ButtonDef {
    /// The wire type, e.g. `QUICK_REPLY`.
    pub fn kind(&self) -> &'static str {
        match self {
            ButtonDef::QuickReply { .. } => "QUICK_REPLY",
            ButtonDef::Url { .. } => "URL",
            ButtonDef::PhoneNumber { .. } => "PHONE_NUMBER",
            ButtonDef::CopyCode { .. } => "COPY_CODE",
            ButtonDef::Flow { .. } => "FLOW",
            ButtonDef::Otp { .. } => "OTP",
        }
    }
}

/// One component of a template definition.
#[derive(Debug, Clone, PartialEq)]
pub enum ComponentDef {
    /// `HEADER`.
    Header {
        /// Format.
        format: HeaderFormat,
        /// Text (format `TEXT` only).
        text: Option<String>,
        /// Examples of the text placeholder (format `TEXT`).
        examples: TextExamples,
        /// Sample handles from the resumable upload (media formats).
        handles: Vec<String>,
    },
    /// `BODY`.
    Body {
        /// Text (≤ 1024); optional only in authentication templates.
        text: Option<String>,
        /// Examples of its placeholders.
        examples: TextExamples,
        /// Authentication templates: add the security recommendation.
        add_security_recommendation: Option<bool>,
    },
    /// `FOOTER`.
    Footer {
        /// Text (≤ 60).
        text: Option<String>,
        /// Authentication templates: code expiry in minutes (1..90).
        code_expiration_minutes: Option<i64>,
    },
    /// `BUTTONS`.
    Buttons(Vec<ButtonDef>),
}

impl ComponentDef {
    fn kind(&self) -> &'static str {
        match self {
            ComponentDef::Header { .. } => "HEADER",
            ComponentDef::Body { .. } => "BODY",
            ComponentDef::Footer { .. } => "FOOTER",
            ComponentDef::Buttons(_) => "BUTTONS",
        }
    }
}

/// A template to create (`POST /v1/configs/templates`).
///
/// ```
/// use wa360::manage::templates::{ComponentDef, TemplateDraft, TextExamples};
/// let draft = TemplateDraft::new("order_update", "UTILITY", "en_US").component(
///     ComponentDef::Body {
///         text: Some("Hi {{1}}, order {{2}} ships today.".into()),
///         examples: TextExamples::Positional(vec!["Maya".into(), "4471".into()]),
///         add_security_recommendation: None,
///     },
/// );
/// let body = draft.to_body()?;
/// assert_eq!(body["components"][0]["example"]["body_text"][0][1], "4471");
/// # Ok::<(), wa360::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDraft {
    /// Name: lowercase letters, digits and `_`, at most 512 characters.
    pub name: String,
    /// `AUTHENTICATION`, `MARKETING` or `UTILITY`.
    pub category: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// Components in order.
    pub components: Vec<ComponentDef>,
    /// Let Meta change the category instead of rejecting the template.
    pub allow_category_change: Option<bool>,
    /// `POSITIONAL` or `NAMED`, when given.
    pub parameter_format: Option<String>,
    /// Create from Meta's template library.
    pub library_template_name: Option<String>,
    /// Button inputs of a library template (kept as given).
    pub library_template_button_inputs: Option<Value>,
}

impl TemplateDraft {
    /// A draft without components.
    pub fn new(
        name: impl Into<String>,
        category: impl Into<String>,
        language: impl Into<String>,
    ) -> Self {
        TemplateDraft {
            name: name.into(),
            category: category.into(),
            language: language.into(),
            components: Vec::new(),
            allow_category_change: None,
            parameter_format: None,
            library_template_name: None,
            library_template_button_inputs: None,
        }
    }

    /// Add a component.
    #[must_use]
    pub fn component(mut self, c: ComponentDef) -> Self {
        self.components.push(c);
        self
    }

    /// Read the neutral form, which is Meta's template-creation JSON:
    /// `{"name","category","language","components":[{"type":"HEADER"|"BODY"|"FOOTER"|"BUTTONS",…}],
    /// "allow_category_change"?, "parameter_format"?, "library_template_name"?,
    /// "library_template_button_inputs"?}`. Unknown keys are rejected by path.
    /// Call [`TemplateDraft::validate`] (or [`TemplateDraft::to_body`]) for the rules.
    pub fn from_json(v: &Value) -> Result<TemplateDraft> {
        let mut o = Obj::new("", v)?;
        let name = o.req_str("name")?;
        let category = o.req_str("category")?;
        let language = o.req_str("language")?;
        let allow_category_change = o.opt_bool("allow_category_change")?;
        let parameter_format = o.opt_str("parameter_format")?;
        let library_template_name = o.opt_str("library_template_name")?;
        let library_template_button_inputs = o.opt_value("library_template_button_inputs");
        let components = match o.opt_arr("components")? {
            None => Vec::new(),
            Some(a) => a
                .iter()
                .enumerate()
                .map(|(i, c)| component_from_json(&idx("components", i), c))
                .collect::<Result<Vec<_>>>()?,
        };
        o.finish()?;
        Ok(TemplateDraft {
            name,
            category,
            language,
            components,
            allow_category_change,
            parameter_format,
            library_template_name,
            library_template_button_inputs,
        })
    }

    /// Check every documented rule (see `docs/management.md`).
    pub fn validate(&self) -> Result<()> {
        self.to_body().map(|_| ())
    }

    /// The exact wire body, after checking every rule.
    pub fn to_body(&self) -> Result<Value> {
        validate_template_name("name", &self.name)?;
        if !CATEGORIES.contains(&self.category.as_str()) {
            return Err(Error::invalid(
                "category",
                format!(
                    "must be one of AUTHENTICATION, MARKETING, UTILITY (got {:?})",
                    self.category
                ),
            ));
        }
        validate_language("language", &self.language)?;
        let auth = self.category == "AUTHENTICATION";
        if let Some(pf) = &self.parameter_format
            && pf != "POSITIONAL"
            && pf != "NAMED"
        {
            return Err(Error::invalid(
                "parameter_format",
                format!("must be POSITIONAL or NAMED (got {pf:?})"),
            ));
        }
        let library = self.library_template_name.is_some();
        if let Some(l) = &self.library_template_name {
            check_len("library_template_name", l, 1, MAX_NAME)?;
        }
        if self.components.is_empty() && !library {
            return Err(Error::invalid(
                "components",
                "must hold at least a BODY component (or give library_template_name)",
            ));
        }
        let mut seen: Vec<&'static str> = Vec::new();
        let mut has_body = false;
        let mut kinds = PlaceholderKinds::default();
        let mut out = Vec::new();
        for (i, c) in self.components.iter().enumerate() {
            let path = idx("components", i);
            if seen.contains(&c.kind()) {
                return Err(Error::invalid(
                    join(&path, "type"),
                    format!("a template has at most one {} component", c.kind()),
                ));
            }
            seen.push(c.kind());
            if matches!(c, ComponentDef::Body { .. }) {
                has_body = true;
            }
            out.push(component_to_value(&path, c, auth, &mut kinds)?);
        }
        if !has_body && !library {
            return Err(Error::invalid("components", "must hold a BODY component"));
        }
        match (self.parameter_format.as_deref(), kinds.first_named) {
            (Some("POSITIONAL"), Some(true)) => {
                return Err(Error::invalid(
                    "parameter_format",
                    "is POSITIONAL but the texts use named placeholders",
                ));
            }
            (Some("NAMED"), Some(false)) => {
                return Err(Error::invalid(
                    "parameter_format",
                    "is NAMED but the texts use positional placeholders",
                ));
            }
            _ => {}
        }
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("category".into(), json!(self.category));
        m.insert("language".into(), json!(self.language));
        if let Some(b) = self.allow_category_change {
            m.insert("allow_category_change".into(), json!(b));
        }
        if let Some(pf) = &self.parameter_format {
            m.insert("parameter_format".into(), json!(pf));
        }
        if let Some(l) = &self.library_template_name {
            m.insert("library_template_name".into(), json!(l));
        }
        if let Some(b) = &self.library_template_button_inputs {
            if !b.is_array() {
                return Err(Error::invalid(
                    "library_template_button_inputs",
                    format!("must be an array (got {})", type_name(b)),
                ));
            }
            m.insert("library_template_button_inputs".into(), b.clone());
        }
        if !out.is_empty() {
            m.insert("components".into(), Value::Array(out));
        }
        Ok(Value::Object(m))
    }
}

// The name and language rules live with the template message, which checks them before
// a send; the management helpers use the same ones.
pub use crate::messages::common::{validate_language, validate_template_name};

#[derive(Default)]
struct PlaceholderKinds {
    first_named: Option<bool>,
}

impl PlaceholderKinds {
    fn note(&mut self, field: &str, p: &Placeholders) -> Result<()> {
        let named = match p {
            Placeholders::None => return Ok(()),
            Placeholders::Positional(_) => false,
            Placeholders::Named(_) => true,
        };
        match self.first_named {
            None => self.first_named = Some(named),
            Some(n) if n != named => {
                return Err(Error::invalid(
                    field,
                    "must not mix positional ({{1}}) and named ({{name}}) placeholders across components",
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }
}

fn str_list(path: &str, v: &Value) -> Result<Vec<String>> {
    let a = match v {
        Value::Array(a) => a,
        other => {
            return Err(Error::invalid(
                path,
                format!("must be an array of strings (got {})", type_name(other)),
            ));
        }
    };
    a.iter()
        .enumerate()
        .map(|(i, x)| as_string(&idx(path, i), x))
        .collect()
}

fn named_list(path: &str, v: &Value) -> Result<Vec<(String, String)>> {
    let a = match v {
        Value::Array(a) => a,
        other => {
            return Err(Error::invalid(
                path,
                format!("must be an array (got {})", type_name(other)),
            ));
        }
    };
    a.iter()
        .enumerate()
        .map(|(i, x)| {
            let mut o = Obj::new(&idx(path, i), x)?;
            let n = o.req_str("param_name")?;
            let e = o.req_str("example")?;
            o.finish()?;
            Ok((n, e))
        })
        .collect()
}

fn component_from_json(path: &str, v: &Value) -> Result<ComponentDef> {
    let mut o = Obj::new(path, v)?;
    let kind = o.req_str("type")?;
    let c = match kind.as_str() {
        "HEADER" => {
            let format = HeaderFormat::parse(&o.at("format"), &o.req_str("format")?)?;
            let text = o.opt_str("text")?;
            let mut examples = TextExamples::None;
            let mut handles = Vec::new();
            if let Some(ex) = o.opt_value("example") {
                let mut e = Obj::new(&o.at("example"), &ex)?;
                if let Some(t) = e.opt_value("header_text") {
                    examples = TextExamples::Positional(str_list(&e.at("header_text"), &t)?);
                }
                if let Some(t) = e.opt_value("header_text_named_params") {
                    examples =
                        TextExamples::Named(named_list(&e.at("header_text_named_params"), &t)?);
                }
                if let Some(h) = e.opt_value("header_handle") {
                    handles = str_list(&e.at("header_handle"), &h)?;
                }
                e.finish()?;
            }
            ComponentDef::Header {
                format,
                text,
                examples,
                handles,
            }
        }
        "BODY" => {
            let text = o.opt_str("text")?;
            let add_security_recommendation = o.opt_bool("add_security_recommendation")?;
            let mut examples = TextExamples::None;
            if let Some(ex) = o.opt_value("example") {
                let mut e = Obj::new(&o.at("example"), &ex)?;
                if let Some(t) = e.opt_value("body_text") {
                    let p = e.at("body_text");
                    let rows = match &t {
                        Value::Array(rows) => rows.clone(),
                        other => {
                            return Err(Error::invalid(
                                p,
                                format!(
                                    "must be an array holding one array of strings (got {})",
                                    type_name(other)
                                ),
                            ));
                        }
                    };
                    check_count(&p, "example row", rows.len(), 1, 1)?;
                    examples = TextExamples::Positional(str_list(&idx(&p, 0), &rows[0])?);
                }
                if let Some(t) = e.opt_value("body_text_named_params") {
                    examples =
                        TextExamples::Named(named_list(&e.at("body_text_named_params"), &t)?);
                }
                e.finish()?;
            }
            ComponentDef::Body {
                text,
                examples,
                add_security_recommendation,
            }
        }
        "FOOTER" => {
            let text = o.opt_str("text")?;
            let code_expiration_minutes = match o.opt_value("code_expiration_minutes") {
                None => None,
                Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
                Some(other) => {
                    return Err(Error::invalid(
                        o.at("code_expiration_minutes"),
                        format!("must be an integer (got {})", type_name(&other)),
                    ));
                }
            };
            ComponentDef::Footer {
                text,
                code_expiration_minutes,
            }
        }
        "BUTTONS" => {
            let p = o.at("buttons");
            let list = o.req_arr("buttons")?;
            let buttons = list
                .iter()
                .enumerate()
                .map(|(i, b)| button_from_json(&idx(&p, i), b))
                .collect::<Result<Vec<_>>>()?;
            ComponentDef::Buttons(buttons)
        }
        other => {
            return Err(Error::invalid(
                o.at("type"),
                format!("must be one of HEADER, BODY, FOOTER, BUTTONS (got {other:?})"),
            ));
        }
    };
    o.finish()?;
    Ok(c)
}

fn button_from_json(path: &str, v: &Value) -> Result<ButtonDef> {
    let mut o = Obj::new(path, v)?;
    let kind = o.req_str("type")?;
    let b = match kind.as_str() {
        "QUICK_REPLY" => ButtonDef::QuickReply {
            text: o.req_str("text")?,
        },
        "URL" => {
            let text = o.req_str("text")?;
            let url = o.req_str("url")?;
            let example = match o.opt_value("example") {
                None => None,
                Some(Value::String(s)) => Some(s),
                Some(v) => {
                    let l = str_list(&o.at("example"), &v)?;
                    check_count(&o.at("example"), "example URL", l.len(), 1, 1)?;
                    l.into_iter().next()
                }
            };
            ButtonDef::Url { text, url, example }
        }
        "PHONE_NUMBER" => ButtonDef::PhoneNumber {
            text: o.req_str("text")?,
            phone_number: o.req_str("phone_number")?,
        },
        "COPY_CODE" => {
            let example = match o.req_value("example")? {
                Value::String(s) => s,
                v => {
                    let l = str_list(&o.at("example"), &v)?;
                    check_count(&o.at("example"), "example code", l.len(), 1, 1)?;
                    l.into_iter().next().unwrap_or_default()
                }
            };
            ButtonDef::CopyCode { example }
        }
        "FLOW" => ButtonDef::Flow {
            text: o.req_str("text")?,
            flow_id: o.opt_str("flow_id")?,
            flow_name: o.opt_str("flow_name")?,
            flow_json: o.opt_str("flow_json")?,
            flow_action: o.opt_str("flow_action")?,
            navigate_screen: o.opt_str("navigate_screen")?,
        },
        "OTP" => {
            let otp_type = o.req_str("otp_type")?;
            // The remaining OTP options are passed through in order.
            let mut extra = Map::new();
            for key in [
                "text",
                "autofill_text",
                "package_name",
                "signature_hash",
                "zero_tap_terms_accepted",
                "supported_apps",
            ] {
                if let Some(v) = o.opt_value(key) {
                    extra.insert(key.into(), v);
                }
            }
            ButtonDef::Otp { otp_type, extra }
        }
        other => {
            return Err(Error::invalid(
                o.at("type"),
                format!(
                    "must be one of QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, FLOW, OTP (got {other:?})"
                ),
            ));
        }
    };
    o.finish()?;
    Ok(b)
}

/// Check the examples against the placeholders of `text` and write them.
fn examples_value(
    path: &str,
    kind_key: (&str, &str),
    ph: &Placeholders,
    examples: &TextExamples,
    body: bool,
) -> Result<Option<Value>> {
    let (pos_key, named_key) = kind_key;
    let ex_path = join(path, "example");
    match (ph, examples) {
        (Placeholders::None, TextExamples::None) => Ok(None),
        (Placeholders::None, _) => Err(Error::invalid(
            ex_path,
            "gives examples but the text has no placeholder",
        )),
        (_, TextExamples::None) => Err(Error::invalid(
            join(
                &ex_path,
                if matches!(ph, Placeholders::Named(_)) {
                    named_key
                } else {
                    pos_key
                },
            ),
            format!(
                "is required: the text has {} placeholder(s), each needs an example value",
                ph.count()
            ),
        )),
        (Placeholders::Positional(n), TextExamples::Positional(values)) => {
            let f = join(&ex_path, pos_key);
            if values.len() != *n {
                return Err(Error::invalid(
                    f,
                    format!(
                        "must hold one example per placeholder: the text has {n}, got {}",
                        values.len()
                    ),
                ));
            }
            for (i, v) in values.iter().enumerate() {
                let fp = if body {
                    idx(&idx(&f, 0), i)
                } else {
                    idx(&f, i)
                };
                check_len(&fp, v, 1, MAX_BODY_TEXT)?;
            }
            let list = json!(values);
            Ok(Some(if body {
                json!({ pos_key: [list] })
            } else {
                json!({ pos_key: list })
            }))
        }
        (Placeholders::Named(names), TextExamples::Named(values)) => {
            let f = join(&ex_path, named_key);
            let given: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
            for (i, (n, e)) in values.iter().enumerate() {
                if !names.iter().any(|x| x == n) {
                    return Err(Error::invalid(
                        join(&idx(&f, i), "param_name"),
                        format!("{n:?} is not a placeholder of the text"),
                    ));
                }
                if given.iter().filter(|g| **g == n).count() > 1 {
                    return Err(Error::invalid(
                        join(&idx(&f, i), "param_name"),
                        format!("{n:?} is given twice"),
                    ));
                }
                check_len(&join(&idx(&f, i), "example"), e, 1, MAX_BODY_TEXT)?;
            }
            if let Some(missing) = names.iter().find(|n| !given.contains(&n.as_str())) {
                return Err(Error::invalid(
                    f,
                    format!("must give an example for every placeholder ({missing:?} is missing)"),
                ));
            }
            let list: Vec<Value> = values
                .iter()
                .map(|(n, e)| json!({"param_name": n, "example": e}))
                .collect();
            Ok(Some(json!({ named_key: list })))
        }
        (Placeholders::Positional(_), TextExamples::Named(_)) => Err(Error::invalid(
            join(&ex_path, named_key),
            "the text uses positional placeholders: give the examples as a list",
        )),
        (Placeholders::Named(_), TextExamples::Positional(_)) => Err(Error::invalid(
            join(&ex_path, pos_key),
            "the text uses named placeholders: give {param_name, example} pairs",
        )),
    }
}

fn component_to_value(
    path: &str,
    c: &ComponentDef,
    auth: bool,
    kinds: &mut PlaceholderKinds,
) -> Result<Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(c.kind()));
    match c {
        ComponentDef::Header {
            format,
            text,
            examples,
            handles,
        } => {
            m.insert("format".into(), json!(format.as_str()));
            if *format == HeaderFormat::Text {
                let f = join(path, "text");
                let t = text
                    .as_deref()
                    .ok_or_else(|| Error::invalid(&f, "is required for a TEXT header"))?;
                check_len(&f, t, 1, MAX_HEADER_TEXT)?;
                let ph = placeholders(&f, t)?;
                if ph.count() > 1 {
                    return Err(Error::invalid(
                        &f,
                        format!(
                            "a header text has at most 1 placeholder (got {})",
                            ph.count()
                        ),
                    ));
                }
                kinds.note(&f, &ph)?;
                if !handles.is_empty() {
                    return Err(Error::invalid(
                        join(path, "example.header_handle"),
                        "is only for IMAGE, VIDEO and DOCUMENT headers",
                    ));
                }
                m.insert("text".into(), json!(t));
                if let Some(ex) = examples_value(
                    path,
                    ("header_text", "header_text_named_params"),
                    &ph,
                    examples,
                    false,
                )? {
                    m.insert("example".into(), ex);
                }
            } else {
                if text.is_some() {
                    return Err(Error::invalid(
                        join(path, "text"),
                        format!("is only for TEXT headers (format is {})", format.as_str()),
                    ));
                }
                if *examples != TextExamples::None {
                    return Err(Error::invalid(
                        join(path, "example"),
                        "header_text examples are only for TEXT headers",
                    ));
                }
                if *format == HeaderFormat::Location {
                    if !handles.is_empty() {
                        return Err(Error::invalid(
                            join(path, "example.header_handle"),
                            "a LOCATION header takes no sample",
                        ));
                    }
                } else {
                    let f = join(path, "example.header_handle");
                    if handles.len() != 1 {
                        return Err(Error::invalid(
                            f,
                            format!(
                                "must hold exactly 1 sample handle from the resumable upload for a {} header (got {})",
                                format.as_str(),
                                handles.len()
                            ),
                        ));
                    }
                    check_len(&idx(&f, 0), &handles[0], 1, 4096)?;
                    m.insert("example".into(), json!({"header_handle": handles}));
                }
            }
        }
        ComponentDef::Body {
            text,
            examples,
            add_security_recommendation,
        } => {
            let f = join(path, "text");
            match text {
                Some(t) => {
                    check_len(&f, t, 1, MAX_BODY_TEXT)?;
                    let ph = placeholders(&f, t)?;
                    kinds.note(&f, &ph)?;
                    m.insert("text".into(), json!(t));
                    if let Some(ex) = examples_value(
                        path,
                        ("body_text", "body_text_named_params"),
                        &ph,
                        examples,
                        true,
                    )? {
                        m.insert("example".into(), ex);
                    }
                }
                None if auth => {
                    if *examples != TextExamples::None {
                        return Err(Error::invalid(
                            join(path, "example"),
                            "an authentication body has a fixed text and takes no example",
                        ));
                    }
                }
                None => return Err(Error::invalid(f, "is required")),
            }
            if let Some(b) = add_security_recommendation {
                if !auth {
                    return Err(Error::invalid(
                        join(path, "add_security_recommendation"),
                        "is only for AUTHENTICATION templates",
                    ));
                }
                m.insert("add_security_recommendation".into(), json!(b));
            }
        }
        ComponentDef::Footer {
            text,
            code_expiration_minutes,
        } => {
            if let Some(t) = text {
                let f = join(path, "text");
                check_len(&f, t, 1, MAX_FOOTER_TEXT)?;
                if placeholders(&f, t)? != Placeholders::None {
                    return Err(Error::invalid(f, "a footer takes no placeholder"));
                }
                m.insert("text".into(), json!(t));
            }
            if let Some(mins) = code_expiration_minutes {
                let f = join(path, "code_expiration_minutes");
                if !auth {
                    return Err(Error::invalid(f, "is only for AUTHENTICATION templates"));
                }
                if !(1..=90).contains(mins) {
                    return Err(Error::invalid(
                        f,
                        format!("must be 1 to 90 minutes (got {mins})"),
                    ));
                }
                m.insert("code_expiration_minutes".into(), json!(mins));
            }
            if text.is_none() && code_expiration_minutes.is_none() {
                return Err(Error::invalid(join(path, "text"), "is required"));
            }
        }
        ComponentDef::Buttons(buttons) => {
            let bp = join(path, "buttons");
            check_count(&bp, "buttons", buttons.len(), 1, MAX_BUTTONS)?;
            let count = |k: &str| buttons.iter().filter(|b| b.kind() == k).count();
            if count("URL") > MAX_URL_BUTTONS {
                return Err(Error::invalid(
                    &bp,
                    format!(
                        "must hold at most {MAX_URL_BUTTONS} URL buttons (got {})",
                        count("URL")
                    ),
                ));
            }
            if count("PHONE_NUMBER") > MAX_PHONE_BUTTONS {
                return Err(Error::invalid(
                    &bp,
                    format!("must hold at most {MAX_PHONE_BUTTONS} PHONE_NUMBER button"),
                ));
            }
            if count("COPY_CODE") > 1 {
                return Err(Error::invalid(&bp, "must hold at most 1 COPY_CODE button"));
            }
            if count("OTP") > 0 && !auth {
                return Err(Error::invalid(
                    &bp,
                    "OTP buttons are only for AUTHENTICATION templates",
                ));
            }
            let list = buttons
                .iter()
                .enumerate()
                .map(|(i, b)| button_to_value(&idx(&bp, i), b))
                .collect::<Result<Vec<_>>>()?;
            m.insert("buttons".into(), Value::Array(list));
        }
    }
    Ok(Value::Object(m))
}

fn button_to_value(path: &str, b: &ButtonDef) -> Result<Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(b.kind()));
    let label = |m: &mut Map<String, Value>, t: &str| -> Result<()> {
        check_len(&join(path, "text"), t, 1, MAX_BUTTON_TEXT)?;
        m.insert("text".into(), json!(t));
        Ok(())
    };
    match b {
        ButtonDef::QuickReply { text } => label(&mut m, text)?,
        ButtonDef::Url { text, url, example } => {
            label(&mut m, text)?;
            let f = join(path, "url");
            check_len(&f, url, 1, MAX_BUTTON_URL)?;
            let ph = placeholders(&f, url)?;
            let base = url.replace("{{1}}", "x");
            crate::messages::common::check_http_url(&f, &base)?;
            match ph {
                Placeholders::None => {}
                Placeholders::Positional(1) if url.ends_with("{{1}}") => {}
                _ => {
                    return Err(Error::invalid(
                        &f,
                        "may hold one placeholder, {{1}}, only at the end",
                    ));
                }
            }
            m.insert("url".into(), json!(url));
            match (ph.count(), example) {
                (0, None) => {}
                (0, Some(_)) => {
                    return Err(Error::invalid(
                        join(path, "example"),
                        "is only for a URL with a {{1}} placeholder",
                    ));
                }
                (_, None) => {
                    return Err(Error::invalid(
                        join(path, "example"),
                        "is required: a full example URL for the {{1}} placeholder",
                    ));
                }
                (_, Some(e)) => {
                    crate::messages::common::check_http_url(&join(path, "example"), e)?;
                    m.insert("example".into(), json!([e]));
                }
            }
        }
        ButtonDef::PhoneNumber { text, phone_number } => {
            label(&mut m, text)?;
            let f = join(path, "phone_number");
            check_len(&f, phone_number, 1, MAX_BUTTON_PHONE)?;
            let digits = phone_number.strip_prefix('+').unwrap_or(phone_number);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    f,
                    "must be a phone number in international format (digits, optional leading +)",
                ));
            }
            m.insert("phone_number".into(), json!(phone_number));
        }
        ButtonDef::CopyCode { example } => {
            check_len(&join(path, "example"), example, 1, MAX_COPY_CODE)?;
            m.insert("example".into(), json!(example));
        }
        ButtonDef::Flow {
            text,
            flow_id,
            flow_name,
            flow_json,
            flow_action,
            navigate_screen,
        } => {
            label(&mut m, text)?;
            let n = [flow_id, flow_name, flow_json]
                .iter()
                .filter(|x| x.is_some())
                .count();
            if n != 1 {
                return Err(Error::invalid(
                    path,
                    format!("must give exactly one of flow_id, flow_name, flow_json (got {n})"),
                ));
            }
            for (k, v) in [
                ("flow_id", flow_id),
                ("flow_name", flow_name),
                ("flow_json", flow_json),
            ] {
                if let Some(v) = v {
                    check_len(&join(path, k), v, 1, 100_000)?;
                    m.insert(k.into(), json!(v));
                }
            }
            if let Some(a) = flow_action {
                check_either(&join(path, "flow_action"), a, FLOW_ACTIONS)?;
                m.insert("flow_action".into(), json!(a));
            }
            if let Some(s) = navigate_screen {
                check_len(&join(path, "navigate_screen"), s, 1, 256)?;
                m.insert("navigate_screen".into(), json!(s));
            }
        }
        ButtonDef::Otp { otp_type, extra } => {
            if !["COPY_CODE", "ONE_TAP", "ZERO_TAP"].contains(&otp_type.as_str()) {
                return Err(Error::invalid(
                    join(path, "otp_type"),
                    format!("must be COPY_CODE, ONE_TAP or ZERO_TAP (got {otp_type:?})"),
                ));
            }
            m.insert("otp_type".into(), json!(otp_type));
            if let Some(t) = extra.get("text").and_then(Value::as_str) {
                check_len(&join(path, "text"), t, 1, MAX_BUTTON_TEXT)?;
            }
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(m))
}

// ---------------------------------------------------------------------------
// Listed templates
// ---------------------------------------------------------------------------

/// A template as listed by either list call (or returned by get / create).
/// Unknown fields are kept in `raw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateInfo {
    /// Template id, as a string (`id`, or 360dialog's `external_id`).
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Category, e.g. `MARKETING`.
    pub category: Option<String>,
    /// Status, e.g. `APPROVED`, `PENDING`, `REJECTED` (kept as sent).
    pub status: Option<String>,
    /// Why it was rejected, when it was.
    pub rejected_reason: Option<String>,
    /// Quality score (`quality_score.score` or a plain string), when sent.
    pub quality_score: Option<String>,
    /// `POSITIONAL` / `NAMED`, when sent.
    pub parameter_format: Option<String>,
    /// Components as sent (Meta's template-creation format).
    pub components: Vec<Value>,
}

fn str_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl TemplateInfo {
    /// Read one listed template leniently: `name` is required; `language` may be a
    /// string or `{"code": …}`; ids may be numbers or strings.
    pub fn from_value(v: &Value) -> Result<TemplateInfo> {
        let bad = |reason: &str| Error::InvalidResponse {
            status: 200,
            reason: format!("template entry {reason}"),
        };
        let o = v.as_object().ok_or_else(|| bad("is not an object"))?;
        let name = str_of(o.get("name")).ok_or_else(|| bad("has no name"))?;
        let language = match o.get("language") {
            Some(Value::Object(l)) => str_of(l.get("code")),
            other => str_of(other),
        }
        .unwrap_or_default();
        let quality_score = match o.get("quality_score") {
            Some(Value::Object(q)) => str_of(q.get("score")),
            other => str_of(other),
        };
        let components = match o.get("components") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        Ok(TemplateInfo {
            id: str_of(o.get("id")).or_else(|| str_of(o.get("external_id"))),
            name,
            language,
            category: str_of(o.get("category")),
            status: str_of(o.get("status")),
            rejected_reason: str_of(o.get("rejected_reason")),
            quality_score,
            parameter_format: str_of(o.get("parameter_format")),
            components,
        })
    }

    /// The canonical JSON form (the same in every language).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The `type` of each component (upper case), in order.
    fn component(&self, kind: &str) -> Option<&Value> {
        self.components.iter().find(|c| {
            c.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
    }
}

/// One page of a template list, in either shape.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePage {
    /// The templates of this page.
    pub templates: Vec<TemplateInfo>,
    /// Graph shape: the `after` cursor of the next page, when `paging.next` says there is one.
    pub after: Option<String>,
    /// Config shape: `total` when the answer carries it (never `count`, which may be the page's length).
    pub total: Option<u64>,
    /// Which shape was read: `waba_templates` or `data`.
    pub shape: &'static str,
}

impl TemplatePage {
    /// Read one list answer: `{"waba_templates": […], "total"?}` or
    /// `{"data": […], "paging": {"cursors": {"after"}, "next"?}}`.
    pub fn parse(v: &Value) -> Result<TemplatePage> {
        let bad = |reason: String| Error::InvalidResponse {
            status: 200,
            reason,
        };
        let read = |a: &Value, key: &str| -> Result<Vec<TemplateInfo>> {
            match a {
                Value::Array(items) => items.iter().map(TemplateInfo::from_value).collect(),
                Value::Null => Ok(Vec::new()),
                other => Err(bad(format!(
                    "template list `{key}` is {} instead of an array",
                    type_name(other)
                ))),
            }
        };
        if let Some(list) = v.get("waba_templates") {
            // Only `total` ends the list early: `count` may be the page's own length (the
            // keys beside `waba_templates` are undocumented, docs/360dialog-api.md §9 #20).
            let total = v.get("total").and_then(Value::as_u64);
            return Ok(TemplatePage {
                templates: read(list, "waba_templates")?,
                after: None,
                total,
                shape: "waba_templates",
            });
        }
        if let Some(list) = v.get("data") {
            let paging = v.get("paging");
            let has_next = paging
                .and_then(|p| p.get("next"))
                .is_some_and(|n| n.as_str().is_some_and(|s| !s.is_empty()));
            let after = paging
                .and_then(|p| p.get("cursors"))
                .and_then(|c| c.get("after"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && has_next)
                .map(str::to_string);
            return Ok(TemplatePage {
                templates: read(list, "data")?,
                after,
                total: None,
                shape: "data",
            });
        }
        Err(bad(
            "template list answer has neither `waba_templates` nor `data`".into(),
        ))
    }

    /// The canonical JSON form of the page (conformance suite `template_list_parse`).
    pub fn to_json(&self) -> Value {
        json!({
            "shape": self.shape,
            "templates": self.templates.iter().map(TemplateInfo::to_json).collect::<Vec<_>>(),
            "after": self.after,
            "total": self.total,
        })
    }
}

/// Which list call a [`TemplateLister`] pages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemplateSource {
    /// `GET /v1/configs/templates` (`waba_templates`, offset paging, filters).
    #[default]
    Config,
    /// `GET /message_templates` (`data`, cursor paging).
    Graph,
}

impl TemplateSource {
    /// Parse `config` or `graph`.
    pub fn parse(s: &str) -> Result<TemplateSource> {
        match s {
            "config" => Ok(TemplateSource::Config),
            "graph" => Ok(TemplateSource::Graph),
            other => Err(Error::invalid(
                "source",
                format!("must be config or graph (got {other:?})"),
            )),
        }
    }
}

/// Options of a template listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOptions {
    /// Which call to page over.
    pub source: TemplateSource,
    /// Page size (1..=1000, default 100).
    pub page_size: Option<u32>,
    /// Only templates with this name (Config: filter `business_templates.name`;
    /// Graph: `name` query parameter).
    pub name: Option<String>,
    /// Only templates with this status (e.g. `APPROVED`).
    pub status: Option<String>,
    /// Only this language (checked on the listed entries).
    pub language: Option<String>,
    /// Config only: `sort` as given (e.g. `business_templates.name`).
    pub sort: Option<String>,
    /// Stop after this many templates.
    pub max_items: Option<u64>,
}

impl ListOptions {
    /// The options of the CLI's and the bindings' list calls: the listing `source` by name
    /// (`config` / `graph`), the filters, the page size and a limit (`max_items`); no sort.
    /// An unknown source is an `invalid_argument` error; the rest is checked when listing.
    pub fn from_parts(
        source: &str,
        name: Option<String>,
        status: Option<String>,
        language: Option<String>,
        page_size: Option<u32>,
        limit: Option<u64>,
    ) -> Result<ListOptions> {
        Ok(ListOptions {
            source: TemplateSource::parse(source)?,
            page_size,
            name,
            status,
            language,
            sort: None,
            max_items: limit,
        })
    }

    fn validate(&self) -> Result<()> {
        // The same rule for every language (Node's `limit: 0` listed nothing, Python's
        // was refused).
        if self.max_items == Some(0) {
            return Err(Error::invalid(
                "limit",
                "must be at least 1 (or absent: no limit)",
            ));
        }
        if let Some(n) = self.page_size
            && !(1..=MAX_PAGE_SIZE).contains(&n)
        {
            return Err(Error::invalid(
                "page_size",
                format!("must be 1 to {MAX_PAGE_SIZE} (got {n})"),
            ));
        }
        if let Some(n) = &self.name {
            validate_template_name("name", n)?;
        }
        if let Some(s) = &self.status
            && (s.is_empty() || !s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        {
            return Err(Error::invalid(
                "status",
                "must be an upper-case status such as APPROVED",
            ));
        }
        if let Some(l) = &self.language {
            validate_language("language", l)?;
        }
        if let Some(s) = &self.sort
            && (s.is_empty() || s.contains(['&', '#', ' ']))
        {
            return Err(Error::invalid(
                "sort",
                "must be a field name such as business_templates.name",
            ));
        }
        Ok(())
    }
}

/// A self-paging iterator over listed templates. Pages are fetched as they are
/// needed; an error is returned once and ends the iteration.
///
/// ```no_run
/// # async fn demo(client: wa360::client::Client) -> wa360::Result<()> {
/// use wa360::manage::templates::ListOptions;
/// let mut it = client.templates().list(ListOptions::default())?;
/// while let Some(t) = it.next().await? {
///     println!("{} {} {:?}", t.name, t.language, t.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TemplateLister {
    client: Client,
    options: ListOptions,
    buffer: VecDeque<TemplateInfo>,
    offset: u64,
    after: Option<String>,
    done: bool,
    yielded: u64,
    pages: u64,
    /// Notices a server that ignores paging; pages keyed by (name, language).
    paging: PagingGuard<(String, String)>,
}

impl TemplateLister {
    /// How many pages were fetched so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    /// The next template, fetching the next page when the current one is used up.
    pub async fn next(&mut self) -> Result<Option<TemplateInfo>> {
        loop {
            if self.options.max_items.is_some_and(|m| self.yielded >= m) {
                return Ok(None);
            }
            if let Some(t) = self.buffer.pop_front() {
                if self
                    .options
                    .language
                    .as_deref()
                    .is_some_and(|l| l != t.language)
                {
                    continue;
                }
                self.yielded += 1;
                return Ok(Some(t));
            }
            if self.done {
                return Ok(None);
            }
            if let Err(e) = self.fetch().await {
                self.done = true;
                return Err(e);
            }
        }
    }

    /// Collect every remaining template.
    pub async fn collect_all(mut self) -> Result<Vec<TemplateInfo>> {
        let mut out = Vec::new();
        while let Some(t) = self.next().await? {
            out.push(t);
        }
        Ok(out)
    }

    fn path(&self) -> String {
        let limit = self.options.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        let o = &self.options;
        match o.source {
            TemplateSource::Config => {
                let mut q = format!(
                    "{CONFIG_TEMPLATES_PATH}?limit={limit}&offset={}",
                    self.offset
                );
                if let Some(s) = &o.sort {
                    q.push_str(&format!("&sort={}", query_escape(s)));
                }
                let mut filters = Map::new();
                if let Some(n) = &o.name {
                    filters.insert("business_templates.name".into(), json!(n));
                }
                if let Some(s) = &o.status {
                    filters.insert("business_templates.status".into(), json!(s));
                }
                if !filters.is_empty() {
                    let f = Value::Object(filters).to_string();
                    q.push_str(&format!("&filters={}", query_escape(&f)));
                }
                q
            }
            TemplateSource::Graph => {
                let mut q = format!("{GRAPH_TEMPLATES_PATH}?limit={limit}");
                if let Some(n) = &o.name {
                    q.push_str(&format!("&name={}", query_escape(n)));
                }
                if let Some(s) = &o.status {
                    q.push_str(&format!("&status={}", query_escape(s)));
                }
                if let Some(a) = &self.after {
                    q.push_str(&format!("&after={}", query_escape(a)));
                }
                q
            }
        }
    }

    async fn fetch(&mut self) -> Result<()> {
        let path = self.path();
        let v = self
            .client
            .request_json(Method::GET, &path, None, RetryClass::Idempotent)
            .await?;
        let page = TemplatePage::parse(&v)?;
        let keys: Vec<(String, String)> = page
            .templates
            .iter()
            .map(|t| (t.name.clone(), t.language.clone()))
            .collect();
        self.paging.new_page(keys)?;
        self.pages += 1;
        let n = page.templates.len() as u64;
        let limit = u64::from(self.options.page_size.unwrap_or(DEFAULT_PAGE_SIZE));
        match self.options.source {
            TemplateSource::Config => {
                self.offset += n;
                // An empty page ends the list. With a total, so does reaching it (a server may
                // give fewer than asked per page and still have more); without one, a page
                // shorter than asked is the last.
                self.done = n == 0
                    || match page.total {
                        Some(t) => self.offset >= t,
                        None => n < limit,
                    };
            }
            TemplateSource::Graph => {
                let same = page.after.is_some() && page.after == self.after;
                self.paging
                    .new_cursor(page.after.as_deref(), self.after.as_deref())?;
                self.done = n == 0 || page.after.is_none() || same;
                self.after = page.after;
            }
        }
        self.buffer.extend(page.templates);
        Ok(())
    }
}

/// Template management of one channel: `client.templates()`.
#[derive(Debug, Clone, Copy)]
pub struct Templates<'a> {
    client: &'a Client,
}

impl Client {
    /// Template management (create, list, get, delete).
    pub fn templates(&self) -> Templates<'_> {
        Templates { client: self }
    }
}

fn expect_template(v: &Value, what: &str) -> Result<TemplateInfo> {
    // A bare template object, or one wrapped in a list answer.
    if v.get("name").is_some() {
        return TemplateInfo::from_value(v);
    }
    let page = TemplatePage::parse(v).map_err(|_| Error::InvalidResponse {
        status: 200,
        reason: format!("{what}: the answer is not a template"),
    })?;
    page.templates
        .into_iter()
        .next()
        .ok_or_else(|| Error::InvalidResponse {
            status: 200,
            reason: format!("{what}: the answer holds no template"),
        })
}

impl Templates<'_> {
    /// Create a template (`POST /v1/configs/templates`), validated first. Returns the
    /// template as answered (id, status …). A create is not repeated after it may
    /// have arrived: the server rejects a second template with the same name and language.
    pub async fn create(&self, draft: &TemplateDraft) -> Result<TemplateInfo> {
        let body = draft.to_body()?;
        let v = self
            .client
            .request_json(
                Method::POST,
                CONFIG_TEMPLATES_PATH,
                Some(&body),
                RetryClass::Send,
            )
            .await?;
        // The answer may omit fields it shares with the request.
        let mut merged = body.as_object().cloned().unwrap_or_default();
        if let Some(o) = v.as_object() {
            for (k, x) in o {
                merged.insert(k.clone(), x.clone());
            }
        }
        TemplateInfo::from_value(&Value::Object(merged))
    }

    /// A self-paging iterator over the templates (see [`TemplateLister`]).
    pub fn list(&self, options: ListOptions) -> Result<TemplateLister> {
        options.validate()?;
        Ok(TemplateLister {
            client: self.client.clone(),
            options,
            buffer: VecDeque::new(),
            offset: 0,
            after: None,
            done: false,
            yielded: 0,
            pages: 0,
            paging: PagingGuard::new("template list"),
        })
    }

    /// One template by id (`GET /v1/configs/templates/{id}`); `Ok(None)` on 404.
    pub async fn get(&self, id: &str) -> Result<Option<TemplateInfo>> {
        if id.is_empty()
            || id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::invalid(
                "id",
                "must be 1..128 letters, digits, _ or - (a template id)",
            ));
        }
        match self
            .client
            .request_json(
                Method::GET,
                &format!("{CONFIG_TEMPLATES_PATH}/{id}"),
                None,
                RetryClass::Idempotent,
            )
            .await
        {
            Ok(v) => expect_template(&v, "template get").map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every language of the template with this name (a filtered list).
    pub async fn find(&self, name: &str, language: Option<&str>) -> Result<Vec<TemplateInfo>> {
        let options = ListOptions {
            name: Some(name.to_string()),
            language: language.map(str::to_string),
            ..ListOptions::default()
        };
        let all = self.list(options)?.collect_all().await?;
        Ok(all.into_iter().filter(|t| t.name == name).collect())
    }

    /// Delete a template by name (`DELETE /v1/configs/templates/{name}`). This
    /// removes **every language** of that name. Returns the answer body; one that says
    /// `"success": false` is an `invalid_response` error (the template was not deleted).
    pub async fn delete(&self, name: &str) -> Result<Value> {
        validate_template_name("name", name)?;
        let v = self
            .client
            .request_json(
                Method::DELETE,
                &format!("{CONFIG_TEMPLATES_PATH}/{name}"),
                None,
                RetryClass::DeleteResource,
            )
            .await?;
        // Other answers stay accepted as they are (the answer is not documented).
        if v.get("success") == Some(&Value::Bool(false)) {
            return Err(Error::InvalidResponse {
                status: 200,
                reason: format!("2xx answer says \"success\": false: {name} was not deleted"),
            });
        }
        Ok(v)
    }
}

// ---------------------------------------------------------------------------
// Checking a send against a listed template
// ---------------------------------------------------------------------------

fn text_placeholders(c: Option<&Value>) -> Placeholders {
    c.and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .and_then(|t| placeholders("", t).ok())
        .unwrap_or(Placeholders::None)
}

fn params_of<'v>(components: &'v [Value], kind: &str) -> Vec<&'v Value> {
    components
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .collect()
}

fn param_kinds(c: &Value) -> Vec<(String, Option<String>)> {
    c.get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p.get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        p.get("parameter_name")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Check a template message against a listed template before sending: the header,
/// body and button parameters must match its components in count and kind (what
/// Meta would otherwise reject with `132000` / `132012`). `message` is a wire body of
/// `POST /messages` (or just its `template` object). The error is `invalid_argument`
/// naming the component.
pub fn check_template_send(template: &TemplateInfo, message: &Value) -> Result<()> {
    let tpl = message.get("template").unwrap_or(message);
    if let Some(n) = tpl.get("name").and_then(Value::as_str)
        && n != template.name
    {
        return Err(Error::invalid(
            "template.name",
            format!("is {n:?} but the listed template is {:?}", template.name),
        ));
    }
    let lang = tpl
        .get("language")
        .and_then(|l| l.get("code").or(Some(l)))
        .and_then(Value::as_str);
    if let Some(l) = lang
        && !template.language.is_empty()
        && l != template.language
    {
        return Err(Error::invalid(
            "template.language.code",
            format!(
                "is {l:?} but the listed template is {:?}",
                template.language
            ),
        ));
    }
    if let Some(s) = &template.status
        && s != "APPROVED"
    {
        return Err(Error::invalid(
            "template",
            format!(
                "{:?} ({}) is {s}, not APPROVED: it cannot be sent",
                template.name, template.language
            ),
        ));
    }
    let sent: Vec<Value> = tpl
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Header.
    let header_def = template.component("HEADER");
    let header_sent = params_of(&sent, "header");
    let f = "template.components.header";
    let want_header: Option<&str> = match header_def
        .and_then(|h| h.get("format"))
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("TEXT") => (text_placeholders(header_def).count() > 0).then_some("text"),
        Some("IMAGE") => Some("image"),
        Some("VIDEO") => Some("video"),
        Some("DOCUMENT") => Some("document"),
        Some("LOCATION") => Some("location"),
        _ => None,
    };
    let got_header: Vec<(String, Option<String>)> =
        header_sent.iter().flat_map(|c| param_kinds(c)).collect();
    match (want_header, got_header.as_slice()) {
        (None, []) => {}
        (None, _) => {
            return Err(Error::invalid(
                f,
                "the template's header takes no parameter",
            ));
        }
        (Some(k), []) => {
            return Err(Error::invalid(
                f,
                format!("the template's header needs 1 {k} parameter (none given)"),
            ));
        }
        (Some(k), [(got, name)]) if got == k => {
            // A text header's one placeholder, named or positional, as in the body.
            let at = || idx(&join(f, "parameters"), 0);
            match (text_placeholders(header_def), name) {
                (Placeholders::Named(names), Some(n)) if !names.contains(n) => {
                    return Err(Error::invalid(
                        at(),
                        format!("{n:?} is not a placeholder of the header (it has {names:?})"),
                    ));
                }
                (Placeholders::Named(_), None) => {
                    return Err(Error::invalid(
                        at(),
                        "the header uses a named placeholder: give parameter_name",
                    ));
                }
                (Placeholders::Positional(_), Some(_)) => {
                    return Err(Error::invalid(
                        at(),
                        "the header uses a positional placeholder: drop parameter_name",
                    ));
                }
                _ => {}
            }
        }
        (Some(k), [(got, _)]) => {
            return Err(Error::invalid(
                f,
                format!("the template's header needs a {k} parameter (got {got})"),
            ));
        }
        (Some(_), many) => {
            return Err(Error::invalid(
                f,
                format!(
                    "the template's header takes 1 parameter (got {})",
                    many.len()
                ),
            ));
        }
    }
    // Body. An authentication template's body has Meta's fixed text with one
    // placeholder, the code.
    let auth = template.category.as_deref() == Some("AUTHENTICATION");
    let body_def = template.component("BODY");
    let body_ph = match body_def {
        Some(b) if auth && b.get("text").is_none() => Placeholders::Positional(1),
        other => text_placeholders(other),
    };
    let got_body: Vec<(String, Option<String>)> = params_of(&sent, "body")
        .iter()
        .flat_map(|c| param_kinds(c))
        .collect();
    let f = "template.components.body";
    if got_body.len() != body_ph.count() {
        return Err(Error::invalid(
            f,
            format!(
                "the template's body has {} placeholder(s) but {} parameter(s) were given",
                body_ph.count(),
                got_body.len()
            ),
        ));
    }
    for (i, (kind, _)) in got_body.iter().enumerate() {
        if !["text", "currency", "date_time"].contains(&kind.as_str()) {
            return Err(Error::invalid(
                idx(&join(f, "parameters"), i),
                format!("a body parameter must be text, currency or date_time (got {kind})"),
            ));
        }
    }
    if let Placeholders::Named(names) = &body_ph {
        for (i, (_, n)) in got_body.iter().enumerate() {
            match n {
                // Each placeholder exactly once: with the count equal, a name given twice
                // leaves another placeholder without its value.
                Some(n) if got_body[..i].iter().any(|(_, m)| m.as_ref() == Some(n)) => {
                    return Err(Error::invalid(
                        idx(&join(f, "parameters"), i),
                        format!("{n:?} is given twice (each placeholder takes one value)"),
                    ));
                }
                Some(n) if names.contains(n) => {}
                Some(n) => {
                    return Err(Error::invalid(
                        idx(&join(f, "parameters"), i),
                        format!("{n:?} is not a placeholder of the template (it has {names:?})"),
                    ));
                }
                None => {
                    return Err(Error::invalid(
                        idx(&join(f, "parameters"), i),
                        "the template uses named placeholders: give parameter_name",
                    ));
                }
            }
        }
    } else if let Some(i) = got_body.iter().position(|(_, n)| n.is_some()) {
        return Err(Error::invalid(
            idx(&join(f, "parameters"), i),
            "the template uses positional placeholders: drop parameter_name",
        ));
    }
    // Buttons.
    let defs: Vec<Value> = template
        .component("BUTTONS")
        .and_then(|b| b.get("buttons"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let sent_buttons = params_of(&sent, "button");
    let f = "template.components.button";
    let index_of = |c: &Value| -> Option<usize> {
        match c.get("index") {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
            _ => None,
        }
    };
    for c in &sent_buttons {
        let i = index_of(c).unwrap_or(usize::MAX);
        let sub = c.get("sub_type").and_then(Value::as_str).unwrap_or("");
        let Some(def) = defs.get(i) else {
            return Err(Error::invalid(
                f,
                format!(
                    "button index {i} does not exist: the template has {} button(s)",
                    defs.len()
                ),
            ));
        };
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("");
        let want_sub = match kind {
            "QUICK_REPLY" => "quick_reply",
            "URL" => "url",
            "COPY_CODE" => "copy_code",
            "FLOW" => "flow",
            "OTP" => "url",
            "CATALOG" => "catalog",
            "MPM" => "mpm",
            _ => "",
        };
        if sub != want_sub {
            return Err(Error::invalid(
                format!("{f}[{i}].sub_type"),
                format!(
                    "button {i} of the template is {kind}: sub_type must be {want_sub:?} (got {sub:?})"
                ),
            ));
        }
        if kind == "URL"
            && !def
                .get("url")
                .and_then(Value::as_str)
                .is_some_and(|u| u.contains("{{"))
        {
            return Err(Error::invalid(
                format!("{f}[{i}]"),
                "the template's URL button has a fixed URL and takes no parameter",
            ));
        }
    }
    // Buttons that need a parameter.
    for (i, def) in defs.iter().enumerate() {
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("");
        let needs = match kind {
            "URL" => def
                .get("url")
                .and_then(Value::as_str)
                .is_some_and(|u| u.contains("{{")),
            "COPY_CODE" => true,
            // The code goes into the button too, except for zero-tap / one-tap autofill
            // details Meta fills in itself; copy-code OTP buttons always take it.
            "OTP" => def.get("otp_type").and_then(Value::as_str) == Some("COPY_CODE"),
            // A multi-product button's products are chosen at send time (docs/360dialog-api.md
            // §4.8: thumbnail and sections).
            "MPM" => true,
            _ => false,
        };
        if needs && !sent_buttons.iter().any(|c| index_of(c) == Some(i)) {
            return Err(Error::invalid(
                f,
                format!(
                    "button {i} of the template ({kind}) needs a parameter (none given for index {i})"
                ),
            ));
        }
    }
    Ok(())
}

/// [`check_template_send`] over JSON, for the bindings: `template` is a listed template
/// (its canonical JSON or the raw list entry), `message` either a `POST /messages`
/// wire body (it has `messaging_product`) or wa360's neutral message description
/// (built and validated first).
pub fn check_template_send_json(template: &Value, message: &Value) -> Result<()> {
    let info = TemplateInfo::from_value(template).map_err(|_| {
        Error::invalid(
            "template",
            "must be a listed template (an object with name, language and components)",
        )
    })?;
    let body = if message.get("messaging_product").is_some() {
        message.clone()
    } else {
        crate::messages::build_body(message)?
    };
    check_template_send(&info, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_read() {
        assert_eq!(placeholders("t", "Hi").unwrap(), Placeholders::None);
        assert_eq!(
            placeholders("t", "{{1}} and {{2}} and {{1}}").unwrap(),
            Placeholders::Positional(2)
        );
        assert_eq!(
            placeholders("t", "{{first_name}} {{order}}").unwrap(),
            Placeholders::Named(vec!["first_name".into(), "order".into()])
        );
        assert!(
            placeholders("t", "{{1}} {{3}}")
                .unwrap_err()
                .to_string()
                .contains("gaps")
        );
        assert!(
            placeholders("t", "{{1}} {{x}}")
                .unwrap_err()
                .to_string()
                .contains("mix")
        );
        assert!(placeholders("t", "{{ 1 }}").is_err());
        assert!(placeholders("t", "{{First}}").is_err());
        assert!(placeholders("t", "{{1").is_err());
    }

    #[test]
    fn authentication_sends_take_the_code() {
        let t = TemplateInfo::from_value(&json!({"name": "login_code", "language": "en",
            "category": "AUTHENTICATION", "status": "APPROVED", "components": [
                {"type": "BODY", "add_security_recommendation": true},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]}]}))
        .unwrap();
        let send = |body: Value| {
            json!({"template": {"name": "login_code", "language": {"code": "en"},
            "components": body}})
        };
        let ok = send(json!([
            {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "123456"}]}]));
        check_template_send(&t, &ok).unwrap();
        let no_button =
            send(json!([{"type": "body", "parameters": [{"type": "text", "text": "123456"}]}]));
        assert!(check_template_send(&t, &no_button).is_err());
        let no_code = send(json!([]));
        assert_eq!(
            check_template_send(&t, &no_code).unwrap_err().field(),
            Some("template.components.body")
        );
    }

    #[test]
    fn named_placeholders_take_each_their_own_value() {
        let t = TemplateInfo::from_value(&json!({"name": "order_ready", "language": "en",
            "category": "UTILITY", "status": "APPROVED", "parameter_format": "NAMED",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Hello {{first_name}}"},
                {"type": "BODY", "text": "Order {{order_id}} for {{first_name}}"}]}))
        .unwrap();
        let send = |header: Value, body: Value| {
            let m = json!({"to": "15555550123", "type": "template", "template": {
                "name": "order_ready", "language": "en", "header": header, "body": body}});
            check_template_send(&t, &crate::messages::build_body(&m).unwrap())
        };
        let header = |n: &str| json!({"type": "text", "text": "Maya", "parameter_name": n});
        let good = json!({"order_id": "4471", "first_name": "Maya"});
        send(header("first_name"), good.clone()).unwrap();
        let e = send(header("last_name"), good.clone()).unwrap_err();
        assert_eq!(
            e.field(),
            Some("template.components.header.parameters[0]"),
            "{e}"
        );
        let twice = json!([
            {"type": "text", "text": "4471", "parameter_name": "order_id"},
            {"type": "text", "text": "4472", "parameter_name": "order_id"}]);
        let e = send(header("first_name"), twice).unwrap_err();
        assert_eq!(
            e.field(),
            Some("template.components.body.parameters[1]"),
            "{e}"
        );
        assert!(e.to_string().contains("twice"), "{e}");
    }

    #[test]
    fn multi_product_sends_take_their_sections() {
        let t = TemplateInfo::from_value(&json!({"name": "spring_collection", "language": "en",
            "category": "MARKETING", "status": "APPROVED", "components": [
                {"type": "BODY", "text": "New in, {{1}}"},
                {"type": "BUTTONS", "buttons": [{"type": "MPM", "text": "View items"}]}]}))
        .unwrap();
        let message = |buttons: Vec<Value>| {
            json!({"to": "15555550123", "type": "template", "template": {
                "name": "spring_collection", "language": "en", "body": ["Maya"],
                "buttons": buttons}})
        };
        let mpm = json!({"sub_type": "mpm", "index": 0, "thumbnail_product_retailer_id": "sku-1",
            "sections": [{"title": "Jackets", "product_items": ["sku-1", "sku-2"]}]});
        let body = |m: Value| crate::messages::build_body(&m).unwrap();
        check_template_send(&t, &body(message(vec![mpm]))).unwrap();
        let err = check_template_send(&t, &body(message(vec![]))).unwrap_err();
        assert!(err.to_string().contains("needs a parameter"), "{err}");
        let catalog = json!({"sub_type": "catalog", "index": 0,
            "thumbnail_product_retailer_id": "sku-1"});
        let err = check_template_send(&t, &body(message(vec![catalog]))).unwrap_err();
        assert_eq!(
            err.field(),
            Some("template.components.button[0].sub_type"),
            "{err}"
        );
    }

    #[test]
    fn page_shapes() {
        let a = TemplatePage::parse(
            &json!({"waba_templates": [{"name": "a", "language": "en", "id": 12}], "total": 3}),
        )
        .unwrap();
        assert_eq!(a.templates[0].id.as_deref(), Some("12"));
        assert_eq!(a.total, Some(3));
        let b = TemplatePage::parse(&json!({"data": [{"name": "a", "language": {"code": "en"}}],
            "paging": {"cursors": {"after": "X"}, "next": "https://x"}}))
        .unwrap();
        assert_eq!(b.after.as_deref(), Some("X"));
        let c = TemplatePage::parse(&json!({"data": [], "paging": {"cursors": {"after": "X"}}}))
            .unwrap();
        assert_eq!(c.after, None);
        assert!(TemplatePage::parse(&json!({"x": 1})).is_err());
    }
}
