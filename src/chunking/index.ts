/**
 * Text chunking: turn a long document into chunks that map back to it. Every chunk carries its text
 * and exact UTF-16 offsets (`doc.slice(start, end) === text`), trimmed of surrounding whitespace by
 * moving the offsets, never by editing the text. Sizes are in characters or in tokens of a real
 * tokenizer. Empty or whitespace-only documents give no chunks.
 *
 * Async functions are the plain names and load the tokenizer when sizes are in tokens; the `…Sync`
 * twins take a loaded `tokenizer` instead (see `loadTokenizer`).
 */
import type { Tokenizer } from '../embed/tokens.js'
import { checkFixed, fixedSpans } from './fixed.js'
import { characterMeasure, type Measure, tokenMeasure } from './measure.js'
import { checkObject, checkText, checkUnit, fail, resolveTokenizer, resolveTokenizerSync, type UnitChoice } from './options.js'
import type { Span } from './pack.js'
import { checkRecursive, recursiveSpans } from './recursive.js'
import { toChunks } from './result.js'
import { checkSentence, sentenceSpans } from './sentence.js'
import { skipWhitespace } from './text.js'
import type {
  Chunk,
  ChunkOptions,
  ChunkStrategy,
  FixedChunkOptions,
  RecursiveChunkOptions,
  SentenceChunkOptions,
} from './types.js'

export { DEFAULT_CHUNK_SEPARATORS } from './boundaries.js'
export type {
  Chunk,
  ChunkOptions,
  ChunkStrategy,
  ChunkUnit,
  ChunkUnitOptions,
  FixedChunkOptions,
  RecursiveChunkOptions,
  SentenceChunkOptions,
} from './types.js'

/** A validated request: what to run once the tokenizer (if any) is known. */
interface Job {
  choice: UnitChoice
  spans: (text: string, measure: Measure) => Span[]
}

const STRATEGIES: readonly ChunkStrategy[] = ['fixed', 'sentence', 'recursive']

function fixedJob(fn: string, options: unknown): Job {
  const { plan, o } = checkFixed(fn, options)
  return { choice: checkUnit(fn, o), spans: (text, m) => fixedSpans(text, m, plan) }
}

function sentenceJob(fn: string, options: unknown): Job {
  const { plan, o } = checkSentence(fn, options)
  return { choice: checkUnit(fn, o), spans: (text, m) => sentenceSpans(text, m, plan) }
}

function recursiveJob(fn: string, options: unknown): Job {
  const { plan, o } = checkRecursive(fn, options)
  return { choice: checkUnit(fn, o), spans: (text, m) => recursiveSpans(text, m, plan) }
}

function dispatchJob(fn: string, options: unknown): Job {
  // Checked here (rather than by the strategy) so the error names the dispatcher and its choices.
  const o = checkObject(fn, options, ['strategy', 'size', 'maxSize', 'overlap', 'overlapSentences', 'separators', 'locale'])
  const { strategy, ...rest } = o
  if (!STRATEGIES.includes(strategy as ChunkStrategy)) {
    const got = strategy === undefined ? 'none' : JSON.stringify(strategy)
    throw fail(fn, `options.strategy must be one of ${STRATEGIES.map((s) => `"${s}"`).join(', ')}, got ${got}`)
  }
  const name = `${fn} (strategy "${String(strategy)}")`
  if (strategy === 'fixed') return fixedJob(name, rest)
  if (strategy === 'sentence') return sentenceJob(name, rest)
  return recursiveJob(name, rest)
}

function run(text: string, job: Job, tokenizer: Tokenizer | undefined): Chunk[] {
  const measure = job.choice.unit === 'tokens' && tokenizer !== undefined ? tokenMeasure(text, tokenizer) : characterMeasure(text)
  return toChunks(text, job.spans(text, measure), measure, tokenizer)
}

/** Nothing but whitespace: no chunks, and no tokenizer load either. */
const blank = (text: string): boolean => skipWhitespace(text, 0) === text.length

async function runAsync(fn: string, text: unknown, make: (fn: string, o: unknown) => Job, options: unknown): Promise<Chunk[]> {
  checkText(fn, text)
  const job = make(fn, options)
  if (blank(text)) return []
  return run(text, job, await resolveTokenizer(job.choice))
}

function runSync(fn: string, text: unknown, make: (fn: string, o: unknown) => Job, options: unknown): Chunk[] {
  checkText(fn, text)
  const job = make(fn, options)
  if (blank(text)) return []
  return run(text, job, resolveTokenizerSync(fn, job.choice))
}

/**
 * Fixed-size windows of `size` units, each sharing `overlap` units with the one before. In tokens,
 * windows are cut on token boundaries of a real tokenizer and never inside a character; in
 * characters, never inside a surrogate pair.
 */
export function chunkFixed(text: string, options: FixedChunkOptions): Promise<Chunk[]> {
  // Validation errors surface as rejections, like every other failure of an async function.
  return Promise.resolve().then(() => runAsync('chunkFixed', text, fixedJob, options))
}

/** {@link chunkFixed} without waiting: `unit: 'tokens'` needs `options.tokenizer`. */
export function chunkFixedSync(text: string, options: FixedChunkOptions): Chunk[] {
  return runSync('chunkFixedSync', text, fixedJob, options)
}

/**
 * Whole sentences packed up to `maxSize` units, with `overlapSentences` sentences repeated between
 * consecutive chunks. A sentence longer than `maxSize` is split at words (then characters).
 */
export function chunkSentences(text: string, options: SentenceChunkOptions): Promise<Chunk[]> {
  return Promise.resolve().then(() => runAsync('chunkSentences', text, sentenceJob, options))
}

/** {@link chunkSentences} without waiting: `unit: 'tokens'` needs `options.tokenizer`. */
export function chunkSentencesSync(text: string, options: SentenceChunkOptions): Chunk[] {
  return runSync('chunkSentencesSync', text, sentenceJob, options)
}

/**
 * Structure-first chunks of at most `maxSize` units: split at Markdown headings, then blank lines,
 * line breaks, sentences, words and characters, merging small pieces up to the limit and keeping
 * each heading with its section where it fits.
 */
export function chunkRecursive(text: string, options: RecursiveChunkOptions): Promise<Chunk[]> {
  return Promise.resolve().then(() => runAsync('chunkRecursive', text, recursiveJob, options))
}

/** {@link chunkRecursive} without waiting: `unit: 'tokens'` needs `options.tokenizer`. */
export function chunkRecursiveSync(text: string, options: RecursiveChunkOptions): Chunk[] {
  return runSync('chunkRecursiveSync', text, recursiveJob, options)
}

/** Chunks `text` with the strategy named by `options.strategy` (`fixed`, `sentence` or `recursive`). */
export function chunk(text: string, options: ChunkOptions): Promise<Chunk[]> {
  return Promise.resolve().then(() => runAsync('chunk', text, dispatchJob, options))
}

/** {@link chunk} without waiting: `unit: 'tokens'` needs `options.tokenizer`. */
export function chunkSync(text: string, options: ChunkOptions): Chunk[] {
  return runSync('chunkSync', text, dispatchJob, options)
}
