import test from 'ava'
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Collection } from '../../src/collection/index.js'
import { ANIMALS, tempDir, WordsEmbedder } from './helpers.js'

const docs = Array.from({ length: 60 }, (_, i) => ({ id: `d${i}`, text: `item${i} about topic${i % 5} and more`, metadata: { i } }))

test('migrate re-embeds into a new index and switches atomically; the old index serves until then', async (t) => {
  const dir = tempDir(t)
  const v1 = new WordsEmbedder('words-v1', 32)
  const c = await Collection.open(dir, { embedder: v1 })
  await c.upsert([...ANIMALS, ...docs])
  const v2 = new WordsEmbedder('words-v2', 48)
  let searchedMidway = false
  const progress: number[] = []
  v2.beforeBatch = async (done) => {
    if (done === 16 && !searchedMidway) {
      searchedMidway = true
      // Mid-migration: still the old model, old dimension, old index.
      t.is(c.model.model, 'words-v1')
      t.is((await c.search('cat mat', { k: 1 }))[0]!.id, 'cat')
      const err = await t.throwsAsync(c.upsert([{ id: 'new', text: 'x' }]))
      t.is((err as { code?: string }).code, 'ERR_BUSY')
      const err2 = await t.throwsAsync(c.migrate(v2))
      t.is((err2 as { code?: string }).code, 'ERR_BUSY')
      const err3 = await t.throwsAsync(c.delete(['d1']))
      t.is((err3 as { code?: string }).code, 'ERR_BUSY')
      const err4 = await t.throwsAsync(c.close())
      t.is((err4 as { code?: string }).code, 'ERR_BUSY')
      t.is(c.count(), 65)
    }
  }
  const r = await c.migrate(v2, { onProgress: (p) => progress.push(p.done) })
  t.true(searchedMidway)
  t.deepEqual(r, { embedded: 65, total: 65 })
  t.is(progress[progress.length - 1], 65)
  t.is(c.model.model, 'words-v2')
  t.is(c.dim, 48)
  t.is(c.embedder, v2)
  const hit = (await c.search('cat mat', { k: 1, mode: 'vector' }))[0]!
  t.is(hit.id, 'cat')
  t.true(hit.score > 0.5)
  await c.upsert([{ id: 'after', text: 'written after the switch' }])
  await c.close()
  // Reopened: pinned to the new model; the old one is refused; one index file remains.
  const err = await t.throwsAsync(Collection.open(dir, { embedder: v1 }))
  t.is((err as { code?: string }).code, 'ERR_MODEL_MISMATCH')
  const again = await Collection.open(dir, { embedder: v2 })
  t.is(again.count(), 66)
  const q = v2.vector('item7 topic2')
  const best = (await again.search(q, { k: 1 }))[0]!
  t.is(best.id, 'd7')
  t.is(readdirSync(dir).filter((f) => f.startsWith('index-')).length, 1)
  await again.close()
})

test('an aborted migration leaves the old model serving, and a second run resumes without re-embedding', async (t) => {
  const dir = tempDir(t)
  const v1 = new WordsEmbedder('words-v1', 32)
  const c = await Collection.open(dir, { embedder: v1 })
  await c.upsert(docs)
  const before = await c.search(v1.vector('item3 topic3'), { k: 5 })
  const v2 = new WordsEmbedder('words-v2', 40)
  const ac = new AbortController()
  // The collection embeds in pages of 256 rows; abort inside the first page after some batches.
  v2.beforeBatch = (done) => {
    if (done >= 24) ac.abort()
  }
  const err = await t.throwsAsync(c.migrate(v2, { signal: ac.signal }))
  t.is((err as { code?: string }).code, 'ERR_ABORTED')
  t.is(c.model.model, 'words-v1')
  t.is(c.dim, 32)
  t.deepEqual(await c.search(v1.vector('item3 topic3'), { k: 5 }), before)
  // Writes work again after the abort.
  await c.upsert([{ id: 'extra', text: 'one more item', metadata: { i: 99 } }])
  t.is(c.count(), 61)
  await c.close()

  // Reopen with the OLD model (the migration did not switch), then resume with the new one.
  const c2 = await Collection.open(dir, { embedder: v1 })
  const info = c2.info()
  t.is(info.migration?.model.model, 'words-v2')
  const v2b = new WordsEmbedder('words-v2', 40)
  const r = await c2.migrate(v2b)
  t.is(r.total, 61)
  t.is(v2b.calls, r.embedded)
  t.is(c2.model.model, 'words-v2')
  t.is((await c2.search(v2b.vector('item3 topic3'), { k: 1 }))[0]!.id, 'd3')
  t.is(c2.info().migration, undefined)
  await c2.close()
})

test('an aborted page keeps the pages before it: resumable without an embedding cache', async (t) => {
  const dir = tempDir(t)
  const v1 = new WordsEmbedder('words-v1', 32)
  const c = await Collection.open(dir, { embedder: v1 })
  // More than one 256-row page, so the first page is stored before the abort.
  const many = Array.from({ length: 600 }, (_, i) => ({ id: `m${i}`, text: `thing${i} kind${i % 9}` }))
  await c.upsert(many)
  const v2 = new WordsEmbedder('words-v2', 40)
  const ac = new AbortController()
  v2.beforeBatch = () => {
    if (v2.calls >= 300) ac.abort()
  }
  await t.throwsAsync(c.migrate(v2, { signal: ac.signal }))
  const stored = c.info().migration?.done ?? 0
  t.is(stored, 256)
  const v2b = new WordsEmbedder('words-v2', 40)
  const r = await c.migrate(v2b)
  t.is(r.embedded, 600 - 256)
  t.is(v2b.calls, 600 - 256)
  t.is(c.count(), 600)
  // Hashed words may collide, so check the score of an exact match rather than the id.
  const top = (await c.search(v2b.vector('thing5 kind5'), { k: 1 }))[0]!
  t.true(top.score > 0.9999)
  t.is((await c.search('thing5', { k: 1, mode: 'keyword' }))[0]!.id, 'm5')
  await c.close()
})

test('a migration that crashed after saving its new index but before the switch: reopens on the old model, the orphan files go, migrate resumes', async (t) => {
  const dir = tempDir(t)
  const v1 = new WordsEmbedder('words-v1', 32)
  const c = await Collection.open(dir, { embedder: v1 })
  await c.upsert(docs)
  const q = v1.vector('item3 topic3')
  const before = await c.search(q, { k: 5 })
  // An unfinished migration recorded in the database (an aborted run), as a crash would leave it.
  const v2 = new WordsEmbedder('words-v2', 40)
  const ac = new AbortController()
  v2.beforeBatch = (done) => {
    if (done >= 24) ac.abort()
  }
  await t.throwsAsync(c.migrate(v2, { signal: ac.signal }))
  const current = c.info().indexPath!
  await c.close()
  // What the crashed run left: the next generation's index saved, and a temporary file of a save.
  copyFileSync(current, join(dir, 'index-1.hnsw'))
  writeFileSync(join(dir, '.index-1.hnsw.123-456.tmp'), 'half a save')
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('index-')).sort(), ['.index-1.hnsw.123-456.tmp', 'index-0.hnsw', 'index-1.hnsw'])

  const again = await Collection.open(dir, { embedder: v1 })
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('index-')), ['index-0.hnsw'])
  t.is(again.model.model, 'words-v1')
  t.deepEqual(await again.search(q, { k: 5 }), before)
  t.is(again.info().migration?.model.model, 'words-v2')
  const v2b = new WordsEmbedder('words-v2', 40)
  const r = await again.migrate(v2b)
  t.is(r.total, docs.length)
  t.is(v2b.calls, r.embedded)
  t.is((await again.search(v2b.vector('item3 topic3'), { k: 1 }))[0]!.id, 'd3')
  await again.close()
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('index-')), ['index-1.hnsw'])
})
