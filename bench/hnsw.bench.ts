// HNSW benchmark (issue 3, "Benchmark targets"): ferrovec HnswIndex vs hnswlib-node, usearch's HNSW
// `Index` and a pure-JS HNSW (`hnsw`), all with m = 16 and efConstruction = 200, side by side in one
// process. Per data set: build time (ferrovec and usearch on 2 threads, hnswlib-node single-threaded as
// it has to be), memory per vector, and the recall@10 / single-thread queries-per-second curve along
// each library's ef, with QPS interpolated at recall 0.90, 0.95 and 0.99. Then the per-call latency of
// one `search` at dims 384, 768 and 1536 on a 10,000-vector index. Writes the recall/QPS plot as SVG.
//
// Fairness rules (see README.md): queries are standalone arrays prepared outside the timing (a
// `Float32Array` per query for ferrovec, usearch and hnsw; a plain `number[]` for hnswlib-node, which
// accepts nothing else); every library sees the same base rows in the same order; QPS is measured in
// interleaved rounds per ef (medians, spread); recall uses the ann-benchmarks threshold rule against
// exact ground truth (shipped, or computed with ferrovec's FlatIndex and spot-checked in float64).

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

import { loadGloveWink, loadRealSet, type RealSet } from './lib/datasets.js'
import { FlatIndex, HnswIndex } from './lib/ferrovec.js'
import { BENCH_DIR, describePeer, loadPeer, type Peer } from './lib/peers.js'
import { groundTruth, RECALL_EPSILON, recallAtK, trueDistance, type FloatMetric } from './lib/recall.js'
import { ferrovecBuild, fmt, printTable, ratio, type Section, type Table } from './lib/results.js'
import { clusteredVectors, sequentialKeys } from './lib/rng.js'
import { recallQpsSvg, type Panel } from './lib/svg.js'
import { interleave, median } from './lib/timing.js'

const K = 10
const M = 16
const EF_CONSTRUCTION = 200
const RECALL_LEVELS = [0.9, 0.95, 0.99]
/** Where the plot goes (committed next to RESULTS.md by the publishing run). */
export const SVG_NAME = 'hnsw-recall-qps.svg'

// ---------------------------------------------------------------------------------------------------
// Peers' shapes (only what is used).

interface HnswlibModule {
  HierarchicalNSW: new (space: 'l2' | 'cosine' | 'ip', dim: number) => {
    initIndex(o: { maxElements: number; m?: number; efConstruction?: number; randomSeed?: number }): void
    addPoint(p: number[], label: number): void
    setEf(ef: number): void
    searchKnn(q: number[], k: number): { neighbors: number[]; distances: number[] }
    writeIndexSync(path: string): void
  }
}
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void
  search(q: Float32Array, k: number, threads: number): { keys: BigUint64Array; distances: Float32Array }
  save(path: string): void
  load(path: string): void
  size(): number
}
interface UsearchModule {
  Index: new (o: { dimensions: number; metric: string; connectivity: number; expansion_add: number; expansion_search: number }) => UsearchIndex
}
interface HnswJsModule {
  HNSW: new (m: number, efConstruction: number, d: number, metric: string, efSearch?: number) => {
    addPoint(id: number, v: Float32Array): Promise<void>
    searchKNN(q: Float32Array, k: number, o?: { efSearch?: number }): { id: number; score: number }[]
  }
}

// ---------------------------------------------------------------------------------------------------
// Data.

interface BenchSet {
  name: string
  metric: FloatMetric
  dim: number
  n: number
  /** Standalone row-major base rows. */
  base: Float32Array
  nq: number
  queries: Float32Array
  /** Exact k-th neighbour distance per query (float64, threshold scale of lib/recall.ts). */
  kth: Float64Array
  gtNote: string
  /** Also run the pure-JS HNSW on this set (it builds ~100× slower than the native ones). */
  withJs: boolean
}

/** Standalone copies of each query (usearch 2.25 ignores a view's byteOffset). */
function queryRows(s: { queries: Float32Array; nq: number; dim: number }): Float32Array[] {
  return Array.from({ length: s.nq }, (_, i) => s.queries.slice(i * s.dim, (i + 1) * s.dim))
}

/**
 * Exact k-th neighbour distances with ferrovec's FlatIndex (fast on 2 cores); each k-th distance is
 * recomputed in float64 from the returned ids, so the f32 scan only has to find the right ids.
 */
async function flatKth(metric: FloatMetric, base: Float32Array, n: number, dim: number, queries: Float32Array, nq: number): Promise<Float64Array> {
  const f = new FlatIndex({ dim, metric })
  await f.addBatch(sequentialKeys(n), base)
  const r = await f.searchBatch(queries.subarray(0, nq * dim), K)
  const kth = new Float64Array(nq)
  for (let q = 0; q < nq; q++) {
    let worst = 0
    for (let j = 0; j < r.k; j++) worst = Math.max(worst, trueDistance(metric, queries, q * dim, base, r.keys[q * r.k + j]! * dim, dim))
    kth[q] = worst
  }
  return kth
}

/** Max |FlatIndex k-th − float64 brute-force k-th| over a few query rows. */
function spotCheck(metric: FloatMetric, base: Float32Array, dim: number, queries: Float32Array, kth: Float64Array, rows: number[]): number {
  const gt = groundTruth(metric, base, queries, dim, rows, K)
  return Math.max(...rows.map((q, i) => Math.abs(gt.distances[i * K + K - 1]! - kth[q]!)))
}

/**
 * A real set subsampled to its first `n` base rows, with ground truth recomputed by FlatIndex, verified
 * two ways: against a float64 brute force on the subsample, and (FlatIndex on the *full* base) against
 * the shipped ground truth, so the method is checked against the published file.
 */
async function realSubset(set: RealSet, n: number, nq: number, withJs: boolean): Promise<BenchSet> {
  const dim = set.base.d
  const nn = Math.min(n, set.base.n)
  const base = set.base.data.slice(0, nn * dim)
  const queries = set.queries.data.slice(0, nq * dim)
  const kth = await flatKth(set.metric, base, nn, dim, queries, nq)
  const rows = Array.from({ length: Math.min(nq, 12) }, (_, i) => Math.floor((i * nq) / 12))
  const dBrute = spotCheck(set.metric, base, dim, queries, kth, rows)
  const checkRows = rows.slice(0, 8)
  const fullKth = await flatKth(set.metric, set.base.data, set.base.n, dim, queries.slice(0, Math.max(...checkRows) * dim + dim), Math.max(...checkRows) + 1)
  const dShipped = Math.max(...checkRows.map((q) => Math.abs(fullKth[q]! - set.gtDistances.data[q * set.gtDistances.d + K - 1]!)))
  const ok = dBrute <= RECALL_EPSILON && dShipped <= RECALL_EPSILON * Math.max(1, fullKth[0]! * 1e-4)
  const gtNote =
    `ground truth: FlatIndex exact search on the ${fmt(nn)}-row subsample (k-th distances recomputed in float64); ` +
    `checked on ${rows.length} queries against a float64 brute force (max |Δ| ${dBrute.toExponential(1)}) and, on the full ${fmt(set.base.n)}-row base, ` +
    `against the shipped ground truth on ${checkRows.length} queries (max |Δ| ${dShipped.toExponential(1)})${ok ? '' : ' **— CHECK FAILED**'}`
  return { name: `${set.name} (first ${fmt(nn)} base rows)`, metric: set.metric, dim, n: nn, base, nq, queries, kth, gtNote, withJs }
}

async function syntheticSet(name: string, n: number, dim: number, metric: FloatMetric, nq: number, seed: number, withJs: boolean): Promise<BenchSet> {
  const base = clusteredVectors(n, dim, seed, seed + 1)
  const queries = clusteredVectors(nq, dim, seed, seed + 2)
  const kth = await flatKth(metric, base, n, dim, queries, nq)
  const rows = [0, 1, 2, 3, 4, 5]
  const d = spotCheck(metric, base, dim, queries, kth, rows)
  return {
    name,
    metric,
    dim,
    n,
    base,
    nq,
    queries,
    kth,
    gtNote: `seeded clustered data (64 Gaussian centres, spread 0.35, seed ${seed}); ground truth: FlatIndex, checked on ${rows.length} queries against a float64 brute force (max |Δ| ${d.toExponential(1)})`,
    withJs,
  }
}

// ---------------------------------------------------------------------------------------------------
// Adapters: build, set ef, one search, ids for recall (outside the timing), memory.

interface Adapter {
  name: string
  buildThreads: number
  /** Resolves nothing, or its own wall-clock milliseconds when it prepares input outside its clock. */
  build(): Promise<number | void>
  setEf(ef: number): void
  search(qi: number): unknown
  ids(qi: number): ArrayLike<number>
  memory(): { bytes: number; how: string } | undefined
}

interface Peers {
  hnswlib: Peer<HnswlibModule>
  usearch: Peer<UsearchModule>
  hnswjs: Peer<HnswJsModule>
}

function ferrovecAdapter(s: BenchSet, qf: Float32Array[]): Adapter {
  let idx: HnswIndex<FloatMetric> | undefined
  return {
    name: 'ferrovec',
    buildThreads: 2,
    async build() {
      idx = new HnswIndex({ dim: s.dim, metric: s.metric, m: M, efConstruction: EF_CONSTRUCTION, seed: 1, capacity: s.n })
      await idx.addBatch(sequentialKeys(s.n), s.base)
    },
    setEf(ef) {
      idx!.efSearch = ef
    },
    search: (qi) => idx!.search(qf[qi]!, K),
    ids: (qi) => idx!.search(qf[qi]!, K).keys,
    memory() {
      const m = idx!.memoryUsage()
      return { bytes: m.vectors + m.graph, how: `memoryUsage(): vectors + graph (keys: ${fmt(m.keys / s.n)} B/vector more)` }
    },
  }
}

function usearchAdapter(mod: UsearchModule, s: BenchSet, qf: Float32Array[], tmp: string): Adapter {
  const path = join(tmp, `usearch-${s.dim}-${s.n}.usearch`)
  const make = (ef: number) =>
    new mod.Index({ dimensions: s.dim, metric: s.metric === 'l2' ? 'l2sq' : 'cos', connectivity: M, expansion_add: EF_CONSTRUCTION, expansion_search: ef })
  let idx: UsearchIndex | undefined
  let built: UsearchIndex | undefined
  return {
    name: 'usearch',
    buildThreads: 2,
    async build() {
      built = make(64)
      const keys = new BigUint64Array(s.n)
      for (let i = 0; i < s.n; i++) keys[i] = BigInt(i)
      built.add(keys, s.base, 2)
      idx = built
    },
    // usearch's JS binding fixes expansion_search at construction: save once, load into a new Index per ef.
    setEf(ef) {
      if (!statSafe(path)) built!.save(path)
      idx = make(ef)
      idx.load(path)
    },
    search: (qi) => idx!.search(qf[qi]!, K, 1),
    ids: (qi) => Array.from(idx!.search(qf[qi]!, K, 1).keys, Number),
    memory() {
      if (!statSafe(path)) built!.save(path)
      return { bytes: statSync(path).size, how: 'size of its saved index (vectors + graph, serialized)' }
    },
  }
}

function statSafe(p: string): boolean {
  try {
    statSync(p)
    return true
  } catch {
    return false
  }
}

function hnswlibAdapter(mod: HnswlibModule, s: BenchSet, qa: number[][], tmp: string): Adapter {
  let idx: InstanceType<HnswlibModule['HierarchicalNSW']> | undefined
  return {
    name: 'hnswlib-node',
    buildThreads: 1,
    async build() {
      // Rows converted to number[] before the clock starts (the binding takes nothing else), then freed.
      const rows: number[][] = []
      for (let i = 0; i < s.n; i++) rows.push(Array.from(s.base.subarray(i * s.dim, (i + 1) * s.dim)))
      const t = performance.now()
      idx = new mod.HierarchicalNSW(s.metric === 'l2' ? 'l2' : 'cosine', s.dim)
      idx.initIndex({ maxElements: s.n, m: M, efConstruction: EF_CONSTRUCTION, randomSeed: 100 })
      for (let i = 0; i < s.n; i++) idx.addPoint(rows[i]!, i)
      return performance.now() - t
    },
    setEf: (ef) => idx!.setEf(ef),
    search: (qi) => idx!.searchKnn(qa[qi]!, K),
    ids: (qi) => idx!.searchKnn(qa[qi]!, K).neighbors,
    memory() {
      const path = join(tmp, `hnswlib-${s.dim}-${s.n}.bin`)
      idx!.writeIndexSync(path)
      const bytes = statSync(path).size
      const degree = hnswlibDegree(path)
      rmSync(path, { force: true })
      return {
        bytes,
        how: `size of its saved index (its level-0 block of vectors + links + labels, and upper-level lists, as allocated)${degree ? `; level-0 lists hold ${degree}` : ''}`,
      }
    },
  }
}

/**
 * Mean level-0 degree of a saved hnswlib index (how full its lists are after pruning), read from the
 * file: a 96-byte header (offsetLevel0, maxElements, count, sizeDataPerElement, … as size_t/int/double),
 * then `count` level-0 records of `sizeDataPerElement` bytes, each starting with a u32 whose low 16 bits
 * are the link count.
 */
function hnswlibDegree(path: string): string | undefined {
  try {
    const b = readFileSync(path)
    const count = Number(b.readBigUInt64LE(16))
    const per = Number(b.readBigUInt64LE(24))
    const maxM0 = Number(b.readBigUInt64LE(64))
    if (96 + count * per > b.length || count === 0) return undefined
    let sum = 0
    let full = 0
    for (let i = 0; i < count; i++) {
      const c = b.readUInt32LE(96 + i * per) & 0xffff
      sum += c
      if (c === maxM0) full++
    }
    return `${(sum / count).toFixed(1)} of ${maxM0} links on average (${((100 * full) / count).toFixed(0)}% full)`
  } catch {
    return undefined
  }
}

function hnswJsAdapter(mod: HnswJsModule, s: BenchSet, qf: Float32Array[]): Adapter {
  let idx: InstanceType<HnswJsModule['HNSW']> | undefined
  let ef = 64
  return {
    name: 'hnsw (pure JS)',
    buildThreads: 1,
    async build() {
      idx = new mod.HNSW(M, EF_CONSTRUCTION, s.dim, s.metric === 'l2' ? 'euclidean' : 'cosine')
      for (let i = 0; i < s.n; i++) await idx.addPoint(i, s.base.slice(i * s.dim, (i + 1) * s.dim))
    },
    setEf(e) {
      ef = e
    },
    search: (qi) => idx!.searchKNN(qf[qi]!, K, { efSearch: ef }),
    ids: (qi) => idx!.searchKNN(qf[qi]!, K, { efSearch: ef }).map((r) => r.id),
    memory: () => undefined,
  }
}

function adaptersFor(s: BenchSet, peers: Peers, tmp: string, withJs: boolean): Adapter[] {
  const qf = queryRows(s)
  const out: Adapter[] = [ferrovecAdapter(s, qf)]
  if (peers.hnswlib.status === 'ok') {
    const qa = qf.map((q) => Array.from(q))
    out.push(hnswlibAdapter(peers.hnswlib.module!, s, qa, tmp))
  }
  if (peers.usearch.status === 'ok') out.push(usearchAdapter(peers.usearch.module!, s, qf, tmp))
  if (withJs && peers.hnswjs.status === 'ok') out.push(hnswJsAdapter(peers.hnswjs.module!, s, qf))
  return out
}

// ---------------------------------------------------------------------------------------------------
// Building (wall and CPU time), curves, interpolation.

interface BuildResult {
  name: string
  seconds: number
  cpuSeconds: number
}

/** Builds every adapter once, in the given rotation; returns wall and process CPU seconds of each. */
async function buildAll(adapters: Adapter[], rotation: number): Promise<BuildResult[]> {
  const res: BuildResult[] = new Array(adapters.length)
  for (let j = 0; j < adapters.length; j++) {
    const i = (j + rotation) % adapters.length
    const a = adapters[i]!
    global.gc?.()
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const inner = (await a.build()) as unknown
    let ms = performance.now() - t0
    // hnswlib's adapter returns its own clock, excluding the number[] conversion of the rows.
    if (typeof inner === 'number') ms = inner
    const cpu = process.cpuUsage(cpu0)
    res[i] = { name: a.name, seconds: ms / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
    console.log(`  built ${a.name}: ${(ms / 1000).toFixed(1)} s wall, ${res[i]!.cpuSeconds.toFixed(1)} s CPU`)
  }
  return res
}

interface CurvePoint {
  ef: number
  recall: number
  qps: number
  spreadPct: number
}

/** QPS at a recall level, log-linear between the two ef points that bracket it. */
export function qpsAtRecall(curve: CurvePoint[], target: number): { qps: number; how: 'interpolated' | 'lowest ef' | 'not reached' } {
  const i = curve.findIndex((p) => p.recall >= target)
  if (i < 0) return { qps: NaN, how: 'not reached' }
  if (i === 0) return { qps: curve[0]!.qps, how: 'lowest ef' }
  const a = curve[i - 1]!
  const b = curve[i]!
  const t = (target - a.recall) / (b.recall - a.recall)
  return { qps: Math.exp(Math.log(a.qps) + t * (Math.log(b.qps) - Math.log(a.qps))), how: 'interpolated' }
}

interface Plan {
  efs: number[]
  timedQueries: number
  timing: { rounds: number; minSampleMs: number; maxRunsPerSample: number; warmupRuns: number }
  fashionN: number
  gloveN: number
  queries: number
  synth: { n: number; dim: number }
  synthJs: { n: number; dim: number }
  latency: { n: number; dims: number[]; queries: number; rounds: number }
  rss: { n: number; dim: number }
}

const FULL: Plan = {
  efs: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512],
  timedQueries: 200,
  timing: { rounds: 5, minSampleMs: 100, maxRunsPerSample: 30, warmupRuns: 0 },
  fashionN: Number(process.env.HNSW_FASHION_N ?? 20000),
  gloveN: Number(process.env.HNSW_GLOVE_N ?? 50000),
  queries: 1000,
  synth: { n: 20000, dim: 384 },
  synthJs: { n: 4000, dim: 128 },
  latency: { n: 10000, dims: [384, 768, 1536], queries: 200, rounds: 5 },
  rss: { n: 50000, dim: 32 },
}

const QUICK: Plan = {
  efs: [10, 24, 64, 128, 256],
  timedQueries: 100,
  timing: { rounds: 2, minSampleMs: 50, maxRunsPerSample: 10, warmupRuns: 0 },
  fashionN: 3000,
  gloveN: 10000,
  queries: 200,
  synth: { n: 3000, dim: 384 },
  synthJs: { n: 1000, dim: 128 },
  latency: { n: 2000, dims: [384, 768, 1536], queries: 100, rounds: 2 },
  rss: { n: 5000, dim: 32 },
}

interface SetResult {
  set: string
  n: number
  dim: number
  metric: string
  build: BuildResult[]
  memory: { name: string; bytesPerVector: number; how: string }[]
  curves: Record<string, CurvePoint[]>
  atRecall: Record<string, { recall: number; qps: number; how: string }[]>
  buildInfo: string
}

async function runSet(s: BenchSet, peers: Peers, plan: Plan, tmp: string, rotation: number): Promise<SetResult> {
  console.log(`\n${s.name}: ${fmt(s.n)} × ${s.dim} ${s.metric}, ${s.nq} queries`)
  const buildInfo = ferrovecBuild()
  const adapters = adaptersFor(s, peers, tmp, s.withJs)
  const build = await buildAll(adapters, rotation)
  const memory = adapters.flatMap((a) => {
    const m = a.memory()
    return m ? [{ name: a.name, bytesPerVector: m.bytes / s.n, how: m.how }] : []
  })
  const truth = { k: K, queryRows: Array.from({ length: s.nq }, (_, i) => i), kthDistance: (qi: number) => s.kth[qi]! }
  const curves: Record<string, CurvePoint[]> = Object.fromEntries(adapters.map((a) => [a.name, []]))
  const done = new Set<string>()
  for (const ef of plan.efs) {
    const live = adapters.filter((a) => !done.has(a.name))
    if (live.length === 0) break
    const recalls = new Map<string, number>()
    for (const a of live) {
      a.setEf(ef)
      recalls.set(a.name, recallAtK(s.metric, s.base, s.queries, s.dim, truth, (q) => a.ids(q), K))
    }
    const nt = Math.min(plan.timedQueries, s.nq)
    const ms = await interleave(
      live.map((a) => ({
        name: a.name,
        ops: nt,
        run: () => {
          for (let q = 0; q < nt; q++) a.search(q)
        },
      })),
      plan.timing,
    )
    for (const m of ms) {
      const r = recalls.get(m.name)!
      curves[m.name]!.push({ ef, recall: r, qps: m.median, spreadPct: m.spreadPct })
      // Past recall 0.999 a curve only gets slower; stop sweeping that library.
      if (r >= 0.999) done.add(m.name)
    }
    console.log(`  ef ${ef}: ` + ms.map((m) => `${m.name} ${recalls.get(m.name)!.toFixed(3)} @ ${fmt(m.median)} q/s ±${m.spreadPct.toFixed(0)}%`).join(' | '))
  }
  const atRecall = Object.fromEntries(
    Object.entries(curves).map(([name, c]) => [name, RECALL_LEVELS.map((r) => ({ recall: r, ...qpsAtRecall(c, r) }))]),
  )
  return { set: s.name, n: s.n, dim: s.dim, metric: s.metric, build, memory, curves, atRecall, buildInfo }
}

// ---------------------------------------------------------------------------------------------------
// Per-call latency at 384 / 768 / 1536 dims.

interface LatencyResult {
  dim: number
  ef: number
  build: BuildResult[]
  rows: { name: string; recall: number; medianUs: number; p99Us: number; calls: number }[]
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)
  return sorted[Math.max(0, i)]!
}

async function runLatency(dim: number, peers: Peers, plan: Plan, tmp: string, rotation: number): Promise<LatencyResult> {
  const { n, queries: nq, rounds } = plan.latency
  const s = await syntheticSet(`clustered ${dim}`, n, dim, 'cosine', nq, 7000 + dim, false)
  console.log(`\nlatency at ${dim} dims: ${fmt(n)} vectors, ${nq} queries × ${rounds} rounds`)
  const adapters = adaptersFor(s, peers, tmp, false)
  const build = await buildAll(adapters, rotation)
  const ef = 64
  const truth = { k: K, queryRows: Array.from({ length: nq }, (_, i) => i), kthDistance: (qi: number) => s.kth[qi]! }
  const recall = new Map<string, number>()
  for (const a of adapters) {
    a.setEf(ef)
    recall.set(a.name, recallAtK(s.metric, s.base, s.queries, s.dim, truth, (q) => a.ids(q), K))
    for (let q = 0; q < nq; q++) a.search(q) // warm-up
  }
  const times: number[][] = adapters.map(() => [])
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < adapters.length; j++) {
      const i = (r + j) % adapters.length
      const a = adapters[i]!
      for (let q = 0; q < nq; q++) {
        const t0 = process.hrtime.bigint()
        a.search(q)
        times[i]!.push(Number(process.hrtime.bigint() - t0) / 1000)
      }
    }
  }
  const rows = adapters.map((a, i) => {
    const t = times[i]!.sort((x, y) => x - y)
    return { name: a.name, recall: recall.get(a.name)!, medianUs: median(t), p99Us: quantile(t, 0.99), calls: t.length }
  })
  console.log('  ' + rows.map((r) => `${r.name} median ${r.medianUs.toFixed(1)} µs p99 ${r.p99Us.toFixed(1)} µs recall ${r.recall.toFixed(3)}`).join(' | '))
  return { dim, ef, build, rows }
}

// ---------------------------------------------------------------------------------------------------
// Resident memory: one child process per library (lib/memprobe.ts).

interface RssResult {
  name: string
  perVector: number
  error?: string
}

function runRss(plan: Plan, peers: Peers): RssResult[] {
  const names = ['ferrovec', ...(['hnswlib-node', 'usearch'] as const).filter((p) => (p === 'usearch' ? peers.usearch : peers.hnswlib).status === 'ok')]
  // Every library stores the rows themselves, so a reading below dim × 4 bytes per vector is the
  // probe's error (the process's heap accounting moved under it), not the library's size: it is
  // retried, and reported as failed if no attempt gives a plausible reading.
  const floor = plan.rss.dim * 4
  const attempts = 3
  return names.map((name) => {
    const readings: number[] = []
    for (let a = 0; a < attempts; a++) {
      try {
        const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'lib/memprobe.ts', name, String(plan.rss.n), String(plan.rss.dim)], {
          cwd: BENCH_DIR,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 300_000,
        })
        const r = JSON.parse(out.trim().split('\n').pop()!) as { perVector: number }
        console.log(`  RSS growth ${name}: ${r.perVector.toFixed(0)} B/vector${r.perVector < floor ? ` (below the ${floor}-B rows: implausible, retrying)` : ''}`)
        if (r.perVector >= floor) return { name, perVector: r.perVector }
        readings.push(r.perVector)
      } catch (e) {
        return { name, perVector: NaN, error: (e as Error).message.split('\n')[0] }
      }
    }
    return { name, perVector: NaN, error: `implausible readings ${readings.map((x) => x.toFixed(0)).join(', ')} B/vector (below the ${floor}-B rows)` }
  })
}

// ---------------------------------------------------------------------------------------------------

const PEER_TARGET = 1.3

function verdict(ok: boolean): string {
  return ok ? 'met' : '**missed**'
}

export async function runHnsw({ quick }: { quick: boolean }): Promise<Section> {
  const plan = quick ? QUICK : FULL
  const peers: Peers = {
    hnswlib: await loadPeer<HnswlibModule>('hnswlib-node'),
    usearch: await loadPeer<UsearchModule>('usearch'),
    hnswjs: await loadPeer<HnswJsModule>('hnsw'),
  }
  const tmp = mkdtempSync(join(os.tmpdir(), 'ferrovec-hnsw-bench-'))
  const intro: string[] = [
    `ferrovec \`HnswIndex\` vs hnswlib-node, usearch \`Index\` (HNSW) and, on a small set, the pure-JS \`hnsw\` package; m = ${M}, efConstruction = ${EF_CONSTRUCTION} everywhere, k = ${K}. ` +
      `Builds: ferrovec \`addBatch\` and usearch \`add(…, threads = 2)\` on both cores, hnswlib-node \`addPoint\` in a loop (it has no parallel build), \`hnsw\` \`addPoint\` in a loop; each library built once per set, in a rotating order; CPU time is the whole process's (all threads). ` +
      `Queries: one \`search\` call at a time on the JS thread, k = ${K}, timed over the first ${plan.timedQueries} queries in ${plan.timing.rounds} interleaved rounds per ef (median, spread); recall@${K} over all queries by the ann-benchmarks threshold rule. ` +
      `usearch's binding fixes \`expansion_search\` at construction, so its index is saved once and loaded into a new \`Index\` per ef. hnswlib-node takes only \`number[]\` queries: they are converted before timing.`,
    `Peers: ${Object.values(peers)
      .map((p) => `${p.name} ${p.version ?? '—'} (${describePeer(p)})`)
      .join('; ')}.`,
  ]
  const tables: Table[] = []
  const findings: string[] = []
  const sets: BenchSet[] = []
  const missing: string[] = []
  // Real sets first (the issue's "at least two real sets"), then the synthetic ones.
  const fashion = loadRealSet('fashion-mnist-784-euclidean', plan.queries)
  if ('missing' in fashion) missing.push(`${fashion.name}: ${fashion.missing}`)
  else sets.push(await realSubset(fashion, plan.fashionN, plan.queries, false))
  const glove = loadGloveWink(plan.queries)
  if ('missing' in glove) missing.push(`${glove.name}: ${glove.missing}`)
  else sets.push(await realSubset(glove, plan.gloveN, plan.queries, false))
  sets.push(await syntheticSet(`clustered-${plan.synth.dim}-cosine (${fmt(plan.synth.n)} rows)`, plan.synth.n, plan.synth.dim, 'cosine', plan.queries, 4242, false))
  sets.push(await syntheticSet(`clustered-${plan.synthJs.dim}-l2 (${fmt(plan.synthJs.n)} rows, with pure-JS hnsw)`, plan.synthJs.n, plan.synthJs.dim, 'l2', Math.min(plan.queries, 500), 4343, true))
  for (const m of missing) intro.push(`Missing data set: ${m}.`)

  const results: SetResult[] = []
  for (let i = 0; i < sets.length; i++) {
    results.push(await runSet(sets[i]!, peers, plan, tmp, i))
    // Free the set's vectors before the next (GloVe's base alone is 130 MB).
  }
  const latency: LatencyResult[] = []
  for (let i = 0; i < plan.latency.dims.length; i++) latency.push(await runLatency(plan.latency.dims[i]!, peers, plan, tmp, i + 1))
  rmSync(tmp, { recursive: true, force: true })
  console.log(`\nresident memory: ${fmt(plan.rss.n)} × ${plan.rss.dim} clustered, one child process per library`)
  const rss = runRss(plan, peers)

  // Tables -------------------------------------------------------------------------------------------
  const peerNames = ['hnswlib-node', 'usearch']
  const qpsRows: (string | number)[][] = []
  const qpsRatios: Record<string, number[]> = { 'hnswlib-node': [], usearch: [] }
  const qpsMisses: string[] = []
  for (const [si, r] of results.entries()) {
    const s = sets[si]!
    // Curve table: ef down, each library's recall and QPS across.
    const names = Object.keys(r.curves)
    const curveRows = plan.efs
      .filter((ef) => names.some((n) => r.curves[n]!.some((p) => p.ef === ef)))
      .map((ef) => [
        String(ef),
        ...names.flatMap((n) => {
          const p = r.curves[n]!.find((x) => x.ef === ef)
          return p ? [p.recall.toFixed(3), `${fmt(p.qps)} ±${p.spreadPct.toFixed(0)}%`] : ['—', '—']
        }),
      ])
    tables.push({
      title: `HNSW recall@${K} and single-thread queries/s along ef: ${r.set}`,
      columns: ['ef', ...names.flatMap((n) => [`${n} recall`, `${n} q/s`])],
      rows: curveRows,
      notes: [s.gtNote + '.', `ferrovec measured: ${r.buildInfo}.`],
    })
    // QPS at recall levels and ratios.
    for (const lvl of RECALL_LEVELS) {
      const get = (n: string) => r.atRecall[n]?.find((x) => x.recall === lvl)
      const f = get('ferrovec')
      const row: (string | number)[] = [r.set, lvl.toFixed(2)]
      for (const n of names) {
        const x = get(n)
        row.push(x === undefined || !Number.isFinite(x.qps) ? 'not reached' : `${fmt(x.qps)}${x.how === 'lowest ef' ? ' (at ef 10)' : ''}`)
      }
      for (const p of peerNames) {
        const x = get(p)
        if (!f || !x || !Number.isFinite(f.qps) || !Number.isFinite(x.qps)) {
          row.push('n/a')
          continue
        }
        const q = f.qps / x.qps
        qpsRatios[p]!.push(q)
        if (q < PEER_TARGET) qpsMisses.push(`${r.set} @${lvl.toFixed(2)} vs ${p}: ${q.toFixed(2)}×`)
        row.push(`${q.toFixed(2)}×${f.how === 'lowest ef' && x.how === 'lowest ef' ? ' (both at ef 10)' : ''}`)
      }
      qpsRows.push(row.length === 2 + names.length + peerNames.length ? row : row)
    }
  }
  const allNames = ['ferrovec', 'hnswlib-node', 'usearch', 'hnsw (pure JS)']
  tables.unshift({
    title: `HNSW single-thread queries/s at recall@${K} = 0.90 / 0.95 / 0.99 (log-linear interpolation along each ef curve) and ferrovec's ratios (target ≥ ${PEER_TARGET}× each)`,
    columns: ['set', 'recall', ...allNames.map((n) => `${n} q/s`), 'ferrovec ÷ hnswlib-node', 'ferrovec ÷ usearch'],
    rows: qpsRows.map((row) => {
      // Align columns: sets without the pure-JS library get '—' for it.
      const set = results.find((x) => x.set === row[0])!
      const names = Object.keys(set.curves)
      const byName = new Map(names.map((n, i) => [n, row[2 + i]!]))
      return [row[0]!, row[1]!, ...allNames.map((n) => byName.get(n) ?? '—'), ...row.slice(2 + names.length)]
    }),
    notes: ['"(at ef 10)": the library already exceeds that recall at the lowest ef measured (ef = k), so its QPS at that recall is at least this figure.'],
  })

  // Build table.
  const buildRows: (string | number)[][] = []
  const buildRatios: Record<string, number[]> = { 'hnswlib-node': [], usearch: [] }
  const addBuildRows = (label: string, n: number, b: BuildResult[]) => {
    const by = new Map(b.map((x) => [x.name, x]))
    const f = by.get('ferrovec')!
    for (const p of peerNames) {
      const x = by.get(p)
      if (x) buildRatios[p]!.push(f.seconds / x.seconds)
    }
    buildRows.push([
      label,
      fmt(n),
      ...allNames.map((nm) => {
        const x = by.get(nm)
        return x ? `${x.seconds.toFixed(1)} s (CPU ${x.cpuSeconds.toFixed(1)} s)` : '—'
      }),
      by.get('hnswlib-node') ? ratio(f.seconds, by.get('hnswlib-node')!.seconds) : 'n/a',
      by.get('usearch') ? ratio(f.seconds, by.get('usearch')!.seconds) : 'n/a',
      by.get('hnswlib-node') ? ratio(f.cpuSeconds, by.get('hnswlib-node')!.cpuSeconds) : 'n/a',
    ])
  }
  results.forEach((r) => addBuildRows(r.set, r.n, r.build))
  latency.forEach((l) => addBuildRows(`clustered ${l.dim}-d cosine (latency index)`, plan.latency.n, l.build))
  tables.push({
    title: 'HNSW build time (wall, with the whole process\'s CPU time): ferrovec and usearch on 2 threads, hnswlib-node and hnsw single-threaded',
    columns: ['set', 'rows', ...allNames, 'ferrovec ÷ hnswlib-node (target ≤ 0.5×)', 'ferrovec ÷ usearch (target ≤ 1.0×)', 'CPU-time ratio vs hnswlib-node'],
    rows: buildRows,
    notes: ['One build per library per row, in a rotating order; on a loaded machine a 2-thread build gets less than 2 cores, so the CPU-time ratio (total work) is shown too: wall ÷ CPU ≈ 1 means the second core was not available.'],
  })

  // Memory table.
  const memRows: (string | number)[][] = []
  const memRatios: number[] = []
  const hows = new Map<string, string>()
  for (const r of results) {
    const by = new Map(r.memory.map((x) => [x.name, x]))
    for (const x of r.memory) hows.set(x.name, x.how.replace(/\(keys: .*\)/, '(plus keys)'))
    const f = by.get('ferrovec')!
    const h = by.get('hnswlib-node')
    const u = by.get('usearch')
    if (h) memRatios.push(f.bytesPerVector / h.bytesPerVector)
    const vec = r.dim * 4
    memRows.push([
      r.set,
      fmt(vec),
      ...['ferrovec', 'hnswlib-node', 'usearch'].map((n) => {
        const x = by.get(n)
        return x ? `${fmt(x.bytesPerVector)} (graph ${fmt(x.bytesPerVector - vec)})` : '—'
      }),
      h ? ratio(f.bytesPerVector, h.bytesPerVector) : 'n/a',
      u ? ratio(f.bytesPerVector, u.bytesPerVector) : 'n/a',
    ])
  }
  const rssBy = new Map(rss.map((x) => [x.name, x]))
  const rssF = rssBy.get('ferrovec')
  const rssH = rssBy.get('hnswlib-node')
  const rssRatio = rssF && rssH ? rssF.perVector / rssH.perVector : NaN
  memRows.push([
    `resident-set growth: ${fmt(plan.rss.n)} × ${plan.rss.dim} clustered l2, one process per library`,
    fmt(plan.rss.dim * 4),
    ...['ferrovec', 'hnswlib-node', 'usearch'].map((n) => {
      const x = rssBy.get(n)
      return !x ? '—' : x.error ? `failed: ${x.error}` : `${fmt(x.perVector)} (rest ${fmt(x.perVector - plan.rss.dim * 4)})`
    }),
    rssF && rssH ? ratio(rssF.perVector, rssH.perVector) : 'n/a',
    rssF && rssBy.get('usearch') ? ratio(rssF.perVector, rssBy.get('usearch')!.perVector) : 'n/a',
  ])
  hows.set('resident-set growth', 'growth of (RSS − V8 committed heap) across the build, in a fresh process per library (3 forced GCs before each reading, input arrays allocated before the first), divided by the rows: everything each library allocates (hnswlib-node also keeps a mutex per node, a label hash map, level and pointer arrays that its file does not hold), plus allocator slack')
  tables.push({
    title: 'HNSW memory per vector, bytes (vectors + graph; "graph" = total − dim × 4)',
    columns: ['set', 'f32 vector', 'ferrovec', 'hnswlib-node', 'usearch', 'ferrovec ÷ hnswlib-node (target ≤ 1.0×)', 'ferrovec ÷ usearch'],
    rows: memRows,
    notes: [...hows.entries()].map(([n, h]) => `${n}: ${h}.`),
  })

  // Latency table.
  const latRows: (string | number)[][] = []
  const latRatios: number[] = []
  for (const l of latency) {
    const by = new Map(l.rows.map((x) => [x.name, x]))
    const f = by.get('ferrovec')!
    const h = by.get('hnswlib-node')
    const u = by.get('usearch')
    if (h) latRatios.push(f.medianUs / h.medianUs)
    latRows.push([
      String(l.dim),
      ...['ferrovec', 'hnswlib-node', 'usearch'].map((n) => {
        const x = by.get(n)
        return x ? `${x.medianUs.toFixed(1)} / ${x.p99Us.toFixed(1)} (recall ${x.recall.toFixed(3)})` : '—'
      }),
      h ? `${ratio(f.medianUs, h.medianUs)} / ${ratio(f.p99Us, h.p99Us)}` : 'n/a',
      u ? `${ratio(f.medianUs, u.medianUs)} / ${ratio(f.p99Us, u.p99Us)}` : 'n/a',
    ])
  }
  tables.push({
    title: `HNSW per-call latency of one search, µs, median / p99 (${fmt(plan.latency.n)} clustered vectors, cosine, k = ${K}, ef = 64 for every library)`,
    columns: ['dim', 'ferrovec', 'hnswlib-node', 'usearch', 'ferrovec ÷ hnswlib-node (target ≤ 0.5×)', 'ferrovec ÷ usearch'],
    rows: latRows,
    notes: [`${plan.latency.queries} distinct queries × ${plan.latency.rounds} rounds per library, libraries rotated per round; each call timed alone with process.hrtime.bigint().`],
  })

  // Findings -----------------------------------------------------------------------------------------
  for (const p of peerNames) {
    const rs = qpsRatios[p]!
    if (rs.length === 0) continue
    const misses = qpsMisses.filter((m) => m.includes(`vs ${p}`))
    findings.push(
      `HNSW single-thread QPS at equal recall (0.90/0.95/0.99, ${results.length} sets) vs ${p}: ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}× (median ${median(rs).toFixed(2)}×); target ≥ ${PEER_TARGET}×: ${verdict(misses.length === 0)}` +
        (misses.length ? ` (${misses.length} of ${rs.length} points below: ${misses.join('; ')})` : ''),
    )
  }
  for (const [p, target] of [['hnswlib-node', 0.5], ['usearch', 1.0]] as const) {
    const rs = buildRatios[p]!
    if (rs.length === 0) continue
    findings.push(
      `HNSW build time ferrovec ÷ ${p}: median ${median(rs).toFixed(2)}× (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}× over ${rs.length} builds); target ≤ ${target.toFixed(1)}×: ${verdict(median(rs) <= target)}${Math.max(...rs) > target && median(rs) <= target ? ' (not on every build)' : ''}`,
    )
  }
  if (memRatios.length) {
    findings.push(
      `HNSW memory per vector ferrovec ÷ hnswlib-node: ${Math.min(...memRatios).toFixed(2)}–${Math.max(...memRatios).toFixed(2)}× by reported sizes (ferrovec memoryUsage() vs hnswlib-node's saved file, which omits its per-node mutex, label map and pointer arrays)` +
        `${Number.isFinite(rssRatio) ? `, ${rssRatio.toFixed(2)}× by resident-set growth` : ''}; target ≤ 1.0×: ${verdict(Math.max(...memRatios) <= 1 && !(rssRatio > 1))}`,
    )
  }
  if (latRatios.length) {
    findings.push(
      `HNSW per-call search latency (median) ferrovec ÷ hnswlib-node at dims ${latency.map((l) => l.dim).join('/')}: ${latRatios.map((x) => x.toFixed(2) + '×').join(' / ')}; target ≤ 0.5×: ${verdict(latRatios.every((x) => x <= 0.5))}`,
    )
  }

  // Plot ---------------------------------------------------------------------------------------------
  const panels: Panel[] = results.map((r) => ({
    title: r.set.replace(/ \(.*\)$/, '') + ` (${fmt(r.n)} × ${r.dim})`,
    series: Object.entries(r.curves).map(([name, pts]) => ({ name, points: pts })),
  }))
  const svg = recallQpsSvg(panels, {
    caption: `recall@${K} vs single-thread queries/s along ef (m=${M}, efConstruction=${EF_CONSTRUCTION}); dashed: recall 0.90 / 0.95 / 0.99; ${new Date().toISOString().slice(0, 16)}Z, ${quick ? 'quick run' : 'full run'}`,
    targets: RECALL_LEVELS,
    perRow: 2,
  })
  intro.push(`Recall/QPS plot: [${SVG_NAME}](${SVG_NAME}) (written by \`npm run bench:hnsw\`).`)

  for (const t of tables) printTable(t)
  return {
    title: 'HNSW (approximate search)',
    id: 'hnsw',
    intro,
    tables,
    findings,
    raw: { plan, results, latency, rss },
    files: { [SVG_NAME]: svg },
  }
}
