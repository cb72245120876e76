// Progress bars for long CLI work, drawn by cli-progress on stderr and only when stderr is a terminal: piped
// output, CI logs and --json runs stay free of carriage-return noise.
import cliProgress from 'cli-progress'
import type { CliContext } from './command.js'

/** A bar for one phase of work; `update` takes the `{ done, total }` our progress callbacks report. */
export interface Progress {
  update(p: { done: number; total: number }): void
  stop(): void
}

const SILENT: Progress = { update() {}, stop() {} }

/** Starts a bar labelled `label` (padded so stacked phases line up), or a silent one when not on a TTY. */
export function startProgress(ctx: CliContext, label: string, total: number): Progress {
  if (!ctx.progress) return SILENT
  const bar = new cliProgress.SingleBar(
    {
      stream: ctx.stderr,
      // Our own line: cli-progress's {eta_formatted} reads "NFs" until the first unit of work is done.
      format: (options, params) => {
        const bar = cliProgress.Format.BarFormat(params.progress, options)
        const elapsed = cliProgress.Format.TimeFormat(Math.round((Date.now() - params.startTime) / 1000), options, 1)
        const eta = params.value > 0 && params.value < params.total ? `, eta ${cliProgress.Format.TimeFormat(params.eta, options, 1)}` : ''
        return `${label.padEnd(10)} ${bar} ${Math.floor(params.progress * 100)}% | ${params.value}/${params.total} | ${elapsed}${eta}`
      },
      hideCursor: true,
      // The bar is for the terminal only; a redirected stderr already got `progress: false`.
      noTTYOutput: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0)
  let stopped = false
  return {
    update({ done, total: t }) {
      if (stopped) return
      if (t !== bar.getTotal()) bar.setTotal(t)
      bar.update(done)
    },
    stop() {
      if (stopped) return
      stopped = true
      bar.stop()
    },
  }
}
