import test from 'ava'
import {
  AuthenticationError,
  BadResponseError,
  ConnectionError,
  EmbeddingTimeoutError,
  InputTooLongError,
  InvalidRequestError,
  OpenAIEmbedder,
  QuotaExceededError,
  RateLimitError,
  ServerError,
} from '../../src/embed/index.js'
import { InvalidInputError } from '../../src/errors.js'
import { assertVectors, openaiStack, serve, texts } from './helpers.js'

test('should embed through the openai SDK with base64 transport and no SDK retries', async (t) => {
  const server = await serve(t)
  const e = openaiStack(server)
  const input = texts(5)
  const vectors = await e.embedMany(input)
  assertVectors(t, input, vectors, 8)
  t.true(vectors.every((v) => v instanceof Float32Array))
  const [req] = server.embedRequests
  t.is(req?.body.encoding_format, 'base64')
  t.is(req?.body.dimensions, 8)
  t.is(req?.body.model, 'text-embedding-3-small')
  t.regex(String(req?.headers['user-agent']), /OpenAI\/JS/)
  t.is(req?.headers['x-stainless-retry-count'], '0')
  t.like(e.usage, { requests: 1, inputs: 5, inputTokens: 15 })
})

test('should detect float arrays where base64 was asked and still decode them', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'floats' })
  const e = openaiStack(server)
  const input = texts(3)
  assertVectors(t, input, await e.embedMany(input), 8)
  t.is((e.base as OpenAIEmbedder).floatFallbacks, 1)
})

test('should put a shuffled index order back in input order', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'shuffle' })
  const e = openaiStack(server)
  const input = texts(6)
  assertVectors(t, input, await e.embedMany(input), 8)
})

for (const [fault, pattern] of [
  [{ kind: 'short' }, /returned 2 embeddings for 3 inputs/],
  [{ kind: 'wrongDimension', dims: 4 }, /4-dimension vector where 8 dimensions were expected/],
  [{ kind: 'nan' }, /NaN/],
  [{ kind: 'duplicateIndex' }, /index 0 twice/],
] as const) {
  test(`should reject a bad response (${fault.kind}) with ERR_EMBEDDING_BAD_RESPONSE and not retry it`, async (t) => {
    const server = await serve(t)
    server.faults.push(fault)
    const e = openaiStack(server)
    const err = await t.throwsAsync(e.embedMany(texts(3)), { instanceOf: BadResponseError })
    t.is(err?.code, 'ERR_EMBEDDING_BAD_RESPONSE')
    t.regex(err?.message ?? '', pattern)
    t.is(server.embedRequests.length, 1)
  })
}

test('should refuse to start without an API key, naming OPENAI_API_KEY', (t) => {
  const saved = process.env.OPENAI_API_KEY
  delete process.env.OPENAI_API_KEY
  try {
    const err = t.throws(() => new OpenAIEmbedder({ model: 'text-embedding-3-small' }), { instanceOf: AuthenticationError })
    t.is(err?.code, 'ERR_EMBEDDING_AUTH')
    t.regex(err?.message ?? '', /OPENAI_API_KEY/)
  } finally {
    if (saved !== undefined) process.env.OPENAI_API_KEY = saved
  }
})

test('should take the API key from OPENAI_API_KEY when none is passed', async (t) => {
  const server = await serve(t)
  const saved = process.env.OPENAI_API_KEY
  process.env.OPENAI_API_KEY = 'test-key'
  try {
    const e = new OpenAIEmbedder({ model: 'text-embedding-3-small', dimensions: 8, baseURL: `${server.url}/v1` })
    t.is((await e.embed('hello')).length, 8)
  } finally {
    if (saved === undefined) delete process.env.OPENAI_API_KEY
    else process.env.OPENAI_API_KEY = saved
  }
})

test('should know model dimensions and reject dimensions for ada-002 or beyond the model', (t) => {
  const opts = { apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1' }
  t.is(new OpenAIEmbedder({ ...opts, model: 'text-embedding-3-large' }).dimensions, 3072)
  t.is(new OpenAIEmbedder({ ...opts, model: 'text-embedding-ada-002' }).dimensions, 1536)
  t.is(new OpenAIEmbedder({ ...opts, model: 'text-embedding-3-small', dimensions: 256 }).dimensions, 256)
  const ada = t.throws(() => new OpenAIEmbedder({ ...opts, model: 'text-embedding-ada-002', dimensions: 512 }), {
    instanceOf: InvalidInputError,
  })
  t.is(ada?.code, 'ERR_INVALID_ARGUMENT')
  t.regex(ada?.message ?? '', /fixed size of 1536/)
  t.throws(() => new OpenAIEmbedder({ ...opts, model: 'text-embedding-3-small', dimensions: 2000 }), {
    message: /at most 1536/,
  })
  t.throws(() => new OpenAIEmbedder({ ...opts, model: 'text-embedding-3-small', dimensions: 0 }), {
    message: /positive integer/,
  })
  t.throws(() => new OpenAIEmbedder({ ...opts, model: 'text-embedding-3-small', timeout: -1 }), { message: /timeout/ })
})

test('should map 401 to AuthenticationError with the server message, tried once', async (t) => {
  const server = await serve(t)
  const e = openaiStack(server, { apiKey: 'wrong-key' })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: AuthenticationError })
  t.is(err?.code, 'ERR_EMBEDDING_AUTH')
  t.is(err?.status, 401)
  t.is(err?.provider, 'openai')
  t.regex(err?.serverMessage ?? '', /Incorrect API key/)
  t.is(server.embedRequests.length, 1)
  t.is(e.usage.retries, 0)
})

test('should map insufficient_quota 429 to QuotaExceededError and never retry it', async (t) => {
  const server = await serve(t)
  server.faults.push({
    kind: 'status',
    status: 429,
    body: {
      error: {
        message: 'You exceeded your current quota, please check your plan and billing details.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    },
  })
  const e = openaiStack(server)
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: QuotaExceededError })
  t.is(err?.code, 'ERR_EMBEDDING_QUOTA')
  t.is(err?.serverCode, 'insufficient_quota')
  t.is(server.embedRequests.length, 1)
})

const rateLimitBody = (msg: string) => ({
  error: { message: msg, type: 'tokens', param: null, code: 'rate_limit_exceeded' },
})

test.serial('should honour retry-after-ms on a 429 and then succeed', async (t) => {
  const server = await serve(t)
  server.faults.push({
    kind: 'status',
    status: 429,
    body: rateLimitBody('Rate limit reached for text-embedding-3-small on requests per min (RPM).'),
    headers: { 'retry-after-ms': '150', 'retry-after': '20' },
  })
  const delays: number[] = []
  const e = openaiStack(server, { retry: { initialDelayMs: 5000, retries: 3, onRetry: (i) => delays.push(i.delayMs) } })
  const v = await e.embed('hello')
  t.is(v.length, 8)
  t.deepEqual(delays, [150], 'retry-after-ms wins over Retry-After and over the computed backoff')
  const [a, b] = server.embedRequests
  const gap = (b?.at ?? 0) - (a?.at ?? 0)
  t.true(gap >= 140 && gap < 5000, `waited ${gap} ms; retry-after-ms said 150 (Retry-After said 20 s)`)
  t.is(e.usage.retries, 1)
})

test.serial('should honour Retry-After in seconds on a 429', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'status', status: 429, body: rateLimitBody('Rate limit reached.'), headers: { 'retry-after': '1' } })
  const delays: number[] = []
  const e = openaiStack(server, { retry: { initialDelayMs: 10, retries: 1, onRetry: (i) => delays.push(i.delayMs) } })
  await e.embed('hello')
  t.deepEqual(delays, [1000])
  const [a, b] = server.embedRequests
  const gap = (b?.at ?? 0) - (a?.at ?? 0)
  t.true(gap >= 990 && gap < 10_000, `waited ${gap} ms for Retry-After: 1`)
})

test.serial('should read "try again in 0.25s" from the 429 message when there are no headers', async (t) => {
  const server = await serve(t)
  server.faults.push({
    kind: 'status',
    status: 429,
    body: rateLimitBody(
      'Rate limit reached for text-embedding-3-small in organization org-x on tokens per min (TPM): Limit 1000000, Used 999000, Requested 5000. Please try again in 0.25s. Visit https://platform.openai.com/account/rate-limits to learn more.',
    ),
  })
  const delays: number[] = []
  const e = openaiStack(server, { retry: { initialDelayMs: 5000, retries: 1, onRetry: (i) => delays.push(i.delayMs) } })
  await e.embed('hello')
  t.deepEqual(delays, [250])
  const [a, b] = server.embedRequests
  const gap = (b?.at ?? 0) - (a?.at ?? 0)
  t.true(gap >= 240 && gap < 5000, `waited ${gap} ms for "try again in 0.25s"`)
})

test.serial('should back off with full jitter when a 429 gives no hint, and give up after the retries', async (t) => {
  const server = await serve(t)
  for (let i = 0; i < 4; i++) server.faults.push({ kind: 'status', status: 429, body: rateLimitBody('Rate limit reached.') })
  const delays: number[] = []
  // random() = 0.999: each sleep is just under its bound, 40, 80, 160 ms.
  const e = openaiStack(server, {
    retry: { initialDelayMs: 40, retries: 3, random: () => 0.999, onRetry: (i) => delays.push(i.delayMs) },
  })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: RateLimitError })
  t.is(err?.code, 'ERR_EMBEDDING_RATE_LIMIT')
  t.is(err?.retryAfterMs, undefined)
  t.deepEqual(delays, [39, 79, 159])
  t.is(server.embedRequests.length, 4)
  const at = server.embedRequests.map((r) => r.at)
  for (let i = 1; i < at.length; i++) {
    const gap = (at[i] as number) - (at[i - 1] as number)
    t.true(gap >= (delays[i - 1] as number) - 2, `gap ${i} was ${gap} ms, sleep ${delays[i - 1]} ms`)
  }
})

test('should map a 400 context-length error to InputTooLongError and not retry it', async (t) => {
  const server = await serve(t)
  server.faults.push({
    kind: 'status',
    status: 400,
    body: {
      error: {
        message:
          "This model's maximum context length is 8192 tokens, however you requested 9000 tokens (9000 in your prompt; 0 for the completion). Please reduce your prompt; or completion length.",
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    },
  })
  const e = openaiStack(server)
  const err = await t.throwsAsync(e.embed('long'), { instanceOf: InputTooLongError })
  t.is(err?.code, 'ERR_EMBEDDING_INPUT_TOO_LONG')
  t.is(err?.status, 400)
  t.is(server.embedRequests.length, 1)
})

for (const status of [400, 403, 404, 413, 422]) {
  test(`should never retry HTTP ${status}`, async (t) => {
    const server = await serve(t)
    server.faults.push({ kind: 'status', status, body: { error: { message: `refused with ${status}`, type: 'invalid_request_error' } } })
    const e = openaiStack(server)
    const err = await t.throwsAsync(e.embed('x'))
    t.is(err?.constructor, status === 403 ? AuthenticationError : InvalidRequestError)
    t.is((err as InvalidRequestError).status, status)
    t.is((err as InvalidRequestError).serverMessage, `refused with ${status}`)
    t.is(server.embedRequests.length, 1)
  })
}

test('should retry 500, 502, 503, 408 and 409 and then succeed', async (t) => {
  const server = await serve(t)
  for (const status of [500, 503]) server.faults.push({ kind: 'status', status, body: { error: { message: 'boom' } } })
  const e = openaiStack(server, { retry: { ...FAST, retries: 3 } })
  t.is((await e.embed('x')).length, 8)
  t.is(server.embedRequests.length, 3)
  for (const status of [408, 409, 502]) server.faults.push({ kind: 'status', status, body: 'upstream trouble' })
  t.is((await e.embed('y')).length, 8)
  t.is(server.embedRequests.length, 7)
  t.is(e.usage.retries, 5)
})

const FAST = { initialDelayMs: 10, maxDelayMs: 50 }

test('should give up on a persistent 500 after exactly 1 + retries attempts', async (t) => {
  const server = await serve(t)
  for (let i = 0; i < 10; i++) server.faults.push({ kind: 'status', status: 500, body: { error: { message: 'The server had an error' } } })
  const e = openaiStack(server, { retry: { ...FAST, retries: 2 } })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: ServerError })
  t.is(err?.code, 'ERR_EMBEDDING_SERVER')
  t.is(err?.status, 500)
  t.is(server.embedRequests.length, 3)
})

// Timing-sensitive tests run serially (before the concurrent ones) and count attempts on the client
// (`usage.requests`): on a loaded machine a request can time out before the server even sees it.
test.serial('should time out a hanging request and retry it', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'hang' }, { kind: 'hang' })
  const e = openaiStack(server, { timeout: 600, retry: { ...FAST, retries: 2 } })
  const started = Date.now()
  t.is((await e.embed('x')).length, 8)
  const took = Date.now() - started
  t.true(took >= 2 * 590, `took ${took} ms: two attempts hit the 600 ms timeout`)
  t.is(e.usage.requests, 3)
  t.is(e.usage.retries, 2)
})

test.serial('should fail with EmbeddingTimeoutError when every attempt hangs', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' })
  const e = openaiStack(server, { timeout: 600, retry: { ...FAST, retries: 1 } })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: EmbeddingTimeoutError })
  t.is(err?.code, 'ERR_EMBEDDING_TIMEOUT')
  t.is(e.usage.requests, 2)
})

test('should map a dropped connection to ConnectionError and retry it', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'drop' }, { kind: 'dropMidBody' })
  const e = openaiStack(server, { retry: { ...FAST, retries: 2 } })
  t.is((await e.embed('x')).length, 8)
  t.is(server.embedRequests.length, 3)

  server.faults.push({ kind: 'drop' })
  const once = openaiStack(server, { retry: false, cache: false })
  const err = await t.throwsAsync(once.embed('z'), { instanceOf: ConnectionError })
  t.is(err?.code, 'ERR_EMBEDDING_CONNECTION')
})

test('should report health from the models endpoint', async (t) => {
  const server = await serve(t)
  const h = await openaiStack(server).health()
  t.true(h.ok)
  t.regex(h.detail ?? '', /text-embedding-3-small/)
  const bad = await openaiStack(server, { apiKey: 'nope' }).health()
  t.false(bad.ok)
})
