'use strict'
// Express middleware: `app.use('/webhook', wa360Webhook({ verify, onEvents }))`.
// Works with or without `express.raw()` in front of it; must not sit behind
// `express.json()` (the signature covers the raw bytes). All checks run in the
// core's Receiver (see webhook-receiver.js).
const { makeReceiver, readBody } = require('./webhook-receiver.js')

function rawQuery(req) {
  const i = req.originalUrl.indexOf('?')
  return i < 0 ? '' : req.originalUrl.slice(i + 1)
}

function wa360Webhook(options) {
  const r = makeReceiver(options)
  function middleware(req, res, next) {
    const headers = Array.isArray(req.rawHeaders) ? req.rawHeaders : req.headers
    // A body parser in front (express.json(), express.text()) has read the stream and
    // replaced the bytes the signature covers: refuse at once (never wait on a stream
    // that has ended). What counts is whether the stream was read, not whether
    // `req.body` is set: body-parser 1 (Express 4) sets `req.body = {}` on every request
    // it skips, and marks the ones it reads with `req._body`.
    // Refused from the headers alone (a declared body over the limit, wrong credentials):
    // answered before the body is read, and the connection closed (its body is unread).
    const early = req.method === 'POST' && !Buffer.isBuffer(req.body) && !req.readableEnded
      ? r.precheck(headers, req.headers['content-length'])
      : null
    if (early) {
      res.status(early[0]).set('Connection', 'close').type('text/plain').send(early[1])
      return
    }
    const got = req.method !== 'POST' ? Promise.resolve(Buffer.alloc(0))
      : Buffer.isBuffer(req.body) ? Promise.resolve(req.body)
        : req.readableEnded || req._body === true ? Promise.reject(new Error('wa360Webhook needs the raw body: mount it before express.json() or use express.raw()'))
          : readBody(req, r.maxBytes + 1, r.bodyTimeoutMs)
    got.then((body) => r.handle(req.method, rawQuery(req), headers, body, req))
      .then(([status, text]) => {
        // Another middleware (a request timeout) may have answered meanwhile.
        if (!res.headersSent) res.status(status).type('text/plain').send(text)
      }, (e) => {
        if (res.headersSent) return
        // A body over the limit that came without a declared length (chunked): the core's
        // answer, counted and logged as the precheck's 413 is.
        if (e.status === 413) {
          const [status, text] = r.precheck(headers, String(r.maxBytes + 1))
          res.status(status).set('Connection', 'close').type('text/plain').send(text)
        }
        else if (e.status === 408) res.status(408).set('Connection', 'close').type('text/plain').send('request body timeout')
        else next(e)
      })
      .catch(next)
  }
  /** Graceful shutdown of the inbox consumers (stop claiming, finish up to the grace, release). */
  middleware.close = r.close
  /** This receiver's figures: `{ events, deliveries, ackLatency }` (docs/observability.md). */
  middleware.metrics = r.metrics
  /** The inbox, when one is configured. */
  middleware.inbox = r.inbox
  return middleware
}

module.exports = { wa360Webhook }
