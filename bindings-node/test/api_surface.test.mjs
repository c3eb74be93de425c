// The Node side of tests/conformance/api_surface: the package's exports, the
// prototypes' methods, their parameters and options objects (read from the
// published typings, index.d.ts and wa360.d.ts; for the send helpers also
// from the options the native side accepts) and the error attributes, against
// manifest.json. Every difference is reported with the fix.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const require = createRequire(import.meta.url)
const wa360 = require('../wa360.js')
const here = path.dirname(fileURLToPath(import.meta.url))
const pkg = path.join(here, '..')
const MANIFEST = 'tests/conformance/api_surface/manifest.json'
const manifest = JSON.parse(readFileSync(path.join(pkg, '..', MANIFEST), 'utf8'))
const typings = ['index.d.ts', 'wa360.d.ts'].map((f) => readFileSync(path.join(pkg, f), 'utf8')).join('\n')

// The naming rule of manifest.naming, with its listed exceptions.
const EXCEPTIONS = new Map(manifest.naming.exceptions.filter((e) => !e.python.includes('.')).map((e) => [e.python, e.node]))
function nodeName(py) {
  if (EXCEPTIONS.has(py)) return EXCEPTIONS.get(py)
  if (/^[A-Z0-9_]+$/.test(py)) return py.toLowerCase().split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('')
  return py.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())
}
const pending = new Set(manifest.pending.node)
const pythonOnly = new Set(manifest.python_only.map((x) => x.name))
// `Class.method.option` (Python names) that only Node has, with the reason.
const nodeOnly = manifest.node_only.map((x) => x.name)

// --- reading the typings -------------------------------------------------------------------
/** Split at top-level commas (or `sep`), ignoring those inside brackets and quotes. */
function splitTop(s, sep = ',') {
  const out = []
  let depth = 0
  let cur = ''
  let quote = null
  let prev = ''
  for (const ch of s) {
    if (quote) { cur += ch; if (ch === quote) quote = null; prev = ch; continue }
    if (ch === "'" || ch === '"') quote = ch
    else if ('({[<'.includes(ch)) depth++
    else if (')}]'.includes(ch) || (ch === '>' && prev !== '=')) depth--
    prev = ch
    if (ch === sep && depth === 0) { out.push(cur.trim()); cur = '' } else cur += ch
  }
  if (cur.trim()) out.push(cur.trim())
  return out
}
/** The `{ … }` block starting at the first `{` at or after index i. */
function block(text, i) {
  const start = text.indexOf('{', i)
  let depth = 0
  for (let j = start; j < text.length; j++) {
    if (text[j] === '{') depth++
    else if (text[j] === '}' && --depth === 0) return text.slice(start + 1, j)
  }
  return ''
}
/** Bodies of `class X` / `interface X` declarations (the class and its augmentations). */
function bodies(name) {
  const re = new RegExp(`(?:class|interface) ${name}\\b[^{]*\\{`, 'g')
  const out = []
  for (let m; (m = re.exec(typings));) out.push(block(typings, m.index))
  return out
}
/** Members of a declaration body: `name(params): T`, `get name(): T`, `name?: T`. */
function members(body) {
  const out = new Map()
  const text = body.replace(/\/\*\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  for (const stmt of splitTop(text, '\n').flatMap((l) => splitTop(l, ';'))) {
    const line = stmt.trim()
    let m = line.match(/^(?:static\s+)?(?:get\s+)?([A-Za-z_$][\w$]*)\??\s*(?:<[^(]*>)?\s*\(/)
    if (m) {
      const open = line.indexOf('(')
      let depth = 0
      let close = open
      for (; close < line.length; close++) {
        if (line[close] === '(') depth++
        else if (line[close] === ')' && --depth === 0) break
      }
      const params = splitTop(line.slice(open + 1, close)).map((p) => {
        const [, pname, type] = p.match(/^([\w$]+)\??\s*:\s*([\s\S]*)$/) ?? [null, p, '']
        return { name: pname, type }
      })
      if (!out.has(m[1])) out.set(m[1], params)
      continue
    }
    m = line.match(/^(?:readonly\s+)?([A-Za-z_$][\w$]*)\??\s*:/)
    if (m && !out.has(m[1])) out.set(m[1], 'property')
  }
  return out
}
function interfaceKeys(name) {
  return bodies(name).flatMap((b) => [...members(b).keys()])
}
/** Keys of an options parameter type: object literals, named interfaces, intersections. */
function optionKeys(type) {
  const keys = []
  for (const part of splitTop(type.replace(/\|\s*undefined|\|\s*null/g, ''), '&')) {
    const t = part.trim()
    if (t.startsWith('{')) keys.push(...[...members(block(t, 0)).keys()])
    else if (/^[A-Z]\w*$/.test(t)) keys.push(...interfaceKeys(t))
  }
  return keys
}
const isOptionsType = (type) => /^\{|^[A-Z]\w*Options\b|&/.test(type.trim())
function functionParams(name) {
  const m = typings.match(new RegExp(`export declare function ${name}\\(([^\\n]*)\\)\\s*:`))
  return m ? splitTop(m[1]).map((p) => { const [, n, t] = p.match(/^([\w$]+)\??\s*:\s*([\s\S]*)$/) ?? [null, p, '']; return { name: n, type: t } }) : null
}

// --- comparing --------------------------------------------------------------------------------
function diff(expected, actual) {
  return { missing: expected.filter((x) => !actual.includes(x)), extra: actual.filter((x) => !expected.includes(x)) }
}
function checkParams(where, pyName, spec, params, problems, src) {
  let ps = params
  const options = (spec.options ?? []).filter((o) => !pythonOnly.has(`${pyName}.${o}`))
    .concat(nodeOnly.filter((n) => n.startsWith(`${pyName}.`)).map((n) => n.slice(pyName.length + 1)))
    .map(nodeName)
  if (options.length) {
    const last = ps.at(-1)
    if (!last || !isOptionsType(last.type)) {
      problems.push(`Node ${where} takes no options object (Python ${pyName} has keyword options ${spec.options.join(', ')}); add a last parameter \`options?: { ${options.map((o) => o + '?').join('; ')} }\` in ${src} or remove the options from ${MANIFEST}`)
    } else {
      const d = diff(options, optionKeys(last.type))
      if (d.missing.length || d.extra.length) {
        problems.push(`Node ${where} options differ from Python ${pyName}: missing [${d.missing}], extra [${d.extra}]; accept exactly { ${options.join(', ')} } in ${src} (ts_args_type and the keys it reads) or change the options of ${pyName} in ${MANIFEST}`)
      }
      ps = ps.slice(0, -1)
    }
  }
  const args = spec.args.map(nodeName)
  const got = ps.map((p) => p.name)
  if (JSON.stringify(args) !== JSON.stringify(got)) {
    problems.push(`Node ${where} parameters are (${got.join(', ')}), Python ${pyName} has (${spec.args.join(', ')}): name them (${args.join(', ')}) in ${src} or change the args of ${pyName} in ${MANIFEST}`)
  }
}
function report(problems) {
  assert.ok(problems.length === 0, `\n${problems.length} difference(s) from ${MANIFEST}:\n  - ${problems.join('\n  - ')}\n`)
}

for (const cls of manifest.classes) {
  test(`api_surface: class ${cls.node} matches the manifest`, () => {
    const problems = []
    const C = wa360[cls.node]
    const src = 'bindings-node/src/*.rs (#[napi] impl) or wa360.js'
    if (typeof C !== 'function') {
      report([`the Node package does not export class ${cls.node} (Python: ${cls.python.join(', ')}); export it from bindings-node/wa360.js or remove ${cls.name} from ${MANIFEST}`])
    }
    const declared = new Map()
    for (const b of bodies(cls.node)) for (const [k, v] of members(b)) if (!declared.has(k)) declared.set(k, v)
    for (const m of cls.members) {
      const n = nodeName(m.name)
      const where = `${cls.node}.${n}`
      const pyName = `${cls.python[0]}.${m.name}`
      if (m.kind === 'property') {
        if (!(n in C.prototype)) problems.push(`Node ${cls.node} lacks property ${n} (Python: ${m.name}); add it to ${src} or remove ${m.name} from ${MANIFEST}`)
        continue
      }
      if (m.kind === 'static') {
        if (typeof C[n] !== 'function') {
          problems.push(`Node ${cls.node} lacks static method ${n} (Python: ${m.name}); add it to ${src} (#[napi(factory)] or a static) or remove ${m.name} from ${MANIFEST}`)
          continue
        }
      } else if (typeof C.prototype[n] !== 'function') {
        problems.push(`Node ${cls.node} lacks method ${n} (Python: ${m.name}); add it to ${src} or remove ${m.name} from ${MANIFEST}`)
        continue
      }
      const params = declared.get(n)
      if (!Array.isArray(params)) {
        problems.push(`Node ${where} is not declared in index.d.ts / wa360.d.ts; declare it (napi build, or the augmentation in wa360.d.ts)`)
        continue
      }
      checkParams(where, pyName, m, params, problems, src)
    }
    if (cls.exact) {
      const listed = new Set(cls.members.map((m) => nodeName(m.name)))
      const seen = new Set()
      for (let p = C.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
        for (const k of Object.getOwnPropertyNames(p)) {
          if (k === 'constructor' || k === 'toJSON' || k.startsWith('_') || seen.has(k)) continue
          seen.add(k)
          if (!listed.has(k)) problems.push(`Node ${cls.node} has ${k}, which ${MANIFEST} does not list; add it to Python too and list it, or remove it from Node`)
        }
      }
    }
    report(problems)
  })
}

test('api_surface: functions match the manifest', () => {
  const problems = []
  for (const f of manifest.functions) {
    const n = nodeName(f.name)
    if (typeof wa360[n] !== 'function') {
      problems.push(`the Node package does not export function ${n} (Python: ${f.name}); export it from bindings-node/wa360.js or remove ${f.name} from ${MANIFEST}`)
      continue
    }
    const params = functionParams(n)
    if (!params) problems.push(`function ${n} is not declared in index.d.ts / wa360.d.ts`)
    else checkParams(n, f.name, f, params, problems, 'bindings-node/src/*.rs (#[napi] fn) or wa360.js / wa360.d.ts')
  }
  report(problems)
})

test('api_surface: the send helpers accept exactly the manifest options (native check)', async () => {
  // The native side rejects an unknown key with the list it knows, before any request.
  const client = new wa360.Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  const problems = []
  const cls = manifest.classes.find((c) => c.name === 'Client')
  for (const m of cls.members.filter((x) => x.name.startsWith('send_') && x.options)) {
    const n = nodeName(m.name)
    if (typeof client[n] !== 'function') continue // reported by the class test
    const args = m.args.map(() => 'x')
    const err = await client[n](...args, { surfaceProbe: 1 }).then(() => null, (e) => e)
    const known = err?.message?.match(/known: ([^)]*)\)/)?.[1]?.split(', ') ?? null
    const d = diff(m.options.map(nodeName), known ?? [])
    if (!known || d.missing.length || d.extra.length) {
      problems.push(`Node Client.${n} accepts options [${known}], the manifest says [${m.options.map(nodeName)}]; fix the key list of ${n} in bindings-node/src/messages.rs or the options of ${m.name} in ${MANIFEST}`)
    }
  }
  report(problems)
})

test('api_surface: known message types come from the core and the typings cover them', () => {
  const types = wa360.KnownMessageTypes
  assert.ok(Object.isFrozen(types))
  for (const t of ['text', 'request_welcome', 'unknown', 'unsupported']) assert.ok(types.includes(t), t)
  const events = readFileSync(path.join(pkg, 'webhook-events.d.ts'), 'utf8')
  const union = events.slice(events.indexOf('export type KnownMessageEvent'))
  const typed = new Set([...events.matchAll(/interface (\w+) extends MessageBase \{\s*type: '([a-z_]+)'/g)].filter((m) => union.includes(m[1])).map((m) => m[2]))
  assert.deepEqual([...typed].sort(), [...types].sort(), 'webhook-events.d.ts KnownMessageEvent must have one interface per KnownMessageTypes entry')
  const body = (type) => JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '2' }, messages: [{ id: 'wamid.1', from: '15555550123', timestamp: '1', type }] } }] }] })
  for (const t of types) assert.ok(wa360.isKnownMessage(wa360.parseWebhook(body(t))[0]), `isKnownMessage(${t})`)
  assert.equal(wa360.isKnownMessage(wa360.parseWebhook(body('poll_vote'))[0]), false)
})

test('api_surface: errors carry the manifest attributes', async () => {
  const declared = new Set(['message', ...interfaceKeys('Wa360Error')])
  const problems = []
  for (const a of manifest.error_attributes.names) {
    const n = nodeName(a)
    const isPending = pending.has(`error_attributes.${a}`)
    if (!declared.has(n) && !isPending) problems.push(`Node errors lack ${n} (Python: ${a}); set it in bindings-node/src/errors.rs and declare it on Wa360Error in wa360.d.ts, or remove ${a} from ${MANIFEST}`)
    if (declared.has(n) && isPending) problems.push(`Node errors now carry ${n}: remove "error_attributes.${a}" from pending.node in ${MANIFEST}`)
  }
  report(problems)
  // A real error carries what it knows: an invalid_argument names field and rule.
  const client = new wa360.Client({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 })
  const e = await client.sendText('15555550123', '').then(() => null, (x) => x)
  assert.equal(e.code, 'invalid_argument')
  assert.equal(e.field, 'text.body')
  assert.equal(typeof e.rule, 'string')
})

// The shared helper cases (also run by the Python suite): each Node helper, with the Python
// keyword options as its options object, sends exactly buildMessage(case.message).
const helperCases = JSON.parse(readFileSync(path.join(pkg, '..', 'tests/conformance/api_surface/send_helpers.json'), 'utf8')).cases

test('api_surface: every send helper has a shared case', () => {
  const cls = manifest.classes.find((c) => c.name === 'Client')
  const helpers = cls.members.map((m) => m.name).filter((n) => n.startsWith('send_') && n !== 'send_body' && n !== 'send_within')
  assert.deepEqual(helperCases.map((c) => c.helper).sort(), helpers.sort())
})

test('api_surface: each send helper sends its neutral message (same cases as Python)', async () => {
  const sb = await wa360.Sandbox.start({ timeScale: 0.01 })
  try {
    const client = new wa360.Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0 })
    for (const c of helperCases) {
      sb.reset()
      const options = Object.fromEntries(Object.entries(c.options).map(([k, v]) => [nodeName(k), v]))
      const r = await client[nodeName(c.helper)](...c.args, options)
      assert.match(r.messageId, /^wamid\./, c.helper)
      const reqs = sb.requests().filter((q) => q.path === '/messages')
      assert.equal(reqs.length, 1, c.helper)
      assert.deepEqual(reqs[0].body, wa360.buildMessage(c.message), c.helper)
    }
  } finally {
    await sb.stop()
  }
})

test('api_surface: helper arguments of the wrong type are named before any request', async () => {
  const sb = await wa360.Sandbox.start({ timeScale: 0.01 })
  try {
    const client = new wa360.Client({ apiKey: sb.apiKey, baseUrl: sb.url, maxRetries: 0 })
    const to = '15555550123'
    const cases = [
      [() => client.sendImage(to, 123), 'image.id'],
      [() => client.sendLocation(to, 'north', 1.0), 'location.latitude'],
      [() => client.sendText(to, 'hi', { replyTo: 5 }), 'replyTo'],
      [() => client.sendButtons(to, 'b', [['a', 'A', 'x']]), 'interactive.buttons[0]'],
      [() => client.sendImage(to, 'x', { caption: 'c', title: 't' }), 'title'],
    ]
    for (const [run, field] of cases) {
      await assert.rejects(run(), (e) => wa360.isWa360Error(e, 'invalid_argument') && e.field === field, field)
    }
    assert.deepEqual(sb.requests(), [])
  } finally {
    await sb.stop()
  }
})
