// Smoke test of the installed npm tarball (run from a fresh npm project outside the repo).
'use strict'
const assert = require('node:assert/strict')
const wa360 = require('wa360')

const where = require.resolve('wa360')
assert.ok(where.includes('node_modules'), `wa360 resolved to ${where}`)
;(async () => {
  const sb = await wa360.Sandbox.start()
  try {
    const client = new wa360.Client({ apiKey: sb.apiKey, baseUrl: sb.url })
    const r = await client.sendText('+15555550123', 'hello from the installed package')
    assert.match(r.messageId, /^wamid\./)
    assert.deepEqual(client.metrics().requests, { ok: 1 })
  } finally { await sb.stop() }
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '1', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp', metadata: { display_phone_number: '15550000000', phone_number_id: '1' },
      contacts: [{ profile: { name: 'Maya' }, wa_id: '15555550123' }],
      messages: [{ from: '15555550123', id: 'wamid.SMOKE', timestamp: '1700000000', type: 'text', text: { body: 'hi' } }],
    } }] }],
  })
  const [ev] = wa360.parseWebhook(body)
  assert.equal(ev.kind, 'message')
  assert.equal(ev.text.body, 'hi')
  const esm = await import('wa360')
  assert.equal(typeof esm.parseWebhook, 'function')
  console.log(`node smoke ok: wa360 from ${where}`)
})().catch((e) => { console.error(e); process.exit(1) })
