// Quantisation (issue 4): ferrovec FlatIndex with f16 / int8 / binary / PQ codes against the f32 FlatIndex
// on real embedding data, and usearch's i8 and b1 indexes on the same data. Per variant: vector memory
// as a fraction of f32, recall@10 against the shipped float64 ground truth, and batch queries/s in
// interleaved rounds (ratios to f32 flat in the same rounds).
//
// HNSW rows: ferrovec `HnswIndex` on f32 and on int8 / binary codes (the graph walk scores codes, the
// candidates are rescored), at one ef, so "int8 HNSW ÷ f32 HNSW" reads off at (near) equal recall.
//
// usearch quantises inside its HNSW `Index` (there is no quantised exact search in its JS binding), so
// its rows are HNSW at a high expansion_search, reported with their recall; compare at equal recall.
//
// Run through run.ts (`npm run bench:quant`, `npm run bench -- --only=quant --quick`).

import { FlatIndex, HnswIndex, type FlatIndexOptions, type QuantizationOptions } from './lib/ferrovec.js'
import { loadRealSet, type RealSet } from './lib/datasets.js'
import { loadPeer } from './lib/peers.js'
import { measureQuantHnsw, QUANT_SVG_NAME } from './quant-hnsw.bench.js'
import { recallAtK } from './lib/recall.js'
import { printTable, ratio, type Cell, type Section, type Table } from './lib/results.js'
import { sequentialKeys } from './lib/rng.js'
import { interleave, type Contender, type TimingOptions } from './lib/timing.js'

const K = 10

interface QuantPlan {
  sets: { name: string; queries: number; maxBase: number }[]
  timing: TimingOptions
  usearchExpansion: number
}

const FULL: QuantPlan = {
  sets: [
    { name: 'wordnet-use512-angular', queries: 200, maxBase: Infinity },
    { name: 'fashion-mnist-784-euclidean', queries: 100, maxBase: 30_000 },
  ],
  timing: { rounds: 5, minSampleMs: 300, maxRunsPerSample: 50, warmupRuns: 1 },
  usearchExpansion: 256,
}

const QUICK: QuantPlan = {
  sets: [{ name: 'wordnet-use512-angular', queries: 50, maxBase: 10_000 }],
  timing: { rounds: 3, minSampleMs: 100, maxRunsPerSample: 20, warmupRuns: 1 },
  usearchExpansion: 128,
}

type Usearch = typeof import('usearch')

interface Variant {
  name: string
  /** Vector bytes (codes + originals, or f32 rows) and the codes-only part. */
  bytes: number
  codeBytes: number
  recall: number
  contender: Contender
}

function variantsFor(set: RealSet, nBase: number, nq: number): { options: Omit<FlatIndexOptions, 'dim' | 'metric'>; label: string }[] {
  const dim = set.base.d
  const out: { options: Omit<FlatIndexOptions, 'dim' | 'metric'>; label: string }[] = [
    { label: 'f32 (exact)', options: {} },
    { label: 'f16', options: { quantization: 'f16' } },
    { label: 'int8', options: { quantization: 'int8' } },
    { label: 'int8 + rescore ×2', options: { quantization: 'int8', rescore: { oversample: 2 } } },
  ]
  if (set.metric !== 'l2') {
    out.push(
      { label: 'binary (codes only)', options: { quantization: 'binary', rescore: false } },
      { label: 'binary + rescore ×8', options: { quantization: 'binary', rescore: { oversample: 8 } } },
      { label: 'binary + rescore ×16 (default)', options: { quantization: 'binary' } },
    )
  }
  const m = dim % 8 === 0 ? dim / 8 : dim / 16
  if (Number.isInteger(m)) {
    out.push({ label: `pq m=${m} + rescore ×8`, options: { quantization: { type: 'pq', m, iterations: 10, sample: Math.min(nBase, 10_240) } } })
  }
  void nq
  return out
}

async function measureSet(plan: QuantPlan, spec: QuantPlan['sets'][number], usearch: Usearch | undefined): Promise<{ table: Table; raw: unknown; findings: string[] }> {
  const loaded = loadRealSet(spec.name, spec.queries)
  if ('missing' in loaded) {
    return { table: { title: spec.name, columns: ['note'], rows: [[loaded.missing]] }, raw: loaded, findings: [] }
  }
  const set = loaded
  const dim = set.base.d
  const nBase = Math.min(set.base.n, spec.maxBase)
  const base = set.base.data.subarray(0, nBase * dim)
  const nq = set.queries.n
  const queries = set.queries.data.slice(0, nq * dim)
  // The shipped ground truth covers the full base; with a truncated base it is recomputed by the
  // threshold rule against an exact ferrovec index (which the f32 row shows scores 1.000 in full runs).
  const exact = new FlatIndex({ dim, metric: set.metric })
  exact.addBatchSync(sequentialKeys(nBase), base)
  const truthRes = exact.searchBatchSync(queries, K)
  const kth = (qi: number) => {
    const d = truthRes.distances[qi * K + K - 1]!
    return set.metric === 'l2' ? Math.sqrt(d) : d
  }
  const queryRows = Array.from({ length: nq }, (_, i) => i)
  const truth = { k: K, queryRows, kthDistance: kth }
  const recallOf = (keys: ArrayLike<number>, stride: number) =>
    recallAtK(set.metric, base, queries, dim, truth, (q) => Array.from({ length: K }, (_, j) => Number(keys[q * stride + j])), K)

  const f32Bytes = nBase * dim * 4
  const variants: Variant[] = []
  for (const v of variantsFor(set, nBase, nq)) {
    const index = new FlatIndex({ dim, metric: set.metric, ...v.options })
    const t0 = performance.now()
    await index.addBatch(sequentialKeys(nBase), base)
    const buildS = (performance.now() - t0) / 1000
    const r = await index.searchBatch(queries, K)
    const m = index.memoryUsage()
    variants.push({
      name: `ferrovec ${v.label}`,
      bytes: m.vectors,
      codeBytes: m.codes ?? m.vectors,
      recall: recallOf(r.keys, r.k),
      contender: { name: `ferrovec ${v.label}`, ops: nq, run: () => index.searchBatch(queries, K) },
    })
    console.log(`  ${spec.name} ${v.label}: add+train ${buildS.toFixed(1)} s`)
  }
  // HNSW on codes against HNSW on f32, same graph parameters and ef.
  const hnswEf = 64
  const hnswVariants: { label: string; options: QuantizationOptions }[] = [
    { label: 'f32', options: {} },
    { label: 'int8 + rescore ×2', options: { quantization: 'int8', rescore: { oversample: 2 } } },
  ]
  if (set.metric !== 'l2') hnswVariants.push({ label: 'binary + rescore ×16', options: { quantization: 'binary' } })
  for (const v of hnswVariants) {
    const index = new HnswIndex({ dim, metric: set.metric, m: 16, efConstruction: 128, ...v.options })
    const t0 = performance.now()
    await index.addBatch(sequentialKeys(nBase), base)
    const buildS = (performance.now() - t0) / 1000
    const r = await index.searchBatch(queries, K, { ef: hnswEf })
    const m = index.memoryUsage()
    const name = `ferrovec HNSW ${v.label} (ef ${hnswEf})`
    variants.push({
      name,
      bytes: m.vectors,
      codeBytes: m.codes ?? m.vectors,
      recall: recallOf(r.keys, r.k),
      contender: { name, ops: nq, run: () => index.searchBatch(queries, K, { ef: hnswEf }) },
    })
    console.log(`  ${spec.name} HNSW ${v.label}: build ${buildS.toFixed(1)} s`)
  }
  const skipped: string[] = []
  if (usearch !== undefined) {
    const metric = set.metric === 'l2' ? 'l2sq' : 'cos'
    const kinds = set.metric === 'l2' ? ['i8'] : ['i8', 'b1']
    for (const kind of kinds) {
      try {
        const idx = new usearch.Index({
          dimensions: dim,
          // b1 stores sign bits and compares them by Hamming distance (cos on bits is not what usearch does).
          metric: (kind === 'b1' ? 'hamming' : metric) as never,
          quantization: kind as never,
          connectivity: 16,
          expansion_add: 128,
          expansion_search: plan.usearchExpansion,
          multi: false,
        })
        const ukeys = new BigUint64Array(nBase)
        for (let i = 0; i < nBase; i++) ukeys[i] = BigInt(i)
        idx.add(ukeys, base, 2)
        const res = idx.search(queries, K, 0)
        const bytes = kind === 'i8' ? nBase * dim : (nBase * dim) / 8
        variants.push({
          name: `usearch HNSW ${kind} (ef ${plan.usearchExpansion})`,
          bytes,
          codeBytes: bytes,
          recall: recallOf(Array.from(res.keys as BigUint64Array, Number), K),
          contender: { name: `usearch ${kind}`, ops: nq, run: () => idx.search(queries, K, 0) },
        })
      } catch (e) {
        console.log(`  usearch ${kind} on ${spec.name} failed: ${(e as Error).message}`)
        skipped.push(`usearch ${kind}: ${(e as Error).message}`)
      }
    }
  }
  const ms = await interleave(
    variants.map((v) => v.contender),
    plan.timing,
  )
  const f32Rate = ms[0]!.median
  const rows: Cell[][] = variants.map((v, i) => [
    v.name,
    (v.codeBytes / f32Bytes).toFixed(3),
    (v.bytes / f32Bytes).toFixed(3),
    v.recall.toFixed(3),
    Math.round(ms[i]!.median),
    `±${ms[i]!.spreadPct.toFixed(0)}%`,
    ratio(ms[i]!.median, f32Rate),
  ])
  const findings: string[] = []
  const byName = new Map(variants.map((v, i) => [v.name, { v, rate: ms[i]!.median }]))
  const bin = byName.get('ferrovec binary + rescore ×16 (default)')
  const binCodes = byName.get('ferrovec binary (codes only)')
  if (binCodes) findings.push(`${spec.name}: binary flat scan (codes only) ${(binCodes.rate / f32Rate).toFixed(1)}× f32 flat (target ≥ 10×), recall ${binCodes.v.recall.toFixed(3)}`)
  if (bin) findings.push(`${spec.name}: binary + rescore ×16 (default) recall@10 ${bin.v.recall.toFixed(3)} (target ≥ 0.95), codes ${(bin.v.codeBytes / f32Bytes).toFixed(3)}× f32 (target ≤ 0.04×)`)
  const h32 = byName.get('ferrovec HNSW f32 (ef 64)')
  const h8 = byName.get('ferrovec HNSW int8 + rescore ×2 (ef 64)')
  if (h32 && h8) findings.push(`${spec.name}: int8 HNSW ${(h8.rate / h32.rate).toFixed(2)}× f32 HNSW queries/s at ef 64 (recall ${h8.v.recall.toFixed(3)} vs ${h32.v.recall.toFixed(3)}; target ≥ 1.2× at equal recall, single-thread in bench/rust)`)
  const i8 = byName.get('ferrovec int8')
  if (i8) findings.push(`${spec.name}: int8 recall@10 ${i8.v.recall.toFixed(3)} vs f32 ${variants[0]!.recall.toFixed(3)}, codes ${(i8.v.codeBytes / f32Bytes).toFixed(3)}× f32 (target ≤ 0.27×)`)
  return {
    table: {
      title: `${spec.name}: ${nBase} × ${dim} (${set.metric}), ${nq} queries, k = ${K}, batch search`,
      columns: ['variant', 'codes ÷ f32', 'vectors held ÷ f32', 'recall@10', 'queries/s', 'spread', '÷ f32 flat'],
      rows,
      notes: [
        '"codes ÷ f32" is the scanned codes alone; "vectors held" adds the f32 originals kept for rescoring (keepOriginals: true, the default).',
        'usearch rows are HNSW graphs (its JS binding has no quantised exact search); their memory column counts codes only, not the graph.',
        ...skipped.map((s) => `not measured: ${s}`),
      ],
    },
    raw: { set: spec.name, nBase, dim, nq, variants: variants.map((v, i) => ({ name: v.name, bytes: v.bytes, codeBytes: v.codeBytes, recall: v.recall, qps: ms[i]!.median, spreadPct: ms[i]!.spreadPct })) },
    findings,
  }
}

export async function runQuant(o: { quick: boolean }): Promise<Section> {
  const plan = o.quick ? QUICK : FULL
  const peer = await loadPeer<Usearch>('usearch')
  const usearch = peer.status === 'ok' ? peer.module : undefined
  const tables: Table[] = []
  const raw: unknown[] = []
  const findings: string[] = []
  for (const spec of plan.sets) {
    const r = await measureSet(plan, spec, usearch)
    printTable(r.table)
    tables.push(r.table)
    raw.push(r.raw)
    findings.push(...r.findings)
  }
  const h = await measureQuantHnsw(o.quick, usearch)
  tables.push(...h.tables)
  raw.push(...h.raw)
  findings.push(...h.findings)
  return {
    files: { [QUANT_SVG_NAME]: h.svg },
    id: 'quant',
    title: 'Quantisation: f16, int8, binary and PQ codes (FlatIndex and HnswIndex) vs f32, with usearch i8/b1',
    intro: [
      'ferrovec `FlatIndex` with each `quantization` and its default rescoring unless noted; async `searchBatch` on both cores; recall@10 by the threshold rule against exact search on the same base. usearch: `Index` with `quantization` i8/b1, connectivity 16, built on 2 threads, batch `search` on all threads.',
      `Recall/QPS plot of the HNSW curves: [${QUANT_SVG_NAME}](${QUANT_SVG_NAME}) (written by \`npm run bench:quant\`).`,
      'HNSW tables (quant-hnsw.bench.ts): each index built once on both cores (m = 16, efConstruction = 200); each ef point measures recall@10 against exact FlatIndex truth on the same base and single-thread queries/s, one query per call, all contenders interleaved in every round; queries/s at a recall level is interpolated log-linearly between the bracketing ef points of each curve.',
    ],
    tables,
    findings,
    raw,
  }
}
