import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  CachedEmbedder,
  createEmbedder,
  EmbeddingAbortedError,
  LocalEmbedder,
  OpenAIEmbedder,
  RetryEmbedder,
  SqliteEmbeddingStore,
  type EmbeddingStore,
} from '../../src/embed/index.js'
import { InvalidInputError } from '../../src/errors.js'
import { assertVectors, FAST_RETRY, openaiStack, serve, texts } from './helpers.js'
import type { EmbeddingTestServer } from './server.js'

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function provider(server: EmbeddingTestServer, extra: Partial<ConstructorParameters<typeof OpenAIEmbedder>[0]> = {}) {
  return new OpenAIEmbedder({
    model: 'text-embedding-3-small',
    dimensions: 8,
    baseURL: `${server.url}/v1`,
    apiKey: 'test-key',
    ...extra,
  })
}

test('should answer repeated texts from the cache without a request', async (t) => {
  const server = await serve(t)
  const cache = new CachedEmbedder(provider(server))
  const input = texts(20)
  assertVectors(t, input, await cache.embedMany(input), 8)
  t.is(server.embedRequests.length, 1)
  assertVectors(t, input, await cache.embedMany(input), 8)
  const one = await cache.embed('text number 3')
  t.is(server.embedRequests.length, 1)
  t.is(one.length, 8)
  t.like(cache.stats, { hits: 21, misses: 20, entries: 20 })
  t.like(cache.usage, { cacheHits: 21, cacheMisses: 20, requests: 1, inputs: 20 })
})

test('should send duplicates inside one embedMany once', async (t) => {
  const server = await serve(t)
  const cache = new CachedEmbedder(provider(server))
  const input = ['a', 'b', 'a', 'c', 'b', 'a']
  const vectors = await cache.embedMany(input)
  assertVectors(t, input, vectors, 8)
  t.deepEqual(server.embedRequests[0]?.inputs, ['a', 'b', 'c'])
  t.not(vectors[0], vectors[2], 'each position gets its own array')
  t.like(cache.stats, { misses: 3, hits: 3 })
})

test('should share one in-flight call between concurrent callers of the same text', async (t) => {
  const server = await serve(t, { latencyMs: 50 })
  const cache = new CachedEmbedder(provider(server))
  const [a, b, c] = await Promise.all([cache.embed('same'), cache.embed('same'), cache.embedMany(['same', 'other'])])
  t.is(server.embedRequests.length, 2)
  t.deepEqual(server.embedRequests.flatMap((r) => r.inputs).sort(), ['other', 'same'])
  t.deepEqual(Array.from(a), Array.from(b))
  t.deepEqual(Array.from(a), Array.from(c?.[0] ?? []))
})

test('should keep a waiting caller going when the caller it shared with aborts', async (t) => {
  const server = await serve(t, { latencyMs: 100 })
  const cache = new CachedEmbedder(provider(server))
  const controller = new AbortController()
  const first = cache.embed('shared text', { signal: controller.signal })
  const second = cache.embed('shared text')
  setImmediate(() => controller.abort()) // both calls are registered by now; the response is 100 ms away
  await t.throwsAsync(first, { instanceOf: EmbeddingAbortedError })
  const v = await second
  assertVectors(t, ['shared text'], [v], 8)
  t.is(cache.stats.inFlight, 0)
})

test('should key on provider, endpoint, model, dimensions, normalisation and exact text', (t) => {
  const base = { apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1' }
  const key = (e: OpenAIEmbedder | LocalEmbedder, text = 'hello') => new CachedEmbedder(e).key(text)
  const ref = key(new OpenAIEmbedder({ ...base, model: 'text-embedding-3-small', dimensions: 256 }))
  t.is(ref, key(new OpenAIEmbedder({ ...base, model: 'text-embedding-3-small', dimensions: 256 })))
  t.regex(ref, /^[A-Za-z0-9_-]{43}$/)
  const others = [
    key(new OpenAIEmbedder({ ...base, model: 'text-embedding-3-small', dimensions: 256 }), 'hello '),
    key(new OpenAIEmbedder({ ...base, model: 'text-embedding-3-small', dimensions: 512 })),
    key(new OpenAIEmbedder({ ...base, model: 'text-embedding-3-large', dimensions: 256 })),
    key(new OpenAIEmbedder({ ...base, model: 'text-embedding-3-small', dimensions: 256, normalize: true })),
    key(new OpenAIEmbedder({ ...base, baseURL: 'http://127.0.0.1:10/v1', model: 'text-embedding-3-small', dimensions: 256 })),
    key(new LocalEmbedder({ api: 'openai-compatible', baseURL: base.baseURL, model: 'text-embedding-3-small', dimensions: 256 })),
  ]
  t.is(new Set([ref, ...others]).size, others.length + 1)
})

test('should evict least recently used entries by count and by bytes', async (t) => {
  const server = await serve(t)
  const byCount = new CachedEmbedder(provider(server), { maxEntries: 3 })
  await byCount.embedMany(['a', 'b', 'c'])
  await byCount.embed('a') // a is now the most recent
  await byCount.embed('d') // evicts b
  t.is(byCount.stats.entries, 3)
  const before = server.embedRequests.length
  await byCount.embedMany(['a', 'c', 'd'])
  t.is(server.embedRequests.length, before)
  await byCount.embed('b')
  t.is(server.embedRequests.length, before + 1)

  // 8 floats = 32 bytes + a 43-character key (86 bytes) = 118 bytes per entry: 2 fit in 300.
  const byBytes = new CachedEmbedder(provider(server), { maxBytes: 300 })
  await byBytes.embedMany(['p', 'q', 'r', 's'])
  t.is(byBytes.stats.entries, 2)
  t.true(byBytes.stats.bytes <= 300)
  t.throws(() => new CachedEmbedder(provider(server), { maxEntries: 0 }), { message: /maxEntries/ })
})

test('should hand out copies, so a caller mutating a vector cannot corrupt the cache', async (t) => {
  const server = await serve(t)
  const cache = new CachedEmbedder(provider(server))
  const v = await cache.embed('x')
  v.fill(0)
  assertVectors(t, ['x'], [await cache.embed('x')], 8)
})

test('should persist to SQLite and survive a restart (new instance on the same file)', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'embeddings.db')
  const input = texts(50)
  const first = await serve(t)
  const a = new CachedEmbedder(provider(first), { store: file })
  await a.embedMany(input)
  await a.close()
  t.is(first.embedRequests.length, 1)

  // Same endpoint (the key includes it), a fresh instance: any request would fail loudly.
  first.faults.push({ kind: 'status', status: 500, body: 'must not be called' })
  const b = new CachedEmbedder(provider(first), { store: file })
  assertVectors(t, input, await b.embedMany(input), 8)
  t.is(first.embedRequests.length, 1)
  t.like(b.stats, { hits: 50, storeHits: 50, misses: 0 })

  // Another dimension is another identity: nothing is shared.
  first.faults.length = 0
  first.dims = 4
  const c = new CachedEmbedder(provider(first, { dimensions: 4 }), { store: file })
  await c.embed('text number 1')
  t.is(first.embedRequests.length, 2)
  await Promise.all([b.close(), c.close()])

  const store = await SqliteEmbeddingStore.open(file)
  t.is(store.count(), 51)
  store.close()
})

test('should survive a restart of the process', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'embeddings.db')
  const server = await serve(t)
  const input = texts(10, 'persisted')
  const module = pathToFileURL(join(process.cwd(), 'src/embed/index.ts')).href
  const script = `
    import { CachedEmbedder, OpenAIEmbedder } from ${JSON.stringify(module)}
    const e = new CachedEmbedder(new OpenAIEmbedder({ model: 'text-embedding-3-small', dimensions: 8,
      baseURL: ${JSON.stringify(`${server.url}/v1`)}, apiKey: 'test-key' }), { store: ${JSON.stringify(file)} })
    await e.embedMany(${JSON.stringify(input)})
    await e.close()
    console.log(JSON.stringify(e.stats))`
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(stdout),
    ),
  )
  t.like(JSON.parse(out), { misses: 10 })
  t.is(server.embedRequests.length, 1)

  const again = new CachedEmbedder(provider(server), { store: file })
  assertVectors(t, input, await again.embedMany(input), 8)
  t.is(server.embedRequests.length, 1)
  await again.close()
})

test('should keep finished batches when another batch fails, so the retry sends only the rest', async (t) => {
  const server = await serve(t)
  const inner = provider(server, { limits: { maxBatchSize: 5, concurrency: 1 } })
  server.faults.push(
    { kind: 'floats' },
    { kind: 'floats' },
    { kind: 'status', status: 500, body: { error: { message: 'The server had an error' } } },
  )
  const e = new RetryEmbedder(new CachedEmbedder(inner), FAST_RETRY)
  const input = texts(20)
  assertVectors(t, input, await e.embedMany(input), 8)
  // 2 good batches, 1 failed, then only the 10 missing inputs: 5 requests, 25 inputs sent.
  t.like(e.usage, { requests: 5, inputs: 25, retries: 1 })
})

test('should re-send only the missing inputs on retry even without a cache', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'floats' }, { kind: 'status', status: 503, body: 'overloaded' })
  const e = createEmbedder({
    provider: 'openai',
    model: 'text-embedding-3-small',
    dimensions: 8,
    baseURL: `${server.url}/v1`,
    apiKey: 'test-key',
    cache: false,
    retry: FAST_RETRY,
    limits: { maxBatchSize: 4, concurrency: 1 },
  })
  const input = texts(12)
  assertVectors(t, input, await e.embedMany(input), 8)
  t.like(e.usage, { requests: 4, inputs: 16, retries: 1 })
})

test('should refuse a store file that cannot be opened, before sending anything', async (t) => {
  const server = await serve(t)
  const dir = tempDir(t)
  const cache = new CachedEmbedder(provider(server), { store: join(dir, 'missing-dir', 'e.db') })
  const err = await t.throwsAsync(cache.embed('x'), { instanceOf: InvalidInputError })
  t.is(err?.code, 'ERR_INVALID_ARGUMENT')
  t.regex(err?.message ?? '', /cache\.store: cannot open .*missing-dir/)
  t.is(server.requests.length, 0)
})

test('should keep working when the persistent store fails', async (t) => {
  const server = await serve(t)
  const broken: EmbeddingStore = {
    getMany: () => {
      throw new Error('disk on fire')
    },
    setMany: () => Promise.reject(new Error('disk still on fire')),
    close: () => undefined,
  }
  const cache = new CachedEmbedder(provider(server), { store: broken })
  assertVectors(t, ['a', 'b'], await cache.embedMany(['a', 'b']), 8)
  await cache.flush()
  t.is(cache.stats.storeErrors, 2)
  t.regex((cache.lastStoreError as Error).message, /disk still on fire/)
})

test('should answer a retried call from what a concurrent caller cached meanwhile', async (t) => {
  const server = await serve(t, { latencyMs: 30 })
  const e = openaiStack(server, { retry: { retries: 2, initialDelayMs: 1000, random: () => 0.99 } })
  server.faults.push({ kind: 'status', status: 500, body: 'first attempt fails' })
  const failing = e.embed('popular') // fails, sleeps ~990 ms, retries
  await new Promise((r) => setTimeout(r, 60))
  await e.embed('popular') // a second caller fetches it meanwhile
  await failing
  t.is(server.embedRequests.length, 2, 'the retry was answered from the cache')
})
