// Readers for the standard vector file formats the field's data sets use: TEXMEX `.fvecs`/`.ivecs`
// (SIFT1M, ann-benchmarks ground truth) and LeCun's IDX (MNIST, Fashion-MNIST). Gzipped files are
// recognised by name. Everything is validated: a malformed file throws, it never yields garbage.
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { FerrovecError } from '../errors.js'

function load(path: string): Buffer {
  const raw = readFileSync(path)
  return path.endsWith('.gz') ? gunzipSync(raw) : raw
}

function corrupt(path: string, why: string): FerrovecError {
  return new FerrovecError('ERR_INVALID_ARGUMENT', `${path}: ${why}`)
}

/** A row-major matrix of `rows × dim` values. */
export interface Matrix<A> {
  rows: number
  dim: number
  data: A
}

function readVecs<A extends Float32Array | Int32Array>(path: string, make: (n: number) => A, int: boolean): Matrix<A> {
  const buf = load(path)
  if (buf.length < 4) throw corrupt(path, 'too short to hold a vecs header')
  const dim = buf.readInt32LE(0)
  if (dim <= 0) throw corrupt(path, `first row declares ${dim} dimensions`)
  const stride = 4 * (dim + 1)
  if (buf.length % stride !== 0) throw corrupt(path, `size ${buf.length} is not a multiple of the row size ${stride}`)
  const rows = buf.length / stride
  const data = make(rows * dim)
  for (let r = 0; r < rows; r++) {
    const off = r * stride
    if (buf.readInt32LE(off) !== dim) throw corrupt(path, `row ${r} declares ${buf.readInt32LE(off)} dimensions, expected ${dim}`)
    for (let j = 0; j < dim; j++) data[r * dim + j] = int ? buf.readInt32LE(off + 4 + 4 * j) : buf.readFloatLE(off + 4 + 4 * j)
  }
  return { rows, dim, data }
}

/** Reads a `.fvecs` (optionally `.gz`) file. */
export function readFvecs(path: string): Matrix<Float32Array> {
  return readVecs(path, (n) => new Float32Array(n), false)
}

/** Reads an `.ivecs` (optionally `.gz`) file. */
export function readIvecs(path: string): Matrix<Int32Array> {
  return readVecs(path, (n) => new Int32Array(n), true)
}

/** Reads IDX images (magic 2051) as float32 rows of `height × width` pixels. */
export function readIdxImages(path: string): Matrix<Float32Array> {
  const buf = load(path)
  if (buf.length < 16 || buf.readUInt32BE(0) !== 2051) throw corrupt(path, 'not an IDX image file (magic 2051)')
  const rows = buf.readUInt32BE(4)
  const dim = buf.readUInt32BE(8) * buf.readUInt32BE(12)
  if (buf.length !== 16 + rows * dim) throw corrupt(path, `expected ${16 + rows * dim} bytes for ${rows} images, got ${buf.length}`)
  return { rows, dim, data: Float32Array.from(buf.subarray(16)) }
}

/** Reads IDX labels (magic 2049). */
export function readIdxLabels(path: string): Uint8Array {
  const buf = load(path)
  if (buf.length < 8 || buf.readUInt32BE(0) !== 2049) throw corrupt(path, 'not an IDX label file (magic 2049)')
  const n = buf.readUInt32BE(4)
  if (buf.length !== 8 + n) throw corrupt(path, `expected ${8 + n} bytes for ${n} labels, got ${buf.length}`)
  return new Uint8Array(buf.subarray(8))
}
