// FlatIndex.open / openSync: the file is memory-mapped read-only and searches read the rows (or a
// quantised index's originals) from the mapping. Results equal the loaded index's, every write throws
// ERR_READ_ONLY and changes nothing, and `save` writes a loadable copy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

import test from 'ava'

import {
  CorruptFileError,
  FlatIndex,
  InvalidInputError,
  IoError,
  ReadOnlyError,
  StorageError,
  type FerrovecError,
  type FlatIndexOptions,
  type Metric,
} from '../src/index.js'
import { seededBytes, seededRows } from './helpers/data.js'

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-flat-open-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function expectCode(t: any, fn: () => unknown, cls: new (...args: any[]) => FerrovecError, code: string, what: string): FerrovecError {
  const err = t.throws(fn, { instanceOf: cls }, what) as FerrovecError
  t.is(err.code, code, what)
  return err
}

const keysOf = (n: number): Float64Array => Float64Array.from({ length: n }, (_, i) => i * 3 + 1)

function floatIndex(n: number, dim: number, seed: number, options: Partial<FlatIndexOptions<any>> = {}): FlatIndex<any> {
  const index = new FlatIndex<any>({ dim, metric: 'cosine', ...options })
  index.addBatchSync(keysOf(n), seededRows(n, dim, seed))
  // Removals move rows: the file then holds rows out of key order.
  for (let i = 0; i < n; i += 11) index.remove(i * 3 + 1)
  return index
}

/** Results of several search shapes, to compare two indexes. */
async function results(index: FlatIndex<any>, queries: Float32Array | Uint8Array, rowLen: number): Promise<unknown[]> {
  const allow = new Set(Array.from(index.keys()).filter((_, i) => i % 3 === 0))
  return [
    index.searchBatchSync(queries, 10),
    await index.searchBatch(queries, 7),
    index.search(queries.subarray(0, rowLen), 5),
    index.searchBatchSync(queries, 5, { filter: allow }),
    index.get(4),
    Array.from(index.keys()),
  ]
}

test('open() maps f32, hamming and quantised files and searches exactly like load()', async (t) => {
  const dir = tempDir(t)
  const dim = 48
  const cases: Array<[string, FlatIndex<any>, Float32Array | Uint8Array, number, number]> = [
    ['f32 cosine', floatIndex(2000, dim, 1), seededRows(8, dim, 2), dim, 2000 - 182],
    ['f32 l2', floatIndex(1500, dim, 3, { metric: 'l2' }), seededRows(8, dim, 4), dim, 1500 - 137],
    ['int8 + rescore', floatIndex(1500, dim, 5, { metric: 'l2', quantization: 'int8', rescore: { oversample: 4 }, trainAfter: 500 }), seededRows(8, dim, 6), dim, 1500 - 137],
    ['binary + rescore', floatIndex(1500, dim, 7, { quantization: 'binary', trainAfter: 500 }), seededRows(8, dim, 8), dim, 1500 - 137],
    ['pq + rescore', floatIndex(1200, dim, 9, { metric: 'dot', quantization: { type: 'pq', m: 6, iterations: 4 }, trainAfter: 1000 }), seededRows(8, dim, 10), dim, 1200 - 110],
    ['binary, originals dropped', floatIndex(1500, dim, 11, { quantization: 'binary', keepOriginals: false, trainAfter: 500 }), seededRows(8, dim, 12), dim, 0],
  ]
  const bits = new FlatIndex({ dim: 128, metric: 'hamming' })
  bits.addBatchSync(keysOf(900), seededBytes(900, 16, 13))
  cases.push(['hamming', bits, seededBytes(8, 16, 14), 16, 0])

  for (const [name, index, queries, rowLen, live] of cases) {
    const path = join(dir, 'i.flat')
    await index.save(path)
    const loaded = await FlatIndex.load(path)
    t.false(loaded.readOnly, name)
    const want = await results(loaded, queries, rowLen)
    t.deepEqual(await results(index, queries, rowLen), want, `${name}: load equals the saved index`)
    for (const ro of [await FlatIndex.open(path), FlatIndex.openSync(pathToFileURL(path), { readOnly: true, dim: index.dim, metric: index.metric as Metric })]) {
      t.true(ro.readOnly, name)
      t.deepEqual(await results(ro, queries, rowLen), want, `${name}: mapped equals loaded`)
      t.deepEqual(ro.quantization, loaded.quantization, name)
      const mem = ro.memoryUsage()
      const held = loaded.memoryUsage()
      if (name === 'hamming') {
        t.is(mem.mapped, 900 * 16, name)
        t.is(mem.vectors, 0, name)
      } else if (index.quantization === undefined) {
        t.is(mem.mapped, live * dim * 4, `${name}: the rows are served from the mapping`)
        t.is(mem.vectors, 0, name)
        t.is(mem.total, held.total - held.vectors, `${name}: total leaves the mapped rows out`)
      } else {
        t.is(mem.codes, held.codes, `${name}: codes are copied into memory`)
        t.is(mem.originals, 0, `${name}: originals are not held`)
        t.is(mem.mapped, live * dim * 4, `${name}: originals mapped (0 when dropped)`)
        t.is(mem.vectors, mem.codes!, name)
        t.is(mem.total, held.total - held.originals!, name)
      }
      t.is(held.mapped, 0, name)
    }
  }
})

test('every write to a read-only index throws ERR_READ_ONLY and changes nothing', async (t) => {
  const dir = tempDir(t)
  const dim = 16
  const refused = async (ro: FlatIndex<any>, what: string, fn: () => unknown): Promise<void> => {
    const err = expectCode(t, fn, ReadOnlyError, 'ERR_READ_ONLY', what)
    t.true(err instanceof StorageError, what)
    t.regex(err.message, /read-only/, what)
  }
  const row = seededRows(1, dim, 20)
  for (const options of [{}, { quantization: 'int8' as const, trainAfter: 100 }]) {
    const path = join(dir, 'ro.flat')
    floatIndex(300, dim, 21, options).saveSync(path)
    const ro = FlatIndex.openSync(path)
    const queries = seededRows(4, dim, 22)
    const before = { size: ro.size, keys: ro.keys(), results: ro.searchBatchSync(queries, 5), buf: ro.toBuffer() }
    const first = ro.keys()[0]!
    await refused(ro, 'add', () => ro.add(99_999, row))
    await refused(ro, 'upsert', () => ro.add(first, row, { upsert: true }))
    await refused(ro, 'addBatchSync', () => ro.addBatchSync([99_998], row))
    await refused(ro, 'remove', () => ro.remove(first))
    await refused(ro, 'remove of an absent key', () => ro.remove(123_456))
    const e1 = await t.throwsAsync(ro.addBatch([99_997], row), { instanceOf: ReadOnlyError })
    t.is(e1?.code, 'ERR_READ_ONLY')
    t.deepEqual({ size: ro.size, keys: ro.keys(), results: ro.searchBatchSync(queries, 5), buf: ro.toBuffer() }, before, 'nothing changed')
  }

  // train() on a read-only untrained file: refused (sync and async), and searches still say not trained.
  const untrained = new FlatIndex({ dim, quantization: 'int8', trainAfter: false })
  const path = join(dir, 'untrained.flat')
  untrained.saveSync(path)
  const ro = await FlatIndex.open(path)
  const sample = seededRows(64, dim, 23)
  await refused(ro, 'trainSync', () => ro.trainSync(sample))
  const e2 = await t.throwsAsync(ro.train(sample), { instanceOf: ReadOnlyError })
  t.is(e2?.code, 'ERR_READ_ONLY')
  t.false(ro.quantization!.trained)

  // The oversample is a search setting, like HNSW's efSearch: it can be changed on a read-only index.
  const q = FlatIndex.openSync(join(dir, 'ro.flat'))
  q.oversample = 3
  t.is(q.oversample, 3)
})

test('save() of a read-only index writes a copy that loads writable, even over its own file', async (t) => {
  const dir = tempDir(t)
  const dim = 24
  const index = floatIndex(800, dim, 30, { quantization: 'binary', trainAfter: 300 })
  const path = join(dir, 'orig.flat')
  index.saveSync(path)
  const ro = await FlatIndex.open(path)
  const copy = join(dir, 'copy.flat')
  await ro.save(copy)
  t.deepEqual(readFileSync(copy), readFileSync(path), 'the copy is the same file')
  const back = FlatIndex.loadSync(copy)
  t.false(back.readOnly)
  back.add(999_999, seededRows(1, dim, 31))
  t.is(back.size, ro.size + 1)

  // Another index saved over the open file replaces it by rename: the open index keeps the old one.
  const queries = seededRows(5, dim, 32)
  const want = ro.searchBatchSync(queries, 6)
  floatIndex(40, dim, 33).saveSync(path)
  t.deepEqual(ro.searchBatchSync(queries, 6), want)
  t.is(FlatIndex.loadSync(path).size, 40 - 4)
  // And the read-only index can save itself back over its own file.
  ro.saveSync(path)
  t.deepEqual(FlatIndex.loadSync(path).searchBatchSync(queries, 6), want)

  // readOnly: false is a plain load: writable, nothing mapped.
  const rw = await FlatIndex.open(path, { readOnly: false })
  t.false(rw.readOnly)
  rw.add(123_456, seededRows(1, dim, 34))
  t.is(rw.memoryUsage().mapped, 0)
  // A new index is writable and maps nothing.
  t.false(new FlatIndex({ dim: 3 }).readOnly)
  t.is(new FlatIndex({ dim: 3 }).memoryUsage().mapped, 0)
})

test('bad options and bad files are refused with coded errors', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'x.flat')
  floatIndex(30, 12, 40).saveSync(path)
  expectCode(t, () => FlatIndex.openSync(path, { readOnly: 'yes' as any }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'readOnly type')
  expectCode(t, () => FlatIndex.openSync(path, { readOnly: 1 as any }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'readOnly number')
  expectCode(t, () => FlatIndex.openSync(path, 'ro' as any), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'options not an object')
  expectCode(t, () => FlatIndex.openSync(path, { dim: 0 }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'bad dim')
  expectCode(t, () => FlatIndex.openSync(path, { metric: 'manhattan' as Metric }), InvalidInputError, 'ERR_UNKNOWN_METRIC', 'bad metric')
  expectCode(t, () => FlatIndex.openSync(''), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'empty path')
  await t.throwsAsync(FlatIndex.open(path, { readOnly: null as any }), { instanceOf: InvalidInputError, message: /readOnly/ })
  // Expectations: checked before anything is mapped for use.
  expectCode(t, () => FlatIndex.openSync(path, { dim: 13 }), InvalidInputError, 'ERR_DIMENSION_MISMATCH', 'dim')
  const e = await t.throwsAsync(FlatIndex.open(path, { metric: 'l2' }), { instanceOf: InvalidInputError })
  t.is(e?.code, 'ERR_INVALID_ARGUMENT')

  // Damaged files fail exactly as they fail to load.
  const bytes = readFileSync(path)
  for (const [what, b] of [
    ['truncated', bytes.subarray(0, bytes.length - 9)],
    ['flipped byte', Buffer.from(bytes).fill(0x7f, 300, 301)],
    ['empty', Buffer.alloc(0)],
  ] as const) {
    writeFileSync(path, b)
    const load = t.throws(() => FlatIndex.loadSync(path), { instanceOf: CorruptFileError }, what)
    const open = expectCode(t, () => FlatIndex.openSync(path), CorruptFileError, 'ERR_CORRUPT_FILE', what)
    t.is(open.message, load?.message, what)
  }
  const missing = join(dir, 'missing.flat')
  const e3 = await t.throwsAsync(FlatIndex.open(missing), { instanceOf: IoError })
  t.is(e3?.code, 'ERR_IO')
})
