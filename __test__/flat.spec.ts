import test from 'ava'
import { FlatIndex, type Metric } from '../src/index.js'
import { bruteForce, randomBytes, randomVectors } from './helpers.js'

const N = 2000
const Q = 25
const K = 10

/** Index results must equal brute force: same distances (±tolerance) in order, same keys except among near-ties. */
function sameAsBruteForce(
  t: import('ava').ExecutionContext,
  keys: ArrayLike<number>,
  dists: ArrayLike<number>,
  want: Array<[number, number]>,
  what: string,
) {
  t.is(keys.length, want.length, `${what}: count`)
  for (let i = 0; i < want.length; i++) {
    const [wk, wd] = want[i]
    const eps = 1e-4 * (1 + Math.abs(wd))
    t.true(Math.abs(dists[i] - wd) <= eps, `${what} rank ${i}: distance ${dists[i]} vs ${wd}`)
    const tied = want.some(([k2, d2]) => k2 !== wk && Math.abs(d2 - wd) <= 2 * eps)
    if (!tied) t.is(keys[i], wk, `${what} rank ${i}: key`)
  }
}

for (const metric of ['cosine', 'dot', 'l2', 'hamming'] as const) {
  test(`${metric}: search and searchBatch (sync and async) equal a plain TypeScript brute force`, async (t) => {
    const dim = metric === 'hamming' ? 256 : 64
    const rowLen = metric === 'hamming' ? dim / 8 : dim
    const seed = { cosine: 1, dot: 2, l2: 3, hamming: 4 }[metric]
    const data = metric === 'hamming' ? randomBytes(seed, N * rowLen) : randomVectors(seed, N, dim)
    const queries = metric === 'hamming' ? randomBytes(seed + 100, Q * rowLen) : randomVectors(seed + 100, Q, dim)
    // Sparse, large keys: results must report the caller's keys, not positions.
    const keys = Float64Array.from({ length: N }, (_, i) => i * 1_000_003 + 7)
    const index = new FlatIndex({ dim, metric: metric as Metric })
    await index.addBatch(keys, data as Float32Array & Uint8Array)
    t.is(index.size, N)

    const asyncBatch = await index.searchBatch(queries as Float32Array & Uint8Array, K)
    const syncBatch = index.searchBatchSync(queries as Float32Array & Uint8Array, K)
    t.deepEqual(asyncBatch, syncBatch, 'async and sync batch search agree exactly')
    t.is(asyncBatch.k, K)
    for (let q = 0; q < Q; q++) {
      const query = queries.subarray(q * rowLen, (q + 1) * rowLen)
      const want = bruteForce(metric, data, rowLen, keys, query, K)
      const single = index.search(query as Float32Array & Uint8Array, K)
      sameAsBruteForce(t, single.keys, single.distances, want, `${metric} q${q} single (seed ${seed})`)
      t.is(asyncBatch.counts[q], K)
      t.deepEqual(asyncBatch.keys.subarray(q * K, (q + 1) * K), single.keys, 'batch row equals single search')
      t.deepEqual(asyncBatch.distances.subarray(q * K, (q + 1) * K), single.distances)
    }
  })
}

test('every accepted input shape takes the same path', async (t) => {
  const dim = 8
  const data = randomVectors(9, 30, dim)
  const rows = Array.from({ length: 30 }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim)))
  const a = new FlatIndex({ dim, metric: 'l2' })
  const b = new FlatIndex({ dim, metric: 'l2' })
  const c = new FlatIndex({ dim, metric: 'l2' })
  a.addBatchSync(Array.from({ length: 30 }, (_, i) => i), data)
  await b.addBatch(Array.from({ length: 30 }, (_, i) => BigInt(i)), rows)
  rows.forEach((r, i) => c.add(i, r))
  const q = rows[3]
  t.deepEqual(a.search(q, 5), b.search(Float32Array.from(q), 5))
  t.deepEqual(a.search(q, 5), c.search(q, 5))
  t.deepEqual(a.searchBatchSync([q, rows[4]], 3), await b.searchBatch(Float32Array.from([...q, ...rows[4]]), 3))
  t.deepEqual(a.get(3), Float32Array.from(q))
})

test('filters: allow-lists of every shape and predicates restrict results', async (t) => {
  const dim = 16
  const data = randomVectors(11, 500, dim)
  const keys = Float64Array.from({ length: 500 }, (_, i) => i)
  const index = new FlatIndex({ dim, metric: 'cosine' })
  await index.addBatch(keys, data)
  const q = randomVectors(12, 1, dim)
  const even = (k: number) => k % 2 === 0
  const want = bruteForce('cosine', data, dim, keys, q, 7, even).map(([k]) => k)
  const allowed = Array.from(keys).filter(even)
  for (const filter of [even, new Set(allowed), allowed, Float64Array.from(allowed), new Set(allowed.map(BigInt))]) {
    t.deepEqual(Array.from(index.search(q, 7, { filter }).keys), want)
  }
  const batch = await index.searchBatch([q, q], 7, { filter: even })
  t.deepEqual(Array.from(batch.keys.subarray(7, 14)), want)
  // Fewer matches than k: what there is, and keys not in the index are ignored.
  const few = index.search(q, 10, { filter: [3, 5, 999_999] })
  t.deepEqual(Array.from(few.keys).sort((x, y) => x - y), [3, 5])
  t.is(index.search(q, 10, { filter: [] }).keys.length, 0)
})

test('a throwing filter predicate becomes a thrown error or a rejected promise', async (t) => {
  const index = new FlatIndex({ dim: 2, metric: 'l2' })
  index.addBatchSync([1, 2, 3], [[0, 0], [1, 1], [2, 2]])
  const boom = new Error('predicate failed')
  const filter = (k: number) => {
    if (k === 2) throw boom
    return true
  }
  t.is(t.throws(() => index.search([0, 0], 1, { filter })), boom)
  t.is(await t.throwsAsync(index.searchBatch([[0, 0]], 1, { filter })), boom)
  t.is(index.size, 3)
})

test('upsert replaces, remove deletes, get returns a copy', async (t) => {
  const index = new FlatIndex({ dim: 3, metric: 'l2' })
  index.add(1, [1, 0, 0])
  index.add(2, [0, 1, 0])
  index.add(1, [0, 0, 5], { upsert: true })
  t.is(index.size, 2)
  t.deepEqual(index.get(1), Float32Array.of(0, 0, 5))
  await index.addBatch([2, 3], [[0, 0, 1], [9, 9, 9]], { upsert: true })
  t.is(index.size, 3)
  t.deepEqual(Array.from(index.search([0, 0, 0], 3).keys), [2, 1, 3])
  const copy = index.get(2)!
  copy[0] = 100
  t.deepEqual(index.get(2), Float32Array.of(0, 0, 1), 'mutating the copy leaves the index alone')
  t.true(index.remove(2))
  t.false(index.remove(2))
  t.false(index.has(2))
  t.true(index.has(3n))
  t.is(index.get(2), undefined)
  t.deepEqual(Array.from(index.keys()).sort(), [1, 3])
  t.deepEqual(Array.from(index.search([0, 0, 0], 5).keys), [1, 3], 'k larger than the index returns what there is')
})

test('the largest safe key survives exactly, as number and bigint', (t) => {
  const index = new FlatIndex({ dim: 1, metric: 'l2' })
  index.add(Number.MAX_SAFE_INTEGER, [1])
  index.add(BigInt(Number.MAX_SAFE_INTEGER) - 1n, [2])
  t.deepEqual(Array.from(index.search([1], 2).keys), [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1])
})

test('empty index: searches return empty results', async (t) => {
  const index = new FlatIndex({ dim: 4 })
  t.is(index.metric, 'cosine')
  t.is(index.search([1, 2, 3, 4], 3).keys.length, 0)
  const batch = await index.searchBatch([[1, 2, 3, 4], [4, 3, 2, 1]], 3)
  t.deepEqual(Array.from(batch.counts), [0, 0])
  t.is(batch.keys.length, 0)
})

test('memoryUsage accounts for the vectors', async (t) => {
  const index = new FlatIndex({ dim: 128, metric: 'l2' })
  await index.addBatch(Float64Array.from({ length: 1000 }, (_, i) => i), randomVectors(5, 1000, 128))
  const m = index.memoryUsage()
  t.true(m.vectors >= 1000 * 128 * 4)
  t.true(m.keys >= 1000 * 8)
  t.true(m.total >= m.vectors + m.keys)
})
