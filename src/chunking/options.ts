/**
 * Validation of chunking options, and the tokenizer they resolve to. Every failure is an
 * `InvalidInputError` with code `ERR_INVALID_ARGUMENT` whose message names the function, the option,
 * what was expected and what was given, so a typo (`chunkSize` for `maxSize`) fails loudly instead
 * of silently chunking with defaults.
 */
import { InvalidInputError } from '../errors.js'
import { type EncodingName, loadTokenizer, type Tokenizer } from '../embed/tokens.js'
import { MAX_SEPARATORS } from './boundaries.js'
import type { ChunkUnit } from './types.js'

const UNITS: readonly ChunkUnit[] = ['characters', 'tokens']
const ENCODINGS: readonly EncodingName[] = ['cl100k_base', 'o200k_base']
const UNIT_KEYS = ['unit', 'encoding', 'tokenizer'] as const

export function fail(fn: string, message: string): InvalidInputError {
  return new InvalidInputError('ERR_INVALID_ARGUMENT', `${fn}: ${message}`)
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

export function checkText(fn: string, text: unknown): asserts text is string {
  if (typeof text !== 'string') throw fail(fn, `text must be a string, got ${typeof text === 'object' ? show(text) : typeof text}`)
}

/** Checks `options` is an object with only the named keys (plus the unit options) and returns it. */
export function checkObject(fn: string, options: unknown, keys: readonly string[]): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw fail(fn, `options must be an object, got ${show(options)}`)
  }
  const allowed = new Set<string>([...keys, ...UNIT_KEYS])
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) throw fail(fn, `unknown option ${JSON.stringify(key)}; expected one of ${[...allowed].join(', ')}`)
  }
  return options as Record<string, unknown>
}

/** An integer in [min, max]; `undefined` gives `fallback` when there is one. */
export function checkInt(fn: string, name: string, value: unknown, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}…${max}`
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw fail(fn, `options.${name} must be an integer ${range}, got ${show(value)}`)
  }
  return value
}

export function checkLocale(fn: string, locale: unknown): string | undefined {
  if (locale === undefined) return undefined
  if (typeof locale !== 'string' || locale === '') {
    throw fail(fn, `options.locale must be a BCP 47 language tag such as "en" or "zh-Hans", got ${show(locale)}`)
  }
  try {
    // Intl.Segmenter throws RangeError for a malformed tag; it falls back silently for unknown ones.
    new Intl.Segmenter(locale)
  } catch {
    throw fail(fn, `options.locale ${JSON.stringify(locale)} is not a valid BCP 47 language tag`)
  }
  return locale
}

export function checkSeparators(fn: string, value: unknown): ReadonlyArray<string | RegExp> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw fail(fn, `options.separators must be an array of strings and RegExps, got ${show(value)}`)
  if (value.length > MAX_SEPARATORS) throw fail(fn, `options.separators may hold at most ${MAX_SEPARATORS} entries, got ${value.length}`)
  value.forEach((sep: unknown, i) => {
    const ok = (typeof sep === 'string' && sep !== '') || sep instanceof RegExp
    if (!ok) throw fail(fn, `options.separators[${i}] must be a non-empty string or a RegExp, got ${show(sep)}`)
  })
  return value as ReadonlyArray<string | RegExp>
}

/** The validated unit options; `needsTokenizer` when a tokenizer must be found (unit or encoding). */
export interface UnitChoice {
  unit: ChunkUnit
  encoding: EncodingName
  tokenizer: Tokenizer | undefined
  needsTokenizer: boolean
}

export function checkUnit(fn: string, o: Record<string, unknown>): UnitChoice {
  const unit = o.unit ?? 'characters'
  if (!UNITS.includes(unit as ChunkUnit)) throw fail(fn, `options.unit must be "characters" or "tokens", got ${show(unit)}`)
  const encoding = o.encoding ?? 'cl100k_base'
  if (!ENCODINGS.includes(encoding as EncodingName)) {
    throw fail(fn, `options.encoding must be one of ${ENCODINGS.join(', ')}, got ${show(encoding)}`)
  }
  const tokenizer = o.tokenizer
  if (tokenizer !== undefined) {
    const t = tokenizer as Partial<Tokenizer> | null
    if (t === null || typeof t !== 'object' || typeof t.count !== 'function' || typeof t.truncate !== 'function') {
      const expected = 'count(text) and truncate(text, maxTokens) methods (see loadTokenizer)'
      throw fail(fn, `options.tokenizer must have ${expected}, got ${show(tokenizer)}`)
    }
    if (o.encoding !== undefined) throw fail(fn, 'pass options.tokenizer or options.encoding, not both')
  }
  return {
    unit: unit as ChunkUnit,
    encoding: encoding as EncodingName,
    tokenizer: tokenizer as Tokenizer | undefined,
    needsTokenizer: unit === 'tokens' || o.encoding !== undefined || tokenizer !== undefined,
  }
}

/** The tokenizer to use, loading the encoding when none was passed. */
export async function resolveTokenizer(choice: UnitChoice): Promise<Tokenizer | undefined> {
  if (!choice.needsTokenizer) return undefined
  return choice.tokenizer ?? loadTokenizer(choice.encoding)
}

/** The tokenizer to use without waiting: the `…Sync` functions cannot load one. */
export function resolveTokenizerSync(fn: string, choice: UnitChoice): Tokenizer | undefined {
  if (!choice.needsTokenizer) return undefined
  if (choice.tokenizer === undefined) {
    const async = fn.replace(/Sync$/, '')
    const load = `const tokenizer = await loadTokenizer(${JSON.stringify(choice.encoding)})`
    throw fail(fn, `counting tokens needs options.tokenizer here (${load}), or call ${async}() which loads it`)
  }
  return choice.tokenizer
}
