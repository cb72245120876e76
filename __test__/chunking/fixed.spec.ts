// chunkFixed in characters: exact windows with overlap (token windows: tokens.spec.ts).
import test from 'ava'
import { chunkFixedSync } from '../../src/chunking/index.js'
import { checkChunks } from './helpers.js'


test('should cut character windows of exactly size, stepping by size − overlap', (t) => {
  const doc = 'abcdefghijklmnopqrstuvwxyz'
  t.deepEqual(
    chunkFixedSync(doc, { size: 10, overlap: 3 }).map((c) => [c.text, c.start, c.end]),
    [
      ['abcdefghij', 0, 10],
      ['hijklmnopq', 7, 17],
      ['opqrstuvwx', 14, 24],
      ['vwxyz', 21, 26],
    ],
  )
  t.deepEqual(
    chunkFixedSync(doc, { size: 13 }).map((c) => c.text),
    ['abcdefghijklm', 'nopqrstuvwxyz'],
  )
})

test('should trim windows by offsets and skip windows of whitespace only', (t) => {
  const doc = '  alpha   \n\n\n\n\n\n          beta  '
  const chunks = chunkFixedSync(doc, { size: 8 })
  t.deepEqual(
    chunks.map((c) => c.text),
    ['alpha', 'beta'],
  )
  for (const c of chunks) t.is(doc.slice(c.start, c.end), c.text)
})

test('should never split a surrogate pair, at any size or overlap', (t) => {
  const doc = '😀a👨‍👩‍👧‍👦b🇯🇵𠀀c'.repeat(5)
  for (let size = 1; size <= 9; size++) {
    for (let overlap = 0; overlap < size; overlap++) {
      const chunks = chunkFixedSync(doc, { size, overlap })
      // A lone surrogate half at either edge (or anywhere) would fail the check.
      checkChunks(t, `size ${size} overlap ${overlap}`, doc, chunks, { unit: 'characters', max: size, overlapMax: overlap })
      if (size >= 2) t.true(chunks.every((c) => c.text.length >= size - 1 || c.index === chunks.length - 1))
    }
  }
})
