// Timing: warm-up, calibrated samples, interleaved rounds, medians and spread.
//
// The machine is shared (colleagues compile Rust on the same two cores), so load comes and goes during
// a run. Timing library A for ten seconds and then library B for ten seconds would hand whichever ran
// during a quiet spell an unfair ratio. Instead every round takes one sample of every contender, in a
// rotating order, and the figure reported is each contender's median over the rounds: a burst of load
// hits all contenders of that round alike and the median discards it.

import { performance } from 'node:perf_hooks'

/** One thing to time. */
export interface Contender {
  /** Row label, e.g. `ferrovec searchBatch`. */
  name: string
  /** Units of work done by one call of `run` (queries, distances, …), so rates are comparable. */
  ops: number
  /** One unit of the measured work. May return a promise, which is awaited inside the timing. */
  run: () => unknown
}

/** Options of {@link interleave}. */
export interface TimingOptions {
  /** Interleaved rounds; each yields one sample per contender. */
  rounds: number
  /** A sample repeats `run` until it lasts at least this long, so timer resolution is irrelevant. */
  minSampleMs: number
  /** Upper bound on repetitions within one sample (keeps every loop bounded). */
  maxRunsPerSample: number
  /** Untimed calls before the first round (JIT, caches, thread pools, lazy allocations). */
  warmupRuns: number
}

/** Rates of one contender over the rounds. */
export interface Measurement {
  name: string
  /** Work units per second, one per round. */
  rates: number[]
  median: number
  min: number
  max: number
  /** Half the min–max range as a percentage of the median: how noisy this figure is. */
  spreadPct: number
  /** Calls of `run` per sample. */
  runsPerSample: number
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

async function callOnce(run: () => unknown): Promise<void> {
  const r = run()
  if (r instanceof Promise) await r
}

/** Times `runs` calls of `run` and returns seconds; awaits only when `run` returned a promise. */
async function timeRuns(run: () => unknown, runs: number): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < runs; i++) {
    const r = run()
    if (r instanceof Promise) await r
  }
  return (performance.now() - t0) / 1000
}

/**
 * Measures every contender in interleaved rounds (see the file comment) and returns one
 * {@link Measurement} per contender, in input order.
 */
export async function interleave(contenders: readonly Contender[], opts: TimingOptions): Promise<Measurement[]> {
  const runsPerSample: number[] = []
  for (const c of contenders) {
    for (let i = 0; i < opts.warmupRuns; i++) await callOnce(c.run)
    // Calibrate from one timed call: enough repetitions to reach minSampleMs, never more than the cap.
    const once = Math.max(await timeRuns(c.run, 1), 1e-6)
    runsPerSample.push(Math.max(1, Math.min(opts.maxRunsPerSample, Math.ceil(opts.minSampleMs / 1000 / once))))
  }
  const rates: number[][] = contenders.map(() => [])
  for (let round = 0; round < opts.rounds; round++) {
    for (let j = 0; j < contenders.length; j++) {
      // Rotate the starting contender each round so none always runs right after a particular other.
      const i = (round + j) % contenders.length
      const c = contenders[i]!
      const runs = runsPerSample[i]!
      const secs = await timeRuns(c.run, runs)
      rates[i]!.push((c.ops * runs) / secs)
    }
  }
  return contenders.map((c, i) => {
    const r = rates[i]!
    const med = median(r)
    const min = Math.min(...r)
    const max = Math.max(...r)
    return {
      name: c.name,
      rates: r,
      median: med,
      min,
      max,
      spreadPct: med > 0 ? ((max - min) / 2 / med) * 100 : 0,
      runsPerSample: runsPerSample[i]!,
    }
  })
}
