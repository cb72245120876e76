// Kernel throughput: distances per second (and GB/s of vector data) of ferrovec's `distance` (one pair
// per call) and `distances` (one query against many rows per call), the simsimd npm package (one pair
// per call; it has no one-to-many form) and plain JS, for cosine, dot, l2 and hamming.
//
// The one-pair forms pay a JS → native call per distance: argument checks, typed-array unwrapping and the
// N-API transition. That overhead is part of what is measured, on purpose: it is what a user calling
// `distance` in a loop pays, and it is why the one-to-many form exists. Each figure carries its maximum
// error against a float64 reference, the kernels' counterpart of recall.

import simsimdTypes from 'simsimd'

import { distance, distances } from './lib/ferrovec.js'
import { loadPeer } from './lib/peers.js'
import { fmt, printTable, ratio, type Cell, type Section, type Table } from './lib/results.js'
import { clusteredVectors, randomBits } from './lib/rng.js'
import { interleave, type TimingOptions } from './lib/timing.js'

type Simsimd = typeof simsimdTypes
type KMetric = 'cosine' | 'dot' | 'l2' | 'hamming'
const METRICS: KMetric[] = ['cosine', 'dot', 'l2', 'hamming']
const SEED = 7_2026

interface KernelPlan {
  dims: number[]
  /** Rows per call of `distances` (and pairs per sample of the one-pair forms). 2,048 × 1,536 × 4 B = 12 MiB
   * fits the 32 MiB L3, so this measures kernels, not DRAM. */
  rows: number
  timing: TimingOptions
}

const FULL: KernelPlan = { dims: [128, 384, 768, 1536], rows: 2048, timing: { rounds: 5, minSampleMs: 100, maxRunsPerSample: 10_000, warmupRuns: 3 } }
const QUICK: KernelPlan = { dims: [128, 768], rows: 512, timing: { rounds: 3, minSampleMs: 40, maxRunsPerSample: 10_000, warmupRuns: 2 } }

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let c = 0
  for (let b = i; b; b >>= 1) c += b & 1
  return c
})

/** Plain-JS distance, ferrovec semantics (`dot` is `1 − a·b`, `l2` squared), as a user would write it. */
function plainDistance(metric: KMetric, a: Float32Array | Uint8Array, b: Float32Array | Uint8Array, bo: number, len: number): number {
  if (metric === 'hamming') {
    let c = 0
    for (let j = 0; j < len; j++) c += POPCOUNT[a[j]! ^ b[bo + j]!]!
    return c
  }
  if (metric === 'l2') {
    let s = 0
    for (let j = 0; j < len; j++) {
      const t = a[j]! - b[bo + j]!
      s += t * t
    }
    return s
  }
  let dot = 0
  let na = 0
  let nb = 0
  for (let j = 0; j < len; j++) {
    const x = a[j]!
    const y = b[bo + j]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  if (metric === 'dot') return 1 - dot
  return na === 0 || nb === 0 ? (na === nb ? 0 : 1) : 1 - dot / Math.sqrt(na * nb)
}

interface KernelRow {
  metric: KMetric
  dim: number
  library: string
  distancesPerSec: number
  gbPerSec: number
  spreadPct: number
  maxError: number
}

export async function runKernels({ quick }: { quick: boolean }): Promise<Section> {
  const plan = quick ? QUICK : FULL
  const simsimdPeer = await loadPeer<Simsimd>('simsimd')
  const sims = simsimdPeer.module
  const rows: KernelRow[] = []

  for (const metric of METRICS) {
    for (const dim of plan.dims) {
      const binary = metric === 'hamming'
      // `dim` counts bits for hamming, so a 768-d row is 96 bytes, as a binary-quantised 768-d embedding.
      const len = binary ? dim / 8 : dim
      const bytesPerRow = binary ? len : len * 4
      const base = binary ? randomBits(plan.rows, dim, SEED + dim) : clusteredVectors(plan.rows, dim, SEED + dim, SEED + dim + 1)
      const query = binary ? randomBits(1, dim, SEED - dim) : clusteredVectors(1, dim, SEED + dim, SEED - dim)
      // Row views are made once: the measured loops pass existing views, as code holding vectors would.
      const views = Array.from({ length: plan.rows }, (_, i) => base.subarray(i * len, (i + 1) * len))
      const reference = Float64Array.from({ length: plan.rows }, (_, i) => plainDistance(metric, query, base, i * len, len))
      const out = new Float32Array(plan.rows)

      // simsimd's `dot` returns the raw product; mapped to `1 − a·b` so every library answers the same question.
      const simsimdFn =
        sims === undefined
          ? undefined
          : metric === 'l2'
            ? (a: never, b: never) => sims.sqeuclidean(a, b)
            : metric === 'cosine'
              ? (a: never, b: never) => sims.cosine(a, b)
              : metric === 'dot'
                ? (a: never, b: never) => 1 - sims.dot(a, b)
                : (a: never, b: never) => sims.hamming(a, b)

      const results = new Map<string, ArrayLike<number>>()
      const contenders = [
        {
          name: 'ferrovec distances (1→n)',
          run: () => distances(query as never, base as never, metric, out),
          collect: () => Float64Array.from(distances(query as never, base as never, metric)),
        },
        {
          name: 'ferrovec distance (1 pair/call)',
          run: () => {
            for (let i = 0; i < plan.rows; i++) out[i] = distance(query as never, views[i] as never, metric)
          },
          collect: () => Float64Array.from(views, (v) => distance(query as never, v as never, metric)),
        },
        ...(simsimdFn
          ? [
              {
                name: 'simsimd npm (1 pair/call)',
                run: () => {
                  for (let i = 0; i < plan.rows; i++) out[i] = simsimdFn(query as never, views[i] as never)
                },
                collect: () => Float64Array.from(views, (v) => simsimdFn(query as never, v as never)),
              },
            ]
          : []),
        {
          name: 'plain JS',
          run: () => {
            for (let i = 0; i < plan.rows; i++) out[i] = plainDistance(metric, query, base, i * len, len)
          },
          collect: () => Float64Array.from({ length: plan.rows }, (_, i) => plainDistance(metric, query, base, i * len, len)),
        },
      ]
      for (const c of contenders) results.set(c.name, c.collect())
      const ms = await interleave(
        contenders.map((c) => ({ name: c.name, ops: plan.rows, run: c.run })),
        plan.timing,
      )
      for (const m of ms) {
        const got = results.get(m.name)!
        let maxError = 0
        // Relative to max(1, |reference|): absolute near zero (cosine of near-identical rows), relative beyond.
        for (let i = 0; i < plan.rows; i++) maxError = Math.max(maxError, Math.abs(got[i]! - reference[i]!) / Math.max(1, Math.abs(reference[i]!)))
        rows.push({ metric, dim, library: m.name, distancesPerSec: m.median, gbPerSec: (m.median * bytesPerRow) / 1e9, spreadPct: m.spreadPct, maxError })
      }
      printTable(tableOf(`${metric}, dim ${dim}`, rows.filter((r) => r.metric === metric && r.dim === dim)))
    }
  }

  const ratios = ratioTable(rows)
  printTable(ratios)
  return {
    title: 'Distance kernels (kernels.bench.ts)',
    intro: [
      `${plan.rows} rows per measurement, one query; seeded clustered f32 rows (hamming: seeded random bytes, \`dim\` bits per row). Single thread: every form runs on the JS thread.`,
      'GB/s counts the bytes of the rows streamed (the query stays in cache): `dim × 4` per distance, `dim / 8` for hamming.',
      'max error: the largest |result − float64 reference| / max(1, |reference|) over all rows; every library is mapped to ferrovec semantics (`dot` = 1 − a·b, `l2` squared).',
      ...(simsimdPeer.status === 'ok' ? [] : [`**simsimd: ${simsimdPeer.status}: ${simsimdPeer.reason}**`]),
    ],
    tables: [ratios, tableOf('Kernel throughput', rows)],
    findings: kernelFindings(rows),
    raw: rows,
  }
}

function tableOf(title: string, rows: KernelRow[]): Table {
  return {
    title,
    columns: ['metric', 'dim', 'library', 'distances/s', 'GB/s', 'spread', 'max error'],
    rows: rows.map((r): Cell[] => [r.metric, String(r.dim), r.library, r.distancesPerSec, r.gbPerSec, `±${r.spreadPct.toFixed(0)}%`, r.maxError === 0 ? '0' : r.maxError.toExponential(1)]),
    notes: ['Medians over interleaved rounds; spread = half the min–max range as % of the median.'],
  }
}

function ratioTable(rows: KernelRow[]): Table {
  const get = (m: KMetric, d: number, lib: string) => rows.find((r) => r.metric === m && r.dim === d && r.library.startsWith(lib))?.distancesPerSec ?? NaN
  const keys = [...new Set(rows.map((r) => `${r.metric}|${r.dim}`))]
  return {
    title: 'Kernel ratios',
    columns: ['metric', 'dim', 'distances ÷ simsimd', 'distance ÷ simsimd', 'distances ÷ plain JS', 'distance ÷ plain JS'],
    rows: keys.map((k) => {
      const [m, d] = k.split('|') as [KMetric, string]
      const dim = Number(d)
      const many = get(m, dim, 'ferrovec distances')
      const one = get(m, dim, 'ferrovec distance ')
      return [m, String(dim), ratio(many, get(m, dim, 'simsimd')), ratio(one, get(m, dim, 'simsimd')), ratio(many, get(m, dim, 'plain JS')), ratio(one, get(m, dim, 'plain JS'))]
    }),
    notes: ['`distances` is one call for all rows; `distance` and simsimd are one call per pair, so they include the per-call cost.'],
  }
}

function kernelFindings(rows: KernelRow[]): string[] {
  const out: string[] = []
  const at = (lib: string) => rows.filter((r) => r.library.startsWith(lib))
  for (const dim of [768]) {
    const line = (['cosine', 'dot', 'l2', 'hamming'] as KMetric[])
      .map((m) => {
        const f = at('ferrovec distances').find((r) => r.metric === m && r.dim === dim)
        const s = at('simsimd').find((r) => r.metric === m && r.dim === dim)
        const p = at('plain JS').find((r) => r.metric === m && r.dim === dim)
        if (!f) return undefined
        return `${m} ${fmt(f.distancesPerSec)}/s (${s ? ratio(f.distancesPerSec, s.distancesPerSec) + ' simsimd, ' : ''}${p ? ratio(f.distancesPerSec, p.distancesPerSec) + ' plain JS' : ''})`
      })
      .filter(Boolean)
    if (line.length > 0) out.push(`Kernels at ${dim} dims, ferrovec \`distances\` (1→n): ${line.join('; ')}`)
  }
  const one = at('ferrovec distance ').find((r) => r.metric === 'l2' && r.dim === 768)
  const pair = at('simsimd').find((r) => r.metric === 'l2' && r.dim === 768)
  if (one && pair) {
    out.push(
      `One-pair calls at 768 dims (l2): ferrovec \`distance\` ${fmt(1e9 / one.distancesPerSec)} ns per call vs simsimd ${fmt(1e9 / pair.distancesPerSec)} ns (${ratio(one.distancesPerSec, pair.distancesPerSec)}); the difference is per-call work outside the kernel (argument normalisation in TS, metric parsing, validating both vectors).`,
    )
  }
  const worst = Math.max(...rows.map((r) => r.maxError))
  out.push(`Kernel max error vs float64 reference, worst over every library: ${worst.toExponential(1)}`)
  return out
}
