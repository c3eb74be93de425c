//! Issue 16 item 4: the Deduper's and the fold's memory is bounded in bytes,
//! not only in keys. Before, each key kept the whole id twice: 10 KB ids at
//! the default capacity reached about 2 GB. Counts the bytes this test binary
//! holds on the heap (a counting global allocator: exact, not a sampled RSS).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use wa360::webhook::dedupe::{Deduper, MemoryDedupe, MemoryStatusStore, StatusFold};
use wa360::webhook::parse;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const N: usize = 5_000;
/// The documented worst case per remembered key, with a margin.
const PER_KEY: isize = 1000;

fn body(kind: &str, id: &str) -> Vec<u8> {
    let item = if kind == "messages" {
        format!(r#"{{"id":"{id}","type":"text","text":{{"body":"x"}}}}"#)
    } else {
        format!(r#"{{"id":"{id}","status":"read"}}"#)
    };
    format!(r#"{{"entry":[{{"changes":[{{"field":"messages","value":{{"{kind}":[{item}]}}}}]}}]}}"#)
        .into_bytes()
}

#[test]
fn ten_kilobyte_ids_cost_bounded_bytes_per_key() {
    let pad = "w".repeat(10_000);
    let dedupe = Deduper::new(MemoryDedupe::new(
        100_000,
        std::time::Duration::from_secs(3600),
    ));
    let fold = StatusFold::new(MemoryStatusStore::new(
        100_000,
        std::time::Duration::from_secs(3600),
    ));
    let before = LIVE.load(Ordering::Relaxed);
    for i in 0..N {
        let id = format!("{pad}{i}");
        for ev in parse(&body("messages", &id)).unwrap() {
            assert!(dedupe.is_new(&ev));
        }
        for ev in parse(&body("statuses", &id)).unwrap() {
            assert!(dedupe.is_new(&ev));
            fold.apply_update(ev.as_status().unwrap());
        }
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    // 2 dedupe keys + 1 fold state per id; with the whole ids kept this was about 250 MB.
    let bound = 3 * N as isize * PER_KEY;
    eprintln!("held {held} bytes: {} per key", held / (3 * N as isize));
    assert!(
        held < bound,
        "{held} bytes held for {N} ids of 10 KB (bound {bound})"
    );
    // Still deduplicated after hashing.
    let again = parse(&body("messages", &format!("{pad}7"))).unwrap();
    assert!(!dedupe.is_new(&again[0]));
    assert_eq!(
        fold.state(&format!("{pad}7")).unwrap().status.as_deref(),
        Some("read")
    );
}
