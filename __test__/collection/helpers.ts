// Test helpers for collections: a fast deterministic embedder (hashed bag of words, so texts sharing
// words are close) and temporary directories.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import type { Embedder, EmbedderHealth, EmbedderIdentity, EmbedderUsage, EmbedManyOptions } from '../../src/embed/types.js'
import { EmbeddingAbortedError } from '../../src/embed/errors.js'

/** Hashed bag of words, L2-normalised. `calls` counts texts embedded (for resume tests). */
export class WordsEmbedder implements Embedder {
  readonly provider = 'test-words'
  readonly model: string
  readonly dimensions: number
  calls = 0
  /** Resolves before each batch; tests use it to pause or abort mid-call. */
  beforeBatch: ((done: number) => Promise<void> | void) | undefined

  constructor(model = 'words-v1', dimensions = 32) {
    this.model = model
    this.dimensions = dimensions
  }

  get identity(): EmbedderIdentity {
    return { provider: this.provider, baseURL: 'test:', model: this.model, dimensions: this.dimensions, normalize: true }
  }

  get usage(): EmbedderUsage {
    return { requests: 0, inputs: this.calls, inputTokens: 0, retries: 0, cacheHits: 0, cacheMisses: 0 }
  }

  vector(text: string): Float32Array {
    const v = new Float32Array(this.dimensions)
    const salt = this.model.length
    for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
      let h = 2166136261 ^ salt
      for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619)
      v[(h >>> 0) % this.dimensions] += 1
    }
    let s = 0
    for (const x of v) s += x * x
    if (s === 0) v[0] = 1
    else for (let i = 0; i < v.length; i++) v[i] /= Math.sqrt(s)
    return v
  }

  async embed(text: string): Promise<Float32Array> {
    return (await this.embedMany([text]))[0] as Float32Array
  }

  async embedMany(texts: readonly string[], options: EmbedManyOptions = {}): Promise<Float32Array[]> {
    const out: Float32Array[] = []
    for (let i = 0; i < texts.length; i += 8) {
      await this.beforeBatch?.(i)
      if (options.signal?.aborted) throw new EmbeddingAbortedError(options.signal.reason, this.provider)
      const batch = texts.slice(i, i + 8).map((t) => this.vector(t))
      this.calls += batch.length
      out.push(...batch)
      options.onProgress?.({ done: out.length, total: texts.length })
    }
    return out
  }

  async health(): Promise<EmbedderHealth> {
    return { ok: true, provider: this.provider, model: this.model, latencyMs: 0 }
  }
}

export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrovec-coll-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export const ANIMALS = [
  { id: 'cat', text: 'the cat sat on the mat', metadata: { kind: 'pet', legs: 4, tags: 'small', year: 2020 } },
  { id: 'dog', text: 'the dog chased the ball in the park', metadata: { kind: 'pet', legs: 4, year: 2021 } },
  { id: 'eagle', text: 'an eagle flies over the mountain', metadata: { kind: 'wild', legs: 2, year: 2022 } },
  { id: 'shark', text: 'a shark swims in the deep ocean', metadata: { kind: 'wild', legs: 0, year: 2023, fish: true } },
  { id: 'parrot', text: 'the parrot talks and sits on the mat', metadata: { kind: 'pet', legs: 2, year: 2024, fish: false } },
]
