// `ferrovec index`: documents from a JSONL file or a folder of text files into a collection (created on first use).
import { performance } from 'node:perf_hooks'
import { invalid } from '../errors.js'
import { EXIT_OK, expectPositionals, intOption, parseOptions, UsageError, writeJson, type Command } from './command.js'
import { readDocuments, type ReadResult } from './documents.js'
import { collectionModule } from './collection.js'
import { offlineEmbedder } from './embedder.js'
import { startProgress } from './progress.js'

export const indexCommand: Command = {
  name: 'index',
  summary: 'add documents from a .jsonl file or a folder of .txt/.md files to a collection',
  usage: `usage: ferrovec index <file.jsonl | dir> --collection <dir> [options]

Creates the collection on first use (offline embedder, HNSW, cosine) and upserts the documents: new ids are
added, known ids replaced. Everything is read and checked first; a bad line fails the run with nothing written.

  <file.jsonl>       one {"id": string, "text": string, "metadata"?: object, "vector"?: number[]} per line;
                     documents with a vector are stored as given (it must come from the collection's model)
  <dir>              every .txt/.md file below it, split into chunks (structure first: headings,
                     paragraphs, sentences); chunk ids are "<relative path>#<n>", metadata {source}, and a
                     re-indexed file's chunks replace its old ones
  --collection DIR   the collection (required)
  --chunk-size N     largest chunk in characters (default 1000)
  --chunk-overlap N  characters repeated between chunks (default 100)
  --json             {added, updated, count, seconds} on stdout

example: ferrovec index docs/ --collection ./docs-index && ferrovec search ./docs-index "exit codes"
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      collection: { type: 'string', short: 'c' },
      'chunk-size': { type: 'string' },
      'chunk-overlap': { type: 'string' },
      json: { type: 'boolean', default: false },
    })
    const [source] = expectPositionals(positionals, ['file.jsonl | dir'])
    if (values.collection === undefined) throw new UsageError('--collection <dir> is required')
    const maxSize = intOption('chunk-size', values['chunk-size'], 1000, 1)
    const overlap = intOption('chunk-overlap', values['chunk-overlap'], Math.min(100, Math.floor(maxSize / 4)), 0, maxSize - 1)

    const started = performance.now()
    const read = await readDocuments(source!)
    const embedder = await offlineEmbedder()
    checkVectorDim(read, embedder.dimensions, source!)
    const { Collection } = await collectionModule()
    const collection = await Collection.open(values.collection, { embedder, create: true })
    let added = 0
    let updated = 0
    try {
      const bar = startProgress(ctx, 'indexing', read.docs.length)
      try {
        const chunk = read.files.length > 0 ? { chunk: { strategy: 'recursive' as const, maxSize, overlap } } : {}
        ;({ added, updated } = await collection.upsert(read.docs, { onProgress: (p) => bar.update(p), ...chunk }))
      } finally {
        bar.stop()
      }
      const count = await collection.count()
      const seconds = (performance.now() - started) / 1000
      if (values.json) writeJson(ctx, { added, updated, count, seconds })
      else {
        const what = read.files.length > 0 ? `${read.files.length} files` : `${read.docs.length} documents`
        const unit = read.files.length > 0 ? ' chunks' : ''
        ctx.stdout.write(
          `indexed ${what} into ${values.collection} in ${seconds.toFixed(1)} s: ${added}${unit} added, ${updated} updated; the collection holds ${count}\n`,
        )
      }
    } finally {
      await collection.close()
    }
    return EXIT_OK
  },
}

/** Given vectors must have the model's length; the error names the first line that carried one. */
function checkVectorDim(read: ReadResult, modelDim: number | undefined, source: string): void {
  if (read.vectorDim === undefined || modelDim === undefined || read.vectorDim === modelDim) return
  const i = read.docs.findIndex((d) => d.vector !== undefined)
  throw invalid(
    'ERR_DIMENSION_MISMATCH',
    `${source}:${read.lines[i] ?? '?'}: vector has ${read.vectorDim} dimensions, the collection's model gives ${modelDim}`,
  )
}
