/**
 * Small vector helpers for embeddings. `truncate` is how Matryoshka (MRL) models such as
 * text-embedding-3-* are shortened: keep the first `dims` components and re-normalise, which is what
 * the API does server-side when `dimensions` is passed — so a stored 3072-d vector can be cut to 256
 * locally and still compare with 256-d vectors from the API.
 */
import { invalid } from '../errors.js'

type VectorInput = Float32Array | readonly number[]

function checkFinite(vector: VectorInput, what: string): void {
  if (vector.length === 0) throw invalid('ERR_INVALID_VECTOR', `${what}: the vector is empty`)
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) {
      throw invalid('ERR_INVALID_VECTOR', `${what}: component ${i} is ${String(vector[i])}; expected a finite number`)
    }
  }
}

/**
 * Returns a new `Float32Array` with unit L2 norm, pointing the same way as `vector`.
 * @throws InvalidInputError `ERR_INVALID_VECTOR` for an empty, non-finite or all-zero vector (it has
 *   no direction to keep).
 */
export function normalize(vector: VectorInput): Float32Array {
  checkFinite(vector, 'normalize')
  // Accumulate in f64: a 3072-d sum of squares in f32 loses the low bits that decide the last ulp.
  let sum = 0
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) * (vector[i] as number)
  if (sum === 0) throw invalid('ERR_INVALID_VECTOR', 'normalize: the vector is all zeros and has no direction')
  const inv = 1 / Math.sqrt(sum)
  const out = new Float32Array(vector.length)
  for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) * inv
  return out
}

/**
 * Keeps the first `dims` components and re-normalises them (Matryoshka truncation).
 * @throws InvalidInputError `ERR_INVALID_ARGUMENT` unless `1 <= dims <= vector.length` is an integer;
 *   `ERR_INVALID_VECTOR` when the kept prefix is non-finite or all zeros.
 */
export function truncate(vector: VectorInput, dims: number): Float32Array {
  if (!Number.isInteger(dims) || dims < 1 || dims > vector.length) {
    throw invalid(
      'ERR_INVALID_ARGUMENT',
      `truncate: dims must be an integer from 1 to ${vector.length} (the vector's length), got ${String(dims)}`,
    )
  }
  return normalize(vector.slice(0, dims))
}

/** L2-normalises `vector` in place (used on freshly decoded vectors nobody else holds). */
export function normalizeInPlace(vector: Float32Array): void {
  let sum = 0
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) * (vector[i] as number)
  if (sum === 0) return
  const inv = 1 / Math.sqrt(sum)
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) * inv
}
