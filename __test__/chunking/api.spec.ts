// The dispatcher, the sync/async twins, custom tokenizers, empty input and option validation.
import test from 'ava'
import {
  chunk,
  chunkFixed,
  chunkFixedSync,
  chunkRecursive,
  chunkRecursiveSync,
  chunkSentences,
  chunkSentencesSync,
  chunkSync,
  type ChunkOptions,
} from '../../src/chunking/index.js'
import type { Tokenizer } from '../../src/embed/tokens.js'
import { FerrovecError, InvalidInputError } from '../../src/errors.js'
import { checkChunks, fixtures } from './helpers.js'

const { prose, markdown } = fixtures()

test('should dispatch by strategy to the same chunks as the direct functions', async (t) => {
  t.deepEqual(await chunk(prose, { strategy: 'fixed', size: 200, overlap: 20 }), chunkFixedSync(prose, { size: 200, overlap: 20 }))
  t.deepEqual(await chunk(prose, { strategy: 'sentence', maxSize: 300, overlapSentences: 1 }), await chunkSentences(prose, { maxSize: 300, overlapSentences: 1 }))
  t.deepEqual(chunkSync(markdown, { strategy: 'recursive', maxSize: 300, overlap: 50 }), await chunkRecursive(markdown, { maxSize: 300, overlap: 50 }))
  t.deepEqual(chunkSync(prose, { strategy: 'sentence', maxSize: 300 }), chunkSentencesSync(prose, { maxSize: 300 }))
})

/** Counts whitespace-separated words: a stand-in for any tokenizer with count and truncate. */
const words: Tokenizer = {
  count: (text) => text.match(/\S+/g)?.length ?? 0,
  truncate: (text, max) => {
    const re = /\S+/g
    let end = 0
    for (let i = 0; i < max; i++) {
      const m = re.exec(text)
      if (m === null) return text
      end = m.index + m[0].length
    }
    return text.slice(0, end)
  },
}

test('should measure tokens with any tokenizer passed in, sync or async', async (t) => {
  for (const maxSize of [1, 5, 30]) {
    const rec = chunkRecursiveSync(markdown, { maxSize, overlap: Math.floor(maxSize / 3), unit: 'tokens', tokenizer: words })
    checkChunks(t, `recursive ${maxSize}`, markdown, rec, { unit: 'tokens', max: maxSize, tokenizer: words, overlapMax: Math.floor(maxSize / 3), strictStarts: true })
    const fixed = await chunkFixed(prose, { size: maxSize, unit: 'tokens', tokenizer: words })
    checkChunks(t, `fixed ${maxSize}`, prose, fixed, { unit: 'tokens', max: maxSize, tokenizer: words })
    t.true(fixed.slice(0, -1).every((c) => c.tokenCount === maxSize))
  }
  // A tokenizer with characters as the unit just adds counts.
  const counted = chunkSentencesSync(prose, { maxSize: 300, tokenizer: words })
  t.true(counted.every((c) => c.tokenCount === words.count(c.text) && c.text.length <= 300))
  t.true(chunkSentencesSync(prose, { maxSize: 300 }).every((c) => c.tokenCount === undefined))
})

test('should return no chunks for empty or whitespace-only text, without loading a tokenizer', async (t) => {
  for (const text of ['', ' ', '\n\r\n\t  \u3000\u00a0']) {
    t.deepEqual(await chunkFixed(text, { size: 5, unit: 'tokens' }), [])
    t.deepEqual(chunkSentencesSync(text, { maxSize: 5, unit: 'tokens' }), [])
    t.deepEqual(chunkRecursiveSync(text, { maxSize: 5 }), [])
    t.deepEqual(chunkSync(text, { strategy: 'fixed', size: 1 }), [])
  }
})

test('should require a loaded tokenizer in the sync functions for token sizes', (t) => {
  const err = t.throws(() => chunkFixedSync(prose, { size: 10, unit: 'tokens' }), { instanceOf: InvalidInputError })
  t.is(err?.code, 'ERR_INVALID_ARGUMENT')
  t.regex(err?.message ?? '', /chunkFixedSync: .*options\.tokenizer.*loadTokenizer\("cl100k_base"\).*chunkFixed\(\)/)
  t.throws(() => chunkSync(prose, { strategy: 'recursive', maxSize: 10, encoding: 'o200k_base' }), { code: 'ERR_INVALID_ARGUMENT' })
})

const BAD: [string, unknown, RegExp][] = [
  ['no options', undefined, /options must be an object/],
  ['options array', [], /options must be an object, got an array/],
  ['no strategy', { size: 5 }, /options\.strategy must be one of "fixed", "sentence", "recursive", got none/],
  ['unknown strategy', { strategy: 'semantic', maxSize: 5 }, /got "semantic"/],
  ['size 0', { strategy: 'fixed', size: 0 }, /options\.size must be an integer ≥ 1, got 0/],
  ['size fraction', { strategy: 'fixed', size: 2.5 }, /options\.size must be an integer ≥ 1, got 2\.5/],
  ['size NaN', { strategy: 'fixed', size: Number.NaN }, /got NaN/],
  ['size string', { strategy: 'fixed', size: '100' }, /got "100"/],
  ['missing size', { strategy: 'fixed' }, /options\.size must be an integer ≥ 1, got undefined/],
  ['overlap = size', { strategy: 'fixed', size: 10, overlap: 10 }, /options\.overlap must be an integer in 0…9, got 10/],
  ['negative overlap', { strategy: 'recursive', maxSize: 10, overlap: -1 }, /options\.overlap must be an integer in 0…9, got -1/],
  ['overlap > maxSize', { strategy: 'recursive', maxSize: 10, overlap: 50 }, /overlap must be an integer in 0…9/],
  ['maxSize 0', { strategy: 'sentence', maxSize: 0 }, /options\.maxSize must be an integer ≥ 1/],
  ['overlapSentences -1', { strategy: 'sentence', maxSize: 9, overlapSentences: -1 }, /options\.overlapSentences must be an integer ≥ 0/],
  ['option of another strategy', { strategy: 'fixed', size: 10, maxSize: 10 }, /unknown option "maxSize"/],
  ['LangChain spelling', { strategy: 'recursive', chunkSize: 10 }, /unknown option "chunkSize"/],
  ['unknown unit', { strategy: 'fixed', size: 10, unit: 'words' }, /options\.unit must be "characters" or "tokens", got "words"/],
  ['unknown encoding', { strategy: 'fixed', size: 10, unit: 'tokens', encoding: 'gpt2' }, /options\.encoding must be one of cl100k_base, o200k_base/],
  ['bad tokenizer', { strategy: 'fixed', size: 10, tokenizer: { count: () => 1 } }, /options\.tokenizer must have count\(text\) and truncate/],
  ['tokenizer and encoding', { strategy: 'fixed', size: 10, tokenizer: words, encoding: 'cl100k_base' }, /not both/],
  ['bad locale', { strategy: 'sentence', maxSize: 10, locale: 'not a locale!' }, /options\.locale "not a locale!" is not a valid BCP 47/],
  ['separators not array', { strategy: 'recursive', maxSize: 10, separators: '\n' }, /options\.separators must be an array/],
  ['empty separator', { strategy: 'recursive', maxSize: 10, separators: ['\n', ''] }, /options\.separators\[1\] must be a non-empty string or a RegExp, got ""/],
]

for (const [name, options, message] of BAD) {
  test(`should refuse ${name} with ERR_INVALID_ARGUMENT, sync and async`, async (t) => {
    const sync = t.throws(() => chunkSync(prose, options as ChunkOptions), { instanceOf: InvalidInputError })
    t.is(sync?.code, 'ERR_INVALID_ARGUMENT')
    t.regex(sync?.message ?? '', message)
    t.regex(sync?.message ?? '', /^chunkSync/)
    // The async form rejects rather than throwing synchronously.
    const pending = chunk(prose, options as ChunkOptions)
    const err = await t.throwsAsync(pending, { instanceOf: FerrovecError })
    t.is(err?.code, 'ERR_INVALID_ARGUMENT')
    t.regex(err?.message ?? '', message)
  })
}

test('should refuse bad options in the direct functions too, naming them', async (t) => {
  t.throws(() => chunkFixedSync(prose, { size: 10, overlap: 12 }), { code: 'ERR_INVALID_ARGUMENT', message: /^chunkFixedSync: options\.overlap/ })
  await t.throwsAsync(chunkSentences(prose, { maxSize: -3 }), { code: 'ERR_INVALID_ARGUMENT', message: /^chunkSentences: options\.maxSize/ })
  await t.throwsAsync(chunkRecursive(prose, { maxSize: 10, separators: [42 as unknown as string] }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /^chunkRecursive: options\.separators\[0\]/,
  })
  // Text must be a string; options are checked even for empty text.
  await t.throwsAsync(chunkFixed(42 as unknown as string, { size: 10 }), { code: 'ERR_INVALID_ARGUMENT', message: /text must be a string, got number/ })
  t.throws(() => chunkFixedSync('', { size: 0 }), { code: 'ERR_INVALID_ARGUMENT' })
})
