/**
 * Fusing a keyword ranking and a vector ranking into one. Both functions take each retriever's
 * candidates best first and return the fused keys best first with their fused scores.
 */

export interface Ranked {
  key: number
  /** Larger is better (BM25 score, or vector similarity). */
  score: number
}

export interface Fused {
  key: number
  score: number
}

/**
 * Weighted reciprocal rank fusion (Cormack et al. 2009): `Σ wᵢ / (rrfK + rankᵢ)`, ranks from 1, a
 * list that misses a document contributes nothing. Ties are broken by the keyword rank, then by key,
 * so the order is deterministic.
 */
export function rrf(keyword: readonly Ranked[], vector: readonly Ranked[], rrfK: number, wKeyword: number, wVector: number): Fused[] {
  const score = new Map<number, number>()
  const kwRank = new Map<number, number>()
  keyword.forEach((r, i) => {
    kwRank.set(r.key, i)
    score.set(r.key, wKeyword / (rrfK + i + 1))
  })
  vector.forEach((r, i) => {
    score.set(r.key, (score.get(r.key) ?? 0) + wVector / (rrfK + i + 1))
  })
  return sortFused(score, kwRank)
}

/** Min-max scaling of one list's scores to [0, 1] (all equal → all 1). */
function minMax(list: readonly Ranked[]): Map<number, number> {
  const out = new Map<number, number>()
  if (list.length === 0) return out
  let lo = Infinity
  let hi = -Infinity
  for (const r of list) {
    if (r.score < lo) lo = r.score
    if (r.score > hi) hi = r.score
  }
  const span = hi - lo
  for (const r of list) out.set(r.key, span > 0 ? (r.score - lo) / span : 1)
  return out
}

/**
 * Convex combination of min-max-normalised scores: `alpha · vector + (1 − alpha) · keyword`, a
 * document missing from a list scoring 0 there (Bruch et al. 2023 find this robust when `alpha` is
 * chosen for the retrievers at hand).
 */
export function weighted(keyword: readonly Ranked[], vector: readonly Ranked[], alpha: number): Fused[] {
  const kw = minMax(keyword)
  const vec = minMax(vector)
  const score = new Map<number, number>()
  const kwRank = new Map<number, number>()
  keyword.forEach((r, i) => kwRank.set(r.key, i))
  for (const [key, s] of kw) score.set(key, (1 - alpha) * s)
  for (const [key, s] of vec) score.set(key, (score.get(key) ?? 0) + alpha * s)
  return sortFused(score, kwRank)
}

function sortFused(score: Map<number, number>, kwRank: Map<number, number>): Fused[] {
  const out: Fused[] = []
  for (const [key, s] of score) out.push({ key, score: s })
  out.sort((a, b) => {
    if (b.score !== a.score) return b.score - a.score
    const ra = kwRank.get(a.key) ?? Infinity
    const rb = kwRank.get(b.key) ?? Infinity
    if (ra !== rb) return ra - rb
    return a.key - b.key
  })
  return out
}

/** z-scores of one list's scores (all equal → all 0). */
function zScores(list: readonly Ranked[]): { z: Map<number, number>; floor: number } {
  const z = new Map<number, number>()
  if (list.length === 0) return { z, floor: 0 }
  let mean = 0
  for (const r of list) mean += r.score
  mean /= list.length
  let varSum = 0
  for (const r of list) varSum += (r.score - mean) ** 2
  const sd = Math.sqrt(varSum / list.length)
  let floor = 0
  for (const r of list) {
    const v = sd > 0 ? (r.score - mean) / sd : 0
    z.set(r.key, v)
    if (v < floor) floor = v
  }
  return { z, floor }
}

/**
 * Convex combination of z-score-normalised scores, `alpha · vector + (1 − alpha) · keyword`, each
 * list standardised over its own candidates; a document missing from a list gets that list's lowest
 * z-score (it ranked below every candidate there). Unlike min-max, one outlier does not squash the
 * rest of a list, and unlike RRF a retriever's confident gaps survive: a weak retriever whose scores
 * are bunched moves the fused order little. The collection's default hybrid fusion (see
 * docs/collections.md for the measurements behind it).
 */
export function zscore(keyword: readonly Ranked[], vector: readonly Ranked[], alpha: number): Fused[] {
  const kw = zScores(keyword)
  const vec = zScores(vector)
  const score = new Map<number, number>()
  const kwRank = new Map<number, number>()
  keyword.forEach((r, i) => kwRank.set(r.key, i))
  const keys = new Set<number>([...kw.z.keys(), ...vec.z.keys()])
  for (const key of keys) {
    score.set(key, (1 - alpha) * (kw.z.get(key) ?? kw.floor) + alpha * (vec.z.get(key) ?? vec.floor))
  }
  return sortFused(score, kwRank)
}
