//! `wa360` — the command line of the wa360 WhatsApp SDK (360dialog Cloud API).
//!
//! Exit codes: 0 success, 1 an API/network/runtime error, 2 bad input
//! (usage errors, invalid messages, invalid webhook bodies).
//!
//! This file is the clap definition, the dispatch and the helpers every subcommand shares
//! (API options, client, failures, input, signals); each subcommand lives in its own file.
#![forbid(unsafe_code)]

/// `println!` for every line the CLI prints on stdout. When the reader has gone
/// (`wa360 … | head`), `println!` panics (exit 101 and a panic message); this
/// ends the process quietly with 0 instead, as a command killed by SIGPIPE
/// would have stopped. (Restoring SIGPIPE's default needs `unsafe`, which this
/// crate forbids.) Any other write error is reported and exits 1.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(e)
        }
    }};
}

/// `print!` with the same handling of a closed stdout as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = write!(stdout, $($arg)*).and_then(|()| stdout.flush()) {
            $crate::stdout_failed(e)
        }
    }};
}

/// Ends the process after a failed write to stdout (see [`outln!`]).
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("wa360: cannot write to stdout: {e}");
    std::process::exit(1);
}

mod broadcast;
mod inbox;
mod loadgen;
mod logging;
mod manage;
mod parse;
mod receiver;
mod sandbox;
mod send;
mod simulate;
mod webhook;

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use wa360::client::Client;

/// wa360 — send WhatsApp messages through 360dialog, manage webhooks, parse
/// webhook bodies, and run a local 360dialog sandbox.
///
/// The API key is read from `D360_API_KEY`, the base URL from
/// `WA360_BASE_URL` (default https://waba-v2.360dialog.io). Point both at a
/// running `wa360 sandbox` to try everything locally.
#[derive(Parser, Debug)]
#[command(name = "wa360", version, propagate_version = true)]
struct Cli {
    /// Log what wa360 does on stderr: -v one line per request, -vv retries and webhook
    /// details, -vvv everything. Secrets never appear.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the local 360dialog emulator until Ctrl-C / SIGTERM.
    Sandbox(sandbox::SandboxArgs),
    /// Send a message (or a read receipt / typing indicator).
    Send(send::SendArgs),
    /// Set or read the webhook registration.
    #[command(subcommand)]
    Webhook(webhook::WebhookCmd),
    /// Parse a webhook body and print its events as canonical JSON, one per line.
    Parse(parse::ParseArgs),
    /// Ask a running sandbox to deliver a simulated inbound message to the
    /// registered webhook (`POST /_sandbox/inbound`).
    SimulateInbound(simulate::SimulateArgs),
    /// Send a template to every recipient of a CSV: paced and resumable.
    ///
    /// A recipient is sent again only when its outcome stayed unknown (a lost answer) past
    /// --unknown-window; feed its status with --listen or `broadcast apply-status` to settle it.
    Broadcast(broadcast::BroadcastArgs),
    /// Message templates: list, get, create, delete.
    #[command(subcommand)]
    Templates(manage::TemplatesCmd),
    /// The business profile: get, set.
    #[command(subcommand)]
    Profile(manage::ProfileCmd),
    /// Blocked users: list, add, remove.
    #[command(subcommand)]
    Block(manage::BlockCmd),
    /// Check the key, the number's health, the webhook settings and the URL rules.
    Doctor(manage::DoctorArgs),
    /// Open-loop load generator for webhook receivers (used by `make bench`).
    #[command(hide = true)]
    BenchReceiver(loadgen::LoadArgs),
    /// Look after a durable webhook inbox: stats, dead letters, replay, drop, prune.
    Inbox(inbox::InboxArgs),
    /// A small echo-bot webhook receiver used by `make demo`.
    #[command(hide = true)]
    DemoReceiver(receiver::ReceiverArgs),
}

/// Connection options shared by the commands that call the API.
#[derive(Args, Debug, Clone)]
struct ApiOpts {
    /// Base URL of the API (or of a local sandbox).
    #[arg(
        long,
        env = "WA360_BASE_URL",
        default_value = wa360::config::DEFAULT_BASE_URL,
        global = true
    )]
    base_url: String,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 30.0, global = true)]
    timeout: f64,
}

/// Options every message has.
/// A CLI failure: message and exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn input(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    fn runtime(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<wa360::Error> for Failure {
    fn from(e: wa360::Error) -> Self {
        // Bad input, a bad option (`--base-url`, a missing key) included, is 2.
        let code = match e.code() {
            wa360::ErrorCode::InvalidArgument | wa360::ErrorCode::Configuration => 2,
            _ => 1,
        };
        let mut message = e.to_string();
        // The server's reason (`error_data.details`, cleaned of secrets like the message)
        // often says what Meta's message does not ("… already exists in de").
        if let Some(d) = e
            .details()
            .filter(|d| !d.is_empty() && !message.contains(*d))
        {
            message.push_str(&format!(": {d}"));
        }
        message.push_str(&format!(" ({})", e.code()));
        if let Some(api) = e.api_code() {
            message.push_str(&format!(" [api code {api}]"));
        }
        Failure { code, message }
    }
}

type CliResult = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wa360: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("wa360: error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Sandbox(a) => sandbox::run_sandbox(a).await,
        Command::Send(a) => send::run_send(a).await,
        Command::Webhook(w) => webhook::run_webhook(w).await,
        Command::Parse(p) => parse::run_parse(p),
        Command::SimulateInbound(s) => simulate::run_simulate(s).await,
        Command::DemoReceiver(r) => receiver::run(r).await,
        Command::Broadcast(b) => broadcast::run(b).await,
        Command::Templates(c) => manage::run_templates(c).await,
        Command::Profile(c) => manage::run_profile(c).await,
        Command::Block(c) => manage::run_block(c).await,
        Command::Doctor(a) => manage::run_doctor(a).await,
        Command::Inbox(a) => inbox::run(a),
        Command::BenchReceiver(a) => loadgen::run(a).await,
    }
}

/// Build a client from the environment (`D360_API_KEY`) and options.
fn make_client(api: &ApiOpts) -> Result<Client, Failure> {
    Ok(client_builder(api)?.build()?)
}

/// A `--flag` number of seconds, read by the core's rule for waiting times
/// (finite, 0 to one year: a huge value is an input error, never a panic in
/// `Duration`); zero only where `allow_zero`.
pub(crate) fn seconds_arg(flag: &str, v: f64, allow_zero: bool) -> Result<Duration, Failure> {
    let d = wa360::input::wait_s_option(&format!("--{flag}"), v)?;
    if d.is_zero() && !allow_zero {
        return Err(Failure::input(format!(
            "--{flag} must be a positive number of seconds"
        )));
    }
    Ok(d)
}

/// The builder behind [`make_client`], for commands that add settings (a governor).
fn client_builder(api: &ApiOpts) -> Result<wa360::config::ClientBuilder, Failure> {
    let timeout = seconds_arg("timeout", api.timeout, false)?;
    let key = std::env::var("D360_API_KEY").unwrap_or_default();
    if key.is_empty() {
        return Err(Failure::input(
            "D360_API_KEY is not set (export your 360dialog API key, or the key printed by `wa360 sandbox`)",
        ));
    }
    // An empty WA360_BASE_URL (a `.env` template left blank) means the default.
    let base_url = match api.base_url.trim() {
        "" => wa360::config::DEFAULT_BASE_URL,
        url => url,
    };
    Ok(Client::builder()
        .api_key(key)
        .base_url(base_url)
        .timeout(timeout)
        .user_agent_suffix("wa360-cli"))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The text of `file` (`-`: stdin), read as [`read_input`] reads it.
fn read_text(file: &str) -> Result<String, Failure> {
    String::from_utf8(read_input(file)?).map_err(|_| {
        Failure::input(format!(
            "cannot read {file}: stream did not contain valid UTF-8"
        ))
    })
}

/// The bytes of `file`, or of stdin for `-`.
/// Most bytes an input file or stdin may hold (a webhook body, a message, a template):
/// read up to it and refused past it, so `/dev/zero` or a wrong file never fills memory.
const MAX_INPUT: u64 = 16 << 20;

fn read_input(file: &str) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let (name, read) = if file == "-" {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            // Otherwise the command seems to hang: it is waiting for input.
            eprintln!("wa360: reading from the terminal; paste the body, then Ctrl-D");
        }
        let read = std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::runtime(format!("cannot read stdin: {e}")));
        ("stdin", read)
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Failure::input(format!("cannot read {file}: {e}")))?;
        let read = f
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::input(format!("cannot read {file}: {e}")));
        (file, read)
    };
    read?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(Failure::input(format!(
            "{name} holds more than {} MiB: not a webhook body, message or template",
            MAX_INPUT >> 20
        )));
    }
    Ok(buf)
}
