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
  assert.throws(() => wa360.signWebhook(123, 'body'), (e) => {
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
  // A campaign that is not one is napi's class check; the other arguments are read by hand
  // and name their place (see the Campaign, Ledger and Inbox test below).
  assert.throws(() => new wa360.Ledger('sqlite:///tmp/x.db', 6), (e) => isWa360ErrorWithNapiCode(e))
  for (const [field, make] of [
    ['language', () => new wa360.Campaign('t', [{}])],
    ['inbox', () => new wa360.Inbox(5)],
  ]) {
    assert.throws(make, (e) => e.code === 'invalid_argument' && e.field === field, field)
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
  assert.throws(() => wa360.signWebhook(123, 'body'), (e) => e.code === 'invalid_argument' && typeof e.napiCode === 'string')
  assert.throws(() => wa360.buildMessage('nope'), { code: 'invalid_argument' })
  assert.throws(() => wa360.validateWebhookUrl(42), { code: 'invalid_argument' })
  const c = new wa360.Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9' })
  const p = c.sendText(1, 2)
  assert.ok(p instanceof Promise)
  await assert.rejects(p, { code: 'invalid_argument' })
  await assert.rejects(c.markRead(null), { code: 'invalid_argument' })
})

test('a body or data argument of the wrong JS type names the argument, in every function that takes one', async () => {
  const named = (field) => (e) => {
    assert.equal(e.code, 'invalid_argument')
    assert.equal(e.field, field)
    assert.match(e.rule, /^must be a Buffer/)
    return true
  }
  for (const bad of [123, {}, null, undefined, [1, 2], true]) {
    assert.throws(() => wa360.parseWebhook(bad), named('body'), String(bad))
    assert.throws(() => wa360.parseWebhook(bad, { maxBytes: 10 }), named('body'))
    assert.throws(() => wa360.parseWebhookToJson(bad), named('body'))
    assert.throws(() => wa360.signWebhook('secret', bad), named('body'))
  }
  const verifier = new wa360.Verifier({ headers: { 'x-token': 'abc' } })
  assert.throws(() => verifier.verify({ 'x-token': 'abc' }, 42), named('body'))
  assert.throws(() => verifier.isValid({ 'x-token': 'abc' }, 42), named('body'))
  const c = new wa360.Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  for (const bad of ['bytes as text', 12, {}, null]) {
    await assert.rejects(c.uploadMedia(bad, 'image/png', 'a.png'), named('data'))
    await assert.rejects(c.uploadResumable(bad, 'application/pdf', 'a.pdf'), named('data'))
    await assert.rejects(c.setProfilePicture(bad, 'image/jpeg'), named('data'))
  }
  // The accepted types still go through (to the closed port: a connection error).
  await assert.rejects(c.uploadMedia(new Uint8Array([1, 2, 3]), 'image/png', 'a.png'), { code: 'connection' })
  await assert.rejects(c.uploadMedia(Buffer.from('abc'), 'image/png', 'a.png'), { code: 'connection' })
  assert.equal(wa360.parseWebhookToJson(new TextEncoder().encode('{"entry":[]}')), '[]')
  assert.equal(wa360.parseWebhookToJson('{"entry":[]}'), '[]')
})

test('list options are named as JavaScript spells them in errors (pageSize, not page_size)', async () => {
  const c = new wa360.Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  const first = async (it) => { for await (const x of it) return x }
  for (const pageSize of [0, 5000, 'x', -1]) {
    await assert.rejects(first(c.listTemplates({ pageSize })), { code: 'invalid_argument', field: 'pageSize' }, String(pageSize))
    await assert.rejects(first(c.listBlockedUsers({ pageSize })), { code: 'invalid_argument', field: 'pageSize' }, String(pageSize))
  }
  await assert.rejects(first(c.listTemplates({ limit: -1 })), { code: 'invalid_argument', field: 'limit' })
  await assert.rejects(first(c.listTemplates({ pageSise: 10 })), { code: 'invalid_argument', field: 'pageSise' })
})

test('Campaign, Ledger and Inbox arguments of the wrong type name their place (as Python does)', () => {
  const named = (field) => (e) => { assert.equal(e.code, 'invalid_argument'); assert.equal(e.field, field, e.message); return true }
  assert.throws(() => new wa360.Campaign('t', 'en', [{ to: '15555550123', params: [] }, { to: 15555550124, params: [] }]), named('recipients[1].to'))
  assert.throws(() => new wa360.Campaign('t', 'en', [{ to: '15555550123', params: 'Maya' }]), named('recipients[0].params'))
  assert.throws(() => new wa360.Campaign('t', 'en', [{ to: '15555550123', params: ['Maya', 7] }]), named('recipients[0].params[1]'))
  assert.throws(() => new wa360.Campaign('t', 'en', ['15555550123']), named('recipients[0]'))
  assert.throws(() => new wa360.Campaign('t', 'en', 5), named('recipients'))
  assert.throws(() => new wa360.Campaign(5, 'en', []), named('template'))
  assert.throws(() => new wa360.Campaign('t', null, []), named('language'))
  assert.throws(() => wa360.Campaign.fromCsv('t', 'en', 42), named('csvText'))
  const c = new wa360.Campaign('t', 'en', [{ to: '+1 555 555 0123', params: ['Maya'] }])
  assert.equal(c.size, 1)
  assert.throws(() => new wa360.Ledger(5, c), named('ledger'))
  assert.throws(() => wa360.Ledger.openExisting(undefined), named('ledger'))
  assert.throws(() => new wa360.Inbox(5), named('inbox'))
})
