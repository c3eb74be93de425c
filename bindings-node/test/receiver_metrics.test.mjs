// The receiver's metrics() through a real Express server and a real SQLite
// inbox file: answered requests by status (a store that fails counts as a
// 503), duplicates counted at accept, the ack latency histogram, and a handler
// that always throws ending in a dead letter; the inbox's dead-letter warning
// reaches setLogger. The Fastify plugin's `fastify.wa360Metrics()` over a real
// Fastify server, and `inbox.metrics()` of a standalone worker.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import express from 'express'
import Fastify from 'fastify'
import { text, waitFor, lockInAnotherProcess } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { setLogger, Receiver, Inbox } = require('../wa360.js')
const { wa360Webhook } = require('../express.js')
const { wa360Fastify } = require('../fastify.js')

test('Express metrics(): deliveries by status, duplicates, 503, latency, dead letters', async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'wa360-rmetrics-')), 'inbox.db')
  const records = []
  setLogger((r) => records.push(r), { level: 'info' })
  const calls = []
  const errors = []
  const hook = wa360Webhook({
    verify: { basicAuth: { user: 'hook', password: 'pa55-word' } },
    inbox: `sqlite://${db}?max_attempts=2&retry_base_ms=0&retry_max_ms=0&busy_timeout_ms=100`,
    concurrency: 1,
    shutdownSignals: false,
    onError(e) { errors.push(e) },
    async onEvents(events) { calls.push(events[0].id); throw new Error('handler broken on purpose') },
  })
  const app = express()
  app.use('/webhook', hook)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${server.address().port}/webhook`
  const auth = { authorization: 'Basic ' + Buffer.from('hook:pa55-word').toString('base64') }
  const post = async (headers) => (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text('1555', 'wamid.NM1') })).status
  try {
    assert.deepEqual(hook.metrics().events, {})
    assert.equal(hook.metrics().ackLatency.count, 0)
    const holder = await lockInAnotherProcess(db)
    try {
      assert.equal(await post(auth), 503)
    } finally {
      await holder.release()
    }
    assert.equal(await post(auth), 200)
    assert.equal(await post(auth), 200)
    assert.equal(await post({}), 401)
    await waitFor(() => hook.metrics().events.dead_lettered === 1, 30000, 'the dead letter')
    const m = hook.metrics()
    assert.deepEqual(m.events, { accepted: 1, deduplicated: 1, retried: 1, dead_lettered: 1 })
    assert.deepEqual(m.deliveries, { 200: 2, 401: 1, 503: 1 })
    assert.equal(m.ackLatency.count, 4)
    assert.deepEqual(m.ackLatency.buckets.at(-1), { count: 4 }, 'the unbounded bucket counts everything')
    assert.ok(m.ackLatency.sumSeconds > 0)
    assert.deepEqual(calls, ['wamid.NM1', 'wamid.NM1'], 'one call per attempt')
    // Each handler failure reaches onError with its cause, the retried one too (as Python
    // logs each), not only the dead letter.
    await waitFor(() => errors.some((e) => /dead-lettered/.test(e.message)), 30000, 'the dead letter on onError')
    const failures = errors.filter((e) => e.cause?.message === 'handler broken on purpose').map((e) => e.message)
    assert.equal(failures.length, 2, failures.join('\n'))
    assert.match(failures[0], /failed on attempt 1; event \S+ will be retried/)
    assert.match(failures[1], /dead-lettered after 2 attempts/)
    const dead = await waitFor(() => records.find((r) => r.target === 'wa360.inbox' && /dead-lettered/.test(r.msg)), 30000, 'the dead-letter warning')
    assert.equal(dead.level, 'warn')
    assert.equal(dead.attempt, 2)
    const answered = records.filter((r) => r.target === 'wa360.webhook.receiver').map((r) => [r.level, r.status])
    assert.deepEqual(answered, [['warn', 503], ['info', 200], ['info', 200], ['info', 401]])
    assert.ok(!JSON.stringify(records).includes('pa55-word'))
  } finally {
    setLogger(null)
    await hook.close(1000)
    await new Promise((resolve) => server.close(resolve))
  }
})

test('Express: an oversized delivery is counted and logged as 413 whether its length is declared or it comes chunked', async () => {
  const records = []
  setLogger((r) => records.push(r), { level: 'info' })
  const hook = wa360Webhook({ insecureSkipVerify: true, maxBytes: 4096, shutdownSignals: false, onEvents() {} })
  const app = express()
  app.use('/webhook', hook)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${server.address().port}/webhook`
  try {
    const big = 'x'.repeat(6000)
    const declared = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })
    assert.equal(declared.status, 413)
    // A stream body: fetch sends it chunked, with no Content-Length the precheck could read.
    const chunked = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close() } }),
      duplex: 'half',
    })
    assert.equal(chunked.status, 413)
    const m = hook.metrics()
    assert.equal(m.deliveries['413'], 2, JSON.stringify(m))
    assert.equal(m.ackLatency.count, 2)
    assert.equal(records.filter((r) => r.msg === 'webhook delivery refused' && r.status === 413 && r.level === 'warn' && /over the limit/.test(r.error)).length, 2)
  } finally {
    setLogger(null)
    server.close()
  }
})

test('Receiver.metrics() without an inbox counts duplicates at accept', async () => {
  const r = new Receiver({}, null, null)
  for (let i = 0; i < 3; i++) assert.equal((await r.handle('POST', '', [], text('1555', 'wamid.NM2'))).status, 200)
  assert.equal((await r.handle('GET', 'hub.mode=subscribe', [], '')).status, 405)
  const m = r.metrics()
  assert.deepEqual(m.events, { accepted: 1, deduplicated: 2 })
  assert.deepEqual(m.deliveries, { 200: 3, 405: 1 })
  assert.equal(m.ackLatency.count, 4)
})

test('Fastify plugin: fastify.wa360Metrics() counts a duplicate delivery and the handled event', async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'wa360-fmetrics-')), 'inbox.db')
  const handled = []
  const fastify = Fastify()
  // The application's own JSON route next to the plugin keeps Fastify's JSON parser.
  fastify.post('/app', async (req) => ({ got: req.body.n }))
  await fastify.register(wa360Fastify, {
    prefix: '/hooks',
    verify: { basicAuth: { user: 'hook', password: 'pa55-word' } },
    inbox: `sqlite://${db}`,
    concurrency: 1,
    shutdownSignals: false,
    async onEvents(events) { handled.push(events[0].id) },
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${fastify.server.address().port}`
  const auth = { authorization: 'Basic ' + Buffer.from('hook:pa55-word').toString('base64') }
  const post = async (headers) => (await fetch(`${base}/hooks/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text('1555', 'wamid.FM1') })).status
  try {
    assert.deepEqual(fastify.wa360Metrics().events, {})
    assert.equal(await post(auth), 200)
    assert.equal(await post(auth), 200, 'a duplicate delivery is acknowledged too')
    assert.equal(await post({}), 401)
    await waitFor(() => fastify.wa360Metrics().events.handled === 1, 30000, 'the handled event')
    const m = fastify.wa360Metrics()
    assert.deepEqual(m.events, { accepted: 1, deduplicated: 1, handled: 1 })
    assert.deepEqual(m.deliveries, { 200: 2, 401: 1 })
    assert.equal(m.ackLatency.count, 3)
    assert.deepEqual(handled, ['wamid.FM1'])
    const app = await fetch(`${base}/app`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":7}' })
    assert.deepEqual(await app.json(), { got: 7 })
  } finally {
    await fastify.close()
  }
})

test('Fastify plugin: a second registration on one instance needs its own metricsDecorator', async () => {
  const fastify = Fastify()
  const opts = { insecureSkipVerify: true, onEvents() {} }
  fastify.register(wa360Fastify, { ...opts, path: '/a' })
  fastify.register(wa360Fastify, { ...opts, path: '/b' })
  await assert.rejects(fastify.ready(), /already has a 'wa360Metrics' decorator/)
  const ok = Fastify()
  ok.register(wa360Fastify, { ...opts, path: '/a' })
  ok.register(wa360Fastify, { ...opts, path: '/b', metricsDecorator: 'wa360MetricsB' })
  await ok.ready()
  const r = await ok.inject({ method: 'POST', url: '/b', headers: { 'content-type': 'application/json' }, payload: text('1555', 'wamid.FM2') })
  assert.equal(r.statusCode, 200)
  assert.deepEqual(ok.wa360MetricsB().events, { accepted: 1 })
  assert.deepEqual(ok.wa360Metrics().events, {})
  await ok.close()
})

test('inbox.metrics() of a standalone worker: handled, retried, dead_lettered', async () => {
  const url = `sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-imetrics-')), 'inbox.db')}?max_attempts=3&retry_base_ms=0&retry_max_ms=0`
  // A receiver-only handle stores the events; the worker has its own handle on the same file.
  const receiver = new Receiver({}, null, new Inbox(url))
  for (const id of ['wamid.W1', 'wamid.W2']) assert.equal((await receiver.handle('POST', '', [], text('1555', id))).status, 200)
  const worker = new Inbox(url)
  assert.deepEqual(worker.metrics(), { events: {} })
  const handler = (event) => { if (event.id === 'wamid.W2') throw new Error('handler broken on purpose') }
  const c = worker.consumer()
  await waitFor(async () => {
    for (const d of await c.next(1, 500)) {
      try { handler(d.event) } catch (e) { await c.nack(d.id, e.message); continue }
      await c.ack(d.id)
    }
    const s = await worker.stats()
    return s.dead === 1 && s.handled === 1
  }, 30000, 'one handled event and one dead letter')
  await c.close()
  assert.deepEqual(worker.metrics(), { events: { handled: 1, retried: 2, dead_lettered: 1 } })
  assert.deepEqual(receiver.metrics().events, { accepted: 2 }, 'counts are per handle')
})
