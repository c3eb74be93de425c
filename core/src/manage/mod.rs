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

/// What a self-paging list remembers to notice a server that does not honour
/// paging: without it, such a server makes the list repeat items or page forever.
#[derive(Debug)]
pub(crate) struct PagingGuard<K> {
    /// What names the list in errors ("template list", "blocked users list").
    list: &'static str,
    /// The items (as keys) of the last page.
    last_page: Vec<K>,
    /// Every `after` cursor followed so far.
    cursors: std::collections::HashSet<String>,
}

impl<K: PartialEq> PagingGuard<K> {
    pub(crate) fn new(list: &'static str) -> Self {
        PagingGuard {
            list,
            last_page: Vec::new(),
            cursors: std::collections::HashSet::new(),
        }
    }

    /// `invalid_response` when a non-empty `page` is the last page again (the
    /// server ignored offset / after); otherwise `page` becomes the last page.
    pub(crate) fn new_page(&mut self, page: Vec<K>) -> crate::Result<()> {
        if !page.is_empty() && page == self.last_page {
            return Err(self.broken("answered the same page twice"));
        }
        self.last_page = page;
        Ok(())
    }

    /// `invalid_response` when `next`, the cursor to follow, was followed before
    /// (A → B → A). `next` equal to `sent`, the cursor just sent, is not checked:
    /// the caller ends the list there.
    pub(crate) fn new_cursor(
        &mut self,
        next: Option<&str>,
        sent: Option<&str>,
    ) -> crate::Result<()> {
        match next {
            Some(a) if next != sent && !self.cursors.insert(a.to_string()) => {
                Err(self.broken("went back to a cursor it gave before"))
            }
            _ => Ok(()),
        }
    }

    fn broken(&self, what: &str) -> crate::Error {
        crate::Error::InvalidResponse {
            status: 200,
            reason: format!("the {} {what}: paging is not honoured", self.list),
        }
    }
}

/// `s` escaped for a query string value (`application/x-www-form-urlencoded`), as every
/// management call that puts a caller's value into a URL writes it.
pub(crate) fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
