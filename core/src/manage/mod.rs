//! The 360dialog management API: templates, business profile, number health,
//! blocked users, and the resumable upload behind template samples and profile
//! pictures. The facts each call relies on are summarised in `docs/management.md`
//! (repository root).
//!
//! Each part is an accessor of [`crate::client::Client`]:
//! [`templates`](crate::client::Client::templates),
//! [`profile`](crate::client::Client::profile),
//! [`health`](crate::client::Client::health),
//! [`blocked_users`](crate::client::Client::blocked_users),
//! [`uploads`](crate::client::Client::uploads).
//! Every input is checked before any request; a broken rule is `invalid_argument`
//! naming the field and the rule.

pub mod blocked;
pub mod health;
pub mod profile;
pub mod templates;
pub mod upload;

pub use blocked::{BlockResult, BlockedUser};
pub use health::{HealthCheck, HealthStatus};
pub use profile::{BusinessProfile, ProfileUpdate};
pub use templates::{
    ListOptions, TemplateDraft, TemplateInfo, TemplateLister, TemplatePage, TemplateSource,
    check_template_send,
};

/// `s` escaped for a query string value (`application/x-www-form-urlencoded`), as every
/// management call that puts a caller's value into a URL writes it.
pub(crate) fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
