'use strict'
// Express middleware: `app.use('/webhook', wa360Webhook({ verify, onEvents }))`.
// Works with or without `express.raw()` in front of it; must not sit behind
// `express.json()` (the signature covers the raw bytes).
const { makeReceiver, readBody } = require('./webhook-receiver.js')

function rawQuery(req) {
  const i = req.originalUrl.indexOf('?')
  return i < 0 ? '' : req.originalUrl.slice(i + 1)
}

function wa360Webhook(options) {
  const r = makeReceiver(options)
  return function wa360WebhookMiddleware(req, res, next) {
    if (req.method === 'GET') {
      const [status, text] = r.handleGet(rawQuery(req))
      return res.status(status).type('text/plain').send(text)
    }
    if (req.method !== 'POST') return next()
    const got = Buffer.isBuffer(req.body) ? Promise.resolve(req.body)
      : req.body !== undefined && req._body ? Promise.reject(new Error('wa360Webhook needs the raw body: mount it before express.json() or use express.raw()'))
        : readBody(req)
    got.then((body) => {
      const [status, text] = r.handlePost(Array.isArray(req.rawHeaders) ? req.rawHeaders : req.headers, body, req)
      res.status(status).type('text/plain').send(text)
    }, (e) => (e.status === 413 ? res.status(413).send('too large') : next(e)))
  }
}

module.exports = { wa360Webhook }
