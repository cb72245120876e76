import test from 'ava'
import {
  BadResponseError,
  ConnectionError,
  createEmbedder,
  InputTooLongError,
  InvalidRequestError,
  LocalEmbedder,
  RateLimitError,
} from '../../src/embed/index.js'
import { InvalidInputError } from '../../src/errors.js'
import { assertVectors, FAST_RETRY, serve, texts } from './helpers.js'
import { EmbeddingTestServer } from './server.js'

const TEI_MODEL = 'BAAI/bge-small-en-v1.5'

test('tei: should read /info, batch by max_client_batch_size and keep order', async (t) => {
  const server = await serve(t, { teiMaxBatch: 4, latencyMs: 5 })
  const e = new LocalEmbedder({ api: 'tei', model: TEI_MODEL, baseURL: server.url })
  const input = texts(10)
  assertVectors(t, input, await e.embedMany(input), 8)
  t.deepEqual(server.requests[0]?.path, '/info')
  t.deepEqual(
    server.embedRequests.map((r) => r.inputs.length).sort(),
    [2, 4, 4],
  )
  const body = server.embedRequests[0]?.body
  t.is(body.truncate, false)
  t.is(body.normalize, true)
  t.is(e.serverInfo?.max_client_batch_size, 4)
  t.is(e.dimensions, 8)
  t.true(e.identity.normalize)
})

test('tei: should refuse a server that serves another model than configured', async (t) => {
  const server = await serve(t, { teiModel: 'intfloat/e5-large-v2' })
  const e = new LocalEmbedder({ api: 'tei', model: TEI_MODEL, baseURL: server.url })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: InvalidRequestError })
  t.regex(err?.message ?? '', /serves intfloat\/e5-large-v2, not BAAI\/bge-small-en-v1.5/)
  t.is(server.embedRequests.length, 0)
})

test('tei: should work behind a gateway without /info, keeping the configured batch size', async (t) => {
  const server = await serve(t, { teiInfo: false, teiMaxBatch: 8 })
  const e = new LocalEmbedder({ api: 'tei', model: TEI_MODEL, baseURL: server.url, limits: { maxBatchSize: 8 } })
  const input = texts(20)
  assertVectors(t, input, await e.embedMany(input), 8)
  t.is(e.serverInfo, undefined)
  t.deepEqual(server.embedRequests.map((r) => r.inputs.length).sort(), [4, 8, 8])
})

test('tei: should map Overloaded (429) to RateLimitError and retry it', async (t) => {
  const server = await serve(t)
  server.faults.push({ kind: 'status', status: 429, body: { error: 'Model is overloaded', error_type: 'Overloaded' } })
  const e = createEmbedder({ provider: 'tei', model: TEI_MODEL, baseURL: server.url, retry: FAST_RETRY })
  t.is((await e.embed('x')).length, 8)
  t.is(server.embedRequests.length, 2)

  server.faults.push({ kind: 'status', status: 429, body: { error: 'Model is overloaded', error_type: 'Overloaded' } })
  const once = createEmbedder({ provider: 'tei', model: TEI_MODEL, baseURL: server.url, retry: false })
  const err = await t.throwsAsync(once.embed('y'), { instanceOf: RateLimitError })
  t.is(err?.serverCode, 'Overloaded')
  t.is(err?.serverMessage, 'Model is overloaded')
})

test('tei: should map 413 validation errors to input-too-long or batch-too-large, never retried', async (t) => {
  const server = await serve(t, { maxInputChars: 50 })
  const e = createEmbedder({ provider: 'tei', model: TEI_MODEL, baseURL: server.url, retry: FAST_RETRY })
  const err = await t.throwsAsync(e.embedMany(['ok', 'x'.repeat(60)]), { instanceOf: InputTooLongError })
  t.is(err?.status, 413)
  t.regex(err?.serverMessage ?? '', /must have less than 512 tokens/)
  t.is(server.embedRequests.length, 1)

  // A server whose batch limit shrank after /info was read.
  server.faults.push({
    kind: 'status',
    status: 413,
    body: { error: 'Input validation error: `inputs` must have less than 2 elements. Given: 3', error_type: 'Validation' },
  })
  const batch = await t.throwsAsync(e.embedMany(['a', 'b', 'c']), { instanceOf: InvalidRequestError })
  t.regex(batch?.message ?? '', /maxBatchSize/)
  t.is(server.embedRequests.length, 2)

  // 'truncate' asks TEI to cut server-side instead.
  const lenient = createEmbedder({ provider: 'tei', model: TEI_MODEL, baseURL: server.url, limits: { overLongInputs: 'truncate' } })
  t.is((await lenient.embed('x'.repeat(60))).length, 8)
  t.is(server.embedRequests.at(-1)?.body.truncate, true)
})

test('tei: should retry a Backend error (424) and a 503', async (t) => {
  const server = await serve(t)
  server.faults.push(
    { kind: 'status', status: 424, body: { error: 'Backend error: CUDA out of memory', error_type: 'Backend' } },
    { kind: 'status', status: 503, body: { error: 'unhealthy', error_type: 'Unhealthy' } },
  )
  const e = createEmbedder({ provider: 'tei', model: TEI_MODEL, baseURL: server.url, retry: FAST_RETRY })
  t.is((await e.embed('x')).length, 8)
  t.is(server.embedRequests.length, 3)
})

test('tei: should report health from /health', async (t) => {
  const server = await serve(t)
  const e = new LocalEmbedder({ api: 'tei', model: TEI_MODEL, baseURL: server.url })
  const h = await e.health()
  t.true(h.ok)
  t.is(h.provider, 'tei')
})

test('ollama: should speak /api/embed, send truncate=false under the error policy and count tokens', async (t) => {
  const server = await serve(t, { maxInputChars: 50 })
  const e = new LocalEmbedder({ api: 'ollama', model: 'nomic-embed-text', baseURL: server.url, keepAlive: '5m' })
  const input = texts(70)
  assertVectors(t, input, await e.embedMany(input), 8)
  t.deepEqual(server.embedRequests.map((r) => r.inputs.length).sort(), [6, 64])
  const body = server.embedRequests[0]?.body
  t.is(body.model, 'nomic-embed-text')
  t.is(body.truncate, false)
  t.is(body.keep_alive, '5m')
  t.true(e.usage.inputTokens > 0)

  const err = await t.throwsAsync(e.embed('y'.repeat(60)), { instanceOf: InputTooLongError })
  t.regex(err?.serverMessage ?? '', /exceeds the context length/)
  t.is(err?.status, 400)

  const lenient = new LocalEmbedder({ api: 'ollama', model: 'nomic-embed-text', baseURL: server.url, limits: { overLongInputs: 'truncate' } })
  t.is((await lenient.embed('y'.repeat(60))).length, 8)
  t.is(server.embedRequests.at(-1)?.body.truncate, true)
})

test('ollama: should map an unknown model (404) to InvalidRequestError, not retried', async (t) => {
  const server = await serve(t)
  const e = createEmbedder({ provider: 'ollama', model: 'not-pulled', baseURL: server.url, retry: FAST_RETRY })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: InvalidRequestError })
  t.is(err?.status, 404)
  t.regex(err?.serverMessage ?? '', /not found, try pulling it first/)
  t.is(server.embedRequests.length, 1)
})

test('ollama: should report health with the server version', async (t) => {
  const server = await serve(t)
  const h = await new LocalEmbedder({ api: 'ollama', model: 'nomic-embed-text', baseURL: server.url }).health()
  t.true(h.ok)
  t.is(h.detail, 'ollama 0.6.2')
})

test('openai-compatible: should speak /v1/embeddings with float lists and normalise when asked', async (t) => {
  const server = await serve(t, { apiKey: 'local-secret' })
  const e = new LocalEmbedder({
    api: 'openai-compatible',
    model: 'bge-m3',
    baseURL: `${server.url}/v1`,
    apiKey: 'local-secret',
    normalize: true,
  })
  const input = texts(3)
  assertVectors(t, input, await e.embedMany(input), 8)
  t.is(server.embedRequests[0]?.body.encoding_format, 'float')
  t.is(server.embedRequests[0]?.headers.authorization, 'Bearer local-secret')
  t.is(e.usage.inputTokens, 9)
  t.true((await e.health()).ok)
})

test('openai-compatible: should read the TEI/vLLM error dialect {message, type, code}', async (t) => {
  const server = await serve(t, { apiKey: undefined })
  server.faults.push({ kind: 'status', status: 429, body: { message: 'Model is overloaded', code: 429, type: 'Overloaded' } })
  const e = new LocalEmbedder({ api: 'openai-compatible', model: 'm', baseURL: `${server.url}/v1` })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: RateLimitError })
  t.is(err?.serverMessage, 'Model is overloaded')
  t.is(err?.serverCode, 'Overloaded')
})

test('local: should reject wrong dimensions, short answers and dropped bodies', async (t) => {
  const server = await serve(t)
  const e = new LocalEmbedder({ api: 'ollama', model: 'nomic-embed-text', baseURL: server.url, dimensions: 8 })
  server.faults.push({ kind: 'wrongDimension', dims: 4 })
  await t.throwsAsync(e.embed('x'), { instanceOf: BadResponseError, message: /4-dimension vector where 8/ })
  server.faults.push({ kind: 'short' })
  await t.throwsAsync(e.embedMany(['a', 'b']), { instanceOf: BadResponseError, message: /1 embeddings for 2 inputs/ })
  server.faults.push({ kind: 'dropMidBody' })
  await t.throwsAsync(e.embed('x'), { instanceOf: ConnectionError })
})

test('local: should learn the dimension from the first answer and hold every later answer to it', async (t) => {
  const server = await serve(t)
  const e = new LocalEmbedder({ api: 'ollama', model: 'nomic-embed-text', baseURL: server.url })
  t.is(e.dimensions, undefined)
  await e.embed('x')
  t.is(e.dimensions, 8)
  server.dims = 16 // the model behind the server was swapped
  await t.throwsAsync(e.embed('y'), { instanceOf: BadResponseError, message: /16-dimension vector where 8/ })
})

test('local: should fail with ConnectionError when nothing listens, and report unhealthy', async (t) => {
  const server = await EmbeddingTestServer.start()
  const url = server.url
  await server.close()
  const e = new LocalEmbedder({ api: 'ollama', model: 'nomic-embed-text', baseURL: url })
  const err = await t.throwsAsync(e.embed('x'), { instanceOf: ConnectionError })
  t.is(err?.code, 'ERR_EMBEDDING_CONNECTION')
  t.regex(err?.message ?? '', /ECONNREFUSED/)
  const h = await e.health()
  t.false(h.ok)
})

test('local: should check its options', (t) => {
  t.throws(() => new LocalEmbedder({ api: 'llamafile' as 'tei', model: 'm' }), { instanceOf: InvalidInputError, message: /api must be/ })
  t.throws(() => new LocalEmbedder({ api: 'tei', model: 'm', baseURL: 'ftp://x' }), { message: /http\(s\) URL/ })
  t.throws(() => new LocalEmbedder({ api: 'tei', model: '' }), { message: /model must be/ })
  t.throws(() => new LocalEmbedder({ api: 'tei', model: 'm', limits: { concurrency: 0 } }), { message: /concurrency/ })
  t.throws(() => new LocalEmbedder({ api: 'tei', model: 'm', limits: { overLongInputs: 'drop' as 'error' } }), {
    message: /overLongInputs/,
  })
})
