import { awaitNative, callNative, invalid } from './errors.js'
import { expectations, openArgs, quantizationInfo, quantOptions, toPath, trainingSample } from './flat.js'
import type {
  AddOptions,
  BatchSearchResult,
  LoadOptions,
  MemoryUsage,
  QuantizationInfo,
  QuantizationOptions,
  SearchOptions,
  SearchResult,
} from './flat.js'
import { checkMetric, kindOf, type InputOf, type Metric, type VectorOf } from './metric.js'
import { native, type NativeHnswIndex } from './native.js'
import { tune, type TuneOptions, type TuneResult } from './tune.js'
import { INTO_MAX_K, searchInto, toAllowList, toBytesArg, toK, toKey, toKeyedRows, toRow, toRows, type Key, type KeysLike } from './vectors.js'

/**
 * Options of {@link HnswIndex}. The quantisation options ({@link QuantizationOptions}) are the flat
 * index's: with `quantization` set, the graph walks (search and insert) score on codes and searches
 * rescore the best `k × oversample` candidates with the originals.
 */
export interface HnswIndexOptions<M extends Metric = Metric> extends QuantizationOptions {
  /** Dimensions of every vector (bits for `hamming`, a multiple of 8). */
  dim: number
  /** Distance measure; default `'cosine'`. */
  metric?: M
  /** Links per node on the upper levels (level 0 keeps `2 * m`); default 16. */
  m?: number
  /** Beam width while building; default 200. Higher builds slower and a little better. */
  efConstruction?: number
  /**
   * Default beam width of searches; default 64 (recall@10 ≥ 0.97 measured on SciFact USE-512 and
   * Fashion-MNIST). Raise it for recall, lower it for speed; a search may pass its own `ef`.
   */
  efSearch?: number
  /** Seed of the level sampling (and of quantiser training); default 0. */
  seed?: number
  /** Nodes to allocate room for up front; the index grows past it automatically. Default 1024. */
  capacity?: number
  /**
   * Threads that link a batch: 0 (default) uses every core; 1 links in order on one thread, so a
   * build with a fixed `seed` is bit-for-bit reproducible.
   */
  buildThreads?: number
}

/** Progress of a batch insert. */
export interface BuildProgress {
  done: number
  total: number
}

/** Options of the HNSW add methods. */
export interface HnswAddOptions extends AddOptions {
  /**
   * Called on the JS thread while a batch links: `done` rises to `total`, and the last call (before
   * the promise resolves, or before the sync call returns) is always `{ done: total, total }`.
   */
  onProgress?: (progress: BuildProgress) => void
}

/** Options of the HNSW search methods. */
export interface HnswSearchOptions extends SearchOptions {
  /** Beam width for this call (raised to at least `k`); default {@link HnswIndex.efSearch}. */
  ef?: number
  /** Also report what each search cost ({@link SearchStats}). */
  stats?: boolean
}

/** What one search cost: measure tuning without a clock. */
export interface SearchStats {
  /** Distance computations. */
  distances: number
  /** Graph nodes whose neighbour list was read. */
  visited: number
  /** True when the query was answered by exact search over the allowed keys (small filters). */
  exact: boolean
}

/** Per-query costs of a batch: query `i` at index `i`. */
export interface BatchSearchStats {
  distances: Float64Array
  visited: Float64Array
  /** 1 where the query was answered exactly, else 0. */
  exact: Uint8Array
}

/** Results of one HNSW query, nearest first. */
export interface HnswSearchResult extends SearchResult {
  /** Present when `stats: true` was passed. */
  stats?: SearchStats
}

/** Results of a batch of HNSW queries (layout as {@link BatchSearchResult}). */
export interface HnswBatchSearchResult extends BatchSearchResult {
  /** Present when `stats: true` was passed. */
  stats?: BatchSearchStats
}

/**
 * Bytes held by an HNSW index. For a quantised index `vectors` is `codes + originals`, as on the
 * flat index.
 */
export interface HnswMemoryUsage extends MemoryUsage {
  /** Neighbour lists, levels, tombstones and search scratch. */
  graph: number
  /**
   * Bytes of vectors served from the file mapping of a read-only index (0 otherwise). The OS page
   * cache holds them, not the process heap, so they are not part of `total`.
   */
  mapped: number
}

/** Options of {@link HnswIndex.open}: what the file must hold, and how to open it. */
export interface HnswOpenOptions<M extends Metric = Metric> extends LoadOptions<M> {
  /**
   * Default `true`: map the file and serve searches with the vectors read straight from it (only the
   * graph and keys are copied into memory); every write throws `ERR_READ_ONLY`. `false` reads the
   * whole file into memory, as {@link HnswIndex.load}.
   */
  readOnly?: boolean
}

/** The parameters an index was built with (and its current `efSearch`). */
export interface HnswParams {
  dim: number
  metric: Metric
  m: number
  efConstruction: number
  efSearch: number
  seed: number
  buildThreads: number
}

function optInt(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= 0xffffffff) return value
  throw invalid('ERR_INVALID_ARGUMENT', `${name} must be an integer ≥ ${min}, got ${String(value)}`)
}

/**
 * Approximate nearest-neighbour search over an HNSW graph, with the same input, key, result and
 * error conventions as {@link FlatIndex}: switching between them is one word.
 *
 * Batch inserts run off the JS thread across all cores, and searches (sync or async), `has`, `get`
 * and `remove` keep working while one is in flight. Other writes (`add`, `addBatchSync`,
 * `compactSync`) wait for it to finish, so prefer the async forms while a batch is running. A key is
 * visible to `has`/`get` as soon as its batch starts, and to searches once it is linked. `remove`
 * leaves a tombstone (never returned, not counted in `size`) that {@link compact} reclaims.
 *
 * With `metric: 'dot'`, store normalised vectors (then it equals cosine): an inner product is not a
 * distance, and graph search on unnormalised vectors can miss neighbours (as in every HNSW library).
 *
 * @example
 * const index = new HnswIndex({ dim: 384, metric: 'cosine' })
 * await index.addBatch(ids, vectors, { onProgress: ({ done, total }) => console.log(done, total) })
 * const { keys, distances } = index.search(query, 10, { ef: 128 })
 */
export class HnswIndex<M extends Metric = 'cosine'> {
  readonly #inner: NativeHnswIndex
  readonly #kind: 'f32' | 'bits'
  readonly #rowLen: number

  constructor(options: HnswIndexOptions<M>) {
    // A loaded native index is handed over through `adopting` (see `#adopt`), as in FlatIndex.
    const handle = adopting
    adopting = undefined
    if (handle !== undefined) {
      this.#inner = handle
      this.#kind = kindOf(checkMetric(handle.metric))
      this.#rowLen = this.#kind === 'bits' ? handle.dim / 8 : handle.dim
      return
    }
    if (typeof options !== 'object' || options === null) {
      throw invalid('ERR_INVALID_ARGUMENT', 'HnswIndex needs an options object such as { dim: 384, metric: "cosine" }')
    }
    const metric = checkMetric(options.metric ?? 'cosine')
    const dim = options.dim
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) {
      throw invalid('ERR_INVALID_ARGUMENT', `dim must be a positive integer, got ${String(dim)}`)
    }
    const seed = options.seed
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)) {
      throw invalid('ERR_INVALID_ARGUMENT', `seed must be a non-negative safe integer, got ${String(seed)}`)
    }
    const nativeOptions = {
      m: optInt(options.m, 'm', 2),
      efConstruction: optInt(options.efConstruction, 'efConstruction', 1),
      efSearch: optInt(options.efSearch, 'efSearch', 1),
      seed,
      capacity: optInt(options.capacity, 'capacity', 0),
      buildThreads: optInt(options.buildThreads, 'buildThreads', 0),
      quantization: quantOptions(options),
    }
    this.#inner = callNative(() => new native.NativeHnswIndex(dim, metric, nativeOptions))
    this.#kind = kindOf(metric)
    this.#rowLen = this.#kind === 'bits' ? dim / 8 : dim
  }

  static #adopt<M extends Metric>(inner: NativeHnswIndex): HnswIndex<M> {
    adopting = inner
    try {
      return new HnswIndex<M>({ dim: inner.dim, metric: inner.metric as M })
    } finally {
      adopting = undefined
    }
  }

  /**
   * Loads an index written by {@link save} (or {@link saveSync}) into memory, off the JS thread. The
   * whole file is validated first: checksums, sizes, keys, values, and every graph invariant searches
   * rely on (neighbour ids, list lengths, levels, entry point); with `options`, its `dim` and `metric`
   * too. The loaded index is writable and keeps its `efSearch`.
   *
   * @throws {CorruptFileError} `ERR_CORRUPT_FILE` for a damaged, truncated or foreign file.
   * @throws {UnsupportedVersionError} `ERR_UNSUPPORTED_VERSION` for a file from a newer format.
   * @throws {IoError} `ERR_IO` when the file cannot be read.
   * @throws {InvalidInputError} `ERR_DIMENSION_MISMATCH` / `ERR_INVALID_ARGUMENT` when it is not what
   *   `options` expects, or is not an HNSW file (a `FlatIndex` file, say).
   */
  static async load<M extends Metric = Metric>(path: string | URL, options?: LoadOptions<M>): Promise<HnswIndex<M>> {
    const p = toPath(path)
    const [dim, metric] = expectations(options)
    return HnswIndex.#adopt<M>(await awaitNative(native.NativeHnswIndex.open(p, dim, metric, false)))
  }

  /** {@link load} on the calling thread. */
  static loadSync<M extends Metric = Metric>(path: string | URL, options?: LoadOptions<M>): HnswIndex<M> {
    const p = toPath(path)
    const [dim, metric] = expectations(options)
    return HnswIndex.#adopt<M>(callNative(() => native.NativeHnswIndex.openSync(p, dim, metric, false)))
  }

  /**
   * Opens an index file read-only (the default, `readOnly: true`), off the JS thread: the file is
   * memory-mapped and validated like {@link load}, the graph and keys are copied into memory, and
   * searches read the vectors straight from the mapping, so a large index opens without holding a
   * second copy of its vectors. Every write (`add`, `addBatch`, `remove`, `compact`) throws a
   * {@link ReadOnlyError} (`ERR_READ_ONLY`); `save` writes a copy.
   *
   * Do not truncate or rewrite the file in place while it is open (another program could): reading a
   * vanished page of a mapping kills the process with SIGBUS. Replacing the file by rename, as every
   * ferrovec `save` does, is safe: the open index keeps reading the old file. Use {@link load} when
   * the file may be changed in place.
   */
  static async open<M extends Metric = Metric>(path: string | URL, options?: HnswOpenOptions<M>): Promise<HnswIndex<M>> {
    const [p, dim, metric, ro] = openArgs(path, options)
    return HnswIndex.#adopt<M>(await awaitNative(native.NativeHnswIndex.open(p, dim, metric, ro)))
  }

  /** {@link open} on the calling thread. */
  static openSync<M extends Metric = Metric>(path: string | URL, options?: HnswOpenOptions<M>): HnswIndex<M> {
    const [p, dim, metric, ro] = openArgs(path, options)
    return HnswIndex.#adopt<M>(callNative(() => native.NativeHnswIndex.openSync(p, dim, metric, ro)))
  }

  /** An index from bytes made by {@link toBuffer} (or read from a saved file), validated like {@link load}. */
  static fromBuffer<M extends Metric = Metric>(bytes: Uint8Array | ArrayBuffer, options?: LoadOptions<M>): HnswIndex<M> {
    const buf = toBytesArg(bytes)
    const [dim, metric] = expectations(options)
    return HnswIndex.#adopt<M>(callNative(() => native.NativeHnswIndex.fromBuffer(buf, dim, metric)))
  }

  /**
   * Saves the index to `path` (graph, keys, tombstones, vectors and the current `efSearch`), off the
   * JS thread. The file is written beside `path` under a temporary name, flushed to disk and renamed
   * over `path`: a crash or kill mid-save leaves the previous file as it was. A save started while an
   * `addBatch` is in flight waits for the batch and writes it whole; searches keep running.
   *
   * @throws {IoError} `ERR_IO` when the file cannot be written (the previous file is untouched).
   */
  async save(path: string | URL): Promise<void> {
    const p = toPath(path)
    await awaitNative(this.#inner.save(p))
  }

  /** {@link save} on the calling thread. */
  saveSync(path: string | URL): void {
    const p = toPath(path)
    callNative(() => this.#inner.saveSync(p))
  }

  /** The index in ferrovec's file format (the bytes {@link save} writes). */
  toBuffer(): Buffer {
    return callNative(() => this.#inner.toBuffer())
  }

  /** Whether the index was opened read-only from its file ({@link open}); writes then throw `ERR_READ_ONLY`. */
  get readOnly(): boolean {
    return this.#inner.readOnly
  }

  /** Dimensions of every vector. */
  get dim(): number {
    return this.#inner.dim
  }

  /** The distance measure. */
  get metric(): M {
    return this.#inner.metric as M
  }

  /** Number of vectors stored (removed ones not counted). */
  get size(): number {
    return this.#inner.size
  }

  /** Nodes the index has room for before it next grows (it grows by itself). */
  get capacity(): number {
    return this.#inner.capacity
  }

  /** Slots still held by removed vectors; {@link compact} reclaims them. */
  get deletedCount(): number {
    return this.#inner.deletedCount
  }

  /** Default beam width of searches. */
  get efSearch(): number {
    return this.#inner.efSearch
  }

  set efSearch(ef: number) {
    const v = optInt(ef, 'efSearch', 1) ?? 1
    callNative(() => {
      this.#inner.efSearch = v
    })
  }

  /** The construction parameters (and the current `efSearch`). */
  get params(): HnswParams {
    const p = this.#inner.params()
    return { ...p, metric: p.metric as Metric }
  }

  /** The quantisation set-up (and whether it is trained), or `undefined` for an f32 index. */
  get quantization(): QuantizationInfo | undefined {
    return quantizationInfo(this.#inner.quantization)
  }

  /**
   * Trains the quantiser on `sample` (an array of vectors or one flat array of `n * dim` values), off
   * the JS thread, and encodes every vector already added; from then on searches and inserts walk
   * the graph on codes. Runs once per index; needs at least the type's minimum of vectors (32 for
   * `int8`/`binary`, 256 for `pq`).
   *
   * @throws {InvalidInputError} `ERR_INVALID_ARGUMENT` when already trained, on a non-quantised index
   *   or with too few vectors; `ERR_INVALID_VECTOR` / `ERR_DIMENSION_MISMATCH` for bad rows.
   * @throws {ReadOnlyError} `ERR_READ_ONLY` on an index opened read-only.
   */
  async train(sample: InputOf<M> | readonly InputOf<M>[]): Promise<void> {
    const s = trainingSample(this.#kind, this.#rowLen, sample)
    await awaitNative(this.#inner.train(s))
  }

  /** {@link train} on the calling thread. */
  trainSync(sample: InputOf<M> | readonly InputOf<M>[]): void {
    const s = trainingSample(this.#kind, this.#rowLen, sample)
    callNative(() => this.#inner.trainSync(s))
  }

  /** Adds one vector under `key` (or replaces and re-links it, with `{ upsert: true }`). */
  add(key: Key, vector: InputOf<M>, options?: AddOptions): void {
    const keys = Float64Array.of(toKey(key))
    const row = toRow(vector, this.#kind, this.#rowLen)
    callNative(() => this.#inner.addBatchSync(keys, row, options?.upsert === true))
  }

  /**
   * Adds many vectors off the JS thread, linking them in parallel. `vectors` is an array of vectors
   * or one flat array of `keys.length * dim` values. All-or-nothing: one bad row adds nothing.
   */
  async addBatch(keys: KeysLike, vectors: InputOf<M> | readonly InputOf<M>[], options?: HnswAddOptions): Promise<void> {
    const [k, v] = toKeyedRows(keys, vectors, this.#kind, this.#rowLen)
    const progress = progressRelay(options?.onProgress, k.length)
    await awaitNative(this.#inner.addBatch(k, v, options?.upsert === true, progress.native))
    progress.finish()
  }

  /** {@link addBatch} on the calling thread. */
  addBatchSync(keys: KeysLike, vectors: InputOf<M> | readonly InputOf<M>[], options?: HnswAddOptions): void {
    const [k, v] = toKeyedRows(keys, vectors, this.#kind, this.#rowLen)
    const progress = progressRelay(options?.onProgress, k.length)
    callNative(() => this.#inner.addBatchSync(k, v, options?.upsert === true, progress.native))
    progress.finish()
  }

  /** Removes `key`; returns whether it was present. Its slot is reclaimed by {@link compact}. */
  remove(key: Key): boolean {
    const k = toKey(key)
    return callNative(() => this.#inner.remove(k))
  }

  /** Whether `key` is present. */
  has(key: Key): boolean {
    const k = toKey(key)
    return callNative(() => this.#inner.has(k))
  }

  /** A copy of the vector stored under `key`, or `undefined`. */
  get(key: Key): VectorOf<M> | undefined {
    const k = toKey(key)
    return (callNative(() => this.#inner.get(k)) ?? undefined) as VectorOf<M> | undefined
  }

  /** Every key, in insertion order. */
  keys(): Float64Array {
    return this.#inner.keys()
  }

  /** Bytes held natively, by part. */
  memoryUsage(): HnswMemoryUsage {
    return this.#inner.memoryUsage()
  }

  /**
   * Drops removed vectors for good (off the JS thread), repairing the links that went through them;
   * resolves how many slots were reclaimed. Searches keep running meanwhile.
   */
  async compact(): Promise<number> {
    return awaitNative(this.#inner.compact())
  }

  /** {@link compact} on the calling thread. */
  compactSync(): number {
    return callNative(() => this.#inner.compactSync())
  }

  /** The `k` nearest neighbours of `query`, nearest first (ties broken by smaller key). */
  search(query: InputOf<M>, k: number, options?: HnswSearchOptions): HnswSearchResult {
    const q = toRow(query, this.#kind, this.#rowLen, 'query')
    const kk = toK(k)
    const ef = optInt(options?.ef, 'ef', 1)
    const allow = toAllowList(options?.filter, () => this.#inner.keys())
    if (options?.stats === true || kk > INTO_MAX_K) {
      const r = callNative(() => this.#inner.search(q, kk, ef, allow, options?.stats === true))
      return r.stats === undefined || r.stats === null ? { keys: r.keys, distances: r.distances } : r
    }
    return searchInto(kk, (keys, distances) => this.#inner.searchInto(q, kk, ef, allow, keys, distances))
  }

  /**
   * The `k` nearest neighbours of each query, off the JS thread and across all cores. `queries` is an
   * array of vectors or one flat array of `n * dim` values.
   */
  async searchBatch(queries: InputOf<M> | readonly InputOf<M>[], k: number, options?: HnswSearchOptions): Promise<HnswBatchSearchResult> {
    const [q, kk, ef, allow] = this.#queries(queries, k, options)
    return clean(await awaitNative(this.#inner.searchBatch(q, kk, ef, allow, options?.stats === true)))
  }

  /** {@link searchBatch} on the calling thread. */
  searchBatchSync(queries: InputOf<M> | readonly InputOf<M>[], k: number, options?: HnswSearchOptions): HnswBatchSearchResult {
    const [q, kk, ef, allow] = this.#queries(queries, k, options)
    return clean(callNative(() => this.#inner.searchBatchSync(q, kk, ef, allow, options?.stats === true)))
  }

  /**
   * Picks `efSearch` from measurements: recall@k of this index against exact search on held-out
   * queries, at a sequence of settings (doubling from `k`, then bisecting), with the distance
   * computations, visited nodes and latency of each. Resolves the smallest efSearch whose recall meets
   * `targetRecall` and sets it on the index, so the next {@link save} keeps it.
   *
   * Queries are `options.queries` when given (best: a sample of the traffic the index will serve);
   * otherwise `sampleSize` vectors of the index (default 500, seeded), each searched as if its own
   * key were not in the index: the walk neither returns nor expands that node on level 0 (it would
   * otherwise lead straight to the query's neighbours), and the exact neighbours leave it out. The exact neighbours are computed by brute force
   * over the index's vectors in 32 MiB chunks, off the JS thread; that scan (queries × size distances)
   * is usually the largest cost. When no setting up to `maxEf` meets the target, the result says
   * `reached: false` with the best setting found, and the index keeps its `efSearch`.
   *
   * Do not write to the index while it is being tuned: the exact neighbours are a snapshot.
   *
   * @throws {InvalidInputError} `ERR_INVALID_ARGUMENT` for a `targetRecall` outside (0, 1], a bad `k`,
   *   `sampleSize`, `minEf`/`maxEf` or `seed`, an empty index, or `k` (+1 when sampling) above its size;
   *   `ERR_DIMENSION_MISMATCH` / `ERR_INVALID_VECTOR` for bad queries. The index is unchanged.
   * @throws {AbortedError} `ERR_ABORTED` when `options.signal` aborts; the index is unchanged.
   *
   * @example
   * const result = await index.tune({ targetRecall: 0.95, k: 10 })
   * console.log(result.reached, result.efSearch, result.recall) // true 48 0.953
   */
  async tune(options: TuneOptions<M>): Promise<TuneResult> {
    const inner = this.#inner
    return tune(this, options, {
      batch: async (q, exclude, k, ef, stats) => clean(await awaitNative(inner.searchBatchExcluding(q, exclude, k, ef, stats))),
      sync: (q, exclude, k, ef) => clean(callNative(() => inner.searchBatchExcludingSync(q, exclude, k, ef, false))),
    })
  }

  #queries(
    queries: unknown,
    k: number,
    options?: HnswSearchOptions,
  ): [Float32Array | Uint8Array, number, number | undefined, Float64Array | undefined] {
    const { data, rows } = toRows(queries, this.#kind, this.#rowLen)
    if (rows === 0) throw invalid('ERR_INVALID_VECTOR', 'queries is empty: pass at least one query vector')
    return [data, toK(k), optInt(options?.ef, 'ef', 1), toAllowList(options?.filter, () => this.#inner.keys())]
  }
}

/** A native handle on its way into the constructor; set only inside `HnswIndex.#adopt`. */
let adopting: NativeHnswIndex | undefined

function clean(r: HnswBatchSearchResult & { stats?: BatchSearchStats | null }): HnswBatchSearchResult {
  if (r.stats === undefined || r.stats === null) {
    const { keys, distances, counts, k } = r
    return { keys, distances, counts, k }
  }
  return r as HnswBatchSearchResult
}

/**
 * Relays native progress (queued from worker threads, so calls can arrive late or out of order) as
 * a monotonic sequence that always ends with `{ done: total, total }` before the caller continues:
 * `finish()` delivers the final event itself if it has not arrived yet, and anything arriving after
 * that is dropped.
 */
function progressRelay(
  onProgress: ((p: BuildProgress) => void) | undefined,
  total: number,
): { native: ((p: BuildProgress) => void) | undefined; finish: () => void } {
  if (onProgress === undefined) return { native: undefined, finish: () => {} }
  if (typeof onProgress !== 'function') {
    throw invalid('ERR_INVALID_ARGUMENT', `onProgress must be a function, got ${typeof onProgress}`)
  }
  let last = -1
  let finished = false
  let failure: { error: unknown } | undefined
  const deliver = (done: number): void => {
    if (finished || done <= last) return
    last = done
    onProgress({ done, total })
  }
  return {
    // Called by the native queue: a throw here would be an uncaught exception (it has no caller to
    // catch it), so the first one is kept and re-thrown by `finish()` from the awaiting call instead.
    native: (p) => {
      try {
        deliver(p.done)
      } catch (error) {
        failure ??= { error }
      }
    },
    finish: () => {
      if (failure === undefined && last < total) deliver(total)
      finished = true
      if (failure !== undefined) throw failure.error
    },
  }
}
