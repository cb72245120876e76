#!/usr/bin/env node
// Regenerates data/fashion-mnist-10k from the full Fashion-MNIST files in the team's shared data
// folder. Run once by a maintainer; the output is committed, so nothing here runs at install or test
// time. Ground truth is computed by exact brute force in float64 (the inputs are integers, so the
// squared distances are exact) and ties are ordered by index.
//
//   node scripts/make-demo-data.mjs [path/to/shared/data/fashion-mnist]
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'

const src = process.argv[2] ?? join(import.meta.dirname, '../../shared/data/fashion-mnist')
const out = join(import.meta.dirname, '../data/fashion-mnist-10k')
const BASE = 10_000
const QUERIES = 500
const K = 100

function idx(file, magic) {
  const buf = gunzipSync(readFileSync(join(src, file)))
  if (buf.readUInt32BE(0) !== magic) throw new Error(`${file}: not an IDX file with magic ${magic}`)
  return buf
}

// Keeps the IDX layout (big-endian header, then raw uint8) so the subset reads like the original.
function subsetIdx(buf, headerBytes, rowBytes, n) {
  const head = Buffer.from(buf.subarray(0, headerBytes))
  head.writeUInt32BE(n, 4)
  return Buffer.concat([head, buf.subarray(headerBytes, headerBytes + rowBytes * n)])
}

const trainImages = idx('train-images-idx3-ubyte.gz', 2051)
const trainLabels = idx('train-labels-idx1-ubyte.gz', 2049)
const testImages = idx('t10k-images-idx3-ubyte.gz', 2051)
const testLabels = idx('t10k-labels-idx1-ubyte.gz', 2049)
const D = 784

const base = subsetIdx(trainImages, 16, D, BASE)
const queries = subsetIdx(testImages, 16, D, QUERIES)
writeFileSync(join(out, 'base-images-idx3-ubyte.gz'), gzipSync(base, { level: 9 }))
writeFileSync(join(out, 'base-labels-idx1-ubyte.gz'), gzipSync(subsetIdx(trainLabels, 8, 1, BASE), { level: 9 }))
writeFileSync(join(out, 'query-images-idx3-ubyte.gz'), gzipSync(queries, { level: 9 }))
writeFileSync(join(out, 'query-labels-idx1-ubyte.gz'), gzipSync(subsetIdx(testLabels, 8, 1, QUERIES), { level: 9 }))

// Ground truth: ivecs of the K nearest base rows by squared L2, and fvecs of those squared distances.
const ids = Buffer.alloc(QUERIES * (K + 1) * 4)
const dists = Buffer.alloc(QUERIES * (K + 1) * 4)
const b = base.subarray(16)
const q = queries.subarray(16)
const all = new Float64Array(BASE)
const order = new Int32Array(BASE)
for (let i = 0; i < QUERIES; i++) {
  for (let j = 0; j < BASE; j++) {
    let s = 0
    for (let d = 0; d < D; d++) {
      const t = q[i * D + d] - b[j * D + d]
      s += t * t
    }
    all[j] = s
    order[j] = j
  }
  order.sort((x, y) => all[x] - all[y] || x - y)
  const off = i * (K + 1) * 4
  ids.writeInt32LE(K, off)
  dists.writeInt32LE(K, off)
  for (let r = 0; r < K; r++) {
    ids.writeInt32LE(order[r], off + 4 * (r + 1))
    dists.writeFloatLE(all[order[r]], off + 4 * (r + 1))
  }
}
writeFileSync(join(out, 'gt100.ivecs.gz'), gzipSync(ids, { level: 9 }))
writeFileSync(join(out, 'gt100-l2sq.fvecs.gz'), gzipSync(dists, { level: 9 }))
console.log(`wrote ${BASE} base rows, ${QUERIES} queries and top-${K} ground truth to ${out}`)
