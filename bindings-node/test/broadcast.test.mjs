// Governor and broadcast from Node: the in-process sandbox, a real SQLite ledger, and a
// real HTTP receiver feeding status webhooks into the ledger.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import wa360, { Client, Campaign, Ledger, Sandbox, isWa360Error } from '../wa360.mjs'

const textBody = { entry: [{ id: '1', changes: [{ field: 'messages', value: { metadata: { phone_number_id: '2', display_phone_number: '3' }, messages: [{ id: 'wamid.T1', from: '4', timestamp: '1767252600', type: 'text', text: { body: 'hi' } }] } }] }] }

const csv = (n) => ['to,name', ...Array.from({ length: n }, (_, i) => `+1 555 600 ${String(i).padStart(4, '0')},Name ${i}`)].join('\n') + '\n'
const ledgerUrl = () => `sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-node-bc-')), 'ledger.db')}`
// Status webhooks go to `server` (its /hook); the first send is processed but its answer is
// lost, so only its status can settle it before the (long) quiet window: each recipient is
// sent once, and the campaign completes.
async function broadcastWithALostAnswer(sb, server, campaign, ledger) {
  await sb.registerWebhook(`http://127.0.0.1:${server.address().port}/hook`)
  sb.fault('reset_after_body')
  const s = await governed(sb).broadcast(campaign, ledger, { concurrency: 1, unknownWindowMs: 600000 })
  assert.equal(s.complete, true)
  assert.equal(sb.requests().filter((r) => r.path === '/messages').length, 2, 'the unknown send was not repeated')
  assert.ok(Object.values(sb.recipientCounts()).every((v) => v.accepted === 1))
}
const governed = (sb, governor = {}) =>
  new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor: { messagesPerSecond: 200, pairIntervalMs: 0, ...governor } })

describe('governor', () => {
  test('bad options are rejected naming the field', () => {
    assert.throws(() => new Client({ apiKey: 'k', governor: { messagesPerSecond: 0 } }),
      (e) => isWa360Error(e, 'invalid_argument') && e.field === 'governor.messagesPerSecond')
    for (const [governor, field] of [[{ pairIntervalMs: -1 }, 'governor.pairIntervalMs'], [{ maxWaitMs: 'soon' }, 'governor.maxWaitMs'], [{ burst: 0 }, 'governor.burst'], [{ pair_interval: 1 }, 'governor.pair_interval'], [[], 'governor']]) {
      assert.throws(() => new Client({ apiKey: 'k', governor }), (e) => isWa360Error(e, 'invalid_argument') && e.field === field, JSON.stringify(governor))
    }
  })

  test('null turns the rate and the pair pacing off (0 too for pairIntervalMs); by default they apply', async () => {
    const sb = await Sandbox.start()
    try {
      for (const off of [null, 0]) {
        const c = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor: { messagesPerSecond: null, pairIntervalMs: off, maxWaitMs: 0 } })
        // 20 sends at once to one recipient: past 80/s' burst of 8 and the pair rate, none waits.
        await Promise.all(Array.from({ length: 20 }, (_, i) => c.sendText('15555550123', `n${i}`)))
      }
      const paced = new Client({ apiKey: sb.apiKey, baseUrl: sb.url, governor: { maxWaitMs: 0 } })
      await paced.sendText('15555550124', 'a')
      await assert.rejects(paced.sendText('15555550124', 'b'), (e) => isWa360Error(e, 'rate_limited') && e.status == null)
      assert.equal(sb.requests({ path: '/messages' }).length, 41)
    } finally { await sb.stop() }
  })

  test('past the deadline: rate_limited with retryAfterMs, nothing sent', async () => {
    const sb = await Sandbox.start()
    try {
      const c = governed(sb, { messagesPerSecond: 1, burst: 1 })
      await c.sendText('15555550123', 'one')
      await assert.rejects(c.sendWithin({ to: '15555550124', type: 'text', text: { body: 'two' } }, 50),
        (e) => isWa360Error(e, 'rate_limited') && e.status == null && e.retryAfterMs > 0 && e.retryAfterMs <= 1000)
      assert.equal(sb.requests().filter((r) => r.path === '/messages').length, 1)
    } finally { await sb.stop() }
  })
})

describe('broadcast', () => {
  test('bad concurrency or maxAttempts is invalid_argument naming it, and nothing is sent', async () => {
    const sb = await Sandbox.start()
    try {
      const c = governed(sb)
      const campaign = Campaign.fromCsv('order_update', 'en_US', csv(2))
      const ledger = new Ledger(ledgerUrl(), campaign)
      // -1 used to wrap to 4 294 967 295 (maxAttempts: unbounded retries) and 1.5 to become 1.
      for (const [options, field] of [[{ concurrency: 0 }, 'concurrency'], [{ concurrency: -1 }, 'concurrency'], [{ concurrency: 1.5 }, 'concurrency'], [{ concurrency: 1025 }, 'concurrency'], [{ maxAttempts: -1 }, 'maxAttempts'], [{ maxAttempts: 0 }, 'maxAttempts'], [{ maxOutageMs: 0 }, 'maxOutageMs'], [{ maxOutageMs: NaN }, 'maxOutageMs']]) {
        await assert.rejects(c.broadcast(campaign, ledger, options), (e) => isWa360Error(e, 'invalid_argument') && e.field === field, JSON.stringify(options))
      }
      assert.equal(sb.requests({ path: '/messages' }).length, 0)
    } finally { await sb.stop() }
  })

  test('maxOutageMs ends a run that cannot reach the API, everyone left pending', async () => {
    // Nothing listens at the base URL: every send fails before a request is written; the run
    // holds between tries and ends after maxOutageMs with a connection error, no attempt
    // counted, so the next run sends everyone.
    // Port 1: outside the range the system hands out, so no other test's server takes it.
    const c = new Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:1', maxRetries: 0 })
    const campaign = Campaign.fromCsv('order_update', 'en_US', csv(3))
    const ledger = new Ledger(ledgerUrl(), campaign)
    const started = Date.now()
    await assert.rejects(c.broadcast(campaign, ledger, { maxOutageMs: 1500 }), (e) => isWa360Error(e, 'connection') && /no connection to the API for 1.5 s/.test(e.message))
    assert.ok(Date.now() - started < 30000)
    assert.deepEqual(ledger.entries().map((e) => [e.state, e.attempts]), [['pending', 0], ['pending', 0], ['pending', 0]])
  })

  test('each recipient once, progress reported, rerun sends nothing', async () => {
    const sb = await Sandbox.start({ timeScale: 0.01 })
    try {
      const c = governed(sb)
      const campaign = Campaign.fromCsv('order_update', 'en_US', csv(20))
      assert.equal(campaign.size, 20)
      const url = ledgerUrl()
      const seen = []
      const s = await c.broadcast(campaign, new Ledger(url, campaign), { concurrency: 4, progress: (p) => seen.push(p) })
      assert.equal(s.complete, true)
      assert.equal(s.counts.accepted, 20)
      const counts = sb.recipientCounts()
      assert.equal(Object.keys(counts).length, 20)
      assert.ok(Object.values(counts).every((v) => v.accepted === 1))
      // The progress callback runs on the JS thread; wait for the last call to arrive.
      for (let i = 0; i < 100 && !seen.some((p) => p.phase === 'done'); i++) await new Promise((r) => setTimeout(r, 20))
      const done = seen.find((p) => p.phase === 'done')
      assert.ok(done, 'a final progress call')
      assert.equal(done.counts.accepted, 20)
      const again = await c.broadcast(campaign, new Ledger(url, campaign))
      assert.equal(again.acceptedThisRun, 0)
      assert.equal(new Ledger(url, campaign).counts().accepted, 20)
      assert.equal(sb.requests().filter((r) => r.path === '/messages').length, 20)
      assert.throws(() => new Ledger(url, Campaign.fromCsv('other', 'en_US', csv(20))),
        (e) => isWa360Error(e, 'invalid_argument') && e.field === 'ledger')
    } finally { await sb.stop() }
  })

  test('a progress callback that throws or rejects does not end the process or the run', async () => {
    const sb = await Sandbox.start({ timeScale: 0.01 })
    const warnings = []
    const onWarning = (w) => warnings.push(String(w))
    process.on('warning', onWarning)
    try {
      const c = governed(sb)
      const campaign = Campaign.fromCsv('order_update', 'en_US', csv(10))
      let calls = 0
      const s = await c.broadcast(campaign, new Ledger(ledgerUrl(), campaign), {
        concurrency: 2,
        progress: () => { calls++; if (calls % 2) throw new Error('boom'); return Promise.reject(new Error('late boom')) },
      })
      assert.equal(s.counts.accepted, 10)
      for (let i = 0; i < 100 && !warnings.some((w) => w.includes('boom')); i++) await new Promise((r) => setTimeout(r, 20))
      assert.ok(warnings.some((w) => w.includes('progress callback failed')), warnings.join('\n'))
    } finally { process.off('warning', onWarning); await sb.stop() }
  })

  test('outcome_unknown is settled by status webhooks, not resent', async () => {
    const sb = await Sandbox.start({ timeScale: 0.01 })
    const campaign = new Campaign('order_update', 'en_US', [{ to: '15555550301', params: ['A'] }, { to: '15555550302', params: ['B'] }])
    const ledger = new Ledger(ledgerUrl(), campaign)
    const server = createServer((req, res) => {
      const chunks = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        try { ledger.applyWebhook(Buffer.concat(chunks)); res.writeHead(200) } catch { res.writeHead(503) }
        res.end()
      })
    })
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    try {
      await broadcastWithALostAnswer(sb, server, campaign, ledger)
      assert.ok(ledger.entries().every((e) => e.state === 'accepted' && e.wamid))
    } finally {
      server.close()
      await sb.stop()
    }
  })

  test('a receiver\'s onEvents settles unknown sends with applyEvents (the documented wiring)', async () => {
    const { default: express } = await import('express')
    const { wa360Webhook } = await import('../express.js')
    const sb = await Sandbox.start({ timeScale: 0.01 })
    const campaign = new Campaign('order_update', 'en_US', [{ to: '15555550311', params: ['A'] }, { to: '15555550312', params: ['B'] }])
    const ledger = new Ledger(ledgerUrl(), campaign)
    const settled = []
    const inbox = `sqlite://${join(mkdtempSync(join(tmpdir(), 'wa360-node-ae-')), 'inbox.db')}`
    const hook = wa360Webhook({ insecureSkipVerify: true, shutdownSignals: false, inbox, onEvents: (events) => { settled.push(ledger.applyEvents(events)) } })
    const app = express()
    app.use('/hook', hook)
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      await broadcastWithALostAnswer(sb, server, campaign, ledger)
      assert.ok(settled.reduce((a, b) => a + b, 0) >= 1)
      // Other events are skipped; anything else is refused, naming the place.
      assert.equal(ledger.applyEvents(wa360.parseWebhook(JSON.stringify(textBody))), 0)
      assert.throws(() => ledger.applyEvents([{ id: 'x' }]), (e) => e.code === 'invalid_argument' && e.field === 'events[0]')
      assert.throws(() => ledger.applyEvents('nope'), (e) => e.code === 'invalid_argument' && e.field === 'events')
    } finally {
      await hook.close()
      server.close()
      await sb.stop()
    }
  })

  test('a bad CSV names the row and column', () => {
    assert.throws(() => Campaign.fromCsv('t', 'en', 'to,name\n+15555550123,A\n12,B\n'),
      (e) => isWa360Error(e, 'invalid_argument') && e.field === 'recipients row 3 column 1 (to)')
  })
})

test('a relative ledger path is refused (another file in each working directory), nothing created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-node-rel-'))
  const cwd = process.cwd()
  process.chdir(dir)
  try {
    const campaign = Campaign.fromCsv('order_update', 'en_US', csv(1))
    for (const rel of ['sqlite://rel.db', 'rel.db', './rel.db']) {
      assert.throws(() => new Ledger(rel, campaign), (e) => {
        assert.equal(e.code, 'invalid_argument')
        assert.equal(e.field, 'ledger')
        assert.match(e.message, /absolute/)
        return true
      })
    }
    assert.deepEqual(readdirSync(dir), [])
  } finally {
    process.chdir(cwd)
  }
})

test('a run ended by a campaign error leaves the campaign halted, with the error', async () => {
  // Any process reading the ledger (a dashboard, `wa360 broadcast status`) sees that the
  // campaign is not running and why; it said `running` with nothing running.
  const sb = await Sandbox.start({ timeScale: 0.01 })
  try {
    const campaign = Campaign.fromCsv('order_update', 'en_US', csv(4))
    const url = ledgerUrl()
    const ledger = new Ledger(url, campaign)
    sb.fault('meta_error', { code: 132001, count: 0 })
    const err = await governed(sb).broadcast(campaign, ledger).then(
      () => assert.fail('the run should end with the template error'),
      (e) => e,
    )
    const other = Ledger.openExisting(url)
    assert.equal(other.runState(), 'halted')
    assert.equal(other.lastError(), err.message)
    assert.match(other.lastError(), /broadcast ended/)
    sb.clearFaults()
    const again = await governed(sb).broadcast(campaign, ledger)
    assert.equal(again.counts.accepted, 4)
    assert.equal(other.runState(), 'done')
    assert.equal(other.lastError(), null)
  } finally {
    await sb.stop()
  }
})

test('retryFailed puts the failed recipients back for the next run', async () => {
  const sb = await Sandbox.start({ timeScale: 0.01 })
  try {
    const campaign = Campaign.fromCsv('order_update', 'en_US', csv(4))
    const ledger = new Ledger(ledgerUrl(), campaign)
    // Refused for the recipient (not on WhatsApp): failed, the run goes on and completes.
    sb.fault('meta_error', { code: 131026, count: 0 })
    const first = await governed(sb).broadcast(campaign, ledger)
    assert.equal(first.complete, true)
    assert.equal(first.counts.failed, 4)
    assert.equal(ledger.retryFailed(), 4)
    assert.equal(ledger.counts().pending, 4)
    assert.ok(ledger.entries().every((e) => e.attempts === 0))
    sb.clearFaults()
    const again = await governed(sb).broadcast(campaign, ledger)
    assert.equal(again.counts.accepted, 4)
    assert.equal(again.acceptedThisRun, 4)
    assert.equal(ledger.retryFailed(), 0)
  } finally {
    await sb.stop()
  }
})
