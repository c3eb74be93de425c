// Hostile and careless input (issue 16): options never wrap silently, every
// thrown error has the documented shape, JSON inputs follow the same rules as
// Python (lone surrogates, BigInt, __proto__, nesting), and events keep their
// payload whatever their type is called.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import wa360 from '../wa360.js'

const { Client, Deduper, StatusFold, Verifier, Sandbox, buildMessage, parseWebhook, ErrorCodes } = wa360
const TO = '15555550123'

function throwsInvalid(fn, field) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, String(e))
    assert.equal(e.code, 'invalid_argument', e.message)
    assert.ok(ErrorCodes.includes(e.code))
    if (field !== undefined) assert.equal(e.field, field, e.message)
    return true
  })
}

// -- item 6: options are range-checked, unknown keys rejected ------------------------------

test('Client options: every number is range-checked and names the option', () => {
  const base = { apiKey: 'k', baseUrl: 'http://127.0.0.1:9' }
  for (const [key, bad] of [
    ['maxRetries', -1], ['maxRetries', 4294967295], ['maxRetries', 1.5], ['maxRetries', 101],
    ['timeoutMs', -1], ['timeoutMs', 0], ['timeoutMs', 1e30], ['timeoutMs', NaN], ['timeoutMs', Infinity],
    ['connectTimeoutMs', -5], ['maxRetries', '3'],
  ]) {
    throwsInvalid(() => new Client({ ...base, [key]: bad }), key)
  }
  throwsInvalid(() => new Client({ ...base, maxRetry: 3 }), 'maxRetry')
  throwsInvalid(() => new Client({ ...base, timeout: 5 }), 'timeout')
  // in range: accepted; undefined members count as absent
  assert.ok(new Client({ ...base, maxRetries: 0, timeoutMs: 1500.5, connectTimeoutMs: undefined }))
})

test('Deduper / StatusFold options: ttlMs and capacity are range-checked, unknown keys rejected', () => {
  for (const Cls of [Deduper, StatusFold]) {
    for (const [key, bad] of [['ttlMs', -5], ['ttlMs', NaN], ['ttlMs', 0], ['ttlMs', 1e30], ['capacity', -1], ['capacity', 0], ['capacity', 2.5], ['capacity', 1e12]]) {
      throwsInvalid(() => new Cls({ [key]: bad }), key)
    }
    throwsInvalid(() => new Cls({ ttl: 5 }), 'ttl')
    throwsInvalid(() => new Cls({ capacity: 10, extra: true }), 'extra')
    assert.ok(new Cls({ capacity: 10, ttlMs: 1000 }))
    assert.ok(new Cls())
    assert.ok(new Cls(null))
  }
})

test('send helper options: unknown keys rejected before any request', async () => {
  const c = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  await assert.rejects(c.sendText(TO, 'hi', { replyTo: 'wamid.X', callbackdata: 'typo' }), (e) => {
    assert.equal(e.code, 'invalid_argument')
    assert.equal(e.field, 'callbackdata')
    return true
  })
  await assert.rejects(c.sendText(TO, 'hi', { previewUrl: 'yes' }), { code: 'invalid_argument', field: 'previewUrl' })
  await assert.rejects(c.setWebhook('https://example.com/hook', { wabaa: true }), { code: 'invalid_argument', field: 'wabaa' })
  await assert.rejects(c.getWebhook({ waba: 1 }), { code: 'invalid_argument', field: 'waba' })
})

test('options are never read through a polluted Object.prototype', () => {
  Object.prototype.baseUrl = 'http://attacker.invalid' // eslint-disable-line no-extend-native
  Object.prototype.maxRetries = 1e9 // eslint-disable-line no-extend-native
  try {
    const c = new Client({ apiKey: 'k' })
    assert.equal(c.baseUrl, 'https://waba-v2.360dialog.io')
    const d = new Deduper({})
    assert.ok(d)
  } finally {
    delete Object.prototype.baseUrl
    delete Object.prototype.maxRetries
  }
})

// -- item 7: every thrown error has .code (and .field where a field is at fault) -------------

test('wrong argument types throw wa360 errors with code and field', () => {
  const v = new Verifier({ basicAuth: { user: 'u', password: 'p' } })
  for (const bad of [null, undefined, 5, 'authorization']) {
    assert.throws(() => v.verify(bad, '{}'), (e) => {
      assert.equal(e.code, 'invalid_argument', e.message)
      assert.ok(ErrorCodes.includes(e.code))
      return true
    })
    assert.equal(v.isValid({ authorization: 'x' }, '{}'), false)
  }
  throwsInvalid(() => v.verify({ authorization: 5 }, '{}'), 'headers.authorization')
  throwsInvalid(() => buildMessage(Buffer.from('{}')), 'message')
  throwsInvalid(() => buildMessage({ to: TO, type: 'text', text: { body: () => 1 } }), 'text.body')
  throwsInvalid(() => buildMessage({ to: TO, type: 'text', text: { body: 1n << 70n } }), 'text.body')
  throwsInvalid(() => buildMessage({ to: TO, type: 'location', location: { latitude: NaN, longitude: 1 } }), 'location.latitude')
  throwsInvalid(() => new Verifier({ basicAuth: { user: 'u', password: 'p' }, secret: 'x' }))
})

test('every entry point, given any wrong argument, throws or rejects with a wa360 error', async () => {
  const bad = [null, undefined, 5, 'x', {}, [], Buffer.from('x'), 1n, Symbol('s'), () => 1, NaN, '\ud800']
  const c = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  const v = new Verifier({ basicAuth: { user: 'u', password: 'p' } })
  const d = new Deduper()
  const f = new StatusFold()
  const targets = []
  for (const n of ['buildMessage', 'parseWebhook', 'parseWebhookToJson', 'hubChallenge', 'hubChallengeFromQuery', 'validateWebhookUrl', 'validateWebhookSettings', 'signWebhook']) {
    targets.push([n, (...a) => wa360[n](...a), 4])
  }
  // Every method along the prototype chain (Client is a JS subclass of the native class).
  const methods = new Set()
  for (let p = Object.getPrototypeOf(c); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) methods.add(n)
  }
  for (const n of methods) {
    if (n !== 'constructor' && typeof c[n] === 'function') targets.push([`Client.${n}`, (...a) => c[n](...a), 4])
  }
  for (const n of ['verify', 'isValid']) targets.push([`Verifier.${n}`, (...a) => v[n](...a), 2])
  for (const n of ['isNew', 'forget']) targets.push([`Deduper.${n}`, (...a) => d[n](...a), 1])
  for (const n of ['apply', 'state']) targets.push([`StatusFold.${n}`, (...a) => f[n](...a), 1])
  for (const C of [Client, Verifier, Deduper, StatusFold]) targets.push([`new ${C.name}`, (...a) => new C(...a), 1])
  const foreign = []
  for (const [name, fn, arity] of targets) {
    for (let pos = 0; pos < arity; pos++) {
      for (const b of bad) {
        const args = [TO, 'x', 'y', 'z'].slice(0, arity)
        args[pos] = b
        let err = null
        try {
          const r = fn(...args)
          if (r && typeof r.then === 'function') await r.catch((x) => { err = x })
        } catch (x) { err = x }
        if (err && !wa360.isWa360Error(err)) foreign.push(`${name} arg ${pos}: ${err && err.message}`)
      }
    }
  }
  assert.deepEqual(foreign, [])
  assert.ok(targets.length > 25)
})

// -- item 8: buildMessage follows the same rules as Python -----------------------------------

test('lone surrogates are rejected, not sent as U+FFFD', async () => {
  throwsInvalid(() => buildMessage({ to: TO, type: 'text', text: { body: 'a\ud800b' } }), 'text.body')
  throwsInvalid(() => buildMessage({ to: TO, type: 'text', text: { ['k\udc00']: 'x' } }), 'text')
  const c = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  await assert.rejects(c.sendText(TO, 'x\ud800'), { code: 'invalid_argument' })
  await assert.rejects(c.sendText('1555\udc00', 'x'), { code: 'invalid_argument' })
  // a valid pair is text like any other
  assert.equal(buildMessage({ to: TO, type: 'text', text: { body: '\ud83d\ude00' } }).text.body, '😀')
})

test('string arguments with lone surrogates are invalid_argument naming the argument', async () => {
  const c = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  await assert.rejects(c.markRead('wamid.\ud800'), { code: 'invalid_argument', field: 'messageId' })
  await assert.rejects(c.typing(5), { code: 'invalid_argument', field: 'messageId' })
  await assert.rejects(c.mediaInfo('\ud800'), { code: 'invalid_argument', field: 'mediaId' })
  await assert.rejects(c.downloadMediaUrl('https://x\ud800'), { code: 'invalid_argument', field: 'url' })
  await assert.rejects(c.uploadMedia(Buffer.from('x'), 'image/\ud800', 'f'), { code: 'invalid_argument', field: 'mimeType' })
  await assert.rejects(c.setWebhook('https://example.com/\ud800'), { code: 'invalid_argument', field: 'url' })
  await assert.rejects(c.sendReaction(TO, 'wamid.\udc00', '👍'), { code: 'invalid_argument', field: 'reaction.message_id' })
  throwsInvalid(() => wa360.hubChallenge('subscribe', '\ud800', 'c', 't'), 'verifyToken')
  throwsInvalid(() => wa360.validateWebhookUrl('https://example.com/\udfff'), 'url')
})

test('BigInt: within 64 bits it is an integer, beyond it an error (never a string)', () => {
  throwsInvalid(() => buildMessage({ to: TO, type: 'text', text: 1n << 64n }), 'text')
  throwsInvalid(() => buildMessage({ to: TO, type: 'text', text: -(1n << 63n) - 1n }), 'text')
  const b = buildMessage({ to: TO, type: 'location', location: { latitude: 1n, longitude: 2 } })
  assert.equal(b.location.latitude, 1)
})

test('integers beyond 2^53 in a built body come back exact, as BigInt', () => {
  const msg = { to: TO, type: 'interactive', interactive: { type: 'flow', body: 'b', flow_id: '1', flow_cta: 'Go', flow_action: 'navigate', flow_action_payload: { screen: 'S', data: { big: 1n << 63n, neg: -(1n << 60n), small: 5n, list: [9007199254740993n] } } } }
  const data = buildMessage(msg).interactive.action.parameters.flow_action_payload.data
  assert.equal(data.big, 1n << 63n)
  assert.equal(data.neg, -(1n << 60n))
  assert.equal(data.small, 5)
  assert.equal(data.list[0], 9007199254740993n)
})

test('a __proto__ key is kept in the returned body as an own property', () => {
  const input = JSON.parse('{"to":"15555550123","type":"interactive","interactive":{"type":"flow","body":"b","flow_id":"1","flow_cta":"Go","flow_action":"navigate","flow_action_payload":{"screen":"S","data":{"__proto__":{"x":1}}}}}')
  const body = buildMessage(input)
  const data = body.interactive.action.parameters.flow_action_payload.data
  assert.ok(Object.hasOwn(data, '__proto__'))
  assert.deepEqual(Object.getPrototypeOf(data), Object.prototype)
  assert.equal(JSON.stringify(data), '{"__proto__":{"x":1}}')
})

test('parseWebhook limits: maxBytes / maxDepth as Python max_bytes / max_depth, bad ones named', () => {
  const body = Buffer.from(JSON.stringify({ object: 'whatsapp_business_account', entry: [] }))
  assert.deepEqual(parseWebhook(body, { maxBytes: body.length }), [])
  for (const options of [{ maxBytes: body.length - 1 }, { maxDepth: 1 }]) {
    assert.throws(() => parseWebhook(body, options), (e) => e.code === 'webhook_payload', JSON.stringify(options))
  }
  assert.deepEqual(parseWebhook(body.toString(), { maxDepth: 2 }), [])
  for (const [options, field] of [[{ maxBytes: 0 }, 'maxBytes'], [{ maxBytes: 2 ** 41 }, 'maxBytes'], [{ maxDepth: 1.5 }, 'maxDepth'], [{ maxDepth: 'deep' }, 'maxDepth'], [{ maxbytes: 5 }, 'maxbytes']]) {
    throwsInvalid(() => parseWebhook(body, options), field)
  }
  // The receiver reads the same limits by the same rule; -1 and 1.5 are refused too,
  // not wrapped to 4 294 967 295 or cut to 1.
  for (const [options, field] of [[{ maxBytes: 0 }, 'maxBytes'], [{ maxBytes: -1 }, 'maxBytes'], [{ maxBytes: 1.5 }, 'maxBytes'], [{ maxDepth: -1 }, 'maxDepth']]) {
    throwsInvalid(() => new wa360.Receiver(options), field)
  }
  assert.ok(new wa360.Receiver({ maxBytes: 2 ** 32 + 5 })) // above u32, within the 1 TiB ceiling
})

// A sparse array has a length and no memory behind it: it used to be walked index by
// index on the JS thread (new Array(1e7): 12 s and 870 MB; 2^32 - 1: out of memory).
// (Walked, the first array would not finish within the test's time limit.)
test('a sparse or overlong array is refused at once, naming it, before any request', { timeout: 60_000 }, async () => {
  for (const contacts of [new Array(2 ** 32 - 1), new Array(10_001)]) {
    assert.throws(() => buildMessage({ to: TO, type: 'contacts', contacts }),
      (e) => e.code === 'invalid_argument' && e.field === 'contacts' && /10000/.test(e.message))
  }
  const client = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9' })
  await assert.rejects(client.sendContacts(TO, new Array(2 ** 32 - 1)), (e) => e.code === 'invalid_argument')
})

// The same bad argument names the same field as in Python (test_hostile.py has this table):
// a JSON argument's errors used to be named from `message`.
test('send helper arguments name their place in the message, as in Python', async () => {
  const client = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  const cases = [
    ['sendImage', [TO, NaN], 'image'],
    ['sendTemplate', [TO, 'order_update', '\ud800'], 'template.language'],
    ['sendLocation', [TO, NaN, 1], 'location.latitude'],
    ['sendLocation', [TO, 1, Infinity], 'location.longitude'],
    ['sendContacts', [TO, [{ name: { formatted_name: '\ud800' } }]], 'contacts[0].name.formatted_name'],
    ['sendInteractive', [TO, { type: 'button', x: 2n ** 70n }], 'interactive.x'],
    ['sendButtons', [TO, 'pick', [['a', '\ud800']]], 'interactive.buttons[0][1]'],
  ]
  for (const [method, args, field] of cases) {
    await assert.rejects(client[method](...args), (e) => e.code === 'invalid_argument' && e.field === field, `${method}: ${field}`)
  }
})

test('nesting: 64 levels accepted, 65 rejected naming the path (as in Python)', () => {
  const nest = (n) => { let v = 'leaf'; for (let i = 0; i < n; i++) v = { a: v }; return v }
  const msg = (n) => ({ to: TO, type: 'interactive', interactive: { type: 'flow', body: 'b', flow_id: '1', flow_cta: 'Go', flow_action: 'navigate', flow_action_payload: { screen: 'S', data: { d: nest(n) } } } })
  assert.ok(buildMessage(msg(60)))
  throwsInvalid(() => buildMessage(msg(61)), 'interactive.flow_action_payload.data.d' + '.a'.repeat(61))
  const cyclic = { to: TO, type: 'text', text: {} }
  cyclic.text.self = cyclic
  throwsInvalid(() => buildMessage(cyclic))
})

// -- item 9: a type named like a canonical key or an Object.prototype member -----------------

test('a message of type toJSON keeps its payload (under payload)', () => {
  // Raw text: a `__proto__` key in an object literal would set the prototype instead.
  const body = '{"entry":[{"id":"W","changes":[{"field":"messages","value":{"messages":[' +
    '{"id":"wamid.T","type":"toJSON","toJSON":{"body":"kept"}},' +
    '{"id":"wamid.P","type":"__proto__","__proto__":{"p":1}},' +
    '{"id":"wamid.S","type":"status","status":{"s":1}}]}}]}]}'
  const [t, p, s] = parseWebhook(body)
  assert.deepEqual(t.payload, { body: 'kept' })
  assert.equal(typeof t.toJSON, 'function')
  assert.deepEqual(JSON.parse(JSON.stringify(t)).payload, { body: 'kept' })
  assert.deepEqual(p.payload, { p: 1 })
  // The `__proto__` payload did not become the prototype: p's is every message's.
  assert.equal(Object.getPrototypeOf(p), Object.getPrototypeOf(t))
  assert.equal('p' in p, false)
  assert.deepEqual(s.payload, { s: 1 })
  assert.equal(s.status, undefined)
})

// -- item 3: dedupe keys of id-less events never collide ---------------------------------------

test('Deduper keeps id-less events with values no language holds apart', () => {
  const body = (v) => `{"entry":[{"id":"W","changes":[{"field":"messages","value":{"messages":[{"type":"text","text":{"n":${v}}}]}}]}]}`
  const d = new Deduper()
  const evs = ['1e400', '2e400', '9'.repeat(400), '8'.repeat(400)].map((v) => parseWebhook(body(v))[0])
  assert.deepEqual(evs.map((e) => d.isNew(e)), [true, true, true, true])
  assert.equal(d.isNew(parseWebhook(body('1e400'))[0]), false)
  // long ids are keys too (hashed), and a repeat is still a duplicate
  const long = `{"entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"${'w'.repeat(10000)}","type":"text"}]}}]}]}`
  assert.equal(d.isNew(parseWebhook(long)[0]), true)
  assert.equal(d.isNew(parseWebhook(long)[0]), false)
})

test('Deduper reads event keys through own properties (a polluted prototype merges nothing)', () => {
  const body = (v) => `{"entry":[{"id":"W","changes":[{"field":"messages","value":{"messages":[{"type":"text","text":{"body":"${v}"}}]}}]}]}`
  Object.prototype.id = 'wamid.POLLUTED' // eslint-disable-line no-extend-native
  try {
    const d = new Deduper()
    assert.equal(d.isNew(parseWebhook(body('one'))[0]), true)
    assert.equal(d.isNew(parseWebhook(body('two'))[0]), true)
    assert.equal(d.isNew(parseWebhook(body('one'))[0]), false)
  } finally {
    delete Object.prototype.id
  }
})

// -- item 6 end to end: maxRetries is honoured exactly under many rate limits ----------------

let sb
before(async () => { sb = await Sandbox.start({ timeScale: 0.01 }) })
after(async () => { await sb.stop() })

test('maxRetries: 3 under 50 rate limits makes exactly 4 requests', async () => {
  sb.reset()
  sb.fault('rate_limit', { count: 50, retry_after: 0 })
  const c = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 3 })
  await assert.rejects(c.sendText(TO, 'x'), { code: 'rate_limited' })
  assert.equal(sb.requests().filter((r) => r.path === '/messages').length, 4)
})
