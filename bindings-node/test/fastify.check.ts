// Compile-time checks of the Fastify plugin typings (run by `tsc --noEmit`, never executed).
import Fastify from 'fastify'
import { wa360Fastify } from '../fastify.js'
import type { ReceiverMetrics, InboxMetrics, Inbox } from '../wa360.js'

export async function fastifyMetrics(inbox: Inbox): Promise<[ReceiverMetrics, InboxMetrics]> {
  const app = Fastify()
  await app.register(wa360Fastify, { insecureSkipVerify: true, inbox, prefix: '/hooks', metricsDecorator: 'wa360Metrics', onEvents() {} })
  // @ts-expect-error: the decorator name is a string
  await app.register(wa360Fastify, { insecureSkipVerify: true, metricsDecorator: 1, onEvents() {} })
  return [app.wa360Metrics(), inbox.metrics()]
}

// With an inbox each call gets `{ signal }`, aborted at handlerTimeoutMs.
export async function handlerDeadline(inbox: Inbox): Promise<void> {
  const app = Fastify()
  await app.register(wa360Fastify, {
    insecureSkipVerify: true,
    inbox,
    handlerTimeoutMs: 30_000,
    async onEvents(events, request, context) {
      await fetch('http://127.0.0.1/', { signal: context?.signal })
    },
  })
  // @ts-expect-error: a number of milliseconds
  await app.register(wa360Fastify, { insecureSkipVerify: true, inbox, handlerTimeoutMs: '30s', onEvents() {} })
}
