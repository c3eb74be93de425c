// Public TypeScript surface of the `wa360` package. Native functions and
// classes are declared in the generated `index.d.ts` (from the Rust source);
// this file re-exports them and declares the JS-side additions.

export {
  Campaign, Ledger, Verifier, Sandbox, Deduper, StatusFold, Inbox, Consumer, Receiver, buildMessage, hubChallenge, hubChallengeFromQuery, validateWebhookUrl, validateWebhookSettings, signWebhook, parseWebhookToJson,
  type ClientMetrics, type LatencyHistogram, type LatencyBucket,
  type SendResponse, type SendContact, type SentMessage, type MediaInfo, type ClientDescription,
  type VerifierOptions, type BasicAuth, type SetWebhookOptions, type GetWebhookOptions, type WebhookInfo,
  type GovernorOptions, type BroadcastRunOptions, type BroadcastProgress, type BroadcastSummary, type BroadcastCounts, type CampaignRecipient,
  type SendOptions, type SandboxOptions, type FaultOptions, type MemoryStoreOptions, type MessageState,
  MediaCache, buildTemplate, buildProfileUpdate, parseTemplateList, checkTemplateSend,
  type TemplateInfo, type TemplatePageInfo, type BusinessProfile, type HealthStatus, type HealthEntity,
  type HealthError, type HealthCheck, type BlockedUser, type BlockResult, type CachedUpload,
  type InboxStats, type InboxMetrics, type ReceiverOptions, type ReceiverReply, type ReceiverMetrics, type EarlyReply,
} from './index.js'
import type { TemplateInfo, BlockedUser } from './index.js'
export * from './webhook-events.js'
import type { Event, KnownMessageEvent, WithToJSON } from './webhook-events.js'
import { Client as NativeClient, type ClientOptions as NativeClientOptions } from './index.js'

/** A log level name; `off` (or `silent`) turns logging off. */
export type LogLevel = 'off' | 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * One log record of the core, the same fields as in Rust and Python (see
 * docs/observability.md): `msg` (`request ok`, `request failed`, `retrying`,
 * `webhook verified`, …) plus structured fields such as `client`, `method`,
 * `path`, `status`, `attempts`, `latency_ms`, `code`, `api_code`, `wamid`, `reason`.
 */
export interface LogRecord {
  /** Milliseconds since the Unix epoch. */
  time: number
  level: Exclude<LogLevel, 'off' | 'silent'>
  /** `wa360.transport`, `wa360.webhook.verify`, … */
  target: string
  msg: string
  [field: string]: unknown
}

/**
 * Where log records go: a function, or an object with per-level methods
 * called as `(record, msg)` (pino, bunyan and console all fit).
 */
export type Logger =
  | ((record: LogRecord) => void)
  | {
      error?(record: LogRecord, msg: string): void
      warn?(record: LogRecord, msg: string): void
      info?(record: LogRecord, msg: string): void
      debug?(record: LogRecord, msg: string): void
      trace?(record: LogRecord, msg: string): void
      log?(record: LogRecord, msg: string): void
    }

/** Options of `new Client(options)`. */
export interface ClientOptions extends NativeClientOptions {
  /** Receives this client's log records (instead of the process-wide `setLogger`). */
  logger?: Logger
  /** Lowest level passed to `logger` (default `info`: one record per request). */
  logLevel?: LogLevel
}

/**
 * A 360dialog Cloud API client for one channel (see the native `Client` for every
 * method). Options add `logger` / `logLevel` to the native ones.
 *
 * @example
 * ```ts
 * const client = new Client({ apiKey: process.env.D360_API_KEY, logger: console })
 * await client.sendText('15555550123', 'hello')   // one `request ok` record at info
 * console.log(client.metrics().requests)           // { ok: 1 }
 * ```
 */
export declare class Client extends NativeClient {
  constructor(options?: ClientOptions | undefined | null)
}

/**
 * Send every wa360 log record at `options.level` (default `info`) and above to
 * `logger`; `null` stops. Records of a client created with its own `logger` go
 * there instead. `WA360_LOG=debug` in the environment writes JSON lines to stderr.
 */
export declare function setLogger(logger: Logger | null, options?: { level?: LogLevel }): void

/** Limits of `parseWebhook` (Python: the `max_bytes` / `max_depth` keywords). */
export interface ParseWebhookOptions {
  /** Largest accepted body in bytes (default 1 MiB; at least 1). */
  maxBytes?: number
  /** Deepest accepted nesting of objects and arrays (default 64; the top-level object is 1). */
  maxDepth?: number
}

/**
 * Parse a webhook POST body (the raw bytes or text as received) into its
 * events, in wire order. Each event's own enumerable properties are exactly
 * the canonical form (the same JSON in Rust, Python and Node), and its
 * prototype (not `Object.prototype`) adds a non-enumerable `toJSON()` giving
 * that form as a plain object.
 * Throws a `Wa360Error` with code `webhook_payload` for a body that is too
 * large (1 MiB, or `options.maxBytes`), too deep (64, or `options.maxDepth`),
 * not JSON or not a webhook, and `invalid_argument` for a bad option.
 */
export declare function parseWebhook(body: Buffer | Uint8Array | string, options?: ParseWebhookOptions): Event[]

/** True for a message event of a type wa360 models; narrows so `switch (ev.type)` is exact. */
export declare function isKnownMessage(ev: unknown): ev is WithToJSON<KnownMessageEvent>

/** The message types `isKnownMessage` accepts, frozen (the Rust core's list; Python `KNOWN_MESSAGE_TYPES`). */
export declare const KnownMessageTypes: readonly KnownMessageEvent['type'][]

/** The stable error codes of wa360 (identical in Rust, Python and Node). */
export type ErrorCode =
  | 'invalid_argument'
  | 'configuration'
  | 'authentication'
  | 'permission'
  | 'rate_limited'
  | 'invalid_request'
  | 'recipient'
  | 'window_closed'
  | 'template'
  | 'flow'
  | 'policy'
  | 'payment'
  | 'account'
  | 'media'
  | 'transient'
  | 'outcome_unknown'
  | 'timeout'
  | 'connection'
  | 'invalid_response'
  | 'api_error'
  | 'webhook_payload'
  | 'invalid_signature'
  | 'internal'
  | 'store'

/** Every error code, frozen, in the core's declaration order. */
export declare const ErrorCodes: readonly ErrorCode[]

/**
 * The shape of every error wa360 throws or rejects with: a plain `Error`
 * carrying the core's code and whatever the server said.
 */
export interface Wa360Error extends Error {
  code: ErrorCode
  /** HTTP status, when the server answered. */
  status: number | null
  /** Meta's numeric error code. */
  apiCode: number | null
  /** Meta's `error_subcode`. */
  subcode: number | null
  /** Meta's `type` (e.g. `OAuthException`). */
  errorType: string | null
  /** Meta's `error_data.details`. */
  details: string | null
  /** The offending field of an `invalid_argument` error (dotted path). */
  field: string | null
  /** The broken rule of an `invalid_argument` error. */
  rule: string | null
  /** Delay the server asked for before trying again, in milliseconds. */
  retryAfterMs: number | null
  /** Meta's `fbtrace_id`. */
  fbtraceId: string | null
  /** 360dialog's trace id. */
  traceId: string | null
  /** Meta's `is_transient`. */
  isTransient: boolean | null
  /** What the server itself said (Meta `message`, 360dialog `developer_message`). */
  serverMessage: string | null
}

/** Narrow an unknown caught value to a wa360 error (optionally of one code). */
export declare function isWa360Error(e: unknown, code?: ErrorCode): e is Wa360Error

/**
 * Resolves once every broadcast run and receiver consumer pool running in this process now
 * has ended (at once when none runs; those with `shutdownSignals: false` included; consumers
 * run until closed). On SIGINT / SIGTERM wa360 stops them after the work in flight; an app
 * that listens for the signal itself ends the process when it chooses, so it should
 * `await settled()` before `process.exit()` (docs/sending-at-scale.md).
 */
export declare function settled(): Promise<void>

/** @internal The property names of every error attribute (the core's `Error::fields`). */
export declare function _errorFields(): string[]
/** @internal test hook: panics inside Rust (must throw code `internal`). */
export declare function _panicForTests(): void
/** @internal test hook: panics inside a Rust future (must reject with code `internal`). */
export declare function _panicForTestsAsync(): Promise<void>

/** Options of `Sandbox.waitFor(predicate, options)`. */
export interface WaitOptions {
  /** Give up after this many ms with a `timeout` error (default 10000; 0 = try once). */
  timeoutMs?: number
  /** Try the predicate every this many ms (default 20). */
  intervalMs?: number
}

/** Options of `Sandbox.waitDeliveries(n, options)`. */
export interface WaitDeliveriesOptions {
  /** Only deliveries of this kind: `status:sent`, `status:delivered`, `status:read`, `inbound`, `raw` (default: any). */
  kind?: string
  /** Only deliveries the receiver answered 200 (default true). */
  ok?: boolean
  /** Give up after this many ms with a `timeout` error (default 10000). */
  timeoutMs?: number
}

declare module './index.js' {
  interface Deduper {
    /** The events not seen before, in order (repeats within the batch dropped too). */
    filter<E extends Event>(events: E[]): E[]
  }
  interface StatusFold {
    /** Every non-status event, and the status events worth reporting, in order. */
    filter<E extends Event>(events: E[]): E[]
  }
  interface Client {
    /**
     * Every template, fetched page by page as it is consumed (`for await`).
     * `source: 'config'` (default) pages `GET /v1/configs/templates` by offset;
     * `'graph'` pages `GET /message_templates` by cursor. Bad options reject the
     * first iteration before any request.
     */
    listTemplates(options?: { source?: 'config' | 'graph'; name?: string; status?: string; language?: string; pageSize?: number; limit?: number }): AsyncIterableIterator<TemplateInfo>
    /** Every blocked user, fetched page by page (`for await`). */
    listBlockedUsers(options?: { pageSize?: number }): AsyncIterableIterator<BlockedUser>
  }
  interface Inbox {
    /** Up to `limit` (default 100) dead letters, oldest first. */
    dead(limit?: number): Promise<Array<{ id: string; event: WithToJSON<Event>; attempts: number; lastError?: string; acceptedAtMs: number }>>
  }
  interface Sandbox {
    /**
     * Resolve to the first truthy value of `predicate()` (may be async), tried every
     * `intervalMs` (default 20); rejects with a `timeout` error after `timeoutMs`
     * (default 10000). As Python's `Sandbox.wait_for`.
     */
    waitFor<T>(predicate: () => T | Promise<T>, options?: WaitOptions | undefined | null): Promise<NonNullable<T>>
    /**
     * Wait until at least `n` webhook deliveries (of `kind`, e.g. `'status:read'`;
     * answered 200 unless `ok: false`) were made; resolves to them. As Python's
     * `Sandbox.wait_deliveries`.
     */
    waitDeliveries(n: number, options?: WaitDeliveriesOptions | undefined | null): Promise<Array<Record<string, any>>>
  }
  interface Consumer {
    /** Claim up to `max` (default 1) events, waiting up to `timeoutMs` (default 1000). */
    next(max?: number, timeoutMs?: number): Promise<Array<{ id: string; event: WithToJSON<Event>; attempt: number; conversation?: string }>>
  }
}
