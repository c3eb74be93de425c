// The shared conformance tree (tests/conformance/<suite>/<case>/), through the
// Node API. Each suite runs when its directory exists (skipped, visibly, until then).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import * as wa360 from '../wa360.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tests/conformance')

function cases(suite) {
  const dir = path.join(ROOT, suite)
  if (!existsSync(dir)) return null
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const at = (f) => path.join(dir, name, f)
      const read = (f) => (existsSync(at(f)) ? readFileSync(at(f)) : null)
      return { name, at, read, json: (f) => { const b = read(f); return b === null ? null : JSON.parse(b.toString('utf8')) } }
    })
}

/** Assert `fn` throws a wa360 error matching expected_error.json ({code, field?}). */
function assertThrowsExpected(fn, expected) {
  assert.throws(fn, (e) => {
    assert.ok(wa360.isWa360Error(e), `not a wa360 error: ${e}`)
    assert.equal(e.code, expected.code, e.message)
    if (expected.field !== undefined) assert.equal(e.field, expected.field, e.message)
    return true
  })
}

function suite(name, runCase) {
  const list = cases(name)
  describe(`conformance/${name}`, { skip: list === null ? `tests/conformance/${name} does not exist yet` : false }, () => {
    for (const c of list ?? []) test(c.name, () => runCase(c))
  })
}

suite('webhook_parse', (c) => {
  const input = c.read('input.json')
  const err = c.json('expected_error.json')
  if (err) {
    assertThrowsExpected(() => wa360.parseWebhook(input), err)
    assertThrowsExpected(() => wa360.parseWebhook(input.toString('utf8')), err)
    return
  }
  const want = c.json('expected.json')
  const events = wa360.parseWebhook(input)
  assert.deepEqual(JSON.parse(JSON.stringify(events)), want)
  // toJSON() is the canonical form, and serialising the events gives the very
  // text the core produced (byte for byte, the cross-language contract).
  assert.deepEqual(events.map((e) => e.toJSON()), want)
  assert.equal(JSON.stringify(events), wa360.parseWebhookToJson(input))
  // string input gives the same events
  assert.deepEqual(wa360.parseWebhook(input.toString('utf8')), events)
})

suite('message_build', (c) => {
  const input = c.json('input.json')
  const err = c.json('expected_error.json')
  if (err) return assertThrowsExpected(() => wa360.buildMessage(input), err)
  assert.deepEqual(wa360.buildMessage(input), c.json('expected.json'))
})

suite('webhook_verify', (c) => {
  const input = c.json('input.json')
  const expected = c.json('expected.json') ?? c.json('expected_error.json')
  runVerifyCase(input, expected)
})

suite('webhook_url', (c) => {
  const input = c.json('input.json')
  const err = c.json('expected_error.json')
  const url = typeof input === 'string' ? input : input.url
  if (err) return assertThrowsExpected(() => wa360.validateWebhookUrl(url), err)
  wa360.validateWebhookUrl(url)
})

// webhook_verify cases: {verifier: {...core neutral form...}, headers: [[name, value], ...] | {..},
// body: "..."} → expected.json {ok: true} or expected_error.json {code}.
function runVerifyCase(input, expected) {
  const spec = input.verifier ?? {}
  const v = new wa360.Verifier({
    basicAuth: spec.basic_auth,
    headers: spec.headers,
    appSecret: spec.app_secret,
  })
  const headers = {}
  for (const [k, val] of Array.isArray(input.headers) ? input.headers : Object.entries(input.headers ?? {})) {
    const key = k.toLowerCase()
    headers[key] = key in headers ? [].concat(headers[key], val) : val
  }
  const body = input.body ?? ''
  if (expected && expected.code) {
    assertThrowsExpected(() => v.verify(headers, body), expected)
    assert.equal(v.isValid(headers, body), false)
  } else {
    v.verify(headers, body)
    assert.equal(v.isValid(headers, body), true)
  }
}
