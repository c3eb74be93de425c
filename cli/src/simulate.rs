//! `wa360 simulate-inbound`: ask a running sandbox to deliver a simulated inbound message.

use clap::Args;
use serde_json::{Value, json};

use crate::{ApiOpts, CliResult, Failure};

#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
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

pub(crate) async fn run_simulate(s: SimulateArgs) -> CliResult {
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
        .timeout(crate::seconds_arg("timeout", s.api.timeout, false)?)
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
    outln!(
        "{}",
        json!({"message_ids": v["message_ids"], "webhook_url": v["webhook_url"]})
    );
    Ok(())
}
