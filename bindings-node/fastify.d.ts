import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { WebhookReceiverOptions } from './express.js'

export interface Wa360FastifyOptions extends WebhookReceiverOptions<FastifyRequest> {
  /** Route path of the GET and POST handlers (default `/webhook`). */
  path?: string
}

/** Fastify plugin: verify, parse, answer 200 at once, then call `onEvents`. */
export declare const wa360Fastify: FastifyPluginAsync<Wa360FastifyOptions>
