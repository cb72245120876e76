/**
 * Embedding-layer benchmark: wall time and requests to embed 20,000 texts of which half repeat
 * earlier ones, against one loopback OpenAI-dialect server with a fixed per-request latency, with
 * the same concurrency for everyone.
 *
 *   ferrovec       createEmbedder (Retry(Cache(OpenAIEmbedder))), defaults except concurrency
 *   LangChain.js   CacheBackedEmbeddings.fromBytesStore(OpenAIEmbeddings, InMemoryStore)
 *   AI SDK         embedMany with @ai-sdk/openai
 *
 * Every run starts cold (new instances, empty caches); each contender runs RUNS times and the median
 * is reported. Results are checked: 20,000 vectors, each the one the server computes for its text.
 *
 *   npm install && npm run bench            (from bench/embed)
 *   LATENCY_MS=100 DIMS=256 RUNS=3 npm run bench
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { createOpenAI } from '@ai-sdk/openai'
import { OpenAIEmbeddings } from '@langchain/openai'
import { CacheBackedEmbeddings } from '@langchain/classic/embeddings/cache_backed'
import { InMemoryStore } from '@langchain/core/stores'
import { embedMany } from 'ai'
import { createEmbedder } from '../../src/embed/index.js'
import { vectorFor } from '../../__test__/embed/server.js'

const LATENCY_MS = Number(process.env.LATENCY_MS ?? 100)
const DIMS = Number(process.env.DIMS ?? 256)
const RUNS = Number(process.env.RUNS ?? 3)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4)
const N = 20_000
const MODEL = 'text-embedding-3-small'
const API_KEY = 'bench-key'

/** 10,000 distinct texts, then 10,000 seeded picks among them, shuffled (seeded) together. */
function workload(): string[] {
  let s = 0x9e3779b9
  const rand = (): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 0x100000000
  }
  const words = ['vector', 'search', 'rust', 'node', 'index', 'graph', 'cosine', 'batch', 'cache', 'retry', 'token']
  const unique = Array.from({ length: N / 2 }, (_, i) => {
    const w = Array.from({ length: 8 }, () => words[Math.floor(rand() * words.length)]).join(' ')
    return `document ${i}: ${w}`
  })
  const all = [...unique, ...Array.from({ length: N / 2 }, () => unique[Math.floor(rand() * unique.length)] as string)]
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[all[i], all[j]] = [all[j] as string, all[i] as string]
  }
  return all
}

interface Stats {
  requests: number
  inputs: number
  maxInFlight: number
  formats: string[]
}

class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static start(): Promise<ServerProcess> {
    const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [String(LATENCY_MS), String(DIMS)], {
      execArgv: ['--import', 'tsx'],
    })
    return new Promise((resolve, reject) => {
      child.once('error', reject)
      child.once('message', (m: { cmd: string; url: string }) => resolve(new ServerProcess(child, m.url)))
    })
  }

  private ask<T>(cmd: string, extra: object = {}): Promise<T> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as T))
      this.child.send({ cmd, ...extra })
    })
  }

  prime(texts: string[]): Promise<unknown> {
    return this.ask('prime', { texts })
  }

  reset(): Promise<unknown> {
    return this.ask('reset')
  }
  stats(): Promise<Stats> {
    return this.ask('stats')
  }
  close(): Promise<unknown> {
    return new Promise((resolve) => {
      this.child.once('exit', resolve)
      this.child.send({ cmd: 'close' })
    })
  }
}

type Contender = { name: string; reference?: boolean; run: (texts: string[], baseURL: string) => Promise<ArrayLike<number>[]> }

const contenders: Contender[] = [
  {
    name: 'ferrovec createEmbedder',
    run: async (texts, baseURL) => {
      const e = createEmbedder({
        provider: 'openai',
        model: MODEL,
        dimensions: DIMS,
        baseURL,
        apiKey: API_KEY,
        limits: { concurrency: CONCURRENCY },
      })
      return e.embedMany(texts)
    },
  },
  {
    // Not a peer: shows how much of the lead is de-duplication and how much is the client itself.
    name: 'ferrovec, cache off (no de-duplication)',
    reference: true,
    run: async (texts, baseURL) => {
      const e = createEmbedder({
        provider: 'openai',
        model: MODEL,
        dimensions: DIMS,
        baseURL,
        apiKey: API_KEY,
        cache: false,
        limits: { concurrency: CONCURRENCY },
      })
      return e.embedMany(texts)
    },
  },
  {
    name: 'LangChain CacheBackedEmbeddings (batchSize 512, default)',
    run: (texts, baseURL) => langchain(texts, baseURL, 512),
  },
  {
    name: 'LangChain CacheBackedEmbeddings (batchSize 2048)',
    run: (texts, baseURL) => langchain(texts, baseURL, 2048),
  },
  {
    name: 'LangChain OpenAIEmbeddings alone (batchSize 2048, no cache)',
    run: async (texts, baseURL) =>
      new OpenAIEmbeddings({
        model: MODEL,
        dimensions: DIMS,
        apiKey: API_KEY,
        batchSize: 2048,
        maxConcurrency: CONCURRENCY,
        maxRetries: 0,
        configuration: { baseURL },
      }).embedDocuments(texts),
  },
  {
    name: 'AI SDK embedMany',
    run: async (texts, baseURL) => {
      const openai = createOpenAI({ apiKey: API_KEY, baseURL })
      const { embeddings } = await embedMany({
        model: openai.embedding(MODEL),
        values: texts,
        maxParallelCalls: CONCURRENCY,
        maxRetries: 0,
        providerOptions: { openai: { dimensions: DIMS } },
      })
      return embeddings
    },
  },
]

async function langchain(texts: string[], baseURL: string, batchSize: number): Promise<number[][]> {
  const underlying = new OpenAIEmbeddings({
    model: MODEL,
    dimensions: DIMS,
    apiKey: API_KEY,
    batchSize,
    maxConcurrency: CONCURRENCY,
    maxRetries: 0,
    configuration: { baseURL },
  })
  const cached = CacheBackedEmbeddings.fromBytesStore(underlying, new InMemoryStore<Uint8Array>(), { namespace: MODEL })
  return cached.embedDocuments(texts)
}

function check(texts: string[], vectors: ArrayLike<number>[]): void {
  if (vectors.length !== texts.length) throw new Error(`got ${vectors.length} vectors for ${texts.length} texts`)
  for (let i = 0; i < texts.length; i += 97) {
    const want = vectorFor(texts[i] as string, DIMS)
    const got = vectors[i] as ArrayLike<number>
    if (got.length !== DIMS) throw new Error(`vector ${i} has ${got.length} dimensions`)
    for (let j = 0; j < DIMS; j++) {
      if (Math.abs((got[j] as number) - (want[j] as number)) > 1e-6) throw new Error(`vector ${i} is not its text's`)
    }
  }
}

function version(pkg: string): string {
  const require = createRequire(import.meta.url)
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version
  } catch {
    // Packages whose exports hide package.json: find it next to the entry point.
    const entry = require.resolve(pkg)
    const root = entry.slice(0, entry.lastIndexOf(`node_modules/${pkg}/`) + `node_modules/${pkg}/`.length)
    return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

async function main(): Promise<void> {
  const texts = workload()
  const distinct = new Set(texts).size
  const server = await ServerProcess.start()
  const baseURL = `${server.url}/v1`
  console.log(
    `node ${process.version}; ${N} texts (${distinct} distinct); server latency ${LATENCY_MS} ms/request; ` +
      `${DIMS} dimensions; concurrency ${CONCURRENCY}; ${RUNS} interleaved cold runs each after a full warm-up (median)`,
  )
  console.log(
    `versions: ai ${version('ai')}, @ai-sdk/openai ${version('@ai-sdk/openai')}, @langchain/openai ${version('@langchain/openai')}, ` +
      `@langchain/classic ${version('@langchain/classic')}, @langchain/core ${version('@langchain/core')}`,
  )
  const rows: { name: string; reference: boolean; ms: number; cpu: number; requests: number; inputs: number; peak: number; format: string }[] = []
  await server.prime(texts)
  // Warm-up: one full, unmeasured run of each contender (loads libraries, JITs the hot paths, opens
  // connections), so the first measured run is not charged for it.
  for (const c of contenders) await c.run(texts, baseURL)
  // Rounds are interleaved (every contender once per round) so load from anything else on the
  // machine falls on all of them alike; the median of each contender's runs is reported.
  const times = contenders.map(() => [] as number[])
  // Client CPU time (user + system of this process) per run: unlike wall time it barely depends on
  // what else the machine is doing, and the server runs in another process.
  const cpu = contenders.map(() => [] as number[])
  const stats: Stats[] = []
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[i] as Contender
      await server.reset()
      const cpu0 = process.cpuUsage()
      const started = performance.now()
      const vectors = await c.run(texts, baseURL)
      ;(times[i] as number[]).push(performance.now() - started)
      const used = process.cpuUsage(cpu0)
      ;(cpu[i] as number[]).push((used.user + used.system) / 1000)
      check(texts, vectors)
      stats[i] = await server.stats()
    }
  }
  for (let i = 0; i < contenders.length; i++) {
    const c = contenders[i] as Contender
    const s = stats[i] as Stats
    const ts = times[i] as number[]
    rows.push({ name: c.name, reference: c.reference === true, ms: median(ts), cpu: median(cpu[i] as number[]), requests: s.requests, inputs: s.inputs, peak: s.maxInFlight, format: s.formats.join(',') })
    console.log(`${c.name}: ${ts.map((t) => t.toFixed(0)).join(' / ')} ms`)
  }
  await server.close()
  const ours = rows[0] as (typeof rows)[number]
  // Every peer configuration counts as "the best of them", including LangChain without its cache.
  const peers = rows.slice(1).filter((r) => !r.reference)
  const best = peers.reduce((a, b) => (b.ms < a.ms ? b : a))
  console.log('\n| contender | wall time (median) | client CPU (median) | requests | inputs sent | peak concurrency | wire format |')
  console.log('|---|---:|---:|---:|---:|---:|---|')
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.ms.toFixed(0)} ms | ${r.cpu.toFixed(0)} ms | ${r.requests} | ${r.inputs} | ${r.peak} | ${r.format} |`,
    )
  }
  const fewest = peers.every((p) => ours.requests < p.requests)
  const speedup = best.ms / ours.ms
  console.log(
    `\nferrovec vs best peer (${best.name}): ${speedup.toFixed(2)}× faster; ` +
      `fewest requests: ${fewest ? 'yes' : 'no'} (${ours.requests} vs ${Math.min(...peers.map((p) => p.requests))}); ` +
      `target (fewest requests and ≥ 1.5×): ${fewest && speedup >= 1.5 ? 'met' : 'NOT met'}`,
  )
}

await main()
