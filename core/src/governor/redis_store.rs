//! [`RedisStore`]: the governor's state in Redis, so that every process on
//! every machine sending from one business number shares one token bucket
//! and one pair-rate memory per recipient.
//!
//! Each [`GovernorStore`] operation is one Lua script over one hash
//! (`{wa360-gov}:<key>` with fields `tat`, `count`, `scale`, `scale_at`,
//! `last_dec`, `blk` the end of a back-off, and `rn` / `cx` naming the latest
//! reservation and a cancelled one), run atomically on the server and timed by
//! the server's clock (`TIME`), so the machines' clocks never need to agree.
//! Keys expire after an hour without use. The arithmetic is the same as
//! [`super::MemoryStore`]'s, in milliseconds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;

use super::store::{Decrease, GovernorStore, Reservation, StoreFuture};
use crate::redis_conn::RedisConn;
use crate::{Error, Result};

/// How long an unused bucket is kept.
const IDLE_TTL_MS: u64 = 3_600_000;

/// A governor store on a Redis server (`redis://…` / `rediss://…`).
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The connection and the runtime driving it.
    redis: RedisConn,
    prefix: String,
    script: Script,
    /// When the last "cannot be reached" warning was logged (once a minute at most, not
    /// once per send while Redis is away).
    warned: std::sync::Mutex<Option<std::time::Instant>>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.redis.label)
            .finish_non_exhaustive()
    }
}

/// One script, dispatched on `ARGV[1]`: every operation reads the hash,
/// applies the same rule as the in-process store, writes it back.
const LUA: &str = r#"
local K, op = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', K, 'tat', 'count', 'scale', 'scale_at', 'last_dec', 'blk')
local tat = tonumber(h[1]) or now
local count = tonumber(h[2]) or 0
local scale = tonumber(h[3]) or 1
local scale_at = tonumber(h[4]) or now
local last_dec = tonumber(h[5])
-- The end of the last back-off (a block without a slot): no give-back goes before it.
local blk = tonumber(h[6]) or 0
local ttl = tonumber(ARGV[2])
local function scale_now(inc)
  if inc < 0 then inc = 0 end
  local s = scale + inc * math.max(0, now - scale_at) / 1000
  if s > 1 then s = 1 end
  return s
end
-- Numbers as stored and returned: every digit of the double. (Lua's own conversion keeps 14
-- significant digits: a time in ms since 1970 to 0.1 ms only, so every reservation moved
-- `tat` by the interval rounded to 0.1 ms, and processes sharing a store sent up to 5%
-- faster than the rate at 1,000/s, with no pacing at all past 20,000/s.)
local function num(x) return string.format('%.17g', x) end
-- The reservation token: the stored tat in µs, as text without an exponent.
local function token() return string.format('%.0f', tat * 1000) end
local function keep()
  local f = {'tat', num(tat), 'count', count, 'scale', num(scale),
             'scale_at', num(scale_at)}
  if last_dec then f[#f + 1] = 'last_dec'; f[#f + 1] = num(last_dec) end
  if blk > now then f[#f + 1] = 'blk'; f[#f + 1] = num(blk) end
  redis.call('HSET', K, unpack(f))
  local life = math.max(ttl, math.ceil(tat - now) + ttl)
  redis.call('PEXPIRE', K, life)
end
if op == 'reserve' then
  local interval, tolerance, max_wait = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local nonce = ARGV[6]
  -- Cancelled before it ran (see 'cancel'): nothing is reserved.
  if nonce and redis.call('HGET', K, 'cx') == nonce then
    redis.call('HDEL', K, 'cx')
    return {0, num(0)}
  end
  local tt = math.max(tat, now)
  local wait = math.max(0, tt - tolerance - now)
  if wait > max_wait then return {0, num(wait)} end
  -- As stored (`keep` writes num(tat)), so that release compares like with like.
  tat = tonumber(num(tt + interval))
  keep()
  if nonce then redis.call('HSET', K, 'rn', nonce .. ' ' .. token()) end
  return {1, num(wait), token()}
elseif op == 'cancel' then
  -- A reservation whose answer the client never got (Redis stalled past the client's
  -- response timeout, and the send was refused as the store being out of reach): given
  -- back if it ran and is still the latest; if it has not run yet (it came on another
  -- connection), it finds this mark and reserves nothing.
  local nonce, interval = ARGV[3], tonumber(ARGV[4])
  local rn = redis.call('HGET', K, 'rn')
  if rn == nonce .. ' ' .. token() then
    tat = math.max(tat - interval, now, blk)
    redis.call('HDEL', K, 'rn')
  elseif not rn or string.sub(rn, 1, #nonce + 1) ~= nonce .. ' ' then
    redis.call('HSET', K, 'cx', nonce)
  end
  keep()
  return 0
elseif op == 'release' then
  -- Only the latest reservation is given back, unless any will do (GovernorStore::release).
  if ARGV[4] ~= 'any' and token() ~= ARGV[4] then return 0 end
  tat = math.max(tat - tonumber(ARGV[3]), now, blk)
  keep()
  return 0
elseif op == 'block' then
  local latest = ARGV[5] ~= '' and token() == ARGV[5]
  local till = now + tonumber(ARGV[3]) + tonumber(ARGV[4])
  if ARGV[5] == '' then blk = math.max(blk, till) end
  tat = tonumber(num(math.max(tat, till)))
  keep()
  if latest then return token() end
  return ''
elseif op == 'bump' then
  count = count + 1
  keep()
  return count
elseif op == 'clear' then
  count = 0
  keep()
  return 0
elseif op == 'scale' then
  return num(scale_now(tonumber(ARGV[3])))
elseif op == 'decrease' then
  local factor, floor, inc, cooldown = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local current = scale_now(inc)
  if last_dec and now - last_dec < cooldown then return num(current) end
  scale = math.min(1, math.max(floor, current * factor))
  scale_at = now
  last_dec = now
  keep()
  return num(scale)
end
return redis.error_reply('unknown governor op')
"#;

fn ms_f(d: Duration) -> String {
    format!("{}", d.as_secs_f64() * 1000.0)
}

fn from_ms(v: &str) -> Duration {
    let ms: f64 = v.parse().unwrap_or(0.0);
    Duration::from_secs_f64((ms / 1000.0).max(0.0))
}

impl Inner {
    /// True at most once a minute.
    fn warn_now(&self) -> bool {
        let mut last = crate::util::lock(&self.warned);
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
}

impl RedisStore {
    /// Connect to `url` (`redis://[user:password@]host:port/db`, `rediss://`
    /// for TLS). Keys go under `{prefix}:` (default `wa360-gov` with
    /// `?name=`). Fails with `store` when the server cannot be reached.
    pub fn open(url: &str) -> Result<Self> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut name = "wa360-gov".to_string();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("name", n)) if !n.is_empty() && !n.contains(['{', '}']) => name = n.into(),
                _ => {
                    return Err(Error::invalid(
                        "governor_store",
                        "the only option of a redis governor store is name=<non-empty, no braces>",
                    ));
                }
            }
        }
        url::Url::parse(base)
            .map_err(|_| Error::invalid("governor_store", "not a valid redis:// URL"))?;
        let redis = RedisConn::connect(base, "governor store", Duration::from_secs(2))?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                redis,
                prefix: format!("{{{name}}}"),
                script: Script::new(LUA),
                warned: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Run the script for `key`. A store that fails must not stop sending
    /// forever: the error is returned as `None` and the caller falls back
    /// (see each method).
    fn eval(&self, key: &str, args: Vec<String>) -> StoreFuture<'_, Option<redis::Value>> {
        let key = format!("{}:{key}", self.inner.prefix);
        let mut conn = self.inner.redis.conn();
        let script = self.inner.script.clone();
        Box::pin(async move {
            let mut inv = script.prepare_invoke();
            inv.key(key);
            for a in &args {
                inv.arg(a.as_str());
            }
            match inv.invoke_async::<redis::Value>(&mut conn).await {
                Ok(v) => Some(v),
                Err(e) => {
                    // A demoted node: the next call goes to the new primary.
                    if !self.inner.redis.replace_after(&e, false) && self.inner.warn_now() {
                        tracing::warn!(
                            target: "wa360::governor",
                            store = %self.inner.redis.label,
                            error = %crate::redis_conn::error_text(&e),
                            "the governor store cannot be reached: sends are refused until it can"
                        );
                    }
                    None
                }
            }
        })
    }
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

fn ttl() -> String {
    IDLE_TTL_MS.to_string()
}

impl GovernorStore for RedisStore {
    fn reserve(
        &self,
        key: &str,
        interval: Duration,
        tolerance: Duration,
        max_wait: Duration,
    ) -> StoreFuture<'_, Reservation> {
        // Names this reservation for a cancel (below).
        let nonce = format!("{:016x}", fastrand::u64(..));
        let fut = self.eval(
            key,
            vec![
                "reserve".into(),
                ttl(),
                ms_f(interval),
                ms_f(tolerance),
                ms_f(max_wait),
                nonce.clone(),
            ],
        );
        let (this, key) = (self.clone(), key.to_string());
        Box::pin(async move {
            let answer = fut.await;
            if answer.is_none() {
                // No answer: Redis may still make the reservation, once it resumes from a
                // stall longer than the response timeout (the command was sent), with
                // nobody to use it: its recipient would wait a pair interval with nothing
                // sent. A cancel after it gives it back, or stops it if it comes first.
                // On the connection's own runtime where it has one: on a caller's
                // current-thread runtime the cancel could be written after the retry.
                let rt = this.inner.redis.runtime().map(|r| r.handle().clone());
                if let Some(rt) = rt.or_else(|| tokio::runtime::Handle::try_current().ok()) {
                    rt.spawn(async move {
                        this.eval(&key, vec!["cancel".into(), ttl(), nonce, ms_f(interval)])
                            .await;
                    });
                }
            }
            match answer {
                Some(redis::Value::Array(v)) if v.len() == 3 && text(&v[0]) == "1" => {
                    Reservation::Granted {
                        wait: from_ms(&text(&v[1])),
                        slot: text(&v[2]).parse().unwrap_or(0),
                    }
                }
                Some(redis::Value::Array(v)) if v.len() == 2 => Reservation::Refused {
                    retry_after: from_ms(&text(&v[1])),
                },
                // Redis unreachable: refuse for a short while rather than
                // send unpaced (the send fails with `rate_limited`, nothing
                // goes out, the caller may retry).
                _ => Reservation::Unavailable {
                    retry_after: Duration::from_secs(1),
                },
            }
        })
    }

    fn release(&self, key: &str, interval: Duration, slot: u64) -> StoreFuture<'_, ()> {
        let slot = if slot == super::store::ANY_SLOT {
            "any".to_string()
        } else {
            slot.to_string()
        };
        let fut = self.eval(key, vec!["release".into(), ttl(), ms_f(interval), slot]);
        Box::pin(async move {
            fut.await;
        })
    }

    fn block_for(
        &self,
        key: &str,
        duration: Duration,
        tolerance: Duration,
        slot: Option<u64>,
    ) -> StoreFuture<'_, Option<u64>> {
        let fut = self.eval(
            key,
            vec![
                "block".into(),
                ttl(),
                ms_f(duration),
                ms_f(tolerance),
                slot.map(|s| s.to_string()).unwrap_or_default(),
            ],
        );
        Box::pin(async move { fut.await.and_then(|v| text(&v).parse().ok()) })
    }

    fn bump(&self, key: &str) -> StoreFuture<'_, u32> {
        let fut = self.eval(key, vec!["bump".into(), ttl()]);
        Box::pin(async move { fut.await.map_or(1, |v| text(&v).parse().unwrap_or(1)) })
    }

    fn clear(&self, key: &str) -> StoreFuture<'_, ()> {
        let fut = self.eval(key, vec!["clear".into(), ttl()]);
        Box::pin(async move {
            fut.await;
        })
    }

    fn scale(&self, key: &str, increase_per_sec: f64) -> StoreFuture<'_, f64> {
        let fut = self.eval(
            key,
            vec!["scale".into(), ttl(), increase_per_sec.to_string()],
        );
        Box::pin(async move {
            fut.await
                .and_then(|v| text(&v).parse::<f64>().ok())
                .filter(|s| s.is_finite())
                .map_or(f64::NAN, |s| s.clamp(0.0, 1.0))
        })
    }

    fn decrease(&self, key: &str, d: Decrease) -> StoreFuture<'_, f64> {
        let fut = self.eval(
            key,
            vec![
                "decrease".into(),
                ttl(),
                d.factor.to_string(),
                d.floor.to_string(),
                d.increase_per_sec.to_string(),
                ms_f(d.cooldown),
            ],
        );
        Box::pin(async move {
            fut.await
                .and_then(|v| text(&v).parse::<f64>().ok())
                .filter(|s| s.is_finite())
                .map_or(f64::NAN, |s| s.clamp(0.0, 1.0))
        })
    }
}

/// Open a governor store by URL: `memory://` (in this process, the default)
/// or `redis://…` / `rediss://…` (shared by every process using the URL).
pub fn open_store(url: &str) -> Result<Arc<dyn GovernorStore>> {
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(super::MemoryStore::new()));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        return Ok(Arc::new(RedisStore::open(url)?));
    }
    Err(Error::invalid(
        "governor_store",
        "expected memory:// or redis://host:port/db",
    ))
}
