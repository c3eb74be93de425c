//! Rate limits the real API enforces, off by default (docs/sending-at-scale.md):
//!
//! - **messages per second per business number**: a token bucket refilled at `N`/s that
//!   holds at most `N` tokens (one second of sends). A send that finds it empty is refused
//!   with HTTP 429 and Meta code `130429`;
//! - **pair rate** (one business number → one user): a token bucket per recipient refilled
//!   at one token per `interval_ms`, holding at most `burst`. A send that finds it empty is
//!   refused with HTTP 429 and Meta code `131056`;
//! - **360dialog endpoint limit**: a token bucket over every API request refilled at
//!   `endpoint_rps`/s (holding one second). A request that finds it empty gets HTTP 400 with
//!   the 360dialog body `"You have exceeded the endpoint rate limit."`.
//!
//! Refused requests take no token. Limits run in real time (`time_scale` does not apply).
//! Every accepted and refused send is counted per recipient for the inspection route.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The limits a sandbox enforces; every one is off (`None`) by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Messages per second per business number (`130429` past it).
    #[serde(default)]
    pub messages_per_second: Option<f64>,
    /// Pair rate per recipient (`131056` past it).
    #[serde(default)]
    pub pair_rate: Option<PairRate>,
    /// Requests per second on every API route (HTTP 400 "endpoint rate limit" past it).
    #[serde(default)]
    pub endpoint_rps: Option<f64>,
}

/// The pair rate: one send per `interval_ms` to the same recipient, bursts up to `burst`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PairRate {
    /// Milliseconds per token (Meta's rule of thumb: about 6000).
    pub interval_ms: u64,
    /// Tokens the bucket holds (default 1).
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

impl Limits {
    /// No limits (the default).
    pub fn none() -> Self {
        Limits::default()
    }
    /// Refuse sends past `n` per second per number with `130429`.
    pub fn messages_per_second(mut self, n: f64) -> Self {
        self.messages_per_second = Some(n);
        self
    }
    /// Refuse a send to a recipient with `131056` when its pair bucket
    /// (one token per `interval_ms`, at most `burst`) is empty.
    pub fn pair_rate(mut self, interval_ms: u64, burst: u32) -> Self {
        self.pair_rate = Some(PairRate { interval_ms, burst });
        self
    }
    /// Refuse API requests past `n` per second with 360dialog's HTTP 400 endpoint limit.
    pub fn endpoint_rps(mut self, n: f64) -> Self {
        self.endpoint_rps = Some(n);
        self
    }

    /// Check the values; the error names the field and the rule.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("messages_per_second", self.messages_per_second),
            ("endpoint_rps", self.endpoint_rps),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(format!("{name}: must be a positive number"));
            }
        }
        if let Some(p) = self.pair_rate {
            if p.interval_ms == 0 {
                return Err("pair_rate.interval_ms: must be at least 1".into());
            }
            if p.burst == 0 {
                return Err("pair_rate.burst: must be at least 1".into());
            }
        }
        Ok(())
    }
}

/// Sends counted for one recipient.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecipientCounts {
    /// Sends accepted (answered with a wamid).
    pub accepted: u64,
    /// Sends refused with `130429` (number throughput).
    pub throughput_refused: u64,
    /// Sends refused with `131056` (pair rate).
    pub pair_refused: u64,
}

/// Totals over every recipient, plus endpoint-limit refusals.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LimitCounters {
    /// Sends accepted.
    pub accepted: u64,
    /// Sends refused with `130429`.
    pub throughput_refused: u64,
    /// Sends refused with `131056`.
    pub pair_refused: u64,
    /// Requests refused with the 360dialog endpoint limit.
    pub endpoint_refused: u64,
}

/// What the send limits decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendVerdict {
    /// Accepted (tokens taken, counted).
    Accepted,
    /// Refused with `130429`.
    Throughput,
    /// Refused with `131056`.
    Pair,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Bucket {
            tokens: capacity,
            at: now,
        }
    }
    /// Refill to `now`; true when a token is available (not taken).
    fn refill(&mut self, rate: f64, capacity: f64, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(capacity);
        self.at = now;
        self.tokens >= 1.0
    }
}

/// Bounded number of recipients whose pair buckets and counts are kept.
const MAX_RECIPIENTS: usize = 100_000;

/// The live state of the limits (inside the sandbox's lock).
#[derive(Debug, Default)]
pub struct LimitState {
    limits: Limits,
    number: Option<Bucket>,
    endpoint: Option<Bucket>,
    pairs: HashMap<String, Bucket>,
    counts: BTreeMap<String, RecipientCounts>,
    totals: LimitCounters,
}

impl LimitState {
    /// Replace the limits (buckets start full; counts are kept).
    pub fn set(&mut self, limits: Limits) {
        self.limits = limits;
        self.number = None;
        self.endpoint = None;
        self.pairs.clear();
    }

    /// The configured limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forget counts and buckets (limits stay).
    pub fn reset_counts(&mut self) {
        self.counts.clear();
        self.totals = LimitCounters::default();
        self.number = None;
        self.endpoint = None;
        self.pairs.clear();
    }

    /// Per-recipient counts.
    pub fn counts(&self) -> &BTreeMap<String, RecipientCounts> {
        &self.counts
    }

    /// Totals.
    pub fn totals(&self) -> LimitCounters {
        self.totals
    }

    /// Take an endpoint token; false = refuse with the endpoint limit.
    pub fn endpoint_allows(&mut self, now: Instant) -> bool {
        let Some(rps) = self.limits.endpoint_rps else {
            return true;
        };
        let b = self.endpoint.get_or_insert_with(|| Bucket::full(rps, now));
        if b.refill(rps, rps, now) {
            b.tokens -= 1.0;
            true
        } else {
            self.totals.endpoint_refused += 1;
            false
        }
    }

    /// Decide a message send to `recipient` (both buckets are checked first, and tokens
    /// are taken only when both allow it).
    pub fn send(&mut self, recipient: &str, now: Instant) -> SendVerdict {
        let number_ok = match self.limits.messages_per_second {
            None => true,
            Some(rate) => self
                .number
                .get_or_insert_with(|| Bucket::full(rate, now))
                .refill(rate, rate, now),
        };
        let pair = self.limits.pair_rate;
        if pair.is_some()
            && !self.pairs.contains_key(recipient)
            && self.pairs.len() >= MAX_RECIPIENTS
        {
            self.pairs.clear();
        }
        let pair_ok = match pair {
            None => true,
            Some(p) => {
                let cap = f64::from(p.burst);
                self.pairs
                    .entry(recipient.to_string())
                    .or_insert_with(|| Bucket::full(cap, now))
                    .refill(1000.0 / p.interval_ms as f64, cap, now)
            }
        };
        if !self.counts.contains_key(recipient) && self.counts.len() >= MAX_RECIPIENTS {
            self.counts.clear();
        }
        let c = self.counts.entry(recipient.to_string()).or_default();
        if !number_ok {
            c.throughput_refused += 1;
            self.totals.throughput_refused += 1;
            SendVerdict::Throughput
        } else if !pair_ok {
            c.pair_refused += 1;
            self.totals.pair_refused += 1;
            SendVerdict::Pair
        } else {
            if let Some(b) = self
                .number
                .as_mut()
                .filter(|_| self.limits.messages_per_second.is_some())
            {
                b.tokens -= 1.0;
            }
            if pair.is_some()
                && let Some(b) = self.pairs.get_mut(recipient)
            {
                b.tokens -= 1.0;
            }
            c.accepted += 1;
            self.totals.accepted += 1;
            SendVerdict::Accepted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn number_bucket_holds_one_second_and_refills() {
        let mut s = LimitState::default();
        s.set(Limits::none().messages_per_second(10.0));
        let t0 = Instant::now();
        let ok = (0..15).filter(|i| s.send(&format!("{i}"), t0) == SendVerdict::Accepted);
        assert_eq!(ok.count(), 10);
        assert_eq!(s.totals().throughput_refused, 5);
        assert_eq!(
            s.send("x", t0 + Duration::from_millis(110)),
            SendVerdict::Accepted
        );
        assert_eq!(
            s.send("y", t0 + Duration::from_millis(110)),
            SendVerdict::Throughput
        );
    }

    #[test]
    fn pair_bucket_is_per_recipient() {
        let mut s = LimitState::default();
        s.set(Limits::none().pair_rate(1000, 2));
        let t0 = Instant::now();
        assert_eq!(s.send("a", t0), SendVerdict::Accepted);
        assert_eq!(s.send("a", t0), SendVerdict::Accepted);
        assert_eq!(s.send("a", t0), SendVerdict::Pair);
        assert_eq!(s.send("b", t0), SendVerdict::Accepted);
        assert_eq!(
            s.send("a", t0 + Duration::from_millis(1001)),
            SendVerdict::Accepted
        );
        assert_eq!(s.counts()["a"].accepted, 3);
        assert_eq!(s.counts()["a"].pair_refused, 1);
    }

    #[test]
    fn bad_values_name_the_field() {
        assert!(
            Limits::none()
                .messages_per_second(0.0)
                .check()
                .unwrap_err()
                .contains("messages_per_second")
        );
        assert!(
            Limits::none()
                .pair_rate(0, 1)
                .check()
                .unwrap_err()
                .contains("interval_ms")
        );
        assert!(
            Limits::none()
                .endpoint_rps(f64::NAN)
                .check()
                .unwrap_err()
                .contains("endpoint_rps")
        );
    }
}
