//! HTTP tests of the send path against a scripted server on 127.0.0.1:
//! headers, exact bodies, error classes, and the retry rules of docs/reliability.md.

mod http_server;

use std::time::Duration;

use http_server::{Reply, TestServer};
use serde_json::{Value, json};
use wa360::client::{Client, SendResponse};
use wa360::config::ClientBuilder;
use wa360::retry::{RetryClass, RetryPolicy};
use wa360::{Error, ErrorCode};

const KEY: &str = "test-key-S3CRET-0123456789";

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(2),
    }
}

/// A builder with the test key, `url` and the fast retry policy.
fn builder(url: &str) -> ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(url)
        .retry_policy(fast_policy())
}

fn client(server: &TestServer) -> Client {
    builder(&format!("{}/", server.url()))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `GET /v1/configs/webhook`, an idempotent request.
async fn get_webhook(c: &Client) -> wa360::Result<Value> {
    c.request_json(
        reqwest::Method::GET,
        "/v1/configs/webhook",
        None,
        RetryClass::Idempotent,
    )
    .await
}

/// Starts a server with `replies` and sends [`text_body`] once through [`client`].
async fn send_once(replies: Vec<Reply>) -> (TestServer, wa360::Result<SendResponse>) {
    let server = TestServer::start(replies).await;
    let sent = client(&server).send_body(text_body()).await;
    (server, sent)
}

/// A 429 with `Retry-After: after`.
fn too_many(after: &str, body: Value) -> Reply {
    Reply::json_with(429, &[("Retry-After", after)], body)
}

fn text_body() -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15555550123",
        "type": "text",
        "text": {"body": "Hello", "preview_url": false}
    })
}

fn send_ok() -> Reply {
    Reply::json(
        200,
        json!({"messaging_product":"whatsapp",
               "contacts":[{"input":"15555550123","wa_id":"15555550123"}],
               "messages":[{"id":"wamid.OK1","message_status":"accepted"}]}),
    )
}

fn meta_error(code: i64, message: &str) -> Value {
    json!({"error":{"message":message,"type":"OAuthException","code":code,
        "error_data":{"messaging_product":"whatsapp","details":format!("details of {code}")},
        "error_subcode":2494055,"fbtrace_id":"FBTRACE1"}})
}

/// Every error must be free of the key in both Display and Debug.
/// A client of `server` that gives up on an attempt after 300 ms.
fn quick(server: &TestServer) -> Client {
    builder(&server.url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

fn assert_no_key(e: &Error) {
    let shown = format!("{e} / {e:?}");
    assert!(!shown.contains(KEY), "key leaked: {shown}");
    assert!(!shown.contains("S3CRET"), "key leaked: {shown}");
}

#[tokio::test]
async fn send_body_sends_exact_body_and_headers() {
    let server = TestServer::start(vec![send_ok()]).await;
    let c = client(&server);
    let resp = c.send_body(text_body()).await.unwrap();
    assert_eq!(resp.message_id(), Some("wamid.OK1"));
    assert_eq!(resp.messages[0].message_status.as_deref(), Some("accepted"));
    assert_eq!(resp.contacts[0].wa_id.as_deref(), Some("15555550123"));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/messages");
    assert_eq!(r.header("d360-api-key"), Some(KEY));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(format!("wa360/{} (rust)", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.json(), text_body());
    // Key order is preserved byte for byte.
    assert_eq!(r.body, serde_json::to_vec(&text_body()).unwrap());
}

#[tokio::test]
async fn user_agent_suffix_is_sent() {
    let server = TestServer::start(vec![send_ok()]).await;
    let c = Client::builder()
        .api_key(KEY)
        .base_url(&server.url())
        .user_agent_suffix("python/3.12")
        .build()
        .unwrap();
    c.send_body(text_body()).await.unwrap();
    let ua = server.requests()[0]
        .header("user-agent")
        .unwrap()
        .to_string();
    assert!(
        ua.starts_with("wa360/") && ua.ends_with("(rust) python/3.12"),
        "{ua}"
    );
}

#[tokio::test]
async fn mark_read_and_typing_bodies() {
    let ok = || Reply::json(200, json!({"success": true}));
    let server = TestServer::start(vec![ok(), ok(), Reply::json(200, json!({}))]).await;
    let c = client(&server);
    c.mark_read("wamid.IN1").await.unwrap();
    c.typing("wamid.IN2").await.unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs[0].json(),
        json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1"})
    );
    assert_eq!(
        reqs[1].json(),
        json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN2",
               "typing_indicator":{"type":"text"}})
    );
    assert_eq!(reqs[1].target, "/messages");
    // A 2xx without success:true on a send is not a success.
    let e = c.mark_read("wamid.IN3").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown);
    // Bad input: no request at all.
    let e = c.typing("").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(server.count(), 3);
}

/// A 360dialog gateway error body: `{"meta": {"success": false, ...fields}}`.
fn gateway(status: u16, fields: Value) -> Reply {
    let mut meta = json!({"success": false});
    meta.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    Reply::json(status, json!({ "meta": meta }))
}

#[tokio::test]
async fn every_error_class_is_mapped_and_not_retried() {
    use ErrorCode::*;
    let gateway_embedded = json!({"http_code":400,
        "developer_message":"Invalid payload ({\"error\":{\"message\":\"Invalid parameter\",\"type\":\"OAuthException\",\"code\":100,\"error_subcode\":2388046,\"fbtrace_id\":\"AqRs\"}})",
        "360dialog_trace_id":"TRACE360"});
    // (case, reply, expected code, expected Meta code); one line a case.
    #[rustfmt::skip]
    let cases: Vec<(&str, Reply, ErrorCode, Option<i64>)> = vec![
        ("360dialog 401", gateway(401, json!({"http_code":401,"developer_message":"Invalid api_key","360dialog_trace_id":"T1"})), Authentication, None),
        ("360dialog 403", gateway(403, json!({"http_code":403,"developer_message":"The endpoint is blocked"})), Permission, None),
        ("meta 100", Reply::json(400, meta_error(100, "Invalid parameter")), InvalidRequest, Some(100)),
        ("meta 131026", Reply::json(400, meta_error(131026, "Message undeliverable")), Recipient, Some(131026)),
        ("meta 131047", Reply::json(400, meta_error(131047, "Re-engagement message")), WindowClosed, Some(131047)),
        ("meta 132001", Reply::json(404, meta_error(132001, "Template name does not exist")), Template, Some(132001)),
        ("meta 368", Reply::json(403, meta_error(368, "Temporarily blocked")), Policy, Some(368)),
        ("meta 190", Reply::json(401, meta_error(190, "Access token expired")), Authentication, Some(190)),
        ("meta 131042", Reply::json(400, meta_error(131042, "Business eligibility payment issue")), Payment, Some(131042)),
        ("meta 131048", Reply::json(429, meta_error(131048, "Spam rate limit hit")), RateLimited, Some(131048)),
        ("meta error embedded in 360dialog", gateway(400, gateway_embedded), InvalidRequest, Some(100)),
        ("bare error string", Reply::json(400, json!({"error":"Invalid request"})), InvalidRequest, None),
        ("360dialog payment", gateway(400, json!({"developer_message":"Could not send message due to lack of payment"})), Payment, None),
        ("360dialog disabled", gateway(400, json!({"developer_message":"Your WhatsApp for Business API has been disabled"})), Account, None),
        ("502 html", Reply::raw(502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"), OutcomeUnknown, None),
        ("504 html", Reply::raw(504, "text/html", b"<html>gateway timeout</html>"), OutcomeUnknown, None),
        ("500 empty", Reply::raw(500, "application/json", b""), OutcomeUnknown, None),
        ("360dialog 500", gateway(500, json!({"developer_message":"Internal server error"})), OutcomeUnknown, None),
    ];
    for (case, reply, code, api_code) in cases {
        let (server, sent) = send_once(vec![reply, send_ok(), send_ok()]).await;
        let e = sent.unwrap_err();
        assert_eq!(e.code(), code, "case {case}: {e}");
        assert_eq!(e.api_code(), api_code, "case {case}: {e}");
        assert_eq!(server.count(), 1, "case {case} must not be retried: {e}");
        assert_no_key(&e);
    }
}

#[tokio::test]
async fn meta_fields_are_kept() {
    let (_server, sent) = send_once(vec![Reply::json(
        400,
        meta_error(131009, "(#131009) Parameter value is not valid"),
    )])
    .await;
    let e = sent.unwrap_err();
    let api = e.api_error().unwrap();
    assert_eq!(api.status, 400);
    assert_eq!(api.api_code, Some(131009));
    assert_eq!(api.subcode, Some(2494055));
    assert_eq!(api.fbtrace_id.as_deref(), Some("FBTRACE1"));
    assert_eq!(api.error_type.as_deref(), Some("OAuthException"));
    assert_eq!(e.details(), Some("details of 131009"));
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert_eq!(
        e.to_string(),
        "invalid_request (HTTP 400, code 131009): (#131009) Parameter value is not valid"
    );

    let gw = json!({"meta":{"success":false,"http_code":400,
        "developer_message":"Invalid payload ({\"error\":{\"message\":\"Invalid parameter\",\"code\":100,\"fbtrace_id\":\"AqRs\"}})",
        "360dialog_trace_id":"TRACE360"}});
    let (_server, sent) = send_once(vec![Reply::json(400, gw)]).await;
    let e = sent.unwrap_err();
    let api = e.api_error().unwrap();
    assert_eq!(api.trace_id.as_deref(), Some("TRACE360"));
    assert_eq!(api.fbtrace_id.as_deref(), Some("AqRs"));
    assert_eq!(api.message, "Invalid payload: Invalid parameter");
}

#[tokio::test]
async fn unparseable_body_keeps_status_and_at_most_1kb() {
    let html = format!("<html>{}</html>", "A".repeat(10_000));
    let (_server, sent) = send_once(vec![Reply::raw(502, "text/html", html.as_bytes())]).await;
    let e = sent.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown);
    assert_eq!(e.status(), Some(502));
    let shown = e.to_string();
    assert!(shown.contains("<html>"), "{shown}");
    assert!(shown.len() < 1024 + 200, "{}", shown.len());
}

#[tokio::test]
async fn rate_limit_429_honours_retry_after_then_succeeds() {
    let (server, sent) = send_once(vec![
        too_many("1", meta_error(130429, "(#130429) Rate limit hit")),
        send_ok(),
    ])
    .await;
    let resp = sent.unwrap();
    assert_eq!(resp.message_id(), Some("wamid.OK1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "retried once");
    assert_eq!(reqs[0].body, reqs[1].body);
    // The server asked for 1 s; the retry did not come earlier (lower bound only).
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
}

#[tokio::test]
async fn rate_limit_http_date_and_plain_429_run_out_of_retries() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    let (server, sent) = send_once(vec![
        too_many(&date, json!({"error":"Too many requests"})),
        Reply::with_header(429, "Retry-After", "0"),
        Reply::json(400, json!({"meta":{"success":false,"developer_message":"You have exceeded the endpoint rate limit."}})),
        send_ok(),
    ]).await;
    let e = sent.unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited);
    assert_eq!(e.status(), Some(400));
    assert_eq!(server.count(), 3, "first attempt + max_retries (2)");
}

#[tokio::test]
async fn retry_after_is_capped_by_policy() {
    let server = TestServer::start(vec![
        too_many("3600", meta_error(4, "App call limit")),
        send_ok(),
    ])
    .await;
    let c = builder(&server.url())
        .retry_policy(RetryPolicy {
            max_retry_after: Duration::from_millis(50),
            ..fast_policy()
        })
        .build()
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(20), c.send_body(text_body()))
        .await
        .expect("capped Retry-After must not wait an hour")
        .unwrap();
    assert_eq!(resp.message_id(), Some("wamid.OK1"));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn meta_transient_131000_is_retried_at_most_twice() {
    for status in [500, 503] {
        let r = || Reply::json(status, meta_error(131000, "Something went wrong"));
        let server = TestServer::start(vec![r(), r(), r(), send_ok()]).await;
        let c = builder(&server.url())
            .retry_policy(RetryPolicy {
                max_retries: 5,
                ..fast_policy()
            })
            .build()
            .unwrap();
        let e = c.send_body(text_body()).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Transient, "{status}");
        assert_eq!(e.api_code(), Some(131000));
        assert_eq!(e.status(), Some(status));
        assert_eq!(
            server.count(),
            3,
            "HTTP {status}: exactly 3 requests even with max_retries 5"
        );
        let reqs = server.requests();
        assert!(reqs.iter().all(|r| r.body == reqs[0].body));
    }
}

#[tokio::test]
async fn meta_503_with_body_retried_then_succeeds() {
    let (server, sent) = send_once(vec![
        Reply::json(503, meta_error(131016, "Service unavailable")),
        send_ok(),
    ])
    .await;
    let resp = sent.unwrap();
    assert_eq!(resp.message_id(), Some("wamid.OK1"));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn pair_rate_limit_is_not_retried_and_suggests_growing_delay() {
    let r = || {
        Reply::json(
            400,
            meta_error(
                131056,
                "(Business Account, Consumer Account) pair rate limit hit",
            ),
        )
    };
    let server = TestServer::start(vec![r(), r(), send_ok(), r()]).await;
    let c = client(&server);
    let e1 = c.send_body(text_body()).await.unwrap_err();
    assert_eq!(e1.code(), ErrorCode::RateLimited);
    assert_eq!(e1.retry_after(), Some(Duration::from_secs(4)));
    assert_eq!(server.count(), 1, "131056 is not retried automatically");
    let e2 = c.send_body(text_body()).await.unwrap_err();
    assert_eq!(e2.retry_after(), Some(Duration::from_secs(16)));
    // A success resets the counter for that recipient.
    c.send_body(text_body()).await.unwrap();
    let e3 = c.send_body(text_body()).await.unwrap_err();
    assert_eq!(e3.retry_after(), Some(Duration::from_secs(4)));
}

#[tokio::test]
async fn connection_refused_is_retried_then_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = builder(&format!("http://{addr}")).build().unwrap();
    let e = c.send_body(text_body()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Connection);
    assert_no_key(&e);
}

#[tokio::test]
async fn connection_refused_then_server_appears_send_succeeds() {
    // Nothing listens at first; the server comes up before the first retry, so the
    // message is delivered exactly once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = builder(&format!("http://{addr}"))
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(1500),
            cap: Duration::from_secs(3),
            max_retry_after: Duration::from_secs(1),
        })
        .build()
        .unwrap();
    let send = tokio::spawn(async move { c.send_body(text_body()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let server = TestServer::serve(listener, vec![send_ok()]);
    let resp = send.await.unwrap().unwrap();
    assert_eq!(resp.message_id(), Some("wamid.OK1"));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn reset_after_body_written_is_outcome_unknown_with_one_request() {
    let (server, sent) = send_once(vec![Reply::Reset, send_ok(), send_ok()]).await;
    let e = sent.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "{e}");
    assert_eq!(server.count(), 1, "never re-sent");
    assert_eq!(
        server.requests()[0].json(),
        text_body(),
        "the full body arrived"
    );
    assert_no_key(&e);
}

#[tokio::test]
async fn timeout_after_body_written_is_outcome_unknown_with_one_request() {
    let server = TestServer::start(vec![Reply::Hang, send_ok(), send_ok()]).await;
    let c = builder(&server.url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let e = c.send_body(text_body()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "{e}");
    assert_eq!(e.status(), None);
    assert_eq!(server.count(), 1, "never re-sent");
}

#[tokio::test]
async fn success_with_unreadable_body_is_outcome_unknown() {
    let server = TestServer::start(vec![
        Reply::Truncated {
            status: 200,
            declared: 500,
            body: br#"{"messages":[{"id":"wam"#.to_vec(),
        },
        Reply::raw(200, "text/html", b"<html>ok</html>"),
        Reply::json(200, json!({"unexpected": true})),
    ])
    .await;
    let c = client(&server);
    for i in 0..3 {
        let e = c.send_body(text_body()).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "case {i}: {e}");
        assert_eq!(e.status(), Some(200), "case {i}");
    }
    assert_eq!(server.count(), 3, "none retried");
}

/// A request that may be repeated (here a look-up; downloads go the same way) whose
/// answer stalls or breaks off in its body is a timeout or a broken connection, retried as
/// such, not an `invalid_response` given up at once.
#[tokio::test]
async fn idempotent_answers_cut_off_in_the_body_are_retried() {
    let partial = br#"{"url":"https://hooks.exa"#.to_vec();
    let server = TestServer::start(vec![
        Reply::Stall {
            status: 200,
            declared: 200,
            body: partial.clone(),
        },
        Reply::Truncated {
            status: 200,
            declared: 200,
            body: partial.clone(),
        },
        Reply::json(200, json!({"url":"https://hooks.example.com/wa"})),
        Reply::Stall {
            status: 200,
            declared: 200,
            body: partial,
        },
    ])
    .await;
    let v = get_webhook(&quick(&server)).await.unwrap();
    assert_eq!(v["url"], "https://hooks.example.com/wa");
    assert_eq!(server.count(), 3);
    let once = builder(&server.url())
        .timeout(Duration::from_millis(300))
        .max_retries(0)
        .build()
        .unwrap();
    let e = get_webhook(&once).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
}

#[tokio::test]
async fn idempotent_requests_retry_timeouts_and_5xx() {
    let server = TestServer::start(vec![
        Reply::Hang,
        Reply::raw(502, "text/html", b"<html>bad gateway</html>"),
        Reply::json(200, json!({"url":"https://hooks.example.com/wa"})),
    ])
    .await;
    let v = get_webhook(&quick(&server)).await.unwrap();
    assert_eq!(v["url"], "https://hooks.example.com/wa");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.target == "/v1/configs/webhook" && r.method == "GET")
    );
    assert!(reqs.iter().all(|r| r.header("d360-api-key") == Some(KEY)));
}

#[tokio::test]
async fn idempotent_post_sends_json_and_reports_final_errors() {
    let server = TestServer::start(vec![
        Reply::json(200, json!({"url":"https://hooks.example.com/wa"})),
        Reply::Hang,
        Reply::Hang,
        Reply::Hang,
    ])
    .await;
    let c = builder(&server.url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let body =
        json!({"url":"https://hooks.example.com/wa","headers":{"Authorization":"Basic abc"}});
    let v = c
        .request_json(
            reqwest::Method::POST,
            "/v1/configs/webhook",
            Some(&body),
            RetryClass::Idempotent,
        )
        .await
        .unwrap();
    assert_eq!(v["url"], "https://hooks.example.com/wa");
    assert_eq!(server.requests()[0].json(), body);
    assert_eq!(
        server.requests()[0].header("content-type"),
        Some("application/json")
    );
    let e = get_webhook(&c).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert_eq!(server.count(), 4, "1 + first attempt + 2 retries");
}

#[tokio::test]
async fn request_json_rejects_absolute_urls_without_a_request() {
    let server = TestServer::start(vec![]).await;
    let c = client(&server);
    for bad in ["http://evil.example/x", "v1/configs/webhook"] {
        let e = c
            .request_json(reqwest::Method::GET, bad, None, RetryClass::Idempotent)
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(e.field(), Some("path"));
    }
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn redirects_stay_on_the_base_host() {
    let elsewhere = TestServer::start(vec![Reply::json(200, json!({"url":"x"}))]).await;
    let server = TestServer::start(vec![
        Reply::with_header(302, "Location", &format!("{}/steal", elsewhere.url())),
        Reply::with_header(302, "Location", "/v1/configs/webhook2"),
        Reply::json(200, json!({"url":"same-host"})),
    ])
    .await;
    let c = client(&server);
    let e = get_webhook(&c).await.unwrap_err();
    assert_eq!(elsewhere.count(), 0, "the key never went to another host");
    assert_no_key(&e);
    let v = get_webhook(&c).await.unwrap();
    assert_eq!(v["url"], "same-host");
    let reqs = server.requests();
    assert_eq!(reqs.last().unwrap().target, "/v1/configs/webhook2");
    assert_eq!(reqs.last().unwrap().header("d360-api-key"), Some(KEY));
}

#[tokio::test]
async fn key_never_appears_in_client_debug_or_server_echoes() {
    let server = TestServer::start(vec![Reply::json(
        401,
        json!({"meta":{"success":false,"developer_message":format!("Invalid api_key {KEY}")}}),
    )])
    .await;
    let c = client(&server);
    let shown = format!("{c:?} {:?}", c.config());
    assert!(!shown.contains(KEY), "{shown}");
    let e = c.send_body(text_body()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Authentication);
    assert_no_key(&e);
    assert!(e.to_string().contains("Invalid api_key ***"), "{e}");
}

/// Every text the server chose is cleaned of the key, not only the message: the error
/// type, the trace ids (body and `x-fb-trace-id` header) and the details.
#[tokio::test]
async fn key_echoed_in_any_error_field_or_the_trace_header_is_removed() {
    let server = TestServer::start(vec![
        Reply::json(
            400,
            json!({"error": {"message": "m", "type": KEY, "code": 100, "fbtrace_id": KEY,
                   "error_data": {"details": KEY}}}),
        ),
        Reply::json_with(
            400,
            &[("x-fb-trace-id", KEY)],
            json!({"meta": {"developer_message": "m", "360dialog_trace_id": KEY}}),
        ),
    ])
    .await;
    let c = client(&server);
    for _ in 0..2 {
        let e = c.send_body(text_body()).await.unwrap_err();
        assert_no_key(&e);
        let api = e.api_error().unwrap();
        let fields = format!(
            "{:?} {:?} {:?} {:?}",
            api.error_type, api.fbtrace_id, api.trace_id, api.details
        );
        assert!(!fields.contains(KEY), "{fields}");
        assert!(fields.contains("***"), "{fields}");
    }
}

#[tokio::test]
async fn clones_share_one_client() {
    let server = TestServer::start(vec![send_ok(), send_ok()]).await;
    let c = client(&server);
    let c2 = c.clone();
    let (a, b) = tokio::join!(c.send_body(text_body()), c2.send_body(text_body()));
    a.unwrap();
    b.unwrap();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn fbtrace_id_header_is_kept_when_the_body_has_none() {
    let (_server, sent) = send_once(vec![Reply::json_with(
        400,
        &[("x-fb-trace-id", "HdrTrace42")],
        json!({"error": "Invalid request"}),
    )])
    .await;
    let e = sent.unwrap_err();
    assert_eq!(
        e.api_error().unwrap().fbtrace_id.as_deref(),
        Some("HdrTrace42")
    );
}

#[tokio::test]
async fn huge_error_body_is_read_only_partly_and_not_echoed() {
    let mut body = b"<html>".to_vec();
    body.extend(std::iter::repeat_n(b'Z', 5 * 1024 * 1024));
    let (server, sent) = send_once(vec![Reply::raw(400, "text/html", &body)]).await;
    let e = sent.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.code(), ErrorCode::ApiError);
    assert!(e.to_string().len() < 1300);
    assert_eq!(server.count(), 1);
}

/// A client of `server` with `governor` that honours a `Retry-After` of up to 60 s.
fn honouring_retry_after(server: &TestServer, governor: wa360::governor::GovernorConfig) -> Client {
    builder(&server.url())
        .retry_policy(RetryPolicy {
            max_retry_after: Duration::from_secs(60),
            ..fast_policy()
        })
        .governor(governor)
        .build()
        .unwrap()
}

/// A governed send keeps to its caller's deadline: a `Retry-After` pause that would end
/// past it is not slept; the rate limit comes back at once, its `retry_after` the pause.
#[tokio::test]
async fn a_governed_send_does_not_sleep_past_its_deadline() {
    let server = TestServer::start(vec![
        too_many("20", meta_error(130429, "Rate limit hit")),
        send_ok(),
    ])
    .await;
    let c = honouring_retry_after(
        &server,
        wa360::governor::GovernorConfig::default().messages_per_second(80.0),
    );
    let e = c
        .send_body_within(text_body(), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited, "{e}");
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(20)));
    assert_eq!(server.count(), 1, "not retried");
}

/// A send that never reached the server (connection refused) gives its recipient's pair
/// slot back: the next send to that recipient goes out at once instead of being refused
/// for a pair interval (6 s) it never used.
#[tokio::test]
async fn a_send_never_written_gives_its_pair_slot_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = builder(&format!("http://127.0.0.1:{port}"))
        .max_retries(0)
        .governor(
            wa360::governor::GovernorConfig::default().pair_rate(Some(Duration::from_secs(6)), 1),
        )
        .build()
        .unwrap();
    let wait = Duration::from_millis(200);
    let e = c.send_body_within(text_body(), wait).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Connection, "{e}");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = TestServer::serve(listener, vec![send_ok()]);
    let sent = c.send_body_within(text_body(), wait).await.unwrap();
    assert_eq!(sent.message_id(), Some("wamid.OK1"));
    assert_eq!(server.count(), 1);
}

/// A plain send (no `max_wait` of its own) waits out its retries as before, even past the
/// governor's wait for a slot: only `send_within` makes `max_wait` a deadline for them.
#[tokio::test]
async fn a_plain_send_waits_out_a_retry_after_longer_than_the_slot_wait() {
    let server = TestServer::start(vec![
        too_many("2", meta_error(130429, "Rate limit hit")),
        send_ok(),
    ])
    .await;
    let c = honouring_retry_after(
        &server,
        wa360::governor::GovernorConfig::default().max_wait(Duration::from_millis(500)),
    );
    let sent = c.send_body(text_body()).await.unwrap();
    assert_eq!(sent.message_id(), Some("wamid.OK1"));
    assert_eq!(server.count(), 2, "retried after the 2 s Retry-After");
}
