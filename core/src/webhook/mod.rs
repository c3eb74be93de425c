//! Webhooks: lossless batch-aware parsing ([`parse`], [`events`]), verification
//! ([`verify`]), registration ([`registration`]), delivery hygiene ([`dedupe`])
//! and helpers for users' own tests ([`testing`]).

pub mod dedupe;
pub mod events;
pub mod parse;
pub mod registration;
pub mod testing;
pub mod verify;
