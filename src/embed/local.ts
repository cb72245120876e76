/**
 * Self-hosted embedding servers over plain HTTP (`fetch`), each spoken in its own dialect:
 *
 * | `api`               | request                                   | answer                                   | errors                                  |
 * |---------------------|-------------------------------------------|------------------------------------------|-----------------------------------------|
 * | `openai-compatible` | `POST {baseURL}/embeddings {model, input}` | `{data:[{index, embedding}], usage}`      | `{error:{message,type,code}}` or `{message,type,code}` |
 * | `tei`               | `POST {baseURL}/embed {inputs, truncate, normalize}` | `[[…], […]]`                   | `{error, error_type}`: 413 Validation, 422 Tokenizer, 424 Backend, 429 Overloaded |
 * | `ollama`            | `POST {baseURL}/api/embed {model, input, truncate}` | `{embeddings:[[…]], prompt_eval_count}` | `{error}`                              |
 *
 * vLLM, LM Studio, llama.cpp's server, LiteLLM, TEI's `/v1` and Ollama's `/v1` all speak the
 * OpenAI-compatible dialect. TEI's `/info` tells the batch limit (`max_client_batch_size`) and the
 * model it serves, which is checked against `model` so a redeployed server cannot silently change
 * the vectors under a cache or an index.
 */
import { invalid } from '../errors.js'
import { BatchingEmbedder, type BatchResult, type ProviderOptions } from './base.js'
import { BadResponseError, EmbeddingError, InvalidRequestError } from './errors.js'
import { requestJson } from './http.js'
import { decodeEmbeddingList } from './openai.js'

export type LocalApi = 'openai-compatible' | 'tei' | 'ollama'

export interface LocalEmbedderOptions extends ProviderOptions {
  /** Which wire format the server speaks. */
  api: LocalApi
  /**
   * Server address. Defaults: `http://127.0.0.1:8080` (TEI), `http://127.0.0.1:11434` (Ollama),
   * `http://127.0.0.1:8000/v1` (OpenAI-compatible, vLLM's default; include the `/v1`).
   */
  baseURL?: string | undefined
  /** Sent as `Authorization: Bearer …` (TEI `--api-key`, vLLM `--api-key`, gateways). */
  apiKey?: string | undefined
  headers?: Record<string, string> | undefined
  /** Ollama: how long the model stays loaded after the request (`"5m"`, `0`, …). */
  keepAlive?: string | number | undefined
  /** OpenAI-compatible: ask for base64 vectors (vLLM supports it); default `'float'`, which every server speaks. */
  encodingFormat?: 'float' | 'base64' | undefined
}

const DEFAULT_BASE: Record<LocalApi, string> = {
  tei: 'http://127.0.0.1:8080',
  ollama: 'http://127.0.0.1:11434',
  'openai-compatible': 'http://127.0.0.1:8000/v1',
}

// TEI's own default for max_client_batch_size, used until /info says otherwise.
const DEFAULT_BATCH: Record<LocalApi, number> = { tei: 32, ollama: 64, 'openai-compatible': 256 }

/** What TEI's `/info` reports (the fields we use). */
export interface TeiInfo {
  model_id?: string
  max_input_length?: number
  max_client_batch_size?: number
  max_batch_tokens?: number
  max_concurrent_requests?: number
}

export class LocalEmbedder extends BatchingEmbedder {
  readonly provider: LocalApi
  readonly api: LocalApi
  /** TEI's `/info`, once read. */
  serverInfo: TeiInfo | undefined
  private readonly headers: Record<string, string>
  private readonly keepAlive: string | number | undefined
  private readonly encodingFormat: 'float' | 'base64'
  private readonly batchSizeConfigured: boolean

  /** @throws InvalidInputError `ERR_INVALID_ARGUMENT` for an unknown `api` or a malformed `baseURL`. */
  constructor(options: LocalEmbedderOptions) {
    const api = options?.api
    if (api !== 'tei' && api !== 'ollama' && api !== 'openai-compatible') {
      throw invalid('ERR_INVALID_ARGUMENT', `api must be 'openai-compatible', 'tei' or 'ollama', got ${String(api)}`)
    }
    const baseURL = options.baseURL ?? DEFAULT_BASE[api]
    try {
      const u = new URL(baseURL)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
    } catch {
      throw invalid('ERR_INVALID_ARGUMENT', `baseURL must be an http(s) URL, got ${String(baseURL)}`)
    }
    super(
      {
        ...options,
        // TEI normalises by default; keep that unless told otherwise, and record it in the identity.
        normalize: options.normalize ?? api === 'tei',
      },
      { baseURL, maxBatchSize: DEFAULT_BATCH[api] },
    )
    this.provider = api
    this.api = api
    this.batchSizeConfigured = options.limits?.maxBatchSize !== undefined
    this.headers = { ...options.headers }
    if (options.apiKey !== undefined) this.headers.authorization = `Bearer ${options.apiKey}`
    this.keepAlive = options.keepAlive
    this.encodingFormat = options.encodingFormat ?? 'float'
  }

  /** TEI: learn the batch limit and check the served model once, before the first batch. */
  protected override async prepare(signal: AbortSignal | undefined): Promise<void> {
    if (this.api !== 'tei') return
    let res: Awaited<ReturnType<typeof requestJson>>
    try {
      res = await requestJson({
        provider: this.provider,
        method: 'GET',
        url: `${this.baseURL}/info`,
        headers: this.headers,
        signal,
        timeout: this.timeout,
      })
    } catch (err) {
      // A gateway in front of TEI may expose only /embed: without /info we keep the configured
      // limits (and cannot check the model). Anything else (down, timing out) is a real failure.
      if (err instanceof EmbeddingError && err.status === 404) return
      throw err
    }
    const info = (res.body ?? {}) as TeiInfo
    this.serverInfo = info
    if (typeof info.model_id === 'string' && info.model_id !== '' && info.model_id !== this.model) {
      throw new InvalidRequestError(
        `the TEI server at ${this.baseURL} serves ${info.model_id}, not ${this.model}; ` +
          'vectors from different models must not be mixed (set model to the served one)',
        { provider: this.provider },
      )
    }
    const max = info.max_client_batch_size
    if (typeof max === 'number' && Number.isInteger(max) && max > 0) {
      this.maxBatchSize = this.batchSizeConfigured ? Math.min(this.maxBatchSize, max) : max
    }
  }

  protected async sendBatch(texts: string[], signal: AbortSignal): Promise<BatchResult> {
    const provider = this.provider
    const truncate = this.overLong === 'truncate'
    const dims = this.requestedDimensions === undefined ? {} : { dimensions: this.requestedDimensions }
    const common = { provider, method: 'POST' as const, headers: this.headers, signal, timeout: this.timeout }
    switch (this.api) {
      case 'tei': {
        const res = await requestJson({
          ...common,
          url: `${this.baseURL}/embed`,
          body: { inputs: texts, truncate, normalize: this.normalize, ...dims },
        })
        if (!Array.isArray(res.body)) {
          throw new BadResponseError(`tei answered /embed with ${typeof res.body}, expected a list of vectors`, { provider })
        }
        return { vectors: res.body.map((v: unknown, i) => toVector(v, i, provider)), headers: res.headers }
      }
      case 'ollama': {
        const res = await requestJson({
          ...common,
          url: `${this.baseURL}/api/embed`,
          body: {
            model: this.model,
            input: texts,
            // Ollama truncates by default; under the 'error' policy an over-long input must fail instead.
            truncate,
            ...dims,
            ...(this.keepAlive === undefined ? {} : { keep_alive: this.keepAlive }),
          },
        })
        const body = res.body as { embeddings?: unknown; prompt_eval_count?: unknown } | null
        if (!Array.isArray(body?.embeddings)) {
          throw new BadResponseError(`ollama answered /api/embed without an 'embeddings' list`, { provider })
        }
        const tokens = typeof body.prompt_eval_count === 'number' ? body.prompt_eval_count : undefined
        return { vectors: body.embeddings.map((v: unknown, i) => toVector(v, i, provider)), tokens, headers: res.headers }
      }
      default: {
        const res = await requestJson({
          ...common,
          url: `${this.baseURL}/embeddings`,
          body: { model: this.model, input: texts, encoding_format: this.encodingFormat, ...dims },
        })
        const { vectors } = decodeEmbeddingList(res.body, texts.length, provider)
        const usage = (res.body as { usage?: { prompt_tokens?: unknown } }).usage
        const tokens = typeof usage?.prompt_tokens === 'number' ? usage.prompt_tokens : undefined
        return { vectors, tokens, headers: res.headers }
      }
    }
  }

  protected async checkHealth(signal: AbortSignal): Promise<string> {
    const path = this.api === 'tei' ? '/health' : this.api === 'ollama' ? '/api/version' : '/models'
    const res = await requestJson({
      provider: this.provider,
      method: 'GET',
      url: `${this.baseURL}${path}`,
      headers: this.headers,
      signal,
      timeout: this.timeout,
    })
    if (this.api === 'ollama') return `ollama ${String((res.body as { version?: unknown })?.version ?? 'unknown version')}`
    return `${path} answered ${res.status}`
  }
}

/** A JSON float list → Float32Array (non-numbers become NaN, which the finite check rejects). */
function toVector(value: unknown, index: number, provider: string): Float32Array {
  if (!Array.isArray(value)) {
    throw new BadResponseError(`${provider} returned ${typeof value} for embedding ${index}, expected a list of numbers`, {
      provider,
    })
  }
  const out = new Float32Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const x: unknown = value[i]
    out[i] = typeof x === 'number' ? x : Number.NaN
  }
  return out
}
