// Compile-time checks of the public typings (run by `tsc --noEmit`, never executed).
import { ErrorCodes, isWa360Error, type ErrorCode, type Wa360Error } from '../wa360.js'

const codes: readonly ErrorCode[] = ErrorCodes
const first: ErrorCode = codes[0]
// @ts-expect-error: not a wa360 code
const wrong: ErrorCode = 'ENOENT'

function handle(e: unknown): string {
  if (isWa360Error(e, 'rate_limited')) {
    const err: Wa360Error = e
    return `${err.code} ${err.retryAfterMs ?? 0} ${err.status ?? ''}`
  }
  return String(first) + String(wrong)
}
handle(null)
