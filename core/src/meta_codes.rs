//! The one table of Meta's numeric error codes (the `code` field of a Graph error).
//!
//! For each code: the wa360 [`ErrorCode`] it becomes, how the request path may repeat it
//! ([`MetaRetry`]), the HTTP status Meta usually sends with it (the local sandbox answers
//! with that status) and a short meaning. The retry rules ([`crate::retry`]), the pacing
//! governor ([`crate::governor`]) and the sandbox's fault injection all read this table,
//! so a code is described once. Facts and sources: docs/360dialog-api.md §5.5;
//! the retry decisions: docs/reliability.md §1.
//!
//! `131057` ("account in maintenance", seen while Meta upgrades a number's throughput) is a
//! throughput signal that was refused before processing: it is retried like a rate limit and
//! reported as `rate_limited` (docs/reliability.md §1).

use crate::error::ErrorCode;

/// How the request path treats a failed attempt that carried this Meta code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaRetry {
    /// Permanent (authentication, permission, policy, recipient, template, invalid request,
    /// payment, account, media): never repeated.
    Never,
    /// Refused before processing, the number is over a limit: repeated after `Retry-After`
    /// or backoff (up to `max_retries`), and the governor slows the number down.
    RateLimit,
    /// Meta says "try again" and issued no message id: at most
    /// [`crate::retry::TRANSIENT_RETRY_LIMIT`] retries.
    Transient,
    /// The (business, consumer) pair limit: not repeated; a pause of 4^n s is suggested for
    /// that recipient alone.
    PairRateLimit,
    /// A quality signal (spam rate limit): not repeated; a campaign should pause.
    Pause,
}

impl MetaRetry {
    /// True when a request with this code must never be repeated, even as a 503.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            MetaRetry::Never | MetaRetry::PairRateLimit | MetaRetry::Pause
        )
    }
}

/// One row of the table: a code (or an inclusive range of codes) and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaCode {
    /// First code of the row.
    pub first: i64,
    /// Last code of the row (equal to `first` for a single code).
    pub last: i64,
    /// The wa360 error code it becomes.
    pub error_code: ErrorCode,
    /// How it is retried.
    pub retry: MetaRetry,
    /// The HTTP status Meta usually answers with (the sandbox uses it). wa360 classifies
    /// by the code, never by this status: published copies disagree.
    pub http_status: u16,
    /// What it means, in short.
    pub meaning: &'static str,
}

const fn row(
    first: i64,
    last: i64,
    error_code: ErrorCode,
    retry: MetaRetry,
    http_status: u16,
    meaning: &'static str,
) -> MetaCode {
    MetaCode {
        first,
        last,
        error_code,
        retry,
        http_status,
        meaning,
    }
}

use ErrorCode as E;
use MetaRetry as R;

/// Every Meta code wa360 knows. Single codes come before the ranges that contain them
/// (`132001` and `132068` before `132000..=132999`): [`lookup`] takes the first match.
#[rustfmt::skip]
pub const META_CODES: &[MetaCode] = &[
    // first  last     error code         retry             HTTP meaning
    row(0,       0,       E::Authentication, R::Never,         401, "AuthException"),
    row(1,       1,       E::Transient,      R::Transient,     400, "unknown API error, possibly temporary"),
    row(2,       2,       E::Transient,      R::Transient,     503, "API service down for a while"),
    row(3,       3,       E::Permission,     R::Never,         500, "API method or capability not allowed"),
    row(4,       4,       E::RateLimited,    R::RateLimit,     429, "the app hit its API call limit"),
    row(10,      10,      E::Permission,     R::Never,         403, "permission denied"),
    row(100,     100,     E::InvalidRequest, R::Never,         400, "invalid parameter"),
    row(190,     190,     E::Authentication, R::Never,         401, "access token expired or invalid"),
    row(200,     299,     E::Permission,     R::Never,         403, "API permission"),
    row(368,     368,     E::Policy,         R::Never,         403, "blocked for a while for a policy violation"),
    row(80007,   80007,   E::RateLimited,    R::RateLimit,     429, "WABA rate limit"),
    row(130429,  130429,  E::RateLimited,    R::RateLimit,     429, "Cloud API throughput reached"),
    row(130472,  130472,  E::Recipient,      R::Never,         400, "the user's number is in an experiment"),
    row(130497,  130497,  E::Policy,         R::Never,         403, "the business may not message users in this country"),
    row(131000,  131000,  E::Transient,      R::Transient,     500, "something went wrong (unknown)"),
    row(131005,  131005,  E::Permission,     R::Never,         403, "access denied"),
    row(131008,  131008,  E::InvalidRequest, R::Never,         400, "a required parameter is missing"),
    row(131009,  131009,  E::InvalidRequest, R::Never,         400, "a parameter value is not valid"),
    row(131016,  131016,  E::Transient,      R::Transient,     503, "service unavailable"),
    row(131021,  131021,  E::InvalidRequest, R::Never,         400, "recipient and sender are the same"),
    row(131026,  131026,  E::Recipient,      R::Never,         400, "message undeliverable"),
    row(131031,  131031,  E::Policy,         R::Never,         403, "business account locked"),
    row(131037,  131037,  E::Policy,         R::Never,         400, "display name not approved"),
    row(131042,  131042,  E::Payment,        R::Never,         400, "business eligibility or payment problem"),
    row(131045,  131045,  E::Account,        R::Never,         400, "phone-number registration error"),
    row(131047,  131047,  E::WindowClosed,   R::Never,         400, "24-hour window closed: send a template"),
    row(131048,  131048,  E::RateLimited,    R::Pause,         429, "spam rate limit (quality)"),
    row(131049,  131049,  E::Recipient,      R::Never,         400, "held back for a healthy ecosystem"),
    row(131050,  131050,  E::Recipient,      R::Never,         400, "the user opted out of marketing messages"),
    row(131052,  131052,  E::Media,          R::Never,         400, "media download error"),
    row(131053,  131053,  E::Media,          R::Never,         400, "media upload error"),
    row(131056,  131056,  E::RateLimited,    R::PairRateLimit, 429, "pair rate limit (business, consumer)"),
    row(131057,  131057,  E::RateLimited,    R::RateLimit,     500, "account in maintenance (throughput upgrade)"),
    row(131062,  131062,  E::Recipient,      R::Never,         400, "BSUID recipient not supported"),
    row(132001,  132001,  E::Template,       R::Never,         404, "template does not exist (name or language)"),
    row(132068,  132068,  E::Flow,           R::Never,         400, "flow blocked"),
    row(132069,  132069,  E::Flow,           R::Never,         400, "flow throttled"),
    row(132000,  132999,  E::Template,       R::Never,         400, "template missing, paused, disabled or with wrong parameters"),
    row(133010,  133010,  E::Account,        R::Never,         400, "phone number not registered"),
    row(135000,  135000,  E::InvalidRequest, R::Never,         400, "generic user error"),
    row(137000,  137000,  E::Recipient,      R::Never,         400, "recipient identity key mismatch"),
];

/// The pair rate limit code (one recipient only).
pub const PAIR_RATE_LIMIT_CODE: i64 = 131056;

/// The row of a code, when wa360 knows it.
pub fn lookup(code: i64) -> Option<&'static MetaCode> {
    META_CODES
        .iter()
        .find(|m| (m.first..=m.last).contains(&code))
}

/// The wa360 error code of a Meta code; unknown codes give [`ErrorCode::ApiError`].
pub fn error_code(code: i64) -> ErrorCode {
    lookup(code).map_or(ErrorCode::ApiError, |m| m.error_code)
}

/// How a Meta code is retried; `None` for a code wa360 does not know (never repeated,
/// except that a 503 with a Meta body counts as "try again", see [`crate::retry`]).
pub fn retry(code: i64) -> Option<MetaRetry> {
    lookup(code).map(|m| m.retry)
}

/// The HTTP status Meta usually sends with a code (400 for codes wa360 does not know).
pub fn http_status(code: i64) -> u16 {
    lookup(code).map_or(400, |m| m.http_status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of every row (ranges sampled at both ends and the middle).
    fn every_code() -> Vec<i64> {
        META_CODES
            .iter()
            .flat_map(|m| [m.first, (m.first + m.last) / 2, m.last])
            .collect()
    }

    #[test]
    fn single_codes_are_listed_once_and_before_their_range() {
        let mut seen = std::collections::HashSet::new();
        for (i, m) in META_CODES.iter().enumerate() {
            assert!(m.first <= m.last, "{m:?}");
            if m.first == m.last {
                assert!(seen.insert(m.first), "{} listed twice", m.first);
                // A range listed earlier would hide this row.
                for earlier in &META_CODES[..i] {
                    assert!(
                        !(earlier.first..=earlier.last).contains(&m.first),
                        "{} is hidden by the row {earlier:?}",
                        m.first
                    );
                }
            }
            assert!(!m.meaning.is_empty());
        }
    }

    /// The error code, retry rule and HTTP status of a row agree with each other.
    #[test]
    fn every_code_classifies_consistently() {
        for code in every_code() {
            let m = lookup(code).unwrap();
            match m.retry {
                MetaRetry::RateLimit | MetaRetry::PairRateLimit | MetaRetry::Pause => {
                    assert_eq!(m.error_code, ErrorCode::RateLimited, "{code}")
                }
                MetaRetry::Transient => assert_eq!(m.error_code, ErrorCode::Transient, "{code}"),
                MetaRetry::Never => assert!(
                    !matches!(
                        m.error_code,
                        ErrorCode::RateLimited | ErrorCode::Transient | ErrorCode::ApiError
                    ),
                    "{code}: a code that is never retried must have a permanent class"
                ),
            }
            assert_eq!(error_code(code), m.error_code);
            assert_eq!(http_status(code), m.http_status);
            assert!(
                (400..600).contains(&m.http_status),
                "{code}: {}",
                m.http_status
            );
        }
        assert_eq!(error_code(424242), ErrorCode::ApiError);
        assert_eq!(retry(424242), None);
        assert_eq!(http_status(424242), 400);
    }

    #[test]
    fn the_documented_classes() {
        assert_eq!(error_code(131057), ErrorCode::RateLimited);
        assert_eq!(retry(131057), Some(MetaRetry::RateLimit));
        assert_eq!(retry(PAIR_RATE_LIMIT_CODE), Some(MetaRetry::PairRateLimit));
        assert_eq!(retry(131048), Some(MetaRetry::Pause));
        assert_eq!(error_code(132001), ErrorCode::Template);
        assert_eq!(http_status(132001), 404);
        assert_eq!(error_code(132069), ErrorCode::Flow);
        assert_eq!(error_code(132015), ErrorCode::Template);
        assert_eq!(error_code(250), ErrorCode::Permission);
    }
}
