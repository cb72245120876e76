// Seeded test data shared by specs and child processes.

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `n * dim` floats in [-1, 1), the same for the same seed. */
export function seededRows(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed)
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = r() * 2 - 1
  return out
}

/** `n * bytes` random bytes, the same for the same seed. */
export function seededBytes(n: number, bytes: number, seed: number): Uint8Array {
  const r = rng(seed)
  const out = new Uint8Array(n * bytes)
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256)
  return out
}

/** The key the save-loop child adds on every other save. */
export const MARKER = 999
