//! Webhook registration: URL rules, settings, and the phone-number-level and
//! WABA-level configuration endpoints (docs/360dialog-api.md §2.4).
//!
//! Every set operation validates locally first (docs/360dialog-api.md §2.4.4) and makes no
//! request when the settings break a rule:
//!
//! 1. scheme `https`;
//! 2. a host is present, and it is a domain name, not an IP literal (a
//!    certificate for an IP address is exotic and 360dialog documents domain
//!    names only — our decision, see `tests/conformance/webhook_url/README.md`);
//! 3. no `_` anywhere in the host;
//! 4. no explicit port, not even `:443`;
//! 5. no userinfo (`user:password@`) and no fragment (`#…`); a query string
//!    is allowed;
//! 6. custom header names are HTTP tokens without `_` (360dialog's wording
//!    covers headers too; an interpretation), values non-empty without CR/LF.
//!
//! ```
//! use wa360::webhook::registration::{validate_webhook_url, WebhookSettings};
//! assert!(validate_webhook_url("https://hooks.example.com/wa?x=1").is_ok());
//! let err = validate_webhook_url("https://hooks.example.com:8443/wa").unwrap_err();
//! assert!(err.to_string().contains("port"));
//! let settings = WebhookSettings::new("https://hooks.example.com/wa")
//!     .header("Authorization", "Basic dTpw");
//! assert!(!format!("{settings:?}").contains("dTpw"));
//! settings.validate()?;
//! # Ok::<(), wa360::Error>(())
//! ```

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::retry::RetryClass;
use crate::secret::Secret;
use crate::transport::Transport;

/// Path of the phone-number-level webhook configuration.
pub const PHONE_WEBHOOK_PATH: &str = "/v1/configs/webhook";
/// Path of the WABA-level webhook configuration (experimental, docs/360dialog-api.md §9 #4).
pub const WABA_WEBHOOK_PATH: &str = "/waba_webhook";

fn url_err(rule: impl Into<String>) -> Error {
    Error::invalid("url", rule)
}

/// Check a webhook URL against 360dialog's rules (module docs). The error is
/// `invalid_argument` with field `url` and a rule naming what is wrong; it
/// never repeats userinfo from the URL.
pub fn validate_webhook_url(url: &str) -> Result<()> {
    if url.is_empty() {
        return Err(url_err("is required"));
    }
    if url.trim() != url || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(url_err("must not contain whitespace or control characters"));
    }
    // Raw-string view of the authority: the `url` crate drops a default port
    // (`:443`) and an empty port (`host:`), so both are checked here.
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(url_err("must be an absolute https:// URL"));
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(url_err(format!(
            "must use https (scheme `{}` is not allowed)",
            scheme.to_ascii_lowercase()
        )));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        return Err(url_err("must not contain userinfo (`user:password@`)"));
    }
    if authority.is_empty() {
        return Err(url_err("must have a host"));
    }
    if authority.contains('%') {
        return Err(url_err("must not percent-encode the host"));
    }
    // URL parsers read `\` as `/` before the query of an https URL, so
    // `https://a.example\.b.example/` is host `a.example` to them and something else to a
    // server given the text as it is. In the query it is only a character.
    if rest[..rest.find('?').unwrap_or(rest.len())].contains('\\') {
        return Err(url_err("must not contain a backslash before the query"));
    }
    let host_port = authority;
    let after_host = if let Some(stripped) = host_port.strip_prefix('[') {
        stripped.split_once(']').map(|(_, tail)| tail).unwrap_or("")
    } else {
        host_port.find(':').map(|i| &host_port[i..]).unwrap_or("")
    };
    if after_host.starts_with(':') {
        return Err(url_err("must not contain an explicit port (not even :443)"));
    }
    if url.contains('#') {
        return Err(url_err("must not contain a fragment (`#…`)"));
    }
    let parsed = url::Url::parse(url).map_err(|e| match e {
        url::ParseError::EmptyHost => url_err("must have a host"),
        other => url_err(format!("is not a valid URL ({other})")),
    })?;
    if parsed.scheme() != "https" {
        return Err(url_err("must use https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(url_err("must not contain userinfo (`user:password@`)"));
    }
    if parsed.port().is_some() {
        return Err(url_err("must not contain an explicit port (not even :443)"));
    }
    if parsed.fragment().is_some() {
        return Err(url_err("must not contain a fragment (`#…`)"));
    }
    match parsed.host() {
        None => Err(url_err("must have a host")),
        Some(url::Host::Ipv4(_)) | Some(url::Host::Ipv6(_)) => {
            Err(url_err("host must be a domain name, not an IP address"))
        }
        Some(url::Host::Domain(d)) => {
            if d.is_empty() {
                Err(url_err("must have a host"))
            } else if d.contains('_') || host_port.contains('_') {
                Err(url_err("must not contain `_` in the host (sub)domain"))
            } else {
                check_dns_name(d, host_port)
            }
        }
    }
}

/// The host must be a DNS name 360dialog can resolve: `ascii` is the parsed host (IDNA
/// applied: lowercase, punycode), `raw` the host as written. Labels of 1 to 63 letters,
/// digits and inner hyphens, at most 253 characters in all (RFC 1035 §2.3.1, RFC 1123
/// §2.1); one trailing dot is allowed. A raw host with invisible characters (which IDNA
/// drops, so the parsed host differs from the text that is sent) is refused.
fn check_dns_name(ascii: &str, raw: &str) -> Result<()> {
    if raw.chars().any(is_default_ignorable) {
        return Err(url_err(
            "host must not contain invisible characters (soft hyphen, zero-width space, …)",
        ));
    }
    let name = ascii.strip_suffix('.').unwrap_or(ascii);
    if name.len() > 253 {
        return Err(url_err("host must be at most 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(url_err(
                "host must not have an empty label (`..`, or only a dot)",
            ));
        }
        if label.len() > 63 {
            return Err(url_err(
                "each label of the host must be at most 63 characters",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(url_err(
                "host labels may only contain letters, digits and hyphens, not at either end",
            ));
        }
    }
    Ok(())
}

/// Unicode's `Default_Ignorable_Code_Point` characters (DerivedCoreProperties.txt): shown
/// as nothing, and removed by IDNA. Written out here: no dependency of the core lists
/// them, and the set is small and stable.
fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Check one custom header (name and value) registered with a webhook.
fn validate_header(name: &str, value: &Secret) -> Result<()> {
    let field = format!("headers.{name}");
    if name.is_empty() {
        return Err(Error::invalid("headers", "a header name must not be empty"));
    }
    if name.contains('_') {
        return Err(Error::invalid(
            field,
            "header names must not contain `_` (360dialog rejects it)",
        ));
    }
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^`|~".contains(&b);
    if !name.bytes().all(tchar) {
        return Err(Error::invalid(
            field,
            "header names may only contain letters, digits and !#$%&'*+-.^`|~",
        ));
    }
    let v = value.expose();
    if v.is_empty() {
        return Err(Error::invalid(field, "header value must not be empty"));
    }
    // RFC 9110 field values: visible characters, spaces and tabs (and bytes above 0x7F);
    // any other control character is refused here, not by the server after a request.
    if v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Error::invalid(
            field,
            "header value must not contain control characters (CR, LF, NUL, DEL, …; tab is allowed)",
        ));
    }
    super::verify::secret_header_value(&field, v)
}

/// A webhook registration: the callback URL and the custom headers 360dialog
/// sends with every delivery (e.g. `Authorization: Basic …`). Header values
/// are secrets: `Debug` shows only their names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The HTTPS callback URL.
    pub url: String,
    /// Custom headers sent with each delivery (name → secret value).
    pub headers: BTreeMap<String, Secret>,
}

impl WebhookSettings {
    /// Settings with this URL and no headers.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookSettings {
            url: url.into(),
            headers: BTreeMap::new(),
        }
    }

    /// Add (or replace) one custom header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Add `Authorization: Basic base64(user:pass)`, matching
    /// [`Verifier::basic_auth`](super::verify::Verifier::basic_auth).
    #[must_use]
    pub fn basic_auth(self, user: &str, pass: &str) -> Self {
        let (name, value) = super::verify::basic_auth_header(user, pass);
        self.header(name, value)
    }

    /// Check the URL and headers (module docs); `invalid_argument` naming
    /// `url` or `headers.<name>`.
    pub fn validate(&self) -> Result<()> {
        validate_webhook_url(&self.url)?;
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in &self.headers {
            validate_header(name, value)?;
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(Error::invalid(
                    format!("headers.{name}"),
                    "the same header name is given twice (names are case-insensitive)",
                ));
            }
        }
        Ok(())
    }

    /// Build settings from `{"url": "…", "headers": {"Name": "value"}}`
    /// (`headers` optional), the language-neutral form used by the
    /// conformance suite and the bindings. Does not validate the rules: call
    /// [`WebhookSettings::validate`].
    pub fn from_json(spec: &Value) -> Result<WebhookSettings> {
        let obj = spec
            .as_object()
            .ok_or_else(|| Error::invalid("webhook", "must be an object"))?;
        if let Some(k) = obj.keys().find(|k| *k != "url" && *k != "headers") {
            return Err(Error::invalid(
                k.as_str(),
                "unknown key (expected url, headers)",
            ));
        }
        let url = match obj.get("url") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(Error::invalid("url", "must be a string")),
            None => return Err(Error::invalid("url", "is required")),
        };
        let mut settings = WebhookSettings::new(url);
        match obj.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (name, v) in h {
                    let v = v.as_str().ok_or_else(|| {
                        Error::invalid(format!("headers.{name}"), "must be a string")
                    })?;
                    settings.headers.insert(name.clone(), Secret::new(v));
                }
            }
            Some(_) => return Err(Error::invalid("headers", "must be an object")),
        }
        Ok(settings)
    }

    /// The wire body `{"url": …, "headers": {…}}` (headers omitted when
    /// empty). Contains the secrets: send it, never log it.
    pub fn to_body(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("url".into(), json!(self.url));
        if !self.headers.is_empty() {
            let headers: serde_json::Map<String, Value> = self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.expose())))
                .collect();
            body.insert("headers".into(), Value::Object(headers));
        }
        Value::Object(body)
    }

    /// Every form in which a header's secret could come back in a server's answer (an
    /// error that echoes the refused body): each value, its credential after the scheme
    /// (`Basic <token>`), a Basic credential decoded (`user:pass`, and the password), and
    /// each of those as escaped in JSON text.
    fn secret_forms(&self) -> Vec<String> {
        use base64::Engine as _;
        // A part shorter than this (a one-letter password) is not looked for: it would
        // garble every word of an error that happens to contain it. Whole values always are.
        const MIN_PART: usize = 4;
        let mut forms = Vec::new();
        for value in self.headers.values() {
            let value = value.expose();
            forms.push(value.to_string());
            let Some((_, token)) = value.split_once(' ') else {
                continue;
            };
            let token = token.trim();
            let mut parts = vec![token.to_string()];
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some(credentials) = decoded {
                if let Some((_, pass)) = credentials.split_once(':') {
                    parts.push(pass.to_string());
                }
                parts.push(credentials);
            }
            forms.extend(parts.into_iter().filter(|p| p.len() >= MIN_PART));
        }
        let escaped: Vec<String> = forms
            .iter()
            .filter_map(|f| {
                let json = serde_json::to_string(f).ok()?;
                let inner = &json[1..json.len() - 1];
                (inner != f).then(|| inner.to_string())
            })
            .collect();
        forms.extend(escaped);
        forms.retain(|f| !f.is_empty());
        forms
    }

    /// Read settings back from a configuration answer: `url` is required,
    /// `headers` kept when present (360dialog may not return them).
    fn from_answer(value: &Value, status_path: &str) -> Result<WebhookSettings> {
        let bad = |reason: &str| Error::InvalidResponse {
            status: 200,
            reason: format!("{status_path}: {reason}"),
        };
        let url = value
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("answer has no string `url`"))?;
        let mut settings = WebhookSettings::new(url);
        if let Some(h) = value.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                if let Some(s) = v.as_str() {
                    settings.headers.insert(k.clone(), Secret::new(s));
                }
            }
        }
        Ok(settings)
    }
}

/// Webhook configuration of one channel: `client.webhooks()`.
#[derive(Debug, Clone, Copy)]
pub struct Webhooks<'a> {
    transport: &'a Transport,
}

impl<'a> Webhooks<'a> {
    pub(crate) fn new(transport: &'a Transport) -> Self {
        Webhooks { transport }
    }
}

impl Webhooks<'_> {
    /// Set the phone-number-level webhook (`POST /v1/configs/webhook`),
    /// replacing any previous one. Validated locally first; the POST sets
    /// absolute state and is retried like an idempotent request. Returns the
    /// answer body (undocumented; often the URL echoed back).
    pub async fn set_phone(&self, settings: &WebhookSettings) -> Result<Value> {
        self.set(PHONE_WEBHOOK_PATH, settings).await
    }

    /// Read the phone-number-level webhook (`GET /v1/configs/webhook`).
    /// `Ok(None)` when none is set (HTTP 404, or an answer whose `url` is
    /// missing, null or empty).
    /// `headers` are filled only if 360dialog returns them (docs/360dialog-api.md §9 #5:
    /// do not rely on it).
    pub async fn get_phone(&self) -> Result<Option<WebhookSettings>> {
        self.get(PHONE_WEBHOOK_PATH).await
    }

    /// Set the WABA-level webhook (`POST /waba_webhook`), which receives the
    /// events of every number of the WABA.
    ///
    /// **Experimental**: the path and body come from community code, not from
    /// 360dialog's API reference (docs/360dialog-api.md §2.4.2, §9 #4).
    pub async fn set_waba(&self, settings: &WebhookSettings) -> Result<Value> {
        self.set(WABA_WEBHOOK_PATH, settings).await
    }

    /// Read the WABA-level webhook (`GET /waba_webhook`); `Ok(None)` on 404.
    ///
    /// **Experimental**: whether this read-back exists is unconfirmed
    /// (docs/360dialog-api.md §2.4.2, §9 #4); tested against the local emulator only.
    pub async fn get_waba(&self) -> Result<Option<WebhookSettings>> {
        self.get(WABA_WEBHOOK_PATH).await
    }

    /// [`Webhooks::set_phone`] (or, with `waba`, [`Webhooks::set_waba`]) for a receiver on
    /// this machine, registered with the local sandbox started with
    /// `--allow-http-callbacks`: every rule but the URL's is checked (the real API refuses
    /// `http://127.0.0.1:…`). The header secrets are kept out of errors and logs as by the
    /// other setters (the CLI's `webhook set --allow-local-http` used to bypass that).
    pub async fn set_local(&self, waba: bool, settings: &WebhookSettings) -> Result<Value> {
        let mut probe = settings.clone();
        probe.url = "https://localhost.invalid/".into();
        probe.validate()?;
        let path = if waba {
            WABA_WEBHOOK_PATH
        } else {
            PHONE_WEBHOOK_PATH
        };
        self.post(path, settings).await
    }

    /// Validate locally, then POST the settings to `path` (absolute state, so retried like an
    /// idempotent request).
    async fn set(&self, path: &str, settings: &WebhookSettings) -> Result<Value> {
        settings.validate()?;
        self.post(path, settings).await
    }

    /// POST the settings to `path`, their header secrets kept out of errors and logs.
    async fn post(&self, path: &str, settings: &WebhookSettings) -> Result<Value> {
        self.transport
            .request_json_with_secrets(
                Method::POST,
                path,
                Some(&settings.to_body()),
                settings.secret_forms(),
                RetryClass::Idempotent,
            )
            .await
    }

    async fn get(&self, path: &str) -> Result<Option<WebhookSettings>> {
        match self
            .transport
            // The answer carries the header values: never quoted in an error or a log.
            .request_json_secret_answer(Method::GET, path, RetryClass::Idempotent)
            .await
        {
            Ok(Value::Null) => Ok(None),
            Ok(v) if v.get("url").is_none_or(|u| u.is_null() || u == "") => Ok(None),
            Ok(v) => WebhookSettings::from_answer(&v, path).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(url: &str) -> String {
        let e = validate_webhook_url(url).unwrap_err();
        assert_eq!(e.field(), Some("url"), "{url}");
        e.to_string()
    }

    #[test]
    fn accepts_plain_https_urls() {
        for ok in [
            "https://hooks.example.com/wa",
            "https://hooks.example.com",
            "HTTPS://Hooks.Example.com/path?token=abc&x=1",
            "https://xn--bcher-kva.example/hook",
        ] {
            validate_webhook_url(ok).unwrap();
        }
    }

    #[test]
    fn each_rule_is_named() {
        assert!(rule("http://hooks.example.com/wa").contains("https"));
        assert!(rule("https://my_hook.example.com/wa").contains('_'));
        assert!(rule("https://hooks.example.com:3000/wa").contains("port"));
        assert!(rule("https://hooks.example.com:443/wa").contains("port"));
        assert!(rule("https://hooks.example.com:/wa").contains("port"));
        assert!(rule("https://[::1]:443/wa").contains("port"));
        assert!(rule("https://u:p@hooks.example.com/wa").contains("userinfo"));
        assert!(rule("https://hooks.example.com/wa#frag").contains("fragment"));
        assert!(rule("https:///wa").contains("host"));
        assert!(rule("https://203.0.113.7/wa").contains("IP"));
        assert!(rule("https://[2001:db8::1]/wa").contains("IP"));
        assert!(rule("hooks.example.com/wa").contains("absolute"));
        assert!(rule("").contains("required"));
        assert!(rule(" https://hooks.example.com").contains("whitespace"));
    }

    #[test]
    fn userinfo_is_not_echoed() {
        let msg = rule("https://admin:hunter2@hooks.example.com/");
        assert!(!msg.contains("hunter2") && !msg.contains("admin"), "{msg}");
    }

    #[test]
    fn header_rules() {
        let s = WebhookSettings::new("https://hooks.example.com/").header("X_Key", "v");
        assert_eq!(s.validate().unwrap_err().field(), Some("headers.X_Key"));
        let s = WebhookSettings::new("https://hooks.example.com/").header("X-Key", "");
        assert_eq!(s.validate().unwrap_err().field(), Some("headers.X-Key"));
        let s = WebhookSettings::new("https://hooks.example.com/").header("X-Key", "a\r\nb: c");
        assert_eq!(s.validate().unwrap_err().field(), Some("headers.X-Key"));
        let s = WebhookSettings::new("https://hooks.example.com/")
            .header("X-Key", "a")
            .header("x-key", "b");
        assert!(s.validate().is_err());
        WebhookSettings::new("https://hooks.example.com/")
            .basic_auth("u", "p")
            .header("X-Key", "v")
            .validate()
            .unwrap();
    }

    #[test]
    fn debug_hides_header_values_and_body_carries_them() {
        let s = WebhookSettings::new("https://hooks.example.com/").header("X-Key", "sekrit");
        assert!(!format!("{s:?}").contains("sekrit"));
        assert_eq!(
            s.to_body(),
            json!({"url": "https://hooks.example.com/", "headers": {"X-Key": "sekrit"}})
        );
        assert_eq!(
            WebhookSettings::new("https://a.example/").to_body(),
            json!({"url": "https://a.example/"})
        );
    }

    #[test]
    fn from_json_reads_the_neutral_form() {
        let s = WebhookSettings::from_json(
            &json!({"url": "https://a.example/", "headers": {"X-Key": "v"}}),
        )
        .unwrap();
        assert_eq!(s.headers.get("X-Key").map(Secret::expose), Some("v"));
        assert_eq!(
            WebhookSettings::from_json(&json!({"url": 1}))
                .unwrap_err()
                .field(),
            Some("url")
        );
        assert_eq!(
            WebhookSettings::from_json(&json!({"url": "https://a.example/", "x": 1}))
                .unwrap_err()
                .field(),
            Some("x")
        );
    }
}
