//! [`Secret`]: the wrapper of every credential wa360 holds (API key, Basic auth password,
//! app secret, custom webhook header values), so that none of them ever prints
//! (docs/reliability.md §7, "Secrets"), and [`redact_url`] for store URLs that carry a
//! password.

use std::fmt;

/// A secret string (API key, Basic auth password, app secret): Debug and
/// Display print `***`, never the value. Read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret value itself. Only the request path and verifiers call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&String> for Secret {
    fn from(s: &String) -> Self {
        Secret::new(s.clone())
    }
}

/// `url` with any user info replaced by `***`, for reprs and logs (a Redis
/// URL may carry a password).
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !rest.starts_with('/') => format!("{scheme}://***@{host}"),
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("k-123-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "k-123-secret");
        assert_eq!(Secret::from(&"k".to_string()), Secret::from("k"));
    }
}
