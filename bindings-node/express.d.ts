import type { RequestHandler, Request } from 'express'
import type { Event, VerifierOptions, Verifier, Inbox, ReceiverMetrics } from './wa360.js'

/** What an inbox consumer gives each call of `onEvents` besides the event. */
export interface HandlerContext {
  /**
   * Aborted when the call runs past `handlerTimeoutMs` (reason: a `TimeoutError` DOMException)
   * and when `close()` stops waiting for it (an `AbortError`). Pass it to `fetch`, your
   * database client or `signal.throwIfAborted()`: a JavaScript call cannot be stopped from
   * outside, so the event stays held until the call settles, and a rejection is a failed
   * attempt (retried with backoff, then dead-lettered).
   */
  signal: AbortSignal
}

export interface WebhookReceiverOptions<R> {
  /** Checks every delivery must pass (Basic auth, custom headers, X-Hub-Signature-256). */
  verify?: VerifierOptions
  /** A ready Verifier (instead of `verify`). */
  verifier?: Verifier
  /** Accept unauthenticated deliveries (local experiments only). */
  insecureSkipVerify?: boolean
  /** Answer Meta's `GET ?hub.mode=subscribe…` check with this verify token. */
  verifyToken?: string
  /**
   * Called after the 200 was sent. Without `inbox`: on a later tick with the new events of the
   * delivery and its request. With `inbox`: by this process's consumers, one event per call,
   * `request` null, and `context.signal` (see `handlerTimeoutMs`); a throw or rejection retries
   * the event with backoff, then dead-letters it.
   */
  onEvents: (events: Event[], request: R | null, context?: HandlerContext) => void | Promise<void>
  /**
   * Called when onEvents throws or rejects (without an inbox; with one, each failure, retried or
   * dead-lettered, with the handler's error as `cause`), for events released at `close()`, and
   * for inbox problems (default: console.error).
   */
  onError?: (error: unknown) => void
  /**
   * Store events durably before answering 200 and hand them out through consumers:
   * `'sqlite:///abs/path.db'` (several processes on one machine), `'memory://'`, or an `Inbox`.
   * Without it: one process, not durable.
   */
  inbox?: string | Inbox
  /** With an inbox: how many events this process handles at once (1 to 1024, default 4). */
  concurrency?: number
  /**
   * With an inbox: ms running handlers get to finish on shutdown before their events are
   * released (default 10000; `Infinity` waits for them). Every option is checked when the
   * receiver is made: a wrong type or an unknown key throws `invalid_argument` naming it.
   */
  shutdownGraceMs?: number
  /**
   * With an inbox: ms one call of `onEvents` may run before its `context.signal` is aborted
   * with a `TimeoutError` (default: no limit). The event is never handed to another call while
   * this one runs: the call's own outcome decides, so honour the signal.
   */
  handlerTimeoutMs?: number
  /**
   * With an inbox: run consumers in this process (default true). `false` makes this process a
   * receiver only; separate worker processes then consume with `new Inbox(url).consumer()`.
   */
  startConsumers?: boolean
  /**
   * With an inbox: close the consumers gracefully on SIGTERM / SIGINT (default true); the
   * process then ends by that signal unless the app listens for it (`await settled()` first).
   */
  shutdownSignals?: boolean
  /** Without an inbox: drop repeated events in memory (default true). */
  dedupe?: boolean
  /** Without an inbox: drop stale / repeated statuses in memory (default false). */
  statusFold?: boolean
  /** Body limit in bytes (default 1 MiB); larger bodies get 413. */
  maxBytes?: number
  /** Nesting limit (default 64). */
  maxDepth?: number
  /**
   * Express: ms to wait for a request's body (default 10000); a sender that stops mid-body
   * gets 408. Wrong Basic auth / header credentials and a declared Content-Length over
   * `maxBytes` are answered from the headers, before any body is read.
   */
  bodyTimeoutMs?: number
}

/** Express middleware: the core receiver (verify, parse, inbox accept), then `onEvents`. */
export declare function wa360Webhook(options: WebhookReceiverOptions<Request>): RequestHandler & {
  /**
   * Graceful shutdown of the inbox consumers (grace: `shutdownGraceMs` unless given;
   * `Infinity` waits); resolves to how many events were released.
   */
  close(graceMs?: number): Promise<number>
  /** This receiver's figures: events by result, answered requests by status, ack latency. */
  metrics(): ReceiverMetrics
  /** The inbox, when one is configured. */
  inbox: Inbox | null
}
