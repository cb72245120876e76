import test from 'ava'
import { FlatIndex } from '../src/index.js'
import { loadFashionMnist10k } from '../src/data/demo.js'
import { recallAtK } from '../src/recall.js'

test('FlatIndex reproduces the shipped Fashion-MNIST ground truth (real data, exact search)', async (t) => {
  const data = loadFashionMnist10k()
  t.is(data.base.rows, 10_000)
  t.is(data.base.dim, 784)
  const index = new FlatIndex({ dim: 784, metric: 'l2' })
  await index.addBatch(Float64Array.from({ length: data.base.rows }, (_, i) => i), data.base.data)
  const nq = 100
  const result = await index.searchBatch(data.queries.data.subarray(0, nq * 784), 100)
  const truth = { ids: data.gt.data, stride: 100, distances: data.gtDistances.data }
  t.is(recallAtK(result, truth, 10), 1)
  t.is(recallAtK(result, truth, 100), 1)
  // Distances are exact squared L2 of integer pixels, so they match the float64 ground truth exactly.
  for (let q = 0; q < nq; q++) t.is(result.distances[q * 100], data.gtDistances.data[q * 100])
  // Set-based recall is only pessimistic where ties exist; on this data it is still near-perfect.
  t.true(recallAtK(result, { ids: data.gt.data, stride: 100 }, 10) > 0.99)
})
