#!/usr/bin/env node
// Regenerates the small hnswlib-format files committed for tests, written by the real hnswlib-node
// (a dev dependency): __test__/fixtures/hnswlib/ (read by crates/ferrovec-core/tests/hnswlib.rs)
// and fuzz/seeds/load_hnswlib/ (each prefixed with the fuzz target's two selector bytes).
//
//   node scripts/hnswlib-fixtures.mjs
//
// The vectors follow a formula the Rust test recomputes: element `label` has
// v[j] = fround(sin(label · 0.37 + j · 1.3)).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import hnswlib from 'hnswlib-node'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const point = (label, dim) => Array.from({ length: dim }, (_, j) => Math.fround(Math.sin(label * 0.37 + j * 1.3)))

function build({ space, dim, n, maxElements, m, efConstruction, seed, deleteEvery }) {
  const index = new hnswlib.HierarchicalNSW(space, dim)
  index.initIndex(maxElements, m, efConstruction, seed)
  for (let i = 0; i < n; i++) index.addPoint(point(3 * i + 1, dim), 3 * i + 1)
  if (deleteEvery) for (let i = 5; i < n; i += deleteEvery) index.markDelete(3 * i + 1)
  const file = join(tmpdir(), `ferrovec-fixture-${process.pid}.index`)
  index.writeIndexSync(file)
  const bytes = readFileSync(file)
  rmSync(file)
  return bytes
}

const fixtures = join(root, '__test__/fixtures/hnswlib')
mkdirSync(fixtures, { recursive: true })
writeFileSync(
  join(fixtures, 'l2-d8-m8.index'),
  build({ space: 'l2', dim: 8, n: 200, maxElements: 256, m: 8, efConstruction: 64, seed: 42, deleteEvery: 40 }),
)
writeFileSync(
  join(fixtures, 'cosine-d8-m8.index'),
  build({ space: 'cosine', dim: 8, n: 200, maxElements: 200, m: 8, efConstruction: 64, seed: 7, deleteEvery: 0 }),
)

const seeds = join(root, 'fuzz/seeds/load_hnswlib')
mkdirSync(seeds, { recursive: true })
const seed = (name, dimByte, spaceByte, bytes) => writeFileSync(join(seeds, name), Buffer.concat([Buffer.from([dimByte, spaceByte]), bytes]))
seed('l2-d4', 3, 0, build({ space: 'l2', dim: 4, n: 40, maxElements: 48, m: 4, efConstruction: 16, seed: 1, deleteEvery: 10 }))
seed('ip-d3', 2, 1, build({ space: 'ip', dim: 3, n: 25, maxElements: 25, m: 3, efConstruction: 8, seed: 2, deleteEvery: 0 }))
seed('empty-d2', 1, 0, build({ space: 'l2', dim: 2, n: 0, maxElements: 4, m: 2, efConstruction: 4, seed: 3, deleteEvery: 0 }))
console.log('wrote', fixtures, 'and', seeds)
