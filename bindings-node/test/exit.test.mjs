// Node exiting with requests in flight neither crashes nor hangs (docs/reliability.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../wa360.js', import.meta.url))

function runChild(code) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, ['-e', code], { env: { ...process.env, RUST_BACKTRACE: '0' } })
    let stderr = ''
    let stdout = ''
    child.stderr.on('data', (d) => { stderr += d })
    child.stdout.on('data', (d) => { stdout += d })
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (status, signal) => { clearTimeout(killer); resolve({ status, signal, stdout, stderr, ms: Date.now() - t0 }) })
  })
}

// Runs `body(url)` with a server at `url` that accepts connections and never answers.
async function withSilentServer(body) {
  const sockets = []
  const srv = net.createServer((s) => sockets.push(s))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  try {
    return await body(`http://127.0.0.1:${srv.address().port}`)
  } finally {
    for (const s of sockets) s.destroy()
    srv.close()
  }
}

// The child exited by itself with status 0, within 10 s.
function assertCleanExit(r) {
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.status, 0, r.stderr)
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`)
}

test('process.exit with 20 sends in flight exits cleanly and at once', () => withSilentServer(async (url) => {
  const r = await runChild(`
    const { Client } = require(${JSON.stringify(entry)})
    const c = new Client({ apiKey: 'k', baseUrl: ${JSON.stringify(url)}, timeoutMs: 60000 })
    for (let i = 0; i < 20; i++) c.sendText('15555550123', 'x' + i).catch(() => {})
    setTimeout(() => process.exit(0), 300)
  `)
  assertCleanExit(r)
  assert.ok(!/panicked|Segmentation|Abort/i.test(r.stderr), r.stderr)
}))

test('the script ending with a send in flight waits for its timeout, then exits cleanly', () => withSilentServer(async (url) => {
  const r = await runChild(`
    const { Client } = require(${JSON.stringify(entry)})
    const c = new Client({ apiKey: 'k', baseUrl: ${JSON.stringify(url)}, timeoutMs: 500, maxRetries: 0 })
    c.sendText('15555550123', 'x').then(() => console.log('resolved'), (e) => console.log('rejected', e.code))
  `)
  assertCleanExit(r)
  assert.match(r.stdout, /rejected outcome_unknown/)
}))
