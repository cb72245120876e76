// Results: console tables while a run goes, and one Markdown report (plus raw JSON) at the end, with
// the machine and versions needed to interpret the numbers.

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname } from 'node:path'

import { FERROVEC_VERSION, nativeInfo } from './ferrovec.js'
import { describePeer, peerLog } from './peers.js'

export type Cell = string | number

/** A results table. Numbers are formatted by {@link fmt} unless given as strings. */
export interface Table {
  title: string
  columns: string[]
  rows: Cell[][]
  /** Lines printed under the table (definitions, caveats). */
  notes?: string[]
}

/** What one benchmark file contributes to the report. */
export interface Section {
  title: string
  intro: string[]
  tables: Table[]
  /** Headline findings (targets met or missed), listed at the top of the report. */
  findings: string[]
  /** Raw measurements, written to the JSON file for later plots and comparisons. */
  raw: unknown
  /**
   * Stable id: the section's Markdown is kept between `<!-- section:id -->` markers so that a run of
   * this benchmark alone can replace it in RESULTS.md (see {@link publishSections}) and a run without
   * it keeps it.
   */
  id?: string
  /** Extra files (name → text, e.g. an SVG plot) written next to the Markdown report. */
  files?: Record<string, string>
}

/** Formats a number with 3 significant digits and thousands separators (1,234 / 12.3 / 0.123). */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a >= 1000) return Math.round(x).toLocaleString('en-US')
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  if (a === 0) return '0'
  return x.toPrecision(3)
}

/** A ratio as `2.31×`. */
export function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : 'n/a'
}

function cell(c: Cell): string {
  return typeof c === 'number' ? fmt(c) : c
}

/** Prints a table to stdout as aligned columns (the live view while a run goes). */
export function printTable(t: Table): void {
  const rows = [t.columns, ...t.rows.map((r) => r.map(cell))]
  const widths = t.columns.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)))
  console.log(`\n${t.title}`)
  rows.forEach((r, i) => {
    console.log('  ' + r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '))
    if (i === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '))
  })
  for (const n of t.notes ?? []) console.log(`  ${n}`)
}

function markdownTable(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|')
  const head = `| ${t.columns.map(esc).join(' | ')} |`
  const sep = `|${t.columns.map((_, j) => (j === 0 ? '---' : '---:')).join('|')}|`
  const body = t.rows.map((r) => `| ${r.map((c) => esc(cell(c))).join(' | ')} |`)
  const notes = (t.notes ?? []).map((n) => `\n${n}`)
  return [`#### ${t.title}`, '', head, sep, ...body, ...notes].join('\n')
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line) return line.split(':')[1]!.trim()
  } catch {
    // Not Linux: fall through to what Node reports.
  }
  return os.cpus()[0]?.model ?? 'unknown'
}

function cpuFlags(): string {
  try {
    const flags = new Set(
      readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('flags'))
        ?.split(':')[1]
        ?.trim()
        .split(/\s+/) ?? [],
    )
    const wanted = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512vpopcntdq', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16']
    return wanted.filter((f) => flags.has(f)).join(' ') || 'none of the SIMD flags checked'
  } catch {
    return 'unknown'
  }
}

function caches(): string {
  const dir = '/sys/devices/system/cpu/cpu0/cache'
  if (!existsSync(dir)) return 'unknown'
  const parts: string[] = []
  for (const idx of readdirSync(dir).filter((d) => d.startsWith('index')).sort()) {
    try {
      const level = readFileSync(`${dir}/${idx}/level`, 'utf8').trim()
      const type = readFileSync(`${dir}/${idx}/type`, 'utf8').trim()
      const size = readFileSync(`${dir}/${idx}/size`, 'utf8').trim()
      if (type !== 'Instruction') parts.push(`L${level}${type === 'Data' ? 'd' : ''} ${size}`)
    } catch {
      // A cache level without these files is simply not listed.
    }
  }
  return parts.join(', ')
}

function rustc(): string {
  try {
    return execFileSync('rustc', ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    return 'not found'
  }
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: new URL('../..', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

/**
 * Which ferrovec was measured: the repository commit, whether the engine's sources differ from it, and
 * the native binary's hash and build time. Colleagues rebuild the shared checkout while benchmarks run,
 * so "ferrovec 0.1.0" alone would not say which code produced a number.
 */
function ferrovecBuildNow(): string {
  const head = git(['rev-parse', '--short', 'HEAD']) ?? 'unknown commit'
  const dirty = git(['status', '--porcelain', '--', 'crates', 'src', 'Cargo.toml', 'Cargo.lock'])
  const state = dirty === undefined ? '' : dirty === '' ? ', sources clean' : ', sources modified vs that commit'
  const dir = new URL('../../native/', import.meta.url)
  let binary = 'native binary not found'
  try {
    const name = readdirSync(dir).find((f) => f.endsWith('.node'))
    if (name) {
      const path = new URL(name, dir)
      const hash = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12)
      binary = `${name} sha256:${hash}, built ${statSync(path).mtime.toISOString()}`
    }
  } catch {
    // Reported as not found.
  }
  return `commit ${head}${state}; ${binary}`
}

// The native binary is loaded when ../dist/index.js is imported (before this module), so what the
// process runs is what was on disk then: capture it now, and say so if the file changes during the run.
const LOADED_BUILD = ferrovecBuildNow()

/**
 * Which ferrovec this process runs (commit, source state, native binary hash and build time, captured
 * at start-up), plus a warning when the checkout was rebuilt since (the loaded code is then older than
 * the file on disk).
 */
export function ferrovecBuild(): string {
  const now = ferrovecBuildNow()
  return now === LOADED_BUILD ? LOADED_BUILD : `${LOADED_BUILD} (loaded at start; the checkout has changed since: now ${now})`
}

/** Facts about the machine and software, as label/value rows. */
export function machineFacts(): [string, string][] {
  const info = nativeInfo()
  return [
    ['CPU', cpuModel()],
    ['cores (logical)', String(os.cpus().length)],
    ['caches (per core / shared)', caches()],
    ['SIMD flags', cpuFlags()],
    ['memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['OS', `${os.type()} ${os.release()} ${os.arch()}`],
    ['Node', process.version],
    ['N-API', String(process.versions.napi)],
    ['V8', process.versions.v8],
    ['rustc (on PATH)', rustc()],
    ['ferrovec', `${FERROVEC_VERSION} (native crate ${info.version}, ${info.arch})`],
    ['ferrovec build', ferrovecBuild()],
    ['ferrovec backends', `${info.backends.join(', ')} (dynamic dispatch: ${info.dynamicDispatch}), ${info.threads} threads`],
  ]
}

/** Options of {@link writeReport}. */
export interface ReportOptions {
  markdownPath: string
  jsonPath: string
  mode: string
  startedAt: Date
  seconds: number
  loadBefore: number[]
  loadAfter: number[]
  preamble: string[]
  /** Markdown appended verbatim after the tables (the hand-written analysis). */
  appendix?: string
  /** Keep marked sections (and their JSON) that the existing report has and this run did not make. */
  keepOtherSections?: boolean
}

/** Writes the Markdown report and the raw JSON next to it. */
export function writeReport(sections: Section[], o: ReportOptions): void {
  const facts = machineFacts()
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ')
  const md: string[] = [
    '# ferrovec benchmark results',
    '',
    `Generated by \`npm run bench${o.mode === 'full' ? '' : ' -- --' + o.mode}\` in \`bench/\` on ${o.startedAt.toISOString()} (${o.mode} run, ${o.seconds.toFixed(0)} s). Do not edit by hand: re-run instead.`,
    '',
    ...o.preamble,
    '',
    `Load average (1/5/15 min) before the run: ${load(o.loadBefore)}; after: ${load(o.loadAfter)} on ${os.cpus().length} cores.`,
    '',
    '## Headlines',
    '',
    ...sections.flatMap((s) => findingsBlock(s)),
    '',
    '## Machine and versions',
    '',
    '| | |',
    '|---|---|',
    ...facts.map(([k, v]) => `| ${k} | ${v} |`),
    ...peerLog.map((p) => `| ${p.name} | ${p.version ?? '—'}: ${describePeer(p)} |`),
    '',
  ]
  for (const s of sections) md.push(sectionBlock(s))
  if (o.appendix !== undefined) md.push(ANALYSIS_MARKER, '---', '', o.appendix.trim(), '')
  mkdirSync(dirname(o.markdownPath), { recursive: true })
  let text = md.join('\n')
  let carried: { title: string; findings: string[]; raw: unknown }[] = []
  if (o.keepOtherSections === true && existsSync(o.markdownPath)) {
    // Sections published separately (e.g. HNSW, by `npm run bench:hnsw`) survive a run without them.
    const old = readFileSync(o.markdownPath, 'utf8')
    const ids = new Set(sections.map((s) => s.id))
    for (const id of markedIds(old)) {
      if (ids.has(id)) continue
      text = upsertBlock(text, `findings:${id}`, extractBlock(old, `findings:${id}`) ?? '', '\n## Machine and versions')
      text = upsertBlock(text, `section:${id}`, extractBlock(old, `section:${id}`)!, `\n${ANALYSIS_MARKER}`)
    }
    carried = oldJsonSections(o.jsonPath).filter((x) => x.id !== undefined && !ids.has(x.id))
  }
  writeFileSync(o.markdownPath, text)
  writeFiles(sections, dirname(o.markdownPath))
  const json = {
    generatedAt: o.startedAt.toISOString(),
    mode: o.mode,
    seconds: o.seconds,
    loadBefore: o.loadBefore,
    loadAfter: o.loadAfter,
    machine: Object.fromEntries(facts),
    peers: peerLog.map(({ module: _m, ...p }) => p),
    sections: [...sections.map((s) => ({ id: s.id, title: s.title, findings: s.findings, raw: s.raw })), ...carried],
  }
  writeFileSync(o.jsonPath, JSON.stringify(json, null, 1) + '\n')
}

const ANALYSIS_MARKER = '<!-- analysis: bench/ANALYSIS.md -->'

function sectionBlock(s: Section): string {
  // One paragraph per intro line: Markdown would run consecutive lines together.
  const body = [`## ${s.title}`, '', ...s.intro.flatMap((line) => [line, '']), ...s.tables.flatMap((t) => [markdownTable(t), ''])].join('\n')
  return s.id === undefined ? body : `<!-- section:${s.id} -->\n${body}\n<!-- /section:${s.id} -->\n`
}

function findingsBlock(s: Section): string[] {
  const lines = s.findings.map((f) => `- ${f}`)
  return s.id === undefined ? lines : [`<!-- findings:${s.id} -->`, ...lines, `<!-- /findings:${s.id} -->`]
}

function markedIds(text: string): string[] {
  return [...text.matchAll(/<!-- section:([\w-]+) -->/g)].map((m) => m[1]!)
}

/** The text between `<!-- name -->` and `<!-- /name -->`, markers included, or undefined. */
function extractBlock(text: string, name: string): string | undefined {
  const a = text.indexOf(`<!-- ${name} -->`)
  const end = `<!-- /${name} -->`
  const b = text.indexOf(end, a)
  return a < 0 || b < 0 ? undefined : text.slice(a, b + end.length)
}

/** Replaces a marked block, or inserts it before `before` (or at the end when that is absent). */
function upsertBlock(text: string, name: string, block: string, before: string): string {
  if (block === '') return text
  const old = extractBlock(text, name)
  if (old !== undefined) return text.replace(old, () => block)
  const i = text.indexOf(before)
  return i < 0 ? `${text}\n${block}\n` : `${text.slice(0, i)}\n${block}\n${text.slice(i)}`
}

function oldJsonSections(path: string): { id?: string; title: string; findings: string[]; raw: unknown }[] {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { sections?: { id?: string; title: string; findings: string[]; raw: unknown }[] }).sections ?? []
  } catch {
    return []
  }
}

function writeFiles(sections: Section[], dir: string): void {
  for (const s of sections) for (const [name, text] of Object.entries(s.files ?? {})) writeFileSync(`${dir}/${name}`, text)
}

/** Options of {@link publishSections}. */
export interface PublishOptions {
  markdownPath: string
  jsonPath: string
  /** Current hand-written analysis, which replaces the report's appendix. */
  appendix?: string
  /** One line saying when and how these sections were measured (they join a report made at another time). */
  provenance: string
}

/**
 * Puts sections measured by a partial run into the committed report (RESULTS.md, results.json) without
 * touching the other sections: each replaces its marked block (or is inserted before the analysis),
 * its findings replace or join the headlines, and the analysis appendix is refreshed from ANALYSIS.md.
 * Machine facts and the ferrovec build of the partial run go into the section itself (`provenance`).
 */
export function publishSections(sections: Section[], o: PublishOptions): void {
  let text = existsSync(o.markdownPath) ? readFileSync(o.markdownPath, 'utf8') : '# ferrovec benchmark results\n\n## Headlines\n\n## Machine and versions\n'
  // Older reports have the analysis after a bare '---'; give them the marker.
  if (!text.includes(ANALYSIS_MARKER)) {
    const i = text.indexOf('\n---\n\n## Analysis')
    if (i >= 0) text = `${text.slice(0, i + 1)}${ANALYSIS_MARKER}\n${text.slice(i + 1)}`
  }
  for (const s of sections) {
    const id = s.id ?? s.title.toLowerCase().replace(/\W+/g, '-')
    const withId = { ...s, id, intro: [o.provenance, ...s.intro] }
    text = upsertBlock(text, `findings:${id}`, findingsBlock(withId).join('\n'), '\n## Machine and versions')
    text = upsertBlock(text, `section:${id}`, sectionBlock(withId), `\n${ANALYSIS_MARKER}`)
  }
  if (o.appendix !== undefined) {
    const i = text.indexOf(ANALYSIS_MARKER)
    text = (i >= 0 ? text.slice(0, i) : `${text}\n`) + [ANALYSIS_MARKER, '---', '', o.appendix.trim(), ''].join('\n')
  }
  writeFileSync(o.markdownPath, text)
  writeFiles(sections, dirname(o.markdownPath))
  const old = existsSync(o.jsonPath) ? (JSON.parse(readFileSync(o.jsonPath, 'utf8')) as { sections?: unknown[] } & Record<string, unknown>) : {}
  const kept = ((old.sections ?? []) as { id?: string; title: string }[]).filter((x) => !sections.some((s) => s.id === x.id || s.title === x.title))
  const published = sections.map((s) => ({ id: s.id, title: s.title, findings: s.findings, raw: s.raw, provenance: o.provenance, machine: Object.fromEntries(machineFacts()) }))
  writeFileSync(o.jsonPath, JSON.stringify({ ...old, sections: [...kept, ...published] }, null, 1) + '\n')
}
