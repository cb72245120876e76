/**
 * `createEmbedder(config)`: the whole stack from one object, always in the order
 * `Retry( Cache( Provider ))` — the cache sits inside the retry loop, so a retry is answered from
 * whatever succeeded meanwhile (ours or a concurrent caller's), and the retry layer is the only one
 * (the provider's SDK retries are off).
 */
import { invalid } from '../errors.js'
import type { EmbedLimits } from './base.js'
import { CachedEmbedder, type CacheOptions } from './cache.js'
import { LocalEmbedder } from './local.js'
import { OpenAIEmbedder } from './openai.js'
import { RetryEmbedder, type RetryOptions } from './retry.js'
import { USE_DIMENSIONS, UseEmbedder } from './use.js'
import type { EncodingName, Tokenizer } from './tokens.js'
import type {
  Embedder,
  EmbedderHealth,
  EmbedderIdentity,
  EmbedderUsage,
  EmbedManyOptions,
  EmbedOptions,
} from './types.js'

/** `'use'` is the offline Universal Sentence Encoder ({@link UseEmbedder}); the rest talk HTTP. */
export type ProviderName = 'openai' | 'openai-compatible' | 'tei' | 'ollama' | 'use'

export interface EmbedderConfig {
  provider: ProviderName
  /** Required for every provider except `'use'` (which runs one model). */
  model?: string | undefined
  baseURL?: string | undefined
  /** OpenAI: defaults to `OPENAI_API_KEY`. Self-hosted: sent as a bearer token when given. */
  apiKey?: string | undefined
  dimensions?: number | undefined
  /** Per-request timeout, ms (default 30 000). */
  timeout?: number | undefined
  normalize?: boolean | undefined
  /** In-memory LRU (default on, 10 000 entries); `false` to disable; `{ store: 'file.db' }` to persist. */
  cache?: boolean | CacheOptions | undefined
  /** Backoff settings (default on: 3 retries, 1 s × 2 up to 30 s); `false` to disable. */
  retry?: boolean | RetryOptions | undefined
  limits?: EmbedLimits | undefined
  tokenizer?: EncodingName | Tokenizer | undefined
  headers?: Record<string, string> | undefined
  /** `'use'` only: run the model on a worker thread (`'worker'`, default) or the calling thread. */
  thread?: 'worker' | 'main' | undefined
}

/** The stack built by {@link createEmbedder}, with handles on its layers. */
export class EmbedderStack implements Embedder {
  /** The provider at the bottom. */
  readonly base: OpenAIEmbedder | LocalEmbedder | UseEmbedder
  readonly cache: CachedEmbedder | undefined
  readonly retry: RetryEmbedder | undefined
  private readonly top: Embedder

  constructor(base: OpenAIEmbedder | LocalEmbedder | UseEmbedder, cache: CachedEmbedder | undefined, retry: RetryEmbedder | undefined) {
    this.base = base
    this.cache = cache
    this.retry = retry
    this.top = retry ?? cache ?? base
  }

  get provider(): string {
    return this.base.provider
  }
  get model(): string {
    return this.base.model
  }
  get dimensions(): number | undefined {
    return this.base.dimensions
  }
  get identity(): EmbedderIdentity {
    return this.base.identity
  }
  get usage(): EmbedderUsage {
    return this.top.usage
  }
  embed(text: string, options?: EmbedOptions): Promise<Float32Array> {
    return this.top.embed(text, options)
  }
  embedMany(texts: readonly string[], options?: EmbedManyOptions): Promise<Float32Array[]> {
    return this.top.embedMany(texts, options)
  }
  health(options?: EmbedOptions): Promise<EmbedderHealth> {
    return this.top.health(options)
  }
  /** Flushes and closes the persistent cache store, if any. */
  async close(): Promise<void> {
    await this.cache?.close()
  }
}

/**
 * Builds `Retry( Cache( Provider ))` from one config.
 * @throws InvalidInputError `ERR_INVALID_ARGUMENT` for an unknown provider or bad settings;
 *   AuthenticationError `ERR_EMBEDDING_AUTH` for OpenAI without an API key.
 */
export function createEmbedder(config: EmbedderConfig): EmbedderStack {
  if (config === null || typeof config !== 'object') {
    throw invalid('ERR_INVALID_ARGUMENT', 'createEmbedder expects a config object')
  }
  const common = {
    // Checked by the provider (a non-empty string), with a clear error.
    model: config.model as string,
    dimensions: config.dimensions,
    timeout: config.timeout,
    normalize: config.normalize,
    limits: config.limits,
    tokenizer: config.tokenizer,
    baseURL: config.baseURL,
    apiKey: config.apiKey,
    headers: config.headers,
  }
  let base: OpenAIEmbedder | LocalEmbedder | UseEmbedder
  switch (config.provider) {
    case 'openai':
      base = new OpenAIEmbedder(common)
      break
    case 'openai-compatible':
    case 'tei':
    case 'ollama':
      base = new LocalEmbedder({ ...common, api: config.provider })
      break
    case 'use':
      if (config.dimensions !== undefined && config.dimensions !== USE_DIMENSIONS) {
        throw invalid('ERR_INVALID_ARGUMENT', `the 'use' provider returns ${USE_DIMENSIONS} dimensions, got dimensions ${String(config.dimensions)}`)
      }
      base = new UseEmbedder({ model: config.model, timeout: config.timeout, normalize: config.normalize, limits: config.limits, thread: config.thread })
      break
    default:
      throw invalid(
        'ERR_INVALID_ARGUMENT',
        `provider must be 'openai', 'openai-compatible', 'tei', 'ollama' or 'use', got ${String((config as { provider?: unknown }).provider)}`,
      )
  }
  const cacheOption = config.cache ?? true
  const cache =
    cacheOption === false ? undefined : new CachedEmbedder(base, cacheOption === true ? {} : cacheOption)
  const retryOption = config.retry ?? true
  const retry =
    retryOption === false ? undefined : new RetryEmbedder(cache ?? base, retryOption === true ? {} : retryOption)
  return new EmbedderStack(base, cache, retry)
}
