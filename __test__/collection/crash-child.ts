// Child process of the crash-recovery test: builds a collection, saves it, then starts one more
// write and reports "committed" from inside it — after the database commit, before the index is
// touched or saved — and blocks there until the parent kills it with SIGKILL.
//
//   node --import=tsx crash-child.ts DIR upsert|delete
import { Collection } from '../../src/collection/index.js'
import { testHooks } from '../../src/collection/collection.js'
import { WordsEmbedder } from './helpers.js'
import { crashDocs } from './crash-docs.js'

const [dir, step] = process.argv.slice(2) as [string, string]
const c = await Collection.open(dir, { embedder: new WordsEmbedder('words-v1', 256) })
const { base, extra, updates, deletions } = crashDocs()
if (c.count() === 0) {
  await c.upsert(base)
  await c.flush()
}
testHooks.afterCommit = () => {
  process.stdout.write('committed\n')
  // Block the thread for good: the parent's SIGKILL is the only way out.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
}
if (step === 'upsert') await c.upsert([...extra, ...updates])
else await c.delete(deletions)
process.stdout.write('not killed\n')
