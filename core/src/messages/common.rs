//! Shared pieces of the outbound messages: character counting, validation
//! helpers, the one recipient rule (phone number or BSUID), emoji recognition,
//! and a small JSON object reader kept for the template-management form (the
//! messages themselves are read with serde, `read.rs`).
//!
//! # Character counts
//!
//! Meta does not say how it counts characters. wa360 counts **Unicode scalar
//! values** (Rust [`str::chars`]): `"é"` is 1, `"👍"` is 1, `"👍🏽"` (thumbs up
//! plus a skin-tone modifier) is 2. This is neither UTF-16 units nor bytes
//! (docs/360dialog-api.md §4.10).

use serde_json::{Map, Value};

use crate::{Error, Result};

/// Number of characters in `s`, counted as Unicode scalar values.
///
/// ```
/// assert_eq!(wa360::messages::char_count("héllo"), 5);
/// assert_eq!(wa360::messages::char_count("👍"), 1);
/// ```
pub fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// Join a dotted path: `join("a", "b") == "a.b"`, `join("", "b") == "b"`.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `idx("a.b", 2) == "a.b[2]"`.
pub(crate) fn idx(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Longest template name, in characters (`manage::templates::MAX_NAME`).
pub(crate) const MAX_TEMPLATE_NAME: usize = 512;

/// Check a template name: 1..512 characters, lowercase letters, digits and `_` only.
pub fn validate_template_name(field: &str, name: &str) -> Result<()> {
    check_len(field, name, 1, MAX_TEMPLATE_NAME)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::invalid(
            field,
            "must hold only lowercase letters a-z, digits and _",
        ));
    }
    Ok(())
}

/// Check a language code such as `en`, `en_US`, `zh_CN` or `fil`.
pub fn validate_language(field: &str, code: &str) -> Result<()> {
    let (lang, region) = match code.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (code, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region
        .is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if lang_ok && region_ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be a language code such as en or en_US (got {code:?})"),
        ))
    }
}

/// Check that `value` holds `min..=max` characters. `min == 0` allows empty.
pub(crate) fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let n = char_count(value);
    if n == 0 && min > 0 {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if n < min {
        return Err(Error::invalid(
            field,
            format!("must be at least {min} characters (got {n})"),
        ));
    }
    if n > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters (got {n})"),
        ));
    }
    Ok(())
}

/// Check that a required string is not empty.
pub(crate) fn check_non_empty(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::invalid(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Check a message id (a wamid, which 360dialog writes without whitespace): not empty, not
/// blank, and without whitespace at either end. A pasted id with a trailing newline, or a
/// blank one, would otherwise go to the network and come back as an error with no field.
pub(crate) fn check_message_id(field: &str, value: &str) -> Result<()> {
    check_non_empty(field, value)?;
    if value.trim().is_empty() {
        Err(Error::invalid(field, "must not be blank"))
    } else if value.trim() != value {
        Err(Error::invalid(
            field,
            "must not start or end with whitespace",
        ))
    } else {
        Ok(())
    }
}

/// Check that `value` is one of two words: `must be a or b (got "c")`.
pub(crate) fn check_either(field: &str, value: &str, [a, b]: [&str; 2]) -> Result<()> {
    if value == a || value == b {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be {a} or {b} (got {value:?})"),
        ))
    }
}

/// Check a count of items against `min..=max`.
pub(crate) fn check_count(field: &str, what: &str, n: usize, min: usize, max: usize) -> Result<()> {
    if n < min || n > max {
        let range = if min == max {
            format!("exactly {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(Error::invalid(
            field,
            format!("must hold {range} {what} (got {n})"),
        ));
    }
    Ok(())
}

/// Check that `url` is an absolute `http` or `https` URL with a host.
pub(crate) fn check_http_url(field: &str, value: &str) -> Result<()> {
    match url::Url::parse(value) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(Error::invalid(
            field,
            "must be an absolute http or https URL",
        )),
        Err(_) => Err(Error::invalid(
            field,
            "must be an absolute http or https URL (could not parse it)",
        )),
    }
}

/// Check a latitude / longitude pair (docs/360dialog-api.md §4.3).
pub(crate) fn check_lat_long(path: &str, latitude: f64, longitude: f64) -> Result<()> {
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(Error::invalid(
            join(path, "latitude"),
            format!("must be between -90 and 90 (got {latitude})"),
        ));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(Error::invalid(
            join(path, "longitude"),
            format!("must be between -180 and 180 (got {longitude})"),
        ));
    }
    Ok(())
}

/// Normalise a phone number to the digits Meta expects (docs/360dialog-api.md §3).
///
/// A leading `+`, spaces, `-`, `.`, `(` and `)` are removed; anything else is
/// rejected. The result must hold 8 to 15 digits (E.164 length) and must not
/// start with `0` (international format, starting with the country code).
///
/// ```
/// assert_eq!(wa360::messages::normalize_phone("+1 (555) 555-0123").unwrap(), "15555550123");
/// assert!(wa360::messages::normalize_phone("0171 1234567").is_err());
/// ```
pub fn normalize_phone(input: &str) -> Result<String> {
    let trimmed = input.trim();
    let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(Error::invalid(
                    "to",
                    format!(
                        "must be a phone number in international format (only digits, a leading +, spaces, '-', '.', '(' and ')' are allowed; found {c:?})"
                    ),
                ));
            }
        }
    }
    let n = digits.len();
    if !(8..=15).contains(&n) {
        return Err(Error::invalid(
            "to",
            format!("must be a phone number of 8 to 15 digits (got {n})"),
        ));
    }
    if digits.starts_with('0') {
        return Err(Error::invalid(
            "to",
            "must be in international format, starting with the country code (not 0)",
        ));
    }
    Ok(digits)
}

/// Whether `s` has the shape of a business-scoped user id (BSUID):
/// `CC.digits` (e.g. `US.13491208655302741918`) or the parent form
/// `CC.ENT.digits`, where `CC` is two upper-case ASCII letters.
pub fn is_bsuid(s: &str) -> bool {
    let mut parts = s.split('.');
    let cc = parts.next().unwrap_or("");
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
        return false;
    }
    let mut rest: Vec<&str> = parts.collect();
    if rest.len() == 2 && rest[0] == "ENT" {
        rest.remove(0);
    }
    rest.len() == 1 && !rest[0].is_empty() && rest[0].bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` looks like an attempt at a BSUID (two upper-case letters and a
/// dot): used to route a `to` value and to give a precise error.
fn looks_like_bsuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase() && b[2] == b'.'
}

/// An individual recipient, as WhatsApp addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientId {
    /// A phone number, normalised to its digits (sent as `to`).
    Phone(String),
    /// A business-scoped user id (sent as `recipient`).
    Bsuid(String),
}

impl RecipientId {
    /// The wire key: `to` for a phone number, `recipient` for a BSUID.
    pub fn wire_key(&self) -> &'static str {
        match self {
            RecipientId::Phone(_) => "to",
            RecipientId::Bsuid(_) => "recipient",
        }
    }

    /// The value sent.
    pub fn as_str(&self) -> &str {
        match self {
            RecipientId::Phone(s) | RecipientId::Bsuid(s) => s,
        }
    }
}

/// The one rule for an individual recipient given as `to` (docs/360dialog-api.md §3):
/// a value shaped like a BSUID (`US.1349…`, `US.ENT.1349…`) must be one and is
/// sent as `recipient`; anything else must be a phone number
/// ([`normalize_phone`]). The core, the CLI and the sandbox all use it.
///
/// ```
/// use wa360::messages::{RecipientId, recipient_id};
/// assert_eq!(recipient_id("+1 555 555 0123").unwrap(), RecipientId::Phone("15555550123".into()));
/// assert_eq!(recipient_id("US.13491208655302741918").unwrap().wire_key(), "recipient");
/// assert!(recipient_id("US.1349x").is_err());
/// ```
pub fn recipient_id(input: &str) -> Result<RecipientId> {
    if looks_like_bsuid(input) {
        if is_bsuid(input) {
            Ok(RecipientId::Bsuid(input.to_string()))
        } else {
            Err(Error::invalid(
                "to",
                "looks like a business-scoped user id but is not one (expected CC.digits or CC.ENT.digits)",
            ))
        }
    } else {
        normalize_phone(input).map(RecipientId::Phone)
    }
}

// ---------------------------------------------------------------------------
// Emoji recognition.
//
// Hand-written on purpose: the reaction rule only needs "is this one emoji",
// and a small grammar of emoji sequences (UTS #51, §1.4) over a compact table of
// the pictographic ranges does that without pulling in a Unicode data crate.
// It accepts: a pictographic character with optional variation selector or
// skin-tone modifier, ZWJ sequences of those, flags (two regional indicators),
// keycaps (`1️⃣`) and tag sequences (subdivision flags).
// ---------------------------------------------------------------------------

fn is_pictographic(c: char) -> bool {
    matches!(c as u32,
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
        | 0x2194..=0x2199 | 0x21A9..=0x21AA | 0x231A..=0x231B | 0x2328 | 0x23CF
        | 0x23E9..=0x23F3 | 0x23F8..=0x23FA | 0x24C2 | 0x25AA..=0x25AB | 0x25B6 | 0x25C0
        | 0x25FB..=0x25FE | 0x2600..=0x27BF | 0x2934..=0x2935 | 0x2B05..=0x2B07
        | 0x2B1B..=0x2B1C | 0x2B50 | 0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x1F000..=0x1F1E5 | 0x1F200..=0x1F3FA | 0x1F400..=0x1FAFF)
}

fn is_regional_indicator(c: char) -> bool {
    (0x1F1E6..=0x1F1FF).contains(&(c as u32))
}

fn is_skin_tone(c: char) -> bool {
    (0x1F3FB..=0x1F3FF).contains(&(c as u32))
}

/// Whether `s` is exactly one emoji (possibly a multi-character sequence such
/// as `👍🏽`, `❤️`, `🇩🇪`, `1️⃣` or `👨‍👩‍👧`).
pub fn is_single_emoji(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return false;
    }
    // Flag: exactly two regional indicators.
    if chars.len() == 2 && chars.iter().all(|c| is_regional_indicator(*c)) {
        return true;
    }
    // Keycap: [0-9#*] FE0F? 20E3.
    if matches!(chars[0], '0'..='9' | '#' | '*') {
        return matches!(chars[1..], ['\u{20E3}'] | ['\u{FE0F}', '\u{20E3}']);
    }
    // Tag sequence: black flag + tag characters + cancel tag.
    if chars[0] == '\u{1F3F4}' && chars.len() > 2 && chars[chars.len() - 1] == '\u{E007F}' {
        return chars[1..chars.len() - 1]
            .iter()
            .all(|c| (0xE0020..=0xE007E).contains(&(*c as u32)));
    }
    // ZWJ sequence of elements: pictographic (FE0F|FE0E)? skin-tone? (FE0F)?
    let mut i = 0;
    loop {
        let Some(&c) = chars.get(i) else {
            return false;
        };
        if !is_pictographic(c) || is_skin_tone(c) {
            return false;
        }
        i += 1;
        if matches!(chars.get(i), Some('\u{FE0F}' | '\u{FE0E}')) {
            i += 1;
        }
        if chars.get(i).is_some_and(|c| is_skin_tone(*c)) {
            i += 1;
        }
        if matches!(chars.get(i), Some('\u{FE0F}')) {
            i += 1;
        }
        match chars.get(i) {
            None => return true,
            Some('\u{200D}') => i += 1,
            Some(_) => return false,
        }
    }
}

/// Whether `s` contains any emoji character (used for `flow_cta`).
pub(crate) fn contains_emoji(s: &str) -> bool {
    s.chars().any(|c| {
        (is_pictographic(c) && !matches!(c, '\u{00A9}' | '\u{00AE}' | '\u{2122}'))
            || is_regional_indicator(c)
    })
}

// ---------------------------------------------------------------------------
// A small reader of JSON objects, still used by the template-management form
// (`manage::templates`). Outbound messages are read with serde (`read.rs`).
// ---------------------------------------------------------------------------

/// JSON type name for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, want: &str, got: &Value) -> Error {
    Error::invalid(path, format!("must be {want} (got {})", type_name(got)))
}

/// Read a value as a string.
pub(crate) fn as_string(path: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(wrong_type(path, "a string", other)),
    }
}

/// An object of the neutral description being read. Keys are taken out as
/// they are read; [`Obj::finish`] rejects whatever is left (unknown keys).
/// A `null` value counts as absent.
pub(crate) struct Obj {
    path: String,
    map: Map<String, Value>,
}

impl Obj {
    /// Start reading `v`, which must be an object, at `path`.
    pub(crate) fn new(path: &str, v: &Value) -> Result<Obj> {
        match v {
            Value::Object(m) => Ok(Obj {
                path: path.to_string(),
                map: m.clone(),
            }),
            other => Err(wrong_type(path, "an object", other)),
        }
    }

    /// The path of one of its keys.
    pub(crate) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Take a raw value, if present and not null.
    pub(crate) fn opt_value(&mut self, key: &str) -> Option<Value> {
        match self.map.remove(key) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    /// Take a required raw value.
    pub(crate) fn req_value(&mut self, key: &str) -> Result<Value> {
        self.opt_value(key)
            .ok_or_else(|| Error::invalid(self.at(key), "is required"))
    }

    /// Take an optional string.
    pub(crate) fn opt_str(&mut self, key: &str) -> Result<Option<String>> {
        match self.opt_value(key) {
            None => Ok(None),
            Some(v) => as_string(&self.at(key), &v).map(Some),
        }
    }

    /// Take a required string.
    pub(crate) fn req_str(&mut self, key: &str) -> Result<String> {
        let v = self.req_value(key)?;
        as_string(&self.at(key), &v)
    }

    /// Take an optional boolean.
    pub(crate) fn opt_bool(&mut self, key: &str) -> Result<Option<bool>> {
        match self.opt_value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(wrong_type(&self.at(key), "a boolean", &other)),
        }
    }

    /// Take an optional array.
    pub(crate) fn opt_arr(&mut self, key: &str) -> Result<Option<Vec<Value>>> {
        match self.opt_value(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(wrong_type(&self.at(key), "an array", &other)),
        }
    }

    /// Take a required array.
    pub(crate) fn req_arr(&mut self, key: &str) -> Result<Vec<Value>> {
        match self.req_value(key)? {
            Value::Array(a) => Ok(a),
            other => Err(wrong_type(&self.at(key), "an array", &other)),
        }
    }

    /// Reject any key that was not read.
    pub(crate) fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(Error::invalid(join(&self.path, k), "unknown field")),
        }
    }
}

/// Builder setters that store `Some(value.into())` in an `Option<String>` field
/// and return the builder: `optional_setters! { /// doc
/// caption => caption; }` writes `pub fn caption(mut self, value: impl
/// Into<String>) -> Self`. The message builders have a dozen such setters
/// (caption, filename, name, address, body, footer, reply_to, …) that differ
/// only in their name, field and doc, so they are written once here.
macro_rules! optional_setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident;)+) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$field = Some(value.into());
            self
        }
    )+};
}
pub(crate) use optional_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chars_are_scalar_values() {
        assert_eq!(char_count(""), 0);
        assert_eq!(char_count("abc"), 3);
        assert_eq!(char_count("é"), 1);
        assert_eq!(
            char_count("e\u{301}"),
            2,
            "combining accent is its own scalar"
        );
        assert_eq!(char_count("👍"), 1);
        assert_eq!(char_count("👍🏽"), 2);
        assert_eq!(char_count("👨‍👩‍👧"), 5);
    }

    #[test]
    fn check_len_boundaries_and_message() {
        assert!(check_len("f", &"a".repeat(20), 1, 20).is_ok());
        let e = check_len("f", &"a".repeat(21), 1, 20).unwrap_err();
        assert_eq!(e.field(), Some("f"));
        assert_eq!(
            e.to_string(),
            "invalid argument `f`: must be at most 20 characters (got 21)"
        );
        let e = check_len("f", "", 1, 20).unwrap_err();
        assert!(e.to_string().contains("must not be empty"));
        assert!(check_len("f", "", 0, 20).is_ok());
        // 20 emoji are 20 characters, not 80 bytes or 40 UTF-16 units.
        assert!(check_len("f", &"😀".repeat(20), 1, 20).is_ok());
        assert!(check_len("f", &"😀".repeat(21), 1, 20).is_err());
    }

    #[test]
    fn phone_normalisation() {
        assert_eq!(normalize_phone("15555550123").unwrap(), "15555550123");
        assert_eq!(normalize_phone("+1 555 555 0123").unwrap(), "15555550123");
        assert_eq!(
            normalize_phone("+49 (30) 1234-5678").unwrap(),
            "493012345678"
        );
        assert_eq!(
            normalize_phone(" +44.20.7946.0958 ").unwrap(),
            "442079460958"
        );
        // Length bounds: 8 and 15 digits pass, 7 and 16 fail.
        assert!(normalize_phone("12345678").is_ok());
        assert!(normalize_phone("123456789012345").is_ok());
        assert!(normalize_phone("1234567").is_err());
        assert!(normalize_phone("1234567890123456").is_err());
        // Letters, a second +, a local leading 0 are rejected, naming `to`.
        let e = normalize_phone("1555CALLNOW").unwrap_err();
        assert_eq!(e.field(), Some("to"));
        assert!(normalize_phone("+1+5555550123").is_err());
        assert!(normalize_phone("01711234567").is_err());
        assert!(normalize_phone("").is_err());
    }

    #[test]
    fn bsuid_shapes() {
        assert!(is_bsuid("US.13491208655302741918"));
        assert!(is_bsuid("US.ENT.13491208655302741918"));
        assert!(!is_bsuid("us.1349"));
        assert!(!is_bsuid("US."));
        assert!(!is_bsuid("US.12a"));
        assert!(!is_bsuid("USA.123"));
        assert!(!is_bsuid("US.XYZ.123"));
        assert!(!is_bsuid("15555550123"));
    }

    #[test]
    fn single_emoji() {
        for ok in [
            "👍",
            "😀",
            "👍🏽",
            "❤️",
            "❤",
            "🇩🇪",
            "1️⃣",
            "#⃣",
            "👨‍👩‍👧",
            "🏳️‍🌈",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "☕",
        ] {
            assert!(is_single_emoji(ok), "{ok:?} should be one emoji");
        }
        for bad in [
            "", "a", "ok", "👍👍", "👍 ", "🏽", "1", "🇩", "😀a", "\u{200D}",
        ] {
            assert!(!is_single_emoji(bad), "{bad:?} should not be one emoji");
        }
    }

    #[test]
    fn obj_reader_names_fields() {
        let v = serde_json::json!({"a": "x", "b": 1, "n": null, "extra": true});
        let mut o = Obj::new("root", &v).unwrap();
        assert_eq!(o.req_str("a").unwrap(), "x");
        let e = o.req_str("b").unwrap_err();
        assert_eq!(e.field(), Some("root.b"));
        assert!(e.to_string().contains("must be a string (got a number)"));
        assert_eq!(o.opt_str("n").unwrap(), None);
        let e = o.req_str("missing").unwrap_err();
        assert_eq!(e.field(), Some("root.missing"));
        let e = o.finish().unwrap_err();
        assert_eq!(e.field(), Some("root.extra"));
        assert!(e.to_string().contains("unknown field"));
    }
}
