'use strict'
// Fastify plugin: `fastify.register(wa360Fastify, { path: '/webhook', verify, onEvents })`.
// Registers GET (hub challenge) and POST routes; JSON bodies are read raw
// inside the routes' own scope only (the signature covers the raw bytes). All
// checks run in the core's Receiver (see webhook-receiver.js).
//
// The plugin itself is not encapsulated (the `skip-override` marker that
// `fastify-plugin` sets, written by hand to avoid a dependency for one
// symbol): it decorates the instance it is registered on with
// `wa360Metrics()` (the name is the `metricsDecorator` option), so the
// application reads the receiver's figures as `fastify.wa360Metrics()`. The
// routes and their raw-body content-type parser are registered in a child
// scope, so the application's own JSON parsing stays untouched.
const { makeReceiver, readBody } = require('./webhook-receiver.js')

// The headers as received (name, value pairs, so duplicates stay visible) when Node has them.
function headersOf(req) {
  return Array.isArray(req.raw?.rawHeaders) ? req.raw.rawHeaders : req.headers
}

async function routes(fastify, options) {
  const r = options.receiver
  // The Content-Type each request came with, while the hook below has replaced it.
  const contentTypes = new WeakMap()
  const path = options.path || '/webhook'
  fastify.removeAllContentTypeParsers()
  // The body is read as Express reads it: at most one byte past the limit (413), and 408
  // when it has not arrived within `bodyTimeoutMs`. Fastify sets no request timeout of its
  // own by default (`requestTimeout: 0`), so a sender that declared a body and never sent
  // it held the connection and its buffer for good.
  fastify.addContentTypeParser('*', (req, payload, done) => {
    // The header as it came, from here on: hooks and loggers that see the request after a
    // body error (413, 408) or before the handler (the app's own preValidation and
    // preHandler) see what was sent.
    restore(req)
    readBody(payload, r.maxBytes + 1, r.bodyTimeoutMs).then((body) => done(null, body), (e) => done(e))
  })
  fastify.addHook('onClose', async () => { await r.close() })
  // Refused from the headers alone (a declared body over the limit, wrong credentials):
  // answered before Fastify reads the body.
  fastify.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return
    const headers = headersOf(req)
    const early = r.precheck(headers, req.headers['content-length'])
    if (early) {
      reply.code(early[0]).header('Connection', 'close').type('text/plain').send(early[1])
      return reply
    }
    // Every body goes to the raw parser above, whatever its Content-Type: Fastify answers
    // a missing, empty or unreadable one with its own 415 before choosing a parser, where
    // the other receivers store the delivery. The receiver reads the headers as received
    // (`rawHeaders`), which this does not change; the header is put back once the body is
    // read (below), so the app's handler sees the request as it came.
    contentTypes.set(req, req.headers['content-type'])
    req.headers['content-type'] = 'application/octet-stream'
  })
  // Put back where the parser did not run (a request without a body).
  fastify.addHook('preHandler', async (req) => { restore(req) })
  function restore(req) {
    if (!contentTypes.has(req)) return
    const sent = contentTypes.get(req)
    contentTypes.delete(req)
    if (sent === undefined) delete req.headers['content-type']
    else req.headers['content-type'] = sent
  }
  const route = async (req, reply) => {
    const i = req.url.indexOf('?')
    const headers = headersOf(req)
    const [status, text] = await r.handle(req.method, i < 0 ? '' : req.url.slice(i + 1), headers, req.body ?? Buffer.alloc(0), req)
    return reply.code(status).type('text/plain').send(text)
  }
  // A body over the limit (sent chunked, so no declared length the hook above could see)
  // gets the same answer as from the other receivers, counted in the metrics, instead of
  // Fastify's own JSON error.
  fastify.setErrorHandler((err, req, reply) => {
    if (err.status === 408) {
      return reply.code(408).header('Connection', 'close').type('text/plain').send('request body timeout')
    }
    if (err.code !== 'FST_ERR_CTP_BODY_TOO_LARGE' && err.status !== 413) return reply.send(err)
    const headers = headersOf(req)
    const [status, text] = r.precheck(headers, String(r.maxBytes + 1))
    return reply.code(status).header('Connection', 'close').type('text/plain').send(text)
  })
  fastify.get(path, route)
  fastify.post(path, route)
  // Any other method is the core's 405, as in the other receivers (not Fastify's 404).
  fastify.route({ method: ['PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: path, handler: route })
}

async function wa360Fastify(fastify, given) {
  // Own properties only (see makeReceiver): `path` and the rest never come from a
  // polluted Object.prototype.
  const options = Object.assign(Object.create(null), given)
  const name = options.metricsDecorator ?? 'wa360Metrics'
  if (typeof name !== 'string' || name === '') {
    throw new TypeError('wa360 Fastify plugin: options.metricsDecorator must be a non-empty string')
  }
  if (fastify.hasDecorator(name)) {
    throw new TypeError(`wa360 Fastify plugin: the instance already has a '${name}' decorator; give each registration its own options.metricsDecorator`)
  }
  // The plugin's own options, and those Fastify's register takes.
  const r = makeReceiver(options, ['path', 'prefix', 'metricsDecorator', 'logLevel', 'logSerializers'])
  fastify.decorate(name, r.metrics)
  // `prefix` is not applied to a non-encapsulated plugin: pass it on to the routes' scope.
  await fastify.register(routes, { path: options.path, prefix: options.prefix, receiver: r })
}
wa360Fastify[Symbol.for('skip-override')] = true
wa360Fastify[Symbol.for('fastify.display-name')] = 'wa360'

module.exports = { wa360Fastify }
