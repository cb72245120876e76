/**
 * The one interface every layer of the embedding stack implements — providers, {@link CachedEmbedder},
 * {@link RetryEmbedder} — so they compose in any order and a caller never knows how deep the stack is.
 */

/** Options of a single-text call. */
export interface EmbedOptions {
  /** Aborts the call, including requests in flight and any retry sleep. */
  signal?: AbortSignal | undefined
}

/** Progress after each finished batch (cache hits count as done as soon as they are found). */
export interface EmbedProgress {
  /** Inputs whose vectors are ready. */
  done: number
  /** Inputs in the call. */
  total: number
}

/** Options of a many-text call. */
export interface EmbedManyOptions extends EmbedOptions {
  /** Called after each batch. Exceptions thrown by it are not caught: keep it cheap and safe. */
  onProgress?: ((progress: EmbedProgress) => void) | undefined
  /**
   * Called with each batch's vectors as soon as the batch succeeds, before the whole call settles.
   * `indices` are positions in the `texts` of this call. The layers use it so work that succeeded is
   * kept when another batch of the same call fails: the cache stores it, the retry layer re-sends
   * only what is still missing.
   */
  onBatch?: ((indices: readonly number[], vectors: readonly Float32Array[]) => void) | undefined
}

/** Counters of one embedder (layers add their own and pass the inner ones through). */
export interface EmbedderUsage {
  /** HTTP requests sent (each attempt counts). */
  requests: number
  /** Inputs sent to the server (after cache and de-duplication). */
  inputs: number
  /** Input tokens as reported by the server (0 where the server does not report them). */
  inputTokens: number
  /** Attempts repeated by the retry layer. */
  retries: number
  /** Inputs answered without a request (cache, persistent store or a shared in-flight call). */
  cacheHits: number
  /** Inputs the cache had to ask the provider for. */
  cacheMisses: number
}

/** Result of {@link Embedder.health}. Never throws: a failure is reported as `ok: false`. */
export interface EmbedderHealth {
  ok: boolean
  provider: string
  model: string
  /** Round-trip time of the check. */
  latencyMs: number
  /** What the server said, or why the check failed. */
  detail?: string | undefined
}

/**
 * Everything that decides which vector a text gets. Two embedders with equal identities return the
 * same vector for the same text, so it is what cache keys (and stored collections) are made of.
 */
export interface EmbedderIdentity {
  provider: string
  /** Endpoint the provider talks to (a proxy can serve a different model under the same name). */
  baseURL: string
  model: string
  /** Requested output dimensions (Matryoshka), or undefined for the model's own. */
  dimensions: number | undefined
  /** Whether vectors are L2-normalised before they are returned. */
  normalize: boolean
}

export interface Embedder {
  readonly provider: string
  readonly model: string
  /**
   * Length of every returned vector. Known up front for OpenAI models and whenever `dimensions` was
   * given; otherwise learnt from the first response (undefined until then).
   */
  readonly dimensions: number | undefined
  readonly identity: EmbedderIdentity
  /** A snapshot of the counters of this layer and every layer below it. */
  readonly usage: EmbedderUsage
  /** Embeds one text. */
  embed(text: string, options?: EmbedOptions): Promise<Float32Array>
  /** Embeds many texts; the result has one vector per input, in input order. */
  embedMany(texts: readonly string[], options?: EmbedManyOptions): Promise<Float32Array[]>
  /** Checks that the server answers. */
  health(options?: EmbedOptions): Promise<EmbedderHealth>
}

export function emptyUsage(): EmbedderUsage {
  return { requests: 0, inputs: 0, inputTokens: 0, retries: 0, cacheHits: 0, cacheMisses: 0 }
}
