//! Runs every case of `tests/conformance/webhook_parse/`: `input.json` (the raw
//! POST body) must parse to the canonical events of `expected.json`, through
//! both `Event::to_canonical` and `parse_to_canonical_json`, or fail with the
//! code of `expected_error.json`.

mod common;

use common::ParseExpect;
use serde_json::Value;
use wa360::webhook::{parse, parse_to_canonical_json};

#[test]
fn webhook_parse_conformance() {
    let cases = common::webhook_parse_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let (name, input) = (&case.name, &case.input);
        let want = match &case.expect {
            ParseExpect::Error(want) => {
                match parse(input) {
                    Ok(ev) => failures.push(format!(
                        "{name}: expected error {want}, got {} events",
                        ev.len()
                    )),
                    Err(e) if e.code().as_str() != want => {
                        failures.push(format!("{name}: expected error {want}, got {}", e.code()))
                    }
                    Err(_) => {}
                }
                if parse_to_canonical_json(input).map_err(|e| e.code().as_str()) != Err(want) {
                    failures.push(format!(
                        "{name}: parse_to_canonical_json did not fail with {want}"
                    ));
                }
                continue;
            }
            ParseExpect::Events(want) => want,
        };
        let got = match parse(input) {
            Ok(ev) => Value::Array(ev.iter().map(|e| e.to_canonical()).collect()),
            Err(e) => {
                failures.push(format!("{name}: unexpected error {e}"));
                continue;
            }
        };
        if &got != want {
            failures.push(format!(
                "{name}: canonical mismatch\n--- got\n{}\n--- want\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(want).unwrap()
            ));
            continue;
        }
        let fast: Value = serde_json::from_str(&parse_to_canonical_json(input).unwrap()).unwrap();
        if &fast != want {
            failures.push(format!(
                "{name}: parse_to_canonical_json differs from to_canonical"
            ));
        }
    }
    common::assert_no_failures("webhook_parse", &failures, cases.len());
    assert!(cases.len() >= 50, "only {} cases", cases.len());
}
