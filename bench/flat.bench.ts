// Exact-search throughput: ferrovec's FlatIndex against usearch's exact search, faiss-node's
// IndexFlatL2/IndexFlatIP (when installable) and a plain-JS loop, single query and batch, with recall@10
// next to every figure. Exact search should score recall 1.0: here recall is a correctness check, and a
// fast wrong answer shows up as such.
//
// Run through run.ts (`npm run bench`, `npm run bench:flat`); it exports `runFlat` for that.

import { FlatIndex } from './lib/ferrovec.js'
import { loadRealSet, type RealSet } from './lib/datasets.js'
import { loadOptionalPeer, loadPeer, type Peer } from './lib/peers.js'
import { groundTruth, recallAtK, truthOf, type FloatMetric } from './lib/recall.js'
import { printTable, ratio, type Cell, type Section, type Table } from './lib/results.js'
import { clusteredVectors, sequentialKeys } from './lib/rng.js'
import { interleave, type Measurement, type TimingOptions } from './lib/timing.js'

const K = 10
const SEED = 20261122

/** Sizes of one run. The full run takes ~6 minutes on 2 busy cores; quick well under one. */
interface FlatPlan {
  dims: number[]
  /** Base rows per dim: fewer rows at high dims keep every dim's batch in the same few seconds. */
  baseRows: (dim: number) => number
  batch: number
  /** Queries the plain-JS loop runs per sample: it is ~100× slower, and per-query cost is linear. */
  plainBatch: number
  /** Queries with float64 ground truth (a prefix of the batch). */
  gtQueries: number
  /** Metrics besides l2, and the dims they run at. */
  extraMetrics: { metric: FloatMetric; dims: number[] }[]
  realSets: { name: string; queries: number }[]
  single: TimingOptions
  batchTiming: TimingOptions
}

const FULL: FlatPlan = {
  dims: [128, 384, 768, 1536],
  baseRows: (d) => ({ 128: 50_000, 384: 30_000, 768: 20_000, 1536: 20_000 })[d] ?? 20_000,
  batch: 400,
  plainBatch: 20,
  gtQueries: 50,
  extraMetrics: [
    { metric: 'cosine', dims: [768] },
    { metric: 'dot', dims: [768] },
  ],
  realSets: [
    { name: 'fashion-mnist-784-euclidean', queries: 100 },
    { name: 'wordnet-use512-angular', queries: 100 },
  ],
  single: { rounds: 5, minSampleMs: 200, maxRunsPerSample: 2000, warmupRuns: 3 },
  // A batch call lasts seconds: the calibration call doubles as the warm-up (it is never counted).
  batchTiming: { rounds: 3, minSampleMs: 200, maxRunsPerSample: 50, warmupRuns: 0 },
}

const QUICK: FlatPlan = {
  dims: [128, 768],
  baseRows: () => 5_000,
  batch: 100,
  plainBatch: 10,
  gtQueries: 20,
  extraMetrics: [],
  realSets: [{ name: 'fashion-mnist-784-euclidean', queries: 10 }],
  single: { rounds: 3, minSampleMs: 60, maxRunsPerSample: 500, warmupRuns: 2 },
  batchTiming: { rounds: 3, minSampleMs: 60, maxRunsPerSample: 20, warmupRuns: 0 },
}

// ---- the libraries ---------------------------------------------------------------------------------

type Usearch = typeof import('usearch')

/** faiss-node's surface as used here (it has no bundled types we can rely on when it is absent). */
interface FaissIndex {
  add(x: number[]): void
  search(x: number[], k: number): { distances: number[]; labels: number[] }
}
interface Faiss {
  IndexFlatL2: new (d: number) => FaissIndex
  IndexFlatIP: new (d: number) => FaissIndex
}

/**
 * One library on one data set. `single` searches one query (sync); `batch` searches rows `0..nq−1`
 * of the query matrix. Both return the library's own result; `ids` turns it into neighbour ids
 * afterwards, outside the timing, for the recall check.
 */
interface Adapter {
  name: string
  single?: (q: Float32Array) => unknown
  singleIds?: (r: unknown) => ArrayLike<number>
  batch?: (nq: number) => unknown
  batchIds?: (r: unknown, row: number) => ArrayLike<number>
  /** Queries one `batch` call searches, when it is fewer than the plan's batch (plain JS). */
  batchSize?: number
}

interface DataSet {
  label: string
  metric: FloatMetric
  dim: number
  base: Float32Array
  queries: Float32Array
  nq: number
}

/**
 * Row names of ferrovec's two rows. The first row's single-query figure is `search` and its batch
 * figure the async `searchBatch`; the second row is the sync batch twin.
 */
const FV_MAIN = 'ferrovec (search · searchBatch)'
const FV_SYNC = 'ferrovec (searchBatchSync)'

function ferrovecAdapters(ds: DataSet): Adapter[] {
  const index = new FlatIndex<FloatMetric>({ dim: ds.dim, metric: ds.metric })
  index.addBatchSync(sequentialKeys(ds.base.length / ds.dim), ds.base)
  const batchIds = (r: unknown, row: number) => {
    const b = r as { keys: Float64Array; k: number }
    return b.keys.subarray(row * b.k, row * b.k + K)
  }
  return [
    {
      name: FV_MAIN,
      single: (q) => index.search(q, K),
      singleIds: (r) => (r as { keys: Float64Array }).keys,
      batch: (nq) => index.searchBatch(ds.queries.subarray(0, nq * ds.dim), K),
      batchIds,
    },
    { name: FV_SYNC, batch: (nq) => index.searchBatchSync(ds.queries.subarray(0, nq * ds.dim), K), batchIds },
  ]
}

const USEARCH_METRIC: Record<FloatMetric, string> = { l2: 'l2sq', cosine: 'cos', dot: 'ip' }

function usearchAdapter(u: Usearch, ds: DataSet): Adapter {
  const metric = USEARCH_METRIC[ds.metric] as Parameters<Usearch['exactSearch']>[4]
  const keysToIds = (keys: BigUint64Array, from: number) => Array.from(keys.subarray(from, from + K), Number)
  return {
    // threads = 0: usearch picks the thread count itself (both cores), as ferrovec's batch does.
    name: 'usearch exactSearch',
    single: (q) => u.exactSearch(ds.base, q, ds.dim, K, metric, 0),
    singleIds: (r) => keysToIds((r as { keys: BigUint64Array }).keys, 0),
    batch: (nq) => u.exactSearch(ds.base, ds.queries.subarray(0, nq * ds.dim), ds.dim, K, metric, 0),
    batchIds: (r, row) => keysToIds((r as { keys: BigUint64Array }).keys, row * K),
  }
}

/**
 * Whether usearch's exactSearch reads a typed-array view from the start of its buffer instead of the
 * view's byteOffset (seen in 2.25.3: a query `subarray` returns the neighbours of row 0). Checked at
 * run time so the report states it for whatever version is installed.
 */
export function usearchViewBug(u: Usearch): boolean {
  const dim = 4
  const base = Float32Array.from({ length: 3 * dim }, (_, i) => Math.floor(i / dim) * 10 + (i % dim))
  const r = u.exactSearch(base, base.subarray(2 * dim, 3 * dim), dim, 1, 'l2sq' as Parameters<Usearch['exactSearch']>[4], 0)
  return Number(r.keys[0]) !== 2
}

function faissAdapter(f: Faiss, ds: DataSet): Adapter | undefined {
  // faiss has L2 and inner-product flat indexes; cosine would need normalised copies, so it is skipped.
  if (ds.metric === 'cosine') return undefined
  const index = ds.metric === 'l2' ? new f.IndexFlatL2(ds.dim) : new f.IndexFlatIP(ds.dim)
  // faiss-node only takes number[]: converting the base is setup, converting a query is part of a call.
  index.add(Array.from(ds.base))
  const batchQueries = Array.from(ds.queries.subarray(0, ds.nq * ds.dim))
  return {
    name: `faiss-node ${ds.metric === 'l2' ? 'IndexFlatL2' : 'IndexFlatIP'}`,
    single: (q) => index.search(Array.from(q), K),
    singleIds: (r) => (r as { labels: number[] }).labels,
    batch: (nq) => index.search(nq === ds.nq ? batchQueries : batchQueries.slice(0, nq * ds.dim), K),
    batchIds: (r, row) => (r as { labels: number[] }).labels.slice(row * K, row * K + K),
  }
}

/**
 * The baseline a Node user writes without a library: one pass over a Float32Array per query, a
 * scalar accumulator, and a sorted top-k insertion. Cosine recomputes norms, as simple code does.
 */
export function plainJsSearch(metric: FloatMetric, base: Float32Array, dim: number, q: Float32Array, k: number, ids: Int32Array, dists: Float64Array): void {
  const n = base.length / dim
  ids.fill(-1)
  dists.fill(Infinity)
  for (let i = 0; i < n; i++) {
    const o = i * dim
    let d: number
    if (metric === 'l2') {
      d = 0
      for (let j = 0; j < dim; j++) {
        const t = q[j]! - base[o + j]!
        d += t * t
      }
    } else {
      let dot = 0
      let nb = 0
      let nq = 0
      for (let j = 0; j < dim; j++) {
        const x = q[j]!
        const y = base[o + j]!
        dot += x * y
        nb += y * y
        nq += x * x
      }
      d = metric === 'dot' ? 1 - dot : nq === 0 || nb === 0 ? (nq === nb ? 0 : 1) : 1 - dot / Math.sqrt(nq * nb)
    }
    if (d >= dists[k - 1]!) continue
    let p = k - 1
    while (p > 0 && dists[p - 1]! > d) {
      dists[p] = dists[p - 1]!
      ids[p] = ids[p - 1]!
      p--
    }
    dists[p] = d
    ids[p] = i
  }
}

function plainAdapter(ds: DataSet, batchSize: number): Adapter {
  const run = (q: Float32Array) => {
    const ids = new Int32Array(K)
    plainJsSearch(ds.metric, ds.base, ds.dim, q, K, ids, new Float64Array(K))
    return ids
  }
  const row = (i: number) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)
  return {
    name: 'plain JS loop',
    single: run,
    singleIds: (r) => r as Int32Array,
    // No batch form exists in plain JS: the "batch" is the same loop over `batchSize` queries, so its
    // rate is the single rate minus call overhead. Recall is checked on a separate untimed pass.
    batch: (nq) => {
      const out: Int32Array[] = []
      for (let i = 0; i < nq; i++) out.push(run(row(i)))
      return out
    },
    batchIds: (r, i) => (r as Int32Array[])[i] ?? [],
    batchSize,
  }
}

// ---- measuring -------------------------------------------------------------------------------------

interface Row {
  set: string
  metric: FloatMetric
  dim: number
  n: number
  library: string
  single?: { m: Measurement; recall: number }
  batch?: { m: Measurement; recall: number; queries: number }
}

async function measureSet(ds: DataSet, adapters: Adapter[], plan: FlatPlan, truth: Parameters<typeof recallAtK>[4], doSingle: boolean): Promise<Row[]> {
  const n = ds.base.length / ds.dim
  const rows: Row[] = adapters.map((a) => ({ set: ds.label, metric: ds.metric, dim: ds.dim, n, library: a.name }))
  const recallOf = (ids: (row: number) => ArrayLike<number>) => recallAtK(ds.metric, ds.base, ds.queries, ds.dim, truth, ids, K)

  if (doSingle) {
    const singles = adapters.filter((a) => a.single)
    // Every query is its own Float32Array (offset 0), made before timing: usearch 2.25's exactSearch
    // ignores a view's byteOffset (see usearchViewBug), and users hold separate query vectors anyway.
    const own = Array.from({ length: ds.nq }, (_, i) => ds.queries.slice(i * ds.dim, (i + 1) * ds.dim))
    // Each call takes the next query, so no library answers the same cached query over and over.
    const ms = await interleave(
      singles.map((a) => {
        let next = 0
        return { name: a.name, ops: 1, run: () => a.single!(own[next++ % ds.nq]!) }
      }),
      plan.single,
    )
    for (const [j, a] of singles.entries()) {
      // Untimed pass over the ground-truth queries for recall.
      const got = new Map(truth.queryRows.map((q) => [q, a.singleIds!(a.single!(own[q]!))]))
      rows[adapters.indexOf(a)]!.single = { m: ms[j]!, recall: recallOf((q) => got.get(q)!) }
    }
  }

  const batched = adapters.filter((a) => a.batch)
  const last = new Map<string, unknown>()
  const ms = await interleave(
    batched.map((a) => {
      const nq = Math.min(ds.nq, a.batchSize ?? ds.nq)
      return {
        name: a.name,
        ops: nq,
        run: () => {
          const r = a.batch!(nq)
          // Keep the last answer (awaited if async) for the recall check after timing.
          if (r instanceof Promise) return r.then((v) => void last.set(a.name, v))
          last.set(a.name, r)
          return r
        },
      }
    }),
    plan.batchTiming,
  )
  for (const [j, a] of batched.entries()) {
    const nq = Math.min(ds.nq, a.batchSize ?? ds.nq)
    // The plain loop's timed batch may not cover all ground-truth queries; check it on a full pass.
    const result = nq >= Math.max(...truth.queryRows) + 1 ? last.get(a.name) : await a.batch!(Math.max(...truth.queryRows) + 1)
    rows[adapters.indexOf(a)]!.batch = { m: ms[j]!, recall: recallOf((q) => a.batchIds!(result, q)), queries: nq }
  }
  return rows
}

function adaptersFor(ds: DataSet, peers: { usearch: Peer<Usearch>; faiss: Peer<Faiss> }, plan: FlatPlan): Adapter[] {
  const list: Adapter[] = [...ferrovecAdapters(ds)]
  if (peers.usearch.module) list.push(usearchAdapter(peers.usearch.module, ds))
  if (peers.faiss.module) {
    const f = faissAdapter(peers.faiss.module, ds)
    if (f) list.push(f)
  }
  list.push(plainAdapter(ds, plan.plainBatch))
  return list
}

// ---- reporting -------------------------------------------------------------------------------------

const spread = (m: Measurement) => `±${m.spreadPct.toFixed(0)}%`

function detailTable(title: string, rows: Row[], withSingle: boolean): Table {
  const columns = ['data', 'dim', 'base rows', 'library']
  if (withSingle) columns.push('single q/s', 'spread', 'recall@10')
  columns.push('batch q/s', 'spread', 'recall@10', 'batch size')
  return {
    title,
    columns,
    rows: rows.map((r) => {
      const c: Cell[] = [r.set, String(r.dim), r.n, r.library]
      if (withSingle) c.push(...(r.single ? [r.single.m.median, spread(r.single.m), r.single.recall.toFixed(3)] : ['—', '', '']))
      c.push(...(r.batch ? [r.batch.m.median, spread(r.batch.m), r.batch.recall.toFixed(3), String(r.batch.queries)] : ['—', '', '', '']))
      return c
    }),
    notes: [
      'q/s: median over interleaved rounds; spread: half the min–max range of the rounds, as % of the median.',
      'single: one sync call per query, one query at a time. batch: one call for the whole batch (ferrovec `searchBatch` is async and awaited; the plain-JS loop has no batch form and runs its loop over a smaller batch).',
      'recall@10 by the ann-benchmarks threshold rule against float64 brute force; exact search must give 1.000.',
    ],
  }
}

/** Ratio rows: ferrovec's figure divided by each other library's, per data set and mode. */
function ratioTable(title: string, rows: Row[]): Table {
  const out: Cell[][] = []
  const key = (r: Row) => `${r.set}|${r.metric}|${r.dim}`
  for (const k of new Set(rows.map(key))) {
    const group = rows.filter((r) => key(r) === k)
    const fa = group.find((r) => r.library === FV_MAIN)
    const fs = group.find((r) => r.library === FV_SYNC)
    for (const other of group.filter((r) => !r.library.startsWith('ferrovec'))) {
      out.push([
        group[0]!.set,
        group[0]!.metric,
        String(group[0]!.dim),
        other.library,
        fa?.single && other.single ? ratio(fa.single.m.median, other.single.m.median) : '—',
        fa?.batch && other.batch ? ratio(fa.batch.m.median, other.batch.m.median) : '—',
        fs?.batch && other.batch ? ratio(fs.batch.m.median, other.batch.m.median) : '—',
      ])
    }
  }
  return {
    title,
    columns: ['data', 'metric', 'dim', 'vs', 'single: search ÷ peer', 'batch: searchBatch ÷ peer', 'batch: searchBatchSync ÷ peer'],
    rows: out,
    notes: ['Above 1.00× ferrovec is faster. Each ratio divides two medians taken in the same interleaved rounds.'],
  }
}

// ---- the run ---------------------------------------------------------------------------------------

export async function runFlat({ quick }: { quick: boolean }): Promise<Section> {
  const plan = quick ? QUICK : FULL
  const usearch = await loadPeer<Usearch>('usearch')
  const faiss = loadOptionalPeer<Faiss>('faiss-node')
  const peers = { usearch, faiss }
  const all: Row[] = []
  const tables: Table[] = []

  const metricRuns: { metric: FloatMetric; dims: number[] }[] = [{ metric: 'l2', dims: plan.dims }, ...plan.extraMetrics]
  for (const { metric, dims } of metricRuns) {
    const rows: Row[] = []
    for (const dim of dims) {
      const n = plan.baseRows(dim)
      // Same seed for every metric and library: one data set per dim, queries drawn around the same centres.
      const ds: DataSet = {
        label: 'clustered',
        metric,
        dim,
        base: clusteredVectors(n, dim, SEED + dim, SEED + dim + 1),
        queries: clusteredVectors(plan.batch, dim, SEED + dim, SEED + dim + 2),
        nq: plan.batch,
      }
      const gt = groundTruth(metric, ds.base, ds.queries, dim, [...Array(plan.gtQueries).keys()], K)
      const r = await measureSet(ds, adaptersFor(ds, peers, plan), plan, truthOf(gt, K), true)
      printTable(detailTable(`${metric}, dim ${dim}, ${n} rows`, r, true))
      rows.push(...r)
    }
    all.push(...rows)
    tables.push(detailTable(`Exact search, ${metric}, seeded clustered data`, rows, true))
  }

  const realRows: Row[] = []
  const missingSets: string[] = []
  for (const { name, queries } of plan.realSets) {
    const set = loadRealSet(name, queries)
    if ('missing' in set) {
      missingSets.push(`${name}: ${set.missing}`)
      continue
    }
    const rs = set as RealSet
    const ds: DataSet = { label: name, metric: rs.metric, dim: rs.base.d, base: rs.base.data, queries: rs.queries.data, nq: rs.queries.n }
    // The shipped ground truth (100 per query, with distances) is used as is, with the threshold rule.
    const truth = { k: K, queryRows: [...Array(rs.queries.n).keys()], kthDistance: (qi: number) => rs.gtDistances.data[qi * rs.gtDistances.d + K - 1]! }
    const r = await measureSet(ds, adaptersFor(ds, peers, plan), plan, truth, false)
    printTable(detailTable(`${name} (${rs.base.n} × ${rs.base.d}, ${rs.metric})`, r, false))
    realRows.push(...r)
  }
  all.push(...realRows)
  if (realRows.length > 0) tables.push(detailTable('Exact search on real data (batch only; shipped ground truth)', realRows, false))
  tables.unshift(ratioTable('Ratios: ferrovec ÷ peer', all))
  printTable(tables[0]!)

  const findings = targetFindings(all, quick)
  if (usearch.module && usearchViewBug(usearch.module)) {
    findings.push(
      `usearch ${usearch.version}: \`exactSearch\` ignores the byteOffset of a typed-array view (a query passed as \`subarray\` is read from the start of its buffer), so wrong neighbours come back silently. The harness gives every library standalone query arrays; batches start at offset 0.`,
    )
  }
  const peerNotes = [usearch, faiss]
    .filter((p) => p.status !== 'ok')
    .map((p) => `${p.name}: ${p.status === 'not installable' ? 'not installable here' : 'failed'}: ${p.reason}`)
  return {
    title: 'Exact search (flat.bench.ts)',
    intro: [
      `k = ${K}. Seeded clustered data (64 Gaussian centres, seed ${SEED} + dim); the same base and query vectors for every library and metric at a given dim.`,
      `Batch: ${plan.batch} queries per call (plain JS: ${plan.plainBatch}). Threads: ferrovec's rayon pool and usearch's \`threads = 0\` both use every core; the plain-JS loop uses one.`,
      ...peerNotes.map((p) => `**${p}**`),
      ...missingSets.map((m) => `Real set skipped: ${m}`),
    ],
    tables,
    findings,
    raw: all.map((r) => ({
      set: r.set,
      metric: r.metric,
      dim: r.dim,
      n: r.n,
      library: r.library,
      single: r.single && { qps: r.single.m.median, rates: r.single.m.rates, recall: r.single.recall },
      batch: r.batch && { qps: r.batch.m.median, rates: r.batch.m.rates, recall: r.batch.recall, queries: r.batch.queries },
    })),
  }
}

/** The targets, stated met or missed with the margin: batch search at 768 dims (l2). */
function targetFindings(rows: Row[], quick: boolean): string[] {
  const at = rows.filter((r) => r.set === 'clustered' && r.metric === 'l2' && r.dim === 768)
  const get = (lib: string) => at.find((r) => r.library === lib)?.batch
  const fa = get(FV_MAIN)
  const fs = get(FV_SYNC)
  const us = get('usearch exactSearch')
  const pj = get('plain JS loop')
  const out: string[] = []
  const verdict = (name: string, mine: number, theirs: number, target: number) => {
    const r = mine / theirs
    const how = r >= target ? `**met** (${r.toFixed(2)}×, ${(((r / target) - 1) * 100).toFixed(0)}% above)` : `**missed** (${r.toFixed(2)}×, ${((1 - r / target) * 100).toFixed(0)}% short)`
    return `${name} ≥ ${target}× at 768 dims: ${how}`
  }
  if (fa && us) out.push(verdict('FlatIndex `searchBatch` vs usearch exact search', fa.m.median, us.m.median, 1.0) + (fs ? `; \`searchBatchSync\`: ${ratio(fs.m.median, us.m.median)}` : ''))
  else out.push('FlatIndex vs usearch at 768 dims: not measured (usearch unavailable)')
  if (fa && pj) out.push(verdict('FlatIndex `searchBatch` vs the plain-JS loop', fa.m.median, pj.m.median, 20) + (fs ? `; \`searchBatchSync\`: ${ratio(fs.m.median, pj.m.median)}` : ''))
  const recalls = rows.flatMap((r) => [r.single?.recall, r.batch?.recall]).filter((x): x is number => x !== undefined)
  const worst = Math.min(...recalls)
  out.push(`Exact-search recall@10, worst over every library, data set and mode: ${worst.toFixed(3)}${worst < 1 ? ' (below 1.000: see the tables)' : ''}`)
  if (quick) out.push('Quick run: small base (5,000 rows), so ratios are indicative only.')
  return out
}
