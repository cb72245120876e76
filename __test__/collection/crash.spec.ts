import test from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Collection } from '../../src/collection/index.js'
import { crashDocs } from './crash-docs.js'
import { tempDir, WordsEmbedder } from './helpers.js'

const here = fileURLToPath(new URL('.', import.meta.url))

/** Runs the child until it reports the commit, then SIGKILLs it. */
function crashAfterCommit(dir: string, step: 'upsert' | 'delete'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', join(here, 'crash-child.ts'), dir, step], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('committed')) child.kill('SIGKILL')
    })
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && out.includes('committed')) resolve(out)
      else reject(new Error(`child ended with ${String(code ?? signal)} before the commit: ${out} ${err}`))
    })
  })
}

test('crash between the database commit and the index save: reopens consistent, nothing re-embedded', async (t) => {
  const dir = tempDir(t)
  const { base, extra, updates, deletions } = crashDocs()
  const out = await crashAfterCommit(dir, 'upsert')
  t.false(out.includes('not killed'))
  const embedder = new WordsEmbedder('words-v1', 256)
  const c = await Collection.open(dir, { embedder })
  t.is(c.count(), base.length + extra.length)
  // Every document is findable by its own vector, updated ones by their new text.
  const updated = new Map(updates.map((u) => [u.id, u]))
  for (const d of [...base, ...extra]) {
    const text = updated.get(d.id)?.text ?? d.text
    // Filtered to the one document, the index answers exactly: it must hold the document, with the
    // vector of its current text.
    const hit = (await c.search(embedder.vector(text), { k: 1, filter: { i: d.metadata.i } }))[0]
    t.is(hit?.id, d.id)
    t.true(hit !== undefined && hit.score > 0.9999, d.id)
    t.is(hit?.text, text)
  }
  t.is(embedder.calls, 0, 'recovery re-indexes stored vectors, never re-embeds')
  await c.close()

  // Now a delete interrupted the same way: deleted documents must not come back from the index.
  await crashAfterCommit(dir, 'delete')
  const c2 = await Collection.open(dir, { embedder })
  t.is(c2.count(), base.length + extra.length - deletions.length)
  for (const id of deletions) {
    const d = base.find((b) => b.id === id)!
    t.deepEqual(await c2.search(embedder.vector(d.text), { k: 3, filter: { i: d.metadata.i } }), [])
  }
  // And every remaining document is still in the index.
  for (const d of [...base, ...extra].filter((x) => !deletions.includes(x.id))) {
    t.is((await c2.search(embedder.vector('common'), { k: 1, filter: { i: d.metadata.i } }))[0]?.id, d.id)
  }
  await c2.close()
})
