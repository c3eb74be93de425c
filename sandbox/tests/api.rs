//! The emulated API over real HTTP: auth, send validation, media, inspection.

use serde_json::{Value, json};
use wa360_sandbox::Sandbox;

mod common;
use common::{call, control_get, http as client, keyed, post_json};

/// A request without a body to `path` of the sandbox carrying its key: status and JSON answer.
async fn keyed_call(sb: &Sandbox, method: reqwest::Method, path: &str) -> (u16, Value) {
    call(sb, method, path, Some(sb.api_key()), None).await
}

/// `POST /media` with a multipart form: status and JSON answer (which must be JSON).
async fn upload(sb: &Sandbox, form: reqwest::multipart::Form) -> (u16, Value) {
    let r = keyed(sb, reqwest::Method::POST, "/media")
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn missing_or_wrong_key_gets_documented_401() {
    let sb = Sandbox::start().await.unwrap();
    let body = json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":"hi"}});
    for key in [None, Some("wrong-key")] {
        let mut req = client().post(format!("{}/messages", sb.url())).json(&body);
        if let Some(k) = key {
            req = req.header("D360-API-KEY", k);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["meta"]["success"], false);
        assert_eq!(v["meta"]["http_code"], 401);
        assert_eq!(v["meta"]["developer_message"], "Invalid api_key");
        assert!(v["meta"]["360dialog_trace_id"].is_string());
    }
    // Unauthorised requests are logged but never processed.
    let reqs = sb.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| !r.authorized && r.status == Some(401)));
    // The random default key is not trivially guessable.
    assert!(sb.api_key().len() >= 32);
}

#[tokio::test]
async fn text_send_answers_documented_response_with_fresh_wamid() {
    let sb = Sandbox::builder().api_key("k1").start().await.unwrap();
    assert_eq!(sb.api_key(), "k1");
    let body = json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"+15555550123","type":"text","text":{"body":"hello"}});
    let (st, a) = post_json(&sb, "/messages", body.clone()).await;
    assert_eq!(st, 200);
    assert_eq!(a["messaging_product"], "whatsapp");
    assert_eq!(a["contacts"][0]["input"], "+15555550123");
    assert_eq!(a["contacts"][0]["wa_id"], "15555550123");
    assert_eq!(a["messages"][0]["message_status"], "accepted");
    let id1 = a["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(id1.starts_with("wamid."));
    let (_, b) = post_json(&sb, "/messages", body).await;
    assert_ne!(
        b["messages"][0]["id"].as_str().unwrap(),
        id1,
        "wamids must be fresh"
    );
}

#[tokio::test]
async fn bsuid_recipient_gets_user_id_contact() {
    let sb = Sandbox::start().await.unwrap();
    let body = json!({"messaging_product":"whatsapp","recipient":"US.5093817264530918273","type":"text","text":{"body":"hi"}});
    let (st, a) = post_json(&sb, "/messages", body).await;
    assert_eq!(st, 200);
    assert_eq!(a["contacts"][0]["input"], "US.5093817264530918273");
    assert_eq!(a["contacts"][0]["user_id"], "US.5093817264530918273");
    assert!(a["contacts"][0].get("wa_id").is_none());
}

#[tokio::test]
async fn every_documented_outbound_payload_is_accepted() {
    let sb = Sandbox::start().await.unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/payloads");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("out_") {
            continue;
        }
        let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (st, a) = post_json(&sb, "/messages", body).await;
        assert_eq!(st, 200, "{name} rejected: {a}");
        if name.contains("mark_read") || name.contains("typing") {
            assert_eq!(a, json!({"success": true}), "{name}");
        } else {
            assert!(
                a["messages"][0]["id"]
                    .as_str()
                    .unwrap()
                    .starts_with("wamid."),
                "{name}"
            );
        }
        n += 1;
    }
    assert!(n >= 29, "expected the out_*.json payloads, found {n}");
}

#[tokio::test]
async fn invalid_sends_get_meta_errors() {
    let sb = Sandbox::start().await.unwrap();
    // (expected code, words in details, body); one line a case.
    #[rustfmt::skip]
    let cases = [
        (100, "messaging_product", json!({"to":"15555550123","type":"text","text":{"body":"x"}})),
        (100, "messaging_product", json!({"messaging_product":"sms","to":"15555550123","type":"text","text":{"body":"x"}})),
        (131008, "to", json!({"messaging_product":"whatsapp","type":"text","text":{"body":"x"}})),
        (131009, "to", json!({"messaging_product":"whatsapp","to":"12ab","type":"text","text":{"body":"x"}})),
        (131008, "type", json!({"messaging_product":"whatsapp","to":"15555550123","text":{"body":"x"}})),
        (100, "poll", json!({"messaging_product":"whatsapp","to":"15555550123","type":"poll","poll":{}})),
        (131008, "text", json!({"messaging_product":"whatsapp","to":"15555550123","type":"text"})),
        (131009, "text.body", json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":""}})),
        (131009, "4096", json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":"a".repeat(4097)}})),
        (100, "exactly one", json!({"messaging_product":"whatsapp","to":"15555550123","type":"image","image":{"id":"1","link":"https://x.example/a.jpg"}})),
        (131008, "image.id", json!({"messaging_product":"whatsapp","to":"15555550123","type":"image","image":{"caption":"c"}})),
        (100, "caption", json!({"messaging_product":"whatsapp","to":"15555550123","type":"audio","audio":{"id":"1","caption":"c"}})),
        (131009, "Buttons count", json!({"messaging_product":"whatsapp","to":"15555550123","type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"1","title":"a"}},{"type":"reply","reply":{"id":"2","title":"b"}},
            {"type":"reply","reply":{"id":"3","title":"c"}},{"type":"reply","reply":{"id":"4","title":"d"}}]}}})),
        (131009, "Button title length invalid", json!({"messaging_product":"whatsapp","to":"15555550123","type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"1","title":"this title is far too long"}}]}}})),
        (131008, "template.language", json!({"messaging_product":"whatsapp","to":"15555550123","type":"template","template":{"name":"order_update"}})),
        (131009, "latitude", json!({"messaging_product":"whatsapp","to":"15555550123","type":"location","location":{"latitude":91,"longitude":0}})),
        (131008, "message_id", json!({"messaging_product":"whatsapp","status":"read"})),
    ];
    for (code, words, body) in cases {
        let (st, a) = post_json(&sb, "/messages", body.clone()).await;
        assert_eq!(st, 400, "{body} -> {a}");
        assert_eq!(a["error"]["code"], code, "{body} -> {a}");
        assert_eq!(a["error"]["type"], "OAuthException");
        assert!(a["error"]["fbtrace_id"].is_string());
        let details = a["error"]["error_data"]["details"].as_str().unwrap();
        assert!(
            details.contains(words),
            "{details:?} should mention {words:?}"
        );
    }
    // Not JSON at all.
    let not_json = keyed(&sb, reqwest::Method::POST, "/messages")
        .header("content-type", "application/json")
        .body("{not json");
    let r = not_json.send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], 100);
}

#[tokio::test]
async fn mark_read_and_typing_answer_success() {
    let sb = Sandbox::start().await.unwrap();
    for body in [
        json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.X"}),
        json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"text"}}),
    ] {
        let answer = post_json(&sb, "/messages", body.clone()).await;
        assert_eq!(answer, (200, json!({"success": true})), "{body}");
    }
}

#[tokio::test]
async fn media_round_trip_through_lookaside_host_rule() {
    let sb = Sandbox::start().await.unwrap();
    let bytes = b"\xff\xd8\xff\xe0 fake jpeg bytes".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name("photo.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let (status, up) = upload(&sb, form).await;
    assert_eq!(status, 200, "{up}");
    let id = up["id"].as_str().unwrap().to_string();
    assert!(
        id.chars().all(|c| c.is_ascii_digit()),
        "media id must be numeric: {id}"
    );

    let (status, info) = keyed_call(&sb, reqwest::Method::GET, &format!("/{id}")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["mime_type"], "image/jpeg");
    assert_eq!(info["file_size"], bytes.len());
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);
    let url = info["url"].as_str().unwrap();
    let prefix = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=";
    assert!(url.starts_with(prefix), "{url}");
    assert!(url.contains("&ext=") && url.contains("&hash="), "{url}");

    // The 360dialog host rule: swap scheme+host for the base URL, keep the rest.
    let rewritten = url.replacen("https://lookaside.fbsbx.com", &sb.url(), 1);
    let r = client()
        .get(&rewritten)
        .header("D360-API-KEY", sb.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Without the key: 401; with a wrong hash: not found.
    let r = client().get(&rewritten).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let wrong_hash = format!("/whatsapp_business/attachments/?mid={id}&ext=1&hash=wrong");
    let (status, _) = keyed_call(&sb, reqwest::Method::GET, &wrong_hash).await;
    assert_eq!(status, 404);

    let media = format!("/{id}");
    let deleted = keyed_call(&sb, reqwest::Method::DELETE, &media).await;
    assert_eq!(deleted, (200, json!({"success": true})));
    let (status, v) = keyed_call(&sb, reqwest::Method::GET, &media).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], 100);
    assert_eq!(v["error"]["error_subcode"], 33);
    let (status, _) = keyed_call(&sb, reqwest::Method::DELETE, &media).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn upload_without_file_or_product_is_rejected() {
    let sb = Sandbox::start().await.unwrap();
    let form = reqwest::multipart::Form::new().text("messaging_product", "whatsapp");
    let (status, v) = upload(&sb, form).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], 131008);
}

#[tokio::test]
async fn inspection_lists_requests_without_the_key_and_reset_clears() {
    let sb = Sandbox::start().await.unwrap();
    let body = json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":"logged"}});
    post_json(&sb, "/messages", body.clone()).await;
    let v = control_get(&sb, "/_sandbox/requests").await;
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["path"], "/messages");
    assert_eq!(reqs[0]["body"], body);
    assert_eq!(reqs[0]["status"], 200);
    assert!(reqs[0]["headers"].get("d360-api-key").is_none());
    assert!(
        !v.to_string().contains(sb.api_key()),
        "the key must never be listed"
    );
    // Filter by path.
    let v = control_get(&sb, "/_sandbox/requests?path=/media").await;
    assert_eq!(v["requests"].as_array().unwrap().len(), 0);
    let (status, _) = call(&sb, reqwest::Method::POST, "/_sandbox/reset", None, None).await;
    assert_eq!(status, 200);
    assert!(sb.requests().is_empty());
}

#[test]
fn blocking_sandbox_runs_without_an_ambient_runtime_and_stops_on_drop() {
    let sb = Sandbox::start_blocking().unwrap();
    let url = sb.url();
    let key = sb.api_key().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/messages"))
            .header("D360-API-KEY", &key)
            .json(&json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":"x"}}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    assert_eq!(sb.control().requests().len(), 1);
    drop(sb);
    let after = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/_sandbox/requests"))
            .send()
            .await
    });
    assert!(after.is_err(), "the server must be gone after drop");
}

#[tokio::test]
async fn async_sandbox_stops_on_drop() {
    let sb = Sandbox::start().await.unwrap();
    let url = sb.url();
    assert!(
        client()
            .get(format!("{url}/_sandbox/requests"))
            .send()
            .await
            .is_ok()
    );
    drop(sb);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = reqwest::Client::new()
        .get(format!("{url}/_sandbox/requests"))
        .send()
        .await;
    assert!(r.is_err(), "the port must be closed after drop");
}

/// `Control` calls that start background work (inbound delivery) must work from a
/// plain thread with no tokio runtime, as the Python binding calls them.
#[test]
fn blocking_control_inbound_delivers_from_a_thread_without_a_runtime() {
    use std::io::{Read, Write};
    // A tiny receiver on a plain std socket: answers 200 to one delivery and keeps its body.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("wamid.") {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    });
    let sb = Sandbox::start_blocking().unwrap();
    let control = sb.control();
    control
        .register_webhook(
            false,
            &format!("http://127.0.0.1:{port}/hook"),
            &Default::default(),
        )
        .unwrap();
    let ids = control
        .inbound(&json!({"from":"15555550123","type":"text","text":{"body":"hi from a thread"}}))
        .unwrap();
    assert_eq!(ids.len(), 1);
    let delivered = receiver.join().unwrap();
    assert!(
        delivered.contains(&ids[0]),
        "delivery carries the new wamid"
    );
    assert!(delivered.contains("hi from a thread"));
}
