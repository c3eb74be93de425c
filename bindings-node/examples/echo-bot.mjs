// @ts-check
// The Node echo bot, end to end on the local sandbox (no key, no internet):
// the sandbox delivers an inbound message to the bot's Express receiver, the
// bot replies through `Client`, and the reply's statuses come back.
//
//   node examples/echo-bot.mjs        (what `make demo` runs)
import { randomBytes } from 'node:crypto'
import { Client, Sandbox, isKnownMessage } from 'wa360'
import { createApp } from './express-receiver.mjs'

const say = (/** @type {string} */ who, /** @type {string} */ what) => console.log(`[node-echo-bot] ${who.padEnd(8)} ${what}`)

const sandbox = await Sandbox.start({ timeScale: 0.05 })
say('sandbox', `local 360dialog API at ${sandbox.url}`)
const client = new Client({ apiKey: sandbox.apiKey, baseUrl: sandbox.url })

const user = 'hook'
const password = randomBytes(12).toString('hex')
/** @type {Set<string>} */
const awaiting = new Set(['sent', 'delivered', 'read'])
/** @type {(v?: unknown) => void} */
let done = () => {}
const finished = new Promise((resolve) => { done = resolve })
let replyId = ''

const app = createApp({
  user,
  password,
  async onEvents(events) {
    for (const ev of events) {
      if (ev.kind === 'message' && isKnownMessage(ev) && ev.type === 'text' && ev.from) {
        say('inbound', `${ev.contact?.name ?? ev.from} (${ev.from}): "${ev.text.body}"`)
        await client.markRead(ev.id ?? '')
        const r = await client.sendText(ev.from, `You said: ${ev.text.body}`, { replyTo: ev.id ?? undefined, callbackData: 'echo' })
        replyId = r.messageId ?? ''
        say('reply', `sent ${replyId} (accepted)`)
      } else if (ev.kind === 'status') {
        say('status', `${ev.status} for ${ev.id === replyId ? 'the reply' : ev.id} (callback data: ${ev.biz_opaque_callback_data})`)
        if (ev.id === replyId && ev.status) awaiting.delete(ev.status)
        if (awaiting.size === 0) done()
      }
    }
  },
})
const server = app.listen(0, '127.0.0.1')
await new Promise((resolve) => server.once('listening', resolve))
const addr = server.address()
const port = typeof addr === 'object' && addr ? addr.port : 0
const basic = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64')
// The sandbox takes a plain-http local URL (client.setWebhook insists on https).
await sandbox.registerWebhook(`http://127.0.0.1:${port}/webhook`, { headers: { Authorization: basic } })
say('webhook', `registered http://127.0.0.1:${port}/webhook (Basic auth)`)

const [inboundId] = await sandbox.inbound({ from: '15555550123', name: 'Maya', type: 'text', text: { body: 'Hello from the sandbox!' } })
say('sandbox', `delivering inbound ${inboundId}`)

const timeout = setTimeout(() => { console.error('[node-echo-bot] timed out waiting for the statuses'); process.exit(1) }, 15000)
await finished
clearTimeout(timeout)
say('done', 'inbound → reply → sent/delivered/read: the exchange is complete')
server.close()
await sandbox.stop()
