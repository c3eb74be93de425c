// Promises are settled on the JavaScript thread in batches, through one
// thread-safe function per thread, woken once per batch by a flush task
// (src/completions.rs): each caller still gets its own answer, errors still
// arrive at their own await, a call started from any kind of callback goes
// out, and a worker thread that ends with sends in flight takes nothing down
// with it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { Client, Sandbox } from '../wa360.mjs'
import { runChild, withSilentServer } from './helpers.mjs'

let sb
before(async () => { sb = await Sandbox.start({ timeScale: 0.01 }) })
after(async () => { await sb.stop() })

test('each of 300 concurrent sends resolves with the answer to its own request', async () => {
  const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url })
  const to = Array.from({ length: 300 }, (_, i) => `1555555${String(i).padStart(4, '0')}`)
  const results = await Promise.all(to.map((n) => client.sendText(n, 'x')))
  assert.deepEqual(results.map((r) => r.contacts[0].input), to)
  assert.equal(new Set(results.map((r) => r.messageId)).size, 300)
})

test('a send started from a continuation, a microtask, a tick, an immediate or a timer goes out', async () => {
  const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url })
  // 100 sends one after another: each starts in the continuation of the one before,
  // while the JavaScript thread is settling a batch.
  for (let i = 0; i < 100; i++) assert.ok((await client.sendText('15555550123', `chain ${i}`)).messageId)
  const from = (schedule) => new Promise((resolve, reject) => schedule(() => client.sendText('15555550123', 'x').then(resolve, reject)))
  const answers = await Promise.all([
    from(queueMicrotask),
    from(process.nextTick),
    from(setImmediate),
    from((f) => setTimeout(f, 1)),
    // started inside the settlement of another send
    client.sendText('15555550123', 'first').then(() => client.sendText('15555550123', 'second')),
  ])
  for (const a of answers) assert.ok(a.messageId)
})

test('four worker threads sending at once each get the answers to their own requests', async () => {
  const entry = fileURLToPath(new URL('../wa360.js', import.meta.url))
  const r = await runChild(`
    const { Worker } = require('node:worker_threads')
    const code = \`
      const { Client } = require(${JSON.stringify(entry)})
      const { workerData, parentPort } = require('node:worker_threads')
      const c = new Client({ apiKey: ${JSON.stringify(sb.apiKey)}, baseUrl: ${JSON.stringify(sb.url)} })
      const to = Array.from({ length: 100 }, (_, i) => '1555' + workerData + String(i).padStart(6, '0'))
      Promise.all(to.map((n) => c.sendText(n, 'w'))).then((rs) => parentPort.postMessage(rs.every((r, i) => r.contacts[0].input === to[i])))
    \`
    Promise.all([1, 2, 3, 4].map((k) => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: String(k) })
      w.once('message', resolve)
      w.once('error', reject)
    }))).then((ok) => console.log('workers', ok.join(',')))
  `)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /workers true,true,true,true/)
})

test('answers and errors settled in one batch each reach their own caller', async () => {
  const client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0 })
  sb.addFault({ path: '/messages', count: 5, fault: { kind: 'meta_error', code: 131047 } })
  const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.sendText('15555550123', `m${i}`)))
  const rejected = settled.filter((s) => s.status === 'rejected')
  assert.equal(rejected.length, 5)
  for (const r of rejected) assert.equal(r.reason.code, 'window_closed')
  assert.equal(settled.filter((s) => s.status === 'fulfilled' && s.value.messageId).length, 15)
})

test('a worker that ends with sends in flight leaves the process and its other sends working', () => withSilentServer(async (url) => {
  // The server never answers: the worker's sends are still in flight when it is terminated,
  // and finish (time out) after its env is gone.
  const entry = fileURLToPath(new URL('../wa360.js', import.meta.url))
  const r = await runChild(`
    const { Worker } = require('node:worker_threads')
    const { Client } = require(${JSON.stringify(entry)})
    const w = new Worker(\`
      const { Client } = require(${JSON.stringify(entry)})
      const c = new Client({ apiKey: 'k', baseUrl: '${url}', timeoutMs: 400, maxRetries: 0 })
      for (let i = 0; i < 20; i++) c.sendText('15555550123', 'w' + i).catch(() => {})
      require('node:worker_threads').parentPort.postMessage('sending')
    \`, { eval: true })
    w.once('message', () => setTimeout(() => w.terminate(), 100))
    w.once('exit', async () => {
      await new Promise((r) => setTimeout(r, 800)) // past the worker's 400 ms timeouts
      const c = new Client({ apiKey: ${JSON.stringify(sb.apiKey)}, baseUrl: ${JSON.stringify(sb.url)} })
      const r = await c.sendText('15555550123', 'main')
      console.log('main sent', Boolean(r.messageId))
    })
  `)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /main sent true/)
}))
