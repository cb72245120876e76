// Child process for the interrupted-save tests: builds a large index deterministically, then saves
// it to the given path over and over until the parent kills it. Every other save adds a marker key
// (MARKER), so the parent can tell consecutive complete saves apart. After each save it prints
// "saved <ms>" so the parent can time its kill to land inside a save.
//
//   node --import=tsx save-loop.ts PATH ROWS DIM SEED [flat|hnsw]
import { FlatIndex, HnswIndex } from '../../src/index.js'
import { MARKER, seededRows } from './data.js'

const [path, rows, dim, seed, kind] = process.argv.slice(2)
const n = Number(rows)
const d = Number(dim)
// A small, fast-building graph: the test is about the file, not recall.
const index = kind === 'hnsw' ? new HnswIndex({ dim: d, metric: 'l2', m: 8, efConstruction: 32, seed: 1 }) : new FlatIndex({ dim: d, metric: 'l2' })
index.addBatchSync(
  Float64Array.from({ length: n }, (_, i) => 1_000_000 + i),
  seededRows(n, d, Number(seed)),
)
for (let i = 0; ; i++) {
  if (i % 2 === 1) index.add(MARKER, new Float32Array(d).fill(0.5))
  else index.remove(MARKER)
  const start = performance.now()
  index.saveSync(path as string)
  process.stdout.write(`saved ${Math.ceil(performance.now() - start)}\n`)
}
