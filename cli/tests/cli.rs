//! The built `wa360` binary: parse against the conformance suite, send and
//! webhook commands against a sandbox, help texts, and bad input.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wa360_sandbox::Sandbox;

mod common;
use common::{
    against, bin, run, run_with_stdin, spawn_with_stdin, stderr, stdout, wa360, wa360_ok, words,
};

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/webhook_parse")
}

#[test]
fn parse_prints_the_canonical_events_of_every_conformance_case() {
    let mut checked = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(suite())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let input = dir.join("input.json");
        let out = run(bin().arg("parse").arg(&input));
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if dir.join("expected.json").exists() {
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            let want: Value =
                serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
            let got: Vec<Value> = stdout(&out)
                .lines()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{name}: not a JSON line {l:?}: {e}"))
                })
                .collect();
            assert_eq!(Value::Array(got), want, "{name}");
        } else {
            let want: Value =
                serde_json::from_slice(&std::fs::read(dir.join("expected_error.json")).unwrap())
                    .unwrap();
            assert_eq!(out.status.code(), Some(2), "{name}");
            let code = want["code"].as_str().unwrap();
            assert!(
                stderr(&out).contains(code),
                "{name}: stderr {:?} should name {code}",
                stderr(&out)
            );
            assert!(stdout(&out).is_empty());
        }
        checked += 1;
    }
    assert!(
        checked >= 50,
        "the conformance suite should be there ({checked} cases)"
    );
}

#[test]
fn parse_reads_stdin() {
    let body = std::fs::read(suite().join("payload_inbound_text/input.json")).unwrap();
    let out = run_with_stdin(bin().arg("parse"), &body);
    assert!(out.status.success());
    let ev: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(ev["kind"], "message");
    assert_eq!(ev["type"], "text");
}

#[test]
fn a_closed_stdout_ends_the_command_quietly_instead_of_panicking() {
    // `wa360 parse | head -0`: the reader is gone before anything is printed.
    let body = std::fs::read(suite().join("payload_inbound_text/input.json")).unwrap();
    let mut child = bin()
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn parse_from_a_terminal_says_it_is_waiting_for_the_body() {
    // A pseudo-terminal from util-linux `script` (part of every Debian base system);
    // its own stdin is empty, so the terminal sends end-of-file at once.
    let wa360 = env!("CARGO_BIN_EXE_wa360");
    let out = Command::new("script")
        .args(["-qec", &format!("{wa360} parse"), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux) for a pseudo-terminal");
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(all.contains("reading from the terminal"), "{all}");
    // Piped input gets no such line.
    let body = std::fs::read(suite().join("payload_inbound_text/input.json")).unwrap();
    let out = run_with_stdin(bin().arg("parse"), &body);
    assert!(!stderr(&out).contains("terminal"), "{}", stderr(&out));
}

#[test]
fn parse_rejects_garbage_and_missing_files_clearly() {
    let out = run_with_stdin(bin().arg("parse"), b"<html>not a webhook</html>");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("webhook_payload"), "{}", stderr(&out));
    let out = run(bin().args(["parse", "/nonexistent/body.json"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read /nonexistent/body.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_on_every_subcommand() {
    let cmds: &[&[&str]] = &[
        &[],
        &["sandbox"],
        &["send"],
        &["send", "text"],
        &["send", "image"],
        &["send", "video"],
        &["send", "audio"],
        &["send", "document"],
        &["send", "sticker"],
        &["send", "location"],
        &["send", "reaction"],
        &["send", "template"],
        &["send", "interactive-buttons"],
        &["send", "interactive-list"],
        &["send", "cta-url"],
        &["send", "mark-read"],
        &["send", "typing"],
        &["send", "json"],
        &["webhook"],
        &["webhook", "set"],
        &["webhook", "get"],
        &["parse"],
        &["simulate-inbound"],
    ];
    for args in cmds {
        let out = run(bin().args(*args).arg("--help"));
        assert!(out.status.success(), "{args:?}");
        let text = stdout(&out);
        assert!(text.contains("Usage: wa360"), "{args:?}: {text}");
    }
    let top = stdout(&run(bin().arg("--help")));
    for sub in [
        "sandbox",
        "send",
        "webhook",
        "parse",
        "D360_API_KEY",
        "WA360_BASE_URL",
    ] {
        assert!(top.contains(sub), "top-level help mentions {sub}");
    }
}

#[test]
fn send_text_and_json_against_the_sandbox() {
    let sb = Sandbox::start_blocking().unwrap();
    let line = "send text --to '+1 555 555 0123' --callback-data cli-1 'hello from the CLI'";
    let out = wa360_ok(&sb, line);
    let resp: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        resp["messages"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );
    let reqs = sb.control().requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].body,
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"15555550123",
               "type":"text","biz_opaque_callback_data":"cli-1","text":{"body":"hello from the CLI"}})
    );
    assert!(reqs[0].authorized);

    // The neutral format from stdin.
    let spec = json!({"to":"15555550123","type":"interactive","interactive":{"type":"button","body":"Pick",
        "buttons":[{"id":"a","title":"A"},{"id":"b","title":"B"}]}});
    let child = spawn_with_stdin(
        against(&sb).args(["send", "json", "-"]),
        spec.to_string().as_bytes(),
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sb.control().requests()[1].body["interactive"]["action"]["buttons"][1]["reply"]["id"],
        "b"
    );

    // Other families through their subcommands; one command line a case.
    for line in [
        "send image --to 15555550123 --id 12345 --caption pic",
        "send location --to 15555550123 --lat -33.9 --lng 18.4 --name 'Cape Town'",
        "send reaction --to 15555550123 --message-id wamid.X --emoji 👍",
        "send template --to 15555550123 --name order_update --language en_US --param 4471",
        "send interactive-list --to 15555550123 --body Menu --button Open --row 'r1=Row one=first'",
        "send cta-url --to 15555550123 --body Visit --display-text Open --url https://example.com",
        "send mark-read wamid.X",
        "send typing wamid.X",
        // A BSUID given as --to is sent as `recipient` (the core's one recipient rule).
        "send interactive-buttons --to US.5093817264530918273 --body Pick --button a=A --header Order",
    ] {
        wa360_ok(&sb, line);
    }
    let reqs = sb.control().requests();
    assert_eq!(reqs.len(), 11);
    assert!(reqs.iter().all(|r| r.status == Some(200)), "{reqs:?}");
    assert_eq!(reqs[3].body["location"]["latitude"], -33.9);
    assert_eq!(reqs[9].body["typing_indicator"]["type"], "text");
    assert_eq!(reqs[10].body["recipient"], "US.5093817264530918273");
    assert!(reqs[10].body.get("to").is_none());
    assert_eq!(
        reqs[10].body["interactive"]["header"],
        json!({"type": "text", "text": "Order"})
    );
    // --base-url and --timeout also after the message subcommand (they were refused there).
    let before = sb.control().requests().len();
    let out = run(bin()
        .env("D360_API_KEY", sb.api_key())
        .args(words(
            "send text --to 15555550123 hi --timeout 10 --base-url",
        ))
        .arg(sb.url()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sb.control().requests().len(), before + 1);
}

#[test]
fn bad_input_exits_non_zero_before_any_request() {
    let sb = Sandbox::start_blocking().unwrap();
    // (command line, words the error must contain); one line a case.
    #[rustfmt::skip]
    let cases = [
        ("send text --to 15555550123 ''", "text.body"),
        ("send text --to 12 hi", "`to`"),
        ("send interactive-buttons --to 15555550123 --body b --button no-equals", "id=title"),
        ("send interactive-buttons --to 15555550123 --body b --button 'a=A title that is far too long'", "title"),
        ("send image --to 15555550123 --id 1 --link https://x.example/a.jpg", "cannot be used with"),
        ("send json /nonexistent.json", "cannot read"),
        ("webhook set https://my_hook.example.com/x", "_"),
        ("webhook set http://127.0.0.1:9/x", "--allow-local-http"),
        ("webhook set https://hooks.example.com/x --basic-auth nocolon", "user:password"),
        // Credentials no wa360 Verifier would accept: registered, every delivery would fail.
        ("webhook set https://hooks.example.com/x --basic-auth :pw12345", "basic_auth.user"),
        ("webhook set https://hooks.example.com/x --basic-auth alice:", "basic_auth.password"),
        // A second value for a header replaced the first (or the Basic credentials) silently.
        ("webhook set https://hooks.example.com/x --basic-auth alice:pw123456 --header Authorization=Bearer-x", "given twice"),
        ("webhook set https://hooks.example.com/x --header X-Key=a --header x-key=b", "given twice"),
        // --allow-local-http takes a plain local URL only.
        ("webhook set --allow-local-http http://localhost:80@evil.example/x", "without credentials"),
        ("webhook set --allow-local-http http://127.0.0.1:9/x#frag", "without credentials, fragment"),
        ("webhook set --allow-local-http 'http://localhost:9/x y'", "spaces"),
    ];
    for (line, want) in cases {
        let out = wa360(&sb, line);
        assert_eq!(out.status.code(), Some(2), "{line}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(want),
            "{line}: stderr {:?} should contain {want:?}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains(sb.api_key()),
            "the key is never printed"
        );
    }
    assert!(
        sb.control().requests().is_empty(),
        "no request for bad input"
    );
    // No key at all.
    let hi = words("send text --to 15555550123 hi");
    let out = run(bin().env("WA360_BASE_URL", sb.url()).args(&hi));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("D360_API_KEY"));
    // A base URL that is not a URL is bad input too.
    let out = run(bin()
        .env("WA360_BASE_URL", "not a url")
        .env("D360_API_KEY", "k")
        .args(&hi));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("base URL"), "{}", stderr(&out));
    // A wrong key is an API error (exit 1) that names the class.
    let out = run(against(&sb).env("D360_API_KEY", "wrong").args(&hi));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("authentication"), "{}", stderr(&out));
}

#[test]
fn webhook_set_and_get_against_the_sandbox() {
    let sb = Sandbox::start_blocking().unwrap();
    let line = "webhook set https://hooks.example.com/wa --basic-auth user:pw --header X-Tenant=42";
    let out = wa360_ok(&sb, line);
    assert!(!out.contains("pw"), "credentials are not printed");
    let stored = sb.control().phone_webhook().unwrap();
    assert_eq!(stored.url, "https://hooks.example.com/wa");
    assert_eq!(stored.headers["X-Tenant"], "42");
    assert!(stored.headers["Authorization"].starts_with("Basic "));
    let out = wa360_ok(&sb, "webhook get");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["url"],
        "https://hooks.example.com/wa"
    );
    // WABA level: nothing set yet → clear error; then set a local receiver.
    // The credentials from the environment instead of the command line (`ps` shows
    // arguments, not the environment); `--help` never shows the variable's value.
    let out = run(against(&sb)
        .env("WA360_WEBHOOK_BASIC_AUTH", "env-user:pw-SENTINEL")
        .args(words("webhook set https://hooks.example.com/env")));
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = sb.control().phone_webhook().unwrap();
    assert_eq!(stored.url, "https://hooks.example.com/env");
    use base64::Engine as _;
    let want = base64::engine::general_purpose::STANDARD.encode("env-user:pw-SENTINEL");
    assert_eq!(stored.headers["Authorization"], format!("Basic {want}"));
    // Another header's secret from the environment too; a variable that is not set is
    // bad input naming it, and nothing is sent.
    let out = run(against(&sb).env("TENANT_TOKEN", "tok-SENTINEL").args(words(
        "webhook set https://hooks.example.com/env2 --header-env X-Token=TENANT_TOKEN",
    )));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("SENTINEL"), "{}", stdout(&out));
    assert_eq!(
        sb.control().phone_webhook().unwrap().headers["X-Token"],
        "tok-SENTINEL"
    );
    let before = sb.control().requests().len();
    // A value given where the variable's name goes is never echoed.
    for arg in ["X-Token=Bearer-s3cr3t-VALUE", "s3cr3t-only"] {
        let out = run(against(&sb)
            .env_remove("Bearer-s3cr3t-VALUE")
            .args(words(&format!(
                "webhook set https://hooks.example.com/env3 --header-env {arg}"
            ))));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("--header-env"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));
    }
    assert_eq!(sb.control().requests().len(), before);
    let out = run(bin()
        .env("WA360_WEBHOOK_BASIC_AUTH", "env-user:pw-SENTINEL")
        .args(["webhook", "set", "--help"]));
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("WA360_WEBHOOK_BASIC_AUTH") && !stdout(&out).contains("SENTINEL"),
        "{}",
        stdout(&out)
    );
    let out = wa360(&sb, "webhook get --waba");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no WABA-level webhook"));
    wa360_ok(
        &sb,
        "webhook set --waba --allow-local-http http://127.0.0.1:9/hook",
    );
    assert_eq!(
        sb.control().waba_webhook().unwrap().url,
        "http://127.0.0.1:9/hook"
    );
}

/// Secrets given to the CLI never print: the inbox URL's password in `--help` (its
/// variable's value), a malformed `--header` value in the error.
#[test]
fn secrets_given_to_the_cli_never_print() {
    let out = run(bin()
        .env("WA360_INBOX", "redis://:pw-SENTINEL@127.0.0.1:1/0")
        .args(["inbox", "stats", "--help"]));
    assert!(out.status.success());
    assert!(!stdout(&out).contains("SENTINEL"), "{}", stdout(&out));
    let out = run(bin()
        .env("D360_API_KEY", "k")
        .args(["webhook", "set", "https://example.com/hook"])
        .args(["--header", "X-Token: sekrit-SENTINEL"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("--header") && !all.contains("SENTINEL"),
        "{all}"
    );
}

#[test]
fn sandbox_command_serves_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("wa360-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env_file = dir.join("sandbox.env");
    // A file of the user's beside it, at the name the temporary file used to take.
    std::fs::write(dir.join("sandbox.tmp"), "mine").unwrap();
    let child = bin()
        .args(["sandbox", "--time-scale", "0.01", "--env-file"])
        .arg(&env_file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(t) = std::fs::read_to_string(&env_file) {
            text = t;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} in {text:?}"))
            .to_string()
    };
    let (url, key) = (get("WA360_BASE_URL"), get("D360_API_KEY"));
    assert_eq!(
        std::fs::read_to_string(dir.join("sandbox.tmp"))
            .ok()
            .as_deref(),
        Some("mine"),
        "writing the env file leaves other files alone"
    );

    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the env file holds the key: owner only"
        );
    }
    let hi = words("send text --to 15555550123 hi");
    let out = run(bin()
        .env("WA360_BASE_URL", &url)
        .env("D360_API_KEY", &key)
        .args(hi));
    assert!(out.status.success(), "{}", stderr(&out));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "SIGTERM is a clean stop");
    let printed = stdout(&out);
    assert!(
        printed.contains(&url) && printed.contains(&key),
        "URL and key are printed: {printed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verbose_flags_log_requests_and_retries_on_stderr_without_the_key() {
    let sb = Sandbox::start_blocking().unwrap();
    let send = |flags: &[&str]| {
        let out = run(against(&sb)
            .args(flags)
            .args(words("send text --to 15555550123 hi")));
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    // Quiet by default: the answer on stdout, nothing on stderr.
    assert_eq!(send(&[]), "");
    // -v: exactly one line for the request, with its wamid.
    let info = send(&["-v"]);
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines.len(), 1, "{info}");
    assert!(
        lines[0].contains("INFO wa360::transport: request ok"),
        "{info}"
    );
    assert!(
        lines[0].contains("method=POST path=/messages status=200"),
        "{info}"
    );
    assert!(lines[0].contains("wamid=\"wamid."), "{info}");
    // -vv: the retry decision after a rate limit, with its reason.
    let rate_limit = wa360_sandbox::Fault::RateLimit {
        retry_after: Some(wa360_sandbox::RetryAfter::Seconds(0)),
    };
    sb.control().add_fault(wa360_sandbox::FaultRule::new(
        "POST",
        "/messages",
        rate_limit,
    ));
    let debug = send(&["-vv"]);
    assert!(debug.contains("wa360::transport: retrying"), "{debug}");
    // At DEBUG the request's events nest in its span.
    assert!(debug.contains("DEBUG wa360.request{client="), "{debug}");
    assert!(debug.contains("reason=\"rate_limited\""), "{debug}");
    assert!(debug.contains("attempts=2"), "{debug}");
    for text in [&info, &debug] {
        assert!(!text.contains(sb.api_key()), "{text}");
    }
}

/// `wa360 inbox`: lists a dead letter stored by a receiver, replays it so a
/// consumer gets it again, drops another; bad URLs and corrupt files are
/// clear errors.
#[test]
fn inbox_commands_list_replay_and_drop_dead_letters() {
    use wa360::inbox;
    let dir = std::env::temp_dir().join(format!("wa360-cli-inbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inbox.db");
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?max_attempts=1", path.display());
    let store = inbox::open(&url).unwrap();
    for w in ["wamid.X1", "wamid.X2"] {
        let body = wa360::webhook::testing::inbound_text("15555550123", "x", w).to_string();
        let events = wa360::webhook::parse(body.as_bytes()).unwrap();
        store.accept(body.as_bytes(), &events).unwrap();
        let d = store.claim("c", 1).unwrap().remove(0);
        assert_eq!(
            store.nack("c", &d.id, "handler said no").unwrap(),
            inbox::Nacked::Dead
        );
    }
    let inbox_cmd = |args: &[&str]| run(bin().arg("inbox").args(args).env("WA360_INBOX", &url));
    let o = inbox_cmd(&["dead"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dead: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["event"]["id"], "wamid.X1");
    assert_eq!(dead[0]["last_error"], "handler said no");
    let o = inbox_cmd(&["replay", dead[0]["id"].as_str().unwrap()]);
    assert_eq!(stdout(&o).trim(), r#"{"replayed":1}"#, "{}", stderr(&o));
    let again = store.claim("c", 5).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event.as_message().unwrap().id(), Some("wamid.X1"));
    let o = inbox_cmd(&["drop"]);
    assert_eq!(o.status.code(), Some(2), "needs an id or --all");
    let o = inbox_cmd(&["drop", "--all"]);
    assert_eq!(stdout(&o).trim(), r#"{"dropped":1}"#);
    let o = inbox_cmd(&["stats"]);
    let s: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (s["dead"].as_u64(), s["in_flight"].as_u64()),
        (Some(0), Some(1))
    );

    let o = run(bin().args(["inbox", "--url", "postgres://x", "stats"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown inbox URL scheme"),
        "{}",
        stderr(&o)
    );
    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"not sqlite at all, not at all".repeat(40)).unwrap();
    let junk_url = format!("sqlite://{}", junk.display());
    let o = run(bin().args(["inbox", "--url", &junk_url, "stats"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a database"), "{}", stderr(&o));
    // A mistyped path is an error, not a new empty inbox with zeros printed.
    let typo = dir.join("typo.db");
    let o = run(bin().args([
        "inbox",
        "--url",
        &format!("sqlite://{}", typo.display()),
        "stats",
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("no inbox file"), "{}", stderr(&o));
    assert!(!typo.exists());
}

/// An input that never ends (`/dev/zero`, a wrong file) is refused once it passes 16 MiB,
/// with exit 2, instead of being read until memory runs out.
#[test]
fn an_endless_input_file_is_refused_past_16_mib() {
    for args in [
        vec!["parse", "/dev/zero"],
        vec!["send", "json", "/dev/zero"],
    ] {
        let mut c = bin();
        c.args(&args)
            .env("D360_API_KEY", "k")
            .env("WA360_BASE_URL", "http://127.0.0.1:9");
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > std::time::Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("{args:?}: still reading after 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("16 MiB"), "{args:?}: {err}");
    }
}

/// An API that echoes the refused body in its error (as 360dialog may): the header secrets
/// of `webhook set` stay out of the CLI's error and its `-v` log, as they do for the
/// library's setters (the CLI posted the settings on its own and skipped that).
#[test]
fn webhook_set_never_prints_its_header_secrets_in_an_echoed_error() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = serde_json::json!({"error": {"code": 100, "message":
                format!("Invalid webhook config: {}", String::from_utf8_lossy(&body))}})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    let out = run(bin()
        .env("D360_API_KEY", "k-long-enough-key-000")
        .env("WA360_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("WA360_WEBHOOK_BASIC_AUTH", "hookuser:Pass-SENTINEL")
        .args(words(
            "-v webhook set https://hooks.example.com/wa --header X-Token=tok-SENTINEL-123",
        )));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode("hookuser:Pass-SENTINEL");
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(shown.contains("Invalid webhook config"), "{shown}");
    assert!(
        !shown.contains("SENTINEL") && !shown.contains(&token),
        "{shown}"
    );
}
