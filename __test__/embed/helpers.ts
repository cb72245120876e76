import type { ExecutionContext } from 'ava'
import { createEmbedder, type EmbedderConfig } from '../../src/embed/index.js'
import { EmbeddingTestServer, vectorFor, type ServerOptions } from './server.js'

/** Starts a server that is closed when the test ends. */
export async function serve(t: ExecutionContext, options?: ServerOptions): Promise<EmbeddingTestServer> {
  const server = await EmbeddingTestServer.start(options)
  t.teardown(() => server.close())
  return server
}

/** Fast retry settings: the same algorithm with millisecond delays. */
export const FAST_RETRY = { initialDelayMs: 20, maxDelayMs: 200, retries: 3 }

/** An OpenAI stack pointed at the loopback server (real SDK underneath). */
export function openaiStack(server: EmbeddingTestServer, config: Partial<EmbedderConfig> = {}) {
  return createEmbedder({
    provider: 'openai',
    model: 'text-embedding-3-small',
    dimensions: server.dims,
    baseURL: `${server.url}/v1`,
    apiKey: 'test-key',
    retry: FAST_RETRY,
    ...config,
  })
}

export function assertVectors(t: ExecutionContext, texts: readonly string[], vectors: Float32Array[], dims: number): void {
  t.is(vectors.length, texts.length)
  let bad = -1
  for (let i = 0; i < texts.length && bad < 0; i++) {
    const want = vectorFor(texts[i] as string, dims)
    const got = vectors[i] as Float32Array
    if (got.length !== dims) bad = i
    for (let j = 0; j < dims && bad < 0; j++) if (Math.abs((got[j] as number) - (want[j] as number)) > 1e-6) bad = i
  }
  t.is(bad, -1, bad < 0 ? '' : `vector ${bad} does not belong to text ${JSON.stringify(texts[bad])}`)
}

export function texts(n: number, prefix = 'text'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} number ${i}`)
}
