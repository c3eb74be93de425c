//! The sandbox's rate limits over real HTTP: 130429 per number, 131056 per recipient,
//! 360dialog's endpoint limit, the per-recipient counts, and "off by default".

use serde_json::{Value, json};
use wa360_sandbox::{Limits, Sandbox};

mod common;
use common::{client_builder, control_get, control_post, post_json, text_body, with_limits};

/// A text to `to` through the raw API: status and JSON answer.
async fn send(sb: &Sandbox, to: &str) -> (u16, Value) {
    post_json(sb, "/messages", text_body(to)).await
}

#[tokio::test]
async fn no_limits_by_default() {
    let sb = Sandbox::start().await.unwrap();
    for _ in 0..30 {
        assert_eq!(send(&sb, "15555550123").await.0, 200);
    }
    assert_eq!(sb.control().recipient_counts()["15555550123"].accepted, 30);
    assert_eq!(sb.control().limit_counters().throughput_refused, 0);
}

#[tokio::test]
async fn messages_per_second_past_the_limit_get_130429() {
    let sb = with_limits(Limits::none().messages_per_second(5.0)).await;
    let mut refused = 0;
    for i in 0..20 {
        let (status, v) = send(&sb, &format!("1555555{i:04}")).await;
        if status == 429 {
            assert_eq!(v["error"]["code"], 130429, "{v}");
            assert!(v["error"]["error_data"]["details"].is_string());
            refused += 1;
        } else {
            assert_eq!(status, 200, "{v}");
        }
    }
    // The bucket holds one second (5) and refills at 5/s while the loop runs.
    assert!(refused >= 5, "refused {refused}");
    let c = sb.control().limit_counters();
    assert_eq!(c.throughput_refused, refused);
    assert_eq!(c.accepted, 20 - refused);
    // The request log shows the refusals with their status.
    let logged_429 = sb
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count() as u64;
    assert_eq!(logged_429, refused);
    // Refilled after a pause.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(send(&sb, "15555550000").await.0, 200);
}

#[tokio::test]
async fn pair_rate_refuses_only_the_repeated_recipient() {
    let sb = with_limits(Limits::none().pair_rate(60_000, 2)).await;
    assert_eq!(send(&sb, "15555550001").await.0, 200);
    assert_eq!(send(&sb, "15555550001").await.0, 200);
    let (status, v) = send(&sb, "15555550001").await;
    assert_eq!(status, 429);
    assert_eq!(v["error"]["code"], 131056);
    // Others are not affected.
    for i in 2..6 {
        assert_eq!(send(&sb, &format!("1555555000{i}")).await.0, 200);
    }
    let v = control_get(&sb, "/_sandbox/recipients").await;
    assert_eq!(v["recipients"]["15555550001"]["accepted"], 2);
    assert_eq!(v["recipients"]["15555550001"]["pair_refused"], 1);
    assert_eq!(v["recipients"]["15555550003"]["accepted"], 1);
    assert_eq!(v["counters"]["pair_refused"], 1);
}

#[tokio::test]
async fn endpoint_limit_is_http_400_with_the_360dialog_body() {
    let sb = Sandbox::start().await.unwrap();
    // Set through the control route, as a test in another language would.
    let (status, v) = control_post(&sb, "/_sandbox/limits", json!({"endpoint_rps": 3})).await;
    assert_eq!(status, 200, "{v}");
    let mut seen = false;
    for _ in 0..10 {
        let (status, v) = send(&sb, "15555550123").await;
        if status == 400 {
            assert_eq!(
                v["meta"]["developer_message"],
                "You have exceeded the endpoint rate limit."
            );
            assert_eq!(v["meta"]["http_code"], 400);
            seen = true;
        }
    }
    assert!(seen);
    assert!(sb.control().limit_counters().endpoint_refused >= 1);
    // Bad limits are refused and name the field.
    let (status, v) =
        control_post(&sb, "/_sandbox/limits", json!({"messages_per_second": -1})).await;
    assert_eq!(status, 400);
    assert!(v.to_string().contains("messages_per_second"), "{v}");
}

#[tokio::test]
async fn core_client_reads_the_limit_answers_as_rate_limited() {
    let sb = with_limits(Limits::none().pair_rate(60_000, 1)).await;
    let client = client_builder(&sb).build().unwrap();
    let msg = wa360::messages::Message::text("15555550123", "hi");
    client.send(&msg).await.unwrap();
    let e = client.send(&msg).await.unwrap_err();
    assert_eq!(e.code(), wa360::ErrorCode::RateLimited);
    assert_eq!(e.api_code(), Some(131056));
    assert!(e.retry_after().is_some());
}

#[tokio::test]
async fn json_limits_and_fault_rules_as_the_bindings_give_them() {
    let sb = Sandbox::start().await.unwrap();
    let c = sb.control();
    c.set_limits_json(json!({"messages_per_second": 5.0}))
        .unwrap();
    let e = c
        .set_limits_json(json!({"messages_per_second": "fast"}))
        .unwrap_err();
    assert_eq!(e.code(), wa360::ErrorCode::InvalidArgument);
    assert_eq!(e.field(), Some("limits"));
    assert!(e.to_string().contains("is not a limits object"), "{e}");
    c.add_fault_json(json!({"fault": {"kind": "status", "status": 503}}))
        .unwrap();
    assert_eq!(send(&sb, "15555550123").await.0, 503);
    let e = c
        .add_fault_json(json!({"fault": {"kind": "no_such_kind"}}))
        .unwrap_err();
    assert_eq!(e.field(), Some("rule"));
    assert!(e.to_string().contains("is not a fault rule"), "{e}");
}
