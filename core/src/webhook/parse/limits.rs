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
/// Otherwise the compact copy is written to the front of `out` (grown to the
/// body's length when shorter, never shrunk), so a caller that keeps `out`
/// between calls parses without allocating or clearing a buffer per body.
///
/// The scan runs 64 bytes at a time ([`scan_blocks`]). A body that only invalid
/// JSON has (a backslash outside a string, two tokens with only whitespace
/// between them, a number followed by a digit or a string) is scanned again a
/// byte at a time ([`scan_in_place`], [`copy_compact`]), which defines the
/// result: the block scan gives the same one on every other body, and the tests
/// compare the two.
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
    let (compact, odd) = match scan_blocks(body, opts, out)? {
        Scan::InPlace(odd) => (body, odd),
        Scan::Copied(n, odd) => (&out[..n], odd),
        Scan::Unusual => bytewise(body, opts, out)?,
    };
    match compact.first() {
        Some(b'{') => Ok((compact, odd)),
        Some(_) => Err(Error::WebhookPayload(
            "top level is not a JSON object".into(),
        )),
        None => Err(Error::WebhookPayload("empty body".into())),
    }
}

/// The byte-at-a-time scans: in place, then copying from the first whitespace
/// between tokens.
fn bytewise<'a>(
    body: &'a [u8],
    opts: &ParseOptions,
    out: &'a mut Vec<u8>,
) -> Result<(&'a [u8], bool)> {
    Ok(match scan_in_place(body, opts)? {
        Some(odd) => (body, odd),
        None => {
            let (n, odd) = copy_compact(body, opts, out)?;
            (&out[..n], odd)
        }
    })
}

fn too_deep(opts: &ParseOptions) -> Error {
    Error::WebhookPayload(format!("nested deeper than {} levels", opts.max_depth))
}

/// What [`scan_blocks`] found.
enum Scan {
    /// No whitespace between tokens: the body is its own compact copy.
    InPlace(bool),
    /// The compact copy's length at the front of `out`.
    Copied(usize, bool),
    /// A body only invalid JSON has: scan it a byte at a time.
    Unusual,
}

/// One 64-byte block's bytes of each kind the scan tells apart (bit `j` for
/// byte `j`).
#[derive(Default)]
struct Kinds {
    quote: u64,
    backslash: u64,
    /// Space, tab, line feed, carriage return.
    ws: u64,
    /// `{` or `[`.
    open: u64,
    /// `}` or `]`.
    close: u64,
    /// `:` or `,`.
    punct: u64,
}

/// Sorts a block's bytes into [`Kinds`], sixteen at a time with `wide`'s SIMD
/// vectors (SSE2 on x86-64, NEON on aarch64, plain code elsewhere).
#[inline(always)]
fn kinds(block: &[u8; 64]) -> Kinds {
    use wide::u8x16;
    let mut k = Kinds::default();
    for (n, chunk) in block.chunks_exact(16).enumerate() {
        let mut lanes = [0u8; 16];
        lanes.copy_from_slice(chunk);
        let v = u8x16::new(lanes);
        let bits = |m: u8x16| u64::from(m.to_bitmask()) << (16 * n);
        let is = |b: u8| v.simd_eq(u8x16::splat(b));
        // `[` and `{`, `]` and `}` differ only in bit 5.
        let folded = v | u8x16::splat(0x20);
        k.quote |= bits(is(b'"'));
        k.backslash |= bits(is(b'\\'));
        k.ws |= bits(is(b' ') | is(b'\n') | is(b'\r') | is(b'\t'));
        k.open |= bits(folded.simd_eq(u8x16::splat(b'{')));
        k.close |= bits(folded.simd_eq(u8x16::splat(b'}')));
        k.punct |= bits(is(b':') | is(b','));
    }
    k
}

/// Bit `j` set when an odd number of the bits `0..=j` of `x` are set: over the
/// quotes, the bytes from an opening quote up to (not including) its closing one.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// The bytes of a block that a backslash escapes, given its backslashes and
/// whether its first byte is escaped by the previous block's last one. Also
/// returns whether the next block's first byte is escaped, and whether an escape
/// is of a UTF-16 surrogate (`\uD800`–`\uDFFF`). One step per backslash: they
/// are rare in webhook bodies.
fn escapes(body: &[u8], base: usize, backslash: u64, carry: bool) -> (u64, bool, bool) {
    let mut escaped = u64::from(carry);
    // An escaped backslash escapes nothing.
    let mut pending = backslash & !escaped;
    let mut surrogate = false;
    while pending != 0 {
        let j = pending.trailing_zeros() as usize;
        let i = base + j;
        surrogate |= body.get(i + 1) == Some(&b'u')
            && matches!(body.get(i + 2), Some(b'd' | b'D'))
            && matches!(
                body.get(i + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            );
        if j == 63 {
            return (escaped, true, surrogate);
        }
        escaped |= 1 << (j + 1);
        pending &= !(3 << j);
    }
    (escaped, false, surrogate)
}

/// Bytes next to which a space can be dropped without joining two tokens.
fn sep(b: u8) -> bool {
    matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"')
}

/// [`prepare`]'s scan, 64 bytes at a time: the bytes of each kind found with SIMD
/// compares, the strings with the quotes' running parity, the depth from the
/// counts of brackets (bracket by bracket only near the limit), and the compact
/// copy written a run of kept bytes at a time. Measured against the byte-at-a-time
/// scans it replaces in docs/performance.md §5 (eighth pass). Hand-written for the
/// reason [`prepare`] gives.
#[inline(never)]
fn scan_blocks(body: &[u8], opts: &ParseOptions, out: &mut Vec<u8>) -> Result<Scan> {
    let len = body.len();
    let mut depth = 0usize;
    let mut odd = false;
    // Carried from one block to the next: the first byte is escaped; all ones when
    // inside a string; the last byte's bit in the block's masks of dropped
    // whitespace and of tokens; a run of dropped whitespace that came after a token
    // goes on into the next block.
    let mut escape_carry = false;
    let mut in_string = 0u64;
    let (mut drop_carry, mut token_carry, mut join_carry) = (0u64, 0u64, 0u64);
    let mut tail = [b'x'; 64];
    // Bytes written to `out`, once the first whitespace between tokens is found.
    let mut copying = None::<usize>;
    let mut base = 0;
    while base < len {
        let n = (len - base).min(64);
        let block: &[u8; 64] = match body[base..].first_chunk() {
            Some(block) => block,
            None => {
                // The last block, padded with a byte of none of the kinds.
                tail[..n].copy_from_slice(&body[base..]);
                &tail
            }
        };
        let valid = if n == 64 { !0 } else { (1u64 << n) - 1 };
        let k = kinds(block);

        let mut escaped = 0;
        if k.backslash != 0 || escape_carry {
            let surrogate;
            (escaped, escape_carry, surrogate) = escapes(body, base, k.backslash, escape_carry);
            odd |= surrogate;
        }
        let inside = prefix_xor(k.quote & !escaped) ^ in_string;
        in_string = 0u64.wrapping_sub(inside >> 63);
        let outside = !inside & valid;
        if k.backslash & outside != 0 {
            return Ok(Scan::Unusual);
        }

        let (opens, closes) = (k.open & outside, k.close & outside);
        if opens | closes != 0 {
            let (o, c) = (opens.count_ones() as usize, closes.count_ones() as usize);
            if depth >= c && depth + o <= opts.max_depth {
                depth = depth + o - c;
            } else {
                let mut m = opens | closes;
                while m != 0 {
                    if opens & m & m.wrapping_neg() != 0 {
                        depth += 1;
                        if depth > opts.max_depth {
                            return Err(too_deep(opts));
                        }
                    } else {
                        depth = depth.saturating_sub(1);
                    }
                    m &= m - 1;
                }
            }
        }

        let drop = k.ws & outside;
        // Whitespace between two tokens that are not punctuation (`1 2`,
        // `true false`): dropping it would join them. Invalid JSON: the byte-at-a-time
        // scan keeps one space there. Found with masks: a run of dropped whitespace
        // that starts after a token carries, when its start bit is added, into the
        // bit just past its end.
        let token = outside & !k.ws & !k.quote & !k.open & !k.close & !k.punct;
        if drop | join_carry != 0 {
            let after_token = drop & !((drop << 1) | drop_carry) & ((token << 1) | token_carry);
            let (sum, over) = drop.overflowing_add(after_token);
            let (sum, over2) = sum.overflowing_add(join_carry);
            if sum & !drop & token != 0 {
                return Ok(Scan::Unusual);
            }
            join_carry = u64::from(over | over2);
        }

        // Numbers and literals, for the rewrite flag: each run of token bytes (rare
        // in webhook bodies, whose values are mostly strings) read a byte at a time
        // as the byte-at-a-time scan reads it, from its first byte to its end.
        let mut starts = token & !((token << 1) | token_carry);
        while starts != 0 {
            let start = base + starts.trailing_zeros() as usize;
            let mut t = Tokens::default();
            let mut end = start;
            while let Some(&b) = body.get(end).filter(|&&b| !is_ws(b) && !sep(b)) {
                t.byte(body, end, b, opts)?;
                end += 1;
            }
            odd |= t.odd;
            if t.digits > 0 {
                // The byte-at-a-time scan reads past whitespace to the next token.
                match body[end..].iter().find(|&&b| !is_ws(b)) {
                    None => {}
                    Some(b'0'..=b'9' | b'"') => return Ok(Scan::Unusual),
                    Some(&b) => {
                        odd |= matches!(b, b'e' | b'E') || t.digits == 16 && big16(body, t.run)
                    }
                }
            }
            starts &= starts - 1;
        }
        (drop_carry, token_carry) = (drop >> 63, token >> 63);

        if drop != 0 && copying.is_none() {
            // The first whitespace between tokens: what came before is copied as it is.
            if out.len() < len {
                out.resize(len, 0);
            }
            out[..base].copy_from_slice(&body[..base]);
            copying = Some(base);
        }
        if let Some(w) = copying.as_mut() {
            // Each run of kept bytes is copied in one go: 32 bytes whatever its
            // length where the body has them (a fixed-size copy, no call), the
            // bytes past the run overwritten by the next one.
            let mut keep = valid & !drop;
            while keep != 0 {
                let s = keep.trailing_zeros() as usize;
                let run = (!(keep >> s)).trailing_zeros() as usize;
                let start = base + s;
                match body[start..].first_chunk::<32>() {
                    Some(chunk) if run <= 32 => {
                        out[*w..*w + 32].copy_from_slice(chunk);
                    }
                    _ => out[*w..*w + run].copy_from_slice(&body[start..start + run]),
                }
                *w += run;
                keep = if s + run >= 64 {
                    0
                } else {
                    keep & (!0 << (s + run))
                };
            }
        }
        base += 64;
    }
    Ok(match copying {
        Some(w) => Scan::Copied(w, odd),
        None => Scan::InPlace(odd),
    })
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
                    return Err(too_deep(opts));
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

    /// The byte-at-a-time scans' result, as [`prepared`] gives it.
    fn bytewise_result(body: &[u8], opts: &ParseOptions) -> Result<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        let (text, odd) = bytewise(body, opts, &mut out)?;
        match text.first() {
            Some(b'{') => Ok((text.to_vec(), odd)),
            _ => Err(Error::WebhookPayload("top level".into())),
        }
    }

    /// The block scan's result is the byte-at-a-time one; with `fast`, it was
    /// reached without falling back.
    fn as_bytewise(body: &[u8], opts: &ParseOptions, fast: bool) {
        let got = prepared(body, opts).map(|(t, odd, _)| (t, odd));
        let want = bytewise_result(body, opts);
        let shown = String::from_utf8_lossy(body);
        match (&got, &want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{shown}"),
            (Err(g), Err(w)) => {
                let depth = |e: &Error| e.to_string().contains("nested deeper");
                assert_eq!(depth(g), depth(w), "{shown}")
            }
            _ => panic!("{got:?} / {want:?}: {shown}"),
        }
        if fast {
            let unusual = matches!(scan_blocks(body, opts, &mut Vec::new()), Ok(Scan::Unusual));
            assert!(!unusual, "fell back on valid JSON: {shown}");
        }
    }

    /// Valid JSON of every kind of value, nested: as delivered (compact), indented,
    /// and with whitespace everywhere JSON allows it.
    fn valid_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("9007199254740993".to_string()),
            Just("1234567890123456".to_string()),
            Just("-1.5e-3".to_string()),
            Just("2E+10".to_string()),
            "[ -~é😀]{0,80}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just(r#""\ud83d\ude00 \\\" \n""#.to_string()),
            Just(r#""\\""#.to_string()),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(("[a-z\\\"]{0,12}", inner), 0..8).prop_map(|v| {
                    let fields: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
        .prop_map(|v| format!(r#"{{"v":{v}}}"#))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn the_block_scan_reads_valid_json_as_the_byte_at_a_time_scan_does(
            json in valid_json(),
            spaces in proptest::sample::select(vec![" ", "\n", "\r\n  ", "\t", "   \n        "]),
        ) {
            let opts = ParseOptions::default();
            let tight = ParseOptions { max_depth: 5, ..opts };
            // serde_json's own indentation, and whitespace after every comma and colon
            // and around every bracket outside strings.
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let mut spaced = String::new();
            let mut in_string = false;
            let mut escaped = false;
            for c in json.chars() {
                spaced.push(c);
                if in_string {
                    (escaped, in_string) = (!escaped && c == '\\', escaped || c != '"');
                } else if c == '"' {
                    in_string = true;
                } else if matches!(c, ',' | ':' | '[' | ']' | '{' | '}') {
                    spaced.push_str(spaces);
                }
            }
            for body in [&json, &pretty, &spaced] {
                as_bytewise(body.as_bytes(), &opts, true);
                as_bytewise(body.as_bytes(), &tight, true);
            }
        }

        #[test]
        fn the_block_scan_reads_any_bytes_as_the_byte_at_a_time_scan_does(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ":", ",", "\"", "\\", "\"ab\"", "\"\\ud83d\"",
                "\\\\", " ", "\n", "        ", "\t", "\u{1}", "1", "12345678901234567",
                "9007199254740993", "1234567890123456", "e", "E", "true", "-", ".", "é",
                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
            ]), 0..80),
        ) {
            let body = pieces.concat();
            let opts = ParseOptions::default();
            as_bytewise(body.as_bytes(), &opts, false);
            as_bytewise(body.as_bytes(), &ParseOptions { max_depth: 3, ..opts }, false);
            // Behind a valid start, so that most bodies get past the first block.
            let long = format!("{{\"pad\":\"{}\",{body}", "p".repeat(50));
            as_bytewise(long.as_bytes(), &opts, false);
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
            // Every valid one is read by the block scan without falling back.
            let valid = serde_json::from_slice::<serde_json::Value>(body).is_ok();
            as_bytewise(body, &opts, valid);
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
