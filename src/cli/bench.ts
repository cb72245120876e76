// `ferrovec bench`: build, recall and queries/s of exact, HNSW and (where the engine has it) quantised search
// over a user's own vectors, as one table. Recall is always measured against exact search on the same data:
// the given ground truth, or this run's own flat index.
import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { readFvecs, readIvecs, type Matrix } from '../data/formats.js'
import { FerrovecError, invalid } from '../errors.js'
import { FlatIndex, type BatchSearchResult, type Quantization } from '../flat.js'
import { HnswIndex } from '../hnsw.js'
import { nativeInfo, type Metric } from '../metric.js'
import { recallAtK, type GroundTruth } from '../recall.js'
import {
  EXIT_OK,
  choiceOption,
  expectPositionals,
  intOption,
  parseOptions,
  UsageError,
  writeJson,
  type CliContext,
  type Command,
} from './command.js'
import { startProgress } from './progress.js'

const METRICS = ['l2', 'cosine', 'dot'] as const satisfies readonly Metric[]
/** The quantisation settings tried: on the flat scan always, on HNSW when the engine accepts them there. */
const QUANTIZATIONS = ['f16', 'int8', 'binary'] as const

/** One row of the table. */
export interface BenchRow {
  index: string
  settings: string
  /** Seconds to add every vector (and link the graph). Shared by the rows of one build. */
  buildSeconds: number
  memoryMiB: number
  recall: number
  /** One query at a time on the calling thread, as a request handler would. */
  qpsSingle: number
  /** The whole query set as one batch, spread over the engine's threads. */
  qpsBatch: number
}

export interface BenchReport {
  vectors: number
  dim: number
  metric: Metric
  queries: number
  k: number
  truth: 'file' | 'exact search'
  threads: number
  rows: BenchRow[]
  /** Why a setting was skipped (quantisation the engine does not offer, say). */
  notes: string[]
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'build time, recall and queries/s of flat, HNSW and quantised search on an .fvecs file',
  usage: `usage: ferrovec bench <vectors.fvecs[.gz]> [options]

Builds a flat (exact) index and an HNSW index over the vectors and prints, per setting, build time,
memory, recall@k against exact search and queries/s (one at a time, and as one batch), for f32 and
each quantised storage (codes trained on the vectors themselves, each type's default rescoring).

  --queries <file.fvecs>   query vectors (default: hold out the last --holdout base vectors)
  --truth <file.ivecs>     true neighbour ids per query (default: computed by exact search)
  --holdout N              queries held out of the base when --queries is not given (default 200)
  --k N                    neighbours per query (default 10)
  --metric l2|cosine|dot   distance (default l2)
  --ef LIST                HNSW search beam widths, comma-separated (default 16,32,64,128,256)
  --m N                    HNSW links per node (default 16)
  --ef-construction N      HNSW build beam width (default 200)
  --json                   the report as one JSON object on stdout

example: ferrovec bench sift_base.fvecs --queries sift_query.fvecs --truth sift_groundtruth.ivecs
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      queries: { type: 'string' },
      truth: { type: 'string' },
      holdout: { type: 'string' },
      k: { type: 'string' },
      metric: { type: 'string' },
      ef: { type: 'string' },
      m: { type: 'string' },
      'ef-construction': { type: 'string' },
      json: { type: 'boolean', default: false },
    })
    const [basePath] = expectPositionals(positionals, ['vectors.fvecs'])
    const k = intOption('k', values.k, 10, 1, 1000)
    const metric = choiceOption('metric', values.metric, METRICS, 'l2')
    const m = intOption('m', values.m, 16, 2, 256)
    const efConstruction = intOption('ef-construction', values['ef-construction'], 200, 1, 100_000)
    const efs = parseEfList(values.ef ?? '16,32,64,128,256')
    const holdout = intOption('holdout', values.holdout, 200, 1)
    if (values.truth !== undefined && values.queries === undefined) {
      throw new UsageError('--truth needs --queries (ground truth belongs to a query file)')
    }

    const base = readVectors(basePath!, 'vectors')
    let data = base
    let queries: Matrix<Float32Array>
    if (values.queries !== undefined) {
      queries = readVectors(values.queries, 'queries')
      if (queries.dim !== base.dim) {
        throw invalid('ERR_DIMENSION_MISMATCH', `${values.queries}: queries have ${queries.dim} dimensions, the vectors have ${base.dim}`)
      }
    } else {
      if (base.rows <= holdout) throw invalid('ERR_INVALID_ARGUMENT', `${basePath}: ${base.rows} vectors leave none to index after holding out ${holdout} queries`)
      const n = base.rows - holdout
      data = { rows: n, dim: base.dim, data: base.data.subarray(0, n * base.dim) }
      queries = { rows: holdout, dim: base.dim, data: base.data.subarray(n * base.dim) }
    }
    if (k > data.rows) throw new UsageError(`--k ${k} is more than the ${data.rows} indexed vectors`)
    let truthFile: GroundTruth | undefined
    if (values.truth !== undefined) {
      const gt = readIvecsChecked(values.truth)
      if (gt.rows !== queries.rows) throw invalid('ERR_INVALID_ARGUMENT', `${values.truth}: ${gt.rows} rows of ground truth for ${queries.rows} queries`)
      if (gt.dim < k) throw invalid('ERR_INVALID_ARGUMENT', `${values.truth}: ${gt.dim} true neighbours per query, --k is ${k}`)
      truthFile = { ids: gt.data, stride: gt.dim }
    }

    const report = await bench(ctx, { data, queries, metric, k, m, efConstruction, efs, truth: truthFile })
    if (values.json) writeJson(ctx, report)
    else ctx.stdout.write(formatReport(report))
    return EXIT_OK
  },
}

function parseEfList(text: string): number[] {
  const efs = text.split(',').map((s) => s.trim())
  for (const s of efs) {
    const n = Number(s)
    if (s === '' || !Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`--ef must be a comma-separated list of positive integers, got ${JSON.stringify(text)}`)
  }
  return efs.map(Number)
}

function readVectors(path: string, what: string): Matrix<Float32Array> {
  if (!existsSync(path)) throw new FerrovecError('ERR_IO', `${path}: no such file (${what})`)
  if (!/\.fvecs(\.gz)?$/.test(path)) throw invalid('ERR_INVALID_ARGUMENT', `${path}: expected an .fvecs or .fvecs.gz file (${what})`)
  const m = readFvecs(path)
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i])) throw invalid('ERR_INVALID_VECTOR', `${path}: row ${Math.floor(i / m.dim)} holds a non-finite value`)
  }
  return m
}

function readIvecsChecked(path: string): Matrix<Int32Array> {
  if (!existsSync(path)) throw new FerrovecError('ERR_IO', `${path}: no such file (truth)`)
  if (!/\.ivecs(\.gz)?$/.test(path)) throw invalid('ERR_INVALID_ARGUMENT', `${path}: expected an .ivecs or .ivecs.gz file (truth)`)
  return readIvecs(path)
}

interface BenchInput {
  data: Matrix<Float32Array>
  queries: Matrix<Float32Array>
  metric: Metric
  k: number
  m: number
  efConstruction: number
  efs: number[]
  truth: GroundTruth | undefined
}

const MiB = 2 ** 20

/** Queries/s of one query at a time and of one batch. */
async function measure(
  queries: Matrix<Float32Array>,
  one: (q: Float32Array) => unknown,
  batch: () => Promise<BatchSearchResult>,
): Promise<{ single: number; batched: number; result: BatchSearchResult }> {
  // Warm-up, untimed: the first calls pay for JIT compilation and cold caches.
  for (let q = 0; q < Math.min(queries.rows, 20); q++) one(queries.data.subarray(q * queries.dim, (q + 1) * queries.dim))
  let t = performance.now()
  for (let q = 0; q < queries.rows; q++) one(queries.data.subarray(q * queries.dim, (q + 1) * queries.dim))
  const single = (queries.rows / (performance.now() - t)) * 1000
  t = performance.now()
  const result = await batch()
  const batched = (queries.rows / (performance.now() - t)) * 1000
  return { single, batched, result }
}

export async function bench(ctx: CliContext, input: BenchInput): Promise<BenchReport> {
  const { data, queries, metric, k } = input
  const keys = Float64Array.from({ length: data.rows }, (_, i) => i)
  const rows: BenchRow[] = []
  const notes: string[] = []

  let t = performance.now()
  const flat = new FlatIndex({ dim: data.dim, metric })
  await flat.addBatch(keys, data.data)
  const flatBuild = (performance.now() - t) / 1000
  const flatRun = await measure(queries, (q) => flat.search(q, k), () => flat.searchBatch(queries.data, k))
  // Ground truth: the file when given, else this exact search (with its distances, for the tie-aware rule).
  const truth: GroundTruth = input.truth ?? { ids: flatRun.result.keys, stride: flatRun.result.k, distances: flatRun.result.distances }
  rows.push({
    index: 'flat',
    settings: 'exact',
    buildSeconds: flatBuild,
    memoryMiB: flat.memoryUsage().total / MiB,
    recall: recallAtK(flatRun.result, truth, k),
    qpsSingle: flatRun.single,
    qpsBatch: flatRun.batched,
  })

  // Quantised scans (issue 4) with each type's defaults: codes trained on the data itself, and the top
  // k × oversample rescored with the float vectors where the type rescores by default. A type the metric refuses is a note, not a row.
  for (const q of QUANTIZATIONS) {
    let index: FlatIndex<Metric>
    try {
      index = new FlatIndex<Metric>({ dim: data.dim, metric, quantization: q, trainAfter: false })
      t = performance.now()
      if (index.quantization?.trained === false) await index.train(data.data)
    } catch (e) {
      if (e instanceof FerrovecError) {
        notes.push(`flat ${q} skipped: ${e.message}`)
        continue
      }
      throw e
    }
    await index.addBatch(keys, data.data)
    const build = (performance.now() - t) / 1000
    const run = await measure(queries, (v) => index.search(v, k), () => index.searchBatch(queries.data, k))
    const usage = index.memoryUsage()
    const oversample = index.quantization?.oversample ?? 1
    rows.push({
      index: `flat ${q}`,
      settings: `codes ${((usage.codes ?? 0) / MiB).toFixed(1)} MiB, ${oversample > 1 ? `rescored ×${oversample}` : 'code distances'}`,
      buildSeconds: build,
      memoryMiB: usage.total / MiB,
      recall: recallAtK(run.result, truth, k),
      qpsSingle: run.single,
      qpsBatch: run.batched,
    })
  }

  // HNSW on the same codes: trained on the data first (as the flat rows), then linked on codes.
  const hnswSettings: { label: string; quantization?: Quantization }[] = [{ label: '' }, ...QUANTIZATIONS.map((q) => ({ label: `${q} `, quantization: q }))]
  for (const setting of hnswSettings) {
    const options = { dim: data.dim, metric, m: input.m, efConstruction: input.efConstruction, seed: 0, capacity: data.rows }
    let hnsw: HnswIndex<Metric>
    t = performance.now()
    try {
      hnsw = new HnswIndex<Metric>(setting.quantization ? { ...options, quantization: setting.quantization, trainAfter: false } : options)
      if (hnsw.quantization?.trained === false) await hnsw.train(data.data)
    } catch (e) {
      if (e instanceof FerrovecError) {
        notes.push(`hnsw ${setting.quantization} skipped: ${e.message}`)
        continue
      }
      throw e
    }
    const bar = startProgress(ctx, `hnsw ${setting.label}`.trim(), data.rows)
    try {
      await hnsw.addBatch(keys, data.data, { onProgress: (p) => bar.update(p) })
    } finally {
      bar.stop()
    }
    const build = (performance.now() - t) / 1000
    const memory = hnsw.memoryUsage().total / MiB
    for (const ef of input.efs) {
      const run = await measure(queries, (q) => hnsw.search(q, k, { ef }), () => hnsw.searchBatch(queries.data, k, { ef }))
      rows.push({
        index: setting.quantization ? `hnsw ${setting.quantization}` : 'hnsw',
        settings: `m=${input.m} efC=${input.efConstruction} ef=${ef}${(hnsw.quantization?.oversample ?? 1) > 1 ? ` ×${hnsw.quantization!.oversample}` : ''}`,
        buildSeconds: build,
        memoryMiB: memory,
        recall: recallAtK(run.result, truth, k),
        qpsSingle: run.single,
        qpsBatch: run.batched,
      })
    }
  }
  return {
    vectors: data.rows,
    dim: data.dim,
    metric,
    queries: queries.rows,
    k,
    truth: input.truth ? 'file' : 'exact search',
    threads: nativeInfo().threads,
    rows,
    notes,
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n)
}

export function formatReport(r: BenchReport): string {
  const header = ['index', 'settings', 'build s', 'MiB', `recall@${r.k}`, 'q/s single', 'q/s batch']
  const cells = r.rows.map((row) => [
    row.index,
    row.settings,
    row.buildSeconds.toFixed(2),
    row.memoryMiB.toFixed(1),
    row.recall.toFixed(4),
    row.qpsSingle.toFixed(0),
    row.qpsBatch.toFixed(0),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((s, i) => pad(s, widths[i]!, i >= 2)).join('  ')
  const out = [
    `${r.vectors} vectors × ${r.dim} (${r.metric}), ${r.queries} queries, recall@${r.k} against ${r.truth}, ${r.threads} threads`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map(line),
    ...r.notes.map((n) => `note: ${n}`),
    '',
  ]
  return out.join('\n')
}
