/**
 * The worker thread that runs the Universal Sentence Encoder for {@link UseEmbedder}, so the model's
 * TF.js kernels (tens of milliseconds per sentence, seconds per batch of abstracts) never run on the
 * caller's event loop. Protocol (one request at a time per message, answered by `id`):
 *
 *   → { id, texts: string[] }          ← { id, dim, data: Float32Array (texts × dim, transferred) }
 *   → { id, texts: [] }  (load only)   ← { id, dim: 0, data: empty }
 *                                      ← { id, error: string }   (load or model failure)
 */
import { parentPort } from 'node:worker_threads'
import { loadUseModel } from './use-model.js'

export interface UseRequest {
  id: number
  texts: string[]
}

export type UseReply = { id: number; dim: number; data: Float32Array } | { id: number; error: string }

const port = parentPort
// Requests run one after another: they share one thread anyway, and interleaving two batches at the
// model's await points would only hold both batches' tensors in memory at once.
let queue: Promise<void> = Promise.resolve()
if (port !== null) {
  port.on('message', (req: UseRequest) => {
    queue = queue.then(async () => {
      try {
        const model = await loadUseModel()
        const out = req.texts.length === 0 ? [] : await model.embed(req.texts)
        if (!Array.isArray(out) || out.length !== req.texts.length) {
          throw new Error(`the model returned ${Array.isArray(out) ? out.length : 'no'} embeddings for ${req.texts.length} texts`)
        }
        const dim = out[0]?.length ?? 0
        const data = new Float32Array(out.length * dim)
        out.forEach((v, i) => data.set(v, i * dim))
        port.postMessage({ id: req.id, dim, data } satisfies UseReply, [data.buffer])
      } catch (err) {
        port.postMessage({ id: req.id, error: (err as Error)?.message ?? String(err) } satisfies UseReply)
      }
    })
  })
}
