'use strict'
// Fastify plugin: `fastify.register(wa360Fastify, { path: '/webhook', verify, onEvents })`.
// Registers GET (hub challenge) and POST routes; JSON bodies are read raw
// inside this plugin's scope only (the signature covers the raw bytes).
const { makeReceiver, MAX_BODY } = require('./webhook-receiver.js')

async function wa360Fastify(fastify, options) {
  const r = makeReceiver(options)
  const path = options.path || '/webhook'
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY + 1 }, (req, body, done) => done(null, body))
  fastify.get(path, async (req, reply) => {
    const i = req.url.indexOf('?')
    const [status, text] = r.handleGet(i < 0 ? '' : req.url.slice(i + 1))
    return reply.code(status).type('text/plain').send(text)
  })
  fastify.post(path, async (req, reply) => {
    const [status, text] = r.handlePost(Array.isArray(req.raw?.rawHeaders) ? req.raw.rawHeaders : req.headers, req.body ?? Buffer.alloc(0), req)
    return reply.code(status).type('text/plain').send(text)
  })
}
// Let the plugin's routes live in the caller's scope while its content-type
// parser stays encapsulated: register it under a prefix or as is.
wa360Fastify[Symbol.for('fastify.display-name')] = 'wa360'

module.exports = { wa360Fastify }
