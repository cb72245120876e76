// LangChain.js's `HNSWLib` vector store driven end to end on `ferrovec/hnswlib-node`, aliased in
// place of `hnswlib-node` by a module resolve hook (the README's recipe), in this test process only.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { register } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Embeddings } from '@langchain/core/embeddings'
import real from 'hnswlib-node'

register(new URL('./helpers/alias-hnswlib-node.mjs', import.meta.url))

const { HNSWLib } = await import('@langchain/community/vectorstores/hnswlib')
const ours = await import('ferrovec/hnswlib-node')

const DIM = 64

/** Deterministic bag-of-words embeddings: each word adds a fixed pseudo-random vector. */
class HashEmbeddings extends Embeddings {
  constructor() {
    super({})
  }
  vector(text: string): number[] {
    const v = new Array<number>(DIM).fill(0)
    for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
      let h = 2166136261
      for (const c of word) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0
      for (let j = 0; j < DIM; j++) {
        h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0
        v[j] += (h / 2 ** 32) * 2 - 1
      }
    }
    return v
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.vector(t))
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.vector(text)
  }
}

const topics = ['rust', 'node', 'graph', 'vector', 'search', 'index', 'file', 'cosine', 'python', 'memory']
const texts = Array.from({ length: 120 }, (_, i) => `${topics[i % 10]} ${topics[(i * 7) % 10]} note number ${i} ${'x'.repeat(i % 5)}`)
const metadatas = texts.map((_, i) => ({ id: i, even: i % 2 === 0 }))

test('HNSWLib.fromTexts, similaritySearch, filter, save and load run on ferrovec', async (t) => {
  const embeddings = new HashEmbeddings()
  const store = await HNSWLib.fromTexts(texts, metadatas, embeddings)
  // The alias took effect: the store's index is ferrovec's class, not hnswlib-node's.
  t.true(store.index instanceof ours.HierarchicalNSW)
  t.false(store.index instanceof real.HierarchicalNSW)
  t.is(store.index.getCurrentCount(), 120)

  const hits = await store.similaritySearchWithScore(texts[42], 4)
  t.is(hits.length, 4)
  t.is(hits[0][0].pageContent, texts[42])
  t.true(Math.abs(hits[0][1]) < 1e-5, 'cosine distance to itself')
  for (let i = 1; i < 4; i++) t.true(hits[i][1] >= hits[i - 1][1])

  const evens = await store.similaritySearch(texts[43], 5, (doc) => doc.metadata.even === true)
  t.is(evens.length, 5)
  t.true(evens.every((d) => d.metadata.even === true))

  // Growing the store resizes the index as LangChain expects.
  await store.addDocuments([{ pageContent: 'brand new rust graph note', metadata: { id: 999, even: false } }])
  t.is(store.index.getCurrentCount(), 121)
  t.is((await store.similaritySearch('brand new rust graph note', 1))[0].metadata.id, 999)

  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-langchain-'))
  await store.save(dir)
  const loaded = await HNSWLib.load(dir, embeddings)
  t.true(loaded.index instanceof ours.HierarchicalNSW)
  const a = await store.similaritySearchWithScore(texts[7], 4)
  const b = await loaded.similaritySearchWithScore(texts[7], 4)
  t.deepEqual(
    b.map(([d, s]) => [d.pageContent, s]),
    a.map(([d, s]) => [d.pageContent, s]),
  )

  // The saved index is hnswlib's format: the real hnswlib-node reads it and agrees.
  const theirs = new real.HierarchicalNSW('cosine', DIM)
  t.true(await theirs.readIndex(join(dir, 'hnswlib.index')))
  const q = embeddings.vector(texts[7])
  t.deepEqual(theirs.searchKnn(q, 4).neighbors, loaded.index.searchKnn(q, 4).neighbors)
})

test('a store saved with the real hnswlib-node loads through the alias', async (t) => {
  const embeddings = new HashEmbeddings()
  const theirs = new real.HierarchicalNSW('cosine', DIM)
  theirs.initIndex(texts.length)
  const vectors = await embeddings.embedDocuments(texts)
  vectors.forEach((v, i) => theirs.addPoint(v, i))
  const store = new HNSWLib(embeddings, { space: 'cosine', numDimensions: DIM, index: theirs as never })
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-langchain-real-'))
  // LangChain's save needs a docstore entry per label; build it as addVectors would.
  store.docstore.add(Object.fromEntries(texts.map((text, i) => [i, { pageContent: text, metadata: metadatas[i] }])) as never)
  await store.save(dir)
  const loaded = await HNSWLib.load(dir, embeddings)
  t.true(loaded.index instanceof ours.HierarchicalNSW)
  const hits = await loaded.similaritySearch(texts[99], 3)
  t.is(hits[0].pageContent, texts[99])
  const q = embeddings.vector(texts[99])
  t.deepEqual(loaded.index.searchKnn(q, 3).neighbors, theirs.searchKnn(q, 3).neighbors)
})
