//! The public JS object shapes (`#[napi(object)]`): every option object a
//! method accepts and every plain object it resolves to, in one reviewable
//! place. napi generates their TypeScript interfaces in `index.d.ts` from here;
//! the glue that fills or reads them stays with its class (`client.rs`, …).

use std::collections::HashMap;

use napi_derive::napi;
use serde_json::Value;

// ---- Client: options, send answers, metrics (`client.rs`) ----

/// Options of `new Client(options)`. (Declared for the TypeScript types; the
/// constructor reads the object through its own properties only, rejects
/// unknown keys and range-checks every number, see `own::options`.)
#[napi(object)]
#[allow(dead_code)]
pub struct ClientOptions {
    /// The 360dialog API key of the channel; falls back to `D360_API_KEY`.
    pub api_key: Option<String>,
    /// Base URL (default `https://waba-v2.360dialog.io`); point it at a sandbox in tests.
    pub base_url: Option<String>,
    /// Time allowed for one request attempt, answer included, in ms (default 30000).
    pub timeout_ms: Option<u32>,
    /// Time allowed to open a connection, in ms (default 10000).
    pub connect_timeout_ms: Option<u32>,
    /// Maximum retries of a retryable failure (default 2; 0 disables retries; at most 100).
    pub max_retries: Option<u32>,
    /// Pace sends (per-number token bucket, per-recipient pair rate); off by default.
    pub governor: Option<GovernorOptions>,
}

/// One recipient of a send answer.
#[napi(object)]
pub struct SendContact {
    /// The recipient as sent.
    pub input: String,
    /// WhatsApp's normalised id (absent when sending to a BSUID).
    pub wa_id: Option<String>,
    /// The business-scoped user id, when present.
    pub user_id: Option<String>,
}

/// One accepted message of a send answer.
#[napi(object)]
pub struct SentMessage {
    /// The message id (`wamid.…`), the key of later status webhooks.
    pub id: String,
    /// `accepted`, `held_for_quality_assessment`, `paused`, … when present.
    pub message_status: Option<String>,
}

/// The answer to a send: "accepted", not "delivered" (statuses arrive as webhooks).
#[napi(object)]
pub struct SendResponse {
    /// The id of the first accepted message.
    pub message_id: Option<String>,
    /// Recipients as WhatsApp understood them.
    pub contacts: Vec<SendContact>,
    /// The accepted messages (usually one).
    pub messages: Vec<SentMessage>,
}

/// A client's metrics at one moment (`client.metrics()`).
#[napi(object)]
pub struct ClientMetrics {
    /// Finished requests (after retries) by outcome: `ok` or an error code; non-zero only.
    pub requests: HashMap<String, f64>,
    /// Repeated attempts by reason (`rate_limited`, `transient`, `not_sent`, `timeout`,
    /// `interrupted`, `server_error`); non-zero only.
    pub retries: HashMap<String, f64>,
    /// Time of each `POST /messages` call (sends, mark read, typing), retries included.
    pub send_latency: LatencyHistogram,
}

/// A latency histogram with cumulative buckets (as in Prometheus).
#[napi(object)]
pub struct LatencyHistogram {
    /// Number of observations.
    pub count: f64,
    /// Sum of all observations, in seconds.
    pub sum_seconds: f64,
    /// Cumulative buckets; the last one is unbounded (no `le`) and counts everything.
    pub buckets: Vec<LatencyBucket>,
}

/// One cumulative histogram bucket.
#[napi(object)]
pub struct LatencyBucket {
    /// Upper bound in seconds; null for the last, unbounded bucket.
    pub le: Option<f64>,
    /// Observations at or below `le`.
    pub count: f64,
}

/// The printable description of a client (no secrets).
#[napi(object)]
pub struct ClientDescription {
    /// The base URL requests go to.
    pub base_url: String,
}

// ---- Sending (`messages.rs`) ----

/// Options shared by every send helper (each helper also takes its own, see
/// its signature). Unknown keys are rejected.
#[napi(object)]
#[allow(dead_code)]
pub struct SendOptions {
    /// Reply to this message (`context.message_id`).
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data`: comes back in the status webhooks.
    pub callback_data: Option<String>,
}

// ---- Media (`media.rs`) ----

/// The answer of a media look-up. The `url` is valid for 5 minutes. What prints
/// (`console.log`, `util.inspect`) leaves out `url` and `sha256`.
#[napi(object)]
pub struct MediaInfo {
    /// Download URL (use `downloadMedia` / `downloadMediaUrl`, which apply the host rule).
    pub url: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mime_type: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size in bytes, when known.
    pub file_size: Option<f64>,
    /// The media id.
    pub id: String,
}

// ---- Management: templates, profile, health, blocked users, media cache (`manage.rs`) ----

/// A listed template (either list call, get, find or create).
#[napi(object)]
pub struct TemplateInfo {
    /// Template id (as a string), when known.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Category, e.g. `MARKETING`.
    pub category: Option<String>,
    /// Status as sent: `APPROVED`, `PENDING`, `REJECTED`, …
    pub status: Option<String>,
    /// Why it was rejected.
    #[napi(js_name = "rejected_reason")]
    pub rejected_reason: Option<String>,
    /// Quality score, when sent.
    #[napi(js_name = "quality_score")]
    pub quality_score: Option<String>,
    /// `POSITIONAL` / `NAMED`, when sent.
    #[napi(js_name = "parameter_format")]
    pub parameter_format: Option<String>,
    /// Components (Meta's template-creation format).
    pub components: Vec<Value>,
}

/// One answer of a template list call, read by `parseTemplateList`.
#[napi(object)]
pub struct TemplatePageInfo {
    /// `waba_templates` or `data`.
    pub shape: String,
    /// The templates.
    pub templates: Vec<TemplateInfo>,
    /// Cursor of the next page (Graph shape, only when there is one).
    pub after: Option<String>,
    /// `total` / `count` (360dialog shape), when sent.
    pub total: Option<f64>,
}

/// The business profile.
#[napi(object)]
pub struct BusinessProfile {
    /// "About" text.
    pub about: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Contact email.
    pub email: Option<String>,
    /// URL of the profile picture.
    #[napi(js_name = "profile_picture_url")]
    pub profile_picture_url: Option<String>,
    /// Websites.
    pub websites: Vec<String>,
    /// Industry.
    pub vertical: Option<String>,
}

/// One problem of a health entity.
#[napi(object)]
pub struct HealthError {
    /// Meta's error code.
    #[napi(js_name = "error_code")]
    pub error_code: Option<f64>,
    /// What is wrong.
    #[napi(js_name = "error_description")]
    pub error_description: Option<String>,
    /// What to do.
    #[napi(js_name = "possible_solution")]
    pub possible_solution: Option<String>,
}

/// The health of one entity.
#[napi(object)]
pub struct HealthEntity {
    /// `PHONE_NUMBER`, `WABA`, `BUSINESS`, `APP`, …
    #[napi(js_name = "entity_type")]
    pub entity_type: String,
    /// Its id.
    pub id: Option<String>,
    /// `AVAILABLE`, `LIMITED` or `BLOCKED`.
    #[napi(js_name = "can_send_message")]
    pub can_send_message: String,
    /// Problems.
    pub errors: Vec<HealthError>,
    /// Extra notes.
    #[napi(js_name = "additional_info")]
    pub additional_info: Vec<String>,
}

/// `GET /health_status`.
#[napi(object)]
pub struct HealthStatus {
    /// Overall `AVAILABLE`, `LIMITED` or `BLOCKED`.
    #[napi(js_name = "can_send_message")]
    pub can_send_message: String,
    /// Per entity.
    pub entities: Vec<HealthEntity>,
}

/// Whether the key works and the number can send.
#[napi(object)]
pub struct HealthCheck {
    /// The key was accepted.
    #[napi(js_name = "key_ok")]
    pub key_ok: bool,
    /// The number can send (`AVAILABLE` or `LIMITED`).
    #[napi(js_name = "can_send")]
    pub can_send: bool,
    /// Overall status, when the key worked.
    pub status: Option<String>,
    /// One line per problem.
    pub problems: Vec<String>,
}

/// A blocked (or just blocked / unblocked) user.
#[napi(object)]
pub struct BlockedUser {
    /// What was sent.
    pub input: Option<String>,
    /// WhatsApp id.
    #[napi(js_name = "wa_id")]
    pub wa_id: Option<String>,
}

/// The users a block or unblock call changed.
#[napi(object)]
pub struct BlockResult {
    /// Users blocked (block) or unblocked (unblock).
    pub users: Vec<BlockedUser>,
}

/// The media id to send, and whether it came from the cache.
#[napi(object)]
pub struct CachedUpload {
    /// The media id.
    #[napi(js_name = "media_id")]
    pub media_id: String,
    /// True when no upload was made.
    pub reused: bool,
}

// ---- Webhooks: verifier and registration (`webhook.rs`) ----

/// Options of `new Verifier(options)`: at least one check. Every configured
/// check must pass. (Declared for the TypeScript types; the constructor reads
/// the object through the core's neutral form, which rejects unknown keys.)
#[napi(object)]
#[allow(dead_code)]
pub struct VerifierOptions {
    /// Expect `Authorization: Basic base64(user:password)`.
    pub basic_auth: Option<BasicAuth>,
    /// Expect each of these headers with exactly this value (constant-time compare).
    pub headers: Option<HashMap<String, String>>,
    /// Expect a valid `X-Hub-Signature-256` made with this app secret (direct Meta webhooks).
    pub app_secret: Option<String>,
}

/// User and password of a Basic auth check.
#[napi(object)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

/// Options of `setWebhook`. (Declared for the TypeScript types; read through
/// own properties, unknown keys rejected.)
#[napi(object)]
#[allow(dead_code)]
pub struct SetWebhookOptions {
    /// Custom headers 360dialog sends with each delivery (e.g. `Authorization`).
    pub headers: Option<HashMap<String, String>>,
    /// Set the WABA-level webhook instead of the phone-number-level one.
    pub waba: Option<bool>,
}

/// Options of `getWebhook`. (Declared for the TypeScript types.)
#[napi(object)]
#[allow(dead_code)]
pub struct GetWebhookOptions {
    /// Read the WABA-level webhook instead of the phone-number-level one.
    pub waba: Option<bool>,
}

/// A registered webhook. Header values are secrets and are not returned.
#[napi(object)]
pub struct WebhookInfo {
    /// The callback URL.
    pub url: String,
    /// Names of the custom headers sent with each delivery.
    pub header_names: Vec<String>,
}

// ---- Inbox and receiver (`inbox.rs`) ----

/// Counts of what an inbox holds.
#[napi(object)]
pub struct InboxStats {
    /// Waiting to be claimed (including waiting for a retry).
    pub ready: f64,
    /// Claimed by a consumer right now.
    pub in_flight: f64,
    /// Dead letters.
    pub dead: f64,
    /// Acknowledged since the store was created.
    pub handled: f64,
    /// Deliveries recognised as duplicates since the store was created.
    pub duplicates: f64,
    /// Status updates dropped by the fold since the store was created.
    pub stale: f64,
    /// Dedupe keys remembered.
    pub keys: f64,
}

/// A dead letter (the event as canonical JSON text; `Inbox.dead()` parses it).
#[napi(object)]
pub struct DeadLetterJson {
    /// The entry's id.
    pub id: String,
    /// The event, canonical JSON.
    pub event_json: String,
    /// Attempts made.
    pub attempts: u32,
    /// The error the handler last reported.
    pub last_error: Option<String>,
    /// When it was accepted (Unix ms).
    pub accepted_at_ms: f64,
}

/// One claimed event (canonical JSON text; the glue parses it).
#[napi(object)]
pub struct DeliveryJson {
    /// The entry's id (pass it to ack / nack).
    pub id: String,
    /// The event, canonical JSON.
    pub event_json: String,
    /// 1 on the first try.
    pub attempt: u32,
    /// `phone_number_id:contact`, when the event has a contact.
    pub conversation: Option<String>,
}

/// Options of `new Receiver(options, verifier, inbox)`. (Declared for the TypeScript
/// types; read through own properties, unknown keys rejected, numbers range-checked.)
#[napi(object)]
#[allow(dead_code)]
pub struct ReceiverOptions {
    /// Answer Meta's `GET` handshake with this token.
    pub verify_token: Option<String>,
    /// Body limit in bytes (default 1 MiB). (Numbers as `f64`, checked in Rust: a
    /// `u32` field would wrap `-1` to 4 294 967 295 before any check.)
    pub max_bytes: Option<f64>,
    /// Nesting limit (default 64).
    pub max_depth: Option<f64>,
    /// Without an inbox: drop repeated events in memory (default true).
    pub dedupe: Option<bool>,
    /// Without an inbox: drop stale / repeated statuses in memory (default false).
    pub status_fold: Option<bool>,
}

/// An answer decided before the body was read (`Receiver.precheck`).
#[napi(object)]
pub struct EarlyReply {
    /// HTTP status: 413 (declared body too large) or 401 (credentials).
    pub status: u16,
    /// `text/plain` body.
    pub body: String,
}

/// What the receiver answered (events as canonical JSON text).
#[napi(object)]
pub struct ReceiverReply {
    /// HTTP status.
    pub status: u16,
    /// `text/plain` body.
    pub body: String,
    /// The new events, a JSON array of canonical events.
    pub events_json: String,
    /// Events of this delivery already seen.
    pub duplicates: u32,
    /// Status updates dropped by the fold.
    pub stale: u32,
    /// Why the delivery was refused (log-safe), if it was.
    pub error: Option<String>,
}

/// A receiver's metrics at one moment (`metrics()` of the Express middleware,
/// the Fastify plugin's receiver, or `Receiver`).
#[napi(object)]
pub struct ReceiverMetrics {
    /// Webhook events by result: `accepted`, `deduplicated`, `stale`, `handled`,
    /// `retried`, `dead_lettered`; non-zero only.
    pub events: HashMap<String, f64>,
    /// Answered requests by HTTP status (`'200'`, `'401'`, `'503'`, …); non-zero only.
    pub deliveries: HashMap<String, f64>,
    /// Time from a request reaching the receiver to its answer being decided.
    pub ack_latency: LatencyHistogram,
}

/// What an inbox's consumers did at one moment (`inbox.metrics()`).
#[napi(object)]
pub struct InboxMetrics {
    /// Events by result: `handled`, `retried`, `dead_lettered`; non-zero only.
    pub events: HashMap<String, f64>,
}

// ---- Dedupe stores (`dedupe.rs`) ----

/// Options of `new Deduper()` / `new StatusFold()`. (Declared for the
/// TypeScript types; read through own properties, unknown keys rejected,
/// numbers range-checked.)
#[napi(object)]
#[allow(dead_code)]
pub struct MemoryStoreOptions {
    /// How many keys / messages are kept (oldest evicted first; default 100 000).
    pub capacity: Option<u32>,
    /// How long a key is remembered, in ms (default 7 days, 360dialog's redelivery window).
    pub ttl_ms: Option<f64>,
}

/// What is known about one outbound message.
#[napi(object)]
pub struct MessageState {
    /// The furthest progress status seen (`sent` … `played`).
    pub status: Option<String>,
    /// Timestamp of that status (Unix seconds).
    pub timestamp: Option<f64>,
    /// A `failed` status was seen.
    pub failed: bool,
    /// The errors of the first `failed` status.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub errors: Vec<Value>,
}

// ---- Governor (`governor.rs`) ----

/// Send pacing of `new Client({ governor })`: per-number token bucket, per-recipient
/// pair rate, `131056` back-off. Every field is optional (defaults: 80/s, one send per
/// 6 s to a recipient, 30 s deadline). (Declared for the TypeScript types; read by the core.)
#[napi(object)]
#[allow(dead_code)]
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
    /// send rejects with `rate_limited` and `retryAfterMs`, nothing sent.
    pub max_wait_ms: Option<f64>,
    /// The number's bucket name in a shared store (default `default`).
    pub number: Option<String>,
    /// Where the governor keeps its state: `memory://` (this process, the default) or
    /// `redis://…` / `rediss://…` (shared by every process using the same URL).
    pub store: Option<String>,
}

// ---- Broadcast (`broadcast.rs`) ----

// Declared for the TypeScript types; read by hand in `broadcast.rs` (each fault named by
// its place).
/// One recipient of `new Campaign(template, language, recipients)`.
#[napi(object)]
#[allow(dead_code)]
pub struct CampaignRecipient {
    /// Phone number in international format.
    pub to: String,
    /// Body parameters, in order.
    pub params: Vec<String>,
}

/// Options of `client.broadcast(campaign, ledger, options)`. (Declared for the TypeScript
/// types; read through own properties, unknown keys rejected, numbers range-checked.)
#[napi(object)]
#[allow(dead_code)]
pub struct BroadcastRunOptions {
    /// Sends in flight at once (default 16, at most 1024), one until the first is accepted.
    pub concurrency: Option<f64>,
    /// How long an unknown send waits for a status webhook before it is sent again, in ms
    /// (default 900000).
    pub unknown_window_ms: Option<f64>,
    /// Longest wait for a governor slot per send, in ms (default 60000).
    pub max_wait_ms: Option<f64>,
    /// Attempts per recipient (default 5) for refusals safe to repeat (a rate limit, a
    /// transient error); a send that never went out is not counted (up to 10 minutes of them).
    pub max_attempts: Option<f64>,
    /// Start no earlier than this many ms from now.
    pub start_in_ms: Option<f64>,
    /// How long sends may fail to go out at all (no connection, no governor slot) before
    /// the run ends with a `connection` error, leaving them pending, in ms (default 600000);
    /// the time between such sends counts, not time with nothing to send.
    pub max_outage_ms: Option<f64>,
}

/// Counts per state (TypeScript shape of the progress and summary values).
#[napi(object)]
pub struct BroadcastCounts {
    /// All recipients.
    pub total: u32,
    /// Not sent yet (or safe to send again).
    pub pending: u32,
    /// Sends under way.
    pub in_flight: u32,
    /// Accepted (wamid known).
    pub accepted: u32,
    /// Failed for good.
    pub failed: u32,
    /// Waiting for a status webhook or the quiet window.
    pub unknown: u32,
}

/// What the progress callback receives.
#[napi(object)]
pub struct BroadcastProgress {
    /// Counts per state.
    pub counts: BroadcastCounts,
    /// Sends accepted during this run.
    pub accepted_this_run: u32,
    /// Seconds since this run started.
    pub elapsed_secs: f64,
    /// Accepted sends per second during this run.
    pub rate: f64,
    /// Estimated seconds left, when known.
    pub eta_secs: Option<f64>,
    /// `running`, `paused`, `scheduled`, `waiting_for_statuses`, `stopped` or `done`.
    pub phase: String,
}

/// What `client.broadcast` resolves to.
#[napi(object)]
pub struct BroadcastSummary {
    /// The campaign id.
    pub campaign_id: String,
    /// Counts per state at the end.
    pub counts: BroadcastCounts,
    /// Sends accepted during this run.
    pub accepted_this_run: u32,
    /// Seconds this run took.
    pub elapsed_secs: f64,
    /// True when every recipient is accepted or failed.
    pub complete: bool,
    /// True when the run ended on a stop request.
    pub stopped: bool,
}

// ---- Sandbox (testing) (`testing.rs`) ----

/// Options of `Sandbox.start(options)`. (Declared for the TypeScript types;
/// read through own properties, unknown keys rejected, numbers range-checked.)
#[napi(object)]
#[allow(dead_code)]
pub struct SandboxOptions {
    /// The API key the sandbox requires (default: a random `sbx_…` key).
    pub api_key: Option<String>,
    /// Port on 127.0.0.1 (default: a random free port).
    pub port: Option<u16>,
    /// Multiplies every delay (status spacing, delivery retries); e.g. 0.01.
    pub time_scale: Option<f64>,
    /// Accept `http://127.0.0.1` / `http://localhost` webhook URLs (default true).
    pub allow_http_callbacks: Option<bool>,
    /// Attempts per webhook event before it is dropped (default 10).
    pub max_delivery_attempts: Option<u32>,
}

/// Options of `Sandbox.fault(kind, options)`; any other key is a parameter of the
/// fault kind (`retry_after`, `code`, `status`, `ms`, …, in the sandbox's snake_case).
/// (Declared for the TypeScript types; read by the sandbox's `FaultRule::from_kind`.)
#[napi(object)]
#[allow(dead_code)]
pub struct FaultOptions {
    /// HTTP method to match (default `POST`; `null`: any).
    pub method: Option<Option<String>>,
    /// Path to match, exact or a prefix ending in `*` (default `/messages`; `null`: any).
    pub path: Option<Option<String>>,
    /// How many matching requests fail (default 1; 0 = until cleared).
    pub count: Option<u32>,
}
