// make bench-node (parse part): wa360's parseWebhook side by side with
// JSON.parse of the same bytes and with whatsapp-api-js, in one process, in
// several rounds; each figure is the median round with the spread (min–max)
// beside it, in CPU µs per body. Results go to bench/results.json (section
// node_parse). Needs a release build of the addon (NAPI_RS_NATIVE_LIBRARY_PATH
// points the loader at it; see mk/node.mk). The send benchmark is
// client_cost.mjs (it needs its own process for CPU accounting).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { WhatsAppAPI } from 'whatsapp-api-js'
import { round, stats, saveSection } from './results.mjs'

const require = createRequire(import.meta.url)
const wa360 = require('../../bindings-node/wa360.js')
const native = require('../../bindings-node/index.js')
const HERE = path.dirname(fileURLToPath(import.meta.url))
const CASES = path.join(HERE, '../../tests/conformance/webhook_parse')

const quick = process.env.BENCH_QUICK === '1'
const ROUNDS = quick ? 3 : 7
const BODIES = {
  text: 'payload_inbound_text',
  'status+pricing': 'payload_status_read',
  'batch of 20': 'batch_20_events',
}

const wapi = new WhatsAppAPI({ token: 'bench', appSecret: 'bench', secure: false, v: 'v23.0' })
let sink = 0
wapi.on.message = ({ message }) => { sink += message.id.length }
wapi.on.status = ({ id }) => { sink += id.length }

const out = { unit: 'CPU µs per body', rounds: ROUNDS, bodies: {} }
for (const [name, dir] of Object.entries(BODIES)) {
  const body = readFileSync(path.join(CASES, dir, 'input.json'), 'utf8')
  // As an HTTP server hands it over: a Buffer. JSON.parse needs it decoded first.
  const buf = Buffer.from(body)
  const n = wa360.parseWebhook(body).length
  const fns = {
    'JSON.parse(string)': () => { sink += JSON.parse(body).entry.length },
    'parseWebhook(string)': () => { sink += wa360.parseWebhook(body).length },
    'JSON.parse(buf.toString())': () => { sink += JSON.parse(buf.toString('utf8')).entry.length },
    'parseWebhook(buffer)': () => { sink += wa360.parseWebhook(buf).length },
    'parseWebhookToJson(buffer)': () => { sink += native.parseWebhookToJson(buf).length },
    'whatsapp-api-js post': async () => { await wapi.post(JSON.parse(body)) },
  }
  const iters = (n > 1 ? 2_000 : 20_000) / (quick ? 4 : 1)
  await round(fns, iters / 4, new Set(['whatsapp-api-js post'])) // warm-up (JIT)
  const runs = []
  for (let r = 0; r < ROUNDS; r++) runs.push(await round(fns, iters, new Set(['whatsapp-api-js post'])))
  const us = Object.fromEntries(Object.keys(fns).map((k) => [k, stats(runs.map((x) => x[k]))]))
  const ratio = (a, b) => stats(runs.map((x) => x[a] / x[b]))
  out.bodies[name] = {
    events: n,
    us,
    ratios: {
      'parseWebhook / JSON.parse (string)': ratio('parseWebhook(string)', 'JSON.parse(string)'),
      'parseWebhook / JSON.parse (buffer)': ratio('parseWebhook(buffer)', 'JSON.parse(buf.toString())'),
      'parseWebhook / whatsapp-api-js': ratio('parseWebhook(buffer)', 'whatsapp-api-js post'),
    },
  }
}

const f = (x) => x.toFixed(2).padStart(7)
const rs = (s) => `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`.padEnd(20)
console.log(`\nNode webhook parsing: CPU µs per body, median of ${ROUNDS} rounds (lower is better)`)
console.log('body            events  JSON.parse  parseWebhook  wapi   | ratio vs JSON.parse: string / buffer        | vs whatsapp-api-js')
for (const [name, x] of Object.entries(out.bodies)) {
  console.log(`${name.padEnd(15)} ${String(x.events).padStart(6)}  ${f(x.us['JSON.parse(string)'].median)}     ${f(x.us['parseWebhook(string)'].median)}  ${f(x.us['whatsapp-api-js post'].median)} | ${rs(x.ratios['parseWebhook / JSON.parse (string)'])} ${rs(x.ratios['parseWebhook / JSON.parse (buffer)'])} | ${rs(x.ratios['parseWebhook / whatsapp-api-js'])}`)
}
console.log('(whatsapp-api-js handles only entry[0].changes[0] and its first message/status: on the batch it reads 1 of 20 events.)')
console.log('Targets: parseWebhook ≤ 1.5× JSON.parse (moonshot ≤ 1.0×), from a string and from a Buffer; faster than whatsapp-api-js on single events.')
saveSection('node_parse', out)
if (sink === 42) console.log('')
