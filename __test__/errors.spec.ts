import test from 'ava'
import { createRequire } from 'node:module'
import { DuplicateKeyError, FerrovecError, FlatIndex, InvalidInputError, type ErrorCode, type Metric } from '../src/index.js'

const DIM = 4

function seeded(): FlatIndex<'l2'> {
  const index = new FlatIndex({ dim: DIM, metric: 'l2' })
  index.addBatchSync([10, 20, 30], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
  return index
}

/** Everything observable about an index, to prove a failed call changed nothing. */
function state(index: FlatIndex<'l2'>) {
  const keys = Array.from(index.keys()).sort((a, b) => a - b)
  return { size: index.size, keys, vectors: keys.map((k) => Array.from(index.get(k)!)) }
}

const ok = [1, 2, 3, 4]
const nan = [1, NaN, 3, 4]

// [title, code, error class, the call]
const syncCases: Array<[string, ErrorCode, Function, (i: FlatIndex<'l2'>) => unknown]> = [
  ['wrong dimension (add)', 'ERR_DIMENSION_MISMATCH', InvalidInputError, (i) => i.add(1, [1, 2, 3])],
  ['wrong dimension (search)', 'ERR_DIMENSION_MISMATCH', InvalidInputError, (i) => i.search([1, 2], 1)],
  ['wrong dimension (flat batch)', 'ERR_DIMENSION_MISMATCH', InvalidInputError, (i) => i.addBatchSync([1, 2], new Float32Array(7))],
  ['wrong dimension in one batch row', 'ERR_DIMENSION_MISMATCH', InvalidInputError, (i) => i.addBatchSync([1, 2], [ok, [1, 2]])],
  ['NaN component', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, nan)],
  ['+Infinity component', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, [Infinity, 0, 0, 0])],
  ['-Infinity component', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, Float32Array.of(0, 0, -Infinity, 0))],
  ['beyond float32 range', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, [1e39, 0, 0, 0])],
  ['NaN in the query', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.search(nan, 1)],
  ['empty vector', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, [])],
  ['empty query batch', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.searchBatchSync([], 1)],
  ['non-numeric component', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, [1, '2', 3, 4] as unknown as number[])],
  ['vector that is not an array', 'ERR_INVALID_VECTOR', InvalidInputError, (i) => i.add(1, 'abcd' as unknown as number[])],
  ['k = 0', 'ERR_INVALID_ARGUMENT', InvalidInputError, (i) => i.search(ok, 0)],
  ['k < 0', 'ERR_INVALID_ARGUMENT', InvalidInputError, (i) => i.search(ok, -3)],
  ['fractional k', 'ERR_INVALID_ARGUMENT', InvalidInputError, (i) => i.search(ok, 2.5)],
  ['NaN k', 'ERR_INVALID_ARGUMENT', InvalidInputError, (i) => i.searchBatchSync([ok], NaN)],
  ['negative key', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.add(-1, ok)],
  ['fractional key', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.add(1.5, ok)],
  ['unsafe key', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.add(2 ** 53, ok)],
  ['unsafe bigint key', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.add(2n ** 64n, ok)],
  ['string key', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.add('7' as unknown as number, ok)],
  ['bad key in a filter', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.search(ok, 1, { filter: [1, -2] })],
  ['bad key in remove', 'ERR_INVALID_KEY', InvalidInputError, (i) => i.remove(-5)],
  ['duplicate key', 'ERR_DUPLICATE_KEY', DuplicateKeyError, (i) => i.add(20, ok)],
  ['duplicate key inside a batch', 'ERR_DUPLICATE_KEY', DuplicateKeyError, (i) => i.addBatchSync([1, 1], [ok, ok])],
  ['duplicate inside an upsert batch', 'ERR_DUPLICATE_KEY', DuplicateKeyError, (i) => i.addBatchSync([1, 1], [ok, ok], { upsert: true })],
  ['more keys than vectors', 'ERR_INVALID_ARGUMENT', InvalidInputError, (i) => i.addBatchSync([1, 2, 3], [ok, ok])],
  ['a wrong-dimension filter-free batch search', 'ERR_DIMENSION_MISMATCH', InvalidInputError, (i) => i.searchBatchSync(new Float32Array(6), 1)],
]

for (const [title, code, cls, call] of syncCases) {
  test(`bad input: ${title} → ${code}, index unchanged`, (t) => {
    const index = seeded()
    const before = state(index)
    const err = t.throws(() => call(index))
    t.true(err instanceof FerrovecError, `${err?.constructor.name}: ${err?.message}`)
    t.true(err instanceof cls)
    t.is((err as FerrovecError).code, code)
    t.true(err!.message.length > 10)
    t.deepEqual(state(index), before)
  })
}

test('a batch with one bad row adds nothing (sync and async), and the message names the row', async (t) => {
  const index = seeded()
  const before = state(index)
  const rows = Array.from({ length: 100 }, (_, i) => [i, i, i, i])
  rows[57] = [1, 2, NaN, 4]
  const keys = rows.map((_, i) => 100 + i)
  const syncErr = t.throws(() => index.addBatchSync(keys, rows))
  t.is((syncErr as FerrovecError).code, 'ERR_INVALID_VECTOR')
  t.regex(syncErr!.message, /row 57/)
  const asyncErr = await t.throwsAsync(index.addBatch(keys, rows))
  t.is((asyncErr as FerrovecError).code, 'ERR_INVALID_VECTOR')
  t.true(asyncErr instanceof InvalidInputError)
  const dupErr = await t.throwsAsync(index.addBatch([5, 30], [ok, ok]))
  t.is((dupErr as FerrovecError).code, 'ERR_DUPLICATE_KEY')
  t.deepEqual(state(index), before)
})

test('async bad input rejects (never throws synchronously) with a coded error', async (t) => {
  const index = seeded()
  const before = state(index)
  for (const [p, code] of [
    [index.addBatch([1], [[1, 2]]), 'ERR_DIMENSION_MISMATCH'],
    [index.searchBatch([ok], 0), 'ERR_INVALID_ARGUMENT'],
    [index.searchBatch([nan], 1), 'ERR_INVALID_VECTOR'],
    [index.addBatch([-1], [ok]), 'ERR_INVALID_KEY'],
  ] as const) {
    const err = await t.throwsAsync(p)
    t.is((err as FerrovecError).code, code)
  }
  t.deepEqual(state(index), before)
})

test('constructor: unknown metric, bad dim, hamming dim not a multiple of 8', (t) => {
  const e1 = t.throws(() => new FlatIndex({ dim: 4, metric: 'manhattan' as Metric }))
  t.is((e1 as FerrovecError).code, 'ERR_UNKNOWN_METRIC')
  t.regex(e1!.message, /cosine.*dot.*l2.*hamming/)
  for (const dim of [0, -1, 2.5, NaN, '4' as unknown as number]) {
    t.is((t.throws(() => new FlatIndex({ dim })) as FerrovecError).code, 'ERR_INVALID_ARGUMENT', String(dim))
  }
  t.is((t.throws(() => new FlatIndex({ dim: 12, metric: 'hamming' })) as FerrovecError).code, 'ERR_INVALID_ARGUMENT')
  t.is((t.throws(() => new FlatIndex(undefined as never)) as FerrovecError).code, 'ERR_INVALID_ARGUMENT')
})

test('hamming indexes refuse float vectors, float indexes refuse packed bytes', (t) => {
  const bits = new FlatIndex({ dim: 16, metric: 'hamming' })
  bits.add(1, Uint8Array.of(1, 2))
  t.is((t.throws(() => bits.add(2, [300, 1])) as FerrovecError).code, 'ERR_INVALID_VECTOR')
  t.is((t.throws(() => bits.add(2, Uint8Array.of(1, 2, 3))) as FerrovecError).code, 'ERR_DIMENSION_MISMATCH')
  t.is((t.throws(() => bits.add(2, new Float32Array(2) as unknown as Uint8Array)) as FerrovecError).code, 'ERR_INVALID_VECTOR')
  t.is(bits.size, 1)
})

test('the raw native binding already carries the stable code on err.code', (t) => {
  const binding = createRequire(import.meta.url)('../native/binding.cjs')
  const raw = new binding.NativeFlatIndex(3, 'l2')
  const err = t.throws(() => raw.addBatchSync(Float64Array.of(1), Float32Array.of(1, 2), false))
  t.is((err as { code?: string }).code, 'ERR_DIMENSION_MISMATCH')
  t.is((t.throws(() => new binding.NativeFlatIndex(3, 'nope')) as { code?: string }).code, 'ERR_UNKNOWN_METRIC')
  t.is((t.throws(() => raw.searchBatchSync(Float32Array.of(1, 2, 3), 1.5)) as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  t.is((t.throws(() => raw.has(-1)) as { code?: string }).code, 'ERR_INVALID_KEY')
  return raw.searchBatch(Float32Array.of(1, 2), 1).then(
    () => t.fail('should reject'),
    (e: { code?: string }) => t.is(e.code, 'ERR_DIMENSION_MISMATCH'),
  )
})
