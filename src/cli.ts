#!/usr/bin/env node
// The `ferrovec` command: a dispatcher over the commands in src/cli/ (the contract they keep is in
// src/cli/command.ts). Exit codes: 0 ok, 1 failure, 2 bad usage; every error is one line on stderr.
import { pathToFileURL } from 'node:url'
import { realpathSync } from 'node:fs'
import { benchCommand } from './cli/bench.js'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type CliContext, type Command } from './cli/command.js'
import { demoCommand } from './cli/demo.js'
import { embedCommand } from './cli/embed.js'
import { indexCommand } from './cli/index-docs.js'
import { infoCommand } from './cli/info.js'
import { searchCommand } from './cli/search.js'
import { tuneCommand } from './cli/tune.js'
import { wordnetCommand } from './cli/wordnet.js'

/** Every command, in the order `ferrovec --help` lists them. */
export const COMMANDS: readonly Command[] = [
  wordnetCommand,
  indexCommand,
  searchCommand,
  embedCommand,
  tuneCommand,
  benchCommand,
  infoCommand,
  demoCommand,
]

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
  return `usage: ferrovec <command> [options]

commands:
${lines.join('\n')}

Run "ferrovec <command> --help" for a command's options. Exit codes: 0 ok, 1 failure, 2 bad usage.
`
}

/** One line for any thrown value: `ERR_…: message` when it carries a code. */
export function errorLine(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  const code = typeof e?.code === 'string' && e.code !== 'ERR_USAGE' ? `${e.code}: ` : ''
  // Multi-line messages (a native stack, a nested cause) would break the one-line contract.
  return `${code}${message.split('\n')[0]}`
}

/** Runs `ferrovec <argv…>` against `ctx` and resolves to the exit code; never throws. */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const target = name === 'help' && rest[0] !== undefined ? COMMANDS.find((c) => c.name === rest[0]) : undefined
    ;(name === undefined ? ctx.stderr : ctx.stdout).write(target?.usage ?? usage())
    return name === undefined ? EXIT_USAGE : EXIT_OK
  }
  if (name === '--version' || name === '-v') {
    const { nativeInfo } = await import('./metric.js')
    ctx.stdout.write(`${nativeInfo().version}\n`)
    return EXIT_OK
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (command === undefined) {
    ctx.stderr.write(`ferrovec: unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.name).join(', ')})\n`)
    return EXIT_USAGE
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout.write(command.usage)
    return EXIT_OK
  }
  try {
    return await command.run(rest, ctx)
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr.write(`ferrovec ${command.name}: ${err.message} (see "ferrovec ${command.name} --help")\n`)
      return EXIT_USAGE
    }
    ctx.stderr.write(`ferrovec ${command.name}: ${errorLine(err)}\n`)
    if (process.env.FERROVEC_DEBUG) ctx.stderr.write(`${(err as Error)?.stack ?? ''}\n`)
    return EXIT_FAILURE
  }
}

function isMain(): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href
  } catch {
    return false
  }
}

if (isMain()) {
  const ctx: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    progress: process.stderr.isTTY === true && !process.env.CI,
    env: process.env,
  }
  // A closed pipe (`ferrovec embed … | head`) is a normal way for a reader to stop listening.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
  runCli(process.argv.slice(2), ctx).then((code) => {
    process.exitCode = code
  })
}
