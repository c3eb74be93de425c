//! Runs every case of `tests/conformance/webhook_verify/` (format in its
//! README.md): a verifier configuration plus one delivery (headers, raw body)
//! must verify or fail with the expected code, field and message fragment; a
//! `hub.challenge` handshake must answer the expected challenge or fail.
//! No error message may contain a configured secret or its base64 form.

mod common;

use base64::Engine as _;
use common::read_json;
use serde_json::Value;
use wa360::Result;
use wa360::webhook::verify::{Verifier, hub_challenge, hub_challenge_from_query};

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` must be a string in {v}"))
}

/// Every secret of a verifier description, and the base64 of `user:password`.
fn secrets(verifier: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(ba) = verifier.get("basic_auth") {
        let (u, p) = (s(ba, "user"), s(ba, "password"));
        if !p.is_empty() {
            out.push(p.to_string());
            out.push(base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
        }
    }
    if let Some(h) = verifier.get("headers").and_then(Value::as_object) {
        out.extend(
            h.values()
                .filter_map(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        );
    }
    if let Some(a) = verifier.get("app_secret").and_then(Value::as_str)
        && !a.is_empty()
    {
        out.push(a.to_string());
    }
    out
}

/// Run one case; `Ok(Some(response))` for a handshake, `Ok(None)` for a
/// verified delivery.
fn run(input: &Value) -> (Result<Option<String>>, Vec<String>) {
    if let Some(c) = input.get("challenge") {
        let r = hub_challenge(
            s(c, "mode"),
            s(c, "verify_token"),
            s(c, "challenge"),
            s(c, "expected_token"),
        )
        .map(Some);
        return (r, vec![s(c, "expected_token").to_string()]);
    }
    if let Some(c) = input.get("challenge_query") {
        let r = hub_challenge_from_query(s(c, "query"), s(c, "expected_token")).map(Some);
        return (r, vec![s(c, "expected_token").to_string()]);
    }
    let spec = &input["verifier"];
    let secrets = secrets(spec);
    let headers: Vec<(String, String)> = input["headers"]
        .as_array()
        .expect("headers must be a list")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("each header is [name, value]");
            assert_eq!(pair.len(), 2, "each header is [name, value]");
            (
                pair[0].as_str().expect("name").to_string(),
                pair[1].as_str().expect("value").to_string(),
            )
        })
        .collect();
    let body: Vec<u8> = match (input.get("body"), input.get("body_base64")) {
        (Some(b), None) => b.as_str().expect("body string").as_bytes().to_vec(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.as_str().expect("body_base64 string"))
            .expect("body_base64 is base64"),
        _ => panic!("exactly one of body / body_base64"),
    };
    let r = Verifier::from_json(spec).and_then(|v| v.verify(&headers, &body).map(|()| None));
    (r, secrets)
}

#[test]
fn webhook_verify_conformance() {
    let cases = common::cases_with_input("webhook_verify", 50);
    let mut failures = Vec::new();
    for (name, dir, input) in &cases {
        let (got, secrets) = run(input);
        let err_path = dir.join("expected_error.json");
        if err_path.exists() {
            let want = read_json(&err_path);
            match got {
                Ok(r) => failures.push(format!("{name}: expected an error, got Ok({r:?})")),
                Err(e) => {
                    assert!(
                        want["code"].is_string(),
                        "{name}: expected_error.json has a code"
                    );
                    failures.extend(common::check_error(name, &e, &want));
                    let msg = e.to_string();
                    for secret in &secrets {
                        if msg.contains(secret.as_str())
                            || format!("{e:?}").contains(secret.as_str())
                        {
                            failures.push(format!("{name}: error text leaks a secret"));
                        }
                    }
                }
            }
        } else {
            let want = read_json(&dir.join("expected.json"));
            assert_eq!(want["ok"], true, "{name}: expected.json must say ok");
            match got {
                Err(e) => failures.push(format!("{name}: unexpected error {e}")),
                Ok(resp) => {
                    let want_resp = want.get("response").and_then(Value::as_str);
                    if resp.as_deref() != want_resp {
                        failures.push(format!("{name}: response {resp:?}, want {want_resp:?}"));
                    }
                }
            }
        }
    }
    common::assert_no_failures("webhook_verify", &failures, cases.len());
}
