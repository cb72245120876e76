// Seeded test data shared by specs and child processes.

import { randomBytes, randomVectors, rng } from '../helpers.js'

// The seeded generator lives in ../helpers.ts; these keep the (n, dim, seed) order the persistence
// specs and the child-process save loop use.
export { rng }

/** `n * dim` floats in [-1, 1), the same for the same seed. */
export function seededRows(n: number, dim: number, seed: number): Float32Array {
  return randomVectors(seed, n, dim)
}

/** `n * bytes` random bytes, the same for the same seed. */
export function seededBytes(n: number, bytes: number, seed: number): Uint8Array {
  return randomBytes(seed, n * bytes)
}

/** The key the save-loop child adds on every other save. */
export const MARKER = 999
