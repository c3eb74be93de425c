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
  // toJSON() is the canonical form, and serialising the events gives the
  // value the core produced (the core copies wire pieces verbatim, so escapes
  // and number spellings such as `\ufffd` or `1e-400` may differ in text;
  // values are the cross-language contract).
  assert.deepEqual(events.map((e) => e.toJSON()), want)
  assert.deepEqual(JSON.parse(JSON.stringify(events)), JSON.parse(wa360.parseWebhookToJson(input)))
  // string input gives the same events
  assert.deepEqual(wa360.parseWebhook(input.toString('utf8')), events)
})

suite('message_build', (c) => {
  const input = c.json('input.json')
  const err = c.json('expected_error.json')
  if (err) return assertThrowsExpected(() => wa360.buildMessage(input), err)
  assert.deepEqual(wa360.buildMessage(input), c.json('expected.json'))
})

/** Assert an expected_error.json ({code, field?, message_contains?}) against a thrown error. */
function checkError(e, expected, secrets = []) {
  assert.ok(wa360.isWa360Error(e), `not a wa360 error: ${e}`)
  assert.equal(e.code, expected.code, e.message)
  if (expected.field !== undefined) assert.equal(e.field, expected.field, e.message)
  if (expected.message_contains !== undefined) assert.ok(e.message.includes(expected.message_contains), e.message)
  for (const s of secrets) if (s) assert.ok(!e.message.includes(s), `error message leaks a secret: ${e.message}`)
  return true
}

function verifySecrets(v = {}) {
  const out = []
  if (v.basic_auth) {
    out.push(v.basic_auth.password)
    out.push(Buffer.from(`${v.basic_auth.user}:${v.basic_auth.password}`).toString('base64'))
  }
  for (const val of Object.values(v.headers ?? {})) out.push(val)
  if (v.app_secret) out.push(v.app_secret)
  return out.filter((s) => typeof s === 'string' && s.length >= 4)
}

suite('webhook_verify', (c) => {
  const input = c.json('input.json')
  const ok = c.json('expected.json')
  const err = c.json('expected_error.json')
  if (input.challenge || input.challenge_query) {
    const run = input.challenge
      ? () => wa360.hubChallenge(input.challenge.mode, input.challenge.verify_token, input.challenge.challenge, input.challenge.expected_token)
      : () => wa360.hubChallengeFromQuery(input.challenge_query.query, input.challenge_query.expected_token)
    const token = (input.challenge ?? input.challenge_query).expected_token
    if (err) return assert.throws(run, (e) => checkError(e, err, token && token.length >= 4 ? [token] : []))
    return assert.equal(run(), ok.response)
  }
  const secrets = verifySecrets(input.verifier)
  let verifier
  try {
    // The neutral (snake_case) form goes straight through, as in Rust and Python.
    verifier = new wa360.Verifier(input.verifier)
  } catch (e) {
    assert.ok(err, `unexpected error building the verifier: ${e.message}`)
    return checkError(e, err, secrets)
  }
  // Received headers in Node's `req.headers` shape: lower-case names, a list for repeats.
  const headers = {}
  for (const [k, val] of input.headers ?? []) {
    const key = k.toLowerCase()
    headers[key] = key in headers ? [].concat(headers[key], val) : val
  }
  const body = input.body_base64 !== undefined ? Buffer.from(input.body_base64, 'base64') : Buffer.from(input.body ?? '', 'utf8')
  if (err) {
    assert.throws(() => verifier.verify(headers, body), (e) => checkError(e, err, secrets))
    assert.equal(verifier.isValid(headers, body), false)
  } else {
    verifier.verify(headers, body)
    assert.equal(verifier.isValid(headers, body), true)
  }
})

suite('webhook_url', (c) => {
  const input = c.json('input.json')
  const err = c.json('expected_error.json')
  const secrets = Object.values(input.headers ?? {}).filter((s) => typeof s === 'string' && s.length >= 4)
  if (err) return assert.throws(() => wa360.validateWebhookSettings(input), (e) => checkError(e, err, secrets))
  wa360.validateWebhookSettings(input)
})

// parseWebhook reads a string argument through its own UTF-16 → UTF-8 path,
// and returns non-ASCII results through its own UTF-8 → UTF-16 path
// (bindings-node/src/webhook.rs): non-ASCII text, astral characters and lone
// surrogates (U+FFFD) give the same events as the UTF-8 bytes, wherever the
// character falls against the 16-unit steps of the conversions.
test('parseWebhook(string) reads non-ASCII text as the UTF-8 bytes do', () => {
  const edges = [14, 15, 16, 17, 31, 32].map((n) => 'a'.repeat(n) + 'é' + 'b'.repeat(n) + '中文' + 'c'.repeat(16))
  for (const text of ['plain', 'é ünï € 😀 — ok', 'x😀'.repeat(50), 'ab\ud800cd', '\udc00', 'end\ud83d', 'ÿ', '😀', ...edges]) {
    const body = JSON.stringify({ entry: [{ id: 'W', changes: [{ field: 'messages', value: { messages: [{ id: 'wamid.U', type: 'text', text: { body: text } }] } }] }] })
    const fromString = wa360.parseWebhook(body)
    assert.deepEqual(fromString, wa360.parseWebhook(Buffer.from(body, 'utf8')))
    assert.equal(fromString[0].text.body, Buffer.from(text, 'utf8').toString('utf8'))
  }
})
