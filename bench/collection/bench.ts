/**
 * Collection benchmark (issue 6): end-to-end retrieval quality and search latency of a ferrovec
 * Collection on SciFact (BEIR layout, 5,183 abstracts, 300 test claims with relevance judgements).
 *
 * - Documents are `title + " " + abstract`, upserted with the precomputed USE-512 vectors from
 *   shared/data (the same model as the offline embedder; a few are re-embedded here and compared, so
 *   the check is real), so the run takes a minute instead of ~12 (135 ms per abstract on one core).
 * - Queries are embedded by the offline embedder in this run (its time is reported on its own).
 * - Quality: nDCG@10 and recall@100 for keyword (FTS5 BM25), vector (HNSW) and hybrid with the
 *   default fusion, plus the fusion variants the default was chosen from.
 * - Latency: median / p90 of `search` (hybrid, k = 10) over the 300 queries with and without a
 *   metadata filter, the query vector passed in (`options.vector`), so embedding time is excluded;
 *   and the query-embedding time by itself.
 *
 * SciFact is CC BY-NC: it is read from shared/data and never copied into the repository.
 *
 *   node --import tsx bench/collection/bench.ts            (from the repository root)
 *   FERROVEC_DATA=/path/to/shared/data node --import tsx bench/collection/bench.ts
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { Collection, DEFAULT_ALPHA, type CollectionSearchOptions } from '../../src/collection/index.js'
import { createEmbedder } from '../../src/embed/index.js'

const here = dirname(fileURLToPath(import.meta.url))
const DATA = process.env.FERROVEC_DATA ?? join(here, '../../../shared/data')
const SCIFACT = join(DATA, 'scifact')

function readFvecs(path: string): { n: number; d: number; rows: Float32Array[] } {
  const buf = gunzipSync(readFileSync(path))
  const d = buf.readInt32LE(0)
  const n = buf.length / (4 * (d + 1))
  const rows: Float32Array[] = []
  for (let i = 0; i < n; i++) {
    const row = new Float32Array(d)
    for (let j = 0; j < d; j++) row[j] = buf.readFloatLE(4 * (i * (d + 1) + 1 + j))
    rows.push(row)
  }
  return { n, d, rows }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number
}

function ndcgAt(ranked: string[], rel: Map<string, number>, k: number): number {
  let dcg = 0
  for (let i = 0; i < Math.min(k, ranked.length); i++) dcg += (rel.get(ranked[i] as string) ?? 0) / Math.log2(i + 2)
  const ideal = [...rel.values()].sort((a, b) => b - a)
  let idcg = 0
  for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += (ideal[i] as number) / Math.log2(i + 2)
  return idcg === 0 ? 0 : dcg / idcg
}

function recallAt(ranked: string[], rel: Map<string, number>, k: number): number {
  const relevant = [...rel.entries()].filter(([, g]) => g > 0).map(([id]) => id)
  if (relevant.length === 0) return 0
  const top = new Set(ranked.slice(0, k))
  return relevant.filter((id) => top.has(id)).length / relevant.length
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ferrovec-bench-collection-'))
  try {
    execFileSync('tar', ['xzf', join(SCIFACT, 'scifact-beir.tar.gz'), '-C', work])
    const corpus = readFileSync(join(work, 'corpus.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
    const queries = readFileSync(join(work, 'queries.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { _id: string; text: string })
    const qrels = new Map<string, Map<string, number>>()
    for (const line of readFileSync(join(work, 'qrels/test.tsv'), 'utf8').trim().split('\n').slice(1)) {
      const [q, d, s] = line.split('\t') as [string, string, string]
      if (!qrels.has(q)) qrels.set(q, new Map())
      ;(qrels.get(q) as Map<string, number>).set(d, Number(s))
    }
    const docVecs = readFvecs(join(SCIFACT, 'scifact-corpus.use512.fvecs.gz'))
    const qVecs = readFvecs(join(SCIFACT, 'scifact-queries.use512.fvecs.gz'))
    if (docVecs.n !== corpus.length || qVecs.n !== queries.length) throw new Error('vector files do not match the corpus')
    const test = queries.map((q, row) => ({ ...q, row })).filter((q) => qrels.has(q._id))
    console.log(`SciFact: ${corpus.length} docs, ${test.length} test queries`)

    const embedder = createEmbedder({ provider: 'use' })
    // The stored vectors must be this embedder's: re-embed a few documents and compare.
    const probe = [0, 1, 2]
    const fresh = await embedder.embedMany(probe.map((i) => `${corpus[i]?.title} ${corpus[i]?.text}`))
    const cos = probe.map((i, j) => {
      const a = fresh[j] as Float32Array
      const b = docVecs.rows[i] as Float32Array
      let dot = 0
      for (let x = 0; x < a.length; x++) dot += (a[x] as number) * (b[x] as number)
      return dot
    })
    console.log('stored vs re-embedded cosine:', cos.map((c) => c.toFixed(6)).join(', '))
    if (cos.some((c) => c < 0.999)) throw new Error('the stored SciFact vectors are not this embedder’s')

    const dir = join(work, 'collection')
    const c = await Collection.open(dir, { embedder })
    const GROUPS = 10
    let t = performance.now()
    await c.upsert(
      corpus.map((d, i) => ({
        id: d._id,
        text: `${d.title} ${d.text}`,
        // Synthetic metadata for the filter measurements: a 10-way group and a year.
        metadata: { group: i % GROUPS, year: 2000 + (i % 20) },
        vector: docVecs.rows[i] as Float32Array,
      })),
    )
    const upsertMs = performance.now() - t
    console.log(`upsert ${corpus.length} docs with vectors: ${(upsertMs / 1000).toFixed(1)} s`)

    // Query embeddings from this run (time per query, one at a time as a server would).
    const embedMs: number[] = []
    const qv: Float32Array[] = []
    for (const q of test) {
      t = performance.now()
      qv.push(await embedder.embed(q.text))
      embedMs.push(performance.now() - t)
    }
    let agree = 0
    test.forEach((q, i) => {
      const a = qv[i] as Float32Array
      const b = qVecs.rows[q.row] as Float32Array
      let dot = 0
      for (let x = 0; x < a.length; x++) dot += (a[x] as number) * (b[x] as number)
      if (dot > 0.999) agree++
    })
    console.log(`query vectors matching the stored ones: ${agree}/${test.length}`)

    const variants: { name: string; opts: CollectionSearchOptions }[] = [
      { name: 'keyword (FTS5 BM25)', opts: { mode: 'keyword' } },
      { name: 'vector (HNSW, USE-512)', opts: { mode: 'vector' } },
      { name: `hybrid, default (z-score fusion, alpha ${DEFAULT_ALPHA})`, opts: { mode: 'hybrid' } },
      { name: 'hybrid, RRF k=60 equal weights', opts: { mode: 'hybrid', fusion: 'rrf' } },
      { name: 'hybrid, RRF k=60 vector weight 0.3', opts: { mode: 'hybrid', fusion: 'rrf', vectorWeight: 0.3 } },
      { name: 'hybrid, RRF k=60 vector weight 0.1', opts: { mode: 'hybrid', fusion: 'rrf', vectorWeight: 0.1 } },
      { name: 'hybrid, z-score alpha 0.2', opts: { mode: 'hybrid', alpha: 0.2 } },
      { name: 'hybrid, z-score alpha 0.3', opts: { mode: 'hybrid', alpha: 0.3 } },
      { name: 'hybrid, z-score alpha 0.5', opts: { mode: 'hybrid', alpha: 0.5 } },
      { name: 'hybrid, min-max alpha 0.2', opts: { mode: 'hybrid', fusion: 'minmax', alpha: 0.2 } },
      { name: 'hybrid, min-max alpha 0.5', opts: { mode: 'hybrid', fusion: 'minmax', alpha: 0.5 } },
    ]
    const quality: { name: string; ndcg10: number; recall100: number }[] = []
    for (const v of variants) {
      let nd = 0
      let rc = 0
      for (let i = 0; i < test.length; i++) {
        const q = test[i] as (typeof test)[number]
        // nDCG@10 from a k=10 search (hybrid candidate depth depends on k), recall@100 from k=100.
        const top10 = (await c.search(q.text, { ...v.opts, k: 10, vector: qv[i] })).map((h) => h.id)
        const top100 = (await c.search(q.text, { ...v.opts, k: 100, vector: qv[i] })).map((h) => h.id)
        const rel = qrels.get(q._id) as Map<string, number>
        nd += ndcgAt(top10, rel, 10)
        rc += recallAt(top100, rel, 100)
      }
      quality.push({ name: v.name, ndcg10: nd / test.length, recall100: rc / test.length })
      console.log(`${v.name.padEnd(52)} nDCG@10 ${(nd / test.length).toFixed(3)}  recall@100 ${(rc / test.length).toFixed(3)}`)
    }

    // Latency: hybrid k=10, embedding excluded (vector passed in); interleaved, after a warm-up pass.
    const filters: { name: string; filter?: CollectionSearchOptions['filter'] }[] = [
      { name: 'no filter' },
      { name: 'filter { group: 3 } (10% of docs)', filter: { group: 3 } },
      { name: 'filter { group: { $in: [1,2,3,4,5] }, year: { $gte: 2005 } } (~38%)', filter: { group: { $in: [1, 2, 3, 4, 5] }, year: { $gte: 2005 } } },
    ]
    const lat = new Map<string, number[]>(filters.map((f) => [f.name, []]))
    const vecLat: number[] = []
    const kwLat: number[] = []
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < test.length; i++) {
        const q = test[i] as (typeof test)[number]
        for (const f of filters) {
          t = performance.now()
          await c.search(q.text, { k: 10, mode: 'hybrid', filter: f.filter, vector: qv[i] })
          if (round === 1) (lat.get(f.name) as number[]).push(performance.now() - t)
        }
        t = performance.now()
        await c.search(qv[i] as Float32Array, { k: 10, mode: 'vector', filter: { group: 3 } })
        if (round === 1) vecLat.push(performance.now() - t)
        t = performance.now()
        await c.search(q.text, { k: 10, mode: 'keyword', filter: { group: 3 } })
        if (round === 1) kwLat.push(performance.now() - t)
      }
    }
    // Filters fill k: every filtered hybrid search above returns 10 hits when ≥ 10 documents match.
    const filled = (await c.search(test[0]?.text as string, { k: 10, filter: { group: 3 }, vector: qv[0] })).length
    await c.close()

    const rows = [...lat.entries()].map(([name, xs]) => `| hybrid k=10, ${name} | ${median(xs).toFixed(2)} | ${pct(xs, 0.9).toFixed(2)} |`)
    rows.push(`| vector k=10, filter { group: 3 } | ${median(vecLat).toFixed(2)} | ${pct(vecLat, 0.9).toFixed(2)} |`)
    rows.push(`| keyword k=10, filter { group: 3 } | ${median(kwLat).toFixed(2)} | ${pct(kwLat, 0.9).toFixed(2)} |`)
    rows.push(`| query embedding alone (USE-lite, one claim) | ${median(embedMs).toFixed(2)} | ${pct(embedMs, 0.9).toFixed(2)} |`)
    const best = Math.max(quality[0]?.ndcg10 ?? 0, quality[1]?.ndcg10 ?? 0)
    const report = `# Collection benchmark: SciFact end to end

Run ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} (load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}), Node ${process.version}. Command: \`node --import tsx bench/collection/bench.ts\`.

SciFact test split (300 claims, 5,183 abstracts; CC BY-NC, read from shared/data). Documents are
\`title + " " + abstract\` with their stored USE-512 vectors (re-embedding 3 of them here gives cosine
${cos.map((x) => x.toFixed(4)).join(', ')} to the stored ones); queries are embedded in this run by the offline
embedder (${agree}/${test.length} within cosine 0.999 of the stored query vectors). HNSW m=16, efConstruction=200,
efSearch=64. Upsert of 5,183 documents with vectors: ${(upsertMs / 1000).toFixed(1)} s.

## Quality (nDCG@10, recall@100)

| retrieval | nDCG@10 | recall@100 |
|---|---|---|
${quality.map((q) => `| ${q.name} | ${q.ndcg10.toFixed(3)} | ${q.recall100.toFixed(3)} |`).join('\n')}

Targets: keyword within 0.03 of BM25's 0.665 (BEIR) → ${Math.abs((quality[0]?.ndcg10 ?? 0) - 0.665) <= 0.03 ? 'met' : 'NOT met'}
(${(quality[0]?.ndcg10 ?? 0).toFixed(3)}); default hybrid ≥ the better of keyword and vector (${best.toFixed(3)}) →
${(quality[2]?.ndcg10 ?? 0) >= best ? 'met' : 'NOT met'} (${(quality[2]?.ndcg10 ?? 0).toFixed(3)}).

## Latency (ms per search, 300 queries, second of two interleaved passes)

| search | median | p90 |
|---|---|---|
${rows.join('\n')}

Target: hybrid k=10 with a metadata filter over 5,000 documents ≤ 5 ms median, query embedding
excluded (reported on its own above). A filtered hybrid search returned ${filled} of k=10 hits.
${
  (loadavg()[0] ?? 0) > cpus().length
    ? `\nThe machine was shared during this run (1-minute load ${(loadavg()[0] ?? 0).toFixed(1)} on ${cpus().length} cores): every
latency above is inflated by the competition for the cores. For scale, embedding one claim took
${median(embedMs).toFixed(0)} ms here against ~30 ms on an idle core. Re-run on a quiet machine before reading the
latencies against the target.\n`
    : ''
}`
    writeFileSync(join(here, 'RESULTS.md'), report)
    console.log(report)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
