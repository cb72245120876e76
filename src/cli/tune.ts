// `ferrovec tune`: tune() on an index file — HnswIndex (efSearch) or quantised FlatIndex (rescoring oversample) —
// the per-setting table, the recommendation, and (with --save or --out) the file rewritten with the chosen setting.
import { readFvecs } from '../data/formats.js'
import { invalid } from '../errors.js'
import { FlatIndex } from '../flat.js'
import { HnswIndex } from '../hnsw.js'
import type { Metric } from '../metric.js'
import { DEFAULT_MAX_EF, DEFAULT_MAX_OVERSAMPLE, formatTuneReport, type BaseTuneOptions, type FlatTuneResult, type FlatTuneTrial, type TuneProgress, type TuneResult, type TuneTrial } from '../tune.js'
import { EXIT_FAILURE, EXIT_OK, expectPositionals, intOption, numberOption, parseOptions, UsageError, writeJson, type Command } from './command.js'
import { readHeader } from './info.js'
import { startProgress } from './progress.js'

export const tuneCommand: Command = {
  name: 'tune',
  summary: 'measure an index file against exact search and pick the cheapest setting meeting a recall target',
  usage: `usage: ferrovec tune <index file> --target R [options]

Measures recall@k of an index file against exact search at a sequence of settings (doubling, then bisecting),
prints recall, cost and latency per setting, and recommends the smallest setting whose recall meets the target:
  - an HNSW index (HnswIndex.save): efSearch; the table shows distance computations and visited nodes;
  - a quantised flat index (FlatIndex with quantization, keepOriginals): the rescoring oversample factor
    (candidates rescored = k × oversample); the table shows candidates rescored and distance computations.

  --target R       recall@k to reach, in (0, 1] (required)
  --k N            neighbours per query (default 10)
  --queries FILE   held-out queries as .fvecs (best: real traffic); without it, vectors of the index are
                   sampled as queries, each searched as if its own vector were not in the index
  --sample N       how many to sample (default min(500, size)); --seed N picks them (default 0)
  --max-ef N       HNSW: largest efSearch tried (default ${DEFAULT_MAX_EF})
  --max-oversample X
                   quantised flat: largest oversample factor tried (default ${DEFAULT_MAX_OVERSAMPLE})
  --save           write the chosen setting into the index file (atomic rename; only if the target is met)
  --out FILE       write the tuned index to FILE instead
  --json           the result as one JSON object on stdout

Exit code 1 when no setting up to --max-ef meets the target (the table and the best setting are still printed).

example: ferrovec tune ./docs.fvx --target 0.95 --k 10 --save
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      target: { type: 'string' },
      k: { type: 'string' },
      queries: { type: 'string' },
      sample: { type: 'string' },
      seed: { type: 'string' },
      'max-ef': { type: 'string' },
      'max-oversample': { type: 'string' },
      save: { type: 'boolean', default: false },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    })
    const [file] = expectPositionals(positionals, ['index file'])
    if (values.target === undefined) throw new UsageError('--target is required, e.g. --target 0.95')
    const target = numberOption('target', values.target, 0.95, 0, 1)
    if (target === 0) throw new UsageError('--target must be above 0')
    if (values.queries !== undefined && (values.sample !== undefined || values.seed !== undefined)) {
      throw new UsageError('--sample and --seed choose sampled queries; they do not apply with --queries')
    }
    if (values.save && values.out !== undefined) throw new UsageError('pass --save (in place) or --out FILE, not both')
    const dest = values.out ?? (values.save ? file! : undefined)
    const options: BaseTuneOptions = {
      targetRecall: target,
      apply: dest !== undefined,
      k: intOption('k', values.k, 10, 1, 100_000),
      ...(values.sample !== undefined ? { sampleSize: intOption('sample', values.sample, 500, 1) } : {}),
      ...(values.seed !== undefined ? { seed: intOption('seed', values.seed, 0, 0) } : {}),
    }
    const header = readHeader(file!)
    if (header.kind !== 'HNSW' && header.kind !== 'FLAT') {
      throw invalid('ERR_INVALID_ARGUMENT', `${file}: a ferrovec file of kind "${header.kind}"; tune takes HNSW and quantised flat index files`)
    }
    const hnsw = header.kind === 'HNSW'
    if (hnsw && values['max-oversample'] !== undefined) throw new UsageError('--max-oversample applies to quantised flat indexes; this is an HNSW index')
    if (!hnsw && values['max-ef'] !== undefined) throw new UsageError('--max-ef applies to HNSW indexes; this is a flat index')
    const maxEf = intOption('max-ef', values['max-ef'], DEFAULT_MAX_EF, 1, 1 << 20)
    const maxOversample = numberOption('max-oversample', values['max-oversample'], DEFAULT_MAX_OVERSAMPLE, 1, 10_000)

    // Both open read-only: the vectors (a quantised flat index's originals) stay in the file mapping, as tuning
    // only reads them and sets search settings (efSearch, oversample), and a save replaces the file by rename,
    // which the mapping survives.
    const index = hnsw ? await HnswIndex.open<Metric>(file!, { readOnly: true }) : await FlatIndex.open<Metric>(file!, { readOnly: true })
    if (!hnsw && (index as FlatIndex<Metric>).quantization === undefined) {
      throw invalid('ERR_INVALID_ARGUMENT', `${file}: an exact (not quantised) flat index has nothing to tune`)
    }
    if (values.queries !== undefined) {
      const m = readFvecs(values.queries)
      if (m.dim !== index.dim) throw invalid('ERR_DIMENSION_MISMATCH', `${values.queries} holds ${m.dim}-d vectors; the index is ${index.dim}-d`)
      options.queries = m.data
    }
    const bar = startProgress(ctx, 'exact', index.size)
    const progress =
      <T extends { recall: number }>(label: (t: T) => string) =>
      (p: TuneProgress<T>): void => {
        if (p.phase === 'exact') bar.update(p)
        else {
          bar.stop()
          if (ctx.progress) ctx.stderr.write(`${label(p.trial)}: recall ${p.trial.recall.toFixed(4)}\n`)
        }
      }
    let result: TuneResult | FlatTuneResult
    try {
      result =
        index instanceof HnswIndex
          ? await index.tune({ ...options, maxEf, onProgress: progress<TuneTrial>((t) => `efSearch ${t.efSearch}`) })
          : await index.tune({ ...options, maxOversample, onProgress: progress<FlatTuneTrial>((t) => `oversample ${t.oversample}`) })
    } finally {
      bar.stop()
    }

    const saved = result.reached && dest !== undefined ? dest : null
    if (saved !== null) await index.save(saved)
    if (values.json) {
      const { sampleKeys, ...rest } = result
      writeJson(ctx, { file, kind: hnsw ? 'hnsw' : 'flat', ...rest, sampled: sampleKeys !== undefined, saved })
    } else {
      ctx.stdout.write(formatTuneReport(result))
      if (saved !== null) ctx.stdout.write(`saved to ${saved}\n`)
      else if (dest !== undefined) ctx.stdout.write(`not saved: the target was not reached\n`)
    }
    return result.reached ? EXIT_OK : EXIT_FAILURE
  },
}
