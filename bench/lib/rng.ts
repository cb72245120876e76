// Seeded random numbers and synthetic vector sets.
//
// Every benchmark draws its data from here so that a run is reproducible: the same seed gives the same
// bytes on every machine, so a ratio measured today and one measured after a change compare like for like.

/**
 * SplitMix32-style generator: tiny, fast, and good enough for benchmark data (it is not used for
 * anything statistical). Returns floats in [0, 1).
 */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    z = (z ^ (z >>> 16)) >>> 0
    return z / 4294967296
  }
}

/** Standard normal samples by Box–Muller, from a uniform source. */
export function gaussian(uniform: () => number): () => number {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const v = spare
      spare = undefined
      return v
    }
    // 1 − u keeps the log argument in (0, 1], so it is never log(0).
    const u = 1 - uniform()
    const v = uniform()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

/** `n` rows of `dim` components, each uniform in [−1, 1), row-major. */
export function uniformVectors(n: number, dim: number, seed: number): Float32Array {
  const next = rng(seed)
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = next() * 2 - 1
  return out
}

/** Options of {@link clusteredVectors}. */
export interface ClusterOptions {
  /** Number of cluster centres. */
  clusters: number
  /** Standard deviation of points around their centre, relative to the centres' spread (1.0). */
  spread: number
}

/**
 * `n` rows drawn around `clusters` Gaussian centres, row-major. Real embeddings are clumpy (topics,
 * classes), which is what makes approximate search hard and ties rare-but-possible; uniform data is the
 * opposite extreme. Exact-search speed does not depend on the distribution, recall checks do.
 *
 * The centres come from `seed` alone, so base and query sets drawn with different `pointSeed`s share
 * the same clusters, as real queries share the corpus' topics.
 */
export function clusteredVectors(
  n: number,
  dim: number,
  seed: number,
  pointSeed: number,
  { clusters, spread }: ClusterOptions = { clusters: 64, spread: 0.35 },
): Float32Array {
  const centreNoise = gaussian(rng(seed))
  const centres = new Float64Array(clusters * dim)
  for (let i = 0; i < centres.length; i++) centres[i] = centreNoise()
  const pick = rng(pointSeed ^ 0x5bd1e995)
  const noise = gaussian(rng(pointSeed))
  const out = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    const c = Math.min(clusters - 1, Math.floor(pick() * clusters))
    for (let j = 0; j < dim; j++) out[i * dim + j] = centres[c * dim + j]! + spread * noise()
  }
  return out
}

/** `n` bit-packed rows of `bits` bits (a multiple of 8), uniform random bytes. */
export function randomBits(n: number, bits: number, seed: number): Uint8Array {
  if (bits % 8 !== 0) throw new RangeError(`bits must be a multiple of 8, got ${bits}`)
  const next = rng(seed)
  const out = new Uint8Array((n * bits) / 8)
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(next() * 256)
  return out
}

/** Keys 0..n−1 as the Float64Array ferrovec takes. */
export function sequentialKeys(n: number): Float64Array {
  const keys = new Float64Array(n)
  for (let i = 0; i < n; i++) keys[i] = i
  return keys
}
