/**
 * Sentence packing: whole sentences (Unicode sentence boundaries from `Intl.Segmenter`, which knows
 * CJK full stops and line breaks) are packed greedily up to `maxSize`. A sentence longer than
 * `maxSize` on its own is split at word boundaries, and a word longer than that between characters
 * (or tokens), so no chunk is ever oversize; the chunk after such pieces starts at the next sentence.
 */
import { findBoundaries } from './boundaries.js'
import type { Measure } from './measure.js'
import { checkInt, checkLocale, checkObject } from './options.js'
import { pack, type Span } from './pack.js'

export interface SentencePlan {
  maxSize: number
  overlapSentences: number
  locale: string | undefined
}

export function checkSentence(fn: string, options: unknown): { plan: SentencePlan; o: Record<string, unknown> } {
  const o = checkObject(fn, options, ['maxSize', 'overlapSentences', 'locale'])
  const maxSize = checkInt(fn, 'maxSize', o.maxSize, 1, Number.MAX_SAFE_INTEGER)
  const overlapSentences = checkInt(fn, 'overlapSentences', o.overlapSentences, 0, Number.MAX_SAFE_INTEGER, 0)
  return { plan: { maxSize, overlapSentences, locale: checkLocale(fn, o.locale) }, o }
}

export function sentenceSpans(text: string, measure: Measure, plan: SentencePlan): Span[] {
  const bounds = findBoundaries(text, { separators: [], sentences: true, words: true, headings: false, locale: plan.locale })
  return pack({
    text,
    measure,
    max: plan.maxSize,
    bounds,
    overlap:
      plan.overlapSentences > 0
        ? { kind: 'boundaries', count: plan.overlapSentences, rank: bounds.sentenceRank }
        : { kind: 'none' },
    headings: false,
  })
}
