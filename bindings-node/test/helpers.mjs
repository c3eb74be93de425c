// Helpers shared by the Node test files (no tests here): waiting for a
// condition, a minimal inbound text webhook body, and a SQLite write lock
// held by another process (so that an inbox on that file fails).
import { spawn } from 'node:child_process'

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
