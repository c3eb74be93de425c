//! Testing helpers: the local 360dialog sandbox (crate `wa360-sandbox`)
//! running in-process on napi's tokio runtime, so Node tests get a real HTTP
//! server on 127.0.0.1 without a key or the internet.

use std::sync::Mutex;

use napi::Env;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi_derive::napi;
use serde_json::Value;

use crate::errors::{guard, spawn};

/// The options of `Sandbox.start`, read and range-checked.
fn sandbox_options(o: Option<crate::own::Json>) -> wa360::Result<SandboxOpts> {
    use crate::own::{opt_bool, opt_num, opt_str, options};
    use wa360::input::int_option;
    let o = options(
        o,
        &[
            "apiKey",
            "port",
            "timeScale",
            "allowHttpCallbacks",
            "maxDeliveryAttempts",
        ],
    )?;
    let time_scale = opt_num(&o, "timeScale")?;
    if let Some(t) = time_scale
        && !(t.is_finite() && t > 0.0 && t <= 1000.0)
    {
        return Err(wa360::Error::invalid(
            "timeScale",
            "must be a number above 0 and at most 1000",
        ));
    }
    Ok(SandboxOpts {
        api_key: opt_str(&o, "apiKey")?,
        port: opt_num(&o, "port")?
            .map(|p| int_option("port", p, 0, 65535))
            .transpose()?
            .map(|p| p as u16),
        time_scale,
        allow_http_callbacks: opt_bool(&o, "allowHttpCallbacks")?,
        max_delivery_attempts: opt_num(&o, "maxDeliveryAttempts")?
            .map(|n| int_option("maxDeliveryAttempts", n, 1, 1000))
            .transpose()?
            .map(|n| n as u32),
    })
}

struct SandboxOpts {
    api_key: Option<String>,
    port: Option<u16>,
    time_scale: Option<f64>,
    allow_http_callbacks: Option<bool>,
    max_delivery_attempts: Option<u32>,
}

fn internal(e: impl std::fmt::Display) -> wa360::Error {
    wa360::Error::Internal(format!("sandbox: {e}"))
}

/// A local 360dialog Cloud API emulator (see `sandbox/README.md` for its
/// routes, faults and webhook deliveries). Stop it with `await sandbox.stop()`; one the
/// garbage collector reclaims stops too, so keep a reference while clients use its URL.
#[napi(js_name = "Sandbox")]
pub struct JsSandbox {
    url: String,
    api_key: String,
    control: wa360_sandbox::Control,
    inner: Mutex<Option<wa360_sandbox::Sandbox>>,
}

#[napi]
impl JsSandbox {
    /// Start a sandbox on 127.0.0.1.
    #[napi(
        ts_args_type = "options?: SandboxOptions | undefined | null",
        ts_return_type = "Promise<Sandbox>"
    )]
    pub fn start<'env>(
        env: &'env Env,
        options: Option<crate::own::Json>,
    ) -> napi::Result<PromiseRaw<'env, JsSandbox>> {
        let o = sandbox_options(options).map_err(|e| crate::errors::js_error(env, &e))?;
        spawn(
            env,
            async move {
                let mut b = wa360_sandbox::Sandbox::builder();
                if let Some(k) = o.api_key {
                    b = b.api_key(k);
                }
                if let Some(p) = o.port {
                    b = b.port(p);
                }
                if let Some(t) = o.time_scale {
                    b = b.time_scale(t);
                }
                b = b.allow_http_callbacks(o.allow_http_callbacks.unwrap_or(true));
                if let Some(n) = o.max_delivery_attempts {
                    b = b.max_delivery_attempts(n);
                }
                b.start().await.map_err(internal)
            },
            |_, sb| {
                Ok(JsSandbox {
                    url: sb.url(),
                    api_key: sb.api_key().to_owned(),
                    control: sb.control(),
                    inner: Mutex::new(Some(sb)),
                })
            },
        )
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT` (pass it as `baseUrl` to `Client`).
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The API key the sandbox accepts.
    #[napi(getter)]
    pub fn api_key(&self) -> String {
        self.api_key.clone()
    }

    /// Simulate inbound messages (same forms as `POST /_sandbox/inbound`:
    /// one event `{ from, type, text: … }`, `{ events: [...] }`, raw messages or a
    /// full webhook body). Delivered to the registered webhook; resolves to the message ids.
    #[napi(ts_args_type = "event: Record<string, unknown> | Array<Record<string, unknown>>")]
    pub fn inbound<'env>(
        &self,
        env: &'env Env,
        event: crate::own::Json,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        self.on_control(env, "event", move |c| c.inbound(&event.0))
    }

    /// Every API request received, oldest first (the API key header is
    /// removed); `path` (exact) and `method` (any case) keep only the matching ones.
    #[napi(
        ts_args_type = "options?: { path?: string; method?: string }",
        ts_return_type = "Array<Record<string, any>>"
    )]
    pub fn requests(&self, env: Env, options: Option<crate::own::Json>) -> napi::Result<Value> {
        guard(&env, || {
            let o = crate::own::options(options, &["path", "method"])?;
            let path = crate::own::opt_str(&o, "path")?;
            let method = crate::own::opt_str(&o, "method")?;
            serde_json::to_value(
                self.control
                    .requests_matching(path.as_deref(), method.as_deref()),
            )
            .map_err(internal)
        })
    }

    /// Every webhook delivery attempt, oldest first.
    #[napi(ts_return_type = "Array<Record<string, any>>")]
    pub fn deliveries(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || {
            serde_json::to_value(self.control.deliveries()).map_err(internal)
        })
    }

    /// Make the next `count` matching requests fail (`count: 0`: until cleared), as
    /// Python's `fault(kind, *, method, path, count, **params)`: `method` and `path`
    /// default to `POST` and `/messages` (`null` matches any; a path ending in `*` is a
    /// prefix), `count` to 1, and the other keys are the kind's parameters
    /// (`fault('rate_limit', { retry_after: 2 })`, `fault('meta_error', { code: 131047 })`).
    /// The rule is assembled by the sandbox (`FaultRule::from_kind`).
    #[napi(
        ts_args_type = "kind: string, options?: FaultOptions & Record<string, unknown> | undefined | null"
    )]
    pub fn fault(
        &self,
        env: Env,
        kind: String,
        options: Option<crate::own::Json>,
    ) -> napi::Result<()> {
        guard(&env, || {
            let options = match options.map(|j| j.0) {
                None | Some(Value::Null) => serde_json::Map::new(),
                Some(Value::Object(m)) => m,
                Some(_) => return Err(wa360::Error::invalid("options", "must be an object")),
            };
            self.control.fault(&kind, options)
        })
    }

    /// Script a fault rule: `{ method?, path?, count?, fault: { kind: 'rate_limit' |
    /// 'meta_error' | … } }` (see sandbox/README.md). Rules apply in order to the next
    /// matching requests.
    #[napi(ts_args_type = "rule: Record<string, unknown>")]
    pub fn add_fault(&self, env: Env, rule: crate::own::Json) -> napi::Result<()> {
        guard(&env, || self.control.add_fault_json(rule.0))
    }

    /// The wait of `waitFor(predicate, { timeoutMs, intervalMs })` (wa360.js runs the
    /// predicate): the sandbox's `Waiter` reads the options and keeps the deadline.
    #[napi(js_name = "_waiter", ts_args_type = "options?: object | null")]
    pub fn waiter(&self, env: Env, options: Option<crate::own::Json>) -> napi::Result<JsWaiter> {
        guard(&env, || {
            let o = crate::own::options(options, &["timeoutMs", "intervalMs"])?;
            let interval = crate::own::opt_num(&o, "intervalMs")?;
            Ok(JsWaiter(self.wait(&o, "condition", interval, None)?))
        })
    }

    /// The wait of `waitDeliveries(n, { kind, ok, timeoutMs })`: what to wait for and
    /// the deadline, read by the sandbox's `DeliveryWait` and `Waiter`.
    #[napi(
        js_name = "_deliveryWaiter",
        ts_args_type = "n: number, options?: object | null"
    )]
    pub fn delivery_waiter(
        &self,
        env: Env,
        n: crate::own::Json,
        options: Option<crate::own::Json>,
    ) -> napi::Result<JsWaiter> {
        guard(&env, || {
            let o = crate::own::options(options, &["kind", "ok", "timeoutMs"])?;
            let wait = wa360_sandbox::DeliveryWait {
                n: wa360::input::int_option("n", n.0.as_f64().unwrap_or(f64::NAN), 0, 1 << 32)?
                    as usize,
                kind: crate::own::opt_str(&o, "kind")?,
                ok: crate::own::opt_bool(&o, "ok")?.unwrap_or(true),
            };
            Ok(JsWaiter(self.wait(
                &o,
                &wait.describe(),
                None,
                Some(wait),
            )?))
        })
    }

    /// The registered phone-number webhook as `{ url, headers }`, or `null`.
    #[napi(ts_return_type = "{ url: string, headers: Record<string, string> } | null")]
    pub fn phone_webhook(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || {
            serde_json::to_value(self.control.phone_webhook()).map_err(internal)
        })
    }

    /// The registered WABA-level webhook as `{ url, headers }`, or `null`.
    #[napi(ts_return_type = "{ url: string, headers: Record<string, string> } | null")]
    pub fn waba_webhook(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || {
            serde_json::to_value(self.control.waba_webhook()).map_err(internal)
        })
    }

    /// Enforce rate limits like the real API: `{ messages_per_second?, pair_rate?: { interval_ms,
    /// burst? }, endpoint_rps? }` (absent = off; see sandbox/README.md).
    #[napi(ts_args_type = "limits: Record<string, unknown>")]
    pub fn set_limits(&self, env: Env, limits: crate::own::Json) -> napi::Result<()> {
        guard(&env, || self.control.set_limits_json(limits.0))
    }

    /// Sends per recipient: `{ '15555550123': { accepted, throughput_refused, pair_refused } }`.
    #[napi(
        ts_return_type = "Record<string, { accepted: number, throughput_refused: number, pair_refused: number }>"
    )]
    pub fn recipient_counts(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || {
            serde_json::to_value(self.control.recipient_counts()).map_err(internal)
        })
    }

    /// Remove every pending fault rule.
    #[napi]
    pub fn clear_faults(&self) {
        self.control.clear_faults();
    }

    /// Mark users as having written in the last 24 hours (only those can be blocked).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn mark_seen<'env>(
        &self,
        env: &'env Env,
        users: Vec<String>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.on_control(env, "users", move |c| c.mark_seen(&users))
    }

    /// Replace the `/health_status` answer (`null` restores the healthy one).
    #[napi(
        ts_args_type = "answer: Record<string, unknown> | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_health<'env>(
        &self,
        env: &'env Env,
        answer: Option<crate::own::Json>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.on_control(env, "answer", move |c| c.set_health(answer.map(|a| a.0)))
    }

    /// Register a webhook directly in the sandbox, bypassing the client's URL
    /// rules so local receivers on `http://127.0.0.1:PORT` can be used.
    #[napi(
        ts_args_type = "url: string, options?: { headers?: Record<string, string>; waba?: boolean }",
        ts_return_type = "Promise<void>"
    )]
    pub fn register_webhook<'env>(
        &self,
        env: &'env Env,
        url: String,
        options: Option<crate::own::Settings>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let o = guard(env, || {
            crate::own::options(options.map(crate::own::Json::from), &["headers", "waba"])
        })?;
        let headers: std::collections::BTreeMap<String, String> =
            guard(env, || crate::own::opt_str_map(&o, "headers"))?
                .unwrap_or_default()
                .into_iter()
                .collect();
        let waba = guard(env, || crate::own::opt_bool(&o, "waba"))?.unwrap_or(false);
        let control = self.control.clone();
        spawn(
            env,
            async move { control.register_webhook(waba, &url, &headers) },
            |_, v| Ok(v),
        )
    }

    /// Forget requests, deliveries, faults, webhooks and media.
    #[napi]
    pub fn reset(&self) {
        self.control.reset();
    }

    /// Stop the server and its background deliveries.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let sb = self.inner.lock().ok().and_then(|mut g| g.take());
        spawn(
            env,
            async move {
                if let Some(sb) = sb {
                    sb.shutdown().await;
                }
                Ok(())
            },
            |_, v| Ok(v),
        )
    }
}

/// A running wait of `Sandbox.waitFor` / `waitDeliveries` (internal to wa360.js).
#[napi(js_name = "SandboxWaiter")]
pub struct JsWaiter(wa360_sandbox::SandboxWait);

#[napi]
impl JsWaiter {
    /// Milliseconds to sleep before trying again; throws a `timeout` error once the
    /// deadline has passed.
    #[napi]
    pub fn pause_ms(&self, env: Env) -> napi::Result<f64> {
        guard(&env, || Ok(self.0.pause()?.as_secs_f64() * 1000.0))
    }

    /// For `waitDeliveries`: the matching deliveries once there are enough, else `null`.
    #[napi(ts_return_type = "Array<Record<string, any>> | null")]
    pub fn deliveries(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || {
            serde_json::to_value(self.0.deliveries()).map_err(internal)
        })
    }
}

impl JsSandbox {
    /// A wait on this sandbox from Node's `timeoutMs` option (and the interval, in ms).
    fn wait(
        &self,
        o: &serde_json::Map<String, Value>,
        what: &str,
        interval_ms: Option<f64>,
        deliveries: Option<wa360_sandbox::DeliveryWait>,
    ) -> wa360::Result<wa360_sandbox::SandboxWait> {
        let waiter = wa360_sandbox::Waiter::start(
            what,
            crate::own::opt_num(o, "timeoutMs")?,
            interval_ms,
            wa360_sandbox::WaitUnit::Millis,
        )?;
        Ok(wa360_sandbox::SandboxWait::new(
            self.control.clone(),
            waiter,
            deliveries,
        ))
    }

    /// Run one control call off the JS thread; its error text becomes
    /// `invalid_argument` naming `field`.
    fn on_control<'env, T: ToNapiValue + Send + 'static>(
        &self,
        env: &'env Env,
        field: &'static str,
        call: impl FnOnce(&wa360_sandbox::Control) -> std::result::Result<T, String> + Send + 'static,
    ) -> napi::Result<PromiseRaw<'env, T>> {
        let control = self.control.clone();
        spawn(
            env,
            async move { call(&control).map_err(|e| wa360::Error::invalid(field, e)) },
            |_, v| Ok(v),
        )
    }
}
