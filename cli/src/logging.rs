//! `-v` / `-vv` / `-vvv`: wa360's log events (INFO, DEBUG, TRACE) on stderr, one line each.
//! Without `-v` nothing is logged: errors are printed once, as the command's result.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the stderr logger for `verbosity` (the number of `-v`).
pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => return,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    // Only wa360's own targets: the HTTP stack's TRACE output is noise for a user.
    let filter = Targets::new()
        .with_target("wa360", level)
        .with_target("wa360_sandbox", level)
        .with_target("wa360_cli", level);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true);
    // A second init (impossible here) would only be refused; logging stays optional.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
}
