'use strict'
// Framework-neutral core of the Express middleware and the Fastify plugin:
// verify → parse → answer 200 at once → hand the events to the user's
// callback on a later tick (360dialog expects a fast 200; slow handlers must
// not hold the delivery). All checks run in Rust.
const { parseWebhook, Verifier, hubChallengeFromQuery } = require('./wa360.js')

const MAX_BODY = 1 << 20

function makeReceiver(options) {
  if (!options || typeof options.onEvents !== 'function') {
    throw new TypeError('wa360 webhook receiver: options.onEvents(events, request) is required')
  }
  const verifier = options.verifier instanceof Verifier
    ? options.verifier
    : options.verify ? new Verifier(options.verify) : null
  if (!verifier && !options.insecureSkipVerify) {
    throw new TypeError('wa360 webhook receiver: give `verify` options (basicAuth / headers / appSecret), a `verifier`, or insecureSkipVerify: true')
  }
  const onError = typeof options.onError === 'function' ? options.onError : (e) => { console.error('wa360 webhook handler failed:', e) }

  /** Handle one POST: returns [status, text] to answer and schedules the callback. */
  function handlePost(headers, body, request) {
    try {
      if (verifier) verifier.verify(headers, body)
    } catch (e) {
      return [e && e.code === 'invalid_signature' ? 401 : 400, 'unauthorized']
    }
    let events
    try {
      events = parseWebhook(body)
    } catch (e) {
      return [400, 'bad webhook body']
    }
    setImmediate(() => {
      try {
        const r = options.onEvents(events, request)
        if (r && typeof r.then === 'function') r.then(undefined, onError)
      } catch (e) {
        onError(e)
      }
    })
    return [200, 'OK']
  }

  /** Handle Meta's GET subscription check; [status, text]. */
  function handleGet(rawQuery) {
    if (!options.verifyToken) return [404, 'not found']
    try {
      return [200, hubChallengeFromQuery(rawQuery, options.verifyToken)]
    } catch (e) {
      return [403, 'forbidden']
    }
  }

  return { handlePost, handleGet }
}

/** Read a request stream fully into a Buffer (at most `limit` bytes). */
function readBody(stream, limit = MAX_BODY + 1) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    stream.on('data', (c) => {
      size += c.length
      if (size > limit) {
        stream.destroy()
        reject(Object.assign(new Error('body too large'), { status: 413 }))
      } else chunks.push(c)
    })
    stream.on('end', () => resolve(Buffer.concat(chunks)))
    stream.on('error', reject)
  })
}

module.exports = { makeReceiver, readBody, MAX_BODY }
