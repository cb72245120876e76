/**
 * Structure-first chunking: Markdown headings → paragraphs → lines → sentences → words →
 * characters. Each chunk ends at the strongest of these boundaries that fits in `maxSize`, so small
 * sections and paragraphs merge up to the limit and big ones are split at the next finer level — the
 * behaviour of LangChain's RecursiveCharacterTextSplitter, computed in one pass over ranked
 * boundaries (see pack.ts) so that every chunk keeps exact offsets. A heading stays with the text
 * under it whenever the two fit together, and no overlap is carried into a chunk that starts a
 * new section.
 */
import { DEFAULT_CHUNK_SEPARATORS, findBoundaries } from './boundaries.js'
import type { Measure } from './measure.js'
import { checkInt, checkLocale, checkObject, checkSeparators } from './options.js'
import { pack, type Span } from './pack.js'

export interface RecursivePlan {
  maxSize: number
  overlap: number
  separators: ReadonlyArray<string | RegExp>
  locale: string | undefined
}

export function checkRecursive(fn: string, options: unknown): { plan: RecursivePlan; o: Record<string, unknown> } {
  const o = checkObject(fn, options, ['maxSize', 'overlap', 'separators', 'locale'])
  const maxSize = checkInt(fn, 'maxSize', o.maxSize, 1, Number.MAX_SAFE_INTEGER)
  const overlap = checkInt(fn, 'overlap', o.overlap, 0, maxSize - 1, 0)
  const separators = checkSeparators(fn, o.separators) ?? DEFAULT_CHUNK_SEPARATORS
  return { plan: { maxSize, overlap, separators, locale: checkLocale(fn, o.locale) }, o }
}

export function recursiveSpans(text: string, measure: Measure, plan: RecursivePlan): Span[] {
  const bounds = findBoundaries(text, {
    separators: plan.separators,
    sentences: true,
    words: true,
    headings: true,
    locale: plan.locale,
  })
  return pack({
    text,
    measure,
    max: plan.maxSize,
    bounds,
    overlap: plan.overlap > 0 ? { kind: 'units', max: plan.overlap } : { kind: 'none' },
    headings: true,
  })
}
