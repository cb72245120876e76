/**
 * A loopback embedding server for the tests and the benchmark. It speaks each dialect as the real
 * servers do — OpenAI `/v1/embeddings` (base64 or floats, `index`, `usage`, `x-ratelimit-*`), TEI
 * `/embed` + `/info` + `/health` (and TEI's OpenAI-compatible error body), Ollama `/api/embed` +
 * `/api/version` — and can be scripted to misbehave, one fault per embedding request.
 *
 * Vectors are a deterministic function of (text, dimensions), so a test can check that every input
 * got its own vector in its own position.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

const EMBED_PATHS = new Set(['/v1/embeddings', '/embed', '/api/embed'])

export type Fault =
  /** Answer with this status, body and headers instead of embeddings. */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answer (until the client gives up or the server closes). */
  | { kind: 'hang' }
  /** Destroy the socket without a response. */
  | { kind: 'drop' }
  /** Send headers and half the body, then destroy the socket. */
  | { kind: 'dropMidBody' }
  /** Embeddings of this many dimensions whatever was asked. */
  | { kind: 'wrongDimension'; dims: number }
  /** One embedding fewer than inputs. */
  | { kind: 'short' }
  /** Items in reverse `index` order (legal: each keeps its index). */
  | { kind: 'shuffle' }
  /** Float lists even when base64 was asked for (a proxy ignoring `encoding_format`). */
  | { kind: 'floats' }
  /** A NaN in the first vector. */
  | { kind: 'nan' }
  /** Two items with the same index. */
  | { kind: 'duplicateIndex' }

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: any
  /** Number of inputs in an embedding request. */
  inputs: string[]
  at: number
}

export interface ServerOptions {
  /** Default output dimensions. */
  dims?: number
  /** Delay before every embedding answer, ms. */
  latencyMs?: number
  /** OpenAI dialect: required bearer key (default 'test-key'); undefined = no auth. */
  apiKey?: string | undefined
  /** TEI: `/info` fields. */
  teiModel?: string
  teiMaxBatch?: number
  /** TEI: answer /info (default true); false = 404, like a gateway exposing only /embed. */
  teiInfo?: boolean
  /** Inputs longer than this many characters are "over the context length" (TEI, Ollama without truncate). */
  maxInputChars?: number
  /** Ollama: the models it has pulled. */
  ollamaModels?: string[]
  /** Extra headers on every successful embedding answer (e.g. x-ratelimit-*). */
  successHeaders?: Record<string, string> | ((n: number) => Record<string, string>)
}

/** Deterministic unit vector for `text`: xorshift seeded with FNV-1a of the text. */
export function vectorFor(text: string, dims: number): Float32Array {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  let s = h || 1
  const v = new Float32Array(dims)
  let sum = 0
  for (let i = 0; i < dims; i++) {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    const x = (s / 0xffffffff) * 2 - 1
    v[i] = x
    sum += x * x
  }
  const inv = 1 / Math.sqrt(sum)
  for (let i = 0; i < dims; i++) v[i] = (v[i] as number) * inv
  return v
}

function b64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
}

export class EmbeddingTestServer {
  readonly requests: RecordedRequest[] = []
  readonly faults: Fault[] = []
  dims: number
  latencyMs: number
  apiKey: string | undefined
  teiModel: string
  teiMaxBatch: number
  teiInfo: boolean
  maxInputChars: number
  ollamaModels: string[]
  successHeaders: ServerOptions['successHeaders']
  /** Embedding requests being answered right now, and the most seen at once. */
  inFlight = 0
  maxInFlight = 0
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly memo = new Map<string, { b64: string; json: string }>()
  port = 0

  private constructor(options: ServerOptions) {
    this.dims = options.dims ?? 8
    this.latencyMs = options.latencyMs ?? 0
    this.apiKey = 'apiKey' in options ? options.apiKey : 'test-key'
    this.teiModel = options.teiModel ?? 'BAAI/bge-small-en-v1.5'
    this.teiMaxBatch = options.teiMaxBatch ?? 32
    this.teiInfo = options.teiInfo ?? true
    this.maxInputChars = options.maxInputChars ?? 100_000
    this.ollamaModels = options.ollamaModels ?? ['nomic-embed-text']
    this.successHeaders = options.successHeaders
    this.server = createServer((req, res) => this.handle(req, res))
    // Longer than any idle gap in a test or the benchmark: a server closing an idle keep-alive socket
    // just as the client reuses it is a real race, but not the one under test here.
    this.server.keepAliveTimeout = 65_000
    this.server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  static async start(options: ServerOptions = {}): Promise<EmbeddingTestServer> {
    const s = new EmbeddingTestServer(options)
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve))
    s.port = (s.server.address() as AddressInfo).port
    return s
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Embedding requests received so far. */
  get embedRequests(): RecordedRequest[] {
    return this.requests.filter((r) => EMBED_PATHS.has(r.path))
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn()
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: any
      try {
        body = raw === '' ? undefined : JSON.parse(raw)
      } catch {
        return json(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' } })
      }
      const path = (req.url ?? '/').split('?')[0] as string
      const inputs = inputsOf(path, body)
      this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, inputs, at: Date.now() })
      this.route(req, res, path, body, inputs)
    })
  }

  private route(req: IncomingMessage, res: ServerResponse, path: string, body: any, inputs: string[]): void {
    if (req.method === 'GET') {
      if (path === '/info' && this.teiInfo) {
        return json(res, 200, {
          model_id: this.teiModel,
          model_sha: null,
          model_dtype: 'float32',
          model_type: { embedding: { pooling: 'cls' } },
          max_concurrent_requests: 512,
          max_input_length: 512,
          max_batch_tokens: 16384,
          max_batch_requests: null,
          max_client_batch_size: this.teiMaxBatch,
          auto_truncate: false,
          tokenization_workers: 2,
          version: '1.5.0',
        })
      }
      if (path === '/health') return void res.writeHead(200).end()
      if (path === '/api/version') return json(res, 200, { version: '0.6.2' })
      if (path.startsWith('/v1/models')) {
        if (!this.authorized(req)) return this.unauthorized(res)
        const id = decodeURIComponent(path.slice('/v1/models/'.length))
        if (id === '') return json(res, 200, { object: 'list', data: [] })
        return json(res, 200, { id, object: 'model', created: 1_700_000_000, owned_by: 'system' })
      }
      return json(res, 404, { error: { message: `Unknown path ${path}`, type: 'invalid_request_error' } })
    }
    if (EMBED_PATHS.has(path)) {
      if (path === '/v1/embeddings' && !this.authorized(req)) return this.unauthorized(res)
      const n = this.embedRequests.length
      const fault = this.faults.shift()
      this.inFlight++
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
      const finish = (): void => {
        this.inFlight--
      }
      res.on('close', finish)
      if (fault?.kind === 'hang') return
      if (fault?.kind === 'drop') return void req.socket.destroy()
      this.later(this.latencyMs, () => {
        if (fault?.kind === 'status') return json(res, fault.status, fault.body ?? '', fault.headers)
        if (path === '/v1/embeddings') return this.openai(res, body, inputs, fault, n)
        if (path === '/embed') return this.tei(res, body, inputs, fault)
        return this.ollama(res, body, inputs, fault)
      })
      return
    }
    json(res, 404, { error: { message: `Unknown path ${path}`, type: 'invalid_request_error' } })
  }

  private authorized(req: IncomingMessage): boolean {
    return this.apiKey === undefined || req.headers.authorization === `Bearer ${this.apiKey}`
  }

  private unauthorized(res: ServerResponse): void {
    json(res, 401, {
      error: {
        message: 'Incorrect API key provided: wrong-key. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    })
  }

  private vectors(inputs: string[], dims: number, fault: Fault | undefined): Float32Array[] {
    const d = fault?.kind === 'wrongDimension' ? fault.dims : dims
    const out = inputs.map((t) => vectorFor(t, d))
    if (fault?.kind === 'nan' && out[0] !== undefined) out[0][0] = Number.NaN
    if (fault?.kind === 'short') out.pop()
    return out
  }

  private successHeadersFor(n: number): Record<string, string> {
    const h = this.successHeaders
    return typeof h === 'function' ? h(n) : (h ?? {})
  }

  /**
   * Encoded forms of a text's vector, memoised so the server's own CPU stays small next to its fixed
   * latency: a benchmark should measure clients, not how fast this server serialises floats.
   */
  private encode(text: string, dims: number): { b64: string; json: string } {
    const key = `${dims}\u0000${text}`
    let e = this.memo.get(key)
    if (e === undefined) {
      const v = vectorFor(text, dims)
      e = { b64: JSON.stringify(b64(v)), json: JSON.stringify(Array.from(v)) }
      this.memo.set(key, e)
    }
    return e
  }

  private openai(res: ServerResponse, body: any, inputs: string[], fault: Fault | undefined, n: number): void {
    if (!Array.isArray(body?.input) && typeof body?.input !== 'string') {
      return json(res, 400, { error: { message: "'input' is a required property", type: 'invalid_request_error', param: null, code: null } })
    }
    if (inputs.some((t) => t === '')) {
      return json(res, 400, { error: { message: "'$.input' is invalid. Please check the API reference", type: 'invalid_request_error', param: null, code: null } })
    }
    if (inputs.length > 2048) {
      return json(res, 400, { error: { message: `Too many inputs. The max number of inputs is 2048.`, type: 'invalid_request_error', param: null, code: null } })
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : this.dims
    const asBase64 = body.encoding_format === 'base64' && fault?.kind !== 'floats'
    let items: { index: number; embedding: string }[]
    if (fault?.kind === 'nan' || fault?.kind === 'wrongDimension' || fault?.kind === 'short') {
      items = this.vectors(inputs, dims, fault).map((v, index) => ({
        index,
        embedding: asBase64 ? JSON.stringify(b64(v)) : JSON.stringify(Array.from(v)),
      }))
    } else {
      items = inputs.map((t, index) => {
        const e = this.encode(t, dims)
        return { index, embedding: asBase64 ? e.b64 : e.json }
      })
    }
    if (fault?.kind === 'shuffle') items.reverse()
    if (fault?.kind === 'duplicateIndex' && items.length > 1) (items[1] as { index: number }).index = 0
    const tokens = inputs.reduce((s, t) => s + Math.max(1, t.split(/\s+/).length), 0)
    const data = items.map((x) => `{"object":"embedding","index":${x.index},"embedding":${x.embedding}}`).join(',')
    const payload =
      `{"object":"list","data":[${data}],"model":${JSON.stringify(String(body.model))},` +
      `"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`
    if (fault?.kind === 'dropMidBody') return dropMidBody(res, payload)
    rawJson(res, 200, payload, { 'x-request-id': `req_${n}`, ...this.successHeadersFor(n) })
  }

  private tei(res: ServerResponse, body: any, inputs: string[], fault: Fault | undefined): void {
    if (inputs.length === 0) {
      return json(res, 400, { error: 'Input validation error: `inputs` cannot be empty', error_type: 'Empty' })
    }
    if (inputs.length > this.teiMaxBatch) {
      return json(res, 413, {
        error: `Input validation error: \`inputs\` must have less than ${this.teiMaxBatch} elements. Given: ${inputs.length}`,
        error_type: 'Validation',
      })
    }
    const long = inputs.find((t) => t.length > this.maxInputChars)
    if (long !== undefined && body.truncate !== true) {
      return json(res, 413, {
        error: `Input validation error: \`inputs\` must have less than 512 tokens. Given: ${long.length}`,
        error_type: 'Validation',
      })
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : this.dims
    const payload = this.vectors(inputs, dims, fault).map((v) => Array.from(v))
    if (fault?.kind === 'dropMidBody') return dropMidBody(res, payload)
    json(res, 200, payload, this.successHeadersFor(0))
  }

  private ollama(res: ServerResponse, body: any, inputs: string[], fault: Fault | undefined): void {
    if (!this.ollamaModels.includes(body?.model)) {
      return json(res, 404, { error: `model "${String(body?.model)}" not found, try pulling it first` })
    }
    const long = inputs.find((t) => t.length > this.maxInputChars)
    // Ollama truncates unless told not to.
    if (long !== undefined && body.truncate === false) {
      return json(res, 400, { error: 'the input length exceeds the context length' })
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : this.dims
    const embeddings = this.vectors(inputs, dims, fault).map((v) => Array.from(v))
    const payload = {
      model: body.model,
      embeddings,
      total_duration: 14_143_917,
      load_duration: 1_019_500,
      prompt_eval_count: inputs.reduce((s, t) => s + t.length, 0),
    }
    if (fault?.kind === 'dropMidBody') return dropMidBody(res, payload)
    json(res, 200, payload)
  }
}

function inputsOf(path: string, body: any): string[] {
  const v = path === '/embed' ? body?.inputs : path === '/v1/embeddings' || path === '/api/embed' ? body?.input : undefined
  if (typeof v === 'string') return [v]
  return Array.isArray(v) ? v : []
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers })
  res.end(text)
}

function rawJson(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(text)
}

function dropMidBody(res: ServerResponse, payload: unknown): void {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
  res.write(text.slice(0, Math.floor(text.length / 2)))
  setTimeout(() => res.socket?.destroy(), 10)
}
