// Node exiting with requests in flight neither crashes nor hangs (docs/reliability.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { runChild, withSilentServer } from './helpers.mjs'

const entry = fileURLToPath(new URL('../wa360.js', import.meta.url))

// The child exited by itself with status 0, within 10 s.
function assertCleanExit(r) {
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.status, 0, r.stderr)
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`)
}

test('process.exit with 20 sends in flight exits cleanly and at once', () => withSilentServer(async (url) => {
  const r = await runChild(`
    const { Client } = require(${JSON.stringify(entry)})
    const c = new Client({ apiKey: 'k', baseUrl: ${JSON.stringify(url)}, timeoutMs: 60000 })
    for (let i = 0; i < 20; i++) c.sendText('15555550123', 'x' + i).catch(() => {})
    setTimeout(() => process.exit(0), 300)
  `)
  assertCleanExit(r)
  assert.ok(!/panicked|Segmentation|Abort/i.test(r.stderr), r.stderr)
}))

test('the script ending with a send in flight waits for its timeout, then exits cleanly', () => withSilentServer(async (url) => {
  const r = await runChild(`
    const { Client } = require(${JSON.stringify(entry)})
    const c = new Client({ apiKey: 'k', baseUrl: ${JSON.stringify(url)}, timeoutMs: 500, maxRetries: 0 })
    c.sendText('15555550123', 'x').then(() => console.log('resolved'), (e) => console.log('rejected', e.code))
  `)
  assertCleanExit(r)
  assert.match(r.stdout, /rejected outcome_unknown/)
}))
