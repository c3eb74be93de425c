//! The `governor` client option (core: `wa360::governor`); the core reads it
//! (`GovernorConfig::from_options` with Node's names and milliseconds).

use napi_derive::napi;
use wa360::governor::{GovernorConfig, GovernorSpec, OptionStyle};

/// Send pacing of `new Client({ governor })`: per-number token bucket, per-recipient
/// pair rate, `131056` back-off. Every field is optional (defaults: 80/s, one send per
/// 6 s to a recipient, 30 s deadline). (Declared for the TypeScript types; read by the core.)
#[napi(object)]
#[allow(dead_code)]
#[derive(Default)]
pub struct GovernorOptions {
    /// Sends per second for this business number (default 80; `null`: no per-number pacing).
    pub messages_per_second: Option<Option<f64>>,
    /// Sends allowed at once before the rate applies (default: a tenth of a second of sends).
    pub burst: Option<u32>,
    /// At most one send per this many ms to one recipient (default 6000; 0 or `null`: off).
    pub pair_interval_ms: Option<Option<f64>>,
    /// Sends to one recipient allowed at once before `pairIntervalMs` applies (default 1).
    pub pair_burst: Option<u32>,
    /// Longest wait for a send slot, in ms (default 30000; at most one year); past it the
    /// send rejects with `rate_limited` and `retryAfter`, nothing sent.
    pub max_wait_ms: Option<f64>,
    /// The number's bucket name in a shared store (default `default`).
    pub number: Option<String>,
    /// Where the governor keeps its state: `memory://` (this process, the default) or
    /// `redis://…` / `rediss://…` (shared by every process using the same URL).
    pub store: Option<String>,
}

/// Read `governor` from a client options object (own properties only, by the core's rule;
/// errors name `governor.<option>`): the settings, and the store URL when one is given.
pub(crate) fn from_json(v: serde_json::Value) -> wa360::Result<GovernorSpec> {
    match v {
        serde_json::Value::Object(m) => GovernorConfig::from_options(&m, OptionStyle::Node),
        _ => Err(wa360::Error::invalid("governor", "must be an object")),
    }
}
