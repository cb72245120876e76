// Entry point: `npm run bench` (full, writes RESULTS.md + results.json), `npm run bench -- --quick`
// (small subset in under a minute, writes results/quick.md), `--only=flat` or `--only=kernels` for one
// file (writes results/<name>.md). Each *.bench.ts exports one `run…` function returning a Section.
//
// HNSW (`--only=hnsw`, `npm run bench:hnsw`) is not part of the default set: its full run builds 22
// indexes with three libraries and takes ~8–10 min on 2 loaded cores, which with flat + kernels would
// exceed the ~12 min budget of `npm run bench`. `--publish` puts a partial run's sections into
// RESULTS.md / results.json (replacing their previous version, keeping the rest); the default full
// run keeps the published HNSW section. The LangChain-style drop-in workload (`--only=langchain`,
// `npm run bench:langchain`) is separate for the same reason: three 20,000 × 1536-d builds.

import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

import { runFlat } from './flat.bench.js'
import { runHnsw } from './hnsw.bench.js'
import { runKernels } from './kernels.bench.js'
import { runQuant } from './quant.bench.js'
import { runLangchain } from './langchain.bench.js'
import { BENCH_DIR } from './lib/peers.js'
import { ferrovecBuild, publishSections, writeReport, type Section } from './lib/results.js'

// Flat first: its target verdicts lead the report.
const BENCHES: Record<string, (o: { quick: boolean }) => Promise<Section>> = {
  flat: runFlat,
  kernels: runKernels,
  hnsw: runHnsw,
  quant: runQuant,
  langchain: runLangchain,
}
/**
 * What `npm run bench` runs with no `--only` (see the file comment for why HNSW is separate;
 * quantisation trains PQ codebooks and builds usearch graphs, so it runs on its own too).
 */
const DEFAULT = ['flat', 'kernels']

function parseArgs(argv: string[]): { quick: boolean; only: string[]; publish: boolean } {
  let quick = false
  let publish = false
  let only = DEFAULT
  for (const a of argv) {
    if (a === '--quick') quick = true
    else if (a === '--publish') publish = true
    else if (a.startsWith('--only=')) only = a.slice(7).split(',')
    else throw new Error(`unknown argument ${a}; expected --quick, --publish and/or --only=${Object.keys(BENCHES).join(',')}`)
  }
  for (const o of only) if (!(o in BENCHES)) throw new Error(`unknown benchmark ${o}; known: ${Object.keys(BENCHES).join(', ')}`)
  if (publish && quick) throw new Error('--publish is for full runs only (quick numbers never go into RESULTS.md)')
  return { quick, only, publish }
}

const { quick, only, publish } = parseArgs(process.argv.slice(2))
const full = !quick && DEFAULT.every((d) => only.includes(d)) && only.length >= DEFAULT.length
const startedAt = new Date()
const loadBefore = os.loadavg()
const t0 = performance.now()
const sections: Section[] = []
for (const name of only) {
  console.log(`\n=== ${name}${quick ? ' (quick)' : ''} ===`)
  const before = os.loadavg()[0]!
  const t = performance.now()
  const section = await BENCHES[name]!({ quick })
  // Load on a shared machine explains most run-to-run differences; keep it next to the numbers.
  section.intro.push(`Section time ${((performance.now() - t) / 1000).toFixed(0)} s; 1-minute load average ${before.toFixed(1)} at its start and ${os.loadavg()[0]!.toFixed(1)} at its end, on ${os.cpus().length} cores.`)
  sections.push(section)
}
const seconds = (performance.now() - t0) / 1000
const base = full ? join(BENCH_DIR, 'RESULTS') : join(BENCH_DIR, 'results', quick ? `quick${only.length < 2 ? '-' + only.join('-') : ''}` : only.join('-'))
// Hand-written analysis (profiling, causes, suggestions) is kept in ANALYSIS.md and appended to the
// report, so a re-run regenerates every number without losing the explanation.
const analysisPath = join(BENCH_DIR, 'ANALYSIS.md')
const analysis = existsSync(analysisPath) ? readFileSync(analysisPath, 'utf8') : undefined
writeReport(sections, {
  appendix: analysis,
  markdownPath: `${base}.md`,
  jsonPath: full ? join(BENCH_DIR, 'results.json') : `${base}.json`,
  mode: quick ? 'quick' : full ? 'full' : `only=${only.join(',')}`,
  startedAt,
  seconds,
  loadBefore,
  loadAfter: os.loadavg(),
  keepOtherSections: full,
  // The banner follows the measured load: above ~one busy core besides the benchmark's own, absolute
  // rates wobble and only the interleaved ratios should be quoted.
  preamble: [
    Math.max(loadBefore[0] ?? 0, os.loadavg()[0] ?? 0) > os.cpus().length
      ? '> **Noisy machine.** Other work was running during this run (see the load averages below). Libraries were measured in interleaved rounds and medians are reported, so the *ratios* are fair even when absolute rates wobble; the spread column shows how much they wobbled. Quote ratios, not absolute rates.'
      : '> **Quiet machine.** Nothing else of note ran during this run (see the load averages below; the benchmark itself keeps the 2 cores busy). Libraries were measured in interleaved rounds and medians are reported; the spread column shows run-to-run variation.',
  ],
})
console.log(`\nwrote ${base}.md (${seconds.toFixed(0)} s)`)
if (publish && !full) {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ')
  publishSections(sections, {
    markdownPath: join(BENCH_DIR, 'RESULTS.md'),
    jsonPath: join(BENCH_DIR, 'results.json'),
    appendix: analysis,
    provenance: `Measured by \`npm run bench -- --only=${only.join(',')} --publish\` on ${startedAt.toISOString()} (${seconds.toFixed(0)} s; load average 1/5/15 min ${load(loadBefore)} before, ${load(os.loadavg())} after, ${os.cpus().length} cores), separately from the rest of this report. ferrovec build: ${ferrovecBuild()}.`,
  })
  console.log(`published ${only.join(', ')} into RESULTS.md and results.json`)
}
for (const s of sections) for (const f of s.findings) console.log(`- ${f}`)
