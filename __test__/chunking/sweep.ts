// Every strategy, over every fixture and a sweep of sizes and overlaps: the invariants of
// helpers.ts/checkChunks, plus determinism. Registered by characters.spec.ts and tokens.spec.ts,
// so the two sweeps run in parallel processes.
import test from 'ava'
import { chunkFixedSync, chunkRecursiveSync, chunkSentencesSync } from '../../src/chunking/index.js'
import { loadTokenizer } from '../../src/embed/tokens.js'
import { checkChunks, fixtures } from './helpers.js'

const all = fixtures()
const CHAR_SIZES = [1, 2, 3, 7, 16, 40, 100, 300, 1000, 5000]
// js-tiktoken's BPE is quadratic in the length of an unbroken run (the DNA read, CJK lines), so
// the token sweep is narrower to keep the suite fast.
const TOKEN_SIZES = [1, 5, 32, 256]
// The CRLF copy is left to the character sweep, and CJK is cut to its first two paragraphs: each
// unbroken Han run is one BPE piece, the quadratic case.
const TOKEN_DOCS = { ...all, markdownCrlf: undefined, cjk: (all.cjk as string).split('\n\n').slice(0, 2).join('\n\n') }

function overlapsFor(size: number, unit: 'characters' | 'tokens'): number[] {
  const options = unit === 'characters' ? [0, 1, Math.floor(size / 4), Math.floor(size / 2), size - 1] : [0, Math.floor(size / 4)]
  // Overlap size − 1 moves windows one unit at a time: cheap in characters, slow in tokens at
  // large sizes (every window is encoded), so only small token sizes take it.
  if (unit === 'tokens' && size <= 5) options.push(size - 1)
  return [...new Set(options)].filter((o) => o >= 0 && o < size)
}

export function registerSweep(unit: 'characters' | 'tokens'): void {
  const docs = Object.entries(unit === 'tokens' ? TOKEN_DOCS : all).filter((e): e is [string, string] => e[1] !== undefined)
  test(`fixed windows keep every invariant (${unit})`, async (t) => {
    const tokenizer = unit === 'tokens' ? await loadTokenizer() : undefined
    for (const [name, doc] of docs) {
      for (const size of unit === 'tokens' ? TOKEN_SIZES : CHAR_SIZES) {
        for (const overlap of overlapsFor(size, unit)) {
          const opts = { size, overlap, unit, tokenizer }
          const chunks = chunkFixedSync(doc, opts)
          // Token windows share `overlap` tokens of the previous window's tokenization; re-counted
          // on their own, a shared span that starts inside a word can tokenise a little longer.
          // Trimming a leading space can also turn one token into several (" introduces" is one
          // cl100k token, "introduces" three), and a character split across tokens moves whole.
          const overlapMax = unit === 'tokens' ? overlap + 4 : overlap
          checkChunks(t, `${name} size ${size} overlap ${overlap}`, doc, chunks, { unit, max: size, tokenizer, overlapMax })
          if (unit === 'characters') t.is(JSON.stringify(chunkFixedSync(doc, opts)), JSON.stringify(chunks), "deterministic")
        }
      }
    }
  })

  test(`sentence chunks keep every invariant (${unit})`, async (t) => {
    const tokenizer = unit === 'tokens' ? await loadTokenizer() : undefined
    for (const [name, doc] of docs) {
      for (const maxSize of unit === 'tokens' ? TOKEN_SIZES : CHAR_SIZES) {
        for (const overlapSentences of unit === 'tokens' ? [0, 2] : [0, 1, 3]) {
          const opts = { maxSize, overlapSentences, unit, tokenizer }
          const chunks = chunkSentencesSync(doc, opts)
          // Sentence overlap is whole sentences, and always leaves room for new text.
          checkChunks(t, `${name} maxSize ${maxSize} overlap ${overlapSentences}`, doc, chunks, {
            unit,
            max: maxSize,
            tokenizer,
            overlapMax: overlapSentences === 0 ? 0 : maxSize - 1,
            strictStarts: true,
          })
          if (unit === 'characters') t.is(JSON.stringify(chunkSentencesSync(doc, opts)), JSON.stringify(chunks), "deterministic")
        }
      }
    }
  })

  test(`recursive chunks keep every invariant (${unit})`, async (t) => {
    const tokenizer = unit === 'tokens' ? await loadTokenizer() : undefined
    for (const [name, doc] of docs) {
      for (const maxSize of unit === 'tokens' ? TOKEN_SIZES : CHAR_SIZES) {
        for (const overlap of overlapsFor(maxSize, unit)) {
          const opts = { maxSize, overlap, unit, tokenizer }
          const chunks = chunkRecursiveSync(doc, opts)
          checkChunks(t, `${name} maxSize ${maxSize} overlap ${overlap}`, doc, chunks, {
            unit,
            max: maxSize,
            tokenizer,
            overlapMax: overlap,
            strictStarts: true,
          })
          if (unit === 'characters') t.is(JSON.stringify(chunkRecursiveSync(doc, opts)), JSON.stringify(chunks), "deterministic")
        }
      }
    }
  })
}
