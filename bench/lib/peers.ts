// Loading the libraries ferrovec is compared with, recording why one is missing instead of dropping it.

import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')

/** A peer library and what became of loading it. */
export interface Peer<T = unknown> {
  name: string
  version: string | undefined
  /** `ok`: loaded; `not installable`: its install cannot succeed here; `failed`: installed but broken. */
  status: 'ok' | 'not installable' | 'failed'
  reason?: string
  module?: T
}

/** Every peer any benchmark tried to load in this process, for the results' peer table. */
export const peerLog: Peer[] = []

function versionAt(dir: string): string | undefined {
  const p = join(dir, 'package.json')
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { version?: string }).version : undefined
}

function record<T>(peer: Peer<T>): Peer<T> {
  const i = peerLog.findIndex((p) => p.name === peer.name)
  if (i >= 0) peerLog[i] = peer
  else peerLog.push(peer)
  return peer
}

/** Loads a regular dependency of the bench package (usearch, simsimd). */
export async function loadPeer<T>(name: string): Promise<Peer<T>> {
  const version = versionAt(join(BENCH_DIR, 'node_modules', name))
  if (version === undefined) {
    return record({ name, version, status: 'not installable', reason: `not in bench/node_modules: run \`npm install\` in bench/` })
  }
  try {
    const mod = (await import(name)) as { default?: T } & T
    return record({ name, version, status: 'ok', module: (mod.default ?? mod) as T })
  } catch (e) {
    return record({ name, version, status: 'failed', reason: `installed but failed to load: ${(e as Error).message.split('\n')[0]}` })
  }
}

/**
 * Loads a peer installed in isolation by scripts/install-optional-peers.mjs, reporting that script's
 * recorded reason when the install did not succeed.
 */
export function loadOptionalPeer<T>(name: string): Peer<T> {
  const dir = join(BENCH_DIR, '.peers', name)
  const statusFile = join(dir, 'install.json')
  if (!existsSync(statusFile)) {
    return record({ name, version: undefined, status: 'not installable', reason: 'install not attempted: run `npm install` (or `npm run peers`) in bench/' })
  }
  const st = JSON.parse(readFileSync(statusFile, 'utf8')) as { version?: string; ok: boolean; reason?: string }
  if (!st.ok) return record({ name, version: st.version, status: 'not installable', reason: st.reason ?? 'install failed' })
  try {
    const mod = createRequire(join(dir, 'package.json'))(name) as T
    return record({ name, version: versionAt(join(dir, 'node_modules', name)), status: 'ok', module: mod })
  } catch (e) {
    return record({ name, version: st.version, status: 'failed', reason: `installed but failed to load: ${(e as Error).message.split('\n')[0]}` })
  }
}

/** A short status for tables: `ok`, or `not installable here: <reason>` / `failed: <reason>`. */
export function describePeer(p: Peer): string {
  if (p.status === 'ok') return 'ok'
  return p.status === 'not installable' ? `not installable here: ${p.reason}` : `failed: ${p.reason}`
}
