//! Helpers shared by the test files of `cli/tests/` (each includes this with
//! `mod common;`): the built binary pointed at a sandbox, its output, command
//! lines written as one shell-quoted string, and the sandbox's control routes.

// Every test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use wa360_sandbox::BlockingSandbox;

/// The built `wa360` binary with no key or base URL from the environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wa360"));
    c.env_remove("D360_API_KEY").env_remove("WA360_BASE_URL");
    c
}

/// The binary pointed at `sb` (its key and URL in the environment).
pub fn against(sb: &BlockingSandbox) -> Command {
    let mut c = bin();
    c.env("D360_API_KEY", sb.api_key())
        .env("WA360_BASE_URL", sb.url());
    c
}

/// The words of a command line written as in a shell (`'…'` keeps spaces).
pub fn words(line: &str) -> Vec<String> {
    shlex::split(line).unwrap_or_else(|| panic!("bad quoting in {line:?}"))
}

/// `wa360 <line>` against `sb`: its output.
pub fn wa360(sb: &BlockingSandbox, line: &str) -> Output {
    run(against(sb).args(words(line)))
}

/// `wa360 <line>` against `sb`, which must succeed: its stdout.
pub fn wa360_ok(sb: &BlockingSandbox, line: &str) -> String {
    let o = wa360(sb, line);
    assert!(o.status.success(), "wa360 {line}: {}", stderr(&o));
    stdout(&o)
}

pub fn run(c: &mut Command) -> Output {
    c.output().expect("run wa360")
}

/// Starts `c` with `input` written to its stdin (then closed), stdout and stderr piped.
pub fn spawn_with_stdin(c: &mut Command, input: &[u8]) -> Child {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wa360");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child
}

/// Runs `c` with `input` on its stdin: its output.
pub fn run_with_stdin(c: &mut Command, input: &[u8]) -> Output {
    spawn_with_stdin(c, input).wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The JSON a successful run printed.
pub fn json_out(o: &Output) -> Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    let text = stdout(o);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON: {e}: {text}"))
}

/// `POST path` with `body` to a `/_sandbox/...` control route of `sb` (must succeed).
pub fn control(sb: &BlockingSandbox, path: &str, body: Value) {
    let url = format!("{}{path}", sb.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let r = reqwest::Client::new().post(url).json(&body).send().await;
        r.unwrap().status()
    });
    assert!(status.is_success(), "{path}: {status}");
}
