// `ferrovec search`: one query against a collection, in keyword (BM25), vector or hybrid mode, with an optional
// metadata filter.
import type { Collection, HybridFusion } from '../collection/index.js'
import {
  EXIT_OK,
  choiceOption,
  expectPositionals,
  intOption,
  numberOption,
  parseOptions,
  UsageError,
  writeJson,
  type CliContext,
  type Command,
} from './command.js'
import { openCollection } from './collection.js'

export const MODES = ['hybrid', 'vector', 'keyword'] as const
const FUSIONS = ['zscore', 'minmax', 'rrf'] as const satisfies readonly HybridFusion[]
export type Mode = (typeof MODES)[number]

export const searchCommand: Command = {
  name: 'search',
  summary: 'search a collection with a sentence: keyword (BM25), vector or hybrid, with a metadata filter',
  usage: `usage: ferrovec search <collection dir> "query" [options]

  --k N              results (default 10)
  --mode MODE        hybrid (default), vector or keyword
  --filter JSON      metadata filter, e.g. '{"lang":"en"}', '{"year":{"$gte":2020}}', '{"$or":[…]}'
  --fusion F         hybrid only: zscore (the collection's default), minmax or rrf
  --alpha X          zscore/minmax: the vector ranking's share, X·vector + (1−X)·keyword, in [0, 1]
  --rrf-k N          rrf: the rank constant (default 60); alone it selects rrf
  --json             {query, mode, results: [{id, score, text, metadata}]} on stdout

Vector and hybrid modes embed the query with the collection's pinned model (the CLI runs the offline one).

example: ferrovec search ./notes "how do I rotate the logs" --k 5 --filter '{"source":"ops.md"}'
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      k: { type: 'string' },
      mode: { type: 'string' },
      filter: { type: 'string' },
      fusion: { type: 'string' },
      alpha: { type: 'string' },
      'rrf-k': { type: 'string' },
      json: { type: 'boolean', default: false },
    })
    const [dir, query] = expectPositionals(positionals, ['collection dir', 'query'])
    if (query!.trim() === '') throw new UsageError('the query is empty')
    const k = intOption('k', values.k, 10, 1, 10_000)
    const mode = choiceOption('mode', values.mode, MODES, 'hybrid')
    const filter = parseFilter(values.filter)
    const fusion = values.fusion === undefined ? undefined : choiceOption('fusion', values.fusion, FUSIONS, 'zscore')
    const alpha = values.alpha === undefined ? undefined : numberOption('alpha', values.alpha, 0, 0, 1)
    const rrfK = values['rrf-k'] === undefined ? undefined : intOption('rrf-k', values['rrf-k'], 60, 1)
    if (mode !== 'hybrid' && (fusion !== undefined || alpha !== undefined || rrfK !== undefined)) {
      throw new UsageError('--fusion, --alpha and --rrf-k apply to --mode hybrid only')
    }
    if (rrfK !== undefined && fusion !== undefined && fusion !== 'rrf') throw new UsageError(`--rrf-k belongs to --fusion rrf, not ${fusion}`)
    if (alpha !== undefined && (fusion === 'rrf' || (fusion === undefined && rrfK !== undefined))) throw new UsageError('--alpha belongs to --fusion zscore or minmax, not rrf')

    const collection = await openCollection(dir!, { needsEmbedder: mode !== 'keyword' })
    try {
      const options = {
        k,
        mode,
        ...(filter !== undefined ? { filter } : {}),
        ...(fusion !== undefined ? { fusion } : {}),
        ...(alpha !== undefined ? { alpha } : {}),
        ...(rrfK !== undefined ? { rrfK } : {}),
      }
      const results = await collection.search(query!, options)
      if (values.json) writeJson(ctx, { query, mode, results })
      else ctx.stdout.write(formatResults(results, ctx))
    } finally {
      await collection.close()
    }
    return EXIT_OK
  },
}

/** Parses `--filter`: JSON that is an object. What the operators mean is checked by the collection. */
export function parseFilter(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`--filter is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--filter must be a JSON object such as '{"lang":"en"}'`)
  return value as Record<string, unknown>
}

type Result = Awaited<ReturnType<Collection['search']>>[number]

/** One line per result: rank, score, id, and the text cut to the terminal's width. */
export function formatResults(results: readonly Result[], ctx: CliContext, indent = ''): string {
  if (results.length === 0) return `${indent}(no results)\n`
  const width = Math.max(60, Math.min(160, (ctx.stdout as { columns?: number }).columns ?? 120))
  const idWidth = Math.min(24, Math.max(...results.map((r) => r.id.length)))
  const scoreWidth = Math.max(...results.map((r) => r.score.toFixed(4).length))
  return results
    .map((r, i) => {
      const head = `${indent}${String(i + 1).padStart(2)}. ${r.score.toFixed(4).padStart(scoreWidth)}  ${r.id.padEnd(idWidth)}  `
      const text = r.text.replace(/\s+/g, ' ')
      const room = Math.max(20, width - head.length)
      return `${head}${text.length > room ? `${text.slice(0, room - 1)}…` : text}\n`
    })
    .join('')
}
