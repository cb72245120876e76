// chunkSentences: whole sentences packed up to maxSize, with finer fallbacks for long ones.
import test from 'ava'
import { chunkSentencesSync } from '../../src/chunking/index.js'
import { checkChunks, fixtures } from './helpers.js'

const { prose, cjk } = fixtures()

/** Trimmed [start, end) of every sentence, by Intl.Segmenter. */
function sentences(doc: string, locale?: string): { start: number; end: number }[] {
  return [...new Intl.Segmenter(locale, { granularity: 'sentence' }).segment(doc)]
    .map((s) => ({ start: s.index + (s.segment.length - s.segment.trimStart().length), end: s.index + s.segment.trimEnd().length }))
    .filter((s) => s.end > s.start)
}

test('should pack whole sentences: every chunk starts and ends on a sentence boundary', (t) => {
  const sents = sentences(prose)
  const longest = Math.max(...sents.map((s) => s.end - s.start))
  const starts = new Set(sents.map((s) => s.start))
  const ends = new Set(sents.map((s) => s.end))
  for (const maxSize of [longest, 300, 700, 5000]) {
    const chunks = chunkSentencesSync(prose, { maxSize })
    checkChunks(t, `maxSize ${maxSize}`, prose, chunks, { unit: 'characters', max: maxSize, strictStarts: true })
    for (const c of chunks) {
      t.true(starts.has(c.start) && ends.has(c.end), `maxSize ${maxSize}: ${JSON.stringify(c.text.slice(0, 40))}`)
    }
    // Packed: the next sentence would not have fitted.
    for (let i = 0; i + 1 < chunks.length; i++) {
      const next = sents.find((s) => s.start >= (chunks[i]?.end ?? 0))
      t.true((next?.end ?? 0) - (chunks[i]?.start ?? 0) > maxSize)
    }
  }
  t.is(chunkSentencesSync(prose, { maxSize: prose.length }).length, 1)
})

test('should split a sentence longer than maxSize at words rather than exceed it', (t) => {
  const doc = 'Short one. ' + 'This sentence goes on and on with many words so that it cannot fit. ' + 'Short two.'
  const chunks = chunkSentencesSync(doc, { maxSize: 30 })
  checkChunks(t, 'long sentence', doc, chunks, { unit: 'characters', max: 30, strictStarts: true })
  t.is(chunks[0]?.text, 'Short one.')
  t.is(chunks.at(-1)?.text, 'Short two.', 'the sentence after the long one starts a chunk of its own')
  for (const c of chunks) {
    t.true(c.start === 0 || doc[c.start - 1] === ' ', `starts mid-word: ${c.text}`)
    t.true(c.end === doc.length || doc[c.end] === ' ', `ends mid-word: ${c.text}`)
  }
})

test('should repeat the last whole sentences as overlap, leaving room for new ones', (t) => {
  const sents = sentences(prose)
  const starts = new Set(sents.map((s) => s.start))
  for (const overlapSentences of [1, 2]) {
    const chunks = chunkSentencesSync(prose, { maxSize: 400, overlapSentences })
    checkChunks(t, `overlap ${overlapSentences}`, prose, chunks, { unit: 'characters', max: 400, overlapMax: 399, strictStarts: true })
    let overlapping = 0
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]
      const c = chunks[i]
      if (prev === undefined || c === undefined) continue
      t.true(starts.has(c.start))
      if (c.start >= prev.end) continue
      overlapping++
      const shared = sents.filter((s) => s.start >= c.start && s.end <= prev.end).length
      t.true(shared >= 1 && shared <= overlapSentences, `shares ${shared} sentences`)
      t.true(c.start > prev.start, 'never repeats the whole previous chunk')
    }
    t.true(overlapping >= chunks.length / 2, `only ${overlapping} of ${chunks.length} chunks overlap`)
  }
})

test('should find sentence boundaries in CJK text, which has no spaces', (t) => {
  const chunks = chunkSentencesSync(cjk, { maxSize: 60, locale: 'zh' })
  checkChunks(t, 'cjk', cjk, chunks, { unit: 'characters', max: 60, strictStarts: true })
  const ends = new Set(sentences(cjk, 'zh').map((s) => s.end))
  const atSentenceEnd = chunks.filter((c) => ends.has(c.end)).length
  // Sentences up to 60 characters end chunks at 。？！ ; longer ones fall back to word boundaries.
  t.true(atSentenceEnd >= chunks.length * 0.6, `${atSentenceEnd} of ${chunks.length}`)
  t.true(chunks.some((c) => c.text.endsWith('。')))
  // Word fallback inside a long Chinese sentence cuts between words (ICU's dictionary), not through them.
  const line = '向量检索把文档变成空间中的点'
  const words = new Set([...new Intl.Segmenter('zh', { granularity: 'word' }).segment(line)].flatMap((w) => [w.index, w.index + w.segment.length]))
  const tiny = chunkSentencesSync(line, { maxSize: 4, locale: 'zh' })
  t.true(tiny.length >= 4)
  t.true(tiny.every((c) => c.text.length <= 4 && words.has(c.start) && words.has(c.end)), JSON.stringify(tiny.map((c) => c.text)))
  t.is(tiny.map((c) => c.text).join(''), line)
})

test('should find the same sentence boundaries in a long document as in its parts', (t) => {
  // Segmentation runs in windows of a few kB (V8's segmenter slows down on long strings); the
  // windows must not move or add boundaries.
  const doc = Array.from({ length: 6 }, (_, i) => `Part ${i}.\n${prose}`).join('\n')
  t.true(doc.length > 3 * 4096)
  const sents = sentences(doc)
  const starts = new Set(sents.map((s) => s.start))
  const ends = new Set(sents.map((s) => s.end))
  const longest = Math.max(...sents.map((s) => s.end - s.start))
  const chunks = chunkSentencesSync(doc, { maxSize: longest })
  checkChunks(t, 'long', doc, chunks, { unit: 'characters', max: longest, strictStarts: true })
  t.true(chunks.every((c) => starts.has(c.start) && ends.has(c.end)))
})
