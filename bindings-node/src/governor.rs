//! The `governor` client option (core: `wa360::governor`); the core reads it
//! (`GovernorConfig::from_options` with Node's names and milliseconds).

use wa360::governor::{GovernorConfig, GovernorSpec, OptionStyle};

/// Read `governor` from a client options object (own properties only, by the core's rule;
/// errors name `governor.<option>`): the settings, and the store URL when one is given.
pub(crate) fn from_json(v: serde_json::Value) -> wa360::Result<GovernorSpec> {
    match v {
        serde_json::Value::Object(m) => GovernorConfig::from_options(&m, OptionStyle::Node),
        _ => Err(wa360::Error::invalid("governor", "must be an object")),
    }
}
