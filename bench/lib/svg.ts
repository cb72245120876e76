// Hand-written SVG for recall/QPS curves (no plotting dependency): one panel per data set, recall@k on
// x (linear), queries/s on y (log), one polyline per library with a dot per ef value.

/** One library's curve: points in ef order. */
export interface Series {
  name: string
  points: { recall: number; qps: number; ef: number }[]
}

/** One panel (one data set). */
export interface Panel {
  title: string
  series: Series[]
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** `text` in lines of at most `width` characters (a word longer than that gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const part of text.split(/(?<= )/)) {
    if (line !== '' && (line + part).trimEnd().length > width) {
      lines.push(line.trimEnd())
      line = ''
    }
    line += part
  }
  if (line.trim() !== '') lines.push(line.trimEnd())
  return lines
}

/** Colour of a library, stable across panels (by first appearance in `names`). */
function colourOf(names: string[], name: string): string {
  return COLOURS[names.indexOf(name) % COLOURS.length]!
}

/**
 * An SVG document with the panels side by side (wrapping after `perRow`). Recall below `minRecall` is
 * clipped; targets (dashed vertical lines) mark the recall levels the issue compares at.
 */
export function recallQpsSvg(panels: Panel[], o: { caption: string; targets?: number[]; minRecall?: number; perRow?: number }): string {
  const W = 420
  const H = 320
  const m = { l: 62, r: 14, t: 30, b: 44 }
  const perRow = o.perRow ?? 3
  const cols = Math.min(perRow, Math.max(1, panels.length))
  const rowsN = Math.ceil(panels.length / cols)
  const totalW = cols * W
  const names: string[] = []
  for (const p of panels) for (const s of p.series) if (!names.includes(s.name)) names.push(s.name)
  // The legend wraps onto as many lines as the library names need at the figure's width.
  const entryW = 190
  const perLine = Math.max(1, Math.floor((totalW - 20) / entryW))
  const legendLines = Math.ceil(names.length / perLine)
  const legendH = 18 * legendLines + 10
  const captionLines = wrap(o.caption, Math.floor((totalW - 40) / 6.2))
  const totalH = rowsN * H + legendH + 14 * captionLines.length + 10
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${totalW}" height="${totalH}" viewBox="0 0 ${totalW} ${totalH}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ]
  panels.forEach((p, pi) => {
    const ox = (pi % cols) * W
    const oy = Math.floor(pi / cols) * H
    const pw = W - m.l - m.r
    const ph = H - m.t - m.b
    const pts = p.series.flatMap((s) => s.points).filter((x) => x.qps > 0 && Number.isFinite(x.qps))
    const minR = o.minRecall ?? Math.max(0, Math.floor(Math.min(...pts.map((x) => x.recall), 0.9) * 20) / 20)
    const xOf = (r: number) => ox + m.l + ((r - minR) / (1 - minR)) * pw
    const qs = pts.map((x) => x.qps)
    const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...qs, 1e9))))
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...qs, 1))))
    const yOf = (q: number) => oy + m.t + ph - ((Math.log10(q) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * ph
    out.push(`<text x="${ox + m.l + pw / 2}" y="${oy + 18}" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`)
    out.push(`<rect x="${ox + m.l}" y="${oy + m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`)
    // Grid: recall every 0.05, QPS at each power of ten (and 2×, 5× minor lines).
    for (let r = Math.ceil(minR * 20) / 20; r <= 1.0001; r += 0.05) {
      const x = xOf(r)
      out.push(`<line x1="${x}" y1="${oy + m.t}" x2="${x}" y2="${oy + m.t + ph}" stroke="#eee"/>`)
      out.push(`<text x="${x}" y="${oy + m.t + ph + 14}" text-anchor="middle">${r.toFixed(2)}</text>`)
    }
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      for (const f of [1, 2, 5]) {
        const q = d * f
        if (q > hi * 1.0001) break
        const y = yOf(q)
        out.push(`<line x1="${ox + m.l}" y1="${y}" x2="${ox + m.l + pw}" y2="${y}" stroke="${f === 1 ? '#ddd' : '#f3f3f3'}"/>`)
        if (f === 1 || ph > 200) out.push(`<text x="${ox + m.l - 4}" y="${y + 4}" text-anchor="end" fill="${f === 1 ? '#000' : '#888'}">${q >= 1000 ? `${q / 1000}k` : q}</text>`)
      }
    }
    for (const t of o.targets ?? []) {
      if (t < minR) continue
      const x = xOf(t)
      out.push(`<line x1="${x}" y1="${oy + m.t}" x2="${x}" y2="${oy + m.t + ph}" stroke="#777" stroke-dasharray="4 3"/>`)
    }
    out.push(`<text x="${ox + m.l + pw / 2}" y="${oy + H - 10}" text-anchor="middle">recall@10</text>`)
    out.push(`<text transform="translate(${ox + 14} ${oy + m.t + ph / 2}) rotate(-90)" text-anchor="middle">queries/s, 1 thread (log)</text>`)
    for (const s of p.series) {
      const c = colourOf(names, s.name)
      const vis = s.points.filter((x) => x.recall >= minR - 1e-9 && x.qps > 0)
      if (vis.length === 0) continue
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.8" points="${vis.map((x) => `${xOf(x.recall).toFixed(1)},${yOf(x.qps).toFixed(1)}`).join(' ')}"/>`)
      for (const x of vis) {
        out.push(`<circle cx="${xOf(x.recall).toFixed(1)}" cy="${yOf(x.qps).toFixed(1)}" r="2.6" fill="${c}"><title>${esc(s.name)} ef=${x.ef}: recall ${x.recall.toFixed(3)}, ${Math.round(x.qps)} q/s</title></circle>`)
      }
    }
  })
  const ly = rowsN * H + 14
  names.forEach((n, i) => {
    const x = 20 + (i % perLine) * entryW
    const y = ly + Math.floor(i / perLine) * 18
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${colourOf(names, n)}" stroke-width="3"/>`)
    out.push(`<text x="${x + 30}" y="${y + 4}">${esc(n)}</text>`)
  })
  captionLines.forEach((line, i) => out.push(`<text x="20" y="${ly + 18 * (legendLines - 1) + 22 + 14 * i}" fill="#555">${esc(line)}</text>`))
  out.push('</svg>')
  return out.join('\n') + '\n'
}
