//! Python bindings of wa360: the native module `wa360._native`, wrapped by
//! the pure-Python package `wa360` (see `python/wa360/`).
//!
//! One file per core module (`errors`, `client`, `messages`, `media`,
//! `webhook`, `testing`); each translates types and errors, nothing more.
//! Every entry point runs inside [`errors::guard`] so a panic in Rust
//! arrives as `wa360.InternalError`.

use pyo3::prelude::*;

pub mod broadcast;
pub mod client;
pub mod completions;
pub mod convert;
pub mod errors;
pub mod governor;
pub mod inbox;
pub mod logging;
pub mod manage;
pub mod media;
pub mod messages;
pub mod runtime;
pub mod testing;
pub mod webhook;

// Allocator: the webhook parse makes one small allocation per kept string and
// wire piece, and mimalloc serves those faster than the system allocator
// (docs/performance.md §5). Rust's own allocations only: every object handed
// to the host language is allocated by the host.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The native module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    logging::register(m)?;
    webhook::register(m)?;
    inbox::register(m)?;
    messages::register(m)?;
    media::register(m)?;
    client::register(m)?;
    broadcast::register(m)?;
    manage::register(m)?;
    testing::register(m)?;
    Ok(())
}
