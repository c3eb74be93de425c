//! `wa360 broadcast`: a template campaign from a CSV, paced by the governor, recorded in a
//! SQLite ledger so that a rerun resumes it and nobody gets the message twice.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use wa360::broadcast::{BroadcastOptions, Campaign, Ledger, Progress, StateCounts, ledger_path};
use wa360::governor::GovernorConfig;
use wa360::webhook::verify::Verifier;

use crate::{ApiOpts, CliResult, Failure, client_builder, read_text, seconds_arg, wait_for_signal};

const AFTER_HELP: &str = "\
The CSV's header row is `to` followed by one column per body parameter, in order:

  to,name,order
  +15555550123,Maya,A-4471
  +15555550124,Ana,A-4472

Every row is checked before anything is sent (number format, a value for every parameter
column, no duplicate recipient); an error names the row and the column.

The ledger (sqlite:///PATH) records each recipient: pending, in_flight, accepted (wamid),
failed (code) or unknown. Run the same command again to resume: accepted recipients are
never sent again. A send whose outcome is unknown (crash, lost answer) carries the key
wa360:<campaign>.<ledger mark>:<number> in biz_opaque_callback_data and waits for a status webhook with
that key (--listen, or `wa360 broadcast apply-status`); only if none arrives within
--unknown-window is it sent again. A ledger of another campaign is refused.

Ctrl-C stops this process after its sends in flight; another process running the same
ledger goes on. `wa360 broadcast pause|resume|stop --ledger …` controls every run of the
campaign from another shell (a run started while paused waits for resume); `status` prints
the counts.

Exit status: 0 every recipient accepted or failed; 3 stopped, waiting, or ended by an
outage of 10 minutes with no connection (resume later); 2 bad input (nothing sent); 1 other
errors.";

/// Options of `wa360 broadcast`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true, after_help = AFTER_HELP)]
pub(crate) struct BroadcastArgs {
    #[command(subcommand)]
    cmd: Option<BroadcastCmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    api: ApiOpts,
    /// Template name (approved in your WhatsApp account).
    #[arg(long, required = true, value_name = "NAME")]
    template: Option<String>,
    /// Template language code, e.g. en_US.
    #[arg(long, required = true, value_name = "CODE")]
    lang: Option<String>,
    /// CSV file: header `to,<param1>,<param2>,…`, one recipient per row.
    #[arg(long, required = true, value_name = "FILE.csv")]
    recipients: Option<PathBuf>,
    /// The campaign's ledger: sqlite:///PATH (created on the first run).
    #[arg(long, required = true, value_name = "sqlite:///PATH")]
    ledger: Option<String>,
    /// Messages per second for this business number (Meta's default tier is 80). Each
    /// process paces alone unless they share --governor-store.
    #[arg(long, default_value_t = 80.0, value_name = "N")]
    mps: f64,
    /// A Redis governor store (redis://…, rediss://…) shared by every process sending from
    /// this number: --mps and --pair-interval then hold for all of them together (the
    /// shards of one campaign, other campaigns, apps using wa360 with the same store and
    /// number name: --governor-number). Also read from WA360_GOVERNOR_STORE, which keeps a
    /// password out of `ps`.
    #[arg(
        long,
        env = "WA360_GOVERNOR_STORE",
        hide_env_values = true,
        value_name = "redis://…"
    )]
    governor_store: Option<String>,
    /// The business number's name in the governor store (the bindings' governor option
    /// `number`): processes sending from one number share it, another number needs its own.
    #[arg(long, default_value = "default", value_name = "NAME")]
    governor_number: String,
    /// Seconds between two sends to the same recipient (Meta's pair rate: about 6; 0 = off).
    #[arg(long, default_value_t = 6.0, value_name = "SECONDS")]
    pair_interval: f64,
    /// Sends in flight at once (one until the first is accepted).
    #[arg(long, default_value_t = 16, value_name = "N")]
    concurrency: usize,
    /// Seconds an unknown send waits for a status webhook before it is sent again.
    #[arg(long, default_value_t = 900.0, value_name = "SECONDS")]
    unknown_window: f64,
    /// Attempts per recipient for failures that certainly sent nothing.
    #[arg(long, default_value_t = 5, value_name = "N")]
    max_attempts: u32,
    /// Seconds sends may fail to go out at all (no connection, no governor slot) before the
    /// run ends, leaving them pending (exit 3); the time between such sends counts, not
    /// time with nothing to send.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    max_outage: f64,
    /// Start no earlier than this many seconds from now (kept in the ledger).
    #[arg(long, value_name = "SECONDS", conflicts_with = "start_at")]
    start_in: Option<f64>,
    /// Start no earlier than this Unix time in seconds (kept in the ledger).
    #[arg(long, value_name = "UNIX_SECONDS")]
    start_at: Option<i64>,
    /// Receive status webhooks on this address while running (e.g. 127.0.0.1:8080) and
    /// settle unknown sends with them; register http(s)://<host>/webhook with 360dialog.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Require `Authorization: Basic …` with these credentials on --listen deliveries.
    /// `ps` shows command-line arguments to other users: prefer the environment variable
    /// WA360_BROADCAST_BASIC_AUTH (read with --listen only).
    #[arg(long, value_name = "USER:PASS", requires = "listen")]
    basic_auth: Option<String>,
    /// No progress bar or progress lines (the summary is still printed).
    #[arg(long)]
    no_progress: bool,
}

#[derive(Subcommand, Debug)]
enum BroadcastCmd {
    /// Print the counts per state and the last run's summary.
    Status(LedgerArg),
    /// Ask a running broadcast to pause (sends in flight finish).
    Pause(LedgerArg),
    /// Let a paused broadcast go on.
    Resume(LedgerArg),
    /// Ask a running broadcast to stop after the sends in flight (rerun to resume).
    Stop(LedgerArg),
    /// Put the failed recipients back to pending, for the next run to send.
    RetryFailed(LedgerArg),
    /// Apply status webhooks to the ledger: webhook POST bodies, one JSON document per
    /// line (or one document), from a file or stdin.
    ApplyStatus {
        #[command(flatten)]
        ledger: LedgerArg,
        /// File with webhook bodies, or `-` for stdin.
        #[arg(default_value = "-")]
        file: String,
    },
}

#[derive(Args, Debug)]
struct LedgerArg {
    /// The campaign's ledger: sqlite:///PATH.
    #[arg(long, value_name = "sqlite:///PATH")]
    ledger: String,
}

pub(crate) async fn run(a: BroadcastArgs) -> CliResult {
    match a.cmd {
        None => run_campaign(a.run).await,
        Some(cmd) => run_cmd(cmd),
    }
}

fn open_existing(l: &LedgerArg) -> Result<Ledger, Failure> {
    Ok(Ledger::open_existing(ledger_path(&l.ledger)?)?)
}

/// Ask the campaign running on the ledger to pause, resume or stop.
fn request(l: &LedgerArg, ask: fn(&Ledger) -> wa360::Result<()>, what: &str) -> CliResult {
    ask(&open_existing(l)?)?;
    outln!("{what} requested");
    Ok(())
}

fn run_cmd(cmd: BroadcastCmd) -> CliResult {
    match cmd {
        BroadcastCmd::Status(l) => {
            let ledger = open_existing(&l)?;
            print_counts(&ledger.counts()?);
            outln!("run state: {}", ledger.run_state()?);
            if let Some(e) = ledger.last_error()? {
                outln!("last run ended with: {e}");
            }
            if let Some(s) = ledger.summary()? {
                outln!("last summary: {s}");
            }
            Ok(())
        }
        BroadcastCmd::Pause(l) => request(&l, Ledger::pause, "pause"),
        BroadcastCmd::Resume(l) => request(&l, Ledger::resume, "resume"),
        BroadcastCmd::Stop(l) => request(&l, Ledger::stop, "stop"),
        BroadcastCmd::RetryFailed(l) => {
            let n = open_existing(&l)?.retry_failed()?;
            outln!("{n} failed recipient(s) back to pending: run the broadcast again to send them");
            Ok(())
        }
        BroadcastCmd::ApplyStatus { ledger, file } => {
            let ledger = open_existing(&ledger)?;
            let text = read_text(&file)?;
            let trimmed = text.trim();
            let mut settled = 0;
            if trimmed.starts_with('{')
                && trimmed.lines().count() > 1
                && serde_json::from_str::<serde_json::Value>(trimmed).is_ok()
            {
                settled += ledger.apply_webhook(trimmed.as_bytes())?;
            } else {
                for (i, line) in trimmed.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    settled += ledger.apply_webhook(line.as_bytes()).map_err(|e| {
                        Failure::input(format!("line {}: {e} ({})", i + 1, e.code()))
                    })?;
                }
            }
            outln!("settled {settled} recipient(s)");
            print_counts(&ledger.counts()?);
            Ok(())
        }
    }
}

fn print_counts(c: &StateCounts) {
    outln!(
        "recipients {}: accepted {}, failed {}, unknown {}, pending {}, in_flight {}",
        c.total,
        c.accepted,
        c.failed,
        c.unknown,
        c.pending,
        c.in_flight
    );
}

struct Hook {
    ledger: Ledger,
    verifier: Option<Verifier>,
}

async fn hook(State(s): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if let Some(v) = &s.verifier {
        let pairs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        if v.verify(&pairs, &body).is_err() {
            return StatusCode::UNAUTHORIZED;
        }
    }
    let ledger = s.ledger.clone();
    match tokio::task::spawn_blocking(move || ledger.apply_webhook(&body)).await {
        Ok(Ok(_)) => StatusCode::OK,
        Ok(Err(e)) if e.code() == wa360::ErrorCode::WebhookPayload => StatusCode::BAD_REQUEST,
        // Not stored: let 360dialog deliver it again.
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn run_campaign(a: RunArgs) -> CliResult {
    let (Some(template), Some(lang), Some(csv_path), Some(ledger_url)) =
        (a.template, a.lang, a.recipients, a.ledger)
    else {
        return Err(Failure::input(
            "--template, --lang, --recipients and --ledger are required",
        ));
    };
    if !(a.mps.is_finite() && (wa360::governor::MIN_RATE..=1_000_000.0).contains(&a.mps)) {
        return Err(Failure::input(
            "--mps must be a number from 0.001 to 1000000",
        ));
    }
    let pair = seconds_arg("pair-interval", a.pair_interval, true)?;
    let window = seconds_arg("unknown-window", a.unknown_window, false)?;
    let max_outage = seconds_arg("max-outage", a.max_outage, false)?;
    let path = ledger_path(&ledger_url)?;
    // A relative path is refused by `ledger_path` (the rule is the core's, for every front end).
    let text = std::fs::read_to_string(&csv_path)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", csv_path.display())))?;
    // Everything is checked before the ledger is touched or anything is sent.
    let campaign = Campaign::from_csv(&template, &lang, &text)?;
    // --start-in counts from now by the core's rule (`BroadcastOptions::starting_in`).
    let start_in = a
        .start_in
        .map(|s| seconds_arg("start-in", s, true))
        .transpose()?;
    let not_before_ms = a
        .start_at
        .map(|t| wa360::input::unix_ms_option("--start-at", t.saturating_mul(1000)))
        .transpose()?;
    let governor = GovernorConfig::default()
        .number(a.governor_number.clone())
        .messages_per_second(a.mps)
        .pair_rate((!pair.is_zero()).then_some(pair), 1)
        .max_wait(Duration::from_secs(60));
    // Named by its flag, as the other options are (the core names `governor_store`).
    let flag = |e: wa360::Error| match e {
        wa360::Error::InvalidArgument { field, rule } => Failure::input(format!(
            "{}: {rule}",
            field
                .replace("governor_store", "--governor-store")
                .replace("governor.number", "--governor-number")
        )),
        other => Failure::from(other),
    };
    let mut builder = client_builder(&a.api)?.governor(governor);
    if let Some(url) = a.governor_store.as_deref().filter(|u| !u.is_empty()) {
        builder = builder.governor_store(wa360::governor::open_store(url).map_err(flag)?);
    }
    let client = builder.build().map_err(flag)?;
    // The run's own options, by the core's rules but named by their flags.
    wa360::input::int_option(
        "--concurrency",
        a.concurrency as f64,
        1,
        wa360::input::MAX_CONCURRENCY,
    )?;
    wa360::input::int_option(
        "--max-attempts",
        f64::from(a.max_attempts),
        1,
        u64::from(u32::MAX),
    )?;
    // The flag, or with --listen the environment (kept out of `ps`).
    let basic_auth = a.basic_auth.clone().or_else(|| {
        a.listen
            .as_ref()
            .and_then(|_| std::env::var("WA360_BROADCAST_BASIC_AUTH").ok())
            .filter(|v| !v.is_empty())
    });
    let verifier = crate::receiver::basic_auth_verifier(basic_auth.as_deref())?;
    // The address is checked and bound before the ledger is made: a bad one leaves no file.
    let listener = match &a.listen {
        Some(addr) => {
            use std::net::ToSocketAddrs;
            if addr.as_str().to_socket_addrs().is_err() {
                return Err(Failure::input(format!(
                    "--listen must be an address such as 127.0.0.1:8080 (got {addr:?})"
                )));
            }
            Some(
                tokio::net::TcpListener::bind(addr.as_str())
                    .await
                    .map_err(|e| Failure::runtime(format!("cannot listen on {addr}: {e}")))?,
            )
        }
        None => None,
    };
    let resumed = path.exists();
    let ledger = Ledger::open(&path, &campaign)?;
    if ledger.run_state()? == "paused" {
        eprintln!(
            "the campaign is paused: this run waits for `wa360 broadcast resume --ledger sqlite://{}`",
            path.display()
        );
    }

    if let Some(listener) = listener {
        let state = Arc::new(Hook {
            ledger: ledger.clone(),
            verifier,
        });
        let app = axum::Router::new()
            .route("/webhook", axum::routing::post(hook))
            .with_state(state);
        eprintln!(
            "receiving status webhooks on http://{}/webhook",
            listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default()
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }

    let counts = ledger.counts()?;
    outln!(
        "campaign {} ({}/{}): {} recipients, ledger {} ({})",
        campaign.id(),
        campaign.template(),
        campaign.language(),
        campaign.recipients().len(),
        path.display(),
        if resumed {
            format!("resumed: {} accepted so far", counts.accepted)
        } else {
            "new".to_string()
        }
    );
    let show = !a.no_progress;
    let bar = progress_bar(campaign.recipients().len() as u64, show);
    let opts = BroadcastOptions {
        concurrency: a.concurrency,
        unknown_window: window,
        max_attempts: a.max_attempts,
        max_outage,
        not_before_ms,
        progress: Some(progress_fn(
            bar.clone(),
            show,
            a.listen.is_none().then_some(window),
        )),
        progress_interval: Duration::from_millis(if bar.is_hidden() { 1000 } else { 100 }),
        ..BroadcastOptions::default()
    };
    let opts = match start_in {
        Some(d) => opts.starting_in(d),
        None => opts,
    };
    let control = opts.control.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!(
            "stopping after the sends in flight (run the same command again to resume; \
             interrupt again to exit at once)"
        );
        control.stop();
        // A second signal: the user will not wait (an API that hangs holds a send up to
        // --timeout). What is in flight is left as a crash leaves it: `unknown` after its
        // lease, settled by a status webhook or sent again after the quiet window.
        wait_for_signal().await;
        eprintln!("exiting now: the sends in flight are left to their status webhooks");
        std::process::exit(3);
    });
    let summary = match client.broadcast(&campaign, &ledger, opts).await {
        Ok(s) => s,
        // An outage (no connection to the API or to the governor's store) ended the run,
        // the rest still pending: 3, "resume later", as an unfinished run. A ledger error
        // (`store`: a deleted or replaced file, a full disk) stays 1: running again is not
        // the answer to it.
        Err(e) if e.code() == wa360::ErrorCode::Connection => {
            bar.finish_and_clear();
            let mut f = Failure::from(e);
            f.code = 3;
            return Err(f);
        }
        Err(e) => return Err(e.into()),
    };
    bar.finish_and_clear();
    let c = summary.counts;
    print_counts(&c);
    outln!(
        "this run: {} accepted in {:.1} s ({:.1} msg/s){}",
        summary.accepted_this_run,
        summary.elapsed_secs,
        if summary.elapsed_secs > 0.0 {
            summary.accepted_this_run as f64 / summary.elapsed_secs
        } else {
            0.0
        },
        if summary.stopped { "; stopped" } else { "" }
    );
    if summary.complete {
        Ok(())
    } else {
        Err(Failure {
            code: 3,
            message: "the campaign is not finished: run the same command again to resume".into(),
        })
    }
}

fn progress_bar(total: u64, show: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The progress bar on a terminal; one plain line a second otherwise (logs, CI).
/// `unknown_window`: with no `--listen`, the quiet window, for the one warning when a send
/// first has an unknown outcome (nothing in this process can settle it).
fn progress_fn(
    bar: ProgressBar,
    show: bool,
    unknown_window: Option<Duration>,
) -> wa360::broadcast::ProgressFn {
    let plain = show && (bar.is_hidden() || !std::io::stderr().is_terminal());
    let warned = std::sync::atomic::AtomicBool::new(false);
    Arc::new(move |p: &Progress| {
        let c = p.counts;
        if let Some(w) = unknown_window
            && c.unknown > 0
            && !warned.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            bar.suspend(|| {
                eprintln!(
                    "warning: {} send(s) have an unknown outcome (the answer was lost); without \
                     their status webhooks (--listen, or `wa360 broadcast apply-status` from \
                     your receiver) they are sent again after --unknown-window ({} s), and a \
                     message that did go out then arrives twice",
                    c.unknown,
                    w.as_secs_f64()
                )
            });
        }
        let eta = p
            .eta_secs
            .map(|s| format!("{s:.0}s"))
            .unwrap_or_else(|| "?".into());
        let msg = format!(
            "{:.1} msg/s, ETA {eta} | accepted {} failed {} unknown {} pending {} in_flight {} | {}",
            p.rate, c.accepted, c.failed, c.unknown, c.pending, c.in_flight, p.phase
        );
        if plain {
            eprintln!("progress: {}/{} {msg}", c.accepted + c.failed, c.total);
        } else {
            bar.set_position(c.accepted + c.failed);
            bar.set_message(msg);
        }
    })
}
