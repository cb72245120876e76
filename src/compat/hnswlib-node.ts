// `ferrovec/hnswlib-node`: a drop-in for hnswlib-node 3.x on ferrovec's engine.
//
// Same module shape (named exports, a default export holding the four classes, and `require()`),
// same classes, methods, argument forms, defaults, return shapes, space semantics and error
// messages; the index files are hnswlib's own format, both ways. Deliberate differences (each
// listed in the README): Float32Array accepted, labels above 2^32 − 1 and NaN rejected instead of
// wrapped or stored, a throwing filter is a thrown error instead of an abort, a file of another
// dimension is refused, and `searchKnnAsync` runs a search off the JS thread.
import { readFile, writeFile, rename, rm } from 'node:fs/promises'
import { readFileSync, writeFileSync, renameSync, rmSync, existsSync } from 'node:fs'
import { awaitNative, callNative, InvalidInputError, IoError, CorruptFileError } from '../errors.js'
import { native } from '../native.js'
import type { NativeHnswlib } from '../native.js'
import { INTO_MAX_K, searchInto } from '../vectors.js'

export type SpaceName = 'l2' | 'ip' | 'cosine'

export interface SearchResult {
  distances: number[]
  neighbors: number[]
}

export type FilterFunction = (label: number) => boolean

/** A vector: hnswlib-node takes `number[]`; a `Float32Array` (or any numeric array) works too. */
export type Point = ArrayLike<number>

const MAX_LABEL = 0xffff_ffff

// hnswlib-node's own messages, so programs matching on them keep working; each also carries a
// ferrovec `code`.
function argCount(expected: string, got: number): InvalidInputError {
  return new InvalidInputError('ERR_INVALID_ARGUMENT', `Expected ${expected} arguments, but got ${got}.`)
}

function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARGUMENT' as const })
}

function hnswError(message: string, code: 'ERR_INVALID_ARGUMENT' | 'ERR_INVALID_KEY' = 'ERR_INVALID_ARGUMENT') {
  return new InvalidInputError(code, `Hnswlib Error: ${message}`)
}

const NOT_INITIALIZED = 'Search index has not been initialized, call `initIndex` in advance.'
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth']

function isPoint(v: unknown): v is Point {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))
}

function checkSpace(space: unknown, dim: unknown, n: number): number {
  if (n !== 2) throw argCount('2', n)
  if (typeof space !== 'string') throw typeError('Invalid the first argument type, must be a string.')
  if (typeof dim !== 'number') throw typeError('Invalid the second argument type, must be a number.')
  if (space !== 'l2' && space !== 'ip' && space !== 'cosine') {
    throw new InvalidInputError('ERR_UNKNOWN_METRIC', 'Wrong space name, expected "l2", "ip", or "cosine".')
  }
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_LABEL) {
    throw new InvalidInputError('ERR_INVALID_ARGUMENT', `numDimensions must be an integer in 1..${MAX_LABEL}, got ${dim}`)
  }
  return dim
}

/** A label as hnswlib-node takes it, but refused (not wrapped) outside 0..2^32 − 1. */
function toLabel(label: number): number {
  if (!Number.isInteger(label) || label < 0 || label > MAX_LABEL) {
    throw new InvalidInputError(
      'ERR_INVALID_KEY',
      `labels are integers in 0..${MAX_LABEL} (hnswlib-node would wrap ${label} to 32 bits), got ${label}`,
    )
  }
  return label
}

/** A point as f32, its length checked with hnswlib-node's message (values are checked natively). */
function toF32(point: Point, dim: number): Float32Array {
  if (point.length !== dim) {
    throw new InvalidInputError(
      'ERR_DIMENSION_MISMATCH',
      `Invalid the given array length (expected ${dim}, but got ${point.length}).`,
    )
  }
  return point instanceof Float32Array ? point : new Float32Array(point)
}

/** {@link toF32}, then finite values checked and, with `normalize`, scaled to unit length. */
function toVector(point: Point, dim: number, normalize: boolean): Float32Array {
  const v = Float32Array.from(toF32(point, dim))
  for (let i = 0; i < dim; i++) {
    const x = v[i] as number
    if (!Number.isFinite(x)) {
      throw new InvalidInputError(
        'ERR_INVALID_VECTOR',
        `vector values must be finite 32-bit floats; element ${i} is ${String(point[i])}`,
      )
    }
  }
  if (normalize) normalizeInPlace(v)
  return v
}

// As hnswlib-node: the norm is accumulated in f32, and a zero vector stays zero.
function normalizeInPlace(v: Float32Array): void {
  let sum = 0
  for (let i = 0; i < v.length; i++) sum = Math.fround(sum + Math.fround((v[i] as number) * (v[i] as number)))
  const norm = Math.fround(Math.sqrt(Math.abs(sum)))
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / norm
}

function checkFilter(filter: unknown, n: number): FilterFunction | undefined {
  if (filter !== undefined && typeof filter !== 'function') {
    throw typeError(`Invalid the ${ORDINALS[n]} argument type, must be a function.`)
  }
  return filter as FilterFunction | undefined
}

function toResult(r: { keys: Float64Array; distances: Float32Array }): SearchResult {
  return { distances: Array.from(r.distances), neighbors: Array.from(r.keys) }
}

function missingFile(filename: string): never {
  throw new IoError(`Hnswlib Error: failed to open file: ${filename}`)
}

function distanceArgs(dim: number, args: unknown[]): [Float32Array, Float32Array] {
  if (args.length !== 2) throw argCount('2', args.length)
  const [a, b] = args
  if (!isPoint(a)) throw typeError('Invalid the first argument type, must be an Array.')
  if (!isPoint(b)) throw typeError('Invalid the second argument type, must be an Array.')
  for (const [which, p] of [['first', a], ['second', b]] as const) {
    if (p.length !== dim) {
      throw new InvalidInputError(
        'ERR_DIMENSION_MISMATCH',
        `Invalid the ${which} array length (expected ${dim}, but got ${p.length}).`,
      )
    }
  }
  return [toVector(a, dim, false), toVector(b, dim, false)]
}

function checkDim(args: unknown[]): number {
  if (args.length !== 1) throw argCount('1', args.length)
  const dim = args[0]
  if (typeof dim !== 'number') throw typeError('Invalid the first argument type, must be a number.')
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_LABEL) {
    throw new InvalidInputError('ERR_INVALID_ARGUMENT', `numDimensions must be an integer in 1..${MAX_LABEL}, got ${dim}`)
  }
  return dim
}

/** Squared Euclidean distance, as hnswlib's `L2Space`. */
export class L2Space {
  readonly #dim: number
  constructor(numDimensions: number)
  constructor(...args: unknown[]) {
    this.#dim = checkDim(args)
  }
  distance(pointA: Point, pointB: Point): number
  distance(...args: unknown[]): number {
    const [a, b] = distanceArgs(this.#dim, args)
    let s = 0
    for (let i = 0; i < a.length; i++) {
      const d = Math.fround((a[i] as number) - (b[i] as number))
      s = Math.fround(s + Math.fround(d * d))
    }
    return s
  }
  getNumDimensions(): number {
    return this.#dim
  }
}

/** 1 − a·b, as hnswlib's `InnerProductSpace`. */
export class InnerProductSpace {
  readonly #dim: number
  constructor(numDimensions: number)
  constructor(...args: unknown[]) {
    this.#dim = checkDim(args)
  }
  distance(pointA: Point, pointB: Point): number
  distance(...args: unknown[]): number {
    const [a, b] = distanceArgs(this.#dim, args)
    let s = 0
    for (let i = 0; i < a.length; i++) s = Math.fround(s + Math.fround((a[i] as number) * (b[i] as number)))
    return Math.fround(1 - s)
  }
  getNumDimensions(): number {
    return this.#dim
  }
}

interface InitOptions {
  maxElements: number
  m?: number
  efConstruction?: number
  randomSeed?: number
  allowReplaceDeleted?: boolean
}

function readInitArgs(args: unknown[]): Required<InitOptions> {
  if (args.length < 1) throw argCount('1-5', args.length)
  const named = args.length === 1 && typeof args[0] === 'object' && args[0] !== null
  let raw: unknown[]
  if (named) {
    const o = args[0] as Record<string, unknown>
    if (!('maxElements' in o)) throw typeError('Missing named argument `maxElements`, must be specified.')
    if (typeof o.maxElements !== 'number') throw typeError('Invalid the named argument type `maxElements`, must be a number.')
    for (const k of ['m', 'efConstruction', 'randomSeed'] as const) {
      if (k in o && typeof o[k] !== 'number') throw typeError(`Invalid the named argument type \`${k}\`, must be a number.`)
    }
    if ('allowReplaceDeleted' in o && typeof o.allowReplaceDeleted !== 'boolean') {
      // (sic: hnswlib-node's message)
      throw typeError('Invalid the named argument type `allowRepalceDeleted`, must be a boolean.')
    }
    raw = [o.maxElements, o.m, o.efConstruction, o.randomSeed, o.allowReplaceDeleted]
  } else {
    raw = args
    if (typeof raw[0] !== 'number') throw typeError('Invalid the first argument type, must be a number.')
    const names = ['sencond', 'third', 'fourth'] // (sic)
    for (let i = 1; i <= 3; i++) {
      if (raw[i] !== undefined && typeof raw[i] !== 'number') {
        throw typeError(`Invalid the ${names[i - 1]} argument type, must be a number.`)
      }
    }
    if (raw[4] !== undefined && typeof raw[4] !== 'boolean') throw typeError('Invalid the fifth argument type, must be a boolean.')
  }
  const int = (v: unknown, name: string, dflt: number): number => {
    if (v === undefined) return dflt
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_LABEL) {
      throw new InvalidInputError('ERR_INVALID_ARGUMENT', `${name} must be an integer in 0..${MAX_LABEL}, got ${String(v)}`)
    }
    return v as number
  }
  const m = int(raw[1], 'm', 16)
  return {
    maxElements: int(raw[0], 'maxElements', 0),
    m,
    // hnswlib never builds with a beam narrower than M.
    efConstruction: Math.max(int(raw[2], 'efConstruction', 200), m),
    randomSeed: int(raw[3], 'randomSeed', 100),
    allowReplaceDeleted: (raw[4] as boolean | undefined) ?? false,
  }
}

/**
 * hnswlib's HNSW index. Labels are integers in 0..2^32 − 1; vectors are `number[]` or
 * `Float32Array`. In the `cosine` space vectors are normalised on insert and on query (so
 * `getPoint` returns the normalised vector) and distances are 1 − cos.
 */
export class HierarchicalNSW {
  readonly #space: SpaceName
  readonly #dim: number
  #index: NativeHnswlib | null = null
  #maxElements = 0
  #allowReplaceDeleted = false
  #ef = 10
  /** Labels marked deleted: still counted and listed, as in hnswlib, until unmarked or replaced. */
  #deleted = new Set<number>()

  constructor(spaceName: SpaceName, numDimensions: number)
  constructor(...args: unknown[]) {
    this.#dim = checkSpace(args[0], args[1], args.length)
    this.#space = args[0] as SpaceName
  }

  get #normalize(): boolean {
    return this.#space === 'cosine'
  }

  #ready(): NativeHnswlib {
    if (this.#index === null) throw new InvalidInputError('ERR_INVALID_ARGUMENT', NOT_INITIALIZED)
    return this.#index
  }

  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number, allowReplaceDeleted?: boolean): void
  initIndex(opts: InitOptions): void
  initIndex(...args: unknown[]): void {
    const o = readInitArgs(args)
    this.#index = callNative(
      () => new native.NativeHnswlib(this.#dim, this.#space, o.m, o.efConstruction, o.randomSeed, o.maxElements),
    )
    this.#maxElements = o.maxElements
    this.#allowReplaceDeleted = o.allowReplaceDeleted
    this.#ef = 10
    this.#deleted = new Set()
  }

  #readArgs(args: unknown[]): [string, boolean] {
    if (args.length < 1) throw argCount('1-2', args.length)
    if (typeof args[0] !== 'string') throw typeError('Invalid the first argument type, must be a string.')
    if (args[1] !== undefined && typeof args[1] !== 'boolean') throw typeError('Invalid the second argument type, must be a boolean.')
    return [args[0], (args[1] as boolean | undefined) ?? false]
  }

  #adopt(index: NativeHnswlib, allowReplaceDeleted: boolean): void {
    this.#index = index
    this.#maxElements = index.fileMaxElements
    this.#allowReplaceDeleted = allowReplaceDeleted
    this.#ef = 10
    this.#deleted = new Set(index.removedKeys())
  }

  /**
   * Reads an index file written by hnswlib (hnswlib-node, Python `hnswlib`) or by this class,
   * off the JS thread. Refuses (`ERR_DIMENSION_MISMATCH`) a file of another dimension and
   * (`ERR_CORRUPT_FILE`) a damaged one; the index in memory is unchanged then.
   */
  async readIndex(filename: string, allowReplaceDeleted?: boolean): Promise<boolean>
  async readIndex(...args: unknown[]): Promise<boolean> {
    const [filename, allow] = this.#readArgs(args)
    if (!existsSync(filename)) missingFile(filename)
    const index = await awaitNative(native.NativeHnswlib.read(filename, this.#dim, this.#space))
    this.#adopt(index, allow)
    return true
  }

  readIndexSync(filename: string, allowReplaceDeleted?: boolean): void
  readIndexSync(...args: unknown[]): void {
    const [filename, allow] = this.#readArgs(args)
    if (!existsSync(filename)) missingFile(filename)
    this.#adopt(callNative(() => native.NativeHnswlib.readSync(filename, this.#dim, this.#space)), allow)
  }

  #writeArgs(args: unknown[]): string {
    if (args.length !== 1) throw argCount('1', args.length)
    if (typeof args[0] !== 'string') throw typeError('Invalid the first argument type, must be a string.')
    return args[0]
  }

  /** Writes the index in hnswlib's format off the JS thread; hnswlib-node reads it. */
  async writeIndex(filename: string): Promise<boolean>
  async writeIndex(...args: unknown[]): Promise<boolean> {
    const filename = this.#writeArgs(args)
    if (this.#index === null) throw new InvalidInputError('ERR_INVALID_ARGUMENT', 'Hnswlib Error: search index is not constructed.')
    await awaitNative(this.#index.write(filename, this.#maxElements, false))
    return true
  }

  writeIndexSync(filename: string): void
  writeIndexSync(...args: unknown[]): void {
    const filename = this.#writeArgs(args)
    const index = this.#index
    if (index === null) throw new InvalidInputError('ERR_INVALID_ARGUMENT', 'Search index is not constructed.')
    callNative(() => index.writeSync(filename, this.#maxElements, false))
  }

  resizeIndex(newMaxElements: number): void
  resizeIndex(...args: unknown[]): void {
    if (args.length !== 1) throw argCount('1', args.length)
    const n = args[0]
    if (typeof n !== 'number') throw typeError('Invalid the first argument type, must be a number.')
    this.#ready()
    if (!Number.isInteger(n) || n < 0 || n > MAX_LABEL) {
      throw new InvalidInputError('ERR_INVALID_ARGUMENT', `maxElements must be an integer in 0..${MAX_LABEL}, got ${n}`)
    }
    if (n < this.getCurrentCount()) {
      throw hnswError('Cannot resize, max element is less than the current number of elements')
    }
    this.#maxElements = n
  }

  /**
   * Adds `point` under `label`, or replaces the vector of a label already present (bringing a
   * deleted one back). With `replaceDeleted` (and `allowReplaceDeleted` at init or read), the slot
   * of a deleted label is reused for the new one.
   */
  addPoint(point: Point, label: number, replaceDeleted?: boolean): void
  addPoint(...args: unknown[]): void {
    if (args.length < 2) throw argCount('2-3', args.length)
    const [point, label, replace] = args
    if (!isPoint(point)) throw typeError('Invalid the first argument type, must be an Array.')
    if (typeof label !== 'number') throw typeError('Invalid the second argument type, must be a number.')
    if (replace !== undefined && typeof replace !== 'boolean') throw typeError('Invalid the third argument type, must be a boolean.')
    const index = this.#ready()
    const vector = toF32(point, this.#dim)
    const key = toLabel(label)
    if (replace === true && !this.#allowReplaceDeleted) {
      throw hnswError('Replacement of deleted elements is disabled in constructor')
    }
    if (index.has(key)) {
      callNative(() => index.add(key, vector, true, this.#normalize))
      return
    }
    if (this.#deleted.has(key)) {
      if (this.#allowReplaceDeleted) {
        throw hnswError("Can't use addPoint to update deleted elements if replacement of deleted elements is enabled.")
      }
      this.#revive(index, key, key, vector)
      return
    }
    const vacant = replace === true ? this.#deleted.values().next() : undefined
    if (vacant !== undefined && vacant.done !== true) {
      this.#revive(index, vacant.value, key, vector)
      return
    }
    if (this.getCurrentCount() >= this.#maxElements) {
      throw hnswError('The number of elements exceeds the specified limit')
    }
    callNative(() => index.add(key, vector, false, this.#normalize))
  }

  /** Brings back the deleted node of `old` as `key` and gives it `vector`; all or nothing. */
  #revive(index: NativeHnswlib, old: number, key: number, vector: Float32Array): void {
    callNative(() => index.restore(old, key))
    try {
      callNative(() => index.add(key, vector, true, this.#normalize))
    } catch (err) {
      // Only an allocation failure gets here (the vector was checked): put the mark back.
      index.remove(key)
      if (old !== key && index.restore(key, old)) index.remove(old)
      throw err
    }
    this.#deleted.delete(old)
  }

  #labelArg(args: unknown[]): number {
    if (args.length !== 1) throw argCount('1', args.length)
    if (typeof args[0] !== 'number') throw typeError('Invalid the first argument type, must be a number.')
    return args[0]
  }

  /** Marks `label` deleted: never returned by searches, still counted by `getCurrentCount`. */
  markDelete(label: number): void
  markDelete(...args: unknown[]): void {
    const label = this.#labelArg(args)
    const index = this.#ready()
    const key = toLabel(label)
    if (this.#deleted.has(key)) throw hnswError('The requested to delete element is already deleted', 'ERR_INVALID_KEY')
    if (!callNative(() => index.remove(key))) throw hnswError('Label not found', 'ERR_INVALID_KEY')
    this.#deleted.add(key)
  }

  unmarkDelete(label: number): void
  unmarkDelete(...args: unknown[]): void {
    const label = this.#labelArg(args)
    const index = this.#ready()
    const key = toLabel(label)
    if (!this.#deleted.has(key)) {
      if (index.has(key)) throw hnswError('The requested to undelete element is not deleted', 'ERR_INVALID_KEY')
      throw hnswError('Label not found', 'ERR_INVALID_KEY')
    }
    callNative(() => index.restore(key, key))
    this.#deleted.delete(key)
  }

  #searchArgs(args: unknown[]): { index: NativeHnswlib; query: Float32Array; k: number; allow: Float64Array | undefined } {
    if (args.length < 2) throw argCount('2-3', args.length)
    const [point, k, filter] = args
    if (!isPoint(point)) throw typeError('Invalid the first argument type, must be an Array.')
    if (typeof k !== 'number') throw typeError('Invalid the second argument type, must be a number.')
    const fn = checkFilter(filter, 2)
    const index = this.#ready()
    const query = toF32(point, this.#dim)
    if (!Number.isInteger(k) || k < 0) {
      throw new InvalidInputError('ERR_INVALID_ARGUMENT', `numNeighbors must be a non-negative integer, got ${k}`)
    }
    if (k > this.#maxElements) {
      throw new InvalidInputError(
        'ERR_INVALID_ARGUMENT',
        `Invalid the number of k-nearest neighbors (cannot be given a value greater than \`maxElements\`: ${this.#maxElements}).`,
      )
    }
    // The filter runs here, on the JS thread, once per live label: an exception it throws reaches
    // the caller as itself (hnswlib-node aborts the process).
    let allow: Float64Array | undefined
    if (fn !== undefined) {
      const keys = index.keys()
      const kept: number[] = []
      // Truthiness, as hnswlib-node's `ToBoolean()`.
      for (const key of keys) if (fn(key)) kept.push(key)
      allow = Float64Array.from(kept)
    }
    return { index, query, k, allow }
  }

  /** The `numNeighbors` nearest live points, nearest first (ef = max(getEf(), numNeighbors)). */
  searchKnn(queryPoint: Point, numNeighbors: number, filter?: FilterFunction): SearchResult
  searchKnn(...args: unknown[]): SearchResult {
    const { index, query, k, allow } = this.#searchArgs(args)
    if (k === 0) return { distances: [], neighbors: [] }
    if (k > INTO_MAX_K) return toResult(callNative(() => index.search(query, k, allow, this.#normalize)))
    return toResult(searchInto(k, (keys, distances) => index.searchInto(query, k, allow, this.#normalize, keys, distances)))
  }

  /** `searchKnn` off the JS thread (a ferrovec addition). */
  async searchKnnAsync(queryPoint: Point, numNeighbors: number, filter?: FilterFunction): Promise<SearchResult>
  async searchKnnAsync(...args: unknown[]): Promise<SearchResult> {
    const { index, query, k, allow } = this.#searchArgs(args)
    if (k === 0) return { distances: [], neighbors: [] }
    return toResult(await awaitNative(index.searchAsync(query, k, allow, this.#normalize)))
  }

  /** Every label in the index, deleted ones included (as hnswlib). */
  getIdsList(): number[] {
    if (this.#index === null) return []
    return [...Array.from(this.#index.keys()), ...this.#deleted]
  }

  /** The stored vector of a live label (normalised in the `cosine` space). */
  getPoint(label: number): number[]
  getPoint(...args: unknown[]): number[] {
    const label = this.#labelArg(args)
    if (this.#index === null) return []
    const index = this.#index
    const v = callNative(() => index.get(toLabel(label)))
    if (v === undefined || v === null) throw hnswError('Label not found', 'ERR_INVALID_KEY')
    return Array.from(v)
  }

  getMaxElements(): number {
    return this.#index === null ? 0 : this.#maxElements
  }

  /** Elements in the index, deleted ones included (as hnswlib). */
  getCurrentCount(): number {
    return this.#index === null ? 0 : this.#index.size + this.#deleted.size
  }

  getNumDimensions(): number {
    return this.#dim
  }

  getEf(): number {
    this.#ready()
    return this.#ef
  }

  setEf(ef: number): void
  setEf(...args: unknown[]): void {
    if (args.length !== 1) throw argCount('1', args.length)
    const ef = args[0]
    if (typeof ef !== 'number') throw typeError('Invalid the first argument type, must be a number.')
    const index = this.#ready()
    if (!Number.isInteger(ef) || ef < 0 || ef > 1 << 20) {
      throw new InvalidInputError('ERR_INVALID_ARGUMENT', `ef must be an integer in 0..${1 << 20}, got ${ef}`)
    }
    // ef 0 is legal in hnswlib (searches then use k); the engine's beam is at least 1 and k anyway.
    callNative(() => {
      index.ef = Math.max(ef, 1)
    })
    this.#ef = ef
  }
}

// hnswlib's brute-force file: max_elements u64, size_per_element u64, cur_element_count u64, then
// max_elements records of [dim × f32, label u64] (only the first cur_element_count are used).
const BF_HEADER = 24

/** Exact search, as hnswlib's `BruteforceSearch` (same file format). */
export class BruteforceSearch {
  readonly #space: SpaceName
  readonly #dim: number
  #data: Float32Array | null = null
  #labels: number[] = []
  #slot = new Map<number, number>()
  #maxElements = 0

  constructor(spaceName: SpaceName, numDimensions: number)
  constructor(...args: unknown[]) {
    this.#dim = checkSpace(args[0], args[1], args.length)
    this.#space = args[0] as SpaceName
  }

  initIndex(maxElements: number): void
  initIndex(...args: unknown[]): void {
    if (args.length !== 1) throw argCount('1', args.length)
    const n = args[0]
    if (typeof n !== 'number') throw typeError('Invalid the first argument type, must be a number.')
    if (!Number.isInteger(n) || n < 0 || n > MAX_LABEL) {
      throw new InvalidInputError('ERR_INVALID_ARGUMENT', `maxElements must be an integer in 0..${MAX_LABEL}, got ${n}`)
    }
    this.#reset(new Float32Array(n * this.#dim), [], n)
  }

  #reset(data: Float32Array, labels: number[], max: number): void {
    this.#data = data
    this.#labels = labels
    this.#slot = new Map(labels.map((l, i) => [l, i]))
    this.#maxElements = max
  }

  #ready(): Float32Array {
    if (this.#data === null) throw new InvalidInputError('ERR_INVALID_ARGUMENT', NOT_INITIALIZED)
    return this.#data
  }

  #fileArg(args: unknown[]): string {
    if (args.length !== 1) throw argCount('1', args.length)
    if (typeof args[0] !== 'string') throw typeError('Invalid the first argument type, must be a string.')
    return args[0]
  }

  #parse(buf: Buffer, filename: string): void {
    const bad = (detail: string) => new CorruptFileError(`corrupt file "${filename}": hnswlib brute-force index: ${detail}`)
    if (buf.length < BF_HEADER) throw bad(`${buf.length} bytes is shorter than the ${BF_HEADER}-byte header`)
    const max = buf.readBigUInt64LE(0)
    const per = buf.readBigUInt64LE(8)
    const count = buf.readBigUInt64LE(16)
    const want = BigInt(this.#dim * 4 + 8)
    if (per !== want) {
      const stored = (per - 8n) / 4n
      if (per > 8n && (per - 8n) % 4n === 0n) {
        throw new InvalidInputError(
          'ERR_DIMENSION_MISMATCH',
          `dimension mismatch: expected ${this.#dim}, got ${stored} (the file's elements are ${per} bytes)`,
        )
      }
      throw bad(`elements of ${per} bytes fit no dimension`)
    }
    if (count > max || max > BigInt(MAX_LABEL)) throw bad(`${count} elements of at most ${max}`)
    if (BigInt(buf.length) !== BigInt(BF_HEADER) + max * per) {
      throw bad(`${buf.length} bytes, but ${max} elements of ${per} bytes need ${BigInt(BF_HEADER) + max * per}`)
    }
    const n = Number(count)
    const dim = this.#dim
    const data = new Float32Array(Number(max) * dim)
    const labels: number[] = []
    for (let i = 0; i < n; i++) {
      const at = BF_HEADER + i * (dim * 4 + 8)
      for (let j = 0; j < dim; j++) {
        const x = buf.readFloatLE(at + 4 * j)
        if (!Number.isFinite(x)) throw bad(`element ${i} holds a non-finite value`)
        data[i * dim + j] = x
      }
      const label = buf.readBigUInt64LE(at + dim * 4)
      if (label > BigInt(MAX_LABEL)) throw bad(`element ${i} has label ${label}, above ${MAX_LABEL}`)
      labels.push(Number(label))
    }
    if (new Set(labels).size !== labels.length) throw bad('a label is held by two elements')
    this.#reset(data, labels, Number(max))
  }

  #serialize(): Buffer {
    const data = this.#ready()
    const dim = this.#dim
    const per = dim * 4 + 8
    const buf = Buffer.alloc(BF_HEADER + this.#maxElements * per)
    buf.writeBigUInt64LE(BigInt(this.#maxElements), 0)
    buf.writeBigUInt64LE(BigInt(per), 8)
    buf.writeBigUInt64LE(BigInt(this.#labels.length), 16)
    this.#labels.forEach((label, i) => {
      const at = BF_HEADER + i * per
      for (let j = 0; j < dim; j++) buf.writeFloatLE(data[i * dim + j] as number, at + 4 * j)
      buf.writeBigUInt64LE(BigInt(label), at + dim * 4)
    })
    return buf
  }

  async readIndex(filename: string): Promise<boolean>
  async readIndex(...args: unknown[]): Promise<boolean> {
    const filename = this.#fileArg(args)
    let buf: Buffer
    try {
      buf = await readFile(filename)
    } catch {
      missingFile(filename)
    }
    this.#parse(buf, filename)
    return true
  }

  readIndexSync(filename: string): void
  readIndexSync(...args: unknown[]): void {
    const filename = this.#fileArg(args)
    let buf: Buffer
    try {
      buf = readFileSync(filename)
    } catch {
      missingFile(filename)
    }
    this.#parse(buf, filename)
  }

  async writeIndex(filename: string): Promise<boolean>
  async writeIndex(...args: unknown[]): Promise<boolean> {
    const filename = this.#fileArg(args)
    if (this.#data === null) throw new InvalidInputError('ERR_INVALID_ARGUMENT', 'Hnswlib Error: search index is not constructed.')
    const tmp = `${filename}.${process.pid}.tmp`
    try {
      await writeFile(tmp, this.#serialize())
      await rename(tmp, filename)
    } catch (err) {
      await rm(tmp, { force: true })
      throw new IoError(`cannot write ${JSON.stringify(filename)}: ${(err as Error).message}`, { cause: err })
    }
    return true
  }

  writeIndexSync(filename: string): void
  writeIndexSync(...args: unknown[]): void {
    const filename = this.#fileArg(args)
    if (this.#data === null) throw new InvalidInputError('ERR_INVALID_ARGUMENT', 'Search index is not constructed.')
    const tmp = `${filename}.${process.pid}.tmp`
    try {
      writeFileSync(tmp, this.#serialize())
      renameSync(tmp, filename)
    } catch (err) {
      rmSync(tmp, { force: true })
      throw new IoError(`cannot write ${JSON.stringify(filename)}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Adds `point` under `label`, or replaces the vector of a label already present. */
  addPoint(point: Point, label: number): void
  addPoint(...args: unknown[]): void {
    if (args.length !== 2) throw argCount('2', args.length)
    const [point, label] = args
    if (!isPoint(point)) throw typeError('Invalid the first argument type, must be an Array.')
    if (typeof label !== 'number') throw typeError('Invalid the second argument type, must be a number.')
    const data = this.#ready()
    const v = toVector(point, this.#dim, this.#space === 'cosine')
    const key = toLabel(label)
    let slot = this.#slot.get(key)
    if (slot === undefined) {
      if (this.#labels.length >= this.#maxElements) {
        throw hnswError('The number of elements exceeds the specified limit\n')
      }
      slot = this.#labels.length
      this.#labels.push(key)
      this.#slot.set(key, slot)
    }
    data.set(v, slot * this.#dim)
  }

  /** Removes `label` (the last element moves into its slot, as in hnswlib); unknown labels are ignored. */
  removePoint(label: number): void
  removePoint(...args: unknown[]): void {
    if (args.length !== 1) throw argCount('1', args.length)
    if (typeof args[0] !== 'number') throw typeError('Invalid the first argument type, must be a number.')
    const data = this.#ready()
    const key = toLabel(args[0])
    const slot = this.#slot.get(key)
    if (slot === undefined) return
    const last = this.#labels.length - 1
    const lastLabel = this.#labels[last] as number
    data.copyWithin(slot * this.#dim, last * this.#dim, (last + 1) * this.#dim)
    this.#labels[slot] = lastLabel
    this.#labels.pop()
    this.#slot.delete(key)
    if (lastLabel !== key) this.#slot.set(lastLabel, slot)
  }

  searchKnn(queryPoint: Point, numNeighbors: number, filter?: FilterFunction): SearchResult
  searchKnn(...args: unknown[]): SearchResult {
    if (args.length < 2) throw argCount('2-3', args.length)
    const [point, k, filter] = args
    if (!isPoint(point)) throw typeError('Invalid the first argument type, must be an Array.')
    if (typeof k !== 'number') throw typeError('Invalid the second argument type, must be a number.')
    const fn = checkFilter(filter, 2)
    const data = this.#ready()
    const q = toVector(point, this.#dim, this.#space === 'cosine')
    if (k > this.#maxElements) {
      throw new InvalidInputError(
        'ERR_INVALID_ARGUMENT',
        `Invalid the number of k-nearest neighbors (cannot be given a value greater than \`maxElements\`: ${this.#maxElements}).`,
      )
    }
    if (!Number.isInteger(k) || k <= 0) {
      throw new InvalidInputError('ERR_INVALID_ARGUMENT', 'Invalid the number of k-nearest neighbors (must be a positive number).')
    }
    const dim = this.#dim
    const l2 = this.#space === 'l2'
    const found: { d: number; label: number }[] = []
    for (let i = 0; i < this.#labels.length; i++) {
      const label = this.#labels[i] as number
      if (fn !== undefined && !fn(label)) continue
      let s = 0
      const at = i * dim
      if (l2) {
        for (let j = 0; j < dim; j++) {
          const d = Math.fround((data[at + j] as number) - (q[j] as number))
          s = Math.fround(s + Math.fround(d * d))
        }
      } else {
        for (let j = 0; j < dim; j++) s = Math.fround(s + Math.fround((data[at + j] as number) * (q[j] as number)))
        s = Math.fround(1 - s)
      }
      found.push({ d: s, label })
    }
    found.sort((a, b) => a.d - b.d || a.label - b.label)
    const top = found.slice(0, k)
    return { distances: top.map((x) => x.d), neighbors: top.map((x) => x.label) }
  }

  getMaxElements(): number {
    return this.#data === null ? 0 : this.#maxElements
  }

  getCurrentCount(): number {
    return this.#labels.length
  }

  getNumDimensions(): number {
    return this.#dim
  }
}

const hnswlibNode = { L2Space, InnerProductSpace, BruteforceSearch, HierarchicalNSW }

/** hnswlib-node's module object: `const { default: { HierarchicalNSW } } = await import(…)`. */
export default hnswlibNode
