// The receiver's metrics() through a real Express server and a real SQLite
// inbox file: answered requests by status (a store that fails counts as a
// 503), duplicates counted at accept, the ack latency histogram, and a handler
// that always throws ending in a dead letter; the inbox's dead-letter warning
// reaches setLogger.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import express from 'express'
import { text, waitFor, lockInAnotherProcess } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { setLogger, Receiver } = require('../wa360.js')
const { wa360Webhook } = require('../express.js')

test('Express metrics(): deliveries by status, duplicates, 503, latency, dead letters', async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'wa360-rmetrics-')), 'inbox.db')
  const records = []
  setLogger((r) => records.push(r), { level: 'info' })
  const calls = []
  const hook = wa360Webhook({
    verify: { basicAuth: { user: 'hook', password: 'pa55-word' } },
    inbox: `sqlite://${db}?max_attempts=2&retry_base_ms=0&retry_max_ms=0&busy_timeout_ms=100`,
    concurrency: 1,
    shutdownSignals: false,
    onError() {},
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

test('Receiver.metrics() without an inbox counts duplicates at accept', async () => {
  const r = new Receiver({}, null, null)
  for (let i = 0; i < 3; i++) assert.equal((await r.handle('POST', '', [], text('1555', 'wamid.NM2'))).status, 200)
  assert.equal((await r.handle('GET', 'hub.mode=subscribe', [], '')).status, 405)
  const m = r.metrics()
  assert.deepEqual(m.events, { accepted: 1, deduplicated: 2 })
  assert.deepEqual(m.deliveries, { 200: 3, 405: 1 })
  assert.equal(m.ackLatency.count, 4)
})
