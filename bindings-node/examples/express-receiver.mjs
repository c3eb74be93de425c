// @ts-check
// An Express app that receives 360dialog webhooks with wa360.
//
//   WEBHOOK_USER=hook WEBHOOK_PASSWORD=… node examples/express-receiver.mjs
//
// Register it with `client.setWebhook('https://your.host/webhook', { headers:
// { Authorization: 'Basic …' } })`: 360dialog then sends that header with every
// delivery and the middleware rejects anything without it.
import express from 'express'
import { wa360Webhook } from 'wa360/express'

/**
 * @param {{ user: string, password: string, onEvents: (events: import('wa360').Event[]) => void | Promise<void> }} opts
 */
export function createApp({ user, password, onEvents }) {
  const app = express()
  app.use('/webhook', wa360Webhook({
    verify: { basicAuth: { user, password } },
    onEvents,
  }))
  app.get('/healthz', (_req, res) => { res.send('ok') })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = createApp({
    user: process.env.WEBHOOK_USER ?? 'hook',
    password: process.env.WEBHOOK_PASSWORD ?? 'change-me',
    onEvents(events) {
      for (const ev of events) {
        if (ev.kind === 'message') console.log(`message ${ev.type} from ${ev.from}`)
        else if (ev.kind === 'status') console.log(`status ${ev.status} for ${ev.id}`)
        else console.log(ev.kind, ev.field)
      }
    },
  })
  const port = Number(process.env.PORT ?? 3000)
  app.listen(port, () => console.log(`listening on http://127.0.0.1:${port}/webhook`))
}
