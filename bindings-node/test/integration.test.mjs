// Integration against the local sandbox over real HTTP on 127.0.0.1:
// every message type, media, webhook registration, every error class,
// concurrency, and webhook receipt through the Express and Fastify receivers.
import { test, before, after, beforeEach, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { inspect } from 'node:util'
import { Client, Sandbox, Verifier, buildMessage, isWa360Error, _errorFields } from '../wa360.mjs'
import { createApp } from '../examples/express-receiver.mjs'
import { createServer } from '../examples/fastify-receiver.mjs'
import { waitFor, text } from './helpers.mjs'

const TO = '15555550123'
let sb
let client

before(async () => {
  sb = await Sandbox.start({ timeScale: 0.01 })
  client = new Client({ apiKey: sb.apiKey, baseUrl: sb.url })
})
after(async () => { await sb.stop() })
beforeEach(() => sb.reset())

const sent = () => sb.requests().filter((r) => r.path === '/messages')

describe('sending every message type', () => {
  const specs = {
    text: { to: TO, type: 'text', text: { body: 'hello', preview_url: true }, reply_to: 'wamid.PREV', callback_data: 'cb-1' },
    image_link: { to: TO, type: 'image', image: { link: 'https://cdn.example.com/a.jpg', caption: 'pic' } },
    image_id: { to: TO, type: 'image', image: { id: '1234567890' } },
    video: { to: TO, type: 'video', video: { link: 'https://cdn.example.com/a.mp4', caption: 'clip' } },
    audio: { to: TO, type: 'audio', audio: { id: '1234567890' } },
    document: { to: TO, type: 'document', document: { link: 'https://cdn.example.com/a.pdf', filename: 'a.pdf', caption: 'doc' } },
    sticker: { to: TO, type: 'sticker', sticker: { id: '1234567890' } },
    location: { to: TO, type: 'location', location: { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Mitte' } },
    reaction: { to: TO, type: 'reaction', reaction: { message_id: 'wamid.X', emoji: '👍' } },
  }
  for (const [name, spec] of Object.entries(specs)) {
    test(`${name}: send() posts exactly buildMessage(spec) and resolves the wamid`, async () => {
      const r = await client.send(spec)
      assert.match(r.messageId, /^wamid\./)
      assert.equal(r.messages[0].id, r.messageId)
      const reqs = sent()
      assert.equal(reqs.length, 1)
      assert.deepEqual(reqs[0].body, buildMessage(spec))
    })
  }

  test('helpers build the same bodies as the neutral description', async () => {
    await client.sendText(TO, 'hi', { previewUrl: true, replyTo: 'wamid.A', callbackData: 'cb' })
    await client.sendImage(TO, 'https://cdn.example.com/b.png', { caption: 'c' })
    await client.sendLocation(TO, 1.5, 2.5)
    await client.sendReaction(TO, 'wamid.B', '🎉')
    const bodies = sent().map((r) => r.body)
    assert.deepEqual(bodies, [
      buildMessage({ to: TO, type: 'text', text: { body: 'hi', preview_url: true }, reply_to: 'wamid.A', callback_data: 'cb' }),
      buildMessage({ to: TO, type: 'image', image: { link: 'https://cdn.example.com/b.png', caption: 'c' } }),
      buildMessage({ to: TO, type: 'location', location: { latitude: 1.5, longitude: 2.5 } }),
      buildMessage({ to: TO, type: 'reaction', reaction: { message_id: 'wamid.B', emoji: '🎉' } }),
    ])
  })

  test('interactive buttons, contacts and a template are accepted by the API', async () => {
    const interactive = { type: 'button', body: 'Confirm your slot?', buttons: [{ id: 'yes', title: 'Yes' }, { id: 'no', title: 'No' }] }
    const contacts = [{ name: { formatted_name: 'Tom Okonkwo', first_name: 'Tom' }, phones: [{ phone: '+44 7700 900123', type: 'CELL' }] }]
    const template = { name: 'order_update', language: { code: 'en_US' } }
    for (const [kind, payload] of [['interactive', interactive], ['contacts', contacts], ['template', template]]) {
      const body = buildMessage({ to: TO, type: kind, [kind]: payload })
      const r = await client.send({ to: TO, type: kind, [kind]: payload })
      assert.match(r.messageId, /^wamid\./)
      assert.deepEqual(sent().at(-1).body, body)
    }
  })

  test('invalid input is rejected before any request, naming the field', async () => {
    await assert.rejects(client.sendText(TO, ''), (e) => isWa360Error(e, 'invalid_argument') && e.field === 'text.body')
    await assert.rejects(client.send({ to: TO, type: 'text', text: { body: 'x' }, bogus: 1 }), { code: 'invalid_argument', field: 'bogus' })
    await assert.rejects(client.sendText(TO, 'x'.repeat(4097)), { code: 'invalid_argument' })
    await assert.rejects(client.send({ type: 'text', text: { body: 'x' } }), { code: 'invalid_argument' })
    assert.equal(sb.requests().length, 0)
  })

  test('markRead and typing post the status bodies', async () => {
    await client.markRead('wamid.IN1')
    await client.typing('wamid.IN2')
    const [a, b] = sent().map((r) => r.body)
    assert.deepEqual(a, buildMessage({ type: 'mark_read', message_id: 'wamid.IN1' }))
    assert.deepEqual(b, buildMessage({ type: 'typing', message_id: 'wamid.IN2' }))
  })
})

test('media: upload, look up, download through the host rule, delete', async () => {
  const bytes = randomBytes(2048)
  const id = await client.uploadMedia(bytes, 'image/png', 'x.png')
  assert.match(id, /^\d+$/)
  const info = await client.mediaInfo(id)
  assert.equal(info.id, id)
  assert.equal(info.mimeType, 'image/png')
  assert.equal(info.fileSize, 2048)
  assert.match(info.url, /^https:\/\/lookaside\.fbsbx\.com\//)
  // What prints leaves out the URL (its `hash` is an access token) and the file hash.
  const printed = inspect(info)
  assert.ok(printed.includes(id) && printed.includes('image/png'), printed)
  assert.ok(!printed.includes('lookaside') && !printed.includes(info.sha256), printed)
  assert.equal(JSON.parse(JSON.stringify(info)).url, info.url)
  const got = await client.downloadMedia(id)
  assert.ok(Buffer.isBuffer(got))
  assert.ok(got.equals(bytes))
  assert.ok((await client.downloadMediaUrl(info.url)).equals(bytes))
  await client.deleteMedia(id)
  await assert.rejects(client.mediaInfo(id), (e) => isWa360Error(e) && e.status === 404)
})

test('webhook registration at both levels, validated before any request', async () => {
  assert.equal(await client.getWebhook(), null)
  await client.setWebhook('https://hooks.example.com/wa', { headers: { Authorization: 'Basic aG9vazpzZWNyZXQ=' } })
  const got = await client.getWebhook()
  assert.equal(got.url, 'https://hooks.example.com/wa')
  await client.setWebhook('https://waba.example.com/all', { waba: true })
  assert.equal((await client.getWebhook({ waba: true })).url, 'https://waba.example.com/all')
  const before = sb.requests().length
  await assert.rejects(client.setWebhook('http://hooks.example.com/wa'), { code: 'invalid_argument', field: 'url' })
  await assert.rejects(client.setWebhook('https://hooks.example.com:8443/wa'), { code: 'invalid_argument', field: 'url' })
  assert.equal(sb.requests().length, before)
})

test('a header given as undefined, or headers as a Map or Headers, is refused, not dropped from the registration', async () => {
  // `{ Authorization: process.env.UNSET }` registered no header at all: the old
  // registration, with its auth, was replaced by one without, and every delivery failed the
  // receiver's check. So did a Map or a Headers, which JSON.stringify writes as {}.
  await client.setWebhook('https://hooks.example.com/keep', { headers: { Authorization: 'Basic aG9vazpzZWNyZXQ=' } })
  const before = sb.requests().length
  const given = [
    [{ headers: { Authorization: undefined } }, 'headers.Authorization'],
    [{ headers: new Map([['Authorization', 'Basic aG9vazpzZWNyZXQ=']]) }, 'headers'],
    [{ headers: new Headers({ Authorization: 'Basic aG9vazpzZWNyZXQ=' }) }, 'headers']
  ]
  for (const [options, field] of given) {
    await assert.rejects(client.setWebhook('https://hooks.example.com/wa', options), { code: 'invalid_argument', field })
  }
  assert.equal(sb.requests().length, before, 'no request made')
  assert.equal((await client.getWebhook()).url, 'https://hooks.example.com/keep')
  // At the top level undefined is "not given", as before.
  await client.setWebhook('https://hooks.example.com/top', { headers: undefined, waba: undefined })
  assert.equal((await client.getWebhook()).url, 'https://hooks.example.com/top')
})

test('a Verifier with a header check given as undefined, or as a Map, is refused, not built without it', async () => {
  const basicAuth = { user: 'hook', password: 'secret-password' }
  assert.throws(() => new Verifier({ basicAuth, headers: { 'X-Webhook-Key': undefined } }), { code: 'invalid_argument', field: 'headers.X-Webhook-Key' })
  assert.throws(() => new Verifier({ headers: new Map([['X-Webhook-Key', 'k']]) }), { code: 'invalid_argument', field: 'headers' })
  assert.throws(() => new Verifier({ basicAuth: { user: 'hook', password: undefined } }), { code: 'invalid_argument', field: 'basicAuth.password' })
  assert.throws(() => new Verifier(new Map([['basicAuth', basicAuth]])), { code: 'invalid_argument', field: 'options' })
  // Objects made in another realm (Jest runs tests in a vm context) or by a config library
  // (a class instance) are read as before.
  const vm = await import('node:vm')
  assert.ok(new Verifier(vm.runInNewContext("({ basicAuth: { user: 'hook', password: 'secret-password' }, headers: { 'X-Webhook-Key': 'k' } })")))
  class Config {}
  assert.ok(new Verifier(Object.setPrototypeOf({ basicAuth: Object.setPrototypeOf({ ...basicAuth }, Config.prototype) }, Config.prototype)))
  const v = new Verifier({ basicAuth, headers: { 'X-Webhook-Key': 'k' }, appSecret: undefined })
  const auth = 'Basic ' + Buffer.from('hook:secret-password').toString('base64')
  assert.equal(v.isValid({ authorization: auth }, '{}'), false, 'the header check is kept')
  assert.equal(v.isValid({ authorization: auth, 'x-webhook-key': 'k' }, '{}'), true)
})

describe('every error class', () => {
  const noRetry = () => new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0, timeoutMs: 400 })
  const cases = [
    [{ kind: 'rate_limit', retry_after: 3 }, { code: 'rate_limited', status: 429, apiCode: 130429, retryAfterMs: 3000 }],
    [{ kind: 'meta_error', code: 190 }, { code: 'authentication', status: 401, apiCode: 190 }],
    [{ kind: 'meta_error', code: 10 }, { code: 'permission', status: 403 }],
    [{ kind: 'meta_error', code: 100, details: 'bad param' }, { code: 'invalid_request', status: 400, details: 'bad param' }],
    [{ kind: 'meta_error', code: 131026 }, { code: 'recipient' }],
    [{ kind: 'meta_error', code: 131047 }, { code: 'window_closed' }],
    [{ kind: 'meta_error', code: 132001 }, { code: 'template' }],
    [{ kind: 'meta_error', code: 132068 }, { code: 'flow' }],
    [{ kind: 'meta_error', code: 368 }, { code: 'policy' }],
    [{ kind: 'meta_error', code: 131042 }, { code: 'payment' }],
    [{ kind: 'meta_error', code: 131045 }, { code: 'account' }],
    [{ kind: 'meta_error', code: 131052 }, { code: 'media' }],
    [{ kind: 'meta_error', code: 131000 }, { code: 'transient', status: 500 }],
    [{ kind: 'meta_error', code: 987654 }, { code: 'api_error', apiCode: 987654 }],
    [{ kind: 'dialog360_error' }, { code: 'rate_limited', status: 400 }],
    [{ kind: 'status', status: 502 }, { code: 'outcome_unknown', status: 502 }],
    [{ kind: 'reset_after_body' }, { code: 'outcome_unknown' }],
    [{ kind: 'truncated_json' }, { code: 'outcome_unknown', status: 200 }],
    [{ kind: 'delay', ms: 1200 }, { code: 'outcome_unknown' }],
  ]
  for (const [fault, want] of cases) {
    test(`send with ${JSON.stringify(fault)} rejects with ${want.code}`, async () => {
      sb.addFault({ path: '/messages', count: 1, fault })
      await assert.rejects(noRetry().sendText(TO, 'x'), (e) => {
        assert.ok(e instanceof Error)
        for (const [k, v] of Object.entries(want)) assert.equal(e[k], v, `${k} of ${e.message}`)
        assert.ok(!e.message.includes(sb.apiKey))
        // Exactly the attributes of the core's Error::fields() (null when absent), so a
        // field added in Rust shows up here, as it does in Python.
        assert.deepEqual(new Set([...Object.keys(e), 'message']), new Set(_errorFields()))
        return true
      })
    })
  }

  test('a Meta error arrives with every field the core keeps', async () => {
    sb.fault('meta_error', { code: 131026, details: 'not on WhatsApp', subcode: 42, message: '(#131026) nope' })
    await assert.rejects(noRetry().sendText(TO, 'x'), (e) => {
      const got = Object.fromEntries(_errorFields().map((f) => [f, e[f]]))
      assert.ok(typeof got.fbtraceId === 'string' && got.fbtraceId.length > 0)
      assert.deepEqual(got, {
        code: 'recipient',
        message: e.message,
        status: 400,
        apiCode: 131026,
        subcode: 42,
        errorType: 'OAuthException',
        details: 'not on WhatsApp',
        field: null,
        rule: null,
        retryAfterMs: null,
        fbtraceId: got.fbtraceId,
        traceId: null,
        isTransient: null,
        serverMessage: '(#131026) nope',
      })
      return true
    })
  })

  test('safe-to-repeat requests: timeout, invalid_response, connection', async () => {
    sb.fault('delay', { method: 'GET', path: '/v1/configs/webhook', ms: 1200 })
    await assert.rejects(noRetry().getWebhook(), { code: 'timeout' })
    sb.fault('malformed_json', { method: null, path: '/v1/configs/webhook' })
    await assert.rejects(noRetry().getWebhook(), { code: 'invalid_response', status: 200 })
    const dead = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
    await assert.rejects(dead.getWebhook(), { code: 'connection' })
  })

  test('a wrong API key rejects with authentication', async () => {
    const bad = new Client({ apiKey: 'wrong-key', baseUrl: sb.url, maxRetries: 0 })
    await assert.rejects(bad.sendText(TO, 'x'), { code: 'authentication', status: 401 })
  })

  test('a send whose outcome is unknown is never repeated; a GET is retried', async () => {
    sb.addFault({ path: '/messages', count: 1, fault: { kind: 'reset_after_body' } })
    await assert.rejects(client.sendText(TO, 'once'), { code: 'outcome_unknown' })
    assert.equal(sent().length, 1)
    sb.fault('status', { method: 'GET', path: '/v1/configs/webhook', status: 503 })
    assert.equal(await client.getWebhook(), null)
    assert.equal(sb.requests().filter((r) => r.path === '/v1/configs/webhook').length, 2)
  })
})

test('sandbox: addFault, filtered requests and the registered webhooks read as in Python', async () => {
  sb.addFault({ method: 'POST', path: '/messages', count: 1, fault: { kind: 'status', status: 503 } })
  const once = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0 })
  await assert.rejects(once.sendText(TO, 'refused'), (e) => isWa360Error(e) && e.status === 503)
  await once.sendText(TO, 'sent')
  await once.markRead('wamid.SEEN')
  assert.equal(sb.requests({ path: '/messages' }).length, 3)
  assert.equal(sb.requests({ path: '/messages', method: 'post' }).length, 3)
  assert.equal(sb.requests({ method: 'GET' }).length, 0)
  assert.throws(() => sb.requests({ verb: 'POST' }), (e) => e.code === 'invalid_argument' && e.field === 'verb')
  assert.equal(sb.phoneWebhook(), null)
  await sb.registerWebhook('http://127.0.0.1:9/hook', { headers: { 'X-Key': 'k' } })
  await sb.registerWebhook('http://127.0.0.1:9/waba', { waba: true })
  assert.deepEqual(sb.phoneWebhook(), { url: 'http://127.0.0.1:9/hook', headers: { 'X-Key': 'k' } })
  assert.equal(sb.wabaWebhook().url, 'http://127.0.0.1:9/waba')
  // A bad header is named as headers, not as the URL.
  await assert.rejects(sb.registerWebhook('http://127.0.0.1:9/hook', { headers: { X_Key: 'v' } }), { code: 'invalid_argument', field: 'headers' })
  await assert.rejects(sb.registerWebhook('ftp://127.0.0.1:9/hook'), { code: 'invalid_argument', field: 'url' })
})

describe('sandbox fault(kind, options), as Python\'s fault(kind, *, method, path, count, **params)', () => {
  const quick = () => new Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0 })
  const health = () => fetch(`${sb.url}/health_status`, { headers: { 'D360-API-KEY': sb.apiKey } })
  test('fault(kind) hits the next POST /messages once, with the kind\'s parameters', async () => {
    sb.fault('meta_error', { code: 131047, details: 'outside the window' })
    // A GET elsewhere is not hit by the default rule.
    assert.equal((await health()).status, 200)
    await assert.rejects(quick().sendText(TO, 'a'), { code: 'window_closed', apiCode: 131047 })
    const r = await quick().sendText(TO, 'b')
    assert.match(r.messageId, /^wamid\./)
  })

  test('fault options: method/path null match any request, count sets how many', async () => {
    sb.fault('status', { method: null, path: null, count: 2, status: 503 })
    assert.equal((await health()).status, 503)
    await assert.rejects(quick().sendText(TO, 'a'), { status: 503 })
    assert.match((await quick().sendText(TO, 'b')).messageId, /^wamid\./)
    sb.fault('rate_limit', { method: 'GET', path: '/health_status', count: 0 })
    for (let i = 0; i < 3; i++) assert.equal((await health()).status, 429)
    sb.clearFaults()
  })

  test('bad fault options are invalid_argument naming the option; nothing is added', async () => {
    for (const [options, field] of [
      [{ method: 1 }, 'method'],
      [{ path: ['/messages'] }, 'path'],
      [{ count: -1 }, 'count'],
      [{ count: 1.5 }, 'count'],
      [{ kind: 'html' }, 'kind'],
      ['POST', 'options'],
    ]) {
      assert.throws(() => sb.fault('html', options), { code: 'invalid_argument', field }, JSON.stringify(options))
    }
    assert.throws(() => sb.fault('no_such_kind'), (e) => e.code === 'invalid_argument' && e.message.includes('no_such_kind'))
    assert.throws(() => sb.fault('meta_error'), (e) => e.code === 'invalid_argument' && e.message.includes('code'))
    assert.match((await quick().sendText(TO, 'ok')).messageId, /^wamid\./)
  })
})

// A wait that never ended would fail by the suite's timeout rather than hang the run.
describe('sandbox waitFor / waitDeliveries, as Python\'s wait_for / wait_deliveries', { timeout: 60_000 }, () => {
  test('waitFor resolves to the first truthy value, not before, trying again on falsy ones', async () => {
    let value = 0
    let calls = 0
    setTimeout(() => { value = '' }, 100)
    setTimeout(() => { value = { ready: true } }, 300)
    const started = Date.now()
    const got = await sb.waitFor(async () => { calls++; return value }, { intervalMs: 10 })
    assert.deepEqual(got, { ready: true })
    assert.ok(Date.now() - started >= 250, 'resolved before the value was set')
    assert.ok(calls > 2, `tried ${calls} times`)
  })

  test('waitFor rejects with a timeout error after timeoutMs, having tried until then', async () => {
    let calls = 0
    const started = Date.now()
    await assert.rejects(sb.waitFor(() => { calls++; return null }, { timeoutMs: 200, intervalMs: 20 }), (e) => isWa360Error(e, 'timeout') && /condition not met within 0\.2 s/.test(e.message))
    assert.ok(Date.now() - started >= 200, 'gave up before timeoutMs')
    assert.ok(calls >= 2, `tried ${calls} times`)
    // timeoutMs: 0 tries once.
    calls = 0
    await assert.rejects(sb.waitFor(() => { calls++; return false }, { timeoutMs: 0 }), { code: 'timeout' })
    assert.equal(calls, 1)
  })

  test('bad waitFor / waitDeliveries arguments are invalid_argument naming them', async () => {
    for (const [options, field] of [[{ timeoutMs: -1 }, 'timeoutMs'], [{ timeoutMs: 'soon' }, 'timeoutMs'], [{ intervalMs: 0 }, 'intervalMs'], [{ timeout: 5 }, 'timeout']]) {
      await assert.rejects(sb.waitFor(() => true, options), { code: 'invalid_argument', field }, JSON.stringify(options))
    }
    await assert.rejects(sb.waitFor('ready'), { code: 'invalid_argument', field: 'predicate' })
    for (const [n, options, field] of [[-1, {}, 'n'], ['2', {}, 'n'], [1, { ok: 'yes' }, 'ok'], [1, { kind: 3 }, 'kind'], [1, { intervalMs: 5 }, 'intervalMs'], [1, { timeoutMs: Infinity }, 'timeoutMs']]) {
      await assert.rejects(sb.waitDeliveries(n, options), { code: 'invalid_argument', field }, JSON.stringify([n, options]))
    }
  })

  test('waitDeliveries waits for n deliveries of a kind answered 200 (or any answer with ok: false)', async () => {
    let answer = 200
    const server = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.statusCode = answer; res.end() }) })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      await sb.registerWebhook(`http://127.0.0.1:${server.address().port}/hook`)
      await assert.rejects(sb.waitDeliveries(1, { timeoutMs: 150 }), (e) => isWa360Error(e, 'timeout') && e.message.includes('1 webhook deliveries answered 200'))
      await client.sendText(TO, 'watch me')
      const read = await sb.waitDeliveries(1, { kind: 'status:read' })
      assert.equal(read.length, 1)
      assert.equal(read[0].kind, 'status:read')
      assert.equal(read[0].ok, true)
      assert.ok(sb.deliveries().some((d) => d.kind === 'status:sent'), 'sent comes before read')
      const all = await sb.waitDeliveries(3)
      assert.deepEqual(all.map((d) => d.kind).sort(), ['status:delivered', 'status:read', 'status:sent'])
      answer = 500
      await sb.inbound({ from: TO, type: 'text', text: { body: 'hi' } })
      const failed = await sb.waitDeliveries(2, { kind: 'inbound', ok: false })
      assert.ok(failed.every((d) => d.kind === 'inbound' && d.status === 500 && !d.ok))
      await assert.rejects(sb.waitDeliveries(1, { kind: 'inbound', timeoutMs: 100 }), { code: 'timeout' })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

test('concurrency: 200 parallel sends through one client all succeed with distinct ids', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.sendText(TO, `n${i}`)))
  const ids = new Set(results.map((r) => r.messageId))
  assert.equal(ids.size, 200)
  const bodies = sent().map((r) => r.body.text.body).sort()
  assert.deepEqual(bodies, Array.from({ length: 200 }, (_, i) => `n${i}`).sort())
})

async function listen(app) {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  return { server, url: `http://127.0.0.1:${server.address().port}/webhook` }
}

test('webhook receipt through the Express example: inbound message and the statuses of a reply', async () => {
  const password = randomBytes(8).toString('hex')
  const received = []
  const { server, url } = await listen(createApp({ user: 'hook', password, onEvents: (evs) => { received.push(...evs) } }))
  try {
    await sb.registerWebhook(url, { headers: { Authorization: 'Basic ' + Buffer.from(`hook:${password}`).toString('base64') } })
    const [wamid] = await sb.inbound({ from: TO, name: 'Maya', type: 'text', text: { body: 'hi there' } })
    const msg = await waitFor(() => received.find((e) => e.kind === 'message'))
    assert.equal(msg.id, wamid)
    assert.equal(msg.type, 'text')
    assert.equal(msg.text.body, 'hi there')
    assert.equal(msg.from, TO)
    assert.equal(msg.contact.name, 'Maya')
    const r = await client.sendText(TO, 'reply', { callbackData: 'ref-7' })
    const statuses = await waitFor(() => {
      const s = received.filter((e) => e.kind === 'status' && e.id === r.messageId)
      return s.length >= 3 ? s : null
    })
    assert.deepEqual(statuses.map((s) => s.status), ['sent', 'delivered', 'read'])
    assert.ok(statuses.every((s) => s.biz_opaque_callback_data === 'ref-7'))
    // inbound + sent/delivered/read, each answered 200 at the first attempt
    const ours = await waitFor(() => {
      const d = sb.deliveries().filter((x) => x.url === url)
      return d.length >= 4 && d.every((x) => x.status !== null || x.error) ? d : null
    })
    assert.ok(ours.every((d) => d.ok && d.status === 200 && d.attempt === 1), JSON.stringify(ours.map((d) => [d.kind, d.status, d.attempt])))
  } finally { server.close() }
})

test('the Express receiver rejects deliveries without the credentials (401) and never calls back', async () => {
  const received = []
  const { server, url } = await listen(createApp({ user: 'hook', password: 'right', onEvents: (evs) => { received.push(...evs) } }))
  try {
    await sb.registerWebhook(url, { headers: { Authorization: 'Basic ' + Buffer.from('hook:wrong').toString('base64') } })
    await sb.inbound({ from: TO, type: 'text', text: { body: 'x' } })
    const d = await waitFor(() => sb.deliveries().find((x) => x.url === url && x.kind === 'inbound' && (x.status !== null || x.error)))
    assert.equal(d.status, 401)
    assert.equal(d.ok, false)
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(received.length, 0)
  } finally { server.close() }
})

// Behind a body parser the raw bytes are gone: the middleware answers with an error at
// once (Express's 500) instead of waiting forever on a stream that has already ended.
test('the Express middleware behind express.json() or express.text() fails fast instead of hanging', async () => {
  const { default: express } = await import('express')
  const { wa360Webhook } = await import('../express.js')
  for (const parser of [express.json(), express.text({ type: '*/*' })]) {
    const app = express()
    app.use(parser)
    app.use('/webhook', wa360Webhook({ insecureSkipVerify: true, onEvents: () => {} }))
    app.use((err, req, res, next) => { res.status(500).type('text/plain').send(err.message) })
    const { server, url } = await listen(app)
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"object":"whatsapp_business_account","entry":[]}',
        signal: AbortSignal.timeout(5000),
      })
      assert.equal(r.status, 500)
      assert.match(await r.text(), /needs the raw body/)
    } finally { server.close() }
  }
})

// A body over the receiver's limit gets a 413 the sender can read (360dialog then sees a
// definite refusal, not a reset connection), and the handler is never called. The same
// for the Express middleware and the Fastify plugin.
test('a webhook body over maxBytes gets 413 from Express and Fastify, not a reset', async () => {
  const { default: express } = await import('express')
  const { wa360Webhook } = await import('../express.js')
  const { default: Fastify } = await import('fastify')
  const { wa360Fastify } = await import('../fastify.js')
  const called = []
  const options = { insecureSkipVerify: true, maxBytes: 1024, onEvents: (evs) => { called.push(...evs) } }
  const app = express()
  app.use('/webhook', wa360Webhook(options))
  const { server, url: expressUrl } = await listen(app)
  const fastify = Fastify()
  await fastify.register(wa360Fastify, { ...options, path: '/webhook' })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const fastifyUrl = `http://127.0.0.1:${fastify.server.address().port}/webhook`
  // Sent in one write, or in chunks the receiver sees one by one.
  const post = (url, body, chunked) => new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('no answer')))
    if (chunked) {
      for (let i = 0; i < 64; i++) req.write(body.subarray(i * (body.length / 64), (i + 1) * (body.length / 64)))
      req.end()
    } else req.end(body)
  })
  const big = Buffer.alloc(256 * 1024, 0x20)
  try {
    for (const url of [expressUrl, fastifyUrl]) {
      for (const chunked of [false, true]) {
        const r = await post(url, big, chunked)
        assert.equal(r.status, 413, `${url} chunked=${chunked}`)
        assert.equal(r.text, 'payload too large', `${url} chunked=${chunked}`)
        // The receiver still serves the next delivery.
        const ok = await post(url, Buffer.from('{"object":"whatsapp_business_account","entry":[]}'), false)
        assert.equal(ok.status, 200)
      }
    }
    assert.equal(called.length, 0)
    // Counted like every other answer of the receiver.
    assert.equal(fastify.wa360Metrics().deliveries['413'], 2)
    // Another method: 405 from both, as from the core.
    for (const url of [expressUrl, fastifyUrl]) {
      const r = await fetch(url, { method: 'PUT', body: '{}', signal: AbortSignal.timeout(5000) })
      assert.equal(r.status, 405, url)
    }
  } finally {
    server.close()
    await fastify.close()
  }
})

// A delivery whose Content-Type is missing, empty or unreadable is a delivery all the same:
// Express and the Python receivers store it and answer 200. Fastify answered its own 415,
// before the plugin saw the request (not counted in its metrics, and 360dialog retried it).
test('Fastify takes a delivery whatever its Content-Type, as Express does', async () => {
  const net = await import('node:net')
  const { default: express } = await import('express')
  const { wa360Webhook } = await import('../express.js')
  const { default: Fastify } = await import('fastify')
  const { wa360Fastify } = await import('../fastify.js')
  const seen = { express: [], fastify: [] }
  // The Content-Type the handler's request carries, per event id: the one sent.
  const typed = {}
  const options = (into) => ({ insecureSkipVerify: true, onEvents: (evs, req) => { for (const e of evs) typed[e.id] = req?.headers['content-type']; into.push(...evs.map((e) => e.id)) } })
  const app = express()
  app.use('/webhook', wa360Webhook(options(seen.express)))
  const { server, url } = await listen(app)
  const fastify = Fastify()
  await fastify.register(wa360Fastify, { ...options(seen.fastify), path: '/webhook' })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const ports = { express: Number(new URL(url).port), fastify: fastify.server.address().port }
  // Raw requests: fetch would not send these headers as they are.
  const post = (port, contentType, body) => new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    let text = ''
    sock.setEncoding('latin1')
    sock.on('data', (c) => { text += c; if (/\r\n\r\n/.test(text)) sock.destroy() })
    sock.on('close', () => resolve(Number(text.split(' ')[1])))
    sock.on('error', reject)
    const ct = contentType === null ? '' : `Content-Type: ${contentType}\r\n`
    sock.write(`POST /webhook HTTP/1.1\r\nHost: x\r\n${ct}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  })
  try {
    let n = 0
    for (const contentType of ['json', '', 'application/json, text/plain', null, 'text/plain']) {
      for (const which of ['express', 'fastify']) {
        const id = `wamid.CT${n++}`
        assert.equal(await post(ports[which], contentType, text('1555', id)), 200, `${which} ${JSON.stringify(contentType)}`)
        await waitFor(() => seen[which].includes(id), 5000, `${which} handled ${id}`)
        assert.equal(typed[id], contentType === null ? undefined : contentType, `${which} ${id}: the request as it came`)
      }
    }
    assert.equal(fastify.wa360Metrics().deliveries['200'], 5)
  } finally {
    server.close()
    await fastify.close()
  }
})

// A request refused from its headers (wrong credentials, a declared Content-Length over
// the limit) is answered before any body is read, so a sender that never sends the body
// holds nothing; a body that stalls where a signature check needs it gets 408 (Express, and
// Fastify, whose own request timeout is off by default).
test('Express and Fastify answer from the headers before a body, and time out a stalled body', async () => {
  const net = await import('node:net')
  const { default: express } = await import('express')
  const { wa360Webhook } = await import('../express.js')
  const { default: Fastify } = await import('fastify')
  const { wa360Fastify } = await import('../fastify.js')
  const onEvents = () => {}
  const basic = { verify: { basicAuth: { user: 'u', password: 'p' } }, onEvents }
  const app = express()
  const basicMw = wa360Webhook(basic)
  app.use('/basic', basicMw)
  app.use('/signed', wa360Webhook({ verify: { appSecret: 's3cret' }, bodyTimeoutMs: 300, onEvents }))
  const { server, url } = await listen(app)
  const expressPort = new URL(url).port
  const fastify = Fastify()
  await fastify.register(wa360Fastify, { ...basic, path: '/basic' })
  await fastify.register(wa360Fastify, { verify: { appSecret: 's3cret' }, bodyTimeoutMs: 300, onEvents, path: '/signed', metricsDecorator: 'signedMetrics' })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const fastifyPort = fastify.server.address().port
  // The head and the start of a body, then whatever comes back within 4 s.
  const raw = (port, head, body = '{') => new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(head + '\r\n' + body))
    let got = ''
    sock.setEncoding('utf8')
    sock.on('data', (c) => { got += c })
    const done = () => { sock.destroy(); resolve(got) }
    sock.setTimeout(4000, done)
    sock.on('end', done)
    sock.on('error', done)
  })
  const good = 'Authorization: Basic ' + Buffer.from('u:p').toString('base64')
  try {
    for (const port of [expressPort, fastifyPort]) {
      const wrong = await raw(port, 'POST /basic HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nAuthorization: Basic eDp5\r\n')
      assert.match(wrong, /^HTTP\/1\.1 401/, `${port}: ${wrong}`)
      const huge = await raw(port, `POST /basic HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n${good}\r\n`, '')
      assert.match(huge, /^HTTP\/1\.1 413/, `${port}: ${huge}`)
    }
    for (const port of [expressPort, fastifyPort]) {
      const started = Date.now()
      const stalled = await raw(port, 'POST /signed HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n')
      assert.match(stalled, /^HTTP\/1\.1 408/, `${port}: ${stalled}`)
      assert.ok(Date.now() - started < 3500)
    }
    assert.deepEqual(basicMw.metrics().deliveries, { 401: 1, 413: 1 })
    assert.throws(() => wa360Webhook({ ...basic, bodyTimeoutMs: 0 }), (e) => e.field === 'bodyTimeoutMs')
  } finally {
    server.close()
    await fastify.close()
  }
})

// Express 4's body-parser sets `req.body = {}` on every request it skips, leaving the
// stream unread; an auth middleware may do the same. The middleware reads the stream
// then, instead of refusing every delivery (a 500 that 360dialog retries for days).
test('the Express middleware reads the body behind a middleware that set req.body but read nothing', async () => {
  const { default: express } = await import('express')
  const { wa360Webhook } = await import('../express.js')
  const got = []
  const app = express()
  app.use((req, res, next) => { req.body = req.body || {}; next() })
  app.use(express.urlencoded({ extended: false }))
  app.use('/webhook', wa360Webhook({ insecureSkipVerify: true, onEvents: (evs) => { got.push(...evs) } }))
  const { server, url } = await listen(app)
  try {
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '2' }, messages: [{ from: TO, id: 'wamid.BP1', timestamp: '1700000000', type: 'text', text: { body: 'hi' } }] } }] }] })
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) })
    assert.equal(r.status, 200, await r.text())
    const ev = await waitFor(() => got.find((e) => e.id === 'wamid.BP1'))
    assert.equal(ev.text.body, 'hi')
  } finally { server.close() }
})

test('webhook receipt through the Fastify example with a custom header secret', async () => {
  const secret = randomBytes(8).toString('hex')
  const received = []
  const fastify = createServer({ headerSecret: secret, onEvents: (evs) => { received.push(...evs) } })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  try {
    const url = `http://127.0.0.1:${fastify.server.address().port}/webhook`
    await sb.registerWebhook(url, { headers: { 'X-Webhook-Secret': secret } })
    const [wamid] = await sb.inbound({ from: TO, type: 'reaction', reaction: { message_id: 'wamid.OUT', emoji: '❤️' } })
    const ev = await waitFor(() => received.find((e) => e.kind === 'message'))
    assert.equal(ev.id, wamid)
    assert.equal(ev.type, 'reaction')
    assert.equal(ev.reaction.emoji, '❤️')
  } finally { await fastify.close() }
})
