// Everything measured with the real cl100k_base tokenizer, in one process so its tables load once:
// the invariant sweep over every strategy, and fixed token windows in detail.
import test from 'ava'
import { chunkFixed, chunkFixedSync } from '../../src/chunking/index.js'
import { loadTokenizer } from '../../src/embed/tokens.js'
import { checkChunks, fixtures } from './helpers.js'
import { registerSweep } from './sweep.js'

const { prose, emoji, cjk, markdown } = fixtures()

registerSweep('tokens')

test('should cut token windows of exactly size tokens with a real tokenizer', async (t) => {
  const tokenizer = await loadTokenizer()
  for (const doc of [prose, markdown]) {
    const chunks = await chunkFixed(doc, { size: 50, overlap: 10, unit: 'tokens' })
    checkChunks(t, 'prose', doc, chunks, { unit: 'tokens', max: 50, tokenizer, overlapMax: 14 })
    // Every window but the last is full (trimming a trailing newline token may take one off).
    t.true(chunks.slice(0, -1).every((c) => (c.tokenCount ?? 0) >= 49), JSON.stringify(chunks.map((c) => c.tokenCount)))
    // Windows share the last `overlap` tokens of the previous window: what comes before the next
    // window's start is the previous window's first (tokens − overlap) tokens. (A window whose
    // trailing whitespace token was trimmed shares one token fewer of what is left.)
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]
      const c = chunks[i]
      if (prev === undefined || c === undefined) continue
      const head = tokenizer.count(doc.slice(prev.start, c.start).trimEnd())
      const shared = (prev.tokenCount ?? 0) - head
      t.true(shared === 10 || (shared === 9 && (prev.tokenCount ?? 0) < 50), `window ${i} shares ${shared}`)
    }
  }
})

test('should map token windows back to characters across multi-byte text and emoji', async (t) => {
  const tokenizer = await loadTokenizer()
  for (const doc of [emoji, cjk]) {
    for (const size of [1, 2, 3, 5, 17]) {
      const chunks = chunkFixedSync(doc, { size, unit: 'tokens', tokenizer })
      checkChunks(t, `size ${size}`, doc, chunks, { unit: 'tokens', max: size, tokenizer })
      // Without overlap the windows tile the document: only whitespace lies between them.
      for (let i = 1; i < chunks.length; i++) t.regex(doc.slice(chunks[i - 1]?.end, chunks[i]?.start), /^\s*$/u)
    }
  }
  // An emoji takes more than one cl100k token: at size 1 it is a chunk of its own (a character is
  // never split), which is the one case a chunk exceeds `size`.
  const party = chunkFixedSync('🎉🎉', { size: 1, unit: 'tokens', tokenizer })
  t.deepEqual(
    party.map((c) => [c.text, c.tokenCount]),
    [
      ['🎉', tokenizer.count('🎉')],
      ['🎉', tokenizer.count('🎉')],
    ],
  )
})
