// The `ferrovec` dispatcher and the commands that need no collection: usage errors and exit codes, info,
// bench, embed and demo, each run as a child process on small fixtures.
import test from 'ava'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HnswIndex } from '../../src/index.js'
import { bruteForce, randomVectors } from '../helpers.js'
import { ferrovec, fvecs, ivecs, tempDir } from './run.js'

/** Exactly one line on stderr. */
function oneLine(t: { true: (v: boolean, m?: string) => void }, stderr: string): void {
  t.true(stderr.endsWith('\n') && stderr.trimEnd().split('\n').length === 1, `expected one line, got ${JSON.stringify(stderr)}`)
}

test('no command prints the usage on stderr and exits 2; --help exits 0', async (t) => {
  const none = await ferrovec([])
  t.is(none.code, 2)
  t.regex(none.stderr, /usage: ferrovec <command>/)
  for (const name of ['wordnet', 'index', 'search', 'embed', 'bench', 'info', 'demo']) t.true(none.stderr.includes(`  ${name} `), name)
  const help = await ferrovec(['--help'])
  t.is(help.code, 0)
  t.regex(help.stdout, /usage: ferrovec <command>/)
  const sub = await ferrovec(['bench', '--help'])
  t.is(sub.code, 0)
  t.regex(sub.stdout, /usage: ferrovec bench <vectors\.fvecs/)
})

test('an unknown command or option is one line on stderr and exit code 2', async (t) => {
  const cmd = await ferrovec(['frobnicate'])
  t.is(cmd.code, 2)
  oneLine(t, cmd.stderr)
  t.regex(cmd.stderr, /unknown command "frobnicate"/)
  for (const args of [['demo', '--bogus'], ['bench', 'x.fvecs', '--nope', '1'], ['search', 'dir', 'q', '--colour'], ['index', 'f.jsonl', '--collection', 'c', '--zap']]) {
    const r = await ferrovec(args)
    t.is(r.code, 2, args.join(' '))
    oneLine(t, r.stderr)
    t.regex(r.stderr, /Unknown option '--/, args.join(' '))
  }
  const badNumber = await ferrovec(['demo', '--k', 'ten'])
  t.is(badNumber.code, 2)
  t.regex(badNumber.stderr, /--k must be an integer in 1\.\.=100, got "ten"/)
  const missing = await ferrovec(['search', 'only-a-dir'])
  t.is(missing.code, 2)
  t.regex(missing.stderr, /missing <query>/)
})

test('info with no argument reports the native engine; --json is machine-readable', async (t) => {
  const r = await ferrovec(['info', '--json'])
  t.is(r.code, 0, r.stderr)
  const info = JSON.parse(r.stdout) as { version: string; threads: number; backends: string[] }
  t.regex(info.version, /^\d+\.\d+\.\d+/)
  t.true(info.threads >= 1)
  t.true(info.backends.length >= 1)
})

test('info describes an HNSW index file; a foreign file and a missing path fail with one line and exit 1', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const index = new HnswIndex({ dim: 8, metric: 'l2', m: 8, seed: 1 })
  await index.addBatch(Float64Array.from({ length: 50 }, (_, i) => i), randomVectors(7, 50, 8))
  const path = join(dir, 'small.hnsw')
  await index.save(path)
  const r = await ferrovec(['info', path, '--json'])
  t.is(r.code, 0, r.stderr)
  const got = JSON.parse(r.stdout) as { kind: string; dim: number; metric: string; size: number; params: { m: number }; format: string }
  t.like(got, { kind: 'hnsw', dim: 8, metric: 'l2', size: 50, params: { m: 8 } })
  t.regex(got.format, /^1\.\d+$/)
  const text = await ferrovec(['info', path])
  t.regex(text.stdout, /^kind\s+hnsw$/m)

  const junk = join(dir, 'junk.bin')
  writeFileSync(junk, 'not an index at all, just text')
  const bad = await ferrovec(['info', junk])
  t.is(bad.code, 1)
  oneLine(t, bad.stderr)
  t.regex(bad.stderr, /ERR_CORRUPT_FILE: .*not a ferrovec index file/)
  const gone = await ferrovec(['info', join(dir, 'missing.hnsw')])
  t.is(gone.code, 1)
  oneLine(t, gone.stderr)
  t.regex(gone.stderr, /ERR_IO: .*no such file/)
})

test('bench holds out queries, measures recall against exact search and prints flat, quantised and HNSW rows', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const base = join(dir, 'base.fvecs')
  writeFileSync(base, fvecs(randomVectors(11, 600, 16), 16))
  const r = await ferrovec(['bench', base, '--holdout', '50', '--ef', '8,64', '--json'])
  t.is(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as {
    vectors: number
    queries: number
    truth: string
    rows: { index: string; settings: string; recall: number; qpsSingle: number }[]
    notes: string[]
  }
  t.like(report, { vectors: 550, queries: 50, truth: 'exact search' })
  // l2: binary codes are refused for this metric, so they are a note rather than a row.
  t.deepEqual(report.rows.map((row) => row.index), ['flat', 'flat f16', 'flat int8', 'hnsw', 'hnsw', 'hnsw f16', 'hnsw f16', 'hnsw int8', 'hnsw int8'])
  t.true(report.notes.some((n) => /^flat binary skipped: .*\(l2\)/.test(n)), report.notes.join(' | '))
  t.true(report.notes.some((n) => /^hnsw binary skipped: .*\(l2\)/.test(n)), report.notes.join(' | '))
  t.is(report.rows[0]!.recall, 1)
  // f16 keeps 11 significant bits and int8 256 levels per component: on 16-d data both stay close to exact
  // (measured 0.996 and 0.954).
  t.true(report.rows[1]!.recall >= 0.95, String(report.rows[1]!.recall))
  t.true(report.rows[2]!.recall >= 0.85, String(report.rows[2]!.recall))
  t.regex(report.rows[4]!.settings, /ef=64/)
  // 550 vectors at ef 64 is close to exhaustive: recall near 1 (measured 1.0).
  t.true(report.rows[4]!.recall >= 0.95, String(report.rows[4]!.recall))
  // HNSW on codes at ef 64 is as good as a scan of the same codes (measured f16 0.996, int8 0.954).
  t.true(report.rows[6]!.recall >= report.rows[1]!.recall - 0.02, String(report.rows[6]!.recall))
  t.true(report.rows[8]!.recall >= report.rows[2]!.recall - 0.02, String(report.rows[8]!.recall))
  for (const row of report.rows) t.true(row.qpsSingle > 0)
  const table = await ferrovec(['bench', base, '--holdout', '50', '--ef', '32'])
  t.regex(table.stdout, /^index\s+settings\s+build s\s+MiB\s+recall@10/m)
})

test('bench with --queries and --truth scores against the given ground truth', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const dim = 12
  const data = randomVectors(21, 400, dim)
  const queries = randomVectors(22, 20, dim)
  const gt = new Int32Array(20 * 10)
  for (let q = 0; q < 20; q++) {
    const keys = Array.from({ length: 400 }, (_, i) => i)
    const nearest = bruteForce('l2', data, dim, keys, queries.subarray(q * dim, (q + 1) * dim), 10)
    gt.set(nearest.map(([key]) => key), q * 10)
  }
  writeFileSync(join(dir, 'b.fvecs'), fvecs(data, dim))
  writeFileSync(join(dir, 'q.fvecs'), fvecs(queries, dim))
  writeFileSync(join(dir, 'gt.ivecs'), ivecs(gt, 10))
  const r = await ferrovec(['bench', join(dir, 'b.fvecs'), '--queries', join(dir, 'q.fvecs'), '--truth', join(dir, 'gt.ivecs'), '--ef', '64', '--json'])
  t.is(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as { truth: string; queries: number; rows: { recall: number }[] }
  t.is(report.truth, 'file')
  t.is(report.queries, 20)
  t.is(report.rows[0]!.recall, 1)
})

test('bench refuses a missing file, queries of another dimension and truth without queries', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  writeFileSync(join(dir, 'b.fvecs'), fvecs(randomVectors(1, 300, 8), 8))
  writeFileSync(join(dir, 'q.fvecs'), fvecs(randomVectors(2, 5, 9), 9))
  writeFileSync(join(dir, 'gt.ivecs'), ivecs(new Int32Array(5 * 10), 10))
  const missing = await ferrovec(['bench', join(dir, 'nope.fvecs')])
  t.is(missing.code, 1)
  oneLine(t, missing.stderr)
  t.regex(missing.stderr, /ERR_IO: .*nope\.fvecs: no such file/)
  const wrongDim = await ferrovec(['bench', join(dir, 'b.fvecs'), '--queries', join(dir, 'q.fvecs')])
  t.is(wrongDim.code, 1)
  oneLine(t, wrongDim.stderr)
  t.regex(wrongDim.stderr, /ERR_DIMENSION_MISMATCH: .*queries have 9 dimensions, the vectors have 8/)
  const truthAlone = await ferrovec(['bench', join(dir, 'b.fvecs'), '--truth', join(dir, 'gt.ivecs')])
  t.is(truthAlone.code, 2)
  t.regex(truthAlone.stderr, /--truth needs --queries/)
  const truncated = join(dir, 't.fvecs')
  writeFileSync(truncated, readFileSync(join(dir, 'b.fvecs')).subarray(0, 100))
  const short = await ferrovec(['bench', truncated])
  t.is(short.code, 1)
  oneLine(t, short.stderr)
  t.regex(short.stderr, /not a multiple of the row size/)
})

test('embed turns arguments or stdin lines into unit vectors, as JSON lines or .fvecs', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const r = await ferrovec(['embed', 'a small dog', 'a large cat', '--json'])
  t.is(r.code, 0, r.stderr)
  const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { text: string; vector: number[] })
  t.deepEqual(rows.map((x) => x.text), ['a small dog', 'a large cat'])
  for (const { vector } of rows) {
    t.is(vector.length, 512)
    t.true(Math.abs(Math.hypot(...vector) - 1) < 1e-5)
  }
  const out = join(dir, 'v.fvecs')
  const piped = await ferrovec(['embed', '--format', 'fvecs', '--output', out], { input: 'a small dog\n\nsecond line\n' })
  t.is(piped.code, 0, piped.stderr)
  const bytes = readFileSync(out)
  t.is(bytes.length, 2 * (4 + 4 * 512))
  t.is(bytes.readInt32LE(0), 512)
  // The same text gives the same vector through either output (batches differ only by float rounding).
  for (let j = 0; j < 512; j++) t.true(Math.abs(bytes.readFloatLE(4 + 4 * j) - rows[0]!.vector[j]!) < 1e-5)
})

test('embed without texts, with an empty text or to an unwritable file fails with one line', async (t) => {
  const none = await ferrovec(['embed'])
  t.is(none.code, 2)
  oneLine(t, none.stderr)
  t.regex(none.stderr, /no texts/)
  const empty = await ferrovec(['embed', 'fine', '  '])
  t.is(empty.code, 2)
  t.regex(empty.stderr, /text 2 is empty/)
  const format = await ferrovec(['embed', 'x', '--format', 'csv'])
  t.is(format.code, 2)
  t.regex(format.stderr, /--format must be one of jsonl, fvecs/)
  const unwritable = await ferrovec(['embed', 'x', '--output', '/nonexistent-dir/v.fvecs'])
  t.is(unwritable.code, 1)
  oneLine(t, unwritable.stderr)
  t.regex(unwritable.stderr, /ERR_IO: .*cannot write/)
})

test('demo still runs exact search over the bundled data and reproduces its ground truth', async (t) => {
  const r = await ferrovec(['demo', '--queries', '20', '--json'])
  t.is(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as { recall: number; queries: number; vectors: number }
  t.like(report, { recall: 1, queries: 20, vectors: 10_000 })
})
