// The durable inbox across real processes: node:cluster receivers (Express and
// Fastify) sharing one SQLite file, real HTTP deliveries, SIGTERM and kill -9
// in the middle of slow handlers, retries and dead letters, per-conversation
// order, and start-up errors on a corrupt or locked file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync, writeFileSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { sleep, waitFor as waitForCondition, lockInAnotherProcess } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { Inbox } = require('../wa360.js')
const APP = join(dirname(fileURLToPath(import.meta.url)), 'apps/inbox-cluster.mjs')
const AUTH = 'Basic ' + Buffer.from('hook:pa55-word').toString('base64')

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
})

function body(from, wamid) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '104785930284756', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550104321', phone_number_id: '112233445566778' },
      contacts: [{ wa_id: from, profile: { name: 'T' } }],
      messages: [{ from, id: wamid, timestamp: '1767252600', type: 'text', text: { body: 'x' } }],
    } }] }],
  })
}

async function start(dir, url, env = {}) {
  const port = await freePort()
  const log = join(dir, 'handled.log')
  const child = spawn(process.execPath, [APP], {
    env: { ...process.env, INBOX_URL: url, INBOX_LOG: log, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c) => { out += c })
  child.stderr.on('data', (c) => { err += c })
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })))
  const srv = { child, port, log, url: `http://127.0.0.1:${port}/webhook`, exited, errors: () => err }
  srv.ready = (async () => {
    const deadline = Date.now() + 60000
    while (!out.includes('ready')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`receiver exited: ${err}`)
      if (Date.now() > deadline) throw new Error(`receiver did not start: ${err}`)
      await sleep(20)
    }
  })()
  return srv
}

function stopAll(servers) {
  for (const s of servers) {
    try { process.kill(-s.child.pid, 'SIGKILL') } catch {}
  }
}

async function deliver(url, b) {
  // A new connection per delivery, as 360dialog's retries would be.
  const r = await fetch(url, { method: 'POST', body: b, headers: { authorization: AUTH, 'content-type': 'application/json', connection: 'close' } })
  await r.text()
  return r.status
}

function lines(log) {
  if (!existsSync(log)) return []
  return readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '))
}
function doneCounts(log) {
  const m = new Map()
  for (const [phase, id] of lines(log)) if (phase === 'done') m.set(id, (m.get(id) ?? 0) + 1)
  return m
}
// Processes on a loaded machine: generous.
const waitFor = (pred, what, ms = 90000) => waitForCondition(pred, ms, what)
async function pool(items, n, fn) {
  const out = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]) }
  }))
  return out
}
/** Message ids the inbox held as claimed (not acked) when the workers stopped. */
function inFlight(db) {
  const out = execFileSync('python3', ['-c',
    'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nprint("\\n".join(k[2:] for (k,) in c.execute("SELECT dkey FROM entries WHERE state = 1")))', db])
  return new Set(out.toString().split('\n').filter(Boolean))
}

test('each event delivered twice, to an Express and a Fastify cluster, is handled once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
  const url = `sqlite://${dir}/inbox.db`
  const a = await start(dir, url, { WORKERS: '2' })
  const b = await start(dir, url, { WORKERS: '2', FRAMEWORK: 'fastify' })
  try {
    await a.ready
    await b.ready
    const ids = Array.from({ length: 200 }, (_, i) => `wamid.N${i}`)
    const jobs = ids.flatMap((w, i) => [[a.url, body(`1555${String(i % 17).padStart(7, '0')}`, w)], [b.url, body(`1555${String(i % 17).padStart(7, '0')}`, w)]])
    const codes = await pool(jobs, 16, ([u, bd]) => deliver(u, bd))
    assert.deepEqual(new Set(codes), new Set([200]))
    await waitFor(() => doneCounts(a.log).size === ids.length, 'all handled')
    await sleep(500)
    const counts = doneCounts(a.log)
    assert.deepEqual([...counts.keys()].sort(), [...ids].sort())
    assert.deepEqual([...counts.entries()].filter(([, n]) => n > 1), [])
    const pids = new Set(lines(a.log).filter(([p]) => p === 'done').map(([, , pid]) => pid))
    assert.ok(pids.size >= 2, 'consumers of several processes took part')
    const stats = await new Inbox(url).stats()
    assert.equal(stats.duplicates, ids.length)
    assert.equal(stats.handled, ids.length)
  } finally {
    stopAll([a, b])
  }
})

for (const sig of ['SIGTERM', 'SIGKILL']) {
  test(`acknowledged events survive ${sig} in the middle of slow handlers`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
    const db = join(dir, 'inbox.db')
    const url = `sqlite://${db}?lease_ms=1500`
    const env = { WORKERS: '2', INBOX_SLOW_MS: '200', INBOX_CONCURRENCY: '2', INBOX_GRACE_MS: '5000' }
    const first = await start(dir, url, env)
    let second
    try {
      await first.ready
      const ids = Array.from({ length: 60 }, (_, i) => `wamid.K${i}`)
      const codes = await pool(ids, 8, (w) => deliver(first.url, body(Number(w.slice(7)) % 2 ? '15550001111' : `1555${w.slice(7).padStart(7, '0')}`, w)))
      assert.deepEqual(new Set(codes), new Set([200]), 'every delivery acknowledged')
      await waitFor(() => doneCounts(first.log).size >= 5, 'some handled')
      if (sig === 'SIGKILL') process.kill(-first.child.pid, 'SIGKILL')
      else first.child.kill('SIGTERM')
      await first.exited
      assert.ok(doneCounts(first.log).size < ids.length, 'stopped in the middle')
      const held = inFlight(db)
      if (sig === 'SIGTERM') assert.deepEqual([...held], [], 'a graceful stop finishes or releases what it holds')
      second = await start(dir, url, env)
      await second.ready
      await waitFor(() => ids.every((i) => doneCounts(second.log).has(i)), 'every acknowledged event handled after the restart')
      await sleep(500)
      const twice = [...doneCounts(second.log).entries()].filter(([, n]) => n > 1).map(([i]) => i)
      assert.deepEqual(twice.filter((i) => !held.has(i)), [], 'handled twice though not in flight at the stop')
    } finally {
      stopAll([first, second].filter(Boolean))
    }
  })
}

test('a failing handler is retried, dead-lettered, and a replay runs it again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
  const flag = join(dir, 'fail')
  writeFileSync(flag, '')
  const url = `sqlite://${dir}/inbox.db?max_attempts=3&retry_base_ms=50`
  const srv = await start(dir, url, { WORKERS: '2', INBOX_FAIL_FLAG: flag })
  try {
    await srv.ready
    assert.equal(await deliver(srv.url, body('15550002222', 'wamid.FAIL1')), 200)
    assert.equal(await deliver(srv.url, body('15550003333', 'wamid.OK1')), 200)
    const inbox = new Inbox(url) // this process's view of the same file
    const dead = await waitFor(async () => { const d = await inbox.dead(); return d.length ? d : null }, 'a dead letter')
    assert.deepEqual(dead.map((d) => d.event.id), ['wamid.FAIL1'])
    assert.equal(dead[0].attempts, 3)
    assert.match(dead[0].lastError, /failed on purpose/)
    assert.equal(lines(srv.log).filter(([p, i]) => p === 'start' && i === 'wamid.FAIL1').length, 3)
    assert.equal(doneCounts(srv.log).get('wamid.OK1'), 1, 'other conversations are not held up')
    unlinkSync(flag)
    assert.equal(await inbox.replay(), 1)
    await waitFor(() => doneCounts(srv.log).get('wamid.FAIL1') === 1, 'the replayed event handled')
    assert.deepEqual(await inbox.dead(), [])
  } finally {
    stopAll([srv])
  }
})

test('order within a conversation holds under concurrency', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
  const srv = await start(dir, `sqlite://${dir}/inbox.db`, { WORKERS: '4', INBOX_JITTER_MS: '15' })
  try {
    await srv.ready
    const contacts = Array.from({ length: 6 }, (_, c) => `1555000${String(c).padStart(4, '0')}`)
    await Promise.all(contacts.map(async (c) => {
      for (let n = 0; n < 15; n++) assert.equal(await deliver(srv.url, body(c, `wamid.${c}.${String(n).padStart(2, '0')}`)), 200)
    }))
    await waitFor(() => doneCounts(srv.log).size === 90, 'all handled')
    const all = lines(srv.log)
    for (const c of contacts) {
      const mine = all.filter(([, i]) => i.startsWith(`wamid.${c}.`)).map(([p, i]) => `${p} ${i}`)
      const want = Array.from({ length: 15 }, (_, n) => `wamid.${c}.${String(n).padStart(2, '0')}`).flatMap((i) => [`start ${i}`, `done ${i}`])
      assert.deepEqual(mine, want, c)
    }
  } finally {
    stopAll([srv])
  }
})

test('a corrupt inbox file stops start-up with a clear error and is left untouched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
  const db = join(dir, 'inbox.db')
  const junk = Buffer.from('precious bytes that are not SQLite '.repeat(50))
  writeFileSync(db, junk)
  const srv = await start(dir, `sqlite://${db}`, { SINGLE: '1' })
  srv.ready.catch(() => {}) // it must not become ready
  const { code } = await srv.exited
  assert.notEqual(code, 0)
  assert.match(srv.errors(), /store/)
  assert.match(srv.errors(), /not a database/)
  assert.deepEqual(readFileSync(db), junk)
})

test('a locked inbox file stops start-up with a clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-inbox-'))
  const db = join(dir, 'inbox.db')
  await new Inbox(`sqlite://${db}`).stats()
  const holder = await lockInAnotherProcess(db)
  try {
    const srv = await start(dir, `sqlite://${db}?busy_timeout_ms=300`, { SINGLE: '1' })
    srv.ready.catch(() => {}) // it must not become ready
    const { code } = await srv.exited
    assert.notEqual(code, 0)
    assert.match(srv.errors(), /locked/)
  } finally {
    await holder.release()
  }
  assert.equal((await new Inbox(`sqlite://${db}`).stats()).ready, 0)
})

// An app with its own SIGTERM handler (registered with `once`) and an inbox receiver:
// on SIGTERM the receiver closes its consumers but leaves the end of the process to the
// app, which finishes its own (slow) shutdown and exits 0.
test('SIGTERM: an app that handles the signal itself ends the process, not the receiver', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa360-node-own-sigterm-'))
  const marker = join(dir, 'marker')
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'apps/own-sigterm.mjs')], {
    env: { ...process.env, MARKER: marker },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve() })
    child.once('exit', () => reject(new Error('the app exited before it was ready')))
  })
  child.kill('SIGTERM')
  const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  assert.deepEqual([code, signal], [0, null])
  assert.equal(readFileSync(marker, 'utf8'), 'done')
})
