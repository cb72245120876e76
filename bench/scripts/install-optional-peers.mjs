#!/usr/bin/env node
// Installs the peers whose install may fail on this machine, each into its own folder under .peers/,
// and records the outcome in .peers/<name>/install.json for the benchmarks to report.
//
// Why not plain dependencies: faiss-node's install step downloads a prebuilt binary from GitHub (and
// falls back to cloning faiss), which cannot work where only the package registries are reachable. As a
// regular dependency it would break `npm install` for the whole bench; as an optionalDependency npm
// would drop it silently and the reason would be lost. Here the failure is tolerated *and* kept, so the
// results say "faiss-node: not installable here: <reason>" instead of leaving a silent gap.
//
// Runs as the bench package's postinstall; `npm run peers` re-runs it. Always exits 0.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')

/** Peers installed this way: the exact version benchmarked, and what to require to prove it loads. */
const OPTIONAL_PEERS = [{ name: 'faiss-node', version: '0.5.1' }]

/** A bound on each install, so a hung download cannot hang `npm install`. */
const INSTALL_TIMEOUT_MS = 240_000

function loads(dir, name) {
  try {
    createRequire(join(dir, 'package.json'))(name)
    return true
  } catch {
    return false
  }
}

/** The few lines of an install log that say why it failed (network errors, git, npm's error code). */
function reasonFrom(log, status, signal) {
  const patterns = [/ENOTFOUND\s+\S+/, /Could not resolve host:?\s*\S+/, /ECONNREFUSED|ETIMEDOUT|EAI_AGAIN/, /fatal: .*/, /gyp ERR! .*/, /npm error code \S+/]
  const found = []
  for (const line of log.split('\n')) {
    for (const p of patterns) {
      const m = line.match(p)
      const hit = m?.[0].trim()
      // Skip a hit already contained in an earlier one (git repeats the resolver's message).
      if (hit && !found.some((f) => f.includes(hit) || hit.includes(f))) found.push(hit)
    }
  }
  const how = signal ? `install killed by ${signal} after ${INSTALL_TIMEOUT_MS / 1000} s` : `npm install exited ${status}`
  return found.length > 0 ? `${how}: ${found.slice(0, 4).join('; ')}` : how
}

for (const { name, version } of OPTIONAL_PEERS) {
  const dir = join(root, '.peers', name)
  mkdirSync(dir, { recursive: true })
  const statusFile = join(dir, 'install.json')
  if (loads(dir, name)) {
    const v = JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version
    writeFileSync(statusFile, JSON.stringify({ name, version: v, ok: true }, null, 2) + '\n')
    console.log(`[bench] ${name} ${v}: already installed`)
    continue
  }
  if (!existsSync(join(dir, 'package.json'))) {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, description: `isolated install of ${name} for ferrovec's bench` }, null, 2) + '\n')
  }
  console.log(`[bench] installing optional peer ${name}@${version} (may fail on an offline machine; that is reported, not fatal)`)
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', `${name}@${version}`], {
    cwd: dir,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  })
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
  writeFileSync(join(dir, 'install.log'), log)
  const ok = r.status === 0 && loads(dir, name)
  const reason = ok ? undefined : r.error && !r.signal ? `could not run npm: ${r.error.message}` : reasonFrom(log, r.status, r.signal)
  writeFileSync(statusFile, JSON.stringify({ name, version, ok, reason, at: new Date().toISOString() }, null, 2) + '\n')
  console.log(ok ? `[bench] ${name}@${version} installed` : `[bench] ${name}@${version} not installable here: ${reason}`)
}
