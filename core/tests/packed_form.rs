//! The packed positional form (`wa360::webhook::packed`, what the Node
//! package builds its events from) holds exactly the canonical events: for
//! every case of `tests/conformance/webhook_parse/`, expanding it by the
//! layout documented in the module gives `expected.json`, and a body that
//! must be rejected is rejected with the same code.

mod common;

use std::fs;

use common::ParseExpect;
use serde_json::{Map, Value, json};
use wa360::webhook::packed::parse_to_packed_json;

/// Expands the packed form into canonical events, following the layout.
fn expand(packed: &Value) -> Vec<Value> {
    let p = packed.as_array().expect("packed form is a list");
    let origins = p[0].as_array().expect("origins");
    let contacts = p[1].as_array().expect("contacts");
    assert_eq!(origins.len() % 4, 0, "4 values per origin");
    assert_eq!(contacts.len() % 3, 0, "3 values per contact");
    let mut out = Vec::new();
    for e in &p[2..] {
        let e = e.as_array().expect("event is a list");
        let o = e[1].as_u64().expect("origin index") as usize;
        assert_eq!(o % 4, 0);
        let mut m = Map::new();
        let kind = ["message", "status", "error", "field_update", "unknown"]
            [e[0].as_u64().expect("kind code") as usize];
        m.insert("kind".into(), json!(kind));
        for (i, k) in [
            "field",
            "waba_id",
            "phone_number_id",
            "display_phone_number",
        ]
        .iter()
        .enumerate()
        {
            m.insert((*k).into(), origins[o + i].clone());
        }
        match kind {
            "message" => {
                for (i, k) in ["id", "from", "from_user_id", "timestamp", "type"]
                    .iter()
                    .enumerate()
                {
                    m.insert((*k).into(), e[2 + i].clone());
                }
                let c = e[7].as_i64().expect("contact index");
                let contact = if c < 0 {
                    Value::Null
                } else {
                    let c = c as usize;
                    assert_eq!(c % 3, 0);
                    json!({"wa_id": contacts[c], "user_id": contacts[c + 1], "name": contacts[c + 2]})
                };
                m.insert("contact".into(), contact);
                m.insert("context".into(), e[8].clone());
                m.insert("errors".into(), e[9].clone());
                match &e[10] {
                    Value::Number(n) if n.as_u64() == Some(0) => assert_eq!(e.len(), 11),
                    Value::Number(n) if n.as_u64() == Some(1) => {
                        let t = e[6].as_str().expect("type").to_owned();
                        m.insert(t, e[11].clone());
                    }
                    Value::String(k) => {
                        m.insert(k.clone(), e[11].clone());
                    }
                    other => panic!("bad payload key {other}"),
                }
            }
            "status" => {
                for (i, k) in [
                    "id",
                    "status",
                    "timestamp",
                    "recipient_id",
                    "recipient_user_id",
                    "conversation",
                    "pricing",
                    "errors",
                    "biz_opaque_callback_data",
                ]
                .iter()
                .enumerate()
                {
                    m.insert((*k).into(), e[2 + i].clone());
                }
            }
            "error" => {
                m.insert("errors".into(), e[2].clone());
            }
            "field_update" => {
                m.insert("value".into(), e[2].clone());
            }
            _ => {
                m.insert("raw".into(), e[2].clone());
            }
        }
        out.push(Value::Object(m));
    }
    out
}

#[test]
fn packed_form_expands_to_the_canonical_events_of_every_case() {
    let cases = common::webhook_parse_cases();
    assert!(cases.len() > 50, "the conformance suite is there");
    let mut failures = Vec::new();
    for case in &cases {
        let name = &case.name;
        let (want, packed) = match (&case.expect, parse_to_packed_json(&case.input)) {
            (ParseExpect::Error(want), Err(e)) if e.code().as_str() == want => continue,
            (ParseExpect::Error(_), other) => {
                failures.push(format!("{name}: expected an error, got {other:?}"));
                continue;
            }
            (ParseExpect::Events(_), Err(e)) => {
                failures.push(format!("{name}: unexpected error {e}"));
                continue;
            }
            (ParseExpect::Events(want), Ok(packed)) => (want, packed),
        };
        let got = Value::Array(expand(
            &serde_json::from_str(&packed).expect("packed is JSON"),
        ));
        if &got != want {
            failures.push(format!("{name}:\n got  {got}\n want {want}"));
        }
    }
    common::assert_no_failures("packed form", &failures, cases.len());
}

#[test]
fn one_origin_and_one_contact_per_sender_however_many_events() {
    let input = fs::read(common::suite_dir("webhook_parse").join("batch_20_events/input.json"))
        .expect("batch_20_events");
    let packed: Value = serde_json::from_str(&parse_to_packed_json(&input).unwrap()).unwrap();
    let p = packed.as_array().unwrap();
    assert_eq!(p.len() - 2, 20, "20 events");
    // The batch's 11 messages come from one sender, listed in the `contacts`
    // of its two `messages` changes: two contacts written, not eleven.
    let messages = p[2..].iter().filter(|e| e[0] == 0).count();
    assert_eq!(messages, 11);
    assert_eq!(p[1].as_array().unwrap().len(), 2 * 3, "{}", p[1]);
}
