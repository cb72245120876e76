// Quantised HNSW (issue 4, "int8 HNSW single-thread queries/s ≥ 1.2× f32 HNSW at equal recall" and
// "against usearch's i8 and b1 indexes at equal recall: ≥ 1.2× queries/s"): ferrovec `HnswIndex` with
// f32, int8 and binary (+ rescoring) storage against usearch's HNSW `Index` with f32, i8 and b1
// quantisation, on real embedding data. Every index is built once (m = 16, efConstruction = 200);
// then the ef sweep measures recall@10 against exact search on the same base and single-thread
// queries/s (one query per call, interleaved rounds), and each library's curve is interpolated at
// recall 0.90 / 0.95 / 0.99, as in the HNSW benchmark.
//
// Part of the quantisation section (quant.bench.ts, `npm run bench:quant`).

import { FlatIndex, HnswIndex } from './lib/ferrovec.js'
import { qpsAtRecall } from './hnsw.bench.js'
import { loadRealSet } from './lib/datasets.js'
import { recallAtK } from './lib/recall.js'
import { fmt, printTable, ratio, type Cell, type Table } from './lib/results.js'
import { sequentialKeys } from './lib/rng.js'
import { interleave, type TimingOptions } from './lib/timing.js'
import { recallQpsSvg } from './lib/svg.js'

const K = 10
const M = 16
const EF_CONSTRUCTION = 200
const LEVELS = [0.9, 0.95, 0.99]

export type Usearch = typeof import('usearch')
type UsearchIndex = InstanceType<Usearch['Index']>

interface Plan {
  sets: { name: string; queries: number; maxBase: number }[]
  efs: number[]
  timedQueries: number
  timing: TimingOptions
}

const FULL: Plan = {
  sets: [
    { name: 'wordnet-use512-angular', queries: 500, maxBase: 50_000 },
    { name: 'fashion-mnist-784-euclidean', queries: 500, maxBase: 30_000 },
  ],
  efs: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384],
  timedQueries: 200,
  timing: { rounds: 5, minSampleMs: 100, maxRunsPerSample: 30, warmupRuns: 0 },
}

const QUICK: Plan = {
  sets: [{ name: 'wordnet-use512-angular', queries: 100, maxBase: 10_000 }],
  efs: [10, 32, 96, 256],
  timedQueries: 100,
  timing: { rounds: 2, minSampleMs: 50, maxRunsPerSample: 10, warmupRuns: 0 },
}

interface Point {
  ef: number
  recall: number
  qps: number
  spreadPct: number
}

interface Contender {
  name: string
  build(): Promise<void>
  setEf(ef: number): void
  search(qi: number): unknown
  ids(qi: number): ArrayLike<number>
  /** Bytes of the stored vectors / codes (the graph is counted by the HNSW benchmark). */
  vectorBytes(): number
}

function ferrovecContender(name: string, opts: Record<string, unknown>, base: Float32Array, n: number, dim: number, metric: 'cosine' | 'l2', qs: Float32Array[]): Contender {
  let idx: HnswIndex<'cosine' | 'l2'> | undefined
  return {
    name,
    async build() {
      idx = new HnswIndex({ dim, metric, m: M, efConstruction: EF_CONSTRUCTION, seed: 1, capacity: n, ...opts } as ConstructorParameters<typeof HnswIndex>[0]) as HnswIndex<'cosine' | 'l2'>
      await idx.addBatch(sequentialKeys(n), base)
    },
    setEf(ef) {
      idx!.efSearch = ef
    },
    search: (qi) => idx!.search(qs[qi]!, K),
    ids: (qi) => idx!.search(qs[qi]!, K).keys,
    vectorBytes() {
      const m = idx!.memoryUsage() as { vectors: number; codes?: number }
      return m.codes ?? m.vectors
    },
  }
}

function usearchContender(mod: Usearch, kind: 'f32' | 'i8' | 'b1', base: Float32Array, n: number, dim: number, metric: 'cosine' | 'l2', qs: Float32Array[]): Contender {
  // b1 keeps sign bits and compares them by Hamming distance; usearch does not rescore.
  const m = kind === 'b1' ? 'hamming' : metric === 'l2' ? 'l2sq' : 'cos'
  const make = (ef: number) =>
    new mod.Index({ dimensions: dim, metric: m as never, quantization: kind as never, connectivity: M, expansion_add: EF_CONSTRUCTION, expansion_search: ef, multi: false })
  let built: UsearchIndex | undefined
  let idx: UsearchIndex | undefined
  let saved: string | undefined
  return {
    name: `usearch ${kind}`,
    async build() {
      built = make(64)
      const keys = new BigUint64Array(n)
      for (let i = 0; i < n; i++) keys[i] = BigInt(i)
      built.add(keys, base, 2)
      idx = built
    },
    // usearch's JS binding fixes expansion_search at construction: save once, load per ef.
    setEf(ef) {
      saved ??= (() => {
        const p = `${process.env.TMPDIR ?? '/tmp'}/ferrovec-bench-usearch-${kind}-${process.pid}.usearch`
        built!.save(p)
        return p
      })()
      idx = make(ef)
      idx.load(saved)
    },
    search: (qi) => idx!.search(qs[qi]!, K, 1),
    ids: (qi) => Array.from(idx!.search(qs[qi]!, K, 1).keys as BigUint64Array, Number),
    vectorBytes: () => (kind === 'f32' ? n * dim * 4 : kind === 'i8' ? n * dim : (n * dim) / 8),
  }
}

async function measureSet(plan: Plan, spec: Plan['sets'][number], usearch: Usearch | undefined): Promise<{ table: Table; curves: Table; raw: unknown; findings: string[] }> {
  const loaded = loadRealSet(spec.name, spec.queries)
  if ('missing' in loaded) {
    const t = { title: spec.name, columns: ['note'], rows: [[loaded.missing]] }
    return { table: t, curves: t, raw: loaded, findings: [] }
  }
  const metric = loaded.metric === 'l2' ? 'l2' : 'cosine'
  const dim = loaded.base.d
  const n = Math.min(loaded.base.n, spec.maxBase)
  const base = loaded.base.data.subarray(0, n * dim)
  const nq = loaded.queries.n
  const queries = loaded.queries.data.slice(0, nq * dim)
  const qs = Array.from({ length: nq }, (_, i) => queries.slice(i * dim, (i + 1) * dim))
  const exact = new FlatIndex({ dim, metric })
  exact.addBatchSync(sequentialKeys(n), base)
  const truthRes = exact.searchBatchSync(queries, K)
  const kth = (qi: number) => {
    const d = truthRes.distances[qi * K + K - 1]!
    return metric === 'l2' ? Math.sqrt(d) : d
  }
  const truth = { k: K, queryRows: Array.from({ length: nq }, (_, i) => i), kthDistance: kth }

  const contenders: Contender[] = [
    ferrovecContender('ferrovec f32', {}, base, n, dim, metric, qs),
    ferrovecContender('ferrovec int8', { quantization: 'int8' }, base, n, dim, metric, qs),
  ]
  // Sign bits of an L2 set are not a distance the data has (binary is for angular embeddings).
  if (metric !== 'l2') contenders.push(ferrovecContender('ferrovec binary + rescore', { quantization: 'binary' }, base, n, dim, metric, qs))
  if (usearch !== undefined) {
    for (const kind of metric === 'l2' ? (['f32', 'i8'] as const) : (['f32', 'i8', 'b1'] as const)) contenders.push(usearchContender(usearch, kind, base, n, dim, metric, qs))
  }
  const builds: Record<string, number> = {}
  for (const c of contenders) {
    const t0 = performance.now()
    await c.build()
    builds[c.name] = (performance.now() - t0) / 1000
    console.log(`  ${spec.name} ${c.name}: built in ${builds[c.name]!.toFixed(1)} s`)
  }
  const curves: Record<string, Point[]> = Object.fromEntries(contenders.map((c) => [c.name, []]))
  const done = new Set<string>()
  for (const ef of plan.efs) {
    const live = contenders.filter((c) => !done.has(c.name))
    if (live.length === 0) break
    const recalls = new Map<string, number>()
    for (const c of live) {
      c.setEf(ef)
      recalls.set(c.name, recallAtK(metric, base, queries, dim, truth, (q) => c.ids(q), K))
    }
    const nt = Math.min(plan.timedQueries, nq)
    const ms = await interleave(
      live.map((c) => ({ name: c.name, ops: nt, run: () => { for (let q = 0; q < nt; q++) c.search(q) } })),
      plan.timing,
    )
    for (const m of ms) {
      const r = recalls.get(m.name)!
      curves[m.name]!.push({ ef, recall: r, qps: m.median, spreadPct: m.spreadPct })
      if (r >= 0.999) done.add(m.name)
    }
    console.log(`  ef ${ef}: ` + ms.map((m) => `${m.name} ${recalls.get(m.name)!.toFixed(3)} @ ${fmt(m.median)} q/s`).join(' | '))
  }

  const at = (name: string, level: number) => (curves[name] ? qpsAtRecall(curves[name]!, level) : { qps: NaN, how: 'not reached' as const })
  const show = (q: { qps: number; how: string }) => (Number.isFinite(q.qps) ? `${fmt(q.qps)}${q.how === 'lowest ef' ? ' (lowest ef)' : ''}` : 'not reached')
  const rows: Cell[][] = contenders.map((c) => [
    c.name,
    (c.vectorBytes() / (n * dim * 4)).toFixed(3),
    builds[c.name]!.toFixed(1),
    ...LEVELS.map((l) => show(at(c.name, l))),
    curves[c.name]!.length > 0 ? Math.max(...curves[c.name]!.map((p) => p.recall)).toFixed(3) : '—',
  ])
  const pairs: [string, string, string][] = [
    ['ferrovec int8', 'ferrovec f32', 'int8 HNSW ÷ f32 HNSW (target ≥ 1.2×)'],
    ['ferrovec int8', 'usearch i8', 'ferrovec int8 ÷ usearch i8 (target ≥ 1.2×)'],
    ['ferrovec binary + rescore', 'usearch b1', 'ferrovec binary ÷ usearch b1 (target ≥ 1.2×)'],
  ]
  const findings: string[] = []
  for (const [a, b, label] of pairs) {
    if (!curves[a] || !curves[b]) continue
    const parts = LEVELS.map((l) => {
      const qa = at(a, l)
      const qb = at(b, l)
      if (!Number.isFinite(qa.qps)) return `${l}: ${a} does not reach it`
      if (!Number.isFinite(qb.qps)) return `${l}: only ${a} reaches it`
      return `${l}: ${(qa.qps / qb.qps).toFixed(2)}×`
    })
    findings.push(`${spec.name}: ${label} at recall ${parts.join(', ')}`)
    rows.push([label, '', '', ...LEVELS.map((l) => ratio(at(a, l).qps, at(b, l).qps)), ''])
  }
  const curveRows: Cell[][] = []
  for (const c of contenders) for (const p of curves[c.name]!) curveRows.push([c.name, p.ef, p.recall.toFixed(3), Math.round(p.qps), `±${p.spreadPct.toFixed(0)}%`])
  return {
    table: {
      title: `${spec.name}: ${fmt(n)} × ${dim} (${metric}), HNSW m = ${M}, efConstruction = ${EF_CONSTRUCTION}, single-thread queries/s at recall@10`,
      columns: ['index', 'vectors ÷ f32', 'build s (2 threads)', ...LEVELS.map((l) => `q/s @ ${l}`), 'best recall'],
      rows,
      notes: [
        'ferrovec int8 and binary walk the graph on codes; binary rescores k × 16 candidates with the f32 originals (the default), int8 does not rescore. "vectors ÷ f32" is the codes the walk reads (originals kept for rescoring are not counted).',
        'usearch b1 stores sign bits compared by Hamming distance and never rescores, so it may not reach the higher recall levels at all.',
      ],
    },
    curves: { title: `${spec.name}: every ef point`, columns: ['index', 'ef', 'recall@10', 'queries/s', 'spread'], rows: curveRows },
    raw: { set: spec.name, n, dim, nq, builds, curves },
    findings,
  }
}

/** Where the quantised-HNSW recall/QPS plot goes (beside RESULTS.md). */
export const QUANT_SVG_NAME = 'quant-hnsw-recall-qps.svg'

interface CurvesRaw {
  set: string
  n: number
  dim: number
  curves: Record<string, Point[]>
}

/** The recall/QPS plot of the quantised-HNSW curves: one panel per set, one line per index. */
export function quantHnswSvg(raw: readonly unknown[], caption: string): string {
  const sets = raw.filter((r): r is CurvesRaw => typeof r === 'object' && r !== null && 'curves' in r)
  return recallQpsSvg(
    sets.map((r) => ({ title: `${r.set} (${fmt(r.n)} × ${r.dim})`, series: Object.entries(r.curves).map(([name, points]) => ({ name, points })) })),
    { caption, targets: LEVELS, perRow: 2 },
  )
}

/** The quantised-HNSW tables, findings and plot, for the quantisation section (quant.bench.ts). */
export async function measureQuantHnsw(quick: boolean, usearch: Usearch | undefined): Promise<{ tables: Table[]; raw: unknown[]; findings: string[]; svg: string }> {
  const plan = quick ? QUICK : FULL
  const out = { tables: [] as Table[], raw: [] as unknown[], findings: [] as string[] }
  for (const spec of plan.sets) {
    const r = await measureSet(plan, spec, usearch)
    printTable(r.table)
    out.tables.push(r.table, r.curves)
    out.raw.push(r.raw)
    out.findings.push(...r.findings)
  }
  const caption = `recall@${K} vs single-thread queries/s along ef, quantised HNSW (m=${M}, efConstruction=${EF_CONSTRUCTION}); dashed: recall 0.90 / 0.95 / 0.99; ${new Date().toISOString().slice(0, 16)}Z, ${quick ? 'quick run' : 'full run'}`
  return { ...out, svg: quantHnswSvg(out.raw, caption) }
}
