//! Webhook authentication: Basic auth, custom header secrets and Meta's
//! `X-Hub-Signature-256`, plus the `hub.challenge` handshake.
//!
//! 360dialog authenticates deliveries with the custom `headers` registered
//! with the webhook (docs/360dialog-api.md §7.2): typically `Authorization: Basic …` or a
//! secret header such as `X-Webhook-Key`. Direct Cloud API users get Meta's
//! `X-Hub-Signature-256` HMAC over the raw body (docs/360dialog-api.md §7.3).
//!
//! Rules, all of which fail closed with [`Error::InvalidSignature`]:
//! - a missing, empty, malformed or **duplicated** credential header is rejected;
//! - secrets are compared in constant time, also when the lengths differ
//!   (both sides are hashed to fixed-length SHA-256 digests first);
//! - the signature is computed over the exact bytes received;
//! - error messages say what was wrong, never the secret or its base64 form.
//!
//! ```
//! use wa360::webhook::verify::Verifier;
//! let verifier = Verifier::basic_auth("hook", "s3cret")?;
//! let (name, value) = wa360::webhook::verify::basic_auth_header("hook", "s3cret");
//! verifier.verify(&[(name, value)], b"{}")?;
//! assert!(verifier.verify(&[("Authorization", "Basic d3Jvbmc6d3Jvbmc=")], b"{}").is_err());
//! # Ok::<(), wa360::Error>(())
//! ```

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// `("Authorization", "Basic base64(user:pass)")`: the header a [`Verifier::basic_auth`]
/// accepts (also what `WebhookSettings::basic_auth` registers).
pub fn basic_auth_header(user: &str, pass: &str) -> (String, String) {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    ("Authorization".to_string(), format!("Basic {token}"))
}

/// The header Meta puts its body signature in.
pub const HUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The value `hub.mode` must have in the verification handshake.
pub const HUB_MODE_SUBSCRIBE: &str = "subscribe";

/// Longest `hub.challenge` echoed back by [`hub_challenge`].
pub const MAX_CHALLENGE_LEN: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// One credential check.
#[derive(Clone)]
enum Check {
    /// `Authorization: Basic base64(user:pass)`; holds `user:pass`.
    Basic { credentials: Secret },
    /// A custom header whose whole value is a secret.
    Header { name: String, value: Secret },
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>`.
    HubSignature { app_secret: Secret },
}

impl Check {
    /// The kind of check, for logs.
    fn kind(&self) -> &'static str {
        match self {
            Check::Basic { .. } => "basic_auth",
            Check::Header { .. } => "header",
            Check::HubSignature { .. } => "hub_signature",
        }
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Basic { .. } => f.write_str("BasicAuth(***)"),
            Check::Header { name, .. } => write!(f, "Header({name}: ***)"),
            Check::HubSignature { .. } => f.write_str("HubSignature(***)"),
        }
    }
}

/// Authenticates webhook deliveries. Build it with one constructor and add
/// more checks with [`Verifier::and`]; a delivery passes only when **every**
/// check passes.
///
/// `Debug` shows which checks are configured, never a secret.
#[derive(Clone)]
pub struct Verifier {
    checks: Vec<Check>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("checks", &self.checks)
            .finish()
    }
}

impl Verifier {
    /// Require `Authorization: Basic base64(user:pass)`.
    ///
    /// `user` must be non-empty without `:` or control characters (RFC 7617);
    /// `pass` must be non-empty without control characters.
    pub fn basic_auth(user: impl AsRef<str>, pass: impl Into<Secret>) -> Result<Verifier> {
        let user = user.as_ref();
        let pass: Secret = pass.into();
        if user.is_empty() {
            return Err(Error::invalid("basic_auth.user", "must not be empty"));
        }
        if user.contains(':') {
            return Err(Error::invalid(
                "basic_auth.user",
                "must not contain ':' (RFC 7617)",
            ));
        }
        if user.chars().any(char::is_control) {
            return Err(Error::invalid(
                "basic_auth.user",
                "must not contain control characters",
            ));
        }
        if pass.expose().is_empty() {
            return Err(Error::invalid("basic_auth.password", "must not be empty"));
        }
        if pass.expose().chars().any(char::is_control) {
            return Err(Error::invalid(
                "basic_auth.password",
                "must not contain control characters",
            ));
        }
        let credentials = Secret::new(format!("{user}:{}", pass.expose()));
        Ok(Verifier {
            checks: vec![Check::Basic { credentials }],
        })
    }

    /// Require a custom header `name` whose value equals `value` exactly
    /// (header names are case-insensitive).
    ///
    /// `name` must be an HTTP token; `value` must be non-empty without CR, LF
    /// or NUL.
    pub fn header(name: impl AsRef<str>, value: impl Into<Secret>) -> Result<Verifier> {
        let name = name.as_ref();
        let value: Secret = value.into();
        check_header_name(name, "header.name")?;
        let field = format!("headers.{name}");
        if value.expose().is_empty() {
            return Err(Error::invalid(field, "the secret value must not be empty"));
        }
        if value
            .expose()
            .bytes()
            .any(|b| b == b'\r' || b == b'\n' || b == 0)
        {
            return Err(Error::invalid(
                field,
                "the secret value must not contain CR, LF or NUL",
            ));
        }
        secret_header_value(&field, value.expose())?;
        Ok(Verifier {
            checks: vec![Check::Header {
                name: name.to_string(),
                value,
            }],
        })
    }

    /// Require Meta's `X-Hub-Signature-256` computed with `app_secret`.
    pub fn hub_signature(app_secret: impl Into<Secret>) -> Result<Verifier> {
        let app_secret: Secret = app_secret.into();
        if app_secret.expose().is_empty() {
            return Err(Error::invalid("app_secret", "must not be empty"));
        }
        Ok(Verifier {
            checks: vec![Check::HubSignature { app_secret }],
        })
    }

    /// Also require every check of `other` (both must pass).
    #[must_use]
    pub fn and(mut self, other: Verifier) -> Verifier {
        self.checks.extend(other.checks);
        self
    }

    /// Build a verifier from its language-neutral description (used by the
    /// conformance suite and the Python / Node packages):
    ///
    /// ```json
    /// {"basic_auth": {"user": "hook", "password": "…"},
    ///  "headers": {"X-Webhook-Key": "…"},
    ///  "app_secret": "…"}
    /// ```
    ///
    /// Every key is optional but at least one check must be given; unknown
    /// keys and wrong types are `invalid_argument` naming the field.
    pub fn from_json(spec: &serde_json::Value) -> Result<Verifier> {
        let obj = spec
            .as_object()
            .ok_or_else(|| Error::invalid("verifier", "must be an object"))?;
        let mut checks = Vec::new();
        for (key, value) in obj {
            match key.as_str() {
                "basic_auth" => {
                    let ba = value
                        .as_object()
                        .ok_or_else(|| Error::invalid("basic_auth", "must be an object"))?;
                    if let Some(k) = ba.keys().find(|k| *k != "user" && *k != "password") {
                        return Err(Error::invalid(
                            format!("basic_auth.{k}"),
                            "unknown key (expected user, password)",
                        ));
                    }
                    let user = str_field(ba.get("user"), "basic_auth.user")?;
                    let pass = str_field(ba.get("password"), "basic_auth.password")?;
                    checks.extend(Verifier::basic_auth(user, pass)?.checks);
                }
                "headers" => {
                    let headers = value
                        .as_object()
                        .ok_or_else(|| Error::invalid("headers", "must be an object"))?;
                    for (name, v) in headers {
                        let v = str_field(Some(v), &format!("headers.{name}"))?;
                        checks.extend(Verifier::header(name, v)?.checks);
                    }
                }
                "app_secret" => {
                    let s = str_field(Some(value), "app_secret")?;
                    checks.extend(Verifier::hub_signature(s)?.checks);
                }
                other => {
                    return Err(Error::invalid(
                        other,
                        "unknown key (expected basic_auth, headers, app_secret)",
                    ));
                }
            }
        }
        if checks.is_empty() {
            return Err(Error::invalid(
                "verifier",
                "at least one of basic_auth, headers, app_secret is required",
            ));
        }
        Ok(Verifier { checks })
    }

    /// Check one delivery: `headers` as received, as `(name, value)` pairs so
    /// that duplicates are visible, and the raw `body` bytes (before any JSON
    /// parsing). `Ok(())` only when every configured check passes.
    pub fn verify<N, V>(&self, headers: &[(N, V)], body: &[u8]) -> Result<()>
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        if self.checks.is_empty() {
            // Unreachable through the public constructors; fail closed anyway.
            return Err(Error::InvalidSignature(
                "no verification is configured".into(),
            ));
        }
        self.run(headers, Some(body))?;
        tracing::debug!(checks = self.checks.len(), "webhook verified");
        Ok(())
    }

    /// The checks that need no body (Basic auth, custom headers), before the body is read
    /// (see [`crate::webhook::Receiver::precheck`]); an app-secret signature is left to
    /// [`Verifier::verify`].
    pub fn verify_headers<N, V>(&self, headers: &[(N, V)]) -> Result<()>
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        self.run(headers, None)
    }

    /// Every check, or with `body` `None` those that need no body.
    fn run<N, V>(&self, headers: &[(N, V)], body: Option<&[u8]>) -> Result<()>
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        for check in &self.checks {
            let checked = match (check, body) {
                (Check::Basic { credentials }, _) => check_basic(headers, credentials),
                (Check::Header { name, value }, _) => check_header(headers, name, value),
                (Check::HubSignature { app_secret }, Some(body)) => {
                    check_hub(headers, app_secret, body)
                }
                (Check::HubSignature { .. }, None) => continue,
            };
            if let Err(e) = checked {
                // The reason names the header and what was wrong with it, never a value.
                tracing::warn!(check = check.kind(), error = %e, "webhook verification failed");
                return Err(e);
            }
        }
        Ok(())
    }
}

fn str_field<'a>(v: Option<&'a serde_json::Value>, field: &str) -> Result<&'a str> {
    match v {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(Error::invalid(field, "must be a string")),
        None => Err(Error::invalid(field, "is required")),
    }
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header value that is a shared secret must arrive byte for byte as it was set, in
/// every server: printable ASCII, spaces and tabs inside only. Servers strip whitespace at
/// either end, and decode other bytes differently (UTF-8 in ASGI, Latin-1 in WSGI and
/// Node), so such a value would verify in one framework and never in another. The one
/// rule of `Verifier::header` and of webhook registration.
pub(crate) fn secret_header_value(field: &str, value: &str) -> Result<()> {
    if !value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Err(Error::invalid(
            field,
            "a header secret must be printable ASCII (other characters arrive differently in each server)",
        ));
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err(Error::invalid(
            field,
            "a header secret must not start or end with a space or tab (servers strip them)",
        ));
    }
    Ok(())
}

fn check_header_name(name: &str, field: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if !name.bytes().all(is_tchar) {
        return Err(Error::invalid(
            format!("headers.{name}"),
            "a header name may only contain letters, digits and !#$%&'*+-.^_`|~",
        ));
    }
    Ok(())
}

/// The single value of header `name`, or why there is none.
fn single_header<'h, N, V>(headers: &'h [(N, V)], name: &str) -> Result<&'h [u8]>
where
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let mut found = headers
        .iter()
        .filter(|(n, _)| n.as_ref().eq_ignore_ascii_case(name));
    let first = found
        .next()
        .ok_or_else(|| Error::InvalidSignature(format!("missing {name} header")))?;
    if found.next().is_some() {
        return Err(Error::InvalidSignature(format!(
            "duplicated {name} header (sent more than once)"
        )));
    }
    let value = first.1.as_ref();
    if value.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::InvalidSignature(format!("empty {name} header")));
    }
    Ok(value)
}

/// Constant-time equality over fixed-length SHA-256 digests, so neither the
/// content nor the length of the secret leaks through timing.
fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    bool::from(da.as_slice().ct_eq(db.as_slice()))
}

fn check_basic<N, V>(headers: &[(N, V)], credentials: &Secret) -> Result<()>
where
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let raw = single_header(headers, "Authorization")?;
    let text = std::str::from_utf8(raw)
        .map_err(|_| Error::InvalidSignature("Authorization header is not ASCII".into()))?
        .trim();
    let (scheme, rest) = text.split_once(' ').ok_or_else(|| {
        Error::InvalidSignature("Authorization header is not `Basic <credentials>`".into())
    })?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Error::InvalidSignature(
            "Authorization header does not use the Basic scheme".into(),
        ));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(Error::InvalidSignature(
            "Authorization header has no Basic credentials".into(),
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| {
            Error::InvalidSignature("Authorization header credentials are not valid base64".into())
        })?;
    if !decoded.contains(&b':') {
        return Err(Error::InvalidSignature(
            "Authorization header credentials are not `user:password`".into(),
        ));
    }
    if digest_eq(&decoded, credentials.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Error::InvalidSignature(
            "Basic auth credentials do not match".into(),
        ))
    }
}

fn check_header<N, V>(headers: &[(N, V)], name: &str, expected: &Secret) -> Result<()>
where
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let got = single_header(headers, name)?;
    if digest_eq(got, expected.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Error::InvalidSignature(format!(
            "{name} header does not match"
        )))
    }
}

fn check_hub<N, V>(headers: &[(N, V)], app_secret: &Secret, body: &[u8]) -> Result<()>
where
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let raw = single_header(headers, HUB_SIGNATURE_HEADER)?;
    let hex = raw.strip_prefix(b"sha256=").ok_or_else(|| {
        Error::InvalidSignature(format!(
            "{HUB_SIGNATURE_HEADER} does not start with `sha256=`"
        ))
    })?;
    let sig = decode_hex_32(hex).ok_or_else(|| {
        Error::InvalidSignature(format!(
            "{HUB_SIGNATURE_HEADER} is not 64 hexadecimal digits after `sha256=`"
        ))
    })?;
    let mut mac = HmacSha256::new_from_slice(app_secret.expose().as_bytes())
        .map_err(|_| Error::Internal("HMAC key rejected".into()))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig).map_err(|_| {
        Error::InvalidSignature(format!("{HUB_SIGNATURE_HEADER} does not match the body"))
    })
}

/// Decode exactly 64 hex digits (either case) into 32 bytes.
/// Hand-written: ten lines do not justify another dependency.
fn decode_hex_32(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Answer Meta's verification handshake
/// (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`).
///
/// Returns the challenge to send back as a `200 text/plain` body when `mode`
/// is `subscribe` and `verify_token` equals `expected_token` (constant time).
/// Otherwise [`Error::InvalidSignature`]: answer 403. The challenge must be
/// 1..=256 characters of `A-Z a-z 0-9 . _ ~ -` (Meta sends digits), so the
/// echo can never carry markup.
pub fn hub_challenge(
    mode: &str,
    verify_token: &str,
    challenge: &str,
    expected_token: &str,
) -> Result<String> {
    let result = hub_challenge_inner(mode, verify_token, challenge, expected_token);
    match &result {
        Ok(_) => tracing::info!("webhook verification handshake answered"),
        Err(e) => tracing::warn!(error = %e, "webhook verification handshake refused"),
    }
    result
}

fn hub_challenge_inner(
    mode: &str,
    verify_token: &str,
    challenge: &str,
    expected_token: &str,
) -> Result<String> {
    if expected_token.is_empty() {
        return Err(Error::invalid("expected_token", "must not be empty"));
    }
    if mode != HUB_MODE_SUBSCRIBE {
        return Err(Error::InvalidSignature(
            "hub.mode is not `subscribe`".into(),
        ));
    }
    if verify_token.is_empty() {
        return Err(Error::InvalidSignature("missing hub.verify_token".into()));
    }
    if !digest_eq(verify_token.as_bytes(), expected_token.as_bytes()) {
        return Err(Error::InvalidSignature(
            "hub.verify_token does not match".into(),
        ));
    }
    if challenge.is_empty() {
        return Err(Error::InvalidSignature("missing hub.challenge".into()));
    }
    if challenge.len() > MAX_CHALLENGE_LEN
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
    {
        return Err(Error::InvalidSignature(
            "hub.challenge has unexpected characters or length".into(),
        ));
    }
    Ok(challenge.to_string())
}

/// [`hub_challenge`] reading `hub.mode`, `hub.verify_token` and
/// `hub.challenge` from a raw query string (without the leading `?`).
/// A parameter given twice fails closed.
pub fn hub_challenge_from_query(query: &str, expected_token: &str) -> Result<String> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "hub.mode" => &mut mode,
            "hub.verify_token" => &mut token,
            "hub.challenge" => &mut challenge,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Error::InvalidSignature(format!("duplicated {k} parameter")));
        }
        *slot = Some(v.into_owned());
    }
    hub_challenge(
        mode.as_deref().unwrap_or(""),
        token.as_deref().unwrap_or(""),
        challenge.as_deref().unwrap_or(""),
        expected_token,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256={hex}")
    }

    fn err_msg(r: Result<()>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSignature, "{e}");
        e.to_string()
    }

    #[test]
    fn basic_auth_accepts_right_and_rejects_wrong_credentials() {
        let v = Verifier::basic_auth("hook", "pa55word").unwrap();
        v.verify(&[("authorization", basic("hook", "pa55word"))], b"")
            .unwrap();
        v.verify(&[("AUTHORIZATION", basic("hook", "pa55word"))], b"")
            .unwrap();
        let m = err_msg(v.verify(&[("Authorization", basic("hook", "pa55wordX"))], b""));
        assert!(m.contains("do not match"), "{m}");
        let m = err_msg(v.verify(&[("Authorization", basic("hook", "pa55word"))][..0], b""));
        assert!(m.contains("missing Authorization"), "{m}");
    }

    #[test]
    fn basic_auth_fails_closed_on_duplicates_empty_and_malformed() {
        let v = Verifier::basic_auth("hook", "pa55word").unwrap();
        let good = basic("hook", "pa55word");
        let m = err_msg(v.verify(
            &[
                ("Authorization", good.as_str()),
                ("authorization", good.as_str()),
            ],
            b"",
        ));
        assert!(m.contains("duplicated"), "{m}");
        assert!(err_msg(v.verify(&[("Authorization", "")], b"")).contains("empty"));
        assert!(err_msg(v.verify(&[("Authorization", "Basic !!!")], b"")).contains("base64"));
        assert!(err_msg(v.verify(&[("Authorization", "Bearer abc")], b"")).contains("Basic"));
        // base64 of "nocolon"
        assert!(
            err_msg(v.verify(&[("Authorization", "Basic bm9jb2xvbg==")], b""))
                .contains("user:password")
        );
    }

    #[test]
    fn errors_never_contain_the_secret_or_its_base64() {
        let v = Verifier::basic_auth("hook", "topsecretpw")
            .unwrap()
            .and(Verifier::header("X-Key", "headersecret").unwrap())
            .and(Verifier::hub_signature("appsecret").unwrap());
        let b64 = base64::engine::general_purpose::STANDARD.encode("hook:topsecretpw");
        let attempts: Vec<Vec<(&str, String)>> = vec![
            vec![],
            vec![("Authorization", basic("hook", "topsecretpw"))],
            vec![
                ("Authorization", basic("hook", "topsecretpw")),
                ("X-Key", "headersecreT".into()),
            ],
            vec![
                ("Authorization", basic("hook", "topsecretpw")),
                ("X-Key", "headersecret".into()),
                ("X-Hub-Signature-256", sign("other", b"{}")),
            ],
        ];
        for h in attempts {
            let e = v.verify(&h, b"{}").unwrap_err();
            for text in [e.to_string(), format!("{e:?}"), format!("{v:?}")] {
                for secret in ["topsecretpw", "headersecret", "appsecret", b64.as_str()] {
                    assert!(!text.contains(secret), "{text} leaks {secret}");
                }
            }
        }
    }

    #[test]
    fn custom_header_compares_whole_value_any_length() {
        let v = Verifier::header("X-Webhook-Key", "k3y-value").unwrap();
        v.verify(&[("x-webhook-key", "k3y-value")], b"").unwrap();
        assert!(err_msg(v.verify(&[("X-Webhook-Key", "k3y-valuE")], b"")).contains("not match"));
        assert!(err_msg(v.verify(&[("X-Webhook-Key", "k3y")], b"")).contains("not match"));
        assert!(
            err_msg(v.verify(&[("X-Webhook-Key", "k3y-value-and-more")], b""))
                .contains("not match")
        );
        assert!(err_msg(v.verify(&[("X-Other", "k3y-value")], b"")).contains("missing"));
    }

    #[test]
    fn hub_signature_over_raw_bytes() {
        let v = Verifier::hub_signature("app-secret").unwrap();
        let body = "{\"text\":\"h\\u00e9llo \u{1F600}\"}".as_bytes();
        v.verify(&[("x-hub-signature-256", sign("app-secret", body))], body)
            .unwrap();
        // Uppercase hex is accepted (the comparison is on the decoded bytes).
        let upper = sign("app-secret", body)
            .to_uppercase()
            .replace("SHA256=", "sha256=");
        v.verify(&[("X-Hub-Signature-256", upper)], body).unwrap();
        // One changed byte of the body fails.
        let mut other = body.to_vec();
        other[2] ^= 1;
        assert!(
            err_msg(v.verify(&[("X-Hub-Signature-256", sign("app-secret", body))], &other))
                .contains("does not match")
        );
        let sig = sign("app-secret", body);
        assert!(err_msg(v.verify(&[("X-Hub-Signature-256", &sig[7..])], body)).contains("sha256="));
        assert!(err_msg(v.verify(&[("X-Hub-Signature-256", &sig[..70])], body)).contains("64 hex"));
        assert!(err_msg(v.verify(&[("X-Hub-Signature-256", "")], body)).contains("empty"));
    }

    #[test]
    fn combined_checks_all_must_pass() {
        let v = Verifier::basic_auth("u", "p")
            .unwrap()
            .and(Verifier::header("X-Key", "k").unwrap());
        v.verify(
            &[("Authorization", basic("u", "p")), ("X-Key", "k".into())],
            b"",
        )
        .unwrap();
        assert!(
            v.verify(&[("Authorization", basic("u", "p"))], b"")
                .is_err()
        );
        assert!(v.verify(&[("X-Key", "k")], b"").is_err());
    }

    #[test]
    fn constructors_reject_unusable_configuration() {
        for (made, field) in [
            (Verifier::basic_auth("", "p"), "basic_auth.user"),
            (Verifier::basic_auth("a:b", "p"), "basic_auth.user"),
            (Verifier::basic_auth("u", ""), "basic_auth.password"),
            (Verifier::header("X Key", "v"), "headers.X Key"),
            (Verifier::header("X-Key", ""), "headers.X-Key"),
            (Verifier::hub_signature(""), "app_secret"),
        ] {
            assert_eq!(made.unwrap_err().field(), Some(field));
        }
        assert!(Verifier::from_json(&serde_json::json!({})).is_err());
        assert_eq!(
            Verifier::from_json(&serde_json::json!({"nope": 1}))
                .unwrap_err()
                .field(),
            Some("nope")
        );
    }

    #[test]
    fn challenge_handshake() {
        assert_eq!(
            hub_challenge("subscribe", "tok", "1158201444", "tok").unwrap(),
            "1158201444"
        );
        for (mode, tok, ch) in [
            ("unsubscribe", "tok", "1"),
            ("", "tok", "1"),
            ("subscribe", "tok2", "1"),
            ("subscribe", "", "1"),
            ("subscribe", "tok", ""),
            ("subscribe", "tok", "<script>"),
        ] {
            let e = hub_challenge(mode, tok, ch, "tok").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidSignature, "{mode} {tok} {ch}");
        }
        assert_eq!(
            hub_challenge_from_query(
                "hub.mode=subscribe&hub.challenge=42&hub.verify_token=t%20k",
                "t k"
            )
            .unwrap(),
            "42"
        );
        assert!(
            hub_challenge_from_query(
                "hub.mode=subscribe&hub.challenge=42&hub.verify_token=x&hub.verify_token=tk",
                "tk"
            )
            .is_err()
        );
    }

    proptest::proptest! {
        /// Arbitrary header bytes never panic and never authenticate.
        #[test]
        fn arbitrary_credentials_fail_closed(
            auth in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let v = Verifier::basic_auth("hook", "pw").unwrap();
            proptest::prop_assert!(v.verify(&[("Authorization", &auth)], &body).is_err());
            let v = Verifier::hub_signature("app").unwrap();
            proptest::prop_assert!(v.verify(&[("X-Hub-Signature-256", &sig)], &body).is_err());
            let v = Verifier::header("X-Key", "k-secret").unwrap();
            proptest::prop_assume!(key != b"k-secret");
            proptest::prop_assert!(v.verify(&[("X-Key", &key)], &body).is_err());
        }

        /// A signature made for one body never verifies a different body.
        #[test]
        fn signature_binds_the_exact_body(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let v = Verifier::hub_signature("app").unwrap();
            let h = [("X-Hub-Signature-256", sign("app", &a))];
            proptest::prop_assert!(v.verify(&h, &a).is_ok());
            proptest::prop_assert_eq!(v.verify(&h, &b).is_ok(), a == b);
        }
    }
}
