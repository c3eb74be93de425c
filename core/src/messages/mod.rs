//! Outbound messages: one module per family, each a typed value with a
//! builder that validates (api-spec §4.10) and serialises to the exact wire
//! body for `POST /messages`.

/// Anything that can be sent to `POST /messages`.
///
/// `to_body` validates every rule of api-spec §4.10 (failures are
/// [`crate::Error::InvalidArgument`] naming the field and the rule) and returns
/// the exact JSON body.
pub trait Outbound {
    /// Validate and produce the exact wire body.
    fn to_body(&self) -> crate::Result<serde_json::Value>;
}
