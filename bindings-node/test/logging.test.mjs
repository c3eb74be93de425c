// Logs and metrics: the `logger` option gets one record per request at info, retry
// decisions at debug; setLogger gets the records of no particular client; WA360_LOG writes
// JSON lines to stderr; secrets never appear at trace; metrics() counts what happened.
import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { Client, Sandbox, Verifier, setLogger, isWa360Error } from '../wa360.mjs'
import { waitFor, sleep as tick } from './helpers.mjs'

const TO = '15555550123'
const SCENARIO = fileURLToPath(new URL('../test-fixtures/log-scenario.mjs', import.meta.url))
let sb

before(async () => { sb = await Sandbox.start() })
after(async () => { await sb.stop() })
beforeEach(() => sb.reset())


test('a send at info is exactly one record through the logger option, with its fields', async () => {
  const records = []
  const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, logger: (r) => records.push(r) })
  const r = await client.sendText(TO, 'hello')
  await waitFor(() => records.length >= 1)
  await tick(100) // nothing else arrives
  assert.equal(records.length, 1, JSON.stringify(records))
  const [rec] = records
  assert.equal(rec.level, 'info')
  assert.equal(rec.target, 'wa360.transport')
  assert.equal(rec.msg, 'request ok')
  assert.equal(rec.method, 'POST')
  assert.equal(rec.path, '/messages')
  assert.equal(rec.status, 200)
  assert.equal(rec.attempts, 1)
  assert.equal(rec.wamid, r.messageId)
  assert.equal(rec.client, client._logId)
  assert.equal(typeof rec.latency_ms, 'number')
})

test('an object logger (pino/console shape) gets (record, msg); logLevel debug adds retry decisions', async () => {
  const calls = []
  const logger = {
    info: (rec, msg) => calls.push(['info', msg, rec]),
    debug: (rec, msg) => calls.push(['debug', msg, rec]),
    warn: (rec, msg) => calls.push(['warn', msg, rec]),
  }
  const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, logger, logLevel: 'debug', maxRetries: 2 })
  const quiet = []
  const other = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, logger: (r) => quiet.push(r), logLevel: 'warn' })
  sb.fault('rate_limit', { retry_after: 0 })
  await client.sendText(TO, 'after a retry')
  await other.sendText(TO, 'ok, below warn')
  const retry = await waitFor(() => calls.find((c) => c[1] === 'retrying'))
  assert.equal(retry[0], 'debug')
  assert.equal(retry[2].reason, 'rate_limited')
  const done = await waitFor(() => calls.find((c) => c[1] === 'request ok'))
  assert.equal(done[2].attempts, 2)
  sb.addFault({ path: '/messages', count: 1, fault: { kind: 'reset_after_body' } })
  await assert.rejects(client.sendText(TO, 'maybe sent'), (e) => isWa360Error(e, 'outcome_unknown'))
  const warn = await waitFor(() => calls.find((c) => c[0] === 'warn'))
  assert.equal(warn[2].code, 'outcome_unknown')
  await tick(50)
  assert.deepEqual(quiet, [])
})

test('setLogger receives records of no particular client (webhook verification)', async () => {
  const records = []
  setLogger((r) => records.push(r), { level: 'info' })
  try {
    const v = new Verifier({ basicAuth: { user: 'u', password: 'p' } })
    assert.equal(v.isValid({ authorization: 'Basic Zm9vOmJhcg==' }, '{}'), false)
    const rec = await waitFor(() => records.find((r) => r.msg === 'webhook verification failed'))
    assert.equal(rec.level, 'warn')
    assert.equal(rec.target, 'wa360.webhook.verify')
    assert.equal(rec.check, 'basic_auth')
  } finally { setLogger(null) }
  assert.throws(() => setLogger(() => {}, { level: 'loud' }), (e) => e.code === 'invalid_argument')
  assert.throws(() => new Client({ apiKey: 'k', logger: 42 }), (e) => e.code === 'invalid_argument' && e.field === 'logger')
})

// Each thread (the main one, each worker) has its own loggers: a worker's setLogger does
// not take the main thread's records, the main thread's clients log to the main thread
// only, and the main thread's logger keeps working after the worker is gone.
test('worker threads and the main thread each keep their own loggers', async () => {
  const main = []
  setLogger((r) => main.push(r), { level: 'info' })
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const { Client, setLogger } = require(workerData.lib)
    const got = []
    setLogger((r) => got.push(r), { level: 'info' })
    const client = new Client({ apiKey: workerData.key, baseUrl: workerData.url })
    parentPort.on('message', async () => {
      await client.sendText('15555550123', 'from the worker')
      const until = Date.now() + 5000
      while (!got.some((r) => r.msg === 'request ok') && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
      await new Promise((r) => setTimeout(r, 100))
      parentPort.postMessage({ got, id: client._logId })
    })
    parentPort.postMessage('ready')
  `, { eval: true, workerData: { lib: fileURLToPath(new URL('../wa360.js', import.meta.url)), key: sb.apiKey, url: sb.url } })
  const messages = []
  worker.on('message', (m) => messages.push(m))
  try {
    await waitFor(() => messages.includes('ready'), 10000, 'the worker')
    const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url })
    await client.sendText(TO, 'from the main thread')
    const rec = await waitFor(() => main.find((r) => r.msg === 'request ok' && r.client === client._logId), 5000, "the main thread's record")
    assert.equal(rec.path, '/messages')
    worker.postMessage('send')
    const { got, id } = await waitFor(() => messages.find((m) => m && m.got), 10000, "the worker's records")
    assert.ok(got.some((r) => r.msg === 'request ok' && r.client === id), JSON.stringify(got))
    assert.ok(!got.some((r) => r.client === client._logId), "the main thread's records stay there")
    assert.ok(!main.some((r) => r.client === id), "the worker's records stay there")
    await worker.terminate()
    const before = main.length
    await client.sendText(TO, 'after the worker')
    await waitFor(() => main.slice(before).some((r) => r.msg === 'request ok'), 5000, 'a record after the worker ended')
  } finally {
    await worker.terminate()
    setLogger(null)
  }
})

test('WA360_LOG=info writes exactly one JSON line to stderr for a send', () => {
  const out = spawnSync(process.execPath, [SCENARIO, 'send'], { env: { ...process.env, WA360_LOG: 'info' }, encoding: 'utf8', timeout: 60000 })
  assert.equal(out.status, 0, out.stderr)
  const lines = out.stderr.split('\n').filter((l) => l.trim())
  assert.equal(lines.length, 1, out.stderr)
  const rec = JSON.parse(lines[0])
  assert.equal(rec.level, 'info')
  assert.equal(rec.msg, 'request ok')
  assert.match(rec.wamid, /^wamid\./)
  // Unset: silent.
  const env = { ...process.env }
  delete env.WA360_LOG
  const quiet = spawnSync(process.execPath, [SCENARIO, 'send'], { env, encoding: 'utf8', timeout: 60000 })
  assert.equal(quiet.status, 0, quiet.stderr)
  assert.equal(quiet.stderr, '')
})

function leakForms(secret) {
  const forms = [secret]
  for (const enc of ['base64', 'base64url']) {
    for (const [k, skip] of [[0, 0], [1, 2], [2, 3]]) {
      const text = Buffer.concat([Buffer.alloc(k), Buffer.from(secret)]).toString(enc).replace(/=+$/, '')
      forms.push(text.slice(skip, -2))
    }
  }
  return forms
}

test('at trace, secrets never appear in stderr lines, logger records, error text or inspect output', () => {
  const out = spawnSync(process.execPath, [SCENARIO, 'secrets'], { env: { ...process.env, WA360_LOG: 'trace' }, encoding: 'utf8', timeout: 120000, maxBuffer: 64 << 20 })
  assert.equal(out.status, 0, out.stderr)
  const { records, texts } = JSON.parse(out.stdout)
  const logs = JSON.stringify(records)
  for (const expected of ['request ok', 'retrying', 'window_closed', 'outcome_unknown', 'authentication', 'webhook verified', 'webhook verification failed', 'webhook parsed']) {
    assert.ok(logs.includes(expected), `missing ${expected} in logger records`)
    assert.ok(out.stderr.includes(expected), `missing ${expected} on stderr`)
  }
  for (const secret of ['SentinelKey-7f3a9c2e1b', 'SentinelPass-51d0e2a8', 'SentinelApp-9b8c4d6f3e']) {
    for (const form of leakForms(secret)) {
      assert.ok(!out.stderr.includes(form), `${form} (from a secret) on stderr`)
      assert.ok(!logs.includes(form), `${form} (from a secret) in logger records`)
      for (const t of texts) assert.ok(!t.includes(form), `${form} (from a secret) in ${t}`)
    }
  }
  const encoded = Buffer.from('hookuser:SentinelPass-51d0e2a8').toString('base64')
  assert.ok(leakForms('SentinelPass-51d0e2a8').some((f) => encoded.includes(f)))
})

test('metrics() counts outcomes, retries and send latency', async () => {
  const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 2 })
  assert.deepEqual(client.metrics().requests, {})
  await client.sendText(TO, 'one')
  sb.fault('rate_limit', { retry_after: 0 })
  await client.sendText(TO, 'two')
  sb.fault('meta_error', { code: 131047 })
  await assert.rejects(client.sendText(TO, 'three'), (e) => isWa360Error(e, 'window_closed'))
  const m = client.metrics()
  assert.deepEqual(m.requests, { ok: 2, window_closed: 1 })
  assert.deepEqual(m.retries, { rate_limited: 1 })
  assert.equal(m.sendLatency.count, 3)
  assert.ok(m.sendLatency.sumSeconds > 0)
  const last = m.sendLatency.buckets.at(-1)
  assert.equal(last.le ?? null, null)
  assert.equal(last.count, 3)
})
