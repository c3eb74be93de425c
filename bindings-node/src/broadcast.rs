//! `Campaign`, `Ledger` and `client.broadcast` (core: `wa360::broadcast`).

use std::sync::Arc;
use wa360::input::{duration_ms_option, int_option, wait_ms_option};

use napi::Env;
use napi::Status;
use napi::bindgen_prelude::PromiseRaw;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use wa360::broadcast::{BroadcastOptions, Campaign, Ledger, Progress, ledger_path};

use crate::client::JsClient;
use crate::errors::{guard, spawn};
use crate::own::{JsonArg, Text};
use crate::types::{BroadcastCounts, BroadcastProgress, BroadcastSummary, SendResponse};

/// A template campaign: template, language and recipients with body parameters. Every
/// row is checked at construction (bad number, empty parameter, duplicate recipient →
/// `invalid_argument` naming the row and column).
#[napi(js_name = "Campaign")]
pub struct JsCampaign {
    pub(crate) inner: Campaign,
}

#[napi]
impl JsCampaign {
    /// `new Campaign(template, language, [{ to, params }])`.
    #[napi(
        constructor,
        ts_args_type = "template: string, language: string, recipients: Array<CampaignRecipient>"
    )]
    pub fn new(
        env: Env,
        template: Text,
        language: Text,
        recipients: JsonArg,
    ) -> napi::Result<Self> {
        guard(&env, move || {
            let (template, language) = (template.named("template")?, language.named("language")?);
            let rows = recipient_rows(&recipients.named("recipients")?)?;
            Ok(JsCampaign {
                inner: Campaign::new(&template, &language, rows)?,
            })
        })
    }

    /// Read a CSV text: header `to` then one column per body parameter.
    #[napi(
        factory,
        ts_args_type = "template: string, language: string, csvText: string"
    )]
    pub fn from_csv(
        env: Env,
        template: Text,
        language: Text,
        csv_text: Text,
    ) -> napi::Result<Self> {
        guard(&env, move || {
            let (template, language) = (template.named("template")?, language.named("language")?);
            Ok(JsCampaign {
                inner: Campaign::from_csv(&template, &language, &csv_text.named("csvText")?)?,
            })
        })
    }

    /// The campaign id (a fingerprint of template, language and rows).
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// Number of recipients.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.inner.recipients().len() as u32
    }
}

/// The stop switch of one `client.broadcast()` run (internal: `wa360.js` flips it on the
/// run's `signal` and on SIGINT / SIGTERM): this process stops claiming and the run ends
/// after its sends in flight, as the CLI and Python do on Ctrl-C. Other processes on the
/// same ledger go on (`ledger.stop()` stops them all).
#[napi(js_name = "_BroadcastStop")]
pub struct JsBroadcastStop {
    inner: wa360::broadcast::BroadcastControl,
}

#[napi]
impl JsBroadcastStop {
    /// A switch that is off.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        JsBroadcastStop {
            inner: wa360::broadcast::BroadcastControl::new(),
        }
    }

    /// Stop the run after its sends in flight.
    #[napi]
    pub fn stop(&self) {
        self.inner.stop();
    }
}

/// `[{ to, params }]` read strictly, each fault named by its place (`recipients[3].to`,
/// `recipients[3].params[0]`), as Python names them; napi's own object conversion named
/// none, so a number read as a JSON number could not be found in a large campaign.
fn recipient_rows(v: &Value) -> wa360::Result<Vec<(String, Vec<String>)>> {
    let rows = v.as_array().ok_or_else(|| {
        wa360::Error::invalid("recipients", "must be an array of { to, params } objects")
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let at = format!("recipients[{i}]");
        let obj = row
            .as_object()
            .ok_or_else(|| wa360::Error::invalid(&at, "must be a { to, params } object"))?;
        let to = match obj.get("to") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(wa360::Error::invalid(
                    format!("{at}.to"),
                    "must be a string",
                ));
            }
            None => return Err(wa360::Error::invalid(format!("{at}.to"), "is required")),
        };
        let params = match obj.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ps)) => ps
                .iter()
                .enumerate()
                .map(|(j, p)| match p {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(wa360::Error::invalid(
                        format!("{at}.params[{j}]"),
                        "must be a string",
                    )),
                })
                .collect::<wa360::Result<_>>()?,
            Some(_) => {
                return Err(wa360::Error::invalid(
                    format!("{at}.params"),
                    "must be an array of strings",
                ));
            }
        };
        out.push((to, params));
    }
    Ok(out)
}

/// The durable ledger of one campaign (`sqlite:///PATH`).
#[napi(js_name = "Ledger")]
pub struct JsLedger {
    pub(crate) inner: Ledger,
}

fn json(v: &impl serde::Serialize) -> wa360::Result<Value> {
    serde_json::to_value(v).map_err(|e| wa360::Error::Internal(e.to_string()))
}

#[napi]
impl JsLedger {
    /// `new Ledger('sqlite:///path.db', campaign)`: open or create; a ledger of another
    /// campaign is refused (`invalid_argument` on `ledger`).
    #[napi(constructor, ts_args_type = "url: string, campaign: Campaign")]
    pub fn new(env: Env, url: Text, campaign: &JsCampaign) -> napi::Result<Self> {
        let c = campaign.inner.clone();
        guard(&env, move || {
            Ok(JsLedger {
                inner: Ledger::open(ledger_path(&url.named("ledger")?)?, &c)?,
            })
        })
    }

    /// Open an existing ledger (feed statuses, read counts, pause / resume / stop).
    #[napi(factory, ts_args_type = "url: string")]
    pub fn open_existing(env: Env, url: Text) -> napi::Result<Self> {
        guard(&env, move || {
            Ok(JsLedger {
                inner: Ledger::open_existing(ledger_path(&url.named("ledger")?)?)?,
            })
        })
    }

    /// The campaign id stored in the ledger.
    #[napi(getter)]
    pub fn campaign_id(&self) -> String {
        self.inner.campaign_id().to_owned()
    }

    /// Counts per state: `{ total, pending, inFlight, accepted, failed, unknown }`.
    #[napi]
    pub fn counts(&self, env: Env) -> napi::Result<BroadcastCounts> {
        guard(&env, || Ok(counts_js(self.inner.counts()?)))
    }

    /// Every recipient's row: `[{ row, to, params, state, attempts, wamid, error_code,
    /// api_code, last_status }]` (the ledger's own column names).
    #[napi(ts_return_type = "Array<Record<string, unknown>>")]
    pub fn entries(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || json(&self.inner.entries()?))
    }

    /// Apply a webhook POST body: its status events settle `unknown` recipients.
    /// Returns how many were settled.
    #[napi(ts_args_type = "body: Buffer | Uint8Array | string")]
    pub fn apply_webhook(&self, env: Env, body: crate::own::Body<'_, String>) -> napi::Result<u32> {
        guard(&env, || {
            Ok(self.inner.apply_webhook(body.named("body")?)? as u32)
        })
    }

    /// Apply parsed events, as a receiver's `onEvents` or an inbox consumer gets them: each
    /// status event of this campaign settles its recipient as `applyWebhook` does; other
    /// events are skipped. Returns how many were settled.
    #[napi(ts_args_type = "events: ReadonlyArray<{ kind: string }>")]
    pub fn apply_events(&self, env: Env, events: crate::own::JsonArg) -> napi::Result<u32> {
        guard(&env, || {
            let events = events.named("events")?;
            let list = events
                .as_array()
                .ok_or_else(|| wa360::Error::invalid("events", "must be an array of events"))?;
            let mut settled = 0;
            for (i, e) in list.iter().enumerate() {
                let kind = e.get("kind").and_then(serde_json::Value::as_str);
                let Some(kind) = kind else {
                    return Err(wa360::Error::invalid(
                        format!("events[{i}]"),
                        "must be an event from parseWebhook, a receiver or an inbox",
                    ));
                };
                if kind != "status" {
                    continue;
                }
                let text = |k: &str| e.get(k).and_then(serde_json::Value::as_str);
                let code = e
                    .get("errors")
                    .and_then(|a| a.get(0))
                    .and_then(|x| x.get("code"))
                    .and_then(serde_json::Value::as_i64);
                let applied = self.inner.apply_status_fields(
                    text("biz_opaque_callback_data"),
                    text("id"),
                    text("status").unwrap_or(""),
                    code,
                )?;
                settled += u32::from(applied == wa360::broadcast::Applied::Settled);
            }
            Ok(settled)
        })
    }

    /// Ask a running broadcast (any process) to pause.
    #[napi]
    pub fn pause(&self, env: Env) -> napi::Result<()> {
        guard(&env, || self.inner.pause())
    }
    /// Let a paused broadcast go on.
    #[napi]
    pub fn resume(&self, env: Env) -> napi::Result<()> {
        guard(&env, || self.inner.resume())
    }
    /// Ask a running broadcast to stop after the sends in flight.
    #[napi]
    pub fn stop(&self, env: Env) -> napi::Result<()> {
        guard(&env, || self.inner.stop())
    }
    /// Put the failed recipients back to pending for the next run; returns how many.
    #[napi]
    pub fn retry_failed(&self, env: Env) -> napi::Result<u32> {
        guard(&env, || {
            self.inner
                .retry_failed()
                .map(|n| n.min(u32::MAX as u64) as u32)
        })
    }
    /// `running`, `paused`, `stopped`, `done`, or `halted` (the last run ended with an
    /// error: `lastError()`).
    #[napi]
    pub fn run_state(&self, env: Env) -> napi::Result<String> {
        guard(&env, || self.inner.run_state())
    }
    /// The error the last run ended with, or null (cleared when a run begins, or ends
    /// without an error).
    #[napi]
    pub fn last_error(&self, env: Env) -> napi::Result<Option<String>> {
        guard(&env, || self.inner.last_error())
    }
}

type ProgressFn = ThreadsafeFunction<BroadcastProgress, (), BroadcastProgress, Status, false>;

fn counts_js(c: wa360::broadcast::StateCounts) -> BroadcastCounts {
    BroadcastCounts {
        total: c.total as u32,
        pending: c.pending as u32,
        in_flight: c.in_flight as u32,
        accepted: c.accepted as u32,
        failed: c.failed as u32,
        unknown: c.unknown as u32,
    }
}

/// The keys of `BroadcastRunOptions` (`progress` is taken out by wa360.js).
const BROADCAST_OPTIONS: &[&str] = &[
    "concurrency",
    "unknownWindowMs",
    "maxWaitMs",
    "maxAttempts",
    "maxOutageMs",
    "startInMs",
];

#[napi]
impl JsClient {
    /// Send one message (neutral format, as `send`), waiting at most `maxWaitMs` for the
    /// governor's slot; past it rejects with `rate_limited` and `retryAfterMs`, nothing sent.
    /// `maxWaitMs` also bounds the pauses between attempts (a retry past it is not made).
    #[napi(ts_args_type = "message: Record<string, unknown>, maxWaitMs: number")]
    pub fn send_within<'env>(
        &self,
        env: &'env Env,
        message: crate::own::Json,
        max_wait_ms: f64,
    ) -> napi::Result<PromiseRaw<'env, SendResponse>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move {
                let d = wait_ms_option("maxWaitMs", max_wait_ms)?;
                let msg = wa360::messages::Message::from_json(&message.0)?;
                c.send_within(&msg, d).await
            },
            |_, r| Ok(SendResponse::from(r)),
        )
    }

    /// Send `campaign` through this client's governor, recording each step in `ledger`;
    /// running it again on the same ledger resumes. `options.progress(p)` is called with
    /// counts per state, rate, ETA and phase. Resolves to the summary. `options.signal` (an
    /// `AbortSignal`) stops this run after its sends in flight, each recorded; so do SIGINT
    /// and SIGTERM unless `options.shutdownSignals` is false (docs/sending-at-scale.md).
    #[napi(
        ts_args_type = "campaign: Campaign, ledger: Ledger, options?: BroadcastRunOptions & { progress?: (p: BroadcastProgress) => void; signal?: AbortSignal; shutdownSignals?: boolean }"
    )]
    pub fn broadcast<'env>(
        &self,
        env: &'env Env,
        campaign: &JsCampaign,
        ledger: &JsLedger,
        options: Option<crate::own::Json>,
        progress: Option<ProgressFn>,
        stop: Option<&JsBroadcastStop>,
    ) -> napi::Result<PromiseRaw<'env, BroadcastSummary>> {
        use crate::own::{opt_num, options as read_options};
        // Own properties only, unknown keys refused (as the client's options).
        let opts = guard(env, || {
            let o = read_options(options, BROADCAST_OPTIONS)?;
            let mut b = BroadcastOptions::default();
            if let Some(c) = opt_num(&o, "concurrency")? {
                b.concurrency =
                    int_option("concurrency", c, 1, wa360::input::MAX_CONCURRENCY)? as usize;
            }
            if let Some(v) = opt_num(&o, "unknownWindowMs")? {
                b.unknown_window = duration_ms_option("unknownWindowMs", v)?;
            }
            if let Some(v) = opt_num(&o, "maxWaitMs")? {
                b.max_wait = wait_ms_option("maxWaitMs", v)?;
            }
            if let Some(n) = opt_num(&o, "maxAttempts")? {
                b.max_attempts = int_option("maxAttempts", n, 1, u64::from(u32::MAX))? as u32;
            }
            if let Some(v) = opt_num(&o, "maxOutageMs")? {
                b.max_outage = duration_ms_option("maxOutageMs", v)?;
            }
            if let Some(v) = opt_num(&o, "startInMs")? {
                b = b.starting_in(wait_ms_option("startInMs", v)?);
            }
            Ok(b)
        })?;
        let mut opts = opts;
        if let Some(s) = stop {
            opts.control = s.inner.clone();
        }
        if let Some(f) = progress {
            let f = Arc::new(f);
            opts.progress = Some(Arc::new(move |p: &Progress| {
                let v = BroadcastProgress {
                    counts: counts_js(p.counts),
                    accepted_this_run: p.accepted_this_run as u32,
                    elapsed_secs: p.elapsed_secs,
                    rate: p.rate,
                    eta_secs: p.eta_secs,
                    phase: p.phase.to_owned(),
                };
                f.call(v, ThreadsafeFunctionCallMode::NonBlocking);
            }));
        }
        let c = self.inner.clone();
        let campaign = campaign.inner.clone();
        let ledger = ledger.inner.clone();
        spawn(
            env,
            async move { c.broadcast(&campaign, &ledger, opts).await },
            |_, s| {
                Ok(BroadcastSummary {
                    campaign_id: s.campaign_id,
                    counts: counts_js(s.counts),
                    accepted_this_run: s.accepted_this_run as u32,
                    elapsed_secs: s.elapsed_secs,
                    complete: s.complete,
                    stopped: s.stopped,
                })
            },
        )
    }
}
