// The send governor shared through a real Redis (WA360_TEST_REDIS_URL, started by
// `make test`): two clients pace one recipient together; a bad or unreachable store is
// a clear error that never shows the password.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client, Sandbox, isWa360Error } from '../wa360.mjs'

const TO = '15555550123'

function storeUrl() {
  const url = process.env.WA360_TEST_REDIS_URL
  assert.ok(url, 'WA360_TEST_REDIS_URL is not set: run through `make test`, or `tests/redis/with-redis.sh make test-node`')
  return `${url}?name=nodegov-${Math.random().toString(16).slice(2)}`
}

test('two clients with one Redis governor store pace a recipient together', async () => {
  const sb = await Sandbox.start({ timeScale: 0.01 })
  try {
    const governor = { pairIntervalMs: 60000, maxWaitMs: 500, store: storeUrl() }
    const a = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor })
    const b = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor })
    await a.sendText(TO, 'first')
    await assert.rejects(b.sendText(TO, 'second'), (e) => isWa360Error(e, 'rate_limited') && e.retryAfterMs > 50000)
    await b.sendText('15555550124', 'another recipient goes at once')
    // In-process stores: each client paces alone.
    const local = { pairIntervalMs: 60000, maxWaitMs: 500, store: 'memory://' }
    await new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor: local }).sendText('15555550125', 'x')
    await new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor: local }).sendText('15555550125', 'y')
  } finally { await sb.stop() }
})

test('a bad store URL is invalid_argument and an unreachable one a store error without the password', () => {
  assert.throws(() => new Client({ apiKey: 'k', governor: { store: 'postgres://x' } }), (e) => isWa360Error(e, 'invalid_argument') && e.field === 'governor_store')
  assert.throws(() => new Client({ apiKey: 'k', governor: { store: 'redis://u:s3cr3t-sentinel@127.0.0.1:1/0' } }), (e) => isWa360Error(e, 'store') && !String(e.message).includes('s3cr3t-sentinel'))
})
