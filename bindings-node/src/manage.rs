//! The management API for Node: templates, business profile, health, blocked users,
//! the resumable upload and the media-id cache. Glue only: every behaviour is in
//! `wa360::manage` / `wa360::media_cache`.
//!
//! Results are plain objects with the same (snake_case) keys as the Python dicts and
//! the Rust JSON forms. Options objects are read through their own properties only
//! (`own::Json`); camelCase keys are accepted and mapped to the core's names. The
//! list iterators are wrapped into async iterables in `wa360.js`
//! (`client.listTemplates()`, `client.listBlockedUsers()`).

use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::{ClassInstance, Either, PromiseRaw, Unknown};
use napi_derive::napi;
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use wa360::manage::ProfileUpdate;
use wa360::manage::blocked::{BlockedLister, BlockedUser as CoreBlockedUser};
use wa360::manage::templates::{
    ListOptions, TemplateDraft, TemplateInfo as CoreTemplateInfo, TemplateLister, TemplatePage,
    check_template_send_json,
};
use wa360::media_cache::MediaCache as CoreMediaCache;

use crate::client::JsClient;
use crate::errors::{guard, spawn};
use crate::own::{Bytes, Json, Text};
use crate::types::{
    BlockResult, BlockedUser, BusinessProfile, CachedUpload, HealthCheck, HealthEntity,
    HealthError, HealthStatus, TemplateInfo, TemplatePageInfo,
};

impl From<CoreTemplateInfo> for TemplateInfo {
    fn from(t: CoreTemplateInfo) -> Self {
        TemplateInfo {
            id: t.id,
            name: t.name,
            language: t.language,
            category: t.category,
            status: t.status,
            rejected_reason: t.rejected_reason,
            quality_score: t.quality_score,
            parameter_format: t.parameter_format,
            components: t.components,
        }
    }
}

impl From<CoreBlockedUser> for BlockedUser {
    fn from(u: CoreBlockedUser) -> Self {
        BlockedUser {
            input: u.input,
            wa_id: u.wa_id,
        }
    }
}

/// A list call's iterator class: `next()` resolves the next item (fetching
/// the next page when needed) or `null` at the end. `wa360.js` wraps it into
/// an async iterable. (Docs as `#[doc = "…"]`: a `///` passed through
/// `macro_rules!` would reach `index.d.ts` with an `r"` prefix.)
macro_rules! list_iterator {
    ($(#[doc = $doc:literal])* $name:ident($lister:ty) -> $item:ident, $ts:literal, $next_doc:literal) => {
        $(#[doc = $doc])*
        #[napi]
        pub struct $name {
            inner: Arc<Mutex<$lister>>,
        }

        #[napi]
        impl $name {
            #[doc = $next_doc]
            #[napi(ts_return_type = $ts)]
            pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<$item>>> {
                let l = Arc::clone(&self.inner);
                spawn(env, async move { l.lock().await.next().await }, |_, t| Ok(t.map($item::from)))
            }
        }

        impl From<$lister> for $name {
            fn from(l: $lister) -> Self {
                $name { inner: Arc::new(Mutex::new(l)) }
            }
        }
    };
}

list_iterator!(
    #[doc = " Listed templates, fetched page by page (use `client.listTemplates()`, an async iterable)."]
    TemplateIterator(TemplateLister) -> TemplateInfo, "Promise<TemplateInfo | null>",
    " The next template, or `null` at the end."
);
list_iterator!(
    #[doc = " Blocked users, fetched page by page (use `client.listBlockedUsers()`, an async iterable)."]
    BlockedUserIterator(BlockedLister) -> BlockedUser, "Promise<BlockedUser | null>",
    " The next blocked user, or `null` at the end."
);

/// The `cache` argument as JavaScript gives it: a `MediaCache`, or anything else.
type CacheArg<'a> = Either<ClassInstance<'a, MediaCache>, Unknown<'a>>;

/// The `cache` argument: a `MediaCache`; anything else is `invalid_argument` on `cache`,
/// as in Python (napi's own refusal named neither the field nor the rule).
fn cache_arg(env: &Env, cache: CacheArg<'_>) -> napi::Result<CoreMediaCache> {
    match cache {
        Either::A(c) => Ok(c.inner.clone()),
        Either::B(_) => guard(env, || {
            Err(wa360::Error::invalid("cache", "must be a MediaCache"))
        }),
    }
}

/// An opt-in media-id cache: content hash → media id per number, trusted for `ttlDays`
/// (default 28, at most 29) after the upload; in memory, or in the SQLite file `path`.
#[napi]
pub struct MediaCache {
    inner: CoreMediaCache,
}

#[napi]
impl MediaCache {
    /// `new MediaCache({ path, ttlDays })`.
    #[napi(
        constructor,
        ts_args_type = "options?: { path?: string; ttlDays?: number }"
    )]
    pub fn new(env: Env, options: Option<Json>) -> napi::Result<Self> {
        guard(&env, || {
            let o = snake_options(options)?;
            for k in o.keys() {
                if k != "path" && k != "ttl_days" {
                    return Err(wa360::Error::invalid(
                        k.as_str(),
                        "unknown option (path, ttlDays)",
                    ));
                }
            }
            let cache = match o.get("path") {
                None | Some(Value::Null) => CoreMediaCache::memory(),
                Some(Value::String(p)) => CoreMediaCache::sqlite(p)?,
                Some(_) => return Err(wa360::Error::invalid("path", "must be a string")),
            };
            let cache =
                match o.get("ttl_days") {
                    None | Some(Value::Null) => cache,
                    // The core's range rule names the option `ttl_days`; here it is spelled as
                    // the user wrote it. A non-number gets Python's rule.
                    Some(Value::Number(n)) => cache
                        .ttl_days(n.as_f64().unwrap_or(f64::NAN))
                        .map_err(|e| match e {
                            wa360::Error::InvalidArgument { field, rule }
                                if field == "ttl_days" =>
                            {
                                wa360::Error::invalid("ttlDays", rule)
                            }
                            e => e,
                        })?,
                    Some(_) => return Err(wa360::Error::invalid("ttlDays", "must be a number")),
                };
            Ok(MediaCache { inner: cache })
        })
    }

    /// The trust period in days.
    #[napi(getter)]
    pub fn ttl_days(&self) -> f64 {
        self.inner.ttl_days_value()
    }
}

/// `{"fooBar": …}` → `{"foo_bar": …}` at the top level (snake_case keys stay).
fn camel_to_snake(v: Value) -> wa360::Result<Map<String, Value>> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m
            .into_iter()
            .map(|(k, v)| (crate::own::snake_case(&k), v))
            .collect()),
        _ => Err(wa360::Error::invalid("options", "must be an object")),
    }
}

/// An optional options object with its keys in the core's naming (absent: empty).
fn snake_options(o: Option<Json>) -> wa360::Result<Map<String, Value>> {
    camel_to_snake(o.map(|j| j.0).unwrap_or(Value::Null))
}

fn opt_string(m: &Map<String, Value>, k: &str) -> wa360::Result<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wa360::Error::invalid(k, "must be a string")),
    }
}

fn opt_u64(m: &Map<String, Value>, k: &str) -> wa360::Result<Option<u64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| wa360::Error::invalid(k, "must be a non-negative integer")),
    }
}

/// The `pageSize` option of the list calls (its range is checked when listing).
fn page_size(m: &Map<String, Value>) -> wa360::Result<Option<u32>> {
    opt_u64(m, "page_size")?
        .map(|n| {
            u32::try_from(n).map_err(|_| wa360::Error::invalid("page_size", "must be 1 to 1000"))
        })
        .transpose()
}

/// Refuse any option but `allowed` (snake_case), naming them as JavaScript spells them
/// (`shown`): a misspelt option must not silently widen a search.
fn only_options(m: &Map<String, Value>, allowed: &[&str], shown: &str) -> wa360::Result<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(wa360::Error::invalid(
            k.as_str(),
            format!("unknown option ({shown})"),
        )),
        None => Ok(()),
    }
}

/// The options of `listTemplates` (snake_case: the caller renames an error's field).
fn list_options(options: Option<Json>) -> wa360::Result<ListOptions> {
    let m = snake_options(options)?;
    only_options(
        &m,
        &["source", "name", "status", "language", "page_size", "limit"],
        "source, name, status, language, pageSize, limit",
    )?;
    let page_size = page_size(&m)?;
    ListOptions::from_parts(
        opt_string(&m, "source")?.as_deref().unwrap_or("config"),
        opt_string(&m, "name")?,
        opt_string(&m, "status")?,
        opt_string(&m, "language")?,
        page_size,
        opt_u64(&m, "limit")?,
    )
}

fn users_of(v: &Value) -> wa360::Result<Vec<String>> {
    let bad = || wa360::Error::invalid("users", "must be an array of phone numbers (strings)");
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|u| u.as_str().map(str::to_owned).ok_or_else(bad))
        .collect()
}

/// Check a template draft (Meta's template-creation format) and return the exact
/// `POST /v1/configs/templates` body. Throws `invalid_argument` naming the field.
#[napi(
    ts_args_type = "draft: Record<string, unknown>",
    ts_return_type = "Record<string, unknown>"
)]
pub fn build_template(env: Env, draft: Json) -> napi::Result<Value> {
    guard(&env, || TemplateDraft::from_json(&draft.0)?.to_body())
}

/// Check a business-profile change (`about`, `address`, `description`, `email`,
/// `websites`, `vertical`, `profilePictureHandle`) and return the exact
/// `POST /whatsapp_business_profile` body.
#[napi(
    ts_args_type = "update: Record<string, unknown>",
    ts_return_type = "Record<string, unknown>"
)]
pub fn build_profile_update(env: Env, update: Json) -> napi::Result<Value> {
    guard(&env, || {
        let m = camel_to_snake(update.0)?;
        ProfileUpdate::from_json(&Value::Object(m))?.to_body()
    })
}

/// Read one answer of either template list call into the canonical page.
#[napi(ts_args_type = "body: Record<string, unknown>")]
pub fn parse_template_list(env: Env, body: Json) -> napi::Result<TemplatePageInfo> {
    guard(&env, || {
        let p = TemplatePage::parse(&body.0)?;
        Ok(TemplatePageInfo {
            shape: p.shape.to_owned(),
            templates: p.templates.into_iter().map(TemplateInfo::from).collect(),
            after: p.after,
            total: p.total.map(|t| t as f64),
        })
    })
}

/// Check a template message (neutral description or wire body) against a listed
/// template: parameter count and kinds per component. Throws `invalid_argument`.
#[napi(
    ts_args_type = "template: TemplateInfo | Record<string, unknown>, message: Record<string, unknown>"
)]
pub fn check_template_send(env: Env, template: Json, message: Json) -> napi::Result<()> {
    guard(&env, || check_template_send_json(&template.0, &message.0))
}

#[napi]
impl JsClient {
    /// Create a template (Meta's template-creation format), checked first.
    #[napi(ts_args_type = "draft: Record<string, unknown>")]
    pub fn create_template<'env>(
        &self,
        env: &'env Env,
        draft: Json,
    ) -> napi::Result<PromiseRaw<'env, TemplateInfo>> {
        let c = self.inner.clone();
        let d = guard(env, || {
            let d = TemplateDraft::from_json(&draft.0)?;
            d.validate()?;
            Ok(d)
        })?;
        spawn(
            env,
            async move { c.templates().create(&d).await },
            |_, t| Ok(TemplateInfo::from(t)),
        )
    }

    /// The iterator behind `listTemplates()` (options checked here).
    #[napi(
        js_name = "_templatesIterator",
        ts_args_type = "options?: { source?: 'config' | 'graph'; name?: string; status?: string; language?: string; pageSize?: number; limit?: number }"
    )]
    pub fn templates_iterator(
        &self,
        env: Env,
        options: Option<Json>,
    ) -> napi::Result<TemplateIterator> {
        guard(&env, || {
            let l = list_options(options)
                .and_then(|o| self.inner.templates().list(o))
                .map_err(crate::own::camel_field)?;
            Ok(TemplateIterator::from(l))
        })
    }

    /// One template by id (`null` when it does not exist).
    #[napi(ts_args_type = "templateId: string")]
    pub fn get_template<'env>(
        &self,
        env: &'env Env,
        template_id: Text,
    ) -> napi::Result<PromiseRaw<'env, Option<TemplateInfo>>> {
        let c = self.inner.clone();
        let template_id = guard(env, || template_id.named("template_id"))?;
        spawn(
            env,
            async move { c.templates().get(&template_id).await },
            |_, t| Ok(t.map(TemplateInfo::from)),
        )
    }

    /// Every language of the template with this name (or only `options.language`).
    #[napi(ts_args_type = "name: string, options?: { language?: string }")]
    pub fn find_templates<'env>(
        &self,
        env: &'env Env,
        name: Text,
        options: Option<Json>,
    ) -> napi::Result<PromiseRaw<'env, Vec<TemplateInfo>>> {
        let c = self.inner.clone();
        let name = guard(env, || name.named("name"))?;
        let language = guard(env, || {
            let m = snake_options(options)?;
            only_options(&m, &["language"], "language")?;
            opt_string(&m, "language")
        })?;
        spawn(
            env,
            async move { c.templates().find(&name, language.as_deref()).await },
            |_, v| Ok(v.into_iter().map(TemplateInfo::from).collect()),
        )
    }

    /// Delete a template by name: removes EVERY language of that name.
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<unknown>")]
    pub fn delete_template<'env>(
        &self,
        env: &'env Env,
        name: Text,
    ) -> napi::Result<PromiseRaw<'env, Value>> {
        let c = self.inner.clone();
        let name = guard(env, || {
            let name = name.named("name")?;
            wa360::manage::templates::validate_template_name("name", &name).map(|()| name)
        })?;
        spawn(
            env,
            async move { c.templates().delete(&name).await },
            |_, v| Ok(v),
        )
    }

    /// The business profile.
    #[napi]
    pub fn get_profile<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, BusinessProfile>> {
        let c = self.inner.clone();
        spawn(env, async move { c.profile().get().await }, |_, p| {
            Ok(BusinessProfile {
                about: p.about,
                address: p.address,
                description: p.description,
                email: p.email,
                profile_picture_url: p.profile_picture_url,
                websites: p.websites,
                vertical: p.vertical,
            })
        })
    }

    /// Change the given fields of the business profile (limits checked first).
    #[napi(
        ts_args_type = "update: { about?: string; address?: string; description?: string; email?: string; websites?: string[]; vertical?: string; profilePictureHandle?: string }",
        ts_return_type = "Promise<void>"
    )]
    pub fn update_profile<'env>(
        &self,
        env: &'env Env,
        update: Json,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.inner.clone();
        let u = guard(env, || {
            let u = ProfileUpdate::from_json(&Value::Object(camel_to_snake(update.0)?))?;
            u.validate()?;
            Ok(u)
        })?;
        spawn(env, async move { c.profile().update(&u).await }, |_, v| {
            Ok(v)
        })
    }

    /// Upload a JPEG/PNG (resumable upload) and set it as the profile picture; resolves the handle.
    #[napi(ts_args_type = "data: Buffer, mimeType: string, fileName?: string | undefined | null")]
    pub fn set_profile_picture<'env>(
        &self,
        env: &'env Env,
        data: Bytes,
        mime_type: Text,
        file_name: Option<Text>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.inner.clone();
        let bytes = guard(env, || data.named("data"))?;
        let (mime_type, name) = guard(env, || {
            Ok((
                mime_type.named("mimeType")?,
                Text::named_or(file_name, "fileName", "picture.jpg")?,
            ))
        })?;
        spawn(
            env,
            async move { c.profile().set_picture(bytes, &mime_type, &name).await },
            |_, h| Ok(h),
        )
    }

    /// The resumable upload on its own; resolves the file handle.
    #[napi(ts_args_type = "data: Buffer, mimeType: string, fileName: string")]
    pub fn upload_resumable<'env>(
        &self,
        env: &'env Env,
        data: Bytes,
        mime_type: Text,
        file_name: Text,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.inner.clone();
        let bytes = guard(env, || data.named("data"))?;
        let (mime_type, file_name) = guard(env, || {
            Ok((mime_type.named("mimeType")?, file_name.named("fileName")?))
        })?;
        spawn(
            env,
            async move { c.uploads().upload(bytes, &mime_type, &file_name).await },
            |_, h| Ok(h),
        )
    }

    /// `GET /health_status`.
    #[napi]
    pub fn health_status<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, HealthStatus>> {
        let c = self.inner.clone();
        spawn(env, async move { c.health().status().await }, |_, s| {
            Ok(HealthStatus {
                can_send_message: s.can_send_message,
                entities: s
                    .entities
                    .into_iter()
                    .map(|e| HealthEntity {
                        entity_type: e.entity_type,
                        id: e.id,
                        can_send_message: e.can_send_message,
                        errors: e
                            .errors
                            .into_iter()
                            .map(|x| HealthError {
                                error_code: x.error_code.map(|c| c as f64),
                                error_description: x.error_description,
                                possible_solution: x.possible_solution,
                            })
                            .collect(),
                        additional_info: e.additional_info,
                    })
                    .collect(),
            })
        })
    }

    /// Whether the key works and the number can send.
    #[napi]
    pub fn check_health<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, HealthCheck>> {
        let c = self.inner.clone();
        spawn(env, async move { c.health().check().await }, |_, h| {
            Ok(HealthCheck {
                key_ok: h.key_ok,
                can_send: h.can_send,
                status: h.status,
                problems: h.problems,
            })
        })
    }

    /// The iterator behind `listBlockedUsers()` (options checked here).
    #[napi(
        js_name = "_blockedUsersIterator",
        ts_args_type = "options?: { pageSize?: number }"
    )]
    pub fn blocked_users_iterator(
        &self,
        env: Env,
        options: Option<Json>,
    ) -> napi::Result<BlockedUserIterator> {
        guard(&env, || {
            let list = || {
                let m = snake_options(options)?;
                only_options(&m, &["page_size"], "pageSize")?;
                self.inner.blocked_users().list(page_size(&m)?)
            };
            Ok(BlockedUserIterator::from(
                list().map_err(crate::own::camel_field)?,
            ))
        })
    }

    /// Block users (1..1000 phone numbers that wrote in the last 24 hours).
    #[napi(ts_args_type = "users: string[]")]
    pub fn block_users<'env>(
        &self,
        env: &'env Env,
        users: Json,
    ) -> napi::Result<PromiseRaw<'env, BlockResult>> {
        self.change_block(env, users, true)
    }

    /// Unblock users.
    #[napi(ts_args_type = "users: string[]")]
    pub fn unblock_users<'env>(
        &self,
        env: &'env Env,
        users: Json,
    ) -> napi::Result<PromiseRaw<'env, BlockResult>> {
        self.change_block(env, users, false)
    }

    /// Upload a file unless `cache` holds a still-trusted media id for the same bytes on
    /// this number; resolves `{ media_id, reused }`.
    #[napi(
        ts_args_type = "data: Buffer, mimeType: string, cache: MediaCache, filename?: string | undefined | null"
    )]
    pub fn upload_media_cached<'env>(
        &self,
        env: &'env Env,
        data: Bytes,
        mime_type: Text,
        cache: CacheArg<'_>,
        filename: Option<Text>,
    ) -> napi::Result<PromiseRaw<'env, CachedUpload>> {
        let c = self.inner.clone();
        let cache = cache_arg(env, cache)?;
        let bytes = guard(env, || data.named("data"))?;
        let (mime_type, name) = guard(env, || {
            Ok((
                mime_type.named("mimeType")?,
                Text::named_or(filename, "filename", "file")?,
            ))
        })?;
        spawn(
            env,
            async move { cache.upload(&c, bytes, &mime_type, &name).await },
            |_, r| {
                Ok(CachedUpload {
                    media_id: r.media_id,
                    reused: r.reused,
                })
            },
        )
    }

    /// Drop the cached media id of these bytes for this number (e.g. after
    /// `deleteMedia`), so the next `uploadMediaCached` uploads again.
    #[napi(
        ts_args_type = "data: Buffer, mimeType: string, cache: MediaCache",
        ts_return_type = "Promise<void>"
    )]
    pub fn forget_media_cached<'env>(
        &self,
        env: &'env Env,
        data: Bytes,
        mime_type: Text,
        cache: CacheArg<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.inner.clone();
        let cache = cache_arg(env, cache)?;
        let bytes = guard(env, || data.named("data"))?;
        let mime_type = guard(env, || mime_type.named("mimeType"))?;
        spawn(
            env,
            async move { cache.forget(&c, &bytes, &mime_type).await },
            |_, v| Ok(v),
        )
    }
}

impl JsClient {
    fn change_block<'env>(
        &self,
        env: &'env Env,
        users: Json,
        add: bool,
    ) -> napi::Result<PromiseRaw<'env, BlockResult>> {
        let c = self.inner.clone();
        let users = guard(env, || {
            let u = users_of(&users.0)?;
            wa360::manage::blocked::validate_users(&u)?;
            Ok(u)
        })?;
        spawn(
            env,
            async move {
                let b = c.blocked_users();
                if add {
                    b.block(&users).await
                } else {
                    b.unblock(&users).await
                }
            },
            |_, r| {
                Ok(BlockResult {
                    users: r.users.into_iter().map(BlockedUser::from).collect(),
                })
            },
        )
    }
}
