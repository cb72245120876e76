import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import test from 'ava'

import {
  CorruptFileError,
  FlatIndex,
  HnswIndex,
  InvalidInputError,
  IoError,
  ReadOnlyError,
  StorageError,
  UnsupportedVersionError,
  type FerrovecError,
  type Metric,
} from '../src/index.js'
import { MARKER, rng, seededBytes, seededRows } from './helpers/data.js'

const here = dirname(fileURLToPath(import.meta.url))

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-hnsw-persist-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function floatIndex(n: number, dim: number, seed: number, metric: 'cosine' | 'l2' | 'dot' = 'cosine'): HnswIndex<any> {
  const index = new HnswIndex({ dim, metric, m: 8, efConstruction: 64, seed, buildThreads: 1 })
  index.addBatchSync(
    Float64Array.from({ length: n }, (_, i) => i * 3 + 1),
    seededRows(n, dim, seed),
  )
  return index
}

function bitsIndex(n: number, dim: number, seed: number): HnswIndex<'hamming'> {
  const index = new HnswIndex({ dim, metric: 'hamming', m: 8, efConstruction: 64, seed })
  index.addBatchSync(
    Float64Array.from({ length: n }, (_, i) => Number.MAX_SAFE_INTEGER - i),
    seededBytes(n, dim / 8, seed),
  )
  return index
}

/** Same parameters, keys, and batch/single/filtered search results (with costs) for the same queries. */
function sameIndex(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, a: HnswIndex<any>, b: HnswIndex<any>, queries: Float32Array | Uint8Array): void {
  t.deepEqual([b.dim, b.metric, b.size, b.deletedCount, b.efSearch], [a.dim, a.metric, a.size, a.deletedCount, a.efSearch])
  // buildThreads is a property of the process, not of the file.
  t.deepEqual({ ...b.params, buildThreads: 0 }, { ...a.params, buildThreads: 0 })
  t.deepEqual(b.keys(), a.keys())
  t.deepEqual(b.searchBatchSync(queries, 5, { stats: true }), a.searchBatchSync(queries, 5, { stats: true }))
  const q = queries.subarray(0, a.metric === 'hamming' ? a.dim / 8 : a.dim)
  const allow = Array.from(a.keys()).filter((_, i) => i % 4 === 0)
  t.deepEqual(b.search(q, 7, { filter: allow }), a.search(q, 7, { filter: allow }))
}

/** The section table of a file: [id, offset, length] per section (see crates/ferrovec-core/src/format). */
function sections(buf: Uint8Array): Array<[string, number, number]> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const count = view.getUint32(20, true)
  const out: Array<[string, number, number]> = []
  for (let i = 0; i < count; i++) {
    const e = 64 + i * 32
    const id = String.fromCharCode(...buf.subarray(e, e + 4))
    out.push([id, Number(view.getBigUint64(e + 8, true)), Number(view.getBigUint64(e + 16, true))])
  }
  return out
}

function expectCode(t: any, fn: () => unknown, cls: new (...args: any[]) => FerrovecError, code: string, what: string): FerrovecError {
  const err = t.throws(fn, { instanceOf: cls }, what) as FerrovecError
  t.is(err.code, code, what)
  return err
}

function removeSome(index: HnswIndex<any>, every: number): void {
  Array.from(index.keys()).forEach((k, i) => {
    if (i % every === 1) index.remove(k)
  })
}

test('save → load → search gives the same results, async', async (t) => {
  const dir = tempDir(t)
  const index = floatIndex(1500, 32, 1)
  index.efSearch = 80
  const path = join(dir, 'a.hnsw')
  await index.save(path)
  const back = await HnswIndex.load(path)
  t.is(back.efSearch, 80, 'efSearch is stored in the file')
  t.false(back.readOnly)
  sameIndex(t, index, back, seededRows(7, 32, 2))
  // A file: URL works too.
  sameIndex(t, index, await HnswIndex.load(pathToFileURL(path)), seededRows(3, 32, 3))
})

test('saveSync → loadSync gives the same results for every metric, with removed keys and after compaction', (t) => {
  const dir = tempDir(t)
  for (const metric of ['cosine', 'dot', 'l2'] as const) {
    const index = floatIndex(400, 16, 4, metric)
    removeSome(index, 5)
    const path = join(dir, `${metric}.hnsw`)
    index.saveSync(path)
    const back = HnswIndex.loadSync(path, { dim: 16, metric })
    sameIndex(t, index, back, seededRows(5, 16, 5))
    index.compactSync()
    index.saveSync(path)
    sameIndex(t, index, HnswIndex.loadSync(path), seededRows(5, 16, 6))
  }
  const bits = bitsIndex(300, 128, 6)
  removeSome(bits, 3)
  bits.saveSync(join(dir, 'bits.hnsw'))
  const back = HnswIndex.loadSync(join(dir, 'bits.hnsw'), { metric: 'hamming' })
  sameIndex(t, bits, back, seededBytes(4, 16, 7))
  t.deepEqual(back.get(Number.MAX_SAFE_INTEGER), bits.get(Number.MAX_SAFE_INTEGER))
})

test('a loaded index keeps working: add, upsert, remove, compact, save again', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'x.hnsw')
  floatIndex(200, 8, 8, 'l2').saveSync(path)
  const back = await HnswIndex.load(path, { metric: 'l2' })
  back.add(10_000, seededRows(1, 8, 9))
  back.add(4, seededRows(1, 8, 10), { upsert: true })
  t.true(back.remove(1))
  t.throws(() => back.add(7, seededRows(1, 8, 9)), { code: 'ERR_DUPLICATE_KEY' })
  await back.addBatch([20_000, 20_001], seededRows(2, 8, 11))
  t.is(await back.compact(), 1)
  await back.save(path)
  const again = HnswIndex.loadSync(path)
  t.is(again.size, 202)
  t.true(again.has(10_000) && again.has(20_001))
  t.false(again.has(1))
  t.deepEqual(again.search(seededRows(1, 8, 10), 1).keys, Float64Array.of(4))
})

test('toBuffer → fromBuffer round trips, and equals the saved file', (t) => {
  const dir = tempDir(t)
  const index = floatIndex(500, 24, 10)
  const buf = index.toBuffer()
  t.true(Buffer.isBuffer(buf))
  sameIndex(t, index, HnswIndex.fromBuffer(buf), seededRows(4, 24, 11))
  const ab = new Uint8Array(buf).buffer
  sameIndex(t, index, HnswIndex.fromBuffer(ab), seededRows(4, 24, 12))
  const padded = new Uint8Array(buf.length + 3)
  padded.set(buf, 3)
  sameIndex(t, index, HnswIndex.fromBuffer(padded.subarray(3)), seededRows(4, 24, 13))
  index.saveSync(join(dir, 'f.hnsw'))
  t.deepEqual(readFileSync(join(dir, 'f.hnsw')), buf)
  t.deepEqual(sections(buf).map((s) => s[0]), ['PARM', 'KEYS', 'TOMB', 'LEVL', 'LNK0', 'LNKU', 'VECS'])
  const empty = new HnswIndex({ dim: 3 })
  t.is(HnswIndex.fromBuffer(empty.toBuffer()).size, 0)
})

test('open({ readOnly: true }) serves identical results from the mapped file and refuses every write', async (t) => {
  const dir = tempDir(t)
  const index = floatIndex(1200, 32, 14, 'l2')
  removeSome(index, 7)
  const path = join(dir, 'ro.hnsw')
  index.saveSync(path)
  const queries = seededRows(6, 32, 15)
  for (const ro of [await HnswIndex.open(path), HnswIndex.openSync(path, { readOnly: true, dim: 32, metric: 'l2' })]) {
    t.true(ro.readOnly)
    sameIndex(t, index, ro, queries)
    t.deepEqual(await ro.searchBatch(queries, 5), index.searchBatchSync(queries, 5))
    const mem = ro.memoryUsage()
    t.is(mem.mapped, 1200 * 32 * 4, 'the vectors are served from the mapping')
    t.is(mem.vectors, 0)
    const before = { size: ro.size, keys: ro.keys(), results: ro.searchBatchSync(queries, 5) }
    const row = seededRows(1, 32, 16)
    const refused = (what: string, fn: () => unknown) => {
      const err = expectCode(t, fn, ReadOnlyError, 'ERR_READ_ONLY', what)
      t.true(err instanceof StorageError)
      t.regex(err.message, /read-only/)
    }
    refused('add', () => ro.add(99_999, row))
    refused('upsert', () => ro.add(4, row, { upsert: true }))
    refused('addBatchSync', () => ro.addBatchSync([99_998], row))
    refused('remove', () => ro.remove(4))
    refused('compactSync', () => ro.compactSync())
    const e1 = await t.throwsAsync(ro.addBatch([99_997], row), { instanceOf: ReadOnlyError })
    t.is(e1?.code, 'ERR_READ_ONLY')
    const e2 = await t.throwsAsync(ro.compact(), { instanceOf: ReadOnlyError })
    t.is(e2?.code, 'ERR_READ_ONLY')
    t.deepEqual({ size: ro.size, keys: ro.keys(), results: ro.searchBatchSync(queries, 5) }, before, 'nothing changed')
    // Tuning searches is not a write; saving a copy is allowed.
    ro.efSearch = 100
    t.is(ro.efSearch, 100)
    ro.efSearch = index.efSearch
    await ro.save(join(dir, 'copy.hnsw'))
    t.deepEqual(readFileSync(join(dir, 'copy.hnsw')), readFileSync(path))
  }
  // Saving another index over the open file replaces it by rename: the open index keeps the old one.
  const ro = HnswIndex.openSync(path)
  const want = ro.searchBatchSync(queries, 5)
  floatIndex(50, 32, 17, 'l2').saveSync(path)
  t.deepEqual(ro.searchBatchSync(queries, 5), want)
  t.is(HnswIndex.loadSync(path).size, 50)
  // readOnly: false is a plain load.
  const rw = await HnswIndex.open(path, { readOnly: false })
  t.false(rw.readOnly)
  rw.add(123_456, seededRows(1, 32, 18))
  t.is(rw.memoryUsage().mapped, 0)
  expectCode(t, () => HnswIndex.openSync(path, { readOnly: 'yes' as any }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'readOnly type')
})

test('expectations and the wrong index kind are refused clearly', async (t) => {
  const buf = floatIndex(30, 12, 14).toBuffer()
  expectCode(t, () => HnswIndex.fromBuffer(buf, { dim: 13 }), InvalidInputError, 'ERR_DIMENSION_MISMATCH', 'dim')
  expectCode(t, () => HnswIndex.fromBuffer(buf, { metric: 'l2' }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'metric')
  expectCode(t, () => HnswIndex.fromBuffer(buf, { dim: 0 }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'bad dim')
  expectCode(t, () => HnswIndex.fromBuffer(buf, { metric: 'manhattan' as Metric }), InvalidInputError, 'ERR_UNKNOWN_METRIC', 'bad metric')
  expectCode(t, () => HnswIndex.fromBuffer('nope' as any), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'not bytes')
  // A FlatIndex file is not an HNSW file, and the other way round.
  const flat = new FlatIndex({ dim: 12 })
  flat.add(1, seededRows(1, 12, 1))
  const dir = tempDir(t)
  const flatPath = join(dir, 'flat.fvec')
  flat.saveSync(flatPath)
  const e = expectCode(t, () => HnswIndex.loadSync(flatPath), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'flat file')
  t.regex(e.message, /kind "FLAT"/)
  expectCode(t, () => HnswIndex.openSync(flatPath), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'flat file, mapped')
  expectCode(t, () => HnswIndex.fromBuffer(flat.toBuffer()), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'flat buffer')
  expectCode(t, () => FlatIndex.fromBuffer(buf), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'hnsw into FlatIndex')
  const path = join(dir, 'e.hnsw')
  writeFileSync(path, buf)
  const err = await t.throwsAsync(HnswIndex.load(path, { dim: 64 }), { instanceOf: InvalidInputError })
  t.is(err?.code, 'ERR_DIMENSION_MISMATCH')
  const err2 = await t.throwsAsync(HnswIndex.open(path, { dim: 64 }), { instanceOf: InvalidInputError })
  t.is(err2?.code, 'ERR_DIMENSION_MISMATCH')
  expectCode(t, () => HnswIndex.loadSync(''), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'empty path')
})

test('corruption: truncation, a flipped byte in every section, wrong magic, future version', async (t) => {
  const index = floatIndex(40, 8, 15)
  removeSome(index, 6)
  const good = index.toBuffer()
  const dir = tempDir(t)
  const path = join(dir, 'bad.hnsw')
  // Every corrupt buffer goes through all three loaders: buffer, file read, file mapped.
  const loaders = (b: Uint8Array): Array<[string, () => unknown]> => [
    ['fromBuffer', () => HnswIndex.fromBuffer(b)],
    ['loadSync', () => (writeFileSync(path, b), HnswIndex.loadSync(path))],
    ['openSync', () => (writeFileSync(path, b), HnswIndex.openSync(path))],
  ]

  for (const len of [0, 5, 8, 63, 64, 100, 300, good.length - 1]) {
    for (const [name, load] of loaders(good.subarray(0, len))) {
      const err = expectCode(t, load, CorruptFileError, 'ERR_CORRUPT_FILE', `${name} truncated to ${len}`)
      t.true(err instanceof StorageError)
    }
  }
  const flip = (at: number): Buffer => {
    const b = Buffer.from(good)
    b[at] ^= 0x10
    return b
  }
  expectCode(t, () => HnswIndex.fromBuffer(flip(14)), CorruptFileError, 'ERR_CORRUPT_FILE', 'header')
  t.regex(expectCode(t, () => HnswIndex.fromBuffer(flip(70)), CorruptFileError, 'ERR_CORRUPT_FILE', 'table').message, /section table/)
  const table = sections(good)
  t.is(table.length, 7)
  for (const [id, offset, length] of table) {
    if (length === 0) continue
    for (const at of [offset, offset + Math.floor(length / 2), offset + length - 1]) {
      for (const [name, load] of loaders(flip(at))) {
        const err = expectCode(t, load, CorruptFileError, 'ERR_CORRUPT_FILE', `${name}: ${id} byte ${at}`)
        t.true(err.message.includes(`"${id}"`), err.message)
      }
    }
  }
  const foreign = Buffer.from(good)
  foreign.write('GIF89a', 0)
  for (const [name, load] of loaders(foreign)) {
    t.regex(expectCode(t, load, CorruptFileError, 'ERR_CORRUPT_FILE', `${name} magic`).message, /not a ferrovec file/)
  }
  const future = Buffer.from(good)
  future.writeUInt16LE(2, 8)
  for (const [name, load] of loaders(future)) {
    expectCode(t, load, UnsupportedVersionError, 'ERR_UNSUPPORTED_VERSION', `${name} major 2`)
  }
  writeFileSync(path, good.subarray(0, good.length - 10))
  const e1 = await t.throwsAsync(HnswIndex.load(path), { instanceOf: CorruptFileError })
  t.true(e1?.message.includes('bad.hnsw'))
  const e2 = await t.throwsAsync(HnswIndex.open(path), { instanceOf: CorruptFileError })
  t.true(e2?.message.includes('bad.hnsw'))
  const missing = join(dir, 'missing.hnsw')
  const e3 = await t.throwsAsync(HnswIndex.open(missing), { instanceOf: IoError })
  t.is(e3?.code, 'ERR_IO')
  expectCode(t, () => HnswIndex.loadSync(missing), IoError, 'ERR_IO', 'sync missing')
  expectCode(t, () => index.saveSync(dir), IoError, 'ERR_IO', 'save onto a directory')
})

test('a save during an in-flight async batch insert writes a consistent snapshot', async (t) => {
  const dir = tempDir(t)
  const dim = 16
  const index = floatIndex(500, dim, 30, 'l2')
  const batch = 4000
  const keys = Float64Array.from({ length: batch }, (_, i) => 100_000 + i)
  const adding = index.addBatch(keys, seededRows(batch, dim, 31))
  const saves = [0, 1, 2].map((i) => index.save(join(dir, `s${i}.hnsw`)))
  const buffers = [index.toBuffer()]
  await Promise.all([adding, ...saves])
  const sizes = []
  for (const f of [...readdirSync(dir).map((f) => readFileSync(join(dir, f))), ...buffers]) {
    const back = HnswIndex.fromBuffer(f)
    // Either before the batch or after all of it: never a half-linked batch.
    t.true(back.size === 500 || back.size === 500 + batch, `size ${back.size}`)
    for (const k of Array.from(back.keys()).slice(-3)) {
      t.deepEqual(back.search(back.get(k)!, 1, { filter: [k] }).keys, Float64Array.of(k))
    }
    sizes.push(back.size)
  }
  t.log(`snapshot sizes: ${sizes.join(', ')}`)
  index.saveSync(join(dir, 'final.hnsw'))
  sameIndex(t, index, HnswIndex.loadSync(join(dir, 'final.hnsw')), seededRows(3, dim, 32))
})

test('a save killed mid-way leaves the previous file or the new one, never a broken one', async (t) => {
  const dir = tempDir(t)
  const target = join(dir, 'index.hnsw')
  const [rows, dim, seed] = [20_000, 64, 20]
  const oldIndex = floatIndex(100, dim, 21, 'l2')
  const firstRow = seededRows(1, dim, seed)
  const delay = rng(22)
  const outcomes = { old: 0, newWithoutMarker: 0, newWithMarker: 0, killedMidSave: 0 }
  const attempts = 6
  for (let attempt = 0; attempt < attempts; attempt++) {
    oldIndex.saveSync(target)
    for (const f of readdirSync(dir)) if (f !== 'index.hnsw') rmSync(join(dir, f))
    const child = spawn(process.execPath, ['--import=tsx', join(here, 'helpers', 'save-loop.ts'), target, `${rows}`, `${dim}`, `${seed}`, 'hnsw'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    const saveMs = attempt === 0 ? 0 : await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /saved (\d+)/.exec(d.toString())
        if (m) resolve(Number(m[1]))
      })
      child.on('exit', (code) => reject(new Error(`save loop exited early with code ${code}`)))
    })
    await new Promise((r) => setTimeout(r, Math.floor(delay() * saveMs * 1.5)))
    child.kill('SIGKILL')
    await exited

    const loaded = HnswIndex.loadSync(target, { dim, metric: 'l2' })
    if (loaded.size === oldIndex.size) {
      outcomes.old++
      sameIndex(t, oldIndex, loaded, seededRows(2, dim, 23))
    } else {
      const marked = loaded.has(MARKER)
      if (marked) outcomes.newWithMarker++
      else outcomes.newWithoutMarker++
      t.is(loaded.size, rows + (marked ? 1 : 0))
      t.deepEqual(loaded.get(1_000_000), firstRow)
      t.deepEqual(loaded.search(firstRow, 1, { filter: [1_000_000, 1_000_001] }).keys, Float64Array.of(1_000_000))
    }
    if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) outcomes.killedMidSave++
  }
  t.log(`outcomes over ${attempts} kills: ${JSON.stringify(outcomes)}`)
  t.is(outcomes.old + outcomes.newWithoutMarker + outcomes.newWithMarker, attempts)
})
