// SIGINT / SIGTERM while wa360 works (bindings-node/shutdown.js): real child processes, real
// signals, the in-process sandbox with slow answers (every send in flight for a while), and
// real SQLite ledgers read afterwards. Killed at once, sends that went out stay `in_flight`
// in the ledger and, without their statuses, go out again after the quiet window; stopped
// after the work in flight, none is left so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { Client, Campaign, Ledger, Sandbox, isWa360Error, settled } from '../wa360.mjs'

const ENTRY = fileURLToPath(new URL('../wa360.js', import.meta.url))
const EXPRESS = fileURLToPath(new URL('../express.js', import.meta.url))
const csv = (n, k = 0) => ['to,name', ...Array.from({ length: n }, (_, i) => `+1 555 6${k}0 ${String(i).padStart(4, '0')},Name ${i}`)].join('\n') + '\n'
const ledgerUrl = () => `sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-node-sig-')), 'ledger.db')}`

// A child process with a sandbox whose every send takes `delayMs`, and `run(url, k, opts)`:
// one broadcast of 12 recipients (concurrency 3) that prints `in flight <k>` once it has
// sends in flight and `the run ended <k>` when it resolves. `body` is the app.
function app(body, delayMs = 800) {
  return `
    const { Client, Campaign, Ledger, Sandbox, settled } = require(${JSON.stringify(ENTRY)})
    const { wa360Webhook } = require(${JSON.stringify(EXPRESS)})
    const csv = ${csv.toString()}
    ;(async () => {
      const sb = await Sandbox.start({ timeScale: 0.01 })
      // Held for the whole run: a Sandbox the garbage collector reclaims stops, cutting its
      // connections (a send then ends unknown).
      globalThis.sandbox = sb
      sb.fault('delay', { ms: ${delayMs}, count: 0 })
      const c = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0, governor: { pairIntervalMs: 0 } })
      const run = async (url, k = 0, opts = {}) => {
        const campaign = Campaign.fromCsv('order_update', 'en_US', csv(12, k))
        const ledger = new Ledger(url, campaign)
        let told = false
        // Told once a send of this run is at the sandbox: one still waiting for its governor
        // slot is withdrawn by a stop (back to pending), so the run could end with none sent.
        const atSandbox = () => sb.requests({ path: '/messages' }).some((q) => q.body?.to?.startsWith('15556' + k + '0'))
        const s = await c.broadcast(campaign, ledger, { concurrency: 3, ...opts, progress: (p) => {
          if (!told && p.counts.inFlight > 0 && atSandbox()) { told = true; console.log('in flight ' + k) }
        } })
        console.log('the run ended ' + k)
        return s
      }
      ${body}
    })()
  `
}

// Run `source` in a child; `react(child, out, err)` is called on each output (send the
// signals from there). Resolves to { status, signal, out, err }.
async function inChild(source, react) {
  // Without NODE_OPTIONS: `--no-warnings` there would hide the warning the tests wait for.
  const env = { ...process.env, NODE_OPTIONS: '' }
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d; react(child, out, err) })
  child.stderr.on('data', (d) => { err += d; react(child, out, err) })
  const killer = setTimeout(() => child.kill('SIGKILL'), 40000)
  const [status, signal] = await new Promise((resolve) => child.on('exit', (s, g) => resolve([s, g])))
  clearTimeout(killer)
  return { status, signal, out, err }
}
// Send `sig` once, when the output matches `when`.
const once = (sig, when) => (child, out, err) => {
  if (!child.sent && when.test(out + err)) { child.sent = true; child.kill(sig) }
}
const counts = (url) => Ledger.openExisting(url).counts()
function settledAfterItsSendsInFlight(url) {
  const c = counts(url)
  assert.equal(c.inFlight, 0, JSON.stringify(c))
  assert.equal(c.unknown, 0, JSON.stringify(c))
  assert.ok(c.accepted >= 1 && c.accepted < 12, JSON.stringify(c))
}

test('SIGINT during a broadcast: the run ends after its sends in flight, each recorded, then the process ends by SIGINT', async () => {
  const url = ledgerUrl()
  const r = await inChild(app(`await run(${JSON.stringify(url)})`), once('SIGINT', /in flight/))
  assert.equal(r.signal, 'SIGINT', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.match(r.out, /the run ended 0/, 'the broadcast ended before the process did')
  assert.match(r.err, /SIGINT: stopping broadcasts and consumers after the work in flight \(again to exit at once, a second later\)/)
  settledAfterItsSendsInFlight(url)
})

test('SIGTERM with two runs and a receiver\'s consumers: all stop, then the process ends by SIGTERM', async () => {
  const [a, b] = [ledgerUrl(), ledgerUrl()]
  const inbox = `sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-node-sig-inbox-')), 'inbox.db')}`
  const r = await inChild(app(`
    const hook = wa360Webhook({ insecureSkipVerify: true, inbox: ${JSON.stringify(inbox)}, onEvents() {} })
    await Promise.all([run(${JSON.stringify(a)}, 1), run(${JSON.stringify(b)}, 2)])
    console.log('both ended')
  `), once('SIGTERM', /in flight 1[\s\S]*in flight 2|in flight 2[\s\S]*in flight 1/))
  assert.equal(r.signal, 'SIGTERM', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.match(r.out, /both ended/)
  settledAfterItsSendsInFlight(a)
  settledAfterItsSendsInFlight(b)
})

test('a loop of broadcasts ends on one SIGINT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-node-sig-loop-'))
  const r = await inChild(app(`
    for (let i = 0; ; i++) await run('sqlite://' + ${JSON.stringify(dir)} + '/ledger-' + i + '.db', i)
  `), once('SIGINT', /in flight 0/))
  assert.equal(r.signal, 'SIGINT', `status ${r.status}\n${r.out}\n${r.err}`)
  settledAfterItsSendsInFlight(`sqlite://${join(dir, 'ledger-0.db')}`)
})

test('with signal-exit listening, a loop of broadcasts that yields between runs ends on one SIGINT', async () => {
  // The loop tracks a new run (our listener back) before Node emits our re-raised signal:
  // taken for a copy of the first, it was dropped, and the loop ran on until SIGKILL.
  const dir = mkdtempSync(join(tmpdir(), 'wa360-node-sig-loop-'))
  const signalExit = createRequire(import.meta.url).resolve('signal-exit')
  const r = await inChild(app(`
    require(${JSON.stringify(signalExit)}).onExit((code, sig) => console.log('exit hook ' + sig))
    for (let i = 0; ; i++) {
      await run('sqlite://' + ${JSON.stringify(dir)} + '/ledger-' + i + '.db', i % 10)
      await new Promise((resolve) => setImmediate(resolve))
    }
  `), once('SIGINT', /in flight 0/))
  assert.equal(r.signal, 'SIGINT', `status ${r.status}\n${r.out.slice(-2000)}\n${r.err.slice(-2000)}`)
  assert.match(r.out, /exit hook SIGINT/)
  settledAfterItsSendsInFlight(`sqlite://${join(dir, 'ledger-0.db')}`)
})

test('after a signal the app handles, the runs a loop starts stop at once while the app shuts down', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-node-sig-loop-'))
  const url = (i) => `sqlite://${join(dir, `ledger-${i}.db`)}`
  const r = await inChild(app(`
    process.once('SIGINT', async () => {
      await settled()
      await new Promise((resolve) => setTimeout(resolve, 1500)) // the app's own shutdown
      process.exit(3)
    })
    for (let i = 0; ; i++) await run('sqlite://' + ${JSON.stringify(dir)} + '/ledger-' + i + '.db', i)
  `), once('SIGINT', /in flight 0/))
  assert.deepEqual([r.status, r.signal], [3, null], `${r.out}\n${r.err}`)
  settledAfterItsSendsInFlight(url(0))
  const later = [...r.out.matchAll(/the run ended (\d+)/g)].map((m) => m[1]).filter((k) => k !== '0')
  assert.ok(later.length >= 1, 'the loop went on after the signal')
  for (const k of later) assert.equal(counts(url(k)).accepted, 0, `run ${k} sent nothing`)
})

test('with signal-exit (a dependency of many tools) listening too, the process still ends by the signal', async () => {
  const url = ledgerUrl()
  const signalExit = createRequire(import.meta.url).resolve('signal-exit')
  const r = await inChild(app(`
    require(${JSON.stringify(signalExit)}).onExit((code, sig) => console.log('exit hook ' + sig))
    setInterval(() => {}, 1000) // a server, say: the process does not end by itself
    await run(${JSON.stringify(url)})
  `), once('SIGTERM', /in flight/))
  assert.equal(r.signal, 'SIGTERM', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.match(r.out, /the run ended 0[\s\S]*exit hook SIGTERM/)
  settledAfterItsSendsInFlight(url)
})

test('an app that listens for the signal (prepended, once) ends the process itself, after awaiting settled()', async () => {
  const url = ledgerUrl()
  const r = await inChild(app(`
    // Added after wa360's listener (installed by the run): the app's goes in front of it.
    const running = run(${JSON.stringify(url)})
    process.prependOnceListener('SIGTERM', async () => {
      await settled()
      console.log('settled')
      process.exit(7)
    })
    await running
  `), once('SIGTERM', /in flight/))
  assert.deepEqual([r.status, r.signal], [7, null], `${r.out}\n${r.err}`)
  assert.match(r.out, /the run ended 0/)
  assert.match(r.out, /settled/)
  assert.doesNotMatch(r.err, /again to exit at once/, 'the app decides when the process ends')
  settledAfterItsSendsInFlight(url)
})

test('a library that cleans up and then raises the signal again: the sends in flight are still waited for', async () => {
  // Its `once` listener counts as the app's for the first signal; its own re-raise is then a
  // signal nobody else listens for, not the impatient second one.
  const url = ledgerUrl()
  const r = await inChild(app(`
    const running = run(${JSON.stringify(url)})
    process.once('SIGINT', () => { setTimeout(() => process.kill(process.pid, 'SIGINT'), 10) })
    await running
  `), once('SIGINT', /in flight/))
  assert.equal(r.signal, 'SIGINT', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.match(r.out, /the run ended 0/)
  settledAfterItsSendsInFlight(url)
})

test('a receiver started after a signal the app handled is closed at once, and settled() resolves', async () => {
  const url = ledgerUrl()
  const inbox = `sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-node-sig-inbox-')), 'inbox.db')}`
  const r = await inChild(app(`
    process.once('SIGINT', async () => {
      await settled()
      wa360Webhook({ insecureSkipVerify: true, inbox: ${JSON.stringify(inbox)}, onEvents() {} })
      await new Promise((resolve) => setImmediate(resolve)) // its consumers start
      const timer = setTimeout(() => { console.log('settled() hangs'); process.exit(1) }, 5000)
      await settled()
      clearTimeout(timer)
      console.log('settled again')
      process.exit(0)
    })
    await run(${JSON.stringify(url)})
  `), once('SIGINT', /in flight/))
  assert.deepEqual([r.status, r.signal], [0, null], `${r.out}\n${r.err}`)
  assert.match(r.out, /settled again/)
  settledAfterItsSendsInFlight(url)
})

test('a listener the app adds while the runs stop gets the signal raised again, and its cleanup is not cut off', async () => {
  const url = ledgerUrl()
  const r = await inChild(app(`
    process.on('warning', (w) => {
      if (!/wa360/.test(w.message)) return
      process.once('SIGTERM', async () => {
        await new Promise((resolve) => setTimeout(resolve, 300))
        console.log('cleanup done')
        process.exit(5)
      })
    })
    await run(${JSON.stringify(url)})
  `), once('SIGTERM', /in flight/))
  assert.deepEqual([r.status, r.signal], [5, null], `${r.out}\n${r.err}`)
  assert.match(r.out, /the run ended 0[\s\S]*cleanup done/)
  settledAfterItsSendsInFlight(url)
})

test('SIGTERM twice at once (the process group\'s and a primary\'s forwarded copy): the run still ends after its sends in flight', async () => {
  const url = ledgerUrl()
  const r = await inChild(app(`await run(${JSON.stringify(url)})`), (child, out, err) => {
    if (!child.first && /in flight/.test(out)) { child.first = true; child.kill('SIGTERM') }
    // Once the first is taken: the kernel would merge two pending ones into one.
    if (!child.second && /again to exit at once/.test(err)) { child.second = true; child.kill('SIGTERM') }
  })
  assert.equal(r.signal, 'SIGTERM', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.match(r.out, /the run ended 0/, 'the copy ended the process at once')
  settledAfterItsSendsInFlight(url)
})

test('a second SIGINT ends the process at once, sends in flight or not', async () => {
  const url = ledgerUrl()
  const r = await inChild(app(`await run(${JSON.stringify(url)})`, 20000), (child, out, err) => {
    if (!child.first && /in flight/.test(out)) { child.first = true; child.kill('SIGINT') }
    // More than a second later: sooner, it counts as the same one.
    if (!child.second && /again to exit at once/.test(err)) { child.second = true; setTimeout(() => child.kill('SIGINT'), 1200) }
  })
  assert.equal(r.signal, 'SIGINT', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.match(r.err, /again to exit at once/, 'the first signal did not end it')
  assert.doesNotMatch(r.out, /the run ended/)
  assert.ok(counts(url).inFlight > 0, 'its sends were cut off')
})

test('shutdownSignals: false leaves the signals to Node: SIGINT ends the process at once', async () => {
  const url = ledgerUrl()
  const r = await inChild(app(`await run(${JSON.stringify(url)}, 0, { shutdownSignals: false })`, 20000), once('SIGINT', /in flight/))
  assert.equal(r.signal, 'SIGINT', `status ${r.status}\n${r.out}\n${r.err}`)
  assert.doesNotMatch(r.out, /the run ended/)
  assert.doesNotMatch(r.err, /stopping broadcasts/)
})

test('signal (an AbortSignal) stops one run after its sends in flight; the other goes on', async () => {
  const sb = await Sandbox.start({ timeScale: 0.01 })
  try {
    sb.fault('delay', { ms: 300, count: 0 })
    const c = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0, governor: { pairIntervalMs: 0 } })
    const open = (k) => {
      const campaign = Campaign.fromCsv('order_update', 'en_US', csv(12, k))
      const url = ledgerUrl()
      return { campaign, url, ledger: new Ledger(url, campaign) }
    }
    const [x, y, z] = [open(1), open(2), open(3)]
    const ac = new AbortController()
    let aborted = false
    // Aborted once a send is at the sandbox (a send still waiting for its governor slot is
    // withdrawn by a stop and goes back to `pending`).
    const stopped = c.broadcast(x.campaign, x.ledger, { concurrency: 3, signal: ac.signal, progress: (p) => {
      const mine = sb.requests({ path: '/messages' }).filter((q) => q.body?.to?.startsWith('1555610'))
      if (!aborted && p.counts.inFlight > 0 && mine.length > 0) { aborted = true; ac.abort() }
    } })
    const other = c.broadcast(y.campaign, y.ledger, { concurrency: 6 })
    const [s, o] = await Promise.all([stopped, other])
    assert.equal(s.stopped, true)
    assert.equal(s.complete, false)
    settledAfterItsSendsInFlight(x.url)
    assert.equal(o.complete, true, 'the other run went on')
    // Aborted before it starts: nothing is sent.
    const none = await c.broadcast(z.campaign, z.ledger, { signal: AbortSignal.abort() })
    assert.equal(none.stopped, true)
    assert.equal(counts(z.url).accepted, 0)
    // settled() waits for a run that handles no signals too.
    let ended = false
    const w = open(4)
    const opted = c.broadcast(w.campaign, w.ledger, { concurrency: 12, shutdownSignals: false }).then(() => { ended = true })
    await settled()
    assert.equal(ended, true, 'settled() resolved before the run ended')
    await opted
    for (const [opts, field] of [[{ signal: 'now' }, 'signal'], [{ shutdownSignals: 0 }, 'shutdownSignals'], [{ progress: 1 }, 'progress']]) {
      await assert.rejects(c.broadcast(z.campaign, z.ledger, opts), (e) => isWa360Error(e, 'invalid_argument') && e.field === field)
    }
  } finally { await sb.stop() }
})
