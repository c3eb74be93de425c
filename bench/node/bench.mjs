// make bench-node: wa360's Node package side by side with what Node users use
// today, in one process and one run, printed as ratios (machines are noisy;
// absolute times drift, ratios less so). Needs a release build of the addon
// (NAPI_RS_NATIVE_LIBRARY_PATH points the loader at it; see mk/node.mk).
import { readFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { Pool } from 'undici'
import { WhatsAppAPI } from 'whatsapp-api-js'

const require = createRequire(import.meta.url)
const wa360 = require('../../bindings-node/wa360.js')
const native = require('../../bindings-node/index.js')
const HERE = path.dirname(fileURLToPath(import.meta.url))
const CASES = path.join(HERE, '../../tests/conformance/webhook_parse')

const quick = process.env.BENCH_QUICK === '1'
const bodies = {
  text: readFileSync(path.join(CASES, 'payload_inbound_text/input.json'), 'utf8'),
  'status+pricing': readFileSync(path.join(CASES, 'payload_status_sent/input.json'), 'utf8'),
  'batch of 20': readFileSync(path.join(CASES, 'batch_20_events/input.json'), 'utf8'),
}

// ------------------------------------------------------------ parse timing
function measure(fn, { iters = quick ? 3_000 : 10_000, repeats = quick ? 3 : 5 } = {}) {
  for (let i = 0; i < iters / 4; i++) fn() // warm-up (JIT)
  const runs = []
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iters; i++) fn()
    runs.push(Number(process.hrtime.bigint() - t0) / iters / 1000)
  }
  runs.sort((a, b) => a - b)
  return runs[Math.floor(runs.length / 2)] // median µs per op
}

async function measureAsync(fn, { iters = quick ? 3_000 : 10_000, repeats = quick ? 3 : 5 } = {}) {
  for (let i = 0; i < iters / 4; i++) await fn()
  const runs = []
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iters; i++) await fn()
    runs.push(Number(process.hrtime.bigint() - t0) / iters / 1000)
  }
  runs.sort((a, b) => a - b)
  return runs[Math.floor(runs.length / 2)]
}

const wapi = new WhatsAppAPI({ token: 'bench', appSecret: 'bench', secure: false, v: 'v23.0' })
let sink = 0
wapi.on.message = ({ message }) => { sink += message.id.length }
wapi.on.status = ({ id }) => { sink += id.length }

const rows = []
for (const [name, body] of Object.entries(bodies)) {
  const n = wa360.parseWebhook(body).length
  const jsonParse = measure(() => { sink += JSON.parse(body).entry.length })
  const parse = measure(() => { sink += wa360.parseWebhook(body).length })
  const parseNoToJSON = measure(() => { sink += JSON.parse(native.parseWebhookToJson(body)).length })
  const nativeOnly = measure(() => { sink += native.parseWebhookToJson(body).length })
  const wapiHandle = await measureAsync(async () => { await wapi.post(JSON.parse(body)) })
  // As received by an HTTP server: a Buffer. JSON.parse needs it decoded first.
  const buf = Buffer.from(body)
  const jsonParseBuf = measure(() => { sink += JSON.parse(buf.toString('utf8')).entry.length })
  const parseBuf = measure(() => { sink += wa360.parseWebhook(buf).length })
  rows.push({ name, n, jsonParse, parse, parseNoToJSON, nativeOnly, wapiHandle, jsonParseBuf, parseBuf })
}

const f = (x) => x.toFixed(2).padStart(7)
const r = (x) => `${x.toFixed(2)}×`.padStart(7)
console.log('\nWebhook parsing (median µs per body; lower is better)')
console.log('body            events  JSON.parse  parseWebhook  ratio vs JSON.parse  whatsapp-api-js  parseWebhook/wapi  | Rust→JSON text  no-toJSON')
for (const x of rows) {
  console.log(`${x.name.padEnd(15)} ${String(x.n).padStart(6)}  ${f(x.jsonParse)}     ${f(x.parse)}       ${r(x.parse / x.jsonParse)}            ${f(x.wapiHandle)}         ${r(x.parse / x.wapiHandle)}       | ${f(x.nativeOnly)}       ${f(x.parseNoToJSON)}`)
}
console.log('\nThe same bodies as a Buffer (what an HTTP server hands over): JSON.parse(buf.toString()) vs parseWebhook(buf)')
for (const x of rows) {
  console.log(`${x.name.padEnd(15)} ${String(x.n).padStart(6)}  ${f(x.jsonParseBuf)}     ${f(x.parseBuf)}       ${r(x.parseBuf / x.jsonParseBuf)}`)
}
console.log('(whatsapp-api-js handles only entry[0].changes[0] and its first message/status: on the batch it reads 1 of 20 events.)')

// ------------------------------------------------------------ throughput
function startSandbox() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'sandbox-server.mjs')], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env })
    child.stdout.once('data', (d) => resolve({ child, ...JSON.parse(d.toString()) }))
    child.once('error', reject)
  })
}

async function run(concurrency, total, send) {
  const lat = []
  let next = 0
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++
      const s = process.hrtime.bigint()
      await send()
      lat.push(Number(process.hrtime.bigint() - s) / 1e6)
    }
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  lat.sort((a, b) => a - b)
  return { rate: total / secs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] }
}

const sbx = await startSandbox()
try {
  const spec = { to: '15555550123', type: 'text', text: { body: 'Benchmark message' } }
  const wire = wa360.buildMessage(spec)
  const wireText = JSON.stringify(wire)
  const client = new wa360.Client({ apiKey: sbx.apiKey, baseUrl: sbx.url, maxRetries: 0 })
  const pool = new Pool(sbx.url, { connections: 64, pipelining: 1 })
  const viaUndici = async () => {
    const res = await pool.request({ path: '/messages', method: 'POST', headers: { 'content-type': 'application/json', 'D360-API-KEY': sbx.apiKey }, body: wireText })
    const j = await res.body.json()
    if (res.statusCode !== 200 || !j.messages) throw new Error(`undici send failed: ${res.statusCode}`)
  }
  const viaClient = async () => { await client.send(spec) }
  const total = quick ? 2_000 : 5_000
  // warm both (connections, JIT), then alternate rounds so drift hits both alike
  await run(64, 1_000, viaUndici)
  await run(64, 1_000, viaClient)
  const res = { undici: [], wa360: [] }
  for (let round = 0; round < 3; round++) {
    res.undici.push(await run(64, total, viaUndici))
    res.wa360.push(await run(64, total, viaClient))
  }
  const best = (xs) => xs.sort((a, b) => b.rate - a.rate)[Math.floor(xs.length / 2)] // median round
  const u = best(res.undici)
  const w = best(res.wa360)
  console.log(`\nSending at concurrency 64 to the local sandbox (${total} messages per round, median of 3 rounds)`)
  console.log('client                      msg/s    p50 ms   p99 ms')
  console.log(`undici Pool (JSON.stringify)  ${u.rate.toFixed(0).padStart(6)}  ${u.p50.toFixed(2).padStart(7)}  ${u.p99.toFixed(2).padStart(7)}`)
  console.log(`wa360 Client.send (validates) ${w.rate.toFixed(0).padStart(6)}  ${w.p50.toFixed(2).padStart(7)}  ${w.p99.toFixed(2).padStart(7)}`)
  console.log(`ratio wa360 / undici: ${(w.rate / u.rate).toFixed(2)}×`)
  await pool.close()
} finally {
  sbx.child.stdin.end()
}
if (sink === 42) console.log('')
