// The app the multi-process inbox tests run: node:cluster with WORKERS
// processes sharing one port, each an Express (or Fastify) receiver with the
// same SQLite inbox. SINGLE=1 runs one receiver without the cluster.
// Every handler call appends `start <id> <pid>` / `done <id> <pid>` lines to
// INBOX_LOG (one write each on an O_APPEND file: lines never interleave).
import cluster from 'node:cluster'
import { openSync, writeSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const env = process.env
const WORKERS = Number(env.WORKERS || 2)

if (cluster.isPrimary && env.SINGLE !== '1') {
  for (let i = 0; i < WORKERS; i++) cluster.fork()
  let listening = 0
  cluster.on('listening', () => { if (++listening === WORKERS) console.log('ready') })
  // Like a process manager: SIGTERM to the primary goes to every worker.
  process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM') })
  let alive = WORKERS
  cluster.on('exit', () => { if (--alive === 0) process.exit(0) })
} else {
  const log = openSync(env.INBOX_LOG, 'a')
  const slow = Number(env.INBOX_SLOW_MS || 0)
  const jitter = Number(env.INBOX_JITTER_MS || 0)
  const note = (phase, e) => writeSync(log, `${phase} ${e.id ?? e.kind} ${process.pid}\n`)
  const options = {
    verify: { basicAuth: { user: 'hook', password: 'pa55-word' } },
    inbox: env.INBOX_URL,
    concurrency: Number(env.INBOX_CONCURRENCY || 4),
    shutdownGraceMs: Number(env.INBOX_GRACE_MS || 10000),
    async onEvents(events) {
      for (const e of events) {
        note('start', e)
        await new Promise((r) => setTimeout(r, slow + Math.random() * jitter))
        if (env.INBOX_FAIL_FLAG && existsSync(env.INBOX_FAIL_FLAG) && String(e.id).includes('FAIL')) {
          throw new Error('handler failed on purpose')
        }
        note('done', e)
      }
    },
  }
  const port = Number(env.PORT)
  if (env.FRAMEWORK === 'fastify') {
    const Fastify = require('fastify')
    const { wa360Fastify } = require('../../fastify.js')
    const app = Fastify()
    await app.register(wa360Fastify, options)
    await app.listen({ port, host: '127.0.0.1' })
  } else {
    const express = require('express')
    const { wa360Webhook } = require('../../express.js')
    const app = express()
    app.use('/webhook', wa360Webhook(options))
    await new Promise((resolve) => app.listen(port, '127.0.0.1', resolve))
  }
  if (env.SINGLE === '1') console.log('ready')
}
