'use strict'
// The `wa360` package entry. Every behaviour lives in Rust: index.js (generated
// by `napi build`) loads the napi-rs addon; this file re-exports it under the
// public names and adds only what is cheaper on the JS side:
//   - parseWebhook: Rust parses and returns the canonical JSON text in one
//     N-API call; V8's JSON.parse materialises it (faster than building JS
//     objects property by property through N-API, see PERFORMANCE.md);
//   - isWa360Error / ErrorCodes, isKnownMessage.
const native = require('./index.js')

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
const NAPI_ARG_CODE = /^(InvalidArg|[A-Za-z]+Expected)$/
function shapeArgError(e) {
  if (e instanceof Error && typeof e.code === 'string' && !codeSet.has(e.code) && NAPI_ARG_CODE.test(e.code)) {
    e.napiCode = e.code
    e.code = 'invalid_argument'
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
wrapMethods(native.Client, new Set(Object.getOwnPropertyNames(native.Client.prototype).filter((n) => n !== 'toJSON')))
wrapMethods(native.Sandbox, new Set(['inbound', 'stop']))
wrapMethods(native.Verifier, new Set())
wrapMethods(native.Deduper, new Set())
wrapMethods(native.StatusFold, new Set())
wrapMethods(native.Inbox, new Set(['stats', '_deadJson', 'replay', 'drop', 'prune']))
wrapMethods(native.Consumer, new Set(['_nextJson', 'ack', 'nack', 'close']))
wrapMethods(native.Receiver, new Set(['handle']))
// Sandbox.start is a read-only static of the native class: left as is (its
// one optional argument is an options object).

// toJSON of an event: its own enumerable data (toJSON itself is non-enumerable),
// i.e. exactly the canonical object.
function eventToJSON() {
  return { ...this }
}
const TO_JSON = { value: eventToJSON, enumerable: false, writable: true, configurable: true }

/**
 * Parse a webhook POST body (Buffer or string, as received) into its events.
 * Throws an Error with code `webhook_payload` for a body that is too large,
 * too deep, not JSON or not a webhook.
 */
function parseWebhook(body) {
  let text
  try { text = native.parseWebhookToJson(body) } catch (e) { throw shapeArgError(e) }
  const events = JSON.parse(text)
  for (let i = 0; i < events.length; i++) Object.defineProperty(events[i], 'toJSON', TO_JSON)
  return events
}

const KNOWN_MESSAGE_TYPES = new Set([
  'text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'interactive',
  'button', 'reaction', 'order', 'system', 'edit', 'revoke', 'unsupported',
])

/** True for a message event whose `type` is one wa360 types (narrows to KnownMessageEvent). */
function isKnownMessage(ev) {
  return ev !== null && typeof ev === 'object' && ev.kind === 'message' && KNOWN_MESSAGE_TYPES.has(ev.type)
}

// Sandbox.registerWebhook: local tests deliver to http://127.0.0.1, which the
// client's URL rules (https, domain name) rightly refuse; the sandbox accepts it
// when registered directly through its emulated API.
Object.defineProperty(native.Sandbox.prototype, 'registerWebhook', {
  enumerable: false,
  configurable: true,
  writable: true,
  value: async function registerWebhook(url, options = {}) {
    const path = options.waba ? '/waba_webhook' : '/v1/configs/webhook'
    const body = { url }
    if (options.headers) body.headers = options.headers
    const r = await fetch(this.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'D360-API-KEY': this.apiKey },
      body: JSON.stringify(body),
    })
    if (!r.ok) throw Object.assign(new Error(`sandbox refused the webhook: HTTP ${r.status} ${await r.text()}`), { code: 'invalid_argument' })
  },
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
  Client: native.Client,
  Verifier: native.Verifier,
  Sandbox: native.Sandbox,
  Deduper: native.Deduper,
  StatusFold: native.StatusFold,
  Inbox: native.Inbox,
  Receiver: native.Receiver,
  buildMessage: wrapSync(native.buildMessage),
  ErrorCodes,
  isWa360Error,
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
}
