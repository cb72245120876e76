/**
 * A collection: documents with ids, text and metadata, searchable by keyword (SQLite FTS5 BM25), by
 * vector (a ferrovec index) or both, in one directory:
 *
 *   <dir>/collection.sqlite   documents, metadata, vectors, the id ↔ key map, FTS5, the pinned model
 *   <dir>/index-<gen>.<type>  the vector index, a checkpoint of what the database holds
 *
 * The database is the source of truth and the index a derived checkpoint. Every write is one SQLite
 * transaction that bumps a change counter (`seq`) and stamps the rows it touches; the index file
 * records (in the database, once saved) the `seq` it reflects. Opening re-indexes rows stamped
 * after that and drops index keys the database no longer has, from the vectors stored in the
 * database, so a crash at any point (between the commit and the index save included) reopens
 * consistent without re-embedding. Keys are never reused (AUTOINCREMENT), so a stale key in an old
 * index file can only be a deleted document.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { chunk as chunkText } from '../chunking/index.js'
import type { ChunkOptions } from '../chunking/types.js'
import { createEmbedder } from '../embed/create.js'
import { EmbeddingAbortedError } from '../embed/errors.js'
import type { Embedder, EmbedderIdentity } from '../embed/types.js'
import {
  AbortedError,
  BusyError,
  ClosedError,
  CorruptFileError,
  DuplicateKeyError,
  FerrovecError,
  invalid,
  IoError,
  ModelMismatchError,
  NoEmbedderError,
  NotFoundError,
  UnsupportedVersionError,
} from '../errors.js'
import { FlatIndex, quantOptions, type Quantization } from '../flat.js'
import { HnswIndex } from '../hnsw.js'
import { compileFilter, type MetadataFilter } from './filter.js'
import { ftsQuery } from './fts.js'
import { metadataJson } from './metadata.js'
import { rrf, weighted, zscore, type Ranked } from './fusion.js'

const SCHEMA_VERSION = 1
const DB_FILE = 'collection.sqlite'

/** The model a collection's vectors come from. Two embedders with equal pins give comparable vectors. */
export interface PinnedModel {
  provider: string
  model: string
  /** Requested output dimensions (Matryoshka), or null for the model's own. */
  dimensions: number | null
  normalize: boolean
}

export type CollectionIndexType = 'hnsw' | 'flat'
export type CollectionMetric = 'cosine' | 'dot' | 'l2'

/** The vector index of a collection. */
export interface CollectionIndexOptions {
  /** Default `'hnsw'`. */
  type?: CollectionIndexType
  /** Default `'cosine'`. */
  metric?: CollectionMetric
  /** HNSW links per node (default 16). */
  m?: number
  /** HNSW build beam width (default 200). */
  efConstruction?: number
  /** HNSW search beam width (default 64); may be changed when reopening. */
  efSearch?: number
  /**
   * Vector storage (default `'none'`, float32): any {@link Quantization} of the indexes, with its
   * default rescoring against the float vectors (kept in the index and in the database). The codes
   * train themselves once the collection holds enough documents (1,000 for most types); until then
   * vector search is exact over the stored vectors, so a small collection answers the same either way.
   */
  quantization?: Quantization
}

/** The index settings a collection was created with. */
export interface CollectionIndexInfo {
  type: CollectionIndexType
  metric: CollectionMetric
  m: number
  efConstruction: number
  efSearch: number
  quantization: Quantization
}

export interface CollectionOpenOptions {
  /**
   * Embeds documents without a vector and text queries. Default: the offline Universal Sentence Encoder.
   * `null` opens an existing collection without one, whatever model it was built with: keyword search,
   * and vector work with precomputed vectors, still work; anything that must embed text throws
   * `ERR_NO_EMBEDDER`.
   */
  embedder?: Embedder | null | undefined
  /** Settings of a new collection's index (an existing one keeps its own; only `efSearch` may change). */
  index?: CollectionIndexOptions | undefined
  /** Create the collection when `dir` holds none (default true); `false` throws `ERR_NOT_FOUND` instead. */
  create?: boolean | undefined
}

export interface CollectionDocument {
  id: string
  text: string
  metadata?: Record<string, unknown> | undefined
  /** A precomputed vector from the pinned model (skips embedding). */
  vector?: Float32Array | readonly number[] | undefined
}

export interface UpsertProgress {
  /** Documents (or chunks) whose vectors are ready. */
  done: number
  total: number
}

export interface UpsertOptions {
  onProgress?: ((progress: UpsertProgress) => void) | undefined
  /** Stops embedding; nothing is written unless the write had already committed. */
  signal?: AbortSignal | undefined
  /**
   * Split each document into chunks (see `chunk()`); each chunk is stored as its own document with
   * id `<id>#<n>`, the document's metadata, and `chunk: { parent, index, start, end }` offsets into
   * the original text. Re-upserting the document replaces all its chunks; `delete([id])` removes them.
   */
  chunk?: ChunkOptions | undefined
}

export interface UpsertResult {
  added: number
  updated: number
}

export type SearchMode = 'vector' | 'keyword' | 'hybrid'

export interface CollectionSearchOptions {
  /** Results wanted (default 10). */
  k?: number | undefined
  /** Metadata filter (see {@link MetadataFilter}); checked at run time, so parsed JSON is fine. */
  filter?: MetadataFilter | Record<string, unknown> | undefined
  /** Default `'hybrid'` for a text query, `'vector'` for a vector query. */
  mode?: SearchMode | undefined
  /**
   * Hybrid: how the two rankings are fused. `'zscore'` (default): `alpha · vector + (1 − alpha) ·
   * keyword` over z-score-normalised scores; `'minmax'`: the same over min-max-normalised scores;
   * `'rrf'`: reciprocal rank fusion, `1/(rrfK + keyword rank) + vectorWeight/(rrfK + vector rank)`.
   * Passing `rrfK` or `vectorWeight` alone selects `'rrf'`. See docs/collections.md for why the
   * default is not RRF.
   */
  fusion?: HybridFusion | undefined
  /** Score fusions: the vector ranking's share, 0…1 (default {@link DEFAULT_ALPHA}). */
  alpha?: number | undefined
  /** RRF constant (default 60). */
  rrfK?: number | undefined
  /** RRF weight of the vector ranking relative to the keyword ranking's 1 (default 1). */
  vectorWeight?: number | undefined
  /** Candidates taken from each retriever before fusing (default max(50, 2k), at most 10,000). */
  candidates?: number | undefined
  /** The query's vector, when the caller already has it (hybrid and vector modes skip embedding). */
  vector?: Float32Array | readonly number[] | undefined
  /** HNSW beam width for this search. */
  ef?: number | undefined
}

export interface ChunkInfo {
  parent: string
  index: number
  start: number
  end: number
}

export interface CollectionHit {
  id: string
  /** Larger is better: cosine similarity (vector), BM25 (keyword), fused score (hybrid). */
  score: number
  text: string
  metadata: Record<string, unknown>
  /** Present for chunks made by `upsert(…, { chunk })`. */
  chunk?: ChunkInfo
}

export interface StoredDocument {
  id: string
  text: string
  metadata: Record<string, unknown>
  chunk?: ChunkInfo
}

export interface MigrateProgress {
  done: number
  total: number
}

export interface MigrateOptions {
  onProgress?: ((progress: MigrateProgress) => void) | undefined
  /** Stops the migration; the old model and index keep serving, and a later `migrate` resumes. */
  signal?: AbortSignal | undefined
}

export interface MigrateResult {
  /** Documents embedded by this call (those re-used from an earlier, aborted run are not counted). */
  embedded: number
  /** Documents in the collection when it switched. */
  total: number
}

export interface CollectionInfo {
  dir: string
  dbPath: string
  /** The current index file (absent until the first save). */
  indexPath: string | undefined
  count: number
  model: PinnedModel | undefined
  /** Vector length (undefined until the first vector is known). */
  dim: number | undefined
  index: CollectionIndexInfo
  sizes: { db: number; index: number; total: number }
  /** An unfinished (aborted or running) migration, if any. */
  migration?: { model: PinnedModel; done: number } | undefined
  createdAt: string
}

export type HybridFusion = 'zscore' | 'minmax' | 'rrf'

/**
 * The vector ranking's share in the default hybrid fusion: keyword-led, vector-refined. Measured on
 * SciFact with the offline embedder (docs/collections.md); raise it for a strong embedder.
 */
export const DEFAULT_ALPHA = 0.1
const DEFAULT_RRF_K = 60
const MAX_K = 10_000
const EMBED_PAGE = 256

interface MetaRow {
  name: string
  value: string
}
interface DocRow {
  key: number
  id: string
  text: string
  metadata: string | null
  parent: string | null
  chunk_index: number | null
  chunk_start: number | null
  chunk_end: number | null
}

type VectorIndex = HnswIndex<CollectionMetric> | FlatIndex<CollectionMetric>

/** Hooks for the crash-recovery tests; not part of the API. */
export const testHooks: { afterCommit?: (() => void) | undefined } = {}

type Database = BetterSqlite3.Database

async function openDatabase(path: string, readonly = false): Promise<Database> {
  // Loaded here, not at import time: programs that never open a collection never load the addon.
  const mod = (await import('better-sqlite3')) as unknown as {
    default: new (file: string, options?: BetterSqlite3.Options) => Database
  }
  try {
    return new mod.default(path, readonly ? { readonly: true, fileMustExist: true } : {})
  } catch (err) {
    throw storageError(err, path)
  }
}

/**
 * An error of SQLite (or of the file system) while opening a collection's database, as the coded
 * error it means: a file that is not a database, or a damaged one, is `ERR_CORRUPT_FILE`; a locked
 * one `ERR_BUSY`; anything else (permissions, a full disk, …) `ERR_IO`. Our own errors pass through.
 */
function storageError(err: unknown, path: string): unknown {
  if (err instanceof FerrovecError) return err
  const e = err as { code?: unknown; message?: unknown }
  const code = typeof e?.code === 'string' ? e.code : ''
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new CorruptFileError(`${path}: not a readable collection database (${message})`, { cause: err })
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new BusyError(`${path}: the database is locked by another connection (${message})`, { cause: err })
  }
  // SQLite's own codes, and the system's (ENOENT, EACCES, ENOSPC, …).
  if (code.startsWith('SQLITE_') || /^E[A-Z]+$/.test(code)) return new IoError(`${path}: ${message}`, { cause: err })
  return err
}

/** A JSON value of the meta table that every collection has; missing or unreadable means damage. */
function metaJson<T>(db: Database, name: string, dbPath: string): T {
  const text = getMeta(db, name)
  try {
    if (text !== undefined) return JSON.parse(text) as T
  } catch {
    // Reported below.
  }
  throw new CorruptFileError(`${dbPath}: the collection's ${name} record is ${text === undefined ? 'missing' : 'not valid JSON'}`)
}

function pinOf(id: EmbedderIdentity): PinnedModel {
  return { provider: id.provider, model: id.model, dimensions: id.dimensions ?? null, normalize: id.normalize }
}

function samePin(a: PinnedModel, b: PinnedModel): boolean {
  return a.provider === b.provider && a.model === b.model && a.dimensions === b.dimensions && a.normalize === b.normalize
}

export function describePin(p: PinnedModel, dim?: number): string {
  const d = p.dimensions ?? dim
  return `${p.provider}/${p.model} (${d === undefined ? 'native size' : `${d}-d`}, ${p.normalize ? 'normalised' : 'not normalised'})`
}

function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
}

function fromBlob(b: Buffer): Float32Array {
  // Copied: a Buffer from SQLite need not be 4-byte aligned, which Float32Array requires.
  const bytes = new Uint8Array(b)
  return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4)
}

function checkIndexOptions(o: CollectionIndexOptions | undefined): CollectionIndexInfo {
  if (o !== undefined && (o === null || typeof o !== 'object')) {
    throw invalid('ERR_INVALID_ARGUMENT', 'index must be an object such as { type: "hnsw", metric: "cosine" }')
  }
  const type = o?.type ?? 'hnsw'
  if (type !== 'hnsw' && type !== 'flat') throw invalid('ERR_INVALID_ARGUMENT', `index.type must be 'hnsw' or 'flat', got ${String(type)}`)
  const metric = o?.metric ?? 'cosine'
  if (metric !== 'cosine' && metric !== 'dot' && metric !== 'l2') {
    throw invalid('ERR_UNKNOWN_METRIC', `index.metric must be 'cosine', 'dot' or 'l2' for a collection, got ${String(metric)}`)
  }
  const int = (v: unknown, name: string, min: number, dflt: number): number => {
    if (v === undefined) return dflt
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= 1_000_000) return v
    throw invalid('ERR_INVALID_ARGUMENT', `index.${name} must be an integer ≥ ${min}, got ${String(v)}`)
  }
  const quantization: Quantization = o?.quantization ?? 'none'
  try {
    quantOptions({ quantization })
  } catch (err) {
    throw invalid('ERR_INVALID_ARGUMENT', `index.${(err as Error).message}`)
  }
  if (metric === 'l2' && (quantization === 'binary' || (typeof quantization === 'object' && quantization.type === 'binary'))) {
    throw invalid('ERR_INVALID_ARGUMENT', "index.quantization: binary codes keep only signs, which say nothing about l2 distance; use 'int8' or pq with l2")
  }
  return {
    type,
    metric,
    m: int(o?.m, 'm', 2, 16),
    efConstruction: int(o?.efConstruction, 'efConstruction', 1, 200),
    efSearch: int(o?.efSearch, 'efSearch', 1, 64),
    quantization,
  }
}

function newIndex(info: CollectionIndexInfo, dim: number): VectorIndex {
  // Quantised indexes train themselves at their default threshold; until then #vectorSearch is exact.
  const q = info.quantization === 'none' ? {} : { quantization: info.quantization }
  return info.type === 'flat'
    ? new FlatIndex<CollectionMetric>({ dim, metric: info.metric, ...q })
    : new HnswIndex<CollectionMetric>({ dim, metric: info.metric, m: info.m, efConstruction: info.efConstruction, efSearch: info.efSearch, ...q })
}

/** Equal index settings: values, or objects such as `{ type: 'pq', m: 8 }` in any key order. */
function sameSetting(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): string =>
    v !== null && typeof v === 'object' ? JSON.stringify(Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)))) : JSON.stringify(v)
  return canonical(a) === canonical(b)
}

async function loadIndex(info: CollectionIndexInfo, path: string, dim: number): Promise<VectorIndex> {
  return info.type === 'flat'
    ? FlatIndex.load<CollectionMetric>(path, { dim, metric: info.metric })
    : HnswIndex.load<CollectionMetric>(path, { dim, metric: info.metric })
}

function checkVector(v: unknown, dim: number | undefined, where: string): Float32Array {
  if (!(v instanceof Float32Array) && !Array.isArray(v)) {
    throw invalid('ERR_INVALID_VECTOR', `${where}: expected a Float32Array or an array of numbers, got ${typeof v}`)
  }
  const arr = v as ArrayLike<unknown>
  if (arr.length === 0) throw invalid('ERR_INVALID_VECTOR', `${where}: the vector is empty`)
  if (dim !== undefined && arr.length !== dim) {
    throw invalid('ERR_DIMENSION_MISMATCH', `${where}: the vector has ${arr.length} dimensions; this collection's model gives ${dim}`)
  }
  const out = new Float32Array(arr.length)
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i]
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw invalid('ERR_INVALID_VECTOR', `${where}: component ${i} is ${String(x)}; expected a finite number`)
    }
    out[i] = x
  }
  return out
}

/** `options` of `what` is an object whose `onProgress`/`signal`, when given, are usable. */
function checkOptions(options: unknown, what: string): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid('ERR_INVALID_ARGUMENT', `${what}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`)
  }
  const o = options as { onProgress?: unknown; signal?: unknown }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalid('ERR_INVALID_ARGUMENT', `${what}: onProgress must be a function, got ${typeof o.onProgress}`)
  }
  const signal = o.signal as { aborted?: unknown } | null | undefined
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
    throw invalid('ERR_INVALID_ARGUMENT', `${what}: signal must be an AbortSignal (AbortController's .signal)`)
  }
}

/** An object that can be used as an {@link Embedder} (a wrong value fails here, not deep inside a call). */
function checkEmbedder(e: unknown, what: string): asserts e is Embedder {
  const x = e as Partial<Embedder> | null
  const id = x?.identity as Partial<EmbedderIdentity> | null | undefined
  if (
    x === null ||
    typeof x !== 'object' ||
    typeof x.embed !== 'function' ||
    typeof x.embedMany !== 'function' ||
    id === null ||
    typeof id !== 'object' ||
    typeof id.provider !== 'string' ||
    typeof id.model !== 'string'
  ) {
    throw invalid(
      'ERR_INVALID_ARGUMENT',
      `${what} must be an Embedder (createEmbedder({ provider: … }), or an object with identity, embed and embedMany), got ${x === null ? 'null' : typeof x}`,
    )
  }
}

function aborted(signal: AbortSignal | undefined, what: string, cause?: unknown): AbortedError {
  return new AbortedError(what, cause ?? signal?.reason)
}

/** One document ready to be written. */
interface Prepared {
  id: string
  text: string
  metadata: string | null
  vector: Float32Array | undefined
  parent: string | null
  chunk: { index: number; start: number; end: number } | null
}

/** A tiny FIFO mutex: writes (upsert, delete, the migration switch) run one at a time. */
class Mutex {
  private tail: Promise<void> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn)
    this.tail = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }
}

/**
 * Documents + metadata + vectors in SQLite, keyword search with FTS5 BM25, vector search with an
 * HNSW (or flat) index, hybrid search fusing both, and the embedding model pinned.
 *
 * @example
 * const c = await Collection.open('./my-collection')
 * await c.upsert([{ id: 'a', text: 'The cat sat on the mat', metadata: { lang: 'en' } }])
 * const hits = await c.search('where is the cat?', { k: 5, filter: { lang: 'en' } })
 * await c.close()
 */
export class Collection {
  readonly dir: string
  readonly dbPath: string
  #db: Database
  #embedder: Embedder | null
  #ownsEmbedder: boolean
  #index: VectorIndex | undefined
  #indexInfo: CollectionIndexInfo
  #pin: PinnedModel
  #dim: number | undefined
  #gen: number
  #unsaved = 0
  #closed = false
  #migrating = false
  readonly #writes = new Mutex()
  readonly #stmts: ReturnType<typeof prepareStatements>

  private constructor(dir: string, db: Database, embedder: Embedder | null, owns: boolean, indexInfo: CollectionIndexInfo, pin: PinnedModel) {
    this.dir = dir
    this.dbPath = join(dir, DB_FILE)
    this.#db = db
    this.#embedder = embedder
    this.#ownsEmbedder = owns
    this.#indexInfo = indexInfo
    this.#pin = pin
    const dim = getMeta(db, 'dim')
    this.#dim = dim === undefined ? undefined : Number(dim)
    this.#gen = Number(getMeta(db, 'generation') ?? '0')
    this.#stmts = prepareStatements(db)
  }

  /**
   * Opens the collection in `dir`, creating it (and the directory) unless `create: false`.
   *
   * @throws ModelMismatchError `ERR_MODEL_MISMATCH` when `embedder` is not the model the collection
   *   was built with (the message names both).
   * @throws NotFoundError `ERR_NOT_FOUND` with `create: false` and no collection in `dir`.
   * @throws InvalidInputError `ERR_INVALID_ARGUMENT` for bad index options, or options that
   *   contradict the existing collection's index.
   */
  static async open(dir: string, options: CollectionOpenOptions = {}): Promise<Collection> {
    if (typeof dir !== 'string' || dir === '') throw invalid('ERR_INVALID_ARGUMENT', 'Collection.open needs a directory path')
    if (options === null || typeof options !== 'object') throw invalid('ERR_INVALID_ARGUMENT', 'options must be an object')
    if (options.embedder !== undefined && options.embedder !== null) checkEmbedder(options.embedder, 'options.embedder')
    const requested = options.index === undefined ? undefined : checkIndexOptions(options.index)
    const abs = resolve(dir)
    const dbPath = join(abs, DB_FILE)
    const exists = existsSync(dbPath)
    if (!exists && options.create === false) throw new NotFoundError(`no collection in ${abs} (and create: false)`)
    if (options.embedder === null && !exists) {
      throw invalid('ERR_INVALID_ARGUMENT', `embedder: null opens an existing collection only, and ${abs} holds none: a new collection needs the embedder it will pin`)
    }
    const embedder = options.embedder === null ? null : (options.embedder ?? createEmbedder({ provider: 'use' }))
    const owns = options.embedder === undefined
    if (!exists && embedder !== null && embedder.dimensions !== undefined) {
      // With the model's length known, an index the settings cannot make (pq's m not dividing it) is
      // refused now, before anything is created, rather than at the first upsert.
      const info = requested ?? checkIndexOptions(undefined)
      if (info.quantization !== 'none') newIndex(info, embedder.dimensions)
    }
    if (!exists) {
      if (existsSync(abs) && !statSync(abs).isDirectory()) throw new IoError(`${abs} is a file, not a collection directory`)
      try {
        mkdirSync(abs, { recursive: true })
      } catch (err) {
        throw storageError(err, abs)
      }
    }
    const db = await openDatabase(dbPath)
    try {
      // WAL: searches read while a write commits, and a killed process loses no committed write.
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      const hasSchema = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined
      let indexInfo: CollectionIndexInfo
      let pin: PinnedModel
      if (!hasSchema) {
        // Another program's database under our file name: never write our tables into it.
        if ((db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n > 0) {
          throw new CorruptFileError(`${dbPath} is a SQLite database, but not a ferrovec collection`)
        }
        if (embedder === null) throw invalid('ERR_INVALID_ARGUMENT', `embedder: null opens an existing collection only, and ${abs} holds none`)
        indexInfo = requested ?? checkIndexOptions(undefined)
        pin = pinOf(embedder.identity)
        createSchema(db, pin, indexInfo, embedder.dimensions)
      } else {
        const version = Number(getMeta(db, 'schema_version'))
        if (!(version <= SCHEMA_VERSION)) {
          throw new UnsupportedVersionError(`${dbPath} was written by a newer ferrovec (collection schema ${String(version)}; this version reads ${SCHEMA_VERSION})`)
        }
        pin = metaJson<PinnedModel>(db, 'model', dbPath)
        indexInfo = metaJson<CollectionIndexInfo>(db, 'index', dbPath)
        const given = embedder === null ? pin : pinOf(embedder.identity)
        if (!samePin(pin, given)) {
          const dim = getMeta(db, 'dim')
          throw new ModelMismatchError(
            `the collection in ${abs} was built with ${describePin(pin, dim === undefined ? undefined : Number(dim))}, ` +
              `but the embedder given is ${describePin(given, embedder?.dimensions)}: open it with the embedder it was built with, ` +
              'or move it to the new model with collection.migrate(embedder)',
            pin,
            given,
          )
        }
        if (requested !== undefined) {
          for (const k of ['type', 'metric', 'm', 'efConstruction', 'quantization'] as const) {
            if (options.index?.[k] !== undefined && !sameSetting(requested[k], indexInfo[k])) {
              throw invalid(
                'ERR_INVALID_ARGUMENT',
                `index.${k}: the collection in ${abs} was built with ${JSON.stringify(indexInfo[k])}, not ${JSON.stringify(requested[k])} (only efSearch can change on reopen)`,
              )
            }
          }
          if (options.index?.efSearch !== undefined) indexInfo = { ...indexInfo, efSearch: requested.efSearch }
        }
      }
      const c = new Collection(abs, db, embedder, owns, indexInfo, pin)
      await c.#recover()
      return c
    } catch (err) {
      db.close()
      throw storageError(err, dbPath)
    }
  }

  /**
   * What {@link info} reports, read from `dir` without loading the index or an embedder (for tools
   * such as `ferrovec info`). The database is opened read-only.
   * @throws NotFoundError `ERR_NOT_FOUND` when `dir` holds no collection.
   */
  static async readInfo(dir: string): Promise<CollectionInfo> {
    const abs = resolve(dir)
    const dbPath = join(abs, DB_FILE)
    if (!existsSync(dbPath)) throw new NotFoundError(`no collection in ${abs}`)
    const db = await openDatabase(dbPath, true)
    try {
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() === undefined) {
        throw new CorruptFileError(`${dbPath} is not a ferrovec collection database`)
      }
      return infoFrom(db, abs, undefined)
    } catch (err) {
      throw storageError(err, dbPath)
    } finally {
      db.close()
    }
  }

  /**
   * The embedder that embeds text for this collection (the migrated-to one after a migration); `null`
   * when opened with `embedder: null`.
   */
  get embedder(): Embedder | null {
    return this.#embedder
  }

  /** The embedder, or `ERR_NO_EMBEDDER` naming what needed it. */
  #needEmbedder(what: string): Embedder {
    if (this.#embedder !== null) return this.#embedder
    throw new NoEmbedderError(
      `${what} needs an embedder, but this collection was opened with embedder: null; open it with its model ` +
        `(${describePin(this.#pin, this.#dim)}) or pass precomputed vectors`,
    )
  }

  /** The model the stored vectors come from. */
  get model(): PinnedModel {
    return { ...this.#pin }
  }

  /** Vector length, once known. */
  get dim(): number | undefined {
    return this.#dim
  }

  /** Number of documents (chunks count one each). */
  count(): number {
    this.#open()
    return (this.#stmts.count.get() as { n: number }).n
  }

  /** A stored document by id, or undefined. */
  get(id: string): StoredDocument | undefined {
    this.#open()
    if (typeof id !== 'string') throw invalid('ERR_INVALID_ARGUMENT', `id must be a string, got ${typeof id}`)
    const row = this.#stmts.getById.get(id) as DocRow | undefined
    return row === undefined ? undefined : toStored(row)
  }

  /** Counts, the pinned model, index settings, paths and sizes. */
  info(): CollectionInfo {
    this.#open()
    return infoFrom(this.#db, this.dir, this.#indexInfo.efSearch)
  }

  /**
   * Adds or replaces documents by id, embedding those without a vector (in batches, with progress).
   * Validates the whole call first; a bad document throws and nothing is written. A document whose
   * text is unchanged keeps its stored vector (no re-embedding).
   *
   * @throws DuplicateKeyError `ERR_DUPLICATE_KEY` for an id repeated in the call.
   * @throws InvalidInputError `ERR_INVALID_ARGUMENT` (missing id/text, bad metadata),
   *   `ERR_DIMENSION_MISMATCH` / `ERR_INVALID_VECTOR` (bad vector).
   * @throws AbortedError `ERR_ABORTED` when `signal` aborts before the write commits.
   */
  async upsert(docs: readonly CollectionDocument[], options: UpsertOptions = {}): Promise<UpsertResult> {
    this.#open()
    checkOptions(options, 'upsert')
    if (this.#migrating) throw new BusyError('upsert: a migration is in progress; wait for it (or abort it) first')
    const { onProgress, signal } = options
    let prepared = this.#validate(docs)
    if (options.chunk !== undefined) prepared = await this.#chunk(prepared, options.chunk)
    if (signal?.aborted) throw aborted(signal, 'upsert')
    const total = prepared.length
    // Unchanged texts keep their stored vector.
    const need: number[] = []
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i] as Prepared
      if (p.vector !== undefined) continue
      const row = this.#stmts.vectorIfSame.get(p.id, p.text) as { vector: Buffer } | undefined
      if (row !== undefined) p.vector = fromBlob(row.vector)
      else need.push(i)
    }
    let done = total - need.length
    onProgress?.({ done, total })
    if (need.length > 0) {
      let vectors: Float32Array[]
      try {
        vectors = await this.#needEmbedder('upsert of documents without a vector').embedMany(
          need.map((i) => (prepared[i] as Prepared).text),
          { signal, onProgress: (p) => onProgress?.({ done: done + p.done, total }) },
        )
      } catch (err) {
        if (err instanceof EmbeddingAbortedError || signal?.aborted) throw aborted(signal, 'upsert', err)
        throw err
      }
      for (let j = 0; j < need.length; j++) {
        const v = vectors[j] as Float32Array
        if (this.#dim !== undefined && v.length !== this.#dim) {
          throw invalid('ERR_DIMENSION_MISMATCH', `the embedder returned ${v.length} dimensions; this collection holds ${this.#dim}`)
        }
        ;(prepared[need[j] as number] as Prepared).vector = v
      }
      done = total
    }
    return this.#writes.run(async () => {
      this.#open()
      // A migration may have started while this call was embedding: its vectors would go stale.
      if (this.#migrating) throw new BusyError('upsert: a migration started while this call was embedding; nothing was written')
      if (signal?.aborted) throw aborted(signal, 'upsert')
      const dim = this.#dim ?? (prepared[0]?.vector as Float32Array | undefined)?.length
      for (const p of prepared) {
        if (dim !== undefined && (p.vector as Float32Array).length !== dim) {
          throw invalid('ERR_DIMENSION_MISMATCH', `document ${JSON.stringify(p.id)}: the vector has ${(p.vector as Float32Array).length} dimensions; the collection holds ${dim}`)
        }
      }
      // The index is made before the commit: a quantisation the vectors cannot take (pq's m not
      // dividing their length, say) fails here with nothing written.
      if (dim !== undefined && prepared.length > 0) this.#ensureIndex(dim)
      const { result, keys, removed } = this.#commitUpsert(prepared, dim)
      testHooks.afterCommit?.()
      if (prepared.length > 0) {
        const index = this.#ensureIndex(dim as number)
        for (const key of removed) index.remove(key)
        await index.addBatch(
          keys,
          prepared.map((p) => p.vector as Float32Array),
          { upsert: true },
        )
        this.#unsaved += prepared.length + removed.length
        await this.#maybeCheckpoint()
      }
      return result
    })
  }

  /** Deletes documents by id (a chunked document's id deletes all its chunks); returns how many rows went. */
  async delete(ids: readonly string[]): Promise<number> {
    this.#open()
    if (this.#migrating) throw new BusyError('delete: a migration is in progress; wait for it (or abort it) first')
    if (!Array.isArray(ids)) throw invalid('ERR_INVALID_ARGUMENT', 'delete expects an array of ids')
    ids.forEach((id, i) => {
      if (typeof id !== 'string' || id === '') throw invalid('ERR_INVALID_ARGUMENT', `ids[${i}] must be a non-empty string, got ${JSON.stringify(id)}`)
    })
    return this.#writes.run(async () => {
      this.#open()
      if (this.#migrating) throw new BusyError('delete: a migration is in progress; nothing was deleted')
      const keys = this.#db.transaction(() => {
        this.#nextSeq()
        const gone: number[] = []
        for (const id of ids) {
          for (const row of this.#stmts.keysOfIdOrParent.all(id, id) as { key: number; text: string }[]) {
            this.#stmts.ftsDelete.run(row.key, row.text)
            this.#stmts.deleteKey.run(row.key)
            this.#stmts.deleteMeta.run(row.key)
            gone.push(row.key)
          }
        }
        return gone
      })()
      testHooks.afterCommit?.()
      if (this.#index !== undefined) for (const key of keys) this.#index.remove(key)
      this.#unsaved += keys.length
      await this.#maybeCheckpoint()
      return keys.length
    })
  }

  /**
   * Searches by text (or by vector in `'vector'` mode). Results are best first, at most `k`, and
   * only documents matching `filter`; when at least `k` documents match, `k` come back.
   *
   * @throws InvalidInputError `ERR_INVALID_FILTER` for a malformed filter, `ERR_INVALID_ARGUMENT`
   *   for bad options (a vector query in keyword or hybrid mode without text, say),
   *   `ERR_DIMENSION_MISMATCH` for a query vector of the wrong length.
   */
  async search(query: string | Float32Array | readonly number[], options: CollectionSearchOptions = {}): Promise<CollectionHit[]> {
    this.#open()
    checkOptions(options, 'search')
    const isText = typeof query === 'string'
    if (!isText && !(query instanceof Float32Array) && !Array.isArray(query)) {
      throw invalid('ERR_INVALID_ARGUMENT', `query must be a string or a vector, got ${typeof query}`)
    }
    const k = options.k ?? 10
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_K) {
      throw invalid('ERR_INVALID_ARGUMENT', `k must be an integer from 1 to ${MAX_K}, got ${String(k)}`)
    }
    const mode = options.mode ?? (isText ? 'hybrid' : 'vector')
    if (mode !== 'vector' && mode !== 'keyword' && mode !== 'hybrid') {
      throw invalid('ERR_INVALID_ARGUMENT', `mode must be 'vector', 'keyword' or 'hybrid', got ${String(mode)}`)
    }
    if (!isText && mode !== 'vector') {
      throw invalid('ERR_INVALID_ARGUMENT', `${mode} search needs the query text (pass the vector as options.vector to skip embedding)`)
    }
    const fusion = options.fusion ?? (options.rrfK !== undefined || options.vectorWeight !== undefined ? 'rrf' : 'zscore')
    if (fusion !== 'zscore' && fusion !== 'minmax' && fusion !== 'rrf') {
      throw invalid('ERR_INVALID_ARGUMENT', `fusion must be 'zscore', 'minmax' or 'rrf', got ${String(fusion)}`)
    }
    const alpha = options.alpha ?? DEFAULT_ALPHA
    if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) {
      throw invalid('ERR_INVALID_ARGUMENT', `alpha must be a number from 0 to 1, got ${String(alpha)}`)
    }
    const rrfK = options.rrfK ?? DEFAULT_RRF_K
    if (typeof rrfK !== 'number' || !Number.isFinite(rrfK) || rrfK < 0) {
      throw invalid('ERR_INVALID_ARGUMENT', `rrfK must be a non-negative number, got ${String(rrfK)}`)
    }
    const wVec = options.vectorWeight ?? 1
    if (typeof wVec !== 'number' || !Number.isFinite(wVec) || wVec < 0) {
      throw invalid('ERR_INVALID_ARGUMENT', `vectorWeight must be a non-negative number, got ${String(wVec)}`)
    }
    // Capped: k above MAX_K / 2 must not make the default exceed the limit a caller is held to.
    const candidates = options.candidates ?? Math.min(MAX_K, Math.max(50, 2 * k))
    if (typeof candidates !== 'number' || !Number.isInteger(candidates) || candidates < k || candidates > MAX_K) {
      throw invalid('ERR_INVALID_ARGUMENT', `candidates must be an integer from k to ${MAX_K}, got ${String(candidates)}`)
    }
    const ef = options.ef
    if (ef !== undefined && (typeof ef !== 'number' || !Number.isInteger(ef) || ef < 1)) {
      throw invalid('ERR_INVALID_ARGUMENT', `ef must be a positive integer, got ${String(ef)}`)
    }
    const filter = options.filter === undefined ? undefined : compileFilter(options.filter)
    let qvec: Float32Array | undefined
    if (mode !== 'keyword') {
      if (!isText) qvec = checkVector(query, this.#dim, 'query')
      else if (options.vector !== undefined) qvec = checkVector(options.vector, this.#dim, 'options.vector')
    }
    const text = isText ? (query as string) : ''
    if (mode === 'keyword') return this.#hits(this.#keyword(text, k, filter === undefined ? undefined : this.#filterKeys(filter)), k)
    // Embedding is the slow part and may wait on I/O: do it before touching the index, then re-check.
    if (qvec === undefined) {
      const v = await this.#needEmbedder(`${mode} search with a text query`).embed(text)
      this.#open()
      qvec = checkVector(v, this.#dim, 'query embedding')
    }
    const allow = filter === undefined ? undefined : this.#filterKeys(filter)
    if (mode === 'vector') return this.#hits(this.#vectorSearch(qvec, k, allow, ef), k)
    const depth = candidates
    const kw = this.#keyword(text, depth, allow)
    const vec = this.#vectorSearch(qvec, depth, allow, ef === undefined ? undefined : Math.max(ef, depth))
    const fused = fusion === 'rrf' ? rrf(kw, vec, rrfK, 1, wVec) : fusion === 'minmax' ? weighted(kw, vec, alpha) : zscore(kw, vec, alpha)
    return this.#hits(fused, k)
  }

  /**
   * Re-embeds every document with `embedder` into a new index while the old model and index keep
   * serving searches, then switches atomically (database and index together) and pins the new model.
   * Vectors are kept as they arrive, so an aborted migration resumes where it stopped (and an
   * embedding cache in `embedder` saves the requests too). Writes are refused (`ERR_BUSY`) until it ends.
   *
   * @throws AbortedError `ERR_ABORTED` when `signal` aborts (nothing switched).
   * @throws BusyError `ERR_BUSY` when a migration is already running.
   */
  async migrate(embedder: Embedder, options: MigrateOptions = {}): Promise<MigrateResult> {
    this.#open()
    checkEmbedder(embedder, 'migrate: the new embedder')
    checkOptions(options, 'migrate')
    if (this.#migrating) throw new BusyError('a migration is already running on this collection')
    const target = pinOf(embedder.identity)
    const { signal, onProgress } = options
    this.#migrating = true
    try {
      // Wait for writes already queued, so the set of documents is stable while we embed.
      await this.#writes.run(async () => undefined)
      const db = this.#db
      const stored = getMeta(db, 'migration_target')
      if (stored === undefined || !samePin(JSON.parse(stored) as PinnedModel, target)) {
        db.transaction(() => {
          db.prepare('DELETE FROM migration').run()
          setMeta(db, 'migration_target', JSON.stringify(target))
        })()
      }
      const total = this.count()
      let embedded = 0
      let dim: number | undefined = this.#migrationDim()
      const todo = db.prepare(
        `SELECT d.key, d.text FROM docs d LEFT JOIN migration m ON m.key = d.key
         WHERE m.key IS NULL AND d.key > ? ORDER BY d.key LIMIT ${EMBED_PAGE}`,
      )
      const insert = db.prepare('INSERT OR REPLACE INTO migration (key, vector) VALUES (?, ?)')
      const doneCount = (): number => (db.prepare('SELECT count(*) AS n FROM migration').get() as { n: number }).n
      onProgress?.({ done: doneCount(), total })
      let after = -1
      // Bounded: each page advances `after` past at least one key.
      for (;;) {
        if (signal?.aborted) throw aborted(signal, 'migrate')
        const rows = todo.all(after) as { key: number; text: string }[]
        if (rows.length === 0) break
        let vectors: Float32Array[]
        try {
          vectors = await embedder.embedMany(
            rows.map((r) => r.text),
            { signal },
          )
        } catch (err) {
          if (err instanceof EmbeddingAbortedError || signal?.aborted) throw aborted(signal, 'migrate', err)
          throw err
        }
        dim ??= (vectors[0] as Float32Array).length
        for (const v of vectors) {
          if (v.length !== dim) throw invalid('ERR_DIMENSION_MISMATCH', `the new embedder returned ${v.length} and ${dim} dimensions`)
        }
        db.transaction(() => {
          rows.forEach((r, i) => insert.run(r.key, toBlob(vectors[i] as Float32Array)))
        })()
        embedded += rows.length
        after = (rows[rows.length - 1] as { key: number }).key
        onProgress?.({ done: doneCount(), total })
      }
      if (signal?.aborted) throw aborted(signal, 'migrate')
      if (total > 0 && dim === undefined) throw new FerrovecError('ERR_NATIVE', 'migration found no vectors')
      // Build the new index off to the side; searches keep using the old one.
      const gen = this.#gen + 1
      const next = dim === undefined ? undefined : newIndex(this.#indexInfo, dim)
      if (next !== undefined) {
        const rows = db.prepare('SELECT m.key, m.vector FROM migration m JOIN docs d ON d.key = m.key').all() as { key: number; vector: Buffer }[]
        if (rows.length > 0) await next.addBatch(Float64Array.from(rows.map((r) => r.key)), rows.map((r) => fromBlob(r.vector)))
      }
      if (signal?.aborted) throw aborted(signal, 'migrate')
      const path = next === undefined ? undefined : join(this.dir, indexFileName(gen, this.#indexInfo.type))
      if (next !== undefined && path !== undefined) await next.save(path)
      // The switch: one transaction moves the vectors, the pin and the index pointer together. A
      // crash before it leaves the old collection (the new file is an orphan, removed on open).
      const oldPath = this.#indexPath()
      db.transaction(() => {
        db.prepare('UPDATE docs SET vector = (SELECT vector FROM migration m WHERE m.key = docs.key) WHERE key IN (SELECT key FROM migration)').run()
        db.prepare('DELETE FROM migration').run()
        deleteMeta(db, 'migration_target')
        setMeta(db, 'model', JSON.stringify(target))
        if (dim !== undefined) setMeta(db, 'dim', String(dim))
        else deleteMeta(db, 'dim')
        setMeta(db, 'generation', String(gen))
        setMeta(db, 'index_seq', getMeta(db, 'seq') ?? '0')
        if (path !== undefined) setMeta(db, 'index_file', indexFileName(gen, this.#indexInfo.type))
        else deleteMeta(db, 'index_file')
      })()
      this.#index = next
      this.#exact = undefined
      this.#gen = gen
      this.#dim = dim
      this.#pin = target
      const old = this.#embedder
      const ownedOld = this.#ownsEmbedder
      this.#embedder = embedder
      this.#ownsEmbedder = false
      this.#unsaved = 0
      if (oldPath !== undefined) rmSync(oldPath, { force: true })
      if (ownedOld && old !== null) await (old as { close?: () => Promise<void> }).close?.()
      onProgress?.({ done: total, total })
      return { embedded, total }
    } finally {
      this.#migrating = false
    }
  }

  /** Saves the index if it has unsaved changes (writes save on their own from time to time). */
  async flush(): Promise<void> {
    this.#open()
    // Nothing written since the last checkpoint: the file on disk already is this index (rewriting a
    // large index costs seconds of I/O for nothing).
    await this.#writes.run(async () => {
      if (this.#unsaved > 0) await this.#checkpoint()
    })
  }

  /**
   * Saves what is unsaved and closes the database (and the default embedder, if it was created here).
   * Further calls throw `ERR_CLOSED`; during a migration it throws `ERR_BUSY`.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#migrating) throw new BusyError('close: a migration is running; abort it (its signal) or wait for it first')
    await this.#writes.run(async () => {
      if (this.#closed) return
      if (this.#unsaved > 0) await this.#checkpoint()
      this.#closed = true
      this.#db.close()
      if (this.#ownsEmbedder && this.#embedder !== null) await (this.#embedder as { close?: () => Promise<void> }).close?.()
    })
  }

  // ---- internals ----

  #open(): void {
    if (this.#closed) throw new ClosedError(`the collection in ${this.dir} is closed`)
  }

  #nextSeq(): number {
    const seq = Number(getMeta(this.#db, 'seq') ?? '0') + 1
    setMeta(this.#db, 'seq', String(seq))
    return seq
  }

  #indexPath(): string | undefined {
    const f = getMeta(this.#db, 'index_file')
    return f === undefined ? undefined : join(this.dir, f)
  }

  #migrationDim(): number | undefined {
    const row = this.#db.prepare('SELECT vector FROM migration LIMIT 1').get() as { vector: Buffer } | undefined
    return row === undefined ? undefined : row.vector.byteLength / 4
  }

  #validate(docs: readonly CollectionDocument[]): Prepared[] {
    if (!Array.isArray(docs)) throw invalid('ERR_INVALID_ARGUMENT', 'upsert expects an array of documents')
    const seen = new Set<string>()
    const out: Prepared[] = []
    docs.forEach((d: unknown, i) => {
      if (d === null || typeof d !== 'object') throw invalid('ERR_INVALID_ARGUMENT', `document ${i} must be an object, got ${d === null ? 'null' : typeof d}`)
      const doc = d as Partial<CollectionDocument>
      if (typeof doc.id !== 'string' || doc.id === '') {
        throw invalid('ERR_INVALID_ARGUMENT', `document ${i}: id must be a non-empty string, got ${JSON.stringify(doc.id) ?? 'undefined'}`)
      }
      if (seen.has(doc.id)) throw new DuplicateKeyError(`document ${i}: id ${JSON.stringify(doc.id)} appears more than once in this call`)
      seen.add(doc.id)
      if (typeof doc.text !== 'string' || doc.text.trim() === '') {
        throw invalid('ERR_INVALID_ARGUMENT', `document ${JSON.stringify(doc.id)}: text must be a non-empty string, got ${doc.text === undefined ? 'nothing' : JSON.stringify(doc.text)}`)
      }
      const metadata = metadataJson(doc.metadata, `document ${JSON.stringify(doc.id)}`)
      const vector = doc.vector === undefined ? undefined : checkVector(doc.vector, this.#dim, `document ${JSON.stringify(doc.id)}`)
      out.push({ id: doc.id, text: doc.text, metadata, vector, parent: null, chunk: null })
    })
    const firstDim = out.find((p) => p.vector !== undefined)?.vector?.length
    if (this.#dim === undefined && firstDim !== undefined) {
      for (const p of out) {
        if (p.vector !== undefined && p.vector.length !== firstDim) {
          throw invalid('ERR_DIMENSION_MISMATCH', `document ${JSON.stringify(p.id)}: ${p.vector.length} dimensions, but other documents in this call have ${firstDim}`)
        }
      }
      const known = this.#embedder?.dimensions
      if (known !== undefined && firstDim !== known) {
        throw invalid('ERR_DIMENSION_MISMATCH', `the vectors given have ${firstDim} dimensions; the collection's model gives ${known}`)
      }
    }
    return out
  }

  async #chunk(docs: Prepared[], options: ChunkOptions): Promise<Prepared[]> {
    const out: Prepared[] = []
    for (const d of docs) {
      if (d.vector !== undefined) throw invalid('ERR_INVALID_ARGUMENT', `document ${JSON.stringify(d.id)}: a precomputed vector cannot be chunked`)
      const chunks = await chunkText(d.text, options)
      for (const c of chunks) {
        out.push({ id: `${d.id}#${c.index}`, text: c.text, metadata: d.metadata, vector: undefined, parent: d.id, chunk: { index: c.index, start: c.start, end: c.end } })
      }
    }
    return out
  }

  #commitUpsert(prepared: Prepared[], dim: number | undefined): { result: UpsertResult; keys: Float64Array; removed: number[] } {
    const s = this.#stmts
    const keys = new Float64Array(prepared.length)
    const removed: number[] = []
    let added = 0
    let updated = 0
    this.#db.transaction(() => {
      const seq = this.#nextSeq()
      if (this.#dim === undefined && dim !== undefined) setMeta(this.#db, 'dim', String(dim))
      // A re-chunked document (or one upserted whole that was chunked before): its old chunks not in
      // this call go.
      const parents = new Set(prepared.map((p) => p.parent ?? p.id))
      const ids = new Set(prepared.map((p) => p.id))
      for (const parent of parents) {
        for (const row of s.chunksOf.all(parent) as { key: number; id: string; text: string }[]) {
          if (ids.has(row.id)) continue
          s.ftsDelete.run(row.key, row.text)
          s.deleteKey.run(row.key)
          s.deleteMeta.run(row.key)
          removed.push(row.key)
        }
      }
      prepared.forEach((p, i) => {
        const blob = toBlob(p.vector as Float32Array)
        const old = s.byId.get(p.id) as { key: number; text: string } | undefined
        const c = p.chunk
        if (old === undefined) {
          const info = s.insert.run(p.id, p.text, blob, seq, p.parent, c?.index ?? null, c?.start ?? null, c?.end ?? null)
          const key = Number(info.lastInsertRowid)
          s.setMeta.run(key, p.metadata)
          s.ftsInsert.run(key, p.text)
          keys[i] = key
          added++
        } else {
          s.ftsDelete.run(old.key, old.text)
          s.update.run(p.text, blob, seq, p.parent, c?.index ?? null, c?.start ?? null, c?.end ?? null, old.key)
          s.setMeta.run(old.key, p.metadata)
          s.ftsInsert.run(old.key, p.text)
          keys[i] = old.key
          updated++
        }
      })
    })()
    if (this.#dim === undefined && dim !== undefined) this.#dim = dim
    return { result: { added, updated }, keys, removed }
  }

  #ensureIndex(dim: number): VectorIndex {
    this.#index ??= newIndex(this.#indexInfo, dim)
    return this.#index
  }

  async #maybeCheckpoint(): Promise<void> {
    // The index file is a checkpoint: the database already holds every change (and recovery replays
    // them), so saving after every small write would only rewrite the whole file for nothing.
    const n = this.count()
    if (this.#unsaved >= Math.max(1000, Math.floor(n / 10)) || this.#unsaved >= n) await this.#checkpoint()
  }

  /** Saves the index under a new generation, then points the database at it. */
  async #checkpoint(): Promise<void> {
    const index = this.#index
    const seq = getMeta(this.#db, 'seq') ?? '0'
    if (index === undefined) {
      setMeta(this.#db, 'index_seq', seq)
      this.#unsaved = 0
      return
    }
    if (index instanceof HnswIndex && index.deletedCount > index.size / 5) await index.compact()
    const name = indexFileName(this.#gen, this.#indexInfo.type)
    await index.save(join(this.dir, name))
    this.#db.transaction(() => {
      setMeta(this.#db, 'index_file', name)
      setMeta(this.#db, 'index_seq', seq)
    })()
    this.#unsaved = 0
  }

  /** Brings the index in line with the database (after a crash, or a missing/damaged index file). */
  async #recover(): Promise<void> {
    const db = this.#db
    // Index files of other generations are leftovers of a migration that crashed before switching.
    const current = getMeta(db, 'index_file')
    for (const f of readdirSync(this.dir)) {
      if (/^\.?index-\d+\.(hnsw|flat)(\.\d+-\d+\.tmp)?$/.test(f) && f !== current) rmSync(join(this.dir, f), { force: true })
    }
    const dim = this.#dim
    if (dim === undefined) return
    let index: VectorIndex | undefined
    let since = Number(getMeta(db, 'index_seq') ?? '0')
    const path = this.#indexPath()
    if (path !== undefined && existsSync(path)) {
      try {
        index = await loadIndex(this.#indexInfo, path, dim)
      } catch {
        // A damaged checkpoint is rebuilt from the database, which has every vector.
        index = undefined
      }
    }
    if (index === undefined) {
      index = newIndex(this.#indexInfo, dim)
      since = 0
    }
    if (index instanceof HnswIndex && index.efSearch !== this.#indexInfo.efSearch) index.efSearch = this.#indexInfo.efSearch
    let changed = 0
    const stale = db.prepare('SELECT key, vector FROM docs WHERE seq > ?').all(since) as { key: number; vector: Buffer }[]
    if (stale.length > 0) {
      await index.addBatch(Float64Array.from(stale.map((r) => r.key)), stale.map((r) => fromBlob(r.vector)), { upsert: true })
      changed += stale.length
    }
    const live = new Set((db.prepare('SELECT key FROM docs').pluck().all() as number[]))
    for (const key of index.keys()) {
      if (!live.has(key)) {
        index.remove(key)
        changed++
      }
    }
    this.#index = index
    if (changed > 0) {
      this.#unsaved = changed
      await this.#checkpoint()
    }
  }

  /** The keys matching `filter`, evaluated once per search and shared by both retrievers. */
  #filterKeys(filter: ReturnType<typeof compileFilter>): number[] {
    return this.#cached(`SELECT key FROM doc_meta WHERE ${filter.sql}`).pluck().all(...filter.params) as number[]
  }

  #keyword(text: string, limit: number, allow: number[] | undefined): Ranked[] {
    const match = ftsQuery(text)
    if (match === undefined) return []
    if (allow !== undefined && allow.length === 0) return []
    // `+rowid`: keeps SQLite from handing the key set to FTS5 as a rowid constraint, which makes it
    // look every allowed key up on its own (1.7 s for 500 keys); checked per match, it costs little.
    const where = allow === undefined ? '' : ' AND +rowid IN (SELECT value FROM json_each(?))'
    const sql = `SELECT rowid AS key, -bm25(docs_fts) AS score FROM docs_fts WHERE docs_fts MATCH ?${where} ORDER BY bm25(docs_fts) LIMIT ?`
    const params = allow === undefined ? [match, limit] : [match, JSON.stringify(allow), limit]
    return this.#cached(sql).all(...params) as Ranked[]
  }

  #vectorSearch(q: Float32Array, limit: number, keys: number[] | undefined, ef: number | undefined): Ranked[] {
    const index = this.#index
    if (index === undefined || index.size === 0) return []
    if (keys !== undefined && keys.length === 0) return []
    const allow = keys === undefined ? undefined : Float64Array.from(keys)
    const r =
      index.quantization?.trained === false
        ? this.#untrainedExact().search(q, limit, { filter: allow })
        : index instanceof HnswIndex
          ? index.search(q, limit, { filter: allow, ef: ef === undefined ? undefined : Math.max(ef, limit) })
          : index.search(q, limit, { filter: allow })
    const out: Ranked[] = []
    const l2 = this.#indexInfo.metric === 'l2'
    for (let i = 0; i < r.keys.length; i++) {
      const d = r.distances[i] as number
      out.push({ key: r.keys[i] as number, score: l2 ? -d : 1 - d })
    }
    return out
  }

  /**
   * Exact search for a quantised index that has not trained yet (fewer documents than its training
   * threshold, ~1,000): a float32 FlatIndex over the database's vectors, rebuilt when a write has
   * happened since (the sequence number moves with every write).
   */
  #untrainedExact(): FlatIndex<CollectionMetric> {
    const seq = getMeta(this.#db, 'seq') ?? '0'
    if (this.#exact?.seq !== seq) {
      const rows = this.#db.prepare('SELECT key, vector FROM docs').all() as { key: number; vector: Buffer }[]
      const exact = new FlatIndex<CollectionMetric>({ dim: this.#dim as number, metric: this.#indexInfo.metric })
      exact.addBatchSync(Float64Array.from(rows.map((r) => r.key)), rows.map((r) => fromBlob(r.vector)))
      this.#exact = { seq, index: exact }
    }
    return this.#exact.index
  }

  #exact: { seq: string; index: FlatIndex<CollectionMetric> } | undefined

  readonly #stmtCache = new Map<string, BetterSqlite3.Statement>()
  #cached(sql: string): BetterSqlite3.Statement {
    let s = this.#stmtCache.get(sql)
    if (s === undefined) {
      s = this.#db.prepare(sql)
      // Filters have as many shapes as callers write; keep the cache bounded.
      if (this.#stmtCache.size > 256) this.#stmtCache.clear()
      this.#stmtCache.set(sql, s)
    }
    return s
  }

  #hits(ranked: readonly { key: number; score: number }[], k: number): CollectionHit[] {
    const top = ranked.slice(0, k)
    if (top.length === 0) return []
    const rows = this.#cached(`SELECT d.key, id, text, json(metadata) AS metadata, parent, chunk_index, chunk_start, chunk_end FROM docs d LEFT JOIN doc_meta m ON m.key = d.key WHERE d.key IN (${top.map(() => '?').join(',')})`).all(
      ...top.map((r) => r.key),
    ) as DocRow[]
    const byKey = new Map(rows.map((r) => [r.key, r]))
    const out: CollectionHit[] = []
    for (const r of top) {
      const row = byKey.get(r.key)
      if (row === undefined) continue // deleted between the index search and this read
      out.push({ ...toStored(row), score: r.score })
    }
    return out
  }
}

function toStored(row: DocRow): StoredDocument {
  const doc: StoredDocument = {
    id: row.id,
    text: row.text,
    metadata: row.metadata === null ? {} : (JSON.parse(row.metadata) as Record<string, unknown>),
  }
  if (row.parent !== null) {
    doc.chunk = { parent: row.parent, index: row.chunk_index as number, start: row.chunk_start as number, end: row.chunk_end as number }
  }
  return doc
}

function indexFileName(gen: number, type: CollectionIndexType): string {
  return `index-${gen}.${type}`
}

function getMeta(db: Database, name: string): string | undefined {
  return (db.prepare('SELECT name, value FROM meta WHERE name = ?').get(name) as MetaRow | undefined)?.value
}

function setMeta(db: Database, name: string, value: string): void {
  db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value').run(name, value)
}

function deleteMeta(db: Database, name: string): void {
  db.prepare('DELETE FROM meta WHERE name = ?').run(name)
}

function createSchema(db: Database, pin: PinnedModel, index: CollectionIndexInfo, dim: number | undefined): void {
  db.transaction(() => {
    db.exec(`
      CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE docs (
        key INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        seq INTEGER NOT NULL,
        parent TEXT,
        chunk_index INTEGER,
        chunk_start INTEGER,
        chunk_end INTEGER,
        text TEXT NOT NULL,
        vector BLOB NOT NULL
      );
      -- Metadata in its own narrow table, as JSONB: a filter scans every row's metadata, and beside
      -- text and vector each row would fill a page of its own (a 5,000-abstract filter read 20 MB
      -- and took 25 ms; here it reads a few pages and parses no JSON).
      CREATE TABLE doc_meta (key INTEGER PRIMARY KEY, metadata BLOB);
      CREATE INDEX docs_seq ON docs (seq);
      CREATE INDEX docs_parent ON docs (parent) WHERE parent IS NOT NULL;
      CREATE VIRTUAL TABLE docs_fts USING fts5(text, content = 'docs', content_rowid = 'key', tokenize = 'porter unicode61 remove_diacritics 2');
      CREATE TABLE migration (key INTEGER PRIMARY KEY, vector BLOB NOT NULL);
    `)
    setMeta(db, 'schema_version', String(SCHEMA_VERSION))
    setMeta(db, 'created_at', new Date().toISOString())
    setMeta(db, 'model', JSON.stringify(pin))
    setMeta(db, 'index', JSON.stringify(index))
    setMeta(db, 'seq', '0')
    setMeta(db, 'index_seq', '0')
    setMeta(db, 'generation', '0')
    if (dim !== undefined) setMeta(db, 'dim', String(dim))
  })()
}

function prepareStatements(db: Database) {
  return {
    count: db.prepare('SELECT count(*) AS n FROM docs'),
    getById: db.prepare(
      'SELECT d.key, id, text, json(metadata) AS metadata, parent, chunk_index, chunk_start, chunk_end FROM docs d LEFT JOIN doc_meta m ON m.key = d.key WHERE id = ?',
    ),
    byId: db.prepare('SELECT key, text FROM docs WHERE id = ?'),
    vectorIfSame: db.prepare('SELECT vector FROM docs WHERE id = ? AND text = ?'),
    insert: db.prepare(
      'INSERT INTO docs (id, text, vector, seq, parent, chunk_index, chunk_start, chunk_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    update: db.prepare(
      'UPDATE docs SET text = ?, vector = ?, seq = ?, parent = ?, chunk_index = ?, chunk_start = ?, chunk_end = ? WHERE key = ?',
    ),
    setMeta: db.prepare('INSERT OR REPLACE INTO doc_meta (key, metadata) VALUES (?, jsonb(?))'),
    deleteMeta: db.prepare('DELETE FROM doc_meta WHERE key = ?'),
    ftsInsert: db.prepare('INSERT INTO docs_fts (rowid, text) VALUES (?, ?)'),
    ftsDelete: db.prepare("INSERT INTO docs_fts (docs_fts, rowid, text) VALUES ('delete', ?, ?)"),
    deleteKey: db.prepare('DELETE FROM docs WHERE key = ?'),
    keysOfIdOrParent: db.prepare('SELECT key, text FROM docs WHERE id = ? OR parent = ?'),
    chunksOf: db.prepare('SELECT key, id, text FROM docs WHERE parent = ?'),
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

function infoFrom(db: Database, dir: string, efSearch: number | undefined): CollectionInfo {
  const model = getMeta(db, 'model')
  const indexMeta = metaJson<CollectionIndexInfo>(db, 'index', join(dir, DB_FILE))
  const dim = getMeta(db, 'dim')
  const indexFile = getMeta(db, 'index_file')
  const dbPath = join(dir, DB_FILE)
  const dbBytes = fileSize(dbPath) + fileSize(`${dbPath}-wal`)
  const indexPath = indexFile === undefined ? undefined : join(dir, indexFile)
  const indexBytes = indexPath === undefined ? 0 : fileSize(indexPath)
  const target = getMeta(db, 'migration_target')
  const info: CollectionInfo = {
    dir,
    dbPath,
    indexPath,
    count: (db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n,
    model: model === undefined ? undefined : (JSON.parse(model) as PinnedModel),
    dim: dim === undefined ? undefined : Number(dim),
    index: efSearch === undefined ? indexMeta : { ...indexMeta, efSearch },
    sizes: { db: dbBytes, index: indexBytes, total: dbBytes + indexBytes },
    createdAt: getMeta(db, 'created_at') ?? '',
  }
  if (target !== undefined) {
    info.migration = {
      model: JSON.parse(target) as PinnedModel,
      done: (db.prepare('SELECT count(*) AS n FROM migration').get() as { n: number }).n,
    }
  }
  return info
}

