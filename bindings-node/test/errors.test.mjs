// Error model: codes, shape, and panics turned into errors (never an abort).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import wa360 from '../wa360.js'

test('ErrorCodes is frozen and lists every core code once', () => {
  assert.ok(Object.isFrozen(wa360.ErrorCodes))
  assert.equal(new Set(wa360.ErrorCodes).size, wa360.ErrorCodes.length)
  for (const c of ['invalid_argument', 'rate_limited', 'outcome_unknown', 'webhook_payload', 'invalid_signature', 'internal']) {
    assert.ok(wa360.ErrorCodes.includes(c), c)
  }
})

test('the ErrorCode union in wa360.d.ts matches the codes of the native core', () => {
  const dts = readFileSync(new URL('../wa360.d.ts', import.meta.url), 'utf8')
  const block = dts.slice(dts.indexOf('export type ErrorCode ='), dts.indexOf('export declare const ErrorCodes'))
  const declared = [...block.matchAll(/\| '([a-z_]+)'/g)].map((m) => m[1])
  assert.deepEqual(declared, [...wa360.ErrorCodes])
})

test('the Wa360Error interface in wa360.d.ts declares exactly the core error fields', () => {
  const dts = readFileSync(new URL('../wa360.d.ts', import.meta.url), 'utf8')
  const start = dts.indexOf('export interface Wa360Error extends Error {')
  const block = dts.slice(start, dts.indexOf('\n}', start))
  const declared = [...block.matchAll(/^  ([A-Za-z]+): /gm)].map((m) => m[1])
  assert.deepEqual(declared, wa360._errorFields().filter((f) => f !== 'message'))
})

test('an argument of the wrong JS type carries the same fields as a core error', () => {
  assert.throws(() => wa360.parseWebhook(123), (e) => {
    assert.equal(e.code, 'invalid_argument')
    assert.deepEqual(new Set([...Object.keys(e), 'message']), new Set([...wa360._errorFields(), 'napiCode']))
    return true
  })
})

test('a Rust panic in a sync call becomes an Error with code internal', () => {
  assert.throws(() => wa360._panicForTests(), (e) => {
    assert.ok(e instanceof Error)
    assert.equal(e.code, 'internal')
    assert.match(e.message, /deliberate panic/)
    assert.ok(wa360.isWa360Error(e, 'internal'))
    return true
  })
})

test('a Rust panic inside a future rejects with code internal and the process lives on', async () => {
  await assert.rejects(wa360._panicForTestsAsync(), (e) => {
    assert.ok(e instanceof Error)
    assert.equal(e.code, 'internal')
    return true
  })
  // still usable afterwards
  assert.throws(() => wa360._panicForTests(), { code: 'internal' })
})

test('isWa360Error rejects foreign errors', () => {
  assert.equal(wa360.isWa360Error(new Error('x')), false)
  assert.equal(wa360.isWa360Error({ code: 'internal' }), false)
  const e = Object.assign(new Error('x'), { code: 'ENOENT' })
  assert.equal(wa360.isWa360Error(e), false)
})

test('constructors given the wrong JS type throw invalid_argument too, and stay the native classes', () => {
  for (const [name, make] of [
    ['Campaign', () => new wa360.Campaign('t', [{}])],
    ['Inbox', () => new wa360.Inbox(5)],
    ['Ledger', () => new wa360.Ledger(5, 6)],
  ]) {
    assert.throws(make, (e) => isWa360ErrorWithNapiCode(e), name)
  }
  const inbox = new wa360.Inbox('memory://')
  assert.ok(inbox instanceof wa360.Inbox)
  assert.equal(Object.getPrototypeOf(inbox), wa360.Inbox.prototype)
  class MyInbox extends wa360.Inbox {}
  assert.ok(new MyInbox('memory://') instanceof MyInbox)
  assert.ok(wa360.Campaign.fromCsv('order_update', 'en_US', 'to\n15555550101\n') instanceof wa360.Campaign)
})
const isWa360ErrorWithNapiCode = (e) => wa360.isWa360Error(e, 'invalid_argument') && typeof e.napiCode === 'string'

test('arguments of the wrong JS type give invalid_argument (sync throw, or a rejection for Promise methods)', async () => {
  assert.throws(() => wa360.parseWebhook(123), (e) => e.code === 'invalid_argument' && typeof e.napiCode === 'string')
  assert.throws(() => wa360.buildMessage('nope'), { code: 'invalid_argument' })
  assert.throws(() => wa360.validateWebhookUrl(42), { code: 'invalid_argument' })
  const c = new wa360.Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9' })
  const p = c.sendText(1, 2)
  assert.ok(p instanceof Promise)
  await assert.rejects(p, { code: 'invalid_argument' })
  await assert.rejects(c.markRead(null), { code: 'invalid_argument' })
})
