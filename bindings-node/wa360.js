'use strict'
// The `wa360` package entry. Every behaviour lives in Rust: index.js (generated
// by `napi build`) loads the napi-rs addon; this file re-exports it under the
// public names and adds only what is cheaper on the JS side:
//   - parseWebhook: Rust parses and returns the events as JSON text in one
//     N-API call (the core's packed form); V8's JSON.parse and object literals
//     materialise them (faster than building JS objects property by property
//     through N-API, see docs/performance.md §5);
//   - isWa360Error / ErrorCodes, isKnownMessage / KnownMessageTypes.
const native = require('./index.js')
const logging = require('./logging.js')
const shutdown = require('./shutdown.js')

/** Every stable error code, frozen (same list as the Rust core's ErrorCode::ALL). */
const ErrorCodes = Object.freeze(native._errorCodes())
const codeSet = new Set(ErrorCodes)

/** True when `e` is an error thrown by wa360 (optionally with the given code). */
function isWa360Error(e, code) {
  return e instanceof Error && typeof e.code === 'string' && codeSet.has(e.code) &&
    (code === undefined || e.code === code)
}

// Arguments of the wrong JS type are rejected by napi-rs before Rust runs,
// with napi's own codes (InvalidArg, StringExpected, ObjectExpected, …). They
// are reshaped here into the one error model: code `invalid_argument` (the
// napi code is kept as `.napiCode`); Promise-returning methods reject instead
// of throwing synchronously.
// They get every other attribute of a wa360 error too (null), as errors built in
// Rust do (the core's Error::fields, named by `_errorFields`).
const NAPI_ARG_CODE = /^(InvalidArg|[A-Za-z]+Expected)$/
const ERROR_FIELDS = Object.freeze(native._errorFields())
function shapeArgError(e) {
  if (e instanceof Error && typeof e.code === 'string' && !codeSet.has(e.code) && NAPI_ARG_CODE.test(e.code)) {
    e.napiCode = e.code
    e.code = 'invalid_argument'
    for (const f of ERROR_FIELDS) if (f !== 'message' && !Object.hasOwn(e, f)) e[f] = null
  }
  return e
}
function wrapSync(fn) {
  return function wa360Sync(...args) {
    try { return fn.apply(this, args) } catch (e) { throw shapeArgError(e) }
  }
}
function wrapAsync(fn) {
  return function wa360Async(...args) {
    try { return fn.apply(this, args) } catch (e) { return Promise.reject(shapeArgError(e)) }
  }
}
function wrapMethods(Cls, asyncNames) {
  for (const name of Object.getOwnPropertyNames(Cls.prototype)) {
    const d = Object.getOwnPropertyDescriptor(Cls.prototype, name)
    if (name === 'constructor' || typeof d.value !== 'function') continue
    Object.defineProperty(Cls.prototype, name, { ...d, value: (asyncNames.has(name) ? wrapAsync : wrapSync)(d.value) })
  }
}
// Constructors that take arguments napi-rs converts (strings, class instances)
// get the same reshaping. A Proxy keeps the class itself: `instanceof`,
// `prototype` and the statics are the native class's, and objects it makes are
// plain native instances. (The statics, `Campaign.fromCsv`, `Ledger.openExisting`
// and `Sandbox.start`, are read-only properties of the native class, which a
// Proxy must return as they are: their napi type errors keep napi's codes.)
function shapeConstructor(Cls) {
  const proxy = new Proxy(Cls, {
    construct(target, args, newTarget) {
      try {
        return Reflect.construct(target, args, newTarget === proxy ? target : newTarget)
      } catch (e) { throw shapeArgError(e) }
    },
  })
  return proxy
}
const SYNC_CLIENT_METHODS = new Set(['toJSON', '_templatesIterator', '_blockedUsersIterator'])
wrapMethods(native.Client, new Set(Object.getOwnPropertyNames(native.Client.prototype).filter((n) => !SYNC_CLIENT_METHODS.has(n))))
wrapMethods(native.TemplateIterator, new Set(['next']))
wrapMethods(native.BlockedUserIterator, new Set(['next']))
wrapMethods(native.Sandbox, new Set(['inbound', 'markSeen', 'setHealth', 'registerWebhook', 'stop']))
wrapMethods(native.Ledger, new Set())
// client.mediaInfo(id): what prints (console.log, util.inspect) leaves out the download URL,
// whose `hash` parameter is an access token, and the file hash, as Python's repr does. The
// properties themselves are all there (and in JSON.stringify).
{
  const MEDIA_INFO_INSPECT = {
    enumerable: false, configurable: true, writable: true,
    value: function inspectMediaInfo(_depth, options, inspect) {
      return `MediaInfo ${inspect({ id: this.id, mimeType: this.mimeType, fileSize: this.fileSize }, options)}`
    },
  }
  const d = Object.getOwnPropertyDescriptor(native.Client.prototype, 'mediaInfo')
  const nativeMediaInfo = d.value
  Object.defineProperty(native.Client.prototype, 'mediaInfo', {
    ...d,
    value: async function mediaInfo(...args) {
      const info = await nativeMediaInfo.apply(this, args)
      Object.defineProperty(info, Symbol.for('nodejs.util.inspect.custom'), MEDIA_INFO_INSPECT)
      return info
    },
  })
}
// client.broadcast(campaign, ledger, { progress, ...options }): the progress callback
// crosses to Rust as its own argument (a thread-safe function).
{
  const nativeBroadcast = native.Client.prototype.broadcast
  Object.defineProperty(native.Client.prototype, 'broadcast', {
    enumerable: false, configurable: true, writable: true,
    value: function broadcast(campaign, ledger, options = {}) {
      // Own properties only (the core reads the others so): a polluted Object.prototype
      // must not set a progress callback, a signal, or turn signal handling off.
      const { progress: _p, signal: _s, shutdownSignals: _d, ...rest } = options ?? {}
      const own = (k) => (options != null && Object.hasOwn(options, k) ? options[k] : undefined)
      const [progress, signal, shutdownSignals] = [own('progress'), own('signal'), own('shutdownSignals')]
      if (progress !== undefined && typeof progress !== 'function') {
        return Promise.reject(logging.invalid('progress', 'must be a function'))
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        return Promise.reject(logging.invalid('signal', 'must be an AbortSignal'))
      }
      if (shutdownSignals !== undefined && typeof shutdownSignals !== 'boolean') {
        return Promise.reject(logging.invalid('shutdownSignals', 'must be true or false'))
      }
      // A progress callback that throws (or rejects) must not end the process: it runs
      // from a thread-safe function, where a throw is fatal. Reported as a warning.
      const guarded = progress === undefined ? undefined : (p) => {
        try {
          const r = progress(p)
          if (r && typeof r.then === 'function') r.then(undefined, (e) => process.emitWarning(`wa360 broadcast progress callback failed: ${e}`))
        } catch (e) {
          process.emitWarning(`wa360 broadcast progress callback failed: ${e}`)
        }
      }
      // This run's stop switch: after the sends in flight, each recorded in the ledger
      // (other processes on the ledger go on; `ledger.stop()` stops them all). Flipped by
      // `signal` and, unless `shutdownSignals: false`, by SIGINT / SIGTERM (shutdown.js).
      const stop = new native._BroadcastStop()
      const onAbort = () => stop.stop()
      if (signal !== undefined) {
        if (signal.aborted) stop.stop()
        else signal.addEventListener('abort', onAbort, { once: true })
      }
      const untrack = shutdown.track(onAbort, shutdownSignals !== false)
      const done = () => {
        signal?.removeEventListener('abort', onAbort)
        untrack()
      }
      // The wrapped native method never throws (bad arguments reject), so the run always
      // ends through this promise. Not `.finally`: its extra steps would let `settled()`
      // resolve before the code awaiting this run.
      return nativeBroadcast.call(this, campaign, ledger, rest, guarded, stop)
        .then((s) => { done(); return s }, (e) => { done(); throw e })
    },
  })
}
wrapMethods(native.Verifier, new Set())
wrapMethods(native.Deduper, new Set())
wrapMethods(native.StatusFold, new Set())
wrapMethods(native.Inbox, new Set(['stats', '_deadJson', 'replay', 'drop', 'prune']))
wrapMethods(native.Consumer, new Set(['_nextJson', 'ack', 'nack', 'releaseHeld', 'close']))
wrapMethods(native.Receiver, new Set(['handle']))
// sandbox.waitFor(predicate, { timeoutMs, intervalMs }) / waitDeliveries(n, { kind, ok,
// timeoutMs }): the rule (defaults, option checks, deadline, the `timeout` error) is the
// sandbox's Waiter (native _waiter / _deliveryWaiter); only calling the JS predicate and
// sleeping are here.
{
  async function poll(waiter, predicate) {
    for (;;) {
      const value = await predicate()
      if (value) return value
      const ms = waiter.pauseMs()
      await new Promise((resolve) => setTimeout(resolve, ms))
    }
  }
  const methods = {
    async waitFor(predicate, options) {
      if (typeof predicate !== 'function') {
        throw Object.assign(new TypeError('predicate must be a function'), { code: 'invalid_argument', field: 'predicate', rule: 'must be a function' })
      }
      return poll(this._waiter(options), predicate)
    },
    async waitDeliveries(n, options) {
      const waiter = this._deliveryWaiter(n, options)
      return poll(waiter, () => waiter.deliveries())
    },
  }
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(native.Sandbox.prototype, name, { enumerable: false, configurable: true, writable: true, value })
  }
}
wrapMethods(native.SandboxWaiter, new Set())
// Sandbox.start is a read-only static of the native class: left as is (its
// one optional argument is an options object).

// toJSON of an event: its own enumerable data (toJSON itself is non-enumerable),
// i.e. exactly the canonical object.
function eventToJSON() {
  return { ...this }
}
const TO_JSON = { value: eventToJSON, enumerable: false, writable: true, configurable: true }
// The prototype of the other parsed events: Object.prototype plus a
// non-enumerable toJSON, set by `__proto__:` in the event's literal (cheaper
// than an Object.defineProperty of toJSON on each event; the own data is
// unchanged: exactly the canonical object).
const EVENT_PROTO = Object.create(Object.prototype, { toJSON: TO_JSON })

// A parsed message. Its class fields are defined on each instance in the
// canonical key order, with define semantics (as in an object literal: a
// setter planted on Object.prototype is never called), and the constructor
// then writes own properties; the payload key comes last. All messages share
// this one class, so V8 keeps one shape for the fixed keys: about 0.3 µs less
// per message than a literal with a computed key plus an own toJSON
// (docs/performance.md §5). toJSON is a non-enumerable method of the prototype.
class MessageEvent {
  kind = 'message'
  field
  waba_id
  phone_number_id
  display_phone_number
  id
  from
  from_user_id
  timestamp
  type
  contact
  context
  errors
  constructor(O, o, C, e) {
    const c = e[7]
    this.field = O[o]
    this.waba_id = O[o + 1]
    this.phone_number_id = O[o + 2]
    this.display_phone_number = O[o + 3]
    this.id = e[2]
    this.from = e[3]
    this.from_user_id = e[4]
    this.timestamp = e[5]
    this.type = e[6]
    this.contact = c < 0 ? null : { wa_id: C[c], user_id: C[c + 1], name: C[c + 2] }
    this.context = e[8]
    this.errors = e[9]
  }
}
Object.defineProperty(MessageEvent.prototype, 'toJSON', TO_JSON)

// A parsed status, built like a message (about 0.1 µs less than a literal).
class StatusEvent {
  kind = 'status'
  field
  waba_id
  phone_number_id
  display_phone_number
  id
  status
  timestamp
  recipient_id
  recipient_user_id
  conversation
  pricing
  errors
  biz_opaque_callback_data
  constructor(O, o, e) {
    this.field = O[o]
    this.waba_id = O[o + 1]
    this.phone_number_id = O[o + 2]
    this.display_phone_number = O[o + 3]
    this.id = e[2]
    this.status = e[3]
    this.timestamp = e[4]
    this.recipient_id = e[5]
    this.recipient_user_id = e[6]
    this.conversation = e[7]
    this.pricing = e[8]
    this.errors = e[9]
    this.biz_opaque_callback_data = e[10]
  }
}
Object.defineProperty(StatusEvent.prototype, 'toJSON', TO_JSON)
const PAYLOAD = { value: undefined, enumerable: true, writable: true, configurable: true }

const KINDS = ['message', 'status', 'error', 'field_update', 'unknown']

/**
 * Parse a webhook POST body (Buffer or string, as received) into its events.
 * Throws an Error with code `webhook_payload` for a body that is too large,
 * too deep, not JSON or not a webhook. `options.maxBytes` / `options.maxDepth`
 * change the limits (1 MiB, 64), as Python's `max_bytes` / `max_depth` do.
 *
 * The core returns the canonical events in its packed positional form
 * (origins and contacts written once, each event a list; see
 * core/src/webhook/packed.rs); V8's JSON.parse reads it, and a class
 * (messages, statuses) or object literals (other events) give each event the canonical
 * keys in the canonical order. Both define own data properties (a polluted
 * Object.prototype setter is never called), and `__proto__` is never a key
 * here (it is a reserved type name: its payload goes under `payload`); the
 * `__proto__:` entry of each literal sets the prototype (EVENT_PROTO, for
 * toJSON), it is not a key.
 * docs/performance.md §5 has the figures.
 */
function parseWebhook(body, options) {
  let text
  try {
    text = options === undefined
      ? native._parseWebhookPacked(body)
      : native._parseWebhookPackedWith(body, options)
  } catch (e) { throw shapeArgError(e) }
  const p = JSON.parse(text)
  const O = p[0]
  const C = p[1]
  const n = p.length - 2
  const events = new Array(n)
  for (let i = 0; i < n; i++) {
    const e = p[i + 2]
    const o = e[1]
    let ev
    switch (e[0]) {
      case 0: {
        ev = new MessageEvent(O, o, C, e)
        const pk = e[10]
        if (pk !== 0) {
          const key = pk === 1 ? e[6] : pk
          if (key in ev) {
            // Only a key inherited from a polluted Object.prototype gets here
            // (Object.prototype's own names are reserved by the core: their
            // payload goes under `payload`); define it so no setter runs.
            PAYLOAD.value = e[11]
            Object.defineProperty(ev, key, PAYLOAD)
            PAYLOAD.value = undefined
          } else {
            ev[key] = e[11]
          }
        }
        break
      }
      case 1:
        ev = new StatusEvent(O, o, e)
        break
      case 2:
        ev = { __proto__: EVENT_PROTO, kind: 'error', field: O[o], waba_id: O[o + 1], phone_number_id: O[o + 2], display_phone_number: O[o + 3], errors: e[2] }
        break
      case 3:
        ev = { __proto__: EVENT_PROTO, kind: 'field_update', field: O[o], waba_id: O[o + 1], phone_number_id: O[o + 2], display_phone_number: O[o + 3], value: e[2] }
        break
      default:
        ev = { __proto__: EVENT_PROTO, kind: KINDS[e[0]], field: O[o], waba_id: O[o + 1], phone_number_id: O[o + 2], display_phone_number: O[o + 3], raw: e[2] }
    }
    events[i] = ev
  }
  return events
}

/**
 * The exact `POST /messages` body of a message description, without sending it.
 * Read from the core's JSON text (so a `__proto__` key stays an own property);
 * integers beyond ±(2^53 − 1) are BigInt, exact (a number would round them).
 */
function buildMessage(message) {
  const { body, big } = JSON.parse(native.buildMessageToJson(message))
  for (const path of big) {
    let o = body
    for (let i = 0; i < path.length - 1; i++) o = o[path[i]]
    const k = path[path.length - 1]
    Object.defineProperty(o, k, { value: BigInt(o[k]), enumerable: true, writable: true, configurable: true })
  }
  return body
}

/** The inbound message types wa360 types, frozen (the Rust core's KNOWN_MESSAGE_TYPES). */
const KnownMessageTypes = Object.freeze(native.knownMessageTypes())
const KNOWN_MESSAGE_TYPES = new Set(KnownMessageTypes)

/** True for a message event whose `type` is one wa360 types (narrows to KnownMessageEvent). */
function isKnownMessage(ev) {
  return ev !== null && typeof ev === 'object' && ev.kind === 'message' && KNOWN_MESSAGE_TYPES.has(ev.type)
}

// listTemplates / listBlockedUsers: async iterables over the native page-by-page
// iterators. Bad options reject the first next() (nothing is requested before).
function pagedIterable(open) {
  let it = null
  let done = false
  return {
    async next() {
      if (done) return { done: true, value: undefined }
      try {
        if (it === null) it = open()
        const value = await it.next()
        if (value === null) { done = true; return { done: true, value: undefined } }
        return { done: false, value }
      } catch (e) {
        done = true
        throw shapeArgError(e)
      }
    },
    async return() { done = true; return { done: true, value: undefined } },
    [Symbol.asyncIterator]() { return this },
  }
}
Object.defineProperty(native.Client.prototype, 'listTemplates', {
  enumerable: false, configurable: true, writable: true,
  value: function listTemplates(options) { return pagedIterable(() => this._templatesIterator(options)) },
})
Object.defineProperty(native.Client.prototype, 'listBlockedUsers', {
  enumerable: false, configurable: true, writable: true,
  value: function listBlockedUsers(options) { return pagedIterable(() => this._blockedUsersIterator(options)) },
})


// filter(): the batch forms of Deduper.isNew / StatusFold.apply, in order.
Object.defineProperty(native.Deduper.prototype, 'filter', {
  enumerable: false, configurable: true, writable: true,
  value: function filter(events) { return events.filter((e) => this.isNew(e)) },
})
const REPORTABLE = new Set(['advanced', 'failed', 'unrecognised'])
Object.defineProperty(native.StatusFold.prototype, 'filter', {
  enumerable: false, configurable: true, writable: true,
  value: function filter(events) { return events.filter((e) => e.kind !== 'status' || REPORTABLE.has(this.apply(e))) },
})

/**
 * `new Client({ apiKey, baseUrl, timeoutMs, connectTimeoutMs, maxRetries, logger, logLevel })`:
 * the native client plus the JS-only options `logger` (a function `(record) => void`, or an
 * object with `info`/`warn`/`debug`/… methods such as console or pino) and `logLevel`
 * (default `info`), which receive this client's log records.
 */
class Client extends native.Client {
  constructor(options) {
    let rest = options
    let logger
    let logLevel
    if (options !== null && typeof options === 'object' &&
        (Object.hasOwn(options, 'logger') || Object.hasOwn(options, 'logLevel'))) {
      logger = Object.hasOwn(options, 'logger') ? options.logger : undefined
      logLevel = Object.hasOwn(options, 'logLevel') ? options.logLevel : undefined
      rest = {}
      for (const k of Object.keys(options)) if (k !== 'logger' && k !== 'logLevel') rest[k] = options[k]
    }
    super(rest)
    if (logger !== undefined && logger !== null) logging.attach(this, logger, logLevel)
  }
}
// Inbox.dead() / Consumer.next(): events arrive as canonical JSON text, parsed here.
Object.defineProperty(native.Inbox.prototype, 'dead', {
  enumerable: false, configurable: true, writable: true,
  value: async function dead(limit) {
    const rows = await this._deadJson(limit)
    return rows.map(({ eventJson, ...rest }) => {
      const event = JSON.parse(eventJson)
      Object.defineProperty(event, 'toJSON', TO_JSON)
      return { ...rest, event }
    })
  },
})
Object.defineProperty(native.Consumer.prototype, 'next', {
  enumerable: false, configurable: true, writable: true,
  value: async function next(max, timeoutMs) {
    const rows = await this._nextJson(max, timeoutMs)
    return rows.map(({ eventJson, ...rest }) => {
      const event = JSON.parse(eventJson)
      Object.defineProperty(event, 'toJSON', TO_JSON)
      return { ...rest, event }
    })
  },
})

module.exports = {
  Client,
  setLogger: logging.setLogger,
  Campaign: shapeConstructor(native.Campaign),
  Ledger: shapeConstructor(native.Ledger),
  Verifier: native.Verifier,
  Sandbox: native.Sandbox,
  Deduper: native.Deduper,
  StatusFold: native.StatusFold,
  MediaCache: native.MediaCache,
  buildMessage: wrapSync(buildMessage),
  buildTemplate: wrapSync(native.buildTemplate),
  buildProfileUpdate: wrapSync(native.buildProfileUpdate),
  parseTemplateList: wrapSync(native.parseTemplateList),
  checkTemplateSend: wrapSync(native.checkTemplateSend),
  Inbox: shapeConstructor(native.Inbox),
  Consumer: native.Consumer,
  Receiver: native.Receiver,
  ErrorCodes,
  KnownMessageTypes,
  isWa360Error,
  settled: shutdown.settled,
  parseWebhook,
  parseWebhookToJson: wrapSync(native.parseWebhookToJson),
  isKnownMessage,
  hubChallenge: wrapSync(native.hubChallenge),
  hubChallengeFromQuery: wrapSync(native.hubChallengeFromQuery),
  validateWebhookUrl: wrapSync(native.validateWebhookUrl),
  validateWebhookSettings: wrapSync(native.validateWebhookSettings),
  signWebhook: wrapSync(native.signWebhook),
  _panicForTests: native._panicForTests,
  _panicForTestsAsync: native._panicForTestsAsync,
  _errorFields: native._errorFields,
}
