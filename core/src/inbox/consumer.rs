//! [`Consumer`]: the claim / renew / ack loop around an [`Inbox`], shared by
//! every binding so that only the call of the user's handler is written in
//! Python or JavaScript.
//!
//! A consumer has a unique name, renews the leases it holds from a
//! background thread (every third of the lease) while it lives, and
//! remembers what it holds so that [`Consumer::release_held`] can give it
//! back on shutdown. When the process dies, renewal stops, the leases
//! expire and other consumers (or the restarted process) take the events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::shared::lock;
use super::{Delivery, Inbox, Nacked, consumer_name};
use crate::Result;

struct State {
    inbox: Arc<dyn Inbox>,
    name: String,
    /// Held event ids and the attempt of their claim (for the log lines).
    held: Mutex<HashMap<String, u32>>,
    stopped: AtomicBool,
    /// Claims are made one at a time, and each claim's events are added to `held` before
    /// the next: so the events the store has handed out are those in `held`, except after
    /// a claim that failed (`true`), whose events may have been handed out anyway.
    claiming: Mutex<bool>,
    /// Wakes the renewal thread early when the consumer is closed.
    closed: (Mutex<bool>, Condvar),
    /// Outcomes the store did not take (the call failed: Redis down, the file locked past
    /// the busy timeout). Their events stay held, so their leases are renewed, and the
    /// renewal thread tells the store again at each tick (and [`Consumer::release_held`]
    /// once more). Dropped with the error, the lease ran out and another consumer ran a
    /// handled event again.
    unsettled: Mutex<HashMap<String, Outcome>>,
    /// The store refused this consumer's last call (`true`) or took it. After
    /// [`Consumer::stop`], an outcome is not told to a store that is refusing: each call
    /// waits a busy timeout, one at a time, so N handlers returning during a shutdown held
    /// it up for N busy timeouts (25 s with five handlers and a grace of 1 s). The outcome
    /// is kept to tell again ([`State::unsettled`]), and close tells it once more.
    failing: AtomicBool,
}

/// A handler's outcome still to be told to the store.
#[derive(Clone)]
enum Outcome {
    Ack,
    Nack(String),
}

/// One consumer of an inbox. Cheap to clone; the renewal thread ends when
/// [`Consumer::close`] is called or the last clone drops.
#[derive(Clone)]
pub struct Consumer {
    state: Arc<State>,
    keeper: Arc<Keeper>,
}

/// The renewal thread, the state it renews, and the process that started it.
struct Keeper(Mutex<Option<JoinHandle<()>>>, Arc<State>, u32);

impl Drop for Keeper {
    fn drop(&mut self) {
        if std::process::id() != self.2 {
            // A forked child (gunicorn --preload) drops what it inherited: the thread
            // exists only in the parent, so there is nothing to stop or join (and the
            // locks it may have held at the fork are never released in the child).
            if let Some(h) = self.0.get_mut().ok().and_then(Option::take) {
                std::mem::forget(h);
            }
            return;
        }
        stop_keeper(&self.1);
        if let Some(h) = lock(&self.0).take() {
            let _ = h.join();
        }
    }
}

/// Tell the store again the outcomes it did not take ([`State::unsettled`]); those it takes
/// now (or answers that the event is no longer held) are settled. `_claiming`: the lock is
/// held, as for an ack (no claim of this consumer runs meanwhile). Returns the ids settled,
/// for [`log_settled_again`] once the lock is free.
fn settle_again(state: &State, _claiming: &bool) -> (Vec<(String, Told)>, bool) {
    let pending: Vec<(String, Outcome)> = lock(&state.unsettled)
        .iter()
        .map(|(id, o)| (id.clone(), o.clone()))
        .collect();
    let mut settled = Vec::new();
    for (id, outcome) in pending {
        let told = match &outcome {
            Outcome::Ack => state.inbox.ack(&state.name, &id).map(Told::Acked),
            Outcome::Nack(error) => state.inbox.nack(&state.name, &id, error).map(Told::Nacked),
        };
        state.failing.store(told.is_err(), Ordering::SeqCst);
        let Ok(told) = told else {
            // The store still fails: the others wait for the next tick (at close: are not
            // released), rather than each holding up this consumer's claims and renewals,
            // or its close, for another busy timeout.
            return (settled, true);
        };
        lock(&state.unsettled).remove(&id);
        lock(&state.held).remove(&id);
        settled.push((id, told));
    }
    (settled, false)
}

/// What the store answered to an outcome told again.
enum Told {
    Acked(bool),
    Nacked(Nacked),
}

/// Logged with no lock held (as in [`Consumer::ack`]), with the level an ack or nack's own
/// line has: a dead letter is a warning whenever the store takes its nack.
fn log_settled_again(state: &State, settled: &[(String, Told)]) {
    for (id, told) in settled {
        let consumer = &state.name;
        match told {
            Told::Nacked(Nacked::Dead) => tracing::warn!(
                target: "wa360::inbox",
                consumer = %consumer,
                id = %id,
                "inbox event dead-lettered: its handler failed on every attempt (inspect, then replay or drop it); the failure was told to the store again after it had refused it"
            ),
            Told::Nacked(Nacked::Retry(delay)) => tracing::info!(
                target: "wa360::inbox",
                consumer = %consumer,
                id = %id,
                delay_ms = delay.as_millis() as u64,
                "inbox retry scheduled: the failure was told to the store again after it had refused it"
            ),
            Told::Acked(true) => tracing::info!(
                target: "wa360::inbox",
                consumer = %consumer,
                id = %id,
                "inbox event acked: told to the store again after it had refused it"
            ),
            Told::Acked(false) | Told::Nacked(Nacked::NotHeld) => tracing::info!(
                target: "wa360::inbox",
                consumer = %consumer,
                id = %id,
                "inbox outcome told to the store again after it had refused it: the event was no longer held (taken already)"
            ),
        }
    }
}

fn stop_keeper(state: &State) {
    let (m, cv) = &state.closed;
    *lock(m) = true;
    cv.notify_all();
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("name", &self.state.name)
            .finish()
    }
}

impl Consumer {
    /// A consumer of `inbox` with a fresh unique name.
    pub fn new(inbox: Arc<dyn Inbox>) -> Self {
        let state = Arc::new(State {
            inbox,
            name: consumer_name(),
            held: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            claiming: Mutex::new(false),
            closed: (Mutex::new(false), Condvar::new()),
            unsettled: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
        });
        let every = state.inbox.options().lease / 3;
        let st = Arc::clone(&state);
        let handle = std::thread::Builder::new()
            .name("wa360-inbox-lease".into())
            .spawn(move || {
                loop {
                    let (m, cv) = &st.closed;
                    let guard = lock(m);
                    let (guard, _) = cv
                        .wait_timeout_while(guard, every, |closed| !*closed)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if *guard {
                        return;
                    }
                    drop(guard);
                    if !lock(&st.unsettled).is_empty() {
                        let (settled, _) = settle_again(&st, &lock(&st.claiming));
                        log_settled_again(&st, &settled);
                    }
                    let held: Vec<String> = lock(&st.held).keys().cloned().collect();
                    if !held.is_empty() {
                        // A failed renewal is retried at the next tick; the
                        // lease is three ticks long.
                        let renewed = st.inbox.extend(&st.name, &held);
                        st.failing.store(renewed.is_err(), Ordering::SeqCst);
                    }
                }
            })
            .map_err(|e| {
                // Claims still work; leases are not renewed, so a handler longer than the
                // lease may be run again by another consumer.
                tracing::error!(
                    target: "wa360::inbox",
                    consumer = %state.name,
                    error = %e,
                    "inbox lease renewal thread could not start: leases of this consumer will not be renewed"
                );
            })
            .ok();
        let keeper = Arc::new(Keeper(
            Mutex::new(handle),
            Arc::clone(&state),
            std::process::id(),
        ));
        Consumer { state, keeper }
    }

    /// This consumer's name (as stored in the leases).
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The inbox.
    pub fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.state.inbox
    }

    /// Claim up to `max` events (1 to [`crate::input::MAX_CLAIM`], else
    /// `invalid_argument`), waiting up to `timeout` for some to be ready.
    /// Empty after the timeout, or at once after [`Consumer::stop`].
    pub fn next(&self, max: usize, timeout: Duration) -> Result<Vec<Delivery>> {
        crate::input::int_option("max", max as f64, 1, crate::input::MAX_CLAIM)?;
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_stopped() {
                return Ok(Vec::new());
            }
            let mut claiming = lock(&self.state.claiming);
            // Again, with the lock: a close() that stopped this consumer meanwhile releases
            // what it holds once this lock is free, and must not miss what a claim would take
            // now (it would be handed to a handler after the release, its lease unrenewed).
            if self.is_stopped() {
                return Ok(Vec::new());
            }
            if *claiming {
                // A claim failed after the store may have run it (Redis: the reply was
                // lost). Its events were handed to this consumer, which never knew: they
                // would wait out a lease, holding up their conversations, and on the last
                // attempt go to the dead letters without having run. Give them back
                // without counting the attempt.
                self.release_unknown_claims()?;
                *claiming = false;
            }
            let got = match self.state.inbox.claim(&self.state.name, max) {
                Ok(got) => got,
                Err(e) => {
                    *claiming = true;
                    self.state.failing.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            };
            self.state.failing.store(false, Ordering::SeqCst);
            let mut held = lock(&self.state.held);
            // An event this consumer holds already: the call handling it still runs, but its
            // lease ran out (the renewals failed: another process held the store's write
            // lock, Redis did not answer), and the store handed it back to its own owner.
            // Handed out again it would run twice at once under one name, and the first
            // call's ack or nack would settle the second claim. It stays with the first call,
            // whose lease the claim has just renewed (and the renewals go on renewing).
            // But a nack the store refused, or so it seemed (its reply lost), that comes back
            // at another attempt: the store took it after all and this is its retry, to run.
            // Told again, the failure counted against an attempt that never ran.
            let mut unsettled = lock(&self.state.unsettled);
            let (again, got): (Vec<Delivery>, Vec<Delivery>) = got.into_iter().partition(|d| {
                let Some(attempt) = held.get(&d.id) else {
                    return false;
                };
                let retried =
                    *attempt != d.attempt && matches!(unsettled.get(&d.id), Some(Outcome::Nack(_)));
                if retried {
                    unsettled.remove(&d.id);
                }
                !retried
            });
            drop(unsettled);
            held.extend(got.iter().map(|d| (d.id.clone(), d.attempt)));
            drop(held);
            drop(claiming);
            // Logged with no lock held: in Python a log line waits for the GIL, which a
            // thread reading `held` may hold while it waits for that lock.
            for d in &again {
                tracing::warn!(
                    target: "wa360::inbox",
                    consumer = %self.state.name,
                    id = %d.id,
                    "inbox event claimed again while its call still runs (its lease ran out: the renewals failed); left to that call"
                );
            }
            if !got.is_empty() {
                for d in &got {
                    tracing::debug!(
                        target: "wa360::inbox",
                        consumer = %self.state.name,
                        id = %d.id,
                        attempt = d.attempt,
                        "inbox event claimed"
                    );
                }
                return Ok(got);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            self.state.inbox.wait(left);
        }
    }

    /// Release what the store handed to this consumer that it does not hold (the events
    /// of a claim whose reply was lost). Called with `claiming` locked.
    fn release_unknown_claims(&self) -> Result<()> {
        let out = self.state.inbox.handed_out(&self.state.name)?;
        let unknown: Vec<String> = {
            let held = lock(&self.state.held);
            out.into_iter()
                .filter(|id| !held.contains_key(id))
                .collect()
        };
        for id in unknown {
            let released = self.state.inbox.release(&self.state.name, &id)?;
            tracing::warn!(
                target: "wa360::inbox",
                consumer = %self.state.name,
                id = %id,
                released,
                "inbox event of a failed claim given back"
            );
        }
        Ok(())
    }

    /// The handler succeeded.
    pub fn ack(&self, id: &str) -> Result<bool> {
        // Told to the store with no claim of this consumer running meanwhile (`claiming`):
        // a claim could otherwise hand the event out again while it is being settled, or
        // give it back as a claim it does not hold, and a close() would release it while
        // its ack is on the way (it would run again elsewhere). A consumer's store calls
        // take a few milliseconds; its claims and settles go one at a time.
        let claiming = lock(&self.state.claiming);
        let r = self.told(id, || self.state.inbox.ack(&self.state.name, id));
        let attempt = self.settled(id, r.is_ok(), Outcome::Ack);
        drop(claiming);
        if let Ok(acked) = r {
            tracing::debug!(
                target: "wa360::inbox",
                consumer = %self.state.name,
                id,
                attempt,
                acked,
                "inbox event acked"
            );
        }
        r
    }

    /// The handler failed with `error`.
    /// The handler's `error` is stored with the event, never logged (it may quote user data).
    pub fn nack(&self, id: &str, error: &str) -> Result<Nacked> {
        // As in `ack`: with no claim of this consumer running meanwhile.
        let claiming = lock(&self.state.claiming);
        let r = self.told(id, || self.state.inbox.nack(&self.state.name, id, error));
        let attempt = self.settled(id, r.is_ok(), Outcome::Nack(error.to_string()));
        drop(claiming);
        let consumer = &self.state.name;
        match &r {
            Ok(Nacked::Retry(delay)) => tracing::info!(
                target: "wa360::inbox",
                consumer = %consumer,
                id,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "inbox retry scheduled"
            ),
            Ok(Nacked::Dead) => tracing::warn!(
                target: "wa360::inbox",
                consumer = %consumer,
                id,
                attempt,
                "inbox event dead-lettered: its handler failed on every attempt (inspect, then replay or drop it)"
            ),
            Ok(Nacked::NotHeld) => tracing::debug!(
                target: "wa360::inbox",
                consumer = %consumer,
                id,
                attempt,
                "inbox nack ignored: lease no longer held"
            ),
            Err(_) => {}
        }
        r
    }

    /// Stop claiming: [`Consumer::next`] returns empty from now on.
    pub fn stop(&self) {
        // A refusal before the stop does not count: the first outcome after it tries the
        // store (see [`State::failing`]).
        self.state.failing.store(false, Ordering::SeqCst);
        self.state.stopped.store(true, Ordering::SeqCst);
    }

    /// `true` after [`Consumer::stop`].
    pub fn is_stopped(&self) -> bool {
        self.state.stopped.load(Ordering::SeqCst)
    }

    /// The ack or nack of `id` told to the store, but not after [`Consumer::stop`] while
    /// the store refuses (see [`State::failing`]) and the event is still held: then an
    /// error at once, and the outcome is kept for close to tell. (After close nothing is
    /// held and nothing kept: the outcome goes to the store.) Called with `claiming` locked.
    fn told<T>(&self, id: &str, call: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.is_stopped()
            && self.state.failing.load(Ordering::SeqCst)
            && lock(&self.state.held).contains_key(id)
        {
            return Err(crate::Error::Store(
                "not told to the inbox yet: it refused this consumer's last call during the \
                 shutdown (told again at close)"
                    .into(),
            ));
        }
        let r = call();
        self.state.failing.store(r.is_err(), Ordering::SeqCst);
        r
    }

    /// After an ack or nack of `id` (`told`: the store took it): no longer held, or, when
    /// the store failed, held still with its outcome kept to tell again. The attempt of its
    /// claim. Called with `claiming` locked.
    fn settled(&self, id: &str, told: bool, outcome: Outcome) -> Option<u32> {
        let mut held = lock(&self.state.held);
        if told {
            lock(&self.state.unsettled).remove(id);
            return held.remove(id);
        }
        let attempt = held.get(id).copied();
        if attempt.is_some() {
            lock(&self.state.unsettled).insert(id.to_string(), outcome);
        }
        attempt
    }

    /// How many events this consumer holds (claimed, not yet acked / nacked).
    pub fn held(&self) -> usize {
        lock(&self.state.held).len()
    }

    /// Give back every event still held, unhandled and without counting the
    /// attempt (end of a graceful shutdown), but those whose outcome the store refuses
    /// again (told once more first: released, a handled event ran again). Returns how many.
    pub fn release_held(&self) -> Result<usize> {
        // After a claim in flight: what it takes is released too.
        let claiming = lock(&self.state.claiming);
        // Outcomes the store did not take yet: told once more (until it refuses one), and
        // those it does not take are not released (released, a handled event ran again at
        // once); their leases run out.
        let (settled, refused) = settle_again(&self.state, &claiming);
        let unsettled: Vec<String> = lock(&self.state.unsettled)
            .drain()
            .map(|(id, _)| id)
            .collect();
        let ids: Vec<String> = lock(&self.state.held)
            .drain()
            .map(|(id, _)| id)
            .filter(|id| !unsettled.contains(id))
            .collect();
        let released = (|| {
            if refused {
                // The store refused again just now: each release would wait another busy
                // timeout, past the shutdown's grace. The leases run out instead, and other
                // consumers take these events then (as after a crash); so does what a Redis
                // inbox read ahead for this consumer. An error, not `Ok(0)`: the handled
                // events will run again, and the caller logs it.
                return Err(crate::Error::Store(format!(
                    "the inbox refused this consumer's outcomes at close: {} handled event(s) \
                     not acknowledged and {} running event(s) not given back; other \
                     consumers take them once their leases run out (the handled ones run \
                     again)",
                    unsettled.len(),
                    ids.len()
                )));
            }
            let mut n = 0;
            for id in ids {
                if self.state.inbox.release(&self.state.name, &id)? {
                    n += 1;
                }
            }
            // And what the store read ahead for this consumer (Redis), also when nothing was
            // held: otherwise it waited out a lease before another consumer took it.
            self.state.inbox.release_unhanded(&self.state.name)?;
            Ok(n)
        })();
        drop(claiming);
        log_settled_again(&self.state, &settled);
        released
    }

    /// Stop claiming, release what is held and end lease renewal.
    pub fn close(&self) -> Result<usize> {
        self.stop();
        let n = self.release_held();
        stop_keeper(&self.keeper.1);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forked child drops the consumers it inherited: it neither waits for the renewal
    /// thread (which exists only in the parent) nor takes the locks that thread may have
    /// held at the fork.
    #[test]
    fn a_keeper_inherited_from_another_process_is_dropped_at_once() {
        let c = Consumer::new(crate::inbox::open("memory://").unwrap());
        let (stay, wait) = std::sync::mpsc::channel::<()>();
        // A thread that never ends while `stay` lives, as the parent's renewal thread.
        let thread = std::thread::spawn(move || {
            let _ = wait.recv();
        });
        let inherited = Keeper(
            Mutex::new(Some(thread)),
            Arc::clone(&c.state),
            std::process::id().wrapping_add(1),
        );
        let (done, dropped) = std::sync::mpsc::channel();
        let state = Arc::clone(&c.state);
        let held = std::thread::spawn(move || {
            // The lock the parent's thread held at the fork.
            let _closed = lock(&state.closed.0);
            drop(inherited);
            let _ = done.send(());
        });
        assert!(
            dropped.recv_timeout(Duration::from_secs(5)).is_ok(),
            "dropping an inherited keeper waited"
        );
        held.join().unwrap();
        drop(stay);
    }
}
