// `tune()`: choose search parameters from measurements instead of guesses.
//
// The plan, in order, for both kinds of index:
//   1. validate everything (nothing is measured, nothing changes, on bad input);
//   2. pick the queries: given ones, or a seeded sample of the index, each searched as if its own key were not in
//      the index (HNSW: the core's `exclude` search option; quantised flat: see `tuneFlat`);
//   3. exact neighbours of those queries, by brute force in bounded chunks (`exactNeighbours`), without each
//      sampled query's own key;
//   4. walk one integer "setting" axis with `findSmallestSetting` (doubling, then bisection), measuring recall,
//      cost and latency at each setting: efSearch for `HnswIndex.tune` (`tune`), the number of candidates
//      rescored, as a multiple of k (the oversampling factor), for a quantised `FlatIndex.tune` (`tuneFlat`);
//   5. apply the winner to the index when the target is met, so the next `save()` writes it (efSearch is in the
//      HNSW file, oversample in the quantised flat file's options section).
import { performance } from 'node:perf_hooks'

import { AbortedError, invalid, NotTrainedError } from './errors.js'
import { FlatIndex } from './flat.js'
import type { BatchSearchResult, SearchResult } from './flat.js'
import type { HnswBatchSearchResult, HnswSearchOptions, HnswSearchResult } from './hnsw.js'
import { kindOf, type InputOf, type Metric } from './metric.js'
import { toK, toRows } from './vectors.js'

/** Queries drawn from the index when none are given (capped at its size). */
export const DEFAULT_SAMPLE_SIZE = 500
/** Largest efSearch tried unless `maxEf` says otherwise. */
export const DEFAULT_MAX_EF = 4096
/** Largest oversampling factor a quantised FlatIndex tries unless `maxOversample` says otherwise. */
export const DEFAULT_MAX_OVERSAMPLE = 100
/** The core's upper bound on `oversample` (quant/flat.rs `QuantOptions::check`). */
const MAX_OVERSAMPLE = 10_000
/** The core's upper bound on `ef` (hnsw/mod.rs `MAX_EF`). */
const MAX_EF = 1 << 20
/** Queries timed one by one for `latencyMs` (the batch measures everything else). */
const LATENCY_QUERIES = 50
/** Vectors held at once while computing exact neighbours: this many bytes, in JS and again natively. */
const EXACT_CHUNK_BYTES = 32 * 2 ** 20

/** One point of the parameter space {@link HnswIndex.tune} explores. */
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

/** Progress of `tune()`: first the exact search, then one event per setting measured. */
export type TuneProgress<T = TuneTrial> =
  | { phase: 'exact'; /** Vectors of the index scanned so far. */ done: number; total: number }
  | { phase: 'trial'; /** Settings measured so far. */ done: number; trial: T }

/** Options shared by {@link HnswIndex.tune} and {@link FlatIndex.tune}. */
export interface BaseTuneOptions<M extends Metric = Metric, T = TuneTrial> {
  /** Recall@k to reach, in (0, 1]. */
  targetRecall: number
  /** Neighbours per query whose recall is measured; default 10. */
  k?: number
  /**
   * Held-out queries (an array of vectors or one flat array of `n * dim` values), ideally drawn from
   * the traffic the index will serve. Without them, `sampleSize` vectors of the index are used as
   * queries, each searched as if its own key were not in the index (an HNSW walk neither returns
   * nor expands that node; the exact neighbours leave it out too). They are still drawn from the
   * documents, so when real queries differ from the documents (WordNet glosses queried by single
   * words) pass real ones.
   */
  queries?: InputOf<M> | readonly InputOf<M>[]
  /** Vectors of the index to use as queries when `queries` is not given; default `min(500, size)`. */
  sampleSize?: number
  /** Seed of that sample; default 0. */
  seed?: number
  /** Set the chosen setting on the index when the target is reached; default `true`. */
  apply?: boolean
  /**
   * Stops the tuning: the promise rejects with an {@link AbortedError} (`ERR_ABORTED`) at the next
   * step (a batch already running natively finishes first) and the index is left as it was.
   */
  signal?: AbortSignal
  /** Called on the JS thread as the work proceeds; a throw stops the tuning with that error. */
  onProgress?: (progress: TuneProgress<T>) => void
}

/** Options of {@link HnswIndex.tune}. */
export interface TuneOptions<M extends Metric = Metric> extends BaseTuneOptions<M, TuneTrial> {
  /** Smallest efSearch tried; default `k` (searches raise a smaller ef to `k` anyway). */
  minEf?: number
  /** Largest efSearch tried; default 4096. A target not met by then is reported as not reached. */
  maxEf?: number
}

/** What every tune found, whatever setting it searched. */
export interface TuneOutcome {
  /**
   * Whether some setting met the target. Then the chosen setting is the smallest that did;
   * otherwise it is the one with the best recall found (the smallest of equals), not applied.
   */
  reached: boolean
  /** Recall measured at the chosen setting. */
  recall: number
  targetRecall: number
  k: number
  /** Number of queries measured. */
  queries: number
  /** The keys whose vectors served as queries, when they were sampled from the index. */
  sampleKeys?: Float64Array
  /** Whether the setting was applied to the index (so the next `save()` keeps it). */
  applied: boolean
}

/** What {@link HnswIndex.tune} found. */
export interface TuneResult extends TuneSetting, TuneOutcome {
  /** The efSearch the index had before tuning. */
  previousEfSearch: number
  /** Every setting measured, by ascending efSearch. */
  trials: TuneTrial[]
}

/** One oversampling factor a quantised {@link FlatIndex.tune} measured, over all tuning queries. */
export interface FlatTuneTrial {
  /**
   * Candidates rescored with the f32 originals, as a multiple of `k` (the index's `rescore:
   * { oversample }`); 1 means no rescoring (code distances only).
   */
  oversample: number
  /** Mean recall@k against exact f32 search (ties at the k-th distance count as hits when rescored). */
  recall: number
  /** Candidates rescored per query (0 when `oversample` is 1): the exact distance computations. */
  rescored: number
  /** Distance computations per query: every code of the index scanned, plus the rescored candidates. */
  distances: number
  /** Median wall time in milliseconds of one `search()` on the JS thread (first 50 queries). */
  latencyMs: number
  /** Queries per second of the whole query set as one `searchBatch()` (every core). */
  queriesPerSecond: number
}

/** Options of {@link FlatIndex.tune} (quantised indexes). */
export interface FlatTuneOptions<M extends Metric = Metric> extends BaseTuneOptions<M, FlatTuneTrial> {
  /**
   * Largest oversampling factor tried; default 100 (capped where `k × oversample` covers the whole
   * index, which is exact search). A target not met by then is reported as not reached.
   */
  maxOversample?: number
}

/** What {@link FlatIndex.tune} found. */
export interface FlatTuneResult extends TuneOutcome {
  /**
   * The smallest oversampling factor (a multiple of 1/k) whose recall met the target, or when none
   * did, the one with the best recall (the smallest of equals), not applied.
   */
  oversample: number
  /** The oversampling factor the index had before tuning (1: no rescoring). */
  previousOversample: number
  /** Every setting measured, by ascending oversample. */
  trials: FlatTuneTrial[]
}

/** What tuning reads from an index: its vectors (for the exact neighbours and the query sample). */
interface Source {
  readonly dim: number
  readonly metric: Metric
  readonly size: number
  keys(): Float64Array
  get(key: number): Float32Array | Uint8Array | undefined
}

/** The parts of an HnswIndex that tuning uses (structural, so this module needs no import of the class). */
export interface TuneTarget extends Source {
  efSearch: number
  search(query: Float32Array | Uint8Array, k: number, options?: HnswSearchOptions): HnswSearchResult
  searchBatch(queries: Float32Array | Uint8Array, k: number, options?: HnswSearchOptions): Promise<HnswBatchSearchResult>
}

/**
 * Searches in which query `i` is searched as if `exclude[i]` were not in the index (the binding's
 * internal `searchBatchExcluding`, handed over by `HnswIndex.tune`; not part of the public API).
 */
export interface ExcludingSearch {
  batch(queries: Float32Array | Uint8Array, exclude: Float64Array, k: number, ef: number, stats: boolean): Promise<HnswBatchSearchResult>
  sync(queries: Float32Array | Uint8Array, exclude: Float64Array, k: number, ef: number): HnswBatchSearchResult
}

/** The parts of a quantised FlatIndex that tuning uses, plus the native oversample setter. */
export interface FlatTuneTarget extends Source {
  readonly quantization: { trained: boolean; keepOriginals: boolean; oversample: number } | undefined
  search(query: Float32Array | Uint8Array, k: number): SearchResult
  searchBatch(queries: Float32Array | Uint8Array, k: number): Promise<BatchSearchResult>
}

type ExactProgress = { phase: 'exact'; done: number; total: number }

/** What both front ends share of a validated call. */
interface Plan<T> {
  target: number
  k: number
  apply: boolean
  signal: AbortSignal | undefined
  onProgress: ((p: TuneProgress<T>) => void) | undefined
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

/** Validates the options both front ends share; throws before anything is measured or changed. */
function planCommon<T>(index: Source, options: BaseTuneOptions<Metric, T>): Plan<T> {
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

  let given: Plan<T>['given']
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
    // A sampled query is searched as if it were not in the index, so k neighbours need k + 1 vectors.
    if (k > size - 1) {
      throw invalid('ERR_INVALID_ARGUMENT', `k (${k}) needs at least ${k + 1} vectors to sample queries from; the index has ${size} (pass queries instead)`)
    }
  }
  const seed = options.seed === undefined ? 0 : checkInt(options.seed, 'seed', 0, Number.MAX_SAFE_INTEGER)
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
  return { target, k, apply: options.apply ?? true, signal, onProgress, rowLen, given, sampleSize, seed }
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

/** The queries of a plan: the given ones, or a seeded sample of the index with their keys (`self`). */
function pickQueries<T>(index: Source, p: Plan<T>): { queries: Float32Array | Uint8Array; nq: number; self: Float64Array | undefined } {
  if (p.given !== undefined) return { queries: p.given.data, nq: p.given.rows, self: undefined }
  const self = sample(index.keys(), p.sampleSize, p.seed)
  const queries = kindOf(index.metric) === 'bits' ? new Uint8Array(p.sampleSize * p.rowLen) : new Float32Array(p.sampleSize * p.rowLen)
  let n = 0
  for (const key of self) {
    const v = index.get(key)
    if (v === undefined) continue
    queries.set(v, n * p.rowLen)
    self[n++] = key
  }
  if (n === 0) throw invalid('ERR_INVALID_ARGUMENT', 'every sampled vector was removed while tuning started')
  return { queries: queries.subarray(0, n * p.rowLen), nq: n, self: self.slice(0, n) }
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
  index: Source,
  queries: Float32Array | Uint8Array,
  nq: number,
  k: number,
  self: Float64Array | undefined,
  p: { signal: AbortSignal | undefined; onProgress?: ((p: ExactProgress) => void) | undefined },
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
 * is one of the true k, or (with `exactDistances`) when its distance ties the k-th true distance
 * (within a relative 1e-4, so kernels that round differently still agree): with duplicates or integer
 * (hamming) distances, tied neighbours may legitimately come back in any order (ann-benchmarks' rule).
 * Code-only distances of a quantised index are estimates, so there only keys count. `self[q]`, when
 * given, is dropped from query q's results first, then the first k of the rest are scored.
 */
function recallAgainst(r: BatchSearchResult, truth: Truth, self: Float64Array | undefined, exactDistances = true): number {
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
    const limit = exactDistances ? kth + Math.abs(kth) * 1e-4 + 1e-6 : -Infinity
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
 * The smallest value in `[min, max]` of an integer setting (efSearch, candidates rescored) whose
 * measured recall meets `target`: measure `min`, double until a setting meets the target (or `max` is
 * reached), then bisect between the last failure and the first success until they are 1 apart (below
 * 64) or 1/32 of the value apart (above): at most log2(max / min) + 2 measurements to bracket it and 6
 * to narrow it. Both `tune()`s walk their axis with it; `measure(v)` measures setting `v`.
 *
 * Recall is not strictly monotone in the setting (a wider beam can wander differently, and a finite
 * query set adds noise). The search never returns a value below a measured failure: every value it
 * returns met the target, and every value it measured above it did too, so a dip can only make it stop
 * higher, never pick a lucky small one above which recall falls short. When nothing meets the target,
 * the best recall measured is returned (the smallest value among equals) with `reached: false`.
 * `trials` are in ascending order of the setting.
 */
export async function findSmallestSetting<T extends { recall: number }>(
  measure: (value: number) => Promise<T>,
  min: number,
  max: number,
  target: number,
): Promise<{ best: T; value: number; reached: boolean; trials: T[] }> {
  const tried = new Map<number, T>()
  const at = async (v: number): Promise<T> => {
    let t = tried.get(v)
    if (t === undefined) {
      t = await measure(v)
      tried.set(v, t)
    }
    return t
  }
  const sorted = (): T[] => [...tried.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])

  let fail = 0
  let ok: number | undefined
  for (let v = min; ; v = Math.min(max, v * 2)) {
    if ((await at(v)).recall >= target) {
      ok = v
      break
    }
    fail = v
    if (v >= max) break
  }
  if (ok === undefined) {
    let value = min
    for (const [v, t] of [...tried.entries()].sort((a, b) => a[0] - b[0])) if (t.recall > tried.get(value)!.recall) value = v
    return { best: tried.get(value)!, value, reached: false, trials: sorted() }
  }
  // Bisect to a gap of 1/32 of the failing value (exact below 64): finer than that is below what a
  // finite query set can tell apart, and costs a measurement per halving.
  while (fail > 0 && ok - fail > Math.max(1, Math.floor(fail / 32))) {
    const mid = Math.floor((fail + ok) / 2)
    if ((await at(mid)).recall >= target) ok = mid
    else fail = mid
  }
  return { best: tried.get(ok)!, value: ok, reached: true, trials: sorted() }
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Median wall time in milliseconds of `one(q)` over the first {@link LATENCY_QUERIES} queries: what
 * one caller waits for one search, timed one query at a time on this thread, yielding to the event
 * loop between queries so other work keeps running.
 */
async function medianLatency(nq: number, signal: AbortSignal | undefined, one: (q: number) => void): Promise<number> {
  const times: number[] = []
  for (let q = 0; q < Math.min(nq, LATENCY_QUERIES); q++) {
    checkAbort(signal)
    const t = performance.now()
    one(q)
    times.push(performance.now() - t)
    await yieldToLoop()
  }
  times.sort((a, b) => a - b)
  return times[Math.floor((times.length - 1) / 2)] ?? 0
}

/**
 * Measures recall against exact search on held-out queries and finds the smallest `efSearch` that
 * meets `targetRecall`; see {@link HnswIndex.tune}, its public face. Sampled queries are searched
 * through `excluding`, as if their own node were not in the graph.
 */
export async function tune(index: TuneTarget, options: TuneOptions, excluding: ExcludingSearch): Promise<TuneResult> {
  const p = planCommon<TuneTrial>(index, options)
  const k = p.k
  const maxEf = options.maxEf === undefined ? Math.max(DEFAULT_MAX_EF, k) : checkInt(options.maxEf, 'maxEf', 1, MAX_EF)
  // Searches raise ef to k, so settings below k would all measure the same thing.
  const minEf = Math.max(k, options.minEf === undefined ? k : checkInt(options.minEf, 'minEf', 1, MAX_EF))
  if (minEf > maxEf) throw invalid('ERR_INVALID_ARGUMENT', `minEf (${minEf}, at least k) is larger than maxEf (${maxEf})`)
  checkAbort(p.signal)
  const previousEfSearch = index.efSearch

  const { queries, nq, self } = pickQueries(index, p)
  const truth = await exactNeighbours(index, queries, nq, k, self, p)
  let measured = 0

  const measure = async (efSearch: number): Promise<TuneTrial> => {
    checkAbort(p.signal)
    const t0 = performance.now()
    const r =
      self === undefined
        ? await index.searchBatch(queries, k, { ef: efSearch, stats: true })
        : await excluding.batch(queries, self, k, efSearch, true)
    const batchMs = performance.now() - t0
    let distances = 0
    let visited = 0
    if (r.stats !== undefined && r.stats !== null) {
      for (let q = 0; q < nq; q++) {
        distances += r.stats.distances[q]!
        visited += r.stats.visited[q]!
      }
    }
    const row = (q: number) => queries.subarray(q * p.rowLen, (q + 1) * p.rowLen)
    const latencyMs = await medianLatency(nq, p.signal, (q) =>
      self === undefined ? index.search(row(q), k, { ef: efSearch }) : excluding.sync(row(q), self.subarray(q, q + 1), k, efSearch),
    )
    const trial: TuneTrial = {
      efSearch,
      recall: recallAgainst(r, truth, undefined),
      distances: distances / nq,
      visited: visited / nq,
      latencyMs,
      queriesPerSecond: batchMs > 0 ? (nq * 1000) / batchMs : Infinity,
    }
    p.onProgress?.({ phase: 'trial', done: ++measured, trial })
    return trial
  }

  const { best, reached, trials } = await findSmallestSetting(measure, minEf, maxEf, p.target)
  checkAbort(p.signal)
  const applied = reached && p.apply
  if (applied) index.efSearch = best.efSearch
  return {
    efSearch: best.efSearch,
    reached,
    recall: best.recall,
    targetRecall: p.target,
    k,
    queries: nq,
    ...(self === undefined ? {} : { sampleKeys: self }),
    applied,
    previousEfSearch,
    trials,
  }
}

/** The candidate count a quantised FlatIndex scans for `k` results at `oversample` (quant/flat.rs `candidates_for`). */
function candidatesFor(k: number, oversample: number): number {
  const os = Math.fround(oversample)
  return os > 1 ? Math.max(k, Math.ceil(k * os)) : k
}

/**
 * The factor that makes the core keep exactly `c` candidates for `k` results: `c / k` as the core
 * stores it (f32), one step down when rounding up to f32 would tip `⌈k × factor⌉` to `c + 1` (9.3
 * is 9.30000019 in f32, and ⌈10 × 9.30000019⌉ = 94); 1 (no rescoring) at `c = k`.
 */
function factorFor(c: number, k: number): number {
  if (c <= k) return 1
  let f = Math.fround(c / k)
  if (Math.ceil(k * f) > c) {
    const bits = new Float32Array([f])
    new Uint32Array(bits.buffer)[0]! -= 1
    f = bits[0]!
  }
  return f
}

/**
 * Finds the smallest oversampling factor of a quantised FlatIndex that meets `targetRecall` against
 * exact f32 search; see {@link FlatIndex.tune}, its public face.
 *
 * The axis is the number of candidates `c` the scan keeps for `k` results (from `k`, which is no
 * rescoring, up to the whole index, which is exact search); the factor is `c / k`. Each setting is
 * measured by setting it on the index (`setOversample`) and searching; the original factor is put
 * back afterwards unless the winner is applied.
 *
 * Sampled queries and "as if removed": the scan has no graph to ride, so the only advantage a query's
 * own row gives it is taking one candidate slot and one result. Each sampled query therefore searches
 * for k + 1 with one candidate more than the setting's `c` (factor `(c + ½) / (k + 1)`, which the
 * core rounds up to exactly `c + 1`), and its own key is dropped from the results: the other c
 * candidates are the ones the query would get with its row removed. (If the query's own code does not
 * score among its best c + 1, which lossy codes allow, it gets one extra candidate: at most 1/c
 * optimistic.)
 */
export async function tuneFlat(index: FlatTuneTarget, options: FlatTuneOptions, setOversample: (x: number) => void): Promise<FlatTuneResult> {
  const quant = index.quantization
  if (quant === undefined) {
    throw invalid('ERR_INVALID_ARGUMENT', 'tune() on a FlatIndex tunes the rescoring of quantised codes; this index is exact (no quantization): nothing to tune')
  }
  const p = planCommon<FlatTuneTrial>(index, options)
  if (!quant.keepOriginals) {
    throw invalid('ERR_INVALID_ARGUMENT', 'tune() needs the f32 originals (keepOriginals: true): they are the exact truth and what rescoring reads')
  }
  if (!quant.trained) throw new NotTrainedError('tune() needs a trained quantiser: train() it or add more vectors first')
  const k = p.k
  const maxOversample =
    options.maxOversample === undefined
      ? DEFAULT_MAX_OVERSAMPLE
      : finite(options.maxOversample, 'maxOversample', (x) => x >= 1 && x <= MAX_OVERSAMPLE, `a number in [1, ${MAX_OVERSAMPLE}]`)
  const size = index.size
  const maxC = Math.max(k, Math.min(size, Math.floor(k * maxOversample)))
  checkAbort(p.signal)
  const previousOversample = quant.oversample

  const { queries, nq, self } = pickQueries(index, p)
  const truth = await exactNeighbours(index, queries, nq, k, self, p)
  let measured = 0

  const run = async (c: number): Promise<FlatTuneTrial> => {
    checkAbort(p.signal)
    const os = factorFor(c, k)
    const eff = Math.min(size, candidatesFor(k, os))
    const rescoring = os > 1
    // See the doc comment: a sampled query asks for k + 1 results with exactly eff + 1 candidates.
    setOversample(self === undefined ? os : rescoring ? (eff + 0.5) / (k + 1) : 1)
    const kSearch = self === undefined ? k : k + 1
    const t0 = performance.now()
    const r = await index.searchBatch(queries, kSearch)
    const batchMs = performance.now() - t0
    const latencyMs = await medianLatency(nq, p.signal, (q) => index.search(queries.subarray(q * p.rowLen, (q + 1) * p.rowLen), kSearch))
    const rescored = rescoring ? eff : 0
    const trial: FlatTuneTrial = {
      oversample: os,
      recall: recallAgainst(r, truth, self, rescoring),
      rescored,
      distances: size + rescored,
      latencyMs,
      queriesPerSecond: batchMs > 0 ? (nq * 1000) / batchMs : Infinity,
    }
    p.onProgress?.({ phase: 'trial', done: ++measured, trial })
    return trial
  }

  let outcome: { best: FlatTuneTrial; reached: boolean; trials: FlatTuneTrial[] }
  let applied = false
  try {
    outcome = await findSmallestSetting(run, k, maxC, p.target)
    checkAbort(p.signal)
    applied = outcome.reached && p.apply
  } finally {
    // The trials changed the index's factor: the winner stays only when applied, else the original
    // comes back (also after an abort or a throwing callback).
    setOversample(applied ? outcome!.best.oversample : previousOversample)
  }
  const { best, reached, trials } = outcome
  return {
    oversample: best.oversample,
    reached,
    recall: best.recall,
    targetRecall: p.target,
    k,
    queries: nq,
    ...(self === undefined ? {} : { sampleKeys: self }),
    applied,
    previousOversample,
    trials,
  }
}

function finite(value: unknown, name: string, check: (x: number) => boolean, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && check(value)) return value
  throw invalid('ERR_INVALID_ARGUMENT', `${name} must be ${what}, got ${String(value)}`)
}

/** A factor for people: at most 3 decimals (tells 1/k steps apart up to k = 1000), no trailing zeros. */
function showFactor(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(3).replace(/\.?0+$/, '')
}

/**
 * A tuning result as a plain-text table (one row per setting, the chosen one marked `*`) followed by
 * the recommendation, as `ferrovec tune` prints it. Takes the result of either index's `tune()`.
 */
export function formatTuneReport(result: TuneResult | FlatTuneResult): string {
  const ms = (x: number): string => (x < 1 ? x.toFixed(3) : x.toFixed(2))
  const qps = (x: number): string => (Number.isFinite(x) ? Math.round(x).toString() : '-')
  const hnsw = 'efSearch' in result
  const name = hnsw ? 'efSearch' : 'oversample'
  const chosen = hnsw ? String(result.efSearch) : showFactor(result.oversample)
  const previous = hnsw ? String(result.previousEfSearch) : showFactor(result.previousOversample)
  const head = hnsw
    ? ['', 'efSearch', `recall@${result.k}`, 'dist/query', 'visited/query', 'latency ms', 'queries/s']
    : ['', 'oversample', `recall@${result.k}`, 'rescored/query', 'dist/query', 'latency ms', 'queries/s']
  const rows = hnsw
    ? result.trials.map((t) => [
        t.efSearch === result.efSearch ? '*' : '',
        String(t.efSearch),
        t.recall.toFixed(4),
        t.distances.toFixed(0),
        t.visited.toFixed(0),
        ms(t.latencyMs),
        qps(t.queriesPerSecond),
      ])
    : result.trials.map((t) => [
        t.oversample === result.oversample ? '*' : '',
        showFactor(t.oversample),
        t.recall.toFixed(4),
        t.rescored.toFixed(0),
        t.distances.toFixed(0),
        ms(t.latencyMs),
        qps(t.queriesPerSecond),
      ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()
  const source = result.sampleKeys === undefined ? `${result.queries} given queries` : `${result.queries} queries sampled from the index`
  const largest = hnsw
    ? String(Math.max(...result.trials.map((t) => t.efSearch)))
    : showFactor(Math.max(...result.trials.map((t) => t.oversample)))
  const verdict = result.reached
    ? `${name} ${chosen}: recall@${result.k} ${result.recall.toFixed(4)} ≥ target ${result.targetRecall} (${source})` +
      (result.applied ? `; ${name} set (was ${previous})` : `; ${name} left at ${previous}`)
    : `target recall@${result.k} ${result.targetRecall} not reached up to ${name} ${largest} ` +
      `(${source}); best: ${name} ${chosen} with recall ${result.recall.toFixed(4)}; ${name} left at ${previous}`
  const note =
    result.sampleKeys === undefined
      ? []
      : ['note: queries sampled from the index (each searched as if removed) follow the documents, not your traffic; pass real queries for a faithful estimate']
  return [line(head), ...rows.map(line), '', verdict, ...note, ''].join('\n')
}
