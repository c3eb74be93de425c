'use strict'
// SIGINT / SIGTERM for the work wa360 runs in this process: broadcast runs and
// receiver consumer pools (docs/sending-at-scale.md, docs/receiving.md).
//
// One coordinator per process. Killed at once, a broadcast's sends in flight
// stay `in_flight` in its ledger and, without their statuses, go out again
// after the quiet window; a consumer's event in hand waits for its lease. So
// on the first signal every tracked task is told to stop after the work in
// flight, and once the tasks running then have ended the signal is raised
// again, so that the process ends the way it would have, unless the app
// listens for that signal itself: then the app decides when the process ends
// (`await settled()` waits for wa360's tasks). A second signal ends the
// process at once (unless the app listens).
//
// Written by hand (Node has no library for this): each task listening on its
// own broke the others, because Node removes a `once` listener before calling
// it, so no listener could tell whether the app also listened; two tasks each
// deferring to the other swallowed the signal. Hence the rules below:
//   - one listener per signal, installed in front (prependListener) and moved
//     back to the front when the app adds one in front of it, so that it sees
//     every listener of the app, `once` ones included, before any of them runs;
//   - whether the app listens is decided once, at the signal. signal-exit (a
//     dependency of many tools) also listens and ends the process only when
//     it is alone, so its listeners are not the app's: counted as theirs, we
//     re-raise, and signal-exit, then alone, runs its exit hooks and ends the
//     process;
//   - installed with the first task and then kept: removing the last listener
//     of a signal drops a signal already received but not yet emitted. With
//     no task running and no listener of the app it re-raises the signal at
//     once, as if it were not there;
//   - once a signal was taken, a task started later stops at once, for the rest
//     of the process (a loop of broadcasts ends, even while the app's own
//     shutdown is under way), also when the app listened and goes on; `signal`
//     with `shutdownSignals: false` is the way to stop one run and go on;
//   - a later signal that no app listener takes (SIGTERM after the app handled
//     a Ctrl-C, a library's own re-raise) waits for the work in flight too; only
//     one after a signal nobody else listened for exits at once;
//   - a re-raised signal that does not end the process (PID 1 in a container
//     ignores its own default-action signals) ends it with the shell's code,
//     128 + n;
//   - shared by every copy of the package loaded in the process (a global
//     symbol), so that two copies do not take each other for the app.
// Worker threads receive no signals (Node delivers them to the main thread):
// there a task is never stopped by one, see `signal` in the broadcast options.

const os = require('node:os')
const { isMainThread } = require('node:worker_threads')

const SIGNALS = ['SIGINT', 'SIGTERM']
/** The same signal again within this many ms counts as the first (see `onSignal`). */
const SAME_SIGNAL_MS = 1000

function create() {
  /**
   * Running tasks: { stop(): void, ended: Promise<void>, signals: boolean }. Those with
   * `signals` false (`shutdownSignals: false`) are only waited for by `settled()`.
   */
  const tasks = new Set()
  /** The first signal taken while tasks ran (then every later task stops at once). */
  let signalled = null
  /** Set once a signal no app listened for is being handled: the next one exits at once. */
  let again = false
  /** When the first signal was taken (`performance.now()`). */
  let signalledAt = 0
  let installed = false

  const stoppable = () => [...tasks].filter((t) => t.signals)
  // Listeners of the app: every one but ours and signal-exit's (its count of listeners per
  // signal, v4 in a global symbol, v3 on `process`). `listeners` lists `once` ones as well.
  // Any other library that listens (one that cleans up and then kills the process itself)
  // counts as the app.
  function appListens(sig) {
    const others = process.listeners(sig).filter((l) => l !== onSignal).length
    const v4 = globalThis[Symbol.for('signal-exit emitter')]
    const v3 = process.__signal_exit_emitter__
    const theirs = (typeof v4?.count === 'number' ? v4.count : 0) + (typeof v3?.count === 'number' ? v3.count : 0)
    return others > theirs
  }
  function stopTask(t) {
    try {
      const r = t.stop()
      if (r && typeof r.then === 'function') r.then(undefined, () => {})
    } catch {}
  }
  // End the process by `sig`, as it would have ended without us: whoever listens now
  // (a listener added since the signal, signal-exit) gets it. The timer holds the loop until
  // the signal is emitted to them (a signal handle does not, and the process would end with
  // code 0 first). When no listener of the app heard it and the process is still alive then
  // with no listener left (signal-exit unloads itself and raises it again), the signal was
  // ignored: PID 1 in a container ignores its own default-action signals. Then exit as the
  // shell would report it. A listener of the app that heard it ends the process itself: its
  // cleanup is never cut off.
  function reraise(sig) {
    // Our own signal is no copy of the first: a listener put back meanwhile (a task
    // tracked again before Node emits it, signal-exit still listening) must act on it.
    signalledAt = -Infinity
    uninstall()
    const app = appListens(sig)
    process.kill(process.pid, sig)
    setTimeout(() => {
      if (!app && process.listenerCount(sig) === 0) process.exit(128 + (os.constants.signals[sig] ?? 0))
    }, 100)
  }
  function onSignal(sig) {
    if (again) {
      // The same signal again within a second is the same request, not an impatient second
      // one: a signal to the process group (systemd's default KillMode, `kill -TERM -pgid`,
      // Ctrl-C in a terminal) reaches a node:cluster worker once from the group and once
      // forwarded by its primary, and the copy cut off the handlers.
      if (sig === signalled && performance.now() - signalledAt < SAME_SIGNAL_MS) return
      // Again while stopping after one nobody else listened for: exit at once.
      reraise(sig)
      return
    }
    const app = appListens(sig)
    const running = stoppable()
    if (running.length === 0) {
      // Nothing to stop: as if wa360 were not there.
      if (!app) reraise(sig)
      return
    }
    if (signalled === null) {
      signalled = sig
      signalledAt = performance.now()
      process.emitWarning(`wa360: ${sig}: stopping broadcasts and consumers after the work in flight${app ? '' : ' (again to exit at once, a second later)'}`)
      for (const t of running) stopTask(t)
    }
    if (app) return // the app ends the process (after `await settled()`)
    // Nobody else listens for this one (the first signal, or a later one after the app's
    // own handler took the first, e.g. SIGTERM after a handled Ctrl-C, or a library's
    // re-raise): end the process by it once the work in flight is done.
    again = true
    Promise.allSettled(running.map((t) => t.ended)).then(() => {
      // On the next turn of the loop: the code awaiting the tasks (a summary logged
      // after `await client.broadcast(…)`) runs first.
      setImmediate(reraise, sig)
    })
  }
  function onNewListener(event, listener) {
    // An app listener added in front of ours would run (and, `once`, be removed) before
    // ours could see it: put ours back in front once it is added.
    if (installed && listener !== onSignal && SIGNALS.includes(event)) {
      queueMicrotask(() => {
        const ls = process.rawListeners(event)
        if (ls[0] !== onSignal && ls.includes(onSignal)) {
          process.removeListener(event, onSignal)
          process.prependListener(event, onSignal)
        }
      })
    }
  }
  function install() {
    if (installed) return
    installed = true
    for (const sig of SIGNALS) process.prependListener(sig, onSignal)
    process.on('newListener', onNewListener)
  }
  function uninstall() {
    if (!installed) return
    installed = false
    for (const sig of SIGNALS) process.removeListener(sig, onSignal)
    process.removeListener('newListener', onNewListener)
  }

  return {
    /**
     * Track a task until the returned function is called (when it has ended). `stop()` is
     * called on SIGINT / SIGTERM (at once, here, when one was taken before), unless
     * `signals` is false: then the task is only waited for by `settled()`.
     */
    track(stop, signals = true) {
      let end
      const t = { stop, signals, ended: new Promise((resolve) => { end = resolve }) }
      tasks.add(t)
      if (signals && isMainThread) install()
      // At once, before the caller starts the work (a broadcast must not claim anything);
      // a caller whose stop ends the task must not need the returned function inside it.
      if (signals && signalled !== null) stopTask(t)
      return () => {
        tasks.delete(t)
        end()
      }
    },
    /**
     * Resolves once every task running now has ended (at once when none runs), those with
     * `shutdownSignals: false` included. A receiver's consumers run until they are closed
     * (a signal or `close()`).
     */
    settled() {
      return Promise.allSettled([...tasks].map((t) => t.ended)).then(() => undefined)
    },
  }
}

const KEY = Symbol.for('wa360.shutdown.v1')
if (!process[KEY]) Object.defineProperty(process, KEY, { value: create() })
module.exports = process[KEY]
