// Runs the wa360 sandbox in its own process for the throughput benchmark, so
// the server does not share threads with the clients being measured.
// Prints {"url","apiKey"} on stdout; stops when stdin closes.
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const { Sandbox } = require('../../bindings-node/wa360.js')

const sb = await Sandbox.start()
process.stdout.write(JSON.stringify({ url: sb.url, apiKey: sb.apiKey }) + '\n')
process.stdin.resume()
process.stdin.on('end', async () => { await sb.stop(); process.exit(0) })
