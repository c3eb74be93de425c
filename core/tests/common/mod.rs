//! Helpers shared by the test files of `core/tests/` (each includes this with
//! `mod common;`): the conformance tree under `tests/conformance/`, its case
//! directories and JSON files, the failure report of a suite, and the SQLite
//! lock that makes an inbox store fail; a redis-server of a test's own
//! ([`redis_server`]).

// Every test file is its own crate and uses only some of these.
#![allow(dead_code)]

pub mod redis_server;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/conformance/<suite>` of the repository.
pub fn suite_dir(suite: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance")
        .join(suite)
}

/// Every case directory of `suite`, sorted (adding a directory adds a case).
pub fn case_dirs(suite: &str) -> Vec<PathBuf> {
    let root = suite_dir(suite);
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// A case's name: its directory's name.
pub fn case_name(dir: &Path) -> String {
    dir.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The JSON file at `path`; `Err` names the file and what is wrong.
pub fn try_read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}

/// The JSON file at `path` (panics naming the file).
pub fn read_json(path: &Path) -> Value {
    try_read_json(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Fail with every failure of a suite at once.
pub fn assert_no_failures(suite: &str, failures: &[String], cases: usize) {
    assert!(
        failures.is_empty(),
        "{} of {cases} {suite} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Hold the write lock of the SQLite file from another connection, as
/// another process would: an inbox on that file fails until it drops.
pub fn hold_write_lock(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch("BEGIN EXCLUSIVE").unwrap();
    c
}

/// What a `webhook_parse` case expects.
pub enum ParseExpect {
    /// These canonical events (`expected.json`).
    Events(Value),
    /// A failure with this error code (`expected_error.json`).
    Error(String),
}

/// One case of `tests/conformance/webhook_parse/`.
pub struct ParseCase {
    pub name: String,
    /// The raw POST body (`input.json`).
    pub input: Vec<u8>,
    pub expect: ParseExpect,
}

/// Every case of `tests/conformance/webhook_parse/`, sorted.
pub fn webhook_parse_cases() -> Vec<ParseCase> {
    case_dirs("webhook_parse")
        .iter()
        .map(|dir| {
            let input = fs::read(dir.join("input.json"))
                .unwrap_or_else(|e| panic!("{}: input.json: {e}", dir.display()));
            let err_path = dir.join("expected_error.json");
            let expect = if err_path.exists() {
                let code = read_json(&err_path)["code"].as_str().expect("code").into();
                ParseExpect::Error(code)
            } else {
                ParseExpect::Events(read_json(&dir.join("expected.json")))
            };
            ParseCase {
                name: case_name(dir),
                input,
                expect,
            }
        })
        .collect()
}

/// Checks an error against a case's `expected_error.json` (`code`, and `field` and
/// `message_contains` where given): one failure line per difference, naming the case.
pub fn check_error(name: &str, e: &wa360::Error, want: &Value) -> Vec<String> {
    let msg = e.to_string();
    let mut failures = Vec::new();
    if Some(e.code().as_str()) != want["code"].as_str() {
        failures.push(format!("{name}: code {} ({msg})", e.code()));
    }
    if let Some(f) = want.get("field").and_then(Value::as_str)
        && e.field() != Some(f)
    {
        failures.push(format!("{name}: field {:?}, want {f} ({msg})", e.field()));
    }
    if let Some(frag) = want.get("message_contains").and_then(Value::as_str)
        && !msg.contains(frag)
    {
        failures.push(format!("{name}: message {msg:?} lacks {frag:?}"));
    }
    failures
}

/// Every case of `suite` as (name, directory, its `input.json`); the suite must have at
/// least `at_least` cases.
pub fn cases_with_input(suite: &str, at_least: usize) -> Vec<(String, PathBuf, Value)> {
    let dirs = case_dirs(suite);
    assert!(dirs.len() >= at_least, "{suite}: only {} cases", dirs.len());
    dirs.into_iter()
        .map(|dir| {
            let input = read_json(&dir.join("input.json"));
            (case_name(&dir), dir, input)
        })
        .collect()
}
