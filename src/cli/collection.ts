// Opening a collection from the CLI: the collection must exist, and vector work needs the model it was built with.
import { statSync } from 'node:fs'
import type { Collection } from '../collection/index.js'
import { FerrovecError } from '../errors.js'
import { offlineEmbedder } from './embedder.js'

/**
 * Opens an existing collection. With `needsEmbedder`, the offline embedder is attached (the collection
 * refuses it with ERR_MODEL_MISMATCH when it was built with another model). Without it the collection is
 * opened with no embedder at all, so keyword search works on a collection built with any model (an
 * OpenAI-embedded one, say) and never loads one.
 */
export async function openCollection(dir: string, options: { needsEmbedder: boolean }): Promise<Collection> {
  let isDir = false
  try {
    isDir = statSync(dir).isDirectory()
  } catch {
    throw new FerrovecError('ERR_IO', `${dir}: no such collection directory`)
  }
  if (!isDir) throw new FerrovecError('ERR_IO', `${dir}: not a collection directory (a file)`)
  const embedder = options.needsEmbedder ? await offlineEmbedder() : undefined
  const { Collection } = await collectionModule()
  return Collection.open(dir, { embedder: embedder ?? null, create: false })
}

/**
 * The collection module, loaded on first use: it brings SQLite, which `ferrovec info`, `bench`, `embed` and
 * `demo` never need.
 */
export function collectionModule(): Promise<typeof import('../collection/index.js')> {
  return import('../collection/index.js')
}
