//! Webhook registration over real HTTP against a scripted 127.0.0.1 server:
//! the request path, method, body and API key, the 404 → `None` rule, and
//! that invalid settings never reach the network.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::webhook::registration::WebhookSettings;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A server answering each connection's requests with the next scripted
/// `(status, body)`, recording every request.
struct Scripted {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn scripted(answers: Vec<(u16, &'static str)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen2.clone();
            let answers = answers.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // Read one request: headers, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                        let mut chunk = [0u8; 4096];
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or("").split(' ');
                    let method = first.next().unwrap_or("").to_string();
                    let path = first.next().unwrap_or("").to_string();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + 4 + len {
                        let mut chunk = [0u8; 4096];
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[head_end + 4..head_end + 4 + len].to_vec();
                    buf.drain(..head_end + 4 + len);
                    seen.lock().unwrap().push(Seen {
                        method,
                        path,
                        headers,
                        body,
                    });
                    let (status, text) = answers
                        .lock()
                        .unwrap()
                        .next()
                        .unwrap_or((500, r#"{"error":"no scripted answer"}"#));
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Scripted { url, seen }
}

fn client(url: &str) -> Client {
    Client::builder()
        .api_key("test-key-123")
        .base_url(url)
        .max_retries(0)
        .build()
        .unwrap()
}

fn settings() -> WebhookSettings {
    WebhookSettings::new("https://hooks.example.com/wa360?n=1")
        .basic_auth("hook", "pw")
        .header("X-Extra", "xv")
}

#[tokio::test]
async fn set_phone_posts_url_and_headers_with_the_api_key() {
    let srv = scripted(vec![(
        200,
        r#"{"url":"https://hooks.example.com/wa360?n=1"}"#,
    )])
    .await;
    let answer = client(&srv.url)
        .webhooks()
        .set_phone(&settings())
        .await
        .unwrap();
    assert_eq!(answer["url"], "https://hooks.example.com/wa360?n=1");
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/configs/webhook");
    assert_eq!(seen[0].header("D360-API-KEY"), Some("test-key-123"));
    assert_eq!(
        seen[0].json(),
        json!({"url": "https://hooks.example.com/wa360?n=1",
               "headers": {"Authorization": "Basic aG9vazpwdw==", "X-Extra": "xv"}})
    );
}

#[tokio::test]
async fn set_waba_posts_to_waba_webhook() {
    let srv = scripted(vec![(200, "{}")]).await;
    client(&srv.url)
        .webhooks()
        .set_waba(&WebhookSettings::new("https://hooks.example.com/waba"))
        .await
        .unwrap();
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/waba_webhook");
    assert_eq!(seen[0].header("D360-API-KEY"), Some("test-key-123"));
    assert_eq!(
        seen[0].json(),
        json!({"url": "https://hooks.example.com/waba"})
    );
}

#[tokio::test]
async fn get_phone_reads_url_and_headers_and_404_is_none() {
    let srv = scripted(vec![
        (200, r#"{"url":"https://hooks.example.com/a"}"#),
        (
            200,
            r#"{"url":"https://hooks.example.com/b","headers":{"X-Key":"v"}}"#,
        ),
        (404, r#"{"meta":{"success":false,"http_code":404}}"#),
    ])
    .await;
    let c = client(&srv.url);
    let a = c.webhooks().get_phone().await.unwrap().unwrap();
    assert_eq!(a.url, "https://hooks.example.com/a");
    assert!(a.headers.is_empty());
    let b = c.webhooks().get_phone().await.unwrap().unwrap();
    assert_eq!(
        b.headers.get("X-Key").map(wa360::config::Secret::expose),
        Some("v")
    );
    assert!(c.webhooks().get_phone().await.unwrap().is_none());
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.method, "GET");
        assert_eq!(s.path, "/v1/configs/webhook");
        assert_eq!(s.header("D360-API-KEY"), Some("test-key-123"));
    }
}

#[tokio::test]
async fn get_waba_reads_waba_webhook() {
    let srv = scripted(vec![(200, r#"{"url":"https://hooks.example.com/w"}"#)]).await;
    let w = client(&srv.url)
        .webhooks()
        .get_waba()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.url, "https://hooks.example.com/w");
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/waba_webhook")
    );
}

#[tokio::test]
async fn server_errors_surface_as_typed_errors() {
    let srv = scripted(vec![(
        401,
        r#"{"meta":{"success":false,"http_code":401,"developer_message":"Invalid api key"}}"#,
    )])
    .await;
    let e = client(&srv.url)
        .webhooks()
        .set_phone(&settings())
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Authentication, "{e}");
}

#[tokio::test]
async fn invalid_settings_make_no_request() {
    let srv = scripted(vec![(200, "{}")]).await;
    let c = client(&srv.url);
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
    assert!(srv.seen.lock().unwrap().is_empty());
}
