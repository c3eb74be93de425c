// Runs every case of tests/conformance/receiver/ through the Node glue
// (makeReceiver, as used by the Express middleware and the Fastify plugin).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { makeReceiver } = require('../webhook-receiver.js')
const { Receiver, Verifier, Inbox } = require('../wa360.js')

const SUITE = join(dirname(fileURLToPath(import.meta.url)), '../../tests/conformance/receiver')
const cases = readdirSync(SUITE).filter((d) => statSync(join(SUITE, d)).isDirectory()).sort()

test('the receiver suite is there', () => {
  assert.ok(cases.length >= 20)
})

for (const name of cases) {
  test(`receiver: ${name}`, async () => {
    const input = JSON.parse(readFileSync(join(SUITE, name, 'input.json'), 'utf8'))
    const want = JSON.parse(readFileSync(join(SUITE, name, 'expected.json'), 'utf8'))
    const cfg = input.config
    const glue = makeReceiver({
      onEvents() {},
      verifier: cfg.verifier ? new Verifier(cfg.verifier) : undefined,
      insecureSkipVerify: !cfg.verifier,
      verifyToken: cfg.verify_token,
      maxBytes: cfg.max_bytes,
      inbox: cfg.inbox ?? undefined,
      startConsumers: false,
    })
    // The glue answers [status, text]; the counts come from the same core Receiver.
    const native = new Receiver({ verifyToken: cfg.verify_token, maxBytes: cfg.max_bytes },
      cfg.verifier ? new Verifier(cfg.verifier) : null, cfg.inbox ? new Inbox(cfg.inbox) : null)
    const replies = []
    for (const req of input.requests) {
      const headers = req.headers.flat()
      const [status, body] = await glue.handle(req.method, req.query, headers, Buffer.from(req.body))
      const r = await native.handle(req.method, req.query, headers, Buffer.from(req.body))
      assert.equal(r.status, status)
      replies.push({
        status, body,
        events: JSON.parse(r.eventsJson).map((e) => e.kind),
        duplicates: r.duplicates,
        stale: r.stale,
      })
    }
    await glue.close()
    assert.deepEqual({ replies }, want)
  })
}
