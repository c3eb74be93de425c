//! The wa360 core client against the sandbox over real HTTP.

use std::time::Duration;

use serde_json::json;
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::messages::{Media, Message};
use wa360::webhook::registration::WebhookSettings;
use wa360_sandbox::{Fault, Sandbox};

mod common;
use common::{
    Receiver, client_builder, message_requests as message_posts, meta_error, on_send,
    quick_retries, rate_limit_rule,
};

fn client(sb: &Sandbox) -> Client {
    client_builder(sb)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A text "hi" to 15555550123 through `c`.
async fn send_hi(c: &Client) -> wa360::Result<wa360::client::SendResponse> {
    c.send(&Message::text("15555550123", "hi")).await
}

#[tokio::test]
async fn client_sends_every_message_type() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let to = "+1 555 555 0123";
    let specs = [
        json!({"to": to, "type": "text", "text": {"body": "hello", "preview_url": true}}),
        json!({"to": to, "type": "image", "image": {"id": "1234567890", "caption": "pic"}}),
        json!({"to": to, "type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}}),
        json!({"to": to, "type": "audio", "audio": {"id": "1234567890"}}),
        json!({"to": to, "type": "video", "video": {"id": "1234567890", "caption": "clip"}}),
        json!({"to": to, "type": "document", "document": {"id": "1234567890", "filename": "a.pdf"}}),
        json!({"to": to, "type": "sticker", "sticker": {"id": "1234567890"}}),
        json!({"to": to, "type": "location", "location": {"latitude": 52.52, "longitude": 13.40, "name": "Berlin"}}),
        json!({"to": to, "type": "contacts", "contacts": [{"name": {"formatted_name": "Maya L"}}]}),
        json!({"to": to, "type": "interactive", "interactive": {"type": "button", "body": "Pick one",
            "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}}),
        json!({"to": to, "type": "interactive", "interactive": {"type": "list", "body": "Menu", "button": "Open",
            "sections": [{"title": "Main", "rows": [{"id": "r1", "title": "Row 1"}]}]}}),
        json!({"to": to, "type": "interactive", "interactive": {"type": "cta_url", "body": "Visit",
            "display_text": "Open", "url": "https://example.com"}}),
        json!({"to": to, "type": "template", "template": {"name": "order_update", "language": "en_US", "body": ["4471"]}}),
        json!({"to": to, "type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
        json!({"recipient": "US.5093817264530918273", "type": "text", "text": {"body": "to a BSUID"}}),
    ];
    for spec in &specs {
        let msg = Message::from_json(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let r = c.send(&msg).await.unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert!(r.message_id().unwrap().starts_with("wamid."), "{spec}");
    }
    // Typed builders too.
    let r = c
        .send(&Message::text("15555550123", "typed").reply_to("wamid.Q"))
        .await
        .unwrap();
    assert_eq!(r.contacts[0].wa_id.as_deref(), Some("15555550123"));
    c.send(&Message::image("15555550123", Media::id("42")).caption("c"))
        .await
        .unwrap();
    c.mark_read("wamid.Q").await.unwrap();
    c.typing("wamid.Q").await.unwrap();
    let posts = message_posts(&sb);
    assert_eq!(
        posts.len(),
        specs.len() + 4,
        "one request per send, no retries"
    );
    assert!(posts.iter().all(|p| p.status == Some(200)));
    assert_eq!(
        posts[0].body["to"], "15555550123",
        "the client normalised the phone"
    );
    assert_eq!(
        posts.last().unwrap().body["typing_indicator"]["type"],
        "text"
    );
}

#[tokio::test]
async fn invalid_message_makes_no_request() {
    let sb = Sandbox::start().await.unwrap();
    let e = client(&sb)
        .send(&Message::text("15555550123", ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(sb.requests().is_empty());
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_retried_once() {
    let sb = Sandbox::start().await.unwrap();
    sb.add_fault(rate_limit_rule(1));
    let r = send_hi(&client(&sb)).await.unwrap();
    assert!(r.message_id().is_some());
    let posts = message_posts(&sb);
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].status, Some(429));
    assert_eq!(posts[1].status, Some(200));
    assert!(
        posts[1].at_ms - posts[0].at_ms >= 1000,
        "the client waited Retry-After: {} ms",
        posts[1].at_ms - posts[0].at_ms
    );
}

#[tokio::test]
async fn reset_after_body_is_outcome_unknown_and_not_retried() {
    let sb = Sandbox::start().await.unwrap();
    sb.add_fault(on_send(Fault::ResetAfterBody));
    let e = send_hi(&client(&sb)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "{e}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        message_posts(&sb).len(),
        1,
        "exactly one request reached the server"
    );
}

#[tokio::test]
async fn server_errors_without_meta_body_are_not_retried_on_send() {
    let sb = Sandbox::start().await.unwrap();
    sb.add_fault(on_send(Fault::Html { status: Some(502) }));
    let e = send_hi(&client(&sb)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "{e}");
    assert_eq!(message_posts(&sb).len(), 1);
}

#[tokio::test]
async fn meta_validation_error_is_typed() {
    let sb = Sandbox::start().await.unwrap();
    let e = client(&sb)
        .send_body(json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":""}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest, "{e}");
    assert_eq!(e.api_code(), Some(131009));
    assert_eq!(e.status(), Some(400));
}

#[tokio::test]
async fn wrong_key_is_authentication_error() {
    let sb = Sandbox::start().await.unwrap();
    let c = Client::builder()
        .base_url(&sb.url())
        .api_key("wrong")
        .build()
        .unwrap();
    let e = send_hi(&c).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Authentication);
    assert!(
        !e.to_string().contains("wrong"),
        "the key never appears in errors"
    );
}

#[tokio::test]
async fn media_round_trip_through_the_host_rule() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let bytes = b"%PDF-1.4 sandbox".to_vec();
    let media = c.media();
    let upload = media.upload(bytes.clone(), "application/pdf", "a.pdf");
    let id = upload.await.unwrap();
    let info = c.media().info(&id).await.unwrap();
    assert!(
        info.url.starts_with("https://lookaside.fbsbx.com/"),
        "{}",
        info.url
    );
    assert_eq!(info.file_size, Some(bytes.len() as u64));
    let got = c.media().download(&id).await.unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());
    let got = c.media().download_url(&info.url).await.unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());
    // The download went to the sandbox host with the key (the rewrite happened).
    assert!(
        sb.requests()
            .iter()
            .any(|r| r.path == "/whatsapp_business/attachments/" && r.authorized)
    );
    c.media().delete(&id).await.unwrap();
    let lookups = || {
        sb.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == format!("/{id}"))
            .count()
    };
    let before = lookups();
    let e = c.media().info(&id).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert_eq!(
        lookups(),
        before + 1,
        "a 4xx media look-up is never retried"
    );
}

/// Media over 2 MB (axum's default body limit) was refused by the sandbox with "invalid
/// multipart body" (a 413 for a resumable upload), though WhatsApp takes documents up to
/// 100 MB. A 20 MB document goes through both kinds of upload and comes back whole.
#[tokio::test]
async fn media_of_many_megabytes_uploads_and_downloads_whole() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb);
    let data: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let id = c
        .media()
        .upload(data.clone(), "application/pdf", "big.pdf")
        .await
        .unwrap();
    let got = c.media().download(&id).await.unwrap();
    assert!(got.len() == data.len() && got[..] == data[..]);
    let handle = c
        .uploads()
        .upload(data, "application/pdf", "big2.pdf")
        .await
        .unwrap();
    assert!(handle.starts_with("4::"), "{handle}");
}

/// Ten look-ups of a media id that does not exist, all at once (a burst of inbound media
/// with expired ids, or a wrong key): the local guard lets at most its budget (4 failures)
/// reach 360dialog, which blocks numbers that repeat failing look-ups; the rest are
/// refused locally.
#[tokio::test]
async fn concurrent_failing_media_lookups_never_exceed_the_guard() {
    let sb = Sandbox::start().await.unwrap();
    // Slow answers, so every look-up is under way at once.
    sb.add_fault(wa360_sandbox::FaultRule::new("GET", "/9*", Fault::Delay { ms: 300 }).times(0));
    let c = client(&sb);
    let mut lookups = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let c = c.clone();
        lookups.spawn(async move { c.media().info("9000000001").await });
    }
    let results = lookups.join_all().await;
    let sent = sb
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/9000000001")
        .count();
    assert!(sent <= 4, "{sent} failing look-ups reached the API");
    let refused = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.code() == ErrorCode::Media))
        .count();
    assert_eq!((sent, refused), (4, 6), "{results:?}");
}

#[tokio::test]
async fn webhook_registration_and_statuses_parse() {
    let sb = Sandbox::builder().time_scale(0.01).start().await.unwrap();
    let rx = Receiver::start().await;
    let c = client(&sb);
    // Registration through the client (an https URL: the client enforces the real rules).
    let settings =
        WebhookSettings::new("https://hooks.example.com/wa").basic_auth("hook", "s3cret");
    c.webhooks().set_phone(&settings).await.unwrap();
    let stored = sb.control().phone_webhook().unwrap();
    assert_eq!(stored.url, "https://hooks.example.com/wa");
    assert!(stored.headers["Authorization"].starts_with("Basic "));
    let got = c.webhooks().get_phone().await.unwrap().unwrap();
    assert_eq!(got.url, "https://hooks.example.com/wa");
    // The local receiver (plain http, allowed by the sandbox only) through the generic path.
    let mut body = settings.to_body();
    body["url"] = json!(rx.url);
    c.request_json(
        reqwest::Method::POST,
        wa360::webhook::registration::PHONE_WEBHOOK_PATH,
        Some(&body),
        wa360::retry::RetryClass::Idempotent,
    )
    .await
    .unwrap();

    let sent = c
        .send(&Message::text("15555550123", "track me").callback_data("order-9"))
        .await
        .unwrap();
    let wamid = sent.message_id().unwrap().to_string();
    let deliveries = rx.wait_for(3).await;
    let mut seen = Vec::new();
    for d in deliveries {
        let raw = serde_json::to_vec(&d.body).unwrap();
        for ev in wa360::webhook::parse(&raw).unwrap() {
            let st = ev.as_status().expect("a status event");
            assert_eq!(st.id(), Some(wamid.as_str()));
            seen.push(st.status().unwrap().to_string());
        }
    }
    assert_eq!(seen, ["sent", "delivered", "read"]);
}

#[tokio::test]
async fn metrics_count_outcomes_retries_and_send_latency() {
    let sb = Sandbox::start().await.unwrap();
    let c = client_builder(&sb)
        .retry_policy(quick_retries(2, 5, 20, 50))
        .build()
        .unwrap();
    let msg = Message::text("15555550123", "hi");
    c.send(&msg).await.unwrap();
    sb.add_fault(rate_limit_rule(0));
    c.send(&msg).await.unwrap();
    sb.add_fault(on_send(meta_error(131000)));
    c.send(&msg).await.unwrap(); // Meta's "try again": retried
    sb.add_fault(on_send(Fault::ResetAfterBody));
    let e = c.send(&msg).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown);
    c.webhooks()
        .set_phone(&WebhookSettings::new("https://hooks.example.com/wa"))
        .await
        .unwrap();
    // Clones share the figures.
    let m = c.clone().metrics();
    assert_eq!(m.requests["ok"], 4, "{m:?}");
    assert_eq!(m.requests["outcome_unknown"], 1);
    assert_eq!(m.requests.len(), 2);
    assert_eq!(m.retries["rate_limited"], 1);
    assert_eq!(m.retries["transient"], 1);
    assert_eq!(m.retries.len(), 2, "{:?}", m.retries);
    // Only POST /messages is a send: 4 sends, not the webhook registration.
    assert_eq!(m.send_latency.count, 4);
    assert_eq!(m.send_latency.buckets.last().unwrap().count, 4);
    assert!(m.send_latency.sum_seconds > 0.0);
    // A 2xx answer that is not JSON: the caller gets outcome_unknown, and so do the
    // metrics (it was counted ok).
    sb.add_fault(on_send(Fault::MalformedJson { status: None }));
    let e = c.send(&msg).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown);
    // Nor is JSON that is not a send's answer (a proxy's empty 200, `{}`).
    for body in ["", "{}", "null"] {
        sb.add_fault(on_send(Fault::Status {
            status: 200,
            body: Some(body.to_string()),
        }));
        let e = c.send(&msg).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "{body:?}");
    }
    let m = c.metrics();
    assert_eq!(m.requests["ok"], 4, "{m:?}");
    assert_eq!(m.requests["outcome_unknown"], 5, "{m:?}");
}
