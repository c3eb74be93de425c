//! `wa360 templates|profile|block|doctor`: the management API from the command line.
//! Every command prints human-readable lines, or JSON with `--json`; bad input exits 2
//! before any request, API and network errors exit 1. See `docs/management.md`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use wa360::manage::ProfileUpdate;
use wa360::manage::templates::{ListOptions, TemplateDraft, TemplateInfo};
use wa360::webhook::registration::validate_webhook_url;

use crate::{ApiOpts, CliResult, Failure, make_client, read_text};

/// `wa360 templates …`
#[derive(Subcommand, Debug)]
pub enum TemplatesCmd {
    /// List templates (pages through every page by itself).
    List {
        #[command(flatten)]
        api: ApiOpts,
        /// Which list call: `config` (GET /v1/configs/templates) or `graph` (GET /message_templates).
        #[arg(long, default_value = "config")]
        source: String,
        /// Only this template name.
        #[arg(long)]
        name: Option<String>,
        /// Only this status (APPROVED, PENDING, REJECTED, …).
        #[arg(long)]
        status: Option<String>,
        /// Only this language code.
        #[arg(long)]
        language: Option<String>,
        /// Templates per request (1..1000).
        #[arg(long)]
        page_size: Option<u32>,
        /// Stop after this many templates.
        #[arg(long)]
        limit: Option<u64>,
        /// Print a JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Show one template: by id (digits; a name of digits when no id matches) or by name
    /// (every language, or --language).
    Get {
        #[command(flatten)]
        api: ApiOpts,
        /// Template id or name.
        id_or_name: String,
        /// With a name: only this language.
        #[arg(long)]
        language: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a template from a JSON file (Meta's template-creation format) or `-` for stdin.
    Create {
        #[command(flatten)]
        api: ApiOpts,
        /// The draft: a file path or `-`.
        file: String,
        /// Only check the draft and print the body that would be sent.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a template by name: removes EVERY language of that name.
    Delete {
        #[command(flatten)]
        api: ApiOpts,
        /// Template name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `wa360 profile …`
#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// Show the business profile.
    Get {
        #[command(flatten)]
        api: ApiOpts,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change the fields given (others stay as they are).
    Set {
        #[command(flatten)]
        api: ApiOpts,
        /// "About" text (1..139).
        #[arg(long)]
        about: Option<String>,
        /// Address (≤ 256).
        #[arg(long)]
        address: Option<String>,
        /// Description (≤ 512).
        #[arg(long)]
        description: Option<String>,
        /// Contact email (≤ 128).
        #[arg(long)]
        email: Option<String>,
        /// Website with http:// or https:// (repeat for 2; ≤ 256 each).
        #[arg(long = "website")]
        websites: Vec<String>,
        /// Industry: UNDEFINED, OTHER, AUTO, BEAUTY, APPAREL, EDU, ENTERTAIN, EVENT_PLAN,
        /// FINANCE, GROCERY, GOVT, HOTEL, HEALTH, NONPROFIT, PROF_SERVICES, RETAIL, TRAVEL,
        /// RESTAURANT, NOT_A_BIZ.
        #[arg(long)]
        vertical: Option<String>,
        /// A JPEG or PNG to upload (resumable upload) and set as the profile picture.
        #[arg(long)]
        picture: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `wa360 block …`
#[derive(Subcommand, Debug)]
pub enum BlockCmd {
    /// List the blocked users (all pages).
    List {
        #[command(flatten)]
        api: ApiOpts,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Block users (phone numbers; only users who wrote in the last 24 hours).
    Add(BlockUsers),
    /// Unblock users.
    Remove(BlockUsers),
}

/// The arguments of `wa360 block add` and `wa360 block remove`.
#[derive(Args, Debug)]
pub struct BlockUsers {
    #[command(flatten)]
    api: ApiOpts,
    /// Phone numbers in international format (1..1000).
    #[arg(required = true)]
    users: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `wa360 doctor`
#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    api: ApiOpts,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

fn print_json(v: &Value) -> CliResult {
    let s = serde_json::to_string(v)
        .map_err(|e| Failure::runtime(format!("cannot print the answer: {e}")))?;
    outln!("{s}");
    Ok(())
}

/// Print `v` as one JSON line with `--json`, else the line `text`.
fn answer(json: bool, v: Value, text: impl std::fmt::Display) -> CliResult {
    if json {
        print_json(&v)
    } else {
        outln!("{text}");
        Ok(())
    }
}

fn template_line(t: &TemplateInfo) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        t.name,
        t.language,
        t.status.as_deref().unwrap_or("-"),
        t.category.as_deref().unwrap_or("-"),
        t.id.as_deref().unwrap_or("-")
    )
}

fn read_json(file: &str) -> Result<Value, Failure> {
    let text = read_text(file)?;
    serde_json::from_str(&text).map_err(|e| Failure::input(format!("{file} is not JSON: {e}")))
}

/// Run `wa360 templates …`.
pub async fn run_templates(cmd: TemplatesCmd) -> CliResult {
    match cmd {
        TemplatesCmd::List {
            api,
            source,
            name,
            status,
            language,
            page_size,
            limit,
            json,
        } => {
            let options =
                ListOptions::from_parts(&source, name, status, language, page_size, limit)?;
            let client = make_client(&api)?;
            let mut it = client.templates().list(options)?;
            let mut all = Vec::new();
            while let Some(t) = it.next().await? {
                if json {
                    all.push(t.to_json());
                } else {
                    outln!("{}", template_line(&t));
                }
            }
            if json {
                print_json(&Value::Array(all))?;
            }
            Ok(())
        }
        TemplatesCmd::Get {
            api,
            id_or_name,
            language,
            json,
        } => {
            let client = make_client(&api)?;
            // Digits are an id first; a name may also be all digits, so one not found as an
            // id is looked up as a name.
            let by_id: Vec<TemplateInfo> = if id_or_name.bytes().all(|b| b.is_ascii_digit()) {
                client
                    .templates()
                    .get(&id_or_name)
                    .await?
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            let found = if by_id.is_empty() {
                client
                    .templates()
                    .find(&id_or_name, language.as_deref())
                    .await?
            } else {
                by_id
            };
            if found.is_empty() {
                return Err(Failure::runtime(format!("no template {id_or_name:?}")));
            }
            if json {
                print_json(&Value::Array(
                    found.iter().map(TemplateInfo::to_json).collect(),
                ))
            } else {
                for t in &found {
                    outln!("{}", template_line(t));
                    for c in &t.components {
                        outln!("  {c}");
                    }
                }
                Ok(())
            }
        }
        TemplatesCmd::Create {
            api,
            file,
            dry_run,
            json,
        } => {
            let draft = TemplateDraft::from_json(&read_json(&file)?)?;
            let body = draft.to_body()?;
            if dry_run {
                return print_json(&body);
            }
            let client = make_client(&api)?;
            let t = client.templates().create(&draft).await?;
            answer(
                json,
                t.to_json(),
                format_args!("created {}", template_line(&t)),
            )
        }
        TemplatesCmd::Delete { api, name, json } => {
            wa360::manage::templates::validate_template_name("name", &name)?;
            let client = make_client(&api)?;
            let reply = client.templates().delete(&name).await?;
            let text = format!("deleted {name} (every language)");
            answer(json, json!({"deleted": name, "answer": reply}), text)
        }
    }
}

/// Run `wa360 profile …`.
pub async fn run_profile(cmd: ProfileCmd) -> CliResult {
    match cmd {
        ProfileCmd::Get { api, json } => {
            let client = make_client(&api)?;
            let p = client.profile().get().await?;
            if json {
                return print_json(&p.to_json());
            }
            let show = |k: &str, v: Option<&str>| outln!("{k:<20}{}", v.unwrap_or("-"));
            show("about", p.about.as_deref());
            show("address", p.address.as_deref());
            show("description", p.description.as_deref());
            show("email", p.email.as_deref());
            show(
                "websites",
                Some(&p.websites.join(" "))
                    .filter(|s| !s.is_empty())
                    .map(String::as_str),
            );
            show("vertical", p.vertical.as_deref());
            show("profile_picture_url", p.profile_picture_url.as_deref());
            Ok(())
        }
        ProfileCmd::Set {
            api,
            about,
            address,
            description,
            email,
            websites,
            vertical,
            picture,
            json,
        } => {
            let update = ProfileUpdate {
                about,
                address,
                description,
                email,
                websites: (!websites.is_empty()).then_some(websites),
                vertical,
                profile_picture_handle: None,
            };
            let has_fields = update != ProfileUpdate::default();
            if has_fields {
                update.validate()?;
            } else if picture.is_none() {
                return Err(Failure::input(
                    "name at least one field to change (--about, --address, --description, --email, --website, --vertical, --picture)",
                ));
            }
            let pic = match &picture {
                None => None,
                Some(path) => {
                    let bytes = std::fs::read(path).map_err(|e| {
                        Failure::input(format!("cannot read {}: {e}", path.display()))
                    })?;
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_else(|| "picture".into());
                    let lower = name.to_ascii_lowercase();
                    let mime = if lower.ends_with(".png") {
                        "image/png"
                    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
                        "image/jpeg"
                    } else {
                        return Err(Failure::input(
                            "--picture must be a .jpg, .jpeg or .png file",
                        ));
                    };
                    // Checked before the profile's other fields are written: bad input
                    // changes nothing.
                    wa360::manage::profile::check_picture(bytes.len(), mime, &name)?;
                    Some((bytes, mime, name))
                }
            };
            let client = make_client(&api)?;
            if has_fields {
                client.profile().update(&update).await?;
            }
            let handle = match pic {
                Some((bytes, mime, name)) => {
                    Some(client.profile().set_picture(bytes, mime, &name).await?)
                }
                None => None,
            };
            let v = json!({"success": true, "picture_handle": handle});
            answer(json, v, "profile updated")
        }
    }
}

/// Run `wa360 block …`.
pub async fn run_block(cmd: BlockCmd) -> CliResult {
    match cmd {
        BlockCmd::List { api, json } => {
            let client = make_client(&api)?;
            let users = client.blocked_users().list(None)?.collect_all().await?;
            if json {
                let v =
                    serde_json::to_value(&users).map_err(|e| Failure::runtime(e.to_string()))?;
                return print_json(&v);
            }
            for u in users {
                outln!("{}", u.wa_id.or(u.input).unwrap_or_default());
            }
            Ok(())
        }
        BlockCmd::Add(b) => change_block(b, true).await,
        BlockCmd::Remove(b) => change_block(b, false).await,
    }
}

async fn change_block(b: BlockUsers, add: bool) -> CliResult {
    let BlockUsers { api, users, json } = b;
    wa360::manage::blocked::validate_users(&users)?;
    let client = make_client(&api)?;
    let b = client.blocked_users();
    let r = if add {
        b.block(&users).await?
    } else {
        b.unblock(&users).await?
    };
    if json {
        let v = serde_json::to_value(&r).map_err(|e| Failure::runtime(e.to_string()))?;
        return print_json(&v);
    }
    for u in &r.users {
        outln!(
            "{} {}",
            if add { "blocked" } else { "unblocked" },
            u.wa_id
                .clone()
                .or_else(|| u.input.clone())
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// One line of `wa360 doctor`.
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    hint: Option<String>,
}

/// Run `wa360 doctor`: the key, the number's health, the webhook settings and the URL
/// rules, each with a PASS or FAIL line (and a hint when it fails). Exit 1 when any fails.
pub async fn run_doctor(a: DoctorArgs) -> CliResult {
    let client = make_client(&a.api)?;
    let mut checks = Vec::new();
    let health = client.health().check().await?;
    checks.push(Check {
        name: "key",
        ok: health.key_ok,
        detail: if health.key_ok {
            format!("accepted by {}", client.config().base_url())
        } else {
            "rejected".into()
        },
        hint: (!health.key_ok).then(|| {
            "set D360_API_KEY to the key of this number (360dialog Hub → API keys)".to_string()
        }),
    });
    if health.key_ok {
        checks.push(Check {
            name: "number health",
            ok: health.can_send,
            detail: match (&health.status, health.problems.is_empty()) {
                (Some(s), true) => format!("can_send_message {s}"),
                (Some(s), false) => format!("can_send_message {s}: {}", health.problems.join("; ")),
                (None, true) => "unknown".into(),
                (None, false) => health.problems.join("; "),
            },
            hint: (!health.can_send).then(|| {
                "fix the problems listed (registration, payment, policy) in the 360dialog Hub"
                    .to_string()
            }),
        });
        let (url, failed) = match client.webhooks().get_phone().await {
            Ok(w) => (w.map(|w| w.url), None),
            Err(e) => (None, Some(e.to_string())),
        };
        checks.push(Check {
            name: "webhook settings",
            ok: url.is_some(),
            detail: match (&url, &failed) {
                (Some(u), _) => format!("phone-number webhook {u}"),
                (None, Some(e)) => format!("could not read the webhook settings: {e}"),
                (None, None) => "no phone-number webhook is registered".into(),
            },
            hint: url.is_none().then(|| {
                "register one: wa360 webhook set https://<your host>/<path> --basic-auth user:pass"
                    .to_string()
            }),
        });
        if let Some(u) = &url {
            let rule = validate_webhook_url(u);
            checks.push(Check {
                name: "webhook URL rules",
                ok: rule.is_ok(),
                detail: match &rule {
                    Ok(()) => "https, a domain name, no `_` in the host, no port".into(),
                    Err(e) => e.to_string(),
                },
                hint: rule.is_err().then(|| {
                    "360dialog delivers only to https URLs on a domain name without `_` and without a port"
                        .to_string()
                }),
            });
        }
    }
    let all_ok = checks.iter().all(|c| c.ok);
    if a.json {
        let list: Vec<Value> = checks
            .iter()
            .map(|c| json!({"check": c.name, "ok": c.ok, "detail": c.detail, "hint": c.hint}))
            .collect();
        print_json(&json!({"ok": all_ok, "checks": list}))?;
    } else {
        for c in &checks {
            outln!(
                "{}  {:<18} {}",
                if c.ok { "PASS" } else { "FAIL" },
                c.name,
                c.detail
            );
            if let Some(h) = &c.hint {
                outln!("      hint: {h}");
            }
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(Failure::runtime(format!(
            "{} of {} checks failed",
            checks.iter().filter(|c| !c.ok).count(),
            checks.len()
        )))
    }
}
