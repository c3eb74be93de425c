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
//! Python binding closes the gate in a `pthread_atfork` prepare handler ([`close_for_fork`]),
//! which waits for the sections under way and holds new ones back, and opens it again in the
//! parent and child handlers ([`open_after_fork`]). Not `os.register_at_fork`: between its
//! hooks and the fork Python can let another thread take the GIL, and one that then closed a
//! connection waited for the closed gate holding it. Written here rather than taken from a
//! crate: it is a counter and a condition variable, and what it must get right (nested
//! sections on one thread, the forking thread's own, its own lock across the fork) is ours.
//!
//! A section never calls back into the host language (no log event inside one): the thread
//! that closes the gate holds Python's GIL while it waits.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

struct State {
    /// Threads inside a section.
    inside: usize,
    /// Forks being prepared (each closed the gate once).
    closing: usize,
}

/// One gate: the process's ([`GATE`]), and the tests' own.
struct Gate {
    state: Mutex<State>,
    turn: Condvar,
}

static GATE: Gate = Gate::new();

thread_local! {
    /// How deep this thread is in sections: only the outermost one counts, so a section
    /// inside another never waits for a fork that waits for the outer one.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The gate's lock, held by the forking thread from the prepare handler to the parent's
    /// and the child's: released in between, another thread could take it (entering a
    /// section, or woken as the last one left) just as the fork copied it, and the child's
    /// handler waited on it for good.
    static HELD: RefCell<Option<MutexGuard<'static, State>>> = const { RefCell::new(None) };
}

/// A use of SQLite under way on this thread (see the module documentation). Dropped on the
/// thread that made it.
#[must_use = "the section lasts as long as the guard"]
pub struct Section {
    gate: &'static Gate,
    _on_this_thread: PhantomData<*const ()>,
}

/// Enter a section: waits while a fork is being prepared.
pub fn section() -> Section {
    GATE.section()
}

/// Before a fork: hold new sections back and wait for those under way (but the calling
/// thread's own, if it is in one). The gate stays locked until [`open_after_fork`], which
/// the same thread must call.
pub fn close_for_fork() {
    GATE.close();
}

/// After a fork, in the parent and in the child (on the thread that forked): let sections
/// in again.
pub fn open_after_fork() {
    GATE.open();
}

impl Gate {
    const fn new() -> Self {
        Gate {
            state: Mutex::new(State {
                inside: 0,
                closing: 0,
            }),
            turn: Condvar::new(),
        }
    }

    fn lock(&'static self) -> MutexGuard<'static, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn section(&'static self) -> Section {
        DEPTH.with(|d| {
            if d.get() == 0 {
                let mut s = self.lock();
                while s.closing > 0 {
                    s = self.turn.wait(s).unwrap_or_else(PoisonError::into_inner);
                }
                s.inside += 1;
            }
            d.set(d.get() + 1);
        });
        Section {
            gate: self,
            _on_this_thread: PhantomData,
        }
    }

    fn close(&'static self) {
        let mine = usize::from(DEPTH.with(Cell::get) > 0);
        let mut s = self.lock();
        s.closing += 1;
        while s.inside > mine {
            s = self.turn.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        HELD.with(|h| *h.borrow_mut() = Some(s));
    }

    fn open(&'static self) {
        let mut s = HELD
            .with(|h| h.borrow_mut().take())
            .unwrap_or_else(|| self.lock());
        s.closing = s.closing.saturating_sub(1);
        self.turn.notify_all();
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        DEPTH.with(|d| {
            d.set(d.get().saturating_sub(1));
            if d.get() == 0 {
                let mut s = self.gate.lock();
                s.inside = s.inside.saturating_sub(1);
                if s.inside == 0 {
                    self.gate.turn.notify_all();
                }
            }
        });
    }
}

/// `m` locked inside a section (entered first, left after the lock is released), also after
/// a thread panicked while holding it, as [`crate::util::lock`]: how the core's SQLite
/// connections are used.
pub(crate) fn lock_inside<T>(m: &Mutex<T>) -> Inside<'_, T> {
    let section = section();
    Inside {
        guard: crate::util::lock(m),
        _section: section,
    }
}

/// What [`lock_inside`] returns. The fields drop in this order: the lock, then the section.
pub(crate) struct Inside<'a, T> {
    guard: MutexGuard<'a, T>,
    _section: Section,
}

impl<T> Deref for Inside<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for Inside<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
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

    /// The test's own gate: closing the process's would hold up every other test's SQLite.
    static TEST_GATE: Gate = Gate::new();

    /// Closing waits for a section under way and holds a new one back until opened again;
    /// a section inside another on one thread never waits.
    #[test]
    fn closing_waits_for_sections_and_holds_new_ones_until_opened() {
        let entered = Arc::new(Barrier::new(2));
        let leave = Arc::new(AtomicBool::new(false));
        let holder = {
            let (entered, leave) = (Arc::clone(&entered), Arc::clone(&leave));
            std::thread::spawn(move || {
                let _outer = TEST_GATE.section();
                entered.wait();
                while !leave.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                // Nested, while a fork waits for the outer one: entered at once.
                let _inner = TEST_GATE.section();
            })
        };
        entered.wait();
        let closed = Arc::new(AtomicBool::new(false));
        let closer = {
            let closed = Arc::clone(&closed);
            std::thread::spawn(move || {
                // Its lock is held until this thread ends (as until the fork's handlers).
                TEST_GATE.close();
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
                let _s = TEST_GATE.section();
                later.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !later.load(Ordering::SeqCst),
            "a section entered while closed"
        );
        TEST_GATE.open();
        newcomer.join().unwrap();
        assert!(later.load(Ordering::SeqCst));
    }
}
