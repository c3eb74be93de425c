//! Resumable template campaigns that never send anyone the same message twice
//! (`docs/sending-at-scale.md`).
//!
//! A [`Campaign`] is a template, a language and recipients with their body parameters
//! (usually from a CSV whose header is `to` followed by one column per body parameter).
//! Everything is validated before anything is sent: a bad number, a missing or empty
//! parameter, or a duplicate recipient is an `invalid_argument` naming the row and column.
//!
//! [`crate::client::Client::broadcast`] sends it through the client's governor with a
//! durable [`Ledger`]: rerunning the same campaign on the same ledger resumes it; a ledger
//! of another campaign is refused. Each send carries its ledger's
//! `wa360:<campaign id>.<mark>:<recipient>` ([`Ledger::key_for`]) in
//! `biz_opaque_callback_data`. A send whose outcome is unknown (a crash mid-send, or
//! `outcome_unknown`) is not repeated blindly: status webhooks carrying the key settle it
//! ([`Ledger::apply_status`] / [`Ledger::apply_webhook`]); only when no status arrived
//! within [`BroadcastOptions::unknown_window`] is it sent again.
//!
//! ```no_run
//! # async fn demo(client: wa360::client::Client) -> wa360::Result<()> {
//! use wa360::broadcast::{BroadcastOptions, Campaign, Ledger};
//! let csv = "to,name\n+15555550123,Maya\n+15555550124,Ana\n";
//! let campaign = Campaign::from_csv("order_update", "en_US", csv)?;
//! let ledger = Ledger::open("/tmp/order_update.db", &campaign)?;
//! let summary = client.broadcast(&campaign, &ledger, BroadcastOptions::default()).await?;
//! println!("{} accepted, {} failed", summary.counts.accepted, summary.counts.failed);
//! # Ok(()) }
//! ```

mod ledger;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use ledger::{
    Applied, KEY_PREFIX, Ledger, LedgerEntry, RecipientState, StateCounts, ledger_path, parse_key,
    recipient_key,
};

use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::messages::{Message, Outbound, Parameter, Template, normalize_phone};
use crate::util::{lock, ms, now_ms};

/// One recipient of a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRecipient {
    /// Row in the source (CSV line number, the header being row 1).
    pub row: usize,
    /// The normalised phone number.
    pub to: String,
    /// Body parameters, in order.
    pub params: Vec<String>,
}

/// A template campaign: what is sent, to whom. Its [`Campaign::id`] is a fingerprint of
/// all of it, so a ledger can tell its own campaign from another.
#[derive(Debug, Clone)]
pub struct Campaign {
    id: String,
    template: String,
    language: String,
    recipients: Vec<CampaignRecipient>,
}

impl Campaign {
    /// Read a CSV: header `to` then one column per body parameter; one row per recipient.
    ///
    /// Errors (`invalid_argument`, before anything is sent) name the row and column: a
    /// header without `to` first, a row with fewer or more cells than the header, an empty
    /// parameter, a number that is not in international format, a duplicate recipient.
    pub fn from_csv(template: &str, language: &str, csv_text: &str) -> Result<Campaign> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(csv_text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            None => {
                return Err(Error::invalid(
                    "recipients",
                    "the CSV is empty (expected a header row `to,…`)",
                ));
            }
            Some(r) => r.map_err(|e| csv_err(1, &e))?,
        };
        let columns: Vec<String> = header.iter().map(str::to_string).collect();
        if columns.first().map(|c| c.trim_start_matches('\u{feff}')) != Some("to") {
            return Err(Error::invalid(
                "recipients row 1 column 1",
                format!(
                    "the header must start with `to` (then one column per body parameter); found {:?}",
                    columns.first().map(String::as_str).unwrap_or("")
                ),
            ));
        }
        for (i, c) in columns.iter().enumerate().skip(1) {
            if c.is_empty() {
                return Err(Error::invalid(
                    format!("recipients row 1 column {}", i + 1),
                    "a parameter column needs a name",
                ));
            }
        }
        let mut rows = Vec::new();
        // (byte offset, its line number): where the line count of the last row stopped.
        let mut counted = (0usize, 1usize);
        for (i, rec) in records.enumerate() {
            let rec = rec.map_err(|e| csv_err(i + 2, &e))?;
            // The line the row starts on, as an editor shows it (a quoted cell may span
            // lines; `\n`, `\r\n` and a lone `\r` each end a line, as for the reader). The
            // reader's position is where it began to read, before any blank lines it
            // skipped; lines are counted from the last row's start on.
            let line = match rec.position().and_then(|p| usize::try_from(p.byte()).ok()) {
                Some(start) => {
                    let bytes = csv_text.as_bytes();
                    let start = start.min(bytes.len());
                    let start = start
                        + bytes[start..]
                            .iter()
                            .take_while(|c| matches!(c, b'\n' | b'\r'))
                            .count();
                    let (from, at) = counted;
                    let from = from.min(start);
                    let breaks = bytes[from..start]
                        .iter()
                        .enumerate()
                        .filter(|&(k, &c)| {
                            c == b'\n' || (c == b'\r' && bytes.get(from + k + 1) != Some(&b'\n'))
                        })
                        .count();
                    counted = (start, at + breaks);
                    at + breaks
                }
                None => i + 2,
            };
            if rec.iter().all(str::is_empty) {
                continue; // blank line
            }
            // A cell over several lines is valid CSV, but in a recipients file it is almost
            // always a `"` left open: the rows after it would silently become one cell
            // (recipients dropped, other people's details sent as a parameter).
            if let Some(j) = rec.iter().position(|c| c.contains(['\n', '\r'])) {
                return Err(Error::invalid(
                    format!(
                        "recipients row {line} column {} ({})",
                        j + 1,
                        columns.get(j).map(String::as_str).unwrap_or("?")
                    ),
                    "a value must not span lines (is a `\"` left open in this row?)",
                ));
            }
            let cells: Vec<String> = rec.iter().map(str::to_string).collect();
            rows.push((line, cells));
        }
        Self::build(template, language, &columns, rows)
    }

    /// A campaign from recipients and their body parameters (rows numbered from 1).
    pub fn new(
        template: &str,
        language: &str,
        recipients: Vec<(String, Vec<String>)>,
    ) -> Result<Campaign> {
        let width = recipients.first().map(|r| r.1.len()).unwrap_or(0);
        let mut columns = vec!["to".to_string()];
        columns.extend((1..=width).map(|i| format!("param{i}")));
        let rows = recipients
            .into_iter()
            .enumerate()
            .map(|(i, (to, params))| {
                let mut cells = vec![to];
                cells.extend(params);
                (i + 1, cells)
            })
            .collect();
        Self::build(template, language, &columns, rows)
    }

    fn build(
        template: &str,
        language: &str,
        columns: &[String],
        rows: Vec<(usize, Vec<String>)>,
    ) -> Result<Campaign> {
        if template.trim().is_empty() {
            return Err(Error::invalid("template", "must not be empty"));
        }
        if language.trim().is_empty() {
            return Err(Error::invalid("language", "must not be empty"));
        }
        // The template's name and language by their own rules, once and named as such: left
        // to each row's probe below, a bad name was blamed on the first row's `to` cell.
        let probe = template_message(template, language, "15555550100", &[], "wa360:probe");
        if let Err(Error::InvalidArgument { field, rule }) = probe.to_body() {
            let arg = if field.contains("language") {
                "language"
            } else {
                "template"
            };
            return Err(Error::invalid(arg, format!("{rule} ({field})")));
        }
        if rows.is_empty() {
            return Err(Error::invalid("recipients", "no recipient rows"));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut recipients = Vec::with_capacity(rows.len());
        let mut hasher = Sha256::new();
        hasher.update(template.as_bytes());
        hasher.update([0]);
        hasher.update(language.as_bytes());
        for (line, cells) in rows {
            let at = |col: usize| {
                format!(
                    "recipients row {line} column {} ({})",
                    col + 1,
                    columns.get(col).map(String::as_str).unwrap_or("?")
                )
            };
            if cells.len() < columns.len() {
                let col = cells.len();
                return Err(Error::invalid(
                    at(col),
                    format!(
                        "missing parameter: the row has {} cells, the header {}",
                        cells.len(),
                        columns.len()
                    ),
                ));
            }
            if cells.len() > columns.len() {
                return Err(Error::invalid(
                    format!("recipients row {line} column {}", columns.len() + 1),
                    format!(
                        "the row has {} cells but the header only {} columns",
                        cells.len(),
                        columns.len()
                    ),
                ));
            }
            let to = normalize_phone(&cells[0]).map_err(|e| match e {
                Error::InvalidArgument { rule, .. } => Error::invalid(at(0), rule),
                other => other,
            })?;
            if let Some(first) = seen.get(&to) {
                return Err(Error::invalid(
                    at(0),
                    format!("duplicate recipient {to} (first on row {first})"),
                ));
            }
            seen.insert(to.clone(), line);
            for (j, p) in cells.iter().enumerate().skip(1) {
                if p.is_empty() {
                    return Err(Error::invalid(
                        at(j),
                        "missing parameter: the cell is empty",
                    ));
                }
            }
            let params: Vec<String> = cells[1..].to_vec();
            // The message itself must be valid too (length limits, …).
            let probe = template_message(template, language, &to, &params, "wa360:probe");
            if let Err(e) = probe.to_body() {
                // A parameter's rule (`…parameters[k]…`) names its column, k + 2.
                let col = e
                    .field()
                    .and_then(|f| f.split_once("parameters[").map(|(_, r)| r))
                    .and_then(|r| r.split(']').next())
                    .and_then(|k| k.parse::<usize>().ok())
                    .map_or(0, |k| k + 1);
                return Err(Error::invalid(at(col), e.to_string()));
            }
            hasher.update([1]);
            hasher.update(to.as_bytes());
            for p in &params {
                hasher.update([2]);
                hasher.update(p.as_bytes());
            }
            recipients.push(CampaignRecipient {
                row: line,
                to,
                params,
            });
        }
        let digest = hasher.finalize();
        let id = crate::util::hex(&digest[..8]);
        Ok(Campaign {
            id,
            template: template.to_string(),
            language: language.to_string(),
            recipients,
        })
    }

    /// The campaign id (16 hex characters of a SHA-256 over template, language and rows).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Template name.
    pub fn template(&self) -> &str {
        &self.template
    }
    /// Template language code.
    pub fn language(&self) -> &str {
        &self.language
    }
    /// The recipients, in order.
    pub fn recipients(&self) -> &[CampaignRecipient] {
        &self.recipients
    }
}

fn csv_err(line: usize, e: &csv::Error) -> Error {
    Error::invalid(
        format!("recipients row {line}"),
        format!("unreadable CSV: {e}"),
    )
}

fn template_message(
    template: &str,
    language: &str,
    to: &str,
    params: &[String],
    key: &str,
) -> Message {
    let mut t = Template::new(template, language);
    if !params.is_empty() {
        t = t.body(params.iter().map(|p| Parameter::text(p.clone())).collect());
    }
    Message::template(to, t).callback_data(key)
}

/// A live view of a broadcast, given to the progress callback.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// Counts per state in the ledger.
    pub counts: StateCounts,
    /// Sends accepted during this run.
    pub accepted_this_run: u64,
    /// Seconds since this run started.
    pub elapsed_secs: f64,
    /// Accepted sends per second during this run.
    pub rate: f64,
    /// Estimated seconds left (pending + unknown at the current rate), if known.
    pub eta_secs: Option<f64>,
    /// `running`, `paused`, `scheduled`, `waiting_for_statuses` or `done`.
    pub phase: &'static str,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The campaign id.
    pub campaign_id: String,
    /// Counts per state at the end.
    pub counts: StateCounts,
    /// Sends accepted during this run.
    pub accepted_this_run: u64,
    /// Seconds this run took.
    pub elapsed_secs: f64,
    /// True when every recipient is `accepted` or `failed`.
    pub complete: bool,
    /// True when the run ended on a stop request.
    pub stopped: bool,
}

/// Pause, resume or stop a running broadcast from another task (the ledger's
/// [`Ledger::pause`] / [`Ledger::stop`] do the same from another process).
#[derive(Debug, Clone, Default)]
pub struct BroadcastControl(Arc<AtomicU8>);

const RUN: u8 = 0;
const PAUSE: u8 = 1;
const STOP: u8 = 2;

impl BroadcastControl {
    /// A fresh control (running).
    pub fn new() -> Self {
        Self::default()
    }
    /// Stop claiming recipients until [`BroadcastControl::resume`].
    pub fn pause(&self) {
        self.0.store(PAUSE, Ordering::SeqCst);
    }
    /// Go on after a pause.
    pub fn resume(&self) {
        self.0.store(RUN, Ordering::SeqCst);
    }
    /// End the run after the sends in flight (the campaign can be resumed later).
    pub fn stop(&self) {
        self.0.store(STOP, Ordering::SeqCst);
    }
    fn get(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How a broadcast runs.
#[derive(Clone)]
pub struct BroadcastOptions {
    /// Sends in flight at once (default 16), once the run's first send is accepted (one at a
    /// time until then: a refused key or template costs one request).
    pub concurrency: usize,
    /// How long an `unknown` recipient waits for a status webhook before it is sent
    /// again (default 15 min).
    pub unknown_window: Duration,
    /// Longest wait for a governor slot per send (default 60 s); past it the recipient is
    /// tried again after the governor's delay, without counting an attempt (the run pauses
    /// up to a second meanwhile).
    pub max_wait: Duration,
    /// Attempts per recipient (default 5) for requests that may have been written and were
    /// refused in a way that is safe to repeat (a rate limit, a transient error). A send
    /// that never went out (no governor slot, no connection) is never counted.
    pub max_attempts: u32,
    /// How long a run holds while no send can go out (no connection, no governor slot: an
    /// outage) before it ends with a `connection` error (default 10 min). The recipients
    /// not sent stay pending for the next run.
    pub max_outage: Duration,
    /// No send before this time (Unix milliseconds); stored in the ledger.
    pub not_before_ms: Option<i64>,
    /// Called with progress at most every `progress_interval` and at the end.
    pub progress: Option<ProgressFn>,
    /// Minimum time between progress calls (default 200 ms).
    pub progress_interval: Duration,
    /// Pause / resume / stop from another task.
    pub control: BroadcastControl,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        BroadcastOptions {
            concurrency: 16,
            unknown_window: Duration::from_secs(15 * 60),
            max_wait: Duration::from_secs(60),
            max_attempts: 5,
            max_outage: Duration::from_secs(600),
            not_before_ms: None,
            progress: None,
            progress_interval: Duration::from_millis(200),
            control: BroadcastControl::new(),
        }
    }
}

impl std::fmt::Debug for BroadcastOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOptions")
            .field("concurrency", &self.concurrency)
            .field("unknown_window", &self.unknown_window)
            .field("max_wait", &self.max_wait)
            .field("max_attempts", &self.max_attempts)
            .field("max_outage", &self.max_outage)
            .field("not_before_ms", &self.not_before_ms)
            .finish_non_exhaustive()
    }
}

impl BroadcastOptions {
    /// No send before `delay` from now (the bindings' `start_in` / `startInMs`).
    #[must_use]
    pub fn starting_in(mut self, delay: Duration) -> Self {
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.not_before_ms = Some(now_ms().saturating_add(delay_ms));
        self
    }

    fn validate(&self) -> Result<()> {
        // The same rules, in the same words, as the bindings' own checks of
        // `concurrency` and `max_attempts` / `maxAttempts`.
        crate::input::int_option(
            "concurrency",
            self.concurrency as f64,
            1,
            crate::input::MAX_CONCURRENCY,
        )?;
        crate::input::int_option(
            "max_attempts",
            f64::from(self.max_attempts),
            1,
            u64::from(u32::MAX),
        )?;
        if let Some(at) = self.not_before_ms {
            crate::input::unix_ms_option("not_before_ms", at)?;
        }
        Ok(())
    }
}

/// A row this run is sending.
struct Sending {
    /// Claims of it under way (a row whose lease ran out may be claimed again by this run
    /// while its first send is still finishing).
    n: usize,
    /// Until when its lease is known to hold: the claim, or the last renewal that renewed
    /// it, plus the lease (measured from before the call).
    until: Instant,
}

/// What the result of one send means for the ledger.
enum Outcome {
    Accepted(String),
    Unknown,
    Retry(Duration),
    /// Certainly not sent (no send slot, or the connection never opened; `true` for the
    /// latter): try again after the delay without counting an attempt, and pause claiming
    /// meanwhile ([`Hold`]). An outage of the governor's store or of the network then holds
    /// the run instead of failing, for good, every recipient it reaches.
    NotSent(Duration, bool),
    /// Withdrawn after its send slot was granted, because the run was paused or stopped
    /// meanwhile: back to pending at once, no attempt counted, no hold.
    Withdrawn,
    Failed(ErrorCode, Option<i64>),
}

fn classify(result: Result<crate::client::SendResponse>, attempts_left: bool) -> Outcome {
    match result {
        Ok(r) => match r.message_id() {
            Some(id) => Outcome::Accepted(id.to_string()),
            None => Outcome::Unknown,
        },
        Err(e) => {
            let code = e.code();
            let delay = e.retry_after().unwrap_or(Duration::from_secs(1));
            match code {
                ErrorCode::OutcomeUnknown => Outcome::Unknown,
                // Spam rate limit (quality): never repeated automatically.
                _ if e.api_code() == Some(131048) => Outcome::Failed(code, e.api_code()),
                // Refused by this process's governor (no status: no request), or no
                // connection: the request was never written.
                ErrorCode::Connection => Outcome::NotSent(delay, true),
                ErrorCode::RateLimited if e.status().is_none() => Outcome::NotSent(delay, false),
                // Refused before processing by a rate limit, or a transient error:
                // safe to try again later.
                ErrorCode::RateLimited | ErrorCode::Transient if attempts_left => {
                    Outcome::Retry(delay)
                }
                _ => Outcome::Failed(code, e.api_code()),
            }
        }
    }
}

/// An error that says nothing about the one recipient but about the campaign or the
/// account (the key refused, the template missing, the account blocked or unpaid): every
/// other recipient would be refused alike. The run ends with it and the row goes back to
/// pending without counting an attempt, so a run started once it is fixed sends everyone.
/// (Marked `failed`, one such error failed every recipient for good, one refused request
/// each, and the run still ended as complete.) Not the template errors that may depend on
/// one row's values (132005 text too long, 132007 format policy, 132012 parameter format),
/// which would stop every later run at the same row.
fn halts_campaign(e: &Error) -> bool {
    match e.code() {
        ErrorCode::Authentication
        | ErrorCode::Permission
        | ErrorCode::Payment
        | ErrorCode::Account
        | ErrorCode::Configuration => true,
        // Parameter count does not match (every row has the same columns), template
        // missing, paused, disabled.
        ErrorCode::Template => matches!(e.api_code(), Some(132000 | 132001 | 132015 | 132016)),
        // The business blocked for policy, the account locked, the display name refused.
        ErrorCode::Policy => matches!(e.api_code(), Some(368 | 131031 | 131037)),
        // The flow the template opens is blocked.
        ErrorCode::Flow => e.api_code() == Some(132068),
        _ => false,
    }
}

/// `e` (see [`halts_campaign`]) with what it did to the run.
fn campaign_error(e: Error) -> Error {
    const ENDED: &str = " (broadcast ended: this concerns the whole campaign, not one \
                         recipient; the recipients not sent stay pending: fix it and run \
                         the broadcast again)";
    match e {
        Error::Api { code, mut error } => {
            error.message.push_str(ENDED);
            Error::Api { code, error }
        }
        Error::Configuration(m) => Error::Configuration(m + ENDED),
        other => other,
    }
}

/// How long an accepted send's record is tried again while the ledger refuses writes.
/// Shorter than the default quiet window (900 s), so another run sends the row again
/// only if the user chose a shorter one.
const RECORD_ACCEPTED_FOR: Duration = Duration::from_secs(600);

/// Record that the API accepted the send to `to` as `wamid`. The message went out: if the
/// ledger never learns it, the row stays in flight, turns `unknown` and is sent again after
/// the quiet window. So a write the ledger refuses for a while (the file locked by another
/// process beyond the busy timeout, a full disk) is tried again, with growing pauses, for
/// up to [`RECORD_ACCEPTED_FOR`]; the error after that says what it leaves behind.
fn record_accepted(ledger: &Ledger, to: &str, wamid: &str) -> Result<()> {
    let until = Instant::now() + RECORD_ACCEPTED_FOR;
    let mut pause = Duration::from_millis(100);
    let mut warned: Option<Instant> = None;
    loop {
        let e = match ledger.mark_accepted(to, wamid) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let text = match e {
            Error::Store(m) => m,
            other => return Err(other),
        };
        if Instant::now() >= until {
            return Err(Error::Store(format!(
                "{text} ({}): the send to {to} was accepted as {wamid} but is not recorded; \
                 resume this campaign only once the ledger takes writes, or that recipient \
                 is sent to again after the quiet window",
                ledger.path().display()
            )));
        }
        if warned.is_none_or(|w| w.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!(
                target: "wa360::broadcast",
                error = %text,
                "the ledger refused to record an accepted send: trying again (the message went out)"
            );
            warned = Some(Instant::now());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// A run's pause for sends that could not go out at all (the governor's store or the
/// network is down): until when nothing is claimed, and the spell of such sends.
struct Hold {
    /// How long a spell may last (`BroadcastOptions::max_outage`).
    max_spell: Duration,
    /// Until when (Unix ms) nothing is claimed.
    until_ms: AtomicI64,
    /// When the last send that could not go out failed (Unix ms), 0 when there is no spell.
    last_ms: AtomicI64,
    /// How long the spell has lasted (ms): the time between its failed sends, each gap
    /// counted up to the longest pause of the spell plus the failed send's own time (and a
    /// second). Not the time since its first failure: a run with nothing to claim for a
    /// while (every row waiting for its retry time, or for the statuses of its `unknown`
    /// rows) tries no send, and that time is no outage.
    spent_ms: AtomicI64,
    /// The longest pause a failed send of this spell imposed (ms).
    pause_ms: AtomicI64,
    /// Pauses in this spell (a connection's pause doubles with each: 1 s, 2 s, … 60 s).
    pauses: AtomicU32,
}

impl Hold {
    fn new(max_spell: Duration) -> Self {
        Hold {
            max_spell,
            until_ms: AtomicI64::new(0),
            last_ms: AtomicI64::new(0),
            spent_ms: AtomicI64::new(0),
            pause_ms: AtomicI64::new(0),
            pauses: AtomicU32::new(0),
        }
    }

    /// How long claiming still waits, in ms (0 or less: not held).
    fn remaining_ms(&self) -> i64 {
        self.until_ms.load(Ordering::SeqCst) - now_ms()
    }

    /// A send could not go out (`delay`: its own retry delay; `no_connection`: the
    /// connection never opened, else the governor refused; `tried`: how long the send
    /// took to fail). Pauses claiming and returns `true`; `false` once such sends have
    /// gone on for `max_spell`: the run then ends.
    fn not_sent(&self, delay: Duration, no_connection: bool, tried: Duration) -> bool {
        let now = now_ms();
        let last = self.last_ms.swap(now, Ordering::SeqCst);
        let started = last == 0;
        let spent = if started {
            0
        } else {
            let most = self
                .pause_ms
                .load(Ordering::SeqCst)
                .saturating_add(ms(tried))
                .saturating_add(1000);
            let gap = (now - last).clamp(0, most);
            self.spent_ms.fetch_add(gap, Ordering::SeqCst) + gap
        };
        if spent > ms(self.max_spell) {
            return false;
        }
        let pause = if no_connection {
            // One more doubling per pause, not per send: the sends of one wave fail together.
            let n = if now >= self.until_ms.load(Ordering::SeqCst) {
                self.pauses.fetch_add(1, Ordering::SeqCst)
            } else {
                self.pauses.load(Ordering::SeqCst).saturating_sub(1)
            };
            delay
                .max(Duration::from_secs(1 << n.min(6)))
                .min(Duration::from_secs(60))
        } else {
            // The governor's own delay may be one recipient's back-off (up to 4^6 s): that
            // recipient waits it out (its retry time), the run only pauses.
            delay.min(Duration::from_secs(1))
        };
        if started {
            tracing::warn!(
                target: "wa360::broadcast",
                hold_ms = pause.as_millis() as u64,
                "broadcast held: a send could not go out (no send slot from the governor, or no connection); it is tried again without counting an attempt"
            );
        }
        // The longest pause of the spell: a governor refusal's short one, among a connection
        // outage's long ones, must not shorten how much of the outage counts.
        self.pause_ms.fetch_max(ms(pause), Ordering::SeqCst);
        self.until_ms
            .fetch_max(now.saturating_add(ms(pause)), Ordering::SeqCst);
        true
    }

    /// A send went out: the spell is over.
    fn sent(&self) {
        self.reset();
    }

    /// The run is paused or waits for its start time: no send is tried meanwhile, so that
    /// time is no outage (a send failing after a long pause would otherwise end the run at
    /// once, without the hold `max_outage` gives).
    fn reset(&self) {
        self.last_ms.store(0, Ordering::SeqCst);
        self.spent_ms.store(0, Ordering::SeqCst);
        self.pause_ms.store(0, Ordering::SeqCst);
        self.pauses.store(0, Ordering::SeqCst);
    }
}

/// Aborts the lease renewal of a run when the run ends or is dropped.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run a ledger step (SQLite with fsync) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("ledger task: {e}")))?
}

impl Client {
    /// Send `campaign` through this client (and its governor), recording every step in
    /// `ledger`; see [`crate::broadcast`]. Returns when every recipient is `accepted` or
    /// `failed`, or on a stop request. Running it again on the same ledger resumes; on a
    /// ledger paused by [`Ledger::pause`] the run waits for [`Ledger::resume`]. A stop by
    /// `options.control` (Ctrl-C) ends this run only: runs in other processes go on. A
    /// client without per-number pacing sends the campaign at the default pace (80
    /// messages/s per number), never unpaced.
    pub async fn broadcast(
        &self,
        campaign: &Campaign,
        ledger: &Ledger,
        options: BroadcastOptions,
    ) -> Result<Summary> {
        options.validate()?;
        if ledger.campaign_id() != campaign.id() {
            return Err(Error::invalid(
                "ledger",
                format!(
                    "belongs to campaign {}, not {}",
                    ledger.campaign_id(),
                    campaign.id()
                ),
            ));
        }
        // Paced even on a client without a governor (the default pacing, see
        // `Client::paced_for_broadcast`).
        let paced = self.paced_for_broadcast()?;
        let start = Instant::now();
        // This run's name among the live runs of the ledger (several processes may run
        // one campaign; see `Ledger::end_run`).
        let run = ledger::owner_name();
        // Before the quiet windows restart below: a suspend from then on shows at the first
        // look.
        let mut clock = crate::util::ClockWatch::new();
        {
            let (l, run) = (ledger.clone(), Arc::clone(&run));
            let nb = options.not_before_ms;
            blocking(move || {
                l.begin_run(&run)?;
                let set_up = l.restart_quiet_windows().and_then(|()| match nb {
                    Some(_) => l.set_not_before(nb),
                    None => Ok(()),
                });
                if let Err(e) = &set_up {
                    // Begun: ended as any run that fails (best effort, as below).
                    let _ = l.leave_run(&run, &e.to_string());
                }
                set_up
            })
            .await?;
        }
        // The rows this run is sending, their leases renewed in the background until the
        // run ends or is dropped (a cancelled run's rows then run out of lease and become
        // `unknown`, as a crashed one's do).
        // (A row whose lease ran out may be claimed again by this run while its first send
        // is still finishing: counted per claim.)
        let sending: Arc<std::sync::Mutex<HashMap<String, Sending>>> = Arc::default();
        let lease = ledger.lease();
        let _renewal = Renewal(tokio::spawn({
            let (ledger, sending, run) = (ledger.clone(), Arc::clone(&sending), Arc::clone(&run));
            async move {
                let every = lease / 5;
                loop {
                    tokio::time::sleep(every).await;
                    let rows: Vec<String> = lock(&sending).keys().cloned().collect();
                    let (l, run) = (ledger.clone(), Arc::clone(&run));
                    let asked = Instant::now();
                    // A failed renewal is tried again at the next tick; only the rows it
                    // renewed are known to be held longer.
                    if let Ok(renewed) = blocking(move || l.renew(Some(&run), &rows)).await {
                        let mut sending = lock(&sending);
                        for to in renewed {
                            if let Some(s) = sending.get_mut(&to) {
                                s.until = s.until.max(asked + lease);
                            }
                        }
                    }
                }
            }
        }));
        // Whether a pause or stop of the campaign (the ledger, any process) holds this run,
        // watched in the background: a send granted its slot asks it, and the run's own
        // control, just before the request (`go` below), so that sends already waiting for
        // a slot when the operator pauses or stops do not go out.
        let held_by_ledger = Arc::new(AtomicBool::new(false));
        let _watch = Renewal(tokio::spawn({
            let (ledger, held) = (ledger.clone(), Arc::clone(&held_by_ledger));
            async move {
                loop {
                    let l = ledger.clone();
                    if let Ok(state) = blocking(move || l.run_state()).await {
                        held.store(state == "paused" || state == "stopped", Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }));
        // Set by a send refused for the whole campaign ([`halts_campaign`]): the sends
        // waiting for a slot are withdrawn, and no more rows are claimed.
        let halted = Arc::new(AtomicBool::new(false));
        let go: Arc<dyn Fn() -> bool + Send + Sync> = {
            let (control, held) = (options.control.clone(), Arc::clone(&held_by_ledger));
            let halted = Arc::clone(&halted);
            Arc::new(move || {
                control.get() == RUN
                    && !held.load(Ordering::SeqCst)
                    && !halted.load(Ordering::SeqCst)
            })
        };
        let template = Arc::new((
            campaign.template().to_string(),
            campaign.language().to_string(),
        ));
        // Set at this run's first accepted send. Until then the run sends one message at a
        // time: a refused key or a missing template (see [`halts_campaign`]) costs one
        // refused request, not one per slot (each written before the first refusal came
        // back), and a slow API does not widen that.
        let opened = Arc::new(AtomicBool::new(false));
        let sem = Arc::new(tokio::sync::Semaphore::new(options.concurrency));
        let accepted_run = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let hold = Arc::new(Hold::new(options.max_outage));
        let mut tasks = tokio::task::JoinSet::new();
        let mut last_progress: Option<Instant> = None;
        let mut last_poll = Instant::now() - Duration::from_secs(1);
        let mut external = String::from("running");
        let mut stopped = false;
        // Stopped by this run's own control (not by the ledger's `stop`).
        let mut stopped_here = false;
        let report =
            |phase: &'static str, counts: StateCounts, force: bool, last: &mut Option<Instant>| {
                let Some(cb) = &options.progress else { return };
                if !force && last.is_some_and(|t| t.elapsed() < options.progress_interval) {
                    return;
                }
                *last = Some(Instant::now());
                let elapsed = start.elapsed().as_secs_f64();
                let acc = accepted_run.load(Ordering::SeqCst);
                let rate = if elapsed > 0.0 {
                    acc as f64 / elapsed
                } else {
                    0.0
                };
                let left = counts.pending + counts.unknown + counts.in_flight;
                let eta = (rate > 0.0).then(|| left as f64 / rate);
                cb(&Progress {
                    counts,
                    accepted_this_run: acc,
                    elapsed_secs: elapsed,
                    rate,
                    eta_secs: eta,
                    phase,
                });
            };
        let mut not_before: Option<i64> = None;
        let due = |last: &Option<Instant>| {
            options.progress.is_some()
                && last.is_none_or(|t| t.elapsed() >= options.progress_interval)
        };
        // The claim loop. An error in it (the ledger locked or the disk full) ends the run,
        // but only after the sends in flight (below).
        let looped: Result<()> = async {
            loop {
                // Reap finished sends.
                while let Some(r) = tasks.try_join_next() {
                    r.map_err(|e| Error::Internal(format!("broadcast task: {e}")))??;
                }
                // Twice a second: stop / pause requests from other processes (the ledger), the
                // schedule, and unknown sends whose quiet window has passed.
                if last_poll.elapsed() >= Duration::from_millis(500) {
                    last_poll = Instant::now();
                    let l = ledger.clone();
                    let window = options.unknown_window;
                    // The quiet windows of `unknown` rows are wall-clock times in the ledger
                    // (shared by processes): a suspend longer than the window released them
                    // for a second send at once, before the statuses held back meanwhile
                    // could arrive. The windows are measured up to this look, so a suspend
                    // after it releases nothing before the next look has seen it.
                    let (jump, looked) = clock.look();
                    let jumped = jump > 0;
                    let (state, nb) = blocking(move || {
                        if jumped {
                            // Suspended (or the clock set forward): the statuses of the
                            // `unknown` rows could not arrive meanwhile, here or at a
                            // receiver on this machine, and come again only now. Their quiet
                            // windows start again, as when a run starts.
                            l.restart_quiet_windows()?;
                        }
                        l.release_quiet_unknowns_as_of(window, looked)?;
                        Ok((l.run_state()?, l.not_before()?))
                    })
                    .await?;
                    external = state;
                    not_before = nb;
                }
                if halted.load(Ordering::SeqCst) {
                    // The error comes with its send's task, below.
                    break;
                }
                let ctl = options.control.get();
                if ctl == STOP || external == "stopped" {
                    stopped = true;
                    stopped_here = external != "stopped";
                    break;
                }
                if ctl == PAUSE || external == "paused" {
                    hold.reset();
                    if due(&last_progress) {
                        let l = ledger.clone();
                        let counts = blocking(move || l.counts()).await?;
                        report("paused", counts, false, &mut last_progress);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                if let Some(nb) = not_before {
                    // Saturating: a start time stored by an older version may be any i64.
                    let wait = nb.saturating_sub(now_ms());
                    if wait > 0 {
                        hold.reset();
                        if due(&last_progress) {
                            let l = ledger.clone();
                            let counts = blocking(move || l.counts()).await?;
                            report("scheduled", counts, false, &mut last_progress);
                        }
                        tokio::time::sleep(Duration::from_millis(wait.min(200) as u64)).await;
                        continue;
                    }
                }
                let held = hold.remaining_ms();
                if held > 0 {
                    tokio::time::sleep(Duration::from_millis(held.min(200) as u64)).await;
                    continue;
                }
                if !opened.load(Ordering::SeqCst) && !tasks.is_empty() {
                    // The first send of the run is still out (or a row before it was
                    // refused, or went unanswered): wait for it (see `opened`).
                    if let Some(r) = tasks.join_next().await {
                        r.map_err(|e| Error::Internal(format!("broadcast task: {e}")))??;
                    }
                    continue;
                }
                let permit = match Arc::clone(&sem).try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        // All slots busy: wait for one send to finish.
                        if let Some(r) = tasks.join_next().await {
                            r.map_err(|e| Error::Internal(format!("broadcast task: {e}")))??;
                        }
                        continue;
                    }
                };
                let l = ledger.clone();
                let sending_now = Arc::clone(&sending);
                let claimed = blocking(move || {
                    let until = Instant::now() + lease;
                    let row = l.claim_next()?;
                    if let Some((to, _, _)) = &row {
                        let mut sending = lock(&sending_now);
                        let s = sending.entry(to.clone()).or_insert(Sending { n: 0, until });
                        s.n += 1;
                        s.until = s.until.max(until);
                    }
                    Ok(row)
                })
                .await?;
                let Some((to, params, attempts)) = claimed else {
                    drop(permit);
                    // Nothing claimable now: finished, waiting for statuses, for sends in
                    // flight, or for a retry time.
                    let l = ledger.clone();
                    let (counts, next) =
                        blocking(move || Ok((l.counts()?, l.next_pending_at()?))).await?;
                    if counts.pending == 0 && counts.in_flight == 0 && tasks.is_empty() {
                        if counts.unknown == 0 {
                            break;
                        }
                        report("waiting_for_statuses", counts, false, &mut last_progress);
                    } else {
                        report("running", counts, false, &mut last_progress);
                    }
                    let wait = next
                        .map(|t| (t - now_ms()).clamp(10, 100) as u64)
                        .unwrap_or(100);
                    tokio::select! {
                        r = tasks.join_next(), if !tasks.is_empty() => {
                            if let Some(r) = r {
                                r.map_err(|e| Error::Internal(format!("broadcast task: {e}")))??;
                            }
                        }
                        _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    }
                    continue;
                };
                if due(&last_progress) {
                    let l = ledger.clone();
                    let counts = blocking(move || l.counts()).await?;
                    report("running", counts, false, &mut last_progress);
                }
                let client = paced.clone();
                let ledger = ledger.clone();
                let key = ledger.key_for(&to);
                let template = Arc::clone(&template);
                let accepted_run = Arc::clone(&accepted_run);
                let max_wait = options.max_wait;
                let max_attempts = options.max_attempts;
                let max_outage = options.max_outage;
                let sending = Arc::clone(&sending);
                let hold = Arc::clone(&hold);
                let halted = Arc::clone(&halted);
                let opened = Arc::clone(&opened);
                // The run's `go`, and this row's lease known to hold a while longer: a run
                // stalled past it (SIGSTOP, a frozen container or VM) must not send a row
                // that another run may have taken and sent since.
                let go = {
                    let (go, sending, to) = (Arc::clone(&go), Arc::clone(&sending), to.clone());
                    move || {
                        go() && lock(&sending)
                            .get(&to)
                            .is_some_and(|s| Instant::now() + lease / 5 < s.until)
                    }
                };
                tasks.spawn(async move {
                    let _permit = permit;
                    let msg = template_message(&template.0, &template.1, &to, &params, &key);
                    let tried = Instant::now();
                    let result = client.send_within_while(&msg, max_wait, &go).await;
                    let tried = tried.elapsed();
                    let (result, halt) = match result {
                        Err(e) if halts_campaign(&e) => {
                            halted.store(true, Ordering::SeqCst);
                            (None, Some(campaign_error(e)))
                        }
                        r => (Some(r), None),
                    };
                    // A local refusal (no request written) while the run is held: the
                    // withdrawn send, or one refused a slot meanwhile. Never a send that may
                    // have gone out (`outcome_unknown` has no status either).
                    let withdrawn = matches!(&result, Some(Err(e))
                        if e.code() == ErrorCode::RateLimited && e.status().is_none())
                        && !go();
                    let outcome = match result {
                        // Refused for the whole campaign: back to pending, as withdrawn.
                        None => Outcome::Withdrawn,
                        Some(_) if withdrawn => Outcome::Withdrawn,
                        Some(result) => classify(result, attempts < max_attempts),
                    };
                    let mut gave_up = halt;
                    match outcome {
                        Outcome::NotSent(d, no_connection) => {
                            if !hold.not_sent(d, no_connection, tried) {
                                // Held for too long (a base URL that never resolves, a store
                                // that stays down): the run ends with an error. The send never
                                // went out, so it is put back without counting an attempt,
                                // as every other one is: a run started once the network or
                                // the store is back sends them. (Counting the attempts failed
                                // every recipient left, for good, within seconds.)
                                // `connection` in both cases (the governor's store is reached
                                // over the network too): the one error a run ends with for an
                                // outage, which a caller can resume on (the CLI exits 3).
                                gave_up = Some(Error::Connection(if no_connection {
                                    format!(
                                        "broadcast ended: no connection to the API for {} s; the recipients not sent stay pending (run the broadcast again)",
                                        max_outage.as_secs_f64()
                                    )
                                } else {
                                    format!(
                                        "broadcast ended: the governor gave no send slot for {} s (its store cannot be reached?); the recipients not sent stay pending (run the broadcast again)",
                                        max_outage.as_secs_f64()
                                    )
                                }));
                            }
                        }
                        Outcome::Accepted(_) => {
                            accepted_run.fetch_add(1, Ordering::SeqCst);
                            opened.store(true, Ordering::SeqCst);
                            hold.sent();
                        }
                        Outcome::Withdrawn => {}
                        _ => hold.sent(),
                    }
                    blocking(move || {
                        let marked = match outcome {
                            Outcome::Accepted(id) => record_accepted(&ledger, &to, &id),
                            Outcome::Unknown => ledger.mark_unknown(&to),
                            Outcome::Retry(d) => ledger.mark_retry(&to, d, true),
                            Outcome::NotSent(d, _) => ledger.mark_retry(&to, d, false),
                            Outcome::Withdrawn => ledger.mark_retry(&to, Duration::ZERO, false),
                            Outcome::Failed(code, api) => {
                                ledger.mark_failed(&to, code.as_str(), api)
                            }
                        };
                        let mut sending = lock(&sending);
                        if let Some(s) = sending.get_mut(&to) {
                            s.n -= 1;
                            if s.n == 0 {
                                sending.remove(&to);
                            }
                        }
                        marked
                    })
                    .await?;
                    gave_up.map_or(Ok(()), Err)
                });
            }
            Ok(())
        }
        .await;
        // Let the sends in flight finish: a stop does not abandon them, and neither does an
        // error. Dropping them would abort requests that may already have gone out, leaving
        // their rows to the quiet window (and a second send) instead of to their answers.
        let mut first_err = looped.err();
        while let Some(r) = tasks.join_next().await {
            let r = r
                .map_err(|e| Error::Internal(format!("broadcast task: {e}")))
                .and_then(|r| r);
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        let ended = match first_err {
            Some(e) => Err(e),
            None => {
                let (l, run) = (ledger.clone(), Arc::clone(&run));
                let accepted = accepted_run.load(Ordering::SeqCst);
                let (id, elapsed) = (campaign.id().to_string(), start.elapsed().as_secs_f64());
                blocking(move || {
                    let counts = l.counts()?;
                    let complete = counts.accepted + counts.failed == counts.total;
                    let summary = Summary {
                        campaign_id: id,
                        counts,
                        accepted_this_run: accepted,
                        elapsed_secs: elapsed,
                        complete,
                        stopped,
                    };
                    let json = serde_json::to_value(&summary)
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    l.end_run(&run, &json, complete, stopped_here)?;
                    Ok(summary)
                })
                .await
            }
        };
        let summary = match ended {
            Ok(s) => s,
            Err(e) => {
                // No longer a live run of the ledger, the campaign `halted` with the error
                // (best effort: the ledger may be what failed). Left listed, it kept a
                // Ctrl-C elsewhere from marking the campaign stopped until its heartbeat
                // aged out; left `running`, the status said a run went on.
                let (l, run, text) = (ledger.clone(), Arc::clone(&run), e.to_string());
                let _ = blocking(move || l.leave_run(&run, &text)).await;
                return Err(e);
            }
        };
        let (counts, complete) = (summary.counts, summary.complete);
        report(
            if complete { "done" } else { "stopped" },
            counts,
            true,
            &mut last_progress,
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A suspend (or a clock set forward) shows as the wall clock moving on past the
    /// monotonic one; a busy loop that looks late does not (both clocks moved).
    #[test]
    fn a_suspend_is_told_from_a_late_look() {
        let mut w = crate::util::ClockWatch::new();
        let (wall, mono) = (w.wall_ms, w.mono);
        assert_eq!(
            w.observe(wall + 30_000, mono + Duration::from_secs(30)),
            0,
            "late"
        );
        let jump = w.observe(wall + 30_000 + 600_000, mono + Duration::from_secs(31));
        assert!((598_000..=600_000).contains(&jump), "suspended: {jump}");
        assert_eq!(
            w.observe(wall + 630_000 - 60_000, mono + Duration::from_secs(32)),
            0,
            "set back"
        );
    }

    /// `max_outage` counts the time sends are tried and fail, not idle time: a run whose
    /// rows all wait (for a retry time, for statuses) tries nothing, and a failure after
    /// that wait must not end it at once. A spell of failures still ends it.
    #[test]
    fn an_outage_is_the_time_sends_fail_not_the_time_nothing_was_tried() {
        let hold = Hold::new(Duration::from_secs(5));
        let fail = |tried_ms| hold.not_sent(Duration::ZERO, true, Duration::from_millis(tried_ms));
        assert!(fail(0));
        // The last failure an hour ago: only the pause it imposed (1 s), this send's own
        // time (2 s) and a second count.
        hold.last_ms.store(now_ms() - 3_600_000, Ordering::SeqCst);
        assert!(fail(2000));
        let spent = hold.spent_ms.load(Ordering::SeqCst);
        assert!((4000..=4100).contains(&spent), "{spent}");
        // A failure one pause later, as a run held by an outage tries it: 2 s more (the
        // 1 s pause and a second), past the 5 s.
        hold.last_ms.store(now_ms() - 3000, Ordering::SeqCst);
        assert!(!fail(0), "past max_outage");
        // A send that goes out ends the spell.
        hold.sent();
        assert!(fail(0));
        // A governor refusal's short pause among a connection outage's long ones does not
        // shorten what the next gap counts.
        let hold = Hold::new(Duration::from_secs(300));
        assert!(hold.not_sent(Duration::ZERO, true, Duration::ZERO));
        hold.pause_ms.store(60_000, Ordering::SeqCst);
        assert!(hold.not_sent(Duration::ZERO, false, Duration::ZERO));
        hold.last_ms.store(now_ms() - 61_000, Ordering::SeqCst);
        assert!(hold.not_sent(Duration::ZERO, true, Duration::ZERO));
        assert!(hold.spent_ms.load(Ordering::SeqCst) >= 61_000);
    }

    fn err(csv: &str) -> (String, String) {
        match Campaign::from_csv("t", "en", csv).unwrap_err() {
            Error::InvalidArgument { field, rule } => (field, rule),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn csv_rows_become_recipients_with_params_in_order() {
        let c = Campaign::from_csv(
            "t",
            "en",
            "to,name,code\n+1 555 555 0123,Maya,X1\n15555550124,Ana,X2\n",
        )
        .unwrap();
        assert_eq!(c.recipients().len(), 2);
        assert_eq!(c.recipients()[0].to, "15555550123");
        assert_eq!(c.recipients()[0].params, vec!["Maya", "X1"]);
        assert_eq!(c.recipients()[1].row, 3);
        assert_eq!(c.id().len(), 16);
        // Same content, same id; different content, different id.
        let id = |csv: &str| Campaign::from_csv("t", "en", csv).unwrap().id().to_string();
        assert_eq!(
            id("to,name,code\n15555550123,Maya,X1\n15555550124,Ana,X2\n"),
            c.id()
        );
        assert_ne!(
            id("to,name,code\n15555550123,Maya,X9\n15555550124,Ana,X2\n"),
            c.id()
        );
    }

    #[test]
    fn bad_csv_is_rejected_naming_row_and_column() {
        // (csv, the field named, a part of the rule; "" where any rule will do)
        for (csv, field, rule) in [
            (
                "to,name\n15555550123,Maya\n12ab,Ana\n",
                "recipients row 3 column 1 (to)",
                "international format",
            ),
            (
                "to,name\n15555550123,Maya\n123,Ana\n",
                "recipients row 3 column 1 (to)",
                "8 to 15 digits",
            ),
            (
                "to,name,code\n15555550123,Maya,X\n15555550124,Ana\n",
                "recipients row 3 column 3 (code)",
                "missing parameter",
            ),
            (
                "to,name\n15555550123,\n",
                "recipients row 2 column 2 (name)",
                "empty",
            ),
            (
                "to,name\n15555550123,A\n+1 555 555 0124,B\n1-555-555-0123,C\n",
                "recipients row 4 column 1 (to)",
                "duplicate recipient 15555550123 (first on row 2)",
            ),
            (
                "phone,name\n15555550123,A\n",
                "recipients row 1 column 1",
                "",
            ),
            (
                "to,name\n15555550123,A,extra\n",
                "recipients row 2 column 3",
                "",
            ),
            ("", "recipients", ""),
            ("to\n", "recipients", ""),
            // A `"` left open: the rows after it would have become one cell, their
            // recipients dropped and their details sent to row 3 as its parameter.
            (
                "to,name\n15555550001,Al\n15555550002,\"Ana\n15555550003,Bo\n15555550004,Cy\n",
                "recipients row 3 column 2 (name)",
                "must not span lines",
            ),
            // A parameter over the limit names its own column, not `to`.
            (
                &format!("to,name,code\n15555550001,Al,{}\n", "x".repeat(32_769)),
                "recipients row 2 column 3 (code)",
                "",
            ),
        ] {
            let (f, r) = err(csv);
            assert_eq!(f, field, "{csv:?}");
            assert!(r.contains(rule), "{csv:?}: {r}");
        }
    }

    /// Rows are numbered by the line they start on in the file, as an editor shows it.
    #[test]
    fn rows_are_numbered_by_their_line_in_the_file() {
        for text in [
            "to,name\n\n15555550001,Al\n\n12ab,Bo\n",
            "to,name\r\n\r\n15555550001,Al\r\n\r\n12ab,Bo\r\n",
            "to,name\r\r15555550001,Al\r\r12ab,Bo\r",
        ] {
            let (f, _) = err(text);
            assert_eq!(f, "recipients row 5 column 1 (to)", "{text:?}");
        }
    }

    #[test]
    fn keys_round_trip() {
        let k = recipient_key("0123abcd0123abcd", "15555550123");
        assert_eq!(k, "wa360:0123abcd0123abcd:15555550123");
        assert_eq!(parse_key(&k), Some(("0123abcd0123abcd", "15555550123")));
        assert_eq!(parse_key("order-4471"), None);
    }

    #[test]
    fn ledger_url_forms() {
        assert_eq!(
            ledger_path("sqlite:///tmp/a.db").unwrap(),
            std::path::PathBuf::from("/tmp/a.db")
        );
        assert_eq!(
            ledger_path("/var/lib/a.db").unwrap(),
            std::path::PathBuf::from("/var/lib/a.db")
        );
        // A relative path is another file in each working directory: a rerun from
        // elsewhere would open a new ledger and send to everyone again.
        for rel in ["sqlite://a.db", "a.db", "./a.db"] {
            let e = ledger_path(rel).unwrap_err();
            assert_eq!(e.field(), Some("ledger"), "{rel}");
            assert!(e.to_string().contains("absolute"), "{e}");
        }
        assert_eq!(
            ledger_path("redis://x").unwrap_err().field(),
            Some("ledger")
        );
    }
}
