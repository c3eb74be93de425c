//! Webhook registration over real HTTP against the scripted 127.0.0.1 server
//! of `http_server/`: the request path, method, body and API key, the
//! 404 → `None` rule, retries of the absolute-state POST, and that invalid
//! settings never reach the network.

mod http_server;

use std::time::Duration;

use http_server::{Reply, TestServer};
use serde_json::json;
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::config::Secret;
use wa360::retry::RetryPolicy;
use wa360::webhook::registration::WebhookSettings;

const KEY: &str = "test-key-123";

fn client(server: &TestServer, max_retries: u32) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(&server.url())
        .timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy {
            max_retries,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        })
        .build()
        .unwrap()
}

/// A server whose one answer is `{"url": url}`.
async fn answering(url: &str) -> TestServer {
    TestServer::start(vec![Reply::json(200, json!({ "url": url }))]).await
}

fn settings() -> WebhookSettings {
    WebhookSettings::new("https://hooks.example.com/wa360?n=1")
        .basic_auth("hook", "pw")
        .header("X-Extra", "xv")
}

#[tokio::test]
async fn set_phone_posts_url_and_headers_with_the_api_key() {
    let srv = answering("https://hooks.example.com/wa360?n=1").await;
    let answer = client(&srv, 0)
        .webhooks()
        .set_phone(&settings())
        .await
        .unwrap();
    assert_eq!(answer["url"], "https://hooks.example.com/wa360?n=1");
    let seen = srv.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/v1/configs/webhook");
    assert_eq!(seen[0].header("D360-API-KEY"), Some(KEY));
    assert_eq!(
        seen[0].json(),
        json!({"url": "https://hooks.example.com/wa360?n=1",
               "headers": {"Authorization": "Basic aG9vazpwdw==", "X-Extra": "xv"}})
    );
}

#[tokio::test]
async fn set_phone_is_retried_after_a_503() {
    let srv = TestServer::start(vec![
        Reply::json(503, json!({"error": "unavailable"})),
        Reply::json(200, json!({})),
    ])
    .await;
    client(&srv, 1)
        .webhooks()
        .set_phone(&settings())
        .await
        .unwrap();
    let seen = srv.requests();
    assert_eq!(seen.len(), 2, "the absolute-state POST is repeated");
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn set_waba_posts_to_waba_webhook() {
    let srv = TestServer::start(vec![Reply::json(200, json!({}))]).await;
    client(&srv, 0)
        .webhooks()
        .set_waba(&WebhookSettings::new("https://hooks.example.com/waba"))
        .await
        .unwrap();
    let seen = srv.requests();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/waba_webhook");
    assert_eq!(seen[0].header("D360-API-KEY"), Some(KEY));
    assert_eq!(
        seen[0].json(),
        json!({"url": "https://hooks.example.com/waba"})
    );
}

#[tokio::test]
async fn get_phone_reads_url_and_headers_and_404_is_none() {
    let srv = TestServer::start(vec![
        Reply::json(200, json!({"url": "https://hooks.example.com/a"})),
        Reply::json(
            200,
            json!({"url": "https://hooks.example.com/b", "headers": {"X-Key": "v"}}),
        ),
        Reply::json(404, json!({"meta": {"success": false, "http_code": 404}})),
        Reply::json(200, json!({"url": ""})),
    ])
    .await;
    let c = client(&srv, 0);
    let a = c.webhooks().get_phone().await.unwrap().unwrap();
    assert_eq!(a.url, "https://hooks.example.com/a");
    assert!(a.headers.is_empty());
    let b = c.webhooks().get_phone().await.unwrap().unwrap();
    assert_eq!(b.headers.get("X-Key").map(Secret::expose), Some("v"));
    assert!(c.webhooks().get_phone().await.unwrap().is_none());
    assert!(c.webhooks().get_phone().await.unwrap().is_none());
    let seen = srv.requests();
    assert_eq!(seen.len(), 4);
    for s in &seen {
        assert_eq!(s.method, "GET");
        assert_eq!(s.target, "/v1/configs/webhook");
        assert_eq!(s.header("D360-API-KEY"), Some(KEY));
        assert!(s.body.is_empty());
    }
}

#[tokio::test]
async fn get_waba_reads_waba_webhook() {
    let srv = answering("https://hooks.example.com/w").await;
    let w = client(&srv, 0)
        .webhooks()
        .get_waba()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.url, "https://hooks.example.com/w");
    let seen = srv.requests();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/waba_webhook")
    );
}

#[tokio::test]
async fn server_errors_surface_as_typed_errors() {
    let srv = TestServer::start(vec![Reply::json(
        401,
        json!({"meta": {"success": false, "http_code": 401, "developer_message": "Invalid api key"}}),
    )])
    .await;
    let e = client(&srv, 0)
        .webhooks()
        .set_phone(&settings())
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Authentication, "{e}");
    // Neither the API key nor the registered secrets appear in the error.
    let text = format!("{e} {e:?}");
    for secret in [KEY, "aG9vazpwdw==", "xv"] {
        assert!(!text.contains(secret), "{text}");
    }
}

/// A server that echoes the body it refused (or answers a 2xx that is not JSON with it)
/// must not put the registered header secrets into the error, in any form: the value,
/// the Basic token, the decoded `user:pass`, the password, or JSON-escaped.
#[tokio::test]
async fn echoed_header_secrets_are_removed_from_errors() {
    let settings = WebhookSettings::new("https://hooks.example.com/wa360")
        .basic_auth("hookuser", "Sentinel\"Pass-51d0")
        .header("X-Token", "SentinelTok-99");
    let token = settings.headers["Authorization"].expose().to_string();
    let echoed = serde_json::to_string(&settings.to_body()).unwrap();
    let srv = TestServer::start(vec![
        Reply::json(
            400,
            json!({"meta": {"success": false, "developer_message": format!("Invalid payload: {echoed}")}}),
        ),
        Reply::json(
            400,
            json!({"error": {"message": "bad", "type": "SentinelTok-99",
                   "fbtrace_id": "hookuser:Sentinel\"Pass-51d0", "code": 100}}),
        ),
        Reply::raw(200, "text/html", format!("<p>{echoed} {token} Sentinel\"Pass-51d0</p>").as_bytes()),
    ])
    .await;
    let c = client(&srv, 0);
    for _ in 0..3 {
        let e = c.webhooks().set_phone(&settings).await.unwrap_err();
        let text = format!("{e} {e:?} {:?}", e.api_error());
        for secret in ["SentinelTok-99", "Sentinel", &token[6..], "hookuser:"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("***"), "{text}");
    }
}

/// Removing secrets never breaks the server's error: it is read first, then each of its
/// texts cleaned. A short secret (a one-letter password, a header value's last word) found
/// in the raw body would have cut keys and numbers apart and lost the error's code.
#[tokio::test]
async fn short_secrets_do_not_garble_the_servers_error() {
    let settings = WebhookSettings::new("https://hooks.example.com/wa360")
        .basic_auth("user", "e")
        .header("X-Env", "prod 1");
    let graph = json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException",
        "code": 100, "fbtrace_id": "AbC1"}});
    let srv = TestServer::start(vec![Reply::json(400, graph)]).await;
    let e = client(&srv, 0)
        .webhooks()
        .set_phone(&settings)
        .await
        .unwrap_err();
    let api = e.api_error().unwrap();
    assert_eq!(api.api_code, Some(100), "{e}");
    assert_eq!(api.error_type.as_deref(), Some("OAuthException"), "{e}");
    assert_eq!(api.message, "Invalid OAuth access token");
}

#[tokio::test]
async fn invalid_settings_make_no_request() {
    let srv = TestServer::start(vec![Reply::json(200, json!({}))]).await;
    let c = client(&srv, 0);
    let bad = [
        (WebhookSettings::new("http://hooks.example.com/"), "url"),
        (WebhookSettings::new("https://my_hook.example.com/"), "url"),
        (
            WebhookSettings::new("https://hooks.example.com:443/"),
            "url",
        ),
        (
            WebhookSettings::new("https://hooks.example.com/").header("X_Key", "v"),
            "headers.X_Key",
        ),
    ];
    for (s, field) in &bad {
        let e = c.webhooks().set_phone(s).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(e.field(), Some(*field));
        let e = c.webhooks().set_waba(s).await.unwrap_err();
        assert_eq!(e.field(), Some(*field));
    }
    assert_eq!(srv.count(), 0);
}

/// Reading the settings back: their answer carries the header values (Basic credential,
/// shared tokens), which no error may show, and so no log line (the request's log line
/// carries the error). A 200 cut short and an error page echoing the settings quoted them.
#[tokio::test]
async fn an_unreadable_answer_to_get_never_shows_the_header_secrets() {
    let echoed = br#"{"url": "https://hooks.example.com/x", "headers": {"Authorization": "Basic aG9vazpQdzlzRWM=", "X-Api-Secret": "xk_shared_4242"}"#;
    let cut = |status| Reply::Respond {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: echoed.to_vec(),
    };
    // The settings inside an error of a known shape: its text is not shown either, and
    // its code still classifies the error.
    let text = String::from_utf8_lossy(echoed).into_owned();
    let in_error = Reply::json(400, json!({ "error": text }));
    let in_meta = Reply::json(
        500,
        json!({"error": {"message": text, "code": 100, "type": text, "fbtrace_id": text,
            "error_data": {"details": text}}}),
    );
    let srv = TestServer::start(vec![cut(200), cut(503), cut(400), in_error, in_meta]).await;
    let c = client(&srv, 0);
    for expected in [
        Some(ErrorCode::InvalidResponse),
        Some(ErrorCode::Transient),
        Some(ErrorCode::ApiError),
        None,
        None,
    ] {
        let e = c.webhooks().get_phone().await.unwrap_err();
        let text = format!("{e} {e:?}");
        if let Some(code) = expected {
            assert_eq!(e.code(), code, "{text}");
        } else {
            // Classified from the body's shape, as before.
            assert!(
                e.api_code() == Some(100) || e.status() == Some(400),
                "{text}"
            );
        }
        for secret in ["aG9vazpQdzlzRWM=", "xk_shared_4242"] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
        assert!(text.contains("not quoted"), "{text}");
    }
}
