//! Forks while other threads are inside SQLite.
//!
//! SQLite keeps process-wide locks (its allocator's, its table of open files). A fork copies
//! them as they are, and only the forking thread: a lock another thread held at that moment
//! stays held in the child for good, and the child's first SQLite call waits on it forever.
//! A Python server that loads the app and then forks its workers (gunicorn `--preload`) runs
//! the app's inbox consumers in the parent, so a fork can come while they are inside SQLite:
//! the worker then took connections and answered none.
//!
//! Every use of a SQLite connection in the core is a [`section`] of one gate per process. The
//! Python binding closes the gate before a fork ([`close_for_fork`], from
//! `os.register_at_fork`), which waits for the sections under way and holds new ones back,
//! and opens it again after the fork in both processes ([`open_after_fork`]). Written here
//! rather than taken from a crate: it is a counter and a condition variable, and what it
//! must get right (nested sections on one thread, the forking thread's own) is ours.
//!
//! A section never calls back into the host language (no log event inside one): the thread
//! that closes the gate holds Python's GIL while it waits.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

struct State {
    /// Threads inside a section.
    inside: usize,
    /// Forks being prepared (each closed the gate once).
    closing: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    inside: 0,
    closing: 0,
});
static TURN: Condvar = Condvar::new();

thread_local! {
    /// How deep this thread is in sections: only the outermost one counts, so a section
    /// inside another never waits for a fork that waits for the outer one.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A use of SQLite under way on this thread (see the module documentation). Dropped on the
/// thread that made it.
#[must_use = "the section lasts as long as the guard"]
pub struct Section {
    _on_this_thread: PhantomData<*const ()>,
}

/// Enter a section: waits while a fork is being prepared.
pub fn section() -> Section {
    DEPTH.with(|d| {
        if d.get() == 0 {
            let mut s = state();
            while s.closing > 0 {
                s = TURN.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            s.inside += 1;
        }
        d.set(d.get() + 1);
    });
    Section {
        _on_this_thread: PhantomData,
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        DEPTH.with(|d| {
            d.set(d.get().saturating_sub(1));
            if d.get() == 0 {
                let mut s = state();
                s.inside = s.inside.saturating_sub(1);
                if s.inside == 0 {
                    TURN.notify_all();
                }
            }
        });
    }
}

/// Before a fork: hold new sections back and wait for those under way (but the calling
/// thread's own, if it is in one).
pub fn close_for_fork() {
    let mine = usize::from(DEPTH.with(Cell::get) > 0);
    let mut s = state();
    s.closing += 1;
    while s.inside > mine {
        s = TURN.wait(s).unwrap_or_else(PoisonError::into_inner);
    }
}

/// After a fork, in the parent and in the child: let sections in again.
pub fn open_after_fork() {
    let mut s = state();
    s.closing = s.closing.saturating_sub(1);
    TURN.notify_all();
}

/// A value whose drop is a section too: a SQLite connection, whose close takes the same
/// process-wide locks.
pub(crate) struct Gated<T>(Option<T>);

impl<T> Gated<T> {
    pub(crate) fn new(value: T) -> Self {
        Gated(Some(value))
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Gated<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> Deref for Gated<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("a gated value is there until it is dropped")
    }
}

impl<T> DerefMut for Gated<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("a gated value is there until it is dropped")
    }
}

impl<T> Drop for Gated<T> {
    fn drop(&mut self) {
        let _inside = section();
        drop(self.0.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    /// Closing waits for a section under way and holds a new one back until opened again;
    /// a section inside another on one thread never waits. (One test: the gate is one per
    /// process, and tests run in parallel threads.)
    #[test]
    fn closing_waits_for_sections_and_holds_new_ones_until_opened() {
        let entered = Arc::new(Barrier::new(2));
        let leave = Arc::new(AtomicBool::new(false));
        let holder = {
            let (entered, leave) = (Arc::clone(&entered), Arc::clone(&leave));
            std::thread::spawn(move || {
                let _outer = section();
                entered.wait();
                while !leave.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                // Nested, while a fork waits for the outer one: entered at once.
                let _inner = section();
            })
        };
        entered.wait();
        let closed = Arc::new(AtomicBool::new(false));
        let closer = {
            let closed = Arc::clone(&closed);
            std::thread::spawn(move || {
                close_for_fork();
                closed.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !closed.load(Ordering::SeqCst),
            "closed with a section under way"
        );
        leave.store(true, Ordering::SeqCst);
        holder.join().unwrap();
        closer.join().unwrap();
        let later = Arc::new(AtomicBool::new(false));
        let newcomer = {
            let later = Arc::clone(&later);
            std::thread::spawn(move || {
                let _s = section();
                later.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !later.load(Ordering::SeqCst),
            "a section entered while closed"
        );
        open_after_fork();
        newcomer.join().unwrap();
        assert!(later.load(Ordering::SeqCst));
    }
}
