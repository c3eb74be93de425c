//! `wa360 templates|profile|block|doctor` against a sandbox: the built binary, its
//! lines and `--json` output, and bad input refused with exit 2 before any request.

use std::process::Output;

use serde_json::json;
use wa360_sandbox::{BlockingSandbox, Sandbox};

mod common;
use common::{against, control, json_out, stderr as err, stdout as out, wa360};

/// `wa360 <args>` against `sb`.
fn run(sb: &BlockingSandbox, args: &[&str]) -> Output {
    common::run(against(sb).args(args))
}

fn requests(sb: &BlockingSandbox, method: &str, prefix: &str) -> usize {
    sb.control()
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

#[test]
fn doctor_prints_a_pass_line_for_each_check() {
    let sb = Sandbox::start_blocking().unwrap();
    // No webhook yet: that check fails with a hint, exit 1.
    let o = run(&sb, &["doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("PASS  key"), "{}", out(&o));
    assert!(out(&o).contains("FAIL  webhook settings"), "{}", out(&o));
    assert!(out(&o).contains("hint: register one"), "{}", out(&o));

    let line = "webhook set https://hooks.example.com/wa --basic-auth u:p";
    let o = wa360(&sb, line);
    assert!(o.status.success(), "{}", err(&o));
    let o = run(&sb, &["doctor"]);
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    for name in [
        "key",
        "number health",
        "webhook settings",
        "webhook URL rules",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("PASS") && l.contains(name)),
            "no PASS line for {name}: {lines:?}"
        );
    }
    assert!(!lines.iter().any(|l| l.starts_with("FAIL")));
    let j = json_out(&run(&sb, &["doctor", "--json"]));
    assert_eq!(j["ok"], true);
    assert_eq!(j["checks"].as_array().unwrap().len(), 4);

    // A blocked number and a wrong key fail with hints; the key is never printed.
    control(
        &sb,
        "/_sandbox/health",
        json!({"health_status": {"can_send_message": "BLOCKED", "entities": []}}),
    );
    let o = run(&sb, &["doctor"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("FAIL  number health"), "{}", out(&o));
    let o = against(&sb)
        .env("D360_API_KEY", "wrong-key-XYZ")
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("FAIL  key"), "{}", out(&o));
    assert!(!out(&o).contains("wrong-key-XYZ") && !err(&o).contains("wrong-key-XYZ"));
}

#[test]
fn templates_create_list_get_delete() {
    let sb = Sandbox::start_blocking().unwrap();
    let dir = std::env::temp_dir().join(format!("wa360-cli-tpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let draft = |name: &str, lang: &str| {
        let p = dir.join(format!("{name}-{lang}.json"));
        std::fs::write(
            &p,
            json!({"name": name, "category": "UTILITY", "language": lang, "components": [
                {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Maya"]]}}]})
            .to_string(),
        )
        .unwrap();
        p.to_string_lossy().to_string()
    };
    let order_update = draft("order_update", "en_US");
    let created = json_out(&run(&sb, &["templates", "create", &order_update, "--json"]));
    assert_eq!(created["status"], "APPROVED");
    let id = created["id"].as_str().unwrap().to_string();
    let o = run(&sb, &["templates", "create", &draft("order_update", "de")]);
    assert!(
        out(&o).starts_with("created order_update\tde\tAPPROVED"),
        "{}",
        out(&o)
    );
    // The server's reason (`error_data.details`) is on the error line: Meta's message
    // alone ("Invalid parameter") does not say that the template exists.
    let o = run(&sb, &["templates", "create", &draft("order_update", "de")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already exists in de"), "{}", err(&o));

    let o = run(&sb, &["templates", "list"]);
    assert_eq!(out(&o).lines().count(), 2, "{}", out(&o));
    let all = json_out(&wa360(
        &sb,
        "templates list --source graph --page-size 1 --json",
    ));
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(requests(&sb, "GET", "/message_templates"), 2);
    let one = json_out(&run(&sb, &["templates", "get", &id, "--json"]));
    assert_eq!(one[0]["language"], "en_US");
    let de = json_out(&wa360(
        &sb,
        "templates get order_update --language de --json",
    ));
    assert_eq!(de.as_array().unwrap().len(), 1);
    // A name of digits only is a valid name: `get` looks it up by name when no template
    // has that id.
    run(&sb, &["templates", "create", &draft("2024", "en")]);
    let digits = json_out(&run(&sb, &["templates", "get", "2024", "--json"]));
    assert_eq!(digits[0]["name"], "2024", "{digits}");
    run(&sb, &["templates", "delete", "2024"]);

    let o = run(&sb, &["templates", "delete", "order_update"]);
    assert!(out(&o).contains("every language"), "{}", out(&o));
    assert_eq!(out(&run(&sb, &["templates", "list"])).lines().count(), 0);

    // Bad input: exit 2, nothing sent.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"name":"Bad","category":"UTILITY","language":"en","components":[{"type":"BODY","text":"x"}]}"#).unwrap();
    let before = requests(&sb, "POST", "/v1/configs/templates");
    let o = run(&sb, &["templates", "create", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("name"), "{}", err(&o));
    assert_eq!(requests(&sb, "POST", "/v1/configs/templates"), before);
    // A draft file that is not UTF-8 (or not there): exit 2 naming the file, nothing sent.
    let latin1 = dir.join("latin1.json");
    std::fs::write(&latin1, b"{\"name\":\"caf\xe9\"}").unwrap();
    let missing = dir.join("missing.json");
    for (file, says) in [(&latin1, "valid UTF-8"), (&missing, "cannot read")] {
        let o = run(&sb, &["templates", "create", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", err(&o));
        assert!(err(&o).contains(says), "{}", err(&o));
        assert!(err(&o).contains(file.to_str().unwrap()), "{}", err(&o));
    }
    assert_eq!(requests(&sb, "POST", "/v1/configs/templates"), before);
    assert_eq!(
        run(&sb, &["templates", "list", "--source", "rest"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&sb, &["templates", "delete", "Bad Name"]).status.code(),
        Some(2)
    );
    let o = run(
        &sb,
        &["templates", "create", &draft("x", "en"), "--dry-run"],
    );
    assert_eq!(json_out(&o)["name"], "x");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn profile_and_block_commands() {
    let sb = Sandbox::start_blocking().unwrap();
    let line =
        "profile set --about 'Open 9-17' --website https://shop.example.com --vertical RETAIL";
    let o = wa360(&sb, line);
    assert!(o.status.success(), "{}", err(&o));
    let p = json_out(&run(&sb, &["profile", "get", "--json"]));
    assert_eq!(p["about"], "Open 9-17");
    assert_eq!(p["websites"], json!(["https://shop.example.com"]));
    assert!(out(&run(&sb, &["profile", "get"])).contains("RETAIL"));
    let before = requests(&sb, "POST", "/whatsapp_business_profile");
    for line in [
        "profile set --email nope",
        "profile set --website www.example.com",
        "profile set",
    ] {
        assert_eq!(wa360(&sb, line).status.code(), Some(2), "{line}");
    }
    // A picture over the image limit (5 MB) is refused before the other fields are
    // written: they were, and then the command exited 2 ("bad input, nothing sent").
    let big = std::env::temp_dir().join(format!("wa360-big-{}.png", std::process::id()));
    std::fs::write(&big, vec![0x89u8; 6 * 1024 * 1024]).unwrap();
    let o = run(
        &sb,
        &[
            "profile",
            "set",
            "--about",
            "Changed",
            "--picture",
            big.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&big);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("5 MB"), "{}", err(&o));
    assert_eq!(requests(&sb, "POST", "/whatsapp_business_profile"), before);
    assert_eq!(
        json_out(&run(&sb, &["profile", "get", "--json"]))["about"],
        "Open 9-17"
    );

    control(
        &sb,
        "/_sandbox/seen",
        json!({"users": ["15550001111", "15550002222"]}),
    );
    let r = json_out(&run(
        &sb,
        &["block", "add", "+15550001111", "15550002222", "--json"],
    ));
    assert_eq!(r["users"].as_array().unwrap().len(), 2);
    let o = run(&sb, &["block", "list"]);
    assert_eq!(
        out(&o).lines().collect::<Vec<_>>(),
        ["15550001111", "15550002222"]
    );
    assert!(out(&run(&sb, &["block", "remove", "15550001111"])).contains("unblocked 15550001111"));
    let l = json_out(&run(&sb, &["block", "list", "--json"]));
    assert_eq!(l.as_array().unwrap().len(), 1);
    // Not allowed by the server (no message in 24 h): exit 1 with Meta's code.
    let o = run(&sb, &["block", "add", "15550009999"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("139100"), "{}", err(&o));
    assert_eq!(run(&sb, &["block", "add", "abc"]).status.code(), Some(2));
}
