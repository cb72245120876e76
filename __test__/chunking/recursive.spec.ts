// chunkRecursive: structure first (headings, paragraphs, lines, sentences, words, characters).
import test from 'ava'
import { chunkRecursive, chunkRecursiveSync, DEFAULT_CHUNK_SEPARATORS } from '../../src/chunking/index.js'
import { checkChunks, fixtures } from './helpers.js'

const { markdown, markdownCrlf, longWords } = fixtures()

/** Start offsets of the Markdown heading lines outside fenced code blocks. */
function headingStarts(doc: string): number[] {
  const starts: number[] = []
  let fenced = false
  let at = 0
  for (const line of doc.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    else if (!fenced && /^#{1,6} /.test(line)) starts.push(at)
    at += line.length + 1
  }
  return starts
}

for (const [name, doc] of [
  ['LF', markdown],
  ['CRLF', markdownCrlf],
] as const) {
  test(`should keep each heading with the text under it (${name})`, (t) => {
    const heads = headingStarts(doc)
    t.is(heads.length, 9)
    for (const maxSize of [120, 200, 400, 800]) {
      const chunks = chunkRecursiveSync(doc, { maxSize })
      checkChunks(t, `maxSize ${maxSize}`, doc, chunks, { unit: 'characters', max: maxSize, strictStarts: true })
      for (const h of heads) {
        const lineEnd = doc.indexOf('\n', h)
        const nextText = doc.slice(lineEnd).search(/\S/) + lineEnd
        const holder = chunks.find((c) => c.start <= h && h < c.end)
        t.truthy(holder, `heading at ${h} is in a chunk`)
        // The heading line and the first character of its section's text are in the same chunk.
        t.true((holder?.end ?? 0) > nextText, `maxSize ${maxSize}: ${JSON.stringify(doc.slice(h, lineEnd))} is cut from its text`)
      }
      // No chunk ends on a heading line, and headings start chunks rather than ending them.
      for (const c of chunks) t.false(/(^|\n)#{1,6} [^\n]*$/.test(c.text), `maxSize ${maxSize}: ${JSON.stringify(c.text.slice(-40))}`)
    }
  })

  test(`should keep top-level sections apart and merge small sections (${name})`, (t) => {
    const appendix = doc.indexOf('# Appendix')
    // The first top-level section does not fit in 1500: its last chunk must not swallow the appendix.
    const chunks = chunkRecursiveSync(doc, { maxSize: 1500 })
    t.true(chunks.some((c) => c.start === appendix))
    // The whole document fits: one chunk.
    t.is(chunkRecursiveSync(doc, { maxSize: doc.length }).length, 1)
    // Small sections merge up to the limit: fewer chunks than sections, and the short deep-heading
    // section shares its chunk with the section before it.
    const medium = chunkRecursiveSync(doc, { maxSize: 700 })
    t.true(medium.length < headingStarts(doc).length)
    const deep = doc.indexOf('#### A deep heading')
    const holder = medium.find((c) => c.start <= deep && deep < c.end)
    t.true((holder?.start ?? deep) < deep, 'the short section merged with the one before it')
  })
}

test('should split paragraphs before sentences, and sentences before words', (t) => {
  const doc = 'First paragraph has one sentence. And a second one.\n\nSecond paragraph is here. It also has two sentences.'
  const chunks = chunkRecursiveSync(doc, { maxSize: 60 })
  t.deepEqual(
    chunks.map((c) => c.text),
    ['First paragraph has one sentence. And a second one.', 'Second paragraph is here. It also has two sentences.'],
  )
  t.deepEqual(
    chunkRecursiveSync(doc, { maxSize: 40 }).map((c) => c.text),
    ['First paragraph has one sentence.', 'And a second one.', 'Second paragraph is here.', 'It also has two sentences.'],
  )
  t.deepEqual(
    chunkRecursiveSync('alpha beta gamma delta', { maxSize: 11 }).map((c) => c.text),
    ['alpha beta', 'gamma delta'],
  )
})

test('should split a word longer than maxSize between characters, and resume at the next word', (t) => {
  const chunks = chunkRecursiveSync(longWords, { maxSize: 50 })
  checkChunks(t, 'long words', longWords, chunks, { unit: 'characters', max: 50, strictStarts: true })
  const dna = longWords.match(/[ACGT]{200,}/)
  const start = dna?.index ?? -1
  const inside = chunks.filter((c) => c.start >= start && c.end <= start + (dna?.[0].length ?? 0))
  t.true(inside.length >= 5)
  // Full windows inside the word, except the remainder.
  t.true(inside.slice(0, -1).every((c) => c.text.length === 50))
})

test('should carry overlap as whole sentences within the budget, never into a new section', (t) => {
  const chunks = chunkRecursiveSync(markdown, { maxSize: 300, overlap: 120 })
  checkChunks(t, 'overlap', markdown, chunks, { unit: 'characters', max: 300, overlapMax: 120, strictStarts: true })
  const sentenceStarts = new Set<number>()
  for (const s of new Intl.Segmenter('en', { granularity: 'sentence' }).segment(markdown)) {
    sentenceStarts.add(s.index + (s.segment.length - s.segment.trimStart().length))
  }
  let overlapping = 0
  for (let i = 1; i < chunks.length; i++) {
    const prev = chunks[i - 1]
    const c = chunks[i]
    if (prev === undefined || c === undefined || c.start >= prev.end) continue
    overlapping++
    t.true(sentenceStarts.has(c.start), `overlap starts mid-sentence: ${JSON.stringify(c.text.slice(0, 30))}`)
    t.false(/^#/.test(c.text), 'a chunk starting at a heading got overlap')
  }
  t.true(overlapping >= 3, `only ${overlapping} chunks overlap`)
})

test('should take custom separators, cutting after each match', (t) => {
  t.deepEqual(
    chunkRecursiveSync('a|b|c', { maxSize: 4, separators: ['|'] }).map((c) => c.text),
    ['a|b|', 'c'],
  )
  // A lookahead cuts before something: here before each "---" rule, which then starts a chunk.
  const doc = 'one\n---\ntwo two\n---\nthree'
  t.deepEqual(
    chunkRecursiveSync(doc, { maxSize: 12, separators: [/\n(?=---)/] }).map((c) => c.text),
    ['one', '---\ntwo two', '---\nthree'],
  )
  // The caller's RegExp is not touched.
  const re = /\n/g
  re.lastIndex = 3
  chunkRecursiveSync(doc, { maxSize: 5, separators: [re] })
  t.is(re.lastIndex, 3)
  t.is(DEFAULT_CHUNK_SEPARATORS.length, 8)
  t.true(Object.isFrozen(DEFAULT_CHUNK_SEPARATORS))
})

test('should give the same chunks sync and async', async (t) => {
  t.deepEqual(await chunkRecursive(markdown, { maxSize: 250, overlap: 40 }), chunkRecursiveSync(markdown, { maxSize: 250, overlap: 40 }))
})
