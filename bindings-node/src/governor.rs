//! The `governor` client option (core: `wa360::governor`); validation stays in the core.

use std::time::Duration;

use napi_derive::napi;
use wa360::governor::GovernorConfig;

/// Send pacing of `new Client({ governor })`: per-number token bucket, per-recipient
/// pair rate, `131056` back-off. Every field is optional (defaults: 80/s, one send per
/// 6 s to a recipient, 30 s deadline).
#[napi(object)]
#[derive(Default)]
pub struct GovernorOptions {
    /// Sends per second for this business number (default 80).
    pub messages_per_second: Option<f64>,
    /// Sends allowed at once before the rate applies (default: a tenth of a second of sends).
    pub burst: Option<u32>,
    /// At most one send per this many ms to one recipient (default 6000; 0 = off).
    pub pair_interval_ms: Option<u32>,
    /// Sends to one recipient allowed at once before `pairIntervalMs` applies (default 1).
    pub pair_burst: Option<u32>,
    /// Longest wait for a send slot, in ms (default 30000); past it the send rejects with
    /// `rate_limited` and `retryAfter`, nothing sent.
    pub max_wait_ms: Option<u32>,
    /// The number's bucket name in a shared store (default `default`).
    pub number: Option<String>,
    /// Where the governor keeps its state: `memory://` (this process, the default) or
    /// `redis://…` / `rediss://…` (shared by every process using the same URL).
    pub store: Option<String>,
}

/// The core config for the options (checked by the client builder).
pub(crate) fn config(o: GovernorOptions) -> GovernorConfig {
    let mut c = GovernorConfig::default();
    if let Some(r) = o.messages_per_second {
        c.messages_per_second = Some(r);
    }
    c.burst = o.burst;
    if let Some(ms) = o.pair_interval_ms {
        c.pair_interval = (ms > 0).then(|| Duration::from_millis(u64::from(ms)));
    }
    if let Some(b) = o.pair_burst {
        c.pair_burst = b;
    }
    if let Some(ms) = o.max_wait_ms {
        c.max_wait = Duration::from_millis(u64::from(ms));
    }
    if let Some(n) = o.number {
        c.number = n;
    }
    c
}

/// The keys of `GovernorOptions`.
const GOVERNOR_OPTIONS: &[&str] = &[
    "messagesPerSecond",
    "burst",
    "pairIntervalMs",
    "pairBurst",
    "maxWaitMs",
    "number",
    "store",
];

/// Read `governor` from a client options object through own properties only
/// (unknown keys and out-of-range numbers are `invalid_argument`, as for every option):
/// the settings, and the store URL when one is given.
pub(crate) fn from_json(v: serde_json::Value) -> wa360::Result<(GovernorConfig, Option<String>)> {
    use crate::own::{opt_num, opt_str, options};
    use wa360::input::int_option;
    let o = options(Some(crate::own::Json(v)), GOVERNOR_OPTIONS)?;
    let u32_of = |k: &str| -> wa360::Result<Option<u32>> {
        opt_num(&o, k)?
            .map(|n| {
                int_option(&format!("governor.{k}"), n, 0, u64::from(u32::MAX)).map(|n| n as u32)
            })
            .transpose()
    };
    let store = opt_str(&o, "store")?;
    let cfg = config(GovernorOptions {
        messages_per_second: opt_num(&o, "messagesPerSecond")?,
        burst: u32_of("burst")?,
        pair_interval_ms: u32_of("pairIntervalMs")?,
        pair_burst: u32_of("pairBurst")?,
        max_wait_ms: u32_of("maxWaitMs")?,
        number: opt_str(&o, "number")?,
        store: None,
    });
    Ok((cfg, store))
}
