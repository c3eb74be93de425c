'use strict'
// Framework-neutral glue of the Express middleware and the Fastify plugin over
// the core's one webhook Receiver (Rust): size cap, verify (fails closed),
// hub.challenge GET, parse, then either
//   - without `inbox`: in-memory dedupe, 200 at once, and `onEvents` on a later
//     tick in this process (one process, not durable), or
//   - with `inbox` ('sqlite:///abs/path.db'): the events are stored durably,
//     deduplicated and status-folded across processes, before the 200; this
//     process runs consumers that hand them to `onEvents` at least once, one
//     event per call, in order per conversation, with retries and dead letters.
// Claims, leases, retries and ordering are the core's (Consumer); this file only
// calls the handler and reports back.
const { Verifier, Receiver, Inbox } = require('./wa360.js')
const { invalid } = require('./logging.js')
const shutdown = require('./shutdown.js')

const MAX_BODY = 1 << 20
// The core's ceiling on concurrent handlers (`wa360::input::MAX_CONCURRENCY`).
const MAX_CONCURRENCY = 1024
// The most events one claim takes (the core's `wa360::input::MAX_CLAIM`).
const MAX_CLAIM = 1000
// setTimeout holds at most 2^31 - 1 ms (about 24.8 days); longer fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1

// The options of makeReceiver (and of the Express middleware); the Fastify plugin adds its own.
const RECEIVER_OPTIONS = ['onEvents', 'onError', 'verify', 'verifier', 'insecureSkipVerify', 'verifyToken',
  'inbox', 'concurrency', 'startConsumers', 'shutdownGraceMs', 'handlerTimeoutMs', 'shutdownSignals', 'dedupe', 'statusFold',
  'maxBytes', 'maxDepth', 'bodyTimeoutMs']

function optBool(options, field) {
  const v = options[field]
  if (v !== undefined && typeof v !== 'boolean') throw invalid(field, 'must be true or false')
  return v
}

/** A grace in ms: a number, 0 or more (Infinity waits without limit). */
function graceOf(v, field) {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw invalid(field, 'must be a number of milliseconds, 0 or more')
  return v === Infinity ? Infinity : Math.min(v, MAX_TIMER_MS)
}

const TO_JSON = { value: function toJSON() { return { ...this } }, enumerable: false, writable: true, configurable: true }
function materialise(json) {
  if (json === '[]') return []
  const events = JSON.parse(json)
  for (let i = 0; i < events.length; i++) Object.defineProperty(events[i], 'toJSON', TO_JSON)
  return events
}

// Never throws: whatever a handler threw (an object without a prototype, a getter that
// throws), the event is still nacked with some description.
function describe(e) {
  try {
    const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    return text.slice(0, 2000)
  } catch {
    return 'unprintable error'
  }
}

function delay(ms) {
  let timer
  const p = new Promise((resolve) => { timer = setTimeout(resolve, ms) })
  return { p, cancel: () => clearTimeout(timer) }
}

// How often idle consumers look for events stored by other processes (the core's own
// cross-process poll, `inbox/shared.rs`). Events accepted by this process wake them at once.
const IDLE_POLL_MS = 200

/** The error a handler's signal is aborted with at `handlerTimeoutMs`, and its rejection if it ends by it. */
function timeoutError(ms) {
  return new DOMException(`the handler did not finish within handlerTimeoutMs (${ms} ms)`, 'TimeoutError')
}

/**
 * The consumers of this process: one claimer that takes as many events as there are free
 * slots (`concurrency` in all), and a call of onEvents → ack / nack per event.
 * Each call gets `{ signal }`, aborted at `handlerTimeoutMs` and when `close()` gives up on it.
 * A JavaScript call cannot be stopped from outside, so the event stays held until the handler
 * settles, and how it settles decides (a rejection is a failed attempt): never two calls at
 * once for one event.
 *
 * One claimer, not one loop per slot: idle loops each polled the store every 200 ms on the
 * blocking pool and were all woken by every handled event, which at a high `concurrency`
 * cost a core and delayed the receiver's own answers (its store writes share that pool).
 */
function startConsumers(inbox, onEvents, onError, concurrency, handlerTimeoutMs) {
  const consumer = inbox.consumer()
  // The signals of the calls running now, aborted when close() gives up waiting for them.
  const running = new Set()
  // The calls close() gave up on (their events given back): how they settle is no longer
  // theirs to report (a nack would count a shutdown as a failed attempt). Only those: an
  // event claimed after the release is reported as usual.
  const givenUp = new Set()
  // Every call in progress (handler, then its ack or nack), for close() to wait on.
  const calls = new Set()
  let free = concurrency
  // The claimer waits on an unref'd timer, not in a blocking claim: consumers never keep
  // the process alive on their own (a script that only imports the app ends; while a server
  // listens, it holds the process), and no thread of the pool waits for them. A wake-up
  // that comes while it is claiming is kept for its next wait, so none is lost.
  let sleeper = null
  let woken = false
  function idle(ms) {
    if (woken) {
      woken = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); if (sleeper === done) sleeper = null; resolve() }
      const timer = setTimeout(done, ms)
      timer.unref()
      sleeper = done
    })
  }
  function wake() {
    if (sleeper) sleeper()
    else woken = true
  }
  async function handle(d) {
    const [event] = materialise(`[${d.eventJson}]`)
    const control = new AbortController()
    running.add(control)
    const timer = handlerTimeoutMs === Infinity
      ? null
      : setTimeout(() => {
        onError(new Error(`wa360 inbox: the handler of event ${d.id} ran past handlerTimeoutMs (${handlerTimeoutMs} ms); its signal is aborted`))
        control.abort(timeoutError(handlerTimeoutMs))
      }, handlerTimeoutMs).unref()
    let failed = false
    let e
    try {
      await onEvents([event], null, { signal: control.signal })
    } catch (error) {
      failed = true
      e = error
    } finally {
      clearTimeout(timer)
      running.delete(control)
    }
    if (givenUp.delete(control)) return
    if (failed) {
      try {
        const outcome = await consumer.nack(d.id, describe(e))
        // Every failure is told, as Python logs each one: a retried failure too (with the
        // default 8 attempts, the first word of a broken handler would otherwise come
        // with its dead letter, hours later).
        if (outcome === 'retry') onError(Object.assign(new Error(`wa360 inbox: the handler failed on attempt ${d.attempt}; event ${d.id} will be retried`), { cause: e }))
        if (outcome === 'dead') onError(Object.assign(new Error(`wa360 inbox: event ${d.id} dead-lettered after ${d.attempt} attempts`), { cause: e }))
        // As Python logs it: the failure came after the lease ran out.
        if (outcome === 'not_held') onError(Object.assign(new Error(`wa360 inbox: the handler failed on attempt ${d.attempt} after the lease of event ${d.id} ran out; another worker runs it`), { cause: e }))
      } catch (e2) { onError(e2) }
      return
    }
    try {
      // `false`: the lease ran out while the handler ran (another worker may have
      // taken the event); told, as Python logs it, so that it leaves a trace.
      if (!(await consumer.ack(d.id))) {
        onError(new Error(`wa360 inbox: event ${d.id} was handled after its lease ran out; another worker may run it again`))
      }
    } catch (e) { onError(e) }
  }
  async function claimer() {
    while (!consumer.stopped) {
      if (free === 0) {
        // Woken when a call ends.
        await idle(IDLE_POLL_MS)
        continue
      }
      let got
      try {
        got = await consumer._nextJson(Math.min(free, MAX_CLAIM), 0)
      } catch (e) {
        onError(e)
        await idle(500)
        continue
      }
      // close() began while this claim ran: it releases these events (the core's release
      // waits for the claim), so they must not be handled here as well.
      if (consumer.stopped) return
      if (got.length === 0) {
        await idle(IDLE_POLL_MS)
        continue
      }
      for (const d of got) {
        free--
        const call = handle(d).catch(onError).finally(() => {
          free++
          calls.delete(call)
          // A slot is free, and the next event of this conversation may be ready now.
          wake()
        })
        calls.add(call)
      }
    }
  }
  const claiming = claimer().catch(onError)
  const settled = async () => {
    await claiming
    await Promise.allSettled([...calls])
  }
  return {
    consumer,
    /** Events were stored: an idle claimer claims at once. */
    wake,
    /** Stop claiming, let running handlers finish up to `graceMs`, release the rest. */
    async close(graceMs) {
      consumer.stop()
      wake()
      if (graceMs === Infinity) {
        await settled()
      } else {
        const t = delay(graceMs)
        await Promise.race([settled(), t.p])
        t.cancel()
      }
      // Give the events back first, then abort: a handler that rejects on its signal would
      // otherwise race the release with its nack (a shutdown counted as a failed attempt,
      // dead-lettered on the last one).
      const stopped = [...running]
      for (const control of stopped) givenUp.add(control)
      let released
      try {
        released = await consumer.close()
      } finally {
        // Also when the release failed (the store is down): the calls must still hear it.
        for (const control of stopped) control.abort(new DOMException('wa360 inbox: shut down; the event is released to other workers', 'AbortError'))
      }
      // As Python logs it: handlers still running past the grace, their events given back.
      if (released > 0) onError(new Error(`wa360 inbox: ${released} running event(s) released to other workers`))
      return released
    },
  }
}

function makeReceiver(given, extraKeys = []) {
  // Own properties only: with a polluted Object.prototype, an option the app did not
  // set (`inbox`, `dedupe`, `maxBytes`, `insecureSkipVerify`, …) must not come from it.
  const options = given && typeof given === 'object' ? Object.assign(Object.create(null), given) : null
  if (!options || typeof options.onEvents !== 'function') {
    throw invalid('onEvents', 'must be a function (events, request) => void, the handler of new events')
  }
  // Every option is checked here, before anything starts: a typo (`shutdownGrace`) or a
  // string where a boolean goes (`insecureSkipVerify: 'false'`) is an error, never a
  // silent default.
  for (const key of Object.keys(options)) {
    if (!RECEIVER_OPTIONS.includes(key) && !extraKeys.includes(key)) {
      throw invalid(key, `is not an option (known: ${[...RECEIVER_OPTIONS, ...extraKeys].join(', ')})`)
    }
  }
  for (const key of ['insecureSkipVerify', 'startConsumers', 'shutdownSignals', 'dedupe', 'statusFold']) optBool(options, key)
  if (options.onError !== undefined && typeof options.onError !== 'function') throw invalid('onError', 'must be a function (error) => void')
  if (options.verifier != null && !(options.verifier instanceof Verifier)) throw invalid('verifier', 'must be a Verifier')
  if (options.verify != null && typeof options.verify !== 'object') throw invalid('verify', 'must be Verifier options ({ basicAuth, headers, appSecret })')
  if (options.inbox != null && typeof options.inbox !== 'string' && !(options.inbox instanceof Inbox)) {
    throw invalid('inbox', "must be an Inbox or its URL ('sqlite:///abs/path.db', 'redis://…', 'memory://')")
  }
  if (options.concurrency !== undefined &&
      (!Number.isInteger(options.concurrency) || options.concurrency < 1 || options.concurrency > MAX_CONCURRENCY)) {
    throw invalid('concurrency', `must be an integer from 1 to ${MAX_CONCURRENCY}`)
  }
  const verifier = options.verifier instanceof Verifier
    ? options.verifier
    : options.verify ? new Verifier(options.verify) : null
  if (!verifier && options.insecureSkipVerify !== true) {
    throw invalid('verify', 'give `verify` options (basicAuth / headers / appSecret), a `verifier`, or insecureSkipVerify: true')
  }
  const report = options.onError ?? ((e) => { console.error('wa360 webhook handler failed:', e) })
  // An onError that throws or rejects must not end the process (an unhandled rejection
  // in a consumer loop) nor stop the loop.
  const onError = (e) => {
    try {
      const r = report(e)
      if (r && typeof r.then === 'function') r.then(undefined, () => {})
    } catch {}
  }
  const inbox = options.inbox == null ? null : options.inbox instanceof Inbox ? options.inbox : new Inbox(options.inbox)
  const concurrency = options.concurrency ?? 4
  const graceMs = options.shutdownGraceMs === undefined ? 10000 : graceOf(options.shutdownGraceMs, 'shutdownGraceMs')
  const handlerTimeoutMs = options.handlerTimeoutMs === undefined ? Infinity : graceOf(options.handlerTimeoutMs, 'handlerTimeoutMs')
  if (handlerTimeoutMs === 0) throw invalid('handlerTimeoutMs', 'must be a number of milliseconds above 0')
  const maxBytes = options.maxBytes ?? MAX_BODY
  // How long the Express middleware waits for a request's body: a sender that stops
  // mid-body, or never sends the body it declared, is answered 408.
  const bodyTimeoutMs = options.bodyTimeoutMs === undefined ? 10000 : graceOf(options.bodyTimeoutMs, 'bodyTimeoutMs')
  if (bodyTimeoutMs === 0 || bodyTimeoutMs === Infinity) throw invalid('bodyTimeoutMs', 'must be a number of milliseconds above 0')
  const native = new Receiver({
    verifyToken: options.verifyToken,
    maxBytes,
    maxDepth: options.maxDepth,
    dedupe: options.dedupe !== false,
    statusFold: options.statusFold === true,
  }, verifier, inbox)

  let pool = null
  let closing = null
  let untrack = null
  function start() {
    if (!inbox || pool || closing || options.startConsumers === false) return
    pool = startConsumers(inbox, options.onEvents, onError, concurrency, handlerTimeoutMs)
    // SIGTERM / SIGINT close the consumers gracefully; the process then ends by that
    // signal unless the app listens for it (shutdown.js, shared with broadcasts).
    untrack = shutdown.track(() => close().catch(onError), options.shutdownSignals !== false)
  }
  /** Graceful shutdown of the consumers; resolves to how many events were released. */
  function close(ms) {
    let grace
    // A Promise-returning function rejects, never throws (as every wa360 method).
    try { grace = ms === undefined ? graceMs : graceOf(ms, 'graceMs') } catch (e) { return Promise.reject(e) }
    if (!closing) {
      closing = pool ? pool.close(grace) : Promise.resolve(0)
      const ended = () => untrack?.()
      closing.then(ended, ended)
    }
    return closing
  }
  // Events stored before a restart are handled without waiting for a new delivery.
  if (inbox) setImmediate(start)

  /** Any request: resolves to [status, text] to answer; schedules the callback. */
  async function handle(method, rawQuery, headers, body, request) {
    const reply = await native.handle(method, rawQuery, headers, body)
    if (reply.status === 503) onError(new Error(`wa360 webhook: delivery not stored, answered 503: ${reply.error}`))
    if (inbox) {
      start()
      if (pool && reply.status === 200 && reply.eventsJson !== '[]') pool.wake()
    } else if (reply.status === 200 && reply.eventsJson !== '[]') {
      const events = materialise(reply.eventsJson)
      setImmediate(() => {
        try {
          const r = options.onEvents(events, request)
          if (r && typeof r.then === 'function') r.then(undefined, onError)
        } catch (e) {
          onError(e)
        }
      })
    }
    return [reply.status, reply.body]
  }

  return {
    handle,
    handlePost: (headers, body, request) => handle('POST', '', headers, body, request),
    /**
     * The answer to a POST decided from its headers alone ([status, text]: 413 for a
     * declared Content-Length over maxBytes, 401 for wrong Basic auth or header
     * credentials), or null: then read the body and call handle.
     */
    precheck(headers, contentLength) {
      const n = typeof contentLength === 'string' && /^[0-9]{1,16}$/.test(contentLength) ? Number(contentLength) : null
      const early = native.precheck('POST', headers, n)
      return early ? [early.status, early.body] : null
    },
    bodyTimeoutMs,
    handleGet: (rawQuery) => handle('GET', rawQuery, [], ''),
    start,
    close,
    /** This receiver's figures: `{ events, deliveries, ackLatency }` (docs/observability.md). */
    metrics: () => native.metrics(),
    inbox,
    maxBytes,
  }
}

/**
 * Read a request stream fully into a Buffer (at most `limit` bytes); rejects with status
 * 413 past the limit and 408 when the body has not ended within `timeoutMs`.
 */
function readBody(stream, limit = MAX_BODY + 1, timeoutMs = 0) {
  if (stream.readableEnded || stream.destroyed) {
    // Read by something else already: 'data' and 'end' would never come.
    return Promise.reject(new Error('wa360: the request body was already read by another middleware; the receiver needs the raw body'))
  }
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    const timer = timeoutMs > 0
      ? setTimeout(() => {
        chunks.length = 0
        stream.removeListener('data', onData)
        stream.resume()
        reject(Object.assign(new Error('request body timeout'), { status: 408 }))
      }, timeoutMs)
      : null
    const onData = (c) => {
      size += c.length
      if (size > limit) {
        // Stop keeping the body, but go on reading it (discarded) so that the 413 reaches
        // the sender: destroying the stream resets the connection before any answer. The
        // answer closes the connection (`Connection: close`), and the server's own timeouts
        // bound a sender that never stops.
        chunks.length = 0
        stream.removeListener('data', onData)
        stream.resume()
        clearTimeout(timer)
        reject(Object.assign(new Error('body too large'), { status: 413 }))
      } else chunks.push(c)
    }
    stream.on('data', onData)
    stream.on('end', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)) })
    stream.on('error', (e) => { clearTimeout(timer); reject(e) })
  })
}

module.exports = { makeReceiver, readBody, MAX_BODY }
