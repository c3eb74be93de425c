//! # wa360 — the WhatsApp Business API SDK for the 360dialog Cloud API
//!
//! One Rust core behind the `wa360` Python and Node packages.
//! This crate holds every behaviour: message building and validation,
//! the single HTTP request path with its retry rules, media, webhook
//! parsing, verification, registration and delivery hygiene.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod broadcast;
pub mod client;
pub mod config;
pub mod error;
pub mod fork_gate;
pub mod governor;
pub mod inbox;
pub mod input;
pub mod log_bridge;
pub mod manage;
pub mod media;
pub mod media_cache;
pub mod messages;
pub mod meta_codes;
pub mod metrics;
pub(crate) mod redis_conn;
pub mod retry;
pub mod secret;
pub mod transport;
pub(crate) mod util;
pub mod webhook;

pub use error::{ApiError, Error, ErrorCode, ErrorField, FieldValue, Result};

/// The root README's Rust quick start, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
