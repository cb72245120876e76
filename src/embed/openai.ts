/**
 * OpenAI embeddings through the official `openai` SDK. The SDK does transport and auth; everything
 * that decides whether an answer can be trusted is ours: the SDK's retries are off (the
 * {@link RetryEmbedder} is the only retry layer, so attempts never multiply), every response is
 * checked, and vectors travel as base64 float32 and are decoded straight into `Float32Array`s.
 */
import { endianness } from 'node:os'
import OpenAI from 'openai'
import { invalid } from '../errors.js'
import { anySignal } from './abort.js'
import { BatchingEmbedder, type BatchResult, type ProviderOptions } from './base.js'
import { classifyHttpError } from './classify.js'
import {
  AuthenticationError,
  BadResponseError,
  ConnectionError,
  EmbeddingAbortedError,
  EmbeddingError,
  EmbeddingTimeoutError,
} from './errors.js'

/** What we know of each OpenAI embedding model. */
export interface OpenAIModelInfo {
  /** Native output dimensions. */
  dimensions: number
  /** Whether `dimensions` (Matryoshka shortening) is accepted. */
  shortenable: boolean
  /** Tokens per input. */
  maxInputTokens: number
}

/** The OpenAI embedding models and their shapes. Unknown names (proxies, new models) are allowed. */
export const OPENAI_MODELS: Readonly<Record<string, OpenAIModelInfo>> = Object.freeze({
  'text-embedding-3-small': { dimensions: 1536, shortenable: true, maxInputTokens: 8192 },
  'text-embedding-3-large': { dimensions: 3072, shortenable: true, maxInputTokens: 8192 },
  'text-embedding-ada-002': { dimensions: 1536, shortenable: false, maxInputTokens: 8192 },
})

/** OpenAI's documented per-request limits for /v1/embeddings. */
export const OPENAI_LIMITS = Object.freeze({ maxBatchSize: 2048, maxBatchTokens: 300_000, maxInputTokens: 8192 })

export const OPENAI_BASE_URL = 'https://api.openai.com/v1'

export interface OpenAIEmbedderOptions extends ProviderOptions {
  /** API key; defaults to `OPENAI_API_KEY`. */
  apiKey?: string | undefined
  /** Endpoint for compatible proxies (Azure-style gateways, LiteLLM, …); defaults to `OPENAI_BASE_URL`, then api.openai.com. */
  baseURL?: string | undefined
  organization?: string | undefined
  project?: string | undefined
  /**
   * Wire format of the vectors. `'base64'` (default) is about a quarter of the bytes of a JSON float
   * list and decodes without parsing numbers; `'float'` is for proxies that cannot produce base64.
   */
  encodingFormat?: 'base64' | 'float' | undefined
  /** End-user id forwarded to OpenAI for abuse monitoring. */
  user?: string | undefined
  /** Extra HTTP headers on every request. */
  headers?: Record<string, string> | undefined
}

const LITTLE_ENDIAN = endianness() === 'LE'

/**
 * Decodes base64 little-endian float32 into a fresh, aligned `Float32Array` without an intermediate
 * Buffer: `Buffer#write` decodes directly into the array's memory.
 */
export function decodeBase64Float32(b64: string): Float32Array | undefined {
  let pad = 0
  if (b64.endsWith('==')) pad = 2
  else if (b64.endsWith('=')) pad = 1
  const bytes = Math.floor((b64.length * 3) / 4) - pad
  if (bytes <= 0 || bytes % 4 !== 0) return undefined
  const out = new Float32Array(bytes / 4)
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength)
  // Invalid characters are skipped by the decoder, so they show up as a short write.
  if (view.write(b64, 'base64') !== bytes) return undefined
  if (!LITTLE_ENDIAN) view.swap32()
  return out
}

export class OpenAIEmbedder extends BatchingEmbedder {
  readonly provider: string = 'openai'
  /** Responses that carried float lists although base64 was asked for (a proxy ignoring `encoding_format`). */
  floatFallbacks = 0
  private readonly client: OpenAI
  private readonly encodingFormat: 'base64' | 'float'
  private readonly user: string | undefined

  /**
   * @throws AuthenticationError `ERR_EMBEDDING_AUTH` when no API key is given or set in the environment.
   * @throws InvalidInputError `ERR_INVALID_ARGUMENT` for `dimensions` on ada-002, or beyond the model's size.
   */
  constructor(options: OpenAIEmbedderOptions) {
    const known = typeof options?.model === 'string' ? OPENAI_MODELS[options.model] : undefined
    const baseURL = options?.baseURL ?? process.env.OPENAI_BASE_URL ?? OPENAI_BASE_URL
    super(
      {
        ...options,
        limits: {
          maxInputTokens: known?.maxInputTokens ?? OPENAI_LIMITS.maxInputTokens,
          maxBatchTokens: OPENAI_LIMITS.maxBatchTokens,
          ...options?.limits,
        },
      },
      { baseURL, maxBatchSize: OPENAI_LIMITS.maxBatchSize },
    )
    if (known !== undefined) {
      if (this.requestedDimensions !== undefined && !known.shortenable) {
        throw invalid(
          'ERR_INVALID_ARGUMENT',
          `${this.model} has a fixed size of ${known.dimensions} dimensions; 'dimensions' is only for text-embedding-3-* models`,
        )
      }
      if (this.requestedDimensions !== undefined && this.requestedDimensions > known.dimensions) {
        throw invalid(
          'ERR_INVALID_ARGUMENT',
          `dimensions must be at most ${known.dimensions} for ${this.model}, got ${this.requestedDimensions}`,
        )
      }
      this.knownDimensions ??= known.dimensions
    }
    if (this.maxBatchSize > OPENAI_LIMITS.maxBatchSize && baseURL === OPENAI_BASE_URL) {
      throw invalid('ERR_INVALID_ARGUMENT', `limits.maxBatchSize must be at most ${OPENAI_LIMITS.maxBatchSize} for OpenAI`)
    }
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY
    if (apiKey === undefined || apiKey === '') {
      throw new AuthenticationError(
        'no OpenAI API key: pass { apiKey } or set the OPENAI_API_KEY environment variable',
        { provider: 'openai' },
      )
    }
    const format = options.encodingFormat ?? 'base64'
    if (format !== 'base64' && format !== 'float') {
      throw invalid('ERR_INVALID_ARGUMENT', `encodingFormat must be 'base64' or 'float', got ${String(format)}`)
    }
    this.encodingFormat = format
    this.user = options.user
    this.client = new OpenAI({
      apiKey,
      baseURL,
      organization: options.organization ?? null,
      project: options.project ?? null,
      // Ours is the only retry layer: SDK retries would multiply attempts and hide them from our counters.
      maxRetries: 0,
      timeout: this.timeout,
      defaultHeaders: options.headers,
    })
  }

  protected async sendBatch(texts: string[], signal: AbortSignal): Promise<BatchResult> {
    // The SDK's timeout ends when the response headers arrive; ours also covers reading the body, so
    // a server that stalls mid-body cannot hang the call.
    const deadline = AbortSignal.timeout(this.timeout + 50)
    const combined = anySignal(signal, deadline) as AbortSignal
    let data: OpenAI.Embeddings.CreateEmbeddingResponse
    let headers: Headers
    try {
      const res = await this.client.embeddings
        .create(
          {
            model: this.model,
            input: texts,
            encoding_format: this.encodingFormat,
            ...(this.requestedDimensions === undefined ? {} : { dimensions: this.requestedDimensions }),
            ...(this.user === undefined ? {} : { user: this.user }),
          },
          { signal: combined, maxRetries: 0 },
        )
        .withResponse()
      data = res.data
      headers = res.response.headers
    } catch (err) {
      throw this.fromSdk(err, signal, deadline)
    }
    const { vectors, floatLists } = decodeEmbeddingList(data, texts.length, this.provider)
    if (floatLists && this.encodingFormat === 'base64') this.floatFallbacks++
    return { vectors, tokens: data?.usage?.prompt_tokens, headers }
  }

  private fromSdk(err: unknown, callSignal: AbortSignal, deadline: AbortSignal): EmbeddingError {
    const provider = this.provider
    if (err instanceof EmbeddingError) return err
    if (callSignal.aborted) return new EmbeddingAbortedError(callSignal.reason, provider)
    if (err instanceof OpenAI.APIConnectionTimeoutError || deadline.aborted) {
      return new EmbeddingTimeoutError(`${provider}: no response within ${this.timeout} ms`, { provider, cause: err })
    }
    if (err instanceof OpenAI.APIUserAbortError) return new EmbeddingAbortedError(err, provider)
    if (err instanceof OpenAI.APIConnectionError) {
      const cause = (err as { cause?: unknown }).cause
      const why = cause instanceof Error ? `${cause.message}${causeCode(cause)}` : err.message
      return new ConnectionError(`${provider}: connection failed (${why})`, { provider, cause: err })
    }
    if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
      return classifyHttpError({
        provider,
        status: err.status,
        headers: err.headers,
        // The SDK keeps only the OpenAI-dialect `error` object; without one, its message has the text.
        body: err.error !== undefined && err.error !== null ? { error: err.error } : err.message,
      })
    }
    // A body that is not JSON, or broke mid-stream, reaches us as a plain error from the SDK.
    return new ConnectionError(`${provider}: ${(err as Error)?.message ?? String(err)}`, { provider, cause: err })
  }

  protected async checkHealth(signal: AbortSignal): Promise<string> {
    try {
      const model = await this.client.models.retrieve(this.model, { signal, maxRetries: 0 })
      return `model ${model.id} available`
    } catch (err) {
      throw this.fromSdk(err, signal, signal)
    }
  }
}

function causeCode(err: Error): string {
  const inner = (err as { cause?: { code?: unknown } }).cause
  const code = (err as { code?: unknown }).code ?? inner?.code
  return typeof code === 'string' ? `: ${code}` : ''
}


/**
 * Decodes an OpenAI-shaped `{ data: [{ index, embedding }] }` body: checks the count and every
 * `index`, puts the vectors back in input order, and decodes each one whether it came as base64 or
 * as a float list (a proxy that ignores `encoding_format` sends floats; that is detected, not an error).
 */
export function decodeEmbeddingList(
  body: unknown,
  count: number,
  provider: string,
): { vectors: Float32Array[]; floatLists: boolean } {
  const items: unknown = (body as { data?: unknown } | null)?.data
  if (!Array.isArray(items)) {
    throw new BadResponseError(`${provider} response has no 'data' list`, { provider })
  }
  if (items.length !== count) {
    throw new BadResponseError(`${provider} returned ${items.length} embeddings for ${count} inputs`, { provider })
  }
  let floatLists = false
  const out = new Array<Float32Array>(count)
  for (const item of items as { index?: unknown; embedding?: unknown }[]) {
    const index = item?.index
    // `index` is the input's position; an answer in another order is put back in order, but an
    // index that is missing, out of range or repeated means we cannot tell which text is which.
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new BadResponseError(`${provider} returned an embedding with index ${String(index)} for ${count} inputs`, {
        provider,
      })
    }
    if (out[index] !== undefined) {
      throw new BadResponseError(`${provider} returned index ${index} twice`, { provider })
    }
    const emb = item.embedding
    let vector: Float32Array | undefined
    if (typeof emb === 'string') {
      vector = decodeBase64Float32(emb)
      if (vector === undefined) {
        throw new BadResponseError(`${provider} returned base64 that is not a whole number of float32s (index ${index})`, {
          provider,
        })
      }
    } else if (Array.isArray(emb)) {
      floatLists = true
      vector = new Float32Array(emb.length)
      for (let i = 0; i < emb.length; i++) {
        const x: unknown = emb[i]
        // A non-number becomes NaN here and is caught by the finite check every provider runs.
        vector[i] = typeof x === 'number' ? x : Number.NaN
      }
    } else {
      throw new BadResponseError(`${provider} returned an embedding of type ${typeof emb} (index ${index})`, { provider })
    }
    out[index] = vector
  }
  return { vectors: out, floatLists }
}
