//! Media: upload (multipart), URL look-up, download through the 360dialog host, delete.
//!
//! # The host rule (docs/360dialog-api.md §2.3.3)
//!
//! `GET /{media_id}` answers a Meta URL such as
//! `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=…&ext=…&hash=…`.
//! wa360 replaces its scheme and host with the configured base URL, keeps the path and the
//! query byte for byte, and fetches that with `D360-API-KEY`. A URL already on the base URL's
//! origin is used as is. Any other host is refused before a request is made, so the API key
//! is never sent anywhere else (and redirects off the base origin are refused by the
//! transport).
//!
//! # No automatic retry of a failed look-up
//!
//! 360dialog blocks `GET /{media_id}` for a number that repeats failing look-ups, so
//! [`Media::info`] uses [`RetryClass::NoRetry`]: only attempts that never reached the
//! server (connection refused, DNS) are repeated, and a local guard
//! ([`crate::config::MediaLookupGuard`], default 4 failures per hour) refuses further
//! look-ups before 360dialog's block would trigger. The guard lives here; its budget is
//! a client setting.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::config::MediaLookupGuard;
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::retry::RetryClass;
use crate::transport::{Accept, Body, Transport, expect_success_true};

/// The only foreign media host whose URLs are rewritten to the base URL.
pub const META_MEDIA_HOST: &str = "lookaside.fbsbx.com";

/// Largest upload accepted (docs/360dialog-api.md §2.3.1: 100 MB overall).
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Media operations of a [`crate::client::Client`]; get one with
/// [`crate::client::Client::media`].
#[derive(Debug, Clone, Copy)]
pub struct Media<'a> {
    transport: &'a Transport,
    guard: &'a LookupGuard,
}

/// The local guard on failing media look-ups: remembers when recent look-ups failed and
/// refuses new ones once the budget of [`MediaLookupGuard`] (a client setting) is spent.
/// A look-up under way counts against the budget until its answer is known: concurrent
/// look-ups beyond what is left of it wait for one under way to finish, so a burst that
/// fails (a wrong key, expired ids) never sends more than the budget. One per channel
/// (base URL and API key) in this process, shared by every client of it: 360dialog
/// counts the failures per number, so a client made per request must not get a budget
/// of its own.
#[derive(Debug, Default)]
pub(crate) struct LookupGuard {
    state: Mutex<GuardState>,
    /// Signalled when a look-up under way finishes.
    finished: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct GuardState {
    failures: VecDeque<Instant>,
    under_way: u32,
}

/// A look-up under way, counted by the guard until dropped.
pub(crate) struct LookupSlot<'a>(&'a LookupGuard);

impl Drop for LookupSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.0.state.lock() {
            st.under_way = st.under_way.saturating_sub(1);
        }
        self.0.finished.notify_waiters();
    }
}

impl LookupGuard {
    /// The guard of the channel `base_url` + `api_key` in this process (made on first
    /// use). The registry keeps a digest, never the key. A guard stays while a client
    /// holds it or it remembers failures or look-ups under way, so clients made one after
    /// another (one per request) share its budget too. A forked child starts afresh: the
    /// look-ups under way in its parent never finish in it.
    pub(crate) fn for_channel(base_url: &str, api_key: &str) -> std::sync::Arc<LookupGuard> {
        use sha2::{Digest, Sha256};
        use std::collections::HashMap;
        use std::sync::{Arc, OnceLock};
        type Registry = Mutex<(u32, HashMap<[u8; 32], Arc<LookupGuard>>)>;
        static GUARDS: OnceLock<Registry> = OnceLock::new();
        let mut h = Sha256::new();
        h.update(base_url.as_bytes());
        h.update(b"\n");
        h.update(api_key.as_bytes());
        let id: [u8; 32] = h.finalize().into();
        let mut reg = crate::util::lock(GUARDS.get_or_init(Registry::default));
        let (pid, guards) = &mut *reg;
        if *pid != std::process::id() {
            *pid = std::process::id();
            guards.clear();
        }
        guards.retain(|_, g| Arc::strong_count(g) > 1 || g.remembers());
        Arc::clone(guards.entry(id).or_default())
    }

    /// True while it holds failures or look-ups under way.
    fn remembers(&self) -> bool {
        self.state
            .lock()
            .map(|st| !st.failures.is_empty() || st.under_way > 0)
            .unwrap_or(false)
    }

    /// A slot for one media look-up, waiting while look-ups under way could still spend
    /// the budget; refused locally when the budget of failures is spent. `None` without
    /// a guard.
    async fn reserve(&self, budget: Option<MediaLookupGuard>) -> Result<Option<LookupSlot<'_>>> {
        let Some(guard) = budget else {
            return Ok(None);
        };
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            {
                let Ok(mut st) = self.state.lock() else {
                    return Ok(None);
                };
                let now = Instant::now();
                while st
                    .failures
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= guard.window)
                {
                    st.failures.pop_front();
                }
                let max = u64::from(guard.max_failures);
                let failed = st.failures.len() as u64;
                if failed >= max {
                    let wait = st
                        .failures
                        .front()
                        .map(|t| guard.window.saturating_sub(now.duration_since(*t)))
                        .unwrap_or_default();
                    return Err(Error::Api {
                        code: ErrorCode::Media,
                        error: Box::new(ApiError {
                            status: 0,
                            message: format!(
                                "media look-up refused locally: {failed} failed look-ups within {:?}; \
                                 360dialog blocks numbers that repeat failing look-ups",
                                guard.window
                            ),
                            retry_after: Some(wait),
                            ..Default::default()
                        }),
                    });
                }
                if failed + u64::from(st.under_way) < max {
                    st.under_way += 1;
                    return Ok(Some(LookupSlot(self)));
                }
            }
            finished.await;
        }
    }

    /// Count a failed media look-up (an error answer from the server).
    fn note_failure(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.failures.push_back(Instant::now());
            if st.failures.len() > 1024 {
                st.failures.pop_front();
            }
        }
    }
}

/// The answer of `GET /{media_id}`. The `url` is valid for 5 minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Download URL (Meta's host; see the host rule).
    pub url: String,
    /// MIME type, e.g. `image/jpeg`.
    #[serde(default)]
    pub mime_type: String,
    /// SHA-256 of the file, hex.
    #[serde(default)]
    pub sha256: String,
    /// Size in bytes (sent as a number by 360dialog, as a string by Meta).
    #[serde(default, deserialize_with = "int_or_string")]
    pub file_size: Option<u64>,
    /// The media id.
    #[serde(default, deserialize_with = "string_or_int")]
    pub id: String,
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

fn string_or_int<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    })
}

/// Check a media id: non-empty, digits only (docs/360dialog-api.md §2.3.2).
pub fn validate_media_id(media_id: &str) -> Result<()> {
    if media_id.is_empty() || media_id.len() > 64 || !media_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("media_id", "must be 1..64 digits"));
    }
    Ok(())
}

/// Apply the host rule: the URL to fetch for a media `url`, given the base URL
/// (no trailing slash). Path and query are kept byte for byte.
///
/// ```
/// let u = wa360::media::rewrite_media_url(
///     "https://waba-v2.360dialog.io",
///     "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=A%2Fb",
/// ).unwrap();
/// assert_eq!(u, "https://waba-v2.360dialog.io/whatsapp_business/attachments/?mid=1&ext=2&hash=A%2Fb");
/// ```
pub fn rewrite_media_url(base_url: &str, url: &str) -> Result<String> {
    let bad = |rule: &str| Error::invalid("url", rule.to_string());
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must be an absolute URL without spaces"));
    }
    let parsed = url::Url::parse(url).map_err(|_| bad("must be an absolute URL"))?;
    let base = url::Url::parse(base_url).map_err(|_| bad("base URL is not valid"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    if parsed.origin() == base.origin() {
        return Ok(url.to_string());
    }
    if parsed.scheme() != "https"
        || parsed.host_str() != Some(META_MEDIA_HOST)
        || parsed.port().is_some()
    {
        return Err(bad(
            "host must be lookaside.fbsbx.com or the configured base URL (the API key is never sent elsewhere)",
        ));
    }
    // Take everything after the authority from the original text, untouched.
    let after_scheme = url
        .find("://")
        .map(|i| &url[i + 3..])
        .ok_or_else(|| bad("must be an absolute URL"))?;
    let rest = match after_scheme.find(['/', '?', '#']) {
        Some(i) => &after_scheme[i..],
        None => "",
    };
    let rest = rest.split('#').next().unwrap_or_default();
    if rest.starts_with('/') {
        Ok(format!("{base_url}{rest}"))
    } else {
        Ok(format!("{base_url}/{rest}"))
    }
}

impl<'a> Media<'a> {
    pub(crate) fn new(transport: &'a Transport, guard: &'a LookupGuard) -> Self {
        Media { transport, guard }
    }

    /// Upload a file (`POST /media`, multipart with `messaging_product=whatsapp`,
    /// `type=<mime>` and a `file` part carrying the filename and content type).
    /// Returns the media id. Not retried once the request may have arrived.
    pub async fn upload(&self, bytes: Vec<u8>, mime: &str, filename: &str) -> Result<String> {
        check_upload(bytes.len(), mime, filename, "filename")?;
        let t = self.transport;
        let body = Body::Upload {
            bytes: Bytes::from(bytes),
            mime: mime.to_string(),
            filename: filename.to_string(),
        };
        let resp = t
            .execute(
                Method::POST,
                &t.url_for("/media"),
                &body,
                RetryClass::Send,
                Accept::Json,
            )
            .await?;
        let value = self.transport.decode_json(&resp, RetryClass::Send)?;
        // A media id is all digits (sent as a string or a number); anything else would be
        // sent, kept by the media-id cache for weeks, and refused at every use.
        let id = match value.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
            _ => None,
        };
        match id {
            Some(id) if validate_media_id(&id).is_ok() => Ok(id),
            _ => Err(Error::OutcomeUnknown {
                reason: "upload answer has no media id (1..64 digits)".into(),
                status: Some(resp.status),
            }),
        }
    }

    /// Look up a media id (`GET /{media_id}`): URL (valid 5 minutes), MIME type, hash,
    /// size. The id must be all digits. Never retried once it reached the server.
    pub async fn info(&self, media_id: &str) -> Result<MediaInfo> {
        validate_media_id(media_id)?;
        let budget = self.transport.config().media_lookup_guard();
        let slot = self.guard.reserve(budget).await?;
        let value = self
            .transport
            .request_json(
                Method::GET,
                &format!("/{media_id}"),
                None,
                RetryClass::NoRetry,
            )
            .await
            .inspect_err(|e| {
                // Only answers from the server count towards 360dialog's block.
                if slot.is_some() && e.status().is_some_and(|s| s >= 400) {
                    self.guard.note_failure();
                }
            })?;
        drop(slot);
        let info: MediaInfo =
            serde_json::from_value(value).map_err(|e| Error::InvalidResponse {
                status: 200,
                reason: format!("media look-up answer is not readable: {e}"),
            })?;
        if info.url.is_empty() {
            return Err(Error::InvalidResponse {
                status: 200,
                reason: "media look-up answer has no url".into(),
            });
        }
        Ok(info)
    }

    /// Look up a media id and download the file through the 360dialog host. The bytes
    /// are checked against the look-up's `file_size` and `sha256` when it gives them: a
    /// body cut short by a server that closed the connection (no `Content-Length`), or an
    /// error page served with 200, is fetched again (up to 3 times in all) and
    /// then refused with `invalid_response`, never returned as the file.
    pub async fn download(&self, media_id: &str) -> Result<Bytes> {
        let info = self.info(media_id).await?;
        let base = self.transport.config().base_url();
        let url = rewrite_media_url(base, &info.url).map_err(|e| Error::InvalidResponse {
            status: 200,
            reason: format!("media look-up returned an unusable url: {e}"),
        })?;
        let mut tries = 0;
        loop {
            tries += 1;
            let body = self.fetch(&url).await?;
            match mismatch(&info, &body) {
                None => return Ok(body),
                Some(reason) if tries >= DOWNLOAD_TRIES => {
                    return Err(Error::InvalidResponse {
                        status: 200,
                        reason: format!("downloaded media {reason} (after {tries} tries)"),
                    });
                }
                Some(reason) => {
                    tracing::warn!(
                        target: "wa360::media",
                        client = self.transport.id(),
                        try_no = tries,
                        "downloaded media {reason}: fetching it again"
                    );
                }
            }
        }
    }

    /// Download a media URL (from [`Media::info`] or an inbound webhook's `url`) through
    /// the 360dialog host, applying the host rule.
    pub async fn download_url(&self, url: &str) -> Result<Bytes> {
        let rewritten = rewrite_media_url(self.transport.config().base_url(), url)?;
        self.fetch(&rewritten).await
    }

    /// Delete an uploaded media (`DELETE /{media_id}`).
    pub async fn delete(&self, media_id: &str) -> Result<()> {
        validate_media_id(media_id)?;
        let value = self
            .transport
            .request_json(
                Method::DELETE,
                &format!("/{media_id}"),
                None,
                RetryClass::DeleteResource,
            )
            .await?;
        expect_success_true(&value, 200, RetryClass::DeleteResource)
    }

    async fn fetch(&self, url: &str) -> Result<Bytes> {
        let t = self.transport;
        let parsed = url::Url::parse(url).map_err(|_| Error::invalid("url", "must be a URL"))?;
        if !t.is_base_origin(&parsed) {
            return Err(Error::invalid("url", "must be on the configured base URL"));
        }
        let resp = t
            .execute(
                Method::GET,
                url,
                &Body::Empty,
                RetryClass::Idempotent,
                Accept::Any,
            )
            .await?;
        Ok(resp.body)
    }
}

/// How many times [`Media::download`] fetches a file whose bytes do not match its look-up.
const DOWNLOAD_TRIES: u32 = 3;

/// Why `body` is not the file `info` describes, if it is not: a different length than
/// `file_size`, or a different SHA-256 than `sha256`. The hash is compared as hex (the
/// look-up's form) or base64 (the webhooks' form); a value in neither form, or an
/// absent one, is not checked.
fn mismatch(info: &MediaInfo, body: &[u8]) -> Option<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    if let Some(size) = info.file_size
        && size != body.len() as u64
    {
        return Some(format!("is {} bytes, the look-up says {size}", body.len()));
    }
    let want = info.sha256.trim();
    if want.is_empty() {
        return None;
    }
    let got = sha2::Sha256::digest(body);
    let matches = if want.len() == 64 && want.bytes().all(|b| b.is_ascii_hexdigit()) {
        crate::util::hex(&got).eq_ignore_ascii_case(want)
    } else if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(want)
        && raw.len() == 32
    {
        raw.as_slice() == got.as_slice()
    } else {
        return None;
    };
    (!matches).then(|| "does not match the look-up's SHA-256".to_owned())
}

fn validate_mime(mime: &str) -> Result<()> {
    let ok = mime.split_once('/').is_some_and(|(t, s)| {
        !t.is_empty() && !s.is_empty() && mime.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    });
    if ok && mime.parse::<reqwest::header::HeaderValue>().is_ok() {
        Ok(())
    } else {
        Err(Error::invalid(
            "mime_type",
            "must be a MIME type such as image/jpeg",
        ))
    }
}

/// The largest file WhatsApp takes for a media type (docs/360dialog-api.md §4.2), for the
/// MIME types that table names; `None` for the others (documents: [`MAX_UPLOAD_BYTES`]).
/// A WebP is a sticker, whose limit is the animated one's (a static sticker's 100 KB cannot
/// be told from the type alone).
pub fn largest_for(mime: &str) -> Option<(usize, &'static str)> {
    const MB: usize = 1024 * 1024;
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "image/jpeg" | "image/png" => (5 * MB, "an image is at most 5 MB"),
        "image/webp" => (500 * 1024, "a sticker is at most 500 KB"),
        "video/mp4" | "video/3gpp" => (16 * MB, "a video is at most 16 MB"),
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => {
            (16 * MB, "an audio file is at most 16 MB")
        }
        _ => return None,
    })
}

/// The one rule for a file to upload, through `POST /media` or a resumable upload: `data`
/// not empty and within the size limits (100 MB, and its type's, §4.2), `mime_type` a MIME
/// type, the file name (named `name_field`) 1 to 255 characters without control characters,
/// quotes, `/` or `\` (a name, not a path: it is shown to the recipient of a document).
pub(crate) fn check_upload(
    len: usize,
    mime: &str,
    file_name: &str,
    name_field: &str,
) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid("data", "must not be empty"));
    }
    if len > MAX_UPLOAD_BYTES {
        return Err(Error::invalid("data", "must be at most 100 MB"));
    }
    validate_mime(mime)?;
    if let Some((max, rule)) = largest_for(mime)
        && len > max
    {
        return Err(Error::invalid(
            "data",
            format!("{rule} ({len} bytes given)"),
        ));
    }
    if file_name.trim().is_empty()
        || file_name.chars().count() > 255
        || file_name
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '/' | '\\'))
    {
        return Err(Error::invalid(
            name_field,
            "must be a file name of 1 to 255 characters, without control characters, quotes, / or \\",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://waba-v2.360dialog.io";

    #[test]
    fn rewrite_keeps_path_and_query_bytes() {
        let raw = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1029384756102938&ext=1767253200&hash=ATsdk3pQ9xYb7LmZ%2B%2f&source=webhook";
        assert_eq!(
            rewrite_media_url(BASE, raw).unwrap(),
            "https://waba-v2.360dialog.io/whatsapp_business/attachments/?mid=1029384756102938&ext=1767253200&hash=ATsdk3pQ9xYb7LmZ%2B%2f&source=webhook"
        );
        assert_eq!(
            rewrite_media_url("http://127.0.0.1:9", "https://lookaside.fbsbx.com/a?b=c").unwrap(),
            "http://127.0.0.1:9/a?b=c"
        );
        // Already on the base host: used as is.
        let own = "https://waba-v2.360dialog.io/whatsapp_business/attachments/?mid=1";
        assert_eq!(rewrite_media_url(BASE, own).unwrap(), own);
    }

    #[test]
    fn rewrite_refuses_other_hosts() {
        for bad in [
            "https://evil.example/whatsapp_business/attachments/?mid=1",
            "http://lookaside.fbsbx.com/x",
            "https://lookaside.fbsbx.com:8443/x",
            "https://lookaside.fbsbx.com.evil.example/x",
            "https://user:pw@lookaside.fbsbx.com/x",
            "https://waba-v2.360dialog.io.evil.example/x",
            "http://waba-v2.360dialog.io/x",
            "/relative",
            "",
        ] {
            let e = rewrite_media_url(BASE, bad).unwrap_err();
            assert_eq!(e.field(), Some("url"), "{bad}");
        }
    }

    #[test]
    fn media_ids_and_mime() {
        assert!(validate_media_id("1029384756102938").is_ok());
        for bad in ["", "12a", "../x", "1 2", "١٢"] {
            assert_eq!(
                validate_media_id(bad).unwrap_err().field(),
                Some("media_id")
            );
        }
        assert!(validate_mime("image/jpeg").is_ok());
        assert!(validate_mime("audio/ogg; codecs=opus").is_ok());
        for bad in ["", "jpeg", "image/", "/x", "image/jp\neg"] {
            assert_eq!(validate_mime(bad).unwrap_err().field(), Some("mime_type"));
        }
    }

    #[test]
    fn media_info_file_size_number_or_string() {
        let a: MediaInfo = serde_json::from_str(
            r#"{"url":"u","mime_type":"image/jpeg","sha256":"h","file_size":303833,"id":"1"}"#,
        )
        .unwrap();
        assert_eq!(a.file_size, Some(303833));
        let b: MediaInfo = serde_json::from_str(
            r#"{"url":"u","mime_type":"image/jpeg","sha256":"h","file_size":"303833","id":"1"}"#,
        )
        .unwrap();
        assert_eq!(b.file_size, Some(303833));
    }
}
