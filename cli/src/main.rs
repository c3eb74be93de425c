//! `wa360` — the command line of the wa360 WhatsApp SDK (360dialog Cloud API).
//!
//! Exit codes: 0 success, 1 an API/network/runtime error, 2 bad input
//! (usage errors, invalid messages, invalid webhook bodies).
#![forbid(unsafe_code)]

mod broadcast;
mod inbox;
mod loadgen;
mod logging;
mod manage;
mod receiver;
mod send_body;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use wa360::client::Client;
use wa360::retry::RetryClass;
use wa360::webhook::registration::{
    PHONE_WEBHOOK_PATH, WABA_WEBHOOK_PATH, WebhookSettings, validate_webhook_url,
};

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
    Sandbox(SandboxArgs),
    /// Send a message (or a read receipt / typing indicator).
    Send(SendArgs),
    /// Set or read the webhook registration.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Parse a webhook body and print its events as canonical JSON, one per line.
    Parse(ParseArgs),
    /// Ask a running sandbox to deliver a simulated inbound message to the
    /// registered webhook (`POST /_sandbox/inbound`).
    SimulateInbound(SimulateArgs),
    /// Send a template to every recipient of a CSV: paced, resumable, never twice.
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
    #[arg(long, env = "WA360_BASE_URL", default_value = wa360::config::DEFAULT_BASE_URL)]
    base_url: String,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

#[derive(Args, Debug)]
struct SandboxArgs {
    /// Port on 127.0.0.1 (0 = a free random port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Accept http://127.0.0.1:<port> and http://localhost:<port> webhook URLs
    /// (the real API requires HTTPS without a port).
    #[arg(long)]
    allow_http_callbacks: bool,
    /// Multiply every delay (status webhooks, retry back-off) by this factor;
    /// 0.01 makes them 100× faster.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Use this API key instead of a random one.
    #[arg(long, env = "WA360_SANDBOX_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Also write `WA360_BASE_URL=…` and `D360_API_KEY=…` lines to this file once listening.
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// Refuse sends past N messages/s per number with Meta code 130429 (off by default).
    #[arg(long, value_name = "N")]
    max_mps: Option<f64>,
    /// Refuse a send to the same recipient sooner than MS milliseconds after the last one
    /// with Meta code 131056 (off by default; see --pair-burst).
    #[arg(long, value_name = "MS")]
    pair_interval_ms: Option<u64>,
    /// Sends to one recipient allowed in a burst before --pair-interval-ms applies.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pair_burst: u32,
    /// Refuse API requests past N/s with 360dialog's HTTP 400 "endpoint rate limit" (off by default).
    #[arg(long, value_name = "N")]
    endpoint_rps: Option<f64>,
}

#[derive(Args, Debug)]
struct SendArgs {
    #[command(flatten)]
    api: ApiOpts,
    #[command(subcommand)]
    what: SendCmd,
}

/// Options every message has.
#[derive(Args, Debug, Clone)]
struct Common {
    /// Recipient phone number (international format) or BSUID (e.g. US.1234…).
    #[arg(long)]
    to: String,
    /// Quote this message (wamid) as a reply.
    #[arg(long)]
    reply_to: Option<String>,
    /// `biz_opaque_callback_data`, echoed back on status webhooks.
    #[arg(long)]
    callback_data: Option<String>,
}

#[derive(Args, Debug, Clone)]
struct MediaSrc {
    /// Media id from an upload (digits).
    #[arg(long, conflicts_with = "link", required_unless_present = "link")]
    id: Option<String>,
    /// Public http(s) URL of the file.
    #[arg(long)]
    link: Option<String>,
}

#[derive(Subcommand, Debug)]
enum SendCmd {
    /// A text message.
    Text {
        #[command(flatten)]
        common: Common,
        /// The text (1..4096 characters).
        body: String,
        /// Render a link preview for the first URL.
        #[arg(long)]
        preview_url: bool,
    },
    /// An image (JPEG/PNG) by media id or link.
    Image {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        src: MediaSrc,
        /// Caption (≤ 1024).
        #[arg(long)]
        caption: Option<String>,
    },
    /// A video by media id or link.
    Video {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        src: MediaSrc,
        /// Caption (≤ 1024).
        #[arg(long)]
        caption: Option<String>,
    },
    /// An audio file by media id or link (no caption).
    Audio {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        src: MediaSrc,
    },
    /// A document by media id or link.
    Document {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        src: MediaSrc,
        /// Caption (≤ 1024).
        #[arg(long)]
        caption: Option<String>,
        /// File name shown to the user.
        #[arg(long)]
        filename: Option<String>,
    },
    /// A sticker (WebP) by media id or link.
    Sticker {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        src: MediaSrc,
    },
    /// A location pin.
    Location {
        #[command(flatten)]
        common: Common,
        /// Latitude in [-90, 90].
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude in [-180, 180].
        #[arg(long, allow_hyphen_values = true)]
        lng: f64,
        /// Place name.
        #[arg(long)]
        name: Option<String>,
        /// Address.
        #[arg(long)]
        address: Option<String>,
    },
    /// A reaction to a message (an empty --emoji removes it).
    Reaction {
        #[command(flatten)]
        common: Common,
        /// The wamid reacted to.
        #[arg(long)]
        message_id: String,
        /// One emoji, or "" to remove the reaction.
        #[arg(long)]
        emoji: String,
    },
    /// An approved template with positional body parameters.
    Template {
        #[command(flatten)]
        common: Common,
        /// Template name.
        #[arg(long)]
        name: String,
        /// Language code, e.g. en_US.
        #[arg(long)]
        language: String,
        /// A body parameter (repeat in order: --param 4471 --param Maya).
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// Interactive reply buttons (1..3).
    InteractiveButtons {
        #[command(flatten)]
        common: Common,
        /// Body text.
        #[arg(long)]
        body: String,
        /// A button as id=title (repeat up to 3 times).
        #[arg(long = "button", required = true)]
        buttons: Vec<String>,
        /// Header text (≤ 60).
        #[arg(long)]
        header: Option<String>,
        /// Footer text (≤ 60).
        #[arg(long)]
        footer: Option<String>,
    },
    /// An interactive list with one section.
    InteractiveList {
        #[command(flatten)]
        common: Common,
        /// Body text.
        #[arg(long)]
        body: String,
        /// Label of the button that opens the list (≤ 20).
        #[arg(long)]
        button: String,
        /// A row as id=title or id=title=description (repeat, ≤ 10).
        #[arg(long = "row", required = true)]
        rows: Vec<String>,
        /// Section title.
        #[arg(long)]
        section: Option<String>,
    },
    /// A call-to-action URL button.
    CtaUrl {
        #[command(flatten)]
        common: Common,
        /// Body text.
        #[arg(long)]
        body: String,
        /// Button label (≤ 20).
        #[arg(long)]
        display_text: String,
        /// The URL opened.
        #[arg(long)]
        url: String,
    },
    /// Mark an inbound message as read.
    MarkRead {
        /// The inbound wamid.
        message_id: String,
    },
    /// Show a typing indicator (also marks the message read).
    Typing {
        /// The inbound wamid.
        message_id: String,
    },
    /// Send a message described in wa360's neutral JSON format (the format
    /// the Python and Node packages accept), from a file or `-` for stdin.
    Json {
        /// Path to the JSON file, or `-` for stdin.
        file: String,
    },
}

#[derive(Subcommand, Debug)]
enum WebhookCmd {
    /// Register the webhook URL (replaces the previous one).
    Set {
        #[command(flatten)]
        api: ApiOpts,
        /// The HTTPS callback URL (no `_` in the host, no port).
        url: String,
        /// Set the WABA-level webhook instead of the phone-number-level one.
        #[arg(long)]
        waba: bool,
        /// Send `Authorization: Basic …` with every delivery (user:pass).
        #[arg(long, value_name = "USER:PASS")]
        basic_auth: Option<String>,
        /// Another header sent with every delivery (repeatable), as K=V.
        #[arg(long = "header", value_name = "K=V")]
        headers: Vec<String>,
        /// Allow http://127.0.0.1 / http://localhost URLs (only a sandbox
        /// started with --allow-http-callbacks accepts them).
        #[arg(long)]
        allow_local_http: bool,
    },
    /// Print the registered webhook URL.
    Get {
        #[command(flatten)]
        api: ApiOpts,
        /// Read the WABA-level webhook instead of the phone-number-level one.
        #[arg(long)]
        waba: bool,
    },
}

#[derive(Args, Debug)]
struct ParseArgs {
    /// The webhook body: a file path, or `-` (default) for stdin.
    #[arg(default_value = "-")]
    file: String,
}

#[derive(Args, Debug)]
struct SimulateArgs {
    #[command(flatten)]
    api: ApiOpts,
    /// Sender phone number.
    #[arg(long, default_value = "15555550123")]
    from: String,
    /// Sender profile name.
    #[arg(long)]
    name: Option<String>,
    /// Text of the simulated message.
    #[arg(long, conflicts_with = "json", required_unless_present = "json")]
    text: Option<String>,
    /// Any inbound description accepted by `POST /_sandbox/inbound`
    /// (see sandbox/README.md), as inline JSON.
    #[arg(long)]
    json: Option<String>,
}

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
        let code = if e.code() == wa360::ErrorCode::InvalidArgument {
            2
        } else {
            1
        };
        let mut message = format!("{} ({})", e, e.code());
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
        Command::Sandbox(a) => run_sandbox(a).await,
        Command::Send(a) => run_send(a).await,
        Command::Webhook(w) => run_webhook(w).await,
        Command::Parse(p) => run_parse(p),
        Command::SimulateInbound(s) => run_simulate(s).await,
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

/// The builder behind [`make_client`], for commands that add settings (a governor).
fn client_builder(api: &ApiOpts) -> Result<wa360::config::ClientBuilder, Failure> {
    if !(api.timeout.is_finite() && api.timeout > 0.0) {
        return Err(Failure::input(
            "--timeout must be a positive number of seconds",
        ));
    }
    let key = std::env::var("D360_API_KEY").unwrap_or_default();
    if key.is_empty() {
        return Err(Failure::input(
            "D360_API_KEY is not set (export your 360dialog API key, or the key printed by `wa360 sandbox`)",
        ));
    }
    Ok(Client::builder()
        .api_key(key)
        .base_url(&api.base_url)
        .timeout(std::time::Duration::from_secs_f64(api.timeout))
        .user_agent_suffix("wa360-cli"))
}

async fn run_sandbox(a: SandboxArgs) -> CliResult {
    if !(a.time_scale.is_finite() && a.time_scale > 0.0) {
        return Err(Failure::input("--time-scale must be a positive number"));
    }
    let mut b = wa360_sandbox::Sandbox::builder()
        .port(a.port)
        .allow_http_callbacks(a.allow_http_callbacks)
        .time_scale(a.time_scale);
    let mut limits = wa360_sandbox::Limits::none();
    limits.messages_per_second = a.max_mps;
    limits.endpoint_rps = a.endpoint_rps;
    if let Some(ms) = a.pair_interval_ms {
        limits = limits.pair_rate(ms, a.pair_burst);
    }
    if let Err(e) = limits.check() {
        return Err(Failure::input(format!("sandbox limit {e}")));
    }
    b = b.limits(limits);
    if let Some(k) = a.api_key {
        b = b.api_key(k);
    }
    let sb = b
        .start()
        .await
        .map_err(|e| Failure::runtime(format!("cannot start the sandbox: {e}")))?;
    if let Some(path) = &a.env_file {
        let text = format!(
            "WA360_BASE_URL={}\nD360_API_KEY={}\n",
            sb.url(),
            sb.api_key()
        );
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    println!("wa360 sandbox listening on {}", sb.url());
    println!("export WA360_BASE_URL={}", sb.url());
    println!("export D360_API_KEY={}", sb.api_key());
    println!(
        "http callbacks: {}; time scale: {}; control routes: {}/_sandbox/… (see sandbox/README.md)",
        if a.allow_http_callbacks {
            "allowed for 127.0.0.1/localhost"
        } else {
            "refused (https only)"
        },
        a.time_scale,
        sb.url()
    );
    println!("press Ctrl-C to stop");
    wait_for_signal().await;
    sb.shutdown().await;
    println!("wa360 sandbox stopped");
    Ok(())
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

fn split_pair<'a>(s: &'a str, what: &str) -> Result<(&'a str, &'a str), Failure> {
    s.split_once('=')
        .ok_or_else(|| Failure::input(format!("{what} {s:?} must look like id=title")))
}

fn read_input(file: &str) -> Result<Vec<u8>, Failure> {
    if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::runtime(format!("cannot read stdin: {e}")))?;
        Ok(buf)
    } else {
        std::fs::read(file).map_err(|e| Failure::input(format!("cannot read {file}: {e}")))
    }
}

async fn run_send(a: SendArgs) -> CliResult {
    // Validate before touching the network (and before requiring a key).
    let body = send_body::send_body(&a.what)?;
    let client = make_client(&a.api)?;
    let is_status = body.get("status").is_some();
    if is_status {
        let id = body
            .get("message_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if body.get("typing_indicator").is_some() {
            client.typing(id).await?;
        } else {
            client.mark_read(id).await?;
        }
        println!("{}", json!({"success": true}));
        return Ok(());
    }
    let resp = client.send_body(body).await?;
    let out = serde_json::to_string(&resp)
        .map_err(|e| Failure::runtime(format!("cannot print the response: {e}")))?;
    println!("{out}");
    Ok(())
}

async fn run_webhook(w: WebhookCmd) -> CliResult {
    match w {
        WebhookCmd::Set {
            api,
            url,
            waba,
            basic_auth,
            headers,
            allow_local_http,
        } => {
            let mut settings = WebhookSettings::new(url.clone());
            if let Some(ba) = basic_auth {
                let (user, pass) = ba
                    .split_once(':')
                    .ok_or_else(|| Failure::input("--basic-auth must look like user:password"))?;
                settings = settings.basic_auth(user, pass);
            }
            for h in &headers {
                let (k, v) = h.split_once('=').ok_or_else(|| {
                    Failure::input(format!("--header {h:?} must look like Name=value"))
                })?;
                settings = settings.header(k, v);
            }
            let local = allow_local_http && is_local_http(&url);
            if local {
                // The URL rules are the real API's; a local http receiver is
                // only for a sandbox started with --allow-http-callbacks.
                // Check everything but the URL.
                let mut probe = settings.clone();
                probe.url = "https://localhost.invalid/".into();
                probe.validate()?;
            } else {
                validate_webhook_url(&url).map_err(|e| {
                    let mut f = Failure::from(e);
                    if is_local_http(&url) {
                        f.message
                            .push_str(" (for a local sandbox receiver pass --allow-local-http)");
                    }
                    f
                })?;
                settings.validate()?;
            }
            let client = make_client(&api)?;
            let path = if waba {
                WABA_WEBHOOK_PATH
            } else {
                PHONE_WEBHOOK_PATH
            };
            let answer = client
                .request_json(
                    reqwest::Method::POST,
                    path,
                    Some(&settings.to_body()),
                    RetryClass::Idempotent,
                )
                .await?;
            let shown = answer.get("url").and_then(Value::as_str).unwrap_or(&url);
            println!(
                "{}",
                json!({"level": if waba {"waba"} else {"phone"}, "url": shown, "headers": settings.headers.keys().collect::<Vec<_>>()})
            );
            Ok(())
        }
        WebhookCmd::Get { api, waba } => {
            let client = make_client(&api)?;
            let got = if waba {
                client.webhooks().get_waba().await?
            } else {
                client.webhooks().get_phone().await?
            };
            match got {
                Some(s) => {
                    println!(
                        "{}",
                        json!({"level": if waba {"waba"} else {"phone"}, "url": s.url})
                    );
                    Ok(())
                }
                None => Err(Failure::runtime(format!(
                    "no {} webhook is set",
                    if waba {
                        "WABA-level"
                    } else {
                        "phone-number-level"
                    }
                ))),
            }
        }
    }
}

fn is_local_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://127.0.0.1", "http://localhost"].iter().any(|p| {
        lower
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/', '?']))
    })
}

fn run_parse(p: ParseArgs) -> CliResult {
    let body = read_input(&p.file)?;
    let events = wa360::webhook::parse(&body).map_err(|e| {
        let mut f = Failure::from(e);
        f.code = 2;
        f
    })?;
    let mut out = String::new();
    for ev in &events {
        let line = serde_json::to_string(&ev.to_canonical())
            .map_err(|e| Failure::runtime(format!("cannot print an event: {e}")))?;
        out.push_str(&line);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

async fn run_simulate(s: SimulateArgs) -> CliResult {
    let mut desc = match (&s.json, &s.text) {
        (Some(j), _) => serde_json::from_str::<Value>(j)
            .map_err(|e| Failure::input(format!("--json is not valid JSON: {e}")))?,
        (None, Some(t)) => json!({"from": s.from, "type": "text", "text": {"body": t}}),
        (None, None) => return Err(Failure::input("give --text or --json")),
    };
    if let (Some(n), Some(o)) = (&s.name, desc.as_object_mut()) {
        o.insert("name".into(), json!(n));
    }
    let url = format!("{}/_sandbox/inbound", s.api.base_url.trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .post(&url)
        .timeout(std::time::Duration::from_secs_f64(s.api.timeout.max(0.1)))
        .json(&desc)
        .send()
        .await
        .map_err(|e| Failure::runtime(format!("cannot reach the sandbox at {url}: {e}")))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unexpected answer");
        return Err(Failure::runtime(format!(
            "the sandbox refused the inbound message (HTTP {status}): {msg}"
        )));
    }
    println!(
        "{}",
        json!({"message_ids": v["message_ids"], "webhook_url": v["webhook_url"]})
    );
    Ok(())
}
