//! Reactions (docs/360dialog-api.md §4.5): one emoji on a message, or `""` to remove it.

use serde::{Deserialize, Serialize};

use super::common::{check_message_id, is_single_emoji};
use crate::{Error, Result};

/// A reaction to `message_id`. An empty `emoji` removes an earlier reaction.
/// Neutral form: `{"message_id": "wamid…", "emoji": "👍"}` (`""` removes).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Reaction {
    /// The wamid of the message reacted to.
    pub message_id: String,
    /// A single emoji, or `""` to remove the reaction.
    pub emoji: String,
}

impl Reaction {
    /// React with `emoji`.
    pub fn new(message_id: impl Into<String>, emoji: impl Into<String>) -> Self {
        Reaction {
            message_id: message_id.into(),
            emoji: emoji.into(),
        }
    }

    /// Remove the reaction (empty emoji).
    pub fn remove(message_id: impl Into<String>) -> Self {
        Reaction::new(message_id, "")
    }

    /// Check the rules of docs/360dialog-api.md §4.5.
    pub(crate) fn validate(&self) -> Result<()> {
        check_message_id("reaction.message_id", &self.message_id)?;
        if !self.emoji.is_empty() && !is_single_emoji(&self.emoji) {
            return Err(Error::invalid(
                "reaction.emoji",
                "must be a single emoji, or empty to remove the reaction",
            ));
        }
        Ok(())
    }

    /// The wire object (after [`Reaction::validate`]).
    pub(crate) fn wire(&self) -> ReactionWire<'_> {
        ReactionWire {
            message_id: &self.message_id,
            emoji: &self.emoji,
        }
    }

    #[cfg(test)]
    fn body_value(&self) -> Result<serde_json::Value> {
        self.validate()?;
        Ok(serde_json::to_value(self.wire()).unwrap_or_default())
    }
}

/// The wire `reaction` object.
#[derive(Serialize)]
pub(crate) struct ReactionWire<'a> {
    message_id: &'a str,
    emoji: &'a str,
}

use super::read::map_only;
map_only!(Reaction);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_rules() {
        assert!(Reaction::new("wamid.1", "👍🏽").body_value().is_ok());
        assert!(Reaction::remove("wamid.1").body_value().is_ok());
        let e = Reaction::new("wamid.1", "👍👍").body_value().unwrap_err();
        assert_eq!(e.field(), Some("reaction.emoji"));
        let e = Reaction::new("wamid.1", "ok").body_value().unwrap_err();
        assert_eq!(e.field(), Some("reaction.emoji"));
        let e = Reaction::new("", "👍").body_value().unwrap_err();
        assert_eq!(e.field(), Some("reaction.message_id"));
    }
}
