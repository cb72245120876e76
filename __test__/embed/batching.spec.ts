// Timing-sensitive tests run serially (ava runs them before the concurrent ones), so the 10,000-text
// tests do not share the event loop with them.
import test from 'ava'
import { EmbeddingAbortedError, InvalidRequestError, OpenAIEmbedder } from '../../src/embed/index.js'
import { RateLimiter } from '../../src/embed/limiter.js'
import { assertVectors, openaiStack, serve, texts } from './helpers.js'

test('should embed 10,000 texts in order in 2048-input batches', async (t) => {
  const server = await serve(t)
  const e = openaiStack(server, { cache: false })
  const input = texts(10_000)
  const progress: number[] = []
  const vectors = await e.embedMany(input, { onProgress: (p) => progress.push(p.done) })
  assertVectors(t, input, vectors, 8)
  t.deepEqual(
    server.embedRequests.map((r) => r.inputs.length).sort((a, b) => b - a),
    [2048, 2048, 2048, 2048, 1808],
  )
  t.is(progress.length, 5)
  t.is(progress.at(-1), 10_000)
  t.true(progress.every((d, i) => i === 0 || d > (progress[i - 1] as number)))
})

test('should fail 10,000 texts with a clear error when one batch keeps failing', async (t) => {
  const server = await serve(t)
  for (let i = 0; i < 3; i++) server.faults.push({ kind: 'short' })
  const e = openaiStack(server, { cache: false, limits: { concurrency: 1 } })
  const err = await t.throwsAsync(e.embedMany(texts(10_000)))
  t.is((err as { code?: string }).code, 'ERR_EMBEDDING_BAD_RESPONSE')
  t.regex(err?.message ?? '', /returned 2047 embeddings for 2048 inputs/)
  // concurrency 1: the pool stops at the first failure and starts no further batch.
  t.is(server.embedRequests.length, 1)
})

test('should reject empty strings and non-strings before sending anything', async (t) => {
  const server = await serve(t)
  const e = openaiStack(server)
  const err = await t.throwsAsync(e.embedMany(['a', '', 'c']), { instanceOf: InvalidRequestError })
  t.is(err?.code, 'ERR_EMBEDDING_INVALID_REQUEST')
  t.is(err?.index, 1)
  t.regex(err?.message ?? '', /input 1 is an empty string/)
  await t.throwsAsync(e.embedMany(['a', 42 as unknown as string]), { message: /input 1 is number/ })
  await t.throwsAsync(e.embed(''), { instanceOf: InvalidRequestError })
  t.is(server.requests.length, 0)
  t.deepEqual(await e.embedMany([]), [])
})

test.serial('should run batches through a sliding window of `concurrency` requests', async (t) => {
  const server = await serve(t, { latencyMs: 40 })
  const e = openaiStack(server, { cache: false, limits: { maxBatchSize: 10, concurrency: 3 } })
  const started = Date.now()
  assertVectors(t, texts(100), await e.embedMany(texts(100)), 8)
  t.is(server.embedRequests.length, 10)
  t.is(server.maxInFlight, 3)
  // 10 batches, 3 at a time, 40 ms each: at least 4 rounds.
  t.true(Date.now() - started >= 4 * 40 - 5)
})

test.serial('should share the concurrency window between concurrent calls of one embedder', async (t) => {
  const server = await serve(t, { latencyMs: 30 })
  const e = openaiStack(server, { cache: false, limits: { maxBatchSize: 5, concurrency: 2 } })
  const calls = [texts(20, 'a'), texts(20, 'b'), texts(20, 'c')].map((x) => e.embedMany(x))
  const single = Array.from({ length: 6 }, (_, i) => e.embed(`single ${i}`))
  await Promise.all([...calls, ...single])
  t.is(server.embedRequests.length, 18)
  t.is(server.maxInFlight, 2)
})

test.serial('should stop all pending work when aborted', async (t) => {
  const server = await serve(t, { latencyMs: 1000 })
  const e = openaiStack(server, { cache: false, limits: { maxBatchSize: 10, concurrency: 2 } })
  const controller = new AbortController()
  const call = e.embedMany(texts(100), { signal: controller.signal })
  // Abort once both windows are busy (polling keeps this independent of how loaded the machine is).
  for (let i = 0; i < 200 && server.embedRequests.length < 2; i++) await new Promise((r) => setTimeout(r, 5))
  const abortedAt = Date.now()
  controller.abort(new Error('user cancelled'))
  const err = await t.throwsAsync(call, { instanceOf: EmbeddingAbortedError })
  t.is(err?.code, 'ERR_EMBEDDING_ABORTED')
  t.is((err?.cause as Error).message, 'user cancelled')
  t.true(Date.now() - abortedAt < 500, 'rejected promptly, not after the 1000 ms responses')
  await new Promise((r) => setTimeout(r, 1100))
  t.is(server.embedRequests.length, 2, 'no batch started after the abort')
  t.is(server.inFlight, 0, 'the requests in flight were cancelled')
})

test.serial('should abort during a retry sleep at once', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'status', status: 429, body: { error: { message: 'slow down' } }, headers: { 'retry-after-ms': '20000' } })
  const controller = new AbortController()
  let abortedAt = 0
  const e = openaiStack(server, {
    retry: {
      retries: 3,
      deadlineMs: 60_000,
      // Abort 50 ms into the 20 s backoff.
      onRetry: () => void setTimeout(() => ((abortedAt = Date.now()), controller.abort()), 50),
    },
  })
  await t.throwsAsync(e.embed('x', { signal: controller.signal }), { instanceOf: EmbeddingAbortedError })
  t.true(abortedAt > 0 && Date.now() - abortedAt < 1000, 'not after the 20 s backoff')
  t.is(server.embedRequests.length, 1)
})

test('should reject an already-aborted signal without a request', async (t) => {
  const server = await serve(t)
  await t.throwsAsync(openaiStack(server).embed('x', { signal: AbortSignal.abort() }), { instanceOf: EmbeddingAbortedError })
  t.is(server.requests.length, 0)
})

test.serial('should pause when x-ratelimit-remaining-requests reaches 0 until the reset', async (t) => {
  const server = await serve(t, {
    successHeaders: {
      'x-ratelimit-limit-requests': '3000',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '300ms',
      'x-ratelimit-limit-tokens': '1000000',
      'x-ratelimit-remaining-tokens': '999000',
      'x-ratelimit-reset-tokens': '60ms',
    },
  })
  const e = new OpenAIEmbedder({
    model: 'text-embedding-3-small',
    dimensions: 8,
    baseURL: `${server.url}/v1`,
    apiKey: 'test-key',
    limits: { maxBatchSize: 5, concurrency: 1 },
  })
  await e.embedMany(texts(15))
  const at = server.embedRequests.map((r) => r.at)
  t.is(at.length, 3)
  for (let i = 1; i < at.length; i++) {
    const gap = (at[i] as number) - (at[i - 1] as number)
    t.true(gap >= 280, `request ${i} came ${gap} ms after the previous; the server said reset in 300ms`)
  }
})

test.serial('should hold requests and tokens per minute with token buckets', async (t) => {
  // 6000 requests/min = 100/s after the initial bucket of 6000 is spent.
  const rpm = new RateLimiter({ requestsPerMinute: 6000 })
  let started = Date.now()
  for (let i = 0; i < 6000; i++) await rpm.acquire(1)
  t.true(Date.now() - started < 2000, 'a full bucket lets a burst through (throttled, 6000 would take 60 s)')
  for (let i = 0; i < 20; i++) await rpm.acquire(1)
  // The bucket refills while the burst runs, so measure the whole: 6020 requests need ≥ 20 × 10 ms.
  const took = Date.now() - started
  t.true(took >= 190 && took < 4000, `6000 + 20 requests at 100/s took ${took} ms`)

  const tpm = new RateLimiter({ tokensPerMinute: 60_000 }) // 1000 tokens/s
  await tpm.acquire(60_000)
  started = Date.now()
  await tpm.acquire(300)
  const waited = Date.now() - started
  t.true(waited >= 280 && waited < 2000, `300 tokens at 1000/s waited ${waited} ms`)

  t.throws(() => new RateLimiter({ requestsPerMinute: -1 }), { message: /positive/ })
})

test.serial('should stop waiting for the rate limiter when aborted', async (t) => {
  const limiter = new RateLimiter({ tokensPerMinute: 600 })
  await limiter.acquire(600)
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 50)
  const started = Date.now()
  await t.throwsAsync(limiter.acquire(600, controller.signal), { instanceOf: EmbeddingAbortedError })
  t.true(Date.now() - started < 500)
})
