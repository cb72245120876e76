/**
 * Checking a document's metadata before it is stored. Metadata is kept as JSON (JSONB in SQLite),
 * and `JSON.stringify` would change some values without a word: NaN and ±Infinity become `null`,
 * a `Date` becomes a string, a `Map` or `Set` becomes `{}`, a function or `undefined` in an array
 * becomes `null`. A filter on such a field would then find something other than what was given, so
 * anything JSON cannot hold exactly is refused here, naming the path to it. `undefined` object
 * properties are the one exception: they are left out, as `JSON.stringify` leaves them out
 * (`{ tag: maybeTag }` with no tag simply has no `tag`).
 */
import { invalid, type InvalidInputError } from '../errors.js'

/** SQLite's JSON functions refuse values nested deeper than this (JSON_MAX_DEPTH). */
export const MAX_METADATA_DEPTH = 1000

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v)
  if (typeof v === 'bigint') return `the bigint ${v}n`
  if (typeof v === 'function') return 'a function'
  if (typeof v === 'symbol') return 'a symbol'
  if (v === undefined) return 'undefined'
  const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name
  return name ? `a ${name}` : 'an object'
}

/**
 * The JSON text of `metadata`, or `null` when it is `undefined`/`null`.
 * @param where names the document in the error message (`document "a"`, `docs.jsonl:3`).
 * @throws InvalidInputError `ERR_INVALID_ARGUMENT` naming the first value JSON cannot hold exactly.
 */
export function metadataJson(metadata: unknown, where: string): string | null {
  if (metadata === undefined || metadata === null) return null
  if (!isPlainObject(metadata)) throw invalid('ERR_INVALID_ARGUMENT', `${where}: metadata must be a plain object, got ${Array.isArray(metadata) ? 'an array' : describe(metadata)}`)
  checkValue(metadata, 'metadata', 1, where, new Set())
  return JSON.stringify(metadata)
}

function bad(where: string, path: string, what: string): InvalidInputError {
  return invalid('ERR_INVALID_ARGUMENT', `${where}: ${path} is ${what}, which JSON metadata cannot hold (use a string, a finite number, a boolean, null, an array or a plain object)`)
}

function checkValue(v: unknown, path: string, depth: number, where: string, open: Set<object>): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad(where, path, String(v))
    return
  }
  const isArray = Array.isArray(v)
  if (!isArray && !isPlainObject(v)) throw bad(where, path, describe(v))
  if (depth > MAX_METADATA_DEPTH) throw invalid('ERR_INVALID_ARGUMENT', `${where}: metadata is nested more than ${MAX_METADATA_DEPTH} levels deep (at ${path.slice(0, 60)}…)`)
  if (open.has(v)) throw invalid('ERR_INVALID_ARGUMENT', `${where}: ${path} refers back to itself (a circular structure)`)
  open.add(v)
  if (isArray) {
    // By index, not forEach: a hole in a sparse array would become null.
    for (let i = 0; i < v.length; i++) checkValue(v[i], `${path}[${i}]`, depth + 1, where, open)
  } else {
    for (const [key, x] of Object.entries(v)) {
      if (x === undefined) continue
      checkValue(x, `${path}.${key}`, depth + 1, where, open)
    }
  }
  open.delete(v)
}
