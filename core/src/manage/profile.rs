//! The business profile: what customers see (`GET` / `POST /whatsapp_business_profile`).
//!
//! [`ProfileUpdate`] changes only the fields it holds, after checking every documented
//! limit locally (`docs/management.md`, "Business profile"): about 1..139, address
//! ≤ 256, description ≤ 512, email ≤ 128 and shaped like an address, at most 2 websites
//! of ≤ 256 with `http://` or `https://`, `vertical` from the enum (never emptied
//! again once set). The picture goes through the resumable upload
//! ([`crate::manage::upload`]) and is set by its handle.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{Client, expect_success_true};
use crate::error::{Error, Result};
use crate::messages::common::{Obj, as_string, check_len, idx, type_name};
use crate::retry::RetryClass;

/// Path of the business profile.
pub const PROFILE_PATH: &str = "/whatsapp_business_profile";
/// The fields read by [`Profile::get`].
pub const PROFILE_FIELDS: &str =
    "about,address,description,email,profile_picture_url,websites,vertical";
/// Longest `about`.
pub const MAX_ABOUT: usize = 139;
/// Longest `address`.
pub const MAX_ADDRESS: usize = 256;
/// Longest `description` (client-side; sources disagree, the server decides below it).
pub const MAX_DESCRIPTION: usize = 512;
/// Longest `email`.
pub const MAX_EMAIL: usize = 128;
/// Most websites.
pub const MAX_WEBSITES: usize = 2;
/// Longest website.
pub const MAX_WEBSITE: usize = 256;

/// The `vertical` values.
pub const VERTICALS: [&str; 19] = [
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "NOT_A_BIZ",
];

/// The business profile as read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BusinessProfile {
    /// The "about" text.
    pub about: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Contact email.
    pub email: Option<String>,
    /// URL of the profile picture.
    pub profile_picture_url: Option<String>,
    /// Websites.
    pub websites: Vec<String>,
    /// Industry.
    pub vertical: Option<String>,
}

impl BusinessProfile {
    /// Read `{"data":[{…}]}` (or a bare profile object) leniently.
    pub fn from_answer(v: &Value) -> Result<BusinessProfile> {
        let entry = match v.get("data") {
            Some(Value::Array(a)) => a.first().cloned().unwrap_or(Value::Null),
            Some(other) => other.clone(),
            None => v.clone(),
        };
        let Some(o) = entry.as_object() else {
            return Err(Error::InvalidResponse {
                status: 200,
                reason: "business profile answer holds no profile object".into(),
            });
        };
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(BusinessProfile {
            about: s("about"),
            address: s("address"),
            description: s("description"),
            email: s("email"),
            profile_picture_url: s("profile_picture_url"),
            websites: o
                .get("websites")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|w| w.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            vertical: s("vertical"),
        })
    }

    /// The canonical JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A change to the business profile: only the fields set are sent and changed.
///
/// ```
/// use wa360::manage::profile::ProfileUpdate;
/// let u = ProfileUpdate { about: Some("Open 9-17".into()), ..Default::default() };
/// assert_eq!(u.to_body()?["about"], "Open 9-17");
/// let bad = ProfileUpdate { websites: Some(vec!["example.com".into()]), ..Default::default() };
/// assert_eq!(bad.to_body().unwrap_err().field(), Some("websites[0]"));
/// # Ok::<(), wa360::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileUpdate {
    /// 1..139 characters.
    pub about: Option<String>,
    /// ≤ 256 characters.
    pub address: Option<String>,
    /// ≤ 512 characters.
    pub description: Option<String>,
    /// ≤ 128 characters, an email address.
    pub email: Option<String>,
    /// At most 2, each ≤ 256 with `http://` or `https://`.
    pub websites: Option<Vec<String>>,
    /// One of [`VERTICALS`].
    pub vertical: Option<String>,
    /// A handle from the resumable upload.
    pub profile_picture_handle: Option<String>,
}

/// Check an email address: `local@domain.tld`, no spaces, ≤ 128.
pub fn validate_email(field: &str, email: &str) -> Result<()> {
    check_len(field, email, 1, MAX_EMAIL)?;
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be an email address such as team@example.com",
        ))
    }
}

impl ProfileUpdate {
    /// Read the neutral form `{"about"?, "address"?, "description"?, "email"?,
    /// "websites"?, "vertical"?, "profile_picture_handle"?}` (unknown keys rejected).
    pub fn from_json(v: &Value) -> Result<ProfileUpdate> {
        let mut o = Obj::new("", v)?;
        let websites = match o.opt_value("websites") {
            None => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .enumerate()
                    .map(|(i, w)| as_string(&idx("websites", i), w))
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(other) => {
                return Err(Error::invalid(
                    "websites",
                    format!("must be an array of strings (got {})", type_name(&other)),
                ));
            }
        };
        let u = ProfileUpdate {
            about: o.opt_str("about")?,
            address: o.opt_str("address")?,
            description: o.opt_str("description")?,
            email: o.opt_str("email")?,
            websites,
            vertical: o.opt_str("vertical")?,
            profile_picture_handle: o.opt_str("profile_picture_handle")?,
        };
        o.finish()?;
        Ok(u)
    }

    /// Check every limit.
    pub fn validate(&self) -> Result<()> {
        self.to_body().map(|_| ())
    }

    /// The exact wire body (`messaging_product` first, then the fields set), after
    /// checking every limit.
    pub fn to_body(&self) -> Result<Value> {
        let mut m = Map::new();
        m.insert("messaging_product".into(), json!("whatsapp"));
        if let Some(a) = &self.about {
            check_len("about", a, 1, MAX_ABOUT)?;
            m.insert("about".into(), json!(a));
        }
        if let Some(a) = &self.address {
            check_len("address", a, 0, MAX_ADDRESS)?;
            m.insert("address".into(), json!(a));
        }
        if let Some(d) = &self.description {
            check_len("description", d, 0, MAX_DESCRIPTION)?;
            m.insert("description".into(), json!(d));
        }
        if let Some(e) = &self.email {
            validate_email("email", e)?;
            m.insert("email".into(), json!(e));
        }
        if let Some(ws) = &self.websites {
            if ws.len() > MAX_WEBSITES {
                return Err(Error::invalid(
                    "websites",
                    format!(
                        "must hold at most {MAX_WEBSITES} websites (got {})",
                        ws.len()
                    ),
                ));
            }
            let mut sent = Vec::with_capacity(ws.len());
            for (i, w) in ws.iter().enumerate() {
                let f = idx("websites", i);
                check_len(&f, w, 1, MAX_WEBSITE)?;
                let lower = w.to_ascii_lowercase();
                let Some(scheme) = ["http://", "https://"]
                    .into_iter()
                    .find(|s| lower.starts_with(s))
                else {
                    return Err(Error::invalid(f, "must start with http:// or https://"));
                };
                crate::messages::common::check_http_url(&f, w)?;
                // The scheme is sent in lower case (its canonical form; a scheme is
                // case-insensitive, but the API's prefix check may not be).
                sent.push(format!("{scheme}{}", &w[scheme.len()..]));
            }
            m.insert("websites".into(), json!(sent));
        }
        if let Some(v) = &self.vertical {
            if v.is_empty() {
                return Err(Error::invalid(
                    "vertical",
                    "cannot be emptied once set: pick one of the values (e.g. OTHER)",
                ));
            }
            if !VERTICALS.contains(&v.as_str()) {
                return Err(Error::invalid(
                    "vertical",
                    format!("must be one of {} (got {v:?})", VERTICALS.join(", ")),
                ));
            }
            m.insert("vertical".into(), json!(v));
        }
        if let Some(h) = &self.profile_picture_handle {
            check_len("profile_picture_handle", h, 1, 4096)?;
            m.insert("profile_picture_handle".into(), json!(h));
        }
        if m.len() == 1 {
            return Err(Error::invalid(
                "profile",
                "names no field to change (about, address, description, email, websites, vertical, profile_picture_handle)",
            ));
        }
        Ok(Value::Object(m))
    }
}

/// Check a profile picture as [`Profile::set_picture`] does before any request: its type
/// (JPEG or PNG), size and file name. For a caller that makes other changes first (the
/// CLI's `profile set --about … --picture …`), so that bad input changes nothing.
pub fn check_picture(len: usize, mime: &str, file_name: &str) -> Result<()> {
    if !matches!(mime, "image/jpeg" | "image/png") {
        return Err(Error::invalid(
            "mime_type",
            format!("a profile picture must be image/jpeg or image/png (got {mime:?})"),
        ));
    }
    crate::media::check_upload(len, mime, file_name, "file_name")
}

/// Business profile of one channel: `client.profile()`.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    client: &'a Client,
}

impl Client {
    /// The business profile (get, update, picture).
    pub fn profile(&self) -> Profile<'_> {
        Profile { client: self }
    }
}

impl Profile<'_> {
    /// Read the profile (`GET /whatsapp_business_profile?fields=…`).
    pub async fn get(&self) -> Result<BusinessProfile> {
        let v = self
            .client
            .request_json(
                Method::GET,
                &format!("{PROFILE_PATH}?fields={PROFILE_FIELDS}"),
                None,
                RetryClass::Idempotent,
            )
            .await?;
        BusinessProfile::from_answer(&v)
    }

    /// Change the fields set in `update` (`POST /whatsapp_business_profile`), validated
    /// first. The POST sets absolute values and is retried like an idempotent request.
    pub async fn update(&self, update: &ProfileUpdate) -> Result<()> {
        let body = update.to_body()?;
        let v = self
            .client
            .request_json(
                Method::POST,
                PROFILE_PATH,
                Some(&body),
                RetryClass::Idempotent,
            )
            .await?;
        expect_success_true(&v, 200, RetryClass::Idempotent)
    }

    /// Upload a picture through the resumable upload and set it as the profile
    /// picture. Returns the upload handle.
    pub async fn set_picture(&self, bytes: Vec<u8>, mime: &str, file_name: &str) -> Result<String> {
        check_picture(bytes.len(), mime, file_name)?;
        let handle = self.client.uploads().upload(bytes, mime, file_name).await?;
        self.update(&ProfileUpdate {
            profile_picture_handle: Some(handle.clone()),
            ..ProfileUpdate::default()
        })
        .await?;
        Ok(handle)
    }
}
