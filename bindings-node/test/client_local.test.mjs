// Client basics over real HTTP against a throwaway node:http server
// (the sandbox suites cover the full API; these check the Node surface).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import util from 'node:util'
import { Client, Verifier } from '../wa360.mjs'

const KEY = 'secret-key-that-must-never-print'

async function server(handler) {
  const requests = []
  const srv = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body })
      handler(req, res, body)
    })
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${srv.address().port}`
  return { url, requests, close: () => new Promise((r) => srv.close(r)) }
}

function json(res, status, obj, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(obj))
}

test('the key never shows in util.inspect, JSON.stringify or String()', () => {
  const c = new Client({ apiKey: KEY, baseUrl: 'http://127.0.0.1:9' })
  for (const s of [util.inspect(c, { showHidden: true, depth: 5 }), JSON.stringify(c), String(c)]) {
    assert.ok(!s.includes(KEY), s)
  }
  assert.equal(JSON.parse(JSON.stringify(c)).baseUrl, 'http://127.0.0.1:9')
})

test('Verifier and Sandbox never print their secrets', async () => {
  const v = new Verifier({ basicAuth: { user: 'hook', password: 'pw-that-must-not-print' }, appSecret: 'app-secret-not-printed' })
  for (const s of [util.inspect(v, { showHidden: true }), JSON.stringify(v), String(v)]) {
    assert.ok(!s.includes('pw-that-must-not-print') && !s.includes('app-secret-not-printed'), s)
  }
  assert.throws(() => new Verifier({}), { code: 'invalid_argument' })
  assert.throws(() => new Verifier({ basicAuth: { user: 'u', password: 'p' }, bogus: 1 }), { code: 'invalid_argument', field: 'bogus' })
})

test('apiKey falls back to D360_API_KEY', async () => {
  const s = await server((req, res) => json(res, 200, { success: true }))
  const saved = process.env.D360_API_KEY
  process.env.D360_API_KEY = 'key-from-env'
  try {
    const c = new Client({ baseUrl: s.url })
    await c.markRead('wamid.X')
    assert.equal(s.requests[0].headers['d360-api-key'], 'key-from-env')
  } finally {
    if (saved === undefined) delete process.env.D360_API_KEY
    else process.env.D360_API_KEY = saved
    await s.close()
  }
})

test('no key and no D360_API_KEY throws a configuration error', () => {
  const saved = process.env.D360_API_KEY
  delete process.env.D360_API_KEY
  try {
    assert.throws(() => new Client({ baseUrl: 'http://127.0.0.1:9' }), { code: 'configuration' })
  } finally {
    if (saved !== undefined) process.env.D360_API_KEY = saved
  }
})

test('sendBody posts the body with the D360-API-KEY header and resolves the answer', async () => {
  const s = await server((req, res) => json(res, 200, {
    messaging_product: 'whatsapp',
    contacts: [{ input: '15555550123', wa_id: '15555550123' }],
    messages: [{ id: 'wamid.ABC', message_status: 'accepted' }],
  }))
  try {
    const c = new Client({ apiKey: KEY, baseUrl: s.url })
    const body = { messaging_product: 'whatsapp', to: '15555550123', type: 'text', text: { body: 'hi' } }
    const r = await c.sendBody(body)
    assert.equal(r.messageId, 'wamid.ABC')
    assert.equal(r.messages[0].messageStatus, 'accepted')
    assert.equal(r.contacts[0].waId, '15555550123')
    assert.equal(s.requests.length, 1)
    assert.equal(s.requests[0].url, '/messages')
    assert.equal(s.requests[0].headers['d360-api-key'], KEY)
    assert.deepEqual(JSON.parse(s.requests[0].body), body)
  } finally { await s.close() }
})

test('an API error rejects with code, status, apiCode and details, and no key in the message', async () => {
  const s = await server((req, res) => json(res, 400, {
    error: { message: 'Recipient not in allowed list', type: 'OAuthException', code: 131030,
      error_data: { details: 'Recipient phone number not in allowed list' }, fbtrace_id: 'Axyz' },
  }))
  try {
    const c = new Client({ apiKey: KEY, baseUrl: s.url, maxRetries: 0 })
    await assert.rejects(c.markRead('wamid.X'), (e) => {
      assert.ok(e instanceof Error)
      assert.equal(typeof e.code, 'string')
      assert.equal(e.status, 400)
      assert.equal(e.apiCode, 131030)
      assert.equal(e.details, 'Recipient phone number not in allowed list')
      assert.ok(!e.message.includes(KEY))
      assert.ok(!util.inspect(e).includes(KEY))
      return true
    })
  } finally { await s.close() }
})

test('401 rejects with code authentication', async () => {
  const s = await server((req, res) => json(res, 401, { meta: { success: false, http_code: 401, developer_message: 'Invalid api key' } }))
  try {
    const c = new Client({ apiKey: KEY, baseUrl: s.url, maxRetries: 0 })
    await assert.rejects(c.typing('wamid.X'), { code: 'authentication', status: 401 })
  } finally { await s.close() }
})

test('bad input is rejected before any request, naming the field', async () => {
  const s = await server((req, res) => json(res, 200, { success: true }))
  try {
    const c = new Client({ apiKey: KEY, baseUrl: s.url })
    await assert.rejects(c.markRead(''), { code: 'invalid_argument', field: 'message_id' })
    await assert.rejects(c.mediaInfo('not-digits'), { code: 'invalid_argument' })
    assert.equal(s.requests.length, 0)
  } finally { await s.close() }
})

test('an unreachable server rejects with code connection', async () => {
  const s = await server(() => {})
  await s.close()
  const c = new Client({ apiKey: KEY, baseUrl: s.url, maxRetries: 0 })
  await assert.rejects(c.markRead('wamid.X'), { code: 'connection' })
})
