// Child process of hnsw.bench.ts: builds one library's HNSW index over seeded clustered data and prints
// the resident-set growth it caused, as JSON. One library per process, so no library's allocator
// state or freed-but-kept pages count against another; run with --expose-gc so the JS heap is
// collected before each reading. Usage: node --expose-gc --import tsx lib/memprobe.ts LIB N DIM

import { createRequire } from 'node:module'

import { HnswIndex } from './ferrovec.js'
import { clusteredVectors, sequentialKeys } from './rng.js'

const [lib, nArg, dimArg] = process.argv.slice(2)
const n = Number(nArg)
const dim = Number(dimArg)
const require = createRequire(import.meta.url)
const base = clusteredVectors(n, dim, 99, 100)
const keys = sequentialKeys(n)
const big = new BigUint64Array(n)
for (let i = 0; i < n; i++) big[i] = BigInt(i)

/**
 * Resident memory outside V8's JS heap: RSS minus the heap V8 has committed. A forced GC can shrink
 * the JS heap between the two readings (the data generation leaves garbage behind), which would
 * otherwise be subtracted from the index's growth.
 */
async function rss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    global.gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
  const m = process.memoryUsage()
  return m.rss - m.heapTotal
}

const before = await rss()
let keep: unknown
if (lib === 'ferrovec') {
  const idx = new HnswIndex({ dim, metric: 'l2', m: 16, efConstruction: 200, seed: 1, capacity: n })
  await idx.addBatch(keys, base)
  idx.search(base.slice(0, dim), 10)
  keep = idx
} else if (lib === 'hnswlib-node') {
  const { HierarchicalNSW } = require('hnswlib-node')
  const idx = new HierarchicalNSW('l2', dim)
  idx.initIndex({ maxElements: n, m: 16, efConstruction: 200, randomSeed: 100 })
  for (let i = 0; i < n; i++) idx.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i)
  idx.searchKnn(Array.from(base.subarray(0, dim)), 10)
  keep = idx
} else if (lib === 'usearch') {
  const { Index } = require('usearch')
  const idx = new Index({ dimensions: dim, metric: 'l2sq', connectivity: 16, expansion_add: 200, expansion_search: 64 })
  idx.add(big, base, 2)
  idx.search(base.slice(0, dim), 10, 1)
  keep = idx
} else throw new Error(`unknown library ${lib}`)
const after = await rss()
console.log(JSON.stringify({ lib, n, dim, before, after, perVector: (after - before) / n, kept: keep !== undefined }))
