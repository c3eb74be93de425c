//! `cargo bench -p wa360 --bench parse`: the typed webhook parse beside the
//! untyped floor (`serde_json::from_slice::<Value>`) on the same bytes: a text
//! message, a status with pricing and a 20-event batch (the conformance
//! inputs `payload_inbound_text`, `payload_status_read`, `batch_20_events`), each
//! as the conformance input has it (indented) and compact, as 360dialog delivers it.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

fn body(case: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/webhook_parse")
        .join(case)
        .join("input.json");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The body without the whitespace between tokens, as 360dialog delivers it (the
/// conformance inputs are indented for reading). Written here rather than through
/// `serde_json::Value`, which could reorder keys or respell numbers.
fn compact(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            (escaped, in_string) = (!escaped && b == b'\\', escaped || b != b'"');
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            continue;
        }
        out.push(b);
    }
    out
}

fn bench(c: &mut Criterion) {
    for (name, case, as_delivered) in [
        ("text", "payload_inbound_text", false),
        ("status_pricing", "payload_status_read", false),
        ("batch_20", "batch_20_events", false),
        ("text_compact", "payload_inbound_text", true),
        ("status_pricing_compact", "payload_status_read", true),
        ("batch_20_compact", "batch_20_events", true),
    ] {
        let bytes = if as_delivered {
            compact(&body(case))
        } else {
            body(case)
        };
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("serde_json_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).unwrap())
        });
        g.bench_function("parse", |b| {
            b.iter(|| wa360::webhook::parse(black_box(&bytes)).unwrap())
        });
        g.bench_function("parse_to_canonical_json", |b| {
            b.iter(|| wa360::webhook::parse_to_canonical_json(black_box(&bytes)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
