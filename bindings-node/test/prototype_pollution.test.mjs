// Security: headers are read only from the request's own properties (or the
// raw header list), never from the prototype chain. An app with a polluted
// `Object.prototype.authorization` must still answer 401 to a POST that
// carries no Authorization header, and never hand its events to onEvents.
// This file runs in its own process (node --test isolates files), so the
// pollution cannot leak into other suites.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Verifier, parseWebhook, Receiver, Client, Campaign, Ledger, Sandbox } from '../wa360.mjs'
import { wa360Webhook } from '../express.js'
import { createApp } from '../examples/express-receiver.mjs'
import { createServer } from '../examples/fastify-receiver.mjs'

const GOOD = 'Basic ' + Buffer.from('hook:right').toString('base64')
const BODY = JSON.stringify({
  object: 'whatsapp_business_account',
  entry: [{ id: 'W', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '1', phone_number_id: 'P' }, messages: [{ from: '15555550123', id: 'wamid.POLLUTED', timestamp: '1700000000', type: 'text', text: { body: 'x' } }] } }] }],
})

// eslint-disable-next-line no-extend-native
Object.defineProperty(Object.prototype, 'authorization', { value: GOOD, enumerable: true, configurable: true, writable: true })
Object.prototype['x-webhook-secret'] = 'polluted-secret' // eslint-disable-line no-extend-native
after(() => {
  delete Object.prototype.authorization
  delete Object.prototype['x-webhook-secret']
})

async function post(url, headers = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY })
  return r.status
}

test('Verifier ignores inherited header properties (fails closed)', () => {
  const v = new Verifier({ basicAuth: { user: 'hook', password: 'right' } })
  assert.equal(({}).authorization, GOOD) // the pollution is in effect
  assert.throws(() => v.verify({}, BODY), { code: 'invalid_signature' })
  assert.equal(v.isValid({ 'content-type': 'application/json' }, BODY), false)
  // own properties and raw header lists still work
  assert.equal(v.isValid({ authorization: GOOD }, BODY), true)
  assert.equal(v.isValid(['Authorization', GOOD], BODY), true)
  assert.equal(v.isValid(['Content-Type', 'application/json'], BODY), false)
})

test('Express receiver answers 401 to a POST with no Authorization under a polluted prototype', async () => {
  const received = []
  const app = createApp({ user: 'hook', password: 'right', onEvents: (evs) => { received.push(...evs) } })
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  try {
    const url = `http://127.0.0.1:${server.address().port}/webhook`
    assert.equal(await post(url), 401)
    assert.equal(await post(url, { authorization: GOOD }), 200)
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(received.map((e) => e.id), ['wamid.POLLUTED'])
  } finally { server.close() }
})

test('Fastify receiver answers 401 to a POST with no secret header under a polluted prototype', async () => {
  const received = []
  const fastify = createServer({ headerSecret: 'polluted-secret', onEvents: (evs) => { received.push(...evs) } })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  try {
    const url = `http://127.0.0.1:${fastify.server.address().port}/webhook`
    assert.equal(await post(url), 401)
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(received.length, 0)
  } finally { await fastify.close() }
})

test('receiver and broadcast options the app did not set never come from a polluted prototype', async () => {
  const polluted = { maxBytes: 10, dedupe: false, maxAttempts: -1, concurrency: 0, inbox: 'memory://', insecureSkipVerify: true }
  for (const [k, v] of Object.entries(polluted)) Object.prototype[k] = v // eslint-disable-line no-extend-native
  try {
    // The native Receiver: the body is over 10 bytes, and dedupe stays on.
    const r = new Receiver({}, new Verifier({ basicAuth: { user: 'hook', password: 'right' } }))
    const first = await r.handle('POST', '', { authorization: GOOD }, BODY)
    assert.equal(first.status, 200)
    assert.equal(JSON.parse(first.eventsJson).length, 1)
    const again = await r.handle('POST', '', { authorization: GOOD }, BODY)
    assert.equal(again.duplicates, 1)
    // The Express receiver: no inbox from the prototype, and it still needs `verify`.
    assert.throws(() => wa360Webhook({ onEvents: () => {} }), /verify/)
    const received = []
    const app = createApp({ user: 'hook', password: 'right', onEvents: (evs) => { received.push(...evs) } })
    const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
    try {
      const url = `http://127.0.0.1:${server.address().port}/webhook`
      assert.equal(await post(url, { authorization: GOOD }), 200)
      assert.equal(await post(url, { authorization: GOOD }), 200)
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(received.length, 1, 'the repeat is a duplicate: dedupe stayed on')
    } finally { server.close() }
    // A broadcast with no options: the polluted concurrency 0 / maxAttempts -1 are not read.
    const sb = await Sandbox.start()
    try {
      const c = new Client({ apiKey: sb.apiKey, baseUrl: sb.url })
      const campaign = Campaign.fromCsv('order_update', 'en_US', 'to\n15555550101\n')
      const ledger = new Ledger(`sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-pp-')), 'l.db')}`, campaign)
      // Nor the options read in JavaScript: a progress callback, an abort signal, or
      // signal handling turned off (polluted for the call only: Node's own APIs read
      // `signal` through the prototype).
      const js = { progress: 1, signal: 'now', shutdownSignals: 0 }
      for (const [k, v] of Object.entries(js)) Object.prototype[k] = v // eslint-disable-line no-extend-native
      let run
      try { run = c.broadcast(campaign, ledger) } finally { for (const k of Object.keys(js)) delete Object.prototype[k] }
      const s = await run
      assert.equal(s.counts.accepted, 1)
    } finally { await sb.stop() }
  } finally {
    for (const k of Object.keys(polluted)) delete Object.prototype[k]
  }
})

test('parseWebhook never calls a setter planted on Object.prototype, and keeps every key own', () => {
  const calls = []
  const keys = ['kind', 'id', 'from', 'contact', 'text', 'status', 'pricing']
  for (const k of keys) {
    // eslint-disable-next-line no-extend-native
    Object.defineProperty(Object.prototype, k, { set(v) { calls.push([k, v]) }, get() { return 'polluted' }, configurable: true })
  }
  try {
    const status = JSON.stringify({ entry: [{ id: 'W', changes: [{ field: 'messages', value: { statuses: [{ id: 'wamid.S', status: 'read', pricing: { category: 'utility' } }] } }] }] })
    const [m] = parseWebhook(BODY)
    const [s] = parseWebhook(Buffer.from(status))
    assert.deepEqual(calls, [])
    for (const k of ['kind', 'id', 'from', 'contact', 'text']) assert.ok(Object.hasOwn(m, k), k)
    assert.equal(m.kind, 'message')
    assert.equal(m.id, 'wamid.POLLUTED')
    assert.deepEqual(m.text, { body: 'x' })
    assert.deepEqual(JSON.parse(JSON.stringify(m)).text, { body: 'x' })
    for (const k of ['kind', 'id', 'status', 'pricing']) assert.ok(Object.hasOwn(s, k), k)
    assert.equal(s.status, 'read')
    assert.deepEqual(s.pricing, { category: 'utility' })
  } finally {
    for (const k of keys) delete Object.prototype[k]
  }
})
