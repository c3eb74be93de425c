//! The Redis inbox (`redis://host:6379/0`, `rediss://…` for TLS): the same
//! rules as the SQLite inbox, shared by every process on every machine that
//! reaches the server.
//!
//! Layout (every key carries the inbox name as a hash tag, `{name}`, so one
//! inbox lives in one slot):
//!
//! | key | type | what |
//! |---|---|---|
//! | `{name}:s` | stream, consumer group `g` | the events waiting or in flight, in accept order |
//! | `{name}:e:<entry id>` | hash | one entry: body ref `b`, index `i`, conversation `c`, dedupe key `k`, accepted at `t`, attempts `a`, handed out `h`, lease lapsed `x`, taken back by its own consumer `o`, not before `nb`, last error `err` |
//! | `{name}:b:<n>` | hash | one delivery body `d`, shared by its entries, with a reference count `r` |
//! | `{name}:k:<dedupe key>` | string, `EX` retention | dedupe key |
//! | `{name}:st:<message id>` | string, `EX` retention | folded status of a message (JSON) |
//! | `{name}:c:<conversation>` | list | unhandled entries of one conversation, in order |
//! | `{name}:pk` | sorted set | nacked entry ids parked until their retry time (score, Unix ms, server clock) |
//! | `{name}:pb` | sorted set | entry ids parked behind their conversation's head (score: when to look again, a safety net) |
//! | `{name}:dead` | stream | dead letters |
//! | `{name}:n` | hash | counters: handled, duplicates, stale, inflight |
//! | `{name}:ac` | string | where the next reclaim of expired leases (`XAUTOCLAIM`) goes on |
//! | `{name}:lt` | string | the server's time (ms) of the last claim or renewal |
//! | `{name}:grace` | string, `PX` lease | the gap (ms), after a gap in `lt` of more than half a lease (and 1 s): while it lives, a claim takes over only entries idle for the lease plus the gap |
//!
//! - **Accept** is optimistic: read the dedupe keys and folded statuses,
//!   decide in Rust with the one status fold ([`fold_status`]), then one Lua
//!   script checks that nothing it read has changed and sets the keys, the
//!   statuses, the body and the stream entries together (a key is never set
//!   without its entry). If another process got there first the script
//!   refuses and accept reads again.
//! - **Leases** are the consumer group's pending-entries list: `XREADGROUP`
//!   gives new entries to one consumer, `XCLAIM … JUSTID` renews them
//!   ([`Inbox::extend`]), and `XAUTOCLAIM` moves the entries of a consumer
//!   that stopped renewing (idle past the lease) to a live one. For one lease
//!   after a gap of more than half a lease (and 1 s) between claims and
//!   renewals (Redis itself stalled), only entries idle for the lease plus the
//!   gap are taken over, so live consumers renew first (`watch_gap` in the
//!   scripts).
//! - **Parking**: an entry that cannot be handed out yet leaves the pending
//!   list (acknowledged there, still in the stream, so the counts keep it):
//!   a nacked one for `{name}:pk` until its retry time, one a claim finds
//!   behind its conversation's head for `{name}:pb` until that head leaves.
//!   It comes back under its own id with `XCLAIM … FORCE`, into the pending
//!   list of the next claim (as many as that claim can hand out), ahead of
//!   anything not read yet: a retry when due, a blocked one once the head
//!   before it has left (which marks it due). What a claim took over from
//!   other consumers and does not hand out (a dead worker's expired entries,
//!   taken over 100 at a time) is made idle past the lease again, for the
//!   next claim by any consumer; a consumer's own entries, taken back after
//!   its lease lapsed, stay its own (`o`). A claim reads new entries, parking the
//!   blocked ones, until it has as many ready as asked for (at most 256 read
//!   per claim): a backlog of retries or of one conversation's events never
//!   keeps a consumer from new conversations, and `XAUTOCLAIM` never walks
//!   over parked entries. (A version before parking never reads these sets:
//!   going back to one strands the parked entries.)
//! - **Order per conversation** is a per-conversation list of unhandled
//!   entry ids: an entry is handed out only while it is the head of its
//!   conversation's list, and leaves the list when acknowledged or
//!   dead-lettered. Different conversations run in parallel on any consumer.
//! - **Retention**: dedupe keys and folded statuses expire on their own
//!   (`EX`). [`Inbox::prune`] (also run by `claim` every 10 minutes) deletes
//!   the group's consumers that hold nothing and have not claimed for ten
//!   leases: each `Consumer` has a fresh name, so every process that ever
//!   consumed would otherwise stay listed.
//! - **Durability** is Redis's: with `appendonly yes` and `appendfsync
//!   everysec` an acknowledged event survives a Redis restart, and at most
//!   the last second is at risk on a power cut (docs/scaling.md).
//!
//! The trait is synchronous; this backend runs its async `redis` connection
//! manager on a private one-thread tokio runtime and waits for each call, so
//! it works from any thread, inside or outside another runtime.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script, Value as RValue};
use serde_json::{Value, json};

use super::shared::{ParsedBodies, PruneClock, Signal, ms, now_ms};
use super::{
    Accepted, DeadLetter, Delivery, Inbox, InboxOptions, InboxStats, Nacked, conversation_of,
};
use crate::redis_conn::{RedisConn, error_text, is_loading};
use crate::webhook::Event;
use crate::webhook::dedupe::{DedupeKey, FoldOutcome, MessageState, fold_status};
use crate::{Error, Result};

/// How many times accept re-reads after losing a race with another process.
const ACCEPT_TRIES: usize = 32;
/// Most entries one consumer holds at once (handed out or waiting its turn).
const HOLD_MAX: usize = 1000;

/// A consumer holding nothing is deleted from the group after this long
/// without a claim, or ten leases if that is longer.
const FORGET_AFTER_MIN: Duration = Duration::from_secs(1);

/// A Redis-backed inbox. Cheap to clone.
#[derive(Clone)]
pub struct RedisInbox {
    shared: Arc<Shared>,
}

struct Shared {
    /// The connection and its private runtime (see the module doc).
    redis: RedisConn,
    /// `{name}`: the key prefix.
    ns: String,
    opts: InboxOptions,
    timeout: Duration,
    signal: Signal,
    scripts: Scripts,
    /// When `claim` last deleted the group's idle consumers ([`Inbox::prune`]).
    pruned: PruneClock,
    /// The last few bodies of many events that claims parsed.
    parsed: ParsedBodies<String>,
}

impl fmt::Debug for RedisInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisInbox")
            .field("url", &self.shared.redis.label)
            .field("name", &self.shared.ns)
            .finish_non_exhaustive()
    }
}

impl RedisInbox {
    /// Connect to the server at `url` (`redis://[user:password@]host:port/db`
    /// or `rediss://…`; the query carries no options here, see
    /// [`super::open`]) and use the inbox called `name`. Fails with `store`
    /// when the server cannot be reached within the busy timeout.
    pub fn open(url: &str, name: &str, opts: InboxOptions) -> Result<Self> {
        Self::open_inner(url, name, opts, false)
    }

    /// [`RedisInbox::open`] of an inbox that must exist already (its stream): for tools
    /// that look after one, where a mistyped db or `name=` would otherwise show an empty
    /// inbox, and create it. `invalid_argument` naming `inbox` when there is none.
    pub fn open_existing(url: &str, name: &str, opts: InboxOptions) -> Result<Self> {
        Self::open_inner(url, name, opts, true)
    }

    fn open_inner(url: &str, name: &str, opts: InboxOptions, existing: bool) -> Result<Self> {
        url::Url::parse(url).map_err(|_| Error::invalid("inbox", "not a valid redis:// URL"))?;
        if name.is_empty() || name.contains(['{', '}']) {
            return Err(Error::invalid(
                "inbox.name",
                "must be non-empty and contain no braces",
            ));
        }
        // Fail fast when the server is away: the receiver must answer 503
        // well before 360dialog's own timeout, not hang.
        let timeout = opts.busy_timeout.max(Duration::from_millis(100));
        let redis = RedisConn::connect(url, "inbox", timeout)?;
        let inbox = RedisInbox {
            shared: Arc::new(Shared {
                redis,
                ns: format!("{{{name}}}"),
                opts,
                timeout,
                signal: Signal::new(),
                scripts: Scripts::new(),
                pruned: PruneClock::new(),
                parsed: ParsedBodies::new(),
            }),
        };
        let s = inbox.key("s");
        if existing {
            let key = s.clone();
            let found: i64 = inbox.run("cannot open", true, move |mut c| {
                let key = key.clone();
                async move { redis::cmd("EXISTS").arg(key).query_async(&mut c).await }
            })?;
            if found == 0 {
                return Err(Error::invalid(
                    "inbox",
                    format!(
                        "no inbox `{name}` at {} (the receivers create it; check the URL's db and name=)",
                        crate::secret::redact_url(url)
                    ),
                ));
            }
        }
        // The consumer group, from the start of the stream (entries may be
        // accepted before any consumer exists).
        let created: RedisResult<()> = inbox.call("cannot open", &move |mut c| {
            let s = s.clone();
            async move {
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&s)
                    .arg("g")
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async::<()>(&mut c)
                    .await
                    .or_else(|e| {
                        if e.code() == Some("BUSYGROUP") {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
            }
        })?;
        created.ok();
        Ok(inbox)
    }

    fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.shared.ns)
    }

    /// Run one async step on the private runtime and wait for it (bounded by
    /// the timeout: a lost server is an error, never a hang).
    fn call<T, F, Fut>(&self, what: &str, f: &F) -> Result<RedisResult<T>>
    where
        T: Send + 'static,
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        let Some(rt) = self.shared.redis.runtime() else {
            return Err(Error::Store(format!("{}: closed", self.shared.redis.label)));
        };
        let fut = f(self.shared.redis.conn());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(self.shared.timeout * 3).map_err(|_| {
            Error::Store(format!(
                "{}: {what}: no answer from Redis",
                self.shared.redis.label
            ))
        })
    }

    /// [`RedisInbox::call`] with Redis errors turned into `store` errors. A call refused by
    /// a node demoted by a failover (nothing ran; a new connection is opened, see
    /// [`RedisConn::replace_after`]) is made once more. So is one that failed on a dropped
    /// connection (the manager reports it to the first command after a restart or a
    /// network cut, then reconnects) when `repeat` says it may be: the command may have run
    /// before the cut, and every script but the claim checks what it changes (accept: the
    /// dedupe keys; ack and nack: that this consumer still holds the event, or that it
    /// already settled it; extend, release: that it holds it), and reads change nothing.
    /// Without it, an ack lost this way left the event to run again. A claim is not
    /// repeated: the consumer gives back what a claim with no answer may have handed out
    /// ([`crate::inbox::Consumer::next`]); a repeat would hide that claim.
    fn run<T, F, Fut>(&self, what: &str, repeat: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        let loading_until = std::time::Instant::now() + self.shared.timeout;
        let mut repeated = false;
        let result = loop {
            let result = self.call(what, &f)?;
            match &result {
                // Redis restarted and is reading its data back (`LOADING`): it ran nothing.
                // Wait for it, within the busy timeout, as for a busy SQLite file. Without
                // this the first ack after a restart failed and the event ran again.
                Err(e) if is_loading(e) && std::time::Instant::now() < loading_until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e)
                    if !repeated
                        && ((repeat && e.is_io_error() && !e.is_timeout())
                            || self.shared.redis.replace_after(e, true)) =>
                {
                    repeated = true;
                }
                _ => break result,
            }
        };
        result.map_err(|e| {
            Error::Store(format!(
                "{}: {what}: {}",
                self.shared.redis.label,
                error_text(&e)
            ))
        })
    }

    /// Run a script with `args`.
    fn script<T>(&self, what: &str, script: &Script, args: Vec<Vec<u8>>) -> Result<T>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        let scripts = &self.shared.scripts;
        // Only the claim is never repeated (see `run`).
        let repeat = !std::ptr::eq(script, &scripts.claim);
        // An ack or nack learns, as its last argument, whether it is the repeat of one whose
        // answer was lost: only then does "not held" mean "already settled by this call".
        let says_repeat = std::ptr::eq(script, &scripts.ack) || std::ptr::eq(script, &scripts.nack);
        let tried = std::sync::atomic::AtomicBool::new(false);
        let script = script.clone();
        self.run(what, repeat, move |mut c| {
            let (script, mut args) = (script.clone(), args.clone());
            let again = tried.swap(true, std::sync::atomic::Ordering::SeqCst);
            if says_repeat {
                args.push(if again { b"1".to_vec() } else { b"0".to_vec() });
            }
            async move {
                let mut inv = script.prepare_invoke();
                for a in &args {
                    inv.arg(a.as_slice());
                }
                inv.invoke_async(&mut c).await
            }
        })
    }

    fn notify(&self) {
        self.shared.signal.notify();
    }

    /// `HGET {ns}:<key> <field>`.
    fn hget<T: redis::FromRedisValue + Send + 'static>(
        &self,
        what: &str,
        key: String,
        field: &'static str,
    ) -> Result<Option<T>> {
        let key = self.key(&key);
        self.run(what, true, move |mut c| {
            let key = key.clone();
            async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(field)
                    .query_async(&mut c)
                    .await
            }
        })
    }

    /// An idle time just past the lease, as an argument: an entry made this idle is taken
    /// by the next claim of any consumer.
    fn idle_arg(&self) -> Vec<u8> {
        arg(ms(self.shared.opts.lease) + 1)
    }

    fn ns_arg(&self) -> Vec<u8> {
        self.shared.ns.clone().into_bytes()
    }

    /// The nack script: `id`, held by `consumer`, failed with `error`; it is retried after
    /// `delay`, or dead-lettered once its attempts reach `max_attempts`. 1 retry, 2 dead,
    /// anything else not held.
    fn nack_script(
        &self,
        what: &str,
        consumer: &str,
        id: &str,
        error: &str,
        delay: Duration,
        max_attempts: u32,
    ) -> Result<i64> {
        let args = vec![
            self.ns_arg(),
            arg(consumer),
            arg(id),
            error.as_bytes().to_vec(),
            arg(ms(delay)),
            arg(max_attempts),
            self.idle_arg(),
        ];
        self.script(what, &self.shared.scripts.nack, args)
    }

    /// The event an entry points at (`bid`: its body's key, `idx`: the event's index in it),
    /// each body read and parsed once per call through `parsed`. `Ok(Err(why))`: the entry
    /// can never be read (its body missing, or not parsed by this version); `Err`: Redis
    /// failed (a claim or a listing error, tried again later).
    fn event_of(
        &self,
        parsed: &mut HashMap<String, std::result::Result<Arc<Vec<Event>>, String>>,
        bid: &str,
        idx: usize,
    ) -> Result<std::result::Result<Event, String>> {
        if !parsed.contains_key(bid) {
            let body: Option<Vec<u8>> =
                self.hget("cannot read a body from", format!("b:{bid}"), "d")?;
            let events = match body {
                None => Err(format!("stored body {bid} is missing")),
                Some(body) => self
                    .shared
                    .parsed
                    .events(bid.to_string(), &body)
                    .map_err(|e| format!("stored body cannot be read again: {e}")),
            };
            parsed.insert(bid.to_string(), events);
        }
        Ok(match &parsed[bid] {
            Ok(events) => events
                .get(idx)
                .cloned()
                .ok_or_else(|| "entry points past its stored body".to_string()),
            Err(why) => Err(why.clone()),
        })
    }
}

fn state_json(s: &MessageState) -> String {
    json!({"status": s.status, "ts": s.timestamp, "failed": s.failed, "errors": s.errors})
        .to_string()
}

fn state_from(text: &str) -> Option<MessageState> {
    let v: Value = serde_json::from_str(text).ok()?;
    Some(MessageState {
        status: v["status"].as_str().map(str::to_owned),
        timestamp: v["ts"].as_i64(),
        failed: v["failed"].as_bool().unwrap_or(false),
        errors: v["errors"].as_array().cloned().unwrap_or_default(),
    })
}

fn to_string(v: &RValue) -> String {
    match v {
        RValue::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        RValue::SimpleString(s) => s.clone(),
        RValue::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

/// A number the script returned (as a bulk string or an integer).
fn num<T: std::str::FromStr>(v: Option<&RValue>) -> Option<T> {
    v.map(to_string)?.parse().ok()
}

/// `(ready, in_flight)` from the stream's length and the `inflight` counter (which a lost
/// reply can leave off by a little: never more than the stream holds).
fn split_backlog(len: u64, inflight: Option<i64>) -> (u64, u64) {
    let in_flight = u64::try_from(inflight.unwrap_or(0)).unwrap_or(0).min(len);
    (len - in_flight, in_flight)
}

fn arg(s: impl ToString) -> Vec<u8> {
    s.to_string().into_bytes()
}

/// A decision for one event of a delivery.
enum Plan {
    Duplicate,
    Stale,
    Store,
}

impl Inbox for RedisInbox {
    fn accept(&self, body: &[u8], events: &[Event]) -> Result<Accepted> {
        if events.is_empty() {
            return Ok(Accepted::default());
        }
        let keys: Vec<String> = events
            .iter()
            .map(|e| DedupeKey::of_event(e).to_string())
            .collect();
        let status_ids: Vec<Option<(String, String)>> = events
            .iter()
            .map(|e| {
                let s = e.as_status()?;
                Some((s.id()?.to_owned(), s.status()?.to_owned()))
            })
            .collect();
        for _ in 0..ACCEPT_TRIES {
            // 1. Read what is known.
            let mut read_keys: Vec<String> =
                keys.iter().map(|k| self.key(&format!("k:{k}"))).collect();
            let mut msg_ids: Vec<String> = status_ids
                .iter()
                .flatten()
                .map(|(id, _)| id.clone())
                .collect();
            msg_ids.sort();
            msg_ids.dedup();
            read_keys.extend(msg_ids.iter().map(|id| self.key(&format!("st:{id}"))));
            let rk = read_keys.clone();
            let known: Vec<Option<String>> =
                self.run("cannot store events in", true, move |mut c| {
                    let rk = rk.clone();
                    async move { redis::cmd("MGET").arg(rk).query_async(&mut c).await }
                })?;
            let (seen, states) = known.split_at(keys.len());
            let state: HashMap<&str, (Option<&str>, Option<MessageState>)> = msg_ids
                .iter()
                .zip(states)
                .map(|(id, s)| {
                    (
                        id.as_str(),
                        (s.as_deref(), s.as_deref().and_then(state_from)),
                    )
                })
                .collect();
            // 2. Decide with the one fold, as the SQLite inbox does.
            let mut batch_keys: std::collections::HashSet<&str> = Default::default();
            let mut plans = Vec::with_capacity(events.len());
            let mut changed: HashMap<&str, MessageState> = HashMap::new();
            for (i, ev) in events.iter().enumerate() {
                if seen[i].is_some() || !batch_keys.insert(keys[i].as_str()) {
                    plans.push(Plan::Duplicate);
                    continue;
                }
                let outcome = match (ev.as_status(), &status_ids[i]) {
                    (None, _) => FoldOutcome::Advanced,
                    (Some(_), None) => FoldOutcome::Unrecognised,
                    (Some(s), Some((id, st))) => {
                        let prev = changed
                            .get(id.as_str())
                            .cloned()
                            .or_else(|| state.get(id.as_str()).and_then(|s| s.1.clone()));
                        let (outcome, next) =
                            fold_status(prev.as_ref(), st, s.timestamp(), s.errors());
                        if let Some(n) = next {
                            changed.insert(id.as_str(), n);
                        }
                        outcome
                    }
                };
                plans.push(if outcome.is_reportable() {
                    Plan::Store
                } else {
                    Plan::Stale
                });
            }
            // 3. Apply if nothing changed meanwhile.
            let now = now_ms();
            let mut args = vec![
                self.ns_arg(),
                arg(now),
                arg(self.shared.opts.retention.as_secs().max(1)),
                body.to_vec(),
            ];
            let claim: Vec<usize> = plans
                .iter()
                .enumerate()
                .filter(|(_, p)| !matches!(p, Plan::Duplicate))
                .map(|(i, _)| i)
                .collect();
            args.push(arg(claim.len()));
            args.extend(claim.iter().map(|&i| arg(&keys[i])));
            args.push(arg(changed.len()));
            for (id, next) in &changed {
                let expected = state.get(id).and_then(|s| s.0).unwrap_or("");
                args.push(arg(id));
                args.push(arg(expected));
                args.push(arg(state_json(next)));
            }
            let stored: Vec<usize> = plans
                .iter()
                .enumerate()
                .filter(|(_, p)| matches!(p, Plan::Store))
                .map(|(i, _)| i)
                .collect();
            args.push(arg(stored.len()));
            for &i in &stored {
                args.push(arg(&keys[i]));
                args.push(arg(conversation_of(&events[i]).unwrap_or_default()));
                args.push(arg(i));
            }
            let dups = plans
                .iter()
                .filter(|p| matches!(p, Plan::Duplicate))
                .count();
            let stale = plans.iter().filter(|p| matches!(p, Plan::Stale)).count();
            args.push(arg(dups));
            args.push(arg(stale));
            let ok: i64 =
                self.script("cannot store events in", &self.shared.scripts.accept, args)?;
            if ok == 1 {
                let out = Accepted {
                    events: stored.iter().map(|&i| events[i].clone()).collect(),
                    duplicates: dups,
                    stale,
                };
                if !out.events.is_empty() {
                    self.notify();
                }
                return Ok(out);
            }
        }
        Err(Error::Store(format!(
            "{}: cannot store events: too much contention on the same keys",
            self.shared.redis.label
        )))
    }

    fn claim(&self, consumer: &str, max: usize) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let args = vec![
            self.ns_arg(),
            arg(consumer),
            arg(max.min(HOLD_MAX)),
            arg(ms(self.shared.opts.lease)),
            arg(self.shared.opts.max_attempts),
            arg(HOLD_MAX),
        ];
        let rows: Vec<Vec<RValue>> =
            self.script("cannot claim from", &self.shared.scripts.claim, args)?;
        if self.shared.pruned.due() {
            let _ = self.prune();
        }
        // Row by row: an entry that can never be read goes to the dead letters alone, with
        // the reason, as in SQLite. Failing the whole claim for it gave the attempt back and
        // failed every claim that included it, forever. A Redis error stays a claim error.
        let mut parsed = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for r in rows {
            let id = r.first().map(to_string).unwrap_or_default();
            let bid = r.get(1).map(to_string).unwrap_or_default();
            let idx = num(r.get(2)).unwrap_or(usize::MAX);
            match self.event_of(&mut parsed, &bid, idx)? {
                Ok(event) => {
                    let conv = r.get(4).map(to_string).unwrap_or_default();
                    out.push(Delivery {
                        id,
                        event,
                        attempt: num(r.get(3)).unwrap_or(1),
                        conversation: (!conv.is_empty()).then_some(conv),
                    });
                }
                Err(why) => unreadable.push((id, why)),
            }
        }
        for (id, why) in &unreadable {
            tracing::warn!(target: "wa360::inbox", inbox = %self.shared.redis.label, id, reason = %why, "dead-lettered an unreadable entry");
            // A failure with `max_attempts` 0: dead-lettered at once.
            self.nack_script(
                "cannot dead-letter in",
                consumer,
                id,
                why,
                Duration::ZERO,
                0,
            )?;
        }
        if !unreadable.is_empty() {
            self.notify();
        }
        Ok(out)
    }

    fn wait(&self, timeout: Duration) {
        self.shared.signal.wait(timeout);
    }

    fn extend(&self, consumer: &str, ids: &[String]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut args = vec![
            self.ns_arg(),
            arg(consumer),
            arg(ms(self.shared.opts.lease)),
        ];
        args.extend(ids.iter().map(arg));
        let n: i64 = self.script("cannot renew leases in", &self.shared.scripts.extend, args)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn ack(&self, consumer: &str, id: &str) -> Result<bool> {
        let args = vec![self.ns_arg(), arg(consumer), arg(id), self.idle_arg()];
        let n: i64 = self.script("cannot acknowledge in", &self.shared.scripts.ack, args)?;
        if n == 1 {
            self.notify();
        }
        Ok(n == 1)
    }

    fn nack(&self, consumer: &str, id: &str, error: &str) -> Result<Nacked> {
        let attempts: Option<u32> =
            self.hget("cannot record a failure in", format!("e:{id}"), "a")?;
        let Some(attempts) = attempts else {
            return Ok(Nacked::NotHeld);
        };
        let delay = self.shared.opts.backoff(attempts);
        let n = self.nack_script(
            "cannot record a failure in",
            consumer,
            id,
            error,
            delay,
            self.shared.opts.max_attempts,
        )?;
        self.notify();
        Ok(match n {
            1 => Nacked::Retry(delay),
            2 => Nacked::Dead,
            _ => Nacked::NotHeld,
        })
    }

    fn release(&self, consumer: &str, id: &str) -> Result<bool> {
        if id.is_empty() {
            return Ok(false);
        }
        let args = vec![self.ns_arg(), arg(consumer), arg(id), self.idle_arg()];
        let n: i64 = self.script("cannot release in", &self.shared.scripts.release, args)?;
        if n == 1 {
            self.notify();
        }
        Ok(n == 1)
    }

    fn release_unhanded(&self, consumer: &str) -> Result<usize> {
        let args = vec![self.ns_arg(), arg(consumer), Vec::new(), self.idle_arg()];
        let n: i64 = self.script("cannot release in", &self.shared.scripts.release, args)?;
        if n > 0 {
            self.notify();
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn handed_out(&self, consumer: &str) -> Result<Vec<String>> {
        let args = vec![self.ns_arg(), arg(consumer)];
        self.script(
            "cannot list the claims in",
            &self.shared.scripts.handed_out,
            args,
        )
    }

    fn stats(&self) -> Result<InboxStats> {
        let (s, d, n, k) = (
            self.key("s"),
            self.key("dead"),
            self.key("n"),
            self.key("k:*"),
        );
        let (len, dead, counters, keys): (u64, u64, HashMap<String, i64>, u64) =
            self.run("cannot read counts of", true, move |mut c| {
                let (s, d, n, k) = (s.clone(), d.clone(), n.clone(), k.clone());
                async move {
                    let len: u64 = redis::cmd("XLEN").arg(&s).query_async(&mut c).await?;
                    let dead: u64 = redis::cmd("XLEN").arg(&d).query_async(&mut c).await?;
                    let counters: HashMap<String, i64> =
                        redis::cmd("HGETALL").arg(&n).query_async(&mut c).await?;
                    // Counting keys walks the keyspace: stats are for operators,
                    // not for a hot path.
                    let mut keys = 0u64;
                    let mut cursor = 0u64;
                    loop {
                        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&k)
                            .arg("COUNT")
                            .arg(1000)
                            .query_async(&mut c)
                            .await?;
                        keys += batch.len() as u64;
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                    Ok((len, dead, counters, keys))
                }
            })?;
        let get = |name: &str| u64::try_from(counters.get(name).copied().unwrap_or(0)).unwrap_or(0);
        let (ready, in_flight) = split_backlog(len, counters.get("inflight").copied());
        Ok(InboxStats {
            ready,
            in_flight,
            dead,
            handled: get("handled"),
            duplicates: get("duplicates"),
            stale: get("stale"),
            keys,
        })
    }

    fn backlog(&self) -> Result<(u64, u64)> {
        let (s, n) = (self.key("s"), self.key("n"));
        let (len, in_flight): (u64, Option<i64>) =
            self.run("cannot read counts of", true, move |mut c| {
                let (s, n) = (s.clone(), n.clone());
                async move {
                    let len: u64 = redis::cmd("XLEN").arg(&s).query_async(&mut c).await?;
                    let in_flight: Option<i64> = redis::cmd("HGET")
                        .arg(&n)
                        .arg("inflight")
                        .query_async(&mut c)
                        .await?;
                    Ok((len, in_flight))
                }
            })?;
        Ok(split_backlog(len, in_flight))
    }

    fn dead(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let d = self.key("dead");
        let rows: Vec<(String, HashMap<String, String>)> =
            self.run("cannot list dead letters of", true, move |mut c| {
                let d = d.clone();
                async move {
                    redis::cmd("XRANGE")
                        .arg(d)
                        .arg("-")
                        .arg("+")
                        .arg("COUNT")
                        .arg(limit)
                        .query_async(&mut c)
                        .await
                }
            })?;
        // As in SQLite: a dead letter whose event cannot be rebuilt is left out of the
        // listing (logged), not a failure of it: every other one stays inspectable.
        let mut parsed = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for (id, f) in rows {
            let bid = f.get("b").cloned().unwrap_or_default();
            let idx = f
                .get("i")
                .and_then(|i| i.parse().ok())
                .unwrap_or(usize::MAX);
            let event = match self.event_of(&mut parsed, &bid, idx)? {
                Ok(event) => event,
                Err(why) => {
                    tracing::warn!(target: "wa360::inbox", inbox = %self.shared.redis.label, id, error = %why, "dead letter whose stored body cannot be read");
                    continue;
                }
            };
            out.push(DeadLetter {
                id,
                event,
                attempts: f.get("a").and_then(|a| a.parse().ok()).unwrap_or(0),
                last_error: f.get("err").filter(|e| !e.is_empty()).cloned(),
                accepted_at_ms: f.get("t").and_then(|t| t.parse().ok()).unwrap_or(0),
            });
        }
        Ok(out)
    }

    fn replay(&self, id: Option<&str>) -> Result<usize> {
        let args = vec![self.ns_arg(), arg(id.unwrap_or("")), arg(now_ms())];
        let n: i64 = self.script("cannot replay in", &self.shared.scripts.replay, args)?;
        if n > 0 {
            self.notify();
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn drop_dead(&self, id: Option<&str>) -> Result<usize> {
        let args = vec![self.ns_arg(), arg(id.unwrap_or(""))];
        let n: i64 = self.script(
            "cannot drop dead letters in",
            &self.shared.scripts.drop_dead,
            args,
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn prune(&self) -> Result<usize> {
        // Dedupe keys and folded statuses carry their own expiry (EX). What is left
        // is the consumer group's list of consumers: each `Consumer` has a fresh
        // name, so every process that ever consumed leaves one behind.
        let idle = (self.shared.opts.lease * 10).max(FORGET_AFTER_MIN);
        let args = vec![self.ns_arg(), arg(ms(idle))];
        self.script("cannot prune", &self.shared.scripts.forget, args)
    }

    fn options(&self) -> &InboxOptions {
        &self.shared.opts
    }
}

/// The Lua scripts (each runs atomically on the server).
struct Scripts {
    accept: Script,
    claim: Script,
    extend: Script,
    ack: Script,
    nack: Script,
    release: Script,
    handed_out: Script,
    replay: Script,
    drop_dead: Script,
    forget: Script,
}

/// Helpers every script shares: dead-lettering and body references.
const LUA_COMMON: &str = r#"
local ns = ARGV[1]
local S, D, N = ns .. ':s', ns .. ':dead', ns .. ':n'
-- XPENDING, or nothing pending when the group is gone: Redis lost its data (a restart
-- without persistence, FLUSHALL, a replaced node). Nothing is held then, and the next claim
-- makes the group again; an error here instead failed every call of a consumer whose
-- earlier claim had failed, and no handler ran until the process restarted.
local function pending(...)
  local p = redis.pcall('XPENDING', S, 'g', ...)
  if p.err then
    if string.sub(p.err, 1, 7) == 'NOGROUP' then return {} end
    error(p.err)
  end
  return p
end
-- The server's clock in ms. Times that machines compare (when a retry is due, the gaps
-- of watch_gap) come from it, so the machines' own clocks never need to agree.
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Parked entries: those that cannot be handed out yet leave the group's pending list
-- (acknowledged there, still in the stream under their own id, so the counts keep them) for
-- a sorted set scored with when to look at them again: `PK` for a nacked entry, at its
-- retry time; `PB` for one a claim found behind its conversation's head, which the head
-- leaving wakes (`wake_next`; the score, ten leases on, is a safety net for a head that
-- left by an older version's script). Kept in a consumer's pending list, they filled it:
-- once it held 1,000 it read no new work, and a backlog of retries stopped every new
-- conversation. Out of the pending list, XAUTOCLAIM never walks over them either.
local PK, PB = ns .. ':pk', ns .. ':pb'
local function park(id, set, due)
  redis.call('XACK', S, 'g', id)
  redis.call('ZADD', set, due, id)
end
local function is_parked(id)
  return redis.call('ZSCORE', PK, id) or redis.call('ZSCORE', PB, id)
end
-- Back into the pending list under its own id (the entry is still in the stream), ahead of
-- every entry not read yet: claimed by `to`, idle past the lease, so that any consumer's
-- XAUTOCLAIM takes it should `to` not hand it out at once (it asked for fewer).
local function unpark(id, to, idle)
  redis.call('ZREM', PK, id)
  redis.call('ZREM', PB, id)
  redis.call('XCLAIM', S, 'g', to, 0, id, 'IDLE', idle, 'FORCE', 'JUSTID')
end
local function unref(b)
  local B = ns .. ':b:' .. b
  if redis.call('HINCRBY', B, 'r', -1) <= 0 then redis.call('DEL', B) end
end
-- Set by a script that knows the lease (ms + 1): see wake_next.
local wake_idle = nil
-- The conversation's next event may sit unhanded in the pending list of a consumer
-- that read it while it waited behind the one that just left, and that is now busy
-- with other work (it claims only when it has room): without this it waited there for
-- a whole lease. Made idle past the lease, any consumer with room takes it at its next
-- claim (XAUTOCLAIM).
local function wake_next(c)
  if not wake_idle or not c or c == '' then return end
  local nxt = redis.call('LINDEX', ns .. ':c:' .. c, 0)
  if not nxt then return end
  if redis.call('ZSCORE', PB, nxt) then
    -- Parked behind the one that left: due now, first for any consumer's next claim, or
    -- at its own retry time.
    local nb = tonumber(redis.call('HGET', ns .. ':e:' .. nxt, 'nb') or '0')
    if nb <= server_ms() then
      redis.call('ZADD', PB, 0, nxt)
    else
      redis.call('ZREM', PB, nxt)
      redis.call('ZADD', PK, nb, nxt)
    end
    return
  end
  local p = pending(nxt, nxt, 1)
  if #p == 0 or redis.call('HGET', ns .. ':e:' .. nxt, 'h') == '1' then return end
  redis.call('XCLAIM', S, 'g', p[1][2], 0, nxt, 'IDLE', wake_idle, 'JUSTID')
end
local function leave(id, c)
  redis.call('XACK', S, 'g', id)
  redis.call('XDEL', S, id)
  if c and c ~= '' then
    redis.call('LREM', ns .. ':c:' .. c, 1, id)
    wake_next(c)
  end
end
local function to_dead(id, err)
  local E = ns .. ':e:' .. id
  local e = redis.call('HMGET', E, 'b', 'i', 'c', 'k', 't', 'a', 'err')
  leave(id, e[3])
  redis.call('XADD', D, '*', 'b', e[1], 'i', e[2], 'c', e[3] or '', 'k', e[4] or '',
    't', e[5] or '0', 'a', e[6] or '0', 'err', err or e[7] or '')
  redis.call('DEL', E)
end
local function held(me, id)
  return #pending(id, id, 1, me) > 0
end
-- An ack or nack records its answer for a lease: repeated because its reply was lost
-- (a dropped connection; `again` is '1'), it gives that answer again instead of "not
-- held". A second ack made on purpose still gets "not held".
local function settle(me, id, code)
  redis.call('SET', ns .. ':done:' .. id, me .. ' ' .. code, 'PX', wake_idle or 60000)
  return code
end
local function settled(me, id, again)
  if again ~= '1' then return 0 end
  local d = redis.call('GET', ns .. ':done:' .. id)
  if d and string.sub(d, 1, #me + 1) == me .. ' ' then
    return tonumber(string.sub(d, #me + 2))
  end
  return 0
end
-- Redis paused (SIGSTOP, a long fork or fsync stall, a restart from the AOF) stops every
-- consumer's renewals while the idle times of their leases, on the server's clock, go on
-- growing by the length of the stall. The first claim after it would take over events that
-- live consumers are still handling, and they would run twice (a lease looks lost once a
-- stall passes two thirds of it). Claims and renewals record the server's time; after a gap
-- of more than half a lease, and at least a second, between two of them (a live consumer
-- renews every third of a lease and claims every 200 ms when idle), a claim takes over only
-- entries idle for the lease plus the gap, for one lease: a live consumer's entries are
-- idle for at most a third of a lease plus the gap, and they are renewed meanwhile, while
-- the entries of a consumer that was dead before the gap are taken at once; entries given
-- back (made idle just past the lease) wait out the gap or the grace. The server cannot
-- tell a stall from a time when nobody called (every worker down, a worker that claims
-- only now and then: it takes a dead worker's events up to one of its periods late);
-- either way nothing idle for a lease plus the gap can belong to a live consumer. Uses
-- the server's clock (TIME), never the callers'. Returns the gap to add (0 outside such a
-- grace).
local function watch_gap(lease)
  local now = server_ms()
  local L, G = ns .. ':lt', ns .. ':grace'
  local last = tonumber(redis.call('GET', L) or '0')
  redis.call('SET', L, now)
  local gap = tonumber(redis.call('GET', G) or '0')
  if last > 0 and now - last > math.max(lease / 2, 1000) then
    gap = math.max(gap, now - last)
    redis.call('SET', G, gap, 'PX', lease)
  end
  return gap
end
-- The dead-letter rows to replay or drop: the one `id`, or all when it is ''; each as
-- (stream id, field table).
local function dead_rows(id)
  local rows
  if id ~= '' then rows = redis.call('XRANGE', D, id, id)
  else rows = redis.call('XRANGE', D, '-', '+') end
  local out = {}
  for _, r in ipairs(rows) do
    local f = {}
    for j = 1, #r[2], 2 do f[r[2][j]] = r[2][j + 1] end
    out[#out + 1] = {r[1], f}
  end
  return out
end
"#;

impl Scripts {
    fn new() -> Self {
        let s = |body: &str| Script::new(&format!("{LUA_COMMON}\n{body}"));
        Scripts {
            // ARGV: ns now retention body | nk keys… | ns st (id expected next)… |
            //       ne (key conv idx)… | duplicates stale
            accept: s(r#"
local now, ttl, body = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local p = 5
local nk = tonumber(ARGV[p]); p = p + 1
local keys = {}
for j = 1, nk do
  local K = ns .. ':k:' .. ARGV[p]; p = p + 1
  if redis.call('EXISTS', K) == 1 then return 0 end
  keys[j] = K
end
local nst = tonumber(ARGV[p]); p = p + 1
local sts = {}
for j = 1, nst do
  local K, expected, nextv = ns .. ':st:' .. ARGV[p], ARGV[p + 1], ARGV[p + 2]; p = p + 3
  local cur = redis.call('GET', K)
  if (cur or '') ~= expected then return 0 end
  sts[j] = {K, nextv}
end
for _, K in ipairs(keys) do redis.call('SET', K, now, 'EX', ttl) end
for _, kv in ipairs(sts) do redis.call('SET', kv[1], kv[2], 'EX', ttl) end
local ne = tonumber(ARGV[p]); p = p + 1
if ne > 0 then
  local b = redis.call('INCR', ns .. ':bid')
  redis.call('HSET', ns .. ':b:' .. b, 'd', body, 'r', ne)
  for j = 1, ne do
    local k, c, i = ARGV[p], ARGV[p + 1], ARGV[p + 2]; p = p + 3
    local id = redis.call('XADD', S, '*', 'e', '1')
    redis.call('HSET', ns .. ':e:' .. id, 'b', b, 'i', i, 'c', c, 'k', k, 't', now,
      'a', 0, 'h', 0, 'nb', 0)
    if c ~= '' then redis.call('RPUSH', ns .. ':c:' .. c, id) end
  end
end
local dups, stale = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
if dups > 0 then redis.call('HINCRBY', N, 'duplicates', dups) end
if stale > 0 then redis.call('HINCRBY', N, 'stale', stale) end
return 1
"#),
            // ARGV: ns consumer max lease max_attempts hold_max
            claim: s(r#"
local me, max, now = ARGV[2], tonumber(ARGV[3]), server_ms()
local lease, maxa, hold = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
wake_idle = lease + 1
-- Stream id `x` comes before `y` (ms, then sequence, as numbers: as text, 9-0 > 10-0).
local function before(x, y)
  local a1, a2 = string.match(x, '(%d+)-(%d+)')
  local b1, b2 = string.match(y, '(%d+)-(%d+)')
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  return a1 < b1 or (a1 == b1 and a2 < b2)
end
-- Entries of consumers that stopped renewing their leases. The scan goes on from where
-- the last one stopped (Redis 7 looks at most COUNT * 10 pending entries per call: from
-- the start every time, a stopped consumer's entries behind a long list of live ones
-- would never be reached).
local AC = ns .. ':ac'
-- After a gap, only what was idle for the lease plus the gap (watch_gap).
local min_idle = lease + watch_gap(lease)
local function autoclaim()
  return redis.pcall('XAUTOCLAIM', S, 'g', me, min_idle, redis.call('GET', AC) or '0-0',
    'COUNT', 100, 'JUSTID')
end
-- This consumer's own entries whose lease ran out (its renewals failed for a lease, or the
-- process was frozen): handed out (h) or taken back from itself by an earlier claim (o),
-- their calls may still be running here, so they are not given away below (made idle,
-- another consumer ran them at the same time). Not the others in its list: those an
-- earlier claim made idle for the other consumers to share.
local own = {}
for _, p in ipairs(pending('IDLE', min_idle, '-', '+', hold, me)) do
  local e = redis.call('HMGET', ns .. ':e:' .. p[1], 'h', 'o')
  if e[1] == '1' or e[2] == me then own[p[1]] = true end
end
local ac = autoclaim()
if ac.err then
  -- NOGROUP: Redis lost its data (a restart without persistence, FLUSHALL, a replaced
  -- node) and an accept recreated the stream without the group. Make it again from the
  -- start, or no consumer anywhere could claim until every process restarts.
  if string.sub(ac.err, 1, 7) ~= 'NOGROUP' then return redis.error_reply(ac.err) end
  redis.call('XGROUP', 'CREATE', S, 'g', '0', 'MKSTREAM')
  redis.call('DEL', AC)
  ac = autoclaim()
  if ac.err then return redis.error_reply(ac.err) end
end
redis.call('SET', AC, ac[1])
-- What this claim took over from other consumers.
local took = {}
for _, id in ipairs(ac[2]) do
  local E = ns .. ':e:' .. id
  -- Taken from another consumer: no longer taken back by this one from itself (o).
  if not own[id] then took[id] = true; redis.call('HDEL', E, 'o') end
  if redis.call('HGET', E, 'h') == '1' then
    if own[id] then
      redis.call('HSET', E, 'h', 0, 'x', 1, 'o', me)
    else
      redis.call('HSET', E, 'h', 0, 'x', 1)
    end
    redis.call('HINCRBY', N, 'inflight', -1)
  end
end
-- Only entries that could be handed out now count as waiting: one blocked
-- behind its conversation (or backing off) must not stop this consumer
-- from taking new work; it is parked instead.
local function ready(id, e)
  return e[1] ~= '1' and tonumber(e[2]) <= now
    and (e[3] == '' or redis.call('LINDEX', ns .. ':c:' .. e[3], 0) == id)
end
local function weigh(id)
  -- Parked, yet read again (the group made again from the start of the stream after Redis
  -- lost it): it stays parked, or it would run here and again when it comes back.
  if is_parked(id) then
    redis.call('XACK', S, 'g', id)
    return false
  end
  local e = redis.call('HMGET', ns .. ':e:' .. id, 'h', 'nb', 'c')
  if not e[1] then return false end
  if ready(id, e) then return true end
  if e[1] ~= '1' then
    local nb = tonumber(e[2])
    if nb > now then park(id, PK, nb) else park(id, PB, now + 10 * lease) end
  end
  return false
end
local pend = redis.call('XPENDING', S, 'g', '-', '+', hold, me)
local waiting = 0
for _, p in ipairs(pend) do
  if weigh(p[1]) then waiting = waiting + 1 end
end
-- Parked entries whose time has come, as many as this claim can hand out (more, held here,
-- waited for this consumer while the others read new work), into its pending list: handed
-- out below, before anything new. Retries due first; then entries behind their
-- conversation's head, woken ones first (score 0), then those looked at after ten leases
-- (the safety net), which wait on if still behind it. The two sets apart: those looks,
-- many in a long backlog, never hold up a retry.
local last_read = nil
local function unread(id)
  -- An entry past the group's read position (the group made again from the start of the
  -- stream after Redis lost it) is left to that read: claimed now, the read would then hand
  -- it to another consumer while it runs here.
  if not last_read then
    last_read = '0-0'
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', S)) do
      local f = {}
      for j = 1, #g, 2 do f[g[j]] = g[j + 1] end
      if f['name'] == 'g' then last_read = f['last-delivered-id'] end
    end
  end
  return before(last_read, id)
end
for _, set in ipairs({PK, PB}) do
  local looks = 100
  while waiting < max and looks > 0 do
    local due = redis.call('ZRANGEBYSCORE', set, '-inf', now, 'LIMIT', 0, math.min(max - waiting, looks))
    if #due == 0 then break end
    looks = looks - #due
    for _, id in ipairs(due) do
      local c = redis.call('HGET', ns .. ':e:' .. id, 'c')
      if c and c ~= '' and redis.call('LINDEX', ns .. ':c:' .. c, 0) ~= id then
        redis.call('ZREM', set, id)
        redis.call('ZADD', PB, now + 10 * lease, id)
      elseif unread(id) then
        redis.call('ZREM', PK, id)
        redis.call('ZREM', PB, id)
      else
        unpark(id, me, lease + 1)
        waiting = waiting + 1
      end
    end
  end
end
-- New entries until enough are ready, parking the others, within a budget per claim: a
-- consumer asking for one event at a time still gets past a long run of blocked ones.
if #pend < hold then
  local budget = 256
  while waiting < max and budget > 0 do
    local r = redis.call('XREADGROUP', 'GROUP', 'g', me, 'COUNT', math.min(max - waiting, budget),
      'STREAMS', S, '>')
    if not r or not r[1] or #r[1][2] == 0 then break end
    budget = budget - #r[1][2]
    for _, en in ipairs(r[1][2]) do
      if weigh(en[1]) then waiting = waiting + 1 end
    end
  end
end
-- Read again: the entries parked above have left it.
pend = redis.call('XPENDING', S, 'g', '-', '+', hold, me)
local out = {}
for _, p in ipairs(pend) do
  if #out >= max then break end
  local id = p[1]
  local E = ns .. ':e:' .. id
  local e = redis.call('HMGET', E, 'h', 'nb', 'c', 'a', 'b', 'i', 'x', 'o', 'g')
  if not e[1] then
    leave(id, nil)
  elseif ready(id, e) then
    local a = tonumber(e[4])
    -- Taken back from itself (o): the call that ran it may still run here, and the
    -- consumer leaves it to that call. Handed out again as the same attempt, not a new
    -- one: counted, that call's nack found its attempts spent a run early; on the last
    -- attempt, the event went to the dead letters while it ran (its ack then refused).
    -- Once per attempt (g): a call that ended without settling it (a consumer name used
    -- again after a restart, a handler that crashes the process) is not told apart from
    -- one still running, and uncounted, such an event never reached the dead letters.
    local again = e[8] == me and tonumber(e[9] or '-1') ~= a
    if a >= maxa and not again then
      to_dead(id, e[7] == '1' and 'lease expired on the last attempt (the consumer stopped while handling it)' or nil)
    else
      -- A new attempt clears g: left, a release (which lowers a) brought a later attempt
      -- to the same number, and its first take-back counted.
      if again then redis.call('HSET', E, 'g', a) else a = a + 1; redis.call('HDEL', E, 'g') end
      -- A full lease from now: the entry may have waited in this consumer's
      -- pending list (behind its conversation) long enough to look abandoned.
      redis.call('XCLAIM', S, 'g', me, 0, id, 'JUSTID')
      redis.call('HSET', E, 'h', 1, 'a', a)
      -- Handed out: `h` says whose it is now; a mark `o` left would keep it this
      -- consumer's own after a nack and another consumer's takeover, for good.
      redis.call('HDEL', E, 'o')
      redis.call('HINCRBY', N, 'inflight', 1)
      out[#out + 1] = {id, e[5], e[6], a, e[3]}
    end
  end
end
-- What this claim took over from other consumers and does not hand out (ready entries past
-- `max`: a dead worker's expired ones, up to 100 at a time) is made idle past the lease
-- again, so that the next claim by any consumer takes its own share, instead of waiting
-- here for this one while the others read new events. Only those: this consumer's own
-- entries (taken back above, or by an earlier claim) may still be running here.
local first
for _, p in ipairs(pend) do
  if took[p[1]] and redis.call('HGET', ns .. ':e:' .. p[1], 'h') == '0' then
    redis.call('XCLAIM', S, 'g', me, 0, p[1], 'IDLE', lease + 1, 'JUSTID')
    first = first or p[1]
  end
end
-- The takeover's scan goes on from the first of them: XAUTOCLAIM stopped at its COUNT left
-- the scan after them, and the next claims read new events until it came round again.
local cursor = redis.call('GET', AC) or '0-0'
if first and cursor ~= '0-0' and before(first, cursor) then redis.call('SET', AC, first) end
return out
"#),
            // ARGV: ns consumer lease id… (the events the consumer is handling;
            // only those it still holds are renewed: XCLAIM would take another's)
            extend: s(r#"
local me = ARGV[2]
watch_gap(tonumber(ARGV[3]))
local ids = {}
for j = 4, #ARGV do
  if held(me, ARGV[j]) then ids[#ids + 1] = ARGV[j] end
end
if #ids == 0 then return 0 end
-- Every id in one call. `unpack(ids)` followed by another argument would pass only the
-- first id (Lua truncates a multi-value call that is not the last argument), and the other
-- leases would run out under a live consumer.
local a = {'XCLAIM', S, 'g', me, 0}
for _, id in ipairs(ids) do a[#a + 1] = id end
a[#a + 1] = 'JUSTID'
redis.call(unpack(a))
return #ids
"#),
            // ARGV: ns consumer id idle repeat
            ack: s(r#"
local me, id = ARGV[2], ARGV[3]
wake_idle = ARGV[4]
local E = ns .. ':e:' .. id
-- Handed out, or taken back from this consumer by its own claim after its lease lapsed (o:
-- the call that ran it may have gone on, and its ack is the answer; refused, the event ran
-- again after it). Such an entry no longer counts in flight.
local e = redis.call('HMGET', E, 'b', 'c', 'h', 'o')
if not held(me, id) or (e[3] ~= '1' and e[4] ~= me) then return settled(me, id, ARGV[5]) end
leave(id, e[2])
unref(e[1])
redis.call('DEL', E)
redis.call('HINCRBY', N, 'handled', 1)
if e[3] == '1' then redis.call('HINCRBY', N, 'inflight', -1) end
return settle(me, id, 1)
"#),
            // ARGV: ns consumer id error delay max_attempts idle repeat
            nack: s(r#"
local me, id, err = ARGV[2], ARGV[3], ARGV[4]
local delay, maxa = tonumber(ARGV[5]), tonumber(ARGV[6])
wake_idle = ARGV[7]
local E = ns .. ':e:' .. id
-- Handed out, or taken back from itself (o), as for an ack: refused, the failure was lost
-- (no retry delay, no error kept) and the next claim handed the event out again at once.
local e = redis.call('HMGET', E, 'h', 'o', 'a')
if not held(me, id) or (e[1] ~= '1' and e[2] ~= me) then return settled(me, id, ARGV[8]) end
if e[1] == '1' then redis.call('HINCRBY', N, 'inflight', -1) end
if tonumber(e[3]) >= maxa then
  to_dead(id, err)
  return settle(me, id, 2)
end
local nb = server_ms() + delay
redis.call('HSET', E, 'h', 0, 'nb', nb, 'err', err)
redis.call('HDEL', E, 'o')
-- Parked until its retry time: then the next claim takes it (it was the head of its
-- conversation, and stays so).
park(id, PK, nb)
return settle(me, id, 1)
"#),
            // ARGV: ns consumer id-or-empty idle. With an id: that event, held, given back
            // (0 when not held), then the sweep; with '': the sweep alone (a consumer
            // closing with nothing held), returning how many entries it made idle.
            release: s(r#"
local me, id, idle = ARGV[2], ARGV[3], ARGV[4]
if id ~= '' then
  local E = ns .. ':e:' .. id
  -- Handed out, or taken back from itself (o), as for an ack and a nack.
  local e = redis.call('HMGET', E, 'h', 'o')
  if not held(me, id) or (e[1] ~= '1' and e[2] ~= me) then return 0 end
  redis.call('HSET', E, 'h', 0)
  redis.call('HDEL', E, 'o')
  redis.call('HINCRBY', E, 'a', -1)
  if e[1] == '1' then redis.call('HINCRBY', N, 'inflight', -1) end
  -- Idle past the lease: any live consumer takes it at once.
  redis.call('XCLAIM', S, 'g', me, 0, id, 'IDLE', idle, 'JUSTID')
end
-- The sweep: so are the entries this consumer read but had not handed out yet.
local swept = 0
-- Not those taken back from itself (o): their calls may still be running here.
for _, p in ipairs(pending('-', '+', 1000, me)) do
  local e = redis.call('HMGET', ns .. ':e:' .. p[1], 'h', 'o')
  if e[1] ~= '1' and e[2] ~= me then
    redis.call('XCLAIM', S, 'g', me, 0, p[1], 'IDLE', idle, 'JUSTID')
    swept = swept + 1
  end
end
if id ~= '' then return 1 end
return swept
"#),
            // ARGV: ns consumer. The entries of its pending list marked handed out.
            handed_out: s(r#"
local out = {}
for _, p in ipairs(pending('-', '+', 1000, ARGV[2])) do
  if redis.call('HGET', ns .. ':e:' .. p[1], 'h') == '1' then out[#out + 1] = p[1] end
end
return out
"#),
            // ARGV: ns id-or-empty now
            replay: s(r#"
local rows = dead_rows(ARGV[2])
for _, r in ipairs(rows) do
  local f = r[2]
  local id = redis.call('XADD', S, '*', 'e', '1')
  redis.call('HSET', ns .. ':e:' .. id, 'b', f.b, 'i', f.i, 'c', f.c or '', 'k', f.k or '',
    't', f.t or ARGV[3], 'a', 0, 'h', 0, 'nb', 0)
  if f.c and f.c ~= '' then redis.call('RPUSH', ns .. ':c:' .. f.c, id) end
  redis.call('XDEL', D, r[1])
end
return #rows
"#),
            // ARGV: ns id-or-empty
            drop_dead: s(r#"
local rows = dead_rows(ARGV[2])
for _, r in ipairs(rows) do
  if r[2].b then unref(r[2].b) end
  redis.call('XDEL', D, r[1])
end
return #rows
"#),
            // ARGV: ns idle-ms. Deletes the group's consumers that hold nothing and
            // have not claimed for idle-ms (a live consumer that comes back is
            // recreated by its next XREADGROUP; one that holds entries is kept).
            forget: s(r#"
local idle_min = tonumber(ARGV[2])
local n = 0
local cs = redis.pcall('XINFO', 'CONSUMERS', S, 'g')
-- No group (Redis lost its data): no consumers to forget.
if cs.err then
  if string.sub(cs.err, 1, 7) == 'NOGROUP' or string.find(cs.err, 'no such key') then return 0 end
  error(cs.err)
end
for _, c in ipairs(cs) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if tonumber(f['pending']) == 0 and tonumber(f['idle']) > idle_min then
    redis.call('XGROUP', 'DELCONSUMER', S, 'g', f['name'])
    n = n + 1
  end
end
return n
"#),
        }
    }
}
