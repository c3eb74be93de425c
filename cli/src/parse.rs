//! `wa360 parse`: a webhook body's events as canonical JSON, one per line.

use clap::Args;

use crate::{CliResult, Failure, read_input};

#[derive(Args, Debug)]
pub(crate) struct ParseArgs {
    /// The webhook body: a file path, or `-` (default) for stdin.
    #[arg(default_value = "-")]
    file: String,
}

pub(crate) fn run_parse(p: ParseArgs) -> CliResult {
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
    out!("{out}");
    Ok(())
}
