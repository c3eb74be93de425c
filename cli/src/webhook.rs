//! `wa360 webhook set|get`: the webhook registration.

use clap::Subcommand;
use serde_json::{Value, json};
use wa360::webhook::registration::{WebhookSettings, validate_webhook_url};

use crate::{ApiOpts, CliResult, Failure, make_client};

#[derive(Subcommand, Debug)]
pub(crate) enum WebhookCmd {
    /// Register the webhook URL (replaces the previous one).
    Set {
        #[command(flatten)]
        api: ApiOpts,
        /// The HTTPS callback URL (no `_` in the host, no port).
        url: String,
        /// Set the WABA-level webhook instead of the phone-number-level one.
        #[arg(long)]
        waba: bool,
        /// Send `Authorization: Basic …` with every delivery (user:pass). Prefer the
        /// variable: an argument is visible to other users of the machine (`ps`).
        #[arg(
            long,
            value_name = "USER:PASS",
            env = "WA360_WEBHOOK_BASIC_AUTH",
            hide_env_values = true
        )]
        basic_auth: Option<String>,
        /// Another header sent with every delivery (repeatable), as K=V.
        #[arg(long = "header", value_name = "K=V")]
        headers: Vec<String>,
        /// Another header whose value is read from the environment variable VAR
        /// (repeatable), as K=VAR: a secret kept out of the arguments, which other users
        /// of the machine can see (`ps`).
        #[arg(long = "header-env", value_name = "K=VAR")]
        header_env: Vec<String>,
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

pub(crate) async fn run_webhook(w: WebhookCmd) -> CliResult {
    match w {
        WebhookCmd::Set {
            api,
            url,
            waba,
            basic_auth,
            headers,
            header_env,
            allow_local_http,
        } => {
            let mut settings = WebhookSettings::new(url.clone());
            if let Some(ba) = basic_auth {
                let (user, pass) = ba
                    .split_once(':')
                    .ok_or_else(|| Failure::input("--basic-auth must look like user:password"))?;
                // The Verifier's rules: credentials it refuses could never be checked by a
                // wa360 receiver. The message names the rule, never the value.
                wa360::webhook::verify::Verifier::basic_auth(user, pass)
                    .map_err(|e| Failure::input(format!("--basic-auth: {e}")))?;
                settings = settings.basic_auth(user, pass);
            }
            let mut pairs = Vec::with_capacity(headers.len() + header_env.len());
            for h in &headers {
                // The value may be a secret: a malformed one is never echoed.
                let (k, v) = h
                    .split_once('=')
                    .ok_or_else(|| Failure::input("each --header must look like Name=value"))?;
                pairs.push((k.to_string(), v.to_string()));
            }
            for h in &header_env {
                // Neither part is echoed: a value typed here by mistake (K=secret, the shape
                // --header takes) would land in terminal and CI logs.
                let (k, var) = h.split_once('=').ok_or_else(|| {
                    Failure::input("each --header-env must look like Name=VARIABLE")
                })?;
                let v = std::env::var(var).map_err(|_| {
                    Failure::input(format!(
                        "--header-env {k}: no such environment variable (give the name of a \
                         variable that is set, not the value)"
                    ))
                })?;
                pairs.push((k.to_string(), v));
            }
            for (k, v) in &pairs {
                let (k, v) = (k.as_str(), v.as_str());
                // A second value for a name would replace the first (or the Basic
                // credentials) without a word.
                if settings.headers.keys().any(|n| n.eq_ignore_ascii_case(k)) {
                    return Err(Failure::input(format!(
                        "--header {k} is given twice, or also set by --basic-auth (header names are case-insensitive)"
                    )));
                }
                settings = settings.header(k, v);
            }
            let local = allow_local_http && is_local_http(&url)?;
            if !local {
                validate_webhook_url(&url).map_err(|e| {
                    let mut f = Failure::from(e);
                    if is_local_http(&url).unwrap_or(true) {
                        f.message
                            .push_str(" (for a local sandbox receiver pass --allow-local-http)");
                    }
                    f
                })?;
                settings.validate()?;
            }
            let client = make_client(&api)?;
            // Through the registration API, which keeps the header secrets out of errors
            // and logs (a refusal may echo the body). A local http receiver is only for a
            // sandbox started with --allow-http-callbacks: every rule but the URL's applies.
            let hooks = client.webhooks();
            let answer = match (local, waba) {
                (true, _) => hooks.set_local(waba, &settings).await?,
                (false, true) => hooks.set_waba(&settings).await?,
                (false, false) => hooks.set_phone(&settings).await?,
            };
            let shown = answer.get("url").and_then(Value::as_str).unwrap_or(&url);
            outln!(
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
                    outln!(
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

/// Whether `url` is a local receiver's (`http://127.0.0.1…` or `http://localhost…`), for
/// `--allow-local-http`; an error when it starts as one but is not a plain one: credentials
/// (`http://localhost:80@evil.example/` reaches another host), a fragment, or spaces and
/// control characters, which the other rules would refuse too.
fn is_local_http(url: &str) -> Result<bool, Failure> {
    let lower = url.to_ascii_lowercase();
    let looks_local = ["http://127.0.0.1", "http://localhost"].iter().any(|p| {
        lower
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/', '?', '@']))
    });
    if !looks_local {
        return Ok(false);
    }
    let plain = !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && reqwest::Url::parse(url).is_ok_and(|u| {
            matches!(u.host_str(), Some("127.0.0.1" | "localhost"))
                && u.username().is_empty()
                && u.password().is_none()
                && u.fragment().is_none()
        });
    if plain {
        Ok(true)
    } else {
        Err(Failure::input(
            "a local receiver's URL must be http://127.0.0.1:PORT/… or http://localhost:PORT/…, without credentials, fragment or spaces",
        ))
    }
}
