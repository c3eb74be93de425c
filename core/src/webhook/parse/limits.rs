//! Limits checked before parsing: body size and nesting depth, in one
//! byte scan that also drops the whitespace between tokens.

use super::ParseOptions;
use crate::{Error, Result};

/// High bit set in each byte of `w` that is `"` or `\\` (SWAR; exact for
/// the lowest such byte, which is all the caller reads).
pub(super) fn quote_or_backslash(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let q = w ^ (LO * u64::from(b'"'));
    let s = w ^ (LO * u64::from(b'\\'));
    ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s)) & HI
}

/// Checks the limits and returns the body without the whitespace between
/// tokens, in one pass: serde_json then has less to skip, and the wire pieces
/// kept as text (and copied verbatim into the canonical JSON) come out
/// compact. Hand-written: it is the depth scan that must run before
/// serde_json anyway (see the module comment), plus a copy.
///
/// The second value is `true` when the body may hold text or numbers that
/// [`super::normalize`] rewrites (an escape of a UTF-16 surrogate, a number of
/// more than 16 digits, of 16 digits above 2^53 − 1, or with an exponent), so
/// that pass runs only then. (A 16-digit integer such as a microsecond
/// timestamp is common and needs no rewrite: checking its value here spares
/// the whole body a second copy.)
///
/// The compact copy is written to the front of `out` (grown to the body's length when
/// shorter, never shrunk), and its length returned: a caller that keeps `out` between
/// calls parses without allocating or clearing a buffer per body.
pub(super) fn prepare(
    body: &[u8],
    opts: &ParseOptions,
    out: &mut Vec<u8>,
) -> Result<(usize, bool)> {
    if body.len() > opts.max_bytes {
        return Err(Error::WebhookPayload(format!(
            "body is {} bytes, over the limit of {} bytes",
            body.len(),
            opts.max_bytes
        )));
    }
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    // Bytes next to which a space can be dropped without joining two tokens.
    let sep = |b: u8| matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"');
    let len = body.len();
    // Written by index (never longer than the body).
    if out.len() < len {
        out.resize(len, 0);
    }
    let out = &mut out[..len];
    let mut w = 0usize;
    let mut depth = 0usize;
    let mut odd = false;
    // Length and start of the current run of digits outside strings.
    let mut digits = 0usize;
    let mut run = 0usize;
    // A run of exactly 16 digits needs the rewrite only above 2^53 − 1. (The
    // count runs on across whitespace, as in `1 2`, invalid JSON: then the
    // 16 bytes are not all digits and the answer is "maybe", the safe side.)
    let big16 = |start: usize| {
        let d = &body[start..(start + 16).min(len)];
        d.len() < 16
            || !d.iter().all(u8::is_ascii_digit)
            || d.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'))
                > crate::webhook::normalize::MAX_SAFE_INTEGER
    };
    let mut i = 0;
    while i < len {
        let b = body[i];
        if b == b'"' {
            // Copy the string; a backslash escapes the next byte.
            let start = i;
            i += 1;
            while i < len {
                // Eight bytes at a time up to the next `"` or `\\`.
                while i + 8 <= len {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(&body[i..i + 8]);
                    let m = quote_or_backslash(u64::from_le_bytes(word));
                    if m != 0 {
                        i += (m.trailing_zeros() / 8) as usize;
                        break;
                    }
                    i += 8;
                }
                if i >= len {
                    break;
                }
                match body[i] {
                    b'"' => break,
                    b'\\' => {
                        // `\uD800`–`\uDFFF`: a surrogate escape (paired or not).
                        if body.get(i + 1) == Some(&b'u')
                            && matches!(body.get(i + 2), Some(b'd' | b'D'))
                            && matches!(
                                body.get(i + 3),
                                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                            )
                        {
                            odd = true;
                        }
                        i += 2
                    }
                    _ => i += 1,
                }
            }
            i = (i + 1).min(len);
            let n = i - start;
            out[w..w + n].copy_from_slice(&body[start..i]);
            w += n;
            continue;
        }
        if is_ws(b) {
            let mut j = i + 1;
            while j + 8 <= len && body[j..j + 8] == [b' '; 8] {
                j += 8;
            }
            while j < len && is_ws(body[j]) {
                j += 1;
            }
            // Keep one space where dropping it would join two tokens
            // (`1 2`, `true false`): invalid JSON must stay invalid.
            if w > 0 && j < len && !sep(out[w - 1]) && !sep(body[j]) {
                out[w] = b' ';
                w += 1;
            }
            i = j;
            continue;
        }
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > opts.max_depth {
                    return Err(Error::WebhookPayload(format!(
                        "nested deeper than {} levels",
                        opts.max_depth
                    )));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if b.is_ascii_digit() {
            if digits == 0 {
                run = i;
            }
            digits += 1;
            odd |= digits > 16;
        } else {
            odd |= digits > 0 && (b == b'e' || b == b'E');
            odd |= digits == 16 && big16(run);
            digits = 0;
        }
        out[w] = b;
        w += 1;
        i += 1;
    }
    match out[..w].first() {
        Some(b'{') => Ok((w, odd)),
        Some(_) => Err(Error::WebhookPayload(
            "top level is not a JSON object".into(),
        )),
        None => Err(Error::WebhookPayload("empty body".into())),
    }
}
