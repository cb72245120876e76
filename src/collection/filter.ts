/**
 * Metadata filters → one SQL boolean expression over the `metadata` JSON column, so SQLite resolves a
 * filter to the set of matching keys and the vector index only ever sees allowed keys.
 *
 * Grammar (MongoDB-style, as Chroma and others use):
 *   filter   := { field: value | { op: operand, … }, …, $and?: filter[], $or?: filter[], $not?: filter }
 *   op       := $eq | $ne | $gt | $gte | $lt | $lte | $in | $nin | $exists
 * Several entries in one object must all hold. `field` is a key of the metadata object; dots go
 * into nested objects (`'author.name'`). Values are compared with their JSON type: `1` never equals
 * `'1'` or `true`; ranges take numbers or strings; `null` matches an explicit JSON null (use
 * `{ $exists: false }` for a missing field); `$ne`/`$nin` also match documents without the field.
 * Every value is a bound parameter, never spliced into the SQL text.
 */
import { InvalidInputError } from '../errors.js'

export type Scalar = string | number | boolean | null

/** Conditions on one field. */
export interface FieldCondition {
  $eq?: Scalar
  $ne?: Scalar
  $gt?: number | string
  $gte?: number | string
  $lt?: number | string
  $lte?: number | string
  $in?: readonly Scalar[]
  $nin?: readonly Scalar[]
  $exists?: boolean
}

/** A metadata filter (see the module doc for the grammar). */
export interface MetadataFilter {
  $and?: readonly MetadataFilter[]
  $or?: readonly MetadataFilter[]
  $not?: MetadataFilter
  [field: string]: Scalar | FieldCondition | readonly MetadataFilter[] | MetadataFilter | undefined
}

export interface CompiledFilter {
  sql: string
  params: (string | number)[]
}

const FIELD_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists'])
const RANGE_SQL: Record<string, string> = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }
// Bounds the recursion a hostile or accidental filter can cause.
const MAX_DEPTH = 32

function bad(message: string): InvalidInputError {
  return new InvalidInputError('ERR_INVALID_FILTER', `filter: ${message}`)
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined'
  if (typeof v === 'bigint') return `${v}n`
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return String(v)
  }
}

/** A field name → a SQLite JSON path with every segment quoted (dots nest). */
function jsonPath(field: string): string {
  if (field === '') throw bad('a field name is empty')
  const parts = field.split('.')
  for (const p of parts) {
    if (p === '') throw bad(`field ${JSON.stringify(field)} has an empty segment`)
    if (p.includes('"') || p.includes('\\')) throw bad(`field ${JSON.stringify(field)}: quotes and backslashes are not allowed in field names`)
  }
  return '$' + parts.map((p) => `."${p}"`).join('')
}

function checkScalar(v: unknown, where: string): Scalar {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad(`${where}: ${String(v)} is not a finite number`)
    return v
  }
  throw bad(`${where}: expected a string, number, boolean or null, got ${describe(v)}`)
}

/**
 * `field == value` with JSON types respected, in one JSON call per row: `metadata -> path` renders
 * the stored value as JSON text, compared with the operand's JSON text. Both sides are
 * `JSON.stringify` output (metadata is stored from it, and JSONB keeps a value's text), so equal
 * values have equal text and `1`, `'1'` and `true` never meet. (Two calls per row — type, then
 * value — made a 5,000-document filter twice as slow.)
 */
function eq(path: string, value: Scalar, out: CompiledFilter): string {
  out.params.push(path, JSON.stringify(value))
  return `(metadata -> ?) = ?`
}

/** `field ∈ values`, one JSON call per row. */
function anyOf(path: string, values: Scalar[], out: CompiledFilter): string {
  if (values.length === 0) return '0'
  out.params.push(path, ...values.map((v) => JSON.stringify(v)))
  return `(metadata -> ?) IN (${values.map(() => '?').join(', ')})`
}

function range(path: string, op: string, value: unknown, field: string, out: CompiledFilter): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad(`${field}.${op}: ${String(value)} is not a finite number`)
    out.params.push(path, path, value)
    return `(json_type(metadata, ?) IN ('integer', 'real') AND json_extract(metadata, ?) ${RANGE_SQL[op]} ?)`
  }
  if (typeof value === 'string') {
    out.params.push(path, path, value)
    return `(json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) ${RANGE_SQL[op]} ?)`
  }
  throw bad(`${field}.${op}: expected a number or a string, got ${describe(value)}`)
}

function field(name: string, cond: unknown, out: CompiledFilter): string {
  const path = jsonPath(name)
  if (!isPlainObject(cond)) return eq(path, checkScalar(cond, name), out)
  const keys = Object.keys(cond)
  if (keys.length === 0) throw bad(`${name}: an empty condition object`)
  const parts: string[] = []
  for (const op of keys) {
    const v = cond[op]
    if (!FIELD_OPS.has(op)) {
      throw bad(
        `${name}: unknown operator ${JSON.stringify(op)} (expected $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin or $exists)`,
      )
    }
    switch (op) {
      case '$eq':
        parts.push(eq(path, checkScalar(v, `${name}.$eq`), out))
        break
      case '$ne':
        parts.push(`NOT IFNULL(${eq(path, checkScalar(v, `${name}.$ne`), out)}, 0)`)
        break
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        parts.push(range(path, op, v, name, out))
        break
      case '$in':
      case '$nin': {
        if (!Array.isArray(v)) throw bad(`${name}.${op}: expected an array, got ${describe(v)}`)
        const any = anyOf(path, v.map((x, i) => checkScalar(x, `${name}.${op}[${i}]`)), out)
        // A missing field makes the comparisons NULL; IFNULL keeps NOT from turning that into NULL too.
        parts.push(op === '$in' ? any : `NOT IFNULL(${any}, 0)`)
        break
      }
      case '$exists':
        if (typeof v !== 'boolean') throw bad(`${name}.$exists: expected true or false, got ${describe(v)}`)
        out.params.push(path)
        parts.push(`json_type(metadata, ?) IS ${v ? 'NOT NULL' : 'NULL'}`)
        break
    }
  }
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`
}

function node(filter: unknown, out: CompiledFilter, depth: number): string {
  if (depth > MAX_DEPTH) throw bad(`nested more than ${MAX_DEPTH} levels deep`)
  if (!isPlainObject(filter)) throw bad(`expected an object, got ${describe(filter)}`)
  const parts: string[] = []
  for (const key of Object.keys(filter)) {
    const v = filter[key]
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(v) || v.length === 0) throw bad(`${key}: expected a non-empty array of filters, got ${describe(v)}`)
      const subs = v.map((f) => node(f, out, depth + 1))
      parts.push(`(${subs.join(key === '$and' ? ' AND ' : ' OR ')})`)
    } else if (key === '$not') {
      parts.push(`NOT IFNULL(${node(v, out, depth + 1)}, 0)`)
    } else if (key.startsWith('$')) {
      throw bad(`unknown operator ${JSON.stringify(key)} at the top of a filter (expected $and, $or, $not or a field name)`)
    } else {
      if (v === undefined) throw bad(`${key}: undefined is not a value`)
      parts.push(field(key, v, out))
    }
  }
  if (parts.length === 0) return '1'
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`
}

/**
 * Compiles a filter to SQL over a `metadata` column holding JSON (text or JSONB) or NULL.
 * @throws InvalidInputError `ERR_INVALID_FILTER` naming the offending part.
 */
export function compileFilter(filter: unknown): CompiledFilter {
  const out: CompiledFilter = { sql: '', params: [] }
  out.sql = node(filter, out, 0)
  return out
}
