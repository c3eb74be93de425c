// Run a corpus (see corpus.py) through the Node package: one JSON line of
// results per input, in the same shape as run_python.py writes.
// Usage: node run_node.mjs corpus.jsonl results.jsonl
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const wa360 = require('../../bindings-node/wa360.js')
const LIMIT_MS = 1000

function untag(v) {
  if (Array.isArray(v)) return v.map(untag)
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === '$bigint' && typeof v.$bigint === 'string') return BigInt(v.$bigint)
    if (keys.length === 1 && keys[0] === '$num' && typeof v.$num === 'string') return Number(v.$num)
    const out = {}
    // defineProperty keeps a `__proto__` key an own property, as JSON.parse does
    for (const k of keys) Object.defineProperty(out, k, { value: untag(v[k]), enumerable: true, writable: true, configurable: true })
    return out
  }
  return v
}

function runOne(item) {
  try {
    if (item.kind === 'webhook') return { ok: wa360.parseWebhook(Buffer.from(item.body, 'base64')) }
    return { ok: wa360.buildMessage(untag(JSON.parse(item.spec))) }
  } catch (e) {
    if (wa360.isWa360Error(e)) return { err: [e.code, e.field ?? null] }
    return { foreign: String(e && e.stack ? e.stack.split('\n')[0] : e).slice(0, 300) }
  }
}

const [src, dst] = process.argv.slice(2)
const lines = readFileSync(src, 'utf8').split('\n').filter(Boolean)
const out = []
for (const line of lines) {
  const item = JSON.parse(line)
  const t0 = process.cpuUsage()
  const res = runOne(item)
  const d = process.cpuUsage(t0)
  const ms = (d.user + d.system) / 1000
  res.i = item.i
  if (ms > LIMIT_MS) res.slow = ms / 1000
  // BigInt (exact integers beyond 2^53) as the same tag the Python runner writes
  out.push(JSON.stringify(res, (_, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v)))
}
writeFileSync(dst, out.join('\n') + '\n')
