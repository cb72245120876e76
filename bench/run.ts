// Entry point: `npm run bench` (full, writes RESULTS.md + results.json), `npm run bench -- --quick`
// (small subset in under a minute, writes results/quick.md), `--only=flat` or `--only=kernels` for one
// file (writes results/<name>.md). Each *.bench.ts exports one `run…` function returning a Section.

import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

import { runFlat } from './flat.bench.js'
import { runKernels } from './kernels.bench.js'
import { BENCH_DIR } from './lib/peers.js'
import { writeReport, type Section } from './lib/results.js'

// Flat first: its target verdicts lead the report.
const BENCHES: Record<string, (o: { quick: boolean }) => Promise<Section>> = {
  flat: runFlat,
  kernels: runKernels,
}

function parseArgs(argv: string[]): { quick: boolean; only: string[] } {
  let quick = false
  let only = Object.keys(BENCHES)
  for (const a of argv) {
    if (a === '--quick') quick = true
    else if (a.startsWith('--only=')) only = a.slice(7).split(',')
    else throw new Error(`unknown argument ${a}; expected --quick and/or --only=${Object.keys(BENCHES).join(',')}`)
  }
  for (const o of only) if (!(o in BENCHES)) throw new Error(`unknown benchmark ${o}; known: ${Object.keys(BENCHES).join(', ')}`)
  return { quick, only }
}

const { quick, only } = parseArgs(process.argv.slice(2))
const full = !quick && only.length === Object.keys(BENCHES).length
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
  preamble: [
    '> **Noisy machine.** These numbers come from a shared 2-core machine on which colleagues were compiling Rust during the run (see the load averages below). Libraries were measured in interleaved rounds and medians are reported, so the *ratios* are fair even when absolute rates wobble; the spread column shows how much they wobbled. The lead will re-run on a quiet machine before any number is quoted.',
  ],
})
console.log(`\nwrote ${base}.md (${seconds.toFixed(0)} s)`)
for (const s of sections) for (const f of s.findings) console.log(`- ${f}`)
