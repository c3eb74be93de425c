//! Conformance suites of the management API, shared with Python and Node:
//! `template_build` (template draft → exact `POST /v1/configs/templates` body or
//! error), `profile_update` (profile change → exact `POST /whatsapp_business_profile`
//! body or error) and `template_list_parse` (either list answer → canonical page or
//! error). The trees are walked; all failures are reported together, by case name.

mod common;

use common::try_read_json as read_json;
use serde_json::Value;
use wa360::manage::{ProfileUpdate, TemplateDraft, TemplatePage};

fn run_suite(suite: &str, min_cases: usize, f: impl Fn(&Value) -> wa360::Result<Value>) {
    let dirs = common::case_dirs(suite);
    assert!(
        dirs.len() >= min_cases,
        "{suite}: only {} cases",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = common::case_name(dir);
        let result = (|| -> Result<(), String> {
            let input = read_json(&dir.join("input.json"))?;
            let got = f(&input);
            let expected = dir.join("expected.json");
            if expected.exists() {
                let want = read_json(&expected)?;
                match got {
                    Ok(v) if v == want => Ok(()),
                    Ok(v) => Err(format!("differs\n  want: {want}\n  got:  {v}")),
                    Err(e) => Err(format!("expected a result, got error: {e}")),
                }
            } else {
                let want = read_json(&dir.join("expected_error.json"))?;
                let code = want["code"]
                    .as_str()
                    .ok_or("expected_error.json lacks code")?;
                match got {
                    Ok(v) => Err(format!("expected error {code}, got {v}")),
                    Err(e) if e.code().as_str() != code => {
                        Err(format!("expected code {code}, got {} ({e})", e.code()))
                    }
                    Err(e) if want.get("field").is_some_and(|f| f.as_str() != e.field()) => {
                        Err(format!(
                            "expected field {}, got {:?} ({e})",
                            want["field"],
                            e.field()
                        ))
                    }
                    Err(_) => Ok(()),
                }
            }
        })();
        if let Err(why) = result {
            failures.push(format!("{suite}/{name}: {why}"));
        }
    }
    common::assert_no_failures(suite, &failures, dirs.len());
}

#[test]
fn template_build_conformance() {
    run_suite("template_build", 40, |v| {
        TemplateDraft::from_json(v)?.to_body()
    });
}

#[test]
fn profile_update_conformance() {
    run_suite("profile_update", 20, |v| {
        ProfileUpdate::from_json(v)?.to_body()
    });
}

#[test]
fn template_list_parse_conformance() {
    run_suite("template_list_parse", 8, |v| {
        Ok(TemplatePage::parse(v)?.to_json())
    });
}
