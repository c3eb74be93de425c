//! Many threads accepting deliveries into one SQLite inbox file at once, as the
//! receiver's blocking pool does under load. Concurrent accepts are stored in
//! shared transactions (group commit); each caller must still get exactly its
//! own outcome, every new event must be stored once, and a delivery repeated
//! by several threads at the same moment must be new for exactly one of them.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;

use wa360::inbox;
use wa360::inbox::testing::{accept_json, drain};
use wa360::webhook::testing;

const THREADS: usize = 8;
const PER_THREAD: usize = 40;

fn temp_db(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("wa360-{tag}-{}-{nanos}.db", std::process::id()))
}

#[test]
fn concurrent_accepts_each_get_their_own_outcome_and_store_every_event_once() {
    let path = temp_db("group-commit");
    let inbox = inbox::open(&format!("sqlite://{}", path.display())).unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let inbox = Arc::clone(&inbox);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut own_new = Vec::new();
                let mut shared_new = Vec::new();
                let mut duplicates = 0;
                for i in 0..PER_THREAD {
                    // A delivery only this thread sends: always new.
                    let own = format!("wamid.own-{t}-{i}");
                    let a =
                        accept_json(&*inbox, &testing::inbound_text("4915", "hi", &own)).unwrap();
                    assert_eq!(a.duplicates, 0, "thread {t}: {own} is nobody else's");
                    own_new.extend(
                        a.events
                            .iter()
                            .map(|e| e.as_message().unwrap().id().unwrap().to_string()),
                    );
                    // A delivery every thread sends at about the same time
                    // (360dialog's redelivery racing the first attempt).
                    let shared = format!("wamid.shared-{i}");
                    let a = accept_json(&*inbox, &testing::inbound_text("4916", "yo", &shared))
                        .unwrap();
                    assert_eq!(a.events.len() + a.duplicates, 1, "thread {t}: {shared}");
                    duplicates += a.duplicates;
                    shared_new.extend(
                        a.events
                            .iter()
                            .map(|e| e.as_message().unwrap().id().unwrap().to_string()),
                    );
                }
                (t, own_new, shared_new, duplicates)
            })
        })
        .collect();

    let mut first_of_shared: HashMap<String, usize> = HashMap::new();
    let mut duplicates = 0;
    for w in workers {
        let (t, own_new, shared_new, d) = w.join().expect("an accepting thread panicked");
        let expected: Vec<String> = (0..PER_THREAD)
            .map(|i| format!("wamid.own-{t}-{i}"))
            .collect();
        assert_eq!(
            own_new, expected,
            "thread {t} got back events that were not its own"
        );
        for id in shared_new {
            if let Some(other) = first_of_shared.insert(id.clone(), t) {
                panic!("{id} was new for both thread {other} and thread {t}");
            }
        }
        duplicates += d;
    }
    assert_eq!(
        first_of_shared.len(),
        PER_THREAD,
        "a shared delivery was new for nobody"
    );
    assert_eq!(duplicates, (THREADS - 1) * PER_THREAD);

    // Everything new is on disk, once: a second handle (another process)
    // counts exactly those events, and a consumer claims exactly them.
    drop(inbox);
    let url = format!("sqlite://{}", path.display());
    let inbox = inbox::open(&url).unwrap();
    let mut expected: Vec<String> = (0..THREADS)
        .flat_map(|t| (0..PER_THREAD).map(move |i| format!("wamid.own-{t}-{i}")))
        .chain((0..PER_THREAD).map(|i| format!("wamid.shared-{i}")))
        .collect();
    expected.sort();
    let stats = inbox.stats().unwrap();
    assert_eq!(stats.ready, expected.len() as u64, "{stats:?}");
    assert_eq!(stats.duplicates, duplicates as u64, "{stats:?}");
    let mut claimed = drain(&*inbox, "checker").unwrap();
    claimed.sort();
    assert_eq!(claimed, expected);
    drop(inbox);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
