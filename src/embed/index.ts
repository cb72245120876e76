// The embedding layer's public surface, re-exported from src/index.ts.
export type {
  Embedder,
  EmbedderHealth,
  EmbedderIdentity,
  EmbedderUsage,
  EmbedManyOptions,
  EmbedOptions,
  EmbedProgress,
} from './types.js'
export type { EmbedLimits, OverLongPolicy, ProviderOptions } from './base.js'
export { OpenAIEmbedder, OPENAI_MODELS, OPENAI_LIMITS } from './openai.js'
export type { OpenAIEmbedderOptions, OpenAIModelInfo } from './openai.js'
export { LocalEmbedder } from './local.js'
export { UseEmbedder, USE_DIMENSIONS, USE_MODEL, USE_SOURCE } from './use.js'
export type { UseEmbedderOptions } from './use.js'
export type { LocalApi, LocalEmbedderOptions, TeiInfo } from './local.js'
export { CachedEmbedder } from './cache.js'
export type { CacheOptions, CacheStats } from './cache.js'
export { SqliteEmbeddingStore } from './store.js'
export type { EmbeddingStore } from './store.js'
export { RetryEmbedder, isRetryable } from './retry.js'
export type { RetryInfo, RetryOptions } from './retry.js'
export { createEmbedder, EmbedderStack } from './create.js'
export type { EmbedderConfig, ProviderName } from './create.js'
export { normalize, truncate } from './vector.js'
export { loadTokenizer } from './tokens.js'
export type { EncodingName, Tokenizer } from './tokens.js'
export type { RateLimits } from './limiter.js'
export {
  AuthenticationError,
  BadResponseError,
  ConnectionError,
  EmbeddingAbortedError,
  EmbeddingError,
  EmbeddingTimeoutError,
  InputTooLongError,
  InvalidRequestError,
  QuotaExceededError,
  RateLimitError,
  ServerError,
} from './errors.js'
export type { EmbeddingErrorCode, EmbeddingErrorDetails } from './errors.js'
