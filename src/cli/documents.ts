// Reading documents for `ferrovec index`: a JSONL file (one {id, text, metadata?, vector?} per line) or a
// directory of .txt/.md files (one document per file, chunked). Everything is read and checked before the
// collection is touched, so a bad line N fails the whole run with nothing written.
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { createInterface } from 'node:readline'
import { metadataJson } from '../collection/metadata.js'
import { FerrovecError, invalid } from '../errors.js'

/** One document as the collection's `upsert` takes it. */
export interface SourceDoc {
  id: string
  text: string
  metadata?: Record<string, unknown>
  vector?: number[]
}

/** Documents read from a path, and how they map back to it. */
export interface ReadResult {
  docs: SourceDoc[]
  /** Files read from a directory, as relative paths (empty for JSONL). */
  files: string[]
  /** Length of the given vectors, when lines carried any (they must agree). */
  vectorDim: number | undefined
  /** 1-based line of each document in a JSONL file, for error messages after reading. */
  lines: number[]
}

const FIELDS = new Set(['id', 'text', 'metadata', 'vector'])
const TEXT_FILE = /\.(txt|md|markdown)$/i

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reads and checks a JSONL file; an error names the file and the 1-based line. */
export async function readJsonl(path: string): Promise<ReadResult> {
  const docs: SourceDoc[] = []
  const lines: number[] = []
  const seen = new Map<string, number>()
  let vectorDim: number | undefined
  let vectorLine = 0
  const input = createReadStream(path, { encoding: 'utf8' })
  const reader = createInterface({ input, crlfDelay: Infinity })
  let n = 0
  try {
    for await (const raw of reader) {
      n++
      const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw
      if (line.trim() === '') continue
      const where = `${path}:${n}`
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch (err) {
        throw invalid('ERR_INVALID_ARGUMENT', `${where}: bad JSON on line ${n}: ${(err as Error).message}`)
      }
      if (!isPlainObject(value)) throw invalid('ERR_INVALID_ARGUMENT', `${where}: expected an object {"id", "text", "metadata"?}, got ${kind(value)}`)
      for (const key of Object.keys(value)) {
        if (!FIELDS.has(key)) throw invalid('ERR_INVALID_ARGUMENT', `${where}: unknown field "${key}" (fields: id, text, metadata, vector; put the rest under "metadata")`)
      }
      const { id, text, metadata, vector } = value
      if (typeof id !== 'string' || id === '') throw invalid('ERR_INVALID_KEY', `${where}: "id" must be a non-empty string, got ${kind(id)}`)
      if (typeof text !== 'string') throw invalid('ERR_INVALID_ARGUMENT', `${where}: "text" must be a string, got ${kind(text)}`)
      // Checked here, not only by the collection: a blank text found there would come after the
      // collection was created, and without the line number.
      if (text.trim() === '') throw invalid('ERR_INVALID_ARGUMENT', `${where}: "text" is ${text === '' ? 'empty' : 'blank'}; a document needs words to be searched by`)
      if (metadata !== undefined && !isPlainObject(metadata)) throw invalid('ERR_INVALID_ARGUMENT', `${where}: "metadata" must be an object, got ${kind(metadata)}`)
      // Whatever else the collection would refuse (nesting deeper than SQLite's JSON limit).
      if (metadata !== undefined) metadataJson(metadata, where)
      const first = seen.get(id)
      if (first !== undefined) throw invalid('ERR_INVALID_KEY', `${where}: id ${JSON.stringify(id)} repeats line ${first}`)
      seen.set(id, n)
      const doc: SourceDoc = { id, text }
      if (metadata !== undefined) doc.metadata = metadata
      if (vector !== undefined) {
        if (!Array.isArray(vector) || vector.length === 0) throw invalid('ERR_INVALID_VECTOR', `${where}: "vector" must be a non-empty array of numbers`)
        for (const x of vector) {
          if (typeof x !== 'number' || !Number.isFinite(x)) throw invalid('ERR_INVALID_VECTOR', `${where}: "vector" holds ${kind(x)}, expected finite numbers`)
        }
        if (vectorDim === undefined) {
          vectorDim = vector.length
          vectorLine = n
        } else if (vector.length !== vectorDim) {
          throw invalid('ERR_DIMENSION_MISMATCH', `${where}: vector has ${vector.length} dimensions, line ${vectorLine} had ${vectorDim}`)
        }
        doc.vector = vector as number[]
      }
      docs.push(doc)
      lines.push(n)
    }
  } catch (err) {
    throw ioError(err, path)
  } finally {
    reader.close()
    input.destroy()
  }
  if (docs.length === 0) throw invalid('ERR_INVALID_ARGUMENT', `${path}: no documents (the file is empty)`)
  return { docs, files: [], vectorDim, lines }
}

/** How a folder's files are chunked (characters). */
export interface ChunkSettings {
  /** Largest chunk in characters. */
  maxSize: number
  /** Characters repeated between consecutive chunks. */
  overlap: number
}

/**
 * Reads every .txt/.md file under `dir` (recursively, in sorted order, skipping dot-folders and
 * node_modules), one document per file with its relative path as id and `{ source }` as metadata. The
 * collection chunks them (`upsert(…, { chunk })`): chunk ids are `<path>#<n>`, and re-indexing a changed
 * file replaces all its chunks.
 */
export function readTextDir(dir: string): ReadResult {
  const paths = listTextFiles(dir)
  if (paths.length === 0) throw invalid('ERR_INVALID_ARGUMENT', `${dir}: no .txt or .md files in this directory`)
  const docs: SourceDoc[] = []
  const files: string[] = []
  for (const path of paths) {
    const source = relative(dir, path).split(sep).join('/')
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw ioError(err, path)
    }
    if (text.trim() === '') continue
    docs.push({ id: source, text, metadata: { source } })
    files.push(source)
  }
  if (docs.length === 0) throw invalid('ERR_INVALID_ARGUMENT', `${dir}: the .txt/.md files hold no text`)
  return { docs, files, vectorDim: undefined, lines: [] }
}

function listTextFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && TEXT_FILE.test(e.name)) out.push(p)
    }
  }
  walk(dir)
  return out
}

/** Reads a JSONL file or a directory of text files, whichever `path` is. */
export async function readDocuments(path: string): Promise<ReadResult> {
  let st
  try {
    st = statSync(path)
  } catch {
    throw new FerrovecError('ERR_IO', `${path}: no such file or directory`)
  }
  return st.isDirectory() ? readTextDir(path) : readJsonl(path)
}

function kind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(v)}`
}

/** Keeps our own coded errors; turns an OS error into a one-line `ERR_IO` naming the path. */
function ioError(err: unknown, path: string): unknown {
  if (err instanceof FerrovecError) return err
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code === 'string' && !e.code.startsWith('ERR_')) return new FerrovecError('ERR_IO', `${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
  return err
}
