//! The Rust side of `tests/conformance/api_surface`: every Rust item the
//! manifest names (`"rust": "wa360::…"`) is referenced below, so renaming or
//! removing one breaks this file's compilation at the line that names it; and
//! the test checks that the list below and the manifest name the same items,
//! printing the line to add or remove when they differ.
//!
//! (A rustdoc-JSON or source parser would avoid the list, at the price of a
//! nightly toolchain or a fragile parser; a compile-checked list is the
//! smallest thing that fails clearly.)

use std::collections::BTreeSet;

use serde_json::Value;

const MANIFEST_PATH: &str = "tests/conformance/api_surface/manifest.json";
const MANIFEST: &str = include_str!("../../tests/conformance/api_surface/manifest.json");

/// `"path" => expression referencing that item`. Plain functions, methods
/// and constants are referenced by path; a generic method (`impl Outbound`
/// argument) through a closure calling it; a type through `PhantomData`.
macro_rules! rust_surface {
    ($($name:literal => $item:expr),* $(,)?) => {
        const LISTED: &[(&str, &str)] = &[$(($name, stringify!($item))),*];
        #[allow(dead_code, clippy::let_underscore_future)]
        fn references() {
            $(let _ = $item;)*
        }
    };
}

rust_surface! {
    "wa360::Error::fields" => wa360::Error::fields,
    "wa360::inbox::Consumer" => std::marker::PhantomData::<wa360::inbox::Consumer>,
    "wa360::inbox::Consumer::next" => wa360::inbox::Consumer::next,
    "wa360::inbox::Consumer::release_held" => wa360::inbox::Consumer::release_held,
    "wa360::client::Client" => std::marker::PhantomData::<wa360::client::Client>,
    "wa360::client::Client::send" => |c: &wa360::client::Client, m: &wa360::messages::Message| { let _ = c.send(m); },
    "wa360::client::Client::send_body" => wa360::client::Client::send_body,
    "wa360::client::Client::send_within" => |c: &wa360::client::Client, m: &wa360::messages::Message| { let _ = c.send_within(m, std::time::Duration::ZERO); },
    "wa360::client::Client::mark_read" => wa360::client::Client::mark_read,
    "wa360::client::Client::typing" => wa360::client::Client::typing,
    "wa360::client::Client::metrics" => wa360::client::Client::metrics,
    "wa360::client::Client::broadcast" => wa360::client::Client::broadcast,
    "wa360::media::Media::upload" => wa360::media::Media::upload,
    "wa360::media::Media::info" => wa360::media::Media::info,
    "wa360::media::Media::download" => wa360::media::Media::download,
    "wa360::media::Media::download_url" => wa360::media::Media::download_url,
    "wa360::media::Media::delete" => wa360::media::Media::delete,
    "wa360::webhook::registration::Webhooks::set_phone" => wa360::webhook::registration::Webhooks::set_phone,
    "wa360::webhook::registration::Webhooks::get_phone" => wa360::webhook::registration::Webhooks::get_phone,
    "wa360::messages::helpers::text" => wa360::messages::helpers::text,
    "wa360::messages::helpers::image" => wa360::messages::helpers::image,
    "wa360::messages::helpers::video" => wa360::messages::helpers::video,
    "wa360::messages::helpers::audio" => wa360::messages::helpers::audio,
    "wa360::messages::helpers::document" => wa360::messages::helpers::document,
    "wa360::messages::helpers::sticker" => wa360::messages::helpers::sticker,
    "wa360::messages::helpers::location" => wa360::messages::helpers::location,
    "wa360::messages::helpers::contacts" => wa360::messages::helpers::contacts,
    "wa360::messages::helpers::reaction" => wa360::messages::helpers::reaction,
    "wa360::messages::helpers::buttons" => wa360::messages::helpers::buttons,
    "wa360::messages::helpers::list" => wa360::messages::helpers::list,
    "wa360::messages::helpers::interactive" => wa360::messages::helpers::interactive,
    "wa360::messages::helpers::template" => wa360::messages::helpers::template,
    "wa360::messages::build_body" => wa360::messages::build_body,
    "wa360::webhook::parse" => wa360::webhook::parse,
    "wa360::webhook::KNOWN_MESSAGE_TYPES" => wa360::webhook::KNOWN_MESSAGE_TYPES,
}

/// Every `"rust"` value anywhere in the manifest.
fn manifest_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("rust", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    ("pending", _) => {}
                    _ => manifest_names(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| manifest_names(x, out)),
        _ => {}
    }
}

#[test]
fn the_listed_rust_items_are_the_manifest_items() {
    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    let pending: BTreeSet<String> = manifest["pending"]["rust"]
        .as_array()
        .expect("pending.rust")
        .iter()
        .map(|v| v.as_str().expect("a path").to_owned())
        .collect();
    let mut wanted = BTreeSet::new();
    manifest_names(&manifest, &mut wanted);
    let listed: BTreeSet<String> = LISTED.iter().map(|(n, _)| n.to_string()).collect();
    let mut problems = Vec::new();
    for name in wanted.difference(&listed) {
        if !pending.contains(name) {
            problems.push(format!(
                "{MANIFEST_PATH} names {name}, which core/tests/api_surface.rs does not reference: add \
                 `\"{name}\" => {name},` to rust_surface! there (it fails to compile until the item \
                 exists), or remove it from the manifest"
            ));
        }
    }
    for name in listed.difference(&wanted) {
        problems.push(format!(
            "core/tests/api_surface.rs references {name}, which {MANIFEST_PATH} does not name: \
             add it to the manifest (with its Python and Node names) or remove its line"
        ));
    }
    for name in pending.intersection(&listed) {
        problems.push(format!(
            "{name} is referenced now: remove it from pending.rust in {MANIFEST_PATH}"
        ));
    }
    for (name, item) in LISTED {
        let last = name.rsplit("::").next().unwrap_or(name);
        if !item.replace(' ', "").contains(last) {
            problems.push(format!(
                "core/tests/api_surface.rs: the line of {name} references `{item}`, not {last}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "\n{} difference(s):\n  - {}\n",
        problems.len(),
        problems.join("\n  - ")
    );
}
