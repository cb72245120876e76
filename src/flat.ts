import { fileURLToPath } from 'node:url'

import { awaitNative, callNative, invalid } from './errors.js'
import { checkMetric, kindOf, type InputOf, type Metric, type VectorOf } from './metric.js'
import { native, type FlatQuantOptions, type NativeFlatIndex, type NativeQuantizationInfo } from './native.js'
import { tuneFlat, type FlatTuneOptions, type FlatTuneResult } from './tune.js'
import { toAllowList, toBytesArg, toK, toKey, toKeyedRows, toRow, toRows, type Key, type KeyFilter, type KeysLike } from './vectors.js'

/**
 * How vectors are stored and scanned. `'none'` (default) keeps f32 vectors. The others store compact
 * codes that the scan reads instead:
 * - `'f16'`: half precision, 2× smaller, no training;
 * - `'int8'` (or `{ type: 'int8', quantile }`): one signed byte per dimension plus 8 bytes, ≈ 4×
 *   smaller; the range is clipped at the `quantile` (default 0.999) of the training deviations;
 * - `'binary'` (or `{ type: 'binary', center }`): one bit per dimension, 32× smaller; cosine and dot
 *   only; `center` (default true) subtracts the training mean first;
 * - `'pq'` or `{ type: 'pq', m }`: product quantisation, `m` bytes per vector (`m` must divide `dim`; default
 *   `dim / 8`), k-means with `iterations` (default 20) over at most `sample` (default 10 240) vectors;
 * - `{ type: 'truncate', dims }`: Matryoshka prefixes, the first `dims` components (for models trained
 *   with Matryoshka Representation Learning), rescored at full dimension by default.
 */
export type Quantization =
  | 'none'
  | 'f16'
  | 'int8'
  | 'binary'
  | 'pq'
  | { type: 'f16' }
  | { type: 'int8'; quantile?: number }
  | { type: 'binary'; center?: boolean }
  | { type: 'pq'; m?: number; iterations?: number; sample?: number }
  | { type: 'truncate'; dims: number }

/**
 * Quantisation options, the same on {@link FlatIndex} and {@link HnswIndex}: the flat scan or the
 * graph walk runs on codes, and the best candidates are rescored with the f32 originals.
 */
export interface QuantizationOptions {
  /**
   * Compact codes to scan or walk instead of f32 vectors (see {@link Quantization}); default
   * `'none'`. `f32` metrics only.
   */
  quantization?: Quantization
  /**
   * Rescoring of quantised results: the scan (or the graph walk, whose beam is widened to hold them)
   * keeps the best `k × oversample` candidates by code and re-ranks them by their exact f32 distance
   * (which needs `keepOriginals`). Default
   * `{ oversample: 16 }` for `binary`, `{ oversample: 8 }` for `pq`, `{ oversample: 4 }` for
   * `truncate`, off (`false`) for
   * `f16` and `int8`.
   */
  rescore?: false | { oversample: number }
  /**
   * Keep the f32 vectors next to the codes (default `true`): they serve rescoring and `get()`. With
   * `false` they are dropped once the quantiser is trained, searches report code-only distance
   * estimates and `get()` returns the code's reconstruction.
   */
  keepOriginals?: boolean
  /**
   * When the quantiser trains itself: after this many vectors have been added (default
   * `max(1000, 4 × the type's minimum)`; the minimum is 32 for `int8` and `binary`, 256 for `pq`).
   * Until then vectors wait in f32 and searches throw `ERR_NOT_TRAINED` (an HNSW index links them
   * with exact distances meanwhile). `false`: only `train()` trains, and adds before it throw
   * `ERR_NOT_TRAINED`.
   */
  trainAfter?: number | false
}

/** Options of {@link FlatIndex}. */
export interface FlatIndexOptions<M extends Metric = Metric> extends QuantizationOptions {
  /** Dimensions of every vector (bits for `hamming`, a multiple of 8). */
  dim: number
  /** Distance measure; default `'cosine'`. */
  metric?: M
  /** Seed of training (sampling, k-means); default 0. */
  seed?: number
}

/** The quantisation set-up of an index, from {@link FlatIndex.quantization}. */
export interface QuantizationInfo {
  /** `'f16'`, `'int8'`, `'binary'`, `'pq'` or `'truncate'`. */
  type: 'f16' | 'int8' | 'binary' | 'pq' | 'truncate'
  trained: boolean
  /** Bytes per stored code once trained (0 before). */
  codeBytes: number
  /** Rescoring multiple of `k` (1 = no rescoring). */
  oversample: number
  keepOriginals: boolean
  /** Automatic training threshold, or `false` when only `train()` trains. */
  trainAfter: number | false
  seed: number
  /** PQ sub-vectors (absent for other types). */
  m?: number
  /** Matryoshka prefix length (absent for other types). */
  dims?: number
}

/**
 * What a loaded index must be. A file holding something else is refused before its vectors are read:
 * another `dim` throws `ERR_DIMENSION_MISMATCH`, another `metric` `ERR_INVALID_ARGUMENT`.
 */
export interface LoadOptions<M extends Metric = Metric> {
  dim?: number
  metric?: M
}

/** Options of {@link FlatIndex.open}: what the file must hold, and how to open it. */
export interface FlatOpenOptions<M extends Metric = Metric> extends LoadOptions<M> {
  /**
   * Default `true`: map the file and serve searches with the vectors read straight from it (only the
   * keys, and a quantised index's codes, are copied into memory): an f32 index scans the mapped
   * rows, a quantised one scans its codes and rescores the best `k × oversample` candidates with the
   * originals read through the mapping. Every write throws `ERR_READ_ONLY`. `false` reads the whole
   * file into memory, as {@link FlatIndex.load}.
   */
  readOnly?: boolean
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
  /** Vector storage held in memory: f32 rows, or for a quantised index `codes + originals`. */
  vectors: number
  keys: number
  total: number
  /**
   * Bytes of vectors (the rows, or a quantised index's originals) served from the file mapping of a
   * read-only index ({@link FlatIndex.open}); 0 otherwise. The OS page cache holds them, not the
   * process heap, so they are in neither `vectors` nor `total`.
   */
  mapped: number
  /** Quantised indexes: the codes the scan reads. */
  codes?: number
  /** Quantised indexes: the f32 originals held in memory for rescoring (0 when dropped or mapped). */
  originals?: number
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
    const quant = quantOptions(options)
    this.#inner = callNative(() => new native.NativeFlatIndex(dim, metric, quant))
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
   * Loads an index written by {@link save} (or {@link saveSync}) into memory, off the JS thread. The
   * whole file is validated first (checksums, sizes, keys, values); with `options`, so are its `dim`
   * and `metric`. {@link open} maps the file read-only instead of copying its vectors in.
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

  /**
   * Opens an index file read-only (the default, `readOnly: true`), off the JS thread: the file is
   * memory-mapped and validated like {@link load} (same checks, same errors), the keys (and a
   * quantised index's codes) are copied into memory, and searches read the vectors straight from the
   * mapping, with results identical to the loaded index's. An f32 or `hamming` index scans the mapped
   * rows; a quantised index scans its codes and rescores the best `k × oversample` candidates with
   * the originals read through the mapping, so the originals stay on disk instead of in memory. Every
   * write (`add`, `addBatch`, `remove`, `train`) throws a {@link ReadOnlyError} (`ERR_READ_ONLY`);
   * `oversample` (a search setting) can still be set; `save` writes a copy. `{ readOnly: false }`
   * is {@link load}.
   *
   * Do not truncate or rewrite the file in place while it is open (another program could): reading a
   * vanished page of a mapping kills the process with SIGBUS. Replacing the file by rename, as every
   * ferrovec `save` does, is safe: the open index keeps reading the old file. Use {@link load} when
   * the file may be changed in place.
   *
   * @throws {CorruptFileError} `ERR_CORRUPT_FILE` for a damaged, truncated or foreign file.
   * @throws {UnsupportedVersionError} `ERR_UNSUPPORTED_VERSION` for a file from a newer format.
   * @throws {IoError} `ERR_IO` when the file cannot be opened or mapped.
   * @throws {InvalidInputError} `ERR_DIMENSION_MISMATCH` / `ERR_INVALID_ARGUMENT` when it is not what
   *   `options` expects, or for bad options.
   */
  static async open<M extends Metric = Metric>(path: string | URL, options?: FlatOpenOptions<M>): Promise<FlatIndex<M>> {
    const [p, dim, metric, ro] = openArgs(path, options)
    return FlatIndex.#adopt<M>(await awaitNative(native.NativeFlatIndex.open(p, dim, metric, ro)))
  }

  /** {@link open} on the calling thread. */
  static openSync<M extends Metric = Metric>(path: string | URL, options?: FlatOpenOptions<M>): FlatIndex<M> {
    const [p, dim, metric, ro] = openArgs(path, options)
    return FlatIndex.#adopt<M>(callNative(() => native.NativeFlatIndex.openSync(p, dim, metric, ro)))
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
   * as it was. Adds wait for the save to finish; searches do not. A read-only index ({@link open})
   * writes a copy, which {@link load} reads back writable; saving over its own file is safe too (the
   * open index keeps reading the replaced file).
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

  /** Number of vectors stored. */
  get size(): number {
    return this.#inner.size
  }

  /** The quantisation set-up (and whether it is trained), or `undefined` for an f32 index. */
  get quantization(): QuantizationInfo | undefined {
    return quantizationInfo(this.#inner.quantization)
  }

  /**
   * The rescoring factor of a quantised index: each search rescores the best `k × oversample`
   * candidates by code with their exact f32 distances (1: no rescoring). `undefined` for an f32
   * index. Setting it applies to searches from then on and is saved with the index; {@link tune}
   * picks it from measurements.
   *
   * @throws {InvalidInputError} `ERR_INVALID_ARGUMENT` when set on an f32 index or to a value that
   *   is not a number in [1, 10000]; the index keeps its factor.
   */
  get oversample(): number | undefined {
    return this.#inner.quantization?.oversample
  }

  set oversample(x: number) {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 1 || x > 10_000) {
      throw invalid('ERR_INVALID_ARGUMENT', `oversample must be a number in [1, 10000], got ${String(x)}`)
    }
    callNative(() => this.#inner.setOversample(x))
  }

  /**
   * Picks the rescoring factor of a quantised index from measurements: recall@k against exact f32
   * search (the originals) on held-out queries, at a sequence of candidate counts `k × oversample`
   * (doubling from `k`, which is no rescoring, then bisecting; factors are multiples of 1/k), with the
   * candidates rescored, distance computations and latency of each. Resolves the smallest factor
   * whose recall meets `targetRecall` and sets it ({@link oversample}), so the next {@link save}
   * keeps it. When none up to `maxOversample` (default 100) does, the result says `reached: false`
   * with the best found, and the index keeps its factor.
   *
   * Queries are `options.queries` when given, otherwise `sampleSize` vectors of the index (default
   * 500, seeded), each measured as if its own vector were not in the index. While tuning runs, the
   * index's factor changes from setting to setting: do not search or write it meanwhile.
   *
   * @throws {InvalidInputError} `ERR_INVALID_ARGUMENT` on an f32 (not quantised) index, without
   *   `keepOriginals`, for a `targetRecall` outside (0, 1], a bad `k`, `sampleSize`, `seed` or
   *   `maxOversample`; `ERR_DIMENSION_MISMATCH` / `ERR_INVALID_VECTOR` for bad queries. The index is
   *   unchanged.
   * @throws {NotTrainedError} `ERR_NOT_TRAINED` before the quantiser is trained.
   * @throws {AbortedError} `ERR_ABORTED` when `options.signal` aborts; the index is unchanged.
   *
   * @example
   * const index = new FlatIndex({ dim: 384, quantization: 'binary' })
   * await index.addBatch(keys, vectors)
   * const r = await index.tune({ targetRecall: 0.95, k: 10 })
   * console.log(r.reached, r.oversample, r.recall) // true 6.4 0.953
   */
  async tune(options: FlatTuneOptions<M>): Promise<FlatTuneResult> {
    return tuneFlat(this, options, (x) => callNative(() => this.#inner.setOversample(x)))
  }

  /**
   * Trains the quantiser on `sample` (an array of vectors or one flat array of `n * dim` values), off
   * the JS thread, and encodes every vector already added. Runs once per index; needs at least the
   * type's minimum of vectors (32 for `int8`/`binary`, 256 for `pq`).
   *
   * @throws {InvalidInputError} `ERR_INVALID_ARGUMENT` when already trained, on a non-quantised index
   *   or with too few vectors; `ERR_INVALID_VECTOR` / `ERR_DIMENSION_MISMATCH` for bad rows.
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

const QUANT_TYPES = new Set(['f16', 'int8', 'binary', 'pq', 'truncate'])

function finiteOr(name: string, v: unknown, check: (x: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !check(v)) {
    throw invalid('ERR_INVALID_ARGUMENT', `${name} must be ${what}, got ${String(v)}`)
  }
  return v
}

const isCount = (x: number): boolean => Number.isInteger(x) && x >= 1

/**
 * The native quantisation options of `options`, shape-checked (ranges are checked natively); `seed`
 * seeds training. Internal; shared with `hnsw.ts`, so both indexes take the same shapes.
 */
export function quantOptions(options: QuantizationOptions & { seed?: number }): FlatQuantOptions | undefined {
  const q = options.quantization ?? 'none'
  const extra = options.rescore !== undefined || options.keepOriginals !== undefined || options.trainAfter !== undefined
  if (q === 'none') {
    if (extra) {
      throw invalid('ERR_INVALID_ARGUMENT', 'rescore, keepOriginals and trainAfter apply to quantised indexes: set quantization too')
    }
    return undefined
  }
  const spec: Record<string, unknown> = typeof q === 'string' ? { type: q } : (q as Record<string, unknown>)
  if (typeof spec !== 'object' || spec === null || typeof spec.type !== 'string' || !QUANT_TYPES.has(spec.type)) {
    throw invalid(
      'ERR_INVALID_ARGUMENT',
      `quantization must be 'none', 'f16', 'int8', 'binary', { type: 'pq', m } or { type: 'truncate', dims }, got ${JSON.stringify(q)}`,
    )
  }
  const out: FlatQuantOptions = { kind: spec.type }
  out.m = finiteOr('pq m', spec.m, isCount, 'a positive integer')
  out.dims = finiteOr('truncate dims', spec.dims, isCount, 'a positive integer')
  if (spec.type === 'truncate' && out.dims === undefined) {
    throw invalid('ERR_INVALID_ARGUMENT', "quantization { type: 'truncate' } needs dims: the number of leading dimensions to keep")
  }
  out.iterations = finiteOr('pq iterations', spec.iterations, isCount, 'a positive integer')
  out.sample = finiteOr('pq sample', spec.sample, isCount, 'a positive integer')
  out.quantile = finiteOr('int8 quantile', spec.quantile, (x) => x > 0.5 && x <= 1, 'a number in (0.5, 1]')
  if (spec.center !== undefined) {
    if (typeof spec.center !== 'boolean') throw invalid('ERR_INVALID_ARGUMENT', 'binary center must be a boolean')
    out.center = spec.center
  }
  const r = options.rescore
  if (r === false) out.oversample = 1
  else if (r !== undefined) {
    if (typeof r !== 'object' || r === null) {
      throw invalid('ERR_INVALID_ARGUMENT', 'rescore must be false or { oversample: number }')
    }
    out.oversample = finiteOr('rescore oversample', r.oversample, (x) => Number.isFinite(x) && x >= 1, 'a number ≥ 1')
  }
  if (options.keepOriginals !== undefined) {
    if (typeof options.keepOriginals !== 'boolean') throw invalid('ERR_INVALID_ARGUMENT', 'keepOriginals must be a boolean')
    out.keepOriginals = options.keepOriginals
  }
  const t = options.trainAfter
  if (t === false) out.trainAfter = 0
  else out.trainAfter = finiteOr('trainAfter', t, isCount, 'a positive integer or false')
  out.seed = finiteOr('seed', options.seed, (x) => Number.isSafeInteger(x) && x >= 0, 'a non-negative safe integer')
  return out
}

/** The native `quantization` getter's value as a {@link QuantizationInfo} (internal; shared with `hnsw.ts`). */
export function quantizationInfo(q: NativeQuantizationInfo | null | undefined): QuantizationInfo | undefined {
  if (q == null) return undefined
  return {
    type: q.kind as QuantizationInfo['type'],
    trained: q.trained,
    codeBytes: q.codeBytes,
    oversample: q.oversample,
    keepOriginals: q.keepOriginals,
    trainAfter: q.trainAfter === 0 ? false : q.trainAfter,
    seed: q.seed,
    ...(q.kind === 'pq' ? { m: q.m } : {}),
    ...(q.kind === 'truncate' ? { dims: q.dims } : {}),
  }
}

/** A `train()` sample as one flat Float32Array, checked (internal; shared with `hnsw.ts`). */
export function trainingSample(kind: 'f32' | 'bits', rowLen: number, sample: unknown): Float32Array {
  if (kind !== 'f32') throw invalid('ERR_INVALID_ARGUMENT', 'train() is for quantised f32 indexes')
  const { data, rows } = toRows(sample, 'f32', rowLen)
  if (rows === 0) throw invalid('ERR_INVALID_VECTOR', 'the training sample is empty')
  return data as Float32Array
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

/**
 * The native `open` arguments of both indexes, checked: path, expected `dim` and `metric`, and
 * `readOnly` (default `true`) (internal; shared with `hnsw.ts`).
 */
export function openArgs(path: unknown, options: (LoadOptions & { readOnly?: unknown }) | undefined): [string, number | undefined, string | undefined, boolean] {
  const p = toPath(path)
  const [dim, metric] = expectations(options)
  const ro = options?.readOnly
  if (ro !== undefined && typeof ro !== 'boolean') {
    throw invalid('ERR_INVALID_ARGUMENT', `readOnly must be a boolean, got ${typeof ro}`)
  }
  return [p, dim, metric, ro ?? true]
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
