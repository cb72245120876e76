// Shared test helpers: seeded data and plain-TypeScript reference implementations. Nothing here calls
// ferrovec, so the references are independent of the code under test.

/** mulberry32: a tiny seeded PRNG, so every failing case can be replayed from its seed. */
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

export function randomVectors(seed: number, n: number, dim: number): Float32Array {
  const r = rng(seed)
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = r() * 2 - 1
  return out
}

export function randomBytes(seed: number, n: number): Uint8Array {
  const r = rng(seed)
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
}

export type RefMetric = 'cosine' | 'dot' | 'l2' | 'hamming'

/** Distance in float64 with the documented semantics (zero-vector cosine rules included). */
export function refDistance(metric: RefMetric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (metric === 'hamming') {
    let bits = 0
    for (let i = 0; i < a.length; i++) {
      let x = (a[i] ^ b[i]) & 0xff
      while (x) {
        bits += x & 1
        x >>= 1
      }
    }
    return bits
  }
  let ab = 0
  let aa = 0
  let bb = 0
  let l2 = 0
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i]
    aa += a[i] * a[i]
    bb += b[i] * b[i]
    l2 += (a[i] - b[i]) ** 2
  }
  if (metric === 'dot') return 1 - ab
  if (metric === 'l2') return l2
  if (aa === 0 && bb === 0) return 0
  if (aa === 0 || bb === 0) return 1
  return Math.min(2, Math.max(0, 1 - ab / Math.sqrt(aa * bb)))
}

/** Brute-force k nearest rows (ties by key), as [key, distance] pairs. */
export function bruteForce(
  metric: RefMetric,
  data: ArrayLike<number>,
  rowLen: number,
  keys: ArrayLike<number>,
  query: ArrayLike<number>,
  k: number,
  allow?: (key: number) => boolean,
): Array<[number, number]> {
  const all: Array<[number, number]> = []
  const n = data.length / rowLen
  for (let i = 0; i < n; i++) {
    if (allow && !allow(keys[i])) continue
    const row = Array.prototype.slice.call(data, i * rowLen, (i + 1) * rowLen) as number[]
    all.push([keys[i], refDistance(metric, query, row)])
  }
  all.sort((x, y) => x[1] - y[1] || x[0] - y[0])
  return all.slice(0, k)
}

/**
 * Seeded Gaussian clusters: `clusters` centres uniform in [−scale, scale)^dim drawn from `centreSeed`,
 * then `n` points around them (spread `spread`) drawn from `seed`. Data and query sets that share the
 * centre seed share the clusters, as real queries share a corpus' topics.
 */
export function gaussianClusters(o: { centreSeed: number; clusters: number; dim: number; scale: number; spread: number }, seed: number, n: number): Float32Array {
  const rc = rng(o.centreSeed)
  const centres = Float32Array.from({ length: o.clusters * o.dim }, () => rc() * 2 * o.scale - o.scale)
  const r = rng(seed)
  const out = new Float32Array(n * o.dim)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * o.clusters)
    for (let j = 0; j < o.dim; j++) {
      const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())
      out[i * o.dim + j] = centres[c * o.dim + j]! + o.spread * g
    }
  }
  return out
}
