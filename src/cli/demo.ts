// `ferrovec demo`: exact search over the bundled Fashion-MNIST slice, checked against its shipped ground truth.
// It needs nothing but the package: no embedder, no network.
import { performance } from 'node:perf_hooks'
import { loadFashionMnist10k } from '../data/demo.js'
import { FlatIndex } from '../flat.js'
import { nativeInfo } from '../metric.js'
import { recallAtK } from '../recall.js'
import { EXIT_FAILURE, EXIT_OK, expectPositionals, intOption, parseOptions, writeJson, type Command } from './command.js'

export const demoCommand: Command = {
  name: 'demo',
  summary: 'exact search over the bundled Fashion-MNIST slice, checked against its ground truth',
  usage: `usage: ferrovec demo [--k N] [--queries N] [--json]

Exact search (FlatIndex, l2) over the bundled Fashion-MNIST slice (10,000 × 784), checked against its
shipped ground truth; prints recall@k and queries/s, one query at a time and as one batch.

  --k N          neighbours per query, 1..100 (default 10)
  --queries N    queries to run, 1..500 (default all 500)
  --json         one JSON object on stdout
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      k: { type: 'string' },
      queries: { type: 'string' },
      json: { type: 'boolean', default: false },
    })
    expectPositionals(positionals, [])
    const k = intOption('k', values.k, 10, 1, 100)
    const data = loadFashionMnist10k()
    const nq = intOption('queries', values.queries, data.queries.rows, 1, data.queries.rows)

    let t = performance.now()
    const queries = data.queries.data.subarray(0, nq * data.queries.dim)
    const index = new FlatIndex({ dim: data.base.dim, metric: 'l2' })
    const keys = Float64Array.from({ length: data.base.rows }, (_, i) => i)
    t = performance.now()
    await index.addBatch(keys, data.base.data)
    const addMs = performance.now() - t

    // One query at a time, as a request handler would; then the whole batch off the JS thread.
    t = performance.now()
    for (let q = 0; q < nq; q++) index.search(queries.subarray(q * data.base.dim, (q + 1) * data.base.dim), k)
    const singleMs = performance.now() - t
    t = performance.now()
    const batch = await index.searchBatch(queries, k)
    const batchMs = performance.now() - t

    const truth = { ids: data.gt.data, stride: data.gt.dim, distances: data.gtDistances.data }
    const recall = recallAtK(batch, truth, k)
    const info = nativeInfo()
    const singleQps = (nq / singleMs) * 1000
    const batchQps = (nq / batchMs) * 1000
    if (values.json) {
      writeJson(ctx, { data: data.name, vectors: data.base.rows, queries: nq, k, addMs, singleQps, batchQps, recall })
    } else {
      const mb = (index.memoryUsage().total / 2 ** 20).toFixed(1)
      ctx.stdout.write(
        [
          `ferrovec ${info.version} · exact search (FlatIndex) · SIMD: ${info.backends.join(', ')}, tiles ${info.tileKernels} · ${info.threads} threads`,
          `data      ${data.name}: ${data.base.rows} vectors, ${nq} queries`,
          `index     added in ${addMs.toFixed(1)} ms, ${mb} MiB`,
          `search    single: ${singleQps.toFixed(0)} queries/s · batch: ${batchQps.toFixed(0)} queries/s`,
          `recall@${k}  ${recall.toFixed(4)} against the shipped ground truth`,
          '',
        ].join('\n'),
      )
    }
    if (recall < 0.999) {
      ctx.stderr.write(`ferrovec demo: exact search must reproduce the ground truth, but recall@${k} is ${recall}\n`)
      return EXIT_FAILURE
    }
    return EXIT_OK
  },
}
