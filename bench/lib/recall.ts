// Exact ground truth and recall@k, measured the ann-benchmarks way.
//
// Ground truth is computed here in float64 by a deliberately simple brute force that shares no code with
// any contender, so a contender cannot agree with it by sharing a bug. Recall uses ann-benchmarks'
// distance-threshold rule (../shared/data/README.md): a returned id counts as a hit if its true distance
// is ≤ the k-th true distance + 1e-3. Comparing id sets instead would call a correct answer wrong when two
// rows tie, which clustered data and real sets (Fashion-MNIST, WordNet duplicates) do produce.

/** The metrics the benchmarks use, named as ferrovec names them. */
export type FloatMetric = 'l2' | 'cosine' | 'dot'

/** ann-benchmarks' absolute epsilon for the threshold rule. */
export const RECALL_EPSILON = 1e-3

/**
 * True distance in float64, on the scale ann-benchmarks thresholds: Euclidean (not squared) for l2, so
 * the epsilon means the same as in the shared data's ground-truth files; `1 − cos` for cosine; `1 − a·b`
 * for dot (ferrovec's and usearch's `ip`).
 */
export function trueDistance(metric: FloatMetric, a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  if (metric === 'l2') {
    let s = 0
    for (let j = 0; j < dim; j++) {
      const d = a[ao + j]! - b[bo + j]!
      s += d * d
    }
    return Math.sqrt(s)
  }
  let dot = 0
  let na = 0
  let nb = 0
  for (let j = 0; j < dim; j++) {
    const x = a[ao + j]!
    const y = b[bo + j]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  if (metric === 'dot') return 1 - dot
  if (na === 0 && nb === 0) return 0
  if (na === 0 || nb === 0) return 1
  return 1 - dot / Math.sqrt(na * nb)
}

/** Exact neighbours of some queries: `k` ids and distances per query, nearest first. */
export interface GroundTruth {
  k: number
  /** Query rows (indexes into the query matrix) the truth covers. */
  queryRows: number[]
  ids: Int32Array
  distances: Float64Array
}

/**
 * Brute-force k nearest neighbours of the given query rows, in float64, ties broken by smaller id.
 * O(rows × n × dim): callers pass a bounded subset of queries.
 */
export function groundTruth(
  metric: FloatMetric,
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  queryRows: number[],
  k: number,
): GroundTruth {
  const n = base.length / dim
  const kk = Math.min(k, n)
  const ids = new Int32Array(queryRows.length * kk)
  const distances = new Float64Array(queryRows.length * kk)
  const bestD = new Float64Array(kk)
  const bestI = new Int32Array(kk)
  queryRows.forEach((q, qi) => {
    bestD.fill(Infinity)
    bestI.fill(-1)
    for (let i = 0; i < n; i++) {
      const d = trueDistance(metric, queries, q * dim, base, i * dim, dim)
      // Strictly-less keeps the earlier (smaller) id first among equal distances.
      if (d >= bestD[kk - 1]!) continue
      let p = kk - 1
      while (p > 0 && bestD[p - 1]! > d) {
        bestD[p] = bestD[p - 1]!
        bestI[p] = bestI[p - 1]!
        p--
      }
      bestD[p] = d
      bestI[p] = i
    }
    ids.set(bestI, qi * kk)
    distances.set(bestD, qi * kk)
  })
  return { k: kk, queryRows, ids, distances }
}

/**
 * Recall@k of a contender's answers by the threshold rule. `idsOf(queryRow)` returns the ids it gave
 * for that query row (at least `k` slots; padding ids < 0 count as misses). The distance of every
 * returned id is recomputed here in float64, so whatever scale a library reports (squared L2, raw inner
 * product, …) does not matter.
 */
export function recallAtK(
  metric: FloatMetric,
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  truth: { k: number; queryRows: number[]; kthDistance: (qi: number) => number },
  idsOf: (queryRow: number) => ArrayLike<number>,
  k: number,
): number {
  const n = base.length / dim
  let hits = 0
  truth.queryRows.forEach((q, qi) => {
    const threshold = truth.kthDistance(qi) + RECALL_EPSILON
    const got = idsOf(q)
    const seen = new Set<number>()
    for (let j = 0; j < k; j++) {
      const id = got[j]
      // A repeated id or an out-of-range id is a wrong answer, not a hit.
      if (id === undefined || id < 0 || id >= n || seen.has(id)) continue
      seen.add(id)
      if (trueDistance(metric, queries, q * dim, base, id * dim, dim) <= threshold) hits++
    }
  })
  return hits / (truth.queryRows.length * k)
}

/** Adapts a {@link GroundTruth} to the `truth` argument of {@link recallAtK}. */
export function truthOf(gt: GroundTruth, k: number): Parameters<typeof recallAtK>[4] {
  if (k > gt.k) throw new RangeError(`ground truth holds ${gt.k} neighbours, recall@${k} needs ${k}`)
  return { k, queryRows: gt.queryRows, kthDistance: (qi) => gt.distances[qi * gt.k + k - 1]! }
}
