import type { RequestHandler, Request } from 'express'
import type { Event, VerifierOptions, Verifier } from './wa360.js'

export interface WebhookReceiverOptions<R> {
  /** Checks every delivery must pass (Basic auth, custom headers, X-Hub-Signature-256). */
  verify?: VerifierOptions
  /** A ready Verifier (instead of `verify`). */
  verifier?: Verifier
  /** Accept unauthenticated deliveries (local experiments only). */
  insecureSkipVerify?: boolean
  /** Answer Meta's `GET ?hub.mode=subscribe…` check with this verify token. */
  verifyToken?: string
  /** Called on a later tick, after the 200 was sent, with the parsed events. */
  onEvents: (events: Event[], request: R) => void | Promise<void>
  /** Called when onEvents throws or rejects (default: console.error). */
  onError?: (error: unknown) => void
}

/** Express middleware: verify, parse, answer 200 at once, then call `onEvents`. */
export declare function wa360Webhook(options: WebhookReceiverOptions<Request>): RequestHandler
