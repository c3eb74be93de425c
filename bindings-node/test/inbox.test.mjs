// Inbox from Node: URLs, the consumer API, a store that fails answering 503,
// graceful close releasing what is still held.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { text, lockInAnotherProcess, runChild, waitFor } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { Inbox, Receiver, isWa360Error } = require('../wa360.js')
const { makeReceiver } = require('../webhook-receiver.js')

// An inbox at `url` holding one inbound text, stored through a Receiver as a
// delivery would be (answered 200), and a consumer of it.
async function inboxWithOneText(url, from, wamid) {
  const inbox = new Inbox(url)
  const r = new Receiver({}, null, inbox)
  assert.equal((await r.handle('POST', '', [], text(from, wamid))).status, 200)
  return { inbox, c: inbox.consumer() }
}

test('unknown schemes and bad options are invalid_argument naming the setting', () => {
  assert.throws(() => new Inbox('postgres://localhost:5432'), (e) => isWa360Error(e, 'invalid_argument') && e.field === 'inbox' && /postgres/.test(e.message))
  assert.throws(() => new Inbox('memory://?lease_ms=abc'), (e) => e.code === 'invalid_argument' && e.field === 'inbox.lease_ms')
})

test('a claim of 0, -1, 1.5 or 1001 events and a listing of -1 dead letters are invalid_argument', async () => {
  const { inbox, c } = await inboxWithOneText('memory://', '1555', 'wamid.M1')
  try {
    // -1 used to wrap to 4 294 967 295 (every event claimed at once), 1.5 to become 1.
    for (const max of [0, -1, 1.5, 1001]) {
      await assert.rejects(c.next(max, 10), (e) => isWa360Error(e, 'invalid_argument') && e.field === 'max' && /1 to 1000/.test(e.message), String(max))
    }
    await assert.rejects(inbox.dead(-1), (e) => isWa360Error(e, 'invalid_argument') && e.field === 'limit')
    const [d] = await c.next(1000, 1000)
    assert.equal(d.event.id, 'wamid.M1')
    assert.equal(await c.ack(d.id), true)
  } finally { await c.close() }
})

test('a consumer claims, nacks to a dead letter, and a replay hands it out again', async () => {
  const { inbox, c } = await inboxWithOneText('memory://?max_attempts=2&retry_base_ms=0', '1555', 'wamid.C1')
  try {
    let [d] = await c.next(5, 1000)
    assert.equal(d.event.id, 'wamid.C1')
    assert.equal(d.attempt, 1)
    assert.equal(d.conversation, '112233445566778:1555')
    assert.equal(await c.nack(d.id, 'boom'), 'retry');
    [d] = await c.next(5, 1000)
    assert.equal(await c.nack(d.id, 'boom again'), 'dead')
    const [dead] = await inbox.dead()
    assert.equal(dead.lastError, 'boom again')
    assert.equal(await inbox.replay(dead.id), 1);
    [d] = await c.next(5, 1000)
    assert.equal(await c.ack(d.id), true)
    assert.equal((await inbox.stats()).handled, 1)
  } finally {
    await c.close()
  }
})

test('releaseHeld gives held events back without counting the attempt (as Python release_held)', async () => {
  const { c } = await inboxWithOneText('memory://', '1556', 'wamid.R1')
  try {
    let [d] = await c.next(1, 1000)
    assert.equal(d.attempt, 1)
    assert.equal(c.held, 1)
    assert.equal(await c.releaseHeld(), 1)
    assert.equal(c.held, 0);
    [d] = await c.next(1, 1000)
    assert.equal(d.event.id, 'wamid.R1')
    assert.equal(d.attempt, 1, 'a released claim is not an attempt')
    assert.equal(await c.ack(d.id), true)
    // A wait out of range is an error naming it (as Python's timeout), not a silent 1 s.
    for (const bad of [-1, NaN, 1e300]) {
      await assert.rejects(async () => c.next(1, bad), (e) => e.code === 'invalid_argument' && e.field === 'timeoutMs', String(bad))
    }
  } finally {
    await c.close()
  }
})

test('a store that fails answers 503, and the retry is stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
  const db = join(dir, 'inbox.db')
  const errors = []
  const r = makeReceiver({ onEvents() {}, insecureSkipVerify: true, shutdownSignals: false, inbox: `sqlite://${db}?busy_timeout_ms=100`, startConsumers: false, onError: (e) => errors.push(e) })
  // Another process holds the write lock.
  const holder = await lockInAnotherProcess(db)
  try {
    assert.deepEqual(await r.handlePost([], text('1555', 'wamid.L1')), [503, 'inbox unavailable'])
    assert.match(String(errors[0]), /locked/)
  } finally {
    await holder.release()
  }
  assert.deepEqual(await r.handlePost([], text('1555', 'wamid.L1')), [200, 'OK'])
  assert.equal((await r.inbox.stats()).ready, 1)
})

test('close lets running handlers finish within the grace, then releases the rest', async () => {
  let started
  const running = new Promise((resolve) => { started = resolve })
  let finish
  const gate = new Promise((resolve) => { finish = resolve })
  const errors = []
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://', concurrency: 1, shutdownSignals: false,
    async onEvents() { started(); await gate },
    onError: (e) => errors.push(e.message),
  })
  assert.deepEqual(await r.handlePost([], text('1555', 'wamid.S1')), [200, 'OK'])
  await running
  const t0 = Date.now()
  assert.equal(await r.close(300), 1, 'still running after the grace: released')
  // Told, as Python logs it.
  assert.deepEqual(errors, ['wa360 inbox: 1 running event(s) released to other workers'])
  assert.ok(Date.now() - t0 < 5000)
  assert.equal((await r.inbox.stats()).ready, 1)
  finish()
})

// Without a deadline, a handler that never settles held its event and the contact's later
// events for as long as the process lived, with no word of it.
test('handlerTimeoutMs aborts the call\'s signal; the rejection is retried, then the next event of the contact', async () => {
  const seen = []
  const reasons = []
  const errors = []
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://?retry_base_ms=10', concurrency: 2, shutdownSignals: false,
    handlerTimeoutMs: 200,
    onError: (e) => errors.push(e),
    async onEvents([event], request, { signal }) {
      assert.equal(request, null)
      if (event.id === 'wamid.N1' && reasons.length === 0) {
        // Honours its signal, as fetch(url, { signal }) does.
        await new Promise((resolve, reject) => signal.addEventListener('abort', () => { reasons.push(signal.reason); reject(signal.reason) }, { once: true }))
      }
      assert.equal(signal.aborted, false)
      seen.push(event.id)
    },
  })
  assert.deepEqual(await r.handlePost([], text('1558', 'wamid.N1')), [200, 'OK'])
  assert.deepEqual(await r.handlePost([], text('1558', 'wamid.N2')), [200, 'OK'])
  await waitFor(() => seen.length === 2, 5000, 'both handled')
  assert.deepEqual(seen, ['wamid.N1', 'wamid.N2'], 'the first retried, then the second')
  assert.match(errors[0].message, /the handler of event .+ ran past handlerTimeoutMs \(200 ms\); its signal is aborted/)
  assert.match(errors[1].message, /the handler failed on attempt 1; event .+ will be retried/)
  assert.equal(errors[1].cause.name, 'TimeoutError')
  assert.equal(errors[1].cause.message, 'the handler did not finish within handlerTimeoutMs (200 ms)')
  assert.equal(errors.length, 2)
  assert.equal(await r.close(1000), 0)
})

test('a handler that ignores its signal still holds its event until it settles; its outcome decides', async () => {
  let finish
  const gate = new Promise((resolve) => { finish = resolve })
  let calls = 0
  const errors = []
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://?retry_base_ms=10', concurrency: 2, shutdownSignals: false,
    handlerTimeoutMs: 100,
    onError: (e) => errors.push(e.message),
    async onEvents() { calls += 1; await gate },
  })
  assert.deepEqual(await r.handlePost([], text('1559', 'wamid.I1')), [200, 'OK'])
  await waitFor(() => errors.length === 1, 5000, 'the deadline is told')
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(calls, 1, 'never a second call while the first runs')
  finish()
  await waitFor(async () => (await r.inbox.stats()).handled === 1, 5000, 'acknowledged once it resolved')
  assert.equal(calls, 1)
  assert.equal(await r.close(1000), 0)
})

// close() aborted the signals before it gave the events back: a handler that rejects on its
// signal (the documented use) then raced the release with its nack, so a shutdown counted as a
// failed attempt (dead-lettered with max_attempts=1) or was told as a lost lease.
test('close() gives back the events of the handlers it gives up on, then aborts their signals', async () => {
  const reasons = []
  let started = 0
  const errors = []
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://?max_attempts=1', concurrency: 2, shutdownSignals: false,
    onError: (e) => errors.push(e.message),
    async onEvents(events, request, { signal }) {
      started += 1
      await new Promise((resolve, reject) => signal.addEventListener('abort', () => { reasons.push(signal.reason.name); reject(signal.reason) }, { once: true }))
    },
  })
  assert.deepEqual(await r.handlePost([], text('1560', 'wamid.C1')), [200, 'OK'])
  assert.deepEqual(await r.handlePost([], text('1561', 'wamid.C2')), [200, 'OK'])
  await waitFor(() => started === 2, 5000, 'both handlers running')
  assert.equal(await r.close(100), 2)
  await waitFor(() => reasons.length === 2, 5000, 'both signals aborted')
  assert.deepEqual(reasons, ['AbortError', 'AbortError'])
  // Let the rejections settle: nothing is reported for them.
  await new Promise((resolve) => setTimeout(resolve, 50))
  const stats = await r.inbox.stats()
  assert.equal(stats.dead, 0, 'a shutdown is not a failed attempt')
  assert.equal(stats.ready, 2, 'both given back, ready for the next worker')
  assert.deepEqual(errors, ['wa360 inbox: 2 running event(s) released to other workers'])
})

// An ack that comes back false (the lease ran out while the handler ran, and another worker
// may run the event again) was dropped without a word, where Python logs it: such duplicates
// left no trace. It goes to onError now. The lease is lost here by giving the held event
// back from inside the handler, through the receiver's own consumer.
test('an ack after the lease was lost is reported to onError', async () => {
  const inbox = new Inbox('memory://')
  const consumerOf = inbox.consumer.bind(inbox)
  let consumer
  inbox.consumer = () => (consumer = consumerOf())
  const errors = []
  let runs = 0
  const r = makeReceiver({
    insecureSkipVerify: true, inbox, concurrency: 1, shutdownSignals: false,
    onError: (e) => errors.push(e),
    async onEvents() {
      runs += 1
      if (runs === 1) assert.equal(await consumer.releaseHeld(), 1)
    },
  })
  assert.deepEqual(await r.handlePost([], text('1557', 'wamid.LOST')), [200, 'OK'])
  await waitFor(() => runs === 2 && errors.length === 1, 5000, 'run again, and reported')
  assert.match(errors[0].message, /event .+ was handled after its lease ran out; another worker may run it again/)
  await r.close(1000)
})

// close(ms) with a grace setTimeout cannot hold (Infinity, 2^31 ms or more, NaN) used to
// fire at once: the running handler's event was released and handled a second time.
test('close(Infinity) waits for the running handler: nothing released, handled once', async () => {
  let started
  const running = new Promise((resolve) => { started = resolve })
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://', concurrency: 1, shutdownSignals: false,
    async onEvents() { started(); await new Promise((resolve) => setTimeout(resolve, 300)) },
  })
  assert.deepEqual(await r.handlePost([], text('1555', 'wamid.G1')), [200, 'OK'])
  await running
  assert.equal(await r.close(Infinity), 0, 'the handler finished within an unbounded grace')
  const stats = await r.inbox.stats()
  assert.equal(stats.handled, 1)
  assert.equal(stats.ready, 0)
  for (const bad of [-1, NaN, '5000', null]) {
    const again = makeReceiver({ insecureSkipVerify: true, inbox: 'memory://', shutdownSignals: false, onEvents() {} })
    await assert.rejects(again.close(bad), (e) => isWa360Error(e, 'invalid_argument') && e.field === 'graceMs', String(bad))
    await again.close(0)
  }
})

test('receiver options of the wrong type or unknown are invalid_argument naming the option', () => {
  const base = { onEvents() {}, insecureSkipVerify: true, shutdownSignals: false }
  const cases = [
    [{ insecureSkipVerify: 'false', onEvents() {} }, 'insecureSkipVerify'],
    [{ ...base, concurrency: 0 }, 'concurrency'],
    [{ ...base, concurrency: '8' }, 'concurrency'],
    [{ ...base, concurrency: 2.5 }, 'concurrency'],
    [{ ...base, shutdownGraceMs: '5000' }, 'shutdownGraceMs'],
    [{ ...base, shutdownGraceMs: -1 }, 'shutdownGraceMs'],
    [{ ...base, shutdownGraceMs: NaN }, 'shutdownGraceMs'],
    [{ ...base, handlerTimeoutMs: 0 }, 'handlerTimeoutMs'],
    [{ ...base, handlerTimeoutMs: -5 }, 'handlerTimeoutMs'],
    [{ ...base, handlerTimeoutMs: '100' }, 'handlerTimeoutMs'],
    [{ ...base, startConsumers: 'false' }, 'startConsumers'],
    [{ ...base, dedupe: 'no' }, 'dedupe'],
    [{ ...base, shutdownSignals: 0 }, 'shutdownSignals'],
    [{ ...base, onError: 'log' }, 'onError'],
    [{ ...base, inbox: 42 }, 'inbox'],
    [{ ...base, shutdownGrace: 5000 }, 'shutdownGrace'],
    [{ ...base, verify_token: 'tok' }, 'verify_token'],
    [{ insecureSkipVerify: true }, 'onEvents'],
    [{ onEvents() {} }, 'verify'],
  ]
  for (const [options, field] of cases) {
    assert.throws(() => makeReceiver(options), (e) => isWa360Error(e, 'invalid_argument') && e.field === field, JSON.stringify(options))
  }
  // A string 'false' never turns verification off: the receiver is not made at all.
  assert.ok(makeReceiver({ ...base, concurrency: 8, shutdownGraceMs: 2 ** 40, dedupe: false, startConsumers: false }))
})

// Idle consumers never keep the process alive on their own: a script that only imports the
// app (or a server that was closed) ends. While a server listens, the server holds the
// process; events stored before start are still handled without a new delivery.
test('a receiver with an inbox and idle consumers does not keep the process alive', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-idle-'))
  const lib = JSON.stringify(require.resolve('../express.js'))
  const r = await runChild(`
    const { wa360Webhook } = require(${lib})
    const seen = []
    const mw = wa360Webhook({ insecureSkipVerify: true, inbox: 'sqlite://${dir}/inbox.db', onEvents: (evs) => { seen.push(...evs) } })
    setTimeout(() => console.log('still here'), 200)
  `)
  assert.equal(r.signal, null, 'ended on its own, not killed after 20 s')
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /still here/)
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`)
})

test('consumers claim events stored by another process and by this one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-poll-'))
  const url = `sqlite://${dir}/inbox.db`
  const seen = []
  const r = makeReceiver({ insecureSkipVerify: true, inbox: url, shutdownSignals: false, onEvents: (evs) => { seen.push(...evs.map((e) => e.id)) } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const other = new Receiver({}, null, new Inbox(url)) // another process's receiver, same file
  assert.equal((await other.handle('POST', '', [], Buffer.from(text('1555', 'wamid.P1')))).status, 200)
  await waitFor(() => seen.includes('wamid.P1'), 5000, 'the event stored elsewhere')
  assert.deepEqual(await r.handlePost([], text('1556', 'wamid.P2')), [200, 'OK'])
  await waitFor(() => seen.includes('wamid.P2'), 5000, 'the event accepted here')
  assert.equal(await r.close(1000), 0)
})

test('a handler that throws an unprintable value and an onError that throws: the event is dead-lettered, nothing crashes', async () => {
  const reported = []
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://?max_attempts=2&retry_base_ms=0', concurrency: 1, shutdownSignals: false,
    onEvents() { throw Object.create(null) },
    onError(e) { reported.push(e); throw new Error('onError fails too') },
  })
  assert.deepEqual(await r.handlePost([], text('1555', 'wamid.U1')), [200, 'OK'])
  let stats
  for (let i = 0; i < 200; i++) {
    stats = await r.inbox.stats()
    if (stats.dead === 1) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  try {
    assert.equal(stats.dead, 1, JSON.stringify(stats))
    assert.equal(stats.inFlight, 0)
    const [dead] = await r.inbox.dead(5)
    assert.equal(dead.lastError, 'unprintable error', JSON.stringify(dead))
    assert.ok(reported.length >= 1, 'the dead letter was reported')
  } finally { await r.close(100) }
})

test('without an inbox, repeats are dropped in memory (as in Python)', async () => {
  const seen = []
  const r = makeReceiver({ insecureSkipVerify: true, onEvents: (events) => { seen.push(...events.map((e) => e.id)) } })
  await r.handlePost([], text('1555', 'wamid.D1'))
  await r.handlePost([], text('1555', 'wamid.D1'))
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(seen, ['wamid.D1'])
})

// One claimer feeds every slot: `concurrency` calls run at once, never more, and each event
// is handled once.
test('handlers run up to concurrency at once and never more, each event once', async () => {
  let running = 0
  let most = 0
  const seen = []
  const r = makeReceiver({
    insecureSkipVerify: true, inbox: 'memory://', concurrency: 3, shutdownSignals: false,
    async onEvents([event]) {
      running += 1
      most = Math.max(most, running)
      await new Promise((resolve) => setTimeout(resolve, 30))
      running -= 1
      seen.push(event.id)
    },
  })
  for (let i = 0; i < 20; i++) {
    // 20 conversations: nothing orders them.
    assert.deepEqual(await r.handlePost([], text(`15550003${String(i).padStart(3, '0')}`, `wamid.C${i}`)), [200, 'OK'])
  }
  await waitFor(() => seen.length === 20, 10000, 'all handled')
  assert.deepEqual([...seen].sort(), Array.from({ length: 20 }, (_, i) => `wamid.C${i}`).sort())
  assert.equal(most, 3)
  assert.equal(await r.close(1000), 0)
})

// close() while a claim is still running: the events it takes are released by close(),
// never handed to a handler as well (one would then run twice: here and in another worker).
test('an event claimed while close() runs is released, not handled', async () => {
  for (let trial = 0; trial < 20; trial++) {
    const dir = mkdtempSync(join(tmpdir(), 'wa360-close-race-'))
    const url = `sqlite://${join(dir, 'inbox.db')}`
    const seen = []
    const r = makeReceiver({
      insecureSkipVerify: true, inbox: url, concurrency: 2, shutdownSignals: false,
      onError: () => {},
      async onEvents([event]) { seen.push(event.id) },
    })
    const wamid = `wamid.R${trial}`
    assert.deepEqual(await r.handlePost([], text('15550004444', wamid)), [200, 'OK'])
    await r.close(0)
    const after = new Inbox(url)
    // An ack sent before the close may still be on its way.
    let stats
    await waitFor(async () => { stats = await after.stats(); return stats.inFlight === 0 }, 5000, 'nothing in flight')
    // Either handled before the close (and acked), or given back untouched: never both.
    assert.equal(stats.handled + stats.ready, 1, JSON.stringify(stats))
    assert.equal(seen.length, stats.handled, `${JSON.stringify(seen)} ${JSON.stringify(stats)}`)
  }
})
