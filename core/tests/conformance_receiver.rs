//! Runs every case of `tests/conformance/receiver/` (format in its README):
//! a receiver configuration and a sequence of requests; each reply's status,
//! body, new event kinds, duplicate and stale counts must match. Also checks
//! the one behaviour a fixture cannot express: a store that fails makes the
//! receiver answer 503, never 200.

mod common;

use std::fs;
use std::sync::Arc;

use common::{hold_write_lock, read_json};
use serde_json::{Value, json};
use wa360::config::Secret;
use wa360::inbox;
use wa360::webhook::dedupe::Deduper;
use wa360::webhook::verify::Verifier;
use wa360::webhook::{ParseOptions, Receiver, ReceiverConfig, testing};

fn receiver(cfg: &Value) -> Receiver {
    let mut parse = ParseOptions::default();
    if let Some(n) = cfg.get("max_bytes").and_then(Value::as_u64) {
        parse.max_bytes = n as usize;
    }
    Receiver::new(ReceiverConfig {
        verifier: cfg
            .get("verifier")
            .filter(|v| !v.is_null())
            .map(|v| Verifier::from_json(v).unwrap()),
        verify_token: cfg
            .get("verify_token")
            .and_then(Value::as_str)
            .map(Secret::new),
        parse,
        inbox: cfg
            .get("inbox")
            .and_then(Value::as_str)
            .map(|u| inbox::open(u).unwrap()),
        dedupe: Some(Deduper::memory()),
        status_fold: None,
    })
}

fn run_case(input: &Value) -> Value {
    let r = receiver(&input["config"]);
    let mut replies = Vec::new();
    for req in input["requests"].as_array().unwrap() {
        let headers: Vec<(String, String)> = req["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let reply = r.handle(
            req["method"].as_str().unwrap(),
            req["query"].as_str().unwrap(),
            &headers,
            req["body"].as_str().unwrap().as_bytes(),
        );
        replies.push(json!({
            "status": reply.status,
            "body": reply.body,
            "events": reply.events.iter().map(|e| e.kind()).collect::<Vec<_>>(),
            "duplicates": reply.duplicates,
            "stale": reply.stale,
        }));
    }
    json!({ "replies": replies })
}

#[test]
fn every_receiver_case() {
    let mut failures = Vec::new();
    let mut n = 0;
    for dir in common::case_dirs("receiver") {
        n += 1;
        let got = run_case(&read_json(&dir.join("input.json")));
        let want = read_json(&dir.join("expected.json"));
        if got != want {
            failures.push(format!("{}: got {got}, want {want}", dir.display()));
        }
    }
    assert!(n >= 20, "only {n} cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_store_that_fails_answers_503_and_a_retry_after_recovery_is_stored() {
    let dir = std::env::temp_dir().join(format!("wa360-recv-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    let _ = fs::remove_file(&path);
    let url = format!("sqlite://{}?busy_timeout_ms=100", path.display());
    let store = inbox::open(&url).unwrap();
    let r = Receiver::new(ReceiverConfig {
        inbox: Some(Arc::clone(&store)),
        ..ReceiverConfig::default()
    });
    let body = testing::inbound_text("15555550123", "hi", "wamid.L").to_string();
    let holder = hold_write_lock(&path);
    let reply = r.handle::<&str, &str>("POST", "", &[], body.as_bytes());
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(
        reply.error.as_ref().unwrap().code(),
        wa360::ErrorCode::Store
    );
    drop(holder);
    let reply = r.handle::<&str, &str>("POST", "", &[], body.as_bytes());
    assert_eq!(
        (reply.status, reply.events.len()),
        (200, 1),
        "stored on 360dialog's retry"
    );
}
