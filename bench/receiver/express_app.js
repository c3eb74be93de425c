'use strict'
// The Express receiver measured by bench.sh: a no-op handler, with the SQLite
// inbox when INBOX_URL is set. Loads the package from bindings-node (the addon
// from NAPI_RS_NATIVE_LIBRARY_PATH, a release build).
const path = require('node:path')
const { createRequire } = require('node:module')
const pkg = createRequire(path.join(__dirname, '../../bindings-node/package.json'))
const express = pkg('express')
const { wa360Webhook } = pkg('./express.js')

const app = express()
app.use('/webhook', wa360Webhook({
  verify: { basicAuth: { user: 'hook', password: 'pa55-word' } },
  inbox: process.env.INBOX_URL || undefined,
  onEvents() {},
}))
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'))
