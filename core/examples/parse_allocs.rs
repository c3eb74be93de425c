use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
struct C;
static N: AtomicUsize = AtomicUsize::new(0);
static B: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for C {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        N.fetch_add(1, Relaxed);
        B.fetch_add(l.size(), Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        N.fetch_add(1, Relaxed);
        B.fetch_add(n, Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: C = C;
fn main() {
    for case in [
        "payload_inbound_text",
        "payload_status_read",
        "batch_20_events",
    ] {
        let p = format!(
            "{}/../tests/conformance/webhook_parse/{case}/input.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(p).unwrap();
        let n0 = N.load(Relaxed);
        let b0 = B.load(Relaxed);
        let ev = wa360::webhook::parse(&bytes).unwrap();
        let n1 = N.load(Relaxed);
        let b1 = B.load(Relaxed);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let n2 = N.load(Relaxed);
        let b2 = B.load(Relaxed);
        println!(
            "{case}: parse {} allocs {} bytes ({} events); Value {} allocs {} bytes",
            n1 - n0,
            b1 - b0,
            ev.len(),
            n2 - n1,
            b2 - b1
        );
        drop(v);
    }
}
