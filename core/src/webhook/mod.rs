//! Webhooks: lossless batch-aware parsing ([`parse()`], [`events`]), verification
//! ([`verify`]), registration ([`registration`]), delivery hygiene ([`dedupe`]),
//! the one receiver ([`receiver`]) and helpers for users' own tests ([`testing`]).

mod canonical;
pub mod dedupe;
pub mod events;
pub mod known;
mod normalize;
pub mod packed;
pub mod parse;
pub mod receiver;
pub mod registration;
pub mod testing;
pub mod verify;

pub use canonical::Canonical;
pub use events::{
    Contact, Content, Event, EventKind, FieldUpdate, FieldUpdateKind, InboundMessage, Interactive,
    StatusKind, StatusUpdate, WebhookError,
};
pub use known::KNOWN_MESSAGE_TYPES;
pub use parse::{
    ParseOptions, parse, parse_to_canonical_json, parse_to_canonical_json_with, parse_with,
};
pub use receiver::{Receiver, ReceiverConfig, Reply};
