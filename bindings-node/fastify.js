'use strict'
// Fastify plugin: `fastify.register(wa360Fastify, { path: '/webhook', verify, onEvents })`.
// Registers GET (hub challenge) and POST routes; JSON bodies are read raw
// inside this plugin's scope only (the signature covers the raw bytes). All
// checks run in the core's Receiver (see webhook-receiver.js).
const { makeReceiver } = require('./webhook-receiver.js')

async function wa360Fastify(fastify, options) {
  const r = makeReceiver(options)
  const path = options.path || '/webhook'
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: r.maxBytes + 1 }, (req, body, done) => done(null, body))
  fastify.addHook('onClose', async () => { await r.close() })
  const route = async (req, reply) => {
    const i = req.url.indexOf('?')
    const headers = Array.isArray(req.raw?.rawHeaders) ? req.raw.rawHeaders : req.headers
    const [status, text] = await r.handle(req.method, i < 0 ? '' : req.url.slice(i + 1), headers, req.body ?? Buffer.alloc(0), req)
    return reply.code(status).type('text/plain').send(text)
  }
  fastify.get(path, route)
  fastify.post(path, route)
}
// Let the plugin's routes live in the caller's scope while its content-type
// parser stays encapsulated: register it under a prefix or as is.
wa360Fastify[Symbol.for('fastify.display-name')] = 'wa360'

module.exports = { wa360Fastify }
