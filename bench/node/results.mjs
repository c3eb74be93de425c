// Shared by the Node benchmarks: CPU-time loops, rounds, and the one results
// file (bench/results.json) that `bench/report.py` prints and renders into
// the README.
import { readFileSync, writeFileSync, renameSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../results.json')

/** Replace one section of bench/results.json (read, modify, write-then-rename). */
export function saveSection(name, value) {
  let all = {}
  try { all = JSON.parse(readFileSync(RESULTS, 'utf8')) } catch { /* first section of a run */ }
  all[name] = { measured_utc: new Date().toISOString().slice(0, 16).replace('T', ' '), ...value }
  writeFileSync(RESULTS + '.tmp', JSON.stringify(all, null, 2) + '\n')
  renameSync(RESULTS + '.tmp', RESULTS)
}

/** CPU time (user + sys) of this process, in µs. Used instead of wall time:
 * on a shared, loaded machine it does not count the time the process waits
 * for a core, which moves wall-clock figures by 2× between runs. */
export function cpuNow() {
  const c = process.cpuUsage()
  return c.user + c.system
}

/** Median and spread (min, max) of a list of numbers. */
export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1], runs: xs }
}

/** One round: µs of CPU per call of each function, interleaved in slices so
 * that load from elsewhere hits every contender alike. */
export async function round(fns, iters, asyncNames = new Set()) {
  const names = Object.keys(fns)
  const total = Object.fromEntries(names.map((n) => [n, 0]))
  const slices = 4
  const per = Math.max(1, Math.floor(iters / slices))
  for (let s = 0; s < slices; s++) {
    for (const n of names) {
      const f = fns[n]
      const t0 = cpuNow()
      if (asyncNames.has(n)) for (let i = 0; i < per; i++) await f()
      else for (let i = 0; i < per; i++) f()
      total[n] += cpuNow() - t0
    }
  }
  return Object.fromEntries(names.map((n) => [n, total[n] / (per * slices)]))
}
