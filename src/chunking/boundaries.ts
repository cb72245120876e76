/**
 * Candidate cut positions of a document, each with a rank: 0 is the strongest structure (a
 * top-level heading, say), larger numbers are finer (paragraph, line, sentence, word). The packer
 * (pack.ts) cuts each chunk at the strongest boundary that fits, so this is the whole "hierarchy":
 * the recursive strategy's separators, sentence boundaries and word boundaries are all computed once
 * over the full text (linear time), instead of re-splitting pieces level by level.
 *
 * A cut at position `p` means: the previous chunk may end at `p` (minus trailing whitespace, see
 * `contentEnd`) and the next one starts at `p` (minus leading whitespace).
 */
import { isWhitespace } from './text.js'

/** Rank of the end of the document: stronger than any boundary inside it. */
export const END_RANK = -1

/** Ranks are stored in a byte; 255 marks "no boundary here". */
const NONE = 255
/** Most separators a caller may pass, so every rank fits below {@link NONE}. */
export const MAX_SEPARATORS = 200

export interface BoundarySpec {
  /** Structural separators, strongest first: ranks 0 … separators.length − 1. */
  separators: ReadonlyArray<string | RegExp>
  /** Sentence boundaries from `Intl.Segmenter`, ranked after the separators. */
  sentences: boolean
  /** Word boundaries from `Intl.Segmenter`, ranked after sentences. */
  words: boolean
  /**
   * Markdown-aware: a cut right after a heading line is demoted below word boundaries (so a heading
   * stays with the text under it whenever anything else can be cut), and cuts followed by a heading
   * line are flagged (the packer carries no overlap into a new section). Inside fenced code blocks
   * (``` or ~~~) a `#` line is a comment, not a heading: cuts before one are capped at the finest
   * separator's rank, and such lines neither demote nor flag cuts.
   */
  headings: boolean
  locale?: string | undefined
}

export interface Boundaries {
  /** Cut positions, ascending, in (0, n]; the last is always n, ranked {@link END_RANK}. */
  readonly pos: Int32Array
  readonly rank: Int16Array
  /** The rank before heading demotion: how strong the cut is as a place to start a chunk. */
  readonly baseRank: Int16Array
  /** One past the last non-whitespace code unit before each cut (where a chunk ending there ends). */
  readonly contentEnd: Int32Array
  /** Whether the text after each cut starts with a Markdown heading line. */
  readonly beforeHeading: Uint8Array
  /** Rank of a cut that falls back to a window's end (between characters or tokens): the weakest. */
  readonly charRank: number
  readonly sentenceRank: number
}

/** `#` … `######` plus a space or end of line, after at most three spaces of indentation (CommonMark). */
const HEADING_LINE = /[ \t]{0,3}#{1,6}(?:[ \t]|\r?\n|$)/y
/** A code fence line: ``` or ~~~ after at most three spaces. */
const FENCE_LINE = /[ \t]{0,3}(?:```|~~~)/y

function isHeadingLineAt(text: string, pos: number): boolean {
  HEADING_LINE.lastIndex = pos
  return HEADING_LINE.test(text)
}

function isFenceLineAt(text: string, pos: number): boolean {
  FENCE_LINE.lastIndex = pos
  return FENCE_LINE.test(text)
}

/**
 * Builds the separator hierarchy suited to Markdown and plain text: headings by depth (a cut before
 * `#`, then before `#`/`##`, …, so a document splits by its top-level sections first), blank lines
 * (paragraphs), then single line breaks. Each cuts after the newline, so a heading starts its piece
 * and line breaks end the piece before them. CRLF works: `\r` is whitespace and is trimmed.
 */
function defaultSeparators(): RegExp[] {
  const levels: RegExp[] = []
  for (let depth = 1; depth <= 6; depth++) {
    levels.push(new RegExp(`\\n(?=[ \\t]{0,3}#{1,${depth}}(?:[ \\t]|\\r?\\n|$))`, 'g'))
  }
  levels.push(/\n(?:[ \t]*\r?\n)+/g, /\n/g)
  return levels
}

/** The default structural separators of `chunkRecursive`: Markdown headings H1…H6, blank lines, line breaks. */
export const DEFAULT_CHUNK_SEPARATORS: readonly RegExp[] = Object.freeze(defaultSeparators())

function markSeparator(text: string, sep: string | RegExp, rank: number, ranks: Uint8Array): void {
  const n = text.length
  const mark = (cut: number): void => {
    // Cuts at the very ends add nothing; a cut inside a surrogate pair would split a character.
    if (cut <= 0 || cut >= n) return
    const c = text.charCodeAt(cut)
    if (c >= 0xdc00 && c <= 0xdfff && (text.charCodeAt(cut - 1) & 0xfc00) === 0xd800) return
    if (rank < (ranks[cut] as number)) ranks[cut] = rank
  }
  if (typeof sep === 'string') {
    // Non-overlapping occurrences, like String.prototype.split; validation guarantees sep !== ''.
    for (let i = text.indexOf(sep); i >= 0; i = text.indexOf(sep, i + sep.length)) mark(i + sep.length)
    return
  }
  // A private global copy: the caller's RegExp (and its lastIndex) is never touched.
  const flags = sep.flags.replace(/[gy]/g, '') + 'g'
  const re = new RegExp(sep.source, flags)
  const unicode = re.unicode || flags.includes('v')
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    mark(m.index + m[0].length)
    // An empty match (a bare lookahead) leaves lastIndex in place: step over one character so the
    // scan always advances, one code point at a time under the u/v flags.
    if (m[0].length === 0) re.lastIndex = m.index + (unicode ? Math.max(1, codePointUnits(text, m.index)) : 1)
  }
}

function codePointUnits(text: string, pos: number): number {
  const cp = text.codePointAt(pos)
  return cp !== undefined && cp > 0xffff ? 2 : 1
}

export function findBoundaries(text: string, spec: BoundarySpec): Boundaries {
  const n = text.length
  const ranks = new Uint8Array(n + 1).fill(NONE)
  const separators = spec.separators
  separators.forEach((sep, i) => markSeparator(text, sep, i, ranks))
  const sentenceRank = separators.length
  const wordRank = sentenceRank + 1
  // Below words, above characters: see BoundarySpec.headings.
  const demotedRank = wordRank + 1
  const charRank = demotedRank + 1

  if (spec.sentences) {
    for (const at of segmentStarts(text, 'sentence', spec.locale, false)) {
      if (sentenceRank < (ranks[at] as number)) ranks[at] = sentenceRank
    }
  }
  if (spec.words) {
    // A cut before each word-like segment: punctuation and spaces stay with the word before them,
    // and scripts written without spaces (Chinese, Japanese, Thai) still get word boundaries.
    for (const at of segmentStarts(text, 'word', spec.locale, true)) {
      if (wordRank < (ranks[at] as number)) ranks[at] = wordRank
    }
  }

  let count = 1 // the end of the document
  for (let p = 1; p < n; p++) if (ranks[p] !== NONE) count++
  const pos = new Int32Array(count)
  const rank = new Int16Array(count)
  const baseRank = new Int16Array(count)
  const contentEnd = new Int32Array(count)
  const beforeHeading = new Uint8Array(count)

  // One forward pass computes, for every cut, where the content before it ends and whether that
  // content ends on a heading line, tracking the current line (and whether it is inside a code
  // fence) as it goes: linear, no back-scans.
  const finest = separators.length - 1
  let i = 0
  let lastNonWs = -1
  let lastNonWsOnHeading = false
  let inFence = spec.headings && isFenceLineAt(text, 0)
  let lineIsHeading = spec.headings && !inFence && isHeadingLineAt(text, 0)
  let ahead = 0 // first non-whitespace index at or after the current cut; only ever moves forward
  let k = 0
  const visit = (p: number, r0: number): void => {
    for (; i < p; i++) {
      const c = text.charCodeAt(i)
      if (c === 0x0a) {
        if (spec.headings) {
          // A fence line opens or closes a block; the lines between are code.
          if (isFenceLineAt(text, i + 1)) inFence = !inFence
          lineIsHeading = !inFence && isHeadingLineAt(text, i + 1)
        }
      } else if (!isWhitespace(c)) {
        lastNonWs = i
        lastNonWsOnHeading = lineIsHeading
      }
    }
    let r = r0
    if (spec.headings && inFence && r >= 0 && r < finest && isHeadingLineAt(text, p)) r = finest
    pos[k] = p
    contentEnd[k] = lastNonWs + 1
    baseRank[k] = r
    rank[k] = spec.headings && lastNonWsOnHeading && r !== END_RANK ? demotedRank : r
    if (spec.headings && p < n) {
      if (ahead < p) ahead = p
      while (ahead < n && isWhitespace(text.charCodeAt(ahead))) ahead++
      beforeHeading[k] = !inFence && ahead < n && startsHeadingLine(text, ahead) ? 1 : 0
    }
    k++
  }
  for (let p = 1; p < n; p++) if (ranks[p] !== NONE) visit(p, ranks[p] as number)
  visit(n, END_RANK)
  return { pos, rank, baseRank, contentEnd, beforeHeading, charRank, sentenceRank }
}

/** Text handed to Intl.Segmenter at once: see {@link segmentStarts}. */
const SEGMENT_WINDOW = 4096
/** Longest a window may grow while looking for a safe place to end it. */
const SEGMENT_WINDOW_MAX = 65536

/**
 * Start offsets (> 0) of the segments `Intl.Segmenter` finds, optionally only word-like ones.
 *
 * V8's segment iterator slows down with the length of the string it walks (iterating a 200 kB
 * document word by word takes seconds), so the text is segmented in windows of a few kB, each
 * ended where segmentation cannot change: after a line break for sentences (Unicode sentence
 * rules always break after one), after whitespace for words. A line longer than 64 kB is cut at
 * whitespace anyway, which may add one spurious sentence boundary per 64 kB.
 */
function* segmentStarts(
  text: string,
  granularity: 'sentence' | 'word',
  locale: string | undefined,
  wordLikeOnly: boolean,
): Generator<number> {
  const segmenter = new Intl.Segmenter(locale, { granularity })
  const n = text.length
  const safeAfter = (c: number): boolean => (granularity === 'sentence' ? c === 0x0a : isWhitespace(c))
  let from = 0
  // Each pass advances `from` by at least one window's worth or to the end: bounded by n / 4096.
  while (from < n) {
    let to = Math.min(n, from + SEGMENT_WINDOW)
    while (to < n && to - from < SEGMENT_WINDOW_MAX && !safeAfter(text.charCodeAt(to - 1))) to++
    if (to < n && !safeAfter(text.charCodeAt(to - 1))) {
      // No line break in 64 kB: settle for whitespace, then for any place between code points.
      let ws = to
      while (ws > from + SEGMENT_WINDOW && !isWhitespace(text.charCodeAt(ws - 1))) ws--
      to = ws > from + SEGMENT_WINDOW ? ws : safeCutAt(text, to)
    }
    for (const seg of segmenter.segment(text.slice(from, to))) {
      const at = from + seg.index
      if (at > 0 && (!wordLikeOnly || seg.isWordLike === true)) yield at
    }
    // The window's end is itself a segment start (unless it is the end of the text).
    from = to
  }
}

/** `pos` moved back off the low half of a surrogate pair. */
function safeCutAt(text: string, pos: number): number {
  const c = text.charCodeAt(pos)
  return c >= 0xdc00 && c <= 0xdfff && (text.charCodeAt(pos - 1) & 0xfc00) === 0xd800 ? pos - 1 : pos
}

/** Whether the first non-whitespace character at `p` opens a heading line (`#` at a line start). */
function startsHeadingLine(text: string, p: number): boolean {
  let q = p
  while (q > 0 && p - q < 4 && (text.charCodeAt(q - 1) === 0x20 || text.charCodeAt(q - 1) === 0x09)) q--
  return (q === 0 || text.charCodeAt(q - 1) === 0x0a) && isHeadingLineAt(text, q)
}

/** Index of the first cut whose position is greater than `x` (binary search). */
export function firstAfter(b: Boundaries, x: number): number {
  let lo = 0
  let hi = b.pos.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((b.pos[mid] as number) > x) hi = mid
    else lo = mid + 1
  }
  return lo
}
