// make bench-client (Node part): the client's own cost per message. The
// sandbox runs as a separate release process (`wa360 sandbox`, started by
// mk/bench.mk and pinned with taskset to another core when the machine has
// one); this process is pinned to core 0. For each client, rounds of sends at
// concurrency 64 are interleaved (undici, wa360, undici, …); per round:
// CPU µs of this process (user + sys, all its threads: wa360's native I/O
// threads included) per message, msg/s, p50 / p99 latency.
// Results: bench/results.json, section node_send.
import { createRequire } from 'node:module'
import { Pool } from 'undici'
import { cpuNow, stats, saveSection } from './results.mjs'

const require = createRequire(import.meta.url)
const wa360 = require('../../bindings-node/wa360.js')

const url = process.env.WA360_BASE_URL
const apiKey = process.env.D360_API_KEY
if (!url || !apiKey) throw new Error('WA360_BASE_URL and D360_API_KEY must name a running sandbox (see mk/bench.mk)')
const quick = process.env.BENCH_QUICK === '1'
const CONCURRENCY = 64
const TOTAL = quick ? 2_000 : 5_000
const ROUNDS = quick ? 3 : 9

async function run(total, send) {
  const lat = new Array(total)
  let next = 0
  const c0 = cpuNow()
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < total) {
      const i = next++
      const s = process.hrtime.bigint()
      await send()
      lat[i] = Number(process.hrtime.bigint() - s) / 1e6
    }
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = cpuNow() - c0
  lat.sort((a, b) => a - b)
  return { cpu_us_per_msg: cpu / total, msg_per_s: total / secs, p50_ms: lat[Math.floor(total * 0.5)], p99_ms: lat[Math.floor(total * 0.99)] }
}

const spec = { to: '15555550123', type: 'text', text: { body: 'Benchmark message' } }
const wireText = JSON.stringify(wa360.buildMessage(spec))
const client = new wa360.Client({ apiKey, baseUrl: url, maxRetries: 0 })
const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 })
const clients = {
  'undici Pool': async () => {
    const res = await pool.request({ path: '/messages', method: 'POST', headers: { 'content-type': 'application/json', 'D360-API-KEY': apiKey }, body: wireText })
    const j = await res.body.json()
    if (res.statusCode !== 200 || !j.messages) throw new Error(`undici send failed: ${res.statusCode}`)
  },
  'wa360 Client.send': async () => { await client.send(spec) },
}
const reset = () => fetch(url + '/_sandbox/reset', { method: 'POST' })
// Warm-up: connections, JIT, and undici's HTTP parser (WebAssembly, which V8
// tiers up while it runs). With 1 000 sends each, undici's CPU per message still
// fell from about 45 to 20 µs over the next five rounds, so the median round
// compared wa360 with an undici not yet at its steady state. With 20 000 sends
// each, the rounds after it stayed within about 15% (docs/performance.md §5).
const WARMUP = quick ? 5_000 : 20_000
for (const send of Object.values(clients)) await run(WARMUP, send)
const runs = Object.fromEntries(Object.keys(clients).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, send] of Object.entries(clients)) runs[name].push(await run(TOTAL, send))
  await reset() // keep the sandbox's request log small
}
await pool.close()

const summary = (xs) => Object.fromEntries(['cpu_us_per_msg', 'msg_per_s', 'p50_ms', 'p99_ms'].map((k) => [k, stats(xs.map((x) => x[k]))]))
const out = {
  concurrency: CONCURRENCY, messages_per_round: TOTAL, rounds: ROUNDS,
  clients: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, summary(v)])),
  ratios: {
    'wa360 / undici CPU per message': stats(runs['wa360 Client.send'].map((w, i) => w.cpu_us_per_msg / runs['undici Pool'][i].cpu_us_per_msg)),
    'wa360 / undici msg/s': stats(runs['wa360 Client.send'].map((w, i) => w.msg_per_s / runs['undici Pool'][i].msg_per_s)),
  },
}
console.log(`\nNode sending, concurrency ${CONCURRENCY}, ${TOTAL} messages per round, median of ${ROUNDS} rounds (sandbox in its own process)`)
console.log('client                 CPU µs/msg      msg/s   p50 ms   p99 ms')
for (const [name, s] of Object.entries(out.clients)) {
  console.log(`${name.padEnd(22)} ${s.cpu_us_per_msg.median.toFixed(1).padStart(9)}  ${s.msg_per_s.median.toFixed(0).padStart(9)}  ${s.p50_ms.median.toFixed(2).padStart(7)}  ${s.p99_ms.median.toFixed(2).padStart(7)}`)
}
const c = out.ratios['wa360 / undici CPU per message']
console.log(`wa360 / undici CPU per message: ${c.median.toFixed(2)}× (rounds ${c.min.toFixed(2)}–${c.max.toFixed(2)}); target ≤ 0.8×`)
saveSection('node_send', out)
