//! Python bindings of wa360: the native module `wa360._native`, wrapped by
//! the pure-Python package `wa360` (see `python/wa360/`).
//!
//! One file per core module (`errors`, `client`, `messages`, `media`,
//! `webhook`, `testing`); each translates types and errors, nothing more.
//! Every entry point runs inside [`errors::guard`] so a panic in Rust
//! arrives as `wa360.InternalError`.

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

/// The native module `wa360._native`: every class and function it exports, in
/// one list (pyo3's declarative module), then `init` for what is not a class
/// or function (the version, the error and message-type tables, the log
/// bridge).
#[pyo3::pymodule]
#[pyo3(name = "_native")]
mod native {
    #[pymodule_export]
    use crate::{
        broadcast::{_finish_broadcasts, _running_broadcasts, PyCampaign, PyLedger},
        client::{PyAsyncClient, PyClient, PySendResponse, PyWebhookSettings},
        errors::panic_for_tests,
        inbox::{PyConsumer, PyDelivery, PyInbox, PyReceiver},
        logging::_set_log_floor,
        manage::{
            PyAsyncBlockedUserIterator, PyAsyncTemplateIterator, PyBlockedUserIterator,
            PyMediaCache, PyTemplateIterator, build_profile_update, build_template,
            check_template_send, parse_template_list,
        },
        media::PyMediaInfo,
        messages::build_message,
        testing::{
            PySandbox, PyWaiter, basic_auth_header, batch, hub_signature, inbound, inbound_text,
            signed_headers, status, status_failed, value_error,
        },
        webhook::{
            PyDeduper, PyErrorEvent, PyEvent, PyFieldUpdateEvent, PyMessageEvent, PyStatusEvent,
            PyStatusFold, PyUnknownEvent, PyVerifier, parse_only, parse_webhook,
            parse_webhook_json, py_hub_challenge, py_hub_challenge_from_query,
            py_validate_webhook_url,
        },
    };
    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        crate::errors::add_tables(m)?;
        crate::messages::add_tables(m)?;
        crate::logging::install();
        crate::inbox::install_fork_gate();
        Ok(())
    }
}
