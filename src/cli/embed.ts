// `ferrovec embed`: texts to vectors with the offline embedder, as JSON lines or an .fvecs file.
import { createWriteStream, openSync, rmSync } from 'node:fs'
import { FerrovecError } from '../errors.js'
import { createInterface } from 'node:readline'
import { once } from 'node:events'
import { EXIT_OK, choiceOption, parseOptions, UsageError, type CliContext, type Command } from './command.js'
import { offlineEmbedder } from './embedder.js'
import { startProgress } from './progress.js'

export const embedCommand: Command = {
  name: 'embed',
  summary: 'texts (arguments or stdin lines) to vectors with the offline model, as JSON lines or .fvecs',
  usage: `usage: ferrovec embed [text …] [--format jsonl|fvecs] [--output <file>]

Embeds each text argument, or else each non-blank line of stdin, with the offline Universal Sentence
Encoder (512 dimensions, L2-normalised). Nothing leaves the machine.

  --format jsonl   one {"text", "vector"} object per line (default)
  --format fvecs   little-endian .fvecs rows (int32 dim, then dim float32), in input order
  --json           the same as --format jsonl
  --output <file>  write there instead of stdout (.fvecs output is never written to a terminal)

examples:
  ferrovec embed "a small dog" "a large cat"
  cut -f2 titles.tsv | ferrovec embed --format fvecs --output titles.fvecs
`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions(args, {
      format: { type: 'string' },
      json: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o' },
    })
    const format = values.json ? 'jsonl' : choiceOption('format', values.format, ['jsonl', 'fvecs'] as const, 'jsonl')
    if (values.json && values.format !== undefined && values.format !== 'jsonl') throw new UsageError('--json and --format fvecs contradict each other')
    if (format === 'fvecs' && values.output === undefined && (ctx.stdout as { isTTY?: boolean }).isTTY) {
      throw new UsageError('refusing to write binary .fvecs to a terminal; use --output <file> or a pipe')
    }
    const texts = positionals.length > 0 ? positionals : await readLines(ctx)
    if (texts.length === 0) throw new UsageError('no texts: pass them as arguments or as lines on stdin')
    for (const [i, t] of texts.entries()) {
      if (t.trim() === '') throw new UsageError(`text ${i + 1} is empty`)
    }

    // Opened before the model runs, so a bad path fails at once; removed again if embedding fails.
    const out = values.output === undefined ? ctx.stdout : openOutput(values.output)
    const embedder = await offlineEmbedder()
    const bar = startProgress(ctx, 'embedding', texts.length)
    let vectors: Float32Array[]
    try {
      vectors = await embedder.embedMany(texts, { onProgress: (p) => bar.update(p) })
    } catch (err) {
      if (values.output !== undefined) {
        out.end()
        rmSync(values.output, { force: true })
      }
      throw err
    } finally {
      bar.stop()
      await embedder.close()
    }
    for (const [i, v] of vectors.entries()) {
      if (format === 'jsonl') {
        if (!out.write(`${JSON.stringify({ text: texts[i], vector: Array.from(v) })}\n`)) await once(out, 'drain')
      } else {
        const row = Buffer.alloc(4 + 4 * v.length)
        row.writeInt32LE(v.length, 0)
        for (let j = 0; j < v.length; j++) row.writeFloatLE(v[j]!, 4 + 4 * j)
        if (!out.write(row)) await once(out, 'drain')
      }
    }
    if (out !== ctx.stdout) {
      const done = once(out, 'finish')
      out.end()
      await done
      ctx.stderr.write(`wrote ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions to ${values.output}\n`)
    }
    return EXIT_OK
  },
}

/** Non-blank lines of stdin (a terminal on stdin means the user forgot the input: say so, don't hang). */
async function readLines(ctx: CliContext): Promise<string[]> {
  if ((ctx.stdin as { isTTY?: boolean }).isTTY) throw new UsageError('no texts: pass them as arguments or pipe lines on stdin')
  const lines: string[] = []
  for await (const line of createInterface({ input: ctx.stdin, crlfDelay: Infinity })) {
    if (line.trim() !== '') lines.push(line)
  }
  return lines
}

/** Opens the output file now, so a bad path is a one-line ERR_IO rather than a stream 'error' later. */
function openOutput(path: string): NodeJS.WritableStream {
  let fd: number
  try {
    fd = openSync(path, 'w')
  } catch (err) {
    throw new FerrovecError('ERR_IO', `${path}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return createWriteStream('', { fd })
}
