// Helpers shared by the Node test files (no tests here): running a child
// `node -e` process, a server that never answers, waiting for a condition, a minimal inbound text webhook body, and a SQLite write lock
// held by another process (so that an inbox on that file fails).
import { spawn } from 'node:child_process'
import net from 'node:net'

/**
 * Run `code` in a new `node -e` process; resolves to its exit `{ status, signal,
 * stdout, stderr, ms }` (killed after 20 s, so a hang fails instead of blocking).
 */
export function runChild(code) {
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

/** Runs `body(url)` with a server at `url` that accepts connections and never answers. */
export async function withSilentServer(body) {
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

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolve to the first truthy value of `pred()` (may be async); throw after `ms`. */
export async function waitFor(pred, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await pred()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** A webhook body with one inbound text message from `from` with id `wamid`. */
export const text = (from, wamid) => JSON.stringify({
  object: 'whatsapp_business_account',
  entry: [{ id: '1', changes: [{ field: 'messages', value: {
    metadata: { display_phone_number: '15550104321', phone_number_id: '112233445566778' },
    messages: [{ from, id: wamid, timestamp: '1767252600', type: 'text', text: { body: 'x' } }],
  } }] }],
})

/**
 * Hold the write lock of the SQLite file `db` from another process (Python's
 * sqlite3); resolves once it is held, to `{ release() }` (a Promise of the exit).
 */
export async function lockInAnotherProcess(db) {
  const holder = spawn('python3', ['-c', 'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute("BEGIN EXCLUSIVE")\nprint("locked",flush=True)\nsys.stdin.read()', db], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise((resolve) => holder.stdout.once('data', resolve))
  return {
    release() {
      holder.stdin.end()
      return new Promise((resolve) => holder.on('exit', resolve))
    },
  }
}
