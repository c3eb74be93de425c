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
///
/// The user info ends at the authority's LAST `@`, as the URL parsers that
/// connect read it (`redis://u:p@ss@host` has the password `p@ss`); the
/// authority ends at the first `/`, `?` or `#` after the scheme.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    // A password with an unencoded `/`, `?` or `#` ends the authority early, but its `@`
    // still follows (`u:p@w/x@host`: the authority seems to end at `w`): so everything up
    // to the last `@` of the whole text is hidden (no such URL parses, but its text is shown
    // in the error; an `@` in a path or query hides more than needed, never less). A URL
    // with an empty authority (`sqlite:///p@th`) has no user info.
    let at = (!authority.is_empty()).then(|| rest.rfind('@')).flatten();
    match at {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
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

    #[test]
    fn a_store_url_with_a_password_never_prints_it_in_errors() {
        for url in [
            // A password with an `@`, to a server that is not there.
            "redis://default:p@ss-SENTINEL@127.0.0.1:1/0",
            // Passwords with an unencoded `/`, `?` or `#`.
            "redis://u:p/w-SENTINEL@127.0.0.1:1/0",
            "redis://u:p?w-SENTINEL@127.0.0.1:1/0",
            "redis://u:p#w-SENTINEL@127.0.0.1:1/0",
            // An `@` before the unencoded `/`, `?` or `#`.
            "redis://u:Xy@Pa/w-SENTINEL@127.0.0.1:1/0",
            "redis://u:Xy@Pa?w-SENTINEL@127.0.0.1:1/0",
            "redis://u:Xy@Pa#w-SENTINEL@127.0.0.1:1/0",
            // Mistyped schemes: not URLs these read, and not echoed.
            "redis:/u:pw-SENTINEL@host:6379/0",
            "redis:u:pw-SENTINEL@host",
            "rediss//u:pw-SENTINEL@host",
        ] {
            let e = crate::inbox::open(url).expect_err(url).to_string();
            assert!(!e.contains("SENTINEL"), "{url}: {e}");
            let Err(e) = crate::governor::open_store(url) else {
                panic!("{url}: opened")
            };
            assert!(!e.to_string().contains("SENTINEL"), "{url}: {e}");
        }
        // A well-formed unknown scheme is named.
        let e = crate::inbox::open("ftp://u:pw-SENTINEL@h/x")
            .expect_err("ftp")
            .to_string();
        assert!(e.contains("`ftp`") && !e.contains("SENTINEL"), "{e}");
    }
}
