// Writes the HNSW benchmark's real sets as raw little-endian f32 files for the pure-Rust profile
// (rust/src/bin/hnsw.rs): .cache/fashion-base-20k.f32 + fashion-queries-1k.f32 (784-d, l2) and
// .cache/glove-base-50k.f32 + glove-queries-1k.f32 (100-d, cosine; needs `npm run glove` first).
// Run: `npx tsx scripts/dump-f32.ts`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { loadGloveWink, loadRealSet } from '../lib/datasets.js'
import { BENCH_DIR } from '../lib/peers.js'

const out = join(BENCH_DIR, '.cache')
mkdirSync(out, { recursive: true })
const put = (name: string, data: Float32Array, floats: number) => {
  writeFileSync(join(out, name), Buffer.from(data.buffer, data.byteOffset, Math.min(floats, data.length) * 4))
  console.log(`wrote .cache/${name}`)
}
const f = loadRealSet('fashion-mnist-784-euclidean', 1000)
if ('missing' in f) console.log(f.missing)
else {
  put('fashion-base-20k.f32', f.base.data, 20000 * 784)
  put('fashion-queries-1k.f32', f.queries.data, 1000 * 784)
}
const g = loadGloveWink(1000)
if ('missing' in g) console.log(g.missing)
else {
  put('glove-base-50k.f32', g.base.data, 50000 * 100)
  put('glove-queries-1k.f32', g.queries.data, 1000 * 100)
}
