import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

test('without a Rust toolchain the build stops with one sentence saying what to install', (t) => {
  // A PATH holding only `node`: cargo cannot be found, exactly as on a machine without Rust.
  const bin = mkdtempSync(join(tmpdir(), 'ferrovec-norust-'))
  try {
    symlinkSync(process.execPath, join(bin, 'node'))
    const r = spawnSync(join(bin, 'node'), [join(root, 'scripts/build.mjs')], {
      cwd: root,
      env: { PATH: bin, HOME: bin },
      encoding: 'utf8',
    })
    t.is(r.status, 1)
    const lines = r.stderr.trim().split('\n').filter(Boolean)
    t.is(lines.length, 1, r.stderr)
    t.regex(lines[0], /needs a Rust toolchain.*rustup\.rs.*npm install/)
  } finally {
    rmSync(bin, { recursive: true, force: true })
  }
})
