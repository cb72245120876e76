// Input normalisation: every accepted shape becomes one flat typed array before crossing into native
// code, so the engine sees a single path. Only *shape and type* are checked here (what a typed array
// cannot carry); values (NaN, ±Infinity) are checked once, in the core.
import { callNative, invalid } from './errors.js'

/** A float vector: `Float32Array` (passed without copying), or any array of numbers. */
export type VectorLike = Float32Array | Float64Array | readonly number[] | ArrayLike<number>

/** A bit-packed binary vector: bytes, 8 dimensions each (first dimension = lowest bit of byte 0). */
export type BinaryVectorLike = Uint8Array | readonly number[] | ArrayLike<number>

/** A key: a non-negative integer up to `Number.MAX_SAFE_INTEGER`, as a number or a bigint. */
export type Key = number | bigint

/** Keys as a batch. */
export type KeysLike = readonly Key[] | Float64Array | Uint32Array | Int32Array | BigUint64Array | BigInt64Array | Iterable<Key>

/** Allowed keys, or a predicate over keys. */
export type KeyFilter = ((key: number) => boolean) | Set<Key> | KeysLike

type Kind = 'f32' | 'bits'

const MAX_KEY = Number.MAX_SAFE_INTEGER

function describe(x: unknown): string {
  if (x === null) return 'null'
  if (Array.isArray(x)) return 'an array'
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`
  if (typeof x === 'bigint') return `${x}n`
  if (typeof x === 'number') return String(x)
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)}`
  return typeof x
}

/** Validates one key and returns it as a number. */
export function toKey(key: unknown, where = ''): number {
  if (typeof key === 'number') {
    if (Number.isInteger(key) && key >= 0 && key <= MAX_KEY) return key
  } else if (typeof key === 'bigint') {
    if (key >= 0n && key <= BigInt(MAX_KEY)) return Number(key)
  }
  throw invalid(
    'ERR_INVALID_KEY',
    `invalid key${where}: expected an integer in 0..=${MAX_KEY} (number or bigint), got ${describe(key)}`,
  )
}

/** Validates a batch of keys into the `Float64Array` the binding takes (exact for every valid key). */
export function toKeys(keys: unknown): Float64Array {
  if (keys instanceof Float64Array) {
    for (let i = 0; i < keys.length; i++) toKey(keys[i], ` at row ${i}`)
    return keys
  }
  if (typeof keys === 'string' || keys == null || typeof (keys as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalid('ERR_INVALID_ARGUMENT', `keys must be an array or typed array of keys, got ${describe(keys)}`)
  }
  const list = Array.isArray(keys) || ArrayBuffer.isView(keys) ? (keys as ArrayLike<unknown>) : [...(keys as Iterable<unknown>)]
  const out = new Float64Array(list.length)
  for (let i = 0; i < list.length; i++) out[i] = toKey(list[i], ` at row ${i}`)
  return out
}

function isNumberArrayLike(x: unknown): x is ArrayLike<number> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView))
}

/**
 * One vector as the typed array its kind stores. `expected` is the required length in stored
 * elements (components, or bytes for bits), when known.
 */
export function toRow(v: unknown, kind: Kind, expected: number | undefined, what = 'vector'): Float32Array | Uint8Array {
  let row: Float32Array | Uint8Array
  if (kind === 'f32' && v instanceof Float32Array) row = v
  else if (kind === 'bits' && v instanceof Uint8Array) row = v
  else if (kind === 'f32' && isNumberArrayLike(v) && !(v instanceof BigInt64Array || v instanceof BigUint64Array)) {
    row = toF32(v, what)
  } else if (kind === 'bits' && Array.isArray(v)) {
    // Only plain arrays of byte values: a float typed array handed to a binary index is almost surely
    // an unpacked float embedding, and reading it as packed bytes would be silently wrong.
    row = toBytes(v, what)
  } else {
    const want = kind === 'f32' ? 'a Float32Array or an array of numbers' : 'a Uint8Array of bit-packed bytes (or an array of byte values)'
    throw invalid('ERR_INVALID_VECTOR', `${what} must be ${want}, got ${describe(v)}`)
  }
  if (row.length === 0) throw invalid('ERR_INVALID_VECTOR', `${what} is empty`)
  if (expected !== undefined && row.length !== expected) {
    const unit = kind === 'f32' ? 'components' : 'bytes'
    throw invalid('ERR_DIMENSION_MISMATCH', `${what} has ${row.length} ${unit}; expected ${expected}`)
  }
  return row
}

function toF32(v: ArrayLike<number>, what: string): Float32Array {
  const out = new Float32Array(v.length)
  for (let i = 0; i < v.length; i++) {
    const x = v[i]
    if (typeof x !== 'number') {
      throw invalid('ERR_INVALID_VECTOR', `${what}: component ${i} is ${describe(x)}; expected a number`)
    }
    out[i] = x
    // A finite double beyond ±3.4e38 rounds to ±Infinity in float32; say so rather than "Infinity".
    if (Number.isFinite(x) && !Number.isFinite(out[i])) {
      throw invalid('ERR_INVALID_VECTOR', `${what}: component ${i} (${x}) is outside the float32 range`)
    }
  }
  return out
}

function toBytes(v: ArrayLike<number>, what: string): Uint8Array {
  const out = new Uint8Array(v.length)
  for (let i = 0; i < v.length; i++) {
    const x = v[i]
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) {
      throw invalid('ERR_INVALID_VECTOR', `${what}: byte ${i} is ${describe(x)}; expected an integer in 0..=255`)
    }
    out[i] = x
  }
  return out
}

/**
 * A batch of vectors as one flat typed array of `rows * rowLen`: accepts one flat typed array (or flat
 * number array), or an array of vectors.
 */
export function toRows(vs: unknown, kind: Kind, rowLen: number): { data: Float32Array | Uint8Array; rows: number } {
  const nested = Array.isArray(vs) && vs.length > 0 && typeof vs[0] !== 'number'
  if (!nested) {
    if (Array.isArray(vs) && vs.length === 0) return { data: kind === 'f32' ? new Float32Array(0) : new Uint8Array(0), rows: 0 }
    const data = toRow(vs, kind, undefined, 'vectors')
    if (data.length % rowLen !== 0) {
      throw invalid(
        'ERR_DIMENSION_MISMATCH',
        `flat vectors hold ${data.length} values, which is not a multiple of the row length ${rowLen}`,
      )
    }
    return { data, rows: data.length / rowLen }
  }
  const list = vs as unknown[]
  const data = kind === 'f32' ? new Float32Array(list.length * rowLen) : new Uint8Array(list.length * rowLen)
  for (let i = 0; i < list.length; i++) data.set(toRow(list[i], kind, rowLen, `vector at row ${i}`), i * rowLen)
  return { data, rows: list.length }
}

/** A batch to add: validated keys and their rows, one row per key. */
export function toKeyedRows(keys: unknown, vectors: unknown, kind: Kind, rowLen: number): [Float64Array, Float32Array | Uint8Array] {
  const k = toKeys(keys)
  const { data, rows } = toRows(vectors, kind, rowLen)
  if (rows !== k.length) {
    throw invalid('ERR_INVALID_ARGUMENT', `got ${k.length} keys for ${rows} vectors; expected one key per vector`)
  }
  return [k, data]
}

/** The bytes argument of `fromBuffer`: a Buffer, Uint8Array or ArrayBuffer, viewed as a Uint8Array. */
export function toBytesArg(bytes: unknown): Uint8Array {
  const buf = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes
  if (!(buf instanceof Uint8Array)) {
    throw invalid('ERR_INVALID_ARGUMENT', 'fromBuffer needs a Buffer, Uint8Array or ArrayBuffer')
  }
  return buf
}

/** Validates `k`: a positive integer. */
export function toK(k: unknown): number {
  if (typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= 0xffffffff) return k
  throw invalid('ERR_INVALID_ARGUMENT', `k must be a positive integer, got ${describe(k)}`)
}

/** Resolves a filter to the allowed keys, calling a predicate once per key of `allKeys()`. */
export function toAllowList(filter: KeyFilter | undefined, allKeys: () => Float64Array): Float64Array | undefined {
  if (filter === undefined) return undefined
  if (typeof filter === 'function') {
    const keys = allKeys()
    const allowed: number[] = []
    // A throwing predicate propagates as is (like Array.prototype.filter): the caller's own error.
    for (const key of keys) if (filter(key)) allowed.push(key)
    return Float64Array.from(allowed)
  }
  return toKeys(filter)
}

/**
 * Largest k a single search serves through {@link searchInto}. Beyond it the native side sizes the
 * result instead: k far above the index size is legal, and preallocating it would waste memory.
 */
export const INTO_MAX_K = 4096

/**
 * A single-query search that writes into arrays allocated here (`run` returns how many neighbours it
 * wrote), trimmed to that count. V8 allocates small typed arrays far more cheaply than native code
 * can hand them over, which matters when the whole search takes microseconds.
 */
export function searchInto(k: number, run: (keys: Float64Array, distances: Float32Array) => number): { keys: Float64Array; distances: Float32Array } {
  const keys = new Float64Array(k)
  const distances = new Float32Array(k)
  const n = callNative(() => run(keys, distances))
  // slice, not subarray: callers may read `.buffer`, which must hold exactly the results.
  return n === k ? { keys, distances } : { keys: keys.slice(0, n), distances: distances.slice(0, n) }
}
