//! Blocked users: list (cursor paging), block, unblock (`/block_users`;
//! `docs/management.md`, "Blocked users").
//!
//! Only users who wrote to the business in the last 24 hours can be blocked, at
//! most 1,000 per request (checked locally), 64,000 in total. A request where some
//! users fail is answered with error `139100`: wa360 returns it as an error whose
//! `api_code` is 139100; list the blocked users to see which were added.

use std::collections::VecDeque;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{PagingGuard, query_escape};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::messages::common::idx;
use crate::retry::RetryClass;

/// Path of the block list.
pub const BLOCK_USERS_PATH: &str = "/block_users";
/// Most users per block / unblock request.
pub const MAX_USERS_PER_REQUEST: usize = 1000;

/// One user of a block or unblock answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedUser {
    /// What was sent (phone number or WhatsApp id), when the answer carries it.
    pub input: Option<String>,
    /// WhatsApp id.
    pub wa_id: Option<String>,
}

/// The answer of a block or unblock request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BlockResult {
    /// Users now blocked (block) or unblocked (unblock).
    pub users: Vec<BlockedUser>,
}

fn user_of(v: &Value) -> BlockedUser {
    let s = |k: &str| match v.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    BlockedUser {
        input: s("input"),
        wa_id: s("wa_id"),
    }
}

/// Check and normalise the users of a block / unblock request: 1..1000 phone numbers
/// (digits after dropping `+`, spaces, `-`, `(`, `)`, 8..15 digits) or WhatsApp ids.
pub fn validate_users(users: &[String]) -> Result<Vec<String>> {
    if users.is_empty() || users.len() > MAX_USERS_PER_REQUEST {
        return Err(Error::invalid(
            "users",
            format!(
                "must hold 1 to {MAX_USERS_PER_REQUEST} users per request (got {})",
                users.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(users.len());
    for (i, u) in users.iter().enumerate() {
        let n = crate::messages::normalize_phone(u).map_err(|_| {
            Error::invalid(
                idx("users", i),
                "must be a phone number in international format (8 to 15 digits)",
            )
        })?;
        if out.contains(&n) {
            return Err(Error::invalid(
                idx("users", i),
                format!("{n} is given twice"),
            ));
        }
        out.push(n);
    }
    Ok(out)
}

/// A self-paging iterator over the blocked users (`GET /block_users`, cursor paging).
#[derive(Debug)]
pub struct BlockedLister {
    client: Client,
    page_size: u32,
    after: Option<String>,
    buffer: VecDeque<BlockedUser>,
    done: bool,
    /// Notices a server that ignores paging.
    paging: PagingGuard<BlockedUser>,
}

impl BlockedLister {
    /// The next blocked user, fetching pages as needed.
    pub async fn next(&mut self) -> Result<Option<BlockedUser>> {
        loop {
            if let Some(u) = self.buffer.pop_front() {
                return Ok(Some(u));
            }
            if self.done {
                return Ok(None);
            }
            let mut path = format!("{BLOCK_USERS_PATH}?limit={}", self.page_size);
            if let Some(a) = &self.after {
                path.push_str(&format!("&after={}", query_escape(a)));
            }
            let v = match self
                .client
                .request_json(Method::GET, &path, None, RetryClass::Idempotent)
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            let data = match v.get("data") {
                Some(Value::Array(a)) => a.clone(),
                _ => {
                    self.done = true;
                    return Err(Error::InvalidResponse {
                        status: 200,
                        reason: "blocked users answer has no `data` array".into(),
                    });
                }
            };
            let paging = v.get("paging");
            let has_next = paging
                .and_then(|p| p.get("next"))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            let after = paging
                .and_then(|p| p.get("cursors"))
                .and_then(|c| c.get("after"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let users: Vec<BlockedUser> = data.iter().map(user_of).collect();
            let checked = self.paging.new_page(users.clone()).and_then(|()| {
                self.paging
                    .new_cursor(after.as_deref(), self.after.as_deref())
            });
            if let Err(e) = checked {
                self.done = true;
                return Err(e);
            }
            let same = after.is_some() && after == self.after;
            self.done = users.is_empty() || !has_next || after.is_none() || same;
            self.after = after;
            self.buffer.extend(users);
        }
    }

    /// Collect every remaining blocked user.
    pub async fn collect_all(mut self) -> Result<Vec<BlockedUser>> {
        let mut out = Vec::new();
        while let Some(u) = self.next().await? {
            out.push(u);
        }
        Ok(out)
    }
}

/// The block list of one channel: `client.blocked_users()`.
#[derive(Debug, Clone, Copy)]
pub struct BlockedUsers<'a> {
    client: &'a Client,
}

impl Client {
    /// The block list (list, block, unblock).
    pub fn blocked_users(&self) -> BlockedUsers<'_> {
        BlockedUsers { client: self }
    }
}

impl BlockedUsers<'_> {
    /// A self-paging iterator over the blocked users (page size 1..=1000, default 100).
    pub fn list(&self, page_size: Option<u32>) -> Result<BlockedLister> {
        let page_size = page_size.unwrap_or(100);
        if !(1..=1000).contains(&page_size) {
            return Err(Error::invalid(
                "page_size",
                format!("must be 1 to 1000 (got {page_size})"),
            ));
        }
        Ok(BlockedLister {
            client: self.client.clone(),
            page_size,
            after: None,
            buffer: VecDeque::new(),
            done: false,
            paging: PagingGuard::new("blocked users list"),
        })
    }

    /// Block users (`POST /block_users`).
    pub async fn block(&self, users: &[String]) -> Result<BlockResult> {
        self.change(Method::POST, users, "added_users").await
    }

    /// Unblock users (`DELETE /block_users`).
    pub async fn unblock(&self, users: &[String]) -> Result<BlockResult> {
        self.change(Method::DELETE, users, "removed_users").await
    }

    async fn change(&self, method: Method, users: &[String], key: &str) -> Result<BlockResult> {
        let users = validate_users(users)?;
        let body = json!({
            "messaging_product": "whatsapp",
            "block_users": users.iter().map(|u| json!({"user": u})).collect::<Vec<_>>(),
        });
        // Blocking sets absolute state: repeating it is harmless.
        let v = self
            .client
            .request_json(
                method,
                BLOCK_USERS_PATH,
                Some(&body),
                RetryClass::Idempotent,
            )
            .await?;
        let list = v
            .get("block_users")
            .and_then(|b| b.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().map(user_of).collect())
            .unwrap_or_default();
        Ok(BlockResult { users: list })
    }
}
