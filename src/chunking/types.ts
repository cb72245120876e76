/**
 * The public shapes of the chunking helpers. Offsets are UTF-16 code-unit indexes into the string
 * that was chunked (the same indexes `String.prototype.slice` takes), so
 * `doc.slice(chunk.start, chunk.end) === chunk.text` holds for every chunk.
 */
import type { EncodingName, Tokenizer } from '../embed/tokens.js'

/**
 * What sizes are measured in. `characters` are UTF-16 code units (`string.length`); `tokens` are
 * tokens of a real tokenizer (js-tiktoken's `cl100k_base` unless `encoding` or `tokenizer` says
 * otherwise), counted on each chunk's own text, which is what an embedding model is sent.
 */
export type ChunkUnit = 'characters' | 'tokens'

/** One piece of a document, mapping back to it exactly. */
export interface Chunk {
  /** The chunk's text: always `doc.slice(start, end)`, trimmed of surrounding whitespace by offsets. */
  text: string
  /** UTF-16 offset of the chunk's first code unit in the document. */
  start: number
  /** UTF-16 offset one past the chunk's last code unit. */
  end: number
  /** Position of the chunk in the returned list, from 0. */
  index: number
  /** Tokens in `text`, present when a tokenizer was used (unit `tokens`, or `encoding`/`tokenizer` given). */
  tokenCount?: number
}

/** Options every strategy shares: the unit sizes are measured in and the tokenizer that measures tokens. */
export interface ChunkUnitOptions {
  /** Default `characters`. */
  unit?: ChunkUnit
  /** The js-tiktoken encoding for `unit: 'tokens'` (default `cl100k_base`, the OpenAI embedding models'). */
  encoding?: EncodingName
  /**
   * A tokenizer to measure with instead of loading `encoding`: any object with `count` and
   * `truncate` (see `loadTokenizer`). Required by the `…Sync` functions for `unit: 'tokens'`.
   */
  tokenizer?: Tokenizer
}

/** Options of {@link chunkFixed}. */
export interface FixedChunkOptions extends ChunkUnitOptions {
  /** Window size in `unit`s, ≥ 1. */
  size: number
  /** Units each window shares with the previous one, 0 ≤ overlap < size. Default 0. */
  overlap?: number
}

/** Options of {@link chunkSentences}. */
export interface SentenceChunkOptions extends ChunkUnitOptions {
  /** Largest chunk in `unit`s, ≥ 1. */
  maxSize: number
  /** Whole sentences repeated from the end of one chunk at the start of the next. Default 0. */
  overlapSentences?: number
  /** BCP 47 locale for sentence and word boundaries (`Intl.Segmenter`). Default: the runtime's. */
  locale?: string
}

/** Options of {@link chunkRecursive}. */
export interface RecursiveChunkOptions extends ChunkUnitOptions {
  /** Largest chunk in `unit`s, ≥ 1. */
  maxSize: number
  /**
   * At most this many `unit`s repeated from the end of one chunk at the start of the next, as whole
   * sentences where they fit; 0 ≤ overlap < maxSize. Default 0.
   */
  overlap?: number
  /**
   * Structural separators, strongest first, replacing {@link DEFAULT_CHUNK_SEPARATORS}. A string or
   * RegExp marks a cut right after each match (so the separator ends the piece before it; use a
   * lookahead such as `/\n(?=---)/` to cut before something). Sentence and word boundaries, then
   * single characters, always follow as finer fallbacks.
   */
  separators?: ReadonlyArray<string | RegExp>
  /** BCP 47 locale for sentence and word boundaries (`Intl.Segmenter`). Default: the runtime's. */
  locale?: string
}

/** The strategies {@link chunk} dispatches to. */
export type ChunkStrategy = 'fixed' | 'sentence' | 'recursive'

/** Options of {@link chunk}: a strategy and that strategy's options. */
export type ChunkOptions =
  | ({ strategy: 'fixed' } & FixedChunkOptions)
  | ({ strategy: 'sentence' } & SentenceChunkOptions)
  | ({ strategy: 'recursive' } & RecursiveChunkOptions)
