import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import test from 'ava'

import {
  CorruptFileError,
  FlatIndex,
  InvalidInputError,
  IoError,
  StorageError,
  UnsupportedVersionError,
  type FerrovecError,
} from '../src/index.js'
import { MARKER, rng, seededBytes, seededRows } from './helpers/data.js'

const here = dirname(fileURLToPath(import.meta.url))

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-persist-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function floatIndex(n: number, dim: number, seed: number, metric: 'cosine' | 'l2' | 'dot' = 'cosine'): FlatIndex<typeof metric> {
  const index = new FlatIndex({ dim, metric })
  index.addBatchSync(
    Float64Array.from({ length: n }, (_, i) => i * 3 + 1),
    seededRows(n, dim, seed),
  )
  return index
}

function bitsIndex(n: number, dim: number, seed: number): FlatIndex<'hamming'> {
  const index = new FlatIndex({ dim, metric: 'hamming' })
  index.addBatchSync(
    Float64Array.from({ length: n }, (_, i) => Number.MAX_SAFE_INTEGER - i),
    seededBytes(n, dim / 8, seed),
  )
  return index
}

/** Same parameters, keys and batch-search results for the same queries. */
function sameIndex(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, a: FlatIndex<any>, b: FlatIndex<any>, queries: Float32Array | Uint8Array): void {
  t.deepEqual([b.dim, b.metric, b.size], [a.dim, a.metric, a.size])
  t.deepEqual(b.keys(), a.keys())
  t.deepEqual(b.searchBatchSync(queries, 5), a.searchBatchSync(queries, 5))
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

test('save → load → search gives the same results, async', async (t) => {
  const dir = tempDir(t)
  const index = floatIndex(2000, 64, 1)
  const path = join(dir, 'a.fvec')
  await index.save(path)
  const back = await FlatIndex.load(path)
  sameIndex(t, index, back, seededRows(7, 64, 2))
  // A file: URL works too.
  sameIndex(t, index, await FlatIndex.load(pathToFileURL(path)), seededRows(3, 64, 3))
})

test('saveSync → loadSync gives the same results, for every metric', (t) => {
  const dir = tempDir(t)
  for (const metric of ['cosine', 'dot', 'l2'] as const) {
    const index = floatIndex(300, 17, 4, metric)
    const path = join(dir, `${metric}.fvec`)
    index.saveSync(path)
    const back = FlatIndex.loadSync(path, { dim: 17, metric })
    sameIndex(t, index, back, seededRows(5, 17, 5))
  }
  const bits = bitsIndex(200, 128, 6)
  bits.saveSync(join(dir, 'bits.fvec'))
  const back = FlatIndex.loadSync(join(dir, 'bits.fvec'), { metric: 'hamming' })
  sameIndex(t, bits, back, seededBytes(4, 16, 7))
  t.deepEqual(back.get(Number.MAX_SAFE_INTEGER), bits.get(Number.MAX_SAFE_INTEGER))
})

test('a loaded index keeps working: add, remove, save again', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'x.fvec')
  floatIndex(50, 8, 8, 'l2').saveSync(path)
  const back = await FlatIndex.load(path, { metric: 'l2' })
  back.add(10_000, seededRows(1, 8, 9))
  t.true(back.remove(1))
  t.throws(() => back.add(4, seededRows(1, 8, 9)), { code: 'ERR_DUPLICATE_KEY' })
  await back.save(path)
  const again = FlatIndex.loadSync(path)
  t.is(again.size, 50)
  t.true(again.has(10_000))
  t.false(again.has(1))
})

test('toBuffer → fromBuffer round trips, and equals the saved file', (t) => {
  const dir = tempDir(t)
  const index = floatIndex(400, 32, 10)
  const buf = index.toBuffer()
  t.true(Buffer.isBuffer(buf))
  sameIndex(t, index, FlatIndex.fromBuffer(buf), seededRows(4, 32, 11))
  // An ArrayBuffer, and a view at an odd offset into a bigger buffer, load too.
  const ab = new Uint8Array(buf).buffer
  sameIndex(t, index, FlatIndex.fromBuffer(ab), seededRows(4, 32, 12))
  const padded = new Uint8Array(buf.length + 3)
  padded.set(buf, 3)
  sameIndex(t, index, FlatIndex.fromBuffer(padded.subarray(3)), seededRows(4, 32, 13))
  index.saveSync(join(dir, 'f.fvec'))
  t.deepEqual(readFileSync(join(dir, 'f.fvec')), buf)
  const empty = new FlatIndex({ dim: 3 })
  t.is(FlatIndex.fromBuffer(empty.toBuffer()).size, 0)
})

test('expectations: another dim or metric is refused', async (t) => {
  const buf = floatIndex(10, 12, 14).toBuffer()
  expectCode(t, () => FlatIndex.fromBuffer(buf, { dim: 13 }), InvalidInputError, 'ERR_DIMENSION_MISMATCH', 'dim')
  expectCode(t, () => FlatIndex.fromBuffer(buf, { metric: 'l2' }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'metric')
  expectCode(t, () => FlatIndex.fromBuffer(buf, { dim: 0 }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'bad dim')
  expectCode(t, () => FlatIndex.fromBuffer(buf, { metric: 'manhattan' as any }), InvalidInputError, 'ERR_UNKNOWN_METRIC', 'bad metric')
  expectCode(t, () => FlatIndex.fromBuffer('nope' as any), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'not bytes')
  const dir = tempDir(t)
  const path = join(dir, 'e.fvec')
  writeFileSync(path, buf)
  const err = await t.throwsAsync(FlatIndex.load(path, { dim: 64 }), { instanceOf: InvalidInputError })
  t.is(err?.code, 'ERR_DIMENSION_MISMATCH')
  expectCode(t, () => FlatIndex.loadSync(path, { metric: 'dot' }), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'sync metric')
  expectCode(t, () => FlatIndex.loadSync(''), InvalidInputError, 'ERR_INVALID_ARGUMENT', 'empty path')
})

test('corruption: truncation, flipped bytes in every part, wrong magic, future version', async (t) => {
  const good = floatIndex(20, 8, 15).toBuffer()
  const load = (b: Uint8Array) => () => FlatIndex.fromBuffer(b)

  for (const len of [0, 5, 8, 63, 64, 100, good.length - 1]) {
    const err = expectCode(t, load(good.subarray(0, len)), CorruptFileError, 'ERR_CORRUPT_FILE', `truncated to ${len}`)
    t.true(err instanceof StorageError)
  }

  // A flipped byte in the header, in the table, and in every section.
  const flip = (at: number): Buffer => {
    const b = Buffer.from(good)
    b[at] ^= 0x10
    return b
  }
  expectCode(t, load(flip(14)), CorruptFileError, 'ERR_CORRUPT_FILE', 'header')
  t.regex(expectCode(t, load(flip(70)), CorruptFileError, 'ERR_CORRUPT_FILE', 'table').message, /section table/)
  const table = sections(good)
  t.deepEqual(table.map((s) => s[0]), ['PARM', 'KEYS', 'VECS'])
  for (const [id, offset, length] of table) {
    for (const at of [offset, offset + Math.floor(length / 2), offset + length - 1]) {
      const err = expectCode(t, load(flip(at)), CorruptFileError, 'ERR_CORRUPT_FILE', `${id} byte ${at}`)
      t.true(err.message.includes(`"${id}"`), err.message)
    }
  }

  const foreign = Buffer.from(good)
  foreign.write('GIF89a', 0)
  t.regex(expectCode(t, load(foreign), CorruptFileError, 'ERR_CORRUPT_FILE', 'magic').message, /not a ferrovec file/)

  const future = Buffer.from(good)
  future.writeUInt16LE(2, 8)
  const err = expectCode(t, load(future), UnsupportedVersionError, 'ERR_UNSUPPORTED_VERSION', 'major 2')
  t.true(err instanceof StorageError)

  // The same through the file loaders, async and sync, with the path in the message.
  const dir = tempDir(t)
  const path = join(dir, 'bad.fvec')
  writeFileSync(path, good.subarray(0, good.length - 10))
  const e1 = await t.throwsAsync(FlatIndex.load(path), { instanceOf: CorruptFileError })
  t.is(e1?.code, 'ERR_CORRUPT_FILE')
  t.true(e1?.message.includes('bad.fvec'))
  writeFileSync(path, future)
  expectCode(t, () => FlatIndex.loadSync(path), UnsupportedVersionError, 'ERR_UNSUPPORTED_VERSION', 'file major 2')
})

test('I/O failures are IoError and leave the previous file alone', async (t) => {
  const dir = tempDir(t)
  const missing = join(dir, 'missing.fvec')
  const e1 = await t.throwsAsync(FlatIndex.load(missing), { instanceOf: IoError })
  t.is(e1?.code, 'ERR_IO')
  t.true(e1?.message.includes('missing.fvec'))
  expectCode(t, () => FlatIndex.loadSync(missing), IoError, 'ERR_IO', 'sync missing')
  const index = floatIndex(5, 4, 16)
  const e2 = await t.throwsAsync(index.save(join(dir, 'no', 'such', 'dir.fvec')), { instanceOf: StorageError })
  t.is(e2?.code, 'ERR_IO')
  // Saving over a directory fails without touching it.
  const target = join(dir, 'keep.fvec')
  index.saveSync(target)
  const before = readFileSync(target)
  expectCode(t, () => floatIndex(9, 4, 17).saveSync(dir), IoError, 'ERR_IO', 'save onto a directory')
  t.deepEqual(readFileSync(target), before)
  t.deepEqual(readdirSync(dir).sort(), ['keep.fvec'])
})

test('successful saves leave no temp files behind', async (t) => {
  const dir = tempDir(t)
  const index = floatIndex(100, 16, 18)
  for (let i = 0; i < 5; i++) {
    await index.save(join(dir, 'a.fvec'))
    index.saveSync(join(dir, 'b.fvec'))
  }
  await Promise.all([index.save(join(dir, 'a.fvec')), index.save(join(dir, 'a.fvec')), index.save(join(dir, 'c.fvec'))])
  t.deepEqual(readdirSync(dir).sort(), ['a.fvec', 'b.fvec', 'c.fvec'])
  sameIndex(t, index, FlatIndex.loadSync(join(dir, 'a.fvec')), seededRows(2, 16, 19))
})

test('a save killed mid-way leaves the previous file or the new one, never a broken one', async (t) => {
  const dir = tempDir(t)
  const target = join(dir, 'index.fvec')
  // The child's index (~26 MB) takes long enough to save that a kill can land inside a save.
  const [rows, dim, seed] = [50_000, 128, 20]
  const oldIndex = floatIndex(100, dim, 21, 'l2')
  const firstRow = seededRows(1, dim, seed)
  const delay = rng(22)
  const outcomes = { old: 0, newWithoutMarker: 0, newWithMarker: 0, killedMidSave: 0 }
  const attempts = 8
  for (let attempt = 0; attempt < attempts; attempt++) {
    oldIndex.saveSync(target)
    for (const f of readdirSync(dir)) if (f !== 'index.fvec') rmSync(join(dir, f))
    const child = spawn(process.execPath, ['--import=tsx', join(here, 'helpers', 'save-loop.ts'), target, `${rows}`, `${dim}`, `${seed}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    // Wait for the first complete save, then kill at a random point within about one more save
    // (the first attempt kills before any save completed, so the old file must survive).
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

    const loaded = FlatIndex.loadSync(target, { dim, metric: 'l2' })
    if (loaded.size === oldIndex.size) {
      outcomes.old++
      sameIndex(t, oldIndex, loaded, seededRows(2, dim, 23))
    } else {
      const marked = loaded.has(MARKER)
      if (marked) outcomes.newWithMarker++
      else outcomes.newWithoutMarker++
      t.is(loaded.size, rows + (marked ? 1 : 0))
      t.deepEqual(loaded.get(1_000_000), firstRow)
      t.truthy(loaded.get(1_000_000 + rows - 1))
    }
    if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) outcomes.killedMidSave++
  }
  t.log(`outcomes over ${attempts} kills: ${JSON.stringify(outcomes)}`)
  t.is(outcomes.old + outcomes.newWithoutMarker + outcomes.newWithMarker, attempts)
})
