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
/// tokens: serde_json then has less to skip, and the wire pieces kept as text
/// (and copied verbatim into the canonical JSON) come out compact.
/// Hand-written: it is the depth scan that must run before serde_json anyway
/// (see the module comment), plus a copy.
///
/// The second value is `true` when the body may hold text or numbers that
/// [`super::normalize`] rewrites (an escape of a UTF-16 surrogate, a number of
/// more than 16 digits, of 16 digits above 2^53 − 1, or with an exponent), so
/// that pass runs only then. (A 16-digit integer such as a microsecond
/// timestamp is common and needs no rewrite: checking its value here spares
/// the whole body a second copy.)
///
/// A body without whitespace between tokens (a real delivery: 360dialog sends
/// compact JSON) is only scanned, and returned as its own compact copy.
/// Otherwise the scan stops at the first such whitespace and the copying scan
/// runs: it writes the compact copy to the front of `out` (grown to the body's
/// length when shorter, never shrunk), so a caller that keeps `out` between calls
/// parses without allocating or clearing a buffer per body.
///
/// Two loops, each its own function (`inline(never)`), measured with a fixed-iteration
/// loop under `perf stat` (docs/performance.md §5, fifth pass): one loop with a
/// "copying yet?" state, or the two inlined into the caller, made the copying loop
/// 3–7% slower on indented bodies; as they are, indented bodies parse as fast as
/// before and compact ones 3–5% faster.
pub(super) fn prepare<'a>(
    body: &'a [u8],
    opts: &ParseOptions,
    out: &'a mut Vec<u8>,
) -> Result<(&'a [u8], bool)> {
    if body.len() > opts.max_bytes {
        return Err(Error::WebhookPayload(format!(
            "body is {} bytes, over the limit of {} bytes",
            body.len(),
            opts.max_bytes
        )));
    }
    let (compact, odd) = match scan_in_place(body, opts)? {
        Some(odd) => (body, odd),
        None => {
            let (n, odd) = copy_compact(body, opts, out)?;
            (&out[..n], odd)
        }
    };
    match compact.first() {
        Some(b'{') => Ok((compact, odd)),
        Some(_) => Err(Error::WebhookPayload(
            "top level is not a JSON object".into(),
        )),
        None => Err(Error::WebhookPayload("empty body".into())),
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The index just past the string that opens at `body[i]` (a `"`), or the body's
/// end; sets `odd` on an escape of a UTF-16 surrogate. A backslash escapes the
/// next byte.
#[inline(always)]
fn string_end(body: &[u8], mut i: usize, odd: &mut bool) -> usize {
    let len = body.len();
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
                    *odd = true;
                }
                i += 2
            }
            _ => i += 1,
        }
    }
    (i + 1).min(len)
}

/// What the scans track outside strings: the nesting depth, and the runs of
/// digits for the rewrite flag.
#[derive(Default)]
struct Tokens {
    depth: usize,
    odd: bool,
    /// Length and start of the current run of digits outside strings.
    digits: usize,
    run: usize,
}

impl Tokens {
    /// One byte outside strings (not whitespace) at `i`.
    #[inline(always)]
    fn byte(&mut self, body: &[u8], i: usize, b: u8, opts: &ParseOptions) -> Result<()> {
        match b {
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > opts.max_depth {
                    return Err(Error::WebhookPayload(format!(
                        "nested deeper than {} levels",
                        opts.max_depth
                    )));
                }
            }
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        if b.is_ascii_digit() {
            if self.digits == 0 {
                self.run = i;
            }
            self.digits += 1;
            self.odd |= self.digits > 16;
        } else {
            self.odd |= self.digits > 0 && (b == b'e' || b == b'E');
            self.odd |= self.digits == 16 && big16(body, self.run);
            self.digits = 0;
        }
        Ok(())
    }
}

/// A run of exactly 16 digits needs the rewrite only above 2^53 − 1. (The
/// count runs on across whitespace, as in `1 2`, invalid JSON: then the
/// 16 bytes are not all digits and the answer is "maybe", the safe side.)
fn big16(body: &[u8], start: usize) -> bool {
    let d = &body[start..(start + 16).min(body.len())];
    d.len() < 16
        || !d.iter().all(u8::is_ascii_digit)
        || d.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'))
            > crate::webhook::normalize::MAX_SAFE_INTEGER
}

/// The limits of a body that has no whitespace between tokens, copying nothing:
/// `Some(odd)`, or `None` at the first such whitespace (the copying scan then
/// starts over).
#[inline(never)]
fn scan_in_place(body: &[u8], opts: &ParseOptions) -> Result<Option<bool>> {
    let mut t = Tokens::default();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'"' {
            i = string_end(body, i, &mut t.odd);
        } else if is_ws(b) {
            return Ok(None);
        } else {
            t.byte(body, i, b, opts)?;
            i += 1;
        }
    }
    Ok(Some(t.odd))
}

/// The copying scan: the compact copy written to the front of `out`, its length.
#[inline(never)]
fn copy_compact(body: &[u8], opts: &ParseOptions, out: &mut Vec<u8>) -> Result<(usize, bool)> {
    // Bytes next to which a space can be dropped without joining two tokens.
    let sep = |b: u8| matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"');
    let len = body.len();
    // Written by index (never longer than the body).
    if out.len() < len {
        out.resize(len, 0);
    }
    let out = &mut out[..len];
    let mut w = 0usize;
    let mut t = Tokens::default();
    let mut i = 0;
    while i < len {
        let b = body[i];
        if b == b'"' {
            // Copy the string.
            let start = i;
            i = string_end(body, i, &mut t.odd);
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
        t.byte(body, i, b, opts)?;
        out[w] = b;
        w += 1;
        i += 1;
    }
    Ok((w, t.odd))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `prepare`'s result as owned text: the compact bytes, the rewrite flag.
    fn prepared(body: &[u8], opts: &ParseOptions) -> Result<(Vec<u8>, bool, bool)> {
        let mut buf = Vec::new();
        let (text, odd) = prepare(body, opts, &mut buf)?;
        // Scanned in place: the text is the body itself, not a copy in the buffer.
        let in_place = std::ptr::eq(text, body);
        Ok((text.to_vec(), odd, in_place))
    }

    /// The copying scan alone, from the first byte.
    fn copied(body: &[u8], opts: &ParseOptions) -> Result<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        let (n, odd) = copy_compact(body, opts, &mut out)?;
        out.truncate(n);
        match out.first() {
            Some(b'{') => Ok((out, odd)),
            _ => Err(Error::WebhookPayload("top level".into())),
        }
    }

    fn same(body: &[u8], opts: &ParseOptions) {
        let got = prepared(body, opts).map(|(t, odd, _)| (t, odd));
        let want = copied(body, opts);
        match (&got, &want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{}", String::from_utf8_lossy(body)),
            (Err(g), Err(w)) => {
                // The same failure: both say depth, or both say something else.
                let depth = |e: &Error| e.to_string().contains("nested deeper");
                assert_eq!(depth(g), depth(w), "{}", String::from_utf8_lossy(body))
            }
            _ => panic!("{got:?} / {want:?}: {}", String::from_utf8_lossy(body)),
        }
    }

    fn fixtures() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/conformance/webhook_parse");
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path().join("input.json"))
            .filter(|p| p.exists())
            .collect();
        out.sort();
        out.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    #[test]
    fn a_body_without_whitespace_between_tokens_is_scanned_in_place_with_the_same_result() {
        let opts = ParseOptions::default();
        let tight = ParseOptions {
            max_depth: 4,
            ..opts
        };
        let fixtures = fixtures();
        assert!(fixtures.len() >= 50);
        for body in &fixtures {
            same(body, &opts);
            same(body, &tight);
            // The compact copy of a fixture has nothing left to drop: it is its own copy.
            if let Ok((compact, odd, _)) = prepared(body, &opts) {
                let (again, odd2, in_place) = prepared(&compact, &opts).unwrap();
                assert!(in_place, "{}", String::from_utf8_lossy(&compact));
                assert_eq!((&again, odd2), (&compact, odd));
                same(&compact, &tight);
            }
        }
        // Every byte of a compact body replaced by each kind of byte the scan tells
        // apart, and every truncation: scanning in place, switching to the copy part-way,
        // or failing, each gives what the copying scan alone gives.
        let (compact, _, _) = prepared(&fixtures[fixtures.len() / 2], &opts).unwrap();
        let kinds = b" \n\t\"\\{[}]:,1eEx9";
        for i in 0..compact.len() {
            for &k in kinds {
                let mut b = compact.clone();
                b[i] = k;
                same(&b, &opts);
                same(&b, &tight);
            }
            same(&compact[..i], &opts);
        }
    }
}
