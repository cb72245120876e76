/**
 * The one retry layer of the stack. Exponential backoff with full jitter (AWS's "Exponential Backoff
 * And Jitter": sleep a uniform random time in [0, min(cap, initial × multiplier^attempt)]), so a
 * fleet of clients that failed together does not come back together. A server hint
 * (`retry-after-ms`, `Retry-After`, "try again in 2.8s") replaces the computed delay, since the server
 * knows when its window reopens.
 *
 * Only failures that can go away are retried: rate limits, overload and 5xx, 408/409, timeouts and
 * dropped connections. Authentication, quota, over-long input, invalid requests and bad responses
 * fail at once — repeating them only burns time and money.
 *
 * In `embedMany`, batches that succeeded are kept: a retry re-sends only the inputs still missing.
 */
import { invalid } from '../errors.js'
import { sleep } from './abort.js'
import { EmbeddingAbortedError, EmbeddingError, RateLimitError, throwIfAborted } from './errors.js'
import type {
  Embedder,
  EmbedderHealth,
  EmbedderIdentity,
  EmbedderUsage,
  EmbedManyOptions,
  EmbedOptions,
} from './types.js'

export interface RetryOptions {
  /** Retries after the first attempt (default 3). 0 disables retrying. */
  retries?: number | undefined
  /** Upper bound of the first backoff, ms (default 1000). */
  initialDelayMs?: number | undefined
  /** Growth of the bound per attempt (default 2). */
  multiplier?: number | undefined
  /** Cap of the bound, ms (default 30 000). */
  maxDelayMs?: number | undefined
  /**
   * Budget for the whole call including retries, ms (default 120 000): no retry starts and no
   * backoff sleeps past it, and a server hint that points past it ends the call at once. A request
   * already running is bounded by its own timeout, so a long `embedMany` that is making progress is
   * never cut off mid-batch.
   */
  deadlineMs?: number | undefined
  /** Called before each backoff sleep (logging, metrics). */
  onRetry?: ((info: RetryInfo) => void) | undefined
  /** Source of randomness for the jitter, in [0, 1) (default Math.random; inject for replayable tests). */
  random?: (() => number) | undefined
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number
  delayMs: number
  error: EmbeddingError
  /** Inputs still missing (for embedMany; 1 for embed). */
  remaining: number
}

/** True when the error is one that trying again can cure. */
export function isRetryable(err: unknown): err is EmbeddingError {
  return err instanceof EmbeddingError && err.retryable
}

export class RetryEmbedder implements Embedder {
  readonly inner: Embedder
  readonly retries: number
  readonly initialDelayMs: number
  readonly multiplier: number
  readonly maxDelayMs: number
  readonly deadlineMs: number
  private readonly onRetry: RetryOptions['onRetry']
  private readonly random: () => number
  private retried = 0

  /** @throws InvalidInputError `ERR_INVALID_ARGUMENT` for negative or non-numeric settings. */
  constructor(inner: Embedder, options: RetryOptions = {}) {
    this.inner = inner
    const num = (v: unknown, name: string, dflt: number, min: number): number => {
      if (v === undefined) return dflt
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
        throw invalid('ERR_INVALID_ARGUMENT', `retry.${name} must be a number ≥ ${min}, got ${String(v)}`)
      }
      return v
    }
    this.retries = num(options.retries, 'retries', 3, 0)
    if (!Number.isInteger(this.retries)) throw invalid('ERR_INVALID_ARGUMENT', 'retry.retries must be an integer')
    this.initialDelayMs = num(options.initialDelayMs, 'initialDelayMs', 1000, 0)
    this.multiplier = num(options.multiplier, 'multiplier', 2, 1)
    this.maxDelayMs = num(options.maxDelayMs, 'maxDelayMs', 30_000, 0)
    this.deadlineMs = num(options.deadlineMs, 'deadlineMs', 120_000, 0)
    this.onRetry = options.onRetry
    this.random = options.random ?? Math.random
  }

  get provider(): string {
    return this.inner.provider
  }
  get model(): string {
    return this.inner.model
  }
  get dimensions(): number | undefined {
    return this.inner.dimensions
  }
  get identity(): EmbedderIdentity {
    return this.inner.identity
  }
  get usage(): EmbedderUsage {
    const u = this.inner.usage
    return { ...u, retries: u.retries + this.retried }
  }

  health(options?: EmbedOptions): Promise<EmbedderHealth> {
    return this.inner.health(options)
  }

  /**
   * The backoff before retry number `attempt` (1-based): the server's hint when it gave one,
   * otherwise full jitter under the exponential bound.
   */
  delayFor(attempt: number, error: EmbeddingError): number {
    if (error instanceof RateLimitError && error.retryAfterMs !== undefined) return error.retryAfterMs
    const bound = Math.min(this.maxDelayMs, this.initialDelayMs * this.multiplier ** (attempt - 1))
    return Math.floor(this.random() * bound)
  }

  async embed(text: string, options: EmbedOptions = {}): Promise<Float32Array> {
    const [v] = await this.embedMany([text], options)
    return v as Float32Array
  }

  async embedMany(texts: readonly string[], options: EmbedManyOptions = {}): Promise<Float32Array[]> {
    const { signal, onProgress, onBatch } = options
    throwIfAborted(signal, this.provider)
    const started = Date.now()
    const results = new Array<Float32Array | undefined>(texts.length)
    let missing: number[] = Array.from({ length: texts.length }, (_, i) => i)
    let done = 0
    // Bounded: at most `retries + 1` attempts.
    for (let attempt = 0; ; attempt++) {
      const current = missing
      try {
        const vectors = await this.inner.embedMany(
          current.map((i) => texts[i] as string),
          {
            signal,
            onBatch: (indices, vectors) => {
              const mapped = indices.map((j) => current[j] as number)
              for (let j = 0; j < mapped.length; j++) {
                if (results[mapped[j] as number] === undefined) done++
                results[mapped[j] as number] = vectors[j]
              }
              onBatch?.(mapped, vectors)
              onProgress?.({ done, total: texts.length })
            },
          },
        )
        // Batches reported through onBatch are already in place; the return value fills the rest
        // (an inner embedder that does not report batches).
        for (let j = 0; j < current.length; j++) results[current[j] as number] ??= vectors[j]
        return results as Float32Array[]
      } catch (err) {
        if (signal?.aborted) throw new EmbeddingAbortedError(signal.reason, this.provider)
        if (!isRetryable(err) || attempt >= this.retries) throw err
        const delay = this.delayFor(attempt + 1, err)
        if (Date.now() - started + delay > this.deadlineMs) throw err
        missing = current.filter((i) => results[i] === undefined)
        this.retried++
        this.onRetry?.({ attempt: attempt + 1, delayMs: delay, error: err, remaining: missing.length })
        await sleep(delay, signal, this.provider)
      }
    }
  }
}
