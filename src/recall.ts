import { invalid } from './errors.js'
import type { BatchSearchResult } from './flat.js'

/** Exact ground truth for a batch of queries: `ids[q * stride + r]` is query q's r-th true neighbour. */
export interface GroundTruth {
  ids: ArrayLike<number>
  /** Neighbours stored per query (≥ k). */
  stride: number
  /** True distances in the same layout, in the index's distance units; enables the tie-aware rule. */
  distances?: ArrayLike<number>
}

/**
 * Mean recall@k of `result` against `truth`.
 *
 * With true distances, a returned neighbour counts as a hit when its distance is within `epsilon` of
 * the k-th true distance (ann-benchmarks' rule): data sets with exact duplicates have tied neighbours
 * that may legitimately come back in any order. Without them, ids are compared as sets, which is
 * slightly pessimistic under ties.
 */
export function recallAtK(result: BatchSearchResult, truth: GroundTruth, k: number, epsilon = 1e-3): number {
  const queries = result.counts.length
  if (k > result.k || k > truth.stride) {
    throw invalid('ERR_INVALID_ARGUMENT', `recall@${k} needs at least ${k} results and ${k} true neighbours per query`)
  }
  if (truth.ids.length < queries * truth.stride) {
    throw invalid('ERR_INVALID_ARGUMENT', `ground truth covers ${Math.floor(truth.ids.length / truth.stride)} queries, the result has ${queries}`)
  }
  let hits = 0
  for (let q = 0; q < queries; q++) {
    const n = Math.min(result.counts[q] ?? 0, k)
    const base = q * result.k
    if (truth.distances) {
      const threshold = (truth.distances[q * truth.stride + k - 1] ?? Infinity) + epsilon
      for (let i = 0; i < n; i++) if ((result.distances[base + i] ?? Infinity) <= threshold) hits++
    } else {
      const want = new Set<number>()
      for (let r = 0; r < k; r++) want.add(truth.ids[q * truth.stride + r] ?? -1)
      for (let i = 0; i < n; i++) if (want.has(result.keys[base + i] ?? -1)) hits++
    }
  }
  return queries === 0 ? 1 : hits / (queries * k)
}
