import { fileURLToPath } from 'node:url'

import { awaitNative, callNative, invalid } from './errors.js'
import { checkMetric, kindOf, type InputOf, type Metric, type VectorOf } from './metric.js'
import { native, type NativeFlatIndex } from './native.js'
import { toAllowList, toBytesArg, toK, toKey, toKeyedRows, toRow, toRows, type Key, type KeyFilter, type KeysLike } from './vectors.js'

/** Options of {@link FlatIndex}. */
export interface FlatIndexOptions<M extends Metric = Metric> {
  /** Dimensions of every vector (bits for `hamming`, a multiple of 8). */
  dim: number
  /** Distance measure; default `'cosine'`. */
  metric?: M
}

/**
 * What a loaded index must be. A file holding something else is refused before its vectors are read:
 * another `dim` throws `ERR_DIMENSION_MISMATCH`, another `metric` `ERR_INVALID_ARGUMENT`.
 */
export interface LoadOptions<M extends Metric = Metric> {
  dim?: number
  metric?: M
}

/** Options of the add methods. */
export interface AddOptions {
  /** Replace the vector of a key that is already present instead of throwing `ERR_DUPLICATE_KEY`. */
  upsert?: boolean
}

/** Options of the search methods. */
export interface SearchOptions {
  /**
   * Restricts results to some keys: a `Set`, array or typed array of allowed keys (keys not in the
   * index are ignored), or a predicate called once per key in the index. A predicate that throws makes
   * the search throw (or reject) with that error.
   */
  filter?: KeyFilter
}

/** Results of one query, nearest first. */
export interface SearchResult {
  /** Keys of the neighbours (exact integers). */
  keys: Float64Array
  /** Their distances to the query (smaller is closer), in the same order. */
  distances: Float32Array
}

/**
 * Results of a batch of queries, flat. Query `i`'s neighbours are at `i * k … i * k + counts[i] − 1`,
 * nearest first; slots past `counts[i]` (only when fewer than `k` candidates matched) hold key −1 and
 * distance `Infinity`.
 */
export interface BatchSearchResult extends SearchResult {
  /** Neighbours found per query. */
  counts: Uint32Array
  /** Slots per query: the requested `k`, capped at the number of candidates. */
  k: number
}

/** Bytes held by an index. */
export interface MemoryUsage {
  vectors: number
  keys: number
  total: number
}

/**
 * Exact (brute-force) nearest-neighbour search over SIMD kernels.
 *
 * Vectors are copied into native memory; keys are non-negative integers up to
 * `Number.MAX_SAFE_INTEGER` (numbers or bigints). Every method validates its input and, on error,
 * throws a {@link FerrovecError} and leaves the index exactly as it was.
 *
 * @example
 * const index = new FlatIndex({ dim: 3, metric: 'cosine' })
 * index.add(1, [0.1, 0.2, 0.3])
 * await index.addBatch([2, 3], [[0.3, 0.2, 0.1], [0.0, 0.1, 0.0]])
 * const { keys, distances } = index.search([0.1, 0.2, 0.25], 2)
 */
export class FlatIndex<M extends Metric = 'cosine'> {
  readonly #inner: NativeFlatIndex
  readonly #kind: 'f32' | 'bits'
  readonly #rowLen: number

  constructor(options: FlatIndexOptions<M>) {
    // A loaded native index is handed over through `adopting` (see `#adopt`), so the public
    // signature stays `new FlatIndex(options)` and nothing outside this module can pass a handle.
    const handle = adopting
    adopting = undefined
    if (handle !== undefined) {
      this.#inner = handle
      this.#kind = kindOf(checkMetric(handle.metric))
      this.#rowLen = this.#kind === 'bits' ? handle.dim / 8 : handle.dim
      return
    }
    if (typeof options !== 'object' || options === null) {
      throw invalid('ERR_INVALID_ARGUMENT', 'FlatIndex needs an options object such as { dim: 384, metric: "cosine" }')
    }
    const metric = checkMetric(options.metric ?? 'cosine')
    const dim = options.dim
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) {
      throw invalid('ERR_INVALID_ARGUMENT', `dim must be a positive integer, got ${String(dim)}`)
    }
    this.#inner = callNative(() => new native.NativeFlatIndex(dim, metric))
    this.#kind = kindOf(metric)
    this.#rowLen = this.#kind === 'bits' ? dim / 8 : dim
  }

  static #adopt<M extends Metric>(inner: NativeFlatIndex): FlatIndex<M> {
    adopting = inner
    try {
      return new FlatIndex<M>({ dim: inner.dim, metric: inner.metric as M })
    } finally {
      adopting = undefined
    }
  }

  /**
   * Loads an index written by {@link save} (or {@link saveSync}), off the JS thread. The whole file is
   * validated first (checksums, sizes, keys, values); with `options`, so are its `dim` and `metric`.
   *
   * @throws {CorruptFileError} `ERR_CORRUPT_FILE` for a damaged, truncated or foreign file.
   * @throws {UnsupportedVersionError} `ERR_UNSUPPORTED_VERSION` for a file from a newer format.
   * @throws {IoError} `ERR_IO` when the file cannot be read.
   * @throws {InvalidInputError} `ERR_DIMENSION_MISMATCH` / `ERR_INVALID_ARGUMENT` when it is not what `options` expects.
   */
  static async load<M extends Metric = Metric>(path: string | URL, options?: LoadOptions<M>): Promise<FlatIndex<M>> {
    const p = toPath(path)
    const [dim, metric] = expectations(options)
    const inner = await awaitNative(native.NativeFlatIndex.load(p, dim, metric))
    return FlatIndex.#adopt<M>(inner)
  }

  /** {@link load} on the calling thread. */
  static loadSync<M extends Metric = Metric>(path: string | URL, options?: LoadOptions<M>): FlatIndex<M> {
    const p = toPath(path)
    const [dim, metric] = expectations(options)
    return FlatIndex.#adopt<M>(callNative(() => native.NativeFlatIndex.loadSync(p, dim, metric)))
  }

  /** An index from bytes made by {@link toBuffer} (or read from a saved file), validated like {@link load}. */
  static fromBuffer<M extends Metric = Metric>(bytes: Uint8Array | ArrayBuffer, options?: LoadOptions<M>): FlatIndex<M> {
    const buf = toBytesArg(bytes)
    const [dim, metric] = expectations(options)
    return FlatIndex.#adopt<M>(callNative(() => native.NativeFlatIndex.fromBuffer(buf, dim, metric)))
  }

  /**
   * Saves the index to `path`, off the JS thread. The file is written beside `path` under a temporary
   * name, flushed to disk and renamed over `path`: a crash or kill mid-save leaves the previous file
   * as it was. Adds wait for the save to finish; searches do not.
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

  /** Dimensions of every vector. */
  get dim(): number {
    return this.#inner.dim
  }

  /** The distance measure. */
  get metric(): M {
    return this.#inner.metric as M
  }

  /** Number of vectors stored. */
  get size(): number {
    return this.#inner.size
  }

  /** Adds one vector under `key` (or replaces it, with `{ upsert: true }`). */
  add(key: Key, vector: InputOf<M>, options?: AddOptions): void {
    const keys = Float64Array.of(toKey(key))
    const row = toRow(vector, this.#kind, this.#rowLen)
    callNative(() => this.#inner.addBatchSync(keys, row, options?.upsert === true))
  }

  /**
   * Adds many vectors off the JS thread. `vectors` is an array of vectors or one flat array of
   * `keys.length * dim` values. All-or-nothing: one bad row adds nothing.
   */
  async addBatch(keys: KeysLike, vectors: InputOf<M> | readonly InputOf<M>[], options?: AddOptions): Promise<void> {
    const [k, v] = toKeyedRows(keys, vectors, this.#kind, this.#rowLen)
    await awaitNative(this.#inner.addBatch(k, v, options?.upsert === true))
  }

  /** {@link addBatch} on the calling thread. */
  addBatchSync(keys: KeysLike, vectors: InputOf<M> | readonly InputOf<M>[], options?: AddOptions): void {
    const [k, v] = toKeyedRows(keys, vectors, this.#kind, this.#rowLen)
    callNative(() => this.#inner.addBatchSync(k, v, options?.upsert === true))
  }

  /** Removes `key`; returns whether it was present. */
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

  /** Every key, in storage order. */
  keys(): Float64Array {
    return this.#inner.keys()
  }

  /** Bytes held natively, by part. */
  memoryUsage(): MemoryUsage {
    return this.#inner.memoryUsage()
  }

  /** The `k` nearest neighbours of `query`, nearest first (ties broken by smaller key). */
  search(query: InputOf<M>, k: number, options?: SearchOptions): SearchResult {
    const q = toRow(query, this.#kind, this.#rowLen, 'query')
    const kk = toK(k)
    const allow = toAllowList(options?.filter, () => this.#inner.keys())
    return callNative(() => this.#inner.search(q, kk, allow))
  }

  /**
   * The `k` nearest neighbours of each query, off the JS thread and across all cores. `queries` is an
   * array of vectors or one flat array of `n * dim` values.
   */
  async searchBatch(queries: InputOf<M> | readonly InputOf<M>[], k: number, options?: SearchOptions): Promise<BatchSearchResult> {
    const [q, kk, allow] = this.#queries(queries, k, options)
    return awaitNative(this.#inner.searchBatch(q, kk, allow))
  }

  /** {@link searchBatch} on the calling thread. */
  searchBatchSync(queries: InputOf<M> | readonly InputOf<M>[], k: number, options?: SearchOptions): BatchSearchResult {
    const [q, kk, allow] = this.#queries(queries, k, options)
    return callNative(() => this.#inner.searchBatchSync(q, kk, allow))
  }

  #queries(queries: unknown, k: number, options?: SearchOptions): [Float32Array | Uint8Array, number, Float64Array | undefined] {
    const { data, rows } = toRows(queries, this.#kind, this.#rowLen)
    if (rows === 0) throw invalid('ERR_INVALID_VECTOR', 'queries is empty: pass at least one query vector')
    return [data, toK(k), toAllowList(options?.filter, () => this.#inner.keys())]
  }
}

/** A native handle on its way into the constructor; set only inside `FlatIndex.#adopt`. */
let adopting: NativeFlatIndex | undefined

/** A path argument as a file system path (internal; shared with `hnsw.ts`). */
export function toPath(path: unknown): string {
  if (path instanceof URL) return fileURLToPath(path)
  if (typeof path !== 'string' || path.length === 0) {
    throw invalid('ERR_INVALID_ARGUMENT', `path must be a non-empty string or a file: URL, got ${typeof path}`)
  }
  return path
}

/** `dim` and `metric` of load options, checked (internal; shared with `hnsw.ts`). */
export function expectations(options: LoadOptions | undefined): [number | undefined, string | undefined] {
  if (options === undefined) return [undefined, undefined]
  if (typeof options !== 'object' || options === null) {
    throw invalid('ERR_INVALID_ARGUMENT', 'load options must be an object such as { dim: 384, metric: "cosine" }')
  }
  const { dim, metric } = options
  if (dim !== undefined && (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1)) {
    throw invalid('ERR_INVALID_ARGUMENT', `dim must be a positive integer, got ${String(dim)}`)
  }
  return [dim, metric === undefined ? undefined : checkMetric(metric)]
}
