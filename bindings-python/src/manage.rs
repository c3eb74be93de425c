//! The management API for Python: templates, business profile, health, blocked users,
//! the resumable upload and the media-id cache. Glue only: every behaviour is in
//! `wa360::manage` / `wa360::media_cache`.
//!
//! The client methods are added to both `Client` and `AsyncClient` by one macro (a
//! second `#[pymethods]` block per class, PyO3's `multiple-pymethods`); the lists come
//! back as `TemplateIterator` / `BlockedUserIterator` (sync) or their `Async…`
//! twins (async iterators), which fetch pages as they are consumed.

use std::sync::Arc;

use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use serde_json::Value;
use tokio::sync::Mutex;
use wa360::manage::ProfileUpdate;
use wa360::manage::blocked::BlockedLister;
use wa360::manage::templates::{
    ListOptions, TemplateDraft, TemplateLister, TemplatePage, check_template_send_json,
};
use wa360::media_cache::MediaCache;

use crate::client::{JsonOut, NoneOut, PyAsyncClient, PyClient};
use crate::convert::py_to_value;
use crate::errors::{IntoPyResult, guard, guard_future, to_py_err};
use crate::runtime;

/// What a list iterator pages over.
enum Lister {
    Templates(Box<TemplateLister>),
    Blocked(BlockedLister),
}

impl Lister {
    async fn next(&mut self) -> wa360::Result<Option<Value>> {
        Ok(match self {
            Lister::Templates(l) => l.next().await?.map(|t| t.to_json()),
            Lister::Blocked(l) => l
                .next()
                .await?
                .map(|u| serde_json::to_value(u).unwrap_or(Value::Null)),
        })
    }
}

type Shared = Arc<Mutex<Lister>>;

/// The `cache` argument: a `wa360.MediaCache` (anything else is `invalid_argument`).
fn cache_arg(obj: &Bound<'_, PyAny>) -> PyResult<wa360::media_cache::MediaCache> {
    obj.cast::<PyMediaCache>()
        .map(|c| c.borrow().inner.clone())
        .map_err(|_| {
            crate::errors::to_py_err(wa360::Error::invalid("cache", "must be a wa360.MediaCache"))
        })
}

fn next_sync(py: Python<'_>, l: &Shared) -> PyResult<Option<JsonOut>> {
    let l = Arc::clone(l);
    let v = runtime::block_on(py, async move { l.lock().await.next().await })?;
    Ok(v.map(JsonOut))
}

fn next_async<'py>(py: Python<'py>, l: &Shared) -> PyResult<Bound<'py, PyAny>> {
    let l = Arc::clone(l);
    pyo3_async_runtimes::generic::future_into_py::<runtime::Wa360Runtime, _, JsonOut>(
        py,
        async move {
            match guard_future(async move { l.lock().await.next().await }).await {
                Ok(Some(v)) => Ok(JsonOut(v)),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(e) => Err(to_py_err(e)),
            }
        },
    )
}

macro_rules! iterators {
    ($sync:ident, $sync_name:literal, $async_:ident, $async_name:literal, $doc:literal) => {
        #[doc = $doc]
        #[doc = "\n\nA sync iterator: each page is fetched (GIL released) when the previous one is used up."]
        #[pyclass(name = $sync_name, module = "wa360._native")]
        pub struct $sync {
            inner: Shared,
        }

        #[pymethods]
        impl $sync {
            fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }
            fn __next__(&self, py: Python<'_>) -> PyResult<Option<JsonOut>> {
                guard(|| next_sync(py, &self.inner))
            }
        }

        #[doc = $doc]
        #[doc = "\n\nAn async iterator (`async for`): each page is fetched when the previous one is used up."]
        #[pyclass(name = $async_name, module = "wa360._native")]
        pub struct $async_ {
            inner: Shared,
        }

        #[pymethods]
        impl $async_ {
            fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }
            fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| next_async(py, &self.inner))
            }
        }
    };
}

iterators!(
    PyTemplateIterator,
    "TemplateIterator",
    PyAsyncTemplateIterator,
    "AsyncTemplateIterator",
    "Listed templates as dicts, over every page of the chosen list call."
);
iterators!(
    PyBlockedUserIterator,
    "BlockedUserIterator",
    PyAsyncBlockedUserIterator,
    "AsyncBlockedUserIterator",
    "Blocked users as dicts (`{\"input\", \"wa_id\"}`), over every page."
);

/// An opt-in media-id cache: content hash → media id per number, trusted for
/// `ttl_days` (default 28, at most 29) after the upload. `path` selects a SQLite file
/// (shared by processes); without it the cache lives in memory.
#[pyclass(name = "MediaCache", module = "wa360._native", frozen)]
pub struct PyMediaCache {
    inner: MediaCache,
    desc: String,
}

#[pymethods]
impl PyMediaCache {
    #[new]
    #[pyo3(signature = (path = None, *, ttl_days = None), text_signature = "(path=None, *, ttl_days=28.0)")]
    fn new(
        path: Option<std::path::PathBuf>,
        ttl_days: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let ttl_days = match ttl_days {
            Some(t) => crate::convert::num_option(t, "ttl_days")?,
            None => 28.0,
        };
        guard(|| {
            let (cache, desc) = match &path {
                Some(p) => (
                    MediaCache::sqlite(p).py_err()?,
                    format!("sqlite:{}", p.display()),
                ),
                None => (MediaCache::memory(), "memory".to_string()),
            };
            Ok(PyMediaCache {
                inner: cache.ttl_days(ttl_days).py_err()?,
                desc,
            })
        })
    }

    /// The trust period in days.
    #[getter]
    fn ttl_days(&self) -> f64 {
        self.inner.ttl_days_value()
    }

    fn __repr__(&self) -> String {
        format!("MediaCache({}, ttl_days={})", self.desc, self.ttl_days())
    }
}

/// The functions that read their one argument as JSON (named after the
/// argument in errors), apply the core's function and return its JSON answer.
macro_rules! json_functions {
    ($($(#[doc = $doc:literal])* fn $name:ident($arg:ident) = $f:expr;)*) => {$(
        $(#[doc = $doc])*
        #[pyfunction]
        pub(crate) fn $name<'py>(py: Python<'py>, $arg: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
            let f: fn(&Value) -> wa360::Result<Value> = $f;
            guard(|| {
                let v = py_to_value($arg, stringify!($arg)).py_err()?;
                JsonOut(f(&v).py_err()?).into_pyobject(py)
            })
        }
    )*};
}

json_functions! {
    /// Check a template draft and return the exact `POST /v1/configs/templates` body.
    fn build_template(draft) = |v| TemplateDraft::from_json(v)?.to_body();
    /// Check a business-profile change and return the exact `POST /whatsapp_business_profile` body.
    fn build_profile_update(update) = |v| ProfileUpdate::from_json(v)?.to_body();
    /// Read one answer of either template list call into the canonical page
    /// `{"shape", "templates", "after", "total"}`.
    fn parse_template_list(body) = |v| Ok(TemplatePage::parse(v)?.to_json());
}

/// Check a template message (neutral dict or wire body) against a listed template:
/// parameter count and kinds per component. Raises `InvalidArgumentError`.
#[pyfunction]
pub(crate) fn check_template_send(
    template: &Bound<'_, PyAny>,
    message: &Bound<'_, PyAny>,
) -> PyResult<()> {
    guard(|| {
        let t = py_to_value(template, "template").py_err()?;
        let m = py_to_value(message, "message").py_err()?;
        check_template_send_json(&t, &m).py_err()
    })
}

/// A list of phone numbers (a single string is refused rather than read letter by letter).
fn users_from(v: &Bound<'_, PyAny>) -> wa360::Result<Vec<String>> {
    let bad = || wa360::Error::invalid("users", "must be a list of phone numbers (strings)");
    match py_to_value(v, "users")? {
        Value::Array(a) => a
            .into_iter()
            .map(|u| match u {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

macro_rules! manage_methods {
    ($cls:ident, $is_async:expr) => {
        impl $cls {
            /// `block_users` (`block`) or `unblock_users`: the list is checked before any request.
            fn set_blocked<'py>(&self, py: Python<'py>, users: &Bound<'py, PyAny>, block: bool) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let users = users_from(users).py_err()?;
                    wa360::manage::blocked::validate_users(&users).py_err()?;
                    self.core.run(py, async move {
                        let b = c.blocked_users();
                        let r = if block { b.block(&users).await } else { b.unblock(&users).await };
                        r.and_then(|r| JsonOut::of(&r))
                    })
                })
            }
        }

        #[pymethods]
        impl $cls {
            /// Create a template (Meta's template-creation format), checked first.
            fn create_template<'py>(&self, py: Python<'py>, draft: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let v = py_to_value(draft, "draft").py_err()?;
                    let d = TemplateDraft::from_json(&v).py_err()?;
                    d.validate().py_err()?;
                    self.core.run(py, async move {
                        c.templates().create(&d).await.map(|t| JsonOut(t.to_json()))
                    })
                })
            }

            /// Every template, page after page (`source="config"`: GET /v1/configs/templates,
            /// offset paging; `source="graph"`: GET /message_templates, cursor paging).
            #[pyo3(signature = (*, source = "config", name = None, status = None, language = None, page_size = None, limit = None))]
            #[allow(clippy::too_many_arguments)]
            fn list_templates<'py>(
                &self,
                py: Python<'py>,
                source: &str,
                #[pyo3(from_py_with = crate::convert::args::opt_name)] name: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::status)] status: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::language)] language: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::page_size)] page_size: Option<u32>,
                #[pyo3(from_py_with = crate::convert::args::limit)] limit: Option<u64>,
            ) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let o = ListOptions::from_parts(source, name, status, language, page_size, limit).py_err()?;
                    let lister = c.templates().list(o).py_err()?;
                    let inner = Arc::new(Mutex::new(Lister::Templates(Box::new(lister))));
                    Ok(if $is_async {
                        Bound::new(py, PyAsyncTemplateIterator { inner })?.into_any()
                    } else {
                        Bound::new(py, PyTemplateIterator { inner })?.into_any()
                    })
                })
            }

            /// One template by id (`None` when it does not exist).
            fn get_template<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::template_id)] template_id: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move {
                        c.templates().get(&template_id).await.map(|t| JsonOut(t.map(|t| t.to_json()).unwrap_or(Value::Null)))
                    })
                })
            }

            /// Every language of the template with this name (or only `language`).
            #[pyo3(signature = (name, *, language = None))]
            fn find_templates<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::name)] name: String, #[pyo3(from_py_with = crate::convert::args::language)] language: Option<String>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move {
                        let v = c.templates().find(&name, language.as_deref()).await?;
                        Ok(JsonOut(Value::Array(v.iter().map(|t| t.to_json()).collect())))
                    })
                })
            }

            /// Delete a template by name: removes EVERY language of that name.
            fn delete_template<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::name)] name: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    wa360::manage::templates::validate_template_name("name", &name).py_err()?;
                    self.core.run(py, async move { c.templates().delete(&name).await.map(JsonOut) })
                })
            }

            /// The business profile as a dict.
            fn get_profile<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.profile().get().await.map(|p| JsonOut(p.to_json())) })
                })
            }

            /// Change the given fields of the business profile (limits checked first).
            #[pyo3(signature = (*, about = None, address = None, description = None, email = None, websites = None, vertical = None, profile_picture_handle = None))]
            #[allow(clippy::too_many_arguments)]
            fn update_profile<'py>(
                &self,
                py: Python<'py>,
                #[pyo3(from_py_with = crate::convert::args::about)] about: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::address)] address: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::description)] description: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::email)] email: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::websites)] websites: Option<Vec<String>>,
                #[pyo3(from_py_with = crate::convert::args::vertical)] vertical: Option<String>,
                #[pyo3(from_py_with = crate::convert::args::profile_picture_handle)] profile_picture_handle: Option<String>,
            ) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let u = ProfileUpdate { about, address, description, email, websites, vertical, profile_picture_handle };
                    u.validate().py_err()?;
                    self.core.run(py, async move { c.profile().update(&u).await.map(|()| NoneOut) })
                })
            }

            /// Upload a JPEG/PNG (resumable upload) and set it as the profile picture; returns the handle.
            #[pyo3(signature = (data, mime_type, file_name = "picture.jpg".to_string()))]
            fn set_profile_picture<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>, #[pyo3(from_py_with = crate::convert::args::mime_type)] mime_type: String, #[pyo3(from_py_with = crate::convert::args::file_name)] file_name: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let data = crate::client::upload_bytes(data)?;
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.profile().set_picture(data, &mime_type, &file_name).await })
                })
            }

            /// The resumable upload on its own; returns the file handle (for a template
            /// header sample or a profile picture).
            fn upload_resumable<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>, #[pyo3(from_py_with = crate::convert::args::mime_type)] mime_type: String, #[pyo3(from_py_with = crate::convert::args::file_name)] file_name: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let data = crate::client::upload_bytes(data)?;
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.uploads().upload(data, &mime_type, &file_name).await })
                })
            }

            /// `GET /health_status` as a dict (`can_send_message`, `entities`).
            fn health_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.health().status().await.map(|s| JsonOut(s.to_json())) })
                })
            }

            /// Whether the key works and the number can send: `{"key_ok", "can_send", "status", "problems"}`.
            fn check_health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    self.core.run(py, async move { c.health().check().await.and_then(|h| JsonOut::of(&h)) })
                })
            }

            /// Every blocked user, page after page.
            #[pyo3(signature = (*, page_size = None))]
            fn list_blocked_users<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = crate::convert::args::page_size)] page_size: Option<u32>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let c = self.core.client()?;
                    let lister = c.blocked_users().list(page_size).py_err()?;
                    let inner = Arc::new(Mutex::new(Lister::Blocked(lister)));
                    Ok(if $is_async {
                        Bound::new(py, PyAsyncBlockedUserIterator { inner })?.into_any()
                    } else {
                        Bound::new(py, PyBlockedUserIterator { inner })?.into_any()
                    })
                })
            }

            /// Block users (1..1000 phone numbers that wrote in the last 24 hours).
            fn block_users<'py>(&self, py: Python<'py>, users: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.set_blocked(py, users, true)
            }

            /// Unblock users.
            fn unblock_users<'py>(&self, py: Python<'py>, users: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.set_blocked(py, users, false)
            }

            /// Upload a file unless `cache` holds a still-trusted media id for the same
            /// bytes on this number: `{"media_id", "reused"}`.
            #[pyo3(signature = (data, mime_type, cache, filename = "file".to_string()))]
            fn upload_media_cached<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>, #[pyo3(from_py_with = crate::convert::args::mime_type)] mime_type: String, cache: &Bound<'py, PyAny>, #[pyo3(from_py_with = crate::convert::args::filename)] filename: String) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let data = crate::client::upload_bytes(data)?;
                    let cache = cache_arg(cache)?;
                    let c = self.core.client()?;
                    self.core.run(py, async move {
                        let r = cache.upload(&c, data, &mime_type, &filename).await?;
                        Ok(JsonOut(serde_json::json!({"media_id": r.media_id, "reused": r.reused})))
                    })
                })
            }

            /// Drop the cached media id of these bytes for this number (e.g. after
            /// `delete_media`), so the next `upload_media_cached` uploads again.
            fn forget_media_cached<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>, #[pyo3(from_py_with = crate::convert::args::mime_type)] mime_type: String, cache: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                guard(|| {
                    let data = crate::client::upload_bytes(data)?;
                    let cache = cache_arg(cache)?;
                    let c = self.core.client()?;
                    self.core.run(py, async move { cache.forget(&c, &data, &mime_type).await.map(|()| NoneOut) })
                })
            }
        }
    };
}

manage_methods!(PyClient, false);
manage_methods!(PyAsyncClient, true);
