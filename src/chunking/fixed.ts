/**
 * Fixed-size windows with overlap: the simplest strategy, and the one whose sizes are exact. Each
 * window holds `size` units (characters or tokens) and starts `size − overlap` units after the
 * previous one, so consecutive windows share `overlap` units. Windows ignore structure: use
 * `chunkSentences` or `chunkRecursive` to cut at sentence or section boundaries instead.
 */
import type { Measure } from './measure.js'
import { checkInt, checkObject } from './options.js'
import type { Span } from './pack.js'
import { safeCut, skipWhitespace, trimEnd } from './text.js'

export interface FixedPlan {
  size: number
  overlap: number
}

export function checkFixed(fn: string, options: unknown): { plan: FixedPlan; o: Record<string, unknown> } {
  const o = checkObject(fn, options, ['size', 'overlap'])
  const size = checkInt(fn, 'size', o.size, 1, Number.MAX_SAFE_INTEGER)
  const overlap = checkInt(fn, 'overlap', o.overlap, 0, size - 1, 0)
  return { plan: { size, overlap }, o }
}

export function fixedSpans(text: string, measure: Measure, plan: FixedPlan): Span[] {
  const n = text.length
  const spans: Span[] = []
  let start = 0
  // Each pass moves `start` strictly forward (guarded below), so at most n passes.
  for (let pass = 0; start < n; pass++) {
    if (pass > n) throw new Error('ferrovec chunking made no progress (internal error)')
    // A window starts at its first non-whitespace character, and is measured from there: trimming
    // a token window's leading space afterwards could make it *more* tokens (" turns" is one
    // cl100k token, "turns" two), so the window is cut from the text it will actually hold.
    const s = skipWhitespace(text, start)
    if (s >= n) break
    const end = measure.fit(s, plan.size)
    let e = trimEnd(text, s, end)
    // Dropping trailing whitespace removes whole pre-tokenizer pieces under tiktoken, but another
    // tokenizer might merge differently; re-count and narrow until within the size (bounded).
    if (measure.unit === 'tokens') {
      for (let want = plan.size - 1; want >= 1 && measure.size(s, e) > plan.size; want--) e = trimEnd(text, s, measure.fit(s, want))
    }
    // A window adding nothing past the previous chunk (whitespace at its far edge) is not a chunk.
    const last = spans[spans.length - 1]
    if (last === undefined || e > last.end) spans.push({ start: s, end: e })
    if (end >= n) break
    start = nextStart(text, measure, plan, s, end)
  }
  return spans
}

/** Where the window after [start, end) begins: `overlap` units before `end`, on a whole character. */
function nextStart(text: string, measure: Measure, plan: FixedPlan, start: number, end: number): number {
  let next: number
  if (plan.overlap === 0) {
    next = end
  } else if (measure.unit === 'characters') {
    next = end - plan.overlap
    // Inside a surrogate pair: step forward over the low half (one unit less overlap) rather than
    // back (one more than asked for).
    if (safeCut(text, next) !== next) next += 1
  } else {
    // The window's first (tokens − overlap) tokens: the next window starts on a token boundary of
    // this one, so the two share its last `overlap` tokens.
    const tokens = measure.size(start, end)
    next = tokens > plan.overlap ? Math.min(end, measure.fit(start, tokens - plan.overlap)) : end
  }
  // A window of a single code point (size smaller than that character) cannot overlap and advance.
  return next > start ? next : end
}
