//! Conformance suite `tests/conformance/message_build`: every case directory
//! holds `input.json` (the neutral description) and either `expected.json`
//! (the exact `POST /messages` body) or `expected_error.json`
//! (`{"code": …, "field": …}`). The tree is walked, so adding a directory adds
//! a case; all failures are reported together, by case name. Bodies are
//! compared as JSON values and, in Rust, also by key order.

mod common;

use std::path::Path;

use common::try_read_json as read_json;
use serde_json::Value;
use wa360::messages::build_body;

/// The suite must not silently shrink (issue 2 asks for 40 or more cases).
const MIN_CASES: usize = 40;

/// Compact serialisation, which keeps key order (`preserve_order`).
fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Run one case; `Err` describes the mismatch.
fn run_case(dir: &Path) -> Result<(), String> {
    let input = read_json(&dir.join("input.json"))?;
    let expected = dir.join("expected.json");
    let expected_error = dir.join("expected_error.json");
    match (expected.exists(), expected_error.exists()) {
        (true, false) => {
            let want = read_json(&expected)?;
            match build_body(&input) {
                // Values must match; in Rust the key order must match too
                // (the body is built with serde_json's preserve_order).
                Ok(got) if got == want && compact(&got) == compact(&want) => Ok(()),
                Ok(got) if got == want => Err(format!(
                    "same values, different key order\n  want: {want}\n  got:  {got}"
                )),
                Ok(got) => Err(format!("body differs\n  want: {want}\n  got:  {got}")),
                Err(e) => Err(format!("expected a body, got error: {e}")),
            }
        }
        (false, true) => {
            let want = read_json(&expected_error)?;
            let code = want["code"]
                .as_str()
                .ok_or("expected_error.json lacks \"code\"")?;
            let field = want.get("field").and_then(Value::as_str);
            match build_body(&input) {
                Ok(body) => Err(format!("expected error {code}, got body {body}")),
                Err(e) if e.code().as_str() != code => {
                    Err(format!("expected code {code}, got {} ({e})", e.code()))
                }
                Err(e) if field.is_some() && e.field() != field => Err(format!(
                    "expected field {:?}, got {:?} ({e})",
                    field.unwrap_or_default(),
                    e.field().unwrap_or_default()
                )),
                Err(_) => Ok(()),
            }
        }
        _ => Err("needs exactly one of expected.json and expected_error.json".into()),
    }
}

#[test]
fn message_build_conformance() {
    let dirs = common::case_dirs("message_build");
    let mut failures = Vec::new();
    for dir in &dirs {
        if let Err(why) = run_case(dir) {
            failures.push(format!("{}: {why}", common::case_name(dir)));
        }
    }
    common::assert_no_failures("message_build", &failures, dirs.len());
    assert!(
        dirs.len() >= MIN_CASES,
        "only {} cases in {} (need at least {MIN_CASES})",
        dirs.len(),
        common::suite_dir("message_build").display()
    );
    println!("message_build: {} cases passed", dirs.len());
}
