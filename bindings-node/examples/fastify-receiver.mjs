// @ts-check
// A Fastify app that receives 360dialog webhooks with wa360.
//
//   WEBHOOK_SECRET=… node examples/fastify-receiver.mjs
import Fastify from 'fastify'
import { wa360Fastify } from 'wa360/fastify'

/**
 * @param {{ headerSecret: string, onEvents: (events: import('wa360').Event[]) => void | Promise<void> }} opts
 */
export function createServer({ headerSecret, onEvents }) {
  const fastify = Fastify()
  fastify.register(wa360Fastify, {
    path: '/webhook',
    // 360dialog sends the custom headers you registered with setWebhook.
    verify: { headers: { 'x-webhook-secret': headerSecret } },
    onEvents,
  })
  return fastify
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = createServer({
    headerSecret: process.env.WEBHOOK_SECRET ?? 'change-me',
    onEvents(events) {
      for (const ev of events) console.log(ev.kind, ev.kind === 'message' ? ev.type : '')
    },
  })
  const port = Number(process.env.PORT ?? 3000)
  await server.listen({ port, host: '127.0.0.1' })
  console.log(`listening on http://127.0.0.1:${port}/webhook`)
}
