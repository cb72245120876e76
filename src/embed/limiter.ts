/**
 * Client-side rate limiting: two token buckets, one for requests per minute and one for tokens per
 * minute, refilled continuously. Sending only what the buckets allow turns a 429 storm (every batch
 * fired at once, every one rejected, every one retried) into a steady stream the server accepts.
 *
 * The limits come from the caller, from the server's `x-ratelimit-limit-*` headers, or both (the
 * smaller wins). After each response `x-ratelimit-remaining-*` pulls our idea of what is left down to
 * the server's, so other clients sharing the same key are accounted for.
 */
import { sleep } from './abort.js'
import { EmbeddingAbortedError } from './errors.js'
import { header, parseDuration, type HeaderSource } from './classify.js'

export interface RateLimits {
  /** Requests per minute; undefined = no client-side limit (until a server header sets one). */
  requestsPerMinute?: number | undefined
  /** Input tokens per minute; undefined = no client-side limit (until a server header sets one). */
  tokensPerMinute?: number | undefined
}

class Bucket {
  /** Capacity set by the caller (fixed) and the one the server announced (learnt). */
  configured: number
  announced = Infinity
  level: number
  private last: number

  constructor(perMinute: number | undefined, now: number) {
    this.configured = perMinute ?? Infinity
    this.level = this.configured
    this.last = now
  }

  get capacity(): number {
    return Math.min(this.configured, this.announced)
  }

  get active(): boolean {
    return Number.isFinite(this.capacity)
  }

  refill(now: number): void {
    const cap = this.capacity
    if (!Number.isFinite(cap)) return
    if (!Number.isFinite(this.level)) this.level = cap
    this.level = Math.min(cap, this.level + ((now - this.last) * cap) / 60_000)
    this.last = now
  }

  /** ms until `amount` is available (0 = now). An amount above capacity waits for a full bucket. */
  waitFor(amount: number): number {
    const cap = this.capacity
    if (!Number.isFinite(cap)) return 0
    const need = Math.min(amount, cap)
    if (this.level >= need) return 0
    return Math.ceil(((need - this.level) * 60_000) / cap)
  }

  take(amount: number): void {
    if (this.active) this.level -= Math.min(amount, this.capacity)
  }

  /** The server says only `remaining` is left: never believe we have more than that. */
  clamp(remaining: number, resetMs: number | undefined, now: number): void {
    if (!this.active) return
    this.refill(now)
    if (remaining < this.level) this.level = remaining
    // With nothing left, the reset time is the better guide than our refill rate: wait it out.
    if (remaining <= 0 && resetMs !== undefined && resetMs > 0) {
      this.level = -((resetMs * this.capacity) / 60_000) + 1
    }
  }
}

/** Requests/minute and tokens/minute limiter shared by every call of one embedder. */
export class RateLimiter {
  private readonly requests: Bucket
  private readonly tokens: Bucket
  // Waiters are served in order, so a big batch is not starved by a stream of small ones.
  private tail: Promise<void> = Promise.resolve()

  constructor(limits: RateLimits = {}) {
    for (const [name, v] of Object.entries(limits)) {
      if (v !== undefined && !(typeof v === 'number' && v > 0)) {
        throw new RangeError(`limits.${name} must be a positive number, got ${String(v)}`)
      }
    }
    const now = Date.now()
    this.requests = new Bucket(limits.requestsPerMinute, now)
    this.tokens = new Bucket(limits.tokensPerMinute, now)
  }

  /** True when any limit (configured or learnt) is in force. */
  get active(): boolean {
    return this.requests.active || this.tokens.active
  }

  /** Current limits in force (Infinity = none). */
  get limits(): { requestsPerMinute: number; tokensPerMinute: number } {
    return { requestsPerMinute: this.requests.capacity, tokensPerMinute: this.tokens.capacity }
  }

  /** Waits until one request of `tokens` tokens may be sent, then takes it from the buckets. */
  acquire(tokens: number, signal?: AbortSignal): Promise<void> {
    if (!this.active) return Promise.resolve()
    const turn = this.tail.then(() => this.take(tokens, signal))
    this.tail = turn.catch(() => undefined)
    return turn
  }

  private async take(tokens: number, signal: AbortSignal | undefined): Promise<void> {
    // Bounded: each round either takes or sleeps until the buckets have refilled enough.
    for (;;) {
      const now = Date.now()
      this.requests.refill(now)
      this.tokens.refill(now)
      const wait = Math.max(this.requests.waitFor(1), this.tokens.waitFor(tokens))
      if (wait === 0) {
        this.requests.take(1)
        this.tokens.take(tokens)
        return
      }
      await sleep(wait, signal)
    }
  }

  /** Charges (or refunds) the difference once the server has reported the real token count. */
  correct(estimatedTokens: number, actualTokens: number): void {
    if (this.tokens.active) this.tokens.level -= actualTokens - estimatedTokens
  }

  /** Learns from `x-ratelimit-*` response headers (OpenAI and compatible proxies send them). */
  observe(headers: HeaderSource): void {
    const now = Date.now()
    const num = (name: string): number | undefined => {
      const v = header(headers, name)
      if (v === undefined || v.trim() === '') return undefined
      const n = Number(v)
      return Number.isFinite(n) && n >= 0 ? n : undefined
    }
    const dur = (name: string): number | undefined => {
      const v = header(headers, name)
      return v === undefined ? undefined : parseDuration(v)
    }
    for (const [bucket, kind] of [
      [this.requests, 'requests'],
      [this.tokens, 'tokens'],
    ] as const) {
      const limit = num(`x-ratelimit-limit-${kind}`)
      if (limit !== undefined && limit > 0) {
        const wasActive = bucket.active
        bucket.announced = limit
        if (!wasActive) bucket.level = limit
      }
      const remaining = num(`x-ratelimit-remaining-${kind}`)
      if (remaining !== undefined) bucket.clamp(remaining, dur(`x-ratelimit-reset-${kind}`), now)
    }
  }
}

/**
 * Requests in flight for one embedder, across all its calls: many concurrent `embed()` calls (one per
 * incoming web request, say) share the window instead of each opening its own. FIFO, abortable.
 */
export class Semaphore {
  private active = 0
  private readonly queue: { resolve(): void; reject(e: unknown): void; signal?: AbortSignal | undefined }[] = []

  constructor(readonly size: number) {}

  get inFlight(): number {
    return this.active
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new EmbeddingAbortedError(signal.reason))
    if (this.active < this.size) {
      this.active++
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject,
        signal,
      }
      const onAbort = (): void => {
        const i = this.queue.indexOf(entry)
        if (i >= 0) this.queue.splice(i, 1)
        reject(new EmbeddingAbortedError(signal?.reason))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.queue.push(entry)
    })
  }

  release(): void {
    const next = this.queue.shift()
    // The slot passes straight to the next waiter, so `active` stays the same.
    if (next !== undefined) next.resolve()
    else this.active--
  }
}
