// `ferrovec tune`: HnswIndex.tune() on an index file — the per-setting table, the recommendation, and (with --save
// or --out) the file rewritten with the chosen efSearch.
import { readFvecs } from '../data/formats.js'
import { invalid } from '../errors.js'
import { HnswIndex } from '../hnsw.js'
import type { Metric } from '../metric.js'
import { DEFAULT_MAX_EF, formatTuneReport, type TuneOptions } from '../tune.js'
import { EXIT_FAILURE, EXIT_OK, expectPositionals, intOption, numberOption, parseOptions, UsageError, writeJson, type Command } from './command.js'
import { startProgress } from './progress.js'

export const tuneCommand: Command = {
  name: 'tune',
  summary: 'measure an HNSW index file against exact search and pick the smallest efSearch meeting a recall target',
  usage: `usage: ferrovec tune <index file> --target R [options]

Measures recall@k of an HNSW index (saved by HnswIndex.save) against exact search at a sequence of efSearch
values (doubling, then bisecting), prints recall, distance computations, visited nodes and latency per setting,
and recommends the smallest efSearch whose recall meets the target.

  --target R       recall@k to reach, in (0, 1] (required)
  --k N            neighbours per query (default 10)
  --queries FILE   held-out queries as .fvecs (best: real traffic); without it, vectors of the index are
                   sampled as queries, each with its own key removed from the results
  --sample N       how many to sample (default min(500, size)); --seed N picks them (default 0)
  --max-ef N       largest efSearch tried (default ${DEFAULT_MAX_EF})
  --save           write the chosen efSearch into the index file (atomic rename; only if the target is met)
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
    const options: TuneOptions = {
      targetRecall: target,
      apply: dest !== undefined,
      k: intOption('k', values.k, 10, 1, 100_000),
      maxEf: intOption('max-ef', values['max-ef'], DEFAULT_MAX_EF, 1, 1 << 20),
      ...(values.sample !== undefined ? { sampleSize: intOption('sample', values.sample, 500, 1) } : {}),
      ...(values.seed !== undefined ? { seed: intOption('seed', values.seed, 0, 0) } : {}),
    }

    // Read-only: the vectors stay in the file mapping (tuning only reads them), and a save replaces the file
    // by rename, which the mapping survives.
    const index = await HnswIndex.open<Metric>(file!, { readOnly: true })
    if (values.queries !== undefined) {
      const m = readFvecs(values.queries)
      if (m.dim !== index.dim) throw invalid('ERR_DIMENSION_MISMATCH', `${values.queries} holds ${m.dim}-d vectors; the index is ${index.dim}-d`)
      options.queries = m.data
    }
    const bar = startProgress(ctx, 'exact', index.size)
    options.onProgress = (p) => {
      if (p.phase === 'exact') bar.update(p)
      else {
        bar.stop()
        if (ctx.progress) ctx.stderr.write(`efSearch ${p.trial.efSearch}: recall ${p.trial.recall.toFixed(4)}\n`)
      }
    }
    let result
    try {
      result = await index.tune(options)
    } finally {
      bar.stop()
    }

    const saved = result.reached && dest !== undefined ? dest : null
    if (saved !== null) await index.save(saved)
    if (values.json) {
      const { sampleKeys, ...rest } = result
      writeJson(ctx, { file, ...rest, sampled: sampleKeys !== undefined, saved })
    } else {
      ctx.stdout.write(formatTuneReport(result))
      if (saved !== null) ctx.stdout.write(`saved to ${saved}\n`)
      else if (dest !== undefined) ctx.stdout.write(`not saved: the target was not reached\n`)
    }
    return result.reached ? EXIT_OK : EXIT_FAILURE
  },
}
