// HnswIndex.tune(): recall measured against exact search, the ef search strategy, persistence of the choice,
// and every bad input leaving the index as it was. No timing assertions: latency is reported, never checked.
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import {
  AbortedError,
  FerrovecError,
  FlatIndex,
  formatTuneReport,
  HnswIndex,
  InvalidInputError,
  type TuneProgress,
  type TuneResult,
} from '../src/index.js'
import { recallAtK } from '../src/recall.js'
import { UsageError, type CliContext } from '../src/cli/command.js'
import { tuneCommand } from '../src/cli/tune.js'
import { exactNeighbours, findSmallestSetting, type TuneTrial } from '../src/tune.js'
import { fvecs, tempDir } from './cli/run.js'
import { bruteForce, gaussianClusters, randomBytes, randomVectors } from './helpers.js'

const DIM = 48
const N = 3000
const CLUSTERS = 40
const K = 10
/**
 * How far below the target a separate query set may land. Tuning measures 500 queries × 10 neighbours; the
 * standard error of a recall near 0.95 on that many is about 0.003 if the slots were independent and a few
 * times that since they are not, and the chosen ef is the first that cleared the target on the tuning set (so
 * it sits on the lucky side of that noise). Sampled queries are searched as if removed from the graph, so they
 * are not easier than new ones from the same distribution (checked below).
 */
const TOLERANCE = 0.03

/** Seeded Gaussian clusters around shared centres: the same centres for the data and every query set. */
const clustered = (seed: number, n: number): Float32Array => gaussianClusters({ centreSeed: 1000, clusters: CLUSTERS, dim: DIM, scale: 2, spread: 1 }, seed, n)

const data = clustered(1, N)
const keys = Float64Array.from({ length: N }, (_, i) => i * 3 + 7)
const tuneQueries = clustered(2, 500)
const checkQueries = clustered(3, 500)

/**
 * A deliberately sparse graph (m 4, efConstruction 40), so recall@10 at ef 10 is far below 0.95 and the
 * tuned ef lands well inside the searched range.
 */
async function build(): Promise<HnswIndex<'l2'>> {
  const index = new HnswIndex({ dim: DIM, metric: 'l2', m: 4, efConstruction: 40, seed: 3, buildThreads: 1 })
  await index.addBatch(keys, data)
  return index
}

/** Exact neighbours by a FlatIndex built straight from the data (independent of tune's chunked scan). */
async function truthOf(queries: Float32Array, k: number) {
  const flat = new FlatIndex({ dim: DIM, metric: 'l2' })
  await flat.addBatch(keys, data)
  const r = await flat.searchBatch(queries, k)
  return { ids: r.keys, stride: r.k, distances: r.distances }
}

async function recallAt(index: HnswIndex<'l2'>, queries: Float32Array, ef?: number): Promise<number> {
  const r = await index.searchBatch(queries, K, ef === undefined ? undefined : { ef })
  return recallAtK(r, await truthOf(queries, K), K)
}

function checkShape(t: any, r: TuneResult): void {
  const efs = r.trials.map((x) => x.efSearch)
  t.deepEqual(efs, [...efs].sort((a, b) => a - b), 'trials by ascending ef')
  t.is(new Set(efs).size, efs.length, 'no setting measured twice')
  const chosen = r.trials.find((x) => x.efSearch === r.efSearch)
  t.truthy(chosen)
  t.is(chosen!.recall, r.recall)
  for (const x of r.trials) {
    t.true(x.recall >= 0 && x.recall <= 1)
    t.true(x.distances > 0 && x.visited > 0 && x.latencyMs >= 0 && x.queriesPerSecond > 0)
  }
  // A wider beam costs more distance computations.
  t.true(r.trials.at(-1)!.distances > r.trials[0]!.distances)
}

test('tuned efSearch meets the target on a separate query set (given queries)', async (t) => {
  const index = await build()
  const target = 0.95
  t.true((await recallAt(index, checkQueries, K)) < target - 0.1, 'the data is hard enough that ef = k falls short')

  const r = await index.tune({ targetRecall: target, k: K, queries: tuneQueries })
  t.log(formatTuneReport(r))
  checkShape(t, r)
  t.true(r.reached)
  t.true(r.applied)
  t.is(r.previousEfSearch, 64)
  t.is(index.efSearch, r.efSearch)
  t.is(r.queries, 500)
  t.is(r.sampleKeys, undefined)
  t.true(r.recall >= target)
  // The smallest: the setting just below was measured and fell short.
  const below = r.trials.find((x) => x.efSearch === r.efSearch - 1)
  t.truthy(below)
  t.true(below!.recall < target)

  // The reported recall is what an independent exact search says for the same queries at that ef.
  t.true(Math.abs((await recallAt(index, tuneQueries, r.efSearch)) - r.recall) < 1e-9)
  // And held-out queries from the same distribution, searched with the index's new default ef.
  const held = await recallAt(index, checkQueries)
  t.log(`separate query set: recall@${K} ${held.toFixed(4)} at efSearch ${index.efSearch}`)
  t.true(held >= target - TOLERANCE)
})

test('sampled queries: seeded, self removed from both sides, and the choice holds on a separate query set', async (t) => {
  const index = await build()
  const target = 0.9
  const r = await index.tune({ targetRecall: target, sampleSize: 400, seed: 11 })
  t.log(formatTuneReport(r))
  checkShape(t, r)
  t.true(r.reached)
  t.is(r.queries, 400)
  t.is(r.k, 10)
  const sample = r.sampleKeys!
  t.is(sample.length, 400)
  t.is(new Set(sample).size, 400, 'distinct keys')
  for (const key of sample) t.true(index.has(key))

  // If a query's own key stayed in either side, its k slots would hold one wrong answer: at a wide beam
  // recall would stall near 0.9 instead of reaching ~1.
  const wide = await index.tune({ targetRecall: 1, sampleSize: 400, seed: 11, minEf: 400, maxEf: 400, apply: false })
  t.true(wide.trials[0]!.recall > 0.99)

  // Same seed, same sample and same measurements; another seed, another sample.
  const again = await index.tune({ targetRecall: target, sampleSize: 400, seed: 11, apply: false })
  t.deepEqual(again.sampleKeys, sample)
  t.deepEqual(
    again.trials.map((x) => [x.efSearch, x.recall]),
    r.trials.map((x) => [x.efSearch, x.recall]),
  )
  const other = await index.tune({ targetRecall: target, sampleSize: 400, seed: 12, apply: false })
  t.notDeepEqual(other.sampleKeys, sample)

  t.is(index.efSearch, r.efSearch)
  const held = await recallAt(index, checkQueries)
  t.log(`separate query set: recall@${K} ${held.toFixed(4)} at efSearch ${index.efSearch}`)
  t.true(held >= target - TOLERANCE)
})

test('sampled queries are searched as if removed: no easier than new ones, and the choice holds at 0.95', async (t) => {
  const index = await build()
  const target = 0.95
  const r = await index.tune({ targetRecall: target, seed: 5 })
  t.log(formatTuneReport(r))
  t.true(r.reached)
  t.is(r.queries, 500)
  const held = await recallAt(index, checkQueries)
  t.log(`separate query set: recall@${K} ${held.toFixed(4)} at efSearch ${index.efSearch}`)
  t.true(held >= target - TOLERANCE)

  // What the exclusion buys, at ef = k: searched with their own node in place (k + 1, own key dropped), the
  // same sampled vectors ride that node's links to their neighbours and score far higher than new queries;
  // searched as if removed they score like new queries (within the noise of 500 queries).
  const self = r.sampleKeys!
  const sampled = new Float32Array(self.length * DIM)
  self.forEach((key, i) => sampled.set(index.get(key)!, i * DIM))
  const exact = new FlatIndex({ dim: DIM, metric: 'l2' })
  await exact.addBatch(keys, data)
  const truth = await exact.searchBatch(sampled, K + 1)
  const inPlace = await index.searchBatch(sampled, K + 1, { ef: K + 1 })
  let hits = 0
  for (let q = 0; q < self.length; q++) {
    const want = new Set(Array.from(truth.keys.subarray(q * truth.k, (q + 1) * truth.k)).filter((x) => x !== self[q]).slice(0, K))
    const got = Array.from(inPlace.keys.subarray(q * inPlace.k, q * inPlace.k + inPlace.counts[q]!)).filter((x) => x !== self[q]).slice(0, K)
    hits += got.filter((x) => want.has(x)).length
  }
  const riding = hits / (self.length * K)
  const excluded = r.trials.find((x) => x.efSearch === K)!.recall
  const fresh = await recallAt(index, checkQueries, K)
  t.log(`ef = k: sampled in place ${riding.toFixed(4)}, sampled as if removed ${excluded.toFixed(4)}, new queries ${fresh.toFixed(4)}`)
  t.true(riding > excluded + 0.05 && riding > fresh + 0.05)
  t.true(Math.abs(excluded - fresh) < TOLERANCE)
})

test('the default sample is min(500, size) and k = size − 1 is the largest a sampled tune allows', async (t) => {
  const small = new HnswIndex({ dim: 2, metric: 'l2', seed: 1 })
  small.addBatchSync([1, 2, 3, 4, 5], [[0, 0], [1, 0], [0, 1], [5, 5], [2, 2]])
  // Every other point is a true neighbour; an exhaustive beam finds them all.
  const r = await small.tune({ targetRecall: 1, k: 4 })
  t.is(r.queries, 5)
  t.true(r.reached)
  t.is(r.recall, 1)
  const big = await build()
  t.is((await big.tune({ targetRecall: 0.5, apply: false, maxEf: 10 })).queries, 500)
})

test('an unreachable target says so, returns the best setting found and leaves efSearch alone', async (t) => {
  const index = await build()
  index.efSearch = 77
  const r = await index.tune({ targetRecall: 1, queries: tuneQueries, maxEf: 24 })
  t.log(formatTuneReport(r))
  t.false(r.reached)
  t.false(r.applied)
  t.is(index.efSearch, 77)
  t.is(r.previousEfSearch, 77)
  t.deepEqual(
    r.trials.map((x) => x.efSearch),
    [10, 20, 24],
  )
  const best = Math.max(...r.trials.map((x) => x.recall))
  t.is(r.recall, best)
  t.is(r.efSearch, r.trials.find((x) => x.recall === best)!.efSearch)
  t.true(r.recall < 1)
  t.regex(formatTuneReport(r), /not reached up to efSearch 24/)
})

test('the chosen efSearch survives save and load', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-tune-'))
  try {
    const index = await build()
    const r = await index.tune({ targetRecall: 0.9, queries: tuneQueries })
    t.true(r.applied)
    t.not(r.efSearch, 64)
    const file = join(dir, 'tuned.fvx')
    await index.save(file)
    t.is((await HnswIndex.load(file)).efSearch, r.efSearch)
    const mapped = await HnswIndex.open(file, { readOnly: true })
    t.is(mapped.efSearch, r.efSearch)
    // A read-only index can be tuned too (efSearch is not a write to the file); save writes a copy.
    const again = await mapped.tune({ targetRecall: 0.8, queries: tuneQueries })
    t.is(mapped.efSearch, again.efSearch)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('cosine and hamming indexes tune too', async (t) => {
  const cos = new HnswIndex({ dim: DIM, metric: 'cosine', m: 4, efConstruction: 40, seed: 3 })
  await cos.addBatch(keys, data)
  const rc = await cos.tune({ targetRecall: 0.9, queries: tuneQueries, k: 5 })
  t.true(rc.reached)
  t.true(rc.recall >= 0.9)

  const bytes = 8
  const ham = new HnswIndex({ dim: bytes * 8, metric: 'hamming', seed: 3 })
  await ham.addBatch(Float64Array.from({ length: 2000 }, (_, i) => i), randomBytes(5, 2000 * bytes))
  // Integer distances tie a lot: the tie rule keeps an exhaustive beam at recall 1.
  const rh = await ham.tune({ targetRecall: 1, sampleSize: 100, minEf: 2000, maxEf: 2000, apply: false })
  t.is(rh.recall, 1)
})

test('onProgress reports the exact scan, then every setting measured', async (t) => {
  const index = await build()
  const events: TuneProgress[] = []
  const r = await index.tune({ targetRecall: 0.9, queries: tuneQueries, onProgress: (p) => events.push(p) })
  const exact = events.filter((e) => e.phase === 'exact')
  const trials = events.filter((e) => e.phase === 'trial')
  t.true(exact.length >= 1)
  t.deepEqual(exact.at(-1), { phase: 'exact', done: N, total: N })
  t.is(events.indexOf(trials[0]!), exact.length, 'exact scan first')
  t.deepEqual(
    trials.map((e) => e.done),
    r.trials.map((_, i) => i + 1),
  )
  t.deepEqual(
    trials.map((e) => e.trial.efSearch).sort((a, b) => a - b),
    r.trials.map((x) => x.efSearch),
  )
})

test('the event loop keeps running while tuning', async (t) => {
  const index = await build()
  let ticks = 0
  let settled = false
  const timer = setInterval(() => ticks++, 1)
  const pending = index.tune({ targetRecall: 0.99, queries: tuneQueries }).finally(() => (settled = true))
  await new Promise((resolve) => setTimeout(resolve, 5))
  const ticksWhileRunning = ticks
  const stillRunning = !settled
  const r = await pending
  clearInterval(timer)
  // The exact scan and a dozen settings over 500 queries cannot finish in 5 ms; timers fired meanwhile.
  t.true(stillRunning)
  t.true(ticksWhileRunning > 0)
  t.true(r.reached)
  t.log(`${ticks} timer ticks during ${r.trials.length} settings`)
})

test('an AbortSignal stops tuning with ERR_ABORTED and the index unchanged', async (t) => {
  const index = await build()
  const before = index.efSearch
  const pre = new AbortController()
  pre.abort(new Error('not now'))
  const e1 = await t.throwsAsync(index.tune({ targetRecall: 0.9, signal: pre.signal }), { instanceOf: AbortedError })
  t.is(e1.code, 'ERR_ABORTED')
  t.true(e1 instanceof FerrovecError)

  // Aborted after the second setting was measured (between steps of the walk).
  const mid = new AbortController()
  let seen = 0
  const e2 = await t.throwsAsync(
    index.tune({
      targetRecall: 0.99,
      queries: tuneQueries,
      signal: mid.signal,
      onProgress: (p) => {
        if (p.phase === 'trial' && ++seen === 2) mid.abort()
      },
    }),
    { instanceOf: AbortedError },
  )
  t.is(e2.code, 'ERR_ABORTED')
  t.is(seen, 2)
  t.is(index.efSearch, before)

  // A throwing callback ends the tuning with its own error, also leaving the index as it was.
  const boom = new Error('boom')
  const e3 = await t.throwsAsync(
    index.tune({
      targetRecall: 0.9,
      queries: tuneQueries,
      onProgress: (p) => {
        if (p.phase === 'trial') throw boom
      },
    }),
  )
  t.is(e3, boom)
  t.is(index.efSearch, before)
})

test('bad input is refused with a code and changes nothing', async (t) => {
  const index = await build()
  index.efSearch = 33
  const empty = new HnswIndex({ dim: DIM, metric: 'l2' })
  const cases: Array<[string, InvalidInputError["code"], () => Promise<unknown>]> = [
    ['no options', 'ERR_INVALID_ARGUMENT', () => index.tune(undefined as any)],
    ['targetRecall missing', 'ERR_INVALID_ARGUMENT', () => index.tune({} as any)],
    ['targetRecall 0', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0 })],
    ['targetRecall negative', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: -0.5 })],
    ['targetRecall above 1', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 1.01 })],
    ['targetRecall NaN', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: NaN })],
    ['targetRecall a string', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: '0.9' as any })],
    ['k 0', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, k: 0 })],
    ['k fractional', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, k: 2.5 })],
    ['k negative', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, k: -1 })],
    ['empty index', 'ERR_INVALID_ARGUMENT', () => empty.tune({ targetRecall: 0.9 })],
    ['empty index, given queries', 'ERR_INVALID_ARGUMENT', () => empty.tune({ targetRecall: 0.9, queries: tuneQueries })],
    ['query of the wrong dim', 'ERR_DIMENSION_MISMATCH', () => index.tune({ targetRecall: 0.9, queries: [new Float32Array(DIM), new Float32Array(3)] })],
    ['flat queries not a multiple of dim', 'ERR_DIMENSION_MISMATCH', () => index.tune({ targetRecall: 0.9, queries: new Float32Array(DIM + 1) })],
    ['no queries', 'ERR_INVALID_VECTOR', () => index.tune({ targetRecall: 0.9, queries: [] })],
    ['NaN in a query', 'ERR_INVALID_VECTOR', () => index.tune({ targetRecall: 0.9, queries: [Array.from({ length: DIM }, (_, i) => (i === 3 ? NaN : 0))] })],
    ['k above the index size', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, k: N + 1, queries: tuneQueries })],
    ['k = size when sampling (self removed)', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, k: N })],
    ['sampleSize bigger than the index', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, sampleSize: N + 1 })],
    ['sampleSize 0', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, sampleSize: 0 })],
    ['sampleSize with queries', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, sampleSize: 10, queries: tuneQueries })],
    ['seed negative', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, seed: -1 })],
    ['maxEf 0', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, maxEf: 0 })],
    ['maxEf beyond the engine', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, maxEf: 2 ** 21 })],
    ['minEf above maxEf', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, minEf: 100, maxEf: 50 })],
    ['maxEf below k', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, k: 20, maxEf: 10 })],
    ['apply not a boolean', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, apply: 'yes' as any })],
    ['signal not an AbortSignal', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, signal: {} as any })],
    ['onProgress not a function', 'ERR_INVALID_ARGUMENT', () => index.tune({ targetRecall: 0.9, onProgress: 1 as any })],
  ]
  const keysBefore = Array.from(index.keys())
  for (const [what, code, call] of cases) {
    const err = await t.throwsAsync(call, { instanceOf: InvalidInputError }, what)
    t.is(err?.code, code, what)
    t.is(index.efSearch, 33, what)
    t.is(index.size, N, what)
  }
  t.deepEqual(Array.from(index.keys()), keysBefore)
  t.is(empty.size, 0)
})

test('the chunked exact scan equals brute force, across chunk edges, removals and self-exclusion', async (t) => {
  const dim = 6
  const n = 103
  const vecs = randomVectors(9, n, dim)
  const ks = Float64Array.from({ length: n }, (_, i) => 1000 + i * 5)
  const index = new HnswIndex({ dim, metric: 'l2', seed: 2 })
  index.addBatchSync(ks, vecs)
  for (const key of [1000 + 7 * 5, 1000 + 50 * 5]) index.remove(key) // tombstones: not part of the truth
  const live = Array.from(index.keys())
  const liveRows = new Float32Array(live.length * dim)
  live.forEach((key, i) => liveRows.set(index.get(key)!, i * dim))
  const queries = randomVectors(10, 9, dim)
  const self = Float64Array.from({ length: 9 }, (_, q) => live[q * 11]!)
  for (const chunkRows of [1, 7, 50, 101, 1000]) {
    for (const excl of [undefined, self]) {
      const k = 4
      const events: TuneProgress[] = []
      const truth = await exactNeighbours(index, queries, 9, k, excl, { signal: undefined, onProgress: (e) => events.push(e) }, chunkRows)
      for (let q = 0; q < 9; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const allow = excl === undefined ? undefined : (key: number) => key !== excl[q]
        const want = bruteForce('l2', liveRows, dim, live, query, k, allow)
        const what = `chunk ${chunkRows}, ${excl ? 'self excluded' : 'given'}, query ${q}`
        t.deepEqual(Array.from(truth.ids.subarray(q * k, (q + 1) * k)), want.map(([key]) => key), what)
        want.forEach(([, d], r) => t.true(Math.abs(truth.dists[q * k + r]! - d) < 1e-4, what))
      }
      t.deepEqual(events.at(-1), { phase: 'exact', done: live.length, total: live.length })
    }
  }
})

// The walk over ef, on synthetic recall curves (no index): which settings it measures and what it picks.
function curve(f: (ef: number) => number) {
  const measured: number[] = []
  const measure = async (ef: number): Promise<TuneTrial> => {
    measured.push(ef)
    return { efSearch: ef, recall: f(ef), distances: ef, visited: ef, latencyMs: 0, queriesPerSecond: 1 }
  }
  return { measured, measure }
}

test('findSmallestSetting: doubling then bisection finds the threshold of a monotone curve (exactly below 64)', async (t) => {
  for (const threshold of [10, 11, 19, 20, 21, 37, 63, 64, 160, 999, 2561, 4096]) {
    const { measured, measure } = curve((ef) => (ef >= threshold ? 0.96 : 0.9))
    const r = await findSmallestSetting(measure, 10, 4096, 0.95)
    t.true(r.reached, `threshold ${threshold}`)
    const lastFailure = Math.max(0, ...r.trials.filter((x) => x.recall < 0.95).map((x) => x.efSearch))
    t.true(r.best.efSearch >= threshold)
    if (lastFailure === 0) t.is(r.best.efSearch, 10, 'met at minEf')
    else t.true(r.best.efSearch - lastFailure <= Math.max(1, Math.floor(lastFailure / 32)), `threshold ${threshold}: chose ${r.best.efSearch}`)
    if (threshold < 64) t.is(r.best.efSearch, threshold)
    t.true(measured.length <= Math.ceil(Math.log2(4096 / 10)) + 2 + 6, `${measured.length} measurements`)
    t.is(new Set(measured).size, measured.length)
  }
})

test('findSmallestSetting: a dip never makes it pick an ef below a measured failure', async (t) => {
  // Meets the target from 30 on, except a dip at 40..45 (noise, or a beam that wandered).
  const f = (ef: number) => (ef >= 30 && !(ef >= 40 && ef <= 45) ? 0.96 : 0.9)
  const { measure } = curve(f)
  const r = await findSmallestSetting(measure, 10, 1000, 0.95)
  t.true(r.reached)
  const failures = r.trials.filter((x) => x.recall < 0.95).map((x) => x.efSearch)
  t.true(failures.every((ef) => ef < r.best.efSearch), `chose ${r.best.efSearch}, failures ${failures.join(',')}`)
  t.true(r.best.recall >= 0.95)
  t.true(r.trials.filter((x) => x.efSearch >= r.best.efSearch).every((x) => x.recall >= 0.95))
})

test('findSmallestSetting: unreachable returns the best recall (smallest ef among equals)', async (t) => {
  const { measured, measure } = curve((ef) => Math.min(0.93, 0.5 + ef / 100))
  const r = await findSmallestSetting(measure, 10, 200, 0.95)
  t.false(r.reached)
  t.deepEqual(measured, [10, 20, 40, 80, 160, 200])
  t.is(r.best.efSearch, 80)
  t.is(r.best.recall, 0.93)
  // Met at once: one measurement.
  const at = curve(() => 1)
  const r2 = await findSmallestSetting(at.measure, 10, 200, 0.95)
  t.deepEqual(at.measured, [10])
  t.is(r2.best.efSearch, 10)
})

// `ferrovec tune`, run in-process through its Command (the dispatcher's own tests spawn the whole CLI).
function cliContext() {
  let out = ''
  let err = ''
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        add(String(chunk))
        done()
      },
    })
  const ctx: CliContext = {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    stdin: Readable.from([]),
    progress: false,
    env: {},
  }
  return { ctx, out: () => out, err: () => err }
}

test('ferrovec tune prints the table and the recommendation, and --save writes the chosen efSearch', async (t) => {
  const { dir, cleanup } = tempDir('ferrovec-tune-cli-')
  try {
    const file = join(dir, 'index.fvx')
    const qfile = join(dir, 'queries.fvecs')
    await (await build()).save(file)
    writeFileSync(qfile, fvecs(tuneQueries, DIM))

    const text = cliContext()
    t.is(await tuneCommand.run([file, '--target', '0.9', '--queries', qfile], text.ctx), 0)
    t.log(text.out())
    t.regex(text.out(), /efSearch\s+recall@10\s+dist\/query/)
    t.regex(text.out(), /efSearch \d+: recall@10 0\.9\d+ ≥ target 0\.9 \(500 given queries\); efSearch left at 64/)
    t.is((await HnswIndex.load(file)).efSearch, 64, 'no --save, no change')

    const json = cliContext()
    t.is(await tuneCommand.run([file, '--target', '0.9', '--queries', qfile, '--save', '--json'], json.ctx), 0)
    const r = JSON.parse(json.out())
    t.true(r.reached)
    t.is(r.saved, file)
    t.false(r.sampled)
    t.true(r.trials.length > 2)
    t.is((await HnswIndex.load(file)).efSearch, r.efSearch)

    const out = join(dir, 'copy.fvx')
    const sampled = cliContext()
    t.is(await tuneCommand.run([file, '--target', '0.85', '--sample', '200', '--seed', '4', '--out', out], sampled.ctx), 0)
    t.regex(sampled.out(), /200 queries sampled from the index/)
    t.regex(sampled.out(), /saved to /)
    t.not((await HnswIndex.load(out)).efSearch, r.efSearch)

    // Unreachable: exit code 1, the table still printed, nothing saved.
    const before = (await HnswIndex.load(file)).efSearch
    const miss = cliContext()
    t.is(await tuneCommand.run([file, '--target', '1', '--max-ef', '12', '--save'], miss.ctx), 1)
    t.regex(miss.out(), /not reached up to efSearch 12/)
    t.regex(miss.out(), /not saved/)
    t.is((await HnswIndex.load(file)).efSearch, before)

    const usage = async (args: string[], re: RegExp) => {
      const e = await t.throwsAsync(tuneCommand.run(args, cliContext().ctx), { instanceOf: UsageError }, args.join(' '))
      t.regex(e.message, re)
    }
    await usage([file], /--target is required/)
    await usage([file, '--target', '1.5'], /--target must be a number in \[0, 1\]/)
    await usage([file, '--target', '0'], /above 0/)
    await usage([file, '--target', '0.9', '--k', '0'], /--k must be an integer/)
    await usage([file, '--target', '0.9', '--queries', qfile, '--sample', '5'], /do not apply with --queries/)
    await usage([file, '--target', '0.9', '--save', '--out', out], /not both/)
    await usage(['--target', '0.9'], /missing <index file>/)
    const wrong = join(dir, 'wrong.fvecs')
    writeFileSync(wrong, fvecs(new Float32Array(2 * 8), 8))
    const e = await t.throwsAsync(tuneCommand.run([file, '--target', '0.9', '--queries', wrong], cliContext().ctx), { instanceOf: InvalidInputError })
    t.is(e.code, 'ERR_DIMENSION_MISMATCH')
  } finally {
    cleanup()
  }
})
