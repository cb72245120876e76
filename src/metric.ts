import { callNative, invalid } from './errors.js'
import { native, type NativeInfo } from './native.js'
import { toRow, toRows, type BinaryVectorLike, type VectorLike } from './vectors.js'

/**
 * How distance is measured. Every distance is smaller-is-closer:
 * - `cosine`: `1 − cos(a, b)`, in `[0, 2]`. Two zero vectors are at distance 0; a zero vector and any
 *   non-zero vector at distance 1 (never NaN).
 * - `dot`: `1 − a·b` (hnswlib's `ip`); for unit vectors it equals `cosine`.
 * - `l2`: squared Euclidean distance `Σ(aᵢ − bᵢ)²`.
 * - `hamming`: number of differing bits between bit-packed `Uint8Array`s.
 */
export type Metric = 'cosine' | 'dot' | 'l2' | 'hamming'

export const METRICS: readonly Metric[] = ['cosine', 'dot', 'l2', 'hamming']

/** The stored vector type of a metric: bit-packed bytes for `hamming`, `Float32Array` otherwise. */
export type VectorOf<M extends Metric> = M extends 'hamming' ? Uint8Array : Float32Array

/** What callers may pass as a vector under a metric. */
export type InputOf<M extends Metric> = M extends 'hamming' ? BinaryVectorLike : VectorLike

export function checkMetric(metric: unknown): Metric {
  if (typeof metric === 'string' && (METRICS as readonly string[]).includes(metric)) return metric as Metric
  throw invalid(
    'ERR_UNKNOWN_METRIC',
    `unknown metric ${JSON.stringify(metric)}: expected one of "cosine", "dot", "l2", "hamming"`,
  )
}

/** Element kind stored for a metric. */
export function kindOf(metric: Metric): 'f32' | 'bits' {
  return metric === 'hamming' ? 'bits' : 'f32'
}

/**
 * Distance between two vectors (smaller is closer). `hamming` takes bit-packed bytes
 * (`Uint8Array` or byte values); the others take `Float32Array` or `number[]`.
 */
export function distance<M extends Metric>(a: InputOf<M>, b: InputOf<M>, metric: M): number {
  const m = checkMetric(metric)
  const kind = kindOf(m)
  const ra = toRow(a, kind, undefined, 'a')
  const rb = toRow(b, kind, ra.length, 'b')
  return callNative(() => native.distance(ra, rb, m))
}

/**
 * Distances from `query` to each of `rows` (an array of vectors, or one flat array of
 * `n * query.length` values), written into `out` when given (length `n`) and returned.
 */
export function distances<M extends Metric>(
  query: InputOf<M>,
  rows: InputOf<M> | readonly InputOf<M>[],
  metric: M,
  out?: Float32Array,
): Float32Array {
  const m = checkMetric(metric)
  const kind = kindOf(m)
  const q = toRow(query, kind, undefined, 'query')
  const flat = toRows(rows, kind, q.length)
  const result = out ?? new Float32Array(flat.rows)
  if (!(result instanceof Float32Array) || result.length !== flat.rows) {
    throw invalid('ERR_INVALID_ARGUMENT', `out must be a Float32Array of length ${flat.rows} (one per row)`)
  }
  callNative(() => native.distancesInto(q, flat.data, m, result))
  return result
}

/** SIMD backends and threads the native engine uses on this machine. */
export function nativeInfo(): NativeInfo {
  return native.nativeInfo()
}
