// Runs the `ferrovec` CLI from source (src/cli.ts through tsx) in a child process, as a user's shell would.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CLI = join(ROOT, 'src', 'cli.ts')

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

// ava runs a file's tests concurrently; on two shared cores a dozen children at once only slow each other
// down (each loads tsx and the engine), so at most two run at a time.
const MAX_CHILDREN = 2
let running = 0
const waiting: (() => void)[] = []

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CHILDREN) await new Promise<void>((go) => waiting.push(go))
  running++
  try {
    return await fn()
  } finally {
    running--
    waiting.shift()?.()
  }
}

/** `ferrovec …args`, with `input` on stdin (stdin closed when absent). Bounded by `timeoutMs`. */
export function ferrovec(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
  return slot(() => spawnCli(args, options))
}

function spawnCli(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string }): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, FORCE_COLOR: '0', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix = 'ferrovec-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The .fvecs bytes of `rows × dim` values. */
export function fvecs(data: Float32Array, dim: number): Buffer {
  const rows = data.length / dim
  const buf = Buffer.alloc(rows * 4 * (dim + 1))
  for (let r = 0; r < rows; r++) {
    buf.writeInt32LE(dim, r * 4 * (dim + 1))
    for (let j = 0; j < dim; j++) buf.writeFloatLE(data[r * dim + j]!, r * 4 * (dim + 1) + 4 + 4 * j)
  }
  return buf
}

/** The .ivecs bytes of `rows × dim` integers. */
export function ivecs(data: Int32Array, dim: number): Buffer {
  const rows = data.length / dim
  const buf = Buffer.alloc(rows * 4 * (dim + 1))
  for (let r = 0; r < rows; r++) {
    buf.writeInt32LE(dim, r * 4 * (dim + 1))
    for (let j = 0; j < dim; j++) buf.writeInt32LE(data[r * dim + j]!, r * 4 * (dim + 1) + 4 + 4 * j)
  }
  return buf
}
