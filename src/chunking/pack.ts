/**
 * The packer behind `chunkSentences` and `chunkRecursive`: given ranked cut positions
 * (boundaries.ts) and a measure (measure.ts), it emits chunks of at most `max` units, each ending at
 * the strongest boundary that fits — and among equally strong ones the latest, so small pieces merge
 * up to the limit. Finer boundaries are used only when no stronger one fits, and a window's end
 * (between characters or tokens) only when no boundary at all fits, so an over-long sentence or
 * word is split rather than producing an oversize chunk.
 *
 * Two rules keep document structure, as a level-by-level recursive splitter would:
 * - a chunk never runs past a boundary stronger than the one it started at ("hard limit"): a chunk
 *   that began mid-paragraph ends at that paragraph's end at the latest, so the remainder of an
 *   over-long piece is never glued to the start of the next section;
 * - overlap (the tail of one chunk repeated at the start of the next) is taken at boundaries, never
 *   reaches back over a stronger boundary than the cut, and is given up when it would force the next
 *   chunk to end at a weaker boundary than it could without it. It is added only where chunks meet
 *   at a sentence boundary or stronger: inside an over-long sentence, overlap would only repeat
 *   fragments, and every fragment would start another fragment.
 */
import { type Boundaries, END_RANK, firstAfter } from './boundaries.js'
import type { Measure } from './measure.js'
import { safeCut, skipWhitespace, trimEnd } from './text.js'

export type OverlapPolicy =
  | { kind: 'none' }
  /** At most `max` units, starting at a boundary; prefers the strongest boundary, then the longest tail. */
  | { kind: 'units'; max: number }
  /** The last `count` whole sentences (boundaries of rank ≤ `rank`), fewer when they leave no room. */
  | { kind: 'boundaries'; count: number; rank: number }

export interface PackOptions {
  text: string
  measure: Measure
  max: number
  bounds: Boundaries
  overlap: OverlapPolicy
  /** Give no overlap to a chunk that starts with a Markdown heading, and never reach back over one. */
  headings: boolean
}

export interface Span {
  start: number
  end: number
}

/** Where one chunk ends. */
interface Pick {
  /** The cut: the next chunk's new content starts at the first non-whitespace from here. */
  cut: number
  /** The chunk's end offset (the cut minus trailing whitespace). */
  contentEnd: number
  rank: number
  /** Index of the cut in the boundaries, or −1 for a cut at a window's end. */
  boundary: number
}

/** Overlap starts tried per chunk before giving up on overlap for it. */
const MAX_OVERLAP_TRIES = 4
/** Windows re-measured per chunk when a token count exceeds the limit at a chosen boundary. */
const MAX_SHRINKS = 32

export function pack(o: PackOptions): Span[] {
  const { text, measure, max, bounds } = o
  const n = text.length
  const spans: Span[] = []

  /**
   * The best end for a chunk starting at `start` whose new content starts at `logical` (equal,
   * unless the chunk begins with overlap), or null when the window cannot reach past `logical`.
   */
  const selectEnd = (start: number, logical: number, startRank: number): Pick | null => {
    let windowEnd = measure.fit(start, max)
    for (let shrink = 0; shrink < MAX_SHRINKS && windowEnd > logical; shrink++) {
      const pick = scan(start, logical, startRank, windowEnd)
      // Characters add up exactly; tokens are re-counted on the exact text the chunk will hold,
      // since a prefix of a token window can tokenise into more tokens than the window itself.
      if (measure.unit === 'characters' || measure.size(start, pick.contentEnd) <= max) return pick
      windowEnd = safeCut(text, pick.contentEnd - 1)
    }
    if (start !== logical) return null
    // Shrinking ran out (it never does on real text): cut at the verified window's end.
    const end = measure.fit(start, max)
    return { cut: end, contentEnd: trimEnd(text, start, end), rank: bounds.charRank, boundary: -1 }
  }

  const scan = (start: number, logical: number, startRank: number, windowEnd: number): Pick => {
    let best = -1
    let bestRank = Number.POSITIVE_INFINITY
    for (let i = firstAfter(bounds, logical); i < bounds.pos.length; i++) {
      if ((bounds.contentEnd[i] as number) > windowEnd) break
      const r = bounds.rank[i] as number
      // `<=`: among equally strong boundaries the latest wins, packing as much as fits.
      if (r <= bestRank) {
        best = i
        bestRank = r
      }
      if (r < startRank) break // the hard limit: see the module comment
    }
    if (best < 0) {
      return { cut: windowEnd, contentEnd: trimEnd(text, start, windowEnd), rank: bounds.charRank, boundary: -1 }
    }
    return { cut: bounds.pos[best] as number, contentEnd: bounds.contentEnd[best] as number, rank: bestRank, boundary: best }
  }

  /** Candidate starts for the chunk after `prev` (which spans `prevStart`…), best first. */
  const overlapStarts = (prevStart: number, prev: Pick): number[] => {
    const policy = o.overlap
    if (policy.kind === 'none' || prev.rank > bounds.sentenceRank) return []
    if (o.headings && prev.boundary >= 0 && bounds.beforeHeading[prev.boundary] === 1) return []
    const end = prev.contentEnd
    // Boundaries strictly inside the previous chunk, latest first (shortest tail first).
    const tails: { start: number; rank: number }[] = []
    for (let i = firstAfter(bounds, prevStart); i < bounds.pos.length && (bounds.pos[i] as number) < end; i++) {
      const s = skipWhitespace(text, bounds.pos[i] as number, end)
      // The undemoted rank: a tail may well start right after a heading line.
      if (s < end) tails.push({ start: s, rank: bounds.baseRank[i] as number })
      // Reaching back over a heading would repeat the end of the previous section: start after it.
      if (o.headings && bounds.beforeHeading[i] === 1) tails.length = 0
    }
    tails.reverse()

    if (policy.kind === 'boundaries') {
      const sentences = tails.filter((t) => t.rank <= policy.rank)
      const starts: number[] = []
      for (let k = Math.min(policy.count, sentences.length); k >= 1; k--) starts.push((sentences[k - 1] as { start: number }).start)
      return starts.slice(0, MAX_OVERLAP_TRIES)
    }

    // Units: tails within the budget that cross no boundary stronger than the cut itself.
    const usable: { start: number; rank: number }[] = []
    for (const t of tails) {
      usable.push(t)
      if (t.rank < prev.rank) break
    }
    // Tail sizes grow as starts move back; find the longest tail within the budget by binary
    // search (O(log n) token counts instead of one per boundary), then verify the ones offered.
    let lo = 0
    let hi = usable.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (measure.size((usable[mid] as { start: number }).start, end) <= policy.max) lo = mid + 1
      else hi = mid
    }
    const fitting = usable.slice(0, lo).sort((a, b) => a.rank - b.rank || a.start - b.start)
    // Whole sentences (or larger pieces) when any fit the budget; a run of words only when the last
    // sentence alone is longer than the budget. A word-level start is never a fallback for
    // sentences that fit but leave no room: that would only trade a clean overlap for a fragment.
    const whole = fitting.filter((t) => t.rank <= bounds.sentenceRank)
    // The binary search assumed sizes grow monotonically, which BPE does not promise: verify each
    // start offered, stopping at the few that will be tried (each check may encode text).
    const starts: number[] = []
    for (const t of whole.length > 0 ? whole : fitting) {
      if (starts.length >= MAX_OVERLAP_TRIES) break
      if (measure.size(t.start, end) <= policy.max) starts.push(t.start)
    }
    return starts
  }

  let logical = skipWhitespace(text, 0)
  let startRank = END_RANK // the document start: no boundary is stronger, so no hard limit
  let prev: { start: number; pick: Pick } | undefined
  // Every pass moves `logical` strictly forward (see below), so there are at most n passes; the
  // explicit bound turns a logic error into an exception instead of a hung process.
  for (let pass = 0; logical < n; pass++) {
    if (pass > n) throw new Error('ferrovec chunking made no progress (internal error)')
    const base = selectEnd(logical, logical, startRank) as Pick
    let start = logical
    let pick = base
    if (prev !== undefined) {
      // Overlap must not make the chunk end at a weaker boundary than it could without it. Ending
      // at the document's end counts as ending at the level the chunk started at: a final chunk
      // may then take overlap and leave its last piece to one more chunk, but never split a piece
      // finer than the cut it started from.
      const floor = base.rank === END_RANK ? startRank : base.rank
      for (const s of overlapStarts(prev.start, prev.pick)) {
        const p = selectEnd(s, logical, startRank)
        if (p !== null && (p.rank === END_RANK || (p.rank <= floor && p.rank <= bounds.sentenceRank))) {
          start = s
          pick = p
          break
        }
      }
    }
    spans.push({ start, end: pick.contentEnd })
    prev = { start, pick }
    startRank = pick.rank
    // contentEnd > logical (a cut after `logical`'s non-whitespace character), so this advances.
    const next = skipWhitespace(text, Math.max(pick.cut, pick.contentEnd))
    if (next <= logical) throw new Error('ferrovec chunking made no progress (internal error)')
    logical = next
  }
  return spans
}
