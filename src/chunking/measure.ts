/**
 * Measuring spans of one document in characters or in tokens. Every strategy goes through a
 * {@link Measure}, so the packing logic is the same whatever the unit.
 *
 * Tokens are measured with the project's {@link Tokenizer} (`count` and `truncate`, from
 * src/embed/tokens.ts), which any tokenizer can implement. A token window is found by asking the
 * tokenizer for the longest prefix of at most `max` tokens: that prefix ends on a token boundary of
 * the window's own tokenization — the tokenization an embedding model will apply to the chunk — and
 * its length in UTF-16 code units is the window's end offset. No byte ↔ character bookkeeping is
 * needed, and a token that ends inside a multi-byte character (emoji and rare CJK characters take
 * several byte-level tokens) is dropped by `truncate`, so windows end on whole characters.
 */
import type { Tokenizer } from '../embed/tokens.js'
import type { ChunkUnit } from './types.js'
import { codePointLength, commonPrefixLength, safeCut } from './text.js'

export interface Measure {
  readonly unit: ChunkUnit
  /** Size of `text.slice(start, end)`. */
  size(start: number, end: number): number
  /**
   * The largest `end` such that `size(start, end) ≤ max`, on a code-point boundary. Always past
   * `start` when text remains: if a single code point is larger than `max` (an emoji is up to four
   * tokens; a surrogate pair is two code units), the window holds just that code point, because a
   * code point cannot be split.
   */
  fit(start: number, max: number): number
}

export function characterMeasure(text: string): Measure {
  return {
    unit: 'characters',
    size: (start, end) => end - start,
    fit: (start, max) => {
      if (start >= text.length) return text.length
      const end = safeCut(text, Math.min(text.length, start + max))
      return end > start ? end : start + codePointLength(text, start)
    },
  }
}

export function tokenMeasure(text: string, tokenizer: Tokenizer): Measure {
  const n = text.length
  // The packer re-measures the same spans (a chunk is verified when chosen and counted again for
  // its tokenCount), and encoding is the cost that matters, so counts are memoised per span. The
  // numeric key is exact while start·(n+1)+end stays below 2^53, i.e. for documents under ~90M
  // code units; longer ones simply skip the memo. Cleared when large to bound memory.
  const memo = new Map<number, number>()
  const memoOk = n < 90_000_000
  const size = (start: number, end: number): number => {
    if (end <= start) return 0
    const key = start * (n + 1) + end
    const hit = memoOk ? memo.get(key) : undefined
    if (hit !== undefined) return hit
    const count = tokenizer.count(text.slice(start, end))
    if (memoOk) {
      if (memo.size >= 4096) memo.clear()
      memo.set(key, count)
    }
    return count
  }

  // The longest prefix of `slice` within `max` tokens, as a code-unit length. `truncate` returns a
  // decoded prefix; comparing it with the slice (rather than trusting its length) keeps the offset
  // exact even when decoding does not round-trip (a lone surrogate in the input becomes U+FFFD).
  const prefixWithin = (start: number, slice: string, max: number): number => {
    // Bounded: each pass either returns or lowers `want`; a prefix of `want` tokens re-counted
    // can exceed `want` when BPE merges differently at the cut, so shrink until it is within `max`.
    for (let want = max; want >= 1; want--) {
      const prefix = tokenizer.truncate(slice, want)
      // `truncate` returns its input unchanged when it is already within the limit.
      if (prefix === slice) return slice.length
      const len = safeCut(slice, commonPrefixLength(prefix, slice))
      // Counted through the memo: the caller usually measures this very window next.
      if (len === 0 || size(start, start + len) <= max) return len
    }
    return 0
  }

  // Code units per token seen so far in this document, to size the next look-ahead: English runs
  // about 4, CJK about 1. Looking far past the window costs more than it seems, because BPE time
  // grows with the square of an unbroken run's length (a CJK line, a base64 blob).
  let unitsPerToken = 4
  return {
    unit: 'tokens',
    size,
    fit: (start, max) => {
      if (start >= n) return n
      // Look at a bounded slice rather than the rest of the document, doubling it while the whole
      // slice fits: then more text might fit too. Terminates because the slice grows to the end.
      let look = Math.ceil(max * unitsPerToken * 1.25) + 16
      for (;;) {
        const end = safeCut(text, Math.min(n, start + look))
        const slice = text.slice(start, end)
        const len = prefixWithin(start, slice, max)
        if (len === slice.length && end < n) {
          look *= 2
          continue
        }
        if (len > 0 && len < slice.length) unitsPerToken = Math.max(0.5, Math.min(16, len / max))
        return len > 0 ? start + len : start + codePointLength(text, start)
      }
    },
  }
}
