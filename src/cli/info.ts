// `ferrovec info`: the native engine (no argument), an index file (header, then the index opened read-only),
// or a collection directory (its recorded model and index settings, read without an embedder).
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { FerrovecError, invalid } from '../errors.js'
import { FlatIndex } from '../flat.js'
import { HnswIndex } from '../hnsw.js'
import { nativeInfo, type Metric } from '../metric.js'
import { collectionModule } from './collection.js'
import { EXIT_OK, expectPositionals, parseOptions, writeJson, type CliContext, type Command } from './command.js'

/** The first eight bytes of every ferrovec file (crates/ferrovec-core/src/format/mod.rs). */
const MAGIC = Buffer.from([0x89, 0x46, 0x52, 0x56, 0x0d, 0x0a, 0x1a, 0x0a])

export const infoCommand: Command = {
  name: 'info',
  summary: 'the native engine (no argument), an index file, or a collection directory',
  usage: `usage: ferrovec info [<index file | collection dir>] [--json]

With no argument: the engine's version, SIMD backends and threads.
With an index file (saved by FlatIndex/HnswIndex): kind, format version, dim, metric, size, parameters, memory.
With a collection directory: its documents, embedding model and index settings (no embedder is loaded).

  --json   one JSON object on stdout
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, { json: { type: 'boolean', default: false } })
    if (positionals.length > 1) expectPositionals(positionals, ['path'])
    const [path] = positionals
    let report: Record<string, unknown>
    if (path === undefined) report = { ...nativeInfo() }
    else report = await describe(path)
    print(ctx, report, values.json === true)
    return EXIT_OK
  },
}

async function describe(path: string): Promise<Record<string, unknown>> {
  let st
  try {
    st = statSync(path)
  } catch {
    throw new FerrovecError('ERR_IO', `${path}: no such file or directory`)
  }
  if (st.isDirectory()) {
    const { Collection } = await collectionModule()
    return { type: 'collection', ...(await Collection.readInfo(path)) }
  }
  const header = readHeader(path)
  if (header.kind === 'HNSW') {
    // Read-only: the vectors stay in the file mapping, so a large index is described without loading it.
    const index = await HnswIndex.open<Metric>(path, { readOnly: true })
    return {
      path,
      type: 'index',
      kind: 'hnsw',
      format: header.version,
      bytes: st.size,
      dim: index.dim,
      metric: index.metric,
      size: index.size,
      deleted: index.deletedCount,
      params: index.params,
      memory: index.memoryUsage(),
    }
  }
  if (header.kind === 'FLAT') {
    // Read-only too: the rows (or a quantised index's originals) stay in the file mapping.
    const index = await FlatIndex.open<Metric>(path, { readOnly: true })
    return { path, type: 'index', kind: 'flat', format: header.version, bytes: st.size, dim: index.dim, metric: index.metric, size: index.size, memory: index.memoryUsage() }
  }
  throw invalid('ERR_INVALID_ARGUMENT', `${path}: a ferrovec file of kind "${header.kind}", which this command does not describe`)
}

export function readHeader(path: string): { kind: string; version: string } {
  const buf = Buffer.alloc(16)
  const fd = openSync(path, 'r')
  let n: number
  try {
    n = readSync(fd, buf, 0, 16, 0)
  } finally {
    closeSync(fd)
  }
  if (n < 16 || !buf.subarray(0, 8).equals(MAGIC)) {
    throw new FerrovecError('ERR_CORRUPT_FILE', `${path}: not a ferrovec index file or collection directory`)
  }
  return { kind: buf.subarray(12, 16).toString('latin1'), version: `${buf.readUInt16LE(8)}.${buf.readUInt16LE(10)}` }
}

function print(ctx: CliContext, report: Record<string, unknown>, json: boolean): void {
  if (json) return writeJson(ctx, report)
  const lines: string[] = []
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(obj)) {
      if (value === undefined) continue
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) walk(value as Record<string, unknown>, `${prefix}${key}.`)
      else lines.push(`${`${prefix}${key}`.padEnd(24)} ${Array.isArray(value) ? value.join(', ') : String(value)}`)
    }
  }
  walk(report, '')
  ctx.stdout.write(`${lines.join('\n')}\n`)
}
