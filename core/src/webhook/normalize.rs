//! The one rule for JSON values that some language cannot hold
//! (`tests/conformance/webhook_parse/README.md`, "Values every language can hold").
//!
//! JSON allows text and numbers that a Rust `String`, an `f64` or a
//! JavaScript number cannot represent: a `\ud800` escape with no partner (a
//! lone UTF-16 surrogate), `1e400`, or an integer above 2^53 (exact in Rust
//! and Python, rounded by `JSON.parse`). Left alone they made serde_json fail
//! on the piece (an event silently `null`, or the whole delivery rejected)
//! and made the three languages disagree. Before the body is read, this pass
//! rewrites the compact body text:
//!
//! - a lone surrogate escape (high without a following low, or a low alone)
//!   becomes `\ufffd` (U+FFFD, the replacement character);
//! - a number that is an integer outside ±(2^53 − 1), or whose value
//!   overflows an `f64`, becomes a JSON string holding its wire text
//!   verbatim (`12345678901234567890` → `"12345678901234567890"`).
//!
//! Everything else is copied unchanged, so a body that has none of these
//! comes out byte-identical. Hand-written (a small scanner) because it must
//! run on the raw text, before any JSON library has turned it into values.

/// Largest integer every language holds exactly (2^53 − 1, JavaScript's
/// `Number.MAX_SAFE_INTEGER`).
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The value of a `\uXXXX` escape starting at `src[i]` (the backslash).
fn hex4(src: &[u8], i: usize) -> Option<u16> {
    if src.get(i) != Some(&b'\\') || src.get(i + 1) != Some(&b'u') {
        return None;
    }
    let hex = src.get(i + 2..i + 6)?;
    let s = std::str::from_utf8(hex).ok()?;
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(s, 16).ok()
}

/// `tok` follows the JSON number grammar
/// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
fn is_json_number(tok: &[u8]) -> bool {
    let mut i = 0;
    let n = tok.len();
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < n && tok[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > s
    };
    if i < n && tok[i] == b'-' {
        i += 1;
    }
    if i < n && tok[i] == b'0' {
        i += 1;
    } else if !digits(&mut i) {
        return false;
    }
    if i < n && tok[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < n && (tok[i] == b'e' || tok[i] == b'E') {
        i += 1;
        if i < n && (tok[i] == b'+' || tok[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == n
}

/// A valid JSON number that some language cannot hold (see the module docs).
pub(crate) fn number_needs_text(tok: &[u8]) -> bool {
    if !is_json_number(tok) {
        return false; // left for the JSON parser to reject
    }
    let is_integer = !tok.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
    let text = std::str::from_utf8(tok).unwrap_or("0");
    if is_integer {
        let digits = text.trim_start_matches('-');
        return digits.len() > 16 || digits.parse::<u64>().map_or(true, |v| v > MAX_SAFE_INTEGER);
    }
    // Rust's float parsing is correctly rounded, like Python's and V8's.
    text.parse::<f64>().map_or(true, |f| !f.is_finite())
}

/// Rewrite `src` (compact JSON text) by the rule of the module docs.
pub(crate) fn normalize(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() + 16);
    let n = src.len();
    let mut i = 0;
    while i < n {
        let b = src[i];
        if b == b'"' {
            out.push(b);
            i += 1;
            while i < n {
                let c = src[i];
                if c == b'"' {
                    out.push(c);
                    i += 1;
                    break;
                }
                if c != b'\\' {
                    out.push(c);
                    i += 1;
                    continue;
                }
                match hex4(src, i) {
                    Some(0xD800..=0xDBFF) => {
                        if let Some(0xDC00..=0xDFFF) = hex4(src, i + 6) {
                            out.extend_from_slice(&src[i..i + 12]);
                            i += 12;
                        } else {
                            out.extend_from_slice(b"\\ufffd");
                            i += 6;
                        }
                    }
                    Some(0xDC00..=0xDFFF) => {
                        out.extend_from_slice(b"\\ufffd");
                        i += 6;
                    }
                    Some(_) => {
                        out.extend_from_slice(&src[i..i + 6]);
                        i += 6;
                    }
                    None => {
                        let end = (i + 2).min(n);
                        out.extend_from_slice(&src[i..end]);
                        i = end;
                    }
                }
            }
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < n && matches!(src[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                i += 1;
            }
            let tok = &src[start..i];
            if number_needs_text(tok) {
                out.push(b'"');
                out.extend_from_slice(tok);
                out.push(b'"');
            } else {
                out.extend_from_slice(tok);
            }
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8(normalize(s.as_bytes())).unwrap()
    }

    #[test]
    fn lone_surrogates_become_the_replacement_character() {
        assert_eq!(norm(r#"["\ud800"]"#), r#"["\ufffd"]"#);
        assert_eq!(norm(r#"["a\uDC00b"]"#), r#"["a\ufffdb"]"#);
        assert_eq!(norm(r#"["\ud800\u0041"]"#), r#"["\ufffd\u0041"]"#);
        assert_eq!(
            norm(r#"["\ud800\ud800\udc00"]"#),
            r#"["\ufffd\ud800\udc00"]"#
        );
        // A valid pair and other escapes are kept.
        assert_eq!(
            norm(r#"["\ud83d\ude00\n\"\\u"]"#),
            r#"["\ud83d\ude00\n\"\\u"]"#
        );
    }

    #[test]
    fn numbers_no_language_holds_become_their_text() {
        assert_eq!(norm("[1e400,-1e400]"), r#"["1e400","-1e400"]"#);
        assert_eq!(
            norm("[9007199254740991,9007199254740992]"),
            r#"[9007199254740991,"9007199254740992"]"#
        );
        assert_eq!(norm("[-9007199254740992]"), r#"["-9007199254740992"]"#);
        let big = "1".repeat(400);
        assert_eq!(norm(&format!("[{big}]")), format!(r#"["{big}"]"#));
        // Floats an f64 holds (rounded alike everywhere) and underflow are kept.
        assert_eq!(
            norm("[1.5e300,1e-400,0.1000000000000000000001]"),
            "[1.5e300,1e-400,0.1000000000000000000001]"
        );
        // Not a JSON number: left for the parser to reject.
        assert_eq!(norm("[01,1.,--1]"), "[01,1.,--1]");
    }

    #[test]
    fn strings_are_not_numbers() {
        assert_eq!(
            norm(r#"{"12345678901234567890":"1e400"}"#),
            r#"{"12345678901234567890":"1e400"}"#
        );
    }
}
