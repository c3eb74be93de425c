//! `cargo bench -p wa360 --bench parse`: the typed webhook parse beside the
//! untyped floor (`serde_json::from_slice::<Value>`) on the same bytes: a text
//! message, a status with pricing and a 20-event batch (the conformance
//! inputs `payload_inbound_text`, `payload_status_read`, `batch_20_events`).

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

fn bench(c: &mut Criterion) {
    for (name, case) in [
        ("text", "payload_inbound_text"),
        ("status_pricing", "payload_status_read"),
        ("batch_20", "batch_20_events"),
    ] {
        let bytes = body(case);
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
