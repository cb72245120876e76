/**
 * Errors of the embedding layer. Every failure a provider can produce is mapped to exactly one of
 * these classes, so callers (and {@link RetryEmbedder}) decide on the class or `code`, never on a
 * vendor's message text. Each carries the provider, the HTTP status when there was one, and the
 * server's own message so nothing the server said is lost.
 */
import { FerrovecError, type ErrorCode } from '../errors.js'

/** The codes an {@link EmbeddingError} can carry. */
export type EmbeddingErrorCode = Extract<ErrorCode, `ERR_EMBEDDING_${string}`>

/** What every embedding error records about the failed call. */
export interface EmbeddingErrorDetails {
  /** Provider name (`'openai'`, `'tei'`, `'ollama'`, `'openai-compatible'`). */
  provider?: string | undefined
  /** HTTP status of the response, when the server answered. */
  status?: number | undefined
  /** The server's own error message, verbatim. */
  serverMessage?: string | undefined
  /** Vendor error type or code (`'insufficient_quota'`, `'Overloaded'`, …), when the body had one. */
  serverCode?: string | undefined
  /** Position of the offending input in the caller's list, for input errors. */
  index?: number | undefined
  cause?: unknown
}

/** Base class of every embedding failure. `retryable` says whether trying again can help. */
export class EmbeddingError extends FerrovecError {
  declare readonly code: EmbeddingErrorCode
  readonly provider: string | undefined
  readonly status: number | undefined
  readonly serverMessage: string | undefined
  readonly serverCode: string | undefined
  readonly index: number | undefined
  /** True when the same request may succeed later (rate limits, overload, timeouts, dropped connections). */
  readonly retryable: boolean

  constructor(code: EmbeddingErrorCode, message: string, retryable: boolean, details: EmbeddingErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause })
    this.provider = details.provider
    this.status = details.status
    this.serverMessage = details.serverMessage
    this.serverCode = details.serverCode
    this.index = details.index
    this.retryable = retryable
  }
}

/** The API key is missing, wrong or lacks permission (401/403). Never retried. */
export class AuthenticationError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_AUTH'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_AUTH', message, false, details)
  }
}

/**
 * Too many requests or tokens per minute (429), or a self-hosted server's queue is full (TEI
 * "Overloaded"). `retryAfterMs` is the server's hint (`retry-after-ms`, `Retry-After`, or "try again
 * in 2.8s" in the message) when it gave one.
 */
export class RateLimitError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_RATE_LIMIT'
  readonly retryAfterMs: number | undefined
  constructor(message: string, retryAfterMs: number | undefined, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_RATE_LIMIT', message, true, details)
    this.retryAfterMs = retryAfterMs
  }
}

/** The account is out of credit (`insufficient_quota`). Waiting does not help, so it is never retried. */
export class QuotaExceededError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_QUOTA'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_QUOTA', message, false, details)
  }
}

/** An input is longer than the model accepts (checked locally, or the server's context-length error). */
export class InputTooLongError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_INPUT_TOO_LONG'
  /** Token count of the input, when it was counted locally. */
  readonly tokens: number | undefined
  /** The limit it broke, when known. */
  readonly maxTokens: number | undefined
  constructor(
    message: string,
    details?: EmbeddingErrorDetails & { tokens?: number | undefined; maxTokens?: number | undefined },
  ) {
    super('ERR_EMBEDDING_INPUT_TOO_LONG', message, false, details)
    this.tokens = details?.tokens
    this.maxTokens = details?.maxTokens
  }
}

/** The request itself is wrong (400/404/413/422, an empty input, an unknown model). Never retried. */
export class InvalidRequestError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_INVALID_REQUEST'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_INVALID_REQUEST', message, false, details)
  }
}

/** No answer within the request timeout (or the server said 408). Retried. */
export class EmbeddingTimeoutError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_TIMEOUT'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_TIMEOUT', message, true, details)
  }
}

/** The connection could not be made or was dropped before a full response arrived. Retried. */
export class ConnectionError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_CONNECTION'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_CONNECTION', message, true, details)
  }
}

/**
 * The server answered 2xx with something unusable: wrong count, wrong or mixed dimensions, a bad
 * `index`, NaN/Infinity, undecodable base64. Not retried: a server that returns 256 numbers for a
 * 1024-dimension request will do it again, and silently accepting it would corrupt an index.
 */
export class BadResponseError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_BAD_RESPONSE'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_BAD_RESPONSE', message, false, details)
  }
}

/** The server failed (5xx, 409 conflict, TEI backend error). Retried. */
export class ServerError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_SERVER'
  constructor(message: string, details?: EmbeddingErrorDetails) {
    super('ERR_EMBEDDING_SERVER', message, true, details)
  }
}

/** The caller's `signal` aborted the call. `cause` is the signal's reason. */
export class EmbeddingAbortedError extends EmbeddingError {
  declare readonly code: 'ERR_EMBEDDING_ABORTED'
  constructor(reason: unknown, provider?: string) {
    super('ERR_EMBEDDING_ABORTED', 'the embedding call was aborted', false, { provider, cause: reason })
  }
}

/** Throws {@link EmbeddingAbortedError} if `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, provider?: string): void {
  if (signal?.aborted) throw new EmbeddingAbortedError(signal.reason, provider)
}
