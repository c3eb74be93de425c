//! `wa360 inbox stats|dead|replay|drop|prune`: look after a durable webhook
//! inbox (the file the receivers share) from the shell. Everything is the
//! core's `wa360::inbox`; this file parses arguments and prints JSON.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::{CliResult, Failure};

#[derive(Args, Debug)]
pub(crate) struct InboxArgs {
    /// The inbox URL, e.g. sqlite:///var/lib/app/wa360-inbox.db.
    // The URL may carry a Redis password: `--help` never shows the variable's value.
    #[arg(long, env = "WA360_INBOX", global = true, hide_env_values = true)]
    url: Option<String>,
    #[command(subcommand)]
    command: InboxCmd,
}

#[derive(Subcommand, Debug)]
enum InboxCmd {
    /// Counts as JSON: ready, in_flight, dead, handled, duplicates, stale, keys.
    Stats,
    /// Dead letters as JSON lines (id, attempts, last_error, accepted_at_ms, event).
    Dead {
        /// At most this many, oldest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead letters back in line with fresh attempts.
    Replay(Pick),
    /// Delete dead letters for good.
    Drop(Pick),
    /// Drop dedupe keys and folded statuses past the retention.
    Prune,
}

#[derive(Args, Debug)]
struct Pick {
    /// The dead letter's id (from `wa360 inbox dead`).
    id: Option<String>,
    /// Every dead letter.
    #[arg(long, conflicts_with = "id")]
    all: bool,
}

impl Pick {
    fn target(&self, verb: &str) -> Result<Option<&str>, Failure> {
        match (&self.id, self.all) {
            (Some(id), false) => Ok(Some(id)),
            (None, true) => Ok(None),
            _ => Err(Failure::input(format!(
                "inbox {verb}: give a dead letter's id, or --all"
            ))),
        }
    }
}

pub(crate) fn run(a: InboxArgs) -> CliResult {
    let url = a
        .url
        .ok_or_else(|| Failure::input("give the inbox URL with --url or WA360_INBOX"))?;
    // Looking after an inbox means one that exists: a mistyped path, Redis db or name=
    // would otherwise become a new, empty inbox, with zeros printed as if all were well.
    let inbox = wa360::inbox::open_existing(&url)?;
    match a.command {
        InboxCmd::Stats => {
            let s = inbox.stats()?;
            outln!(
                "{}",
                json!({
                    "ready": s.ready, "in_flight": s.in_flight, "dead": s.dead,
                    "handled": s.handled, "duplicates": s.duplicates, "stale": s.stale,
                    "keys": s.keys,
                })
            );
        }
        InboxCmd::Dead { limit } => {
            for d in inbox.dead(limit)? {
                outln!(
                    "{}",
                    json!({
                        "id": d.id, "attempts": d.attempts, "last_error": d.last_error,
                        "accepted_at_ms": d.accepted_at_ms, "event": d.event.to_canonical(),
                    })
                );
            }
        }
        InboxCmd::Replay(p) => {
            let n = inbox.replay(p.target("replay")?)?;
            outln!("{}", json!({ "replayed": n }));
            if n == 0 && p.id.is_some() {
                return Err(Failure::runtime("no dead letter with that id"));
            }
        }
        InboxCmd::Drop(p) => {
            let n = inbox.drop_dead(p.target("drop")?)?;
            outln!("{}", json!({ "dropped": n }));
            if n == 0 && p.id.is_some() {
                return Err(Failure::runtime("no dead letter with that id"));
            }
        }
        InboxCmd::Prune => {
            outln!("{}", json!({ "pruned": inbox.prune()? }));
        }
    }
    Ok(())
}
