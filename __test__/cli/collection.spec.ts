// `ferrovec index`, `search` and `info` on a collection, run as child processes on small fixtures, including
// every bad input the CLI promises a one-line error for: missing file, bad JSON on line N, wrong dimension,
// unknown option. After each failure the collection is as it was.
import test from 'ava'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Collection } from '../../src/collection/index.js'
import { ferrovec, tempDir } from './run.js'
import { WordsEmbedder } from '../collection/helpers.js'

const DOCS = [
  { id: 'tea', text: 'Green tea is brewed from unoxidised leaves of the tea plant.', metadata: { kind: 'drink', year: 2001 } },
  { id: 'coffee', text: 'Coffee is a dark drink brewed from roasted coffee beans.', metadata: { kind: 'drink', year: 2005 } },
  { id: 'bread', text: 'Bread is baked from a dough of flour and water.', metadata: { kind: 'food', year: 2010 } },
  { id: 'violin', text: 'The violin is a wooden string instrument played with a bow.', metadata: { kind: 'music', year: 2015 } },
  { id: 'piano', text: 'A piano has hammers that strike strings when keys are pressed.', metadata: { kind: 'music', year: 2020 } },
]
const jsonl = (docs: readonly object[]) => docs.map((d) => JSON.stringify(d)).join('\n') + '\n'

function oneLine(t: { true: (v: boolean, m?: string) => void }, stderr: string): void {
  t.true(stderr.endsWith('\n') && stderr.trimEnd().split('\n').length === 1, `expected one line, got ${JSON.stringify(stderr)}`)
}

test('index a JSONL file, then search it in every mode, with a filter, and describe it with info', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const file = join(dir, 'docs.jsonl')
  const collection = join(dir, 'coll')
  writeFileSync(file, jsonl(DOCS))
  const r = await ferrovec(['index', file, '--collection', collection, '--json'])
  t.is(r.code, 0, r.stderr)
  t.like(JSON.parse(r.stdout), { added: 5, updated: 0, count: 5 })

  const keyword = await ferrovec(['search', collection, 'brewed coffee beans', '--mode', 'keyword', '--k', '2', '--json'])
  t.is(keyword.code, 0, keyword.stderr)
  const kw = JSON.parse(keyword.stdout) as { mode: string; results: { id: string; score: number; metadata: { kind: string } }[] }
  t.is(kw.mode, 'keyword')
  t.is(kw.results[0]!.id, 'coffee')
  t.true(kw.results[0]!.score > 0)

  const vector = await ferrovec(['search', collection, 'a musical instrument with strings', '--mode', 'vector', '--k', '2', '--json'])
  t.is(vector.code, 0, vector.stderr)
  const vec = JSON.parse(vector.stdout) as { results: { id: string; score: number }[] }
  t.deepEqual(vec.results.map((x) => x.id).sort(), ['piano', 'violin'])
  t.true(vec.results[0]!.score <= 1 && vec.results[0]!.score >= vec.results[1]!.score)

  const filtered = await ferrovec(['search', collection, 'something brewed', '--filter', '{"kind":"music"}', '--k', '3', '--json'])
  t.is(filtered.code, 0, filtered.stderr)
  const f = JSON.parse(filtered.stdout) as { mode: string; results: { id: string; metadata: { kind: string } }[] }
  t.is(f.mode, 'hybrid')
  // Only music matches the filter; both music documents still come back (k filled as far as matches go).
  t.deepEqual(f.results.map((x) => x.metadata.kind), ['music', 'music'])

  const rrf = await ferrovec(['search', collection, 'brewed coffee beans', '--fusion', 'rrf', '--rrf-k', '10', '--k', '1', '--json'])
  t.is(rrf.code, 0, rrf.stderr)
  // Coffee is first in both rankings: 1/(10 + 1) + 1/(10 + 1) with the collection's RRF weights (1 and 1).
  const top = (JSON.parse(rrf.stdout) as { results: { id: string; score: number }[] }).results[0]!
  t.is(top.id, 'coffee')
  t.true(Math.abs(top.score - 2 / 11) < 1e-9, String(top.score))

  const range = await ferrovec(['search', collection, 'drink', '--mode', 'keyword', '--filter', '{"year":{"$gte":2003}}', '--json'])
  t.deepEqual((JSON.parse(range.stdout) as { results: { id: string }[] }).results.map((x) => x.id), ['coffee'])

  const text = await ferrovec(['search', collection, 'flour dough', '--mode', 'keyword', '--k', '1'])
  t.regex(text.stdout, /^ 1\. +\d+\.\d{4}  bread\s+Bread is baked/m)

  const info = await ferrovec(['info', collection, '--json'])
  t.is(info.code, 0, info.stderr)
  t.like(JSON.parse(info.stdout), { type: 'collection', count: 5, dim: 512, model: { provider: 'use' }, index: { type: 'hnsw', metric: 'cosine' } })

  // Re-indexing the same file changes nothing but reports the documents as updated.
  const again = await ferrovec(['index', file, '--collection', collection, '--json'])
  t.like(JSON.parse(again.stdout), { added: 0, updated: 5, count: 5 })
})

test('index a folder of .md/.txt files: chunked, and a shortened file replaces its chunks', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const notes = join(dir, 'notes')
  mkdirSync(join(notes, 'sub'), { recursive: true })
  const para = (w: string) => `${w} `.repeat(60).trim() + '.'
  writeFileSync(join(notes, 'a.md'), `# A\n\n${para('alpha')}\n\n${para('beta')}\n\n${para('gamma')}\n`)
  writeFileSync(join(notes, 'sub', 'b.txt'), 'A short note about kettles.\n')
  writeFileSync(join(notes, 'ignored.json'), '{}')
  const collection = join(dir, 'coll')
  const r = await ferrovec(['index', notes, '--collection', collection, '--chunk-size', '400', '--chunk-overlap', '0', '--json'])
  t.is(r.code, 0, r.stderr)
  const first = JSON.parse(r.stdout) as { added: number; count: number }
  t.true(first.count >= 4, `a.md gives 3+ chunks of ≤ 400 characters, b.txt one; got ${first.count}`)
  const hit = await ferrovec(['search', collection, 'kettles', '--mode', 'keyword', '--k', '1', '--json'])
  const top = (JSON.parse(hit.stdout) as { results: { id: string; metadata: { source: string } }[] }).results[0]!
  t.is(top.id, 'sub/b.txt#0')
  t.is(top.metadata.source, 'sub/b.txt')

  writeFileSync(join(notes, 'a.md'), '# A\n\nNow only one short paragraph.\n')
  const again = await ferrovec(['index', notes, '--collection', collection, '--chunk-size', '400', '--chunk-overlap', '0', '--json'])
  t.is(again.code, 0, again.stderr)
  t.is((JSON.parse(again.stdout) as { count: number }).count, 2)
})

const BAD_FILES: [string, string, RegExp][] = [
  ['missing', '', /ERR_IO: .*missing\.jsonl: no such file/],
  ['badjson', `${JSON.stringify(DOCS[2])}\n${JSON.stringify(DOCS[3])}\n{"id": "x", "text": oops}\n`, /ERR_INVALID_ARGUMENT: .*badjson\.jsonl:3: bad JSON on line 3/],
  ['wrongdim', `${JSON.stringify({ ...DOCS[2], vector: [0.1, 0.2, 0.3] })}\n`, /ERR_DIMENSION_MISMATCH: .*wrongdim\.jsonl:1: vector has 3 dimensions, the collection's model gives 512/],
  ['mixeddim', `${JSON.stringify({ id: 'a', text: 'a', vector: [1, 0] })}\n\n${JSON.stringify({ id: 'b', text: 'b', vector: [1, 0, 0] })}\n`, /ERR_DIMENSION_MISMATCH: .*mixeddim\.jsonl:3: vector has 3 dimensions, line 1 had 2/],
  ['noid', `${JSON.stringify({ text: 'no id' })}\n`, /ERR_INVALID_KEY: .*noid\.jsonl:1: "id" must be a non-empty string/],
  ['notext', `${JSON.stringify({ id: 'x', text: 42 })}\n`, /notext\.jsonl:1: "text" must be a string, got number 42/],
  ['extra', `${JSON.stringify({ id: 'x', text: 'y', title: 'z' })}\n`, /extra\.jsonl:1: unknown field "title"/],
  ['dupe', `${JSON.stringify({ id: 'x', text: 'y' })}\n${JSON.stringify({ id: 'x', text: 'z' })}\n`, /dupe\.jsonl:2: id "x" repeats line 1/],
  ['nan', `{"id": "x", "text": "y", "vector": [1, "a"]}\n`, /ERR_INVALID_VECTOR: .*nan\.jsonl:1: "vector" holds the string "a"/],
  ['empty', '\n\n', /ERR_INVALID_ARGUMENT: .*empty\.jsonl: no documents/],
  // Checked while reading, with the line: the collection would refuse them only after creating itself.
  ['blanktext', `${JSON.stringify(DOCS[0])}\n${JSON.stringify({ id: 'x', text: '  ' })}\n`, /ERR_INVALID_ARGUMENT: .*blanktext\.jsonl:2: "text" is blank/],
  ['emptytext', `${JSON.stringify({ id: 'x', text: '' })}\n`, /ERR_INVALID_ARGUMENT: .*emptytext\.jsonl:1: "text" is empty/],
  ['deepmeta', `${JSON.stringify({ id: 'x', text: 'y', metadata: JSON.parse(`${'{"a":'.repeat(1001)}1${'}'.repeat(1001)}`) as unknown })}\n`, /ERR_INVALID_ARGUMENT: .*deepmeta\.jsonl:1: metadata is nested more than 1000 levels deep/],
]

for (const [name, content, pattern] of BAD_FILES) {
  test(`index: bad input "${name}" fails in one line, exit 1, and writes nothing`, async (t) => {
    const { dir, cleanup } = tempDir()
    t.teardown(cleanup)
    const file = join(dir, `${name}.jsonl`)
    if (name !== 'missing') writeFileSync(file, content)
    // Into a new collection: none is created.
    const fresh = join(dir, 'fresh')
    const r = await ferrovec(['index', file, '--collection', fresh])
    t.is(r.code, 1, r.stderr)
    oneLine(t, r.stderr)
    t.regex(r.stderr, pattern)
    t.false(existsSync(fresh))
  })
}

test('index: a bad file leaves an existing collection exactly as it was', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const collection = join(dir, 'coll')
  const good = join(dir, 'good.jsonl')
  writeFileSync(good, jsonl(DOCS.slice(0, 2)))
  t.is((await ferrovec(['index', good, '--collection', collection])).code, 0)
  const before = await Collection.readInfo(collection)
  for (const name of ['badjson', 'wrongdim', 'blanktext']) {
    const [, content] = BAD_FILES.find(([n]) => n === name)!
    const file = join(dir, `${name}.jsonl`)
    writeFileSync(file, content)
    const r = await ferrovec(['index', file, '--collection', collection])
    t.is(r.code, 1)
    const after = await Collection.readInfo(collection)
    t.is(after.count, 2, name)
    t.is(after.indexPath, before.indexPath, name)
  }
})

test('index and search: usage errors exit 2, a missing collection or a bad filter exits 1', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const file = join(dir, 'docs.jsonl')
  writeFileSync(file, jsonl(DOCS))
  const noCollection = await ferrovec(['index', file])
  t.is(noCollection.code, 2)
  t.regex(noCollection.stderr, /--collection <dir> is required/)
  const overlap = await ferrovec(['index', file, '--collection', join(dir, 'c'), '--chunk-size', '10', '--chunk-overlap', '10'])
  t.is(overlap.code, 2)
  t.regex(overlap.stderr, /--chunk-overlap must be an integer in 0\.\.=9/)

  const missing = await ferrovec(['search', join(dir, 'nope'), 'query'])
  t.is(missing.code, 1)
  oneLine(t, missing.stderr)
  t.regex(missing.stderr, /ERR_IO: .*no such collection directory/)
  const notCollection = await ferrovec(['search', dir, 'query', '--mode', 'keyword'])
  t.is(notCollection.code, 1)
  t.regex(notCollection.stderr, /ERR_NOT_FOUND: no collection in/)

  const collection = join(dir, 'coll')
  t.is((await ferrovec(['index', file, '--collection', collection])).code, 0)
  const usage: [string[], RegExp][] = [
    [['--mode', 'fuzzy'], /--mode must be one of hybrid, vector, keyword/],
    [['--k', '0'], /--k must be an integer/],
    [['--filter', '{kind:'], /--filter is not valid JSON/],
    [['--filter', '[1]'], /--filter must be a JSON object/],
    [['--mode', 'keyword', '--alpha', '0.5'], /--fusion, --alpha and --rrf-k apply to --mode hybrid only/],
    [['--fusion', 'zscore', '--rrf-k', '10'], /--rrf-k belongs to --fusion rrf, not zscore/],
    [['--fusion', 'borda'], /--fusion must be one of zscore, minmax, rrf/],
    [['--alpha', '2'], /--alpha must be a number in \[0, 1\]/],
  ]
  for (const [extra, pattern] of usage) {
    const r = await ferrovec(['search', collection, 'tea', ...extra])
    t.is(r.code, 2, extra.join(' '))
    oneLine(t, r.stderr)
    t.regex(r.stderr, pattern)
  }
  const badFilter = await ferrovec(['search', collection, 'tea', '--mode', 'keyword', '--filter', '{"year":{"$near":3}}'])
  t.is(badFilter.code, 1)
  oneLine(t, badFilter.stderr)
  t.regex(badFilter.stderr, /ERR_INVALID_FILTER/)
  // A negative value reads as an option to node's parser: say how to pass one instead.
  const negative = await ferrovec(['search', collection, 'tea', '--k', '-1'])
  t.is(negative.code, 2)
  oneLine(t, negative.stderr)
  t.regex(negative.stderr, /--k needs a value; to give one that starts with '-', write --k=-…/)
  const written = await ferrovec(['search', collection, 'tea', '--k=-1'])
  t.is(written.code, 2)
  t.regex(written.stderr, /--k must be an integer in 1\.\.=10000, got "-1"/)
  // The largest k accepted works in every mode (hybrid's default candidate depth used to exceed the limit).
  for (const mode of ['hybrid', 'vector', 'keyword']) {
    const all = await ferrovec(['search', collection, 'tea', '--k', '10000', '--mode', mode, '--json'])
    t.is(all.code, 0, all.stderr)
    t.is((JSON.parse(all.stdout) as { results: unknown[] }).results.length, mode === 'keyword' ? 1 : DOCS.length, mode)
  }
})

test('a file in place of the collection directory, or a collection.sqlite that is no database: one line, a stable code, nothing written', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const file = join(dir, 'docs.jsonl')
  writeFileSync(file, jsonl(DOCS))
  const intoFile = await ferrovec(['index', file, '--collection', file])
  t.is(intoFile.code, 1)
  oneLine(t, intoFile.stderr)
  t.regex(intoFile.stderr, /ERR_IO: .*docs\.jsonl is a file, not a collection directory/)
  t.is(readFileSync(file, 'utf8'), jsonl(DOCS))

  const garbage = join(dir, 'garbage')
  mkdirSync(garbage)
  const bytes = 'not a database, just text that is long enough to be mistaken for a header'
  writeFileSync(join(garbage, 'collection.sqlite'), bytes)
  for (const args of [['index', file, '--collection', garbage], ['search', garbage, 'tea'], ['search', garbage, 'tea', '--mode', 'keyword'], ['info', garbage]]) {
    const r = await ferrovec(args)
    t.is(r.code, 1, args.join(' '))
    oneLine(t, r.stderr)
    t.regex(r.stderr, /ERR_CORRUPT_FILE: .*garbage\/collection\.sqlite: not a readable collection database/, args.join(' '))
  }
  t.is(readFileSync(join(garbage, 'collection.sqlite'), 'utf8'), bytes)
  t.deepEqual(readdirSync(garbage), ['collection.sqlite'])
})

test('search on an empty collection answers every mode with no results and exit 0', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const collection = join(dir, 'empty')
  // Created with the offline model (the CLI's), which is not loaded until something is embedded.
  const c = await Collection.open(collection)
  await c.close()
  for (const mode of ['keyword', 'vector', 'hybrid']) {
    const text = await ferrovec(['search', collection, 'green tea', '--mode', mode])
    t.is(text.code, 0, text.stderr)
    t.is(text.stdout, '(no results)\n')
    t.is(text.stderr, '')
    const json = await ferrovec(['search', collection, 'green tea', '--mode', mode, '--json', '--filter', '{"kind":"drink"}'])
    t.is(json.code, 0, json.stderr)
    t.deepEqual(JSON.parse(json.stdout), { query: 'green tea', mode, results: [] })
  }
  const info = await ferrovec(['info', collection, '--json'])
  t.like(JSON.parse(info.stdout), { type: 'collection', count: 0 })
})

test('search --mode keyword works on a collection built with another model; vector modes name the mismatch', async (t) => {
  const { dir, cleanup } = tempDir()
  t.teardown(cleanup)
  const collection = join(dir, 'words')
  const c = await Collection.open(collection, { embedder: new WordsEmbedder('words-v1') })
  await c.upsert(DOCS)
  await c.close()
  const kw = await ferrovec(['search', collection, 'roasted coffee', '--mode', 'keyword', '--k', '1', '--json'])
  t.is(kw.code, 0, kw.stderr)
  t.is((JSON.parse(kw.stdout) as { results: { id: string }[] }).results[0]!.id, 'coffee')
  const vec = await ferrovec(['search', collection, 'roasted coffee', '--mode', 'vector'])
  t.is(vec.code, 1)
  oneLine(t, vec.stderr)
  t.regex(vec.stderr, /ERR_MODEL_MISMATCH: .*test-words\/words-v1/)
})
