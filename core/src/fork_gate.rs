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
//! With the gate closed, the prepare handler also closes the file connections of the inboxes
//! and ledgers (`close_at_every_fork`): no connection is open across the fork, and each is
//! opened again at its next use, in the parent and in the child.
//!
//! A section never calls back into the host language (no log event inside one): the thread
//! that closes the gate holds Python's GIL while it waits.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError, Weak};

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
/// thread's own, if it is in one), then close the connections registered with
/// `close_at_every_fork`. The gate stays locked until [`open_after_fork`], which the same
/// thread must call.
pub fn close_for_fork() {
    GATE.close();
    let list = crate::util::lock(&CLOSE_AT_FORK);
    for conn in list.iter().filter_map(Weak::upgrade) {
        conn.close_now();
    }
}

/// Connections closed before every fork (see [`close_at_every_fork`]).
static CLOSE_AT_FORK: Mutex<Vec<Weak<dyn CloseNow>>> = Mutex::new(Vec::new());

/// Close `conn` before every fork (in [`close_for_fork`]); its user opens it again at its next
/// use ([`Gated::is_open`], [`Gated::reopen`]).
///
/// SQLite keeps one record per process of each file it has open, with the locks it holds on
/// it, and a fork copies that record. A connection opened in the child while the record
/// is there shares it: the child believes it holds the lock that keeps the write-ahead log
/// in place (the parent's), and takes none of its own. Once the parent closed its last
/// connection to the file, SQLite in the parent, finding no other process with the file
/// open, checkpointed and deleted the log under the child, and the child's later commits
/// went to the deleted log: lost. With every connection closed before the fork, there is no
/// record to copy, and the parent and the child each take their own locks.
pub(crate) fn close_at_every_fork(conn: Weak<dyn CloseNow>) {
    // A section, so that no thread holds the list's lock at a fork (the gate is closed
    // across it): the child would find it locked for good.
    let _inside = section();
    let mut list = crate::util::lock(&CLOSE_AT_FORK);
    list.retain(|w| w.strong_count() > 0);
    list.push(conn);
}

/// What [`close_at_every_fork`] closes.
pub(crate) trait CloseNow: Send + Sync {
    /// Close the connections now, with the gate closed (no section is under way), through
    /// [`try_lock_now`] and [`Gated::close_for_fork`]. One the calling thread holds (a fork
    /// from inside a section) stays open.
    fn close_now(&self);
}

impl<T: Send> CloseNow for Mutex<Gated<T>> {
    fn close_now(&self) {
        if let Some(mut g) = try_lock_now(self) {
            g.close_for_fork();
        }
    }
}

/// `m` locked if no thread holds it (also after a thread panicked while holding it).
pub(crate) fn try_lock_now<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
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

    /// `false` once closed before a fork ([`close_at_every_fork`]): open it again with
    /// [`Gated::reopen`] before use (using it closed panics).
    pub(crate) fn is_open(&self) -> bool {
        self.0.is_some()
    }

    /// Put the value opened again in place of the one closed before a fork.
    pub(crate) fn reopen(&mut self, value: T) {
        self.0 = Some(value);
    }

    /// Close it from [`CloseNow::close_now`], in [`close_for_fork`] (with the gate closed:
    /// not a section).
    pub(crate) fn close_for_fork(&mut self) {
        drop(self.0.take());
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
        // Nothing to close once closed before a fork: no section (the last handle may be
        // dropped by the forking thread, with the gate closed).
        if let Some(value) = self.0.take() {
            let _inside = section();
            drop(value);
        }
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
