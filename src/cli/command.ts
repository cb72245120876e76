// The contract between the `ferrovec` dispatcher (src/cli.ts) and its commands (one module each in src/cli/).
//
// To add a command:
//   1. create src/cli/<name>.ts exporting `const <name>Command: Command = { name, summary, usage, run }`;
//   2. add it to the COMMANDS list in src/cli.ts (the order there is the order in `ferrovec --help`).
//
// `run` receives the arguments after the command name and a `CliContext`, and returns the exit code.
//   - Parse options with `parseOptions` (below): an unknown option, a missing value or a bad number becomes a
//     `UsageError`, which the dispatcher prints as one line plus "see ferrovec <name> --help" and exits with 2.
//   - Any other thrown error (a `FerrovecError` with its `code`, a missing file, …) is printed as one line
//     `ferrovec <name>: ERR_…: message` and exits with 1. Throw; don't print-and-return for failures.
//   - Results go to `ctx.stdout`; progress and notes to `ctx.stderr` (progress bars only when `ctx.progress`),
//     so `--json` output on stdout stays machine-readable.
//   - `--help`/`-h` is handled by the dispatcher before `run` is called (it prints `usage`).
//   - Offer `--json` (one JSON object on stdout, via `writeJson`) wherever the output is data.
//   - Load heavy modules (the collection, the embedding model) inside `run`, not at import: every command
//     module is imported on every `ferrovec` start.
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Exit codes: success, a failure while doing the work (bad file contents, I/O, …), bad command-line usage. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** Where a command reads and writes; tests and the dispatcher pass the process streams. */
export interface CliContext {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin: NodeJS.ReadableStream
  /** True when stderr is a terminal: draw progress bars. False under pipes, CI and tests. */
  progress: boolean
  /** Environment, for defaults such as the cache directory (`FERROVEC_CACHE_DIR`, `XDG_CACHE_HOME`). */
  env: NodeJS.ProcessEnv
}

/** One `ferrovec <name>` subcommand. */
export interface Command {
  /** The word after `ferrovec`. */
  readonly name: string
  /** What the command does, one line (under ~100 characters) for the list in `ferrovec --help`. */
  readonly summary: string
  /** Full help for `ferrovec <name> --help`: synopsis, options, an example. Ends with a newline. */
  readonly usage: string
  /** Runs the command; resolves to the exit code (EXIT_OK, EXIT_FAILURE). Throws on failure. */
  run(args: string[], ctx: CliContext): Promise<number>
}

/** Bad command-line usage (unknown option, missing argument, malformed value): exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
  override get name(): string {
    return 'UsageError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>
/** What {@link parseOptions} returns: typed `values` per option, and the positionals. */
export type ParsedOptions<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>

/**
 * `util.parseArgs` in strict mode with positionals, turning its errors (unknown option, missing value) into a
 * one-line `UsageError`.
 */
export function parseOptions<O extends Options>(args: string[], options: O): ParsedOptions<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    const e = err as { code?: string; message?: string }
    const message = e.message ?? String(err)
    // "--k -1": the value looks like an option. Node's first line alone ("argument is ambiguous")
    // does not say what to do; its last line does.
    const ambiguous = /^Option '(--?[^' ]+)' argument is ambiguous/.exec(message)
    if (ambiguous) throw new UsageError(`${ambiguous[1]} needs a value; to give one that starts with '-', write ${ambiguous[1]}=-…`)
    // Node's messages are multi-line ("... To specify a positional argument starting with a '-', ...").
    const first = message.split('\n')[0]!.replace(/\. To specify.*$/, '')
    throw new UsageError(first)
  }
}

/** Parses an integer option in `min..=max`, or returns `fallback` when it was not given. */
export function intOption(name: string, value: string | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..=${max}, got ${JSON.stringify(value)}`)
  }
  return n
}

/** Parses a number option in `[min, max]`, or returns `fallback` when it was not given. */
export function numberOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`)
  }
  return n
}

/** Checks a string option against its allowed values. */
export function choiceOption<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return value as T
}

/** Exactly `n` positional arguments, named for the error message. */
export function expectPositionals(positionals: string[], names: readonly string[]): string[] {
  if (positionals.length < names.length) throw new UsageError(`missing <${names[positionals.length]}>`)
  if (positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`)
  return positionals
}

/** Writes one line of JSON (for `--json`). */
export function writeJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value)}\n`)
}
