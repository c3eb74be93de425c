//! Fault injection over real HTTP: every fault kind, counts and matching.

use std::time::Duration;

use serde_json::{Value, json};
use wa360_sandbox::{Fault, RetryAfter, Sandbox};

mod common;
use common::{
    Receiver, control_get, control_post, keyed, message_requests, on_send, post_json, scaled,
    status_of,
};

fn text_body() -> Value {
    common::text_body("15555550123")
}

/// A raw text send with the sandbox's key.
fn send_request(sb: &Sandbox) -> reqwest::RequestBuilder {
    keyed(sb, reqwest::Method::POST, "/messages").json(&text_body())
}

async fn send(sb: &Sandbox) -> reqwest::Result<reqwest::Response> {
    send_request(sb).send().await
}

/// Register `url` as the webhook (statuses of sends go there).
async fn register_webhook(sb: &Sandbox, url: &str) {
    let (status, v) = post_json(sb, "/v1/configs/webhook", json!({ "url": url })).await;
    assert_eq!(status, 200, "{v}");
}

/// Add a fault rule through the control route, as a test in another language would.
async fn script(sb: &Sandbox, rule: Value) {
    let (status, v) = control_post(sb, "/_sandbox/faults", rule).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn rate_limit_with_and_without_retry_after() {
    let sb = Sandbox::start().await.unwrap();
    script(
        &sb,
        json!({"method":"POST","path":"/messages","fault":{"kind":"rate_limit","retry_after":2}}),
    )
    .await;
    script(
        &sb,
        json!({"method":"POST","path":"/messages","fault":{"kind":"rate_limit"}}),
    )
    .await;
    let r = send(&sb).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 130429);
    let r = send(&sb).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    // Both rules were used up: the third send is accepted.
    assert_eq!(send(&sb).await.unwrap().status(), 200);
    let reqs = sb.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].fault.as_ref().unwrap()["kind"], "rate_limit");
    assert!(reqs[2].fault.is_none());
}

#[tokio::test]
async fn http_date_retry_after_is_passed_through() {
    let sb = Sandbox::start().await.unwrap();
    sb.add_fault(on_send(Fault::RateLimit {
        retry_after: Some(RetryAfter::Text("Wed, 21 Oct 2026 07:28:00 GMT".into())),
    }));
    let r = send(&sb).await.unwrap();
    assert_eq!(r.headers()["retry-after"], "Wed, 21 Oct 2026 07:28:00 GMT");
}

#[tokio::test]
async fn any_meta_error_code_with_its_http_status() {
    let sb = Sandbox::start().await.unwrap();
    for (code, status) in [
        (131000, 500),
        (131047, 400),
        (132001, 404),
        (131056, 429),
        (190, 401),
        (368, 403),
    ] {
        script(&sb, json!({"path":"/messages","fault":{"kind":"meta_error","code":code,"details":"injected"}})).await;
        let r = send(&sb).await.unwrap();
        assert_eq!(r.status(), status, "code {code}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code);
        assert_eq!(v["error"]["error_data"]["details"], "injected");
        assert!(v["error"]["fbtrace_id"].is_string());
    }
    // An explicit status wins.
    script(
        &sb,
        json!({"fault":{"kind":"meta_error","code":131016,"status":503,"subcode":99}}),
    )
    .await;
    let r = send(&sb).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["error_subcode"],
        99
    );
}

#[tokio::test]
async fn plain_5xx_html_and_360dialog_errors() {
    let sb = Sandbox::start().await.unwrap();
    for st in [500u16, 502, 503] {
        script(&sb, json!({"fault":{"kind":"status","status":st}})).await;
        let r = send(&sb).await.unwrap();
        assert_eq!(r.status().as_u16(), st);
        assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());
    }
    script(&sb, json!({"fault":{"kind":"html","status":504}})).await;
    let r = send(&sb).await.unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert!(r.text().await.unwrap().starts_with("<!DOCTYPE html>"));
    script(&sb, json!({"fault":{"kind":"dialog360_error"}})).await;
    let r = send(&sb).await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["meta"]["developer_message"],
        "You have exceeded the endpoint rate limit."
    );
}

#[tokio::test]
async fn malformed_and_truncated_json_bodies() {
    let sb = Sandbox::start().await.unwrap();
    script(&sb, json!({"fault":{"kind":"malformed_json"}})).await;
    script(&sb, json!({"fault":{"kind":"truncated_json"}})).await;
    for _ in 0..2 {
        let r = send(&sb).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let text = r.text().await.unwrap();
        assert!(text.starts_with("{\"messaging_product\""), "{text}");
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "must not parse: {text}"
        );
    }
}

#[tokio::test]
async fn delay_longer_than_client_timeout_still_processes_the_send() {
    let sb = scaled(0.001).await;
    let rx = Receiver::start().await;
    sb.control().reset();
    register_webhook(&sb, &rx.url).await;
    script(
        &sb,
        json!({"path":"/messages","fault":{"kind":"delay","ms":600}}),
    )
    .await;
    let err = send_request(&sb)
        .timeout(Duration::from_millis(150))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let msgs = message_requests(&sb);
    assert_eq!(msgs.len(), 1, "exactly one request reached the server");
    // The server finished the send after the client gave up: statuses follow.
    let got = rx.wait_for(1).await;
    assert_eq!(status_of(&got[0].body).as_deref(), Some("sent"));
}

#[tokio::test]
async fn reset_before_body_closes_without_processing() {
    let sb = scaled(0.001).await;
    let rx = Receiver::start().await;
    sb.add_fault(on_send(Fault::ResetBeforeBody));
    register_webhook(&sb, &rx.url).await;
    let err = send(&sb).await.unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    let msgs = message_requests(&sb);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].status, None);
    assert_eq!(msgs[0].body, Value::Null, "the body was never read");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rx.received().is_empty(),
        "nothing was sent, so no status webhooks"
    );
    // The next request is served normally.
    assert_eq!(send(&sb).await.unwrap().status(), 200);
}

#[tokio::test]
async fn reset_after_body_processes_then_closes() {
    let sb = scaled(0.001).await;
    let rx = Receiver::start().await;
    register_webhook(&sb, &rx.url).await;
    sb.add_fault(on_send(Fault::ResetAfterBody));
    let err = send(&sb).await.unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    let msgs = message_requests(&sb);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body, text_body(), "the body was read");
    assert_eq!(msgs[0].status, None, "no answer was sent");
    // The message went out anyway: its statuses arrive (outcome was unknown to the client).
    let got = rx.wait_for(3).await;
    assert_eq!(status_of(&got[0].body).as_deref(), Some("sent"));
}

#[tokio::test]
async fn count_path_matching_and_clearing() {
    let sb = Sandbox::start().await.unwrap();
    // Two faults for /messages only.
    script(&sb, json!({"method":"post","path":"/messages","count":2,"fault":{"kind":"status","status":503}})).await;
    let media = keyed(&sb, reqwest::Method::GET, "/123")
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 404, "other paths are not affected");
    assert_eq!(send(&sb).await.unwrap().status(), 503);
    assert_eq!(send(&sb).await.unwrap().status(), 503);
    assert_eq!(send(&sb).await.unwrap().status(), 200);
    // count 0: until cleared; prefix match with '*'.
    script(
        &sb,
        json!({"path":"/mess*","count":0,"fault":{"kind":"status","status":500}}),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(send(&sb).await.unwrap().status(), 500);
    }
    let listed = control_get(&sb, "/_sandbox/faults").await;
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);
    let (status, _) =
        common::call(&sb, reqwest::Method::DELETE, "/_sandbox/faults", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(send(&sb).await.unwrap().status(), 200);
}

#[tokio::test]
async fn bad_fault_rule_is_rejected() {
    let sb = Sandbox::start().await.unwrap();
    let (status, v) =
        control_post(&sb, "/_sandbox/faults", json!({"fault":{"kind":"explode"}})).await;
    assert_eq!(status, 400);
    assert!(v.to_string().contains("invalid fault rule"), "{v}");
}

/// `GET /health_status` with the sandbox's key.
async fn health(sb: &Sandbox) -> reqwest::Response {
    keyed(sb, reqwest::Method::GET, "/health_status")
        .send()
        .await
        .unwrap()
}

/// The bindings' keyword helper `fault(kind, { method, path, count, ...params })`
/// (`Control::fault`): by default the next `POST /messages`, `null` matches any,
/// the kind's parameters reach the fault, and bad options name the option.
#[tokio::test]
async fn fault_by_kind_defaults_to_the_next_send_and_names_bad_options() {
    let sb = Sandbox::start().await.unwrap();
    let c = sb.control();
    let opts = |v: Value| v.as_object().cloned().unwrap();
    c.fault("rate_limit", opts(json!({"retry_after": 3})))
        .unwrap();
    // A GET elsewhere is not hit; the next send is, once.
    let answer = health(&sb).await;
    assert_eq!(answer.status(), 200);
    let r = send(&sb).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(send(&sb).await.unwrap().status(), 200);

    // `method: null` and `path: null` match any request; `count: 2` hits two.
    c.fault(
        "status",
        opts(json!({"method": null, "path": null, "count": 2, "status": 503})),
    )
    .unwrap();
    let answer = health(&sb).await;
    assert_eq!(answer.status(), 503);
    assert_eq!(send(&sb).await.unwrap().status(), 503);
    assert_eq!(send(&sb).await.unwrap().status(), 200);

    for (options, field) in [
        (json!({"method": 1}), "method"),
        (json!({"path": ["/messages"]}), "path"),
        (json!({"count": -1}), "count"),
        (json!({"count": 1.5}), "count"),
        (json!({"count": "2"}), "count"),
        (json!({"kind": "html"}), "kind"),
        (json!({"code": "x"}), "kind"),
    ] {
        let kind = if field == "kind" && options.get("code").is_some() {
            "meta_error"
        } else {
            "html"
        };
        let e = c.fault(kind, opts(options.clone())).unwrap_err();
        match &e {
            wa360::Error::InvalidArgument { field: f, .. } => {
                assert_eq!(f, field, "{options}: {e}")
            }
            other => panic!("{options}: not invalid_argument: {other}"),
        }
    }
    let e = c.fault("no_such_kind", opts(json!({}))).unwrap_err();
    assert!(e.to_string().contains("no_such_kind"), "{e}");
    // Nothing was added by the refused calls.
    assert_eq!(send(&sb).await.unwrap().status(), 200);
}
