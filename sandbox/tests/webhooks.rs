//! Webhook registration rules, status webhooks, redelivery and inbound simulation.

use std::time::Duration;

use serde_json::{Value, json};
use wa360_sandbox::Sandbox;

mod common;
use common::{Receiver, call, control_post, post_json, scaled, status_of};

/// `GET path` with the sandbox's key: status and JSON answer.
async fn get(sb: &Sandbox, path: &str) -> (u16, Value) {
    call(sb, reqwest::Method::GET, path, Some(sb.api_key()), None).await
}

async fn register(sb: &Sandbox, path: &str, url: &str, headers: Value) {
    let (st, v) = post_json(sb, path, json!({"url": url, "headers": headers})).await;
    assert_eq!(st, 200, "{v}");
}

/// `POST /_sandbox/inbound`: status and JSON answer (which must be JSON).
async fn inbound(sb: &Sandbox, body: Value) -> (u16, Value) {
    let (st, v) = control_post(sb, "/_sandbox/inbound", body).await;
    assert!(!v.is_null(), "the answer is JSON");
    (st, v)
}

/// A text from 15555550123 simulated through the control API (no HTTP).
fn inbound_text(sb: &Sandbox, text: &str) {
    sb.control()
        .inbound(&json!({"from":"15555550123","type":"text","text":{"body":text}}))
        .unwrap();
}

/// A sandbox allowing (or not) plain-http callbacks.
async fn callbacks(allow_http: bool) -> Sandbox {
    Sandbox::builder()
        .allow_http_callbacks(allow_http)
        .start()
        .await
        .unwrap()
}

/// The delivery attempts once at least `n` are recorded (or after 10 s): an attempt is
/// recorded once its answer is read, which may come just after the receiver has the body.
async fn recorded(sb: &Sandbox, n: usize) -> Vec<wa360_sandbox::DeliveryAttempt> {
    let t = std::time::Instant::now();
    while sb.deliveries().len() < n && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sb.deliveries()
}

#[tokio::test]
async fn url_rules_are_enforced() {
    let strict = callbacks(false).await;
    let relaxed = callbacks(true).await;
    for path in ["/v1/configs/webhook", "/waba_webhook"] {
        for (url, rule) in [
            ("http://hooks.example.com/x", "https"),
            ("https://my_hooks.example.com/x", "'_'"),
            ("https://hooks.example.com:8443/x", "port"),
            ("not a url", "valid URL"),
        ] {
            for sb in [&strict, &relaxed] {
                let (st, v) = post_json(sb, path, json!({"url": url})).await;
                assert_eq!(st, 400, "{url}");
                let msg = v["meta"]["developer_message"].as_str().unwrap();
                assert!(msg.contains(rule), "{url}: {msg}");
            }
        }
        // Local plain http only with the explicit option, and only loopback.
        for (sb, case, url, want) in [
            (&strict, "strict", "http://127.0.0.1:9/h", 400),
            (&relaxed, "relaxed", "http://127.0.0.1:9/h", 200),
            (
                &relaxed,
                "relaxed, not loopback",
                "http://192.168.1.5:9/h",
                400,
            ),
        ] {
            let (st, v) = post_json(sb, path, json!({ "url": url })).await;
            assert_eq!(st, want, "{case}: {url}: {v}");
        }
        // Header names with '_' are refused.
        let bad_header = json!({"url": "https://hooks.example.com/x", "headers": {"X_Key": "v"}});
        let (st, v) = post_json(&strict, path, bad_header).await;
        assert_eq!(st, 400);
        assert!(
            v["meta"]["developer_message"]
                .as_str()
                .unwrap()
                .contains("X_Key")
        );
        // A good URL is stored and read back.
        let good = json!({"url": "https://hooks.example.com/wa", "headers": {"Authorization": "Basic eDp5"}});
        let stored = (200, json!({"url": "https://hooks.example.com/wa"}));
        assert_eq!(post_json(&strict, path, good).await, stored);
        assert_eq!(get(&strict, path).await, stored);
    }
    assert_eq!(
        strict.control().phone_webhook().unwrap().headers["Authorization"],
        "Basic eDp5"
    );
}

#[tokio::test]
async fn get_without_webhook_is_404() {
    let sb = Sandbox::start().await.unwrap();
    let (st, v) = get(&sb, "/v1/configs/webhook").await;
    assert_eq!(st, 404);
    assert_eq!(v["meta"]["http_code"], 404);
}

#[tokio::test]
async fn statuses_sent_delivered_read_with_registered_headers() {
    let sb = scaled(0.01).await;
    let rx = Receiver::start().await;
    register(
        &sb,
        "/v1/configs/webhook",
        &rx.url,
        json!({"Authorization": "Basic d2E6cHc=", "X-Extra": "1"}),
    )
    .await;
    let body = json!({"messaging_product":"whatsapp","to":"15555550123","type":"text","text":{"body":"hi"},"biz_opaque_callback_data":"order-1"});
    let (st, a) = post_json(&sb, "/messages", body).await;
    assert_eq!(st, 200);
    let wamid = a["messages"][0]["id"].as_str().unwrap().to_string();
    let got = rx.wait_for(3).await;
    let statuses: Vec<_> = got.iter().map(|r| status_of(&r.body).unwrap()).collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);
    for r in &got {
        assert_eq!(r.headers["authorization"], "Basic d2E6cHc=");
        assert_eq!(r.headers["x-extra"], "1");
        assert_eq!(r.body["object"], "whatsapp_business_account");
        let value = &r.body["entry"][0]["changes"][0]["value"];
        assert_eq!(r.body["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(
            value["metadata"]["phone_number_id"],
            wa360_sandbox::PHONE_NUMBER_ID
        );
        let s = &value["statuses"][0];
        assert_eq!(s["id"], wamid.as_str());
        assert_eq!(s["recipient_id"], "15555550123");
        assert_eq!(s["biz_opaque_callback_data"], "order-1");
        assert!(s["timestamp"].as_str().unwrap().parse::<u64>().is_ok());
        assert_eq!(s["pricing"]["pricing_model"], "PMP");
    }
    // Every attempt is recorded, without header values.
    let d = recorded(&sb, 3).await;
    assert_eq!(d.len(), 3);
    assert!(
        d.iter()
            .all(|a| a.ok && a.attempt == 1 && a.status == Some(200))
    );
    assert_eq!(d[0].header_names, ["Authorization", "X-Extra"]);
    assert!(!serde_json::to_string(&d).unwrap().contains("d2E6cHc="));
}

#[tokio::test]
async fn reaction_gets_only_sent() {
    let sb = scaled(0.01).await;
    let rx = Receiver::start().await;
    register(&sb, "/v1/configs/webhook", &rx.url, json!({})).await;
    let body = json!({"messaging_product":"whatsapp","to":"15555550123","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}});
    let (st, _) = post_json(&sb, "/messages", body).await;
    assert_eq!(st, 200);
    let got = rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 1);
    assert_eq!(status_of(&got[0].body).as_deref(), Some("sent"));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_growing_delays() {
    let scale = 0.005; // 10 s, 20 s, 40 s → 50 ms, 100 ms, 200 ms
    let sb = scaled(scale).await;
    let rx = Receiver::start().await;
    rx.fail_first(3);
    register(&sb, "/v1/configs/webhook", &rx.url, json!({})).await;
    let (st, ids) = inbound(
        &sb,
        json!({"from":"15555550123","type":"text","text":{"body":"retry me"}}),
    )
    .await;
    assert_eq!(st, 200);
    let got = rx.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rx.received().len(),
        4,
        "delivered once it answered 200, then stopped"
    );
    let id = ids["message_ids"][0].as_str().unwrap();
    for r in &got {
        assert_eq!(
            r.body["entry"][0]["changes"][0]["value"]["messages"][0]["id"], id,
            "the same event each time"
        );
    }
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (i, g) in gaps.iter().enumerate() {
        let nominal = wa360_sandbox::retry_delay(i as u32 + 1).mul_f64(scale);
        assert!(
            *g >= nominal,
            "gap {i} {g:?} shorter than the scheduled {nominal:?}"
        );
    }
    assert!(gaps[2] > gaps[0], "delays must grow: {gaps:?}");
    let d = recorded(&sb, 4).await;
    assert_eq!(
        d.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        d.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(500), Some(200)]
    );
    assert!(d.iter().all(|a| a.delivery_id == d[0].delivery_id));
    assert!(d[3].ok && !d[0].ok);
}

#[tokio::test]
async fn slow_receiver_counts_as_failed_and_is_retried() {
    // Timeout = 5 s scaled, floored at 1 s.
    let sb = scaled(0.001).await;
    let rx = Receiver::start().await;
    rx.stall_first(1, Duration::from_millis(2500));
    register(&sb, "/v1/configs/webhook", &rx.url, json!({})).await;
    inbound_text(&sb, "slow");
    rx.wait_for(2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sb.deliveries().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let d = sb.deliveries();
    assert_eq!(d[0].error.as_deref(), Some("timeout"));
    assert!(!d[0].ok);
    assert!(d[1].ok);
}

#[tokio::test]
async fn delivery_stops_after_max_attempts() {
    let sb = Sandbox::builder()
        .time_scale(0.0005)
        .max_delivery_attempts(3)
        .start()
        .await
        .unwrap();
    let rx = Receiver::start().await;
    rx.fail_first(100);
    register(&sb, "/v1/configs/webhook", &rx.url, json!({})).await;
    inbound_text(&sb, "x");
    rx.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn phone_level_webhook_wins_over_waba_level() {
    let sb = scaled(0.01).await;
    let phone = Receiver::start().await;
    let waba = Receiver::start().await;
    register(&sb, "/waba_webhook", &waba.url, json!({})).await;
    inbound_text(&sb, "to waba");
    waba.wait_for(1).await;
    register(&sb, "/v1/configs/webhook", &phone.url, json!({})).await;
    inbound_text(&sb, "to phone");
    phone.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(waba.received().len(), 1);
    assert_eq!(phone.received().len(), 1);
}

#[tokio::test]
async fn inbound_simulation_of_every_type() {
    let sb = scaled(0.01).await;
    let rx = Receiver::start().await;
    let (st, v) = inbound(
        &sb,
        json!({"from":"15555550123","type":"text","text":{"body":"hi"}}),
    )
    .await;
    assert_eq!(st, 409, "no webhook registered yet: {v}");
    register(
        &sb,
        "/v1/configs/webhook",
        &rx.url,
        json!({"X-Secret": "s3"}),
    )
    .await;
    let events = [
        json!({"from":"15555550123","type":"text","text":"short form","name":"Maya"}),
        json!({"from":"15555550123","type":"image","image":{"caption":"look"}}),
        json!({"from":"15555550123","type":"audio","audio":{"voice":true}}),
        json!({"from":"15555550123","type":"video"}),
        json!({"from":"15555550123","type":"document","document":{"filename":"a.pdf"}}),
        json!({"from":"15555550123","type":"sticker"}),
        json!({"from":"15555550123","type":"location","location":{"latitude":52.5,"longitude":13.4}}),
        json!({"from":"15555550123","type":"contacts","contacts":[{"name":{"formatted_name":"A B"}}]}),
        json!({"from":"15555550123","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes","title":"Yes"}},"context":{"from":"15550104321","id":"wamid.Q"}}),
        json!({"from":"15555550123","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"Row"}}}),
        json!({"from":"15555550123","type":"reaction","reaction":{"message_id":"wamid.Q","emoji":"👍"}}),
        json!({"from":"15555550123","type":"button","button":{"payload":"STOP","text":"Stop"}}),
        json!({"from":"15555550123","type":"order","order":{"catalog_id":"1","product_items":[{"product_retailer_id":"p","quantity":1,"item_price":9.5,"currency":"EUR"}]}}),
    ];
    for (i, e) in events.iter().enumerate() {
        let (st, v) = inbound(&sb, e.clone()).await;
        assert_eq!(st, 200, "{e} -> {v}");
        let id = v["message_ids"][0].as_str().unwrap();
        assert!(id.starts_with("wamid."));
        let got = rx.wait_for(i + 1).await;
        let r = &got[i];
        assert_eq!(r.headers["x-secret"], "s3");
        let value = &r.body["entry"][0]["changes"][0]["value"];
        let m = &value["messages"][0];
        assert_eq!(m["id"], id);
        assert_eq!(m["from"], "15555550123");
        assert_eq!(m["type"], e["type"]);
        assert!(m["timestamp"].as_str().unwrap().parse::<u64>().is_ok());
        assert_eq!(value["contacts"][0]["wa_id"], "15555550123");
        assert!(
            m.get(e["type"].as_str().unwrap()).is_some(),
            "payload object present: {m}"
        );
    }
    let first = &rx.received()[0].body["entry"][0]["changes"][0]["value"];
    assert_eq!(first["messages"][0]["text"]["body"], "short form");
    assert_eq!(first["contacts"][0]["profile"]["name"], "Maya");
    // Simulated inbound media can be fetched like real media.
    let img = &rx.received()[1].body["entry"][0]["changes"][0]["value"]["messages"][0]["image"];
    assert_eq!(img["caption"], "look");
    assert_eq!(img["mime_type"], "image/jpeg");
    let (st, info) = get(&sb, &format!("/{}", img["id"].as_str().unwrap())).await;
    assert_eq!(st, 200);
    assert_eq!(info["sha256"], img["sha256"]);
}

#[tokio::test]
async fn inbound_batches_and_raw_bodies() {
    let sb = scaled(0.01).await;
    let rx = Receiver::start().await;
    register(&sb, "/v1/configs/webhook", &rx.url, json!({})).await;
    // A batch: one POST with three messages from two users.
    let (st, v) = inbound(
        &sb,
        json!({"events":[
            {"from":"15555550123","type":"text","text":{"body":"one"}},
            {"from":"15555550123","type":"text","text":{"body":"two"}},
            {"from":"447700900123","type":"text","text":{"body":"three"}}
        ]}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["message_ids"].as_array().unwrap().len(), 3);
    let got = rx.wait_for(1).await;
    let value = &got[0].body["entry"][0]["changes"][0]["value"];
    assert_eq!(value["messages"].as_array().unwrap().len(), 3);
    assert_eq!(value["contacts"].as_array().unwrap().len(), 2);
    // Raw Cloud API messages.
    let (st, v) = inbound(&sb, json!({"messages":[{"from":"15555550123","type":"unsupported","errors":[{"code":131051}]}]})).await;
    assert_eq!(st, 200);
    let got = rx.wait_for(2).await;
    assert_eq!(
        got[1].body["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
        v["message_ids"][0]
    );
    // A full webhook body is delivered as is.
    let full = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
        {"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]});
    let (st, v) = inbound(&sb, full.clone()).await;
    assert_eq!(st, 200);
    assert_eq!(v["message_ids"], json!([]));
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].body, full);
    // Bad input is a 400 naming the problem.
    let (st, v) = inbound(&sb, json!({"type":"text","text":{"body":"no sender"}})).await;
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("from"));
}

#[tokio::test]
async fn in_process_registration_follows_the_same_rules() {
    let sb = Sandbox::builder()
        .allow_http_callbacks(false)
        .time_scale(0.01)
        .start()
        .await
        .unwrap();
    let ctl = sb.control();
    let none = std::collections::BTreeMap::new();
    assert!(
        ctl.register_webhook(false, "http://127.0.0.1:9/h", &none)
            .unwrap_err()
            .to_string()
            .contains("https")
    );
    assert!(
        ctl.register_webhook(false, "https://a_b.example.com/h", &none)
            .is_err()
    );
    let mut bad = std::collections::BTreeMap::new();
    bad.insert("X_Key".to_string(), "v".to_string());
    // Named as the argument that is wrong, not as `url`.
    let e = ctl
        .register_webhook(true, "https://hooks.example.com/h", &bad)
        .unwrap_err();
    assert!(e.to_string().contains("X_Key"), "{e}");
    assert_eq!(e.field(), Some("headers"));
    let e = ctl
        .register_webhook(false, "https://a_b.example.com/h", &none)
        .unwrap_err();
    assert_eq!(e.field(), Some("url"));
    let mut good = std::collections::BTreeMap::new();
    good.insert("X-Key".to_string(), "v".to_string());
    ctl.register_webhook(true, "https://hooks.example.com/h", &good)
        .unwrap();
    assert_eq!(ctl.waba_webhook().unwrap().headers["X-Key"], "v");
    assert!(ctl.phone_webhook().is_none());
    let relaxed = scaled(0.01).await;
    let rx = Receiver::start().await;
    relaxed
        .control()
        .register_webhook(false, &rx.url, &good)
        .unwrap();
    relaxed
        .control()
        .inbound(&json!({"from":"15555550123","type":"text","text":"hi"}))
        .unwrap();
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].headers["x-key"], "v");
}

/// After a delivery the sandbox keeps no connection open to the receiver, which answered
/// with keep-alive: the app's server must be able to close while the sandbox (kept for
/// inspection) lives on. A kept connection held Node test processes open after
/// `server.close()` until the sandbox's pool dropped it, 90 s later.
#[tokio::test]
async fn a_delivery_leaves_no_connection_open_to_the_receiver() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = callbacks(true).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    register(&sb, "/v1/configs/webhook", &url, json!({})).await;
    inbound_text(&sb, "hello");
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("a delivery")
        .unwrap();
    // Read the request (headers and the body they announce), answer 200, keep-alive.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the request was complete");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + len {
                break;
            }
        }
    }
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "the connection stayed open: {closed:?}"
    );
    drop(sb);
}
