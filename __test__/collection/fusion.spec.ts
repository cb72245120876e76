import test from 'ava'
import { rrf, weighted, zscore } from '../../src/collection/fusion.js'
import { ftsQuery, MAX_QUERY_TOKENS, queryTokens } from '../../src/collection/fts.js'

const kw = [
  { key: 1, score: 9 },
  { key: 2, score: 5 },
  { key: 3, score: 4 },
]
const vec = [
  { key: 3, score: 0.9 },
  { key: 4, score: 0.8 },
  { key: 1, score: 0.1 },
]

test('rrf: weighted reciprocal ranks, hand-computed', (t) => {
  const out = rrf(kw, vec, 60, 1, 0.5)
  const expect = new Map([
    [1, 1 / 61 + 0.5 / 63],
    [2, 1 / 62],
    [3, 1 / 63 + 0.5 / 61],
    [4, 0.5 / 62],
  ])
  t.deepEqual(out.map((f) => f.key), [1, 3, 2, 4])
  for (const f of out) t.true(Math.abs(f.score - (expect.get(f.key) as number)) < 1e-12)
})

test('min-max and z-score fusion: alpha 0 is the keyword order, alpha 1 the vector order', (t) => {
  for (const fuse of [weighted, zscore]) {
    t.deepEqual(fuse(kw, vec, 0).slice(0, 3).map((f) => f.key), [1, 2, 3])
    t.deepEqual(fuse(kw, vec, 1).slice(0, 3).map((f) => f.key), [3, 4, 1])
  }
  // min-max by hand: keyword (9,5,4) → (1, 0.2, 0); vector (0.9,0.8,0.1) → (1, 0.875, 0).
  const mm = new Map(weighted(kw, vec, 0.5).map((f) => [f.key, f.score]))
  t.true(Math.abs((mm.get(1) as number) - 0.5) < 1e-12)
  t.true(Math.abs((mm.get(3) as number) - 0.5) < 1e-12)
  t.true(Math.abs((mm.get(4) as number) - 0.4375) < 1e-12)
  // z-score: a document missing from a list gets that list's lowest z, never more.
  const z = new Map(zscore(kw, vec, 0.5).map((f) => [f.key, f.score]))
  const mean = 6
  const sd = Math.sqrt(((9 - 6) ** 2 + (5 - 6) ** 2 + (4 - 6) ** 2) / 3)
  const vmean = 0.6
  const vsd = Math.sqrt(((0.9 - 0.6) ** 2 + (0.8 - 0.6) ** 2 + (0.1 - 0.6) ** 2) / 3)
  t.true(Math.abs((z.get(4) as number) - (0.5 * ((4 - mean) / sd) + 0.5 * ((0.8 - vmean) / vsd))) < 1e-12)
  t.true(Math.abs((z.get(2) as number) - (0.5 * ((5 - mean) / sd) + 0.5 * ((0.1 - vmean) / vsd))) < 1e-12)
  // Empty lists fuse to the other list.
  t.deepEqual(zscore([], vec, 0.2).map((f) => f.key), [3, 4, 1])
  t.deepEqual(rrf(kw, [], 60, 1, 1).map((f) => f.key), [1, 2, 3])
})

test('FTS5 query building: every token quoted, operators and quotes neutralised, stop words dropped', (t) => {
  t.is(ftsQuery('Cancer AND "p53" NOT (tumour*)'), '"cancer" OR "p53" OR "tumour"')
  t.is(ftsQuery('the effect of aspirin on the heart'), '"effect" OR "aspirin" OR "heart"')
  t.is(ftsQuery('to be or not to be'), '"to" OR "be" OR "or" OR "not"')
  t.is(ftsQuery('the', { stopWords: false }), '"the"')
  t.is(ftsQuery('""" *** ()'), undefined)
  t.is(ftsQuery(''), undefined)
  t.is(ftsQuery('naïve café 東京 x²'), '"naïve" OR "café" OR "東京" OR "x²"')
  t.is(queryTokens(Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ')).length, MAX_QUERY_TOKENS)
  for (const q of ['a"b', "it's", 'NEAR(a b, 2)', 'col:a', '^a', 'a+b-c']) {
    const m = ftsQuery(q) as string
    // Balanced quotes, and nothing outside quotes but the OR joiners.
    t.is(m.replace(/"[^"]*"/g, '').replace(/ OR /g, ''), '', q)
  }
})
