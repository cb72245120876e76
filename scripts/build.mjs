#!/usr/bin/env node
// Builds ferrovec from source: the native addon (release profile, through @napi-rs/cli) and then the
// TypeScript package (tsup). `npm install` runs this, so a fresh clone is ready for `npm test`.
//
//   node scripts/build.mjs               native + TypeScript
//   node scripts/build.mjs --native-only native addon only
//   node scripts/build.mjs --debug       native addon in the dev profile (faster to compile)
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = new Set(process.argv.slice(2))

function fail(sentence) {
  console.error(`\nferrovec: ${sentence}\n`)
  process.exit(1)
}

function run(cmd, cmdArgs, what) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.error) fail(`${what} could not start (${r.error.message}).`)
  if (r.status !== 0) fail(`${what} failed (exit code ${r.status}); the output above says why.`)
}

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' })
if (cargo.error || cargo.status !== 0) {
  fail(
    'building the native addon needs a Rust toolchain (cargo 1.88 or newer): install it from https://rustup.rs, then run `npm install` again.',
  )
}

const bin = (name) => join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name)
if (!existsSync(bin('napi')) || !existsSync(bin('tsup'))) {
  fail('the build tools are missing from node_modules: run `npm install` in the repository (not with --omit=dev).')
}

const napiArgs = [
  'build',
  '--platform',
  '--manifest-path',
  'crates/ferrovec-node/Cargo.toml',
  '--output-dir',
  'native',
  '--js',
  'binding.cjs',
  '--dts',
  'binding.d.cts',
]
if (!args.has('--debug')) napiArgs.push('--release')
run(bin('napi'), napiArgs, 'the native build (napi build)')

if (!args.has('--native-only')) run(bin('tsup'), [], 'the TypeScript build (tsup)')
