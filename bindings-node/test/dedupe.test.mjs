// Delivery hygiene on parsed events: Deduper and StatusFold.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Deduper, StatusFold, parseWebhook } from '../wa360.mjs'

const wrap = (value) => JSON.stringify({
  object: 'whatsapp_business_account',
  entry: [{ id: '1', changes: [{ field: 'messages', value: { metadata: { phone_number_id: '2', display_phone_number: '3' }, ...value } }] }],
})
const status = (id, s, extra = {}) => parseWebhook(wrap({ statuses: [{ id, status: s, timestamp: '1767252600', recipient_id: '4', ...extra }] }))
const message = (id, body) => parseWebhook(wrap({ messages: [{ id, from: '4', timestamp: '1767252600', type: 'text', text: { body } }] }))

test('Deduper drops a redelivered message and a repeated status, keeps new ones', () => {
  const d = new Deduper()
  assert.equal(d.filter(message('wamid.1', 'a')).length, 1)
  assert.equal(d.filter(message('wamid.1', 'a')).length, 0)
  assert.equal(d.filter(message('wamid.2', 'b')).length, 1)
  assert.equal(d.filter(status('wamid.9', 'sent')).length, 1)
  assert.equal(d.filter(status('wamid.9', 'sent')).length, 0)
  assert.equal(d.filter(status('wamid.9', 'delivered')).length, 1)
})

test('Deduper keys other events by content, and forget() lets a redelivery through', () => {
  const d = new Deduper()
  const tpl = parseWebhook(JSON.stringify({ entry: [{ id: '1', changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED', message_template_id: 7 } }] }] }))
  assert.equal(d.filter(tpl).length, 1)
  assert.equal(d.filter(tpl).length, 0)
  const [m] = message('wamid.F', 'x')
  assert.equal(d.isNew(m), true)
  assert.equal(d.isNew(m), false)
  d.forget(m)
  assert.equal(d.isNew(m), true)
})

test('Deduper capacity bounds memory: the oldest key is evicted', () => {
  const d = new Deduper({ capacity: 2 })
  for (const id of ['a', 'b', 'c']) assert.equal(d.isNew(message(id, 'x')[0]), true)
  assert.equal(d.isNew(message('a', 'x')[0]), true)
})

test('StatusFold never moves a message backwards and reports a failure once', () => {
  const f = new StatusFold()
  assert.equal(f.apply(status('wamid.S', 'delivered')[0]), 'advanced')
  assert.equal(f.apply(status('wamid.S', 'sent')[0]), 'stale')
  assert.equal(f.apply(status('wamid.S', 'delivered')[0]), 'duplicate')
  assert.equal(f.apply(status('wamid.S', 'read')[0]), 'advanced')
  assert.deepEqual(f.state('wamid.S'), { status: 'read', timestamp: 1767252600, failed: false, errors: [] })
  const errors = [{ code: 131047, title: 'Re-engagement message' }]
  assert.equal(f.apply(status('wamid.T', 'failed', { errors })[0]), 'failed')
  assert.equal(f.apply(status('wamid.T', 'failed', { errors })[0]), 'duplicate')
  assert.equal(f.state('wamid.T').failed, true)
  assert.equal(f.state('wamid.T').errors[0].code, 131047)
  assert.equal(f.apply(status('wamid.U', 'something_new')[0]), 'unrecognised')
  assert.equal(f.state('nope'), null)
})

test('StatusFold.filter keeps messages and forward statuses only', () => {
  const f = new StatusFold()
  const evs = [...message('wamid.M', 'hi'), ...status('wamid.X', 'read'), ...status('wamid.X', 'delivered')]
  assert.deepEqual(f.filter(evs).map((e) => `${e.kind}:${e.status ?? e.type}`), ['message:text', 'status:read'])
})
