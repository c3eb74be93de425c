//! `wa360 sandbox`: run the local 360dialog emulator until Ctrl-C / SIGTERM.

use std::path::PathBuf;

use clap::Args;

use crate::{CliResult, Failure, wait_for_signal};

#[derive(Args, Debug)]
pub(crate) struct SandboxArgs {
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

pub(crate) async fn run_sandbox(a: SandboxArgs) -> CliResult {
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
        // Write then rename, so a reader never sees half a file. The file holds the key:
        // readable by its owner only, and created afresh (a file or link left at the
        // temporary name is removed, never written through).
        // Its own name beside the file (`x.env` → `x.env.wa360-tmp-<pid>`), never another
        // file of the user's (`with_extension("tmp")` removed an unrelated `x.tmp`).
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".wa360-tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    outln!("wa360 sandbox listening on {}", sb.url());
    outln!("export WA360_BASE_URL={}", sb.url());
    outln!("export D360_API_KEY={}", sb.api_key());
    outln!(
        "http callbacks: {}; time scale: {}; control routes: {}/_sandbox/… (see sandbox/README.md)",
        if a.allow_http_callbacks {
            "allowed for 127.0.0.1/localhost"
        } else {
            "refused (https only)"
        },
        a.time_scale,
        sb.url()
    );
    outln!("press Ctrl-C to stop");
    wait_for_signal().await;
    sb.shutdown().await;
    outln!("wa360 sandbox stopped");
    Ok(())
}
