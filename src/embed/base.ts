/**
 * What every HTTP provider shares: input checks, the over-long-input policy, splitting into batches
 * by count and token budget, a sliding-window pool of concurrent requests, the rate limiter,
 * response checks, usage counters and progress. A provider only says how one batch goes over the
 * wire ({@link BatchingEmbedder.sendBatch}).
 */
import { invalid } from '../errors.js'
import { anySignal } from './abort.js'
import type { HeaderSource } from './classify.js'
import {
  BadResponseError,
  EmbeddingAbortedError,
  EmbeddingError,
  InputTooLongError,
  InvalidRequestError,
  throwIfAborted,
} from './errors.js'
import { RateLimiter, Semaphore } from './limiter.js'
import { byteLength, loadTokenizer, type EncodingName, type Tokenizer } from './tokens.js'
import type {
  Embedder,
  EmbedderHealth,
  EmbedderIdentity,
  EmbedderUsage,
  EmbedManyOptions,
  EmbedOptions,
} from './types.js'
import { emptyUsage } from './types.js'
import { normalizeInPlace } from './vector.js'

/** What to do with an input longer than the model's limit. */
export type OverLongPolicy = 'error' | 'truncate'

/** Batching, concurrency and rate limits of one provider. */
export interface EmbedLimits {
  /** Inputs per request. */
  maxBatchSize?: number | undefined
  /** Sum of input tokens per request. */
  maxBatchTokens?: number | undefined
  /** Tokens per input; longer inputs follow `overLongInputs`. */
  maxInputTokens?: number | undefined
  /**
   * Requests in flight at once across all calls of the embedder (a sliding window: the next starts
   * as soon as one finishes). Default 4.
   */
  concurrency?: number | undefined
  requestsPerMinute?: number | undefined
  tokensPerMinute?: number | undefined
  /** `'error'` (default): reject the call naming the input. `'truncate'`: cut it to the limit. */
  overLongInputs?: OverLongPolicy | undefined
}

/** Options every provider takes. */
export interface ProviderOptions {
  model: string
  /** Output dimensions (Matryoshka models), when the model supports choosing them. */
  dimensions?: number | undefined
  /** Per-request timeout in ms (default 30 000). Never infinite. */
  timeout?: number | undefined
  /** L2-normalise every returned vector (default false; TEI normalises server-side by default). */
  normalize?: boolean | undefined
  limits?: EmbedLimits | undefined
  /**
   * Counts tokens for batching and limits: a js-tiktoken encoding name or your own counter
   * (for a self-hosted model whose tokenizer you know). Default `'cl100k_base'`.
   */
  tokenizer?: EncodingName | Tokenizer | undefined
}

/** One batch's answer, already decoded. */
export interface BatchResult {
  vectors: Float32Array[]
  /** Input tokens the server reports having used (undefined when it does not say). */
  tokens?: number | undefined
  headers?: HeaderSource
}

export const DEFAULT_TIMEOUT_MS = 30_000

export function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid('ERR_INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

export function positiveNumber(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid('ERR_INVALID_ARGUMENT', `${name} must be a positive number, got ${String(value)}`)
  }
  return value
}

interface Batch {
  /** Positions in the call's `texts`. */
  start: number
  end: number
  /** Token estimate for the rate limiter (exact where counted). */
  tokens: number
}

export abstract class BatchingEmbedder implements Embedder {
  abstract readonly provider: string
  readonly model: string
  readonly baseURL: string
  readonly timeout: number
  readonly normalize: boolean
  protected readonly requestedDimensions: number | undefined
  protected knownDimensions: number | undefined
  protected maxBatchSize: number
  protected maxBatchTokens: number | undefined
  protected maxInputTokens: number | undefined
  protected readonly concurrency: number
  protected readonly overLong: OverLongPolicy
  protected readonly limiter: RateLimiter
  /** Requests in flight across every call of this embedder. */
  protected readonly window: Semaphore
  protected readonly counters: EmbedderUsage = emptyUsage()
  private readonly tokenizerOption: EncodingName | Tokenizer
  private prepared: Promise<void> | undefined

  constructor(options: ProviderOptions, defaults: { baseURL: string; maxBatchSize: number }) {
    if (options === null || typeof options !== 'object') {
      throw invalid('ERR_INVALID_ARGUMENT', 'embedder options must be an object')
    }
    if (typeof options.model !== 'string' || options.model === '') {
      throw invalid('ERR_INVALID_ARGUMENT', 'model must be a non-empty string')
    }
    this.model = options.model
    this.baseURL = defaults.baseURL.replace(/\/+$/, '')
    this.requestedDimensions = positiveInt(options.dimensions, 'dimensions')
    this.knownDimensions = this.requestedDimensions
    this.timeout = positiveNumber(options.timeout, 'timeout') ?? DEFAULT_TIMEOUT_MS
    this.normalize = options.normalize ?? false
    const limits = options.limits ?? {}
    this.maxBatchSize = positiveInt(limits.maxBatchSize, 'limits.maxBatchSize') ?? defaults.maxBatchSize
    this.maxBatchTokens = positiveInt(limits.maxBatchTokens, 'limits.maxBatchTokens')
    this.maxInputTokens = positiveInt(limits.maxInputTokens, 'limits.maxInputTokens')
    this.concurrency = positiveInt(limits.concurrency, 'limits.concurrency') ?? 4
    this.window = new Semaphore(this.concurrency)
    const policy = limits.overLongInputs ?? 'error'
    if (policy !== 'error' && policy !== 'truncate') {
      throw invalid('ERR_INVALID_ARGUMENT', `limits.overLongInputs must be 'error' or 'truncate', got ${String(policy)}`)
    }
    this.overLong = policy
    positiveNumber(limits.requestsPerMinute, 'limits.requestsPerMinute')
    positiveNumber(limits.tokensPerMinute, 'limits.tokensPerMinute')
    this.limiter = new RateLimiter({
      requestsPerMinute: limits.requestsPerMinute,
      tokensPerMinute: limits.tokensPerMinute,
    })
    this.tokenizerOption = options.tokenizer ?? 'cl100k_base'
  }

  get dimensions(): number | undefined {
    return this.knownDimensions
  }

  get identity(): EmbedderIdentity {
    return {
      provider: this.provider,
      baseURL: this.baseURL,
      model: this.model,
      dimensions: this.requestedDimensions,
      normalize: this.normalize,
    }
  }

  get usage(): EmbedderUsage {
    return { ...this.counters }
  }

  /** Sends one batch (already checked, at most `maxBatchSize` inputs) and decodes the answer. */
  protected abstract sendBatch(texts: string[], signal: AbortSignal): Promise<BatchResult>

  /** Runs once before the first batch (TEI reads `/info` here). Failures are retried on the next call. */
  protected prepare(_signal: AbortSignal | undefined): Promise<void> {
    return Promise.resolve()
  }

  /** Does the provider's health request; returns what the server said. */
  protected abstract checkHealth(signal: AbortSignal): Promise<string>

  async embed(text: string, options: EmbedOptions = {}): Promise<Float32Array> {
    const [vector] = await this.embedMany([text], options)
    return vector as Float32Array
  }

  async health(options: EmbedOptions = {}): Promise<EmbedderHealth> {
    const started = performance.now()
    const base = { provider: this.provider, model: this.model }
    try {
      const signal = anySignal(options.signal, AbortSignal.timeout(this.timeout)) as AbortSignal
      const detail = await this.checkHealth(signal)
      return { ...base, ok: true, latencyMs: performance.now() - started, detail }
    } catch (err) {
      return { ...base, ok: false, latencyMs: performance.now() - started, detail: (err as Error).message }
    }
  }

  async embedMany(texts: readonly string[], options: EmbedManyOptions = {}): Promise<Float32Array[]> {
    const { signal, onProgress, onBatch } = options
    throwIfAborted(signal, this.provider)
    checkTexts(texts, this.provider)
    if (texts.length === 0) return []
    await this.ensurePrepared(signal)
    const sendable = await this.applyInputLimits(texts)
    const batches = await this.planBatches(sendable)
    return this.runBatches(sendable, batches, signal, onProgress, onBatch)
  }

  private ensurePrepared(signal: AbortSignal | undefined): Promise<void> {
    if (this.prepared === undefined) {
      const p = this.prepare(signal)
      this.prepared = p
      // Do not remember a failure (a server that was down at the first call may be up now).
      p.catch(() => {
        if (this.prepared === p) this.prepared = undefined
      })
    }
    return this.prepared
  }

  private tokenizerPromise: Promise<Tokenizer> | undefined
  protected tokenizer(): Promise<Tokenizer> {
    if (this.tokenizerPromise === undefined) {
      const t = this.tokenizerOption
      this.tokenizerPromise = typeof t === 'string' ? loadTokenizer(t) : Promise.resolve(t)
    }
    return this.tokenizerPromise
  }

  /**
   * Enforces `maxInputTokens`. Only texts whose UTF-8 length exceeds the limit can exceed it in
   * tokens, so only those are tokenized; the rest cost nothing here.
   */
  private async applyInputLimits(texts: readonly string[]): Promise<readonly string[]> {
    const max = this.maxInputTokens
    if (max === undefined) return texts
    let out: string[] | undefined
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i] as string
      if (text.length <= max / 3 || byteLength(text) <= max) continue // ≤ 3 UTF-8 bytes per UTF-16 unit
      const tokenizer = await this.tokenizer()
      const tokens = tokenizer.count(text)
      if (tokens <= max) continue
      if (this.overLong === 'error') {
        throw new InputTooLongError(
          `input ${i} is ${tokens} tokens; ${this.model} takes at most ${max} ` +
            `(split it, or pass limits.overLongInputs: 'truncate')`,
          { provider: this.provider, index: i, tokens, maxTokens: max },
        )
      }
      out ??= texts.slice()
      out[i] = tokenizer.truncate(text, max)
    }
    return out ?? texts
  }

  /**
   * Greedy contiguous batches under `maxBatchSize` and `maxBatchTokens`. Costs start as the byte
   * bound; only when the bound would close a batch early are its texts tokenized exactly, so short
   * texts are never tokenized and long ones are packed as tightly as their real counts allow.
   */
  private async planBatches(texts: readonly string[]): Promise<Batch[]> {
    const budget = this.maxBatchTokens
    const batches: Batch[] = []
    const n = texts.length
    const bytes = new Array<number>(n)
    for (let i = 0; i < n; i++) bytes[i] = byteLength(texts[i] as string)
    const exact = new Array<number | undefined>(n)
    const cost = (i: number): number => exact[i] ?? (bytes[i] as number)
    let tokenizer: Tokenizer | undefined
    let start = 0
    while (start < n) {
      let end = start
      let sum = 0
      let counted = false
      while (end < n && end - start < this.maxBatchSize) {
        if (budget !== undefined && sum + cost(end) > budget) {
          if (!counted) {
            // The bound says "full": count this batch and the next text for real, then re-check.
            tokenizer ??= await this.tokenizer()
            sum = 0
            for (let i = start; i <= end; i++) {
              exact[i] ??= tokenizer.count(texts[i] as string)
              if (i < end) sum += exact[i] as number
            }
            counted = true
            if (sum + cost(end) > budget) break
          } else {
            exact[end] ??= (tokenizer as Tokenizer).count(texts[end] as string)
            if (sum + cost(end) > budget) break
          }
        }
        sum += cost(end)
        end++
      }
      if (end === start) end = start + 1 // a single input over the budget still goes alone
      let tokens = 0
      for (let i = start; i < end; i++) tokens += exact[i] ?? Math.ceil((bytes[i] as number) / 4)
      batches.push({ start, end, tokens })
      start = end
    }
    return batches
  }

  private async runBatches(
    texts: readonly string[],
    batches: Batch[],
    signal: AbortSignal | undefined,
    onProgress: EmbedManyOptions['onProgress'],
    onBatch: EmbedManyOptions['onBatch'],
  ): Promise<Float32Array[]> {
    const results = new Array<Float32Array>(texts.length)
    // One controller per call: the caller's abort, or our own cancel, reaches every request in flight.
    const controller = new AbortController()
    const onAbort = (): void => controller.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    // Separate from `controller`: after a failure no new batch may start (so waits in the rate
    // limiter end at once), but requests already in flight run to completion.
    const stop = new AbortController()
    const waitSignal = AbortSignal.any([controller.signal, stop.signal])
    let next = 0
    let done = 0
    let failure: unknown

    const worker = async (): Promise<void> => {
      while (failure === undefined && next < batches.length) {
        const batch = batches[next++] as Batch
        try {
          await this.window.acquire(waitSignal)
          let vectors: Float32Array[]
          try {
            await this.limiter.acquire(batch.tokens, waitSignal)
            // Another batch may have failed while this one waited for a slot or the limiter.
            if (failure !== undefined) break
            const chunk = texts.slice(batch.start, batch.end) as string[]
            vectors = await this.sendChecked(chunk, batch.tokens, controller.signal)
          } finally {
            this.window.release()
          }
          for (let i = 0; i < vectors.length; i++) results[batch.start + i] = vectors[i] as Float32Array
          done += vectors.length
          if (onBatch !== undefined) {
            const indices = Array.from({ length: vectors.length }, (_, i) => batch.start + i)
            onBatch(indices, vectors)
          }
          onProgress?.({ done, total: texts.length })
        } catch (err) {
          // First error wins; the other workers finish the request they have in flight (its result
          // still reaches onBatch, so the cache and retry layers keep it) and start no new one.
          failure ??= err
          stop.abort()
        }
      }
    }

    try {
      const workers = Math.min(this.concurrency, batches.length)
      await Promise.all(Array.from({ length: workers }, worker))
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    if (signal?.aborted) throw new EmbeddingAbortedError(signal.reason, this.provider)
    if (failure !== undefined) throw failure
    return results
  }

  /** One request with usage accounting and every response check. */
  private async sendChecked(texts: string[], estimate: number, signal: AbortSignal): Promise<Float32Array[]> {
    this.counters.requests++
    this.counters.inputs += texts.length
    let result: BatchResult
    try {
      result = await this.sendBatch(texts, signal)
    } catch (err) {
      if (signal.aborted && !(err instanceof EmbeddingError && err.code !== 'ERR_EMBEDDING_ABORTED')) {
        throw new EmbeddingAbortedError(signal.reason, this.provider)
      }
      throw err
    }
    if (result.headers !== undefined) this.limiter.observe(result.headers)
    if (result.tokens !== undefined) {
      this.counters.inputTokens += result.tokens
      this.limiter.correct(estimate, result.tokens)
    }
    const { vectors } = result
    if (vectors.length !== texts.length) {
      throw new BadResponseError(
        `${this.provider} returned ${vectors.length} embeddings for ${texts.length} inputs`,
        { provider: this.provider },
      )
    }
    const expected = this.knownDimensions ?? (vectors[0] as Float32Array).length
    for (let v = 0; v < vectors.length; v++) {
      const vector = vectors[v] as Float32Array
      if (vector.length !== expected) {
        throw new BadResponseError(
          `${this.provider} returned a ${vector.length}-dimension vector where ${expected} dimensions were expected ` +
            `(model ${this.model}${this.requestedDimensions === undefined ? '' : `, dimensions ${this.requestedDimensions}`})`,
          { provider: this.provider },
        )
      }
      if (expected === 0) throw new BadResponseError(`${this.provider} returned an empty vector`, { provider: this.provider })
      for (let i = 0; i < vector.length; i++) {
        if (!Number.isFinite(vector[i])) {
          throw new BadResponseError(`${this.provider} returned ${String(vector[i])} in an embedding (component ${i})`, {
            provider: this.provider,
          })
        }
      }
      if (this.normalize) normalizeInPlace(vector)
    }
    // Learnt from the first good answer; from then on every answer must match it.
    this.knownDimensions ??= expected
    return vectors
  }
}

/** Rejects what must never reach a server: non-strings and empty strings. */
export function checkTexts(texts: readonly string[], provider: string): void {
  if (!Array.isArray(texts)) {
    throw new InvalidRequestError(`embedMany expects an array of strings, got ${typeof texts}`, { provider })
  }
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]
    if (typeof t !== 'string') {
      throw new InvalidRequestError(`input ${i} is ${t === null ? 'null' : typeof t}; expected a string`, {
        provider,
        index: i,
      })
    }
    if (t.length === 0) {
      throw new InvalidRequestError(`input ${i} is an empty string; embedding APIs reject empty inputs`, {
        provider,
        index: i,
      })
    }
  }
}
