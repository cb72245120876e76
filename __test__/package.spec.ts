// The built package, as users load it: ESM import and CommonJS require through package.json "exports"
// (a package may import itself by name), typings present, and the main job's CLI.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

test('ESM: import { FlatIndex } from "ferrovec" works', async (t) => {
  const mod = await import('ferrovec')
  const index = new mod.FlatIndex({ dim: 2, metric: 'l2' })
  index.add(1, [0, 1])
  t.deepEqual(Array.from(index.search([0, 1], 1).keys), [1])
  t.is(typeof mod.distance, 'function')
  t.is(typeof mod.FerrovecError, 'function')
})

test('CommonJS: require("ferrovec") works and shares the native addon', (t) => {
  const cjs = createRequire(import.meta.url)('ferrovec')
  const index = new cjs.FlatIndex({ dim: 2, metric: 'dot' })
  index.add(5n, [1, 0])
  t.deepEqual(Array.from(index.search([1, 0], 1).keys), [5])
  const err = t.throws(() => index.add(5, [1, 0]))
  t.true(err instanceof cjs.DuplicateKeyError)
  t.is((err as { code?: string }).code, 'ERR_DUPLICATE_KEY')
})

test('typings ship for both module systems', (t) => {
  for (const f of ['dist/index.d.ts', 'dist/index.d.cts', 'native/binding.d.cts']) t.true(existsSync(root + f), f)
})

test('main job: `ferrovec demo` reproduces the shipped ground truth', (t) => {
  const out = execFileSync(process.execPath, [root + 'dist/cli.js', 'demo', '--queries', '60'], { encoding: 'utf8' })
  t.regex(out, /recall@10 {2}1\.0000/)
  t.regex(out, /queries\/s/)
})

// Exit codes as docs/cli.md states them: 2 for bad usage (unknown command, bad option value).
test('CLI: unknown command and bad options fail with a message', (t) => {
  const run = (args: string[]) => {
    try {
      execFileSync(process.execPath, [root + 'dist/cli.js', ...args], { encoding: 'utf8', stdio: 'pipe' })
      return { status: 0, stderr: '' }
    } catch (e) {
      const err = e as { status: number; stderr: string }
      return { status: err.status, stderr: err.stderr }
    }
  }
  const unknown = run(['frobnicate'])
  t.is(unknown.status, 2)
  t.regex(unknown.stderr, /unknown command/)
  const badK = run(['demo', '--k', '0'])
  t.is(badK.status, 2)
  t.regex(badK.stderr, /--k must be an integer/)
})
