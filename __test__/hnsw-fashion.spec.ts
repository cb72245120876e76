import test from 'ava'
import { loadFashionMnist10k } from '../src/data/demo.js'
import { FlatIndex, HnswIndex } from '../src/index.js'
import { recallAtK } from '../src/recall.js'

// The bundled Fashion-MNIST slice (10,000 × 784 pixels, l2, 500 queries with exact top-100 ground
// truth): real data that always ships with the package, so this runs offline and in CI.
test('recall@10 on Fashion-MNIST 10k (l2) at the default ef, plus a label filter walked in the graph', async (t) => {
  const d = loadFashionMnist10k()
  const keys = Float64Array.from({ length: d.base.rows }, (_, i) => i)
  const index = new HnswIndex({ dim: d.base.dim, metric: 'l2' })
  const started = Date.now()
  let progressCalls = 0
  await index.addBatch(keys, d.base.data, { onProgress: () => progressCalls++ })
  const buildMs = Date.now() - started
  t.is(index.size, d.base.rows)
  t.true(progressCalls >= 2, `${progressCalls} progress calls`)

  const truth = { ids: d.gt.data, stride: d.gt.dim, distances: d.gtDistances.data }
  const lines: string[] = []
  for (const ef of [16, 32, 64]) {
    const r = await index.searchBatch(d.queries.data, 10, { ef, stats: true })
    // Squared pixel distances are in the tens of thousands; ties are exact integers, so a tight
    // absolute epsilon is still tie-aware.
    const recall = recallAtK(r, truth, 10, 0.5)
    const dist = r.stats!.distances.reduce((a, b) => a + b, 0) / d.queries.rows
    lines.push(`ef ${ef}: recall@10 ${recall.toFixed(4)}, ${dist.toFixed(0)} distances/query`)
    if (ef === 64) t.true(recall >= 0.95, `default ef: recall@10 ${recall}`)
  }

  // "Anything but T-shirts" (class 0): 90% allowed, so the graph walk handles it (not exact search).
  const allowed = (key: number) => d.baseLabels[key] !== 0
  const flat = new FlatIndex({ dim: d.base.dim, metric: 'l2' })
  await flat.addBatch(keys, d.base.data)
  const queries = d.queries.data.subarray(0, 100 * d.base.dim)
  const want = await flat.searchBatch(queries, 10, { filter: allowed })
  const got = await index.searchBatch(queries, 10, { filter: allowed, stats: true })
  t.true(Array.from(got.counts).every((c) => c === 10))
  t.true(Array.from(got.keys).every((k) => allowed(k)))
  t.true(got.stats!.exact.every((e) => e === 0), 'walked in the graph')
  const filtered = recallAtK(got, { ids: want.keys, stride: want.k, distances: want.distances }, 10, 0.5)
  t.true(filtered >= 0.95, `filtered recall ${filtered}`)
  t.log(`Fashion-MNIST 10k × 784: build ${buildMs} ms on both cores; ${lines.join('; ')}; label filter: recall@10 ${filtered.toFixed(4)}`)
})
