// The data set that ships with the package (data/fashion-mnist-10k), for the main job and tests.
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FerrovecError } from '../errors.js'
import { readFvecs, readIdxImages, readIdxLabels, readIvecs, type Matrix } from './formats.js'

/** Vectors, queries, labels and exact ground truth of a bundled data set. */
export interface DemoData {
  name: string
  metric: 'l2'
  base: Matrix<Float32Array>
  queries: Matrix<Float32Array>
  baseLabels: Uint8Array
  queryLabels: Uint8Array
  /** `gt.data[q * gt.dim + r]` is the row of query `q`'s r-th nearest base vector. */
  gt: Matrix<Int32Array>
  /** The matching squared L2 distances. */
  gtDistances: Matrix<Float32Array>
}

/** Finds the package's `data/` folder from src/ (tsx) or dist/ (built) alike. */
export function dataDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'data', 'fashion-mnist-10k'))) return join(dir, 'data')
    dir = resolve(dir, '..')
  }
  throw new FerrovecError('ERR_INVALID_ARGUMENT', 'cannot find the bundled data/ folder next to the ferrovec package')
}

/** Loads the bundled Fashion-MNIST slice (10,000 base images, 500 queries, top-100 ground truth). */
export function loadFashionMnist10k(dir = join(dataDir(), 'fashion-mnist-10k')): DemoData {
  return {
    name: 'fashion-mnist-10k (784-d, l2)',
    metric: 'l2',
    base: readIdxImages(join(dir, 'base-images-idx3-ubyte.gz')),
    queries: readIdxImages(join(dir, 'query-images-idx3-ubyte.gz')),
    baseLabels: readIdxLabels(join(dir, 'base-labels-idx1-ubyte.gz')),
    queryLabels: readIdxLabels(join(dir, 'query-labels-idx1-ubyte.gz')),
    gt: readIvecs(join(dir, 'gt100.ivecs.gz')),
    gtDistances: readFvecs(join(dir, 'gt100-l2sq.fvecs.gz')),
  }
}
