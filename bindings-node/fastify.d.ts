import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { WebhookReceiverOptions } from './express.js'
import type { ReceiverMetrics } from './wa360.js'

export interface Wa360FastifyOptions extends WebhookReceiverOptions<FastifyRequest> {
  /** Route path of the GET and POST handlers (default `/webhook`). */
  path?: string
  /** Route prefix of the handlers (as Fastify's own `prefix` register option). */
  prefix?: string
  /**
   * Name of the decorator this plugin adds to the instance it is registered on, returning the
   * receiver's figures (default `'wa360Metrics'`). Give each registration on one instance its
   * own name.
   */
  metricsDecorator?: string
}

/**
 * Fastify plugin: verify, parse, answer 200 at once, then call `onEvents`. Decorates the
 * instance it is registered on with `wa360Metrics()` (see `metricsDecorator`): the receiver's
 * figures, events by result, answered requests by status, ack latency.
 */
export declare const wa360Fastify: FastifyPluginAsync<Wa360FastifyOptions>

declare module 'fastify' {
  interface FastifyInstance {
    /** The wa360 receiver's figures (added by `wa360Fastify`; docs/observability.md). */
    wa360Metrics(): ReceiverMetrics
  }
}
