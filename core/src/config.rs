//! Client configuration: API key (a [`Secret`]), base URL, timeouts, retry policy, user agent.
//!
//! [`ClientBuilder`] collects the settings and [`ClientBuilder::build`] checks them and
//! produces a [`crate::client::Client`]. The API key comes from
//! [`ClientBuilder::api_key`] or, when not given, from the environment variable
//! `D360_API_KEY`; no key at all is an [`Error::Configuration`].
//!
//! ```
//! use std::time::Duration;
//! let client = wa360::client::Client::builder()
//!     .api_key("my-key")
//!     .base_url("http://127.0.0.1:8080/")
//!     .timeout(Duration::from_secs(10))
//!     .build()
//!     .unwrap();
//! assert_eq!(client.config().base_url(), "http://127.0.0.1:8080");
//! assert!(!format!("{client:?}").contains("my-key"));
//! ```

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::governor::{GovernorConfig, GovernorStore};
use crate::retry::RetryPolicy;
pub use crate::secret::Secret;

/// The production base URL of the 360dialog Cloud API.
pub const DEFAULT_BASE_URL: &str = "https://waba-v2.360dialog.io";

/// Environment variable read when no API key is given to the builder.
pub const API_KEY_ENV: &str = "D360_API_KEY";

/// Default time allowed to open a connection (docs/reliability.md).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default total time allowed for one request attempt, body included (docs/reliability.md).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The checked settings of a client. Read-only; build one with [`ClientBuilder`].
///
/// `Debug` prints every field with the API key redacted.
#[derive(Clone, Debug)]
pub struct Config {
    api_key: Secret,
    base_url: String,
    connect_timeout: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    media_guard: Option<MediaLookupGuard>,
    governor: Option<GovernorConfig>,
    governor_store: Option<SharedStore>,
}

/// A [`GovernorStore`] shared by clients (printed as its presence only).
#[derive(Clone)]
pub struct SharedStore(pub Arc<dyn GovernorStore>);

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedStore(..)")
    }
}

impl Config {
    /// The send governor's settings (`None`: sends are not paced).
    pub fn governor(&self) -> Option<&GovernorConfig> {
        self.governor.as_ref()
    }
    /// The store the governor keeps its state in (`None`: in process).
    pub fn governor_store(&self) -> Option<&SharedStore> {
        self.governor_store.as_ref()
    }
    /// The API key (redacted when printed).
    pub fn api_key(&self) -> &Secret {
        &self.api_key
    }
    /// The base URL without a trailing slash, e.g. `https://waba-v2.360dialog.io`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// Time allowed to open a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Total time allowed for one request attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
    /// The `User-Agent` header sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }
    /// The local guard on failing media look-ups (`None` = disabled).
    pub fn media_lookup_guard(&self) -> Option<MediaLookupGuard> {
        self.media_guard
    }
}

/// Local guard on failing media look-ups (`GET /{media_id}`, docs/360dialog-api.md §2.3.2).
///
/// 360dialog blocks the look-up endpoint for a number that collects too many error
/// answers: "five failed requests within one hour" on older pages, "20 error responses
/// within 60 minutes" on newer ones. The default follows the stricter rule: after
/// `max_failures` = 4 failed look-ups within `window` = 1 hour, further look-ups fail locally
/// (error code `media`, HTTP status 0: nothing was sent, `retry_after` says when the budget
/// frees up) until the oldest failure leaves the window, so the fifth failure
/// that would trigger the block is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLookupGuard {
    /// Failed look-ups allowed within `window` before look-ups are refused locally.
    pub max_failures: u32,
    /// The sliding window.
    pub window: Duration,
}

impl Default for MediaLookupGuard {
    fn default() -> Self {
        MediaLookupGuard {
            max_failures: 4,
            window: Duration::from_secs(3600),
        }
    }
}

/// Builder for [`crate::client::Client`]; start with [`crate::client::Client::builder`].
#[derive(Clone, Debug, Default)]
pub struct ClientBuilder {
    api_key: Option<Secret>,
    base_url: Option<String>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    max_retries: Option<u32>,
    user_agent_suffix: Option<String>,
    media_guard: Option<Option<MediaLookupGuard>>,
    governor: Option<GovernorConfig>,
    governor_store: Option<SharedStore>,
}

impl ClientBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The 360dialog API key of the channel (phone number). When not set,
    /// `D360_API_KEY` is read from the environment at [`ClientBuilder::build`].
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Base URL (default [`DEFAULT_BASE_URL`]); point it at a local sandbox in tests.
    /// A trailing slash is ignored; a path prefix (e.g. `/v1`) is kept.
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = Some(url.to_string());
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// Total time allowed for one request attempt, reading the answer included (default 30 s).
    /// Media transfers get more: the timeout plus one second per 64 KiB
    /// ([`crate::transport::TRANSFER_FLOOR_BYTES_PER_S`]); a download must begin within the
    /// timeout and fails when no byte arrives for it (docs/reliability.md §6, "Timeouts").
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// The whole retry policy (see [`crate::retry`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Override only the maximum number of retries (default 2; `0` disables retries).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Text appended to the user agent, e.g. `python/3.12` gives
    /// `wa360/0.1.0 (rust) python/3.12`.
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.user_agent_suffix = Some(suffix.to_string());
        self
    }

    /// Set (`Some`) or disable (`None`) the local guard on failing media look-ups
    /// (default: [`MediaLookupGuard::default`], 4 failures per hour).
    pub fn media_lookup_guard(mut self, guard: Option<MediaLookupGuard>) -> Self {
        self.media_guard = Some(guard);
        self
    }

    /// Pace sends with a [`crate::governor::Governor`] (per-number token bucket,
    /// per-recipient pair rate, `131056` back-off). Off by default.
    pub fn governor(mut self, config: GovernorConfig) -> Self {
        self.governor = Some(config);
        self
    }

    /// Keep the governor's state in `store` (e.g. one shared by several processes)
    /// instead of in process.
    pub fn governor_store(mut self, store: Arc<dyn GovernorStore>) -> Self {
        self.governor_store = Some(SharedStore(store));
        self
    }

    // `build()`, which makes the `Client`, is in client.rs: the settings do not depend on
    // the client.

    /// Resolve and check every setting; `env_key` is the value of `D360_API_KEY`.
    pub(crate) fn into_config(self, env_key: Option<String>) -> Result<Config> {
        let api_key = resolve_api_key(self.api_key, env_key)?;
        let base_url = normalize_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if connect_timeout.is_zero() || timeout.is_zero() {
            return Err(Error::Configuration(
                "timeouts must be greater than zero".into(),
            ));
        }
        let mut retry = self.retry.unwrap_or_default();
        if let Some(n) = self.max_retries {
            retry.max_retries = n;
        }
        let mut user_agent = default_user_agent();
        if let Some(suffix) = self.user_agent_suffix.as_deref().map(str::trim)
            && !suffix.is_empty()
        {
            user_agent.push(' ');
            user_agent.push_str(suffix);
        }
        if reqwest::header::HeaderValue::from_str(&user_agent).is_err() {
            return Err(Error::Configuration(
                "user agent suffix must be visible ASCII".into(),
            ));
        }
        if let Some(g) = &self.governor {
            g.validate()?;
        }
        Ok(Config {
            governor: self.governor,
            governor_store: self.governor_store,
            api_key,
            base_url,
            connect_timeout,
            timeout,
            retry,
            user_agent,
            media_guard: self
                .media_guard
                .unwrap_or(Some(MediaLookupGuard::default())),
        })
    }
}

/// `wa360/<crate version> (rust)`.
pub fn default_user_agent() -> String {
    format!("wa360/{} (rust)", env!("CARGO_PKG_VERSION"))
}

fn resolve_api_key(explicit: Option<Secret>, env_key: Option<String>) -> Result<Secret> {
    let key = match explicit {
        Some(k) => k,
        None => match env_key {
            Some(k) if !k.trim().is_empty() => Secret::new(k.trim()),
            _ => {
                return Err(Error::Configuration(format!(
                    "no API key: pass one to the client builder or set {API_KEY_ENV}"
                )));
            }
        },
    };
    if key.expose().trim().is_empty() {
        return Err(Error::Configuration("the API key is empty".into()));
    }
    if reqwest::header::HeaderValue::from_str(key.expose()).is_err() {
        // Never echo the key itself.
        return Err(Error::Configuration(
            "the API key contains characters not allowed in an HTTP header".into(),
        ));
    }
    Ok(key)
}

fn normalize_base_url(raw: &str) -> Result<String> {
    let parsed = url::Url::parse(raw.trim())
        .map_err(|e| Error::Configuration(format!("base URL is not a valid URL: {e}")))?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(Error::Configuration(
            "base URL must use http or https".into(),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::Configuration("base URL has no host".into()));
    }
    // The API key goes in a header of every request: in clear only to this machine (the
    // local sandbox, a proxy on the same host), never over a network.
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        return Err(Error::Configuration(
            "base URL must use https (http only for 127.0.0.1, ::1 or localhost): the API key would travel in clear".into(),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::Configuration(
            "base URL must not carry credentials".into(),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Configuration(
            "base URL must not have a query or fragment".into(),
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// True when `url`'s host is this machine: `localhost` (or a name under it), or a
/// loopback address.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key travels in clear only to this machine.
    #[test]
    fn http_base_urls_are_for_this_machine_only() {
        let base = |u: &str| {
            ClientBuilder::new()
                .api_key("k")
                .base_url(u)
                .into_config(None)
        };
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://localhost:9",
            "http://api.localhost",
            "http://[::1]:8080",
            "https://waba-v2.360dialog.io",
            "https://10.0.0.1",
        ] {
            assert!(base(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://waba-v2.360dialog.io",
            "http://10.0.0.1:8080",
            "http://localhost.evil.example",
            "http://[::2]",
            "http://0.0.0.0:8080",
        ] {
            let e = base(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Configuration, "{bad}");
            assert!(e.to_string().contains("https"), "{bad}: {e}");
        }
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = ClientBuilder::new().api_key("k").into_config(None).unwrap();
        assert_eq!(c.base_url(), "https://waba-v2.360dialog.io");
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        assert_eq!(c.timeout(), Duration::from_secs(30));
        assert_eq!(c.retry_policy(), &RetryPolicy::default());
        assert_eq!(
            c.user_agent(),
            format!("wa360/{} (rust)", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn key_falls_back_to_env_value_and_explicit_wins() {
        let c = ClientBuilder::new()
            .into_config(Some("from-env".into()))
            .unwrap();
        assert_eq!(c.api_key().expose(), "from-env");
        let c = ClientBuilder::new()
            .api_key("explicit")
            .into_config(Some("from-env".into()))
            .unwrap();
        assert_eq!(c.api_key().expose(), "explicit");
    }

    #[test]
    fn missing_or_bad_key_is_configuration_error() {
        for env in [None, Some(String::new()), Some("   ".into())] {
            let e = ClientBuilder::new().into_config(env).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Configuration);
            assert!(e.to_string().contains("D360_API_KEY"), "{e}");
        }
        let e = ClientBuilder::new()
            .api_key("bad\nkey-SECRET")
            .into_config(None)
            .unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Configuration);
        assert!(!e.to_string().contains("SECRET"));
    }

    #[test]
    fn base_url_trailing_slash_and_prefix() {
        let c = ClientBuilder::new()
            .api_key("k")
            .base_url("http://127.0.0.1:9000/")
            .into_config(None)
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:9000");
        let c = ClientBuilder::new()
            .api_key("k")
            .base_url("https://waba-sandbox.360dialog.io/v1/")
            .into_config(None)
            .unwrap();
        assert_eq!(c.base_url(), "https://waba-sandbox.360dialog.io/v1");
        for bad in [
            "not a url",
            "ftp://x.example",
            "https://user:pw@x.example",
            "https://x.example/?a=1",
        ] {
            let e = ClientBuilder::new()
                .api_key("k")
                .base_url(bad)
                .into_config(None)
                .unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Configuration, "{bad}");
        }
    }

    #[test]
    fn user_agent_suffix_and_max_retries() {
        let c = ClientBuilder::new()
            .api_key("k")
            .user_agent_suffix("python/3.12")
            .max_retries(5)
            .into_config(None)
            .unwrap();
        assert!(c.user_agent().starts_with("wa360/"));
        assert!(c.user_agent().ends_with("(rust) python/3.12"));
        assert_eq!(c.retry_policy().max_retries, 5);
    }

    #[test]
    fn config_debug_redacts_key() {
        let c = ClientBuilder::new()
            .api_key("SUPERSECRET-KEY")
            .into_config(None)
            .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("SUPERSECRET"), "{d}");
        assert!(d.contains("***"));
    }
}
