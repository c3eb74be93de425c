// A process with an inbox receiver and a SIGTERM handler of its own (registered with
// `once`, as apps do): on SIGTERM the app finishes its own shutdown (a slow one) and
// exits 0, writing MARKER first. The receiver must not end the process under it.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

// `node --test test/` runs every file here too: without MARKER (not started by the
// test) there is nothing to do.
if (!process.env.MARKER) process.exit(0)

const require = createRequire(import.meta.url)
const { makeReceiver } = require('../../webhook-receiver.js')

const r = makeReceiver({ insecureSkipVerify: true, inbox: 'memory://', onEvents() {} })
process.once('SIGTERM', async () => {
  await new Promise((resolve) => setTimeout(resolve, 1500))
  writeFileSync(process.env.MARKER, 'done')
  process.exit(0)
})
// The consumers start on the next tick (and register their own signal handling).
setImmediate(() => console.log('ready'))
setInterval(() => {}, 1000)
void r
