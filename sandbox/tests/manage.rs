//! The management API (templates, profile, health, blocked users, resumable upload)
//! and the media-id cache: the wa360 core client against the sandbox over real HTTP,
//! every call and the errors each can get.

use std::time::Duration;

use serde_json::{Value, json};
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::manage::templates::{ListOptions, TemplateDraft, TemplateSource, check_template_send};
use wa360::manage::{ProfileUpdate, TemplateInfo};
use wa360::media_cache::MediaCache;
use wa360::messages::build_body;
use wa360_sandbox::{Fault, FaultRule, Sandbox};

mod common;

fn client_with(sb: &Sandbox, key: &str) -> Client {
    Client::builder()
        .base_url(&sb.url())
        .api_key(key)
        .timeout(Duration::from_secs(10))
        .retry_policy(common::quick_retries(2, 10, 50, 1000))
        .build()
        .unwrap()
}

fn client(sb: &Sandbox) -> Client {
    client_with(sb, sb.api_key())
}

/// Listing options for the Graph-style template list, defaults otherwise.
fn graph_list() -> ListOptions {
    ListOptions {
        source: TemplateSource::Graph,
        ..Default::default()
    }
}

fn count(sb: &Sandbox, method: &str, prefix: &str) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

fn draft(name: &str, language: &str) -> TemplateDraft {
    TemplateDraft::from_json(&json!({
        "name": name, "category": "UTILITY", "language": language,
        "components": [
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships today.",
             "example": {"body_text": [["Maya", "4471"]]}},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Track", "url": "https://shop.example.com/t/{{1}}",
                 "example": "https://shop.example.com/t/4471"},
                {"type": "QUICK_REPLY", "text": "Stop"}]}
        ]
    }))
    .unwrap()
}

async fn control(sb: &Sandbox, path: &str, body: Value) {
    let (status, v) = common::control_post(sb, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {v}");
}

#[tokio::test]
async fn templates_create_list_both_shapes_get_find_delete() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let t = c.templates();
    let created = t.create(&draft("order_update", "en_US")).await.unwrap();
    assert_eq!(created.status.as_deref(), Some("APPROVED"));
    assert_eq!(created.name, "order_update");
    let id = created.id.clone().unwrap();
    t.create(&draft("order_update", "de")).await.unwrap();
    t.create(&draft("welcome", "en_US")).await.unwrap();

    // 360dialog's list, offset paging, 2 per page: 3 templates over 2 pages.
    let mut it = t
        .list(ListOptions {
            page_size: Some(2),
            ..ListOptions::default()
        })
        .unwrap();
    let mut names = Vec::new();
    while let Some(x) = it.next().await.unwrap() {
        names.push(format!("{}/{}", x.name, x.language));
    }
    assert_eq!(
        names,
        ["order_update/en_US", "order_update/de", "welcome/en_US"]
    );
    assert_eq!(it.pages_fetched(), 2);
    let queries: Vec<String> = sb
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/configs/templates")
        .filter_map(|r| r.query.clone())
        .collect();
    assert_eq!(queries, ["limit=2&offset=0", "limit=2&offset=2"]);

    // Graph-style list, cursor paging: the same templates.
    let graph = t
        .list(ListOptions {
            page_size: Some(2),
            ..graph_list()
        })
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let gnames: Vec<String> = graph
        .iter()
        .map(|x| format!("{}/{}", x.name, x.language))
        .collect();
    assert_eq!(gnames, names);
    assert_eq!(count(&sb, "GET", "/message_templates"), 2);

    // Filters: by name (server side) and language (client side).
    let found = t.find("order_update", Some("de")).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].language, "de");
    assert!(
        sb.requests()
            .iter()
            .any(|r| r.query.as_deref().is_some_and(|q| q.contains("filters=")))
    );

    // Get one by id; an unknown id is None.
    let got = t.get(&id).await.unwrap().unwrap();
    assert_eq!(got.name, "order_update");
    assert_eq!(got.components.len(), 2);
    assert_eq!(t.get("999999").await.unwrap(), None);

    // Delete by name removes every language.
    t.delete("order_update").await.unwrap();
    assert!(t.find("order_update", None).await.unwrap().is_empty());
    let left = t
        .list(ListOptions::default())
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    // Deleting again: the server's 404 comes back as an error.
    let e = t.delete("order_update").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[tokio::test]
async fn template_errors_local_and_remote() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let t = c.templates();
    // Local rules: no request is made.
    let mut bad = draft("Order-Update", "en_US");
    let e = t.create(&bad).await.unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        (ErrorCode::InvalidArgument, Some("name"))
    );
    bad = TemplateDraft::from_json(&json!({"name": "x", "category": "UTILITY", "language": "en",
        "components": [{"type": "BODY", "text": "Hi {{1}} {{2}}", "example": {"body_text": [["a"]]}}]}))
    .unwrap();
    let e = t.create(&bad).await.unwrap_err();
    assert_eq!(e.field(), Some("components[0].example.body_text"));
    assert!(e.to_string().contains("the text has 2, got 1"), "{e}");
    let e = t
        .list(ListOptions {
            page_size: Some(0),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.field(), Some("page_size"));
    assert_eq!(
        t.delete("Bad Name").await.unwrap_err().field(),
        Some("name")
    );
    assert_eq!(t.get("../x").await.unwrap_err().field(), Some("id"));
    assert_eq!(count(&sb, "POST", "/v1/configs/templates"), 0);
    assert_eq!(count(&sb, "DELETE", "/v1/configs/templates"), 0);

    // The sandbox checks on its own: a body the client would refuse is refused there too.
    let e = c
        .request_json(
            reqwest::Method::POST,
            "/v1/configs/templates",
            Some(
                &json!({"name": "x", "category": "UTILITY", "language": "en",
                "components": [{"type": "BODY", "text": "Hi {{1}}"}]}),
            ),
            wa360::retry::RetryClass::Send,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.api_code()),
        (ErrorCode::InvalidRequest, Some(100))
    );

    // A duplicate name + language.
    t.create(&draft("dup", "en")).await.unwrap();
    let e = t.create(&draft("dup", "en")).await.unwrap_err();
    assert_eq!(e.api_code(), Some(100));
    assert!(e.details().unwrap_or_default().contains("already exists"));

    // A wrong key.
    let wrong = client_with(&sb, "not-the-key");
    let e = wrong
        .templates()
        .list(ListOptions::default())
        .unwrap()
        .next()
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Authentication);

    // A 503 on a list page is retried (GET), and the iterator goes on.
    sb.add_fault(FaultRule::new(
        "GET",
        "/message_templates",
        Fault::Status {
            status: 503,
            body: None,
        },
    ));
    let all = t.list(graph_list()).unwrap().collect_all().await.unwrap();
    assert_eq!(all.len(), 1);
    // A create that breaks after being sent is outcome_unknown, never repeated.
    sb.add_fault(FaultRule::new(
        "POST",
        "/v1/configs/templates",
        Fault::ResetAfterBody,
    ));
    let before = count(&sb, "POST", "/v1/configs/templates");
    let e = t.create(&draft("reset_case", "en")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown);
    assert_eq!(count(&sb, "POST", "/v1/configs/templates"), before + 1);
    // A rate limit on a list page ends the iteration with the error once retries run out.
    sb.add_fault(
        FaultRule::new(
            "GET",
            "/v1/configs/templates",
            Fault::RateLimit { retry_after: None },
        )
        .times(3),
    );
    let mut it = t.list(ListOptions::default()).unwrap();
    assert_eq!(it.next().await.unwrap_err().code(), ErrorCode::RateLimited);
    assert_eq!(it.next().await.unwrap(), None);
}

#[tokio::test]
async fn send_is_checked_against_the_listed_template() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    c.templates()
        .create(&draft("order_update", "en_US"))
        .await
        .unwrap();
    let listed: TemplateInfo = c
        .templates()
        .find("order_update", Some("en_US"))
        .await
        .unwrap()
        .remove(0);
    let good = build_body(
        &json!({"to": "15555550123", "type": "template", "template": {
        "name": "order_update", "language": "en_US", "body": ["Maya", "4471"],
        "buttons": [{"sub_type": "url", "index": 0, "text": "4471"}]}}),
    )
    .unwrap();
    check_template_send(&listed, &good).unwrap();
    c.send_body(good).await.unwrap();

    let one_param = build_body(
        &json!({"to": "15555550123", "type": "template", "template": {
        "name": "order_update", "language": "en_US", "body": ["Maya"],
        "buttons": [{"sub_type": "url", "index": 0, "text": "4471"}]}}),
    )
    .unwrap();
    let e = check_template_send(&listed, &one_param).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(e.field(), Some("template.components.body"));
    assert!(e.to_string().contains("2 placeholder(s) but 1"), "{e}");

    let no_button = build_body(
        &json!({"to": "15555550123", "type": "template", "template": {
        "name": "order_update", "language": "en_US", "body": ["Maya", "4471"]}}),
    )
    .unwrap();
    let e = check_template_send(&listed, &no_button).unwrap_err();
    assert!(e.to_string().contains("button 0"), "{e}");
    let header = build_body(
        &json!({"to": "15555550123", "type": "template", "template": {
        "name": "order_update", "language": "en_US", "header": {"type": "text", "text": "x"},
        "body": ["Maya", "4471"], "buttons": [{"sub_type": "url", "index": 0, "text": "1"}]}}),
    )
    .unwrap();
    let e = check_template_send(&listed, &header).unwrap_err();
    assert_eq!(e.field(), Some("template.components.header"));
}

#[tokio::test]
async fn profile_get_update_picture_and_errors() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let p = c.profile();
    let empty = p.get().await.unwrap();
    assert_eq!(empty.about, None);
    p.update(&ProfileUpdate {
        about: Some("Open 9-17".into()),
        email: Some("team@shop.example.com".into()),
        websites: Some(vec!["https://shop.example.com".into()]),
        vertical: Some("RETAIL".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let got = p.get().await.unwrap();
    assert_eq!(got.about.as_deref(), Some("Open 9-17"));
    assert_eq!(got.websites, ["https://shop.example.com"]);
    assert_eq!(got.vertical.as_deref(), Some("RETAIL"));
    let q = sb
        .requests()
        .iter()
        .find(|r| r.method == "GET" && r.path == "/whatsapp_business_profile")
        .and_then(|r| r.query.clone())
        .unwrap();
    assert!(
        q.starts_with("fields=about,address,description,email"),
        "{q}"
    );
    let post = sb
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/whatsapp_business_profile")
        .unwrap();
    assert_eq!(post.body["messaging_product"], "whatsapp");
    assert!(
        post.body.get("address").is_none(),
        "only the fields set are sent"
    );

    // Local limits: no request.
    let before = count(&sb, "POST", "/whatsapp_business_profile");
    for (u, field) in [
        (
            ProfileUpdate {
                about: Some("a".repeat(140)),
                ..Default::default()
            },
            "about",
        ),
        (
            ProfileUpdate {
                email: Some("nope".into()),
                ..Default::default()
            },
            "email",
        ),
        (
            ProfileUpdate {
                vertical: Some(String::new()),
                ..Default::default()
            },
            "vertical",
        ),
        (
            ProfileUpdate {
                websites: Some(vec![
                    "https://a.example".into(),
                    "https://b.example".into(),
                    "https://c.example".into(),
                ]),
                ..Default::default()
            },
            "websites",
        ),
    ] {
        assert_eq!(p.update(&u).await.unwrap_err().field(), Some(field));
    }
    assert_eq!(count(&sb, "POST", "/whatsapp_business_profile"), before);
    // The sandbox refuses an emptied vertical on its own.
    let e = c
        .request_json(
            reqwest::Method::POST,
            "/whatsapp_business_profile",
            Some(&json!({"messaging_product": "whatsapp", "vertical": ""})),
            wa360::retry::RetryClass::Idempotent,
        )
        .await
        .unwrap_err();
    assert_eq!(e.api_code(), Some(131009));

    // The picture goes through the resumable upload.
    let handle = p
        .set_picture(vec![0xFF, 0xD8, 0xFF, 1, 2, 3], "image/jpeg", "logo.jpg")
        .await
        .unwrap();
    assert!(handle.starts_with("4::"), "{handle}");
    assert!(p.get().await.unwrap().profile_picture_url.is_some());
    assert_eq!(count(&sb, "POST", "/uploads"), 1);
    assert_eq!(
        p.set_picture(vec![1], "image/gif", "a.gif")
            .await
            .unwrap_err()
            .field(),
        Some("mime_type")
    );
    // An unknown handle is refused by the server.
    let e = p
        .update(&ProfileUpdate {
            profile_picture_handle: Some("4::bm9wZQ==".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.api_code(), Some(131009));
}

/// A resumable upload whose byte POSTs meet `faults`, one each: it resumes after each (the
/// offset asked once per fault) and gives the file handle.
async fn upload_resumes_after(faults: Vec<Fault>) {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let n = faults.len();
    for f in faults {
        sb.add_fault(FaultRule::new("POST", "/upload:*", f));
    }
    let h = c
        .uploads()
        .upload(data, "application/pdf", "doc.pdf")
        .await
        .unwrap();
    assert!(h.starts_with("4::"), "{h}");
    assert_eq!(
        count(&sb, "GET", "/upload:"),
        n,
        "the offset asked after each"
    );
}

/// A transient error from the server (a 503 from an overloaded gateway) on the bytes
/// failed the whole upload; it is resumed like a broken connection: the offset is asked
/// and the rest sent.
#[tokio::test]
async fn resumable_upload_resumes_after_a_transient_server_error() {
    upload_resumes_after(vec![Fault::Status {
        status: 503,
        body: None,
    }])
    .await;
}

/// A rate-limit refusal of the bytes (HTTP 429, or 360dialog's endpoint limit, a 400) failed
/// the whole upload and left its session open; the bytes were never processed, so the upload
/// waits as the answer says (Retry-After, else a short pause) and resumes from the offset.
#[tokio::test]
async fn resumable_upload_resumes_after_a_rate_limit_refusal() {
    upload_resumes_after(vec![
        Fault::RateLimit {
            retry_after: Some(wa360_sandbox::RetryAfter::Seconds(1)),
        },
        Fault::Dialog360Error {
            status: None,
            message: None,
        },
    ])
    .await;
}

#[tokio::test]
async fn resumable_upload_resumes_after_a_broken_connection() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    // The bytes arrive, then the connection is reset before the answer.
    sb.add_fault(FaultRule::new("POST", "/upload:*", Fault::ResetAfterBody));
    let h = c
        .uploads()
        .upload(data, "video/mp4", "sample.mp4")
        .await
        .unwrap();
    assert!(h.starts_with("4::"));
    let gets = count(&sb, "GET", "/upload:");
    assert_eq!(gets, 1, "the offset was asked once");
    let posts: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/upload:"))
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].headers.get("file_offset").map(String::as_str),
        Some("0")
    );
    assert_eq!(
        posts[1].headers.get("file_offset").map(String::as_str),
        Some("200000")
    );
    // Bad input: no request.
    assert_eq!(
        c.uploads()
            .upload(vec![], "image/png", "a.png")
            .await
            .unwrap_err()
            .field(),
        Some("data")
    );
    assert_eq!(
        c.uploads().offset("nope").await.unwrap_err().field(),
        Some("session")
    );
    // An unknown session is the server's 404.
    assert_eq!(
        c.uploads()
            .offset("upload:unknown")
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
}

#[tokio::test]
async fn health_status_and_check() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let s = c.health().status().await.unwrap();
    assert_eq!(s.can_send_message, "AVAILABLE");
    assert!(s.entities.iter().any(|e| e.entity_type == "PHONE_NUMBER"));
    let ok = c.health().check().await.unwrap();
    assert!(ok.key_ok && ok.can_send && ok.problems.is_empty());

    control(&sb, "/_sandbox/health", json!({"health_status": {"can_send_message": "BLOCKED",
        "entities": [{"entity_type": "PHONE_NUMBER", "id": "112233445566778", "can_send_message": "BLOCKED",
            "errors": [{"error_code": 141010, "error_description": "The number is not registered",
                        "possible_solution": "Register the number"}]}]}}))
    .await;
    let blocked = c.health().check().await.unwrap();
    assert!(blocked.key_ok && !blocked.can_send);
    assert_eq!(blocked.status.as_deref(), Some("BLOCKED"));
    assert!(
        blocked.problems[0].contains("not registered"),
        "{:?}",
        blocked.problems
    );

    let wrong = client_with(&sb, "wrong-key-123")
        .health()
        .check()
        .await
        .unwrap();
    assert!(!wrong.key_ok && !wrong.can_send);
    assert!(!wrong.problems[0].contains("wrong-key-123"));

    // Meta's 190 behind 360dialog is a token problem upstream, not the user's key (the
    // gateway took the key): the check says so, and names no key as rejected.
    sb.add_fault(
        FaultRule::new(
            "GET",
            "/health_status",
            Fault::MetaError {
                code: 190,
                status: Some(400),
                message: None,
                details: None,
                subcode: None,
                retry_after: None,
            },
        )
        .times(1),
    );
    let upstream = c.health().check().await.unwrap();
    assert!(upstream.key_ok && !upstream.can_send, "{upstream:?}");
    assert!(
        upstream.problems[0].contains("360dialog support"),
        "{:?}",
        upstream.problems
    );

    // 502 twice, then the answer: the GET is retried.
    sb.add_fault(
        FaultRule::new("GET", "/health_status", Fault::Html { status: Some(502) }).times(2),
    );
    assert!(c.health().status().await.is_ok());
    // A connection that cannot be made is an error, not a "blocked" answer.
    let dead = Client::builder()
        .base_url("http://127.0.0.1:9")
        .api_key("k")
        .max_retries(0)
        .build()
        .unwrap();
    assert_eq!(
        dead.health().check().await.unwrap_err().code(),
        ErrorCode::Connection
    );
}

#[tokio::test]
async fn blocked_users_list_block_unblock_and_errors() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let b = c.blocked_users();
    // Only users who wrote in the last 24 h can be blocked.
    let e = b.block(&["+15550001111".into()]).await.unwrap_err();
    assert_eq!(e.api_code(), Some(139100));
    control(
        &sb,
        "/_sandbox/seen",
        json!({"users": ["15550001111", "15550002222", "15550003333"]}),
    )
    .await;
    let r = b
        .block(&[
            "+1 555 000 1111".into(),
            "15550002222".into(),
            "15550003333".into(),
        ])
        .await
        .unwrap();
    assert_eq!(r.users.len(), 3);
    assert_eq!(r.users[0].wa_id.as_deref(), Some("15550001111"));
    let sent = sb
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST" && r.path == "/block_users")
        .unwrap();
    assert_eq!(sent.body["block_users"][0]["user"], "15550001111");

    let mut it = b.list(Some(2)).unwrap();
    let mut ids = Vec::new();
    while let Some(u) = it.next().await.unwrap() {
        ids.push(u.wa_id.unwrap());
    }
    assert_eq!(ids, ["15550001111", "15550002222", "15550003333"]);
    assert_eq!(count(&sb, "GET", "/block_users"), 2);

    let r = b.unblock(&["15550002222".into()]).await.unwrap();
    assert_eq!(r.users[0].wa_id.as_deref(), Some("15550002222"));
    let left = b.list(None).unwrap().collect_all().await.unwrap();
    assert_eq!(left.len(), 2);

    // Local rules.
    let many: Vec<String> = (0..1001).map(|i| format!("1555{i:07}")).collect();
    assert_eq!(b.block(&many).await.unwrap_err().field(), Some("users"));
    assert_eq!(
        b.block(&["abc".into()]).await.unwrap_err().field(),
        Some("users[0]")
    );
    assert_eq!(b.unblock(&[]).await.unwrap_err().field(), Some("users"));
    assert_eq!(b.list(Some(5000)).unwrap_err().field(), Some("page_size"));
    // Blocking oneself is refused by the server.
    let e = b
        .block(&[wa360_sandbox::DISPLAY_PHONE_NUMBER.to_string()])
        .await
        .unwrap_err();
    assert_eq!(e.api_code(), Some(139100));
    // A 429 on block is retried (blocking sets absolute state).
    sb.add_fault(FaultRule::new(
        "POST",
        "/block_users",
        Fault::RateLimit { retry_after: None },
    ));
    assert!(b.block(&["15550001111".into()]).await.is_ok());
}

#[tokio::test]
async fn media_cache_reuses_ids_per_number_and_expires() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let dir =
        std::env::temp_dir().join(format!("wa360-media-cache-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let logo = b"\x89PNG\r\n\x1a\nlogo-bytes".to_vec();

    let cache = MediaCache::sqlite(&dir).unwrap();
    let first = cache
        .upload(&c, logo.clone(), "image/png", "logo.png")
        .await
        .unwrap();
    assert!(!first.reused);
    let again = cache
        .upload(&c, logo.clone(), "image/png", "logo.png")
        .await
        .unwrap();
    assert!(again.reused);
    assert_eq!(again.media_id, first.media_id);
    assert_eq!(count(&sb, "POST", "/media"), 1);
    // The id works for a send.
    c.send_body(
        json!({"messaging_product": "whatsapp", "to": "15555550123", "type": "image",
        "image": {"id": again.media_id}}),
    )
    .await
    .unwrap();

    // Another process opening the same file reuses it too.
    let other = MediaCache::sqlite(&dir).unwrap();
    assert!(
        other
            .upload(&c, logo.clone(), "image/png", "logo.png")
            .await
            .unwrap()
            .reused
    );
    // Another number (key) does not.
    let sb2 = Sandbox::start().await.unwrap();
    let c2 = client(&sb2);
    assert!(
        !other
            .upload(&c2, logo.clone(), "image/png", "logo.png")
            .await
            .unwrap()
            .reused
    );

    // 28 days later the id is no longer trusted: uploaded again.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let later = MediaCache::sqlite(&dir)
        .unwrap()
        .clock(move || now + 28 * 24 * 3600 + 1);
    let fresh = later
        .upload(&c, logo.clone(), "image/png", "logo.png")
        .await
        .unwrap();
    assert!(!fresh.reused);
    assert_eq!(count(&sb, "POST", "/media"), 2);
    // A process whose clock is an hour behind the one that stored the entry: its age is
    // unknown, so it is not trusted (it was, for its trust period plus the hour).
    let behind = MediaCache::sqlite(&dir)
        .unwrap()
        .clock(move || now + 28 * 24 * 3600 + 1 - 3600);
    assert_eq!(behind.lookup(&c, &logo, "image/png").await.unwrap(), None);
    let within = MediaCache::sqlite(&dir)
        .unwrap()
        .clock(move || now + 28 * 24 * 3600 + 1 - 60);
    assert!(
        within
            .lookup(&c, &logo, "image/png")
            .await
            .unwrap()
            .is_some(),
        "a minute of disagreement between clocks is normal"
    );

    // forget() drops it; a memory cache works the same way.
    cache.forget(&c, &logo, "image/png").await.unwrap();
    assert_eq!(cache.lookup(&c, &logo, "image/png").await.unwrap(), None);
    let mem = MediaCache::memory();
    assert!(
        !mem.upload(&c, logo.clone(), "image/png", "l.png")
            .await
            .unwrap()
            .reused
    );
    assert!(
        mem.upload(&c, logo, "image/png", "l.png")
            .await
            .unwrap()
            .reused
    );
    // The key is never stored in the file.
    let raw = std::fs::read(&dir).unwrap_or_default();
    let wal = std::fs::read(dir.with_extension("sqlite3-wal")).unwrap_or_default();
    let key = sb.api_key().as_bytes();
    assert!(!raw.windows(key.len()).any(|w| w == key) && !wal.windows(key.len()).any(|w| w == key));
    let _ = std::fs::remove_file(&dir);
}

/// Every management call with a rejected key is `authentication`, and with a 360dialog
/// gateway error (`endpoint rate limit`) is `rate_limited`, never anything vaguer.
#[tokio::test]
async fn every_call_reports_auth_and_rate_limit_errors_by_class() {
    let sb = Sandbox::start().await.unwrap();
    control(&sb, "/_sandbox/seen", json!({"users": ["15550001111"]})).await;
    for (key, want) in [
        ("wrong-key", ErrorCode::Authentication),
        ("", ErrorCode::RateLimited),
    ] {
        let c = if key.is_empty() {
            // Every request answers 360dialog's "endpoint rate limit" until cleared.
            sb.add_fault(FaultRule {
                method: None,
                path: None,
                count: 0,
                fault: Fault::Dialog360Error {
                    status: None,
                    message: None,
                },
            });
            Client::builder()
                .base_url(&sb.url())
                .api_key(sb.api_key())
                .max_retries(0)
                .build()
                .unwrap()
        } else {
            client_with(&sb, key)
        };
        let d = draft("any", "en");
        let results: Vec<(&str, wa360::Error)> = vec![
            ("create", c.templates().create(&d).await.unwrap_err()),
            (
                "list",
                c.templates()
                    .list(ListOptions::default())
                    .unwrap()
                    .next()
                    .await
                    .unwrap_err(),
            ),
            (
                "graph list",
                c.templates()
                    .list(graph_list())
                    .unwrap()
                    .next()
                    .await
                    .unwrap_err(),
            ),
            ("get", c.templates().get("123").await.unwrap_err()),
            ("delete", c.templates().delete("any").await.unwrap_err()),
            ("profile get", c.profile().get().await.unwrap_err()),
            (
                "profile update",
                c.profile()
                    .update(&ProfileUpdate {
                        about: Some("x".into()),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "upload",
                c.uploads()
                    .upload(vec![1], "image/png", "a.png")
                    .await
                    .unwrap_err(),
            ),
            ("health", c.health().status().await.unwrap_err()),
            (
                "blocked list",
                c.blocked_users()
                    .list(None)
                    .unwrap()
                    .next()
                    .await
                    .unwrap_err(),
            ),
            (
                "block",
                c.blocked_users()
                    .block(&["15550001111".into()])
                    .await
                    .unwrap_err(),
            ),
            (
                "unblock",
                c.blocked_users()
                    .unblock(&["15550001111".into()])
                    .await
                    .unwrap_err(),
            ),
            (
                "cached upload",
                MediaCache::memory()
                    .upload(&c, vec![1], "image/png", "a.png")
                    .await
                    .unwrap_err(),
            ),
        ];
        for (call, e) in results {
            assert_eq!(e.code(), want, "{call}: {e}");
            assert!(
                !e.to_string().contains(sb.api_key()),
                "{call} leaks the key"
            );
        }
        sb.control().clear_faults();
    }
    // A wrong key on check() is an answer, not an error.
    assert!(
        !client_with(&sb, "wrong")
            .health()
            .check()
            .await
            .unwrap()
            .key_ok
    );
}

/// The emulator's own error answers for what a client could send wrong on the wire.
#[tokio::test]
async fn sandbox_refuses_bad_management_requests_on_its_own() {
    let sb = Sandbox::start().await.unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", sb.url());
    let key = sb.api_key().to_string();
    let send = |req: reqwest::RequestBuilder| {
        let key = key.clone();
        async move {
            let r = req.header("D360-API-KEY", key).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    for path in [
        "/v1/configs/templates?limit=0",
        "/v1/configs/templates?offset=-1",
        "/v1/configs/templates?filters=not-json",
        "/message_templates?after=%%%",
        "/block_users?limit=5000",
    ] {
        let (status, body) = send(http.get(url(path))).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], 100, "{path}: {body}");
    }
    // Uploads: missing parameters, unknown session, offset that does not match, too many bytes.
    let (status, body) = send(http.post(url("/uploads?file_name=a.png"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(131008))
    );
    let (_, created) = send(http.post(url(
        "/uploads?file_name=a.png&file_length=4&file_type=image/png",
    )))
    .await;
    let session = created["id"].as_str().unwrap().to_string();
    // One chunk of `bytes` at `offset` to `target`.
    let chunk = |target: &str, offset: &str, bytes: &'static str| {
        http.post(url(target))
            .header("file_offset", offset)
            .body(bytes)
    };
    let target = format!("/{session}");
    let (status, _) = send(chunk("/upload:nope", "0", "abcd")).await;
    assert_eq!(status, 404);
    let (status, body) = send(http.post(url(&target)).body("abcd")).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(131008)),
        "no file_offset"
    );
    let (status, _) = send(chunk(&target, "2", "ab")).await;
    assert_eq!(status, 400, "offset beyond what was received");
    let (status, _) = send(chunk(&target, "0", "abcdef")).await;
    assert_eq!(status, 400, "more than file_length");
    let (status, body) = send(chunk(&target, "0", "ab")).await;
    assert_eq!(
        (status, body["file_offset"].as_u64()),
        (200, Some(2)),
        "partial upload"
    );
    let (status, body) = send(chunk(&target, "2", "cd")).await;
    assert_eq!(status, 200);
    assert!(body["h"].as_str().unwrap().starts_with("4::"));
    // Block list: no messaging_product, no users, more than 1000 users.
    let (status, _) = send(
        http.post(url("/block_users"))
            .json(&json!({"block_users": []})),
    )
    .await;
    assert_eq!(status, 400);
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"user": format!("1555{i:07}")}))
        .collect();
    let (status, body) = send(
        http.post(url("/block_users"))
            .json(&json!({"messaging_product": "whatsapp", "block_users": many})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(130429))
    );
    // Profile: unknown field, too many websites.
    for body in [
        json!({"messaging_product": "whatsapp", "phone": "1"}),
        json!({"messaging_product": "whatsapp", "websites": ["https://a", "https://b", "https://c"]}),
        json!({"about": "no product"}),
    ] {
        let (status, _) = send(http.post(url("/whatsapp_business_profile")).json(&body)).await;
        assert_eq!(status, 400, "{body}");
    }
    // Everything management needs the key.
    let r = http.get(url("/health_status")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
