// The embedder and the cache folder every CLI command shares: the offline Universal Sentence Encoder under the
// usual cache and retry stack, so the CLI needs no server and no key.
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { EmbedderStack } from '../embed/create.js'

/**
 * Where the CLI keeps what it builds (the main job's collection): `FERROVEC_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/ferrovec`, else the platform's cache folder.
 */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env.FERROVEC_CACHE_DIR) return env.FERROVEC_CACHE_DIR
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'ferrovec')
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'ferrovec')
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'ferrovec', 'Cache')
  return join(homedir(), '.cache', 'ferrovec')
}

/**
 * The offline embedder (`provider: 'use'`) under the in-memory cache and retry layers. Collections keep the
 * vectors of unchanged texts themselves, so the CLI needs no persistent embedding cache.
 */
export async function offlineEmbedder(): Promise<EmbedderStack> {
  // Imported here: the embedding layer brings the OpenAI SDK (~0.1 s to load), which `info`, `bench` and
  // `demo` never need.
  const { createEmbedder } = await import('../embed/create.js')
  return createEmbedder({ provider: 'use' })
}
