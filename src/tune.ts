// `HnswIndex.tune()`: choose search parameters from measurements instead of guesses.
//
// The plan, in order:
//   1. validate everything (nothing is measured, nothing changes, on bad input);
//   2. exact neighbours of the held-out queries, by brute force in bounded chunks (`exactNeighbours`);
//   3. walk the efSearch axis with `findSmallestEf` (doubling, then bisection), measuring recall, distance
//      computations and latency at each setting (`measure`);
//   4. apply the winner to the index, so the next `save()` writes it (efSearch is part of the file).
//
// Quantisation hook (issue 4): the parameter space is a `TuneSetting`. Today it holds `efSearch` only. A quantised
// index adds `oversample` there (the factor of its exact rescoring, `rescore: { oversample }` in the quant branch),
// a list of candidate factors to `TuneOptions`, passes the factor through `searchOptions()`, sets it in step 4
// beside efSearch, and wraps step 3 in a loop over the factors, keeping the cheapest setting (fewest mean distance
// computations) that meets the target. `findSmallestEf` takes the measuring function as an argument, so it runs
// unchanged once per factor; `formatTuneReport` gains a column.
import { performance } from 'node:perf_hooks'

import { AbortedError, invalid } from './errors.js'
import { FlatIndex } from './flat.js'
import type { HnswBatchSearchResult, HnswSearchOptions, HnswSearchResult } from './hnsw.js'
import { kindOf, type InputOf, type Metric } from './metric.js'
import { toK, toRows } from './vectors.js'

/** Queries drawn from the index when none are given (capped at its size). */
export const DEFAULT_SAMPLE_SIZE = 500
/** Largest efSearch tried unless `maxEf` says otherwise. */
export const DEFAULT_MAX_EF = 4096
/** The core's upper bound on `ef` (hnsw/mod.rs `MAX_EF`). */
const MAX_EF = 1 << 20
/** Queries timed one by one for `latencyMs` (the batch measures everything else). */
const LATENCY_QUERIES = 50
/** Vectors held at once while computing exact neighbours: this many bytes, in JS and again natively. */
const EXACT_CHUNK_BYTES = 32 * 2 ** 20

/**
 * One point of the parameter space {@link HnswIndex.tune} explores. Quantised indexes will add their
 * rescoring `oversample` factor here.
 */
export interface TuneSetting {
  /** Beam width of searches. */
  efSearch: number
}

/** What one setting measured, over all tuning queries. */
export interface TuneTrial extends TuneSetting {
  /** Mean recall@k against exact search (ties at the k-th distance count as hits). */
  recall: number
  /** Mean distance computations per query: the cost of the setting, independent of the machine. */
  distances: number
  /** Mean graph nodes whose neighbour list was read, per query. */
  visited: number
  /**
   * Median wall time in milliseconds of one `search()` on the JS thread, over the first 50 queries
   * (fewer if there are fewer). Machine- and load-dependent: compare settings within one run.
   */
  latencyMs: number
  /** Queries per second of the whole query set as one `searchBatch()` (every core). */
  queriesPerSecond: number
}

/** Progress of {@link HnswIndex.tune}: first the exact search, then one event per setting measured. */
export type TuneProgress =
  | { phase: 'exact'; /** Vectors of the index scanned so far. */ done: number; total: number }
  | { phase: 'trial'; /** Settings measured so far. */ done: number; trial: TuneTrial }

/** Options of {@link HnswIndex.tune}. */
export interface TuneOptions<M extends Metric = Metric> {
  /** Recall@k to reach, in (0, 1]. */
  targetRecall: number
  /** Neighbours per query whose recall is measured; default 10. */
  k?: number
  /**
   * Held-out queries (an array of vectors or one flat array of `n * dim` values), ideally drawn from
   * the traffic the index will serve. Without them, `sampleSize` vectors of the index are used as
   * queries, each with its own key removed from both the exact and the approximate results. Those sit
   * in the graph, whose links lead straight to their neighbours, so they are easier than new queries:
   * on Fashion-MNIST 60k the sample measured 0.977 at ef 10 where new images got 0.948, and more when
   * queries differ from the documents (WordNet glosses queried by single words: 0.974 vs 0.83).
   */
  queries?: InputOf<M> | readonly InputOf<M>[]
  /** Vectors of the index to use as queries when `queries` is not given; default `min(500, size)`. */
  sampleSize?: number
  /** Seed of that sample; default 0. */
  seed?: number
  /** Smallest efSearch tried; default `k` (searches raise a smaller ef to `k` anyway). */
  minEf?: number
  /** Largest efSearch tried; default 4096. A target not met by then is reported as not reached. */
  maxEf?: number
  /** Set the chosen efSearch on the index when the target is reached; default `true`. */
  apply?: boolean
  /**
   * Stops the tuning: the promise rejects with an {@link AbortedError} (`ERR_ABORTED`) at the next
   * step (a batch already running natively finishes first) and the index is left as it was.
   */
  signal?: AbortSignal
  /** Called on the JS thread as the work proceeds; a throw stops the tuning with that error. */
  onProgress?: (progress: TuneProgress) => void
}

/** What {@link HnswIndex.tune} found. */
export interface TuneResult extends TuneSetting {
  /**
   * Whether some setting met the target. Then `efSearch` is the smallest that did; otherwise it is
   * the setting with the best recall found (the smallest of equals), and it was not applied.
   */
  reached: boolean
  /** Recall measured at `efSearch`. */
  recall: number
  targetRecall: number
  k: number
  /** Number of queries measured. */
  queries: number
  /** The keys whose vectors served as queries, when they were sampled from the index. */
  sampleKeys?: Float64Array
  /** Whether `efSearch` was set on the index (so the next `save()` keeps it). */
  applied: boolean
  /** The efSearch the index had before tuning. */
  previousEfSearch: number
  /** Every setting measured, by ascending efSearch. */
  trials: TuneTrial[]
}

/** The parts of an HnswIndex that tuning uses (structural, so this module needs no import of the class). */
export interface TuneTarget {
  readonly dim: number
  readonly metric: Metric
  readonly size: number
  efSearch: number
  keys(): Float64Array
  get(key: number): Float32Array | Uint8Array | undefined
  search(query: Float32Array | Uint8Array, k: number, options?: HnswSearchOptions): HnswSearchResult
  searchBatch(queries: Float32Array | Uint8Array, k: number, options?: HnswSearchOptions): Promise<HnswBatchSearchResult>
}

interface Plan {
  target: number
  k: number
  minEf: number
  maxEf: number
  apply: boolean
  signal: AbortSignal | undefined
  onProgress: ((p: TuneProgress) => void) | undefined
  rowLen: number
  /** Given queries (flat), or undefined when sampling. */
  given: { data: Float32Array | Uint8Array; rows: number } | undefined
  sampleSize: number
  seed: number
}

/** Exact neighbours of each query: `ids[q * k + r]`, `dists[q * k + r]`, nearest first. */
export interface Truth {
  k: number
  ids: Float64Array
  dists: Float64Array
}

function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value
  throw invalid('ERR_INVALID_ARGUMENT', `${name} must be an integer in ${min}..=${max}, got ${String(value)}`)
}

function plan(index: TuneTarget, options: TuneOptions): Plan {
  if (typeof options !== 'object' || options === null) {
    throw invalid('ERR_INVALID_ARGUMENT', 'tune needs an options object such as { targetRecall: 0.95 }')
  }
  const target = options.targetRecall
  if (typeof target !== 'number' || !(target > 0 && target <= 1)) {
    throw invalid('ERR_INVALID_ARGUMENT', `targetRecall must be a number in (0, 1], got ${String(target)}`)
  }
  const k = options.k === undefined ? 10 : toK(options.k)
  const size = index.size
  if (size === 0) throw invalid('ERR_INVALID_ARGUMENT', 'cannot tune an empty index: add vectors first')
  const kind = kindOf(index.metric)
  const rowLen = kind === 'bits' ? index.dim / 8 : index.dim

  let given: Plan['given']
  let sampleSize = 0
  if (options.queries !== undefined) {
    if (options.sampleSize !== undefined) {
      throw invalid('ERR_INVALID_ARGUMENT', 'pass either queries or sampleSize, not both')
    }
    given = toRows(options.queries, kind, rowLen)
    if (given.rows === 0) throw invalid('ERR_INVALID_VECTOR', 'queries is empty: pass at least one query vector')
    if (k > size) throw invalid('ERR_INVALID_ARGUMENT', `k (${k}) is larger than the index (${size} vectors)`)
  } else {
    sampleSize = options.sampleSize === undefined ? Math.min(DEFAULT_SAMPLE_SIZE, size) : checkInt(options.sampleSize, 'sampleSize', 1, Number.MAX_SAFE_INTEGER)
    if (sampleSize > size) {
      throw invalid('ERR_INVALID_ARGUMENT', `sampleSize (${sampleSize}) is larger than the index (${size} vectors)`)
    }
    // A sampled query is removed from its own results, so k neighbours need k + 1 vectors.
    if (k > size - 1) {
      throw invalid('ERR_INVALID_ARGUMENT', `k (${k}) needs at least ${k + 1} vectors to sample queries from; the index has ${size} (pass queries instead)`)
    }
  }
  const seed = options.seed === undefined ? 0 : checkInt(options.seed, 'seed', 0, Number.MAX_SAFE_INTEGER)
  const maxEf = options.maxEf === undefined ? Math.max(DEFAULT_MAX_EF, k) : checkInt(options.maxEf, 'maxEf', 1, MAX_EF)
  // Searches raise ef to k, so settings below k would all measure the same thing.
  const minEf = Math.max(k, options.minEf === undefined ? k : checkInt(options.minEf, 'minEf', 1, MAX_EF))
  if (minEf > maxEf) throw invalid('ERR_INVALID_ARGUMENT', `minEf (${minEf}, at least k) is larger than maxEf (${maxEf})`)
  if (options.apply !== undefined && typeof options.apply !== 'boolean') {
    throw invalid('ERR_INVALID_ARGUMENT', `apply must be a boolean, got ${typeof options.apply}`)
  }
  const signal = options.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid('ERR_INVALID_ARGUMENT', 'signal must be an AbortSignal')
  }
  const onProgress = options.onProgress
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalid('ERR_INVALID_ARGUMENT', `onProgress must be a function, got ${typeof onProgress}`)
  }
  return { target, k, minEf, maxEf, apply: options.apply ?? true, signal, onProgress, rowLen, given, sampleSize, seed }
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortedError('tune', signal.reason)
}

/** mulberry32, the generator the tests use too: the same seed picks the same sample everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `n` distinct keys, a seeded partial Fisher–Yates shuffle of `keys` (which it reorders). */
function sample(keys: Float64Array, n: number, seed: number): Float64Array {
  const next = rng(seed)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(next() * (keys.length - i))
    const t = keys[i]!
    keys[i] = keys[j]!
    keys[j] = t
  }
  return keys.slice(0, n)
}

/**
 * Exact k nearest neighbours of every query over the whole index, excluding `self[q]` from query q's.
 *
 * Memory: the vectors are read with `get()` in chunks of about 32 MiB and scanned by one `FlatIndex`
 * whose slots are overwritten chunk by chunk (keys 0…n−1, upserted), so the working set is one chunk
 * (in JS and natively) plus `queries × k` running results, whatever the size of the index. Copying the
 * whole index into a FlatIndex would double its memory; a chunk costs the same distance computations
 * (every query meets every vector once) and keeps FlatIndex's SIMD tiles and threads. Each chunk's
 * search runs off the JS thread; reading a chunk's vectors is the only synchronous part.
 */
export async function exactNeighbours(
  index: TuneTarget,
  queries: Float32Array | Uint8Array,
  nq: number,
  k: number,
  self: Float64Array | undefined,
  p: Pick<Plan, 'signal' | 'onProgress'>,
  chunkRows?: number,
): Promise<Truth> {
  const keys = index.keys()
  const kind = kindOf(index.metric)
  const rowLen = kind === 'bits' ? index.dim / 8 : index.dim
  const rowBytes = kind === 'bits' ? rowLen : rowLen * 4
  // Capped in rows too, so the two key arrays of a chunk stay small when the rows are (short bit codes).
  const chunk = Math.max(1, Math.min(keys.length, chunkRows ?? Math.min(1 << 18, Math.floor(EXACT_CHUNK_BYTES / rowBytes))))
  const rows = kind === 'bits' ? new Uint8Array(chunk * rowLen) : new Float32Array(chunk * rowLen)
  const slots = Float64Array.from({ length: chunk }, (_, i) => i)
  const slotKeys = new Float64Array(chunk)
  const flat = new FlatIndex({ dim: index.dim, metric: index.metric })
  const ids = new Float64Array(nq * k).fill(-1)
  const dists = new Float64Array(nq * k).fill(Infinity)
  const want = self === undefined ? k : k + 1
  let held = 0
  for (let start = 0; start < keys.length; start += chunk) {
    checkAbort(p.signal)
    let n = 0
    for (let i = start; i < Math.min(start + chunk, keys.length); i++) {
      const v = index.get(keys[i]!)
      // Removed since keys() was read: skip it, as a search would.
      if (v === undefined) continue
      rows.set(v, n * rowLen)
      slotKeys[n++] = keys[i]!
    }
    if (n === 0) continue
    for (let s = n; s < held; s++) flat.remove(s)
    await flat.addBatch(slots.subarray(0, n), rows.subarray(0, n * rowLen), { upsert: true })
    held = n
    const r = await flat.searchBatch(queries, Math.min(want, n))
    for (let q = 0; q < nq; q++) {
      const base = q * r.k
      for (let j = 0; j < r.counts[q]!; j++) {
        const key = slotKeys[r.keys[base + j]!]!
        if (self !== undefined && key === self[q]) continue
        insert(ids, dists, q * k, k, key, r.distances[base + j]!)
      }
    }
    p.onProgress?.({ phase: 'exact', done: Math.min(start + chunk, keys.length), total: keys.length })
  }
  return { k, ids, dists }
}

/** Inserts (key, d) into the sorted top-k list at `at` if it is closer than the current k-th. */
function insert(ids: Float64Array, dists: Float64Array, at: number, k: number, key: number, d: number): void {
  let i = at + k - 1
  if (!(d < dists[i]!)) return
  while (i > at && dists[i - 1]! > d) {
    dists[i] = dists[i - 1]!
    ids[i] = ids[i - 1]!
    i--
  }
  dists[i] = d
  ids[i] = key
}

/**
 * Mean recall@k of a batch result against the exact neighbours. A returned key counts as a hit when it
 * is one of the true k, or when its distance ties the k-th true distance (within a relative 1e-4, so
 * kernels that round differently still agree): with duplicates or integer (hamming) distances, tied
 * neighbours may legitimately come back in any order (ann-benchmarks' rule). A sampled query's own key
 * is dropped from its results first, then the first k of the rest are scored.
 */
function recallAgainst(r: HnswBatchSearchResult, truth: Truth, self: Float64Array | undefined): number {
  const k = truth.k
  const nq = r.counts.length
  let hits = 0
  let total = 0
  const want = new Set<number>()
  for (let q = 0; q < nq; q++) {
    want.clear()
    let kth = Infinity
    for (let i = 0; i < k; i++) {
      const id = truth.ids[q * k + i]!
      if (id < 0) break
      want.add(id)
      kth = truth.dists[q * k + i]!
    }
    const limit = kth + Math.abs(kth) * 1e-4 + 1e-6
    total += want.size
    let taken = 0
    for (let j = 0; j < r.counts[q]! && taken < want.size; j++) {
      const key = r.keys[q * r.k + j]!
      if (self !== undefined && key === self[q]) continue
      taken++
      if (want.has(key) || r.distances[q * r.k + j]! <= limit) hits++
    }
  }
  return total === 0 ? 1 : hits / total
}

/**
 * The smallest ef in `[minEf, maxEf]` whose measured recall meets `target`: measure `minEf`, double
 * until a setting meets the target (or `maxEf` is reached), then bisect between the last failure and
 * the first success until they are 1 apart (below ef 64) or 1/32 of the ef apart (above): at most
 * log2(maxEf / minEf) + 2 measurements to bracket it and 6 to narrow it.
 *
 * Recall is not strictly monotone in ef (a wider beam can wander differently, and a finite query set
 * adds noise). The search never returns an ef below a measured failure: every ef it returns met the
 * target, and every ef it measured above it did too, so a dip can only make it stop at a larger ef,
 * never pick a lucky small one above which recall falls short. When nothing meets the target, the
 * best recall measured is returned (the smallest ef among equals) with `reached: false`.
 */
export async function findSmallestEf<T extends TuneTrial>(
  measure: (ef: number) => Promise<T>,
  minEf: number,
  maxEf: number,
  target: number,
): Promise<{ best: T; reached: boolean; trials: T[] }> {
  const tried = new Map<number, T>()
  const at = async (ef: number): Promise<T> => {
    let t = tried.get(ef)
    if (t === undefined) {
      t = await measure(ef)
      tried.set(ef, t)
    }
    return t
  }
  const sorted = (): T[] => [...tried.values()].sort((a, b) => a.efSearch - b.efSearch)

  let fail = 0
  let ok: number | undefined
  for (let ef = minEf; ; ef = Math.min(maxEf, ef * 2)) {
    if ((await at(ef)).recall >= target) {
      ok = ef
      break
    }
    fail = ef
    if (ef >= maxEf) break
  }
  if (ok === undefined) {
    const best = sorted().reduce((a, b) => (b.recall > a.recall ? b : a))
    return { best, reached: false, trials: sorted() }
  }
  // Bisect to a gap of 1/32 of the failing ef (exact below 64): finer than that is below what a finite
  // query set can tell apart, and costs a measurement per halving.
  while (fail > 0 && ok - fail > Math.max(1, Math.floor(fail / 32))) {
    const mid = Math.floor((fail + ok) / 2)
    if ((await at(mid)).recall >= target) ok = mid
    else fail = mid
  }
  return { best: tried.get(ok)!, reached: true, trials: sorted() }
}

/**
 * The search options a setting stands for (a quantised index adds its oversampling factor here).
 *
 * A sampled query searches for k + 1 with the same ef (raised to k + 1 by the search when smaller):
 * it finds itself at distance 0 and so keeps one beam slot busy, which leans the measurement to the
 * safe side of the optimism sampled queries have anyway (see `TuneOptions.queries`).
 */
function searchOptions(setting: TuneSetting): HnswSearchOptions {
  return { ef: setting.efSearch }
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Measures recall against exact search on held-out queries and finds the smallest `efSearch` that
 * meets `targetRecall`; see {@link HnswIndex.tune}, its public face.
 */
export async function tune(index: TuneTarget, options: TuneOptions): Promise<TuneResult> {
  const p = plan(index, options)
  checkAbort(p.signal)
  const previousEfSearch = index.efSearch

  let queries: Float32Array | Uint8Array
  let nq: number
  let self: Float64Array | undefined
  if (p.given !== undefined) {
    queries = p.given.data
    nq = p.given.rows
  } else {
    self = sample(index.keys(), p.sampleSize, p.seed)
    queries = kindOf(index.metric) === 'bits' ? new Uint8Array(p.sampleSize * p.rowLen) : new Float32Array(p.sampleSize * p.rowLen)
    let n = 0
    for (const key of self) {
      const v = index.get(key)
      if (v === undefined) continue
      queries.set(v, n * p.rowLen)
      self[n++] = key
    }
    if (n === 0) throw invalid('ERR_INVALID_ARGUMENT', 'every sampled vector was removed while tuning started')
    self = self.slice(0, n)
    queries = queries.subarray(0, n * p.rowLen)
    nq = n
  }

  const truth = await exactNeighbours(index, queries, nq, p.k, self, p)
  const sampled = self !== undefined
  const kSearch = sampled ? p.k + 1 : p.k
  let measured = 0

  const measure = async (efSearch: number): Promise<TuneTrial> => {
    checkAbort(p.signal)
    const opts = searchOptions({ efSearch })
    const t0 = performance.now()
    const r = await index.searchBatch(queries, kSearch, { ...opts, stats: true })
    const batchMs = performance.now() - t0
    const stats = r.stats
    let distances = 0
    let visited = 0
    if (stats !== undefined) {
      for (let q = 0; q < nq; q++) {
        distances += stats.distances[q]!
        visited += stats.visited[q]!
      }
    }
    // Latency is what one caller waits for one search: timed one query at a time on this thread,
    // yielding to the event loop between queries so other work keeps running.
    const times: number[] = []
    for (let q = 0; q < Math.min(nq, LATENCY_QUERIES); q++) {
      checkAbort(p.signal)
      const row = queries.subarray(q * p.rowLen, (q + 1) * p.rowLen)
      const t = performance.now()
      index.search(row, kSearch, opts)
      times.push(performance.now() - t)
      await yieldToLoop()
    }
    times.sort((a, b) => a - b)
    const trial: TuneTrial = {
      efSearch,
      recall: recallAgainst(r, truth, self),
      distances: distances / nq,
      visited: visited / nq,
      latencyMs: times[Math.floor((times.length - 1) / 2)] ?? 0,
      queriesPerSecond: batchMs > 0 ? (nq * 1000) / batchMs : Infinity,
    }
    p.onProgress?.({ phase: 'trial', done: ++measured, trial })
    return trial
  }

  const { best, reached, trials } = await findSmallestEf(measure, p.minEf, p.maxEf, p.target)
  checkAbort(p.signal)
  const applied = reached && p.apply
  if (applied) index.efSearch = best.efSearch
  return {
    efSearch: best.efSearch,
    reached,
    recall: best.recall,
    targetRecall: p.target,
    k: p.k,
    queries: nq,
    ...(self === undefined ? {} : { sampleKeys: self }),
    applied,
    previousEfSearch,
    trials,
  }
}

/**
 * A tuning result as a plain-text table (one row per setting, the chosen one marked `*`) followed by
 * the recommendation, as `ferrovec tune` prints it.
 */
export function formatTuneReport(result: TuneResult): string {
  const head = ['', 'efSearch', `recall@${result.k}`, 'dist/query', 'visited/query', 'latency ms', 'queries/s']
  const rows = result.trials.map((t) => [
    t.efSearch === result.efSearch ? '*' : '',
    String(t.efSearch),
    t.recall.toFixed(4),
    t.distances.toFixed(0),
    t.visited.toFixed(0),
    t.latencyMs < 1 ? t.latencyMs.toFixed(3) : t.latencyMs.toFixed(2),
    Number.isFinite(t.queriesPerSecond) ? Math.round(t.queriesPerSecond).toString() : '-',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()
  const source = result.sampleKeys === undefined ? `${result.queries} given queries` : `${result.queries} queries sampled from the index`
  const verdict = result.reached
    ? `efSearch ${result.efSearch}: recall@${result.k} ${result.recall.toFixed(4)} ≥ target ${result.targetRecall} (${source})` +
      (result.applied ? `; efSearch set (was ${result.previousEfSearch})` : `; efSearch left at ${result.previousEfSearch}`)
    : `target recall@${result.k} ${result.targetRecall} not reached up to efSearch ${Math.max(...result.trials.map((t) => t.efSearch))} ` +
      `(${source}); best: efSearch ${result.efSearch} with recall ${result.recall.toFixed(4)}; efSearch left at ${result.previousEfSearch}`
  const note =
    result.sampleKeys === undefined
      ? []
      : ['note: queries taken from the index are easier than new ones (the graph links them to their neighbours); pass real queries for a faithful estimate']
  return [line(head), ...rows.map(line), '', verdict, ...note, ''].join('\n')
}
