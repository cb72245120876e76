import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { CorruptFileError, FlatIndex, HnswIndex, NotTrainedError, type HnswIndexOptions, type Metric } from '../src/index.js'
import { rng } from './helpers.js'

// Seeded clustered data (the graph builds in a debug-built addon here, so it stays small): points
// around 16 centres with per-cluster spread; queries from the same clusters.
const DIM = 64
const N = 1200
const Q = 30
const K = 10

function clustered(seed: number, n: number): Float32Array {
  const r = rng(seed)
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())
  const centres = Float32Array.from({ length: 16 * DIM }, gauss)
  const out = new Float32Array(n * DIM)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * 16)
    const spread = 0.3 + 0.04 * c
    for (let j = 0; j < DIM; j++) out[i * DIM + j] = centres[c * DIM + j] + spread * gauss()
  }
  return out
}

const all = clustered(17, N + Q)
const base = all.subarray(0, N * DIM)
const queries = all.subarray(N * DIM)
const keys = Float64Array.from({ length: N }, (_, i) => i * 7 + 3)

function recallAt10(got: { keys: Float64Array }, metric: Metric): number {
  const exact = new FlatIndex({ dim: DIM, metric })
  exact.addBatchSync(keys, base)
  const truth = exact.searchBatchSync(queries, K)
  let hits = 0
  for (let q = 0; q < Q; q++) {
    const want = new Set(truth.keys.subarray(q * K, (q + 1) * K))
    for (const k of got.keys.subarray(q * K, (q + 1) * K)) if (want.has(k)) hits++
  }
  return hits / (Q * K)
}

const graph = { m: 8, efConstruction: 40, seed: 3 }

// Floors under what these settings measured here at ef 64 (int8 ×2 rescored, binary ×16, pq
// m = dim/8 ×8 and f16: all 1.0, as the f32 graph; the first 32 of 64 dims rescored ×4 at full
// dimension: 0.957); the codes must also be their stated fraction of f32.
const cases: Array<{ name: string; options: HnswIndexOptions<Metric>; floor: number; ratio: number }> = [
  { name: 'int8', options: { dim: DIM, metric: 'l2', quantization: 'int8', rescore: { oversample: 2 }, ...graph }, floor: 0.95, ratio: (DIM + 8) / (4 * DIM) },
  { name: 'binary', options: { dim: DIM, metric: 'cosine', quantization: 'binary', ...graph }, floor: 0.85, ratio: 0.04 },
  {
    name: 'pq',
    options: { dim: DIM, metric: 'l2', quantization: { type: 'pq', m: 8, iterations: 4, sample: 1200 }, trainAfter: 1000, ...graph },
    floor: 0.9,
    ratio: 0.04,
  },
  { name: 'f16', options: { dim: DIM, metric: 'cosine', quantization: 'f16', ...graph }, floor: 0.95, ratio: 0.5 },
  {
    name: 'truncate',
    options: { dim: DIM, metric: 'cosine', quantization: { type: 'truncate', dims: DIM / 2 }, rescore: { oversample: 4 }, ...graph },
    floor: 0.9,
    ratio: 0.5,
  },
]

for (const c of cases) {
  test(`${c.name}: the graph walk on codes keeps recall@10, splits memory, sync = async`, async (t) => {
    const index = new HnswIndex(c.options)
    await index.addBatch(keys, base)
    const info = index.quantization
    t.is(info?.type, c.name as 'int8')
    t.true(info?.trained)
    const got = await index.searchBatch(queries, K, { ef: 64 })
    const r = recallAt10(got, c.options.metric ?? 'cosine')
    t.log(`${c.name} recall@10 ${r.toFixed(3)}`)
    t.true(r >= c.floor, `${c.name} recall@10 ${r}`)
    const m = index.memoryUsage()
    // Codes and originals share the graph's slot capacity (it grows by doubling), so their ratio is
    // the per-vector ratio.
    const f32Bytes = N * DIM * 4
    t.true((m.originals ?? 0) >= f32Bytes, 'originals are kept by default')
    const ratio = (m.codes ?? Infinity) / (m.originals ?? 1)
    t.true(ratio <= c.ratio, `${c.name} codes ${m.codes} vs originals ${m.originals}`)
    t.is(m.vectors, (m.codes ?? 0) + (m.originals ?? 0))
    t.true(m.graph > 0)
    t.deepEqual(index.searchBatchSync(queries, K, { ef: 64 }), got)
  })
}

test('quantization options: same shapes and errors as FlatIndex; a plain index reports none', (t) => {
  t.is(new HnswIndex({ dim: 8 }).quantization, undefined)
  t.is(new HnswIndex({ dim: 8 }).memoryUsage().codes, undefined)
  const q = new HnswIndex({ dim: 16, metric: 'cosine', quantization: 'binary', trainAfter: 100, seed: 4 }).quantization
  t.deepEqual(q, { type: 'binary', trained: false, codeBytes: 0, oversample: 16, keepOriginals: true, trainAfter: 100, seed: 4 })
  const bad: Array<[HnswIndexOptions<Metric>, RegExp]> = [
    [{ dim: 16, metric: 'l2', quantization: 'binary' }, /l2/],
    [{ dim: 16, metric: 'l2', quantization: { type: 'pq', m: 5 } }, /m must divide dim \(16\)/],
    [{ dim: 16, metric: 'l2', quantization: 'int4' as 'int8' }, /quantization must be/],
    [{ dim: 16, metric: 'l2', rescore: { oversample: 4 } }, /set quantization too/],
    [{ dim: 16, metric: 'l2', quantization: 'pq', trainAfter: 10 }, /trainAfter must be at least 256/],
    [{ dim: 16, metric: 'hamming', quantization: 'int8' }, /packed bits/],
  ]
  for (const [options, message] of bad) {
    t.throws(() => new HnswIndex(options), { code: 'ERR_INVALID_ARGUMENT', message }, JSON.stringify(options))
  }
})

test('an untrained index links in f32 and refuses search; trainAfter: false refuses adds until train()', async (t) => {
  const index = new HnswIndex({ dim: DIM, metric: 'l2', quantization: 'int8', trainAfter: 1100, ...graph })
  index.addBatchSync(keys.subarray(0, 1000), base.subarray(0, 1000 * DIM))
  t.is(index.quantization?.trained, false)
  const e = t.throws(() => index.search(queries.subarray(0, DIM), 3), { instanceOf: NotTrainedError })
  t.regex(e?.message ?? '', /once 1100 vectors have been added \(1000 so far\)/)
  await t.throwsAsync(index.searchBatch(queries, 3), { code: 'ERR_NOT_TRAINED' })
  index.addBatchSync(keys.subarray(1000), base.subarray(1000 * DIM))
  t.is(index.quantization?.trained, true)
  t.is(index.quantization?.codeBytes, DIM + 8)
  t.is(index.search(base.subarray(5 * DIM, 6 * DIM), 1).keys[0], keys[5])

  const manual = new HnswIndex({ dim: DIM, metric: 'l2', quantization: 'int8', trainAfter: false, ...graph })
  t.throws(() => manual.addBatchSync(keys.subarray(0, 5), base.subarray(0, 5 * DIM)), { code: 'ERR_NOT_TRAINED' })
  t.is(manual.size, 0)
  t.throws(() => manual.trainSync(base.subarray(0, 10 * DIM)), { code: 'ERR_INVALID_ARGUMENT', message: /at least 32/ })
  await manual.train(base.subarray(0, 500 * DIM))
  t.is(manual.quantization?.trained, true)
  t.throws(() => manual.trainSync(base.subarray(0, 500 * DIM)), { code: 'ERR_INVALID_ARGUMENT', message: /already trained/ })
  await manual.addBatch(keys.subarray(0, 500), base.subarray(0, 500 * DIM))
  t.is(manual.search(base.subarray(9 * DIM, 10 * DIM), 1).keys[0], keys[9])
  t.throws(() => new HnswIndex({ dim: 4 }).trainSync([[1, 2, 3, 4]]), { code: 'ERR_INVALID_ARGUMENT' })
})

test('save/open/fromBuffer keep codes and results; keepOriginals: false drops rows; damage is ERR_CORRUPT_FILE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-qhnsw-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const index = new HnswIndex({ dim: DIM, metric: 'cosine', quantization: 'int8', keepOriginals: false, trainAfter: 1000, ...graph })
  await index.addBatch(keys, base)
  t.is(index.memoryUsage().originals, 0)
  const row = index.get(keys[7])
  t.truthy(row, 'get() returns the reconstruction')
  const before = index.searchBatchSync(queries, K)
  const path = join(dir, 'q.fvec')
  await index.save(path)
  for (const loaded of [await HnswIndex.load(path), await HnswIndex.open(path), HnswIndex.fromBuffer(index.toBuffer())]) {
    t.deepEqual(loaded.quantization, index.quantization)
    t.deepEqual(loaded.searchBatchSync(queries, K), before)
    t.is(loaded.memoryUsage().originals, 0)
  }
  const ro = await HnswIndex.open(path)
  t.throws(() => ro.trainSync(base.subarray(0, 100 * DIM)), { code: 'ERR_READ_ONLY' })
  const buf = index.toBuffer()
  buf[buf.length - 10] ^= 0xff
  t.throws(() => HnswIndex.fromBuffer(buf), { instanceOf: CorruptFileError })
})

test('remove, compact, upsert and filters keep working on codes', async (t) => {
  const index = new HnswIndex({ dim: DIM, metric: 'cosine', quantization: 'binary', ...graph })
  await index.addBatch(keys, base)
  for (let i = 0; i < N; i += 10) index.remove(keys[i])
  t.true((await index.compact()) >= N / 10)
  const q = queries.subarray(0, DIM)
  const even = (k: number) => k % 2 === 0
  const r = index.search(q, K, { filter: even })
  t.true(Array.from(r.keys).every(even))
  index.add(keys[11], q, { upsert: true })
  t.is(index.search(q, 1).keys[0], keys[11])
  t.is(index.search(q, 1).distances[0] < 1e-5, true, 'rescored distance is exact')
})
