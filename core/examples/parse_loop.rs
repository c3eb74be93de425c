use std::hint::black_box;
fn main() {
    let case = std::env::args()
        .nth(1)
        .unwrap_or("payload_inbound_text".into());
    let n: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2_000_000);
    let p = format!(
        "{}/../tests/conformance/webhook_parse/{case}/input.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(p).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        black_box(wa360::webhook::parse(black_box(&bytes)).unwrap());
    }
    let a = t.elapsed().as_nanos() as f64 / n as f64;
    let t = std::time::Instant::now();
    for _ in 0..n {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).unwrap());
    }
    let b = t.elapsed().as_nanos() as f64 / n as f64;
    println!("parse {a:.0} ns, value {b:.0} ns, ratio {:.2}", a / b);
}
