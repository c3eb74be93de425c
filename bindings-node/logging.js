'use strict'
// Where the core's log records go in Node. The Rust side (src/logging.rs) turns each
// `tracing` event into one JSON record and writes it to stderr (WA360_LOG=<level>) and/or
// hands it to `onRecord` below, which routes it:
//   - a record of a Client created with a `logger` option goes to that logger;
//   - any other record goes to the process-wide logger of `setLogger()`, if any.
// Each JavaScript thread (main, workers) has this module's state of its own, and Rust keeps
// one sink per thread: a client's records come only to the thread that created it.
// Rust is told the most verbose level anyone asked for, so events nobody wants never
// leave Rust (one atomic compare).
const native = require('./index.js')

const RANK = Object.freeze({ off: 0, silent: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 })
const NAMES = ['off', 'error', 'warn', 'info', 'debug', 'trace']

const ERROR_FIELDS = Object.freeze(native._errorFields())
/**
 * An `invalid_argument` error naming `field` and `rule`, with every other attribute of a
 * wa360 error (null), as errors built in Rust have. The one helper of the JS-side checks
 * (here and in webhook-receiver.js).
 */
function invalid(field, rule) {
  const e = Object.assign(new TypeError(`invalid argument \`${field}\`: ${rule}`), { code: 'invalid_argument', field, rule })
  for (const f of ERROR_FIELDS) if (f !== 'message' && !Object.hasOwn(e, f)) e[f] = null
  return e
}

function rankOf(level, field) {
  if (level === undefined || level === null) return RANK.info
  const r = typeof level === 'string' ? RANK[level.toLowerCase()] : undefined
  if (r === undefined || !Object.hasOwn(RANK, level.toLowerCase())) {
    throw invalid(field, 'must be one of off, error, warn, info, debug, trace')
  }
  return r
}

function checkLogger(logger, field) {
  if (typeof logger !== 'function' && (logger === null || typeof logger !== 'object')) {
    throw invalid(field, 'must be a function (record) => void or an object with info/warn/debug/… methods')
  }
}

let processWide = null // { logger, rank }
const perClient = new Map() // client id -> { logger, rank }
const forget = new FinalizationRegistry((id) => { perClient.delete(id); refresh() })

function refresh() {
  let max = processWide ? processWide.rank : 0
  for (const e of perClient.values()) max = Math.max(max, e.rank)
  native._setLogSink(max > 0 ? onRecord : null, NAMES[max])
}

function deliver(logger, rec) {
  try {
    if (typeof logger === 'function') return void logger(rec)
    let m = logger[rec.level]
    if (typeof m !== 'function' && rec.level === 'trace') m = logger.debug
    if (typeof m !== 'function') m = logger.log
    // (record, message): the argument order of pino and bunyan; console prints both.
    if (typeof m === 'function') m.call(logger, rec, rec.msg)
  } catch {
    // A throwing logger must not become an uncaught exception in a native callback.
  }
}

function onRecord(line) {
  let rec
  try { rec = JSON.parse(line) } catch { return }
  const own = typeof rec.client === 'number' ? perClient.get(rec.client) : undefined
  const e = own ?? processWide
  if (e && RANK[rec.level] <= e.rank) deliver(e.logger, rec)
}

/**
 * Send every wa360 log record at `level` (default `info`) and above to `logger`
 * (`null` stops). Records of clients created with their own `logger` go there instead.
 */
function setLogger(logger, options) {
  if (logger === null || logger === undefined) {
    processWide = null
  } else {
    checkLogger(logger, 'logger')
    const level = options !== null && typeof options === 'object' && Object.hasOwn(options, 'level') ? options.level : undefined
    processWide = { logger, rank: rankOf(level, 'level') }
  }
  refresh()
}

/** Route the records of `client` to `logger` at `level` and above. */
function attach(client, logger, level) {
  checkLogger(logger, 'logger')
  const rank = rankOf(level, 'logLevel')
  const id = client._logId
  perClient.set(id, { logger, rank })
  forget.register(client, id)
  refresh()
}

// WA360_LOG=debug: JSON lines on stderr, whatever else is configured.
const envLevel = process.env.WA360_LOG
if (envLevel) {
  try {
    native._setStderrLog(envLevel === '1' || envLevel.toLowerCase() === 'true' ? 'debug' : envLevel)
  } catch {
    process.emitWarning(`wa360: ignoring WA360_LOG=${JSON.stringify(envLevel)} (use error, warn, info, debug or trace)`)
  }
}

module.exports = { setLogger, attach, invalid }
