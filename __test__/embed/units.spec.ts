// Pure functions and option checks of the embedding layer: no server needed.
import test from 'ava'
import { classifyHttpError, parseDuration, parseErrorBody, retryAfterHint } from '../../src/embed/classify.js'
import {
  AuthenticationError,
  createEmbedder,
  EmbedderStack,
  EmbeddingError,
  InputTooLongError,
  InvalidRequestError,
  normalize,
  QuotaExceededError,
  RateLimitError,
  RetryEmbedder,
  ServerError,
  truncate,
  CachedEmbedder,
  OpenAIEmbedder,
  LocalEmbedder,
  EmbeddingTimeoutError,
} from '../../src/embed/index.js'
import { decodeBase64Float32 } from '../../src/embed/openai.js'
import { FerrovecError, InvalidInputError } from '../../src/errors.js'

test('parseDuration reads the x-ratelimit-reset and "try again in" formats', (t) => {
  t.is(parseDuration('20ms'), 20)
  t.is(parseDuration('2.8s'), 2800)
  t.is(parseDuration('6m0s'), 360_000)
  t.is(parseDuration('1h2m3.5s'), 3_723_500)
  t.is(parseDuration('soon'), undefined)
  t.is(parseDuration('5s later'), undefined)
  t.is(parseDuration(''), undefined)
})

test('retryAfterHint prefers retry-after-ms, then Retry-After (seconds or date), then the message', (t) => {
  const h = (o: Record<string, string>) => new Headers(o)
  t.is(retryAfterHint(h({ 'retry-after-ms': '1500', 'retry-after': '9' }), 'try again in 7s'), 1500)
  t.is(retryAfterHint(h({ 'retry-after': '2' }), 'try again in 7s'), 2000)
  const now = Date.parse('2026-01-01T00:00:00Z')
  t.is(retryAfterHint(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), undefined, now), 3000)
  t.is(retryAfterHint(h({}), 'Rate limit reached. Please try again in 2.8s. Visit …'), 2800)
  t.is(retryAfterHint(h({}), 'Please try again in 120ms.'), 120)
  t.is(retryAfterHint(h({}), 'Please try again later.'), undefined)
  t.is(retryAfterHint({ 'retry-after': '1' }, undefined), 1000)
})

test('parseErrorBody reads every dialect', (t) => {
  t.like(parseErrorBody({ error: { message: 'm', type: 'invalid_request_error', code: 'c' } }), { message: 'm', code: 'c' })
  t.like(parseErrorBody({ error: 'Model is overloaded', error_type: 'Overloaded' }), { message: 'Model is overloaded', code: 'Overloaded' })
  t.like(parseErrorBody({ message: 'm', code: 429, type: 'Overloaded' }), { message: 'm', type: 'Overloaded' })
  t.like(parseErrorBody('{"error":"model not found"}'), { message: 'model not found' })
  t.like(parseErrorBody('<html>Bad Gateway</html>'), { message: '<html>Bad Gateway</html>' })
})

test('classifyHttpError picks the class that says what to do', (t) => {
  const c = (status: number, body?: unknown, headers?: Record<string, string>) =>
    classifyHttpError({ provider: 'p', status, body, headers: new Headers(headers) })
  t.true(c(401) instanceof AuthenticationError)
  t.true(c(403) instanceof AuthenticationError)
  t.true(c(429, { error: { code: 'insufficient_quota', message: 'quota' } }) instanceof QuotaExceededError)
  const rl = c(429, { error: { message: 'Please try again in 1.5s.' } })
  t.true(rl instanceof RateLimitError)
  t.is((rl as RateLimitError).retryAfterMs, 1500)
  t.true(c(400, { error: { code: 'context_length_exceeded', message: 'x' } }) instanceof InputTooLongError)
  t.true(c(422, 'Input validation error: `inputs` must have less than 512 tokens. Given: 700') instanceof InputTooLongError)
  t.true(c(400, { error: { message: 'bad' } }) instanceof InvalidRequestError)
  t.true(c(404) instanceof InvalidRequestError)
  t.true(c(408) instanceof EmbeddingTimeoutError)
  for (const s of [409, 424, 500, 502, 503, 504]) t.true(c(s) instanceof ServerError, `HTTP ${s}`)
  const e = c(500, { error: { message: 'The server had an error' } })
  t.true(e instanceof FerrovecError)
  t.true(e instanceof EmbeddingError)
  t.like(e, { provider: 'p', status: 500, serverMessage: 'The server had an error', retryable: true })
  t.is(e.name, 'ServerError')
})

test('decodeBase64Float32 decodes into an aligned Float32Array and rejects partial floats', (t) => {
  const v = new Float32Array([1.5, -2.25, 3.125])
  const b64 = Buffer.from(v.buffer).toString('base64')
  t.deepEqual(Array.from(decodeBase64Float32(b64) ?? []), [1.5, -2.25, 3.125])
  t.is(decodeBase64Float32(Buffer.from([1, 2, 3]).toString('base64')), undefined)
  t.is(decodeBase64Float32(''), undefined)
  t.is(decodeBase64Float32('****' + b64.slice(4)), undefined)
})

test('normalize returns a unit vector and rejects what has no direction', (t) => {
  const n = normalize([3, 4])
  t.true(n instanceof Float32Array)
  t.deepEqual(Array.from(n), [0.6000000238418579, 0.800000011920929])
  const err = t.throws(() => normalize([0, 0]), { instanceOf: InvalidInputError })
  t.is(err?.code, 'ERR_INVALID_VECTOR')
  t.throws(() => normalize([1, Number.NaN]), { message: /component 1 is NaN/ })
  t.throws(() => normalize([]), { message: /empty/ })
})

test('truncate keeps a Matryoshka prefix and re-normalises it', (t) => {
  const v = normalize([1, 2, 3, 4])
  const cut = truncate(v, 2)
  t.is(cut.length, 2)
  const norm = Math.hypot(...cut)
  t.true(Math.abs(norm - 1) < 1e-6)
  t.true(Math.abs((cut[0] as number) / (cut[1] as number) - 0.5) < 1e-6)
  t.throws(() => truncate(v, 5), { instanceOf: InvalidInputError, message: /from 1 to 4/ })
  t.throws(() => truncate(v, 1.5), { message: /integer/ })
})

test('createEmbedder builds Retry(Cache(Provider)) and checks its config', (t) => {
  const base = { model: 'text-embedding-3-small', apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1' }
  const s = createEmbedder({ provider: 'openai', ...base })
  t.true(s instanceof EmbedderStack)
  t.true(s.retry instanceof RetryEmbedder)
  t.true(s.retry?.inner instanceof CachedEmbedder)
  t.true(s.cache?.inner instanceof OpenAIEmbedder)
  t.is(s.dimensions, 1536)
  t.deepEqual(s.identity, {
    provider: 'openai',
    baseURL: 'http://127.0.0.1:9/v1',
    model: 'text-embedding-3-small',
    dimensions: undefined,
    normalize: false,
  })
  const bare = createEmbedder({ provider: 'ollama', model: 'nomic-embed-text', cache: false, retry: false })
  t.is(bare.retry, undefined)
  t.is(bare.cache, undefined)
  t.true(bare.base instanceof LocalEmbedder)
  t.is(bare.base.baseURL, 'http://127.0.0.1:11434')
  t.throws(() => createEmbedder({ provider: 'cohere' as 'openai', model: 'x' }), {
    instanceOf: InvalidInputError,
    message: /provider must be/,
  })
  t.throws(() => createEmbedder({ provider: 'tei', model: 'm', retry: { retries: -1 } }), { message: /retry.retries/ })
  t.throws(() => createEmbedder({ provider: 'tei', model: 'm', limits: { requestsPerMinute: 0 } }), {
    message: /requestsPerMinute/,
  })
})

test('RetryEmbedder full jitter stays under the capped exponential bound', (t) => {
  const inner = createEmbedder({ provider: 'tei', model: 'm', retry: false, cache: false })
  let r = 0.999999
  const retry = new RetryEmbedder(inner, { initialDelayMs: 1000, multiplier: 2, maxDelayMs: 30_000, random: () => r })
  const err = new ServerError('x')
  t.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((a) => retry.delayFor(a, err)),
    [999, 1999, 3999, 7999, 15_999, 29_999, 29_999],
  )
  r = 0
  t.is(retry.delayFor(3, err), 0)
  t.is(retry.delayFor(1, new RateLimitError('x', 2800)), 2800, 'a server hint replaces the computed delay')
})

test('RetryEmbedder gives up at once when the server hint points past the deadline', async (t) => {
  const { EmbeddingTestServer } = await import('./server.js')
  const server = await EmbeddingTestServer.start()
  t.teardown(() => server.close())
  server.faults.push({ kind: 'status', status: 429, body: { error: { message: 'wait' } }, headers: { 'retry-after': '600' } })
  const e = createEmbedder({
    provider: 'openai',
    model: 'text-embedding-3-small',
    dimensions: 8,
    baseURL: `${server.url}/v1`,
    apiKey: 'test-key',
    retry: { deadlineMs: 5000 },
  })
  const started = Date.now()
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: RateLimitError })
  t.is(err?.retryAfterMs, 600_000)
  t.true(Date.now() - started < 1000)
  t.is(server.embedRequests.length, 1)
})
