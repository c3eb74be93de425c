//! Retry rules: [`RetryPolicy`] and pure decision functions (no I/O; randomness is
//! passed in as `rand01`, the transport draws it from `fastrand`).
//!
//! `POST /messages` has no idempotency key, so a retry after the request reached the
//! server could send a message twice. Every request therefore carries a [`RetryClass`],
//! and [`classify`] decides, per failed attempt, whether repeating it is safe.
//!
//! # Decision table (docs/reliability.md §1)
//!
//! What each Meta code means, and its retry rule, is in the one table
//! [`crate::meta_codes`]; this module only applies it.
//!
//! | what happened | `Send` (POST /messages, media upload) | `Idempotent` (GETs, webhook config, delete; `DeleteResource` likewise, see its doc) | `NoRetry` (media `GET /{id}`) |
//! |---|---|---|---|
//! | DNS failure, connection refused, TLS failure, pool error, connect timeout: nothing written ([`Failure::NotSent`]) | retry with backoff; finally `connection` | same | same (the server never saw it) |
//! | HTTP 429; a Meta code whose [`MetaRetry`] is `RateLimit` (130429, 4, 80007, 131057); 360dialog 400 "endpoint rate limit" | retry after `Retry-After` (seconds or HTTP date, capped by `max_retry_after`), else backoff; finally `rate_limited` | same | never |
//! | `PairRateLimit` (131056) | never; `rate_limited` with a suggested delay of 4^n s in `retry_after` (counted per recipient by [`crate::governor`]) | never | never |
//! | `Pause` (131048, spam rate limit) | never (pause the campaign) | never | never |
//! | `Transient` (131000, 131016, 1, 2), or HTTP 503 **with** a Meta error body whose code is not permanent | at most 2 retries ([`TRANSIENT_RETRY_LIMIT`]); finally `transient` | same | never |
//! | `Never` (permanent, policy or auth codes), 401, 403, any other answer with an error body | never | never | never |
//! | timeout after the request was (possibly) written | never; `outcome_unknown` | retry; finally `timeout` | never; `timeout` |
//! | connection reset / closed after the request was (possibly) written | never; `outcome_unknown` | retry; finally `connection` | never; `connection` |
//! | 5xx (502/504, HTML, empty) **without** a Meta error body | never; `outcome_unknown` | retry; finally `transient` | never |
//! | 2xx whose body cannot be read | never; `outcome_unknown` | never; `invalid_response` | never; `invalid_response` |
//!
//! Backoff is exponential with "equal jitter": the n-th retry (n from 0) waits
//! `d/2 + rand01 * d/2` where `d = min(cap, base * 2^n)`, so there is always some pause and
//! concurrent clients spread out. Defaults: base 0.5 s, cap 30 s, 2 retries,
//! `Retry-After` honoured up to 60 s.

use std::time::{Duration, SystemTime};

use crate::error::ErrorCode;
use crate::meta_codes::{self, MetaRetry};

pub use crate::meta_codes::PAIR_RATE_LIMIT_CODE;

/// The retry rules a request follows (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// Not idempotent (`POST /messages`, media upload): retry only what cannot double-send.
    Send,
    /// Safe to repeat (GETs, absolute-state POSTs such as webhook configuration, DELETE):
    /// timeouts, resets and 5xx are retried too.
    Idempotent,
    /// The DELETE of one resource (a template, a media id): retried as [`Idempotent`], and a
    /// 404 after an attempt that may have been carried out (no answer, or a 5xx) means that
    /// attempt deleted it: done, not an error.
    ///
    /// [`Idempotent`]: RetryClass::Idempotent
    DeleteResource,
    /// Media look-ups (`GET /{media_id}`): 360dialog blocks numbers that repeat failing
    /// look-ups, so only attempts that never reached the server are repeated.
    NoRetry,
}

/// How often and how long to retry. Defaults: 2 retries, base 0.5 s, cap 30 s,
/// `Retry-After` honoured up to 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Maximum number of retries after the first attempt (0 = never retry).
    pub max_retries: u32,
    /// First backoff step.
    pub base: Duration,
    /// Longest backoff step.
    pub cap: Duration,
    /// Longest `Retry-After` honoured; longer requests are shortened to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }
}

/// At most this many retries for "Meta says try again" answers (131000, 131016, 1, 2,
/// 503 with a Meta body), whatever `max_retries` says.
pub const TRANSIENT_RETRY_LIMIT: u32 = 2;

/// One failed attempt, as the classifier sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No byte of the request was written: DNS, refused, TLS, pool error, connect timeout.
    NotSent,
    /// The attempt timed out after the connection was open (the request may have arrived).
    TimedOut,
    /// The connection broke after the request was (possibly) written.
    Interrupted,
    /// The server answered with a non-2xx status.
    Answered {
        /// HTTP status.
        status: u16,
        /// Class of the error (from [`classify_api_code`] / the status).
        code: ErrorCode,
        /// Meta's numeric `code`, when the body carried one.
        api_code: Option<i64>,
        /// The body was a Meta error (directly or embedded in a 360dialog error).
        meta_body: bool,
        /// `Retry-After`, already parsed.
        retry_after: Option<Duration>,
    },
    /// A 2xx answer whose body could not be read.
    UnreadableSuccess,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Safe to repeat, up to `max_retries`, waiting `retry_after` if given (else backoff).
    Retry {
        /// Delay the server asked for.
        retry_after: Option<Duration>,
    },
    /// Meta said "try again": repeat at most [`TRANSIENT_RETRY_LIMIT`] times.
    RetryBounded,
    /// Do not repeat; report the error.
    Stop,
}

/// Decide whether a failed attempt may be repeated (see the module table).
pub fn classify(class: RetryClass, failure: &Failure) -> Verdict {
    match failure {
        Failure::NotSent => Verdict::Retry { retry_after: None },
        Failure::UnreadableSuccess => Verdict::Stop,
        Failure::TimedOut | Failure::Interrupted => match class {
            RetryClass::Idempotent | RetryClass::DeleteResource => {
                Verdict::Retry { retry_after: None }
            }
            RetryClass::Send | RetryClass::NoRetry => Verdict::Stop,
        },
        Failure::Answered {
            status,
            code,
            api_code,
            meta_body,
            retry_after,
        } => {
            if class == RetryClass::NoRetry {
                return Verdict::Stop;
            }
            let retry = Verdict::Retry {
                retry_after: *retry_after,
            };
            if let Some(c) = api_code {
                return match meta_codes::retry(*c) {
                    Some(MetaRetry::RateLimit) => retry,
                    Some(MetaRetry::Transient) => Verdict::RetryBounded,
                    // A 503 with a Meta body is "try again" unless the code itself is
                    // permanent; every other Meta code (131056 and 131048 included) stops.
                    _ if *status == 503 && *meta_body && !is_permanent_code(*c) => {
                        Verdict::RetryBounded
                    }
                    _ => Verdict::Stop,
                };
            }
            if *status == 503 && *meta_body {
                return Verdict::RetryBounded;
            }
            if *code == ErrorCode::RateLimited {
                // HTTP 429 or 360dialog's "endpoint rate limit" without a Meta code.
                return retry;
            }
            if *status >= 500
                && matches!(class, RetryClass::Idempotent | RetryClass::DeleteResource)
            {
                return retry;
            }
            Verdict::Stop
        }
    }
}

/// True when a Meta code is permanent (auth, permission, policy, recipient, template,
/// invalid request, payment, account, 131056, 131048) and must never be repeated.
/// Codes missing from [`crate::meta_codes`] are not permanent.
pub fn is_permanent_code(code: i64) -> bool {
    meta_codes::retry(code).is_some_and(MetaRetry::is_permanent)
}

/// Whether a failed attempt that got `verdict` may be repeated after `retries_done` retries.
pub fn should_retry(policy: &RetryPolicy, verdict: Verdict, retries_done: u32) -> bool {
    match verdict {
        Verdict::Stop => false,
        Verdict::Retry { .. } => retries_done < policy.max_retries,
        Verdict::RetryBounded => retries_done < policy.max_retries.min(TRANSIENT_RETRY_LIMIT),
    }
}

/// The pause before retry number `attempt` (0 = the first retry).
///
/// A server-sent `retry_after` wins (capped by `max_retry_after`); otherwise exponential
/// backoff with equal jitter: `d/2 + rand01 * d/2`, `d = min(cap, base * 2^attempt)`.
/// `rand01` is a number in `[0, 1)` (values outside are clamped).
pub fn delay(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    rand01: f64,
) -> Duration {
    if let Some(ra) = retry_after {
        return ra.min(policy.max_retry_after);
    }
    let factor = 2u32.saturating_pow(attempt.min(31));
    let d = policy.base.saturating_mul(factor).min(policy.cap);
    let r = if rand01.is_finite() {
        rand01.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = d / 2;
    half + half.mul_f64(r)
}

/// Parse a `Retry-After` header: delta seconds (`"120"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, relative to `now`; a past date gives zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The class of a Meta numeric error `code` (the [`crate::meta_codes`] table). Unknown
/// codes give [`ErrorCode::ApiError`].
pub fn classify_api_code(code: i64) -> ErrorCode {
    meta_codes::error_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, api_code: Option<i64>, meta_body: bool) -> Failure {
        let code = match api_code {
            Some(c) => classify_api_code(c),
            None if status == 429 => ErrorCode::RateLimited,
            None => ErrorCode::ApiError,
        };
        Failure::Answered {
            status,
            code,
            api_code,
            meta_body,
            retry_after: None,
        }
    }

    #[test]
    fn send_class_follows_the_table() {
        use RetryClass::Send;
        let retry = Verdict::Retry { retry_after: None };
        assert_eq!(classify(Send, &Failure::NotSent), retry);
        assert_eq!(classify(Send, &Failure::TimedOut), Verdict::Stop);
        assert_eq!(classify(Send, &Failure::Interrupted), Verdict::Stop);
        assert_eq!(classify(Send, &Failure::UnreadableSuccess), Verdict::Stop);
        assert_eq!(classify(Send, &answered(429, None, false)), retry);
        for c in [130429, 131057, 4, 80007] {
            assert_eq!(classify(Send, &answered(400, Some(c), true)), retry, "{c}");
        }
        for c in [131000, 131016, 1, 2] {
            assert_eq!(
                classify(Send, &answered(500, Some(c), true)),
                Verdict::RetryBounded,
                "{c}"
            );
        }
        for c in [
            131026, 131047, 131048, 131049, 131031, 131042, 368, 100, 132001, 0, 190, 131056,
        ] {
            assert_eq!(
                classify(Send, &answered(400, Some(c), true)),
                Verdict::Stop,
                "{c}"
            );
        }
        assert_eq!(classify(Send, &answered(401, None, false)), Verdict::Stop);
        assert_eq!(classify(Send, &answered(403, None, false)), Verdict::Stop);
        assert_eq!(
            classify(Send, &answered(503, Some(999_999), true)),
            Verdict::RetryBounded
        );
        assert_eq!(
            classify(Send, &answered(503, Some(100), true)),
            Verdict::Stop
        );
        for s in [500, 502, 503, 504] {
            assert_eq!(
                classify(Send, &answered(s, None, false)),
                Verdict::Stop,
                "{s}"
            );
        }
    }

    #[test]
    fn idempotent_and_noretry_classes() {
        use RetryClass::{Idempotent, NoRetry};
        let retry = Verdict::Retry { retry_after: None };
        assert_eq!(classify(Idempotent, &Failure::TimedOut), retry);
        assert_eq!(classify(Idempotent, &Failure::Interrupted), retry);
        assert_eq!(classify(Idempotent, &answered(502, None, false)), retry);
        assert_eq!(
            classify(Idempotent, &answered(400, Some(100), true)),
            Verdict::Stop
        );
        assert_eq!(
            classify(Idempotent, &Failure::UnreadableSuccess),
            Verdict::Stop
        );
        assert_eq!(classify(NoRetry, &Failure::NotSent), retry);
        assert_eq!(classify(NoRetry, &Failure::TimedOut), Verdict::Stop);
        for s in [400, 404, 429, 500, 502] {
            assert_eq!(classify(NoRetry, &answered(s, None, false)), Verdict::Stop);
        }
        assert_eq!(
            classify(NoRetry, &answered(429, Some(130429), true)),
            Verdict::Stop
        );
    }

    #[test]
    fn bounded_and_max_retries() {
        let p = RetryPolicy {
            max_retries: 5,
            ..RetryPolicy::default()
        };
        let r = Verdict::Retry { retry_after: None };
        assert!(should_retry(&p, r, 4));
        assert!(!should_retry(&p, r, 5));
        assert!(should_retry(&p, Verdict::RetryBounded, 1));
        assert!(!should_retry(&p, Verdict::RetryBounded, 2));
        assert!(!should_retry(&p, Verdict::Stop, 0));
        assert!(!should_retry(&RetryPolicy::none(), r, 0));
    }

    #[test]
    fn delay_backoff_jitter_and_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(delay(&p, 0, None, 0.0), Duration::from_millis(250));
        assert_eq!(delay(&p, 0, None, 1.0), Duration::from_millis(500));
        assert_eq!(delay(&p, 1, None, 0.5), Duration::from_millis(750));
        assert_eq!(delay(&p, 20, None, 1.0), Duration::from_secs(30));
        assert_eq!(delay(&p, 40, None, f64::NAN), Duration::from_secs(15));
        assert_eq!(
            delay(&p, 0, Some(Duration::from_secs(3)), 0.9),
            Duration::from_secs(3)
        );
        assert_eq!(
            delay(&p, 0, Some(Duration::from_secs(3600)), 0.9),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn api_code_classes() {
        use ErrorCode::*;
        for (code, class) in [
            (190, Authentication),
            (250, Permission),
            (131056, RateLimited),
            (131047, WindowClosed),
            (132015, Template),
            (132069, Flow),
            (368, Policy),
            (131042, Payment),
            (133010, Account),
            (131053, Media),
            (131016, Transient),
            (131057, RateLimited),
            (424242, ApiError),
        ] {
            assert_eq!(classify_api_code(code), class, "Meta code {code}");
        }
    }
}
