//! Runs every case of `tests/conformance/webhook_url/` (format in its
//! README.md): webhook settings `{"url", "headers"}` must validate, or fail
//! with `invalid_argument` naming the field and the broken rule.

mod common;

use common::read_json;
use serde_json::Value;
use wa360::webhook::registration::{WebhookSettings, validate_webhook_url};

#[test]
fn webhook_url_conformance() {
    let cases = common::cases_with_input("webhook_url", 30);
    let mut failures = Vec::new();
    for (name, dir, input) in &cases {
        let got = WebhookSettings::from_json(input).and_then(|s| s.validate());
        // Without headers, the URL function alone must agree with the settings.
        if input.get("headers").is_none() {
            let alone = validate_webhook_url(input["url"].as_str().expect("url"));
            if alone.as_ref().err().map(ToString::to_string)
                != got.as_ref().err().map(ToString::to_string)
            {
                failures.push(format!("{name}: validate_webhook_url disagrees"));
            }
        }
        let err_path = dir.join("expected_error.json");
        if err_path.exists() {
            let want = read_json(&err_path);
            match got {
                Ok(()) => failures.push(format!("{name}: expected an error, got Ok")),
                Err(e) => {
                    failures.extend(common::check_error(name, &e, &want));
                    let msg = e.to_string();
                    // Header values are secrets: never in the message.
                    if let Some(h) = input.get("headers").and_then(Value::as_object) {
                        for v in h.values().filter_map(Value::as_str).filter(|v| v.len() > 1) {
                            if msg.contains(v) {
                                failures.push(format!("{name}: message leaks a header value"));
                            }
                        }
                    }
                }
            }
        } else {
            let want = read_json(&dir.join("expected.json"));
            assert_eq!(want["ok"], true, "{name}: expected.json must say ok");
            if let Err(e) = got {
                failures.push(format!("{name}: unexpected error {e}"));
            }
        }
    }
    common::assert_no_failures("webhook_url", &failures, cases.len());
}
