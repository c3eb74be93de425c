// Conformance suites of the management API through the Node API:
// buildTemplate, buildProfileUpdate and parseTemplateList give the exact body /
// canonical page of every case, or the typed error naming the field.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import * as wa360 from '../wa360.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tests/conformance')
const read = (p) => JSON.parse(readFileSync(p, 'utf8'))

function dropNulls(v) {
  if (Array.isArray(v)) return v.map(dropNulls)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)]))
  return v
}

const SUITES = {
  template_build: [wa360.buildTemplate, 40],
  profile_update: [wa360.buildProfileUpdate, 20],
  template_list_parse: [wa360.parseTemplateList, 8],
}

for (const [suite, [fn, min]] of Object.entries(SUITES)) {
  const dir = path.join(ROOT, suite)
  const cases = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  describe(`conformance/${suite}`, () => {
    test('suite is present', () => assert.ok(cases.length >= min, `${cases.length} cases`))
    for (const name of cases) {
      test(name, () => {
        const input = read(path.join(dir, name, 'input.json'))
        const errFile = path.join(dir, name, 'expected_error.json')
        if (existsSync(errFile)) {
          const want = read(errFile)
          assert.throws(() => fn(input), (e) => {
            assert.ok(wa360.isWa360Error(e), `not a wa360 error: ${e}`)
            assert.equal(e.code, want.code, e.message)
            if (want.field !== undefined) assert.equal(e.field, want.field, e.message)
            return true
          })
          return
        }
        // Absent optional values are left out of Node objects and `null` in the fixtures:
        // both sides are compared without null-valued keys.
        assert.deepEqual(dropNulls(JSON.parse(JSON.stringify(fn(input)))), dropNulls(read(path.join(dir, name, 'expected.json'))))
      })
    }
  })
}
