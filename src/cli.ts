#!/usr/bin/env node
// The `ferrovec` command. `ferrovec demo` is the main job until collections land: exact search over the
// bundled Fashion-MNIST slice, checked against its shipped ground truth. No network, no key.
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { loadFashionMnist10k } from './data/demo.js'
import { FerrovecError } from './errors.js'
import { FlatIndex } from './flat.js'
import { nativeInfo } from './metric.js'
import { recallAtK } from './recall.js'

const USAGE = `usage: ferrovec <command> [options]

commands:
  demo [--k N] [--queries N]   exact search over the bundled Fashion-MNIST slice (10,000 × 784, l2),
                               checked against its ground truth; prints recall@k and queries/s
  info                         SIMD backends and threads of the native engine
`

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { k: { type: 'string', default: '10' }, queries: { type: 'string' } } })
  const k = Number(values.k)
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new FerrovecError('ERR_INVALID_ARGUMENT', `--k must be an integer in 1..=100, got ${values.k}`)

  let t = performance.now()
  const data = loadFashionMnist10k()
  const nq = values.queries === undefined ? data.queries.rows : Math.min(Number(values.queries), data.queries.rows)
  if (!Number.isInteger(nq) || nq < 1) throw new FerrovecError('ERR_INVALID_ARGUMENT', `--queries must be a positive integer, got ${values.queries}`)
  const queries = data.queries.data.subarray(0, nq * data.queries.dim)
  const loadMs = performance.now() - t

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
  const mb = (index.memoryUsage().total / 2 ** 20).toFixed(1)
  console.log(
    `ferrovec ${info.version} · exact search (FlatIndex) · SIMD: ${info.backends.join(', ')}, tiles ${info.tileKernels} · ${info.threads} threads`,
  )
  console.log(`data      ${data.name}: ${data.base.rows} vectors, ${nq} queries (loaded in ${loadMs.toFixed(0)} ms)`)
  console.log(`index     added in ${addMs.toFixed(1)} ms, ${mb} MiB`)
  console.log(`search    single: ${((nq / singleMs) * 1000).toFixed(0)} queries/s · batch: ${((nq / batchMs) * 1000).toFixed(0)} queries/s`)
  console.log(`recall@${k}  ${recall.toFixed(4)} against the shipped ground truth`)
  if (recall < 0.999) {
    console.error(`error: exact search must reproduce the ground truth, but recall@${k} is ${recall}`)
    return 1
  }
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'demo':
      return demo(rest)
    case 'info':
      console.log(JSON.stringify(nativeInfo(), null, 2))
      return 0
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE)
      return command === undefined ? 1 : 0
    default:
      process.stderr.write(`ferrovec: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
      return 1
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string }
    process.stderr.write(`ferrovec: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`)
    process.exitCode = 1
  },
)
